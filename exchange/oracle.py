"""The index, the oracle publisher and the mark price methods.

Reference: ``shared/reference/venue-mechanics.md`` §1 (index and mark).

Layers, bottom up:

- **price sources** (:class:`PriceSource`): what a scenario supplies, float prices in quote
  units. The generators (a constant, a random walk, a geometric Brownian motion, a replay of
  recorded data, shocks and oracle faults) live in :mod:`exchange.sim.sources`.
- :class:`Index`: a weighted basket of sources with Binance's protections (clamp to the median,
  weight 0 for a stale source, a stale flag when every source is stale). Publishes integer ticks.
- :class:`Oracle`: reads the index at the venue's cadence (Binance 1 s, Hyperliquid ~3 s, dYdX one
  block ~1 s) and answers ``is_stale(ts_ns, limit_ns)``.
- mark price methods (:class:`MarkPriceMethod`): Binance (median of three, 30 s basis MA), Bybit
  (median of three, 5 min basis MA), Hyperliquid (median
  with EMAs on irregular timestamps), BitMEX fair price, dYdX / Drift (the oracle), last price.
  ``make_mark_method(name, **params)`` builds one from a preset name.

Numbers. Floats are used inside the oracle arithmetic (averages, EMAs); every published value
(index, oracle and mark prices) is an ``int`` number of ticks, rounded **half to even** by
:func:`round_half_even` (Python's ``round``) or, when the formula is exact rational arithmetic
(the funding-basis prices P1 and BitMEX's fair price), by :func:`div_round_half_even`. Rates
(clamps, funding rates) are integers in parts per :data:`RATE_SCALE` (10^8; 0.01 % = 10_000).
Time is integer nanoseconds. Randomness only comes from ``numpy.random.Generator`` objects passed
in. Everything here is deterministic given (inputs, seed).

Time must not go backwards: sources, the index, the oracle and the mark methods raise
``ValueError`` when called with a ``ts_ns`` smaller than the previous call's.
"""
from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np

from exchange.errors import ConfigError, invalid
from exchange.units import RATE_SCALE

__all__ = [
    "RATE_SCALE", "NS_PER_S", "BUY", "SELL",
    "round_half_even", "div_round_half_even", "fair_price_ticks",
    "PriceSource",
    "Index", "INDEX_CLAMP_DEFAULT", "INDEX_CLAMP_BTC_ETH", "INDEX_STALENESS_NS", "index_clamp_for",
    "Oracle",
    "BookLike", "MarkPriceMethod", "IrregularEMA",
    "BinanceMark", "BybitMark", "HyperliquidMark", "BitMexMark", "DydxMark", "DriftMark", "LastPriceMark",
    "MARK_METHODS", "make_mark_method",
]

# rates (clamps, funding rates, interest) are ints in parts per RATE_SCALE (exchange.units):
# 0.01 % = 10_000
NS_PER_S = 1_000_000_000
#: side codes of ``BookLike.impact_price`` (same as :mod:`matching.codes`)
BUY = 0
SELL = 1


# -- ROUNDING --------------------------------------------------------------------------------

def round_half_even(x: float) -> int:
    """Nearest integer to a float, ties to even; ``ValueError``/``OverflowError`` on NaN/inf.

    >>> round_half_even(2.5), round_half_even(3.5), round_half_even(-2.5), round_half_even(7.49)
    (2, 4, -2, 7)
    """
    return int(round(x))


def div_round_half_even(num: int, den: int) -> int:
    """Exact ``num / den`` rounded to the nearest integer, ties to even (``den > 0``). O(1).

    >>> div_round_half_even(5, 2), div_round_half_even(7, 2), div_round_half_even(-5, 2)
    (2, 4, -2)
    >>> div_round_half_even(10, 3), div_round_half_even(-10, 3)
    (3, -3)
    """
    q, r = divmod(num, den)
    twice = 2 * r
    if twice > den or (twice == den and q & 1):
        q += 1
    return q


def fair_price_ticks(index_ticks: int, funding_rate: int, t_to_next_ns: int, interval_ns: int) -> int:
    """``index · (1 + F · t_to_next / interval)`` in ticks, exact, rounded half to even.

    This is Binance's P1 and BitMEX's perpetual fair price. ``t_to_next_ns`` is clipped to
    ``[0, interval_ns]``. O(1).

    >>> fair_price_ticks(100_000, 10_000, 4 * 3600 * NS_PER_S, 8 * 3600 * NS_PER_S)  # 1e5·(1+0.0001/2)
    100005
    """
    t = min(max(t_to_next_ns, 0), interval_ns)
    den = RATE_SCALE * interval_ns
    return div_round_half_even(index_ticks * (den + funding_rate * t), den)


def _median(values: Sequence[float]) -> float:
    """Plain median (mean of the two middle values for an even count). O(k log k)."""
    s = sorted(values)
    n = len(s)
    mid = n // 2
    return s[mid] if n & 1 else (s[mid - 1] + s[mid]) / 2


def _check_ns(field: str, value: Any, *, positive: bool = True) -> int:
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool):
        raise ConfigError(f"{field!r} must be an int number of nanoseconds (got {value!r})")
    if positive and value <= 0:
        raise invalid(field, "> 0", value, error=ConfigError)
    return int(value)


def _check_price(field: str, value: Any) -> float:
    if not isinstance(value, (int, float, np.integer, np.floating)) or not math.isfinite(value) \
            or value <= 0:
        raise invalid(field, "a finite price > 0", value, error=ConfigError)
    return float(value)


def _check_rate(field: str, value: Any, lo: int = 0, hi: int = RATE_SCALE) -> int:
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool):
        raise ConfigError(f"{field!r} must be an int rate in parts per {RATE_SCALE} (got {value!r})")
    if not lo <= value <= hi:
        raise invalid(field, f"in [{lo}, {hi}]", value, error=ConfigError)
    return int(value)


# -- PRICE SOURCES ---------------------------------------------------------------------------

@runtime_checkable
class PriceSource(Protocol):
    """A feed of float prices (quote units) that a scenario supplies.

    ``price_at(ts_ns)`` returns the price when the source has a *new observation* at ``ts_ns``
    (a live quote, a step of a model, a new record of a replay), or ``None`` when there is no
    update (between records of a replay, between steps of a model, during an outage). Calls
    must have non-decreasing ``ts_ns``; a source may keep state between calls.
    """

    def price_at(self, ts_ns: int) -> float | None: ...




# -- INDEX -----------------------------------------------------------------------------------

#: Binance index protection: a source more than 3 % from the median is clamped (BTC, ETH: 1 %)
INDEX_CLAMP_DEFAULT = 3_000_000
INDEX_CLAMP_BTC_ETH = 1_000_000
#: Binance: a source not updated for 5 minutes gets weight 0
INDEX_STALENESS_NS = 5 * 60 * NS_PER_S


def index_clamp_for(symbol: str) -> int:
    """Binance's clamp rate for a symbol: 1 % for BTC and ETH contracts, 3 % otherwise.

    >>> index_clamp_for("BTCUSDT"), index_clamp_for("ETHUSDT"), index_clamp_for("SOLUSDT")
    (1000000, 1000000, 3000000)
    """
    base = symbol.upper()
    return INDEX_CLAMP_BTC_ETH if base.startswith(("BTC", "ETH")) else INDEX_CLAMP_DEFAULT


class Index:
    """Weighted basket of price sources with Binance's protections; publishes integer ticks.

    At each ``update(ts_ns)`` every source is asked for a new observation. Then, over the
    sources that are *live* (updated at most ``staleness_ns`` ago):

    1. ``m = median(live prices)`` (plain median);
    2. each live price is clamped to ``[m·(1 - c), m·(1 + c)]``, ``c = clamp_rate / RATE_SCALE``;
    3. ``index = Σ w·p_clamped / Σ w`` over live sources (a stale source has weight 0);
    4. ticks = ``round_half_even(index / tick_size)``.

    When no source is live the index is **stale**: ``update`` returns ``None``, ``stale`` is
    True and ``last_ticks`` keeps the last good value. (Binance's "last price protected"
    fallback is [partly U] in the reference and not modelled: the stale flag is exposed instead.)
    Cost: O(k log k) per update for k sources.

    >>> from exchange.sim.sources import ConstantSource
    >>> idx = Index([ConstantSource(100.0), ConstantSource(100.2), ConstantSource(130.0)],
    ...             tick_size=0.1, clamp_rate=INDEX_CLAMP_DEFAULT)
    >>> idx.update(0)  # 130 clamped to 100.2·1.03 = 103.206; mean(100, 100.2, 103.206) = 101.135...
    1011
    """

    def __init__(self, sources: Sequence[PriceSource], weights: Sequence[float] | None = None, *,
                 tick_size: float, clamp_rate: int = INDEX_CLAMP_DEFAULT,
                 staleness_ns: int = INDEX_STALENESS_NS) -> None:
        self.sources = list(sources)
        if not self.sources:
            raise invalid("sources", "a non-empty sequence", sources, error=ConfigError)
        for s in self.sources:
            if not hasattr(s, "price_at"):
                raise ConfigError(f"'sources' must hold objects with price_at(ts_ns) (got {s!r})")
        if weights is None:
            weights = [1.0] * len(self.sources)
        self.weights = [float(w) for w in weights]
        if len(self.weights) != len(self.sources):
            raise invalid("weights", f"of length {len(self.sources)} (one per source)",
                          list(weights), error=ConfigError)
        for w in self.weights:
            if not math.isfinite(w) or w <= 0:
                raise invalid("weights", "finite and > 0", list(weights), error=ConfigError)
        self.tick_size = _check_price("tick_size", tick_size)
        self.clamp_rate = _check_rate("clamp_rate", clamp_rate)
        self.staleness_ns = _check_ns("staleness_ns", staleness_ns)
        n = len(self.sources)
        self._price: list[float | None] = [None] * n
        self._ts: list[int | None] = [None] * n
        self._clamped: list[float | None] = [None] * n
        self.stale = True
        self.last_ticks: int | None = None
        self.ts_last_update_ns: int | None = None
        self._ts_prev: int | None = None

    # -- COMMANDS --
    def update(self, ts_ns: int) -> int | None:
        """Read every source and recompute; the index in ticks, or None when stale. O(k log k)."""
        if self._ts_prev is not None and ts_ns < self._ts_prev:
            raise invalid("ts_ns", f">= the previous update's {self._ts_prev}", ts_ns)
        self._ts_prev = ts_ns
        live: list[int] = []
        for i, src in enumerate(self.sources):
            p = src.price_at(ts_ns)
            if p is not None:
                p = float(p)
                if not math.isfinite(p) or p <= 0:
                    # typed (a ValueError too): a price path driven to zero by its parameters
                    # is the scenario's fault, not the program's (issue 18)
                    raise invalid(f"source {i} price", "a finite price > 0", p)
                self._price[i] = p
                self._ts[i] = ts_ns
            ts_i = self._ts[i]
            self._clamped[i] = None
            if ts_i is not None and ts_ns - ts_i <= self.staleness_ns:
                live.append(i)
        if not live:
            self.stale = True
            return None
        prices = self._price
        m = _median([prices[i] for i in live])  # type: ignore[misc]
        c = self.clamp_rate / RATE_SCALE
        lo, hi = m * (1.0 - c), m * (1.0 + c)
        num = den = 0.0
        for i in live:
            p = min(max(prices[i], lo), hi)  # type: ignore[type-var]
            self._clamped[i] = p
            w = self.weights[i]
            num += w * p
            den += w
        ticks = round_half_even(num / den / self.tick_size)
        self.stale = False
        self.last_ticks = ticks
        self.ts_last_update_ns = ts_ns
        return ticks

    # -- QUERIES --
    def components(self) -> list[tuple[float | None, float | None, float]]:
        """Per source, as of the last update: (last price, clamped price or None when it had
        weight 0 because stale, configured weight). O(k)."""
        return [(p, c, w) for p, c, w in zip(self._price, self._clamped, self.weights)]

    def source_age_ns(self, ts_ns: int) -> list[int | None]:
        """Age of each source's last update at ``ts_ns`` (None: never updated). O(k)."""
        return [None if t is None else ts_ns - t for t in self._ts]


# -- ORACLE ----------------------------------------------------------------------------------

class _IndexLike(Protocol):
    def update(self, ts_ns: int) -> int | None: ...


class Oracle:
    """Publishes the index at a fixed cadence: on the grid ``t0_ns + k·cadence_ns``.

    ``update(ts_ns)`` does nothing before the next grid time; at or after it, it reads the index
    and returns the new price in ticks (``None`` when the index is stale or, with
    ``min_change_rate`` > 0 — dYdX's ``min_price_change_ppm`` — when the move is too small to
    produce an on-chain update). A reading that is too small to publish still counts as a live
    oracle. ``is_stale(ts_ns, limit_ns)`` is True when there is no live reading within
    ``limit_ns`` (Drift's rule: stale after N slots). Cost: one index update per publish.
    """

    def __init__(self, index: _IndexLike, cadence_ns: int, *, t0_ns: int = 0,
                 min_change_rate: int = 0) -> None:
        if not hasattr(index, "update"):
            raise ConfigError(f"'index' must have an update(ts_ns) method (got {index!r})")
        self.index = index
        self.cadence_ns = _check_ns("cadence_ns", cadence_ns)
        self.t0_ns = _check_ns("t0_ns", t0_ns, positive=False)
        self.min_change_rate = _check_rate("min_change_rate", min_change_rate)
        self.next_publish_ns = self.t0_ns
        self.price_ticks: int | None = None
        self.ts_last_publish_ns: int | None = None   # price changed (published) last
        self.ts_last_live_ns: int | None = None      # last non-stale reading
        self.publish_count = 0

    # -- COMMANDS --
    def update(self, ts_ns: int) -> int | None:
        """Publish if a grid time has come; the newly published ticks or None. O(index)."""
        if ts_ns < self.next_publish_ns:
            return None
        self.next_publish_ns = self.t0_ns + ((ts_ns - self.t0_ns) // self.cadence_ns + 1) * self.cadence_ns
        value = self.index.update(ts_ns)
        if value is None:
            return None
        self.ts_last_live_ns = ts_ns
        prev = self.price_ticks
        if prev is not None and self.min_change_rate and \
                abs(value - prev) * RATE_SCALE < self.min_change_rate * prev:
            return None
        self.price_ticks = value
        self.ts_last_publish_ns = ts_ns
        self.publish_count += 1
        return value

    # -- QUERIES --
    def is_stale(self, ts_ns: int, limit_ns: int) -> bool:
        """True when no live reading happened in the last ``limit_ns`` (or ever). O(1)."""
        t = self.ts_last_live_ns
        return t is None or ts_ns - t > limit_ns

    def age_ns(self, ts_ns: int) -> int | None:
        """Time since the last live reading (None: never). O(1)."""
        return None if self.ts_last_live_ns is None else ts_ns - self.ts_last_live_ns


# -- MARK PRICE ------------------------------------------------------------------------------

@runtime_checkable
class BookLike(Protocol):
    """What the mark and premium need from a book (``matching.Book`` has exactly this)."""

    def best_bid(self) -> int | None: ...
    def best_ask(self) -> int | None: ...
    def impact_price(self, side: int, notional: int) -> float | None:
        """Average fill price in ticks of a taker of ``side`` (0 BUY walks asks, 1 SELL walks
        bids) spending ``notional`` (ticks × lots); None if the book is too thin."""
        ...


@runtime_checkable
class MarkPriceMethod(Protocol):
    """Computes the mark price in ticks.

    Arguments: ``index_ticks`` the index/oracle price (int); ``book`` a :class:`BookLike` or
    None (no book); ``last_trade_ticks`` the last trade price or None; ``funding_rate`` the
    current/last funding rate per interval (RATE_SCALE); ``ts_next_funding_ns`` and
    ``funding_interval_ns`` the funding schedule. Calls must have non-decreasing ``ts_ns``.
    """

    def update(self, ts_ns: int, index_ticks: int, book: BookLike | None,
               last_trade_ticks: int | None, funding_rate: int, ts_next_funding_ns: int,
               funding_interval_ns: int) -> int: ...


def _bid_ask(book: BookLike | None) -> tuple[int | None, int | None]:
    if book is None:
        return None, None
    return book.best_bid(), book.best_ask()


def _mid(book: BookLike | None) -> float | None:
    bid, ask = _bid_ask(book)
    if bid is None or ask is None:
        return None
    return (bid + ask) / 2


def _median3(a: int, b: int, c: int) -> int:
    if a > b:
        a, b = b, a
    if b > c:
        b = c
    return a if a > b else b


class IrregularEMA:
    """Exponential moving average over irregularly spaced samples (Hyperliquid's form)::

        num = num·exp(-dt/τ) + x·dt ;  den = den·exp(-dt/τ) + dt ;  ema = num / den

    ``dt`` is the time since the previous sample, in seconds. The first sample has no previous
    one; it is weighted by ``first_dt_ns`` (the nominal sampling interval), which makes the first
    value exactly ``x``. A sample with ``dt = 0`` has weight 0. O(1) per sample.

    >>> e = IrregularEMA(tau_ns=150 * NS_PER_S, first_dt_ns=3 * NS_PER_S)
    >>> e.add(0, 10.0)
    10.0
    """

    __slots__ = ("tau_s", "first_dt_s", "num", "den", "ts_last_ns")

    def __init__(self, tau_ns: int, first_dt_ns: int) -> None:
        self.tau_s = _check_ns("tau_ns", tau_ns) / NS_PER_S
        self.first_dt_s = _check_ns("first_dt_ns", first_dt_ns) / NS_PER_S
        self.num = 0.0
        self.den = 0.0
        self.ts_last_ns: int | None = None

    def add(self, ts_ns: int, x: float) -> float:
        """Fold one sample in; the new EMA. O(1)."""
        if self.ts_last_ns is None:
            dt = self.first_dt_s
        else:
            if ts_ns < self.ts_last_ns:
                raise invalid("ts_ns", f">= the previous sample's {self.ts_last_ns}", ts_ns)
            dt = (ts_ns - self.ts_last_ns) / NS_PER_S
        decay = math.exp(-dt / self.tau_s)
        self.num = self.num * decay + x * dt
        self.den = self.den * decay + dt
        self.ts_last_ns = ts_ns
        return self.num / self.den

    @property
    def value(self) -> float | None:
        """The current EMA, or None before the first sample."""
        return None if self.ts_last_ns is None else self.num / self.den


class BinanceMark:
    """Binance USDⓈ-M perpetual mark: ``median(P1, P2, last price)`` [C]::

        P1 = index · (1 + F · t_to_next_funding / funding_interval)        (exact, half-even)
        P2 = index + MA(mid - index)   over the last ``window`` samples, one per ``sample_ns``
        mid = (best_bid + best_ask) / 2

    Sampling: at most one basis sample per call, taken when the call is at or after the next
    ``sample_ns`` grid time (the venue calls this at the 1 s cadence); a call with a one-sided or
    empty book takes no sample. With fewer than ``window`` samples the MA is over those there are.

    Fallbacks (not documented by Binance; our choice): a missing candidate — P2 before any
    basis sample, the last price before the first trade — is replaced by **P1**, the
    index-anchored candidate. So with one candidate missing the mark is ``median(P1, P1, x) = P1``:
    a thin or one-sided book or a lone print cannot move the mark away from the index. Cost: O(window).
    """

    def __init__(self, *, sample_ns: int = NS_PER_S, window: int = 30) -> None:
        self.sample_ns = _check_ns("sample_ns", sample_ns)
        if not isinstance(window, int) or window <= 0:
            raise invalid("window", "an int > 0", window, error=ConfigError)
        self.window = window
        self._basis: deque[float] = deque(maxlen=window)
        self._next_sample_ns: int | None = None
        self.mark_ticks: int | None = None
        self.p1 = self.p2 = None  # last candidates, for inspection

    def update(self, ts_ns: int, index_ticks: int, book: BookLike | None,
               last_trade_ticks: int | None, funding_rate: int, ts_next_funding_ns: int,
               funding_interval_ns: int) -> int:
        p1 = fair_price_ticks(index_ticks, funding_rate, ts_next_funding_ns - ts_ns, funding_interval_ns)
        if self._next_sample_ns is None or ts_ns >= self._next_sample_ns:
            mid = _mid(book)
            if mid is not None:
                self._basis.append(mid - index_ticks)
                self._next_sample_ns = (ts_ns // self.sample_ns + 1) * self.sample_ns
        basis = self._basis
        p2 = round_half_even(index_ticks + sum(basis) / len(basis)) if basis else p1
        last = p1 if last_trade_ticks is None else last_trade_ticks
        self.p1, self.p2 = p1, p2
        mark = _median3(p1, p2, last)
        self.mark_ticks = mark
        return mark


class BybitMark(BinanceMark):
    """Bybit perpetual mark: ``median(P1, P2, last traded price)`` with a **5-minute** basis MA::

        P1 = index · (1 + last funding rate · time until funding / funding interval)
        P2 = index + MA_5min((bid1 + ask1)/2 − index), measured every second (300 samples)

    Source: Bybit help centre, "Mark Price Calculation (Perpetual Contract)",
    https://testnet.bybit.com/en-US/help-center/s/article/What-is-Dual-Price-mechanism (page
    dated 2024-10-16, read 2026-12-02): "Mark Price = Median (Price 1, Price 2, Last Traded
    Price); Price 1 = Index Price × [1 + Last Funding Rate × (Time Until Funding / 8)]; Price 2 =
    Index Price + Moving Average (5-minute Basis) ... measures every second in a 5-minute
    interval". Bybit writes "/8" for its 8 h contracts; we divide by the contract's funding
    interval, which is the same for 8 h and the rule's meaning for 4 h / 1 h symbols.

    The same structure as Binance's method with Binance's window of 30 samples replaced by
    Bybit's 300; the fallbacks of :class:`BinanceMark` apply. Cost: O(window).
    """

    def __init__(self, *, sample_ns: int = NS_PER_S, window: int = 300) -> None:
        super().__init__(sample_ns=sample_ns, window=window)


class HyperliquidMark:
    """Hyperliquid mark: median of the available inputs among [C]::

        m1 = oracle + EMA_150s(book_mid - oracle)
        m2 = median(best_bid, best_ask, last_trade)       (local book)
        m3 = median(external perp mids)                   (optional)
        with exactly two inputs, EMA_30s(m2) is added as another input

    EMAs are :class:`IrregularEMA` (the reference's formula exactly). The mark and the EMAs move
    only on publishes: a call before the next ``publish_ns`` grid time returns the previous mark
    unchanged (``publish_ns=0``: every call publishes).

    Choices where the docs say nothing: m1 exists whenever there is an oracle price; before the
    first two-sided book its EMA term is 0 (m1 = oracle). m2 needs a two-sided book; without a
    last trade it is the mid (median of two). ``external_mids(ts_ns)`` returns a sequence of perp
    mids in ticks (or None); m3 is their plain median (absent when None or empty). A sequence of
    :class:`PriceSource` objects quoting perp mids in ticks is accepted too (each contributes its
    latest value once it has reported; m3 is their plain median). The reference
    says the EMA is added "as a 4th input"; with exactly two inputs it makes a third, which is how
    Hyperliquid's docs and their mirrors word it — the mark is then the median of three.
    Cost: O(1) (plus the external mids).
    """

    def __init__(self, *, publish_ns: int = 3 * NS_PER_S, tau_ns: int = 150 * NS_PER_S,
                 tau_m2_ns: int = 30 * NS_PER_S,
                 external_mids: Callable[[int], Sequence[float] | None] | None = None) -> None:
        self.publish_ns = _check_ns("publish_ns", publish_ns, positive=False)
        nominal = self.publish_ns or NS_PER_S
        self.basis_ema = IrregularEMA(tau_ns, nominal)
        self.m2_ema = IrregularEMA(tau_m2_ns, nominal)
        if external_mids is not None and not callable(external_mids):
            try:
                external_mids = _SourceMids(external_mids)
            except TypeError:
                raise ConfigError("'external_mids' must be a callable, a sequence of price sources "
                                  f"or None (got {external_mids!r})") from None
        self.external_mids = external_mids
        self._next_publish_ns: int | None = None
        self.mark_ticks: int | None = None
        self.inputs: tuple[float, ...] = ()  # the inputs of the last publish, for inspection

    def update(self, ts_ns: int, index_ticks: int, book: BookLike | None,
               last_trade_ticks: int | None, funding_rate: int, ts_next_funding_ns: int,
               funding_interval_ns: int) -> int:
        if self.mark_ticks is not None and self.publish_ns and ts_ns < self._next_publish_ns:
            return self.mark_ticks
        if self.publish_ns:
            self._next_publish_ns = (ts_ns // self.publish_ns + 1) * self.publish_ns
        oracle = index_ticks
        bid, ask = _bid_ask(book)
        two_sided = bid is not None and ask is not None
        if two_sided:
            self.basis_ema.add(ts_ns, (bid + ask) / 2 - oracle)
        ema = self.basis_ema.value
        inputs: list[float] = [oracle + (ema if ema is not None else 0.0)]
        if two_sided:
            m2 = _median((bid, ask, last_trade_ticks)) if last_trade_ticks is not None \
                else (bid + ask) / 2
            self.m2_ema.add(ts_ns, m2)
            inputs.append(m2)
        if self.external_mids is not None:
            mids = self.external_mids(ts_ns)
            if mids:
                inputs.append(_median(list(mids)))
        if len(inputs) == 2 and self.m2_ema.value is not None:
            inputs.append(self.m2_ema.value)
        self.inputs = tuple(inputs)
        mark = round_half_even(_median(inputs))
        self.mark_ticks = mark
        return mark


class _SourceMids:
    """Adapts price sources quoting external perp mids (in ticks) to ``external_mids``."""

    def __init__(self, sources: Sequence[PriceSource]) -> None:
        self.sources = list(sources)
        if not self.sources or not all(hasattr(s, "price_at") for s in self.sources):
            raise TypeError("not a sequence of price sources")
        self._last: list[float | None] = [None] * len(self.sources)

    def __call__(self, ts_ns: int) -> list[float]:
        for i, src in enumerate(self.sources):
            p = src.price_at(ts_ns)
            if p is not None:
                self._last[i] = float(p)
        return [p for p in self._last if p is not None]


class BitMexMark:
    """BitMEX "fair price marking" of a perpetual [C]:
    ``mark = index · (1 + F · t_until_funding / funding_interval)`` (exact, half-even). O(1)."""

    def update(self, ts_ns: int, index_ticks: int, book: BookLike | None,
               last_trade_ticks: int | None, funding_rate: int, ts_next_funding_ns: int,
               funding_interval_ns: int) -> int:
        return fair_price_ticks(index_ticks, funding_rate, ts_next_funding_ns - ts_ns,
                                funding_interval_ns)


class DydxMark:
    """dYdX v4 has no separate mark: margin, liquidation and funding use the oracle [C]. O(1)."""

    def update(self, ts_ns: int, index_ticks: int, book: BookLike | None,
               last_trade_ticks: int | None, funding_rate: int, ts_next_funding_ns: int,
               funding_interval_ns: int) -> int:
        return index_ticks


class DriftMark(DydxMark):
    """Drift v2 margins on the (guard-railed) oracle price [C]. O(1)."""


class LastPriceMark:
    """Mark = last trade price; before the first trade the book mid (half-even), else the index.
    The "venue marks from its own thin book" mode (reference §1, Oct-2025 USDe case). O(1)."""

    def update(self, ts_ns: int, index_ticks: int, book: BookLike | None,
               last_trade_ticks: int | None, funding_rate: int, ts_next_funding_ns: int,
               funding_interval_ns: int) -> int:
        if last_trade_ticks is not None:
            return last_trade_ticks
        mid = _mid(book)
        return index_ticks if mid is None else round_half_even(mid)


#: config name -> mark price method class
MARK_METHODS: dict[str, type] = {
    "binance": BinanceMark,
    "bybit": BybitMark,
    "hyperliquid": HyperliquidMark,
    "bitmex": BitMexMark,
    "dydx": DydxMark,
    "drift": DriftMark,
    "last_price": LastPriceMark,
}


def _import_path(path: str) -> Any:
    from exchange.resolve import resolve

    return resolve(path, what="'mark_method'")


def make_mark_method(name: str, **params: Any) -> MarkPriceMethod:
    """Build a mark price method from a config name (a key of :data:`MARK_METHODS`, or a
    ``"package.module:Class"`` path) and its parameters.

    >>> type(make_mark_method("binance", window=30)).__name__
    'BinanceMark'
    >>> make_mark_method("nope")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    exchange.errors.ConfigError: 'mark_method' must be one of ['binance', ...] or a ... (got 'nope')
    """
    if not isinstance(name, str):
        raise invalid("mark_method", "a str", name, error=ConfigError)
    cls = MARK_METHODS.get(name.lower())
    if cls is None:
        if ":" in name:
            cls = _import_path(name)
        else:
            raise invalid("mark_method", f"one of {sorted(MARK_METHODS)} or a "
                          "'package.module:Class' path", name, error=ConfigError)
    try:
        method = cls(**params)
    except TypeError as exc:
        raise ConfigError(f"mark method {name!r}: bad parameters {sorted(params)}: {exc}") from exc
    if not hasattr(method, "update"):
        raise ConfigError(f"mark method {name!r} has no update() method")
    return method
