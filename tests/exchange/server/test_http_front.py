"""The HTTP/1.1 front (:mod:`exchange.server.http`) serves HTTP the way aiohttp, the server it
replaced, did.

Most tests run against both front ends (``backend``: ``http="front"`` and ``http="aiohttp"``
over the same fresh venue setup), so every assertion is one that aiohttp meets; the
differential tests send the same requests to a server of each kind and compare what a client
sees (status, Content-Type, JSON with times normalized, the limiter's headers, whether the
connection stays open). Raw sockets are used where a real client would hide the behaviour
(pipelining, a WebSocket upgrade on a connection that served REST, ``Expect``, malformed
requests); ``requests`` and aiohttp's client elsewhere.
"""
from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import threading
import logging
import os
import socket
import struct
import time
from urllib.parse import urlencode

import aiohttp
import pytest
import requests

from exchange.server import MockBinance, ServerThread
from exchange.server import http as front_mod
from exchange.server.limits import RateLimits

pytestmark = pytest.mark.skipif(not front_mod.available(), reason="the front needs httptools")

MARKS = {"BTCUSDT": "50000", "ETHUSDT": "3000"}
# the same keys on every venue, so that one signed request is valid on both servers
MAKER = ("maker-key-" + "0" * 54, "maker-secret-" + "1" * 51)
TRADER = ("trader-key-" + "2" * 53, "trader-secret-" + "3" * 50)
BACKENDS = ("front", "aiohttp")
TIMEOUT = 5.0


def new_mock(**kwargs) -> MockBinance:
    """A fresh venue: BTCUSDT and ETHUSDT marked, a maker and a trader with fixed keys."""
    mock = MockBinance(marks=dict(MARKS), **kwargs)
    mock.add_account(deposit="10000000", api_key=MAKER[0], secret=MAKER[1])
    mock.add_account(deposit="100000", api_key=TRADER[0], secret=TRADER[1])
    return mock


@contextlib.contextmanager
def server(http: str, **kwargs):
    mock = new_mock(**kwargs)
    with ServerThread(mock, http=http) as srv:
        assert (srv._site.front is not None) == (http == "front")
        yield srv


@pytest.fixture(params=BACKENDS)
def backend(request):
    with server(request.param) as srv:
        yield srv


@pytest.fixture(scope="module")
def pair():
    """A server of each kind (fresh venues set up the same way), shared by stateless tests."""
    with server("front") as front, server("aiohttp") as aio:
        yield front, aio


# ---------------------------------------------------------------------- helpers
def signed_query(key_secret, params: dict, ts: int | None = None) -> str:
    params = {**params, "timestamp": str(ts if ts is not None else int(time.time() * 1000))}
    query = urlencode(params)
    sig = hmac.new(key_secret[1].encode(), query.encode(), hashlib.sha256).hexdigest()
    return f"{query}&signature={sig}"


def raw_request(method: str, target: str, headers: dict | None = None, body: bytes = b"",
                version: str = "1.1") -> bytes:
    h = {"Host": "127.0.0.1", **(headers or {})}
    if body and "Content-Length" not in h and "Transfer-Encoding" not in h:
        h["Content-Length"] = str(len(body))
    head = f"{method} {target} HTTP/{version}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in h.items())
    return (head + "\r\n").encode("latin-1") + body


def signed_raw(method: str, path: str, params: dict, key_secret=TRADER, in_body=False,
               extra: dict | None = None) -> bytes:
    q = signed_query(key_secret, params)
    headers = {"X-MBX-APIKEY": key_secret[0], **(extra or {})}
    if in_body:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
        return raw_request(method, path, headers, q.encode())
    return raw_request(method, f"{path}?{q}", headers)


class Response:
    def __init__(self, version, status, reason, headers, body):
        self.version, self.status, self.reason = version, status, reason
        self.headers, self.body = headers, body

    def header(self, name, default=None):
        return self.headers.get(name.lower(), default)

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return f"<{self.version} {self.status} {self.headers} {self.body[:200]!r}>"


class Raw:
    """A raw TCP connection to a server, reading HTTP/1.x responses by Content-Length."""

    def __init__(self, srv, timeout=TIMEOUT, rcvbuf: int | None = None):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        if rcvbuf is not None:                 # a small window: the server meets back-pressure
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.connect((srv.host, srv.port))
        self.buf = b""

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def _fill(self) -> bool:
        chunk = self.sock.recv(65536)
        if not chunk:
            return False
        self.buf += chunk
        return True

    def read_head(self) -> tuple[str, int, str, dict]:
        while b"\r\n\r\n" not in self.buf:
            if not self._fill():
                raise EOFError(f"the server closed the connection; had {self.buf!r}")
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        version, status, *reason = lines[0].split(" ", 2)
        headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        return version, int(status), (reason or [""])[0], headers

    def read_exactly(self, n: int) -> bytes:
        while len(self.buf) < n:
            if not self._fill():
                raise EOFError(f"the server closed the connection after {self.buf!r}")
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def response(self, head: bool = False) -> Response:
        version, status, reason, headers = self.read_head()
        n = 0 if head or status in (101, 204, 304) or status < 200 else int(
            headers.get("content-length", 0))
        return Response(version, status, reason, headers, self.read_exactly(n))

    def closed_by_server(self, wait: float = 2.0) -> bool:
        """Whether the server closes the connection (EOF or reset) within ``wait`` s with
        nothing more to read."""
        self.sock.settimeout(wait)
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return True
                self.buf += chunk
        except TimeoutError:
            return False
        except ConnectionResetError:
            return True
        finally:
            self.sock.settimeout(TIMEOUT)

    def close(self) -> None:
        self.sock.close()


@contextlib.contextmanager
def raw(srv):
    conn = Raw(srv)
    try:
        yield conn
    finally:
        conn.close()


def one(srv, data: bytes, head=False) -> tuple[Response, bool]:
    """Send ``data`` on a new connection: the response and whether the server then closed."""
    with raw(srv) as c:
        c.send(data)
        r = c.response(head=head)
        return r, c.closed_by_server(0.2)


def assert_alive(srv) -> None:
    r = requests.get(f"{srv.base_url}/fapi/v1/ping", timeout=TIMEOUT)
    assert r.status_code == 200 and r.json() == {}


def ms_times_normalized(value):
    """JSON with millisecond timestamps (what legitimately differs between two venues run a
    few milliseconds apart) replaced by a marker."""
    if isinstance(value, dict):
        return {k: ms_times_normalized(v) for k, v in value.items()}
    if isinstance(value, list):
        return [ms_times_normalized(v) for v in value]
    if isinstance(value, int) and not isinstance(value, bool) and 1_500_000_000_000 <= value < 5e12:
        return "<ms>"
    return value


def seen(status, headers, body: bytes):
    """What a client sees of an answer, times normalized."""
    ctype = headers.get("content-type", headers.get("Content-Type"))
    try:
        content = ms_times_normalized(json.loads(body)) if body else None
    except ValueError:
        content = body.decode("latin-1")
    limiter = {k.lower(): v for k, v in headers.items() if k.lower().startswith("x-mbx-")}
    retry = headers.get("retry-after", headers.get("Retry-After"))
    length = headers.get("content-length", headers.get("Content-Length"))
    return {"status": status, "content-type": ctype, "body": content, "limiter": limiter,
            "retry-after": retry, "content-length": length}


# ---------------------------------------------------------------------- 1. differential
def scripted_requests():
    """(name, method, path, kwargs for requests, signed-by) in the order they are sent."""
    order = dict(symbol="BTCUSDT", side="BUY", type="LIMIT", quantity="0.01", price="49000",
                 timeInForce="GTC", newClientOrderId="front-diff-1")
    return [
        ("ping", "GET", "/fapi/v1/ping", {}, None),
        ("time", "GET", "/fapi/v1/time", {}, None),
        ("exchangeInfo", "GET", "/fapi/v1/exchangeInfo", {}, None),
        ("depth", "GET", "/fapi/v1/depth", {"params": {"symbol": "BTCUSDT", "limit": "5"}}, None),
        ("klines", "GET", "/fapi/v1/klines",
         {"params": {"symbol": "BTCUSDT", "interval": "1m", "limit": "10"}}, None),
        ("maker ask", "POST", "/fapi/v1/order",
         dict(symbol="BTCUSDT", side="SELL", type="LIMIT", quantity="1", price="50100",
              timeInForce="GTC", newClientOrderId="maker-ask"), MAKER),
        ("place", "POST", "/fapi/v1/order", order, TRADER),
        ("depth after", "GET", "/fapi/v1/depth", {"params": {"symbol": "BTCUSDT"}}, None),
        ("take", "POST", "/fapi/v1/order",
         dict(symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.02",
              newClientOrderId="taker-1"), TRADER),
        ("trades", "GET", "/fapi/v1/trades", {"params": {"symbol": "BTCUSDT"}}, None),
        ("aggTrades", "GET", "/fapi/v1/aggTrades", {"params": {"symbol": "BTCUSDT"}}, None),
        ("klines after", "GET", "/fapi/v1/klines",
         {"params": {"symbol": "BTCUSDT", "interval": "1m"}}, None),
        ("userTrades", "GET", "/fapi/v1/userTrades", dict(symbol="BTCUSDT"), TRADER),
        ("query", "GET", "/fapi/v1/order", dict(symbol="BTCUSDT", origClientOrderId="front-diff-1"),
         TRADER),
        ("openOrders", "GET", "/fapi/v1/openOrders", dict(symbol="BTCUSDT"), TRADER),
        ("account", "GET", "/fapi/v2/account", {}, TRADER),
        ("balance", "GET", "/fapi/v2/balance", {}, TRADER),
        ("cancel", "DELETE", "/fapi/v1/order",
         dict(symbol="BTCUSDT", origClientOrderId="front-diff-1"), TRADER),
        ("cancel again", "DELETE", "/fapi/v1/order",
         dict(symbol="BTCUSDT", origClientOrderId="front-diff-1"), TRADER),
        ("bad signature", "GET", "/fapi/v2/account", {}, "bad-signature"),
        ("no api key", "GET", "/fapi/v2/account", {}, "no-key"),
        ("unknown key", "GET", "/fapi/v2/account", {}, "unknown-key"),
        ("missing param", "POST", "/fapi/v1/order",
         dict(symbol="BTCUSDT", side="BUY", type="LIMIT", quantity="0.01"), TRADER),
        ("missing symbol", "GET", "/fapi/v1/depth", {}, None),
        ("unknown symbol", "GET", "/fapi/v1/depth", {"params": {"symbol": "NOPEUSDT"}}, None),
        ("unknown path 404", "GET", "/fapi/v1/nope", {}, None),
        ("wrong method 405", "PATCH", "/fapi/v1/order", {}, None),
        ("post on a GET route 405", "POST", "/fapi/v1/ping", {}, None),
        ("head on a GET route", "HEAD", "/fapi/v1/time", {}, None),
        ("head on exchangeInfo", "HEAD", "/fapi/v1/exchangeInfo", {}, None),
        ("body-form POST", "POST", "/fapi/v1/order",
         dict(order, newClientOrderId="front-diff-2", price="48000"), ("body", TRADER)),
        ("body-form leverage", "POST", "/fapi/v1/leverage",
         dict(symbol="BTCUSDT", leverage="7"), ("body", TRADER)),
        ("non-UTF-8 body", "POST", "/fapi/v1/order", b"symbol=BTC\xff\xfeUSDT&side=BUY",
         ("raw", TRADER)),
        ("percent-encoded non-UTF-8", "POST", "/fapi/v1/order", b"symbol=%FF%FE&side=BUY",
         ("raw", TRADER)),
        ("ws path without upgrade", "GET", "/ws/btcusdt@depth", {}, None),
        ("query after all", "GET", "/fapi/v1/allOrders", dict(symbol="BTCUSDT"), TRADER),
        ("positionRisk", "GET", "/fapi/v2/positionRisk", dict(symbol="BTCUSDT"), TRADER),
    ]


def send_scripted(session, srv, method, path, kw, signer, ts):
    url = srv.base_url + path
    if signer is None:
        return session.request(method, url, timeout=TIMEOUT, **kw)
    if signer in ("bad-signature", "no-key", "unknown-key"):
        q = signed_query(TRADER, kw, ts)
        if signer == "bad-signature":
            q = q[:-4] + ("0000" if not q.endswith("0000") else "1111")
        key = {"bad-signature": TRADER[0], "no-key": None, "unknown-key": "x" * 64}[signer]
        headers = {"X-MBX-APIKEY": key} if key else {}
        return session.request(method, f"{url}?{q}", headers=headers, timeout=TIMEOUT)
    if isinstance(signer, tuple) and signer[0] == "body":
        body = signed_query(signer[1], kw, ts).encode()
        return session.request(method, url, data=body, timeout=TIMEOUT, headers={
            "X-MBX-APIKEY": signer[1][0], "Content-Type": "application/x-www-form-urlencoded"})
    if isinstance(signer, tuple) and signer[0] == "raw":
        body = kw + f"&timestamp={ts}".encode()
        sig = hmac.new(signer[1][1].encode(), body, hashlib.sha256).hexdigest()
        return session.request(method, url, data=body + b"&signature=" + sig.encode(),
                               timeout=TIMEOUT, headers={
                                   "X-MBX-APIKEY": signer[1][0],
                                   "Content-Type": "application/x-www-form-urlencoded"})
    q = signed_query(signer, kw, ts)
    return session.request(method, f"{url}?{q}", headers={"X-MBX-APIKEY": signer[0]},
                           timeout=TIMEOUT)


def test_representative_requests_get_the_same_answers_from_the_front_and_from_aiohttp(caplog):
    caplog.set_level(logging.ERROR, logger="perpsim.server")
    diffs, answered = [], 0
    with server("front") as front, server("aiohttp") as aio, \
            requests.Session() as s_front, requests.Session() as s_aio:
        for name, method, path, kw, signer in scripted_requests():
            ts = int(time.time() * 1000)
            got = {}
            for srv, session in ((front, s_front), (aio, s_aio)):
                r = send_scripted(session, srv, method, path, kw, signer, ts)
                got[srv.http] = seen(r.status_code, r.headers, r.content)
            answered += 1
            if got["front"] != got["aiohttp"]:
                diffs.append((name, got["front"], got["aiohttp"]))
            # sanity: the script does what it says (a broken script would compare nothing)
            if name in ("ping", "place", "take", "query", "cancel", "account", "body-form POST"):
                assert got["aiohttp"]["status"] == 200, (name, got["aiohttp"])
        srv_states = [srv.call(lambda m=srv.mock: (len(m._orders), m.venue.ts_ns > 0))
                      for srv in (front, aio)]
    assert answered == len(scripted_requests())
    assert srv_states[0] == srv_states[1]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not diffs, "\n".join(f"{n}:\n  front:   {f}\n  aiohttp: {a}" for n, f, a in diffs)


WS_KEY = base64.b64encode(b"perpsim-front-ws").decode()
WS_ACCEPT = base64.b64encode(hashlib.sha1(
    (WS_KEY + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest()).decode()


def upgrade(path: str) -> bytes:
    return raw_request("GET", path, {"Upgrade": "websocket", "Connection": "Upgrade",
                                     "Sec-WebSocket-Key": WS_KEY, "Sec-WebSocket-Version": "13"})


# raw requests a client library would not send, compared on both servers: status,
# Content-Type, body, and whether the server closed the connection afterwards
RAW_CASES = {
    "HEAD on a GET route": (raw_request("HEAD", "/fapi/v1/ping"), True),
    "HEAD on an unknown path": (raw_request("HEAD", "/nope"), True),
    "percent-encoded path": (raw_request("GET", "/fapi/v1/p%69ng"), False),
    "OPTIONS": (raw_request("OPTIONS", "/fapi/v1/ping"), False),
    "trailing slash": (raw_request("GET", "/fapi/v1/ping/"), False),
    "chunked body": (raw_request("POST", "/fapi/v1/order", {
        "Transfer-Encoding": "chunked", "Content-Type": "application/x-www-form-urlencoded"},
        b"5\r\nsymbo\r\n0\r\n\r\n"), False),
    "HTTP/1.0 POST": (raw_request("POST", "/fapi/v1/order", body=b"abc", version="1.0"), False),
    "ws stream path without upgrade": (raw_request("GET", "/ws/btcusdt@depth"), False),
    "ws stream path without upgrade, unknown stream": (raw_request("GET", "/private/ws/abc"),
                                                       False),
    "/ws without upgrade": (raw_request("GET", "/ws"), False),
    "/public/ws without upgrade": (raw_request("GET", "/public/ws"), False),
    "/stream without upgrade": (raw_request("GET", "/stream?streams=btcusdt@depth"), False),
    "POST on a ws stream path": (raw_request("POST", "/ws/btcusdt@depth", {
        "Content-Length": "0"}), False),
    "absolute-form target": (raw_request("GET", "http://127.0.0.1/fapi/v1/ping"), False),
    "unknown Expect": (raw_request("POST", "/fapi/v1/order", {"Expect": "200-ok"}, b"abc"), False),
    "HTTP/1.1 without Host": (b"GET /fapi/v1/ping HTTP/1.1\r\n\r\n", False),
    "a fragment in the target": (raw_request("GET", "/fapi/v1/ping#frag"), False),
    "Expect: 100-continue on HTTP/1.0": (raw_request("POST", "/fapi/v1/order", {
        "Expect": "100-continue"}, b"abc", version="1.0"), False),
    "Expect: 100-continue on a GET": (raw_request("GET", "/fapi/v1/ping", {
        "Expect": "100-continue"}), False),
    "GET with a body": (raw_request("GET", "/fapi/v1/ping", {}, b"abc"), False),
    "upgrade to an unknown path": (upgrade("/nope"), False),
    "upgrade with a POST": (raw_request("POST", "/ws/btcusdt@depth", {
        "Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Key": "x",
        "Sec-WebSocket-Version": "13", "Content-Length": "0"}), False),
    "upgrade without a key": (raw_request("GET", "/ws/btcusdt@depth", {
        "Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Version": "13"}), False),
    "a duplicated parameter": (raw_request("GET", "/fapi/v1/ticker/price?symbol=BTCUSDT"
                                                  "&symbol=ETHUSDT"), False),
}


@pytest.mark.parametrize("case", list(RAW_CASES))
def test_a_raw_request_gets_the_same_answer_from_the_front_and_from_aiohttp(pair, case):
    data, head = RAW_CASES[case]
    answers = {}
    for srv in pair:
        r, closed = one(srv, data, head=head)
        answers[srv.http] = {**seen(r.status, r.headers, r.body), "closed": closed}
        answers[srv.http]["limiter"] = sorted(answers[srv.http]["limiter"])   # names only
    assert answers["front"] == answers["aiohttp"]
    for srv in pair:
        assert_alive(srv)


def test_a_percent_encoded_non_utf8_path_is_not_found_on_both(pair):
    # the message names the path: aiohttp as sent ("%FF"), the front decoded ("\ufffd"); a
    # cosmetic difference, so only what a client acts on is compared
    answers = {}
    for srv in pair:
        r, closed = one(srv, raw_request("GET", "/fapi/v1/%FF"))
        answers[srv.http] = (r.status, r.header("content-type"), r.json()["code"], closed)
    assert answers["front"] == answers["aiohttp"] == (
        404, "application/json; charset=utf-8", -1000, False)


# ---------------------------------------------------------------------- 2. keep-alive
def test_a_session_reuses_one_connection_for_many_requests(backend):
    with requests.Session() as s:
        for i in range(40):
            path = ("/fapi/v1/ping", "/fapi/v1/time", "/fapi/v1/nope")[i % 3]
            r = s.get(backend.base_url + path, timeout=TIMEOUT)
            assert r.status_code == (200, 200, 404)[i % 3]
            assert r.headers.get("Connection", "").lower() != "close"
        q = signed_query(TRADER, {})
        r = s.get(f"{backend.base_url}/fapi/v2/account?{q}", headers={"X-MBX-APIKEY": TRADER[0]},
                  timeout=TIMEOUT)
        assert r.status_code == 200, r.text
        pools = s.get_adapter(backend.base_url).poolmanager.pools
        assert [pools[k].num_connections for k in pools.keys()] == [1]        # 41 requests, 1 connection


def test_two_requests_one_after_the_other_on_one_socket(backend):
    with raw(backend) as c:
        for path, status in (("/fapi/v1/ping", 200), ("/fapi/v1/time", 200), ("/nope", 404),
                             ("/fapi/v1/ping", 200)):
            c.send(raw_request("GET", path))
            r = c.response()
            assert r.status == status, r
            assert r.header("connection", "").lower() != "close"
        assert "serverTime" not in json.dumps(r.json())
        assert not c.closed_by_server(0.3)


def test_http10_without_keep_alive_is_answered_then_closed(backend):
    with raw(backend) as c:
        c.send(b"GET /fapi/v1/time HTTP/1.0\r\n\r\n")
        r = c.response()
        assert r.status == 200 and "serverTime" in r.json()
        if backend.http == "front":
            assert r.header("connection") == "close"
        assert r.header("connection", "close").lower() == "close"
        assert c.closed_by_server()


def test_http10_with_keep_alive_stays_open_and_says_so(backend):
    # an HTTP/1.0 client keeps the connection only if the answer says "Connection:
    # keep-alive" (ApacheBench -k counts on it); aiohttp says so
    with raw(backend) as c:
        for _ in range(3):
            c.send(b"GET /fapi/v1/ping HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            r = c.response()
            assert r.status == 200
            assert r.header("connection", "").lower() == "keep-alive", r
        assert not c.closed_by_server(0.3)


def test_connection_close_is_honoured(backend):
    with raw(backend) as c:
        c.send(raw_request("GET", "/fapi/v1/ping"))
        assert c.response().status == 200
        c.send(raw_request("GET", "/fapi/v1/ping", {"Connection": "close"}))
        r = c.response()
        assert r.status == 200 and r.header("connection").lower() == "close"
        assert c.closed_by_server()
    assert_alive(backend)


def test_connection_close_with_a_signed_post(backend):
    r = requests.post(f"{backend.base_url}/fapi/v1/leverage?" + signed_query(
        TRADER, {"symbol": "BTCUSDT", "leverage": "5"}), headers={
        "X-MBX-APIKEY": TRADER[0], "Connection": "close"}, timeout=TIMEOUT)
    assert r.status_code == 200 and r.json()["leverage"] == 5
    assert r.headers["Connection"].lower() == "close"


def test_an_idle_keep_alive_connection_is_closed_by_the_front(monkeypatch):
    monkeypatch.setattr(front_mod, "KEEPALIVE_S", 0.5)
    with server("front") as srv, raw(srv) as idle, raw(srv) as busy:
        idle.send(raw_request("GET", "/fapi/v1/ping"))
        assert idle.response().status == 200
        deadline = time.monotonic() + 1.5
        while time.monotonic() < deadline:            # a connection in use is kept
            busy.send(raw_request("GET", "/fapi/v1/ping"))
            assert busy.response().status == 200
            time.sleep(0.1)
        assert idle.closed_by_server(2.0)
        assert srv.call(lambda: len(srv._site.front.connections)) <= 1


# ---------------------------------------------------------------------- 3. pipelining
def test_pipelined_requests_are_answered_in_order(backend):
    q = signed_query(TRADER, {"symbol": "BTCUSDT", "leverage": "9"})
    reqs = [raw_request("GET", "/fapi/v1/time"),
            raw_request("GET", "/nope"),
            raw_request("POST", "/fapi/v1/leverage", {
                "X-MBX-APIKEY": TRADER[0], "Content-Type": "application/x-www-form-urlencoded"},
                q.encode()),
            raw_request("HEAD", "/fapi/v1/exchangeInfo"),
            raw_request("GET", "/fapi/v1/ping")]
    with raw(backend) as c:
        c.send(b"".join(reqs[:3]))                       # three in one write
        r1, r2, r3 = c.response(), c.response(), c.response()
        assert (r1.status, r2.status, r3.status) == (200, 404, 200), (r1, r2, r3)
        assert "serverTime" in r1.json()
        assert r2.json()["code"] == -1000 and "/nope" in r2.json()["msg"]
        assert r3.json()["leverage"] == 9
        both = reqs[3] + reqs[4]                          # a pipeline split mid-request
        c.send(both[:17])
        time.sleep(0.05)
        c.send(both[17:])
        r4, r5 = c.response(head=True), c.response()
        assert r4.status == 200 and int(r4.header("content-length")) > 100
        assert r5.status == 200 and r5.json() == {}
        weights = [int(r.header("x-mbx-used-weight-1m")) for r in (r1, r2, r3, r4, r5)]
        assert weights == sorted(weights) and len(set(weights)) == 5


def test_a_pipeline_stops_at_connection_close(backend):
    with raw(backend) as c:
        c.send(raw_request("GET", "/fapi/v1/ping") + raw_request("GET", "/fapi/v1/time", {
            "Connection": "close"}))
        assert c.response().status == 200
        r = c.response()
        assert r.status == 200 and "serverTime" in r.json()
        assert c.closed_by_server()


# ---------------------------------------------------------------------- 4. WebSocket
def ws_frame(text: str) -> bytes:
    """A masked client text frame."""
    data = text.encode()
    mask = os.urandom(4)
    n = len(data)
    head = bytes([0x81]) + (bytes([0x80 | n]) if n < 126 else bytes([0x80 | 126]) + struct.pack("!H", n))
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data))


def read_ws_text(c: Raw, timeout: float = TIMEOUT) -> str:
    """The next text frame from the server (control frames skipped)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        b0, b1 = c.read_exactly(2)
        n = b1 & 0x7F
        if n == 126:
            n = struct.unpack("!H", c.read_exactly(2))[0]
        elif n == 127:
            n = struct.unpack("!Q", c.read_exactly(8))[0]
        payload = c.read_exactly(n)
        if b0 & 0x0F == 1:
            return payload.decode()
        if b0 & 0x0F == 8:
            raise AssertionError(f"the server closed the WebSocket: {payload!r}")
    raise AssertionError("no text frame")


def assert_subscribes(c: Raw, msg_id: int) -> None:
    c.send(ws_frame(json.dumps({"method": "SUBSCRIBE", "params": ["ethusdt@markPrice"],
                                "id": msg_id})))
    while True:
        data = json.loads(read_ws_text(c))
        if data.get("id") == msg_id:
            assert data == {"result": None, "id": msg_id}
            return


def test_a_websocket_upgrade_on_a_connection_that_served_rest(backend):
    with raw(backend) as c:
        c.send(raw_request("GET", "/fapi/v1/ping"))
        assert c.response().status == 200
        c.send(raw_request("GET", "/fapi/v1/time"))
        assert "serverTime" in c.response().json()
        c.send(upgrade("/ws/btcusdt@depth"))
        r = c.response()
        assert r.status == 101, r
        assert r.header("upgrade").lower() == "websocket"
        assert r.header("sec-websocket-accept") == WS_ACCEPT
        assert_subscribes(c, 7)


def test_a_websocket_upgrade_pipelined_after_rest_with_a_frame_in_the_same_write(backend):
    with raw(backend) as c:
        sub = json.dumps({"method": "SUBSCRIBE", "params": ["btcusdt@aggTrade"], "id": 3})
        c.send(raw_request("GET", "/fapi/v1/ping") + upgrade("/ws/btcusdt@depth") + ws_frame(sub))
        assert c.response().status == 200
        assert c.response().status == 101
        while True:
            data = json.loads(read_ws_text(c))
            if data.get("id") == 3:
                assert data == {"result": None, "id": 3}
                break
        assert_subscribes(c, 4)


def test_a_websocket_upgrade_sent_in_pieces(backend):
    with raw(backend) as c:
        data = upgrade("/stream?streams=btcusdt@depth")
        for i in range(0, len(data), 40):
            c.send(data[i:i + 40])
            time.sleep(0.01)
        assert c.response().status == 101
        assert_subscribes(c, 11)


def test_an_unknown_stream_is_refused_on_upgrade(backend):
    with raw(backend) as c:
        c.send(raw_request("GET", "/fapi/v1/ping"))
        assert c.response().status == 200
        c.send(upgrade("/ws/nope@nothing"))
        r = c.response()
        assert r.status == 400 and r.json()["code"] == -1121
        c.send(raw_request("GET", "/fapi/v1/time"))     # the connection still serves REST
        assert "serverTime" in c.response().json()
    assert_alive(backend)


def test_aiohttp_ws_connect_and_subscribe(backend):
    async def go():
        async with aiohttp.ClientSession() as session:
            r = await session.get(backend.base_url + "/fapi/v1/ping")     # same pool
            assert r.status == 200 and await r.json() == {}
            async with session.ws_connect(backend.ws_url + "/ws/btcusdt@depth") as ws:
                await ws.send_json({"method": "SUBSCRIBE", "params": ["btcusdt@markPrice"],
                                    "id": 42})
                while True:
                    msg = await asyncio.wait_for(ws.receive(), TIMEOUT)
                    assert msg.type == aiohttp.WSMsgType.TEXT, msg
                    data = json.loads(msg.data)
                    if data.get("id") == 42:
                        assert data == {"result": None, "id": 42}
                        break
                await ws.send_json({"method": "LIST_SUBSCRIPTIONS", "id": 43})
                while True:
                    data = json.loads((await asyncio.wait_for(ws.receive(), TIMEOUT)).data)
                    if data.get("id") == 43:
                        assert set(data["result"]) >= {"btcusdt@depth", "btcusdt@markPrice"}
                        break
            r = await session.get(backend.base_url + "/fapi/v1/time")
            assert r.status == 200

    asyncio.run(asyncio.wait_for(go(), 15))


# ---------------------------------------------------------------------- 5. Expect
def test_expect_100_continue(backend):
    data = signed_raw("POST", "/fapi/v1/leverage", {"symbol": "BTCUSDT", "leverage": "3"},
                      in_body=True, extra={"Expect": "100-continue"})
    head, body = data.split(b"\r\n\r\n", 1)
    with raw(backend) as c:
        c.send(head + b"\r\n\r\n")
        assert c.read_exactly(25) == b"HTTP/1.1 100 Continue\r\n\r\n"
        c.send(body)
        r = c.response()
        assert r.status == 200 and r.json()["leverage"] == 3, r
        c.send(raw_request("GET", "/fapi/v1/ping"))       # the connection goes on
        assert c.response().status == 200


# ---------------------------------------------------------------------- 6. limits
def test_a_body_over_1_mib_gets_413(backend):
    body = signed_query(TRADER, {"symbol": "BTCUSDT", "pad": "a" * (1024 ** 2 + 10)}).encode()
    r, _ = one(backend, raw_request("POST", "/fapi/v1/order", {
        "X-MBX-APIKEY": TRADER[0], "Content-Type": "application/x-www-form-urlencoded"}, body))
    assert r.status == 413, r
    if backend.http == "front":
        assert r.header("content-type").startswith("application/json")
        assert r.json()["code"] == -1000 and "1048576" in r.json()["msg"]
    assert_alive(backend)


@pytest.mark.parametrize("what", ["body", "url"])
def test_a_client_that_sends_an_oversized_request_whole_reads_the_refusal(what):
    """A lingering close: the front answers 413 / 400 mid-request, then reads and drops the
    rest before closing, so the kernel does not reset the connection under the answer."""
    with server("front") as srv, raw(srv) as c:
        if what == "body":
            body = b"x" * (8 * 1024 ** 2)
            data = raw_request("POST", "/fapi/v1/order", {
                "X-MBX-APIKEY": TRADER[0],
                "Content-Type": "application/x-www-form-urlencoded"}, body)
        else:
            data = raw_request("GET", "/fapi/v1/depth?symbol=BTCUSDT&x=" + "a" * (4 * 1024 ** 2))
        # all of it, before reading anything (from a thread: the server reads as it comes)
        problems = []

        def send():
            try:
                c.sock.sendall(data)
            except OSError as exc:                  # reset under the client: the bug
                problems.append(exc)

        sender = threading.Thread(target=send, daemon=True)
        sender.start()
        sender.join(10)
        assert not problems and not sender.is_alive(), problems
        r = c.response()
        assert r.status == (413 if what == "body" else 400), r
        assert r.json()["code"] == -1000
        assert c.closed_by_server(5.0)


def test_a_body_of_exactly_1_mib_is_read(backend):
    pad = "a" * (1024 ** 2 - 200)
    body = signed_query(TRADER, {"symbol": "BTCUSDT", "leverage": "4", "pad": pad}).encode()
    assert len(body) <= 1024 ** 2
    r, _ = one(backend, raw_request("POST", "/fapi/v1/leverage", {
        "X-MBX-APIKEY": TRADER[0], "Content-Type": "application/x-www-form-urlencoded"}, body))
    assert r.status == 200 and r.json()["leverage"] == 4, r


@pytest.mark.parametrize("data", [
    raw_request("GET", "/fapi/v1/ping?" + "a" * 8200),
    raw_request("GET", "/fapi/v1/ping", {"X-Long": "b" * 8200}),
    raw_request("GET", "/fapi/v1/ping", {f"X-{i}": "v" for i in range(200)}),
    b"\x00\x01 HELLO\r\n\r\n",
    b"get /fapi/v1/ping HTTP/1.1\r\nHost: x\r\n\r\n",
    raw_request("POST", "/fapi/v1/order", {"Content-Length": "abc"}),
    raw_request("POST", "/fapi/v1/order", {"Content-Length": "3", "Transfer-Encoding": "chunked"},
                b"0\r\n\r\n"),
], ids=["request line > 8190", "header > 8190", "200 headers", "garbage", "lower-case method",
        "bad Content-Length", "Content-Length and chunked"])
def test_a_malformed_request_gets_400_and_the_connection_closes(backend, data):
    with raw(backend) as c:
        c.send(raw_request("GET", "/fapi/v1/ping"))          # a good one first
        assert c.response().status == 200
        c.send(data)
        r = c.response()
        assert r.status == 400, r
        if backend.http == "front":
            assert r.json()["code"] == -1000 and r.json()["msg"]
        assert c.closed_by_server()
    assert_alive(backend)


# ---------------------------------------------------------------------- 7. disconnects
@pytest.mark.parametrize("partial", [
    b"GET /fapi/v1/pi",
    b"GET /fapi/v1/ping HTTP/1.1\r\nHost: x\r\nX-A: b",
    raw_request("POST", "/fapi/v1/order", {"Content-Length": "100"}) + b"symbol=BT",
    raw_request("POST", "/fapi/v1/order", {"Transfer-Encoding": "chunked"}) + b"10\r\nabc",
    raw_request("GET", "/ws/btcusdt@depth", {"Upgrade": "websocket", "Connection": "Upgrade"})[:-2],
], ids=["request line", "headers", "body", "chunked body", "upgrade headers"])
def test_a_half_sent_request_then_a_disconnect(backend, partial):
    for how in ("close", "reset"):
        c = Raw(backend)
        c.send(partial)
        time.sleep(0.05)
        if how == "reset":
            c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        c.close()
    time.sleep(0.1)
    assert_alive(backend)
    if backend.http == "front":
        deadline = time.monotonic() + 2
        while backend.call(lambda: len(backend._site.front.connections)) and \
                time.monotonic() < deadline:
            time.sleep(0.05)
        assert backend.call(lambda: len(backend._site.front.connections)) == 0


def test_a_client_that_disconnects_before_reading_its_answers(backend):
    many = raw_request("GET", "/fapi/v1/exchangeInfo") * 50
    for _ in range(3):
        c = Raw(backend)
        c.send(many)
        c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        c.close()
    assert_alive(backend)


@pytest.mark.parametrize("http", BACKENDS)
def test_a_client_that_pipelines_many_requests_and_reads_slowly_gets_every_answer(http):
    # far more answer bytes than a socket buffers: the server stops reading while the client
    # does not read (the front pauses the transport) and resumes, in order, losing nothing
    n = 3000
    reqs = [raw_request("GET", "/fapi/v1/exchangeInfo" if i % 2 else f"/fapi/v1/nope{i}")
            for i in range(n)]
    with server(http, rate_limits=None) as backend, \
            contextlib.closing(Raw(backend, rcvbuf=4096)) as c:
        for i in range(0, n, n // 3):      # once paused, the server leaves these in the socket
            c.send(b"".join(reqs[i:i + n // 3]))
            time.sleep(0.1)
        for i in range(n):
            r = c.response()
            if i % 2:
                assert r.status == 200 and r.json()["symbols"], i
            else:
                assert r.status == 404 and f"/fapi/v1/nope{i} " in r.json()["msg"], i
        c.send(raw_request("GET", "/fapi/v1/ping"))
        assert c.response().json() == {}


@pytest.mark.parametrize("http", BACKENDS)
def test_stopping_the_server_closes_every_kind_of_connection(http):
    srv = ServerThread(new_mock(), http=http).start()
    conns = [Raw(srv) for _ in range(4)]
    try:
        idle, half, handed, ws = conns
        idle.send(raw_request("GET", "/fapi/v1/ping"))
        assert idle.response().status == 200
        half.send(b"GET /fapi/v1/pi")
        handed.send(raw_request("GET", "/fapi/v1/ping"))
        assert handed.response().status == 200
        handed.send(upgrade("/ws/btcusdt@depth"))
        assert handed.response().status == 101
        ws.send(upgrade("/ws/btcusdt@depth"))
        assert ws.response().status == 101
        t0 = time.monotonic()
        srv.stop()
        assert time.monotonic() - t0 < 5 and not srv._thread.is_alive()
        assert [c.closed_by_server(2.0) for c in conns] == [True] * 4
    finally:
        for c in conns:
            c.close()


# ---------------------------------------------------------------------- 8. rate limits
class FrozenClock:
    def __init__(self, t=1_800_000_030.0):
        self.t = t

    def __call__(self):
        return self.t


def test_rate_limits_apply_through_the_front_as_through_aiohttp():
    limits = RateLimits(weight_per_minute=30, orders_per_10s=3, orders_per_minute=5,
                        violations_before_ban=2, ban_s=30)
    answers = {}
    for http in BACKENDS:
        with server(http, rate_limits=limits) as srv, requests.Session() as s:
            srv.mock.limiter.clock = FrozenClock()
            out = answers[http] = []
            ts = int(time.time() * 1000)
            for i in range(5):                            # orders: counted per account
                q = signed_query(TRADER, dict(symbol="BTCUSDT", side="BUY", type="LIMIT",
                                              quantity="0.01", price=str(49000 - i * 10),
                                              timeInForce="GTC",
                                              newClientOrderId=f"rl-{i}"), ts)
                r = s.post(f"{srv.base_url}/fapi/v1/order?{q}",
                           headers={"X-MBX-APIKEY": TRADER[0]}, timeout=TIMEOUT)
                out.append(seen(r.status_code, r.headers, r.content))
            for _ in range(10):                           # weight: 5 a request
                r = s.get(f"{srv.base_url}/fapi/v1/depth?symbol=BTCUSDT&limit=100",
                          timeout=TIMEOUT)
                out.append(seen(r.status_code, r.headers, r.content))
    front, aio = answers["front"], answers["aiohttp"]
    statuses = [a["status"] for a in front]
    assert statuses[:3] == [200] * 3 and statuses[3] == 429          # 3 orders per 10 s
    assert front[0]["limiter"]["x-mbx-order-count-10s"] == "1"
    assert front[3]["body"]["code"] == -1015 and front[3]["retry-after"] is not None
    depth = front[5:]
    used = [int(a["limiter"]["x-mbx-used-weight-1m"]) for a in depth]
    assert used[0] == 5 + int(front[4]["limiter"]["x-mbx-used-weight-1m"])
    assert 429 in [a["status"] for a in depth] and 418 in [a["status"] for a in depth]
    over = next(a for a in depth if a["status"] == 429)
    assert over["body"]["code"] == -1003 and int(over["retry-after"]) == 30
    assert front == aio


def test_pipelined_requests_are_each_charged(backend):
    backend.mock.limiter.clock = FrozenClock()
    with raw(backend) as c:
        c.send(raw_request("GET", "/fapi/v1/depth?symbol=BTCUSDT&limit=100") * 4)
        used = [int(c.response().header("x-mbx-used-weight-1m")) for _ in range(4)]
    assert used == [5, 10, 15, 20]
