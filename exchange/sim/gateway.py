"""The venue's inbound queue: agents' orders reach the core after each sender's latency.

Agents decide in vectorised batches (:class:`OrderBatch`: one row per command, numpy columns)
and stamp each row with its arrival time ``ts_ns = decision time + the sender's latency``. The
:class:`OrderGateway` merges the pending batches by arrival time (stable: ties keep the order
in which they were sent, then their row order) and submits them to the compiled core in one
tight loop, interleaved exactly with the rest of the simulation: when its clock event fires it
processes every pending row whose key ``(ts_ns, PRIO_ARRIVAL)`` comes before the clock's next
event, then reschedules itself at the next arrival. So a burst of 10,000 orders costs one heap
operation, not 10,000.

Command kinds (``kind`` column): ``SUBMIT`` (limit or market order, the core's
``submit``), ``CANCEL`` (cancel a venue order id) and ``CANCEL_IF_OPEN`` (cancel only if the
order still rests: a quote that traded meanwhile is skipped instead of producing an
UNKNOWN_ORDER rejection). Results are written back into the batch (``oid``, ``code``) and
``batch.done`` turns True when its last row has been processed.
"""
from __future__ import annotations

import numpy as np

from exchange.sim.clock import PRIO_ARRIVAL, Clock

__all__ = ["OrderBatch", "OrderGateway", "SUBMIT", "CANCEL", "CANCEL_IF_OPEN", "LIMIT", "MARKET",
           "GTC", "IOC", "FOK", "POST_ONLY"]

SUBMIT, CANCEL, CANCEL_IF_OPEN = 0, 1, 2
LIMIT, MARKET = 0, 1
GTC, IOC, FOK, POST_ONLY = 0, 1, 2, 3
_F_RESTING = 2

_COLUMNS = ("ts", "acct", "kind", "side", "qty", "price", "otype", "tif", "reduce_only", "target")


def _col(value, n: int) -> np.ndarray:
    """An int64 column of length n (arrays are taken as they are, not copied)."""
    if isinstance(value, np.ndarray):
        if value.dtype != np.int64:
            value = value.astype(np.int64)
        if value.shape != (n,):
            value = np.broadcast_to(value, (n,)).copy()
        return value
    return np.full(n, value, np.int64)


class OrderBatch:
    """Commands of one agent decision, one row each (int64 numpy columns; array arguments
    are taken over, not copied: do not modify them after sending).

    ``ts`` arrival time (ns), ``acct``, ``kind`` (SUBMIT / CANCEL / CANCEL_IF_OPEN), ``side``
    (0 buy, 1 sell), ``qty`` lots, ``price`` ticks (0 for a market order), ``otype`` (LIMIT /
    MARKET), ``tif`` (GTC / IOC / FOK / POST_ONLY), ``reduce_only`` (0/1), ``target`` (the venue
    order id a cancel names). Outputs: ``oid`` (venue id given to a submit), ``code`` (0 or the
    rejection reason); ``done`` once every row was processed.
    """

    __slots__ = (*_COLUMNS, "oid", "code", "done", "_left")

    def __init__(self, ts, acct, kind=SUBMIT, side=0, qty=0, price=0, otype=LIMIT, tif=GTC,
                 reduce_only=0, target=0) -> None:
        ts = np.asarray(ts, dtype=np.int64)
        if ts.ndim == 0:
            ts = ts.reshape(1)
        n = ts.shape[0]
        self.ts = ts
        self.acct = _col(acct, n)
        self.kind = _col(kind, n)
        self.side = _col(side, n)
        self.qty = _col(qty, n)
        self.price = _col(price, n)
        self.otype = _col(otype, n)
        self.tif = _col(tif, n)
        self.reduce_only = _col(reduce_only, n)
        self.target = _col(target, n)
        self.oid = np.zeros(n, np.int64)
        self.code = np.zeros(n, np.int64)
        self.done = n == 0
        self._left = n

    def __len__(self) -> int:
        return self.ts.shape[0]

    @staticmethod
    def concat(batches: list["OrderBatch"]) -> "OrderBatch":
        """One batch with the rows of ``batches`` in order."""
        batches = [b for b in batches if len(b)]
        if not batches:
            return OrderBatch(np.empty(0, np.int64), np.empty(0, np.int64))
        out = OrderBatch.__new__(OrderBatch)
        for name in _COLUMNS:
            setattr(out, name, np.concatenate([getattr(b, name) for b in batches]))
        n = out.ts.shape[0]
        out.oid = np.zeros(n, np.int64)
        out.code = np.zeros(n, np.int64)
        out.done = False
        out._left = n
        return out


class OrderGateway:
    """Delivers :class:`OrderBatch` rows to a :class:`~exchange._core.VenueCore` at their
    arrival times, for one instrument. Cost per row: one core command plus O(1) Python;
    per delivery: one heap operation and an O(p log p) merge of the p pending rows."""

    def __init__(self, core, clock: Clock, instr: int) -> None:
        self.core = core
        self.clock = clock
        self.instr = instr
        self._incoming: list[OrderBatch] = []
        self._q: dict[str, np.ndarray] | None = None   # merged pending rows, sorted by ts
        self._qb: list[OrderBatch] = []                 # batch of each merged row (by index)
        self._pos = 0
        self._next_ts: int | None = None                # earliest scheduled delivery
        self.submitted = 0
        self.canceled = 0

    def send(self, batch: OrderBatch) -> OrderBatch:
        """Queue a batch; rows must not arrive before the clock's current time. O(1)."""
        n = len(batch)
        if n == 0:
            return batch
        self._incoming.append(batch)
        t = int(batch.ts.min())
        if t < self.clock.now_ns:
            raise ValueError(f"'ts' must be >= the clock's current time {self.clock.now_ns} (got {t})")
        if self._next_ts is None or t < self._next_ts:
            self._next_ts = t
            self.clock.schedule(t, PRIO_ARRIVAL, self._deliver)
        return batch

    @property
    def pending(self) -> int:
        n = sum(len(b) for b in self._incoming)
        if self._q is not None:
            n += self._q["ts"].shape[0] - self._pos
        return n

    def _merge(self) -> None:
        parts = []
        owners: list[np.ndarray] = []
        batches: list[OrderBatch] = []
        if self._q is not None and self._pos < self._q["ts"].shape[0]:
            rest = {k: v[self._pos:] for k, v in self._q.items()}
            parts.append(rest)
            # keep the owner mapping of the rows not yet delivered
            old = self._q["_b"][self._pos:]
            uniq, inv = np.unique(old, return_inverse=True)
            for u in uniq.tolist():
                batches.append(self._qb[u])
            rest["_b"] = inv.astype(np.int64)
            owners.append(rest["_b"])
        for b in self._incoming:
            cols = {name: getattr(b, name) for name in _COLUMNS}
            cols["_row"] = np.arange(len(b), dtype=np.int64)
            cols["_b"] = np.full(len(b), len(batches), np.int64)
            batches.append(b)
            parts.append(cols)
        self._incoming = []
        merged = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
        order = np.argsort(merged["ts"], kind="stable")
        self._q = {k: v[order] for k, v in merged.items()}
        self._qb = batches
        self._pos = 0

    def _deliver(self, ts_now: int) -> None:
        if self._next_ts is not None and self._next_ts <= ts_now:
            self._next_ts = None
        if self._incoming:
            self._merge()
        q = self._q
        if q is None:
            return
        total = q["ts"].shape[0]
        if self._pos >= total:
            return
        nxt = self.clock.peek()
        if nxt is None:
            end = total
        else:
            side = "left" if nxt[1] <= PRIO_ARRIVAL else "right"
            end = int(np.searchsorted(q["ts"], nxt[0], side=side))
        start = self._pos
        if end <= start:
            self._reschedule()
            return
        core = self.core
        instr = self.instr
        submit, cancel, set_time, info = core.submit, core.cancel, core.set_time, core.order_info
        sl = slice(start, end)
        ts_l = q["ts"][sl].tolist()
        acct_l = q["acct"][sl].tolist()
        kind_l = q["kind"][sl].tolist()
        side_l = q["side"][sl].tolist()
        qty_l = q["qty"][sl].tolist()
        price_l = q["price"][sl].tolist()
        otype_l = q["otype"][sl].tolist()
        tif_l = q["tif"][sl].tolist()
        ro_l = q["reduce_only"][sl].tolist()
        tgt_l = q["target"][sl].tolist()
        n = end - start
        oids = [0] * n
        codes = [0] * n
        cur = core.ts_now
        n_sub = n_can = 0
        for i in range(n):
            t = ts_l[i]
            if t > cur:
                set_time(t)
                cur = t
            k = kind_l[i]
            if k == 0:
                codes[i] = submit(acct_l[i], instr, side_l[i], qty_l[i], price_l[i], otype_l[i],
                                  tif_l[i], ro_l[i])
                oids[i] = core.last_oid
                n_sub += 1
            elif k == 2:
                tg = tgt_l[i]
                if tg > 0 and info(tg)[5] & _F_RESTING:
                    codes[i] = cancel(acct_l[i], tg)
                    n_can += 1
            else:
                codes[i] = cancel(acct_l[i], tgt_l[i])
                n_can += 1
        self.submitted += n_sub
        self.canceled += n_can
        # write results back into their batches
        b_idx = q["_b"][sl]
        rows = q["_row"][sl]
        oid_a = np.asarray(oids, np.int64)
        code_a = np.asarray(codes, np.int64)
        for u in np.unique(b_idx).tolist():
            m = b_idx == u
            batch = self._qb[u]
            r = rows[m]
            batch.oid[r] = oid_a[m]
            batch.code[r] = code_a[m]
            batch._left -= int(m.sum())
            if batch._left <= 0:
                batch.done = True
        self._pos = end
        self._reschedule()

    def _reschedule(self) -> None:
        q = self._q
        if q is None or self._pos >= q["ts"].shape[0]:
            return
        t = int(q["ts"][self._pos])
        if self._next_ts is None or t < self._next_ts:
            self._next_ts = t
            self.clock.schedule(max(t, self.clock.now_ns), PRIO_ARRIVAL, self._deliver)
