"""The metric catalogue: every key a run, a strategy's PnL or a world reports, with what it
means. The simulator computes these (:mod:`exchange.sim.metrics`, :mod:`exchange.sim.world`)
and the report and the command line show them; both read the names and descriptions here, so
the report needs nothing from the simulation layer."""
from __future__ import annotations

__all__ = ["METRICS", "PNL_FIELDS", "MARKET_KEYS", "VENUE_KEYS"]

#: metric key -> description (the order of tables and reports)
METRICS: dict[str, str] = {
    "liquidations": "liquidation episodes (from an account falling below maintenance until "
                    "its position is closed)",
    "liquidated_accounts": "distinct accounts liquidated",
    "liquidation_triggers": "liquidation triggers (a case left open re-triggers on a later mark)",
    "liquidation_orders": "orders the liquidation engine sent to the book",
    "liquidation_notional": "notional of the liquidated positions at the mark when triggered",
    "closed_in_book_notional": "notional closed by liquidation orders in the book",
    "liquidation_fees": "liquidation fees charged (to the insurance fund)",
    "auction_notional": "notional taken by auction bidders",
    "backstop_notional": "notional taken over by the backstop vault",
    "adl_notional": "notional closed by auto-deleveraging",
    "cascade_depth": "longest run of consecutive oracle ticks with new liquidations",
    "index_drawdown": "peak drawdown of the index (fraction)",
    "perp_drawdown": "peak drawdown of the perp's last price (fraction)",
    "amplification": "perp drawdown / index drawdown",
    "max_basis": "largest |last / index - 1|",
    "bad_debt": "deficit no module covered, booked to the bad-debt account",
    "bad_debt_outside_liquidation": "loss of isolated positions closed by their owner beyond "
                                    "their margin (a gap) that the fund could not pay: the "
                                    "venue's bad debt, out of any waterfall's reach",
    "insurance_start": "insurance fund at the start",
    "insurance_end": "insurance fund at the end",
    "insurance_drawdown": "largest fall of the insurance fund from a running maximum",
    "insurance_paid": "what left the insurance fund: deficits it paid (at the mark for a "
                      "takeover), the venue's covers of isolated buckets, keeper rewards",
    "insurance_credited": "what reached the insurance fund: liquidation fees and surpluses",
    "insurance_takeover_pnl": "the fund's result on the positions it took over, from the mark "
                              "at the takeover to the end (insurance_end = insurance_start + "
                              "insurance_credited - insurance_paid + insurance_takeover_pnl)",
    "backstop_pnl": "backstop vault equity at the end minus its capital",
    "adl_count": "auto-deleveraging fills",
    "adl_haircut": "profit winners gave up to ADL versus the mark",
    "adl_rounds": "ADL rounds (bankrupt cases deleveraged)",
    "adl_shortfall": "shortfall the ADL rounds met (the deficits left to ADL)",
    "adl_excess_haircut": "ADL haircut beyond the shortfalls covered",
    "adl_uncovered": "shortfall the ADL rounds left uncovered (winners' equity or the "
                     "venue's ADL price fell short)",
    "adl_winners_hit": "distinct winner accounts deleveraged",
    "adl_max_leverage": "largest leverage (notional / account equity) left on the winners' "
                        "side once ADL is done for a step (None: no ADL)",
    "socialized_total": "loss charged to accounts by socialization",
    "socialized_count": "socialized-loss charges",
    "haircut_total": "ADL haircut + socialized loss",
    "haircut_plus_bad_debt": "haircut_total + bad_debt: the loss no fund or vault absorbed",
    "haircut_accounts": "accounts that took a haircut",
    "winners": "accounts with a positive PnL before haircuts",
    "winners_hit_share": "share of winners that took a haircut (None: no haircuts)",
    "haircut_gini": "Gini of haircut / profit over winners (fairness; 0 = proportional; "
                    "None: no haircuts)",
    "funding_paid": "funding paid by payers (sum of positive payments)",
    "funding_settlements": "funding settlements",
    "repeg_s": "seconds from the largest basis until the perp re-pegged: |last / index - 1| "
               "below 0.25 % for 30 s (None: not before the end)",
    "volume": "traded notional (taker side)",
    "fills": "fills (taker side)",
    "orders": "orders accepted",
    "rejections": "orders rejected",
    "events": "events in the journal",
}


#: keys of :func:`~exchange.sim.metrics.account_pnl` -> description (money in the settlement asset)
PNL_FIELDS: dict[str, str] = {
    "accounts": "accounts of the group",
    "deposits": "net deposits",
    "equity_end": "equity at the end (wallet + isolated margin + unrealised PnL at the mark)",
    "pnl": "equity at the end - net deposits",
    "realized_pnl": "PnL closed by fills and position transfers (before fees)",
    "unrealized_pnl": "PnL of the open position at the final mark",
    "fees": "trading and liquidation fees paid (rebates negative)",
    "funding": "funding paid (received negative)",
    "other": "the rest of pnl: liquidation clearance, socialized losses, bad debt written off",
    "fills": "fills (both sides)",
    "volume": "traded notional (both sides)",
    "liquidations": "liquidation episodes",
    "orders": "orders accepted",
    "rejections": "orders rejected",
}


#: per-instrument metrics shown by ``perpsim run`` on a world
MARKET_KEYS = ("liquidations", "liquidated_accounts", "liquidation_notional", "bad_debt",
               "adl_count", "adl_notional", "index_drawdown", "perp_drawdown", "max_basis",
               "volume", "fills")
VENUE_KEYS = ("liquidations", "liquidation_notional", "bad_debt", "insurance_start",
              "insurance_end", "insurance_drawdown", "adl_count", "adl_haircut",
              "socialized_total", "events")
