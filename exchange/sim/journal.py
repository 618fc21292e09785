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
``perpsim.event_kind`` and ``perpsim.units`` (tick size, lot size, settle decimals are in
metrics.json ``info``). Core event types: OrderAccepted, OrderRejected (``reason`` =
:class:`exchange.codes.RejectReason`), OrderFilled (``taker`` 1/0, ``fee_atoms``,
``realized_pnl_atoms``, ``counter_order_id``), OrderCanceled, OrderAmended, Deposited,
Withdrawn, LeverageSet, MarginModeSet, IsolatedMarginChanged, MarkPriceUpdated,
PositionTransferred, LedgerMoved, FundingPaid, FundingSettled; the liquidation package adds
its own (liquidations, auctions, insurance use, socialized losses, deleveraging).

Read it with pandas (``pd.read_parquet(DIR/"journal/OrderFilled.parquet")``), polars, or
DuckDB (``SELECT * FROM 'DIR/journal/*.parquet'`` per type). Writing is deterministic: the same
records give the same bytes (no timestamps or random ids in the files).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from exchange import events as ev_mod
from exchange.liquidation.events import register_event_kinds as register_liquidation_events

__all__ = ["write_journal", "write_series", "read_journal", "journal_tables",
           "register_liquidation_events"]

_WRITE = dict(compression="zstd", use_dictionary=False, write_statistics=True)


def journal_tables(records: np.ndarray) -> dict[str, pa.Table]:
    """EVENT_DTYPE records → event name → Arrow table (columns as in the module docs)."""
    register_liquidation_events()
    out = {}
    for name, cols in ev_mod.tables(records).items():
        arrays = {k: pa.array(np.ascontiguousarray(v)) for k, v in cols.items()}
        table = pa.table(arrays)
        out[name] = table.replace_schema_metadata({"perpsim.event_kind": name})
    return out


def write_journal(records: np.ndarray, directory) -> dict[str, str]:
    """Write one Parquet file per event type under ``directory``; returns name → path."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    files = {}
    for name, table in sorted(journal_tables(records).items()):
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
