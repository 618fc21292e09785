"""Matplotlib figures of runs (Agg backend, PNG bytes), one run or several side by side.

Each function takes one or more ``(label, plot)`` pairs, ``plot`` being
:func:`exchange.sim.metrics.plot_data` of a run, and returns PNG bytes. With several runs
(a comparison) each design is one line in the same axes; the price panel draws the index once
and each design's last price.
"""
from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker  # noqa: E402
import numpy as np  # noqa: E402

__all__ = ["price_figure", "open_interest_figure", "liquidations_figure", "insurance_figure",
           "haircuts_figure", "all_figures"]

_COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf"]


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def _axes(title: str, ylabel: str):
    fig, ax = plt.subplots(figsize=(12, 3.6))
    ax.set_title(title, fontsize=11)
    ax.set_xlabel("time (min)")
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    return fig, ax


def _shade_shocks(ax, plot) -> None:
    """Shocks shaded (or dotted) and labelled with their type."""
    from exchange.report.compare_figures import label_shocks

    label_shocks(ax, [dict(type=kind, at_ns=at * 1e9, duration_ns=dur * 1e9)
                      for kind, at, dur in plot.get("shocks", [])])


def _money(ax, values, plot) -> None:
    from exchange.report.compare_figures import money_axis

    money_axis(ax, values, plot.get("settle_asset", ""))


def price_figure(runs) -> bytes:
    _, p0 = runs[0]
    fig, ax = _axes(f"{p0.get('symbol', '')} index, mark and last price", p0.get("settle_asset", ""))
    _shade_shocks(ax, p0)
    t = p0["t"] / 60
    ax.plot(t, p0["index"], color="black", lw=1.4, label="index")
    if len(runs) == 1:
        ax.plot(t, p0["mark"], color=_COLORS[0], lw=1.0, label="mark")
        ax.plot(t, p0["last"], color=_COLORS[1], lw=0.8, alpha=0.8, label="last")
    else:
        for i, (label, p) in enumerate(runs):
            ax.plot(p["t"] / 60, p["last"], color=_COLORS[i % len(_COLORS)], lw=0.8, alpha=0.85,
                    label=f"last · {label}")
    ax.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:,.0f}"))
    ax.legend(fontsize=8, loc="best")
    return _png(fig)


def open_interest_figure(runs) -> bytes:
    fig, ax = _axes("Open interest", "base units")
    _shade_shocks(ax, runs[0][1])
    for i, (label, p) in enumerate(runs):
        ax.plot(p["t"] / 60, p["open_interest"], color=_COLORS[i % len(_COLORS)], lw=1.0,
                label=label)
    ax.legend(fontsize=8)
    return _png(fig)


def liquidations_figure(runs, bin_s: float = 10.0) -> bytes:
    fig, ax = _axes(f"Liquidations triggered (notional per {bin_s:g} s)",
                    runs[0][1].get("settle_asset", ""))
    _shade_shocks(ax, runs[0][1])
    t_end = max(float(p["t"][-1]) if len(p["t"]) else 0.0 for _, p in runs)
    edges = np.arange(0.0, t_end + bin_s, bin_s)
    width = bin_s / 60 / max(1, len(runs))
    hs = []
    for i, (label, p) in enumerate(runs):
        h, _ = np.histogram(p["liq_t"], bins=edges, weights=p["liq_notional"])
        hs.append(h)
        ax.bar(edges[:-1] / 60 + i * width, h, width=width, align="edge",
               color=_COLORS[i % len(_COLORS)], label=f"{label} ({len(p['liq_t'])} triggers)")
    _money(ax, np.concatenate(hs) if hs else [0.0], runs[0][1])
    ax.legend(fontsize=8)
    return _png(fig)


def insurance_figure(runs) -> bytes:
    """The insurance fund on its own scale; the bad debt (if any) in a panel below it."""
    have_bad = any(np.any(p["bad_debt"] != 0) for _, p in runs)
    fig, axes = plt.subplots(2 if have_bad else 1, 1, figsize=(12, 5.6 if have_bad else 3.6),
                             sharex=True, squeeze=False)
    ax = axes[0][0]
    ax.set_title("Insurance fund balance" + (" (below: bad debt booked)" if have_bad else ""),
                 fontsize=11)
    _shade_shocks(ax, runs[0][1])
    for i, (label, p) in enumerate(runs):
        ax.plot(p["t"] / 60, p["insurance"], color=_COLORS[i % len(_COLORS)], lw=1.2, label=label)
    _money(ax, np.concatenate([p["insurance"] for _, p in runs]), runs[0][1])
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    if have_bad:
        bx = axes[1][0]
        for i, (label, p) in enumerate(runs):
            bx.plot(p["t"] / 60, np.abs(p["bad_debt"]), color=_COLORS[i % len(_COLORS)], lw=1.2,
                    label=label)
        _money(bx, np.concatenate([np.abs(p["bad_debt"]) for _, p in runs]), runs[0][1])
        bx.grid(alpha=0.3)
    axes[-1][0].set_xlabel("time (min)")
    return _png(fig)


def backstop_figure(runs) -> bytes | None:
    have = [(label, p) for label, p in runs if np.any(p["backstop"] != 0)]
    if not have:
        return None
    fig, ax = _axes("Backstop vault equity", runs[0][1].get("settle_asset", ""))
    _shade_shocks(ax, runs[0][1])
    for i, (label, p) in enumerate(have):
        ax.plot(p["t"] / 60, p["backstop"], color=_COLORS[i % len(_COLORS)], lw=1.2, label=label)
    _money(ax, np.concatenate([p["backstop"] for _, p in have]), have[0][1])
    ax.legend(fontsize=8)
    return _png(fig)


def haircuts_figure(runs) -> bytes:
    fig, ax = _axes("Haircuts on winners (ADL + socialized loss), cumulative",
                    runs[0][1].get("settle_asset", ""))
    _shade_shocks(ax, runs[0][1])
    ys = []
    for i, (label, p) in enumerate(runs):
        t = np.concatenate([[0.0], p["haircut_t"], [p["t"][-1] if len(p["t"]) else 0.0]])
        y = np.concatenate([[0.0], np.cumsum(p["haircut"]),
                            [float(np.sum(p["haircut"]))]])
        ax.step(t / 60, y, where="post", color=_COLORS[i % len(_COLORS)], lw=1.2, label=label)
        ys.append(y)
    _money(ax, np.concatenate(ys), runs[0][1])
    ax.legend(fontsize=8)
    return _png(fig)


def all_figures(runs) -> dict[str, bytes]:
    """Every figure for ``runs`` (a list of ``(label, plot data)``), name → PNG bytes."""
    out = {
        "prices": price_figure(runs),
        "open_interest": open_interest_figure(runs),
        "liquidations": liquidations_figure(runs),
        "insurance": insurance_figure(runs),
        "haircuts": haircuts_figure(runs),
    }
    bs = backstop_figure(runs)
    if bs is not None:
        out["backstop"] = bs
    return out
