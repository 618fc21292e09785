"""Realism measures of a run: the stylized facts of a perpetual-futures market.

:func:`stylized_facts` measures a run's journal and time series and returns a
:class:`Facts` (name → :class:`Fact`: a value table, the arrays its figure draws and a
one-line reading). The measures and where they come from:

- **spread** in ticks and basis points (distribution; share of seconds at one tick) and
  **depth** within 10, 50 and 100 bp of the mid over time: the order-book realism checks of
  Vyetrenko et al., "Get Real: Realism Metrics for Robust Limit Order Book Market
  Simulations", ICAIF 2020 (arXiv 1912.04941, read 2026-12-02).
- **returns** of the mid at 1 s and 1 min: excess kurtosis (heavy tails), autocorrelation of
  returns at lags 1–30 (absence of linear autocorrelation, tested jointly over lags 1–10 by a
  heteroskedasticity-robust portmanteau, :func:`ljung_box`) and of absolute returns
  (volatility clustering): Cont, "Empirical properties of asset returns: stylized facts and
  statistical issues", Quantitative Finance 1 (2001) 223–236, facts 1, 2 and 8.
- **basis** mark − index and last − index (distribution, half-life of an AR(1) fitted at a
  30 s horizon) and how it responds to funding (the funding estimate against the premium,
  the settled rates against the interval's mean premium): He, Manela, Ross and von Wachter,
  "Fundamentals of Perpetual Futures", arXiv 2212.06888 (read 2026-12-02) — funding is what
  ties the perpetual to the index; without it nothing pulls the basis back.
- **trade sizes** (per taker order, quantiles and a Hill tail index) and the
  **order-to-trade ratio** (orders accepted per taker order that traded).
- **crash**: depth within 1 % of the mid before a shock, at its trough and the time it takes
  to come back to 80 % of the pre-shock level; price reversals between walls (seconds in
  which the last price jumps ≥ 1 % back and forth); the liquidations' share of taker volume in the minute after the first index gap.
- **warm-up**: when the book first had both sides against the first trade.

Everything is numpy over the journal's columns: O(events + samples · lags).
"""  # noqa: E501
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any
from collections.abc import Mapping

import attrs
import numpy as np

from exchange.units import RATE_SCALE

__all__ = ["Fact", "Facts", "stylized_facts", "facts_from_result", "facts_from_dir",
           "excess_kurtosis", "acf", "half_life_s", "ljung_box", "chi2_sf", "FactsFold",
           "crash_window"]

NS_PER_S = 1_000_000_000
#: record kinds the facts read (core OrderAccepted, OrderFilled; the funding settlement)
_K_ACCEPTED, _K_FILLED, _K_FUNDING_SETTLED = 1, 3, 90_011
#: taker fills buffered before :class:`FactsFold` folds them into per-order sums
_FOLD_ROWS = 1 << 20


@attrs.frozen
class Fact:
    """One measure: ``values`` (name → number, for tables and tests), ``series`` (what its
    figure draws: name → array) and ``reading`` (one line in words)."""

    title: str
    values: Mapping[str, Any]
    reading: str
    series: Mapping[str, Any] = attrs.field(factory=dict, repr=False)


@attrs.frozen
class Facts:
    """The measures of one run, by name (``spread``, ``depth``, ``returns_1s``,
    ``returns_1m``, ``basis``, ``funding``, ``trade_sizes``, ``order_to_trade``, ``crash``,
    ``warmup``)."""

    scenario: str
    items: Mapping[str, Fact]

    def __getitem__(self, name: str) -> Fact:
        return self.items[name]

    def __contains__(self, name: str) -> bool:
        return name in self.items

    def values(self) -> dict[str, dict[str, Any]]:
        """name → values (plain floats and ints; JSON-ready)."""
        return {k: {n: _plain(v) for n, v in f.values.items()} for k, f in self.items.items()}


def _plain(v):
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.floating, float)):
        v = float(v)
        return None if not math.isfinite(v) else v
    return v


# -- the order flow, folded -------------------------------------------------------------------

def crash_window(shocks) -> tuple[int, int] | None:
    """The minute after the first index gap or slide (after the first market-maker withdrawal when the
    run has no gap), ``(start_ns, end_ns)``: where :func:`stylized_facts` measures the
    liquidations' share of taker volume. None when the run has neither shock. ``shocks``:
    dicts with ``type`` and ``at_ns`` (a run's ``info["shocks"]``)."""
    sh = [s for s in shocks if s.get("type") in ("index_gap", "index_slide", "mm_withdraw")]
    if not sh:
        return None
    gaps = [int(s["at_ns"]) for s in sh if s["type"] in ("index_gap", "index_slide")]
    start = min(gaps) if gaps else min(int(s["at_ns"]) for s in sh)
    return start, start + 60 * NS_PER_S


class FactsFold:
    """What :func:`stylized_facts` needs of a journal's order flow, folded batch by batch as
    a run streams (:meth:`add`), so a run that keeps no journal still has its facts: orders
    accepted (a count), the taker quantity of each taker order that traded (sums by order
    id, compacted every :data:`_FOLD_ROWS` fills), the first taker fill's time, the taker
    volume in ``window`` (:func:`crash_window`) and the part of it from liquidation orders,
    and the funding settlements (kept whole: a few a day). Memory: O(taker orders traded +
    liquidation orders + settlements), not O(events). :meth:`of_tables` folds a journal read
    back whole; both give the same facts."""

    def __init__(self, window: tuple[int, int] | None = None) -> None:
        self.window = window
        self.orders = 0
        self.first_trade_ns: int | None = None
        self.window_volume = 0              # sum of qty_lots * price_ticks, taker fills
        self.window_liq_volume = 0          # ... of liquidation orders
        self._liq: set[int] = set()
        self._ids: list[np.ndarray] = []
        self._qty: list[np.ndarray] = []
        self._pending = 0
        self._agg_ids = np.zeros(0, np.int64)
        self._agg_qty = np.zeros(0, np.int64)
        self._funding: list[np.ndarray] = []

    def add(self, recs: np.ndarray) -> None:
        """Fold a batch of EVENT_DTYPE records (stream order: an order's acceptance comes
        before its fills). O(records)."""
        if not len(recs):
            return
        kind = recs["kind"]
        acc = kind == _K_ACCEPTED
        n = int(acc.sum())
        if n:
            self.orders += n
            liq = acc & (recs["flag"] == 1)
            if liq.any():
                self._liq.update(recs["oid"][liq].tolist())
        fs = kind == _K_FUNDING_SETTLED
        if fs.any():
            self._funding.append(recs[fs])
        taker = (kind == _K_FILLED) & (recs["flag"] == 1)
        if taker.any():
            f = recs[taker]
            self._fills(f["oid"], f["qty"], f["price"], f["ts"])

    def _fills(self, oid: np.ndarray, qty: np.ndarray, px: np.ndarray, ts: np.ndarray) -> None:
        if not oid.shape[0]:
            return
        t = int(ts.min())
        self.first_trade_ns = t if self.first_trade_ns is None else min(self.first_trade_ns, t)
        if self.window is not None:
            inw = (ts >= self.window[0]) & (ts < self.window[1])
            if inw.any():
                v = qty[inw] * px[inw]
                self.window_volume += int(v.sum())
                if self._liq:
                    liq = np.isin(oid[inw], np.fromiter(self._liq, np.int64, len(self._liq)))
                    self.window_liq_volume += int(v[liq].sum())
        self._ids.append(np.array(oid, np.int64))
        self._qty.append(np.array(qty, np.int64))
        self._pending += int(oid.shape[0])
        if self._pending >= _FOLD_ROWS:
            self._compact()

    def _compact(self) -> None:
        if not self._ids:
            return
        ids = np.concatenate([self._agg_ids, *self._ids])
        qty = np.concatenate([self._agg_qty, *self._qty])
        self._ids, self._qty, self._pending = [], [], 0
        u, inv = np.unique(ids, return_inverse=True)
        self._agg_ids = u
        self._agg_qty = np.bincount(inv, weights=qty, minlength=u.shape[0]).astype(np.int64)

    def per_order_lots(self) -> np.ndarray:
        """Taker quantity of each taker order that traded, lots (float), by order id."""
        self._compact()
        return self._agg_qty.astype(float)

    def funding_settled(self) -> dict[str, np.ndarray]:
        """The FundingSettled table (columns as in the journal)."""
        from exchange import events as ev_mod

        if not self._funding:
            return {}
        if len(self._funding) > 1:
            self._funding = [np.concatenate(self._funding)]
        return ev_mod.tables(self._funding[0]).get("FundingSettled", {})

    @classmethod
    def of_tables(cls, journal: Mapping[str, Mapping[str, np.ndarray]],
                  window: tuple[int, int] | None) -> FactsFold:
        """The fold of a journal given as tables (event name → column → array)."""
        out = cls(window)
        acc = journal.get("OrderAccepted", {})
        oids = np.asarray(acc.get("order_id", np.zeros(0)), np.int64)
        out.orders = int(oids.shape[0])
        out._liq = set(oids[np.asarray(acc.get("liquidation", np.zeros(0)), bool)].tolist())
        fills = journal.get("OrderFilled", {})
        taker = np.asarray(fills.get("taker", np.zeros(0)), bool)
        col = lambda c: np.asarray(fills.get(c, np.zeros(0)), np.int64)[taker]  # noqa: E731
        out._fills(col("order_id"), col("qty_lots"), col("price_ticks"), col("ts_ns"))
        return out


# -- statistics -------------------------------------------------------------------------------

def excess_kurtosis(x: np.ndarray) -> float:
    """Sample excess kurtosis m4/m2² − 3 (0 for a normal law). NaN below 4 samples.

    >>> round(excess_kurtosis(np.array([-1.0, 1.0] * 50)), 3)
    -2.0
    """
    x = np.asarray(x, float)
    x = x[np.isfinite(x)]
    if x.shape[0] < 4:
        return float("nan")
    d = x - x.mean()
    m2 = float(np.mean(d * d))
    if m2 <= 0:
        return float("nan")
    return float(np.mean(d ** 4) / (m2 * m2) - 3.0)


def acf(x: np.ndarray, lags) -> np.ndarray:
    """Sample autocorrelation of ``x`` at each of ``lags`` (the usual biased estimator,
    normalised by the lag-0 sum). NaN where the lag reaches past the data. O(n · lags).

    >>> acf(np.array([1.0, -1.0] * 20), [1, 2]).round(2).tolist()
    [-0.98, 0.95]
    """
    x = np.asarray(x, float)
    x = x[np.isfinite(x)]
    lags = np.asarray(lags, int)
    out = np.full(lags.shape[0], np.nan)
    n = x.shape[0]
    if n < 3:
        return out
    d = x - x.mean()
    den = float(np.dot(d, d))
    if den <= 0:
        return out
    for i, k in enumerate(lags.tolist()):
        if 0 < k < n:
            out[i] = float(np.dot(d[:-k], d[k:]) / den)
    return out


def chi2_sf(x: float, k: int) -> float:
    """P(X > x) for X chi-squared with ``k`` degrees of freedom (closed form: erfc for k = 1,
    the exponential series for k = 2, then ``sf(x; k+2) = sf(x; k) + (x/2)^(k/2) e^(−x/2) /
    Γ(k/2 + 1)``). O(k).

    >>> round(chi2_sf(18.307, 10), 3)     # the 5 % critical value of chi2(10)
    0.05
    """
    if k < 1:
        raise ValueError(f"'k' must be >= 1 (got {k})")
    if not x > 0:
        return 1.0
    h = x / 2.0
    if k % 2:
        sf, j = math.erfc(math.sqrt(h)), 1
    else:
        sf, j = math.exp(-h), 2
    while j < k:
        sf += math.exp((j / 2.0) * math.log(h) - h - math.lgamma(j / 2.0 + 1.0))
        j += 2
    return min(1.0, max(0.0, sf))


def ljung_box(x: np.ndarray, m: int = 10, robust: bool = True) -> tuple[float, float, np.ndarray]:
    """(Q, p-value, per-lag standard errors) of a portmanteau test of "no autocorrelation at
    lags 1..m": one joint test, so no multiple-testing correction is needed.

    ``robust=False`` is Ljung–Box, ``Q = n(n+2) Σ ρ_k² / (n−k)``, exact only for iid data.
    ``robust=True`` (the default) standardises each ρ_k by its heteroskedasticity-consistent
    variance ``τ_k = Σ d_t² d_{t−k}² / (Σ d_t²)²`` (d the demeaned series): the modified
    Box–Pierce test of Lobato, Nankervis and Savin, "Testing for autocorrelation using a
    modified Box–Pierce Q test", International Economic Review 42 (2001) 187–205. Returns
    with volatility clustering are uncorrelated but not independent, and the iid test then
    rejects far too often (Cont 2001, section 4: the iid band understates the sampling
    error of the ACF); in tests/exchange/sim/test_facts.py the iid test rejects a
    stochastic-volatility martingale (the calm index, 2-h samples) 27 % of the time
    at the 5 % level, the robust one 4.5 %; with 119 one-minute returns the robust test
    catches a lag-1 autocorrelation of −0.4 about half the time.
    Q is referred to chi2(m). O(n · m).

    >>> rng = np.random.default_rng(0)
    >>> ljung_box(rng.standard_normal(2000))[1] > 0.05
    True
    """
    x = np.asarray(x, float)
    x = x[np.isfinite(x)]
    n = x.shape[0]
    lags = np.arange(1, m + 1)
    if n <= m + 2:
        return float("nan"), float("nan"), np.full(m, np.nan)
    a = acf(x, lags)
    if robust:
        d = x - x.mean()
        d2 = d * d
        den = float(d2.sum()) ** 2
        tau = np.array([float(np.dot(d2[k:], d2[:-k])) / den for k in lags.tolist()])
        se = np.sqrt(tau)
        q = float(np.sum(a * a / tau))
    else:
        se = np.sqrt((n - lags) / (n * (n + 2.0)))
        q = float(np.sum(a * a / se ** 2))
    return q, chi2_sf(q, m), se


def half_life_s(x: np.ndarray, dt_s: float, horizon_s: float = 30.0) -> tuple[float, float]:
    """(half-life in seconds, AR coefficient at ``horizon_s``) of a mean-reverting series
    sampled every ``dt_s``: the OLS slope φ of x(t+h) on x(t) gives ``h·ln ½ / ln φ``
    (inf when φ ≥ 1: no pull back seen). Fitting at a horizon of tens of seconds keeps
    one-tick noise from passing for mean reversion.

    >>> rng = np.random.default_rng(0); x = np.zeros(20000)
    >>> for t in range(1, x.shape[0]): x[t] = 0.98 * x[t - 1] + rng.standard_normal()
    >>> 25 < half_life_s(x, 1.0)[0] < 45    # ln ½ / ln 0.98 = 34 s
    True
    """
    x = np.asarray(x, float)
    h = max(1, int(round(horizon_s / dt_s)))
    ok = np.isfinite(x)
    a, b = x[:-h], x[h:]
    m = ok[:-h] & ok[h:]
    a, b = a[m], b[m]
    if a.shape[0] < 10:
        return float("nan"), float("nan")
    da = a - a.mean()
    den = float(np.dot(da, da))
    if den <= 0:
        return float("nan"), float("nan")
    phi = float(np.dot(da, b - b.mean()) / den)
    if phi >= 1.0:
        return float("inf"), phi
    if phi <= 0.0:
        return 0.0, phi
    return float(h * dt_s * math.log(0.5) / math.log(phi)), phi


def _hill(x: np.ndarray, top: float = 0.05) -> float:
    """Hill estimator of the tail index on the largest ``top`` share of ``x`` (> 0)."""
    x = np.sort(np.asarray(x, float)[np.asarray(x) > 0])[::-1]
    k = max(5, int(x.shape[0] * top))
    if x.shape[0] <= k:
        return float("nan")
    lx = np.log(x[:k + 1])
    d = float(np.mean(lx[:k] - lx[k]))
    return 1.0 / d if d > 0 else float("nan")


def _q(x, qs):
    x = np.asarray(x, float)
    x = x[np.isfinite(x)]
    if x.shape[0] == 0:
        return [float("nan")] * len(qs)
    return [float(v) for v in np.quantile(x, qs)]


# -- the measures -----------------------------------------------------------------------------

def stylized_facts(journal: Mapping[str, Mapping[str, np.ndarray]], series: Mapping[str, np.ndarray],
                   info: Mapping[str, Any], scenario: str = "", *,
                   fold: FactsFold | None = None) -> Facts:
    """The realism measures of a run (see the module docs).

    ``journal``: event name → column name → array (:func:`exchange.events.tables` of the
    records, or the Parquet tables read back); ``series``: the run's time series
    (:data:`~exchange.sim.runner.SERIES_COLUMNS`); ``info``: the run's info (tick and lot
    size, shocks). ``fold``: the order flow already folded as the run streamed
    (:class:`FactsFold`), in place of ``journal`` (which may then be empty; its
    FundingSettled comes from the fold). Cost: O(events + samples · 30 lags).
    """
    if fold is None:
        fold = FactsFold.of_tables(journal, crash_window(info.get("shocks", ())))
    elif "FundingSettled" not in journal:
        journal = {**journal, "FundingSettled": fold.funding_settled()}
    lot = float(info.get("lot_size", 1.0))
    t_ns = np.asarray(series["ts_ns"], np.int64)
    t = t_ns / NS_PER_S
    dt = float(np.median(np.diff(t))) if t.shape[0] > 1 else 1.0
    bid = np.asarray(series["best_bid_ticks"], float)
    ask = np.asarray(series["best_ask_ticks"], float)
    two = (bid > 0) & (ask > 0) & (ask > bid)
    mid = np.where(two, (bid + ask) / 2.0, np.nan)
    index = np.asarray(series["index_ticks"], float)
    index[index <= 0] = np.nan
    mark = np.asarray(series["mark_ticks"], float)
    mark[mark <= 0] = np.nan
    last = np.asarray(series["last_ticks"], float)
    last[last <= 0] = np.nan
    items: dict[str, Fact] = {}

    # -- spread
    sp_ticks = np.where(two, ask - bid, np.nan)
    sp_bp = sp_ticks / mid * 1e4
    med_t, p90_t, p99_t = _q(sp_ticks, [0.5, 0.9, 0.99])
    med_b, p90_b, p99_b = _q(sp_bp, [0.5, 0.9, 0.99])
    valid = np.isfinite(sp_ticks)
    one_tick = float(np.mean(sp_ticks[valid] <= 1.0)) if valid.any() else float("nan")
    two_sided = float(np.mean(two)) if two.shape[0] else float("nan")
    items["spread"] = Fact(
        "Spread", dict(median_ticks=med_t, p90_ticks=p90_t, p99_ticks=p99_t, median_bp=med_b,
                       p90_bp=p90_b, p99_bp=p99_b, one_tick_share=one_tick,
                       two_sided_share=two_sided),
        f"median spread {med_t:g} tick(s) ({med_b:.3f} bp), one tick {one_tick:.0%} of the time, "
        f"p99 {p99_t:g} ticks ({p99_b:.2f} bp); book two-sided {two_sided:.0%} of samples",
        dict(t=t, spread_bp=sp_bp, spread_ticks=sp_ticks))

    # -- depth
    dep = {}
    for d in (10, 50, 100):
        col = f"depth_{d}bp_lots"
        if col in series:
            dep[d] = np.asarray(series[col], float) * lot
    if dep:
        vals = {}
        for d, v in dep.items():
            q10, q50 = _q(v, [0.1, 0.5])
            vals[f"median_{d}bp"] = q50
            vals[f"p10_{d}bp"] = q10
        items["depth"] = Fact(
            "Depth near the mid", vals,
            "median depth (both sides, base units) " + ", ".join(
                f"{vals[f'median_{d}bp']:.3g} within {d} bp" for d in dep)
            + (f"; 10 % of samples below {vals['p10_100bp']:.3g} within 100 bp" if 100 in dep else ""),
            dict(t=t, **{f"d{d}": v for d, v in dep.items()}))

    # -- returns of the mid (last where the book is one-sided)
    px = np.where(np.isfinite(mid), mid, last)
    lags = np.arange(1, 31)
    for label, step_s in (("1s", 1.0), ("1m", 60.0)):
        k = max(1, int(round(step_s / dt)))
        p = px[::k]
        r = np.diff(np.log(p))
        r = r[np.isfinite(r)]
        n = int(r.shape[0])
        kurt = excess_kurtosis(r)
        a_raw = acf(r, lags)
        a_abs = acf(np.abs(r), lags)
        band = 1.96 / math.sqrt(n) if n else float("nan")
        sig_raw = int(np.sum(np.abs(a_raw[:10]) > band)) if n else 0
        # "no significant autocorrelation" is one joint test of lags 1–10 at 5 %: the
        # heteroskedasticity-robust portmanteau (ljung_box); the iid Ljung–Box beside it
        q_rob, p_rob, se_rob = ljung_box(r, 10, robust=True)
        q_iid, p_iid, _ = ljung_box(r, 10, robust=False)
        vals = dict(n=n, sd_bp=float(np.std(r) * 1e4) if n else float("nan"),
                    excess_kurtosis=kurt, acf_lag1=float(a_raw[0]),
                    acf_abs_lag1=float(a_abs[0]), band=band,
                    significant_raw_lags_1_10=sig_raw,
                    robust_q_1_10=q_rob, robust_p_1_10=p_rob,
                    ljung_box_q_1_10=q_iid, ljung_box_p_1_10=p_iid,
                    significant_raw_lags_robust_1_10=int(np.sum(np.abs(a_raw[:10]) > 1.96 * se_rob))
                    if n > 12 else 0,
                    acf_abs_mean_lags_1_10=float(np.nanmean(a_abs[:10])) if n > 10 else float("nan"))
        if label == "1s":
            # volatility clustering out to 10 minutes, seen in 1-s absolute returns
            # (the mean ACF over each minute of lags, 1–60 s ... 541–600 s: one estimate per
            # minute of lag, steadier than single lags of a one-hour sample)
            long_lags = np.arange(1, 601)
            a_long = acf(np.abs(r), long_lags)
            buckets = a_long.reshape(10, 60).mean(axis=1) if n > 1200 else np.full(10, np.nan)
            vals["acf_abs_minute_buckets_min"] = float(np.min(buckets))
            vals["acf_abs_minute_10"] = float(buckets[-1])
            extra = dict(bucket_min=np.arange(1, 11), acf_abs_buckets=buckets)
            reading = (f"1-s returns: excess kurtosis {kurt:.2f}, ACF lag 1 {a_raw[0]:+.3f} "
                       f"(band ±{band:.3f}), |r| ACF lag 1 {a_abs[0]:+.3f}; |r| ACF averaged per "
                       f"minute of lag, minutes 1–10: min {vals['acf_abs_minute_buckets_min']:+.3f}, "
                       f"minute 10 {vals['acf_abs_minute_10']:+.3f}")
        else:
            extra = {}
            reading = (f"1-min returns ({n}): excess kurtosis {kurt:.2f}; no autocorrelation at "
                       f"lags 1–10: robust Q {q_rob:.1f}, p = {p_rob:.3f} (iid Ljung–Box p = "
                       f"{p_iid:.3f}; {sig_raw} of 10 lags outside ±{band:.3f}); mean |r| ACF "
                       f"lags 1–10 {vals['acf_abs_mean_lags_1_10']:+.3f}")
        items[f"returns_{label}"] = Fact(f"Returns at {label}", vals, reading,
                                         dict(lags=lags, acf=a_raw, acf_abs=a_abs, band=band,
                                              r=r, **extra))

    # -- basis
    b_mark = (mark - index) / index * 1e4
    b_last = (last - index) / index * 1e4
    b_mid = (mid - index) / index * 1e4
    hl_mark, phi_mark = half_life_s(b_mark, dt)
    hl_mid, phi_mid = half_life_s(b_mid, dt)
    am = np.abs(b_mark)
    al = np.abs(b_last)
    vals = dict(mark_mean_bp=float(np.nanmean(b_mark)), mark_sd_bp=float(np.nanstd(b_mark)),
                mark_abs_p99_bp=_q(am, [0.99])[0], mark_abs_max_bp=float(np.nanmax(am)) if np.isfinite(am).any() else float("nan"),  # noqa: E501
                last_mean_bp=float(np.nanmean(b_last)), last_sd_bp=float(np.nanstd(b_last)),
                last_abs_p99_bp=_q(al, [0.99])[0],
                last_abs_max_bp=float(np.nanmax(al)) if np.isfinite(al).any() else float("nan"),
                mid_sd_bp=float(np.nanstd(b_mid)), half_life_mark_s=hl_mark, ar30_mark=phi_mark,
                half_life_mid_s=hl_mid, ar30_mid=phi_mid)
    items["basis"] = Fact(
        "Basis", vals,
        f"mark − index {vals['mark_mean_bp']:+.2f} ± {vals['mark_sd_bp']:.2f} bp (half-life "
        f"{hl_mark:.0f} s); last − index p99 |·| {vals['last_abs_p99_bp']:.2f} bp, max "
        f"{vals['last_abs_max_bp']:.1f} bp; book mid − index sd {vals['mid_sd_bp']:.2f} bp "
        f"(half-life {hl_mid:.0f} s)",
        dict(t=t, mark=b_mark, last=b_last, mid=b_mid))

    # -- funding against the premium
    fest = np.asarray(series.get("funding_estimate_8h", np.zeros(0)), float) / RATE_SCALE * 1e4
    fs = journal.get("FundingSettled", {})
    f_ts = np.asarray(fs.get("ts_ns", np.zeros(0)), np.int64)
    f_rate = np.asarray(fs.get("rate", np.zeros(0)), float) / RATE_SCALE * 1e4
    prem = []
    prev = 0
    for ts in f_ts.tolist():
        w = (t_ns > prev) & (t_ns <= ts)
        prem.append(float(np.nanmean(b_mid[w])) if w.any() else float("nan"))
        prev = ts
    prem_a = np.asarray(prem, float)
    vals = dict(settlements=int(f_ts.shape[0]),
                rate_mean_bp=float(np.mean(f_rate)) if f_rate.shape[0] else float("nan"),
                rate_max_bp=float(np.max(f_rate)) if f_rate.shape[0] else float("nan"),
                rate_min_bp=float(np.min(f_rate)) if f_rate.shape[0] else float("nan"),
                distinct_rates=int(np.unique(f_rate).shape[0]))
    if fest.shape[0] == b_mid.shape[0] and fest.shape[0] > 10:
        m = np.isfinite(b_mid)
        if m.sum() > 10 and np.std(fest[m]) > 0 and np.std(b_mid[m]) > 0:
            vals["corr_estimate_premium"] = float(np.corrcoef(fest[m], b_mid[m])[0, 1])
        else:
            vals["corr_estimate_premium"] = float("nan")
        vals["estimate_sd_bp"] = float(np.std(fest))
    items["funding"] = Fact(
        "Funding against the premium", vals,
        f"{vals['settlements']} settlements, rate {vals['rate_mean_bp']:.3f} bp mean "
        f"[{vals['rate_min_bp']:.3f}, {vals['rate_max_bp']:.3f}] ({vals['distinct_rates']} "
        f"distinct); estimate vs premium correlation {vals.get('corr_estimate_premium', float('nan')):+.2f}",
        dict(t=t, estimate_bp=fest, premium_bp=b_mid, settle_t=f_ts / NS_PER_S, settle_bp=f_rate,
             settle_premium_bp=prem_a))

    # -- trades and orders
    per_order = fold.per_order_lots() * lot
    q50, q90, q99 = _q(per_order, [0.5, 0.9, 0.99])
    hill = _hill(per_order)
    items["trade_sizes"] = Fact(
        "Trade sizes", dict(trades=int(per_order.shape[0]), median=q50, p90=q90, p99=q99,
                            mean=float(per_order.mean()) if per_order.shape[0] else float("nan"),
                            tail_index=hill),
        f"{per_order.shape[0]:,} taker orders traded: median {q50:.3g}, p90 {q90:.3g}, p99 "
        f"{q99:.3g} base units; Hill tail index {hill:.2f}",
        dict(sizes=per_order))
    n_orders = fold.orders
    otr = n_orders / max(1, per_order.shape[0])
    items["order_to_trade"] = Fact(
        "Order-to-trade ratio", dict(orders=n_orders, trades=int(per_order.shape[0]), ratio=otr),
        f"{n_orders:,} orders accepted for {per_order.shape[0]:,} taker orders that traded: "
        f"{otr:.1f} orders per trade")

    # -- crash: depth collapse and recovery, walls, liquidations' share of the flow
    shocks = [s for s in info.get("shocks", ())
              if s.get("type") in ("index_gap", "index_slide", "mm_withdraw")]
    if shocks and 100 in dep:
        t0 = min(s["at_ns"] for s in shocks) / NS_PER_S
        d1 = dep[100]
        pre = (t >= t0 - 60) & (t < t0)
        pre_lvl = float(np.median(d1[pre])) if pre.any() else float("nan")
        win = (t >= t0) & (t <= t0 + 240)
        trough_i = int(np.flatnonzero(win)[np.argmin(d1[win])]) if win.any() else -1
        trough = float(d1[trough_i]) if trough_i >= 0 else float("nan")
        collapse = 1.0 - trough / pre_lvl if pre_lvl > 0 else float("nan")
        rec_s = float("nan")
        if trough_i >= 0 and pre_lvl > 0:
            back = np.flatnonzero((t > t[trough_i]) & (d1 >= 0.8 * pre_lvl))
            # back for good: 10 consecutive samples at 80 %
            for j in back.tolist():
                w = d1[j:j + max(1, int(10 / dt))]
                if w.shape[0] and np.all(w >= 0.8 * pre_lvl):
                    rec_s = float(t[j] - t[trough_i])
                    break
        sp_pre = float(np.nanmedian(sp_bp[pre])) if pre.any() else float("nan")
        sp_win = float(np.nanmax(sp_bp[win])) if win.any() and np.isfinite(sp_bp[win]).any() else float("nan")
        # reversals between walls: 1-s last-price jumps of ≥ 1 % whose sign alternates
        jl = np.diff(np.log(last)) * 1e4
        big = np.flatnonzero(np.abs(np.nan_to_num(jl)) >= 100)
        flips = 0
        for a, b in zip(big[:-1].tolist(), big[1:].tolist()):
            if np.sign(jl[a]) != np.sign(jl[b]) and t[b + 1] - t[a + 1] <= 60:
                flips += 1
        big_after = int(np.sum(t[big + 1] >= t0))
        # liquidations' share of taker volume over the crash window
        # (over crash_window(shocks): the fold summed it as the flow went by)
        vol_all, vol_liq = float(fold.window_volume), float(fold.window_liq_volume)
        share = vol_liq / vol_all if vol_all > 0 else float("nan")
        vals = dict(shock_s=t0, depth_1pct_pre=pre_lvl, depth_1pct_trough=trough,
                    depth_collapse=collapse, recovery_s=rec_s, spread_pre_bp=sp_pre,
                    spread_max_bp=sp_win, big_jumps=int(big.shape[0]), big_jumps_after=big_after,
                    wall_reversals=flips, liquidation_share=share)
        items["crash"] = Fact(
            "Crash: depth collapse and recovery", vals,
            f"depth within 1 % fell {collapse:.0%} (from {pre_lvl:.3g} to {trough:.3g}) and was "
            f"back at 80 % {rec_s:.0f} s after the trough; spread {sp_pre:.2f} → {sp_win:.1f} bp; "
            f"{flips} ≥1 % reversals within a minute; liquidations {share:.0%} of taker volume "
            f"in the minute after the first gap",
            dict(t=t, depth=d1, spread_bp=sp_bp, shock_s=t0))

    # -- warm-up: the book before the first trade
    first_two = float(t[np.argmax(two)]) if two.any() else float("nan")
    first_trade = (fold.first_trade_ns / NS_PER_S if fold.first_trade_ns is not None
                   else float("nan"))
    early = t <= (np.nanmin(t) + 120 if t.shape[0] else 0)
    warm_max = float(np.nanmax(al[early])) if np.isfinite(al[early]).any() else float("nan")
    items["warmup"] = Fact(
        "Warm-up", dict(book_two_sided_s=first_two, first_trade_s=first_trade,
                        last_index_max_bp_first_120s=warm_max),
        f"book two-sided from {first_two:g} s, first trade at {first_trade:.2f} s; |last − index| "
        f"≤ {warm_max:.1f} bp over the first 2 minutes")
    return Facts(scenario=scenario, items=items)


def facts_from_result(result) -> Facts:
    """The measures of a :class:`~exchange.sim.runner.RunResult`: from its journal when kept,
    else from the order flow folded while it streamed (``result.facts_fold``)."""
    from exchange import events as ev_mod
    if result.journal is None:
        fold = getattr(result, "facts_fold", None)
        if fold is None:
            raise ValueError("the run's journal was not kept (run(..., keep_journal=True)) "
                             "and it was not streamed (run(..., journal=...))")
        return stylized_facts({}, result.series, result.info, result.scenario, fold=fold)
    return stylized_facts(ev_mod.tables(result.journal), result.series, result.info,
                          result.scenario)


_NEEDED = ("OrderFilled", "OrderAccepted", "FundingSettled")


def facts_from_dir(run_dir) -> Facts:
    """The measures of a run directory written by ``perpsim run`` (journal/, series.parquet,
    metrics.json). Raises FileNotFoundError naming the missing file."""
    import pyarrow.parquet as pq

    d = Path(run_dir)
    for need in ("series.parquet", "metrics.json", "journal"):
        if not (d / need).exists():
            raise FileNotFoundError(f"'run_dir' must hold {need} (a perpsim run output); "
                                    f"{str(d / need)!r} does not exist")
    meta = json.loads((d / "metrics.json").read_text())
    series = {k: v.to_numpy() for k, v in zip(*_cols(pq.read_table(d / "series.parquet")))}
    journal = {}
    for name in _NEEDED:
        p = d / "journal" / f"{name}.parquet"
        if p.exists():
            tab = pq.read_table(p)
            journal[name] = {c: tab.column(c).to_numpy() for c in tab.column_names}
    return stylized_facts(journal, series, meta.get("info", {}), meta.get("scenario", d.name))


def _cols(table):
    return table.column_names, [table.column(c) for c in table.column_names]
