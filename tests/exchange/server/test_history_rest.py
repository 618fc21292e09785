"""History and batch endpoints through unmodified ccxt (sync): aggTrades (``fetch_trades``),
klines and their paging (``fetch_ohlcv``), mark / index / premium klines, income
(``fetch_funding_history``, ``fetch_ledger``-like income rows), forceOrders, openInterest,
commissionRate, batchOrders (``create_orders``, ``cancel_orders``) and the spot
exchangeInfo that ccxt's ``binance`` class loads; plus the kline rules themselves."""
from __future__ import annotations

import calendar
from decimal import Decimal

import pytest

from exchange.server import history
from exchange.server.history import INTERVALS, Series, kline_open
from tests.exchange.server.orders import BTC, leveraged_long_near_liquidation, rest, take

MIN = 60_000


def test_kline_open_times_follow_binances_boundaries():
    t = calendar.timegm((2026, 12, 2, 15, 7, 31)) * 1000 + 123      # a Wednesday
    assert kline_open("1m", t) == calendar.timegm((2026, 12, 2, 15, 7, 0)) * 1000
    assert kline_open("4h", t) == calendar.timegm((2026, 12, 2, 12, 0, 0)) * 1000
    assert kline_open("1d", t) == calendar.timegm((2026, 12, 2, 0, 0, 0)) * 1000
    assert kline_open("1w", t) == calendar.timegm((2026, 11, 30, 0, 0, 0)) * 1000   # Monday
    assert kline_open("1M", t) == calendar.timegm((2026, 12, 1, 0, 0, 0)) * 1000
    assert history.kline_close("1M", kline_open("1M", t)) == calendar.timegm((2027, 1, 1, 0, 0, 0)) * 1000 - 1
    assert set(INTERVALS) == {"1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "6h", "8h",
                              "12h", "1d", "3d", "1w", "1M"}


def _series():
    s = Series()
    t0 = 1_800_000_000_000 // MIN * MIN
    s.add(t0 + 1000, Decimal("100"), Decimal("1"), True)
    s.add(t0 + 2000, Decimal("105"), Decimal("2"), False)
    s.add(t0 + 3 * MIN + 5, Decimal("99"), Decimal("1"), True)     # two quiet minutes before
    return s, t0


def test_klines_fill_quiet_intervals_with_the_previous_close_and_page_like_binance():
    s, t0 = _series()
    now = t0 + 3 * MIN + 10
    ks = history.klines(s, "1m", now, None, None, 500)
    assert [k[0] for k in ks] == [t0, t0 + MIN, t0 + 2 * MIN, t0 + 3 * MIN]
    assert ks[0][1:6] == ["100", "105", "100", "105", "3"]
    assert ks[0][7] == "310" and ks[0][8] == 2 and ks[0][9] == "1" and ks[0][10] == "100"
    assert ks[1][1:6] == ["105", "105", "105", "105", "0"] and ks[1][8] == 0
    assert ks[3][1:6] == ["99", "99", "99", "99", "1"]
    # limit without times: the latest; startTime: from there on; endTime: up to it
    assert [k[0] for k in history.klines(s, "1m", now, None, None, 2)] == [t0 + 2 * MIN, t0 + 3 * MIN]
    assert [k[0] for k in history.klines(s, "1m", now, t0 + 1, None, 2)] == [t0 + MIN, t0 + 2 * MIN]
    assert [k[0] for k in history.klines(s, "1m", now, t0 + MIN, None, 2)] == [t0 + MIN, t0 + 2 * MIN]
    assert [k[0] for k in history.klines(s, "1m", now, None, t0 + MIN + 5, 5)] == [t0, t0 + MIN]
    assert [k[0] for k in history.klines(s, "5m", now, None, None, 5)] == [t0 // (5 * MIN) * (5 * MIN)]
    assert history.klines(Series(), "1m", now, None, None, 5) == []


def test_fetch_trades_are_the_agg_trades_and_page_by_id(maker, trader):
    for p in (50000, 50010, 50020):
        rest(maker, "sell", 0.1, p)
    take(trader, "buy", 0.3)
    trades = trader.fetch_trades(BTC)
    assert [(t["price"], t["amount"], t["side"]) for t in trades] == [
        (50000.0, 0.1, "buy"), (50010.0, 0.1, "buy"), (50020.0, 0.1, "buy")]
    assert trader.requested[-1] == ("GET", "/fapi/v1/aggTrades")
    first = int(trades[0]["id"])
    page = trader.fapiPublicGetAggTrades({"symbol": "BTCUSDT", "fromId": first + 1, "limit": 1})
    assert [int(r["a"]) for r in page] == [first + 1]


def test_fetch_ohlcv_builds_candles_from_the_venues_trades(maker, trader):
    rest(maker, "sell", 0.1, 50000)
    rest(maker, "sell", 0.2, 50100)
    take(trader, "buy", 0.3)
    rest(maker, "buy", 0.1, 49900)
    take(trader, "sell", 0.1)
    candles = trader.fetch_ohlcv(BTC, "1m")
    last = candles[-1]
    assert last[1:] == [50000.0, 50100.0, 49900.0, 49900.0, pytest.approx(0.4)]
    day = trader.fetch_ohlcv(BTC, "1d", limit=1)
    assert day[-1][1:] == last[1:]
    assert trader.fetch_ohlcv(BTC, "1m", since=last[0] + MIN) == []


def test_mark_index_and_premium_klines_follow_the_marks_that_were_set(srv, mock, trader):
    srv.call(mock.set_mark, "BTCUSDT", "50500", "50000")
    srv.call(mock.set_mark, "BTCUSDT", "49500", "50000")
    mark = trader.fetch_mark_ohlcv(BTC, "1m")
    assert mark[-1][2] == 50500.0 and mark[-1][3] == 49500.0 and mark[-1][4] == 49500.0
    index = trader.fetch_index_ohlcv(BTC, "1m")
    assert index[-1][4] == 50000.0
    premium = trader.fetch_premium_index_ohlcv(BTC, "1m")
    assert premium[-1][2] == pytest.approx(0.01) and premium[-1][4] == pytest.approx(-0.01)


def test_bad_kline_parameters_get_binances_codes(trader):
    import ccxt

    for params, code in (({"interval": "7m"}, "-1120"), ({"interval": "1m", "limit": 1501}, "-1130"),
                         ({"interval": "1m", "startTime": 10, "endTime": 5}, "-1128"),
                         ({"interval": "1m", "startTime": "x"}, "-1100")):
        with pytest.raises(ccxt.BadRequest, match=code):
            trader.fapiPublicGetKlines({"symbol": "BTCUSDT", **params})


def test_income_lists_commission_realized_pnl_and_funding(srv, mock, maker, trader):
    rest(maker, "sell", 0.1, 50000)
    take(trader, "buy", 0.1)
    srv.call(mock.settle_funding, "BTCUSDT", "0.0001")
    rest(maker, "buy", 0.1, 50100)
    take(trader, "sell", 0.1)
    funding = trader.fetch_funding_history(BTC)
    assert [f["amount"] for f in funding] == [pytest.approx(-0.5)]    # the long paid 0.01% of 5,000
    rows = trader.fapiPrivateGetIncome({})
    kinds = [r["incomeType"] for r in rows]
    assert kinds.count("COMMISSION") == 2 and "REALIZED_PNL" in kinds and "TRANSFER" in kinds
    pnl = [Decimal(r["income"]) for r in rows if r["incomeType"] == "REALIZED_PNL"]
    assert pnl == [Decimal("10")]
    page2 = trader.fapiPrivateGetIncome({"limit": 2, "page": 2})
    assert page2 == rows[2:4]


def test_create_orders_places_a_batch_and_reports_each_failure_in_place(trader):
    orders = trader.create_orders([
        {"symbol": BTC, "type": "limit", "side": "buy", "amount": 0.01, "price": 49000},
        {"symbol": BTC, "type": "limit", "side": "sell", "amount": 0.01, "price": 51000,
         "params": {"reduceOnly": True}},                   # no position to reduce: -2022
        {"symbol": BTC, "type": "limit", "side": "sell", "amount": 0.01, "price": 51000}])
    # Binance answers in request order; ccxt sorts its parsed orders by time (the error,
    # without one, first)
    raw = trader.fapiPrivatePostBatchOrders({"batchOrders": [
        {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "quantity": "0.01",
         "price": "49000.05", "timeInForce": "GTC"},
        {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "quantity": "0.01",
         "price": "48900", "timeInForce": "GTC"}]})
    assert raw[0]["code"] == -4014 and raw[1]["status"] == "NEW"
    assert sorted(o["status"] for o in orders) == ["open", "open", "rejected"]
    placed = [o for o in orders if o["status"] == "open"]
    assert len(trader.fetch_open_orders(BTC)) == 3
    trader.cancel_order(raw[1]["orderId"], BTC)
    canceled = trader.cancel_orders([o["id"] for o in placed], BTC)
    assert [o["status"] for o in canceled] == ["canceled", "canceled"]
    assert trader.fetch_open_orders(BTC) == []


def test_open_interest_and_trading_fee(maker, trader):
    rest(maker, "sell", 0.25, 50000)
    take(trader, "buy", 0.25)
    assert trader.fetch_open_interest(BTC)["openInterestAmount"] == 0.25
    fee = trader.fetch_trading_fee(BTC)
    assert (fee["maker"], fee["taker"]) == (0.0002, 0.0005)


def test_force_orders_list_the_accounts_liquidation(srv, mock, connect, maker):
    trader = leveraged_long_near_liquidation(srv, mock, connect, maker)
    srv.call(mock.set_mark, "BTCUSDT", "46850")
    rows = trader.fapiPrivateGetForceOrders({"symbol": "BTCUSDT"})
    assert len(rows) >= 1 and all(r["clientOrderId"].startswith("autoclose-") for r in rows)
    assert sum(Decimal(r["executedQty"]) for r in rows) == Decimal("0.3")
    assert maker.fapiPrivateGetForceOrders({}) == []


def test_the_spot_exchange_info_loads_for_ccxts_binance_class(srv, trader_cred):
    import ccxt

    from exchange.server import ccxt_config
    cfg = ccxt_config(srv.base_url, trader_cred.api_key, trader_cred.secret)
    client = ccxt.binance({**cfg, "options": {**cfg["options"], "defaultType": "future"}})
    markets = client.load_markets()
    assert BTC in markets and markets[BTC]["linear"]


def test_a_limit_price_out_of_the_band_is_told_the_bound_it_broke(trader):
    import ccxt

    with pytest.raises(ccxt.BadRequest, match=r"-4024.*lower than 47500"):
        trader.create_order(BTC, "limit", "buy", 0.01, 47000)
    with pytest.raises(ccxt.BadRequest, match=r"-4016.*higher than 52500"):
        trader.create_order(BTC, "limit", "sell", 0.01, 53000)
