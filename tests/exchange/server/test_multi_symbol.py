"""The server with several symbols (BTCUSDT, ETHUSDT, SOLUSDT of binance_usdm): each has its
own book, ticker, positions and streams, through unmodified ccxt and ccxt.pro."""
from __future__ import annotations

import asyncio

import pytest

ccxt = pytest.importorskip("ccxt")
ccxtpro = pytest.importorskip("ccxt.pro")

from exchange.server import MockBinance, ccxt_config

SYMBOLS = {"BTC/USDT:USDT": ("50000", "0.01"), "ETH/USDT:USDT": ("3000", "0.1"),
           "SOL/USDT:USDT": ("200", "2")}


@pytest.fixture
def mock():
    return MockBinance(preset="binance_usdm", marks={"BTCUSDT": "50000", "ETHUSDT": "3000",
                                                     "SOLUSDT": "200"})


def test_every_symbol_trades_on_its_own_book_and_holds_its_own_position(maker, trader):
    for sym, (px, qty) in SYMBOLS.items():
        maker.create_order(sym, "limit", "sell", float(qty) * 2, float(px))
        maker.create_order(sym, "limit", "buy", float(qty) * 2, float(px) * 0.99)
    for sym, (_px, qty) in SYMBOLS.items():
        o = trader.create_order(sym, "market", "buy", float(qty))
        assert o["symbol"] == sym
    pos = {p["symbol"]: p for p in trader.fetch_positions() if p["contracts"]}
    assert set(pos) == set(SYMBOLS)
    for sym, (px, qty) in SYMBOLS.items():
        assert pos[sym]["contracts"] == pytest.approx(float(qty))
        assert pos[sym]["entryPrice"] == pytest.approx(float(px))
        book = trader.fetch_order_book(sym)
        assert book["asks"][0][0] == pytest.approx(float(px))
        assert book["bids"][0][0] == pytest.approx(float(px) * 0.99)
        assert trader.fetch_ticker(sym)["last"] == pytest.approx(float(px))
        trades = trader.fetch_my_trades(sym)
        assert trades and all(t["symbol"] == sym for t in trades)


def test_ccxt_pro_streams_of_one_symbol_carry_that_symbol_only(srv, maker_cred, trader_cred,
                                                                maker, trader):
    maker.create_order("SOL/USDT:USDT", "limit", "sell", 5, 200)
    maker.create_order("BTC/USDT:USDT", "limit", "sell", 0.05, 50000)

    async def scenario():
        client = ccxtpro.binanceusdm(ccxt_config(srv.base_url, trader_cred.api_key,
                                                 trader_cred.secret))
        try:
            book = await asyncio.wait_for(client.watch_order_book("SOL/USDT:USDT"), 10)
            assert book["asks"][0][0] == pytest.approx(200)
            watch = asyncio.ensure_future(client.watch_trades("SOL/USDT:USDT"))
            await asyncio.sleep(0.5)
            await asyncio.to_thread(trader.create_order, "BTC/USDT:USDT", "market", "buy", 0.01)
            await asyncio.to_thread(trader.create_order, "SOL/USDT:USDT", "market", "buy", 1)
            trades = await asyncio.wait_for(watch, 10)
            assert trades and all(t["symbol"] == "SOL/USDT:USDT" for t in trades)
            assert trades[-1]["price"] == pytest.approx(200)
            ticker = await asyncio.wait_for(client.watch_ticker("SOL/USDT:USDT"), 10)
            assert ticker["symbol"] == "SOL/USDT:USDT"
        finally:
            await client.close()

    asyncio.run(asyncio.wait_for(scenario(), 60))
