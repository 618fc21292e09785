"""The liquidation-price index: sorted trigger prices per instrument, side and threshold.

For every open position of one instrument, :class:`LiquidationIndex` keeps the exact integer
price at which its margin test flips (:func:`~exchange.liquidation.margin_view.trigger_prices`):
for ``pct = 100`` the liquidation price (``equity < MM``), for the margin-call levels the
price at which the margin ratio passes ``pct`` percent. Longs trigger when the mark falls to
their key or below, shorts when it rises to their key or above; each side is a pair of numpy
arrays ``(keys, accts)`` sorted by key, so a mark update finds the ``k`` positions that cross
with one :func:`numpy.searchsorted` — O(log n + k) — instead of scanning n positions.

Cross positions are indexed too, with the price solved while the account's other marks hold;
an account with several cross positions is re-checked exactly by the engine whenever any of
its marks moves (its keys are only as good as the other marks).

Updates are batched: :meth:`LiquidationIndex.mark_dirty` records accounts whose position,
margin or wallet changed; :meth:`LiquidationIndex.flush` drops their old entries and merges
their new ones in one pass (O(n + d log d) for d dirty entries), or rebuilds everything when
more than ``rebuild_fraction`` of the entries are dirty (O(n log n)). Queries flush first.
"""
from __future__ import annotations

import numpy as np

from exchange.liquidation._util import unique_ids
from exchange.liquidation.margin_view import NEVER_LONG, NEVER_SHORT, MarginView, trigger_prices

__all__ = ["LiquidationIndex"]

_I64 = np.int64
_EMPTY = np.empty(0, _I64)


class _Side:
    """Sorted ``keys`` with the parallel ``accts`` of one side of one threshold."""

    __slots__ = ("keys", "accts")

    def __init__(self) -> None:
        self.keys = _EMPTY
        self.accts = _EMPTY

    def set(self, keys: np.ndarray, accts: np.ndarray) -> None:
        order = np.lexsort((accts, keys))
        self.keys = np.ascontiguousarray(keys[order])
        self.accts = np.ascontiguousarray(accts[order])

    def drop(self, mask: np.ndarray) -> None:
        """Remove the entries whose account is set in ``mask`` (a bool array by account)."""
        if len(self.accts):
            keep = ~mask[self.accts]
            if not keep.all():
                self.keys = self.keys[keep]
                self.accts = self.accts[keep]

    def merge(self, keys: np.ndarray, accts: np.ndarray) -> None:
        """Insert new entries (any order) keeping the arrays sorted; equal keys go after the
        existing ones, new ones among themselves by account. O(n + d log d)."""
        if len(keys) == 0:
            return
        order = np.lexsort((accts, keys))
        keys, accts = keys[order], accts[order]
        pos = np.searchsorted(self.keys, keys, side="right")
        self.keys = np.insert(self.keys, pos, keys)
        self.accts = np.insert(self.accts, pos, accts)

    def __len__(self) -> int:
        return len(self.keys)


class LiquidationIndex:
    """Trigger-price index of one instrument.

    ``levels`` are the percent thresholds indexed (100 = liquidation, always present; lower
    values are margin-call levels). :meth:`crossers` returns the positions whose liquidation
    price the mark has reached, :meth:`entered` those a mark move carried across a margin-call
    level. Both flush pending updates first.

    >>> from exchange._core import VenueCore
    >>> from exchange.instruments import InstrumentSpec
    >>> core = VenueCore([InstrumentSpec.example()])
    >>> mm = core.open_account(); core.deposit(mm, 10**12)
    0
    >>> a = core.open_account()
    >>> core.set_mark(0, 500_000)
    0
    >>> core.bulk_open_positions([a], 0, [20], 500_000, [20], mm, margins=[60 * 10**6])
    1
    >>> idx = LiquidationIndex(MarginView(core), 0)
    >>> idx.rebuild()
    >>> idx.key(a)       # 20x long 0.02 BTC at 50,000.0, 50 USDT isolated: 1992·p < 950e6
    476907
    >>> idx.crossers(476908).tolist(), idx.crossers(476907).tolist()
    ([], [1])
    """

    def __init__(self, view: MarginView, instr: int, levels=(100,),
                 rebuild_fraction: float = 0.25) -> None:
        self.view = view
        self.instr = int(instr)
        self.levels = tuple(sorted(set(int(x) for x in levels) | {100}))
        self.rebuild_fraction = float(rebuild_fraction)
        self._sides = {pct: (_Side(), _Side()) for pct in self.levels}
        self._dirty: list[np.ndarray] = []
        self._n_dirty = 0
        self._mask = np.zeros(0, bool)
        self.n_rebuilds = 0
        self.n_merges = 0

    # -- COMMANDS --------------------------------------------------------------------------
    def mark_dirty(self, accts) -> None:
        """Record accounts whose entry must be recomputed at the next flush. O(len(accts))."""
        accts = np.asarray(accts, dtype=_I64)
        if len(accts):
            self._dirty.append(accts)
            self._n_dirty += len(accts)

    def rebuild(self) -> None:
        """Recompute every entry from the core's state. O(n log n)."""
        v = self.view
        v.refresh()
        self._dirty.clear()
        self._n_dirty = 0
        accts = np.flatnonzero(v.size[self.instr]).astype(_I64)
        keys = self._keys(accts)
        for pct in self.levels:
            long_k, short_k = self._split(keys[pct], accts)
            self._sides[pct][0].set(*long_k)
            self._sides[pct][1].set(*short_k)
        self.n_rebuilds += 1

    def flush(self) -> None:
        """Apply the recorded updates: drop the dirty accounts' entries and merge their new ones
        (or rebuild when the dirty share is large). O(n + d log d)."""
        if not self._n_dirty:
            return
        v = self.view
        v.refresh()
        if len(self._mask) < v.n_acct:
            self._mask = np.zeros(max(v.n_acct, 2 * len(self._mask)), bool)
        mask = self._mask
        d = np.concatenate(self._dirty)
        d = unique_ids(d[(d >= 0) & (d < v.n_acct)], v.n_acct)
        mask[d] = True
        self._dirty.clear()
        self._n_dirty = 0
        n = len(self._sides[100][0]) + len(self._sides[100][1])
        if len(d) > self.rebuild_fraction * max(n, 1) and len(d) > 64:
            mask[d] = False
            self.rebuild()
            return
        for pct in self.levels:
            for side in self._sides[pct]:
                side.drop(mask)
        mask[d] = False
        d = d[v.size[self.instr, d] != 0]
        keys = self._keys(d)
        for pct in self.levels:
            long_k, short_k = self._split(keys[pct], d)
            self._sides[pct][0].merge(*long_k)
            self._sides[pct][1].merge(*short_k)
        self.n_merges += 1

    # -- QUERIES ---------------------------------------------------------------------------
    @property
    def n_dirty(self) -> int:
        return self._n_dirty

    def __len__(self) -> int:
        return len(self._sides[100][0]) + len(self._sides[100][1])

    def crossers(self, mark: int) -> np.ndarray:
        """Accounts whose liquidation price the mark has reached: longs with key ≥ mark (most
        distressed, i.e. highest key, first), then shorts with key ≤ mark (lowest key first).
        O(log n + k) after a flush."""
        if self._n_dirty:
            self.flush()
        lo, sh = self._sides[100]
        i = lo.keys.searchsorted(mark, "left")
        j = sh.keys.searchsorted(mark, "right")
        if i == len(lo.keys):
            return sh.accts[:j]
        if j == 0:
            return lo.accts[i:][::-1]
        return np.concatenate((lo.accts[i:][::-1], sh.accts[:j]))

    def entered(self, pct: int, prev_mark: int, mark: int) -> np.ndarray:
        """Accounts a move of the mark from ``prev_mark`` to ``mark`` carried into the
        ``pct`` zone (longs when it falls to their key, shorts when it rises to theirs).
        O(log n + k) after a flush."""
        if self._n_dirty:
            self.flush()
        if mark == prev_mark or prev_mark <= 0:
            return _EMPTY
        lo, sh = self._sides[pct]
        if mark < prev_mark:      # longs with mark <= key < prev_mark
            i = lo.keys.searchsorted(mark, "left")
            j = lo.keys.searchsorted(prev_mark, "left")
            return lo.accts[i:j]
        i = sh.keys.searchsorted(prev_mark, "right")    # shorts with prev_mark < key <= mark
        j = sh.keys.searchsorted(mark, "right")
        return sh.accts[i:j]

    def key(self, acct: int, pct: int = 100) -> int | None:
        """The stored key of an account (None if not indexed), after a flush. O(n) — for
        tests and tools."""
        if self._n_dirty:
            self.flush()
        for side in self._sides[pct]:
            hit = np.flatnonzero(side.accts == acct)
            if len(hit):
                return int(side.keys[hit[0]])
        return None

    def entries(self, pct: int = 100):
        """``((long_keys, long_accts), (short_keys, short_accts))`` (views; do not modify)."""
        lo, sh = self._sides[pct]
        return (lo.keys, lo.accts), (sh.keys, sh.accts)

    def check(self) -> None:
        """Assert every structural invariant (sortedcontainers-style ``_check``): sides
        sorted, no flat position indexed, and each open position indexed on its own side with
        the key a fresh computation gives (unless that key is "never"). Accounts with several
        cross positions are exempt from the key comparison: their keys hold the other marks
        fixed and go stale when those move, by design (the engine re-checks them directly).
        O(n log n)."""
        self.flush()
        v = self.view
        v.refresh()
        accts = np.flatnonzero(v.size[self.instr]).astype(_I64)
        keys = self._keys(accts)
        multi = accts[(v.mode[self.instr, accts] == 0) & (v.cross_positions(accts) >= 2)]
        for pct in self.levels:
            (lk, la), (sk, sa) = self.entries(pct)
            assert np.all(np.diff(lk) >= 0) and np.all(np.diff(sk) >= 0), "keys not sorted"
            assert not np.isin(np.concatenate((la, sa)), np.flatnonzero(v.size[self.instr] == 0)).any(), \
                f"level {pct}: a flat position is indexed"
            (elk, ela), (esk, esa) = self._split(keys[pct], accts)
            for got_k, got_a, exp_k, exp_a in ((lk, la, elk, ela), (sk, sa, esk, esa)):
                g = ~np.isin(got_a, multi)
                e = ~np.isin(exp_a, multi)
                got_k, got_a, exp_k, exp_a = got_k[g], got_a[g], exp_k[e], exp_a[e]
                o1 = np.argsort(got_a, kind="stable")
                o2 = np.argsort(exp_a, kind="stable")
                assert np.array_equal(got_a[o1], exp_a[o2]), f"level {pct}: accounts differ"
                assert np.array_equal(got_k[o1], exp_k[o2]), f"level {pct}: stale keys"

    # -- internals -------------------------------------------------------------------------
    def _keys(self, accts: np.ndarray) -> dict[int, np.ndarray]:
        v = self.view
        i = self.instr
        # on the instrument's maintenance basis (mark, or Bybit's entry value: MarginView)
        size, base, extra, floors, mmrs, cums = v.trigger_inputs(i, accts)
        k = int(v.k[i])
        return {pct: trigger_prices(size, base, extra, k, floors, mmrs, cums, pct)
                for pct in self.levels}

    def _split(self, keys: np.ndarray, accts: np.ndarray):
        long = self.view.size[self.instr, accts] > 0
        lm = long & (keys != NEVER_LONG)
        sm = ~long & (keys != NEVER_SHORT)
        return (keys[lm], accts[lm]), (keys[sm], accts[sm])
