"""Positioning data through unmodified ccxt (sync): Binance's ``/futures/data`` statistics
(``fetch_open_interest_history``, ``fetch_long_short_ratio_history``, the top-trader ratios,
taker buy/sell volume, basis) and the ADL quantile (``fetch_positions_adl_rank``,
``/fapi/v3/positionRisk``'s ``adl``), plus the rules of the statistics' store and paging.

The statistics are sampled at five-minute boundaries of the wall clock; the end-to-end tests
move the process's clock (``time.time`` / ``time.time_ns``, which both the server and ccxt
read) forward instead of waiting.
"""
from __future__ import annotations

import time
from decimal import Decimal

import ccxt
import pytest

from exchange.server import history
from exchange.server.history import STAT_BUCKET_MS, STAT_WINDOW_MS, PositionStats, stat_times
from tests.exchange.server.orders import BTC, rest, take

FIVE = STAT_BUCKET_MS


@pytest.fixture
def clock(monkeypatch):
    """``clock(seconds)`` moves the wall clock of this process forward."""
    real_time, real_ns = time.time, time.time_ns
    offset = [0.0]
    monkeypatch.setattr(time, "time", lambda: real_time() + offset[0])
    monkeypatch.setattr(time, "time_ns", lambda: real_ns() + int(offset[0] * 1e9))

    def move(seconds: float) -> None:
        offset[0] += seconds
    return move


# ------------------------------------------------------------------ the store and its paging
def test_position_stats_keep_the_last_state_of_each_bucket_and_answer_the_state_before_a_time():
    s = PositionStats()
    t0 = 1_800_000_000_000 // FIVE * FIVE
    s.record(t0 + 10, (1,))
    s.record(t0 + 20, (2,))                          # the same bucket: replaces
    s.record(t0 + FIVE + 5, (3,))
    assert s.t == [t0 + 20, t0 + FIVE + 5]
    assert s.at(t0) is None                          # nothing before the first record
    assert s.at(t0 + FIVE) == (2,)                   # the state at a boundary: before it
    assert s.at(t0 + FIVE + 5) == (2,) and s.at(t0 + FIVE + 6) == (3,)
    assert s.at(t0 + 100 * FIVE) == (3,)             # carried while nothing changes
    s.record(t0 + 5, (9,))                           # the clock never steps back
    assert s.t[-1] == t0 + FIVE + 5 and s.rows[-1] == (9,)
    s.add_trade(t0 + 1, Decimal("1.5"), True)
    s.add_trade(t0 + FIVE + 1, Decimal("2"), False)
    assert s.taker_volume(t0, t0 + 2 * FIVE) == (Decimal("1.5"), Decimal("2"))
    assert s.taker_volume(t0 + FIVE, t0 + 2 * FIVE) == (Decimal(0), Decimal("2"))


def test_position_stats_keep_30_days_and_the_state_carrying_into_them():
    s = PositionStats()
    t0 = 1_800_000_000_000 // FIVE * FIVE
    s.record(t0, (1,))
    s.add_trade(t0, Decimal(1), True)
    s.record(t0 + FIVE, (2,))
    late = t0 + STAT_WINDOW_MS + 10 * FIVE
    s.record(late, (3,))
    assert s.rows == [(2,), (3,)]                    # (1,) dropped; (2,) carries into the window
    assert s.taker == {}
    assert s.at(late - FIVE) == (2,)


def test_stat_times_page_like_binance():
    now = 1_800_000_000_000 // FIVE * FIVE + 7_000
    first = now - 10 * FIVE
    # neither time: the latest ``limit`` up to now, after the first record
    assert stat_times("5m", now, first, None, None, 3) == [now - 7_000 - 2 * FIVE,
                                                          now - 7_000 - FIVE, now - 7_000]
    assert len(stat_times("5m", now, first, None, None, 500)) == 10
    # startTime: the first ``limit`` from it (a boundary at or after it)
    assert stat_times("5m", now, first, now - 7_000 - 5 * FIVE - 1, None, 2) == [
        now - 7_000 - 5 * FIVE, now - 7_000 - 4 * FIVE]
    # endTime: the last ``limit`` up to it
    assert stat_times("5m", now, first, None, now - 7_000 - 3 * FIVE + 1, 2) == [
        now - 7_000 - 4 * FIVE, now - 7_000 - 3 * FIVE]
    # longer periods on UTC boundaries; nothing older than 30 days; nothing before data
    hour = history.INTERVALS["1h"]
    assert all(t % hour == 0 for t in stat_times("1h", now, now - 30 * hour, None, None, 500))
    assert stat_times("5m", now, now - 40 * 1440 * 60_000, None, None, 500)[0] >= now - STAT_WINDOW_MS
    assert stat_times("5m", now, None, None, None, 30) == []


# ------------------------------------------------------------------ end to end, through ccxt
@pytest.fixture
def traders(srv, mock, connect):
    """Two more traders (10,000 USDT each)."""
    return [connect(srv.call(mock.add_account, deposit="10000")) for _ in range(2)]


def test_open_interest_and_long_short_history_follow_the_positions(clock, srv, mock, maker,
                                                                    trader, traders):
    a, b = traders
    rest(maker, "sell", 0.5, 50000)
    take(trader, "buy", 0.1)
    take(a, "buy", 0.2)
    clock(300)                                   # into the next five minutes
    take(b, "buy", 0.1)                          # b buys the maker's rest: the short grows
    clock(300)
    oi = maker.fetch_open_interest_history(BTC, "5m")
    assert [o["openInterestAmount"] for o in oi[-2:]] == [pytest.approx(0.3), pytest.approx(0.4)]
    assert oi[-1]["openInterestValue"] == pytest.approx(0.4 * 50000)
    assert oi[-1]["timestamp"] % FIVE == 0 and oi[-1]["timestamp"] <= time.time() * 1000
    assert maker.requested[-1] == ("GET", "/futures/data/openInterestHist")
    ratios = maker.fetch_long_short_ratio_history(BTC, "5m")
    # accounts net long against net short: trader and a against the maker, then b too
    assert [r["longShortRatio"] for r in ratios[-2:]] == [2.0, 3.0]
    last = ratios[-1]["info"]
    assert (last["longAccount"], last["shortAccount"]) == ("0.7500", "0.2500")
    # the top traders: the fifth (one) of the four holders with the largest margin balance,
    # the maker (short)
    top = maker.fapiDataGetTopLongShortAccountRatio({"symbol": "BTCUSDT", "period": "5m"})
    assert (top[-1]["longAccount"], top[-1]["shortAccount"]) == ("0.0000", "1.0000")
    assert top[-1]["longShortRatio"] == "0.0000"         # no long side among them
    pos = maker.fapiDataGetTopLongShortPositionRatio({"symbol": "BTCUSDT", "period": "5m"})
    assert pos[-1]["shortAccount"] == "1.0000"
    # 15 minutes on, a 15-minute period's last timestamp holds the state the five-minute
    # series has at that time (a boundary after the first record: 25 minutes have passed)
    clock(900)
    oi15 = maker.fetch_open_interest_history(BTC, "15m", limit=1)
    by_time = {o["timestamp"]: o["openInterestAmount"]
               for o in maker.fetch_open_interest_history(BTC, "5m", limit=500)}
    assert len(oi15) == 1 and oi15[0]["timestamp"] % (3 * FIVE) == 0
    assert by_time[oi15[0]["timestamp"]] == oi15[0]["openInterestAmount"] == pytest.approx(0.4)


def test_taker_volume_and_basis(clock, srv, mock, maker, trader):
    rest(maker, "sell", 0.3, 50010)
    take(trader, "buy", 0.3)
    rest(maker, "buy", 0.1, 49990)
    take(trader, "sell", 0.1)
    clock(300)
    taker = trader.fapiDataGetTakerlongshortRatio({"symbol": "BTCUSDT", "period": "5m"})
    assert (taker[-1]["buyVol"], taker[-1]["sellVol"], taker[-1]["buySellRatio"]) == (
        "0.3000", "0.1000", "3.0000")
    basis = trader.fapiDataGetBasis({"pair": "BTCUSDT", "contractType": "PERPETUAL",
                                     "period": "5m", "limit": 30})
    row = basis[-1]
    assert (row["futuresPrice"], row["indexPrice"]) == ("49990", "50000.00000000")
    assert (Decimal(row["basis"]), row["basisRate"]) == (Decimal(-10), "-0.0002")
    assert trader.fapiDataGetBasis({"pair": "BTCUSDT", "contractType": "CURRENT_QUARTER",
                                    "period": "5m", "limit": 30}) == []


def test_statistics_refuse_bad_parameters_with_binances_codes(trader):
    for params, code in (({"period": "1m"}, "-1100"), ({}, "-1102"),
                         ({"period": "5m", "limit": 501}, "-1130"),
                         ({"period": "5m", "startTime": 10, "endTime": 5}, "-1128")):
        with pytest.raises(ccxt.BadRequest, match=code):
            trader.fapiDataGetOpenInterestHist({"symbol": "BTCUSDT", **params})
    with pytest.raises(ccxt.BadRequest, match="-1121"):
        trader.fapiDataGetGlobalLongShortAccountRatio({"symbol": "NOPE", "period": "5m"})


def test_adl_quantile_ranks_the_profitable_side_by_the_venues_queue(srv, mock, maker, trader,
                                                                    traders):
    a, b = traders
    rest(maker, "buy", 0.3, 50000)
    take(trader, "sell", 0.2)                    # two shorts at 50,000, trader larger
    take(a, "sell", 0.1)
    rest(maker, "sell", 0.1, 50000)
    take(b, "buy", 0.1)                          # b long beside the maker
    srv.call(mock.set_mark, "BTCUSDT", "49000")  # the shorts gain, the longs lose
    ranks = {c: c.fetch_positions_adl_rank([BTC]) for c in (maker, trader, a, b)}
    assert maker.requested[-1] == ("GET", "/fapi/v1/adlQuantile")
    got = {c: r[0]["rank"] for c, r in ranks.items()}
    # Binance's ranking PnL% × margin ratio: the trader's 0.2 short on 10,000 ranks above a's
    # 0.1; of two winners, the first gets 4 and the second 4 − ⌊5/2⌋ = 2; losers 0
    assert (got[trader], got[a], got[maker], got[b]) == (4, 2, 0, 0)
    assert ranks[trader][0]["info"]["adlQuantile"] == {"LONG": 0, "SHORT": 0, "BOTH": 4}
    v3 = trader.fapiPrivateV3GetPositionRisk({"symbol": "BTCUSDT"})
    assert v3[0]["adl"] == 4
    # no position: nothing listed; the mark back above the entries: the longs' turn
    assert connect_empty(srv, mock, maker).fapiPrivateGetAdlQuantile() == []
    srv.call(mock.set_mark, "BTCUSDT", "51000")
    # b's 100 USDT profit on 10,000 outranks the maker's 200 on 10,000,000 (PnL% of wallet)
    assert b.fetch_positions_adl_rank([BTC])[0]["rank"] == 4
    assert maker.fetch_positions_adl_rank([BTC])[0]["rank"] == 2
    assert trader.fetch_positions_adl_rank([BTC])[0]["rank"] == 0


def connect_empty(srv, mock, like):
    """A client of a new account with no position, built like ``like``."""
    cred = srv.call(mock.add_account, deposit="100")
    from exchange.server import ccxt_config
    return ccxt.binanceusdm(ccxt_config(srv.base_url, cred.api_key, cred.secret))


def test_statistics_survive_a_restart_from_the_state_directory(tmp_path, clock):
    from exchange.server import MockBinance, ServerThread, ccxt_config

    def serve():
        return MockBinance(marks={"BTCUSDT": "50000"}, state_dir=tmp_path)

    mock = serve()
    maker_cred, trader_cred = mock.add_account("1000000"), mock.add_account("10000")
    with ServerThread(mock) as srv:
        maker = ccxt.binanceusdm(ccxt_config(srv.base_url, maker_cred.api_key, maker_cred.secret))
        trader = ccxt.binanceusdm(ccxt_config(srv.base_url, trader_cred.api_key, trader_cred.secret))
        rest(maker, "sell", 0.2, 50000)
        take(trader, "buy", 0.2)
        clock(300)
        before = trader.fetch_open_interest_history(BTC, "5m")
    mock.journal.close()
    again = serve()
    with ServerThread(again) as srv:
        trader = ccxt.binanceusdm(ccxt_config(srv.base_url, trader_cred.api_key, trader_cred.secret))
        after = trader.fetch_open_interest_history(BTC, "5m")
    assert [o["info"] for o in after] == [o["info"] for o in before]
    assert before[-1]["openInterestAmount"] == pytest.approx(0.2)
