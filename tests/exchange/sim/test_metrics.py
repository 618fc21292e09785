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


def _journal(rows):
    from exchange.dtypes import EVENT_DTYPE

    j = np.zeros(len(rows), EVENT_DTYPE)
    for i, r in enumerate(rows):
        for key, value in r.items():
            j[key][i] = value
    return j


def _series():
    n = 3
    return dict(ts_ns=np.arange(n) * 10**9, last_ticks=np.full(n, 100), index_ticks=np.full(n, 100),
                insurance_atoms=np.zeros(n, np.int64))


def test_adl_severity_excess_uncovered_winners_and_leverage_from_the_rounds():
    from exchange.sim.metrics import compute_metrics

    usd = 1_000_000
    rows = [
        dict(kind=6, acct=a, a1=100 * usd) for a in range(5)          # deposits
    ] + [
        # step 1: two rounds on one instrument; winners 2 and 3 hit; the step ends at 2.5x
        dict(kind=111, ts=1, acct=2, qty=5, price=100, a1=0, a2=6 * usd),
        dict(kind=111, ts=1, acct=3, qty=5, price=100, a1=0, a2=4 * usd),
        dict(kind=117, ts=1, acct=0, qty=10, a1=10 * usd, a2=10 * usd, a3=400_000_000),
        dict(kind=111, ts=1, acct=2, qty=2, price=100, a1=1, a2=7 * usd),
        dict(kind=117, ts=1, acct=1, qty=2, a1=4 * usd, a2=7 * usd, a3=250_000_000),
        # step 2: a round that fell 1 USD short; 1.5x left
        dict(kind=111, ts=2, acct=4, qty=1, price=100, a1=0, a2=2 * usd),
        dict(kind=117, ts=2, acct=0, qty=1, a1=3 * usd, a2=2 * usd, a3=150_000_000),
        dict(kind=112, ts=2, acct=0, a1=1 * usd),
    ]
    equity = np.array([0, 0, 120, 110, 105]) * usd
    m = compute_metrics(_journal(rows), _series(), {"settle_decimals": 6}, equity)
    assert m["adl_rounds"] == 3
    assert m["adl_shortfall"] == 17.0 and m["adl_haircut"] == 19.0
    assert m["adl_excess_haircut"] == 3.0 and m["adl_uncovered"] == 1.0
    assert m["adl_winners_hit"] == 3
    # the last round of each step: 2.5x then 1.5x, not the 4x in the middle of step 1
    assert m["adl_max_leverage"] == 2.5
    assert m["haircut_plus_bad_debt"] == 20.0
    assert m["haircut_gini"] is not None and 0 <= m["haircut_gini"] < 1


def test_fairness_is_not_applicable_without_haircuts():
    from exchange.report import format_value
    from exchange.sim.metrics import compute_metrics

    rows = [dict(kind=6, acct=a, a1=100_000_000) for a in range(3)]
    equity = np.array([150, 50, 100]) * 1_000_000
    m = compute_metrics(_journal(rows), _series(), {"settle_decimals": 6}, equity)
    assert m["winners"] == 1 and m["haircut_gini"] is None
    assert m["adl_max_leverage"] is None and m["adl_rounds"] == 0
    assert format_value(m["haircut_gini"]) == "n/a"
