"""Template filters for the shop's pages: money and a puppy's age in words."""

from datetime import date
from decimal import Decimal

from django import template
from django.utils import timezone
from django.utils.translation import gettext, ngettext

from kennel.core.money import format_money

register = template.Library()


@register.filter
def money(amount: Decimal | None, currency: str) -> str:
    """`{{ puppy.price|money:puppy.currency }}` → "2,500.00 EUR"."""
    if amount is None:
        return ""
    return format_money(amount, currency)


@register.filter
def age(born_on: date | None) -> str:
    """A puppy's age as a breeder says it: "5 days old", "9 weeks old", "7 months old"."""
    if born_on is None:
        return ""
    days = (timezone.localdate() - born_on).days
    if days < 0:
        return gettext("not born yet")
    if days < 14:
        return ngettext("%(count)d day old", "%(count)d days old", days) % {"count": days}
    if days < 7 * 16:
        return gettext("%(count)d weeks old") % {"count": days // 7}
    months = days * 12 // 365
    if months < 24:
        return gettext("%(count)d months old") % {"count": months}
    return gettext("%(count)d years old") % {"count": days // 365}
