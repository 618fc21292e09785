"""Scenario price generators (exchange.sim.sources): replay, shocks, faults, random walks."""
from __future__ import annotations

import numpy as np
import pytest

from exchange.errors import ConfigError
from exchange.oracle import NS_PER_S
from exchange.sim.sources import (
    ConstantSource,
    FreezeFault,
    GBMSource,
    LagFault,
    ManipulationFault,
    OutageFault,
    RandomWalkSource,
    ReplaySource,
    ShockSource,
)

S = NS_PER_S
MIN = 60 * S

# -- sources --

def test_replay_reports_each_record_once_and_nothing_between():
    src = ReplaySource([10, 20, 20, 40], [1.0, 2.0, 2.5, 4.0])
    assert [src.price_at(t) for t in (5, 10, 15, 20, 30, 45, 50)] == [None, 1.0, None, 2.5, None, 4.0, None]


def test_replay_rejects_unsorted_time_and_time_going_backwards():
    with pytest.raises(ConfigError):
        ReplaySource([2, 1], [1.0, 1.0])
    src = ReplaySource([1], [1.0])
    src.price_at(5)
    with pytest.raises(ValueError):
        src.price_at(4)


def test_shock_gaps_the_price_at_its_time_even_without_a_new_update():
    """Replay 100 at t=0 only; shock -10 % at t=10: the gap shows at t=10 (90) once."""
    src = ShockSource(ReplaySource([0], [100.0]), ts_ns=10, change=-0.10)
    assert [src.price_at(t) for t in (0, 5, 10, 11)] == [100.0, None, pytest.approx(90.0), None]


def test_lag_fault_reports_the_price_of_n_seconds_ago():
    src = LagFault(ReplaySource([0, S, 2 * S, 3 * S], [1.0, 2.0, 3.0, 4.0]), lag_ns=2 * S)
    assert [src.price_at(t) for t in (0, S, 2 * S, 3 * S, 4 * S, 5 * S)] == [None, None, 1.0, 2.0, 3.0, 4.0]


def test_freeze_fault_goes_silent_then_resumes_with_the_latest_price():
    src = FreezeFault(ReplaySource([0, 10, 20], [1.0, 2.0, 3.0]), t0_ns=5, t1_ns=25)
    assert [src.price_at(t) for t in (0, 10, 20, 25, 30)] == [1.0, None, None, 3.0, None]


def test_freeze_fault_with_stuck_value_keeps_publishing_the_old_price():
    walk = ReplaySource([0, 10, 20], [1.0, 2.0, 3.0])
    src = FreezeFault(walk, t0_ns=5, t1_ns=25, stuck_value=True)
    assert [src.price_at(t) for t in (0, 10, 20, 25)] == [1.0, 1.0, 1.0, 3.0]


def test_manipulation_pushes_the_price_only_inside_its_window():
    src = ManipulationFault(ConstantSource(100.0), t0_ns=10, t1_ns=20, change=0.05)
    assert [src.price_at(t) for t in (0, 10, 19, 20)] == [100.0, pytest.approx(105.0),
                                                          pytest.approx(105.0), 100.0]


def test_outage_returns_nothing_inside_its_window():
    src = OutageFault(ConstantSource(100.0), t0_ns=10, t1_ns=20)
    assert [src.price_at(t) for t in (0, 10, 19, 20)] == [100.0, None, None, 100.0]


def test_random_walk_path_does_not_depend_on_query_cadence():
    """The path is drawn in fixed blocks: querying every step or every 7th step sees the same
    prices at the common times (same seed)."""
    a = RandomWalkSource(np.random.default_rng(3), 100.0, step_ns=S, sigma=0.01,
                         jump_rate_per_s=0.05, jump_mean=-0.05, jump_std=0.02)
    b = RandomWalkSource(np.random.default_rng(3), 100.0, step_ns=S, sigma=0.01,
                         jump_rate_per_s=0.05, jump_mean=-0.05, jump_std=0.02)
    every = {t: a.price_at(t * S) for t in range(10_000)}
    sparse = {t: b.price_at(t * S) for t in range(0, 10_000, 7)}
    assert all(sparse[t] == every[t] for t in sparse)
    assert all(p > 0 for p in every.values())
    assert a.price_at(9_999 * S + S // 2) is None  # no step since the last call: no update


def test_gbm_is_seeded_and_positive():
    a = GBMSource(np.random.default_rng(1), 50.0, sigma=0.8, step_ns=S)
    b = GBMSource(np.random.default_rng(1), 50.0, sigma=0.8, step_ns=S)
    pa = [a.price_at(t * S) for t in range(5000)]
    assert pa == [b.price_at(t * S) for t in range(5000)]
    assert pa[0] == 50.0 and min(pa) > 0 and len(set(pa)) == 5000


