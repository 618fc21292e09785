"""Binance USDⓈ-M's WebSocket API (``/ws-fapi/v1``) against the mock: ccxt.pro's ``*_ws``
methods unmodified (order.place / modify / cancel / status, algoOrder.place, account.status,
account.balance, account.position, depth, ticker.book), the same orders as REST sees them;
then the protocol's rules a client relies on (signature over the sorted parameters,
timestamps, permissions, ``rateLimits`` shared with REST, ids echoed, malformed frames and
unknown methods answered, never the socket closed) with a raw WebSocket, since no client
sends a broken request on purpose.
"""
from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time

import pytest

ccxtpro = pytest.importorskip("ccxt.pro")
aiohttp = pytest.importorskip("aiohttp")

from exchange.server import MockBinance, ServerThread, ccxt_config
from tests.exchange.server.orders import BTC

WAIT = 10.0


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 60))


def pro(srv, cred):
    return ccxtpro.binanceusdm(ccxt_config(srv.base_url, cred.api_key, cred.secret))


def test_ccxt_pro_trades_through_the_websocket_api(srv, mock, maker_cred, trader_cred, trader):
    async def main():
        m, c = pro(srv, maker_cred), pro(srv, trader_cred)
        try:
            ask = await m.create_order_ws(BTC, "limit", "sell", 0.5, 50010)
            bid = await m.create_order_ws(BTC, "limit", "buy", 0.5, 49990)
            assert ask["status"] == bid["status"] == "open"
            book = await c.fetch_order_book_ws(BTC, 5)
            assert book["bids"] == [[49990.0, 0.5]] and book["asks"] == [[50010.0, 0.5]]
            ticker = await c.fetch_ticker_ws(BTC)
            assert (ticker["bid"], ticker["ask"]) == (49990.0, 50010.0)

            limit = await c.create_order_ws(BTC, "limit", "buy", 0.01, 49000)
            assert limit["status"] == "open" and limit["price"] == 49000.0
            got = await c.fetch_order_ws(limit["id"], BTC)
            assert got["id"] == limit["id"] and got["status"] == "open"
            edited = await c.edit_order_ws(limit["id"], BTC, "limit", "buy", 0.02, 49100)
            assert (edited["id"], edited["price"], edited["amount"]) == (limit["id"], 49100.0, 0.02)
            cancelled = await c.cancel_order_ws(limit["id"], BTC)
            assert cancelled["status"] == "canceled"

            market = await c.create_order_ws(BTC, "market", "buy", 0.01)
            assert market["status"] == "closed" and market["average"] == 50010.0
            stop = await c.create_order_ws(BTC, "market", "sell", 0.01, None,
                                           {"stopPrice": 45000, "reduceOnly": True})
            assert stop["info"]["algoStatus"] == "NEW" and stop["info"]["triggerPrice"] == "45000"

            positions = await c.fetch_positions_ws([BTC])
            assert [p["contracts"] for p in positions] == [0.01]
            assert positions[0]["side"] == "long" and positions[0]["entryPrice"] == 50010.0
            v2 = await c.fetch_positions_ws([BTC], {"method": "v2/account.position"})
            assert [p["contracts"] for p in v2] == [0.01]
            status = await c.fetch_balance_ws()                     # account.status
            balance = await c.fetch_balance_ws({"method": "account.balance"})
            return limit["id"], stop["id"], status, balance
        finally:
            await m.close()
            await c.close()

    limit_id, stop_id, status, balance = run(main())
    # the same account as REST sees it
    rest_balance = trader.fetch_balance()
    assert status["USDT"]["total"] == balance["USDT"]["total"] == rest_balance["USDT"]["total"]
    assert trader.fetch_order(limit_id, BTC)["status"] == "canceled"
    assert [o["id"] for o in trader.fetch_open_orders(BTC, params={"trigger": True})] == [stop_id]
    assert trader.fetch_positions([BTC])[0]["contracts"] == 0.01


def test_an_order_placed_over_the_websocket_api_streams_on_the_user_data_stream(
        srv, trader_cred, maker):
    maker.create_order(BTC, "limit", "sell", 1, 50000)

    async def main():
        c = pro(srv, trader_cred)
        try:
            watch = asyncio.ensure_future(c.watch_my_trades(BTC))
            await asyncio.sleep(0.5)                 # the user data stream is connected
            placed = await c.create_order_ws(BTC, "market", "buy", 0.02)
            trades = await asyncio.wait_for(watch, WAIT)
            return placed, trades
        finally:
            await c.close()

    placed, trades = run(main())
    assert placed["status"] == "closed"
    assert [t["order"] for t in trades] == [placed["id"]]
    assert trades[0]["price"] == 50000.0 and trades[0]["amount"] == 0.02


# --- the protocol, with a raw WebSocket ---


def _sign(cred, params: dict) -> dict:
    """Binance's WebSocket API signature: HMAC-SHA256 of every parameter but the signature,
    sorted by name, ``k=v`` joined by ``&`` (booleans as true/false)."""
    def text(v):
        return ("true" if v else "false") if isinstance(v, bool) else str(v)

    out = {"apiKey": cred.api_key, "timestamp": int(time.time() * 1000), **params}
    payload = "&".join(f"{k}={text(v)}" for k, v in sorted(out.items()))
    out["signature"] = hmac.new(cred.secret.encode(), payload.encode(), hashlib.sha256).hexdigest()
    return out


async def _session(url, frames):
    """Send each frame (a dict is JSON-encoded) and read one answer to each."""
    async with aiohttp.ClientSession() as s, s.ws_connect(url) as ws:
        out = []
        for f in frames:
            await ws.send_str(f if isinstance(f, str) else json.dumps(f))
            msg = await asyncio.wait_for(ws.receive(), WAIT)
            assert msg.type == aiohttp.WSMsgType.TEXT, msg
            out.append(json.loads(msg.data))
        return out


def _ws(srv, frames, query=""):
    return run(_session(f"{srv.ws_url}/ws-fapi/v1{query}", frames))


def test_signed_requests_are_checked_as_binance_checks_them(srv, mock, trader_cred):
    reader = srv.call(mock.add_account, deposit="100", permissions=("read",))
    order = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC",
             "quantity": "0.01", "price": "49000"}
    bad = _sign(trader_cred, order)
    bad["price"] = "48000"                                    # changed after signing
    stale = _sign(trader_cred, {**order, "timestamp": int(time.time() * 1000) - 60_000})
    unsigned = {"apiKey": trader_cred.api_key, "timestamp": int(time.time() * 1000), **order}
    answers = _ws(srv, [
        {"id": 1, "method": "order.place", "params": bad},
        {"id": 2, "method": "order.place", "params": stale},
        {"id": 3, "method": "order.place", "params": unsigned},
        {"id": 4, "method": "order.place", "params": {**_sign(reader, order)}},
        {"id": 5, "method": "order.place", "params": {**order, "timestamp": 1,
                                                      "signature": "00"}},
        {"id": 6, "method": "account.balance", "params": _sign(reader, {})},
        {"id": "x-7", "method": "order.place", "params": _sign(trader_cred, order)},
    ])
    codes = [(a["id"], a["status"], a.get("error", {}).get("code")) for a in answers]
    assert codes == [(1, 400, -1022), (2, 400, -1021), (3, 400, -1102), (4, 401, -2015),
                     (5, 400, -1102), (6, 200, None), ("x-7", 200, None)]
    assert "'signature'" in answers[2]["error"]["msg"] and "'apiKey'" in answers[4]["error"]["msg"]
    placed = answers[6]["result"]
    assert placed["status"] == "NEW" and placed["price"] == "49000"
    # one order only, the signed one; it is the account's order for REST too
    orders = srv.call(lambda: [o for o in mock._orders.values() if o.status == "NEW"])
    assert [o.order_id for o in orders] == [placed["orderId"]]


def test_rate_limits_are_the_rest_ones_and_shown_unless_asked_not_to(srv, trader_cred):
    frames = [{"id": 1, "method": "depth", "params": {"symbol": "BTCUSDT", "limit": 5}},
              {"id": 2, "method": "ticker.price", "params": {"symbol": "BTCUSDT"}},
              {"id": 3, "method": "order.place", "params": _sign(trader_cred, {
                  "symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC",
                  "quantity": "0.01", "price": "49000"})},
              {"id": 4, "method": "depth", "params": {"symbol": "BTCUSDT", "limit": 5,
                                                     "returnRateLimits": False}}]
    a = _ws(srv, frames)
    weights = [x["rateLimits"][0]["count"] for x in a[:3]]
    # the handshake weighs 5, depth(5) 2, ticker.price 1, order.place 0
    assert weights == [7, 8, 8], weights
    assert [r["rateLimitType"] for r in a[2]["rateLimits"]] == ["REQUEST_WEIGHT", "ORDERS", "ORDERS"]
    assert a[2]["rateLimits"][1]["count"] == 1
    assert "rateLimits" not in a[3] and a[3]["result"]["bids"] == [["49000", "0.01"]]
    # shared with REST: the next REST answer counts the socket's weight too
    import urllib.request

    with urllib.request.urlopen(f"{srv.base_url}/fapi/v1/ping") as resp:
        assert int(resp.headers["X-MBX-USED-WEIGHT-1M"]) == 5 + 2 + 1 + 0 + 2 + 1   # + the ping
    # hidden for the whole connection with ?returnRateLimits=false
    hidden = _ws(srv, frames[:1], query="?returnRateLimits=false")
    assert "rateLimits" not in hidden[0] and hidden[0]["status"] == 200


def test_malformed_frames_and_unknown_methods_are_answered_and_the_socket_stays_open(srv):
    answers = _ws(srv, [
        "{not json",
        "[1, 2]",
        {"id": {"a": 1}, "method": "depth"},
        {"id": 9, "params": {}},
        {"id": 10, "method": "openOrders.status", "params": {}},
        {"id": 11, "method": "depth", "params": [1]},
        {"id": 12, "method": "depth", "params": {"symbol": ["BTCUSDT"]}},
        {"id": 13, "method": "depth", "params": {"symbol": "NOPE"}},
        {"id": 14, "method": "depth", "params": {"symbol": "BTCUSDT", "limit": 7}},
        {"id": 15, "method": "ticker.book", "params": {"symbol": "BTCUSDT"}},
        {"id": None, "method": "ticker.price"},
    ])
    got = [(a["id"], a["status"], a.get("error", {}).get("code")) for a in answers]
    assert got == [(None, 400, -1000), (None, 400, -1000), (None, 400, -1000),
                   (9, 400, -1102), (10, 400, -1000), (11, 400, -1000), (12, 400, -1100),
                   (13, 400, -1121), (14, 400, -1130), (15, 200, None), (None, 200, None)]
    assert "invalid JSON" in answers[0]["error"]["msg"]
    assert "openOrders.status" in answers[4]["error"]["msg"] and "order.place" in answers[4]["error"]["msg"]
    assert "'symbol'" in answers[6]["error"]["msg"]
    assert {t["symbol"] for t in answers[10]["result"]} == set(srv.mock.venue.symbols)


def test_sessions_and_user_data_streams(srv, trader_cred):
    key = trader_cred.api_key
    a = _ws(srv, [
        {"id": 1, "method": "session.status"},
        {"id": 2, "method": "session.logon", "params": _sign(trader_cred, {})},
        {"id": 3, "method": "userDataStream.start", "params": {"apiKey": key}},
        {"id": 4, "method": "userDataStream.ping", "params": {"apiKey": key}},
        {"id": 5, "method": "userDataStream.start", "params": {"apiKey": key}},
        {"id": 6, "method": "userDataStream.stop", "params": {"apiKey": key}},
        {"id": 7, "method": "userDataStream.ping", "params": {"apiKey": key}},
        {"id": 8, "method": "userDataStream.start", "params": {"apiKey": "nope"}},
        {"id": 9, "method": "session.logout"},
    ])
    assert a[0]["result"]["apiKey"] is None and a[0]["result"]["connectedSince"] > 0
    # Ed25519 keys only (the mock's keys are HMAC): Binance refuses the signature
    assert a[1]["error"]["code"] == -1022 and "Ed25519" in a[1]["error"]["msg"]
    lk = a[2]["result"]["listenKey"]
    assert len(lk) == 64 and a[4]["result"]["listenKey"] == lk   # the live key again
    assert a[3]["status"] == 200 and a[5] == {**a[5], "status": 200, "result": {}}
    assert a[6]["error"]["code"] == -1125 and a[7]["error"]["code"] == -2015
    assert a[8]["result"]["apiKey"] is None


def test_an_order_placed_over_the_websocket_api_survives_a_restart(tmp_path):
    mock = MockBinance(marks={"BTCUSDT": "50000"}, state_dir=tmp_path)
    cred = mock.add_account(deposit="10000")
    with ServerThread(mock) as srv:
        a = _ws(srv, [{"id": 1, "method": "order.place", "params": _sign(cred, {
            "symbol": "BTCUSDT", "side": "SELL", "type": "LIMIT", "timeInForce": "GTC",
            "quantity": "0.01", "price": "51000"})}])
    oid = a[0]["result"]["orderId"]
    again = MockBinance(state_dir=tmp_path)
    o = again._orders[oid]
    assert (o.status, o.side, o.symbol) == ("NEW", "SELL", "BTCUSDT")
    again.venue.check_invariants()


# --- a fuzz of every method's parameters ---

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from exchange.server.handlers.ws_api import METHODS  # noqa: E402
from tests.exchange.server.test_bad_input import ENDPOINTS, VALUE  # noqa: E402

_NAMES = {(m, p): names for m, p, names in ENDPOINTS}
_JSON_VALUE = st.one_of(VALUE, st.integers(-2**70, 2**70), st.booleans(), st.none(),
                        st.floats(allow_nan=False), st.lists(st.integers(), max_size=2),
                        st.dictionaries(st.text(max_size=3), st.integers(), max_size=2))


@pytest.fixture(scope="module")
def fuzzed():
    mock = MockBinance(marks={"BTCUSDT": "50000", "ETHUSDT": "3000"}, rate_limits=None)
    maker, trader = mock.add_account(deposit="10000000"), mock.add_account(deposit="10000")
    for side, price in (("SELL", "50100"), ("BUY", "49900")):
        mock._mutate("new_order", maker, {"symbol": "BTCUSDT", "side": side, "type": "LIMIT",
                                          "quantity": "1", "price": price, "timeInForce": "GTC"})
    return mock, trader


@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_fuzz_every_method_answers_binances_envelope(fuzzed, data):
    mock, trader = fuzzed
    method = data.draw(st.sampled_from(sorted(METHODS) + ["session.status", "nope"]))
    http_method, path, _ = METHODS.get(method, ("GET", "", ""))
    names = _NAMES.get((http_method, path), ["symbol", "limit", "side", "quantity", "price"])
    params = data.draw(st.dictionaries(st.sampled_from(names), _JSON_VALUE,
                                       max_size=len(names)))
    if data.draw(st.booleans()):                     # signed, so that it reaches the handler
        params = _sign(trader, params)
    rid = data.draw(st.one_of(st.none(), st.integers(0, 10**6), st.text(max_size=8)))
    out = asyncio.run(mock._ws_request(json.dumps({"id": rid, "method": method,
                                                   "params": params}), "127.0.0.1",
                                       {"connectedSince": 1, "apiKey": None,
                                        "authorizedSince": None, "returnRateLimits": True}))
    answer = json.loads(out)
    assert answer["id"] == rid
    assert answer["status"] in (200, 400, 401, 404), answer
    if answer["status"] != 200:
        assert isinstance(answer["error"]["code"], int) and answer["error"]["code"] < 0
        assert answer["error"]["msg"] and "Traceback" not in answer["error"]["msg"]
    mock.venue.check_invariants()


# --- Ed25519 keys: REST, the WebSocket API, session.logon ---


def _sign_ed25519(private_pem: str, params: dict) -> dict:
    import base64

    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    out = {"timestamp": int(time.time() * 1000), **params}
    payload = "&".join(f"{k}={v}" for k, v in sorted(out.items()))
    key = load_pem_private_key(private_pem.encode(), None)
    out["signature"] = base64.b64encode(key.sign(payload.encode())).decode()
    return out


def test_ed25519_keys_sign_rest_and_websocket_requests_and_log_on_a_session(srv, mock, connect,
                                                                             maker):
    pytest.importorskip("cryptography")
    cred = srv.call(mock.add_account, deposit="10000", key_type="ED25519")
    assert cred.key_type == "ED25519" and "PRIVATE KEY" in cred.secret
    assert "PUBLIC KEY" in cred.public_key
    maker.create_order(BTC, "limit", "sell", 1, 50000)
    # ccxt signs REST and WebSocket API requests with the PEM secret (base64 Ed25519)
    rest = connect(cred)
    bought = rest.create_order(BTC, "market", "buy", 0.01)
    assert bought["status"] == "closed" and rest.fetch_positions([BTC])[0]["contracts"] == 0.01

    async def over_ws():
        c = pro(srv, cred)
        try:
            return await c.create_order_ws(BTC, "limit", "buy", 0.01, 49000)
        finally:
            await c.close()

    assert run(over_ws())["status"] == "open"
    # a key registered from its public half only: the venue never sees the private key
    from exchange.server.auth import ed25519_keypair

    private, public = ed25519_keypair()
    own = srv.call(mock.add_account, deposit="100", key_type="ed25519", public_key=public)
    assert own.secret == ""
    order = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC",
             "quantity": "0.01", "price": "48000"}
    a = _ws(srv, [
        {"id": 1, "method": "order.place", "params": order},            # not logged on
        {"id": 2, "method": "session.logon",
         "params": _sign_ed25519(cred.secret, {"apiKey": own.api_key})},   # the wrong key
        {"id": 3, "method": "session.logon",
         "params": _sign_ed25519(private, {"apiKey": own.api_key})},
        {"id": 4, "method": "session.status"},
        {"id": 5, "method": "order.place", "params": {**order, "timestamp": int(time.time() * 1000)}},
        {"id": 6, "method": "account.balance", "params": {"timestamp": int(time.time() * 1000)}},
        {"id": 7, "method": "session.logout"},
        {"id": 8, "method": "order.place", "params": {**order, "timestamp": int(time.time() * 1000)}},
    ])
    assert [x.get("error", {}).get("code") for x in a] == [-1102, -1022, None, None, None, None,
                                                           None, -1102]
    assert a[2]["result"]["apiKey"] == own.api_key and a[2]["result"]["authorizedSince"] > 0
    assert a[3]["result"]["apiKey"] == own.api_key
    assert a[4]["result"]["status"] == "NEW" and a[4]["result"]["price"] == "48000"
    assert a[6]["result"]["apiKey"] is None
    owned = srv.call(lambda: [o.order_id for o in mock._orders.values()
                              if o.account == own.account and o.status == "NEW"])
    assert owned == [a[4]["result"]["orderId"]]      # the session's order only


def test_an_ed25519_key_is_restored_from_the_journal(tmp_path):
    pytest.importorskip("cryptography")
    mock = MockBinance(marks={"BTCUSDT": "50000"}, state_dir=tmp_path)
    cred = mock.add_account(deposit="10000", key_type="ED25519")
    again = MockBinance(state_dir=tmp_path)
    restored = again._keys[cred.api_key]
    assert (restored.key_type, restored.public_key, restored.secret) == \
        ("ED25519", cred.public_key, cred.secret)


def test_add_account_refuses_a_bad_key_type_or_public_key(mock):
    from exchange.errors import InvalidCommandError

    with pytest.raises(InvalidCommandError, match="key_type"):
        mock.add_account(key_type="RSA")
    with pytest.raises(InvalidCommandError, match="public_key"):
        mock.add_account(key_type="ED25519", public_key="-----BEGIN PUBLIC KEY-----\nnope\n")
    with pytest.raises(InvalidCommandError, match="public_key"):
        mock.add_account(public_key="x")
    first = mock.add_account(api_key="k1")
    with pytest.raises(InvalidCommandError, match="already in use"):
        mock.add_account(api_key="k1")
    assert mock._keys["k1"] == first
