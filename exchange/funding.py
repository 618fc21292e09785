"""Funding: premium sampling, per-venue rate rules, the settlement schedule and the kernel.

Reference: ``shared/reference/venue-mechanics.md`` §2 (funding).

Pieces, each usable alone:

- :class:`PremiumSampler` samples the premium index from the book's impact prices at the venue's
  cadence and averages it the venue's way.
- funding rules (:class:`FundingRule`): Binance, Bybit, BitMEX, Hyperliquid, dYdX, Drift. Each
  turns a :class:`PremiumSummary` into the rate to pay for one interval.
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
- dYdX: a minute with fewer than ``min_votes`` block samples is padded with zeros before its
  median (so a minute without samples contributes 0).
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

import math
from collections import deque
from typing import Any, Mapping, Protocol, runtime_checkable

import attrs
import numpy as np

from exchange.errors import ConfigError, invalid
from exchange.oracle import (BUY, NS_PER_S, RATE_SCALE, SELL, BookLike, div_round_half_even,
                             round_half_even)

__all__ = [
    "RATE_SCALE", "HOUR_NS", "EIGHT_HOURS_NS", "AVERAGING_MODES",
    "premium_index", "impact_notional_ticks_lots", "clamped_premium_rate", "bitmex_interest_rate",
    "PremiumSampler", "PremiumSummary", "FundingRate",
    "FundingRule", "BinanceFundingRule", "BybitFundingRule", "BitMexFundingRule",
    "HyperliquidFundingRule", "DydxFundingRule", "DriftFundingRule",
    "ParamsFundingRule", "FUNDING_RULES", "make_funding_rule",
    "FundingIndex", "FundingScheduler", "FundingRateFixed", "FundingSkipped", "FundingFrozen",
    "FundingResumed",
    "settle_funding", "settle_funding_index",
]

HOUR_NS = 3600 * NS_PER_S
EIGHT_HOURS_NS = 8 * HOUR_NS
MINUTE_NS = 60 * NS_PER_S
_INT64_MAX = 2**63 - 1


# -- PREMIUM ---------------------------------------------------------------------------------

def premium_index(index_ticks: float, impact_bid: float | None, impact_ask: float | None) -> float:
    """``P = (max(0, impact_bid - I) - max(0, I - impact_ask)) / I`` [C]; a missing impact
    price (book too thin) contributes 0. O(1).

    >>> premium_index(100.0, 100.5, 101.0), premium_index(100.0, 98.0, 99.0)
    (0.005, -0.01)
    """
    up = impact_bid - index_ticks if impact_bid is not None and impact_bid > index_ticks else 0.0
    down = index_ticks - impact_ask if impact_ask is not None and impact_ask < index_ticks else 0.0
    return (up - down) / index_ticks


def impact_notional_ticks_lots(notional_quote: float, tick_size: float, lot_size: float) -> float:
    """Convert an impact margin notional in quote units (Binance: 200 USDT / IMR at max leverage;
    Hyperliquid 20,000 USDC for BTC/ETH) to the book's unit, ticks × lots.

    >>> impact_notional_ticks_lots(4000.0, 0.1, 0.001)  # 4,000 USDT at tick 0.1, lot 0.001
    40000000.0
    """
    return notional_quote / (tick_size * lot_size)


def clamped_premium_rate(premium_avg: int, interest: int, clamp: int) -> int:
    """``F = P_avg + clamp(r - P_avg, -c, +c)`` in rate units, exact. O(1).

    >>> clamped_premium_rate(30_000, 10_000, 50_000)   # 0.03 % + clamp(-0.02 %) = 0.01 %
    10000
    >>> clamped_premium_rate(100_000, 10_000, 50_000)  # 0.10 % + clamp(-0.09 %) = 0.05 %
    50000
    """
    return premium_avg + min(max(interest - premium_avg, -clamp), clamp)


def _check_int(field: str, value: Any, lo: int | None = None, hi: int | None = None) -> int:
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool):
        raise invalid(field, "an int", value, error=ConfigError)
    if lo is not None and value < lo:
        raise invalid(field, f">= {lo}", value, error=ConfigError)
    if hi is not None and value > hi:
        raise invalid(field, f"<= {hi}", value, error=ConfigError)
    return int(value)


#: averaging modes of :class:`PremiumSampler`
AVERAGING_MODES = ("time_weighted", "linear_weights", "twap", "mean",
                   "minute_median_hourly_mean", "twap_spread")


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
class PremiumSummary:
    """What a sampler saw over one funding period.

    ``premium_avg``: the averaged premium as a rate (RATE_SCALE, half-even); for ``twap_spread``
    it is ``(mark_twap - oracle_twap) / oracle_twap``. ``mark_twap``/``oracle_twap`` (ticks, float)
    are set by ``twap_spread`` only; ``last_mark``/``last_oracle`` are the last sampled values.
    """

    premium_avg: int
    n_samples: int
    ts_start_ns: int
    ts_end_ns: int
    mark_twap: float | None = None
    oracle_twap: float | None = None
    last_mark: float | None = None
    last_oracle: int | None = None


class PremiumSampler:
    """Samples the premium index at a cadence and averages it over the funding period.

    Sampling grid: ``t_start + k·cadence_ns`` (k ≥ 1) after each ``reset(t_start)``; ``due(ts)``
    says whether a sample is due, ``sample(...)`` takes one now (``maybe_sample`` = both),
    ``skip(ts)`` moves past a due time without sampling (while frozen). A sample is
    ``P = premium_index(I, impact_bid, impact_ask)`` with the impact prices of a SELL and a BUY
    taker of ``impact_notional`` (ticks × lots), optionally clamped to ``±vote_clamp`` (dYdX).

    Averaging (``averaging``), all O(1) per sample except the dYdX minute buffer:

    - ``"time_weighted"`` (Binance): weight of a sample = time since the period start, i.e.
      1, 2, …, n for a regular cadence (see the module notes, [U]);
    - ``"linear_weights"`` (Bybit): weights 1, 2, …, n by sample count, latest heaviest;
    - ``"twap"`` (BitMEX 8 h TWAP): weight = time since the previous sample (or period start);
    - ``"mean"`` (Hyperliquid, 5 s samples averaged over the hour): plain mean;
    - ``"minute_median_hourly_mean"`` (dYdX): per-block samples (``cadence_ns`` = block time);
      each ``window_ns`` (a minute, aligned to the period start; a sample at a window's end
      belongs to it) becomes the median of its samples padded with zeros to ``min_votes``; the
      period's premium is the mean of the window values;
    - ``"twap_spread"`` (Drift): samples the mark (book mid, else the ``mark_ticks`` passed in)
      and the oracle; time-weighted like ``"twap"``; the summary carries both TWAPs.

    No sample in the period: ``premium_avg = 0``.
    """

    def __init__(self, averaging: str, cadence_ns: int, impact_notional: float, *,
                 t0_ns: int = 0, vote_clamp: int | None = None, min_votes: int = 15,
                 window_ns: int = MINUTE_NS) -> None:
        if averaging not in AVERAGING_MODES:
            raise invalid("averaging", f"one of {list(AVERAGING_MODES)}", averaging, error=ConfigError)
        self.averaging = averaging
        self.cadence_ns = _check_int("cadence_ns", cadence_ns, lo=1)
        if not isinstance(impact_notional, (int, float, np.integer, np.floating)) \
                or not math.isfinite(impact_notional) or impact_notional <= 0:
            raise invalid("impact_notional", "a finite number > 0 (ticks x lots)", impact_notional,
                          error=ConfigError)
        self.impact_notional = impact_notional
        self.vote_clamp = None if vote_clamp is None else _check_int("vote_clamp", vote_clamp, lo=0)
        self.min_votes = _check_int("min_votes", min_votes, lo=1)
        self.window_ns = _check_int("window_ns", window_ns, lo=1)
        self.reset(_check_int("t0_ns", t0_ns))

    # -- COMMANDS --
    def reset(self, ts_start_ns: int) -> None:
        """Start a new period at ``ts_start_ns`` (forget every sample). O(1)."""
        self.ts_start_ns = ts_start_ns
        self.next_sample_ns = ts_start_ns + self.cadence_ns
        self.n_samples = 0
        self._num = 0.0
        self._den = 0.0
        self._num2 = 0.0            # twap_spread: Σ dt·oracle
        self._ts_prev = ts_start_ns
        self._minute_end = ts_start_ns + self.window_ns
        self._votes: list[float] = []
        self._minute_sum = 0.0
        self._minutes = 0
        self.last_sample: float | None = None
        self.last_mark: float | None = None
        self.last_oracle: int | None = None

    def due(self, ts_ns: int) -> bool:
        """True when a sample is due at ``ts_ns``. O(1)."""
        return ts_ns >= self.next_sample_ns

    def skip(self, ts_ns: int) -> None:
        """Move the sampling grid past ``ts_ns`` without sampling. O(1)."""
        self._advance(ts_ns)

    def maybe_sample(self, ts_ns: int, index_ticks: int, book: BookLike | None,
                     mark_ticks: int | None = None) -> float | None:
        """Sample if due; the sample or None. O(1)."""
        if ts_ns < self.next_sample_ns:
            return None
        return self.sample(ts_ns, index_ticks, book, mark_ticks)

    def sample(self, ts_ns: int, index_ticks: int, book: BookLike | None,
               mark_ticks: int | None = None) -> float | None:
        """Take one sample now (the caller decides when); the premium sample (``twap_spread``:
        the spread ``(mark - oracle)/oracle``), or None when nothing could be sampled
        (``twap_spread`` without a book mid and without ``mark_ticks``). O(1)."""
        if ts_ns < self._ts_prev:
            raise invalid("ts_ns", f">= the previous sample's {self._ts_prev}", ts_ns)
        if index_ticks is None or index_ticks <= 0:
            raise invalid("index_ticks", "an int > 0", index_ticks)
        self._advance(ts_ns)
        mode = self.averaging
        if mode == "twap_spread":
            mark = None
            if book is not None:
                bid, ask = book.best_bid(), book.best_ask()
                if bid is not None and ask is not None:
                    mark = (bid + ask) / 2
            if mark is None:
                mark = mark_ticks
            if mark is None:
                return None
            dt = ts_ns - self._ts_prev
            self._num += dt * mark
            self._num2 += dt * index_ticks
            self._den += dt
            self._ts_prev = ts_ns
            self.n_samples += 1
            self.last_mark, self.last_oracle = float(mark), index_ticks
            p = (mark - index_ticks) / index_ticks
            self.last_sample = p
            return p
        if book is None:
            ib = ia = None
        else:
            ib = book.impact_price(SELL, self.impact_notional)
            ia = book.impact_price(BUY, self.impact_notional)
        p = premium_index(index_ticks, ib, ia)
        if self.vote_clamp is not None:
            c = self.vote_clamp / RATE_SCALE
            p = min(max(p, -c), c)
        self.n_samples += 1
        if mode == "time_weighted":
            w = float(ts_ns - self.ts_start_ns)
        elif mode == "linear_weights":
            w = float(self.n_samples)
        elif mode == "twap":
            w = float(ts_ns - self._ts_prev)
        elif mode == "mean":
            w = 1.0
        else:  # minute_median_hourly_mean
            self._close_minutes(ts_ns, inclusive=False)
            self._votes.append(p)
            w = 0.0
        self._num += w * p
        self._den += w
        self._ts_prev = ts_ns
        self.last_sample = p
        self.last_oracle = index_ticks
        return p

    # -- QUERIES --
    def summary(self, ts_end_ns: int) -> PremiumSummary:
        """Average of the period ``[ts_start, ts_end_ns]``. Does not reset. O(1)
        (``minute_median_hourly_mean``: O(v log v) for the open minutes' v samples)."""
        mark_twap = oracle_twap = None
        if self.averaging == "minute_median_hourly_mean":
            minute_sum, minutes = self._minute_sum, self._minutes
            votes, end = list(self._votes), self._minute_end
            while end <= ts_end_ns:
                minute_sum += self._minute_value(votes)
                minutes += 1
                votes = []
                end += self.window_ns
            avg = minute_sum / minutes if minutes else 0.0
        elif self.averaging == "twap_spread":
            if self._den > 0:
                mark_twap, oracle_twap = self._num / self._den, self._num2 / self._den
                avg = (mark_twap - oracle_twap) / oracle_twap
            else:
                avg = 0.0
        else:
            avg = self._num / self._den if self._den > 0 else 0.0
        return PremiumSummary(premium_avg=round_half_even(avg * RATE_SCALE),
                              n_samples=self.n_samples, ts_start_ns=self.ts_start_ns,
                              ts_end_ns=ts_end_ns, mark_twap=mark_twap, oracle_twap=oracle_twap,
                              last_mark=self.last_mark, last_oracle=self.last_oracle)

    # -- internals --
    def _advance(self, ts_ns: int) -> None:
        k = (ts_ns - self.ts_start_ns) // self.cadence_ns + 1
        self.next_sample_ns = max(self.next_sample_ns, self.ts_start_ns + k * self.cadence_ns)

    def _minute_value(self, votes: list[float]) -> float:
        v = sorted(votes + [0.0] * max(0, self.min_votes - len(votes)))
        n = len(v)
        return v[n // 2] if n & 1 else (v[n // 2 - 1] + v[n // 2]) / 2

    def _close_minutes(self, ts_ns: int, *, inclusive: bool) -> None:
        # a sample at exactly a minute's end belongs to that minute
        while ts_ns > self._minute_end or (inclusive and ts_ns == self._minute_end):
            self._minute_sum += self._minute_value(self._votes)
            self._minutes += 1
            self._votes = []
            self._minute_end += self.window_ns


# -- RULES -----------------------------------------------------------------------------------

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


def _spread_skip(summary: "PremiumSummary", max_divergence: int) -> "FundingRate | None":
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
    def from_params(cls, params: Any) -> "ParamsFundingRule":
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


#: venue name -> funding rule class
FUNDING_RULES: dict[str, type] = {
    "binance": BinanceFundingRule,
    "bybit": BybitFundingRule,
    "bitmex": BitMexFundingRule,
    "hyperliquid": HyperliquidFundingRule,
    "dydx": DydxFundingRule,
    "drift": DriftFundingRule,
}


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
    key = str(name).lower()
    cls = FUNDING_RULES.get(_VENUE_ALIASES.get(key, key))
    if cls is None:
        raise invalid("funding.venue", f"one of {sorted(FUNDING_RULES)}", name, error=ConfigError)
    try:
        return cls(**overrides)
    except TypeError as exc:
        raise ConfigError(f"funding rule {name!r}: bad parameters {sorted(overrides)}: {exc}") from exc


# -- SCHEDULE --------------------------------------------------------------------------------

class FundingIndex:
    """Cumulative funding index (dYdX, Drift), exact integer.

    Unit: atoms / RATE_SCALE per lot. ``accrue(price_ticks, rate)`` adds
    ``price_ticks · atoms_per_tick_lot · rate`` — exactly the per-lot payment of one interval
    times RATE_SCALE, so no rounding happens here. A position stores the value at its last
    settlement and pays ``settle_funding_index(q, value_now - value_then)``. O(1).
    """

    def __init__(self, atoms_per_tick_lot: int = 1, value: int = 0) -> None:
        self.atoms_per_tick_lot = _check_int("atoms_per_tick_lot", atoms_per_tick_lot, lo=1)
        self.value = _check_int("value", value)

    def accrue(self, price_ticks: int, rate: int) -> int:
        """Add one interval at ``rate`` (per interval) and ``price_ticks``; the new value."""
        self.value += price_ticks * self.atoms_per_tick_lot * rate
        return self.value


@attrs.frozen
class FundingRateFixed:
    """A settlement is due: pay ``rate`` on ``price_ticks`` (``accrual="snapshot"``: every open
    position pays ``settle_funding(size, price_ticks, rate, atoms_per_tick_lot)``;
    ``"index"``: ``funding_index`` is the index value after this accrual)."""

    ts_ns: int
    rate: int
    rate_8h: int
    interval_ns: int
    price_ticks: int
    premium_avg: int
    n_samples: int
    capped: bool
    accrual: str
    funding_index: int | None = None
    next_rate: int | None = None  # rates fixed ahead: the rate fixed now, paid later


@attrs.frozen
class FundingSkipped:
    """A settlement time passed without payment; ``reason`` says why."""

    ts_ns: int
    reason: str


@attrs.frozen
class FundingFrozen:
    """Sampling and settlement stop from ``ts_ns``: the oracle is stale."""

    ts_ns: int
    reason: str


@attrs.frozen
class FundingResumed:
    """The oracle is live again at ``ts_ns``: sampling and settlement resume."""

    ts_ns: int


class _OracleLike(Protocol):
    price_ticks: int | None

    def is_stale(self, ts_ns: int, limit_ns: int) -> bool: ...


class FundingScheduler:
    """Knows the interval and the next settlement; drives the sampler; freezes on a stale oracle.

    Settlements are on the grid ``t0_ns + k·interval_ns`` (re-anchored at the settlement that
    changes the interval). Call :meth:`step` at :meth:`next_wakeup_ns` (it handles at most one
    sample and one settlement per call, sampling first so a sample at the settlement time belongs
    to the period it closes). ``oracle`` is anything with ``price_ticks`` and
    ``is_stale(ts_ns, limit_ns)`` (an :class:`exchange.oracle.Oracle`).

    Staleness (Drift-style): while ``oracle.is_stale(ts, stale_limit_ns)`` no sample is taken and
    a settlement due is skipped (:class:`FundingSkipped`, the sampler restarts); entering and
    leaving that state are reported (:class:`FundingFrozen`, :class:`FundingResumed`).
    """

    def __init__(self, rule: FundingRule, sampler: PremiumSampler, *, t0_ns: int = 0,
                 stale_limit_ns: int = 60 * NS_PER_S, interval_ns: int | None = None,
                 atoms_per_tick_lot: int = 1) -> None:
        self.rule = rule
        self.sampler = sampler
        self.t0_ns = _check_int("t0_ns", t0_ns)
        self.stale_limit_ns = _check_int("stale_limit_ns", stale_limit_ns, lo=1)
        self.interval_ns = _check_int("interval_ns", rule.interval_ns if interval_ns is None
                                      else interval_ns, lo=1)
        self._anchor_ns = self.t0_ns
        self.next_settlement_ns = self.t0_ns + self.interval_ns
        self.funding_index = FundingIndex(atoms_per_tick_lot) if rule.accrual == "index" else None
        # rates fixed ahead (BitMEX): the queue of rates already fixed, oldest first; before any
        # sample the venue pays the interest-only rate
        self.fixed_ahead: deque[FundingRate] = deque(
            [rule.initial_rate(self.interval_ns)] * rule.fixed_ahead_intervals)
        self.frozen = False
        self.freeze_reason: str | None = None
        self.last_rate: int = 0
        sampler.reset(self.t0_ns)

    def anchor(self, ts_ns: int) -> None:
        """Start the schedule at ``ts_ns`` on the venue's UTC grid: settlements at multiples of
        the interval since the epoch (00/08/16 UTC for 8 h), the first one the next grid time
        after ``ts_ns``; sampling starts at ``ts_ns``. A clock that starts at 0 gets the
        default grid; a clock in epoch time (recorded data) gets the venue's real schedule
        instead of a first period that ends at once. O(1)."""
        ts_ns = _check_int("ts_ns", ts_ns)
        self.t0_ns = self._anchor_ns = 0
        self.next_settlement_ns = (ts_ns // self.interval_ns + 1) * self.interval_ns
        self.sampler.reset(ts_ns)

    # -- QUERIES --
    def next_wakeup_ns(self) -> int:
        """The next time :meth:`step` has something to do. O(1)."""
        return min(self.sampler.next_sample_ns, self.next_settlement_ns)

    # -- COMMANDS --
    def step(self, ts_ns: int, *, oracle: _OracleLike, book: BookLike | None,
             mark_ticks: int | None = None) -> list[FundingRateFixed | FundingSkipped |
                                                     FundingFrozen | FundingResumed]:
        """Sample and/or settle at ``ts_ns``; the outcomes (possibly none). O(1)."""
        out: list[Any] = []
        stale = oracle.price_ticks is None or oracle.is_stale(ts_ns, self.stale_limit_ns)
        if stale and not self.frozen:
            self.frozen = True
            self.freeze_reason = (f"oracle stale at {ts_ns}: no live reading within "
                                  f"{self.stale_limit_ns} ns")
            out.append(FundingFrozen(ts_ns, self.freeze_reason))
        elif not stale and self.frozen:
            self.frozen = False
            self.freeze_reason = None
            out.append(FundingResumed(ts_ns))
        if self.sampler.due(ts_ns):
            if stale:
                self.sampler.skip(ts_ns)
            else:
                self.sampler.sample(ts_ns, oracle.price_ticks, book, mark_ticks)
        if ts_ns >= self.next_settlement_ns:
            out.append(self._settle(ts_ns, oracle, mark_ticks, stale))
        return out

    def _settle(self, ts_ns: int, oracle: _OracleLike, mark_ticks: int | None, stale: bool) -> Any:
        interval = self.interval_ns
        if stale:
            outcome: Any = FundingSkipped(ts_ns, f"funding frozen: {self.freeze_reason}")
            self._next(ts_ns, interval)
            return outcome
        summary = self.sampler.summary(ts_ns)
        decision = self.rule.compute(summary, interval)
        if decision.skip_reason is not None:
            self._next(ts_ns, interval)
            return FundingSkipped(ts_ns, decision.skip_reason)
        paid, next_rate = decision, None
        if self.fixed_ahead:
            self.fixed_ahead.append(decision)
            paid, next_rate = self.fixed_ahead.popleft(), decision.rate
        price = self._payment_price(summary, oracle, mark_ticks)
        index_value = None
        if self.funding_index is not None:
            index_value = self.funding_index.accrue(price, paid.rate)
        self.last_rate = paid.rate
        outcome = FundingRateFixed(ts_ns=ts_ns, rate=paid.rate, rate_8h=paid.rate_8h,
                                   interval_ns=interval, price_ticks=price,
                                   premium_avg=summary.premium_avg, n_samples=summary.n_samples,
                                   capped=paid.capped, accrual=self.rule.accrual,
                                   funding_index=index_value, next_rate=next_rate)
        new_interval = interval
        if decision.capped and self.rule.interval_on_cap_ns is not None:
            new_interval = self.rule.interval_on_cap_ns
        self._next(ts_ns, new_interval)
        return outcome

    def _payment_price(self, summary: PremiumSummary, oracle: _OracleLike,
                       mark_ticks: int | None) -> int:
        how = self.rule.payment_price
        if how == "oracle_twap" and summary.oracle_twap is not None:
            return round_half_even(summary.oracle_twap)
        if how == "mark" and mark_ticks is not None:
            return mark_ticks
        if how == "mark":
            raise invalid("mark_ticks", f"an int for a {self.rule.name} settlement (pays on mark)",
                          mark_ticks)
        return oracle.price_ticks  # type: ignore[return-value]

    def _next(self, ts_ns: int, interval: int) -> None:
        if interval != self.interval_ns:
            self.interval_ns = interval
            self._anchor_ns = ts_ns
        k = (ts_ns - self._anchor_ns) // self.interval_ns + 1
        self.next_settlement_ns = self._anchor_ns + k * self.interval_ns
        self.sampler.reset(ts_ns)


# -- SETTLEMENT KERNELS ----------------------------------------------------------------------

def _check_sizes(size_lots: Any) -> np.ndarray:
    if not isinstance(size_lots, np.ndarray) or size_lots.dtype != np.int64 or size_lots.ndim != 1:
        raise invalid("size_lots", "a 1-D numpy int64 array",
                      f"{type(size_lots).__name__} {getattr(size_lots, 'dtype', '')}".strip())
    return size_lots


def _buffer(name: str, buf: np.ndarray | None, n: int) -> np.ndarray:
    if buf is None:
        return np.empty(n, dtype=np.int64)
    if not isinstance(buf, np.ndarray) or buf.dtype != np.int64 or buf.shape != (n,) \
            or not buf.flags.writeable:
        raise invalid(name, f"a writeable int64 array of shape ({n},)",
                      f"{type(buf).__name__} {getattr(buf, 'dtype', '')} {getattr(buf, 'shape', '')}")
    return buf


def _max_abs(a: np.ndarray) -> int:
    return max(int(a.max()), -int(a.min())) if len(a) else 0


def _ceil_scaled_scalar(size: np.ndarray, delta: int, out: np.ndarray, work: np.ndarray) -> None:
    """out = ceil(size · delta / RATE_SCALE), exact, for a Python-int ``delta``.

    ``delta = dh·S + dl`` (floor divmod, 0 ≤ dl < S) so ``q·delta/S = q·dh + q·dl/S`` and, q·dh
    being an integer, ``ceil(q·delta/S) = q·dh - floor(-q·dl / S)``. Both products fit in int64
    when ``max|q|·max(|dh|, S) < 2**63`` (checked by the callers). 4 passes, no temporaries.
    """
    dh, dl = divmod(delta, RATE_SCALE)
    if dl:
        np.multiply(size, -dl, out=work)
        np.floor_divide(work, RATE_SCALE, out=work)
        if dh:
            np.multiply(size, dh, out=out)
            np.subtract(out, work, out=out)
        else:
            np.negative(work, out=out)
    else:
        np.multiply(size, dh, out=out)


def settle_funding(size_lots: np.ndarray, price_ticks: int | np.ndarray, rate: int,
                   atoms_per_tick_lot: int, *, out: np.ndarray | None = None,
                   work: np.ndarray | None = None, check: bool = True) -> tuple[np.ndarray, int]:
    """Funding payments of every position, exact integers, rounded in the venue's favour.

    ``payments[i] = ceil(size_lots[i] · price · atoms_per_tick_lot · rate / RATE_SCALE)`` atoms;
    > 0 means position i pays, < 0 that it receives. With a positive rate longs pay shorts. The
    ceiling of the signed amount is the rule "a payer pays the ceiling of its exact amount, a
    receiver receives the floor of its". Returns ``(payments, remainder_atoms)`` with
    ``remainder_atoms = sum(payments)``: what the venue keeps (the fee pool's). When the sizes net
    to zero at one price (one market), ``0 <= remainder_atoms < number of non-zero positions``:
    funding is exactly zero-sum between traders up to that remainder.

    ``price_ticks``: an int (one market; then ``check`` requires ``sum(size_lots) == 0``) or an
    int64 array, one price per position (several markets in one array; the caller then ensures
    each market nets to zero). ``out``/``work``: preallocated int64 buffers of the same length
    (reuse them on a hot path; ``out`` is returned). ``check=False`` skips the argument and
    overflow checks (two extra passes).

    Exactness without int64 overflow. Scalar price: the per-lot amount
    ``delta = price·atoms_per_tick_lot·rate`` is a Python int, split ``delta = dh·S + dl``;
    ``ceil(q·delta/S) = q·dh - floor(-q·dl/S)``. Array price: the signed notional
    ``X = q·price·atoms_per_tick_lot`` (int64, |X| up to ~1e15 and more), split
    ``X = hi·S + lo``; ``ceil(X·rate/S) = hi·rate - floor(-lo·rate/S)``. Every intermediate is
    bounded by the payment itself or by ``S·max(|q|, |rate|)``.

    Cost: O(n); scalar price 4 passes over the arrays plus 3 for the checks and 1 for the sum.

    >>> pay, rem = settle_funding(np.array([3, -1, -2], dtype=np.int64), 101, 10_000, 1)
    >>> pay.tolist(), rem   # exact 0.0303, -0.0101, -0.0202 atoms
    ([1, 0, 0], 1)
    """
    size = _check_sizes(size_lots) if check else size_lots
    n = len(size)
    out = _buffer("out", out, n)
    work = _buffer("work", work, n)
    if check:
        apl = _check_int("atoms_per_tick_lot", atoms_per_tick_lot, lo=1)
        rate = _check_int("rate", rate, -RATE_SCALE, RATE_SCALE)
    else:
        apl = int(atoms_per_tick_lot)
        rate = int(rate)
    if isinstance(price_ticks, np.ndarray):
        return _settle_array_price(size, price_ticks, rate, apl, out, work, check)
    if check and (not isinstance(price_ticks, (int, np.integer)) or isinstance(price_ticks, bool)):
        raise invalid("price_ticks", "an int or an int64 array", price_ticks)
    price = int(price_ticks)
    delta = price * apl * rate
    if check:
        if price <= 0:
            raise invalid("price_ticks", "> 0", price_ticks)
        qmax = _max_abs(size)
        if qmax * max(abs(delta) // RATE_SCALE + 1, RATE_SCALE) > _INT64_MAX:
            raise invalid("size_lots", f"small enough that |size|·price·rate fits in int64 "
                          f"(max |size| {qmax}, per-lot amount {delta}/{RATE_SCALE})", "too large")
        net = int(size.sum())
        if net != 0:
            raise invalid("size_lots", "net to zero (funding is zero-sum between traders)",
                          f"net {net}")
    _ceil_scaled_scalar(size, delta, out, work)
    return out, int(out.sum())


def _settle_array_price(size: np.ndarray, price: np.ndarray, rate: int, apl: int,
                        out: np.ndarray, work: np.ndarray, check: bool) -> tuple[np.ndarray, int]:
    n = len(size)
    if check:
        if price.dtype != np.int64 or price.shape != (n,):
            raise invalid("price_ticks", f"an int or an int64 array of shape ({n},)",
                          f"{price.dtype} {price.shape}")
        if n and int(price.min()) <= 0:
            raise invalid("price_ticks", "> 0 everywhere", int(price.min()))
        if n and _max_abs(size) * int(price.max()) * apl > _INT64_MAX:
            raise invalid("size_lots", "small enough that |size|·price·atoms_per_tick_lot fits "
                          "in int64", "too large")
    # |X| <= 2**63-1 and |rate| <= S bound every intermediate: |hi·rate| <= |X|, |lo·rate| < S²
    np.multiply(size, price, out=out)               # X = q·price (signed notional, ticks·lots)
    if apl != 1:
        np.multiply(out, apl, out=out)              # X in atoms
    np.floor_divide(out, RATE_SCALE, out=work)      # hi
    np.remainder(out, RATE_SCALE, out=out)          # lo = X - hi·S   (0 <= lo < S)
    np.multiply(out, -rate, out=out)                # -lo·rate
    np.floor_divide(out, RATE_SCALE, out=out)       # floor(-lo·rate / S)
    np.multiply(work, rate, out=work)               # hi·rate
    np.subtract(work, out, out=out)                 # hi·rate - floor(-lo·rate/S) = ceil(X·rate/S)
    return out, int(out.sum())


def settle_funding_index(size_lots: np.ndarray, index_delta: int | np.ndarray, *,
                         out: np.ndarray | None = None, work: np.ndarray | None = None,
                         check: bool = True) -> tuple[np.ndarray, int]:
    """dYdX/Drift index accrual: ``payments[i] = ceil(size_lots[i] · index_delta / RATE_SCALE)``.

    ``index_delta`` (:class:`FundingIndex` units, atoms / RATE_SCALE per lot) is ``index_now -
    index_at_last_settle``: an int when every position last settled at the same index, else an
    int64 array, one per position. Same sign and rounding rule as :func:`settle_funding` (payer
    pays the ceiling, receiver gets the floor); returns ``(payments, sum(payments))``. With a
    scalar delta and sizes netting to zero the remainder is in ``[0, n)``; with per-position
    deltas funding is zero-sum over time, not at each settlement, so the sum is just reported.
    Cost: O(n), 4 passes (array delta: 8).

    >>> settle_funding_index(np.array([2, -2], dtype=np.int64), 150_000_000)[0].tolist()
    [3, -3]
    """
    size = _check_sizes(size_lots) if check else size_lots
    n = len(size)
    out = _buffer("out", out, n)
    work = _buffer("work", work, n)
    if not isinstance(index_delta, np.ndarray):
        delta = int(index_delta)
        if check and _max_abs(size) * max(abs(delta) // RATE_SCALE + 1, RATE_SCALE) > _INT64_MAX:
            raise invalid("size_lots", "small enough that |size|·index_delta/RATE_SCALE fits in "
                          "int64", "too large")
        _ceil_scaled_scalar(size, delta, out, work)
        return out, int(out.sum())
    if check:
        if index_delta.dtype != np.int64 or index_delta.shape != (n,):
            raise invalid("index_delta", f"an int or an int64 array of shape ({n},)",
                          f"{index_delta.dtype} {index_delta.shape}")
        if n and _max_abs(size) * max(_max_abs(index_delta) // RATE_SCALE + 1, RATE_SCALE) > _INT64_MAX:
            raise invalid("size_lots", "small enough that |size|·index_delta/RATE_SCALE fits in "
                          "int64", "too large")
    np.floor_divide(index_delta, RATE_SCALE, out=work)   # dh
    np.multiply(work, RATE_SCALE, out=out)
    np.subtract(index_delta, out, out=out)               # dl = delta - dh·S  (0 <= dl < S)
    np.multiply(out, size, out=out)
    np.negative(out, out=out)
    np.floor_divide(out, RATE_SCALE, out=out)            # floor(-q·dl / S)
    np.multiply(work, size, out=work)                    # q·dh
    np.subtract(work, out, out=out)
    return out, int(out.sum())
