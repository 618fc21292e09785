"""In-process strategy API: your own trading strategy inside a simulated scenario.

A :class:`Strategy` trades ONE account of the scenario's instrument, in human units (``Decimal``
prices and quantities, strings or numbers accepted). Subclass it, set its parameters as class
attributes and override the callbacks you need::

    class Dip(Strategy):
        deposit = "20000"            # settlement asset
        leverage = 5
        interval_ms = 1000           # on_tick cadence
        latency_ms = 20              # one way: decision → venue, venue → strategy
        drop_bps = 50.0              # your own parameters: any public class attribute

        def on_tick(self, api):
            if api.position.size == 0 and api.mark and api.index \\
                    and api.mark < api.index * (1 - Decimal(self.drop_bps) / 10_000):
                api.market("BUY", "0.01")

        def on_fill(self, api, fill):
            print(api.now, fill.side, fill.qty, "@", fill.price)

Callbacks (all optional): ``on_start(api)`` once when the run starts (no mark price yet),
``on_tick(api)`` every ``interval_ms`` from t = 0, ``on_fill(api, fill)`` (:class:`Fill`),
``on_order(api, update)`` (:class:`OrderUpdate`: accepted, rejected with the venue's
:class:`~exchange.codes.RejectReason`, canceled, expired, cancel_rejected),
``on_liquidation(api, event)`` (:class:`LiquidationUpdate`: every liquidation-waterfall event
naming the account), ``on_funding(api, payment)`` (:class:`FundingUpdate`), ``on_stop(api)``
once at the end (reporting only: orders can no longer be sent).

The ``api`` (:class:`StrategyAPI`) reads the market and the account (``now``, ``mark``,
``index``, ``last``, ``best_bid``, ``best_ask``, ``depth(n)``, ``position``, ``balance``,
``open_orders``) and acts (``limit``, ``market``, ``cancel``, ``cancel_all``, and the
venue's conditional orders ``stop_market``, ``stop_limit``, ``take_profit_market``,
``take_profit_limit``, ``trailing_stop``: held by the venue, triggered by the mark or the last
price as the venue evaluates them, reported as ``on_order`` updates ``accepted`` →
``triggered`` (then the child order's fills) or ``canceled``).

**Time and latency.** Commands issued during a callback leave together when it returns, as one
:class:`~exchange.sim.gateway.OrderBatch` through the simulator's gateway, and reach the venue
``latency_ms`` later, interleaved with every other agent's orders exactly as theirs are. The
strategy learns what happened (its fills, order updates, liquidation events, funding) from the
venue's event records filtered by its account, each one latency after it happened: the
venue's answer to an order (accepted / rejected / immediate fills) arrives exactly one latency
after the order reached the venue, i.e. two latencies after it was sent; fills of resting
orders and liquidation events one latency after they happened, or at the strategy's next tick
if that is later (events due by then are delivered before ``on_tick``). Events still on their
way when the run ends are delivered before ``on_stop``. Queries (``position``, ``balance``,
``open_orders``, prices, the book) read the venue's state at ``now``, as a venue answers a
query.

**Rejections are data.** A venue refusal arrives in ``on_order`` with ``status="rejected"``
and its ``reason``; an off-grid price or quantity is refused the same way (reason
``INVALID_PRICE`` / ``INVALID_QTY``) before it is sent, as the venue API refuses it at its
edge. Malformed calls (unknown side, quantity <= 0, NaN, a non-boolean ``reduce_only``) raise
:class:`~exchange.errors.InvalidCommandError` naming the field, the rule and the value.

**Determinism.** Same scenario + seed + strategy (and parameters) → identical journal; use
``api.rng`` (a generator spawned from the run's seed for this population) for randomness.

Scenario table (agent type ``strategy``; keys other than ``type`` and ``class`` are the
strategy's parameters, checked against its class attributes)::

    [population.mine]
    type = "strategy"
    class = "mypkg.mod:MyStrategy"      # or "path/to/file.py:MyStrategy" (relative to the cwd)
    deposit = "10000"
    leverage = 20
    drop_bps = 80.0

From Python: :func:`run_strategy`; from the command line:
``perpsim run flash_crash --strategy path/to/file.py:MyStrategy --strategy-param drop_bps=80``.
"""
from __future__ import annotations

import difflib
import hashlib
import importlib
import importlib.util
import math
import sys
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Iterable, Mapping

import attrs
import numpy as np

from exchange import events as ev_mod
from exchange.codes import RejectReason
from exchange.errors import ConfigError, InvalidCommandError, invalid
from exchange.sim.clock import PRIO_AGENT, PRIO_ARRIVAL
from exchange.sim.config import MISSING, Param, choice, integer, number
from exchange.sim.gateway import (CANCEL, CANCEL_IF_OPEN, FOK, GTC, IOC, LIMIT, MARKET,
                                  POST_ONLY, SUBMIT, OrderBatch)

__all__ = ["Strategy", "StrategyAPI", "StrategyAgent", "Fill", "OrderUpdate",
           "LiquidationUpdate", "FundingUpdate", "OpenOrder", "Depth", "load_strategy_class",
           "strategy_overrides", "run_strategy"]

NS_PER_MS = 1_000_000
_SIDES = {"BUY": 0, "SELL": 1, "buy": 0, "sell": 1}
_SIDE_NAMES = ("BUY", "SELL")
_TIFS = {"GTC": GTC, "IOC": IOC, "FOK": FOK, "POST_ONLY": POST_ONLY, "GTX": POST_ONLY,
         "ALO": POST_ONLY}
_CANCEL_DETAIL = {0: ("canceled", "user"), 1: ("expired", "ioc"), 2: ("expired", "self_trade"),
                  3: ("canceled", "liquidation")}
_F_RESTING = 2
# record kinds (exchange._core, exchange.venue, exchange.liquidation.events)
_K_ACCEPTED, _K_REJECTED, _K_FILLED, _K_CANCELED, _K_TRANSFERRED = 1, 2, 3, 4, 13
_K_FUNDING_PAID = 90_010
_K_COND_ACCEPTED, _K_COND_TRIGGERED, _K_COND_CANCELED = 90_001, 90_002, 90_003
#: the strategy-side type code of a conditional order (held by the venue, not the book)
CONDITIONAL = -1
_WORKING_TYPES = ("CONTRACT_PRICE", "MARK_PRICE")
_K_AUCTION_TAKEN, _K_DELEVERAGED = 105, 111
_LIQ_LO, _LIQ_HI = 100, 200
#: submit commands sent per strategy callback before the API refuses more (a runaway loop)
MAX_COMMANDS_PER_CALLBACK = 10_000


# -- NOTICES ---------------------------------------------------------------------------------

@attrs.frozen
class Fill:
    """One fill of the strategy's account. ``order_id``: the id ``limit``/``market`` returned
    (None for a liquidation order the venue sent for the account: ``liquidation`` True).
    ``remaining``: open quantity of that order after this fill (None for liquidation orders).
    ``fee`` > 0 is paid; ``realized_pnl`` is the PnL this fill closed (before the fee)."""

    order_id: int | None
    venue_order_id: int
    ts_ns: int
    side: str
    price: Decimal
    qty: Decimal
    fee: Decimal
    realized_pnl: Decimal
    taker: bool
    liquidation: bool
    remaining: Decimal | None


@attrs.frozen
class OrderUpdate:
    """What happened to an order (or a cancel). ``status``: ``accepted`` (reached the venue and
    passed risk; fills follow in ``on_fill``), ``triggered`` (a conditional order fired: its
    market or limit child was sent, ``detail`` the trigger price; the child's fills carry the
    same ``order_id``), ``rejected`` (``reason``: the RejectReason),
    ``canceled`` (``detail`` ``user`` or ``liquidation``), ``expired`` (the unfilled rest of
    an IOC/market order, ``detail`` ``ioc``, or a self-trade, ``self_trade``),
    ``cancel_rejected`` (the cancel was refused: ``reason`` UNKNOWN_ORDER, the order was no
    longer open). ``qty``: the order's quantity (canceled/expired: the quantity taken off)."""

    order_id: int | None
    venue_order_id: int
    ts_ns: int
    status: str
    reason: RejectReason | None
    detail: str
    side: str | None
    price: Decimal | None
    qty: Decimal | None


@attrs.frozen
class LiquidationUpdate:
    """A liquidation-waterfall event naming the strategy's account (``name``:
    LiquidationTriggered, MarginCall, PositionLiquidated, AuctionStarted/Taken/Settled,
    BackstopTakeover, InsuranceFundUsed/Credited, LossSocialized, PositionDeleveraged,
    BadDebtBooked, LiquidationCompleted, PositionTransferred). ``event``: the journal's attrs
    event (integer units: ``*_ticks``, ``*_lots``, ``*_atoms``, see
    :mod:`exchange.liquidation.events`); ``price``/``qty`` its price and quantity in human
    units (qty signed where the event's is)."""

    name: str
    ts_ns: int
    price: Decimal | None
    qty: Decimal | None
    event: Any


@attrs.frozen
class FundingUpdate:
    """A funding payment: ``amount`` > 0 paid by the strategy, < 0 received; ``rate`` per
    settlement as a fraction; ``position`` the signed size it was charged on."""

    ts_ns: int
    amount: Decimal
    rate: Decimal
    position: Decimal


@attrs.frozen
class OpenOrder:
    """An order of the strategy not known to be finished: ``status`` ``pending`` (sent, not
    yet at the venue: ``venue_order_id`` 0) or ``open`` (resting in the book)."""

    order_id: int
    venue_order_id: int
    side: str
    type: str
    price: Decimal | None
    qty: Decimal
    open_qty: Decimal
    reduce_only: bool
    status: str


@attrs.frozen
class Depth:
    """The book's top levels, best first: ``bids`` and ``asks`` as ``(price, qty)`` tuples."""

    bids: tuple[tuple[Decimal, Decimal], ...]
    asks: tuple[tuple[Decimal, Decimal], ...]


# -- PARAMETERS ------------------------------------------------------------------------------

def _positive_amount(source, key, v) -> Decimal:
    rule = "an amount > 0 of the settlement asset (e.g. \"10000\")"
    if isinstance(v, bool) or not isinstance(v, (int, float, str, Decimal)):
        raise ConfigError.for_key(source, key, rule, v)
    try:
        d = Decimal(repr(v) if isinstance(v, float) else str(v))
    except InvalidOperation:
        raise ConfigError.for_key(source, key, rule, v) from None
    if not d.is_finite() or d <= 0:
        raise ConfigError.for_key(source, key, rule, v)
    return d


#: the parameters every strategy has (their defaults are Strategy's class attributes)
COMMON_PARAMS: dict[str, Param] = {
    "deposit": Param(_positive_amount, "10000", "deposit of the strategy's account"),
    "leverage": Param(integer(1), 10, "leverage setting (capped at the venue maximum)"),
    "margin_mode": Param(choice("cross", "isolated"), "cross", "margin mode of the position"),
    "interval_ms": Param(number(0.001), 1000.0, "on_tick cadence"),
    "latency_ms": Param(number(0.001), 20.0, "one-way latency (orders out, responses back)"),
}


def _by_default(source, key, default, v):
    """Convert ``v`` like the parameter's default: bool, int, float, Decimal, str, tuple."""
    if default is None:
        return v
    if isinstance(default, bool):
        if type(v) is not bool:
            raise ConfigError.for_key(source, key, "true or false", v)
        return v
    if isinstance(default, int):
        if type(v) is not int:
            raise ConfigError.for_key(source, key, "an integer", v)
        return v
    if isinstance(default, float):
        return number()(source, key, v)
    if isinstance(default, Decimal):
        try:
            d = Decimal(repr(v) if isinstance(v, float) else str(v))
        except InvalidOperation:
            d = Decimal("NaN")
        if isinstance(v, bool) or not d.is_finite():
            raise ConfigError.for_key(source, key, "a finite decimal number", v)
        return d
    if isinstance(default, str):
        if not isinstance(v, str):
            raise ConfigError.for_key(source, key, "a string", v)
        return v
    if isinstance(default, (tuple, list)):
        if not isinstance(v, (tuple, list)):
            raise ConfigError.for_key(source, key, "a list", v)
        return tuple(v)
    return v


# -- THE STRATEGY ----------------------------------------------------------------------------

class Strategy:
    """Base class of a strategy trading one account (see the module docs).

    Parameters are the public, non-callable class attributes (these five plus the subclass's
    own); ``Strategy(**params)`` overrides them per instance, converted like their defaults
    (an int stays an int, a float accepts numbers, a Decimal accepts decimal strings), or
    raises :class:`~exchange.errors.ConfigError` naming the key, the rule and the value.
    """

    deposit: Any = "10000"
    leverage: int = 10
    margin_mode: str = "cross"
    interval_ms: float = 1000.0
    latency_ms: float = 20.0

    def __init__(self, **params: Any) -> None:
        for k, v in type(self).validate_params(params).items():
            setattr(self, k, v)

    @classmethod
    def param_defaults(cls) -> dict[str, Any]:
        """Parameter name → default (class attributes, base class first). O(attributes)."""
        out: dict[str, Any] = {}
        for klass in reversed(cls.__mro__):
            if klass is object:
                continue
            for k, v in vars(klass).items():
                if k.startswith("_") or callable(v) \
                        or isinstance(v, (property, classmethod, staticmethod)):
                    continue
                out[k] = v
        return out

    @classmethod
    def validate_params(cls, params: Mapping[str, Any], source: str | None = None,
                        path: str = "") -> dict[str, Any]:
        """Every parameter with ``params`` applied over the defaults, converted; an unknown
        key or a bad value raises ConfigError (``source``/``path`` name the scenario file and
        table in the message)."""
        defaults = cls.param_defaults()
        for k in params:
            if k not in defaults:
                near = difflib.get_close_matches(str(k), list(defaults), n=1)
                hint = f" (did you mean {near[0]!r}?)" if near else ""
                raise ConfigError.for_key(source, f"{path}.{k}" if path else str(k),
                                          f"a parameter of {cls.__name__}{hint}; known: "
                                          + ", ".join(defaults), params[k])
        out = {}
        for k, d in defaults.items():
            key = f"{path}.{k}" if path else k
            v = params.get(k, d)
            if k in COMMON_PARAMS:
                out[k] = COMMON_PARAMS[k].conv(source, key, v)
            else:
                out[k] = _by_default(source, key, d, v)
        return out

    # -- CALLBACKS (override what you need) --
    def on_start(self, api: "StrategyAPI") -> None:
        """Once, at t = 0 before the first oracle tick (no mark price yet)."""

    def on_tick(self, api: "StrategyAPI") -> None:
        """Every ``interval_ms`` from t = 0 (after the oracle tick of the same instant)."""

    def on_fill(self, api: "StrategyAPI", fill: Fill) -> None:
        """A fill of the account (own orders, and the venue's liquidation orders)."""

    def on_order(self, api: "StrategyAPI", update: OrderUpdate) -> None:
        """An order was accepted, rejected, canceled or expired; a cancel was refused."""

    def on_liquidation(self, api: "StrategyAPI", event: LiquidationUpdate) -> None:
        """A liquidation-waterfall event concerning the account."""

    def on_funding(self, api: "StrategyAPI", payment: FundingUpdate) -> None:
        """A funding payment on the account's position."""

    def on_stop(self, api: "StrategyAPI") -> None:
        """Once, at the end of the run (the last events were delivered; orders cannot be
        sent any more)."""


# -- THE API ---------------------------------------------------------------------------------

@attrs.define(slots=True)
class _Order:
    order_id: int
    side: int
    qty_lots: int
    price_ticks: int
    otype: int
    reduce_only: bool
    batch: OrderBatch | None = None
    kind: str = ""                # conditional orders: the venue's type (STOP_MARKET, ...)
    row: int = 0
    venue_id: int = 0
    code: int = 0                 # the venue's answer to the submit (0 accepted)
    status: str = "pending"       # pending, accepted, filled, canceled, expired, rejected
    filled_lots: int = 0
    cancel_wanted: bool = False

    @property
    def done(self) -> bool:
        return self.status in ("filled", "canceled", "expired", "rejected")


class StrategyAPI:
    """What a strategy's callbacks receive: market and account queries, order commands.

    Prices and quantities are Decimals (None when there is none yet). Queries cost O(1) except
    ``depth(n)`` O(n) and ``open_orders`` O(own open orders); commands O(1) (sent when the
    callback returns).
    """

    def __init__(self, agent: "StrategyAgent", ctx, account: int, latency_ns: int,
                 rng: np.random.Generator) -> None:
        self._agent = agent
        self._ctx = ctx
        self._core = ctx.core
        self._ex = ctx.exchange
        self._instr = ctx.instr
        self._spec = ctx.spec
        self.account = int(account)
        self.symbol: str = ctx.symbol
        self.latency_ns = int(latency_ns)
        self.rng = rng
        self.tick_size: Decimal = self._spec.tick_size
        self.lot_size: Decimal = self._spec.lot_size
        self._orders: dict[int, _Order] = {}
        self._by_venue: dict[int, _Order] = {}
        self._unresolved: list[_Order] = []
        self._next_id = 1
        self._cmds: list[tuple] = []          # (kind, order or None, target venue id)
        self._reject_seq: dict[int, _Order] = {}  # venue record seq of a conditional refusal
        self._local: list[OrderUpdate] = []   # refusals decided before sending
        self._closed = False

    # -- QUERIES --
    @property
    def now(self) -> int:
        """Simulated time, integer ns."""
        return int(self._ctx.clock.now_ns)

    def _price(self, ticks) -> Decimal | None:
        ticks = int(ticks or 0)
        return self._spec.ticks_to_price(ticks) if ticks > 0 else None

    @property
    def mark(self) -> Decimal | None:
        return self._price(self._ctx.arrays()["mark"][self._instr])

    @property
    def index(self) -> Decimal | None:
        return self._price(self._ctx.arrays()["index"][self._instr])

    @property
    def last(self) -> Decimal | None:
        """Last trade price."""
        return self._price(self._ctx.arrays()["last"][self._instr])

    @property
    def funding_estimate(self) -> Decimal | None:
        """The venue's estimate of the coming funding settlement, as a fraction per 8 hours
        (positive: longs pay), as it publishes it (Binance's ``lastFundingRate``); None before
        the venue's oracle runs."""
        tl = self._ex.timelines[self._instr]
        if tl is None or not tl.started:
            return None
        return Decimal(tl.estimate_8h()).scaleb(-8)

    @property
    def stale(self) -> bool:
        """The oracle is stale (mark, liquidations and funding are frozen)."""
        return bool(self._ctx.market.stale)

    @property
    def best_bid(self) -> Decimal | None:
        return self._price(self._ctx.book().best_bid())

    @property
    def best_ask(self) -> Decimal | None:
        return self._price(self._ctx.book().best_ask())

    def depth(self, n: int = 5) -> Depth:
        """Top ``n`` levels of each side. O(n)."""
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise invalid("n", "an integer >= 1", n)
        book, spec = self._ctx.book(), self._spec
        side = [tuple((spec.ticks_to_price(p), spec.lots_to_qty(q)) for p, q in book.depth(s, int(n)))
                for s in (0, 1)]
        return Depth(bids=side[0], asks=side[1])

    @property
    def position(self):
        """The account's :class:`~exchange.venue.Position` (``size`` signed, ``entry_price``,
        ``unrealized_pnl``, ``leverage``, ...)."""
        return self._ex.position(self.account, self.symbol)

    @property
    def balance(self):
        """The account's :class:`~exchange.venue.Balance` (``wallet``, ``equity``,
        ``available``, ``maintenance_margin``, ``margin_ratio``)."""
        return self._ex.balance(self.account)

    @property
    def open_orders(self) -> list[OpenOrder]:
        """Orders sent and not finished: in flight (``pending``) or resting in the book now
        (``open``, with the book's open quantity), oldest first."""
        self._resolve()
        spec, core = self._spec, self._core
        out = []
        for o in self._orders.values():
            if o.done:
                continue
            if o.otype == CONDITIONAL:
                status = "open" if o.venue_id else "pending"
                out.append(OpenOrder(order_id=o.order_id, venue_order_id=o.venue_id,
                                     side=_SIDE_NAMES[o.side], type=o.kind,
                                     price=self._price(o.price_ticks), qty=spec.lots_to_qty(o.qty_lots),
                                     open_qty=spec.lots_to_qty(o.qty_lots), reduce_only=o.reduce_only,
                                     status=status))
                continue
            if o.venue_id:
                if o.code:
                    continue                # refused at the venue (the update may be on its way)
                info = core.order_info(o.venue_id)
                if not info[5] & _F_RESTING:
                    continue
                status, open_lots = "open", int(info[4])
            else:
                status, open_lots = "pending", o.qty_lots - o.filled_lots
            out.append(OpenOrder(order_id=o.order_id, venue_order_id=o.venue_id,
                                 side=_SIDE_NAMES[o.side], type="LIMIT" if o.otype == LIMIT else "MARKET",
                                 price=self._price(o.price_ticks), qty=spec.lots_to_qty(o.qty_lots),
                                 open_qty=spec.lots_to_qty(open_lots), reduce_only=o.reduce_only,
                                 status=status))
        return out

    def round_price(self, price, side: str | None = None) -> Decimal:
        """``price`` on the tick grid: down for a BUY, up for a SELL, nearest without a side."""
        p = _decimal(price, "price")
        q = p / self.tick_size
        if side is None:
            n = q.to_integral_value()
        else:
            n = q.to_integral_value(ROUND_FLOOR if self._side(side) == 0 else ROUND_CEILING)
        return n * self.tick_size

    def round_qty(self, qty) -> Decimal:
        """``qty`` rounded down to the lot grid (may be 0)."""
        q = _decimal(qty, "qty")
        return (q / self.lot_size).to_integral_value(ROUND_FLOOR) * self.lot_size

    # -- COMMANDS --
    def limit(self, side: str, qty, price, tif: str = "GTC", reduce_only: bool = False) -> int:
        """Send a limit order (``tif`` GTC, IOC, FOK or POST_ONLY/GTX/ALO); returns its id
        (the ``order_id`` of its fills and updates)."""
        s = self._side(side)
        if tif not in _TIFS:
            raise invalid("tif", "one of " + ", ".join(repr(t) for t in _TIFS), tif)
        return self._submit(s, qty, price, LIMIT, _TIFS[tif], reduce_only)

    def market(self, side: str, qty, reduce_only: bool = False) -> int:
        """Send a market order (IOC: the part the book cannot fill expires); returns its id."""
        return self._submit(self._side(side), qty, None, MARKET, IOC, reduce_only)

    def stop_market(self, side: str, qty, stop_price, *, working_type: str = "CONTRACT_PRICE",
                    reduce_only: bool = False, close_position: bool = False) -> int:
        """A stop-market order held by the venue: a SELL fires when the trigger price
        (``working_type``: ``CONTRACT_PRICE`` the last trade, or ``MARK_PRICE``) falls to
        ``stop_price`` or below, a BUY when it rises to it or above; it then sends a market
        order (``close_position``: for the whole position, ``qty`` ignored). Returns its id."""
        return self._conditional("STOP_MARKET", side, qty, None, stop_price, working_type,
                                 reduce_only, close_position)

    def stop_limit(self, side: str, qty, price, stop_price, *,
                   working_type: str = "CONTRACT_PRICE", reduce_only: bool = False) -> int:
        """As :meth:`stop_market`, sending a limit order at ``price`` when it fires."""
        return self._conditional("STOP", side, qty, price, stop_price, working_type,
                                 reduce_only, False)

    def take_profit_market(self, side: str, qty, stop_price, *,
                           working_type: str = "CONTRACT_PRICE", reduce_only: bool = False,
                           close_position: bool = False) -> int:
        """A take-profit market order: a SELL fires when the trigger price rises to
        ``stop_price`` or above, a BUY when it falls to it or below. Returns its id."""
        return self._conditional("TAKE_PROFIT_MARKET", side, qty, None, stop_price,
                                 working_type, reduce_only, close_position)

    def take_profit_limit(self, side: str, qty, price, stop_price, *,
                          working_type: str = "CONTRACT_PRICE", reduce_only: bool = False) -> int:
        """As :meth:`take_profit_market`, sending a limit order at ``price`` when it fires."""
        return self._conditional("TAKE_PROFIT", side, qty, price, stop_price, working_type,
                                 reduce_only, False)

    def trailing_stop(self, side: str, qty, callback_rate, *, activation_price=None,
                      working_type: str = "CONTRACT_PRICE", reduce_only: bool = False) -> int:
        """A trailing-stop market order (``callback_rate`` in percent, 0.1–10): a SELL trails
        the running high of the trigger price from ``activation_price`` (default: the price
        when it reaches the venue) and fires ``callback_rate`` % below it; a BUY trails the
        low. Returns its id."""
        return self._conditional("TRAILING_STOP_MARKET", side, qty, None, None, working_type,
                                 reduce_only, False, callback_rate=callback_rate,
                                 activation_price=activation_price)

    def _conditional(self, otype: str, side, qty, price, stop_price, working_type, reduce_only,
                     close_position, callback_rate=None, activation_price=None) -> int:
        from exchange.venue import Order

        self._check_open()
        s = self._side(side)
        if working_type not in _WORKING_TYPES:
            raise invalid("working_type", "'CONTRACT_PRICE' or 'MARK_PRICE'", working_type)
        for name, v in (("reduce_only", reduce_only), ("close_position", close_position)):
            if type(v) is not bool:
                raise invalid(name, "True or False", v)
        lots = 0
        if not close_position:
            q = _decimal(qty, "qty")
            if q <= 0:
                raise invalid("qty", "> 0", qty)
            lots_f = q / self._spec.lot_size
            lots = int(lots_f) if lots_f == lots_f.to_integral_value() else -1
        ticks = 0
        if price is not None:
            p = _decimal(price, "price")
            if p <= 0:
                raise invalid("price", "> 0", price)
            t = p / self._spec.tick_size
            ticks = int(t) if t == t.to_integral_value() else -1
        if stop_price is not None:
            sp = _decimal(stop_price, "stop_price")
            if sp <= 0:
                raise invalid("stop_price", "> 0", stop_price)
        if callback_rate is not None:
            _decimal(callback_rate, "callback_rate")
        if activation_price is not None and _decimal(activation_price, "activation_price") <= 0:
            raise invalid("activation_price", "> 0", activation_price)
        oid = self._next_id
        self._next_id += 1
        if lots < 0 or ticks < 0:
            reason = RejectReason.INVALID_QTY if lots < 0 else RejectReason.INVALID_PRICE
            self._local.append(OrderUpdate(order_id=oid, venue_order_id=0, ts_ns=self.now,
                                           status="rejected", reason=reason,
                                           detail="not on the instrument's grid",
                                           side=_SIDE_NAMES[s], price=None, qty=None))
            return oid
        order = Order(self.symbol, _SIDE_NAMES[s], None if close_position else qty, price,
                      type=otype, reduce_only=reduce_only, close_position=close_position,
                      stop_price=stop_price, working_type=working_type,
                      callback_rate=callback_rate, activation_price=activation_price)
        o = _Order(oid, s, lots, ticks, CONDITIONAL, reduce_only or close_position, kind=otype)
        self._orders[oid] = o
        self._cmds.append((CONDITIONAL, o, order))
        return oid

    def cancel(self, order_id: int) -> None:
        """Cancel an order by the id ``limit`` returned. An order still in flight is canceled
        as soon as the venue's response gives its venue id (one more latency); a cancel of an
        order that is no longer open comes back as ``cancel_rejected`` (UNKNOWN_ORDER)."""
        self._check_open()
        if isinstance(order_id, bool) or not isinstance(order_id, (int, np.integer)):
            raise invalid("order_id", "an order id returned by limit() or market()", order_id)
        o = self._orders.get(int(order_id))
        if o is None:
            self._local.append(OrderUpdate(order_id=int(order_id), venue_order_id=0, ts_ns=self.now,
                                           status="cancel_rejected",
                                           reason=RejectReason.UNKNOWN_ORDER,
                                           detail="not an order of this strategy", side=None,
                                           price=None, qty=None))
            return
        self._resolve()
        if o.otype == CONDITIONAL:
            if o.venue_id:
                self._cmds.append((CONDITIONAL, None, o.venue_id))
            else:
                o.cancel_wanted = True
        elif o.venue_id:
            self._cmds.append((CANCEL, None, o.venue_id))
        else:
            o.cancel_wanted = True          # in flight: canceled when its venue id is known

    def cancel_all(self) -> None:
        """Cancel every order of the strategy that is still open or in flight (orders that
        traded meanwhile are skipped silently)."""
        self._check_open()
        self._resolve()
        for o in self._orders.values():
            if o.done:
                continue
            if o.otype == CONDITIONAL:
                if o.venue_id:
                    self._cmds.append((CONDITIONAL, None, o.venue_id))
                else:
                    o.cancel_wanted = True
            elif o.venue_id:
                self._cmds.append((CANCEL_IF_OPEN, None, o.venue_id))
            elif o.batch is None or not o.batch.done:
                o.cancel_wanted = True

    # -- plumbing --
    @staticmethod
    def _side(side) -> int:
        if not isinstance(side, str) or side not in _SIDES:
            raise invalid("side", "'BUY' or 'SELL'", side)
        return _SIDES[side]

    def _check_open(self) -> None:
        if self._closed:
            raise InvalidCommandError("orders cannot be sent after the run ended (on_stop)")

    def _submit(self, side: int, qty, price, otype: int, tif: int, reduce_only) -> int:
        self._check_open()
        if type(reduce_only) is not bool:
            raise invalid("reduce_only", "True or False", reduce_only)
        q = _decimal(qty, "qty")
        if q <= 0:
            raise invalid("qty", "> 0", qty)
        p = None
        if otype == LIMIT:
            p = _decimal(price, "price")
            if p <= 0:
                raise invalid("price", "> 0", price)
        if len(self._cmds) >= MAX_COMMANDS_PER_CALLBACK:
            raise InvalidCommandError(f"'orders per callback' must be <= "
                                      f"{MAX_COMMANDS_PER_CALLBACK} (got more)")
        oid = self._next_id
        self._next_id += 1
        spec = self._spec
        lots_f = q / spec.lot_size
        ticks_f = p / spec.tick_size if p is not None else Decimal(0)
        reason = None
        if lots_f != lots_f.to_integral_value():
            reason = RejectReason.INVALID_QTY
        elif ticks_f != ticks_f.to_integral_value():
            reason = RejectReason.INVALID_PRICE
        if reason is not None:
            self._local.append(OrderUpdate(order_id=oid, venue_order_id=0, ts_ns=self.now,
                                           status="rejected", reason=reason,
                                           detail="not on the instrument's grid",
                                           side=_SIDE_NAMES[side], price=p, qty=q))
            return oid
        o = _Order(oid, side, int(lots_f), int(ticks_f), otype, reduce_only)
        self._orders[oid] = o
        self._cmds.append((SUBMIT, o, tif))
        return oid

    def _flush(self) -> None:
        """Send the commands of this callback as one batch (arrival = now + latency)."""
        cmds = self._cmds
        if not cmds:
            return
        self._cmds = []
        now = self.now
        arrive = now + self.latency_ns
        cond = [c for c in cmds if c[0] == CONDITIONAL]
        if cond:
            # conditional orders live in the venue's trigger book, not the matching engine:
            # they reach the venue's order API after the same latency
            cmds = [c for c in cmds if c[0] != CONDITIONAL]
            clock = self._ctx.clock
            for _, o, extra in cond:
                clock.schedule(arrive, PRIO_ARRIVAL, self._on_conditional_arrival, o, extra)
            self._agent._expect_response(arrive + self.latency_ns)
            if not cmds:
                return
        n = len(cmds)
        kind = np.empty(n, np.int64)
        side = np.zeros(n, np.int64)
        qty = np.zeros(n, np.int64)
        price = np.zeros(n, np.int64)
        otype = np.zeros(n, np.int64)
        tif = np.zeros(n, np.int64)
        ro = np.zeros(n, np.int64)
        target = np.zeros(n, np.int64)
        for i, (k, o, extra) in enumerate(cmds):
            kind[i] = k
            if k == SUBMIT:
                side[i], qty[i], price[i], otype[i] = o.side, o.qty_lots, o.price_ticks, o.otype
                tif[i], ro[i] = extra, int(o.reduce_only)
            else:
                target[i] = extra
        batch = OrderBatch(np.full(n, arrive, np.int64), self.account, kind=kind, side=side,
                           qty=qty, price=price, otype=otype, tif=tif, reduce_only=ro,
                           target=target)
        for i, (k, o, _) in enumerate(cmds):
            if k == SUBMIT:
                o.batch, o.row = batch, i
                self._unresolved.append(o)
        self._ctx.send(batch)
        self._agent._expect_response(arrive + self.latency_ns)

    def _on_conditional_arrival(self, ts: int, o: _Order | None, what) -> None:
        """A conditional order (``what``: the venue Order) or the cancel of one (``o`` None,
        ``what`` its venue id) reaches the venue."""
        ex = self._ex
        if o is None:
            ex.cancel(self.account, int(what))
            return
        seq0 = self._core.seq
        events = ex.submit(self.account, what)
        for e in events:
            if e.name == "ConditionalOrderAccepted":
                o.venue_id = int(e.order_id)
                self._by_venue[o.venue_id] = o
                if o.cancel_wanted:
                    o.cancel_wanted = False
                    ex.cancel(self.account, o.venue_id)
                return
        for e in events:
            if e.name == "OrderRejected" and e.seq > seq0:
                o.code = int(e.code)
                self._reject_seq[int(e.seq)] = o
                return

    def _resolve(self) -> None:
        """Learn the venue ids of orders whose batch was delivered; send wanted cancels."""
        if not self._unresolved:
            return
        keep = []
        for o in self._unresolved:
            b = o.batch
            if not b.done:
                keep.append(o)
                continue
            o.venue_id = int(b.oid[o.row])
            o.code = int(b.code[o.row])
            if o.venue_id:
                self._by_venue[o.venue_id] = o
            if o.cancel_wanted:
                o.cancel_wanted = False
                if o.code == 0:
                    self._cmds.append((CANCEL_IF_OPEN, None, o.venue_id))
        self._unresolved = keep

    def _cycle(self, fn, *args) -> None:
        """Run one callback, then the refusals it caused, then send what they ordered."""
        fn(*args)
        strategy = self._agent.strategy
        for _ in range(1000):
            if not self._local:
                break
            notes, self._local = self._local, []
            for note in notes:
                strategy.on_order(self, note)
        self._resolve()
        self._flush()

    def _dispatch(self, rows: np.ndarray) -> None:
        """Turn this account's records into callbacks, in stream order."""
        self._resolve()
        strategy = self._agent.strategy
        spec = self._spec
        me = self.account
        names = rows.dtype.names
        # a triggered conditional order's child is sent (and may fill) before the trigger
        # record: learn the child ids first so its fills belong to the order
        trig = rows["kind"] == _K_COND_TRIGGERED
        if trig.any():
            for cid, child in zip(rows["oid"][trig].tolist(), rows["a1"][trig].tolist()):
                o = self._by_venue.get(cid)
                if o is not None and child:
                    self._by_venue[child] = o
        for i, rec in enumerate(rows.tolist()):
            r = dict(zip(names, rec))
            kind, ts = r["kind"], r["ts"]
            if kind >= _K_COND_ACCEPTED and kind <= _K_COND_CANCELED and r["acct"] == me:
                o = self._by_venue.get(r["oid"])
                if o is None:
                    continue
                if kind == _K_COND_ACCEPTED:
                    o.status = "accepted"
                    strategy.on_order(self, self._update(o, r, "accepted", None, "conditional"))
                elif kind == _K_COND_TRIGGERED:
                    if r["qty"] == 0:
                        o.status = "expired"     # close_position with no position left
                    strategy.on_order(self, self._update(o, r, "triggered", None,
                                                         f"at {self._price(r['price'])}"))
                else:
                    o.status = "canceled"
                    strategy.on_order(self, self._update(o, r, "canceled", None, "user"))
                continue
            if kind == _K_REJECTED and r["seq"] in self._reject_seq:
                o = self._reject_seq.pop(r["seq"])
                o.status = "rejected"
                strategy.on_order(self, self._update(o, r, "rejected", _reason(r["code"]), ""))
                continue
            if kind == _K_FILLED and r["acct"] == me:
                o = self._by_venue.get(r["oid"])
                remaining = None
                if o is not None:
                    o.filled_lots += r["qty"]
                    left = max(0, o.qty_lots - o.filled_lots)
                    remaining = spec.lots_to_qty(left)
                    if left == 0 and not o.done:
                        o.status = "filled"
                strategy.on_fill(self, Fill(
                    order_id=o.order_id if o else None, venue_order_id=r["oid"], ts_ns=ts,
                    side=_SIDE_NAMES[r["side"]], price=spec.ticks_to_price(r["price"]),
                    qty=spec.lots_to_qty(r["qty"]), fee=self._money(r["a1"]),
                    realized_pnl=self._money(r["a2"]), taker=bool(r["flag"]),
                    liquidation=o is None, remaining=remaining))
            elif kind == _K_ACCEPTED and r["acct"] == me:
                o = self._by_venue.get(r["oid"])
                if o is None:
                    continue                    # the venue's liquidation order
                if o.status == "pending":
                    o.status = "accepted"
                strategy.on_order(self, self._update(o, r, "accepted", None, ""))
            elif kind == _K_REJECTED and r["acct"] == me:
                o = self._by_venue.get(r["oid"])
                reason = _reason(r["code"])
                if r["flag"] == 3:                 # a cancel was refused
                    strategy.on_order(self, OrderUpdate(
                        order_id=o.order_id if o else None, venue_order_id=r["oid"], ts_ns=ts,
                        status="cancel_rejected", reason=reason, detail="order not open",
                        side=None, price=None, qty=None))
                elif o is not None:
                    o.status = "rejected"
                    strategy.on_order(self, self._update(o, r, "rejected", reason, ""))
            elif kind == _K_CANCELED and r["acct"] == me:
                o = self._by_venue.get(r["oid"])
                if o is None:
                    continue
                status, detail = _CANCEL_DETAIL.get(r["code"], ("canceled", "venue"))
                o.status = status
                strategy.on_order(self, OrderUpdate(
                    order_id=o.order_id, venue_order_id=o.venue_id, ts_ns=ts, status=status,
                    reason=None, detail=detail, side=_SIDE_NAMES[o.side],
                    price=self._price(o.price_ticks), qty=spec.lots_to_qty(r["qty"])))
            elif kind == _K_FUNDING_PAID:
                strategy.on_funding(self, FundingUpdate(
                    ts_ns=ts, amount=self._money(r["a1"]),
                    rate=Decimal(r["a2"]).scaleb(-8), position=spec.lots_to_qty(r["qty"])))
            elif _LIQ_LO <= kind < _LIQ_HI or kind == _K_TRANSFERRED:
                ev = ev_mod.materialize(rows[i:i + 1])[0]
                strategy.on_liquidation(self, LiquidationUpdate(
                    name=ev.name, ts_ns=ts, price=self._price(r["price"]),
                    qty=spec.lots_to_qty(r["qty"]) if r["qty"] else None, event=ev))

    def _update(self, o: _Order, r: dict, status: str, reason, detail: str) -> OrderUpdate:
        spec = self._spec
        return OrderUpdate(order_id=o.order_id, venue_order_id=o.venue_id, ts_ns=r["ts"],
                           status=status, reason=reason, detail=detail, side=_SIDE_NAMES[o.side],
                           price=self._price(o.price_ticks), qty=spec.lots_to_qty(o.qty_lots))

    def _money(self, atoms: int) -> Decimal:
        return Decimal(int(atoms)).scaleb(-int(self._spec.settle_decimals))


def _reason(code: int) -> RejectReason | None:
    try:
        return RejectReason(int(code))
    except ValueError:
        return None


def _decimal(value, field: str) -> Decimal:
    if isinstance(value, bool) or value is None:
        raise invalid(field, "a decimal number", value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise invalid(field, "a finite number", value)
        value = repr(value)
    elif isinstance(value, np.floating):
        if not np.isfinite(value):
            raise invalid(field, "a finite number", value)
        value = repr(float(value))
    if isinstance(value, np.integer):
        value = int(value)
    try:
        d = Decimal(value) if isinstance(value, (str, int, Decimal)) else None
    except InvalidOperation:
        d = None
    if d is None:
        raise invalid(field, "a decimal number", value)
    if not d.is_finite():
        raise invalid(field, "a finite number", value)
    return d


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
    target, sep, attr = spec.strip().rpartition(":")
    if not sep:
        target, attr = spec.strip(), ""
    try:
        module = _import_target(target)
    except ConfigError:
        raise
    except Exception as exc:  # noqa: BLE001 - the user's module failed to import
        raise ConfigError(f"{source + ': ' if source else ''}{key!r} {spec!r} cannot be "
                          f"imported ({type(exc).__name__}: {exc})") from None
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


def _is_path(target: str) -> bool:
    return target.endswith(".py") or "/" in target or "\\" in target


def _import_target(target: str):
    if not _is_path(target):
        return importlib.import_module(target)
    path = Path(target).expanduser().resolve()
    if not path.is_file():
        raise ConfigError.for_key(None, "class", "a path to an existing Python file", target)
    name = "_perpsim_strategy_" + hashlib.sha1(str(path).encode()).hexdigest()[:12]
    module = sys.modules.get(name)
    if module is None:
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[name]
            raise
    return module


def strategy_overrides(spec, params: Mapping[str, Any] | Iterable[str] = (),
                       name: str = "strategy") -> dict[str, Any]:
    """Scenario overrides adding population ``name`` running the strategy ``spec`` (a class
    or a spec string; a relative file path is made absolute) with ``params`` (a mapping, or
    ``"key=value"`` strings read like TOML values)."""
    from exchange.sim.scenario import parse_value

    if isinstance(spec, str):
        target, sep, attr = spec.strip().rpartition(":")
        if not sep:
            target, attr = spec.strip(), ""
        if _is_path(target):
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
