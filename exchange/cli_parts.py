"""Parts of the ``perpsim`` command kept out of :mod:`exchange.cli` for size: the trader's
calculator (``perpsim calc``) and the locating of an exception in the user's strategy file."""
from __future__ import annotations

import math
import os
from decimal import Decimal
from pathlib import Path

from exchange.cli_common import UsageError, _console, _console_err, _dec
from exchange.units import RATE_SCALE

__all__ = ["cmd_calc", "user_frame"]


def cmd_calc(args) -> int:
    """``perpsim calc``: margins, liquidation and bankruptcy prices, warnings, a gap's effect."""
    from rich.table import Table

    from exchange.margin import (bankruptcy_price_ticks, binance_liquidation_price_ticks,
                                 entry_basis_liquidation_price_ticks, max_position_lots)
    from exchange.presets import load_preset

    preset = load_preset(args.preset)
    symbol = args.symbol or preset.symbols[0]
    spec = preset.instrument(symbol)
    side = args.side.lower()
    if side not in ("long", "short", "buy", "sell"):
        raise UsageError(f"'--side' must be long or short (got {args.side!r})")
    sign = 1 if side in ("long", "buy") else -1
    entry, qty = _dec(args.entry, "--entry"), _dec(args.qty, "--qty")
    if entry <= 0 or qty <= 0:
        raise UsageError(f"'--entry' and '--qty' must be > 0 (got {args.entry}, {args.qty})")
    lev = args.leverage
    max_lev = spec.tiers[0].max_leverage
    if not 1 <= lev <= max_lev:
        raise UsageError(f"'--leverage' must be in [1, {max_lev}] for {symbol} on {preset.name} (got {lev})")
    entry_ticks = int((entry / spec.tick_size).to_integral_value())
    lots = int((qty / spec.lot_size).to_integral_value())
    if lots <= 0:
        raise UsageError(f"'--qty' must be at least one lot ({spec.lot_size}) (got {args.qty})")
    k = spec.atoms_per_tick_lot
    unit = Decimal(10) ** -spec.settle_decimals
    notional = lots * entry_ticks * k
    im = -(-notional // lev)
    mm = spec.maintenance_margin_atoms(notional)
    tier = spec.tier_for(notional)
    wallet = spec.amount_to_atoms(_dec(args.wallet, "--wallet")) if args.wallet else im
    size = sign * lots
    cost = size * entry_ticks * k
    # the venue's own formula: maintenance on the mark value (Binance, HL, ...) or on the entry
    # value (Bybit)
    solve = (entry_basis_liquidation_price_ticks if spec.maintenance_basis == "entry"
             else binance_liquidation_price_ticks)
    lp = solve(wallet_atoms=wallet, size_lots=size, entry_cost_atoms=cost, tiers=spec.tiers,
               atoms_per_tick_lot=k)
    bp = bankruptcy_price_ticks(size_lots=size, entry_cost_atoms=cost, margin_atoms=wallet,
                                atoms_per_tick_lot=k)
    maxq = max_position_lots(price_ticks=entry_ticks, leverage=lev, tiers=spec.tiers,
                             atoms_per_tick_lot=k,
                             max_position_notional_atoms=spec.max_position_notional_atoms)
    f = preset.funding
    if args.funding_rate is not None:
        rate = _dec(args.funding_rate, "--funding-rate")
        rate_note = "given"
    else:
        rate = Decimal(f.interest_rate) / Decimal(RATE_SCALE) * f.pay_every_hours / f.interval_hours
        rate_note = "interest-only (premium 0)"
    if not math.isfinite(args.hours) or args.hours < 0:
        raise UsageError(f"'--hours' must be a finite number >= 0 (got {args.hours:g})")
    payments = Decimal(args.hours) / f.pay_every_hours
    funding = Decimal(notional) * unit * rate * payments * sign
    asset = spec.settle

    def money(atoms) -> str:
        return f"{Decimal(atoms) * unit:,.2f} {asset}"

    def price(ticks) -> str:
        return "— (none)" if ticks is None or ticks <= 0 else f"{spec.ticks_to_price(ticks):,}"

    warnings = []
    if maxq is not None and lots > maxq:
        warnings.append(
            f"the position ({qty} {spec.base}, {money(notional)}) is above the largest the venue "
            f"allows at {lev}x ({spec.lots_to_qty(maxq)} {spec.base}): it would be rejected. Its "
            f"notional falls in the margin tier that allows at most {tier.max_leverage}x "
            f"(maintenance {Decimal(tier.mmr) / 10**6:f} %): the table describes a position the "
            f"venue would not open")
    # equity at the entry price (the mark at entry) is the margin backing the position
    if wallet <= mm:
        warnings.append(
            f"already liquidatable at the entry price: the margin backing it ({money(wallet)}) "
            f"is not above the maintenance margin ({money(mm)})"
            + ("" if args.wallet else " — the initial margin at this leverage does not cover "
               "this tier's maintenance"))
    dist = None
    if lp is not None and lp > 0:
        dist = (Decimal(lp) - entry_ticks) / entry_ticks * 100
    elif sign > 0:
        dist = Decimal(-100)             # a long with no liquidation price: the price would go to 0
    table = Table(title=f"perpsim calc · {preset.venue.display_name} · {symbol} · "
                        f"{'long' if sign > 0 else 'short'} {qty} @ {entry} · {lev}x")
    table.add_column("quantity")
    table.add_column("value", justify="right")
    table.add_column("how", style="dim")
    table.add_row("notional", money(notional), "qty × entry")
    table.add_row("initial margin", money(im), f"notional / {lev}")
    table.add_row("maintenance margin", money(mm),
                  f"notional × {Decimal(tier.mmr) / 10**6:f} % − {money(tier.maintenance_amount_atoms)} (tier up to {tier.max_leverage}x)")  # noqa: E501
    table.add_row("margin backing the position", money(wallet),
                  "--wallet (cross) or the initial margin (isolated)")
    table.add_row("liquidation price", price(lp), "equity = maintenance margin (tiered formula)")
    table.add_row("distance to liquidation",
                  "— (none)" if dist is None else f"{dist:+.2f} %",
                  "liquidation price vs entry" + (" (already liquidatable)" if wallet <= mm else ""))
    table.add_row("bankruptcy price", price(bp), "equity = 0")
    table.add_row(f"max position at {lev}x", "unlimited" if maxq is None else f"{spec.lots_to_qty(maxq)} {spec.base}",
                  "venue margin tiers" + (" — EXCEEDED" if maxq is not None and lots > maxq else ""))
    table.add_row(f"funding rate per {f.pay_every_hours} h", f"{rate * 100:.4f} %", rate_note)
    table.add_row(f"funding over {args.hours:g} h", f"{funding:,.2f} {asset}",
                  f"{payments:g} payments; > 0 = you pay")
    if args.gap is not None:
        gap = _dec(args.gap, "--gap")
        if not 0 < gap < 100:
            raise UsageError(f"'--gap' must be a percentage in (0, 100) (got {args.gap})")
        gap_ticks = int((entry_ticks * (1 - sign * gap / 100)).to_integral_value())
        equity = wallet + size * (gap_ticks - entry_ticks) * k
        basis = entry_ticks if spec.maintenance_basis == "entry" else gap_ticks
        mm_gap = spec.maintenance_margin_atoms(lots * basis * k)
        hit = equity <= mm_gap
        verdict = "LIQUIDATED" if hit else "not liquidated"
        if equity < 0:
            verdict += f", {money(-equity)} below bankruptcy (the venue's fund or ADL covers it)"
        table.add_row(f"gap of {gap} % against you", f"{price(gap_ticks)}: {verdict}",
                      f"equity {money(equity)} vs maintenance {money(mm_gap)} at that price")
    _console().print(table)
    err = _console_err()
    for w in warnings:
        err.print(f"[bold red]perpsim: warning:[/] {w}", highlight=False, soft_wrap=True)
    return 0


def user_frame(exc: BaseException) -> tuple[str, int, str] | None:
    """The innermost frame of ``exc``'s traceback in the user's code (not perpsim, not Python's
    library, not an installed package): (file, line, function), or None. A process pool's
    remote traceback (``__cause__`` text) is read too."""
    import re
    import sysconfig
    import traceback

    pkg = str(Path(__file__).resolve().parent)
    libs = {str(Path(p).resolve()) for p in (sysconfig.get_paths().get("stdlib"),
                                             sysconfig.get_paths().get("platstdlib"),
                                             sysconfig.get_paths().get("purelib"),
                                             sysconfig.get_paths().get("platlib")) if p}

    def is_user(filename: str) -> bool:
        if filename.startswith("<"):
            return False
        f = str(Path(filename).resolve())
        if f.startswith(pkg + os.sep) or "site-packages" in f or "dist-packages" in f:
            return False
        return not any(f.startswith(lib + os.sep) for lib in libs)

    frames = [(fs.filename, fs.lineno, fs.name) for fs in traceback.extract_tb(exc.__traceback__)]
    cause = exc.__cause__
    if cause is not None and type(cause).__name__ == "_RemoteTraceback":
        frames += [(f, int(n), fn) for f, n, fn in
                   re.findall(r'File "([^"]+)", line (\d+), in (\S+)', str(cause))]
    user = [f for f in frames if is_user(f[0])]
    return user[-1] if user else None
