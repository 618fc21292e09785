"""pytest-benchmark versions of ``bench_funding.py``'s workloads, each asserting its end state.

    python -m pytest benchmarks/test_bench_funding.py --benchmark-only

Kept out of the default test run (``benchmarks/`` sits apart from ``tests/``).
"""
from __future__ import annotations

import numpy as np
import pytest

from bench_funding import (ATOMS_PER_TICK_LOT, PRICE_TICKS, RATE, MarkWorkload, check_settlement,
                           make_positions, numpy_floor)
from exchange.funding import RATE_SCALE, settle_funding

pytest.importorskip("pytest_benchmark")


@pytest.fixture(scope="module")
def sizes() -> np.ndarray:
    return make_positions()


def test_settle_funding_1m_positions(benchmark, sizes):
    out = np.empty_like(sizes)
    work = np.empty_like(sizes)
    payments, remainder = benchmark(settle_funding, sizes, PRICE_TICKS, RATE, ATOMS_PER_TICK_LOT,
                                    out=out, work=work)
    assert check_settlement(sizes, payments, remainder)


def test_numpy_floor_1m_positions(benchmark, sizes):
    size_f = sizes.astype(np.float64)
    pnl = np.zeros(len(sizes))
    price, rate = float(PRICE_TICKS * ATOMS_PER_TICK_LOT), RATE / RATE_SCALE
    calls = []

    def floor():
        calls.append(1)
        numpy_floor(pnl, size_f, price, rate)

    benchmark(floor)
    # every call added the same amounts: pnl is len(calls) times one evaluation
    assert np.allclose(pnl, len(calls) * (size_f * price * rate), rtol=1e-9)


def test_mark_update_after_book_change(benchmark):
    wl = MarkWorkload()

    def step():
        wl.change_book()
        marks = wl.update_marks()
        wl.record()
        return marks

    marks = benchmark(step)
    assert marks == wl.expected_marks()
