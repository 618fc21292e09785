"""Correlated index paths of several assets from a one-factor model, with crash regimes.

Crypto returns load on one market factor (BTC's beta is about 1, large alts' 1.2–1.6) with
idiosyncratic noise on top; in a crash the market factor's volatility jumps, the
idiosyncratic share shrinks so correlations rise towards one ("correlations go to one in a
crisis": Longin and Solnik, "Extreme Correlation of International Equity Markets", Journal of
Finance 56, 2001), and alts gap several times further than BTC (10 October 2025: BTC −7 % to
−14 % intraday on the venues' indices while many alts fell 30–70 %).

Per step ``t`` of ``step_ns``, asset ``i`` moves in log price by::

    r_i,t = beta_i · m_t + s_i,t · e_i,t
    m_t   = sigma · exp(v_t) · vol_mult(t) · z_t        (z Student-t, unit variance)
    s_i,t = idio_sigma_i · idio_mult(t)

``v`` is a stationary AR(1) in log volatility (sd ``vol_of_vol``, half-life
``vol_half_life_s``): volatility clustering. Inside a :class:`CrashWindow` the factor's vol
is multiplied by ``vol_mult`` and the idiosyncratic vol by ``idio_mult`` (< 1: correlation
up). A :class:`FactorGap` at ``at_ns`` moves the factor by ``log(1 + change)`` once; asset
``i`` moves by ``gap_beta_i`` times that (``gap_beta`` defaults to ``beta``: alts with
``gap_beta`` 3–5 gap tens of percent when BTC gaps a few).

The paths are a function of (seed, parameters) only, drawn in fixed blocks of steps for all
assets at once, whatever the order or times they are queried in. :meth:`FactorModel.source`
gives each asset a :class:`~exchange.oracle.PriceSource`. Cost: O(assets) amortised per step.

>>> fm = FactorModel(np.random.default_rng(7), {"BTC": AssetParams(110_000.0, beta=1.0),
...                  "SOL": AssetParams(200.0, beta=1.5, idio_sigma=2e-4, gap_beta=4.0)},
...                  gaps=[FactorGap(60 * NS_PER_S, -0.05)])
>>> btc, sol = fm.source("BTC"), fm.source("SOL")
>>> b0, s0 = btc.price_at(59 * NS_PER_S), sol.price_at(59 * NS_PER_S)
>>> b1, s1 = btc.price_at(60 * NS_PER_S), sol.price_at(60 * NS_PER_S)
>>> round(b1 / b0 - 1, 2), round(s1 / s0 - 1, 2)      # BTC −5 %, SOL ≈ (0.95)^4 − 1
(-0.05, -0.19)
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import attrs
import numpy as np

from exchange.errors import ConfigError, invalid

__all__ = ["AssetParams", "CrashWindow", "FactorGap", "FactorModel", "AssetSource",
           "implied_correlation"]

NS_PER_S = 1_000_000_000


def _finite(name: str, v: float, lo: float | None = None, *, lo_open: bool = False) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise invalid(name, "a finite number", v, error=ConfigError)
    if lo is not None and (v <= lo if lo_open else v < lo):
        raise invalid(name, f"{'>' if lo_open else '>='} {lo}", v, error=ConfigError)
    return float(v)


@attrs.frozen
class AssetParams:
    """One asset: start ``price``, factor loading ``beta``, idiosyncratic log-sd per step
    ``idio_sigma``, loading of factor gaps ``gap_beta`` (None: ``beta``)."""

    price: float
    beta: float = 1.0
    idio_sigma: float = 0.0
    gap_beta: float | None = None

    def __attrs_post_init__(self) -> None:
        _finite("price", self.price, 0.0, lo_open=True)
        _finite("beta", self.beta)
        _finite("idio_sigma", self.idio_sigma, 0.0)
        if self.gap_beta is not None:
            _finite("gap_beta", self.gap_beta)

    @property
    def gap_loading(self) -> float:
        return self.beta if self.gap_beta is None else self.gap_beta


@attrs.frozen
class CrashWindow:
    """From ``start_ns`` for ``duration_ns``: factor vol × ``vol_mult``, idiosyncratic vol ×
    ``idio_mult``."""

    start_ns: int
    duration_ns: int
    vol_mult: float = 5.0
    idio_mult: float = 0.3

    def __attrs_post_init__(self) -> None:
        if type(self.start_ns) is not int or self.start_ns < 0:
            raise invalid("start_ns", "an int >= 0", self.start_ns, error=ConfigError)
        if type(self.duration_ns) is not int or self.duration_ns <= 0:
            raise invalid("duration_ns", "an int > 0", self.duration_ns, error=ConfigError)
        _finite("vol_mult", self.vol_mult, 0.0)
        _finite("idio_mult", self.idio_mult, 0.0)


@attrs.frozen
class FactorGap:
    """A one-off move of the market factor by ``log(1 + change)`` at ``at_ns``."""

    at_ns: int
    change: float

    def __attrs_post_init__(self) -> None:
        if type(self.at_ns) is not int or self.at_ns < 0:
            raise invalid("at_ns", "an int >= 0", self.at_ns, error=ConfigError)
        _finite("change", self.change, -1.0, lo_open=True)


def implied_correlation(a: AssetParams, b: AssetParams, market_sigma: float) -> float:
    """Correlation of the two assets' step returns the model implies at factor vol
    ``market_sigma`` (no gaps): ``βaβbσ² / √((βa²σ² + sa²)(βb²σ² + sb²))``."""
    cov = a.beta * b.beta * market_sigma ** 2
    va = a.beta ** 2 * market_sigma ** 2 + a.idio_sigma ** 2
    vb = b.beta ** 2 * market_sigma ** 2 + b.idio_sigma ** 2
    return cov / math.sqrt(va * vb) if va > 0 and vb > 0 else 0.0


class FactorModel:
    """Joint log-price paths of ``assets`` (name → :class:`AssetParams`); see the module
    docs. ``sigma`` is the factor's median log-sd per step; ``tail_df`` 0 = gaussian."""

    _BLOCK = 4096

    def __init__(self, rng: np.random.Generator, assets: Mapping[str, AssetParams], *,
                 step_ns: int = NS_PER_S, sigma: float = 1e-4, vol_of_vol: float = 0.5,
                 vol_half_life_s: float = 1800.0, tail_df: float = 0.0,
                 crashes: Sequence[CrashWindow] = (), gaps: Sequence[FactorGap] = ()) -> None:
        if not isinstance(rng, np.random.Generator):
            raise ConfigError(f"'rng' must be a numpy.random.Generator (got "
                              f"{type(rng).__name__})")
        if not assets:
            raise invalid("assets", "at least one asset", dict(assets), error=ConfigError)
        for name, a in assets.items():
            if not isinstance(a, AssetParams):
                raise invalid(f"assets.{name}", "an AssetParams", a, error=ConfigError)
        if type(step_ns) is not int or step_ns <= 0:
            raise invalid("step_ns", "an int > 0", step_ns, error=ConfigError)
        _finite("sigma", sigma, 0.0)
        _finite("vol_of_vol", vol_of_vol, 0.0)
        _finite("vol_half_life_s", vol_half_life_s, 0.0, lo_open=True)
        _finite("tail_df", tail_df, 0.0)
        if tail_df != 0 and tail_df <= 2:
            raise invalid("tail_df", "0 (gaussian) or > 2", tail_df, error=ConfigError)
        self._rng = rng
        self.names = list(assets)
        self.assets = dict(assets)
        self.step_ns = step_ns
        self.sigma, self.vol_of_vol, self.tail_df = sigma, vol_of_vol, tail_df
        self._phi = 0.5 ** (step_ns / NS_PER_S / vol_half_life_s)
        self._v = rng.normal(0.0, vol_of_vol) if vol_of_vol > 0 else 0.0
        self.crashes = sorted(crashes, key=lambda c: c.start_ns)
        self.gaps = sorted(gaps, key=lambda g: g.at_ns)
        self._beta = np.array([assets[n].beta for n in self.names])
        self._idio = np.array([assets[n].idio_sigma for n in self.names])
        self._gap_beta = np.array([assets[n].gap_loading for n in self.names])
        self._log0 = np.log(np.array([assets[n].price for n in self.names]))
        self._first = 1                           # step number of self._cum[0]
        self._cum = np.empty((0, len(self.names)))
        self._before = self._log0.copy()          # log prices at step first − 1
        self._prev = (1, np.empty((0, len(self.names))))   # the block before (lagging readers)

    # -- drawing --
    def _multipliers(self, steps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        vol = np.ones(steps.shape[0])
        idio = np.ones(steps.shape[0])
        t = steps * self.step_ns
        for c in self.crashes:
            inside = (t > c.start_ns) & (t <= c.start_ns + c.duration_ns)
            vol[inside] *= c.vol_mult
            idio[inside] *= c.idio_mult
        return vol, idio

    def _increments(self, first: int, k: int) -> np.ndarray:
        rng = self._rng
        if self.tail_df:
            z = rng.standard_t(self.tail_df, k) * math.sqrt((self.tail_df - 2) / self.tail_df)
        else:
            z = rng.standard_normal(k)
        e = rng.standard_normal((k, len(self.names)))
        shocks = rng.standard_normal(k) * self.vol_of_vol * math.sqrt(1 - self._phi ** 2)
        v = np.empty(k)
        x = self._v
        for i in range(k):         # the AR(1) of log vol: k scalar steps per block
            x = self._phi * x + shocks[i]
            v[i] = x
        self._v = x
        steps = np.arange(first, first + k)
        vol_mult, idio_mult = self._multipliers(steps)
        m = self.sigma * np.exp(v) * vol_mult * z
        out = m[:, None] * self._beta[None, :] + e * (self._idio[None, :] * idio_mult[:, None])
        for g in self.gaps:        # a gap lands on the first step at or after its time
            step = -(-g.at_ns // self.step_ns)
            if first <= step < first + k:
                out[step - first] += self._gap_beta * math.log1p(g.change)
        return out

    def log_at(self, step: int) -> np.ndarray:
        """Log prices of every asset after ``step`` steps. O(assets) amortised."""
        if step <= 0:
            return self._log0
        while step >= self._first + len(self._cum):
            if len(self._cum):
                self._prev = (self._first, self._cum)
                self._before = self._cum[-1].copy()
                self._first += len(self._cum)
            self._cum = self._before + np.cumsum(self._increments(self._first, self._BLOCK),
                                                 axis=0)
        if step < self._first:
            first, cum = self._prev
            if not first <= step < first + len(cum):
                raise invalid("step", f">= {first} (readers may lag by one block of "
                              f"{self._BLOCK} steps)", step)
            return cum[step - first]
        return self._cum[step - self._first]

    def prices_at(self, ts_ns: int) -> dict[str, float]:
        """Every asset's price after the last step at or before ``ts_ns``."""
        logs = self.log_at(max(0, ts_ns // self.step_ns))
        return {n: math.exp(float(x)) for n, x in zip(self.names, logs)}

    def source(self, name: str) -> AssetSource:
        """A :class:`~exchange.oracle.PriceSource` of asset ``name``."""
        if name not in self.assets:
            raise invalid("name", f"one of {', '.join(self.names)}", name, error=ConfigError)
        return AssetSource(self, self.names.index(name))


class AssetSource:
    """One asset of a :class:`FactorModel` as a price source: a new price each step (None
    between steps). Several sources of one model may be queried at any times; each sees
    the same joint path."""

    def __init__(self, model: FactorModel, column: int) -> None:
        self.model = model
        self.column = column
        self._last_step: int | None = None
        self._ts_prev: int | None = None

    def price_at(self, ts_ns: int) -> float | None:
        if self._ts_prev is not None and ts_ns < self._ts_prev:
            raise invalid("ts_ns", f">= the previous call's ts_ns {self._ts_prev}", ts_ns)
        self._ts_prev = ts_ns
        step = max(0, ts_ns // self.model.step_ns)
        if self._last_step is not None and step == self._last_step:
            return None
        self._last_step = step
        return math.exp(float(self.model.log_at(step)[self.column]))
