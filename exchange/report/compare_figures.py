"""Figures of a comparison (:class:`~exchange.sim.compare.Comparison`) over all its seeds.

Every time series is drawn as the mean over seeds with the seeds' range as a band (the
seeds share the time grid: the same scenario and step); money axes read "k USDT" / "M USDT",
never an offset; shocks are shaded (or dotted) and labelled. Each function returns PNG bytes
(or None when there is nothing to draw).
"""
from __future__ import annotations

import io
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.ticker import FuncFormatter  # noqa: E402

__all__ = ["compare_figures", "money_axis", "label_shocks", "seed_band", "shock_label"]

COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf"]
WIDTH = 12.0


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def _arrow(label: str) -> str:
    return " → ".join(label.split(","))


def money_axis(ax, values, asset: str, axis: str = "y") -> None:
    """Ticks in "k ASSET" or "M ASSET" (from the largest |value|), no offset text."""
    vals = np.asarray([v for v in np.ravel(values) if np.isfinite(v)] or [0.0], float)
    top = float(np.max(np.abs(vals)))
    scale, prefix = (1e6, "M ") if top >= 1e6 else (1e3, "k ") if top >= 1e4 else (1.0, "")
    digits = (1 if top / scale < 10 else 0) if scale > 1 else (2 if top < 10 else 0)
    fmt = FuncFormatter(lambda v, _: f"{v / scale:,.{digits}f}")
    target = ax.yaxis if axis == "y" else ax.xaxis
    target.set_major_formatter(fmt)
    (ax.set_ylabel if axis == "y" else ax.set_xlabel)(f"{prefix}{asset}".strip())


def shock_label(shock: dict[str, Any]) -> str:
    """``{"type": "index_gap", "change": -0.07}`` → "index gap −7 %"."""
    text = str(shock.get("type", "shock")).replace("_", " ")
    for key in ("change", "fraction", "rate", "premium"):
        v = shock.get(key)
        if isinstance(v, (int, float)):
            text += f" {v * 100:+.0f} %" if key == "change" else f" {v * 100:.0f} %"
            break
    return text.replace("-", "−")


def label_shocks(ax, shocks, *, text: bool = True) -> None:
    """Shade each shock's interval (a dotted line for an instant one), labelled at the top."""
    for i, s in enumerate(shocks or []):
        at, dur = s["at_ns"] / 6e10, s.get("duration_ns", 0) / 6e10
        if dur > 0:
            ax.axvspan(at, at + dur, color="0.88", alpha=0.6, lw=0, zorder=0)
        else:
            ax.axvline(at, color="0.45", lw=0.9, ls=":", zorder=1)
        if text:
            ax.text(at, 0.98 - 0.1 * (i % 4), " " + shock_label(s), transform=ax.get_xaxis_transform(),
                    fontsize=7.5, color="0.3", va="top", ha="left", zorder=5)


def seed_band(runs, key: str):
    """(t in minutes, mean, low, high) of ``plot[key]`` over the runs (seeds)."""
    t = np.asarray(runs[0].plot["t"], float)
    ys = []
    for r in runs:
        tt, y = np.asarray(r.plot["t"], float), np.asarray(r.plot[key], float)
        ys.append(y if tt.shape == t.shape and np.array_equal(tt, t) else np.interp(t, tt, y))
    y = np.vstack(ys)
    import warnings

    with warnings.catch_warnings():                 # a price is NaN before the first trade
        warnings.simplefilter("ignore", RuntimeWarning)
        return t / 60, np.nanmean(y, 0), np.nanmin(y, 0), np.nanmax(y, 0)


def _cumulative(runs, tkey: str, akey: str):
    """Mean / range over seeds of the running sum of event amounts (haircuts, bad debt)."""
    t = np.asarray(runs[0].plot["t"], float)
    ys = []
    for r in runs:
        et, amt = np.asarray(r.plot[tkey], float), np.asarray(r.plot[akey], float)
        order = np.argsort(et, kind="stable")
        csum = np.concatenate([[0.0], np.cumsum(amt[order])])
        ys.append(csum[np.searchsorted(et[order], t, side="right")])
    y = np.vstack(ys)
    return t / 60, y.mean(0), y.min(0), y.max(0)


def _band_figure(cmp, title: str, key_or_fn, asset: str, *, only=None, height=3.6):
    fig, ax = plt.subplots(figsize=(WIDTH, height))
    n = len(cmp.seeds)
    ax.set_title(title + (f" — mean and range over {n} seeds" if n > 1 else ""), fontsize=11)
    label_shocks(ax, _shocks(cmp))
    allv = []
    drawn = 0
    for i, lbl in enumerate(cmp.labels):
        runs = cmp.results[lbl]
        if only is not None and not only(runs):
            continue
        t, m, lo, hi = key_or_fn(runs) if callable(key_or_fn) else seed_band(runs, key_or_fn)
        c = COLORS[i % len(COLORS)]
        ax.plot(t, m, color=c, lw=1.4, label=_arrow(lbl))
        if n > 1:
            ax.fill_between(t, lo, hi, color=c, alpha=0.15, lw=0)
        allv += [lo, hi]
        drawn += 1
    if not drawn:
        plt.close(fig)
        return None
    money_axis(ax, np.concatenate(allv), asset) if asset else None
    ax.set_xlabel("time (min)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    return _png(fig)


def _shocks(cmp):
    return cmp.results[cmp.labels[0]][0].info.get("shocks", [])


def _asset(cmp) -> str:
    return cmp.results[cmp.labels[0]][0].info.get("settle_asset", "")


def price_figure(cmp) -> bytes:
    """One panel per design: index, mark and last of the first seed, the range of the last
    price over seeds as a band."""
    labels = cmp.labels
    ncol = 2 if len(labels) > 1 else 1
    nrow = -(-len(labels) // ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(WIDTH, 3.0 * nrow), sharex=True, sharey=True,
                             squeeze=False)
    r0 = cmp.results[labels[0]][0]
    sym = r0.info.get("symbol", "")
    quote = r0.info.get("settle_asset", "")
    for i, lbl in enumerate(labels):
        ax = axes[i // ncol][i % ncol]
        runs = cmp.results[lbl]
        p = runs[0].plot
        t = np.asarray(p["t"]) / 60
        label_shocks(ax, _shocks(cmp), text=i == 0)
        if len(runs) > 1:
            bt, _, lo, hi = seed_band(runs, "last")
            ax.fill_between(bt, lo, hi, color=COLORS[1], alpha=0.15, lw=0,
                            label=f"last, range over {len(runs)} seeds")
        ax.plot(t, p["index"], color="black", lw=1.0, label="index")
        ax.plot(t, p["mark"], color=COLORS[0], lw=0.9, label="mark")
        ax.plot(t, p["last"], color=COLORS[1], lw=0.6, alpha=0.9, label="last")
        ax.set_title(_arrow(lbl), fontsize=10)
        ax.grid(alpha=0.3)
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
        if i % ncol == 0:
            ax.set_ylabel(f"{quote} per {sym.removesuffix(quote) or 'unit'}")
        if i // ncol == nrow - 1:
            ax.set_xlabel("time (min)")
        if i == 0:
            ax.legend(fontsize=8, loc="lower left")
    for j in range(len(labels), nrow * ncol):
        axes[j // ncol][j % ncol].set_visible(False)
    fig.suptitle(f"{sym} index, mark and last price per design (seed {cmp.seeds[0]}"
                 + (f"; band: last over {len(cmp.seeds)} seeds)" if len(cmp.seeds) > 1 else ")"),
                 fontsize=11, y=1.03)
    return _png(fig)


def cascade_figure(cmp, bin_s: float = 5.0) -> bytes:
    """Liquidations started per ``bin_s`` s, one panel per design (mean over seeds, log
    scale), shocks labelled: how the cascade unfolds in each design."""
    labels = cmp.labels
    fig, axes = plt.subplots(len(labels), 1, figsize=(WIDTH, 1.5 + 1.3 * len(labels)),
                             sharex=True, sharey=True, squeeze=False)
    t_end = max(float(r.plot["t"][-1]) for lbl in labels for r in cmp.results[lbl] if len(r.plot["t"]))
    edges = np.arange(0.0, t_end + bin_s, bin_s)
    for i, lbl in enumerate(labels):
        ax = axes[i][0]
        runs = cmp.results[lbl]
        hs = []
        for r in runs:
            eps = r.plot.get("episodes")
            ts = np.asarray([e["t_s"] for e in eps] if eps is not None else r.plot["liq_t"], float)
            hs.append(np.histogram(ts, bins=edges)[0])
        h = np.mean(hs, 0)
        label_shocks(ax, _shocks(cmp), text=i == 0)
        ax.bar(edges[:-1] / 60, h, width=bin_s / 60, align="edge", color=COLORS[i % len(COLORS)])
        ax.set_yscale("symlog", linthresh=1)
        ax.set_ylabel("per bin")
        ax.text(0.005, 0.9, f"{_arrow(lbl)} · {sum(map(int, (x.sum() for x in hs))) / len(hs):,.0f} "
                f"liquidations per seed", transform=ax.transAxes, fontsize=9, va="top")
        ax.grid(alpha=0.3)
    axes[-1][0].set_xlabel("time (min)")
    fig.suptitle(f"Cascade timeline: liquidations started per {bin_s:g} s (mean over "
                 f"{len(cmp.seeds)} seed{'s' if len(cmp.seeds) > 1 else ''}, log scale)", fontsize=11)
    return _png(fig)


#: (metric, label) of where the liquidated positions went, and of who paid their losses
CLOSED_BY = (("closed_in_book_notional", "order book"), ("auction_notional", "auction"),
             ("backstop_notional", "backstop vault"), ("adl_notional", "ADL"))
PAID_BY = (("insurance_paid", "insurance fund"), ("backstop_loss", "backstop vault"),
           ("adl_haircut", "ADL haircut"), ("socialized_total", "socialized"),
           ("bad_debt", "bad debt (nobody)"))
#: one colour per channel in both panels
CHANNEL_COLORS = {"order book": "#1f77b4", "auction": "#ff7f0e", "backstop vault": "#2ca02c",
                  "ADL": "#9467bd", "ADL haircut": "#9467bd", "insurance fund": "#17becf",
                  "socialized": "#e377c2", "bad debt (nobody)": "#d62728"}


def absorption_values(cmp) -> dict[str, dict[str, float]]:
    """design → channel metric → mean over seeds (``backstop_loss`` = max(−backstop_pnl, 0))."""
    out = {}
    for lbl in cmp.labels:
        row = {}
        runs = cmp.results[lbl]
        for key, _ in CLOSED_BY + PAID_BY:
            vals = []
            for r in runs:
                v = (max(-(r.metrics.get("backstop_pnl") or 0.0), 0.0) if key == "backstop_loss"
                     else r.metrics.get(key) or 0.0)
                vals.append(float(v))
            row[key] = float(np.mean(vals))
        out[lbl] = row
    return out


def absorption_figure(cmp) -> bytes:
    """Two stacked horizontal bars per design: the notional of the liquidated positions by who
    closed it, and their losses by who paid them."""
    vals = absorption_values(cmp)
    labels = cmp.labels
    asset = _asset(cmp)
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(WIDTH, 1.4 + 0.55 * len(labels)), sharey=True)
    y = np.arange(len(labels))[::-1]
    for ax, channels, title in ((a1, CLOSED_BY, "Liquidated notional, closed by"),
                                (a2, PAID_BY, "Losses of the liquidated, paid by")):
        left = np.zeros(len(labels))
        for _j, (key, name) in enumerate(channels):
            w = np.array([vals[lbl][key] for lbl in labels])
            ax.barh(y, w, left=left, color=CHANNEL_COLORS[name], label=name, height=0.6)
            left += w
        money_axis(ax, left, asset, axis="x")
        ax.set_title(title + (f" (mean of {len(cmp.seeds)} seeds)" if len(cmp.seeds) > 1 else ""),
                     fontsize=10)
        ax.grid(alpha=0.3, axis="x")
        ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.28), ncol=3,
                  frameon=False)
    a1.set_yticks(y, [_arrow(lbl) for lbl in labels], fontsize=9)
    return _png(fig)


def _strategy_band(name: str, key: str):
    """A :func:`seed_band`-like function over ``plot["strategies"][name][key]``."""
    def band(runs):
        t = np.asarray(runs[0].plot["t"], float)
        ys = []
        for r in runs:
            tt = np.asarray(r.plot["t"], float)
            y = np.asarray(r.plot["strategies"][name][key], float)
            ys.append(y if tt.shape == t.shape and np.array_equal(tt, t) else np.interp(t, tt, y))
        y = np.vstack(ys)
        return t / 60, y.mean(0), y.min(0), y.max(0)
    return band


def strategy_figures(cmp) -> dict[str, dict[str, bytes]]:
    """Per strategy population: its equity and its position over time in each design (mean
    and range over seeds), from the series the run sampled. name → {"equity", "position"}."""
    asset = _asset(cmp)
    names = sorted({n for lbl in cmp.labels for r in cmp.results[lbl]
                    for n in (r.plot.get("strategies") or {})})
    base = cmp.results[cmp.labels[0]][0].info.get("symbol", "")
    out = {}
    for name in names:
        has = lambda runs, n=name: all(n in (r.plot.get("strategies") or {}) for r in runs)  # noqa: E731
        figs = {
            "equity": _band_figure(cmp, f"Your strategy ({name}): equity", _strategy_band(name, "equity"),
                                   asset, only=has, height=3.2),
            "position": _band_figure(cmp, f"Your strategy ({name}): position ({base}, + long)",
                                     _strategy_band(name, "position"), "", only=has, height=3.2),
        }
        out[name] = {k: v for k, v in figs.items() if v is not None}
    return out


def compare_figures(cmp) -> dict[str, bytes]:
    """Every figure of the comparison report, name → PNG (the absent ones left out)."""
    asset = _asset(cmp)
    out = {
        "loss_absorption": absorption_figure(cmp),
        "cascade": cascade_figure(cmp),
        "prices": price_figure(cmp),
        "insurance": _band_figure(cmp, "Insurance fund balance", "insurance", asset),
        "bad_debt": _band_figure(cmp, "Bad debt booked (cumulative)",
                                 lambda runs: _cumulative(runs, "bad_debt_t", "bad_debt_amt"), asset,
                                 only=lambda runs: any(len(r.plot["bad_debt_t"]) for r in runs)),
        "backstop": _band_figure(cmp, "Backstop vault equity", "backstop", asset,
                                 only=lambda runs: any(np.any(np.asarray(r.plot["backstop"]) != 0)
                                                       for r in runs)),
        "haircuts": _band_figure(cmp, "Haircuts on winners (ADL + socialized loss), cumulative",
                                 lambda runs: _cumulative(runs, "haircut_t", "haircut"), asset,
                                 only=lambda runs: any(len(r.plot["haircut_t"]) for r in runs)),
        "open_interest": _band_figure(cmp, "Open interest (base units)", "open_interest", ""),
    }
    return {k: v for k, v in out.items() if v is not None}
