"""``perpsim run WORLD``: the command-line side of :mod:`exchange.sim.world`."""
from __future__ import annotations

import time
from pathlib import Path

__all__ = ["cmd_run_world"]


def cmd_run_world(args, con, fmt, progress_cm, out_path, overrides) -> int:
    """Run a world scenario for ``perpsim run`` and print its tables: per instrument, per
    venue, per portfolio population, and the cross-venue basis."""
    from rich.table import Table

    from exchange.catalogue import MARKET_KEYS, VENUE_KEYS
    from exchange.sim.world import load_world, run_world

    w = load_world(args.scenario)
    if overrides:
        w = w.with_overrides(overrides)
    if getattr(args, "strategy", None):
        from exchange.sim.strategy import strategy_overrides

        table = {}
        for key, val in strategy_overrides(args.strategy, args.strategy_param or (),
                                           "strategy").items():
            table[key[len("population.strategy."):]] = val
        table["type"] = "portfolio_strategy"
        w = w.with_overrides({"population.strategy": table})
    out = out_path(args.out, Path("perpsim-out") / f"run-{w.name}-seed{args.seed}")
    t0, dur = time.perf_counter(), w.duration_ns / 1e9
    with progress_cm(f"{w.name} seed {args.seed}", args.progress) as prog:
        task = prog.add_task(f"{w.name} seed {args.seed}", total=100)
        result = run_world(w, args.seed, args.waterfall, out, report=not args.no_report,
                           journal=args.journal or "full", progress=lambda f, n: prog.update(
                               task, completed=int(f * 100), description=f"{w.name} · "
                               f"{f * dur:,.0f}/{dur:,.0f} sim s · "
                               f"{n / max(time.perf_counter() - t0, 1e-9):,.0f} events/s"))
    for vname, per in result.markets.items():
        t = Table(title=f"perpsim run · {w.name} · seed {args.seed} · venue {vname} "
                        f"({result.venues[vname]['preset']}) · per instrument")
        t.add_column("metric", no_wrap=True)
        for sym in per:
            t.add_column(sym, justify="right", no_wrap=True)
        for key in MARKET_KEYS:
            t.add_row(key, *[fmt(per[s].get(key)) for s in per])
        con.print(t)
    t = Table(title="per venue (money of the venue: insurance, bad debt, ADL)")
    t.add_column("metric", no_wrap=True)
    for vname in result.venues:
        t.add_column(vname, justify="right", no_wrap=True)
    for key in ("waterfall",) + VENUE_KEYS:
        t.add_row(key, *[" → ".join(v[key]) if key == "waterfall" else fmt(v.get(key))
                         for v in result.venues.values()])
    con.print(t)
    if result.populations:
        cols = [(name, vname, r) for name, pop in result.populations.items()
                for vname, r in pop["venues"].items()]
        t = Table(title="portfolio populations (liquidated: accounts; worst leg: the leg "
                        "with the largest loss when the account was first triggered)")
        t.add_column("measure", no_wrap=True)
        for name, vname, _r in cols:
            t.add_column(f"{name}\n{vname}" if len(result.venues) > 1 else name, justify="right")

        def legs(r, key):
            return "\n".join(f"{s} {n}" for s, n in r.get(key, {}).items()) or "—"

        t.add_row("margin mode", *[str(r.get("margin_mode", "—")) for _n, _v, r in cols])
        t.add_row("accounts", *[fmt(r.get("accounts")) for _n, _v, r in cols])
        t.add_row("deposits", *[fmt(r.get("deposits")) for _n, _v, r in cols])
        t.add_row("pnl", *[fmt(r.get("pnl")) for _n, _v, r in cols])
        t.add_row("liquidated", *[fmt(r.get("liquidated_accounts")) for _n, _v, r in cols])
        t.add_row("worst leg", *[legs(r, "worst_leg") for _n, _v, r in cols])
        t.add_row("legs in liquidation", *[legs(r, "legs_in_liquidation") for _n, _v, r in cols])
        con.print(t)
    for asset, b in result.basis.items():
        con.print(f"{asset} basis {b['venues'][0]} − {b['venues'][1]} (marks): mean "
                  f"{fmt(b['mark_basis_mean_bp'])} bp, sd {fmt(b['mark_basis_sd_bp'])} bp, "
                  f"max {fmt(b['mark_basis_max_bp'])} bp, half-life "
                  f"{fmt(b['mark_basis_half_life_s'])} s; last prices: half-life "
                  f"{fmt(b['last_basis_half_life_s'])} s")
    con.print(f"{result.events:,} events in {result.wall_s:.2f} s "
              f"({result.events / max(result.wall_s, 1e-9):,.0f} events/s)")
    wrote = "journals, " if (args.journal or "full") != "none" else ""
    con.print(f"{wrote}series, metrics{', report' if not args.no_report else ''} in {out}/")
    return 0


def _world_job(job):
    """Worker: one (world, seed, waterfall, out_dir, journal) → the result without its
    series; with an ``out_dir`` the run's journals, series and metrics.json are written
    there."""
    from exchange.sim.world import run_world

    w, seed, wf, out_dir, journal = job
    r = run_world(w, seed, list(wf), out_dir, report=False, journal=journal)
    return dict(seed=seed, markets=r.markets, venues=r.venues, populations=r.populations,
                basis=r.basis, events=r.events, wall_s=r.wall_s)


def world_rows(runs: list[dict]) -> dict[str, float | None]:
    """The comparison rows of one design: per instrument bad debt, ADL, liquidations; per
    venue bad debt and insurance; per population PnL (means over seeds)."""
    import statistics

    keys: dict[str, list] = {}

    def put(k, v):
        keys.setdefault(k, []).append(v)

    for r in runs:
        for vname, per in r["markets"].items():
            for sym, m in per.items():
                put(f"{vname} {sym} liquidations", m["liquidations"])
                put(f"{vname} {sym} bad_debt", m["bad_debt"])
                put(f"{vname} {sym} adl_count", m["adl_count"])
            v = r["venues"][vname]
            for k in ("bad_debt", "insurance_end", "adl_haircut", "socialized_total"):
                put(f"{vname} {k}", v[k])
        for name, pop in r["populations"].items():
            for vname, x in pop["venues"].items():
                if "pnl" in x:
                    put(f"{name} pnl" + (f" ({vname})" if len(pop["venues"]) > 1 else ""),
                        x["pnl"])
                if "liquidated_accounts" in x:
                    put(f"{name} liquidated", x["liquidated_accounts"])
    out: dict[str, float | None] = {}
    for k, v in keys.items():
        m = statistics.fmean(v) if all(x is not None for x in v) else None
        out[k] = int(m) if isinstance(m, float) and m.is_integer() else m
    return out


def cmd_compare_world(args, con, fmt, progress_cm, out_path, overrides, wfs) -> int:
    """``perpsim compare WORLD``: every waterfall of ``wfs`` on every venue of the world,
    the same seeds; per-instrument and total bad debt, ADL across instruments, and how the
    portfolio populations (cross against isolated) fare in each design."""
    import copy
    import json
    import os
    from concurrent.futures import ProcessPoolExecutor

    from rich.table import Table

    from exchange.sim.compare import split_waterfall
    from exchange.sim.world import load_world, parse_world

    w = load_world(args.scenario)
    if overrides:
        w = w.with_overrides(overrides)
    out = out_path(args.out, Path("perpsim-out") / f"compare-{w.name}")
    jobs, labels = [], []
    for spec in wfs:
        names, wf_ov = split_waterfall(spec)
        data = copy.deepcopy(w.data)
        for vt in data["venues"].values():
            venue = vt.setdefault("venue", {})
            venue.pop("liquidation.waterfall", None)
            for k, v in wf_ov.items():
                venue[k.removeprefix("venue.")] = v
        wd = parse_world(data, w.source, w.path)
        label = ",".join(spec)
        labels.append(label)
        # --journal full/events: each run's journals, series and metrics.json in
        # runs/<design>-seed<s>/, as perpsim compare writes them for a single venue
        journal = args.journal or "none"
        jobs += [(wd, seed, names,
                  out / "runs" / f"{'+'.join(names)}-seed{seed}" if journal != "none"
                  else None, journal if journal != "none" else "full")
                 for seed in range(args.seeds)]
    workers = max(1, min(len(jobs), args.workers or os.cpu_count() or 1))
    t0 = time.perf_counter()
    runs: list[dict] = []
    with progress_cm("runs", args.progress) as prog:
        task = prog.add_task(f"{w.name}: {len(wfs)} designs × {args.seeds} seeds",
                             total=len(jobs))
        if workers == 1:
            for j in jobs:
                runs.append(_world_job(j))
                prog.update(task, completed=len(runs))
        else:
            with ProcessPoolExecutor(workers) as pool:
                for r in pool.map(_world_job, jobs):
                    runs.append(r)
                    prog.update(task, completed=len(runs))
    per = {lbl: world_rows(runs[i * args.seeds:(i + 1) * args.seeds])
           for i, lbl in enumerate(labels)}
    keys = list(dict.fromkeys(k for rows in per.values() for k in rows))
    t = Table(title=f"perpsim compare · {w.name} · seeds 0..{args.seeds - 1} (means)")
    t.add_column("metric", no_wrap=True)
    for lbl in labels:
        t.add_column(" → ".join(lbl.split(",")), justify="right")
    for k in keys:
        t.add_row(k, *[fmt(per[lbl].get(k)) for lbl in labels])
    con.print(t)
    out.mkdir(parents=True, exist_ok=True)
    (out / "compare.json").write_text(json.dumps(
        {"world": w.name, "seeds": list(range(args.seeds)), "designs": labels, "means": per,
         "runs": [dict(design=labels[i // args.seeds], **r) for i, r in enumerate(runs)]},
        indent=1, default=str))
    con.print(f"{len(jobs)} runs in {time.perf_counter() - t0:.1f} s · table "
              f"{out / 'compare.json'}"
              + (f" · journals in {out / 'runs'}/" if (args.journal or "none") != "none" else ""))
    return 0
