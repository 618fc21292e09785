"""The ``perpsim`` command."""
from __future__ import annotations

import argparse
import sys
import time


def _demo(args) -> int:
    """Drive the compiled matching engine with a synthetic order stream and print what it did."""
    import numpy as np
    from rich.console import Console
    from rich.table import Table

    import matching

    rng = np.random.default_rng(args.seed)
    n = args.n
    msgs = np.zeros(n, matching.MSG_DTYPE)
    kinds = rng.choice([0, 1, 2], size=n, p=[0.6, 0.3, 0.1]).astype(np.uint8)
    msgs["side"] = rng.integers(0, 2, n)
    msgs["qty"] = rng.geometric(0.35, n)
    msgs["oid"] = np.arange(1, n + 1)
    mid = 100_000 + np.cumsum(rng.choice([-1, 0, 0, 0, 1], n))
    off = np.rint(rng.normal(10, 8, n)).astype(np.int64)
    msgs["price"] = np.where(msgs["side"] == 0, mid - off, mid + off)
    # cancels name an earlier order id (it may have traded already: the book reports a reject)
    idx = np.flatnonzero(kinds == 1)
    msgs["oid"][idx] = np.maximum(1, (rng.random(idx.size) * idx).astype(np.int64))
    msgs["kind"] = kinds
    book = matching.Book()
    t0 = time.perf_counter()
    fills = book.process(msgs)
    dt = time.perf_counter() - t0
    rejects = book.drain_rejects()
    table = Table(title=f"perpsim matching engine demo ({n:,} messages, seed {args.seed})")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_row("engine", "compiled (Cython)" if matching.COMPILED else "pure-Python reference")
    table.add_row("fills", f"{len(fills):,}")
    table.add_row("lots traded", f"{int(fills['qty'].sum()):,}")
    table.add_row("rejected cancels (already traded)", f"{len(rejects):,}")
    table.add_row("resting orders", f"{len(book):,}")
    table.add_row("best bid / ask (ticks)", f"{book.best_bid()} / {book.best_ask()}")
    table.add_row("throughput", f"{n / dt / 1e6:.2f} M msgs/s")
    Console().print(table)
    return 0


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="perpsim", description="Perpetual-futures venue simulator.")
    sub = ap.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="run the matching engine on a synthetic order stream")
    demo.add_argument("--n", type=int, default=500_000, help="messages (default 500,000)")
    demo.add_argument("--seed", type=int, default=7)
    demo.set_defaults(func=_demo)
    return ap


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
