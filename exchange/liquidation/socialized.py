"""``socialized``: charge the remaining deficit to other traders (BitMEX 2015, Drift).

Reference §4.5, §4.8. For each instrument, the deficits of the cases that reach this module
(closed positions; with ``cover_open`` also open ones, at the mark) add up to ``D`` and are
charged as ledger moves from the payers' money (the bucket of an isolated position, the wallet
of a cross account) into the bankrupt cases:

- ``"profit_pro_rata"`` (BitMEX "Dynamic Profit Equalisation", OKEx clawback):
  ``haircut = D / Σ profit`` applied to the unrealised profit of every profitable position on
  the instrument, never more than that profit; payer ``w`` pays ``ceil(D·profit_w / Σ
  profit)`` (rounded up: venue's favour), at most ``profit_w``.
- ``"position_pro_rata"`` (Drift: the loss per unit of base over every open position, longs and
  shorts alike, via the cumulative funding rates): payer ``w`` pays ``ceil(D·|size_w| / Σ
  |size|)``, capped at the payer's own equity on that position so nobody is pushed below zero
  (a deviation: Drift can push a payer into liquidation).

What rounding collects above ``D`` goes to the fee pool; what the payers cannot cover passes
down. ``close_remainder="market"`` first closes a case's open remainder with a market order
(bounded by ``slippage_rate`` around the mark; 0 = unbounded), as the 2015 design socialised
losses of positions the book had closed. Accounts in liquidation never pay.

Events: LossSocialized per payer and instrument.
"""
from __future__ import annotations

import numpy as np

from exchange.errors import ConfigError, invalid
from exchange.liquidation import events as ev
from exchange.liquidation._util import small_values
from exchange.liquidation.cases import Cases, Outcome
from exchange.liquidation.context import L_FEE_POOL, L_ISOLATED, L_WALLET
from exchange.liquidation.margin_view import RATE_SCALE, muldiv_ceil

__all__ = ["SocializedModule"]

_I64 = np.int64
_CODE = ev.MODULE_CODES["socialized"]
_POLICIES = ("profit_pro_rata", "position_pro_rata")


class SocializedModule:
    """Socialised-loss stage. See the module docs.

    >>> SocializedModule(policy="position_pro_rata").policy
    'position_pro_rata'
    """

    name = "socialized"

    def __init__(self, policy: str = "profit_pro_rata", close_remainder: str = "none",
                 slippage_rate: int = 0, cover_open: bool = False) -> None:
        if policy not in _POLICIES:
            raise invalid("policy", "one of " + ", ".join(repr(p) for p in _POLICIES), policy,
                          error=ConfigError)
        if close_remainder not in ("none", "market"):
            raise invalid("close_remainder", "'none' or 'market'", close_remainder,
                          error=ConfigError)
        if type(slippage_rate) is not int or not 0 <= slippage_rate < RATE_SCALE:
            raise invalid("slippage_rate", f"an int rate in [0, {RATE_SCALE})", slippage_rate,
                          error=ConfigError)
        self.policy = policy
        self.close_remainder = close_remainder
        self.slippage_rate = slippage_rate
        self.cover_open = bool(cover_open)
        self.code = ev.SOCIALIZED_POLICY_CODES[policy]

    def process(self, ctx, cases: Cases, rows: np.ndarray) -> Outcome:
        rows = np.asarray(rows, _I64)
        n = len(rows)
        closed = np.zeros(n, _I64)
        notional = np.zeros(n, _I64)
        if self.close_remainder == "market":
            q = ctx.size(cases, rows)
            live = np.flatnonzero(q != 0)
            if len(live):
                r = rows[live]
                ref = ctx.ref_prices(cases, r)
                S, slip = RATE_SCALE, self.slippage_rate
                limit = np.where(q[live] > 0, np.maximum((ref * (S - slip)) // S, 1),
                                 -((-ref * (S + slip)) // S)) if slip else np.zeros(len(r), _I64)
                f, nt, _ = ctx.close_in_book(cases, r, np.abs(q[live]), limit, 1, "socialized")
                closed[live] += f
                notional[live] += nt
        need = ctx.deficit(cases, rows)
        if not self.cover_open:
            need[ctx.size(cases, rows) != 0] = 0
        for i in small_values(cases.instr[rows[need > 0]], ctx.n_instr):
            m = (cases.instr[rows] == i) & (need > 0)
            self._socialize(ctx, cases, rows[m], need[m], i)
        return Outcome.build(ctx, cases, rows, closed, notional)

    def _socialize(self, ctx, cases, r, need, instr: int) -> None:
        v = ctx.view
        D = int(need.sum())
        s = v.size[instr]
        payers = np.flatnonzero(s != 0).astype(_I64)
        payers = payers[v.flags[payers] == 0]          # accounts with a case are flagged
        if len(payers) == 0:
            return
        iso = v.mode[instr, payers] == 1
        upnl = v.upnl(instr, payers)
        if self.policy == "profit_pro_rata":
            keep = upnl > 0
            payers, iso, upnl = payers[keep], iso[keep], upnl[keep]
            weight = upnl
            cap = upnl
        else:
            weight = np.abs(v.size[instr, payers])
            eq = np.where(iso, v.iso[instr, payers] + upnl, 0)
            if (~iso).any():
                eq[~iso] = v.cross_equity(payers[~iso])
            cap = np.maximum(eq, 0)
        if len(payers) == 0:
            return
        W = int(weight.sum())
        if W <= 0:
            return
        pay = np.minimum(cap, muldiv_ceil(np.full(len(payers), D, _I64), weight, W))
        # a cross payer's wallet may sit below its profit; it still pays from the wallet
        # (its equity, wallet + uPnL, stays >= 0 because the haircut is capped by the profit)
        keep = pay > 0
        payers, iso, pay, weight = payers[keep], iso[keep], pay[keep], weight[keep]
        if len(payers) == 0:
            return
        collected = int(pay.sum())
        # pair payers (in account order) with the cases' deficits (in order) like two queues
        from exchange.liquidation.adl import _match
        bi, wi, amt = _match(need, pay)
        src_kind = np.where(iso[wi], L_ISOLATED, L_WALLET)
        ctx.credit(cases, r[bi], src_kind, payers[wi], instr, amt, _CODE)
        np.add.at(cases.socialized, r[bi], amt)
        paid = np.zeros(len(payers), _I64)
        np.add.at(paid, wi, amt)
        excess = pay - paid
        ex = excess > 0
        if ex.any():
            ctx.core.ledger_moves(np.where(iso[ex], L_ISOLATED, L_WALLET), payers[ex],
                                  np.full(int(ex.sum()), L_FEE_POOL), np.full(int(ex.sum()), -1),
                                  excess[ex], np.full(int(ex.sum()), instr), _CODE)
        ctx.touch(payers)
        ctx.stats.socialized += int(paid.sum())
        rate = muldiv_ceil(pay, RATE_SCALE, np.maximum(weight, 1))
        ctx.emit(ev.LOSS_SOCIALIZED, len(payers), code=self.code, instr=instr, acct=payers,
                 qty=v.size[instr, payers], a1=pay, a2=min(D, collected), a3=rate)
