"""Order helpers shared by the server tests (ccxt clients from conftest.py)."""
from __future__ import annotations

BTC = "BTC/USDT:USDT"
ETH = "ETH/USDT:USDT"


def rest(client, side, amount, price, **params):
    """A GTC limit order that must rest."""
    order = client.create_order(BTC, "limit", side, amount, price, params)
    assert order["status"] == "open", order
    return order


def take(client, side, amount, **params):
    """A market order that must fill completely."""
    order = client.create_order(BTC, "market", side, amount, None, params)
    assert order["status"] == "closed", order
    return order


def leveraged_long_near_liquidation(srv, mock, connect, maker):
    """A trader bought 0.3 BTC at 50,000 with 1,000 USDT at 20x (liquidation price about
    46,879), the mark is at 48,000 and the maker bids 1 BTC at 47,000, 46,900 and 46,800: a
    mark below 46,879 liquidates it into those bids. Returns the trader's ccxt client."""
    cred = srv.call(mock.add_account, deposit="1000")
    trader = connect(cred)
    trader.set_leverage(20, BTC)
    rest(maker, "sell", 0.3, 50000)
    take(trader, "buy", 0.3)
    srv.call(mock.set_mark, "BTCUSDT", "48000")
    for price in (47000, 46900, 46800):
        rest(maker, "buy", 1, price)
    return trader
