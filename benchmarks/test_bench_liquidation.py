"""pytest-benchmark versions of ``bench_liquidation.py``'s workloads (smaller), each asserting
the end state it computed.

    python -m pytest benchmarks/test_bench_liquidation.py --benchmark-only

Kept out of the default test run (``benchmarks/`` sits apart from ``tests/``).
"""
from __future__ import annotations

import numpy as np
import pytest

from bench_liquidation import ENTRY, build, direct_liquidatable, no_negative_equity

pytest.importorskip("pytest_benchmark")

N = 100_000


@pytest.fixture(scope="module")
def quiet_venue():
    return build(N)


def test_mark_update_that_crosses_nothing(benchmark, quiet_venue):
    core, engine, accts = quiet_venue
    state = {"ts": 10**9, "j": 0}

    def update():
        state["ts"] += 1_000_000
        state["j"] += 1
        return engine.on_mark(0, ENTRY + (1 if state["j"] % 2 else -1), state["ts"])

    s = benchmark(update)
    core.drain_events()
    assert s.triggered == 0 and s.margin_calls == 0 and s.pending == 0
    assert len(direct_liquidatable(core, accts, ENTRY - 1)) == 0


def test_crash_cascade_through_market_insurance_adl(benchmark):
    crash = ENTRY * 90 // 100
    runs = []

    def setup():
        core, engine, accts = build(N)
        expected = direct_liquidatable(core, accts, crash)
        before = core.arrays()["size"][0, expected].copy()
        runs.append((core, engine, accts, expected, before))
        return (engine,), {}

    def cascade(engine):
        return engine.on_mark(0, crash, 2 * 10**9)

    s = benchmark.pedantic(cascade, setup=setup, rounds=3, iterations=1)
    core, engine, accts, expected, before = runs[-1]
    assert s.triggered == len(expected) > 0 and s.pending == 0
    # every liquidated position was reduced, and none is left below maintenance
    assert (np.abs(core.arrays()["size"][0, expected]) < np.abs(before)).all()
    assert len(direct_liquidatable(core, accts, crash)) == 0
    core.check_invariants()
    assert no_negative_equity(core)
