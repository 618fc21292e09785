"""Premium sampling: the premium index from a book's impact prices, sampled at a venue's cadence
and averaged the venue's way (:class:`PremiumSampler`, :class:`PremiumSummary`)."""
from __future__ import annotations

import math

import attrs
import numpy as np

from exchange.errors import ConfigError, invalid
from exchange.funding._base import MINUTE_NS, _check_int
from exchange.oracle import BUY, SELL, BookLike, round_half_even
from exchange.units import RATE_SCALE

__all__ = ["AVERAGING_MODES", "premium_index", "impact_notional_ticks_lots", "PremiumSampler",
           "PremiumSummary"]


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



#: averaging modes of :class:`PremiumSampler`
AVERAGING_MODES = ("time_weighted", "linear_weights", "twap", "mean",
                   "minute_median_hourly_mean", "twap_spread")


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
