"""The order-state projection (exchange.orderstate) against the venue it follows: scenarios of
each transition, and a property test that drives a real Exchange with random commands and
checks the projection against the venue's own open orders and the journal's fills."""
from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exchange import events as ev_mod
from exchange._enums import CancelReason, EventKind
from exchange.codes import RejectReason
from exchange.dtypes import EVENT_DTYPE
from exchange.orderstate import (CANCELED, EXPIRED, FILLED, NEW, PARTIALLY_FILLED, REJECTED,
                                 TRIGGERED, ExecType, Orders, OrderStatus, cancel_status)
from exchange.venue import Exchange, Order

SYM = "BTCUSDT"


class Follower:
    """An Exchange with two projections fed from its records: one through apply_row (the
    strategy's path), one through apply_event (the server's), plus the journal's fill sums."""

    def __init__(self, max_closed: int | None = 10_000, account: int | None = None) -> None:
        self.ex = Exchange.from_preset("binance_usdm")
        self.ex.set_mark(SYM, "50000")
        self.rows = Orders(account, max_closed=max_closed)
        self.events = Orders(account, max_closed=max_closed)
        self.seen: list[tuple[int, str, str]] = []
        self.rows.on_transition = lambda s: self.seen.append((s.order_id, s.exec_name,
                                                              s.status_name))
        self.fill_lots: dict[int, int] = {}
        self.fill_quote: dict[int, int] = {}
        self.ex.record_hooks.append(self._on_records)

    def _on_records(self, recs: np.ndarray) -> None:
        self.rows.apply_records(recs)
        events = ev_mod.materialize(recs)
        self.events.prelink_events(events)
        for e in events:
            self.events.apply_event(e)
            if e.KIND == EventKind.ORDER_FILLED:
                self.fill_lots[e.order_id] = self.fill_lots.get(e.order_id, 0) + e.qty_lots
                self.fill_quote[e.order_id] = (self.fill_quote.get(e.order_id, 0)
                                               + e.qty_lots * e.price_ticks)
        self.rows._check()
        self.events._check()

    def account(self) -> int:
        return self.ex.open_account(deposit="1000000")


def _same(a: Orders, b: Orders) -> None:
    """Two projections fed the same stream hold the same states."""
    for mine, theirs in ((a.open, b.open), (a.closed, b.closed)):
        assert list(mine) == list(theirs)
        for oid, s in mine.items():
            t = theirs[oid]
            assert [getattr(s, f) for f in s.FIELDS if f != "tag"] == \
                   [getattr(t, f) for f in t.FIELDS if f != "tag"], oid


@pytest.fixture
def f() -> Follower:
    return Follower()


def _oid(events, name="OrderAccepted") -> int:
    return next(e.order_id for e in events if e.name == name)


def test_resting_order_is_new_and_open_then_filled_in_two_trades(f):
    a, b = f.account(), f.account()
    oid = _oid(f.ex.submit(a, Order.limit(SYM, "SELL", "0.05", "50010")))
    s = f.rows.get(oid)
    assert (s.status, s.exec_type, s.orig_lots, s.price_ticks, s.is_open) == (NEW, ExecType.NEW, 50,
                                                                              500100, True)
    assert s.type_name == "LIMIT" and s.tif_name == "GTC" and s.side_name == "SELL"
    f.ex.submit(b, Order.market(SYM, "BUY", "0.02"))
    assert (s.status, s.filled_lots, s.open_lots, s.last_fill_lots) == (PARTIALLY_FILLED, 20, 30, 20)
    f.ex.submit(b, Order.market(SYM, "BUY", "0.03"))
    assert (s.status, s.filled_lots, s.open_lots, s.is_open) == (FILLED, 50, 0, False)
    assert s.cum_quote == 50 * 500100 and s.avg_price_ticks == 500100
    assert oid not in f.rows.open and f.rows.closed[oid] is s
    assert [x for x in f.seen if x[0] == oid] == [
        (oid, "NEW", "NEW"), (oid, "TRADE", "PARTIALLY_FILLED"), (oid, "TRADE", "FILLED")]
    _same(f.rows, f.events)


def test_market_order_remainder_the_book_cannot_fill_expires(f):
    a, b = f.account(), f.account()
    f.ex.submit(a, Order.limit(SYM, "SELL", "0.02", "50010"))
    ev = f.ex.submit(b, Order.market(SYM, "BUY", "0.05"))
    s = f.rows.get(_oid(ev))
    assert (s.status, s.exec_type, s.filled_lots, s.reason) == (EXPIRED, ExecType.EXPIRED, 20,
                                                                CancelReason.CANCEL_IOC)
    assert s.last_taker and s.type_name == "MARKET"


def test_user_cancel_is_canceled_and_a_second_cancel_moves_nothing(f):
    a = f.account()
    oid = _oid(f.ex.submit(a, Order.limit(SYM, "BUY", "0.01", "49990")))
    f.ex.cancel(a, oid)
    assert f.rows.get(oid).status == CANCELED and oid in f.rows.closed
    n = len(f.seen)
    f.ex.cancel(a, oid)                                  # refused by the venue: no transition
    assert len(f.seen) == n
    assert f.rows.canceled(0, oid, 0) is None


def test_amend_changes_price_and_original_quantity_after_a_partial_fill(f):
    a, b = f.account(), f.account()
    oid = _oid(f.ex.submit(a, Order.limit(SYM, "SELL", "0.05", "50010")))
    f.ex.submit(b, Order.market(SYM, "BUY", "0.02"))
    f.ex.amend(a, oid, qty="0.01", price="50020")
    s = f.rows.get(oid)
    assert (s.exec_type, s.price_ticks, s.filled_lots, s.orig_lots, s.open_lots) == (
        ExecType.AMENDMENT, 500200, 20, 30, 10)
    _same(f.rows, f.events)


def test_post_only_that_would_cross_is_a_closed_rejected_state(f):
    a, b = f.account(), f.account()
    f.ex.submit(a, Order.limit(SYM, "SELL", "0.01", "50010"))
    ev = f.ex.submit(b, Order.limit(SYM, "BUY", "0.01", "50010", tif="GTX"))
    (r,) = [e for e in ev if e.name == "OrderRejected"]
    s = f.rows.get(r.order_id)
    assert (s.status, s.exec_type, s.reason) == (REJECTED, ExecType.REJECTED,
                                                 RejectReason.POST_ONLY_WOULD_CROSS)
    assert r.order_id in f.rows.closed and not s.is_open


def test_stop_market_triggers_and_its_child_belongs_to_it_from_its_first_event(f):
    a, b = f.account(), f.account()
    f.ex.submit(b, Order.limit(SYM, "BUY", "0.10", "49000"))
    ev = f.ex.submit(a, Order.stop_market(SYM, "SELL", "0.03", "49500", working_type="MARK_PRICE"))
    pid = _oid(ev, "ConditionalOrderAccepted")
    p = f.rows.get(pid)
    assert (p.conditional, p.status, p.stop_ticks, p.orig_lots, p.type_name, p.working_mark) == (
        True, NEW, 495000, 30, "STOP_MARKET", True)
    f.ex.set_mark(SYM, "49400")
    assert (p.status, p.exec_type, p.triggered_ticks) == (TRIGGERED, ExecType.TRIGGERED, 494000)
    child = f.rows.get(p.child_id)
    assert child.parent_id == pid and child.type_name == "MARKET"
    assert (child.status, child.filled_lots) == (FILLED, 30)
    assert f.rows.root_id(p.child_id) == pid and f.rows.root_id(pid) == pid
    # the child's fills came before the trigger record: it was the parent's from its first one
    order = [(o, x) for o, x, _ in f.seen if o in (pid, p.child_id)]
    assert order == [(pid, "NEW"), (p.child_id, "NEW"), (p.child_id, "TRADE"), (pid, "TRIGGERED")]
    _same(f.rows, f.events)


def test_close_position_stop_without_a_position_expires_when_it_fires(f):
    a = f.account()
    ev = f.ex.submit(a, Order.stop_market(SYM, "SELL", None, "49500", close_position=True,
                                          working_type="MARK_PRICE"))
    p = f.rows.get(_oid(ev, "ConditionalOrderAccepted"))
    assert p.close_position and p.reduce_only and p.orig_lots == 0
    f.ex.set_mark(SYM, "49400")
    assert (p.status, p.exec_type, p.child_id) == (EXPIRED, ExecType.EXPIRED, 0)


def test_conditional_cancel_is_canceled(f):
    a = f.account()
    pid = _oid(f.ex.submit(a, Order.take_profit_market(SYM, "SELL", "0.01", "51000")),
               "ConditionalOrderAccepted")
    f.ex.cancel(a, pid)
    assert f.rows.get(pid).status == CANCELED and not f.rows.open


def test_a_liquidation_orders_cancel_expires_it():
    o = Orders()
    o.accepted(1, 3, 9, 0, 0, 100, 5, 0, 1, 1, 1)
    s = o.canceled(2, 9, CancelReason.CANCEL_USER)
    assert s.status == EXPIRED and s.liquidation and s.reduce_only
    assert cancel_status(CancelReason.CANCEL_USER) is OrderStatus.CANCELED
    assert cancel_status(CancelReason.CANCEL_STP) is OrderStatus.EXPIRED
    assert cancel_status(CancelReason.CANCEL_USER, liquidation=True) is OrderStatus.EXPIRED


def test_finished_orders_kept_are_bounded_oldest_first():
    o = Orders(max_closed=3)
    for oid in range(1, 8):
        o.accepted(oid, 0, oid, 0, 0, 100, 1, 0, 0, 0, 0)
        o.filled(oid, oid, 100, 1)
        o._check()
    assert list(o.closed) == [5, 6, 7] and not o.open and o.get(1) is None
    none = Orders(max_closed=0)
    none.accepted(1, 0, 1, 0, 0, 100, 1, 0, 0, 0, 0)
    none.filled(1, 1, 100, 1)
    assert not none.closed and not none.open
    with pytest.raises(ValueError, match="'max_closed' must be an integer >= 0 or None"):
        Orders(max_closed=-1)


def test_account_filter_keeps_one_accounts_orders():
    f = Follower(account=1)
    a, b = f.account(), f.account()
    assert (a, b) == (0, 1) or b == f.rows.account
    f.ex.submit(a, Order.limit(SYM, "SELL", "0.01", "50010"))
    oid = _oid(f.ex.submit(b, Order.limit(SYM, "BUY", "0.01", "49990")))
    assert list(f.rows.open) == [oid] and f.rows.open_orders(account=b)[0].order_id == oid
    _same(f.rows, f.events)


def test_events_of_other_kinds_and_unknown_orders_move_nothing():
    o = Orders()
    rec = np.zeros(1, EVENT_DTYPE)
    rec["kind"], rec["oid"], rec["qty"] = EventKind.FUNDING_PAID, 5, 3
    assert o.apply_records(rec) == []
    rec["kind"] = EventKind.ORDER_FILLED                 # a fill of an order never seen
    assert o.apply_records(rec) == [] and not o.open and not o.closed


def test_the_stamp_of_a_transition_can_be_the_consumers_clock(f):
    a = f.account()
    (e,) = f.ex.submit(a, Order.limit(SYM, "BUY", "0.01", "49990"))
    o = Orders()
    s = o.apply_event(e, ts_ns=1_700_000_000_123_000_000)
    assert s.ts_created_ns == s.ts_updated_ns == 1_700_000_000_123_000_000


# -- the property: the projection agrees with the venue ------------------------------------

_ticks = st.integers(499_900, 500_100)
_lots = st.integers(1, 6)
commands = st.lists(st.one_of(
    st.tuples(st.just("limit"), st.integers(0, 2), st.sampled_from(["BUY", "SELL"]), _lots, _ticks,
              st.sampled_from(["GTC", "GTC", "IOC", "FOK", "GTX"])),
    st.tuples(st.just("market"), st.integers(0, 2), st.sampled_from(["BUY", "SELL"]), _lots),
    st.tuples(st.just("cancel"), st.integers(0, 2), st.integers(0, 40)),
    st.tuples(st.just("amend"), st.integers(0, 2), st.integers(0, 40), _lots, _ticks),
    st.tuples(st.just("stop"), st.integers(0, 2), st.sampled_from(["BUY", "SELL"]), _lots,
              st.integers(499_000, 501_000), st.booleans()),
    st.tuples(st.just("mark"), st.integers(499_000, 501_000)),
), min_size=1, max_size=40)


def _lots_of(q: Decimal) -> int:
    return int(q / Decimal("0.001"))            # BTCUSDT's lot


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cmds=commands, max_closed=st.sampled_from([None, 5]))
def test_projection_agrees_with_the_venues_open_orders_and_the_journals_fills(cmds, max_closed):
    f = Follower(max_closed=max_closed)
    ex = f.ex
    accts = [f.account() for _ in range(3)]
    known: list[int] = []
    for c in cmds:
        kind, *args = c
        if kind == "limit":
            i, side, lots, ticks, tif = args
            ev = ex.submit(accts[i], Order.limit(SYM, side, Decimal(lots) / 100,
                                                 Decimal(ticks) / 10, tif=tif))
        elif kind == "market":
            i, side, lots = args
            ev = ex.submit(accts[i], Order.market(SYM, side, Decimal(lots) / 100))
        elif kind == "cancel":
            i, k = args
            ev = ex.cancel(accts[i], known[k % len(known)] if known else 1)
        elif kind == "amend":
            i, k, lots, ticks = args
            if not known:
                continue
            ev = ex.amend(accts[i], known[k % len(known)], qty=Decimal(lots) / 100,
                          price=Decimal(ticks) / 10)
        elif kind == "stop":
            i, side, lots, ticks, tp = args
            make = Order.take_profit_market if tp else Order.stop_market
            try:
                ev = ex.submit(accts[i], make(SYM, side, Decimal(lots) / 100, Decimal(ticks) / 10,
                                              working_type="MARK_PRICE"))
            except Exception:                              # noqa: BLE001 (a refused trigger)
                continue
        else:
            ev = ex.set_mark(SYM, Decimal(args[0]) / 10)
        known.extend(e.order_id for e in ev if e.name in ("OrderAccepted",
                                                          "ConditionalOrderAccepted"))
        for a in accts:
            venue = {o["order_id"]: (_lots_of(o["open_qty"]) if o["type"] == "LIMIT" else None)
                     for o in ex.open_orders(a)}
            mine = {s.order_id: (None if s.conditional else s.open_lots)
                    for s in f.rows.open_orders(account=a)}
            assert mine == venue
        for s in (*f.rows.open.values(), *f.rows.closed.values()):
            assert s.filled_lots == f.fill_lots.get(s.order_id, 0)
            assert s.cum_quote == f.fill_quote.get(s.order_id, 0)
            if s.status == FILLED:
                assert s.filled_lots >= s.orig_lots
            if s.status == TRIGGERED and f.rows.get(s.child_id) is not None:
                assert f.rows.get(s.child_id).parent_id == s.order_id
        _same(f.rows, f.events)
