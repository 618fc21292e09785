"""Shared pieces of the ``perpsim`` command (:mod:`exchange.cli`): the usage error, console
and progress helpers, option checks, output paths, scenario warnings, run options."""
from __future__ import annotations

import math
import os
import sys
from decimal import Decimal, InvalidOperation
from pathlib import Path


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


def _dec(value: str, flag: str) -> Decimal:
    try:
        d = Decimal(value)
    except (InvalidOperation, TypeError):
        raise UsageError(f"'{flag}' must be a decimal number (got {value!r})") from None
    if not d.is_finite():
        raise UsageError(f"'{flag}' must be a finite number (got {value!r})")
    return d
