"""The engine: margin calls, stale oracle, index upkeep, cross accounts, cascades, registry."""
from __future__ import annotations

import doctest
import importlib

import numpy as np
import pytest
import hypothesis.strategies as st
from hypothesis import given, settings

from exchange.errors import ConfigError
from exchange.liquidation import (MODULES, LiquidationEngine, build_waterfall,
                                  module_params_from_preset, resolve_module)
from exchange.liquidation.events import (LIQUIDATION_EVENT_COLUMNS, LIQUIDATION_EVENT_FIELDS,
                                        LIQUIDATION_EVENT_KINDS)
from exchange.liquidation.engine import EngineParams
from exchange.presets import load_preset
from tests.exchange.liquidation.venues import USDT, Venue, check, spec


def test_margin_calls_fire_when_a_move_carries_the_ratio_up_across_a_threshold():
    v = Venue()
    (a,) = v.isolated([10], [10], 50_000)
    eng = v.engine_for(["market"], alert_thresholds_pct=(50, 80, 100))
    k50 = eng.indexes[0].key(a, 50)
    k80 = eng.indexes[0].key(a, 80)
    # 50 %: 2·MM > equity <=> 100·p > 10,000·p − 450e6 <=> p < 45,454.5;
    # 80 %: 100·MM > 80·equity <=> 7,950·p < 360e6 <=> p < 45,283.02
    assert (k50, k80) == (45_454, 45_283)
    calls = lambda: v.journal.of("MarginCall")["code"].tolist()         # noqa: E731
    assert v.mark(k50 + 1).margin_calls == 0
    assert v.mark(k50).margin_calls == 1 and calls() == [50]
    v.mark(k50 - 10)                                                     # still in the zone
    assert calls() == [50]
    v.mark(k50 + 5)                                                      # back out: no call
    v.mark(k80)                                                          # across 50 and 80
    assert calls() == [50, 50, 80]
    s = v.mark(45_200)                                                   # liquidated: 100
    assert calls() == [50, 50, 80, 100] and s.triggered == 1


def test_a_move_straight_past_liquidation_calls_only_at_100():
    v = Venue()
    v.isolated([10], [10], 50_000)
    v.engine_for(["market"], alert_thresholds_pct=(50, 80, 100))
    s = v.mark(45_000)
    assert v.journal.of("MarginCall")["code"].tolist() == [100] and s.triggered == 1


def test_nothing_is_liquidated_while_the_oracle_is_stale():
    v = Venue()
    (a,) = v.isolated([10], [10], 50_000)
    v.bid(10, 45_100)
    eng = v.engine_for(["market"])
    eng.oracle_stale = True
    s = v.mark(45_200)
    assert s.frozen and s.triggered == 0 and v.size(a) == 10
    eng.oracle_stale = False
    s = v.mark(45_200)
    assert s.triggered == 1 and v.size(a) == 0
    names = v.journal.names()
    assert names.index("LiquidationsFrozen") < names.index("LiquidationsResumed") \
        < names.index("LiquidationTriggered")


def test_note_events_reindexes_what_the_venue_changed():
    v = Venue()
    a = v.cross(60 * USDT, {0: (10, 50_000)})
    eng = v.engine_for(["market"])
    assert eng.indexes[0].key(a) == 44_221                  # 9,950·p < 440e6
    assert v.core.withdraw(a, 30 * USDT) == 0                # now 9,950·p < 470e6: 47,236
    eng.note_events(v.journal.pull())
    assert eng.indexes[0].key(a) == 47_236
    s = v.mark(46_000)
    assert s.triggered == 1


def test_an_account_with_two_cross_positions_is_rechecked_when_either_mark_moves():
    v = Venue([spec("BTCUSDT"), spec("ETHUSDT")])
    a = v.cross(60 * USDT, {0: (10, 50_000), 1: (10, 50_000)})
    eng = v.engine_for(["market"])
    v.mark(48_000, instr=0)              # −20 USDT on BTC: equity 40, MM 4.9 — fine
    assert eng.indexes[1].key(a) == 44_472     # solved with BTC at 50,000: 9,950·p < 442.5e6
    # ETH at 46,200: equity 60 − 20 − 38 = 2 < MM 2.4 + 2.31, although the stale ETH key
    # (44,472) is not crossed: the direct re-check of multi-position accounts finds it
    s = v.mark(46_200, instr=1)
    assert s.triggered == 2                               # one case per cross position
    trig = v.journal.of("LiquidationTriggered")
    assert trig[["acct", "instr", "flag"]].tolist() == [(a, 0, 0), (a, 1, 0)]


def test_a_cross_account_is_liquidated_as_a_whole_and_its_deficit_booked_once():
    v = Venue([spec("BTCUSDT"), spec("ETHUSDT")], insurance=0)
    a = v.cross(20 * USDT, {0: (10, 50_000), 1: (-10, 50_000)})
    v.bid(10, 45_000, instr=0)
    v.ask(10, 50_100, instr=1)
    v.engine_for(["market"], {"market": {"close_price_limit": "none"}})
    s = v.mark(47_000, instr=0)
    # equity 20 − 30 = −10 USDT: both positions closed by market orders (BTC @ 45,000 and
    # ETH @ 50,100: −50 − 1 USDT); each fill leaves the account below zero, so the
    # liquidation fees (4.5 + 5.01) are capped at the equity left, i.e. not charged: the
    # account's deficit of 31 USDT is booked to bad debt once
    assert v.size(a, 0) == 0 and v.size(a, 1) == 0
    assert s.bad_debt_atoms == 51 * USDT - 20 * USDT
    assert s.fees_atoms == 0 and v.core.insurance == 0
    assert v.wallet(a) == 0 and v.core.arrays()["acct_flags"][a] == 0
    assert v.journal.of("BadDebtBooked").size == 1


def test_a_cascade_within_one_step_liquidates_accounts_the_waterfall_pushed_under():
    # a 100-lot long's deficit is socialised per lot; a small 100x long pays up to all its
    # equity, falls below maintenance, and is liquidated in the same on_mark
    v = Venue()
    (b,) = v.isolated([100], [10], 50_000)
    (p,) = v.isolated([10], [100], 44_000)
    v.bid(100, 44_000)
    v.engine_for(["market", "socialized"], {"market": {"close_price_limit": "none"},
                                            "socialized": {"policy": "position_pro_rata"}})
    s = v.mark(45_200)
    trig = v.journal.of("LiquidationTriggered")["acct"].tolist()
    assert trig == [b, p] and s.triggered == 2


def test_step_without_pending_cases_is_cheap_and_empty():
    v = Venue()
    v.isolated([10], [10], 50_000)
    v.engine_for(["market"])
    s = v.step(5 * 10**9)
    assert s.triggered == 0 and s.pending == 0


def test_the_registry_builds_names_paths_and_instances():
    assert sorted(MODULES) == ["adl", "auction", "backstop", "insurance", "market", "socialized"]
    assert resolve_module("exchange.liquidation.market:MarketModule") is MODULES["market"]
    wf = build_waterfall(["market", "exchange.liquidation.adl:AdlModule"],
                         {"exchange.liquidation.adl:AdlModule": {"policy": "random"}})
    assert [m.name for m in wf] == ["market", "adl"] and wf[1].policy == "random"
    with pytest.raises(ConfigError, match="'waterfall' must be modules with distinct names"):
        build_waterfall(["adl", "adl"])
    with pytest.raises(ConfigError, match="waterfall module 'market': bad parameters"):
        build_waterfall(["market"], {"market": {"colour": "red"}})
    with pytest.raises(ConfigError, match="'waterfall module' must be an importable"):
        resolve_module("nowhere.module:Thing")


def test_preset_parameters_reach_the_modules():
    hl = module_params_from_preset(load_preset("hyperliquid"), vault_acct=3)
    assert hl["market"]["partial"] == "fraction" and hl["market"]["fraction_rate"] == 20_000_000
    assert hl["backstop"] == dict(vault_acct=3, trigger_rate=66_666_667, price="mark",
                                  take_margin=True, cover_deficit=True)
    # the fund takes over only on the venues that close at the bankruptcy price
    bn = module_params_from_preset(load_preset("binance_usdm"), fund_acct=5)
    assert bn["insurance"]["takeover"] and bn["insurance"]["takeover_acct"] == 5
    assert module_params_from_preset(load_preset("bitmex"))["insurance"]["takeover"]
    dy = module_params_from_preset(load_preset("dydx_v4"), fund_acct=5)
    assert not dy["insurance"]["takeover"] and dy["insurance"]["takeover_acct"] is None
    assert not dy["insurance"]["cover_open"]
    dr = module_params_from_preset(load_preset("drift"))
    assert not dr["insurance"]["takeover"] and not dr["insurance"]["cover_open"]
    assert dr["socialized"] == dict(policy="position_pro_rata", close_remainder="counterparties",
                                    insurance_first=True, fee_pool_first=True)
    assert hl["adl"] == dict(policy="hyperliquid", price="previous_mark", only_bankrupt=True)
    with pytest.raises(ConfigError, match="'vault_acct' must be an account id"):
        LiquidationEngine.from_preset(Venue().core, load_preset("hyperliquid"))


def test_every_event_kind_is_documented_field_by_field():
    assert set(LIQUIDATION_EVENT_KINDS) == set(LIQUIDATION_EVENT_FIELDS)
    assert min(LIQUIDATION_EVENT_KINDS) == 100
    cols = {"acct", "instr", "oid", "side", "price", "qty", "a1", "a2", "a3", "code", "flag"}
    for fields in LIQUIDATION_EVENT_FIELDS.values():
        assert set(fields) <= cols
    assert set(LIQUIDATION_EVENT_COLUMNS) == set(LIQUIDATION_EVENT_KINDS)
    for kind, fields in LIQUIDATION_EVENT_COLUMNS.items():
        assert set(fields.values()) <= set(LIQUIDATION_EVENT_FIELDS[kind]), kind


def test_the_event_columns_fit_the_attrs_event_layer():
    from exchange import events as ev_mod
    for kind, name in LIQUIDATION_EVENT_KINDS.items():
        ev_mod.register_kind(kind, name, LIQUIDATION_EVENT_COLUMNS[kind])
    v = Venue(insurance=100 * USDT)
    (a,) = v.isolated([10], [10], 50_000)
    v.bid(10, 44_000)
    v.engine_for(["market", "insurance"], {"market": {"close_price_limit": "none"}},
                 alert_thresholds_pct=(100,))
    v.mark(45_200)
    events = ev_mod.materialize(v.journal.of("InsuranceFundUsed"))
    assert [(type(e).__name__, e.account, e.paid_atoms) for e in events] == \
        [("InsuranceFundUsed", a, 10 * USDT)]


def test_the_same_seed_gives_the_same_random_adl():
    def run(seed):
        v = Venue()
        v.isolated([30], [20], 50_000)
        ws = v.isolated([-10] * 6, [2] * 6, 50_000)
        v.journal.pull()
        v.engine = LiquidationEngine(v.core, ["adl"], rng=np.random.default_rng(seed),
                                     module_params={"adl": {"policy": "random"}})
        v.mark(45_200)
        return v.journal.of("PositionDeleveraged")["acct"].tolist(), ws
    (a1, _), (a2, _) = run(5), run(5)
    assert a1 == a2
    starts = {run(s)[0][0] for s in range(8)}
    assert len(starts) > 1


@pytest.mark.parametrize("name", [
    "exchange.liquidation._util", "exchange.liquidation.margin_view", "exchange.liquidation.index",
    "exchange.liquidation.base", "exchange.liquidation.market", "exchange.liquidation.insurance",
    "exchange.liquidation.adl", "exchange.liquidation.socialized", "exchange.liquidation.backstop",
    "exchange.liquidation.auction"])
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted > 0


def test_check_helper_is_quiet_on_a_fresh_venue():
    v = Venue()
    v.isolated([10, -10], [10, 10], 50_000)
    v.engine_for(["market", "insurance", "adl"])
    check(v)


def _buffered(buffer_rate: int):
    v = Venue()
    (a,) = v.isolated([1000], [10], 50_000)             # 1 BTC at 50,000, 10x: 5,000 USDT
    v.bid(100, 45_500)
    v.engine_for(["market"], {"market": dict(
        close_order="market", close_price_limit="none", partial="fraction",
        fraction_rate=10_000_000, threshold_notional_atoms=0, cooldown_ms=30_000,
        cooldown_full_size=False)}, liquidation_buffer_rate=buffer_rate)
    return v, a, v.mark(45_225, ts_ns=10**12)


def test_a_liquidation_ends_only_at_maintenance_plus_the_buffer():
    # 10 % (100 lots) sold @ 45,500 (fee 45.5 USDT): bucket 4,504.5 USDT for 900 lots, equity
    # at 45,225 = 4,504.5 − 4,297.5 = 207 USDT; MM = 0.5 % of 40,702.5 = 203.51 USDT.
    # Without a buffer the account is compliant again and the case ends ...
    v, a, s = _buffered(0)
    assert (s.closed_lots, s.completed, s.pending) == (100, 1, 0)
    assert v.iso(a) == 4_504_500_000
    # ... with Drift's 2 % buffer it needs 207.58 USDT: the case goes on
    v, a, s = _buffered(2_000_000)
    assert (s.closed_lots, s.completed, s.pending) == (100, 0, 1)
    assert v.iso(a) == 4_504_500_000
    p = v.engine.pending
    assert p.acct.tolist() == [a]


def test_the_drift_preset_sets_the_buffer_and_a_bad_one_is_a_config_error():
    eng = LiquidationEngine.from_preset(Venue().core, load_preset("drift"))
    assert eng.params.liquidation_buffer_rate == 2_000_000
    eng = LiquidationEngine.from_preset(Venue().core, load_preset("dydx_v4"))
    assert eng.params.liquidation_buffer_rate == 0
    with pytest.raises(ConfigError, match="'liquidation_buffer_rate' must be an int rate"):
        EngineParams(liquidation_buffer_rate=-1)


@settings(max_examples=200, deadline=None)
@given(rows=st.lists(st.tuples(st.sampled_from([1, 2, 3, 4, 5, 6, 8, 11, 12, 13, 14, 15, 90_010, 101]),
                               st.integers(-1, 12), st.integers(-1, 12), st.integers(-1, 12),
                               st.integers(0, 3)), max_size=40))
def test_the_small_batch_path_marks_the_same_accounts_as_the_vectorised_one(rows):
    from exchange.dtypes import EVENT_DTYPE
    from exchange.liquidation.engine import changed_accounts, changed_accounts_small

    ev = np.zeros(len(rows), EVENT_DTYPE)
    for i, (k, a, a1, a2, q) in enumerate(rows):
        ev[i]["kind"], ev[i]["acct"], ev[i]["a1"], ev[i]["a2"], ev[i]["qty"] = k, a, a1, a2, q
    assert changed_accounts_small(ev, 10).tolist() == changed_accounts(ev, 10).tolist()
