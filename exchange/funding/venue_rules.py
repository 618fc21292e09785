"""Per-venue funding rules with hard-coded defaults (Binance, Bybit, BitMEX, Hyperliquid, dYdX,
Drift), kept beside :class:`~exchange.funding.rules.ParamsFundingRule` (the rule runs use,
built from a preset's ``[funding]`` table) for what the preset rule does not compute: dYdX's
per-block vote clamp ``±60·(IMF − MMF)``, caps derived from IMR/MMR (BitMEX) and IMF/MMF (dYdX),
and ``rate_8h`` of a capped BitMEX/dYdX rate. Construct by venue name with
:func:`~exchange.funding.rules.make_funding_rule`."""
from __future__ import annotations

from exchange.errors import ConfigError, invalid
from exchange.funding._base import EIGHT_HOURS_NS, HOUR_NS, _check_int
from exchange.funding.rules import FundingRate, _cap, _RuleBase, _spread_skip, clamped_premium_rate
from exchange.funding.sampler import AVERAGING_MODES, PremiumSummary
from exchange.oracle import NS_PER_S, div_round_half_even, round_half_even
from exchange.units import RATE_SCALE


class BinanceFundingRule(_RuleBase):
    """Binance USDⓈ-M [C]: ``F = [P_avg + clamp(r - P_avg, ±c)] / (8/N)``, N = interval hours,
    then bounded to ``[floor, cap]`` (per symbol; default ±3 %, the value for contracts with max
    leverage ≤ 25x — a scenario default; BTCUSDT's is ±0.3 %, Binance announcement
    3243c81a35bd4f0c86a37315c3dc96cc, effective 2025-05-02, read 2026-12-02, and the
    ``binance_usdm`` preset carries it). ``r`` and ``c`` are 8-hour values (0.01 %, 0.05 %).
    The ``·N/8`` scaling is rounded half to even. ``interval_on_cap_ns``: since 2025-05 hitting the
    cap switches the symbol to 1 h funding.
    """

    name = "binance"
    averaging = "time_weighted"
    sample_ns = 5 * NS_PER_S
    payment_price = "mark"

    def __init__(self, *, interest_8h: int = 10_000, clamp_8h: int = 50_000,
                 cap: int = 3_000_000, floor: int | None = None,
                 interval_ns: int = EIGHT_HOURS_NS, interval_on_cap_ns: int | None = HOUR_NS,
                 averaging: str | None = None, sample_ns: int | None = None) -> None:
        super().__init__(interval_ns)
        self.interest_8h = _check_int("interest_8h", interest_8h, -RATE_SCALE, RATE_SCALE)
        self.clamp_8h = _check_int("clamp_8h", clamp_8h, 0, RATE_SCALE)
        self.cap = _check_int("cap", cap, 0, RATE_SCALE)
        self.floor = -self.cap if floor is None else _check_int("floor", floor, -RATE_SCALE, 0)
        self.interval_on_cap_ns = None if interval_on_cap_ns is None else \
            _check_int("interval_on_cap_ns", interval_on_cap_ns, lo=1)
        if averaging is not None:
            if averaging not in AVERAGING_MODES:
                raise invalid("averaging", f"one of {list(AVERAGING_MODES)}", averaging,
                              error=ConfigError)
            self.averaging = averaging
        if sample_ns is not None:
            self.sample_ns = _check_int("sample_ns", sample_ns, lo=1)

    def compute(self, summary: PremiumSummary, interval_ns: int) -> FundingRate:
        f8 = clamped_premium_rate(summary.premium_avg, self.interest_8h, self.clamp_8h)
        rate, capped = _cap(div_round_half_even(f8 * interval_ns, EIGHT_HOURS_NS), self.floor, self.cap)
        return FundingRate(rate=rate, rate_8h=f8, capped=capped)


class BybitFundingRule(BinanceFundingRule):
    """Bybit [C for the sampling]: premium every minute, weights 1..n (latest heaviest); the rate
    formula and interval scaling are taken to be Binance's and the payment price the mark [U]."""

    name = "bybit"
    averaging = "linear_weights"
    sample_ns = 60 * NS_PER_S

    def __init__(self, *, interest_8h: int = 10_000, clamp_8h: int = 50_000,
                 cap: int = 3_000_000, floor: int | None = None,
                 interval_ns: int = EIGHT_HOURS_NS, interval_on_cap_ns: int | None = None,
                 averaging: str | None = None, sample_ns: int | None = None) -> None:
        super().__init__(interest_8h=interest_8h, clamp_8h=clamp_8h, cap=cap, floor=floor,
                         interval_ns=interval_ns, interval_on_cap_ns=interval_on_cap_ns,
                         averaging=averaging, sample_ns=sample_ns)


class BitMexFundingRule(_RuleBase):
    """BitMEX [C]: ``F = P_avg + clamp(r - P_avg, ±0.05 %)`` over an 8 h TWAP of per-minute
    samples, ``|F| ≤ 0.75·(IMR - MMR)`` (0.375 % for 1 %/0.5 %) [3P], the cap's magnitude rounded
    down. The rate is fixed one interval ahead (``fixed_ahead_intervals = 1``). No interval
    scaling."""

    name = "bitmex"
    averaging = "twap"
    sample_ns = 60 * NS_PER_S
    payment_price = "mark"
    fixed_ahead_intervals = 1

    def __init__(self, *, interest: int = 10_000, clamp: int = 50_000, imr: int = 1_000_000,
                 mmr: int = 500_000, interval_ns: int = EIGHT_HOURS_NS) -> None:
        super().__init__(interval_ns)
        self.interest = _check_int("interest", interest, -RATE_SCALE, RATE_SCALE)
        self.clamp = _check_int("clamp", clamp, 0, RATE_SCALE)
        self.imr = _check_int("imr", imr, 0, RATE_SCALE)
        self.mmr = _check_int("mmr", mmr, 0, self.imr)
        self.cap = 3 * (self.imr - self.mmr) // 4

    def compute(self, summary: PremiumSummary, interval_ns: int) -> FundingRate:
        f = clamped_premium_rate(summary.premium_avg, self.interest, self.clamp)
        rate, capped = _cap(f, -self.cap, self.cap)
        return FundingRate(rate=rate, rate_8h=rate, capped=capped)


class HyperliquidFundingRule(_RuleBase):
    """Hyperliquid [C]: ``F8 = P_avg + clamp(0.0001 - P_avg, ±0.0005)`` from 5 s samples averaged
    over the hour; each hour pays ``F8 · interval/8h`` (1/8 of it, half-even), bounded to
    ``±4 %`` per hour. Payment price: the **oracle**."""

    name = "hyperliquid"
    averaging = "mean"
    sample_ns = 5 * NS_PER_S
    payment_price = "oracle"

    def __init__(self, *, interest_8h: int = 10_000, clamp_8h: int = 50_000,
                 cap_per_hour: int = 4_000_000, interval_ns: int = HOUR_NS) -> None:
        super().__init__(interval_ns)
        self.interest_8h = _check_int("interest_8h", interest_8h, -RATE_SCALE, RATE_SCALE)
        self.clamp_8h = _check_int("clamp_8h", clamp_8h, 0, RATE_SCALE)
        self.cap_per_hour = _check_int("cap_per_hour", cap_per_hour, 0, RATE_SCALE)

    def compute(self, summary: PremiumSummary, interval_ns: int) -> FundingRate:
        f8 = clamped_premium_rate(summary.premium_avg, self.interest_8h, self.clamp_8h)
        cap = div_round_half_even(self.cap_per_hour * interval_ns, HOUR_NS)
        rate, capped = _cap(div_round_half_even(f8 * interval_ns, EIGHT_HOURS_NS), -cap, cap)
        return FundingRate(rate=rate, rate_8h=f8, capped=capped)


class DydxFundingRule(_RuleBase):
    """dYdX v4 [C]: per-block premium votes clamped to ``±60·(IMF - MMF)``, per-minute median
    (padded with zeros to 15), hourly ``R = mean(minute samples) + default_funding_8h``, clamped
    to ``±6·(IMF - MMF)``. Accrual through a funding index: ``index += R · Δt/8h · oracle``; a
    position pays ``q · (index_now - index_at_last_settle)``. ``rate`` is ``R·Δt/8h`` (half-even).
    Defaults: the current Large-Cap liquidity tier, IMF 2 %, MMF 1.2 % (dydxprotocol/v4-chain
    PR #2431 "Update large cap params in genesis", merged 2024-10-02, read 2026-12-02), so
    ``|R| ≤ 6·0.8 % = 4.8 %`` per 8 h; default funding 0. The mainnet-genesis tier (5 % / 3 %,
    clamp 12 %) is ``DydxFundingRule(imf=5_000_000, mmf=3_000_000)``."""

    name = "dydx"
    averaging = "minute_median_hourly_mean"
    sample_ns = NS_PER_S
    payment_price = "oracle"
    accrual = "index"

    def __init__(self, *, default_funding_8h: int = 0, imf: int = 2_000_000, mmf: int = 1_200_000,
                 interval_ns: int = HOUR_NS, sample_ns: int = NS_PER_S) -> None:
        super().__init__(interval_ns)
        self.default_funding_8h = _check_int("default_funding_8h", default_funding_8h,
                                             -RATE_SCALE, RATE_SCALE)
        self.imf = _check_int("imf", imf, 0, RATE_SCALE)
        self.mmf = _check_int("mmf", mmf, 0, self.imf)
        self.clamp_8h = 6 * (self.imf - self.mmf)
        self.vote_clamp = 60 * (self.imf - self.mmf)
        self.sample_ns = _check_int("sample_ns", sample_ns, lo=1)

    def compute(self, summary: PremiumSummary, interval_ns: int) -> FundingRate:
        r8, capped = _cap(summary.premium_avg + self.default_funding_8h, -self.clamp_8h, self.clamp_8h)
        return FundingRate(rate=div_round_half_even(r8 * interval_ns, EIGHT_HOURS_NS), rate_8h=r8,
                           capped=capped)


class DriftFundingRule(_RuleBase):
    """Drift v2 [C]: hourly, premium amortised over 24 h::

        rate_h = clamp(markTWAP - oracleTWAP + oracleTWAP/5000, ±k·oracleTWAP) / oracleTWAP / 24

    (``k`` = 3 % for tiers A/B, 5 % C, 10 % others; ``+oracle/5000`` per day ≈ 7.3 %/yr
    interest). For an interval other than 1 h the rate scales by ``interval / 1 h``. Computed in
    float from the TWAPs, rounded half to even. Skipped when there is no sample or the last
    sampled mark and oracle diverge by more than ``max_divergence`` (10 %). Index accrual,
    payment price the oracle TWAP."""

    name = "drift"
    averaging = "twap_spread"
    sample_ns = NS_PER_S
    payment_price = "oracle_twap"
    accrual = "index"

    def __init__(self, *, spread_clamp: int = 3_000_000, max_divergence: int = 10_000_000,
                 interval_ns: int = HOUR_NS, sample_ns: int = NS_PER_S) -> None:
        super().__init__(interval_ns)
        self.spread_clamp = _check_int("spread_clamp", spread_clamp, 0, RATE_SCALE)
        self.max_divergence = _check_int("max_divergence", max_divergence, 0, 100 * RATE_SCALE)
        self.sample_ns = _check_int("sample_ns", sample_ns, lo=1)

    def compute(self, summary: PremiumSummary, interval_ns: int) -> FundingRate:
        skip = _spread_skip(summary, self.max_divergence)
        if skip is not None:
            return skip
        mt, ot = summary.mark_twap, summary.oracle_twap
        k = self.spread_clamp / RATE_SCALE * ot
        spread = min(max(mt - ot + ot / 5000, -k), k)
        day_rate = spread / ot
        rate = round_half_even(day_rate / 24 * RATE_SCALE * interval_ns / HOUR_NS)
        k_rate = round_half_even(self.spread_clamp / 24 * interval_ns / HOUR_NS)
        return FundingRate(rate=rate, rate_8h=round_half_even(day_rate / 3 * RATE_SCALE),
                           capped=abs(rate) >= k_rate and k_rate > 0)

    def initial_rate(self, interval_ns: int) -> FundingRate:
        return FundingRate(0, 0)



FUNDING_RULES: dict[str, type] = {
    "binance": BinanceFundingRule,
    "bybit": BybitFundingRule,
    "bitmex": BitMexFundingRule,
    "hyperliquid": HyperliquidFundingRule,
    "dydx": DydxFundingRule,
    "drift": DriftFundingRule,
}


