"""The journal on disk: every event of a run as Apache Parquet, one file per event type.

Layout of a run directory (``perpsim run SCENARIO --out DIR``)::

    DIR/journal/<EventName>.parquet   one table per event type (OrderFilled, FundingPaid, ...)
    DIR/series.parquet                the time series sampled every step_ms
    DIR/metrics.json                  metrics, run parameters
    DIR/report.html                   the report (figures embedded)

Schema. Every event table has ``seq`` (int64, the global event order: sorting the union of
all tables by ``seq`` gives the stream back) and ``ts_ns`` (int64, venue clock in ns), then
the event's own fields, all int64 except ``side`` / flags (uint8) and ``kind``/``code``
fields (int32), exactly the attrs fields of :mod:`exchange.events` (``event_class(name)``'s
docstring names each field's record column). Units are in the names: ``*_ticks`` prices
(× tick_size), ``*_lots`` quantities (× lot_size), ``*_atoms`` money (× 10^-settle_decimals);
``side`` 0 buy / 1 sell; rates are parts per 1e8. The file-level metadata carries
``perpsim.event_kind`` and ``perpsim.units``: JSON, column → ``{"unit", "scale", "human",
"names", "none"}`` (:func:`exchange.export.raw_units`: human value = raw × ``scale``, e.g.
``price_ticks`` × tick size in quote per base; enum codes → names; the raw value meaning
"none"), and ``perpsim.instrument`` (symbol, tick size, lot size, settle decimals; also in
metrics.json ``info``). Core event types: OrderAccepted, OrderRejected (``reason`` =
:class:`exchange.codes.RejectReason`), OrderFilled (``taker`` 1/0, ``fee_atoms``,
``realized_pnl_atoms``, ``counter_order_id``), OrderCanceled, OrderAmended, Deposited,
Withdrawn, LeverageSet, MarginModeSet, IsolatedMarginChanged, MarkPriceUpdated,
PositionTransferred, LedgerMoved, FundingPaid, FundingSettled; the liquidation package adds
its own (liquidations, auctions, insurance use, socialized losses, deleveraging).

Read it with pandas (``pd.read_parquet(DIR/"journal/OrderFilled.parquet")``), polars, or
DuckDB (``SELECT * FROM 'DIR/journal/*.parquet'`` per type). Writing is deterministic: the same
records give the same bytes (no timestamps or random ids in the files).

Streaming. A run with ``journal="full"|"events"|"none"`` (``perpsim run --journal``) writes the
tables while it goes (:class:`JournalWriter`: one ``ParquetWriter`` per event type, a row group
every :data:`ROW_GROUP_ROWS` rows, zstd, no dictionary), so memory stays bounded; the files
are byte for byte those :func:`write_journal` writes for the same records. ``events`` leaves
out the order-flow tables (:data:`ORDER_FLOW`), ``none`` writes no journal. The run's hash
(:class:`JournalDigest`, ``RunResult.journal_sha256()``) covers every record in every mode:
one SHA-256 per record column, then SHA-256 over (column name, column digest) in field order
— independent of how the records were batched. (Before issue 14 it was one SHA-256 over
name + bytes of each whole column; the values differ, the determinism tests compare hashes.)
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from exchange import events as ev_mod

__all__ = ["write_journal", "write_series", "read_journal", "journal_tables",
           "JournalWriter", "JournalDigest", "JOURNAL_MODES",
           "ORDER_FLOW", "check_journal_mode", "table_metadata"]

_WRITE = dict(compression="zstd", use_dictionary=False, write_statistics=True)


def table_metadata(name: str, columns, scales: dict | list | None = None) -> dict[str, str]:
    """The key-value metadata of raw event table ``name``: ``perpsim.event_kind``,
    ``perpsim.units`` (:func:`exchange.export.raw_units`) and, given the run's instrument
    ``scales`` (:func:`exchange.export.raw_scales`), ``perpsim.instrument``; given a list of
    them (a venue of several instruments: one per instrument index), ``perpsim.instruments``."""
    from exchange.export import raw_units

    meta = {"perpsim.event_kind": name,
            "perpsim.units": json.dumps(raw_units(name, list(columns), scales), sort_keys=True)}
    if isinstance(scales, list):
        meta["perpsim.instruments"] = json.dumps(scales, sort_keys=True)
    elif scales:
        meta["perpsim.instrument"] = json.dumps(scales, sort_keys=True)
    return meta


def journal_tables(records: np.ndarray, scales: dict | list | None = None) -> dict[str, pa.Table]:
    """EVENT_DTYPE records → event name → Arrow table (columns as in the module docs), with
    :func:`table_metadata` (``scales``: the run's instrument, :func:`exchange.export.raw_scales`)."""
    out = {}
    for name, cols in ev_mod.tables(records).items():
        arrays = {k: pa.array(np.ascontiguousarray(v)) for k, v in cols.items()}
        table = pa.table(arrays)
        out[name] = table.replace_schema_metadata(table_metadata(name, cols, scales))
    return out


def write_journal(records: np.ndarray, directory, scales: dict | list | None = None,
                  skip=frozenset()) -> dict[str, str]:
    """Write one Parquet file per event type under ``directory``; returns name → path.
    ``scales``: the run's instrument (:func:`exchange.export.raw_scales`) for the metadata;
    ``skip``: event tables left out (:data:`ORDER_FLOW` for ``--journal events``)."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    files = {}
    for name, table in sorted(journal_tables(records, scales).items()):
        if name in skip:
            continue
        path = d / f"{name}.parquet"
        pq.write_table(table, path, **_WRITE)
        files[f"journal/{name}"] = str(path)
    return files


def write_series(series: dict[str, np.ndarray], path) -> Path:
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table({k: pa.array(v) for k, v in series.items()}), p, **_WRITE)
    return p


def read_journal(directory) -> dict[str, pa.Table]:
    """Event name → Arrow table, from a journal directory written by :func:`write_journal`."""
    return {p.stem: pq.read_table(p) for p in sorted(Path(directory).glob("*.parquet"))}


#: rows per Parquet row group: pyarrow's default, so a streamed table's file has the bytes
#: :func:`write_journal` gives the same records
ROW_GROUP_ROWS = 1 << 20

#: what ``--journal`` keeps on disk (the run's hash, metrics and series cover every event
#: whatever the mode): ``full`` every event table, ``events`` all but the order flow (the
#: tables of :data:`ORDER_FLOW`), ``none`` no journal files
JOURNAL_MODES = ("full", "events", "none")

#: the high-volume order-flow tables ``--journal events`` leaves out (fills are kept)
ORDER_FLOW = frozenset({"OrderAccepted", "OrderCanceled", "OrderAmended", "OrderRejected",
                        "MarkPriceUpdated"})


def check_journal_mode(mode: str) -> str:
    """``mode`` if it is one of :data:`JOURNAL_MODES`, else ValueError naming them."""
    if mode not in JOURNAL_MODES:
        raise ValueError(f"'journal' must be one of {', '.join(JOURNAL_MODES)} (got {mode!r})")
    return mode


class JournalDigest:
    """The streamed form of :func:`exchange.sim.runner.journal_digest`: one SHA-256 per record
    column fed batch by batch, combined at the end (name, column digest) in field order, so the
    value depends on the records only, not on how they were batched."""

    def __init__(self, dtype: np.dtype) -> None:
        import hashlib

        self._names = list(dtype.names)
        self._h = {n: hashlib.sha256() for n in self._names}

    def update(self, records: np.ndarray) -> None:
        for n in self._names:
            self._h[n].update(np.ascontiguousarray(records[n]).tobytes())

    def hexdigest(self) -> str:
        import hashlib

        out = hashlib.sha256()
        for n in self._names:
            out.update(n.encode())
            out.update(self._h[n].digest())
        return out.hexdigest()


class JournalWriter:
    """Event tables streamed to ``directory`` as the run goes: one
    :class:`pyarrow.parquet.ParquetWriter` per event type, opened at the type's first record,
    a row group written every :data:`ROW_GROUP_ROWS` rows and the rest at :meth:`close`.
    Memory: at most one row group per table. The files are those :func:`write_journal` writes
    for the same records (the same row groups, schema and metadata), byte for byte.
    ``skip``: event names not written (``--journal events`` leaves out :data:`ORDER_FLOW`);
    ``scales``: the run's instrument for the metadata (:func:`table_metadata`)."""

    def __init__(self, directory, skip=frozenset(), scales: dict | None = None) -> None:
        self.dir = Path(directory)
        self.skip = frozenset(skip)
        self.scales = dict(scales) if scales else None
        self._pending: dict[str, list[dict[str, np.ndarray]]] = {}
        self._rows: dict[str, int] = {}
        self._writers: dict[str, pq.ParquetWriter] = {}
        self.closed = False

    def write(self, records: np.ndarray) -> None:
        """Append EVENT_DTYPE records (in stream order). O(records)."""
        if self.closed:
            raise ValueError("the journal writer is closed")
        for name, cols in ev_mod.tables(records).items():
            if name in self.skip:
                continue
            self._pending.setdefault(name, []).append(cols)
            self._rows[name] = self._rows.get(name, 0) + len(cols["seq"])
            while self._rows[name] >= ROW_GROUP_ROWS:
                self._flush(name, ROW_GROUP_ROWS)

    def _flush(self, name: str, rows: int) -> None:
        parts = self._pending[name]
        cols = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
        head = {k: v[:rows] for k, v in cols.items()}
        rest = {k: v[rows:] for k, v in cols.items()}
        self._pending[name] = [rest] if len(rest["seq"]) else []
        self._rows[name] -= rows
        table = pa.table({k: pa.array(np.ascontiguousarray(v)) for k, v in head.items()})
        table = table.replace_schema_metadata(table_metadata(name, head, self.scales))
        w = self._writers.get(name)
        if w is None:
            self.dir.mkdir(parents=True, exist_ok=True)
            w = self._writers[name] = pq.ParquetWriter(self.dir / f"{name}.parquet",
                                                       table.schema, **_WRITE)
        w.write_table(table)

    def close(self) -> dict[str, str]:
        """Write what is pending and close every file; returns ``journal/<name>`` → path."""
        if not self.closed:
            for name in sorted(self._pending):
                if self._rows.get(name, 0):
                    self._flush(name, self._rows[name])
            for w in self._writers.values():
                w.close()
            self.closed = True
        return {f"journal/{n}": str(self.dir / f"{n}.parquet") for n in sorted(self._writers)}
