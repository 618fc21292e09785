import numpy as np

from exchange.sim.metrics import cascade_depth, gini, peak_drawdown, time_to_repeg


def test_gini_is_zero_for_equal_haircut_ratios_and_grows_with_concentration():
    assert gini(np.array([0.1, 0.1, 0.1, 0.1])) == 0.0
    assert gini(np.array([0.0, 0.0, 0.0, 1.0])) == 0.75
    assert gini(np.array([])) == 0.0


def test_drawdown_repeg_and_cascade_depth():
    assert peak_drawdown(np.array([0, 100, 80, 120, 60])) == 0.5
    ts = np.arange(200) * 10**9
    index = np.full(200, 10_000)
    last = index.copy()
    last[50:80] = 9_000          # basis -10 % for 30 s, then pegged
    assert time_to_repeg(ts, last, index, hold_s=30) == 30.0
    last[150:] = 8_000            # a larger dislocation that never re-pegs
    assert time_to_repeg(ts, last, index, hold_s=30) is None
    assert cascade_depth(np.arange(10), np.array([2, 3, 4, 7])) == 3
