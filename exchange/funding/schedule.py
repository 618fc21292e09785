"""The funding schedule: interval, next settlement time, sampler driving, freezing on a stale
oracle, and what each settlement time produces (:class:`FundingRateFixed`, …)."""
from __future__ import annotations

from collections import deque
from typing import Any, Protocol

import attrs

from exchange.errors import invalid
from exchange.funding._base import _check_int
from exchange.funding.rules import FundingRate, FundingRule
from exchange.funding.sampler import PremiumSampler, PremiumSummary
from exchange.funding.settlement import FundingIndex
from exchange.oracle import NS_PER_S, BookLike, round_half_even


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
