"""Event kinds recorded by the liquidation waterfall (numbers 100 and up).

The liquidation engine writes its events into the venue core's event stream with
``VenueCore.emit`` / ``VenueCore.emit_many``: one ``EVENT_DTYPE`` record per event, with the
columns ``acct, instr, oid, side, price, qty, a1, a2, a3, code, flag`` (``seq`` and ``ts`` are
set by the core). The kind numbers are :class:`~exchange.events.EventKind` members
(``exchange/_enums.pxd``) and each kind's class, with what every column carries, is declared in
:mod:`exchange.events`; this module documents what each kind means and derives
:data:`LIQUIDATION_EVENT_KINDS` (number -> class name) and :data:`LIQUIDATION_EVENT_FIELDS`
(column -> meaning; columns not listed are 0) from those classes.

Units: prices are ticks, quantities lots, money atoms, rates parts per 1e8. ``side`` is the
side of the position concerned (0 long, 1 short) unless a kind says otherwise. ``code`` of
the module events is the module's number in :data:`MODULE_CODES`.

The numbers are part of the journal format: never renumber, only add.
"""
from __future__ import annotations

import attrs

from exchange._enums import EventKind, LedgerReason
from exchange.events import EVENT_CLASSES, event_columns

__all__ = [
    "LIQUIDATION_EVENT_KINDS", "LIQUIDATION_EVENT_FIELDS", "LIQUIDATION_EVENT_COLUMNS",
    "MODULE_CODES", "ADL_POLICY_CODES",
    "SOCIALIZED_POLICY_CODES",
    "LIQUIDATION_TRIGGERED", "MARGIN_CALL", "POSITION_LIQUIDATED", "AUCTION_STARTED",
    "AUCTION_RESET", "AUCTION_TAKEN", "AUCTION_SETTLED", "BACKSTOP_TAKEOVER",
    "INSURANCE_FUND_USED", "INSURANCE_FUND_CREDITED", "LOSS_SOCIALIZED", "POSITION_DELEVERAGED",
    "BAD_DEBT_BOOKED", "LIQUIDATION_COMPLETED", "KEEPER_REWARDED", "LIQUIDATIONS_FROZEN",
    "LIQUIDATIONS_RESUMED", "ADL_ROUND_SETTLED", "LEDGER_ISOLATED_COVER",
]

#: ``reason`` of the LedgerMoved records of the venue's own cover of an isolated bucket left
#: negative by a close outside liquidation (the fund pays, the rest is bad debt; the core's
#: ``LEDGER_ISOLATED_COVER``): not a module's, so not among :data:`MODULE_CODES`
LEDGER_ISOLATED_COVER = int(LedgerReason.ISOLATED_COVER)

#: ``code`` of module events: which waterfall module acted (0: the engine itself); each module
#: class declares its ``code`` and :func:`~exchange.liquidation.base.register_module` adds it
#: here (market 1, auction 2, backstop 3, insurance 4, socialized 5, adl 6)
MODULE_CODES: dict[str, int] = {"engine": 0}
#: ``code`` of :data:`POSITION_DELEVERAGED`: the ranking policy
#: (6 was ``min_haircut``, retired: it left the bankrupt position open; never reused)
ADL_POLICY_CODES = {"binance": 1, "bitmex": 2, "hyperliquid": 3, "random": 4, "pro_rata": 5,
                    "bybit": 7, "risk_aware": 8, "leverage_drain": 9}
#: ``code`` of :data:`LOSS_SOCIALIZED`: the socialisation policy
SOCIALIZED_POLICY_CODES = {"profit_pro_rata": 1, "position_pro_rata": 2}

LIQUIDATION_TRIGGERED = int(EventKind.LIQUIDATION_TRIGGERED)
"""A position (isolated) or an account (cross: one event per cross position) fell below its
maintenance margin at the mark and entered the waterfall. acct, instr; price = mark; qty =
signed position size (lots, + long); a1 = equity (isolated: bucket + uPnL; cross: account
equity); a2 = maintenance margin (isolated: the position's; cross: the account's); a3 =
bankruptcy price (ticks, 0 if none); flag = 1 isolated, 0 cross."""

MARGIN_CALL = int(EventKind.MARGIN_CALL)
"""A mark move carried a margin ratio (maintenance margin / equity) up across an alert
threshold. acct, instr; price = mark; qty = signed size; a1 = equity; a2 = maintenance margin;
a3 = the threshold in percent (e.g. 80); code = the threshold in percent; flag = 1 isolated."""

POSITION_LIQUIDATED = int(EventKind.POSITION_LIQUIDATED)
"""A liquidation order closed (part of) a distressed position in the book. acct, instr, oid =
0; side = position side; price = average fill price (ticks, rounded toward the account: down
for a long's sale, up for a short's purchase); qty = lots closed; a1 = traded notional (atoms);
a2 = liquidation fee (atoms, to the insurance fund); a3 = lots still open; code = module that
sent it (market, or insurance when the fund unwinds); flag = 1 if the position is now
closed."""

AUCTION_STARTED = int(EventKind.AUCTION_STARTED)
"""A Dutch auction of a distressed position began. oid = auction id; acct, instr, side; price =
starting price ``top`` (ticks); qty = lots on sale; a1 = tab (position notional at the mark,
atoms); a2 = keeper reward paid (atoms); a3 = keeper account (-1 none)."""

AUCTION_RESET = int(EventKind.AUCTION_RESET)
"""An auction restarted (older than ``tail`` or price/top below ``cusp``). oid = auction id;
acct, instr, side; price = new top; qty = lots left; a1 = tab; a2 = keeper reward paid;
a3 = number of resets so far."""

AUCTION_TAKEN = int(EventKind.AUCTION_TAKEN)
"""A bidder took (part of) an auctioned position at the current auction price. oid = auction
id; acct = bidder; instr; side = side of the position the bidder received; price = auction
price paid (ticks); qty = lots taken; a1 = the liquidated account; a2 = lots left in the
auction; a3 = notional (atoms)."""

AUCTION_SETTLED = int(EventKind.AUCTION_SETTLED)
"""An auction ended. oid = auction id; acct, instr, side; price = last auction price; qty = lots
sold in total; a1 = lots left unsold (passed down the waterfall); a2 = proceeds (atoms); flag =
1 if it expired without selling everything."""

BACKSTOP_TAKEOVER = int(EventKind.BACKSTOP_TAKEOVER)
"""The backstop vault took over a position. acct = liquidated account; instr; side; price =
takeover price; qty = lots; a1 = vault account; a2 = the position's equity at the mark before
the takeover (atoms, negative = a loss the vault absorbed); a3 = margin moved to the vault
(atoms, HL keeps the remaining margin)."""

INSURANCE_FUND_USED = int(EventKind.INSURANCE_FUND_USED)
"""The insurance fund paid a deficit. acct, instr; a1 = atoms paid; a2 = fund balance after;
a3 = deficit left unpaid (atoms); flag = 1 if the position was still open (deficit at the
mark). A takeover (the fund's account took the position at the bankruptcy price) also has
side (0: the case was long), price = the takeover price (ticks) and qty = lots taken over
(0 for a plain payment)."""

INSURANCE_FUND_CREDITED = int(EventKind.INSURANCE_FUND_CREDITED)
"""The fund received what was left of a liquidated position's margin above the bankruptcy
price (Binance "clearance fee"). acct, instr; a1 = atoms received; a2 = fund balance after."""

LOSS_SOCIALIZED = int(EventKind.LOSS_SOCIALIZED)
"""One account paid part of a socialised loss. acct = payer; instr; qty = payer's signed size;
a1 = atoms paid; a2 = total deficit socialised on the instrument in this step; a3 = haircut
rate (parts per 1e8 of the payer's profit, or of its share for position_pro_rata); code = policy
(:data:`SOCIALIZED_POLICY_CODES`)."""

POSITION_DELEVERAGED = int(EventKind.POSITION_DELEVERAGED)
"""Auto-deleveraging closed part of a profitable position against a bankrupt one (both
shrink). acct = the deleveraged (winning) account; instr; side = winner's position side; price
= execution price; qty = lots; a1 = the bankrupt account; a2 = haircut versus the mark (atoms,
profit the winner gave up by closing at ``price`` instead of the mark; may be negative); a3 =
the winner's rank (0 = first); code = policy (:data:`ADL_POLICY_CODES`)."""

BAD_DEBT_BOOKED = int(EventKind.BAD_DEBT_BOOKED)
"""A deficit no module covered was booked to the bad-debt ledger account (the account ends at
zero equity). acct, instr; a1 = atoms booked; a2 = bad-debt balance after (negative: the
venue's loss); flag = 1 if the position was still open."""

LIQUIDATION_COMPLETED = int(EventKind.LIQUIDATION_COMPLETED)
"""A liquidation case ended. acct, instr; qty = lots still open (0 when the position was fully
closed; > 0 when a partial liquidation made the account compliant); a1 = equity left to the
trader for this position (atoms); flag = 1 if the account became compliant again without a
full close."""

KEEPER_REWARDED = int(EventKind.KEEPER_REWARDED)
"""An auction keeper received its incentive (``tip + chip·tab``). acct = keeper; instr; oid =
auction id; a1 = atoms; a2 = source ledger kind (3 insurance, 2 fee pool)."""

LIQUIDATIONS_FROZEN = int(EventKind.LIQUIDATIONS_FROZEN)
"""Liquidations stopped because the oracle is stale. instr = -1; price = last mark of the
instrument that reported it; a1 = pending cases."""

LIQUIDATIONS_RESUMED = int(EventKind.LIQUIDATIONS_RESUMED)
"""Liquidations resumed after the oracle became fresh again. instr = -1."""

ADL_ROUND_SETTLED = int(EventKind.ADL_ROUND_SETTLED)
"""One ADL round ended: a bankrupt case's position was deleveraged against winners. acct = the
bankrupt account; instr; side = the bankrupt position's side; price = the venue's ADL price
(ticks: the bankruptcy price, or the previous mark / index); qty = lots deleveraged; a1 = the
shortfall the round answers for (the case's deficit at the mark when it reached ADL, atoms;
``deficit·x/q`` when only ``x`` of its ``q`` lots found winners — the rest stays with the open
remainder for a later round); a2 = the
haircut the winners gave up versus the mark (atoms; a2 − a1 > 0 is excess haircut, which the
bankrupt account keeps); a3 = the largest leverage (notional / equity, parts per 1e8) left
among the profitable positions on the winners' side after the round; flag = winner segments
hit; code = policy (:data:`ADL_POLICY_CODES`)."""

_LIQUIDATION_KINDS = [k for k in EventKind if 100 <= k < 1000]

#: kind number -> class name, the waterfall's kinds (the classes are in :mod:`exchange.events`)
LIQUIDATION_EVENT_KINDS: dict[int, str] = {int(k): EVENT_CLASSES[k].__name__
                                           for k in _LIQUIDATION_KINDS}
#: per kind: record column -> what it carries (columns not listed are 0), from the classes
LIQUIDATION_EVENT_FIELDS: dict[int, dict[str, str]] = {
    int(k): {f.metadata["column"]: f.metadata["doc"] for f in attrs.fields(EVENT_CLASSES[k])
             if "column" in f.metadata}
    for k in _LIQUIDATION_KINDS}
#: per kind: event field name -> record column
LIQUIDATION_EVENT_COLUMNS: dict[int, dict[str, str]] = {
    int(k): event_columns(EVENT_CLASSES[k]) for k in _LIQUIDATION_KINDS}
