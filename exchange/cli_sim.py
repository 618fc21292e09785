"""The ``perpsim`` commands that run simulations: ``run``, ``compare``, ``sweep``
(:mod:`exchange.cli` builds the parser)."""
from __future__ import annotations

import os
import statistics
import time
from pathlib import Path
from exchange.cli_common import (STRATEGY_COLUMNS, TABLE_METRICS, UsageError, _console, _fmt, _out_path,
                                 _overrides, _progress, _scenario_warnings, _warn, _with_strategy)

def _cmd_run(args) -> int:
    from rich.table import Table

    from exchange.sim.metrics import METRICS
    from exchange.sim.runner import run
    from exchange.sim.scenario import load_scenario
    from exchange.sim.world import is_world

    if is_world(args.scenario):
        from exchange.sim.world_cli import cmd_run_world

        return cmd_run_world(args, _console(), _fmt, _progress, _out_path, _overrides(args.set))
    sc = load_scenario(args.scenario)
    ov = _overrides(args.set)
    if ov:
        sc = sc.with_overrides(ov)
    sc = _with_strategy(sc, args)
    wf = None
    if args.waterfall:
        from exchange.sim.compare import parse_waterfall, split_waterfall

        wf_spec = parse_waterfall(args.waterfall)
        wf, wf_ov = split_waterfall(wf_spec)
        if wf_ov:
            sc = sc.with_overrides(wf_ov)
    out = _out_path(args.out, Path("perpsim-out") / f"run-{sc.name}-seed{args.seed}")
    _warn(_scenario_warnings(sc))
    t0, dur = time.perf_counter(), sc.duration_ns / 1e9
    with _progress(f"{sc.name} seed {args.seed}", args.progress) as prog:
        task = prog.add_task(f"{sc.name} seed {args.seed}", total=100)
        result = run(sc, args.seed, wf, out, check="end", report=not args.no_report,
                     journal=args.journal, progress=lambda f, n: prog.update(
                         task, completed=int(f * 100), description=f"{sc.name} seed {args.seed}"
                         f" · {f * dur:,.0f}/{dur:,.0f} sim s · "
                         f"{n / max(time.perf_counter() - t0, 1e-9):,.0f} events/s"))
    con = _console()
    shown = wf_spec if args.waterfall else result.waterfall      # with its module options
    table = Table(title=f"perpsim run · {sc.name} · seed {args.seed} · {' → '.join(shown)}")
    table.add_column("metric", no_wrap=True)
    table.add_column("value", justify="right", no_wrap=True)
    table.add_column("meaning", style="dim")
    for key in METRICS:
        table.add_row(key, _fmt(result.metrics.get(key)), METRICS[key])
    con.print(table)
    for name, pnl in result.strategies.items():
        from exchange.sim.metrics import PNL_FIELDS

        st = Table(title=f"{pnl['class']} (population {name!r}) · PnL")
        st.add_column("measure", no_wrap=True)
        st.add_column("value", justify="right", no_wrap=True)
        st.add_column("meaning", style="dim")
        for key, meaning in PNL_FIELDS.items():
            if key != "accounts":
                st.add_row(key, _fmt(pnl[key]), meaning)
        con.print(st)
    con.print(f"{result.events:,} events in {result.wall_s:.2f} s "
              f"({result.events / max(result.wall_s, 1e-9):,.0f} events/s, "
              f"{result.sim_s / max(result.wall_s, 1e-9):,.0f}× real time)")
    con.print(f"journal, series, metrics{', report' if not args.no_report else ''} in {out}/")
    return 0


# -- compare -----------------------------------------------------------------------------------

def _design_table(title: str, first: str, labels, keys, stat):
    """A rich table with one column per design (``labels``) and one row per key;
    ``stat(label, key)`` gives (mean, sd or None), shown as ``mean ± sd`` (``mean`` alone
    when sd is None)."""
    from rich.table import Table

    table = Table(title=title)
    table.add_column(first, no_wrap=True)
    for lbl in labels:
        table.add_column(" → ".join(lbl.split(",")), justify="right")
    for key in keys:
        cells = []
        for lbl in labels:
            mean, sd = stat(lbl, key)
            if isinstance(mean, float) and mean.is_integer() and abs(mean) < 1e15:
                mean = int(mean)                 # a count the same in every seed: 71, not 71.0
            cells.append(_fmt(mean) + (f" ± {_fmt(sd)}" if sd is not None else ""))
        table.add_row(key, *cells)
    return table


def _cmd_compare(args) -> int:
    from exchange.sim.compare import DEFAULT_WATERFALLS, compare, parse_waterfalls
    from exchange.sim.scenario import load_scenario
    from exchange.sim.world import is_world

    if is_world(args.scenario):
        from exchange.sim.world_cli import cmd_compare_world

        if args.seeds < 1:
            raise UsageError(f"'--seeds' must be >= 1 (got {args.seeds})")
        wfs = parse_waterfalls(args.waterfalls) if args.waterfalls else list(DEFAULT_WATERFALLS)
        return cmd_compare_world(args, _console(), _fmt, _progress, _out_path,
                                 _overrides(args.set), wfs)
    sc = load_scenario(args.scenario)
    ov = _overrides(args.set)
    if ov:
        sc = sc.with_overrides(ov)
    sc = _with_strategy(sc, args)
    wfs = parse_waterfalls(args.waterfalls) if args.waterfalls else list(DEFAULT_WATERFALLS)
    for wf in wfs:
        if not wf:
            raise UsageError("'--waterfalls' must name modules, e.g. \"market,insurance,adl\" (got '')")
    if args.seeds < 1:
        raise UsageError(f"'--seeds' must be >= 1 (got {args.seeds})")
    out = _out_path(args.out, Path("perpsim-out") / f"compare-{sc.name}")
    _warn(_scenario_warnings(sc))
    n = len(wfs) * args.seeds
    with _progress("runs", args.progress) as prog:
        task = prog.add_task(f"{sc.name}: {len(wfs)} designs × {args.seeds} seeds", total=n)
        cmp = compare(sc, wfs, args.seeds, workers=args.workers, out_dir=out,
                      report=not args.no_report, journal=args.journal,
                      progress=lambda done, total: prog.update(task, completed=done))
    stats = cmp.stats()
    con = _console()
    con.print(_design_table(
        f"perpsim compare · {sc.name} · seeds {', '.join(map(str, cmp.seeds))} (mean ± sd)",
        "metric", cmp.labels, TABLE_METRICS,
        lambda lbl, key: (stats[lbl][key][0],
                          stats[lbl][key][1] if stats[lbl][key][1] and len(cmp.seeds) > 1 else None)))
    if args.strategy:
        def strategy_stat(lbl, key):
            vals = [float(r.strategies["strategy"][key]) for r in cmp.results[lbl]]
            return statistics.fmean(vals), statistics.stdev(vals) if len(vals) > 1 else None
        con.print(_design_table(
            f"your strategy ({args.strategy}) in each design, USDT (mean ± sd over seeds)",
            "strategy", cmp.labels, STRATEGY_COLUMNS, strategy_stat))
    from exchange.report.notes import design_notes

    for note in design_notes(cmp):
        con.print(f"· {note}", highlight=False)
    con.print(f"{n} runs in {cmp.wall_s:.1f} s · table {cmp.files.get('table')}"
              + (f" · report {cmp.files['report']}" if "report" in cmp.files else ""))
    return 0


# -- sweep -------------------------------------------------------------------------------------

def _sweep_table(title: str, rows, gcols, shown):
    """The sweep's console table: grid columns fold (a design name is never cut short),
    a waterfall shown with arrows."""
    from rich.table import Table

    table = Table(title=title)
    for c in gcols:
        table.add_column(c.removeprefix("grid."), overflow="fold", min_width=8)
    for c in shown:
        table.add_column(c, justify="right", overflow="fold")

    def cell(r, c):
        v = r.get(c)
        if c == "grid.waterfall" and isinstance(v, str):
            return " → ".join(p for p in v.replace("+", ",").split(",") if p)
        return _fmt(v)

    for r in rows:
        table.add_row(*[cell(r, c) for c in gcols + shown])
    return table


def _sweep_tables(title: str, rows, gcols, shown, width: int) -> list:
    """The sweep's console output for a ``width``-column console: one table when it fits;
    otherwise a key (grid point → its grid values) and the metrics split across as many
    tables as needed, each keyed by the grid point and showing the metrics that fit whole
    (headers and numbers never squeezed to a few characters)."""
    from rich.table import Table

    def need(c):
        return max([len(c.removeprefix("grid."))] + [len(_fmt(r.get(c))) for r in rows]) + 3

    if 1 + sum(min(need(c), 25) for c in gcols) + sum(need(c) for c in shown) <= width:
        return [_sweep_table(title, rows, gcols, shown)]
    points: dict[tuple, int] = {}
    keyed = []
    for r in rows:
        k = tuple(str(r.get(c)) for c in gcols)
        points.setdefault(k, len(points) + 1)
        keyed.append({**r, "point": points[k]})
    key = _sweep_table(f"{title}: grid points", [dict(zip(gcols, k, strict=False), point=n) for k, n in
                                                  points.items()], ["point"] + gcols, [])
    out, groups, cur = [key], [], []
    base = 1 + need("point")
    used = base
    for c in shown:
        w = need(c)
        if cur and used + w > width:
            groups.append(cur)
            cur, used = [], base
        cur.append(c)
        used += w
    if cur:
        groups.append(cur)
    for i, g in enumerate(groups):
        t = title + (f" ({i + 1}/{len(groups)})" if len(groups) > 1 else "")
        table = Table(title=t)
        for c in ["point"] + g:
            table.add_column(c, justify="right", no_wrap=True)
        for r in keyed:
            table.add_row(*[str(r["point"]) if c == "point" else _fmt(r.get(c)) for c in ["point"] + g])
        out.append(table)
    return out


def _cmd_sweep(args) -> int:
    from exchange.sim.sweep import parse_grid, sweep

    if not args.grid:
        raise UsageError("'--grid' must be given at least once, e.g. --grid index.sigma=0.0001,0.0002")
    if args.workers is not None and args.workers < 1:
        raise UsageError(f"'--workers' must be >= 1 (got {args.workers})")
    grid = parse_grid(args.grid)
    for item in args.grid:
        key, _, values = item.partition("=")
        wfs = grid.get("waterfall") if key.strip() == "waterfall" else None
        if wfs and len(wfs) > 1 and ";" not in values and all(len(w) == 1 and "+" not in str(w[0])
                                                            for w in wfs):
            raise UsageError(
                f"'--grid' {item!r} is ambiguous: it reads as {len(wfs)} one-module waterfalls "
                f"({', '.join(str(w[0]) for w in wfs)}). Join one design's modules with '+' "
                f"(waterfall={'+'.join(str(w[0]) for w in wfs)}) and separate designs with ',' "
                f"or ';' (waterfall=market+insurance,market+insurance+adl; one-module designs: "
                f"waterfall=market;insurance)")
    from exchange.sim.scenario import load_scenario

    sc = _with_strategy(load_scenario(args.scenario), args)
    out = _out_path(args.out, Path("perpsim-out") / "sweep.parquet", file_suffix=".parquet")
    _warn(_scenario_warnings(sc))
    total = args.seeds
    for v in grid.values():
        total *= len(v)
    t0 = time.perf_counter()
    with _progress("sweep", args.progress) as prog:
        task = prog.add_task(f"sweep: {total} runs", total=total)
        rows = sweep(sc, grid, args.seeds, workers=args.workers,
                     scheduler=args.scheduler, out=out, journal=args.journal,
                     progress=lambda done, n: prog.update(task, completed=done))
    wall = time.perf_counter() - t0
    gcols = [f"grid.{k}" for k in grid]
    shown = ["seed", "liquidations", "bad_debt", "insurance_end", "haircut_total", "perp_drawdown"]
    if args.strategy:
        shown += ["strategy.pnl", "strategy.fees", "strategy.funding", "strategy.liquidations"]
    con = _console()
    for table in _sweep_tables(f"perpsim sweep · {args.scenario} · {len(rows)} runs", rows,
                               gcols, shown, con.width):
        con.print(table)
    where = args.scheduler or f"{args.workers or os.cpu_count()} worker(s)"
    results = out if out.suffix == ".parquet" else out / "sweep.parquet"
    con.print(f"{len(rows)} runs in {wall:.1f} s on {where} · results {results}")
    return 0
