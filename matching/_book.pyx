# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False, cdivision=True
"""Compiled price-time priority L3 order book and matching engine.

Layout (see _book.pxd): each side is a flat array of price levels addressed by tick over a
window that moves and grows with the resting prices, plus a bitmap of non-empty levels so the
next best level is found 64 levels per instruction. Orders live in a slot pool, linked FIFO
within their level; an open-addressing hash table maps the caller's 64-bit order ids to slots.

Public methods validate their arguments once, then call the ``*_c`` methods that run without
the GIL. ``cdivision`` is safe here: the only divisions are of non-negative counts.
"""
from libc.stdint cimport int32_t, int64_t, uint8_t, uint32_t, uint64_t, INT64_MAX
from libc.stdlib cimport malloc, calloc, realloc, free
from libc.string cimport memcpy, memset
from cpython.buffer cimport PyBUF_FORMAT, PyBUF_ND
from cpython.long cimport PyLong_AsLongLongAndOverflow

import numpy as np

from matching.codes import MatchCode
from matching.dtypes import DELTA_DTYPE, EXPIRED_DTYPE, FILL_DTYPE, MSG_DTYPE, REJECT_DTYPE
from matching.errors import (BookInvariantError, InvalidBatchError, UnknownOrderError,
                             invalid)

assert FILL_DTYPE.itemsize == sizeof(Fill)
assert DELTA_DTYPE.itemsize == sizeof(Delta)
assert EXPIRED_DTYPE.itemsize == sizeof(Expired)
assert REJECT_DTYPE.itemsize == sizeof(Reject)
assert MSG_DTYPE.itemsize == sizeof(Msg)

from matching._enums cimport (BUY, SELL, GTC, IOC, FOK, POST_ONLY, STP_NONE, STP_EXPIRE_TAKER,
                             STP_EXPIRE_MAKER, STP_EXPIRE_BOTH, EXPIRE_NONE, EXPIRE_IOC,
                             EXPIRE_STP, MSG_ADD, MSG_CANCEL, MSG_MARKET, OK,
                             POST_ONLY_WOULD_CROSS, FOK_NOT_FILLABLE, DUPLICATE_ORDER_ID,
                             UNKNOWN_ORDER_ID, PRICE_OUT_OF_RANGE, LEVEL_QTY_OVERFLOW)

cdef enum:
    MIN_WINDOW = 4096
    HASH_BITS0 = 14
    DENSE_MIN = 1 << 16


cdef inline int64_t _int64(object value, str field) except? -1:
    """Exact int64 from an int or numpy integer; floats, bools and strings are refused.
    The exact-``int`` case (every per-order call's arguments; the defaults are plain ints)
    converts without exception machinery; the rest (numpy integers, the IntEnum constants)
    goes through :func:`_int64_slow`."""
    cdef int overflow = 0
    cdef long long v
    if type(value) is int:
        v = PyLong_AsLongLongAndOverflow(value, &overflow)
        if overflow == 0:
            return v
    return _int64_slow(value, field)


cdef int64_t _int64_slow(object value, str field) except? -1:
    if type(value) is int:
        raise invalid(field, "a 64-bit signed integer", value)
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise invalid(field, "an integer", value)
    try:
        return <int64_t>int(value)
    except OverflowError:
        raise invalid(field, "a 64-bit signed integer", value) from None


cdef inline uint64_t _bucket(int64_t oid, int shift) noexcept nogil:
    return (<uint64_t>oid * <uint64_t>0x9E3779B97F4A7C15ULL) >> shift


cdef inline int64_t _next_set(const uint64_t* bits, int64_t cap, int64_t start) noexcept nogil:
    """First set index >= start, or -1. O(gap / 64)."""
    cdef int64_t w, nw = cap >> 6
    cdef uint64_t word
    if start >= cap:
        return -1
    w = start >> 6
    word = bits[w] & (~<uint64_t>0 << (start & 63))
    while True:
        if word:
            return (w << 6) + perpsim_ctz64(word)
        w += 1
        if w >= nw:
            return -1
        word = bits[w]


cdef inline int64_t _prev_set(const uint64_t* bits, int64_t start) noexcept nogil:
    """Last set index <= start, or -1. O(gap / 64)."""
    cdef int64_t w
    cdef uint64_t word
    if start < 0:
        return -1
    w = start >> 6
    word = bits[w] & (~<uint64_t>0 >> (63 - (start & 63)))
    while True:
        if word:
            return (w << 6) + 63 - perpsim_clz64(word)
        w -= 1
        if w < 0:
            return -1
        word = bits[w]


cdef void* _grown(void* buf, int64_t* cap, size_t item, int64_t first) except NULL nogil:
    """``buf`` (``cap[0]`` items of ``item`` bytes) reallocated to twice its capacity, or to
    ``first`` items when it has none; updates ``cap[0]``. Amortised O(1) per push."""
    cdef int64_t n = cap[0] * 2 if cap[0] else first
    cdef void* out = realloc(buf, n * item)
    if out == NULL:
        with gil:
            raise MemoryError()
    cap[0] = n
    return out


cdef class _FillBlock:
    """Owns a fill buffer handed to numpy by ``Book.process``; the arrays over it keep it alive.
    When the last one goes, the buffer becomes its book's spare (if the book has none), else
    it is freed."""

    def __getbuffer__(self, Py_buffer* view, int flags):
        view.buf = self.ptr
        view.obj = self
        view.len = self.nbytes
        view.readonly = 0
        view.itemsize = 1
        view.format = NULL
        if flags & PyBUF_FORMAT:
            view.format = b"B"
        view.ndim = 1
        view.shape = self.shape if (flags & PyBUF_ND) else NULL
        view.strides = NULL
        view.suboffsets = NULL
        view.internal = NULL

    def __dealloc__(self):
        if self.book is not None and self.book.spare_fills == NULL:
            self.book.spare_fills = <Fill*>self.ptr
            self.book.spare_cap = self.cap
        else:
            free(self.ptr)
        self.ptr = NULL


cdef class Book:
    """Price-time priority L3 book over integer ticks and lots. See ``_book.pyi``.

    >>> b = Book()
    >>> b.limit(1, 1, 101, 5)          # sell 5 @ 101
    0
    >>> b.limit(2, 0, 102, 3)          # buy 3 @ 102 trades at 101
    0
    >>> b.last_filled, b.best_ask()
    (3, 101)
    """

    def __cinit__(self, bint track_deltas=False, int64_t max_levels=1 << 21, int64_t dense_ids=1 << 24):
        cdef int s
        if max_levels < 1:
            raise invalid("max_levels", ">= 1", max_levels)
        if dense_ids < 0 or dense_ids > (1 << 31):
            raise invalid("dense_ids", "0 <= dense_ids <= 2**31", dense_ids)
        self.dense_ids = dense_ids
        self.dense = NULL
        self.dense_cap = 0
        self.dcount = 0
        self.track_deltas = track_deltas
        self._max_levels = max_levels
        for s in range(2):
            self.sides[s].levels = NULL
            self.sides[s].bits = NULL
            self.sides[s].cap = 0
            self.sides[s].base = 0
            self.sides[s].lo = -1
            self.sides[s].hi = -1
            self.sides[s].n_orders = 0
        self.pool = NULL
        self.pool_cap = 0
        self.free_head = -1
        self.hkeys = NULL
        self.hvals = NULL
        self.fills = NULL
        self.spare_fills = NULL
        self.spare_cap = 0
        self.deltas = NULL
        self.expired = NULL
        self.rejects = NULL
        self.n_fills = self.cap_fills = 0
        self.n_deltas = self.cap_deltas = 0
        self.n_expired = self.cap_expired = 0
        self.n_rejects = self.cap_rejects = 0
        self._init_storage()

    def __init__(self, bint track_deltas=False, int64_t max_levels=1 << 21, int64_t dense_ids=1 << 24):
        pass

    def __dealloc__(self):
        self._free_storage()

    cdef void _free_storage(self) noexcept:
        cdef int s
        for s in range(2):
            free(self.sides[s].levels)
            free(self.sides[s].bits)
            self.sides[s].levels = NULL
            self.sides[s].bits = NULL
        free(self.pool)
        free(self.hkeys)
        free(self.hvals)
        free(self.dense)
        free(self.fills)
        free(self.spare_fills)
        self.spare_fills = NULL
        self.spare_cap = 0
        free(self.deltas)
        free(self.expired)
        free(self.rejects)
        self.pool = NULL
        self.hkeys = NULL
        self.hvals = NULL
        self.dense = NULL
        self.dense_cap = 0
        self.fills = NULL
        self.deltas = NULL
        self.expired = NULL
        self.rejects = NULL

    cdef int _init_storage(self) except -1:
        cdef int s
        cdef int64_t i, nb = 1 << HASH_BITS0
        for s in range(2):
            self.sides[s].cap = MIN_WINDOW
            self.sides[s].base = 0
            self.sides[s].lo = -1
            self.sides[s].hi = -1
            self.sides[s].n_orders = 0
            self.sides[s].levels = <Level*>malloc(MIN_WINDOW * sizeof(Level))
            self.sides[s].bits = <uint64_t*>calloc(MIN_WINDOW >> 6, sizeof(uint64_t))
            if self.sides[s].levels == NULL or self.sides[s].bits == NULL:
                raise MemoryError()
            for i in range(MIN_WINDOW):
                self.sides[s].levels[i].total = 0
                self.sides[s].levels[i].head = -1
                self.sides[s].levels[i].tail = -1
        self.pool_cap = 1024
        self.pool = <Order*>malloc(self.pool_cap * sizeof(Order))
        if self.pool == NULL:
            raise MemoryError()
        for i in range(self.pool_cap):
            self.pool[i].next = <int32_t>(i + 1) if i + 1 < self.pool_cap else -1
        self.free_head = 0
        self.hkeys = <int64_t*>malloc(nb * sizeof(int64_t))
        self.hvals = <int32_t*>malloc(nb * sizeof(int32_t))
        if self.hkeys == NULL or self.hvals == NULL:
            raise MemoryError()
        memset(self.hvals, 0xFF, nb * sizeof(int32_t))
        self.hmask = nb - 1
        self.hshift = 64 - HASH_BITS0
        self.hcount = 0
        self.seq = 0
        self.last_filled = 0
        self.last_rested = 0
        self.last_expire = EXPIRE_NONE
        return 0

    def clear(self):
        """Remove every order and empty every output buffer, keeping the allocated memory
        (like a matching engine's session reset). O(capacity)."""
        cdef int s
        cdef int64_t i
        cdef BookSide* sd
        for s in range(2):
            sd = &self.sides[s]
            for i in range(sd.cap):
                sd.levels[i].total = 0
                sd.levels[i].head = -1
                sd.levels[i].tail = -1
            memset(sd.bits, 0, (sd.cap >> 6) * sizeof(uint64_t))
            sd.lo = -1
            sd.hi = -1
            sd.n_orders = 0
        for i in range(self.pool_cap):
            self.pool[i].next = <int32_t>(i + 1) if i + 1 < self.pool_cap else -1
        self.free_head = 0
        memset(self.hvals, 0xFF, (self.hmask + 1) * sizeof(int32_t))
        self.hcount = 0
        if self.dense_cap:
            memset(self.dense, 0xFF, self.dense_cap * sizeof(int32_t))
        self.dcount = 0
        self.seq = 0
        self.n_fills = self.n_deltas = self.n_expired = self.n_rejects = 0
        self.last_filled = 0
        self.last_rested = 0
        self.last_expire = EXPIRE_NONE

    def reserve(self, int64_t n_fills):
        """Make room for ``n_fills`` more fills without reallocation. O(n_fills)."""
        cdef Fill* f
        if n_fills < 0:
            raise invalid("n_fills", ">= 0", n_fills)
        if self.n_fills + n_fills > self.cap_fills:
            f = <Fill*>realloc(self.fills, (self.n_fills + n_fills) * sizeof(Fill))
            if f == NULL:
                raise MemoryError()
            self.fills = f
            self.cap_fills = self.n_fills + n_fills

    # ------------------------------------------------------------------ buffers
    cdef inline int _push_fill(self, int64_t taker, int64_t maker, int64_t price, int64_t qty,
                        int side, bint done) except -1 nogil:
        cdef Fill* f
        if self.n_fills == self.cap_fills:
            if self.spare_cap > self.cap_fills:      # a returned buffer, larger and warm
                if self.n_fills:
                    memcpy(self.spare_fills, self.fills, self.n_fills * sizeof(Fill))
                free(self.fills)
                self.fills = self.spare_fills
                self.cap_fills = self.spare_cap
                self.spare_fills = NULL
                self.spare_cap = 0
            else:
                self.fills = <Fill*>_grown(self.fills, &self.cap_fills, sizeof(Fill), 4096)
        f = &self.fills[self.n_fills]
        f.taker_oid = taker
        f.maker_oid = maker
        f.price = price
        f.qty = qty
        f.taker_side = <uint8_t>side
        f.maker_done = done
        self.n_fills += 1
        return 0

    cdef int _push_delta(self, int side, int64_t price, int64_t qty) except -1 nogil:
        cdef Delta* d
        if self.n_deltas == self.cap_deltas:
            self.deltas = <Delta*>_grown(self.deltas, &self.cap_deltas, sizeof(Delta), 4096)
        d = &self.deltas[self.n_deltas]
        d.price = price
        d.qty = qty
        d.side = <uint8_t>side
        self.n_deltas += 1
        return 0

    cdef int _push_expired(self, int64_t oid, int64_t price, int64_t qty, int side,
                           int reason) except -1 nogil:
        cdef Expired* e
        if self.n_expired == self.cap_expired:
            self.expired = <Expired*>_grown(self.expired, &self.cap_expired, sizeof(Expired), 256)
        e = &self.expired[self.n_expired]
        e.oid = oid
        e.price = price
        e.qty = qty
        e.side = <uint8_t>side
        e.reason = <uint8_t>reason
        self.n_expired += 1
        return 0

    cdef int _push_reject(self, int64_t index, int64_t oid, int code) except -1 nogil:
        cdef Reject* r
        if self.n_rejects == self.cap_rejects:
            self.rejects = <Reject*>_grown(self.rejects, &self.cap_rejects, sizeof(Reject), 256)
        r = &self.rejects[self.n_rejects]
        r.index = index
        r.oid = oid
        r.code = code
        self.n_rejects += 1
        return 0

    # --------------------------------------------------------------- id index
    cdef inline int32_t find_c(self, int64_t oid) noexcept nogil:
        cdef uint64_t i
        cdef int32_t v
        if <uint64_t>oid < <uint64_t>self.dense_ids:
            return self.dense[oid] if oid < self.dense_cap else -1
        if self.hcount == 0:
            return -1
        i = _bucket(oid, self.hshift)
        while True:
            v = self.hvals[i]
            if v < 0:
                return -1
            if self.hkeys[i] == oid:
                return v
            i = (i + 1) & self.hmask

    cdef inline int _id_insert(self, int64_t oid, int32_t slot) except -1 nogil:
        """Index a new resting order: ids in [0, dense_ids) go to the direct index (an array
        indexed by id, as venues that number orders sequentially do), all others to the hash."""
        if <uint64_t>oid < <uint64_t>self.dense_ids:
            if oid >= self.dense_cap:
                self._grow_dense(oid)
            self.dense[oid] = slot
            self.dcount += 1
            return 0
        return self._hash_insert(oid, slot)

    cdef inline void _id_delete(self, int64_t oid) noexcept nogil:
        if <uint64_t>oid < <uint64_t>self.dense_ids:
            self.dense[oid] = -1
            self.dcount -= 1
        else:
            self._hash_delete(oid)

    cdef int _grow_dense(self, int64_t oid) except -1 nogil:
        """Grow the direct index to cover ``oid`` (doubling, capped at dense_ids). Amortised O(1)."""
        cdef int64_t cap = self.dense_cap * 2 if self.dense_cap else DENSE_MIN
        cdef int32_t* d
        while cap <= oid:
            cap *= 2
        if cap > self.dense_ids:
            cap = self.dense_ids
        d = <int32_t*>realloc(self.dense, cap * sizeof(int32_t))
        if d == NULL:
            with gil:
                raise MemoryError()
        memset(d + self.dense_cap, 0xFF, (cap - self.dense_cap) * sizeof(int32_t))
        self.dense = d
        self.dense_cap = cap
        return 0

    cdef int _hash_insert(self, int64_t oid, int32_t slot) except -1 nogil:
        cdef uint64_t i, nb, old_nb, j
        cdef int64_t* nk
        cdef int32_t* nv
        cdef int64_t* ok
        cdef int32_t* ov
        cdef int shift
        if (self.hcount + 1) * 2 > <int64_t>(self.hmask + 1):
            old_nb = self.hmask + 1
            nb = old_nb * 2
            nk = <int64_t*>malloc(nb * sizeof(int64_t))
            nv = <int32_t*>malloc(nb * sizeof(int32_t))
            if nk == NULL or nv == NULL:
                free(nk)
                free(nv)
                with gil:
                    raise MemoryError()
            memset(nv, 0xFF, nb * sizeof(int32_t))
            shift = self.hshift - 1
            for j in range(old_nb):
                if self.hvals[j] >= 0:
                    i = _bucket(self.hkeys[j], shift)
                    while nv[i] >= 0:
                        i = (i + 1) & (nb - 1)
                    nk[i] = self.hkeys[j]
                    nv[i] = self.hvals[j]
            free(self.hkeys)
            free(self.hvals)
            self.hkeys = nk
            self.hvals = nv
            self.hmask = nb - 1
            self.hshift = shift
        i = _bucket(oid, self.hshift)
        while self.hvals[i] >= 0:
            i = (i + 1) & self.hmask
        self.hkeys[i] = oid
        self.hvals[i] = slot
        self.hcount += 1
        return 0

    cdef void _hash_delete(self, int64_t oid) noexcept nogil:
        """Linear-probing delete with backward shift (no tombstones)."""
        cdef uint64_t i = _bucket(oid, self.hshift), j, k
        cdef uint64_t mask = self.hmask
        while self.hvals[i] >= 0 and self.hkeys[i] != oid:
            i = (i + 1) & mask
        if self.hvals[i] < 0:
            return
        j = i
        while True:
            j = (j + 1) & mask
            if self.hvals[j] < 0:
                break
            k = _bucket(self.hkeys[j], self.hshift)
            # the entry at j may move to the hole at i unless its home k lies in (i, j]
            if (i <= j and (k <= i or k > j)) or (i > j and k <= i and k > j):
                self.hkeys[i] = self.hkeys[j]
                self.hvals[i] = self.hvals[j]
                i = j
        self.hvals[i] = -1
        self.hcount -= 1

    # ------------------------------------------------------------ order pool
    cdef inline int32_t _alloc_slot(self) except -2 nogil:
        cdef int32_t slot, i, cap
        cdef Order* p
        if self.free_head < 0:
            if self.pool_cap >= (1 << 30):
                with gil:
                    raise MemoryError("order pool is full (2**30 resting orders)")
            cap = self.pool_cap * 2
            p = <Order*>realloc(self.pool, cap * sizeof(Order))
            if p == NULL:
                with gil:
                    raise MemoryError()
            self.pool = p
            for i in range(self.pool_cap, cap):
                self.pool[i].next = i + 1 if i + 1 < cap else -1
            self.free_head = self.pool_cap
            self.pool_cap = cap
        slot = self.free_head
        self.free_head = self.pool[slot].next
        return slot

    # ------------------------------------------------------------ price window
    cdef inline void _fix_bounds(self, int side, int64_t idx) noexcept nogil:
        """Level idx just became empty: clear its bit and move lo/hi past it."""
        cdef BookSide* s = &self.sides[side]
        s.bits[idx >> 6] &= ~(<uint64_t>1 << (idx & 63))
        if idx == s.lo:
            s.lo = _next_set(s.bits, s.cap, idx + 1)
            if s.lo < 0:
                s.hi = -1
                return
        if idx == s.hi:
            s.hi = _prev_set(s.bits, idx - 1)

    cdef inline bint _in_range(self, int side, int64_t price) noexcept nogil:
        cdef BookSide* s = &self.sides[side]
        cdef int64_t lo_p, hi_p
        if s.lo < 0:
            return True
        lo_p = s.base + s.lo
        hi_p = s.base + s.hi
        if price < lo_p:
            lo_p = price
        if price > hi_p:
            hi_p = price
        return hi_p - lo_p < self._max_levels

    cdef bint _in_range_without(self, int side, int64_t price, int32_t slot) noexcept nogil:
        """As _in_range, as if the order in ``slot`` had already left the book (amend)."""
        cdef BookSide* s = &self.sides[side]
        cdef Order* o = &self.pool[slot]
        cdef int64_t idx = o.price - s.base, lo = s.lo, hi = s.hi
        cdef bint alone = o.prev < 0 and o.next < 0
        if alone and lo == idx:
            lo = _next_set(s.bits, s.cap, idx + 1)
        if alone and hi == idx:
            hi = _prev_set(s.bits, idx - 1)
        if lo < 0 or hi < 0:
            return True
        lo += s.base
        hi += s.base
        if price < lo:
            lo = price
        if price > hi:
            hi = price
        return hi - lo < self._max_levels

    cdef int _ensure_window(self, int side, int64_t price) except -1 nogil:
        """Move or grow the side's window so that it addresses ``price``. Amortised O(1)."""
        cdef BookSide* s = &self.sides[side]
        cdef int64_t lo_p, hi_p, span, cap, base, i, idx, shift
        cdef Level* lv
        cdef uint64_t* bits
        if price >= s.base and price - s.base < s.cap:
            return 0
        if s.lo < 0:                      # empty side: just move the window
            s.base = price - s.cap // 2
            return 0
        lo_p = s.base + s.lo
        hi_p = s.base + s.hi
        if price < lo_p:
            lo_p = price
        if price > hi_p:
            hi_p = price
        span = hi_p - lo_p + 1
        cap = s.cap
        while cap < span + span // 2 + 2 * MIN_WINDOW:
            cap *= 2
        base = lo_p - (cap - span) // 2
        lv = <Level*>malloc(cap * sizeof(Level))
        bits = <uint64_t*>calloc(cap >> 6, sizeof(uint64_t))
        if lv == NULL or bits == NULL:
            free(lv)
            free(bits)
            with gil:
                raise MemoryError()
        for i in range(cap):
            lv[i].total = 0
            lv[i].head = -1
            lv[i].tail = -1
        shift = s.base - base
        idx = s.lo
        while idx >= 0:
            lv[idx + shift] = s.levels[idx]
            bits[(idx + shift) >> 6] |= <uint64_t>1 << ((idx + shift) & 63)
            idx = _next_set(s.bits, s.cap, idx + 1)
        free(s.levels)
        free(s.bits)
        s.levels = lv
        s.bits = bits
        s.lo += shift
        s.hi += shift
        s.base = base
        s.cap = cap
        return 0

    # ------------------------------------------------------------- internals
    cdef inline int _rest(self, int64_t oid, int side, int64_t price, int64_t qty, int tif,
                   int64_t owner, int stp) except -1 nogil:
        cdef BookSide* s
        cdef Level* lv
        cdef Order* o
        cdef int64_t idx
        cdef int32_t slot
        s = &self.sides[side]
        if price < s.base or price - s.base >= s.cap:
            self._ensure_window(side, price)
        slot = self._alloc_slot()
        self._id_insert(oid, slot)
        s = &self.sides[side]
        idx = price - s.base
        lv = &s.levels[idx]
        o = &self.pool[slot]
        o.oid = oid
        o.price = price
        o.qty = qty
        o.owner = owner
        self.seq += 1
        o.seq = self.seq
        o.side = <uint8_t>side
        o.tif = <uint8_t>tif
        o.stp = <uint8_t>stp
        o.next = -1
        o.prev = lv.tail
        if lv.tail >= 0:
            self.pool[lv.tail].next = slot
        else:
            lv.head = slot
            s.bits[idx >> 6] |= <uint64_t>1 << (idx & 63)
            if s.lo < 0:
                s.lo = idx
                s.hi = idx
            elif idx < s.lo:
                s.lo = idx
            elif idx > s.hi:
                s.hi = idx
        lv.tail = slot
        lv.total += qty
        s.n_orders += 1
        if self.track_deltas:
            self._push_delta(side, price, lv.total)
        return 0

    cdef inline void _remove_slot(self, int32_t slot) noexcept nogil:
        """Unlink a resting order, free its slot and its id (the caller emits any delta)."""
        cdef Order* o = &self.pool[slot]
        cdef BookSide* s = &self.sides[o.side]
        cdef int64_t idx = o.price - s.base
        cdef Level* lv = &s.levels[idx]
        if o.prev >= 0:
            self.pool[o.prev].next = o.next
        else:
            lv.head = o.next
        if o.next >= 0:
            self.pool[o.next].prev = o.prev
        else:
            lv.tail = o.prev
        lv.total -= o.qty
        s.n_orders -= 1
        if lv.head < 0:
            self._fix_bounds(o.side, idx)
        self._id_delete(o.oid)
        o.next = self.free_head
        self.free_head = slot

    cdef inline int _match(self, int64_t oid, int side, int64_t qty, bint has_limit, int64_t limit,
                    int64_t owner, int stp) except -1 nogil:
        """Trade a taker against the opposite side. Sets last_filled; returns 1 when
        self-trade prevention stopped the taker, else 0."""
        cdef int opp = 1 - side
        cdef BookSide* s = &self.sides[opp]
        cdef Level* lv
        cdef Order* m
        cdef int64_t idx, price, f, filled = 0
        cdef int32_t slot, nxt
        cdef bint stp_on = stp != STP_NONE and owner != 0
        cdef bint stopped = False, done
        while qty > 0 and s.lo >= 0:
            idx = s.lo if side == BUY else s.hi
            price = s.base + idx
            if has_limit and ((side == BUY and price > limit) or (side == SELL and price < limit)):
                break
            lv = &s.levels[idx]
            slot = lv.head
            while qty > 0 and slot >= 0:
                m = &self.pool[slot]
                nxt = m.next
                if stp_on and m.owner == owner:
                    if stp == STP_EXPIRE_TAKER:
                        stopped = True
                        break
                    self._push_expired(m.oid, price, m.qty, opp, EXPIRE_STP)
                    self._unlink_in_level(lv, slot, opp, idx)
                    if stp == STP_EXPIRE_BOTH:
                        stopped = True
                        break
                    slot = nxt
                    continue
                f = m.qty if m.qty < qty else qty
                m.qty -= f
                lv.total -= f
                qty -= f
                filled += f
                done = m.qty == 0
                self._push_fill(oid, m.oid, price, f, side, done)
                if done:
                    self._unlink_in_level(lv, slot, opp, idx)
                slot = nxt
            if self.track_deltas:
                self._push_delta(opp, price, lv.total)
            if lv.head < 0:
                self._fix_bounds(opp, idx)
            if stopped:
                break
        self.last_filled = filled
        return 1 if stopped else 0

    cdef inline void _unlink_in_level(self, Level* lv, int32_t slot, int opp, int64_t idx) noexcept nogil:
        """Remove an order from a level the matcher is walking (bounds fixed by the caller)."""
        cdef Order* o = &self.pool[slot]
        if o.prev >= 0:
            self.pool[o.prev].next = o.next
        else:
            lv.head = o.next
        if o.next >= 0:
            self.pool[o.next].prev = o.prev
        else:
            lv.tail = o.prev
        lv.total -= o.qty
        self.sides[opp].n_orders -= 1
        self._id_delete(o.oid)
        o.next = self.free_head
        self.free_head = slot

    cdef bint _fok_fillable(self, int side, int64_t qty, bint has_limit, int64_t limit,
                            int64_t owner, int stp) noexcept nogil:
        cdef int opp = 1 - side
        cdef BookSide* s = &self.sides[opp]
        cdef int64_t idx, price
        cdef int32_t slot
        cdef Order* m
        cdef bint stp_on = stp != STP_NONE and owner != 0
        if s.lo < 0:
            return False
        idx = s.lo if side == BUY else s.hi
        while idx >= 0:
            price = s.base + idx
            if has_limit and ((side == BUY and price > limit) or (side == SELL and price < limit)):
                return False
            slot = s.levels[idx].head
            while slot >= 0:
                m = &self.pool[slot]
                if stp_on and m.owner == owner:
                    if stp != STP_EXPIRE_MAKER:
                        return False
                else:
                    qty -= m.qty
                    if qty <= 0:
                        return True
                slot = m.next
            if side == BUY:
                idx = _next_set(s.bits, s.cap, idx + 1)
            else:
                idx = _prev_set(s.bits, idx - 1)
        return False

    cdef bint best_c(self, int side, int64_t* price) noexcept nogil:
        cdef BookSide* s = &self.sides[side]
        if s.lo < 0:
            return False
        price[0] = s.base + (s.hi if side == BUY else s.lo)
        return True

    # ------------------------------------------------------ C-level commands
    cdef inline int limit_c(self, int64_t oid, int side, int64_t price, int64_t qty, int tif,
                     int64_t owner, int stp) except -1 nogil:
        cdef int64_t best, rem
        cdef int stopped
        self.last_filled = 0
        self.last_rested = 0
        self.last_expire = EXPIRE_NONE
        if self.find_c(oid) >= 0:
            return DUPLICATE_ORDER_ID
        if not self._in_range(side, price):
            return PRICE_OUT_OF_RANGE
        if qty > INT64_MAX - self._level_total(side, price):
            return LEVEL_QTY_OVERFLOW
        if tif == POST_ONLY:
            if self.best_c(1 - side, &best) and (
                    (side == BUY and best <= price) or (side == SELL and best >= price)):
                return POST_ONLY_WOULD_CROSS
        elif tif == FOK:
            if not self._fok_fillable(side, qty, True, price, owner, stp):
                return FOK_NOT_FILLABLE
        stopped = self._match(oid, side, qty, True, price, owner, stp)
        rem = qty - self.last_filled
        if rem > 0:
            if stopped:
                self.last_expire = EXPIRE_STP
            elif tif == GTC or tif == POST_ONLY:
                self._rest(oid, side, price, rem, tif, owner, stp)
                self.last_rested = rem
            else:
                self.last_expire = EXPIRE_IOC
        return OK

    cdef inline int market_c(self, int64_t oid, int side, int64_t qty, int64_t protect_price,
                      int64_t owner, int stp) except -1 nogil:
        cdef int stopped
        self.last_filled = 0
        self.last_rested = 0
        self.last_expire = EXPIRE_NONE
        if self.find_c(oid) >= 0:
            return DUPLICATE_ORDER_ID
        stopped = self._match(oid, side, qty, protect_price > 0, protect_price, owner, stp)
        if qty - self.last_filled > 0:
            self.last_expire = EXPIRE_STP if stopped else EXPIRE_IOC
        return OK

    cdef inline int cancel_c(self, int64_t oid) except -1 nogil:
        cdef int32_t slot = self.find_c(oid)
        cdef Order* o
        cdef int64_t price, total
        cdef int side
        if slot < 0:
            return UNKNOWN_ORDER_ID
        o = &self.pool[slot]
        side = o.side
        price = o.price
        self._remove_slot(slot)
        if self.track_deltas:
            total = self._level_total(side, price)
            self._push_delta(side, price, total)
        return OK

    cdef int64_t _level_total(self, int side, int64_t price) noexcept nogil:
        cdef BookSide* s = &self.sides[side]
        cdef int64_t idx = price - s.base
        if idx < 0 or idx >= s.cap:
            return 0
        return s.levels[idx].total

    cdef int amend_c(self, int64_t oid, int64_t qty, int64_t price) except -1 nogil:
        cdef int32_t slot = self.find_c(oid)
        cdef Order* o
        cdef int64_t old_price, best, total
        cdef int side, tif, stp
        cdef int64_t owner
        self.last_filled = 0
        self.last_rested = 0
        self.last_expire = EXPIRE_NONE
        if slot < 0:
            return UNKNOWN_ORDER_ID
        o = &self.pool[slot]
        side = o.side
        old_price = o.price
        if price == 0:
            price = old_price
        if price == old_price and qty <= o.qty:
            total = self._level_total(side, price) - (o.qty - qty)
            self.sides[side].levels[price - self.sides[side].base].total = total
            o.qty = qty
            self.last_rested = qty
            if self.track_deltas:
                self._push_delta(side, price, total)
            return OK
        tif = o.tif
        stp = o.stp
        owner = o.owner
        if not self._in_range_without(side, price, slot):
            return PRICE_OUT_OF_RANGE
        total = self._level_total(side, price) - (o.qty if price == old_price else 0)
        if qty > INT64_MAX - total:
            return LEVEL_QTY_OVERFLOW
        if tif == POST_ONLY and self.best_c(1 - side, &best) and (
                (side == BUY and best <= price) or (side == SELL and best >= price)):
            return POST_ONLY_WOULD_CROSS
        self._remove_slot(slot)
        if self.track_deltas and price != old_price:
            self._push_delta(side, old_price, self._level_total(side, old_price))
        return self.limit_c(oid, side, price, qty, tif, owner, stp)

    # ------------------------------------------------- Python-level commands
    def limit(self, oid, side, price, qty, tif=0, owner=0, stp=0):   # tif GTC, stp NONE
        """Limit order; returns a MatchCode value. O(fills + levels crossed)."""
        cdef int64_t c_oid = _int64(oid, "oid")
        cdef int64_t c_side = _int64(side, "side")
        if c_side != BUY and c_side != SELL:
            raise invalid("side", "0 (BUY) or 1 (SELL)", side)
        cdef int64_t c_price = _int64(price, "price")
        if c_price <= 0:
            raise invalid("price", "> 0", price)
        cdef int64_t c_qty = _int64(qty, "qty")
        if c_qty <= 0:
            raise invalid("qty", "> 0", qty)
        cdef int64_t c_tif = _int64(tif, "tif")
        if c_tif < GTC or c_tif > POST_ONLY:
            raise invalid("tif", "one of 0 (GTC), 1 (IOC), 2 (FOK), 3 (POST_ONLY)", tif)
        cdef int64_t c_owner = _int64(owner, "owner")
        cdef int64_t c_stp = _int64(stp, "stp")
        if c_stp < STP_NONE or c_stp > STP_EXPIRE_BOTH:
            raise invalid("stp", "one of 0..3 (NONE, EXPIRE_TAKER, EXPIRE_MAKER, EXPIRE_BOTH)", stp)
        return self.limit_c(c_oid, <int>c_side, c_price, c_qty, <int>c_tif, c_owner, <int>c_stp)

    def market(self, oid, side, qty, protect_price=0, owner=0, stp=0):   # stp NONE
        """Market order (IOC); returns a MatchCode value. O(fills + levels crossed)."""
        cdef int64_t c_oid = _int64(oid, "oid")
        cdef int64_t c_side = _int64(side, "side")
        if c_side != BUY and c_side != SELL:
            raise invalid("side", "0 (BUY) or 1 (SELL)", side)
        cdef int64_t c_qty = _int64(qty, "qty")
        if c_qty <= 0:
            raise invalid("qty", "> 0", qty)
        cdef int64_t c_protect = _int64(protect_price, "protect_price")
        if c_protect < 0:
            raise invalid("protect_price", ">= 0 (0 = none)", protect_price)
        cdef int64_t c_owner = _int64(owner, "owner")
        cdef int64_t c_stp = _int64(stp, "stp")
        if c_stp < STP_NONE or c_stp > STP_EXPIRE_BOTH:
            raise invalid("stp", "one of 0..3 (NONE, EXPIRE_TAKER, EXPIRE_MAKER, EXPIRE_BOTH)", stp)
        return self.market_c(c_oid, <int>c_side, c_qty, c_protect, c_owner, <int>c_stp)

    def cancel(self, oid):
        """Remove a resting order. O(1). Raises UnknownOrderError if it is not resting."""
        cdef int64_t c_oid = _int64(oid, "oid")
        if self.cancel_c(c_oid) != OK:
            raise UnknownOrderError(f"order id {oid} is not resting in the book")
        return True

    def amend(self, oid, qty, price=0):
        """Change quantity and/or price; see the module contract. O(1) in place."""
        cdef int64_t c_oid = _int64(oid, "oid")
        cdef int64_t c_qty = _int64(qty, "qty")
        if c_qty <= 0:
            raise invalid("qty", "> 0", qty)
        cdef int64_t c_price = _int64(price, "price")
        if c_price < 0:
            raise invalid("price", "> 0 (or 0 to keep it)", price)
        if self.find_c(c_oid) < 0:
            raise UnknownOrderError(f"order id {oid} is not resting in the book")
        return self.amend_c(c_oid, c_qty, c_price)

    def process(self, msgs):
        """Batch API over MSG_DTYPE records, without the GIL; returns this batch's fills.
        O(n + fills)."""
        cdef const uint8_t[::1] raw
        cdef const Msg* m
        cdef Py_ssize_t i, n, bad = -1
        cdef int code, bad_field = 0
        cdef int64_t start
        if not isinstance(msgs, np.ndarray):
            raise InvalidBatchError(f"'msgs' must be a numpy array of MSG_DTYPE (got {type(msgs).__name__})")
        if msgs.dtype != MSG_DTYPE:
            raise InvalidBatchError(f"'msgs' must have dtype MSG_DTYPE {MSG_DTYPE} (got {msgs.dtype})")
        if msgs.ndim != 1:
            raise InvalidBatchError(f"'msgs' must be one-dimensional (got ndim={msgs.ndim})")
        n = msgs.shape[0]
        start = self.n_fills
        if n == 0:
            return np.empty(0, FILL_DTYPE)
        msgs = np.ascontiguousarray(msgs)
        raw = msgs.view(np.uint8)
        m = <const Msg*>&raw[0]
        with nogil:
            for i in range(n):
                if m[i].kind > MSG_MARKET:
                    bad = i; bad_field = 1; break
                if m[i].kind != MSG_CANCEL:
                    if m[i].side > SELL:
                        bad = i; bad_field = 2; break
                    if m[i].qty == 0:
                        bad = i; bad_field = 3; break
                    if m[i].kind == MSG_ADD and m[i].price <= 0:
                        bad = i; bad_field = 4; break
        if bad >= 0:
            field = ("kind", "side", "qty", "price")[bad_field - 1]
            rule = ("0 (ADD), 1 (CANCEL) or 2 (MARKET)", "0 (BUY) or 1 (SELL)", "> 0", "> 0")[bad_field - 1]
            raise invalid(f"msgs[{bad}].{field}", rule, msgs[bad][field].item())
        with nogil:
            for i in range(n):
                if m[i].kind == MSG_ADD:
                    code = self.limit_c(m[i].oid, m[i].side, m[i].price, m[i].qty, GTC, 0, STP_NONE)
                elif m[i].kind == MSG_CANCEL:
                    code = self.cancel_c(m[i].oid)
                else:
                    code = self.market_c(m[i].oid, m[i].side, m[i].qty, 0, 0, STP_NONE)
                if code != OK:
                    self._push_reject(i, m[i].oid, code)
        if start == 0 and self.n_fills > 0:
            return self._hand_off_fills()
        out = self._copy_out(<char*>&self.fills[start] if self.n_fills > start else NULL,
                             self.n_fills - start, FILL_DTYPE)
        self.n_fills = start
        return out

    cdef object _hand_off_fills(self):
        """The whole fill buffer becomes the returned array (no copy); the book continues with
        the spare buffer, which a previous result returned when it was freed (double buffering,
        so a loop of batches reuses two warm buffers instead of touching fresh memory)."""
        cdef _FillBlock block = _FillBlock.__new__(_FillBlock)
        cdef int64_t n = self.n_fills
        block.ptr = <char*>self.fills
        block.cap = self.cap_fills
        block.nbytes = n * sizeof(Fill)
        block.shape[0] = block.nbytes
        block.book = self
        self.fills = self.spare_fills
        self.cap_fills = self.spare_cap
        self.spare_fills = NULL
        self.spare_cap = 0
        self.n_fills = 0
        return np.frombuffer(block, FILL_DTYPE, n)

    # ------------------------------------------------------------- drains
    cdef object _copy_out(self, char* src, int64_t n, object dtype):
        cdef object arr = np.empty(n, dtype)
        cdef uint8_t[::1] dst
        if n > 0:
            dst = arr.view(np.uint8)
            memcpy(&dst[0], src, n * dtype.itemsize)
        return arr

    def drain_fills(self):
        """Fills since the last drain as a FILL_DTYPE array; empties the buffer. O(n)."""
        out = self._copy_out(<char*>self.fills, self.n_fills, FILL_DTYPE)
        self.n_fills = 0
        return out

    def drain_deltas(self):
        """L2 deltas since the last drain (DELTA_DTYPE); empties the buffer. O(n)."""
        out = self._copy_out(<char*>self.deltas, self.n_deltas, DELTA_DTYPE)
        self.n_deltas = 0
        return out

    def drain_expired(self):
        """Maker orders removed by self-trade prevention (EXPIRED_DTYPE). O(n)."""
        out = self._copy_out(<char*>self.expired, self.n_expired, EXPIRED_DTYPE)
        self.n_expired = 0
        return out

    def drain_rejects(self):
        """Batch rejections (REJECT_DTYPE). O(n)."""
        out = self._copy_out(<char*>self.rejects, self.n_rejects, REJECT_DTYPE)
        self.n_rejects = 0
        return out

    @property
    def fill_count(self):
        """Fills waiting in the buffer. O(1)."""
        return self.n_fills

    # ------------------------------------------------------------- queries
    def best_bid(self):
        """Best bid in ticks or None. O(1)."""
        cdef int64_t p
        return p if self.best_c(BUY, &p) else None

    def best_ask(self):
        """Best ask in ticks or None. O(1)."""
        cdef int64_t p
        return p if self.best_c(SELL, &p) else None

    def depth(self, int side, n):
        """Up to n levels as (price, total), best first. O(n + gaps / 64)."""
        cdef BookSide* s
        cdef int64_t idx
        cdef list out = []
        if side != BUY and side != SELL:
            raise invalid("side", "0 (BUY) or 1 (SELL)", side)
        cdef int64_t count = _int64(n, "n")      # a Python int beyond int64 is refused, typed
        if count < 0:
            raise invalid("n", ">= 0", count)
        s = &self.sides[side]
        idx = s.hi if side == BUY else s.lo
        while idx >= 0 and len(out) < count:
            out.append((s.base + idx, s.levels[idx].total))
            idx = _prev_set(s.bits, idx - 1) if side == BUY else _next_set(s.bits, s.cap, idx + 1)
        return out

    def level_qty(self, int side, price):
        """Total resting at one price (0 if none). O(1)."""
        if side != BUY and side != SELL:
            raise invalid("side", "0 (BUY) or 1 (SELL)", side)
        return self._level_total(side, _int64(price, "price"))

    def iter_orders(self):
        """(oid, qty, price): bids best to worst, then asks best to worst, FIFO in a level. O(n)."""
        cdef list out = []
        cdef BookSide* s
        cdef int64_t idx
        cdef int32_t slot
        cdef int side
        for side in range(2):
            s = &self.sides[side]
            idx = s.hi if side == BUY else s.lo
            while idx >= 0:
                slot = s.levels[idx].head
                while slot >= 0:
                    out.append((self.pool[slot].oid, self.pool[slot].qty, self.pool[slot].price))
                    slot = self.pool[slot].next
                idx = _prev_set(s.bits, idx - 1) if side == BUY else _next_set(s.bits, s.cap, idx + 1)
        return iter(out)

    def order(self, oid_):
        """(side, price, qty, owner) of a resting order. O(1)."""
        cdef int64_t oid = _int64(oid_, "oid")
        cdef int32_t slot = self.find_c(oid)
        cdef Order* o
        if slot < 0:
            raise UnknownOrderError(f"order id {oid} is not resting in the book")
        o = &self.pool[slot]
        return (o.side, o.price, o.qty, o.owner)

    def queue_position(self, oid_):
        """Lots resting ahead of the order at its level. O(orders ahead)."""
        cdef int64_t oid = _int64(oid_, "oid")
        cdef int32_t slot = self.find_c(oid)
        cdef int64_t ahead = 0
        if slot < 0:
            raise UnknownOrderError(f"order id {oid} is not resting in the book")
        slot = self.pool[slot].prev
        while slot >= 0:
            ahead += self.pool[slot].qty
            slot = self.pool[slot].prev
        return ahead

    def impact_price(self, int side, notional):
        """Average fill price (ticks) of a taker of ``side`` spending ``notional`` ticks x lots;
        None if the opposite side is too thin. O(levels walked)."""
        cdef int opp
        cdef BookSide* s
        cdef int64_t idx
        cdef double need, acc = 0.0, lots = 0.0, lvl_notional, price
        if side != BUY and side != SELL:
            raise invalid("side", "0 (BUY) or 1 (SELL)", side)
        if not notional > 0:
            raise invalid("notional", "> 0", notional)
        need = notional
        opp = 1 - side
        s = &self.sides[opp]
        idx = s.lo if side == BUY else s.hi
        while idx >= 0:
            price = <double>(s.base + idx)
            lvl_notional = price * <double>s.levels[idx].total
            if acc + lvl_notional >= need:
                lots += (need - acc) / price
                return need / lots
            acc += lvl_notional
            lots += <double>s.levels[idx].total
            idx = _next_set(s.bits, s.cap, idx + 1) if side == BUY else _prev_set(s.bits, idx - 1)
        return None

    def check_invariants(self):
        """Raise BookInvariantError unless every structural invariant holds. O(n + capacity/64)."""
        cdef BookSide* s
        cdef int side
        cdef int64_t idx, total, count, last_seq, n_total = 0
        cdef int32_t slot, prev
        cdef Order* o
        for side in range(2):
            s = &self.sides[side]
            count = 0
            for idx in range(s.cap):
                nonempty = s.levels[idx].head >= 0
                bit = (s.bits[idx >> 6] >> (idx & 63)) & 1
                if nonempty != bit:
                    raise BookInvariantError(f"side {side} level {s.base + idx}: bitmap disagrees")
                if not nonempty:
                    if s.levels[idx].total != 0:
                        raise BookInvariantError(f"empty level {s.base + idx} has total {s.levels[idx].total}")
                    continue
                if s.lo < 0 or idx < s.lo or idx > s.hi:
                    raise BookInvariantError(f"side {side}: level {s.base + idx} outside lo/hi")
                total = 0
                last_seq = -1
                prev = -1
                slot = s.levels[idx].head
                while slot >= 0:
                    o = &self.pool[slot]
                    if o.prev != prev:
                        raise BookInvariantError(f"order {o.oid}: broken prev link")
                    if o.qty <= 0:
                        raise BookInvariantError(f"order {o.oid}: qty {o.qty} <= 0")
                    if o.price != s.base + idx or o.side != side:
                        raise BookInvariantError(f"order {o.oid}: on the wrong level")
                    if o.seq <= last_seq:
                        raise BookInvariantError(f"order {o.oid}: FIFO by arrival broken")
                    if self.find_c(o.oid) != slot:
                        raise BookInvariantError(f"order {o.oid}: id index points elsewhere")
                    last_seq = o.seq
                    total += o.qty
                    count += 1
                    prev = slot
                    slot = o.next
                if prev != s.levels[idx].tail:
                    raise BookInvariantError(f"level {s.base + idx}: tail is not the last order")
                if total != s.levels[idx].total:
                    raise BookInvariantError(
                        f"level {s.base + idx}: total {s.levels[idx].total} != sum of orders {total}")
            if s.lo >= 0 and (s.levels[s.lo].head < 0 or s.levels[s.hi].head < 0):
                raise BookInvariantError(f"side {side}: lo/hi point at empty levels")
            if count != s.n_orders:
                raise BookInvariantError(f"side {side}: {count} orders linked, {s.n_orders} counted")
            if s.lo >= 0 and (s.base + s.hi) - (s.base + s.lo) >= self._max_levels:
                raise BookInvariantError(f"side {side}: span exceeds max_levels")
            n_total += count
        if n_total != self.hcount + self.dcount:
            raise BookInvariantError(
                f"id index holds {self.hcount + self.dcount} ids, book holds {n_total} orders")
        bb = self.best_bid()
        ba = self.best_ask()
        if bb is not None and ba is not None and bb >= ba:
            raise BookInvariantError(f"book crossed: best bid {bb} >= best ask {ba}")

    def __len__(self):
        return self.sides[0].n_orders + self.sides[1].n_orders

    def __contains__(self, oid):
        if isinstance(oid, (bool, np.bool_)) or not isinstance(oid, (int, np.integer)):
            return False
        if not -(1 << 63) <= oid < (1 << 63):
            return False
        return self.find_c(<int64_t>oid) >= 0

    @property
    def resting_qty(self):
        """Total resting lots on both sides. O(levels)."""
        cdef int side
        cdef int64_t idx
        cdef object total = 0          # exact: two sides of near-int64 levels exceed int64
        cdef BookSide* s
        for side in range(2):
            s = &self.sides[side]
            idx = s.lo
            while idx >= 0:
                total += s.levels[idx].total
                idx = _next_set(s.bits, s.cap, idx + 1)
        return total

    @property
    def max_levels(self):
        return self._max_levels
