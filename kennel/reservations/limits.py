"""One family, one hold: who is asking (a client key), how many holds they have, how fast
they may ask, and whether they keep cancelling.

The active-hold limits per email and per client are counted exactly inside the hold's
transaction (hold_limits_check, under an advisory lock); a hold refused for the email's own
(HOLD_LIMIT_REACHED) then emails that address the link to each of its holds
(hold_links_enqueue), which may have been started on another device. The rate of holds per
client and period is django-ratelimit's (HOLD_RATE), in the shared cache. A client is its
address — behind TRUSTED_PROXIES the forwarded one, an IPv6 address by its /64 (one home's
whole prefix) — kept only as a keyed hash, which nothing can turn back into the address.
"""

import hashlib
import hmac
import ipaddress
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django_ratelimit.core import get_usage

from kennel.core.db import is_postgres
from kennel.core.errors import (
    CONNECTION_HOLD_COOLDOWN_MESSAGE,
    HOLD_COOLDOWN_MESSAGE,
    HOLD_RATE_MESSAGE,
    HOLDS_PER_CLIENT_MESSAGE,
    HOLDS_PER_EMAIL_MESSAGE,
    HoldRefused,
)
from kennel.core.outbox import outbox_enqueue
from kennel.reservations.effects import Effect
from kennel.reservations.models import Reservation
from kennel.reservations.tracking import client_ip

S = Reservation.Status
R = Reservation.Reason
# The email's own limit (HOLDS_PER_EMAIL), which the family can only have reached itself.
HOLD_LIMIT_REACHED = "HOLD_LIMIT_REACHED"


def client_key(request: HttpRequest) -> str:
    """A stable, non-reversible key for the client's address ("" when there is none)."""
    address = client_ip(request)
    if address is None:
        return ""
    ip = ipaddress.ip_address(address)
    network = str(ipaddress.ip_network(f"{ip}/64", strict=False)) if ip.version == 6 else str(ip)
    digest = hmac.new(settings.SECRET_KEY.encode(), f"client:{network}".encode(), hashlib.sha256)
    return digest.hexdigest()[:32]


def hold_rate_check(request: HttpRequest, *, client: str) -> None:
    """Count one hold attempt for `client`; raise HoldRefused (TOO_MANY_HOLDS, 429 with
    Retry-After) past HOLD_RATE. Off when HOLD_RATE is "0" or the client has no address."""
    rate = settings.HOLD_RATE.strip()
    if not client or rate in ("", "0"):
        return
    usage = get_usage(
        request,
        group="kennel.holds",
        key=lambda _group, _request: client,
        rate=rate,
        increment=True,
    )
    if usage is not None and usage["should_limit"]:
        raise HoldRefused(
            "TOO_MANY_HOLDS", HOLD_RATE_MESSAGE, retry_after=max(1, int(usage["time_left"]))
        )


def hold_limits_check(*, email: str, client: str, puppy_id: int, now: datetime) -> None:
    """Inside the hold's transaction (services.reservation_hold), before the puppy is taken.

    One family, one hold: refuse (HoldRefused, 429) a hold past HOLDS_PER_EMAIL or
    HOLDS_PER_CLIENT active holds, or on a puppy this buyer keeps cancelling the holds of
    (hold_cooldown_until: a cancel-and-re-hold loop loses the puppy to other families).
    On PostgreSQL an advisory lock per email and client makes concurrent holds count one after
    the other; SQLite's IMMEDIATE transactions already do."""
    keys = sorted({f"hold-email:{email}", *([f"hold-client:{client}"] if client else [])})
    if is_postgres():
        with connection.cursor() as cursor:
            for key in keys:
                cursor.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", [key])
    active = holds_active(now=now)
    per_email, per_client = settings.HOLDS_PER_EMAIL, settings.HOLDS_PER_CLIENT
    if per_email and active.filter(buyer_email=email).count() >= per_email:
        raise HoldRefused(HOLD_LIMIT_REACHED, HOLDS_PER_EMAIL_MESSAGE)
    if per_client and client and active.filter(client_key=client).count() >= per_client:
        # Its own code and words: the family reading it may hold nothing (a shared address).
        raise HoldRefused("CONNECTION_HOLD_LIMIT_REACHED", HOLDS_PER_CLIENT_MESSAGE)
    cooldown = hold_cooldown(email=email, client=client, puppy_id=puppy_id, now=now)
    if cooldown is not None:
        until, own = cooldown
        wait = int((until - now).total_seconds()) + 1
        if own:
            raise HoldRefused("HOLD_COOLDOWN", HOLD_COOLDOWN_MESSAGE, retry_after=wait)
        raise HoldRefused(
            "CONNECTION_HOLD_COOLDOWN", CONNECTION_HOLD_COOLDOWN_MESSAGE, retry_after=wait
        )


def holds_active(*, now: datetime) -> QuerySet[Reservation]:
    """The holds the limits count: waiting for payment within their time, or with a payment
    being processed."""
    return Reservation.objects.filter(
        Q(status=S.PENDING, expires_at__gt=now) | Q(status=S.PROCESSING)
    )


def hold_links_enqueue(*, email: str, now: datetime) -> int:
    """After a hold refused with HOLD_LIMIT_REACHED (its transaction rolled back), in a
    transaction of its own: email `email` the link to each of its active holds, where it can
    pay or cancel it — the family may have started it on another device, which alone knows
    the page. The refusal tells nothing of the holds; the email, reaching only the address's
    owner, is the proof of ownership. Once per hold (the dedup key is the reservation's), so
    someone typing another family's address cannot flood its inbox. Returns how many emails
    were written now."""
    with transaction.atomic():
        written = 0
        for hold in holds_active(now=now).filter(buyer_email=email).order_by("created_at"):
            effects = outbox_enqueue(
                kinds=[Effect.BUYER_HOLD_LINK], subject=hold, reservation_id=hold.pk
            )
            written += len(effects)
    return written


# A buyer who cancels a puppy's hold twice within this window is looping (cancel, hold again,
# keep the puppy off the shop); one cancel — switching card for PayPal — costs nothing.
COOLDOWN_LOOP_WINDOW = timedelta(minutes=30)


def hold_cooldown(
    *, email: str, client: str, puppy_id: int, now: datetime | None = None
) -> tuple[datetime, bool] | None:
    """Until when this buyer (email, or client address) may not hold the puppy again: from
    the second cancel of its holds within COOLDOWN_LOOP_WINDOW, HOLD_COOLDOWN_SECONDS after
    the last one, so other families get it first. None when free to hold.

    With the time, whether the cancels were this email's own (True), or only came from its
    connection (False: another family on the same address may have made them, and must not
    read that it cancelled)."""
    cooldown = timedelta(seconds=settings.HOLD_COOLDOWN_SECONDS)
    if not cooldown:
        return None
    now = now or timezone.now()
    own = _cooldown_end(Q(buyer_email=email), puppy_id=puppy_id, cooldown=cooldown, now=now)
    if own is not None:
        return own, True
    if not client:
        return None
    shared = _cooldown_end(
        Q(buyer_email=email) | Q(client_key=client), puppy_id=puppy_id, cooldown=cooldown, now=now
    )
    return (shared, False) if shared is not None else None


def hold_cooldown_until(
    *, email: str, client: str, puppy_id: int, now: datetime | None = None
) -> datetime | None:
    """hold_cooldown's time alone, whoever cancelled."""
    cooldown = hold_cooldown(email=email, client=client, puppy_id=puppy_id, now=now)
    return cooldown[0] if cooldown is not None else None


def _cooldown_end(
    same_buyer: Q, *, puppy_id: int, cooldown: timedelta, now: datetime
) -> datetime | None:
    cancels = list(
        Reservation.objects.filter(
            same_buyer,
            puppy_id=puppy_id,
            status=S.CANCELLED,
            status_reason=R.BUYER_CANCELLED,
            closed_at__gt=now - COOLDOWN_LOOP_WINDOW,
        )
        .order_by("-closed_at")
        .values_list("closed_at", flat=True)[:2]
    )
    if len(cancels) < 2 or cancels[0] is None or cancels[0] + cooldown <= now:
        return None
    return cancels[0] + cooldown
