# cython: language_level=3
"""Compiled contract of the venue core: accounts, positions, ledger, risk and settlement."""
cimport cython
from libc.stdint cimport int32_t, int64_t, uint8_t, uint16_t

from matching._book cimport Book


cdef extern from *:
    """
    #include <stdint.h>
    static inline int64_t perpsim_muldiv_floor(int64_t a, int64_t b, int64_t d) {
        __int128 p = (__int128)a * b; __int128 q = p / d;
        if ((p % d != 0) && ((p < 0) != (d < 0))) q -= 1;
        return (int64_t)q;
    }
    static inline int64_t perpsim_muldiv_ceil(int64_t a, int64_t b, int64_t d) {
        __int128 p = (__int128)a * b; __int128 q = p / d;
        if ((p % d != 0) && ((p < 0) == (d < 0))) q += 1;
        return (int64_t)q;
    }
    /* ceil(q*price*k*rate / scale) in exact 128-bit arithmetic; 1 if it overflows int64 */
    static inline int perpsim_funding_payment(int64_t q, int64_t price, int64_t k, int64_t rate,
                                              int64_t scale, int64_t* out) {
        __int128 n = (__int128)q * price * k;
        if (n > ((__int128)1 << 100) || n < -((__int128)1 << 100)) return 1;
        __int128 p = n * rate; __int128 r = p / scale;
        if ((p % scale != 0) && ((p < 0) == (scale < 0))) r += 1;
        if (r > INT64_MAX || r < INT64_MIN) return 1;
        *out = (int64_t)r; return 0;
    }
    """
    int64_t muldiv_floor "perpsim_muldiv_floor"(int64_t a, int64_t b, int64_t d) noexcept nogil
    int64_t muldiv_ceil "perpsim_muldiv_ceil"(int64_t a, int64_t b, int64_t d) noexcept nogil
    int funding_payment "perpsim_funding_payment"(int64_t q, int64_t price, int64_t k,
                                                  int64_t rate, int64_t scale, int64_t* out) noexcept nogil


ctypedef struct EventRec:        # EVENT_DTYPE: one row of the event stream
    int64_t seq
    int64_t ts
    int64_t acct
    int64_t oid
    int64_t price
    int64_t qty
    int64_t a1
    int64_t a2
    int64_t a3
    int32_t kind
    int32_t code
    int32_t instr
    uint8_t side
    uint8_t flag
    uint16_t pad                 # always 0: the struct has no unnamed padding

@cython.final
cdef class VenueCore:
    cdef readonly int n_instr
    cdef list books                  # one matching.Book per instrument
    # per-instrument parameters
    cdef int64_t[::1] k              # atoms per tick x lot
    cdef int64_t[::1] maker_fee
    cdef int64_t[::1] taker_fee
    cdef int64_t[::1] liq_fee
    cdef int64_t[::1] min_notional
    cdef int64_t[::1] max_lots
    cdef int64_t[::1] max_mkt_lots
    cdef int64_t[::1] band
    cdef int64_t[::1] mark
    cdef int64_t[::1] index
    cdef int64_t[::1] last
    cdef int64_t[::1] n_tiers
    cdef int64_t[:, ::1] tier_floor
    cdef int64_t[:, ::1] tier_mmr
    cdef int64_t[:, ::1] tier_cum
    cdef int64_t[:, ::1] tier_maxlev
    cdef int64_t[::1] default_lev
    cdef int64_t[::1] mm_entry       # 1: maintenance margin on entry value (Bybit), 0: on mark
    cdef int64_t[::1] wd_rate        # withdrawal floor: rate x cross notional (Hyperliquid 10 %)
    # accounts and positions (struct of arrays, columns = account id)
    cdef readonly int64_t n_acct
    cdef int64_t cap_acct
    cdef object _np                  # dict of the numpy arrays behind the memoryviews
    cdef int64_t[::1] wallet
    cdef uint8_t[::1] acct_flags     # bit 0: in liquidation
    cdef int64_t[:, ::1] size
    cdef int64_t[:, ::1] cost
    cdef int64_t[:, ::1] iso
    cdef int64_t[:, ::1] lev
    cdef uint8_t[:, ::1] mode        # 0 cross, 1 isolated
    cdef int64_t[:, ::1] buy_open
    cdef int64_t[:, ::1] sell_open
    # ledger accounts that are not traders
    cdef readonly int64_t fee_pool
    cdef readonly int64_t insurance
    cdef readonly int64_t bad_debt
    cdef readonly int64_t net_deposits
    # order registry, indexed by venue order id
    cdef int64_t next_oid
    cdef int64_t cap_orders
    cdef int64_t o_mask               # registry slots - 1 (a power of two)
    cdef int64_t[::1] o_id           # the venue order id in each registry slot (0: empty)
    cdef int64_t[::1] o_acct
    cdef int32_t[::1] o_instr
    cdef int64_t[::1] o_price
    cdef int64_t[::1] o_open
    cdef uint8_t[::1] o_side
    cdef uint8_t[::1] o_flags        # bit0 reduce-only, bit1 resting, bit2 liquidation
    # event stream
    cdef EventRec* ev
    cdef int64_t n_ev, cap_ev
    cdef readonly int64_t seq
    cdef readonly int64_t ts_now
    cdef readonly int64_t last_oid
    cdef readonly int64_t last_filled
    cdef readonly int64_t last_rested
    cdef readonly int64_t n_fills_total
    cdef object _specs               # the InstrumentSpecs it was built from (snapshots)

    # -- COMMANDS --
    cpdef int deposit(self, int64_t acct, int64_t atoms) except -1
    cpdef int withdraw(self, int64_t acct, int64_t atoms) except -1
    cpdef int set_leverage(self, int64_t acct, int instr, int64_t leverage) except -1
    cpdef int set_margin_mode(self, int64_t acct, int instr, int isolated) except -1
    cpdef int adjust_isolated_margin(self, int64_t acct, int instr, int64_t delta) except -1
    cpdef int set_mark(self, int instr, int64_t mark_ticks, int64_t index_ticks=*) except -1
    cpdef int submit(self, int64_t acct, int instr, int side, int64_t qty, int64_t price=*,
                     int otype=*, int tif=*, bint reduce_only=*, int64_t protect_price=*,
                     int stp=*) except -1
    cpdef int liquidation_order(self, int64_t acct, int instr, int side, int64_t qty,
                                int64_t limit_price) except -1
    cpdef int cancel(self, int64_t acct, int64_t oid) except -1
    cpdef int amend(self, int64_t acct, int64_t oid, int64_t qty, int64_t price=*) except -1
    cpdef int transfer_position(self, int64_t from_acct, int64_t to_acct, int instr,
                                int64_t qty, int64_t price, int code=*) except -1
    cpdef int ledger_move(self, int from_kind, int64_t from_acct, int to_kind, int64_t to_acct,
                          int64_t atoms, int instr=*, int code=*) except -1

    # -- internals --
    cdef int _grow_accounts(self, int64_t need) except -1
    cdef _restore_arrays(self, dict saved)
    cdef _restore_pending(self, pending)
    cdef int _grow_orders(self, int64_t need) except -1
    cdef int _regrow(self, dict old, int64_t cap) except -1
    cdef int64_t _oslot(self, int64_t oid) noexcept
    cdef int64_t _os(self, int64_t oid) noexcept
    cdef int64_t _ofree(self, int64_t oid) noexcept
    cdef int _emit(self, int kind, int code, int instr, int64_t acct, int64_t oid, int side,
                   int64_t price, int64_t qty, int64_t a1, int64_t a2, int64_t a3,
                   int flag) except -1
    cdef int64_t _ref_price(self, int instr, int64_t fallback) noexcept
    cdef int64_t _upnl(self, int instr, int64_t acct) noexcept
    cdef int64_t _im_instr(self, int instr, int64_t acct, int64_t add_buy, int64_t add_sell,
                           int64_t* worst) noexcept
    cdef int64_t _available(self, int64_t acct, int instr, int64_t add_buy,
                            int64_t add_sell) noexcept
    cdef int64_t _max_notional_for_lev(self, int instr, int64_t L) noexcept
    cdef int64_t _mm_instr(self, int instr, int64_t notional) noexcept
    cdef int64_t _pos_mm(self, int instr, int64_t acct) noexcept
    cdef int64_t _withdraw_free(self, int64_t acct) noexcept
    cdef int _settle_fill(self, int instr, int64_t acct, int64_t oid, int side, int64_t price,
                          int64_t qty, int64_t fee_rate, int liquidity, int64_t counter_oid,
                          bint fee_to_insurance) except -1
    cdef int _cover_flat_isolated(self, int instr, int64_t acct) except -1
    cdef int _apply_trade(self, int instr, int64_t acct, int64_t dq, int64_t price,
                          int64_t* realised) except -1
    cdef int _after_match(self, int instr, int64_t taker_oid, int64_t taker_acct, int side,
                          int64_t fee_rate, bint liquidation) except -1
    cdef int _order_exposure(self, int64_t oid, int sign) noexcept
    cdef int _check_acct(self, int64_t acct) except -1
    cdef int _record_order(self, int64_t oid, int64_t acct, int instr, int side, int64_t price,
                           int flags) except -1
    cdef int64_t _register_order(self, int64_t acct, int instr, int side, int64_t price,
                                 int flags) except -1
    cdef int _drop_resting(self, int64_t oid, int reason) except -1
    cdef int _check_instr(self, int instr) except -1
    cdef int64_t* _ledger_slot(self, int kind, int64_t acct, int instr) except NULL
    cdef int _liquidate_c(self, int64_t acct, int instr, int side, int64_t qty,
                          int64_t limit_price, int tif, int64_t* out, list makers) except -1
