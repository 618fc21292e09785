"""Parameter sweeps: the cartesian product of ``key=v1,v2,...`` grids × seeds, fanned out
through the ``concurrent.futures`` Executor protocol, results in one Parquet table.

Executors: a local :class:`~concurrent.futures.ProcessPoolExecutor` (``workers``; 1 runs in
this process), a Dask distributed cluster (``scheduler="tcp://host:8786"``:
``dask.distributed.Client(address).get_executor()``), or any Executor passed in.

Grid keys are scenario override keys (:meth:`Scenario.with_overrides`): ``index.sigma``,
``population.makers.count``, ``shock.1.change``, ``venue.liquidation.insurance_fund``, and
``waterfall`` (values written with ``+`` between modules: ``market+insurance+adl``, module
options after ``:`` as in :func:`~exchange.sim.compare.split_waterfall`:
``market+insurance+adl:pro_rata``). Values
are read as TOML (``0.1`` float, ``8`` int, ``"x"`` or bare words strings).

>>> parse_grid(["index.sigma=0.0001,0.0002", "waterfall=market+insurance,auction+insurance"])
{'index.sigma': [0.0001, 0.0002], 'waterfall': [['market', 'insurance'], ['auction', 'insurance']]}
"""
from __future__ import annotations

import itertools
import os
from concurrent.futures import Executor, ProcessPoolExecutor
from pathlib import Path
from typing import Any
from collections.abc import Callable, Sequence

from exchange.errors import ConfigError
from exchange.sim.compare import split_waterfall, submit_all
from exchange.sim.scenario import Scenario, load_scenario, parse_value

__all__ = ["sweep", "parse_grid", "sweep_task", "dask_executor"]


def parse_grid(items: Sequence[str]) -> dict[str, list]:
    """``["key=v1,v2", ...]`` → ``{key: [v1, v2]}`` (values parsed like TOML). A value list
    may also be separated by ``;`` (then commas stay inside values)."""
    grid: dict[str, list] = {}
    for item in items:
        key, sep, values = item.partition("=")
        key = key.strip()
        if not sep or not key or not values.strip():
            raise ConfigError.for_key("--grid", "grid", "written key=v1,v2,...", item)
        parts = values.split(";") if ";" in values else values.split(",")
        vals = [parse_value(v.strip()) for v in parts if v.strip()]
        if key == "waterfall":
            vals = [v if isinstance(v, list) else [v] for v in vals]
        grid[key] = vals
    return grid


def sweep_task(task: dict[str, Any]) -> dict[str, Any]:
    """One sweep point in a worker → a flat row: grid values, seed, metrics."""
    from exchange.sim.runner import run

    ov = dict(task["overrides"])
    wf = ov.pop("waterfall", None)
    if wf is not None:
        # module options (``adl:pro_rata``) become preset overrides (compare.split_waterfall)
        wf, wf_ov = split_waterfall(wf)
        wf = list(wf)
        ov.update(wf_ov)
    r = run(task["scenario"], task["seed"], wf, task.get("out_dir"), keep_journal=False,
            report=False, overrides=ov or None, journal=task.get("journal", "none"))
    row = {f"grid.{k}": (",".join(v) if isinstance(v, list) else v)
           for k, v in task["overrides"].items()}
    row.update(r.summary())
    for name, res in r.strategies.items():      # a strategy population's results, flat
        for key, value in res.items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                row[f"{name}.{key}"] = value
    return row


def dask_executor(address: str) -> Executor:
    """An Executor on the Dask distributed cluster at ``address``."""
    try:
        from dask.distributed import Client
    except ImportError as exc:  # pragma: no cover - dask is an optional dependency
        raise ConfigError(f"'--scheduler' needs dask[distributed] installed ({exc})") from None
    try:
        client = Client(address, timeout="10s")
    except (OSError, TimeoutError) as exc:
        raise ConfigError.for_key(None, "scheduler", "the address of a reachable Dask scheduler",
                                  f"{address} ({exc})") from None
    return client.get_executor()


def sweep(scenario: str | Scenario, grid: dict[str, list], seeds: int | Sequence[int] = 1, *,
          workers: int | None = None, scheduler: str | None = None,
          executor: Executor | None = None, out: str | Path | None = None,
          progress: Callable[[int, int], None] | None = None,
          journal: str = "none") -> list[dict[str, Any]]:
    """Run every grid point × seed; return the rows (grid values, seed, metrics) in grid
    order and, with ``out``, write them as one Parquet table (``out`` a file or directory).
    Each run streams its journal (memory bounded, :func:`~exchange.sim.runner.run`);
    ``journal`` ``"full"`` or ``"events"`` with ``out`` also writes each run's journal,
    series and metrics.json to ``sweep-runs/<point>-seed<s>/`` beside the table."""
    from exchange.sim.journal import check_journal_mode

    check_journal_mode(journal)
    sc = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    keys = list(grid)
    points = [dict(zip(keys, combo)) for combo in itertools.product(*(grid[k] for k in keys))]
    for p in points:                                    # fail fast on a bad key or value
        ov = dict(p)
        wf = ov.pop("waterfall", None)
        if wf is not None:
            wf, wf_ov = split_waterfall(wf)
            ov.update(wf_ov)
        (sc.with_overrides(ov) if ov else sc).preset(wf)
    seed_list = list(range(int(seeds))) if isinstance(seeds, int) else [int(s) for s in seeds]
    tasks = [dict(scenario=sc, seed=s, overrides=p, journal=journal) for p in points
             for s in seed_list]
    if journal != "none" and out is not None:
        o = Path(out)
        base = (o if not o.suffix else o.parent) / "sweep-runs"
        for i, t in enumerate(tasks):
            t["out_dir"] = str(base / f"{i // len(seed_list):04d}-seed{t['seed']}")
    rows: list = [None] * len(tasks)
    own = None
    if executor is None:
        if scheduler:
            executor = own = dask_executor(scheduler)
        else:
            w = workers if workers is not None else min(os.cpu_count() or 1, len(tasks))
            if w <= 1:
                for i, t in enumerate(tasks):
                    rows[i] = sweep_task(t)
                    if progress:
                        progress(i + 1, len(tasks))
                executor = None
            else:
                executor = own = ProcessPoolExecutor(max_workers=w)
    if executor is not None:
        try:
            submit_all(executor, sweep_task, tasks, rows, progress)
        finally:
            if own is not None:
                own.shutdown(wait=True)
                client = getattr(own, "_client", None)
                if client is not None:
                    client.close()
    if out is not None:
        write_rows(rows, out)
    return rows


def write_rows(rows: list[dict[str, Any]], out) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    p = Path(out)
    if p.suffix != ".parquet":
        p.mkdir(parents=True, exist_ok=True)
        p = p / "sweep.parquet"
    else:
        p.parent.mkdir(parents=True, exist_ok=True)
    keys: list[str] = []
    for r in rows:
        for k in r:
            if k not in keys:
                keys.append(k)
    cols = {}
    for k in keys:
        vals = [r.get(k) for r in rows]
        if any(isinstance(v, (list, tuple, dict)) for v in vals):
            vals = [None if v is None else str(v) for v in vals]
        elif any(isinstance(v, str) for v in vals) and not all(isinstance(v, str) or v is None for v in vals):
            vals = [None if v is None else str(v) for v in vals]
        cols[k] = vals
    pq.write_table(pa.table(cols), p)
    return p
