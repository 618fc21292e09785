"""Streams not covered through ccxt.pro elsewhere, read with raw sockets beside ccxt orders:
``listenKeyExpired``, partial book depth ``@depth5``, the all-market ``!ticker@arr`` /
``!miniTicker@arr`` / ``!forceOrder@arr`` arrays, a kline with its first and last trade ids,
the depth diff ids chained across 100 ms windows, and the URL shapes (``/ws/0``,
``/market/ws/3``, ``/private/ws?listenKey=``)."""
from __future__ import annotations

import asyncio
import json

import aiohttp
import pytest

from exchange.server import MockBinance, ServerThread, ccxt_config
from tests.exchange.server.orders import leveraged_long_near_liquidation, rest, take
from tests.exchange.server.test_websocket import receive_until, run, stream


def test_an_unrefreshed_listen_key_expires_with_listen_key_expired():
    import ccxt

    mock = MockBinance(marks={"BTCUSDT": "50000"}, listen_key_ttl_s=0.6)
    cred = mock.add_account(deposit="1000")
    with ServerThread(mock) as srv:
        ex = ccxt.binanceusdm(ccxt_config(srv.base_url, cred.api_key, cred.secret))
        key = ex.fapiPrivatePostListenKey()["listenKey"]

        async def main():
            async with stream(srv, f"/private/ws?listenKey={key}") as ws:
                msg = await receive_until(ws, lambda m: m.get("e") == "listenKeyExpired", timeout=5)
                assert msg["listenKey"] == key

        run(main())
        with pytest.raises(ccxt.BaseError, match="-1125"):
            ex.fapiPrivatePutListenKey({"listenKey": key})
        assert ex.fapiPrivatePostListenKey()["listenKey"] != key          # a new one


def test_partial_depth_arrays_and_kline_ids_follow_a_trade(srv, mock, maker, trader):
    async def main():
        streams = "/".join(["btcusdt@depth5@100ms", "!ticker@arr", "!miniTicker@arr",
                            "btcusdt@kline_1m", "btcusdt@depth@500ms"])
        async with stream(srv, f"/stream?streams={streams}") as ws:
            await asyncio.to_thread(rest, maker, "sell", 0.1, 50000)
            await asyncio.to_thread(rest, maker, "sell", 0.2, 50010)
            await asyncio.to_thread(take, trader, "buy", 0.15)
            seen = []

            def last(name, pred=lambda d: True):
                got = [x["data"] for x in seen if x["stream"] == name and pred(x["data"])]
                return got[-1] if got else None

            def done(_):          # every stream has shown the trade (in whatever order)
                return all((last("btcusdt@depth5@100ms", lambda d: d["a"][:1] == [["50010", "0.15"]]),
                            last("!ticker@arr", lambda d: d[0]["n"] == 2),
                            last("!miniTicker@arr", lambda d: d[0]["c"] == "50010"),
                            last("btcusdt@kline_1m", lambda d: d["k"]["n"] == 2)))

            await receive_until(ws, done, seen)
            book = last("btcusdt@depth5@100ms", lambda d: d["a"][:1] == [["50010", "0.15"]])
            assert book["b"] == [] and len(book["a"]) == 1
            t = last("!ticker@arr", lambda d: d[0]["n"] == 2)[0]
            assert t["s"] == "BTCUSDT" and t["c"] == "50010" and t["v"] == "0.15"
            assert t["o"] == "50000" and t["h"] == "50010"
            k = {"data": last("btcusdt@kline_1m", lambda d: d["k"]["n"] == 2)}
            trades = await asyncio.to_thread(trader.fapiPublicGetTrades, {"symbol": "BTCUSDT"})
            assert (k["data"]["k"]["f"], k["data"]["k"]["L"]) == (trades[0]["id"], trades[-1]["id"])
            assert k["data"]["k"]["o"] == "50000" and k["data"]["k"]["c"] == "50010"
            # depth diffs: consecutive events chain (pu = the previous u)
            diffs = [x["data"] for x in seen if x["stream"] == "btcusdt@depth@500ms"]
            for a, b in zip(diffs, diffs[1:]):
                assert b["pu"] == a["u"] and b["U"] == a["u"] + 1

    run(main())


def test_all_market_force_orders_carry_a_liquidation(srv, mock, connect, maker):
    leveraged_long_near_liquidation(srv, mock, connect, maker)

    async def main():
        async with stream(srv, "/market/ws/3") as ws:           # ccxt.pro's shape, then SUBSCRIBE
            await ws.send_str(json.dumps({"method": "SUBSCRIBE", "params": ["!forceOrder@arr"],
                                          "id": 1}))
            assert await receive_until(ws, lambda m: "id" in m) == {"result": None, "id": 1}
            await asyncio.to_thread(srv.call, mock.set_mark, "BTCUSDT", "46850")
            msg = await receive_until(ws, lambda m: m.get("e") == "forceOrder"
                                      and m["o"]["X"] == "FILLED")
            assert msg["o"]["s"] == "BTCUSDT" and msg["o"]["S"] == "SELL" and msg["o"]["z"] == "0.3"

    run(main())


def test_the_old_numbered_url_is_a_connection_with_no_stream(srv):
    async def main():
        async with aiohttp.ClientSession() as s, s.ws_connect(srv.ws_url + "/ws/0") as ws:
            await ws.send_str(json.dumps({"method": "LIST_SUBSCRIPTIONS", "id": 7}))
            assert json.loads((await ws.receive()).data) == {"result": [], "id": 7}
        async with aiohttp.ClientSession() as s:
            with pytest.raises(aiohttp.WSServerHandshakeError):
                await s.ws_connect(srv.ws_url + "/private/ws?listenKey=nope")

    run(main())


def test_force_order_snapshots_are_at_most_one_a_second_per_symbol_the_latest(monkeypatch):
    """Binance: "for each symbol, only the latest one liquidation order within 1000ms will
    be pushed as the snapshot"."""
    import json as _json
    from decimal import Decimal as D

    from exchange.server import MockBinance
    from exchange.server.streams import _Client

    class _WS:
        closed = False

    m = MockBinance(marks={"BTCUSDT": "50000"}, rate_limits=None)
    cred = m.add_account("100000")
    oids = [_json.loads(m._mutate("new_order", cred, {
        "symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "quantity": q, "price": "49000",
        "timeInForce": "GTC"}).body)["orderId"] for q in ("0.01", "0.02", "0.03")]
    client = _Client(_WS(), False)
    m.hub._subscribe(client, ["btcusdt@forceOrder"])
    clock = [1000.0]
    monkeypatch.setattr("exchange.server.publish.time.monotonic", lambda: clock[0])
    for oid in oids:                                     # three within the same second
        m._push_force_order(m._orders[oid], D("0"), 1)
        clock[0] += 0.1
    m._flush_force_orders()                              # 0.3 s after the first: wait
    sent = []
    while not client.queue.empty():
        sent.append(_json.loads(client.queue.get_nowait())["o"]["q"])
    assert sent == ["0.01"]
    clock[0] += 0.8
    m._flush_force_orders()                              # its second is over: the latest
    while not client.queue.empty():
        sent.append(_json.loads(client.queue.get_nowait())["o"]["q"])
    assert sent == ["0.01", "0.03"]


def test_an_algo_order_finishes_with_its_order_or_is_rejected_with_the_reason():
    """Binance's algo statuses: TRIGGERED once its order is in the matching engine, FINISHED
    when that order is filled or cancelled, REJECTED (``rm`` the reason) when the engine
    refused it; ALGO_UPDATE carries the order's ap / aq / act."""
    import json as _json

    from exchange.server import MockBinance
    from exchange.server.streams import _Client

    class _WS:
        closed = False

    m = MockBinance(marks={"BTCUSDT": "50000"}, rate_limits=None)
    mk, c = m.add_account("10000000"), m.add_account("100000")

    def call(cred, cmd, **p):
        return _json.loads(m._mutate(cmd, cred, {"symbol": "BTCUSDT", **p}).body)

    call(mk, "new_order", side="SELL", type="LIMIT", quantity="1", price="50000",
         timeInForce="GTC")
    call(mk, "new_order", side="BUY", type="LIMIT", quantity="1", price="49000",
         timeInForce="GTC")
    call(c, "new_order", side="BUY", type="MARKET", quantity="0.1")            # long 0.1
    stop = call(c, "new_algo_order", algoType="CONDITIONAL", side="SELL", type="STOP_MARKET",
                quantity="0.1", triggerPrice="49500", reduceOnly="true", workingType="MARK_PRICE")
    late = call(c, "new_algo_order", algoType="CONDITIONAL", side="SELL", type="STOP_MARKET",
                quantity="0.1", triggerPrice="49400", reduceOnly="true", workingType="MARK_PRICE")
    client = _Client(_WS(), False)
    m._listen_keys["lk"] = c.account
    m.hub._subscribe(client, ["lk"])
    m.set_mark("BTCUSDT", "49450")          # the first fires: sells 0.1 into the 49,000 bid
    m.set_mark("BTCUSDT", "49300")          # the second fires with no position left
    updates = []
    while not client.queue.empty():
        msg = _json.loads(client.queue.get_nowait())
        if msg["e"] == "ALGO_UPDATE":
            updates.append((msg["o"]["aid"], msg["o"]["X"], msg["o"].get("ap"),
                            msg["o"].get("act"), msg["o"].get("rm")))
    assert [u for u in updates if u[0] == stop["algoId"]][-2:] == [
        (stop["algoId"], "TRIGGERED", "49000", "MARKET", None),
        (stop["algoId"], "FINISHED", "49000", "MARKET", None)]
    assert [u for u in updates if u[0] == late["algoId"]][-1] == (
        late["algoId"], "REJECTED", None, None, "Reduce Only reject")
    got = m._algo_json(m._orders[stop["algoId"]])
    assert (got["algoStatus"], got["actualPrice"]) == ("FINISHED", "49000")
    assert m._algo_json(m._orders[late["algoId"]])["algoStatus"] == "REJECTED"
