"""Loaded tables → the replay feed: integer book rows, trades, and the recorded price series.

:class:`ReplayFeed` is what :mod:`exchange.sim.replay` consumes, on one instrument's grid
(prices in ticks — a price off the tick grid is a DataError —, quantities in lots rounded to
the nearest lot; a level that rounds to 0 lots is a deletion; one symbol per feed):

* ``book``: ``ts, side (0 bid / 1 ask), price, qty, reset`` rows; ``qty`` 0 deletes the level;
  ``reset`` marks the first row of a full book (the book is cleared there). Sources, first
  found: Tardis ``incremental_book_L2`` (snapshot blocks reset; non-snapshot rows before the
  first snapshot are skipped, as Tardis documents), Tardis ``book_snapshot_25`` / ``_5`` (every
  row a full top-N book), Binance ``bookTicker`` (every row a one-level book on each side).
* ``trades``: ``ts, side (aggressor: 0 buy / 1 sell), price, qty``: Tardis ``trades``
  (``side`` is the aggressor; ``unknown`` rows dropped), Binance ``aggTrades`` / ``trades``
  (``is_buyer_maker`` true → the seller was the taker).
* ``index``: the recorded index the venue's oracle reads: Tardis ``derivative_ticker``
  ``index_price``, else Binance ``indexPriceKlines`` (each bar's close, at its close time),
  else — documented fallback, flagged in ``index_source`` — the recorded mid of the book.
* kept for comparison with the venue's own: ``mark`` (``derivative_ticker.mark_price`` or
  ``markPriceKlines`` closes), ``funding`` (``derivative_ticker.funding_rate`` or Binance
  ``fundingRate``; rates as fractions per interval), ``liquidations`` (Tardis).

Cost: O(rows) numpy, no Python loop per row.
"""
from __future__ import annotations

from decimal import Decimal

import attrs
import numpy as np

from exchange.data.loaders import DataTable
from exchange.errors import DataError

__all__ = ["BOOK_SOURCES", "TRADE_SOURCES", "ReplayFeed"]

BOOK_SOURCES = ("tardis.incremental_book_L2", "tardis.book_snapshot_25", "tardis.book_snapshot_5",
                "binance.bookTicker")
TRADE_SOURCES = ("tardis.trades", "binance.aggTrades", "binance.trades")


def _grid(values: np.ndarray, step: Decimal) -> np.ndarray:
    return np.rint(np.asarray(values, np.float64) / float(step)).astype(np.int64)


def _ticks(values: np.ndarray, tick: Decimal, table: DataTable, column: str) -> np.ndarray:
    """Prices on the instrument's tick grid; a price off the grid (data of another instrument,
    or a preset with a coarser tick) is a DataError naming the column and the first value."""
    x = np.asarray(values, np.float64) / float(tick)
    out = np.rint(x)
    bad = np.flatnonzero(np.abs(x - out) > 1e-6 * np.maximum(1.0, np.abs(x)))
    if len(bad):
        raise DataError.at(", ".join(table.files), None, column,
                           f"on the instrument's tick grid (tick {tick})", float(values[bad[0]]))
    return out.astype(np.int64)


def _one_symbol(t: DataTable) -> None:
    if "symbol" in t.layout.names and len(t):
        syms = np.unique(t.column("symbol"))
        if len(syms) > 1:
            raise DataError.at(", ".join(t.files), None, "symbol", "one instrument per replay",
                               syms[:5].tolist())


@attrs.define
class ReplayFeed:
    """The recorded market on one instrument's grid (see the module docs). Arrays are
    int64 except ``side`` / ``reset`` and the float price series."""

    book_ts: np.ndarray
    book_side: np.ndarray
    book_price: np.ndarray
    book_qty: np.ndarray
    book_reset: np.ndarray
    trade_ts: np.ndarray
    trade_side: np.ndarray
    trade_price: np.ndarray
    trade_qty: np.ndarray
    index_ts: np.ndarray
    index_price: np.ndarray
    index_source: str
    mark_ts: np.ndarray
    mark_price: np.ndarray
    funding_ts: np.ndarray
    funding_rate: np.ndarray
    sources: dict = attrs.field(factory=dict)
    liquidations: dict = attrs.field(factory=dict)

    @property
    def events(self) -> int:
        """Recorded book rows + trades (what a replay processes)."""
        return int(len(self.book_ts) + len(self.trade_ts))

    @property
    def start_ns(self) -> int:
        firsts = [int(a[0]) for a in (self.book_ts, self.trade_ts) if len(a)]
        return min(firsts)

    @property
    def end_ns(self) -> int:
        lasts = [int(a[-1]) for a in (self.book_ts, self.trade_ts) if len(a)]
        return max(lasts)

    def window(self, start_ns: int | None = None, end_ns: int | None = None) -> ReplayFeed:
        """The feed restricted to ``[start_ns, end_ns]`` (recorded time). The book part starts
        at the last full book (reset row) at or before ``start_ns``, so the window opens with
        a complete book. O(rows)."""
        lo = self.start_ns if start_ns is None else int(start_ns)
        hi = self.end_ns if end_ns is None else int(end_ns)
        b0 = int(np.searchsorted(self.book_ts, lo, side="left"))
        resets = np.flatnonzero(self.book_reset[: b0 + 1])
        b0 = int(resets[-1]) if len(resets) else 0
        b1 = int(np.searchsorted(self.book_ts, hi, side="right"))
        t0 = int(np.searchsorted(self.trade_ts, lo, side="left"))
        t1 = int(np.searchsorted(self.trade_ts, hi, side="right"))
        # the levels before start fold into the opening book: they stay (their time moves up)
        book_ts = self.book_ts[b0:b1].copy()
        book_ts[book_ts < lo] = lo
        return attrs.evolve(self, book_ts=book_ts, book_side=self.book_side[b0:b1],
                            book_price=self.book_price[b0:b1], book_qty=self.book_qty[b0:b1],
                            book_reset=self.book_reset[b0:b1], trade_ts=self.trade_ts[t0:t1],
                            trade_side=self.trade_side[t0:t1], trade_price=self.trade_price[t0:t1],
                            trade_qty=self.trade_qty[t0:t1])

    # -- building -------------------------------------------------------------------------
    @classmethod
    def from_tables(cls, tables: dict[str, DataTable], spec) -> ReplayFeed:
        """Build the feed from :func:`exchange.data.load`'s tables for instrument ``spec``
        (tick and lot size). Raises DataError when no book source is given."""
        tick, lot = spec.tick_size, spec.lot_size
        src: dict[str, str] = {}
        book = next((tables[n] for n in BOOK_SOURCES if n in tables), None)
        if book is None:
            raise DataError.at(", ".join(f for t in tables.values() for f in t.files) or "(no files)",
                               None, None, f"a book source among the files, one of {list(BOOK_SOURCES)}",
                               sorted(tables))
        src["book"] = book.name
        for t in tables.values():
            _one_symbol(t)
        b = cls._book_rows(book, tick, lot)
        trades = next((tables[n] for n in TRADE_SOURCES if n in tables), None)
        if trades is not None:
            src["trades"] = trades.name
            t = cls._trade_rows(trades, tick, lot)
        else:
            t = (np.empty(0, np.int64), np.empty(0, np.int8), np.empty(0, np.int64), np.empty(0, np.int64))
        empty_f = np.empty(0, np.float64)
        empty_i = np.empty(0, np.int64)
        index_ts, index_px, index_source = empty_i, empty_f, ""
        mark_ts, mark_px, fund_ts, fund_rate = empty_i, empty_f, empty_i, empty_f
        dt = tables.get("tardis.derivative_ticker")
        if dt is not None:
            ix = dt.column("index_price")
            ok = ~np.isnan(ix)
            index_ts, index_px, index_source = dt.ts_ns[ok], ix[ok], dt.name + ".index_price"
            mk = dt.column("mark_price")
            ok = ~np.isnan(mk)
            mark_ts, mark_px = dt.ts_ns[ok], mk[ok]
            fr = dt.column("funding_rate")
            fts = dt.column("funding_timestamp")
            ok = ~np.isnan(fr) & ~np.isnan(fts)
            if ok.any():
                # the rate in force for each funding time: the last value seen before it
                fts_ns = (fts[ok] * 1_000).astype(np.int64)
                rates = fr[ok]
                change = np.r_[np.flatnonzero(np.diff(fts_ns)), len(fts_ns) - 1]
                fund_ts, fund_rate = fts_ns[change], rates[change]
        if not len(index_ts) and "binance.indexPriceKlines" in tables:
            k = tables["binance.indexPriceKlines"]
            index_ts, index_px = cls._close_time(k), k.column("close")
            index_source = k.name + ".close"
        if not len(mark_ts) and "binance.markPriceKlines" in tables:
            k = tables["binance.markPriceKlines"]
            mark_ts, mark_px = cls._close_time(k), k.column("close")
        if not len(fund_ts) and "binance.fundingRate" in tables:
            f = tables["binance.fundingRate"]
            fund_ts, fund_rate = f.ts_ns, f.column("last_funding_rate")
        if not len(index_ts):
            # no recorded index: the oracle reads the recorded mid (flagged in index_source)
            index_ts, index_px = cls._recorded_mid(b, tick)
            index_source = f"{book.name} mid (no index recorded)"
        src["index"] = index_source
        liq = {}
        if "tardis.liquidations" in tables:
            lt = tables["tardis.liquidations"]
            liq = dict(ts=lt.ts_ns, side=np.where(lt.equals("side", "buy"), 0, 1).astype(np.int8),
                       price=lt.column("price"), qty=lt.column("amount"))
        return cls(
                book_ts=b[0], book_side=b[1], book_price=b[2], book_qty=b[3], book_reset=b[4],
                trade_ts=t[0], trade_side=t[1], trade_price=t[2], trade_qty=t[3],
                index_ts=np.ascontiguousarray(index_ts, np.int64),
                index_price=np.ascontiguousarray(index_px, np.float64), index_source=index_source,
                mark_ts=np.ascontiguousarray(mark_ts, np.int64),
                mark_price=np.ascontiguousarray(mark_px, np.float64),
                funding_ts=np.ascontiguousarray(fund_ts, np.int64),
                funding_rate=np.ascontiguousarray(fund_rate, np.float64), sources=src,
                liquidations=liq)

    @staticmethod
    def _close_time(k: DataTable) -> np.ndarray:
        ct = k.column("close_time")
        unit = 1_000 if len(ct) and int(ct.max()) >= 10**14 else 1_000_000
        return (ct + 1) * unit          # the close is known when the bar ends

    @staticmethod
    def _book_rows(t: DataTable, tick, lot):
        name = t.name
        if name == "tardis.incremental_book_L2":
            snap = t.column("is_snapshot")
            ts = t.ts_ns
            side = np.where(t.equals("side", "ask"), 1, 0).astype(np.int8)
            price = _ticks(t.column("price"), tick, t, "price")
            qty = _grid(t.column("amount"), lot)
            if snap.any():
                first = int(np.argmax(snap))
                ts, side, price, qty, snap = ts[first:], side[first:], price[first:], qty[first:], snap[first:]
            reset = snap & np.r_[True, ~snap[:-1]] if len(snap) else snap
            return ts, side, price, qty, reset
        if name.startswith("tardis.book_snapshot_"):
            n = int(name.rsplit("_", 1)[1])
            px_cols, qty_cols, sides = [], [], []
            for i in range(n):
                for s, label in ((1, "asks"), (0, "bids")):
                    px_cols.append(t.column(f"{label}[{i}].price"))
                    qty_cols.append(t.column(f"{label}[{i}].amount"))
                    sides.append(s)
            px = np.stack(px_cols, axis=1)            # rows × 2n
            qt = np.stack(qty_cols, axis=1)
            present = ~np.isnan(px) & ~np.isnan(qt)
            rows, cols = np.nonzero(present)          # row-major: each snapshot's entries together
            ts = t.ts_ns[rows]
            side = np.asarray(sides, np.int8)[cols]
            price = _ticks(px[rows, cols], tick, t, "price")
            qty = _grid(qt[rows, cols], lot)
            reset = np.r_[True, rows[1:] != rows[:-1]] if len(rows) else np.zeros(0, bool)
            return ts, side, price, qty, reset
        # binance.bookTicker: a one-level book per row
        n = len(t)
        ts = np.repeat(t.ts_ns, 2)
        side = np.tile(np.array([0, 1], np.int8), n)
        price = np.empty(2 * n, np.int64)
        qty = np.empty(2 * n, np.int64)
        price[0::2] = _ticks(t.column("best_bid_price"), tick, t, "best_bid_price")
        price[1::2] = _ticks(t.column("best_ask_price"), tick, t, "best_ask_price")
        qty[0::2] = _grid(t.column("best_bid_qty"), lot)
        qty[1::2] = _grid(t.column("best_ask_qty"), lot)
        reset = np.tile(np.array([True, False]), n)
        return ts, side, price, qty, reset

    @staticmethod
    def _trade_rows(t: DataTable, tick, lot):
        if t.name == "tardis.trades":
            known = ~t.equals("side", "unknown")
            side = np.where(t.equals("side", "sell"), 1, 0).astype(np.int8)
            price, qty = t.column("price"), t.column("amount")
        else:
            known = np.ones(len(t), bool)
            side = np.where(t.column("is_buyer_maker"), 1, 0).astype(np.int8)
            price = t.column("price")
            qty = t.column("quantity" if t.name == "binance.aggTrades" else "qty")
        lots = _grid(qty, lot)
        keep = known & (lots > 0)
        return (np.ascontiguousarray(t.ts_ns[keep]), side[keep], _ticks(price[keep], tick, t, "price"),
                lots[keep])

    @staticmethod
    def _recorded_mid(b, tick):
        ts, side, price, qty, _ = b
        # best bid / ask per distinct time from the level rows: approximate by the extreme
        # price of each side's non-deleting rows at that time (exact for snapshot sources)
        live = qty > 0
        out_ts, out_px = [], []
        uniq, start = np.unique(ts, return_index=True)
        bounds = np.r_[start, len(ts)]
        bid = ask = 0
        step = max(1, len(uniq) // 20_000)         # at most ~20k index points
        for j in range(len(uniq)):
            a, z = bounds[j], bounds[j + 1]
            s, p, lv = side[a:z], price[a:z], live[a:z]
            bids, asks = p[(s == 0) & lv], p[(s == 1) & lv]
            if len(bids):
                bid = int(bids.max())
            if len(asks):
                ask = int(asks.min())
            if bid and ask and j % step == 0:
                out_ts.append(int(uniq[j]))
                out_px.append((bid + ask) / 2 * float(tick))
        return np.asarray(out_ts, np.int64), np.asarray(out_px, np.float64)
