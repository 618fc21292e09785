"""A :class:`~exchange.sim.strategy.base.Strategy` as a simulation agent (agent type
``strategy``), loading a strategy class from a spec, and :func:`run_strategy`. See
:mod:`exchange.sim.strategy`."""
from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any
from collections.abc import Iterable, Mapping

import numpy as np

from exchange.errors import ConfigError, invalid
from exchange.resolve import is_file_target, resolve_module, split_spec
from exchange.sim.clock import PRIO_AGENT
from exchange.sim.config import MISSING, Param
from exchange.sim.strategy.api import StrategyAPI
from exchange.sim.strategy.base import (_K_AUCTION_TAKEN, _K_DELEVERAGED, _K_TRANSFERRED,
                                        COMMON_PARAMS, NS_PER_MS, Strategy)

__all__ = ["StrategyAgent", "load_strategy_class", "strategy_overrides", "run_strategy"]

# -- THE ADAPTER: a Strategy as a simulation Agent -------------------------------------------

class StrategyAgent:
    """Agent type ``strategy``: runs one :class:`Strategy` on one account of a simulation.

    Table keys: ``class`` (a Strategy subclass: ``"package.module:Class"``,
    ``"path/file.py:Class"``, or the class itself from Python) and the strategy's parameters
    (:meth:`Strategy.param_defaults`). The runner hands it every drained batch of event records
    (:meth:`on_records`); it keeps its account's and calls the strategy back.
    """

    kind = "strategy"
    PARAMS = {"class": Param(lambda s, k, v: v, MISSING, "'package.module:Class' or "
                             "'file.py:Class' (a Strategy subclass)"), **COMMON_PARAMS}

    def __init__(self, name: str, params: dict[str, Any], rng: np.random.Generator) -> None:
        self.name = name
        self.p = params
        self.rng = rng
        self.strategy_class = load_strategy_class(params["class"])
        self.strategy: Strategy = self.strategy_class(**params.get("values", {}))
        self.accounts = np.empty(0, np.int64)
        self.api: StrategyAPI | None = None
        self._ctx = None
        self._responses: set[int] = set()
        self._inbox: list[np.ndarray] = []      # this account's records not yet due
        self._deliveries: set[int] = set()
        self.interval_ns = 0

    @classmethod
    def schema(cls) -> dict[str, Param]:
        return dict(cls.PARAMS)

    @classmethod
    def parse(cls, source: str, path: str, table: dict, settle_decimals: int = 6) -> dict:
        """Validate a ``[population.NAME]`` table: load the class, check its parameters."""
        if not isinstance(table, dict):
            raise ConfigError.for_key(source, path, "a TOML table", table)
        rest = dict(table)
        kind = rest.pop("type", "strategy")
        spec = rest.pop("class", MISSING)
        scls = load_strategy_class(spec, source, f"{path}.class")
        values = scls.validate_params(rest, source, path)
        atoms = values["deposit"].scaleb(settle_decimals)
        if atoms != atoms.to_integral_value():
            raise ConfigError.for_key(source, f"{path}.deposit", f"a multiple of 1e-{settle_decimals}",
                                      rest.get("deposit", scls.deposit))
        return {"type": kind, "class": spec, "count": 1, "values": values}

    def use(self, strategy: Strategy) -> None:
        """Run this instance instead of the one built from the table (before the run starts;
        :func:`run_strategy` uses it so that the caller keeps a reference)."""
        if not isinstance(strategy, Strategy):
            raise invalid("strategy", "a Strategy instance", strategy)
        self.strategy = strategy
        self.strategy_class = type(strategy)

    # -- Agent protocol --
    def setup(self, ctx, ts_ns: int) -> int | None:
        s = self.strategy
        self._ctx = ctx
        deposit = ctx.spec.amount_to_atoms(Decimal(str(s.deposit)))
        self.accounts = ctx.open_accounts(np.array([deposit], np.int64), int(s.leverage),
                                          role=self.kind)
        acct = int(self.accounts[0])
        if s.margin_mode == "isolated":
            ctx.core.set_margin_mode(acct, ctx.instr, 1)
        latency = max(1_000, int(round(float(s.latency_ms) * NS_PER_MS)))
        self.interval_ns = max(1, int(round(float(s.interval_ms) * NS_PER_MS)))
        self.api = StrategyAPI(self, ctx, acct, latency, self.rng)
        self.api._cycle(s.on_start, self.api)
        return ts_ns

    def wake(self, ctx, ts_ns: int) -> int | None:
        ctx.drain()                   # deliver what happened since the last dispatch first
        self.api._cycle(self.strategy.on_tick, self.api)
        return ts_ns + self.interval_ns

    def on_records(self, ctx, records: np.ndarray) -> None:
        """Every drained batch of the run's event records: keep this account's; each reaches
        the strategy one latency after it happened (at the first dispatch point after)."""
        if self.api is None or len(records) == 0:
            return
        mask = self._mine(records)
        if not mask.any():
            return
        self._inbox.append(records[mask])
        self._deliver(ctx.clock.now_ns)

    def _mine(self, records: np.ndarray) -> np.ndarray:
        """The records about this strategy's account (its own, and those naming it as the
        counterparty of an auction, a deleveraging or a transfer)."""
        me = self.api.account
        kind = records["kind"]
        mask = records["acct"] == me
        mask |= (records["a1"] == me) & ((kind == _K_AUCTION_TAKEN) | (kind == _K_DELEVERAGED)
                                         | (kind == _K_TRANSFERRED))
        return mask

    def _deliver(self, now_ns: int, everything: bool = False) -> None:
        """Call back for the records that are due (time + latency <= now; stream order)."""
        if not self._inbox:
            return
        rows = self._inbox[0] if len(self._inbox) == 1 else np.concatenate(self._inbox)
        # the core's clock never goes back, so the due records are a prefix of the stream
        due = np.full(len(rows), True) if everything else rows["ts"] + self.api.latency_ns <= now_ns
        k = int(due.sum())
        ready, rest = rows[:k], rows[k:]
        self._inbox = [rest] if len(rest) else []
        if len(rest):
            t = int(rest["ts"][0]) + self.api.latency_ns
            if t not in self._deliveries:
                self._deliveries.add(t)
                self._ctx.clock.schedule(t, PRIO_AGENT, self._on_delivery)
        if k:
            self.api._cycle(self.api._dispatch, ready)

    def _on_delivery(self, ts_ns: int) -> None:
        self._deliveries.discard(ts_ns)
        if not self.api._closed:
            self._deliver(ts_ns)

    def on_stop(self, ctx, ts_ns: int) -> None:
        """The end: deliver what is still on its way, then ``on_stop``."""
        if self.api is None:
            return
        self._deliver(ts_ns, everything=True)
        self.api._closed = True
        self.api._cycle(self.strategy.on_stop, self.api)

    def _expect_response(self, ts_ns: int) -> None:
        """A dispatch point when the venue's response to a batch gets back."""
        if ts_ns in self._responses:
            return
        self._responses.add(ts_ns)
        self._ctx.clock.schedule(ts_ns, PRIO_AGENT, self._on_response)

    def _on_response(self, ts_ns: int) -> None:
        self._responses.discard(ts_ns)
        if self.api is not None and not self.api._closed:
            self._ctx.drain()


# -- LOADING ---------------------------------------------------------------------------------

def load_strategy_class(spec, source: str | None = None, key: str = "class") -> type[Strategy]:
    """The Strategy subclass named by ``spec``: ``"package.module:Class"``,
    ``"path/to/file.py:Class"`` (relative paths against the working directory), either
    without ``:Class`` when the module defines exactly one Strategy subclass, or the class
    itself. Raises ConfigError naming ``key`` otherwise."""
    rule = "a Strategy subclass: 'path/file.py:Class' or 'package.module:Class'"
    if isinstance(spec, type):
        if issubclass(spec, Strategy):
            return spec
        raise ConfigError.for_key(source, key, rule, spec)
    if not isinstance(spec, str) or not spec.strip():
        raise ConfigError.for_key(source, key, rule, spec)
    module, attr = resolve_module(spec, what=f"{source + ': ' if source else ''}{key!r}")
    target = split_spec(spec)[0]
    if attr:
        cls = getattr(module, attr, None)
        if not (isinstance(cls, type) and issubclass(cls, Strategy)):
            raise ConfigError.for_key(source, key, f"{rule} ({attr!r} is not a Strategy "
                                      f"subclass of {target})", spec)
        return cls
    found = [v for v in vars(module).values() if isinstance(v, type) and issubclass(v, Strategy)
             and v is not Strategy and v.__module__ == module.__name__]
    if len(found) != 1:
        names = ", ".join(c.__name__ for c in found) or "none"
        raise ConfigError.for_key(source, key, f"{rule} (name the class: the module defines "
                                  f"{names})", spec)
    return found[0]


def strategy_overrides(spec, params: Mapping[str, Any] | Iterable[str] = (),
                       name: str = "strategy") -> dict[str, Any]:
    """Scenario overrides adding population ``name`` running the strategy ``spec`` (a class
    or a spec string; a relative file path is made absolute) with ``params`` (a mapping, or
    ``"key=value"`` strings read like TOML values)."""
    from exchange.sim.scenario import parse_value

    if isinstance(spec, str):
        target, attr = split_spec(spec)
        if is_file_target(target):
            target = str(Path(target).expanduser().resolve())
            spec = f"{target}:{attr}" if attr else target
    load_strategy_class(spec, None, "--strategy" if isinstance(spec, str) else "strategy")
    if not isinstance(params, Mapping):
        items = {}
        for item in params:
            key, eq, value = str(item).partition("=")
            if not eq or not key.strip():
                raise invalid("--strategy-param", "written key=value", item)
            items[key.strip()] = parse_value(value.strip())
        params = items
    out: dict[str, Any] = {f"population.{name}.type": "strategy",
                           f"population.{name}.class": spec}
    for k, v in params.items():
        out[f"population.{name}.{k}"] = v
    return out


def run_strategy(strategy, scenario="flash_crash", seed: int = 0, *,
                 params: Mapping[str, Any] | None = None, name: str = "strategy",
                 overrides: Mapping[str, Any] | None = None, **run_kw):
    """Run ``strategy`` (a Strategy subclass, a spec string, or an instance — kept, so you
    can read its state afterwards) in ``scenario`` with ``seed``; returns the
    :class:`~exchange.sim.runner.RunResult` (``result.strategies[name]``: its PnL).
    ``overrides``: scenario overrides (``{"scenario.duration_s": 300}``); ``run_kw`` go to
    :func:`exchange.sim.runner.run` (``waterfall``, ``out_dir``, ...)."""
    from exchange.sim.runner import run
    from exchange.sim.scenario import load_scenario

    instance = strategy if isinstance(strategy, Strategy) else None
    if instance is not None and params:
        raise invalid("params", "empty when an instance is given (set them on it)", dict(params))
    sc = load_scenario(scenario)
    if overrides:
        sc = sc.with_overrides(dict(overrides))
    sc = sc.with_overrides(strategy_overrides(type(instance) if instance else strategy,
                                              params or {}, name))

    def prepare(sim) -> None:
        if instance is not None:
            for agent in sim.agents:
                if agent.name == name:
                    agent.use(instance)

    return run(sc, seed, prepare=prepare, **run_kw)
