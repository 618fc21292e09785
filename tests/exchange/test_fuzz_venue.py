"""A short, fixed-seed run of the random-command venue fuzz (benchmarks/fuzz_venue.py, issue 18),
the driver's own checks shown to fail on broken state, and the shrinker shown to shrink."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]


def _load_fuzz():
    name = "fuzz_venue"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / "fuzz_venue.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


fz = _load_fuzz()


@pytest.mark.parametrize("preset", fz.preset_names())
def test_a_short_random_episode_on_every_preset_breaks_no_check(preset):
    # fixed seeds: two episodes per preset, each with a waterfall and policies drawn at random
    rng = np.random.default_rng(sum(map(ord, preset)))
    for _ in range(2):
        config = fz.random_config(rng, preset)
        cmds = [fz.random_command(rng, len(config["deposits"])) for _ in range(120)]
        ran, violation, idx = fz.execute(config, cmds)
        assert violation is None, (config, cmds[: idx + 1], str(violation))
        assert ran == len(cmds)


@pytest.mark.parametrize("waterfall", fz.WATERFALLS, ids=">".join)
def test_every_fuzzed_waterfall_builds_and_survives_a_gap_into_a_thin_book(waterfall):
    config = dict(preset="binance_usdm", waterfall=list(waterfall), adl_policy="bitmex",
                  socialized_policy="profit_pro_rata", insurance_fund="1000",
                  backstop_capital="50000", deposits=["20000000", "2000", "2000", "50000"],
                  modes=[["cross", "cross"], ["isolated", "cross"], ["cross", "isolated"],
                         ["cross", "cross"]],
                  leverages=[[20, 20], [100, 50], [50, 100], [10, 10]], seed=3)
    cmds = [dict(op="quote", acct=0, instr=0, levels=2, bps=5, notional=150_000),
            dict(op="order", acct=1, instr=0, kind="market", side="BUY", notional=5.0,
                 lev_frac=0.9, reduce_only=False),
            dict(op="order", acct=2, instr=0, kind="market", side="BUY", notional=5.0,
                 lev_frac=0.9, reduce_only=False),
            dict(op="order", acct=3, instr=0, kind="market", side="SELL", notional=5.0,
                 lev_frac=0.3, reduce_only=False),
            dict(op="cancel_all", acct=0, instr=0, one=False),
            dict(op="mark", instr=0, pct=-20.0),
            dict(op="advance", dt_ms=60_000, rate=0),
            dict(op="mark", instr=0, pct=-10.0),
            dict(op="advance", dt_ms=8 * 3_600_000, rate=100_000)]
    ran, violation, _ = fz.execute(config, cmds)
    assert violation is None, str(violation)
    world = fz.World(config)
    for c in cmds:
        world.run(c)
    # the gap liquidated someone: the episode exercised the waterfall
    names = {e.name for e in world.ex.events()}
    assert "LiquidationTriggered" in names


def test_the_conservation_check_counts_its_own_deposits():
    rng = np.random.default_rng(0)
    world = fz.World(fz.random_config(rng, "bitmex"))
    world.check()
    world.net_deposits += 1          # the driver's ledger and the venue's disagree by one atom
    with pytest.raises(fz.Violation) as err:
        world.check()
    assert err.value.kind == "conservation"


def test_the_flat_bucket_check_sees_money_left_in_a_flat_isolated_position():
    rng = np.random.default_rng(0)
    world = fz.World(fz.random_config(rng, "binance_usdm"))
    acct = world.accounts[1]
    # move 1 atom from the wallet into the bucket of a flat position (ledger_move conserves)
    world.ex.core.ledger_move(0, acct, 1, acct, 1, 0)
    with pytest.raises(fz.Violation) as err:
        world.check()
    assert err.value.kind == "flat_isolated_bucket"


def test_the_liquidatable_check_sees_an_account_below_maintenance_outside_liquidation():
    config = dict(preset="binance_usdm", waterfall=["market", "insurance", "adl"],
                  adl_policy="bitmex", socialized_policy="profit_pro_rata", insurance_fund="0",
                  backstop_capital="0", deposits=["20000000", "1000"],
                  modes=[["cross", "cross"], ["cross", "cross"]], leverages=[[20, 20], [100, 100]],
                  seed=0)
    world = fz.World(config)
    world.run(dict(op="quote", acct=0, instr=0, levels=1, bps=2, notional=100_000))
    world.run(dict(op="order", acct=1, instr=0, kind="market", side="BUY", notional=50_000.0,
                   reduce_only=False))
    world.check([0])
    # a mark published on the core alone (no detection ran) leaves the account under water
    world.ex.core.set_mark(0, world.mark(0) * 9 // 10)
    with pytest.raises(fz.Violation) as err:
        world.check([0])
    assert err.value.kind == "liquidatable_outside_liquidation"


def test_a_rejected_command_is_compared_with_the_state_before_it():
    rng = np.random.default_rng(1)
    world = fz.World(fz.random_config(rng, "dydx_v4"))
    before = world.snapshot()
    evs, rejected, _ = world.run(dict(op="withdraw", acct=1, frac=1.5))   # more than the wallet
    assert rejected and evs[0].name == "TransferRejected"
    assert world.same_state(before, world.snapshot()) is None
    world.run(dict(op="deposit", acct=1, amount="5"))
    assert "wallet" in world.same_state(before, world.snapshot())


def test_the_shrinker_cuts_an_episode_down_to_the_command_that_fails(monkeypatch):
    rng = np.random.default_rng(2)
    config = fz.random_config(rng, "bybit_linear")
    cmds = [fz.random_command(rng, len(config["deposits"])) for _ in range(40)]
    culprit = dict(op="funding", instr=1, rate=777)
    cmds.insert(25, culprit)
    real_run = fz.World.run

    def run(self, cmd):
        out = real_run(self, cmd)
        if cmd == culprit:
            raise fz.Violation("planted", "the culprit ran")
        return out

    monkeypatch.setattr(fz.World, "run", run)
    small = fz.shrink(config, cmds, "planted", budget_s=30)
    assert small == [culprit]


def test_a_reproducer_round_trips_through_json(tmp_path):
    rng = np.random.default_rng(4)
    config = fz.random_config(rng, "hyperliquid")
    cmds = [fz.random_command(rng, len(config["deposits"])) for _ in range(10)]
    path = fz.save_reproducer(tmp_path, config, cmds, fz.Violation("crash", "example\nstack"))
    assert fz.replay(path) is None
    assert path.name.startswith("crash-hyperliquid-")
