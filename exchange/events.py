"""The event stream: attrs views of the venue core's event records.

The compiled core appends fixed-size records (``EVENT_DTYPE``) on the hot path; this module
turns them into past-tense attrs classes when a script, a test or the server reads them, and
into columnar tables (one per event type) for the Parquet journal. The records are the single
source of truth; every field of every class is a column of the record (renamed).
"""
from __future__ import annotations

from typing import Iterable

import attrs
import numpy as np

from exchange._core import EVENT_DTYPE, EVENT_KINDS

# record columns: seq ts acct oid price qty a1 a2 a3 kind code instr side flag
# for each kind: class field name -> record column
_FIELDS: dict[str, dict[str, str]] = {
    "OrderAccepted": dict(account="acct", order_id="oid", instrument="instr", side="side",
                          price_ticks="price", qty_lots="qty", order_type="a1", tif="a2",
                          reduce_only="a3", liquidation="flag"),
    "OrderRejected": dict(account="acct", order_id="oid", instrument="instr", side="side",
                          price_ticks="price", qty_lots="qty", reason="code", command="flag"),
    "OrderFilled": dict(account="acct", order_id="oid", instrument="instr", side="side",
                        price_ticks="price", qty_lots="qty", fee_atoms="a1",
                        realized_pnl_atoms="a2", counter_order_id="a3", taker="flag"),
    "OrderCanceled": dict(account="acct", order_id="oid", instrument="instr", side="side",
                          price_ticks="price", qty_lots="qty", reason="code", liquidation="flag"),
    "OrderAmended": dict(account="acct", order_id="oid", instrument="instr", side="side",
                         price_ticks="price", qty_lots="qty", previous_open_lots="a1"),
    "Deposited": dict(account="acct", amount_atoms="a1", wallet_atoms="a2"),
    "Withdrawn": dict(account="acct", amount_atoms="a1", wallet_atoms="a2"),
    "LeverageSet": dict(account="acct", instrument="instr", leverage="qty", previous="a1"),
    "MarginModeSet": dict(account="acct", instrument="instr", isolated="qty"),
    "IsolatedMarginChanged": dict(account="acct", instrument="instr", delta_atoms="a1",
                                  bucket_atoms="a2"),
    "MarkPriceUpdated": dict(instrument="instr", mark_ticks="price", index_ticks="a1"),
    "TransferRejected": dict(account="acct", instrument="instr", reason="code",
                             amount_atoms="a1"),
    "PositionTransferred": dict(from_account="acct", to_account="a1", instrument="instr",
                                price_ticks="price", qty_lots="qty", from_was_long="side",
                                from_realized_atoms="a2", to_realized_atoms="a3", reason="code"),
    "LedgerMoved": dict(from_account="acct", to_account="a2", from_kind="price",
                        to_kind="qty", amount_atoms="a1", instrument="instr", reason="code"),
}

# kinds >= 100 belong to the layers above the core (funding, liquidation); they register here
_EXTRA_KINDS: dict[int, str] = {}
_GENERIC = dict(account="acct", order_id="oid", instrument="instr", side="side",
                price_ticks="price", qty_lots="qty", a1="a1", a2="a2", a3="a3", code="code",
                flag="flag")


@attrs.frozen
class Event:
    """Base of every event: ``seq`` (global order), ``ts_ns`` (venue clock)."""

    seq: int
    ts_ns: int

    @property
    def name(self) -> str:
        return type(self).__name__


_CLASSES: dict[str, type] = {}


def _make_class(name: str, fields: dict[str, str]) -> type:
    cls = attrs.make_class(name, {f: attrs.field() for f in fields}, bases=(Event,), frozen=True)
    cls.__doc__ = f"{name}: " + ", ".join(f"{f} (record column {c})" for f, c in fields.items())
    cls.__module__ = __name__
    return cls


for _kind_name, _f in _FIELDS.items():
    _CLASSES[_kind_name] = _make_class(_kind_name, _f)
    globals()[_kind_name] = _CLASSES[_kind_name]


def register_kind(kind: int, name: str, fields: dict[str, str] | None = None) -> type:
    """Register an event kind recorded by a higher layer (``kind`` >= 100). Idempotent."""
    if kind < 100:
        raise ValueError(f"'kind' must be >= 100 for layers above the core (got {kind})")
    if _EXTRA_KINDS.get(kind, name) != name:
        raise ValueError(f"event kind {kind} is already registered as {_EXTRA_KINDS[kind]!r}")
    _EXTRA_KINDS[kind] = name
    if name not in _CLASSES:
        _FIELDS[name] = dict(fields or _GENERIC)
        _CLASSES[name] = _make_class(name, _FIELDS[name])
        globals()[name] = _CLASSES[name]
    return _CLASSES[name]


def kind_name(kind: int) -> str:
    return EVENT_KINDS.get(kind) or _EXTRA_KINDS.get(kind) or f"Kind{kind}"


def event_class(name: str) -> type:
    return _CLASSES[name]


def materialize(records: np.ndarray) -> list[Event]:
    """Turn EVENT_DTYPE records into attrs events, in stream order. O(n) Python objects."""
    out = []
    for rec in records.tolist():  # tuple per record, fields in EVENT_DTYPE order
        row = dict(zip(EVENT_DTYPE.names, rec))
        name = kind_name(row["kind"])
        cls = _CLASSES.get(name)
        if cls is None:
            cls = register_kind(row["kind"], name) if row["kind"] >= 100 else None
        fields = _FIELDS.get(name, _GENERIC)
        out.append(cls(seq=row["seq"], ts_ns=row["ts"], **{f: row[c] for f, c in fields.items()}))
    return out


def tables(records: np.ndarray) -> dict[str, dict[str, np.ndarray]]:
    """Columnar view: event name -> {column: array}, one table per event type (for Parquet)."""
    out: dict[str, dict[str, np.ndarray]] = {}
    kinds = records["kind"]
    for kind in np.unique(kinds).tolist():
        sel = records[kinds == kind]
        name = kind_name(kind)
        fields = _FIELDS.get(name, _GENERIC)
        cols = {"seq": sel["seq"], "ts_ns": sel["ts"]}
        cols.update({f: sel[c] for f, c in fields.items()})
        out[name] = cols
    return out


def of_type(events: Iterable[Event], *names: str) -> list[Event]:
    return [e for e in events if type(e).__name__ in names]
