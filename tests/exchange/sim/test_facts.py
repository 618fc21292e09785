"""The realism measures (exchange.sim.facts) on series whose answer is known, and `perpsim facts`."""
import json

import numpy as np
import pytest

from exchange.cli import main
from exchange.sim.facts import acf, excess_kurtosis, half_life_s, stylized_facts

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
