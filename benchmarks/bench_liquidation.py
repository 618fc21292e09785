"""Liquidation benchmark: 1,000,000 isolated positions, a quiet mark update, then a 10 % crash.

    python benchmarks/bench_liquidation.py --json      # one JSON object
    python benchmarks/bench_liquidation.py             # a readable summary
    python benchmarks/bench_liquidation.py --n 100000  # smaller

Set-up (not timed): a BTCUSDT-like instrument (tick 0.1, lot 0.001, Binance's first three
margin tiers, liquidation fee 1.25 %); ``--n`` accounts each open one isolated position at
65,000.0 (sizes 0.001–0.999 BTC, long or short at random, leverage 2–50× skewed toward low
leverage: ``L = round(2·25^(u³))``, u uniform), with exactly the initial margin deposited,
against one market-maker account (``VenueCore.bulk_open_positions``, so positions net to zero
and money is conserved); the market maker rests bids every 10 ticks from 95 % down to 80 % of
the entry price (a book the crash leaves above the mark: it absorbs part of the cascade), and
asks above the entry; the insurance fund holds 1,000,000 USDT; the engine runs Binance's
waterfall ``market (IOC at the bankruptcy price, tier step-down) → insurance (surplus to the
fund) → ADL (Binance ranking)`` with margin calls at 50/80/100 %.

Measured:

- ``mark_update_no_cross_us``: median over ``--updates`` calls of ``LiquidationEngine.on_mark``
  moving the mark one tick up or down around the entry price, where no liquidation price and
  no margin-call level lies (checked: the updates trigger nothing) — detection through the
  sorted index, margin-call range queries and the core's mark update, with ``n`` positions
  open;
- ``cascade_liquidations``, ``cascade_s``, ``liquidations_per_s``: one ``on_mark`` with the
  mark 10 % lower, through the whole waterfall: detection and exact confirmation, order
  cancels, liquidation orders matched in the book, insurance unwinds and cover, ADL ranking and
  transfers, every event recorded, and the batched index update of every account that changed;
- ``conservation_ok``: the core's full invariant check (conservation identity, positions net to
  zero, books sound) after the cascade.

End state asserted (exit 1 otherwise): the cascade liquidated exactly the positions a direct
numpy scan finds below maintenance at the new mark (``equity < MM`` on all n positions, with
the exact integer formula); every one of them was reduced, and afterwards the same scan finds
none (closed, or partly closed back into compliance by the tier step-down); no account is
left with negative equity unbooked (every isolated position's bucket + uPnL ≥ 0 and every wallet ≥ 0); money is
conserved; the quiet updates liquidated nothing.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from exchange._core import VenueCore  # noqa: E402
from exchange.instruments import InstrumentSpec, make_tiers  # noqa: E402
from exchange.liquidation import LiquidationEngine  # noqa: E402
from exchange.liquidation.events import LIQUIDATION_TRIGGERED  # noqa: E402
from exchange.liquidation.margin_view import maintenance_margin_ref  # noqa: E402

USDT = 10**6
ENTRY = 650_000              # 65,000.0 in ticks of 0.1
SEED = 20251010
N_POSITIONS = 1_000_000


def bench_spec() -> InstrumentSpec:
    return InstrumentSpec(
        symbol="BTCUSDT", base="BTC", quote="USDT", settle="USDT", tick_size=Decimal("0.1"),
        lot_size=Decimal("0.001"), min_notional_atoms=0, max_order_lots=10**9,
        max_market_lots=10**9, maker_fee_rate=20_000, taker_fee_rate=50_000,
        liquidation_fee_rate=1_250_000,
        tiers=make_tiers([(0, 400_000, 125), (50_000 * USDT, 500_000, 100),
                          (250_000 * USDT, 1_000_000, 50)]))


def make_positions(n: int, seed: int = SEED):
    """Signed sizes (lots) and leverages of n isolated positions."""
    rng = np.random.default_rng(seed)
    size = rng.integers(1, 1000, n, dtype=np.int64) * rng.choice(np.array([-1, 1], np.int64), n)
    u = rng.random(n)
    lev = np.clip(np.rint(2.0 * 25.0 ** (u ** 3)), 2, 50).astype(np.int64)
    return size, lev


def build(n: int, seed: int = SEED, depth_lots: int | None = None):
    """The venue, the engine and the accounts of the benchmark (see the module docs)."""
    spec = bench_spec()
    core = VenueCore([spec], initial_accounts=n + 16)
    mm = core.open_account()
    core.deposit(mm, 10**18 // 100)
    first = core.open_accounts(n)
    accts = np.arange(first, first + n, dtype=np.int64)
    size, lev = make_positions(n, seed)
    k = spec.atoms_per_tick_lot
    notional = np.abs(size) * ENTRY * k
    im = -(-notional // lev)
    core.set_mark(0, ENTRY)
    core.bulk_open_positions(accts, 0, size, ENTRY, lev, mm, margins=im)
    # the market maker's book: bids 95 % .. 80 % of entry every 10 ticks, asks above entry
    if depth_lots is None:
        depth_lots = max(1, int(np.abs(size).sum() // 2 // 15_000 * 3 // 10))
    for p in range(ENTRY * 95 // 100, ENTRY * 80 // 100, -10):
        core.submit(mm, 0, 0, depth_lots, p)
    for p in range(ENTRY * 102 // 100, ENTRY * 110 // 100, 100):
        core.submit(mm, 0, 1, depth_lots, p)
    core.fund_insurance(1_000_000 * USDT)
    core.drain_events()
    engine = LiquidationEngine(
        core, ("market", "insurance", "adl"), {"alert_thresholds_pct": (50, 80, 100)},
        module_params={"market": {"close_order": "ioc", "close_price_limit": "bankruptcy",
                                  "partial": "tier_step_down"},
                       "insurance": {"surplus_to": "insurance"},
                       "adl": {"policy": "binance"}},
        rng=np.random.default_rng(seed))
    return core, engine, accts


def direct_liquidatable(core, accts: np.ndarray, mark: int) -> np.ndarray:
    """Accounts whose isolated position is below maintenance at ``mark``: a full numpy scan
    with the exact integer formula, independent of the index."""
    a = core.arrays()
    i = 0
    size = a["size"][i, accts]
    k = int(a["k"][i])
    n_t = int(a["n_tiers"][i])
    eq = a["iso"][i, accts] + size * mark * k - a["cost"][i, accts]
    mm = maintenance_margin_ref(np.abs(size) * mark * k, a["tier_floor"][i, :n_t],
                                a["tier_mmr"][i, :n_t], a["tier_cum"][i, :n_t])
    return accts[(size != 0) & (eq < mm)]


def no_negative_equity(core) -> bool:
    a = core.arrays()
    size, cost, iso = a["size"], a["cost"], a["iso"]
    mark = a["mark"]
    k = a["k"]
    ok = bool((a["wallet"] >= 0).all())
    for i in range(size.shape[0]):
        iso_pos = a["mode"][i] == 1
        eq = iso[i] + np.where(size[i] != 0, size[i] * mark[i] * k[i] - cost[i], 0)
        ok &= bool((eq[iso_pos] >= 0).all())
    return ok


def run(n: int, updates: int, seed: int = SEED) -> dict:
    core, engine, accts = build(n, seed)
    k = int(core.arrays()["k"][0])
    # (a) quiet mark updates around the entry price
    ts = 1_000_000_000
    times = []
    triggered_quiet = 0
    for j in range(updates):
        mark = ENTRY + (1 if j % 2 == 0 else -1)
        ts += 1_000_000
        t0 = time.perf_counter()
        s = engine.on_mark(0, mark, ts)
        times.append(time.perf_counter() - t0)
        triggered_quiet += s.triggered + s.margin_calls
    engine.on_mark(0, ENTRY, ts + 1)
    core.drain_events()
    # (b) the crash
    crash = ENTRY * 90 // 100
    expected = direct_liquidatable(core, accts, crash)
    size_before = core.arrays()["size"][0, expected].copy()
    ts += 1_000_000_000
    t0 = time.perf_counter()
    s = engine.on_mark(0, crash, ts)
    cascade_s = time.perf_counter() - t0
    evs = core.drain_events()
    trig = evs[evs["kind"] == LIQUIDATION_TRIGGERED]
    try:
        core.check_invariants()
        conservation_ok = core.conservation_gap() == 0
    except AssertionError as exc:  # pragma: no cover - reported, then exit 1
        print(f"invariant broken: {exc}", file=sys.stderr)
        conservation_ok = False
    a = core.arrays()
    # closed, or partly closed back into compliance by the tier step-down: none left below MM
    reduced = bool((np.abs(a["size"][0, expected]) < np.abs(size_before)).all())
    closed = reduced and len(direct_liquidatable(core, accts, crash)) == 0
    same_set = (s.triggered == len(expected) and len(trig) == len(expected)
                and np.array_equal(np.sort(trig["acct"]), np.sort(expected)))
    end_ok = (same_set and closed and s.pending == 0 and no_negative_equity(core)
              and triggered_quiet == 0 and conservation_ok)
    return {
        "n_positions": n,
        "mark_update_no_cross_us": round(statistics.median(times) * 1e6, 2),
        "cascade_liquidations": int(s.triggered),
        "cascade_s": round(cascade_s, 4),
        "liquidations_per_s": round(s.triggered / cascade_s) if cascade_s > 0 else None,
        "conservation_ok": conservation_ok,
        "end_state_ok": bool(end_ok),
        "expected_liquidations": int(len(expected)),
        "closed_in_book_lots": int(s.closed_lots),
        "adl_lots": int(s.adl_lots),
        "insurance_paid_usdt": round(s.insurance_paid_atoms / USDT, 2),
        "insurance_credited_usdt": round(s.insurance_credited_atoms / USDT, 2),
        "bad_debt_usdt": round(s.bad_debt_atoms / USDT, 2),
        "events": int(len(evs)),
        "atoms_per_tick_lot": k,
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--n", type=int, default=N_POSITIONS)
    ap.add_argument("--updates", type=int, default=2001)
    ap.add_argument("--seed", type=int, default=SEED)
    args = ap.parse_args(argv)
    out = run(args.n, args.updates, args.seed)
    if args.json:
        print(json.dumps(out))
    else:
        print(f"positions open           {out['n_positions']:,}")
        print(f"quiet mark update        {out['mark_update_no_cross_us']:8.2f} µs   (target <= 50)")
        print(f"cascade                  {out['cascade_liquidations']:,} liquidations in "
              f"{out['cascade_s']:.3f} s = {out['liquidations_per_s']:,}/s   (target >= 100,000/s)")
        print(f"  book {out['closed_in_book_lots']:,} lots, ADL {out['adl_lots']:,} lots, "
              f"insurance paid {out['insurance_paid_usdt']:,} / credited "
              f"{out['insurance_credited_usdt']:,} USDT, bad debt {out['bad_debt_usdt']:,} USDT, "
              f"{out['events']:,} events")
        print(f"conservation ok          {out['conservation_ok']}   end state ok {out['end_state_ok']}")
    return 0 if out["end_state_ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
