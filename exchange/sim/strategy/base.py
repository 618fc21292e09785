"""The strategy API's base: the :class:`Strategy` class, its parameters, and the notices its
callbacks receive (:class:`Fill`, :class:`OrderUpdate`, ...). See :mod:`exchange.sim.strategy`."""
from __future__ import annotations

import difflib
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

import attrs

from exchange._enums import CancelReason as _CR
from exchange._enums import EventKind as _K
from exchange._enums import OrderFlag
from exchange.codes import RejectReason
from exchange.errors import ConfigError
from exchange.liquidation.events import LIQUIDATION_EVENT_KINDS
from exchange.sim.config import Param, choice, integer, number
from exchange.sim.gateway import FOK, GTC, IOC, POST_ONLY

if TYPE_CHECKING:
    from exchange.sim.strategy.api import StrategyAPI

__all__ = ["Strategy", "Fill", "OrderUpdate", "LiquidationUpdate", "FundingUpdate",
           "OpenOrder", "Depth", "NS_PER_MS", "CONDITIONAL", "MAX_COMMANDS_PER_CALLBACK"]

NS_PER_MS = 1_000_000
_SIDES = {"BUY": 0, "SELL": 1, "buy": 0, "sell": 1}
_SIDE_NAMES = ("BUY", "SELL")
_TIFS = {"GTC": GTC, "IOC": IOC, "FOK": FOK, "POST_ONLY": POST_ONLY, "GTX": POST_ONLY,
         "ALO": POST_ONLY}
_CANCEL_DETAIL = {int(_CR.CANCEL_USER): ("canceled", "user"), int(_CR.CANCEL_IOC): ("expired", "ioc"),
                  int(_CR.CANCEL_STP): ("expired", "self_trade"),
                  int(_CR.CANCEL_LIQUIDATION): ("canceled", "liquidation")}
_F_RESTING = int(OrderFlag.RESTING)
# record kinds (exchange.events.EventKind, as plain ints)
_K_ACCEPTED, _K_REJECTED = int(_K.ORDER_ACCEPTED), int(_K.ORDER_REJECTED)
_K_FILLED, _K_CANCELED, _K_TRANSFERRED = int(_K.ORDER_FILLED), int(_K.ORDER_CANCELED), int(_K.POSITION_TRANSFERRED)
_K_FUNDING_PAID = int(_K.FUNDING_PAID)
_K_COND_ACCEPTED = int(_K.CONDITIONAL_ORDER_ACCEPTED)
_K_COND_TRIGGERED = int(_K.CONDITIONAL_ORDER_TRIGGERED)
_K_COND_CANCELED = int(_K.CONDITIONAL_ORDER_CANCELED)
#: the strategy-side type code of a conditional order (held by the venue, not the book)
CONDITIONAL = -1
_WORKING_TYPES = ("CONTRACT_PRICE", "MARK_PRICE")
_K_AUCTION_TAKEN, _K_DELEVERAGED = int(_K.AUCTION_TAKEN), int(_K.POSITION_DELEVERAGED)
#: the liquidation waterfall's event kinds (what a strategy sees as liquidation notices)
_LIQ_KINDS = frozenset(LIQUIDATION_EVENT_KINDS)
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
    def on_start(self, api: StrategyAPI) -> None:
        """Once, at t = 0 before the first oracle tick (no mark price yet)."""

    def on_tick(self, api: StrategyAPI) -> None:
        """Every ``interval_ms`` from t = 0 (after the oracle tick of the same instant)."""

    def on_fill(self, api: StrategyAPI, fill: Fill) -> None:
        """A fill of the account (own orders, and the venue's liquidation orders)."""

    def on_order(self, api: StrategyAPI, update: OrderUpdate) -> None:
        """An order was accepted, rejected, canceled or expired; a cancel was refused."""

    def on_liquidation(self, api: StrategyAPI, event: LiquidationUpdate) -> None:
        """A liquidation-waterfall event concerning the account."""

    def on_funding(self, api: StrategyAPI, payment: FundingUpdate) -> None:
        """A funding payment on the account's position."""

    def on_stop(self, api: StrategyAPI) -> None:
        """Once, at the end of the run (the last events were delivered; orders cannot be
        sent any more)."""
