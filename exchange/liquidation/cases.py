"""Liquidation cases (struct of arrays) and what a waterfall module reports about them.

A **case** is one distressed position: an isolated position, or one cross position of a
distressed cross account (a cross account gives one case per open cross position; the
account's equity is spread over them in proportion to their maintenance margin, as dYdX
spreads total net collateral, so every case has its own bankruptcy price and the cases' equities
add up to the account's). :class:`Cases` holds many cases as parallel numpy arrays, so modules
work on a batch of cases at once; a single case is a batch of one.

Money of an isolated case. The core keeps an isolated position's money in its bucket and
releases the closed share of it to the wallet; fees are taken from the wallet. The case tracks
``wshare``, the part of the account's wallet that belongs to the case (what was released to
it, minus the fees it paid), so its equity at the mark is exact whatever else the account
holds::

    equity = bucket − cost + wshare + size·mark·k          (= bucket + uPnL + wshare)

Every module moves money in or out of a case through
:class:`~exchange.liquidation.context.LiquidationContext`, which keeps ``wshare`` right. While
the position is open the context keeps ``wshare`` at 0 (released margin goes back into the
bucket, fees come out of it), so an open case's equity is the position's own ``bucket +
uPnL``; once the position is closed, ``wshare`` holds what the case has left in the wallet
(the engine nets a negative bucket against it when the case completes).
"""
from __future__ import annotations

import attrs
import numpy as np

__all__ = ["Cases", "Outcome", "CONTINUE", "WAIT", "RESTART", "RESOLVED",
           "ACTIVE", "WAITING", "RETRY", "DONE"]

# -- per-row result of a module (Outcome.state) -------------------------------------------------
#: go on down the waterfall (if anything is left to do)
CONTINUE = 0
#: stop here for this step; re-enter this module at the next step (auction running)
WAIT = 1
#: stop here for this step; re-enter the waterfall from the top at the next step (partial
#: liquidation with a cooldown or a per-step limit)
RESTART = 2
#: the case is over (the account is compliant again after a partial close)
RESOLVED = 3

# -- case status (Cases.status) -----------------------------------------------------------------
ACTIVE = 0
WAITING = 1      # resumes at Cases.resume
RETRY = 2        # resumes at the first module
DONE = 3

_FIELDS = {
    "case_id": np.int64, "acct": np.int64, "instr": np.int64, "isolated": np.bool_,
    "wshare": np.int64, "status": np.int64, "resume": np.int64, "ts_start": np.int64,
    "start_size": np.int64, "closed_lots": np.int64, "closed_notional": np.int64,
    "fees": np.int64, "insured": np.int64, "socialized": np.int64, "adl_lots": np.int64,
    "bad_debt": np.int64, "cancelled": np.bool_, "resolved": np.bool_,
}


class Cases:
    """Distressed positions as parallel arrays (one row per case).

    Fields: ``case_id`` (unique, increasing), ``acct``, ``instr``, ``isolated``, ``wshare``
    (atoms of the wallet that belong to an isolated case), ``status`` (ACTIVE, WAITING, RETRY,
    DONE), ``resume`` (module index to re-enter), ``ts_start``, ``start_size`` (signed lots at
    the trigger), running totals ``closed_lots``, ``closed_notional``, ``fees``, ``insured``
    (paid by the fund), ``socialized``, ``adl_lots``, ``bad_debt``, and flags ``cancelled``
    (orders cancelled), ``resolved`` (compliant again). Rows are addressed by integer index
    arrays ``rows``.
    """

    __slots__ = tuple(_FIELDS)

    def __init__(self, n: int = 0) -> None:
        for name, dt in _FIELDS.items():
            setattr(self, name, np.zeros(n, dt))

    @classmethod
    def new(cls, case_ids, accts, instrs, isolated, start_sizes, ts_ns: int) -> Cases:
        """Fresh ACTIVE cases. O(n)."""
        c = cls(len(accts))
        c.case_id[:] = case_ids
        c.acct[:] = accts
        c.instr[:] = instrs
        c.isolated[:] = isolated
        c.start_size[:] = start_sizes
        c.ts_start[:] = ts_ns
        return c

    def __len__(self) -> int:
        return len(self.acct)

    def take(self, rows) -> Cases:
        """A new batch with the given rows (copies). O(len(rows))."""
        c = Cases.__new__(Cases)
        for name in _FIELDS:
            setattr(c, name, getattr(self, name)[rows])
        return c

    @staticmethod
    def concat(parts) -> Cases:
        parts = [p for p in parts if len(p)]
        if not parts:
            return Cases(0)
        if len(parts) == 1:
            return parts[0]
        c = Cases.__new__(Cases)
        for name in _FIELDS:
            setattr(c, name, np.concatenate([getattr(p, name) for p in parts]))
        return c

    def keys(self, n_instr: int) -> np.ndarray:
        """``acct·n_instr + instr``: one key per position. O(n)."""
        return self.acct * n_instr + self.instr


@attrs.frozen
class Outcome:
    """What a module did to the rows it was given (arrays parallel to ``rows``).

    ``closed_lots``: lots it closed (book, auction, backstop or ADL); ``closed_notional``:
    their notional in atoms (average price = notional / (lots·k)); ``deficit_left``: atoms of
    negative equity the case still has at the mark afterwards (0 if none); ``state``: per row
    :data:`CONTINUE`, :data:`WAIT`, :data:`RESTART` or :data:`RESOLVED`.
    """

    rows: np.ndarray
    closed_lots: np.ndarray
    closed_notional: np.ndarray
    deficit_left: np.ndarray
    state: np.ndarray

    @classmethod
    def nothing(cls, ctx, cases: Cases, rows: np.ndarray) -> Outcome:
        """The module passed every row down untouched."""
        z = np.zeros(len(rows), np.int64)
        return cls(rows, z, z.copy(), ctx.deficit(cases, rows), z.copy())

    @classmethod
    def build(cls, ctx, cases: Cases, rows: np.ndarray, closed_lots=None, closed_notional=None,
              state=None) -> Outcome:
        n = len(rows)
        z = np.zeros(n, np.int64)
        return cls(rows, z if closed_lots is None else np.asarray(closed_lots, np.int64),
                   z.copy() if closed_notional is None else np.asarray(closed_notional, np.int64),
                   ctx.deficit(cases, rows),
                   z.copy() if state is None else np.asarray(state, np.int64))
