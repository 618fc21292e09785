"""ccxt.pro (``import ccxt.pro``) against the mock server: every ``watch_*`` that
binanceusdm implements, over the URL shapes ccxt.pro builds itself (``/public/ws/N``,
``/market/ws/N``, ``/private/ws?listenKey=…``) from the ``…/ws`` base ``ccxt_config`` gives it.

Each test runs its own event loop; the server has its own thread and loop. Every wait has a
deadline (``WAIT``), so a stream that never delivers fails the test instead of hanging it.
"""
from __future__ import annotations

import asyncio
import contextlib
from decimal import Decimal

import pytest

ccxtpro = pytest.importorskip("ccxt.pro")

from exchange.server import ccxt_config
from tests.exchange.server.orders import BTC

WAIT = 10.0


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 60))


@contextlib.asynccontextmanager
async def pro(srv, cred, **extra):
    client = ccxtpro.binanceusdm(ccxt_config(srv.base_url, cred.api_key, cred.secret, **extra))
    client.urls_requested = []
    try:
        yield client
    finally:
        await client.close()


async def until(coro_fn, predicate, timeout=WAIT):
    """Call ``coro_fn()`` (a ``watch_*``) until its result satisfies ``predicate``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    seen = []
    while True:
        left = deadline - loop.time()
        if left <= 0:
            raise AssertionError(f"no matching update within {timeout} s; saw {seen[-3:]}")
        try:
            got = await asyncio.wait_for(coro_fn(), left)
        except TimeoutError:
            raise AssertionError(f"no matching update within {timeout} s; saw {seen[-3:]}") from None
        seen.append(got)
        if predicate(got):
            return got


async def eventually(predicate, what, timeout=WAIT, state=None):
    """Wait until ``predicate()`` holds (ccxt.pro keeps its caches current between watches)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"{what} not seen within {timeout} s ({state() if state else ''})")
        await asyncio.sleep(0.05)


async def looping(watch):
    """Call ``watch()`` in a loop, as a bot does, from a background task (started, with
    time to subscribe); returns the task."""
    async def loop():
        while True:
            await watch()

    task = asyncio.ensure_future(loop())
    await asyncio.sleep(0.3)
    if task.done():
        task.result()
    return task


async def started(coro):
    """Start a watch in the background and give it time to subscribe."""
    task = asyncio.ensure_future(coro)
    await asyncio.sleep(0.3)
    if task.done():
        task.result()
    return task


def test_the_connection_urls_are_the_ones_ccxt_pro_builds(srv, trader_cred):
    client = ccxtpro.binanceusdm(ccxt_config(srv.base_url, trader_cred.api_key, trader_cred.secret))
    assert client.get_ws_url("linear", "public") == srv.ws_url + "/public/ws"
    assert client.get_ws_url("linear", "market") == srv.ws_url + "/market/ws"
    assert client.get_private_ws_url("linear", "K") == srv.ws_url + "/private/ws?listenKey=K"
    run(client.close())


def test_a_watched_order_book_equals_the_rest_snapshot_after_trading(srv, maker_cred, trader_cred):
    async def main():
        async with pro(srv, maker_cred) as maker, pro(srv, trader_cred) as trader:
            await maker.load_markets()
            for i in range(5):
                await maker.create_order(BTC, "limit", "buy", 0.1, 49900 - 10 * i)
                await maker.create_order(BTC, "limit", "sell", 0.1, 50100 + 10 * i)
            book = await maker.watch_order_book(BTC)
            await trader.create_order(BTC, "market", "buy", 0.15)
            await maker.create_order(BTC, "limit", "buy", 0.2, 49950)
            await eventually(lambda: maker.orderbooks[BTC]["bids"][0][0] == 49950
                             and maker.orderbooks[BTC]["asks"][0] == [50110.0, 0.05],
                             "the bid at 49,950 and the rest of the ask at 50,110")
            book = maker.orderbooks[BTC].limit()
            rest_book = await trader.fetch_order_book(BTC)
            assert book["bids"][:10] == rest_book["bids"][:10]
            assert book["asks"][:10] == rest_book["asks"][:10]

    run(main())


def test_watch_trades_ticker_tickers_bids_asks_and_ohlcv_see_a_trade(srv, maker_cred, trader_cred):
    async def main():
        async with pro(srv, maker_cred) as maker, pro(srv, trader_cred) as trader:
            await maker.load_markets()
            await trader.load_markets()
            trades = await started(maker.watch_trades(BTC))
            ticker = await started(maker.watch_ticker(BTC))
            tickers = await started(trader.watch_tickers([BTC]))
            bidask = await started(trader.watch_bids_asks([BTC]))
            ohlcv = await started(maker.watch_ohlcv(BTC, "1m"))
            await maker.create_order(BTC, "limit", "sell", 0.2, 50010)
            await trader.create_order(BTC, "market", "buy", 0.2)
            got = await asyncio.wait_for(trades, WAIT)
            assert [(t["price"], t["amount"], t["side"]) for t in got] == [(50010.0, 0.2, "buy")]
            t = await asyncio.wait_for(ticker, WAIT)
            assert t["symbol"] == BTC and t["last"] == 50010.0 and t["baseVolume"] == 0.2
            ts = await asyncio.wait_for(tickers, WAIT)
            assert ts[BTC]["last"] == 50010.0
            ba = await asyncio.wait_for(bidask, WAIT)
            assert BTC in ba
            candles = await asyncio.wait_for(ohlcv, WAIT)
            assert candles[-1][1:] == [50010.0, 50010.0, 50010.0, 50010.0, 0.2]
            rest_candles = await trader.fetch_ohlcv(BTC, "1m", limit=1)
            assert rest_candles[-1] == candles[-1]

    run(main())


def test_watch_mark_price_and_mark_prices_see_the_mark_that_was_set(srv, mock, trader_cred, maker_cred):
    """``watch_mark_price`` (``@markPrice@1s``) and ``watch_mark_prices`` with no symbols
    (``!markPrice@arr``); binanceusdm 4.5.90 implements no ``watch_funding_rate``."""
    async def main():
        async with pro(srv, trader_cred) as trader, pro(srv, maker_cred) as maker:
            await trader.load_markets()
            await maker.load_markets()
            mark = await started(trader.watch_mark_price(BTC, {"use1sFreq": True}))
            marks = await started(maker.watch_mark_prices())
            await asyncio.to_thread(srv.call, mock.set_mark, "BTCUSDT", "50500")
            m = await asyncio.wait_for(mark, WAIT)
            assert m["symbol"] == BTC and m["markPrice"] == 50500.0
            ms = await asyncio.wait_for(marks, WAIT)
            assert ms[BTC]["markPrice"] == 50500.0

    run(main())


def test_a_forced_liquidation_shows_on_watch_liquidations_and_watch_orders(srv, mock, maker_cred):
    async def main():
        cred = await asyncio.to_thread(srv.call, mock.add_account, deposit="1000")
        async with pro(srv, maker_cred) as maker, pro(srv, cred) as trader:
            await maker.load_markets()
            await trader.load_markets()
            await trader.set_leverage(20, BTC)
            await maker.create_order(BTC, "limit", "sell", 0.3, 50000)
            await trader.create_order(BTC, "market", "buy", 0.3)
            await asyncio.to_thread(srv.call, mock.set_mark, "BTCUSDT", "48000")
            for price in (47000, 46900, 46800):
                await maker.create_order(BTC, "limit", "buy", 1, price)
            liqs = await started(maker.watch_liquidations(BTC))
            all_liqs = await started(maker.watch_liquidations_for_symbols([BTC]))
            orders = await started(trader.watch_orders(BTC))
            mine = await started(trader.watch_my_liquidations(BTC))
            positions = await looping(lambda: trader.watch_positions([BTC]))
            await asyncio.to_thread(srv.call, mock.set_mark, "BTCUSDT", "46850")
            got = await asyncio.wait_for(liqs, WAIT)
            assert got[-1]["symbol"] == BTC and got[-1]["contracts"] > 0
            got = await asyncio.wait_for(all_liqs, WAIT)
            assert got[-1]["symbol"] == BTC
            await asyncio.wait_for(orders, WAIT)
            await eventually(lambda: any(o["clientOrderId"].startswith("autoclose-")
                                         and o["side"] == "sell" and o["filled"] == 0.3
                                         for o in trader.orders),
                             "the liquidation order on watch_orders")
            got = await asyncio.wait_for(mine, WAIT)
            assert got[-1]["symbol"] == BTC
            await eventually(lambda: sum(x["contracts"] for x in trader.myLiquidations
                                         if x["symbol"] == BTC) == pytest.approx(0.3),
                             "0.3 BTC liquidated on watch_my_liquidations")
            # the latest update of BTC (ccxt keys its cache by side: a closed one-way
            # position arrives as side "both" with 0 contracts, as from Binance)
            await eventually(lambda: [p["contracts"] for p in next(iter(trader.positions.values()), [])
                                      if p["symbol"] == BTC][-1:] == [0],
                             "the liquidated position at 0 on watch_positions",
                             state=lambda: [(p["symbol"], p["side"], p["contracts"])
                                            for p in next(iter(trader.positions.values()), [])])
            positions.cancel()

    run(main())


def test_watch_orders_my_trades_balance_and_positions_follow_a_fill(srv, maker_cred, trader_cred):
    async def main():
        async with pro(srv, maker_cred) as maker, pro(srv, trader_cred) as trader:
            await maker.load_markets()
            await trader.load_markets()
            orders = await started(trader.watch_orders(BTC))
            balance = await started(trader.watch_balance())
            await asyncio.sleep(0.2)
            await maker.create_order(BTC, "limit", "sell", 0.1, 50000)
            placed = await trader.create_order(BTC, "limit", "buy", 0.1, 50000)
            got = await asyncio.wait_for(orders, WAIT)
            assert got[-1]["id"] == placed["id"]
            await eventually(lambda: [(o["id"], o["status"], o["filled"]) for o in trader.orders]
                             [-1:] == [(placed["id"], "closed", 0.1)], "the order filled")
            b = await asyncio.wait_for(balance, WAIT)
            # the ACCOUNT_UPDATE of the fill: the wallet less the taker fee (0.05% of 5,000)
            assert b["USDT"]["total"] == pytest.approx(10000 - 2.5)
            updates = await looping(lambda: trader.watch_positions([BTC]))
            trades = await started(trader.watch_my_trades(BTC))
            await maker.create_order(BTC, "limit", "buy", 0.1, 49990)
            await trader.create_order(BTC, "market", "sell", 0.1)
            got = await asyncio.wait_for(trades, WAIT)
            assert got[-1]["price"] == 49990.0 and got[-1]["side"] == "sell"
            # the latest update of BTC (ccxt keys its cache by side: a closed one-way
            # position arrives as side "both" with 0 contracts, as from Binance)
            await eventually(lambda: [p["contracts"] for p in next(iter(trader.positions.values()), [])
                                      if p["symbol"] == BTC][-1:] == [0],
                             "the closed position at 0 on watch_positions")
            # Binance's "cr", the (pre-fee) accumulated realized PnL: 0.1 × (49,990 − 50,000)
            closed = [p for p in next(iter(trader.positions.values())) if p["symbol"] == BTC][-1]
            assert Decimal(closed["info"]["cr"]) == Decimal(-1)
            updates.cancel()

    run(main())


def test_watch_balance_of_an_isolated_position_keeps_its_margin_in_the_wallet(srv, maker_cred,
                                                                              trader_cred):
    """ACCOUNT_UPDATE's ``wb`` is the whole wallet, isolated margin included (``cw`` is the
    cross part): opening an isolated long moves margin, it does not spend it."""
    async def main():
        async with pro(srv, maker_cred) as maker, pro(srv, trader_cred) as trader:
            await maker.load_markets()
            await trader.load_markets()
            await trader.set_margin_mode("isolated", BTC)
            await trader.set_leverage(10, BTC)
            balance = await started(trader.watch_balance())
            await asyncio.sleep(0.2)
            await maker.create_order(BTC, "limit", "sell", 0.1, 50000)
            await trader.create_order(BTC, "market", "buy", 0.1)
            b = await asyncio.wait_for(balance, WAIT)
            assert b["USDT"]["total"] == pytest.approx(10000 - 2.5)      # not less the 500
            raw = b["info"]["a"]["B"][0]
            assert float(raw["wb"]) == pytest.approx(10000 - 2.5)
            assert float(raw["cw"]) == pytest.approx(10000 - 2.5 - 500)

    run(main())
