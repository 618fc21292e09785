"""Plain-language notes on a comparison, computed from its numbers: why one design shows more
liquidation triggers than episodes and more orders than the others, and what "n/a" means in
each row where it appears. The CLI prints them under the table, the report shows them under
the verdict table.
"""
from __future__ import annotations

import statistics
from typing import Any

__all__ = ["design_notes", "NA_MEANING"]

#: what "n/a" (None) means for the metrics that can be None
NA_MEANING: dict[str, str] = {
    "repeg_s": "the perp's last price did not come back within 0.25 % of the index for 30 s "
               "before the run ended (never re-pegged)",
    "haircut_gini": "no winner took a haircut: there is no allocation to judge",
    "winners_hit_share": "no winner took a haircut",
    "adl_max_leverage": "no auto-deleveraging round ran",
    "amplification": "the index did not fall",
}


def _mean(comparison, label: str, key: str) -> float | None:
    vals = [r.metrics.get(key) for r in comparison.results[label]]
    vals = [float(v) for v in vals if isinstance(v, (int, float))]
    return statistics.fmean(vals) if vals else None


def _arrow(label: str) -> str:
    return " → ".join(label.split(","))


def design_notes(comparison: Any) -> list[str]:
    """Notes for :class:`~exchange.sim.compare.Comparison` ``comparison`` (means over its
    seeds), one sentence each; empty when nothing needs explaining."""
    labels = list(comparison.labels)
    notes: list[str] = []
    asset = comparison.results[labels[0]][0].info.get("settle_asset", "") if labels else ""
    n = len(comparison.seeds)
    over = f" (mean of {n} seeds)" if n > 1 else ""
    orders = {lbl: _mean(comparison, lbl, "orders") for lbl in labels}
    liq_orders = {lbl: _mean(comparison, lbl, "liquidation_orders") for lbl in labels}
    for lbl in labels:
        trig = _mean(comparison, lbl, "liquidation_triggers")
        eps = _mean(comparison, lbl, "liquidations")
        if trig is None or eps is None or trig <= eps * 1.05 + 1:
            continue
        bad = _mean(comparison, lbl, "bad_debt") or 0.0
        text = (f"{_arrow(lbl)}: {trig:,.0f} liquidation triggers for {eps:,.0f} episodes"
                f"{over} — {trig - eps:,.0f} re-triggers of cases the waterfall left open")
        if bad > 0:
            text += f" (it has no last resort: {bad:,.0f} {asset} of bad debt)"
        others = [lbl2 for lbl2 in labels if lbl2 != lbl and orders.get(lbl2) is not None]
        lo = liq_orders.get(lbl)
        if others and lo is not None and orders.get(lbl) is not None:
            rest = statistics.fmean(orders[o] for o in others)
            rest_lo = statistics.fmean(liq_orders[o] or 0.0 for o in others)
            if orders[lbl] > rest:
                share = (lo - rest_lo) / (orders[lbl] - rest) if orders[lbl] > rest else 0.0
                text += (f"; each open case is sent to the book again, so its liquidation "
                         f"engine sent {lo:,.0f} orders against {rest_lo:,.0f} for the other "
                         f"designs, {min(max(share, 0.0), 1.0):.0%} of its {orders[lbl] - rest:,.0f} "
                         f"extra accepted orders ({orders[lbl]:,.0f} vs {rest:,.0f})")
        notes.append(text + ".")
    for key, meaning in NA_MEANING.items():
        missing = [lbl for lbl in labels
                   if all(r.metrics.get(key) is None for r in comparison.results[lbl])]
        partly = [lbl for lbl in labels if lbl not in missing
                  and any(r.metrics.get(key) is None for r in comparison.results[lbl])]
        if missing:
            notes.append(f"{key} n/a in {', '.join(_arrow(m) for m in missing)}: {meaning}.")
        if partly:
            notes.append(f"{key} is the mean of the seeds where it exists in "
                         f"{', '.join(_arrow(m) for m in partly)}; in the others: {meaning}.")
    return notes
