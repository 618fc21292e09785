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
from typing import Any
from collections.abc import Callable, Sequence

import attrs

from exchange.resolve import is_class_path
from exchange.sim.metrics import METRICS
from exchange.sim.scenario import Scenario, load_scenario

__all__ = ["compare", "Comparison", "DEFAULT_WATERFALLS", "parse_waterfall", "parse_waterfalls",
           "split_waterfall", "run_task", "MODULE_OPTIONS"]

#: the standard designs ``perpsim compare`` runs with no options
DEFAULT_WATERFALLS: tuple[tuple[str, ...], ...] = (
    ("market", "insurance", "adl"),          # Binance / Bybit / dYdX
    ("auction", "insurance", "socialized"),  # MakerDAO-style auction, BitMEX-2015 clawback
    ("market", "backstop", "adl"),           # Hyperliquid (HLP vault)
    ("market", "insurance"),                 # no last resort: bad debt when the fund is dry
)


#: ``module:value`` / ``module:key=value`` in a waterfall: the preset key each module option
#: sets (the first key is the one a bare ``module:value`` names)
MODULE_OPTIONS: dict[str, dict[str, str]] = {
    "adl": {"policy": "liquidation.adl_policy", "price": "liquidation.adl_price"},
    "socialized": {"policy": "liquidation.socialized_policy"},
}


def parse_waterfall(text: str | Sequence[str]) -> tuple[str, ...]:
    """``"market,insurance,adl"`` (or ``+``/space separated, or a sequence) → module tuple.
    A module may carry options after a colon (see :func:`split_waterfall`), which stay in
    the entry: ``"market,insurance,adl:pro_rata"`` → ``('market', 'insurance',
    'adl:pro_rata')``.

    >>> parse_waterfall("market+insurance+adl:leverage_drain")
    ('market', 'insurance', 'adl:leverage_drain')
    """
    if not isinstance(text, str):
        return tuple(str(t) for t in text)
    for sep in ("+", " "):
        text = text.replace(sep, ",")
    return tuple(t.strip() for t in text.split(",") if t.strip())


def parse_waterfalls(items: Sequence[str]) -> list[tuple[str, ...]]:
    """Command-line waterfalls: each item one waterfall, or several separated by ``;``.

    >>> parse_waterfalls(["market,insurance,adl:pro_rata;market,insurance,adl:bitmex"])
    [('market', 'insurance', 'adl:pro_rata'), ('market', 'insurance', 'adl:bitmex')]
    """
    out = []
    for item in items:
        for part in str(item).split(";"):
            if part.strip():
                out.append(parse_waterfall(part))
    return out


def split_waterfall(spec: Sequence[str]) -> tuple[tuple[str, ...], dict[str, Any]]:
    """Module names and the scenario overrides their options set.

    ``module:value`` sets the module's main option, ``module:key=value`` a named one, several
    joined by ``:`` (``adl:pro_rata:price=previous_mark``). Options (:data:`MODULE_OPTIONS`):
    ``adl`` — ``policy`` (the allocation, :data:`exchange.presets.params.ADL_POLICIES`) and
    ``price`` (``bankruptcy``, ``previous_mark``, ``oracle``); ``socialized`` — ``policy``.
    Values are checked here, so a typo fails before any run, naming field, rule and value.
    An entry with a dot before the colon is a ``package.module:Class`` path and is left whole.

    >>> split_waterfall(("market", "insurance", "adl:pro_rata"))
    (('market', 'insurance', 'adl'), {'venue.liquidation.adl_policy': 'pro_rata'})
    >>> split_waterfall(["adl:risk_aware:price=previous_mark"])[1]
    {'venue.liquidation.adl_policy': 'risk_aware', 'venue.liquidation.adl_price': 'previous_mark'}
    >>> split_waterfall(["adl:lottery"])
    Traceback (most recent call last):
    ...
    exchange.errors.ConfigError: 'adl:policy' must be one of 'binance', 'bitmex', 'bybit', 'hyperliquid', 'random', 'pro_rata', 'risk_aware', 'leverage_drain' (got 'lottery')
    >>> split_waterfall(["market:fast"])
    Traceback (most recent call last):
    ...
    exchange.errors.ConfigError: 'waterfall module option' must be on a module that takes options ('adl', 'socialized') (got 'market:fast')
    """  # noqa: E501
    from exchange.errors import ConfigError, invalid
    from exchange.presets.params import ADL_POLICIES, ADL_PRICES, SOCIALIZED_POLICIES

    choices = {("adl", "policy"): tuple(p for p in ADL_POLICIES if p != "none"),
               ("adl", "price"): ADL_PRICES,
               ("socialized", "policy"): tuple(p for p in SOCIALIZED_POLICIES if p != "none")}
    names: list[str] = []
    overrides: dict[str, Any] = {}
    for entry in spec:
        entry = str(entry)
        head, sep, rest = entry.partition(":")
        if not sep or is_class_path(entry):
            names.append(entry)
            continue
        if head not in MODULE_OPTIONS:
            raise invalid("waterfall module option", "on a module that takes options ("
                          + ", ".join(repr(m) for m in MODULE_OPTIONS) + ")", entry,
                          error=ConfigError)
        opts = MODULE_OPTIONS[head]
        main = next(iter(opts))
        for opt in rest.split(":"):
            key, eq, value = opt.partition("=")
            key, value = (key.strip(), value.strip()) if eq else (main, key.strip())
            if key not in opts:
                raise invalid(f"{head}:{key}", "one of " + ", ".join(repr(k) for k in opts),
                              key, error=ConfigError)
            allowed = choices[(head, key)]
            if value not in allowed:
                raise invalid(f"{head}:{key}", "one of " + ", ".join(repr(v) for v in allowed),
                              value, error=ConfigError)
            overrides["venue." + opts[key]] = value
        names.append(head)
    return tuple(names), overrides


def run_task(task: dict[str, Any]):
    """One run in a worker: ``task`` has scenario (a Scenario or name), seed, waterfall,
    overrides, out_dir, journal (the run's ``journal`` mode, default ``"none"``: streamed,
    memory bounded), episodes (True: the liquidation episodes in ``plot["episodes"]``, for
    the report: the run then holds its journal in memory unless it writes one); returns the
    run's light :class:`RunResult` (no journal)."""
    from exchange.sim.runner import run

    wf = task.get("waterfall")
    names, ov = split_waterfall(wf) if wf is not None else (None, {})
    ov = {**dict(task.get("overrides") or {}), **ov}
    episodes = bool(task.get("episodes"))
    r = run(task["scenario"], task["seed"], list(names) if names is not None else None,
            task.get("out_dir"), keep_journal=episodes, report=task.get("report", False),
            overrides=ov or None, journal=None if episodes else task.get("journal", "none"))
    if episodes:
        # the report's episodes table and cascade timeline: a few hundred small dicts
        from exchange.report.episodes import liquidation_episodes

        r.plot["episodes"] = liquidation_episodes(r.journal, r.info)
    light = r.light()
    if wf is not None:
        # the design's label keeps its options ("market,insurance,adl:pro_rata")
        light = attrs.evolve(light, waterfall=tuple(str(w) for w in wf))
    return light


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
    #: the scenario's populations for the report's header: name, type, count, leverage
    populations: list[dict[str, Any]] = attrs.field(factory=list)

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
            overrides: dict | None = None, journal: str = "none") -> Comparison:
    """Run ``scenario`` for each waterfall and seed; with ``out_dir`` write compare.parquet
    (one row per run) and report.html; ``journal`` ``"full"`` or ``"events"`` also streams
    each run's journal, series and metrics.json to ``out_dir/runs/<design>-seed<s>/``
    (:func:`~exchange.sim.runner.run`; ``"none"``, the default, keeps no journal). ``seeds``: a count (0..K-1) or explicit seeds.
    ``executor``: any ``concurrent.futures.Executor``; default a process pool of ``workers``
    (default: the CPU count, at most the number of runs; 1 = in this process)."""  # noqa: E501
    t0 = time.perf_counter()
    sc = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    if overrides:
        sc = sc.with_overrides(overrides)
    wfs = [parse_waterfall(w) for w in (waterfalls or DEFAULT_WATERFALLS)]
    for wf in wfs:
        names, ov = split_waterfall(wf)                 # validate every design up front
        (sc.with_overrides(ov) if ov else sc).preset(names)
    seed_list = list(range(int(seeds))) if isinstance(seeds, int) else [int(s) for s in seeds]
    if not seed_list:
        raise ValueError("'seeds' must name at least one seed (got none)")
    labels = [",".join(w) for w in wfs]
    from exchange.sim.journal import check_journal_mode

    check_journal_mode(journal)
    want = bool(report and out_dir is not None)
    tasks = [dict(scenario=sc, seed=s, waterfall=list(w), journal=journal,
                  episodes=want and journal == "none") for w in wfs for s in seed_list]
    if journal != "none" and out_dir is not None:
        for t in tasks:
            t["out_dir"] = str(Path(out_dir) / "runs" / f"{'+'.join(t['waterfall'])}-seed{t['seed']}")
    results = _execute(tasks, workers, executor, progress)
    by = {lbl: [] for lbl in labels}
    for task, res in zip(tasks, results):
        by[",".join(task["waterfall"])].append(res)
    pops = [dict(name=p.name, type=p.type, count=int(p.params.get("count", 0)),
                 leverage=p.params.get("leverage")) for p in sc.populations]
    cmp = Comparison(scenario=sc.name, description=sc.description, seeds=seed_list,
                     labels=labels, results=by, populations=pops)
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
