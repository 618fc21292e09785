"""Funding: premium sampling, rate rules, the settlement schedule and the kernels.

Modules: :mod:`~exchange.funding.sampler` (premium sampling and averaging),
:mod:`~exchange.funding.rules` (the rate rule, :class:`ParamsFundingRule`, and
:func:`make_funding_rule`), :mod:`~exchange.funding.schedule` (intervals, settlement times,
freezing) and :mod:`~exchange.funding.settlement` (the kernels and the funding index). Every public name is
re-exported here: ``from exchange.funding import X`` works for all of them.

Reference: ``shared/reference/venue-mechanics.md`` §2 (funding).

Pieces, each usable alone:

- :class:`PremiumSampler` samples the premium index from the book's impact prices at the venue's
  cadence and averages it the venue's way.
- the funding rule (:class:`FundingRule`) turns a :class:`PremiumSummary` into the rate to pay
  for one interval. There is one implementation, :class:`ParamsFundingRule`, built from a
  preset's ``[funding]`` table and the instrument's base margin rates
  (:func:`make_funding_rule`; Binance, Bybit, BitMEX, Hyperliquid, dYdX and Drift are presets).
- :class:`FundingScheduler` owns the interval and the next settlement time, drives the sampler,
  freezes while the oracle is stale and says what to settle (:class:`FundingRateFixed`).
- :func:`settle_funding` and :func:`settle_funding_index`: the vectorised settlement kernels on
  struct-of-arrays position storage, exact integer arithmetic, zero-sum up to a remainder that
  goes to the fee pool.
- :class:`FundingIndex`: dYdX/Drift-style cumulative funding index.

Numbers. Rates are ``int`` in parts per :data:`RATE_SCALE` (10^8; 0.01 % = 10_000). A rate is
"per interval": the fraction of notional a long pays a short at one settlement (positive: longs
pay). Premium samples are floats; an averaged premium is rounded half to even to a rate, and every
rate formula after that is integer arithmetic, with scalings (``·N/8``, ``/8``) rounded half to
even. Money is ``int`` atoms; the kernels round each payment **in the venue's favour**: a payer
pays the ceiling of the exact amount, a receiver receives the floor.

Unconfirmed points ([U] in the reference) and the reading chosen:

- Binance's "time-weighted" average: the reference reads it as weights linear in the sample
  index (like Bybit) [U]. ``"time_weighted"`` implements that reading robustly to gaps: a
  sample's weight is the time elapsed since the interval began (1, 2, …, n for a regular
  cadence). ``"twap"`` is the duration-weighted mean, used for BitMEX's 8 h TWAP.
- A side of the book too thin for the impact notional (impact price ``None``) contributes 0 to the
  premium (``max(0, ·)`` of a missing term).
- Bybit: the rate formula and interval scaling are taken to be Binance's; payment price mark [U].
- BitMEX: the rate is fixed one interval ahead: a settlement pays the rate computed at the
  previous settlement (the first pays the interest-only rate). The fair basis the reference says
  BitMEX adds to P is not modelled.
- Hyperliquid: impact notional from mirrors [3P]; the hourly 1/8 of the 8 h rate is rounded half to
  even before the ±4 %/h cap. The premium is a plain mean of the hour's 5 s samples
  (``"mean"``), not linearly weighted: "Premium sampled every 5 seconds, averaged over the hour"
  (Hyperliquid docs, trading/funding, mirrored at https://www.cortex-vigil.com/wiki/funding-rates,
  read 2026-12-02).
- dYdX: premium votes are clamped to ``±60·(IMF − MMF)`` and the 8 h rate to ``±6·(IMF − MMF)``
  before it is pro-rated per hour (the preset's ``vote_clamp_margin_factor`` and
  ``cap_margin_factor``; BitMEX's cap is ``0.75·(IMR − MMR)`` the same way), the margins of the
  instrument's base tier. A minute with fewer than ``min_votes`` block samples is padded with
  zeros before its median (so a minute without samples contributes 0).
- Drift: the payment price is the oracle TWAP of the period (Drift's funding rate is a price
  difference per unit of base); funding is skipped when the last sampled mark and oracle diverge by
  more than 10 %. The long/short imbalance paid from fees (vAMM) is not modelled: an order book
  venue is exactly zero-sum.
- Binance since 2025-05: hitting the cap switches the symbol to 1 h funding; we keep 1 h from
  then on (when Binance switches back is not documented).
- Staleness (Drift-style): when the oracle has had no live reading for ``stale_limit_ns`` the
  scheduler neither samples nor settles; a settlement due while frozen is skipped (no payment for
  that interval) and the sampler restarts.
"""
from __future__ import annotations

from exchange.funding._base import EIGHT_HOURS_NS, HOUR_NS, MINUTE_NS
from exchange.funding.rules import (
                                    FundingRate,
                                    FundingRule,
                                    ParamsFundingRule,
                                    base_margin_rates,
                                    bitmex_interest_rate,
                                    clamped_premium_rate,
                                    make_funding_rule,
)
from exchange.funding.sampler import (
                                    AVERAGING_MODES,
                                    PremiumSampler,
                                    PremiumSummary,
                                    impact_notional_ticks_lots,
                                    premium_index,
)
from exchange.funding.schedule import (
                                    FundingFrozen,
                                    FundingRateFixed,
                                    FundingResumed,
                                    FundingScheduler,
                                    FundingSkipped,
)
from exchange.funding.settlement import FundingIndex, settle_funding, settle_funding_index
from exchange.units import RATE_SCALE

__all__ = [
    "RATE_SCALE", "HOUR_NS", "EIGHT_HOURS_NS", "MINUTE_NS", "AVERAGING_MODES",
    "premium_index", "impact_notional_ticks_lots", "clamped_premium_rate", "bitmex_interest_rate",
    "PremiumSampler", "PremiumSummary", "FundingRate",
    "FundingRule", "ParamsFundingRule", "base_margin_rates", "make_funding_rule",
    "FundingIndex", "FundingScheduler", "FundingRateFixed", "FundingSkipped", "FundingFrozen",
    "FundingResumed",
    "settle_funding", "settle_funding_index",
]
