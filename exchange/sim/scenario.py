"""Scenarios: a venue preset with overrides, a population, an index path and shocks, as TOML.

File format (every key optional unless marked; see the built-ins in ``exchange/sim/scenarios``)::

    [scenario]
    name = "flash_crash"             # default: the file name
    description = "..."
    preset = "binance_usdm"          # a preset name (perpsim presets) or a TOML path
    symbol = "BTCUSDT"               # default: the preset's first instrument
    duration_s = 1800                # required
    step_ms = 1000                   # time-series sampling (and the report's resolution)
    oracle_cadence_ms = 1000         # default: the preset's [venue].oracle_cadence_ms

    [venue]                          # dotted preset overrides, values as in preset files
    "liquidation.waterfall" = ["market", "insurance", "adl"]
    "liquidation.insurance_fund" = "150000"
    "instruments.BTCUSDT.taker_fee_rate" = "0.0005"

    [modules.auction]                # parameters of waterfall modules (their constructors'
    curve = "exponential"            # keywords; rates as ints per 1e8), e.g. the auction curve

    [index]
    model = "random_walk"            # random_walk (gaussian + Poisson jumps), stochastic_vol,
                                     # gbm, replay, constant
    price = 110000.0                 # start price (replay: optional rescale target)
    step_ms = 1000                   # path step
    sigma = 0.0002                   # random_walk: log-sd per step; gbm: annualised
    mu = 0.0                         # gbm drift (annualised)
    jump_rate_per_hour = 0.0         # random_walk jumps ...
    jump_mean = 0.0                  # ... log size mean
    jump_std = 0.0                   # ... log size sd (random_walk and stochastic_vol)
    vol_of_vol = 0.5                 # stochastic_vol: sd of log volatility (sigma = median)
    vol_half_life_s = 1800           # stochastic_vol: half-life of volatility shocks
    tail_df = 4.0                    # stochastic_vol: Student-t steps (0 = gaussian)
    csv = "path.csv"                 # replay: relative to the scenario file
    time_column = "ts"               # replay: ns, ms or s (detected)
    price_column = "price"
    sources = 3                      # exchanges quoting the path (index constituents)
    source_noise = 0.0001            # log-sd of each source's idiosyncratic noise
    clamp_rate = 0.01                # default: the venue rule (1 % BTC/ETH, else 3 %)
    stale_after_s = 10               # oracle silence that freezes mark, liquidations, funding
    feed_latency_ms = 200            # age of the sources' quotes when the venue publishes its
                                     # index (traders watching spot see a move this much sooner)

    [population.makers]              # one table per population; type defaults to the name
    type = "market_maker"            # market_maker, noise, directional, arbitrageur, keeper
    count = 8                        # or a "package.module:Class" path; keys: the type's PARAMS
    ...

    [[shock]]                        # any number, any order
    type = "index_gap"               # index_gap, oracle_lag, oracle_freeze, oracle_outage,
    at_s = 300                       # oracle_manipulation, mm_withdraw, funding_flip
    change = -0.08

Shock keys: ``index_gap`` (``change``: fraction, permanent from ``at_s``); ``index_slide``
(``duration_s``, ``change``, ``steps``: the same permanent move in ``steps`` equal gaps over
the window, a fast fall rather than one instant); ``oracle_lag``
(``duration_s``, ``lag_s``, ``source``: index or "all"); ``oracle_freeze`` (``duration_s``,
``source``, ``stuck``: keep publishing the frozen value); ``oracle_outage`` (``duration_s``,
``source``); ``oracle_manipulation`` (``duration_s``, ``source``, ``change``);
``mm_withdraw`` (``duration_s``, ``fraction`` of market makers pulling every quote);
``funding_flip`` (``duration_s``, ``rate``: the funding rate per settlement, a fraction,
paid at every settlement in the window instead of the formula's).

Bad input raises :class:`~exchange.errors.ConfigError` in one line naming the file, the
dotted key and the value.
"""
from __future__ import annotations

import copy
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any
from collections.abc import Mapping

import attrs

from exchange.errors import ConfigError, ExchangeError
from exchange.sim.agents import agent_class
from exchange.sim.config import (Param, boolean, check_known, choice, fail, integer, number,
                                 read_table, string)

__all__ = ["Scenario", "Shock", "IndexSpec", "load_scenario", "list_scenarios", "SHOCK_TYPES",
           "parse_value"]

NS_PER_S = 1_000_000_000
NS_PER_MS = 1_000_000

def _text(source: str, key: str, v: Any) -> str:
    if not isinstance(v, str):
        raise fail(source, key, "a string", v)
    return v


_SCENARIO = {
    "name": Param(string, None),
    "description": Param(lambda s, k, v: _text(s, k, v), ""),
    "preset": Param(string),
    "symbol": Param(string, None),
    "duration_s": Param(number(0.0, lo_open=True)),
    "step_ms": Param(number(1.0), 1000.0),
    "oracle_cadence_ms": Param(number(1.0), None),
}

_INDEX = {
    "model": Param(choice("random_walk", "stochastic_vol", "gbm", "replay", "constant"),
                   "random_walk"),
    "price": Param(number(0.0, 1e12, lo_open=True), None),
    "step_ms": Param(number(1.0), 1000.0),
    "sigma": Param(number(0.0, 1.0), 0.0002),
    "mu": Param(number(-1.0, 1.0), 0.0),
    "jump_rate_per_hour": Param(number(0.0, 3600.0), 0.0),
    "jump_mean": Param(number(-1.0, 1.0), 0.0),
    "jump_std": Param(number(0.0, 1.0), 0.0),
    "vol_of_vol": Param(number(0.0, 5.0), 0.5),
    "vol_half_life_s": Param(number(0.0, 365 * 86400.0, lo_open=True), 1800.0),
    "tail_df": Param(number(0.0, 1000.0), 0.0),
    "csv": Param(string, None),
    "time_column": Param(string, "ts"),
    "price_column": Param(string, "price"),
    "sources": Param(integer(1, 50), 3),
    "source_noise": Param(number(0.0, 0.5), 0.0001),
    "clamp_rate": Param(number(0.0, 1.0), None),
    "stale_after_s": Param(number(0.0, lo_open=True), 10.0),
    "feed_latency_ms": Param(number(0.0, 60_000.0), 200.0),
}


def _source_sel(source: str, key: str, v: Any) -> Any:
    if v == "all" or (type(v) is int and v >= 0):
        return v
    raise fail(source, key, "a source index (integer >= 0) or \"all\"", v)


_AT = Param(number(0.0))
_DUR = Param(number(0.0, lo_open=True))
SHOCK_TYPES: dict[str, dict[str, Param]] = {
    "index_gap": {"at_s": _AT, "change": Param(number(-0.99, 10.0))},
    "index_slide": {"at_s": _AT, "duration_s": _DUR, "change": Param(number(-0.99, 10.0)),
                    "steps": Param(integer(1, 100_000), 10)},
    "oracle_lag": {"at_s": _AT, "duration_s": _DUR, "lag_s": Param(number(0.0, lo_open=True)),
                   "source": Param(_source_sel, 0)},
    "oracle_freeze": {"at_s": _AT, "duration_s": _DUR, "source": Param(_source_sel, "all"),
                      "stuck": Param(boolean, False)},
    "oracle_outage": {"at_s": _AT, "duration_s": _DUR, "source": Param(_source_sel, "all")},
    "oracle_manipulation": {"at_s": _AT, "duration_s": _DUR, "source": Param(_source_sel, 0),
                            "change": Param(number(-0.99, 10.0))},
    "mm_withdraw": {"at_s": _AT, "duration_s": _DUR, "fraction": Param(number(0.0, 1.0), 1.0)},
    "funding_flip": {"at_s": _AT, "duration_s": _DUR, "rate": Param(number(-1.0, 1.0))},
}


@attrs.frozen
class Shock:
    """One scenario shock: ``type``, start ``at_ns``, ``duration_ns`` (0 = permanent) and the
    type's parameters (``change``, ``lag_s``, ``source``, ``stuck``, ``fraction``, ``rate``)."""

    type: str
    at_ns: int
    duration_ns: int
    params: Mapping[str, Any]

    @property
    def end_ns(self) -> int:
        return self.at_ns + self.duration_ns


@attrs.frozen
class IndexSpec:
    """The index path (see the module docs); ``csv_path`` is resolved against the file."""

    model: str
    price: float | None
    step_ns: int
    sigma: float
    mu: float
    jump_rate_per_hour: float
    jump_mean: float
    jump_std: float
    csv_path: str | None
    time_column: str
    price_column: str
    sources: int
    source_noise: float
    clamp_rate: float | None
    stale_after_ns: int
    vol_of_vol: float = 0.5
    vol_half_life_s: float = 1800.0
    tail_df: float = 0.0
    #: how old the sources' quotes are when the venue publishes its index from them (ns)
    feed_latency_ns: int = 0


@attrs.frozen
class PopulationSpec:
    name: str
    type: str
    params: Mapping[str, Any]


@attrs.frozen
class Scenario:
    """A validated scenario. ``source`` names the file (for messages); ``data`` is the raw
    TOML tree (after overrides) from which :meth:`with_overrides` re-validates."""

    name: str
    description: str
    source: str
    path: str | None
    preset_name: str
    symbol: str
    duration_ns: int
    step_ns: int
    oracle_cadence_ns: int
    venue_overrides: Mapping[str, Any]
    module_params: Mapping[str, Mapping[str, Any]]
    index: IndexSpec
    populations: tuple[PopulationSpec, ...]
    shocks: tuple[Shock, ...]
    data: dict = attrs.field(repr=False, eq=False)

    @property
    def waterfall(self) -> tuple[str, ...]:
        return tuple(self.preset().liquidation.waterfall)

    @property
    def n_agents(self) -> int:
        return sum(int(p.params.get("count", 0)) for p in self.populations)

    def preset(self, waterfall: list[str] | tuple[str, ...] | None = None):
        """The venue preset with the scenario's overrides (and optionally another waterfall)."""
        return _build_preset(self.source, self.preset_name, self.venue_overrides, waterfall,
                             self.path)

    def with_overrides(self, overrides: Mapping[str, Any]) -> Scenario:
        """A new scenario with dotted-key overrides applied to the TOML tree, re-validated.

        Keys: ``scenario.duration_s``, ``index.sigma``, ``population.makers.count``,
        ``shock.0.change`` (shocks by position), ``venue.<preset key>`` (for example
        ``venue.liquidation.insurance_fund``) and the shorthand ``waterfall``. Cost: one
        full validation.

        >>> sc = load_scenario("calm").with_overrides({"scenario.duration_s": 60})
        >>> sc.duration_ns // NS_PER_S
        60
        """
        data = copy.deepcopy(self.data)
        src = f"{self.source} + overrides"
        for dotted, value in overrides.items():
            if not isinstance(dotted, str) or not dotted:
                raise fail(src, "override key", "a dotted path like 'index.sigma'", dotted)
            if dotted == "waterfall":
                data.setdefault("venue", {})["liquidation.waterfall"] = list(value)
                continue
            head, _, rest = dotted.partition(".")
            if head == "venue" and rest:
                data.setdefault("venue", {})[rest] = value
                continue
            parts = dotted.split(".")
            node: Any = data
            if parts[0] == "shock":
                node, parts = data.setdefault("shock", []), parts[1:]
            for _i, part in enumerate(parts[:-1]):
                if isinstance(node, list):
                    if not part.isdigit() or int(part) >= len(node):
                        raise fail(src, dotted, f"a path whose index is below {len(node)}", part)
                    node = node[int(part)]
                elif isinstance(node, dict):
                    node = node.setdefault(part, {})
                else:
                    raise fail(src, dotted, "a path through tables", node)
            last = parts[-1] if parts else ""
            if isinstance(node, list):
                if not last.isdigit() or int(last) >= len(node):
                    raise fail(src, dotted, f"a path whose index is below {len(node)}", last)
                node[int(last)] = value
            elif isinstance(node, dict) and last:
                node[last] = value
            else:
                raise fail(src, dotted, "a path to a key of a table", value)
        return parse_scenario(data, self.source, self.path)


def parse_value(text: str) -> Any:
    """A command-line value as TOML would read it: ``-0.05`` → float, ``8`` → int, ``true``,
    ``"x"`` or bare ``x`` → str, ``market+insurance+adl`` → list of str (waterfalls).

    >>> parse_value("8"), parse_value("-0.05"), parse_value("market+adl"), parse_value("abc")
    (8, -0.05, ['market', 'adl'], 'abc')
    """
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        pass
    if "+" in text:
        return [t.strip() for t in text.split("+") if t.strip()]
    return text


def _build_preset(source: str, preset_name: str, overrides: Mapping[str, Any],
                  waterfall, path: str | None):
    from exchange.presets import load_preset

    name = preset_name
    if path and (name.endswith(".toml") or "/" in name):
        cand = Path(path).parent / name
        if cand.is_file():
            name = str(cand)
    try:
        preset = load_preset(name)
    except ConfigError as exc:
        raise ConfigError(f"{source}: 'scenario.preset' {preset_name!r}: {exc}") from None
    ov = dict(overrides)
    if waterfall is not None:
        ov["liquidation.waterfall"] = list(waterfall)
        # a module the preset does not use needs its settings: the liquidation layer's defaults
        from exchange.liquidation.base import MODULE_DEFAULTS

        liq = preset.liquidation
        for module, (field, unset, default) in MODULE_DEFAULTS.items():
            if module in waterfall and getattr(liq, field) == unset \
                    and f"liquidation.{field}" not in ov:
                ov[f"liquidation.{field}"] = default
    if ov:
        try:
            preset = preset.with_overrides(ov)
        except ExchangeError as exc:
            raise ConfigError(f"{source}: [venue] {exc}") from None
    return preset


_INT64_MAX = 2**63 - 1


def _ns(source: str, key: str, value: float, per: int) -> int:
    """``value`` (seconds or milliseconds, ``per`` ns each) as integer nanoseconds; the venue
    clock is int64 ns, so a time beyond it (about 292 years) is a ConfigError, not an
    OverflowError later (issue 18: scenario numbers mutated to extremes)."""
    ns = float(value) * per
    if not ns <= _INT64_MAX:
        raise fail(source, key, f"a time below 2**63 ns (about 292 years; {_INT64_MAX // per} "
                   f"in these units)", value)
    return int(round(ns))


def parse_scenario(data: dict, source: str, path: str | None = None) -> Scenario:
    """Validate a scenario's TOML tree (see the module docs). Raises ConfigError."""
    if not isinstance(data, dict):
        raise fail(source, "scenario", "a TOML document", data)
    check_known(source, "", data, ["scenario", "venue", "modules", "index", "population", "shock"])
    head = read_table(source, "scenario", data.get("scenario", {}), _SCENARIO)
    venue = data.get("venue", {})
    if not isinstance(venue, dict):
        raise fail(source, "venue", "a table of dotted preset overrides", venue)
    preset = _build_preset(source, head["preset"], venue, None, path)
    modules = data.get("modules", {})
    if not isinstance(modules, dict) or not all(isinstance(v, dict) for v in modules.values()):
        raise fail(source, "modules", "a table of module tables ([modules.auction] ...)", modules)
    _check_modules(source, preset, modules)
    symbol = head["symbol"] or preset.symbols[0]
    if symbol not in preset.instruments:
        raise fail(source, "scenario.symbol", f"one of {', '.join(preset.symbols)} (instruments "
                   f"of preset {preset.name!r})", symbol)
    duration_ns = _ns(source, "scenario.duration_s", head["duration_s"], NS_PER_S)
    cadence_ms = head["oracle_cadence_ms"] or preset.venue.oracle_cadence_ms
    idx = read_table(source, "index", data.get("index", {}), _INDEX)
    if idx["model"] == "replay" and not idx["csv"]:
        raise fail(source, "index.csv", "a CSV file when index.model is \"replay\"", None)
    if idx["model"] != "replay" and idx["price"] is None:
        raise fail(source, "index.price", "a start price > 0", None)
    csv_path = None
    if idx["csv"]:
        base = Path(path).parent if path else Path.cwd()
        csv_path = str((base / idx["csv"]).resolve())
    index = IndexSpec(model=idx["model"], price=idx["price"],
                      step_ns=_ns(source, "index.step_ms", idx["step_ms"], NS_PER_MS), sigma=idx["sigma"],
                      mu=idx["mu"], jump_rate_per_hour=idx["jump_rate_per_hour"],
                      jump_mean=idx["jump_mean"], jump_std=idx["jump_std"], csv_path=csv_path,
                      time_column=idx["time_column"], price_column=idx["price_column"],
                      sources=idx["sources"], source_noise=idx["source_noise"],
                      clamp_rate=idx["clamp_rate"],
                      stale_after_ns=_ns(source, "index.stale_after_s", idx["stale_after_s"],
                                         NS_PER_S),
                      vol_of_vol=idx["vol_of_vol"], vol_half_life_s=idx["vol_half_life_s"],
                      tail_df=idx["tail_df"],
                      feed_latency_ns=int(round(idx["feed_latency_ms"] * NS_PER_MS)))
    if idx["tail_df"] and idx["tail_df"] <= 2:
        raise fail(source, "index.tail_df", "0 (gaussian) or a number > 2", idx["tail_df"])
    pops = data.get("population", {})
    if not isinstance(pops, dict):
        raise fail(source, "population", "a table of population tables", pops)
    populations = []
    decimals = preset.venue.settle_decimals
    for name, table in pops.items():
        path_key = f"population.{name}"
        if not isinstance(table, dict):
            raise fail(source, path_key, "a TOML table", table)
        kind = table.get("type", name)
        cls = agent_class(kind, source, f"{path_key}.type")
        if hasattr(cls, "parse"):
            params = cls.parse(source, path_key, table, decimals)
        else:
            params = dict(table)
        params["type"] = kind
        populations.append(PopulationSpec(name=name, type=kind, params=params))
    shocks = []
    raw_shocks = data.get("shock", [])
    if not isinstance(raw_shocks, list):
        raise fail(source, "shock", "an array of tables ([[shock]])", raw_shocks)
    for i, table in enumerate(raw_shocks):
        key = f"shock[{i}]"
        if not isinstance(table, dict):
            raise fail(source, key, "a TOML table", table)
        kind = table.get("type")
        if kind not in SHOCK_TYPES:
            raise fail(source, f"{key}.type", f"one of {', '.join(SHOCK_TYPES)}", kind)
        schema = {"type": Param(lambda s, k, v: v), **SHOCK_TYPES[kind]}
        vals = read_table(source, key, table, schema)
        at_ns = _ns(source, f"{key}.at_s", vals["at_s"], NS_PER_S)  # at or after the end: never reached
        dur_ns = _ns(source, f"{key}.duration_s", vals.get("duration_s", 0.0), NS_PER_S)
        src = vals.get("source")
        if isinstance(src, int) and src >= index.sources:
            raise fail(source, f"{key}.source", f"an index below index.sources = {index.sources}",
                       src)
        params = {k: v for k, v in vals.items() if k not in ("type", "at_s", "duration_s")}
        shocks.append(Shock(type=kind, at_ns=at_ns, duration_ns=dur_ns, params=params))
    shocks.sort(key=lambda s: s.at_ns)
    name = head["name"] or (Path(path).stem if path else source)
    return Scenario(name=name, description=head["description"], source=source, path=path,
                    preset_name=head["preset"], symbol=symbol, duration_ns=duration_ns,
                    step_ns=_ns(source, "scenario.step_ms", head["step_ms"], NS_PER_MS),
                    oracle_cadence_ns=_ns(source, "scenario.oracle_cadence_ms", cadence_ms,
                                          NS_PER_MS), venue_overrides=dict(venue),
                    module_params={k: dict(v) for k, v in modules.items()},
                    index=index, populations=tuple(populations), shocks=tuple(shocks),
                    data=copy.deepcopy(data))


def _check_modules(source: str, preset, modules: dict) -> None:
    """Build each module named in ``[modules]`` once, so a bad parameter fails at load time."""
    if not modules:
        return
    from exchange.liquidation import build_module, module_params_from_preset

    base = module_params_from_preset(preset, 0)
    for name, params in modules.items():
        try:
            build_module(name, {**base.get(name, {}), **params})
        except ExchangeError as exc:
            raise ConfigError(f"{source}: [modules.{name}] {exc}") from None


def _builtin_dir():
    return resources.files("exchange.sim") / "scenarios"


def list_scenarios() -> list[str]:
    """Names of the built-in scenarios. O(files)."""
    return sorted(p.name[:-5] for p in _builtin_dir().iterdir() if p.name.endswith(".toml"))


def load_scenario(name_or_path: str | Path) -> Scenario:
    """Load a built-in scenario by name (``perpsim scenarios``) or a TOML file by path."""
    if isinstance(name_or_path, Scenario):
        return name_or_path
    text = str(name_or_path)
    builtin = _builtin_dir() / f"{text}.toml"
    if "/" not in text and not text.endswith(".toml") and builtin.is_file():
        path, source = str(builtin), f"{text}.toml"
    else:
        p = Path(text)
        if not p.is_file():
            raise ConfigError.for_key(None, "scenario", "a built-in scenario name ("
                                      + ", ".join(list_scenarios()) + ") or a TOML file", text)
        path, source = str(p), p.name
    return parse_scenario(read_toml(path, source), source, path)


def read_toml(path: str, source: str) -> dict:
    """A scenario (or world) TOML file's tree; unreadable or invalid TOML raises ConfigError
    naming ``source``."""
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"{source}: cannot be read: {exc.strerror}") from None
