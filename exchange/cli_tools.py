"""The other ``perpsim`` commands: ``calc``, ``scenarios``, ``serve``, ``presets``, ``demo``,
``backtest``, ``facts``, ``journal`` (:mod:`exchange.cli` builds the parser)."""
from __future__ import annotations

import sys
import time
from decimal import Decimal
from pathlib import Path
from exchange.cli_common import (UsageError, _console, _fmt, _out_path, _overrides, _progress)

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


def _write_private_key(key_dir: str, cred) -> str:
    """Write an Ed25519 account's PEM private key to ``key_dir/<apiKey>.pem`` (directory 0700,
    file 0600); returns the path."""
    import os

    os.makedirs(key_dir, mode=0o700, exist_ok=True)
    path = os.path.join(key_dir, f"{cred.api_key}.pem")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(cred.secret)
    return path


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

    def show(cred, note: str) -> None:
        if 'trade' not in cred.permissions:
            note += ", read-only"
        if getattr(cred, "key_type", "HMAC_SHA256") == "HMAC_SHA256":
            print(f"  account {cred.account}: apiKey={cred.api_key} secret={cred.secret} ({note})")
        elif cred.secret:                   # Ed25519: the PEM private key in a file of its own
            path = _write_private_key(args.key_dir, cred)
            print(f"  account {cred.account}: apiKey={cred.api_key} privateKey={path} "
                  f"({note}, Ed25519)")
        else:                               # a registered public key: the private half is the user's
            print(f"  account {cred.account}: apiKey={cred.api_key} ({note}, Ed25519, your key)")

    if getattr(mock, "restored", False):                 # the journal's accounts, as they were
        for cred in mock._keys.values():
            creds.append(cred)
            show(cred, "restored")
    for n in range(0 if creds else args.accounts + args.read_only_accounts):
        read_only = n >= args.accounts
        cred = mock.add_account(deposit=args.deposit,
                                permissions=("read",) if read_only else ("read", "trade"),
                                key_type="ED25519" if args.key_type == "ed25519" else "HMAC_SHA256")
        creds.append(cred)
        show(cred, f"deposit {args.deposit} {mock.settle_asset}")
    if args.freqtrade_config:
        import json

        from exchange.server.freqtrade import freqtrade_config

        if not creds:
            raise UsageError("'--freqtrade-config' needs an account (--accounts >= 1)")
        cfg = freqtrade_config(f"http://{args.host}:{args.port}", creds[0].api_key,
                               creds[0].secret, [f"{mock.venue.specs[0].base}/"   # as ccxt
                                                 f"{mock.venue.specs[0].settle}:"  # names the
                                                 f"{mock.venue.specs[0].settle}"])  # market
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
    kinds = rng.choice([matching.ADD, matching.CANCEL, matching.MARKET], size=n,
                       p=[0.6, 0.3, 0.1]).astype(np.uint8)
    msgs["side"] = rng.integers(0, 2, n)
    msgs["qty"] = rng.geometric(0.35, n)
    msgs["oid"] = np.arange(1, n + 1)
    mid = 100_000 + np.cumsum(rng.choice([-1, 0, 0, 0, 1], n))
    off = np.rint(rng.normal(10, 8, n)).astype(np.int64)
    msgs["price"] = np.where(msgs["side"] == 0, mid - off, mid + off)
    # cancels name an earlier order id (it may have traded already: the book reports a reject)
    idx = np.flatnonzero(kinds == matching.CANCEL)
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

    from exchange.export import is_world_run, write_human

    run_dir = Path(args.run_dir)
    if is_world_run(run_dir):
        if not any(run_dir.glob("journal-*/")):
            raise UsageError(f"'RUN_DIR' holds no venue journal (got {args.run_dir!r}: no "
                             f"journal-<venue>/; run the world with --journal full or events)")
    elif not (run_dir / "journal").is_dir() or not (run_dir / "metrics.json").is_file():
        raise UsageError(f"'RUN_DIR' must be a directory written by perpsim run, with journal/ "
                         f"and metrics.json, or by perpsim run WORLD, with venues.json "
                         f"(got {args.run_dir!r})")
    out = _out_path(args.out, run_dir / "human")
    files = write_human(run_dir, out, args.format)
    table = Table(title=f"perpsim journal · {run_dir} in human units ({args.format})")
    table.add_column("table", no_wrap=True)
    table.add_column("file", overflow="fold")
    for name, p in files.items():
        table.add_row(name, str(p))
    _console().print(table)
    return 0
