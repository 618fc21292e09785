"""The server serves the preset's own rules, not Binance's whatever the preset: the settle asset
of a USDC venue (Hyperliquid) in balances, fills and exchangeInfo, and the liquidation price of
a venue whose maintenance margin is on the entry value (Bybit) — through unmodified ccxt."""
from __future__ import annotations

from decimal import Decimal

import pytest

ccxt = pytest.importorskip("ccxt")

from exchange.margin import binance_liquidation_price_ticks, liquidation_price
from exchange.server import MockBinance, ServerThread, ccxt_config


def _client(srv, cred):
    client = ccxt.binanceusdm(ccxt_config(srv.base_url, cred.api_key, cred.secret))
    client.timeout = 5000
    return client


def test_usdc_venue_settles_in_usdc():
    mock = MockBinance(preset="hyperliquid", marks={"BTC": "50000"})
    maker_cred, trader_cred = mock.add_account("1000000"), mock.add_account("10000")
    with ServerThread(mock) as srv:
        maker, trader = _client(srv, maker_cred), _client(srv, trader_cred)
        markets = trader.load_markets()
        symbol = next(s for s, m in markets.items() if m["id"] == "BTC")
        assert markets[symbol]["settle"] == "USDC"
        maker.create_order(symbol, "limit", "sell", 0.1, 50000)
        trader.create_order(symbol, "market", "buy", 0.1)
        balance = trader.fetch_balance()
        assert "USDC" in balance["total"] and "USDT" not in balance["total"]
        assert balance["total"]["USDC"] < 10000            # the taker fee, in USDC
        trades = trader.fetch_my_trades(symbol)
        assert trades and all(t["fee"]["currency"] == "USDC" for t in trades)
        positions = [p for p in trader.fetch_positions([symbol]) if p["contracts"]]
        assert positions[0]["info"]["marginAsset"] == "USDC"


def test_entry_basis_liquidation_price():
    """Bybit keeps maintenance margin on the entry value: the position's liquidation price is
    Bybit's (``exchange.margin.liquidation_price`` with the spec's basis), not Binance's."""
    mock = MockBinance(preset="bybit_linear", marks={"BTCUSDT": "50000"})
    maker_cred, trader_cred = mock.add_account("10000000"), mock.add_account("2000")
    with ServerThread(mock) as srv:
        maker, trader = _client(srv, maker_cred), _client(srv, trader_cred)
        symbol = "BTC/USDT:USDT"
        trader.load_markets()
        trader.set_margin_mode("isolated", symbol)
        trader.set_leverage(20, symbol)
        maker.create_order(symbol, "limit", "sell", 0.5, 50000)
        trader.create_order(symbol, "market", "buy", 0.5)
        pos = next(p for p in trader.fetch_positions([symbol]) if p["contracts"])
        spec = mock.venue.specs[0]
        wallet = Decimal(pos["info"]["isolatedWallet"])
        expected = liquidation_price(spec, wallet=wallet, size="0.5", entry_price="50000")
        assert Decimal(pos["info"]["liquidationPrice"]) == expected
        size = spec.qty_to_lots("0.5")
        cost = size * spec.price_to_ticks("50000") * spec.atoms_per_tick_lot
        binance = binance_liquidation_price_ticks(
            wallet_atoms=spec.amount_to_atoms(wallet), size_lots=size, entry_cost_atoms=cost,
            tiers=spec.tiers, atoms_per_tick_lot=spec.atoms_per_tick_lot)
        assert spec.ticks_to_price(binance) != expected    # the preset's rule, not Binance's
