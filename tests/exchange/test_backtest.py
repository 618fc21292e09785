"""Backtests in scenario mode (the simulator's flash crash) and the ``perpsim backtest``
command in both modes."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from exchange.cli import main
from exchange.errors import ConfigError
from exchange.sim.backtest import backtest, run_scenario_strategy, run_stats, summarize
from exchange.strategies import FixedLeverage, VolAdjustedLeverage, resolve

FIX = Path(__file__).parents[1] / "data" / "fixtures"


def test_twenty_x_long_in_the_simulated_flash_crash_is_liquidated():
    r = run_scenario_strategy(FixedLeverage, {"target_leverage": 20.0, "leverage": 25}, "flash_crash", 0)
    assert r["stats"]["liquidations"] >= 1 and r["strategy"].liquidations >= 1
    assert r["stats"]["return"] < -0.5
    # a 3x long rides through the same crash
    calm = run_scenario_strategy(FixedLeverage, {"target_leverage": 3.0}, "flash_crash", 0)
    assert calm["stats"]["liquidations"] == 0 and calm["stats"]["return"] > -0.5


def test_a_profitable_short_is_auto_deleveraged_when_the_insurance_fund_runs_dry():
    # flash_crash sizes the fund to run dry: Binance's waterfall ends in ADL of the winners
    r = run_scenario_strategy(FixedLeverage, {"target_leverage": 10.0, "direction": "short",
                                              "cooldown_ticks": -1}, "flash_crash", 0)
    st = r["stats"]
    assert st["adl"] >= 1 and st["adl_qty"] > 0 and st["liquidations"] == 0
    assert st["return"] > 0                 # closed in profit, at the bankrupt side's price
    assert st["time_in_market"] < 0.5       # ... and out of the market from then on


def test_carry_short_earns_funding_when_the_squeeze_makes_it_positive():
    from exchange.strategies import FundingCarry

    r = run_scenario_strategy(FundingCarry, {"target_leverage": 2.0}, "funding_squeeze", 0)
    # funding_squeeze's premium holds funding at its cap (3.75 bp an hour): a 2x carry short
    # on the strategy's deposit receives it at every settlement and pays nothing
    assert r["stats"]["funding_received"] > 5 and r["stats"]["funding_paid"] == 0
    assert r["stats"]["liquidations"] == 0
    # the long side of the same crowded market pays
    long = run_scenario_strategy(FixedLeverage, {"target_leverage": 2.0}, "funding_squeeze", 0)
    assert long["stats"]["funding_paid"] > 5 and long["stats"]["funding_received"] == 0


def test_stats_of_a_known_equity_path():
    s = dict(ts=np.arange(5) * 1_000_000_000, equity_atoms=np.array([100, 110, 99, 121, 121]) * 10**6,
             size_lots=np.array([0, 1, 1, 0, 0]), notional_atoms=np.array([0, 220, 198, 0, 0]) * 10**6)
    st = run_stats(s, np.zeros(0, dtype=[("acct", "i8"), ("kind", "i4"), ("a1", "i8"), ("a2", "i8"),
                                          ("qty", "i8")]), 0, 100 * 10**6, 6)
    assert st["return"] == pytest.approx(0.21)
    assert st["max_drawdown"] == pytest.approx(0.1)                # 110 → 99
    assert st["time_in_market"] == pytest.approx(0.4)
    assert st["max_leverage"] == pytest.approx(2.0)
    assert st["sharpe"] > 0 and st["sortino"] > st["sharpe"]      # one down step of four


def test_summary_interval_narrows_with_seeds():
    few, many = summarize([1.0, 3.0]), summarize([1.0, 3.0] * 10)
    assert few["mean"] == many["mean"] == 2.0
    assert (many["ci_high"] - many["ci_low"]) < (few["ci_high"] - few["ci_low"]) / 5


def test_unknown_strategy_and_bad_parameter_are_config_errors():
    with pytest.raises(ConfigError):
        resolve("fixed_1000x")
    with pytest.raises(ConfigError, match="target_leverage"):
        resolve("fixed_10x", {"target_leverage": "lots"})


def test_backtest_two_policies_over_seeds_of_the_scenario():
    res = backtest(["fixed_20x", ("vol_adjusted", {"daily_risk": 0.2})], scenario="flash_crash", seeds=2)
    fx, va = res["strategies"]["fixed_20x"], res["strategies"]["vol_adjusted"]
    assert len(fx["runs"]) == 2 and fx["summary"]["liquidations"]["mean"] >= 1
    assert va["summary"]["liquidations"]["mean"] == 0       # it cut leverage as volatility rose
    assert va["summary"]["mean_leverage"]["mean"] < fx["summary"]["mean_leverage"]["mean"]
    assert isinstance(fx["runs"][0]["strategy"], FixedLeverage)
    assert isinstance(va["runs"][1]["strategy"], VolAdjustedLeverage)


def test_cli_backtest_on_binance_public_data_writes_the_report(tmp_path, capsys):
    b = FIX / "binance"
    out = tmp_path / "bt"
    code = main(["backtest", "fixed_10x", "carry", "--data", str(b / "BTCUSDT-bookTicker-2024-01-01.zip"),
                 str(b / "BTCUSDT-aggTrades-2024-01-01.zip"),
                 str(b / "indexPriceKlines" / "BTCUSDT-1m-2024-01-01.zip"),
                 str(b / "markPriceKlines" / "BTCUSDT-1m-2024-01-01.zip"),
                 "--out", str(out), "--strategy-param", "carry.target_leverage=1"])
    text = capsys.readouterr().out
    assert code == 0, text
    assert "replayed" in text and "fixed_10x" in text and "funding_received" in text
    summary = json.loads((out / "summary.json").read_text())
    assert summary["mode"] == "replay" and summary["feed"]["sources"]["book"] == "binance.bookTicker"
    assert summary["strategies"]["carry"]["params"] == {"target_leverage": 1}
    cmp = summary["venue_vs_recorded"]                      # markPriceKlines beside the venue's mark
    assert cmp["mark_samples"] > 1000 and 0 < cmp["mark_diff_bps_mean_abs"] < 50
    assert "venue mark vs recorded mark" in text
    for name in ("report.html", "equity.png", "leverage.png", "series_fixed_10x.csv"):
        assert (out / name).stat().st_size > 0


def test_cli_backtest_refuses_both_or_neither_source(capsys):
    assert main(["backtest", "fixed_10x"]) == 2
    assert "exactly one of --scenario" in capsys.readouterr().err
    assert main(["backtest", "fixed_10x", "--scenario", "flash_crash", "--seeds", "0"]) == 2
    assert main(["backtest", "nope_strategy", "--scenario", "flash_crash"]) == 2
    assert "STRATEGY" in capsys.readouterr().err


def test_a_process_pool_gives_the_same_statistics():
    data = [str(FIX / "binance" / "BTCUSDT-bookTicker-2024-01-01.zip"),
            str(FIX / "binance" / "BTCUSDT-aggTrades-2024-01-01.zip"),
            str(FIX / "binance" / "indexPriceKlines" / "BTCUSDT-1m-2024-01-01.zip")]
    from exchange.data import load
    from exchange.data.feed import ReplayFeed
    from exchange.presets import load_preset

    feed = ReplayFeed.from_tables(load(data), load_preset("binance_usdm").instruments["BTCUSDT"])
    feed = feed.window(feed.start_ns + 28 * 60 * 10**9, feed.start_ns + 33 * 60 * 10**9)
    one = backtest(["fixed_20x", "tiered"], data=feed, seeds=1)
    pool = backtest(["fixed_20x", "tiered"], data=feed, seeds=1, workers=2)
    for label in ("fixed_20x", "tiered"):
        assert one["strategies"][label]["runs"][0]["stats"] == pool["strategies"][label]["runs"][0]["stats"]
    assert one["strategies"]["fixed_20x"]["runs"][0]["stats"]["time_in_market"] > 0.9
