"""``auction``: a Dutch auction of the distressed position (MakerDAO Liquidations 2.0 "Clip").

Reference §4.6. When a case reaches this module its open position goes on sale: ``kick``
sets ``top = mark × buf`` and the price then decays with the time since the (re)start ``t``:

=============  ===========================================
``linear``     ``top · (tau − t) / tau`` (0 after ``tau``)
``stairstep``  ``top · cut^floor(t / step)``
``exponential`` ``top · cut^t`` (t in seconds)
=============  ===========================================

The auction needs a **redo** when ``t > tail`` or ``price / top < cusp``: the clock restarts,
``top`` is taken from the mark again, and the keeper gets its incentive again. Each kick and
redo pays the keeper (``keeper_acct``, none if None) ``tip + chip · tab`` (``tab`` = the
position's notional at the mark) from the insurance fund or the fee pool
(``incentive_from``), never more than that account holds.

The auction is "of a long": the bidder pays the price and receives the long. For a short
position the price curve is mirrored around the mark at the (re)start, ``mark·(2 − buf·c(t))``
where ``top·c(t)`` is the long price: it starts below the mark (unattractive to whoever takes
the short) and rises.

**Bidders** are participants: any account calls :meth:`LiquidationEngine.bid
<exchange.liquidation.engine.LiquidationEngine.bid>` (``auction_id, account, qty,
limit_price``), which takes up to ``qty`` lots at the current price if it is no worse than
``limit_price`` for the bidder (at most it, for a long; at least it, for a short), provided
the bidder keeps its initial margin after the trade. MakerDAO's dust rule: a partial take may
not leave fewer than ``dust_lots``; it takes everything instead. The auction's state persists
across steps: the waterfall waits at this module (state WAIT) and re-enters it each step; once
the position is sold the case goes on down the waterfall with its deficit or surplus; after
``max_resets`` redos, or ``deadline_s`` since the kick (0 = none), the unsold remainder passes
down.

Events: AuctionStarted, AuctionReset, AuctionTaken, AuctionSettled, KeeperRewarded.
"""
from __future__ import annotations

import math

import attrs
import numpy as np

from exchange.errors import ConfigError, InvalidCommandError, invalid
from exchange.liquidation import events as ev
from exchange.liquidation.cases import CONTINUE, WAIT, Cases, Outcome
from exchange.liquidation.context import L_FEE_POOL, L_INSURANCE, L_WALLET
from exchange.liquidation.margin_view import RATE_SCALE

__all__ = ["AuctionModule", "Auction", "AUCTION_CURVES"]

_I64 = np.int64
#: this module's number in its events' ``code`` and its ledger moves' ``reason`` (journal format:
#: never renumbered); registering the class adds it to ``MODULE_CODES``
_CODE = 2
_NS = 1_000_000_000
AUCTION_CURVES = ("linear", "stairstep", "exponential")


@attrs.define
class Auction:
    """State of one running auction (mutable; owned by its module)."""

    auction_id: int
    case_id: int
    acct: int
    instr: int
    sign: int               # +1 the position on sale is long, -1 short
    lots: int               # lots on sale at the kick
    mark0: int              # mark at the last (re)start
    top: int                # long-equivalent starting price at the last (re)start
    tic_ns: int             # time of the last (re)start
    kicked_ns: int
    tab: int
    resets: int = 0
    sold: int = 0
    proceeds: int = 0


class AuctionModule:
    """Dutch-auction stage. See the module docs. Rates are parts per 1e8, times seconds.

    >>> m = AuctionModule(curve="linear", tau_s=100)
    >>> a = Auction(1, 1, 0, 0, 1, 10, mark0=1000, top=1300, tic_ns=0, kicked_ns=0, tab=0)
    >>> [m.price(a, t * 10**9) for t in (0, 50, 100)]
    [1300, 650, 0]
    >>> a.sign = -1                      # a short on sale: mirrored around the mark
    >>> [m.price(a, t * 10**9) for t in (0, 50)]
    [700, 1350]
    """

    name = "auction"
    code = _CODE

    def __init__(self, buf_rate: int = 130_000_000, curve: str = "stairstep", tau_s: int = 3600,
                 cut_rate: int = 99_000_000, step_s: int = 90, tail_s: int = 8400,
                 cusp_rate: int = 40_000_000, tip_atoms: int = 0, chip_rate: int = 100_000,
                 incentive_from: str = "insurance", keeper_acct: int | None = None,
                 max_resets: int = 3, deadline_s: int = 0, dust_lots: int = 0) -> None:
        if curve not in AUCTION_CURVES:
            raise invalid("curve", "one of " + ", ".join(repr(c) for c in AUCTION_CURVES), curve,
                          error=ConfigError)
        if incentive_from not in ("insurance", "fee_pool"):
            raise invalid("incentive_from", "'insurance' or 'fee_pool'", incentive_from,
                          error=ConfigError)
        for name, value, lo in (("buf_rate", buf_rate, 1), ("tau_s", tau_s, 1),
                                ("step_s", step_s, 1), ("tail_s", tail_s, 1),
                                ("tip_atoms", tip_atoms, 0), ("chip_rate", chip_rate, 0),
                                ("max_resets", max_resets, 0), ("deadline_s", deadline_s, 0),
                                ("dust_lots", dust_lots, 0), ("cusp_rate", cusp_rate, 0)):
            if type(value) is not int or value < lo:
                raise invalid(name, f"an int >= {lo}", value, error=ConfigError)
        if type(cut_rate) is not int or not 0 < cut_rate <= RATE_SCALE:
            raise invalid("cut_rate", f"an int rate in (0, {RATE_SCALE}]", cut_rate,
                          error=ConfigError)
        if keeper_acct is not None and (type(keeper_acct) is not int or keeper_acct < 0):
            raise invalid("keeper_acct", "None or an account id >= 0", keeper_acct,
                          error=ConfigError)
        self.buf_rate = buf_rate
        self.curve = curve
        self.tau_s = tau_s
        self.cut_rate = cut_rate
        self.step_s = step_s
        self.tail_s = tail_s
        self.cusp_rate = cusp_rate
        self.tip_atoms = tip_atoms
        self.chip_rate = chip_rate
        self.incentive_from = incentive_from
        self.keeper_acct = keeper_acct
        self.max_resets = max_resets
        self.deadline_s = deadline_s
        self.dust_lots = dust_lots
        self.auctions: dict[int, Auction] = {}        # case id -> auction
        self._by_id: dict[int, int] = {}              # auction id -> case id
        self._next_id = 1

    # -- price ------------------------------------------------------------------------------
    def _factor(self, t_ns: int) -> float:
        """c(t) in [0, 1]: the price as a fraction of top."""
        t = max(t_ns, 0) / _NS
        cut = self.cut_rate / RATE_SCALE
        if self.curve == "linear":
            return max(0.0, (self.tau_s - t) / self.tau_s)
        if self.curve == "stairstep":
            return cut ** math.floor(t / self.step_s)
        return cut ** t

    def price(self, a: Auction, ts_ns: int) -> int:
        """Current auction price in ticks (long: ``floor(top·c)``; short: mirrored,
        ``ceil(mark·(2 − buf·c))``). O(1)."""
        c = self._factor(ts_ns - a.tic_ns)
        if a.sign > 0:
            return int(math.floor(a.top * c))
        return int(math.ceil(a.mark0 * (2.0 - self.buf_rate / RATE_SCALE * c)))

    def needs_redo(self, a: Auction, ts_ns: int) -> bool:
        t = ts_ns - a.tic_ns
        return t > self.tail_s * _NS or self._factor(t) * RATE_SCALE < self.cusp_rate

    # -- the module ---------------------------------------------------------------------------
    def process(self, ctx, cases: Cases, rows: np.ndarray) -> Outcome:
        rows = np.asarray(rows, _I64)
        n = len(rows)
        state = np.zeros(n, _I64)
        sold = np.zeros(n, _I64)
        proceeds = np.zeros(n, _I64)
        q = ctx.size(cases, rows)
        ts = ctx.ts_ns
        for j in range(n):
            r = int(rows[j])
            cid = int(cases.case_id[r])
            a = self.auctions.get(cid)
            if a is None:
                if q[j] != 0:
                    self._kick(ctx, cases, r, int(q[j]))
                    state[j] = WAIT
                continue
            sold[j], proceeds[j] = a.sold, a.proceeds
            if q[j] == 0:
                self._settle(ctx, a, expired=False)
                continue
            expired = self.deadline_s and ts - a.kicked_ns > self.deadline_s * _NS
            if not expired and self.needs_redo(a, ts):
                if a.resets >= self.max_resets:
                    expired = True
                else:
                    self._redo(ctx, a, int(q[j]))
            if expired:
                self._settle(ctx, a, expired=True)
                state[j] = CONTINUE
            else:
                state[j] = WAIT
        return Outcome.build(ctx, cases, rows, sold, proceeds, state)

    def take(self, ctx, cases: Cases, row: int, bidder: int, qty: int,
             limit_price: int) -> tuple[int, int]:
        """A bid: ``bidder`` takes up to ``qty`` lots of the auctioned position at the current
        price if it is no worse than ``limit_price``. Returns ``(lots, price)``; ``(0, price)``
        when refused (price beyond the limit, the bidder would lack initial margin, or the
        bidder is in liquidation). Raises :class:`InvalidCommandError` on a malformed bid."""
        cid = int(cases.case_id[row])
        a = self.auctions.get(cid)
        if a is None:
            raise InvalidCommandError(f"'auction' must be a running auction (case {cid} has none)")
        if type(qty) is not int or qty <= 0:
            raise InvalidCommandError(f"'qty' must be > 0 lots (got {qty!r})")
        if bidder == a.acct:
            raise InvalidCommandError(f"'account' must not be the liquidated account (got {bidder})")
        v = ctx.view
        v.refresh()
        if bidder < 0 or bidder >= v.n_acct:
            raise InvalidCommandError(f"'account' must be an open account id (got {bidder})")
        price = self.price(a, ctx.ts_ns)
        left = abs(int(v.size[a.instr, a.acct]))
        if left == 0 or price <= 0 or v.flags[bidder]:
            return 0, price
        if (a.sign > 0 and price > limit_price) or (a.sign < 0 and price < limit_price):
            return 0, price
        lots = min(qty, left)
        if 0 < left - lots < self.dust_lots:
            lots = left
        if not ctx.keeps_initial_margin(bidder, a.instr, a.sign * lots, price):
            return 0, price
        rr = np.array([row], _I64)
        ctx.transfer(cases, rr, np.array([bidder]), np.array([lots]), np.array([price]), _CODE)
        k = int(v.k[a.instr])
        a.sold += lots
        a.proceeds += lots * price * k
        ctx.stats.auction_lots += lots
        ctx.emit(ev.AUCTION_TAKEN, 1, code=_CODE, instr=a.instr, acct=bidder, oid=a.auction_id,
                 side=0 if a.sign > 0 else 1, price=price, qty=lots, a1=a.acct,
                 a2=left - lots, a3=lots * price * k)
        return lots, price

    def on_cases_done(self, ctx, case_ids: np.ndarray) -> None:
        """The engine finished these cases (by whatever path): settle their auctions."""
        for cid in case_ids.tolist():
            a = self.auctions.get(cid)
            if a is not None:
                self._settle(ctx, a, expired=False)

    def case_of(self, auction_id: int) -> int:
        """The case id behind an auction id (KeyError-like InvalidCommandError if none)."""
        try:
            return self._by_id[auction_id]
        except KeyError:
            raise InvalidCommandError(f"'auction_id' must be a running auction (got {auction_id})") from None

    def active(self, ts_ns: int) -> list[dict]:
        """Running auctions with their current price, for liquidator agents. O(auctions)."""
        return [dict(auction_id=a.auction_id, acct=a.acct, instr=a.instr,
                     side=0 if a.sign > 0 else 1, price=self.price(a, ts_ns),
                     lots_sold=a.sold, top=a.top, resets=a.resets)
                for a in self.auctions.values()]

    # -- internals ----------------------------------------------------------------------------
    def _kick(self, ctx, cases, r: int, size: int) -> None:
        v = ctx.view
        instr = int(cases.instr[r])
        mark = max(v.ref_price(instr), 1)
        top = (mark * self.buf_rate) // RATE_SCALE
        tab = abs(size) * mark * int(v.k[instr])
        a = Auction(self._next_id, int(cases.case_id[r]), int(cases.acct[r]), instr,
                    1 if size > 0 else -1, abs(size), mark, top, ctx.ts_ns, ctx.ts_ns, tab)
        self._next_id += 1
        self.auctions[a.case_id] = a
        self._by_id[a.auction_id] = a.case_id
        reward = self._reward(ctx, a)
        ctx.emit(ev.AUCTION_STARTED, 1, code=_CODE, instr=instr, acct=a.acct, oid=a.auction_id,
                 side=0 if a.sign > 0 else 1, price=self.price(a, ctx.ts_ns), qty=a.lots,
                 a1=tab, a2=reward, a3=-1 if self.keeper_acct is None else self.keeper_acct)

    def _redo(self, ctx, a: Auction, size: int) -> None:
        v = ctx.view
        mark = max(v.ref_price(a.instr), 1)
        a.mark0 = mark
        a.top = (mark * self.buf_rate) // RATE_SCALE
        a.tic_ns = ctx.ts_ns
        a.tab = abs(size) * mark * int(v.k[a.instr])
        a.resets += 1
        reward = self._reward(ctx, a)
        ctx.emit(ev.AUCTION_RESET, 1, code=_CODE, instr=a.instr, acct=a.acct, oid=a.auction_id,
                 side=0 if a.sign > 0 else 1, price=self.price(a, ctx.ts_ns), qty=abs(size),
                 a1=a.tab, a2=reward, a3=a.resets)

    def _settle(self, ctx, a: Auction, expired: bool) -> None:
        left = abs(int(ctx.view.size[a.instr, a.acct]))
        ctx.emit(ev.AUCTION_SETTLED, 1, code=_CODE, instr=a.instr, acct=a.acct, oid=a.auction_id,
                 side=0 if a.sign > 0 else 1, price=self.price(a, ctx.ts_ns), qty=a.sold,
                 a1=left, a2=a.proceeds, flag=1 if expired else 0)
        self.auctions.pop(a.case_id, None)
        self._by_id.pop(a.auction_id, None)

    def _reward(self, ctx, a: Auction) -> int:
        if self.keeper_acct is None or self.keeper_acct >= ctx.view.n_acct:
            return 0
        want = self.tip_atoms + (a.tab * self.chip_rate) // RATE_SCALE
        core = ctx.core
        src = L_INSURANCE if self.incentive_from == "insurance" else L_FEE_POOL
        have = int(core.insurance if src == L_INSURANCE else core.fee_pool)
        pay = max(0, min(want, have))
        if pay:
            core.ledger_move(src, -1, L_WALLET, self.keeper_acct, pay, a.instr, _CODE)
            ctx.touch(np.array([self.keeper_acct]))
            ctx.emit(ev.KEEPER_REWARDED, 1, code=_CODE, instr=a.instr, acct=self.keeper_acct,
                     oid=a.auction_id, a1=pay, a2=src)
        return pay

