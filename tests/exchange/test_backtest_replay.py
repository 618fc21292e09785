"""Replay mode: strategies on the recorded fixtures (Tardis layout) through the venue's own
mark, funding, tiers and liquidation waterfall; the queue model; the book a strategy moves."""
from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest

from exchange.data import load
from exchange.data.feed import ReplayFeed
from exchange.presets import load_preset
from exchange.sim.backtest import run_stats
from exchange.sim.replay import RecordedBook, Replay
from exchange.sim.runner import journal_digest
from exchange.strategies import BUILTIN, FixedLeverage, FundingCarry
from exchange.sim.strategy import Strategy
from exchange.venue import Exchange, Order

FIX = Path(__file__).parents[1] / "data" / "fixtures"
S = 1_000_000_000
T0 = 1_704_094_800 * S                  # 07:40 UTC; funding at 08:00 (+20 min); crash at +30 min
CRASH = T0 + 30 * 60 * S


@pytest.fixture(scope="module")
def feed():
    t = FIX / "tardis"
    spec = load_preset("binance_usdm").instruments["BTCUSDT"]
    return ReplayFeed.from_tables(load([
        t / "binance-futures_incremental_book_L2_2024-01-01_BTCUSDT.csv.gz",
        t / "binance-futures_trades_2024-01-01_BTCUSDT.csv.gz",
        t / "binance-futures_trades_2024-01-02_BTCUSDT.csv.gz",
        t / "binance-futures_derivative_ticker_2024-01-01_BTCUSDT.csv.gz"]), spec)


def _run(feed, strategy, start_min, end_min, **kw):
    rep = Replay(feed.window(T0 + start_min * 60 * S, T0 + end_min * 60 * S),
                 [("s", strategy)], check=kw.pop("check", "sync"), **kw)
    res = rep.run()
    s = res.strategies["s"]
    stats = run_stats(s["series"], res.journal, s["account"], s["deposit_atoms"], 6)
    return rep, res, stats


def test_twenty_x_long_through_the_recorded_crash_is_liquidated(feed):
    strat = FixedLeverage(target_leverage=20.0, leverage=25)
    rep, res, stats = _run(feed, strat, 27, 33)
    assert stats["liquidations"] >= 1 and strat.liquidations >= 1
    j = res.journal
    acct = res.strategies["s"]["account"]
    trig = j[(j["kind"] == 100) & (j["acct"] == acct)]
    # by the venue's own mark, during the crash (08:10–08:11), not before it
    assert CRASH < int(trig["ts"][0]) < CRASH + 60 * S
    assert stats["return"] < -0.5


def test_a_venue_held_stop_loss_closes_the_long_before_liquidation(feed):
    strat = FixedLeverage(target_leverage=20.0, leverage=25, stop_loss_pct=2.0, cooldown_ticks=-1)
    rep, res, stats = _run(feed, strat, 27, 33)
    assert strat.stops_fired >= 1
    assert stats["liquidations"] == 0
    assert -0.75 < stats["return"] < -0.2          # ≈ 20 × 2 % + slippage and fees, not all


def test_risk_per_trade_sizes_the_position_from_the_stop(feed):
    strat = FixedLeverage(target_leverage=20.0, stop_loss_pct=2.0, risk_per_trade=0.01)
    rep, res, stats = _run(feed, strat, 5, 8)
    # 1 % of equity at a 2 % stop: notional 0.5 × equity
    assert 0.4 < stats["mean_leverage"] < 0.55 and stats["max_leverage"] < 0.6


def test_carry_short_earns_the_venues_positive_funding(feed):
    carry = FundingCarry(target_leverage=2.0)
    rep, res, stats = _run(feed, carry, 15, 25)
    settled = res.comparison["venue_funding"]
    assert len(settled) == 1 and int(settled[0, 0]) == T0 + 20 * 60 * S and int(settled[0, 1]) > 0
    assert stats["funding_received"] > 0 and stats["funding_paid"] == 0
    # the recorded rate for 08:00 is there to compare with the venue's own
    rec = res.comparison["recorded_funding"]
    assert rec[0, 1] == pytest.approx(0.00018)
    long = FixedLeverage(target_leverage=2.0)
    _, _, lstats = _run(feed, long, 15, 25)
    assert lstats["funding_paid"] > 0 and lstats["funding_received"] == 0


class _BuyOnce(Strategy):
    qty = "8"
    deposit = "1000000"
    leverage = 5

    def on_start(self, api):
        self.before = self.after = None
        self.fills = []
        self.sent = False

    def on_tick(self, api):
        if not self.sent and api.best_ask is not None:
            self.before = (api.best_ask, api.depth(3))
            api.market("BUY", self.qty)
            self.sent = True

    def on_fill(self, api, fill):
        self.fills.append(fill)
        self.after = api.best_ask


def test_a_strategys_market_order_walks_and_moves_the_replayed_book(feed):
    strat = _BuyOnce()
    rep, res, stats = _run(feed, strat, 5, 6)
    ask0, depth0 = strat.before
    prices = sorted({f.price for f in strat.fills})
    top_qty = depth0.asks[0][1]
    assert top_qty < 8
    assert len(prices) >= 3                              # walked several recorded levels
    assert prices[0] == ask0 and strat.after >= prices[-1] > prices[-2]   # and took them out
    assert sum(f.qty for f in strat.fills) == Decimal(8)
    assert [p for p, _ in depth0.asks] == prices[:3]


def test_replay_conserves_money_after_every_sync_and_is_deterministic(feed):
    a = _run(feed, FixedLeverage(target_leverage=5.0), 28, 31)[1]   # check="sync"
    b = _run(feed, FixedLeverage(target_leverage=5.0), 28, 31)[1]
    assert journal_digest(a.journal) == journal_digest(b.journal)
    assert a.stats["book_commands"] > 0 and a.stats["tape_orders"] > 0


@pytest.mark.parametrize("name", sorted(BUILTIN))
def test_every_library_strategy_replays_with_invariants(feed, name):
    cls, params = BUILTIN[name]
    strat = cls(**params, stop_loss_pct=3.0, take_profit_pct=4.0, trailing_pct=1.0)
    rep, res, stats = _run(feed, strat, 28, 32, check="end")
    assert len(res.strategies["s"]["series"]["ts"]) >= 200
    assert np.isfinite([stats[k] for k in stats]).all()


# -- the queue model on a bare venue ---------------------------------------------------------

def _venue():
    ex = Exchange.from_preset("binance_usdm")
    maker, taker, me = (ex.open_account(deposit=d) for d in ("100000000", "100000000", "1000000"))
    ex.set_mark("BTCUSDT", "42000")
    rb = RecordedBook(ex, 0, maker, taker)
    return ex, rb, me


def test_strategy_joins_behind_recorded_depth_and_fills_only_after_it_trades():
    ex, rb, me = _venue()
    p = 420_000                                            # 42000.0 in ticks of 0.1
    rb.set_level(0, p, 5_000)                              # 5 BTC recorded
    mine = [e for e in ex.submit(me, Order.limit("BTCUSDT", "BUY", "1", "42000"))
            if e.name == "OrderAccepted"][0].order_id
    book = ex.book("BTCUSDT")
    assert book.queue_position(mine) == 5_000
    rb.set_level(0, p, 8_000)                              # more depth joins behind me
    assert book.queue_position(mine) == 5_000
    rb.set_level(0, p, 5_000)                              # a decrease: taken from behind me
    assert book.queue_position(mine) == 5_000
    rb.set_level(0, p, 3_000)                              # below the depth ahead: I move up
    assert book.queue_position(mine) == 3_000
    rb.trade(np.array([1], np.int8), np.array([p]), np.array([2_000]))   # a seller takes 2 BTC
    assert book.queue_position(mine) == 1_000 and ex.position(me, "BTCUSDT").size == 0
    rb.trade(np.array([1], np.int8), np.array([p]), np.array([1_500]))
    assert ex.position(me, "BTCUSDT").size == Decimal("0.5")             # the rest reached me
    ex.check_invariants()
    arr = ex.core.arrays()
    assert int(arr["size"][0, rb.taker]) == 0             # the tape stays flat


def test_recorded_bid_reaching_the_strategys_ask_trades_with_it():
    ex, rb, me = _venue()
    ex.submit(me, Order.limit("BTCUSDT", "SELL", "1", "42001"))
    rb.set_level(0, 420_010, 3_000)                        # someone recorded bids 42001
    assert ex.position(me, "BTCUSDT").size == Decimal(-1)
    assert rb.level(0, 420_010) == 2_000
    ex.check_invariants()


def test_compiled_and_readable_reconciliation_make_the_same_journal(feed):
    window = feed.window(T0 + 29 * 60 * S, T0 + 31 * 60 * S)
    runs = []
    for compiled in (True, False):
        rep = Replay(window, [("s", FixedLeverage(target_leverage=10.0, stop_loss_pct=2.0))],
                     compiled=compiled)
        runs.append(rep.run())
    assert journal_digest(runs[0].journal) == journal_digest(runs[1].journal)
    assert runs[0].stats["book_commands"] == runs[1].stats["book_commands"] > 0
