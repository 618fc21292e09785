# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False
"""Compiled kernels of the liquidation index: exact trigger prices and maintenance margins.

Same contract as the numpy reference in :mod:`exchange.liquidation.margin_view`
(:func:`~exchange.liquidation.margin_view.trigger_prices`,
:func:`~exchange.liquidation.margin_view.maintenance_margin`); a differential test keeps the
two equal. Arguments are checked once at the boundary, the loops run without the GIL and use
128-bit products, so no intermediate overflows.
"""
from libc.stdint cimport int64_t
from libc.math cimport floor, isfinite

import numpy as np

cdef extern from *:
    """
    typedef __int128 perpsim_i128;
    """
    ctypedef long long perpsim_i128

from exchange._enums cimport Scale

cdef enum:
    RATE_SCALE = Scale.RATE_SCALE      # the one rate scale (exchange/_enums.pxd)

cdef int64_t NOTIONAL_CAP = (1 << 62) // 100
cdef int64_t NEVER_LONG = 0
cdef int64_t NEVER_SHORT = 1 << 62


cdef inline int _tier(int64_t N, const int64_t[::1] floors, int T) noexcept nogil:
    cdef int t = 0
    while t + 1 < T and N >= floors[t + 1]:
        t += 1
    return t


cdef inline int64_t _mm(int64_t N, const int64_t[::1] floors, const int64_t[::1] mmrs,
                        const int64_t[::1] cums, int T) noexcept nogil:
    cdef int t = _tier(N, floors, T)
    cdef perpsim_i128 p = <perpsim_i128>N * mmrs[t]
    cdef perpsim_i128 q = p // RATE_SCALE
    if p % RATE_SCALE != 0 and p > 0:
        q += 1
    return <int64_t>q - cums[t]


cdef inline bint _holds(int64_t p, int64_t A, int s, int64_t base, int64_t extra, int pct,
                        const int64_t[::1] floors, const int64_t[::1] mmrs,
                        const int64_t[::1] cums, int T) noexcept nogil:
    cdef int64_t N = A * p
    cdef perpsim_i128 mm = <perpsim_i128>_mm(N, floors, mmrs, cums, T) + extra
    cdef perpsim_i128 eq = <perpsim_i128>base + <perpsim_i128>s * N
    if pct == 100:
        return mm > eq
    return 100 * mm > pct * eq


cdef int64_t _key(int64_t q, int64_t base, int64_t extra, int64_t k, const int64_t[::1] floors,
                  const int64_t[::1] mmrs, const int64_t[::1] cums, int T,
                  int pct) noexcept nogil:
    cdef int s = 1 if q > 0 else -1
    cdef int64_t A = (q if q > 0 else -q) * k
    cdef int64_t pmax = NOTIONAL_CAP // A
    cdef double Af = <double>A, num0, den, cand, N, hi, root = -1.0
    cdef bint found = False
    cdef int t, steps
    cdef int64_t p, lo, hi_i, mid
    num0 = pct * <double>base - 100.0 * <double>extra
    for t in range(T):
        den = Af * (100.0 * <double>mmrs[t] - pct * s * <double>RATE_SCALE)
        if den == 0.0:
            continue
        cand = (num0 + 100.0 * <double>cums[t]) * RATE_SCALE / den
        if not isfinite(cand):
            continue
        N = cand * Af
        hi = <double>floors[t + 1] if t + 1 < T else 1e300
        if N >= <double>floors[t] and N < hi:
            root = cand
            found = True
            break
    if s > 0:
        # largest p in [0, pmax] where the test holds; 0 = never
        if not found or root < 0.0:
            p = 0
        elif root > <double>pmax:
            p = pmax
        else:
            p = <int64_t>floor(root)
        steps = 0
        while p >= 1 and not _holds(p, A, s, base, extra, pct, floors, mmrs, cums, T) and steps < 64:
            p -= 1
            steps += 1
        if p >= 1 and not _holds(p, A, s, base, extra, pct, floors, mmrs, cums, T):
            lo = 0
            hi_i = p
            while hi_i - lo > 1:
                mid = lo + (hi_i - lo) // 2
                if _holds(mid, A, s, base, extra, pct, floors, mmrs, cums, T):
                    lo = mid
                else:
                    hi_i = mid
            p = lo
        steps = 0
        while p + 1 <= pmax and _holds(p + 1, A, s, base, extra, pct, floors, mmrs, cums, T) and steps < 64:
            p += 1
            steps += 1
        if steps == 64 and p + 1 <= pmax and _holds(p + 1, A, s, base, extra, pct, floors, mmrs, cums, T):
            lo = p
            hi_i = pmax + 1
            while hi_i - lo > 1:
                mid = lo + (hi_i - lo) // 2
                if _holds(mid, A, s, base, extra, pct, floors, mmrs, cums, T):
                    lo = mid
                else:
                    hi_i = mid
            p = lo
        return p if p >= 1 else NEVER_LONG
    # short: smallest p in [1, pmax] where the test holds; NEVER_SHORT = never
    if not found or root > <double>pmax:
        p = pmax + 1
    elif root < 1.0:
        p = 1
    else:
        p = <int64_t>floor(root) + 1
    steps = 0
    while p <= pmax and not _holds(p, A, s, base, extra, pct, floors, mmrs, cums, T) and steps < 64:
        p += 1
        steps += 1
    if p <= pmax and not _holds(p, A, s, base, extra, pct, floors, mmrs, cums, T):
        lo = p
        hi_i = pmax + 1
        while hi_i - lo > 1:
            mid = lo + (hi_i - lo) // 2
            if _holds(mid, A, s, base, extra, pct, floors, mmrs, cums, T):
                hi_i = mid
            else:
                lo = mid
        p = hi_i
    steps = 0
    while p - 1 >= 1 and _holds(p - 1, A, s, base, extra, pct, floors, mmrs, cums, T) and steps < 64:
        p -= 1
        steps += 1
    if steps == 64 and p - 1 >= 1 and _holds(p - 1, A, s, base, extra, pct, floors, mmrs, cums, T):
        lo = 0
        hi_i = p
        while hi_i - lo > 1:
            mid = lo + (hi_i - lo) // 2
            if _holds(mid, A, s, base, extra, pct, floors, mmrs, cums, T):
                hi_i = mid
            else:
                lo = mid
        p = hi_i
    return p if p <= pmax else NEVER_SHORT


def _check(size, base, extra, floors, mmrs, cums, pct):
    n = len(size)
    if len(base) != n or len(extra) != n:
        raise ValueError(f"'size', 'base' and 'extra' must have one length (got {n}, {len(base)}, {len(extra)})")
    if len(floors) == 0 or len(mmrs) != len(floors) or len(cums) != len(floors):
        raise ValueError(f"'floors', 'mmrs' and 'cums' must be one non-empty length (got {len(floors)}, {len(mmrs)}, {len(cums)})")
    if not 1 <= pct <= 100:
        raise ValueError(f"'pct' must be in [1, 100] (got {pct})")


def trigger_prices(size, base, extra, int64_t k, floors, mmrs, cums, int pct=100):
    """Compiled :func:`exchange.liquidation.margin_view.trigger_prices` (same contract).
    Flat positions (size 0) must not be passed. O(n·T), without the GIL."""
    _check(size, base, extra, floors, mmrs, cums, pct)
    if k <= 0:
        raise ValueError(f"'k' must be > 0 atoms per tick·lot (got {k})")
    cdef const int64_t[::1] q = np.ascontiguousarray(size, dtype=np.int64)
    cdef const int64_t[::1] b = np.ascontiguousarray(base, dtype=np.int64)
    cdef const int64_t[::1] e = np.ascontiguousarray(extra, dtype=np.int64)
    cdef const int64_t[::1] fl = np.ascontiguousarray(floors, dtype=np.int64)
    cdef const int64_t[::1] mr = np.ascontiguousarray(mmrs, dtype=np.int64)
    cdef const int64_t[::1] cm = np.ascontiguousarray(cums, dtype=np.int64)
    cdef int64_t n = q.shape[0], i
    cdef int T = <int>fl.shape[0]
    if n and np.any(np.asarray(q) == 0):
        raise ValueError("'size' must be non-zero for every position")
    out = np.empty(n, np.int64)
    cdef int64_t[::1] o = out
    with nogil:
        for i in range(n):
            o[i] = _key(q[i], b[i], e[i], k, fl, mr, cm, T, pct)
    return out


def maintenance_margin(notional, floors, mmrs, cums):
    """Compiled :func:`exchange.liquidation.margin_view.maintenance_margin`. O(n·T)."""
    cdef const int64_t[::1] nn = np.ascontiguousarray(notional, dtype=np.int64)
    cdef const int64_t[::1] fl = np.ascontiguousarray(floors, dtype=np.int64)
    cdef const int64_t[::1] mr = np.ascontiguousarray(mmrs, dtype=np.int64)
    cdef const int64_t[::1] cm = np.ascontiguousarray(cums, dtype=np.int64)
    cdef int64_t n = nn.shape[0], i
    cdef int T = <int>fl.shape[0]
    out = np.empty(n, np.int64)
    cdef int64_t[::1] o = out
    with nogil:
        for i in range(n):
            o[i] = _mm(nn[i], fl, mr, cm, T)
    return out
