"""``adl``: auto-deleveraging — close the bankrupt position against profitable opposite ones.

Reference §4.1–4.4, §4.9. A case that reaches ADL with an open position is closed off the book
against **profitable** positions on the other side of the same instrument: the bankrupt long
sells to a winning short (``transfer_position`` from the bankrupt account to the winner, so both
positions shrink), at the ADL price — the case's bankruptcy price by default (``"bankruptcy"``),
or the mark before this update (``"previous_mark"``, Hyperliquid) or the index price
(``"oracle"``). ADL never touches a losing position: winners are positions with uPnL > 0 at
the mark, on accounts not themselves in liquidation. The price is also never worse for a
winner than its own entry price: the haircut (profit given up versus the mark) is at most the
unrealised profit of the lots closed — profit only, as in the clawback designs — so ADL
cannot push a winner below zero. When that bound binds, the bankrupt case keeps a deficit,
which passes down (to bad debt at the end of the waterfall). No fee is charged.

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
    def _winners(self, ctx, instr: int, sign: int) -> np.ndarray:
        """Accounts holding a profitable position opposite to ``sign`` on ``instr``, not in
        liquidation (every account with a case is flagged); in account order. O(accounts)."""
        v = ctx.view
        s = v.size[instr]
        cand = np.flatnonzero(s * sign < 0)
        if len(cand) == 0:
            return cand.astype(_I64)
        cand = cand[(v.flags[cand] == 0)]
        cand = cand[v.upnl(instr, cand) > 0]
        return cand.astype(_I64)

    def _order(self, ctx, instr: int, w: np.ndarray) -> np.ndarray:
        """Winners in the order they are deleveraged."""
        v = ctx.view
        pol = self.policy
        if pol == "random":
            if len(w) == 0:
                return w
            start = int(ctx.rng.integers(len(w)))
            return np.roll(w, -start)
        if pol == "pro_rata":
            return w
        upnl = v.upnl(instr, w).astype(np.float64)
        iso = v.mode[instr, w] == 1
        eq = np.where(iso, v.iso[instr, w] + v.upnl(instr, w), 0)
        if (~iso).any():
            eq[~iso] = v.cross_equity(w[~iso])
        eq = eq.astype(np.float64)
        notional = v.notional(instr, w).astype(np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            if pol == "binance":
                wallet = np.where(iso, v.iso[instr, w], v.wallet[w]).astype(np.float64)
                mm = np.where(iso, v.position_mm(instr, w), 0)
                if (~iso).any():
                    mm[~iso] = v.cross_mm(w[~iso])
                pnl_pct = np.maximum(upnl, 0) / np.maximum(wallet, 1.0)
                ratio = np.where(eq > 0, mm / eq, 0.0)
                score = pnl_pct * ratio
            elif pol == "bitmex":
                pnl_pct = upnl / np.maximum(np.abs(v.cost[instr, w]).astype(np.float64), 1.0)
                lev = notional / np.maximum(eq, 1.0)
                score = np.where(pnl_pct > 0, pnl_pct * lev, pnl_pct / np.maximum(lev, 1e-18))
            else:  # hyperliquid
                mark = float(v.ref_price(instr))
                entry = np.abs(v.cost[instr, w]) / (np.abs(v.size[instr, w]) * float(v.k[instr]))
                ratio = np.where(v.size[instr, w] > 0, mark / entry, entry / mark)
                score = ratio * notional / np.maximum(eq, 1.0)
        score = np.nan_to_num(score, nan=0.0, posinf=np.finfo(np.float64).max)
        return w[np.argsort(-score, kind="stable")]          # ties: account order

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
        winners = self._winners(ctx, instr, sign)
        if len(winners) == 0:
            return
        if self.policy == "min_haircut":
            bi, wacct, lots, price = self._min_haircut(ctx, cases, r, instr, sign, winners)
            rank = np.zeros(len(bi), _I64)
            if len(bi):
                order = {int(a): j for j, a in enumerate(winners.tolist())}
                rank = np.array([order[int(a)] for a in wacct], _I64)
        else:
            order = self._order(ctx, instr, winners)
            need = np.abs(v.size[instr, cases.acct[r]])
            caps = np.abs(v.size[instr, order])
            if self.policy == "pro_rata":
                caps = _pro_rata(int(need.sum()), caps)
            bi, wi, lots = _match(need, caps)
            if len(bi) == 0:
                return
            wacct = order[wi]
            rank = wi.astype(_I64)
            price = self._prices(ctx, cases, r, instr)[bi]
            # never beyond the winner's entry price: the haircut takes at most the profit of
            # the lots closed, so no winner realises a loss (and none can go below zero)
            wsize = np.abs(v.size[instr][wacct])
            wcost = np.abs(v.cost[instr][wacct])
            if sign > 0:      # short winners buy back: at most their entry (rounded down)
                price = np.minimum(price, wcost // (wsize * int(v.k[instr])))
            else:             # long winners sell: at least their entry (rounded up)
                price = np.maximum(price, -((-wcost) // (wsize * int(v.k[instr]))))
            price = np.maximum(price, 1)
        if len(bi) == 0:
            return
        mark = v.ref_price(instr)
        k = int(v.k[instr])
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

    def _min_haircut(self, ctx, cases, r, instr, sign, winners):
        """Greedy cover of each case's deficit by the highest profit-per-lot winners."""
        v = ctx.view
        k = int(v.k[instr])
        mark = v.ref_price(instr)
        wsize = np.abs(v.size[instr, winners])
        entry_cost = np.abs(v.cost[instr, winners])
        # most ticks a lot can be moved against the winner without a realised loss:
        # short winner (sign > 0 case is long): entry − mark; long winner: mark − entry
        if sign > 0:
            room = entry_cost // (wsize * k) - mark
        else:
            room = mark - (-((-entry_cost) // (wsize * k)))
        order = np.lexsort((winners, -room))
        winners, wsize, room = winners[order], wsize[order].copy(), room[order]
        deficits = ctx.deficit(cases, r)
        qleft = np.abs(ctx.size(cases, r))
        out_b, out_w, out_q, out_p = [], [], [], []
        j = 0
        for b in range(len(r)):
            d = int(deficits[b])
            while d > 0 and qleft[b] > 0 and j < len(winners):
                if room[j] <= 0:
                    j = len(winners)
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
                out_w.append(int(winners[j]))
                out_q.append(x)
                out_p.append(p)
                d -= x * h * k
                wsize[j] -= x
                qleft[b] -= x
        return (np.array(out_b, _I64), np.array(out_w, _I64), np.array(out_q, _I64),
                np.array(out_p, _I64))


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
