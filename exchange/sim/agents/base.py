"""What every population shares: the :class:`Agent` protocol, parameter bounds, the
:class:`_Population` base and small helpers. See :mod:`exchange.sim.agents`."""
from __future__ import annotations

import math
from typing import Any, Protocol, runtime_checkable

import numpy as np

from exchange.sim.config import (Param, integer, money, number,
                                 read_table)
from exchange.sim.clock import PRIO_AGENT
from exchange.sim.context import SimContext, latency_ns, lognormal_factors



_NEVER = np.iinfo(np.int64).max
NS_PER_MS = 1_000_000
NS_PER_S = 1_000_000_000
# Upper bounds of population parameters (issue 18: scenario numbers mutated to extremes). Past
# them a value overflows the int64 clock, lot or tick arithmetic at run time, or asks for more
# events than a run can hold; within them a run is slow at worst. Chosen wide: a year of
# cadence, a billion base units, 100 % of the price as a distance, 10 orders a second.
MAX_COUNT = 100_000                  # accounts per population
MAX_LEVERAGE = 1_000
MAX_MS = 365 * 86_400_000.0          # cadences and latencies: one year
MAX_S = 365 * 86_400.0               # durations: one year
MAX_BASE_QTY = 1e9                   # sizes and position limits, base units
MAX_DEPTH_BPS = 10_000.0             # distances from the reference price
MAX_RATIO = 1e6                      # volatility ratios and spread multipliers
MAX_RATE_PER_MIN = 600.0             # orders per trader per minute


@runtime_checkable
class Agent(Protocol):
    """A participant of a simulation (see the module docs). ``accounts``: its venue account
    ids (metrics attribute PnL per agent type with it)."""

    name: str
    accounts: np.ndarray

    def setup(self, ctx: SimContext, ts_ns: int) -> int | None: ...

    def wake(self, ctx: SimContext, ts_ns: int) -> int | None: ...


_COMMON = {
    "type": Param(lambda s, k, v: v, None, "agent type (default: the table name)"),
    "count": Param(integer(0, MAX_COUNT), 0, "number of accounts"),
    "latency_ms": Param(number(0.001, MAX_MS), 20.0, "mean order latency (ms)"),
    "latency_jitter": Param(number(0.0, 3.0), 0.5, "log-sd of the per-account latency"),
}


def _ms(x: float) -> int:
    return max(1, int(round(x * NS_PER_MS)))


class _Population:
    """Shared plumbing: params, generator, accounts, latencies."""

    kind = "population"
    PARAMS: dict[str, Param] = {}

    def __init__(self, name: str, params: dict[str, Any], rng: np.random.Generator,
                 settle_decimals: int = 6) -> None:
        self.name = name
        self.p = params
        self.rng = rng
        self.n = int(params["count"])
        self.accounts = np.empty(0, np.int64)
        self.lat = np.empty(0, np.int64)

    @classmethod
    def schema(cls) -> dict[str, Param]:
        return {**_COMMON, **cls.PARAMS}

    @classmethod
    def parse(cls, source: str, path: str, table: dict, settle_decimals: int = 6) -> dict:
        schema = cls.schema()
        if isinstance(table, dict):
            # money defaults are written like the TOML ("2000000") and converted here too
            table = {**{k: v.default for k, v in schema.items()
                        if v.conv is money and k not in table}, **table}
        schema = {k: (Param(money(settle_decimals), v.default, v.help)
                      if v.conv is money else v) for k, v in schema.items()}
        return read_table(source, path, table, schema)

    def _setup_accounts(self, ctx: SimContext, capital_atoms: np.ndarray, leverage) -> None:
        self.accounts = ctx.open_accounts(capital_atoms, leverage, role=self.kind)
        self.lat = latency_ns(self.rng, self.n, self.p["latency_ms"], self.p["latency_jitter"])

    def _collect(self) -> bool:
        """Whether the last quote batch (``_pending``) has been answered; when it has, record
        the venue ids of the quotes that rested into ``oids`` at the batch's ``_slots`` (flat
        positions) and forget the batch. Used by the quoting populations."""
        b = self._pending
        if b is None:
            return True
        if not b.done:
            return False
        k = self._slots.shape[0]
        if k:
            self.oids.reshape(-1)[self._slots] = np.where(b.code[-k:] == 0, b.oid[-k:], 0)
        self._pending = None
        return True

    def _size_now(self, ctx: SimContext) -> np.ndarray:
        return ctx.arrays()["size"][ctx.instr][self.accounts]


class _Quoting(_Population):
    """A population that rests quotes and requotes them (market makers, keepers): on its
    wake every ``requote_ns``, and at once when spot or the mark moved a fraction of the
    price since the last quotes (``_q_spot``, ``_q_mark``), after the batch in flight has
    been answered. Subclasses define ``_requote(ctx, ts_ns)`` and set ``requote_ns``,
    ``_q_spot``, ``_q_mark`` and ``_retry``."""

    def _requote_on_move(self, ctx: SimContext, ts_ns: int, frac: float, retry_ns: int) -> None:
        """Requote when spot or the mark moved ``frac`` of the last quotes' price; with the
        last batch still in flight, once, ``retry_ns`` later. O(1) unless it requotes."""
        mkt = ctx.market
        if abs(mkt.spot_ticks - self._q_spot) < frac * self._q_spot and (
                self._q_mark <= 0 or abs(mkt.mark_ticks - self._q_mark) < frac * self._q_mark):
            return
        if self._collect():
            self._requote(ctx, ts_ns)
        elif not self._retry:
            self._retry = True
            ctx.clock.schedule(ts_ns + retry_ns, PRIO_AGENT, self._retry_market, ctx)

    def _retry_market(self, ts_ns: int, ctx: SimContext) -> None:
        self._retry = False
        self.on_market(ctx, ts_ns)

    def wake(self, ctx: SimContext, ts_ns: int) -> int | None:
        nxt = ts_ns + self.requote_ns
        if self._collect():
            self._requote(ctx, ts_ns)
        return nxt


def _reference_ticks(ctx: SimContext) -> int:
    """The price a taker judges slippage from: the book mid when both sides rest, else the
    last trade, else the mark. O(1)."""
    book = ctx.book()
    bb, ba = book.best_bid(), book.best_ask()
    if bb and ba and ba > bb:
        return (bb + ba) // 2
    return ctx.market.price_ticks()


def _protected(ref_ticks: int, buy: np.ndarray, slip_bps: float) -> np.ndarray:
    """Limit prices of marketable IOC orders that fill only within ``slip_bps`` of
    ``ref_ticks`` (buys above, sells below): a taker does not sweep an empty book up to the
    next wall (Binance's own market orders are bounded the same way by ``marketTakeBound``,
    developers.binance.com/docs/derivatives/usds-margined-futures, read 2026-12-02)."""
    up = int(math.ceil(ref_ticks * (1.0 + slip_bps * 1e-4)))
    down = max(1, int(math.floor(ref_ticks * (1.0 - slip_bps * 1e-4))))
    return np.where(buy, up, down).astype(np.int64)


def _capital(rng, n, amount_atoms: int, sigma: float) -> np.ndarray:
    return np.maximum(1, np.rint(amount_atoms * lognormal_factors(rng, n, sigma))).astype(np.int64)
