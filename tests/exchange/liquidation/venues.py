"""Small venues for the liquidation tests: a core, a market-maker account, traders, a journal.

The default instrument has round numbers so amounts can be checked by hand: tick 1 USDT, lot
0.001 BTC, so one tick on one lot is 0.001 USDT = 1,000 atoms (``K``); no trading fees; one
margin tier (MMR 0.5 %, 100x); liquidation fee 1 %.
"""
from __future__ import annotations

import numpy as np

from exchange._core import VenueCore
from exchange.events import EVENT_KINDS
from exchange.instruments import InstrumentSpec, make_tiers
from exchange.liquidation import LIQUIDATION_EVENT_KINDS, LiquidationEngine

USDT = 10**6
K = 1_000                     # atoms per tick·lot of the default spec
KINDS = {**EVENT_KINDS, **LIQUIDATION_EVENT_KINDS}
NAMES = {v: k for k, v in KINDS.items()}


def spec(symbol: str = "BTCUSDT", liq_fee: int = 1_000_000, tiers=None, **kw) -> InstrumentSpec:
    """Tick 1, lot 0.001 (K = 1,000 atoms per tick·lot), no trading fees."""
    args = dict(symbol=symbol, base=symbol[:3], quote="USDT", settle="USDT", tick_size="1",
                lot_size="0.001", max_order_lots=10**9, max_market_lots=10**9,
                maker_fee_rate=0, taker_fee_rate=0, liquidation_fee_rate=liq_fee,
                tiers=tiers if tiers is not None else make_tiers([(0, 500_000, 100)]))
    args.update(kw)
    return InstrumentSpec(**args)


class Journal:
    """Every event drained from the core, kept in order."""

    def __init__(self, core) -> None:
        self.core = core
        self.events = np.empty(0, dtype=core.drain_events().dtype)

    def pull(self) -> np.ndarray:
        new = self.core.drain_events()
        self.events = np.concatenate((self.events, new))
        return new

    def of(self, name: str) -> np.ndarray:
        self.pull()
        return self.events[self.events["kind"] == NAMES[name]]

    def names(self) -> list[str]:
        self.pull()
        return [KINDS.get(int(k), str(k)) for k in self.events["kind"]]


class Venue:
    """A core with a well-funded market maker (cross, account 0) and helpers to open traders."""

    def __init__(self, specs=None, mark: int = 50_000, insurance: int = 0,
                 mm_deposit: int = 10**9 * USDT) -> None:
        specs = list(specs) if specs is not None else [spec()]
        self.core = VenueCore(specs)
        self.specs = specs
        self.mm = self.core.open_account()
        self.core.deposit(self.mm, mm_deposit)
        for i in range(len(specs)):
            self.core.set_mark(i, mark)
        if insurance:
            self.core.fund_insurance(insurance)
        self.journal = Journal(self.core)
        self.engine: LiquidationEngine | None = None

    # -- accounts -----------------------------------------------------------------------------
    def isolated(self, sizes, leverages, entry: int, instr: int = 0, extra=0) -> list[int]:
        """One new account per size, each with an isolated position at ``entry`` (initial
        margin deposited, plus ``extra`` atoms of free wallet), against the market maker."""
        sizes = np.asarray(sizes, np.int64)
        lev = np.broadcast_to(np.asarray(leverages, np.int64), sizes.shape)
        k = self.specs[instr].atoms_per_tick_lot
        im = -(-(np.abs(sizes) * entry * k) // lev)
        first = self.core.open_accounts(len(sizes))
        accts = np.arange(first, first + len(sizes), dtype=np.int64)
        self.core.bulk_open_positions(accts, instr, sizes, entry, lev, self.mm,
                                      margins=im + np.broadcast_to(np.asarray(extra), sizes.shape))
        return accts.tolist()

    def cross(self, deposit: int, positions: dict[int, tuple[int, int]], leverage: int = 100) -> int:
        """A new cross account with ``deposit`` atoms and, per instrument, a position
        ``(signed lots, price)`` bought from / sold to the market maker in the book."""
        core = self.core
        a = core.open_account()
        core.deposit(a, deposit)
        for instr, (lots, price) in positions.items():
            core.set_leverage(a, instr, leverage)
            core.submit(self.mm, instr, 1 if lots > 0 else 0, abs(lots), price)
            assert core.submit(a, instr, 0 if lots > 0 else 1, abs(lots), price) == 0
            assert core.last_filled == abs(lots), "the cross position did not fill"
        return a

    def bid(self, lots: int, price: int, instr: int = 0, acct: int | None = None) -> int:
        assert self.core.submit(self.mm if acct is None else acct, instr, 0, lots, price) == 0
        return self.core.last_oid

    def ask(self, lots: int, price: int, instr: int = 0, acct: int | None = None) -> int:
        assert self.core.submit(self.mm if acct is None else acct, instr, 1, lots, price) == 0
        return self.core.last_oid

    # -- the engine ---------------------------------------------------------------------------
    def engine_for(self, waterfall, module_params=None, **params) -> LiquidationEngine:
        """The engine under test; the journal starts empty here (set-up events dropped)."""
        self.journal.pull()
        self.journal.events = self.journal.events[:0]
        self.engine = LiquidationEngine(self.core, waterfall, params or None,
                                        rng=np.random.default_rng(7), module_params=module_params)
        return self.engine

    def mark(self, price: int, instr: int = 0, ts_ns: int | None = None):
        """``on_mark`` and every invariant check after it."""
        ts = ts_ns if ts_ns is not None else self.core.ts_now + 1_000_000_000
        s = self.engine.on_mark(instr, price, ts)
        check(self)
        return s

    def step(self, ts_ns: int):
        s = self.engine.step(ts_ns)
        check(self)
        return s

    # -- queries ------------------------------------------------------------------------------
    def size(self, acct: int, instr: int = 0) -> int:
        return int(self.core.arrays()["size"][instr, acct])

    def iso(self, acct: int, instr: int = 0) -> int:
        return int(self.core.arrays()["iso"][instr, acct])

    def wallet(self, acct: int) -> int:
        return int(self.core.arrays()["wallet"][acct])


def unbooked_negative_equity(core, engine=None) -> list[int]:
    """Accounts left with negative equity that nobody booked: a cross account whose wallet +
    cross uPnL < 0, or an isolated position (open or flat) whose bucket + uPnL < 0 — except
    positions waiting in an auction, which are still being sold."""
    a = core.arrays()
    n_instr = a["size"].shape[0]
    waiting = set()
    if engine is not None:
        p = engine.pending
        for acct, instr, st in zip(p.acct.tolist(), p.instr.tolist(), p.status.tolist()):
            if st == 1:
                waiting.add((acct, instr))
    ref = np.where(a["mark"] > 0, a["mark"], a["last"])
    bad = set()
    cross_eq = a["wallet"].copy()
    for i in range(n_instr):
        s = a["size"][i]
        upnl = np.where(s != 0, s * ref[i] * a["k"][i] - a["cost"][i], 0)
        cross = a["mode"][i] == 0
        cross_eq += np.where(cross, upnl, 0)
        iso_eq = a["iso"][i] + upnl
        for acct in np.flatnonzero(~cross & (iso_eq < 0)).tolist():
            if (acct, i) not in waiting:
                bad.add(acct)
    for acct in np.flatnonzero(cross_eq < 0).tolist():
        if not any((acct, i) in waiting for i in range(n_instr)):
            bad.add(acct)
    return sorted(bad)


def check(venue: Venue) -> None:
    """The invariants that hold after every step of every test."""
    venue.core.check_invariants()
    if venue.engine is not None:
        venue.engine.check()
    assert unbooked_negative_equity(venue.core, venue.engine) == []
