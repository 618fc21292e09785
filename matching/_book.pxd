# cython: language_level=3
"""Compiled contract of the order book (see _book.pyi for the Python-level contract)."""
cimport cython
from libc.stdint cimport int32_t, int64_t, uint8_t, uint16_t, uint32_t, uint64_t


cdef extern from *:
    """
    #include <stdint.h>
    static inline int perpsim_ctz64(uint64_t x) { return __builtin_ctzll(x); }
    static inline int perpsim_clz64(uint64_t x) { return __builtin_clzll(x); }
    """
    int perpsim_ctz64(uint64_t x) noexcept nogil
    int perpsim_clz64(uint64_t x) noexcept nogil


ctypedef struct Msg:             # one record of the standard stream (MSG_DTYPE)
    uint8_t kind
    uint8_t side
    uint16_t pad
    uint32_t qty
    int64_t oid
    int64_t price

ctypedef struct Order:
    int64_t oid
    int64_t price
    int64_t qty
    int64_t owner
    int64_t seq                  # arrival sequence: FIFO order within a level
    int32_t prev                 # slot of the previous order in the level, -1 = none
    int32_t next                 # next order in the level; next free slot when free
    uint8_t side
    uint8_t tif
    uint8_t stp

ctypedef struct Level:
    int64_t total                # sum of the resting quantities
    int32_t head                 # oldest order's slot, -1 = empty level
    int32_t tail

ctypedef struct BookSide:
    Level* levels                # levels[i] is the level at price base + i
    uint64_t* bits               # bit i set <=> level i is not empty
    int64_t base
    int64_t cap                  # number of levels (a multiple of 64)
    int64_t lo                   # lowest non-empty index, -1 when the side is empty
    int64_t hi                   # highest non-empty index, -1 when the side is empty
    int64_t n_orders

ctypedef struct Fill:            # FILL_DTYPE
    int64_t taker_oid
    int64_t maker_oid
    int64_t price
    int64_t qty
    uint8_t taker_side
    uint8_t maker_done

ctypedef struct Delta:           # DELTA_DTYPE
    int64_t price
    int64_t qty
    uint8_t side

ctypedef struct Expired:         # EXPIRED_DTYPE
    int64_t oid
    int64_t price
    int64_t qty
    uint8_t side
    uint8_t reason

ctypedef struct Reject:          # REJECT_DTYPE
    int64_t index
    int64_t oid
    int32_t code


@cython.final
@cython.no_gc_clear
cdef class _FillBlock:
    """Owner of a fill buffer handed to numpy by Book.process without copying."""
    cdef char* ptr
    cdef int64_t cap
    cdef Py_ssize_t nbytes
    cdef Py_ssize_t shape[1]
    cdef Book book


@cython.final
cdef class Book:
    cdef BookSide sides[2]
    cdef Order* pool
    cdef int32_t pool_cap
    cdef int32_t free_head
    cdef int64_t* hkeys          # open-addressing oid -> slot index (linear probing)
    cdef int32_t* hvals          # -1 = empty bucket
    cdef uint64_t hmask
    cdef int hshift
    cdef int64_t hcount
    cdef int32_t* dense          # direct id index: dense[oid] = slot for 0 <= oid < dense_cap
    cdef int64_t dense_cap       # allocated part of the direct index (grows by doubling)
    cdef readonly int64_t dense_ids   # ids in [0, dense_ids) use the direct index, others the hash
    cdef int64_t dcount
    cdef int64_t seq
    cdef int64_t _max_levels
    cdef Fill* fills
    cdef int64_t n_fills, cap_fills
    cdef Fill* spare_fills       # a fill buffer handed back by a dead process() result
    cdef int64_t spare_cap
    cdef Delta* deltas
    cdef int64_t n_deltas, cap_deltas
    cdef Expired* expired
    cdef int64_t n_expired, cap_expired
    cdef Reject* rejects
    cdef int64_t n_rejects, cap_rejects
    cdef readonly bint track_deltas
    cdef readonly int64_t last_filled
    cdef readonly int64_t last_rested
    cdef readonly int last_expire

    # -- COMMANDS (C level, arguments already validated) --
    cdef inline int limit_c(self, int64_t oid, int side, int64_t price, int64_t qty, int tif,
                     int64_t owner, int stp) except -1 nogil
    cdef inline int market_c(self, int64_t oid, int side, int64_t qty, int64_t protect_price,
                      int64_t owner, int stp) except -1 nogil
    cdef inline int cancel_c(self, int64_t oid) except -1 nogil      # 0 ok, 3004 unknown
    cdef int amend_c(self, int64_t oid, int64_t qty, int64_t price) except -1 nogil

    # -- QUERIES (C level) --
    cdef inline int32_t find_c(self, int64_t oid) noexcept nogil
    cdef bint best_c(self, int side, int64_t* price) noexcept nogil

    # -- internals --
    cdef inline int _match(self, int64_t oid, int side, int64_t qty, bint has_limit, int64_t limit,
                    int64_t owner, int stp) except -1 nogil
    cdef bint _fok_fillable(self, int side, int64_t qty, bint has_limit, int64_t limit,
                            int64_t owner, int stp) noexcept nogil
    cdef inline bint _in_range(self, int side, int64_t price) noexcept nogil
    cdef bint _in_range_without(self, int side, int64_t price, int32_t slot) noexcept nogil
    cdef inline int _rest(self, int64_t oid, int side, int64_t price, int64_t qty, int tif,
                   int64_t owner, int stp) except -1 nogil
    cdef inline void _remove_slot(self, int32_t slot) noexcept nogil
    cdef inline void _unlink_in_level(self, Level* lv, int32_t slot, int opp, int64_t idx) noexcept nogil
    cdef int64_t _level_total(self, int side, int64_t price) noexcept nogil
    cdef void _free_storage(self) noexcept
    cdef int _init_storage(self) except -1
    cdef object _copy_out(self, char* src, int64_t n, object dtype)
    cdef object _hand_off_fills(self)
    cdef int _ensure_window(self, int side, int64_t price) except -1 nogil
    cdef inline void _fix_bounds(self, int side, int64_t idx) noexcept nogil
    cdef int _hash_insert(self, int64_t oid, int32_t slot) except -1 nogil
    cdef void _hash_delete(self, int64_t oid) noexcept nogil
    cdef inline int _id_insert(self, int64_t oid, int32_t slot) except -1 nogil
    cdef inline void _id_delete(self, int64_t oid) noexcept nogil
    cdef int _grow_dense(self, int64_t oid) except -1 nogil
    cdef inline int32_t _alloc_slot(self) except -2 nogil
    cdef inline int _push_fill(self, int64_t taker, int64_t maker, int64_t price, int64_t qty,
                        int side, bint done) except -1 nogil
    cdef int _push_delta(self, int side, int64_t price, int64_t qty) except -1 nogil
    cdef int _push_expired(self, int64_t oid, int64_t price, int64_t qty, int side,
                           int reason) except -1 nogil
    cdef int _push_reject(self, int64_t index, int64_t oid, int code) except -1 nogil
