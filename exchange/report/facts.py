"""The realism section of a report: one figure and one line of reading per stylized fact.

:func:`facts_figures` draws the measures of :func:`exchange.sim.facts.stylized_facts` (PNG
bytes, matplotlib Agg); :func:`render_facts_html` is the HTML section (a table of values, the
readings and the figures) that the run report embeds and ``perpsim facts`` writes. Several
runs (for example ``funding_peg`` with funding on and off) are drawn in the same axes.
"""
from __future__ import annotations

import html
from collections.abc import Sequence

import numpy as np

from exchange.report.figures import _COLORS, _png

__all__ = ["facts_figures", "render_facts_html", "facts_table_rows"]


def _ax(title: str, xlabel: str, ylabel: str):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 3.2))
    ax.set_title(title, fontsize=11)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    return fig, ax


def facts_figures(runs: Sequence[tuple[str, object]]) -> dict[str, bytes]:
    """Figures of ``runs`` (``(label, Facts)`` pairs): spread, depth, return ACFs, basis,
    funding against the premium, trade sizes, crash depth. O(samples) per figure."""
    figs: dict[str, bytes] = {}
    first = runs[0][1]
    # spread over time (bp, log scale) and its distribution in ticks
    fig, ax = _ax("Spread (bp)", "time (min)", "bp")
    for i, (lbl, f) in enumerate(runs):
        s = f["spread"].series
        ax.plot(s["t"] / 60, s["spread_bp"], lw=0.6, color=_COLORS[i % 8], label=lbl)
    ax.set_yscale("log")
    ax.legend(fontsize=8)
    figs["spread"] = _png(fig)
    if "depth" in first:
        fig, ax = _ax("Depth within 10 / 50 / 100 bp of the mid (both sides)", "time (min)", "base units")
        for i, (lbl, f) in enumerate(runs):
            if "depth" not in f:
                continue
            s = f["depth"].series
            for d, ls in (("d10", ":"), ("d50", "--"), ("d100", "-")):
                if d in s:
                    ax.plot(s["t"] / 60, s[d], ls=ls, lw=0.8, color=_COLORS[i % 8],
                            label=f"{lbl} {d[1:]} bp")
        ax.legend(fontsize=7, ncol=3)
        figs["depth"] = _png(fig)
    for key, title in (("returns_1s", "1-s returns"), ("returns_1m", "1-min returns")):
        fig, ax = _ax(f"Autocorrelation of {title}: raw (o) and absolute (x)", "lag", "ACF")
        for i, (lbl, f) in enumerate(runs):
            s = f[key].series
            c = _COLORS[i % 8]
            ax.plot(s["lags"], s["acf"], "o-", ms=3, lw=0.7, color=c, label=f"{lbl} r")
            ax.plot(s["lags"], s["acf_abs"], "x--", ms=3, lw=0.7, color=c, label=f"{lbl} |r|")
            ax.axhspan(-s["band"], s["band"], color=c, alpha=0.08)
        ax.axhline(0, color="k", lw=0.5)
        ax.legend(fontsize=7)
        figs[key] = _png(fig)
    fig, ax = _ax("|1-s return| ACF, mean over each minute of lag (volatility clustering)",
                  "lag (min)", "ACF")
    for i, (lbl, f) in enumerate(runs):
        s = f["returns_1s"].series
        ax.plot(s["bucket_min"], s["acf_abs_buckets"], "o-", color=_COLORS[i % 8], label=lbl)
    ax.axhline(0, color="k", lw=0.5)
    ax.legend(fontsize=8)
    figs["vol_clustering"] = _png(fig)
    fig, ax = _ax("Basis: mark − index (solid), last − index (dots)", "time (min)", "bp")
    for i, (lbl, f) in enumerate(runs):
        s = f["basis"].series
        c = _COLORS[i % 8]
        ax.plot(s["t"] / 60, s["mark"], lw=0.8, color=c, label=f"{lbl} mark")
        ax.plot(s["t"] / 60, s["last"], ".", ms=1, color=c, alpha=0.4)
    ax.axhline(0, color="k", lw=0.5)
    ax.legend(fontsize=8)
    figs["basis"] = _png(fig)
    fig, ax = _ax("Funding: the venue's estimate (8 h terms) against the book premium",
                  "premium, mid − index (bp)", "funding estimate (bp / 8 h)")
    for i, (lbl, f) in enumerate(runs):
        s = f["funding"].series
        if len(s["estimate_bp"]) == len(s["premium_bp"]):
            ax.plot(s["premium_bp"], s["estimate_bp"], ".", ms=1.5, color=_COLORS[i % 8],
                    alpha=0.5, label=lbl)
        if len(s["settle_bp"]):
            ax.plot(s["settle_premium_bp"], s["settle_bp"], "D", ms=6, color=_COLORS[i % 8],
                    markeredgecolor="k", label=f"{lbl} settlements (per interval)")
    ax.legend(fontsize=8)
    figs["funding"] = _png(fig)
    fig, ax = _ax("Trade sizes (per taker order): complementary CDF", "size (base units)", "P(size > x)")
    for i, (lbl, f) in enumerate(runs):
        x = np.sort(np.asarray(f["trade_sizes"].series["sizes"], float))
        if x.shape[0]:
            ax.loglog(x, 1.0 - np.arange(x.shape[0]) / x.shape[0], lw=0.9, color=_COLORS[i % 8],
                      label=lbl)
    ax.legend(fontsize=8)
    figs["trade_sizes"] = _png(fig)
    if "crash" in first:
        fig, ax = _ax("Crash: depth within 1 % of the mid (solid) and spread (dots, right)",
                      "time (min)", "base units")
        ax2 = ax.twinx()
        ax2.set_ylabel("spread (bp)")
        ax2.set_yscale("log")
        for i, (lbl, f) in enumerate(runs):
            if "crash" not in f:
                continue
            s = f["crash"].series
            c = _COLORS[i % 8]
            ax.plot(s["t"] / 60, s["depth"], lw=0.9, color=c, label=lbl)
            ax2.plot(s["t"] / 60, s["spread_bp"], ".", ms=1.2, color=c, alpha=0.4)
            ax.axvline(s["shock_s"] / 60, color="#999", ls=":", lw=0.8)
        ax.legend(fontsize=8)
        figs["crash"] = _png(fig)
    return figs


def facts_table_rows(runs: Sequence[tuple[str, object]]) -> list[tuple[str, str, list]]:
    """(measure, value name, [value per run]) rows for tables."""
    rows = []
    first = runs[0][1]
    for key, fact in first.items.items():
        for name in fact.values:
            vals = [f.items[key].values.get(name) if key in f.items else None for _, f in runs]
            rows.append((key, name, vals))
    return rows


def render_facts_html(runs: Sequence[tuple[str, object]], *, figures: bool = True) -> str:
    """The HTML section: readings, a table of every value, the figures."""
    from exchange.report import _img, format_value

    out = ["<h2>Realism: stylized facts</h2>",
           "<p class='note'>Measured from the journal and the series (exchange.sim.facts): "
           "Cont (2001) for returns, Vyetrenko et al. (ICAIF 2020) for the book, He, Manela, "
           "Ross and von Wachter (arXiv 2212.06888) for basis and funding.</p>"]
    for lbl, f in runs:
        out.append(f"<h3>{html.escape(lbl)}</h3><table><tr><th class='k'>measure</th>"
                   "<th class='k'>reading</th></tr>")
        for fact in f.items.values():
            out.append(f"<tr><td class='k'>{html.escape(fact.title)}</td>"
                       f"<td class='k'>{html.escape(fact.reading)}</td></tr>")
        out.append("</table>")
    out.append("<table><tr><th class='k'>measure</th><th class='k'>value</th>"
               + "".join(f"<th>{html.escape(lbl)}</th>" for lbl, _ in runs) + "</tr>")
    for key, name, vals in facts_table_rows(runs):
        out.append(f"<tr><td class='k'>{key}</td><td class='k'>{name}</td>"
                   + "".join(f"<td>{format_value(v)}</td>" for v in vals) + "</tr>")
    out.append("</table>")
    if figures:
        out.append("<div class='grid'>")
        out += [_img(n, p) for n, p in facts_figures(runs).items()]
        out.append("</div>")
    return "".join(out)
