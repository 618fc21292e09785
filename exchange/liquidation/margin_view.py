"""Vectorised, exact margin arithmetic on the venue core's struct-of-arrays state.

:class:`MarginView` reads the core's numpy views (shared memory: wallet, size, cost, iso,
mode, mark, tiers) and evaluates, for many accounts at once and in exact int64 arithmetic, the
quantities the core computes one account at a time:

- maintenance margin ``MM(N) = ceil(N·MMR_tier / 1e8) − cum_tier`` (tier by ``np.searchsorted``
  on the floors), written as ``hi·MMR + ceil(lo·MMR / 1e8) − cum`` with ``hi, lo = divmod(N,
  1e8)`` so no product overflows for notionals below 2^62 atoms;
- the maintenance **basis** per instrument (core array ``mm_entry``): the notional at the
  reference price (``maintenance_basis = "mark"``), or the position value at entry ``|cost|``
  (``"entry"``, Bybit: "Position Value = Contract Size × Entry Price ... Maintenance Margin =
  (Position Value × MMR) − Maintenance Margin Deduction", Bybit help centre "Liquidation Price
  (USDT Contract)", https://testnet.bybit.com/en-US/help-center/s/article/Liquidation-Price-USDT-Contract,
  read 2026-12-02); an entry-basis MM does not move with the mark;
- position uPnL ``size·price·k − cost`` at the reference price (mark, else last trade, as the
  core's ``_ref_price``), equity of an isolated position (bucket + uPnL) and of a cross account
  (wallet + Σ cross uPnL), maintenance margin of a cross account (Σ over its cross positions);
- :func:`trigger_prices`: for each position, the exact integer price at which a margin test
  flips (the liquidation price for ``pct = 100``, margin-call levels for smaller ``pct``).

:func:`maintenance_margin` and :func:`trigger_prices` are the compiled kernels of
:mod:`exchange.liquidation._kernels` when built; the ``*_ref`` numpy versions here are the
readable reference (and the test oracle: both must agree exactly). Without the extension the
references are used, with a warning.

The functions take and return int64 numpy arrays; nothing here changes the core.
"""
from __future__ import annotations

import numpy as np

from exchange.units import RATE_SCALE

__all__ = ["RATE_SCALE", "NEVER_LONG", "NEVER_SHORT", "COMPILED", "MarginView",
           "maintenance_margin", "trigger_prices", "maintenance_margin_ref", "trigger_prices_ref",
           "muldiv_floor", "muldiv_ceil"]

#: long trigger key meaning "never at a positive price" (a long triggers for mark <= key)
NEVER_LONG = 0
#: short trigger key meaning "never" (a short triggers for mark >= key)
NEVER_SHORT = 1 << 62
_NOTIONAL_CAP = (1 << 62) // 100          # notionals the exact tests handle without overflow
_I64 = np.int64


def maintenance_margin_ref(notional: np.ndarray, floors: np.ndarray, mmrs: np.ndarray,
                       cums: np.ndarray) -> np.ndarray:
    """Exact ``ceil(N·MMR/1e8) − cum`` per notional (int64 array ≥ 0), tier by floor.
    O(n log T).

    >>> maintenance_margin_ref(np.array([1_000 * 10**6, 100_000 * 10**6]),
    ...                    np.array([0, 50_000 * 10**6]), np.array([400_000, 500_000]),
    ...                    np.array([0, 50 * 10**6])) // 10**6
    array([  4, 450])
    """
    t = np.searchsorted(floors, notional, side="right") - 1
    m = mmrs[t]
    hi, lo = np.divmod(notional, RATE_SCALE)
    return hi * m + (lo * m + (RATE_SCALE - 1)) // RATE_SCALE - cums[t]


def muldiv_floor(a, b, d):
    """``floor(a·b/d)`` elementwise, exact for any int64 inputs (Python ints when a product
    could overflow). O(n)."""
    a, b, d = (np.asarray(x, dtype=_I64) for x in (a, b, d))
    if _fits(a, b):
        return (a * b) // d
    out = np.array([(int(x) * int(y)) // int(z) for x, y, z in
                    zip(*np.broadcast_arrays(a, b, d))], dtype=object)
    return out.astype(_I64).reshape(np.broadcast(a, b, d).shape)


def muldiv_ceil(a, b, d):
    """``ceil(a·b/d)`` elementwise, exact (see :func:`muldiv_floor`). O(n)."""
    return -muldiv_floor(-np.asarray(a, dtype=_I64), b, d)


def _fits(a: np.ndarray, b: np.ndarray) -> bool:
    if a.size == 0 or b.size == 0:
        return True
    ma = float(np.max(np.abs(a)))
    mb = float(np.max(np.abs(b)))
    return ma * mb < 4.0e18


class MarginView:
    """Exact vectorised margin queries on a :class:`~exchange._core.VenueCore`.

    The array views are re-fetched by :meth:`refresh` when the core has grown (the core
    reallocates its arrays when accounts are added); callers refresh once per step.
    """

    def __init__(self, core) -> None:
        self.core = core
        self.n_instr = core.n_instr
        self._n = -1
        a = core.arrays()
        nt = a["n_tiers"]
        self.floors = [np.ascontiguousarray(a["tier_floor"][i, :nt[i]]) for i in range(self.n_instr)]
        self.mmrs = [np.ascontiguousarray(a["tier_mmr"][i, :nt[i]]) for i in range(self.n_instr)]
        self.cums = [np.ascontiguousarray(a["tier_cum"][i, :nt[i]]) for i in range(self.n_instr)]
        self.k = a["k"]
        self.mark = a["mark"]
        self.last = a["last"]
        self.index_price = a["index"]
        self.liq_fee = a["liq_fee"]
        #: per instrument: True when MM is computed on the entry value (Bybit), not the mark
        self.entry_basis = [bool(x) for x in a.get("mm_entry", np.zeros(self.n_instr, _I64))]
        self.refresh()

    def refresh(self) -> None:
        """Re-fetch the account array views if the core opened accounts since. O(1)."""
        n = self.core.n_acct
        if n == self._n:
            return
        a = self.core.arrays()
        self.wallet = a["wallet"]
        self.flags = a["acct_flags"]
        self.size = a["size"]
        self.cost = a["cost"]
        self.iso = a["iso"]
        self.mode = a["mode"]
        self.lev = a["lev"]
        self.buy_open = a["buy_open"]
        self.sell_open = a["sell_open"]
        self._n = n

    @property
    def n_acct(self) -> int:
        return self._n

    # -- per-instrument -------------------------------------------------------------------
    def ref_price(self, instr: int) -> int:
        """Mark, else last trade, else 0 (the core's ``_ref_price``). O(1)."""
        m = int(self.mark[instr])
        return m if m > 0 else int(self.last[instr])

    def mm(self, instr: int, notional: np.ndarray) -> np.ndarray:
        """Maintenance margin of notionals on ``instr``. O(n log T)."""
        return maintenance_margin(notional, self.floors[instr], self.mmrs[instr], self.cums[instr])

    def notional(self, instr: int, accts: np.ndarray, price: int | None = None) -> np.ndarray:
        p = self.ref_price(instr) if price is None else price
        return np.abs(self.size[instr, accts]) * (p * int(self.k[instr]))

    def upnl(self, instr: int, accts: np.ndarray, price: int | None = None) -> np.ndarray:
        """``size·price·k − cost`` (0 where flat or without a price, as the core). O(n)."""
        p = self.ref_price(instr) if price is None else price
        s = self.size[instr, accts]
        if p <= 0:
            return np.zeros(len(s), _I64)
        return np.where(s != 0, s * (p * int(self.k[instr])) - self.cost[instr, accts], 0)

    def position_mm(self, instr: int, accts: np.ndarray, price: int | None = None) -> np.ndarray:
        """Maintenance margin of the accounts' positions on ``instr``, on the instrument's
        basis: the notional at ``price`` (default the reference price) for a mark basis, the
        entry value ``|cost|`` for an entry basis (``price`` is then irrelevant). O(n log T)."""
        if self.entry_basis[instr]:
            return np.where(self.size[instr, accts] != 0,
                            self.mm(instr, np.abs(self.cost[instr, accts])), 0)
        return self.mm(instr, self.notional(instr, accts, price))

    def isolated_equity(self, instr: int, accts: np.ndarray) -> np.ndarray:
        """Bucket + uPnL of isolated positions. O(n)."""
        return self.iso[instr, accts] + self.upnl(instr, accts)

    # -- per-account (cross) ------------------------------------------------------------------
    def cross_equity(self, accts: np.ndarray) -> np.ndarray:
        """Wallet + Σ uPnL of the accounts' cross positions. O(n · instruments)."""
        eq = self.wallet[accts].copy()
        for i in range(self.n_instr):
            cross = self.mode[i, accts] == 0
            eq += np.where(cross, self.upnl(i, accts), 0)
        return eq

    def cross_mm(self, accts: np.ndarray) -> np.ndarray:
        """Σ maintenance margin of the accounts' cross positions. O(n · instruments)."""
        mm = np.zeros(len(accts), _I64)
        for i in range(self.n_instr):
            cross = (self.mode[i, accts] == 0) & (self.size[i, accts] != 0)
            if cross.any():
                mm += np.where(cross, self.position_mm(i, accts), 0)
        return mm

    def cross_positions(self, accts: np.ndarray) -> np.ndarray:
        """Number of open cross positions per account. O(n · instruments)."""
        n = np.zeros(len(accts), _I64)
        for i in range(self.n_instr):
            n += (self.mode[i, accts] == 0) & (self.size[i, accts] != 0)
        return n

    def liquidatable(self, instr: int, accts: np.ndarray) -> np.ndarray:
        """Exact test ``equity < MM`` for each account's position on ``instr``: the isolated
        position's own test, or its account's cross test. Flat positions: False. O(n)."""
        s = self.size[instr, accts]
        iso = self.mode[instr, accts] == 1
        out = np.zeros(len(accts), bool)
        if iso.any():
            a = accts[iso]
            out[iso] = self.isolated_equity(instr, a) < self.position_mm(instr, a)
        if (~iso).any():
            a = accts[~iso]
            out[~iso] = self.cross_equity(a) < self.cross_mm(a)
        return out & (s != 0)

    def margin_ratio_pct_reached(self, instr: int, accts: np.ndarray, pct: int) -> np.ndarray:
        """Exact ``100·MM > pct·equity`` (margin ratio above ``pct`` percent) per position
        (isolated) or account (cross). O(n)."""
        iso = self.mode[instr, accts] == 1
        eq = np.empty(len(accts), _I64)
        mm = np.empty(len(accts), _I64)
        if iso.any():
            a = accts[iso]
            eq[iso] = self.isolated_equity(instr, a)
            mm[iso] = self.position_mm(instr, a)
        if (~iso).any():
            a = accts[~iso]
            eq[~iso] = self.cross_equity(a)
            mm[~iso] = self.cross_mm(a)
        return 100 * mm > pct * eq

    def terms(self, instr: int, accts: np.ndarray):
        """``(size, base, extra_mm)`` of each account's position on ``instr`` for
        :func:`trigger_prices`: ``equity(p) = base + size·p·k`` and ``MM_total(p) = MM(p) +
        extra_mm``. Isolated: base = bucket − cost, extra 0. Cross: base = wallet + Σ uPnL of
        the other cross positions − cost, extra = their MM, at their current prices (so the
        price is exact while the other marks hold). For an entry-basis instrument the
        position's own MM is a constant, ``MM(|cost|)``: the caller adds it to ``extra`` and
        uses :meth:`price_tiers` (a zero-rate table), see :meth:`trigger_inputs`.
        O(n · instruments)."""
        s = self.size[instr, accts]
        base = -self.cost[instr, accts]
        extra = np.zeros(len(accts), _I64)
        iso = self.mode[instr, accts] == 1
        base = base + np.where(iso, self.iso[instr, accts], self.wallet[accts])
        cross = ~iso
        if cross.any() and self.n_instr > 1:
            a = accts[cross]
            b = np.zeros(len(a), _I64)
            e = np.zeros(len(a), _I64)
            for j in range(self.n_instr):
                if j == instr:
                    continue
                cj = (self.mode[j, a] == 0) & (self.size[j, a] != 0)
                if cj.any():
                    b += np.where(cj, self.upnl(j, a), 0)
                    e += np.where(cj, self.position_mm(j, a), 0)
            base[cross] += b
            extra[cross] = e
        return s, base, extra


    def trigger_inputs(self, instr: int, accts: np.ndarray):
        """``(size, base, extra, floors, mmrs, cums)`` for :func:`trigger_prices` of the
        accounts' positions on ``instr``, on the instrument's maintenance basis.

        Mark basis: :meth:`terms` and the instrument's tier table (MM moves with the price).
        Entry basis: the position's MM does not depend on the price, so it joins ``extra`` and
        the table passed is a single zero-rate tier (``MM(p) = 0``); the trigger test is then
        ``MM_entry + extra > base + size·p·k``, the line Bybit's liquidation price solves.
        O(n · instruments)."""
        size, base, extra = self.terms(instr, accts)
        if self.entry_basis[instr]:
            own = self.mm(instr, np.abs(self.cost[instr, accts]))
            return (size, base, extra + own, _ZERO_FLOORS, _ZERO_MMRS, _ZERO_CUMS)
        return (size, base, extra, self.floors[instr], self.mmrs[instr], self.cums[instr])


_ZERO_FLOORS = np.zeros(1, _I64)
_ZERO_MMRS = np.zeros(1, _I64)
_ZERO_CUMS = np.zeros(1, _I64)


# -- trigger prices ------------------------------------------------------------------------------

def _holds(p, A, s, base, extra, pct, floors, mmrs, cums):
    """Exact margin test at integer prices ``p``: ``100·(MM + extra) > pct·equity``."""
    N = A * p
    mm = maintenance_margin_ref(N, floors, mmrs, cums) + extra
    eq = base + s * N
    if pct == 100:
        return mm > eq
    return 100 * mm > pct * eq


def trigger_prices_ref(size: np.ndarray, base: np.ndarray, extra: np.ndarray, k: int,
                   floors: np.ndarray, mmrs: np.ndarray, cums: np.ndarray,
                   pct: int = 100) -> np.ndarray:
    """The integer price (ticks) at which each position's margin test flips.

    The test is ``100·(MM(|size|·p·k) + extra) > pct·(base + size·p·k)`` — for ``pct = 100``
    the liquidation test ``equity < MM``; for ``pct < 100`` "margin ratio above pct %".
    Returns, per position, for a long (size > 0) the **largest** price at which the test holds
    (it holds at every mark ≤ key; :data:`NEVER_LONG` = 0 if at none), for a short the
    **smallest** (it holds at every mark ≥ key; :data:`NEVER_SHORT` if at none).

    Method: the root of ``equity = MM`` in each tier in closed form (the Binance formula with
    the tier's MMR and cum), the tier-consistent one chosen, then exact integer steps around it
    (``MM`` has a ceiling, so the root moves by at most ``100 / (|size|·k·(pct − 100·MMR))``
    ticks, i.e. by 0–2 steps) and a vectorised bisection for any that do not settle in 64
    steps. The test is monotone in the price for ``pct = 100`` (MMR < 100 %), so keys are
    exact; for alert levels below a tier's ``100·MMR`` percent it is not, and the key is one
    of the crossing points. Notionals are capped at 2^62/100 atoms. Cost: O(n·T).

    >>> k, floors, mmrs, cums = 100, np.array([0]), np.array([400_000]), np.array([0])
    >>> # long 20 lots at 50,000.0 (cost 1,000 USDT), 500 USDT isolated margin (Binance FAQ)
    >>> trigger_prices_ref(np.array([20]), np.array([500 * 10**6 - 1_000 * 10**6]),
    ...                np.array([0]), k, floors, mmrs, cums).tolist()
    [251004]
    """
    size = np.asarray(size, dtype=_I64)
    base = np.asarray(base, dtype=_I64)
    extra = np.asarray(extra, dtype=_I64)
    n = len(size)
    out = np.empty(n, _I64)
    if n == 0:
        return out
    s = np.sign(size)
    A = np.abs(size) * k
    pmax = _NOTIONAL_CAP // A
    # closed-form root per tier, in float: p = (pct·base + 100·cum − 100·extra)·S /
    # (A·(100·MMR − pct·s·S)); keep the first tier whose notional range contains it
    Af = A.astype(np.float64)
    num0 = pct * base.astype(np.float64) - 100.0 * extra.astype(np.float64)
    root = np.full(n, np.nan)
    T = len(floors)
    for t in range(T):
        den = Af * (100.0 * float(mmrs[t]) - pct * s * float(RATE_SCALE))
        with np.errstate(divide="ignore", invalid="ignore"):
            cand = (num0 + 100.0 * float(cums[t])) * RATE_SCALE / den
        N = cand * Af
        hi = float(floors[t + 1]) if t + 1 < T else np.inf
        ok = np.isnan(root) & np.isfinite(cand) & (N >= float(floors[t])) & (N < hi)
        root[ok] = cand[ok]
    args = (A, s, base, extra, pct, floors, mmrs, cums)
    long = s > 0
    # start points: just inside the holding side of the root, clipped to [0, pmax + 1]
    start = np.where(np.isnan(root), -1.0, root)
    start = np.clip(np.nan_to_num(start, nan=-1.0, posinf=1e19, neginf=-1.0), -1.0, 1e19)
    p = np.where(long, np.floor(start) - 1, np.ceil(start) + 1)
    p = np.clip(p, 0, (pmax + 1).astype(np.float64)).astype(_I64)
    p = np.where(long, np.maximum(p, 0), np.maximum(p, 1))
    p = np.minimum(p, pmax + 1)
    _refine(p, long, pmax, args)
    out[:] = p
    out[long & (out < 1)] = NEVER_LONG
    out[~long & (out > pmax)] = NEVER_SHORT
    return out


def _test(p, idx, args):
    A, s, base, extra, pct, floors, mmrs, cums = args
    return _holds(p, A[idx], s[idx], base[idx], extra[idx], pct, floors, mmrs, cums)


def _refine(p: np.ndarray, long: np.ndarray, pmax: np.ndarray, args) -> None:
    """In place: long → largest p in [0, pmax] where the test holds (0 if none);
    short → smallest p in [1, pmax] where it holds (pmax + 1 if none)."""
    # longs: walk down until it holds (p = 0 counts as holding), then up while p+1 holds
    idx = np.flatnonzero(long)
    for _ in range(64):
        if len(idx) == 0:
            break
        pi = p[idx]
        bad = (pi >= 1) & ~_test(np.maximum(pi, 1), idx, args)
        idx = idx[bad]
        p[idx] -= 1
    _bisect_long(p, idx, pmax, args, down=True)
    idx = np.flatnonzero(long)
    for _ in range(64):
        if len(idx) == 0:
            break
        nxt = p[idx] + 1
        up = (nxt <= pmax[idx]) & _test(np.minimum(nxt, pmax[idx]), idx, args)
        idx = idx[up]
        p[idx] += 1
    _bisect_long(p, idx, pmax, args, down=False)
    # shorts: walk up until it holds (pmax + 1 counts as holding), then down while p-1 holds
    idx = np.flatnonzero(~long)
    for _ in range(64):
        if len(idx) == 0:
            break
        pi = p[idx]
        bad = (pi <= pmax[idx]) & ~_test(np.minimum(pi, pmax[idx]), idx, args)
        idx = idx[bad]
        p[idx] += 1
    _bisect_short(p, idx, pmax, args, up=True)
    idx = np.flatnonzero(~long)
    for _ in range(64):
        if len(idx) == 0:
            break
        prv = p[idx] - 1
        dn = (prv >= 1) & _test(np.maximum(prv, 1), idx, args)
        idx = idx[dn]
        p[idx] -= 1
    _bisect_short(p, idx, pmax, args, up=False)


def _bisect_long(p, idx, pmax, args, down: bool) -> None:
    """Largest holding price by bisection for the entries that did not settle by stepping:
    ``down``: the answer is in [0, p]; else in [p, pmax]."""
    if len(idx) == 0:
        return
    lo = np.zeros(len(idx), _I64) if down else p[idx].copy()      # holds (0 by convention)
    hi = p[idx].copy() + 1 if down else pmax[idx] + 1            # does not hold
    while True:
        act = hi - lo > 1
        if not act.any():
            break
        mid = (lo + hi) // 2
        h = _test(np.maximum(mid, 1), idx, args)
        lo = np.where(act & h, mid, lo)
        hi = np.where(act & ~h, mid, hi)
    p[idx] = lo


def _bisect_short(p, idx, pmax, args, up: bool) -> None:
    """Smallest holding price by bisection: ``up``: in [p, pmax + 1]; else in [1, p]."""
    if len(idx) == 0:
        return
    lo = p[idx].copy() - 1 if up else np.zeros(len(idx), _I64)   # does not hold
    hi = pmax[idx] + 1 if up else p[idx].copy()                   # holds (pmax+1 by convention)
    while True:
        act = hi - lo > 1
        if not act.any():
            break
        mid = (lo + hi) // 2
        h = _test(np.minimum(np.maximum(mid, 1), pmax[idx]), idx, args)
        hi = np.where(act & h, mid, hi)
        lo = np.where(act & ~h, mid, lo)
    p[idx] = hi


try:
    from exchange.liquidation._kernels import maintenance_margin, trigger_prices  # noqa: E402
    COMPILED = True
except ImportError:  # pragma: no cover - the package is normally built
    import warnings

    warnings.warn("exchange.liquidation._kernels is not built: using the numpy reference "
                  "kernels (correct but several times slower); run "
                  "'python setup.py build_ext --inplace'", RuntimeWarning, stacklevel=2)
    maintenance_margin = maintenance_margin_ref
    trigger_prices = trigger_prices_ref
    COMPILED = False
