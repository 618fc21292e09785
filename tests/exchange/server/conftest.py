"""Fixtures of the end-to-end tests of the mock Binance USDⓈ-M server.

Every test gets its own venue (``MockBinance`` on the ``binance_usdm`` preset, BTCUSDT marked
at 50,000 and ETHUSDT at 3,000) with two accounts, a market maker with deep pockets and a
trader with 10,000 USDT, served by a ``ServerThread`` on 127.0.0.1. Clients are *unmodified*
``ccxt.binanceusdm`` instances built from ``ccxt_config``; each one refuses to send a request
anywhere but the test's server, so a URL ``ccxt_config`` forgot to redirect fails the test
instead of reaching Binance.
"""
from __future__ import annotations

from urllib.parse import urlsplit

import pytest

ccxt = pytest.importorskip("ccxt")
pytest.importorskip("aiohttp")

from exchange.server import MockBinance, ServerThread, ccxt_config

MARKS = {"BTCUSDT": "50000", "ETHUSDT": "3000"}
MAKER_DEPOSIT = "10000000"
TRADER_DEPOSIT = "10000"


@pytest.fixture
def mock():
    return MockBinance(preset="binance_usdm", marks=dict(MARKS))


@pytest.fixture
def maker_cred(mock):
    """The market maker's credentials (10,000,000 USDT), opened before the server starts."""
    return mock.add_account(deposit=MAKER_DEPOSIT)


@pytest.fixture
def trader_cred(mock, maker_cred):
    """The trader's credentials (10,000 USDT), opened after the maker's."""
    return mock.add_account(deposit=TRADER_DEPOSIT)


@pytest.fixture
def srv(mock, maker_cred, trader_cred):
    with ServerThread(mock) as server:
        assert urlsplit(server.base_url).hostname == "127.0.0.1"
        assert urlsplit(server.ws_url).hostname == "127.0.0.1"
        yield server


def _loopback_only(client, base_url: str) -> None:
    """Make ``client`` refuse every URL outside ``base_url`` and log the paths it requests
    (``client.requested``: ``(method, path)`` in order)."""
    fetch = client.fetch
    client.requested = []

    def guarded_fetch(url, method="GET", headers=None, body=None):
        if not url.startswith(base_url + "/"):
            raise AssertionError(f"ccxt tried to reach {url!r}; the tests only allow {base_url}")
        client.requested.append((method, urlsplit(url).path))
        return fetch(url, method, headers, body)

    client.fetch = guarded_fetch


@pytest.fixture
def connect(srv):
    """``connect(cred)`` (or ``connect(api_key=..., secret=...)``): a sync ccxt.binanceusdm
    client of the server, 5 s request timeout, no client-side rate limiting, loopback only."""
    made = []

    def make(cred=None, *, api_key=None, secret=None):
        key = api_key if api_key is not None else cred.api_key
        sec = secret if secret is not None else cred.secret
        # ccxt's rate limiter spaces Binance requests ~100 ms apart; a local server needs no pacing
        client = ccxt.binanceusdm(ccxt_config(srv.base_url, key, sec))
        client.timeout = 5000
        _loopback_only(client, srv.base_url)
        made.append(client)
        return client

    yield make
    for client in made:
        session = getattr(client, "session", None)
        if session is not None:
            session.close()


@pytest.fixture
def maker(connect, maker_cred):
    return connect(maker_cred)


@pytest.fixture
def trader(connect, trader_cred):
    return connect(trader_cred)
