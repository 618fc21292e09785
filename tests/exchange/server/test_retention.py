"""Binance's order retention through unmodified ccxt: an order that ended CANCELED with no fill
is not found three days after it was placed (query and allOrders), an order still open is, and
the server forgets the former (bounded history). The server's clock is moved by the journal's
replay clock (``exchange.server.clock.REPLAY_MS``), ccxt's by its ``timeDifference`` option."""
from __future__ import annotations

import pytest

ccxt = pytest.importorskip("ccxt")

from exchange.server import clock
from tests.exchange.server.orders import BTC, rest

THREE_DAYS_AND_A_MINUTE_MS = 3 * 86_400_000 + 60_000


def test_an_unfilled_canceled_order_is_forgotten_after_three_days(srv, mock, connect, trader_cred):
    trader = connect(trader_cred)
    trader.load_markets()
    gone = rest(trader, "buy", 0.01, 48000)
    trader.cancel_order(gone["id"], BTC)
    kept = rest(trader, "buy", 0.01, 48100)
    assert trader.fetch_order(gone["id"], BTC)["status"] == "canceled"
    later = clock.now_ms() + THREE_DAYS_AND_A_MINUTE_MS
    srv.call(clock.REPLAY_MS.append, later)
    try:
        trader.options["timeDifference"] = -THREE_DAYS_AND_A_MINUTE_MS   # ccxt signs "later"
        with pytest.raises(ccxt.OrderNotFound):
            trader.fetch_order(gone["id"], BTC)
        assert trader.fetch_order(kept["id"], BTC)["status"] == "open"
        ids = [o["id"] for o in trader.fetch_orders(BTC, params={"orderId": gone["id"]})]
        assert ids == [kept["id"]]
        assert srv.call(lambda: int(gone["id"]) in mock._orders) is False
        assert srv.call(lambda: int(kept["id"]) in mock._orders) is True
    finally:
        srv.call(clock.REPLAY_MS.pop)


def test_all_orders_refuses_a_window_over_seven_days(srv, connect, trader_cred):
    trader = connect(trader_cred)
    trader.load_markets()
    now = trader.milliseconds()
    with pytest.raises(ccxt.BadRequest, match="-1127"):
        trader.fetch_orders(BTC, since=now - 8 * 86_400_000,
                            params={"endTime": now})
