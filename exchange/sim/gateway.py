"""The venue's inbound queue: agents' orders reach the core after each sender's latency.

Agents decide in vectorised batches (:class:`OrderBatch`: one row per command, a numpy
structured array) and stamp each row with its arrival time ``ts = decision time + the
sender's latency``. The :class:`OrderGateway` merges the pending batches by arrival time
(stable: ties keep the order in which they were sent, then their row order) and submits them
to the compiled core in one tight loop, interleaved exactly with the rest of the simulation:
when its clock event fires it processes every pending row whose key ``(ts, PRIO_ARRIVAL)``
comes before the clock's next event, then reschedules itself at the next arrival. A burst of
10,000 orders costs one heap operation, not 10,000.

Command kinds (``kind``): ``SUBMIT`` (limit or market order, the core's ``submit``),
``CANCEL`` (cancel a venue order id) and ``CANCEL_IF_OPEN`` (cancel only if the order still
rests: a quote that traded meanwhile is skipped instead of producing an UNKNOWN_ORDER
rejection). Results are written back into the batch (``oid``, ``code``) and ``batch.done``
turns True when its last row has been processed.
"""
from __future__ import annotations

import os
import warnings

import numpy as np

from exchange._enums import CommandKind, OrderFlag, OrderType
from exchange.dtypes import ORDER_DTYPE
from exchange.sim.clock import PRIO_ARRIVAL, Clock
from matching.codes import FOK, GTC, IOC, POST_ONLY

try:
    from exchange.sim import _gateway as _compiled
    if os.environ.get("PERPSIM_GATEWAY") == "python":   # debugging: the readable loop
        _compiled = None
except ImportError:  # pragma: no cover - the wheel always ships the extension
    _compiled = None
    warnings.warn("exchange.sim._gateway (compiled) is missing: the order gateway runs its "
                  "pure-Python loop (slower); build it with `pip install -e .`",
                  RuntimeWarning, stacklevel=2)

__all__ = ["OrderBatch", "OrderGateway", "ORDER_DTYPE", "SUBMIT", "CANCEL", "CANCEL_IF_OPEN",
           "LIMIT", "MARKET", "GTC", "IOC", "FOK", "POST_ONLY"]

SUBMIT, CANCEL, CANCEL_IF_OPEN = (int(k) for k in CommandKind)
LIMIT, MARKET = int(OrderType.LIMIT), int(OrderType.MARKET)
_F_RESTING = int(OrderFlag.RESTING)


def _given(v) -> bool:
    return not (type(v) is int and v == 0)


class OrderBatch:
    """Commands of one agent decision, one row each (``rows``: ORDER_DTYPE).

    Columns: ``ts`` arrival time (ns), ``acct``, ``kind`` (SUBMIT / CANCEL / CANCEL_IF_OPEN),
    ``side`` (0 buy, 1 sell), ``qty`` lots, ``price`` ticks (0 for a market order), ``otype``
    (LIMIT / MARKET), ``tif`` (GTC / IOC / FOK / POST_ONLY), ``reduce_only`` (0/1), ``target``
    (the venue order id a cancel names). Every argument is a scalar or an array of the rows'
    length. Outputs: ``oid`` (venue id given to a submit), ``code`` (0 or the rejection
    reason); ``done`` once every row was processed.
    """

    __slots__ = ("rows", "oid", "code", "done", "want_results", "_left")

    def __init__(self, ts, acct, kind=SUBMIT, side=0, qty=0, price=0, otype=LIMIT, tif=GTC,
                 reduce_only=0, target=0) -> None:
        ts = np.asarray(ts, dtype=np.int64)
        if ts.ndim == 0:
            ts = ts.reshape(1)
        n = ts.shape[0]
        r = np.zeros(n, ORDER_DTYPE)
        r["ts"] = ts
        r["acct"] = acct
        r["kind"] = kind
        # columns left at their default (the scalar 0) are not written
        if _given(side):
            r["side"] = side
        r["qty"] = qty
        if _given(price):
            r["price"] = price
        if _given(otype):
            r["otype"] = otype
        if _given(tif):
            r["tif"] = tif
        if _given(reduce_only):
            r["reduce_only"] = reduce_only
        if _given(target):
            r["target"] = target
        r["row"] = np.arange(n)
        self._init(r)

    @classmethod
    def from_rows(cls, rows: np.ndarray) -> OrderBatch:
        """A batch over ready ORDER_DTYPE rows (taken over, not copied; ``row`` must hold
        0..n-1)."""
        out = cls.__new__(cls)
        out._init(rows)
        return out

    def _init(self, rows: np.ndarray) -> None:
        n = rows.shape[0]
        self.rows = rows
        self.want_results = True
        self.oid = np.zeros(n, np.int64)
        self.code = np.zeros(n, np.int64)
        self.done = n == 0
        self._left = n

    def __len__(self) -> int:
        return self.rows.shape[0]

    @staticmethod
    def concat(batches: list[OrderBatch]) -> OrderBatch:
        """One batch with the rows of ``batches`` in order."""
        batches = [b for b in batches if len(b)]
        out = OrderBatch.__new__(OrderBatch)
        if len(batches) == 1:
            out._init(batches[0].rows)
            return out
        if not batches:
            out._init(np.zeros(0, ORDER_DTYPE))
            return out
        rows = stack_rows([b.rows for b in batches])
        rows["row"] = np.arange(rows.shape[0])
        out._init(rows)
        return out


_NCOL = len(ORDER_DTYPE.names)
#: column of each field in the (n, columns) int64 view of ORDER_DTYPE rows
COL = {name: i for i, name in enumerate(ORDER_DTYPE.names)}


def rows_matrix(n: int) -> np.ndarray:
    """An (n, columns) zero int64 matrix to fill by :data:`COL`; ``.view(ORDER_DTYPE)
    .reshape(-1)`` turns it into rows."""
    return np.zeros((n, _NCOL), np.int64)


def _as2d(rows: np.ndarray) -> np.ndarray:
    """The rows as an (n, columns) int64 matrix (a view: every field is int64, no padding)."""
    return rows.view(np.int64).reshape(rows.shape[0], _NCOL)


def stack_rows(parts: list[np.ndarray]) -> np.ndarray:
    """Concatenate ORDER_DTYPE arrays (through int64 matrices: np.concatenate is slow on
    structured dtypes)."""
    return np.concatenate([_as2d(p) for p in parts]).view(ORDER_DTYPE).reshape(-1)


def _deliver_py(core, instr: int, done: np.ndarray, oid_out: np.ndarray,
                code_out: np.ndarray) -> tuple[int, int]:
    """The readable twin of :func:`exchange.sim._gateway.deliver` (and its fallback)."""
    submit, cancel, set_time, info = core.submit, core.cancel, core.set_time, core.order_info
    cols = [done[c].tolist() for c in ("ts", "acct", "kind", "side", "qty", "price", "otype",
                                        "tif", "reduce_only", "target")]
    n = done.shape[0]
    oids = [0] * n
    codes = [0] * n
    cur = core.ts_now
    n_sub = n_can = 0
    i = 0
    for t, acct, kind, side, qty, price, otype, tif, ro, tgt in zip(*cols):
        if t > cur:
            set_time(t)
            cur = t
        if kind == SUBMIT:
            codes[i] = submit(acct, instr, side, qty, price, otype, tif, ro)
            oids[i] = core.last_oid
            n_sub += 1
        elif kind == CANCEL_IF_OPEN:
            if 0 < tgt < core.next_order_id and info(tgt)[5] & _F_RESTING:
                codes[i] = cancel(acct, tgt)
                n_can += 1
        else:
            codes[i] = cancel(acct, tgt)
            n_can += 1
        i += 1
    oid_out[:] = oids
    code_out[:] = codes
    return n_sub, n_can


class OrderGateway:
    """Delivers :class:`OrderBatch` rows to a :class:`~exchange._core.VenueCore` at their
    arrival times, for one instrument. Cost per row: one core command plus O(1) Python;
    per delivery: one heap operation and an O(p log p) merge of the p pending rows."""

    def __init__(self, core, clock: Clock, instr: int) -> None:
        self.core = core
        self.clock = clock
        self.instr = instr
        self._incoming: list[OrderBatch] = []
        self._q = np.zeros(0, ORDER_DTYPE)          # merged pending rows, sorted by ts
        self._qb: dict[int, OrderBatch] = {}         # batch id -> batch with rows pending
        self._next_id = 0
        self._next_ts: int | None = None             # earliest scheduled delivery
        self.submitted = 0
        self.canceled = 0
        #: called after each delivery (the simulator hands the venue its last-price
        #: conditional-order triggers here)
        self.after_delivery = None

    def send(self, batch: OrderBatch, results: bool = True) -> OrderBatch:
        """Queue a batch; rows must not arrive before the clock's current time. With
        ``results=False`` the venue ids and codes are not written back (``done`` still is).
        O(1)."""
        batch.want_results = results
        rows = batch.rows
        if rows.shape[0] == 0:
            return batch
        t = int(rows["ts"].min())
        if t < self.clock.now_ns:
            raise ValueError(f"'ts' must be >= the clock's current time {self.clock.now_ns} (got {t})")
        bid = self._next_id
        self._next_id += 1
        rows["b"] = bid
        self._qb[bid] = batch
        self._incoming.append(batch)
        if self._next_ts is None or t < self._next_ts:
            self._next_ts = t
            self.clock.schedule(t, PRIO_ARRIVAL, self._deliver)
        return batch

    @property
    def pending(self) -> int:
        return self._q.shape[0] + sum(len(b) for b in self._incoming)

    def _merge(self) -> None:
        parts = [self._q] if self._q.shape[0] else []
        parts.extend(b.rows for b in self._incoming)
        self._incoming = []
        q = stack_rows(parts) if len(parts) > 1 else parts[0]
        ts = q["ts"]
        if ts.shape[0] > 1 and bool((ts[1:] < ts[:-1]).any()):
            q = _as2d(q)[np.argsort(ts, kind="stable")].view(ORDER_DTYPE).reshape(-1)
        self._q = q

    def _deliver(self, ts_now: int) -> None:
        if self._next_ts is not None and self._next_ts <= ts_now:
            self._next_ts = None
        if self._incoming:
            self._merge()
        q = self._q
        total = q.shape[0]
        if total == 0:
            return
        nxt = self.clock.peek()
        qts = q["ts"]
        if nxt is None:
            end = total
        else:
            end = int(np.searchsorted(qts, nxt[0],
                                      side="left" if nxt[1] <= PRIO_ARRIVAL else "right"))
            # rows due now go now (ties with other arrivals at this instant: gateway first)
            end = max(end, int(np.searchsorted(qts, ts_now, side="right")))
        if end <= 0:
            self._reschedule()
            return
        done = q[:end]
        oid_a = np.zeros(end, np.int64)
        code_a = np.zeros(end, np.int64)
        if _compiled is not None:
            n_sub, n_can = _compiled.deliver(
                self.core, self.instr, done["ts"], done["acct"], done["kind"], done["side"],
                done["qty"], done["price"], done["otype"], done["tif"], done["reduce_only"],
                done["target"], oid_a, code_a)
        else:
            n_sub, n_can = _deliver_py(self.core, self.instr, done, oid_a, code_a)
        self.submitted += n_sub
        self.canceled += n_can
        self._q = q[end:]
        if self.after_delivery is not None and n_sub:
            self.after_delivery()
        # results back into the batches that asked for them; count down every batch
        b_idx = done["b"]
        lo = int(b_idx.min())
        counts = np.bincount(b_idx - lo)
        qb = self._qb
        for u in np.flatnonzero(counts).tolist():
            bid = u + lo
            batch = qb[bid]
            if batch.want_results:
                m = b_idx == bid
                r = done["row"][m]
                batch.oid[r] = oid_a[m]
                batch.code[r] = code_a[m]
            batch._left -= int(counts[u])
            if batch._left <= 0:
                batch.done = True
                del qb[bid]
        self._reschedule()

    def _reschedule(self) -> None:
        q = self._q
        if q.shape[0] == 0:
            return
        t = int(q["ts"][0])
        if self._next_ts is None or t < self._next_ts:
            self._next_ts = t
            self.clock.schedule(max(t, self.clock.now_ns), PRIO_ARRIVAL, self._deliver)
