"""Several instruments and venues in one run: a *world* of markets on one clock.

A world scenario (``exchange/sim/worlds/*.toml``, ``perpsim scenarios`` lists them) names
assets, whose index paths come from one :class:`~exchange.sim.factor.FactorModel` (a common
market factor, per-asset betas, idiosyncratic noise, crash windows where correlation rises
and factor gaps that alts take several times over), and venues: each a preset with its own
books, marks, funding and liquidation waterfall, trading some of the assets::

    [scenario]   name, description, duration_s, step_ms
    [factor]     step_ms, sigma, vol_of_vol, vol_half_life_s, tail_df,
                 crash = [{start_s, duration_s, vol_mult, idio_mult}], gaps = [{at_s, change}]
    [assets.BTC] price, beta, idio_sigma, gap_beta, depth (maker size multiplier, default 1)
    [venues.binance]  preset, markets = {BTC = "BTCUSDT", ...}, and optional
                 [venues.binance.venue] (preset overrides) / [venues.binance.modules],
                 [venues.binance.population.NAME] (this venue's keys over the template's,
                 count = 0 drops a population) and [[venues.binance.shock]] (its own shocks)
    [market]     the template of every market: a single-instrument scenario's [index],
                 [population.*] and [[shock]] tables (base quantities for the first asset,
                 scaled by price to the others, times the asset's ``depth`` for makers);
                 ``[market.<ASSET>]`` adds an asset's own [[shock]] tables
    [population.NAME]  world populations that trade several markets:
                 type = "portfolio" (:class:`~exchange.sim.portfolio.PortfolioTraders`) or
                 "cross_venue_arb" (:class:`~exchange.sim.portfolio.CrossVenueArbitrageurs`)

Each market is a :class:`~exchange.sim.runner.Simulation` of its own scenario sharing the
venue (one :class:`~exchange.venue.Exchange` per venue: accounts, cross margin and the
liquidation waterfall span its instruments) and the clock; the world steps each venue at its
own wake-ups with every instrument's quotes. Determinism: a function of (world, seed,
waterfall); every market's random streams are spawned by (venue, asset) name.
"""
from __future__ import annotations

import copy
import json
import time
from importlib import resources
from pathlib import Path
from typing import Any

import attrs
import numpy as np

from exchange.catalogue import MARKET_KEYS, VENUE_KEYS  # noqa: F401 - re-exported
from exchange.errors import ConfigError, invalid
from exchange.sim.clock import PRIO_AGENT, PRIO_ORACLE, Clock
from exchange.sim.config import Param, check_known, fail, number, read_table
from exchange.sim.context import component_seed
from exchange.sim.factor import AssetParams, CrashWindow, FactorGap, FactorModel
from exchange.sim.scenario import PopulationSpec, Scenario, parse_scenario, read_toml

__all__ = ["WorldScenario", "World", "WorldResult", "load_world", "list_worlds", "is_world",
           "run_world"]

NS_PER_S = 1_000_000_000
#: base-quantity parameters of per-market populations, scaled by price from the first asset
BASE_QTY_PARAMS = ("size", "inventory_limit", "max_position")
#: parameters per base unit (bp per unit of flow), scaled the other way
PER_BASE_QTY_PARAMS = ("flow_impact_bps",)

_SCENARIO = {
    "name": Param(lambda s, k, v: str(v), "", "scenario name"),
    "description": Param(lambda s, k, v: str(v), "", "one line"),
    "duration_s": Param(number(1.0, 30 * 86400.0), 600.0, "simulated seconds"),
    "step_ms": Param(number(1.0, 3_600_000.0), 1000.0, "recording step"),
    "oracle_cadence_ms": Param(number(1.0, 3_600_000.0), None, "the venues' oracle cadence "
                               "(default: each preset's)"),
    "reference_price": Param(number(1e-9, 1e12, lo_open=True), None, "the price the "
                             "template's base quantities are written for (default: the first "
                             "asset's)"),
}
_FACTOR = {
    "step_ms": Param(number(1.0, 60_000.0), 1000.0, "factor step"),
    "sigma": Param(number(0.0, 0.1), 5e-5, "factor log-sd per step"),
    "vol_of_vol": Param(number(0.0, 3.0), 0.5, "sd of log volatility"),
    "vol_half_life_s": Param(number(1.0, 86400.0 * 30), 600.0, "half-life of log volatility"),
    "tail_df": Param(number(0.0, 1000.0), 0.0, "Student-t tail (0 gaussian)"),
    "crash": Param(lambda s, k, v: v, [], "crash windows"),
    "gaps": Param(lambda s, k, v: v, [], "factor gaps"),
}
_ASSET = {
    "price": Param(number(1e-9, 1e12), None, "start price"),
    "beta": Param(number(-5.0, 5.0), 1.0, "factor loading"),
    "idio_sigma": Param(number(0.0, 0.1), 0.0, "idiosyncratic log-sd per step"),
    "gap_beta": Param(number(-20.0, 20.0), None, "loading of factor gaps"),
    "depth": Param(number(0.001, 1000.0), 1.0, "maker size multiplier"),
}


@attrs.frozen
class MarketSpec:
    """One market of a world: ``asset`` traded as ``symbol`` on ``venue``."""

    venue: str
    asset: str
    symbol: str
    scenario: Scenario


@attrs.frozen
class VenueSpec:
    name: str
    preset_name: str
    markets: tuple[MarketSpec, ...]


@attrs.frozen
class WorldScenario:
    """A parsed world scenario (see the module docs)."""

    name: str
    description: str
    source: str
    path: str | None
    duration_ns: int
    step_ns: int
    factor: dict
    assets: dict
    venues: tuple[VenueSpec, ...]
    populations: tuple[PopulationSpec, ...]
    data: dict = attrs.field(repr=False, eq=False)

    @property
    def n_agents(self) -> int:
        n = sum(m.scenario.n_agents for v in self.venues for m in v.markets)
        return n + sum(int(p.params.get("count", 0)) for p in self.populations)

    def venue(self, name: str) -> VenueSpec:
        for v in self.venues:
            if v.name == name:
                return v
        raise ConfigError.for_key(self.source, "venue", "one of "
                                  + ", ".join(v.name for v in self.venues), name)

    def with_overrides(self, overrides: dict) -> WorldScenario:
        """A copy with dotted-key overrides of the TOML tree (``{"population.arbs.count": 0}``)."""
        data = copy.deepcopy(self.data)
        for key, value in overrides.items():
            node = data
            parts = str(key).split(".")
            for p in parts[:-1]:
                node = node.setdefault(p, {})
                if not isinstance(node, dict):
                    raise ConfigError.for_key(self.source, key, "a key of a table", value)
            node[parts[-1]] = value
        return parse_world(data, self.source, self.path)


def _worlds_dir():
    return resources.files("exchange.sim") / "worlds"


def list_worlds() -> list[str]:
    """Names of the built-in world scenarios."""
    return sorted(p.name[:-5] for p in _worlds_dir().iterdir() if p.name.endswith(".toml"))


def is_world(name_or_path) -> bool:
    """Whether ``name_or_path`` names a built-in world or a TOML file with ``[assets]``."""
    if isinstance(name_or_path, WorldScenario):
        return True
    if not isinstance(name_or_path, (str, Path)):
        return False
    text = str(name_or_path)
    if "/" not in text and not text.endswith(".toml"):
        return text in list_worlds()
    p = Path(text)
    if not p.is_file():
        return False
    try:
        return "assets" in read_toml(str(p), p.name)
    except ConfigError:
        return False


def load_world(name_or_path) -> WorldScenario:
    """A built-in world by name or a world TOML file by path."""
    if isinstance(name_or_path, WorldScenario):
        return name_or_path
    text = str(name_or_path)
    builtin = _worlds_dir() / f"{text}.toml"
    if "/" not in text and not text.endswith(".toml") and builtin.is_file():
        path, source = str(builtin), f"{text}.toml"
    else:
        p = Path(text)
        if not p.is_file():
            raise ConfigError.for_key(None, "scenario", "a built-in world (" + ", ".join(
                list_worlds()) + ") or a world TOML file", text)
        path, source = str(p), p.name
    return parse_world(read_toml(path, source), source, path)


def _scaled(table: dict, ratio: float, depth: float, is_maker: bool) -> dict:
    out = dict(table)
    for k in BASE_QTY_PARAMS:
        if k in out and isinstance(out[k], (int, float)) and not isinstance(out[k], bool):
            out[k] = float(out[k]) * ratio * (depth if is_maker and k == "size" else 1.0)
    for k in PER_BASE_QTY_PARAMS:
        if k in out and isinstance(out[k], (int, float)) and not isinstance(out[k], bool):
            out[k] = float(out[k]) / ratio
    return out


def parse_world(data: dict, source: str, path: str | None = None) -> WorldScenario:
    """Validate a world's TOML tree (see the module docs). Raises ConfigError."""
    if not isinstance(data, dict):
        raise fail(source, "scenario", "a TOML document", data)
    check_known(source, "", data, ["scenario", "factor", "assets", "venues", "market",
                                   "population"])
    head = read_table(source, "scenario", data.get("scenario", {}), _SCENARIO)
    fac = read_table(source, "factor", data.get("factor", {}), _FACTOR)
    raw_assets = data.get("assets", {})
    if not isinstance(raw_assets, dict) or not raw_assets:
        raise fail(source, "assets", "a table of asset tables ([assets.BTC] ...)", raw_assets)
    assets: dict[str, dict] = {}
    for name, t in raw_assets.items():
        a = read_table(source, f"assets.{name}", t, _ASSET)
        if a["price"] is None:
            raise fail(source, f"assets.{name}.price", "a start price > 0", None)
        assets[name] = a
    first = next(iter(assets))
    venues_raw = data.get("venues", {})
    if not isinstance(venues_raw, dict) or not venues_raw:
        raise fail(source, "venues", "a table of venue tables ([venues.binance] ...)", venues_raw)
    template = data.get("market", {})
    if not isinstance(template, dict):
        raise fail(source, "market", "a table (the template of every market)", template)
    per_asset = {k: v for k, v in template.items() if k in assets}
    template = {k: v for k, v in template.items() if k not in assets}
    check_known(source, "market", template, ["index", "population", "shock", "modules"])
    venues = []
    for vname, vt in venues_raw.items():
        key = f"venues.{vname}"
        if not isinstance(vt, dict):
            raise fail(source, key, "a TOML table", vt)
        check_known(source, key, vt, ["preset", "markets", "venue", "modules", "population",
                                      "shock"])
        vpops = vt.get("population", {})
        if not isinstance(vpops, dict) or not all(isinstance(x, dict) for x in vpops.values()):
            raise fail(source, f"{key}.population", "a table of population overrides", vpops)
        markets_raw = vt.get("markets")
        if not isinstance(markets_raw, dict) or not markets_raw:
            raise fail(source, f"{key}.markets", "a table asset = \"SYMBOL\"", markets_raw)
        markets = []
        for asset, symbol in markets_raw.items():
            if asset not in assets:
                raise fail(source, f"{key}.markets.{asset}", f"an asset of [assets] ("
                           f"{', '.join(assets)})", asset)
            a = assets[asset]
            ratio = (head["reference_price"] or assets[first]["price"]) / a["price"]
            pops = {}
            base_pops = {n: dict(t) for n, t in template.get("population", {}).items()}
            for pname, over in vpops.items():     # this venue's own keys over the template's
                base_pops[pname] = {**base_pops.get(pname, {}), **over}
            for pname, pt in base_pops.items():
                is_maker = pt.get("type", pname) == "market_maker"
                pops[pname] = _scaled(pt, ratio, a["depth"], is_maker)
            # the index path is the factor model's; the market's own view of calm volatility
            # (the makers' vol ratio) starts from the asset's per-step sd in that model
            sd = ((a["beta"] * fac["sigma"]) ** 2 + a["idio_sigma"] ** 2) ** 0.5
            index = {**template.get("index", {}), "model": "stochastic_vol",
                     "price": a["price"], "step_ms": fac["step_ms"], "sigma": max(sd, 1e-7)}
            sub = {"scenario": {"name": f"{head['name']}:{vname}:{asset}",
                                "preset": vt.get("preset", "binance_usdm"), "symbol": symbol,
                                "duration_s": head["duration_s"], "step_ms": head["step_ms"],
                                **({"oracle_cadence_ms": head["oracle_cadence_ms"]}
                                   if head["oracle_cadence_ms"] else {})},
                   "venue": dict(vt.get("venue", {})),
                   "modules": {**template.get("modules", {}), **vt.get("modules", {})},
                   "index": index, "population": pops,
                   "shock": list(template.get("shock", []))
                   + list(per_asset.get(asset, {}).get("shock", []))
                   + list(vt.get("shock", []))}
            sc = parse_scenario(sub, f"{source} [venues.{vname}] {asset}", path)
            markets.append(MarketSpec(venue=vname, asset=asset, symbol=symbol, scenario=sc))
        venues.append(VenueSpec(name=vname, preset_name=markets[0].scenario.preset_name,
                                markets=tuple(markets)))
    from exchange.sim.portfolio import world_agent_class

    pops = []
    for pname, pt in data.get("population", {}).items():
        if not isinstance(pt, dict):
            raise fail(source, f"population.{pname}", "a TOML table", pt)
        kind = pt.get("type", pname)
        cls = world_agent_class(kind, source, f"population.{pname}.type")
        params = cls.parse(source, f"population.{pname}", pt)
        params["type"] = kind
        pops.append(PopulationSpec(name=pname, type=kind, params=params))
    names = {v.name for v in venues}
    for p in pops:
        named = list(p.params.get("venues") or ()) + (
            [p.params["venue"]] if p.params.get("venue") else [])
        for vn in named:
            if vn not in names:
                raise fail(source, f"population.{p.name}.venue", "a venue of [venues] ("
                           + ", ".join(sorted(names)) + ")", vn)
        if p.params.get("asset") is not None and p.params["asset"] not in assets:
            raise fail(source, f"population.{p.name}.asset", "an asset of [assets]",
                       p.params["asset"])
    crashes = []
    for i, c in enumerate(fac["crash"]):
        if not isinstance(c, dict):
            raise fail(source, f"factor.crash[{i}]", "a table {start_s, duration_s, ...}", c)
        crashes.append(CrashWindow(int(float(c.get("start_s", 0)) * NS_PER_S),
                                   int(float(c.get("duration_s", 60)) * NS_PER_S),
                                   float(c.get("vol_mult", 5.0)), float(c.get("idio_mult", 0.3))))
    gaps = []
    for i, g in enumerate(fac["gaps"]):
        if not isinstance(g, dict) or "change" not in g:
            raise fail(source, f"factor.gaps[{i}]", "a table {at_s, change}", g)
        gaps.append(FactorGap(int(float(g.get("at_s", 0)) * NS_PER_S), float(g["change"])))
    factor = dict(step_ns=int(fac["step_ms"] * 1_000_000), sigma=fac["sigma"],
                  vol_of_vol=fac["vol_of_vol"], vol_half_life_s=fac["vol_half_life_s"],
                  tail_df=fac["tail_df"], crashes=tuple(crashes), gaps=tuple(gaps))
    return WorldScenario(name=head["name"] or (Path(path).stem if path else source),
                         description=head["description"], source=source, path=path,
                         duration_ns=int(head["duration_s"] * NS_PER_S),
                         step_ns=int(head["step_ms"] * 1_000_000), factor=factor,
                         assets=assets, venues=tuple(venues), populations=tuple(pops),
                         data=copy.deepcopy(data))


class _Venue:
    """A venue of a running world: its Exchange and its markets' simulations."""

    def __init__(self, spec: VenueSpec, ex, sims: list) -> None:
        self.spec, self.ex, self.sims = spec, ex, sims
        self.by_symbol = {m.symbol: s for m, s in zip(spec.markets, sims)}
        self.by_asset = {m.asset: s for m, s in zip(spec.markets, sims)}

    def quotes(self, symbol: str, ts: int):
        return self.by_symbol[symbol]._quotes(symbol, ts)


class World:
    """A world being built and run (:func:`run_world` is the usual entry point)."""

    def __init__(self, world: WorldScenario, seed: int = 0, waterfall=None, *,
                 check: str = "end") -> None:
        from exchange.sim.runner import Simulation
        from exchange.venue import Exchange
        self.w = world
        self.seed = int(seed)
        self.check = check
        self.clock = Clock()
        fac = world.factor
        self.factor = FactorModel(
            np.random.default_rng(component_seed(self.seed, "world.factor")),
            {n: AssetParams(a["price"], beta=a["beta"], idio_sigma=a["idio_sigma"],
                            gap_beta=a["gap_beta"]) for n, a in world.assets.items()},
            step_ns=fac["step_ns"], sigma=fac["sigma"], vol_of_vol=fac["vol_of_vol"],
            vol_half_life_s=fac["vol_half_life_s"], tail_df=fac["tail_df"],
            crashes=fac["crashes"], gaps=fac["gaps"])
        self.venues: list[_Venue] = []
        for vs in world.venues:
            sc0 = vs.markets[0].scenario
            preset = sc0.preset(waterfall)
            n_acc = sum(m.scenario.n_agents for m in vs.markets) + world.n_agents + 64
            try:
                ex = Exchange(preset, initial_accounts=max(1024, n_acc), liquidation=True,
                              liquidation_overrides=dict(sc0.module_params),
                              seed=component_seed(self.seed, f"liquidation:{vs.name}"))
            except ConfigError as exc:
                raise ConfigError(f"{world.source}: [venues.{vs.name}] {exc}") from None
            sims = []
            for m in vs.markets:
                mseed = int(component_seed(self.seed, f"market:{vs.name}:{m.asset}")
                            .generate_state(1)[0])
                sims.append(Simulation(m.scenario, mseed, waterfall, check=check, exchange=ex,
                                       clock=self.clock, index_source=self.factor.source(m.asset)))
            for s in sims[1:]:
                s.checks_venue = False          # the venue is checked once per step
            self.venues.append(_Venue(vs, ex, sims))
        from exchange.sim.portfolio import world_agent_class

        self.agents = []
        for pop in world.populations:
            cls = world_agent_class(pop.type, world.source)
            rng = np.random.default_rng(component_seed(self.seed, f"world:{pop.name}"))
            self.agents.append(cls(pop.name, dict(pop.params), rng))
        self.wall_s = 0.0
        self._ran = False

    def agent(self, name: str):
        """The world population called ``name``."""
        for a in self.agents:
            if a.name == name:
                return a
        raise invalid("name", "a world population (" + ", ".join(a.name for a in self.agents)
                      + ")", name)

    def rng(self, name: str) -> np.random.Generator:
        """A generator of its own for the named component of the world."""
        return np.random.default_rng(component_seed(self.seed, f"world:{name}"))

    def venue(self, name: str) -> _Venue:
        for v in self.venues:
            if v.spec.name == name:
                return v
        raise ConfigError.for_key(self.w.source, "venue", "one of "
                                  + ", ".join(v.spec.name for v in self.venues), name)

    # -- running
    def _on_venue(self, ts: int, v: _Venue) -> None:
        sims = v.sims
        sims[0]._drain()
        sims[0]._release()
        published = [s.timeline.oracle.publish_count for s in sims]
        v.ex.step(ts, v.quotes, events=False)
        for s, p in zip(sims, published):
            s._after_step(ts, p)
        nxt = v.ex.next_wakeup_ns()
        self.clock.schedule(max(nxt, ts + 1), PRIO_ORACLE, self._on_venue, v)

    def _on_agent(self, ts: int, agent) -> None:
        nxt = agent.wake(self, ts)
        if nxt is not None and nxt < self.w.duration_ns:
            self.clock.schedule(max(int(nxt), ts + 1), PRIO_AGENT, self._on_agent, agent)

    def run(self, progress=None) -> None:
        if self._ran:
            raise RuntimeError("a World runs once; build a new one")
        self._ran = True
        t0 = time.perf_counter()
        for v in self.venues:
            for s in v.sims:
                s.start()
            self.clock.schedule(0, PRIO_ORACLE, self._on_venue, v)
        for agent in self.agents:
            first = agent.setup(self, 0)
            if first is not None:
                self.clock.schedule(int(first), PRIO_AGENT, self._on_agent, agent)
        end = self.w.duration_ns
        chunks = 50 if progress is not None else 1
        for i in range(1, chunks + 1):
            self.clock.run(end * i // chunks)
            if progress is not None:
                progress(i / chunks, self.events)
        for v in self.venues:
            s0 = v.sims[0]
            s0._at(end)
            s0._drain()
            for s in v.sims:
                for agent in s.agents:
                    hook = getattr(agent, "on_stop", None)
                    if hook is not None:
                        hook(s.ctx, end)
        for agent in self.agents:
            hook = getattr(agent, "on_stop", None)
            if hook is not None:
                hook(self, end)
        for v in self.venues:
            v.sims[0]._drain()
            if self.check != "none":
                v.ex.check_invariants()
        self.wall_s = time.perf_counter() - t0

    @property
    def events(self) -> int:
        return int(sum(sum(len(c) for c in v.ex._journal) for v in self.venues))


@attrs.define
class WorldResult:
    """What a world run produced. ``markets``: ``{venue: {symbol: metrics}}`` (each
    instrument's records only: an episode of a cross account counts on every instrument it
    closes; venue-wide money — insurance, bad debt — in ``venues``);
    ``venues``: per venue totals; ``populations``: PnL and liquidations per world population
    (``first_trigger``: liquidated accounts by the instrument whose mark first triggered
    them); ``basis``: cross-venue basis statistics per asset traded on several venues."""

    scenario: str
    seed: int
    waterfall: tuple[str, ...]
    markets: dict[str, dict[str, dict[str, Any]]]
    venues: dict[str, dict[str, Any]]
    populations: dict[str, dict[str, Any]]
    basis: dict[str, dict[str, Any]]
    series: dict[str, dict[str, dict[str, np.ndarray]]]
    events: int
    wall_s: float
    sim_s: float
    files: dict[str, str] = attrs.field(factory=dict)




def _half_life_s(x: np.ndarray, dt_s: float) -> float | None:
    """Half-life of an AR(1) fitted to ``x`` (None when it does not mean-revert)."""
    x = x[np.isfinite(x)]
    if x.shape[0] < 20:
        return None
    a, b = x[:-1] - x[:-1].mean(), x[1:] - x[1:].mean()
    den = float((a * a).sum())
    if den <= 0:
        return None
    phi = float((a * b).sum() / den)
    if not 0 < phi < 1:
        return None
    return float(-np.log(2) / np.log(phi) * dt_s)


def cross_venue_basis(series_a: dict, series_b: dict, step_s: float) -> dict[str, Any]:
    """The basis between two venues' marks (and last prices) of one asset, in bp: mean, sd,
    largest |basis|, AR(1) half-life (s)."""
    n = min(len(series_a["mark_ticks"]), len(series_b["mark_ticks"]))
    out: dict[str, Any] = {}
    for col in ("mark", "last"):
        pa = series_a[f"{col}_price"][:n]
        pb = series_b[f"{col}_price"][:n]
        ok = (pa > 0) & (pb > 0)
        b = np.full(n, np.nan)
        b[ok] = (pa[ok] / pb[ok] - 1.0) * 1e4
        v = b[ok]
        out[f"{col}_basis_mean_bp"] = float(v.mean()) if v.shape[0] else None
        out[f"{col}_basis_sd_bp"] = float(v.std()) if v.shape[0] else None
        out[f"{col}_basis_max_bp"] = float(np.abs(v).max()) if v.shape[0] else None
        out[f"{col}_basis_half_life_s"] = _half_life_s(v, step_s)
    return out


def run_world(world, seed: int = 0, waterfall=None, out_dir=None, *, check: str = "end",
              progress=None, overrides: dict | None = None, report: bool = True,
              prepare=None, journal: str = "full") -> WorldResult:
    """Run a world scenario (a :class:`WorldScenario`, a built-in name or a TOML path) and
    return its :class:`WorldResult`; with ``out_dir`` write metrics.json, each market's
    series (``series-<venue>-<symbol>.parquet``), each venue's journal
    (``journal-<venue>/``: every event table with ``journal="full"``, all but the order
    flow with ``"events"``, none with ``"none"``) and report.html. ``prepare(world)`` runs
    on the built :class:`World` before it starts. The venues hold their journals in memory
    for the run's metrics whatever ``journal`` says."""
    from exchange.sim.journal import check_journal_mode
    from exchange.sim.metrics import JournalSummary, account_pnl, compute_metrics

    check_journal_mode(journal)
    w = load_world(world)
    if overrides:
        w = w.with_overrides(overrides)
    if isinstance(waterfall, str):
        waterfall = [x.strip() for x in waterfall.split(",") if x.strip()]
    sim = World(w, seed, waterfall, check=check)
    if prepare is not None:
        prepare(sim)
    sim.run(progress)
    markets: dict[str, dict[str, dict]] = {}
    venues: dict[str, dict] = {}
    series: dict[str, dict[str, dict]] = {}
    pops: dict[str, dict] = {}
    journals: dict[str, np.ndarray] = {}
    layout: dict[str, dict] = {}
    for v in sim.venues:
        recs = v.ex.journal()
        journals[v.spec.name] = recs
        layout[v.spec.name] = _venue_layout(v, {a.name for a in sim.agents})
        s0 = v.sims[0]
        equity, upnl = s0.account_values()
        markets[v.spec.name] = {}
        series[v.spec.name] = {}
        for m, s in zip(v.spec.markets, v.sims):
            ser = s.series()
            info = s.info()
            tick = float(s.spec.tick_size)
            ser["mark_price"] = ser["mark_ticks"] * tick
            ser["last_price"] = ser["last_ticks"] * tick
            ser["index_price"] = ser["index_ticks"] * tick
            mine = recs[recs["instr"] == s.instr]
            met = compute_metrics(JournalSummary.of(mine), ser, info, equity)
            met["asset"] = m.asset
            markets[v.spec.name][m.symbol] = met
            series[v.spec.name][m.symbol] = ser
        info0 = v.sims[0].info()
        tot = compute_metrics(JournalSummary.of(recs), v.sims[0].series(), info0, equity)
        venues[v.spec.name] = {k: tot[k] for k in VENUE_KEYS}
        # notional needs each instrument's grid (atoms per tick·lot): the sum of the markets'
        venues[v.spec.name]["liquidation_notional"] = sum(
            m["liquidation_notional"] or 0.0 for m in markets[v.spec.name].values())
        venues[v.spec.name]["preset"] = v.ex.preset.name
        venues[v.spec.name]["waterfall"] = list(v.ex.preset.liquidation.waterfall)
        for agent in sim.agents:
            accts = agent.accounts_on(v.spec.name)
            if accts is None or not len(accts):
                continue
            pnl = account_pnl(JournalSummary.of(recs), accts, equity, upnl, info0)
            entry = pops.setdefault(agent.name, {"type": agent.kind, "venues": {}})
            entry["venues"][v.spec.name] = {**pnl, **agent.report(v, recs)}
    basis: dict[str, dict] = {}
    for asset in w.assets:
        held = [(v.spec.name, m.symbol) for v in sim.venues for m in v.spec.markets
                if m.asset == asset]
        if len(held) >= 2:
            (va, sa), (vb, sb) = held[:2]
            basis[asset] = {"venues": [va, vb], **cross_venue_basis(
                series[va][sa], series[vb][sb], w.step_ns / NS_PER_S)}
    result = WorldResult(scenario=w.name, seed=int(seed),
                         waterfall=tuple(sim.venues[0].ex.preset.liquidation.waterfall),
                         markets=markets, venues=venues, populations=pops, basis=basis,
                         series=series, events=sim.events, wall_s=sim.wall_s,
                         sim_s=w.duration_ns / NS_PER_S)
    if out_dir is not None:
        _write_world(result, journals, Path(out_dir), report, journal, layout)
    return result


def _venue_layout(v, world_populations: set[str]) -> dict[str, Any]:
    """What reading a venue's journal needs beside it (``venues.json``): the preset, each
    instrument's scales by instrument index (:func:`~exchange.export.raw_scales`), and the
    accounts of each population (a market's populations as ``SYMBOL:name``, the world's by
    name; the insurance fund's takeover account and the backstop vault when there are)."""
    from exchange.export import raw_scales

    roles: dict[str, list[int]] = {}
    for m, s in zip(v.spec.markets, v.sims):
        for role, ids in s.ctx.roles.items():
            label = role if role in world_populations else f"{m.symbol}:{role}"
            roles.setdefault(label, []).extend(int(a) for a in np.asarray(ids).tolist())
    liq = v.ex.liquidation
    fund = liq.fund_acct if liq is not None else None
    if fund is not None:
        roles.setdefault("insurance_fund", []).append(int(fund))
    vault = v.sims[0].backstop_account()
    if vault is not None:
        roles.setdefault("backstop_vault", []).append(int(vault))
    return {"preset": v.ex.preset.name, "instruments": [raw_scales(sp) for sp in v.ex.specs],
            "populations": {k: sorted(set(ids)) for k, ids in roles.items()}}


def _json_default(o):
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def _write_world(result: WorldResult, journals: dict, out: Path, report: bool,
                 journal: str = "full", layout: dict | None = None) -> None:
    from exchange.sim.journal import ORDER_FLOW, write_journal, write_series

    out.mkdir(parents=True, exist_ok=True)
    files = {}
    layout = layout or {}
    for vname, recs in journals.items() if journal != "none" else ():
        skip = ORDER_FLOW if journal == "events" else frozenset()
        scales = layout.get(vname, {}).get("instruments")
        for k, p in write_journal(recs, out / f"journal-{vname}", scales=scales,
                                  skip=skip).items():
            files[f"journal-{vname}/{k}"] = str(p)
    if layout:
        # what ``perpsim journal`` needs to read the venues' journals in human units
        (out / "venues.json").write_text(json.dumps(layout, indent=1, sort_keys=True))
        files["venues"] = str(out / "venues.json")
    for vname, per in result.series.items():
        for sym, ser in per.items():
            p = write_series({k: v for k, v in ser.items()}, out / f"series-{vname}-{sym}.parquet")
            files[f"series-{vname}-{sym}"] = str(p)
    meta = dict(scenario=result.scenario, seed=result.seed, waterfall=list(result.waterfall),
                events=result.events, wall_s=round(result.wall_s, 3), sim_s=result.sim_s,
                markets=result.markets, venues=result.venues, populations=result.populations,
                basis=result.basis)
    (out / "metrics.json").write_text(json.dumps(meta, indent=1, default=_json_default))
    files["metrics"] = str(out / "metrics.json")
    if report:
        from exchange.report.world import write_world_report

        files["report"] = str(write_world_report(result, out / "report.html"))
    result.files = files
