"""Template filters for the shop's pages: money, a puppy's age and status in words, and the
context of a sentence that agrees with a puppy (catalogue/agreement.py)."""

from datetime import date
from decimal import Decimal

from django import template
from django.utils import timezone
from django.utils.translation import gettext, ngettext

from kennel.catalogue.agreement import MALE, Agreeing, agreement, for_puppy
from kennel.catalogue.models import Puppy
from kennel.core.money import format_money

register = template.Library()

# The statuses a badge says of one puppy: "Réservée", "Vendue" for a female one.
STATUS_LABELS: dict[str, Agreeing] = {
    Puppy.Status.RESERVED: Agreeing("Reserved"),
    Puppy.Status.SOLD: Agreeing("Sold"),
}
NOT_BORN = Agreeing("not born yet")


@register.filter
def money(amount: Decimal | None, currency: str) -> str:
    """`{{ puppy.price|money:puppy.currency }}` → "2,500.00 EUR"."""
    if amount is None:
        return ""
    return format_money(amount, currency)


@register.filter(name="agreement")
def agreement_filter(puppy: Puppy | None) -> str:
    """`{% blocktranslate context puppy|agreement %}`: the sentence as it agrees with `puppy`
    (with none, as "chiot" does: never a 500 for a page that lost its puppy)."""
    return agreement(puppy) if puppy is not None else MALE


@register.filter
def status_label(puppy: Puppy) -> str:
    """The puppy's status as its badge says it ("Available", "Reserved")."""
    return for_puppy(STATUS_LABELS.get(puppy.status, puppy.get_status_display()), puppy)


@register.filter
def age(puppy: Puppy) -> str:
    """A puppy's age as a breeder says it: "5 days old", "9 weeks old", "7 months old"."""
    born_on: date | None = puppy.born_on
    if born_on is None:
        return ""
    days = (timezone.localdate() - born_on).days
    if days < 0:
        return for_puppy(NOT_BORN, puppy)
    if days < 14:
        return ngettext("%(count)d day old", "%(count)d days old", days) % {"count": days}
    if days < 7 * 16:
        return gettext("%(count)d weeks old") % {"count": days // 7}
    months = days * 12 // 365
    if months < 24:
        return gettext("%(count)d months old") % {"count": months}
    return gettext("%(count)d years old") % {"count": days // 365}
