"""Populations of a world (:mod:`exchange.sim.world`) that trade several markets at once.

- :class:`PortfolioTraders`: each account holds a portfolio across the instruments of one
  venue (weights per asset, signed: long or short), in cross margin (one wallet, the
  maintenance margins pooled: a loss on one leg eats the margin of the others) or isolated
  (one margin bucket per leg), entered with IOC limits and held. In a crash the venue's own
  cross-margin check liquidates a cross portfolio when its account equity falls below the
  pooled maintenance margin, which its worst leg usually causes.
- :class:`CrossVenueArbitrageurs`: one account on each of two venues trading one asset; when
  the books' mids differ by more than their cost (``entry_bps``) they sell the rich venue and
  buy the cheap one, and unwind when the basis closes (``exit_bps``): the force that ties the
  venues' prices together and carries a cascade on one venue to the other.

Both take the world (:class:`~exchange.sim.world.World`) where market agents take a
:class:`~exchange.sim.context.SimContext`; they reach each market through its simulation's
context and gateway.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from exchange.sim.agents import _COMMON, _capital, _protected, _reference_ticks
from exchange.sim.config import Param, choice, fail, integer, money, number, read_table
from exchange.sim.context import latency_ns
from exchange.sim.gateway import IOC, LIMIT, SUBMIT, OrderBatch
from exchange._enums import EventKind
from exchange.sim.metrics import K_FILLED, K_TRIGGERED

#: MARGIN_CALL records (an account crossed its maintenance margin)
K_MARGIN_CALL = int(EventKind.MARGIN_CALL)

__all__ = ["PortfolioTraders", "CrossVenueArbitrageurs", "CrossInstrumentArbitrageurs",
           "world_agent_class", "WORLD_AGENTS"]

NS_PER_S = 1_000_000_000
NS_PER_MS = 1_000_000
_NEVER = np.iinfo(np.int64).max


def _weights(source: str, key: str, v: Any) -> dict[str, float]:
    if not isinstance(v, dict) or not v:
        raise fail(source, key, "a table asset = weight (e.g. {BTC = 0.5, SOL = 0.5})", v)
    out = {}
    for a, w in v.items():
        if isinstance(w, bool) or not isinstance(w, (int, float)) or not np.isfinite(w):
            raise fail(source, f"{key}.{a}", "a finite number (negative: short)", w)
        out[str(a)] = float(w)
    if sum(abs(w) for w in out.values()) <= 0:
        raise fail(source, key, "weights with a non-zero sum of |weight|", v)
    return out


def _name(source: str, key: str, v: Any) -> str:
    if not isinstance(v, str) or not v:
        raise fail(source, key, "a name", v)
    return v


def _names2(source: str, key: str, v: Any) -> tuple[str, str]:
    if not isinstance(v, list) or len(v) != 2 or not all(isinstance(x, str) for x in v) \
            or v[0] == v[1]:
        raise fail(source, key, "two different venue names", v)
    return (v[0], v[1])


class _WorldPopulation:
    kind = "world"
    PARAMS: dict[str, Param] = {}

    def __init__(self, name: str, params: dict[str, Any], rng: np.random.Generator) -> None:
        self.name, self.p, self.rng = name, params, rng
        self.n = int(params["count"])
        self._accounts: dict[str, np.ndarray] = {}

    @classmethod
    def parse(cls, source: str, path: str, table: dict) -> dict:
        schema = {**_COMMON, **cls.PARAMS}
        if isinstance(table, dict):
            table = {**{k: v.default for k, v in schema.items()
                        if v.conv is money and k not in table}, **table}
        schema = {k: (Param(money(6), v.default, v.help) if v.conv is money else v)
                  for k, v in schema.items()}
        return read_table(source, path, table, schema)

    def accounts_on(self, venue: str) -> np.ndarray | None:
        """This population's accounts on ``venue`` (None: it has none there)."""
        return self._accounts.get(venue)

    def _open(self, world, venue: str, capital: np.ndarray) -> np.ndarray:
        ctx = world.venue(venue).sims[0].ctx
        ids = ctx.open_accounts(capital, None, role=self.name)
        self._accounts[venue] = ids
        return ids

    def report(self, venue, records: np.ndarray) -> dict[str, Any]:
        return {}


class PortfolioTraders(_WorldPopulation):
    """Leveraged portfolios across the instruments of one venue (see the module docs)."""

    kind = "portfolio"
    PARAMS = {
        "venue": Param(_name, None, "venue of the portfolios (default: the first)"),
        "capital": Param(money, "20000", "median capital"),
        "capital_sigma": Param(number(0.0, 3.0), 0.8, "log-sd of capital"),
        "leverage": Param(integer(1, 200), 10, "leverage setting of every leg"),
        "weights": Param(_weights, None, "asset = weight (negative: short); default equal longs"),
        "margin_mode": Param(choice("cross", "isolated"), "cross", "margin mode of every leg"),
        "usage": Param(number(0.0, 1.0, lo_open=True), 0.8, "share of equity used as margin"),
        "start_s": Param(number(0.0, 86400.0), 20.0, "entries begin after this"),
        "warmup_s": Param(number(0.0, 86400.0), 60.0, "entries spread over this window"),
        "max_slippage_bps": Param(number(0.0, 1000.0, lo_open=True), 30.0,
                                  "entry IOC limit distance from the book mid"),
        "check_ms": Param(number(1.0, 3_600_000.0), 2000.0, "cadence of the entry retries"),
        "fill_s": Param(number(0.0, 86400.0), 60.0, "how long unfilled legs are sent again"),
        "cohort": Param(_name, None, "populations of one cohort draw the same capitals, "
                        "latencies and entry times (compare margin modes like for like)"),
    }

    def setup(self, world, ts_ns: int) -> int | None:
        p = self.p
        if self.n == 0:
            return None
        if p["cohort"]:
            self.rng = world.rng(f"cohort:{p['cohort']}")
        self.venue_name = p["venue"] or world.venues[0].spec.name
        v = world.venue(self.venue_name)
        weights = p["weights"] or {a: 1.0 for a in v.by_asset}
        for a in weights:
            if a not in v.by_asset:
                raise fail(world.w.source, f"population.{self.name}.weights.{a}",
                           f"an asset traded on venue {self.venue_name!r} ("
                           f"{', '.join(v.by_asset)})", a)
        total = sum(abs(w) for w in weights.values())
        self.legs = [(v.by_asset[a], w / total) for a, w in weights.items() if w != 0]
        self.capital = _capital(self.rng, self.n, p["capital"], p["capital_sigma"])
        ids = self._open(world, self.venue_name, self.capital)
        core = v.ex.core
        self.lev = {}
        for sim, _w in self.legs:
            L = min(int(p["leverage"]), sim.ctx.max_leverage)
            self.lev[sim.instr] = L
            for a in ids.tolist():
                core.set_leverage(a, sim.instr, L)
                if p["margin_mode"] == "isolated":
                    core.set_margin_mode(a, sim.instr, 1)
        self.lat = latency_ns(self.rng, self.n, p["latency_ms"], p["latency_jitter"])
        self.entry_at = ts_ns + int(p["start_s"] * NS_PER_S) + (
            self.rng.random(self.n) * p["warmup_s"] * NS_PER_S).astype(np.int64)
        self.entered = np.zeros(self.n, bool)
        self.target = np.zeros((len(self.legs), self.n), np.int64)    # lots per leg
        self.until = np.zeros(self.n, np.int64)
        self.busy = np.zeros(self.n, np.int64)
        self.check_ns = max(1, int(p["check_ms"] * NS_PER_MS))
        return int(self.entry_at.min())

    def wake(self, world, ts_ns: int) -> int | None:
        """Enter the due portfolios; then, every ``check_ms`` until ``fill_s`` after each
        entry, send again what the IOC orders of a leg left unfilled (thin alt books)."""
        p = self.p
        due = ~self.entered & (self.entry_at <= ts_ns)
        idx = np.flatnonzero(due)
        accts_all = self._accounts[self.venue_name]
        if idx.shape[0]:
            eq = self.legs[0][0].ctx.arrays()["wallet"][accts_all[idx]].astype(np.float64)
            for j, (sim, w) in enumerate(self.legs):
                ctx = sim.ctx
                mark = ctx.market.mark_ticks
                if mark <= 0:
                    continue
                L = self.lev[sim.instr]
                notional = np.minimum(eq * p["usage"] * abs(w) * L, ctx.notional_cap_atoms(L) * 0.98)
                self.target[j, idx] = np.floor(notional / (mark * ctx.k)).astype(np.int64)
            self.entered[idx] = True
            self.until[idx] = ts_ns + int(p["fill_s"] * NS_PER_S)
        live = np.flatnonzero(self.entered & (self.until >= ts_ns) & (self.busy <= ts_ns))
        if live.shape[0]:
            accts = accts_all[live]
            for j, (sim, w) in enumerate(self.legs):
                ctx = sim.ctx
                have = np.abs(ctx.arrays()["size"][ctx.instr][accts])
                left = self.target[j, live] - have
                go = left > np.maximum(1, self.target[j, live] // 10)
                if not go.any() or ctx.market.mark_ticks <= 0:
                    continue
                buy = w > 0
                limit = _protected(_reference_ticks(ctx), np.full(int(go.sum()), buy),
                                   p["max_slippage_bps"])
                ctx.send(OrderBatch(ts_ns + self.lat[live[go]], accts[go], kind=SUBMIT,
                                    side=0 if buy else 1, qty=left[go], price=limit,
                                    otype=LIMIT, tif=IOC), results=False)
            self.busy[live] = ts_ns + self.check_ns
        pending = self.entry_at[~self.entered]
        nxt = [int(pending.min())] if pending.shape[0] else []
        if (self.entered & (self.until > ts_ns)).any():
            nxt.append(ts_ns + self.check_ns)
        return min(nxt) if nxt else None

    def report(self, venue, records: np.ndarray) -> dict[str, Any]:
        """Liquidations of the portfolios, by symbol: ``legs_in_liquidation`` the legs of
        liquidated accounts taken into a liquidation case (a cross case takes every leg of the
        account), ``worst_leg`` the leg with the largest loss at the account's first trigger
        (its size times the mark's move from its average entry), ``first_margin_call`` the
        instrument whose mark first put the account below maintenance."""
        accts = self._accounts.get(venue.spec.name)
        if accts is None:
            return {}
        sym = venue.ex.symbols
        k = np.asarray([int(s.atoms_per_tick_lot) for s in venue.ex.specs], np.int64)
        mine = records[np.isin(records["acct"], accts)]
        trig = mine[mine["kind"] == K_TRIGGERED]
        calls = mine[(mine["kind"] == K_TRIGGERED) | (mine["kind"] == K_MARGIN_CALL)]
        fills = mine[mine["kind"] == K_FILLED]
        first_call: dict[str, int] = {}
        worst: dict[str, int] = {}
        legs: dict[str, int] = {}
        seen: set[int] = set()
        for a in np.unique(trig["acct"]).tolist():
            ta = trig[trig["acct"] == a]
            t0 = int(ta["ts"].min())
            rows = ta[ta["ts"] == t0]
            ca = calls[calls["acct"] == a]
            fc = sym[int(ca["instr"][0])]
            first_call[fc] = first_call.get(fc, 0) + 1
            fa = fills[(fills["acct"] == a) & (fills["ts"] < t0)]
            losses = {}
            for i, q, mark in zip(rows["instr"].tolist(), rows["qty"].tolist(),
                                  rows["price"].tolist()):
                fi = fa[fa["instr"] == i]
                if not fi.shape[0] or not q:
                    continue
                entry = float((fi["qty"] * fi["price"]).sum()) / float(fi["qty"].sum())
                losses[i] = q * (mark - entry) * k[i]
            if losses:
                w = sym[min(losses, key=losses.get)]
                worst[w] = worst.get(w, 0) + 1
            seen.add(a)
        for i in np.unique(trig["instr"]).tolist():
            legs[sym[i]] = int(np.unique(trig["acct"][trig["instr"] == i]).shape[0])
        return {"margin_mode": self.p["margin_mode"], "liquidated_accounts": len(seen),
                "worst_leg": worst, "first_margin_call": first_call,
                "legs_in_liquidation": legs}


class CrossVenueArbitrageurs(_WorldPopulation):
    """Cross-venue basis arbitrage on one asset (see the module docs)."""

    kind = "cross_venue_arb"
    PARAMS = {
        "asset": Param(_name, "BTC", "the asset traded on both venues"),
        "venues": Param(_names2, None, "the two venues (default: the first two)"),
        "capital": Param(money, "2000000", "capital per account (one on each venue)"),
        "leverage": Param(integer(1, 100), 5, "leverage setting of both legs"),
        "entry_bps": Param(number(0.0, 1000.0, lo_open=True), 15.0,
                           "mid-to-mid basis that opens (or adds to) a position"),
        "exit_bps": Param(number(0.0, 1000.0), 3.0, "basis at which the position is unwound"),
        "clip": Param(number(0.0, 1e9, lo_open=True), 0.5, "largest order (base units)"),
        "max_position": Param(number(0.0, 1e9, lo_open=True), 5.0, "position cap (base units)"),
        "check_ms": Param(number(1.0, 3_600_000.0), 500.0, "decision cadence"),
        "start_s": Param(number(0.0, 86400.0), 10.0, "first decision after this"),
        "dispersion": Param(number(0.0, 3.0), 0.3, "log-sd of per-trader thresholds"),
        "max_slippage_bps": Param(number(0.0, 1000.0, lo_open=True), 10.0,
                                  "IOC limit distance from the touch"),
    }

    def setup(self, world, ts_ns: int) -> int | None:
        p = self.p
        if self.n == 0:
            return None
        names = p["venues"] or tuple(v.spec.name for v in world.venues[:2])
        if len(names) < 2:
            raise fail(world.w.source, f"population.{self.name}.venues",
                       "two venues (the world has one)", list(names))
        self.legs = []
        for vn in names:
            v = world.venue(vn)
            if p["asset"] not in v.by_asset:
                raise fail(world.w.source, f"population.{self.name}.asset",
                           f"an asset traded on venue {vn!r}", p["asset"])
            sim = v.by_asset[p["asset"]]
            ids = self._open(world, vn, np.full(self.n, p["capital"], np.int64))
            L = min(int(p["leverage"]), sim.ctx.max_leverage)
            for a in ids.tolist():
                v.ex.core.set_leverage(a, sim.instr, L)
            self.legs.append((sim, ids))
        return self._start(ts_ns)

    def _start(self, ts_ns: int) -> int:
        """After the legs are set up: latencies, per-trader thresholds; the first wake-up."""
        p = self.p
        self.lat = latency_ns(self.rng, self.n, p["latency_ms"], p["latency_jitter"])
        f = np.exp(p["dispersion"] * self.rng.standard_normal(self.n))
        self.entry = p["entry_bps"] * f
        self.exit = np.minimum(p["exit_bps"] * f, self.entry * 0.5)
        self.check_ns = max(1, int(p["check_ms"] * NS_PER_MS))
        self.busy_until = np.zeros(self.n, np.int64)
        self.trades = 0
        return ts_ns + int(p["start_s"] * NS_PER_S)

    @staticmethod
    def _mid(ctx) -> float | None:
        book = ctx.book()
        bb, ba = book.best_bid(), book.best_ask()
        if not bb or not ba or ba <= bb:
            return None
        return (bb + ba) / 2.0 * ctx.tick_size

    def wake(self, world, ts_ns: int) -> int | None:
        nxt = ts_ns + self.check_ns
        (sa, ia), (sb, ib) = self.legs
        ca, cb = sa.ctx, sb.ctx
        ma, mb = self._mid(ca), self._mid(cb)
        if ma is None or mb is None or ca.market.stale or cb.market.stale:
            return nxt
        basis = self._basis(ca, cb, ma, mb)
        pos_a = ca.arrays()["size"][ca.instr][ia] * ca.lot_size      # base units
        pos_b = cb.arrays()["size"][cb.instr][ib] * cb.lot_size
        ready = self.busy_until <= ts_ns
        cap, clip = self.p["max_position"], self.p["clip"]
        delta = np.zeros(self.n)
        sell_a = ready & (basis > self.entry) & (pos_a > -cap)
        buy_a = ready & (basis < -self.entry) & (pos_a < cap)
        delta[sell_a] = -np.minimum(clip, cap + pos_a[sell_a])
        delta[buy_a] = np.minimum(clip, cap - pos_a[buy_a])
        close = ready & (np.abs(basis) < self.exit) & (pos_a != 0)
        delta[close] = -np.sign(pos_a[close]) * np.minimum(clip, np.abs(pos_a[close]))
        target_a = pos_a + delta
        # leg B hedges leg A's position after this order (and repairs a leg that missed)
        need_b = -target_a * self._hedge_ratio(ma, mb) - pos_b
        slip = self.p["max_slippage_bps"]
        for ctx, accts, d in ((ca, ia, delta), (cb, ib, need_b)):
            lots = np.floor(np.abs(d) / ctx.lot_size + 1e-9).astype(np.int64)
            go = ready & (lots > 0)
            if not go.any():
                continue
            book = ctx.book()
            bb, ba = book.best_bid(), book.best_ask()
            ref = _reference_ticks(ctx)
            buy = d[go] > 0
            touch = np.where(buy, ba or ref, bb or ref)
            limit = np.where(buy, np.ceil(touch * (1 + slip * 1e-4)),
                             np.floor(touch * (1 - slip * 1e-4))).astype(np.int64)
            ctx.send(OrderBatch(ts_ns + self.lat[go], accts[go], kind=SUBMIT,
                                side=np.where(buy, 0, 1), qty=lots[go], price=limit,
                                otype=LIMIT, tif=IOC), results=False)
            self.trades += int(go.sum())
        moved = ready & ((np.abs(delta) > 0) | (np.abs(need_b) >= cb.lot_size))
        self.busy_until[moved] = ts_ns + self.check_ns + self.lat[moved]
        return nxt

    def _basis(self, ca, cb, ma: float, mb: float) -> float:
        """What the arbitrageur trades, bp: leg A's book mid over leg B's."""
        return (ma / mb - 1.0) * 1e4

    def _hedge_ratio(self, ma: float, mb: float) -> float:
        """Base units of leg B per base unit of leg A (the same asset: 1)."""
        return 1.0

    def report(self, venue, records: np.ndarray) -> dict[str, Any]:
        accts = self._accounts.get(venue.spec.name)
        if accts is None:
            return {}
        return {"orders": self.trades, "accounts": int(len(accts))}


class CrossInstrumentArbitrageurs(CrossVenueArbitrageurs):
    """Relative-value arbitrage between two instruments of one venue, in one cross-margined
    account: when leg A's perp trades rich to its index against leg B's (the premiums
    differ by more than ``entry_bps``) it sells A and buys B for the same notional, and
    unwinds when the premiums meet (``exit_bps``); ``clip``/``max_position`` are in leg A's
    base units. Its hedge pools the legs' margin: the position cross margin exists for."""

    kind = "cross_instrument_arb"
    PARAMS = {**{k: v for k, v in CrossVenueArbitrageurs.PARAMS.items()
                 if k not in ("asset", "venues")},
              "venue": Param(_name, None, "the venue (default: the first)"),
              "assets": Param(lambda s, k, v: _names2(s, k, v), ("BTC", "ETH"),
                              "the two assets (legs A and B)")}

    def setup(self, world, ts_ns: int) -> int | None:
        p = self.p
        if self.n == 0:
            return None
        vn = p["venue"] or world.venues[0].spec.name
        v = world.venue(vn)
        for a in p["assets"]:
            if a not in v.by_asset:
                raise fail(world.w.source, f"population.{self.name}.assets",
                           f"assets traded on venue {vn!r} ({', '.join(v.by_asset)})",
                           list(p["assets"]))
        ids = self._open(world, vn, np.full(self.n, p["capital"], np.int64))
        self.legs = []
        for a in p["assets"]:
            sim = v.by_asset[a]
            L = min(int(p["leverage"]), sim.ctx.max_leverage)
            for acct in ids.tolist():
                v.ex.core.set_leverage(acct, sim.instr, L)
            self.legs.append((sim, ids))
        return self._start(ts_ns)

    def _basis(self, ca, cb, ma: float, mb: float) -> float:
        ia, ib = ca.market.index_ticks * ca.tick_size, cb.market.index_ticks * cb.tick_size
        if ia <= 0 or ib <= 0:
            return 0.0
        return ((ma / ia) / (mb / ib) - 1.0) * 1e4

    def _hedge_ratio(self, ma: float, mb: float) -> float:
        return ma / mb


WORLD_AGENTS: dict[str, type] = {"portfolio": PortfolioTraders,
                                 "cross_venue_arb": CrossVenueArbitrageurs,
                                 "cross_instrument_arb": CrossInstrumentArbitrageurs}


def world_agent_class(kind: str, source: str = "world", key: str = "type") -> type:
    """The world population class of ``kind`` (:data:`WORLD_AGENTS`)."""
    if kind == "portfolio_strategy":
        from exchange.sim.portfolio_strategy import PortfolioStrategyAgent

        return PortfolioStrategyAgent
    try:
        return WORLD_AGENTS[kind]
    except (KeyError, TypeError):
        raise fail(source, key, "a world population type (" + ", ".join([*WORLD_AGENTS, "portfolio_strategy"])
                   + ")",
                   kind) from None
