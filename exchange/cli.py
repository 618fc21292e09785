"""The ``perpsim`` command.

::

    perpsim compare                         # standard designs on the built-in flash crash
    perpsim compare flash_crash --waterfalls "market,insurance,adl" "auction,insurance,socialized" --seeds 3
    perpsim run flash_crash --seed 7 --out runs/fc7
    perpsim sweep flash_crash --grid venue.liquidation.insurance_fund=20000,200000 --seeds 2 --workers 2
    perpsim sweep calm --grid index.sigma=0.0001,0.0003 --scheduler tcp://10.0.0.5:8786
    perpsim calc --preset binance_usdm --symbol BTCUSDT --side long --entry 100000 --qty 0.5 --leverage 20
    perpsim backtest fixed_10x vol_adjusted tiered --scenario flash_crash --seeds 20
    perpsim backtest fixed_10x carry --data binance-futures_incremental_book_L2_2024-01-01_BTCUSDT.csv.gz \
        binance-futures_trades_2024-01-01_BTCUSDT.csv.gz binance-futures_derivative_ticker_2024-01-01_BTCUSDT.csv.gz
    perpsim journal runs/fc7 --format csv        # the journal in human units
    perpsim scenarios | presets | demo

Bad input (an unknown preset or scenario, a malformed TOML key, an impossible parameter, an
option out of range) is a one-line error naming the file or the option, the key and the value,
and exit status 2 — never a traceback. An exception raised in your strategy is reported with
its type and its place in your file, exit status 3; any other failure exits 1. ``--debug``
(any command, or ``PERPSIM_DEBUG=1``) shows the full traceback instead.
"""
from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import time
from decimal import Decimal, InvalidOperation
from pathlib import Path

__all__ = ["main", "build_parser"]

#: metrics shown in the console tables (all of them go to the files)
TABLE_METRICS = ("liquidations", "liquidation_triggers", "liquidation_notional", "bad_debt",
                 "insurance_credited", "insurance_paid", "insurance_takeover_pnl", "insurance_end",
                 "insurance_drawdown", "backstop_pnl", "adl_count", "adl_notional",
                 "adl_shortfall", "adl_haircut", "adl_excess_haircut", "adl_uncovered",
                 "adl_winners_hit",
                 "adl_max_leverage", "socialized_total", "haircut_total",
                 "haircut_plus_bad_debt", "winners_hit_share", "haircut_gini", "perp_drawdown",
                 "index_drawdown", "amplification", "cascade_depth", "repeg_s", "funding_paid",
                 "orders", "liquidation_orders")


class UsageError(Exception):
    """Bad command-line input (reported in one line, exit status 2)."""


def _console():
    from rich.console import Console

    return Console()


def _console_err():
    from rich.console import Console

    return Console(stderr=True)


def _progress(description: str, force: bool = False):
    """A transient rich progress bar on stderr: shown when stderr is a terminal or ``force``
    (``--progress``), so output parsed from stdout never carries it."""
    from rich.console import Console

    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                               TimeElapsedColumn)

    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), transient=True,
                    console=Console(stderr=True, force_terminal=True if force else None),
                    disable=not (force or sys.stderr.isatty()))


def _fmt(v) -> str:
    from exchange.report import format_value

    return format_value(v)


#: integer options checked before any work: attribute -> (flag, lowest, highest or None)
INT_OPTIONS = {
    "seed": ("--seed", 0, None), "seeds": ("--seeds", 1, None), "workers": ("--workers", 1, None),
    "n": ("--n", 1, None), "port": ("--port", 0, 65535), "accounts": ("--accounts", 0, None),
    "read_only_accounts": ("--read-only-accounts", 0, None), "leverage": ("--leverage", 1, None),
}
#: float options that must be finite and > 0
POSITIVE_FLOAT_OPTIONS = {"speed": "--speed", "record_ms": "--record-ms"}

#: exit status of a usage error (bad input), of an exception raised in the user's strategy,
#: and of any other failure
EXIT_USAGE, EXIT_STRATEGY, EXIT_FAILURE = 2, 3, 1


def _check_options(args) -> None:
    """Every numeric option in range, named in the error, before any work starts."""
    for attr, (flag, lo, hi) in INT_OPTIONS.items():
        v = getattr(args, attr, None)
        if v is None:
            continue
        if v < lo or (hi is not None and v > hi):
            rule = f">= {lo}" if hi is None else f"in [{lo}, {hi}]"
            raise UsageError(f"'{flag}' must be an integer {rule} (got {v})")
    for attr, flag in POSITIVE_FLOAT_OPTIONS.items():
        v = getattr(args, attr, None)
        if v is not None and not (math.isfinite(v) and v > 0):
            raise UsageError(f"'{flag}' must be a finite number > 0 (got {v:g})")


def _out_path(value, default: Path, *, file_suffix: str | None = None) -> Path:
    """``--out`` checked before the run: a directory (or, with ``file_suffix``, a file of
    that suffix) that does not sit below an existing file and is not an existing file."""
    out = Path(value) if value else default
    if file_suffix is not None and out.suffix == file_suffix:
        if out.is_dir():
            raise UsageError(f"'--out' must be a {file_suffix} file or a directory "
                             f"(got {str(out)!r}: an existing directory named like a file)")
        target_dir = out.parent
    else:
        if out.exists() and not out.is_dir():
            raise UsageError(f"'--out' must be a directory, new or existing (got {str(out)!r}: "
                             f"an existing file)")
        target_dir = out
    for parent in [target_dir, *target_dir.parents]:
        if parent.exists():
            if not parent.is_dir():
                raise UsageError(f"'--out' must not be below a file (got {str(out)!r}: "
                                 f"{str(parent)!r} is a file)")
            if not os.access(parent, os.W_OK):
                raise UsageError(f"'--out' must be writable (got {str(out)!r}: cannot write "
                                 f"in {str(parent)!r})")
            break
    return out


def _scenario_warnings(sc, waterfall=None) -> list[str]:
    """What a scenario asks for that the run will not do as written: a shock at or after the
    end (it never fires), a population leverage above the instrument's maximum (clamped)."""
    out = []
    end_s = sc.duration_ns / 1e9
    for shock in sc.shocks:
        at = shock.at_ns / 1e9
        if at >= end_s:
            out.append(f"the {shock.type} shock at {at:g} s is at or after the scenario's end "
                       f"({end_s:g} s): it never fires")
    try:
        preset = sc.preset(waterfall) if waterfall else sc.preset()
        max_lev = int(preset.instrument(sc.symbol).tiers[0].max_leverage)
    except Exception:  # noqa: BLE001 - the run reports a bad preset itself
        return out
    for pop in sc.populations:
        lev = pop.params.get("leverage")
        levs = lev if isinstance(lev, (list, tuple)) else [lev] if lev is not None else []
        high = [v for v in levs if isinstance(v, (int, float)) and v > max_lev]
        if high:
            out.append(f"population.{pop.name}.leverage {', '.join(f'{v:g}' for v in high)} is "
                       f"above {sc.preset_name}'s maximum for {sc.symbol} ({max_lev}x): "
                       f"those accounts trade at {max_lev}x")
    return out


def _warn(messages) -> None:
    con = None
    for m in messages:
        con = con or _console_err()
        con.print(f"[bold yellow]perpsim: warning:[/] {m}", highlight=False, soft_wrap=True)


# -- run ---------------------------------------------------------------------------------------

def _journal_options(p, default: str | None) -> None:
    """``--journal`` and ``--progress`` of run, compare and sweep."""
    p.add_argument("--journal", choices=("full", "events", "none"), default=default,
                   help="journal streamed to Parquet as the run goes, in bounded memory: "
                   f"every event table, all but the order flow (events), or none (default "
                   f"{default}; metrics and report cover every event in "
                   "every mode)")
    p.add_argument("--progress", action="store_true",
                   help="show the progress bar even when stderr is not a terminal")


def _overrides(items) -> dict:
    from exchange.sim.scenario import parse_value

    out = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"'--set' must be written key=value (got {item!r})")
        out[key.strip()] = parse_value(value.strip())
    return out


def _with_strategy(sc, args):
    """The scenario with the ``--strategy`` population (``strategy``) added, if given."""
    if args.strategy_param and not args.strategy:
        raise UsageError("'--strategy-param' must come with --strategy (got no --strategy)")
    if not args.strategy:
        return sc
    from exchange.sim.strategy import strategy_overrides

    return sc.with_overrides(strategy_overrides(args.strategy, args.strategy_param or ()))


#: the strategy's results shown per design by compare (from RunResult.strategies)
STRATEGY_COLUMNS = ("pnl", "realized_pnl", "fees", "funding", "liquidations", "fills")


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
    key = _sweep_table(f"{title}: grid points", [dict(zip(gcols, k), point=n) for k, n in
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
    con.print(f"{len(rows)} runs in {wall:.1f} s on {where} · results {out if out.suffix == '.parquet' else out / 'sweep.parquet'}")
    return 0


# -- calc --------------------------------------------------------------------------------------

def _dec(value: str, flag: str) -> Decimal:
    try:
        d = Decimal(value)
    except (InvalidOperation, TypeError):
        raise UsageError(f"'{flag}' must be a decimal number (got {value!r})") from None
    if not d.is_finite():
        raise UsageError(f"'{flag}' must be a finite number (got {value!r})")
    return d


def _cmd_calc(args) -> int:
    from exchange.cli_parts import cmd_calc

    return cmd_calc(args)


# -- listings ----------------------------------------------------------------------------------

def _cmd_scenarios(args) -> int:
    from rich.table import Table

    from exchange.sim.agents import AGENT_TYPES, LAZY_AGENT_TYPES, agent_class
    from exchange.sim.scenario import list_scenarios, load_scenario

    con = _console()
    if args.agents:
        kinds = {**AGENT_TYPES, **{k: agent_class(k) for k in LAZY_AGENT_TYPES}}
        for kind, cls in kinds.items():
            t = Table(title=f"agent type {kind!r} ({cls.__name__})")
            t.add_column("key")
            t.add_column("default", justify="right")
            t.add_column("meaning", style="dim")
            for key, p in cls.schema().items():
                if key == "type":
                    continue
                t.add_row(key, str(p.default), p.help)
            con.print(t)
        return 0
    # two columns, the facts stacked in the first, so that the description wraps in a
    # readable column at 80 characters or when piped (rich folds, never truncates)
    table = Table(title="built-in scenarios", show_lines=True, expand=False)
    table.add_column("scenario", no_wrap=True, min_width=26)
    table.add_column("what happens", ratio=1, min_width=30, overflow="fold")
    for name in list_scenarios():
        sc = load_scenario(name)
        shocks = ", ".join(f"{s.type}@{s.at_ns / 1e9:g}s" for s in sc.shocks) or "none"
        facts = (f"[bold]{name}[/]\npreset {sc.preset_name}\n{sc.duration_ns / 1e9:,.0f} s · "
                 f"{sc.n_agents:,} agents")
        table.add_row(facts, f"{sc.description}\n[dim]waterfall {' → '.join(sc.waterfall)}\n"
                             f"shocks {shocks}[/]")
    con.print(table)
    from exchange.sim.world import list_worlds, load_world

    worlds = Table(title="built-in worlds (several instruments and venues)", show_lines=True)
    worlds.add_column("world", no_wrap=True, min_width=26)
    worlds.add_column("what happens", ratio=1, min_width=30, overflow="fold")
    for name in list_worlds():
        w = load_world(name)
        where = "; ".join(f"{v.name} ({v.preset_name}): "
                          + ", ".join(m.symbol for m in v.markets) for v in w.venues)
        worlds.add_row(f"[bold]{name}[/]\n{w.duration_ns / 1e9:,.0f} s · {w.n_agents:,} agents",
                       f"{w.description}\n[dim]{where}[/]")
    con.print(worlds)
    con.print("perpsim scenarios --agents lists the agent types and their parameters")
    return 0


def _check_bind(host: str, port: int) -> None:
    """Fail with a usage error naming the option when ``host:port`` cannot be bound."""
    import socket

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise UsageError(f"'--host' must be an address of this machine (got {host!r}: {exc})") from None
    family, _, _, _, addr = infos[0]
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(addr)
        except OSError as exc:
            raise UsageError(f"'--port' {port} cannot be bound on {host} "
                             f"({exc.strerror or exc})") from None


def _cmd_serve(args) -> int:
    """A Binance USDⓈ-M compatible server over a preset's venue, with funded accounts."""
    from exchange.server import MockBinance, serve

    from exchange.server.limits import RateLimits

    _check_bind(args.host, args.port)          # before the banner and the keys
    limits = None if args.no_rate_limits else RateLimits()
    marks = {}
    for item in args.mark:
        symbol, sep, price = item.partition("=")
        if not sep:
            raise UsageError(f"'--mark' must be SYMBOL=PRICE (got {item!r})")
        marks[symbol] = price
    if args.scenario and args.state:
        raise UsageError("'--state' serves a still venue: a scenario's agents are not journaled "
                         "(drop --scenario or --state)")
    if args.scenario:
        from exchange.server.scenario import ScenarioDriver

        driver = ScenarioDriver(args.scenario, args.seed, speed=args.speed,
                                overrides=_overrides(args.set))
        mock = driver.mock(rate_limits=limits)
        source = (f"scenario {driver.scenario.name} (seed {args.seed}, {args.speed:g}x: "
                  f"{driver.end_ns / 1e9:g} simulated s)")
    else:
        mock = MockBinance(args.preset, marks=marks, rate_limits=limits, state_dir=args.state,
                           fsync=args.fsync, snapshot_records=args.snapshot_every)
        source = f"preset {args.preset}"
        if args.state:
            source += (f", state {args.state} ({mock.journal.records} journaled commands "
                       f"restored)" if mock.restored else f", new state {args.state}")
    print(f"perpsim mock exchange, {source}, on http://{args.host}:{args.port} "
          f"(ws://{args.host}:{args.port}/ws/<stream>); symbols {', '.join(mock.venue.symbols)}")
    creds = []
    if getattr(mock, "restored", False):                 # the journal's accounts, as they were
        for cred in mock._keys.values():
            creds.append(cred)
            print(f"  account {cred.account}: apiKey={cred.api_key} secret={cred.secret} "
                  f"(restored{', read-only' if 'trade' not in cred.permissions else ''})")
    for n in range(0 if creds else args.accounts + args.read_only_accounts):
        read_only = n >= args.accounts
        cred = mock.add_account(deposit=args.deposit,
                                permissions=("read",) if read_only else ("read", "trade"))
        creds.append(cred)
        print(f"  account {cred.account}: apiKey={cred.api_key} secret={cred.secret} "
              f"(deposit {args.deposit} USDT{', read-only' if read_only else ''})")
    if args.freqtrade_config:
        import json

        from exchange.server.freqtrade import freqtrade_config

        if not creds:
            raise UsageError("'--freqtrade-config' needs an account (--accounts >= 1)")
        cfg = freqtrade_config(f"http://{args.host}:{args.port}", creds[0].api_key,
                               creds[0].secret, [f"{mock.venue.specs[0].base}/"
                                                 f"{mock.venue.specs[0].quote}:"
                                                 f"{mock.venue.specs[0].settle}"])
        with open(args.freqtrade_config, "w") as fh:
            json.dump(cfg, fh, indent=2)
        print(f"freqtrade config for account {creds[0].account}: {args.freqtrade_config}")
    print("ccxt: ccxt.binanceusdm(exchange.server.ccxt_config(BASE_URL, apiKey, secret)); Ctrl-C stops")
    sys.stdout.flush()
    serve(mock, host=args.host, port=args.port)
    return 0


def _cmd_presets(args) -> int:
    from rich.table import Table

    from exchange.presets import list_presets, load_preset

    table = Table(title="venue presets", show_lines=True)
    table.add_column("preset", no_wrap=True, min_width=24)
    table.add_column("rules", ratio=1, min_width=30, overflow="fold")
    for name in list_presets():
        p = load_preset(name)
        liq = p.liquidation
        fund = Decimal(liq.insurance_fund_atoms) / 10**p.venue.settle_decimals
        table.add_row(f"[bold]{name}[/]\n{p.venue.display_name}",
                      f"instruments {', '.join(p.symbols)}\nmark {p.venue.mark_method} · "
                      f"funding every {p.funding.pay_every_hours} h\n"
                      f"waterfall {' → '.join(liq.waterfall)}\n"
                      f"insurance fund {fund:,.0f} {p.venue.settle_asset}")
    _console().print(table)
    return 0


def _demo(args) -> int:
    """Drive the compiled matching engine with a synthetic order stream and print what it did."""
    import numpy as np
    from rich.table import Table

    import matching

    rng = np.random.default_rng(args.seed)
    n = args.n
    msgs = np.zeros(n, matching.MSG_DTYPE)
    kinds = rng.choice([0, 1, 2], size=n, p=[0.6, 0.3, 0.1]).astype(np.uint8)
    msgs["side"] = rng.integers(0, 2, n)
    msgs["qty"] = rng.geometric(0.35, n)
    msgs["oid"] = np.arange(1, n + 1)
    mid = 100_000 + np.cumsum(rng.choice([-1, 0, 0, 0, 1], n))
    off = np.rint(rng.normal(10, 8, n)).astype(np.int64)
    msgs["price"] = np.where(msgs["side"] == 0, mid - off, mid + off)
    # cancels name an earlier order id (it may have traded already: the book reports a reject)
    idx = np.flatnonzero(kinds == 1)
    msgs["oid"][idx] = np.maximum(1, (rng.random(idx.size) * idx).astype(np.int64))
    msgs["kind"] = kinds
    book = matching.Book()
    t0 = time.perf_counter()
    fills = book.process(msgs)
    dt = time.perf_counter() - t0
    rejects = book.drain_rejects()
    table = Table(title=f"perpsim matching engine demo ({n:,} messages, seed {args.seed})")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_row("engine", "compiled (Cython)" if matching.COMPILED else "pure-Python reference")
    table.add_row("fills", f"{len(fills):,}")
    table.add_row("lots traded", f"{int(fills['qty'].sum()):,}")
    table.add_row("rejected cancels (already traded)", f"{len(rejects):,}")
    table.add_row("resting orders", f"{len(book):,}")
    table.add_row("best bid / ask (ticks)", f"{book.best_bid()} / {book.best_ask()}")
    table.add_row("throughput", f"{n / dt / 1e6:.2f} M msgs/s")
    _console().print(table)
    return 0


# -- backtest ----------------------------------------------------------------------------------

#: statistics shown in the backtest table (all of them go to summary.json)
BACKTEST_COLUMNS = ("return", "sharpe", "sortino", "max_drawdown", "fees", "funding_paid",
                    "funding_received", "liquidations", "adl", "time_in_market", "mean_leverage")


def _backtest_params(items, labels) -> dict:
    """``KEY=VALUE`` (every strategy) or ``STRATEGY.KEY=VALUE`` (one) → {spec: {key: value}}."""
    from exchange.sim.scenario import parse_value

    out: dict = {lbl: {} for lbl in labels}
    for item in items or []:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise UsageError(f"'--strategy-param' must be written [STRATEGY.]key=value (got {item!r})")
        target, dot, name = key.rpartition(".")
        targets = [target] if dot else list(labels)
        for t in targets:
            if t not in out:
                raise UsageError(f"'--strategy-param' {item!r} names {t!r}, which is not one of "
                                 f"the strategies {list(labels)}")
            out[t][name if dot else key] = parse_value(value.strip())
    return out


def _cmd_backtest(args) -> int:
    import numpy as np
    from rich.table import Table

    from exchange.sim.backtest import backtest, write_report

    if (args.scenario is None) == (not args.data):
        raise UsageError("'backtest' needs exactly one of --scenario NAME or --data PATH...")
    if args.seeds < 1:
        raise UsageError(f"'--seeds' must be >= 1 (got {args.seeds})")
    params = _backtest_params(args.strategy_param, args.strategies)
    items = [(spec, params[spec]) for spec in args.strategies]
    if args.scenario is not None:
        source = Path(args.scenario).stem
    else:
        source = "data"
    out = _out_path(args.out, Path("perpsim-out") / f"backtest-{source}")
    n = len(items) * args.seeds
    with _progress("runs") as prog:
        task = prog.add_task(f"{len(items)} strategies × {args.seeds} seeds", total=n)
        t0 = time.perf_counter()
        res = backtest(items, scenario=args.scenario, data=args.data or None, preset=args.preset,
                       seeds=args.seeds, record_ms=args.record_ms, workers=args.workers,
                       progress=lambda f: prog.update(task, completed=round(f * n)))
        wall = time.perf_counter() - t0
    files = write_report(res, out)
    where = args.scenario if args.scenario else f"{len(args.data)} data file(s)"
    table = Table(title=f"perpsim backtest · {res['mode']} · {where} · {args.seeds} seed(s) "
                        f"(mean ± sd, [95% CI of the mean])")
    table.add_column("statistic", no_wrap=True)
    labels = list(res["strategies"])
    for lbl in labels:
        table.add_column(lbl, justify="right")
    for key in BACKTEST_COLUMNS:
        cells = []
        for lbl in labels:
            s = res["strategies"][lbl]["summary"][key]
            cell = _fmt(s["mean"])
            if s["n"] > 1:
                cell += f" ± {_fmt(s['std'])} [{_fmt(s['ci_low'])}, {_fmt(s['ci_high'])}]"
            cells.append(cell)
        table.add_row(key, *cells)
    con = _console()
    con.print(table)
    if res["mode"] == "replay":
        f = res["feed"]
        con.print(f"replayed {f['events']:,} recorded events · sources {f['sources']}")
        cmp = next(iter(res["strategies"].values()))["runs"][0]["comparison"]
        if cmp["mark_diff_bps_mean_abs"] is not None:
            con.print(f"venue mark vs recorded mark: mean |diff| {cmp['mark_diff_bps_mean_abs']:.2f} bps, "
                      f"max {cmp['mark_diff_bps_max_abs']:.2f} bps over {cmp['mark_samples']} samples")
        for fnd in cmp["funding"]:
            rec = "n/a" if fnd["recorded_rate"] is None else f"{fnd['recorded_rate']:.6%}"
            when = str(np.datetime64(int(fnd["ts_ns"]), "ns"))[:19].replace("T", " ")
            con.print(f"funding at {when} UTC: venue {fnd['venue_rate']:.6%} · recorded {rec}")
    con.print(f"{n} runs in {wall:.1f} s · summary {files['summary']} · report {files['report']}")
    return 0


# -- facts -------------------------------------------------------------------------------------

def _cmd_facts(args) -> int:
    import json

    from rich.table import Table

    from exchange.report import write_facts_report
    from exchange.sim.facts import facts_from_dir

    runs = []
    for d in args.run_dir:
        p = Path(d)
        if not p.is_dir():
            raise UsageError(f"'RUN_DIR' must be a run directory written by perpsim run "
                             f"(got {d!r}: not a directory)")
        f = facts_from_dir(p)
        runs.append((p.name, f))
    if args.json:
        print(json.dumps({lbl: f.values() for lbl, f in runs}, indent=1))
        return 0
    con = _console()
    for lbl, f in runs:
        table = Table(title=f"perpsim facts · {f.scenario} · {lbl}")
        table.add_column("measure", no_wrap=True)
        table.add_column("reading")
        for fact in f.items.values():
            table.add_row(fact.title, fact.reading)
        con.print(table)
    out = Path(args.out) if args.out else Path(args.run_dir[0]) / "facts.html"
    if not args.no_report:
        write_facts_report(runs, out, title=" vs ".join(lbl for lbl, _ in runs))
        con.print(f"figures and values in {out}")
    return 0


# -- journal ---------------------------------------------------------------------------------

def _cmd_journal(args) -> int:
    from rich.table import Table

    from exchange.export import write_human

    run_dir = Path(args.run_dir)
    if not (run_dir / "journal").is_dir() or not (run_dir / "metrics.json").is_file():
        raise UsageError(f"'RUN_DIR' must be a directory written by perpsim run, with journal/ "
                         f"and metrics.json (got {args.run_dir!r})")
    out = _out_path(args.out, run_dir / "human")
    files = write_human(run_dir, out, args.format)
    table = Table(title=f"perpsim journal · {run_dir} in human units ({args.format})")
    table.add_column("table", no_wrap=True)
    table.add_column("file", overflow="fold")
    for name, p in files.items():
        table.add_row(name, str(p))
    _console().print(table)
    return 0


# -- parser ------------------------------------------------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="perpsim", description="Perpetual-futures venue simulator: run market stress "
        "scenarios through different liquidation designs and compare them.",
        epilog="Start with: perpsim compare")
    sub = ap.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("run", help="one scenario run: summary table, journal and report",
                       description="Run one scenario with one seed; write the journal (Parquet, "
                       "one file per event type), the time series, metrics.json and report.html.")
    p.add_argument("scenario", help="built-in name (perpsim scenarios) or a TOML file")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--out", help="output directory (default perpsim-out/run-SCENARIO-seedN)")
    p.add_argument("--waterfall", help="liquidation waterfall instead of the scenario's, "
                   "e.g. \"market,insurance,adl\" or \"market,insurance,adl:pro_rata\" (module "
                   "options as in 'perpsim compare --help')")
    p.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="scenario override, e.g. --set population.makers.count=4 (repeatable)")
    p.add_argument("--no-report", action="store_true", help="skip report.html")
    p.add_argument("--strategy", metavar="FILE.py:CLASS",
                   help="run your exchange.sim.strategy.Strategy in the scenario (population "
                   "'strategy'): a file path or a dotted module, e.g. "
                   "examples/strategies.py:MarketMaker or mypkg.bots:Momentum")
    p.add_argument("--strategy-param", action="append", metavar="KEY=VALUE",
                   help="a parameter of the strategy (repeatable), e.g. --strategy-param "
                   "deposit=50000 --strategy-param leverage=20")
    _journal_options(p, "full")
    p.set_defaults(func=_cmd_run)

    p = sub.add_parser("compare", help="the same scenario and seeds through several waterfalls",
                       description="Run a scenario for each liquidation waterfall and seed; print "
                       "the side-by-side table (mean ± sd over seeds) and write compare.parquet "
                       "and report.html. With no options: the standard designs on the built-in "
                       "flash crash.")
    p.add_argument("scenario", nargs="?", default="flash_crash",
                   help="built-in name or TOML file (default flash_crash)")
    p.add_argument("--waterfalls", nargs="+", metavar="MODULES",
                   help="one or more waterfalls, each comma (or +) separated, several in one "
                   "argument separated by ';', e.g. \"market,insurance,adl\" "
                   "\"auction,insurance,socialized\" or \"market,insurance,adl:pro_rata;"
                   "market,insurance,adl:bitmex\". A module takes options after ':': "
                   "adl:POLICY (binance, bitmex, bybit, hyperliquid, random — the venue queues "
                   "—, pro_rata, risk_aware, leverage_drain) and adl:POLICY:price=PRICE "
                   "(bankruptcy, previous_mark, oracle); socialized:POLICY (profit_pro_rata, "
                   "position_pro_rata). Default: the four standard designs")
    p.add_argument("--seeds", type=int, default=2, help="seeds 0..K-1 per design (default 2)")
    p.add_argument("--workers", type=int, default=None, help="worker processes (default: CPUs)")
    p.add_argument("--out", help="output directory (default perpsim-out/compare-SCENARIO)")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="scenario override")
    p.add_argument("--no-report", action="store_true", help="skip report.html")
    p.add_argument("--strategy", metavar="FILE.py:CLASS",
                   help="add your exchange.sim.strategy.Strategy to the scenario (population "
                   "'strategy') and report its results, e.g. examples/strategies.py:MarketMaker")
    p.add_argument("--strategy-param", action="append", metavar="KEY=VALUE",
                   help="a parameter of the strategy (repeatable)")
    _journal_options(p, "none")
    p.set_defaults(func=_cmd_compare)

    p = sub.add_parser("sweep", help="cartesian product of parameter grids, in parallel",
                       description="Run every combination of the --grid values (× seeds) "
                       "through a process pool or a Dask cluster; one Parquet table of results.")
    p.add_argument("scenario", help="built-in name or TOML file")
    p.add_argument("--grid", action="append", metavar="KEY=V1,V2",
                   help="scenario key and values (repeatable), e.g. index.sigma=0.0001,0.0003, "
                   "venue.liquidation.insurance_fund=20000,200000, waterfall=market+insurance,"
                   "market+insurance+adl")
    p.add_argument("--seeds", type=int, default=1, help="seeds per grid point (default 1)")
    grp = p.add_mutually_exclusive_group()
    grp.add_argument("--workers", type=int, default=None, help="local worker processes")
    grp.add_argument("--scheduler", metavar="ADDRESS",
                     help="Dask scheduler address, e.g. tcp://127.0.0.1:8786")
    p.add_argument("--out", help="Parquet file or directory (default perpsim-out/sweep.parquet)")
    p.add_argument("--strategy", metavar="FILE.py:CLASS",
                   help="add your exchange.sim.strategy.Strategy to the scenario (population "
                   "'strategy') and report its results, e.g. examples/strategies.py:MarketMaker")
    p.add_argument("--strategy-param", action="append", metavar="KEY=VALUE",
                   help="a parameter of the strategy (repeatable)")
    _journal_options(p, "none")
    p.set_defaults(func=_cmd_sweep)

    p = sub.add_parser("backtest", help="strategies over seeds of a scenario or over recorded data",
                       description="Run each strategy (a built-in name: fixed_3x, fixed_5x, "
                       "fixed_10x, fixed_20x, vol_adjusted, vol_adjusted_atr, tiered, scaled, "
                       "grid, carry; or path/file.py:Class) on K seeds of a scenario, or on "
                       "recorded Tardis / Binance public-data files replayed through the venue; "
                       "print means and spreads with 95%% confidence intervals and write "
                       "summary.json, per-seed series and report.html (equity curves, leverage "
                       "over time).")
    p.add_argument("strategies", nargs="+", metavar="STRATEGY")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--scenario", metavar="NAME", help="built-in scenario or TOML file")
    src.add_argument("--data", nargs="+", metavar="PATH",
                     help="recorded files (.csv, .csv.gz, .zip; layout from the name and header, "
                     "or KIND:PATH, e.g. markPriceKlines:m.zip)")
    p.add_argument("--preset", default=None, help="venue preset (default: the scenario's; "
                   "binance_usdm for --data)")
    p.add_argument("--seeds", type=int, default=1, help="seeds 0..K-1 per strategy (default 1)")
    p.add_argument("--out", help="output directory (default perpsim-out/backtest-SOURCE)")
    p.add_argument("--record-ms", type=float, default=1000.0,
                   help="equity sampling step, ms (default 1000)")
    p.add_argument("--workers", type=int, default=None,
                   help="worker processes for the runs (default: run them in this process)")
    p.add_argument("--strategy-param", action="append", metavar="[STRATEGY.]KEY=VALUE",
                   help="a strategy parameter for every strategy or one (repeatable), e.g. "
                   "--strategy-param stop_loss_pct=2 --strategy-param tiered.calm_leverage=8")
    p.set_defaults(func=_cmd_backtest)

    p = sub.add_parser("calc", help="trader's calculator: liquidation/bankruptcy price, margins",
                       description="Margins, liquidation and bankruptcy prices, the largest "
                       "position for a leverage and the funding cost of holding it, from a preset.")
    p.add_argument("--preset", default="binance_usdm", help="venue preset (default binance_usdm)")
    p.add_argument("--symbol", help="instrument (default: the preset's first)")
    p.add_argument("--side", required=True, help="long or short")
    p.add_argument("--entry", required=True, help="entry price")
    p.add_argument("--qty", required=True, help="position size in base units")
    p.add_argument("--leverage", type=int, default=10, help="leverage (default 10)")
    p.add_argument("--wallet", help="margin backing the position (cross wallet); default: the "
                   "initial margin (isolated)")
    p.add_argument("--funding-rate", help="funding rate per payment as a fraction, e.g. 0.0001 "
                   "(default: the preset's interest rate)")
    p.add_argument("--hours", type=float, default=24.0, help="holding time for the funding cost, "
                   "hours >= 0 (default 24)")
    p.add_argument("--gap", metavar="PCT", help="does a price gap of PCT %% against the position "
                   "(from the entry, no trading in between) liquidate it on this venue? e.g. 10")
    p.set_defaults(func=_cmd_calc)

    p = sub.add_parser("scenarios", help="list the built-in scenarios",
                       description="List the built-in scenarios (or the agent types).")
    p.add_argument("--agents", action="store_true", help="list agent types and their parameters")
    p.set_defaults(func=_cmd_scenarios)

    p = sub.add_parser("presets", help="list the venue presets", description="List the venue presets.")
    p.set_defaults(func=_cmd_presets)

    p = sub.add_parser("serve", help="a Binance USDⓈ-M compatible REST + WebSocket mock exchange",
                       description="Serve a preset's venue through Binance USDⓈ-M's REST and "
                                   "WebSocket API, for unmodified clients (ccxt, bots).")
    p.add_argument("--preset", default="binance_usdm", help="venue preset (default binance_usdm)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8080)
    p.add_argument("--accounts", type=int, default=2, help="funded accounts to create (default 2)")
    p.add_argument("--deposit", default="100000", help="deposit of each account, USDT")
    p.add_argument("--mark", action="append", default=[], metavar="SYMBOL=PRICE",
                   help="initial mark price (repeatable), e.g. --mark BTCUSDT=50000")
    p.add_argument("--scenario", help="run this scenario behind the API in real time (its "
                   "agents trade, its oracle moves the mark, it liquidates) instead of a still "
                   "venue; --preset and --mark are then the scenario's")
    p.add_argument("--speed", type=float, default=1.0,
                   help="simulated seconds per wall second (default 1)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="scenario override")
    p.add_argument("--read-only-accounts", type=int, default=0,
                   help="funded accounts with read-only API keys to create (default 0)")
    p.add_argument("--no-rate-limits", action="store_true",
                   help="turn off Binance's request-weight and order-count limits")
    p.add_argument("--state", metavar="DIR",
                   help="keep the venue's state in DIR: every acknowledged command is journaled "
                        "(write-ahead) and replayed at the next start with the same DIR")
    p.add_argument("--fsync", choices=("always", "os"), default="always",
                   help="journal flush policy: fsync every record before answering (always, "
                        "default) or leave it to the OS (os: survives a killed server, not a "
                        "machine crash)")
    p.add_argument("--snapshot-every", type=int, default=10_000, metavar="N",
                   help="with --state: snapshot the state every N journaled commands (and 300 s)")
    p.add_argument("--freqtrade-config", metavar="FILE",
                   help="write a freqtrade config (JSON) for the first account to FILE")
    p.set_defaults(func=_cmd_serve)

    p = sub.add_parser("facts", help="stylized facts of runs: spread, depth, returns, basis, funding",
                       description="Measure the realism of one or more run directories (perpsim "
                       "run --out DIR): spread and depth, return kurtosis and autocorrelations at "
                       "1 s and 1 min, the basis and its half-life, funding against the premium, "
                       "trade sizes, order-to-trade ratio, a crash's depth collapse and recovery. "
                       "Prints one reading per measure and writes facts.html (figures; several "
                       "runs side by side, e.g. funding_peg with funding on and off).")
    p.add_argument("run_dir", nargs="+", metavar="RUN_DIR", help="a perpsim run output directory")
    p.add_argument("--out", help="HTML file (default RUN_DIR/facts.html of the first run)")
    p.add_argument("--json", action="store_true", help="print every value as JSON instead")
    p.add_argument("--no-report", action="store_true", help="skip facts.html")
    p.set_defaults(func=_cmd_facts)

    from exchange.sim.stress_cli import add_parser as add_stress
    add_stress(sub)

    for sp in sub.choices.values():
        sp.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help="show the full Python traceback of an error (also PERPSIM_DEBUG=1)")
    p = sub.add_parser("journal", help="a run's journal in human units (Parquet or CSV)",
                       description="Write the journal of a run directory (perpsim run --out DIR) "
                       "in human units: prices in the quote currency, quantities in base units, "
                       "money in the settlement asset, enums as names, null for 'none', booleans "
                       "as booleans; plus accounts (account → population, leverage, margin mode, "
                       "deposit). Parquet files carry perpsim.units (column → unit) in their "
                       "metadata; CSV files get units.json beside them.")
    p.add_argument("run_dir", metavar="RUN_DIR", help="a perpsim run output directory")
    p.add_argument("--format", choices=("parquet", "csv"), default="parquet",
                   help="file format (default parquet)")
    p.add_argument("--out", help="output directory (default RUN_DIR/human)")
    p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                   help="show the full Python traceback of an error (also PERPSIM_DEBUG=1)")
    p.set_defaults(func=_cmd_journal)

    p = sub.add_parser("demo", help="run the matching engine on a synthetic order stream",
                       description="Run the matching engine on a synthetic order stream.")
    p.add_argument("--n", type=int, default=500_000, help="messages (default 500,000)")
    p.add_argument("--seed", type=int, default=7)
    p.set_defaults(func=_demo)
    p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                   help="show the full Python traceback of an error (also PERPSIM_DEBUG=1)")
    ap.add_argument("--debug", action="store_true", help="show the full Python traceback of "
                    "an error (also PERPSIM_DEBUG=1)")
    return ap


def _user_frame(exc: BaseException):
    from exchange.cli_parts import user_frame

    return user_frame(exc)


def main(argv=None) -> int:
    """Run the command; bad input is one line on stderr and exit status 2
    (:data:`EXIT_USAGE`), an exception in the user's strategy names its type and its place
    in the user's file and exits 3 (:data:`EXIT_STRATEGY`), anything else exits 1. ``--debug``
    (or ``PERPSIM_DEBUG=1``) shows the full traceback instead."""
    args = build_parser().parse_args(argv)
    debug = bool(getattr(args, "debug", False) or os.environ.get("PERPSIM_DEBUG"))
    try:
        _check_options(args)
        return args.func(args)
    except KeyboardInterrupt:
        print("perpsim: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - bad input must never print a traceback
        if debug:
            raise
        from exchange.errors import ExchangeError

        where = _user_frame(exc) if getattr(args, "strategy", None) or \
            getattr(args, "strategies", None) else None
        if where is not None:
            file, line, func = where
            msg = " ".join(str(exc).split())
            try:
                file = os.path.relpath(file)
            except ValueError:
                pass
            print(f"perpsim: error in your strategy: {type(exc).__name__}: {msg} "
                  f"(at {file}:{line}, in {func}; --debug shows the traceback)", file=sys.stderr)
            return EXIT_STRATEGY
        usage = isinstance(exc, (ExchangeError, UsageError, ValueError, OSError))
        msg = str(exc) if usage else f"{type(exc).__name__}: {exc}"
        msg = " ".join(msg.split())
        hint = "" if usage else " (--debug shows the traceback)"
        print(f"perpsim: error: {msg}{hint}", file=sys.stderr)
        return EXIT_USAGE if usage else EXIT_FAILURE


if __name__ == "__main__":
    sys.exit(main())
