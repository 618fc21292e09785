"""Backtests: strategies over seeds of a synthetic scenario or over recorded history, with
performance statistics and their spread.

:func:`backtest` runs every strategy (a built-in name of :data:`exchange.strategies.BUILTIN`,
or ``path/file.py:Class``) once per seed, either inside a scenario (the simulator with its
agents: :func:`exchange.sim.runner.run`) or on recorded data (:mod:`exchange.sim.replay`),
and returns per strategy the mean, standard deviation and a 95 % confidence interval of the
mean (Student t, n − 1 degrees of freedom) of each statistic of :data:`STATS`.

Statistics of one run (from the account's equity sampled every ``record_ms`` and the venue's
event records of the account):

* ``return``: equity_end / deposit − 1;
* ``sharpe``, ``sortino``: mean sample return over its standard deviation (downside deviation
  for Sortino: root mean square of the negative returns), annualised by √(samples per year);
  0 when undefined (flat equity);
* ``max_drawdown``: largest fall from a running peak of equity, as a fraction of the peak;
* ``fees``: trading fees paid (rebates negative) plus liquidation fees, in the settlement asset;
* ``funding_paid``, ``funding_received``: sums of the account's positive and negative funding
  payments (FundingPaid ``a1``);
* ``liquidations``: LiquidationTriggered events of the account; ``adl``: PositionDeleveraged
  events in which the account was the deleveraged (winning) side, ``adl_qty`` their lots;
* ``time_in_market``: fraction of samples with an open position; ``mean_leverage``,
  ``max_leverage``: position notional at the mark over equity.
"""
from __future__ import annotations

import json
import math
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np

from exchange.errors import invalid
from exchange.units import RATE_SCALE

__all__ = [
    "STATS",
    "backtest",
    "run_scenario_strategy",
    "run_stats",
    "summarize",
    "t_critical",
    "write_report",
]

STATS = ("return", "sharpe", "sortino", "max_drawdown", "fees", "funding_paid",
         "funding_received", "liquidations", "adl", "adl_qty", "time_in_market",
         "mean_leverage", "max_leverage")
_K_FILLED, _K_FUNDING_PAID, _K_TRIGGERED, _K_LIQUIDATED, _K_DELEVERAGED = 3, 90_010, 100, 102, 111
NS_PER_YEAR = 365 * 86_400 * 1_000_000_000

# two-sided 95 % Student t critical values by degrees of freedom (1..30); 1.96 beyond
_T95 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179,
        2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064,
        2.060, 2.056, 2.052, 2.048, 2.045, 2.042)


def t_critical(df: int) -> float:
    """Two-sided 95 % Student t critical value. O(1).

    >>> t_critical(1), t_critical(19), t_critical(1000)
    (12.706, 2.093, 1.96)
    """
    if df < 1:
        return float("nan")
    return _T95[df - 1] if df <= len(_T95) else 1.96


def run_stats(series: dict, journal: np.ndarray, account: int, deposit_atoms: int,
              settle_decimals: int) -> dict[str, float]:
    """The statistics of one run (module docs). ``series``: ``ts``, ``equity_atoms``,
    ``size_lots``, ``notional_atoms`` arrays sampled at a fixed step. O(samples + records)."""
    unit = 10.0 ** -int(settle_decimals)
    ts = np.asarray(series["ts"], np.int64)
    eq = np.asarray(series["equity_atoms"], np.float64)
    size = np.asarray(series["size_lots"], np.int64)
    notional = np.asarray(series["notional_atoms"], np.float64)
    out: dict[str, float] = {}
    end = eq[-1] if len(eq) else float(deposit_atoms)
    out["return"] = float(end / deposit_atoms - 1) if deposit_atoms else 0.0
    sharpe = sortino = 0.0
    if len(eq) > 2:
        prev = np.maximum(eq[:-1], 1.0)
        r = np.where(eq[:-1] > 0, np.diff(eq) / prev, 0.0)
        step = float(np.median(np.diff(ts))) if len(ts) > 1 else 0.0
        per_year = NS_PER_YEAR / step if step > 0 else 0.0
        sd = float(r.std())
        if sd > 0:
            sharpe = float(r.mean()) / sd * math.sqrt(per_year)
        down = np.sqrt(np.mean(np.minimum(r, 0.0) ** 2))
        if down > 0:
            sortino = float(r.mean()) / float(down) * math.sqrt(per_year)
    out["sharpe"], out["sortino"] = sharpe, sortino
    if len(eq):
        peak = np.maximum.accumulate(np.maximum(eq, 0.0))
        dd = np.where(peak > 0, (peak - np.maximum(eq, 0.0)) / np.where(peak > 0, peak, 1.0), 0.0)
        out["max_drawdown"] = float(dd.max())
    else:
        out["max_drawdown"] = 0.0
    j = journal
    mine = j["acct"] == account
    kind = j["kind"]
    fills = j[mine & (kind == _K_FILLED)]
    liq = j[mine & (kind == _K_LIQUIDATED)]
    out["fees"] = (float(fills["a1"].sum()) + float(liq["a2"].sum())) * unit
    pay = j[mine & (kind == _K_FUNDING_PAID)]["a1"]
    out["funding_paid"] = float(pay[pay > 0].sum()) * unit
    out["funding_received"] = float(-pay[pay < 0].sum()) * unit
    out["liquidations"] = float((mine & (kind == _K_TRIGGERED)).sum())
    adl = j[mine & (kind == _K_DELEVERAGED)]
    out["adl"] = float(len(adl))
    out["adl_qty"] = float(adl["qty"].sum())
    out["time_in_market"] = float((size != 0).mean()) if len(size) else 0.0
    lev = np.where(eq > 0, notional / np.where(eq > 0, eq, 1.0), 0.0)
    out["mean_leverage"] = float(lev.mean()) if len(lev) else 0.0
    out["max_leverage"] = float(lev.max()) if len(lev) else 0.0
    return out


def summarize(values: Sequence[float]) -> dict[str, float]:
    """Mean, standard deviation (n − 1), 95 % CI of the mean, min, max, n.

    >>> s = summarize([1.0, 2.0, 3.0])
    >>> s["mean"], round(s["std"], 3), round(s["ci_low"], 3), round(s["ci_high"], 3)
    (2.0, 1.0, -0.484, 4.484)
    """
    x = np.asarray(list(values), np.float64)
    n = len(x)
    if n == 0:
        return dict(mean=float("nan"), std=float("nan"), ci_low=float("nan"),
                    ci_high=float("nan"), min=float("nan"), max=float("nan"), n=0)
    mean = float(x.mean())
    std = float(x.std(ddof=1)) if n > 1 else 0.0
    half = t_critical(n - 1) * std / math.sqrt(n) if n > 1 else float("nan")
    return dict(mean=mean, std=std, ci_low=mean - half if n > 1 else float("nan"),
                ci_high=mean + half if n > 1 else float("nan"), min=float(x.min()),
                max=float(x.max()), n=n)


class _Recorder:
    """Samples one strategy account of a scenario run every ``every_ns`` (PRIO_RECORD)."""

    def __init__(self, sim, agent, every_ns: int) -> None:
        self.sim, self.agent, self.every = sim, agent, int(every_ns)
        self.series = {k: [] for k in ("ts", "equity_atoms", "size_lots", "notional_atoms", "mark_ticks")}

    def sample(self, ts: int) -> None:
        from exchange.sim.clock import PRIO_RECORD

        sim = self.sim
        if len(self.agent.accounts):
            a = int(self.agent.accounts[0])
            arr = sim.core.arrays()
            i = sim.instr
            mark = int(arr["mark"][i])
            size = int(arr["size"][i, a])
            s = self.series
            s["ts"].append(ts)
            s["equity_atoms"].append(int(sim.core.equity(a)))
            s["size_lots"].append(size)
            s["notional_atoms"].append(abs(size) * mark * int(arr["k"][i]))
            s["mark_ticks"].append(mark)
        nxt = ts + self.every
        if nxt <= sim.sc.duration_ns:
            sim.clock.schedule(nxt, PRIO_RECORD, self.sample)


def run_scenario_strategy(cls, params: dict, scenario, seed: int, *, preset: str | None = None,
                          record_ms: float = 1000.0, name: str = "strategy") -> dict[str, Any]:
    """One strategy in one seed of a scenario: its series, statistics and the instance."""
    from exchange.sim.clock import PRIO_RECORD
    from exchange.sim.runner import run
    from exchange.sim.scenario import load_scenario
    from exchange.sim.strategy import strategy_overrides

    sc = load_scenario(scenario)
    if preset:
        sc = sc.with_overrides({"scenario.preset": preset})
    sc = sc.with_overrides(strategy_overrides(cls, params, name))
    instance = cls(**params)
    holder: dict[str, Any] = {}

    def prepare(sim) -> None:
        for agent in sim.agents:
            if agent.name == name:
                agent.use(instance)
                rec = _Recorder(sim, agent, int(record_ms * 1_000_000))
                sim.clock.schedule(0, PRIO_RECORD, rec.sample)
                holder.update(rec=rec, agent=agent, sim=sim)

    res = run(sc, seed, prepare=prepare, keep_journal=True, report=False)
    sim, agent = holder["sim"], holder["agent"]
    series = {k: np.asarray(v, np.int64) for k, v in holder["rec"].series.items()}
    account = int(agent.accounts[0])
    deposit = int(sim.spec.amount_to_atoms(Decimal(str(instance.deposit))))
    stats = run_stats(series, res.journal, account, deposit, int(sim.spec.settle_decimals))
    return dict(series=series, stats=stats, strategy=instance, seed=int(seed),
                account=account, tick_size=float(sim.spec.tick_size))


def compare_recorded(comparison: dict) -> dict[str, Any]:
    """The venue's own mark and funding against the recorded ones: mark difference in bps
    (mean of the absolute value, max, samples where both exist) and, per venue settlement,
    its rate beside the recorded rate for the same funding time (fractions; None when the
    data has none). O(samples)."""
    vm = np.asarray(comparison["venue_mark"], np.float64)
    rm = np.asarray(comparison["recorded_mark"], np.float64)
    both = np.isfinite(vm) & np.isfinite(rm) & (rm > 0)
    diff = (vm[both] / rm[both] - 1) * 1e4
    rec = comparison["recorded_funding"]
    rec_by_ts = {int(t): float(r) for t, r in rec} if len(rec) else {}
    funding = [dict(ts_ns=int(t), venue_rate=int(r) / RATE_SCALE, recorded_rate=rec_by_ts.get(int(t)))
               for t, r in comparison["venue_funding"]]
    return dict(mark_diff_bps_mean_abs=float(np.abs(diff).mean()) if len(diff) else None,
                mark_diff_bps_max_abs=float(np.abs(diff).max()) if len(diff) else None,
                mark_samples=int(both.sum()), funding=funding)


def _run_replay_strategy(cls, params, feed, seed, preset, record_ms, replay_kw) -> dict[str, Any]:
    from exchange.sim.replay import Replay

    instance = cls(**params)
    rep = Replay(feed, [("strategy", instance)], preset=preset, seed=seed, record_ms=record_ms,
                 **(replay_kw or {}))
    res = rep.run()
    s = res.strategies["strategy"]
    stats = run_stats(s["series"], res.journal, s["account"], s["deposit_atoms"],
                      int(res.spec.settle_decimals))
    return dict(series=s["series"], stats=stats, strategy=instance, seed=int(seed),
                account=s["account"], tick_size=float(res.spec.tick_size),
                comparison=compare_recorded(res.comparison), replay_stats=res.stats)


def backtest(strategies: Sequence, *, scenario=None, data=None, preset: str | None = None,
             seeds: int = 1, record_ms: float = 1000.0, replay_kw: dict | None = None,
             workers: int | None = None, progress=None) -> dict[str, Any]:
    """Run each strategy (``spec`` or ``(spec, params)``) on ``seeds`` seeds of ``scenario``
    or on the recorded ``data`` (paths, ``KIND:path`` strings or a ReplayFeed), in a process
    pool of ``workers`` when given (the same results, in the same order). Returns
    ``{"mode", "source", "seeds", "strategies": {label: {"runs": [...], "summary": {stat:
    summarize(...)}}}}``. O(strategies × seeds × run)."""
    from exchange.strategies import resolve

    if (scenario is None) == (data is None):
        raise invalid("scenario/data", "exactly one of the two", (scenario, data))
    if isinstance(seeds, bool) or not isinstance(seeds, int) or seeds < 1:
        raise invalid("seeds", "an integer >= 1", seeds)
    feed = None
    pre_name = preset or "binance_usdm"
    if data is not None:
        from exchange.data import load
        from exchange.data.feed import ReplayFeed
        from exchange.presets import load_preset

        if hasattr(data, "book_ts"):
            feed = data
        else:
            pre = load_preset(pre_name)
            feed = ReplayFeed.from_tables(load(list(data)), pre.instruments[pre.symbols[0]])
    out: dict[str, Any] = {"mode": "scenario" if scenario is not None else "replay",
                           "source": str(scenario) if scenario is not None else
                           (list(map(str, data)) if not hasattr(data, "book_ts") else "feed"),
                           "preset": preset, "seeds": seeds, "strategies": {}}
    if feed is not None:
        out["feed"] = dict(events=feed.events, sources=feed.sources,
                           start_ns=feed.start_ns, end_ns=feed.end_ns)
    resolved = []
    for item in strategies:
        spec, params = (item, {}) if isinstance(item, str) else (item[0], dict(item[1]))
        label, cls, merged = resolve(spec, params)
        while label in [r[0] for r in resolved]:
            label += "'"
        resolved.append((label, spec, cls, merged))
    jobs = [(label, spec, merged, seed) for label, spec, _, merged in resolved for seed in range(seeds)]
    results: dict[tuple[str, int], dict] = {}
    source = feed if feed is not None else scenario
    if workers is not None and workers > 1 and len(jobs) > 1:
        from concurrent.futures import ProcessPoolExecutor, as_completed

        with ProcessPoolExecutor(max_workers=workers) as pool:
            futs = {pool.submit(_one_run, spec, merged, source, seed, preset, record_ms, replay_kw):
                    (label, seed) for label, spec, merged, seed in jobs}
            for fut in as_completed(futs):
                results[futs[fut]] = fut.result()
                if progress is not None:
                    progress(len(results) / len(jobs))
    else:
        for label, spec, merged, seed in jobs:
            results[(label, seed)] = _one_run(spec, merged, source, seed, preset, record_ms,
                                              replay_kw)
            if progress is not None:
                progress(len(results) / len(jobs))
    for label, _spec, cls, merged in resolved:
        runs = [results[(label, seed)] for seed in range(seeds)]
        summary = {k: summarize([r["stats"][k] for r in runs]) for k in STATS}
        out["strategies"][label] = dict(cls=cls.__name__, params=merged, runs=runs, summary=summary)
    return out


def _one_run(spec, params: dict, source, seed: int, preset, record_ms: float, replay_kw) -> dict:
    """One (strategy, seed) run; a module-level function so that a process pool can run it
    (the strategy is resolved again from its spec in the worker)."""
    from exchange.strategies import resolve

    _, cls, merged = resolve(spec, params)
    if hasattr(source, "book_ts"):
        return _run_replay_strategy(cls, merged, source, seed, preset or "binance_usdm", record_ms,
                                    replay_kw)
    return run_scenario_strategy(cls, merged, source, seed, preset=preset, record_ms=record_ms)


def write_report(result: dict, out_dir) -> dict[str, str]:
    """Write ``summary.json`` (statistics), ``series_<label>.csv`` (every seed's equity and
    leverage) and ``report.html`` with the equity curves and leverage over time
    (``equity.png``, ``leverage.png``). Returns name → path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files: dict[str, str] = {}
    summary = {k: v for k, v in result.items() if k != "strategies"}
    first = next(iter(result["strategies"].values()), None)
    if first is not None and "comparison" in first["runs"][0]:
        summary["venue_vs_recorded"] = first["runs"][0]["comparison"]
    summary["strategies"] = {label: dict(cls=s["cls"], params=s["params"], summary=s["summary"],
                                         runs=[dict(seed=r["seed"], **r["stats"]) for r in s["runs"]])
                             for label, s in result["strategies"].items()}
    p = out / "summary.json"
    p.write_text(json.dumps(summary, indent=2, default=float))
    files["summary"] = str(p)
    fig_e, ax_e = plt.subplots(figsize=(9, 4.5))
    fig_l, ax_l = plt.subplots(figsize=(9, 4.5))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for n, (label, s) in enumerate(result["strategies"].items()):
        c = colors[n % len(colors)]
        rows = ["seed,ts_ns,equity_atoms,size_lots,notional_atoms,leverage"]
        for r in s["runs"]:
            se = r["series"]
            t = (se["ts"] - se["ts"][0]) / 1e9 if len(se["ts"]) else se["ts"]
            eq = se["equity_atoms"].astype(np.float64)
            lev = np.where(eq > 0, se["notional_atoms"] / np.where(eq > 0, eq, 1), 0.0)
            alpha = 0.9 if r["seed"] == 0 else 0.25
            ax_e.plot(t, eq / eq[0] if len(eq) and eq[0] else eq, color=c, alpha=alpha,
                      lw=1.2 if r["seed"] == 0 else 0.7, label=label if r["seed"] == 0 else None)
            ax_l.plot(t, lev, color=c, alpha=alpha, lw=1.0, label=label if r["seed"] == 0 else None)
            rows += [f"{r['seed']},{a},{b},{c_},{d},{e:.6f}" for a, b, c_, d, e in
                     zip(se["ts"].tolist(), se["equity_atoms"].tolist(), se["size_lots"].tolist(),
                         se["notional_atoms"].tolist(), lev.tolist())]
        safe = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in label)
        p = out / f"series_{safe}.csv"
        p.write_text("\n".join(rows) + "\n")
        files[f"series_{safe}"] = str(p)
    ax_e.set(xlabel="seconds", ylabel="equity / deposit", title="Equity (all seeds; seed 0 bold)")
    ax_l.set(xlabel="seconds", ylabel="notional / equity", title="Leverage over time")
    for ax in (ax_e, ax_l):
        ax.legend(loc="best", fontsize=8)
        ax.grid(alpha=0.3)
    for name, fig in (("equity", fig_e), ("leverage", fig_l)):
        p = out / f"{name}.png"
        fig.tight_layout()
        fig.savefig(p, dpi=110)
        plt.close(fig)
        files[name] = str(p)
    rows = []
    for label, s in result["strategies"].items():
        cells = "".join(f"<td>{_fmt(s['summary'][k])}</td>" for k in STATS)
        rows.append(f"<tr><th>{label}</th>{cells}</tr>")
    head = "".join(f"<th>{k}</th>" for k in STATS)
    html = (f"<!doctype html><html><head><meta charset='utf-8'><title>perpsim backtest</title>"
            f"<style>body{{font-family:sans-serif}}td,th{{padding:3px 8px;font-size:12px}}</style>"
            f"</head><body><h1>perpsim backtest — {result['mode']} {result['source']}</h1>"
            f"<p>{result['seeds']} seed(s); cells: mean [95% CI]</p>"
            f"<table border=1 cellspacing=0><tr><th>strategy</th>{head}</tr>{''.join(rows)}</table>"
            f"<h2>Equity</h2><img src='equity.png'><h2>Leverage over time</h2><img src='leverage.png'>"
            f"</body></html>")
    p = out / "report.html"
    p.write_text(html)
    files["report"] = str(p)
    return files


def _fmt(s: dict) -> str:
    if s["n"] > 1 and math.isfinite(s["ci_low"]):
        return f"{s['mean']:.4g} [{s['ci_low']:.3g}, {s['ci_high']:.3g}]"
    return f"{s['mean']:.4g}"
