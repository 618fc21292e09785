"""Matching engine benchmark on the standard stream, against the kit's baselines in one run.

    python benchmarks/bench_matching.py [--json] [--runs 5] [--n 1000000]

Runs, in this process and on the same cached stream: the batch API, the per-order API and the
pure-Python reference book; and, built in the same run from ../shared/bench, the native C++
flat-array baseline and the no-op Cython floor. Every engine must reproduce the stream's
expected end state (trades, traded lots, resting orders and lots, best bid/ask, checksum);
``end_state_ok`` is false otherwise and the exit status is 1.

The engines are timed in interleaved rounds (batch, C++, per-order, floor; then again), so
that a burst of load on a shared machine slows every engine of a round alike instead of
whichever engine happened to run during it; each figure is the median over the rounds. The C++
baseline runs twice per round in its own process and its second (warm) run counts; the
matcher's two books (batch, per-order) are reused across rounds with ``clear()`` between them,
as the C++ baseline reuses its memory between runs, so their first round is cold; a round's
fills are dropped before the next one, so that the book writes into the buffer the last result
returned (a caller that keeps every result makes the book allocate fresh memory each time).
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


def time_batch(book, msgs) -> tuple[float, object]:
    book.clear()
    t0 = time.perf_counter()
    fills = book.process(msgs)
    return len(msgs) / (time.perf_counter() - t0), fills


def time_per_order(book_factory, msgs_len, cols) -> tuple[float, object]:
    book = book_factory()
    t0 = time.perf_counter()
    drive_per_order(book, *cols)
    return msgs_len / (time.perf_counter() - t0), book


def per_order_summary(book) -> dict:
    fills = book.drain_fills()
    return book_summary(book, len(fills), int(fills["qty"].sum()))


def bench_per_order(book_factory, msgs, runs, cols=None) -> tuple[list[float], dict]:
    """``runs`` timings of the per-order loop on fresh books, and the last book's end state."""
    cols = columns(msgs) if cols is None else cols
    rates = []
    for _ in range(runs):
        rate, book = time_per_order(book_factory, len(msgs), cols)
        rates.append(rate)
    return rates, per_order_summary(book)


def _kit_missing() -> str | None:
    """None when the benchmark kit is there; else what it is and how to point at it."""
    import os

    env = os.environ.get("PERPSIM_SHARED_BENCH")
    path = Path(env) if env else Path(__file__).resolve().parents[2] / "shared" / "bench"
    if (path / "orderstream.py").is_file() and (path / "cppbook.cpp").is_file():
        return None
    return (f"bench_matching: the benchmark kit is not at {path}. It is not part of this "
            f"repository: it is the project's shared benchmark directory (orderstream.py, the "
            f"standard order stream and its expected end state; cppbook.cpp, the C++ baseline; "
            f"pyfloor.pyx, the no-op Cython floor), kept beside the repository as ../shared/bench "
            f"in the project's workspace. Copy or mount it there, or set PERPSIM_SHARED_BENCH="
            f"/path/to/bench. Without it, 'perpsim demo' times the engine on a synthetic stream.")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    ap.add_argument("--runs", type=int, default=7, help="rounds (median reported; >= 5)")
    ap.add_argument("--reference-runs", type=int, default=5)
    ap.add_argument("--n", type=int, default=1_000_000, help="stream length")
    args = ap.parse_args(argv)
    if not matching.COMPILED:
        print("the compiled book is not in use (PERPSIM_BOOK=reference?)", file=sys.stderr)
        return 2
    kit_missing = _kit_missing()
    if kit_missing:
        print(kit_missing, file=sys.stderr)
        return 2
    path, msgs, expected = standard_stream(args.n)

    cols = columns(msgs)
    batch_book, per_book = matching.Book(), matching.Book()
    batch_rates, per_rates, cpp_rates, floor_rates = [], [], [], []
    cpp_summary = None
    for _ in range(args.runs):
        fills = None        # the last round's result is dropped, so its buffer is reused
        rate, fills = time_batch(batch_book, msgs)
        batch_rates.append(rate)
        cpp = run_cpp_baseline(path, 2, "array")
        cpp_rates.append(cpp["runs"][-1])
        cpp_summary = cpp["summary"]
        per_book.clear()
        rate, _ = time_per_order(lambda: per_book, len(msgs), cols)
        per_rates.append(rate)
        floor_rates.append(run_floor_baseline(path, 1)["per_order_runs"][0])
    batch_sum = book_summary(batch_book, len(fills), int(fills["qty"].sum()))
    batch_sum["rejects"] = len(batch_book.drain_rejects())
    per_sum = per_order_summary(per_book)
    ref_rates, ref_sum = bench_per_order(RefBook, msgs, args.reference_runs, cols)

    checks = {
        "batch": end_state_matches(batch_sum, expected) and batch_sum["rejects"] == 0,
        "per_order": end_state_matches(per_sum, expected),
        "reference": end_state_matches(ref_sum, expected),
        "cpp_array": end_state_matches(cpp_summary, expected),
    }
    out = {
        "n": len(msgs),
        "batch_msgs_per_s": round(median(batch_rates)),
        "per_order_msgs_per_s": round(median(per_rates)),
        "reference_msgs_per_s": round(median(ref_rates)),
        "cpp_array_msgs_per_s": round(median(cpp_rates)),
        "floor_per_order_msgs_per_s": round(median(floor_rates)),
        "end_state_ok": all(checks.values()),
    }
    out["batch_vs_cpp_array"] = round(out["batch_msgs_per_s"] / out["cpp_array_msgs_per_s"], 3)
    out["per_order_vs_floor"] = round(out["per_order_msgs_per_s"] / out["floor_per_order_msgs_per_s"], 3)
    out["per_order_vs_reference"] = round(out["per_order_msgs_per_s"] / out["reference_msgs_per_s"], 2)
    out["batch_vs_reference"] = round(out["batch_msgs_per_s"] / out["reference_msgs_per_s"], 2)
    out["end_state_checks"] = checks
    out["runs"] = {"batch": [round(r) for r in batch_rates], "per_order": [round(r) for r in per_rates],
                   "reference": [round(r) for r in ref_rates], "cpp_array": [round(r) for r in cpp_rates],
                   "floor_per_order": [round(r) for r in floor_rates]}
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
