"""Funding rate rules: a :class:`PremiumSummary` in, the rate of one interval out."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

import attrs

from exchange.errors import ConfigError, invalid
from exchange.funding._base import EIGHT_HOURS_NS, HOUR_NS, _check_int
from exchange.funding.sampler import AVERAGING_MODES, PremiumSampler, PremiumSummary
from exchange.oracle import NS_PER_S, div_round_half_even, round_half_even
from exchange.units import RATE_SCALE


def clamped_premium_rate(premium_avg: int, interest: int, clamp: int) -> int:
    """``F = P_avg + clamp(r - P_avg, -c, +c)`` in rate units, exact. O(1).

    >>> clamped_premium_rate(30_000, 10_000, 50_000)   # 0.03 % + clamp(-0.02 %) = 0.01 %
    10000
    >>> clamped_premium_rate(100_000, 10_000, 50_000)  # 0.10 % + clamp(-0.09 %) = 0.05 %
    50000
    """
    return premium_avg + min(max(interest - premium_avg, -clamp), clamp)



def bitmex_interest_rate(quote_rate_daily: int, base_rate_daily: int, intervals_per_day: int = 3) -> int:
    """BitMEX's interest leg ``I = (Funding Quote Rate − Funding Base Rate) / Funding Interval``,
    the interval being the number of fundings per day (3 for 8 h), rounded half to even.

    BitMEX "Perpetual Contracts Guide Examples",
    https://www.bitmex.com/app/perpetualContractsGuideExamples (read 2026-12-02): "Funding Quote
    Rate = 1.00% per day, Funding Base Rate = 0.25% per day, Funding Rate = (1.00% - 0.25%) / 3
    = 0.25%". O(1).

    >>> bitmex_interest_rate(1_000_000, 250_000)     # (1.00 % − 0.25 %) / 3 = 0.25 %
    250000
    >>> bitmex_interest_rate(60_000, 30_000)         # USDT 0.06 %, BTC 0.03 % → 0.01 %
    10000
    """
    q = _check_int("quote_rate_daily", quote_rate_daily, -RATE_SCALE, RATE_SCALE)
    b = _check_int("base_rate_daily", base_rate_daily, -RATE_SCALE, RATE_SCALE)
    n = _check_int("intervals_per_day", intervals_per_day, lo=1)
    return div_round_half_even(q - b, n)



@attrs.frozen
class FundingRate:
    """A rule's decision for one settlement.

    ``rate``: per this interval (RATE_SCALE), positive = longs pay. ``rate_8h``: the 8-hour rate
    the venue computes or displays. ``capped``: the cap/floor bound it. ``skip_reason``: when
    set, nothing is paid (``rate`` is 0).
    """

    rate: int
    rate_8h: int
    capped: bool = False
    skip_reason: str | None = None


@runtime_checkable
class FundingRule(Protocol):
    """A venue's funding formula.

    Attributes: ``interval_ns`` (default settlement interval), ``averaging`` and ``sample_ns``
    (how its :class:`PremiumSampler` samples), ``payment_price`` (``"mark"``, ``"oracle"`` or
    ``"oracle_twap"``), ``accrual`` (``"snapshot"``: positions open at the timestamp pay
    ``q·price·rate``; ``"index"``: a cumulative funding index accrues and positions pay its
    change), ``fixed_ahead_intervals`` (the rate computed now is paid that many settlements
    later; 0 = paid now), ``interval_on_cap_ns`` (switch to this interval once the cap is hit,
    or None). Rules also offer ``make_sampler(impact_notional)``.
    """

    name: str
    interval_ns: int
    averaging: str
    sample_ns: int
    payment_price: str
    accrual: str
    fixed_ahead_intervals: int
    interval_on_cap_ns: int | None

    def compute(self, summary: PremiumSummary, interval_ns: int) -> FundingRate: ...

    def initial_rate(self, interval_ns: int) -> FundingRate: ...


class _RuleBase:
    name = "base"
    averaging = "mean"
    sample_ns = 5 * NS_PER_S
    payment_price = "mark"
    accrual = "snapshot"
    fixed_ahead_intervals = 0
    interval_on_cap_ns: int | None = None
    vote_clamp: int | None = None

    def __init__(self, interval_ns: int) -> None:
        self.interval_ns = _check_int("interval_ns", interval_ns, lo=1)

    def make_sampler(self, impact_notional: float, *, t0_ns: int = 0) -> PremiumSampler:
        """A :class:`PremiumSampler` with this venue's averaging and cadence."""
        return PremiumSampler(self.averaging, self.sample_ns, impact_notional, t0_ns=t0_ns,
                              vote_clamp=self.vote_clamp)

    def initial_rate(self, interval_ns: int) -> FundingRate:
        """The rate with a zero premium (what an interval with no information pays)."""
        return self.compute(PremiumSummary(0, 0, 0, 0), interval_ns)

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({fields})"


def _spread_skip(summary: PremiumSummary, max_divergence: int) -> FundingRate | None:
    """The zero rate of a mark-vs-oracle TWAP period that cannot be settled (no samples on
    either side, or the last mark and oracle diverging by more than ``max_divergence`` per
    1e8), with its reason; None when the period settles normally."""
    mt, ot = summary.mark_twap, summary.oracle_twap
    if mt is None or ot is None:
        return FundingRate(0, 0, skip_reason="no mark/oracle samples in the period")
    lm, lo = summary.last_mark, summary.last_oracle
    if lm is not None and lo and abs(lm - lo) * RATE_SCALE > max_divergence * lo:
        return FundingRate(0, 0, skip_reason=(
            f"mark {lm} and oracle {lo} diverge by more than {max_divergence / RATE_SCALE:.2%}"))
    return None


def _cap(rate: int, floor: int, cap: int) -> tuple[int, bool]:
    if rate > cap:
        return cap, True
    if rate < floor:
        return floor, True
    return rate, False



class ParamsFundingRule(_RuleBase):
    """A funding rule built from a preset's ``[funding]`` table
    (:class:`exchange.presets.params.FundingParams`, or any object or mapping with its fields).

    Semantics of the table: ``F = P_avg + clamp(interest - P_avg, ±clamp)`` is the rate per
    ``interval_hours`` (``clamp_rate=None``: ``F = P_avg + interest``, dYdX); a payment every
    ``pay_every_hours`` pays ``F · pay_every / interval`` (half-even), bounded by ``cap_rate`` per
    payment (Binance's ``/(8/N)`` is ``interval_hours=8, pay_every_hours=N``; Hyperliquid's
    hourly 1/8 is ``8, 1``). With ``averaging="twap_spread"`` (Drift) a payment pays
    ``clamp(mT - oT + interest·oT, ±cap·oT) / oT · pay_every / amortisation_hours`` and is
    skipped when mark and oracle diverge by more than ``max_divergence``.
    ``cap_hit_interval_hours`` > 0: the payment interval after the cap is hit (Binance).
    ``fixed_ahead_intervals``: the rate is paid that many settlements after it is fixed (BitMEX).
    Accrual is through a funding index for the dYdX and Drift averagings
    (``minute_median_hourly_mean``, ``twap_spread``), else a snapshot. For
    ``minute_median_hourly_mean``, ``sampling_interval_s`` is the median window (dYdX's 60 s
    funding-sample epoch) and votes are taken every ``vote_ns`` (a block, 1 s).
    """

    name = "params"
    _FIELDS = ("interval_hours", "sampling_interval_s", "averaging", "interest_rate", "clamp_rate",
               "cap_rate", "payment_price", "pay_every_hours", "amortisation_hours",
               "cap_hit_interval_hours", "fixed_ahead_intervals")

    def __init__(self, *, interval_hours: int, sampling_interval_s: int, averaging: str,
                 interest_rate: int, pay_every_hours: int, payment_price: str = "mark",
                 clamp_rate: int | None = None, cap_rate: int | None = None,
                 amortisation_hours: int = 0, cap_hit_interval_hours: int = 0,
                 fixed_ahead_intervals: int = 0, max_divergence: int = 10_000_000,
                 vote_ns: int = NS_PER_S) -> None:
        pay_every = _check_int("pay_every_hours", pay_every_hours, lo=1)
        super().__init__(pay_every * HOUR_NS)
        self.rate_interval_ns = _check_int("interval_hours", interval_hours, lo=1) * HOUR_NS
        if averaging not in AVERAGING_MODES:
            raise invalid("averaging", f"one of {list(AVERAGING_MODES)}", averaging, error=ConfigError)
        self.averaging = averaging
        window = _check_int("sampling_interval_s", sampling_interval_s, lo=1) * NS_PER_S
        self.window_ns = window
        if averaging == "minute_median_hourly_mean":
            self.sample_ns = min(_check_int("vote_ns", vote_ns, lo=1), window)
        else:
            self.sample_ns = window
        self.interest = _check_int("interest_rate", interest_rate, -RATE_SCALE, RATE_SCALE)
        self.clamp = None if clamp_rate is None else _check_int("clamp_rate", clamp_rate, 0, RATE_SCALE)
        self.cap = None if cap_rate is None else _check_int("cap_rate", cap_rate, 0, RATE_SCALE)
        if payment_price not in ("mark", "oracle", "oracle_twap"):
            raise invalid("payment_price", "one of 'mark', 'oracle', 'oracle_twap'", payment_price,
                          error=ConfigError)
        self.payment_price = payment_price
        self.amortisation_ns = _check_int("amortisation_hours", amortisation_hours, lo=0) * HOUR_NS
        if averaging == "twap_spread" and not self.amortisation_ns:
            raise invalid("amortisation_hours", "> 0 when averaging is 'twap_spread'",
                          amortisation_hours, error=ConfigError)
        hit = _check_int("cap_hit_interval_hours", cap_hit_interval_hours, lo=0)
        self.interval_on_cap_ns = hit * HOUR_NS if hit else None
        self.fixed_ahead_intervals = _check_int("fixed_ahead_intervals", fixed_ahead_intervals, lo=0)
        self.max_divergence = _check_int("max_divergence", max_divergence, 0, 100 * RATE_SCALE)
        self.accrual = "index" if averaging in ("minute_median_hourly_mean", "twap_spread") \
            else "snapshot"

    @classmethod
    def from_params(cls, params: Any) -> ParamsFundingRule:
        """From a FundingParams-like object or a mapping of its fields (missing optional fields
        take their defaults)."""
        if isinstance(params, Mapping):
            return cls(**params)
        return cls(**{f: getattr(params, f) for f in cls._FIELDS if hasattr(params, f)})

    def make_sampler(self, impact_notional: float, *, t0_ns: int = 0) -> PremiumSampler:
        return PremiumSampler(self.averaging, self.sample_ns, impact_notional, t0_ns=t0_ns,
                              window_ns=self.window_ns)

    def compute(self, summary: PremiumSummary, interval_ns: int) -> FundingRate:
        if self.averaging == "twap_spread":
            return self._compute_spread(summary, interval_ns)
        p = summary.premium_avg
        f = p + self.interest if self.clamp is None else clamped_premium_rate(p, self.interest, self.clamp)
        rate = div_round_half_even(f * interval_ns, self.rate_interval_ns)
        capped = False
        if self.cap is not None:
            rate, capped = _cap(rate, -self.cap, self.cap)
        return FundingRate(rate=rate, rate_8h=div_round_half_even(f * EIGHT_HOURS_NS,
                                                                  self.rate_interval_ns),
                           capped=capped)

    def _compute_spread(self, summary: PremiumSummary, interval_ns: int) -> FundingRate:
        skip = _spread_skip(summary, self.max_divergence)
        if skip is not None:
            return skip
        mt, ot = summary.mark_twap, summary.oracle_twap
        spread = mt - ot + self.interest / RATE_SCALE * ot
        capped = False
        if self.cap is not None:
            k = self.cap / RATE_SCALE * ot
            capped = abs(spread) >= k
            spread = min(max(spread, -k), k)
        period_rate = spread / ot
        rate = round_half_even(period_rate * RATE_SCALE * interval_ns / self.amortisation_ns)
        return FundingRate(rate=rate, rate_8h=round_half_even(
            period_rate * RATE_SCALE * EIGHT_HOURS_NS / self.amortisation_ns), capped=capped)

    def initial_rate(self, interval_ns: int) -> FundingRate:
        if self.averaging == "twap_spread":
            return FundingRate(0, 0)
        return super().initial_rate(interval_ns)


#: preset file names -> rule names
_VENUE_ALIASES = {"binance_usdm": "binance", "bybit_linear": "bybit", "dydx_v4": "dydx"}


def make_funding_rule(venue_name_or_params: Any) -> FundingRule:
    """Build a funding rule from:

    - a venue name (``"binance"``, ``"hyperliquid"``, … or a preset name such as
      ``"binance_usdm"``): that venue's rule with its defaults;
    - a mapping with a ``"venue"`` (or ``"rule"``) key and parameter overrides of that rule;
    - a preset's ``[funding]`` parameters — an :class:`exchange.presets.params.FundingParams`,
      an object with a ``funding`` attribute holding one (a loaded preset), or a mapping of its
      fields (with ``interval_hours``): a :class:`ParamsFundingRule`.

    Anything else, an unknown venue or a bad parameter is a :class:`ConfigError`.

    >>> make_funding_rule("hyperliquid").interval_ns == HOUR_NS
    True
    >>> make_funding_rule({"venue": "binance", "interval_ns": 4 * HOUR_NS}).interval_ns // HOUR_NS
    4
    """
    params: Any = venue_name_or_params
    if not isinstance(params, (str, Mapping)) and hasattr(params, "funding") \
            and not hasattr(params, "interval_hours"):
        params = params.funding
    if isinstance(params, str):
        name, overrides = params, {}
    elif isinstance(params, Mapping) and ("venue" in params or "rule" in params):
        overrides = dict(params)
        name = overrides.pop("venue", None) or overrides.pop("rule", None)
    elif isinstance(params, Mapping) or hasattr(params, "interval_hours"):
        if isinstance(params, Mapping) and "interval_hours" not in params:
            raise ConfigError("funding params must name the rule with a 'venue' key or be a "
                              f"preset's [funding] table (got keys {sorted(params)})")
        try:
            return ParamsFundingRule.from_params(params)
        except TypeError as exc:
            raise ConfigError(f"funding params: {exc}") from exc
    else:
        raise invalid("funding", "a venue name, a mapping of parameters or a preset's funding "
                      "params", venue_name_or_params, error=ConfigError)
    from exchange.funding.venue_rules import FUNDING_RULES  # the venue rules build on this module
    key = str(name).lower()
    cls = FUNDING_RULES.get(_VENUE_ALIASES.get(key, key))
    if cls is None:
        raise invalid("funding.venue", f"one of {sorted(FUNDING_RULES)}", name, error=ConfigError)
    try:
        return cls(**overrides)
    except TypeError as exc:
        raise ConfigError(f"funding rule {name!r}: bad parameters {sorted(overrides)}: {exc}") from exc


