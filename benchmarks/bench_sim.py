"""Simulation benchmark: the built-in flash crash with 10,000 agents for one simulated hour.

    python benchmarks/bench_sim.py [--json] [--agents 10000] [--seconds 3600] [--seed 0]
                                   [--margin-mode isolated|cross] [--journal none|events|full]
                                   [--instruments 3 --venues 2]

The population keeps the flash crash's mix, scaled to ``--agents``: 40 market makers
requoting six levels a side every 100 ms, 20 keepers, 40 funding arbitrageurs, 44 % noise
traders (2 orders a minute each), the rest leveraged directional traders; the index slides
7 % from 6 minutes and 5 % more from 7 minutes with half the makers withdrawing. Everything runs: oracle, Binance mark,
funding, the liquidation engine, the order gateway, the agents.

Measured: ``events_per_s`` = journal events (every venue event: orders, fills, cancels,
marks, liquidation events, funding payments) / wall time of the run, and
``sim_seconds_per_wall_second``. The run must end with the venue's invariants intact
(conservation of money, positions net to zero, books sound) and with liquidations, or the
script fails (saying why on stderr): a fast wrong answer cannot pass. Target: >= 500,000
events/s. The index starts to slide at 6 minutes, so shorter runs have no liquidations.

``peak_rss_mb``: the process's peak resident set from the OS (``getrusage`` ru_maxrss), not
an estimate. The journal is streamed (``--journal``, default ``none``: hashed and summarised,
no files; ``events``/``full`` write them under a temporary directory), so memory follows the
live state: accounts, resting orders, the book. ``--margin-mode`` sets the directional
traders' margin mode (default ``isolated``, as in the earlier figures; the
scenario itself gives them ``cross``). ``--instruments 3 --venues 2`` runs
:mod:`bench_world` instead (``--agents`` shared over its six markets): three instruments on
two venues against the one-instrument run, in the same process.
"""
from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from exchange.sim.runner import Simulation  # noqa: E402
from exchange.sim.scenario import load_scenario  # noqa: E402


def peak_rss_mb() -> float:
    """The process's peak resident set size so far, MiB, from the OS (ru_maxrss: KiB on
    Linux, bytes on macOS)."""
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / (1024 * 1024 if sys.platform == "darwin" else 1024)


def _progress_lines(seconds: float, t0: float):
    """A ``progress(fraction, events)`` callable printing one line to stderr per call."""
    def show(f: float, events: int) -> None:
        wall = time.perf_counter() - t0
        print(f"{f * seconds:>10,.0f}/{seconds:,.0f} sim s  {events:>14,} events  "
              f"{events / max(wall, 1e-9):>10,.0f} events/s  wall {wall:8.1f} s  peak RSS "
              f"{peak_rss_mb():7.1f} MiB", file=sys.stderr, flush=True)
    return show


def bench_scenario(agents: int = 10_000, seconds: float = 3600.0, margin_mode: str = "isolated"):
    """The flash crash scaled to ``agents`` accounts and ``seconds`` of simulated time, the
    directional traders on ``margin_mode``."""
    makers, keepers, arbs = 40, 20, 40
    noise = int(agents * 0.44)
    directional = agents - makers - keepers - arbs - noise
    if directional <= 0:
        raise SystemExit(f"--agents must be > {makers + keepers + arbs} (got {agents})")
    return load_scenario("flash_crash").with_overrides({
        "scenario.duration_s": seconds,
        "scenario.step_ms": 5000,
        "population.makers.count": makers,
        "population.makers.requote_ms": 100,
        "population.keeper.count": keepers,
        "population.arbitrageur.count": arbs,
        "population.noise.count": noise,
        "population.noise.rate_per_min": 2.0,
        "population.directional.count": directional,
        "population.directional.margin_mode": margin_mode,
    })


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true", help="print one JSON line")
    ap.add_argument("--agents", type=int, default=10_000)
    ap.add_argument("--seconds", type=float, default=3600.0, help="simulated seconds")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--margin-mode", choices=("isolated", "cross"), default="isolated",
                    help="margin mode of the directional traders")
    ap.add_argument("--journal", choices=("none", "events", "full"), default="none",
                    help="journal files streamed to a temporary directory (default none)")
    ap.add_argument("--progress", action="store_true",
                    help="a line on stderr every 1%% of simulated time: events, events/s, RSS")
    ap.add_argument("--instruments", type=int, default=1, choices=(1, 3),
                    help="3: three instruments on two venues against the one-instrument run "
                    "in the same process (benchmarks/bench_world.py)")
    ap.add_argument("--venues", type=int, default=1, choices=(1, 2),
                    help="2: with --instruments 3, see above")
    args = ap.parse_args(argv)
    if args.instruments > 1 or args.venues > 1:
        if (args.instruments, args.venues) != (3, 2):
            raise SystemExit("--instruments 3 and --venues 2 go together (3 instruments on "
                             "2 venues against one instrument)")
        import bench_world

        return bench_world.main(([] if not args.json else ["--json"]) + [
            "--agents-per-market", str(max(200, args.agents // 6)),
            "--seconds", str(max(args.seconds, 700.0)), "--seed", str(args.seed)])
    warnings.simplefilter("ignore", RuntimeWarning)
    sc = bench_scenario(args.agents, args.seconds, args.margin_mode)
    with tempfile.TemporaryDirectory(prefix="bench_sim_") as tmp:
        sim = Simulation(sc, args.seed, check="end", journal=args.journal,
                         journal_dir=Path(tmp) / "journal")
        t0 = time.perf_counter()
        cpu0 = time.process_time()
        sim.run(_progress_lines(args.seconds, t0) if args.progress else None)
        sim.finish_journal()
        wall = time.perf_counter() - t0
        cpu = time.process_time() - cpu0
    events = sim.summary.events
    liquidations = int((sim.summary.rare()["kind"] == 100).sum())
    conservation_ok = sim.core.conservation_gap() == 0
    out = {
        "agents": sc.n_agents,
        "sim_seconds": args.seconds,
        "margin_mode": args.margin_mode,
        "events": events,
        "wall_s": round(wall, 3),
        "cpu_s": round(cpu, 3),
        "events_per_s": round(events / wall),
        "events_per_cpu_s": round(events / cpu),
        "sim_seconds_per_wall_second": round(args.seconds / wall, 2),
        "orders": sim.gateway.submitted,
        "cancels": sim.gateway.canceled,
        "liquidation_triggers": liquidations,
        "conservation_ok": conservation_ok,
        "invariants_ok": True,          # Simulation.run(check="end") raised otherwise
        "peak_rss_mb": round(peak_rss_mb(), 1),
    }
    ok = conservation_ok and liquidations > 0
    if args.json:
        print(json.dumps(out))
    else:
        print(f"{out['agents']:,} agents, {args.seconds:,.0f} simulated s, {events:,} events")
        print(f"wall {wall:.2f} s (cpu {cpu:.2f} s): {out['events_per_s']:,} events/s "
              f"(target >= 500,000), {out['sim_seconds_per_wall_second']:,} sim s per wall s")
        print(f"orders {out['orders']:,}  cancels {out['cancels']:,}  liquidation triggers "
              f"{liquidations:,}  conservation ok {conservation_ok}  peak RSS "
              f"{out['peak_rss_mb']:,.0f} MiB")
    if not conservation_ok:
        print(f"FAILED: conservation of money broken by {sim.core.conservation_gap()} atoms",
              file=sys.stderr)
    if liquidations == 0:
        print(f"FAILED: no liquidations in {args.seconds:g} simulated seconds (the index slides "
              f"from 360 s and 420 s: run at least --seconds 480)", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
