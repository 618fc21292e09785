"""Random-command fuzz of the venue (issue 18): every preset × waterfall × ADL / socialized policy.

Each *episode* builds an :class:`exchange.venue.Exchange` from a preset with a waterfall and
policy drawn at random, opens a handful of funded accounts, and sends a random sequence of
commands through the public API only: deposits, withdrawals, leverage 1–125 (and beyond),
cross / isolated modes, isolated-margin moves, every order type (limit GTC/IOC/FOK/GTX, market,
stop, stop-limit, take-profit, take-profit-limit, trailing stop, on mark and on last price,
reduce-only, close-position), cancels, cancel-all, amends, mark moves up to ±30 %, clock steps
(across funding timestamps with :meth:`Exchange.settle_funding`) and bids into running
auctions. After EVERY command it checks:

``invariants``
    ``ex.check_invariants()`` (the core's conservation identity, books, exposure; the
    liquidation engine's indexes and cases).
``conservation``
    An independent sum in exact Python ints: Σ wallets + Σ isolated buckets + fee pool +
    insurance + bad debt − Σ position cost equals the net deposits *this driver* made (its
    accepted deposits minus accepted withdrawals, plus the preset's seeded insurance fund and
    backstop capital). Σ position cost is Σ uPnL's negative, since positions net to zero.
``rejected_changed_state``
    A rejected command (its first event is OrderRejected / TransferRejected, or it raised a
    typed :class:`~exchange.errors.ExchangeError`) changed nothing: state arrays, ledger pools,
    resting and conditional orders, pending liquidation cases.
``liquidatable_outside_liquidation``
    After a command that runs the venue's detection (mark update, clock step) no account that
    is not flagged "in liquidation" has equity < maintenance margin (the engine's exact test:
    cross equity vs cross MM; isolated bucket + uPnL vs the position's MM).
``flat_isolated_bucket``
    An account not in liquidation has a zero isolated bucket on every instrument where it is
    flat.
``crash``
    Any exception that is not a typed ``ExchangeError``.

A failing episode is shrunk (prefix cut at the failure, then delta debugging over the
commands, keeping the same check failing) and saved as JSON ``{"config", "commands",
"violation"}``; ``--replay FILE`` runs such a file and prints what it finds. The command
encoding is relative (account index, order picked by position among the account's open
orders, price in basis points from the current mark, size as notional), so a shrunk
sequence still means something.

Run: ``python benchmarks/fuzz_venue.py --budget-s 60 --seed 1`` → prints per-episode lines and
finally ``commands=N violations=V``; exit status 1 when V > 0.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
import traceback
import warnings
from decimal import Decimal
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from exchange.errors import ExchangeError  # noqa: E402
from exchange.presets import ADL_POLICIES, SOCIALIZED_POLICIES, list_presets, load_preset  # noqa: E402
from exchange.units import RATE_SCALE  # noqa: E402
from exchange.venue import Exchange, Order  # noqa: E402

#: waterfalls tried besides each preset's own (module names of exchange.presets.WATERFALL_MODULES)
WATERFALLS = (
    ("market", "insurance", "adl"),
    ("market", "insurance", "socialized"),
    ("market", "backstop", "adl"),
    ("market", "backstop", "insurance", "adl"),
    ("auction", "insurance", "adl"),
    ("market", "auction", "insurance", "socialized"),
    ("market", "adl"),
    ("market", "socialized"),
    ("insurance", "adl"),
)
_HOUR_NS = 3_600_000_000_000
_REJECTIONS = ("OrderRejected", "TransferRejected")
_STATE_ARRAYS = ("wallet", "acct_flags", "size", "cost", "iso", "lev", "mode", "buy_open",
                 "sell_open", "mark", "index", "last")


def preset_names() -> list[str]:
    return sorted(list_presets())


def adl_policies() -> list[str]:
    return [p for p in ADL_POLICIES if p != "none"]


def socialized_policies() -> list[str]:
    return [p for p in SOCIALIZED_POLICIES if p != "none"]


# --------------------------------------------------------------------------- episode config
def random_config(rng: np.random.Generator, preset: str | None = None,
                  waterfall: tuple[str, ...] | None = None) -> dict:
    """Preset, waterfall, policies and the initial accounts of one episode (JSON-able)."""
    if preset is None:
        preset = str(rng.choice(preset_names()))
    if waterfall is None:
        own = tuple(load_preset(preset).liquidation.waterfall)
        choices = [own] + [w for w in WATERFALLS if w != own]
        waterfall = choices[int(rng.integers(len(choices)))] if rng.random() < 0.75 else own
    n_acct = int(rng.integers(3, 8))
    return dict(
        preset=preset, waterfall=list(waterfall),
        adl_policy=str(rng.choice(adl_policies())),
        socialized_policy=str(rng.choice(socialized_policies())),
        insurance_fund=str(rng.choice(["0", "1000", "1000000"])),
        backstop_capital=str(rng.choice(["0", "50000", "10000000"])),
        # account 0 is a well-funded quoter ("quote" commands); the others trade
        deposits=["20000000"] + [str(int(x)) for x in
                                 np.exp(rng.uniform(np.log(50), np.log(200_000), n_acct))],
        # per trading account and instrument: margin mode and leverage set before trading
        modes=[[str(rng.choice(["cross", "isolated"])) for _ in range(2)] for _ in range(n_acct + 1)],
        leverages=[[int(rng.choice([1, 5, 20, 50, 100, 125])) for _ in range(2)]
                   for _ in range(n_acct + 1)],
        seed=int(rng.integers(2**31)))


def build_exchange(config: dict) -> Exchange:
    over = {"liquidation.waterfall": list(config["waterfall"]),
            "liquidation.insurance_fund": config["insurance_fund"]}
    wf = config["waterfall"]
    if "adl" in wf:
        over["liquidation.adl_policy"] = config["adl_policy"]
    if "socialized" in wf:
        over["liquidation.socialized_policy"] = config["socialized_policy"]
    if "backstop" in wf:
        over["liquidation.backstop_capital"] = config["backstop_capital"]
        if not load_preset(config["preset"]).liquidation.backstop_trigger_rate:
            over["liquidation.backstop_trigger_rate"] = "0.66666667"
    return Exchange.from_preset(config["preset"], overrides=over, seed=config["seed"])


# --------------------------------------------------------------------------- the world
class Violation(Exception):
    def __init__(self, kind: str, message: str):
        super().__init__(f"{kind}: {message}")
        self.kind = kind
        self.message = message


class World:
    """One exchange, its fuzzed accounts and this driver's own ledger of net deposits."""

    def __init__(self, config: dict):
        self.config = config
        self.ex = ex = build_exchange(config)
        t = ex.core.ledger_totals()
        # what the venue was seeded with (insurance fund, vault capital), read once
        self.net_deposits = int(t["net_deposits"])
        self.accounts: list[int] = []
        for d in config["deposits"]:
            a = ex.open_account()
            ex.deposit(a, d)
            self.net_deposits += int(d) * self.unit
            self.accounts.append(a)
        for k, a in enumerate(self.accounts[1:], start=1):
            for j, sym in enumerate(ex.symbols):
                if config.get("modes"):
                    ex.set_margin_mode(a, sym, config["modes"][k][j % 2])
                if config.get("leverages"):
                    ex.set_leverage(a, sym, config["leverages"][k][j % 2])
        self.base: list[int] = []
        for i, sym in enumerate(ex.symbols):
            base = Decimal("3000") if "ETH" in sym.upper() else Decimal("50000")
            ex.set_mark(sym, base)
            self.base.append(int(ex.core.arrays()["mark"][i]))
        self.next_funding_ns = 8 * _HOUR_NS

    @property
    def unit(self) -> int:
        return 10 ** self.ex.specs[0].settle_decimals

    def acct(self, k: int) -> int:
        return self.accounts[k % len(self.accounts)]

    def mark(self, i: int) -> int:
        return int(self.ex.core.arrays()["mark"][i])

    # -- checks ------------------------------------------------------------------------
    def snapshot(self):
        ex = self.ex
        arr = ex.core.arrays()
        t = ex.core.ledger_totals()
        state = [arr[k].copy() for k in _STATE_ARRAYS]
        pools = (t["fee_pool"], t["insurance"], t["bad_debt"], t["net_deposits"])
        books = [tuple(ex.book(s).iter_orders()) for s in ex.symbols]
        orders = [ex.open_orders(a) for a in range(ex.core.n_acct)]
        liq = None
        if ex.liquidation is not None:
            p = ex.liquidation.pending
            liq = (len(p), tuple(np.asarray(p.acct).tolist()),
                   tuple((a["auction_id"], a["lots_sold"]) for a in ex.liquidation.auctions()))
        return state, pools, books, orders, liq, ex.core.n_acct

    def same_state(self, a, b) -> str | None:
        sa, pa, ba, oa, la, na = a
        sb, pb, bb, ob, lb, nb = b
        if na != nb:
            return f"accounts {na} -> {nb}"
        for name, x, y in zip(_STATE_ARRAYS, sa, sb):
            if x.shape != y.shape or not np.array_equal(x, y):
                return f"array {name!r} changed"
        if pa != pb:
            return f"pools (fee, insurance, bad debt, net deposits) {pa} -> {pb}"
        if ba != bb:
            return "book orders changed"
        if oa != ob:
            return "open / conditional orders changed"
        if la != lb:
            return f"liquidation cases {la} -> {lb}"
        return None

    def check(self, detection=()) -> None:
        ex = self.ex
        core = ex.core
        try:
            ex.check_invariants()
        except AssertionError as exc:
            raise Violation("invariants", str(exc)) from None
        arr = core.arrays()
        n = core.n_acct
        t = core.ledger_totals()
        total = (sum(int(x) for x in arr["wallet"][:n]) + sum(int(x) for x in arr["iso"].ravel())
                 + int(t["fee_pool"]) + int(t["insurance"]) + int(t["bad_debt"])
                 - sum(int(x) for x in arr["cost"].ravel()))
        if total != self.net_deposits:
            raise Violation("conservation", f"ledger sum {total} != net deposits "
                            f"{self.net_deposits} (gap {total - self.net_deposits}): {t}")
        flags = arr["acct_flags"]
        size, iso, mode = arr["size"], arr["iso"], arr["mode"]
        bad = np.argwhere((size == 0) & (iso != 0))
        for i, a in bad:
            if not flags[a]:
                raise Violation("flat_isolated_bucket",
                                f"account {a} instrument {i}: size 0, isolated bucket {int(iso[i, a])} "
                                f"atoms (mode {int(mode[i, a])})")
        for i in detection:
            self.check_liquidatable(i)

    def check_liquidatable(self, instr: int) -> None:
        """After a mark update of ``instr`` (the venue's detection runs on it): no account
        outside liquidation holding a position on ``instr`` has equity < maintenance —
        isolated: bucket + uPnL vs the position's MM; cross: the account's cross equity vs its
        cross MM (all its cross positions, as the engine tests it)."""
        core = self.ex.core
        arr = core.arrays()
        size, mode, iso, flags = arr["size"], arr["mode"], arr["iso"], arr["acct_flags"]
        for a in np.flatnonzero(size[instr] != 0):
            a = int(a)
            if flags[a]:
                continue
            if mode[instr, a] == 1:
                eq = int(iso[instr, a]) + int(core.upnl(a, instr))
                mm = int(core.maintenance_margin(a, instr))
                if eq < mm:
                    raise Violation("liquidatable_outside_liquidation",
                                    f"account {a} instrument {instr} (isolated): bucket + uPnL "
                                    f"{eq} < maintenance {mm}")
            else:
                eq, mm = int(core.equity(a)), int(core.cross_maintenance(a))
                if eq < mm:
                    raise Violation("liquidatable_outside_liquidation",
                                    f"account {a} (cross, instrument {instr}): equity {eq} < "
                                    f"maintenance {mm}")

    # -- commands ------------------------------------------------------------------------
    def lots_for(self, i: int, notional_usd: float, price_ticks: int) -> Decimal:
        spec = self.ex.specs[i]
        per_lot = float(price_ticks) * float(spec.tick_size) * float(spec.lot_size)
        lots = max(1, int(notional_usd / max(per_lot, 1e-12)))
        return Decimal(lots) * spec.lot_size

    def price_at(self, i: int, bps: int) -> Decimal:
        spec = self.ex.specs[i]
        ticks = max(1, self.mark(i) * (10_000 + bps) // 10_000)
        return Decimal(ticks) * spec.tick_size

    def run(self, cmd: dict):
        """Execute one command; return (events, rejected, detection)."""
        ex = self.ex
        op = cmd["op"]
        sym = ex.symbols[cmd.get("instr", 0) % len(ex.symbols)]
        i = ex.instrument(sym)
        if op == "deposit":
            a = self.acct(cmd["acct"])
            evs = ex.deposit(a, cmd["amount"])
            self.net_deposits += int(Decimal(cmd["amount"]) * self.unit)
            return evs, False, ()
        if op == "withdraw":
            a = self.acct(cmd["acct"])
            wallet = int(ex.core.arrays()["wallet"][a])
            atoms = max(1, int(abs(wallet) * cmd["frac"]))
            amount = Decimal(atoms).scaleb(-ex.specs[0].settle_decimals)
            evs = ex.withdraw(a, amount)
            if any(e.name == "Withdrawn" for e in evs):
                self.net_deposits -= atoms
            return evs, _rejected(evs), ()
        if op == "leverage":
            evs = ex.set_leverage(self.acct(cmd["acct"]), sym, cmd["lev"])
            return evs, _rejected(evs), ()
        if op == "mode":
            evs = ex.set_margin_mode(self.acct(cmd["acct"]), sym, cmd["mode"])
            return evs, _rejected(evs), ()
        if op == "iso_margin":
            a = self.acct(cmd["acct"])
            arr = ex.core.arrays()
            base = int(arr["iso"][i, a]) if cmd["frac"] < 0 else int(arr["wallet"][a])
            atoms = int(abs(base) * cmd["frac"]) or (1 if cmd["frac"] > 0 else -1)
            evs = ex.adjust_isolated_margin(a, sym, Decimal(atoms).scaleb(-ex.specs[0].settle_decimals))
            return evs, _rejected(evs), ()
        if op == "order":
            a = self.acct(cmd["acct"])
            evs = ex.submit(a, self.make_order(i, sym, cmd))
            return evs, _rejected(evs), ()
        if op == "quote":
            a = self.acct(cmd["acct"])
            evs = []
            for lvl in range(cmd["levels"]):
                off = cmd["bps"] * (lvl + 1)
                for side, sgn in (("BUY", -1), ("SELL", 1)):
                    price = self.price_at(i, sgn * off)
                    qty = self.lots_for(i, cmd["notional"], self.mark(i))
                    evs += ex.submit(a, Order.limit(sym, side, qty, price, tif="GTX"))
            return evs, False, ()
        if op == "cancel":
            a = self.acct(cmd["acct"])
            oo = ex.open_orders(a)
            oid = oo[cmd["pick"] % len(oo)]["order_id"] if oo and cmd["pick"] >= 0 else 10**6 + cmd["pick"]
            evs = ex.cancel(a, oid)
            return evs, _rejected(evs), ()
        if op == "cancel_all":
            evs = ex.cancel_all(self.acct(cmd["acct"]), sym if cmd.get("one") else None)
            return evs, False, ()
        if op == "pull":                 # the quoter leaves: the next gap meets a thin book
            evs = ex.cancel_all(self.acct(0), sym if cmd.get("one") else None)
            return evs, False, ()
        if op == "amend":
            a = self.acct(cmd["acct"])
            oo = [o for o in ex.open_orders(a) if o["order_id"] > 0]
            if not oo:
                evs = ex.amend(a, 10**6 + cmd["pick"], qty=None, price=None)
                return evs, _rejected(evs), ()
            o = oo[cmd["pick"] % len(oo)]
            j = ex.instrument(o["symbol"])
            spec = ex.specs[j]
            qty = None
            if cmd["qty_factor"] is not None:
                lots = max(1, int(int(o["open_qty"] / spec.lot_size) * cmd["qty_factor"]))
                qty = Decimal(lots) * spec.lot_size
            price = None if cmd["bps"] is None else self.price_at(j, cmd["bps"])
            evs = ex.amend(a, o["order_id"], qty=qty, price=price)
            return evs, _rejected(evs), ()
        if op == "mark":
            m = max(1, int(self.mark(i) * (1 + cmd["pct"] / 100)))
            # keep the walk within a band around the start (prices that mean something)
            m = min(max(m, self.base[i] // 4), self.base[i] * 4)
            evs = ex.set_mark_ticks(i, m)
            return evs, False, (i,)
        if op == "advance":
            now = ex.ts_ns
            target = now + int(cmd["dt_ms"]) * 1_000_000
            evs = ex.advance_to(target)
            while self.next_funding_ns <= target:
                self.next_funding_ns += 8 * _HOUR_NS
                for s in ex.symbols:
                    evs += ex.settle_funding(s, int(cmd["rate"]))
            return evs, False, ()
        if op == "funding":
            evs = ex.settle_funding(sym, int(cmd["rate"]))
            return evs, False, ()
        if op == "bid":
            if ex.liquidation is None or "auction" not in self.config["waterfall"]:
                return [], True, ()
            auctions = ex.liquidation.auctions()
            if not auctions:
                return [], True, ()
            au = auctions[cmd["pick"] % len(auctions)]
            bidder = self.acct(cmd["acct"])
            if bidder == au["acct"]:
                bidder = self.acct(cmd["acct"] + 1)
                if bidder == au["acct"]:
                    return [], True, ()
            left = abs(int(ex.core.arrays()["size"][au["instr"], au["acct"]]))
            qty = max(1, int(left * cmd["frac"]))
            limit = max(1, au["price"] * (10_000 + (cmd["bps"] if au["side"] == 0 else -cmd["bps"])) // 10_000)
            lots, _price = ex.liquidation.bid(au["auction_id"], bidder, qty, limit)
            return [], lots == 0, ()
        raise ValueError(f"unknown fuzz op {op!r}")

    def make_order(self, i: int, sym: str, cmd: dict) -> Order:
        kind = cmd["kind"]
        side = cmd["side"]
        mark = self.mark(i)
        a = self.acct(cmd["acct"])
        notional = cmd["notional"]
        if "lev_frac" in cmd:       # a share of what the wallet buys at the account's leverage
            arr = self.ex.core.arrays()
            wallet = max(int(arr["wallet"][a]), 0) / self.unit
            lev = int(arr["lev"][i, a])
            cap = next((t.notional_floor_atoms for t in self.ex.specs[i].tiers
                        if t.max_leverage < lev), None)
            want = wallet * lev
            if cap is not None:       # the tier's notional limit at this leverage
                want = min(want, cap / self.unit)
            notional = max(notional, want * cmd["lev_frac"])
        qty = self.lots_for(i, notional, mark)
        kw = dict(reduce_only=cmd.get("reduce_only", False))
        if kind == "limit":
            return Order.limit(sym, side, qty, self.price_at(i, cmd["bps"]), tif=cmd["tif"], **kw)
        if kind == "market":
            return Order.market(sym, side, qty, **kw)
        wt = cmd.get("working", "MARK_PRICE")
        stop = self.price_at(i, cmd["stop_bps"])
        if kind == "trailing":
            act = None if cmd.get("act_bps") is None else self.price_at(i, cmd["act_bps"])
            return Order.trailing_stop(sym, side, qty, cmd["callback"], activation_price=act,
                                       working_type=wt, **kw)
        if cmd.get("close_position"):
            kw["close_position"] = True
        if kind == "stop_market":
            return Order.stop_market(sym, side, qty, stop, working_type=wt, **kw)
        if kind == "stop_limit":
            return Order.stop_limit(sym, side, qty, self.price_at(i, cmd["bps"]), stop,
                                    working_type=wt, **kw)
        if kind == "tp_market":
            return Order.take_profit_market(sym, side, qty, stop, working_type=wt, **kw)
        if kind == "tp_limit":
            return Order.take_profit_limit(sym, side, qty, self.price_at(i, cmd["bps"]), stop,
                                           working_type=wt, **kw)
        raise ValueError(f"unknown order kind {kind!r}")


def _rejected(evs) -> bool:
    return bool(evs) and evs[0].name in _REJECTIONS


# --------------------------------------------------------------------------- generation
_OPS = ("order", "order", "order", "order", "order", "order", "quote", "quote", "mark", "mark", "mark", "cancel",
        "amend", "deposit", "withdraw", "leverage", "leverage", "mode", "mode", "iso_margin",
        "iso_margin", "advance", "advance", "funding", "bid", "bid", "cancel_all", "pull")
_KINDS = ("limit", "limit", "limit", "limit", "market", "market", "market", "market", "stop_market", "stop_limit",
          "tp_market", "tp_limit", "trailing")


def random_command(rng: np.random.Generator, n_acct: int, n_instr: int = 2) -> dict:
    op = _OPS[int(rng.integers(len(_OPS)))]
    a = int(rng.integers(n_acct))
    i = int(rng.integers(n_instr))
    r = rng.random()
    if op == "deposit":
        return dict(op=op, acct=a, amount=str(int(np.exp(rng.uniform(0, np.log(100_000))))))
    if op == "withdraw":
        return dict(op=op, acct=a, frac=float(rng.choice([0.01, 0.1, 0.5, 0.9, 1.0, 1.5])))
    if op == "leverage":
        lev = int(rng.choice([1, 2, 3, 5, 10, 20, 25, 50, 75, 100, 125])) if r < 0.9 else int(rng.integers(0, 200))
        return dict(op=op, acct=a, instr=i, lev=lev)
    if op == "mode":
        return dict(op=op, acct=a, instr=i, mode="isolated" if rng.random() < 0.6 else "cross")
    if op == "iso_margin":
        return dict(op=op, acct=a, instr=i, frac=float(rng.choice([-1.0, -0.5, -0.1, -0.01, 0.01, 0.1, 0.5])))
    if op == "order":
        kind = _KINDS[int(rng.integers(len(_KINDS)))]
        cmd = dict(op=op, acct=a, instr=i, kind=kind, side=str(rng.choice(["BUY", "SELL"])),
                   notional=float(np.exp(rng.uniform(np.log(5), np.log(500_000)))),
                   reduce_only=bool(rng.random() < 0.15))
        if rng.random() < 0.7:
            cmd["notional"] = 5.0
            cmd["lev_frac"] = float(rng.choice([0.05, 0.2, 0.5, 0.8, 0.95, 1.0, 1.2]))
        if kind in ("limit", "stop_limit", "tp_limit"):
            cmd["bps"] = int(rng.choice([-800, -300, -100, -30, -10, -2, 0, 2, 10, 30, 100, 300, 800]))
            cmd["tif"] = str(rng.choice(["GTC", "GTC", "GTC", "IOC", "FOK", "GTX"]))
        if kind != "limit" and kind != "market":
            cmd["working"] = str(rng.choice(["MARK_PRICE", "CONTRACT_PRICE"]))
            cmd["stop_bps"] = int(rng.choice([-1500, -500, -200, -50, 50, 200, 500, 1500]))
            cmd["close_position"] = bool(rng.random() < 0.15)
        if kind == "trailing":
            cmd["callback"] = str(rng.choice(["0.05", "0.1", "0.5", "1", "5", "10", "11"]))
            cmd["act_bps"] = None if rng.random() < 0.5 else int(rng.choice([-300, -50, 50, 300]))
        return cmd
    if op == "cancel":
        return dict(op=op, acct=a, pick=int(rng.integers(-2, 50)))
    if op == "quote":
        return dict(op=op, acct=0 if r < 0.8 else a, instr=i, levels=int(rng.integers(1, 4)),
                    bps=int(rng.choice([2, 5, 10, 30, 100])),
                    notional=float(np.exp(rng.uniform(np.log(100), np.log(300_000)))))
    if op in ("cancel_all", "pull"):
        return dict(op=op, acct=a, instr=i, one=bool(rng.random() < 0.5))
    if op == "amend":
        return dict(op=op, acct=a, pick=int(rng.integers(50)),
                    qty_factor=None if r < 0.3 else float(rng.choice([0.25, 0.5, 1.0, 1.5, 3.0])),
                    bps=None if rng.random() < 0.3 else int(rng.choice([-300, -50, -5, 0, 5, 50, 300])))
    if op == "mark":
        if r < 0.6:
            pct = float(rng.normal(0, 0.4))
        elif r < 0.9:
            pct = float(rng.normal(0, 4))
        else:
            pct = float(rng.choice([-30, -20, -10, -5, 5, 10, 20, 30]))
        return dict(op=op, instr=i, pct=pct)
    if op == "advance":
        dt = int(rng.choice([1, 100, 1000, 5000, 60_000, 3_600_000, 8 * 3_600_000]))
        return dict(op=op, dt_ms=dt, rate=int(rng.normal(0, 0.002) * RATE_SCALE))
    if op == "funding":
        return dict(op=op, instr=i, rate=int(rng.normal(0, 0.01) * RATE_SCALE))
    if op == "bid":
        return dict(op=op, acct=a, pick=int(rng.integers(10)),
                    frac=float(rng.choice([0.1, 0.5, 1.0, 2.0])),
                    bps=int(rng.choice([-100, 0, 50, 500])))
    raise AssertionError(op)


# --------------------------------------------------------------------------- running
def execute(config: dict, commands: list[dict]):
    """Replay ``commands`` on a fresh world. Returns (commands run, Violation or None, index).
    Numpy's RuntimeWarnings (an int64 overflow in a scalar product, an invalid cast) are
    raised as errors, so they count as crashes."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        return _execute(config, commands)


def _execute(config: dict, commands: list[dict]):
    try:
        world = World(config)
        world.check(range(len(world.ex.symbols)))
    except Violation as v:
        return 0, v, -1
    for k, cmd in enumerate(commands):
        before = world.snapshot()      # a failure here is the driver's own bug: it raises
        try:
            try:
                evs, rejected, detection = world.run(cmd)
            except ExchangeError:
                rejected, detection = True, ()
            if rejected:
                diff = world.same_state(before, world.snapshot())
                if diff:
                    raise Violation("rejected_changed_state", f"{cmd['op']}: {diff}")
            world.check(detection)
        except Violation as v:
            return k + 1, v, k
        except Exception as exc:           # noqa: BLE001 — an untyped error is a finding
            tb = traceback.format_exc(limit=6)
            return k + 1, Violation("crash", f"{type(exc).__name__}: {exc}\n{tb}"), k
    return len(commands), None, -1


def shrink(config: dict, commands: list[dict], kind: str, budget_s: float) -> list[dict]:
    """Delta debugging (ddmin) over ``commands`` keeping a violation of ``kind``."""
    deadline = time.monotonic() + budget_s

    def fails(cmds):
        _, v, idx = execute(config, cmds)
        return (v is not None and v.kind == kind), idx

    ok, idx = fails(commands)
    if not ok:
        return commands
    cur = commands[: idx + 1]
    n = 2
    while len(cur) >= 2 and time.monotonic() < deadline:
        chunk = max(1, len(cur) // n)
        reduced = False
        for start in range(0, len(cur), chunk):
            if time.monotonic() >= deadline:
                break
            cand = cur[:start] + cur[start + chunk:]
            ok, idx = fails(cand)
            if ok:
                cur = cand[: idx + 1]
                n = max(n - 1, 2)
                reduced = True
                break
        if not reduced:
            if chunk == 1:
                break
            n = min(len(cur), n * 2)
    return cur


def save_reproducer(out_dir: Path, config: dict, commands: list[dict], v: Violation) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    name = f"{v.kind}-{config['preset']}-{'_'.join(config['waterfall'])}-{config['seed']}.json"
    path = out_dir / name
    path.write_text(json.dumps(dict(config=config, commands=commands,
                                    violation=dict(kind=v.kind, message=v.message.splitlines()[0])),
                               indent=1) + "\n")
    return path


def fuzz(budget_s: float, seed: int, preset: str | None = None,
         waterfall: tuple[str, ...] | None = None, episode_len: int = 600,
         out_dir: Path | None = None, shrink_s: float = 60.0, verbose: bool = True,
         max_violations: int = 20) -> tuple[int, list]:
    """Run episodes until ``budget_s`` seconds have passed. Returns (commands, violations)
    where each violation is (config, shrunk commands, Violation, saved path or None)."""
    rng = np.random.default_rng(seed)
    t_end = time.monotonic() + budget_s
    total = 0
    episodes = 0
    found: list = []
    kinds_seen: set = set()
    while time.monotonic() < t_end and len(found) < max_violations:
        config = random_config(rng, preset, waterfall)
        n_acct = len(config["deposits"])
        cmds = [random_command(rng, n_acct) for _ in range(episode_len)]
        ran, v, idx = execute(config, cmds)
        total += ran
        episodes += 1
        if v is None:
            continue
        key = (v.kind, config["preset"], tuple(config["waterfall"]))
        path = None
        small = cmds[: idx + 1]
        if key not in kinds_seen:             # shrink the first of each kind per venue setup
            kinds_seen.add(key)
            small = shrink(config, small, v.kind, shrink_s)
            _, v2, _ = execute(config, small)
            v = v2 or v
            if out_dir is not None:
                path = save_reproducer(out_dir, config, small, v)
        found.append((config, small, v, path))
        if verbose:
            print(f"VIOLATION {v.kind} at command {idx + 1} of episode {episodes} "
                  f"({config['preset']} {'>'.join(config['waterfall'])} adl={config['adl_policy']} "
                  f"soc={config['socialized_policy']}): {v.message.splitlines()[0]}"
                  f"{'' if path is None else f' -> {path} ({len(small)} commands)'}", flush=True)
    if verbose:
        print(f"episodes={episodes} commands={total} violations={len(found)}", flush=True)
    return total, found


def replay(path: Path) -> Violation | None:
    data = json.loads(Path(path).read_text())
    ran, v, idx = execute(data["config"], data["commands"])
    print(f"replayed {ran} of {len(data['commands'])} commands from {path}")
    if v is None:
        print("no violation")
    else:
        print(f"VIOLATION {v.kind} at command {idx + 1}: {v.message}")
    return v


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--budget-s", type=float, default=60.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--preset", choices=preset_names())
    ap.add_argument("--waterfall", help="comma-separated module names, e.g. market,insurance,adl")
    ap.add_argument("--episode-len", type=int, default=600)
    ap.add_argument("--shrink-s", type=float, default=60.0)
    ap.add_argument("--out-dir", type=Path, default=Path("fuzz-reproducers"))
    ap.add_argument("--replay", type=Path, help="a reproducer JSON file to replay")
    args = ap.parse_args(argv)
    if args.replay is not None:
        return 1 if replay(args.replay) is not None else 0
    wf = tuple(args.waterfall.split(",")) if args.waterfall else None
    t0 = time.monotonic()
    total, found = fuzz(args.budget_s, args.seed, args.preset, wf, args.episode_len,
                        args.out_dir, args.shrink_s)
    dt = time.monotonic() - t0
    print(f"commands={total} violations={len(found)} elapsed_s={dt:.1f} "
          f"rate={total / max(dt, 1e-9):.0f}/s")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
