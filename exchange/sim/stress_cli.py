"""``perpsim stress``: the command-line side of :mod:`exchange.sim.stress`."""
from __future__ import annotations

import json
from pathlib import Path

__all__ = ["add_parser", "cmd_stress"]


def _floats(text: str, option: str) -> tuple[float, ...]:
    from exchange.errors import ConfigError

    try:
        vals = tuple(float(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise ConfigError(f"'{option}' must be comma-separated numbers (got {text!r})") from None
    return vals


def add_parser(sub) -> None:
    """Register ``stress`` on the ``perpsim`` sub-parsers."""
    p = sub.add_parser(
        "stress", help="reverse stress test of a position: gaps, funding at its cap, makers "
        "leaving, oracle lag and outage, over many seeds",
        description="Run a position through a battery of shocks on a venue preset's mechanics "
        "(tiers, mark, funding, liquidation waterfall), with the market reacting, over many "
        "seeds, in cross and isolated margin. Prints per shock: probability of liquidation, "
        "expected and worst loss, time to liquidation, funding paid, and the margin buffer "
        "needed to survive at 95 %% and 99 %%; writes stress.json and report.html.")
    p.add_argument("portfolio", nargs="?", help="a portfolio TOML ([portfolio] preset, "
                   "wallet, margin_mode; one [[position]] symbol, side, qty, leverage); "
                   "or give the position with the options below")
    p.add_argument("--preset", default=None, help="venue preset (default binance_usdm)")
    p.add_argument("--symbol", default=None, help="instrument (default: the preset's first)")
    p.add_argument("--side", default=None, choices=("long", "short"), help="default long")
    p.add_argument("--qty", default=None, help="position size in base units (default 1)")
    p.add_argument("--leverage", default=None, type=int, help="default 10")
    p.add_argument("--wallet", default=None, help="account wallet, settlement asset "
                   "(default 20000)")
    p.add_argument("--margin-mode", default=None, choices=("cross", "isolated", "both"),
                   help="default both: cross and isolated side by side")
    p.add_argument("--price", default=None, help="index start price (required for "
                   "instruments other than BTC)")
    p.add_argument("--seeds", type=int, default=None, help="seeds 0..K-1 (default 8; 4 for a "
                   "book of several positions, which runs one market per leg)")
    p.add_argument("--gaps", default="5,10,20", help="index gaps against the position, %% "
                   "(default 5,10,20)")
    p.add_argument("--funding-hours", type=float, default=8.0,
                   help="funding flipped against the position at the preset's cap for this "
                   "many hours (default 8; 0 skips it). A long run: see --funding-seeds")
    p.add_argument("--funding-rate", type=float, default=None,
                   help="the flipped funding rate per settlement, a fraction (default: the "
                   "preset's cap)")
    p.add_argument("--funding-seeds", type=int, default=1,
                   help="seeds of the long funding run (default 1)")
    p.add_argument("--vacate-minutes", type=float, default=5.0,
                   help="every maker withdraws this long during a gap (default 5; 0 skips)")
    p.add_argument("--lag-minutes", type=float, default=5.0,
                   help="the oracle lags this long during a gap (default 5; 0 skips)")
    p.add_argument("--outage-minutes", type=float, default=5.0,
                   help="the oracle is dark this long during a gap (default 5; 0 skips)")
    p.add_argument("--thin-minutes", type=float, default=5.0,
                   help="half the makers withdraw this long during a gap (default 5; 0 skips)")
    p.add_argument("--workers", type=int, default=None, help="worker processes (default: CPUs)")
    p.add_argument("--out", help="output directory (default perpsim-out/stress)")
    p.add_argument("--json", action="store_true", help="print the rows as JSON")
    p.add_argument("--no-report", action="store_true", help="skip report.html")
    p.set_defaults(func=cmd_stress)


def cmd_stress(args) -> int:
    from rich.console import Console

    from exchange.cli_common import UsageError, _progress
    from exchange.sim.stress import Portfolio, default_battery, load_portfolio, run_stress

    given = {k: getattr(args, k) for k in ("preset", "symbol", "side", "qty", "leverage",
                                            "wallet", "margin_mode", "price")
             if getattr(args, k) is not None}
    if args.portfolio:
        if given:
            raise UsageError(f"give the position either as a portfolio file or as options, "
                             f"not both (got {args.portfolio!r} and --"
                             f"{sorted(given)[0].replace('_', '-')})")
        portfolio = load_portfolio(args.portfolio)
    else:
        portfolio = Portfolio.build(source="perpsim stress", **given)
    if args.seeds is None:
        args.seeds = 4 if hasattr(portfolio, "positions") else 8
    if args.seeds < 1:
        raise UsageError(f"'--seeds' must be >= 1 (got {args.seeds})")
    if args.workers is not None and args.workers < 1:
        raise UsageError(f"'--workers' must be >= 1 (got {args.workers})")
    for opt in ("funding_hours", "vacate_minutes", "lag_minutes", "outage_minutes",
                "thin_minutes"):
        if getattr(args, opt) < 0:
            raise UsageError(f"'--{opt.replace('_', '-')}' must be >= 0 (got "
                             f"{getattr(args, opt)})")
    if args.funding_seeds < 1:
        raise UsageError(f"'--funding-seeds' must be >= 1 (got {args.funding_seeds})")
    out = Path(args.out) if args.out else Path("perpsim-out") / "stress"
    if out.exists() and not out.is_dir():
        raise UsageError(f"'--out' must be a directory (got {str(out)!r}: a file)")
    battery = default_battery(portfolio, gaps=_floats(args.gaps, "--gaps"),
                              funding_hours=args.funding_hours,
                              funding_rate=args.funding_rate, funding_seeds=args.funding_seeds,
                              vacate_minutes=args.vacate_minutes, lag_minutes=args.lag_minutes,
                              outage_minutes=args.outage_minutes,
                              thin_minutes=args.thin_minutes)
    with _progress("runs") as prog:
        task = prog.add_task(f"stress: {len(battery)} shocks × {args.seeds} seeds", total=None)
        res = run_stress(portfolio, range(args.seeds), battery=battery, workers=args.workers,
                         progress=lambda done, total: prog.update(task, completed=done,
                                                                  total=total))
    if args.json:
        print(json.dumps(res.rows(), indent=1))
        return 0
    con = Console()
    con.print(res.table())
    files = {}
    if not args.no_report:
        files = res.write(out)
    con.print(f"{len(res.runs)} runs in {res.wall_s:.1f} s"
              + (f" · report {files['report']}" if files else ""))
    return 0
