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

**Drift's bankruptcy** (``close_remainder="counterparties"``, ``insurance_first``,
``fee_pool_first``; the Drift preset sets all three). Drift resolves a bankrupt perp position
in ``resolve_perp_bankruptcy`` (programs/drift/src/controller/liquidation.rs,
github.com/drift-labs/protocol-v2, read 2026-12-02): once the user has no base left, the loss
goes to the insurance fund (capped per market by ``quote_max_insurance − quote_settled``),
then to the perp market's fee pool, and the rest is socialised over every open position of
the market, longs and shorts alike, per unit of base through the cumulative funding rates
(``Δ = loss / (|base_long| + |base_short|)``). A liquidation stays open while no liquidator
takes the base; the venue's vAMM, which absorbs that base on Drift, is not modelled, so with
an empty book nothing would close it and the loss would never reach this chain. Here the open
remainder is therefore first closed **at the mark (oracle) against every opposite open
position pro rata to its size** (largest remainder; a transfer at the mark changes no
counterparty's equity and only shrinks its position), which realises the loss; then, in
order: the insurance fund (``insurance_first``), the fee pool (``fee_pool_first``), and the
socialised charge ``"position_pro_rata"`` over the positions still open. The case ends
closed; only what no stage could pay is bad debt.

Events: PositionTransferred per counterparty of the close, InsuranceFundUsed (code
socialized) for the fund's share, LossSocialized per payer and instrument (the fee pool's
share as a payer of account −1).
"""
from __future__ import annotations

import numpy as np

from exchange.errors import ConfigError, invalid
from exchange.liquidation import events as ev
from exchange.liquidation._util import small_values
from exchange.liquidation.cases import Cases, Outcome
from exchange.liquidation.context import L_FEE_POOL, L_INSURANCE, L_ISOLATED, L_WALLET
from exchange.liquidation.margin_view import RATE_SCALE, muldiv_ceil

__all__ = ["SocializedModule"]

_I64 = np.int64
#: this module's number in its events' ``code`` and its ledger moves' ``reason`` (journal format:
#: never renumbered); registering the class adds it to ``MODULE_CODES``
_CODE = 5
#: the socialized-loss policies (the preset key ``[liquidation] socialized_policy``)
POLICIES = ("profit_pro_rata", "position_pro_rata")
_POLICIES = POLICIES


class SocializedModule:
    """Socialised-loss stage. See the module docs.

    >>> SocializedModule(policy="position_pro_rata").policy
    'position_pro_rata'
    """

    name = "socialized"
    code = _CODE

    def __init__(self, policy: str = "profit_pro_rata", close_remainder: str = "none",
                 slippage_rate: int = 0, cover_open: bool = False, insurance_first: bool = False,
                 fee_pool_first: bool = False) -> None:
        if policy not in _POLICIES:
            raise invalid("policy", "one of " + ", ".join(repr(p) for p in _POLICIES), policy,
                          error=ConfigError)
        if close_remainder not in ("none", "market", "counterparties"):
            raise invalid("close_remainder", "'none', 'market' or 'counterparties'",
                          close_remainder, error=ConfigError)
        if type(slippage_rate) is not int or not 0 <= slippage_rate < RATE_SCALE:
            raise invalid("slippage_rate", f"an int rate in [0, {RATE_SCALE})", slippage_rate,
                          error=ConfigError)
        self.policy = policy
        self.close_remainder = close_remainder
        self.slippage_rate = slippage_rate
        self.cover_open = bool(cover_open)
        self.insurance_first = bool(insurance_first)
        self.fee_pool_first = bool(fee_pool_first)
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
        elif self.close_remainder == "counterparties":
            self._close_against_counterparties(ctx, cases, rows, closed, notional)
        need = ctx.deficit(cases, rows)
        if not self.cover_open:
            need[ctx.size(cases, rows) != 0] = 0
        if self.insurance_first and (need > 0).any():
            need = self._pay_from(ctx, cases, rows, need, L_INSURANCE)
        if self.fee_pool_first and (need > 0).any():
            need = self._pay_from(ctx, cases, rows, need, L_FEE_POOL)
        for i in small_values(cases.instr[rows[need > 0]], ctx.n_instr):
            m = (cases.instr[rows] == i) & (need > 0)
            self._socialize(ctx, cases, rows[m], need[m], i)
        return Outcome.build(ctx, cases, rows, closed, notional)

    def _close_against_counterparties(self, ctx, cases, rows, closed, notional) -> None:
        """Close each open row at the oracle (index price, else the mark) against the
        opposite open positions (accounts not in liquidation), pro rata to their size,
        largest remainder (ties: account order). O(rows · accounts)."""
        v = ctx.view
        for j in np.flatnonzero(ctx.size(cases, rows) != 0).tolist():
            r = rows[j]
            rr = np.array([r], _I64)
            instr = int(cases.instr[r])
            q = int(ctx.size(cases, rr)[0])
            s = v.size[instr]
            opp = np.flatnonzero(s * np.sign(q) < 0).astype(_I64)
            opp = opp[(v.flags[opp] == 0) & (opp != cases.acct[r])]
            if len(opp) == 0:
                continue
            w = np.abs(s[opp]).astype(_I64)
            W = int(w.sum())
            Q = min(abs(q), W)
            lots = (w * Q) // W
            left = Q - int(lots.sum())
            if left:
                frac = (w * Q) % W
                order = np.lexsort((opp, -frac))
                lots[order[:left]] += 1
            m = lots > 0
            # Drift values positions at the oracle: the index price when published, else
            # the mark
            oracle = int(v.index_price[instr])
            price = max(oracle if oracle > 0 else v.ref_price(instr), 1)
            n = int(m.sum())
            ctx.transfer(cases, np.full(n, r, _I64), opp[m], lots[m], np.full(n, price, _I64),
                         _CODE)
            closed[j] += Q
            notional[j] += Q * price * int(v.k[instr])

    def _pay_from(self, ctx, cases, rows, need, source: int) -> np.ndarray:
        """Pay the rows' deficits from one ledger account (the insurance fund or the fee
        pool), in row order while it lasts. Returns what is left to pay. O(rows)."""
        core = ctx.core
        have = max(int(core.insurance if source == L_INSURANCE else core.fee_pool), 0)
        before = np.cumsum(need) - need
        pay = np.clip(have - before, 0, need)
        m = pay > 0
        if not m.any():
            return need
        r, amt = rows[m], pay[m]
        fund0 = int(core.insurance)
        ctx.credit(cases, r, source, -1, -1, amt, _CODE)
        if source == L_INSURANCE:
            cases.insured[r] += amt
            ctx.stats.insurance_paid += int(amt.sum())
            ctx.emit(ev.INSURANCE_FUND_USED, len(r), code=_CODE, instr=cases.instr[r],
                     acct=cases.acct[r], a1=amt, a2=fund0 - np.cumsum(amt),
                     a3=need[m] - amt, flag=0)
        else:
            np.add.at(cases.socialized, r, amt)
            ctx.stats.socialized += int(amt.sum())
            ctx.emit(ev.LOSS_SOCIALIZED, len(r), code=self.code, instr=cases.instr[r], acct=-1,
                     a1=amt, a2=need[m], a3=0)
        return need - pay

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
