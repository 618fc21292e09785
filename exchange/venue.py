"""``Exchange``: the venue's Python API, what a researcher, a strategy and the server drive.

It wraps the compiled :class:`exchange._core.VenueCore` (risk → matching → settlement on
integer state) and adds what is not on the hot path: symbols and human units (Decimal at the
edge), conditional orders (stop / take-profit / trailing stop, triggered by mark or last
price), the clock, and the event stream as attrs objects.

>>> ex = Exchange.from_preset("binance_usdm")
>>> alice, bob = ex.open_account(deposit="10000"), ex.open_account(deposit="10000")
>>> _ = ex.set_mark("BTCUSDT", "50000")
>>> ev = ex.submit(alice, Order.limit("BTCUSDT", "SELL", "0.1", "50000"))
>>> ev = ex.submit(bob, Order.market("BTCUSDT", "BUY", "0.1"))
>>> [e.name for e in ev]
['OrderAccepted', 'OrderFilled', 'OrderFilled']
>>> ex.position(bob, "BTCUSDT").size
Decimal('0.100')
"""
from __future__ import annotations

import math
from decimal import Decimal
from typing import TypedDict
from typing import Any
from collections.abc import Iterable

import attrs
import numpy as np

from exchange import events as ev_mod
from exchange.events import Event
from exchange._core import VenueCore
from exchange._enums import EventKind, OrderFlag
from exchange.dtypes import EVENT_DTYPE
from exchange.codes import RejectReason
from exchange.errors import InvalidCommandError, UnknownAccountError, UnknownSymbolError
from exchange.snapshot import _mappingproxy, dump_snapshot, load_snapshot  # noqa: F401 (old pickles)
from exchange.units import RATE_SCALE

#: a money or quantity argument: a decimal string (exact), a Decimal, or an int
Amount = str | Decimal | int



class OpenOrder(TypedDict, total=False):
    """One row of :meth:`Exchange.open_orders`: a resting order (``price``) or a conditional
    one (``stop_price``); quantities and prices as Decimals in the instrument's units."""

    order_id: int
    symbol: str
    side: str                  # "BUY" / "SELL"
    type: str                  # "LIMIT", or the conditional order's type
    price: Decimal
    stop_price: Decimal | None
    open_qty: Decimal
    reduce_only: bool


BUY, SELL = 0, 1
_SIDES = {"BUY": BUY, "SELL": SELL, "buy": BUY, "sell": SELL, 0: BUY, 1: SELL}
_TIFS = {"GTC": 0, "IOC": 1, "FOK": 2, "GTX": 3, "POST_ONLY": 3, "ALO": 3}
_STPS = {"NONE": 0, "EXPIRE_TAKER": 1, "EXPIRE_MAKER": 2, "EXPIRE_BOTH": 3}
ORDER_TYPES = ("LIMIT", "MARKET", "STOP_MARKET", "STOP", "TAKE_PROFIT_MARKET", "TAKE_PROFIT",
               "TRAILING_STOP_MARKET")
_CONDITIONAL = {"STOP_MARKET", "STOP", "TAKE_PROFIT_MARKET", "TAKE_PROFIT", "TRAILING_STOP_MARKET"}

# event kinds of this layer (exchange.events declares their classes)
EV_CONDITIONAL_ACCEPTED = int(EventKind.CONDITIONAL_ORDER_ACCEPTED)
EV_CONDITIONAL_TRIGGERED = int(EventKind.CONDITIONAL_ORDER_TRIGGERED)
EV_CONDITIONAL_CANCELED = int(EventKind.CONDITIONAL_ORDER_CANCELED)
EV_FUNDING_PAID = int(EventKind.FUNDING_PAID)
EV_FUNDING_RATE_SET = int(EventKind.FUNDING_SETTLED)


def _side(value) -> int:
    try:
        return _SIDES[value]
    except (KeyError, TypeError):
        raise InvalidCommandError(f"'side' must be 'BUY' or 'SELL' (got {value!r})") from None


def _dec(value, field: str) -> Decimal:
    if isinstance(value, bool) or value is None:
        raise InvalidCommandError(f"{field!r} must be a decimal number (got {value!r})")
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidCommandError(f"{field!r} must be a finite number (got {value!r})")
        value = repr(value)
    try:
        d = Decimal(value)
    except Exception:
        raise InvalidCommandError(f"{field!r} must be a decimal number (got {value!r})") from None
    if not d.is_finite():
        raise InvalidCommandError(f"{field!r} must be a finite number (got {value!r})")
    return d


@attrs.frozen
class Order:
    """An order as a user writes it, in human units (Decimal-like strings, ints or floats).

    ``type``: LIMIT, MARKET, STOP_MARKET, STOP (stop-limit), TAKE_PROFIT_MARKET, TAKE_PROFIT
    (take-profit-limit), TRAILING_STOP_MARKET. ``working_type``: MARK_PRICE or CONTRACT_PRICE
    (last trade), which price a trigger reads. ``callback_rate`` in percent (0.1–10) for
    trailing stops, ``activation_price`` optional. ``close_position``: a stop/TP that closes
    the whole position whatever its size when it fires (qty ignored).
    """

    symbol: str
    side: str
    qty: Any = None
    price: Any = None
    type: str = "LIMIT"
    tif: str = "GTC"
    reduce_only: bool = False
    close_position: bool = False
    stop_price: Any = None
    working_type: str = "CONTRACT_PRICE"
    callback_rate: Any = None
    activation_price: Any = None
    protect_price: Any = None
    stp: str = "NONE"
    client_id: str | None = None

    @classmethod
    def limit(cls, symbol, side, qty, price, tif="GTC", **kw) -> Order:
        return cls(symbol, side, qty, price, type="LIMIT", tif=tif, **kw)

    @classmethod
    def market(cls, symbol, side, qty, **kw) -> Order:
        return cls(symbol, side, qty, None, type="MARKET", tif="IOC", **kw)

    @classmethod
    def stop_market(cls, symbol, side, qty, stop_price, **kw) -> Order:
        return cls(symbol, side, qty, None, type="STOP_MARKET", stop_price=stop_price, **kw)

    @classmethod
    def stop_limit(cls, symbol, side, qty, price, stop_price, **kw) -> Order:
        return cls(symbol, side, qty, price, type="STOP", stop_price=stop_price, **kw)

    @classmethod
    def take_profit_market(cls, symbol, side, qty, stop_price, **kw) -> Order:
        return cls(symbol, side, qty, None, type="TAKE_PROFIT_MARKET", stop_price=stop_price, **kw)

    @classmethod
    def take_profit_limit(cls, symbol, side, qty, price, stop_price, **kw) -> Order:
        return cls(symbol, side, qty, price, type="TAKE_PROFIT", stop_price=stop_price, **kw)

    @classmethod
    def trailing_stop(cls, symbol, side, qty, callback_rate, activation_price=None, **kw) -> Order:
        return cls(symbol, side, qty, None, type="TRAILING_STOP_MARKET", callback_rate=callback_rate,
                   activation_price=activation_price, **kw)


@attrs.frozen
class Position:
    """A position in human units (Decimal) plus the integer state it came from."""

    account: int
    symbol: str
    size: Decimal
    entry_price: Decimal | None
    mark_price: Decimal | None
    unrealized_pnl: Decimal
    isolated: bool
    leverage: int
    isolated_margin: Decimal
    maintenance_margin: Decimal
    size_lots: int
    cost_atoms: int


@attrs.frozen
class Balance:
    account: int
    wallet: Decimal
    equity: Decimal
    available: Decimal
    maintenance_margin: Decimal
    margin_ratio: Decimal | None  # Binance: MM / equity; None when there is no position


@attrs.define
class _Conditional:
    oid: int
    account: int
    instr: int
    side: int
    qty: int
    otype: str
    trigger: int          # ticks; for trailing stops the current stop level (0 before activation)
    limit: int
    reduce_only: bool
    close_position: bool
    working_mark: bool
    callback: int = 0     # rate per 1e8
    activation: int = 0
    extreme: int = 0      # running high (sell) / low (buy) for trailing stops


class Exchange:
    """One simulated venue: instruments of one preset, accounts, books and the event stream.

    Runtime cost: every command is O(fills + instruments) in the compiled core; reading
    events materialises attrs objects (O(events)). For throughput use :attr:`core` directly.
    """

    def __init__(self, preset, *, track_deltas: bool = False, initial_accounts: int = 1024,
                 liquidation: bool = True, liquidation_overrides: dict | None = None,
                 seed: int | np.random.SeedSequence = 0):
        """``liquidation``: run the preset's liquidation waterfall
        (:class:`~exchange.liquidation.LiquidationEngine`, :attr:`liquidation`) on every mark
        price (:meth:`set_mark`) and clock step (:meth:`advance_to`), and keep its index of
        liquidation prices current after every command; when the waterfall has ``backstop``
        a funded vault account is opened (:attr:`vault`). ``liquidation_overrides`` updates
        module parameters (``{"market": {...}}``); ``seed`` seeds the engine's random choices
        (ADL's random policy). ``liquidation=False`` runs no waterfall (a venue without
        default management: a study of the bare book and margin).

        Time belongs to the venue: :meth:`step` runs its documented pipeline (oracle →
        index → mark → conditional triggers → liquidation waterfall → funding) for a time
        and the price observations its callers feed it."""
        self.preset = preset
        self.symbols: list[str] = list(preset.symbols)
        self.specs = [preset.instruments[s] for s in self.symbols]
        self._index = {s: i for i, s in enumerate(self.symbols)}
        self.core = VenueCore(self.specs, initial_accounts=initial_accounts,
                              track_deltas=track_deltas)
        self._journal: list[np.ndarray] = []
        #: records dropped from memory by :meth:`release_journal` (streamed elsewhere)
        self.journal_released = 0
        #: callables given every batch of new event records (EVENT_DTYPE) as it is journaled,
        #: whichever command or driver produced it: the simulator's liquidation engine and
        #: strategies, the mock server's order book of record and streams
        self.record_hooks: list = []
        self._cond: dict[int, _Conditional] = {}
        self._cond_next = -1          # conditional orders get negative ids until they fire
        self._in_trigger = False
        #: per instrument, the venue's index / oracle / mark / funding state once it is fed
        #: prices (:meth:`step`) or configured (:meth:`configure_oracle`)
        self.timelines: list = [None] * len(self.symbols)
        if preset.liquidation.insurance_fund_atoms:
            self.core.fund_insurance(preset.liquidation.insurance_fund_atoms)
        self.liquidation = None
        self.vault: int | None = None
        if liquidation:
            from exchange.liquidation import LiquidationEngine

            self.liquidation, self.vault = LiquidationEngine.for_venue(
                self.core, preset, liquidation_overrides, np.random.default_rng(seed))
            self.record_hooks.append(self.liquidation.note_events)
        self._drain()

    @classmethod
    def from_preset(cls, name_or_path, overrides: dict | None = None, **kw) -> Exchange:
        """Build a venue from a preset name (``perpsim presets``) or a TOML path."""
        from exchange.presets import load_preset

        preset = load_preset(name_or_path)
        if overrides:
            preset = preset.with_overrides(overrides)
        return cls(preset, **kw)

    # ------------------------------------------------------------------ helpers
    def instrument(self, symbol: str) -> int:
        try:
            return self._index[symbol]
        except (KeyError, TypeError):
            raise UnknownSymbolError(
                f"'symbol' must be one of {self.symbols} (got {symbol!r})") from None

    def spec(self, symbol: str):
        return self.specs[self.instrument(symbol)]

    def _acct(self, account) -> int:
        if isinstance(account, bool) or not isinstance(account, (int, np.integer)):
            raise UnknownAccountError(f"'account' must be an account id (int) (got {account!r})")
        if not 0 <= account < self.core.n_acct:
            raise UnknownAccountError(
                f"'account' must be an open account id in [0, {self.core.n_acct}) (got {account})")
        return int(account)

    def _atoms(self, amount, field="amount") -> int:
        d = _dec(amount, field)
        atoms = d * (10 ** self.specs[0].settle_decimals)
        if atoms != atoms.to_integral_value():
            raise InvalidCommandError(
                f"{field!r} must be a multiple of 1e-{self.specs[0].settle_decimals} (got {amount!r})")
        return int(atoms)

    def _from_atoms(self, atoms: int) -> Decimal:
        return Decimal(int(atoms)).scaleb(-self.specs[0].settle_decimals)

    def _drain(self) -> np.ndarray:
        """Move the core's pending records to the journal and hand them to the
        :attr:`record_hooks` (the liquidation engine re-indexes the accounts they changed).
        O(records)."""
        recs = self.core.drain_events()
        if len(recs):
            self._journal.append(recs)
            for hook in self.record_hooks:
                hook(recs)
        return recs

    def _collect(self, start_seq: int) -> list:
        """Move new core records to the journal; return the events recorded since start_seq."""
        self._drain()
        return self._events_after(start_seq)

    def _events_after(self, start_seq: int) -> list:
        out = []
        for chunk in reversed(self._journal):
            seqs = chunk["seq"]
            if seqs[-1] <= start_seq:
                break
            # a chunk wholly after start_seq is taken as it is (the common case: the one the
            # command drained, which its record hooks have just materialized)
            out.append(chunk if seqs[0] > start_seq else chunk[seqs > start_seq])
        if not out:
            return []
        out.reverse()
        return ev_mod.materialize(out[0] if len(out) == 1 else np.concatenate(out))

    def _reject(self, account, instr, code: RejectReason, command: int = 0, side=0, price=0,
                qty=0) -> list:
        seq0 = self.core.seq
        self.core.emit(EventKind.ORDER_REJECTED, int(code), instr, account, 0, side, price, qty, 0, 0, 0, command)
        return self._collect(seq0)

    # ------------------------------------------------------------------ accounts
    def open_account(self, deposit: Amount | None = None) -> int:
        """Open an account (optionally with a first deposit in settlement units). O(1)."""
        acct = self.core.open_account()
        if deposit is not None:
            self.deposit(acct, deposit)
        self._collect(self.core.seq)
        return acct

    def deposit(self, account: int, amount: Amount) -> list[Event]:
        seq0 = self.core.seq
        self.core.deposit(self._acct(account), self._atoms(amount))
        return self._collect(seq0)

    def withdraw(self, account: int, amount: Amount) -> list[Event]:
        seq0 = self.core.seq
        self.core.withdraw(self._acct(account), self._atoms(amount))
        return self._collect(seq0)

    def set_leverage(self, account: int, symbol: str, leverage: int) -> list[Event]:
        if isinstance(leverage, bool) or not isinstance(leverage, (int, np.integer)):
            raise InvalidCommandError(f"'leverage' must be a whole number (got {leverage!r})")
        seq0 = self.core.seq
        self.core.set_leverage(self._acct(account), self.instrument(symbol), int(leverage))
        return self._collect(seq0)

    def set_margin_mode(self, account: int, symbol: str, mode: str) -> list[Event]:
        modes = {"cross": 0, "isolated": 1, "CROSSED": 0, "ISOLATED": 1}
        if mode not in modes:
            raise InvalidCommandError(f"'mode' must be 'cross' or 'isolated' (got {mode!r})")
        seq0 = self.core.seq
        self.core.set_margin_mode(self._acct(account), self.instrument(symbol), modes[mode])
        return self._collect(seq0)

    def adjust_isolated_margin(self, account: int, symbol: str, delta: Amount) -> list[Event]:
        seq0 = self.core.seq
        self.core.adjust_isolated_margin(self._acct(account), self.instrument(symbol),
                                         self._atoms(delta, "delta"))
        return self._collect(seq0)

    # ------------------------------------------------------------------ prices and time
    @property
    def ts_ns(self) -> int:
        return self.core.ts_now

    def advance_to(self, ts_ns: int) -> list[Event]:
        """Move the venue clock forward (integer ns)."""
        seq0 = self.core.seq
        self.core.set_time(int(ts_ns))
        if self.liquidation is not None:
            self._drain()
            self.liquidation.step(int(ts_ns))
        return self._collect(seq0)

    def set_mark(self, symbol: str, price: Amount, index: Amount | None = None) -> list[Event]:
        """Publish a mark (and index) price in human units; fires mark-price triggers."""
        i = self.instrument(symbol)
        spec = self.specs[i]
        mark = spec.price_to_ticks(_dec(price, "mark"))
        idx = spec.price_to_ticks(_dec(index, "index")) if index is not None else 0
        return self.set_mark_ticks(i, mark, idx)

    def set_mark_ticks(self, instr: int, mark_ticks: int, index_ticks: int = 0) -> list[Event]:
        seq0 = self.core.seq
        self.core.set_mark(instr, int(mark_ticks), int(index_ticks))
        self._run_triggers(instr)
        if self.liquidation is not None:
            self._drain()
            self.liquidation.on_mark(instr, int(mark_ticks))
        return self._collect(seq0)

    # ------------------------------------------------------------------ the venue's clock step
    def configure_oracle(self, symbol: str, *, sources: int = 1, weights=None, clamp_rate=None,
                         staleness_ns: int | None = None, cadence_ns: int | None = None,
                         stale_limit_ns: int | None = None):
        """Set up the venue's index and oracle for ``symbol`` before the first :meth:`step`
        (otherwise built on first use with one source and the preset's defaults):
        ``sources`` index constituents (``weights``), ``clamp_rate`` per 1e8 (default 1 %
        BTC/ETH, 3 % otherwise), ``staleness_ns`` after which a silent constituent has
        weight 0, ``cadence_ns`` the oracle cadence (default the preset's), ``stale_limit_ns``
        after which a silent oracle freezes mark, liquidations and funding. Returns the
        :class:`~exchange.timeline.InstrumentTimeline`."""
        from exchange.oracle import INDEX_STALENESS_NS
        from exchange.timeline import InstrumentTimeline

        i = self.instrument(symbol)
        if self.timelines[i] is not None and self.timelines[i].oracle.publish_count:
            raise InvalidCommandError(f"'symbol' {symbol!r}: the oracle already published; "
                                      "configure it before the first step")
        tl = InstrumentTimeline(self.preset, self.specs[i], self.symbols[i], sources=sources,
                                weights=weights, clamp_rate=clamp_rate,
                                staleness_ns=INDEX_STALENESS_NS if staleness_ns is None else staleness_ns,
                                cadence_ns=cadence_ns, stale_limit_ns=stale_limit_ns)
        self.timelines[i] = tl
        return tl

    def _timeline(self, instr: int):
        tl = self.timelines[instr]
        if tl is None:
            tl = self.configure_oracle(self.symbols[instr])
        return tl

    def next_wakeup_ns(self) -> int | None:
        """The next time :meth:`step` has work of its own (an oracle publish, a funding
        sample or settlement) on the instruments it runs; None before any. O(instruments)."""
        times = [tl.next_wakeup_ns() for tl in self.timelines if tl is not None]
        return min(times) if times else None

    def step(self, now_ns: int, oracle_prices=None, *, events: bool = True) -> list[Event] | None:
        """Advance the venue to ``now_ns`` and run its time-driven pipeline, per instrument,
        in the venue's documented order: the oracle (at its cadence) reads the fed price
        observations into the index (clamp, staleness) → the preset's mark method → the
        conditional orders whose trigger the mark or the last price crossed → the
        liquidation waterfall (new crossers and cases in progress) → funding samples and
        settlements due (the money moves in the core). A stale oracle freezes the mark,
        liquidations and funding, as the venue does.

        ``oracle_prices``: ``{symbol: price}`` (one observation for every index source, or
        a list of one per source, None for a silent source), or a callable
        ``(symbol, now_ns) -> price(s)`` asked only when the oracle of ``symbol`` is due.
        Instruments named here or configured (:meth:`configure_oracle`) are run. Returns the
        events produced (attrs objects), or None with ``events=False`` (the records still
        reach the journal and :attr:`record_hooks`). O(instruments + crossers + positions
        at a settlement).

        >>> ex = Exchange.from_preset("binance_usdm")
        >>> [e.name for e in ex.step(0, {"BTCUSDT": 50_000.0})]
        ['MarkPriceUpdated']
        """
        if isinstance(now_ns, bool) or not isinstance(now_ns, (int, np.integer)):
            raise InvalidCommandError(f"'now_ns' must be an int of nanoseconds (got {now_ns!r})")
        now = int(now_ns)
        core = self.core
        if now < core.ts_now:
            raise InvalidCommandError(f"'now_ns' must be >= the venue clock {core.ts_now} (got {now})")
        seq0 = core.seq
        if now > core.ts_now:
            core.set_time(now)
        fed = {} if oracle_prices is None else oracle_prices
        pull = callable(fed)
        if not pull:
            for sym in fed:
                self._timeline(self.instrument(sym))
        liq = self.liquidation
        any_mark = False
        for i, tl in enumerate(self.timelines):
            if tl is None:
                continue
            if not tl.started:
                tl.start(now)
            if tl.oracle_due(now):
                prices = fed(self.symbols[i], now) if pull else fed.get(self.symbols[i])
                last = int(core.arrays()["last"][i])
                mark = tl.publish(now, prices, core.book(i), last or None)
            else:
                mark = None
            if liq is not None and liq.oracle_stale != tl.stale:
                liq.oracle_stale = tl.stale
            if mark is not None:
                core.set_mark(i, int(mark), int(tl.index_ticks))
            self._run_triggers(i)
            if liq is not None and mark is not None:
                any_mark = True
                self._drain()
                liq.on_mark(i, int(mark), now)
            mark_now = core.mark_ticks(i) or None
            for rate, price in tl.funding_due(now, core.book(i), mark_now):
                self._drain()
                self._settle_funding(i, rate, price)
        if liq is not None and not any_mark:
            self._drain()
            liq.step(now)
        if not events:
            self._drain()
            return None
        return self._collect(seq0)

    def set_funding_override(self, symbol: str, rate: int | None) -> None:
        """A stress lever: settle ``symbol``'s funding at ``rate`` per interval (1e8 scale)
        instead of the venue's formula (and use it in the mark's funding basis) until reset
        with None. O(1)."""
        if rate is not None and (isinstance(rate, bool) or not isinstance(rate, (int, np.integer))):
            raise InvalidCommandError(f"'rate' must be an int per 1e8 or None (got {rate!r})")
        self._timeline(self.instrument(symbol)).override = None if rate is None else int(rate)

    def run_triggers(self, instr: int) -> None:
        """Fire the conditional orders of ``instr`` whose trigger the current mark or last
        price crossed (drivers that submit through :attr:`core` call it after trades). O(c)
        for c conditional orders."""
        if self._cond:
            self._run_triggers(instr)

    # ------------------------------------------------------------------ orders
    def submit(self, account: int, order: Order) -> list[Event]:
        """Validate → risk → match → settle one order; returns the events it produced.

        A rejection is an ``OrderRejected`` event with a :class:`RejectReason` and changes
        nothing else; malformed input (unknown account or symbol, NaN, wrong types) raises.
        """
        acct = self._acct(account)
        if not isinstance(order, Order):
            raise InvalidCommandError(f"'order' must be an exchange.venue.Order (got {type(order).__name__})")
        instr = self.instrument(order.symbol)
        spec = self.specs[instr]
        side = _side(order.side)
        if order.type not in ORDER_TYPES:
            raise InvalidCommandError(f"'type' must be one of {ORDER_TYPES} (got {order.type!r})")
        if order.tif not in _TIFS:
            raise InvalidCommandError(f"'tif' must be one of {sorted(_TIFS)} (got {order.tif!r})")
        if order.stp not in _STPS:
            raise InvalidCommandError(f"'stp' must be one of {sorted(_STPS)} (got {order.stp!r})")
        if order.working_type not in ("MARK_PRICE", "CONTRACT_PRICE"):
            raise InvalidCommandError(
                f"'working_type' must be 'MARK_PRICE' or 'CONTRACT_PRICE' (got {order.working_type!r})")
        # quantities and prices: malformed raises; off-grid is a validation rejection
        qty_lots = 0
        if not (order.close_position and order.type in _CONDITIONAL):
            q = _dec(order.qty, "qty")
            if q <= 0:
                raise InvalidCommandError(f"'qty' must be > 0 (got {order.qty!r})")
            if (q / spec.lot_size) != (q / spec.lot_size).to_integral_value():
                return self._reject(acct, instr, RejectReason.INVALID_QTY, side=side)
            qty_lots = int(q / spec.lot_size)
        price_ticks = 0
        if order.type in ("LIMIT", "STOP", "TAKE_PROFIT"):
            p = _dec(order.price, "price")
            if p <= 0:
                raise InvalidCommandError(f"'price' must be > 0 (got {order.price!r})")
            if (p / spec.tick_size) != (p / spec.tick_size).to_integral_value():
                return self._reject(acct, instr, RejectReason.INVALID_PRICE, side=side, qty=qty_lots)
            price_ticks = int(p / spec.tick_size)
        if order.type in _CONDITIONAL:
            return self._submit_conditional(acct, instr, side, qty_lots, price_ticks, order)
        protect = 0
        if order.protect_price is not None:
            protect = spec.price_to_ticks(_dec(order.protect_price, "protect_price"))
        seq0 = self.core.seq
        otype = 0 if order.type == "LIMIT" else 1
        tif = _TIFS[order.tif] if otype == 0 else 1
        self.core.submit(acct, instr, side, qty_lots, price_ticks, otype, tif, order.reduce_only,
                         protect, _STPS[order.stp])
        if self.core.last_filled and not self._in_trigger:
            self._run_triggers(instr)
        return self._collect(seq0)

    def _submit_conditional(self, acct, instr, side, qty, limit, order: Order) -> list:
        spec = self.specs[instr]
        seq0 = self.core.seq
        working_mark = order.working_type == "MARK_PRICE"
        ref = self._trigger_price(instr, working_mark)
        trigger = callback = activation = 0
        if order.type == "TRAILING_STOP_MARKET":
            cb = _dec(order.callback_rate, "callback_rate")
            if not Decimal("0.1") <= cb <= Decimal("10"):
                return self._reject(acct, instr, RejectReason.INVALID_CALLBACK_RATE, side=side, qty=qty)
            callback = int(cb * RATE_SCALE / 100)
            if order.activation_price is not None:
                activation = spec.price_to_ticks(_dec(order.activation_price, "activation_price"))
        else:
            sp = _dec(order.stop_price, "stop_price")
            if sp <= 0:
                raise InvalidCommandError(f"'stop_price' must be > 0 (got {order.stop_price!r})")
            trigger = spec.price_to_ticks(sp)
            # Binance refuses a trigger that would fire immediately ("would immediately trigger")
            if ref and self._fires(order.type, side, trigger, ref):
                return self._reject(acct, instr, RejectReason.INVALID_TRIGGER, side=side, qty=qty)
        oid = self._cond_next
        self._cond_next -= 1
        c = _Conditional(oid, acct, instr, side, qty, order.type, trigger, limit,
                         order.reduce_only or order.close_position, order.close_position,
                         working_mark, callback, activation)
        if order.type == "TRAILING_STOP_MARKET" and not activation:
            c.activation = ref or 0
            c.extreme = ref or 0
        self._cond[oid] = c
        self.core.emit(EV_CONDITIONAL_ACCEPTED, 0, instr, acct, oid, side, trigger, qty,
                       ORDER_TYPES.index(order.type), limit, callback, int(working_mark))
        return self._collect(seq0)

    @staticmethod
    def _fires(otype: str, side: int, trigger: int, price: int) -> bool:
        """Binance trigger rules: STOP buy fires when price >= stop, sell when <=;
        TAKE_PROFIT buy fires when price <= stop, sell when >=."""
        if otype in ("STOP_MARKET", "STOP"):
            return price >= trigger if side == BUY else price <= trigger
        return price <= trigger if side == BUY else price >= trigger

    def _trigger_price(self, instr: int, working_mark: bool) -> int:
        arr = self.core.arrays()
        return int(arr["mark"][instr] if working_mark else arr["last"][instr])

    def _trigger_prices(self, instr: int) -> tuple[int, int]:
        """(mark, last) of ``instr`` in ticks: what conditional orders trigger on."""
        arr = self.core.arrays()
        return int(arr["mark"][instr]), int(arr["last"][instr])

    def _run_triggers(self, instr: int) -> None:
        """Fire the conditional orders of one instrument whose trigger the price crossed."""
        if not self._cond or self._in_trigger:
            return
        self._in_trigger = True
        try:
            mark, last = self._trigger_prices(instr)
            for oid in sorted(self._cond, reverse=True):     # oldest first (ids count down)
                c = self._cond.get(oid)
                if c is None or c.instr != instr:
                    continue
                price = mark if c.working_mark else last
                if price <= 0:
                    continue
                if c.otype == "TRAILING_STOP_MARKET":
                    if not self._trail(c, price):
                        continue
                elif not self._fires(c.otype, c.side, c.trigger, price):
                    continue
                self._fire(c, price)
                mark, last = self._trigger_prices(instr)    # its fills moved the last price
        finally:
            self._in_trigger = False

    @staticmethod
    def _trail(c: _Conditional, price: int) -> bool:
        """Trailing stop: a sell trails the running high and fires at high·(1 − cb); a buy
        trails the low and fires at low·(1 + cb), once the activation price is reached."""
        if not c.extreme:
            if (c.side == SELL and price >= c.activation) or (c.side == BUY and price <= c.activation):
                c.extreme = price
            return False
        if c.side == SELL:
            c.extreme = max(c.extreme, price)
            c.trigger = c.extreme * (RATE_SCALE - c.callback) // RATE_SCALE
            return price <= c.trigger
        c.extreme = min(c.extreme, price)
        c.trigger = -(-c.extreme * (RATE_SCALE + c.callback) // RATE_SCALE)
        return price >= c.trigger

    def _fire(self, c: _Conditional, price: int) -> None:
        del self._cond[c.oid]
        qty = c.qty
        if c.close_position:
            qty = abs(int(self.core.arrays()["size"][c.instr, c.account]))
        child = 0
        if qty > 0:
            market = c.otype in ("STOP_MARKET", "TAKE_PROFIT_MARKET", "TRAILING_STOP_MARKET")
            self.core.submit(c.account, c.instr, c.side, qty, 0 if market else c.limit,
                             1 if market else 0, 0, c.reduce_only, 0, 0)
            child = self.core.last_oid
        self.core.emit(EV_CONDITIONAL_TRIGGERED, 0, c.instr, c.account, c.oid, c.side, price,
                       qty, child, 0, 0, 0)

    def cancel(self, account: int, order_id: int) -> list[Event]:
        """Cancel a resting or conditional order; an unknown id is an OrderRejected event."""
        acct = self._acct(account)
        seq0 = self.core.seq
        c = self._cond.get(order_id)
        if c is not None and c.account == acct:
            del self._cond[order_id]
            self.core.emit(EV_CONDITIONAL_CANCELED, 0, c.instr, acct, c.oid, c.side, c.trigger,
                           c.qty, 0, 0, 0, 0)
        else:
            self.core.cancel(acct, int(order_id))
        return self._collect(seq0)

    def cancel_all(self, account: int, symbol: str | None = None) -> list[Event]:
        acct = self._acct(account)
        instr = -1 if symbol is None else self.instrument(symbol)
        seq0 = self.core.seq
        self.core.cancel_all(acct, instr)
        for oid, c in list(self._cond.items()):
            if c.account == acct and (instr < 0 or c.instr == instr):
                del self._cond[oid]
                self.core.emit(EV_CONDITIONAL_CANCELED, 0, c.instr, acct, c.oid, c.side, c.trigger,
                               c.qty, 0, 0, 0, 0)
        return self._collect(seq0)

    def amend(self, account: int, order_id: int, qty: Amount | None = None,
              price: Amount | None = None) -> list[Event]:
        """Change quantity (down keeps priority) and/or price of a resting order."""
        acct = self._acct(account)
        info = self.core.order_info(int(order_id)) if 0 < order_id < self.core.next_order_id else None
        if info is None or info[0] != acct or not info[5] & OrderFlag.RESTING:
            return self._reject(acct, -1, RejectReason.UNKNOWN_ORDER, command=4)
        spec = self.specs[info[1]]
        lots = info[4] if qty is None else None
        if qty is not None:
            q = _dec(qty, "qty")
            if q <= 0:
                raise InvalidCommandError(f"'qty' must be > 0 (got {qty!r})")
            lots = spec.qty_to_lots(q)
        ticks = 0 if price is None else spec.price_to_ticks(_dec(price, "price"))
        seq0 = self.core.seq
        self.core.amend(acct, int(order_id), int(lots), int(ticks))
        return self._collect(seq0)

    # ------------------------------------------------------------------ funding
    def settle_funding(self, symbol: str, rate: int, price_ticks: int | None = None) -> list[Event]:
        """Settle one funding payment on every open position of ``symbol``: ``rate`` per 1e8
        (positive: longs pay shorts) on notional at ``price_ticks`` (default: the mark).
        Payers pay the rounded-up amount, receivers get the rounded-down amount, the
        remainder goes to the fee pool; isolated positions pay from their bucket. The money
        moves inside the compiled core (:meth:`~exchange._core.VenueCore.settle_funding`).
        :meth:`step` settles the preset's funding schedule by itself; this is the manual
        lever (a still venue, a test). O(accounts)."""
        i = self.instrument(symbol)
        if isinstance(rate, bool) or not isinstance(rate, (int, np.integer)):
            raise InvalidCommandError(f"'rate' must be an int per 1e8 (got {rate!r})")
        price = self.core.mark_ticks(i) if price_ticks is None else int(price_ticks)
        seq0 = self.core.seq
        self._settle_funding(i, int(rate), price)
        return self._collect(seq0)

    def _settle_funding(self, instr: int, rate: int, price: int) -> None:
        if price <= 0:
            raise InvalidCommandError(f"'price' must be > 0 ticks to settle funding (got {price})")
        accts = self.core.settle_funding(instr, rate, price, EV_FUNDING_PAID, EV_FUNDING_RATE_SET)
        liq = self.liquidation
        if liq is not None and len(accts):      # payments moved wallets and buckets:
            liq.mark_dirty(accts)               # an account funding took below maintenance
            mark = self.core.mark_ticks(instr)   # is liquidated now, not at the
            if mark > 0:                                    # next mark
                self._drain()
                liq.on_mark(instr, mark, self.core.ts_now)

    # ------------------------------------------------------------------ queries
    def position(self, account: int, symbol: str) -> Position:
        acct = self._acct(account)
        i = self.instrument(symbol)
        spec = self.specs[i]
        arr = self.core.arrays()
        size = int(arr["size"][i, acct])
        cost = int(arr["cost"][i, acct])
        mark = int(arr["mark"][i])
        entry = None
        if size:
            entry = (Decimal(cost) / (size * spec.atoms_per_tick_lot) * spec.tick_size).quantize(
                spec.tick_size / 1000)
        return Position(
            account=acct, symbol=symbol, size=spec.lots_to_qty(size), entry_price=entry,
            mark_price=spec.ticks_to_price(mark) if mark else None,
            unrealized_pnl=self._from_atoms(self.core.upnl(acct, i)),
            isolated=bool(arr["mode"][i, acct]), leverage=int(arr["lev"][i, acct]),
            isolated_margin=self._from_atoms(int(arr["iso"][i, acct])),
            maintenance_margin=self._from_atoms(self.core.maintenance_margin(acct, i)),
            size_lots=size, cost_atoms=cost)

    def positions(self, account: int) -> list[Position]:
        acct = self._acct(account)
        arr = self.core.arrays()
        return [self.position(acct, s) for i, s in enumerate(self.symbols) if arr["size"][i, acct]]

    def balance(self, account: int) -> Balance:
        acct = self._acct(account)
        eq = self.core.equity(acct)
        mm = self.core.cross_maintenance(acct)
        ratio = None
        if mm:
            ratio = Decimal(mm) / Decimal(eq) if eq > 0 else Decimal("Infinity")
        return Balance(account=acct, wallet=self._from_atoms(int(self.core.arrays()["wallet"][acct])),
                       equity=self._from_atoms(eq), available=self._from_atoms(self.core.available(acct)),
                       maintenance_margin=self._from_atoms(mm), margin_ratio=ratio)

    def open_orders(self, account: int, symbol: str | None = None) -> list[OpenOrder]:
        """Resting and conditional orders of an account, oldest first."""
        acct = self._acct(account)
        instr = -1 if symbol is None else self.instrument(symbol)
        out = []
        for oid in self.core.open_order_ids(acct, instr):
            a, i, side, price, open_lots, flags = self.core.order_info(oid)
            spec = self.specs[i]
            out.append(dict(order_id=oid, symbol=self.symbols[i], side="BUY" if side == 0 else "SELL",
                            type="LIMIT", price=spec.ticks_to_price(price),
                            open_qty=spec.lots_to_qty(open_lots), reduce_only=bool(flags & OrderFlag.REDUCE_ONLY)))
        for c in self._cond.values():
            if c.account == acct and (instr < 0 or c.instr == instr):
                spec = self.specs[c.instr]
                out.append(dict(order_id=c.oid, symbol=self.symbols[c.instr],
                                side="BUY" if c.side == 0 else "SELL", type=c.otype,
                                stop_price=spec.ticks_to_price(c.trigger) if c.trigger else None,
                                open_qty=spec.lots_to_qty(c.qty), reduce_only=c.reduce_only))
        return out

    def book(self, symbol: str):
        """The instrument's matching.Book (read it; trade through :meth:`submit`)."""
        return self.core.book(self.instrument(symbol))

    def journal(self) -> np.ndarray:
        """Every event record so far (EVENT_DTYPE), in stream order."""
        self._collect(self.core.seq)
        return np.concatenate(self._journal) if self._journal else np.empty(0, EVENT_DTYPE)

    def release_journal(self) -> int:
        """Drop the journaled records kept in memory: a driver that streams them elsewhere
        through :attr:`record_hooks` (the simulator) calls it between commands, so memory
        stays bounded; :meth:`journal` and :meth:`events` then cover what came after.
        Returns how many records were dropped. O(chunks held)."""
        self._drain()
        n = sum(len(c) for c in self._journal)
        self._journal.clear()
        self.journal_released += n
        return n

    def drain_records(self) -> np.ndarray:
        """Move the core's pending records to the journal and return them (EVENT_DTYPE), with
        no attrs objects: for drivers of :attr:`core` (the simulator) that feed each batch to
        the liquidation engine. O(n)."""
        return self._drain()

    def events(self, since_seq: int = 0) -> list[Event]:
        """Events after ``since_seq`` as attrs objects."""
        self._collect(self.core.seq)
        return self._events_after(since_seq)

    def check_invariants(self) -> None:
        """Conservation identity, positions net to zero, exposure = resting orders, books sound;
        and the liquidation engine's indexes and cases when it runs here."""
        self.core.check_invariants()
        if self.liquidation is not None:
            self._drain()
            self.liquidation.check()

    # ------------------------------------------------------------------ snapshot / restore
    def snapshot(self, *, events: bool = True) -> bytes:
        """The venue's whole state as bytes, for :meth:`restore`: the compiled core
        (accounts, positions, ledger, books with their resting orders in queue priority,
        the order registry, id counters, clock; :meth:`VenueCore.snapshot_state`), the
        conditional orders, the timelines (index, oracle, mark, funding), the liquidation
        engine with its cases and random generator, and (``events=True``) the event
        journal; ``events=False`` leaves the journal out (a restored venue's
        :meth:`journal` then starts at the snapshot; its ``seq`` continues).

        Format (version 1): the line ``PERPSIM-SNAPSHOT 1 <sha256> <length>`` then a pickle
        of the state; :meth:`restore` checks the header and the digest. A snapshot is
        trusted input (unpickling runs code): restore only the files this venue wrote.
        Hooks in :attr:`record_hooks` other than the liquidation engine's are not part of
        the state: whoever added them adds them to the restored venue. O(state)."""
        self._drain()
        state = dict(vars(self))
        own = self.liquidation.note_events if self.liquidation is not None else None
        state["record_hooks"] = [h for h in self.record_hooks if own is not None and h == own]
        if not events:
            state["_journal"] = []
        return dump_snapshot(self.core, state)

    @classmethod
    def restore(cls, data: bytes) -> Exchange:
        """The venue :meth:`snapshot` wrote: continues exactly as the original would (the
        same events for the same commands). A wrong header, version, length or digest
        raises InvalidCommandError. O(state)."""
        state = load_snapshot(data)
        ex = cls.__new__(cls)
        ex.__dict__.update(state)
        return ex


def events_named(events: Iterable, *names: str) -> list:
    return ev_mod.of_type(events, *names)
