"""``adl``: auto-deleveraging — close the bankrupt position against profitable opposite ones.

Reference §4.1–4.4, §4.9. A case that reaches ADL with an open position is closed off the book
against **profitable** positions on the other side of the same instrument: the bankrupt long
sells to a winning short (``transfer_position`` from the bankrupt account to the winner, so both
positions shrink), at the ADL price — the case's bankruptcy price by default (``"bankruptcy"``),
or the mark before this update (``"previous_mark"``, Hyperliquid) or the index price
(``"oracle"``). ADL never touches a losing position: winners are positions with uPnL > 0 at
the mark, on accounts not themselves in liquidation. As on the venues, the execution price may
be beyond the winner's entry (it then realises a loss on those lots), but never beyond the mark
moved by the winner's equity per lot: ADL cannot push a winner below zero (an earlier module,
e.g. a socialised loss, may already have charged its profit). When that bound binds, the
bankrupt case keeps a deficit, which passes down (to bad debt at the end of the waterfall).
No fee is charged.

Ranking (``policy``; winners are taken from the top, whole positions until the bankrupt
quantity is matched, the last one partly):

- ``"binance"``: ``PnL% × margin ratio`` with ``PnL% = max(0, uPnL) / max(1, wallet)`` and
  ``margin ratio = MM / (wallet + uPnL)`` (wallet = the bucket of an isolated position).
- ``"bitmex"`` (Bybit): ``PnL% × effective leverage``, ``PnL% = uPnL / |entry value|``,
  ``effective leverage = |mark value| / (mark value − bankrupt value)`` = notional / equity.
- ``"hyperliquid"``: ``(mark / entry) · (notional / account value)`` — for a short winner the
  price ratio is taken as ``entry / mark`` so the more profitable ranks first in both sides.
- ``"random"`` (dYdX): winners in account order from a random start (the engine's seeded
  generator), no ranking.
- ``"pro_rata"``: the bankrupt quantity is spread over all winners in proportion to their
  size (largest remainder), so every winner is cut by the same fraction.
- ``"min_haircut"``: closes only what the deficit needs (after Chitra, "Autodeleveraging:
  Impossibilities and Optimization", arXiv 2512.01112). Every policy above haircuts winners by
  exactly the case's deficit ``D`` (measured against the mark) but forces them to close the
  whole bankrupt quantity. This one covers ``D`` with the fewest deleveraged lots: winners are
  taken by profit per lot, highest first, and each lot ``x`` is closed at a price up to the
  winner's own entry (a haircut of at most that lot's profit, so no winner realises a loss),
  ``h`` ticks beyond the mark with ``x·h·k ≥`` the deficit left (the last winner's ``h`` is
  cut to what is needed). Greedy by largest per-lot capacity minimises the lots closed for a
  given ``D`` (a fractional knapsack: each lot of winner ``w`` covers at most ``u_w``); the
  total haircut is ``D`` rounded up to a tick per lot. The rest of the bankrupt position is not
  deleveraged: it stays open at zero equity and passes down (the engine retries it through the
  waterfall at the next step). Cases without a deficit are left alone.

``only_bankrupt=True`` (Hyperliquid: "ADL when account or isolated position value < 0") acts
only on cases whose equity at the mark is negative.

Events: PositionDeleveraged per (bankrupt, winner) pair, with the haircut versus the mark.
"""
from __future__ import annotations

import numpy as np

from exchange.errors import ConfigError, invalid
from exchange.liquidation import events as ev
from exchange.liquidation._util import small_values
from exchange.liquidation.cases import Cases, Outcome
from exchange.presets.params import ADL_PRICES

__all__ = ["AdlModule", "ADL_RANKINGS"]

_I64 = np.int64
_CODE = ev.MODULE_CODES["adl"]
ADL_RANKINGS = ("binance", "bitmex", "hyperliquid", "random", "pro_rata", "min_haircut")


class AdlModule:
    """Auto-deleveraging stage. See the module docs.

    >>> AdlModule(policy="hyperliquid", price="previous_mark").price
    'previous_mark'
    >>> AdlModule(policy="lottery")
    Traceback (most recent call last):
    ...
    exchange.errors.ConfigError: 'policy' must be one of 'binance', 'bitmex', 'hyperliquid', 'random', 'pro_rata', 'min_haircut' (got 'lottery')
    """

    name = "adl"

    def __init__(self, policy: str = "binance", price: str = "bankruptcy",
                 only_bankrupt: bool = False) -> None:
        if policy not in ADL_RANKINGS:
            raise invalid("policy", "one of " + ", ".join(repr(p) for p in ADL_RANKINGS), policy,
                          error=ConfigError)
        if price not in ADL_PRICES:
            raise invalid("price", "one of " + ", ".join(repr(p) for p in ADL_PRICES), price,
                          error=ConfigError)
        self.policy = policy
        self.price = price
        self.only_bankrupt = bool(only_bankrupt)
        self.code = ev.ADL_POLICY_CODES[policy]

    def process(self, ctx, cases: Cases, rows: np.ndarray) -> Outcome:
        rows = np.asarray(rows, _I64)
        n = len(rows)
        closed = np.zeros(n, _I64)
        notional = np.zeros(n, _I64)
        q = ctx.size(cases, rows)
        live = q != 0
        if self.only_bankrupt or self.policy == "min_haircut":
            live &= ctx.equity(cases, rows) < 0
        if not live.any():
            return Outcome.build(ctx, cases, rows, closed, notional)
        instr_of = cases.instr[rows]
        for i in small_values(instr_of[live], ctx.n_instr):
            for sign in (1, -1):
                sel = np.flatnonzero(live & (instr_of == i) & (np.sign(q) == sign))
                if len(sel) == 0:
                    continue
                self._deleverage(ctx, cases, rows, sel, i, sign, closed, notional)
        return Outcome.build(ctx, cases, rows, closed, notional)

    # -- one instrument and side -------------------------------------------------------------
    def _winners(self, ctx, instr: int, sign: int) -> "_Pool | None":
        """Profitable positions opposite to ``sign`` on ``instr`` of accounts not in
        liquidation (every account with a case is flagged), in account order, with what the
        rankings and bounds need. O(accounts)."""
        v = ctx.view
        s_all = v.size[instr]
        cand = np.flatnonzero(s_all * sign < 0)
        if len(cand) == 0:
            return None
        cand = cand[v.flags[cand] == 0]
        size = s_all[cand]
        cost = v.cost[instr][cand]
        ref = v.ref_price(instr)
        k = int(v.k[instr])
        upnl = size * (ref * k) - cost
        keep = upnl > 0
        if not keep.any():
            return None
        w = cand[keep].astype(_I64)
        return _Pool(v, instr, w, size[keep], cost[keep], upnl[keep], ref, k)

    def _order(self, ctx, pool: "_Pool", need: int) -> np.ndarray:
        """Indices into the pool, in the order winners are deleveraged (for the ranked
        policies only a prefix whose sizes cover ``need`` lots, when shorter)."""
        n = len(pool.acct)
        pol = self.policy
        if pol == "random":
            start = int(ctx.rng.integers(n))
            return np.roll(np.arange(n), -start)
        if pol == "pro_rata":
            return np.arange(n)
        upnl = pool.upnl.astype(np.float64)
        eq = pool.eq.astype(np.float64)
        notional = (np.abs(pool.size) * (pool.ref * pool.k)).astype(np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            if pol == "binance":
                v = pool.view
                wallet = np.where(pool.iso, v.iso[pool.instr][pool.acct],
                                  v.wallet[pool.acct]).astype(np.float64)
                pnl_pct = upnl / np.maximum(wallet, 1.0)
                ratio = np.where(eq > 0, pool.mm().astype(np.float64) / eq, 0.0)
                score = pnl_pct * ratio
            elif pol == "bitmex":
                pnl_pct = upnl / np.maximum(np.abs(pool.cost).astype(np.float64), 1.0)
                score = pnl_pct * notional / np.maximum(eq, 1.0)
            else:  # hyperliquid
                entry = np.abs(pool.cost) / (np.abs(pool.size) * float(pool.k))
                ratio = np.where(pool.size > 0, pool.ref / entry, entry / pool.ref)
                score = ratio * notional / np.maximum(eq, 1.0)
        score = np.nan_to_num(score, nan=0.0, posinf=np.finfo(np.float64).max)
        return _top_order(-score, np.abs(pool.size), need)

    def _prices(self, ctx, cases, r: np.ndarray, instr: int) -> np.ndarray:
        if self.price == "bankruptcy":
            return ctx.bankruptcy_price(cases, r)
        v = ctx.view
        if self.price == "previous_mark":
            p = int(ctx.prev_mark[instr]) or v.ref_price(instr)
        else:
            p = int(v.index_price[instr]) or v.ref_price(instr)
        return np.full(len(r), max(p, 1), _I64)

    def _deleverage(self, ctx, cases, rows, sel, instr, sign, closed, notional) -> None:
        v = ctx.view
        r = rows[sel]
        pool = self._winners(ctx, instr, sign)
        if pool is None:
            return
        if self.policy == "min_haircut":
            bi, wi, lots, price = self._min_haircut(ctx, cases, r, sign, pool)
            if len(bi) == 0:
                return
            wacct = pool.acct[wi]
            rank = wi.astype(_I64)
        else:
            need = np.abs(v.size[instr][cases.acct[r]])
            order = self._order(ctx, pool, int(need.sum()))
            caps = np.abs(pool.size[order])
            if self.policy == "pro_rata":
                caps = _pro_rata(int(need.sum()), caps)
            bi, oi, lots = _match(need, caps)
            if len(bi) == 0:
                return
            wi = order[oi]
            wacct = pool.acct[wi]
            rank = oi.astype(_I64)
            price = self._prices(ctx, cases, r, instr)[bi]
            # never worse for the winner than its equity per lot allows: ADL cannot push a
            # winner below zero
            lo, hi = pool.bounds(wi, sign, entry=False)
            price = np.maximum(np.minimum(price, hi), lo) if sign > 0 else \
                np.minimum(np.maximum(price, lo), hi)
            price = np.maximum(price, 1)
        mark = pool.ref
        k = pool.k
        # the winner buys back (a short) at price: haircut (price − mark) per lot; a long
        # winner sells: (mark − price)
        haircut = sign * (price - mark) * lots * k
        ctx.transfer(cases, r[bi], wacct, lots, price, _CODE)
        np.add.at(closed, sel[bi], lots)
        np.add.at(notional, sel[bi], lots * price * k)
        np.add.at(cases.adl_lots, r[bi], lots)
        ctx.stats.adl_lots += int(lots.sum())
        ctx.stats.adl_haircut += int(haircut.sum())
        ctx.emit(ev.POSITION_DELEVERAGED, len(bi), code=self.code, instr=instr, acct=wacct,
                 side=0 if sign < 0 else 1, price=price, qty=lots, a1=cases.acct[r[bi]],
                 a2=haircut, a3=rank)

    def _min_haircut(self, ctx, cases, r, sign, pool: "_Pool"):
        """Greedy cover of each case's deficit by the winners with the most room per lot;
        returns (bankrupt index, pool index, lots, price) per segment."""
        k = pool.k
        mark = pool.ref
        idx = np.arange(len(pool.acct))
        # most ticks a lot can be moved against the winner (within its entry price and its
        # equity per lot): short winner (the case is long) up from the mark, long winner down
        lo, hi = pool.bounds(idx, sign, entry=True)
        room = hi - mark if sign > 0 else mark - lo
        order = np.lexsort((pool.acct, -room))
        room = room[order]
        wsize = np.abs(pool.size[order])
        deficits = ctx.deficit(cases, r)
        qleft = np.abs(ctx.size(cases, r))
        out_b, out_w, out_q, out_p = [], [], [], []
        j = 0
        for b in range(len(r)):
            d = int(deficits[b])
            while d > 0 and qleft[b] > 0 and j < len(order):
                if room[j] <= 0:
                    j = len(order)
                    break
                if wsize[j] <= 0:
                    j += 1
                    continue
                x = min(int(wsize[j]), int(qleft[b]), -(-d // (int(room[j]) * k)))
                h = min(int(room[j]), -(-d // (x * k)))
                p = mark + sign * h
                if p < 1:
                    j += 1
                    continue
                out_b.append(b)
                out_w.append(int(order[j]))
                out_q.append(x)
                out_p.append(p)
                d -= x * h * k
                wsize[j] -= x
                qleft[b] -= x
        return (np.array(out_b, _I64), np.array(out_w, _I64), np.array(out_q, _I64),
                np.array(out_p, _I64))


class _Pool:
    """The winners of one instrument and side: accounts with their size, cost, uPnL,
    isolated flag and equity (bucket + uPnL, or the cross account's), gathered once."""

    __slots__ = ("view", "instr", "acct", "size", "cost", "upnl", "ref", "k", "iso", "eq")

    def __init__(self, v, instr, acct, size, cost, upnl, ref, k) -> None:
        self.view, self.instr, self.acct = v, instr, acct
        self.size, self.cost, self.upnl, self.ref, self.k = size, cost, upnl, ref, k
        self.iso = v.mode[instr][acct] == 1
        eq = np.where(self.iso, v.iso[instr][acct] + upnl, 0)
        if (~self.iso).any():
            eq[~self.iso] = v.cross_equity(acct[~self.iso])
        self.eq = eq

    def mm(self) -> np.ndarray:
        v = self.view
        mm = v.mm(self.instr, np.abs(self.size) * (self.ref * self.k))
        if (~self.iso).any():
            mm[~self.iso] = v.cross_mm(self.acct[~self.iso])
        return mm

    def bounds(self, idx: np.ndarray, sign: int, entry: bool):
        """``(lo, hi)`` price bounds (ticks) at which winners ``idx`` may be deleveraged: a
        short winner (``sign`` > 0: the bankrupt case is long) buys back at most at
        ``mark + equity / (|size|·k)`` (and, with ``entry``, at most at its entry price); a
        long winner sells at least at ``mark − equity / (|size|·k)`` (and at least at its
        entry). The other bound is open."""
        size = np.abs(self.size[idx])
        cost = np.abs(self.cost[idx])
        per_lot = np.maximum(self.eq[idx], 0) // (size * self.k)
        if sign > 0:
            hi = self.ref + per_lot
            if entry:
                hi = np.minimum(hi, cost // (size * self.k))
            return np.ones(len(idx), _I64), np.maximum(hi, 1)
        lo = self.ref - per_lot
        if entry:
            lo = np.maximum(lo, -((-cost) // (size * self.k)))
        return np.maximum(lo, 1), np.full(len(idx), 1 << 60, _I64)


def _top_order(key: np.ndarray, caps: np.ndarray, need: int) -> np.ndarray:
    """Indices sorting ``key`` ascending (ties by index), but only as long a prefix as is
    needed for ``caps`` to sum to ``need``: a partition first (O(n)), then a sort of the
    few selected — all entries tied with the last selected one are kept, so the prefix is
    exactly that of the full stable sort. O(n + m log m)."""
    n = len(key)
    m = n
    if need > 0 and n > 4096:
        avg = max(float(caps.mean()), 1.0)
        m = min(n, int(2 * need / avg) + 1024)
    while True:
        if m >= n:
            return np.argsort(key, kind="stable")
        part = np.argpartition(key, m - 1)[:m]
        bound = key[part].max()
        sel = np.flatnonzero(key <= bound)
        sel = sel[np.lexsort((sel, key[sel]))]
        if int(caps[sel].sum()) >= need:
            return sel
        m *= 2


def _match(need: np.ndarray, caps: np.ndarray):
    """Pair bankrupt quantities (in order) with winner capacities (in order) like two queues:
    returns (bankrupt index, winner index, lots) per segment. O((b + w) log(b + w))."""
    need = np.asarray(need, _I64)
    caps = np.asarray(caps, _I64)
    cb = np.cumsum(need)
    cw = np.cumsum(caps)
    if len(cb) == 0 or len(cw) == 0:
        e = np.empty(0, _I64)
        return e, e, e
    total = min(int(cb[-1]), int(cw[-1]))
    if total <= 0:
        e = np.empty(0, _I64)
        return e, e, e
    ends = np.sort(np.concatenate((cb[cb < total], cw[cw < total], [total])))
    ends = ends[np.r_[True, ends[1:] != ends[:-1]]]
    starts = np.concatenate(([0], ends[:-1]))
    bi = np.searchsorted(cb, starts, side="right")
    wi = np.searchsorted(cw, starts, side="right")
    lots = ends - starts
    keep = lots > 0
    return bi[keep].astype(_I64), wi[keep].astype(_I64), lots[keep].astype(_I64)


def _pro_rata(total: int, sizes: np.ndarray) -> np.ndarray:
    """``total`` lots spread over ``sizes`` in proportion, largest remainder, capped by size."""
    s = int(sizes.sum())
    if s <= 0 or total <= 0:
        return np.zeros(len(sizes), _I64)
    total = min(total, s)
    prod = [int(x) * total for x in sizes.tolist()]
    base = np.array([p // s for p in prod], _I64)
    rem = np.array([p % s for p in prod], dtype=object)
    left = total - int(base.sum())
    if left > 0:
        order = sorted(range(len(sizes)), key=lambda j: (-rem[j], j))[:left]
        base[order] += 1
    return base
