"""One simulation run: ``run(scenario, seed, waterfall=None, out_dir=None) -> RunResult``.

Wiring (all on one :class:`~exchange.sim.clock.Clock`, integer ns)::

    shock (PRIO_SHOCK)      market makers withdraw, funding flip on/off (index gaps and oracle
                            faults are built into the price sources and happen by themselves)
    venue step (ORACLE)     at the venue's own wake-ups (oracle cadence, funding samples and
                            settlements) the run feeds :meth:`Exchange.step` the time and the
                            sources' quotes; the venue runs index → mark → conditional
                            triggers → liquidation waterfall → funding (a stale oracle freezes
                            mark, liquidations and funding). The run sets no mark, owns no
                            liquidation engine and moves no money.
    arrivals (ARRIVAL)      the order gateway delivers agents' orders after their latency
                            (then the venue fires last-price triggers)
    agent wake (AGENT)      each Agent decides and returns its next wake-up
    record (RECORD)         time series every ``step_ms``; invariants (``check="step"``)

Determinism: a run is a function of (scenario, seed, waterfall). Every random stream is a
``numpy.random.Generator`` spawned by name from ``SeedSequence(seed)``
(:func:`~exchange.sim.context.component_seed`), so the same seed gives every waterfall the
same agents and the same price path, and the same inputs give a byte-identical journal.
"""
from __future__ import annotations

import functools
import json
import time
from pathlib import Path
from typing import Any
from collections.abc import Callable

import attrs
import numpy as np

from exchange.errors import ConfigError, InvalidCommandError
from exchange.oracle import index_clamp_for
from exchange.sim.agents import agent_class
from exchange.sim.clock import (PRIO_AGENT, PRIO_ARRIVAL, PRIO_ORACLE, PRIO_RECORD, PRIO_SHOCK,
                                Clock)
from exchange.sim.context import SimContext, component_seed
from exchange.sim.gateway import OrderGateway
from exchange.sim.sources import (ConstantSource, FreezeFault, GBMSource, ManipulationFault,
                                  OutageFault, RandomWalkSource, ReplaySource, ShockSource)
from exchange.sim.pricepath import (SharedPath, SourceTap, StochasticVolSource, WindowedLag,
                                    load_price_csv)
from exchange.sim.scenario import Scenario, load_scenario
from exchange.units import RATE_SCALE

__all__ = ["run", "RunResult", "Simulation", "SERIES_COLUMNS", "journal_digest"]

NS_PER_S = 1_000_000_000
#: a streamed journal is hashed, summarised and written in batches of about this many records
STREAM_BATCH = 1 << 18
#: the recorded series keeps at most this many rows (then halves its resolution)
MAX_SERIES_ROWS = 200_000

#: the time series recorded every ``step_ms`` (all int64 except vol_ratio)
SERIES_COLUMNS = ("ts_ns", "index_ticks", "mark_ticks", "last_ticks", "best_bid_ticks",
                  "best_ask_ticks", "open_interest_lots", "insurance_atoms", "bad_debt_atoms",
                  "fee_pool_atoms", "backstop_equity_atoms", "events", "stale", "vol_ratio",
                  "makers_quoting", "depth_10bp_lots", "depth_50bp_lots", "depth_100bp_lots",
                  "funding_estimate_8h")

#: the series columns of each strategy population (``.format(name)``), present only when a
#: strategy runs: its accounts' equity (atoms) and signed position (lots, + long)
STRATEGY_SERIES = ("strategy.{}.equity_atoms", "strategy.{}.position_lots")

#: resting quantity (both sides) within these distances of the book mid (series columns
#: ``depth_<d>bp_lots``), the depth measure of Vyetrenko et al. (ICAIF 2020) used by
#: :mod:`exchange.sim.facts`
DEPTH_BANDS_BPS = (10, 50, 100)


@attrs.define
class RunResult:
    """What a run produced: metrics, the time series, the journal (EVENT_DTYPE records) and
    where the outputs were written (``files``: name → path)."""

    scenario: str
    seed: int
    waterfall: tuple[str, ...]
    metrics: dict[str, Any]
    series: dict[str, np.ndarray]
    journal: np.ndarray | None
    events: int
    wall_s: float
    sim_s: float
    info: dict[str, Any] = attrs.field(factory=dict)
    files: dict[str, str] = attrs.field(factory=dict)
    plot: dict[str, Any] = attrs.field(factory=dict)
    #: PnL per agent type (role) and per strategy population (:func:`~exchange.sim.metrics.account_pnl`)
    agents: dict[str, dict[str, Any]] = attrs.field(factory=dict)
    strategies: dict[str, dict[str, Any]] = attrs.field(factory=dict)
    #: :func:`journal_digest` of the run's records, computed as they streamed (a run with
    #: ``journal=`` keeps no records in memory but still has its hash)
    journal_hash: str | None = None
    #: what the stylized facts need of the order flow, folded while a streamed journal went
    #: by (:class:`~exchange.sim.facts.FactsFold`; None when the journal was kept in memory)
    facts_fold: Any = None

    @property
    def label(self) -> str:
        return ",".join(self.waterfall)

    def journal_sha256(self) -> str:
        """SHA-256 of the journal's records (:func:`journal_digest`, the determinism check)."""
        if self.journal is None:
            if self.journal_hash is not None:
                return self.journal_hash
            raise ValueError("the journal was not kept (run(..., keep_journal=False))")
        return journal_digest(self.journal)

    def summary(self) -> dict[str, Any]:
        """Small, picklable view (for sweeps and process pools): no journal or series."""
        return dict(scenario=self.scenario, seed=self.seed, waterfall=self.label,
                    wall_s=self.wall_s, sim_s=self.sim_s, **self.metrics)

    def facts(self):
        """The run's stylized facts (:func:`exchange.sim.facts.facts_from_result`): what the
        report shows, computed here so the report imports nothing from the simulator."""
        from exchange.sim.facts import facts_from_result

        return facts_from_result(self)

    def light(self) -> RunResult:
        """A copy without the journal and the raw series (what a worker sends back)."""
        return attrs.evolve(self, journal=None, series={}, facts_fold=None)


def _depth_within(book, bands_bps) -> list[int]:
    """Lots resting on both sides within each of ``bands_bps`` of the mid (0 when a side is
    empty). O(levels inside the widest band)."""
    bid, ask = book.best_bid(), book.best_ask()
    if not bid or not ask:
        return [0] * len(bands_bps)
    mid = (bid + ask) / 2.0
    widest = max(bands_bps) * 1e-4 * mid
    out = [0] * len(bands_bps)
    for side in (0, 1):
        n = 64
        while True:
            levels = book.depth(side, n)
            if len(levels) < n or abs(levels[-1][0] - mid) > widest:
                break
            n *= 4
        for price, qty in levels:
            dist = abs(price - mid)
            if dist > widest:
                break
            for i, b in enumerate(bands_bps):
                if dist <= b * 1e-4 * mid:
                    out[i] += int(qty)
    return out


def journal_digest(records: np.ndarray) -> str:
    """SHA-256 of the journal's field values: one SHA-256 per record column, combined as
    (name, column digest) in field order (:class:`~exchange.sim.journal.JournalDigest`; the
    record struct has padding bytes whose content is not part of the data, so the raw buffer
    is not hashed). A run that streams its journal computes the same value batch by batch."""
    from exchange.sim.journal import JournalDigest

    h = JournalDigest(records.dtype)
    h.update(records)
    return h.hexdigest()


def _progress_reporter(progress: Callable) -> Callable[[float, int], None]:
    """``progress`` as a (fraction, events) callable: one that takes a single argument is
    given the fraction only."""
    import inspect

    try:
        params = [p for p in inspect.signature(progress).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL)]
        two = len(params) >= 2 or any(p.kind == p.VAR_POSITIONAL for p in params)
    except (TypeError, ValueError):
        two = False
    return progress if two else (lambda f, n: progress(f))


def _slide_steps(shock) -> list[tuple[int, float]]:
    """An ``index_slide``'s gaps: (time ns, change) of ``steps`` equal moves over its window
    that compound to its ``change``."""
    n = int(shock.params["steps"])
    step = (1.0 + shock.params["change"]) ** (1.0 / n) - 1.0
    return [(shock.at_ns + k * shock.duration_ns // n, step) for k in range(n)]


class Simulation:
    """A run being built and executed; :func:`run` is the usual entry point."""

    def __init__(self, scenario: Scenario, seed: int = 0, waterfall=None, *,
                 check: str = "end", track_deltas: bool = False, journal: str | None = None,
                 journal_dir=None, max_series_rows: int = MAX_SERIES_ROWS,
                 fold_facts: bool = False, exchange=None, clock: Clock | None = None,
                 index_source=None) -> None:
        """``journal``: None keeps every record in the venue's memory (``sim.ex.journal()``);
        ``"full"``, ``"events"`` or ``"none"`` streams them as the run goes (memory bounded
        by the live state): the event tables to ``journal_dir`` (all of them, all but the
        order flow, none: :data:`~exchange.sim.journal.JOURNAL_MODES`), every record to
        :attr:`summary` (metrics, PnL, figures) and :attr:`digest` (the run's hash).
        ``max_series_rows``: the recorded series keeps at most this many rows, halving its
        resolution (every other row dropped, the stride doubled) when it reaches it.
        ``fold_facts`` (with a streamed journal): fold what the stylized facts need of the
        order flow as it streams (:attr:`facts_fold`, a :class:`~exchange.sim.facts.FactsFold`).

        ``exchange``, ``clock``, ``index_source``: one market of a multi-market world
        (:mod:`exchange.sim.world`): the run trades ``scenario.symbol`` on a venue it shares
        with other markets (the world steps the venue, this run does not), on the world's
        clock, with ``index_source`` (a :class:`~exchange.oracle.PriceSource`, e.g. an asset
        of a :class:`~exchange.sim.factor.FactorModel`) as its index path."""
        from exchange.sim.journal import (ORDER_FLOW, JournalDigest, JournalWriter,
                                          check_journal_mode)
        from exchange.sim.metrics import JournalSummary
        from exchange.venue import Exchange
        if check not in ("end", "step", "none"):
            raise ValueError(f"'check' must be 'end', 'step' or 'none' (got {check!r})")
        self.sc = sc = scenario
        self.seed = int(seed)
        self.check = check
        self.owns_venue = exchange is None
        #: this run checks the venue's invariants at its steps (in a world, one market per
        #: venue does: the venue is the same)
        self.checks_venue = True
        self._index_source = index_source
        if exchange is None:
            preset = sc.preset(waterfall)
            n_acc = sc.n_agents + 64
            # the venue owns its clock step, its liquidation waterfall (with the scenario's
            # [modules.*] parameters and a funded vault when it has a backstop) and its funding
            try:
                exchange = Exchange(preset, initial_accounts=max(1024, n_acc), liquidation=True,
                                    liquidation_overrides=dict(sc.module_params),
                                    seed=component_seed(self.seed, "liquidation"),
                                    track_deltas=track_deltas)
            except ConfigError as exc:
                raise ConfigError(f"{sc.source}: [modules] {exc}") from None
        self.ex = ex = exchange
        self.preset = preset = ex.preset
        self.waterfall = tuple(preset.liquidation.waterfall)
        self.instr = instr = ex.instrument(sc.symbol)
        self.spec = ex.specs[instr]
        self.core = core = ex.core
        self.clock = clock = Clock() if clock is None else clock
        self.gateway = OrderGateway(core, clock, instr)
        self.gateway.after_delivery = functools.partial(ex.run_triggers, instr)
        self.ctx = ctx = SimContext(ex, instr, clock, self.gateway, self.seed)
        # -- the world's price sources (path, exchanges quoting it, faults); the venue's own
        # index, oracle, mark method and funding scheduler read them at its cadence
        self.sources = self._build_sources()
        ix = sc.index
        clamp = (int(round(ix.clamp_rate * RATE_SCALE)) if ix.clamp_rate is not None
                 else index_clamp_for(sc.symbol))
        self.timeline = ex.configure_oracle(sc.symbol, sources=len(self.sources), clamp_rate=clamp,
                                            staleness_ns=ix.stale_after_ns,
                                            cadence_ns=sc.oracle_cadence_ns,
                                            stale_limit_ns=ix.stale_after_ns)
        self.oracle = self.timeline.oracle
        self.funding = self.timeline.funding
        self.liquidation = ex.liquidation
        self.vault: int | None = ex.vault
        if self.vault is not None:
            ctx.roles["backstop"] = np.array([self.vault], np.int64)
        ctx.liquidation = self.liquidation
        self._has_auction = self.liquidation is not None and any(
            getattr(m, "name", "") == "auction" for m in getattr(self.liquidation, "waterfall", ()))
        self._bids_in_flight: dict[int, int] = {}
        # -- agents
        self.agents = []
        for pop in sc.populations:
            cls = agent_class(pop.type, sc.source)
            rng = np.random.default_rng(component_seed(self.seed, f"agent:{pop.name}"))
            self.agents.append(cls(pop.name, dict(pop.params), rng))
        # the liquidation engine and agents that follow the event stream (strategies) hear of
        # every batch of records the venue journals
        ex.record_hooks.append(self._on_records)
        ctx.drainer = self._drain
        for agent in self.agents:
            hook = getattr(agent, "on_records", None)
            if hook is not None:
                ctx.record_listeners.append(functools.partial(hook, ctx))
        # agents that reprice at once when spot or the venue's index moves (makers, keepers)
        self._market_hooks = [functools.partial(agent.on_market, ctx) for agent in self.agents
                              if getattr(agent, "on_market", None) is not None]
        self._tick = float(self.spec.tick_size)
        self._series: dict[str, list] = {c: [] for c in SERIES_COLUMNS}
        # a strategy population's equity and position over time (the comparison report's
        # strategy section), sampled and downsampled with the rest of the series
        self._strategies = [a for a in self.agents if getattr(a, "kind", None) == "strategy"]
        for a in self._strategies:
            for c in STRATEGY_SERIES:
                self._series[c.format(a.name)] = []
        if max_series_rows < 2:
            raise ValueError(f"'max_series_rows' must be >= 2 (got {max_series_rows})")
        self._max_series = int(max_series_rows)
        self._series_stride = 1
        self._records_seen = 0
        # -- the journal: in the venue's memory, or streamed (hash, summary, Parquet)
        self.journal_mode = journal
        self.summary = self.digest = self.writer = self.facts_fold = None
        if journal is not None:
            check_journal_mode(journal)
            from exchange.dtypes import EVENT_DTYPE

            self.summary = JournalSummary()
            self.digest = JournalDigest(EVENT_DTYPE)
            if journal_dir is not None and journal != "none":
                from exchange.export import raw_scales

                self.writer = JournalWriter(journal_dir,
                                            ORDER_FLOW if journal == "events" else (),
                                            scales=raw_scales(self.spec))
            if fold_facts:
                from exchange.sim.facts import FactsFold, crash_window

                self.facts_fold = FactsFold(crash_window(
                    [dict(type=s.type, at_ns=s.at_ns) for s in sc.shocks]))
            self._buf: list[np.ndarray] = []
            self._buf_n = 0
            ex.record_hooks.append(self._stream)
        self._var_alpha_fast = 1 - 0.5 ** (1 / max(1, 30 * NS_PER_S // sc.oracle_cadence_ns))
        self._var_alpha_base = 1 - 0.5 ** (1 / max(1, 1800 * NS_PER_S // sc.oracle_cadence_ns))
        self._last_index = 0
        self.wall_s = 0.0
        self._ran = False

    # ------------------------------------------------------------------ building
    def _build_sources(self) -> list:
        sc, ix = self.sc, self.sc.index
        rng = lambda name: np.random.default_rng(component_seed(self.seed, name))  # noqa: E731
        if self._index_source is not None:
            base: Any = self._index_source
        elif ix.model == "random_walk":
            base = RandomWalkSource(rng("index.path"), ix.price, step_ns=ix.step_ns,
                                         sigma=ix.sigma, jump_rate_per_s=ix.jump_rate_per_hour / 3600,
                                         jump_mean=ix.jump_mean, jump_std=ix.jump_std)
        elif ix.model == "stochastic_vol":
            base = StochasticVolSource(rng("index.path"), ix.price, step_ns=ix.step_ns,
                                       sigma=ix.sigma, vol_of_vol=ix.vol_of_vol,
                                       vol_half_life_s=ix.vol_half_life_s, tail_df=ix.tail_df,
                                       jump_rate_per_s=ix.jump_rate_per_hour / 3600,
                                       jump_mean=ix.jump_mean, jump_std=ix.jump_std)
        elif ix.model == "gbm":
            base = GBMSource(rng("index.path"), ix.price, mu=ix.mu, sigma=ix.sigma, step_ns=ix.step_ns)
        elif ix.model == "replay":
            ts, px = load_price_csv(ix.csv_path, time_column=ix.time_column,
                                    price_column=ix.price_column, source=sc.source)
            if ix.price:
                px = px * (ix.price / px[0])
            base = ReplaySource(ts, px)
        else:
            base = ConstantSource(ix.price)
        for shock in sc.shocks:
            if shock.type == "index_gap":
                base = ShockSource(base, shock.at_ns, shock.params["change"])
            elif shock.type == "index_slide":
                for at, step in _slide_steps(shock):
                    base = ShockSource(base, at, step)
        # the venue reads the sources feed_latency late; traders read the path now (spot)
        self._feed_lat = ix.feed_latency_ns
        path = SharedPath(base, history_ns=ix.feed_latency_ns + 1)
        self.path = path
        taps: list[Any] = [SourceTap(path, rng(f"index.source{i}"), ix.source_noise)
                           for i in range(ix.sources)]
        for shock in sc.shocks:
            if not shock.type.startswith("oracle_"):
                continue
            sel = shock.params.get("source", "all")
            which = range(ix.sources) if sel == "all" else [int(sel)]
            for i in which:
                src = taps[i]
                if shock.type == "oracle_lag":
                    taps[i] = WindowedLag(src, shock.at_ns, shock.end_ns,
                                          int(shock.params["lag_s"] * NS_PER_S))
                elif shock.type == "oracle_freeze":
                    taps[i] = FreezeFault(src, shock.at_ns, shock.end_ns,
                                          stuck_value=shock.params["stuck"])
                elif shock.type == "oracle_outage":
                    taps[i] = OutageFault(src, shock.at_ns, shock.end_ns)
                elif shock.type == "oracle_manipulation":
                    taps[i] = ManipulationFault(src, shock.at_ns, shock.end_ns,
                                                shock.params["change"])
        return taps

    # ------------------------------------------------------------------ event handlers
    def _at(self, ts: int) -> None:
        if ts > self.core.ts_now:
            self.core.set_time(ts)

    def _drain(self) -> np.ndarray:
        """Journal the core's new records; :meth:`_on_records` sees them (as it sees records
        of commands sent through the Exchange API by anyone else, e.g. the mock server)."""
        return self.ex.drain_records()

    def _on_records(self, recs: np.ndarray) -> None:
        self.ctx.publish(recs)

    def _stream(self, recs: np.ndarray) -> None:
        self._buf.append(recs)
        self._buf_n += len(recs)
        if self._buf_n >= STREAM_BATCH:
            self._flush_stream()

    def _flush_stream(self) -> None:
        """The buffered records to the digest, the summary and the journal files."""
        if not self._buf:
            return
        recs = np.concatenate(self._buf) if len(self._buf) > 1 else self._buf[0]
        self._buf, self._buf_n = [], 0
        self.digest.update(recs)
        self.summary.add(recs)
        if self.facts_fold is not None:
            self.facts_fold.add(recs)
        if self.writer is not None:
            self.writer.write(recs)

    def _release(self) -> None:
        """Between commands: drop the venue's copy of records already streamed."""
        if self.journal_mode is not None:
            self.ex.release_journal()

    def finish_journal(self) -> dict[str, str]:
        """After :meth:`run` of a streamed journal: flush, close the files; returns the
        journal files (``journal/<name>`` → path)."""
        if self.journal_mode is None:
            return {}
        self.ex.release_journal()
        self._flush_stream()
        return self.writer.close() if self.writer is not None else {}

    @property
    def events(self) -> int:
        """Events journaled so far."""
        if self.summary is not None:
            return self.summary.events + self._buf_n
        return int(sum(len(c) for c in self.ex._journal))

    def _quotes(self, symbol: str, ts: int) -> list:
        """The sources' quotes as the venue receives them: ``feed_latency`` old."""
        t = max(0, ts - self._feed_lat)
        return [src.price_at(t) for src in self.sources]

    def _on_spot(self, ts: int) -> None:
        """The world's spot price (the index path, noise-free) as traders watching the
        index's constituent exchanges see it now, at every step of the path and at every
        gap; agents with an ``on_market`` hook hear of it."""
        nxt = ts + self.sc.index.step_ns
        if nxt < self.sc.duration_ns:
            self.clock.schedule(nxt - nxt % self.sc.index.step_ns, PRIO_SHOCK, self._on_spot)
        self._update_spot(ts)

    def _update_spot(self, ts: int) -> None:
        p = self.path.latest(ts)
        if p is None:
            return
        mkt = self.ctx.market
        spot = int(round(p / self._tick))
        if spot != mkt.spot_ticks:
            mkt.spot_ticks = spot
            self._at(ts)
            for hook in self._market_hooks:
                hook(ts)

    def _on_venue(self, ts: int) -> None:
        """One venue step: the time and the sources' quotes go in; the venue does the rest.
        The run then reads what it publishes (index, mark, staleness, funding estimate)."""
        self._drain()
        self._release()
        tl = self.timeline
        published = tl.oracle.publish_count
        self.ex.step(ts, self._quotes, events=False)
        self._after_step(ts, published)
        nxt = self.ex.next_wakeup_ns()
        self.clock.schedule(max(nxt, ts + 1), PRIO_ORACLE, self._on_venue)

    def _after_step(self, ts: int, published: int) -> None:
        """After a venue step: read what the venue published for this run's instrument
        (``published``: the oracle's publish count before the step)."""
        tl = self.timeline
        mkt = self.ctx.market
        mkt.ts_ns = ts
        mkt.stale = tl.stale
        arr = self.ctx.arrays()
        if not tl.stale and tl.oracle.publish_count != published:
            idx = tl.index_ticks
            mkt.index_ticks, mkt.mark_ticks = idx, int(arr["mark"][self.instr])
            mkt.last_ticks = int(arr["last"][self.instr])
            self._update_vol(idx)
            if self._has_auction:
                self._solicit_bids(ts)
            for hook in self._market_hooks:
                hook(ts)
        mkt.funding_estimate_8h = tl.estimate_8h()
        mkt.funding_rate_last = tl.last_rate
        mkt.ts_next_funding_ns = self.funding.next_settlement_ns

    def _update_vol(self, idx: int) -> None:
        mkt = self.ctx.market
        prev = self._last_index
        self._last_index = idx
        if prev <= 0:
            return
        r = np.log(idx / prev)
        r2 = float(r * r)
        if mkt.var_base <= 0:
            prior = max(self.sc.index.sigma, 1e-5) ** 2 * max(
                1.0, self.sc.oracle_cadence_ns / self.sc.index.step_ns)
            if self.sc.index.model == "gbm":
                prior = self.sc.index.sigma ** 2 * self.sc.oracle_cadence_ns / (365 * 86400 * NS_PER_S)
            mkt.var_base = mkt.var_fast = max(prior, 1e-12)
        a, b = self._var_alpha_fast, self._var_alpha_base
        mkt.var_fast += a * (r2 - mkt.var_fast)
        # the baseline learns from clipped returns so that a gap does not become "normal"
        mkt.var_base += b * (min(r2, 9.0 * mkt.var_base) - mkt.var_base)
        mkt.vol_ratio = float(np.sqrt(mkt.var_fast / mkt.var_base))

    def _on_shock(self, ts: int, shock) -> None:
        self._at(ts)
        mkt = self.ctx.market
        if shock.type == "funding_flip":
            mkt.funding_override = int(round(shock.params["rate"] * RATE_SCALE))
            self.ex.set_funding_override(self.sc.symbol, mkt.funding_override)
            mkt.funding_estimate_8h = self.timeline.estimate_8h()
            self.clock.schedule(shock.end_ns, PRIO_SHOCK, self._end_flip)
        for agent in self.agents:
            hook = getattr(agent, "on_shock", None)
            if hook is not None:
                hook(self.ctx, shock, ts)

    def _end_flip(self, ts: int) -> None:
        self.ctx.market.funding_override = None
        self.ex.set_funding_override(self.sc.symbol, None)

    def _on_agent(self, ts: int, agent) -> None:
        nxt = agent.wake(self.ctx, ts)
        if nxt is not None and nxt < self.sc.duration_ns:
            self.clock.schedule(max(int(nxt), ts + 1), PRIO_AGENT, self._on_agent, agent)

    def _solicit_bids(self, ts: int) -> None:
        """Offer the running auctions to the agents that bid (keepers); their bids reach the
        auction after the bidder's latency."""
        auctions = self.liquidation.auctions()
        if not auctions:
            return
        size = self.ctx.arrays()["size"]
        for a in auctions:
            aid = int(a["auction_id"])
            if self._bids_in_flight.get(aid, -1) >= ts:
                continue
            left = abs(int(size[a["instr"], a["acct"]]))
            if left <= 0:
                continue
            for agent in self.agents:
                hook = getattr(agent, "on_auction", None)
                if hook is None:
                    continue
                bids = hook(self.ctx, a, left, ts) or []
                for acct, qty, limit, arrive in bids:
                    self.clock.schedule(max(int(arrive), ts + 1), PRIO_ARRIVAL, self._on_bid,
                                        aid, int(acct), int(qty), int(limit))
                    self._bids_in_flight[aid] = max(self._bids_in_flight.get(aid, 0), int(arrive))
                    left -= qty
                if left <= 0:
                    break

    def _on_bid(self, ts: int, aid: int, acct: int, qty: int, limit: int) -> None:
        self._at(ts)
        try:
            self.liquidation.bid(aid, acct, qty, limit)
        except InvalidCommandError:
            pass        # the auction ended before the bid arrived

    def _on_record(self, ts: int) -> None:
        self._at(ts)
        self._release()
        nxt = ts + self.sc.step_ns
        if nxt <= self.sc.duration_ns:
            self.clock.schedule(nxt, PRIO_RECORD, self._on_record)
        if self.check == "step" and self.checks_venue:
            self.core.check_invariants()
        seen = self._records_seen
        self._records_seen += 1
        if seen % self._series_stride:
            return                  # downsampled: this step is between kept rows
        self._sample(ts)
        if len(self._series["ts_ns"]) >= self._max_series:
            for c, v in self._series.items():
                self._series[c] = v[::2]
            self._series_stride *= 2

    def _sample(self, ts: int) -> None:
        core, instr, mkt = self.core, self.instr, self.ctx.market
        arr = self.ctx.arrays()
        book = core.book(instr)
        s = self._series
        s["ts_ns"].append(ts)
        s["index_ticks"].append(mkt.index_ticks)
        s["mark_ticks"].append(mkt.mark_ticks)
        s["last_ticks"].append(int(arr["last"][instr]))
        s["best_bid_ticks"].append(book.best_bid() or 0)
        s["best_ask_ticks"].append(book.best_ask() or 0)
        size = arr["size"][instr]
        s["open_interest_lots"].append(int(size[size > 0].sum()))
        s["insurance_atoms"].append(self._insurance_atoms())
        s["bad_debt_atoms"].append(int(core.bad_debt))
        s["fee_pool_atoms"].append(int(core.fee_pool))
        s["backstop_equity_atoms"].append(self._backstop_equity())
        s["events"].append(int(core.seq))
        s["stale"].append(int(mkt.stale))
        s["vol_ratio"].append(float(mkt.vol_ratio))
        s["makers_quoting"].append(self._makers_quoting(ts))
        for d, lots in zip(DEPTH_BANDS_BPS, _depth_within(book, DEPTH_BANDS_BPS)):
            s[f"depth_{d}bp_lots"].append(lots)
        s["funding_estimate_8h"].append(int(mkt.funding_estimate_8h))
        if self._strategies:
            self._sample_strategies(arr)

    def _sample_strategies(self, arr) -> None:
        """Equity (wallet + isolated margin + uPnL at the mark) and signed position (lots)
        of each strategy population's accounts, summed. O(strategy accounts × instruments)."""
        mark = arr["mark"].astype(np.int64)
        k = arr["k"].astype(np.int64)
        for a in self._strategies:
            acc = a.accounts
            size = arr["size"][:, acc]
            upnl = np.where(size != 0, size * (mark * k)[:, None] - arr["cost"][:, acc], 0)
            eq = int(arr["wallet"][acc].sum() + arr["iso"][:, acc].sum() + upnl.sum())
            eq_c, pos_c = (c.format(a.name) for c in STRATEGY_SERIES)
            self._series[eq_c].append(eq)
            self._series[pos_c].append(int(size[self.instr].sum()))

    def _insurance_atoms(self) -> int:
        """The insurance fund: its ledger account plus the equity of the account it trades
        positions it took over from (Binance/Bybit/BitMEX takeovers), atoms."""
        fund = int(self.core.insurance)
        acct = self.liquidation.fund_acct if self.liquidation is not None else None
        if acct is not None:
            fund += int(self.core.equity(acct))
        return fund

    def _backstop_equity(self) -> int:
        acct = self.backstop_account()
        return int(self.core.equity(acct)) if acct is not None else 0

    def backstop_account(self) -> int | None:
        return self.vault

    def _makers_quoting(self, ts: int) -> int:
        n = 0
        for a in self.agents:
            until = getattr(a, "pulled_until", None)
            if until is not None:
                n += int((until <= ts).sum())
        return n

    # ------------------------------------------------------------------ running
    def setup(self) -> None:
        clock, sc = self.clock, self.sc
        for agent in self.agents:
            first = agent.setup(self.ctx, 0)
            if first is not None:
                clock.schedule(int(first), PRIO_AGENT, self._on_agent, agent)
        if self.owns_venue:
            clock.schedule(0, PRIO_ORACLE, self._on_venue)
        clock.schedule(0, PRIO_SHOCK, self._on_spot)
        clock.schedule(0, PRIO_RECORD, self._on_record)
        for shock in sc.shocks:
            clock.schedule(shock.at_ns, PRIO_SHOCK, self._on_shock, shock)
            if shock.type == "index_gap":
                clock.schedule(shock.at_ns, PRIO_SHOCK, self._update_spot)
            elif shock.type == "index_slide":
                for at, _ in _slide_steps(shock):
                    clock.schedule(at, PRIO_SHOCK, self._update_spot)

    def start(self) -> None:
        """Schedule the run's first events (agents, oracle, funding, records, shocks); then
        the clock can be advanced (:meth:`run` does it all, a live driver step by step)."""
        if self._ran:
            raise RuntimeError("a Simulation runs once; build a new one")
        self._ran = True
        self.setup()

    def run(self, progress: Callable[[float], None] | None = None) -> None:
        t0 = time.perf_counter()
        self.start()
        end = self.sc.duration_ns
        if progress is None:
            self.clock.run(end)
        else:
            report = _progress_reporter(progress)
            chunks = 100
            for i in range(1, chunks + 1):
                self.clock.run(end * i // chunks)
                report(i / chunks, self.events)
        self._at(end)
        self._drain()
        for agent in self.agents:
            hook = getattr(agent, "on_stop", None)
            if hook is not None:
                hook(self.ctx, end)
        if self.check != "none":
            self.ex.check_invariants()
        fund = self.liquidation.fund_acct if self.liquidation is not None else None
        if fund is not None:        # the venue's own account: not a trader of any population
            self.ctx.roles["insurance_fund"] = np.array([fund], np.int64)
        self.wall_s = time.perf_counter() - t0

    def equity_end(self) -> np.ndarray:
        """Equity of every account now (wallet + isolated buckets + uPnL at the mark), atoms.
        O(accounts × instruments) numpy."""
        return self.account_values()[0]

    def account_values(self) -> tuple[np.ndarray, np.ndarray]:
        """(equity, unrealised PnL at the mark) of every account now, atoms."""
        arr = self.core.arrays()
        mark = arr["mark"].astype(np.int64)
        k = arr["k"].astype(np.int64)
        upnl = arr["size"] * (mark * k)[:, None] - arr["cost"]
        upnl[:, :] = np.where(arr["size"] != 0, upnl, 0)
        u = upnl.sum(axis=0)
        return arr["wallet"] + arr["iso"].sum(axis=0) + u, u

    def series(self) -> dict[str, np.ndarray]:
        out = {}
        for c in SERIES_COLUMNS:
            out[c] = np.asarray(self._series[c], dtype=np.float64 if c == "vol_ratio" else np.int64)
        for a in self._strategies:
            for c in STRATEGY_SERIES:
                out[c.format(a.name)] = np.asarray(self._series[c.format(a.name)], np.int64)
        return out

    def info(self) -> dict[str, Any]:
        from exchange.export import raw_scales

        spec = self.spec
        return dict(
            symbol=self.sc.symbol, preset=self.preset.name, tick_size=float(spec.tick_size),
            lot_size=float(spec.lot_size), atoms_per_tick_lot=int(spec.atoms_per_tick_lot),
            settle_decimals=int(spec.settle_decimals), settle_asset=str(spec.settle),
            scales=raw_scales(spec),
            insurance_initial_atoms=int(self.preset.liquidation.insurance_fund_atoms),
            backstop_capital_atoms=int(self.preset.liquidation.backstop_capital_atoms),
            backstop_account=self.backstop_account(), duration_ns=self.sc.duration_ns,
            insurance_account=(self.liquidation.fund_acct if self.liquidation is not None
                               else None),
            roles={k: v.tolist() for k, v in self.ctx.roles.items()},
            agents=self.sc.n_agents, orders_submitted=self.gateway.submitted,
            cancels=self.gateway.canceled, clock_events=self.clock.processed,
            shocks=[dict(type=s.type, at_ns=s.at_ns, duration_ns=s.duration_ns,
                         **{k: v for k, v in s.params.items()}) for s in self.sc.shocks],
            description=self.sc.description)


def run(scenario, seed: int = 0, waterfall=None, out_dir=None, *, check: str = "end",
        progress: Callable[[float], None] | None = None, keep_journal: bool = True,
        report: bool = True, overrides: dict | None = None,
        prepare: Callable[[Simulation], None] | None = None,
        journal: str | None = None) -> RunResult:
    """Run ``scenario`` (a :class:`Scenario`, a built-in name or a TOML path) with ``seed``,
    optionally through another ``waterfall`` (a sequence of module names), and return its
    :class:`RunResult`. With ``out_dir``: the journal (Parquet, one file per event type),
    the time series, metrics.json and (``report=True``) report.html are written there.

    ``journal``: None holds every record in memory until the end (``result.journal`` when
    ``keep_journal``); ``"full"``, ``"events"`` or ``"none"`` streams them instead, in memory
    proportional to the live state: the event tables go to ``out_dir/journal/`` as row
    groups while the run goes (all of them, all but the order flow, none), ``result.journal``
    is None and ``result.journal_sha256()`` is the hash of every record
    (:data:`~exchange.sim.journal.JOURNAL_MODES`); the order flow the stylized facts need is
    folded as it streams (``result.facts_fold``), so the report still has them.

    ``check``: ``"end"`` checks the venue's invariants (conservation of money, positions net
    to zero, books sound) after the run, ``"step"`` at every recorded step, ``"none"`` never.
    ``prepare(sim)`` runs on the built :class:`Simulation` before it starts.
    ``progress(fraction)`` is called as simulated time passes (100 times a run); a callable
    with a second parameter gets the events journaled so far too.

    ``result.agents`` holds the PnL of each agent type, ``result.strategies`` that of each
    ``strategy`` population (:func:`~exchange.sim.metrics.account_pnl`).
    """
    from exchange.sim.metrics import JournalSummary, account_pnl, compute_metrics, plot_data

    sc = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    if overrides:
        sc = sc.with_overrides(overrides)
    if waterfall is not None and isinstance(waterfall, str):
        waterfall = [w.strip() for w in waterfall.split(",") if w.strip()]
    jdir = Path(out_dir) / "journal" if out_dir is not None and journal is not None else None
    sim = Simulation(sc, seed, waterfall, check=check, journal=journal, journal_dir=jdir,
                     fold_facts=journal is not None)
    if prepare is not None:
        prepare(sim)
    sim.run(progress)
    if journal is None:
        records = sim.ex.journal()
        summary = JournalSummary.of(records)
        files: dict[str, str] = {}
    else:
        records = None
        files = sim.finish_journal()
        summary = sim.summary
    series = sim.series()
    info = sim.info()
    equity, upnl = sim.account_values()
    metrics = compute_metrics(summary, series, info, equity)
    agents = {role: account_pnl(summary, accts, equity, upnl, info)
              for role, accts in sim.ctx.roles.items()}
    strategies = {a.name: {"class": a.strategy_class.__name__,
                           **account_pnl(summary, a.accounts, equity, upnl, info)}
                  for a in sim.agents if getattr(a, "kind", None) == "strategy"}
    kept = records if records is not None and (keep_journal or out_dir) else None
    result = RunResult(scenario=sc.name, seed=int(seed), waterfall=sim.waterfall, metrics=metrics,
                       series=series, journal=kept, events=summary.events, wall_s=sim.wall_s,
                       sim_s=sc.duration_ns / NS_PER_S, info=info,
                       plot=plot_data(summary, series, info), agents=agents,
                       strategies=strategies,
                       journal_hash=sim.digest.hexdigest() if sim.digest is not None else None,
                       facts_fold=sim.facts_fold)
    if out_dir is not None:
        write_outputs(result, out_dir, report=report)
        result.files = {**files, **result.files}
    if not keep_journal:
        result.journal = None
    return result


def write_outputs(result: RunResult, out_dir, *, report: bool = True) -> dict[str, str]:
    """Write journal/, series.parquet, metrics.json (and report.html) under ``out_dir``."""
    from exchange.sim.journal import write_journal, write_series

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files = {}
    if result.journal is not None:
        files.update(write_journal(result.journal, out / "journal",
                                   scales=(result.info or {}).get("scales")))
    files["series"] = str(write_series(result.series, out / "series.parquet"))
    meta = dict(scenario=result.scenario, seed=result.seed, waterfall=list(result.waterfall),
                events=result.events, wall_s=round(result.wall_s, 3), sim_s=result.sim_s,
                metrics=result.metrics, agents=result.agents, strategies=result.strategies,
                info={k: v for k, v in result.info.items() if k != "roles"})
    (out / "metrics.json").write_text(json.dumps(meta, indent=1, default=_json_default))
    files["metrics"] = str(out / "metrics.json")
    if report:
        from exchange.report import write_run_report

        files["report"] = str(write_run_report(result, out / "report.html"))
    result.files = files
    return files


def _json_default(o):
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


