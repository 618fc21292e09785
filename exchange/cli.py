"""The ``perpsim`` command.

::

    perpsim compare                         # standard designs on the built-in flash crash
    perpsim compare flash_crash --waterfalls "market,insurance,adl" "auction,insurance,socialized" --seeds 3
    perpsim run flash_crash --seed 7 --out runs/fc7
    perpsim sweep flash_crash --grid venue.liquidation.insurance_fund=20000,200000 --seeds 2 --workers 2
    perpsim sweep calm --grid index.sigma=0.0001,0.0003 --scheduler tcp://10.0.0.5:8786
    perpsim calc --preset binance_usdm --symbol BTCUSDT --side long --entry 100000 --qty 0.5 --leverage 20
    perpsim backtest fixed_10x vol_adjusted tiered --scenario flash_crash --seeds 20
    perpsim backtest fixed_10x carry \
        --data binance-futures_incremental_book_L2_2024-01-01_BTCUSDT.csv.gz \
        binance-futures_trades_2024-01-01_BTCUSDT.csv.gz \
        binance-futures_derivative_ticker_2024-01-01_BTCUSDT.csv.gz
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
import os
import sys

from exchange.cli_common import (EXIT_FAILURE, EXIT_STRATEGY, EXIT_USAGE, UsageError,
                                 _check_options, _journal_options)
from exchange.cli_sim import _cmd_compare, _cmd_run, _cmd_sweep
from exchange.cli_tools import (_cmd_backtest, _cmd_calc, _cmd_facts, _cmd_journal, _cmd_presets,
                                _cmd_scenarios, _cmd_serve, _demo)

__all__ = ["main", "build_parser", "UsageError", "EXIT_USAGE", "EXIT_STRATEGY", "EXIT_FAILURE"]

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
    p.add_argument("--deposit", default="100000",
                   help="deposit of each account, in the preset's settle asset (USDT, USDC)")
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
    p.add_argument("--key-type", choices=("hmac", "ed25519"), default="hmac",
                   help="API key type of the accounts created: HMAC-SHA256 (default; the secret "
                        "is printed) or Ed25519 (Binance's recommended type; each private key is "
                        "written as PEM to --key-dir, its path printed: pass the file's text to "
                        "ccxt as the secret)")
    p.add_argument("--key-dir", default="perpsim-keys", metavar="DIR",
                   help="where --key-type ed25519 writes the private keys (default ./perpsim-keys; "
                        "the directory is made 0700, the files 0600)")
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
                       "metadata; CSV files get units.json beside them. A world's run "
                       "directory gets one directory per venue, each row in its own "
                       "instrument's units.")
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
