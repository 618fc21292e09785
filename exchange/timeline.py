"""The venue's time-driven state of one instrument: index → oracle → mark, and funding.

:class:`InstrumentTimeline` is what :meth:`exchange.venue.Exchange.step` runs for each
instrument it is fed prices for. It holds the venue's own index (a basket of the price
observations the caller feeds, with the venue's clamp and staleness rules), the oracle
publisher at the venue's cadence, the preset's mark-price method and the funding scheduler
(premium sampling, rate, settlement times). It moves no money: the settlement it decides is
applied by the compiled core (:meth:`exchange._core.VenueCore.settle_funding`).

The order of one step is the venue's documented one (the dYdX ``x/clob`` EndBlocker is the
model of one owner for one ordered step): oracle → index → mark → conditional triggers →
liquidation waterfall → funding sampling and settlement. The first three happen here
(:meth:`publish`), the triggers and the waterfall in the venue, then :meth:`funding_due`.

Cost per step: one index update (O(k log k) for k sources) when the oracle is due, one mark
update, O(1) funding bookkeeping, plus O(book depth) for a premium sample.
"""
from __future__ import annotations

from typing import Any
from collections.abc import Sequence

from exchange.errors import ConfigError, invalid
from exchange.funding import EIGHT_HOURS_NS, FundingRateFixed, FundingScheduler, make_funding_rule
from exchange.oracle import (INDEX_STALENESS_NS, Index, Oracle, index_clamp_for,
                             make_mark_method)
from exchange.units import RATE_SCALE

__all__ = ["FedSource", "InstrumentTimeline"]

NS_PER_MS = 1_000_000


class FedSource:
    """A price source whose observations are pushed in: :meth:`feed` sets the price for the
    next read, :meth:`price_at` hands it over once (None afterwards: no new observation, so
    a source that is not fed goes stale after the index's staleness limit)."""

    __slots__ = ("_pending",)

    def __init__(self) -> None:
        self._pending: float | None = None

    def feed(self, price: float | None) -> None:
        self._pending = price

    def price_at(self, ts_ns: int) -> float | None:
        p, self._pending = self._pending, None
        return p


class InstrumentTimeline:
    """Index, oracle, mark method and funding scheduler of one instrument (see module doc).

    ``sources``: how many price observations the caller feeds per oracle publish (index
    constituents, equal weights unless ``weights``); ``clamp_rate`` (per 1e8; default the
    venue rule, 1 % BTC/ETH, 3 % otherwise); ``staleness_ns``: a constituent silent longer
    than this gets weight 0; ``cadence_ns``: the oracle publish cadence (default the preset's
    ``oracle_cadence_ms``); ``stale_limit_ns``: an oracle without a live reading for longer
    freezes the mark, liquidations and funding (default ``staleness_ns``).
    """

    def __init__(self, preset, spec, symbol: str, *, sources: int = 1,
                 weights: Sequence[float] | None = None, clamp_rate: int | None = None,
                 staleness_ns: int = INDEX_STALENESS_NS, cadence_ns: int | None = None,
                 stale_limit_ns: int | None = None) -> None:
        if type(sources) is not int or not 1 <= sources <= 1000:
            raise invalid("sources", "an int in [1, 1000]", sources, error=ConfigError)
        self.symbol = symbol
        self.feeds = [FedSource() for _ in range(sources)]
        clamp = index_clamp_for(symbol) if clamp_rate is None else int(clamp_rate)
        self.index = Index(self.feeds, weights, tick_size=float(spec.tick_size),
                           clamp_rate=clamp, staleness_ns=int(staleness_ns))
        if cadence_ns is None:
            cadence_ns = int(preset.venue.oracle_cadence_ms) * NS_PER_MS
        self.oracle = Oracle(self.index, int(cadence_ns))
        self.stale_limit_ns = int(staleness_ns if stale_limit_ns is None else stale_limit_ns)
        self.mark_method = make_mark_method(preset.venue.mark_method)
        self.rule = make_funding_rule(preset, spec)
        impact = max(1.0, spec.impact_notional_atoms / spec.atoms_per_tick_lot)
        self.sampler = self.rule.make_sampler(impact)
        self.funding = FundingScheduler(self.rule, self.sampler, stale_limit_ns=self.stale_limit_ns,
                                        atoms_per_tick_lot=int(spec.atoms_per_tick_lot))
        #: the rate the venue would fix now for the coming settlement (per interval, 1e8)
        self.estimate_rate: int = self.rule.initial_rate(self.funding.interval_ns).rate
        #: a stress override of the funding rate (per interval), or None
        self.override: int | None = None
        self.stale = True
        self.index_ticks = 0
        self.last_rate = 0
        self.started = False

    # -- QUERIES --
    def next_wakeup_ns(self) -> int:
        """The next time a step has something to do here: an oracle publish or a funding
        sample or settlement. O(1)."""
        return min(self.oracle.next_publish_ns, self.funding.next_wakeup_ns())

    def oracle_due(self, ts_ns: int) -> bool:
        return ts_ns >= self.oracle.next_publish_ns

    def rate_for_mark(self) -> int:
        """The funding rate (per interval) the mark's funding basis uses: the rate already
        fixed for the next funding timestamp where the venue fixes rates ahead (BitMEX:
        "the funding rate is fixed one interval in advance", bitmex.com/app/perpetualContractsGuide,
        read 2026-12-02), else the running estimate of the coming settlement (Binance's
        ``lastFundingRate``, the predicted rate of /fapi/v1/premiumIndex)."""
        if self.override is not None:
            return self.override
        fixed = self.funding.fixed_ahead
        if fixed:
            return int(fixed[0].rate)
        return self.estimate_rate

    def estimate_8h(self) -> int:
        """The coming settlement's rate in 8-hour terms (an override included)."""
        rate = self.override if self.override is not None else self.estimate_rate
        return int(rate * EIGHT_HOURS_NS // self.funding.interval_ns)

    # -- COMMANDS --
    def start(self, ts_ns: int) -> None:
        """The first step: the funding schedule starts on the venue's UTC grid at ``ts_ns``
        (:meth:`~exchange.funding.FundingScheduler.anchor`). O(1)."""
        if not self.started:
            self.started = True
            self.funding.anchor(ts_ns)

    def publish(self, ts_ns: int, prices: Any, book, last_ticks: int | None) -> int | None:
        """Feed this publish's observations, update the oracle and, when it published and is
        live, the mark. Returns the new mark in ticks, or None (not due, no reading, stale).
        ``prices``: one price or a sequence of one per source, floats in quote units, None
        for a source with no new observation."""
        if isinstance(prices, (list, tuple)):
            if len(prices) != len(self.feeds):
                raise invalid("oracle_prices", f"{len(self.feeds)} prices for {self.symbol} "
                              "(one per index source)", len(prices))
            for f, p in zip(self.feeds, prices):
                f.feed(None if p is None else float(p))
        elif prices is not None:
            for f in self.feeds:
                f.feed(float(prices))
        idx = self.oracle.update(ts_ns)
        self.stale = self.oracle.price_ticks is None or self.oracle.is_stale(ts_ns, self.stale_limit_ns)
        if idx is None or self.stale:
            return None
        self.index_ticks = idx
        fs = self.funding
        return self.mark_method.update(ts_ns, idx, book, last_ticks, self.rate_for_mark(),
                                       fs.next_settlement_ns, fs.interval_ns)

    def funding_due(self, ts_ns: int, book, mark_ticks: int | None) -> list[tuple[int, int]]:
        """Run the funding scheduler's samples and settlements due by ``ts_ns``; the
        settlements to apply as (rate per interval, price ticks), an override applied.
        Refreshes :attr:`estimate_rate`. O(1) per sample."""
        out: list[tuple[int, int]] = []
        fs = self.funding
        oracle = self.oracle
        guard = 0
        while fs.next_wakeup_ns() <= ts_ns and guard < 4:
            guard += 1
            for o in fs.step(ts_ns, oracle=oracle, book=book, mark_ticks=mark_ticks):
                if isinstance(o, FundingRateFixed):
                    rate = o.rate if self.override is None else self.override
                    rate = max(-RATE_SCALE, min(RATE_SCALE, int(rate)))
                    price = o.price_ticks or mark_ticks or 0
                    if price > 0:
                        out.append((rate, int(price)))
                    self.last_rate = rate
        self.estimate_rate = int(self.rule.compute(self.sampler.summary(ts_ns), fs.interval_ns).rate)
        return out
