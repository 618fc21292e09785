"""The report of a world run (several instruments and venues): per-instrument price paths,
liquidations and bad debt per instrument, the venues' money, the portfolio view (cross
against isolated: PnL and the legs liquidated) and the cross-venue basis."""
from __future__ import annotations

import html
from pathlib import Path

import numpy as np

from exchange.report import _img, _page, format_value
from exchange.report.compare_figures import _png

__all__ = ["render_world_html", "write_world_report"]


def _price_figure(result) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [(v, s, ser) for v, per in result.series.items() for s, ser in per.items()]
    fig, axes = plt.subplots(len(panels), 1, figsize=(11, 2.6 * len(panels)), squeeze=False)
    for ax, (v, s, ser) in zip(axes[:, 0], panels):
        t = ser["ts_ns"] / 1e9
        for col, style in (("index_price", "-"), ("mark_price", "--"), ("last_price", ":")):
            y = np.where(ser[col] > 0, ser[col], np.nan)
            ax.plot(t, y, style, lw=1.1, label=col.split("_")[0])
        ax.set_title(f"{v} · {s}: index, mark and last")
        ax.set_ylabel("price")
        ax.legend(loc="upper right", fontsize=8)
    axes[-1, 0].set_xlabel("simulated time (s)")
    fig.tight_layout()
    return _png(fig)


def _liquidation_figure(result) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels, liq, notional = [], [], []
    for v, per in result.markets.items():
        for s, m in per.items():
            labels.append(f"{v}\n{s}")
            liq.append(m["liquidations"])
            notional.append((m["liquidation_notional"] or 0) / 1e6)
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 3.2))
    a1.bar(labels, liq, color="tab:red")
    a1.set_title("liquidation episodes per instrument")
    a2.bar(labels, notional, color="tab:orange")
    a2.set_title("liquidated notional per instrument (M, settlement asset)")
    fig.tight_layout()
    return _png(fig)


def _portfolio_figure(result) -> bytes | None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [(f"{name}\n{v}", r) for name, p in result.populations.items()
            for v, r in p["venues"].items() if "deposits" in r]
    if not rows:
        return None
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 3.4))
    names = [n for n, _ in rows]
    a1.bar(names, [r["pnl"] / max(r["deposits"], 1e-9) * 100 for _, r in rows], color="tab:blue")
    a1.set_title("PnL, % of deposits")
    a1.axhline(0, color="k", lw=0.6)
    syms = sorted({s for _, r in rows for s in r.get("legs_in_liquidation", {})})
    width = 0.8 / max(len(syms), 1)
    for j, s in enumerate(syms):
        a2.bar(np.arange(len(rows)) + j * width, [r.get("legs_in_liquidation", {}).get(s, 0)
                                                  for _, r in rows], width, label=s)
    a2.set_xticks(np.arange(len(rows)) + 0.4 - width / 2, names)
    a2.set_title("legs taken into liquidation, by instrument")
    if syms:
        a2.legend(fontsize=8)
    fig.tight_layout()
    return _png(fig)


def _table(rows, cols) -> str:
    out = ["<table><tr>" + "".join(f"<th>{html.escape(str(c))}</th>" for c in cols) + "</tr>"]
    for r in rows:
        out.append("<tr>" + "".join(f"<td>{html.escape(format_value(x)) if not isinstance(x, str) else html.escape(x)}</td>"  # noqa: E501
                                    for x in r) + "</tr>")
    out.append("</table>")
    return "".join(out)


def render_world_html(result) -> str:
    from exchange.catalogue import MARKET_KEYS, VENUE_KEYS

    body = [f"<h1>perpsim world · {html.escape(result.scenario)} · seed {result.seed}</h1>",
            f"<p>{result.events:,} events, {result.sim_s:,.0f} simulated s, "
            f"{result.wall_s:.1f} s wall.</p>", "<h2>Per instrument</h2>"]
    for v, per in result.markets.items():
        syms = list(per)
        body.append(f"<h3>venue {html.escape(v)} ({html.escape(result.venues[v]['preset'])})</h3>")
        body.append(_table([[k, *[per[s].get(k) for s in syms]] for k in MARKET_KEYS],
                           ["metric", *syms]))
    body.append(_img("prices", _price_figure(result)))
    body.append(_img("liquidations", _liquidation_figure(result)))
    body.append("<h2>Per venue</h2>")
    vn = list(result.venues)
    body.append(_table([["waterfall", *[" → ".join(result.venues[v]["waterfall"]) for v in vn]]]
                       + [[k, *[result.venues[v].get(k) for v in vn]] for k in VENUE_KEYS],
                       ["metric", *vn]))
    if result.populations:
        body.append("<h2>Portfolio view</h2>")
        rows = []
        for name, p in result.populations.items():
            for v, r in p["venues"].items():
                rows.append([name, v, str(r.get("margin_mode", p["type"])), r.get("deposits"),
                             r.get("pnl"), r.get("liquidated_accounts", r.get("liquidations")),
                             ", ".join(f"{s} {n}" for s, n in r.get("worst_leg", {}).items()) or "—",
                             ", ".join(f"{s} {n}" for s, n in
                                       r.get("legs_in_liquidation", {}).items()) or "—"])
        body.append(_table(rows, ["population", "venue", "mode", "deposits", "pnl",
                                  "liquidated", "worst leg", "legs in liquidation"]))
        fig = _portfolio_figure(result)
        if fig is not None:
            body.append(_img("portfolios", fig))
    if result.basis:
        body.append("<h2>Cross-venue basis</h2>")
        keys = [k for k in next(iter(result.basis.values())) if k != "venues"]
        body.append(_table([[a, " − ".join(b["venues"]), *[b[k] for k in keys]]
                            for a, b in result.basis.items()], ["asset", "venues", *keys]))
    return _page(f"perpsim world {result.scenario}", "".join(body))


def write_world_report(result, path) -> Path:
    p = Path(path)
    p.write_text(render_world_html(result), encoding="utf-8")
    return p
