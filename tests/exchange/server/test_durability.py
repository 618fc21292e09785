"""Durability: ``perpsim serve --state DIR`` journals every acknowledged command before it
answers; killed with SIGKILL in the middle of a stream of ccxt orders and restarted with the
same DIR, it has every acknowledged order (open and conditional), the keys, balances,
positions and listen keys as acknowledged, nothing that was not acknowledged (but the one
order in flight at the kill, which the client never saw answered), and new order ids
continue after the old ones."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import ccxt
import pytest

from exchange.server import MockBinance, ccxt_config
from tests.exchange.server.test_freqtrade import _free_port

ROOT = Path(__file__).parents[3]
BTC = "BTC/USDT:USDT"


def _serve(state, port, log, snapshot_every=None):
    out = open(log, "a")
    extra = [] if snapshot_every is None else ["--snapshot-every", str(snapshot_every)]
    proc = subprocess.Popen([sys.executable, "-m", "exchange.cli", "serve", "--state", str(state),
                             "--port", str(port), "--accounts", "2", "--deposit", "100000",
                             "--mark", "BTCUSDT=50000", *extra], cwd=ROOT, stdout=out,
                            stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        text = Path(log).read_text()
        if text.count("Ctrl-C") > getattr(_serve, "starts", {}).get(str(log), 0):
            _serve.starts = {**getattr(_serve, "starts", {}), str(log): text.count("Ctrl-C")}
            keys = re.findall(r"apiKey=(\w+) secret=(\w+)", text.split("perpsim mock exchange")[-1])
            return proc, keys
        if proc.poll() is not None:
            break
        time.sleep(0.2)
    raise AssertionError(Path(log).read_text())


@pytest.mark.parametrize("snapshot_every", [None, 7], ids=["journal", "snapshots"])
def test_sigkill_mid_stream_then_restart_restores_every_acknowledged_order(tmp_path, snapshot_every):
    """``snapshots``: a snapshot every 7 commands, so the restart loads the latest snapshot
    taken during the stream and replays the journal after it."""
    state, log = tmp_path / "state", tmp_path / "server.log"
    port = _free_port()
    proc, keys = _serve(state, port, log, snapshot_every)
    base = f"http://127.0.0.1:{port}"
    try:
        maker = ccxt.binanceusdm(ccxt_config(base, *keys[0]))
        trader = ccxt.binanceusdm(ccxt_config(base, *keys[1]))
        for c in (maker, trader):
            c.timeout = 3000
            c.load_markets()
        maker.create_order(BTC, "limit", "sell", 0.5, 50000)
        trader.create_order(BTC, "market", "buy", 0.2)                   # a position
        trader.set_leverage(7, BTC)
        listen_key = trader.fapiPrivatePostListenKey()["listenKey"]
        stop = trader.create_order(BTC, "STOP_MARKET", "sell", 0.1, None,
                                   {"stopPrice": 45000, "reduceOnly": True})
        acked, sent, canceled = [stop["id"]], [], []
        killed = threading.Event()

        def kill_soon():
            time.sleep(1.2)
            os.kill(proc.pid, signal.SIGKILL)
            killed.set()

        threading.Thread(target=kill_soon, daemon=True).start()
        i = 0
        in_flight = None
        while not killed.is_set():                 # place, and cancel every other one
            cid = f"dur-{i}"
            sent.append(cid)
            try:
                in_flight = ("place", cid)
                o = trader.create_order(BTC, "limit", "buy", 0.003, 48000 + i % 1000,
                                        {"newClientOrderId": cid})
                acked.append(o["id"])
                if i % 2:
                    in_flight = ("cancel", acked[-2])
                    trader.cancel_order(acked[-2], BTC)
                    canceled.append(acked[-2])
                in_flight = None
            except Exception:
                break
            i += 1
        proc.wait(10)
        assert len(acked) > 20, "too few orders before the kill"
        expected = set(acked) - set(canceled)

        if snapshot_every:
            assert (state / "snapshot.bin").exists()
            assert len((state / "journal.jsonl").read_bytes().splitlines()) <= snapshot_every
        proc, keys2 = _serve(state, port, log, snapshot_every)
        assert keys2 == keys                                             # the same key pairs
        trader = ccxt.binanceusdm(ccxt_config(base, *keys[1]))
        trader.timeout = 3000
        open_ids = {o["id"] for o in trader.fetch_open_orders(BTC)}
        algo = trader.fapiPrivateGetOpenAlgoOrders({"symbol": "BTCUSDT"})
        restored = open_ids | {str(a["algoId"]) for a in algo}
        # exactly the acknowledged state, but for the one request in flight at the kill
        # (journaled before its answer: it may have been applied, unacknowledged)
        if in_flight and in_flight[0] == "cancel":
            expected_lo, expected_hi = expected - {in_flight[1]}, expected
        else:
            expected_lo, expected_hi = expected, expected
        assert expected_lo <= restored, expected_lo - restored
        extra = restored - expected_hi
        assert len(extra) <= 1, extra
        if extra:
            assert in_flight and in_flight[0] == "place"
            assert trader.fetch_order(extra.pop(), BTC)["clientOrderId"] == in_flight[1]
        for oid in canceled[-5:]:
            assert trader.fetch_order(oid, BTC)["status"] == "canceled"
        pos = [p for p in trader.fetch_positions([BTC]) if p["contracts"]]
        assert [(p["side"], p["contracts"], p["leverage"]) for p in pos] == [("long", 0.2, 7)]
        # a keepalive of the restored listen key works; a new order gets a new id
        trader.fapiPrivatePutListenKey({"listenKey": listen_key})
        new = trader.create_order(BTC, "limit", "buy", 0.003, 48000)
        assert int(new["id"]) > max(int(x) for x in restored | set(acked))
        total = trader.fetch_balance()["USDT"]["total"]
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            proc.wait(30)
    # the journal replays to the same account in-process too
    mock = MockBinance(state_dir=state)
    cred = mock._keys[keys[1][0]]
    assert mock.venue.balance(cred.account).wallet == pytest.approx(total)
    mock.venue.check_invariants()


def test_an_in_process_journal_replays_host_calls_and_refuses_nothing_twice(tmp_path):
    """Marks, funding and manual clock moves by the host are journaled too; a replay gives
    the same wallets, positions and next order id."""
    from exchange.server.binance import BinanceError

    a = MockBinance(marks={"BTCUSDT": "50000"}, clock="manual", state_dir=tmp_path, rate_limits=None)
    maker, trader = a.add_account(deposit="1000000"), a.add_account(deposit="10000")
    a._mutate("new_order", maker, {"symbol": "BTCUSDT", "side": "SELL", "type": "LIMIT",
                                   "quantity": "0.1", "price": "50000", "timeInForce": "GTC"})
    a._mutate("new_order", trader, {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET",
                                    "quantity": "0.1"})
    with pytest.raises(BinanceError):                           # rejected, journaled, replayed
        a._mutate("new_order", trader, {"symbol": "BTCUSDT", "side": "SELL", "type": "LIMIT",
                                        "quantity": "0.1", "price": "60000", "timeInForce": "GTC"})
    a.advance_to(a.venue.ts_ns + 3_600 * 10**9)
    a.set_mark("BTCUSDT", "50500")
    a.settle_funding("BTCUSDT", "0.0001")
    b = MockBinance(marks={"BTCUSDT": "1"}, clock="manual", state_dir=tmp_path, rate_limits=None)
    assert b.restored and b.venue.ts_ns == a.venue.ts_ns
    for cred in (maker, trader):
        assert b.venue.balance(cred.account) == a.venue.balance(cred.account)
        assert b.venue.positions(cred.account) == a.venue.positions(cred.account)
    assert int(b.venue.core.arrays()["mark"][0]) == int(a.venue.core.arrays()["mark"][0])
    assert next(b._next_order_id) == next(a._next_order_id)
    b.venue.check_invariants()


def test_a_restart_from_a_snapshot_and_the_journal_tail_is_the_uninterrupted_server(tmp_path):
    """Snapshots every 4 records: a restart loads the latest snapshot and replays the tail
    (the journal holds only the records after the snapshot) and ends where a server that
    never stopped ends; a snapshot killed before its journal cut replays nothing twice."""
    from exchange.server.journal import Journal

    def drive(mock, creds, lo, hi):
        maker, trader = creds
        for i in range(lo, hi):
            mock._mutate("new_order", maker, {"symbol": "BTCUSDT", "side": "SELL", "type": "LIMIT",
                                              "quantity": "0.01", "price": str(50000 + i % 3 * 10),
                                              "timeInForce": "GTC"})
            if i % 3 == 0:
                mock._mutate("new_order", trader, {"symbol": "BTCUSDT", "side": "BUY",
                                                   "type": "MARKET", "quantity": "0.015"})
            if i % 4 == 1:
                mock._mutate("new_order", trader, {"symbol": "BTCUSDT", "side": "SELL",
                                                   "type": "STOP_MARKET", "quantity": "0.005",
                                                   "stopPrice": "45000", "reduceOnly": "true"})
            if i % 5 == 2:
                mock.set_mark("BTCUSDT", str(50000 + i))
                mock.advance_to(mock.venue.ts_ns + 600 * 10**9)

    kw = dict(marks={"BTCUSDT": "50000"}, clock="manual", rate_limits=None)
    ref = MockBinance(**kw)
    a = MockBinance(state_dir=tmp_path, snapshot_records=4, snapshot_seconds=None, **kw)
    creds_ref = [ref.add_account("1000000", f"k{i}", f"s{i}") for i in range(2)]
    creds = [a.add_account("1000000", f"k{i}", f"s{i}") for i in range(2)]
    drive(ref, creds_ref, 0, 12)
    drive(a, creds, 0, 12)
    assert a.journal.snapshots >= 3 and (tmp_path / "snapshot.bin").exists()
    tail = len((tmp_path / "journal.jsonl").read_bytes().splitlines())
    assert tail < 4                                          # cut at each snapshot
    b = MockBinance(state_dir=tmp_path, snapshot_records=4, snapshot_seconds=None, **kw)
    assert b.restored and b.journal.records == a.journal.records
    creds_b = [b._keys[f"k{i}"] for i in range(2)]
    drive(ref, creds_ref, 12, 20)
    drive(b, creds_b, 12, 20)
    # a snapshot whose journal cut never happened (killed in between): the old records stay
    # in the journal and are skipped by their ordinal
    journal = b.journal
    saved = (tmp_path / "journal.jsonl").read_bytes()
    journal.write_snapshot(b.snapshot())
    (tmp_path / "journal.jsonl").write_bytes(saved)
    c = MockBinance(state_dir=tmp_path, **kw)
    for m in (b, c):
        for cr, cr_ref in zip(creds_b, creds_ref):
            assert m.venue.balance(cr.account) == ref.venue.balance(cr_ref.account)
            assert m.venue.positions(cr.account) == ref.venue.positions(cr_ref.account)
            assert m.venue.open_orders(cr.account) == ref.venue.open_orders(cr_ref.account)
        assert repr(m._next_order_id) == repr(ref._next_order_id)       # not consumed
        assert sorted(m._orders) == sorted(ref._orders)
        m.venue.check_invariants()
    assert [o.status for o in c._orders.values()] == [o.status for o in ref._orders.values()]
    with pytest.raises(Exception):  # noqa: B017
        Journal(tmp_path, snapshot_records=0)
    (tmp_path / "snapshot.bin").write_bytes(b"garbage\n")
    with pytest.raises(Exception, match="not a perpsim server snapshot"):
        MockBinance(state_dir=tmp_path, **kw)
