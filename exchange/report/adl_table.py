"""The ADL-policy comparison as a Markdown table, from a ``perpsim compare`` result.

The comparison of issue 10 (flash_crash, 5 seeds, every allocation; then the Hyperliquid
preset, whose ADL price is the previous mark)::

    P="market,insurance,adl:binance;market,insurance,adl:bitmex;market,insurance,adl:hyperliquid"
    P="$P;market,insurance,adl:random;market,insurance,adl:pro_rata;market,insurance,adl:risk_aware"
    P="$P;market,insurance,adl:leverage_drain;market,insurance"
    perpsim compare flash_crash --seeds 5 --no-report --out perpsim-out/adl-fc --waterfalls "$P"
    python -m exchange.report.adl_table perpsim-out/adl-fc/compare.parquet
    perpsim compare flash_crash --set scenario.preset=hyperliquid --set scenario.symbol=BTC \
        --seeds 5 --no-report --out perpsim-out/adl-hl --waterfalls \
        "$P;market,insurance,adl:hyperliquid:price=bankruptcy;market,backstop,adl:hyperliquid"
    python -m exchange.report.adl_table perpsim-out/adl-hl/compare.parquet

One row per design (mean over seeds; haircut + bad debt with its sample standard deviation),
the columns of severity (shortfall met, haircut, excess, uncovered), outcome (haircut + bad
debt), allocation (notional closed, winners hit, Gini of haircut / profit) and risk left (the
largest leverage on the winners' side after ADL). Metrics that do not apply (no haircut, no
ADL round) are "n/a", never 0.
"""
from __future__ import annotations

import statistics
import sys
from typing import Any
from collections.abc import Sequence

__all__ = ["ADL_COLUMNS", "adl_policy_table", "main"]

#: metric key -> column title
ADL_COLUMNS: dict[str, str] = {
    "bad_debt": "bad debt", "adl_shortfall": "shortfall met", "adl_haircut": "ADL haircut",
    "adl_excess_haircut": "excess haircut", "adl_uncovered": "uncovered",
    "haircut_plus_bad_debt": "haircut + bad debt", "adl_notional": "notional closed",
    "adl_winners_hit": "winners hit", "haircut_gini": "Gini(haircut/profit)",
    "adl_max_leverage": "max leverage left",
}


def adl_policy_table(rows: Sequence[dict[str, Any]]) -> str:
    """Markdown for ``rows`` (one per run: ``waterfall``, ``seed`` and the metrics, as in
    compare.parquet), designs in first-seen order, and a last line naming the design with the
    least haircut + bad debt. O(rows).

    >>> rows = [dict(waterfall="a", seed=0, haircut_plus_bad_debt=3.0, haircut_gini=None),
    ...         dict(waterfall="b", seed=0, haircut_plus_bad_debt=2.0, haircut_gini=0.5)]
    >>> print(adl_policy_table(rows).splitlines()[-1])
    least haircut + bad debt: `b` (2)
    """
    labels = list(dict.fromkeys(r["waterfall"] for r in rows))
    seeds = sorted({r["seed"] for r in rows})
    out = [f"seeds {seeds}; mean over seeds (haircut + bad debt: mean ± sd)",
           "| waterfall | " + " | ".join(ADL_COLUMNS.values()) + " |",
           "|---" * (len(ADL_COLUMNS) + 1) + "|"]
    best: tuple[str, float] | None = None
    for lbl in labels:
        runs = [r for r in rows if r["waterfall"] == lbl]
        cells = []
        for key in ADL_COLUMNS:
            vals = [float(r[key]) for r in runs if r.get(key) is not None]
            if not vals:
                cells.append("n/a")
                continue
            m = statistics.fmean(vals)
            if key == "haircut_plus_bad_debt":
                sd = statistics.stdev(vals) if len(vals) > 1 else 0.0
                cells.append(f"**{m:,.0f}** ± {sd:,.0f}")
                if best is None or m < best[1]:
                    best = (lbl, m)
            elif key in ("haircut_gini", "adl_max_leverage"):
                cells.append(f"{m:.3f}")
            else:
                cells.append(f"{m:,.0f}")
        out.append(f"| `{lbl}` | " + " | ".join(cells) + " |")
    if best is not None:
        out.append("")
        out.append(f"least haircut + bad debt: `{best[0]}` ({best[1]:,.0f})")
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> int:
    import pyarrow.parquet as pq

    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1:
        print("usage: python -m exchange.report.adl_table COMPARE.parquet", file=sys.stderr)
        return 2
    print(adl_policy_table(pq.read_table(args[0]).to_pylist()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
