import numpy as np

from exchange.sim import gateway as gw
from exchange.sim.clock import PRIO_AGENT, Clock
from exchange.sim.gateway import (CANCEL_IF_OPEN, IOC, MARKET, POST_ONLY, SUBMIT, OrderBatch,
                                  OrderGateway)
from exchange.venue import Exchange


def _venue():
    ex = Exchange.from_preset("binance_usdm")
    core = ex.core
    for _ in range(3):
        core.deposit(core.open_account(), 10_000_000 * 10**6)
    core.set_mark(0, 1_000_000, 1_000_000)
    core.drain_events()
    return ex, core


def test_orders_arrive_in_latency_order_interleaved_with_other_events():
    ex, core = _venue()
    clock = Clock()
    g = OrderGateway(core, clock, 0)
    seen = []
    # the slow maker decided first but arrives last: the fast taker finds an empty book
    g.send(OrderBatch(ts=50, acct=0, kind=SUBMIT, side=1, qty=5, price=1_000_100, tif=POST_ONLY))
    g.send(OrderBatch(ts=10, acct=1, kind=SUBMIT, side=0, qty=5, otype=MARKET, tif=IOC))
    clock.schedule(30, PRIO_AGENT, lambda ts: seen.append(("agent", core.ts_now)))
    clock.run(100)
    recs = core.drain_events()
    got = [(int(r["kind"]), int(r["acct"]), int(r["ts"])) for r in recs[:3]]
    assert got == [(1, 1, 10), (4, 1, 10), (1, 0, 50)]
    assert seen == [("agent", 10)]       # the agent ran between the two arrivals
    assert g.submitted == 2 and g.pending == 0


def test_cancel_if_open_skips_an_order_that_already_traded():
    ex, core = _venue()
    clock = Clock()
    g = OrderGateway(core, clock, 0)
    b = g.send(OrderBatch(ts=1, acct=0, kind=SUBMIT, side=1, qty=2, price=1_000_100, tif=POST_ONLY))
    clock.run(1)
    assert b.done and b.code.tolist() == [0]
    oid = int(b.oid[0])
    g.send(OrderBatch(ts=2, acct=1, kind=SUBMIT, side=0, qty=2, otype=MARKET, tif=IOC))
    g.send(OrderBatch(ts=3, acct=0, kind=CANCEL_IF_OPEN, target=oid))
    clock.run(10)
    kinds = core.drain_events()["kind"].tolist()
    assert 2 not in kinds                 # no UNKNOWN_ORDER rejection for the traded quote
    assert g.canceled == 0


def test_compiled_and_python_delivery_loops_write_the_same_journal(tiny_crash, monkeypatch):
    from exchange.sim.runner import run

    short = tiny_crash.with_overrides({"scenario.duration_s": 60})
    fast = run(short, seed=3)
    monkeypatch.setattr(gw, "_compiled", None)
    slow = run(short, seed=3)
    assert fast.journal_sha256() == slow.journal_sha256()
    assert np.array_equal(fast.journal, slow.journal)
