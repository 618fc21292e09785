"""Integer units, explicit rounding and exact Decimal conversions (exchange.units, errors)."""
from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from exchange.errors import (
    ConfigError,
    ExchangeError,
    InvalidCommandError,
    UnknownAccountError,
    UnknownSymbolError,
    invalid,
)
from exchange.units import (
    RATE_SCALE,
    atoms_per_tick_lot,
    atoms_to_decimal,
    decimal_to_atoms,
    decimal_to_lots,
    decimal_to_rate,
    decimal_to_ticks,
    div_ceil,
    div_floor,
    format_atoms,
    format_rate,
    lots_to_decimal,
    mul_rate_ceil,
    mul_rate_floor,
    rate_to_decimal,
    ticks_to_decimal,
    to_decimal,
)

ints = st.integers(-10**30, 10**30)
nonzero = ints.filter(bool)


def test_rate_scale_is_parts_per_1e8_and_04_percent_is_400_000():
    assert RATE_SCALE == 10**8
    assert decimal_to_rate("0.004") == 400_000


@given(ints, nonzero)
def test_div_floor_and_div_ceil_bracket_the_exact_quotient(a, b):
    exact = Fraction(a, b)
    assert div_floor(a, b) <= exact <= div_ceil(a, b)
    assert div_ceil(a, b) - div_floor(a, b) == (0 if a % b == 0 else 1)


@given(st.integers(-10**20, 10**20), st.integers(-RATE_SCALE, RATE_SCALE))
def test_mul_rate_ceil_charges_at_least_and_floor_pays_at_most_the_exact_amount(amount, rate):
    exact = Fraction(amount * rate, RATE_SCALE)
    assert mul_rate_floor(amount, rate) <= exact <= mul_rate_ceil(amount, rate)
    assert mul_rate_ceil(amount, rate) - mul_rate_floor(amount, rate) <= 1


def test_negative_division_floors_toward_minus_infinity_not_zero():
    assert div_floor(-7, 2) == -4 and div_ceil(-7, 2) == -3
    assert mul_rate_floor(-1, 1) == -1 and mul_rate_ceil(-1, 1) == 0


def test_binance_btcusdt_grid_gives_100_atoms_per_tick_lot():
    assert atoms_per_tick_lot("0.1", "0.001", 6) == 100
    assert atoms_per_tick_lot(Decimal("0.01"), Decimal("0.0001"), 6) == 1


def test_grid_finer_than_one_atom_is_rejected_naming_the_rule():
    with pytest.raises(InvalidCommandError, match=r"'tick_size \* lot_size' must be a whole"):
        atoms_per_tick_lot("0.01", "0.00001", 6)


def test_off_grid_price_quantity_and_amount_are_errors_not_rounded():
    with pytest.raises(InvalidCommandError, match=r"'price' must be a multiple of tick_size 0.1 "
                                                  r"\(got '1.25'\)"):
        decimal_to_ticks("1.25", Decimal("0.1"))
    with pytest.raises(InvalidCommandError, match="'qty' must be a multiple of lot_size"):
        decimal_to_lots("0.0015", Decimal("0.001"))
    with pytest.raises(InvalidCommandError, match="whole number of atoms"):
        decimal_to_atoms("0.0000005")
    with pytest.raises(InvalidCommandError, match="at most 8 decimals"):
        decimal_to_rate("0.123456789")


def test_floats_are_refused_because_binary_floats_are_inexact():
    for value in (0.1, 1.0):
        with pytest.raises(InvalidCommandError, match="not a float"):
            to_decimal(value, "price")
    with pytest.raises(InvalidCommandError, match="not a bool"):
        to_decimal(True, "qty")
    with pytest.raises(InvalidCommandError, match="a decimal number"):
        to_decimal("1,5", "qty")
    with pytest.raises(InvalidCommandError, match="finite"):
        to_decimal("NaN", "qty")


@given(st.integers(-10**15, 10**15), st.sampled_from(["1", "0.5", "0.1", "0.01", "0.001"]))
def test_ticks_and_lots_round_trip_exactly(n, step):
    step_d = Decimal(step)
    assert decimal_to_ticks(ticks_to_decimal(n, step_d), step_d) == n
    assert decimal_to_lots(lots_to_decimal(n, step_d), step_d) == n


@given(st.integers(-10**20, 10**20), st.integers(0, 9))
def test_atoms_round_trip_exactly(atoms, decimals):
    assert decimal_to_atoms(atoms_to_decimal(atoms, decimals), decimals) == atoms


@given(st.integers(-RATE_SCALE, RATE_SCALE))
def test_rates_round_trip_exactly(rate):
    assert decimal_to_rate(rate_to_decimal(rate)) == rate
    assert decimal_to_rate(str(rate_to_decimal(rate))) == rate


def test_format_atoms_and_rates_for_display():
    assert format_atoms(1_535_443_010_000) == "1,535,443.010000"
    assert format_atoms(-25_100_401_606, asset="USDT") == "-25,100.401606 USDT"
    assert format_atoms(5, 0) == "5"
    assert format_rate(50_000) == "0.05%"


def test_invalid_builds_the_house_message_and_keeps_its_parts():
    err = invalid("qty", "> 0", -3)
    assert str(err) == "'qty' must be > 0 (got -3)"
    assert (err.field, err.rule, err.value) == ("qty", "> 0", -3)
    assert isinstance(err, InvalidCommandError) and isinstance(err, ValueError)


def test_each_exception_subclasses_the_builtin_it_resembles():
    assert issubclass(ConfigError, ExchangeError) and issubclass(ConfigError, ValueError)
    assert issubclass(InvalidCommandError, ValueError)
    assert issubclass(UnknownAccountError, KeyError) and issubclass(UnknownSymbolError, KeyError)
    assert str(UnknownSymbolError("no instrument 'X'")) == "no instrument 'X'"  # not quoted


def test_config_error_for_key_names_file_key_rule_and_value():
    err = ConfigError.for_key("x.toml", "instruments.BTC.tick_size", "> 0", "-1")
    assert str(err) == "x.toml: 'instruments.BTC.tick_size' must be > 0 (got '-1')"
    assert (err.source, err.key, err.rule, err.value) == ("x.toml", "instruments.BTC.tick_size",
                                                          "> 0", "-1")
