"""The mock server's WebSocket streams, read with aiohttp's client while ccxt trades over REST.

Each test runs its own event loop (``asyncio.run``); the server has its own thread and loop.
ccxt is synchronous, so orders are sent from worker threads (``asyncio.to_thread``) while the
test's loop keeps the socket. Every wait has a deadline: a server that never sends the awaited
message fails the test with what it did send.
"""
from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from decimal import Decimal

import aiohttp

from tests.exchange.server.orders import BTC, rest, take

WAIT = 5.0          # seconds for one expected message
SCENARIO = 20.0     # seconds for a whole test scenario


@contextlib.asynccontextmanager
async def stream(srv, path):
    """A WebSocket to the server's ``path`` (``/ws/<name>`` or ``/stream?streams=...``)."""
    async with aiohttp.ClientSession() as session, session.ws_connect(srv.ws_url + path) as ws:
        yield ws


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, SCENARIO))


async def receive_until(ws, predicate, seen=None, timeout=WAIT):
    """The next message (parsed JSON) for which ``predicate`` holds; every message read on the
    way, matching or not, is appended to ``seen``."""
    seen = [] if seen is None else seen
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    start = len(seen)
    while True:
        left = deadline - loop.time()
        try:
            if left <= 0:
                raise TimeoutError
            msg = await asyncio.wait_for(ws.receive(), left)
        except TimeoutError:
            raise AssertionError(f"no matching message within {timeout} s; received {seen[start:]}") from None
        if msg.type != aiohttp.WSMsgType.TEXT:
            raise AssertionError(f"the stream sent {msg.type!r} ({msg.data!r}) after {seen[start:]}")
        data = json.loads(msg.data)
        seen.append(data)
        if predicate(data):
            return data


def levels(pairs) -> dict:
    return {Decimal(p): Decimal(q) for p, q in pairs}


def assert_price_qty_strings(pairs):
    assert isinstance(pairs, list)
    for pair in pairs:
        assert isinstance(pair, list) and len(pair) == 2, pair
        assert all(isinstance(x, str) for x in pair), pair
        Decimal(pair[0]), Decimal(pair[1])


def test_depth_diffs_applied_to_a_rest_snapshot_rebuild_the_rest_book(srv, maker, trader):
    rest(maker, "buy", 0.5, 49990)
    rest(maker, "sell", 0.3, 50010)
    trader.load_markets()
    depth = {"symbol": "BTCUSDT", "limit": 1000}

    async def scenario():
        async with stream(srv, "/ws/btcusdt@depth@100ms") as ws:
            snapshot = await asyncio.to_thread(trader.fapiPublicGetDepth, depth)
            await asyncio.to_thread(rest, maker, "buy", 0.4, 49980)       # a new level
            await asyncio.to_thread(rest, maker, "buy", 0.1, 49990)       # more on a level
            ask = await asyncio.to_thread(rest, maker, "sell", 0.2, 50020)
            await asyncio.to_thread(maker.cancel_order, ask["id"], BTC)   # a level goes
            await asyncio.to_thread(take, trader, "buy", 0.1)             # a level shrinks
            final = await asyncio.to_thread(trader.fapiPublicGetDepth, depth)
            events = []
            await receive_until(ws, lambda e: e.get("u", -1) >= int(final["lastUpdateId"]), events)
            return snapshot, events, final

    snapshot, events, final = run(scenario())

    for event in events:
        assert event["e"] == "depthUpdate" and event["s"] == "BTCUSDT", event
        assert event["U"] <= event["u"], event
        assert_price_qty_strings(event["b"])
        assert_price_qty_strings(event["a"])
    for before, after in itertools.pairwise(events):
        assert after["pu"] == before["u"], (before, after)
        assert after["U"] > before["u"], (before, after)
    assert any(levels(e["a"]).get(Decimal(50020)) == 0 for e in events), "the canceled level's 0"

    snap_id = int(snapshot["lastUpdateId"])
    bids, asks = levels(snapshot["bids"]), levels(snapshot["asks"])
    applied = [e for e in events if e["u"] >= snap_id]
    assert applied, events
    first = applied[0]
    assert first["U"] <= snap_id <= first["u"] or first["pu"] == snap_id, (snap_id, first)
    for event in applied:
        for side, book in (("b", bids), ("a", asks)):
            for price, qty in levels(event[side]).items():
                if qty == 0:
                    book.pop(price, None)
                else:
                    book[price] = qty

    assert bids == levels(final["bids"]) == {Decimal(49990): Decimal("0.6"), Decimal(49980): Decimal("0.4")}
    assert asks == levels(final["asks"]) == {Decimal(50010): Decimal("0.2")}


def test_a_combined_stream_carries_the_trade_as_an_agg_trade_and_its_depth_diff(srv, maker, trader):
    rest(maker, "sell", 0.02, 50000)
    rest(maker, "buy", 0.01, 49990)
    trader.load_markets()

    async def scenario():
        async with stream(srv, "/stream?streams=btcusdt@depth/btcusdt@aggTrade") as ws:
            seen = []
            await asyncio.to_thread(take, trader, "buy", 0.02)
            buy = await receive_until(ws, lambda m: m["stream"] == "btcusdt@aggTrade", seen)
            await receive_until(ws, lambda m: m["stream"] == "btcusdt@depth"
                                and Decimal(50000) in levels(m["data"]["a"]), seen)
            await asyncio.to_thread(take, trader, "sell", 0.01)
            sell = await receive_until(ws, lambda m: m["stream"] == "btcusdt@aggTrade", seen)
            return buy, sell, seen

    buy, sell, seen = run(scenario())

    assert all(set(m) == {"stream", "data"} for m in seen), seen
    data = buy["data"]
    assert (data["e"], data["s"]) == ("aggTrade", "BTCUSDT")
    assert (Decimal(data["p"]), Decimal(data["q"])) == (Decimal(50000), Decimal("0.02"))
    assert data["m"] is False                                   # the buyer took: not the maker
    depth = next(m["data"] for m in seen if m["stream"] == "btcusdt@depth")
    assert levels(depth["a"])[Decimal(50000)] == 0
    data = sell["data"]
    assert (Decimal(data["p"]), Decimal(data["q"])) == (Decimal(49990), Decimal("0.01"))
    assert data["m"] is True                                    # the buyer was the resting bid
    assert data["a"] > buy["data"]["a"]


def test_fills_of_one_taker_order_at_one_price_are_one_agg_trade(srv, maker, trader):
    rest(maker, "sell", 0.01, 50000)
    rest(maker, "sell", 0.01, 50000)
    trader.load_markets()

    async def scenario():
        async with stream(srv, "/ws/btcusdt@aggTrade") as ws:
            await asyncio.to_thread(take, trader, "buy", 0.02)
            return await receive_until(ws, lambda m: m.get("e") == "aggTrade")

    trade = run(scenario())

    assert (Decimal(trade["p"]), Decimal(trade["q"])) == (Decimal(50000), Decimal("0.02"))
    ids = [int(t["id"]) for t in trader.fetch_my_trades(BTC)]
    assert len(ids) == 2
    assert (trade["f"], trade["l"]) == (ids[0], ids[-1])        # first and last trade aggregated


def test_the_mark_price_stream_publishes_the_mark_that_was_set(srv, mock):
    async def scenario():
        async with stream(srv, "/ws/btcusdt@markPrice") as ws:
            seen = []
            await asyncio.to_thread(srv.call, mock.set_mark, "ETHUSDT", "3100")
            await asyncio.to_thread(srv.call, mock.set_mark, "BTCUSDT", "50500")
            update = await receive_until(
                ws, lambda m: m.get("e") == "markPriceUpdate" and Decimal(m["p"]) == Decimal(50500), seen)
            return update, seen

    update, seen = run(scenario())

    assert update["s"] == "BTCUSDT"
    assert all(m.get("s") == "BTCUSDT" for m in seen), seen     # not ETHUSDT's mark


def test_the_user_data_stream_reports_the_order_new_then_filled_and_the_account_update(srv, maker, trader):
    listen_key = trader.fapiPrivatePostListenKey()["listenKey"]
    trader.load_markets()

    def is_order(client_id, status):
        return lambda m: (m.get("e") == "ORDER_TRADE_UPDATE" and m["o"]["c"] == client_id
                          and m["o"]["X"] == status)

    async def scenario():
        async with stream(srv, f"/ws/{listen_key}") as ws:
            seen = []
            bid = await asyncio.to_thread(trader.create_order, BTC, "limit", "buy", 0.01, 49990,
                                          {"clientOrderId": "e2e-user-bid"})
            new = await receive_until(ws, is_order("e2e-user-bid", "NEW"), seen)
            hit = await asyncio.to_thread(take, maker, "sell", 0.01)
            filled = await receive_until(ws, is_order("e2e-user-bid", "FILLED"), seen)
            if not any(m.get("e") == "ACCOUNT_UPDATE" for m in seen):
                await receive_until(ws, lambda m: m.get("e") == "ACCOUNT_UPDATE", seen)
            return bid, hit, new, filled, seen

    bid, hit, new, filled, seen = run(scenario())

    o = new["o"]
    assert (o["s"], o["S"], o["o"], o["x"], o["i"]) == ("BTCUSDT", "BUY", "LIMIT", "NEW", int(bid["id"]))
    assert (Decimal(o["q"]), Decimal(o["p"])) == (Decimal("0.01"), Decimal(49990))
    o = filled["o"]
    assert (o["x"], o["i"]) == ("TRADE", int(bid["id"]))
    assert (Decimal(o["l"]), Decimal(o["z"]), Decimal(o["L"])) == (
        Decimal("0.01"), Decimal("0.01"), Decimal(49990))
    assert o["m"] is True                                       # the trader's bid was resting
    assert Decimal(o["n"]) == Decimal("0.09998") and o["N"] == "USDT"    # 0.02 % of 499.9
    assert seen.index(new) < seen.index(filled)
    account = next(m for m in seen if m.get("e") == "ACCOUNT_UPDATE")
    assert seen.index(account) > seen.index(new)
    assert account["a"]["m"] == "ORDER"
    [usdt] = [b for b in account["a"]["B"] if b["a"] == "USDT"]
    assert Decimal(usdt["wb"]) == Decimal(10000) - Decimal("0.09998")
    [position] = [p for p in account["a"]["P"] if p["s"] == "BTCUSDT"]
    assert (Decimal(position["pa"]), Decimal(position["ep"])) == (Decimal("0.01"), Decimal(49990))
    # the maker's own order never shows on the trader's stream
    assert all(m["o"]["c"] != hit["clientOrderId"] for m in seen if m.get("e") == "ORDER_TRADE_UPDATE")

