"""Read recorded market data: Tardis.dev CSV and Binance public-data futures CSV.

>>> from exchange.data import load                                    # doctest: +SKIP
>>> tables = load(["binance-futures_trades_2024-01-01_BTCUSDT.csv.gz",
...                "BTCUSDT-aggTrades-2024-01-02.zip"])                  # doctest: +SKIP
>>> tables["tardis.trades"].ts_ns[:3]                                   # doctest: +SKIP

Files may be plain, gzip (``.gz``) or zip (``.zip``, one CSV inside, as data.binance.vision
ships them), with or without a header row (detected: a header row has no numeric cell).
The layout (:mod:`exchange.data.layouts`) is detected from the file name (Tardis
``<exchange>_<type>_<date>_<symbol>.csv.gz``; Binance ``<SYMBOL>-<type>-<date>.zip``, the
kline family told apart by its folder ``markPriceKlines/`` etc.), else from the header, or
given explicitly (``kind="binance.markPriceKlines"`` or ``"markPriceKlines:path"`` on the
command line). Several files of one layout (many days) become one stream sorted by time
(stable, so rows of one timestamp keep their file order).

Parsing runs in pyarrow.csv (multi-threaded C++); the rules of each layout (no empty
required cell, prices > 0, amounts >= 0, known side names) are checked vectorised. A file that
breaks them raises :class:`~exchange.errors.DataError` naming the file, the 1-based line and
the column (the slow line-by-line scan runs only to locate an error pyarrow reported).
Cost: O(bytes) parse + O(rows) checks; sorting many files O(n log n).
"""
from __future__ import annotations

import gzip
import io
import re
import zipfile
from collections.abc import Iterable
from pathlib import Path

import attrs
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv

from exchange.data.layouts import LAYOUTS, Layout
from exchange.errors import DataError

__all__ = ["DataTable", "detect_layout", "load", "load_file", "read_bytes", "split_kind"]

_ARROW_TYPES = {"int": pa.int64(), "ts": pa.int64(), "float": pa.float64(), "str": pa.string(),
                "bool": pa.bool_(), "datetime": pa.timestamp("s")}
_TRUE = ["true", "True", "TRUE", "1"]
_FALSE = ["false", "False", "FALSE", "0"]
_TARDIS_TYPES = ("incremental_book_L2", "book_snapshot_25", "book_snapshot_5", "derivative_ticker",
                 "liquidations", "trades")
_BINANCE_TYPES = ("aggTrades", "trades", "bookTicker", "bookDepth", "markPriceKlines",
                  "indexPriceKlines", "premiumIndexKlines", "klines", "fundingRate", "metrics")
_KLINE_INTERVAL = re.compile(r"^\d+[smhdwM]$")
_SHORT = {}
for _name in LAYOUTS:
    _SHORT.setdefault(_name.split(".", 1)[1], []).append(_name)


@attrs.frozen
class DataTable:
    """Rows of one layout from one or more files, sorted by event time.

    ``table``: the pyarrow Table (columns named as in the layout); ``ts_ns``: the event time of
    every row in integer nanoseconds (UTC); ``files``: the sources, in the order read.
    ``column(name)`` gives a numpy view/copy of a column (floats NaN where empty). O(1) /
    O(rows)."""

    layout: Layout
    table: pa.Table
    ts_ns: np.ndarray
    files: tuple

    def __len__(self) -> int:
        return self.table.num_rows

    @property
    def name(self) -> str:
        return self.layout.name

    def column(self, name: str) -> np.ndarray:
        if name not in self.layout.names:
            raise DataError.at(", ".join(self.files), None, name,
                               f"a column of {self.layout.name} {self.layout.names}", name)
        col = self.table.column(name)
        kind = self.layout.kind(name)
        if kind in ("int", "ts"):
            return col.to_numpy().astype(np.int64, copy=False)
        if kind == "float":
            return col.fill_null(float("nan")).to_numpy().astype(np.float64, copy=False)
        if kind == "bool":
            return col.to_numpy(zero_copy_only=False).astype(bool)
        if kind == "datetime":
            return col.cast(pa.int64()).to_numpy() * 1_000_000_000
        return col.to_numpy(zero_copy_only=False)

    def equals(self, name: str, value: str) -> np.ndarray:
        """Boolean mask of rows whose string column ``name`` equals ``value`` (vectorised)."""
        return pc.equal(self.table.column(name), value).to_numpy(zero_copy_only=False).astype(bool)


# -- files ------------------------------------------------------------------------------------

def read_bytes(path) -> tuple[bytes, str]:
    """The CSV bytes of ``path`` (plain, .gz, or a .zip holding one .csv) and its display name
    (``file.zip!inner.csv`` for a zip). Raises DataError for an unreadable archive."""
    p = Path(path)
    name = p.name
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise DataError.at(str(path), None, None, "a readable file", f"{type(exc).__name__}: {exc}") from None
    if name.endswith(".gz") or raw[:2] == b"\x1f\x8b":
        try:
            return gzip.decompress(raw), name
        except (OSError, EOFError) as exc:
            raise DataError.at(name, None, None, "a valid gzip file", str(exc)) from None
    if name.endswith(".zip") or raw[:4] == b"PK\x03\x04":
        try:
            with zipfile.ZipFile(io.BytesIO(raw)) as zf:
                members = [m for m in zf.namelist() if m.lower().endswith(".csv")]
                if len(members) != 1:
                    raise DataError.at(name, None, None, "a zip holding exactly one .csv", zf.namelist())
                return zf.read(members[0]), f"{name}!{members[0]}"
        except zipfile.BadZipFile as exc:
            raise DataError.at(name, None, None, "a valid zip file", str(exc)) from None
    return raw, name


def split_kind(arg: str) -> tuple[str | None, str]:
    """``"markPriceKlines:path"`` → ("binance.markPriceKlines", "path"); a plain path → (None,
    path). Only a known layout name before the first ``:`` counts (Windows drive letters and
    ``file.py:Class`` are left alone)."""
    head, sep, rest = str(arg).partition(":")
    if sep and (head in LAYOUTS or head in _SHORT):
        return _resolve_kind(head, arg), rest
    return None, str(arg)


def _resolve_kind(kind: str, source: str) -> str:
    if kind in LAYOUTS:
        return kind
    names = _SHORT.get(kind, [])
    if len(names) == 1:
        return names[0]
    raise DataError.at(source, None, None, f"a layout name, one of {sorted(LAYOUTS)}", kind)


def _from_name(path: Path) -> str | None:
    name = path.name
    for suffix in (".gz", ".zip", ".csv", ".CHECKSUM"):
        name = name.removesuffix(suffix)
    under = name.split("_")
    for t in _TARDIS_TYPES:            # <exchange>_<type>_<YYYY-MM-DD>_<symbol>
        if f"_{t}_" in f"_{name}_" and len(under) >= 3:
            return f"tardis.{t}"
    dashes = name.split("-")
    parents = {p for p in path.parts[:-1]}
    for t in _BINANCE_TYPES:
        if t in dashes:
            return f"binance.{t}"
    if len(dashes) >= 2 and _KLINE_INTERVAL.match(dashes[1]):
        for t in ("markPriceKlines", "indexPriceKlines", "premiumIndexKlines"):
            if t in parents:
                return f"binance.{t}"
        return "binance.klines"
    return None


def _first_line(data: bytes) -> str:
    end = data.find(b"\n")
    return data[: end if end >= 0 else len(data)].decode("utf-8", "replace").strip().lstrip("\ufeff")


def _has_header(first: str) -> bool:
    """A header row has no numeric cell (a data row always has its time stamp)."""
    for cell in first.split(","):
        cell = cell.strip().strip('"')
        try:
            float(cell)
            return False
        except ValueError:
            if cell[:4].isdigit() and cell[4:5] == "-":      # a 'YYYY-MM-DD ...' time
                return False
    return bool(first.strip())


def detect_layout(path, data: bytes | None = None) -> str:
    """Layout name of a file, from its name, else its header row. Raises DataError."""
    p = Path(path)
    if data is None:
        data, _ = read_bytes(p)
    first = _first_line(data)
    header = [c.strip().strip('"') for c in first.split(",")] if _has_header(first) else None
    by_name = _from_name(p)
    if header is not None:
        matches = [n for n, lay in LAYOUTS.items() if list(lay.names) == header]
        if by_name in matches or (by_name is None and len(matches) == 1):
            return by_name or matches[0]
        if matches and by_name is not None and LAYOUTS[by_name].names != tuple(header):
            # the kline family shares one header: the name decides between them
            if all(LAYOUTS[m].names == LAYOUTS[by_name].names for m in matches):
                return by_name
            return matches[0]
        if matches:
            return matches[0]
    if by_name is not None:
        return by_name
    raise DataError.at(p.name, 1 if header else None, None,
                       "a Tardis or Binance public-data CSV (name the layout: KIND:path, KIND one of "
                       f"{sorted(_SHORT)})", first[:80])


# -- parsing ----------------------------------------------------------------------------------

def load_file(path, kind: str | None = None) -> DataTable:
    """One file as a :class:`DataTable` (``kind``: a layout name, else detected)."""
    data, display = read_bytes(path)
    name = _resolve_kind(kind, str(path)) if kind else detect_layout(path, data)
    return _parse(data, LAYOUTS[name], display)


def _line_of_row(data: bytes, row: int, header: bool) -> int:
    """1-based file line of data row ``row`` (pyarrow skips empty lines; so do we)."""
    seen = -1
    for lineno, line in enumerate(data.split(b"\n"), 1):
        if lineno == 1 and header:
            continue
        if line.strip():
            seen += 1
            if seen == row:
                return lineno
    return row + 1 + int(header)


def _check_cell(kind: str, cell: str, optional: bool) -> str | None:
    """The rule a cell breaks (None if it is fine) — the slow path's converter."""
    if cell == "":
        return None if optional or kind == "str" else "a non-empty value"
    try:
        if kind in ("int", "ts"):
            int(cell)
        elif kind == "float":
            float(cell)
        elif kind == "bool":
            if cell not in _TRUE and cell not in _FALSE:
                return "true or false"
        elif kind == "datetime":
            np.datetime64(cell.replace(" ", "T"), "s")
    except ValueError:
        return {"int": "an integer", "ts": "an integer time stamp", "float": "a number",
                "datetime": "a 'YYYY-MM-DD HH:MM:SS' time"}[kind]
    return None


def _locate(data: bytes, lay: Layout, source: str, header: bool, why: str) -> DataError:
    """Scan line by line for the first cell pyarrow could not convert."""
    text = data.decode("utf-8", "replace")
    ncol = len(lay.columns)
    for lineno, line in enumerate(text.split("\n"), 1):
        if lineno == 1 and header:
            continue
        line = line.rstrip("\r")
        if not line.strip():
            continue
        cells = line.split(",")
        if len(cells) != ncol:
            return DataError.at(source, lineno, None, f"{ncol} comma-separated cells ({lay.name})",
                                f"{len(cells)} cells: {line[:80]}")
        for (col, kind), cell in zip(lay.columns, cells):
            rule = _check_cell(kind, cell.strip().strip('"'), col in lay.optional)
            if rule is not None:
                return DataError.at(source, lineno, col, rule, cell)
    return DataError.at(source, None, None, f"a valid {lay.name} CSV", why)


def _parse(data: bytes, lay: Layout, source: str) -> DataTable:
    header = _has_header(_first_line(data))
    if header:
        got = [c.strip().strip('"') for c in _first_line(data).split(",")]
        if len(got) != len(lay.columns):
            raise DataError.at(source, 1, None, f"the {len(lay.columns)}-column header of {lay.name} "
                               f"{list(lay.names)}", got)
    types = {c: _ARROW_TYPES[k] for c, k in lay.columns}
    try:
        table = pcsv.read_csv(
            io.BytesIO(data),
            read_options=pcsv.ReadOptions(column_names=list(lay.names), skip_rows=int(header),
                                          block_size=1 << 24),
            parse_options=pcsv.ParseOptions(newlines_in_values=False),
            convert_options=pcsv.ConvertOptions(column_types=types, true_values=_TRUE,
                                                false_values=_FALSE, null_values=[""],
                                                strings_can_be_null=False,
                                                timestamp_parsers=["%Y-%m-%d %H:%M:%S"]))
    except pa.ArrowInvalid as exc:
        raise _locate(data, lay, source, header, str(exc)) from None
    n = table.num_rows

    def fail(mask: np.ndarray, col: str, rule: str) -> None:
        bad = np.flatnonzero(mask)
        if len(bad):
            row = int(bad[0])
            value = table.column(col)[row].as_py()
            raise DataError.at(source, _line_of_row(data, row, header), col, rule,
                               "" if value is None else value)

    for col, kind in lay.columns:
        arr = table.column(col)
        if col not in lay.optional and kind != "str" and arr.null_count:
            fail(arr.is_null().to_numpy(zero_copy_only=False), col, "a non-empty value")
        if col in lay.positive or col in lay.nonneg:
            x = arr.fill_null(1).to_numpy().astype(np.float64, copy=False)
            if col in lay.positive:
                fail(~(x > 0) & ~np.isnan(x) | ~np.isfinite(x), col, "a finite number > 0")
            else:
                fail(~(x >= 0) & ~np.isnan(x) | ~np.isfinite(x), col, "a finite number >= 0")
        if col in lay.choices:
            ok = pc.is_in(arr, value_set=pa.array(list(lay.choices[col]))).to_numpy(zero_copy_only=False)
            fail(~ok.astype(bool), col, f"one of {list(lay.choices[col])}")
    ts_raw = table.column(lay.ts_column)
    if lay.ts_unit == "datetime":
        ts = ts_raw.cast(pa.int64()).to_numpy() * 1_000_000_000
    else:
        ts = ts_raw.to_numpy().astype(np.int64, copy=False)
        fail(ts <= 0, lay.ts_column, "a time stamp > 0")
        if lay.ts_unit == "us" or (n and int(ts.max()) >= 10**14):
            ts = ts * 1_000                    # microseconds (Tardis; Binance spot since 2025)
        else:
            ts = ts * 1_000_000                # milliseconds (Binance futures)
    ts = np.ascontiguousarray(ts, dtype=np.int64)
    return DataTable(layout=lay, table=table, ts_ns=ts, files=(source,))


def load(paths: Iterable, kind: str | None = None) -> dict[str, DataTable]:
    """Read many files (paths, or ``"KIND:path"`` strings) and merge the files of each layout
    into one stream sorted by time (stable). Returns ``{layout name: DataTable}``. O(bytes +
    n log n)."""
    groups: dict[str, list[DataTable]] = {}
    for item in paths:
        k, path = split_kind(item) if isinstance(item, str) else (None, item)
        t = load_file(path, k or kind)
        groups.setdefault(t.name, []).append(t)
    out = {}
    for name, parts in groups.items():
        if len(parts) == 1:
            t = parts[0]
        else:
            table = pa.concat_tables([p.table for p in parts])
            ts = np.concatenate([p.ts_ns for p in parts])
            t = DataTable(layout=parts[0].layout, table=table, ts_ns=ts,
                          files=tuple(f for p in parts for f in p.files))
        if len(t.ts_ns) > 1 and bool((np.diff(t.ts_ns) < 0).any()):
            order = np.argsort(t.ts_ns, kind="stable")
            t = DataTable(layout=t.layout, table=t.table.take(pa.array(order)),
                          ts_ns=np.ascontiguousarray(t.ts_ns[order]), files=t.files)
        out[name] = t
    return out
