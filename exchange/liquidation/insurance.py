"""``insurance``: the fund unwinds what the book left, pays deficits, and takes surpluses.

Reference §4.1–4.4. The fund is the core's insurance ledger account; it already receives the
liquidation fee of every book close (the core books it). For the cases that reach it, in
order:

1. **Cover realised deficits**: a closed case with negative equity gets ``insurance → the
   case`` (into its bucket up to zero, then its wallet share) so it ends at zero. These come
   first because only the fund (or bad debt) can absorb them, while an open position's
   deficit can still be deleveraged.
2. **Unwind** (``unwind=True``; Binance "the insurance fund takes over the position and
   unwinds it"): the fund cannot hold a position in the core, so its takeover-and-unwind is a
   second liquidation order into the book, limited at ``unwind_slippage_rate`` beyond the
   mark, whose loss the fund pays. Only cases whose worst loss at that limit the fund can
   guarantee are sent (in order, while the running total fits the fund, the per-case cap and
   the per-step cap): the fund never promises more than it holds.
3. **Cover** what the unwind realised and, with ``cover_open=True``, the deficit at the mark
   of a case still open (so what follows, ADL, closes it at the mark and no winner is haircut
   while the fund has money); closed cases first.

Every payment is capped by the fund, by ``cap_per_case_atoms`` (0 = none) and by
``max_loss_per_step_atoms`` (dYdX's per-block insurance limit; 0 = none); what is not covered
passes down.

4. **Surplus** (``surplus_to="insurance"``, Binance's clearance fee): a case fully closed
   with equity left gives it to the fund; ``"trader"`` (Hyperliquid, dYdX) leaves it.

Events: PositionLiquidated (code insurance) for unwinds, InsuranceFundUsed,
InsuranceFundCredited.
"""
from __future__ import annotations

import numpy as np

from exchange.errors import ConfigError, invalid
from exchange.liquidation import events as ev
from exchange.liquidation.cases import Cases, Outcome
from exchange.liquidation.context import L_INSURANCE
from exchange.liquidation.margin_view import RATE_SCALE
from exchange.presets.params import SURPLUS_DESTINATIONS

__all__ = ["InsuranceModule"]

_I64 = np.int64
_CODE = ev.MODULE_CODES["insurance"]


class InsuranceModule:
    """The insurance fund stage. See the module docs.

    >>> InsuranceModule(surplus_to="trader", cap_per_case_atoms=10**9).cap_per_case_atoms
    1000000000
    """

    name = "insurance"

    def __init__(self, surplus_to: str = "insurance", unwind: bool = True,
                 unwind_slippage_rate: int = 5_000_000, cover_open: bool = True,
                 cap_per_case_atoms: int = 0, max_loss_per_step_atoms: int = 0) -> None:
        if surplus_to not in SURPLUS_DESTINATIONS:
            raise invalid("surplus_to", "one of " + ", ".join(repr(c) for c in SURPLUS_DESTINATIONS),
                          surplus_to, error=ConfigError)
        for name, value in (("cap_per_case_atoms", cap_per_case_atoms),
                            ("max_loss_per_step_atoms", max_loss_per_step_atoms)):
            if type(value) is not int or value < 0:
                raise invalid(name, "an int >= 0 (0 = no cap)", value, error=ConfigError)
        if type(unwind_slippage_rate) is not int or not 0 <= unwind_slippage_rate < RATE_SCALE:
            raise invalid("unwind_slippage_rate", f"an int rate in [0, {RATE_SCALE})",
                          unwind_slippage_rate, error=ConfigError)
        self.surplus_to = surplus_to
        self.unwind = bool(unwind)
        self.unwind_slippage_rate = unwind_slippage_rate
        self.cover_open = bool(cover_open)
        self.cap_per_case_atoms = cap_per_case_atoms
        self.max_loss_per_step_atoms = max_loss_per_step_atoms
        self._step = -1
        self._step_loss = 0

    def _budget(self, ctx) -> int:
        if ctx.step != self._step:
            self._step = ctx.step
            self._step_loss = 0
        fund = max(int(ctx.core.insurance), 0)
        if self.max_loss_per_step_atoms:
            fund = min(fund, max(self.max_loss_per_step_atoms - self._step_loss, 0))
        return fund

    def _cap_left(self, cases: Cases, rows: np.ndarray) -> np.ndarray:
        if not self.cap_per_case_atoms:
            return np.full(len(rows), np.iinfo(_I64).max // 4, _I64)
        return np.maximum(self.cap_per_case_atoms - cases.insured[rows], 0)

    def process(self, ctx, cases: Cases, rows: np.ndarray) -> Outcome:
        rows = np.asarray(rows, _I64)
        n = len(rows)
        closed = np.zeros(n, _I64)
        notional = np.zeros(n, _I64)
        # realised deficits first (only the fund or bad debt can absorb them), then unwind
        # what it can guarantee, then cover what the unwind realised and open deficits
        self._cover(ctx, cases, rows, closed_only=True)
        if self.unwind:
            self._unwind(ctx, cases, rows, closed, notional)
        self._cover(ctx, cases, rows, closed_only=not self.cover_open)
        if self.surplus_to == "insurance":
            self._take_surplus(ctx, cases, rows)
        return Outcome.build(ctx, cases, rows, closed, notional)

    def _unwind(self, ctx, cases, rows, closed, notional) -> None:
        q = ctx.size(cases, rows)
        live = np.flatnonzero(q != 0)
        if len(live) == 0:
            return
        r = rows[live]
        qs = q[live]
        ref = ctx.ref_prices(cases, r)
        k = ctx.k(cases, r)
        S, slip = RATE_SCALE, self.unwind_slippage_rate
        limit = np.where(qs > 0, np.maximum((ref * (S - slip)) // S, 1),
                         -((-ref * (S + slip)) // S))
        fee_rate = ctx.view.liq_fee[cases.instr[r]]
        gross = np.abs(qs) * limit * k
        worst_fee = -((-gross * fee_rate) // S)
        worst = np.maximum(-(ctx.cash(cases, r) + qs * limit * k) + worst_fee, 0)
        ok = worst <= self._cap_left(cases, r)
        budget = self._budget(ctx)
        cum = np.cumsum(np.where(ok, worst, 0))
        ok &= cum <= budget
        if not ok.any():
            return
        j = live[ok]
        f, nt, _ = ctx.close_in_book(cases, rows[j], np.abs(qs[ok]), limit[ok], 1, "insurance")
        closed[j] += f
        notional[j] += nt

    def _cover(self, ctx, cases, rows, closed_only: bool) -> None:
        eq = ctx.equity(cases, rows)
        need = np.maximum(-eq, 0)
        if closed_only:
            need[ctx.size(cases, rows) != 0] = 0
        need = np.minimum(need, self._cap_left(cases, rows))
        m = need > 0
        if not m.any():
            return
        r, need = rows[m], need[m]
        # realised deficits (closed positions) first: only the fund or bad debt can absorb
        # them, while an open position's deficit can still be deleveraged at its bankruptcy
        # price
        first = np.argsort(ctx.size(cases, r) != 0, kind="stable")
        r, need = r[first], need[first]
        budget = self._budget(ctx)
        before = np.cumsum(need) - need
        pay = np.clip(budget - before, 0, need)
        go = pay > 0
        if not go.any():
            return
        r, pay, need = r[go], pay[go], need[go]
        fund0 = int(ctx.core.insurance)
        open_ = ctx.size(cases, r) != 0
        ctx.credit(cases, r, L_INSURANCE, -1, -1, pay, _CODE)
        cases.insured[r] += pay
        self._step_loss += int(pay.sum())
        ctx.stats.insurance_paid += int(pay.sum())
        ctx.emit(ev.INSURANCE_FUND_USED, len(r), code=_CODE, instr=cases.instr[r],
                 acct=cases.acct[r], a1=pay, a2=fund0 - np.cumsum(pay),
                 a3=np.maximum(-ctx.equity(cases, r), 0), flag=open_.astype(_I64))

    def _take_surplus(self, ctx, cases, rows) -> None:
        flat = ctx.size(cases, rows) == 0
        if not flat.any():
            return
        r = rows[flat]
        eq = ctx.equity(cases, r)
        m = eq > 0
        if not m.any():
            return
        r, amt = r[m], eq[m]
        fund0 = int(ctx.core.insurance)
        ctx.debit(cases, r, L_INSURANCE, -1, amt, _CODE)
        ctx.stats.insurance_credited += int(amt.sum())
        ctx.emit(ev.INSURANCE_FUND_CREDITED, len(r), code=_CODE, instr=cases.instr[r],
                 acct=cases.acct[r], a1=amt, a2=fund0 + np.cumsum(amt))
