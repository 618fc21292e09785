"""ADL allocations against brute force on small cases (Hypothesis).

- :func:`water_fill` (``pro_rata``: weights = profit; ``risk_aware``: profit × leverage):
  among all integer haircut vectors with ``Σ h = S`` and ``0 ≤ h ≤ cap`` it attains the least
  possible ``max h_w / weight_w`` (Chitra, arXiv 2512.01112: pro rata, the fair allocation).
- :func:`drain_leverage` (``leverage_drain``, Campbell et al., arXiv 2603.15963): among all
  integer lot vectors with ``Σ x = q`` and ``0 ≤ x ≤ size`` it attains the least possible
  largest leverage left.
"""
from __future__ import annotations

import itertools
from fractions import Fraction

from hypothesis import given, settings, strategies as st

from exchange.liquidation.adl import _leverage, drain_leverage, water_fill


def _compositions(total: int, caps: list[int]):
    """Every integer vector 0 ≤ v ≤ caps with Σ v = total."""
    if not caps:
        if total == 0:
            yield ()
        return
    for v in range(min(total, caps[0]) + 1):
        for rest in _compositions(total - v, caps[1:]):
            yield (v,) + rest


@settings(max_examples=150, deadline=None)
@given(weights=st.lists(st.integers(1, 9), min_size=1, max_size=4),
       caps=st.lists(st.integers(0, 6), min_size=4, max_size=4),
       total=st.integers(0, 20))
def test_water_fill_attains_the_least_largest_haircut_share(weights, caps, total):
    n = len(weights)
    caps = caps[:n]
    h = water_fill(total, weights, caps).tolist()
    feasible = min(total, sum(caps))
    assert sum(h) == feasible
    assert all(0 <= x <= c for x, c in zip(h, caps))
    got = max(Fraction(x, w) for x, w in zip(h, weights))
    best = min(max(Fraction(x, w) for x, w in zip(v, weights))
               for v in _compositions(feasible, caps))
    assert got == best


@settings(max_examples=100, deadline=None)
@given(weights=st.lists(st.integers(1, 50), min_size=1, max_size=5), times=st.integers(0, 30))
def test_water_fill_without_caps_is_exactly_pro_rata_when_the_shares_are_whole(weights, times):
    total = times * sum(weights)
    assert water_fill(total, weights, [10**9] * len(weights)).tolist() == [
        times * w for w in weights]


def _winner():
    # size, equity, haircut per lot with size·per_lot ≤ equity (the module's bound)
    return st.integers(1, 5).flatmap(
        lambda s: st.integers(s * 1, 400).flatmap(
            lambda e: st.tuples(st.just(s), st.just(e), st.integers(0, e // s))))


@settings(max_examples=150, deadline=None)
@given(ws=st.lists(_winner(), min_size=1, max_size=3), m=st.integers(1, 100),
       q=st.integers(0, 15))
def test_drain_leverage_attains_the_least_largest_leverage_left(ws, m, q):
    sizes = [w[0] for w in ws]
    eqs = [w[1] for w in ws]
    per = [w[2] for w in ws]
    x = drain_leverage(q, sizes, m, eqs, per).tolist()
    feasible = min(q, sum(sizes))
    assert sum(x) == feasible and all(0 <= a <= s for a, s in zip(x, sizes))

    def worst(v):
        return max(_leverage(s, a, m, e, d) for s, a, e, d in zip(sizes, v, eqs, per))
    best = min(worst(v) for v in _compositions(feasible, sizes))
    assert worst(x) == best


def test_drain_leverage_takes_the_most_levered_first():
    # 10x, 5x, 2x of equal size: 5 lots all come from the 10x account
    assert drain_leverage(5, [10, 10, 10], 100, [100, 200, 500], [0, 0, 0]).tolist() == [5, 0, 0]
    # more lots: the 10x is drained down to the 5x's level, then both together
    x = drain_leverage(12, [10, 10, 10], 100, [100, 200, 500], [0, 0, 0]).tolist()
    assert x[2] == 0 and sum(x) == 12
    assert max(_leverage(10, a, 100, e, 0) for a, e in zip(x, [100, 200, 500])) <= Fraction(4)


def test_compositions_enumerates_every_split():
    assert sorted(_compositions(2, [1, 2])) == [(0, 2), (1, 1)]
    assert len(list(_compositions(3, [3, 3, 3]))) == len(
        [v for v in itertools.product(range(4), repeat=3) if sum(v) == 3])
