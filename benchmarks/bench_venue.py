"""Venue pipeline benchmark: the standard stream through risk → matching → settlement.

    python benchmarks/bench_venue.py [--json] [--runs 5] [--n 1000000]

1,000 funded accounts trade the kit's standard stream (account = order id modulo 1,000; market
orders carry no price). Each command goes through the compiled venue core's per-command API
(validation, initial-margin check including open orders, matching, position/PnL/fee
settlement, event records). Measured in the same run: the bare per-order matching rate on the
same stream. The end state of the book must equal the stream's expected end state (no command
may be rejected), and the ledger's conservation identity must hold at the end.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common import book_summary, end_state_matches, median, standard_stream  # noqa: E402

import matching  # noqa: E402
from bench_matching import bench_per_order  # noqa: E402
from exchange._core import VenueCore  # noqa: E402
from exchange.instruments import InstrumentSpec, make_tiers  # noqa: E402

N_ACCOUNTS = 1_000


def bench_spec() -> InstrumentSpec:
    """BTCUSDT-like grid (0.1 tick, 0.001 lot), no minimum notional and no price band so that
    the synthetic stream (prices around 100,000 ticks) is accepted in full."""
    return InstrumentSpec(
        symbol="BTCUSDT", base="BTC", quote="USDT", settle="USDT", tick_size=Decimal("0.1"),
        lot_size=Decimal("0.001"), min_notional_atoms=0, max_order_lots=10**9,
        max_market_lots=10**9, maker_fee_rate=20_000, taker_fee_rate=50_000,
        liquidation_fee_rate=1_250_000,
        tiers=make_tiers([(0, 400_000, 125), (50_000 * 10**6, 500_000, 100),
                          (250_000 * 10**6, 1_000_000, 50)]))


def make_venue() -> VenueCore:
    core = VenueCore([bench_spec()], initial_accounts=N_ACCOUNTS)
    first = core.open_accounts(N_ACCOUNTS)
    for a in range(first, first + N_ACCOUNTS):
        core.deposit(a, 10_000_000 * 10**6)       # 10M USDT each
    core.set_mark(0, 100_000)
    core.drain_events()
    return core


def drive_venue(core, kinds, sides, qtys, oids, prices):
    submit, cancel = core.submit, core.cancel
    for k, s, q, o, p in zip(kinds, sides, qtys, oids, prices):
        if k == 0:
            submit(o % N_ACCOUNTS, 0, s, q, p)
        elif k == 1:
            cancel(o % N_ACCOUNTS, o)
        else:
            submit(o % N_ACCOUNTS, 0, s, q, 0, 1)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--n", type=int, default=1_000_000)
    args = ap.parse_args(argv)
    _, msgs, expected = standard_stream(args.n)
    cols = [msgs[f].tolist() for f in ("kind", "side", "qty", "oid", "price")]
    rates, core, events = [], None, 0
    for _ in range(args.runs):
        core = make_venue()
        t0 = time.perf_counter()
        drive_venue(core, *cols)
        rates.append(len(msgs) / (time.perf_counter() - t0))
        events = core.pending_events
    ev = core.drain_events()
    rejected = int((ev["kind"] == 2).sum())
    fills = ev[ev["kind"] == 3]
    taker = fills[fills["flag"] == 1]
    summary = book_summary(core.book(0), len(taker), int(taker["qty"].sum()))
    try:
        core.check_invariants()
        conservation_ok = core.conservation_gap() == 0
    except AssertionError as exc:
        print(f"invariant broken: {exc}", file=sys.stderr)
        conservation_ok = False
    match_rates, match_sum = bench_per_order(matching.Book, msgs, args.runs)
    out = {
        "n": len(msgs),
        "venue_cmds_per_s": round(median(rates)),
        "matching_only_per_order_msgs_per_s": round(median(match_rates)),
        "conservation_ok": conservation_ok,
        "end_state_ok": end_state_matches(summary, expected) and rejected == 0
                        and end_state_matches(match_sum, expected),
        "rejected": rejected,
        "events": events,
        "runs": [round(r) for r in rates],
    }
    out["venue_vs_matching"] = round(out["venue_cmds_per_s"] / out["matching_only_per_order_msgs_per_s"], 3)
    if args.json:
        print(json.dumps(out))
    else:
        print(f"venue pipeline        {out['venue_cmds_per_s'] / 1e6:6.2f} M cmds/s  (target >= 1.0, or >= 0.25 x matching)")  # noqa: E501
        print(f"matching per-order    {out['matching_only_per_order_msgs_per_s'] / 1e6:6.2f} M msgs/s")
        print(f"ratio                 {out['venue_vs_matching']:6.3f}")
        print(f"conservation ok       {conservation_ok}   end state ok {out['end_state_ok']}   events {events:,}")
    return 0 if (conservation_ok and out["end_state_ok"]) else 1


if __name__ == "__main__":
    sys.exit(main())
