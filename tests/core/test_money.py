from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kennel.core.money import (
    CURRENCIES,
    UnknownCurrency,
    currency_info,
    format_money,
    from_minor_units,
    paypal_accepts,
    paypal_value,
    quantize,
    to_minor_units,
)

amounts = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("99999999.99"), places=2)


@given(amounts, st.sampled_from(["EUR", "usd", "GBP", "CHF"]))
def test_minor_units_round_trip_for_two_decimal_currencies(amount, currency):
    units = to_minor_units(amount, currency)
    assert isinstance(units, int)
    assert units == int(amount * 100)
    assert from_minor_units(units, currency) == amount


@given(st.integers(min_value=1, max_value=10**9))
def test_zero_decimal_currencies_have_no_minor_unit(units):
    assert to_minor_units(Decimal(units), "JPY") == units
    assert from_minor_units(units, "JPY") == Decimal(units)


def test_half_a_cent_rounds_half_up():
    assert to_minor_units(Decimal("10.005"), "EUR") == 1001


@pytest.mark.parametrize("code", sorted(CURRENCIES))
def test_a_deposit_in_every_listed_currency_round_trips_through_each_providers_formatter(code):
    deposit = quantize(Decimal("12345.6789"), code)

    units = to_minor_units(deposit, code)  # what Stripe is sent
    assert from_minor_units(units, code) == deposit
    if code in ("HUF", "TWD", "ISK"):
        assert units % 100 == 0  # Stripe charges these in whole units only
    if code in ("BHD", "JOD", "KWD", "OMR", "TND"):
        assert units % 10 == 0  # three-decimal: Stripe wants the last digit 0
    if paypal_accepts(code):
        value = paypal_value(deposit, code)  # what PayPal is sent
        assert Decimal(value) == deposit
        places = len(value.partition(".")[2])
        assert places == (0 if code in ("HUF", "JPY", "TWD") else 2)


@pytest.mark.parametrize(
    ("amount", "code", "units"),
    [
        ("12346", "HUF", 1234600),
        ("12346", "TWD", 1234600),
        ("5000", "JPY", 5000),
        ("12.35", "KWD", 12350),
        ("12.35", "EUR", 1235),
    ],
)
def test_minor_units_follow_stripes_documented_rules(amount, code, units):
    assert to_minor_units(Decimal(amount), code) == units


def test_a_currency_no_provider_rule_covers_is_refused_by_name():
    with pytest.raises(UnknownCurrency, match="'XYZ' is not a currency Kennel can charge"):
        currency_info("XYZ")
    assert not paypal_accepts("KWD")


@pytest.mark.parametrize(
    ("amount", "currency", "text"),
    [("-0", "EUR", "0.00 EUR"), ("-0.001", "EUR", "0.00 EUR"), ("-0", "JPY", "0 JPY")],
)
def test_zero_reads_without_a_sign(amount, currency, text):
    assert str(quantize(Decimal(amount), currency)) == text.split()[0]
    assert format_money(Decimal(amount), currency) == text
