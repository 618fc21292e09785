"""Matching engine benchmark on the standard stream, against the kit's baselines in one run.

    python benchmarks/bench_matching.py [--json] [--runs 5] [--n 1000000]

Runs, in this process and on the same cached stream: the batch API, the per-order API and the
pure-Python reference book; and, built in the same run from ../shared/bench, the native C++
flat-array baseline and the no-op Cython floor. Every engine must reproduce the stream's
expected end state (trades, traded lots, resting orders and lots, best bid/ask, checksum);
``end_state_ok`` is false otherwise and the exit status is 1.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common import (book_summary, end_state_matches, median, run_cpp_baseline,  # noqa: E402
                     run_floor_baseline, standard_stream)

import matching  # noqa: E402
from matching.reference import RefBook  # noqa: E402


def columns(msgs):
    return [msgs[f].tolist() for f in ("kind", "side", "qty", "oid", "price")]


def drive_per_order(book, kinds, sides, qtys, oids, prices):
    """The same per-message loop as the kit's pybook/pyfloor drivers."""
    limit, cancel, market = book.limit, book.cancel, book.market
    for k, s, q, o, p in zip(kinds, sides, qtys, oids, prices):
        if k == 0:
            limit(o, s, p, q)
        elif k == 1:
            cancel(o)
        else:
            market(o, s, q)


def bench_batch(msgs, runs):
    book = matching.Book()
    rates, fills = [], None
    for _ in range(runs):
        book.clear()
        t0 = time.perf_counter()
        fills = book.process(msgs)
        rates.append(len(msgs) / (time.perf_counter() - t0))
    rejects = book.drain_rejects()
    summary = book_summary(book, len(fills), int(fills["qty"].sum()))
    summary["rejects"] = len(rejects)
    return rates, summary


def bench_per_order(book_factory, msgs, runs):
    cols = columns(msgs)
    rates, book = [], None
    for _ in range(runs):
        book = book_factory()
        t0 = time.perf_counter()
        drive_per_order(book, *cols)
        rates.append(len(msgs) / (time.perf_counter() - t0))
    fills = book.drain_fills()
    return rates, book_summary(book, len(fills), int(fills["qty"].sum()))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    ap.add_argument("--runs", type=int, default=5, help="runs per engine (median reported)")
    ap.add_argument("--reference-runs", type=int, default=5)
    ap.add_argument("--n", type=int, default=1_000_000, help="stream length")
    args = ap.parse_args(argv)
    if not matching.COMPILED:
        print("the compiled book is not in use (PERPSIM_BOOK=reference?)", file=sys.stderr)
        return 2
    path, msgs, expected = standard_stream(args.n)

    batch_rates, batch_sum = bench_batch(msgs, args.runs)
    per_rates, per_sum = bench_per_order(matching.Book, msgs, args.runs)
    ref_rates, ref_sum = bench_per_order(RefBook, msgs, args.reference_runs)
    cpp = run_cpp_baseline(path, args.runs, "array")
    floor = run_floor_baseline(path, args.runs)

    checks = {
        "batch": end_state_matches(batch_sum, expected) and batch_sum["rejects"] == 0,
        "per_order": end_state_matches(per_sum, expected),
        "reference": end_state_matches(ref_sum, expected),
        "cpp_array": end_state_matches(cpp["summary"], expected),
    }
    out = {
        "n": len(msgs),
        "batch_msgs_per_s": round(median(batch_rates)),
        "per_order_msgs_per_s": round(median(per_rates)),
        "reference_msgs_per_s": round(median(ref_rates)),
        "cpp_array_msgs_per_s": round(cpp["median"]),
        "floor_per_order_msgs_per_s": round(floor["per_order_median"]),
        "end_state_ok": all(checks.values()),
    }
    out["batch_vs_cpp_array"] = round(out["batch_msgs_per_s"] / out["cpp_array_msgs_per_s"], 3)
    out["per_order_vs_floor"] = round(out["per_order_msgs_per_s"] / out["floor_per_order_msgs_per_s"], 3)
    out["per_order_vs_reference"] = round(out["per_order_msgs_per_s"] / out["reference_msgs_per_s"], 2)
    out["batch_vs_reference"] = round(out["batch_msgs_per_s"] / out["reference_msgs_per_s"], 2)
    out["end_state_checks"] = checks
    out["runs"] = {"batch": [round(r) for r in batch_rates], "per_order": [round(r) for r in per_rates],
                   "reference": [round(r) for r in ref_rates], "cpp_array": cpp["runs"],
                   "floor_per_order": floor["per_order_runs"]}
    if args.json:
        print(json.dumps(out))
    else:
        for key in ("batch_msgs_per_s", "per_order_msgs_per_s", "reference_msgs_per_s",
                    "cpp_array_msgs_per_s", "floor_per_order_msgs_per_s"):
            print(f"{key:32s} {out[key] / 1e6:8.2f} M/s")
        print(f"batch / C++ flat array          {out['batch_vs_cpp_array']:8.3f}   (target >= 0.5)")
        print(f"per-order / no-op floor         {out['per_order_vs_floor']:8.3f}   (target >= 0.35)")
        print(f"per-order / reference           {out['per_order_vs_reference']:8.2f}   (target >= 10)")
        print(f"end state ok                    {out['end_state_ok']}  {checks}")
    return 0 if out["end_state_ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
