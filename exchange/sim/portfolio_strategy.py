"""The strategy API over portfolios: one strategy trading several instruments and venues of a
world (:mod:`exchange.sim.world`), plus a spot holding.

Write a :class:`PortfolioStrategy` (its parameters are class attributes, as for
:class:`~exchange.sim.strategy.Strategy`); the world gives it one account per venue (``deposit``
each, ``leverage`` and ``margin_mode`` on every instrument) and a spot wallet
(``spot_deposit``). Its callbacks receive a :class:`PortfolioAPI`::

    class Carry(PortfolioStrategy):
        def on_tick(self, book):
            perp = book.leg("binance", "BTC")          # a StrategyAPI: venue and instrument
            if not perp.position.size:
                perp.market("sell", 1)
                book.spot_buy("BTC", 1)                 # at the index

Order, fill, liquidation and funding callbacks (``on_fill(leg, fill)`` ...) receive the
leg's :class:`~exchange.sim.strategy.StrategyAPI` (``leg.venue``, ``leg.symbol``, ``leg.asset``
name it). Orders go out when the callback returns, each leg's after its latency, as in the
single-market API. ``book.margin(venue)`` is the venue account's balance,
``book.equity()`` the whole portfolio (every venue's equity plus the spot wallet at the index).

Run one with ``perpsim run WORLD --strategy file.py:Class`` or :func:`run_portfolio_strategy`.
"""
from __future__ import annotations

import functools
from decimal import Decimal
from typing import Any
from collections.abc import Mapping

import numpy as np

from exchange.errors import ConfigError, InvalidCommandError, invalid
from exchange.sim.strategy import (NS_PER_MS, Strategy, StrategyAgent, StrategyAPI,
                               load_strategy_class)

__all__ = ["PortfolioStrategy", "PortfolioAPI", "PortfolioStrategyAgent",
           "run_portfolio_strategy"]


class PortfolioStrategy(Strategy):
    """Base class of a strategy over several markets (see the module docs). ``deposit`` is
    per venue; ``spot_deposit`` funds the spot wallet; ``spot_fee_rate`` is charged on spot
    trades (at the index)."""

    deposit: Any = "100000"
    spot_deposit: Any = "0"
    spot_fee_rate: float = 0.001

    def on_start(self, book: PortfolioAPI) -> None:
        pass

    def on_tick(self, book: PortfolioAPI) -> None:
        pass

    def on_stop(self, book: PortfolioAPI) -> None:
        pass


class _Leg(StrategyAgent):
    """One market of a portfolio strategy: the single-market machinery (latency, delivery,
    order tracking) on the venue account the portfolio shares across the venue's markets."""

    def __init__(self, owner: PortfolioStrategyAgent, sim, account: int, latency_ns: int,
                 rng: np.random.Generator, venue: str, asset: str) -> None:
        self.name = owner.name
        self.p = {}
        self.rng = rng
        self.owner = owner
        self.strategy = owner.strategy
        self.strategy_class = type(owner.strategy)
        self.accounts = np.array([account], np.int64)
        self._ctx = sim.ctx
        self._responses: set[int] = set()
        self._inbox: list[np.ndarray] = []
        self._deliveries: set[int] = set()
        self.interval_ns = 0
        self.instr = sim.instr
        self.api = StrategyAPI(self, sim.ctx, account, latency_ns, rng)
        self.api.venue = venue
        self.api.asset = asset
        self.first = False          # the venue's first leg also hears of account-wide records

    def _mine(self, records: np.ndarray) -> np.ndarray:
        """The account's records of this leg's instrument (the venue's first leg also takes
        the account-wide ones: deposits, transfers)."""
        instr = records["instr"]
        return super()._mine(records) & ((instr == self.instr) | ((instr < 0) & self.first))


class PortfolioAPI:
    """What a :class:`PortfolioStrategy`'s ``on_start``/``on_tick``/``on_stop`` receive."""

    def __init__(self, agent: PortfolioStrategyAgent, world) -> None:
        self._agent = agent
        self._world = world
        self.spot_cash = Decimal(str(agent.strategy.spot_deposit))
        self.spot: dict[str, Decimal] = {}
        self.spot_fees = Decimal(0)

    @property
    def now(self) -> int:
        return int(self._world.clock.now_ns)

    @property
    def legs(self) -> dict[tuple[str, str], StrategyAPI]:
        """(venue, asset) → the leg's :class:`~exchange.sim.strategy.StrategyAPI`."""
        return {k: leg.api for k, leg in self._agent.legs.items()}

    @property
    def venues(self) -> list[str]:
        return list(self._agent.account_of)

    @property
    def assets(self) -> list[str]:
        return list(self._world.w.assets)

    def leg(self, venue: str, asset_or_symbol: str) -> StrategyAPI:
        """The leg of ``venue`` trading ``asset_or_symbol`` (``"BTC"`` or ``"BTCUSDT"``)."""
        for (v, a), leg in self._agent.legs.items():
            if v == venue and asset_or_symbol in (a, leg.api.symbol):
                return leg.api
        raise invalid("leg", "a (venue, asset) of the strategy: " + ", ".join(
            f"({v}, {a})" for v, a in self._agent.legs), (venue, asset_or_symbol))

    def index(self, asset: str) -> Decimal:
        """The asset's index price now (its path in the world's factor model)."""
        if asset not in self._world.w.assets:
            raise invalid("asset", "an asset of the world (" + ", ".join(self.assets) + ")",
                          asset)
        p = self._world.factor.prices_at(self.now)[asset]
        return Decimal(repr(p)).quantize(Decimal("0.00000001"))

    def margin(self, venue: str):
        """The venue account's :class:`~exchange.venue.Balance` (``wallet``, ``equity``,
        ``available``, ``maintenance_margin``, ``margin_ratio``)."""
        if venue not in self._agent.account_of:
            raise invalid("venue", "a venue of the strategy (" + ", ".join(self.venues) + ")",
                          venue)
        return self._world.venue(venue).ex.balance(self._agent.account_of[venue])

    def set_leverage(self, venue: str, asset_or_symbol: str, leverage: int) -> None:
        """Set the leverage of one leg (the venue's tier maximum caps it)."""
        leg = self.leg(venue, asset_or_symbol)
        if isinstance(leverage, bool) or not isinstance(leverage, int) or leverage < 1:
            raise invalid("leverage", "an integer >= 1", leverage)
        L = min(int(leverage), leg._ctx.max_leverage)
        self._world.venue(venue).ex.core.set_leverage(leg.account, leg._instr, L)

    # -- spot --
    def _spot(self, asset: str, qty, sign: int) -> None:
        q = Decimal(str(qty))
        if not q.is_finite() or q <= 0:
            raise invalid("qty", "> 0", qty)
        px = self.index(asset)
        fee = q * px * Decimal(str(self._agent.strategy.spot_fee_rate))
        held = self.spot.get(asset, Decimal(0))
        if sign > 0 and q * px + fee > self.spot_cash:
            raise InvalidCommandError(f"'qty' must cost at most the spot cash {self.spot_cash} "
                                      f"(got {q} {asset} at {px} plus fee {fee})")
        if sign < 0 and q > held:
            raise InvalidCommandError(f"'qty' must be at most the spot holding {held} "
                                      f"{asset} (got {q})")
        self.spot[asset] = held + sign * q
        self.spot_cash += -sign * q * px - fee
        self.spot_fees += fee

    def spot_buy(self, asset: str, qty) -> None:
        """Buy ``qty`` of ``asset`` spot at the index (plus ``spot_fee_rate``)."""
        self._spot(asset, qty, 1)

    def spot_sell(self, asset: str, qty) -> None:
        self._spot(asset, qty, -1)

    def spot_value(self) -> Decimal:
        """Spot cash plus holdings at the index."""
        return self.spot_cash + sum((q * self.index(a) for a, q in self.spot.items()),
                                    Decimal(0))

    def equity(self) -> Decimal:
        """Every venue account's equity plus the spot wallet at the index."""
        return sum((self.margin(v).equity for v in self.venues), Decimal(0)) + self.spot_value()


class PortfolioStrategyAgent:
    """World population ``portfolio_strategy``: one :class:`PortfolioStrategy` over the
    markets of ``venues`` (default every venue) and ``assets`` (default every asset)."""

    kind = "portfolio_strategy"

    def __init__(self, name: str, params: dict[str, Any], rng: np.random.Generator) -> None:
        self.name, self.p, self.rng = name, params, rng
        self.strategy_class = load_strategy_class(params["class"])
        self.strategy: PortfolioStrategy = self.strategy_class(**params.get("values", {}))
        self.n = 1
        self.legs: dict[tuple[str, str], _Leg] = {}
        self.account_of: dict[str, int] = {}
        self.api: PortfolioAPI | None = None
        self._closed = False

    @classmethod
    def parse(cls, source: str, path: str, table: dict) -> dict:
        if not isinstance(table, dict):
            raise ConfigError.for_key(source, path, "a TOML table", table)
        rest = dict(table)
        kind = rest.pop("type", cls.kind)
        spec = rest.pop("class", None)
        venues = rest.pop("venues", None)
        assets = rest.pop("assets", None)
        for key, v in (("venues", venues), ("assets", assets)):
            if v is not None and (not isinstance(v, list) or not v
                                  or not all(isinstance(x, str) for x in v)):
                raise ConfigError.for_key(source, f"{path}.{key}", "a list of names", v)
        scls = load_strategy_class(spec, source, f"{path}.class")
        if not issubclass(scls, PortfolioStrategy):
            raise ConfigError.for_key(source, f"{path}.class", "a PortfolioStrategy subclass "
                                      "(exchange.sim.portfolio_strategy) in a world", spec)
        values = scls.validate_params(rest, source, path)
        return {"type": kind, "class": spec, "count": 1, "values": values,
                "venues": tuple(venues) if venues else None, "assets": assets}

    def use(self, strategy: PortfolioStrategy) -> None:
        if not isinstance(strategy, PortfolioStrategy):
            raise invalid("strategy", "a PortfolioStrategy instance", strategy)
        self.strategy = strategy
        self.strategy_class = type(strategy)

    def accounts_on(self, venue: str) -> np.ndarray | None:
        a = self.account_of.get(venue)
        return None if a is None else np.array([a], np.int64)

    def setup(self, world, ts_ns: int) -> int | None:
        s = self.strategy
        venues = self.p.get("venues") or [v.spec.name for v in world.venues]
        assets = self.p.get("assets")
        latency = max(1_000, int(round(float(s.latency_ms) * NS_PER_MS)))
        for vn in venues:
            v = world.venue(vn)
            ctx0 = v.sims[0].ctx
            deposit = ctx0.spec.amount_to_atoms(Decimal(str(s.deposit)))
            acct = int(ctx0.open_accounts(np.array([deposit], np.int64), None, role=self.name)[0])
            self.account_of[vn] = acct
            first = True
            for m, sim in zip(v.spec.markets, v.sims):
                if assets and m.asset not in assets:
                    continue
                L = min(int(s.leverage), sim.ctx.max_leverage)
                v.ex.core.set_leverage(acct, sim.instr, L)
                if s.margin_mode == "isolated":
                    v.ex.core.set_margin_mode(acct, sim.instr, 1)
                leg = _Leg(self, sim, acct, latency, self.rng, vn, m.asset)
                leg.first, first = first, False
                sim.ctx.record_listeners.append(functools.partial(leg.on_records, sim.ctx))
                self.legs[(vn, m.asset)] = leg
        if not self.legs:
            raise ConfigError(f"population {self.name!r}: no market among venues {venues} "
                              f"and assets {assets}")
        self.api = PortfolioAPI(self, world)
        self.interval_ns = max(1, int(round(float(s.interval_ms) * NS_PER_MS)))
        self._world = world
        self._cycle(s.on_start, self.api)
        return ts_ns

    def _cycle(self, fn, *args) -> None:
        fn(*args)
        for leg in self.legs.values():
            api = leg.api
            for _ in range(1000):
                if not api._local:
                    break
                notes, api._local = api._local, []
                for note in notes:
                    self.strategy.on_order(api, note)
            api._resolve()
            api._flush()

    def wake(self, world, ts_ns: int) -> int | None:
        for v in world.venues:
            if v.spec.name in self.account_of:
                v.sims[0].ctx.drain()
        self._cycle(self.strategy.on_tick, self.api)
        return ts_ns + self.interval_ns

    def on_stop(self, world, ts_ns: int) -> None:
        for leg in self.legs.values():
            leg._deliver(ts_ns, everything=True)
            leg.api._closed = True
        self.strategy.on_stop(self.api)

    def report(self, venue, records: np.ndarray) -> dict[str, Any]:
        out: dict[str, Any] = {"class": self.strategy_class.__name__}
        if self.api is not None and venue.spec.name == next(iter(self.account_of)):
            spot0 = Decimal(str(self.strategy.spot_deposit))
            out["spot_pnl"] = float(self.api.spot_value() - spot0)
            out["spot_holdings"] = {a: float(q) for a, q in self.api.spot.items()}
        return out


def run_portfolio_strategy(strategy, world="cross_venue_cascade", seed: int = 0, *,
                           params: Mapping[str, Any] | None = None, name: str = "strategy",
                           overrides: Mapping[str, Any] | None = None, venues=None,
                           assets=None, **run_kw):
    """Run ``strategy`` (a PortfolioStrategy subclass, a ``"file.py:Class"`` spec or an
    instance, kept so you can read its state) in ``world`` with ``seed``; returns the
    :class:`~exchange.sim.world.WorldResult` (``result.populations[name]``: its PnL per
    venue and its spot PnL)."""
    from exchange.sim.world import load_world, run_world

    instance = strategy if isinstance(strategy, PortfolioStrategy) else None
    if instance is not None and params:
        raise invalid("params", "empty when an instance is given (set them on it)", dict(params))
    w = load_world(world)
    if overrides:
        w = w.with_overrides(dict(overrides))
    spec = type(instance) if instance is not None else strategy
    table: dict[str, Any] = {"type": "portfolio_strategy", "class": spec, **(params or {})}
    if venues:
        table["venues"] = list(venues)
    if assets:
        table["assets"] = list(assets)
    w = w.with_overrides({f"population.{name}": table})
    return run_world(w, seed, prepare=(lambda sim: sim.agent(name).use(instance))
                     if instance is not None else None, **run_kw)

