# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False
"""Venue core: the margin engine's state and its command pipeline, compiled.

risk → matching → settlement for every order, on struct-of-arrays state (numpy arrays, one
column per account) that the vectorised funding and liquidation code reads directly. Money is
int64 atoms; products that could overflow go through 128-bit ``muldiv_*`` with explicit rounding.

Conservation identity (checked by :meth:`VenueCore.check_invariants`)::

    Σ wallet + Σ isolated buckets + fee pool + insurance + bad debt − Σ position cost
        == net deposits

Position cost is the signed cost basis of open positions (buys add notional, sells subtract;
closing removes the proportional part). Per trade the buyer's (wallet − cost) drops by the
notional and the seller's rises by it, so trading never creates or destroys money whatever the
rounding; fees move money to the fee pool; funding moves it between traders (remainder to the
fee pool).
"""
from libc.stdint cimport int32_t, int64_t, uint8_t, INT64_MAX
from libc.stdlib cimport realloc, free
from libc.string cimport memcpy

import numpy as np

from matching._book cimport Book, Fill, Expired
from matching._enums cimport EXPIRE_STP

from exchange._enums cimport (CancelReason, EventKind, LedgerKind, LedgerReason, OrderFlag,
                             OrderType, RejectCode, RejectedCommand, Scale)

import exchange._enums as _py_enums
from exchange.dtypes import EVENT_DTYPE
from exchange.errors import InvalidCommandError, UnknownAccountError, UnknownSymbolError

# ``pad`` (always 0) fills the struct to its 8-byte alignment: with no unnamed padding, every
# byte of a record, a journal or a copy numpy makes of it depends only on the events
assert EVENT_DTYPE.itemsize == sizeof(EventRec)
assert sum(dt.itemsize for dt, *_ in EVENT_DTYPE.fields.values()) == EVENT_DTYPE.itemsize

cdef enum:
    O_PROBE = 16            # order registry: slots probed from an order's home slot

LEDGER_KINDS = {m.name.lower(): int(m) for m in _py_enums.LedgerKind}

_ACCOUNT_FIELDS = ("size", "cost", "iso", "lev", "buy_open", "sell_open")


cdef inline int64_t _abs(int64_t x) noexcept nogil:
    return -x if x < 0 else x


cdef inline int64_t _fee(int64_t notional, int64_t rate) noexcept nogil:
    """Fee on a notional: a charge rounds up, a rebate (negative rate) rounds toward zero."""
    if rate >= 0:
        return muldiv_ceil(notional, rate, Scale.RATE_SCALE)
    return -muldiv_floor(notional, -rate, Scale.RATE_SCALE)


cdef class VenueCore:
    """State and command pipeline of one venue (one settlement asset). See the module docs.

    Construct with a sequence of :class:`exchange.instruments.InstrumentSpec`; instrument
    index ``i`` is the position in that sequence. Accounts are dense ids from
    :meth:`open_account`. Commands return a reason code (0 = accepted) and record events.
    """

    def __cinit__(self, specs, int64_t initial_accounts=1024, bint track_deltas=False):
        cdef int i, t, T
        specs = list(specs)
        if not specs:
            raise InvalidCommandError("'specs' must name at least one instrument (got [])")
        self.n_instr = len(specs)
        self._specs = specs
        self.books = [Book(track_deltas=track_deltas) for _ in specs]
        T = max(len(s.tiers) for s in specs)
        n = self.n_instr
        arr = {name: np.zeros(n, np.int64) for name in (
            "k", "maker_fee", "taker_fee", "liq_fee", "min_notional", "max_lots", "max_mkt_lots",
            "band", "mark", "index", "last", "n_tiers", "default_lev", "mm_entry", "wd_rate")}
        for name in ("tier_floor", "tier_mmr", "tier_cum", "tier_maxlev"):
            arr[name] = np.zeros((n, T), np.int64)
        for i, s in enumerate(specs):
            arr["k"][i] = s.atoms_per_tick_lot
            arr["maker_fee"][i] = s.maker_fee_rate
            arr["taker_fee"][i] = s.taker_fee_rate
            arr["liq_fee"][i] = s.liquidation_fee_rate
            arr["min_notional"][i] = s.min_notional_atoms
            arr["max_lots"][i] = s.max_order_lots
            arr["max_mkt_lots"][i] = s.max_market_lots
            arr["band"][i] = s.price_band_rate
            arr["n_tiers"][i] = len(s.tiers)
            for t, tier in enumerate(s.tiers):
                arr["tier_floor"][i, t] = tier.notional_floor_atoms
                arr["tier_mmr"][i, t] = tier.mmr
                arr["tier_cum"][i, t] = tier.maintenance_amount_atoms
                arr["tier_maxlev"][i, t] = tier.max_leverage
            # Binance's default leverage is 20x, capped by the first tier's maximum
            arr["default_lev"][i] = min(20, s.tiers[0].max_leverage)
            # venue margin rules carried by the specs (exchange.instruments.InstrumentSpec)
            arr["mm_entry"][i] = 1 if getattr(s, "maintenance_basis", "mark") == "entry" else 0
            arr["wd_rate"][i] = getattr(s, "withdrawal_margin_rate", 0)
        self.k = arr["k"]
        self.maker_fee = arr["maker_fee"]
        self.taker_fee = arr["taker_fee"]
        self.liq_fee = arr["liq_fee"]
        self.min_notional = arr["min_notional"]
        self.max_lots = arr["max_lots"]
        self.max_mkt_lots = arr["max_mkt_lots"]
        self.band = arr["band"]
        self.mark = arr["mark"]
        self.index = arr["index"]
        self.last = arr["last"]
        self.n_tiers = arr["n_tiers"]
        self.default_lev = arr["default_lev"]
        self.mm_entry = arr["mm_entry"]
        self.wd_rate = arr["wd_rate"]
        self.tier_floor = arr["tier_floor"]
        self.tier_mmr = arr["tier_mmr"]
        self.tier_cum = arr["tier_cum"]
        self.tier_maxlev = arr["tier_maxlev"]
        self._np = arr
        self.n_acct = 0
        self.cap_acct = 0
        self._grow_accounts(max(16, initial_accounts))
        self.next_oid = 1
        self.cap_orders = 0
        self._grow_orders(1 << 16)
        self.ev = NULL
        self.n_ev = self.cap_ev = 0
        self.seq = 0
        self.ts_now = 0

    def __dealloc__(self):
        free(self.ev)

    # ------------------------------------------------------------------ storage
    cdef int _grow_accounts(self, int64_t need) except -1:
        cdef int64_t cap = self.cap_acct if self.cap_acct else 16
        while cap < need:
            cap *= 2
        if cap == self.cap_acct:
            return 0
        arr = self._np
        n = self.n_instr
        old = self.cap_acct

        def grown(name, shape, dtype):
            new = np.zeros(shape, dtype)
            if name in arr:
                if new.ndim == 1:
                    new[:old] = arr[name][:old]
                else:
                    new[:, :old] = arr[name][:, :old]
            arr[name] = new
            return new

        self.wallet = grown("wallet", cap, np.int64)
        self.acct_flags = grown("acct_flags", cap, np.uint8)
        self.size = grown("size", (n, cap), np.int64)
        self.cost = grown("cost", (n, cap), np.int64)
        self.iso = grown("iso", (n, cap), np.int64)
        self.lev = grown("lev", (n, cap), np.int64)
        self.mode = grown("mode", (n, cap), np.uint8)
        self.buy_open = grown("buy_open", (n, cap), np.int64)
        self.sell_open = grown("sell_open", (n, cap), np.int64)
        self.cap_acct = cap
        return 0

    cdef int _grow_orders(self, int64_t need) except -1:
        """The order registry: ``cap`` slots (a power of two); order ``oid`` lives within
        O_PROBE slots of ``oid & (cap - 1)`` (``o_id`` says which order a slot holds). A dead
        order (not resting: filled, cancelled, expired) leaves when a new one needs its slot,
        so memory follows the live orders, not every order ever placed; ids stay unique
        (``next_oid`` only grows). Growing re-places the resting orders. O(cap)."""
        cdef int64_t cap = self.cap_orders if self.cap_orders else 1024
        cdef int64_t j, s, k, oid
        while cap < need:
            cap *= 2
        if cap == self.cap_orders:
            return 0
        arr = self._np
        old = {n: arr[n] for n in ("o_id", "o_acct", "o_instr", "o_price", "o_open", "o_side",
                                   "o_flags") if n in arr}
        for name, dt in (("o_id", np.int64), ("o_acct", np.int64), ("o_instr", np.int32),
                         ("o_price", np.int64), ("o_open", np.int64), ("o_side", np.uint8),
                         ("o_flags", np.uint8)):
            arr[name] = np.zeros(cap, dt)
        self.o_id = arr["o_id"]
        self.o_acct = arr["o_acct"]
        self.o_instr = arr["o_instr"]
        self.o_price = arr["o_price"]
        self.o_open = arr["o_open"]
        self.o_side = arr["o_side"]
        self.o_flags = arr["o_flags"]
        self.o_mask = cap - 1
        self.cap_orders = cap
        if old:
            live = np.flatnonzero((old["o_id"] > 0) & ((old["o_flags"] & OrderFlag.RESTING) != 0))
            live = live[np.argsort(old["o_id"][live], kind="stable")]
            for j in live.tolist():
                oid = old["o_id"][j]
                s = self._ofree(oid)
                if s < 0:                       # crowded even at twice the size: grow again
                    return self._regrow(old, cap * 2)
                self.o_id[s] = oid
                for name in ("o_acct", "o_instr", "o_price", "o_open", "o_side", "o_flags"):
                    arr[name][s] = old[name][j]
        return 0

    cdef int _regrow(self, dict old, int64_t cap) except -1:
        """Re-place ``old``'s resting orders in a registry of ``cap`` slots."""
        self._np.update(old)
        self.o_id = old["o_id"]
        self.o_flags = old["o_flags"]
        self.cap_orders = old["o_id"].shape[0]
        self.o_mask = self.cap_orders - 1
        self.o_acct = old["o_acct"]
        self.o_instr = old["o_instr"]
        self.o_price = old["o_price"]
        self.o_open = old["o_open"]
        self.o_side = old["o_side"]
        return self._grow_orders(cap)

    cdef int64_t _oslot(self, int64_t oid) noexcept:
        """The registry slot of venue order ``oid``; -1 when it is not there (never placed,
        or dead and its slot reused). O(O_PROBE)."""
        cdef int64_t i, s
        if oid <= 0:
            return -1
        for i in range(O_PROBE):
            s = (oid + i) & self.o_mask
            if self.o_id[s] == oid:
                return s
        return -1

    cdef int64_t _os(self, int64_t oid) noexcept:
        """The slot of an order known to be in the registry (resting, or just placed)."""
        cdef int64_t s = oid & self.o_mask
        if self.o_id[s] == oid:
            return s
        return self._oslot(oid)

    cdef int64_t _ofree(self, int64_t oid) noexcept:
        """A slot for a new order ``oid``: empty or holding a dead order, within O_PROBE of
        its home; -1 when all are resting orders."""
        cdef int64_t i, s
        for i in range(O_PROBE):
            s = (oid + i) & self.o_mask
            if self.o_id[s] == 0 or self.o_id[s] == oid or not (self.o_flags[s] & OrderFlag.RESTING):
                return s
        return -1

    cdef int _emit(self, int kind, int code, int instr, int64_t acct, int64_t oid, int side,
                   int64_t price, int64_t qty, int64_t a1, int64_t a2, int64_t a3,
                   int flag) except -1:
        cdef EventRec* e
        cdef int64_t cap
        if self.n_ev == self.cap_ev:
            cap = self.cap_ev * 2 if self.cap_ev else 8192
            e = <EventRec*>realloc(self.ev, cap * sizeof(EventRec))
            if e == NULL:
                raise MemoryError()
            self.ev = e
            self.cap_ev = cap
        e = &self.ev[self.n_ev]
        self.seq += 1
        e.seq = self.seq
        e.ts = self.ts_now
        e.kind = kind
        e.code = code
        e.instr = instr
        e.acct = acct
        e.oid = oid
        e.side = <uint8_t>side
        e.price = price
        e.qty = qty
        e.a1 = a1
        e.a2 = a2
        e.a3 = a3
        e.flag = <uint8_t>flag
        e.pad = 0
        self.n_ev += 1
        return 0

    def emit(self, int kind, int code=0, int instr=-1, int64_t acct=-1, int64_t oid=0,
             int side=0, int64_t price=0, int64_t qty=0, int64_t a1=0, int64_t a2=0,
             int64_t a3=0, int flag=0):
        """Append one event record (used by the Python layers: funding, liquidation). O(1)."""
        self._emit(kind, code, instr, acct, oid, side, price, qty, a1, a2, a3, flag)
        return self.seq

    def emit_batch(self, int kind, int instr, const int64_t[:] accts, const int64_t[:] qtys,
                   const int64_t[:] a1s, int64_t price, int64_t a2, const uint8_t[:] flags):
        """Append one event per row (funding payments, bulk updates). O(n)."""
        cdef Py_ssize_t j, n = accts.shape[0]
        if qtys.shape[0] != n or a1s.shape[0] != n or flags.shape[0] != n:
            raise InvalidCommandError(f"'accts', 'qtys', 'a1s', 'flags' must have the same length (got {n}, "
                                      f"{qtys.shape[0]}, {a1s.shape[0]}, {flags.shape[0]})")
        for j in range(n):
            self._emit(kind, 0, instr, accts[j], 0, 0, price, qtys[j], a1s[j], a2, 0, flags[j])
        return self.seq

    def settle_funding(self, int instr, int64_t rate, int64_t price, int kind_paid,
                       int kind_settled):
        """Settle one funding payment on every open position of ``instr``: ``rate`` per 1e8 of
        the notional at ``price`` ticks (positive: longs pay shorts). Each payment is the
        ceiling of the signed exact amount ``size·price·k·rate / 1e8`` (a payer pays the
        rounded-up amount, a receiver gets the rounded-down amount), taken from the wallet of
        a cross position or the bucket of an isolated one; the sum of the payments (>= 0 when
        the sizes net to zero, less than the number of positions) goes to the fee pool, so
        money is conserved exactly. Records one ``kind_paid`` event per position (qty = size,
        a1 = payment, a2 = rate, flag = isolated) and one ``kind_settled`` event (qty =
        positions, a1 = remainder). All amounts are computed (and checked to fit in int64)
        before any balance moves. Returns the accounts that paid or received (int64 array).
        O(accounts)."""
        self._check_instr(instr)
        if price <= 0:
            raise InvalidCommandError(f"'price' must be > 0 ticks to settle funding (got {price})")
        if rate < -Scale.RATE_SCALE or rate > Scale.RATE_SCALE:
            raise InvalidCommandError(f"'rate' must be within [-1e8, 1e8] (got {rate})")
        cdef int64_t n = self.n_acct, a, m = 0, q, pay, rem = 0, j
        cdef object accts_np = np.empty(n, np.int64)
        cdef object pay_np = np.empty(n, np.int64)
        cdef int64_t[::1] accts = accts_np
        cdef int64_t[::1] pays = pay_np
        cdef int64_t k = self.k[instr]
        for a in range(n):
            q = self.size[instr, a]
            if q == 0:
                continue
            if funding_payment(q, price, k, rate, Scale.RATE_SCALE, &pay) != 0:
                raise InvalidCommandError(
                    f"funding payment of account {a} overflows int64 (size {q}, price {price}, rate {rate})")
            accts[m] = a
            pays[m] = pay
            m += 1
        for j in range(m):
            a = accts[j]
            pay = pays[j]
            if self.mode[instr, a] == 1:
                self.iso[instr, a] -= pay
            else:
                self.wallet[a] -= pay
            rem += pay
            self._emit(kind_paid, 0, instr, a, 0, 0, price, self.size[instr, a], pay, rate, 0,
                       self.mode[instr, a])
        if rem < 0:   # only when the sizes do not net to zero: check_invariants reports that
            raise LedgerInvariantError(f"funding payments of instrument {instr} sum to {rem} < 0")
        self.fee_pool += rem
        self._emit(kind_settled, 0, instr, -1, 0, 0, price, m, rem, rate, 0, 0)
        return accts_np[:m]

    def drain_events(self):
        """Event records since the last drain (EVENT_DTYPE); empties the buffer. O(n)."""
        cdef object out = np.empty(self.n_ev, EVENT_DTYPE)
        cdef uint8_t[::1] dst
        if self.n_ev:
            dst = out.view(np.uint8)
            memcpy(&dst[0], self.ev, self.n_ev * sizeof(EventRec))
        self.n_ev = 0
        return out

    @property
    def pending_events(self):
        return self.n_ev

    def set_time(self, int64_t ts_ns):
        """Advance the venue clock (integer ns); events carry it. Time never goes back."""
        if ts_ns < self.ts_now:
            raise InvalidCommandError(f"'ts_ns' must be >= the current time {self.ts_now} (got {ts_ns})")
        self.ts_now = ts_ns

    # ------------------------------------------------------------------ checks
    cdef int _check_acct(self, int64_t acct) except -1:
        if acct < 0 or acct >= self.n_acct:
            raise UnknownAccountError(f"'account' must be an open account id in [0, {self.n_acct}) (got {acct})")
        return 0

    cdef int _check_instr(self, int instr) except -1:
        if instr < 0 or instr >= self.n_instr:
            raise UnknownSymbolError(f"'instrument' must be an index in [0, {self.n_instr}) (got {instr})")
        return 0

    # ------------------------------------------------------------------ margin math
    cdef int64_t _ref_price(self, int instr, int64_t fallback) noexcept:
        """Mark price, else last trade, else the fallback."""
        if self.mark[instr] > 0:
            return self.mark[instr]
        if self.last[instr] > 0:
            return self.last[instr]
        return fallback

    cdef int64_t _upnl(self, int instr, int64_t acct) noexcept:
        cdef int64_t s = self.size[instr, acct]
        cdef int64_t p = self._ref_price(instr, 0)
        if s == 0 or p <= 0:
            return 0
        return s * p * self.k[instr] - self.cost[instr, acct]

    cdef int64_t _im_instr(self, int instr, int64_t acct, int64_t add_buy, int64_t add_sell,
                           int64_t* worst) noexcept:
        """Initial margin of a position plus its open orders: the worse of "every buy fills"
        and "every sell fills", at the mark for the position and at order prices for orders."""
        cdef int64_t pos = self.size[instr, acct] * self._ref_price(instr, 0) * self.k[instr]
        cdef int64_t lw = _abs(pos + self.buy_open[instr, acct] + add_buy)
        cdef int64_t sw = _abs(pos - self.sell_open[instr, acct] - add_sell)
        cdef int64_t w = lw if lw > sw else sw
        cdef int64_t L = self.lev[instr, acct]
        worst[0] = w
        if self.mode[instr, acct] == 1:      # isolated: the position's own IM sits in its bucket
            w = w - _abs(pos)
            if w <= 0:
                return 0
        return (w + L - 1) // L

    cdef int64_t _available(self, int64_t acct, int instr, int64_t add_buy,
                            int64_t add_sell) noexcept:
        """Cross equity minus the initial margin of everything, with a prospective order."""
        cdef int i
        cdef int64_t eq = self.wallet[acct], req = 0, w
        for i in range(self.n_instr):
            if self.size[i, acct] != 0 or self.cost[i, acct] != 0:
                if self.mode[i, acct] == 0:
                    eq += self._upnl(i, acct)
            if i == instr:
                req += self._im_instr(i, acct, add_buy, add_sell, &w)
            elif self.size[i, acct] != 0 or self.buy_open[i, acct] != 0 or self.sell_open[i, acct] != 0:
                req += self._im_instr(i, acct, 0, 0, &w)
        return eq - req

    cdef int64_t _max_notional_for_lev(self, int instr, int64_t L) noexcept:
        """Largest notional a position may reach at leverage L: the floor of the first tier
        whose maximum leverage is below L."""
        cdef int t
        for t in range(self.n_tiers[instr]):
            if self.tier_maxlev[instr, t] < L:
                return self.tier_floor[instr, t]
        return INT64_MAX

    cdef int64_t _mm_instr(self, int instr, int64_t notional) noexcept:
        """Maintenance margin = notional x MMR (rounded up) - maintenance amount of its tier.
        A notional equal to a floor belongs to the tier starting there (as
        InstrumentSpec.tier_for and MarginView): with cum deductions the MM is the same either
        way; with BitMEX's whole-position steps ("< 200 XBT: 0.50 %") it is the upper step's."""
        cdef int t = 0
        cdef int nt = <int>self.n_tiers[instr]
        while t + 1 < nt and notional >= self.tier_floor[instr, t + 1]:
            t += 1
        return muldiv_ceil(notional, self.tier_mmr[instr, t], Scale.RATE_SCALE) - self.tier_cum[instr, t]

    cdef int64_t _pos_mm(self, int instr, int64_t acct) noexcept:
        """Maintenance margin of one position on its instrument's basis: the notional at the
        mark (``maintenance_basis = "mark"``) or the position value at entry, |cost|
        (``"entry"``, Bybit: "Position Value = Contract Size x Entry Price", help centre
        "Liquidation Price (USDT Contract)", read 2026-12-02)."""
        if self.size[instr, acct] == 0:
            return 0
        if self.mm_entry[instr]:
            return self._mm_instr(instr, _abs(self.cost[instr, acct]))
        return self._mm_instr(instr, _abs(self.size[instr, acct] * self._ref_price(instr, 0) * self.k[instr]))

    cdef int64_t _withdraw_free(self, int64_t acct) noexcept:
        """What a withdrawal may take: cross equity minus max(initial margin of everything,
        sum over cross positions of wd_rate x notional at the mark). With every wd_rate 0 this
        is :meth:`available`. Hyperliquid: "transfer_margin_required = max(initial_margin_
        required, 0.1 * total_position_value)" (Hyperliquid docs, trading/margining, as
        mirrored at https://www.cortex-vigil.com/wiki/margining, read 2026-12-02)."""
        cdef int i
        cdef int64_t eq = self.wallet[acct], im = 0, floor = 0, w
        for i in range(self.n_instr):
            if self.size[i, acct] != 0 or self.cost[i, acct] != 0:
                if self.mode[i, acct] == 0:
                    eq += self._upnl(i, acct)
                    if self.wd_rate[i] and self.size[i, acct] != 0:
                        floor += muldiv_ceil(_abs(self.size[i, acct] * self._ref_price(i, 0) * self.k[i]),
                                             self.wd_rate[i], Scale.RATE_SCALE)
            if self.size[i, acct] != 0 or self.buy_open[i, acct] != 0 or self.sell_open[i, acct] != 0:
                im += self._im_instr(i, acct, 0, 0, &w)
        return eq - (im if im > floor else floor)

    # ------------------------------------------------------------------ accounts
    def open_account(self):
        """Open an account with default leverage on every instrument; returns its id. O(1)."""
        cdef int64_t a = self.n_acct
        cdef int i
        if a >= self.cap_acct:
            self._grow_accounts(a + 1)
        for i in range(self.n_instr):
            self.lev[i, a] = self.default_lev[i]
        self.n_acct += 1
        return a

    def open_accounts(self, int64_t count):
        """Open ``count`` accounts at once; returns the first id. O(count)."""
        if count < 1:
            raise InvalidCommandError(f"'count' must be >= 1 (got {count})")
        first = self.n_acct
        self._grow_accounts(self.n_acct + count)
        for i in range(self.n_instr):
            np.asarray(self.lev)[i, first:first + count] = self.default_lev[i]
        self.n_acct += count
        return first

    cpdef int deposit(self, int64_t acct, int64_t atoms) except -1:
        self._check_acct(acct)
        if atoms <= 0:
            raise InvalidCommandError(f"'amount' must be > 0 atoms (got {atoms})")
        self.wallet[acct] += atoms
        self.net_deposits += atoms
        self._emit(EventKind.DEPOSITED, 0, -1, acct, 0, 0, 0, 0, atoms, self.wallet[acct], 0, 0)
        return 0

    cpdef int withdraw(self, int64_t acct, int64_t atoms) except -1:
        """Refused (INSUFFICIENT_BALANCE / WITHDRAWAL_WOULD_BREACH_IM) when the wallet would go
        below zero, or the cross equity left would be below max(initial margin, wd_rate x
        cross notional) (:meth:`withdrawable`; wd_rate is the preset's withdrawal_margin_rate,
        Hyperliquid 10 %, else 0 and the floor is the initial margin)."""
        self._check_acct(acct)
        if atoms <= 0:
            raise InvalidCommandError(f"'amount' must be > 0 atoms (got {atoms})")
        if atoms > self.wallet[acct]:
            self._emit(EventKind.TRANSFER_REJECTED, RejectCode.INSUFFICIENT_BALANCE, -1, acct, 0, 0, 0, 0, atoms, 0, 0, 0)
            return RejectCode.INSUFFICIENT_BALANCE
        if self._withdraw_free(acct) - atoms < 0:
            self._emit(EventKind.TRANSFER_REJECTED, RejectCode.WITHDRAWAL_WOULD_BREACH_IM, -1, acct, 0, 0, 0, 0, atoms, 0, 0, 0)
            return RejectCode.WITHDRAWAL_WOULD_BREACH_IM
        self.wallet[acct] -= atoms
        self.net_deposits -= atoms
        self._emit(EventKind.WITHDRAWN, 0, -1, acct, 0, 0, 0, 0, atoms, self.wallet[acct], 0, 0)
        return 0

    cpdef int set_leverage(self, int64_t acct, int instr, int64_t leverage) except -1:
        """Capped by the tier of the current worst-case notional; refused if the extra
        initial margin is not free."""
        cdef int64_t old, w
        self._check_acct(acct)
        self._check_instr(instr)
        if leverage < 1 or leverage > self.tier_maxlev[instr, 0]:
            self._emit(EventKind.ORDER_REJECTED, RejectCode.INVALID_LEVERAGE, instr, acct, 0, 0, 0, leverage, 0, 0, 0, RejectedCommand.SET_LEVERAGE)
            return RejectCode.INVALID_LEVERAGE
        self._im_instr(instr, acct, 0, 0, &w)
        if w > self._max_notional_for_lev(instr, leverage):
            self._emit(EventKind.ORDER_REJECTED, RejectCode.LEVERAGE_ABOVE_TIER_MAX, instr, acct, 0, 0, 0, leverage, 0, 0, 0, RejectedCommand.SET_LEVERAGE)
            return RejectCode.LEVERAGE_ABOVE_TIER_MAX
        old = self.lev[instr, acct]
        self.lev[instr, acct] = leverage
        if self.mode[instr, acct] == 0 and self._available(acct, -1, 0, 0) < 0 and leverage < old:
            self.lev[instr, acct] = old
            self._emit(EventKind.ORDER_REJECTED, RejectCode.LEVERAGE_CHANGE_WOULD_BREACH_IM, instr, acct, 0, 0, 0, leverage, 0, 0, 0, RejectedCommand.SET_LEVERAGE)
            return RejectCode.LEVERAGE_CHANGE_WOULD_BREACH_IM
        self._emit(EventKind.LEVERAGE_SET, 0, instr, acct, 0, 0, 0, leverage, old, 0, 0, 0)
        return 0

    cpdef int set_margin_mode(self, int64_t acct, int instr, int isolated) except -1:
        """0 cross, 1 isolated; only without a position or open orders (as on Binance)."""
        self._check_acct(acct)
        self._check_instr(instr)
        if isolated not in (0, 1):
            raise InvalidCommandError(f"'isolated' must be 0 (cross) or 1 (isolated) (got {isolated})")
        if (self.size[instr, acct] != 0 or self.buy_open[instr, acct] != 0
                or self.sell_open[instr, acct] != 0 or self.iso[instr, acct] != 0):
            self._emit(EventKind.ORDER_REJECTED, RejectCode.MARGIN_MODE_CHANGE_WITH_OPEN_POSITION, instr, acct, 0, 0, 0, 0, 0, 0, 0, RejectedCommand.SET_MARGIN_MODE)
            return RejectCode.MARGIN_MODE_CHANGE_WITH_OPEN_POSITION
        self.mode[instr, acct] = <uint8_t>isolated
        self._emit(EventKind.MARGIN_MODE_SET, 0, instr, acct, 0, 0, 0, isolated, 0, 0, 0, 0)
        return 0

    cpdef int adjust_isolated_margin(self, int64_t acct, int instr, int64_t delta) except -1:
        """Move ``delta`` atoms from the wallet into the isolated bucket (negative: back).
        Removal may not leave the position's equity (bucket + uPnL) below max(its initial
        margin, wd_rate x its notional): Hyperliquid "Unrealized pnl can be withdrawn from
        isolated positions or cross account, but only if the remaining margin is at least 10%
        of the total notional position value" (docs, trading/margining, mirrored at
        https://docs.tings.xyz/core-mechanics/margining, read 2026-12-02); wd_rate 0 elsewhere."""
        cdef int64_t w, need, n, floor
        self._check_acct(acct)
        self._check_instr(instr)
        if self.mode[instr, acct] != 1 or self.size[instr, acct] == 0:
            raise InvalidCommandError(
                f"'instrument' {instr} must hold an isolated position for account {acct} to adjust its margin")
        if delta > 0 and delta > self._available(acct, -1, 0, 0):
            self._emit(EventKind.TRANSFER_REJECTED, RejectCode.INSUFFICIENT_BALANCE, instr, acct, 0, 0, 0, 0, delta, 0, 0, 0)
            return RejectCode.INSUFFICIENT_BALANCE
        if delta < 0:
            self._im_instr(instr, acct, 0, 0, &w)
            n = _abs(self.size[instr, acct] * self._ref_price(instr, 0) * self.k[instr])
            need = (n + self.lev[instr, acct] - 1) // self.lev[instr, acct]
            if self.wd_rate[instr]:
                floor = muldiv_ceil(n, self.wd_rate[instr], Scale.RATE_SCALE)
                if floor > need:
                    need = floor
            if self.iso[instr, acct] + self._upnl(instr, acct) + delta < need or -delta > self.iso[instr, acct]:
                self._emit(EventKind.TRANSFER_REJECTED, RejectCode.MARGIN_REMOVAL_WOULD_BREACH_IM, instr, acct, 0, 0, 0, 0, delta, 0, 0, 0)
                return RejectCode.MARGIN_REMOVAL_WOULD_BREACH_IM
        self.wallet[acct] -= delta
        self.iso[instr, acct] += delta
        self._emit(EventKind.ISOLATED_MARGIN_CHANGED, 0, instr, acct, 0, 0, 0, 0, delta, self.iso[instr, acct], 0, 0)
        return 0

    def set_account_flag(self, int64_t acct, bint in_liquidation):
        """Mark an account as being liquidated (new orders are refused) or release it."""
        self._check_acct(acct)
        self.acct_flags[acct] = 1 if in_liquidation else 0

    # ------------------------------------------------------------------ prices
    cpdef int set_mark(self, int instr, int64_t mark_ticks, int64_t index_ticks=0) except -1:
        self._check_instr(instr)
        if mark_ticks <= 0:
            raise InvalidCommandError(f"'mark' must be > 0 ticks (got {mark_ticks})")
        self.mark[instr] = mark_ticks
        if index_ticks > 0:
            self.index[instr] = index_ticks
        self._emit(EventKind.MARK_PRICE_UPDATED, 0, instr, -1, 0, 0, mark_ticks, 0, index_ticks, 0, 0, 0)
        return 0

    # ------------------------------------------------------------------ settlement
    cdef int _apply_trade(self, int instr, int64_t acct, int64_t dq, int64_t price,
                          int64_t* realised) except -1:
        """Book a trade of signed ``dq`` lots at ``price`` into the position; realised PnL
        goes to the wallet (cross) or the bucket (isolated, which then releases the closed
        share of its margin to the wallet)."""
        cdef int64_t k = self.k[instr]
        cdef int64_t s = self.size[instr, acct]
        cdef int64_t c = self.cost[instr, acct]
        cdef int64_t aq = _abs(dq), close, rem, removed, n_close, r = 0, released, im
        cdef int64_t L = self.lev[instr, acct]
        cdef bint isolated = self.mode[instr, acct] == 1
        cdef int sgn = 1 if dq > 0 else -1
        if s == 0 or (s > 0) == (dq > 0):
            self.size[instr, acct] = s + dq
            self.cost[instr, acct] = c + sgn * aq * price * k
            if isolated:
                im = (aq * price * k + L - 1) // L
                self.wallet[acct] -= im
                self.iso[instr, acct] += im
            realised[0] = 0
            return 0
        close = aq if aq < _abs(s) else _abs(s)
        rem = aq - close
        removed = c if close == _abs(s) else muldiv_ceil(c, close, _abs(s))
        n_close = close * price * k
        r = (n_close - removed) if s > 0 else (-removed - n_close)
        self.cost[instr, acct] = c - removed
        self.size[instr, acct] = s + sgn * close
        if isolated:
            self.iso[instr, acct] += r
            if self.size[instr, acct] == 0:
                released = self.iso[instr, acct] if self.iso[instr, acct] > 0 else 0
                if self.iso[instr, acct] < 0 and self.acct_flags[acct] == 0:
                    self._cover_flat_isolated(instr, acct)
            elif self.iso[instr, acct] > 0:
                released = muldiv_floor(self.iso[instr, acct], close, _abs(s))
            else:
                released = 0
            self.iso[instr, acct] -= released
            self.wallet[acct] += released
        else:
            self.wallet[acct] += r
        if rem > 0:
            self.size[instr, acct] += sgn * rem
            self.cost[instr, acct] += sgn * rem * price * k
            if isolated:
                im = (rem * price * k + L - 1) // L
                self.wallet[acct] -= im
                self.iso[instr, acct] += im
        realised[0] = r
        return 0

    cdef int _cover_flat_isolated(self, int instr, int64_t acct) except -1:
        """An isolated position closed flat with a negative bucket, outside liquidation (the
        loss of the close, or funding debited from the bucket, exceeded its margin): the
        isolated margin is the most the trader can lose, so the remainder is the venue's —
        the insurance fund pays it up to its balance, the rest is bad debt — and the bucket
        ends at zero (issue 18; a bucket nobody settles is money owed to nobody).

        Venue rule: isolated losses are capped at the position's margin ("Isolated: position
        owns margin_iso ... losses capped at it", reference §3 "Cross vs isolated", from the
        Binance, Bybit and Hyperliquid docs); a deficit beyond the margin is covered by the
        insurance fund ("negative wallet reset to 0 by the fund", reference §4.1, Binance FAQ
        https://www.binance.com/en/support/faq/360033525371, read 2026-12-02), bad debt when
        the fund is empty (DESIGN.md "Liquidation waterfall"). Accounts in liquidation are
        left to the waterfall, which books the deficit itself. Events: LedgerMoved from the
        insurance fund and/or the bad-debt account into the bucket, reason
        ``LedgerReason.ISOLATED_COVER`` (99: a payment of the venue, no liquidation module's; the
        insurance metrics count it as paid by the fund). O(1)."""
        cdef int64_t deficit = -self.iso[instr, acct]
        cdef int64_t pay = deficit if deficit < self.insurance else self.insurance
        if pay < 0:
            pay = 0
        if pay > 0:
            self.insurance -= pay
            self.iso[instr, acct] += pay
            self._emit(EventKind.LEDGER_MOVED, LedgerReason.ISOLATED_COVER, instr, -1, 0, 0, LedgerKind.INSURANCE,
                       LedgerKind.ISOLATED, pay,
                       acct, 0, 0)
        if deficit > pay:
            self.bad_debt -= deficit - pay
            self.iso[instr, acct] += deficit - pay
            self._emit(EventKind.LEDGER_MOVED, LedgerReason.ISOLATED_COVER, instr, -1, 0, 0, LedgerKind.BAD_DEBT,
                       LedgerKind.ISOLATED,
                       deficit - pay, acct, 0, 0)
        return 0

    cdef int _settle_fill(self, int instr, int64_t acct, int64_t oid, int side, int64_t price,
                          int64_t qty, int64_t fee_rate, int liquidity, int64_t counter_oid,
                          bint fee_to_insurance) except -1:
        cdef int64_t realised, fee
        cdef int64_t notional = qty * price * self.k[instr]
        self._apply_trade(instr, acct, qty if side == 0 else -qty, price, &realised)
        fee = _fee(notional, fee_rate)
        self.wallet[acct] -= fee
        if fee_to_insurance:
            self.insurance += fee
        else:
            self.fee_pool += fee
        self._emit(EventKind.ORDER_FILLED, 0, instr, acct, oid, side, price, qty, fee, realised,
                   counter_oid, liquidity)
        return 0

    cdef int _order_exposure(self, int64_t oid, int sign) noexcept:
        """Add (sign=1) or remove (sign=-1) a resting order's notional from its account's
        open-order exposure (reduce-only orders carry none)."""
        cdef int instr = self.o_instr[self._os(oid)]
        cdef int64_t acct = self.o_acct[self._os(oid)]
        cdef int64_t n
        if self.o_flags[self._os(oid)] & OrderFlag.REDUCE_ONLY:
            return 0
        n = sign * self.o_open[self._os(oid)] * self.o_price[self._os(oid)] * self.k[instr]
        if self.o_side[self._os(oid)] == 0:
            self.buy_open[instr, acct] += n
        else:
            self.sell_open[instr, acct] += n
        return 0

    cdef int _after_match(self, int instr, int64_t taker_oid, int64_t taker_acct, int side,
                          int64_t fee_rate, bint liquidation) except -1:
        """Settle every fill and expiry the book produced for one taker command."""
        cdef Book book = <Book>self.books[instr]
        cdef int64_t i, moid, macct, q, price, n = book.n_fills
        cdef Fill* f
        cdef Expired* x
        for i in range(n):
            f = &book.fills[i]
            moid = f.maker_oid
            q = f.qty
            price = f.price
            macct = self.o_acct[self._os(moid)]
            # maker: its open exposure shrinks by what traded
            if not (self.o_flags[self._os(moid)] & OrderFlag.REDUCE_ONLY):
                if self.o_side[self._os(moid)] == 0:
                    self.buy_open[instr, macct] -= q * price * self.k[instr]
                else:
                    self.sell_open[instr, macct] -= q * price * self.k[instr]
            self.o_open[self._os(moid)] -= q
            if f.maker_done:
                self.o_flags[self._os(moid)] &= ~OrderFlag.RESTING
            self._settle_fill(instr, macct, moid, 1 - side, price, q, self.maker_fee[instr], 0,
                              taker_oid, False)
            if liquidation:
                self._settle_fill(instr, taker_acct, taker_oid, side, price, q,
                                  self.liq_fee[instr], 1, moid, True)
            else:
                self._settle_fill(instr, taker_acct, taker_oid, side, price, q, fee_rate, 1, moid,
                                  False)
            self.last[instr] = price
        self.n_fills_total += n
        book.n_fills = 0
        for i in range(book.n_expired):
            x = &book.expired[i]
            moid = x.oid
            self._order_exposure(moid, -1)
            self.o_open[self._os(moid)] = 0
            self.o_flags[self._os(moid)] &= ~OrderFlag.RESTING
            self._emit(EventKind.ORDER_CANCELED, CancelReason.CANCEL_STP, instr, self.o_acct[self._os(moid)], moid, x.side,
                       x.price, x.qty, 0, 0, 0, 0)
        book.n_expired = 0
        return 0

    cdef int _record_order(self, int64_t oid, int64_t acct, int instr, int side, int64_t price,
                           int flags) except -1:
        """Write a venue order into the registry (open lots 0 until it rests)."""
        cdef int64_t s = self._ofree(oid)
        while s < 0:
            self._grow_orders(self.cap_orders * 2)
            s = self._ofree(oid)
        self.o_id[s] = oid
        self.o_acct[self._os(oid)] = acct
        self.o_instr[self._os(oid)] = instr
        self.o_price[self._os(oid)] = price
        self.o_side[self._os(oid)] = <uint8_t>side
        self.o_flags[self._os(oid)] = <uint8_t>flags
        self.o_open[self._os(oid)] = 0
        return 0

    cdef int64_t _register_order(self, int64_t acct, int instr, int side, int64_t price,
                                 int flags) except -1:
        """Take the next venue order id and record the order under it."""
        cdef int64_t oid = self.next_oid
        self.next_oid += 1
        self.last_oid = oid
        self._record_order(oid, acct, instr, side, price, flags)
        return oid

    cdef int _drop_resting(self, int64_t oid, int reason) except -1:
        """Take a resting order out of its book and the account's exposure; OrderCanceled."""
        cdef Book book = <Book>self.books[self.o_instr[self._os(oid)]]
        book.cancel_c(oid)
        self._order_exposure(oid, -1)
        self._emit(EventKind.ORDER_CANCELED, reason, self.o_instr[self._os(oid)], self.o_acct[self._os(oid)], oid,
                   self.o_side[self._os(oid)], self.o_price[self._os(oid)], self.o_open[self._os(oid)], 0, 0, 0, 0)
        self.o_open[self._os(oid)] = 0
        self.o_flags[self._os(oid)] &= ~OrderFlag.RESTING
        return 0

    # ------------------------------------------------------------------ orders
    cpdef int submit(self, int64_t acct, int instr, int side, int64_t qty, int64_t price=0,
                     int otype=OrderType.LIMIT, int tif=0, bint reduce_only=False,
                     int64_t protect_price=0, int stp=0) except -1:
        """risk → matching → settlement for one order. Returns 0 (accepted; ``last_oid``,
        ``last_filled``, ``last_rested`` describe it) or a RejectReason value (an
        OrderRejected event was recorded and nothing else changed).
        O(fills + instruments)."""
        cdef Book book
        cdef int64_t oid, notional, ref, add_buy = 0, add_sell = 0, w, pos, k
        cdef int code, flags = 0
        self._check_acct(acct)
        self._check_instr(instr)
        if side != 0 and side != 1:
            raise InvalidCommandError(f"'side' must be 0 (BUY) or 1 (SELL) (got {side})")
        if qty <= 0:
            raise InvalidCommandError(f"'qty' must be > 0 lots (got {qty})")
        if otype == OrderType.LIMIT:
            if price <= 0:
                raise InvalidCommandError(f"'price' must be > 0 ticks for a limit order (got {price})")
        elif otype != OrderType.MARKET:
            raise InvalidCommandError(f"'otype' must be 0 (LIMIT) or 1 (MARKET) (got {otype})")
        oid = self.next_oid
        self.next_oid += 1
        self.last_oid = oid
        self.last_filled = 0
        self.last_rested = 0
        k = self.k[instr]
        ref = self._ref_price(instr, price)
        code = 0
        # -- validation (1xxx) and account state (4xxx)
        if self.acct_flags[acct] & 1:
            code = RejectCode.ACCOUNT_IN_LIQUIDATION
        elif qty > (self.max_lots[instr] if otype == OrderType.LIMIT else self.max_mkt_lots[instr]):
            code = RejectCode.ABOVE_MAX_QTY
        elif otype == OrderType.LIMIT and self.band[instr] > 0 and self.mark[instr] > 0 and (
                _abs(price - self.mark[instr]) * Scale.RATE_SCALE > self.band[instr] * self.mark[instr]):
            code = RejectCode.PRICE_OUT_OF_BAND
        if code == 0:
            pos = self.size[instr, acct]
            if reduce_only:
                flags |= OrderFlag.REDUCE_ONLY
                if pos == 0 or (pos > 0) == (side == 0):
                    code = RejectCode.REDUCE_ONLY_WOULD_INCREASE
                elif qty > _abs(pos):
                    qty = _abs(pos)               # resized to the position, as venues do
            elif ref > 0 and qty * ref * k < self.min_notional[instr]:
                code = RejectCode.BELOW_MIN_NOTIONAL
        # -- pre-trade risk (2xxx)
        if code == 0 and not reduce_only:
            notional = qty * (price if otype == OrderType.LIMIT else ref) * k
            if side == 0:
                add_buy = notional
            else:
                add_sell = notional
            if self._available(acct, instr, add_buy, add_sell) < 0:
                code = RejectCode.INSUFFICIENT_MARGIN
            else:
                self._im_instr(instr, acct, add_buy, add_sell, &w)
                if w > self._max_notional_for_lev(instr, self.lev[instr, acct]):
                    code = RejectCode.POSITION_LIMIT_EXCEEDED
        if code != 0:
            self._emit(EventKind.ORDER_REJECTED, code, instr, acct, oid, side, price, qty, otype, tif, 0, RejectedCommand.SUBMIT_ORDER)
            return code
        # -- matching (3xxx)
        book = <Book>self.books[instr]
        if otype == OrderType.LIMIT:
            code = book.limit_c(oid, side, price, qty, tif, acct, stp)
        else:
            code = book.market_c(oid, side, qty, protect_price, acct, stp)
        if code != 0:
            self._emit(EventKind.ORDER_REJECTED, code, instr, acct, oid, side, price, qty, otype, tif, 0, RejectedCommand.SUBMIT_ORDER)
            return code
        self._record_order(oid, acct, instr, side, price, flags)
        self._emit(EventKind.ORDER_ACCEPTED, 0, instr, acct, oid, side, price, qty, otype, tif,
                   reduce_only, 0)
        self.last_filled = book.last_filled
        self.last_rested = book.last_rested
        # -- settlement
        self._after_match(instr, oid, acct, side, self.taker_fee[instr], False)
        if book.last_rested > 0:
            self.o_open[self._os(oid)] = book.last_rested
            self.o_flags[self._os(oid)] |= OrderFlag.RESTING
            self._order_exposure(oid, 1)
        elif qty > book.last_filled:
            self._emit(EventKind.ORDER_CANCELED, CancelReason.CANCEL_STP if book.last_expire == EXPIRE_STP else CancelReason.CANCEL_IOC,
                       instr, acct, oid, side, price, qty - book.last_filled, 0, 0, 0, 0)
        return 0

    cpdef int liquidation_order(self, int64_t acct, int instr, int side, int64_t qty,
                                int64_t limit_price) except -1:
        """An IOC order on behalf of the venue: no risk checks, liquidation fee to the
        insurance fund. ``limit_price`` 0 = market. Returns the lots filled. O(fills)."""
        cdef Book book = <Book>self.books[instr]
        cdef int64_t oid
        self._check_acct(acct)
        self._check_instr(instr)
        if qty <= 0:
            raise InvalidCommandError(f"'qty' must be > 0 lots (got {qty})")
        oid = self._register_order(acct, instr, side, limit_price, OrderFlag.LIQUIDATION | OrderFlag.REDUCE_ONLY)
        if limit_price > 0:
            book.limit_c(oid, side, limit_price, qty, 1, acct, 0)
        else:
            book.market_c(oid, side, qty, 0, acct, 0)
        self._emit(EventKind.ORDER_ACCEPTED, 0, instr, acct, oid, side, limit_price, qty,
                   OrderType.LIMIT if limit_price > 0 else OrderType.MARKET, 1, 1, 1)
        self.last_filled = book.last_filled
        self._after_match(instr, oid, acct, side, 0, True)
        if qty > book.last_filled:
            self._emit(EventKind.ORDER_CANCELED, CancelReason.CANCEL_IOC, instr, acct, oid, side, limit_price,
                       qty - book.last_filled, 0, 0, 0, 1)
        return book.last_filled

    cpdef int cancel(self, int64_t acct, int64_t oid) except -1:
        """Cancel a resting order of ``acct``; UNKNOWN_ORDER if it is not one. O(1)."""
        self._check_acct(acct)
        if oid <= 0 or oid >= self.next_oid or self._oslot(oid) < 0 or self.o_acct[self._os(oid)] != acct \
                or not (self.o_flags[self._os(oid)] & OrderFlag.RESTING):
            self._emit(EventKind.ORDER_REJECTED, RejectCode.UNKNOWN_ORDER, -1, acct, oid, 0, 0, 0, 0, 0, 0, RejectedCommand.CANCEL_ORDER)
            return RejectCode.UNKNOWN_ORDER
        self._drop_resting(oid, CancelReason.CANCEL_USER)
        return 0

    def cancel_all(self, int64_t acct, int instr=-1, int reason=CancelReason.CANCEL_USER):
        """Cancel every resting order of an account (on one instrument or all). O(orders)."""
        cdef int64_t oid, n = 0
        self._check_acct(acct)
        for oid in self.open_order_ids(acct, instr):
            self._drop_resting(oid, reason)
            n += 1
        return n

    cpdef int amend(self, int64_t acct, int64_t oid, int64_t qty, int64_t price=0) except -1:
        """Change a resting order's quantity and/or price (quantity down at the same price keeps
        queue priority); risk-checked like a new order. O(fills)."""
        cdef Book book
        cdef int instr, side, code
        cdef int64_t old_open, new_price, add_buy = 0, add_sell = 0, n
        self._check_acct(acct)
        if qty <= 0:
            raise InvalidCommandError(f"'qty' must be > 0 lots (got {qty})")
        if price < 0:
            raise InvalidCommandError(f"'price' must be > 0 ticks, or 0 to keep it (got {price})")
        if oid <= 0 or oid >= self.next_oid or self._oslot(oid) < 0 or self.o_acct[self._os(oid)] != acct \
                or not (self.o_flags[self._os(oid)] & OrderFlag.RESTING):
            self._emit(EventKind.ORDER_REJECTED, RejectCode.UNKNOWN_ORDER, -1, acct, oid, 0, price, qty, 0, 0, 0, RejectedCommand.AMEND_ORDER)
            return RejectCode.UNKNOWN_ORDER
        instr = self.o_instr[self._os(oid)]
        side = self.o_side[self._os(oid)]
        new_price = price if price > 0 else self.o_price[self._os(oid)]
        book = <Book>self.books[instr]
        self._order_exposure(oid, -1)
        old_open = self.o_open[self._os(oid)]
        if not (self.o_flags[self._os(oid)] & OrderFlag.REDUCE_ONLY):
            n = qty * new_price * self.k[instr]
            if side == 0:
                add_buy = n
            else:
                add_sell = n
            if self._available(acct, instr, add_buy, add_sell) < 0:
                self._order_exposure(oid, 1)
                self._emit(EventKind.ORDER_REJECTED, RejectCode.INSUFFICIENT_MARGIN, instr, acct, oid, side, new_price, qty, 0, 0, 0, RejectedCommand.AMEND_ORDER)
                return RejectCode.INSUFFICIENT_MARGIN
        code = book.amend_c(oid, qty, new_price)
        if code != 0:
            self._order_exposure(oid, 1)
            self._emit(EventKind.ORDER_REJECTED, code, instr, acct, oid, side, new_price, qty, 0, 0, 0, RejectedCommand.AMEND_ORDER)
            return code
        self.o_price[self._os(oid)] = new_price
        self.o_open[self._os(oid)] = 0
        self._emit(EventKind.ORDER_AMENDED, 0, instr, acct, oid, side, new_price, qty, old_open, 0, 0, 0)
        self._after_match(instr, oid, acct, side, self.taker_fee[instr], False)
        self.last_filled = book.last_filled
        self.last_rested = book.last_rested
        if book.last_rested > 0:
            self.o_open[self._os(oid)] = book.last_rested
            self._order_exposure(oid, 1)
        else:
            self.o_flags[self._os(oid)] &= ~OrderFlag.RESTING
        return 0

    @property
    def order_slots(self):
        """Slots of the order registry (grows with the resting orders, not with every order
        ever placed)."""
        return self.cap_orders

    def open_order_ids(self, int64_t acct, int instr=-1):
        """Venue ids of the account's resting orders, oldest first. O(registry slots)."""
        self._check_acct(acct)
        slots = np.flatnonzero((np.asarray(self.o_acct) == acct) & (np.asarray(self.o_id) > 0)
                               & ((np.asarray(self.o_flags) & OrderFlag.RESTING) != 0))
        if instr >= 0:
            slots = slots[np.asarray(self.o_instr)[slots] == instr]
        return np.sort(np.asarray(self.o_id)[slots]).tolist()

    def order_info(self, int64_t oid):
        """(account, instrument, side, price, open lots, flags) of a venue order id; an
        order no longer in the registry (dead: filled or cancelled, its slot reused) gives
        account -1 and flags 0."""
        if oid <= 0 or oid >= self.next_oid:
            raise InvalidCommandError(f"'oid' must be a venue order id in [1, {self.next_oid}) (got {oid})")
        if self._oslot(oid) < 0:
            return (-1, 0, 0, 0, 0, 0)       # dead, and its registry slot reused
        return (self.o_acct[self._os(oid)], self.o_instr[self._os(oid)], self.o_side[self._os(oid)], self.o_price[self._os(oid)],
                self.o_open[self._os(oid)], self.o_flags[self._os(oid)])

    # ------------------------------------------------------------------ off-book moves
    cpdef int transfer_position(self, int64_t from_acct, int64_t to_acct, int instr,
                                int64_t qty, int64_t price, int code=0) except -1:
        """Move ``qty`` lots of ``from_acct``'s position to ``to_acct`` at ``price`` (a trade
        off the book, no fees): backstop takeovers and ADL. ``qty`` > 0 sells from
        ``from_acct`` (it was long). Returns 0. O(instruments)."""
        cdef int64_t r1, r2
        self._check_acct(from_acct)
        self._check_acct(to_acct)
        self._check_instr(instr)
        if qty == 0 or price <= 0:
            raise InvalidCommandError(f"'qty' must be != 0 and 'price' > 0 (got {qty}, {price})")
        self._apply_trade(instr, from_acct, -qty, price, &r1)
        self._apply_trade(instr, to_acct, qty, price, &r2)
        self._emit(EventKind.POSITION_TRANSFERRED, code, instr, from_acct, 0, 1 if qty > 0 else 0, price,
                   _abs(qty), to_acct, r1, r2, 0)
        return 0

    cpdef int ledger_move(self, int from_kind, int64_t from_acct, int to_kind, int64_t to_acct,
                          int64_t atoms, int instr=-1, int code=0) except -1:
        """Move money between ledger accounts (wallet, isolated bucket, fee pool, insurance,
        bad debt). Conservation holds by construction. O(1)."""
        cdef int64_t* src
        cdef int64_t* dst
        src = self._ledger_slot(from_kind, from_acct, instr)
        dst = self._ledger_slot(to_kind, to_acct, instr)
        src[0] -= atoms
        dst[0] += atoms
        self._emit(EventKind.LEDGER_MOVED, code, instr, from_acct, 0, 0, from_kind, to_kind, atoms,
                   to_acct, 0, 0)
        return 0

    cdef int64_t* _ledger_slot(self, int kind, int64_t acct, int instr) except NULL:
        if kind == LedgerKind.WALLET:
            self._check_acct(acct)
            return &self.wallet[acct]
        if kind == LedgerKind.ISOLATED:
            self._check_acct(acct)
            self._check_instr(instr)
            return &self.iso[instr, acct]
        if kind == LedgerKind.FEE_POOL:
            return &self.fee_pool
        if kind == LedgerKind.INSURANCE:
            return &self.insurance
        if kind == LedgerKind.BAD_DEBT:
            return &self.bad_debt
        raise InvalidCommandError(f"'kind' must be one of {LEDGER_KINDS} (got {kind})")

    def fund_insurance(self, int64_t atoms):
        """Seed the insurance fund (counts as a deposit into the venue)."""
        if atoms < 0:
            raise InvalidCommandError(f"'amount' must be >= 0 atoms (got {atoms})")
        self.insurance += atoms
        self.net_deposits += atoms

    # ------------------------------------------------------------------ batch commands
    # Used by the vectorised liquidation engine (exchange.liquidation): one Python call per
    # batch, the per-item work in C. Each item does exactly what the single command does and
    # records the same events.

    cdef int _liquidate_c(self, int64_t acct, int instr, int side, int64_t qty,
                          int64_t limit_price, int tif, int64_t* out, list makers) except -1:
        """:meth:`liquidation_order` without argument checks, as an IOC limit (``limit_price``
        0 = no limit; ``tif`` 2 = fill-or-kill). Writes lots filled, notional and liquidation
        fee to ``out[0..2]`` and appends the maker accounts it traded with to ``makers``
        (consecutive duplicates dropped). O(fills)."""
        cdef Book book = <Book>self.books[instr]
        cdef int64_t oid, i, n, q, nq, notional = 0, fee = 0, macct, last_maker = -1
        cdef Fill* f
        oid = self._register_order(acct, instr, side, limit_price, OrderFlag.LIQUIDATION | OrderFlag.REDUCE_ONLY)
        out[0] = 0
        out[1] = 0
        out[2] = 0
        if tif == 2 and not book._fok_fillable(side, qty, limit_price > 0, limit_price, acct, 0):
            self._emit(EventKind.ORDER_REJECTED, RejectCode.FOK_NOT_FILLABLE, instr, acct, oid, side, limit_price, qty,
                       OrderType.LIMIT, 2, 1, 1)
            return 0
        # a market order with a protection price is an IOC limit without the book's window check
        book.market_c(oid, side, qty, limit_price, acct, 0)
        self._emit(EventKind.ORDER_ACCEPTED, 0, instr, acct, oid, side, limit_price, qty,
                   OrderType.LIMIT if limit_price > 0 else OrderType.MARKET, tif, 1, 1)
        n = book.n_fills
        for i in range(n):
            f = &book.fills[i]
            q = f.qty
            nq = q * f.price * self.k[instr]
            notional += nq
            fee += _fee(nq, self.liq_fee[instr])
            macct = self.o_acct[self._os(f.maker_oid)]
            if macct != last_maker:
                makers.append(macct)
                last_maker = macct
        self.last_filled = book.last_filled
        self._after_match(instr, oid, acct, side, 0, True)
        if qty > book.last_filled:
            self._emit(EventKind.ORDER_CANCELED, CancelReason.CANCEL_IOC, instr, acct, oid, side, limit_price,
                       qty - book.last_filled, 0, 0, 0, 1)
        out[0] = book.last_filled
        out[1] = notional
        out[2] = fee
        return 0

    def liquidation_orders(self, accts, int instr, sides, qtys, limit_prices, int tif=1):
        """Many :meth:`liquidation_order` calls in one: item ``j`` sends ``qtys[j]`` lots of
        ``accts[j]`` on ``sides[j]`` limited at ``limit_prices[j]`` (0 = market), in order.
        ``tif`` 1 IOC, 2 fill-or-kill. Returns ``(filled, notional, fee, makers)``: int64 arrays
        of lots filled, traded notional (atoms) and liquidation fee per item, and the maker
        accounts that traded (may repeat). O(items + fills)."""
        cdef const int64_t[::1] a = np.ascontiguousarray(accts, dtype=np.int64)
        cdef const int64_t[::1] s = np.ascontiguousarray(sides, dtype=np.int64)
        cdef const int64_t[::1] q = np.ascontiguousarray(qtys, dtype=np.int64)
        cdef const int64_t[::1] lp = np.ascontiguousarray(limit_prices, dtype=np.int64)
        cdef int64_t n = a.shape[0], j
        cdef int64_t out3[3]
        self._check_instr(instr)
        if s.shape[0] != n or q.shape[0] != n or lp.shape[0] != n:
            raise InvalidCommandError(f"'accts', 'sides', 'qtys' and 'limit_prices' must have one length (got {n}, {s.shape[0]}, {q.shape[0]}, {lp.shape[0]})")
        if tif != 1 and tif != 2:
            raise InvalidCommandError(f"'tif' must be 1 (IOC) or 2 (FOK) (got {tif})")
        for j in range(n):
            self._check_acct(a[j])
            if q[j] <= 0:
                raise InvalidCommandError(f"'qtys[{j}]' must be > 0 lots (got {q[j]})")
            if s[j] != 0 and s[j] != 1:
                raise InvalidCommandError(f"'sides[{j}]' must be 0 (BUY) or 1 (SELL) (got {s[j]})")
            if lp[j] < 0:
                raise InvalidCommandError(f"'limit_prices[{j}]' must be >= 0 ticks (got {lp[j]})")
        filled = np.zeros(n, np.int64)
        notional = np.zeros(n, np.int64)
        fee = np.zeros(n, np.int64)
        cdef int64_t[::1] fv = filled, nv = notional, ev = fee
        makers = []
        for j in range(n):
            self._liquidate_c(a[j], instr, <int>s[j], q[j], lp[j], tif, out3, makers)
            fv[j] = out3[0]
            nv[j] = out3[1]
            ev[j] = out3[2]
        return filled, notional, fee, np.array(makers, dtype=np.int64)

    def transfer_positions(self, from_accts, to_accts, int instr, qtys, prices, int code=0):
        """Many :meth:`transfer_position` calls in one (same checks, same events), in order.
        O(items)."""
        cdef const int64_t[::1] fa = np.ascontiguousarray(from_accts, dtype=np.int64)
        cdef const int64_t[::1] ta = np.ascontiguousarray(to_accts, dtype=np.int64)
        cdef const int64_t[::1] q = np.ascontiguousarray(qtys, dtype=np.int64)
        cdef const int64_t[::1] p = np.ascontiguousarray(prices, dtype=np.int64)
        cdef int64_t n = fa.shape[0], j
        if ta.shape[0] != n or q.shape[0] != n or p.shape[0] != n:
            raise InvalidCommandError(f"'from_accts', 'to_accts', 'qtys' and 'prices' must have one length (got {n}, {ta.shape[0]}, {q.shape[0]}, {p.shape[0]})")
        for j in range(n):
            self.transfer_position(fa[j], ta[j], instr, q[j], p[j], code)
        return n

    def ledger_moves(self, from_kinds, from_accts, to_kinds, to_accts, atoms, instrs, int code=0):
        """Many :meth:`ledger_move` calls in one; every argument is an array of one length
        (``instrs`` matters for isolated buckets). O(items)."""
        cdef const int64_t[::1] fk = np.ascontiguousarray(from_kinds, dtype=np.int64)
        cdef const int64_t[::1] fa = np.ascontiguousarray(from_accts, dtype=np.int64)
        cdef const int64_t[::1] tk = np.ascontiguousarray(to_kinds, dtype=np.int64)
        cdef const int64_t[::1] ta = np.ascontiguousarray(to_accts, dtype=np.int64)
        cdef const int64_t[::1] m = np.ascontiguousarray(atoms, dtype=np.int64)
        cdef const int64_t[::1] ins = np.ascontiguousarray(instrs, dtype=np.int64)
        cdef int64_t n = fa.shape[0], j
        if (fk.shape[0] != n or tk.shape[0] != n or ta.shape[0] != n or m.shape[0] != n
                or ins.shape[0] != n):
            raise InvalidCommandError(f"every argument of 'ledger_moves' must have length {n}")
        for j in range(n):
            self.ledger_move(<int>fk[j], fa[j], <int>tk[j], ta[j], m[j], <int>ins[j], code)
        return n

    def emit_many(self, int kind, codes, instrs, accts, oids, sides, prices, qtys, a1, a2, a3,
                  flags):
        """Append one event record per item (arrays of one length, int64). O(items)."""
        cdef const int64_t[::1] c = np.ascontiguousarray(codes, dtype=np.int64)
        cdef const int64_t[::1] ins = np.ascontiguousarray(instrs, dtype=np.int64)
        cdef const int64_t[::1] ac = np.ascontiguousarray(accts, dtype=np.int64)
        cdef const int64_t[::1] oi = np.ascontiguousarray(oids, dtype=np.int64)
        cdef const int64_t[::1] sd = np.ascontiguousarray(sides, dtype=np.int64)
        cdef const int64_t[::1] pr = np.ascontiguousarray(prices, dtype=np.int64)
        cdef const int64_t[::1] qt = np.ascontiguousarray(qtys, dtype=np.int64)
        cdef const int64_t[::1] x1 = np.ascontiguousarray(a1, dtype=np.int64)
        cdef const int64_t[::1] x2 = np.ascontiguousarray(a2, dtype=np.int64)
        cdef const int64_t[::1] x3 = np.ascontiguousarray(a3, dtype=np.int64)
        cdef const int64_t[::1] fl = np.ascontiguousarray(flags, dtype=np.int64)
        cdef int64_t n = ac.shape[0], j
        if (c.shape[0] != n or ins.shape[0] != n or oi.shape[0] != n or sd.shape[0] != n
                or pr.shape[0] != n or qt.shape[0] != n or x1.shape[0] != n or x2.shape[0] != n
                or x3.shape[0] != n or fl.shape[0] != n):
            raise InvalidCommandError(f"every argument of 'emit_many' must have length {n}")
        for j in range(n):
            self._emit(kind, <int>c[j], <int>ins[j], ac[j], oi[j], <int>sd[j], pr[j], qt[j],
                       x1[j], x2[j], x3[j], <int>fl[j])
        return self.seq

    def cancel_all_many(self, accts, int instr=-1, int reason=CancelReason.CANCEL_USER):
        """:meth:`cancel_all` for many accounts in one pass over the order registry (one
        instrument, or all with -1). Returns the number of orders cancelled.
        O(orders ever placed + accounts)."""
        cdef const int64_t[::1] a = np.ascontiguousarray(accts, dtype=np.int64)
        cdef int64_t j, oid, n = 0, acct
        cdef Book book
        if a.shape[0] == 0:
            return 0
        mask_arr = np.zeros(self.n_acct, np.uint8)
        cdef uint8_t[::1] mask = mask_arr
        for j in range(a.shape[0]):
            self._check_acct(a[j])
            mask[a[j]] = 1
        resting = np.asarray(self.o_id)[np.flatnonzero(
            (np.asarray(self.o_id) > 0) & ((np.asarray(self.o_flags) & OrderFlag.RESTING) != 0))]
        for oid in np.sort(resting).tolist():
            acct = self.o_acct[self._os(oid)]
            if not mask[acct] or (instr >= 0 and self.o_instr[self._os(oid)] != instr):
                continue
            self._drop_resting(oid, reason)
            n += 1
        return n

    def set_account_flags(self, accts, bint in_liquidation):
        """:meth:`set_account_flag` for many accounts. O(accounts)."""
        cdef const int64_t[::1] a = np.ascontiguousarray(accts, dtype=np.int64)
        cdef int64_t j
        for j in range(a.shape[0]):
            self._check_acct(a[j])
        for j in range(a.shape[0]):
            self.acct_flags[a[j]] = 1 if in_liquidation else 0

    def bulk_open_positions(self, accts, int instr, sizes, int64_t entry_price, leverages,
                            int64_t counterparty, margins=None, int code=0):
        """Open isolated positions in bulk (scenario and benchmark set-up): account ``accts[j]``
        (flat, no orders, distinct) gets ``sizes[j]`` lots (+ long, − short) at
        ``entry_price`` with isolated margin at ``leverages[j]``; the initial margin
        ``ceil(notional / leverage)`` moves from its wallet into the bucket. ``margins``
        (optional) are deposited first. ``counterparty`` takes the opposite of the total at
        the same price (one net trade), so positions net to zero and money is conserved.
        Everything is checked before anything changes. Events: Deposited (when ``margins`` are
        given) and one PositionTransferred per position (from the counterparty to the account;
        a3 = the account's realised PnL, 0 for a flat account). O(items)."""
        cdef const int64_t[::1] a = np.ascontiguousarray(accts, dtype=np.int64)
        cdef const int64_t[::1] s = np.ascontiguousarray(sizes, dtype=np.int64)
        cdef const int64_t[::1] L = np.ascontiguousarray(leverages, dtype=np.int64)
        cdef const int64_t[::1] m
        cdef int64_t n = a.shape[0], j, acct, notional, im, total = 0, r
        cdef int64_t k
        self._check_instr(instr)
        self._check_acct(counterparty)
        k = self.k[instr]
        if s.shape[0] != n or L.shape[0] != n:
            raise InvalidCommandError(f"'accts', 'sizes' and 'leverages' must have one length (got {n}, {s.shape[0]}, {L.shape[0]})")
        if entry_price <= 0:
            raise InvalidCommandError(f"'entry_price' must be > 0 ticks (got {entry_price})")
        has_m = margins is not None
        if has_m:
            m = np.ascontiguousarray(margins, dtype=np.int64)
            if m.shape[0] != n:
                raise InvalidCommandError(f"'margins' must have length {n} (got {m.shape[0]})")
        if n and len(np.unique(np.asarray(a))) != n:
            raise InvalidCommandError("'accts' must be distinct account ids")
        for j in range(n):
            acct = a[j]
            self._check_acct(acct)
            if acct == counterparty:
                raise InvalidCommandError(f"'accts[{j}]' must not be the counterparty (got {acct})")
            if s[j] == 0:
                raise InvalidCommandError(f"'sizes[{j}]' must be != 0 lots (got 0)")
            if L[j] < 1 or L[j] > self.tier_maxlev[instr, 0]:
                raise InvalidCommandError(f"'leverages[{j}]' must be in [1, {self.tier_maxlev[instr, 0]}] (got {L[j]})")
            if (self.size[instr, acct] != 0 or self.iso[instr, acct] != 0
                    or self.buy_open[instr, acct] != 0 or self.sell_open[instr, acct] != 0):
                raise InvalidCommandError(f"'accts[{j}]' must be flat on instrument {instr} without orders (account {acct})")
            notional = _abs(s[j]) * entry_price * k
            if notional > self._max_notional_for_lev(instr, L[j]):
                raise InvalidCommandError(f"'sizes[{j}]' must fit the tier of leverage {L[j]} (notional {notional})")
            im = (notional + L[j] - 1) // L[j]
            if has_m and m[j] < 0:
                raise InvalidCommandError(f"'margins[{j}]' must be >= 0 atoms (got {m[j]})")
            if self.wallet[acct] + (m[j] if has_m else 0) < im:
                raise InvalidCommandError(f"'accts[{j}]' must hold the initial margin {im} atoms (wallet {self.wallet[acct]})")
            total += s[j]
        for j in range(n):
            acct = a[j]
            if has_m and m[j] > 0:
                self.wallet[acct] += m[j]
                self.net_deposits += m[j]
                self._emit(EventKind.DEPOSITED, 0, -1, acct, 0, 0, 0, 0, m[j], self.wallet[acct], 0, 0)
            self.mode[instr, acct] = 1
            self.lev[instr, acct] = L[j]
            self._apply_trade(instr, acct, s[j], entry_price, &r)
            self._emit(EventKind.POSITION_TRANSFERRED, code, instr, counterparty, 0,
                       1 if s[j] > 0 else 0, entry_price, _abs(s[j]), acct, 0, r, 0)
        if total != 0:
            self._apply_trade(instr, counterparty, -total, entry_price, &r)
        return n

    # ------------------------------------------------------------------ queries
    def equity(self, int64_t acct):
        """Cross equity: wallet + uPnL of cross positions at the mark. O(instruments)."""
        cdef int i
        cdef int64_t eq
        self._check_acct(acct)
        eq = self.wallet[acct]
        for i in range(self.n_instr):
            if self.mode[i, acct] == 0 and (self.size[i, acct] != 0 or self.cost[i, acct] != 0):
                eq += self._upnl(i, acct)
        return eq

    def available(self, int64_t acct):
        """Equity minus the initial margin of positions and open orders. O(instruments)."""
        self._check_acct(acct)
        return self._available(acct, -1, 0, 0)

    def withdrawable(self, int64_t acct):
        """Largest amount :meth:`withdraw` accepts now: min(wallet, cross equity − max(IM,
        wd_rate × cross notional)), at least 0. O(instruments)."""
        self._check_acct(acct)
        free = self._withdraw_free(acct)
        w = self.wallet[acct]
        return max(0, min(w, free))

    def mark_ticks(self, int instr):
        """The instrument's mark price in ticks, 0 before its first mark. O(1): the hot paths
        (an order's mark check) read it without building :meth:`arrays`."""
        self._check_instr(instr)
        return self.mark[instr]

    def upnl(self, int64_t acct, int instr):
        self._check_acct(acct)
        self._check_instr(instr)
        return self._upnl(instr, acct)

    def maintenance_margin(self, int64_t acct, int instr):
        """Maintenance margin of one position (tiered) on the instrument's basis: at the mark,
        or on the entry value for ``maintenance_basis = "entry"`` (Bybit). O(tiers)."""
        self._check_acct(acct)
        self._check_instr(instr)
        return self._pos_mm(instr, acct)

    def cross_maintenance(self, int64_t acct):
        cdef int i
        cdef int64_t mm = 0
        self._check_acct(acct)
        for i in range(self.n_instr):
            if self.mode[i, acct] == 0 and self.size[i, acct] != 0:
                mm += self._pos_mm(i, acct)
        return mm

    def ledger_totals(self):
        """The terms of the conservation identity, as Python ints."""
        n = self.n_acct
        arr = self._np
        wallets = int(arr["wallet"][:n].sum())
        isolated = int(arr["iso"][:, :n].sum())
        cost = int(arr["cost"][:, :n].sum())
        return dict(wallets=wallets, isolated=isolated, fee_pool=self.fee_pool,
                    insurance=self.insurance, bad_debt=self.bad_debt, position_cost=cost,
                    net_deposits=self.net_deposits)

    def conservation_gap(self):
        """Σ ledger accounts − Σ position cost − net deposits; 0 when money is conserved."""
        t = self.ledger_totals()
        return (t["wallets"] + t["isolated"] + t["fee_pool"] + t["insurance"] + t["bad_debt"]
                - t["position_cost"] - t["net_deposits"])

    def check_invariants(self):
        """Raise AssertionError unless money is conserved, positions net to zero per
        instrument, open-order exposure matches the resting orders and each book is sound.
        O(accounts × instruments + orders)."""
        gap = self.conservation_gap()
        if gap != 0:
            raise LedgerInvariantError(f"conservation identity broken by {gap} atoms: {self.ledger_totals()}")
        n = self.n_acct
        arr = self._np
        for i in range(self.n_instr):
            net = int(arr["size"][i, :n].sum())
            if net != 0:
                raise LedgerInvariantError(f"instrument {i}: positions net to {net} lots, not 0")
            book = self.books[i]
            book.check_invariants()
            buy = np.zeros(n, np.int64)
            sell = np.zeros(n, np.int64)
            for oid, q, p in book.iter_orders():
                if not (self.o_flags[self._os(oid)] & OrderFlag.RESTING) or self.o_open[self._os(oid)] != q:
                    raise LedgerInvariantError(f"order {oid}: registry disagrees with the book")
                if not (self.o_flags[self._os(oid)] & OrderFlag.REDUCE_ONLY):
                    if self.o_side[self._os(oid)] == 0:
                        buy[self.o_acct[self._os(oid)]] += q * p * self.k[i]
                    else:
                        sell[self.o_acct[self._os(oid)]] += q * p * self.k[i]
            if not (np.array_equal(buy, arr["buy_open"][i, :n])
                    and np.array_equal(sell, arr["sell_open"][i, :n])):
                raise LedgerInvariantError(f"instrument {i}: open-order exposure disagrees with the book")

    # ------------------------------------------------------------------ arrays
    def arrays(self):
        """Read-only views of the state arrays trimmed to the open accounts (shared memory,
        not copies: they follow the core's state): wallet[a];
        size/cost/iso/lev/mode/buy_open/sell_open[instr, a]; per-instrument parameters and
        prices. Writing to them raises ``ValueError``: balances move only through the core's
        commands (trades, transfers, funding, liquidation moves)."""
        n = self.n_acct
        arr = self._np
        out = {"wallet": arr["wallet"][:n], "acct_flags": arr["acct_flags"][:n]}
        for name in ("size", "cost", "iso", "lev", "mode", "buy_open", "sell_open"):
            out[name] = arr[name][:, :n]
        for name in ("k", "mark", "index", "last", "maker_fee", "taker_fee", "liq_fee",
                     "tier_floor", "tier_mmr", "tier_cum", "tier_maxlev", "n_tiers", "mm_entry",
                     "wd_rate"):
            out[name] = arr[name][...]
        for v in out.values():      # money moves only through the core's commands
            v.flags.writeable = False
        return out

    def book(self, int instr):
        self._check_instr(instr)
        return self.books[instr]

    @property
    def next_order_id(self):
        return self.next_oid

    # ------------------------------------------------------------------ snapshot / restore
    def __reduce__(self):
        """Pickle support: ``(restore_core, (state,))`` with :meth:`snapshot_state`."""
        return (restore_core, (self.snapshot_state(),))

    def snapshot_state(self):
        """The complete state as plain Python / numpy values (a dict, ``version`` 1):
        every scalar, the state arrays trimmed to the open accounts and the ids given, the
        pending event records, and each book's resting orders level by level in queue
        order with their arrival sequence, owner, time in force and STP mode.
        :func:`restore_core` rebuilds an identical core from it. O(accounts x instruments
        + order ids + resting orders)."""
        cdef dict arrays = {}
        n, m = self.n_acct, self.next_oid
        for name, a in self._np.items():
            if name in _SNAP_ACCT:
                arrays[name] = np.array(a[..., :n])
            else:                   # order arrays whole: indexed by slot (oid & mask), not by id
                arrays[name] = np.array(a)
        cdef object pending = np.empty(self.n_ev, EVENT_DTYPE)
        cdef uint8_t[::1] dst
        if self.n_ev:
            dst = pending.view(np.uint8)
            memcpy(&dst[0], self.ev, self.n_ev * sizeof(EventRec))
        return {"version": 1, "specs": list(self._specs), "arrays": arrays,
                "scalars": {k: getattr(self, "_snap_" + k) for k in _SNAP_SCALARS},
                "pending": pending, "books": [_book_state(<Book>b) for b in self.books]}

    # C-level scalars, readable and writable by name for snapshot_state / restore_core
    @property
    def _snap_n_acct(self): return self.n_acct
    @_snap_n_acct.setter
    def _snap_n_acct(self, v): self.n_acct = v
    @property
    def _snap_cap_acct(self): return self.cap_acct
    @_snap_cap_acct.setter
    def _snap_cap_acct(self, v): self.cap_acct = v
    @property
    def _snap_fee_pool(self): return self.fee_pool
    @_snap_fee_pool.setter
    def _snap_fee_pool(self, v): self.fee_pool = v
    @property
    def _snap_insurance(self): return self.insurance
    @_snap_insurance.setter
    def _snap_insurance(self, v): self.insurance = v
    @property
    def _snap_bad_debt(self): return self.bad_debt
    @_snap_bad_debt.setter
    def _snap_bad_debt(self, v): self.bad_debt = v
    @property
    def _snap_net_deposits(self): return self.net_deposits
    @_snap_net_deposits.setter
    def _snap_net_deposits(self, v): self.net_deposits = v
    @property
    def _snap_next_oid(self): return self.next_oid
    @_snap_next_oid.setter
    def _snap_next_oid(self, v): self.next_oid = v
    @property
    def _snap_cap_orders(self): return self.cap_orders
    @_snap_cap_orders.setter
    def _snap_cap_orders(self, v): self.cap_orders = v
    @property
    def _snap_seq(self): return self.seq
    @_snap_seq.setter
    def _snap_seq(self, v): self.seq = v
    @property
    def _snap_ts_now(self): return self.ts_now
    @_snap_ts_now.setter
    def _snap_ts_now(self, v): self.ts_now = v
    @property
    def _snap_last_oid(self): return self.last_oid
    @_snap_last_oid.setter
    def _snap_last_oid(self, v): self.last_oid = v
    @property
    def _snap_last_filled(self): return self.last_filled
    @_snap_last_filled.setter
    def _snap_last_filled(self, v): self.last_filled = v
    @property
    def _snap_last_rested(self): return self.last_rested
    @_snap_last_rested.setter
    def _snap_last_rested(self, v): self.last_rested = v
    @property
    def _snap_n_fills_total(self): return self.n_fills_total
    @_snap_n_fills_total.setter
    def _snap_n_fills_total(self, v): self.n_fills_total = v

    cdef _restore_arrays(self, dict saved):
        """Install saved arrays at full capacity and point the memoryviews at them."""
        arr = self._np
        cap_a, cap_o = self.cap_acct, self.cap_orders
        for name, a in saved.items():
            if name in _SNAP_ACCT:
                used = a.shape[a.ndim - 1]          # (wraparound is off in this module)
                shape = tuple(a.shape[:a.ndim - 1]) + (cap_a,)
                full = np.zeros(shape, a.dtype)
                full[..., :used] = a
                arr[name] = full
            else:
                arr[name] = np.array(a)
        self.k, self.maker_fee, self.taker_fee = arr["k"], arr["maker_fee"], arr["taker_fee"]
        self.liq_fee, self.min_notional = arr["liq_fee"], arr["min_notional"]
        self.max_lots, self.max_mkt_lots, self.band = arr["max_lots"], arr["max_mkt_lots"], arr["band"]
        self.mark, self.index, self.last = arr["mark"], arr["index"], arr["last"]
        self.n_tiers, self.default_lev = arr["n_tiers"], arr["default_lev"]
        self.mm_entry, self.wd_rate = arr["mm_entry"], arr["wd_rate"]
        self.tier_floor, self.tier_mmr = arr["tier_floor"], arr["tier_mmr"]
        self.tier_cum, self.tier_maxlev = arr["tier_cum"], arr["tier_maxlev"]
        self.wallet, self.acct_flags = arr["wallet"], arr["acct_flags"]
        self.size, self.cost, self.iso, self.lev = arr["size"], arr["cost"], arr["iso"], arr["lev"]
        self.mode, self.buy_open, self.sell_open = arr["mode"], arr["buy_open"], arr["sell_open"]
        self.o_acct, self.o_instr, self.o_price = arr["o_acct"], arr["o_instr"], arr["o_price"]
        self.o_open, self.o_side, self.o_flags = arr["o_open"], arr["o_side"], arr["o_flags"]
        self.o_id = arr["o_id"]
        self.cap_orders = self.o_id.shape[0]
        self.o_mask = self.cap_orders - 1

    cdef _restore_pending(self, pending):
        cdef uint8_t[::1] src
        cdef int64_t n = len(pending)
        cdef EventRec* e
        if n > self.cap_ev:
            e = <EventRec*>realloc(self.ev, n * sizeof(EventRec))
            if e == NULL:
                raise MemoryError()
            self.ev = e
            self.cap_ev = n
        if n:
            src = np.ascontiguousarray(pending, EVENT_DTYPE).view(np.uint8)
            memcpy(self.ev, &src[0], n * sizeof(EventRec))
        self.n_ev = n


#: the VenueCore scalars a snapshot carries (a new cdef field of state belongs here, or in
#: ``_np``; tests/exchange/server/test_snapshot.py checks the .pxd against this list)
_SNAP_SCALARS = ("n_acct", "cap_acct", "fee_pool", "insurance", "bad_debt", "net_deposits",
                 "next_oid", "cap_orders", "seq", "ts_now", "last_oid", "last_filled",
                 "last_rested", "n_fills_total")
#: VenueCore fields rebuilt rather than saved: the memoryviews over ``_np``, the books, the
#: event buffer, the specs
_SNAP_DERIVED = ("n_instr", "books", "k", "maker_fee", "taker_fee", "liq_fee", "min_notional",
                 "max_lots", "max_mkt_lots", "band", "mark", "index", "last", "n_tiers",
                 "tier_floor", "tier_mmr", "tier_cum", "tier_maxlev", "default_lev", "mm_entry",
                 "wd_rate", "_np", "wallet", "acct_flags", "size", "cost", "iso", "lev", "mode",
                 "buy_open", "sell_open", "o_acct", "o_instr", "o_price", "o_open", "o_side",
                 "o_flags", "o_id", "o_mask", "ev", "n_ev", "cap_ev", "_specs")
_SNAP_ACCT = frozenset(("wallet", "acct_flags", "size", "cost", "iso", "lev", "mode",
                        "buy_open", "sell_open"))
_SNAP_ORDER = frozenset(("o_acct", "o_instr", "o_price", "o_open", "o_side", "o_flags"))


cdef dict _book_state(Book b):
    """A book's resting orders, side by side, level by level from the best, head to tail
    (queue priority), as (oid, price, qty, owner, seq, tif, stp) rows, plus its counters."""
    cdef int side
    cdef int64_t idx
    cdef int32_t slot
    cdef list levels
    out = {"track_deltas": b.track_deltas, "max_levels": b._max_levels,
           "dense_ids": b.dense_ids, "seq": b.seq, "last_filled": b.last_filled,
           "last_rested": b.last_rested, "last_expire": b.last_expire, "sides": []}
    for side in range(2):
        rows = []
        if b.sides[side].lo < 0:
            out["sides"].append(rows)
            continue
        for idx in range(b.sides[side].lo, b.sides[side].hi + 1):
            slot = b.sides[side].levels[idx].head
            while slot >= 0:
                o = &b.pool[slot]
                rows.append((o.oid, o.price, o.qty, o.owner, o.seq, o.tif, o.stp))
                slot = o.next
        out["sides"].append(rows)
    return out


cdef Book _book_from_state(dict st):
    cdef Book b = Book(track_deltas=st["track_deltas"], max_levels=st["max_levels"],
                       dense_ids=st["dense_ids"])
    cdef int side
    cdef int32_t slot
    for side in range(2):
        for oid, price, qty, owner, seq, tif, stp in st["sides"][side]:
            b._rest(oid, side, price, qty, tif, owner, stp)
            slot = b.find_c(oid)
            b.pool[slot].seq = seq
    b.seq = st["seq"]
    b.n_deltas = 0                 # rebuilding is not a change of the book
    b.last_filled, b.last_rested, b.last_expire = st["last_filled"], st["last_rested"], st["last_expire"]
    return b


def restore_core(state):
    """A :class:`VenueCore` identical to the one :meth:`VenueCore.snapshot_state` read
    (unpickling calls it). Refuses an unknown ``version`` with InvalidCommandError."""
    if not isinstance(state, dict) or state.get("version") != 1:
        raise InvalidCommandError(f"'state' must be a VenueCore snapshot of version 1 (got "
                                  f"version {state.get('version') if isinstance(state, dict) else state!r})")
    books = state["books"]
    cdef VenueCore core = VenueCore(state["specs"], initial_accounts=16,
                                    track_deltas=books[0]["track_deltas"])
    sc = state["scalars"]
    core._grow_accounts(sc["cap_acct"])
    core._grow_orders(sc["cap_orders"])
    core._restore_arrays(state["arrays"])
    for k in _SNAP_SCALARS:
        setattr(core, "_snap_" + k, sc[k])
    core.books = [_book_from_state(st) for st in books]
    core._restore_pending(state["pending"])
    return core


class LedgerInvariantError(AssertionError):
    """The venue's state broke an invariant (a bug, never a user error)."""
