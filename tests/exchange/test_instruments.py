"""InstrumentSpec and margin tiers: the reference table, continuity, limits, validation."""
from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from exchange.errors import ConfigError, InvalidCommandError
from exchange.instruments import (
    InstrumentSpec,
    MarginTier,
    check_tiers,
    maintenance_amounts,
    make_tiers,
    tier_maintenance_margin_atoms,
)
from exchange.presets import load_preset
from tests.strategies import SETTLE_UNIT, instrument_specs, tier_tables

USDT = SETTLE_UNIT

# Binance BTCUSDT brackets published 2021-03-18 (reference §3 table): floor (USDT), MMR %, lev.
REFERENCE_BTCUSDT = [
    (0, "0.004", 125), (50_000, "0.005", 100), (250_000, "0.01", 50), (1_000_000, "0.025", 20),
    (10_000_000, "0.05", 10), (20_000_000, "0.10", 5), (50_000_000, "0.125", 4),
    (100_000_000, "0.15", 3), (200_000_000, "0.25", 2), (300_000_000, "0.50", 1),
]
REFERENCE_CUM_USDT = [0, 50, 1300, 16300, 266300, 1266300, 2516300, 5016300, 25016300,
                      100016300]


def _reference_tiers():
    from exchange.units import decimal_to_rate
    return make_tiers((f * USDT, decimal_to_rate(m), lev) for f, m, lev in REFERENCE_BTCUSDT)


def test_maintenance_amounts_reproduce_the_reference_cum_column_exactly():
    floors = [f * USDT for f, _, _ in REFERENCE_BTCUSDT]
    from exchange.units import decimal_to_rate
    mmrs = [decimal_to_rate(m) for _, m, _ in REFERENCE_BTCUSDT]
    assert maintenance_amounts(floors, mmrs) == tuple(c * USDT for c in REFERENCE_CUM_USDT)


def test_binance_preset_btcusdt_tiers_are_the_reference_table():
    spec = load_preset("binance_usdm").instrument("BTCUSDT")
    assert spec.tiers == _reference_tiers()
    assert [t.maintenance_amount_atoms for t in spec.tiers] == [c * USDT
                                                                for c in REFERENCE_CUM_USDT]
    assert spec.max_position_notional_atoms == 500_000_000 * USDT


def test_binance_faq_tier_lookups():
    """FAQ b3c689c1f50a44cabb3a84e663b81d93: a 264,000 USDT BTCUSDT position has MMR 1 %; a
    500,000 USDT position has maintenance amount 1,300 USDT."""
    spec = load_preset("binance_usdm").instrument("BTCUSDT")
    assert spec.tier_for(264_000 * USDT).mmr == 1_000_000
    assert spec.tier_for(500_000 * USDT).maintenance_amount_atoms == 1_300 * USDT


def test_binance_faq_maintenance_margins_of_the_worked_example():
    """The FAQ's example positions: ETHUSDT notional 4,918,775.081 in the 10 % tier
    (MM = 4918775.081 × 10 % − 135,365 = 356,512.5081) and BTCUSDT notional 3,500,032.458 in
    the 2.5 % tier (MM = 3500032.458 × 2.5 % − 16,300 = 71,200.81145; the FAQ prints the
    truncated 71,200.81144)."""
    preset = load_preset("binance_usdm")
    eth, btc = preset.instrument("ETHUSDT"), preset.instrument("BTCUSDT")
    assert eth.maintenance_margin_atoms(4_918_775_081_000) == 356_512_508_100
    assert btc.maintenance_margin_atoms(3_500_032_458_000) == 71_200_811_450


def test_maintenance_margin_rounds_up_in_the_venues_favour():
    tier = MarginTier(notional_floor_atoms=0, mmr=400_000, max_leverage=125)
    assert tier_maintenance_margin_atoms(1, tier) == 1          # 0.004 atom → 1
    assert tier_maintenance_margin_atoms(250, tier) == 1
    assert tier_maintenance_margin_atoms(251, tier) == 2


@given(instrument_specs(), st.data())
def test_maintenance_margin_is_continuous_across_tier_floors(spec, data):
    for i in range(1, len(spec.tiers)):
        floor = spec.tiers[i].notional_floor_atoms
        below = tier_maintenance_margin_atoms(floor, spec.tiers[i - 1])
        above = tier_maintenance_margin_atoms(floor, spec.tiers[i])
        assert below == above == spec.maintenance_margin_atoms(floor)
    n = data.draw(st.integers(0, spec.tiers[-1].notional_floor_atoms * 2 + 10**12))
    step = spec.maintenance_margin_atoms(n + 1) - spec.maintenance_margin_atoms(n)
    assert 0 <= step <= 1  # non-decreasing, at most one atom per atom of notional


@given(tier_tables())
def test_generated_tier_tables_pass_check_tiers(tiers):
    check_tiers(tiers)


def test_max_leverage_and_notional_cap_follow_the_tiers():
    spec = load_preset("binance_usdm").instrument("BTCUSDT")
    assert spec.max_leverage_for(0) == 125
    assert spec.max_leverage_for(50_000 * USDT - 1) == 125
    assert spec.max_leverage_for(50_000 * USDT) == 100
    assert spec.max_leverage_for(400_000_000 * USDT) == 1
    assert spec.max_notional_for_leverage(125) == 50_000 * USDT
    assert spec.max_notional_for_leverage(20) == 10_000_000 * USDT
    assert spec.max_notional_for_leverage(1) == 500_000_000 * USDT
    assert spec.max_notional_for_leverage(126) == 0
    with pytest.raises(InvalidCommandError, match="'leverage' must be an int >= 1"):
        spec.max_notional_for_leverage(0)


def test_notional_fees_and_price_band():
    spec = load_preset("binance_usdm").instrument("BTCUSDT")
    assert spec.atoms_per_tick_lot == 100
    assert spec.notional_atoms(spec.price_to_ticks("50000"), -20) == 1_000 * USDT
    assert spec.fee_atoms(1_000 * USDT, maker=False) == 500_000       # 0.05 % = 0.5 USDT
    assert spec.fee_atoms(1_000 * USDT + 1, maker=True) == 200_001    # rounded up
    assert spec.price_band_ticks(500_000) == (475_000, 525_000)
    assert spec.price_band_ticks(11) == (11, 11)                      # shrinks inward
    dydx = load_preset("dydx_v4").instrument("BTC-USD")
    assert dydx.fee_atoms(1_000 * USDT + 1, maker=True) == -110_000   # rebate toward zero
    assert dydx.price_band_ticks(100) == (1, 2**63 - 1)               # no band


def test_conversions_are_exact_at_the_edge():
    spec = load_preset("binance_usdm").instrument("BTCUSDT")
    assert spec.price_to_ticks("25100.4") == 251_004
    assert spec.ticks_to_price(251_004) == Decimal("25100.4")
    assert spec.qty_to_lots("109.488") == 109_488
    assert spec.amount_to_atoms("1535443.01") == 1_535_443_010_000
    with pytest.raises(InvalidCommandError, match="multiple of tick_size 0.1"):
        spec.price_to_ticks("25100.41")


def _spec(**changes):
    kwargs = {"symbol": "BTCUSDT", "base": "BTC", "quote": "USDT", "settle": "USDT", "tick_size": "0.1",
                  "lot_size": "0.001", "max_order_lots": 10**6, "max_market_lots": 10**5,
                  "maker_fee_rate": 20_000, "taker_fee_rate": 50_000,
                  "tiers": make_tiers([(0, 400_000, 125)])}
    kwargs.update(changes)
    return InstrumentSpec(**kwargs)


@pytest.mark.parametrize("changes, message", [
    ({"tick_size": "0"}, "'tick_size' must be > 0 (got '0')"),
    ({"lot_size": 0.001}, "'lot_size' must be a decimal number (got 0.001)"),
    ({"tick_size": "0.01", "lot_size": "0.00001"}, "'tick_size * lot_size' must be a whole"),
    ({"symbol": ""}, "'symbol' must be a non-empty string"),
    ({"max_order_lots": 0}, "'max_order_lots' must be > 0 (got 0)"),
    ({"max_market_lots": 10**7}, "'max_market_lots' must be <= max_order_lots"),
    ({"maker_fee_rate": -60_000}, "'maker_fee_rate' must be >= -taker_fee_rate"),
    ({"taker_fee_rate": 10**8}, "'taker_fee_rate' must be in (-100000000, 100000000)"),
    ({"price_band_rate": -1}, "'price_band_rate' must be in [0, 100000000)"),
    ({"min_notional_atoms": 1.5}, "'min_notional_atoms' must be an int (got 1.5)"),
    ({"tiers": ()}, "'tiers' must be a non-empty sequence of MarginTier"),
    ({"tiers": (MarginTier(notional_floor_atoms=0, mmr=400_000, max_leverage=125),
                MarginTier(notional_floor_atoms=10**8, mmr=500_000, max_leverage=100,
                           maintenance_amount_atoms=7))},
     "'tiers[1].maintenance_amount_atoms' must be 100000"),
    ({"max_position_notional_atoms": 0}, "'max_position_notional_atoms' must be None or an int"),
])
def test_invalid_spec_is_rejected_naming_field_rule_and_value(changes, message):
    with pytest.raises(ConfigError) as info:
        _spec(**changes)
    assert message in str(info.value)


@pytest.mark.parametrize("kwargs, message", [
    ({"mmr": 0}, "'mmr' must be > 0 (got 0)"),
    ({"mmr": 1_000_000, "max_leverage": 100}, "'mmr' must be < 1/max_leverage = 1000000"),
    ({"max_leverage": 0}, "'max_leverage' must be > 0 (got 0)"),
    ({"notional_floor_atoms": -1}, "'notional_floor_atoms' must be >= 0 (got -1)"),
    ({"max_leverage": True}, "'max_leverage' must be an int (got True)"),
])
def test_invalid_margin_tier_is_rejected(kwargs, message):
    base = {"notional_floor_atoms": 0, "mmr": 400_000, "max_leverage": 125}
    base.update(kwargs)
    with pytest.raises(ConfigError) as info:
        MarginTier(**base)
    assert message in str(info.value)


def test_tier_table_rules():
    ok = [(0, 400_000, 125), (50_000 * USDT, 500_000, 100)]
    make_tiers(ok)
    with pytest.raises(ConfigError, match=r"'tiers\[1\].mmr' must be >= the previous"):
        make_tiers([(0, 500_000, 100), (10**8, 400_000, 100)])
    with pytest.raises(ConfigError, match=r"'tiers\[1\].max_leverage' must be <= the previous"):
        make_tiers([(0, 400_000, 100), (10**8, 500_000, 125)])
    with pytest.raises(ConfigError, match=r"'tiers\[1\].notional_floor_atoms' must be > the"):
        make_tiers([(0, 400_000, 125), (0, 500_000, 100)])
    with pytest.raises(ConfigError, match=r"whole number of atoms"):
        make_tiers([(0, 400_000, 125), (1, 500_000, 100)])   # 1 atom × 0.1 % is not whole
