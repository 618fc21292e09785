"""``backstop``: a vault account takes the position over (Hyperliquid HLP / liquidator vault).

Reference §4.3. The vault is a normal account the caller opened and funded (``vault_acct``,
cross margin on every instrument); it takes each case's open position off the book with
``transfer_position``:

- ``price="bankruptcy"``: at the case's bankruptcy price, so the case ends at zero and the
  vault's entry carries the case's remaining equity (or its loss);
- ``price="mark"``: at the mark; with ``take_margin`` the case's remaining margin goes to the
  vault too (HL: the maintenance margin is not returned). With ``cover_deficit`` a negative
  margin goes with it: the vault's wallet pays the case's deficit, so the loss of a gap is
  the vault's and no bad debt is booked (else it stays with the case and passes down).

Hyperliquid (hyperliquid.gitbook.io/hyperliquid-docs/trading/liquidations, read 2026-12-02):
"When a cross position is backstop liquidated, the trader's cross positions and cross margin
are all transferred to the liquidator. In particular, if the trader has no isolated positions,
the trader ends up with zero account equity. When an isolated position is backstop
liquidated, that isolated position and isolated margin are transferred to the liquidator." The
margin transferred may be negative after a gap (mark 47k → 40k); the vault takes that loss.
A preset whose backstop takes the margin (``surplus_to = "trader"``, Hyperliquid) sets both
``take_margin`` and ``cover_deficit`` (:func:`~exchange.liquidation.base.module_params_from_preset`).
Only when the vault cannot take the position (below) does the case go on to ADL
(hyperliquid-docs/trading/auto-deleveraging: ADL when an account value becomes negative).

``trigger_rate`` (HL 2/3): the vault acts only when the case's equity is below that fraction
of its maintenance margin (0 = always). The vault refuses — the case passes down — when
taking the position would leave it without initial margin (its available balance after the
takeover, less any deficit it would pay, < 0, computed exactly before any change; the vault must hold no open orders on the
instrument for this to be exact), when it is itself being liquidated, or when its position on
the instrument is isolated. The vault is indexed and can be liquidated like anyone: its own
risk of ruin.

Events: BackstopTakeover per case.
"""  # noqa: E501
from __future__ import annotations

import numpy as np

from exchange.errors import ConfigError, invalid
from exchange.liquidation import events as ev
from exchange.liquidation.cases import Cases, Outcome
from exchange.liquidation.context import L_WALLET
from exchange.liquidation.margin_view import RATE_SCALE

__all__ = ["BackstopModule"]

_I64 = np.int64
#: this module's number in its events' ``code`` and its ledger moves' ``reason`` (journal format:
#: never renumbered); registering the class adds it to ``MODULE_CODES``
_CODE = 3


class BackstopModule:
    """Backstop-vault stage. See the module docs.

    >>> BackstopModule(vault_acct=7, trigger_rate=66_666_667).trigger_rate
    66666667
    >>> BackstopModule(vault_acct=None)
    Traceback (most recent call last):
    ...
    exchange.errors.ConfigError: 'vault_acct' must be an account id >= 0 (got None)
    """

    name = "backstop"
    code = _CODE

    def __init__(self, vault_acct: int, price: str = "bankruptcy", trigger_rate: int = 0,
                 take_margin: bool = False, cover_deficit: bool = False) -> None:
        if type(vault_acct) is not int or vault_acct < 0:
            raise invalid("vault_acct", "an account id >= 0", vault_acct, error=ConfigError)
        if price not in ("bankruptcy", "mark"):
            raise invalid("price", "'bankruptcy' or 'mark'", price, error=ConfigError)
        if type(trigger_rate) is not int or not 0 <= trigger_rate <= RATE_SCALE:
            raise invalid("trigger_rate", f"an int rate in [0, {RATE_SCALE}]", trigger_rate,
                          error=ConfigError)
        self.vault_acct = vault_acct
        self.price = price
        self.trigger_rate = trigger_rate
        self.take_margin = bool(take_margin)
        self.cover_deficit = bool(cover_deficit)
        self.refused = 0

    def process(self, ctx, cases: Cases, rows: np.ndarray) -> Outcome:
        rows = np.asarray(rows, _I64)
        n = len(rows)
        closed = np.zeros(n, _I64)
        notional = np.zeros(n, _I64)
        vault = self.vault_acct
        v = ctx.view
        if vault >= v.n_acct or v.flags[vault]:
            return Outcome.build(ctx, cases, rows, closed, notional)
        q = ctx.size(cases, rows)
        eq = ctx.equity(cases, rows)
        mm = ctx.maintenance(cases, rows)
        for j in np.flatnonzero(q != 0):
            r = rows[j]
            if cases.acct[r] == vault:
                continue
            # exact Python ints: equity × 1e8 overflows int64 above ~92,000 units of equity
            if self.trigger_rate and int(eq[j]) * RATE_SCALE >= self.trigger_rate * int(mm[j]):
                continue
            instr = int(cases.instr[r])
            rr = np.array([r], _I64)
            price = int(ctx.bankruptcy_price(cases, rr)[0]) if self.price == "bankruptcy" \
                else max(v.ref_price(instr), 1)
            lots = abs(int(q[j]))
            # at the mark a transfer leaves the case's equity as it was: the deficit the
            # vault would pay is the case's negative equity now
            pay = max(-int(eq[j]), 0) if (self.cover_deficit and self.price == "mark") else 0
            if not ctx.keeps_initial_margin(vault, instr, int(q[j]), price, pay):
                self.refused += 1
                continue
            ctx.transfer(cases, rr, np.array([vault]), np.array([lots]), np.array([price]), _CODE)
            kept = 0
            e_after = int(ctx.equity(cases, rr)[0])
            if self.take_margin and e_after > 0 and ctx.size(cases, rr)[0] == 0:
                ctx.debit(cases, rr, L_WALLET, vault, np.array([e_after]), _CODE)
                kept = e_after
            elif self.cover_deficit and e_after < 0:
                ctx.credit(cases, rr, L_WALLET, vault, instr, np.array([-e_after]), _CODE)
                kept = e_after
            closed[j] += lots
            notional[j] += lots * price * int(v.k[instr])
            ctx.stats.backstop_lots += lots
            ctx.emit(ev.BACKSTOP_TAKEOVER, 1, code=_CODE, instr=instr, acct=int(cases.acct[r]),
                     side=0 if q[j] > 0 else 1, price=price, qty=lots, a1=vault, a2=int(eq[j]),
                     a3=kept)
        return Outcome.build(ctx, cases, rows, closed, notional)

