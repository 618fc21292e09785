"""Unmodified ccxt.binanceusdm against the mock server's REST API.

What a ccxt user sees on real Binance is the contract: each test drives a unified ccxt method
(which Binance endpoint it calls is noted where it matters) and checks the unified structure
ccxt builds from the server's answer, or the ccxt exception Binance's error code maps to.
Prices are chosen inside the preset's 5 % price band around the 50,000 mark; order sizes keep
the notional above the 100 USDT minimum.
"""
from __future__ import annotations

import time
from decimal import Decimal

import ccxt
import pytest

from tests.exchange.server.orders import BTC, ETH, leveraged_long_near_liquidation, rest, take


def usdt(client):
    balance = client.fetch_balance()
    assert "USDT" in balance, f"no USDT in fetch_balance: {balance['info']}"
    return balance["USDT"]


def btc_position(client, **params):
    positions = client.fetch_positions([BTC], params)
    assert len(positions) == 1, positions
    return positions[0]


# ---------------------------------------------------------------------------- public data
def test_load_markets_lists_the_presets_perpetuals_with_their_tick_and_lot_sizes(trader):
    markets = trader.load_markets()

    assert set(markets) == {BTC, ETH, "SOL/USDT:USDT"}
    btc = markets[BTC]
    assert (btc["id"], btc["base"], btc["quote"], btc["settle"]) == ("BTCUSDT", "BTC", "USDT", "USDT")
    assert btc["swap"] and btc["linear"] and btc["contract"] and not btc["spot"]
    assert btc["active"] is True
    assert btc["contractSize"] == 1
    assert btc["precision"]["price"] == 0.1
    assert btc["precision"]["amount"] == 0.001
    assert btc["limits"]["amount"]["min"] == 0.001
    assert btc["limits"]["amount"]["max"] == 1000
    assert btc["limits"]["market"]["max"] == 120
    assert btc["limits"]["cost"]["min"] == 100
    assert markets[ETH]["precision"]["price"] == 0.01
    assert markets[ETH]["limits"]["cost"]["min"] == 20
    sol = markets["SOL/USDT:USDT"]
    assert (sol["precision"]["price"], sol["precision"]["amount"]) == (0.01, 0.01)


def test_fetch_time_is_the_servers_wall_clock_in_milliseconds(trader):
    before = time.time() * 1000
    server_time = trader.fetch_time()
    after = time.time() * 1000

    assert isinstance(server_time, int)
    assert before - 1000 <= server_time <= after + 1000


def test_the_order_book_shows_the_makers_resting_orders_best_price_first(maker, trader):
    rest(maker, "buy", 0.5, 49990)
    rest(maker, "buy", 1.0, 49980)
    rest(maker, "buy", 0.25, 49990)
    rest(maker, "sell", 0.7, 50020)
    rest(maker, "sell", 0.3, 50010)

    book = trader.fetch_order_book(BTC)

    assert book["symbol"] == BTC
    assert book["bids"] == [[49990.0, pytest.approx(0.75)], [49980.0, 1.0]]
    assert book["asks"] == [[50010.0, 0.3], [50020.0, 0.7]]
    assert isinstance(book["nonce"], int)
    # ccxt sorts what it parses; the server's own answer must already be best first
    raw = trader.fapiPublicGetDepth({"symbol": "BTCUSDT", "limit": 10})
    assert [Decimal(p) for p, _ in raw["bids"]] == [Decimal(49990), Decimal(49980)]
    assert [Decimal(p) for p, _ in raw["asks"]] == [Decimal(50010), Decimal(50020)]
    assert [Decimal(q) for _, q in raw["bids"]] == [Decimal("0.75"), Decimal(1)]


def test_fetch_ticker_reports_the_last_trade_price_and_the_volume(maker, trader):
    rest(maker, "sell", 0.01, 50000)
    rest(maker, "sell", 0.01, 50010)
    take(trader, "buy", 0.02)

    ticker = trader.fetch_ticker(BTC)

    assert ticker["symbol"] == BTC
    assert ticker["last"] == 50010
    assert ticker["high"] == 50010
    assert ticker["low"] == 50000
    assert ticker["baseVolume"] == pytest.approx(0.02)
    assert ticker["quoteVolume"] == pytest.approx(1000.1)


def test_fetch_funding_rate_reports_the_mark_price_that_was_set(srv, mock, trader):
    assert trader.fetch_funding_rate(BTC)["markPrice"] == 50000

    srv.call(mock.set_mark, "BTCUSDT", "50250")

    rate = trader.fetch_funding_rate(BTC)
    assert rate["symbol"] == BTC
    assert rate["markPrice"] == 50250
    assert trader.fetch_funding_rate(ETH)["markPrice"] == 3000


def test_a_settled_funding_rate_is_the_last_funding_rate_and_the_long_pays_it(srv, mock, maker, trader):
    rest(maker, "sell", 0.01, 50000)
    take(trader, "buy", 0.01)
    before = usdt(trader)["total"]

    srv.call(mock.settle_funding, "BTCUSDT", "0.0001")

    assert trader.fetch_funding_rate(BTC)["fundingRate"] == 0.0001
    # longs pay 0.01 % of 0.01 BTC x 50,000 = 0.05 USDT
    assert usdt(trader)["total"] == pytest.approx(before - 0.05, abs=1e-6)


# ---------------------------------------------------------------------------- orders
def test_a_limit_order_rests_and_shows_in_open_orders(maker, trader):
    order = trader.create_order(BTC, "limit", "buy", 0.01, 49000, {"clientOrderId": "e2e-bid-1"})

    assert order["status"] == "open"
    assert (order["symbol"], order["type"], order["side"]) == (BTC, "limit", "buy")
    assert (order["amount"], order["price"], order["filled"]) == (0.01, 49000, 0)
    assert order["clientOrderId"] == "e2e-bid-1"
    assert order["timeInForce"] == "GTC"
    open_orders = trader.fetch_open_orders(BTC)
    assert [o["id"] for o in open_orders] == [order["id"]]
    assert open_orders[0]["remaining"] == 0.01
    assert maker.fetch_open_orders(BTC) == []


def test_a_market_order_crossing_the_makers_asks_fills_at_their_prices(maker, trader):
    rest(maker, "sell", 0.03, 50000)
    second = rest(maker, "sell", 0.02, 50010)

    order = trader.create_order(BTC, "market", "buy", 0.04)

    assert order["status"] == "closed"
    assert order["filled"] == pytest.approx(0.04)
    assert order["average"] == pytest.approx(50002.5)           # (0.03·50,000 + 0.01·50,010) / 0.04
    assert order["cost"] == pytest.approx(2000.1)
    rest_of_second = maker.fetch_order(second["id"], BTC)
    assert rest_of_second["status"] == "open"
    assert rest_of_second["filled"] == pytest.approx(0.01)
    assert trader.fetch_order_book(BTC)["asks"] == [[50010.0, 0.01]]


def test_fetch_order_by_id_follows_a_resting_order_until_it_is_filled(maker, trader):
    bid = rest(trader, "buy", 0.01, 49990)

    fetched = trader.fetch_order(bid["id"], BTC)
    assert (fetched["id"], fetched["status"], fetched["filled"]) == (bid["id"], "open", 0)
    assert fetched["clientOrderId"] == bid["clientOrderId"]

    take(maker, "sell", 0.01)

    filled = trader.fetch_order(bid["id"], BTC)
    assert filled["status"] == "closed"
    assert filled["filled"] == 0.01
    assert filled["average"] == 49990


def test_a_canceled_order_is_reported_canceled_and_leaves_open_orders_and_the_book(trader):
    bid = rest(trader, "buy", 0.01, 49000)

    canceled = trader.cancel_order(bid["id"], BTC)

    assert canceled["id"] == bid["id"]
    assert canceled["status"] == "canceled"
    assert trader.fetch_order(bid["id"], BTC)["status"] == "canceled"
    assert trader.fetch_open_orders(BTC) == []
    assert trader.fetch_order_book(BTC)["bids"] == []


def test_canceling_an_unknown_order_id_raises_order_not_found(trader):
    rest(trader, "buy", 0.01, 49000)

    with pytest.raises(ccxt.OrderNotFound):
        trader.cancel_order("987654321", BTC)
    assert len(trader.fetch_open_orders(BTC)) == 1


def test_canceling_another_accounts_order_raises_order_not_found_and_leaves_it_resting(maker, trader):
    ask = rest(maker, "sell", 0.01, 50100)

    with pytest.raises(ccxt.OrderNotFound):
        trader.cancel_order(ask["id"], BTC)
    assert [o["id"] for o in maker.fetch_open_orders(BTC)] == [ask["id"]]


def test_fetching_an_unknown_order_id_raises_order_not_found(trader):
    with pytest.raises(ccxt.OrderNotFound):
        trader.fetch_order("987654321", BTC)


def test_a_post_only_order_that_would_not_cross_rests_as_post_only(maker, trader):
    rest(maker, "sell", 0.01, 50000)

    order = trader.create_order(BTC, "limit", "buy", 0.01, 49990, {"postOnly": True})

    assert order["status"] == "open"
    assert order["postOnly"] is True                # Binance answers timeInForce GTX
    assert order["timeInForce"] == "PO"


@pytest.mark.parametrize("params", [{"postOnly": True}, {"timeInForce": "GTX"}], ids=["postOnly", "GTX"])
def test_a_post_only_order_that_would_cross_is_rejected(maker, trader, params):
    rest(maker, "sell", 0.01, 50000)

    # Binance: -5022 "... the Post Only order will be rejected" (ccxt: OrderNotFillable, an InvalidOrder)
    with pytest.raises(ccxt.InvalidOrder):
        trader.create_order(BTC, "limit", "buy", 0.01, 50000, params)
    assert trader.fetch_open_orders(BTC) == []
    assert trader.fetch_order_book(BTC)["asks"] == [[50000.0, 0.01]]


def test_an_order_too_big_for_the_margin_raises_insufficient_funds(trader):
    # 10 BTC at 49,000 at the default 20x needs 24,500 USDT of initial margin; the trader has 10,000
    with pytest.raises(ccxt.InsufficientFunds):
        trader.create_order(BTC, "limit", "buy", 10, 49000)
    assert trader.fetch_open_orders(BTC) == []


@pytest.mark.parametrize("who", ["wrong secret", "unknown api key"])
def test_a_request_with_bad_credentials_raises_authentication_error(connect, trader_cred, who):
    if who == "wrong secret":
        client = connect(api_key=trader_cred.api_key, secret=trader_cred.secret + "x")
    else:
        client = connect(api_key="not-a-key-of-this-server", secret=trader_cred.secret)

    with pytest.raises(ccxt.AuthenticationError):
        client.fapiPrivateV3GetAccount()            # the futures endpoint itself: -1022 / -2015
    with pytest.raises(ccxt.AuthenticationError):
        client.fetch_balance()                      # load_markets' signed /sapi/v1 calls first


def test_a_stop_market_order_placed_with_ccxt_fires_when_the_mark_crosses_its_trigger(
        srv, mock, maker, trader):
    """ccxt 4.5 sends every conditional USDⓈ-M order to POST /fapi/v1/algoOrder (type STOP_MARKET,
    triggerPrice, algoType CONDITIONAL). Binance's default workingType is CONTRACT_PRICE (the last
    trade), so the mark-price trigger is asked for explicitly."""
    rest(maker, "sell", 0.01, 50000)
    take(trader, "buy", 0.01)
    rest(maker, "buy", 0.01, 49500)

    stop = trader.create_order(BTC, "market", "sell", 0.01, None,
                               {"stopPrice": 49800, "workingType": "MARK_PRICE", "reduceOnly": True})

    assert stop["status"] == "open"
    assert stop["triggerPrice"] == 49800
    waiting = trader.fetch_open_orders(BTC, None, None, {"trigger": True})     # /fapi/v1/openAlgoOrders
    assert [o["id"] for o in waiting] == [stop["id"]]
    srv.call(mock.set_mark, "BTCUSDT", "49900")                 # above the trigger: nothing fires
    assert btc_position(trader)["contracts"] == 0.01

    srv.call(mock.set_mark, "BTCUSDT", "49700")

    assert trader.fetch_positions([BTC]) == []
    assert trader.fetch_open_orders(BTC, None, None, {"trigger": True}) == []
    sells = [t for t in trader.fetch_my_trades(BTC) if t["side"] == "sell"]
    assert [(t["price"], t["amount"]) for t in sells] == [(49500, 0.01)]


def test_a_stop_market_order_on_the_order_endpoint_fires_when_the_mark_crosses_its_trigger(
        srv, mock, maker, trader):
    """The legacy route the contract lists: POST /fapi/v1/order type=STOP_MARKET stopPrice=..."""
    trader.load_markets()
    rest(maker, "sell", 0.01, 50000)
    take(trader, "buy", 0.01)
    rest(maker, "buy", 0.01, 49500)

    raw = trader.fapiPrivatePostOrder({"symbol": "BTCUSDT", "side": "SELL", "type": "STOP_MARKET",
                                       "quantity": "0.01", "stopPrice": "49800",
                                       "workingType": "MARK_PRICE", "newOrderRespType": "RESULT"})

    assert (raw["status"], raw["type"]) == ("NEW", "STOP_MARKET")
    assert Decimal(raw["stopPrice"]) == Decimal(49800)
    assert [o["id"] for o in trader.fetch_open_orders(BTC)] == [str(raw["orderId"])]
    srv.call(mock.set_mark, "BTCUSDT", "49700")

    assert trader.fetch_positions([BTC]) == []
    assert trader.fetch_order(str(raw["orderId"]), BTC)["status"] == "closed"
    assert trader.fetch_open_orders(BTC) == []


def test_fetch_my_trades_lists_each_fill_with_its_price_role_and_fee(maker, trader):
    rest(maker, "sell", 0.01, 50000)
    rest(maker, "sell", 0.02, 50010)
    order = take(trader, "buy", 0.03)

    trades = trader.fetch_my_trades(BTC)

    assert [(t["price"], t["amount"], t["side"], t["takerOrMaker"]) for t in trades] == [
        (50000, 0.01, "buy", "taker"), (50010, 0.02, "buy", "taker")]
    assert {t["order"] for t in trades} == {order["id"]}
    assert [t["fee"]["currency"] for t in trades] == ["USDT", "USDT"]
    assert [t["fee"]["cost"] for t in trades] == [pytest.approx(0.25), pytest.approx(0.5001)]
    maker_trades = maker.fetch_my_trades(BTC)
    assert [(t["side"], t["takerOrMaker"]) for t in maker_trades] == [("sell", "maker")] * 2
    assert [t["fee"]["cost"] for t in maker_trades] == [pytest.approx(0.1), pytest.approx(0.20004)]


# ---------------------------------------------------------------------------- account
def test_the_balance_is_the_deposit_and_drops_by_the_fee_after_a_fill(maker, trader):
    before = usdt(trader)
    assert (before["total"], before["free"]) == (10000, 10000)

    rest(maker, "sell", 0.01, 50000)
    take(trader, "buy", 0.01)

    after = usdt(trader)
    assert after["total"] == pytest.approx(10000 - 0.25, abs=1e-9)       # taker fee 0.05 % of 500
    assert after["free"] == pytest.approx(10000 - 0.25 - 25, abs=1e-9)   # less 500 / 20x margin
    assert usdt(maker)["total"] == pytest.approx(10_000_000 - 0.1, abs=1e-6)   # maker fee 0.02 %


def test_an_isolated_positions_margin_stays_in_the_wallet_and_the_balance(srv, mock, maker,
                                                                          trader):
    """Binance's account: walletBalance holds the isolated margin too, crossWalletBalance
    does not; marginBalance (ccxt's total) is wallet + every position's uPnL; initialMargin
    (ccxt's used) is the positions' and the open orders' initial margin."""
    trader.set_margin_mode("isolated", BTC)
    trader.set_leverage(10, BTC)
    rest(maker, "sell", 0.1, 50000)
    take(trader, "buy", 0.1)                                 # 5,000 notional: 500 isolated
    rest(trader, "buy", 0.1, 49000)                          # an open order: 490 more IM
    srv.call(mock.set_mark, "BTCUSDT", "50500")              # +50 uPnL on the isolated long
    fee = 2.5                                                # 0.05 % taker of 5,000
    acc = trader.fapiPrivateV3GetAccount()
    asset = acc["assets"][0]
    pos = [p for p in acc["positions"] if p["symbol"] == "BTCUSDT"][0]
    assert float(pos["isolatedWallet"]) == pytest.approx(500)
    assert float(asset["walletBalance"]) == pytest.approx(10000 - fee)
    assert float(asset["crossWalletBalance"]) == pytest.approx(10000 - fee - 500)
    assert float(asset["unrealizedProfit"]) == pytest.approx(50)
    assert float(asset["crossUnPnl"]) == 0
    assert float(asset["marginBalance"]) == pytest.approx(10000 - fee + 50)
    assert float(asset["positionInitialMargin"]) == pytest.approx(505)      # 5,050 / 10
    assert float(asset["openOrderInitialMargin"]) == pytest.approx(490)     # 4,900 / 10
    assert float(asset["initialMargin"]) == pytest.approx(995)
    assert float(acc["totalWalletBalance"]) == pytest.approx(10000 - fee)
    bal = usdt(trader)
    assert bal["total"] == pytest.approx(10000 - fee + 50)
    assert bal["used"] == pytest.approx(995)
    assert bal["free"] == pytest.approx(10000 - fee - 500 - 490)


def test_fetch_positions_reports_both_sides_of_a_trade(srv, mock, maker, trader):
    assert trader.fetch_positions([BTC]) == []
    rest(maker, "sell", 0.01, 50000)
    take(trader, "buy", 0.01)

    long = btc_position(trader)
    assert (long["symbol"], long["side"], long["contracts"]) == (BTC, "long", 0.01)
    assert long["entryPrice"] == 50000
    assert long["markPrice"] == 50000
    assert long["marginMode"] == "cross"
    assert long["notional"] == 500
    short = btc_position(maker)
    assert (short["side"], short["contracts"], short["entryPrice"]) == ("short", 0.01, 50000)

    srv.call(mock.set_mark, "BTCUSDT", "51000")

    assert btc_position(trader)["unrealizedPnl"] == pytest.approx(10)
    assert btc_position(maker)["unrealizedPnl"] == pytest.approx(-10)


def test_set_leverage_sets_the_leverage_of_the_position_and_its_margin(maker, trader):
    answer = trader.set_leverage(10, BTC)
    assert (answer["symbol"], int(answer["leverage"])) == ("BTCUSDT", 10)

    rest(maker, "sell", 0.01, 50000)
    take(trader, "buy", 0.01)

    # /fapi/v3/positionRisk has no leverage field on Binance; v2 has
    assert btc_position(trader, useV2=True)["leverage"] == 10
    assert btc_position(maker, useV2=True)["leverage"] == 20             # Binance's default
    assert usdt(trader)["free"] == pytest.approx(10000 - 0.25 - 50, abs=1e-9)


def test_a_leverage_above_the_instruments_maximum_is_refused(trader):
    with pytest.raises(ccxt.BadRequest):
        trader.set_leverage(101, ETH)                                    # ETHUSDT allows 100x

    [row] = trader.fapiPrivateV2GetPositionRisk({"symbol": "ETHUSDT"})
    assert int(row["leverage"]) == 20


def test_set_margin_mode_isolated_makes_the_next_position_isolated(maker, trader):
    trader.set_margin_mode("isolated", BTC)
    rest(maker, "sell", 0.01, 50000)
    take(trader, "buy", 0.01)

    position = btc_position(trader)
    assert position["marginMode"] == "isolated"
    assert position["collateral"] == pytest.approx(25, abs=1)          # 500 / 20x in the bucket
    assert btc_position(maker)["marginMode"] == "cross"


def test_setting_the_margin_mode_it_already_has_raises_margin_mode_already_set(trader):
    """Binance answers -4046 "No need to change margin type."; ccxt raises MarginModeAlreadySet."""
    trader.set_margin_mode("isolated", BTC)

    with pytest.raises(ccxt.MarginModeAlreadySet):
        trader.set_margin_mode("isolated", BTC)


def test_a_20x_long_pushed_under_its_liquidation_price_is_liquidated(srv, mock, connect, maker):
    """As tests/exchange/test_venue_liquidation.py: 0.3 BTC bought at 50,000 with 1,000 USDT at
    20x; liquidation price about 46,879; the maker's bids at 47,000 and below take it."""
    trader = leveraged_long_near_liquidation(srv, mock, connect, maker)

    position = btc_position(trader)
    assert position["contracts"] == pytest.approx(0.3)
    assert 46850 < position["liquidationPrice"] < 46900
    srv.call(mock.set_mark, "BTCUSDT", "46900")
    assert btc_position(trader)["contracts"] == pytest.approx(0.3)

    srv.call(mock.set_mark, "BTCUSDT", "46850")

    assert trader.fetch_positions([BTC]) == []
    assert maker.fetch_positions([BTC]) == []                       # the maker's bid closed its short
    assert 0 <= usdt(trader)["total"] < 992.5 - 0.3 * 3000 + 1


def test_historical_trades_pages_from_a_trade_id_and_both_sides_share_its_id(maker, trader):
    for i in range(4):
        rest(maker, "sell", 0.01, 50000 + i * 10)
    take(trader, "buy", 0.04)                                  # four trades, ids 1..4
    public = trader.fapiPublicGetHistoricalTrades({"symbol": "BTCUSDT"})
    assert [int(t["id"]) for t in public] == [1, 2, 3, 4]
    page = trader.fapiPublicGetHistoricalTrades({"symbol": "BTCUSDT", "fromId": 2, "limit": 2})
    assert [(int(t["id"]), t["price"]) for t in page] == [(2, "50010"), (3, "50020")]
    # the maker's and the taker's fill of one trade have the public trade's id
    assert [t["id"] for t in trader.fetch_my_trades(BTC)] == ["1", "2", "3", "4"]
    assert [t["id"] for t in maker.fetch_my_trades(BTC)] == ["1", "2", "3", "4"]


def test_an_instrument_without_a_mark_is_pending_and_refuses_orders_until_it_has_one(srv, mock,
                                                                                     trader):
    sol = "SOL/USDT:USDT"
    markets = trader.load_markets(reload=True)
    assert markets[BTC]["active"] and not markets[sol]["active"]          # no SOL mark yet
    assert markets[sol]["info"]["status"] == "PENDING_TRADING"
    with pytest.raises(ccxt.BadRequest, match="-1122"):
        trader.create_order(sol, "limit", "buy", 1, 150)
    srv.call(mock.set_mark, "SOLUSDT", "150")
    assert trader.load_markets(reload=True)[sol]["active"]
    assert trader.create_order(sol, "limit", "buy", 1, 149)["status"] == "open"


def test_status_funding_intervals_and_position_mode_as_binance(trader):
    assert trader.fetch_status()["status"] == "ok"
    intervals = trader.fetch_funding_intervals()
    assert intervals[BTC]["interval"] == "8h"
    assert trader.fapiPrivateGetAccountConfig()["dualSidePosition"] is False
    with pytest.raises(ccxt.OperationRejected, match="-4059"):
        trader.set_position_mode(False)                       # one-way already
    with pytest.raises(ccxt.OperationFailed, match="Hedge mode"):
        trader.set_position_mode(True)


def test_isolated_margin_changes_are_refused_as_binance_and_their_history_kept(maker, trader):
    with pytest.raises(ccxt.ExchangeError, match="-4049"):          # a cross position
        trader.add_margin(BTC, 10)
    trader.set_margin_mode("isolated", BTC)
    with pytest.raises(ccxt.ExchangeError, match="-4054"):          # no position
        trader.add_margin(BTC, 10)
    rest(maker, "sell", 0.01, 50000)
    take(trader, "buy", 0.01)
    trader.add_margin(BTC, 10)
    trader.reduce_margin(BTC, 4)
    history = trader.fetch_margin_adjustment_history(BTC)
    assert [(h["type"], h["amount"]) for h in history] == [("add", 10), ("reduce", 4)]


def test_an_edited_orders_modifications_are_listed_newest_first(trader):
    o = rest(trader, "buy", 0.01, 49000)
    trader.edit_order(o["id"], BTC, "limit", "buy", 0.01, 49100)
    trader.edit_order(o["id"], BTC, "limit", "buy", 0.02, 49100)
    rows = trader.fapiPrivateGetOrderAmendment({"symbol": "BTCUSDT", "orderId": o["id"]})
    assert [(r["amendment"]["count"], r["amendment"]["price"], r["amendment"]["origQty"])
            for r in rows] == [
        (2, {"before": "49100", "after": "49100"}, {"before": "0.01", "after": "0.02"}),
        (1, {"before": "49000", "after": "49100"}, {"before": "0.01", "after": "0.01"})]


def test_countdown_cancel_all_cancels_the_symbols_orders_when_it_runs_out(trader):
    kept = rest(trader, "buy", 0.01, 49000)
    answer = trader.fapiPrivatePostCountdownCancelAll({"symbol": "BTCUSDT",
                                                       "countdownTime": 60000})
    assert answer == {"symbol": "BTCUSDT", "countdownTime": "60000"}
    time.sleep(0.3)
    assert trader.fetch_order(kept["id"], BTC)["status"] == "open"       # 60 s to go
    trader.fapiPrivatePostCountdownCancelAll({"symbol": "BTCUSDT", "countdownTime": 200})
    deadline = time.monotonic() + 5
    while trader.fetch_order(kept["id"], BTC)["status"] == "open":
        assert time.monotonic() < deadline, "the countdown never cancelled"
        time.sleep(0.05)
    assert trader.fetch_order(kept["id"], BTC)["status"] == "canceled"
    # 0 stops a countdown
    o = rest(trader, "buy", 0.01, 49000)
    trader.fapiPrivatePostCountdownCancelAll({"symbol": "BTCUSDT", "countdownTime": 300})
    trader.fapiPrivatePostCountdownCancelAll({"symbol": "BTCUSDT", "countdownTime": 0})
    time.sleep(0.6)
    assert trader.fetch_order(o["id"], BTC)["status"] == "open"


def test_price_match_prices_a_limit_order_from_the_book(maker, trader):
    rest(maker, "sell", 0.1, 50100)
    rest(maker, "sell", 0.1, 50200)
    rest(maker, "buy", 0.1, 49900)
    queued = trader.create_order(BTC, "limit", "buy", 0.01, None, {"priceMatch": "QUEUE"})
    assert (queued["price"], queued["info"]["priceMatch"], queued["status"]) == (
        49900, "QUEUE", "open")
    taken = trader.create_order(BTC, "limit", "buy", 0.01, None,
                                {"priceMatch": "OPPONENT", "timeInForce": "IOC"})
    assert (taken["price"], taken["status"]) == (50100, "closed")
    with pytest.raises(ccxt.OperationFailed, match="-5041"):            # no 5th ask
        trader.create_order(BTC, "limit", "buy", 0.01, None, {"priceMatch": "OPPONENT_5"})


def test_a_gtd_order_carries_its_date_and_expires_at_it(srv, mock, trader):
    too_soon = int(time.time() * 1000) + 60_000
    with pytest.raises(ccxt.ExchangeError, match="-5040"):
        trader.create_order(BTC, "limit", "buy", 0.01, 49000,
                            {"timeInForce": "GTD", "goodTillDate": too_soon})
    when = int(time.time() * 1000) + 3_600_000
    o = trader.create_order(BTC, "limit", "buy", 0.01, 49000,
                            {"timeInForce": "GTD", "goodTillDate": when})
    assert o["info"]["timeInForce"] == "GTD"
    assert int(o["info"]["goodTillDate"]) == when // 1000 * 1000

    def come_due():                           # the hour passes: its date is now
        mock._good_till[:] = [(1, int(o["id"]))]
    srv.call(come_due)
    deadline = time.monotonic() + 5
    while trader.fetch_order(o["id"], BTC)["info"]["status"] != "EXPIRED":
        assert time.monotonic() < deadline, "the GTD order never expired"
        time.sleep(0.05)


def test_a_modify_below_the_minimum_notional_is_refused_with_5029(trader):
    o = rest(trader, "buy", 0.01, 49000)
    with pytest.raises(ccxt.ExchangeError, match="-5029"):
        trader.edit_order(o["id"], BTC, "limit", "buy", 0.001, 49000)
    assert trader.fetch_order(o["id"], BTC)["amount"] == 0.01
