"""World benchmark: three instruments on two venues against the one-instrument run.

    python benchmarks/bench_world.py [--json] [--agents-per-market 2000] [--seconds 900]
                                     [--seed 0]

Both runs use the same market: the flash crash's populations (makers requoting every 100 ms,
noise traders, leveraged directional traders, funding arbitrageurs) scaled to
``--agents-per-market``, the index from a factor model that gaps -7 % at 600 s (BTC's beta
1, ETH 1.2, SOL 1.5 with gap betas 1 / 1.6 / 3). The one-instrument run is a plain
:class:`~exchange.sim.runner.Simulation` of BTC on Binance USDⓈ-M; the world runs BTC, ETH
and SOL on Binance USDⓈ-M and on Hyperliquid (six markets, two venues) with cross-venue
arbitrageurs on BTC and ETH and cross-margined portfolios on each venue. Both check the
venues' invariants (conservation of money, positions net to zero, books sound) at every
recorded step (``check="step"``) and must end with liquidations, or the script fails.

Measured in the same process, one after the other: ``events_per_s`` (journal events / wall
time) of each, and ``ratio`` = world / one instrument. Target: ratio >= 0.7.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from exchange.sim.runner import Simulation  # noqa: E402
from exchange.sim.world import World, parse_world  # noqa: E402


def _template(n: int) -> dict:
    makers, arbs = 8, 4
    noise = int(n * 0.45)
    directional = n - makers - arbs - noise
    return {
        "index": {"sources": 3, "source_noise": 0.00002, "sigma": 0.00005},
        "population": {
            "makers": {"type": "market_maker", "count": makers, "capital": "3000000",
                       "levels": 6, "half_spread_bps": 0.0, "level_step_bps": 1.0, "size": 0.2,
                       "size_growth": 1.3, "inventory_limit": 60.0, "requote_ms": 100,
                       "pull_vol_ratio": 300.0, "widen_factor": 10.0, "index_pull": 0.01},
            "noise": {"count": noise, "rate_per_min": 2.0, "size": 0.01, "size_sigma": 1.3},
            "directional": {"count": directional, "capital": "5000", "long_share": 0.7,
                            "leverage": [5, 10, 20, 50], "margin_mode": "isolated",
                            "warmup_s": 150, "stop_loss": 0.04, "stop_share": 0.3},
            "arbitrageur": {"type": "arbitrageur", "count": arbs, "capital": "2000000",
                            "clip": 0.03, "check_ms": 2000},
        },
        "shock": [{"type": "mm_withdraw", "at_s": 598, "duration_s": 120, "fraction": 0.6}],
    }


def world_data(agents_per_market: int, seconds: float, *, venues: int, instruments: int) -> dict:
    assets = {"BTC": {"price": 110000.0, "beta": 1.0, "idio_sigma": 2e-5, "gap_beta": 1.0},
              "ETH": {"price": 4000.0, "beta": 1.2, "idio_sigma": 5e-5, "gap_beta": 1.6,
                      "depth": 0.7},
              "SOL": {"price": 200.0, "beta": 1.5, "idio_sigma": 1e-4, "gap_beta": 3.0,
                      "depth": 0.5}}
    names = list(assets)[:instruments]
    symbols = {"binance": ("binance_usdm", {"BTC": "BTCUSDT", "ETH": "ETHUSDT",
                                            "SOL": "SOLUSDT"}),
               "hyperliquid": ("hyperliquid", {"BTC": "BTC", "ETH": "ETH", "SOL": "SOL"})}
    vs = {}
    for vname in list(symbols)[:venues]:
        preset, syms = symbols[vname]
        vs[vname] = {"preset": preset, "markets": {a: syms[a] for a in names},
                     "venue": {"liquidation.insurance_fund": "200000"}}
    pops = {}
    if instruments > 1:
        for vname in vs:
            pops[f"portfolios_{vname}"] = {"type": "portfolio", "venue": vname, "count": 100,
                                           "capital": "5000", "leverage": 10}
    if venues > 1:
        for a in names[:2]:
            pops[f"arbs_{a}"] = {"type": "cross_venue_arb", "asset": a, "count": 4,
                                 "clip": 0.5 * assets["BTC"]["price"] / assets[a]["price"],
                                 "max_position": 10.0 * assets["BTC"]["price"] / assets[a]["price"]}
    return {"scenario": {"name": f"bench_world_{venues}x{instruments}", "duration_s": seconds,
                         "step_ms": 5000},
            "factor": {"step_ms": 1000, "sigma": 0.00005, "tail_df": 4.0,
                       "gaps": [{"at_s": 600, "change": -0.07}],
                       "crash": [{"start_s": 600, "duration_s": 180}]},
            "assets": {a: assets[a] for a in names}, "venues": vs,
            "market": _template(agents_per_market), "population": pops}


def _liquidations(ex) -> int:
    return int((ex.journal()["kind"] == 100).sum())


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true", help="print one JSON line")
    ap.add_argument("--agents-per-market", type=int, default=2000)
    ap.add_argument("--seconds", type=float, default=900.0, help="simulated seconds (>= 700)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    warnings.simplefilter("ignore", RuntimeWarning)
    one_w = parse_world(world_data(args.agents_per_market, args.seconds, venues=1,
                                   instruments=1), "bench_world")
    sc = one_w.venues[0].markets[0].scenario
    # the same index path generator as the world's (its factor model, BTC's column)
    factor = World(one_w, args.seed).factor
    sim = Simulation(sc, args.seed, check="step", index_source=factor.source("BTC"))
    t0 = time.perf_counter()
    sim.run()
    one_wall = time.perf_counter() - t0
    one_events = int(sum(len(c) for c in sim.ex._journal))
    one_liq = _liquidations(sim.ex)
    w = parse_world(world_data(args.agents_per_market, args.seconds, venues=2, instruments=3),
                    "bench_world")
    world = World(w, args.seed, check="step")
    t0 = time.perf_counter()
    world.run()
    w_wall = time.perf_counter() - t0
    w_events = world.events
    w_liq = {v.spec.name: _liquidations(v.ex) for v in world.venues}
    gaps = {v.spec.name: int(v.ex.core.conservation_gap()) for v in world.venues}
    one_rate, w_rate = one_events / one_wall, w_events / w_wall
    out = {"agents_per_market": args.agents_per_market, "sim_seconds": args.seconds,
           "one_instrument": {"markets": 1, "agents": sc.n_agents, "events": one_events,
                              "wall_s": round(one_wall, 3), "events_per_s": round(one_rate),
                              "liquidation_triggers": one_liq},
           "world": {"venues": 2, "markets": 6, "agents": w.n_agents, "events": w_events,
                     "wall_s": round(w_wall, 3), "events_per_s": round(w_rate),
                     "liquidation_triggers": w_liq, "conservation_gap": gaps},
           "ratio": round(w_rate / one_rate, 3)}
    ok = one_liq > 0 and all(n > 0 for n in w_liq.values()) and not any(gaps.values())
    if args.json:
        print(json.dumps(out))
    else:
        print(f"one instrument: {one_events:,} events in {one_wall:.2f} s = {one_rate:,.0f} "
              f"events/s ({one_liq} liquidation triggers)")
        print(f"3 instruments x 2 venues: {w_events:,} events in {w_wall:.2f} s = "
              f"{w_rate:,.0f} events/s (liquidation triggers {w_liq})")
        print(f"ratio {out['ratio']} (target >= 0.7); invariants checked at every step, "
              f"conservation gaps {gaps}")
    if not ok:
        print(f"FAILED: liquidations one {one_liq} world {w_liq}, conservation gaps {gaps}",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
