"""Event kinds recorded by the liquidation waterfall (numbers 100 and up).

The liquidation engine writes its events into the venue core's event stream with
``VenueCore.emit`` / ``VenueCore.emit_many``: one ``EVENT_DTYPE`` record per event, with the
columns ``acct, instr, oid, side, price, qty, a1, a2, a3, code, flag`` (``seq`` and ``ts`` are
set by the core). :data:`LIQUIDATION_EVENT_KINDS` maps each kind number to its class name (past
tense, as everywhere in the stream), :data:`LIQUIDATION_EVENT_FIELDS` says what each column
carries for that kind; columns not listed are 0. ``exchange.events`` maps both onto attrs
classes.

Units: prices are ticks, quantities lots, money atoms, rates parts per 1e8. ``side`` is the
side of the position concerned (0 long, 1 short) unless a kind says otherwise. ``code`` of
the module events is the module's number in :data:`MODULE_CODES`.

The numbers are part of the journal format: never renumber, only add.
"""
from __future__ import annotations

__all__ = [
    "LIQUIDATION_EVENT_KINDS", "LIQUIDATION_EVENT_FIELDS", "LIQUIDATION_EVENT_COLUMNS",
    "MODULE_CODES", "ADL_POLICY_CODES",
    "SOCIALIZED_POLICY_CODES",
    "LIQUIDATION_TRIGGERED", "MARGIN_CALL", "POSITION_LIQUIDATED", "AUCTION_STARTED",
    "AUCTION_RESET", "AUCTION_TAKEN", "AUCTION_SETTLED", "BACKSTOP_TAKEOVER",
    "INSURANCE_FUND_USED", "INSURANCE_FUND_CREDITED", "LOSS_SOCIALIZED", "POSITION_DELEVERAGED",
    "BAD_DEBT_BOOKED", "LIQUIDATION_COMPLETED", "KEEPER_REWARDED", "LIQUIDATIONS_FROZEN",
    "LIQUIDATIONS_RESUMED", "ADL_ROUND_SETTLED", "register_event_kinds", "LEDGER_ISOLATED_COVER",
]

#: ``reason`` of the LedgerMoved records of the venue's own cover of an isolated bucket left
#: negative by a close outside liquidation (the fund pays, the rest is bad debt; the core's
#: ``LEDGER_ISOLATED_COVER``): not a module's, so not among :data:`MODULE_CODES`
LEDGER_ISOLATED_COVER = 99

#: ``code`` of module events: which waterfall module acted (0: the engine itself)
MODULE_CODES = {"engine": 0, "market": 1, "auction": 2, "backstop": 3, "insurance": 4,
                "socialized": 5, "adl": 6}
#: ``code`` of :data:`POSITION_DELEVERAGED`: the ranking policy
#: (6 was ``min_haircut``, retired: it left the bankrupt position open; never reused)
ADL_POLICY_CODES = {"binance": 1, "bitmex": 2, "hyperliquid": 3, "random": 4, "pro_rata": 5,
                    "bybit": 7, "risk_aware": 8, "leverage_drain": 9}
#: ``code`` of :data:`LOSS_SOCIALIZED`: the socialisation policy
SOCIALIZED_POLICY_CODES = {"profit_pro_rata": 1, "position_pro_rata": 2}

LIQUIDATION_TRIGGERED = 100
"""A position (isolated) or an account (cross: one event per cross position) fell below its
maintenance margin at the mark and entered the waterfall. acct, instr; price = mark; qty =
signed position size (lots, + long); a1 = equity (isolated: bucket + uPnL; cross: account
equity); a2 = maintenance margin (isolated: the position's; cross: the account's); a3 =
bankruptcy price (ticks, 0 if none); flag = 1 isolated, 0 cross."""

MARGIN_CALL = 101
"""A mark move carried a margin ratio (maintenance margin / equity) up across an alert
threshold. acct, instr; price = mark; qty = signed size; a1 = equity; a2 = maintenance margin;
a3 = the threshold in percent (e.g. 80); code = the threshold in percent; flag = 1 isolated."""

POSITION_LIQUIDATED = 102
"""A liquidation order closed (part of) a distressed position in the book. acct, instr, oid =
0; side = position side; price = average fill price (ticks, rounded toward the account: down
for a long's sale, up for a short's purchase); qty = lots closed; a1 = traded notional (atoms);
a2 = liquidation fee (atoms, to the insurance fund); a3 = lots still open; code = module that
sent it (market, or insurance when the fund unwinds); flag = 1 if the position is now
closed."""

AUCTION_STARTED = 103
"""A Dutch auction of a distressed position began. oid = auction id; acct, instr, side; price =
starting price ``top`` (ticks); qty = lots on sale; a1 = tab (position notional at the mark,
atoms); a2 = keeper reward paid (atoms); a3 = keeper account (-1 none)."""

AUCTION_RESET = 104
"""An auction restarted (older than ``tail`` or price/top below ``cusp``). oid = auction id;
acct, instr, side; price = new top; qty = lots left; a1 = tab; a2 = keeper reward paid;
a3 = number of resets so far."""

AUCTION_TAKEN = 105
"""A bidder took (part of) an auctioned position at the current auction price. oid = auction
id; acct = bidder; instr; side = side of the position the bidder received; price = auction
price paid (ticks); qty = lots taken; a1 = the liquidated account; a2 = lots left in the
auction; a3 = notional (atoms)."""

AUCTION_SETTLED = 106
"""An auction ended. oid = auction id; acct, instr, side; price = last auction price; qty = lots
sold in total; a1 = lots left unsold (passed down the waterfall); a2 = proceeds (atoms); flag =
1 if it expired without selling everything."""

BACKSTOP_TAKEOVER = 107
"""The backstop vault took over a position. acct = liquidated account; instr; side; price =
takeover price; qty = lots; a1 = vault account; a2 = the position's equity at the mark before
the takeover (atoms, negative = a loss the vault absorbed); a3 = margin moved to the vault
(atoms, HL keeps the remaining margin)."""

INSURANCE_FUND_USED = 108
"""The insurance fund paid a deficit. acct, instr; a1 = atoms paid; a2 = fund balance after;
a3 = deficit left unpaid (atoms); flag = 1 if the position was still open (deficit at the
mark). A takeover (the fund's account took the position at the bankruptcy price) also has
side (0: the case was long), price = the takeover price (ticks) and qty = lots taken over
(0 for a plain payment)."""

INSURANCE_FUND_CREDITED = 109
"""The fund received what was left of a liquidated position's margin above the bankruptcy
price (Binance "clearance fee"). acct, instr; a1 = atoms received; a2 = fund balance after."""

LOSS_SOCIALIZED = 110
"""One account paid part of a socialised loss. acct = payer; instr; qty = payer's signed size;
a1 = atoms paid; a2 = total deficit socialised on the instrument in this step; a3 = haircut
rate (parts per 1e8 of the payer's profit, or of its share for position_pro_rata); code = policy
(:data:`SOCIALIZED_POLICY_CODES`)."""

POSITION_DELEVERAGED = 111
"""Auto-deleveraging closed part of a profitable position against a bankrupt one (both
shrink). acct = the deleveraged (winning) account; instr; side = winner's position side; price
= execution price; qty = lots; a1 = the bankrupt account; a2 = haircut versus the mark (atoms,
profit the winner gave up by closing at ``price`` instead of the mark; may be negative); a3 =
the winner's rank (0 = first); code = policy (:data:`ADL_POLICY_CODES`)."""

BAD_DEBT_BOOKED = 112
"""A deficit no module covered was booked to the bad-debt ledger account (the account ends at
zero equity). acct, instr; a1 = atoms booked; a2 = bad-debt balance after (negative: the
venue's loss); flag = 1 if the position was still open."""

LIQUIDATION_COMPLETED = 113
"""A liquidation case ended. acct, instr; qty = lots still open (0 when the position was fully
closed; > 0 when a partial liquidation made the account compliant); a1 = equity left to the
trader for this position (atoms); flag = 1 if the account became compliant again without a
full close."""

KEEPER_REWARDED = 114
"""An auction keeper received its incentive (``tip + chip·tab``). acct = keeper; instr; oid =
auction id; a1 = atoms; a2 = source ledger kind (3 insurance, 2 fee pool)."""

LIQUIDATIONS_FROZEN = 115
"""Liquidations stopped because the oracle is stale. instr = -1; price = last mark of the
instrument that reported it; a1 = pending cases."""

LIQUIDATIONS_RESUMED = 116
"""Liquidations resumed after the oracle became fresh again. instr = -1."""

ADL_ROUND_SETTLED = 117
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

LIQUIDATION_EVENT_KINDS = {
    LIQUIDATION_TRIGGERED: "LiquidationTriggered",
    MARGIN_CALL: "MarginCall",
    POSITION_LIQUIDATED: "PositionLiquidated",
    AUCTION_STARTED: "AuctionStarted",
    AUCTION_RESET: "AuctionReset",
    AUCTION_TAKEN: "AuctionTaken",
    AUCTION_SETTLED: "AuctionSettled",
    BACKSTOP_TAKEOVER: "BackstopTakeover",
    INSURANCE_FUND_USED: "InsuranceFundUsed",
    INSURANCE_FUND_CREDITED: "InsuranceFundCredited",
    LOSS_SOCIALIZED: "LossSocialized",
    POSITION_DELEVERAGED: "PositionDeleveraged",
    BAD_DEBT_BOOKED: "BadDebtBooked",
    LIQUIDATION_COMPLETED: "LiquidationCompleted",
    KEEPER_REWARDED: "KeeperRewarded",
    LIQUIDATIONS_FROZEN: "LiquidationsFrozen",
    LIQUIDATIONS_RESUMED: "LiquidationsResumed",
    ADL_ROUND_SETTLED: "AdlRoundSettled",
}

#: per kind: column -> meaning (the columns not listed are 0), for exchange.events and docs
LIQUIDATION_EVENT_FIELDS: dict[int, dict[str, str]] = {
    LIQUIDATION_TRIGGERED: dict(acct="account", instr="instrument", price="mark (ticks)",
                                qty="signed size (lots)", a1="equity (atoms)",
                                a2="maintenance margin (atoms)", a3="bankruptcy price (ticks)",
                                flag="1 isolated, 0 cross"),
    MARGIN_CALL: dict(acct="account", instr="instrument", price="mark (ticks)",
                      qty="signed size (lots)", a1="equity (atoms)",
                      a2="maintenance margin (atoms)", a3="threshold (percent)",
                      code="threshold (percent)", flag="1 isolated, 0 cross"),
    POSITION_LIQUIDATED: dict(acct="account", instr="instrument", side="position side",
                              price="average fill price (ticks)", qty="lots closed",
                              a1="notional (atoms)", a2="liquidation fee (atoms)",
                              a3="lots still open", code="module", flag="1 if now closed"),
    AUCTION_STARTED: dict(oid="auction id", acct="account", instr="instrument",
                          side="position side", price="top (ticks)", qty="lots",
                          a1="tab (atoms)", a2="keeper reward (atoms)", a3="keeper account"),
    AUCTION_RESET: dict(oid="auction id", acct="account", instr="instrument",
                        side="position side", price="new top (ticks)", qty="lots left",
                        a1="tab (atoms)", a2="keeper reward (atoms)", a3="resets so far"),
    AUCTION_TAKEN: dict(oid="auction id", acct="bidder", instr="instrument",
                        side="side received by the bidder", price="price (ticks)",
                        qty="lots", a1="liquidated account", a2="lots left",
                        a3="notional (atoms)"),
    AUCTION_SETTLED: dict(oid="auction id", acct="account", instr="instrument",
                          side="position side", price="last price (ticks)", qty="lots sold",
                          a1="lots unsold", a2="proceeds (atoms)", flag="1 if expired"),
    BACKSTOP_TAKEOVER: dict(acct="account", instr="instrument", side="position side",
                            price="takeover price (ticks)", qty="lots", a1="vault account",
                            a2="equity at mark before (atoms)",
                            a3="margin kept by the vault (atoms)"),
    INSURANCE_FUND_USED: dict(acct="account", instr="instrument", side="side of the case",
                              price="takeover price (ticks)", qty="lots taken over",
                              a1="paid (atoms)", a2="fund after (atoms)",
                              a3="deficit left (atoms)", flag="1 if the position was open"),
    INSURANCE_FUND_CREDITED: dict(acct="account", instr="instrument", a1="received (atoms)",
                                  a2="fund after (atoms)"),
    LOSS_SOCIALIZED: dict(acct="payer", instr="instrument", qty="payer's signed size",
                          a1="paid (atoms)", a2="deficit socialised (atoms)",
                          a3="haircut rate (1e-8)", code="policy"),
    POSITION_DELEVERAGED: dict(acct="winner", instr="instrument", side="winner's side",
                               price="price (ticks)", qty="lots", a1="bankrupt account",
                               a2="haircut vs mark (atoms)", a3="rank", code="policy"),
    BAD_DEBT_BOOKED: dict(acct="account", instr="instrument", a1="booked (atoms)",
                          a2="bad debt after (atoms)", flag="1 if the position was open"),
    LIQUIDATION_COMPLETED: dict(acct="account", instr="instrument", qty="lots still open",
                                a1="equity left (atoms)", flag="1 if compliant again"),
    KEEPER_REWARDED: dict(acct="keeper", instr="instrument", oid="auction id",
                          a1="reward (atoms)", a2="source ledger kind"),
    LIQUIDATIONS_FROZEN: dict(instr="-1", price="last mark (ticks)", a1="pending cases"),
    LIQUIDATIONS_RESUMED: dict(instr="-1"),
    ADL_ROUND_SETTLED: dict(acct="bankrupt account", instr="instrument", side="bankrupt side",
                            price="ADL price (ticks)", qty="lots", a1="shortfall (atoms)",
                            a2="haircut (atoms)", a3="max leverage left (1e-8)",
                            flag="segments", code="policy"),
}

#: per kind: attrs field name -> record column, in the form ``exchange.events.register_kind``
#: takes (``register_kind(kind, LIQUIDATION_EVENT_KINDS[kind], LIQUIDATION_EVENT_COLUMNS[kind])``)
LIQUIDATION_EVENT_COLUMNS: dict[int, dict[str, str]] = {
    LIQUIDATION_TRIGGERED: dict(account="acct", instrument="instr", mark_ticks="price",
                                size_lots="qty", equity_atoms="a1", maintenance_atoms="a2",
                                bankruptcy_ticks="a3", isolated="flag"),
    MARGIN_CALL: dict(account="acct", instrument="instr", mark_ticks="price", size_lots="qty",
                      equity_atoms="a1", maintenance_atoms="a2", threshold_pct="a3",
                      isolated="flag"),
    POSITION_LIQUIDATED: dict(account="acct", instrument="instr", side="side",
                              price_ticks="price", qty_lots="qty", notional_atoms="a1",
                              fee_atoms="a2", open_lots="a3", module="code", closed="flag"),
    AUCTION_STARTED: dict(auction_id="oid", account="acct", instrument="instr", side="side",
                          top_ticks="price", qty_lots="qty", tab_atoms="a1",
                          keeper_reward_atoms="a2", keeper="a3"),
    AUCTION_RESET: dict(auction_id="oid", account="acct", instrument="instr", side="side",
                        top_ticks="price", qty_lots="qty", tab_atoms="a1",
                        keeper_reward_atoms="a2", resets="a3"),
    AUCTION_TAKEN: dict(auction_id="oid", bidder="acct", instrument="instr", side="side",
                        price_ticks="price", qty_lots="qty", account="a1", left_lots="a2",
                        notional_atoms="a3"),
    AUCTION_SETTLED: dict(auction_id="oid", account="acct", instrument="instr", side="side",
                          price_ticks="price", sold_lots="qty", unsold_lots="a1",
                          proceeds_atoms="a2", expired="flag"),
    BACKSTOP_TAKEOVER: dict(account="acct", instrument="instr", side="side",
                            price_ticks="price", qty_lots="qty", vault="a1",
                            equity_atoms="a2", margin_kept_atoms="a3"),
    INSURANCE_FUND_USED: dict(account="acct", instrument="instr", paid_atoms="a1",
                              fund_after_atoms="a2", deficit_left_atoms="a3",
                              position_open="flag", takeover_price_ticks="price",
                              taken_over_lots="qty"),
    INSURANCE_FUND_CREDITED: dict(account="acct", instrument="instr", received_atoms="a1",
                                  fund_after_atoms="a2"),
    LOSS_SOCIALIZED: dict(payer="acct", instrument="instr", size_lots="qty", paid_atoms="a1",
                          deficit_atoms="a2", haircut_rate="a3", policy="code"),
    POSITION_DELEVERAGED: dict(winner="acct", instrument="instr", side="side",
                               price_ticks="price", qty_lots="qty", bankrupt="a1",
                               haircut_atoms="a2", rank="a3", policy="code"),
    BAD_DEBT_BOOKED: dict(account="acct", instrument="instr", booked_atoms="a1",
                          bad_debt_after_atoms="a2", position_open="flag"),
    LIQUIDATION_COMPLETED: dict(account="acct", instrument="instr", open_lots="qty",
                                equity_atoms="a1", compliant="flag"),
    KEEPER_REWARDED: dict(keeper="acct", instrument="instr", auction_id="oid",
                          reward_atoms="a1", source_kind="a2"),
    LIQUIDATIONS_FROZEN: dict(mark_ticks="price", pending="a1"),
    LIQUIDATIONS_RESUMED: dict(),
    ADL_ROUND_SETTLED: dict(account="acct", instrument="instr", side="side", price_ticks="price",
                            qty_lots="qty", shortfall_atoms="a1", haircut_atoms="a2",
                            max_leverage_rate="a3", segments="flag", policy="code"),
}


def register_event_kinds() -> None:
    """Give these event kinds (100+) their names and field names in :mod:`exchange.events`
    (done when :mod:`exchange.liquidation` is imported), from
    :data:`LIQUIDATION_EVENT_COLUMNS`. Idempotent."""
    from exchange import events as ev_mod

    for kind, name in LIQUIDATION_EVENT_KINDS.items():
        if ev_mod.kind_name(kind).startswith("Kind"):
            ev_mod.register_kind(kind, name, LIQUIDATION_EVENT_COLUMNS.get(kind) or None)
