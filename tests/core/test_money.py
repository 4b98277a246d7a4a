from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from kennel.core.money import from_minor_units, to_minor_units

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
