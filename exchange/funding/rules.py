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

    ``rate``: per this interval (RATE_SCALE), positive = longs pay. ``rate_8h``: the 8-hour
    figure of that rate as the venue publishes it, every bound applied. ``capped``: the
    cap/floor bound it. ``skip_reason``: when set, nothing is paid (``rate`` is 0).
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



class ParamsFundingRule:
    """The funding rule, built from a preset's ``[funding]`` table
    (:class:`exchange.presets.params.FundingParams`, or any object or mapping with its fields)
    and, where the venue derives its bounds from margins, the instrument's base margin rates.

    Semantics of the table: ``F = P_avg + clamp(interest - P_avg, ±clamp)`` is the rate per
    ``interval_hours`` (``clamp_rate=None``: ``F = P_avg + interest``, dYdX), bounded to
    ``±cap_margin_factor·(imr − mmr)`` when the venue defines its cap that way (BitMEX 0.75,
    dYdX 6); a payment every ``pay_every_hours`` pays ``F · pay_every / interval`` (half-even),
    bounded by ``cap_rate`` per payment (Binance's ``/(8/N)`` is ``interval_hours=8,
    pay_every_hours=N``; Hyperliquid's hourly 1/8 is ``8, 1``). ``vote_clamp_margin_factor``
    (dYdX 60): every premium vote is clamped to ``±factor·(imr − mmr)`` before the minute
    median. ``imr``/``mmr``: the instrument's base initial and maintenance margin rates
    (1e8; :func:`base_margin_rates`), required by the two margin factors.
    With ``averaging="twap_spread"`` (Drift) a payment pays
    ``clamp(mT - oT + interest·oT, ±cap·oT) / oT · pay_every / amortisation_hours`` and is
    skipped when mark and oracle diverge by more than ``max_divergence``.
    ``cap_hit_interval_hours`` > 0: the payment interval after the cap is hit (Binance).
    ``fixed_ahead_intervals``: the rate is paid that many settlements after it is fixed (BitMEX).
    Accrual is through a funding index for the dYdX and Drift averagings
    (``minute_median_hourly_mean``, ``twap_spread``), else a snapshot. For
    ``minute_median_hourly_mean``, ``sampling_interval_s`` is the median window (dYdX's 60 s
    funding-sample epoch) and votes are taken every ``vote_ns`` (a block, 1 s).

    ``rate_8h`` of a result is the venue's 8-hour figure of what is paid: ``F`` (after the
    margin cap) per 8 h, or, when the per-payment ``cap_rate`` binds, that cap per 8 h — the
    rate the venues publish is the bounded one (BitMEX's 0.375 %, dYdX's clamped 8 h
    ``FundingValuePpm``, Binance's capped ``fundingRate``).
    """

    name = "params"
    sample_ns: int
    vote_clamp: int | None
    _FIELDS = ("interval_hours", "sampling_interval_s", "averaging", "interest_rate", "clamp_rate",
               "cap_rate", "payment_price", "pay_every_hours", "amortisation_hours",
               "cap_hit_interval_hours", "fixed_ahead_intervals", "cap_margin_factor",
               "vote_clamp_margin_factor")

    def __init__(self, *, interval_hours: int, sampling_interval_s: int, averaging: str,
                 interest_rate: int, pay_every_hours: int, payment_price: str = "mark",
                 clamp_rate: int | None = None, cap_rate: int | None = None,
                 amortisation_hours: int = 0, cap_hit_interval_hours: int = 0,
                 fixed_ahead_intervals: int = 0, max_divergence: int = 10_000_000,
                 vote_ns: int = NS_PER_S, cap_margin_factor: int | None = None,
                 vote_clamp_margin_factor: int | None = None, imr: int | None = None,
                 mmr: int | None = None) -> None:
        #: the settlement interval: one payment every ``pay_every_hours``
        self.interval_ns = _check_int("pay_every_hours", pay_every_hours, lo=1) * HOUR_NS
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
        self.margin_cap = self._from_margins("cap_margin_factor", cap_margin_factor, imr, mmr)
        self.vote_clamp = self._from_margins("vote_clamp_margin_factor", vote_clamp_margin_factor,
                                             imr, mmr)
        if payment_price not in ("mark", "oracle", "oracle_twap"):
            raise invalid("payment_price", "one of 'mark', 'oracle', 'oracle_twap'", payment_price,
                          error=ConfigError)
        self.payment_price = payment_price
        self.amortisation_ns = _check_int("amortisation_hours", amortisation_hours, lo=0) * HOUR_NS
        if averaging == "twap_spread" and not self.amortisation_ns:
            raise invalid("amortisation_hours", "> 0 when averaging is 'twap_spread'",
                          amortisation_hours, error=ConfigError)
        if averaging == "twap_spread" and self.margin_cap is not None:
            raise invalid("cap_margin_factor", "unset when averaging is 'twap_spread' (Drift "
                          "clamps the spread with cap_rate)", cap_margin_factor, error=ConfigError)
        hit = _check_int("cap_hit_interval_hours", cap_hit_interval_hours, lo=0)
        self.interval_on_cap_ns = hit * HOUR_NS if hit else None
        self.fixed_ahead_intervals = _check_int("fixed_ahead_intervals", fixed_ahead_intervals, lo=0)
        self.max_divergence = _check_int("max_divergence", max_divergence, 0, 100 * RATE_SCALE)
        self.accrual = "index" if averaging in ("minute_median_hourly_mean", "twap_spread") \
            else "snapshot"

    @staticmethod
    def _from_margins(field: str, factor: int | None, imr: int | None, mmr: int | None) -> int | None:
        """``factor · (imr − mmr)`` in rate units, its magnitude rounded down; None without a
        factor."""
        if factor is None:
            return None
        f = _check_int(field, factor, 0, 1000 * RATE_SCALE)
        if imr is None or mmr is None:
            raise ConfigError(f"funding {field!r} needs the instrument's base margin rates "
                              "(imr, mmr): build the rule with the instrument")
        i = _check_int("imr", imr, 0, RATE_SCALE)
        m = _check_int("mmr", mmr, 0, i)
        return f * (i - m) // RATE_SCALE

    def max_rate(self, interval_ns: int | None = None) -> int | None:
        """The largest |rate| one payment of ``interval_ns`` (default: the rule's interval) can
        pay: the tighter of ``cap_rate`` and the margin cap scaled to the payment; None when
        unbounded. Not for ``twap_spread`` (its cap bounds a price spread). O(1)."""
        interval_ns = self.interval_ns if interval_ns is None else interval_ns
        bounds = [] if self.cap is None else [self.cap]
        if self.margin_cap is not None:
            bounds.append(div_round_half_even(self.margin_cap * interval_ns, self.rate_interval_ns))
        return min(bounds) if bounds else None

    @classmethod
    def from_params(cls, params: Any, *, imr: int | None = None,
                    mmr: int | None = None) -> ParamsFundingRule:
        """From a FundingParams-like object or a mapping of its fields (missing optional fields
        take their defaults), with the instrument's base margin rates ``imr``/``mmr`` (1e8)
        where the table derives bounds from them."""
        margins = {k: v for k, v in (("imr", imr), ("mmr", mmr)) if v is not None}
        if isinstance(params, Mapping):
            return cls(**{**margins, **params})
        return cls(**{f: getattr(params, f) for f in cls._FIELDS if hasattr(params, f)}, **margins)

    def make_sampler(self, impact_notional: float, *, t0_ns: int = 0) -> PremiumSampler:
        """A :class:`PremiumSampler` with this venue's averaging, cadence, median window and
        vote clamp."""
        return PremiumSampler(self.averaging, self.sample_ns, impact_notional, t0_ns=t0_ns,
                              window_ns=self.window_ns, vote_clamp=self.vote_clamp)

    def compute(self, summary: PremiumSummary, interval_ns: int) -> FundingRate:
        if self.averaging == "twap_spread":
            return self._compute_spread(summary, interval_ns)
        p = summary.premium_avg
        f = p + self.interest if self.clamp is None else clamped_premium_rate(p, self.interest, self.clamp)
        capped = False
        if self.margin_cap is not None:     # bounds F itself (BitMEX, dYdX), before pro-rating
            f, capped = _cap(f, -self.margin_cap, self.margin_cap)
        rate = div_round_half_even(f * interval_ns, self.rate_interval_ns)
        rate_8h = div_round_half_even(f * EIGHT_HOURS_NS, self.rate_interval_ns)
        if self.cap is not None:
            rate, hit = _cap(rate, -self.cap, self.cap)
            if hit:
                capped = True
                rate_8h = div_round_half_even(rate * EIGHT_HOURS_NS, interval_ns)
        return FundingRate(rate=rate, rate_8h=rate_8h, capped=capped)

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
        """The rate with a zero premium (what an interval with no information pays)."""
        if self.averaging == "twap_spread":
            return FundingRate(0, 0)
        return self.compute(PremiumSummary(0, 0, 0, 0), interval_ns)

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({fields})"


#: short venue names -> preset names
_VENUE_PRESETS = {"binance": "binance_usdm", "bybit": "bybit_linear", "dydx": "dydx_v4"}


def base_margin_rates(spec: Any) -> tuple[int, int]:
    """``(imr, mmr)`` of an instrument's base (first) margin tier, per 1e8: the initial rate
    ``1/max_leverage`` (half-even) and the maintenance rate. The margins BitMEX's funding cap
    and dYdX's funding and vote clamps are defined on. O(1).

    >>> from exchange.presets import load_preset
    >>> base_margin_rates(load_preset("dydx_v4").instrument("BTC-USD"))     # IMF 2 %, MMF 1.2 %
    (2000000, 1200000)
    """
    tier = spec.tiers[0]
    return div_round_half_even(RATE_SCALE, tier.max_leverage), int(tier.mmr)


def _preset_margins(preset: Any, instrument: Any) -> tuple[int | None, int | None]:
    """The base margin rates of ``instrument`` (a symbol of ``preset`` or a spec), or, with
    none named, those every instrument of the preset shares; (None, None) when they differ
    (a rule that needs them then says so)."""
    if instrument is not None:
        spec = preset.instrument(instrument) if isinstance(instrument, str) else instrument
        return base_margin_rates(spec)
    rates = {base_margin_rates(spec) for spec in preset.instruments.values()}
    return rates.pop() if len(rates) == 1 else (None, None)


def make_funding_rule(source: Any, instrument: Any = None) -> ParamsFundingRule:
    """The funding rule of a venue preset, built from its ``[funding]`` table
    (:class:`ParamsFundingRule`). ``source`` is one of:

    - a loaded preset (an object with ``funding`` and ``instruments``);
    - a preset name (``"binance_usdm"``, ``"hyperliquid"``, …; ``"binance"``, ``"bybit"`` and
      ``"dydx"`` name ``binance_usdm``, ``bybit_linear`` and ``dydx_v4``);
    - a mapping with a ``"venue"`` (or ``"rule"``) key naming a preset and overrides of its
      ``[funding]`` fields (parts per 1e8), ``imr``/``mmr`` overriding the base margin rates;
    - a :class:`~exchange.presets.params.FundingParams` or a mapping of its fields (with
      ``interval_hours``).

    ``instrument`` (a symbol of the preset or an :class:`~exchange.instruments.InstrumentSpec`)
    supplies the base margin rates the BitMEX/dYdX bounds derive from; without it a preset's
    instruments must share them. Anything else, an unknown preset or a bad parameter is a
    :class:`ConfigError`.

    >>> make_funding_rule("hyperliquid").interval_ns == HOUR_NS
    True
    >>> make_funding_rule({"venue": "binance", "pay_every_hours": 4}).interval_ns // HOUR_NS
    4
    >>> make_funding_rule("bitmex", "XBTUSDT").margin_cap       # 0.75 · (1 % − 0.5 %)
    375000
    """
    from exchange.presets import list_presets, load_preset  # presets sit above funding

    overrides: dict[str, Any] = {}
    if isinstance(source, Mapping) and ("venue" in source or "rule" in source):
        overrides = dict(source)
        source = overrides.pop("venue", None) or overrides.pop("rule", None)
        if not isinstance(source, str):
            raise invalid("funding.venue", "a preset name", source, error=ConfigError)
    if isinstance(source, str):
        key = source.lower()
        names = list_presets()
        key = _VENUE_PRESETS.get(key, key)
        if key not in names:
            raise invalid("funding.venue", f"one of {sorted(set(names) | set(_VENUE_PRESETS))}",
                          source, error=ConfigError)
        source = load_preset(key)
    imr = mmr = None
    if not isinstance(source, Mapping) and hasattr(source, "funding") \
            and hasattr(source, "instruments"):
        imr, mmr = _preset_margins(source, instrument)
        params: Any = source.funding
    elif isinstance(source, Mapping) or hasattr(source, "interval_hours"):
        if isinstance(source, Mapping) and "interval_hours" not in source:
            raise ConfigError("funding params must name the preset with a 'venue' key or be a "
                              f"preset's [funding] table (got keys {sorted(source)})")
        if instrument is not None and not isinstance(instrument, str):
            imr, mmr = base_margin_rates(instrument)
        params = source
    else:
        raise invalid("funding", "a preset, a preset name, a mapping of parameters or a "
                      "preset's funding params", source, error=ConfigError)
    imr, mmr = overrides.pop("imr", imr), overrides.pop("mmr", mmr)
    if overrides:
        unknown = sorted(set(overrides) - set(ParamsFundingRule._FIELDS))
        if unknown:
            raise ConfigError(f"funding rule: bad parameters {unknown} (known: "
                              f"{sorted(ParamsFundingRule._FIELDS + ('imr', 'mmr'))})")
        fields = {f: getattr(params, f) for f in ParamsFundingRule._FIELDS if hasattr(params, f)}
        params = {**fields, **overrides}
    try:
        return ParamsFundingRule.from_params(params, imr=imr, mmr=mmr)
    except TypeError as exc:
        raise ConfigError(f"funding params: {exc}") from exc
