"""The index path of a scenario: one "true" price path quoted by several exchange sources.

Built from :mod:`exchange.sim.sources` generators: the path is a
:class:`~exchange.sim.sources.RandomWalkSource` (gaussian steps + Poisson jumps), a
:class:`~exchange.sim.sources.GBMSource` or a :class:`~exchange.sim.sources.ReplaySource` of a
CSV, wrapped in one :class:`~exchange.sim.sources.ShockSource` per index-gap shock.
:class:`SharedPath` evaluates it once per instant; each :class:`SourceTap` quotes it with its
own idiosyncratic noise (its own generator); oracle faults (lag, freeze, manipulation, outage)
wrap individual taps; an :class:`~exchange.oracle.Index` combines the taps with the venue's clamp
and staleness rules.
"""
from __future__ import annotations

import csv
import math
from collections import deque
from pathlib import Path

import numpy as np

from exchange.errors import ConfigError, invalid
from exchange.oracle import NS_PER_S, PriceSource
from exchange.sim.sources import _BlockWalk

__all__ = ["SharedPath", "SourceTap", "WindowedLag", "StochasticVolSource", "load_price_csv"]


class StochasticVolSource(_BlockWalk):
    """Log-price path with stochastic volatility, heavy-tailed steps and Poisson jumps: the
    stylized facts of Cont (2001), "Empirical properties of asset returns: stylized facts and
    statistical issues", Quantitative Finance 1, 223–236 (read 2026-12-02) — heavy tails
    (fact 2), volatility clustering (fact 8: |r| autocorrelated over hours) and no linear
    autocorrelation of returns (fact 1).

    Every ``step_ns`` the log price moves by ``σ_t · ε`` plus Poisson jumps
    (``jump_rate_per_s``, sizes ``Normal(jump_mean, jump_std)``). ``ε`` is Student-t with
    ``tail_df`` degrees of freedom scaled to unit variance (``tail_df = 0``: gaussian).
    ``σ_t = sigma · exp(v_t)`` with ``v`` a stationary AR(1) in log volatility, sd
    ``vol_of_vol`` and half-life ``vol_half_life_s`` (``sigma`` is the median step vol).
    The path is a function of (seed, parameters) only. O(1) amortised per step.

    >>> src = StochasticVolSource(np.random.default_rng(1), 100.0, sigma=1e-4, vol_of_vol=0.5,
    ...                           vol_half_life_s=600.0, tail_df=4.0)
    >>> 99.0 < src.price_at(10 * NS_PER_S) < 101.0
    True
    """

    def __init__(self, rng: np.random.Generator, price: float, *, step_ns: int = NS_PER_S,
                 sigma: float = 1e-4, vol_of_vol: float = 0.5, vol_half_life_s: float = 1800.0,
                 tail_df: float = 0.0, jump_rate_per_s: float = 0.0, jump_mean: float = 0.0,
                 jump_std: float = 0.0, t0_ns: int = 0) -> None:
        super().__init__(rng, price, step_ns, t0_ns)
        for name, v in (("sigma", sigma), ("vol_of_vol", vol_of_vol),
                        ("jump_rate_per_s", jump_rate_per_s), ("jump_std", jump_std)):
            if not math.isfinite(v) or v < 0:
                raise invalid(name, "a finite float >= 0", v, error=ConfigError)
        if not math.isfinite(vol_half_life_s) or vol_half_life_s <= 0:
            raise invalid("vol_half_life_s", "a finite float > 0", vol_half_life_s, error=ConfigError)
        if not math.isfinite(tail_df) or (tail_df != 0 and tail_df <= 2):
            raise invalid("tail_df", "0 (gaussian) or a float > 2", tail_df, error=ConfigError)
        if not math.isfinite(jump_mean):
            raise invalid("jump_mean", "finite", jump_mean, error=ConfigError)
        self.sigma = float(sigma)
        self.vol_of_vol = float(vol_of_vol)
        self.tail_df = float(tail_df)
        step_s = self.step_ns / NS_PER_S
        self._a = 0.5 ** (step_s / float(vol_half_life_s))
        self._lam = float(jump_rate_per_s) * step_s
        self.jump_mean, self.jump_std = float(jump_mean), float(jump_std)
        self._v = float(rng.standard_normal()) * self.vol_of_vol      # stationary start

    def _increments(self, k: int) -> np.ndarray:
        rng = self._rng
        a = self._a
        shocks = rng.standard_normal(k) * (self.vol_of_vol * math.sqrt(1.0 - a * a))
        v = np.empty(k)
        prev = self._v
        for i, e in enumerate(shocks.tolist()):       # k = one block, a few thousand steps
            prev = a * prev + e
            v[i] = prev
        self._v = prev
        if self.tail_df:
            df = self.tail_df
            eps = rng.standard_t(df, k) * math.sqrt((df - 2.0) / df)
        else:
            eps = rng.standard_normal(k)
        inc = self.sigma * np.exp(v) * eps
        if self._lam > 0:
            counts = rng.poisson(self._lam, k)
            total = int(counts.sum())
            if total:
                sizes = rng.normal(self.jump_mean, self.jump_std, total)
                np.add.at(inc, np.repeat(np.arange(k), counts), sizes)
        return inc


class SharedPath:
    """Evaluates a price source at most once per timestamp and remembers its latest price, so
    that several taps can read one path. ``latest(ts_ns)``: the path's price at ``ts_ns``
    (its last observation at or before it; None before the first). A read behind the newest
    one (the venue's feeds, ``history_ns`` late, while traders read the path now) is answered
    from the change points of the last ``history_ns``. O(1) per new timestamp; a late read
    O(change points in the window)."""

    def __init__(self, source: PriceSource, history_ns: int = 0) -> None:
        self.source = source
        self._ts: int | None = None
        self.price: float | None = None
        self.history_ns = int(history_ns)
        self._hist: deque[tuple[int, float]] = deque()

    def latest(self, ts_ns: int) -> float | None:
        if self._ts is not None and ts_ns < self._ts:
            if ts_ns < self._ts - self.history_ns:
                raise ValueError(f"path read {self._ts - ts_ns} ns late: beyond its "
                                 f"history of {self.history_ns} ns")
            for t, p in reversed(self._hist):
                if t <= ts_ns:
                    return p
            return None
        if self._ts != ts_ns:
            self._ts = ts_ns
            p = self.source.price_at(ts_ns)
            if p is not None:
                self.price = float(p)
                if self.history_ns:
                    h = self._hist
                    h.append((ts_ns, self.price))
                    while len(h) > 1 and h[1][0] <= ts_ns - self.history_ns:
                        h.popleft()
        return self.price


class SourceTap:
    """One exchange quoting the shared path: ``price · exp(noise · z)`` with z standard normal
    from its own generator, a live observation at every call (None before the path starts)."""

    def __init__(self, path: SharedPath, rng: np.random.Generator, noise: float) -> None:
        self.path = path
        self.rng = rng
        self.noise = float(noise)
        self._block = np.empty(0)
        self._i = 0

    def price_at(self, ts_ns: int) -> float | None:
        p = self.path.latest(ts_ns)
        if p is None:
            return None
        if not self.noise:
            return p
        if self._i >= self._block.shape[0]:
            self._block = self.rng.standard_normal(4096) * self.noise
            self._i = 0
        z = self._block[self._i]
        self._i += 1
        return p * math.exp(z)


class WindowedLag:
    """During ``[t0_ns, t1_ns)`` the source's updates are reported ``lag_ns`` late (the feed
    serves old prices as new); outside the window it passes through. O(1) amortised."""

    def __init__(self, source: PriceSource, t0_ns: int, t1_ns: int, lag_ns: int) -> None:
        if lag_ns <= 0 or t1_ns <= t0_ns:
            raise ConfigError(f"'lag' must be > 0 and the window non-empty (got lag {lag_ns} ns, "
                              f"window [{t0_ns}, {t1_ns}))")
        self.source = source
        self.t0_ns, self.t1_ns, self.lag_ns = t0_ns, t1_ns, lag_ns
        self._hist: deque[tuple[int, float]] = deque()

    def price_at(self, ts_ns: int) -> float | None:
        p = self.source.price_at(ts_ns)
        h = self._hist
        if p is not None:
            h.append((ts_ns, p))
        due = ts_ns - self.lag_ns
        if not self.t0_ns <= ts_ns < self.t1_ns:
            # keep just enough history for the window to start lagged
            while len(h) > 1 and h[1][0] <= due:
                h.popleft()
            return p
        out = None
        while h and h[0][0] <= due:
            out = h.popleft()[1]
        return out


def load_price_csv(path: str | Path, *, time_column: str = "ts", price_column: str = "price",
                   source: str = "scenario") -> tuple[np.ndarray, np.ndarray]:
    """Read a CSV of (time, price) rows → (ts_ns int64 relative to the first row, prices).

    The time column may hold integer nanoseconds (values > 1e15), milliseconds (> 1e11) or
    seconds; a bad file, column or value is a one-line :class:`ConfigError`. O(rows).
    """
    p = Path(path)
    try:
        with p.open(newline="") as fh:
            reader = csv.DictReader(fh)
            if reader.fieldnames is None or time_column not in reader.fieldnames \
                    or price_column not in reader.fieldnames:
                raise ConfigError(f"{source}: 'index.csv' {str(p)!r} must have columns "
                                  f"{time_column!r} and {price_column!r} (got {reader.fieldnames})")
            ts, px = [], []
            for i, row in enumerate(reader):
                try:
                    ts.append(float(row[time_column]))
                    px.append(float(row[price_column]))
                except (TypeError, ValueError):
                    raise ConfigError(f"{source}: 'index.csv' {str(p)!r} row {i + 2} must hold "
                                      f"numbers (got {row[time_column]!r}, {row[price_column]!r})") from None
    except OSError as exc:
        raise ConfigError(f"{source}: 'index.csv' must be a readable file (got {str(p)!r}: "
                          f"{exc.strerror})") from None
    if not ts:
        raise ConfigError(f"{source}: 'index.csv' {str(p)!r} must hold at least one row (got none)")
    t = np.asarray(ts, dtype=np.float64)
    big = np.abs(t).max()
    scale = 1.0 if big > 1e15 else (1e6 if big > 1e11 else float(NS_PER_S))
    ts_ns = np.rint((t - t[0]) * scale).astype(np.int64)
    prices = np.asarray(px, dtype=np.float64)
    if np.any(np.diff(ts_ns) < 0) or not np.all(np.isfinite(prices) & (prices > 0)):
        raise ConfigError(f"{source}: 'index.csv' {str(p)!r} must have increasing times and "
                          "positive prices (got a row that breaks it)")
    return ts_ns, prices
