# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False
"""Compiled twin of :class:`exchange.sim.replay.RecordedBook`'s level reconciliation.

The same calls, in the same order, as the readable Python methods ``set_level`` and
``reconcile`` (a test compares the journals of both), with the core's ``cpdef`` commands and
its order registry reached through its compiled contract (``exchange/_core.pxd``) instead of
Python calls: per changed level the cost is the core's own work.
"""
from libc.stdint cimport int64_t

from exchange._core cimport VenueCore
from exchange._enums cimport OrderFlag
from matching._book cimport Book
from matching._enums cimport STP_EXPIRE_MAKER


cdef inline int64_t _open(VenueCore core, int64_t oid) noexcept:
    cdef int64_t s = core._oslot(oid)       # the registry slot (-1: dead, slot reused)
    return core.o_open[s] if s >= 0 and core.o_flags[s] & OrderFlag.RESTING else 0


cdef int _set_level(VenueCore core, Book book, dict levels, int64_t maker, int instr, int side,
                    int64_t price, int64_t target, int64_t max_lots, int64_t* counts) except -1:
    cdef int64_t key = price * 2 + side
    cdef object found = levels.get(key)
    cdef list oids = <list>found if found is not None else None
    cdef list live = []
    cdef int64_t cur = 0, q, oid, excess, add, n
    cdef Py_ssize_t i
    if oids is not None:
        for i in range(len(oids)):
            oid = <int64_t>oids[i]
            q = _open(core, oid)
            if q:
                live.append(oid)
                cur += q
    if target < cur:
        excess = cur - target
        while excess > 0 and len(live):
            oid = <int64_t>live[len(live) - 1]
            q = _open(core, oid)
            counts[0] += 1
            if q <= excess:
                core.cancel(maker, oid)
                live.pop()
                excess -= q
            else:
                core.amend(maker, oid, q - excess, 0)
                excess = 0
    elif target > cur:
        add = target - cur
        if len(live) and book._level_total(side, price) == cur:
            oid = <int64_t>live[len(live) - 1]
            q = _open(core, oid)
            if q + add <= max_lots:
                counts[0] += 1
                if core.amend(maker, oid, q + add, 0) == 0:
                    add = 0
        while add > 0:
            n = add if add < max_lots else max_lots
            counts[0] += 1
            if core.submit(maker, instr, side, n, price, 0, 0, False, 0, STP_EXPIRE_MAKER) != 0:
                counts[1] += 1
                break
            if core.last_rested > 0:
                live.append(core.last_oid)
            add -= n
    if len(live):
        levels[key] = live
    elif oids is not None:
        del levels[key]
    return 0


def set_level(VenueCore core, Book book, dict levels, int64_t maker, int instr, int side,
              int64_t price, int64_t target, int64_t max_lots):
    """One level to ``target`` lots (see RecordedBook.set_level); returns (commands,
    unplaced). O(orders at the level + the core's work)."""
    cdef int64_t counts[2]
    counts[0] = 0
    counts[1] = 0
    _set_level(core, book, levels, maker, instr, side, price, target, max_lots, counts)
    return counts[0], counts[1]


def reconcile(VenueCore core, Book book, dict levels, dict placed, int64_t maker, int instr,
              int64_t max_lots, const int64_t[:] keys, const int64_t[:] qtys):
    """The window ``keys`` (price·2 + side) → ``qtys`` against ``placed`` (see
    RecordedBook.reconcile); returns (commands, unplaced). O(window + changed levels)."""
    cdef int64_t counts[2]
    cdef Py_ssize_t i, n = keys.shape[0]
    cdef int64_t k, q
    cdef dict want = {}
    cdef object cur
    counts[0] = 0
    counts[1] = 0
    for i in range(n):
        want[keys[i]] = qtys[i]
    gone = [key for key in placed if key not in want]
    for key in gone:
        k = <int64_t>key
        _set_level(core, book, levels, maker, instr, <int>(k & 1), k >> 1, 0, max_lots, counts)
        del placed[key]
    for i in range(n):
        k = keys[i]
        q = qtys[i]
        cur = placed.get(k)
        if cur is None or <int64_t>cur != q:
            _set_level(core, book, levels, maker, instr, <int>(k & 1), k >> 1, q, max_lots, counts)
            placed[k] = q
    return counts[0], counts[1]


def fold_rows(int64_t[:, ::1] state, const signed char[:] side, const int64_t[:] rank,
              const int64_t[:] qty):
    """``state[side[i], rank[i]] = qty[i]`` for every row in order (the last value of a level
    wins, as in the recorded stream). O(rows)."""
    cdef Py_ssize_t i, n = side.shape[0]
    for i in range(n):
        state[side[i], rank[i]] = qty[i]


def fold_rows_best(int64_t[:, ::1] state, const signed char[:] side, const int64_t[:] rank,
                   const int64_t[:] qty, int64_t[::1] best):
    """:func:`fold_rows`, keeping ``best`` = (best bid rank, best ask rank) of the state
    (-1 / n when a side is empty): a level set above the best bid (below the best ask) is the
    new candidate, then the scan moves away from the touch to the first non-empty level.
    O(rows + levels crossed)."""
    cdef Py_ssize_t i, n = side.shape[0], m = state.shape[1]
    cdef int64_t b = best[0], a = best[1], r
    for i in range(n):
        r = rank[i]
        state[side[i], r] = qty[i]
        if qty[i] > 0:
            if side[i] == 0:
                if r > b:
                    b = r
            elif r < a:
                a = r
    while b >= 0 and state[0, b] == 0:
        b -= 1
    while a < m and state[1, a] == 0:
        a += 1
    best[0] = b
    best[1] = a


def window(const int64_t[:, ::1] state, const int64_t[:] prices, const int64_t[::1] best,
           Py_ssize_t depth, int64_t[::1] keys, int64_t[::1] qtys):
    """The top ``depth`` non-empty levels of each side into ``keys`` (price·2 + side) and
    ``qtys``: bids from the deepest of them up to the best, then asks from the best out (the
    order of the readable ``np.flatnonzero`` path). Returns the count. O(levels scanned)."""
    cdef Py_ssize_t n = 0, nb = 0, j, m = state.shape[1]
    cdef int64_t r = best[0]
    while r >= 0 and nb < depth:
        if state[0, r] > 0:
            keys[nb] = r
            nb += 1
        r -= 1
    for j in range(nb):                       # ascending rank: deepest first
        r = keys[nb - 1 - j]
        qtys[j] = state[0, r]
    for j in range(nb // 2):
        keys[j], keys[nb - 1 - j] = keys[nb - 1 - j], keys[j]
    for j in range(nb):
        keys[j] = prices[keys[j]] * 2
    n = nb
    r = best[1]
    while r < m and n - nb < depth:
        if state[1, r] > 0:
            keys[n] = prices[r] * 2 + 1
            qtys[n] = state[1, r]
            n += 1
        r += 1
    return n


def tape(VenueCore core, int instr, int64_t taker, int64_t maker, const signed char[:] side,
         const int64_t[:] price, const int64_t[:] qty):
    """RecordedBook.trade: one IOC per aggressor side (the first trade's side first) for the
    total recorded lots, limited at the worst recorded price; then the tape's position goes to
    the liquidity account at the last price. Returns the orders sent. O(rows + fills)."""
    cdef Py_ssize_t i, n = side.shape[0]
    cdef int64_t lots[2]
    cdef int64_t limit[2]
    cdef int s, k, sent = 0
    cdef int64_t size, ref
    if n == 0:
        return 0
    lots[0] = lots[1] = 0
    limit[0] = 0
    limit[1] = 0
    for i in range(n):
        s = side[i]
        lots[s] += qty[i]
        if lots[s] == qty[i]:
            limit[s] = price[i]
        elif s == 0 and price[i] > limit[0]:
            limit[0] = price[i]
        elif s == 1 and price[i] < limit[1]:
            limit[1] = price[i]
    for k in range(2):
        s = side[0] if k == 0 else 1 - side[0]
        if lots[s] > 0:
            sent += 1
            core.submit(taker, instr, s, lots[s], limit[s], 0, 1, False, 0, 0)
    size = core.size[instr, taker]
    if size:
        ref = core.last[instr] or price[n - 1]
        core.transfer_position(taker, maker, instr, size, ref)
    return sent
