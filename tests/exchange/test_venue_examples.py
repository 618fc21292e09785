"""Worked examples from the venues' own documentation, with their published numbers.

Each test names the page it transcribes and the date it was read (2026-12-02). Where a page's
example is computed with a formula we implement, the test runs our implementation on the
example's inputs and checks the venue's published result; where a table is published (risk
limits, margin tiers), the preset's table is checked row by row against it.

Binance's liquidation-price FAQ examples live in ``tests/exchange/test_margin.py``
(``test_binance_faq_*``); they are not repeated here.
"""
from __future__ import annotations

import attrs
import numpy as np
import pytest

from exchange._core import VenueCore
from exchange.errors import ConfigError
from exchange.funding import (
    EIGHT_HOURS_NS,
    HOUR_NS,
    ParamsFundingRule,
    PremiumSampler,
    PremiumSummary,
    bitmex_interest_rate,
    make_funding_rule,
    settle_funding,
)
from exchange.instruments import InstrumentSpec, make_tiers
from exchange.liquidation.index import LiquidationIndex
from exchange.liquidation.margin_view import MarginView
from exchange.oracle import NS_PER_S, BybitMark, make_mark_method
from exchange.presets import load_preset, preset_from_dict
from exchange.units import RATE_SCALE

USD = 10**6          # atoms per unit of the settlement asset (6 decimals in every preset)


def mm_at(spec: InstrumentSpec, notional_units: int) -> int:
    """Maintenance margin, in whole units of the settlement asset, of a notional."""
    atoms = spec.maintenance_margin_atoms(notional_units * USD)
    assert atoms % USD == 0, atoms
    return atoms // USD


# -- Bybit ------------------------------------------------------------------------------------
# [BY-RL] Bybit "Margin Parameters", BTCUSDT USDT perpetual, cross & isolated,
#   https://bybitx.global/pt-PT/announcement-info/margin-parameters (read 2026-12-02):
#   tier, risk limit (USDT), max leverage, MMR, maintenance margin deduction (USDT)
BYBIT_BTCUSDT = [
    (1, 2_000_000, 100, "0.5%", 0), (2, 2_600_000, 90, "0.56%", 1_200),
    (3, 3_200_000, 80, "0.63%", 3_020), (4, 3_800_000, 75, "0.67%", 4_300),
    (5, 4_400_000, 70, "0.71%", 5_820), (6, 5_000_000, 65, "0.77%", 8_460),
    (7, 5_600_000, 55, "0.91%", 15_460), (8, 8_500_000, 50, "1%", 20_500),
    (9, 10_000_000, 45, "1.3%", 46_000), (10, 14_000_000, 40, "1.5%", 66_000),
    (11, 20_000_000, 35, "1.6%", 80_000), (12, 28_000_000, 30, "2%", 160_000),
    (13, 38_000_000, 25, "2.5%", 300_000), (14, 50_000_000, 20, "2.9%", 452_000),
    (15, 55_000_000, 19, "3%", 502_000), (16, 60_000_000, 18, "3.5%", 777_000),
    (17, 65_000_000, 17, "3.6%", 837_000), (18, 70_000_000, 16, "3.8%", 967_000),
    (19, 75_000_000, 15, "4%", 1_107_000), (20, 80_000_000, 14, "4.5%", 1_482_000),
]


def _pct_to_rate(pct: str) -> int:
    from decimal import Decimal
    return int(Decimal(pct.rstrip("%")) * 10**6)


class ImpactBook:
    """A one-tick book whose impact bid is ``bid`` (what a funding sampler reads)."""

    def __init__(self, bid):
        self.bid = bid

    def best_bid(self):
        return int(self.bid)

    def best_ask(self):
        return int(self.bid) + 1

    def impact_price(self, side, notional):
        return self.bid if side == 1 else self.bid + 1


def test_bybit_btcusdt_preset_is_the_published_20_tier_risk_limit_table():
    spec = load_preset("bybit_linear").instrument("BTCUSDT")
    assert len(spec.tiers) == 20
    prev_limit = 0
    for (n, limit, lev, mmr, deduction), tier in zip(BYBIT_BTCUSDT, spec.tiers):
        assert tier.notional_floor_atoms == prev_limit * USD, n     # our floor = tier n-1's limit
        assert tier.max_leverage == lev, n
        assert tier.mmr == _pct_to_rate(mmr), n
        assert tier.maintenance_amount_atoms == deduction * USD, n
        prev_limit = limit
    assert spec.max_position_notional_atoms == 80_000_000 * USD


def test_bybit_btcusdt_maintenance_at_given_notionals():
    """MM = position value × MMR − deduction [BY-RL]. The issue's example: 2.5M → 12,800
    (tier 2: 2,500,000 × 0.56 % − 1,200); perpsim's placeholder gave 15,000. Tier 2 allows 90x."""
    spec = load_preset("bybit_linear").instrument("BTCUSDT")
    assert mm_at(spec, 2_500_000) == 12_800
    assert spec.max_leverage_for(2_500_000 * USD) == 90
    assert mm_at(spec, 1_000_000) == 5_000                 # tier 1: 0.5 %
    assert mm_at(spec, 9_000_000) == 9_000_000 * 13 // 1000 - 46_000   # tier 9: 71,000
    assert mm_at(spec, 79_000_000) == 79_000_000 * 45 // 1000 - 1_482_000
    # at each published risk limit the two adjacent rows give the same MM (the deduction rule)
    for (_, limit, _, mmr, ded), _nxt in zip(BYBIT_BTCUSDT, BYBIT_BTCUSDT[1:]):
        lower = limit * _pct_to_rate(mmr) // RATE_SCALE - ded
        assert mm_at(spec, limit) == lower


def _bybit_isolated_long(spec: InstrumentSpec):
    """Bybit [BY-LP] Example 1: long 1 BTC at 20,000 USDT with 50x, MMR 0.5 %, no extra margin."""
    core = VenueCore([spec])
    trader, cp = core.open_account(), core.open_account()
    core.deposit(cp, 10**9 * USD)
    entry = spec.price_to_ticks("20000")
    core.bulk_open_positions([trader], 0, [spec.qty_to_lots("1")], entry, [50], cp,
                             margins=[400 * USD])
    core.set_mark(0, entry)
    core.check_invariants()
    return core, trader


def test_bybit_help_centre_isolated_long_liquidation_price_is_19700_on_entry_value():
    """Bybit help centre, "Liquidation Price (USDT Contract)",
    https://testnet.bybit.com/en-US/help-center/s/article/Liquidation-Price-USDT-Contract (read
    2026-12-02), Example 1: IM = 1 × 20,000 / 50 = 400; MM = 1 × 20,000 × 0.5 % − 0 = 100;
    LP = 20,000 − (400 − 100) = 19,700 USDT. Bybit's MM is on the entry value, so it stays 100
    while the mark falls, and equity (400 + uPnL) meets it exactly at 19,700: our test
    ``equity < MM`` first holds one tick below, at 19,699.9."""
    spec = load_preset("bybit_linear").instrument("BTCUSDT")
    assert spec.maintenance_basis == "entry"
    core, a = _bybit_isolated_long(spec)
    assert core.arrays()["iso"][0, a] == 400 * USD
    for mark in ("20000", "19850", "19700"):
        core.set_mark(0, spec.price_to_ticks(mark))
        assert core.maintenance_margin(a, 0) == 100 * USD          # entry value × 0.5 %
    lp = spec.price_to_ticks("19700")
    core.set_mark(0, lp)
    assert core.arrays()["iso"][0, a] + core.upnl(a, 0) == 100 * USD     # equity == MM at LP
    view = MarginView(core)
    assert not view.liquidatable(0, np.array([a]))[0]
    core.set_mark(0, lp - 1)
    assert view.liquidatable(0, np.array([a]))[0]
    idx = LiquidationIndex(view, 0)
    idx.rebuild()
    assert idx.key(a) == lp - 1
    idx.check()
    core.check_invariants()


def test_bybit_example_on_a_mark_basis_would_give_a_different_price():
    """The same position with MM on the mark (Binance's basis): 400 + (p − 20,000) < 0.5 %·p
    first holds at p = 19,698.4 (19,600 / 0.995 = 19,698.49), not Bybit's 19,700 — so the
    example distinguishes the two bases."""
    spec = attrs.evolve(load_preset("bybit_linear").instrument("BTCUSDT"), maintenance_basis="mark")
    core, a = _bybit_isolated_long(spec)
    idx = LiquidationIndex(MarginView(core), 0)
    idx.rebuild()
    assert idx.key(a) == spec.price_to_ticks("19698.4")
    core.set_mark(0, spec.price_to_ticks("19800"))
    assert core.maintenance_margin(a, 0) == 99 * USD               # 19,800 × 0.5 %


def test_bybit_entry_basis_short_follows_the_published_formula():
    """Bybit's short formula [BY-LP]: LP = entry + (IM − MM)/size. Short 2 BTC at 30,000.0,
    25x: IM = 60,000/25 = 2,400, MM = 60,000 × 0.5 % = 300 → LP = 30,000 + 2,100/2 = 31,050
    (our inputs, the page's formula). The index key of a short is the first price where equity
    < MM: one tick above."""
    spec = load_preset("bybit_linear").instrument("BTCUSDT")
    core = VenueCore([spec])
    a, cp = core.open_account(), core.open_account()
    core.deposit(cp, 10**9 * USD)
    entry = spec.price_to_ticks("30000")
    core.bulk_open_positions([a], 0, [-spec.qty_to_lots("2")], entry, [25], cp,
                             margins=[2_400 * USD])
    core.set_mark(0, entry)
    assert core.maintenance_margin(a, 0) == 300 * USD
    idx = LiquidationIndex(MarginView(core), 0)
    idx.rebuild()
    assert idx.key(a) == spec.price_to_ticks("31050") + 1
    core.check_invariants()


def test_bybit_mark_is_the_median_with_a_five_minute_basis_average():
    """Bybit help centre, "Mark Price Calculation (Perpetual Contract)" (read 2026-12-02):
    Mark = Median(P1, P2, last); P2 = Index + MA(5-minute basis) measured every second. After
    301 one-second samples the MA covers the last 300: basis samples 1..301 (mid = index + k)
    → mean of 2..301 = 151.5 → P2 = 1,000 + 151.5 → 1,152 (half-even of 1,151.5 is 1,152).
    F = 0 → P1 = 1,000; last 1,200 → median(1,000, 1,152, 1,200) = 1,152. Binance's 30 s
    window would give mean(272..301) = 286.5 instead."""

    class Book:
        def __init__(self, mid):
            self.mid = mid

        def best_bid(self):
            return self.mid - 1

        def best_ask(self):
            return self.mid + 1

    m = make_mark_method("bybit")
    assert isinstance(m, BybitMark) and m.window == 300
    mark = None
    for k in range(1, 302):
        mark = m.update(k * NS_PER_S, 1_000, Book(1_000 + k), 1_200, 0, 8 * 3600 * NS_PER_S,
                        8 * 3600 * NS_PER_S)
    assert m.p2 == 1_152 and mark == 1_152
    binance = make_mark_method("binance")
    for k in range(1, 302):
        binance.update(k * NS_PER_S, 1_000, Book(1_000 + k), 1_200, 0, 8 * 3600 * NS_PER_S,
                       8 * 3600 * NS_PER_S)
    assert binance.p2 == 1_286                                     # 1,286.5 → 1,286 (half-even)
    assert load_preset("bybit_linear").venue.mark_method == "bybit"


# -- Binance ----------------------------------------------------------------------------------

def test_binance_btcusdt_brackets_maintenance_at_given_notionals():
    """Binance BTCUSDT brackets (announcement 86cf9aa472574b8cb2e05bb751c2a9a6, ref §3):
    MM = N × MMR − cum. 40,000 → 160 (0.4 %); 100,000 → 450 (0.5 % − 50); 1,000,000 → 8,700
    at the floor of the 2.5 % bracket, equal to 1 % × 1M − 1,300 from below (continuous; 990,000
    → 8,600 in the 1 % bracket);
    15,000,000 → 483,700 (5 % − 266,300)."""
    spec = load_preset("binance_usdm").instrument("BTCUSDT")
    assert [mm_at(spec, n) for n in (40_000, 100_000, 990_000, 1_000_000, 15_000_000)] == \
        [160, 450, 8_600, 8_700, 483_700]


def test_binance_btcusdt_funding_cap_is_the_published_0_3_percent():
    """Binance announcement 3243c81a35bd4f0c86a37315c3dc96cc (effective 2025-05-02, read
    2026-12-02): "the funding rate cap/floor of USDⓈ-M BTCUSDT perpetual contract is +0.3% /
    -0.3%". A premium of 1 % over an 8 h interval: F = 1 % + clamp(0.01 % − 1 %, ±0.05 %) =
    0.95 % → capped to 0.3 % (and flagged, which switches the symbol to 1 h funding)."""
    preset = load_preset("binance_usdm")
    assert preset.funding.cap_rate == 300_000
    rule = ParamsFundingRule.from_params(preset.funding)
    got = rule.compute(PremiumSummary(premium_avg=1_000_000, n_samples=1, ts_start_ns=0,
                                      ts_end_ns=0), EIGHT_HOURS_NS)
    assert (got.rate, got.capped) == (300_000, True)
    got = rule.compute(PremiumSummary(premium_avg=-1_000_000, n_samples=1, ts_start_ns=0,
                                      ts_end_ns=0), EIGHT_HOURS_NS)
    assert (got.rate, got.capped) == (-300_000, True)


# -- BitMEX -----------------------------------------------------------------------------------

def test_bitmex_risk_limit_example_applies_the_step_rate_to_the_whole_position():
    """BitMEX "Risk Limits Examples", https://www.bitmex.com/app/riskLimitsExamples (read
    2026-12-02): XBTUSD base MM 0.50 %, +0.50 % per step; < 200 XBT 0.50 %, < 350 XBT 1.00 %,
    < 500 XBT 1.50 %, < 650 XBT 2.00 %. "A trader has a XBTUSD position worth 180 XBT. The
    current maintenance margin requirement is 0.50% (0.90 XBT)"; raised to 230 XBT the
    position is one step above the base limit and its maintenance becomes 1.00 % — of the whole
    230 XBT, 2.30 XBT (a cumulative deduction would give 1.30 XBT)."""
    xbt = 10**8                                    # satoshi atoms
    tiers = make_tiers([(0, 500_000, 100), (200 * xbt, 1_000_000, 66),
                        (350 * xbt, 1_500_000, 50), (500 * xbt, 2_000_000, 40)],
                       "whole_position")
    spec = InstrumentSpec(symbol="XBTUSD", base="XBT", quote="USD", settle="XBT",
                          tick_size="0.5", lot_size="1", settle_decimals=8, max_order_lots=10**6,
                          max_market_lots=10**6, maker_fee_rate=0, taker_fee_rate=0,
                          tiers=tiers, tier_model="whole_position")
    assert spec.maintenance_margin_atoms(180 * xbt) == 90 * xbt // 100          # 0.90 XBT
    assert spec.maintenance_margin_atoms(230 * xbt) == 230 * xbt // 100         # 2.30 XBT
    assert make_tiers([(0, 500_000, 100), (200 * xbt, 1_000_000, 66)])[1] \
        .maintenance_amount_atoms == xbt                                         # cum: 1 XBT


def test_bitmex_preset_uses_whole_position_steps_and_refuses_a_deduction():
    preset = load_preset("bitmex")
    assert preset.margin.tier_model == "whole_position"
    spec = preset.instrument("XBTUSDT")
    assert all(t.maintenance_amount_atoms == 0 for t in spec.tiers)
    assert mm_at(spec, 9_000_000) == 45_000                     # 0.5 % of 9M
    assert mm_at(spec, 15_000_000) == 150_000                   # 1.0 % of the whole 15M
    data = preset.to_data()
    data["instruments"]["XBTUSDT"]["tiers"][1]["cum"] = "50000"
    with pytest.raises(ConfigError, match=r"tiers\[1\]\.cum.*whole_position"):
        preset_from_dict(data, "bitmex.toml")


def test_bitmex_funding_guide_example():
    """BitMEX "Perpetual Contracts Guide Examples",
    https://www.bitmex.com/app/perpetualContractsGuideExamples (read 2026-12-02): long 15,000
    XBTUSD at 750 → entry value 20 XBT; Funding Quote Rate 1.00 %/day, Base Rate 0.25 %/day:
    "Funding Rate = (1.00% - 0.25%) / 3 = 0.25%"; "Funding Amount = Mark Value * Funding Rate
    = 20 XBT * 0.25% = 0.05 XBT", paid by the long to the short. (The guide's example does not
    consider the premium; it is the interest leg of I = (quote − base)/funding interval.)"""
    assert bitmex_interest_rate(1_000_000, 250_000) == 250_000
    xbt = 10**8
    # mark value 20 XBT: one lot per satoshi of value at price 1 (the kernel's notional unit)
    pay, rem = settle_funding(np.array([20 * xbt, -20 * xbt], dtype=np.int64), 1, 250_000, 1)
    assert pay.tolist() == [5 * xbt // 100, -5 * xbt // 100] and rem == 0     # 0.05 XBT
    # with the premium: P = 0 and I = 0.01 % (the USDT preset's interest): F = I, within the
    # ±0.05 % clamp and the 0.375 % cap
    rule = make_funding_rule(load_preset("bitmex"), "XBTUSDT")
    got = rule.compute(PremiumSummary(premium_avg=0, n_samples=1, ts_start_ns=0, ts_end_ns=0),
                       EIGHT_HOURS_NS)
    assert (got.rate, got.capped) == (10_000, False)


def test_bitmex_funding_cap_is_75_percent_of_base_initial_minus_maintenance():
    """BitMEX caps |F| at 75 % · (Initial Margin − Maintenance Margin): "If the Initial Margin is
    1% and the Maintenance Margin is 0.5%, the maximum Funding Rate will be 75% * (1% - 0.5%) =
    0.375%" (restating bitmex.com/app/swapsGuide, http://dopo.in.th/2021/bitmex-funding-explained,
    read 2026-12-03); per interval: "An 8 hour funding interval means that the maximum amount of
    funding paid or received is +/- 1.125% per day. A 2 hour funding interval means ... +/- 4.50%
    per day" (https://blog.bitmex.com/important-changes-to-bitcoin-usd-swap-funding, read
    2026-12-03): 3 · 0.375 % and 12 · 0.375 %. The preset derives it from XBTUSDT's base tier
    (100x, MMR 0.5 %); P = 1 % → F = 0.95 % → paid and published 0.375 %."""
    preset = load_preset("bitmex")
    assert preset.funding.cap_margin_factor == 75_000_000 and preset.funding.cap_rate is None
    for sym in ("XBTUSDT", "ETHUSDT"):
        rule = make_funding_rule(preset, sym)
        assert rule.margin_cap == 375_000
        assert 3 * rule.max_rate(EIGHT_HOURS_NS) == 1_125_000           # 1.125 % per day
        got = rule.compute(PremiumSummary(premium_avg=1_000_000, n_samples=480, ts_start_ns=0,
                                          ts_end_ns=EIGHT_HOURS_NS), EIGHT_HOURS_NS)
        assert (got.rate, got.rate_8h, got.capped) == (375_000, 375_000, True)
    two_hourly = make_funding_rule({"venue": "bitmex", "interval_hours": 2, "pay_every_hours": 2},
                                   "XBTUSDT")
    assert 12 * two_hourly.max_rate() == 4_500_000                      # 4.50 % per day


# -- Bybit ------------------------------------------------------------------------------------

def test_bybit_funding_rate_example():
    """Bybit help centre, "What is funding rate and predicted rate" ([BY-FR],
    https://bybit.com/fil-PH/help-center/s/article/What-is-funding-rate-and-predicted-rate, read
    2026-12-03): 8 h average premium ``(P_1·1 + … + P_480·480)/(1 + … + 480)`` of the minute
    premiums; ``F = P + clamp(I − P, 0.05%, −0.05%)``, "if (I − P) is within +/−0.05%, then F
    = P + (I − P) = I"; Interest Rate "(0.06%−0.03%)/3 = 0.01%" (help.bybit.com article
    360039261114). Minute premiums rising 0.02 % → 0.0400 % over 480 minutes (P_k = 0.02 % ·
    (1 + k/480)): the linear weights give P = 0.02 % · (1 + 961/1440) = 0.033347 %; I − P
    = −0.023 % is inside the band → F = I = 0.01 %."""
    assert bitmex_interest_rate(60_000, 30_000) == 10_000
    rule = make_funding_rule(load_preset("bybit_linear"), "BTCUSDT")
    assert (rule.averaging, rule.sample_ns, rule.interval_ns) == ("linear_weights", 60 * NS_PER_S,
                                                                  EIGHT_HOURS_NS)

    sampler = rule.make_sampler(1.0)
    for k in range(1, 481):
        sampler.sample(k * 60 * NS_PER_S, 10**8, ImpactBook(10**8 * (1 + 0.0002 * (1 + k / 480))))
    summary = sampler.summary(EIGHT_HOURS_NS)
    assert summary.premium_avg == round(20_000 * (1 + 961 / 1440))
    got = rule.compute(summary, EIGHT_HOURS_NS)
    assert (got.rate, got.capped) == (10_000, False)


# -- Hyperliquid --------------------------------------------------------------------------------

def test_hyperliquid_funding_example():
    """Hyperliquid docs, trading/funding (mirrored at https://www.cortex-vigil.com/wiki/funding-rates,
    read 2026-12-02): interest 0.01 %, impact bid 10,100, oracle 10,000, 10 BTC long: premium
    = (10,100 − 10,000)/10,000 = 1 %; clamp(0.01 % − 1 %, ±0.05 %) = −0.05 %; rate 0.95 % (the
    8 h rate). The page stops at the rate; the payment below is derived from its rules (1/8
    paid each hour, on the oracle): 10 × 10,000 × 0.95 %/8 = 118.75 USDC."""
    rule = ParamsFundingRule.from_params(load_preset("hyperliquid").funding)
    got = rule.compute(PremiumSummary(premium_avg=1_000_000, n_samples=720, ts_start_ns=0,
                                      ts_end_ns=HOUR_NS), HOUR_NS)
    assert (got.rate_8h, got.rate, got.capped) == (950_000, 118_750, False)
    spec = load_preset("hyperliquid").instrument("BTC")
    lots = spec.qty_to_lots("10")
    pay, rem = settle_funding(np.array([lots, -lots], dtype=np.int64),
                              spec.price_to_ticks("10000"), 118_750, spec.atoms_per_tick_lot)
    assert pay.tolist() == [118_750_000, -118_750_000] and rem == 0


def test_hyperliquid_premium_is_a_plain_mean_over_the_hour():
    """"Premium sampled every 5 seconds, averaged over the hour" (same page): the preset's
    sampler weighs every sample alike. Premiums 0.1 %, 0.2 %, 0.6 % → mean 0.3 %; linearly
    weighted (Bybit's 1, 2, 3) it would be 0.3833 %."""

    preset = load_preset("hyperliquid")
    assert preset.funding.averaging == "mean"
    rule = ParamsFundingRule.from_params(preset.funding)
    sampler = rule.make_sampler(1.0)
    for i, bid in enumerate((10_010.0, 10_020.0, 10_060.0), start=1):
        sampler.sample(i * 5 * NS_PER_S, 10_000, ImpactBook(bid))
    assert sampler.summary(15 * NS_PER_S).premium_avg == 300_000


def test_hyperliquid_btc_margin_tiers():
    """Hyperliquid margin tiers (ref §3): BTC 40x up to 150M, then 20x; MMR = half the IMR at
    max leverage: 1.25 % then 2.5 % with a maintenance deduction of 150M × 1.25 % = 1.875M."""
    spec = load_preset("hyperliquid").instrument("BTC")
    assert mm_at(spec, 1_000_000) == 12_500
    assert mm_at(spec, 200_000_000) == 5_000_000 - 1_875_000
    assert spec.max_leverage_for(149_999_999 * USD) == 40 and spec.max_leverage_for(150_000_000 * USD) == 20


# -- dYdX -------------------------------------------------------------------------------------

def test_dydx_large_cap_is_imf_2_mmf_1_2_percent_and_the_funding_clamp_follows():
    """dydxprotocol/v4-chain PR #2431 "Update large cap params in genesis" (2024-10-02, read
    2026-12-02): Large-Cap IMF 2 %, maintenance fraction 60 % → MMF 1.2 %, 50x. Funding clamp
    |F8h| ≤ 6·(IMF − MMF) = 4.8 %, i.e. 0.6 % per hourly accrual."""
    preset = load_preset("dydx_v4")
    for sym in ("BTC-USD", "ETH-USD"):
        (tier,) = preset.instrument(sym).tiers
        assert (tier.mmr, tier.max_leverage) == (1_200_000, 50)
    assert mm_at(preset.instrument("BTC-USD"), 1_000_000) == 12_000
    rule = make_funding_rule(preset, "BTC-USD")
    assert rule.margin_cap == 6 * (2_000_000 - 1_200_000) and rule.max_rate() == 600_000
    got = rule.compute(PremiumSummary(premium_avg=20_000_000, n_samples=60, ts_start_ns=0,
                                      ts_end_ns=HOUR_NS), HOUR_NS)
    assert (got.rate, got.rate_8h, got.capped) == (600_000, 4_800_000, True)
    assert preset.venue.mark_method == "dydx"                 # margins on the oracle


def test_dydx_funding_and_vote_clamps_are_the_chain_parameters():
    """dYdX Chain governance docs, "Perpetual" parameters (dydxfoundation/
    dydx-token-migration-documentation, governance-adjustable-parameters/perpetual.md, read
    2026-12-03): ``funding_rate_clamp_factor_ppm`` 6000000 "for clamping 8-hour Funding Rates
    according to the equation: funding_rate_clamp_factor * (initial margin - maintenance
    margin)", ``premium_vote_clamp_factor_ppm`` 60000000 for the premium votes, the same way;
    v4-chain x/perpetuals/keeper/perpetual.go clamps the 8 h rate ``premium + default funding``
    and then pro-rates it by ``time / 8 h`` into the funding index (read 2026-12-03).
    Large-Cap 2 % / 1.2 %: votes within ±48 %, 8 h rate within ±4.8 %. A book 60 % rich all
    hour: every vote 48 %, every minute median 48 %, the hour's mean 48 % → clamped to 4.8 %
    per 8 h → 0.6 % accrued for the hour. A book 1 % rich: votes 1 % → 1 %/8 h → 0.125 %/h."""
    preset = load_preset("dydx_v4")
    assert (preset.funding.cap_margin_factor, preset.funding.vote_clamp_margin_factor) == \
        (600_000_000, 6_000_000_000)
    rule = make_funding_rule(preset, "BTC-USD")
    assert (rule.vote_clamp, rule.margin_cap) == (48_000_000, 4_800_000)

    class Book:
        def __init__(self, rich):
            self.rich = rich

        def best_bid(self):
            return int(1_000 * (1 + self.rich))

        def best_ask(self):
            return int(1_000 * (1 + self.rich)) + 1

        def impact_price(self, side, notional):
            return 1_000 * (1 + self.rich) if side == 1 else 1_000 * (1 + self.rich) + 1

    for rich, premium, rate, rate_8h, capped in ((0.60, 48_000_000, 600_000, 4_800_000, True),
                                                 (0.01, 1_000_000, 125_000, 1_000_000, False)):
        sampler = rule.make_sampler(1.0)
        assert isinstance(sampler, PremiumSampler) and sampler.vote_clamp == 48_000_000
        for t in range(1, 3601):
            sampler.sample(t * NS_PER_S, 1_000, Book(rich))
        summary = sampler.summary(HOUR_NS)
        assert summary.premium_avg == premium
        got = rule.compute(summary, HOUR_NS)
        assert (got.rate, got.rate_8h, got.capped) == (rate, rate_8h, capped)


# -- Drift ------------------------------------------------------------------------------------

def test_drift_hourly_funding_clamp_is_the_published_tier_b_figure():
    """Drift docs, "Funding Rates", https://docs.drift.trade/trading/funding-rates (read
    2026-12-03): hourly rate ``1/24 · (market_twap − oracle_twap)/oracle_twap``; "Funding rate
    hourly magnitudes are clamped according to the market's Contract Tier (B or greater:
    0.125%, C: 0.208%, lower than C: 0.4167%)" — the 3 % / 5 % / 10 % spread clamps of the code
    (ref §2) over 24 h. The preset (tier A/B, 3 %): a mark TWAP 9 % rich pays 0.125 % per hour,
    rich or cheap; tiers C and below give the other two published figures (a TWAP 15 % rich; the
    last sampled mark within the 10 % divergence limit)."""
    preset = load_preset("drift")
    rule = make_funding_rule(preset, "BTC-PERP")

    def hourly(r, mark_twap):
        return r.compute(PremiumSummary(premium_avg=0, n_samples=3600, ts_start_ns=0,
                                        ts_end_ns=HOUR_NS, mark_twap=mark_twap,
                                        oracle_twap=100.0, last_mark=101.0,
                                        last_oracle=100), HOUR_NS)

    assert (hourly(rule, 109.0).rate, hourly(rule, 109.0).capped) == (125_000, True)
    assert hourly(rule, 91.0).rate == -125_000
    for cap, published in (("0.05", 208_333), ("0.10", 416_667)):
        tier = make_funding_rule(preset.with_overrides({"funding.cap_rate": cap}), "BTC-PERP")
        assert hourly(tier, 115.0).rate == published          # 0.208 %, 0.4167 % per hour


# -- withdrawal margin (Hyperliquid) ------------------------------------------------------------

def _cross_long(spec: InstrumentSpec, deposit: int, qty: str, price: str, leverage: int):
    core = VenueCore([spec])
    a, mm = core.open_account(), core.open_account()
    core.deposit(a, deposit * USD)
    core.deposit(mm, 10**7 * USD)
    core.set_leverage(a, 0, leverage)
    p = spec.price_to_ticks(price)
    core.set_mark(0, p)
    lots = spec.qty_to_lots(qty)
    assert core.submit(mm, 0, 1, lots, p, 0, 0) == 0                 # resting sell (limit GTC)
    assert core.submit(a, 0, 0, lots, p, 0, 0) == 0                  # buy crosses it
    assert core.arrays()["size"][0, a] == lots
    core.drain_events()
    return core, a


def test_hyperliquid_withdrawal_leaves_max_of_initial_margin_and_ten_percent_of_notional():
    """Hyperliquid docs, trading/margining (mirrored at https://www.cortex-vigil.com/wiki/margining,
    read 2026-12-02): "transfer_margin_required = max(initial_margin_required, 0.1 *
    total_position_value)". 20,000 USDC, long 1 BTC at 100,000 with 40x (IM 2,500, fees aside):
    the 10 % floor (10,000) binds, not the IM."""
    spec = load_preset("hyperliquid").instrument("BTC")
    assert spec.withdrawal_margin_rate == 10_000_000
    core, a = _cross_long(spec, 20_000, "1", "100000", 40)
    equity = core.equity(a)
    fee = 20_000 * USD - core.arrays()["wallet"][a]                     # the taker fee paid
    assert equity == 20_000 * USD - fee
    assert core.withdrawable(a) == equity - 10_000 * USD
    assert core.withdraw(a, core.withdrawable(a) + 1) != 0              # refused
    assert core.withdraw(a, core.withdrawable(a)) == 0
    assert core.equity(a) == 10_000 * USD
    core.check_invariants()
    # a mark move changes the floor: at 110,000 equity is 20,000 and the floor 11,000
    core.set_mark(0, spec.price_to_ticks("110000"))
    assert core.withdrawable(a) == 9_000 * USD
    core.check_invariants()


def test_without_a_withdrawal_rate_the_floor_is_the_initial_margin():
    spec = attrs.evolve(load_preset("hyperliquid").instrument("BTC"), withdrawal_margin_rate=0)
    core, a = _cross_long(spec, 20_000, "1", "100000", 40)
    assert core.withdrawable(a) == core.equity(a) - 2_500 * USD         # IM = 100,000 / 40
    assert core.withdrawable(a) == core.available(a)
    core.check_invariants()


def test_removed_trigger_price_key_is_refused_with_what_to_do():
    data = load_preset("dydx_v4").to_data()
    data["margin"]["trigger_price"] = "oracle"
    with pytest.raises(ConfigError, match=r"margin\.trigger_price.*mark method"):
        preset_from_dict(data, "old.toml")


def test_drift_preset_carries_the_two_percent_liquidation_buffer():
    """drift-labs/protocol-v2 math/constants.rs DEFAULT_LIQUIDATION_MARGIN_BUFFER_RATIO =
    MARGIN_PRECISION / 50 (2 %), read 2026-12-02."""
    assert load_preset("drift").margin.liquidation_buffer_rate == 2_000_000
    assert load_preset("drift").venue.mark_method == "drift"        # margins on the oracle


def test_bybit_liquidation_price_formula_in_human_units():
    """:func:`exchange.margin.liquidation_price` follows the spec's basis: Bybit's Example 1
    (long 1 BTC at 20,000, 50x → IM 400, MM 100) gives exactly 19,700; the same call on
    Binance's mark basis solves 400 + (p − 20,000) = 0.5 %·p instead (19,698.49…, rounded up to
    the tick toward entry: 19,698.5)."""
    from exchange.margin import liquidation_price

    bybit = load_preset("bybit_linear").instrument("BTCUSDT")
    assert str(liquidation_price(bybit, wallet="400", size="1", entry_price="20000")) == "19700.0"
    assert str(liquidation_price(bybit, wallet="2400", size="-2", entry_price="30000")) == "31050.0"
    mark_basis = attrs.evolve(bybit, maintenance_basis="mark")
    assert str(liquidation_price(mark_basis, wallet="400", size="1", entry_price="20000")) == "19698.5"


def test_bitmex_step_floor_belongs_to_the_upper_step_in_the_core_and_in_python():
    """BitMEX's table reads "< 200 XBT: 0.50 %", so a position worth exactly the step floor
    pays the next step's rate on all of it. The compiled core, InstrumentSpec and MarginView
    agree at, below and above the floor (10,000,000 USDT on the preset's XBTUSDT)."""
    spec = load_preset("bitmex").instrument("XBTUSDT")
    core = VenueCore([spec])
    cp = core.open_account()
    core.deposit(cp, 10**9 * USD)
    price = spec.price_to_ticks("50000")
    accts = [core.open_account() for _ in range(3)]
    lots = [spec.qty_to_lots(q) for q in ("199.999", "200", "200.001")]   # 9,999,950 / 10M / +50
    core.bulk_open_positions(accts, 0, lots, price, [10, 10, 10], cp,
                             margins=[2_000_000 * USD] * 3)
    core.set_mark(0, price)
    view = MarginView(core)
    got_core = [core.maintenance_margin(a, 0) for a in accts]
    got_view = view.position_mm(0, np.array(accts)).tolist()
    want = [spec.maintenance_margin_atoms(spec.notional_atoms(price, q)) for q in lots]
    assert got_core == got_view == want
    assert want == [49_999_750_000, 100_000_000_000, 100_000_500_000]      # 0.5 %, 1 %, 1 %
    core.check_invariants()


@pytest.mark.parametrize("name", ["dydx", "drift"])
def test_dydx_and_drift_mark_methods_are_the_oracle(name):
    """dYdX v4 has no separate mark and Drift margins on its oracle (ref §1): their mark
    methods return the oracle whatever the book and the last trade say, which is why a preset
    needs no separate trigger-price key."""

    class Book:
        def best_bid(self):
            return 120

        def best_ask(self):
            return 130

    m = make_mark_method(name)
    assert m.update(NS_PER_S, 100, Book(), 150, 50_000, HOUR_NS, HOUR_NS) == 100
    assert m.update(2 * NS_PER_S, 101, None, None, 0, HOUR_NS, HOUR_NS) == 101


def test_hyperliquid_isolated_margin_removal_keeps_ten_percent_of_notional():
    """Same Hyperliquid rule for isolated positions: "Unrealized pnl can be withdrawn from
    isolated positions or cross account, but only if the remaining margin is at least 10% of
    the total notional position value" (https://docs.tings.xyz/core-mechanics/margining, a
    mirror of Hyperliquid's margining page, read 2026-12-02). Isolated long 1 BTC at 100,000
    with 40x and 15,000 in the bucket: the IM is 2,500 but 10,000 must stay."""
    spec = load_preset("hyperliquid").instrument("BTC")
    core = VenueCore([spec])
    a, cp = core.open_account(), core.open_account()
    core.deposit(cp, 10**9 * USD)
    price = spec.price_to_ticks("100000")
    core.bulk_open_positions([a], 0, [spec.qty_to_lots("1")], price, [40], cp,
                             margins=[2_500 * USD])
    core.set_mark(0, price)
    core.deposit(a, 12_500 * USD)
    assert core.adjust_isolated_margin(a, 0, 12_500 * USD) == 0          # bucket 15,000
    assert core.adjust_isolated_margin(a, 0, -(5_000 * USD + 1)) != 0     # would leave < 10,000
    assert core.adjust_isolated_margin(a, 0, -5_000 * USD) == 0
    assert core.arrays()["iso"][0, a] == 10_000 * USD
    core.check_invariants()
    plain = attrs.evolve(spec, withdrawal_margin_rate=0)
    core = VenueCore([plain])
    a, cp = core.open_account(), core.open_account()
    core.deposit(cp, 10**9 * USD)
    core.bulk_open_positions([a], 0, [plain.qty_to_lots("1")], price, [40], cp,
                             margins=[15_000 * USD])
    core.set_mark(0, price)
    # bulk_open_positions moves only the IM into the bucket; add the rest, then remove to IM
    core.adjust_isolated_margin(a, 0, 12_500 * USD)
    assert core.adjust_isolated_margin(a, 0, -12_500 * USD) == 0          # back to the IM
    core.check_invariants()


@pytest.mark.parametrize("basis", ["entry", "mark"])
def test_liquidation_index_keys_are_exact_on_either_basis(basis):
    """For random isolated positions on Bybit's 20-tier BTCUSDT table, the index key is the
    exact boundary of the core-state test ``equity < MM``: a long is liquidatable at its key
    and not one tick above, a short at its key and not one tick below (entry basis: MM fixed at
    the entry value's tier; mark basis: MM moves with the price)."""
    spec = attrs.evolve(load_preset("bybit_linear").instrument("BTCUSDT"), maintenance_basis=basis)
    rng = np.random.default_rng(7)
    core = VenueCore([spec])
    cp = core.open_account()
    core.deposit(cp, 10**12 * USD)
    view = MarginView(core)
    accts = []
    for _ in range(40):
        entry = int(rng.integers(150_000, 1_200_000))                  # 15,000–120,000 USDT
        lots = int(rng.integers(1, 60_000)) * (1 if rng.random() < 0.5 else -1)
        lev = int(rng.integers(1, spec.max_leverage_for(abs(lots) * entry * spec.atoms_per_tick_lot) + 1))
        a = core.open_account()
        core.bulk_open_positions([a], 0, [lots], entry, [lev], cp,
                                 margins=[abs(lots) * entry * spec.atoms_per_tick_lot])
        accts.append((a, lots))
    core.set_mark(0, 500_000)
    idx = LiquidationIndex(view, 0)
    idx.rebuild()
    idx.check()
    checked = 0
    for a, lots in accts:
        key = idx.key(a)
        if key is None or key <= 1:
            continue
        step = 1 if lots > 0 else -1                                    # away from liquidation
        core.set_mark(0, key)
        assert view.liquidatable(0, np.array([a]))[0], (a, key)
        core.set_mark(0, key + step)
        assert not view.liquidatable(0, np.array([a]))[0], (a, key)
        checked += 1
    assert checked >= 30
    core.check_invariants()
