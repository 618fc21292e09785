"""Worlds: several instruments and venues in one run (exchange.sim.world)."""
import numpy as np
import pytest

from exchange.cli import main
from exchange.errors import ConfigError
from exchange.sim.world import World, is_world, list_worlds, load_world, run_world

#: multi_asset_crash, smaller: the gaps at 240 s and 300 s, 120 s after them
SMALL_CRASH = {"scenario.duration_s": 420, "market.population.noise.count": 40,
               "market.population.directional.count": 60,
               "population.cross_portfolios.count": 60,
               "population.isolated_portfolios.count": 60}
SMALL_CASCADE = {"scenario.duration_s": 480, "market.population.noise.count": 60}


@pytest.fixture(scope="module")
def crash():
    return run_world("multi_asset_crash", 0, overrides=SMALL_CRASH, check="step")


def test_the_built_in_worlds_are_listed_and_recognised():
    assert {"multi_asset_crash", "cross_venue_cascade"} <= set(list_worlds())
    assert is_world("multi_asset_crash") and not is_world("flash_crash")
    w = load_world("multi_asset_crash")
    assert [m.symbol for m in w.venues[0].markets] == ["BTCUSDT", "ETHUSDT", "SOLUSDT"]


def test_multi_asset_crash_liquidates_on_every_instrument_with_per_instrument_metrics(crash):
    per = crash.markets["binance"]
    assert set(per) == {"BTCUSDT", "ETHUSDT", "SOLUSDT"}
    for sym, m in per.items():
        assert m["liquidations"] > 0, sym
    # alts gap several times further than BTC (the factor's gap betas)
    dd = {s: per[s]["index_drawdown"] for s in per}
    assert dd["BTCUSDT"] < dd["ETHUSDT"] < dd["SOLUSDT"]
    assert 0.05 < dd["BTCUSDT"] < 0.10 and dd["SOLUSDT"] > 0.2
    v = crash.venues["binance"]
    # a cross account's episode counts on every instrument it closes, once for the venue
    n = [m["liquidations"] for m in per.values()]
    assert max(n) <= v["liquidations"] < sum(n)
    assert v["liquidation_notional"] == pytest.approx(
        sum(m["liquidation_notional"] for m in per.values()))


def test_cross_portfolios_are_liquidated_through_their_worst_leg_and_lose_more(crash):
    cross = crash.populations["cross_portfolios"]["venues"]["binance"]
    iso = crash.populations["isolated_portfolios"]["venues"]["binance"]
    assert cross["deposits"] == pytest.approx(iso["deposits"])      # the same cohort
    assert cross["liquidated_accounts"] > 0
    # the SOL leg (-25 %) is the worst leg of every liquidated cross portfolio, and a cross
    # case takes every leg of the account, BTC's included
    assert cross["worst_leg"] == {"SOLUSDT": cross["liquidated_accounts"]}
    assert cross["legs_in_liquidation"]["BTCUSDT"] == cross["liquidated_accounts"]
    # isolated: the legs are liquidated one by one, BTC (-7 % at 10x) survives
    assert "BTCUSDT" not in iso["legs_in_liquidation"]
    assert cross["pnl"] < iso["pnl"] < 0


def test_relative_value_arbitrageurs_trade_both_instruments_in_one_account(crash):
    rv = crash.populations["rv_arbs"]["venues"]["binance"]
    assert rv["accounts"] == 4 and rv["fills"] > 0 and rv["orders"] > 0


def test_a_world_run_is_deterministic():
    small = {**SMALL_CRASH, "scenario.duration_s": 260}
    a, b = World(load_world("multi_asset_crash").with_overrides(small), 5), \
        World(load_world("multi_asset_crash").with_overrides(small), 5)
    a.run()
    b.run()
    ja, jb = a.venues[0].ex.journal(), b.venues[0].ex.journal()
    assert len(ja) == len(jb) > 0 and np.array_equal(ja, jb)


def test_two_venues_arbitrageurs_tie_the_books_and_carry_the_cascade():
    on = run_world("cross_venue_cascade", 0, overrides=SMALL_CASCADE, check="step")
    off = run_world("cross_venue_cascade", 0,
                    overrides={**SMALL_CASCADE, "population.arbs.count": 0})
    b_on, b_off = on.basis["BTC"], off.basis["BTC"]
    # the basis between the venues mean-reverts, faster and tighter with the arbitrageurs
    assert b_on["last_basis_half_life_s"] is not None and b_on["last_basis_half_life_s"] < 3
    assert b_on["last_basis_half_life_s"] < b_off["last_basis_half_life_s"]
    assert b_on["last_basis_sd_bp"] < b_off["last_basis_sd_bp"]
    assert b_on["mark_basis_half_life_s"] is not None
    arbs = on.populations["arbs"]["venues"]
    assert set(arbs) == {"binance", "hyperliquid"} and arbs["binance"]["fills"] > 0
    assert arbs["hyperliquid"]["fills"] > 0
    # the cascade starts on Binance (20-50x) and both venues liquidate
    assert on.markets["binance"]["BTCUSDT"]["liquidations"] > 0
    assert on.markets["hyperliquid"]["BTC"]["liquidations"] > 0


def test_world_config_errors_name_the_key():
    w = load_world("multi_asset_crash")
    with pytest.raises(ConfigError, match=r"venues\.binance\.markets\.DOGE"):
        w.with_overrides({"venues.binance.markets.DOGE": "DOGEUSDT"})
    with pytest.raises(ConfigError, match=r"population\.cross_portfolios\.venue"):
        w.with_overrides({"population.cross_portfolios.venue": "kraken"})
    with pytest.raises(ConfigError, match=r"assets\.SOL\.price"):
        w.with_overrides({"assets.SOL.price": -1})
    with pytest.raises(ConfigError, match="weights.DOGE"):
        World(w.with_overrides({"population.cross_portfolios.weights": {"DOGE": 1.0}}), 0).run()


def test_perpsim_run_on_a_world_prints_per_instrument_and_portfolio_tables(tmp_path, capsys):
    out = tmp_path / "w"
    sets = [x for k, v in {**SMALL_CRASH, "scenario.duration_s": 300}.items()
            for x in ("--set", f"{k}={v}")]
    assert main(["run", "multi_asset_crash", "--out", str(out), *sets]) == 0
    text = capsys.readouterr().out
    assert "per instrument" in text and "SOLUSDT" in text and "worst leg" in text
    assert (out / "report.html").is_file() and (out / "metrics.json").is_file()
    assert (out / "series-binance-SOLUSDT.parquet").is_file()
    html = (out / "report.html").read_text()
    assert "Portfolio view" in html and "Per instrument" in html
    assert main(["scenarios"]) == 0
    assert "multi_asset_crash" in capsys.readouterr().out


def test_perpsim_compare_on_a_world_shows_each_design_per_instrument(tmp_path, capsys):
    import json

    sets = [x for k, v in {**SMALL_CRASH, "scenario.duration_s": 300}.items()
            for x in ("--set", f"{k}={v}")]
    assert main(["compare", "multi_asset_crash", "--waterfalls", "market,insurance,adl",
                 "market,insurance", "--seeds", "1", "--workers", "1", "--out",
                 str(tmp_path / "c"), *sets]) == 0
    text = capsys.readouterr().out
    assert "SOLUSDT" in text and "bad_debt" in text and "insurance" in text
    data = json.loads((tmp_path / "c" / "compare.json").read_text())
    means = data["means"]
    # without ADL the shortfall the fund cannot cover is bad debt; with ADL it is haircuts
    assert means["market,insurance"]["binance bad_debt"] > 0
    assert means["market,insurance,adl"]["binance bad_debt"] == 0
    assert means["market,insurance,adl"]["binance adl_haircut"] > 0


#: a world small enough to run in a second: the journal options, not the cascade
TINY = {"scenario.duration_s": 120, "market.population.noise.count": 20,
        "market.population.directional.count": 20, "population.cross_portfolios.count": 20,
        "population.isolated_portfolios.count": 20}


def _sets(over):
    return [x for k, v in over.items() for x in ("--set", f"{k}={v}")]


@pytest.mark.parametrize("mode", ["full", "events", "none"])
def test_perpsim_run_on_a_world_writes_the_journal_that_journal_asks_for(tmp_path, capsys, mode):
    import pyarrow.parquet as pq

    from exchange.sim.journal import ORDER_FLOW

    out = tmp_path / mode
    assert main(["run", "multi_asset_crash", "--out", str(out), "--no-report",
                 "--journal", mode, *_sets(TINY)]) == 0
    said = capsys.readouterr().out
    tables = {p.stem for p in (out / "journal-binance").glob("*.parquet")} \
        if (out / "journal-binance").exists() else set()
    assert (out / "metrics.json").is_file() and (out / "series-binance-BTCUSDT.parquet").is_file()
    if mode == "none":
        assert not (out / "journal-binance").exists() and "journals" not in said
        return
    assert {"OrderFilled", "Deposited"} <= tables and "journals" in said
    if mode == "events":
        assert not tables & ORDER_FLOW
    else:
        assert {"OrderAccepted", "OrderCanceled"} <= tables
        # every instrument's fills in the one venue journal
        fills = pq.read_table(out / "journal-binance" / "OrderFilled.parquet")
        assert set(fills.column("instrument").to_pylist()) == {0, 1, 2}


def test_perpsim_compare_on_a_world_writes_each_runs_journals_with_journal(tmp_path, capsys):
    out = tmp_path / "c"
    assert main(["compare", "multi_asset_crash", "--waterfalls", "market,insurance,adl",
                 "market,adl", "--seeds", "2", "--workers", "1", "--journal", "events",
                 "--out", str(out), *_sets(TINY)]) == 0
    assert "journals in" in capsys.readouterr().out
    runs = sorted(p.name for p in (out / "runs").iterdir())
    assert runs == ["market+adl-seed0", "market+adl-seed1", "market+insurance+adl-seed0",
                    "market+insurance+adl-seed1"]
    for r in runs:
        assert (out / "runs" / r / "journal-binance" / "OrderFilled.parquet").is_file()
        assert not (out / "runs" / r / "journal-binance" / "OrderAccepted.parquet").exists()
        assert (out / "runs" / r / "metrics.json").is_file()
    # without --journal (none by default) nothing but the table
    assert main(["compare", "multi_asset_crash", "--waterfalls", "market,adl", "--seeds", "1",
                 "--workers", "1", "--out", str(tmp_path / "d"), *_sets(TINY)]) == 0
    assert sorted(p.name for p in (tmp_path / "d").iterdir()) == ["compare.json"]


def test_run_world_refuses_an_unknown_journal_mode():
    with pytest.raises(ValueError, match="journal"):
        run_world("multi_asset_crash", 0, overrides=TINY, journal="some")
