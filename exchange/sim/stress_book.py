"""``perpsim stress`` on a book of several positions (one venue, several instruments).

A :class:`PortfolioBook` holds positions on instruments of one preset, in one account
(cross: the wallet and the maintenance margins pooled) or one isolated bucket per leg. Each
case of the battery (:func:`~exchange.sim.stress.default_battery`) runs as a world
(:mod:`exchange.sim.world`) with one market per instrument, the base market of a single
position (``calm`` thinned) on each, and index paths from one factor model: an index gap of
X % is a gap of the market factor, which each asset takes times its gap beta (BTC 1, ETH
1.6, SOL and other alts 3: "alts gap several times further than BTC"), so the legs gap
together, correlated. Funding flips against every leg (longs pay, shorts receive less);
makers, the oracle and the book are shocked on every instrument at once.

Per case and margin mode the figures are those of a single position, over the whole book:
liquidated when any leg is; loss = deposit − equity at the end; the buffer is the worst
``maintenance − equity`` of the book held to the end (every leg valued on its own mark,
funding from the venue's settlements), in isolated margin the sum over legs of each leg's
own shortfall against its initial margin.
"""
from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

import attrs
import numpy as np

from exchange.errors import ConfigError
from exchange.sim.portfolio_strategy import PortfolioStrategy
from exchange.units import RATE_SCALE

__all__ = ["PortfolioBook", "BookHolder", "run_book_case"]

NS_PER_S = 1_000_000_000
#: assets in a stress world: (beta, gap beta, idiosyncratic sd per s, book depth in notional
#: relative to BTC's: alt tiers cap a maker's notional far lower, SOLUSDT's 10x tier at 1M)
ASSET_LOADINGS = {"BTC": (1.0, 1.0, 2e-5, 1.0), "XBT": (1.0, 1.0, 2e-5, 1.0),
                  "ETH": (1.2, 1.6, 5e-5, 0.7)}
ALT_LOADING = (1.5, 3.0, 1e-4, 0.3)
#: a book's runs stop this much earlier after the shock than a single position's
BOOK_TAIL_CUT_S = 60.0


@attrs.frozen
class PortfolioBook:
    """Several positions (:class:`~exchange.sim.stress.Portfolio`, one per instrument) in one
    account of ``preset`` with ``wallet``; the single-position interface of the first leg
    (``symbol``, ``side`` the net direction, ...) is what the battery reads."""

    preset: str
    wallet: Decimal
    margin_mode: str
    positions: tuple

    @classmethod
    def build(cls, positions: list, *, preset: str = "binance_usdm", wallet: Any = "20000",
              margin_mode: str = "both", source: str = "portfolio") -> PortfolioBook:
        from exchange.sim.stress import Portfolio, _fail

        legs = []
        for i, pos in enumerate(positions):
            try:
                legs.append(Portfolio.build(preset=preset, wallet=wallet,
                                            margin_mode=margin_mode, source=source, **pos))
            except ConfigError as exc:
                raise ConfigError(f"{exc} [position {i}]") from None
        syms = [p.symbol for p in legs]
        if len(set(syms)) != len(syms):
            raise _fail(source, "position.symbol", "a different instrument in each [[position]]",
                        syms)
        im = sum((p.notional / p.leverage for p in legs), Decimal(0))
        if legs[0].wallet < im:
            raise _fail(source, "wallet", f"at least the positions' initial margin {im:,.2f}",
                        wallet)
        return cls(preset=preset, wallet=legs[0].wallet, margin_mode=margin_mode,
                   positions=tuple(legs))

    # -- the single-position interface the battery and the result read --
    @property
    def modes(self) -> tuple[str, ...]:
        return self.positions[0].modes

    @property
    def symbol(self) -> str:
        return self.positions[0].symbol

    @property
    def side(self) -> str:
        net = sum(float(p.notional) * (1 if p.side == "long" else -1) for p in self.positions)
        return "long" if net >= 0 else "short"

    @property
    def qty(self) -> Decimal:
        return self.positions[0].qty

    @property
    def leverage(self) -> int:
        return max(p.leverage for p in self.positions)

    @property
    def price(self) -> float:
        return self.positions[0].price

    @property
    def notional(self) -> Decimal:
        return sum((p.notional for p in self.positions), Decimal(0))

    def describe(self) -> str:
        legs = ", ".join(f"{p.side} {p.qty} {p.symbol} at {p.leverage}x" for p in self.positions)
        return f"{legs} on {self.preset}, wallet {self.wallet}, notional ≈ {self.notional:,.0f}"


class BookHolder(PortfolioStrategy):
    """Opens every leg of ``legs`` (``"SYMBOL:BUY|SELL:qty:leverage;..."``) with market orders
    from ``open_s`` and holds them; records each leg's entry and mark at every tick, and when
    the venue first liquidated any leg."""

    deposit = "20000"
    venue = "stress"
    legs = ""
    open_s = 30.0

    def on_start(self, book) -> None:
        self.spec_legs = []
        for part in self.legs.split(";"):
            sym, side, qty, lev = part.split(":")
            self.spec_legs.append((sym, side, Decimal(qty), int(lev)))
            book.set_leverage(self.venue, sym, int(lev))
        self.sent = {s[0]: 0 for s in self.spec_legs}
        self.opened_at: int | None = None
        self.liquidated_at: int | None = None
        self.entry: dict[str, float] = {}
        self.size: dict[str, float] = {}
        self.ts: list[int] = []
        self.marks: dict[str, list[float]] = {s[0]: [] for s in self.spec_legs}

    def on_tick(self, book) -> None:
        if self.opened_at is None:
            if book.now < self.open_s * NS_PER_S or self.liquidated_at is not None:
                return
            done = True
            for sym, side, qty, _lev in self.spec_legs:
                leg = book.leg(self.venue, sym)
                if leg.mark is None:
                    return
                pos = leg.position
                if abs(pos.size) >= qty:
                    continue
                done = False
                if not leg.open_orders and self.sent[sym] < 60:
                    leg.market(side, qty - abs(pos.size))
                    self.sent[sym] += 1
            if not done:
                return
            self.opened_at = book.now
            for sym, _side, _qty, _lev in self.spec_legs:
                pos = book.leg(self.venue, sym).position
                self.entry[sym], self.size[sym] = float(pos.entry_price), float(pos.size)
        self.ts.append(book.now)
        for sym, *_ in self.spec_legs:
            self.marks[sym].append(float(book.leg(self.venue, sym).mark))

    def on_liquidation(self, leg, event) -> None:
        if self.liquidated_at is None and self.opened_at is not None:
            self.liquidated_at = event.ts_ns


def _world_data(book: PortfolioBook, case, mode_legs: dict[str, str]) -> dict:
    """The world of one stress case: the base market on every instrument of the book."""
    from exchange.presets import load_preset
    from exchange.sim.scenario import load_scenario
    from exchange.sim.stress import _BASE_PRICE, _THIN, BASE_SCENARIO, SHOCK_AT_S

    pr = load_preset(book.preset)
    base = load_scenario(BASE_SCENARIO)
    pops = {k: dict(v) for k, v in base.data.get("population", {}).items()}
    # a book's runs end 3 minutes after the shock, not 4 (its markets cost legs × one)
    head: dict[str, Any] = {"name": f"stress:{case.name}", "duration_s": case.run_s - BOOK_TAIL_CUT_S,
                            "reference_price": _BASE_PRICE}
    for key, v in {**_THIN, **case.overrides}.items():
        parts = key.split(".")
        if parts[0] == "population" and parts[1] in pops:
            pops[parts[1]][parts[2]] = v
        elif parts[0] == "scenario" and parts[1] in ("step_ms", "oracle_cadence_ms"):
            head[parts[1]] = v
    # the crowd is shared out across the legs' markets, and each market has fewer makers
    # quoting the same depth: a book of n legs costs about what one position does
    n_legs = len(book.positions)
    for name in ("noise", "directional", "arbitrageur"):
        if name in pops and "count" in pops[name]:
            pops[name]["count"] = max(10, int(pops[name]["count"]) // n_legs)
    mk = pops.get("makers")
    if mk is not None and n_legs > 1:        # fewer makers per market, the same depth
        n0 = int(mk.get("count", 8))
        n1 = max(3, n0 // n_legs)
        mk["count"] = n1
        for key in ("size", "inventory_limit"):
            if key in mk:
                mk[key] = float(mk[key]) * n0 / n1
    if case.run_s > 3600:
        # the long funding run of a book: marks and liquidation checks every 10 s (funding
        # still samples at the venue's own 5 s), one venue step checking every leg
        head["oracle_cadence_ms"] = 10_000
    ix = base.data.get("index", {})
    assets, markets, per_asset = {}, {}, {}
    for p in book.positions:
        spec = pr.instruments[p.symbol]
        name = str(spec.base).upper()
        beta, gap_beta, idio, depth = ASSET_LOADINGS.get(name, ALT_LOADING)
        assets[name] = {"price": p.price, "beta": beta, "gap_beta": gap_beta, "idio_sigma": idio,
                        "depth": depth}
        markets[name] = p.symbol
        per_asset[name] = {"shock": [], "side": p.side}
    gaps, template_shocks = [], []
    for shock in case.shocks:
        at = SHOCK_AT_S + float(shock.get("at_s", 0.0))
        if shock["type"] == "index_gap":
            gaps.append({"at_s": at, "change": float(shock["change"])})
        elif shock["type"] == "funding_flip":
            for pa in per_asset.values():       # against every leg
                sign = 1.0 if pa["side"] == "long" else -1.0
                pa["shock"].append({**shock, "at_s": at, "rate": sign * abs(shock["rate"])})
        else:
            template_shocks.append({**shock, "at_s": at})
    pops.update({mode: {"type": "portfolio_strategy", "class": BookHolder, "venues": ["stress"],
                        "deposit": str(book.wallet), "margin_mode": mode, "legs": legs,
                        "interval_ms": 10_000.0 if case.run_s > 3600 else 1000.0}
                 for mode, legs in mode_legs.items()})
    world_pops = {m: pops.pop(m) for m in mode_legs}
    insurance = pr.instruments[book.symbol].atoms_to_amount(pr.liquidation.insurance_fund_atoms)
    return {"scenario": head,
            "factor": {"step_ms": 1000, "sigma": float(ix.get("sigma", 5e-5)),
                       "vol_of_vol": float(ix.get("vol_of_vol", 0.5)),
                       "vol_half_life_s": float(ix.get("vol_half_life_s", 1800.0)),
                       "tail_df": float(ix.get("tail_df", 0.0)), "gaps": gaps},
            "assets": assets,
            "venues": {"stress": {"preset": book.preset, "markets": markets,
                                  "venue": {"liquidation.insurance_fund": str(insurance)}}},
            "market": {"index": {k: ix[k] for k in ("sources", "source_noise", "sigma")
                                 if k in ix},
                       "population": pops, "shock": template_shocks,
                       **{n: {"shock": pa["shock"]} for n, pa in per_asset.items()
                          if pa["shock"]}},
            "population": world_pops}


def _shortfall(h: BookHolder, legs, specs, settlements, margins) -> float:
    """The worst maintenance − equity of the book held to the end (cross: pooled, margin the
    wallet; isolated: each leg against its own initial margin, summed over legs)."""
    if h.opened_at is None or not h.ts:
        return -math.inf
    ts = np.asarray(h.ts, np.int64)
    per_leg = []
    for sym in legs:
        spec = specs[sym]
        size, entry = h.size[sym], h.entry[sym]
        marks = np.asarray(h.marks[sym], np.float64)
        tick = float(spec.tick_size)
        funding = np.zeros(ts.shape[0])
        for t, price, rate in settlements.get(sym, ()):
            if t > h.opened_at:
                funding[ts >= t] += size * price * tick * rate / RATE_SCALE
        fee = abs(size) * entry * spec.taker_fee_rate / RATE_SCALE
        lots = int(round(size / float(spec.lot_size)))
        scale = 10 ** spec.settle_decimals
        mm = np.array([spec.maintenance_margin_atoms(spec.notional_atoms(int(round(m / tick)),
                                                                         lots))
                       for m in marks]) / scale
        per_leg.append((size * (marks - entry) - fee - funding, mm))
    if margins is None:                      # isolated: one bucket per leg
        return float(sum(max(0.0, float((mm - (m0 + pnl)).max()))
                         for (pnl, mm), m0 in zip(per_leg, margins_iso(h, legs, specs))))
    pnl = sum(p for p, _ in per_leg)
    mm = sum(m for _, m in per_leg)
    return float((mm - (margins + pnl)).max())


def margins_iso(h: BookHolder, legs, specs) -> list[float]:
    """Each leg's initial margin in isolated margin: |size| × entry / leverage."""
    lev = {s[0]: s[3] for s in h.spec_legs}
    return [abs(h.size[s]) * h.entry[s] / lev[s] for s in legs]


def run_book_case(args) -> dict:
    """Worker: one (case, seed) of a book; returns per margin mode the run's figures."""
    from exchange.sim.world import World, parse_world
    from exchange.sim.metrics import JournalSummary, account_pnl
    from exchange.venue import EV_FUNDING_RATE_SET

    book, case, seed = args
    legs = ";".join(f"{p.symbol}:{'BUY' if p.side == 'long' else 'SELL'}:{p.qty}:{p.leverage}"
                    for p in book.positions)
    data = _world_data(book, case, {m: legs for m in book.modes})
    world = World(parse_world(data, f"stress {case.name}"), seed, check="end")
    holders = {mode: world.agent(mode).strategy for mode in book.modes}
    world.run()
    v = world.venues[0]
    recs = v.ex.journal()
    sym = v.ex.symbols
    settlements: dict[str, list] = {}
    for r in recs[recs["kind"] == EV_FUNDING_RATE_SET]:
        settlements.setdefault(sym[int(r["instr"])], []).append(
            (int(r["ts"]), int(r["price"]), int(r["a2"])))
    specs = {p.symbol: v.ex.spec(p.symbol) for p in book.positions}
    equity, upnl = v.sims[0].account_values()
    summary = JournalSummary.of(recs)
    info = v.sims[0].info()
    out = {}
    from exchange.sim.stress import SHOCK_AT_S

    for mode, h in holders.items():
        acct = world.agent(mode).accounts_on("stress")
        s = account_pnl(summary, acct, equity, upnl, info)
        liq_s = None if h.liquidated_at is None else h.liquidated_at / NS_PER_S - SHOCK_AT_S
        margins = float(book.wallet) if mode == "cross" else None
        short = _shortfall(h, [p.symbol for p in book.positions], specs, settlements, margins)
        out[mode] = dict(opened=h.opened_at is not None, liquidated=h.liquidated_at is not None,
                         time_to_liq_s=liq_s, loss=-float(s["pnl"]), funding=float(s["funding"]),
                         buffer=max(0.0, short), fees=float(s["fees"]))
    return dict(case=case.name, seed=seed, modes=out, wall_s=world.wall_s)
