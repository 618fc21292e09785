"""What agents see and use during a run: :class:`SimContext` and :class:`MarketState`.

The context wraps the venue (:class:`~exchange.venue.Exchange` and its compiled core), the
clock, the order gateway and the market state the runner updates at every oracle tick. Agents
read state through the core's numpy arrays (:meth:`SimContext.arrays`) and act by sending
:class:`~exchange.sim.gateway.OrderBatch` objects through :meth:`SimContext.send`.
"""
from __future__ import annotations

import math
import zlib
from decimal import Decimal
from collections.abc import Callable

import attrs
import numpy as np

from exchange.margin import notional_cap_for_leverage
from exchange.sim.clock import Clock
from exchange.sim.gateway import OrderBatch, OrderGateway

__all__ = ["MarketState", "SimContext", "component_seed"]


def component_seed(seed: int, name: str) -> np.random.SeedSequence:
    """The SeedSequence of a named component of a run, spawned from ``SeedSequence(seed)``.

    Keyed by name (CRC-32), not by position, so adding an agent never changes the streams of
    the others and every waterfall of a comparison sees the same agents and the same path.

    >>> a = np.random.default_rng(component_seed(7, "noise")).integers(1 << 30)
    >>> b = np.random.default_rng(component_seed(7, "noise")).integers(1 << 30)
    >>> bool(a == b)
    True
    """
    root = np.random.SeedSequence(int(seed))
    return np.random.SeedSequence(root.entropy, spawn_key=(*root.spawn_key, zlib.crc32(name.encode())))


@attrs.define(slots=True)
class MarketState:
    """The market as the runner last published it (updated at every oracle tick).

    Prices in ticks (0 = none yet). ``vol_ratio``: short-horizon realised volatility of the
    index over its calm baseline (1 in a calm market; a gap sends it far above 1).
    ``funding_estimate_8h``: the funding rate the venue would fix now, in 8-hour terms
    (RATE_SCALE), including a funding override shock. ``mm_withdraw_*``: an active
    "market makers withdraw" shock. ``spot_ticks``: the index's path as traders watching its
    constituent exchanges see it now (the venue publishes it ``index.feed_latency_ms`` later).
    """

    ts_ns: int = 0
    index_ticks: int = 0
    mark_ticks: int = 0
    last_ticks: int = 0
    stale: bool = False
    var_fast: float = 0.0
    var_base: float = 0.0
    vol_ratio: float = 1.0
    funding_estimate_8h: int = 0
    funding_rate_last: int = 0
    ts_next_funding_ns: int = 0
    funding_override: int | None = None
    #: the world's spot price now (the index path before the venue's feed latency), ticks
    spot_ticks: int = 0

    def price_ticks(self) -> int:
        """Last trade price, else the mark, else the index."""
        return self.last_ticks or self.mark_ticks or self.index_ticks


class SimContext:
    """Handles of one run for the agents: venue, clock, gateway, market state, instrument grid.

    ``k`` is atoms per tick·lot (notional of ``q`` lots at ``p`` ticks is ``q·p·k`` atoms).
    """

    def __init__(self, exchange, instr: int, clock: Clock, gateway: OrderGateway, seed: int,
                 liquidation=None) -> None:
        self.exchange = exchange
        self.core = exchange.core
        self.instr = instr
        self.spec = exchange.specs[instr]
        self.symbol = exchange.symbols[instr]
        self.clock = clock
        self.gateway = gateway
        self.seed = seed
        self.liquidation = liquidation
        self.market = MarketState()
        self.k = int(self.spec.atoms_per_tick_lot)
        self.tick_size = float(self.spec.tick_size)
        self.lot_size = float(self.spec.lot_size)
        self.atoms_per_unit = 10 ** int(self.spec.settle_decimals)
        self.max_leverage = int(self.spec.tiers[0].max_leverage)
        self._arrays = None
        self._arrays_n = -1
        self._caps: dict[int, int] = {}
        self.roles: dict[str, np.ndarray] = {}
        #: called with every batch of event records drained from the venue (EVENT_DTYPE)
        self.record_listeners: list[Callable[[np.ndarray], None]] = []
        #: the run's drain (set by the runner: it also feeds the liquidation engine)
        self.drainer: Callable[[], np.ndarray] | None = None

    # -- QUERIES --
    def arrays(self) -> dict:
        """The core's state arrays (views), refreshed when accounts were opened. O(1)."""
        if self._arrays_n != self.core.n_acct:
            self._arrays = self.core.arrays()
            self._arrays_n = self.core.n_acct
        return self._arrays

    def book(self):
        return self.core.book(self.instr)

    def notional_cap_atoms(self, leverage: int) -> int:
        """Largest notional (atoms) a position at ``leverage`` may reach (venue tiers)."""
        cap = self._caps.get(leverage)
        if cap is None:
            c = notional_cap_for_leverage(self.spec.tiers, int(leverage),
                                          self.spec.max_position_notional_atoms)
            cap = (1 << 62) if c is None else max(0, c - 1)
            self._caps[leverage] = cap
        return cap

    def qty_to_lots(self, qty: float) -> int:
        return max(1, int(round(qty / self.lot_size)))

    def price_to_ticks(self, price: float) -> int:
        return int(round(price / self.tick_size))

    def rng(self, name: str) -> np.random.Generator:
        """A generator of its own for the named component (see :func:`component_seed`)."""
        return np.random.default_rng(component_seed(self.seed, name))

    # -- COMMANDS --
    def open_accounts(self, deposits_atoms: np.ndarray, leverage: np.ndarray | int | None = None,
                      role: str | None = None) -> np.ndarray:
        """Open one funded account per entry of ``deposits_atoms``; optionally set each one's
        leverage on this instrument (capped at the venue maximum). Returns the ids. O(n)."""
        deposits = np.asarray(deposits_atoms, dtype=np.int64)
        n = int(deposits.shape[0])
        if n == 0:
            return np.empty(0, np.int64)
        core = self.core
        first = core.open_accounts(n)
        ids = np.arange(first, first + n, dtype=np.int64)
        dep = core.deposit
        for a, d in zip(ids.tolist(), deposits.tolist()):
            if d > 0:
                dep(a, d)
        if leverage is not None:
            lev = np.broadcast_to(np.asarray(leverage, dtype=np.int64), (n,))
            lev = np.clip(lev, 1, self.max_leverage)
            setlev = core.set_leverage
            instr = self.instr
            for a, L in zip(ids.tolist(), lev.tolist()):
                setlev(a, instr, L)
        if role:
            prev = self.roles.get(role)
            self.roles[role] = ids if prev is None else np.concatenate([prev, ids])
        return ids

    def drain(self) -> np.ndarray:
        """Move the venue's pending event records to the journal now and hand them to the
        liquidation engine and the :attr:`record_listeners` (the runner's drain); returns
        them. Draining more often changes no outcome, only when listeners hear of it. O(n)."""
        if self.drainer is not None:
            return self.drainer()
        recs = self.exchange.drain_records()
        self.publish(recs)
        return recs

    def publish(self, records: np.ndarray) -> None:
        """Hand drained records to every listener, in registration order."""
        if len(records):
            for listener in self.record_listeners:
                listener(records)

    def send(self, batch: OrderBatch, results: bool = True) -> OrderBatch:
        """Hand a batch to the venue's gateway (``results=False``: fire and forget)."""
        return self.gateway.send(batch, results)


def to_atoms(amount: Decimal | float, decimals: int = 6) -> int:
    return int(Decimal(str(amount)) * (10 ** decimals))


def lognormal_factors(rng: np.random.Generator, n: int, sigma: float) -> np.ndarray:
    """Positive multipliers with median 1 (``exp(sigma·z)``), for heterogeneous populations."""
    if sigma <= 0:
        return np.ones(n)
    return np.exp(sigma * rng.standard_normal(n))


def latency_ns(rng: np.random.Generator, n: int, mean_ms: float, jitter: float) -> np.ndarray:
    """Per-agent order latency: lognormal around ``mean_ms`` (``jitter`` = log-sd), ≥ 1 µs."""
    base = mean_ms * 1e6 * lognormal_factors(rng, n, jitter)
    if jitter > 0:
        base /= math.exp(jitter * jitter / 2)       # keep the mean at mean_ms
    return np.maximum(1_000, np.rint(base)).astype(np.int64)
