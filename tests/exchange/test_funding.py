"""Funding: worked examples from venue-mechanics.md §2 computed by hand, the settlement kernel's
exactness and zero-sum property, and the scheduler's freeze on a stale oracle."""
from __future__ import annotations

import math
from fractions import Fraction

import attrs
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from exchange.errors import ConfigError
from exchange.funding import (
    EIGHT_HOURS_NS,
    HOUR_NS,
    RATE_SCALE,
    FundingIndex,
    FundingRate,
    FundingRateFixed,
    FundingRule,
    FundingScheduler,
    ParamsFundingRule,
    PremiumSampler,
    PremiumSummary,
    base_margin_rates,
    clamped_premium_rate,
    make_funding_rule,
    premium_index,
    settle_funding,
    settle_funding_index,
)
from exchange.oracle import NS_PER_S, Index, Oracle
from exchange.presets import load_preset
from exchange.sim.sources import ConstantSource, FreezeFault
from tests import strategies

S = NS_PER_S


class ImpactBook:
    """A book reduced to what funding needs: best prices and the two impact prices."""

    def __init__(self, impact_bid, impact_ask, bid=None, ask=None):
        self.impact_bid, self.impact_ask = impact_bid, impact_ask
        self.bid = bid if bid is not None else (None if impact_bid is None else int(impact_bid))
        self.ask = ask if ask is not None else (None if impact_ask is None else int(impact_ask) + 1)

    def best_bid(self):
        return self.bid

    def best_ask(self):
        return self.ask

    def impact_price(self, side, notional):
        return self.impact_bid if side == 1 else self.impact_ask


def preset_rule(preset: str, *, imr: int | None = None, mmr: int | None = None,
                **overrides) -> ParamsFundingRule:
    """The rule runs use: :class:`ParamsFundingRule` from a venue preset's ``[funding]`` table
    and its first instrument's base margin rates, with the fields an example fixes differently
    overridden."""
    pr = load_preset(preset)
    base_imr, base_mmr = base_margin_rates(next(iter(pr.instruments.values())))
    return ParamsFundingRule.from_params(attrs.evolve(pr.funding, **overrides),
                                         imr=base_imr if imr is None else imr,
                                         mmr=base_mmr if mmr is None else mmr)


#: Binance's default cap ±3 % (contracts with max leverage <= 25x); the binance_usdm preset
#: carries BTCUSDT's ±0.3 %
BINANCE_CAP_3PCT = {"cap_rate": 3_000_000}


def summary(premium_avg: int, **kw) -> PremiumSummary:
    return PremiumSummary(premium_avg=premium_avg, n_samples=1, ts_start_ns=0, ts_end_ns=0, **kw)


def run_scheduler(sched: FundingScheduler, oracle: Oracle, book, until_ns: int, mark_ticks=None):
    """Drive the scheduler at its wake-up times, the oracle first; all outcomes in order."""
    out = []
    while sched.next_wakeup_ns() <= until_ns:
        ts = sched.next_wakeup_ns()
        oracle.update(ts)
        out += sched.step(ts, oracle=oracle, book=book, mark_ticks=mark_ticks)
    return out


def constant_oracle(price: float, tick_size: float = 1.0) -> Oracle:
    return Oracle(Index([ConstantSource(price)], tick_size=tick_size), S)


# -- premium and sampling --

def test_premium_index_definition():
    """I = 100,000 ticks. impact bid 100,050, impact ask 100,080: (50 - 0)/1e5 = 0.0005.
    impact bid 99,900, impact ask 99,950: (0 - 50)/1e5 = -0.0005. Inside the spread: 0.
    A side too thin (None) contributes 0."""
    assert premium_index(100_000, 100_050, 100_080) == pytest.approx(0.0005)
    assert premium_index(100_000, 99_900, 99_950) == pytest.approx(-0.0005)
    assert premium_index(100_000, 99_990, 100_010) == 0.0
    assert premium_index(100_000, None, 99_950) == pytest.approx(-0.0005)


@pytest.mark.parametrize("averaging, times, expected", [
    # premiums 0.0001, 0.0002, 0.0003 (impact bids 10, 20, 30 ticks over I = 100,000)
    # regular 5 s: weights 1, 2, 3 -> (1 + 4 + 9)/6 · 1e-4 = 2.3333e-4 -> 23,333
    ("time_weighted", (5, 10, 15), 23_333),
    ("linear_weights", (5, 10, 15), 23_333),
    ("twap", (5, 10, 15), 20_000),
    ("mean", (5, 10, 15), 20_000),
    # a gap (5, 10, 30 s): time_weighted weights 5, 10, 30 -> (0.5 + 2 + 9)/45 · 1e-4 = 2.5556e-4
    ("time_weighted", (5, 10, 30), 25_556),
    # linear_weights ignores time: still 23,333
    ("linear_weights", (5, 10, 30), 23_333),
    # twap weights = time since previous sample 5, 5, 20 -> (0.5 + 1 + 6)/30 · 1e-4 = 2.5e-4
    ("twap", (5, 10, 30), 25_000),
])
def test_premium_averaging_modes(averaging, times, expected):
    sampler = PremiumSampler(averaging, 5 * S, 1_000)
    for k, t in enumerate(times, start=1):
        sampler.sample(t * S, 100_000, ImpactBook(100_000 + 10 * k, 100_100))
    assert sampler.summary(times[-1] * S).premium_avg == expected


def test_dydx_minute_median_pads_missing_votes_with_zeros():
    """Minute 1: 10 votes of 0.001 -> with 5 zero pads (15 values) the median is 0.001.
    Minute 2: 5 votes of 0.002 -> 10 zero pads -> median 0. Minutes 3..60: no votes -> 0.
    Hourly mean = 0.001/60 = 1.6667e-5 -> 1,667."""
    sampler = PremiumSampler("minute_median_hourly_mean", S, 1_000)
    for t in range(1, 11):
        sampler.sample(t * S, 100_000, ImpactBook(100_100, 100_200))   # P = 0.001
    for t in range(61, 66):
        sampler.sample(t * S, 100_000, ImpactBook(100_200, 100_300))   # P = 0.002
    assert sampler.summary(3600 * S).premium_avg == 1_667


def test_dydx_votes_are_clamped():
    """IMF 1 %, MMF 0.9 %: vote clamp 60 · 0.1 % = 6 %. A premium of 10 % votes 6 %.
    The preset's own Large-Cap tier (2 % / 1.2 %): 60 · 0.8 % = 48 %; a premium of 60 % votes
    48 %, one of 10 % is unchanged. (Runs built from the preset used not to clamp votes.)"""
    rule = preset_rule("dydx_v4", imr=1_000_000, mmr=900_000)
    sampler = rule.make_sampler(1_000)
    assert sampler.sample(S, 1_000, ImpactBook(1_100, 1_200)) == pytest.approx(0.06)
    rule = make_funding_rule(load_preset("dydx_v4"), "BTC-USD")
    assert rule.vote_clamp == 48_000_000
    sampler = rule.make_sampler(1_000)
    assert sampler.sample(S, 1_000, ImpactBook(1_600, 1_700)) == pytest.approx(0.48)
    assert sampler.sample(2 * S, 1_000, ImpactBook(1_100, 1_200)) == pytest.approx(0.10)


def test_drift_sampler_takes_time_weighted_mark_and_oracle_twaps():
    """Samples at 1 s (mid 101, oracle 100) and 4 s (mid 104, oracle 100), weights dt = 1, 3:
    mark TWAP = (101 + 3·104)/4 = 103.25, oracle TWAP = 100."""
    sampler = PremiumSampler("twap_spread", S, 1)
    sampler.sample(S, 100, ImpactBook(None, None, bid=100, ask=102))
    sampler.sample(4 * S, 100, ImpactBook(None, None, bid=103, ask=105))
    s = sampler.summary(4 * S)
    assert (s.mark_twap, s.oracle_twap) == (103.25, 100.0)
    assert s.premium_avg == 3_250_000


# -- rules: worked examples --

def test_binance_rate_with_the_clamp():
    """r = 0.01 % (10,000), clamp ±0.05 % (50,000), 8 h:
    P = 0.03 %: F = 0.0003 + clamp(0.0001 - 0.0003 = -0.0002) = 0.0001 -> 10,000 (= r).
    P = 0.10 %: F = 0.0010 + clamp(-0.0009 -> -0.0005) = 0.0005 -> 50,000.
    P = -0.10 %: F = -0.0010 + clamp(0.0011 -> 0.0005) = -0.0005 -> -50,000.
    P = 0.012 % (12,000): r - P = -0.002 % inside the band -> F = r = 10,000."""
    rule = preset_rule("binance_usdm")
    assert [rule.compute(summary(p), EIGHT_HOURS_NS).rate for p in (30_000, 100_000, -100_000, 12_000)] \
        == [10_000, 50_000, -50_000, 10_000]
    assert clamped_premium_rate(30_000, 10_000, 50_000) == 10_000


def test_binance_scales_by_interval_hours_over_eight():
    """F = [P + clamp(r - P)] / (8/N). P = 0.10 % -> bracket 0.05 %:
    N = 4: 0.0005 / 2 = 0.00025 -> 25,000. N = 1: 0.0005 / 8 = 0.0000625 -> 6,250.
    P = 0.0301 % -> bracket = r = 0.01 % -> N = 1: 10,000/8 = 1,250."""
    rule = preset_rule("binance_usdm", pay_every_hours=4)
    assert rule.interval_ns == 4 * HOUR_NS
    assert rule.compute(summary(100_000), 4 * HOUR_NS).rate == 25_000
    assert rule.compute(summary(100_000), HOUR_NS).rate == 6_250
    assert rule.compute(summary(30_100), HOUR_NS).rate == 1_250


def test_binance_cap_binds_and_is_flagged():
    """P = 5 % -> F8 = 0.05 - 0.0005 = 4.95 % > cap 3 % -> 3,000,000, capped. The 8 h rate
    is the capped one Binance publishes (``fundingRate``), 3 %, not the uncapped 4.95 %."""
    got = preset_rule("binance_usdm", **BINANCE_CAP_3PCT).compute(summary(5_000_000), EIGHT_HOURS_NS)
    assert (got.rate, got.rate_8h, got.capped) == (3_000_000, 3_000_000, True)


def test_bybit_uses_linear_weights_every_minute():
    rule = preset_rule("bybit_linear")
    assert (rule.averaging, rule.sample_ns) == ("linear_weights", 60 * S)
    assert rule.compute(summary(30_000), EIGHT_HOURS_NS).rate == 10_000


def test_bitmex_cap_is_three_quarters_of_imr_minus_mmr():
    """IMR 1 %, MMR 0.5 % (the preset's base tier, 100x): cap = 0.75 · 0.5 % = 0.375 % ->
    375,000, derived from the margins.
    P = 1 %: F = 0.01 + clamp(0.0001 - 0.01 -> -0.0005) = 0.95 % -> capped 375,000, and the
    published 8 h rate is that capped rate (no interval scaling at BitMEX).
    P = -1 %: F = -0.01 + 0.0005 = -0.95 % -> -375,000. P = 0.2 %: F = 0.15 % -> 150,000.
    A base tier of 2 % / 1 % (50x) doubles the cap: 750,000."""
    rule = preset_rule("bitmex")
    assert (rule.cap, rule.margin_cap) == (None, 375_000)
    assert rule.compute(summary(1_000_000), EIGHT_HOURS_NS) == FundingRate(375_000, 375_000, True)
    assert rule.compute(summary(-1_000_000), EIGHT_HOURS_NS).rate == -375_000
    assert rule.compute(summary(200_000), EIGHT_HOURS_NS).rate == 150_000
    assert preset_rule("bitmex", imr=2_000_000, mmr=1_000_000).margin_cap == 750_000


def test_hyperliquid_pays_an_eighth_each_hour_with_a_four_percent_cap():
    """F8 = P + clamp(0.0001 - P, ±0.0005).
    P = 0.03 % -> F8 = 0.01 % = 10,000 -> hourly 10,000/8 = 1,250.
    P = 0.0701 % (70,100) -> r - P = -0.0601 % -> clamp -0.05 % -> F8 = 0.0201 % = 20,100 ->
    /8 = 2,512.5 -> half to even -> 2,512.
    P = 50 % -> F8 = 49.95 % -> /8 = 6.24375 % > 4 %/h -> 4,000,000, capped; in 8 h terms
    what is paid is 8 · 4 % = 32 % (the uncapped F8 49.95 % is never paid)."""
    rule = preset_rule("hyperliquid")
    assert rule.compute(summary(30_000), HOUR_NS).rate == 1_250
    assert rule.compute(summary(70_100), HOUR_NS).rate == 2_512
    got = rule.compute(summary(50_000_000), HOUR_NS)
    assert (got.rate, got.rate_8h, got.capped) == (4_000_000, 32_000_000, True)


def test_hyperliquid_hourly_payment_is_on_the_oracle_price():
    """Book impact bid 30 ticks over I = 100,000 (P = 0.03 %) all hour -> hourly rate 1,250.
    Payment price = oracle 100,000 (the mark 100,500 is ignored). Long 2 lots, short 2 lots,
    1 atom per tick·lot: 2 · 100,000 · 1,250 / 1e8 = 2.5 -> long pays 3, short receives 2,
    1 atom to the fee pool."""
    oracle = constant_oracle(100_000.0)
    rule = preset_rule("hyperliquid")
    sched = FundingScheduler(rule, rule.make_sampler(1_000))
    out = run_scheduler(sched, oracle, ImpactBook(100_030.0, 100_100.0), HOUR_NS, mark_ticks=100_500)
    (fixed,) = out
    assert isinstance(fixed, FundingRateFixed)
    assert (fixed.rate, fixed.price_ticks, fixed.n_samples) == (1_250, 100_000, 720)
    pay, rem = settle_funding(np.array([2, -2], dtype=np.int64), fixed.price_ticks, fixed.rate, 1)
    assert pay.tolist() == [3, -2] and rem == 1


def test_dydx_rate_and_its_clamp():
    """R8 = mean(minute samples) + default funding. P = 0.07 % + default 0.01 % = 0.08 % ->
    hourly R·1h/8h = 10,000. Current Large-Cap IMF 2 %, MMF 1.2 % (the preset's tier): |R8| <=
    6 · 0.8 % = 4.8 %, clamped before the hourly pro-rating: P = 20 % -> R8 4.8 % (the 8 h rate
    dYdX emits) -> hourly 600,000. Genesis 5 % / 3 %: |R8| <= 12 % -> hourly 1,500,000."""
    rule = preset_rule("dydx_v4", interest_rate=10_000)
    assert (rule.cap, rule.margin_cap) == (None, 4_800_000)
    got = rule.compute(summary(70_000), HOUR_NS)
    assert (got.rate, got.rate_8h) == (10_000, 80_000)
    got = rule.compute(summary(20_000_000), HOUR_NS)
    assert (got.rate, got.rate_8h, got.capped) == (600_000, 4_800_000, True)
    genesis = preset_rule("dydx_v4", interest_rate=10_000, imr=5_000_000, mmr=3_000_000)
    got = genesis.compute(summary(20_000_000), HOUR_NS)
    assert (got.rate, got.rate_8h, got.capped) == (1_500_000, 12_000_000, True)
    assert genesis.vote_clamp == 120_000_000


def test_dydx_index_accrual():
    """Oracle 20,000 ticks, 10 atoms per tick·lot, hourly rate 10,000 (0.01 %):
    index += 20,000 · 10 · 10,000 = 2e9 (atoms·1e-8 per lot = 20 atoms per lot).
    Hour 2 at oracle 21,000: += 2.1e9 -> 4.1e9. A long of 3 lots open since index 0 pays
    3 · 4.1e9 / 1e8 = 123 atoms; a short of 3 opened after hour 1 (index 2e9) receives
    3 · 2.1e9 / 1e8 = 63."""
    idx = FundingIndex(atoms_per_tick_lot=10)
    assert idx.accrue(20_000, 10_000) == 2_000_000_000
    assert idx.accrue(21_000, 10_000) == 4_100_000_000
    pay, total = settle_funding_index(np.array([3, -3], dtype=np.int64),
                                      np.array([idx.value - 0, idx.value - 2_000_000_000]))
    assert pay.tolist() == [123, -63] and total == 60


def test_dydx_index_rounds_in_the_venues_favour():
    """Δindex = 150,000,001 (1.50000001 atoms per lot): +1 lot pays ceil = 2, -1 lot
    receives floor = 1; remainder 1."""
    pay, rem = settle_funding_index(np.array([1, -1], dtype=np.int64), 150_000_001)
    assert pay.tolist() == [2, -1] and rem == 1


def test_dydx_scheduler_accrues_the_index_on_the_oracle():
    """Book flat at the index (P = 0), default funding 0.01 %/8 h -> hourly 1,250; oracle 1,000,
    1 atom per tick·lot: index += 1,000 · 1,250 per hour."""
    oracle = constant_oracle(1_000.0)
    rule = preset_rule("dydx_v4", interest_rate=10_000)
    sched = FundingScheduler(rule, rule.make_sampler(10), atoms_per_tick_lot=1)
    out = run_scheduler(sched, oracle, ImpactBook(999.0, 1_001.0), 2 * HOUR_NS)
    assert [o.funding_index for o in out] == [1_250_000, 2_500_000]
    assert all(o.accrual == "index" and o.price_ticks == 1_000 for o in out)


def test_drift_amortised_rate_and_its_clamp():
    """rate_h = clamp(mT - oT + oT/5000, ±k·oT) / oT / 24, k = 3 %.
    mT 101, oT 100: spread 1 + 0.02 = 1.02 -> 1.02/100/24 = 0.000425 -> 42,500.
    mT 99: -1 + 0.02 = -0.98 -> -0.000408333 -> -40,833.
    mT 110: 10.02 clamped to 3 -> 3/100/24 = 0.00125 -> 125,000, capped.
    last mark 111 vs oracle 100 (11 % > 10 %): skipped."""
    rule = preset_rule("drift")

    def go(mt, last_mark=None):
        return rule.compute(summary(0, mark_twap=mt, oracle_twap=100.0,
                                    last_mark=last_mark or mt, last_oracle=100), HOUR_NS)

    assert go(101.0).rate == 42_500
    assert go(99.0).rate == -40_833
    got = go(110.0)
    assert (got.rate, got.capped) == (125_000, True)
    assert go(110.0, last_mark=111.0).skip_reason is not None
    assert rule.compute(summary(0), HOUR_NS).skip_reason == "no mark/oracle samples in the period"


def test_drift_scheduler_pays_on_the_oracle_twap():
    """Book mid 101 all hour vs oracle 100 -> rate 42,500, payment price round(oracle TWAP) = 100."""
    oracle = constant_oracle(100.0)
    rule = preset_rule("drift", sampling_interval_s=10)
    sched = FundingScheduler(rule, rule.make_sampler(1))
    (fixed,) = run_scheduler(sched, oracle, ImpactBook(None, None, bid=100, ask=102), HOUR_NS)
    assert (fixed.rate, fixed.price_ticks, fixed.funding_index) == (42_500, 100, 4_250_000)


# -- scheduler --

def test_crowded_long_market_makes_longs_pay():
    """Bids well above the index: I = 100,000, impact bid 100,500, impact ask 100,600 ->
    P = 500/1e5 = 0.5 % > 0. Binance: F = 0.005 + clamp(0.0001 - 0.005 -> -0.0005) = 0.45 %
    -> 450,000. Settled on mark 100,550 with 1 atom per tick·lot: long +5 pays
    5·100,550·0.0045 = 2,262.375 -> 2,263; shorts -3, -2 receive 1,357.425 -> 1,357 and
    904.95 -> 904; remainder 2."""
    oracle = constant_oracle(100_000.0)
    rule = preset_rule("binance_usdm", **BINANCE_CAP_3PCT)
    sched = FundingScheduler(rule, rule.make_sampler(4_000))
    out = run_scheduler(sched, oracle, ImpactBook(100_500.0, 100_600.0), EIGHT_HOURS_NS,
                        mark_ticks=100_550)
    (fixed,) = out
    assert fixed.rate == 450_000 and fixed.premium_avg == 500_000 and fixed.n_samples == 5_760
    pay, rem = settle_funding(np.array([5, -3, -2], dtype=np.int64), fixed.price_ticks, fixed.rate, 1)
    assert pay.tolist() == [2_263, -1_357, -904] and rem == 2
    assert pay[0] > 0


def test_crowded_long_market_with_the_compiled_book():
    """Same with the matching engine's book: bids 100,500 x 1,000 lots, asks 100,600 x 1,000;
    impact notional 4,000 ticks·lots fills inside the top level -> P = 0.5 %."""
    matching = pytest.importorskip("matching")
    book = matching.Book()
    book.limit(1, 0, 100_500, 1_000)
    book.limit(2, 1, 100_600, 1_000)
    sampler = PremiumSampler("time_weighted", 5 * S, 4_000)
    assert sampler.sample(5 * S, 100_000, book) == pytest.approx(0.005)
    rule = preset_rule("binance_usdm", **BINANCE_CAP_3PCT)
    assert rule.compute(sampler.summary(5 * S), EIGHT_HOURS_NS).rate == 450_000


def test_hitting_the_binance_cap_switches_to_hourly_funding():
    """Impact bid 10 % over the index: F8 = 0.1 - 0.0005 = 9.95 % -> capped at 3 %; the next
    settlement is 1 h later and pays F8/8 capped: 9.95 %/8 = 1.24375 % -> 1,243,750."""
    oracle = constant_oracle(1_000.0)
    rule = preset_rule("binance_usdm", sampling_interval_s=60, **BINANCE_CAP_3PCT)
    sched = FundingScheduler(rule, rule.make_sampler(10))
    book = ImpactBook(1_100.0, 1_200.0)
    (first,) = run_scheduler(sched, oracle, book, EIGHT_HOURS_NS, mark_ticks=1_000)
    assert (first.rate, first.capped) == (3_000_000, True)
    assert sched.interval_ns == HOUR_NS and sched.next_settlement_ns == 9 * HOUR_NS
    (second,) = run_scheduler(sched, oracle, book, 9 * HOUR_NS, mark_ticks=1_000)
    assert (second.rate, second.interval_ns) == (1_243_750, HOUR_NS)


def test_bitmex_rate_is_fixed_one_interval_ahead():
    """P = 0.2 % all along -> F = 0.15 % (150,000). The first settlement pays the rate announced
    before any sample (interest only, 0.01 %) and announces 0.15 %; the second pays it."""
    oracle = constant_oracle(10_000.0)
    rule = preset_rule("bitmex")
    sched = FundingScheduler(rule, rule.make_sampler(100))
    out = run_scheduler(sched, oracle, ImpactBook(10_020.0, 10_050.0), 2 * EIGHT_HOURS_NS,
                        mark_ticks=10_000)
    assert [(o.rate, o.next_rate) for o in out] == [(10_000, 150_000), (150_000, 150_000)]


def test_a_frozen_oracle_freezes_funding():
    """Both index sources freeze (no updates) from 1 h to 3 h; index staleness 5 min, funding
    stale limit 60 s (Drift-style), Hyperliquid hourly funding sampled every 5 s.
    - 1 h: the index still has fresh values -> paid.
    - last source update 3,595 s; index stale after 300 s -> last live oracle reading at 3,895 s;
      funding frozen from 3,895 + 60 s + the next 5 s step = 3,960 s; no samples.
    - 2 h: settlement skipped (frozen). 3 h: sources resume -> resumed, settlement with the one
      sample taken at 3 h (the sampler restarted at the skip). 4 h: a full hour again."""
    srcs = [FreezeFault(ConstantSource(p), HOUR_NS, 3 * HOUR_NS) for p in (100.0, 100.2)]
    oracle = Oracle(Index(srcs, tick_size=0.1), S)
    rule = preset_rule("hyperliquid")
    sched = FundingScheduler(rule, rule.make_sampler(100), stale_limit_ns=60 * S)
    out = run_scheduler(sched, oracle, ImpactBook(1_002.0, 1_003.0), 4 * HOUR_NS)
    kinds = [(type(o).__name__, o.ts_ns // S) for o in out]
    assert kinds == [("FundingRateFixed", 3600), ("FundingFrozen", 3960), ("FundingSkipped", 7200),
                     ("FundingResumed", 10800), ("FundingRateFixed", 10800),
                     ("FundingRateFixed", 14400)]
    assert "stale" in out[2].reason
    assert [o.n_samples for o in out if isinstance(o, FundingRateFixed)] == [720, 1, 720]


def test_make_funding_rule_by_name_and_by_params():
    """Venue and preset names build the preset's rule; a mapping with ``venue`` overrides its
    ``[funding]`` fields or base margins; unknown names and parameters are refused."""
    for name, preset in (("binance", "binance_usdm"), ("bybit", "bybit_linear"),
                         ("bitmex", "bitmex"), ("hyperliquid", "hyperliquid"),
                         ("dydx", "dydx_v4"), ("drift", "drift"), ("dydx_v4", "dydx_v4")):
        rule = make_funding_rule(name)
        assert isinstance(rule, FundingRule)
        assert repr(rule) == repr(make_funding_rule(load_preset(preset)))
    rule = make_funding_rule({"venue": "bitmex", "imr": 2_000_000, "mmr": 1_000_000})
    assert rule.margin_cap == 750_000
    assert make_funding_rule({"venue": "binance", "pay_every_hours": 4}).interval_ns == 4 * HOUR_NS
    with pytest.raises(ConfigError, match="'funding.venue' must be one of"):
        make_funding_rule("okx")
    with pytest.raises(ConfigError, match="bad parameters"):
        make_funding_rule({"venue": "binance", "nope": 1})
    with pytest.raises(ConfigError):
        make_funding_rule({"interval_ns": 1})
    with pytest.raises(ConfigError, match="base margin rates"):
        ParamsFundingRule.from_params(load_preset("dydx_v4").funding)


def test_a_margin_derived_bound_follows_each_instruments_base_tier():
    """BitMEX XBTUSDT and ETHUSDT share the 1 %/0.5 % base tier -> 0.375 %. ETHUSDT's base
    MMR lowered to 0.4 %: 0.75 · 0.6 % = 0.45 % for ETHUSDT only; a preset whose instruments
    differ needs the instrument named."""
    pr = load_preset("bitmex")
    assert make_funding_rule(pr, "ETHUSDT").margin_cap == 375_000
    eth = pr.with_overrides({"instruments.ETHUSDT.tiers.0.mmr": "0.004"})
    assert make_funding_rule(eth, "ETHUSDT").margin_cap == 3 * (1_000_000 - 400_000) // 4
    assert make_funding_rule(eth, "XBTUSDT").margin_cap == 375_000
    with pytest.raises(ConfigError, match="base margin rates"):
        make_funding_rule(eth)
    assert make_funding_rule(eth, eth.instrument("ETHUSDT")).margin_cap == 450_000


# -- rules from a preset's [funding] table --

def test_params_rule_reproduces_binance_scaling_and_the_hyperliquid_eighth():
    """[funding] semantics: F per interval_hours, each payment pays F·pay_every/interval.
    Binance 4 h symbol = interval 8, pay every 4: P = 0.10 % -> F = 0.05 % -> /2 = 25,000.
    Hyperliquid = interval 8, pay every 1, cap 4 % per payment: P = 0.0701 % -> F = 0.0201 %
    -> /8 = 2,512.5 -> 2,512; P = 50 % -> 6.24 % -> 4,000,000 capped."""
    binance = make_funding_rule({"interval_hours": 8, "pay_every_hours": 4, "sampling_interval_s": 5,
                                 "averaging": "time_weighted", "interest_rate": 10_000,
                                 "clamp_rate": 50_000, "cap_rate": 3_000_000})
    assert isinstance(binance, ParamsFundingRule) and binance.interval_ns == 4 * HOUR_NS
    assert binance.compute(summary(100_000), binance.interval_ns).rate == 25_000
    hyper = ParamsFundingRule(interval_hours=8, pay_every_hours=1, sampling_interval_s=5,
                              averaging="mean", interest_rate=10_000, clamp_rate=50_000,
                              cap_rate=4_000_000, payment_price="oracle")
    assert hyper.compute(summary(70_100), HOUR_NS).rate == 2_512
    assert hyper.compute(summary(50_000_000), HOUR_NS).capped


def test_params_rule_for_dydx_and_drift():
    """dYdX: no clamp term, R = P + interest, cap 1.5 % per hourly payment: P = 0.07 %,
    interest 0.01 % -> 0.08 %/8 -> 10,000; median window = sampling_interval_s (60 s), votes
    every second. Drift: interest 0.02 % per 24 h amortisation, spread clamp 3 %:
    mT 101, oT 100 -> (1 + 0.02)/100/24 -> 42,500."""
    dydx = ParamsFundingRule(interval_hours=8, pay_every_hours=1, sampling_interval_s=60,
                             averaging="minute_median_hourly_mean", interest_rate=10_000,
                             cap_rate=1_500_000, payment_price="oracle")
    assert dydx.compute(summary(70_000), HOUR_NS).rate == 10_000
    assert (dydx.sample_ns, dydx.window_ns, dydx.accrual) == (S, 60 * S, "index")
    drift = ParamsFundingRule(interval_hours=1, pay_every_hours=1, sampling_interval_s=1,
                              averaging="twap_spread", interest_rate=20_000, cap_rate=3_000_000,
                              payment_price="oracle", amortisation_hours=24)
    got = drift.compute(summary(0, mark_twap=101.0, oracle_twap=100.0, last_mark=101.0,
                                last_oracle=100), HOUR_NS)
    assert got.rate == 42_500
    with pytest.raises(ConfigError, match="'amortisation_hours'"):
        ParamsFundingRule(interval_hours=1, pay_every_hours=1, sampling_interval_s=1,
                          averaging="twap_spread", interest_rate=0)


def test_rates_fixed_two_intervals_ahead():
    """fixed_ahead_intervals = 2: the first two settlements pay the interest-only rate
    (0.01 %), the third pays the rate fixed at the first (P = 0.2 % -> 0.15 %)."""
    rule = ParamsFundingRule(interval_hours=1, pay_every_hours=1, sampling_interval_s=60,
                             averaging="twap", interest_rate=10_000, clamp_rate=50_000,
                             fixed_ahead_intervals=2)
    sched = FundingScheduler(rule, rule.make_sampler(100))
    out = run_scheduler(sched, constant_oracle(10_000.0), ImpactBook(10_020.0, 10_050.0),
                        3 * HOUR_NS, mark_ticks=10_000)
    assert [o.rate for o in out] == [10_000, 10_000, 150_000]


def test_every_preset_builds_a_funding_rule_and_its_mark_method():
    presets = pytest.importorskip("exchange.presets")
    from exchange.oracle import make_mark_method
    for name in presets.list_presets():
        preset = presets.load_preset(name)
        rule = make_funding_rule(preset)
        assert isinstance(rule, FundingRule)
        FundingScheduler(rule, rule.make_sampler(1_000))
        make_mark_method(preset.venue.mark_method)


# -- settlement kernel --

def exact(q: int, price: int, apl: int, rate: int) -> Fraction:
    return Fraction(q * price * apl * rate, RATE_SCALE)


def test_positive_rate_longs_pay_negative_rate_shorts_pay():
    """q = ±10, price 1,000, 1 atom, rate ±0.01 %: exact ±1 atom."""
    size = np.array([10, -10], dtype=np.int64)
    assert settle_funding(size, 1_000, 10_000, 1)[0].tolist() == [1, -1]
    assert settle_funding(size, 1_000, -10_000, 1)[0].tolist() == [-1, 1]


def test_settle_rejects_bad_inputs():
    good = np.array([1, -1], dtype=np.int64)
    with pytest.raises(ValueError, match="'size_lots' must be a 1-D numpy int64 array"):
        settle_funding(good.astype(np.float64), 1, 1, 1)
    with pytest.raises(ValueError, match="net to zero"):
        settle_funding(np.array([2, -1], dtype=np.int64), 1, 1, 1)
    with pytest.raises(ValueError, match="fits in int64"):
        settle_funding(np.array([2**40, -2**40], dtype=np.int64), 10**9, 10**7, 10**6)
    with pytest.raises(ValueError, match="'out'"):
        settle_funding(good, 1, 1, 1, out=np.empty(3, dtype=np.int64))
    with pytest.raises(ValueError, match="'price_ticks' must be an int"):
        settle_funding(good, 100.5, 1, 1)
    with pytest.raises(ValueError, match="'rate'"):
        settle_funding(good, 1, 2 * RATE_SCALE, 1)


def test_settle_writes_into_preallocated_buffers():
    size = np.array([7, -7], dtype=np.int64)
    out, work = np.empty(2, dtype=np.int64), np.empty(2, dtype=np.int64)
    pay, rem = settle_funding(size, 333, 123_456, 7, out=out, work=work)
    assert pay is out and pay.tolist() == [math.ceil(exact(7, 333, 7, 123_456)),
                                           math.ceil(exact(-7, 333, 7, 123_456))]


@given(size=strategies.balanced_positions(), price=strategies.funding_prices,
       rate=strategies.funding_rates, apl=strategies.atoms_per_tick_lots)
def test_funding_is_exactly_zero_sum_up_to_a_small_remainder(size, price, rate, apl):
    """sum(payments) == remainder, 0 <= remainder < n, every payer pays at least its exact
    amount and every receiver receives at most its exact amount (by less than one atom)."""
    pay, rem = settle_funding(size, price, rate, apl)
    assert int(pay.sum()) == rem
    assert 0 <= rem < len(size)
    for q, p in zip(size.tolist(), pay.tolist()):
        e = exact(q, price, apl, rate)
        assert e <= p < e + 1      # payer: pays >= exact; receiver: receives -p <= -e


@given(data=st.data(), size=strategies.balanced_positions(), rate=strategies.funding_rates,
       apl=strategies.atoms_per_tick_lots)
def test_per_position_prices_round_each_payment_up(data, size, rate, apl):
    prices = np.array(data.draw(st.lists(strategies.funding_prices, min_size=len(size),
                                         max_size=len(size))), dtype=np.int64)
    pay, rem = settle_funding(size, prices, rate, apl)
    assert pay.tolist() == [math.ceil(exact(q, p, apl, rate))
                            for q, p in zip(size.tolist(), prices.tolist())]
    assert rem == int(pay.sum())


@given(data=st.data(), size=strategies.balanced_positions(), delta=strategies.funding_index_deltas)
def test_index_settlement_rounds_in_the_venues_favour(data, size, delta):
    pay, rem = settle_funding_index(size, delta)
    assert pay.tolist() == [math.ceil(Fraction(q * delta, RATE_SCALE)) for q in size.tolist()]
    assert 0 <= rem < len(size)
    deltas = np.array(data.draw(st.lists(strategies.funding_index_deltas, min_size=len(size),
                                         max_size=len(size))), dtype=np.int64)
    pay, _ = settle_funding_index(size, deltas)
    assert pay.tolist() == [math.ceil(Fraction(q * d, RATE_SCALE))
                            for q, d in zip(size.tolist(), deltas.tolist())]


def test_realistic_extremes_do_not_overflow():
    """1e7 lots at 1e7 ticks with 1e3 atoms per tick·lot (notional 1e17 atoms) at a 10 % rate:
    1e16 atoms each way, exactly."""
    size = np.array([10**7, -10**7], dtype=np.int64)
    pay, rem = settle_funding(size, 10**7, 10**7, 10**3)
    assert pay.tolist() == [10**16, -10**16] and rem == 0
    pay, rem = settle_funding(size, np.array([10**7, 10**7], dtype=np.int64), 10**7, 10**3)
    assert pay.tolist() == [10**16, -10**16]
