"""The liquidation-price index and its kernels."""
from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings

from exchange.instruments import make_tiers
from exchange.liquidation import LiquidationIndex, MarginView
from exchange.liquidation.margin_view import (NEVER_LONG, NEVER_SHORT, maintenance_margin,
                                              maintenance_margin_ref, trigger_prices,
                                              trigger_prices_ref)
from exchange.margin import binance_liquidation_price_exact
from tests import strategies as S
from tests.exchange.liquidation.venues import K, USDT, Venue, spec


def test_liquidation_price_of_a_10x_long_is_where_equity_meets_maintenance():
    v = Venue()
    (a,) = v.isolated([10], [10], 50_000)
    idx = LiquidationIndex(MarginView(v.core), 0)
    idx.rebuild()
    # 50 USDT + 10·p·K − 500 USDT < ceil(10·p·K·0.5 %)  <=>  9,950·p < 450e6  <=>  p <= 45,226
    assert idx.key(a) == 45_226
    assert idx.crossers(45_227).tolist() == []
    assert idx.crossers(45_226).tolist() == [a]


def test_keys_agree_with_the_binance_formula_of_exchange_margin():
    s = spec(tiers=make_tiers([(0, 400_000, 125), (50_000 * USDT, 500_000, 100)]))
    v = Venue([s])
    accts = v.isolated([10, -10, 900, -900, 3], [20, 20, 10, 10, 50], 50_000)
    idx = LiquidationIndex(MarginView(v.core), 0)
    idx.rebuild()
    a = v.core.arrays()
    for acct in accts:
        q = int(a["size"][0, acct])
        lp = binance_liquidation_price_exact(wallet_atoms=int(a["iso"][0, acct]), size_lots=q,
                                             entry_cost_atoms=int(a["cost"][0, acct]),
                                             tiers=s.tiers, atoms_per_tick_lot=K)
        key = idx.key(acct)
        # the largest tick at or below the exact root for a long, the smallest at or above
        # for a short (the exact test decides a tick that is exactly the root)
        if q > 0:
            assert key in (int(lp), int(lp) - 1) and key < lp + 1
        else:
            assert key in (-(-lp.numerator // lp.denominator), -(-lp.numerator // lp.denominator) + 1)


def test_crossers_are_most_distressed_first_on_both_sides():
    v = Venue()
    longs = v.isolated([10, 10, 10], [5, 20, 10], 50_000)
    shorts = v.isolated([-10, -10], [20, 10], 50_000)
    idx = LiquidationIndex(MarginView(v.core), 0)
    idx.rebuild()
    assert idx.crossers(47_000).tolist() == [longs[1]]              # 20x long only
    assert idx.crossers(40_000).tolist() == [longs[1], longs[2], longs[0]]
    assert idx.crossers(60_000).tolist() == [shorts[0], shorts[1]]


def test_margin_call_levels_are_entered_once_per_move():
    v = Venue()
    (a,) = v.isolated([10], [10], 50_000)
    idx = LiquidationIndex(MarginView(v.core), 0, levels=(50, 80))
    idx.rebuild()
    k50, k80, k100 = idx.key(a, 50), idx.key(a, 80), idx.key(a)
    assert k100 < k80 < k50 < 50_000
    assert idx.entered(50, 50_000, k50 + 1).tolist() == []
    assert idx.entered(50, k50 + 1, k50).tolist() == [a]
    assert idx.entered(80, k50, k80).tolist() == [a]
    assert idx.entered(50, k80, k50 - 1).tolist() == []           # moving back up: no call


def test_dirty_positions_are_merged_in_one_pass_and_flat_ones_dropped():
    v = Venue()
    accts = v.isolated([10, -10, 5], [10, 10, 10], 50_000)
    idx = LiquidationIndex(MarginView(v.core), 0, rebuild_fraction=1.0)
    idx.rebuild()
    v.core.deposit(accts[0], 100 * USDT)
    v.core.adjust_isolated_margin(accts[0], 0, 100 * USDT)       # safer long: lower key
    v.core.transfer_position(accts[2], v.mm, 0, 5, 50_000)         # closed
    before = idx.key(accts[0])
    idx.mark_dirty([accts[0], accts[2], v.mm])                   # the market maker traded too
    idx.flush()
    assert idx.n_merges == 1 and idx.n_rebuilds == 1
    assert idx.key(accts[0]) < before and idx.key(accts[2]) is None
    idx.check()


def test_a_large_dirty_share_rebuilds():
    v = Venue()
    accts = v.isolated([10] * 100, [10] * 100, 50_000)
    idx = LiquidationIndex(MarginView(v.core), 0, rebuild_fraction=0.25)
    idx.rebuild()
    idx.mark_dirty(accts[:80])
    idx.flush()
    assert idx.n_rebuilds == 2
    idx.check()


def test_never_liquidated_positions_are_not_indexed():
    v = Venue()
    (a,) = v.isolated([10], [1], 50_000)                        # 1x long: never
    idx = LiquidationIndex(MarginView(v.core), 0)
    idx.rebuild()
    assert idx.key(a) is None
    assert idx.entries()[0][1].tolist() == []          # no long indexed (only the maker's short)


# -- the compiled kernels agree exactly with the numpy reference -------------------------------

@settings(max_examples=60, deadline=None)
@given(S.trigger_price_inputs())
def test_compiled_trigger_prices_equal_the_reference(inp):
    size, base, extra, k, floors, mmrs, cums, pct = inp
    got = trigger_prices(size, base, extra, k, floors, mmrs, cums, pct)
    ref = trigger_prices_ref(size, base, extra, k, floors, mmrs, cums, pct)
    assert got.tolist() == ref.tolist()


@settings(max_examples=40, deadline=None)
@given(S.trigger_price_inputs(max_size=30))
def test_a_liquidation_key_is_the_last_tick_where_equity_is_below_maintenance(inp):
    size, base, extra, k, floors, mmrs, cums, _ = inp
    keys = trigger_prices(size, base, extra, k, floors, mmrs, cums, 100)

    def below(j, p):
        n = abs(int(size[j])) * p * k
        mm = int(maintenance_margin_ref(np.array([n]), floors, mmrs, cums)[0]) + int(extra[j])
        return mm > int(base[j]) + int(size[j]) * p * k

    for j, key in enumerate(keys.tolist()):
        if size[j] > 0:
            if key == NEVER_LONG:
                assert not below(j, 1)
            else:
                assert below(j, key) and (key + 1 > (1 << 62) // 100 // (abs(int(size[j])) * k)
                                          or not below(j, key + 1))
        elif key != NEVER_SHORT:
            assert below(j, key) and (key == 1 or not below(j, key - 1))


def test_compiled_maintenance_margin_equals_the_reference():
    rng = np.random.default_rng(3)
    n = rng.integers(0, 10**15, 10_000)
    floors = np.array([0, 50_000 * USDT, 250_000 * USDT])
    mmrs = np.array([400_000, 500_000, 1_000_000])
    cums = np.array([0, 50 * USDT, 1_300 * USDT])
    assert np.array_equal(maintenance_margin(n, floors, mmrs, cums),
                          maintenance_margin_ref(n, floors, mmrs, cums))


def test_kernel_arguments_are_checked_at_the_boundary():
    z = np.zeros(1, np.int64)
    with pytest.raises(ValueError, match="'size' must be non-zero"):
        trigger_prices(z, z, z, 1, np.array([0]), np.array([1]), np.array([0]))
    with pytest.raises(ValueError, match="'pct' must be in"):
        trigger_prices(z + 1, z, z, 1, np.array([0]), np.array([1]), np.array([0]), pct=0)


def test_exact_fraction_root_cross_check():
    # a long whose root is an exact integer: the key is the tick below it
    # equity = base + p·k·q, MM = ceil(q·p·k·MMR/1e8) with MMR 1 %: base = −990·p0 for p0
    k, q, p0 = 1, 100, 1_000
    base = -(q * k * p0 - q * k * p0 // 100)                    # equity − MM = 0 at p0
    key = trigger_prices(np.array([q]), np.array([base]), np.array([0]), k, np.array([0]),
                         np.array([1_000_000]), np.array([0]))[0]
    root = Fraction(-base, q * k - q * k // 100)
    assert root == p0 and key == p0 - 1
