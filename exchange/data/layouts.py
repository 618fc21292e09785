"""Column layouts of the recorded-data files perpsim reads: Tardis.dev CSV and Binance public data.

Every :class:`Layout` lists its columns in file order with a cell kind, the column that holds
the event time and its unit, and where the layout is documented. Sources (read 2026-12-02):

* Tardis.dev "Downloadable CSV files" and its "Data Types" page:
  https://docs.tardis.dev/downloadable-csv-files and
  https://docs.tardis.dev/downloadable-csv-files/data-types (read 2026-12-02; column tables,
  microsecond stamps, "skip non-snapshot rows before the first is_snapshot=true row"), and
  ``shared/reference/clients-and-data.md`` §5.1 (the reader structs of nautilus_trader and
  hftbacktest). Gzip CSV, header row, ``.`` decimals,
  **timestamps in microseconds** since the epoch (``timestamp`` = exchange time,
  ``local_timestamp`` = receive time).
* Binance public data, USDⓈ-M futures (https://data.binance.vision): the column lists of
  ``shared/reference/clients-and-data.md`` §5.2 (freqtrade's reader, the
  binance/binance-public-data README, headers seen by independent parsers), the futures
  aggTrades / klines tables cross-checked against a copy of that README
  (https://github.com/ashutoshsoni891/binance-public-data, read 2026-12-02). One CSV per zip; recent files carry a header
  row, files from about 2019–2021 do not (detected, as freqtrade does, by whether the first
  byte is a digit); **timestamps in milliseconds** (values >= 1e14 are read as microseconds:
  Binance spot switched to µs in 2025).

Cell kinds: ``int`` (int64), ``float`` (float64; empty cells are NaN where ``optional``),
``str``, ``bool`` (``true``/``false``/``True``/``False``/``1``/``0``), ``ts`` (an int64 time
stamp in the layout's unit), ``datetime`` (``YYYY-MM-DD HH:MM:SS`` UTC).
"""  # noqa: E501
from __future__ import annotations

import attrs

__all__ = ["BINANCE_DOCS", "LAYOUTS", "TARDIS_DOCS", "Layout"]

TARDIS_DOCS = "https://docs.tardis.dev/downloadable-csv-files/data-types (read 2026-12-02)"
BINANCE_DOCS = ("shared/reference/clients-and-data.md §5.2 (binance-public-data README; copy at "
                "https://github.com/ashutoshsoni891/binance-public-data read 2026-12-02)")


@attrs.frozen
class Layout:
    """One file type: ``columns`` ((name, kind), ...) in file order; ``ts_column`` the event
    time, in ``ts_unit`` ("us", "ms" = ms or µs by magnitude, "datetime"); ``optional``
    columns may be empty (NaN); ``positive`` columns must be > 0 where present;
    ``nonneg`` >= 0; ``choices`` allowed strings per column."""

    name: str
    vendor: str
    columns: tuple
    ts_column: str
    ts_unit: str
    source: str
    optional: frozenset = frozenset()
    positive: frozenset = frozenset()
    nonneg: frozenset = frozenset()
    choices: dict = attrs.field(factory=dict)

    @property
    def names(self) -> tuple:
        return tuple(c for c, _ in self.columns)

    def kind(self, column: str) -> str:
        return dict(self.columns)[column]


def _snapshot_columns(n: int) -> tuple:
    cols = [("exchange", "str"), ("symbol", "str"), ("timestamp", "ts"), ("local_timestamp", "ts")]
    for i in range(n):
        cols += [(f"asks[{i}].price", "float"), (f"asks[{i}].amount", "float"),
                 (f"bids[{i}].price", "float"), (f"bids[{i}].amount", "float")]
    return tuple(cols)


_TARDIS_HEAD = (("exchange", "str"), ("symbol", "str"), ("timestamp", "ts"), ("local_timestamp", "ts"))
_KLINE = (("open_time", "ts"), ("open", "float"), ("high", "float"), ("low", "float"),
          ("close", "float"), ("volume", "float"), ("close_time", "ts"), ("quote_volume", "float"),
          ("count", "int"), ("taker_buy_volume", "float"), ("taker_buy_quote_volume", "float"),
          ("ignore", "float"))
_KLINE_RULES = dict(positive=frozenset({"open", "high", "low", "close"}),
                    nonneg=frozenset({"volume", "quote_volume", "count"}))


def _tardis(name: str, cols: tuple, **kw) -> Layout:
    return Layout(name=f"tardis.{name}", vendor="tardis", columns=_TARDIS_HEAD + cols,
                  ts_column="timestamp", ts_unit="us", source=f"{TARDIS_DOCS} §{name}", **kw)


def _binance(name: str, cols: tuple, ts_column: str, ts_unit: str = "ms", **kw) -> Layout:
    return Layout(name=f"binance.{name}", vendor="binance", columns=cols, ts_column=ts_column,
                  ts_unit=ts_unit, source=f"{BINANCE_DOCS} futures/um {name}", **kw)


_SNAP25 = _snapshot_columns(25)
_SNAP5 = _snapshot_columns(5)
_LAYOUT_LIST = [
    # -- Tardis.dev -------------------------------------------------------------------------
    _tardis("trades", (("id", "str"), ("side", "str"), ("price", "float"), ("amount", "float")),
            positive=frozenset({"price", "amount"}), choices={"side": ("buy", "sell", "unknown")}),
    _tardis("incremental_book_L2", (("is_snapshot", "bool"), ("side", "str"), ("price", "float"),
                                    ("amount", "float")),
            positive=frozenset({"price"}), nonneg=frozenset({"amount"}),
            choices={"side": ("bid", "ask")}),
    Layout(name="tardis.book_snapshot_25", vendor="tardis", columns=_SNAP25, ts_column="timestamp",
           ts_unit="us", source=f"{TARDIS_DOCS} §book_snapshot_25",
           optional=frozenset(c for c, k in _SNAP25 if k == "float"),
           positive=frozenset(c for c, k in _SNAP25 if k == "float" and c.endswith("price"))),
    Layout(name="tardis.book_snapshot_5", vendor="tardis", columns=_SNAP5, ts_column="timestamp",
           ts_unit="us", source=f"{TARDIS_DOCS} §book_snapshot_5",
           optional=frozenset(c for c, k in _SNAP5 if k == "float"),
           positive=frozenset(c for c, k in _SNAP5 if k == "float" and c.endswith("price"))),
    _tardis("derivative_ticker", (("funding_timestamp", "float"), ("funding_rate", "float"),
                                  ("predicted_funding_rate", "float"), ("open_interest", "float"),
                                  ("last_price", "float"), ("index_price", "float"),
                                  ("mark_price", "float")),
            optional=frozenset({"funding_timestamp", "funding_rate", "predicted_funding_rate",
                                "open_interest", "last_price", "index_price", "mark_price"}),
            positive=frozenset({"last_price", "index_price", "mark_price"})),
    # liquidations: same layout as trades. ``side`` is the liquidation ORDER's side on Binance
    # (forceOrder SELL = a long was liquidated); check the venue before relying on it
    _tardis("liquidations", (("id", "str"), ("side", "str"), ("price", "float"), ("amount", "float")),
            positive=frozenset({"price", "amount"}), choices={"side": ("buy", "sell", "unknown")}),
    # -- Binance public data, USDⓈ-M futures ------------------------------------------------
    _binance("aggTrades", (("agg_trade_id", "int"), ("price", "float"), ("quantity", "float"),
                           ("first_trade_id", "int"), ("last_trade_id", "int"),
                           ("transact_time", "ts"), ("is_buyer_maker", "bool")), "transact_time",
             positive=frozenset({"price", "quantity"})),
    _binance("trades", (("id", "int"), ("price", "float"), ("qty", "float"), ("quote_qty", "float"),
                        ("time", "ts"), ("is_buyer_maker", "bool")), "time",
             positive=frozenset({"price", "qty"})),
    _binance("bookTicker", (("update_id", "int"), ("best_bid_price", "float"), ("best_bid_qty", "float"),
                            ("best_ask_price", "float"), ("best_ask_qty", "float"),
                            ("transaction_time", "ts"), ("event_time", "ts")), "transaction_time",
             positive=frozenset({"best_bid_price", "best_ask_price"}),
             nonneg=frozenset({"best_bid_qty", "best_ask_qty"})),
    # aggregated depth in ±1..5 % bands around the mid, not L2 (cannot seed a book)
    _binance("bookDepth", (("timestamp", "datetime"), ("percentage", "float"), ("depth", "float"),
                           ("notional", "float")), "timestamp", ts_unit="datetime",
             nonneg=frozenset({"depth", "notional"})),
    _binance("klines", _KLINE, "open_time", **_KLINE_RULES),
    _binance("markPriceKlines", _KLINE, "open_time", **_KLINE_RULES),
    _binance("indexPriceKlines", _KLINE, "open_time", **_KLINE_RULES),
    # the premium index can be negative: only its time columns are checked
    _binance("premiumIndexKlines", _KLINE, "open_time"),
    _binance("fundingRate", (("calc_time", "ts"), ("funding_interval_hours", "int"),
                             ("last_funding_rate", "float")), "calc_time",
             positive=frozenset({"funding_interval_hours"})),
    _binance("metrics", (("create_time", "datetime"), ("symbol", "str"), ("sum_open_interest", "float"),
                         ("sum_open_interest_value", "float"),
                         ("count_toptrader_long_short_ratio", "float"),
                         ("sum_toptrader_long_short_ratio", "float"),
                         ("count_long_short_ratio", "float"),
                         ("sum_taker_long_short_vol_ratio", "float")), "create_time",
             ts_unit="datetime", optional=frozenset({
                 "sum_open_interest", "sum_open_interest_value", "count_toptrader_long_short_ratio",
                 "sum_toptrader_long_short_ratio", "count_long_short_ratio",
                 "sum_taker_long_short_vol_ratio"}),
             nonneg=frozenset({"sum_open_interest", "sum_open_interest_value"})),
]

#: layout name ("tardis.trades", "binance.aggTrades", ...) → Layout
LAYOUTS: dict[str, Layout] = {lay.name: lay for lay in _LAYOUT_LIST}
