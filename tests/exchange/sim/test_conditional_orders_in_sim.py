"""Conditional orders fire inside a simulation: the venue owns its clock step, so the mark the
oracle moves and the last price the agents trade reach its trigger book (stop, take-profit,
trailing stop; on MARK_PRICE and CONTRACT_PRICE), placed directly on the venue, through the
strategy API and (tests/exchange/server) through ccxt's Algo Order API against ScenarioDriver."""
from __future__ import annotations

from decimal import Decimal

import numpy as np

from exchange import events as ev_mod
from exchange.sim.clock import PRIO_AGENT
from exchange.sim.runner import run
from exchange.sim.strategy import Strategy, run_strategy
from exchange.venue import Order

NS = 1_000_000_000
SMALL = {"population.noise.count": 60, "population.directional.count": 120}


def _orders_at_60s(placed: dict):
    """prepare(sim): at t = 60 s a fresh account places one of each conditional order, on
    the mark and on the last price, around the prices of the moment."""
    def prepare(sim):
        def place(ts):
            ex = sim.ex
            acct = ex.open_account(deposit="200000")
            ex.set_leverage(acct, sim.sc.symbol, 10)
            arr = sim.core.arrays()
            spec = sim.spec
            for wt, key in (("MARK_PRICE", "mark"), ("CONTRACT_PRICE", "last")):
                ref = spec.ticks_to_price(int(arr[key][sim.instr]))
                down = (ref * Decimal("0.98")).quantize(spec.tick_size)
                specs = {
                    "stop": Order.stop_market(sim.sc.symbol, "SELL", "0.01", down, working_type=wt),
                    "take_profit": Order.take_profit_market(sim.sc.symbol, "BUY", "0.01", down,
                                                            working_type=wt),
                    "trailing": Order.trailing_stop(sim.sc.symbol, "SELL", "0.01", "1.0",
                                                    working_type=wt),
                }
                for name, order in specs.items():
                    [e] = ex.submit(acct, order)
                    assert e.name == "ConditionalOrderAccepted", e
                    placed[(name, wt)] = e.order_id
            placed["account"] = acct
        sim.clock.schedule(60 * NS, PRIO_AGENT, place)
    return prepare


def test_stops_take_profits_and_trailing_stops_fire_in_a_flash_crash():
    placed: dict = {}
    r = run("flash_crash", seed=3, report=False, overrides=SMALL, check="step",
            prepare=_orders_at_60s(placed))
    events = ev_mod.materialize(r.journal)
    triggered = {e.order_id: e for e in events if e.name == "ConditionalOrderTriggered"}
    mine = [e for e in events if getattr(e, "account", None) == placed["account"]]
    for key, oid in placed.items():
        if key == "account":
            continue
        assert oid in triggered, f"{key} never fired"
        child = triggered[oid].child_order_id
        # the child market order reached the book: it filled, or (a last-price stop in the
        # gap's empty book) its unfilled rest expired as an IOC does
        outcome = {e.name for e in mine if getattr(e, "order_id", None) == child}
        assert "OrderAccepted" in outcome and outcome & {"OrderFilled", "OrderCanceled"}, (key, outcome)
    assert sum(1 for e in mine if e.name == "OrderFilled") >= 5
    # each fired after the crash took the price 2 % below where it was placed (t = 360 s gap)
    for (_name, _wt), oid in ((k, v) for k, v in placed.items() if k != "account"):
        assert triggered[oid].ts_ns >= 60 * NS


class _Guarded(Strategy):
    """Opens a long, then protects it: a mark-price stop and a last-price trailing stop;
    and a last-price take-profit buy below the market."""

    deposit, leverage, interval_ms, latency_ms = "50000", 5, 1000.0, 20.0

    def on_start(self, api):
        self.updates, self.fills, self.ids = [], [], {}

    def on_tick(self, api):
        if "entry" not in self.ids and api.mark is not None and api.best_ask:
            self.ids["entry"] = api.market("BUY", "0.02")

    def on_fill(self, api, fill):
        self.fills.append(fill)
        if fill.order_id == self.ids.get("entry") and "stop" not in self.ids:
            m = api.mark
            self.ids["stop"] = api.stop_market("SELL", "0.01", api.round_price(m * Decimal("0.98")),
                                               working_type="MARK_PRICE", reduce_only=True)
            self.ids["trail"] = api.trailing_stop("SELL", "0.01", "1.5", reduce_only=True)
            self.ids["tp"] = api.take_profit_market("BUY", "0.01",
                                                    api.round_price(m * Decimal("0.97")))

    def on_order(self, api, update):
        self.updates.append(update)


def test_conditional_orders_of_a_strategy_fire_and_report_back():
    strat = _Guarded()
    run_strategy(strat, "flash_crash", seed=1, overrides=SMALL, report=False, check="step")
    ids = strat.ids
    assert {"stop", "trail", "tp"} <= set(ids)
    status: dict = {}
    for u in strat.updates:
        status.setdefault(u.order_id, []).append(u.status)
    for name in ("stop", "trail", "tp"):
        assert "accepted" in status[ids[name]], (name, status.get(ids[name]))
        assert "triggered" in status[ids[name]], (name, status.get(ids[name]))
        # the child market order filled, or (fired in the gap's vacuum, where no bid rests
        # near the price) its rest expired as an IOC does — either way reported back
        filled = any(f.order_id == ids[name] for f in strat.fills)
        assert filled or "expired" in status[ids[name]], f"{name}: no fill or expiry reported"
    assert sum(1 for f in strat.fills if f.order_id in (ids["stop"], ids["trail"], ids["tp"])) >= 2


def test_a_stale_oracle_freezes_the_trigger_book_on_the_mark():
    """No mark is published while the oracle is stale, so a mark-price stop cannot fire then;
    the venue's mark stays where the last live reading put it."""
    from exchange.venue import Exchange

    ex = Exchange.from_preset("binance_usdm")
    ex.configure_oracle("BTCUSDT", sources=1, staleness_ns=5 * NS, stale_limit_ns=5 * NS)
    ex.step(0, {"BTCUSDT": 50_000.0})
    mm, t = ex.open_account(deposit="1000000"), ex.open_account(deposit="100000")
    ex.submit(mm, Order.limit("BTCUSDT", "BUY", "1", "47900"))
    [e] = ex.submit(t, Order.stop_market("BTCUSDT", "SELL", "0.01", "49000", working_type="MARK_PRICE"))
    for s in range(1, 12):
        ex.step(s * NS, {"BTCUSDT": None})          # the sources go silent
    assert ex.timelines[0].stale
    assert [o["order_id"] for o in ex.open_orders(t)] == [e.order_id]
    fired = ex.step(12 * NS, {"BTCUSDT": 48_000.0})
    assert "ConditionalOrderTriggered" in [x.name for x in fired]
    assert np.isclose(float(ex.position(t, "BTCUSDT").size), -0.01)
    ex.check_invariants()


class _Refused(Strategy):
    """Sends a stop that would fire at once (a SELL stop above the mark): the venue refuses it.
    At the first tick the venue's clock is behind the run's, so its answer is already due when
    it is recorded and reaches the strategy during the submit itself."""

    deposit, leverage, interval_ms, latency_ms = "50000", 5, 1000.0, 20.0
    at = Decimal("1.05")

    def on_start(self, api):
        self.updates, self.oid = [], None

    def on_tick(self, api):
        if self.oid is None and api.mark is not None:
            self.oid = api.stop_market("SELL", "0.01", api.round_price(api.mark * self.at),
                                       working_type="MARK_PRICE")

    def on_order(self, api, update):
        self.updates.append(update)


def test_a_conditional_order_the_venue_refuses_is_reported_rejected_with_its_reason():
    from exchange.codes import RejectReason

    strat = _Refused()
    run_strategy(strat, "flash_crash", seed=1, report=False,
                 overrides={**SMALL, "scenario.duration_s": 30})
    mine = [u for u in strat.updates if u.order_id == strat.oid]
    assert [(u.status, u.reason) for u in mine] == [("rejected", RejectReason.INVALID_TRIGGER)]


def test_a_conditional_order_accepted_at_the_first_tick_is_reported_accepted():
    strat = _Refused()
    strat.at = Decimal("0.9")                   # a SELL stop 10 % below: accepted, waits
    run_strategy(strat, "flash_crash", seed=1, report=False,
                 overrides={**SMALL, "scenario.duration_s": 30})
    assert [(u.order_id, u.status, u.detail) for u in strat.updates] == [
        (strat.oid, "accepted", "conditional")]
