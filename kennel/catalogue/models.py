from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.urls import reverse
from django.utils.text import slugify
from django.utils.translation import gettext_lazy as _

from kennel.core.models import BaseModel
from kennel.core.money import (
    CURRENCIES,
    UnknownCurrency,
    currency_info,
    decimals,
    exact,
    largest,
    quantize,
)


def validate_currency(value: str) -> None:
    """Only currencies every listed rule knows how to charge (kennel/core/money.py)."""
    try:
        currency_info(value)
    except UnknownCurrency as exc:
        # Not the exception's own (English) words: core.money is read by the sandbox too.
        raise ValidationError(
            _("%(code)s is not a currency Kennel can charge; use one of: %(known)s"),
            params={"code": repr(value), "known": ", ".join(sorted(CURRENCIES))},
        ) from exc


class Litter(BaseModel):
    class Stage(models.TextChoices):
        PLANNED = "planned", _("Planned")
        EXPECTED = "expected", _("Expected")
        BORN = "born", _("Born")
        READY = "ready", _("Ready to go home")

    class DepositTerms(models.TextChoices):
        REFUNDABLE = "refundable", _("Refundable in full until a number of days before go-home")
        NON_REFUNDABLE = "non_refundable", _("Non-refundable")
        TRANSFERABLE = "transferable", _("Transferable to a later litter")

    class Picking(models.TextChoices):
        NOT_OPEN = "not_open", _("Not open")
        OPEN = "open", _("Families are choosing")
        CLOSED = "closed", _("Closed")

    name = models.CharField(max_length=120, verbose_name=_("name"))
    dam = models.CharField(_("mother"), max_length=120)
    sire = models.CharField(_("father"), max_length=120)
    # Optional: the parents' entries on the parents page (Dog), which the litter links to. The
    # names above stay what every page and email shows.
    dam_dog = models.ForeignKey(
        "Dog",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="litters_as_dam",
        verbose_name=_("mother on the parents page"),
    )
    sire_dog = models.ForeignKey(
        "Dog",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="litters_as_sire",
        verbose_name=_("father on the parents page"),
    )
    born_on = models.DateField(
        null=True,
        blank=True,
        help_text=_("Empty until the litter is born."),
        verbose_name=_("born on"),
    )
    description = models.TextField(blank=True, verbose_name=_("description"))
    # --- the waiting list (kennel/reservations/waitlist.py owns its state changes) ---
    slug = models.SlugField(
        max_length=80,
        unique=True,
        help_text=_("The litter page's address."),
        verbose_name=_("slug"),
    )
    stage = models.CharField(
        max_length=8, choices=Stage.choices, default=Stage.BORN, verbose_name=_("stage")
    )
    expected_on = models.DateField(_("expected birth"), null=True, blank=True)
    go_home_on = models.DateField(_("ready to go home"), null=True, blank=True)
    # The litter's usual price: the list deposit's default share is counted from it.
    usual_price = models.DecimalField(
        max_digits=10, decimal_places=2, null=True, blank=True, verbose_name=_("usual price")
    )
    currency = models.CharField(
        max_length=3, default="EUR", validators=[validate_currency], verbose_name=_("currency")
    )
    waitlist_open = models.BooleanField(_("waiting list open"), default=False)
    waitlist_deposit = models.DecimalField(
        _("waiting list deposit"),
        max_digits=10,
        decimal_places=2,
        null=True,
        blank=True,
        help_text=_("Leave empty to use the configured share of the usual price."),
    )
    waitlist_cap = models.PositiveIntegerField(
        _("most families"), null=True, blank=True, help_text=_("Leave empty for no limit.")
    )
    deposit_terms = models.CharField(
        max_length=16,
        choices=DepositTerms.choices,
        default=DepositTerms.REFUNDABLE,
        verbose_name=_("deposit terms"),
    )
    refund_days = models.PositiveSmallIntegerField(
        _("refundable until days before go-home"),
        default=14,
        help_text=_(
            "For refundable terms: a withdrawal refunds in full until this many days "
            "before the go-home date."
        ),
    )
    pick_window_minutes = models.PositiveIntegerField(
        _("minutes per pick turn"),
        null=True,
        blank=True,
        help_text=_("Leave empty for the shop's PICK_WINDOW_MINUTES."),
    )
    # Only kennel/reservations/waitlist.py changes this.
    picking = models.CharField(
        max_length=8, choices=Picking.choices, default=Picking.NOT_OPEN, verbose_name=_("picking")
    )

    class Meta:
        verbose_name = _("litter")
        verbose_name_plural = _("litters")
        ordering = ["-born_on", "name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(waitlist_deposit__isnull=True)
                | models.Q(waitlist_deposit__gt=0),
                name="litter_waitlist_deposit_positive",
            ),
            models.CheckConstraint(
                condition=models.Q(picking__in=["not_open", "open", "closed"]),
                name="litter_picking_known",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        """Amounts save() would store as nothing a provider can charge are refused first:
        a usual price or list deposit of 0 or less, once rounded to the currency."""
        super().clean()
        currency = _known_currency(self.currency)
        if currency is None:
            return  # the currency field says why
        errors = {}
        if self.usual_price is not None and quantize(Decimal(self.usual_price), currency) <= 0:
            errors["usual_price"] = ValidationError(
                _("The usual price must be more than 0 %(currency)s."),
                params={"currency": currency},
            )
        elif self.usual_price is not None and Decimal(self.usual_price) > largest(currency):
            errors["usual_price"] = too_large("usual_price", currency)
        elif self.usual_price is not None and not exact(Decimal(self.usual_price), currency):
            errors["usual_price"] = too_precise("usual_price", currency)
        if self.waitlist_deposit is not None and (
            quantize(Decimal(self.waitlist_deposit), currency) <= 0
        ):
            errors["waitlist_deposit"] = ValidationError(
                _(
                    "The waiting list deposit must be at least %(smallest)s %(currency)s, "
                    "or empty to use the share of the usual price."
                ),
                params={"smallest": smallest(currency), "currency": currency},
            )
        elif self.waitlist_deposit is not None and (
            Decimal(self.waitlist_deposit) > largest(currency)
        ):
            errors["waitlist_deposit"] = too_large("waitlist_deposit", currency)
        elif self.waitlist_deposit is not None and not exact(
            Decimal(self.waitlist_deposit), currency
        ):
            errors["waitlist_deposit"] = too_precise("waitlist_deposit", currency)
        if errors:
            raise ValidationError(errors)

    def save(self, *args: object, **kwargs: object) -> None:
        if not self.slug:
            self.slug = self._free_slug()
        self.currency = self.currency.strip().upper()
        if self.waitlist_deposit is not None:
            self.waitlist_deposit = quantize(Decimal(self.waitlist_deposit), self.currency)
        super().save(*args, **kwargs)  # type: ignore[arg-type]

    def get_absolute_url(self) -> str:
        return reverse("catalogue:litter", kwargs={"slug": self.slug})

    def _free_slug(self) -> str:
        """A litter made without a slug (not from the back office, which fills it in) gets
        one from its name: "spring-litter", then "spring-litter-2"…"""
        base = slugify(self.name)[:70] or "litter"
        taken = set(Litter.objects.filter(slug__startswith=base).values_list("slug", flat=True))
        slug, n = base, 2
        while slug in taken:
            slug, n = f"{base}-{n}", n + 1
        return slug

    @property
    def list_deposit(self) -> Decimal | None:
        """What a family pays to join the waiting list; None when the litter sets neither a
        deposit nor a usual price (its list cannot be joined)."""
        if self.waitlist_deposit is not None:
            return self.waitlist_deposit
        if self.usual_price is None:
            return None
        return default_deposit(self.usual_price, self.currency)

    @property
    def pick_window(self) -> int:
        return self.pick_window_minutes or settings.PICK_WINDOW_MINUTES


class Puppy(BaseModel):
    class Sex(models.TextChoices):
        MALE = "male", _("Male")
        FEMALE = "female", _("Female")

    class Status(models.TextChoices):
        AVAILABLE = "available", _("Available")
        HELD = "held", _("On hold")
        RESERVED = "reserved", _("Reserved")
        SOLD = "sold", _("Sold")

    slug = models.SlugField(max_length=80, unique=True, verbose_name=_("slug"))
    name = models.CharField(max_length=80, verbose_name=_("name"))
    litter = models.ForeignKey(
        Litter,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="puppies",
        verbose_name=_("litter"),
    )
    breed = models.CharField(max_length=80, db_index=True, verbose_name=_("breed"))
    sex = models.CharField(max_length=6, choices=Sex.choices, verbose_name=_("sex"))
    colour = models.CharField(max_length=60, blank=True, verbose_name=_("colour"))
    born_on = models.DateField(verbose_name=_("born on"))
    description = models.TextField(blank=True, verbose_name=_("description"))
    price = models.DecimalField(max_digits=10, decimal_places=2, verbose_name=_("price"))
    deposit = models.DecimalField(
        max_digits=10,
        decimal_places=2,
        blank=True,
        help_text=_("Leave empty to use the configured share of the price."),
        verbose_name=_("deposit"),
    )
    currency = models.CharField(
        max_length=3,
        default="EUR",
        validators=[validate_currency],
        help_text=_("Three-letter ISO code (EUR, GBP, USD…)."),
        verbose_name=_("currency"),
    )
    # Only the reservation services change this (see reservations/services.py).
    status = models.CharField(
        max_length=10,
        choices=Status.choices,
        default=Status.AVAILABLE,
        db_index=True,
        verbose_name=_("status"),
    )
    is_published = models.BooleanField(default=True, verbose_name=_("is published"))
    # Kept by the breeder: never offered to the waiting list's families when they pick.
    kept = models.BooleanField(
        _("kept by the breeder"), default=False, help_text=_("Not offered when families pick.")
    )

    class Meta:
        verbose_name = _("puppy")
        ordering = ["litter__born_on", "name"]
        verbose_name_plural = _("puppies")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(deposit__gt=0) & models.Q(deposit__lte=models.F("price")),
                name="puppy_deposit_positive_and_not_above_price",
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=["available", "held", "reserved", "sold"]),
                name="puppy_status_known",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        """What save() would store, checked first: a price and a deposit a provider can
        charge (at least the currency's smallest unit, once rounded to it), the deposit not
        above the price — a message under the field, never a refused write."""
        super().clean()
        currency = _known_currency(self.currency)
        if currency is None or self.price is None:
            return  # the field says why
        price = quantize(Decimal(self.price), currency)
        if price <= 0:
            raise ValidationError(
                {
                    "price": ValidationError(
                        _("The price must be more than 0 %(currency)s."),
                        params={"currency": currency},
                    )
                }
            )
        if price > largest(currency):
            raise ValidationError({"price": too_large("price", currency)})
        if not exact(Decimal(self.price), currency):
            raise ValidationError({"price": too_precise("price", currency)})
        deposit = (
            default_deposit(price, currency)
            if self.deposit is None
            else quantize(Decimal(self.deposit), currency)
        )
        if deposit <= 0:
            raise ValidationError(
                {
                    "deposit": ValidationError(
                        _("The deposit must be at least %(smallest)s %(currency)s."),
                        params={"smallest": smallest(currency), "currency": currency},
                    )
                }
            )
        if deposit > largest(currency):
            raise ValidationError({"deposit": too_large("deposit", currency)})
        if self.deposit is not None and not exact(Decimal(self.deposit), currency):
            raise ValidationError({"deposit": too_precise("deposit", currency)})
        if deposit > price:
            raise ValidationError(
                {
                    "deposit": ValidationError(
                        _("The deposit cannot be more than the price (%(price)s %(currency)s)."),
                        params={"price": price, "currency": currency},
                    )
                }
            )

    def save(self, *args: object, **kwargs: object) -> None:
        # Providers answer in upper case and in the currency's own minor unit: store the same,
        # or a correct payment would look like a wrong amount (invariant 4) and be refunded.
        self.currency = self.currency.strip().upper()
        if self.deposit is None:
            self.deposit = default_deposit(self.price, self.currency)
        self.deposit = quantize(Decimal(self.deposit), self.currency)
        self.price = quantize(Decimal(self.price), self.currency)
        super().save(*args, **kwargs)  # type: ignore[arg-type]

    def get_absolute_url(self) -> str:
        return reverse("catalogue:puppy", kwargs={"slug": self.slug})

    @property
    def is_available(self) -> bool:
        return self.status == self.Status.AVAILABLE


def default_deposit(price: Decimal, currency: str) -> Decimal:
    share = Decimal(str(settings.DEPOSIT_SHARE))
    return min(price, max(quantize(price * share, currency), smallest(currency)))


# Why an amount above what one payment can charge is refused (core.money.largest), by field:
# whole sentences, so that each language can word the amount's name its own way.
TOO_LARGE = {
    "price": _(
        "The price must be at most %(largest)s %(currency)s, the largest payment Stripe takes "
        "(PayPal takes as much)."
    ),
    "deposit": _(
        "The deposit must be at most %(largest)s %(currency)s, the largest payment Stripe takes "
        "(PayPal takes as much)."
    ),
    "usual_price": _(
        "The usual price must be at most %(largest)s %(currency)s, the largest payment Stripe "
        "takes (PayPal takes as much)."
    ),
    "waitlist_deposit": _(
        "The waiting list deposit must be at most %(largest)s %(currency)s, the largest "
        "payment Stripe takes (PayPal takes as much)."
    ),
}


def too_large(field: str, currency: str) -> ValidationError:
    """The refusal of an amount in `field` above what one payment can charge in `currency`,
    in the reader's language."""
    return ValidationError(
        TOO_LARGE[field], params={"largest": largest(currency), "currency": currency}
    )


# An amount typed with more places than its currency has is refused, not rounded: 1000.5 JPY
# is not silently 1001 JPY (a EUR amount with three places is refused by the field itself).
TOO_PRECISE = {
    "price": _("The price has more decimal places than %(currency)s has (%(places)s)."),
    "deposit": _("The deposit has more decimal places than %(currency)s has (%(places)s)."),
    "usual_price": _("The usual price has more decimal places than %(currency)s has (%(places)s)."),
    "waitlist_deposit": _(
        "The waiting list deposit has more decimal places than %(currency)s has (%(places)s)."
    ),
}


def too_precise(field: str, currency: str) -> ValidationError:
    """The refusal of an amount in `field` with more places than `currency` has."""
    return ValidationError(
        TOO_PRECISE[field], params={"currency": currency, "places": decimals(currency)}
    )


def smallest(currency: str) -> Decimal:
    """The smallest amount `currency` can be charged in: 0.01 EUR, 1 JPY."""
    return Decimal(1).scaleb(-decimals(currency))


def _known_currency(value: str | None) -> str | None:
    try:
        return currency_info(value or "").code
    except UnknownCurrency:
        return None


# The catalogue card is at most about 570 CSS px wide (one column on a phone): it is offered
# the variants up to this size only; the puppy page gets them all.
CARD_MAX_SIZE = 960


@dataclass(frozen=True)
class Picture:
    """What a <picture> needs: WebP and JPEG srcsets, the fallback JPEG and its size."""

    webp_srcset: str
    jpeg_srcset: str
    src: str
    width: int
    height: int


class WebPhoto(models.Model):
    """A photo as the pipeline (kennel/catalogue/images.py) stores it: web sizes only, the
    largest clean JPEG as `image` (each kind names its own folder), ordered by position."""

    alt = models.CharField(
        max_length=200,
        help_text=_("What the photo shows, for screen readers."),
        verbose_name=_("alt"),
    )
    # The first photo by position is the cover.
    position = models.PositiveSmallIntegerField(default=0, verbose_name=_("position"))
    # Web sizes, smallest first: [{"width", "height", "webp", "jpeg"}] (storage names).
    # Empty for a photo stored before the pipeline: pages then show `image` as it is.
    variants = models.JSONField(
        default=list, blank=True, editable=False, verbose_name=_("variants")
    )
    image: models.ImageField

    class Meta:
        abstract = True
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.alt

    @property
    def page_picture(self) -> Picture | None:
        """Every variant, for a page that shows the photo large."""
        return self.picture()

    def picture(self, *, max_size: int | None = None) -> Picture | None:
        """The variants whose longer side is at most `max_size`, or None without variants."""
        chosen = [
            v for v in self.variants if max_size is None or max(v["width"], v["height"]) <= max_size
        ] or self.variants[:1]
        if not chosen:
            return None
        url = self.image.storage.url

        def srcset(kind: str) -> str:
            return ", ".join(f"{url(v[kind])} {v['width']}w" for v in chosen)

        largest = chosen[-1]
        return Picture(
            webp_srcset=srcset("webp"),
            jpeg_srcset=srcset("jpeg"),
            src=url(largest["jpeg"]),
            width=largest["width"],
            height=largest["height"],
        )


class PuppyPhoto(WebPhoto):
    puppy = models.ForeignKey(
        Puppy, on_delete=models.CASCADE, related_name="photos", verbose_name=_("puppy")
    )
    # Written by kennel/catalogue/images.py: the largest clean JPEG variant, never the upload.
    image = models.ImageField(upload_to="puppies/", verbose_name=_("image"))

    @property
    def card_picture(self) -> Picture | None:
        """The variants a catalogue card may load (none larger than CARD_MAX_SIZE)."""
        return self.picture(max_size=CARD_MAX_SIZE)


# --- Content the breeder edits in the back office (kennel/catalogue/content.py renders it) ---


class Page(BaseModel):
    """One of the shop's own pages, written by the breeder in Markdown (or plain text)."""

    class Kind(models.TextChoices):
        ABOUT = "about", _("About the breeder")
        PARENTS = "parents", _("The parents")
        FAQ = "faq", _("Questions and answers")
        TERMS = "terms", _("Deposit and refund terms")
        PRIVACY = "privacy", _("Privacy notice")
        IMPRINT = "imprint", _("Imprint")

    kind = models.CharField(
        max_length=10, choices=Kind.choices, unique=True, verbose_name=_("kind")
    )
    title = models.CharField(max_length=120, verbose_name=_("title"))
    body = models.TextField(
        blank=True,
        help_text=(
            _(
                "Markdown or plain text: a blank line starts a paragraph, **bold**, *italic*, "
                "## a heading, - a list item, [a link](https://example.com). HTML is shown as text."
            )
        ),
        verbose_name=_("body"),
    )
    version = models.CharField(
        max_length=40,
        blank=True,
        help_text=(
            _(
                "For the deposit terms: change it (e.g. 2 or 2025-06) whenever the terms change. "
                "Each reservation keeps the version its buyer accepted."
            )
        ),
        verbose_name=_("version"),
    )

    class Meta:
        verbose_name = _("page")
        verbose_name_plural = _("pages")
        ordering = ["kind"]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse(f"catalogue:{self.kind}")


class Dog(BaseModel):
    """A parent of the breeder's litters (a dam or a sire), shown on the parents page."""

    slug = models.SlugField(max_length=80, unique=True, verbose_name=_("slug"))
    name = models.CharField(
        max_length=120,
        help_text=_("As it appears on the litters (their mother / father)."),
        verbose_name=_("name"),
    )
    sex = models.CharField(max_length=6, choices=Puppy.Sex.choices, verbose_name=_("sex"))
    breed = models.CharField(max_length=80, verbose_name=_("breed"))
    born_on = models.DateField(null=True, blank=True, verbose_name=_("born on"))
    description = models.TextField(
        blank=True, help_text=_("Markdown or plain text."), verbose_name=_("description")
    )
    health_tests = models.TextField(
        blank=True,
        help_text=_("Markdown or plain text: one test per line, e.g. - Hips: BVA 4/5 (2023)."),
        verbose_name=_("health tests"),
    )
    position = models.PositiveSmallIntegerField(
        default=0,
        help_text=_("Order on the parents page (smallest first)."),
        verbose_name=_("position"),
    )
    is_published = models.BooleanField(default=True, verbose_name=_("is published"))

    class Meta:
        verbose_name = _("dog")
        verbose_name_plural = _("dogs")
        ordering = ["position", "name"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("catalogue:parents") + f"#{self.slug}"


class DogPhoto(WebPhoto):
    dog = models.ForeignKey(
        Dog, on_delete=models.CASCADE, related_name="photos", verbose_name=_("dog")
    )
    # Written by kennel/catalogue/content.py through the puppy photos' pipeline (images.py).
    image = models.ImageField(upload_to="parents/", verbose_name=_("image"))
