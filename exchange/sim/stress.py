"""``perpsim stress``: a trader's reverse stress test of one position on a venue's mechanics.

The traders' question is not "what is my liquidation price" (``perpsim calc`` answers that)
but "what happens to my book if the index gaps, funding flips and stays at its cap, the
makers leave, the oracle lags or goes dark" — with the rest of the market reacting. This
module answers it by simulation: the position is opened by a holding strategy inside a
market of makers, noise traders, a leveraged crowd, carry traders and keepers (the ``calm``
scenario, thinned so that a battery of runs takes seconds), on the named venue preset's own
tiers, mark price, funding and liquidation waterfall; then each shock of a battery hits it,
over many seeds. The same position is held twice in every run, once in cross margin (the
whole wallet backs it) and once in isolated margin (only the position's initial margin
does), so cross and isolated are compared on the same price path.

Per shock and margin mode the result reports: the probability of liquidation (share of
seeds in which the position was liquidated), the expected and worst loss, the median time
from the shock to the liquidation, the funding paid, and the margin buffer needed to
survive at 95 % and 99 %: the extra margin that would have kept the position's equity above
its maintenance margin for the whole run in that share of seeds. The buffer of a run is
``max_t (maintenance_t − equity_t)`` (0 when the position never came near): measured on the
venue's own numbers while the position lives, and after a liquidation on a shadow of the
position held on (its equity moved by the mark and by the funding settlements the venue paid
everyone else; its maintenance margin from the instrument's tiers).

Input: a portfolio TOML (see :func:`load_portfolio`) or the command line
(``perpsim stress --preset binance_usdm --side long --qty 2 --leverage 10 --wallet 50000``).
Today a portfolio holds one position (a scenario has one instrument). Cost: about
``(len(battery) × seeds)`` short runs of a thinned market, spread over ``workers`` processes.
"""
from __future__ import annotations

import math
import os
import tomllib
from concurrent.futures import ProcessPoolExecutor
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from collections.abc import Iterable, Mapping, Sequence

import attrs
import numpy as np

from exchange.errors import ConfigError
from exchange.funding import make_funding_rule
from exchange.sim.strategy import Strategy
from exchange.units import RATE_SCALE

__all__ = ["Portfolio", "StressCase", "StressResult", "load_portfolio", "default_battery",
           "run_stress", "Holder"]

NS_PER_S = 1_000_000_000
#: the base market: the ``calm`` scenario thinned (fewer makers requoting less often, a
#: smaller crowd) so one short run costs well under a second; its index price is the
#: reference the base-quantity parameters below are scaled from for other instruments
BASE_SCENARIO = "calm"
_BASE_PRICE = 110_000.0
_THIN = {
    "population.makers.requote_ms": 2000,
    "population.noise.count": 60, "population.directional.count": 80,
    "population.directional.warmup_s": 60,
    "population.arbitrageur.count": 4, "population.arbitrageur.check_ms": 10_000,
    "population.keeper.count": 2, "scenario.step_ms": 5000,
}
#: the long (funding) run: makers requote every 10 s, a small crowd, the venue's oracle (and
#: so its mark and liquidation checks) every 5 s, the pace of its funding samples; the carry
#: traders that answer a funding flip stay
_LONG_RUN = {"population.makers.requote_ms": 10_000, "population.noise.count": 20,
             "population.directional.count": 20, "population.keeper.count": 1,
             "scenario.step_ms": 30_000, "scenario.oracle_cadence_ms": 5000,
             "population.directional.check_ms": 10_000, "population.noise.wake_ms": 10_000}
#: the held position's tick in the long run (it values the position on the mark each tick)
_LONG_TICK_MS = 5000.0
#: base-quantity parameters of the base market, rescaled by ``_BASE_PRICE / price``
_BASE_QTY_KEYS = ("population.makers.size", "population.makers.inventory_limit",
                  "population.noise.size")
#: per-base-unit parameters (the makers' permanent impact, bp per base unit), scaled by
#: ``price / _BASE_PRICE``
_PER_BASE_QTY_KEYS = ("population.makers.flow_impact_bps",)
#: when the position is opened (the book is built; takers start at 10 s) and when shocks hit
OPEN_S = 30.0
SHOCK_AT_S = 120.0
#: how long a run goes on after its shock ends (the cascade and the recovery)
TAIL_S = 240.0
_SIDES = {"long": "BUY", "short": "SELL", "buy": "BUY", "sell": "SELL"}
_MODES = ("cross", "isolated")


def _fail(source: str, key: str, rule: str, value: Any) -> ConfigError:
    return ConfigError(f"{source}: {key!r} must be {rule} (got {value!r})")


def _decimal(source: str, key: str, value: Any, *, positive: bool = True) -> Decimal:
    try:
        d = Decimal(repr(value) if isinstance(value, float) else str(value))
    except (InvalidOperation, ValueError):
        raise _fail(source, key, "a decimal number", value) from None
    if isinstance(value, bool) or not d.is_finite() or (positive and d <= 0):
        raise _fail(source, key, "a positive decimal number" if positive else "a decimal", value)
    return d


@attrs.frozen
class Portfolio:
    """One position on one venue preset: ``side`` long/short, ``qty`` in base units,
    ``leverage``, the account's ``wallet`` (settlement asset), ``margin_mode`` cross,
    isolated or both (default: both, compared side by side), ``price`` the index's start
    price (default: the base market's 110,000 for BTC instruments; required otherwise)."""

    preset: str
    symbol: str
    side: str
    qty: Decimal
    leverage: int
    wallet: Decimal
    margin_mode: str = "both"
    price: float = _BASE_PRICE

    @property
    def modes(self) -> tuple[str, ...]:
        return _MODES if self.margin_mode == "both" else (self.margin_mode,)

    @property
    def notional(self) -> Decimal:
        return self.qty * Decimal(repr(self.price))

    def describe(self) -> str:
        return (f"{self.side} {self.qty} {self.symbol} at {self.leverage}x on {self.preset}, "
                f"wallet {self.wallet}, notional ≈ {self.notional:,.0f}")

    @classmethod
    def build(cls, *, preset: str = "binance_usdm", symbol: str | None = None,
              side: str = "long", qty: Any = "1", leverage: Any = 10, wallet: Any = "20000",
              margin_mode: str = "both", price: Any = None,
              source: str = "portfolio") -> Portfolio:
        """Validate and build; bad input raises :class:`ConfigError` naming the field."""
        from exchange.presets import load_preset

        try:
            pr = load_preset(preset)
        except ConfigError as exc:
            raise ConfigError(f"{source}: 'preset': {exc}") from None
        symbols = list(pr.instruments)
        symbol = symbols[0] if symbol is None else str(symbol)
        if symbol not in pr.instruments:
            raise _fail(source, "symbol", f"an instrument of {preset} ({', '.join(symbols)})",
                        symbol)
        spec = pr.instruments[symbol]
        if str(side).lower() not in _SIDES:
            raise _fail(source, "side", "long or short", side)
        side = "long" if _SIDES[str(side).lower()] == "BUY" else "short"
        q = _decimal(source, "qty", qty)
        if q % spec.lot_size:
            raise _fail(source, "qty", f"a multiple of the lot size {spec.lot_size}", qty)
        if isinstance(leverage, bool) or not isinstance(leverage, (int, str)):
            raise _fail(source, "leverage", "an integer >= 1", leverage)
        try:
            lev = int(leverage)
        except ValueError:
            raise _fail(source, "leverage", "an integer >= 1", leverage) from None
        if lev < 1:
            raise _fail(source, "leverage", "an integer >= 1", leverage)
        w = _decimal(source, "wallet", wallet)
        if margin_mode not in ("cross", "isolated", "both"):
            raise _fail(source, "margin_mode", "cross, isolated or both", margin_mode)
        base = str(spec.base).upper()
        if price is None:
            if base not in ("BTC", "XBT"):
                raise _fail(source, "price", f"the index start price of {symbol} (required "
                            "for instruments other than BTC)", price)
            px = _BASE_PRICE
        else:
            px = float(_decimal(source, "price", price))
        notional_atoms = int(q * Decimal(repr(px)) * 10 ** spec.settle_decimals)
        max_lev = int(spec.max_leverage_for(notional_atoms))
        if lev > max_lev:
            raise _fail(source, "leverage", f"at most {max_lev}x, the {preset} tier maximum for "
                        f"a notional of {q * Decimal(repr(px)):,.0f}", leverage)
        im = q * Decimal(repr(px)) / lev
        if w < im:
            raise _fail(source, "wallet", f"at least the initial margin {im:,.2f} "
                        f"({q} × {px:,.0f} / {lev}x)", wallet)
        return cls(preset=preset, symbol=symbol, side=side, qty=q, leverage=lev, wallet=w,
                   margin_mode=margin_mode, price=px)


def load_portfolio(path) -> Portfolio:
    """A portfolio TOML::

        [portfolio]
        preset = "binance_usdm"
        wallet = "50000"
        margin_mode = "both"           # cross, isolated or both

        [[position]]                   # one or more, each on its own instrument
        symbol = "BTCUSDT"
        side = "long"
        qty = "2"
        leverage = 10
        price = 110000                 # optional for BTC: the index's start price

    Several positions make a :class:`~exchange.sim.stress_book.PortfolioBook` (one account,
    the legs gapping together through a factor model)."""
    p = Path(path)
    source = str(p)
    try:
        data = tomllib.loads(p.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{source}: no such portfolio file") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML ({exc})") from None
    unknown = set(data) - {"portfolio", "position"}
    if unknown:
        raise _fail(source, sorted(unknown)[0], "one of [portfolio], [[position]]", "…")
    top = data.get("portfolio", {})
    known = {"preset", "wallet", "margin_mode"}
    for k in top:
        if k not in known:
            raise _fail(source, f"portfolio.{k}", f"one of {', '.join(sorted(known))}", top[k])
    positions = data.get("position", [])
    if not isinstance(positions, list) or not positions \
            or not all(isinstance(x, dict) for x in positions):
        raise _fail(source, "position", "one or more [[position]] tables",
                    f"{len(positions)} tables" if isinstance(positions, list) else positions)
    pknown = {"symbol", "side", "qty", "leverage", "price"}
    for i, pos in enumerate(positions):
        for k in pos:
            if k not in pknown:
                raise _fail(source, f"position[{i}].{k}", f"one of {', '.join(sorted(pknown))}",
                            pos[k])
    if len(positions) > 1:
        from exchange.sim.stress_book import PortfolioBook

        return PortfolioBook.build(positions, source=source, **top)
    return Portfolio.build(source=source, **{k: v for k, v in top.items()}, **positions[0])


# -- THE BATTERY ------------------------------------------------------------------------------

@attrs.frozen
class StressCase:
    """One shock of the battery: scenario ``[[shock]]`` tables (times relative to the shock
    start at :data:`SHOCK_AT_S`), how long it lasts, and a label."""

    name: str
    label: str
    shocks: tuple = ()
    duration_s: float = 0.0
    #: at most this many of the seeds (the long funding run), None = all
    max_seeds: int | None = None
    #: a few characters for the console table (the label is its legend)
    short: str = ""
    #: scenario overrides of this case on top of the base market (the long funding run
    #: thins the market further: hours of simulated time)
    overrides: Mapping[str, Any] = attrs.field(factory=dict)

    @property
    def run_s(self) -> float:
        return SHOCK_AT_S + self.duration_s + TAIL_S


def default_battery(portfolio: Portfolio, *, gaps: Sequence[float] = (5.0, 10.0, 20.0),
                    funding_hours: float = 8.0, funding_rate: float | None = None,
                    funding_seeds: int | None = 1,
                    vacate_minutes: float = 5.0, lag_minutes: float = 5.0,
                    outage_minutes: float = 5.0, thin_minutes: float = 5.0
                    ) -> list[StressCase]:
    """The reverse-stress battery for ``portfolio``, every shock against the position:
    the baseline; index gaps of each ``gaps`` %; funding flipped to ``funding_rate`` per
    settlement (default: the preset's cap) for ``funding_hours`` (a long run: on at most
    ``funding_seeds`` of the seeds, None = all); every maker withdrawing
    for ``vacate_minutes`` while the smallest gap hits; the oracle lagging ``lag_minutes``
    through that gap; the oracle dark for ``outage_minutes`` through it; half the makers
    withdrawing for ``thin_minutes`` (wider spreads, thinner book) through it."""
    from exchange.presets import load_preset

    against = -1.0 if portfolio.side == "long" else 1.0
    cases = [StressCase("baseline", "no shock", short="none")]
    for g in gaps:
        if not 0 < g < 100:
            raise ConfigError(f"stress: '--gaps' must be percentages in (0, 100) (got {g!r})")
        cases.append(StressCase(f"gap_{g:g}", f"index gaps {against * g:+g} %",
                                (dict(type="index_gap", at_s=0.0, change=against * g / 100),),
                                short=f"gap {against * g:+g}%"))
    small = min(gaps) if gaps else 5.0
    gap = dict(type="index_gap", at_s=30.0, change=against * small / 100)
    if funding_hours > 0:
        pr = load_preset(portfolio.preset)
        rate = funding_rate
        if rate is None:
            # the largest rate one settlement can pay (Drift: its spread clamp, per period)
            cap = pr.funding.cap_rate if pr.funding.averaging == "twap_spread" \
                else make_funding_rule(pr, portfolio.symbol).max_rate()
            if cap is None:
                raise ConfigError(f"stress: {portfolio.preset} has no funding cap; give "
                                  "'--funding-rate' (per settlement, a fraction)")
            rate = cap / RATE_SCALE
        paying = abs(rate) if portfolio.side == "long" else -abs(rate)
        cases.append(StressCase(
            "funding_flip", f"funding at {paying * 100:+.4g} % per settlement for "
            f"{funding_hours:g} h",
            (dict(type="funding_flip", at_s=0.0, duration_s=funding_hours * 3600, rate=paying),),
            funding_hours * 3600, max_seeds=funding_seeds, short=f"funding {funding_hours:g}h",
            overrides=_LONG_RUN))
    shorts = {"makers_vacate": "vacate", "oracle_lag": "lag", "oracle_outage": "outage",
              "thin_book": "thin"}
    for name, minutes, label, extra in (
            ("makers_vacate", vacate_minutes, f"every maker withdraws for {vacate_minutes:g} min, "
             f"the index gaps {against * small:+g} %", dict(type="mm_withdraw", fraction=1.0)),
            ("oracle_lag", lag_minutes, f"the oracle lags {lag_minutes:g} min through a "
             f"{against * small:+g} % gap", dict(type="oracle_lag", source="all")),
            ("oracle_outage", outage_minutes, f"the oracle is dark {outage_minutes:g} min "
             f"through a {against * small:+g} % gap", dict(type="oracle_outage", source="all")),
            ("thin_book", thin_minutes, f"half the makers withdraw for {thin_minutes:g} min "
             f"(wider spreads), the index gaps {against * small:+g} %",
             dict(type="mm_withdraw", fraction=0.5))):
        if minutes <= 0:
            continue
        shock = dict(extra, at_s=0.0, duration_s=minutes * 60)
        if shock["type"] == "oracle_lag":
            shock["lag_s"] = minutes * 60
        cases.append(StressCase(name, label, (shock, gap), minutes * 60,
                                short=f"{shorts[name]} {minutes:g}m {against * small:+g}%"))
    return cases


# -- THE HOLDER -------------------------------------------------------------------------------

class Holder(Strategy):
    """Opens ``side`` ``qty`` with market orders from ``open_s`` and holds it; records the
    entry, then the mark at every tick to the end of the run (a liquidated position's shadow
    is valued on it), and when the venue liquidated it."""

    deposit = "20000"
    leverage = 10
    side = "BUY"
    qty = "1"
    open_s = OPEN_S

    def on_start(self, api) -> None:
        self.sent = 0
        self.opened_at: int | None = None
        self.liquidated_at: int | None = None
        self.size_lots = 0
        self.entry = 0.0
        self.ts: list[int] = []
        self.marks: list[float] = []

    def on_tick(self, api) -> None:
        if self.opened_at is None:
            # open with market orders until the whole quantity is held (a thin book fills
            # a large order in pieces: the venue's market-order protection stops it)
            if api.now < self.open_s * NS_PER_S or api.mark is None \
                    or self.liquidated_at is not None:
                return
            pos = api.position
            want = Decimal(str(self.qty))
            if abs(pos.size) >= want:
                self.opened_at, self.size_lots = api.now, pos.size_lots
                self.entry = float(pos.entry_price)
            elif not api.open_orders and self.sent < 60:
                api.market(self.side, want - abs(pos.size))
                self.sent += 1
                return
            else:
                return
        self.ts.append(api.now)
        self.marks.append(float(api.mark))

    def on_liquidation(self, api, event) -> None:
        if self.liquidated_at is None and self.opened_at is not None:
            self.liquidated_at = event.ts_ns


class _Probe:
    """Listens to every record batch: the mark at each step and the funding settlements
    (their rate and price), which the post-liquidation shadow of the position needs."""

    def __init__(self) -> None:
        self.settlements: list[tuple[int, int, int]] = []   # (ts, price ticks, rate 1e8)

    def __call__(self, ctx, records: np.ndarray) -> None:
        from exchange.venue import EV_FUNDING_RATE_SET

        hit = records[records["kind"] == EV_FUNDING_RATE_SET]
        for r in hit:
            self.settlements.append((int(r["ts"]), int(r["price"]), int(r["a2"])))


def _scenario(portfolio: Portfolio, case: StressCase):
    from exchange.presets import load_preset
    from exchange.sim.scenario import load_scenario
    from exchange.sim.strategy import strategy_overrides

    pr = load_preset(portfolio.preset)
    spec = pr.instruments[portfolio.symbol]
    scale = _BASE_PRICE / portfolio.price
    base = load_scenario(BASE_SCENARIO)
    ov: dict[str, Any] = dict(_THIN)
    ov.update({"scenario.preset": portfolio.preset, "scenario.symbol": portfolio.symbol,
               "scenario.duration_s": case.run_s, "index.price": portfolio.price,
               "waterfall": list(pr.liquidation.waterfall),
               "venue.liquidation.insurance_fund": str(
                   spec.atoms_to_amount(pr.liquidation.insurance_fund_atoms))})
    for key in _BASE_QTY_KEYS + _PER_BASE_QTY_KEYS:
        _, name, param = key.split(".")
        for p in base.populations:
            if p.name == name and param in p.params:
                f = scale if key in _BASE_QTY_KEYS else 1.0 / scale
                ov[key] = float(p.params[param]) * f
    ov.update(case.overrides)
    sc = base.with_overrides(ov)
    extra: dict[str, Any] = {}
    for mode in portfolio.modes:
        extra.update(strategy_overrides(Holder, _holder_params(portfolio, mode, _tick_ms(case)),
                                        mode))
    for i, shock in enumerate(case.shocks):
        for k, v in shock.items():
            extra[f"shock.{i}.{k}"] = SHOCK_AT_S + v if k == "at_s" else v
    return _with_shocks(sc, extra, len(case.shocks))


def _tick_ms(case) -> float:
    """The held position's tick: 1 s, 5 s in a long (funding) run."""
    return _LONG_TICK_MS if case.run_s > 3600 else 1000.0


def _holder_params(portfolio: Portfolio, mode: str, tick_ms: float = 1000.0) -> dict[str, Any]:
    return dict(deposit=str(portfolio.wallet), leverage=portfolio.leverage, margin_mode=mode,
                side=_SIDES[portfolio.side], qty=str(portfolio.qty), interval_ms=tick_ms)


def _with_shocks(sc, overrides: dict, n_shocks: int):
    """``with_overrides`` addresses shocks by position: append ``n_shocks`` empty tables to
    the TOML tree first (the base market has none)."""
    import copy

    data = copy.deepcopy(sc.data)
    if data.get("shock"):
        raise ConfigError(f"stress: the base scenario {BASE_SCENARIO!r} must have no shocks")
    data["shock"] = [dict() for _ in range(n_shocks)]
    for key in list(overrides):
        if key.startswith("shock."):
            _, i, k = key.split(".", 2)
            data["shock"][int(i)][k] = overrides.pop(key)
    if not data["shock"]:
        del data["shock"]
    from exchange.sim.scenario import parse_scenario

    return parse_scenario(data, sc.source).with_overrides(overrides)


def shortfall(h: Holder, settlements: Sequence[tuple[int, int, int]], spec, margin: float
              ) -> float:
    """The worst ``maintenance − equity`` of the position held from its entry to the end of
    the run, whatever the venue did to it: equity = ``margin`` (the wallet in cross margin,
    the initial margin in isolated) − the entry's taker fee + size × (mark − entry) − the
    funding of every settlement the venue paid after the entry (its rate and price, on this
    size); maintenance from the instrument's tiers at the mark. The extra margin that keeps
    the position alive is ``max(0, shortfall)``. O(ticks × log tiers)."""
    if h.opened_at is None or not h.marks:
        return -math.inf
    size = float(spec.lots_to_qty(h.size_lots))
    tick = float(spec.tick_size)
    ts = np.asarray(h.ts, np.int64)
    marks = np.asarray(h.marks, np.float64)
    funding = np.zeros(ts.shape[0])
    for t, price, rate in settlements:
        if t > h.opened_at:
            funding[ts >= t] += size * price * tick * rate / RATE_SCALE
    fee = abs(size) * h.entry * spec.taker_fee_rate / RATE_SCALE
    eq = margin - fee + size * (marks - h.entry) - funding
    scale = 10 ** spec.settle_decimals
    mm = np.array([spec.maintenance_margin_atoms(
        spec.notional_atoms(int(round(m / tick)), h.size_lots)) for m in marks]) / scale
    return float((mm - eq).max())


def _run_case(args) -> dict:
    """Worker: one (case, seed); returns per margin mode the run's figures."""
    from exchange.sim.runner import run

    portfolio, case, seed = args
    sc = _scenario(portfolio, case)
    holders: dict[str, Holder] = {}
    probe = _Probe()

    def prepare(sim) -> None:
        for agent in sim.agents:
            if agent.name in portfolio.modes:
                h = Holder(**_holder_params(portfolio, agent.name, _tick_ms(case)))
                agent.use(h)
                holders[agent.name] = h
        sim.ctx.record_listeners.append(lambda recs: probe(sim.ctx, recs))

    res = run(sc, seed, prepare=prepare, keep_journal=False, report=False)
    from exchange.presets import load_preset

    spec = load_preset(portfolio.preset).instruments[portfolio.symbol]
    out = {}
    for mode, h in holders.items():
        s = res.strategies[mode]
        liq_s = (None if h.liquidated_at is None
                 else (h.liquidated_at / NS_PER_S) - SHOCK_AT_S)
        margin = (float(portfolio.wallet) if mode == "cross"
                  else float(portfolio.qty) * h.entry / portfolio.leverage)
        short = shortfall(h, probe.settlements, spec, margin)
        out[mode] = dict(opened=h.opened_at is not None, liquidated=h.liquidated_at is not None,
                         time_to_liq_s=liq_s, loss=-float(s["pnl"]),
                         funding=float(s["funding"]), buffer=max(0.0, short),
                         fees=float(s["fees"]))
    return dict(case=case.name, seed=seed, modes=out, wall_s=res.wall_s)


# -- RESULTS ----------------------------------------------------------------------------------

@attrs.define
class StressResult:
    """Rows per (shock, margin mode) and the raw per-seed figures."""

    portfolio: Portfolio
    cases: list[StressCase]
    seeds: list[int]
    runs: list[dict]
    wall_s: float = 0.0

    @property
    def settle(self) -> str:
        """The settlement asset (the unit of every loss, fee and buffer)."""
        return _settle(self.portfolio)

    COLUMNS = ("shock", "margin", "p_liq", "loss_mean", "loss_worst", "time_to_liq_s",
               "funding", "buffer_95", "buffer_99")

    def rows(self) -> list[dict]:
        out = []
        for case in self.cases:
            runs = [r for r in self.runs if r["case"] == case.name]
            for mode in self.portfolio.modes:
                m = [r["modes"][mode] for r in runs]
                loss = np.array([x["loss"] for x in m])
                buf = np.array([x["buffer"] for x in m])
                t = [x["time_to_liq_s"] for x in m if x["time_to_liq_s"] is not None]
                out.append(dict(
                    shock=case.name, label=case.label, short=case.short or case.name, margin=mode, seeds=len(m),
                    p_liq=float(np.mean([x["liquidated"] for x in m])),
                    loss_mean=float(loss.mean()), loss_worst=float(loss.max()),
                    time_to_liq_s=float(np.median(t)) if t else None,
                    funding=float(np.mean([x["funding"] for x in m])),
                    buffer_95=float(np.quantile(buf, 0.95)),
                    buffer_99=float(np.quantile(buf, 0.99))))
        return out

    def table(self):
        """A rich Table of :meth:`rows` (amounts in the settlement asset), readable at 80
        columns: labels wrap, numbers do not."""
        from rich import box
        from rich.table import Table

        settle = self.settle
        t = Table(title=f"perpsim stress · {self.portfolio.describe()} · seeds "
                  f"0..{len(self.seeds) - 1} · amounts in {settle}",
                  caption=self.legend(), caption_justify="left", box=box.SIMPLE_HEAD,
                  pad_edge=False)
        t.add_column("shock", overflow="fold", max_width=14)
        t.add_column("margin", no_wrap=True)
        for col in ("p liq", "loss", "worst", "liq at", "funding", "b95", "b99"):
            t.add_column(col, justify="right", no_wrap=True)
        rows = self.rows()
        for i, r in enumerate(rows):
            first = i == 0 or rows[i - 1]["shock"] != r["shock"]
            t.add_row(r["short"] if first else "", "iso" if r["margin"] == "isolated" else
                      r["margin"], f"{r['p_liq']:.0%}", _amount(r["loss_mean"]),
                      _amount(r["loss_worst"]),
                      "—" if r["time_to_liq_s"] is None else _dur(r["time_to_liq_s"]),
                      _amount(r["funding"]), _amount(r["buffer_95"]), _amount(r["buffer_99"]),
                      end_section=i + 1 < len(rows) and rows[i + 1]["shock"] != r["shock"])
        return t

    def legend(self) -> str:
        """What every short shock name and column of :meth:`table` means."""
        lines = []
        for c in self.cases:
            n = c.max_seeds if c.max_seeds is not None else len(self.seeds)
            seeds = "" if n >= len(self.seeds) else f" ({n} seeds: a long run)"
            lines.append(f"{c.short or c.name}: {c.label}{seeds}")
        lines.append("p liq: share of seeds liquidated · loss/worst: mean/worst wallet lost "
                     "(fees, funding, PnL, liquidation) · liq at: median time from the shock "
                     "to the liquidation · funding: paid · b95/b99: extra margin that keeps "
                     "equity above maintenance in 95 %/99 % of seeds")
        return "\n".join(lines)

    def to_json(self) -> dict:
        p = self.portfolio
        if hasattr(p, "positions"):
            legs = [dict(symbol=x.symbol, side=x.side, qty=str(x.qty), leverage=x.leverage,
                         price=x.price) for x in p.positions]
            return dict(portfolio=dict(preset=p.preset, wallet=str(p.wallet),
                                       margin_mode=p.margin_mode, positions=legs),
                        seeds=self.seeds, wall_s=self.wall_s, rows=self.rows(), runs=self.runs)
        return dict(portfolio=dict(preset=p.preset, symbol=p.symbol, side=p.side, qty=str(p.qty),
                                   leverage=p.leverage, wallet=str(p.wallet),
                                   margin_mode=p.margin_mode, price=p.price),
                    seeds=self.seeds, wall_s=self.wall_s, rows=self.rows(), runs=self.runs)

    def write(self, out_dir) -> dict[str, str]:
        """stress.json and report.html (table and figures) under ``out_dir``."""
        import json

        from exchange.report.stress import render_stress_html

        d = Path(out_dir)
        d.mkdir(parents=True, exist_ok=True)
        (d / "stress.json").write_text(json.dumps(self.to_json(), indent=1, default=str))
        (d / "report.html").write_text(render_stress_html(self))
        return {"json": str(d / "stress.json"), "report": str(d / "report.html")}


def _settle(p: Portfolio) -> str:
    from exchange.presets import load_preset

    return str(load_preset(p.preset).instruments[p.symbol].settle)


def _amount(v: float) -> str:
    """At most 6 characters: 9,484 · 11.0k · 1.23M (the console table fits 80 columns)."""
    a = abs(v)
    if a < 10_000:
        return f"{v:,.0f}"
    if a < 1_000_000:
        return f"{v / 1e3:.1f}k" if a < 100_000 else f"{v / 1e3:.0f}k"
    return f"{v / 1e6:.2f}M" if a < 100_000_000 else f"{v / 1e6:.0f}M"


def _dur(s: float) -> str:
    if s < 0:
        return f"{s:.0f} s (before)"
    return f"{s:.0f} s" if s < 120 else f"{s / 60:.1f} min" if s < 7200 else f"{s / 3600:.1f} h"


def run_stress(portfolio: Portfolio, seeds: Iterable[int] = range(8), *,
               battery: Sequence[StressCase] | None = None, workers: int | None = None,
               progress=None) -> StressResult:
    """Run ``battery`` (default :func:`default_battery`) over ``seeds`` for ``portfolio``
    with ``workers`` processes (default: the CPUs); ``progress(done, total)`` after each."""
    import time

    seeds = [int(s) for s in seeds]
    if not seeds:
        raise ConfigError("stress: '--seeds' must name at least one seed")
    cases = list(battery if battery is not None else default_battery(portfolio))
    jobs = [(portfolio, c, s) for c in cases
            for s in (seeds if c.max_seeds is None else seeds[:max(1, c.max_seeds)])]
    # the long runs first, so the pool is not left waiting on one at the end
    jobs.sort(key=lambda j: -j[1].run_s)
    workers = max(1, min(len(jobs), workers or os.cpu_count() or 1))
    t0 = time.perf_counter()
    runs: list[dict] = []
    from exchange.sim.stress_book import PortfolioBook, run_book_case

    work = run_book_case if isinstance(portfolio, PortfolioBook) else _run_case
    if workers == 1:
        for j in jobs:
            runs.append(work(j))
            if progress:
                progress(len(runs), len(jobs))
    else:
        with ProcessPoolExecutor(workers) as pool:
            for r in pool.map(work, jobs):
                runs.append(r)
                if progress:
                    progress(len(runs), len(jobs))
    runs.sort(key=lambda r: (r["case"], r["seed"]))
    return StressResult(portfolio, cases, seeds, runs, time.perf_counter() - t0)
