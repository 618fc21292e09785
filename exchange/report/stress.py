"""The ``perpsim stress`` report: the table and its figures in one self-contained HTML page.

Takes a :class:`~exchange.sim.stress.StressResult` (duck-typed: ``portfolio``, ``rows()``,
``runs``, ``seeds``, ``cases``) so the report layer does not import the simulator.
"""
from __future__ import annotations

import base64
import html
import io
from typing import Any

__all__ = ["render_stress_html", "stress_figures"]

_CSS = """body{font-family:system-ui,sans-serif;margin:1.5em auto;max-width:1200px;color:#222}
table{border-collapse:collapse;margin:1em 0;width:100%}td,th{border-bottom:1px solid #ddd;
padding:4px 8px;text-align:right}td:first-child,th:first-child,td:nth-child(2),th:nth-child(2)
{text-align:left}th{background:#f4f4f4}.fig img{width:100%}.note{color:#666;font-size:90%}"""


def _png(fig) -> bytes:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def stress_figures(result) -> dict[str, bytes]:
    """PNG figures: probability of liquidation per shock and margin mode; the loss of every
    seed per shock (dots) with its mean; the buffer needed at 95 % and 99 %."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    rows = result.rows()
    modes = list(result.portfolio.modes)
    labels = list(dict.fromkeys(r["label"] for r in rows))
    settle = result.settle
    y = np.arange(len(labels))
    h = 0.8 / len(modes)
    colors = {"cross": "#d62728", "isolated": "#1f77b4"}
    out = {}

    fig, ax = plt.subplots(figsize=(12, 0.5 * len(labels) + 1.5))
    for i, m in enumerate(modes):
        vals = [next(r["p_liq"] for r in rows if r["label"] == lb and r["margin"] == m)
                for lb in labels]
        ax.barh(y + i * h, [v * 100 for v in vals], h, label=m, color=colors.get(m))
    ax.set_yticks(y + h * (len(modes) - 1) / 2, labels)
    ax.invert_yaxis()
    ax.set_xlim(0, 100)
    ax.set_xlabel("probability of liquidation, % of seeds")
    ax.set_title("Probability of liquidation per shock")
    ax.legend(title="margin")
    out["probability of liquidation"] = _png(fig)

    fig, ax = plt.subplots(figsize=(12, 0.5 * len(labels) + 1.5))
    by_case = {c.name: c.label for c in result.cases}
    for i, m in enumerate(modes):
        for j, lb in enumerate(labels):
            losses = [r["modes"][m]["loss"] for r in result.runs if by_case[r["case"]] == lb]
            ax.scatter(losses, np.full(len(losses), j + i * h), s=14, alpha=0.6,
                       color=colors.get(m), label=m if j == 0 else None)
            ax.plot([np.mean(losses)] * 2, [j + i * h - h / 2, j + i * h + h / 2],
                    color="k", lw=1.5)
    ax.axvline(float(result.portfolio.wallet), color="#888", ls="--", lw=1)
    ax.text(float(result.portfolio.wallet), -0.6, " wallet", color="#666", va="bottom")
    ax.set_yticks(y + h * (len(modes) - 1) / 2, labels)
    ax.invert_yaxis()
    ax.set_xlabel(f"loss per seed, {settle} (black bar: mean)")
    ax.set_title("Loss per shock: every seed")
    ax.legend(title="margin")
    out["loss per seed"] = _png(fig)

    fig, ax = plt.subplots(figsize=(12, 0.5 * len(labels) + 1.5))
    for i, m in enumerate(modes):
        b95 = [next(r["buffer_95"] for r in rows if r["label"] == lb and r["margin"] == m)
               for lb in labels]
        b99 = [next(r["buffer_99"] for r in rows if r["label"] == lb and r["margin"] == m)
               for lb in labels]
        ax.barh(y + i * h, b99, h, color=colors.get(m), alpha=0.35,
                label=f"{m}: 99 %")
        ax.barh(y + i * h, b95, h, color=colors.get(m), label=f"{m}: 95 %")
    ax.set_yticks(y + h * (len(modes) - 1) / 2, labels)
    ax.invert_yaxis()
    ax.set_xlabel(f"extra margin needed to stay above maintenance, {settle}")
    ax.set_title("Margin buffer to survive the shock at 95 % and 99 % of seeds")
    ax.legend()
    out["margin buffer"] = _png(fig)
    return out


def _fmt(v: Any, pct: bool = False) -> str:
    if v is None:
        return "—"
    if pct:
        return f"{v:.0%}"
    return f"{v:,.0f}"


def render_stress_html(result, *, figures: bool = True) -> str:
    """The HTML page of a stress result: the portfolio, the table, the figures, and how
    every figure is measured."""
    p = result.portfolio
    rows = result.rows()
    s = html.escape(result.settle)
    head = ("<tr><th>shock</th><th>margin</th><th>seeds</th><th>p(liquidation)</th>"
            f"<th>loss mean, {s}</th><th>loss worst, {s}</th><th>median time to liquidation</th>"
            f"<th>funding paid, {s}</th><th>buffer 95 %, {s}</th><th>buffer 99 %, {s}</th></tr>")
    body = [f"<h1>perpsim stress</h1><p>{html.escape(p.describe())}. "
            f"{len(result.seeds)} seeds ({', '.join(map(str, result.seeds))}); "
            f"{len(result.runs)} runs in {result.wall_s:.1f} s.</p>",
            "<table>", head]
    for r in rows:
        t = r["time_to_liq_s"]
        body.append(
            f"<tr><td>{html.escape(r['label'])}</td><td>{r['margin']}</td><td>{r['seeds']}</td>"
            f"<td>{_fmt(r['p_liq'], True)}</td><td>{_fmt(r['loss_mean'])}</td>"
            f"<td>{_fmt(r['loss_worst'])}</td><td>{'—' if t is None else f'{t:,.0f} s'}</td>"
            f"<td>{_fmt(r['funding'])}</td><td>{_fmt(r['buffer_95'])}</td>"
            f"<td>{_fmt(r['buffer_99'])}</td></tr>")
    body.append("</table>")
    body.append(
        "<p class='note'>Every shock hits against the position, at 120 s, in a thinned calm "
        "market on the preset's own tiers, mark, funding and liquidation waterfall, with the "
        "makers, the crowd, the carry traders and the keepers reacting. The position is held "
        "in cross margin (the whole wallet backs it) and in isolated margin (its initial margin "
        "only) in the same run. <b>p(liquidation)</b>: share of seeds in which the venue "
        "liquidated it; <b>loss</b>: wallet at the start − equity at the end (fees, funding, "
        "PnL, liquidation); <b>time to liquidation</b>: from the shock; <b>buffer</b>: the extra "
        "margin that would have kept the position's equity above its maintenance margin for the "
        "whole run, valued on the mark path with the venue's funding settlements (a quantile "
        "over seeds).</p>")
    if figures:
        for name, png in stress_figures(result).items():
            b64 = base64.b64encode(png).decode("ascii")
            body.append(f"<h2>{html.escape(name)}</h2><div class='fig'><img alt='"
                        f"{html.escape(name)}' src='data:image/png;base64,{b64}'></div>")
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>perpsim stress</title>"
            f"<style>{_CSS}</style></head><body>{''.join(body)}</body></html>")
