"""Compare liquidation designs: the same scenario and seeds through each waterfall.

>>> from exchange.sim.compare import compare
>>> cmp = compare("flash_crash", seeds=2)                        # doctest: +SKIP
>>> cmp.stats()["market,insurance,adl"]["bad_debt"]              # doctest: +SKIP
(0.0, 0.0)

Each (waterfall, seed) run is independent; they fan out through a ``concurrent.futures``
Executor (a process pool by default). Because every random stream is keyed by name from the
seed (:func:`~exchange.sim.context.component_seed`), a given seed gives every design the same
agents and the same price path: the differences come from the mechanics alone.
"""
from __future__ import annotations

import os
import statistics
import time
from concurrent.futures import Executor, ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any, Callable, Sequence

import attrs

from exchange.sim.metrics import METRICS
from exchange.sim.scenario import Scenario, load_scenario

__all__ = ["compare", "Comparison", "DEFAULT_WATERFALLS", "parse_waterfall", "run_task"]

#: the standard designs ``perpsim compare`` runs with no options
DEFAULT_WATERFALLS: tuple[tuple[str, ...], ...] = (
    ("market", "insurance", "adl"),          # Binance / Bybit / dYdX
    ("auction", "insurance", "socialized"),  # MakerDAO-style auction, BitMEX-2015 clawback
    ("market", "backstop", "adl"),           # Hyperliquid (HLP vault)
    ("market", "insurance"),                 # no last resort: bad debt when the fund is dry
)


def parse_waterfall(text: str | Sequence[str]) -> tuple[str, ...]:
    """``"market,insurance,adl"`` (or ``+``/space separated, or a sequence) → module tuple."""
    if not isinstance(text, str):
        return tuple(str(t) for t in text)
    for sep in ("+", " "):
        text = text.replace(sep, ",")
    return tuple(t.strip() for t in text.split(",") if t.strip())


def run_task(task: dict[str, Any]):
    """One run in a worker: ``task`` has scenario (a Scenario or name), seed, waterfall,
    overrides, out_dir; returns the run's light :class:`RunResult` (no journal)."""
    from exchange.sim.runner import run

    r = run(task["scenario"], task["seed"], task.get("waterfall"), task.get("out_dir"),
            keep_journal=False, report=task.get("report", False),
            overrides=task.get("overrides"))
    return r.light()


@attrs.define
class Comparison:
    """Results of :func:`compare`: ``results[label]`` is the list of light RunResults of that
    design (one per seed, in seed order)."""

    scenario: str
    description: str
    seeds: list[int]
    labels: list[str]
    results: dict[str, list]
    wall_s: float = 0.0
    files: dict[str, str] = attrs.field(factory=dict)

    def stats(self) -> dict[str, dict[str, tuple[float | None, float | None]]]:
        """label → metric → (mean, sample standard deviation) over seeds (None if n/a)."""
        out: dict[str, dict[str, tuple[float | None, float | None]]] = {}
        for lbl in self.labels:
            row = {}
            for key in METRICS:
                vals = [r.metrics.get(key) for r in self.results[lbl]]
                vals = [float(v) for v in vals if isinstance(v, (int, float)) and v is not None]
                if not vals:
                    row[key] = (None, None)
                else:
                    sd = statistics.stdev(vals) if len(vals) > 1 else 0.0
                    row[key] = (statistics.fmean(vals), sd)
            out[lbl] = row
        return out

    def first_seed_runs(self) -> list[tuple[str, Any]]:
        return [(lbl, self.results[lbl][0]) for lbl in self.labels]

    def rows(self) -> list[dict[str, Any]]:
        """One row per run (for a Parquet table)."""
        return [r.summary() for lbl in self.labels for r in self.results[lbl]]


def compare(scenario: str | Scenario, waterfalls: Sequence | None = None, seeds: int | Sequence[int] = 3,
            *, workers: int | None = None, executor: Executor | None = None, out_dir=None,
            report: bool = True, progress: Callable[[int, int], None] | None = None,
            overrides: dict | None = None) -> Comparison:
    """Run ``scenario`` for each waterfall and seed; with ``out_dir`` write compare.parquet
    (one row per run) and report.html. ``seeds``: a count (0..K-1) or explicit seeds.
    ``executor``: any ``concurrent.futures.Executor``; default a process pool of ``workers``
    (default: the CPU count, at most the number of runs; 1 = in this process)."""
    t0 = time.perf_counter()
    sc = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    if overrides:
        sc = sc.with_overrides(overrides)
    wfs = [parse_waterfall(w) for w in (waterfalls or DEFAULT_WATERFALLS)]
    for wf in wfs:
        sc.preset(wf)                                   # validate every design up front
    seed_list = list(range(int(seeds))) if isinstance(seeds, int) else [int(s) for s in seeds]
    if not seed_list:
        raise ValueError("'seeds' must name at least one seed (got none)")
    labels = [",".join(w) for w in wfs]
    tasks = [dict(scenario=sc, seed=s, waterfall=list(w)) for w in wfs for s in seed_list]
    results = _execute(tasks, workers, executor, progress)
    by = {lbl: [] for lbl in labels}
    for task, res in zip(tasks, results):
        by[",".join(task["waterfall"])].append(res)
    cmp = Comparison(scenario=sc.name, description=sc.description, seeds=seed_list,
                     labels=labels, results=by)
    cmp.wall_s = time.perf_counter() - t0
    if out_dir is not None:
        write_comparison(cmp, out_dir, report=report)
    return cmp


def _execute(tasks: list[dict], workers: int | None, executor: Executor | None,
             progress: Callable[[int, int], None] | None) -> list:
    n = len(tasks)
    results: list = [None] * n
    done = 0
    if executor is None:
        w = workers if workers is not None else min(os.cpu_count() or 1, n)
        if w <= 1:
            for i, t in enumerate(tasks):
                results[i] = run_task(t)
                done += 1
                if progress:
                    progress(done, n)
            return results
        with ProcessPoolExecutor(max_workers=w) as pool:
            return submit_all(pool, run_task, tasks, results, progress)
    return submit_all(executor, run_task, tasks, results, progress)


def submit_all(pool: Executor, fn: Callable, tasks, results: list, progress) -> list:
    """``results[i] = fn(tasks[i])`` for every task, run on ``pool`` in any order;
    ``progress(done, total)`` after each. Returns ``results``."""
    futs = {pool.submit(fn, t): i for i, t in enumerate(tasks)}
    done = 0
    for fut in as_completed(futs):
        results[futs[fut]] = fut.result()
        done += 1
        if progress:
            progress(done, len(tasks))
    return results


def write_comparison(cmp: Comparison, out_dir, *, report: bool = True) -> dict[str, str]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rows = cmp.rows()
    cols = {k: [r.get(k) for r in rows] for k in rows[0]} if rows else {}
    pq.write_table(pa.table(cols), out / "compare.parquet")
    cmp.files["table"] = str(out / "compare.parquet")
    if report:
        from exchange.report import write_compare_report

        cmp.files["report"] = str(write_compare_report(cmp, out / "report.html"))
    return cmp.files
