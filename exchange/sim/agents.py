"""Agents: the :class:`Agent` protocol and the built-in populations.

An :class:`Agent` is anything with a ``name`` and two methods, ``setup(ctx, ts_ns)`` (open
accounts, return the first wake-up time or None) and ``wake(ctx, ts_ns)`` (decide, send
orders, return the next wake-up time or None). Optional hooks: ``on_shock(ctx, shock, ts_ns)``,
``on_auction(ctx, auction, ts_ns)`` (see :class:`Keepers`), ``on_records(ctx, records)`` (every
batch of event records the runner drains, EVENT_DTYPE) and ``on_stop(ctx, ts_ns)`` (the end).

The built-in agents are **populations**: one object decides for many accounts at once with
numpy (who acts, sides, sizes, prices, stops) and sends one
:class:`~exchange.sim.gateway.OrderBatch`; each row reaches the venue after its account's own
latency. Each population has its own ``numpy.random.Generator`` spawned from the run's
``SeedSequence`` by name (:func:`~exchange.sim.context.component_seed`); its members are
heterogeneous (capital, spreads, thresholds, leverage and latency drawn per account).

===================  =====================================================================
type                 behaviour
===================  =====================================================================
``market_maker``     ladders of post-only quotes around the perp's own mid (a fair value that
                     follows spot's returns, learns the book and moves with the flow it
                     absorbs; or the index / mark), skewed against inventory, requoted at
                     once when spot or the mark jumps (a gap); widen when
                     short-term volatility jumps, pull quotes when it crosses a per-MM
                     threshold or during a "withdraw" shock (liquidity vacuum), then return
``noise``            Poisson marketable IOC orders of lognormal size, random side, bounded
                     slippage, position-capped
``directional``      leveraged crowd with a long/short bias; leverage policy ``fixed``
                     (drawn from a list, e.g. 3/5/10/20/50x), ``vol_scaled`` (cut as realised
                     volatility rises) or ``tiered`` (a fraction of the venue tier's maximum
                     for the notional); stop-losses and take-profits on the last price
``arbitrageur``      carry traders: hold the perp against a hedge elsewhere, sized by the
                     funding the venue's rule would pay at today's premium (net of the
                     interest leg) against their trading costs (He et al. 2022)
``keeper``           liquidators: deep resting bids/asks that absorb liquidation flow, bid in
                     liquidation auctions at a discount, unwind inventory into recoveries
``strategy``         one account run by a user's :class:`~exchange.sim.strategy.Strategy`
                     (``class = "package.module:Class"``; see :mod:`exchange.sim.strategy`)
===================  =====================================================================

A population's parameters are a TOML table (``[population.NAME]``, ``type = ...``); each
class lists its keys in ``PARAMS`` (see ``perpsim scenarios --agents``).
"""
from __future__ import annotations

import importlib
import math
from attrs import evolve as attrs_evolve
from typing import Any, Protocol, runtime_checkable

import numpy as np

from exchange.errors import ConfigError
from exchange.sim.clock import PRIO_AGENT
from exchange.sim.config import (Param, choice, integer, integer_list, money, number,
                                 number_list, read_table)
from exchange.sim.context import SimContext, latency_ns, lognormal_factors
from exchange.units import RATE_SCALE
from exchange.sim.gateway import (CANCEL_IF_OPEN, COL, IOC, LIMIT, MARKET, ORDER_DTYPE,
                                  POST_ONLY, SUBMIT, OrderBatch, rows_matrix)

__all__ = ["Agent", "MarketMakers", "NoiseTraders", "DirectionalTraders",
           "FundingArbitrageurs", "Keepers", "AGENT_TYPES", "LAZY_AGENT_TYPES", "agent_class",
           "build_agent"]

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


# -- MARKET MAKERS ---------------------------------------------------------------------------

class MarketMakers(_Population):
    """Quote ladders around a reference price with inventory skew and a volatility response.

    Each wake (``requote_ms``): cancel the previous quotes that still rest, then post
    ``levels`` post-only bids and asks at ``half_spread_bps + l·level_step_bps`` (l = 0..)
    from the reference, shifted by ``-skew_bps · inventory/limit`` and widened by up
    to ``widen_factor`` once the volatility ratio passes ``widen_vol_ratio``. With the
    ``mid`` anchor (the default) the reference is the makers' fair value
    (:meth:`_fair_value`), every maker's first level sits on the ticks either side of it
    (shifted by the makers' mean inventory; deeper levels carry each one's own skew) and the
    population requotes as one colocated batch (all cancels, then all quotes), so the inside
    is one tick whenever the first levels stand. A maker whose
    own threshold (around ``pull_vol_ratio``) is crossed pulls every quote for ``pull_s``
    seconds; a ``mm_withdraw`` shock pulls a fraction of the makers for its duration. At the
    inventory limit the side that would grow it is not quoted. Cost per wake: O(n·levels)
    numpy plus one command per quote.
    """

    kind = "market_maker"
    PARAMS = {
        "capital": Param(money, "2000000", "capital per maker"),
        "leverage": Param(integer(1, MAX_LEVERAGE), 10, "account leverage setting"),
        "levels": Param(integer(1, 50), 5, "quotes per side"),
        "half_spread_bps": Param(number(0.0, MAX_DEPTH_BPS), 2.0, "distance of the first level from "
                                 "the centre (0: the ticks either side of it, a one-tick spread)"),
        "level_step_bps": Param(number(0.0, MAX_DEPTH_BPS), 3.0, "distance between levels"),
        "size": Param(number(0.0, MAX_BASE_QTY, lo_open=True), 0.05, "base quantity of the first level"),
        "size_growth": Param(number(0.1, 10.0), 1.5, "size multiplier per level"),
        "inventory_limit": Param(number(0.0, MAX_BASE_QTY, lo_open=True), 2.0, "base quantity"),
        "skew_bps": Param(number(0.0, MAX_DEPTH_BPS), 10.0, "quote-centre shift at the inventory limit"),
        "requote_ms": Param(number(1.0, MAX_MS), 1000.0, "requote cadence"),
        "widen_vol_ratio": Param(number(1.0, MAX_RATIO), 3.0, "vol ratio where spreads start to widen"),
        "widen_factor": Param(number(1.0, MAX_RATIO), 4.0, "max spread multiplier"),
        "widen_half_life_s": Param(number(0.0, MAX_S), 0.0, "half-life of the widening after a "
                                   "volatility event (0: it lasts as long as the ratio)"),
        "pull_vol_ratio": Param(number(1.0, MAX_RATIO), 10.0, "vol ratio where makers pull quotes"),
        "pull_s": Param(number(0.0, MAX_S), 60.0, "how long a maker stays out after pulling"),
        "dispersion": Param(number(0.0, 3.0), 0.3, "log-sd of per-maker spreads, sizes, thresholds"),
        "anchor": Param(choice("mid", "index", "mark"), "mid", "reference price: the perp's own "
                        "mid (a fair value that follows the index's moves), the index or the mark"),
        "index_beta": Param(number(0.0, 2.0), 1.0, "mid anchor: share of each index return "
                            "carried into the fair value (spot leads the perp)"),
        "mid_gain": Param(number(0.0, 1.0), 0.5, "mid anchor: per-wake weight of the book mid "
                          "(or last trade) in the fair value"),
        "index_pull": Param(number(0.0, 1.0), 0.0, "mid anchor: per-wake pull of the fair value "
                            "towards the index level (0: makers do not peg the perp)"),
        "flow_impact_bps": Param(number(0.0, MAX_DEPTH_BPS), 0.5, "mid anchor: permanent move of the fair "
                                 "value per base unit of net taker flow the makers absorbed"),
        "max_learn_bps": Param(number(0.0, MAX_DEPTH_BPS, lo_open=True), 5.0, "mid anchor: largest move per "
                               "wake the book mid can teach the fair value"),
        "reprice_bps": Param(number(0.0, MAX_DEPTH_BPS), 5.0, "requote at once (not waiting for "
                             "the cadence) when spot or the venue's mark moved this much since "
                             "the last quotes (0: only on the cadence)"),
    }

    def setup(self, ctx: SimContext, ts_ns: int) -> int | None:
        p, rng, n = self.p, self.rng, self.n
        if n == 0:
            return None
        self._setup_accounts(ctx, np.full(n, p["capital"], np.int64), p["leverage"])
        L = p["levels"]
        disp = p["dispersion"]
        self.half_bps = p["half_spread_bps"] * lognormal_factors(rng, n, disp)
        self.size_lots = np.maximum(1, np.rint(p["size"] * lognormal_factors(rng, n, disp)
                                               / ctx.lot_size)).astype(np.int64)
        self.offsets = p["level_step_bps"] * np.arange(L)
        growth = p["size_growth"] ** np.arange(L)
        self.ladder = np.maximum(1, np.rint(self.size_lots[:, None] * growth[None, :])).astype(np.int64)
        self.limit_lots = max(1, int(round(p["inventory_limit"] / ctx.lot_size)))
        self.pull_thr = p["pull_vol_ratio"] * lognormal_factors(rng, n, disp)
        self.pulled_until = np.zeros(n, np.int64)
        self.pull_seen = np.zeros(n)
        self._event_ratio, self._event_ns = 0.0, 0
        # flat per-slot tables: slot = maker * 2L + j, j < L bids (best first), j >= L asks
        S = 2 * L
        self._slot_mm = np.repeat(np.arange(n), S)
        j = np.tile(np.arange(S), n)
        self._slot_sign = np.where(j < L, -1.0, 1.0)
        self._slot_lvl = np.tile(np.concatenate([self.offsets, self.offsets]), n)
        self._slot_side = (j >= L).astype(np.int64)
        self._slot_bid = j < L
        self._slot_qty = np.concatenate([self.ladder, self.ladder], axis=1).reshape(-1)
        self._slot_acct = self.accounts[self._slot_mm]
        self.oids = np.zeros(n * S, np.int64)
        self._pending: OrderBatch | None = None
        self._slots = np.empty(0, np.int64)
        self._slot_lat = self.lat[self._slot_mm]
        self._common_lat = int(np.median(self.lat))
        self.requote_ns = _ms(p["requote_ms"])
        self.fair = 0.0             # mid anchor: the population's fair value (ticks)
        self._shift = 0.0           # mid anchor: inventory shift of the last quotes (ticks)
        self._inv_prev: float | None = None
        self._index_prev = 0        # spot (else the index) at the last fair-value update
        self._q_spot = self._q_mark = 0     # spot and mark when the last quotes were made
        self._retry = False
        # stagger the first quotes over one requote period
        return ts_ns + int(rng.integers(0, max(1, self.requote_ns // 10)))

    def _fair_value(self, ctx: SimContext) -> float:
        """The mid anchor's fair value (ticks). Market makers on a perpetual quote around its
        own book, not around the index: the fair value moves with each return of spot (the
        index's constituents as they trade now, which the venue's index follows
        ``index.feed_latency_ms`` late; ``index_beta``), learns the book mid or the last trade (``mid_gain``), moves
        with the net taker flow it absorbed (``flow_impact_bps`` per base unit: the permanent
        impact of Kyle, Econometrica 1985) and is pulled towards the index level only by
        ``index_pull`` (0 by default), so the basis is
        left to the traders whom funding pays to close it (He, Manela, Ross, von Wachter,
        "Fundamentals of Perpetual Futures", arXiv 2212.06888, read 2026-12-02). O(1)."""
        mkt = ctx.market
        idx = mkt.index_ticks
        spot = mkt.spot_ticks or idx        # the makers watch the index's constituents
        p = self.p
        move = 1.0
        if self.fair <= 0:
            self.fair = float(idx)
        elif self._index_prev > 0:
            move = (spot / self._index_prev) ** p["index_beta"]
            self.fair *= move
        self._index_prev = spot
        book = ctx.book()
        bb, ba = book.best_bid(), book.best_ask()
        if bb and ba and ba > bb:
            ref = (bb + ba) / 2.0
        else:
            ref = float(mkt.last_ticks or 0)
        if ref > 0:
            # the book still shows quotes made before this index move: carry it to them too;
            # a gap in the book (a one-sided book's last trade far away) teaches at most
            # ``max_learn_bps`` per wake, so an empty side cannot ratchet the fair value
            # (the makers' own inventory shift of the last quotes is taken out first: the
            # fair value learns the market, not the makers' own skew)
            step = p["max_learn_bps"] * 1e-4 * self.fair
            seen = (ref - self._shift) * move
            self.fair += p["mid_gain"] * min(max(seen - self.fair, -step), step)
        # order flow moves the fair value for good (a Kyle-style permanent impact): what the
        # makers bought (sold) since the last wake says sellers (buyers) were informed
        inv = float(self._size_now(ctx).sum()) * ctx.lot_size
        if self._inv_prev is not None and p["flow_impact_bps"] > 0:
            self.fair *= 1.0 - p["flow_impact_bps"] * 1e-4 * (inv - self._inv_prev)
        self._inv_prev = inv
        self.fair += p["index_pull"] * (idx - self.fair)
        return self.fair

    def _cancel_idx(self, who: np.ndarray | None) -> np.ndarray:
        """Slots holding live quotes of makers ``who`` (None: all)."""
        live = self.oids != 0
        if who is not None:
            live &= np.isin(self._slot_mm, who)
        return np.flatnonzero(live)

    def _rows(self, ts_ns: int, cancel: np.ndarray, post: np.ndarray | None = None,
              price: np.ndarray | None = None) -> np.ndarray:
        """One batch: cancels of the quotes in slots ``cancel`` (which it forgets), then new
        post-only quotes in slots ``post`` at ``price`` (per slot)."""
        nc = cancel.shape[0]
        npost = 0 if post is None else post.shape[0]
        m = rows_matrix(nc + npost)
        if nc:
            m[:nc, COL["ts"]] = ts_ns + self._slot_lat[cancel]
            m[:nc, COL["acct"]] = self._slot_acct[cancel]
            m[:nc, COL["kind"]] = CANCEL_IF_OPEN
            m[:nc, COL["target"]] = self.oids[cancel]
            self.oids[cancel] = 0
        if npost:
            m[nc:, COL["ts"]] = ts_ns + self._slot_lat[post]
            m[nc:, COL["acct"]] = self._slot_acct[post]
            m[nc:, COL["side"]] = self._slot_side[post]
            m[nc:, COL["qty"]] = self._slot_qty[post]
            m[nc:, COL["price"]] = price[post]
            m[nc:, COL["tif"]] = POST_ONLY
        if self.p["anchor"] == "mid":
            # one colocated requote: every cancel, then every new quote, at the population's
            # latency, so no new quote meets another maker's stale one
            m[:, COL["ts"]] = ts_ns + self._common_lat
        m[:, COL["row"]] = np.arange(nc + npost)
        return m.view(ORDER_DTYPE).reshape(-1)

    def on_shock(self, ctx: SimContext, shock, ts_ns: int) -> None:
        if shock.type != "mm_withdraw" or self.n == 0:
            return
        k = int(math.ceil(shock.params.get("fraction", 1.0) * self.n))
        who = np.sort(self.rng.permutation(self.n)[:k])
        self.pulled_until[who] = np.maximum(self.pulled_until[who], ts_ns + shock.duration_ns)
        if self._collect():
            idx = self._cancel_idx(who)
            if idx.shape[0]:
                self._slots = np.empty(0, np.int64)
                self._pending = ctx.send(OrderBatch.from_rows(self._rows(ts_ns, idx)))

    def on_market(self, ctx: SimContext, ts_ns: int) -> None:
        """Spot moved or the venue published a new index: when spot or the mark moved
        ``reprice_bps`` since the last quotes (a gap), requote now rather than at the next
        wake, so no quote made before the move is left resting for the liquidation engine or
        a taker to hit (stale quotes are what latency arbitrageurs pick off; makers cancel
        them first). When the last batch is still in flight the requote follows its answer.
        O(1) unless it requotes."""
        thr = self.p["reprice_bps"]
        if self.n == 0 or thr <= 0 or self._q_spot <= 0:
            return
        mkt = ctx.market
        spot, mark = mkt.spot_ticks, mkt.mark_ticks
        d = thr * 1e-4
        if abs(spot - self._q_spot) < d * self._q_spot and (
                self._q_mark <= 0 or abs(mark - self._q_mark) < d * self._q_mark):
            return
        if self._collect():
            self._requote(ctx, ts_ns)
        elif not self._retry:
            self._retry = True
            ctx.clock.schedule(ts_ns + self._common_lat, PRIO_AGENT, self._retry_market, ctx)

    def _retry_market(self, ts_ns: int, ctx: SimContext) -> None:
        self._retry = False
        self.on_market(ctx, ts_ns)

    def wake(self, ctx: SimContext, ts_ns: int) -> int | None:
        nxt = ts_ns + self.requote_ns
        if self._collect():
            self._requote(ctx, ts_ns)
        return nxt

    def _requote(self, ctx: SimContext, ts_ns: int) -> None:
        """Cancel the quotes that rest and post the new ladder (see the class docs)."""
        mkt = ctx.market
        anchor = self.p["anchor"]
        if mkt.index_ticks <= 0 or mkt.stale:
            return
        self._q_spot, self._q_mark = mkt.spot_ticks or mkt.index_ticks, mkt.mark_ticks
        if anchor == "mid":
            centre = self._fair_value(ctx)
            ref = int(round(centre))
        else:
            ref = mkt.index_ticks if anchor == "index" else mkt.mark_ticks
            centre = float(ref)
        if ref <= 0:
            return
        p = self.p
        ratio = mkt.vol_ratio
        # a maker pulls when the volatility ratio crosses its threshold, or jumps to half as
        # much again as when it last pulled (a new leg); once back it stays in while the
        # ratio decays, quoting wider (spreads widen, depth returns over minutes)
        calm = ratio <= self.pull_thr
        self.pull_seen[calm] = 0.0
        trig = ~calm & (ratio >= 1.5 * self.pull_seen)
        if trig.any():
            until = ts_ns + int(p["pull_s"] * NS_PER_S)
            self.pulled_until[trig] = np.maximum(self.pulled_until[trig], until)
            self.pull_seen[trig] = ratio
        active = self.pulled_until <= ts_ns
        cancel = self._cancel_idx(None)
        post = price = None
        self._slots = np.empty(0, np.int64)
        if active.any():
            w = p["widen_vol_ratio"]
            widen = 1.0 + (p["widen_factor"] - 1.0) * min(max((ratio - w) / w, 0.0), 1.0)
            # a volatility event (the ratio past the widening point, or half as much again as
            # at the last event) restarts the clock of widen_half_life_s: the widening fades
            # with time since the event as makers learn the new level
            if ratio <= w:
                self._event_ratio = 0.0
            elif ratio >= 1.5 * self._event_ratio:
                self._event_ratio, self._event_ns = ratio, ts_ns
            hl = p["widen_half_life_s"]
            if hl > 0 and widen > 1.0:
                widen = 1.0 + (widen - 1.0) * 0.5 ** ((ts_ns - self._event_ns) / (hl * NS_PER_S))
            half = self.half_bps * widen + (widen - 1.0) * p["level_step_bps"]
            inv = self._size_now(ctx)
            lim = self.limit_lots
            skew_bps = (-p["skew_bps"] / lim) * np.minimum(np.maximum(inv, -lim), lim)
            sm = self._slot_mm
            sign = self._slot_sign
            bps = skew_bps[sm] + sign * (half[sm] + self._slot_lvl * widen)
            if anchor == "mid":
                # the first level of every maker sits around the common centre, shifted by
                # the makers' mean inventory (the market-wide pressure); deeper levels carry
                # each maker's own skew. Nobody quotes at or through the centre, so makers
                # never cross one another and the inside is the ticks either side of it.
                pop = float(np.mean(np.minimum(np.maximum(inv, -lim), lim))) * (-p["skew_bps"] / lim)
                self._shift = centre * pop * 1e-4
                centre = centre + self._shift
                bps = np.where(self._slot_lvl == 0, 0.0, skew_bps[sm] - pop) + sign * (
                    half[sm] + self._slot_lvl * widen)
            px = centre * (1.0 + bps * 1e-4)
            price = (-sign * np.floor(-sign * px)).astype(np.int64)       # bids floor, asks ceil
            bid = self._slot_bid
            price = np.where(bid, np.minimum(price, int(math.ceil(centre)) - 1),
                             np.maximum(price, int(math.floor(centre)) + 1))
            ok = active[sm] & (price > 0)
            full_long = inv >= self.limit_lots
            full_short = inv <= -self.limit_lots
            if full_long.any() or full_short.any():
                ok &= ~((full_long[sm] & bid) | (full_short[sm] & ~bid))
            post = np.flatnonzero(ok)
            self._slots = post
        if cancel.shape[0] or (post is not None and post.shape[0]):
            self._pending = ctx.send(OrderBatch.from_rows(self._rows(ts_ns, cancel, post, price)))


# -- NOISE TRADERS ---------------------------------------------------------------------------

class NoiseTraders(_Population):
    """Marketable orders at Poisson times (``rate_per_min`` per trader), random side (buy
    with probability ``buy_share``), lognormal size around ``size``; an order that would take
    the position beyond ``max_position`` is turned around to reduce it. Each is an IOC limit
    ``max_slippage_bps`` from the book mid, so in a vacuum it does not trade at the next wall.
    Trading starts at ``start_s``, once the makers' book stands. O(active) per wake."""

    kind = "noise"
    PARAMS = {
        "capital": Param(money, "20000", "median capital"),
        "capital_sigma": Param(number(0.0, 3.0), 0.8, "log-sd of capital"),
        "leverage": Param(integer(1, MAX_LEVERAGE), 5, "account leverage setting"),
        "rate_per_min": Param(number(0.0, MAX_RATE_PER_MIN), 1.0, "orders per trader per minute"),
        "size": Param(number(0.0, MAX_BASE_QTY, lo_open=True), 0.01, "median order size (base units)"),
        "size_sigma": Param(number(0.0, 3.0), 1.0, "log-sd of order size"),
        "max_position": Param(number(0.0, MAX_BASE_QTY, lo_open=True), 0.2, "position cap (base units)"),
        "buy_share": Param(number(0.0, 1.0), 0.5, "probability an order buys"),
        "wake_ms": Param(number(1.0, MAX_MS), 1000.0, "decision cadence"),
        "max_slippage_bps": Param(number(0.0, MAX_DEPTH_BPS, lo_open=True), 20.0, "IOC limit "
                                  "distance from the mid: no fill beyond it"),
        "start_s": Param(number(0.0, MAX_S), 10.0, "first order after this (the book is built first)"),
    }

    def setup(self, ctx: SimContext, ts_ns: int) -> int | None:
        p = self.p
        if self.n == 0:
            return None
        self._setup_accounts(ctx, _capital(self.rng, self.n, p["capital"], p["capital_sigma"]),
                             p["leverage"])
        self.wake_ns = _ms(p["wake_ms"])
        self.lam = self.n * p["rate_per_min"] * self.wake_ns / (60 * NS_PER_S)
        self.size_lots = p["size"] / ctx.lot_size
        self.cap_lots = max(1, int(round(p["max_position"] / ctx.lot_size)))
        return ts_ns + int(p["start_s"] * NS_PER_S) + int(self.rng.integers(0, self.wake_ns))

    def wake(self, ctx: SimContext, ts_ns: int) -> int | None:
        nxt = ts_ns + self.wake_ns
        if ctx.market.stale or ctx.market.mark_ticks <= 0:
            return nxt
        rng = self.rng
        m = int(rng.poisson(self.lam))
        if m == 0:
            return nxt
        who = rng.integers(0, self.n, m)
        buy = rng.random(m) < self.p["buy_share"]
        qty = np.maximum(1, np.rint(self.size_lots * np.exp(self.p["size_sigma"]
                                                           * rng.standard_normal(m)))).astype(np.int64)
        qty = np.minimum(qty, self.cap_lots)
        free = ctx.arrays()["acct_flags"][self.accounts[who]] == 0   # not being liquidated
        if not free.all():
            who, buy, qty = who[free], buy[free], qty[free]
            m = who.shape[0]
            if m == 0:
                return nxt
        pos = self._size_now(ctx)[who]
        signed = np.where(buy, qty, -qty)
        over = np.abs(pos + signed) > self.cap_lots
        buy = np.where(over, pos < 0, buy)
        side = np.where(buy, 0, 1)
        price = _protected(_reference_ticks(ctx), buy, self.p["max_slippage_bps"])
        ctx.send(OrderBatch(ts_ns + self.lat[who], self.accounts[who], kind=SUBMIT, side=side,
                            qty=qty, price=price, otype=LIMIT, tif=IOC), results=False)
        return nxt


# -- DIRECTIONAL (LEVERAGED) TRADERS ---------------------------------------------------------

class DirectionalTraders(_Population):
    """The leveraged crowd whose liquidations make a cascade.

    Each trader enters at a random time in ``[start_s, start_s + warmup_s]``, then again an exponential delay
    (mean ``1/entry_rate_per_hour``) after each exit. An entry is a marketable IOC limit
    (``max_slippage_bps`` from the book mid) in the trader's direction (long with probability ``long_share``) for ``usage`` of equity times the
    policy leverage, capped by the venue's tier limit for that leverage. Leverage policies:

    - ``fixed``: per trader from ``leverage`` with ``leverage_weights`` (e.g. 3/5/10/20/50x);
    - ``vol_scaled``: that leverage divided by ``max(1, vol_ratio)^vol_sensitivity``;
    - ``tiered``: ``tier_fraction`` × the maximum leverage of the venue tier the notional
      falls in (two fixed-point passes), so large accounts run lower leverage.

    Exits: stop-loss (``stop_loss`` below/above entry, for a share ``stop_share`` of traders),
    take-profit (``take_profit``, share ``tp_share``), both on the last trade price, and a
    holding-time exit (mean ``hold_minutes``). A trader whose equity falls below
    ``bust_fraction`` of its starting capital stops trading (it was liquidated).
    """

    kind = "directional"
    PARAMS = {
        "capital": Param(money, "10000", "median capital"),
        "capital_sigma": Param(number(0.0, 3.0), 1.0, "log-sd of capital"),
        "long_share": Param(number(0.0, 1.0), 0.6, "probability a trader is long"),
        "leverage_policy": Param(choice("fixed", "vol_scaled", "tiered"), "fixed", ""),
        "leverage": Param(integer_list(1, MAX_LEVERAGE), (3, 5, 10, 20, 50), "leverage choices"),
        "leverage_weights": Param(number_list(0.0), (), "weights of the choices (default equal)"),
        "vol_sensitivity": Param(number(0.0, 5.0), 1.0, "vol_scaled exponent"),
        "tier_fraction": Param(number(0.0, 1.0, lo_open=True), 0.5, "tiered: share of tier max"),
        "usage": Param(number(0.0, 1.0, lo_open=True), 0.9, "share of equity used as margin"),
        "stop_loss": Param(number(0.0, 0.99), 0.0, "stop distance from entry (fraction)"),
        "stop_share": Param(number(0.0, 1.0), 1.0, "share of traders using stops"),
        "take_profit": Param(number(0.0, 10.0), 0.0, "take-profit distance (fraction)"),
        "tp_share": Param(number(0.0, 1.0), 1.0, "share of traders using take-profits"),
        "entry_rate_per_hour": Param(number(0.0, 60 * MAX_RATE_PER_MIN), 1.0, "re-entries per hour when flat"),
        "hold_minutes": Param(number(0.0, MAX_S / 60, lo_open=True), 120.0, "mean holding time"),
        "warmup_s": Param(number(0.0, MAX_S), 120.0, "first entries spread over this window"),
        "check_ms": Param(number(1.0, MAX_MS), 1000.0, "decision cadence"),
        "bust_fraction": Param(number(0.0, 1.0), 0.05, "stop trading below this equity share"),
        "margin_mode": Param(choice("cross", "isolated"), "cross", "margin mode of the position"),
        "max_slippage_bps": Param(number(0.0, MAX_DEPTH_BPS, lo_open=True), 30.0, "entry IOC limit "
                                  "distance from the mid"),
        "start_s": Param(number(0.0, MAX_S), 10.0, "entries begin after this (the book is built first)"),
    }

    @classmethod
    def parse(cls, source, path, table, settle_decimals=6):
        out = super().parse(source, path, table, settle_decimals)
        w = out["leverage_weights"]
        if w and len(w) != len(out["leverage"]):
            from exchange.sim.config import fail
            raise fail(source, f"{path}.leverage_weights",
                       f"a list of {len(out['leverage'])} weights (one per leverage)", list(w))
        if w and sum(w) <= 0:
            from exchange.sim.config import fail
            raise fail(source, f"{path}.leverage_weights", "weights with a positive sum", list(w))
        return out

    def setup(self, ctx: SimContext, ts_ns: int) -> int | None:
        p, rng, n = self.p, self.rng, self.n
        if n == 0:
            return None
        choices = np.asarray(p["leverage"], np.int64)
        w = np.asarray(p["leverage_weights"] or [1.0] * len(choices), float)
        self.lev = np.minimum(rng.choice(choices, size=n, p=w / w.sum()), ctx.max_leverage)
        self.capital = _capital(rng, n, p["capital"], p["capital_sigma"])
        self._setup_accounts(ctx, self.capital, self.lev)
        if p["margin_mode"] == "isolated":
            mode, instr = ctx.core.set_margin_mode, ctx.instr
            for a in self.accounts.tolist():
                mode(a, instr, 1)
        self.dir = np.where(rng.random(n) < p["long_share"], 1, -1).astype(np.int64)
        self.uses_stop = (rng.random(n) < p["stop_share"]) & (p["stop_loss"] > 0)
        self.uses_tp = (rng.random(n) < p["tp_share"]) & (p["take_profit"] > 0)
        self.next_entry = ts_ns + int(p["start_s"] * NS_PER_S) + (
            rng.random(n) * p["warmup_s"] * NS_PER_S).astype(np.int64)
        self.exit_at = np.full(n, _NEVER, np.int64)
        self.stop = np.zeros(n, np.int64)
        self.tp = np.zeros(n, np.int64)
        self.busy_until = np.zeros(n, np.int64)
        self.busted = np.zeros(n, bool)
        self.check_ns = _ms(p["check_ms"])
        self.entries = 0
        self.stops_hit = 0
        return ts_ns + int(rng.integers(0, self.check_ns))

    def _entry_delay(self, k: int) -> np.ndarray:
        rate = self.p["entry_rate_per_hour"]
        if rate <= 0:
            return np.full(k, 10**17, np.int64)
        delay = self.rng.exponential(3600.0 / rate, k) * NS_PER_S
        return np.minimum(delay, 1e17).astype(np.int64)

    def _policy_leverage(self, ctx: SimContext, idx: np.ndarray, equity: np.ndarray,
                         ref: int) -> np.ndarray:
        p = self.p
        lev = self.lev[idx].astype(np.float64)
        policy = p["leverage_policy"]
        if policy == "vol_scaled":
            lev = lev / max(1.0, ctx.market.vol_ratio) ** p["vol_sensitivity"]
        elif policy == "tiered":
            tiers = ctx.spec.tiers
            floors = np.asarray([t.notional_floor_atoms for t in tiers], np.float64)
            maxlev = np.asarray([t.max_leverage for t in tiers], np.float64)
            L = np.full(idx.shape[0], maxlev[0] * p["tier_fraction"])
            for _ in range(2):
                notional = equity * L * p["usage"]
                t = np.searchsorted(floors, notional, side="right") - 1
                L = np.minimum(L, np.maximum(1.0, np.floor(maxlev[t] * p["tier_fraction"])))
            lev = np.minimum(L, ctx.max_leverage)
        return np.maximum(1, np.floor(lev)).astype(np.int64)

    def wake(self, ctx: SimContext, ts_ns: int) -> int | None:
        nxt = ts_ns + self.check_ns
        mkt = ctx.market
        if mkt.stale or mkt.mark_ticks <= 0:
            return nxt
        p = self.p
        arr = ctx.arrays()
        accts = self.accounts
        pos = arr["size"][ctx.instr][accts]
        price = mkt.price_ticks()
        ready = (self.busy_until <= ts_ns) & (arr["acct_flags"][accts] == 0)
        parts: list[OrderBatch] = []
        # -- exits: stop-loss, take-profit, holding time
        hold = (pos != 0) & ready
        if hold.any():
            longp = pos > 0
            stop_hit = self.uses_stop & (self.stop > 0) & np.where(longp, price <= self.stop,
                                                                   price >= self.stop)
            tp_hit = self.uses_tp & (self.tp > 0) & np.where(longp, price >= self.tp,
                                                             price <= self.tp)
            out = hold & (stop_hit | tp_hit | (ts_ns >= self.exit_at))
            idx = np.flatnonzero(out)
            if idx.shape[0]:
                self.stops_hit += int((out & stop_hit).sum())
                parts.append(OrderBatch(ts_ns + self.lat[idx], accts[idx], kind=SUBMIT,
                                        side=np.where(pos[idx] > 0, 1, 0), qty=np.abs(pos[idx]),
                                        otype=MARKET, tif=IOC, reduce_only=1))
                self.busy_until[idx] = ts_ns + self.lat[idx] + self.check_ns
                self.next_entry[idx] = ts_ns + self._entry_delay(idx.shape[0])
                self.exit_at[idx] = _NEVER
        # -- flat without a planned entry: liquidated, or the entry was refused
        lost = (pos == 0) & ready & (self.next_entry == _NEVER)
        if lost.any():
            idx = np.flatnonzero(lost)
            self.next_entry[idx] = ts_ns + self._entry_delay(idx.shape[0])
            self.exit_at[idx] = _NEVER
        # -- entries
        flat = (pos == 0) & ready & ~self.busted & (self.next_entry <= ts_ns)
        if flat.any():
            idx = np.flatnonzero(flat)
            wallet = arr["wallet"][accts[idx]]
            bust = wallet < self.capital[idx] * p["bust_fraction"]
            if bust.any():
                self.busted[idx[bust]] = True
                idx, wallet = idx[~bust], wallet[~bust]
            if idx.shape[0]:
                eq = wallet.astype(np.float64)
                lev = self._policy_leverage(ctx, idx, eq, price)
                notional = eq * lev * p["usage"]
                caps = np.asarray([ctx.notional_cap_atoms(int(L)) for L in lev.tolist()], np.float64)
                notional = np.minimum(notional, caps * 0.98)
                qty = np.floor(notional / (mkt.mark_ticks * ctx.k)).astype(np.int64)
                ok = qty > 0
                idx, qty = idx[ok], qty[ok]
                if idx.shape[0]:
                    d = self.dir[idx]
                    limit = _protected(_reference_ticks(ctx), d > 0, p["max_slippage_bps"])
                    parts.append(OrderBatch(ts_ns + self.lat[idx], accts[idx], kind=SUBMIT,
                                            side=np.where(d > 0, 0, 1), qty=qty, price=limit,
                                            otype=LIMIT, tif=IOC))
                    ref = mkt.mark_ticks
                    self.stop[idx] = np.rint(ref * (1.0 - d * p["stop_loss"])).astype(np.int64)
                    self.tp[idx] = np.rint(ref * (1.0 + d * p["take_profit"])).astype(np.int64)
                    hold_s = self.rng.exponential(p["hold_minutes"] * 60.0, idx.shape[0])
                    self.exit_at[idx] = ts_ns + (hold_s * NS_PER_S).astype(np.int64)
                    self.busy_until[idx] = ts_ns + self.lat[idx] + self.check_ns
                    self.next_entry[idx] = _NEVER
                    self.entries += int(idx.shape[0])
        if parts:
            ctx.send(OrderBatch.concat(parts), results=False)
        return nxt


# -- FUNDING / BASIS ARBITRAGEURS ------------------------------------------------------------

class FundingArbitrageurs(_Population):
    """Carry traders: hold the perp against a hedge elsewhere (spot or another venue, outside
    the simulation) and size the position by the funding they expect against their costs.

    Each wake (``check_ms``) a trader forecasts the next settlement's rate from the perp's
    premium now, ``(mid − index) / index``, through the venue's own funding rule (its interest
    clamp, cap and floor; a funding override shock when one is active) and takes that rate as
    lasting ``horizon_hours``. The expected carry ``E = |rate| · horizon / interval`` against
    the round-trip cost ``c`` (``cost_bps``, both legs, per trader) sets the target
    ``max_position · clip((E − c) / c, 0, 1)``, short the perp when shorts are paid, long when
    longs are; a position is held while ``E`` still covers ``hold_share · c`` and closed after.
    This is the arbitrage of He, Manela, Ross and von Wachter, "Fundamentals of Perpetual
    Futures" (arXiv 2212.06888, read 2026-12-02): funding is the only thing that pays the
    arbitrageur to close the basis, so trading costs set a no-arbitrage band around the index
    and with funding off (rate 0) nobody trades against the basis. Orders are IOC limits
    ``max_slippage_bps`` from the mid, at most ``clip`` of the maximum position each.
    O(n) per wake plus one funding-rule evaluation.
    """

    kind = "arbitrageur"
    PARAMS = {
        "capital": Param(money, "500000", "capital per arbitrageur"),
        "leverage": Param(integer(1, MAX_LEVERAGE), 3, "leverage of the perp leg"),
        "usage": Param(number(0.0, 1.0, lo_open=True), 0.5, "share of capital deployed at most"),
        "horizon_hours": Param(number(0.0, MAX_S / 3600, lo_open=True), 24.0, "how long the "
                               "expected rate is taken to last"),
        "cost_bps": Param(number(0.0, MAX_DEPTH_BPS, lo_open=True), 12.0, "round-trip cost of both "
                          "legs (fees, spread, hedge)"),
        "hold_share": Param(number(0.0, 1.0), 0.25, "keep the position while the expected carry "
                            "covers this share of the cost"),
        "clip": Param(number(0.0, 1.0, lo_open=True), 0.1, "largest order, share of the maximum "
                      "position"),
        "max_slippage_bps": Param(number(0.0, MAX_DEPTH_BPS, lo_open=True), 5.0, "IOC limit "
                                  "distance from the mid"),
        "dispersion": Param(number(0.0, 3.0), 0.3, "log-sd of per-trader costs and horizons"),
        "check_ms": Param(number(1.0, MAX_MS), 5000.0, "decision cadence"),
        "start_s": Param(number(0.0, MAX_S), 10.0, "first decision after this (the book is built first)"),
    }

    def setup(self, ctx: SimContext, ts_ns: int) -> int | None:
        p, rng, n = self.p, self.rng, self.n
        if n == 0:
            return None
        self._setup_accounts(ctx, np.full(n, p["capital"], np.int64), p["leverage"])
        self.cost = p["cost_bps"] * 1e-4 * lognormal_factors(rng, n, p["dispersion"])
        self.horizon_ns = p["horizon_hours"] * 3600 * NS_PER_S * lognormal_factors(
            rng, n, p["dispersion"])
        self.busy_until = np.zeros(n, np.int64)
        self.check_ns = _ms(p["check_ms"])
        self.timeline = ctx.exchange.timelines[ctx.instr]
        return ts_ns + int(p["start_s"] * NS_PER_S) + int(rng.integers(0, self.check_ns))

    def expected_rate(self, ctx: SimContext, mid_ticks: float) -> float:
        """The funding rate per interval (a fraction) the venue's rule gives if the premium
        stays where the book is now; the override when a funding shock is active. O(1)."""
        mkt = ctx.market
        if mkt.funding_override is not None:
            return mkt.funding_override / RATE_SCALE
        from exchange.funding import PremiumSummary

        tl = self.timeline
        interval = tl.funding.interval_ns
        idx = mkt.index_ticks
        prem = int(round((mid_ticks - idx) / idx * RATE_SCALE))
        summary = PremiumSummary(premium_avg=prem, n_samples=1, ts_start_ns=0, ts_end_ns=interval,
                                 mark_twap=float(mid_ticks), oracle_twap=float(idx),
                                 last_mark=float(mid_ticks), last_oracle=int(idx))
        rate = tl.rule.compute(summary, interval).rate
        # at a zero premium the rule still pays the interest leg, which the hedge's financing
        # costs the arbitrageur (borrowing quote to hold the base): only the excess is carry
        flat = attrs_evolve(summary, premium_avg=0, mark_twap=float(idx), last_mark=float(idx))
        return (rate - tl.rule.compute(flat, interval).rate) / RATE_SCALE

    def wake(self, ctx: SimContext, ts_ns: int) -> int | None:
        nxt = ts_ns + self.check_ns
        mkt = ctx.market
        if mkt.stale or mkt.mark_ticks <= 0 or mkt.index_ticks <= 0:
            return nxt
        p = self.p
        ref = _reference_ticks(ctx)
        rate = self.expected_rate(ctx, float(ref))
        interval = self.timeline.funding.interval_ns
        carry = abs(rate) * self.horizon_ns / interval          # per trader
        want_sign = -1 if rate > 0 else 1                        # the side funding pays
        pos = self._size_now(ctx)
        max_lots = int(p["capital"] * p["leverage"] * p["usage"] // (ref * ctx.k))
        share = np.clip((carry - self.cost) / self.cost, 0.0, 1.0)
        target = np.rint(want_sign * share * max_lots).astype(np.int64)
        # hold what funding still pays for; close what it no longer does
        same = np.sign(pos) == want_sign
        # ... and take the convergence once the premium has crossed back through zero
        agrees = (ref - mkt.index_ticks) * want_sign <= 0
        keep = same & agrees & (carry >= p["hold_share"] * self.cost) & (
            np.abs(pos) > np.abs(target))
        target = np.where(keep, pos, target)
        delta = target - pos
        clip = max(1, int(max_lots * p["clip"]))
        delta = np.clip(delta, -clip, clip)
        go = (delta != 0) & (self.busy_until <= ts_ns)
        idx = np.flatnonzero(go)
        if idx.shape[0]:
            d = delta[idx]
            buy = d > 0
            reduce = (np.sign(pos[idx]) != 0) & (np.sign(pos[idx]) != np.sign(d)) & (
                np.abs(d) <= np.abs(pos[idx]))
            ctx.send(OrderBatch(ts_ns + self.lat[idx], self.accounts[idx], kind=SUBMIT,
                                side=np.where(buy, 0, 1), qty=np.abs(d),
                                price=_protected(ref, buy, p["max_slippage_bps"]), otype=LIMIT,
                                tif=IOC, reduce_only=reduce.astype(np.int64)), results=False)
            self.busy_until[idx] = ts_ns + self.lat[idx] + self.check_ns
        return nxt


# -- KEEPERS / LIQUIDATORS -------------------------------------------------------------------

class Keepers(_Population):
    """Liquidators. Rest deep bids and asks at ``depths_bps`` from spot (the index's
    constituents as they trade now; ``size`` each, requoted every ``requote_ms`` and at once
    when spot or the mark moves a quarter of the nearest distance) — the resting liquidity that catches liquidation orders in
    a vacuum — and bid in liquidation auctions (when the waterfall has an auction module) for
    lots priced at least ``auction_discount_bps`` below the mark (above for shorts), within
    their free margin. Inventory is unwound with reduce-only market orders (a quarter per wake)
    once the mark gives back ``unwind_bps`` or after ``unwind_s``.
    """

    kind = "keeper"
    PARAMS = {
        "capital": Param(money, "1000000", "capital per keeper"),
        "leverage": Param(integer(1, MAX_LEVERAGE), 5, "account leverage setting"),
        "depths_bps": Param(number_list(0.0, MAX_DEPTH_BPS), (150.0, 300.0, 500.0, 800.0), "resting levels"),
        "size": Param(number(0.0, MAX_BASE_QTY, lo_open=True), 0.2, "base quantity per level"),
        "requote_ms": Param(number(1.0, MAX_MS), 5000.0, "requote cadence"),
        "auction_discount_bps": Param(number(0.0, MAX_DEPTH_BPS), 100.0, "minimum auction discount"),
        "unwind_bps": Param(number(0.0, MAX_DEPTH_BPS), 30.0, "profit that triggers unwinding"),
        "unwind_s": Param(number(0.0, MAX_S), 300.0, "unwind anyway after this long"),
    }

    def setup(self, ctx: SimContext, ts_ns: int) -> int | None:
        p, rng, n = self.p, self.rng, self.n
        if n == 0:
            return None
        self._setup_accounts(ctx, np.full(n, p["capital"], np.int64), p["leverage"])
        self.depths = np.asarray(p["depths_bps"], float) * lognormal_factors(rng, 1, 0.1)[0]
        self.size_lots = max(1, int(round(p["size"] / ctx.lot_size)))
        self.oids = np.zeros((n, 2 * self.depths.shape[0]), np.int64)
        self._pending: OrderBatch | None = None
        self._slots = np.empty(0, np.int64)
        self.since = np.full(n, _NEVER, np.int64)
        self.requote_ns = _ms(p["requote_ms"])
        self.auction_fills = 0
        self._q_spot = self._q_mark = 0     # spot and mark when the levels were last set
        self._retry = False
        return ts_ns + int(rng.integers(0, self.requote_ns))

    def on_market(self, ctx: SimContext, ts_ns: int) -> None:
        """Spot or the venue's mark moved a quarter of the nearest level's distance since
        the levels were set (a gap): requote now, so the deep bids (asks) made before the
        move do not rest above (below) the new price. O(1) unless it requotes."""
        if self.n == 0 or self._q_spot <= 0:
            return
        mkt = ctx.market
        d = float(self.depths.min()) * 0.25e-4
        if abs(mkt.spot_ticks - self._q_spot) < d * self._q_spot and (
                self._q_mark <= 0 or abs(mkt.mark_ticks - self._q_mark) < d * self._q_mark):
            return
        if self._collect():
            self._quote(ctx, ts_ns)
        elif not self._retry:
            self._retry = True
            ctx.clock.schedule(ts_ns + int(np.median(self.lat)), PRIO_AGENT, self._retry_market,
                               ctx)

    def _retry_market(self, ts_ns: int, ctx: SimContext) -> None:
        self._retry = False
        self.on_market(ctx, ts_ns)

    def wake(self, ctx: SimContext, ts_ns: int) -> int | None:
        nxt = ts_ns + self.requote_ns
        if self._collect():
            self._quote(ctx, ts_ns)
        return nxt

    def _quote(self, ctx: SimContext, ts_ns: int) -> None:
        """Cancel the resting levels, unwind inventory, rest the new levels around spot."""
        mkt = ctx.market
        if mkt.stale or mkt.index_ticks <= 0:
            return
        p, n = self.p, self.n
        ref = mkt.spot_ticks or mkt.index_ticks
        self._q_spot, self._q_mark = ref, mkt.mark_ticks
        parts: list[OrderBatch] = []
        m, j = np.nonzero(self.oids)
        if m.shape[0]:
            parts.append(OrderBatch(ts_ns + self.lat[m], self.accounts[m], kind=CANCEL_IF_OPEN,
                                    target=self.oids[m, j]))
            self.oids[:] = 0
        # unwind inventory
        arr = ctx.arrays()
        pos = arr["size"][ctx.instr][self.accounts]
        cost = arr["cost"][ctx.instr][self.accounts]
        held = pos != 0
        self.since = np.where(held, np.minimum(self.since, ts_ns), _NEVER)
        if held.any():
            entry = np.where(held, np.abs(cost) / np.maximum(1, np.abs(pos) * ctx.k), 0.0)
            gain_bps = np.where(pos > 0, mkt.mark_ticks / np.maximum(entry, 1) - 1.0,
                                1.0 - mkt.mark_ticks / np.maximum(entry, 1)) * 1e4
            go = held & ((gain_bps >= p["unwind_bps"])
                         | (ts_ns - self.since >= int(p["unwind_s"] * NS_PER_S)))
            idx = np.flatnonzero(go)
            if idx.shape[0]:
                q = np.maximum(1, np.abs(pos[idx]) // 4)
                parts.append(OrderBatch(ts_ns + self.lat[idx], self.accounts[idx], kind=SUBMIT,
                                        side=np.where(pos[idx] > 0, 1, 0), qty=q, otype=MARKET,
                                        tif=IOC, reduce_only=1))
        # resting deep levels: bids below, asks above
        D = self.depths.shape[0]
        bid = np.floor(ref * (1.0 - self.depths * 1e-4)).astype(np.int64)
        ask = np.ceil(ref * (1.0 + self.depths * 1e-4)).astype(np.int64)
        price = np.concatenate([bid, ask])
        side = np.concatenate([np.zeros(D, np.int64), np.ones(D, np.int64)])
        band = ctx.spec.price_band_rate
        mark = mkt.mark_ticks or ref
        ok = price > 0
        if band:
            ok &= np.abs(price - mark) * 100_000_000 <= band * mark
        cols = np.flatnonzero(ok)
        if cols.shape[0]:
            mm = np.repeat(np.arange(n), cols.shape[0])
            jj = np.tile(cols, n)
            self._slots = mm * (2 * D) + jj
            parts.append(OrderBatch(ts_ns + self.lat[mm], self.accounts[mm], kind=SUBMIT,
                                    side=side[jj], qty=self.size_lots, price=price[jj],
                                    otype=LIMIT, tif=POST_ONLY))
        else:
            self._slots = np.empty(0, np.int64)
        if parts:
            self._pending = ctx.send(OrderBatch.concat(parts))

    def on_auction(self, ctx: SimContext, auction: dict, lots_left: int, ts_ns: int) -> list:
        """Bids for a running liquidation auction (``auction``: a dict of
        :meth:`LiquidationEngine.auctions`): ``(account, lots, limit price, arrival ns)`` for
        keepers whose free margin allows it, when the price is at least
        ``auction_discount_bps`` better than the mark. The limit protects the bidder from the
        price moving before the bid arrives."""
        mkt = ctx.market
        if self.n == 0 or mkt.mark_ticks <= 0:
            return []
        disc = self.p["auction_discount_bps"] * 1e-4
        px = int(auction["price"])
        mark = mkt.mark_ticks
        if auction["side"] == 0:          # a long on sale: the bidder buys it below the mark
            limit = int(mark * (1 - disc))
            if px <= 0 or px > limit:
                return []
        else:                             # a short on sale: the bidder takes it above the mark
            limit = int(math.ceil(mark * (1 + disc)))
            if px < limit:
                return []
        core = ctx.core
        lev = ctx.arrays()["lev"][ctx.instr]
        bids = []
        left = int(lots_left)
        for i in self.rng.permutation(self.n).tolist():
            if left <= 0:
                break
            a = int(self.accounts[i])
            afford = int(core.available(a) * int(lev[a]) * 0.5 // max(1, px * ctx.k))
            q = min(left, afford)
            if q > 0:
                bids.append((a, q, limit, ts_ns + int(self.lat[i])))
                left -= q
        self.auction_bids = getattr(self, "auction_bids", 0) + len(bids)
        return bids


#: config name -> population class
AGENT_TYPES: dict[str, type] = {
    "market_maker": MarketMakers,
    "noise": NoiseTraders,
    "directional": DirectionalTraders,
    "arbitrageur": FundingArbitrageurs,
    "keeper": Keepers,
}


#: agent types defined above the simulation layer, imported when a scenario names them
LAZY_AGENT_TYPES: dict[str, str] = {
    "strategy": "exchange.sim.strategy:StrategyAgent",     # a user's Strategy (exchange.sim.strategy)
}


def agent_class(kind: str, source: str = "scenario", key: str = "type") -> type:
    """The class of an agent type name or a ``"package.module:Class"`` path."""
    cls = AGENT_TYPES.get(kind)
    if cls is not None:
        return cls
    if isinstance(kind, str) and kind in LAZY_AGENT_TYPES:
        module, _, attr = LAZY_AGENT_TYPES[kind].partition(":")
        return getattr(importlib.import_module(module), attr)
    if isinstance(kind, str) and ":" in kind:
        module, _, attr = kind.partition(":")
        try:
            return getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError) as exc:
            raise ConfigError(f"{source}: {key!r} {kind!r} cannot be imported ({exc})") from None
    raise ConfigError.for_key(source, key, f"one of {', '.join(sorted([*AGENT_TYPES, *LAZY_AGENT_TYPES]))} or a "
                              "'package.module:Class' path", kind)


def build_agent(kind: str, name: str, params: dict, rng: np.random.Generator) -> Any:
    """Instantiate an agent of ``kind`` with parsed ``params`` and its own generator."""
    cls = agent_class(kind)
    return cls(name, params, rng)
