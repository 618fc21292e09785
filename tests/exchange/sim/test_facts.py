"""The realism measures (exchange.sim.facts) on series whose answer is known, and `perpsim facts`."""
import json

import numpy as np
import pytest

from exchange.cli import main
from hypothesis import given, settings, strategies as st

from exchange.oracle import NS_PER_S
from exchange.sim.facts import (acf, chi2_sf, excess_kurtosis, half_life_s, ljung_box,
                                 stylized_facts)
from exchange.sim.pricepath import StochasticVolSource

NS = 1_000_000_000


def _series(n=4000, seed=0, basis_phi=0.95, spread_ticks=1, vol=1e-4):
    rng = np.random.default_rng(seed)
    idx = 1_000_000 * np.exp(np.cumsum(vol * rng.standard_normal(n)))
    b = np.zeros(n)
    for t in range(1, n):
        b[t] = basis_phi * b[t - 1] + 1e-4 * rng.standard_normal()
    mid = idx * (1 + b)
    bid = np.floor(mid - spread_ticks / 2).astype(np.int64)
    ask = bid + spread_ticks
    return dict(ts_ns=np.arange(n, dtype=np.int64) * NS, index_ticks=np.rint(idx).astype(np.int64),
                mark_ticks=np.rint(mid).astype(np.int64), last_ticks=ask.copy(),
                best_bid_ticks=bid, best_ask_ticks=ask,
                depth_10bp_lots=np.full(n, 100), depth_50bp_lots=np.full(n, 300),
                depth_100bp_lots=np.full(n, 500), funding_estimate_8h=np.zeros(n, np.int64))


def _journal(n_orders=50, n_trades=10):
    oid = np.arange(n_trades, dtype=np.int64)
    return {
        "OrderAccepted": {"order_id": np.arange(n_orders), "liquidation": np.zeros(n_orders, np.uint8)},
        "OrderFilled": {"order_id": np.repeat(oid, 2), "qty_lots": np.ones(2 * n_trades, np.int64),
                        "price_ticks": np.full(2 * n_trades, 1_000_000),
                        "ts_ns": np.repeat(oid, 2) * NS + 5 * NS,
                        "taker": np.tile([1, 1], n_trades).astype(np.uint8)},
    }


def test_excess_kurtosis_is_zero_for_gaussian_and_positive_for_student_t():
    rng = np.random.default_rng(1)
    assert abs(excess_kurtosis(rng.standard_normal(200_000))) < 0.05
    assert excess_kurtosis(rng.standard_t(5, 200_000)) > 3.0      # theory: 6


def test_acf_of_an_ar1_matches_its_coefficient():
    rng = np.random.default_rng(2)
    x = np.zeros(50_000)
    for t in range(1, x.shape[0]):
        x[t] = 0.6 * x[t - 1] + rng.standard_normal()
    a = acf(x, [1, 2, 3])
    assert np.allclose(a, [0.6, 0.36, 0.216], atol=0.02)


def test_half_life_of_a_random_walk_is_long_and_of_a_pulled_series_is_its_own():
    rng = np.random.default_rng(3)
    walk = np.cumsum(rng.standard_normal(20_000))
    # (in-sample OLS pulls a random walk's φ below 1 — the Dickey–Fuller bias — so it is long,
    # not infinite)
    assert half_life_s(walk, 1.0)[0] > 500
    pulled = np.zeros(20_000)
    for t in range(1, pulled.shape[0]):
        pulled[t] = 0.99 * pulled[t - 1] + rng.standard_normal()
    hl = half_life_s(pulled, 1.0)[0]
    assert 50 < hl < 90                                             # ln ½ / ln 0.99 = 69 s


@settings(max_examples=60)
@given(k=st.integers(1, 40), x=st.floats(0.0, 200.0))
def test_chi2_survival_matches_its_closed_forms(k, x):
    sf = chi2_sf(x, k)
    assert 0.0 <= sf <= 1.0
    assert chi2_sf(x + 1.0, k) <= sf + 1e-12                      # decreasing in x
    assert chi2_sf(x, k + 1) >= sf - 1e-12                        # increasing in k
    if k == 2:
        assert sf == pytest.approx(np.exp(-x / 2), abs=1e-12)


def test_chi2_survival_at_known_critical_values():
    for x, k in ((3.841, 1), (5.991, 2), (11.070, 5), (18.307, 10), (31.410, 20)):
        assert chi2_sf(x, k) == pytest.approx(0.05, abs=2e-4)
    with pytest.raises(ValueError, match="'k' must be >= 1"):
        chi2_sf(1.0, 0)


def _sv_minute_returns(seed, minutes=120):
    """1-min log returns of the calm scenario's index model (a martingale with stochastic
    volatility and Student-t steps): uncorrelated, but not independent."""
    src = StochasticVolSource(np.random.default_rng(seed), 110000.0, sigma=4e-5, vol_of_vol=0.7,
                              vol_half_life_s=1200.0, tail_df=4.0)
    px = np.array([src.price_at(m * 60 * NS_PER_S) for m in range(minutes + 1)])
    return np.diff(np.log(px))


def test_robust_portmanteau_holds_its_level_on_stochastic_volatility_where_iid_ljung_box_does_not():
    # the calm target's test of "no significant autocorrelation": under the null (the index
    # is a martingale) it must reject about 5 % of 2-h samples at the 5 % level; the iid
    # Ljung–Box, whose band ignores volatility clustering, rejects far more often
    p_rob, p_iid = [], []
    for seed in range(200):
        r = _sv_minute_returns(seed)
        p_rob.append(ljung_box(r, 10, robust=True)[1])
        p_iid.append(ljung_box(r, 10, robust=False)[1])
    rob = float(np.mean(np.asarray(p_rob) < 0.05))
    iid = float(np.mean(np.asarray(p_iid) < 0.05))
    assert 0.01 <= rob <= 0.10
    assert iid >= 0.2 and iid >= 3 * rob


def test_robust_portmanteau_detects_real_autocorrelation():
    # the same returns made an MA(1), r_t = e_t − 0.5 e_(t−1) (lag-1 autocorrelation −0.4):
    # 119 one-minute returns are a small sample, so the robust test catches it about half the
    # time (the price of not over-rejecting under the null); a long sample always
    rejected = [ljung_box(e[1:] - 0.5 * e[:-1], 10)[1] < 0.05
                for e in (_sv_minute_returns(1000 + seed, 120) for seed in range(100))]
    assert np.mean(rejected) >= 0.3
    e = _sv_minute_returns(7, 2000)
    assert ljung_box(e[1:] - 0.5 * e[:-1], 10)[1] < 1e-6
    assert ljung_box(e, 10)[1] > 0.01


def test_stylized_facts_read_spread_depth_basis_trades_and_orders():
    info = {"tick_size": 0.1, "lot_size": 0.001, "shocks": []}
    f = stylized_facts(_journal(), _series(), info, "synthetic")
    assert f["spread"].values["median_ticks"] == 1 and f["spread"].values["one_tick_share"] == 1
    assert f["depth"].values["median_100bp"] == pytest.approx(0.5)
    hl = f["basis"].values["half_life_mid_s"]
    assert 8 < hl < 20                                              # ln ½ / ln 0.95 = 13.5 s
    assert f["trade_sizes"].values["trades"] == 10
    assert f["trade_sizes"].values["median"] == pytest.approx(0.002)
    assert f["order_to_trade"].values["ratio"] == pytest.approx(5.0)
    assert "crash" not in f
    assert all(isinstance(fact.reading, str) and fact.reading for fact in f.items.values())


def test_a_wider_spread_is_read_as_such():
    info = {"tick_size": 0.1, "lot_size": 0.001, "shocks": []}
    f = stylized_facts(_journal(), _series(spread_ticks=7), info)
    assert f["spread"].values["median_ticks"] == 7 and f["spread"].values["one_tick_share"] == 0


def test_a_crash_reports_depth_collapse_recovery_and_reversals():
    s = _series(n=900)
    d = s["depth_100bp_lots"].astype(np.int64)
    d[300:420] = 0                          # vacuum for two minutes, then back
    s["depth_100bp_lots"] = d
    last = s["last_ticks"].astype(float)
    last[350:356:2] *= 1.03                 # three 3 % spikes that reverse the next second
    s["last_ticks"] = np.rint(last).astype(np.int64)
    info = {"tick_size": 0.1, "lot_size": 0.001,
            "shocks": [{"type": "index_gap", "at_ns": 300 * NS, "duration_ns": 0}]}
    c = stylized_facts(_journal(), s, info)["crash"].values
    assert c["depth_collapse"] == pytest.approx(1.0)
    assert c["recovery_s"] == pytest.approx(120.0, abs=2)
    assert c["wall_reversals"] >= 5


def test_perpsim_facts_reads_a_run_directory(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["run", "calm", "--seed", "1", "--out", str(out), "--no-report",
                 "--set", "scenario.duration_s=120", "--set", "population.directional.count=40",
                 "--set", "population.noise.count=30"]) == 0
    capsys.readouterr()
    assert main(["facts", str(out)]) == 0
    text = capsys.readouterr().out
    assert "Spread" in text and "Basis" in text and (out / "facts.html").is_file()
    assert main(["facts", str(out), "--json"]) == 0
    values = json.loads(capsys.readouterr().out)["run"]
    assert values["spread"]["median_ticks"] >= 1 and values["warmup"]["first_trade_s"] >= 10


def test_perpsim_facts_names_a_missing_run_directory(tmp_path, capsys):
    assert main(["facts", str(tmp_path / "nowhere")]) == 2
    err = capsys.readouterr().err
    assert "'RUN_DIR' must be a run directory" in err and "nowhere" in err
    (tmp_path / "empty").mkdir()
    assert main(["facts", str(tmp_path / "empty")]) == 2
    assert "must hold series.parquet" in capsys.readouterr().err
