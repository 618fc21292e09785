"""Binance's rate limits and key permissions through unmodified ccxt: request weights in
``X-MBX-USED-WEIGHT-1M``, order counts in ``X-MBX-ORDER-COUNT-10S/1M``, 429 with -1003 /
-1015 and ``Retry-After``, 418 after repeated violations, the limiter off, read-only keys;
and the signature and timestamp failures.

The limiter's clock is frozen in these tests (a fixed window never turns over mid-test)."""
from __future__ import annotations

import hashlib
import hmac
import time
from urllib.parse import urlencode

import ccxt
import pytest
import requests

from exchange.server import MockBinance, ServerThread, ccxt_config
from exchange.server.limits import RateLimits, request_weight
from tests.exchange.server.orders import BTC

LIMITS = RateLimits(weight_per_minute=60, orders_per_10s=5, orders_per_minute=8,
                    violations_before_ban=2, ban_s=30)


class FrozenClock:
    def __init__(self, t=1_800_000_030.0):
        self.t = t

    def __call__(self):
        return self.t


@pytest.fixture
def limited():
    mock = MockBinance(marks={"BTCUSDT": "50000"}, rate_limits=LIMITS)
    clock = FrozenClock()
    mock.limiter.clock = clock
    maker = mock.add_account(deposit="1000000")
    reader = mock.add_account(deposit="1000", permissions=("read",))
    with ServerThread(mock) as srv:
        yield srv, mock, clock, maker, reader


def client(srv, cred):
    c = ccxt.binanceusdm(ccxt_config(srv.base_url, cred.api_key, cred.secret))
    c.timeout = 5000
    return c


def test_request_weights_follow_binances_table():
    assert request_weight("GET", "/fapi/v1/depth", {"limit": "5"}) == 2
    assert request_weight("GET", "/fapi/v1/depth", {"limit": "1000"}) == 20
    assert request_weight("GET", "/fapi/v1/klines", {"limit": "1500"}) == 10
    assert request_weight("GET", "/fapi/v1/ticker/24hr", {}) == 40
    assert request_weight("GET", "/fapi/v1/ticker/24hr", {"symbol": "BTCUSDT"}) == 1
    assert request_weight("POST", "/fapi/v1/order", {}) == 0


def test_used_weight_is_reported_then_429_with_retry_after_then_418(limited):
    srv, mock, clock, maker, reader = limited
    url = f"{srv.base_url}/fapi/v1/depth?symbol=BTCUSDT&limit=100"      # weight 5
    used = [int(requests.get(url, timeout=5).headers["X-MBX-USED-WEIGHT-1M"]) for _ in range(12)]
    assert used == [5 * (i + 1) for i in range(12)]
    r = requests.get(url, timeout=5)
    assert r.status_code == 429 and r.json()["code"] == -1003
    assert int(r.headers["Retry-After"]) == 30                           # to the next minute
    ex = client(srv, maker)
    with pytest.raises(ccxt.DDoSProtection, match="-1003"):      # ccxt's class for HTTP 429
        ex.fetch_order_book(BTC, 100)
    r = requests.get(url, timeout=5)                                      # the third violation
    assert r.status_code == 418 and r.json()["code"] == -1003 and "banned" in r.json()["msg"]
    assert int(r.headers["Retry-After"]) == 30
    clock.t += 20                                                         # still banned
    r = requests.get(url, timeout=5)
    assert r.status_code == 418 and int(r.headers["Retry-After"]) == 10
    clock.t += 41                                                         # unbanned, a new minute
    r = requests.get(url, timeout=5)
    assert r.status_code == 200 and r.headers["X-MBX-USED-WEIGHT-1M"] == "5"


def test_orders_are_counted_per_account_and_refused_with_1015(limited):
    srv, mock, clock, maker, reader = limited
    ex = client(srv, maker)
    ex.load_markets()
    counts = []
    for i in range(5):
        ex.create_order(BTC, "limit", "buy", 0.01, 49000 + i)
        counts.append(ex.last_response_headers["X-MBX-ORDER-COUNT-10S"])
    assert counts == ["1", "2", "3", "4", "5"]
    with pytest.raises(ccxt.DDoSProtection, match="-1015"):
        ex.create_order(BTC, "limit", "buy", 0.01, 48000)
    assert len(ex.fetch_open_orders(BTC)) == 5
    clock.t += 10                                       # the 10 s window turns over; 1 m not yet
    ex.create_order(BTC, "limit", "buy", 0.01, 48000)
    ex.create_order(BTC, "limit", "buy", 0.01, 48001)
    assert ex.last_response_headers["X-MBX-ORDER-COUNT-1M"] == "8"
    with pytest.raises(ccxt.DDoSProtection, match="per MINUTE"):
        ex.create_order(BTC, "limit", "buy", 0.01, 48002)


def test_the_limiter_can_be_turned_off():
    mock = MockBinance(marks={"BTCUSDT": "50000"}, rate_limits=None)
    with ServerThread(mock) as srv:
        url = f"{srv.base_url}/fapi/v1/depth?symbol=BTCUSDT&limit=1000"
        rs = [requests.get(url, timeout=5) for _ in range(130)]          # 2,600 weight
    assert {r.status_code for r in rs} == {200}
    assert "X-MBX-USED-WEIGHT-1M" not in rs[-1].headers


def test_a_read_only_key_reads_but_cannot_trade(limited):
    srv, mock, clock, maker, reader = limited
    ex = client(srv, reader)
    assert ex.fetch_balance()["USDT"]["total"] == 1000
    for act in (lambda: ex.create_order(BTC, "limit", "buy", 0.01, 49000),
                lambda: ex.set_leverage(5, BTC),
                lambda: ex.cancel_all_orders(BTC)):
        with pytest.raises(ccxt.AuthenticationError, match="-2015"):
            act()
    assert ex.fetch_open_orders(BTC) == []
    with pytest.raises(Exception, match="permissions"):
        mock.add_account(permissions=("trade",))


def _signed(srv, cred, path, secret=None, **params):
    q = urlencode(params)
    sig = hmac.new((secret or cred.secret).encode(), q.encode(), hashlib.sha256).hexdigest()
    return requests.get(f"{srv.base_url}{path}?{q}&signature={sig}",
                        headers={"X-MBX-APIKEY": cred.api_key}, timeout=5)


def test_signature_and_timestamp_failures_get_binances_codes(limited):
    srv, mock, clock, maker, reader = limited
    now = int(time.time() * 1000)
    ok = _signed(srv, maker, "/fapi/v2/balance", timestamp=now)
    assert ok.status_code == 200
    assert _signed(srv, maker, "/fapi/v2/balance", secret="x", timestamp=now).json()["code"] == -1022
    assert _signed(srv, maker, "/fapi/v2/balance", timestamp=now - 10_000).json()["code"] == -1021
    assert _signed(srv, maker, "/fapi/v2/balance", timestamp=now + 5_000).json()["code"] == -1021
    assert _signed(srv, maker, "/fapi/v2/balance", timestamp=now, recvWindow=70_000).json()["code"] == -1131
    r = requests.get(f"{srv.base_url}/fapi/v2/balance?timestamp={now}", timeout=5)
    assert r.status_code == 401 and r.json()["code"] == -2014
