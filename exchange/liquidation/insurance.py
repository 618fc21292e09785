"""``insurance``: the fund unwinds what the book left, takes over what it can afford, pays
deficits, and takes surpluses.

Reference §4.1–4.4. The fund is the core's insurance ledger account; it already receives the
liquidation fee of every book close (the core books it). The rule it implements is the one
Binance, Bybit and BitMEX publish: **the fund absorbs the loss first, and auto-deleveraging
gets only what the fund cannot absorb.**

- Binance (FAQ 360033525271 "Liquidation Protocols" and 360033525371 "Insurance Fund",
  binance.com/en/support/faq, read 2026-12-02): if the position cannot be closed better than
  the bankruptcy price "the position will be closed at the bankruptcy price and the insurance
  fund will take over the position and unwind it"; ADL (FAQ 360033525471) only "when the
  insurance fund is depleted / cannot cover".
- Bybit (help.bybit.com/hc/en-us/articles/900000167723, read 2026-12-02): the liquidation
  engine takes the position over at the bankruptcy price; closed worse than bankruptcy → the
  fund pays; "when the insurance fund is insufficient", ADL.
- BitMEX (bitmex.com/app/liquidation and bitmex.com/app/autoDeleveraging, read 2026-12-02):
  the engine takes over at the bankruptcy price; ADL only if the position cannot be
  liquidated in the market and the insurance fund cannot absorb it.

For the cases that reach the module, in order:

1. **Cover realised deficits**: a closed case with negative equity gets ``insurance → the
   case`` (into its bucket up to zero, then its wallet share) so it ends at zero.
2. **Unwind** (``unwind=True``): one more liquidation order into the book, limited at
   ``unwind_slippage_rate`` beyond the mark, whose loss the fund pays; only for cases whose
   worst loss at that limit the fund can guarantee (in order, while the running total fits
   the fund, the per-case cap and the per-step cap): the fund never promises more than it
   holds.
3. **Take over** (``takeover=True``: the presets whose book close is limited at the
   bankruptcy price; the fund trades from its own account, ``takeover_acct``, opened on the
   core at the first takeover unless given): what is still open moves to
   the fund's account **at the case's bankruptcy price** (``transfer_position``), so the case
   ends at zero and the fund carries the position with its loss at the mark, paid at once
   from the insurance ledger into that account (InsuranceFundUsed). A fund that cannot pay
   the whole loss takes over the share of the lots it can pay (the loss is linear in the
   lots: ``x = ⌊budget·|q| / loss⌋``); the rest passes down to ADL at the same bankruptcy
   price, with the deficit the fund could not pay. The fund's account then unwinds its
   inventory into the book at every engine step (:meth:`InsuranceModule.on_step`: IOC within
   ``unwind_slippage_rate`` of the mark; its equity topped up from the ledger while open, and
   its wallet swept back into the ledger once flat). The engine does not liquidate it while
   its equity is ≥ 0 (it sits below maintenance by design: the fund's money is in the
   ledger); once the ledger cannot carry its loss (:meth:`InsuranceModule.insolvent`) it
   goes through the waterfall like any account, so the rest reaches ADL.
4. **Cover open deficits** (``cover_open=True``): pay the deficit at the mark of a case still
   open, leaving the position for the next module (not with a takeover account: there the
   fund's money goes into takeovers, and what it cannot take over reaches ADL with its whole
   deficit, at the bankruptcy price). Presets turn it off for dYdX v4 and Drift
   (:func:`~exchange.liquidation.base.module_params_from_preset`): not what dYdX v4 does (no IF payment without a fill: a negative-TNC
   account is deleveraged at its bankruptcy price, protocol/x/clob/keeper/deleveraging.go,
   github.com/dydxprotocol/v4-chain, read 2026-12-02) nor Drift (the fund pays in
   ``resolve_perp_bankruptcy`` only once the base is closed); it is kept for custom waterfalls.

Every payment is capped by the fund, by ``cap_per_case_atoms`` (0 = none) and by
``max_loss_per_step_atoms`` (dYdX's per-block insurance limit; 0 = none); what is not covered
passes down.

5. **Surplus** (``surplus_to="insurance"``, Binance's clearance fee): a case fully closed
   with equity left gives it to the fund; ``"trader"`` (Hyperliquid, dYdX) leaves it.

Events: PositionLiquidated (code insurance) for unwinds, PositionTransferred and
InsuranceFundUsed for takeovers, InsuranceFundUsed, InsuranceFundCredited, BadDebtBooked
(a fund account loss the ledger cannot pay).
"""  # noqa: E501
from __future__ import annotations

import numpy as np

from exchange.errors import ConfigError, invalid
from exchange.liquidation import events as ev
from exchange.liquidation.cases import DONE, Cases, Outcome
from exchange.liquidation.context import L_BAD_DEBT, L_INSURANCE, L_WALLET
from exchange.liquidation.margin_view import RATE_SCALE
from exchange.presets.params import SURPLUS_DESTINATIONS

__all__ = ["InsuranceModule"]

_I64 = np.int64
#: this module's number in its events' ``code`` and its ledger moves' ``reason`` (journal format:
#: never renumbered); registering the class adds it to ``MODULE_CODES``
_CODE = 4


class InsuranceModule:
    """The insurance fund stage. See the module docs.

    >>> InsuranceModule(surplus_to="trader", cap_per_case_atoms=10**9).cap_per_case_atoms
    1000000000
    """

    name = "insurance"
    code = _CODE

    def __init__(self, surplus_to: str = "insurance", unwind: bool = True,
                 unwind_slippage_rate: int = 5_000_000, cover_open: bool = True,
                 cap_per_case_atoms: int = 0, max_loss_per_step_atoms: int = 0,
                 takeover: bool = False, takeover_acct: int | None = None) -> None:
        if takeover_acct is not None and (type(takeover_acct) is not int or takeover_acct < 0):
            raise invalid("takeover_acct", "an account id >= 0 or None", takeover_acct,
                          error=ConfigError)
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
        #: the fund's trading account: given, or opened on the core at the first takeover
        #: (``takeover=True``), so a venue whose fund never takes a position over has no
        #: extra account
        self.takeover_acct = takeover_acct
        self.takeover = bool(takeover) or takeover_acct is not None
        self._core = None            # the venue core, seen at the first call
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
        self._core = ctx.core
        rows = np.asarray(rows, _I64)
        n = len(rows)
        closed = np.zeros(n, _I64)
        notional = np.zeros(n, _I64)
        # realised deficits first (only the fund or bad debt can absorb them), then unwind
        # what it can guarantee, then cover what the unwind realised and open deficits
        self._cover(ctx, cases, rows, closed_only=True)
        if self.unwind:
            self._unwind(ctx, cases, rows, closed, notional)
        if self.takeover:
            self._cover(ctx, cases, rows, closed_only=True)
            if self.takeover_acct is not None:
                # the fund's own account in a case: its loss is the fund's, paid first
                own = rows[cases.acct[rows] == self.takeover_acct]
                if len(own):
                    self._cover(ctx, cases, own, closed_only=False)
            self._take_over(ctx, cases, rows, closed, notional)
        # with a takeover the fund's money went into takeovers: what it could not take over
        # goes to ADL at the bankruptcy price with its whole deficit
        self._cover(ctx, cases, rows, closed_only=not self.cover_open or self.takeover)
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

    def _take_over(self, ctx, cases, rows, closed, notional) -> None:
        """Step 3 of the module docs: the fund's account takes each open position (or the
        share of its lots the fund can pay for) at the case's bankruptcy price."""
        q = ctx.size(cases, rows)
        live = np.flatnonzero(q != 0)
        if self.takeover_acct is not None:
            a = self.takeover_acct
            # no takeover while the fund's own account is insolvent or being liquidated
            # (its case is always in the batch: the engine resumes it at every step)
            if (self.insolvent(ctx.view) is not None
                    or ((cases.acct == a) & (cases.status != DONE)).any()):
                return
        if len(live) == 0 or self._budget(ctx) <= 0:
            return
        fund_acct = self._account(ctx)
        v = ctx.view
        if (v.size[:, fund_acct] != 0).any():
            # carry what the mark did to the inventory first, so that each takeover's
            # payment is its own loss
            self._settle_account(ctx, -1)
        for j in live.tolist():
            r = rows[j]
            rr = np.array([r], _I64)
            qj = int(q[j])
            instr = int(cases.instr[r])
            k = int(v.k[instr])
            mark = v.ref_price(instr)
            bp = int(ctx.bankruptcy_price(cases, rr)[0])
            # the fund's loss at the mark on the lots it takes: (bp − mark)·lots·k for a
            # long (it buys at bp what is worth the mark), the mirror for a short
            loss_per_lot = (bp - mark) * k if qj > 0 else (mark - bp) * k
            lots = abs(qj)
            room = min(self._budget(ctx), int(self._cap_left(cases, rr)[0]))
            if loss_per_lot > 0 and loss_per_lot * lots > room:
                lots = room // loss_per_lot
            if lots <= 0:
                continue
            fund0 = int(ctx.core.insurance)
            ctx.transfer(cases, rr, np.array([fund_acct]), np.array([lots]), np.array([bp]), _CODE)
            closed[j] += lots
            notional[j] += lots * bp * k
            ctx.stats.takeover_lots += lots
            pay = self._settle_account(ctx, instr)
            cases.insured[r] += pay
            self._step_loss += pay
            ctx.emit(ev.INSURANCE_FUND_USED, 1, code=_CODE, instr=instr, acct=int(cases.acct[r]),
                     side=0 if qj > 0 else 1, price=bp, qty=lots, a1=pay, a2=fund0 - pay,
                     a3=int(ctx.deficit(cases, rr)[0]), flag=int(ctx.size(cases, rr)[0] != 0))

    def _account(self, ctx) -> int:
        """The fund's takeover account, opened (empty, cross, flagged so that it trades only
        through the engine) at the first takeover. O(1)."""
        if self.takeover_acct is None:
            a = int(ctx.core.open_account())
            ctx.core.set_account_flags(np.array([a], _I64), True)
            ctx.view.refresh()
            self.takeover_acct = a
        return self.takeover_acct

    def has_inventory(self, view) -> bool:
        """True while the fund's account holds a position or money (O(instruments))."""
        a = self.takeover_acct
        if a is None or a >= view.n_acct:
            return False
        return bool((view.size[:, a] != 0).any()) or int(view.wallet[a]) != 0

    def on_step(self, ctx) -> None:
        """Unwind the fund's inventory: one IOC per instrument for the whole position,
        within ``unwind_slippage_rate`` of the mark (the fund "unwinds" what it took over)
        and never at a loss versus the mark beyond what the account and the ledger hold,
        then settle its account with the ledger. Called by the engine at every step.
        O(instruments + fills)."""
        a = self.takeover_acct
        v = ctx.view
        core = self._core = ctx.core
        S, slip = RATE_SCALE, self.unwind_slippage_rate
        for i in range(ctx.n_instr):
            s = int(v.size[i, a])
            if s == 0:
                continue
            ref = v.ref_price(i)
            # never sell below what the fund can pay for: the loss versus the mark at the
            # limit stays within the account's equity plus the ledger
            room = max(int(v.cross_equity(np.array([a], _I64))[0]) + max(int(core.insurance), 0), 0)
            give = room // (abs(s) * int(v.k[i]))
            if s > 0:
                limit = max((ref * (S - slip)) // S, ref - give, 1)
            else:
                limit = min(-((-ref * (S + slip)) // S), ref + give)
            f, nt, fe, makers = core.liquidation_orders(np.array([a], _I64), i,
                                                        np.array([1 if s > 0 else 0], _I64),
                                                        np.array([abs(s)], _I64),
                                                        np.array([limit], _I64), 1)
            ctx.touch(np.array([a], _I64))
            if len(makers):
                ctx.touch(makers)
            if int(fe[0]) > 0:
                # the core charged the liquidation fee to the fund: hand it back (the fund
                # paying itself would only move money between its two pockets)
                core.ledger_moves(np.array([L_INSURANCE]), np.array([-1]), np.array([L_WALLET]),
                                  np.array([a]), np.array([int(fe[0])]), np.array([i]), _CODE)
                fe = np.zeros(1, _I64)
            if int(f[0]):
                kk = int(v.k[i])
                left = abs(int(v.size[i, a]))
                ctx.emit(ev.POSITION_LIQUIDATED, 1, code=_CODE, instr=i, acct=a,
                         side=0 if s > 0 else 1, price=int(nt[0]) // (int(f[0]) * kk),
                         qty=int(f[0]), a1=int(nt[0]), a2=int(fe[0]), a3=left, flag=int(left == 0))
        self._settle_account(ctx, -1)

    def insolvent(self, view) -> int | None:
        """The fund's account, if it holds a position with negative equity (the ledger could
        not carry its loss): the engine then liquidates it through the waterfall like any
        account, so what the fund cannot pay reaches ADL (Binance: ADL "when the insurance
        fund is depleted"), never silently bad debt. O(instruments)."""
        a = self.takeover_acct
        if (a is None or self._core is None or a >= view.n_acct
                or not (view.size[:, a] != 0).any()):
            return None
        eq = int(view.cross_equity(np.array([a], _I64))[0])
        # the ledger tops the account up at the end of the step: insolvent only when even
        # the ledger cannot carry the loss
        return a if eq + max(int(self._core.insurance), 0) < 0 else None

    def _settle_account(self, ctx, instr: int) -> int:
        """Keep the fund's account at equity ≥ 0 from the ledger while it holds positions
        (what the ledger cannot pay leaves it :meth:`insolvent`); once flat, sweep its wallet
        back into the ledger, or book a loss the ledger cannot pay as bad debt (there is no
        position left to deleverage). Returns what the ledger paid. O(instruments)."""
        a = self.takeover_acct
        v = ctx.view
        core = ctx.core
        eq = int(v.cross_equity(np.array([a], _I64))[0])
        flat = not (v.size[:, a] != 0).any()
        paid = 0
        if flat and int(v.wallet[a]) > 0:
            core.ledger_moves(np.array([L_WALLET]), np.array([a]), np.array([L_INSURANCE]),
                              np.array([-1]), np.array([int(v.wallet[a])]), np.array([0]), _CODE)
        elif eq < 0:
            paid = min(-eq, max(int(core.insurance), 0))
            if paid:
                core.ledger_moves(np.array([L_INSURANCE]), np.array([-1]), np.array([L_WALLET]),
                                  np.array([a]), np.array([paid]), np.array([0]), _CODE)
                ctx.stats.insurance_paid += paid
            rest = -eq - paid
            if rest > 0 and flat:
                before = int(core.bad_debt)
                core.ledger_moves(np.array([L_BAD_DEBT]), np.array([-1]), np.array([L_WALLET]),
                                  np.array([a]), np.array([rest]), np.array([0]), _CODE)
                ctx.stats.bad_debt += rest
                ctx.emit(ev.BAD_DEBT_BOOKED, 1, instr=instr, acct=a, a1=rest, a2=before - rest,
                         flag=int(not flat))
        ctx.touch(np.array([a], _I64))
        return paid

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
