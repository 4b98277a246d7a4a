"""Payments' services: starting a checkout, and settling a payment the provider reports.

Starting: take a provider slot (provider_slot: a slow provider may tie up only a few
threads), hold the puppy, then open the provider's hosted payment page. Settling: whoever
learns about a payment — the buyer's return URL, a webhook, reconciliation — reads it from
the provider (the truth), takes the money of an approved one — unless it could only be
refunded — and hands it to the shared fulfilment (payments/fulfilment.py). That sequence is
written once, here.
"""

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from urllib.parse import urlencode

from django.conf import settings
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext_noop

from kennel.catalogue.models import Litter, Puppy
from kennel.core.db import close_broken_connection, is_database_unavailable
from kennel.core.errors import (
    Message,
    PaymentProviderFailed,
    PaymentProviderRefused,
    ProviderBusy,
    ValidationFailed,
)
from kennel.core.money import paypal_accepts
from kennel.payments.fulfilment import payment_apply, payment_approval_refuse
from kennel.payments.providers import (
    CheckoutRequest,
    PaymentSnapshot,
    PaymentState,
    ProviderError,
    ProviderUnavailable,
)
from kennel.payments.registry import available_providers, get_provider
from kennel.reservations import services as reservations
from kennel.reservations import waitlist
from kennel.reservations.buyers import Buyer
from kennel.reservations.models import Reservation, WaitlistEntry
from kennel.reservations.tracking import Tracking

log = logging.getLogger(__name__)

PROVIDER_NOT_OFFERED_MESSAGE = gettext_noop("Please choose one of the offered payment methods.")


def paypal_refuses_currency_message(currency: str) -> Message:
    return Message(
        gettext_noop("PayPal does not take payments in %(currency)s. Please choose Card (Stripe)."),
        currency=currency.upper(),
    )


# How long a buyer waits for a provider slot held by calls in flight before being refused.
SLOT_GRACE_SECONDS = 0.5


class _SlotPool:
    """One process's PROVIDER_CONCURRENCY slots for buyer-facing provider calls.

    A holder that is still `preparing` (checkout_start holding the puppy, on our own database)
    is done in moments: it fails fast or starts its call. So a caller finding no slot free
    waits while some holder is preparing (no longer than a hold may wait for its locks). When
    every holder is waiting on the provider, it waits SLOT_GRACE_SECONDS at most — a healthy
    provider answers well within it (a busy minute of buyers is not refused), a slow one does
    not, and the caller is refused: waiting longer would only tie up one more thread.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self._changed = threading.Condition()
        self._preparing = 0
        self._calling = 0

    def take(self, *, preparing: bool) -> None:
        started = time.monotonic()
        for_locks = started + settings.LOCK_TIMEOUT_SECONDS
        for_provider = started + SLOT_GRACE_SECONDS
        with self._changed:
            while self._preparing + self._calling >= self.size:
                left = (for_locks if self._preparing else for_provider) - time.monotonic()
                if left <= 0:
                    log.warning("all %d provider slots are taken: refused", self.size)
                    raise ProviderBusy()
                self._changed.wait(left)
            if preparing:
                self._preparing += 1
            else:
                self._calling += 1

    def call_started(self) -> None:
        with self._changed:
            self._preparing -= 1
            self._calling += 1
            self._changed.notify_all()

    def give_back(self, *, preparing: bool) -> None:
        with self._changed:
            if preparing:
                self._preparing -= 1
            else:
                self._calling -= 1
            self._changed.notify_all()


# Per process: threads share them, processes do not. A changed setting gets its own pool.
_slot_pools: dict[int, _SlotPool] = {}
_slot_pools_lock = threading.Lock()


class ProviderSlot:
    """A slot taken with provider_slot(). `call_started()` says its holder's own database
    work is done and it now waits on the provider."""

    def __init__(self, pool: _SlotPool | None, *, preparing: bool) -> None:
        self.pool = pool
        self.preparing = preparing

    def call_started(self) -> None:
        if self.pool is not None and self.preparing:
            self.pool.call_started()
            self.preparing = False


@contextmanager
def provider_slot(*, prepare: bool = False) -> Iterator[ProviderSlot]:
    """One of this process's PROVIDER_CONCURRENCY slots for a buyer-facing provider call,
    held for the `with` block (0: no bound). `prepare=True`: the holder first does its own
    database work, then calls `call_started()`.

    A slow or frozen provider ties up that many web threads and no more: the others keep
    serving pages. When every slot waits on the provider, ProviderBusy is raised at once.
    """
    size = settings.PROVIDER_CONCURRENCY
    if size <= 0:
        yield ProviderSlot(None, preparing=False)
        return
    with _slot_pools_lock:
        pool = _slot_pools.get(size) or _slot_pools.setdefault(size, _SlotPool(size))
    pool.take(preparing=prepare)
    slot = ProviderSlot(pool, preparing=prepare)
    try:
        yield slot
    finally:
        pool.give_back(preparing=slot.preparing)


def checkout_start(
    *,
    puppy_slug: str,
    buyer: Buyer,
    provider: str,
    site_url: str,
    tracking: Tracking | None = None,
    client: str = "",
) -> tuple[Reservation, str]:
    """Hold the puppy and create the provider checkout; returns the reservation and the URL
    to send the buyer to. `tracking` is the buyer's analytics context and `client` their
    client key for the hold limits (see reservation_hold).

    A provider slot (provider_slot) is taken before the hold, so a buyer refused with
    ProviderBusy holds nothing. The provider call happens after the hold has committed, so no
    lock is held while waiting on the network. Whatever fails after the hold (the provider,
    storing its reference), the hold is released at once; a provider that cannot be reached
    becomes PaymentProviderFailed (502, try again later), one that refuses the checkout
    PaymentProviderRefused (422: trying again will not help); both tell the buyer nothing was
    charged. A PayPal checkout in a
    currency PayPal does not take is refused (ValidationFailed) before anything is held.
    """
    if provider not in available_providers():
        raise ValidationFailed({"provider": [PROVIDER_NOT_OFFERED_MESSAGE]})
    # A puppy someone else holds is refused before a provider slot is taken: in a flash sale
    # the losers would otherwise queue for the PROVIDER_CONCURRENCY slots behind each other.
    reservations.hold_refused_early(puppy_slug=puppy_slug)
    if provider == Reservation.Provider.PAYPAL:
        currency = _puppy_currency(puppy_slug)
        if currency is not None and not paypal_accepts(currency):
            raise ValidationFailed({"provider": [paypal_refuses_currency_message(currency)]})
    with ExitStack() as held_slot:
        try:
            slot = held_slot.enter_context(provider_slot(prepare=True))
        except ProviderBusy:
            # While this buyer waited for a slot another may have taken the puppy: that is
            # the true answer (409), not "try again" (nothing was held either way).
            reservations.hold_refused_early(puppy_slug=puppy_slug)
            raise
        reservation = reservations.reservation_hold(
            puppy_slug=puppy_slug, buyer=buyer, provider=provider, tracking=tracking, client=client
        )
        slot.call_started()
        url = _checkout_open(reservation, site_url)
    return reservation, url


def waitlist_checkout_start(
    *,
    litter_slug: str,
    buyer: Buyer,
    provider: str,
    preferences: waitlist.Preferences,
    site_url: str,
    tracking: Tracking | None = None,
    client: str = "",
) -> tuple[WaitlistEntry, str]:
    """Put a family on a litter's waiting list and open the provider's checkout for its
    deposit, exactly as checkout_start does for a puppy (provider slot first, the provider
    called after the entry committed, the deposit's reservation released if that fails).
    Returns the entry and the URL to send the family to. Raises what waitlist_join raises,
    ValidationFailed (provider), ProviderBusy, PaymentProviderFailed, PaymentProviderRefused."""
    if provider not in available_providers():
        raise ValidationFailed({"provider": [PROVIDER_NOT_OFFERED_MESSAGE]})
    if provider == Reservation.Provider.PAYPAL and reservations.SLUG_RE.fullmatch(
        litter_slug or ""
    ):
        currency = Litter.objects.filter(slug=litter_slug).values_list("currency", flat=True)
        found = currency.first()
        if found is not None and not paypal_accepts(found):
            raise ValidationFailed({"provider": [paypal_refuses_currency_message(found)]})
    with provider_slot(prepare=True) as slot:
        entry = waitlist.waitlist_join(
            litter_slug=litter_slug,
            buyer=buyer,
            provider=provider,
            preferences=preferences,
            tracking=tracking,
            client=client,
        )
        slot.call_started()
        url = _checkout_open(entry.reservation, site_url)
    return entry, url


def _checkout_open(reservation: Reservation, site_url: str) -> str:
    """Create the provider's checkout for a reservation just held and remember it; returns
    the URL to send the buyer to. Whatever fails, the hold is released at once."""
    try:
        checkout = _checkout_request(reservation, site_url)
        start = get_provider(reservation.provider).create_checkout(checkout)
        reservations.reservation_set_checkout(
            reservation=reservation, reference=start.reference, url=start.redirect_url
        )
    except BaseException as exc:
        # Whatever went wrong, the hold must not outlive the failed checkout.
        _release_unstarted(reservation, exc)
        if _refused_the_request(exc):
            # Tried: every ProviderError told as an outage ("could not be reached… try again
            # in a few minutes") and a 502, for Stripe's 400 on a deposit above its maximum.
            raise PaymentProviderRefused() from exc
        if isinstance(exc, ProviderError):
            raise PaymentProviderFailed() from exc
        raise
    return start.redirect_url


# The provider read the request and refused it (Stripe's invalid_request_error is a 400,
# PayPal's validation a 400 or 422): the same request fails again. Refused credentials
# (401/403) are the shop's setup failing, an outage for the buyer and a 502 the owner sees.
REFUSAL_STATUSES = frozenset({400, 402, 409, 422})


def _refused_the_request(exc: BaseException) -> bool:
    return (
        isinstance(exc, ProviderError)
        and not isinstance(exc, ProviderUnavailable)
        and exc.status in REFUSAL_STATUSES
    )


def _release_unstarted(reservation: Reservation, exc: BaseException) -> None:
    """Release a hold whose checkout start failed. Should the release itself fail (the
    database is gone), reservations_release_stranded does it within minutes; a checkout the
    provider made before our write of its reference was lost is never shown to the buyer
    (a payment on it all the same takes the late-payment path)."""
    log.warning("checkout start failed for reservation %s: %r", reservation.pk, exc)
    provider_failed = isinstance(exc, ProviderError)
    if is_database_unavailable(exc):
        close_broken_connection()  # so the release gets a fresh connection
    try:
        reservations.reservation_release(
            reservation_id=reservation.pk,
            status=Reservation.Status.CANCELLED,
            actor="system:checkout",
            reason=(
                Reservation.Reason.PROVIDER_ERROR
                if provider_failed
                else Reservation.Reason.CHECKOUT_NOT_STARTED
            ),
        )
    except Exception:
        log.exception("could not release hold %s now; the stranded-hold sweep will", reservation.pk)


def payment_read(*, reservation: Reservation) -> PaymentSnapshot:
    """The reservation's checkout as its provider has it now. Never moves money.

    Raises ValueError when the reservation has no checkout; ProviderError when the provider
    cannot be asked.
    """
    if not reservation.provider_reference:
        raise ValueError(f"reservation {reservation.pk} has no checkout to read")
    return get_provider(reservation.provider).read_payment(reservation.provider_reference)


def payment_settle(*, snapshot: PaymentSnapshot, actor: str) -> Reservation | None:
    """Settle a payment as its provider reported it: capture it if the buyer approved it
    (PayPal takes nothing until then), then apply it to its reservation (payment_apply).
    An approval that payment_apply could only refund — naming no reservation of ours, a
    second order for one, the hold ended and the puppy someone else's, the waiting list
    with no place left — is not captured (payment_approval_refuse), and its reservation is
    returned as it now stands.

    Returns what payment_apply returns. Raises BuyerActionRequired when the capture was
    refused in a way the buyer can fix (nothing was taken, nothing applied), ProviderError
    when the provider cannot be asked, Busy when the reservation could not be locked.
    """
    if snapshot.state == PaymentState.APPROVED:
        refused = payment_approval_refuse(snapshot=snapshot, actor=actor)
        if refused is not None:
            return refused.reservation
        snapshot = get_provider(snapshot.provider).capture_payment(snapshot.reference)
    return payment_apply(snapshot=snapshot, actor=actor)


def payment_settle_returned(*, reservation: Reservation, reference: str, actor: str) -> None:
    """Settle the checkout a buyer came back from when it is another than the reservation's
    own (an older PayPal order, a second one opened in another tab), as its webhook will:
    an approval there is not captured (payment_approval_refuse), and the buyer's page says
    so at once instead of after the webhook. A checkout naming another reservation, or
    none, is left to its webhook: this buyer's return is not the place to settle it.

    Raises what payment_settle raises, and ProviderError for a reference that cannot be an id.
    """
    if not reference or reference == reservation.provider_reference:
        return
    snapshot = get_provider(reservation.provider).read_payment(reference)
    if snapshot.reservation_id == str(reservation.pk):
        payment_settle(snapshot=snapshot, actor=actor)


def payment_refresh(*, reservation: Reservation, actor: str) -> Reservation | None:
    """Re-read the reservation's checkout from its provider and settle it (payment_settle)."""
    return payment_settle(snapshot=payment_read(reservation=reservation), actor=actor)


def _puppy_currency(puppy_slug: str) -> str | None:
    """The currency of the puppy at `puppy_slug`; None when there is none (the hold says so)."""
    if not reservations.SLUG_RE.fullmatch(puppy_slug or ""):
        return None
    return Puppy.objects.filter(slug=puppy_slug).values_list("currency", flat=True).first()


def _checkout_request(reservation: Reservation, site_url: str) -> CheckoutRequest:
    with translation.override(None):
        what = reservation.what  # English, as the rest of the provider's description
    return CheckoutRequest(
        reservation_id=str(reservation.pk),
        amount=reservation.deposit_amount,
        currency=reservation.currency,
        description=f"Deposit for {what}",
        buyer_email=reservation.buyer_email,
        expires_at=reservation.expires_at,
        success_url=_buyer_url(site_url, "payments:return", reservation),
        cancel_url=_buyer_url(site_url, "payments:cancel", reservation),
    )


def _buyer_url(site_url: str, name: str, reservation: Reservation) -> str:
    path = reverse(name, kwargs={"provider": reservation.provider})
    return f"{site_url}{path}?{urlencode({'reservation': reservation.token})}"
