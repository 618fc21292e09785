"""Scenario price generators: the feeds a simulation supplies to an :class:`~exchange.oracle.Index`.

A constant, a random walk with jumps, a geometric Brownian motion, a replay of recorded data
(:class:`ConstantSource`, :class:`RandomWalkSource`, :class:`GBMSource`, :class:`ReplaySource`),
optionally wrapped in a shock (:class:`ShockSource`) or an oracle fault (:class:`LagFault`,
:class:`FreezeFault`, :class:`ManipulationFault`, :class:`OutageFault`). Each is a
:class:`~exchange.oracle.PriceSource`: float prices in quote units, ``None`` when there is no new
observation. Randomness only comes from ``numpy.random.Generator`` objects passed in; time must
not go backwards (``ValueError``).
"""
from __future__ import annotations

import abc
import math
from collections import deque
from collections.abc import Sequence

import numpy as np

from exchange.errors import ConfigError, invalid
from exchange.oracle import NS_PER_S, PriceSource, _check_ns, _check_price

__all__ = ["ConstantSource", "RandomWalkSource", "GBMSource", "ReplaySource", "ShockSource",
           "LagFault", "FreezeFault", "ManipulationFault", "OutageFault"]


class _Clocked:
    """Refuses time going backwards (sources keep state between calls)."""

    _ts_prev: int | None = None

    def _tick(self, ts_ns: int) -> None:
        if self._ts_prev is not None and ts_ns < self._ts_prev:
            raise invalid("ts_ns", f">= the previous call's ts_ns {self._ts_prev}", ts_ns)
        self._ts_prev = ts_ns


class ConstantSource(_Clocked):
    """Always reports the same price (a live quote at every call).

    >>> ConstantSource(100.0).price_at(5)
    100.0
    """

    def __init__(self, price: float) -> None:
        self.price = _check_price("price", price)

    def price_at(self, ts_ns: int) -> float | None:
        """O(1)."""
        self._tick(ts_ns)
        return self.price


class _BlockWalk(_Clocked, abc.ABC):
    """A log-price path on a fixed step grid ``t0 + k·step_ns``, drawn in fixed-size blocks.

    Drawing whole blocks makes the path a function of (seed, parameters) only, not of how often
    or when the source is queried. ``price_at`` reports a price on the first call and then only
    when at least one step has happened since the previous call (else ``None``: no update).
    Cost: O(1) amortised per step; memory O(block).
    """

    _BLOCK = 4096

    def __init__(self, rng: np.random.Generator, price: float, step_ns: int, t0_ns: int) -> None:
        if not isinstance(rng, np.random.Generator):
            raise ConfigError(f"'rng' must be a numpy.random.Generator (got {type(rng).__name__})")
        self._rng = rng
        self._p0 = _check_price("price", price)
        self._log0 = math.log(self._p0)
        self.step_ns = _check_ns("step_ns", step_ns)
        self.t0_ns = _check_ns("t0_ns", t0_ns, positive=False)
        self._block_first = 1          # step number of self._cum[0]
        self._cum = np.empty(0)        # log prices of steps block_first .. block_first+len-1
        self._log_before = self._log0  # log price of step block_first - 1
        self._last_step: int | None = None

    @abc.abstractmethod
    def _increments(self, k: int) -> np.ndarray:
        """The next ``k`` log-price increments, drawn from the generator."""

    def _log_at(self, step: int) -> float:
        if step <= 0:
            return self._log0
        while step >= self._block_first + len(self._cum):
            if len(self._cum):
                self._log_before = float(self._cum[-1])
                self._block_first += len(self._cum)
            self._cum = self._log_before + np.cumsum(self._increments(self._BLOCK))
        if step < self._block_first:  # cannot happen: time does not go backwards
            raise AssertionError("walk queried before its current block")
        return float(self._cum[step - self._block_first])

    def price_at(self, ts_ns: int) -> float | None:
        """Price after the last step at or before ``ts_ns``, if any step happened since the
        previous call (or on the first call); else ``None``. O(1) amortised."""
        self._tick(ts_ns)
        step = max(0, (ts_ns - self.t0_ns) // self.step_ns)
        if self._last_step is not None and step == self._last_step:
            return None
        self._last_step = step
        return self._p0 if step == 0 else math.exp(self._log_at(step))


class RandomWalkSource(_BlockWalk):
    """Log-price random walk with gaussian steps and Poisson jumps.

    Every ``step_ns`` the log price moves by ``sigma · z`` (z standard normal) plus the sum of
    ``N ~ Poisson(jump_rate_per_s · step_s)`` jumps, each ``~ Normal(jump_mean, jump_std)`` in log
    space (``jump_mean=-0.05``: 5 % down-jumps on average). Prices stay positive.
    """

    def __init__(self, rng: np.random.Generator, price: float, *, step_ns: int = NS_PER_S,
                 sigma: float = 1e-4, jump_rate_per_s: float = 0.0, jump_mean: float = 0.0,
                 jump_std: float = 0.0, t0_ns: int = 0) -> None:
        super().__init__(rng, price, step_ns, t0_ns)
        for name, v in (("sigma", sigma), ("jump_rate_per_s", jump_rate_per_s),
                        ("jump_std", jump_std)):
            if not math.isfinite(v) or v < 0:
                raise invalid(name, "a finite float >= 0", v, error=ConfigError)
        if not math.isfinite(jump_mean):
            raise invalid("jump_mean", "finite", jump_mean, error=ConfigError)
        self.sigma = float(sigma)
        self._lam = float(jump_rate_per_s) * self.step_ns / NS_PER_S
        self.jump_mean, self.jump_std = float(jump_mean), float(jump_std)

    def _increments(self, k: int) -> np.ndarray:
        inc = self._rng.standard_normal(k) * self.sigma
        if self._lam > 0:
            counts = self._rng.poisson(self._lam, k)
            total = int(counts.sum())
            if total:
                sizes = self._rng.normal(self.jump_mean, self.jump_std, total)
                np.add.at(inc, np.repeat(np.arange(k), counts), sizes)
        return inc


class GBMSource(_BlockWalk):
    """Geometric Brownian motion, exact discretisation on a ``step_ns`` grid.

    ``mu`` and ``sigma`` are annualised (year = 365 days):
    ``log S(t+dt) = log S(t) + (mu - sigma²/2)·dt + sigma·sqrt(dt)·z``.
    """

    YEAR_NS = 365 * 24 * 3600 * NS_PER_S

    def __init__(self, rng: np.random.Generator, price: float, *, mu: float = 0.0,
                 sigma: float = 0.6, step_ns: int = NS_PER_S, t0_ns: int = 0) -> None:
        super().__init__(rng, price, step_ns, t0_ns)
        if not math.isfinite(mu):
            raise invalid("mu", "finite", mu, error=ConfigError)
        if not math.isfinite(sigma) or sigma < 0:
            raise invalid("sigma", "a finite float >= 0", sigma, error=ConfigError)
        dt = self.step_ns / self.YEAR_NS
        self._drift = (mu - sigma * sigma / 2) * dt
        self._vol = sigma * math.sqrt(dt)

    def _increments(self, k: int) -> np.ndarray:
        return self._drift + self._vol * self._rng.standard_normal(k)


class ReplaySource(_Clocked):
    """Replays recorded ``(ts_ns, price)`` pairs (e.g. a CSV the caller loaded).

    ``price_at(ts)`` reports the latest record at or before ``ts`` when that record is newer than
    the one reported last; otherwise ``None`` (no new record: a gap in the data ages the source
    and the index can mark it stale). Before the first record: ``None``. O(log n) per call.
    """

    def __init__(self, ts_ns: Sequence[int] | np.ndarray, prices: Sequence[float] | np.ndarray) -> None:
        ts = np.asarray(ts_ns, dtype=np.int64)
        px = np.asarray(prices, dtype=np.float64)
        if ts.ndim != 1 or px.shape != ts.shape:
            raise ConfigError(f"'prices' must have the shape of 'ts_ns' {ts.shape} (got {px.shape})")
        if len(ts) and np.any(np.diff(ts) < 0):
            raise invalid("ts_ns", "non-decreasing", "an unsorted array", error=ConfigError)
        if not np.all(np.isfinite(px) & (px > 0)):
            raise invalid("prices", "finite and > 0", "an array with a bad value", error=ConfigError)
        self._ts, self._px = ts, px
        self._last_i = -1

    def price_at(self, ts_ns: int) -> float | None:
        self._tick(ts_ns)
        i = int(np.searchsorted(self._ts, ts_ns, side="right")) - 1
        if i <= self._last_i:
            return None
        self._last_i = i
        return float(self._px[i])


class _Wrapper(_Clocked):
    """Base of shocks and faults: queries the wrapped source at every call (so its state moves
    on with time) and remembers its latest price."""

    def __init__(self, source: PriceSource) -> None:
        if not hasattr(source, "price_at"):
            raise ConfigError(f"'source' must have a price_at(ts_ns) method (got {source!r})")
        self.source = source
        self._inner_last: float | None = None

    def _inner(self, ts_ns: int) -> float | None:
        self._tick(ts_ns)
        p = self.source.price_at(ts_ns)
        if p is not None:
            self._inner_last = p
        return p


def _check_window(t0_ns: int, t1_ns: int) -> tuple[int, int]:
    t0 = _check_ns("t0_ns", t0_ns, positive=False)
    t1 = _check_ns("t1_ns", t1_ns, positive=False)
    if t1 <= t0:
        raise invalid("t1_ns", f"> t0_ns {t0}", t1, error=ConfigError)
    return t0, t1


def _check_change(value: float) -> float:
    if not math.isfinite(value) or value <= -1:
        raise invalid("change", "a finite fraction > -1 (-0.1 = -10 %)", value, error=ConfigError)
    return float(value)


class _FactorWrapper(_Wrapper, abc.ABC):
    """Multiplies the wrapped price by a piecewise-constant factor of time. When the factor
    changes, the new price is reported at once even if the wrapped source has no update (a gap
    is visible at the instant it happens)."""

    @abc.abstractmethod
    def _factor(self, ts_ns: int) -> float:
        """The multiplier in force at ``ts_ns``."""

    _factor_prev: float = 1.0

    def price_at(self, ts_ns: int) -> float | None:
        p = self._inner(ts_ns)
        f = self._factor(ts_ns)
        changed = f != self._factor_prev
        self._factor_prev = f
        if p is None:
            if changed and self._inner_last is not None:
                return self._inner_last * f
            return None
        return p * f


class ShockSource(_FactorWrapper):
    """Applies a gap of ``change`` (a fraction: ``-0.10`` = -10 %) from ``ts_ns`` on, forever.

    >>> s = ShockSource(ConstantSource(100.0), ts_ns=10, change=-0.1)
    >>> s.price_at(0), s.price_at(10)
    (100.0, 90.0)
    """

    def __init__(self, source: PriceSource, ts_ns: int, change: float) -> None:
        super().__init__(source)
        self.ts_shock_ns = _check_ns("ts_ns", ts_ns, positive=False)
        self.change = _check_change(change)

    def _factor(self, ts_ns: int) -> float:
        return 1.0 + self.change if ts_ns >= self.ts_shock_ns else 1.0


class ManipulationFault(_FactorWrapper):
    """Pushes the wrapped source by ``change`` (``+0.05`` = +5 %) during ``[t0_ns, t1_ns)``."""

    def __init__(self, source: PriceSource, t0_ns: int, t1_ns: int, change: float) -> None:
        super().__init__(source)
        self.t0_ns, self.t1_ns = _check_window(t0_ns, t1_ns)
        self.change = _check_change(change)

    def _factor(self, ts_ns: int) -> float:
        return 1.0 + self.change if self.t0_ns <= ts_ns < self.t1_ns else 1.0


class LagFault(_Wrapper):
    """Reports the wrapped source's updates ``lag_ns`` late: at ``ts`` the newest update made at
    or before ``ts - lag_ns`` (once; ``None`` when no delayed update falls due).
    Memory: the updates of the last ``lag_ns``. O(1) amortised per call."""

    def __init__(self, source: PriceSource, lag_ns: int) -> None:
        super().__init__(source)
        self.lag_ns = _check_ns("lag_ns", lag_ns)
        self._pending: deque[tuple[int, float]] = deque()

    def price_at(self, ts_ns: int) -> float | None:
        p = self._inner(ts_ns)
        if p is not None:
            self._pending.append((ts_ns, p))
        due = ts_ns - self.lag_ns
        out = None
        pending = self._pending
        while pending and pending[0][0] <= due:
            out = pending.popleft()[1]
        return out


class _Silence(_Wrapper):
    """During ``[t0_ns, t1_ns)`` the wrapped source's updates are swallowed (``None``: the
    consumer sees the source age and goes stale). The first call after the window reports the
    wrapped source's latest price if an update was swallowed, so the feed resumes at once."""

    def __init__(self, source: PriceSource, t0_ns: int, t1_ns: int) -> None:
        super().__init__(source)
        self.t0_ns, self.t1_ns = _check_window(t0_ns, t1_ns)
        self._swallowed = False

    def _in_window(self, ts_ns: int) -> bool:
        return self.t0_ns <= ts_ns < self.t1_ns

    def price_at(self, ts_ns: int) -> float | None:
        before = self._inner_last
        p = self._inner(ts_ns)
        if self._in_window(ts_ns):
            if p is not None:
                self._swallowed = True
            return self._during(ts_ns, before)
        if p is None and self._swallowed:
            p = self._inner_last
        self._swallowed = False
        return p

    def _during(self, ts_ns: int, before: float | None) -> float | None:
        return None


class OutageFault(_Silence):
    """The source is down during ``[t0_ns, t1_ns)``: no updates at all."""


class FreezeFault(_Silence):
    """The source is frozen (stale) during ``[t0_ns, t1_ns)``.

    Default: it stops updating (``None``), exactly like an outage, so the index's staleness rule
    sees it. ``stuck_value=True`` models the nastier fault of a feed that keeps publishing the
    value it had when the freeze began, as fresh updates: staleness cannot see it, only the
    index's clamp to the median limits it.
    """

    def __init__(self, source: PriceSource, t0_ns: int, t1_ns: int, *, stuck_value: bool = False) -> None:
        super().__init__(source, t0_ns, t1_ns)
        self.stuck_value = bool(stuck_value)
        self._stuck: float | None = None

    def _during(self, ts_ns: int, before: float | None) -> float | None:
        if not self.stuck_value:
            return None
        if self._stuck is None:
            self._stuck = before if before is not None else self._inner_last
        return self._stuck

