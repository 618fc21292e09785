"""``market``: liquidation orders into the book, limits and partial-liquidation modes.

Instrument of ``venues.spec()``: tick 1 USDT, lot 0.001 BTC (1 tick·lot = 1,000 atoms), MMR
0.5 %, liquidation fee 1 %, no trading fees. Amounts below are in atoms (1 USDT = 10^6).
"""
from __future__ import annotations

import numpy as np
import pytest

from exchange.errors import ConfigError
from exchange.instruments import make_tiers
from exchange.liquidation import MarketModule
from tests.exchange.liquidation.venues import USDT, Venue, spec


def test_a_long_closed_above_bankruptcy_pays_the_fee_only_down_to_zero():
    # long 10 lots (0.01 BTC) at 50,000, 10x isolated: margin 50 USDT, bankruptcy 45,000
    v = Venue()
    (a,) = v.isolated([10], [10], 50_000)
    v.bid(10, 45_150)
    v.engine_for(["market"])
    s = v.mark(45_200)
    # sold 10 @ 45,150: realised (45,150 − 50,000)·10·1,000 = −48.5 USDT leaves 1.5 USDT; the
    # 1 % fee (4.515 USDT) is capped at what is left, so the account ends at zero, no bad debt
    assert (s.triggered, s.closed_lots, s.closed_notional_atoms, s.fees_atoms) == \
        (1, 10, 451_500_000, 1_500_000)
    assert s.bad_debt_atoms == 0 and v.core.bad_debt == 0
    assert v.core.insurance == 1_500_000
    assert (v.size(a), v.iso(a), v.wallet(a)) == (0, 0, 0)
    liq = v.journal.of("PositionLiquidated")
    assert liq[["acct", "price", "qty", "a1", "a2", "a3", "flag"]].tolist() == \
        [(a, 45_150, 10, 451_500_000, 1_500_000, 0, 1)]
    assert v.journal.of("BadDebtBooked").size == 0


def test_a_fill_below_bankruptcy_charges_no_fee_and_books_its_deficit_without_a_fund():
    v = Venue()
    (a,) = v.isolated([10], [10], 50_000)
    v.bid(10, 44_000)
    v.engine_for(["market"], {"market": {"close_price_limit": "none"}})
    s = v.mark(45_200)
    # sold @ 44,000: 50 − 60 = −10 USDT; no fee; the deficit is bad debt
    assert s.fees_atoms == 0 and v.core.insurance == 0
    assert s.bad_debt_atoms == 10 * USDT and v.core.bad_debt == -10 * USDT
    assert v.journal.of("BadDebtBooked")[["acct", "a1", "a2"]].tolist() == [(a, 10 * USDT, -10 * USDT)]


def test_the_limit_is_the_bankruptcy_price_so_lower_bids_are_not_hit():
    v = Venue()
    (a,) = v.isolated([10], [10], 50_000)
    v.bid(10, 44_999)                                   # one tick below bankruptcy (45,000)
    v.engine_for(["market"])
    s = v.mark(45_200)
    assert s.closed_lots == 0 and s.pending == 1 and v.size(a) == 10
    accepted = v.journal.of("OrderAccepted")
    assert accepted["price"].tolist() == [45_000]       # the IOC's limit


def test_fee_in_limit_leaves_the_fee_covered():
    # limit ceil(450 USDT / (10 lots · 1,000 · 99 %)) = 45,455 ticks
    v = Venue()
    (a,) = v.isolated([10], [10], 50_000)
    v.bid(10, 45_500)
    v.engine_for(["market"], {"market": {"fee_in_limit": True}})
    s = v.mark(45_200)
    assert v.journal.of("OrderAccepted")["price"].tolist() == [45_455]
    # sold @ 45,500: realised −45 USDT, fee 4.55 USDT: 0.45 USDT stays with the trader
    assert s.closed_lots == 10 and s.bad_debt_atoms == 0
    assert v.wallet(a) == 450_000


def test_tier_step_down_closes_to_the_lower_tier_and_stops_when_compliant():
    # tiers: 0.4 % below 50,000 USDT, 0.5 % (cum 50 USDT) above
    s_ = spec(tiers=make_tiers([(0, 400_000, 125), (50_000 * USDT, 500_000, 100)]))
    v = Venue([s_])
    (a,) = v.isolated([1_200], [20], 50_000)            # 1.2 BTC, 60,000 USDT, margin 3,000
    v.bid(150, 49_000)
    v.engine_for(["market"], {"market": {"partial": "tier_step_down"}})
    s = v.mark(47_600)
    # at 47,600 the notional 57,120 USDT is in tier 1; keeping 1,050 lots (49,980 USDT) is
    # tier 0: one IOC for 150 lots, filled @ 49,000
    assert s.closed_lots == 150 and v.size(a) == 1_050
    # realised −150 USDT, fee 73.5 USDT, released margin back in the bucket:
    # bucket 3,000 − 150 − 73.5 = 2,776.5 USDT; equity 2,776.5 − 2,520 = 256.5 ≥ MM 199.92
    assert v.iso(a) == 2_776_500_000
    assert s.completed == 1 and s.pending == 0
    done = v.journal.of("LiquidationCompleted")
    assert done[["acct", "qty", "a1", "flag"]].tolist() == [(a, 1_050, 256_500_000, 1)]
    assert v.core.arrays()["acct_flags"][a] == 0


def test_tier_step_down_that_does_not_restore_compliance_closes_the_rest():
    s_ = spec(tiers=make_tiers([(0, 400_000, 125), (50_000 * USDT, 500_000, 100)]))
    v = Venue([s_])
    (a,) = v.isolated([1_200], [20], 50_000)
    v.bid(150, 47_650)
    v.bid(1_050, 47_560)
    v.engine_for(["market"], {"market": {"partial": "tier_step_down"}})
    s = v.mark(47_600)
    assert [int(x) for x in v.journal.of("PositionLiquidated")["qty"]] == [150, 1_050]
    assert v.size(a) == 0 and s.closed_lots == 1_200


def test_hyperliquid_fraction_then_full_size_during_the_cooldown():
    v = Venue()
    (a,) = v.isolated([10], [20], 50_000)               # 500 USDT, margin 25 USDT
    v.bid(10, 47_650)
    v.engine_for(["market"], {"market": dict(
        close_order="market", close_price_limit="none", partial="fraction",
        fraction_rate=20_000_000, threshold_notional_atoms=200 * USDT, cooldown_ms=30_000)})
    t0 = 10**12
    s = v.mark(47_700, ts_ns=t0)
    # 20 % of 10 lots = 2 lots @ 47,650; the rest (8 lots, equity 0.947 < MM 1.908 USDT) waits
    assert s.closed_lots == 2 and s.pending == 1 and v.size(a) == 8
    assert v.iso(a) == 19_347_000
    # 10 s later, inside the 30 s cooldown: full size
    s = v.step(t0 + 10 * 10**9)
    assert s.closed_lots == 8 and v.size(a) == 0
    # 0.547 USDT left in the bucket: the 3.812 USDT fee is capped at it, no bad debt
    assert s.bad_debt_atoms == 0 and s.fees_atoms == 547_000


def test_hyperliquid_partial_that_fills_nothing_passes_down():
    v = Venue()
    (a,) = v.isolated([10], [20], 50_000)
    v.engine_for(["market", "insurance"], {"market": dict(
        close_order="market", close_price_limit="none", partial="fraction",
        fraction_rate=20_000_000, threshold_notional_atoms=200 * USDT, cooldown_ms=30_000),
        "insurance": {"unwind": False, "cover_open": False}})
    s = v.mark(47_700)
    assert s.closed_lots == 0 and s.pending == 1


def test_dydx_per_block_closes_a_tenth_per_block():
    v = Venue()
    (a,) = v.isolated([100], [20], 50_000)              # 5,000 USDT, margin 250 USDT
    v.bid(100, 47_650)
    v.engine_for(["market"], {"market": dict(
        close_price_limit="none", partial="per_block", fraction_rate=10_000_000,
        min_notional_atoms=100 * USDT, max_notional_per_step_atoms=1_000 * USDT, step_ms=1_000)})
    t0 = 10**12
    s = v.mark(47_700, ts_ns=t0)
    assert s.closed_lots == 10 and v.size(a) == 90 and s.pending == 1
    s = v.step(t0 + 500_000_000)                         # same block: nothing
    assert s.closed_lots == 0
    s = v.step(t0 + 1_500_000_000)                       # next block: 10 % of 90 = 9 lots
    assert s.closed_lots == 9 and v.size(a) == 81


def test_dydx_per_block_caps_the_notional_per_account():
    v = Venue()
    (a,) = v.isolated([1_000], [20], 50_000)            # 50,000 USDT
    v.bid(1_000, 47_650)
    v.engine_for(["market"], {"market": dict(
        close_price_limit="none", partial="per_block", fraction_rate=10_000_000,
        max_notional_per_step_atoms=1_000 * USDT, step_ms=1_000)})
    s = v.mark(47_700)
    # 10 % would be 100 lots (4,770 USDT); the block allows 1,000 USDT: 20 lots
    assert s.closed_lots == 20


def test_fill_or_kill_trades_all_or_nothing():
    v = Venue()
    (a,) = v.isolated([10], [10], 50_000)
    v.bid(9, 45_150)
    v.engine_for(["market"], {"market": {"close_order": "fok"}})
    s = v.mark(45_200)
    assert s.closed_lots == 0 and v.size(a) == 10
    assert v.journal.of("OrderRejected")["code"].tolist() == [3002]


def test_market_order_bounded_by_the_slippage_rate():
    v = Venue()
    (a,) = v.isolated([10], [10], 50_000)
    v.bid(5, 44_000)
    v.bid(5, 40_000)
    v.engine_for(["market"], {"market": dict(close_price_limit="none", slippage_rate=5_000_000)})
    s = v.mark(45_200)
    # limit floor(45,200 · 95 %) = 42,940: only the 44,000 bid trades
    assert s.closed_lots == 5 and v.size(a) == 5


def test_oracle_fee_limit_uses_the_index_price():
    v = Venue()
    (a,) = v.isolated([10], [10], 50_000)
    v.core.set_mark(0, 45_300, 45_200)                    # mark 45,300, index 45,200
    v.bid(10, 44_300)
    v.engine_for(["market"], {"market": dict(close_price_limit="oracle_fee",
                                             liquidator_fee_rate=2_000_000)})
    v.mark(45_200)
    # ceil(45,200 · (1 − 2 %)) = 44,296
    assert v.journal.of("OrderAccepted")["price"].tolist() == [44_296]
    assert v.size(a) == 0


def test_dydx_fillable_limit_lies_between_mark_and_bankruptcy():
    v = Venue()
    (a,) = v.isolated([10], [10], 50_000)
    v.engine_for(["market"], {"market": {"close_price_limit": "dydx_fillable"}})
    v.mark(45_200)
    (limit,) = v.journal.of("OrderAccepted")["price"].tolist()
    # TNC 2 USDT, TMMR 2.26 USDT: ABR = 1 − 2/2.26; fill = 45,200 − ABR·1.5·2.26 USDT / 0.01
    abr = 1 - 2 / 2.26
    assert limit == int(np.ceil(45_200 - abr * 1.5 * 2.26e6 / 10_000))
    assert 45_000 < limit < 45_200


def test_the_accounts_orders_are_cancelled_first():
    v = Venue()
    (a,) = v.isolated([10], [10], 50_000, extra=100 * USDT)
    oid = v.ask(3, 60_000, acct=a)
    v.engine_for(["market"])
    v.mark(45_200)
    cancels = v.journal.of("OrderCanceled")
    assert (oid, 3) in [(int(o), int(c)) for o, c in zip(cancels["oid"], cancels["code"])]
    assert oid not in v.core.book(0)


def test_bad_parameters_name_the_field():
    with pytest.raises(ConfigError, match="'partial' must be one of"):
        MarketModule(partial="sometimes")
    with pytest.raises(ConfigError, match="'fraction_rate' must be > 0 when partial is 'fraction'"):
        MarketModule(partial="fraction")
