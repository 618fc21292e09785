"""Replay mode: strategies on recorded history, with the venue's own mechanics.

The recorded market (a :class:`~exchange.data.feed.ReplayFeed`: Tardis or Binance files)
**feeds** the venue, as the simulator's agents do; the venue does the rest:

* the recorded L2 book is the background liquidity: every recorded level rests in the venue's
  own book as orders of one *liquidity account* (:class:`RecordedBook`), so a strategy's
  market order walks the recorded depth and moves the book (its impact lasts until the feed
  next updates the levels it took), and the venue's mark (book mid, last trade), impact
  prices (funding premium) and liquidation orders read that book;
* recorded trades are executed against that book by a *tape account* (one IOC order per
  aggressor side per sync, limited at the worst recorded price), so the venue's last price
  follows the tape and a strategy's resting orders fill when the tape reaches them (queue
  model below); the tape account's position is handed to the liquidity account after every
  sync (``transfer_position``), so it stays flat;
* the recorded index (Tardis ``derivative_ticker.index_price``, Binance ``indexPriceKlines``;
  the recorded mid when neither is given) is the venue's oracle input through
  :meth:`exchange.venue.Exchange.step`, which then runs the preset's mark, conditional
  triggers, liquidation waterfall, tiers and funding on the strategy's account;
* the recorded mark and funding rates are kept beside the venue's own for comparison
  (:attr:`ReplayResult.comparison`).

**Queue model** (risk-averse, as hftbacktest's ``RiskAverseQueueModel``): an order of the
strategy joins the back of its price level behind all recorded depth resting there. It advances
by trades: the tape consumes the level first-in first-out, so the strategy fills after the depth
ahead of it traded. A recorded *decrease* of a level is taken from the newest recorded orders
first (the depth behind the strategy, LIFO: a cancel is assumed to come from behind), so a
cancellation moves the strategy forward only when the level shrinks below the depth ahead of
it; a recorded increase joins the back of the queue. A recorded level that reaches a price
where the strategy rests on the other side trades with it (someone recorded was willing to pay
that price). Source: hftbacktest
documentation, "Queue Models" (https://hftbacktest.readthedocs.io/en/v1.8.4/reference/
queue_models.html, read 2026-12-02: the risk-averse model "advances only when trades occur at
the same price level"; its depth update caps the queue ahead at the level's new quantity).

**Sync granularity**: every recorded row folds into the recorded state (numpy); the venue's
book is brought in line with the top ``depth_levels`` recorded levels per side every
``sync_ms`` of recorded time (default 1 s, Binance's mark cadence) and just before each of the
strategy's orders reaches the venue (so it meets the book as recorded at that instant). Within
one sync the tape executes first, against the book as of the previous sync, then the levels
(their final value) apply, deletions first.

Known limits: recorded levels the venue refuses (below its minimum notional, outside its price
band) are not in the book (:attr:`RecordedBook.unplaced` counts attempts); the recorded
crowd's own liquidations are not replayed (only the strategy's account is margined).
"""
from __future__ import annotations

import functools
import os
import time
import warnings
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import attrs
import numpy as np

from exchange._enums import EventKind, OrderFlag

from exchange.errors import InvalidCommandError, invalid
from exchange.sim.clock import PRIO_AGENT, PRIO_ORACLE, PRIO_SHOCK, Clock
from exchange.sim.context import SimContext, component_seed
from exchange.sim.gateway import OrderGateway

try:
    from exchange.sim import _replay as _compiled
    if os.environ.get("PERPSIM_REPLAY") == "python":    # debugging: the readable methods
        _compiled = None
except ImportError:  # pragma: no cover - the wheel always ships the extension
    _compiled = None
    warnings.warn("exchange.sim._replay (compiled) is missing: replays reconcile the book in "
                  "pure Python (slower); build it with `pip install -e .`", RuntimeWarning,
                  stacklevel=2)

__all__ = ["PRIO_FEED", "PRIO_FEED_SYNC", "RecordedBook", "Replay", "ReplayResult", "run_replay"]

NS_PER_MS = 1_000_000
#: the recorded market applies first at an instant (before the venue's step)...
PRIO_FEED = PRIO_SHOCK
#: ...and again just before orders reach the venue (PRIO_ARRIVAL = 30)
PRIO_FEED_SYNC = 25
_F_RESTING = int(OrderFlag.RESTING)
_STP_EXPIRE_MAKER = 2
#: a recorded index older than this is a silent oracle source (Binance drops an index
#: constituent not updated for 5 min: shared/reference/venue-mechanics.md §1)
INDEX_SILENT_NS = 5 * 60 * 1_000_000_000


class RecordedBook:
    """The recorded book as resting orders of the liquidity account ``maker`` in the venue's
    book of ``instr``; recorded trades sent by the tape account ``taker``.

    The full recorded book is kept as numpy state by price rank (:meth:`update`: vectorised,
    every row); its top ``depth_levels`` levels per side rest in the venue's book
    (:meth:`reconcile`, once per sync: only changed levels cost a venue command). A strategy
    order larger than that window finds no depth beyond it. ``levels``: ``price·2 + side``
    → venue order ids of the recorded depth there, oldest first. Costs: :meth:`set_level`
    O(orders at the level); :meth:`trade` O(fills)."""

    def __init__(self, exchange, instr: int, maker: int, taker: int, depth_levels: int = 50,
                 compiled: bool = True) -> None:
        self.ex = exchange
        self.core = exchange.core
        self.instr = int(instr)
        self.maker, self.taker = int(maker), int(taker)
        self.book = self.core.book(self.instr)
        spec = exchange.specs[self.instr]
        self.max_lots = int(spec.max_order_lots)
        self.levels: dict[int, list[int]] = {}
        #: level key → the recorded lots last set there (the materialised window)
        self.placed: dict[int, int] = {}
        self.depth_levels = int(depth_levels)
        self.prices = np.empty(0, np.int64)
        self.state = np.zeros((2, 0), np.int64)
        self.unplaced = 0
        self.commands = 0
        #: the compiled twin of set_level / reconcile (exchange/sim/_replay.pyx), or None
        self._c = _compiled if compiled else None
        self.tape_orders = 0

    def _open(self, oid: int) -> int:
        info = self.core.order_info(oid)
        return int(info[4]) if info[5] & _F_RESTING else 0

    def level(self, side: int, price: int) -> int:
        """Recorded depth (lots) resting at a level now. O(orders at the level)."""
        return sum(self._open(o) for o in self.levels.get(price * 2 + side, ()))

    def set_level(self, side: int, price: int, target: int) -> None:
        """Make the recorded depth at (side, price) ``target`` lots (queue model: decreases
        from the newest recorded order, increases join the back)."""
        if self._c is not None:
            c, u = self._c.set_level(self.core, self.book, self.levels, self.maker, self.instr,
                                     int(side), int(price), int(target), self.max_lots)
            self.commands += c
            self.unplaced += u
            return
        key = price * 2 + side
        oids = self.levels.get(key)
        live: list[list[int]] = []
        cur = 0
        if oids:
            for oid in oids:
                q = self._open(oid)
                if q:
                    live.append([oid, q])
                    cur += q
        core, maker = self.core, self.maker
        if target < cur:
            excess = cur - target
            while excess and live:
                oid, q = live[-1]
                self.commands += 1
                if q <= excess:
                    core.cancel(maker, oid)
                    live.pop()
                    excess -= q
                else:
                    core.amend(maker, oid, q - excess, 0)
                    live[-1][1] = q - excess
                    excess = 0
        elif target > cur:
            add = target - cur
            if live and self.book.level_qty(side, price) == cur and live[-1][1] + add <= self.max_lots:
                # nothing but recorded depth here: grow the newest order (it keeps no priority
                # worth having: everything at the level is recorded)
                self.commands += 1
                if core.amend(maker, live[-1][0], live[-1][1] + add, 0) == 0:
                    live[-1][1] += add
                    add = 0
            while add > 0:
                n = min(add, self.max_lots)
                self.commands += 1
                code = core.submit(maker, self.instr, side, n, price, 0, 0, False, 0, _STP_EXPIRE_MAKER)
                if code != 0:
                    self.unplaced += 1
                    break
                if core.last_rested > 0:
                    live.append([core.last_oid, int(core.last_rested)])
                add -= n
        if live:
            self.levels[key] = [o for o, _ in live]
        elif oids is not None:
            del self.levels[key]

    def load_prices(self, prices: np.ndarray) -> None:
        """Size the recorded state for the feed's distinct prices (sorted ticks). O(n)."""
        self.prices = np.ascontiguousarray(prices, np.int64)
        self.state = np.zeros((2, len(self.prices)), np.int64)    # recorded lots by price rank
        #: best bid / ask rank of the state (-1 / n: empty side), kept by the compiled fold
        self.best = np.array([-1, len(self.prices)], np.int64)
        self._keys = np.empty(2 * self.depth_levels, np.int64)
        self._qtys = np.empty(2 * self.depth_levels, np.int64)

    def update(self, side: np.ndarray, rank: np.ndarray, qty: np.ndarray, reset: np.ndarray) -> None:
        """Fold recorded level rows (stream order) into the recorded state: each level takes
        its last value; a ``reset`` row starts a full book (the state is cleared there).
        Vectorised: O(rows log rows) numpy, no venue command."""
        n = len(side)
        if n == 0:
            return
        cuts = np.flatnonzero(reset)
        bounds = [0, *[int(c) for c in cuts if c > 0], n]
        state = self.state
        for a, z in zip(bounds[:-1], bounds[1:]):
            if reset[a]:
                state[:] = 0
                self.best[:] = (-1, state.shape[1])
            if self._c is not None:
                self._c.fold_rows_best(state, side[a:z], rank[a:z], qty[a:z], self.best)
                continue
            if z - a == 1:
                state[side[a], rank[a]] = qty[a]
                continue
            keys = rank[a:z] * 2 + side[a:z]
            uniq, idx = np.unique(keys[::-1], return_index=True)
            state[uniq & 1, uniq >> 1] = qty[a:z][::-1][idx]

    def reconcile(self) -> None:
        """Bring the venue's book in line with the top ``depth_levels`` recorded levels of
        each side: set every level whose recorded value changed since it was last set, and
        empty the levels that left the window. A level the strategy or the tape consumed
        keeps its consumed depth until its recorded value next changes. O(distinct prices)
        numpy + O(changed levels) venue commands."""
        K = self.depth_levels
        if self._c is not None:
            n = self._c.window(self.state, self.prices, self.best, K, self._keys, self._qtys)
            c, u = self._c.reconcile(self.core, self.book, self.levels, self.placed, self.maker,
                                     self.instr, self.max_lots, self._keys[:n], self._qtys[:n])
            self.commands += c
            self.unplaced += u
            return
        bids = np.flatnonzero(self.state[0])[-K:]
        asks = np.flatnonzero(self.state[1])[:K]
        prices = self.prices
        want = dict(zip((prices[bids] * 2).tolist(), self.state[0, bids].tolist()))
        want.update(zip((prices[asks] * 2 + 1).tolist(), self.state[1, asks].tolist()))
        placed = self.placed
        gone = [k for k in placed if k not in want]
        set_level = self.set_level
        for key in gone:                       # deletions and levels out of the window first
            set_level(key & 1, key >> 1, 0)
            del placed[key]
        for key, q in want.items():
            if placed.get(key) != q:
                set_level(key & 1, key >> 1, q)
                placed[key] = q

    def trade(self, side: np.ndarray, price: np.ndarray, qty: np.ndarray) -> None:
        """Execute recorded trades (aggressor side, price, lots) as the tape: one IOC per
        aggressor side, limited at the worst recorded price, total recorded quantity; then
        hand the tape's position to the liquidity account. O(fills)."""
        if len(side) == 0:
            return
        if self._c is not None:
            self.tape_orders += self._c.tape(self.core, self.instr, self.taker, self.maker,
                                             side, price, qty)
            return
        core, instr = self.core, self.instr
        for s in ((0, 1) if side[0] == 0 else (1, 0)):
            m = side == s
            if not m.any():
                continue
            lots = int(qty[m].sum())
            limit = int(price[m].max() if s == 0 else price[m].min())
            self.tape_orders += 1
            core.submit(self.taker, instr, s, lots, limit, 0, 1, False, 0, 0)
        size = int(core.arrays()["size"][instr, self.taker])
        if size:
            ref = int(core.arrays()["last"][instr]) or int(price[-1])
            core.transfer_position(self.taker, self.maker, instr, size, ref)


@attrs.define
class StrategyRun:
    """One strategy of a replay: its agent, account and recorded series."""

    name: str
    agent: Any
    series: dict = attrs.field(factory=dict)

    @property
    def account(self) -> int:
        return int(self.agent.accounts[0])

    @property
    def strategy(self):
        return self.agent.strategy


class ReplayResult:
    """What a replay produced: the venue (state at the end), per strategy its account and
    series (``ts``, ``equity_atoms``, ``size_lots``, ``notional_atoms``, ``mark_ticks``), and
    ``comparison``: the venue's mark and funding beside the recorded ones (``ts``,
    ``venue_mark``, ``recorded_mark``, ``venue_index`` prices; ``venue_funding`` settlements
    ``(ts, rate per 1e8)``, ``recorded_funding`` ``(ts, rate fraction)``). ``stats``: events
    replayed, wall time, book commands. :attr:`journal` (every event record, EVENT_DTYPE) is
    assembled on first use (O(records))."""

    def __init__(self, *, exchange, strategies: dict, comparison: dict, stats: dict, spec,
                 symbol: str, start_ns: int, end_ns: int) -> None:
        self.exchange = exchange
        self.strategies = strategies
        self.comparison = comparison
        self.stats = stats
        self.spec = spec
        self.symbol = symbol
        self.start_ns = start_ns
        self.end_ns = end_ns
        self._journal: np.ndarray | None = None

    @property
    def journal(self) -> np.ndarray:
        if self._journal is None:
            self._journal = self.exchange.journal()
        return self._journal


class Replay:
    """A replay being built and run (:func:`run_replay` is the usual entry point).

    ``strategies``: a sequence of ``(name, strategy)`` where ``strategy`` is a Strategy
    instance, a Strategy subclass or a spec string (``"path/file.py:Class"``), optionally
    ``(name, strategy, params)``. All share the one venue (and its book).
    """

    def __init__(self, feed, strategies: Sequence = (), *, preset="binance_usdm",
                 symbol: str | None = None, sync_ms: float = 1000.0, record_ms: float = 1000.0,
                 depth_levels: int = 50,
                 seed: int = 0, check: str = "end", liquidation_overrides: dict | None = None,
                 liquidity_deposit: str = "100000000000", compiled: bool = True) -> None:
        from exchange.presets import load_preset
        from exchange.strategy import Strategy, StrategyAgent, load_strategy_class
        from exchange.venue import Exchange
        if check not in ("end", "sync", "none"):
            raise invalid("check", "'end', 'sync' or 'none'", check)
        if isinstance(depth_levels, bool) or not isinstance(depth_levels, int) or depth_levels < 1:
            raise invalid("depth_levels", "an integer >= 1", depth_levels)
        for field, v in (("sync_ms", sync_ms), ("record_ms", record_ms)):
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not v > 0:
                raise invalid(field, "a number > 0", v)
        pre = load_preset(preset) if isinstance(preset, str) else preset
        self.preset = pre
        self.symbol = symbol or pre.symbols[0]
        self.seed = int(seed)
        self.check = check
        self.ex = ex = Exchange(pre, liquidation=True, liquidation_overrides=liquidation_overrides,
                                seed=component_seed(self.seed, "liquidation"))
        self.instr = instr = ex.instrument(self.symbol)
        self.spec = spec = ex.specs[instr]
        self.feed = feed
        if feed.events == 0:
            raise invalid("feed", "a feed with recorded book rows or trades", feed.events)
        self.start_ns, self.end_ns = feed.start_ns, feed.end_ns
        self.core = core = ex.core
        self.clock = clock = Clock(self.start_ns)
        core.set_time(self.start_ns)
        self.gateway = OrderGateway(core, clock, instr)
        self.gateway.after_delivery = functools.partial(ex.run_triggers, instr)
        self.ctx = ctx = _ReplayContext(self, ex, instr, clock, self.gateway, self.seed)
        self.timeline = ex.configure_oracle(self.symbol, sources=1)
        # recorded time is epoch time: the venue's first step puts the funding grid on its UTC
        # schedule (k·interval from 1970-01-01, e.g. 00/08/16 UTC for 8 h)
        ctx.liquidation = ex.liquidation
        ctx.drainer = ex.drain_records
        ex.record_hooks.append(ctx.publish)
        self._settlements: list[np.ndarray] = []      # the venue's FundingSettled records
        ex.record_hooks.append(self._note_settlements)
        # the recorded market's two accounts: resting depth and the tape
        dep = spec.amount_to_atoms(Decimal(liquidity_deposit))
        maker, taker = ctx.open_accounts(np.array([dep, dep], np.int64), 1, role="replay").tolist()
        self.recorded = RecordedBook(ex, instr, maker, taker, depth_levels, compiled)
        prices = np.unique(feed.book_price)
        self.recorded.load_prices(prices)
        self._rank = np.searchsorted(prices, feed.book_price).astype(np.int64)
        self.sync_ns = max(1, int(round(sync_ms * NS_PER_MS)))
        self.record_ns = max(1, int(round(record_ms * NS_PER_MS)))
        self._book_i = 0
        self._trade_i = 0
        self._syncs: set[int] = set()
        self.runs: list[StrategyRun] = []
        for item in strategies:
            name, strat, *rest = item
            params = dict(rest[0]) if rest else {}
            instance = strat if isinstance(strat, Strategy) else None
            cls = type(instance) if instance is not None else load_strategy_class(strat)
            rng = np.random.default_rng(component_seed(self.seed, f"agent:{name}"))
            agent = StrategyAgent(name, {"class": cls, "values": params}, rng)
            if instance is not None:
                agent.use(instance)
            ctx.record_listeners.append(functools.partial(agent.on_records, ctx))
            self.runs.append(StrategyRun(name, agent, {k: [] for k in (
                "ts", "equity_atoms", "size_lots", "notional_atoms", "mark_ticks")}))
        self._cmp = {"ts": [], "venue_mark": [], "recorded_mark": [], "venue_index": []}
        self.wall_s = 0.0
        self._ran = False

    def _note_settlements(self, recs: np.ndarray) -> None:
        m = recs["kind"] == EventKind.FUNDING_SETTLED
        if m.any():
            self._settlements.append(recs[m])

    # -- the recorded market -----------------------------------------------------------------
    def _apply_until(self, ts: int) -> None:
        """Apply every recorded row with time <= ts (the tape, then the levels)."""
        f = self.feed
        tz = int(np.searchsorted(f.trade_ts, ts, side="right"))
        bz = int(np.searchsorted(f.book_ts, ts, side="right"))
        ta, ba = self._trade_i, self._book_i
        if tz == ta and bz == ba:
            return
        rb = self.recorded
        if tz > ta:
            rb.trade(f.trade_side[ta:tz], f.trade_price[ta:tz], f.trade_qty[ta:tz])
            self._trade_i = tz
        if bz > ba:
            rb.update(f.book_side[ba:bz], self._rank[ba:bz], f.book_qty[ba:bz], f.book_reset[ba:bz])
            rb.reconcile()
            self._book_i = bz
        if tz > ta:
            self.ex.run_triggers(self.instr)       # last-price triggers after the tape
        # the records reach the liquidation engine and the strategies at the next drain (the
        # venue's step drains first; so does a strategy's response point)
        if self.check == "sync":
            self.ex.check_invariants()

    def _on_feed(self, ts: int) -> None:
        self._apply_until(ts)
        if ts < self.end_ns:
            self.clock.schedule(min(ts + self.sync_ns, self.end_ns), PRIO_FEED, self._on_feed)

    def _on_sync(self, ts: int) -> None:
        self._syncs.discard(ts)
        self._apply_until(ts)

    def sync_at(self, ts: int) -> None:
        """Apply the recorded market up to ``ts`` just before orders reach the venue then."""
        if ts not in self._syncs and ts >= self.clock.now_ns:
            self._syncs.add(ts)
            self.clock.schedule(ts, PRIO_FEED_SYNC, self._on_sync)

    def _index(self, symbol: str, now: int):
        f = self.feed
        i = int(np.searchsorted(f.index_ts, now, side="right")) - 1
        if i < 0 or now - int(f.index_ts[i]) > INDEX_SILENT_NS:
            return None
        return float(f.index_price[i])

    def _on_venue(self, ts: int) -> None:
        # the step drains the records to the liquidation engine and the strategies itself
        self.ex.step(ts, self._index, events=False)
        mkt = self.ctx.market
        tl = self.timeline
        arr = self.ctx.arrays()
        mkt.ts_ns, mkt.stale = ts, tl.stale
        mkt.index_ticks = int(tl.index_ticks or 0)
        mkt.mark_ticks = int(arr["mark"][self.instr])
        mkt.last_ticks = int(arr["last"][self.instr])
        mkt.funding_estimate_8h = tl.estimate_8h()
        mkt.funding_rate_last = tl.last_rate
        mkt.ts_next_funding_ns = tl.funding.next_settlement_ns
        nxt = self.ex.next_wakeup_ns()
        nxt = ts + 1 if nxt is None else max(nxt, ts + 1)
        if nxt <= self.end_ns:
            self.clock.schedule(nxt, PRIO_ORACLE, self._on_venue)

    def _on_agent(self, ts: int, agent) -> None:
        nxt = agent.wake(self.ctx, ts)
        if nxt is not None and nxt <= self.end_ns:
            self.clock.schedule(max(int(nxt), ts + 1), PRIO_AGENT, self._on_agent, agent)

    def _on_record(self, ts: int) -> None:
        arr = self.ctx.arrays()
        i = self.instr
        mark = int(arr["mark"][i])
        k = int(arr["k"][i])
        for run in self.runs:
            a = run.account
            s = run.series
            size = int(arr["size"][i, a])
            s["ts"].append(ts)
            s["equity_atoms"].append(int(self.core.equity(a)))
            s["size_lots"].append(size)
            s["notional_atoms"].append(abs(size) * mark * k)
            s["mark_ticks"].append(mark)
        f = self.feed
        c = self._cmp
        j = int(np.searchsorted(f.mark_ts, ts, side="right")) - 1
        c["ts"].append(ts)
        c["venue_mark"].append(float(self.spec.ticks_to_price(mark)) if mark else float("nan"))
        c["recorded_mark"].append(float(f.mark_price[j]) if j >= 0 else float("nan"))
        ix = int(self.timeline.index_ticks or 0)
        c["venue_index"].append(float(self.spec.ticks_to_price(ix)) if ix else float("nan"))
        if ts < self.end_ns:
            self.clock.schedule(min(ts + self.record_ns, self.end_ns), 90, self._on_record)

    # -- running -------------------------------------------------------------------------------
    def run(self) -> ReplayResult:
        if self._ran:
            raise InvalidCommandError("a Replay runs once; build a new one")
        self._ran = True
        t0 = time.perf_counter()
        clock, start = self.clock, self.start_ns
        clock.schedule(start, PRIO_FEED, self._on_feed)
        clock.schedule(start, PRIO_ORACLE, self._on_venue)
        for run in self.runs:
            first = run.agent.setup(self.ctx, start)
            if first is not None:
                clock.schedule(int(first), PRIO_AGENT, self._on_agent, run.agent)
        clock.schedule(start, 90, self._on_record)
        clock.run(self.end_ns)
        self._apply_until(self.end_ns)
        self.ctx.drain()
        for run in self.runs:
            run.agent.on_stop(self.ctx, self.end_ns)
        self.ctx.drain()
        if self.check != "none":
            self.ex.check_invariants()
        self.wall_s = time.perf_counter() - t0
        return self.result()

    def result(self) -> ReplayResult:
        venue_funding = np.concatenate(self._settlements) if self._settlements else \
            np.empty(0, [("ts", "i8"), ("a2", "i8")])
        f = self.feed
        comparison = {k: np.asarray(v, np.float64 if k != "ts" else np.int64) for k, v in self._cmp.items()}
        comparison["venue_funding"] = np.stack([venue_funding["ts"], venue_funding["a2"]], axis=1) \
            if len(venue_funding) else np.empty((0, 2), np.int64)
        comparison["recorded_funding"] = np.stack([f.funding_ts.astype(np.float64), f.funding_rate], axis=1) \
            if len(f.funding_ts) else np.empty((0, 2))
        strategies = {}
        for run in self.runs:
            series = {k: np.asarray(v, np.int64) for k, v in run.series.items()}
            strategies[run.name] = dict(account=run.account, strategy=run.strategy, series=series,
                                        deposit_atoms=int(self.spec.amount_to_atoms(
                                            Decimal(str(run.strategy.deposit)))))
        stats = dict(events=f.events, book_rows=len(f.book_ts), trades=len(f.trade_ts),
                     book_rows_applied=self._book_i, trades_applied=self._trade_i,
                     wall_s=self.wall_s, events_per_s=f.events / self.wall_s if self.wall_s else None,
                     book_commands=self.recorded.commands, tape_orders=self.recorded.tape_orders,
                     levels_unplaced=self.recorded.unplaced, clock_events=self.clock.processed,
                     sources=dict(f.sources))
        return ReplayResult(exchange=self.ex, strategies=strategies,
                            comparison=comparison, stats=stats, spec=self.spec, symbol=self.symbol,
                            start_ns=self.start_ns, end_ns=self.end_ns)


class _ReplayContext(SimContext):
    """The simulator's agent context over a replay: sending a batch first schedules a sync of
    the recorded market at the batch's arrival time."""

    def __init__(self, replay: Replay, *args) -> None:
        super().__init__(*args)
        self._replay = replay

    def send(self, batch, results: bool = True):
        self._replay.sync_at(int(batch.rows["ts"].min()))
        return super().send(batch, results)


def run_replay(strategies, data, *, preset="binance_usdm", symbol: str | None = None, **kw) -> ReplayResult:
    """Replay recorded data (a ReplayFeed, or paths / ``KIND:path`` strings for
    :func:`exchange.data.load`) with ``strategies`` (see :class:`Replay`; a single Strategy
    instance or class is accepted as ``[("strategy", it)]``). Returns the ReplayResult."""
    from exchange.data.feed import ReplayFeed
    from exchange.presets import load_preset
    from exchange.strategy import Strategy

    pre = load_preset(preset) if isinstance(preset, str) else preset
    sym = symbol or pre.symbols[0]
    if not hasattr(data, "book_ts"):
        from exchange.data import load

        paths = [data] if isinstance(data, (str, bytes)) or hasattr(data, "__fspath__") else list(data)
        data = ReplayFeed.from_tables(load(paths), pre.instruments[sym])
    if isinstance(strategies, Strategy) or (isinstance(strategies, type) and issubclass(strategies, Strategy)) \
            or isinstance(strategies, str):
        strategies = [("strategy", strategies)]
    return Replay(data, strategies, preset=pre, symbol=sym, **kw).run()
