import secrets
import uuid
from decimal import Decimal

from django.db import models
from django.urls import reverse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from kennel.catalogue.models import Litter, Puppy
from kennel.core.models import BaseModel


def new_token() -> str:
    return secrets.token_urlsafe(24)


class Reservation(BaseModel):
    """One buyer's deposit for one puppy. Its status only changes through services.py."""

    class Status(models.TextChoices):
        # The labels are the buyer's words on the status page: translated (kennel/locale).
        PENDING = "pending", _("Waiting for payment")
        PROCESSING = "processing", _("Payment processing")
        CONFIRMED = "confirmed", _("Deposit confirmed")
        COMPLETED = "completed", _("Completed")
        EXPIRED = "expired", _("Expired")
        CANCELLED = "cancelled", _("Cancelled")
        RELEASED = "released", _("Payment failed")
        REFUNDED = "refunded", _("Refunded")

    class Reason(models.TextChoices):
        """Why a reservation is in its state (besides the state itself), set by services.py."""

        NONE = "", "—"
        HOLD_EXPIRED = "hold_expired", _("The hold ran out before payment")
        CHECKOUT_EXPIRED = "checkout_expired", _("The provider's checkout expired")
        BUYER_CANCELLED = "buyer_cancelled", _("The buyer cancelled before paying")
        PROVIDER_ERROR = "provider_error", _("The checkout could not be opened")
        CHECKOUT_NOT_STARTED = "checkout_not_started", _("The checkout never reached the buyer")
        PAYMENT_FAILED = "payment_failed", _("The payment failed")
        AMOUNT_MISMATCH = "amount_mismatch", _("The amount paid was not the deposit")
        REFUNDED = "refunded", _("The deposit was refunded")
        LATE_PAYMENT_ACCEPTED = "late_payment_accepted", _("Paid after the hold; puppy still free")
        LATE_PAYMENT_REFUNDED = "late_payment_refunded", _("Paid after the hold; refunded")
        # Approved (PayPal) when what it paid for was gone: never captured, nothing charged.
        APPROVAL_NOT_CAPTURED = "approval_not_captured", _("Approved too late; not captured")
        OWNER_RELEASED = "owner_released", _("The breeder released the hold")
        OWNER_REFUNDED = "owner_refunded", _("Cancelled by the breeder; deposit refunded")
        OWNER_REFUNDED_PART = "owner_refunded_part", _("Cancelled by the breeder; part kept")
        # Ends as "refunded" (the breeder's end of a paid reservation), with nothing sent back.
        OWNER_KEPT = "owner_kept", _("Cancelled by the breeder; deposit kept")
        PICKED_UP = "picked_up", _("The puppy went home")

    class Provider(models.TextChoices):
        STRIPE = "stripe", _("Card (Stripe)")
        PAYPAL = "paypal", "PayPal"

    ACTIVE = (Status.PENDING, Status.PROCESSING, Status.CONFIRMED)
    # A paid deposit that stands: the sale a confirmation email or a conversion report tells.
    STANDING = (Status.CONFIRMED, Status.COMPLETED)

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # Empty for a waiting list's deposit until its family picks a puppy (WaitlistEntry).
    puppy = models.ForeignKey(
        Puppy,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="reservations",
        verbose_name=_("puppy"),
    )
    buyer_name = models.CharField(max_length=120, verbose_name=_("buyer name"))
    buyer_email = models.EmailField(max_length=254, verbose_name=_("buyer email"))
    buyer_phone = models.CharField(max_length=32, verbose_name=_("buyer phone"))
    deposit_amount = models.DecimalField(
        max_digits=10, decimal_places=2, verbose_name=_("deposit amount")
    )
    # The puppy's price when the buyer reserved: what the balance at pickup is counted from,
    # whatever the breeder changes later (empty on reservations made before it was kept).
    price_amount = models.DecimalField(
        max_digits=10, decimal_places=2, null=True, blank=True, verbose_name=_("price amount")
    )
    currency = models.CharField(max_length=3, verbose_name=_("currency"))
    provider = models.CharField(max_length=10, choices=Provider.choices, verbose_name=_("provider"))
    # NULL, not "", means "none yet": the unique constraints below only count real ids.
    provider_reference = models.CharField(  # noqa: DJ001
        max_length=255, null=True, blank=True, verbose_name=_("provider reference")
    )
    external_payment_id = models.CharField(  # noqa: DJ001
        max_length=255, null=True, blank=True, verbose_name=_("external payment id")
    )
    # Where the buyer pays: the provider's own page for this checkout, as its API gave it.
    checkout_url = models.URLField(max_length=2000, blank=True, verbose_name=_("checkout url"))
    status = models.CharField(
        max_length=12,
        choices=Status.choices,
        default=Status.PENDING,
        db_index=True,
        verbose_name=_("status"),
    )
    status_reason = models.CharField(
        max_length=60, blank=True, choices=Reason.choices, verbose_name=_("status reason")
    )
    expires_at = models.DateTimeField(db_index=True, verbose_name=_("expires at"))
    token = models.CharField(
        max_length=64, unique=True, default=new_token, editable=False, verbose_name=_("token")
    )
    confirmed_at = models.DateTimeField(null=True, blank=True, verbose_name=_("confirmed at"))
    closed_at = models.DateTimeField(null=True, blank=True, verbose_name=_("closed at"))
    # The conversion reports' context, captured at hold time and only with the buyer's consent
    # (kennel/reservations/tracking.py); without it these stay empty and nothing is reported.
    analytics_consent = models.BooleanField(default=False, verbose_name=_("analytics consent"))
    ga_client_id = models.CharField(max_length=64, blank=True, verbose_name=_("ga client id"))
    fbp = models.CharField(max_length=255, blank=True, verbose_name=_("fbp"))
    fbc = models.CharField(max_length=255, blank=True, verbose_name=_("fbc"))
    client_ip = models.GenericIPAddressField(null=True, blank=True, verbose_name=_("client ip"))
    client_user_agent = models.CharField(
        max_length=512, blank=True, verbose_name=_("client user agent")
    )
    # Who asked for the hold, as a keyed hash of their address (reservations/limits.py): for
    # the hold limits, kept whatever the analytics consent.
    client_key = models.CharField(
        max_length=64, blank=True, db_index=True, verbose_name=_("client key")
    )
    event_source_url = models.CharField(
        max_length=500, blank=True, verbose_name=_("event source url")
    )
    # The deposit terms the buyer accepted (kennel/catalogue/content.py terms_version_current).
    terms_version = models.CharField(_("deposit terms accepted"), max_length=40, blank=True)
    # The language the buyer reserved in (settings.LANGUAGES): their emails are written in it.
    # Empty on reservations made before it was kept: the shop's LANGUAGE_CODE then.
    language = models.CharField(_("buyer's language"), max_length=16, blank=True)
    # The breeder's own notes (the back office's one editable field); never shown to the buyer.
    notes = models.TextField(_("internal notes"), blank=True)
    erased_at = models.DateTimeField(null=True, blank=True, verbose_name=_("erased at"))

    class Meta:
        verbose_name = _("reservation")
        verbose_name_plural = _("reservations")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["puppy"],
                condition=models.Q(status__in=["pending", "processing", "confirmed"]),
                name="one_active_reservation_per_puppy",
            ),
            models.UniqueConstraint(
                fields=["provider", "external_payment_id"],
                condition=models.Q(external_payment_id__isnull=False),
                name="one_reservation_per_provider_payment",
            ),
            models.UniqueConstraint(
                fields=["provider", "provider_reference"],
                condition=models.Q(provider_reference__isnull=False),
                name="one_reservation_per_provider_checkout",
            ),
            models.CheckConstraint(
                condition=models.Q(deposit_amount__gt=0), name="reservation_deposit_positive"
            ),
            models.CheckConstraint(
                condition=models.Q(
                    status__in=[
                        "pending",
                        "processing",
                        "confirmed",
                        "completed",
                        "expired",
                        "cancelled",
                        "released",
                        "refunded",
                    ]
                ),
                name="reservation_status_known",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.what} for {self.buyer_name} ({self.get_status_display()})"

    def get_absolute_url(self) -> str:
        """The buyer's page: the status page, or for a waiting list's deposit whose family
        has not picked yet, the family's page on the list."""
        if self.puppy_id is None:
            entry = WaitlistEntry.objects.filter(reservation=self).values_list("token", flat=True)
            token = entry.first()
            if token is not None:
                return reverse("reservations:waitlist", kwargs={"token": token})
        return reverse("reservations:status", kwargs={"token": self.token})

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE

    @property
    def price(self) -> Decimal:
        """The price agreed when the puppy was reserved (for a waiting list's deposit before
        its pick: the litter's usual price, or the deposit when it has none)."""
        if self.price_amount is not None:
            return self.price_amount
        if self.puppy is not None:
            return self.puppy.price
        return self.deposit_amount

    @property
    def what(self) -> str:
        """What the deposit is for, in a line, in the active language: the puppy's name, or the
        litter's waiting list. Lists select_related("puppy", "waitlist_entry__litter") to read
        it without a query."""
        if self.puppy is not None:
            return self.puppy.name
        try:
            entry = self.waitlist_entry
        except WaitlistEntry.DoesNotExist:
            return gettext("Waiting list")
        return gettext("Waiting list: %(litter)s") % {"litter": entry.litter.name}

    @property
    def reference(self) -> str:
        """The short reference a buyer reads out on the phone (status page, emails, back
        office): the id's first 8 characters."""
        return self.pk.hex[:8].upper()


class WaitlistEntry(BaseModel):
    """One family on a litter's waiting list. Its deposit is a Reservation without a puppy
    (paid, confirmed and refunded by the same machinery as a puppy's); its position is given
    when that deposit is confirmed, by kennel/reservations/waitlist.py alone."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting for payment")
        WAITING = "waiting", _("On the list")
        CHOOSING = "choosing", _("Choosing now")
        PICKED = "picked", _("Picked a puppy")
        PASSED = "passed", _("Passed")
        WITHDRAWN = "withdrawn", _("Withdrawn")
        UNPAID = "unpaid", _("Payment not completed")

    class Sex(models.TextChoices):
        ANY = "any", _("Any")
        FEMALE = "female", _("Female")
        MALE = "male", _("Male")

    ON_LIST = (Status.WAITING, Status.CHOOSING)

    litter = models.ForeignKey(
        Litter, on_delete=models.PROTECT, related_name="waitlist", verbose_name=_("litter")
    )
    reservation = models.OneToOneField(
        Reservation,
        on_delete=models.PROTECT,
        related_name="waitlist_entry",
        verbose_name=_("reservation"),
    )
    token = models.CharField(
        max_length=64, unique=True, default=new_token, editable=False, verbose_name=_("token")
    )
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.PENDING, verbose_name=_("status")
    )
    # 1, 2, 3…: the order the deposits were confirmed in; empty until then.
    position = models.PositiveIntegerField(null=True, blank=True, verbose_name=_("position"))
    sex = models.CharField(_("sex wanted"), max_length=6, choices=Sex.choices, default=Sex.ANY)
    colour = models.CharField(_("colour wanted"), max_length=60, blank=True)
    notes = models.TextField(_("family's notes"), blank=True, max_length=1000)
    # The deposit terms as the family accepted them (the litter's may change later).
    terms = models.CharField(
        max_length=16, choices=Litter.DepositTerms.choices, verbose_name=_("terms")
    )
    refund_days = models.PositiveSmallIntegerField(default=0, verbose_name=_("refund days"))
    # Refundable terms: the last day of a full refund as the family was told it when their
    # deposit was paid (waitlist.refund_cutoff). A go-home day moved earlier, or a carry-over
    # to another litter, never takes a day of it away.
    refund_until = models.DateField(_("refundable until (as told)"), null=True, blank=True)
    joined_at = models.DateTimeField(null=True, blank=True, verbose_name=_("joined at"))

    class Meta:
        ordering = ["litter", "position", "created_at"]
        verbose_name = _("waiting list family")
        verbose_name_plural = _("waiting list families")
        constraints = [
            models.UniqueConstraint(
                fields=["litter", "position"],
                condition=models.Q(position__isnull=False),
                name="one_family_per_waitlist_position",
            ),
            models.CheckConstraint(
                condition=models.Q(position__isnull=True) | models.Q(position__gte=1),
                name="waitlist_position_from_one",
            ),
            models.CheckConstraint(
                condition=models.Q(
                    status__in=[
                        "pending",
                        "waiting",
                        "choosing",
                        "picked",
                        "passed",
                        "withdrawn",
                        "unpaid",
                    ]
                ),
                name="waitlist_status_known",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.reservation.buyer_name} on {self.litter} (#{self.position or '-'})"

    def get_absolute_url(self) -> str:
        return reverse("reservations:waitlist", kwargs={"token": self.token})

    @property
    def in_line(self) -> bool:
        """Whether the family still has a place on the list (its position means something):
        waiting or choosing, its deposit not refunded; not once it left, picked or passed."""
        return (
            self.status in self.ON_LIST and self.reservation.status != Reservation.Status.REFUNDED
        )


class PickTurn(BaseModel):
    """A family's turn to choose a puppy from a litter. At most one is open per litter (the
    database says so); it ends picked, passed, timed out, skipped or closed."""

    class Outcome(models.TextChoices):
        OPEN = "open", _("Choosing")
        PICKED = "picked", _("Picked")
        PASSED = "passed", _("Passed")
        TIMED_OUT = "timed_out", _("Timed out (passed automatically)")
        SKIPPED = "skipped", _("Skipped")
        CLOSED = "closed", _("Picking closed")

    litter = models.ForeignKey(
        Litter, on_delete=models.PROTECT, related_name="pick_turns", verbose_name=_("litter")
    )
    entry = models.ForeignKey(
        WaitlistEntry, on_delete=models.PROTECT, related_name="turns", verbose_name=_("entry")
    )
    outcome = models.CharField(
        max_length=10, choices=Outcome.choices, default=Outcome.OPEN, verbose_name=_("outcome")
    )
    ends_at = models.DateTimeField(db_index=True, verbose_name=_("ends at"))
    reminded_at = models.DateTimeField(null=True, blank=True, verbose_name=_("reminded at"))
    closed_at = models.DateTimeField(null=True, blank=True, verbose_name=_("closed at"))

    class Meta:
        verbose_name = _("pick turn")
        verbose_name_plural = _("pick turns")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["litter"],
                condition=models.Q(outcome="open"),
                name="one_open_turn_per_litter",
            ),
            models.CheckConstraint(
                condition=models.Q(outcome="open", closed_at__isnull=True)
                | (~models.Q(outcome="open") & models.Q(closed_at__isnull=False)),
                name="turn_closed_when_not_open",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.entry} ({self.get_outcome_display()})"
