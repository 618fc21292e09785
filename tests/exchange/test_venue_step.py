"""Exchange.step: the venue's one clock step, in its documented order, conserving money."""
from __future__ import annotations

import hypothesis.strategies as st
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

from exchange.errors import InvalidCommandError
from exchange.oracle import fair_price_ticks
from exchange.venue import Exchange, Order

NS = 1_000_000_000
HOUR = 3600 * NS


def _venue(preset="binance_usdm", **kw):
    ex = Exchange.from_preset(preset, **kw)
    sym = ex.symbols[0]
    ex.step(0, {sym: 50_000.0})
    return ex, sym


def test_the_step_runs_trigger_then_liquidation_then_funding_in_that_order():
    ex, sym = _venue()
    mm = ex.open_account(deposit="10000000")
    longer = ex.open_account(deposit="560")            # 0.1 BTC at 10x, cross: liquidated near 44.6k
    stopper = ex.open_account(deposit="100000")
    ex.set_leverage(longer, sym, 10)
    ex.submit(mm, Order.limit(sym, "SELL", "1", "50000"))
    ex.submit(longer, Order.market(sym, "BUY", "0.1"))
    ex.submit(mm, Order.limit(sym, "BUY", "2", "44000"))
    ex.submit(stopper, Order.stop_market(sym, "SELL", "0.01", "46000", working_type="MARK_PRICE"))
    # one step at the funding time that gaps the mark through the stop and the liquidation price
    events = ex.step(8 * HOUR, {sym: 44_500.0})
    names = [e.name for e in events]
    assert names.index("MarkPriceUpdated") < names.index("ConditionalOrderTriggered") \
        < names.index("LiquidationTriggered") < names.index("FundingSettled")
    ex.check_invariants()


def test_bitmex_marks_with_the_rate_fixed_for_the_next_funding_timestamp():
    """BitMEX fixes the funding rate one interval ahead; its fair price uses that fixed rate,
    not the running estimate of the period being sampled."""
    ex, sym = _venue("bitmex")
    tl = ex.timelines[0]
    mm = ex.open_account(deposit="10000000")
    # a book well above the index: the running premium estimate is strongly positive
    ex.submit(mm, Order.limit(sym, "BUY", "5", "50500"))
    ex.submit(mm, Order.limit(sym, "SELL", "5", "50600"))
    for t in range(60, 3600, 60):
        ex.step(t * NS, {sym: 50_000.0})
    fixed = tl.funding.fixed_ahead[0].rate
    assert tl.estimate_rate != fixed
    ts = 3600 * NS
    ex.step(ts, {sym: 50_000.0})
    spec = ex.specs[0]
    idx = spec.price_to_ticks(50_000)
    want = fair_price_ticks(idx, tl.funding.fixed_ahead[0].rate,
                            tl.funding.next_settlement_ns - ts, tl.funding.interval_ns)
    assert int(ex.core.arrays()["mark"][0]) == want


def test_a_funding_override_is_settled_and_reset():
    ex, sym = _venue()
    mm, t = ex.open_account(deposit="1000000"), ex.open_account(deposit="100000")
    ex.submit(mm, Order.limit(sym, "SELL", "1", "50000"))
    ex.submit(t, Order.market(sym, "BUY", "1"))
    ex.set_funding_override(sym, 100_000)              # 0.1 % per interval, longs pay
    [paid] = [e for e in ex.step(8 * HOUR, {sym: 50_000.0}) if e.name == "FundingPaid"
              and e.account == t]
    assert paid.rate == 100_000 and paid.payment_atoms > 0
    ex.set_funding_override(sym, None)
    with pytest.raises(InvalidCommandError, match="'rate'"):
        ex.set_funding_override(sym, 0.5)
    ex.check_invariants()


def test_step_refuses_time_going_back_and_wrong_source_counts():
    ex, sym = _venue()
    ex.step(5 * NS, {sym: 50_000.0})
    with pytest.raises(InvalidCommandError, match="'now_ns' must be >= the venue clock"):
        ex.step(4 * NS, {sym: 50_000.0})
    with pytest.raises(InvalidCommandError, match="'now_ns' must be an int"):
        ex.step(6.5, {sym: 50_000.0})
    ex2 = Exchange.from_preset("binance_usdm")
    ex2.configure_oracle("BTCUSDT", sources=3)
    with pytest.raises(ValueError, match="3 prices"):
        ex2.step(0, {"BTCUSDT": [50_000.0, 50_010.0]})


def test_the_core_arrays_are_read_only_views():
    ex, _ = _venue()
    a = ex.open_account(deposit="100")
    arr = ex.core.arrays()
    with pytest.raises(ValueError):
        arr["wallet"][a] += 1
    assert int(arr["wallet"][a]) == 100 * 10**6


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(preset=st.sampled_from(["binance_usdm", "bybit_linear", "bitmex", "hyperliquid",
                               "dydx_v4", "drift"]),
       moves=st.lists(st.tuples(st.integers(1, 4 * 3600), st.floats(-0.12, 0.12),
                                st.integers(0, 3), st.sampled_from(["BUY", "SELL"])),
                      min_size=3, max_size=25))
def test_money_is_conserved_after_every_step(preset, moves):
    """Random crowds, price paths with gaps and clock steps across funding settlements: the
    conservation identity (and every book / engine invariant) holds after every step."""
    ex = Exchange.from_preset(preset)
    sym = ex.symbols[0]
    spec = ex.specs[0]
    price = 50_000.0
    ex.step(0, {sym: price})
    mm = ex.open_account(deposit="50000000")
    traders = [ex.open_account(deposit=d) for d in ("800", "2000", "5000", "20000")]
    for i, a in enumerate(traders):
        ex.set_leverage(a, sym, (5, 10, 20, 25)[i])
    now = 0
    for dt, move, who, side in moves:
        now += dt * NS
        price = max(1_000.0, price * (1 + move))
        p = round(price / float(spec.tick_size))           # ticks
        ex.cancel_all(mm, sym)
        for k in range(1, 4):
            ex.submit(mm, Order.limit(sym, "BUY", "0.5", spec.ticks_to_price(int(p * (1 - 0.001 * k)))))
            ex.submit(mm, Order.limit(sym, "SELL", "0.5", spec.ticks_to_price(int(p * (1 + 0.001 * k)) + 1)))
        ex.submit(traders[who], Order.market(sym, side, "0.05"))
        ex.step(now, {sym: price}, events=False)
        ex.check_invariants()
        assert ex.core.conservation_gap() == 0
    assert np.all(ex.core.arrays()["size"].sum(axis=1) == 0)


def test_dydx_runs_clamp_premium_votes_and_the_8h_rate_from_the_instruments_margins():
    """A run's funding rule is the preset's, built with the instrument's base tier: dYdX
    Large-Cap IMF 2 % / MMF 1.2 % -> premium votes within ±60·0.8 % = 48 % and the 8 h rate
    within ±6·0.8 % = 4.8 %, i.e. 0.6 % per hourly accrual; BitMEX 1 % / 0.5 % -> ±0.375 %.
    Runs used not to clamp dYdX votes. A book 80 % over the index for the first 5 minutes,
    then 6 % under it: votes 48 % then -6 % -> hourly mean (5·48 − 55·6)/60 = -1.5 % ->
    hourly accrual -1.5 %/8 = -187,500 per 1e8 (unclamped votes would give (5·80 − 55·6)/60 =
    +1.1667 % and the opposite sign). A book 80 % over all hour: 48 % -> clamped to 4.8 % per
    8 h -> 600,000."""
    for minutes_rich, want in ((5, -187_500), (60, 600_000)):
        ex, sym = _venue("dydx_v4")
        tl = ex.timelines[0]
        assert (tl.sampler.vote_clamp, tl.rule.margin_cap, tl.rule.max_rate()) == \
            (48_000_000, 4_800_000, 600_000)
        mm = ex.open_account(deposit="100000000")
        ex.submit(mm, Order.limit(sym, "BUY", "5", "90000"))      # impact bid 80 % over 50,000
        ex.submit(mm, Order.limit(sym, "SELL", "5", "90010"))
        settled = []
        for t in range(1, 3601):
            if t == 60 * minutes_rich + 1:
                ex.cancel_all(mm, sym)
                ex.submit(mm, Order.limit(sym, "BUY", "5", "46990"))
                ex.submit(mm, Order.limit(sym, "SELL", "5", "47000"))   # impact ask 6 % under
            settled += [e for e in ex.step(t * NS, {sym: 50_000.0}) if e.name == "FundingSettled"]
        assert [e.rate for e in settled] == [want]
        ex.check_invariants()
    bitmex, _ = _venue("bitmex")
    assert bitmex.timelines[0].rule.max_rate() == 375_000
