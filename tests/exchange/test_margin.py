"""Margin arithmetic: worked examples from the venues, then properties of the solvers."""
from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from exchange.errors import InvalidCommandError
from exchange.margin import (
    MARGIN_RATIO_INFINITE,
    bankruptcy_price,
    bankruptcy_price_exact,
    bankruptcy_price_ticks,
    binance_liquidation_price_exact,
    binance_liquidation_price_ticks,
    entry_cost_atoms,
    hyperliquid_liquidation_price,
    hyperliquid_liquidation_price_exact,
    initial_margin_atoms,
    liquidation_price,
    maintenance_margin_atoms,
    margin_ratio_rate,
    max_position_lots,
    notional_cap_for_leverage,
    unrealized_pnl_atoms,
)
from exchange.presets import load_preset
from exchange.units import RATE_SCALE
from tests.strategies import SETTLE_UNIT, instrument_specs, isolated_positions, tier_tables

USDT = SETTLE_UNIT
BINANCE = load_preset("binance_usdm")
HYPERLIQUID = load_preset("hyperliquid")


def _price(spec, ticks: Fraction) -> Decimal:
    """Exact tick Fraction → price Decimal rounded to 2 decimals (as Binance displays)."""
    value = Decimal(ticks.numerator) / Decimal(ticks.denominator) * spec.tick_size
    return value.quantize(Decimal("0.01"))


# -- Worked examples -------------------------------------------------------------------------------

def test_binance_faq_single_position_liquidation_price():
    """Binance FAQ 25edcd7fe0e544839d0847b8cbb2e400 ("How to avoid liquidation"): wallet
    balance 500 USDT, long BTCUSDT worth 1,000 USDT with 20x at 50,000 (0.02 BTC):
    "your liquidation price will be $25,100.40".

    By hand: LP = (500 + 0 − 1·0.02·50,000) / (0.02·0.004 − 1·0.02) = −500 / −0.01992
    = 25,100.4016…; on BTCUSDT's 0.1 grid a long rounds up, to 25,100.5.
    """
    spec = BINANCE.instrument("BTCUSDT")
    exact = binance_liquidation_price_exact(
        wallet_atoms=500 * USDT, size_lots=20, entry_cost_atoms=1_000 * USDT, tiers=spec.tiers,
        atoms_per_tick_lot=spec.atoms_per_tick_lot)
    assert exact == Fraction(62_500_000, 249)  # = 251,004.016… ticks of 0.1
    assert _price(spec, exact) == Decimal("25100.40")
    assert liquidation_price(spec, wallet="500", size="0.02",
                             entry_price="50000") == Decimal("25100.5")


# Binance FAQ b3c689c1f50a44cabb3a84e663b81d93 (How to Calculate Liquidation Price of USDⓈ-M
# Futures Contracts), cross-margin example as published in the FAQ's earlier version. Its
# numbers are reproduced in freqtrade's tests (tests/exchange/test_binance.py, "From calc
# example") and partly quoted by mirror pages ("Maintenance Margin of ETHUSDT = 356,512.508
# (4918775.081 * 10.00% - 135365)", "Maintenance Margin of BTCUSDT = 71200.81144
# (3500032.458 * 2.50% - 16300)"). One mirror quotes UPNL1 = −447,482.100, which contradicts the
# example's own position numbers (it would give 26,310.23); the uPnL used here is computed from
# them: 4,918,775.081 − 3,683.979 × 1,456.84 = −448,192.87736.
FAQ_WALLET = 1_535_443_010_000                    # 1,535,443.01 USDT
FAQ_BTC = {"lots": 109_488, "cost": 3_556_387_026_240, "mark_notional": 3_500_032_458_000}
FAQ_ETH = {"lots": 3_683_979, "cost": 5_366_967_958_360, "mark_notional": 4_918_775_081_000}


def test_binance_faq_cross_margin_btcusdt_with_an_ethusdt_position_beside_it():
    """Cross: WB 1,535,443.01; BTCUSDT long 109.488 @ 32,481.98; the other contract (ETHUSDT long
    3,683.979 @ 1,456.84, notional at mark 4,918,775.081) has TMM1 = 356,512.5081 and
    UPNL1 = −448,192.87736; cumB = 16,300, MMR 2.5 %. Published: LP = 26,316.89."""
    btc, eth = BINANCE.instrument("BTCUSDT"), BINANCE.instrument("ETHUSDT")
    other_mm = eth.maintenance_margin_atoms(FAQ_ETH["mark_notional"])
    other_upnl = FAQ_ETH["mark_notional"] - FAQ_ETH["cost"]
    assert (other_mm, other_upnl) == (356_512_508_100, -448_192_877_360)
    lp = binance_liquidation_price_exact(
        wallet_atoms=FAQ_WALLET, size_lots=FAQ_BTC["lots"], entry_cost_atoms=FAQ_BTC["cost"],
        tiers=btc.tiers, atoms_per_tick_lot=btc.atoms_per_tick_lot,
        other_maintenance_atoms=other_mm, other_upnl_atoms=other_upnl)
    assert _price(btc, lp) == Decimal("26316.89")
    assert btc.tier_for(lp * FAQ_BTC["lots"] * btc.atoms_per_tick_lot).mmr == 2_500_000


def test_binance_faq_cross_margin_ethusdt_iterates_to_a_lower_tier():
    """Same account, contract 1 = ETHUSDT (TMM1 = BTC's MM 71,200.81145, UPNL1 = 3,500,032.458 −
    109.488 × 32,481.98). The entry notional 5,366,967.96 sits in the 12.5 % tier, the
    liquidation notional in the 10 % tier (cum 135,365): the solver must move down a tier.
    Published: LP = 1,153.26."""
    btc, eth = BINANCE.instrument("BTCUSDT"), BINANCE.instrument("ETHUSDT")
    lp = binance_liquidation_price_exact(
        wallet_atoms=FAQ_WALLET, size_lots=FAQ_ETH["lots"], entry_cost_atoms=FAQ_ETH["cost"],
        tiers=eth.tiers, atoms_per_tick_lot=eth.atoms_per_tick_lot,
        other_maintenance_atoms=btc.maintenance_margin_atoms(FAQ_BTC["mark_notional"]),
        other_upnl_atoms=FAQ_BTC["mark_notional"] - FAQ_BTC["cost"])
    assert _price(eth, lp) == Decimal("1153.26")
    assert eth.tier_for(FAQ_ETH["cost"]).mmr == 12_500_000
    assert eth.tier_for(lp * FAQ_ETH["lots"] * eth.atoms_per_tick_lot).mmr == 10_000_000


@pytest.mark.parametrize("symbol, position, expected", [
    ("BTCUSDT", FAQ_BTC, Decimal("18778.73")),
    ("ETHUSDT", FAQ_ETH, Decimal("1114.78")),
])
def test_binance_formula_in_isolated_mode_drops_the_other_contracts(symbol, position, expected):
    """Isolated (TMM1 = UPNL1 = 0) with the same wallet, as freqtrade's test of the FAQ formula
    computes it: a consequence of the formula, not a number Binance published."""
    spec = BINANCE.instrument(symbol)
    lp = binance_liquidation_price_exact(
        wallet_atoms=FAQ_WALLET, size_lots=position["lots"], entry_cost_atoms=position["cost"],
        tiers=spec.tiers, atoms_per_tick_lot=spec.atoms_per_tick_lot)
    assert _price(spec, lp) == expected


def test_tier_iteration_long_moves_down_to_the_one_percent_tier():
    """Hand-built (reference §3 table). Isolated long 30 BTC @ 40,000 (notional 1.2M, 2.5 % tier)
    with 240,000 USDT (5x). With the 2.5 % tier: LP = (240,000 + 16,300 − 1,200,000) /
    (30·0.025 − 30) = 32,263.25, notional 967,897 < 1M → wrong tier. With the 1 % tier:
    LP = (240,000 + 1,300 − 1,200,000) / (30·0.01 − 30) = 958,700 / 29.7 = 32,279.4613…,
    notional 968,384 in [250k, 1M): consistent. Long rounds up: 32,279.5."""
    spec = BINANCE.instrument("BTCUSDT")
    exact = binance_liquidation_price_exact(
        wallet_atoms=240_000 * USDT, size_lots=30_000,
        entry_cost_atoms=entry_cost_atoms(30_000, 400_000, 100), tiers=spec.tiers,
        atoms_per_tick_lot=100)
    assert exact == Fraction(958_700 * 10, 297) * 10   # ticks of 0.1
    assert liquidation_price(spec, wallet="240000", size="30",
                             entry_price="40000") == Decimal("32279.5")


def test_tier_iteration_short_moves_up_to_the_two_and_a_half_percent_tier():
    """Hand-built. Isolated short 33 BTC @ 30,000 (990k, 1 % tier) with 99,000 USDT. 1 % tier:
    LP = (99,000 + 1,300 + 990,000) / (33·0.01 + 33) = 32,712.27, notional 1,079,505 ≥ 1M →
    wrong tier. 2.5 % tier: LP = (99,000 + 16,300 + 990,000) / (33·1.025) = 1,105,300 / 33.825
    = 32,677.0140…, notional 1,078,341: consistent. Short rounds down: 32,677.0."""
    spec = BINANCE.instrument("BTCUSDT")
    price = liquidation_price(spec, wallet="99000", size="-33", entry_price="30000")
    assert price == Decimal("32677.0")
    exact = binance_liquidation_price_exact(
        wallet_atoms=99_000 * USDT, size_lots=-33_000,
        entry_cost_atoms=entry_cost_atoms(-33_000, 300_000, 100), tiers=spec.tiers,
        atoms_per_tick_lot=100)
    assert exact == Fraction(1_105_300, 1) / Fraction(33_825, 1000) * 10


def test_bankruptcy_price_is_entry_minus_margin_per_unit():
    """BP = E − s·margin/|q|. 20x long 0.02 BTC @ 50,000 with 50 USDT: 50,000 − 50/0.02 = 47,500;
    the same short: 52,500. A 1x long (margin = cost) cannot go bankrupt."""
    spec = BINANCE.instrument("BTCUSDT")
    assert bankruptcy_price(spec, size="0.02", entry_price="50000", margin="50") == Decimal(47500)
    assert bankruptcy_price(spec, size="-0.02", entry_price="50000",
                            margin="50") == Decimal(52500)
    assert bankruptcy_price(spec, size="0.02", entry_price="50000", margin="1000") is None
    # off-grid exact value: long rounds up, short down (a close there never leaves a deficit)
    assert bankruptcy_price_ticks(size_lots=3, entry_cost_atoms=1_000_000, margin_atoms=1,
                                  atoms_per_tick_lot=1_000) == 334
    assert bankruptcy_price_ticks(size_lots=-3, entry_cost_atoms=-1_000_000, margin_atoms=1,
                                  atoms_per_tick_lot=1_000) == 333


def test_hyperliquid_liquidation_price_worked_by_hand():
    """Formula of reference §3 (HL docs, community mirror [3P]); no published numeric example
    was found, so this one is computed by hand. BTC (40x → MMR l = 1.25 %), isolated long 1 BTC
    @ 100,000 with 10,000 USDC (10x). At mark 100,000: account value 10,000, MM 1,250,
    margin_available 8,750: LP = 100,000 − 8,750 / 1 / (1 − 0.0125) = 91,139.2405…
    At mark 95,000: value 5,000, MM 1,187.5, available 3,812.5: LP = 95,000 − 3,812.5/0.9875 =
    91,139.2405… (the same: LP does not depend on the mark). Tick 1, long rounds up: 91,140."""
    spec = HYPERLIQUID.instrument("BTC")
    assert hyperliquid_liquidation_price(spec, size="1", mark_price="100000",
                                         margin_available="8750") == Decimal(91140)
    assert hyperliquid_liquidation_price(spec, size="1", mark_price="95000",
                                         margin_available="3812.5") == Decimal(91140)
    exact = hyperliquid_liquidation_price_exact(
        size_lots=100_000, mark_ticks=100_000, margin_available_atoms=8_750 * USDT,
        mmr=1_250_000, atoms_per_tick_lot=10)
    assert exact == Fraction(100_000) - Fraction(8_750 * 10_000, 9_875)
    # equals Binance's formula for the same tier (cum 0 here)
    assert exact == binance_liquidation_price_exact(
        wallet_atoms=10_000 * USDT, size_lots=100_000, entry_cost_atoms=100_000 * USDT,
        tiers=spec.tiers, atoms_per_tick_lot=10)


def test_hyperliquid_short_liquidates_above_and_rounds_down():
    """ETH (25x → l = 2 %), isolated short 2 ETH @ 4,000 with 800 USDC: MM 160, available 640:
    LP = 4,000 + 640 / 2 / (1 + 0.02) = 4,313.7254…; tick 0.1, short rounds down: 4,313.7."""
    spec = HYPERLIQUID.instrument("ETH")
    assert hyperliquid_liquidation_price(spec, size="-2", mark_price="4000",
                                         margin_available="640") == Decimal("4313.7")


def test_margin_ratio_crosses_100_percent_at_the_liquidation_tick():
    """The 500 USDT / 0.02 BTC example: at mark 45,000 uPnL = −100, MM = 3.6, ratio 0.9 %. At
    the returned liquidation tick 25,100.5 the ratio is just below 100 %, one tick lower it is
    at or above 100 % (Binance liquidates at ≥ 100 %)."""
    spec = BINANCE.instrument("BTCUSDT")
    cost = entry_cost_atoms(20, 500_000, 100)

    def ratio(mark_ticks):
        equity = 500 * USDT + unrealized_pnl_atoms(20, cost, mark_ticks, 100)
        return margin_ratio_rate(spec.maintenance_margin_atoms(spec.notional_atoms(mark_ticks, 20)),
                                 equity)

    assert ratio(450_000) == 900_000
    assert ratio(251_005) < RATE_SCALE <= ratio(251_004)
    assert ratio(237_000) == MARGIN_RATIO_INFINITE   # equity ≤ 0 (below bankruptcy 25,000)


def test_initial_margin_and_position_limits():
    spec = BINANCE.instrument("BTCUSDT")
    assert initial_margin_atoms(1_000 * USDT, 20) == 50 * USDT
    assert initial_margin_atoms(1_000 * USDT + 1, 20) == 50 * USDT + 1   # rounded up
    with pytest.raises(InvalidCommandError, match="'leverage' must be an int >= 1"):
        initial_margin_atoms(1, 0)
    assert notional_cap_for_leverage(spec.tiers, 20, spec.max_position_notional_atoms) \
        == 10_000_000 * USDT
    # at 50,000 a 20x position must stay below 10M USDT: at most 199.999 BTC
    assert max_position_lots(price_ticks=500_000, leverage=20, tiers=spec.tiers,
                             atoms_per_tick_lot=100,
                             max_position_notional_atoms=spec.max_position_notional_atoms) \
        == 199_999
    assert max_position_lots(price_ticks=500_000, leverage=126, tiers=spec.tiers,
                             atoms_per_tick_lot=100) == 0
    assert maintenance_margin_atoms(1_000_000 * USDT, spec.tiers) == 8_700 * USDT  # 25k − 16.3k


def test_no_liquidation_price_for_an_unlevered_long_and_size_zero_is_an_error():
    spec = BINANCE.instrument("BTCUSDT")
    assert liquidation_price(spec, wallet="1000", size="0.02", entry_price="50000") is None
    with pytest.raises(InvalidCommandError, match="'size_lots' must be a non-zero int"):
        binance_liquidation_price_ticks(wallet_atoms=1, size_lots=0, entry_cost_atoms=0,
                                        tiers=spec.tiers, atoms_per_tick_lot=100)


# -- Properties --------------------------------------------------------------------------------------

def _gap(spec, wallet, size, cost, price_ticks, other=0):
    """Equity minus maintenance margin, in atoms, at ``price_ticks`` (integer MM, rounded up)."""
    equity = wallet + other + unrealized_pnl_atoms(size, cost, price_ticks,
                                                   spec.atoms_per_tick_lot)
    return equity - spec.maintenance_margin_atoms(spec.notional_atoms(price_ticks, size))


@given(instrument_specs(), st.data())
def test_isolated_long_liquidates_below_entry_and_short_above(spec, data):
    size, entry, wallet = data.draw(isolated_positions(spec))
    cost = entry_cost_atoms(size, entry, spec.atoms_per_tick_lot)
    exact = binance_liquidation_price_exact(wallet_atoms=wallet, size_lots=size,
                                            entry_cost_atoms=cost, tiers=spec.tiers,
                                            atoms_per_tick_lot=spec.atoms_per_tick_lot)
    ticks = binance_liquidation_price_ticks(wallet_atoms=wallet, size_lots=size,
                                            entry_cost_atoms=cost, tiers=spec.tiers,
                                            atoms_per_tick_lot=spec.atoms_per_tick_lot)
    if size > 0:
        if exact is None:  # only an unlevered long has none
            assert wallet >= cost
            return
        assert exact < entry and ticks <= entry
    else:
        assert exact is not None and exact > entry and ticks >= entry


@given(instrument_specs(), st.data())
def test_at_the_liquidation_tick_equity_covers_mm_and_one_tick_beyond_it_does_not(spec, data):
    size, entry, wallet = data.draw(isolated_positions(spec))
    # cross margin: other contracts shift the equity by a constant
    other_mm = data.draw(st.integers(0, wallet // 2))
    other_upnl = data.draw(st.integers(-(wallet // 2), wallet))
    cost = entry_cost_atoms(size, entry, spec.atoms_per_tick_lot)
    ticks = binance_liquidation_price_ticks(
        wallet_atoms=wallet, size_lots=size, entry_cost_atoms=cost, tiers=spec.tiers,
        atoms_per_tick_lot=spec.atoms_per_tick_lot, other_maintenance_atoms=other_mm,
        other_upnl_atoms=other_upnl)
    assume(ticks is not None)
    other = other_upnl - other_mm
    beyond = ticks - 1 if size > 0 else ticks + 1
    at = _gap(spec, wallet, size, cost, ticks, other)
    assert _gap(spec, wallet, size, cost, beyond, other) < 0
    # equity = MM within one tick: one tick moves equity − MM by |q|·a·(1 ± MMR) (+1 rounding)
    one_tick = abs(size) * spec.atoms_per_tick_lot * (RATE_SCALE + spec.tiers[-1].mmr)
    assert 0 <= at <= one_tick // RATE_SCALE + 2


@given(instrument_specs(), st.data())
def test_exact_liquidation_price_solves_the_tier_equation(spec, data):
    size, entry, wallet = data.draw(isolated_positions(spec))
    a = spec.atoms_per_tick_lot
    cost = entry_cost_atoms(size, entry, a)
    lp = binance_liquidation_price_exact(wallet_atoms=wallet, size_lots=size,
                                         entry_cost_atoms=cost, tiers=spec.tiers,
                                         atoms_per_tick_lot=a)
    assume(lp is not None)
    notional = abs(size) * lp * a
    tier = spec.tier_for(notional)   # Fraction compares with int floors
    equity = wallet + size * lp * a - cost
    assert equity == notional * Fraction(tier.mmr, RATE_SCALE) - tier.maintenance_amount_atoms


@given(instrument_specs(), st.data())
def test_bankruptcy_tick_leaves_no_deficit_and_one_tick_beyond_does(spec, data):
    size, entry, wallet = data.draw(isolated_positions(spec))
    a = spec.atoms_per_tick_lot
    cost = entry_cost_atoms(size, entry, a)
    bp = bankruptcy_price_ticks(size_lots=size, entry_cost_atoms=cost, margin_atoms=wallet,
                                atoms_per_tick_lot=a)
    assume(bp is not None)
    exact = bankruptcy_price_exact(size_lots=size, entry_cost_atoms=cost, margin_atoms=wallet,
                                   atoms_per_tick_lot=a)
    assert wallet + size * exact * a - cost == 0
    assert wallet + unrealized_pnl_atoms(size, cost, bp, a) >= 0
    beyond = bp - 1 if size > 0 else bp + 1
    assert wallet + unrealized_pnl_atoms(size, cost, beyond, a) < 0


@given(tier_tables(max_tiers=1), st.data())
def test_hyperliquid_and_binance_formulas_agree_for_one_tier(tiers, data):
    spec = data.draw(instrument_specs(tiers=st.just(tiers)))
    size, entry, wallet = data.draw(isolated_positions(spec))
    a = spec.atoms_per_tick_lot
    cost = entry_cost_atoms(size, entry, a)
    mark = data.draw(st.integers(1, 2 * entry))
    available = (wallet + unrealized_pnl_atoms(size, cost, mark, a)
                 - spec.maintenance_margin_atoms(spec.notional_atoms(mark, size)))
    hl = hyperliquid_liquidation_price_exact(size_lots=size, mark_ticks=mark,
                                             margin_available_atoms=available,
                                             mmr=tiers[0].mmr, atoms_per_tick_lot=a)
    bn = binance_liquidation_price_exact(wallet_atoms=wallet, size_lots=size,
                                         entry_cost_atoms=cost, tiers=tiers,
                                         atoms_per_tick_lot=a)
    assume(hl is not None and bn is not None)
    # they differ only by the < 1 atom rounding-up of MM at the mark
    s = 1 if size > 0 else -1
    assert abs(hl - bn) * abs(size) * a * (RATE_SCALE - s * tiers[0].mmr) <= RATE_SCALE
