"""Money is Decimal everywhere; it becomes minor units only inside a provider client.

One table says, for every currency the shop knows, how many decimals a price or deposit may
carry (so that *every* provider charges it exactly), in which minor unit the providers' APIs
count it, and whether PayPal takes it. The catalogue, both providers and the sandbox read it;
nothing else keeps a list of zero-decimal currencies.

Sources: Stripe's "Supported currencies" (zero-decimal list; special cases: HUF and TWD are
two-decimal in the API but charged in whole units, ISK likewise; three-decimal currencies are
counted in thousandths and the last digit must be 0) and PayPal's "Currency codes" (the
currencies it takes; HUF, JPY and TWD with no decimals).
"""

import copy
import functools
from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from babel import Locale
    from babel.numbers import NumberPattern


@dataclass(frozen=True)
class Currency:
    code: str
    decimals: int = 2  # the places a price or deposit may carry: every provider charges it exactly
    exponent: int = 2  # the providers' minor unit: amounts go over the wire in 10**-exponent
    paypal: bool = False  # PayPal takes payments in it (with `decimals` places)


# Stripe's zero-decimal currencies: no minor unit at all.
_ZERO_DECIMAL = (
    "BIF",
    "CLP",
    "DJF",
    "GNF",
    "JPY",
    "KMF",
    "KRW",
    "MGA",
    "PYG",
    "RWF",
    "UGX",
    "VND",
    "VUV",
    "XAF",
    "XOF",
    "XPF",
)
# Counted in thousandths by Stripe, the last digit 0: so two places in the shop. PayPal: none.
_THREE_DECIMAL = ("BHD", "JOD", "KWD", "OMR", "TND")
# Two-decimal in Stripe's API, but charged in whole units (Stripe) or sent without decimals
# (PayPal): a deposit in them carries no cents, or a provider would round it.
_WHOLE_UNITS = ("HUF", "TWD", "ISK")
# PayPal's currency codes (REST API reference).
_PAYPAL = (
    "AUD",
    "BRL",
    "CAD",
    "CNY",
    "CZK",
    "DKK",
    "EUR",
    "HKD",
    "HUF",
    "ILS",
    "JPY",
    "MYR",
    "MXN",
    "TWD",
    "NZD",
    "NOK",
    "PHP",
    "PLN",
    "GBP",
    "SGD",
    "SEK",
    "CHF",
    "THB",
    "USD",
)
# Further two-decimal currencies shops commonly price in (Stripe takes them all).
_TWO_DECIMAL = ("AED", "BGN", "INR", "RON", "ZAR", "TRY", "IDR", "SAR", "QAR", "KES", "NGN")

CURRENCIES: dict[str, Currency] = {
    **{c: Currency(c) for c in _TWO_DECIMAL},
    **{c: Currency(c, paypal=True) for c in _PAYPAL},
    **{c: Currency(c, decimals=0, exponent=0) for c in _ZERO_DECIMAL},
    **{c: Currency(c, decimals=2, exponent=3) for c in _THREE_DECIMAL},
    **{c: Currency(c, decimals=0, exponent=2, paypal=c in _PAYPAL) for c in _WHOLE_UNITS},
}
CURRENCIES["JPY"] = Currency("JPY", decimals=0, exponent=0, paypal=True)


class UnknownCurrency(ValueError):
    """A currency code the shop does not know how to charge."""


def currency_info(code: str) -> Currency:
    """The table's row for `code` (any case). Raises UnknownCurrency for any other code."""
    info = CURRENCIES.get((code or "").strip().upper())
    if info is None:
        known = ", ".join(sorted(CURRENCIES))
        raise UnknownCurrency(f"{code!r} is not a currency Kennel can charge; use one of: {known}")
    return info


def exponent(currency: str) -> int:
    """The minor unit the providers' APIs count `currency` in (0, 2 or 3)."""
    return currency_info(currency).exponent


def decimals(currency: str) -> int:
    """The places a price or deposit in `currency` may carry."""
    return currency_info(currency).decimals


def quantize(amount: Decimal, currency: str) -> Decimal:
    """`amount` rounded (half up) to what every provider can charge exactly in `currency`.
    Zero has no sign: "-0" typed (or -0.001 rounded) is nothing, never "-0.00"."""
    value = amount.quantize(Decimal(1).scaleb(-decimals(currency)), rounding=ROUND_HALF_UP)
    return abs(value) if value.is_zero() else value


def exact(amount: Decimal, currency: str) -> bool:
    """Whether `amount` has no more places than `currency` is charged in (quantize leaves it
    as it is)."""
    return quantize(amount, currency) == amount


def to_minor_units(amount: Decimal, currency: str) -> int:
    """An amount in the API's minor unit (Stripe's `amount`): a deposit is exact, so this
    never rounds one; other input is rounded half up to the shop's places first."""
    return int(quantize(amount, currency).scaleb(exponent(currency)))


# The most one payment may be, in the API's minor unit: Stripe's "Supported currencies" (minimum
# and maximum charge amounts: "up to eight digits", 99999999 for a USD charge of $999,999.99).
# PayPal's Orders v2 `amount.value` is a string of up to 32 characters, so Stripe's is the
# bound both providers take (the sandbox answers amount_too_large above it, as Stripe does).
MAX_CHARGE_MINOR_UNITS = 99_999_999


def largest(currency: str) -> Decimal:
    """The largest amount one payment can charge in `currency`, at the shop's places:
    999999.99 EUR, 99999999 JPY, 999999 HUF (whole units)."""
    most = from_minor_units(MAX_CHARGE_MINOR_UNITS, currency)
    return most.quantize(Decimal(1).scaleb(-decimals(currency)), rounding=ROUND_DOWN)


def from_minor_units(units: int, currency: str) -> Decimal:
    """The exact amount `units` of the API's minor unit stand for (never rounded: an amount
    a provider reports must compare equal to ours only when it *is* ours)."""
    places = exponent(currency)
    return Decimal(units).scaleb(-places).quantize(Decimal(1).scaleb(-places))


def paypal_accepts(currency: str) -> bool:
    info = CURRENCIES.get((currency or "").strip().upper())
    return bool(info and info.paypal)


def paypal_value(amount: Decimal, currency: str) -> str:
    """A PayPal money value: a decimal string with the places PayPal allows for `currency`."""
    return str(quantize(amount, currency))


def format_money(amount: Decimal, currency: str) -> str:
    """`amount` as a buyer reads it in the active language, with the places `currency` is
    charged in: English "2,500.00 EUR" (the code: unambiguous to every reader, and what the
    back office and its exports have always shown), French "2 500,00 €" (CLDR's pattern,
    through Babel, with its non-breaking spaces)."""
    # Imported here: the offline sandbox reads this module's currency table and must load
    # neither Django nor Babel (tests/sandbox/test_sandbox_package.py).
    from django.utils import translation

    value = quantize(amount, currency)
    code = currency.strip().upper()
    language = translation.get_language() or "en"
    if language.split("-")[0] == "en":
        return f"{value:,} {code}"
    locale, pattern = _currency_pattern(language)
    places = decimals(code)
    pattern = copy.copy(pattern)
    pattern.frac_prec = (places, places)
    return pattern.apply(value, locale, currency=code, currency_digits=False)


@functools.cache
def _currency_pattern(language: str) -> "tuple[Locale, NumberPattern]":
    from babel import Locale
    from babel.numbers import parse_pattern

    locale = Locale.parse(language, sep="-")
    return locale, parse_pattern(locale.currency_formats["standard"])
