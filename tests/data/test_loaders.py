"""Loading our own fixture files in the Tardis.dev and Binance public-data layouts; malformed
rows raise DataError naming the file, the line and the column."""
from __future__ import annotations

import gzip
import io
import zipfile
from pathlib import Path

import numpy as np
import pytest

from exchange.data import LAYOUTS, detect_layout, load, load_file, split_kind
from exchange.data.feed import ReplayFeed
from exchange.errors import DataError
from exchange.presets import load_preset

FIX = Path(__file__).parent / "fixtures"
T = FIX / "tardis"
B = FIX / "binance"
T0_NS = 1_704_094_800 * 1_000_000_000          # 2024-01-01 07:40 UTC, the fixtures' start
SPEC = load_preset("binance_usdm").instruments["BTCUSDT"]

EXPECTED = {
    T / "binance-futures_incremental_book_L2_2024-01-01_BTCUSDT.csv.gz": "tardis.incremental_book_L2",
    T / "binance-futures_trades_2024-01-01_BTCUSDT.csv.gz": "tardis.trades",
    T / "binance-futures_book_snapshot_25_2024-01-01_BTCUSDT.csv.gz": "tardis.book_snapshot_25",
    T / "binance-futures_derivative_ticker_2024-01-01_BTCUSDT.csv.gz": "tardis.derivative_ticker",
    T / "binance-futures_liquidations_2024-01-01_BTCUSDT.csv.gz": "tardis.liquidations",
    B / "BTCUSDT-aggTrades-2024-01-01.zip": "binance.aggTrades",
    B / "BTCUSDT-trades-2024-01-01.zip": "binance.trades",
    B / "BTCUSDT-bookTicker-2024-01-01.zip": "binance.bookTicker",
    B / "BTCUSDT-bookDepth-2024-01-01.zip": "binance.bookDepth",
    B / "klines" / "BTCUSDT-1m-2024-01-01.zip": "binance.klines",
    B / "markPriceKlines" / "BTCUSDT-1m-2024-01-01.zip": "binance.markPriceKlines",
    B / "indexPriceKlines" / "BTCUSDT-1m-2024-01-01.zip": "binance.indexPriceKlines",
    B / "premiumIndexKlines" / "BTCUSDT-1m-2024-01-01.zip": "binance.premiumIndexKlines",
    B / "BTCUSDT-fundingRate-2024-01.zip": "binance.fundingRate",
    B / "BTCUSDT-metrics-2024-01-01.zip": "binance.metrics",
}


@pytest.mark.parametrize("path", list(EXPECTED), ids=lambda p: p.name if "Klines" not in str(p) and
                         "klines" not in str(p) else f"{p.parent.name}/{p.name}")
def test_every_fixture_loads_in_its_layout_sorted_in_time(path):
    assert detect_layout(path) == EXPECTED[path]
    t = load_file(path)
    assert t.name == EXPECTED[path] and len(t) > 0
    assert t.table.column_names == list(LAYOUTS[t.name].names)
    assert bool((np.diff(t.ts_ns) >= 0).all())
    if t.name != "binance.fundingRate":          # monthly file: from the 1st, 00:00
        assert T0_NS <= int(t.ts_ns[0]) < T0_NS + 40 * 60 * 1_000_000_000


def test_tardis_microseconds_and_binance_milliseconds_give_the_same_times():
    tardis = load_file(T / "binance-futures_trades_2024-01-01_BTCUSDT.csv.gz")
    agg = load_file(B / "BTCUSDT-aggTrades-2024-01-01.zip")
    us_plain = load_file(B / "BTCUSDT-aggTrades-2024-01-01-us.csv")     # µs stamps, plain CSV
    n = len(us_plain)
    assert np.array_equal(tardis.ts_ns[:n], agg.ts_ns[:n])
    assert np.array_equal(us_plain.ts_ns, agg.ts_ns[:n])
    assert np.allclose(tardis.column("price")[:n], agg.column("price")[:n])


def test_file_without_header_loads_like_the_one_with_it():
    trades = load_file(B / "BTCUSDT-trades-2024-01-01.zip")           # no header row
    agg = load_file(B / "BTCUSDT-aggTrades-2024-01-01.zip")
    assert len(trades) == len(agg)
    assert np.array_equal(trades.column("is_buyer_maker"), agg.column("is_buyer_maker"))
    assert np.allclose(trades.column("qty"), agg.column("quantity"))


def test_two_days_of_trades_are_one_stream_in_time_order():
    day1 = T / "binance-futures_trades_2024-01-01_BTCUSDT.csv.gz"
    day2 = T / "binance-futures_trades_2024-01-02_BTCUSDT.csv.gz"
    one = load([day2, day1])["tardis.trades"]            # given out of order
    assert len(one) == len(load_file(day1)) + len(load_file(day2))
    assert bool((np.diff(one.ts_ns) >= 0).all())
    assert set(one.files) == {day1.name, day2.name}


def test_kind_prefix_names_the_layout():
    path = B / "markPriceKlines" / "BTCUSDT-1m-2024-01-01.zip"
    assert split_kind(f"indexPriceKlines:{path}") == ("binance.indexPriceKlines", str(path))
    assert split_kind(str(path)) == (None, str(path))
    assert split_kind("examples/strategies.py:MarketMaker")[0] is None
    tables = load([f"indexPriceKlines:{path}"])
    assert list(tables) == ["binance.indexPriceKlines"]


# -- malformed files ---------------------------------------------------------------------------

TARDIS_TRADES_HEAD = "exchange,symbol,timestamp,local_timestamp,id,side,price,amount\n"
ROW = "binance-futures,BTCUSDT,1704094800200000,1704094800202000,{id},{side},{price},{amount}\n"


def _gz(tmp_path, name, text):
    p = tmp_path / name
    p.write_bytes(gzip.compress(text.encode()))
    return p


def _trades(tmp_path, bad_line_cells: dict, at: int = 3):
    rows = [ROW.format(id=i, side="buy", price="42000.1", amount="0.1") for i in range(5)]
    rows[at - 2] = ROW.format(**{**dict(id=9, side="buy", price="42000.1", amount="0.1"), **bad_line_cells})
    return _gz(tmp_path, "binance-futures_trades_2024-01-01_BTCUSDT.csv.gz", TARDIS_TRADES_HEAD + "".join(rows))


@pytest.mark.parametrize("cells, column, rule", [
    ({"price": "abc"}, "price", "a number"),
    ({"price": "-5"}, "price", "> 0"),
    ({"amount": ""}, "amount", "non-empty"),
    ({"side": "long"}, "side", "one of"),
])
def test_malformed_cell_names_file_line_and_column(tmp_path, cells, column, rule):
    path = _trades(tmp_path, cells, at=4)
    with pytest.raises(DataError) as info:
        load_file(path)
    err = info.value
    assert err.source == path.name and err.line == 4 and err.column == column
    assert rule in str(err) and f"line 4, column {column!r}" in str(err)
    assert isinstance(err, ValueError)


def test_row_with_missing_cells_names_its_line(tmp_path):
    text = TARDIS_TRADES_HEAD + ROW.format(id=1, side="buy", price="1", amount="1") + \
        "binance-futures,BTCUSDT,1704094800200000,1,buy,1\n"
    path = _gz(tmp_path, "binance-futures_trades_2024-01-01_BTCUSDT.csv.gz", text)
    with pytest.raises(DataError, match=r"line 3.* 8 comma-separated cells") as info:
        load_file(path)
    assert info.value.line == 3


def test_bad_cell_inside_a_zip_without_header(tmp_path):
    rows = "".join(f"{i},42000.1,0.010,{i},{i},17040948002{i:02d},true\n" for i in range(6))
    rows = rows.replace("17040948002" + "03", "1704094800x03")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("BTCUSDT-aggTrades-2024-01-01.csv", rows)
    path = tmp_path / "BTCUSDT-aggTrades-2024-01-01.zip"
    path.write_bytes(buf.getvalue())
    with pytest.raises(DataError) as info:
        load_file(path)
    assert (info.value.line, info.value.column) == (4, "transact_time")
    assert "BTCUSDT-aggTrades-2024-01-01.zip!BTCUSDT-aggTrades-2024-01-01.csv" in str(info.value)


def test_zip_with_two_csvs_and_unknown_file_are_refused(tmp_path):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("a.csv", "1,2\n")
        zf.writestr("b.csv", "1,2\n")
    z = tmp_path / "BTCUSDT-trades-2024-01-01.zip"
    z.write_bytes(buf.getvalue())
    with pytest.raises(DataError, match="exactly one .csv"):
        load_file(z)
    other = tmp_path / "prices.csv"
    other.write_text("when,what\n1,2\n")
    with pytest.raises(DataError, match="name the layout"):
        load_file(other)


# -- into the replay feed ----------------------------------------------------------------------

def test_feed_from_tardis_keeps_recorded_index_mark_and_funding():
    feed = ReplayFeed.from_tables(load([
        T / "binance-futures_incremental_book_L2_2024-01-01_BTCUSDT.csv.gz",
        T / "binance-futures_trades_2024-01-01_BTCUSDT.csv.gz",
        T / "binance-futures_derivative_ticker_2024-01-01_BTCUSDT.csv.gz"]), SPEC)
    assert feed.sources["index"] == "tardis.derivative_ticker.index_price"
    assert bool(feed.book_reset[0]) and int(feed.book_reset.sum()) == 1    # one snapshot opens it
    assert len(feed.index_ts) == 2400 and len(feed.mark_ts) == 2400
    # funding in force at 08:00 and 16:00 UTC, the last value seen before each
    assert feed.funding_ts.tolist() == [1_704_096_000 * 10**9, 1_704_124_800 * 10**9]
    assert feed.funding_rate.tolist() == [0.00018, 0.0001]
    assert feed.trade_price.dtype == np.int64 and int(feed.trade_price[0]) > 400_000   # ticks of 0.1


def test_feed_from_binance_snapshots_and_klines():
    feed = ReplayFeed.from_tables(load([
        B / "BTCUSDT-bookTicker-2024-01-01.zip", B / "BTCUSDT-aggTrades-2024-01-01.zip",
        B / "indexPriceKlines" / "BTCUSDT-1m-2024-01-01.zip",
        B / "markPriceKlines" / "BTCUSDT-1m-2024-01-01.zip", B / "BTCUSDT-fundingRate-2024-01.zip"]), SPEC)
    assert feed.sources == {"book": "binance.bookTicker", "trades": "binance.aggTrades",
                            "index": "binance.indexPriceKlines.close"}
    assert int(feed.book_reset.sum()) == 2400            # every bookTicker row is a full book
    assert feed.index_ts[0] == T0_NS + 60 * 10**9        # a bar's close is known at its end
    assert len(feed.funding_ts) == 9
    snap = ReplayFeed.from_tables(load([T / "binance-futures_book_snapshot_25_2024-01-01_BTCUSDT.csv.gz"]), SPEC)
    assert int(snap.book_reset.sum()) == 240 and len(snap.book_ts) == 240 * 20   # 10 levels a side
    assert snap.sources["index"].endswith("mid (no index recorded)")


def test_feed_needs_a_book():
    with pytest.raises(DataError, match="a book source"):
        ReplayFeed.from_tables(load([B / "BTCUSDT-aggTrades-2024-01-01.zip"]), SPEC)


def test_feed_refuses_prices_off_the_instruments_tick_grid():
    import attrs

    coarse = attrs.evolve(SPEC, tick_size=SPEC.tick_size * 10)     # a 1.0 tick: 42000.1 is off it
    with pytest.raises(DataError, match=r"column 'price' must be on the instrument's tick grid"):
        ReplayFeed.from_tables(load([T / "binance-futures_incremental_book_L2_2024-01-01_BTCUSDT.csv.gz"]),
                               coarse)


def test_feed_refuses_two_symbols(tmp_path):
    text = TARDIS_TRADES_HEAD + ROW.format(id=1, side="buy", price="1", amount="1") + \
        ROW.replace("BTCUSDT", "ETHUSDT").format(id=2, side="buy", price="1", amount="1")
    trades = _gz(tmp_path, "binance-futures_trades_2024-01-01_BTCUSDT.csv.gz", text)
    book = T / "binance-futures_book_snapshot_25_2024-01-01_BTCUSDT.csv.gz"
    with pytest.raises(DataError, match="one instrument per replay"):
        ReplayFeed.from_tables(load([book, trades]), SPEC)
