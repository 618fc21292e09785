"""The one-factor model of several assets' index paths: correlations as implied, higher in a
crash, alt gaps scaled by their gap loading, determinism whatever the query pattern, typed
errors."""
import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from exchange.errors import ConfigError
from exchange.sim.factor import (NS_PER_S, AssetParams, CrashWindow, FactorGap, FactorModel,
                                 implied_correlation)

ASSETS = {"BTC": AssetParams(110_000.0, beta=1.0, idio_sigma=5e-5),
          "ETH": AssetParams(4_000.0, beta=1.2, idio_sigma=1e-4),
          "SOL": AssetParams(200.0, beta=1.5, idio_sigma=2e-4, gap_beta=4.0)}


def _returns(fm, steps):
    logs = np.array([fm.log_at(k).copy() for k in range(steps + 1)])
    return np.diff(logs, axis=0)


def test_correlation_matches_the_model_and_rises_in_a_crash():
    n = 40_000
    fm = FactorModel(np.random.default_rng(3), ASSETS, sigma=1e-4, vol_of_vol=0.0,
                     crashes=[CrashWindow(n * NS_PER_S, n * NS_PER_S, vol_mult=4.0,
                                          idio_mult=0.3)])
    r = _returns(fm, 2 * n)
    calm, crash = r[: n - 1], r[n + 1:]
    c_calm = np.corrcoef(calm.T)
    c_crash = np.corrcoef(crash.T)
    want = implied_correlation(ASSETS["BTC"], ASSETS["SOL"], 1e-4)
    assert c_calm[0, 2] == pytest.approx(want, abs=0.02)
    crash_params = {k: AssetParams(a.price, a.beta, a.idio_sigma * 0.3) for k, a in ASSETS.items()}
    want_crash = implied_correlation(crash_params["BTC"], crash_params["SOL"], 4e-4)
    assert c_crash[0, 2] == pytest.approx(want_crash, abs=0.02)
    assert c_crash[0, 2] > c_calm[0, 2] + 0.2
    assert crash[:, 0].std() == pytest.approx(math.hypot(4e-4, 0.3 * 5e-5), rel=0.05)
    assert calm[:, 0].std() == pytest.approx(math.hypot(1e-4, 5e-5), rel=0.05)


def test_alts_gap_by_their_gap_loading():
    quiet = {k: AssetParams(a.price, a.beta, 0.0, a.gap_beta) for k, a in ASSETS.items()}
    fm = FactorModel(np.random.default_rng(1), quiet, sigma=0.0, vol_of_vol=0.0,
                     gaps=[FactorGap(100 * NS_PER_S, -0.05)])
    before, after = fm.prices_at(99 * NS_PER_S), fm.prices_at(100 * NS_PER_S)
    move = {k: after[k] / before[k] - 1 for k in ASSETS}
    assert move["BTC"] == pytest.approx(-0.05)
    assert move["ETH"] == pytest.approx(0.95 ** 1.2 - 1)
    assert move["SOL"] == pytest.approx(0.95 ** 4 - 1)        # ≈ −18.5 %


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**32 - 1), st.lists(st.integers(0, 3000), min_size=1, max_size=30))
def test_paths_do_not_depend_on_how_they_are_read(seed, times):
    times = sorted(times)
    a = FactorModel(np.random.default_rng(seed), ASSETS, sigma=1e-4, tail_df=4.0)
    b = FactorModel(np.random.default_rng(seed), ASSETS, sigma=1e-4, tail_df=4.0)
    eth_a, sol_b = a.source("ETH"), b.source("SOL")
    full = {t: a.prices_at(t * NS_PER_S) for t in range(0, 3001, 500)}
    for t in times:
        pa = eth_a.price_at(t * NS_PER_S)
        pb = sol_b.price_at(t * NS_PER_S)
        ref = FactorModel(np.random.default_rng(seed), ASSETS, sigma=1e-4,
                          tail_df=4.0).prices_at(t * NS_PER_S)
        if pa is not None:
            assert pa == pytest.approx(ref["ETH"], rel=1e-12)
        if pb is not None:
            assert pb == pytest.approx(ref["SOL"], rel=1e-12)
    assert all(v["BTC"] > 0 for v in full.values())


def test_volatility_clusters():
    fm = FactorModel(np.random.default_rng(5), {"BTC": AssetParams(1.0)}, sigma=1e-4,
                     vol_of_vol=0.8, vol_half_life_s=600.0)
    r = np.abs(_returns(fm, 60_000)[:, 0])
    r = r - r.mean()
    acf = [float(np.dot(r[:-lag], r[lag:]) / np.dot(r, r)) for lag in (60, 300, 600)]
    assert all(a > 0.02 for a in acf)


@pytest.mark.parametrize("make, field", [
    (lambda: AssetParams(-1.0), "price"),
    (lambda: AssetParams(1.0, idio_sigma=math.nan), "idio_sigma"),
    (lambda: CrashWindow(0, 0), "duration_ns"),
    (lambda: FactorGap(0, -1.5), "change"),
    (lambda: FactorModel(np.random.default_rng(0), {}), "assets"),
    (lambda: FactorModel(np.random.default_rng(0), ASSETS, tail_df=1.5), "tail_df"),
    (lambda: FactorModel(np.random.default_rng(0), ASSETS).source("DOGE"), "name"),
])
def test_bad_parameters_raise_typed_errors(make, field):
    with pytest.raises(ConfigError, match=f"'{field}'"):
        make()
