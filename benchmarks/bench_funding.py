"""Benchmark: funding settlement on 1,000,000 positions and mark recomputation after a book change.

    python benchmarks/bench_funding.py --json      # one JSON object
    python benchmarks/bench_funding.py             # a readable summary

Measured side by side in the same run (absolute numbers drift on shared machines, ratios hold):

- ``funding_settle_ms_1m``: median of ``--runs`` calls of :func:`exchange.funding.settle_funding`
  on 1,000,000 open positions (seeded random sizes on both sides, netting to zero), with
  preallocated output buffers, argument and overflow checks on (the default);
- ``numpy_floor_ms_1m``: median of the bare numpy expression ``pnl += size * price * rate`` on
  the same sizes as float64 — the floor of any vectorised settlement;
- ``ratio_to_floor``: the first over the second (target ≤ 8);
- ``mark_update_us``: median time to recompute the mark with ``BinanceMark`` and
  ``HyperliquidMark`` (both calls together) after one change of the book;
- ``end_state_ok``: the computed end state was checked: zero-sum identity
  ``sum(payments) == remainder >= 0``, ``remainder < n``, a spot check of payments against
  Python-int arithmetic, and the final marks against an independent recomputation.

Exit status 1 when the end state is wrong (a fast wrong answer does not pass).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import time
from fractions import Fraction

import numpy as np

try:  # run as a script from anywhere: make the repository importable
    import exchange  # noqa: F401
except ImportError:  # pragma: no cover
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from exchange.funding import RATE_SCALE, settle_funding  # noqa: E402
from exchange.oracle import NS_PER_S, BinanceMark, HyperliquidMark, IrregularEMA  # noqa: E402

N_POSITIONS = 1_000_000
PRICE_TICKS = 650_001          # BTC at 65,000.1 with a 0.1 tick
ATOMS_PER_TICK_LOT = 100       # tick 0.1 USDT × lot 0.001 BTC = 1e-4 USDT = 100 atoms of 1e-6
RATE = 12_345                  # 0.012345 % per interval: odd, so the rounding path is exercised
SEED = 20251010


# -- workloads -------------------------------------------------------------------------------

def make_positions(n: int = N_POSITIONS, seed: int = SEED) -> np.ndarray:
    """n open positions, sizes 1..9,999 lots on random sides, netting to zero (the last one
    balances the book; flipped until it is non-zero)."""
    rng = np.random.default_rng(seed)
    size = rng.integers(1, 10_000, n, dtype=np.int64)
    size *= rng.choice(np.array([-1, 1], dtype=np.int64), n)
    size[-1] = 0
    size[-1] = -int(size.sum())
    if size[-1] == 0:  # pragma: no cover - astronomically unlikely
        size[-1], size[-2] = 1, size[-2] - 1
    return size


def numpy_floor(pnl: np.ndarray, size_f: np.ndarray, price: float, rate: float) -> None:
    """The bare numpy expression every vectorised settlement is compared with."""
    pnl += size_f * price * rate


def check_settlement(size: np.ndarray, payments: np.ndarray, remainder: int,
                     price: int = PRICE_TICKS, rate: int = RATE,
                     apl: int = ATOMS_PER_TICK_LOT, spot: int = 64, seed: int = 1) -> bool:
    """Zero-sum identity, remainder bound, and a spot check against exact rational arithmetic."""
    n = len(size)
    ok = int(payments.sum()) == remainder and 0 <= remainder < n
    rng = np.random.default_rng(seed)
    idx = list(rng.integers(0, n, spot)) + [0, n - 1]
    for i in idx:
        exact = Fraction(int(size[i]) * price * apl * rate, RATE_SCALE)
        ok &= int(payments[i]) == math.ceil(exact)
    # payers pay at least, receivers receive at most, their exact amounts (sampled)
    ok &= all(int(payments[i]) >= Fraction(int(size[i]) * price * apl * rate, RATE_SCALE) for i in idx)
    return bool(ok)


# -- book ------------------------------------------------------------------------------------

class _LocalBook:
    """A tiny resting-only book over sorted level lists, used only when neither the compiled
    book nor the reference book imports. best_bid/best_ask/impact_price as in matching.Book."""

    def __init__(self) -> None:
        self._orders: dict[int, tuple[int, int, int]] = {}
        self._levels: list[dict[int, int]] = [{}, {}]

    def limit(self, oid: int, side: int, price: int, qty: int, *args: object) -> int:
        self._orders[oid] = (side, price, qty)
        lv = self._levels[side]
        lv[price] = lv.get(price, 0) + qty
        return 0

    def cancel(self, oid: int) -> bool:
        side, price, qty = self._orders.pop(oid)
        lv = self._levels[side]
        lv[price] -= qty
        if not lv[price]:
            del lv[price]
        return True

    def best_bid(self) -> int | None:
        return max(self._levels[0]) if self._levels[0] else None

    def best_ask(self) -> int | None:
        return min(self._levels[1]) if self._levels[1] else None

    def impact_price(self, side: int, notional: float) -> float | None:
        lv = self._levels[1 - side]
        prices = sorted(lv) if side == 0 else sorted(lv, reverse=True)
        spent = lots = 0.0
        for p in prices:
            take = min(lv[p], (notional - spent) / p)
            spent += take * p
            lots += take
            if spent >= notional:
                return spent / lots
        return None


def make_book():
    """The compiled book if it imports, else the reference book, else a local stand-in."""
    try:
        from matching import Book
        return Book(), "matching.Book"
    except Exception:  # noqa: BLE001 - any failure to import/build falls through
        pass
    try:
        from matching.reference import RefBook
        return RefBook(), "matching.reference.RefBook"
    except Exception:  # noqa: BLE001
        return _LocalBook(), "local"


INDEX_TICKS = 650_000
LEVELS = 50


class MarkWorkload:
    """A two-sided book of 50 levels a side around the index; each step changes one level
    (cancel the best bid and place it again one tick higher or lower, alternately) and then
    recomputes both marks. Keeps what an independent check needs."""

    def __init__(self) -> None:
        self.book, self.book_kind = make_book()
        rng = np.random.default_rng(SEED)
        oid = 1
        self.best_bid_oid = None
        for i in range(LEVELS):
            for side, price in ((0, INDEX_TICKS + 20 - i), (1, INDEX_TICKS + 22 + i)):
                self.book.limit(oid, side, price, int(rng.integers(1, 50)))
                if side == 0 and i == 0:
                    self.best_bid_oid = oid
                oid += 1
        self.next_oid = oid
        self.binance = BinanceMark()
        self.hyper = HyperliquidMark()
        self.ts = 0
        self.step_no = 0
        self.last_trade = INDEX_TICKS + 10  # below the bid: P2 and the bid decide the marks
        self.basis_log: list[float] = []   # Binance samples (mid - index)
        self.hl_log: list[tuple[int, float, float]] = []  # (ts, mid - oracle, m2)
        self.marks = (None, None)

    def change_book(self) -> None:
        bid = self.book.best_bid()
        self.book.cancel(self.best_bid_oid)
        new = bid + (1 if self.step_no % 2 == 0 else -1)
        self.book.limit(self.next_oid, 0, new, 7)
        self.best_bid_oid = self.next_oid
        self.next_oid += 1
        self.step_no += 1

    def update_marks(self) -> tuple[int, int]:
        self.ts += 3 * NS_PER_S  # one Hyperliquid publish per step; Binance samples each call
        ts_next = 8 * 3600 * NS_PER_S
        b = self.binance.update(self.ts, INDEX_TICKS, self.book, self.last_trade, 10_000, ts_next,
                                8 * 3600 * NS_PER_S)
        h = self.hyper.update(self.ts, INDEX_TICKS, self.book, self.last_trade, 10_000, ts_next,
                              8 * 3600 * NS_PER_S)
        self.marks = (b, h)
        return b, h

    def record(self) -> None:
        """Log the inputs of the last update for the independent check."""
        bid, ask = self.book.best_bid(), self.book.best_ask()
        mid = (bid + ask) / 2
        self.basis_log.append(mid - INDEX_TICKS)
        m2 = sorted((bid, ask, self.last_trade))[1]
        self.hl_log.append((self.ts, mid - INDEX_TICKS, m2))

    def expected_marks(self) -> tuple[int, int]:
        ts_next = 8 * 3600 * NS_PER_S
        t = ts_next - self.ts
        p1 = Fraction(INDEX_TICKS) * (1 + Fraction(10_000, RATE_SCALE) * Fraction(t, ts_next))
        p1 = round(p1)  # Fraction rounds half to even
        window = self.basis_log[-30:]
        p2 = round(INDEX_TICKS + sum(window) / len(window))
        binance = sorted((p1, p2, self.last_trade))[1]
        e1 = IrregularEMA(150 * NS_PER_S, 3 * NS_PER_S)
        e2 = IrregularEMA(30 * NS_PER_S, 3 * NS_PER_S)
        for ts, basis, m2 in self.hl_log:
            e1.add(ts, basis)
            e2.add(ts, m2)
        m2 = self.hl_log[-1][2]
        hyper = round(sorted((INDEX_TICKS + e1.value, m2, e2.value))[1])
        return binance, hyper


# -- runs ------------------------------------------------------------------------------------

def _median_ms(fn, runs: int) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e3


def run(runs: int = 7, mark_steps: int = 2000) -> dict:
    size = make_positions()
    n = len(size)
    out = np.empty(n, dtype=np.int64)
    work = np.empty(n, dtype=np.int64)
    result: list = []

    def settle() -> None:
        result[:] = settle_funding(size, PRICE_TICKS, RATE, ATOMS_PER_TICK_LOT, out=out, work=work)

    size_f = size.astype(np.float64)
    pnl = np.zeros(n)
    price_f, rate_f = float(PRICE_TICKS * ATOMS_PER_TICK_LOT), RATE / RATE_SCALE
    settle()  # warm-up (page-in of the buffers)
    numpy_floor(pnl, size_f, price_f, rate_f)
    # interleave the two measurements so that machine noise hits both alike
    t_settle, t_floor = [], []
    for _ in range(runs):
        t_settle.append(_median_ms(settle, 1))
        t_floor.append(_median_ms(lambda: numpy_floor(pnl, size_f, price_f, rate_f), 1))
    settle_ms, floor_ms = statistics.median(t_settle), statistics.median(t_floor)
    payments, remainder = result
    ok_settle = check_settlement(size, payments, remainder)

    wl = MarkWorkload()
    mark_times = []
    for _ in range(mark_steps):
        wl.change_book()
        t0 = time.perf_counter()
        wl.update_marks()
        mark_times.append(time.perf_counter() - t0)
        wl.record()
    ok_marks = wl.marks == wl.expected_marks()
    return {
        "funding_settle_ms_1m": round(settle_ms, 3),
        "numpy_floor_ms_1m": round(floor_ms, 3),
        "ratio_to_floor": round(settle_ms / floor_ms, 3),
        "mark_update_us": round(statistics.median(mark_times) * 1e6, 3),
        "end_state_ok": bool(ok_settle and ok_marks),
        "_detail": {"remainder_atoms": remainder, "positions": n, "book": wl.book_kind,
                    "marks": wl.marks, "expected_marks": wl.expected_marks(),
                    "settlement_ok": ok_settle, "marks_ok": ok_marks},
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    ap.add_argument("--runs", type=int, default=7, help="timed runs of each workload (>= 5)")
    args = ap.parse_args(argv)
    res = run(runs=max(5, args.runs))
    detail = res.pop("_detail")
    if args.json:
        print(json.dumps(res))
    else:
        print(f"funding settlement, {detail['positions']:,} positions: "
              f"{res['funding_settle_ms_1m']:.2f} ms (median of {max(5, args.runs)})")
        print(f"numpy floor  pnl += size*price*rate:      {res['numpy_floor_ms_1m']:.2f} ms")
        print(f"ratio to the floor:                       {res['ratio_to_floor']:.2f}x (target <= 8)")
        print(f"remainder to the fee pool:                {detail['remainder_atoms']} atoms")
        print(f"mark recompute after a book change ({detail['book']}), Binance + Hyperliquid: "
              f"{res['mark_update_us']:.1f} us")
        print(f"end state ok: {res['end_state_ok']} (settlement {detail['settlement_ok']}, "
              f"marks {detail['marks']} vs expected {detail['expected_marks']})")
    return 0 if res["end_state_ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
