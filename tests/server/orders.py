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
