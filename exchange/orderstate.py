"""The order-state projection: one record per order (:class:`OrderState`), kept up to date
from the venue's events by :class:`Orders`. The mock Binance server, the strategy API and
anything else that needs "what is the state of order N" fold the stream through this module
instead of each rebuilding it.

What it is. The compiled core keeps only what matching needs of an order (account,
instrument, side, price, open quantity, flags); the history — original quantity, filled
quantity, cumulative quote, how it ended, its conditional parent — lives only in the event
stream. :class:`Orders` applies order events in stream order and keeps:

- ``open``: orders not finished (``NEW`` or ``PARTIALLY_FILLED``), by venue order id;
- ``closed``: the most recent finished ones, at most ``max_closed`` (oldest evicted first,
  so a long run stays in bounded memory; ``None`` keeps all, as a server's ``allOrders``
  may want).

Every transition sets :attr:`OrderState.exec_type` (Binance's execution type: ``NEW``,
``TRADE``, ``CANCELED``, ``EXPIRED``, ``AMENDMENT``, ``TRIGGERED``, ``REJECTED``), stamps
``ts_updated_ns``, is returned by the ``apply_*`` call and, when set, passed to the
``on_transition`` hook: a consumer reacts to a transition (the server pushes an
``ORDER_TRADE_UPDATE``) without re-deriving it. An event that changes no order (the cancel of
an order already finished, a fill of an order never seen) returns None and calls nothing.

Transitions (venue event -> status):

=============================  ===============================================================
``OrderAccepted``              a new state, ``NEW`` (a triggered conditional's child gets
                               ``parent_id``; see *conditional orders*)
``ConditionalOrderAccepted``   a new state, ``NEW``, ``conditional`` True (``stop_ticks`` the
                               trigger, ``price_ticks`` the limit, ``qty 0`` close-position)
``OrderFilled``                ``filled_lots``/``cum_quote`` grow; ``PARTIALLY_FILLED``, or
                               ``FILLED`` once ``filled_lots >= orig_lots``
``OrderCanceled``              ``EXPIRED`` for an IOC/market remainder, a self-trade
                               prevention, or any cancel of a liquidation order; else
                               ``CANCELED``
``ConditionalOrderCanceled``   ``CANCELED``
``ConditionalOrderTriggered``  ``TRIGGERED`` and ``child_id`` (``EXPIRED`` when it had nothing
                               to send: a close-position stop with no position)
``OrderAmended``               ``price_ticks``, ``orig_lots = filled + new open``; AMENDMENT
``OrderRejected`` (submit)     a closed state, ``REJECTED`` (``reason`` the RejectReason); the
                               rejected child of a triggered conditional gets ``parent_id``
=============================  ===============================================================

Conditional orders. The venue reports a trigger *after* the child order it sent (and the
child's fills): call :meth:`Orders.prelink_events` / :meth:`Orders.prelink_records` on a
batch before applying it, and the child's state carries ``parent_id`` from its first event
(its fills then belong to the parent from the start). The parent's state ends ``TRIGGERED``
(Binance's algo order); the child is an order of its own. A consumer that shows the pair as
one order (Binance's legacy ``/fapi/v1/order`` conditional) reads the child's progress
through ``orders.get(parent.child_id)``; :meth:`Orders.root_id` maps a child's id to its
parent's.

What the events do not carry — the client order id, Binance's self-trade mode, a conditional
order's reduce-only flag and activation price — the consumer sets on the state when
``apply_*`` returns it with ``exec_type == NEW`` (``client_id``, ``stp``, ``reduce_only``,
``activation_ticks``, and ``tag``, a free slot for the consumer's own object).

Costs: every ``apply_*`` is O(1) (dict lookups and one object for a new order); memory
O(open orders + max_closed).

How the mock Binance server adopts it (``exchange/server``; its ``_Order`` class and
``_on_accepted`` / ``_on_conditional_accepted`` / ``_on_fill`` / ``_on_canceled`` become a
thin layer over this). The server keeps one ``Orders(max_closed=None)`` (or a large bound)
for all accounts, calls ``prelink_events(events)`` then ``apply_event(e, ts_ns=now_ms *
1_000_000)`` for each event in ``_apply`` (the server stamps Binance times with its request
clock), binds the request's origin (client id, type name, stp, working type, algo flag) to the
state in ``on_transition`` when ``exec_type == NEW``, keeps its id maps (Binance ``orderId``
<-> venue id, ``(account, clientOrderId)``) in ``tag``/its own dicts, and pushes from the hook:

=========================  =====================================================================
Binance JSON               OrderState
=========================  =====================================================================
``orderId`` / ``i``        the server's own id (``tag``); ``order_id`` is the venue's
``clientOrderId`` / ``c``  ``client_id`` (set by the server; liquidation: ``autoclose-<id>``)
``symbol`` / ``s``         ``instrument`` -> symbol
``side`` / ``S``           ``side_name`` (``side`` 0 BUY, 1 SELL)
``type`` / ``o``           ``type_name`` (``LIMIT``, ``MARKET``, ``STOP_MARKET``, ...);
                           ``LIQUIDATION`` on the user stream when ``liquidation``
``origType`` / ``ot``      the parent's ``type_name`` for a child (``parent_id``),
                           ``LIQUIDATION`` when ``liquidation``, else ``type_name``
``timeInForce`` / ``f``    ``tif_name`` (``GTC``, ``IOC``, ``FOK``, ``GTX``)
``status`` / ``X``         ``status_name`` (``NEW`` ... ``EXPIRED``; ``TRIGGERED`` for an
                           algo order)
``x`` (execution type)     ``exec_name``
``price`` / ``p``          ``price_ticks`` (0 for market orders)
``stopPrice`` / ``sp``,    ``stop_ticks`` (the conditional's trigger; a child keeps its
``triggerPrice``           parent's: ``orders.get(parent_id).stop_ticks``)
``origQty`` / ``q``        ``orig_lots``
``executedQty``, ``cumQty``
/ ``z``                    ``filled_lots``
``cumQuote``               ``cum_quote`` (sum of fill ``price_ticks * qty_lots``) x tick x lot
``avgPrice`` / ``ap``      ``Decimal(cum_quote) / filled_lots`` x tick, quantized to tick /
                           100 as today (0 before a fill; ``avg_price_ticks`` is its float)
``l``, ``L``               ``last_fill_lots``, ``last_fill_ticks``
``n``, ``rp``, ``m``       ``last_fee_atoms``, ``last_realized_atoms``, ``not last_taker``
``reduceOnly`` / ``R``     ``reduce_only``
``closePosition`` / ``cp`` ``close_position``
``workingType`` / ``wt``   ``working_type_name`` (``MARK_PRICE`` when ``working_mark``)
``activatePrice``          ``activation_ticks`` (set by the server from the request)
``priceRate``,
``callbackRate``           ``callback_rate`` / 1e6 (percent; the event's rate is per 1e8)
``time``, ``createTime``   ``ts_created_ns`` // 1e6
``updateTime``             ``ts_updated_ns`` // 1e6
``triggerTime`` / ``tt``   ``ts_triggered_ns`` // 1e6
``actualOrderId`` / ``ai`` ``child_id`` (the server's id of that child)
=========================  =====================================================================

The server's rules then read: an ``OrderAccepted`` of a child (``parent_id`` set) of a legacy
conditional is not a new Binance order (push the parent with the child's progress); a cancel
of a finished or triggered order changes nothing (``apply_event`` returns None); the rejected
child of a triggered legacy conditional expires it (the child's state is ``REJECTED`` with
``parent_id``).
"""
from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from enum import IntEnum
from typing import Any

import numpy as np

from exchange._enums import CancelReason, EventKind, RejectedCommand

__all__ = ["OrderStatus", "ExecType", "OrderState", "Orders", "ORDER_TYPE_NAMES",
           "TIF_NAMES", "ORDER_KINDS", "NEW", "PARTIALLY_FILLED", "FILLED", "CANCELED",
           "EXPIRED", "REJECTED", "TRIGGERED", "cancel_status"]


class OrderStatus(IntEnum):
    """Where an order is in its life (Binance's ``X``; ``TRIGGERED``: a conditional fired)."""

    NEW = 0
    PARTIALLY_FILLED = 1
    FILLED = 2
    CANCELED = 3
    EXPIRED = 4
    REJECTED = 5
    TRIGGERED = 6


class ExecType(IntEnum):
    """What the latest transition was (Binance's execution type ``x``)."""

    NEW = 0
    TRADE = 1
    CANCELED = 2
    EXPIRED = 3
    AMENDMENT = 4
    TRIGGERED = 5
    REJECTED = 6


# plain ints for the per-event path
NEW, PARTIALLY_FILLED, FILLED, CANCELED, EXPIRED, REJECTED, TRIGGERED = (int(s) for s in OrderStatus)
_X_NEW, _X_TRADE, _X_CANCELED, _X_EXPIRED, _X_AMENDMENT, _X_TRIGGERED, _X_REJECTED = (
    int(x) for x in ExecType)
_STATUS_NAMES = tuple(s.name for s in OrderStatus)
_EXEC_NAMES = tuple(x.name for x in ExecType)

#: order type names by the venue's type code: OrderAccepted's ``order_type`` (0 limit, 1
#: market) and ConditionalOrderAccepted's (2 ... 6), one numbering
ORDER_TYPE_NAMES = ("LIMIT", "MARKET", "STOP_MARKET", "STOP", "TAKE_PROFIT_MARKET",
                    "TAKE_PROFIT", "TRAILING_STOP_MARKET")
#: time-in-force names by the venue's code (Binance's names; 3 is post-only)
TIF_NAMES = ("GTC", "IOC", "FOK", "GTX")
_POST_ONLY = 3

_K_ACCEPTED, _K_REJECTED = int(EventKind.ORDER_ACCEPTED), int(EventKind.ORDER_REJECTED)
_K_FILLED, _K_CANCELED = int(EventKind.ORDER_FILLED), int(EventKind.ORDER_CANCELED)
_K_AMENDED = int(EventKind.ORDER_AMENDED)
_K_C_ACCEPTED = int(EventKind.CONDITIONAL_ORDER_ACCEPTED)
_K_C_TRIGGERED = int(EventKind.CONDITIONAL_ORDER_TRIGGERED)
_K_C_CANCELED = int(EventKind.CONDITIONAL_ORDER_CANCELED)
#: the event kinds that move an order (the ones :class:`Orders` applies; others are ignored)
ORDER_KINDS = frozenset({_K_ACCEPTED, _K_REJECTED, _K_FILLED, _K_CANCELED, _K_AMENDED,
                         _K_C_ACCEPTED, _K_C_TRIGGERED, _K_C_CANCELED})
_EXPIRING = frozenset({int(CancelReason.CANCEL_IOC), int(CancelReason.CANCEL_STP)})
_SUBMIT = int(RejectedCommand.SUBMIT_ORDER)


def cancel_status(reason: int, liquidation: bool = False) -> OrderStatus:
    """The status an ``OrderCanceled`` with ``reason`` (a CancelReason) leaves: EXPIRED for
    an IOC/market remainder, a self-trade prevention, or a liquidation order; else CANCELED.

    >>> cancel_status(CancelReason.CANCEL_IOC).name, cancel_status(0).name
    ('EXPIRED', 'CANCELED')
    """
    return OrderStatus.EXPIRED if reason in _EXPIRING or liquidation else OrderStatus.CANCELED


class OrderState:
    """One order as the event stream tells it. Integer units: ``*_ticks``, ``*_lots``,
    ``*_atoms``; ``cum_quote`` in tick·lots (``sum price_ticks * qty_lots`` of the fills);
    times in ns of the venue clock (or the consumer's, see :meth:`Orders.apply_event`).
    Mutable, updated in place by :class:`Orders` only (consumers set the fields the events
    do not carry: ``client_id``, ``stp``, ``reduce_only`` of a conditional,
    ``activation_ticks``, ``tag``)."""

    #: every field, in this order (the ones after ``ts_updated_ns`` start at their class
    #: default: a new state sets only what its event carries, which keeps it cheap to make)
    FIELDS = ("order_id", "account", "instrument", "side", "order_type", "tif", "price_ticks",
              "orig_lots", "ts_created_ns", "ts_updated_ns", "stop_ticks", "filled_lots",
              "cum_quote", "status", "exec_type", "reduce_only", "close_position", "liquidation",
              "conditional", "working_mark", "callback_rate", "activation_ticks", "parent_id",
              "child_id", "reason", "ts_triggered_ns", "triggered_ticks", "last_fill_lots",
              "last_fill_ticks", "last_fee_atoms", "last_realized_atoms", "last_taker",
              "fee_atoms", "client_id", "stp", "tag")

    stop_ticks = 0                  # a conditional's trigger (trailing stop: 0 until it moves)
    filled_lots = 0
    cum_quote = 0                   # sum of price_ticks * qty_lots over the fills
    status = NEW                    # an OrderStatus
    exec_type = _X_NEW              # an ExecType: the latest transition
    reduce_only = False
    close_position = False
    liquidation = False             # a liquidation order the venue sent
    conditional = False             # held by the venue's trigger book (stop, TP, trailing)
    working_mark = False            # a conditional triggered by the mark (else the last price)
    callback_rate = 0               # a trailing stop's, per 1e8
    activation_ticks = 0
    parent_id = 0                   # a triggered conditional's child: the conditional's id
    child_id = 0                    # a triggered conditional: the order it sent
    reason = 0                      # CancelReason of a cancel, RejectReason of a rejection
    ts_triggered_ns = 0
    triggered_ticks = 0             # the price a conditional fired at
    last_fill_lots = 0
    last_fill_ticks = 0
    last_fee_atoms = 0
    last_realized_atoms = 0
    last_taker = False
    fee_atoms = 0                   # fees of all its fills
    client_id = ""
    stp = ""
    tag: Any = None

    def __init__(self, order_id: int, account: int, instrument: int, side: int,
                 order_type: int, tif: int, price_ticks: int, orig_lots: int,
                 ts_ns: int) -> None:
        self.order_id = order_id
        self.account = account
        self.instrument = instrument
        self.side = side
        self.order_type = order_type
        self.tif = tif
        self.price_ticks = price_ticks
        self.orig_lots = orig_lots
        self.ts_created_ns = self.ts_updated_ns = ts_ns

    # -- QUERIES --
    @property
    def is_open(self) -> bool:
        """NEW or PARTIALLY_FILLED. O(1)."""
        return self.status <= PARTIALLY_FILLED

    @property
    def open_lots(self) -> int:
        """What is left to fill (0 once finished). O(1)."""
        return max(0, self.orig_lots - self.filled_lots) if self.status <= PARTIALLY_FILLED else 0

    @property
    def avg_price_ticks(self) -> float:
        """Average fill price in ticks (0.0 before the first fill). O(1)."""
        return self.cum_quote / self.filled_lots if self.filled_lots else 0.0

    @property
    def post_only(self) -> bool:
        return self.tif == _POST_ONLY and not self.conditional

    @property
    def status_name(self) -> str:
        return _STATUS_NAMES[self.status]

    @property
    def exec_name(self) -> str:
        return _EXEC_NAMES[self.exec_type]

    @property
    def type_name(self) -> str:
        return ORDER_TYPE_NAMES[self.order_type]

    @property
    def tif_name(self) -> str:
        return TIF_NAMES[self.tif]

    @property
    def side_name(self) -> str:
        return "BUY" if self.side == 0 else "SELL"

    @property
    def working_type_name(self) -> str:
        return "MARK_PRICE" if self.working_mark else "CONTRACT_PRICE"

    def __repr__(self) -> str:
        return (f"OrderState(order_id={self.order_id}, account={self.account}, "
                f"{self.side_name} {self.type_name} {self.filled_lots}/{self.orig_lots} lots "
                f"@ {self.price_ticks}, {self.status_name}, last {self.exec_name})")


_FIELD_SET = frozenset(OrderState.FIELDS)


class Orders:
    """The orders of record: :class:`OrderState` by venue order id, updated by the venue's
    events (stream order). ``account``: track only that account's orders (None: all);
    ``max_closed``: finished orders kept for :meth:`get` (oldest dropped first; None: all);
    ``on_transition``: called with the state after every transition.

    >>> from exchange.dtypes import EVENT_DTYPE
    >>> rows = np.zeros(3, EVENT_DTYPE)
    >>> rows["kind"] = [EventKind.ORDER_ACCEPTED, EventKind.ORDER_FILLED, EventKind.ORDER_FILLED]
    >>> rows["oid"], rows["qty"], rows["price"] = 7, [5, 2, 3], [100, 100, 101]
    >>> seen = []
    >>> orders = Orders(on_transition=lambda s: seen.append((s.exec_name, s.status_name)))
    >>> len(orders.apply_records(rows)), seen
    (3, [('NEW', 'NEW'), ('TRADE', 'PARTIALLY_FILLED'), ('TRADE', 'FILLED')])
    >>> s = orders.get(7); s.filled_lots, s.cum_quote, s.avg_price_ticks, len(orders.open)
    (5, 503, 100.6, 0)
    """

    def __init__(self, account: int | None = None, *, max_closed: int | None = 10_000,
                 on_transition: Callable[[OrderState], None] | None = None) -> None:
        if max_closed is not None and (isinstance(max_closed, bool) or not isinstance(max_closed, int)
                                       or max_closed < 0):
            raise ValueError(f"'max_closed' must be an integer >= 0 or None (got {max_closed!r})")
        self.account = account
        self.max_closed = max_closed
        self.on_transition = on_transition
        #: venue order id -> state, orders not finished, oldest first
        self.open: dict[int, OrderState] = {}
        #: venue order id -> state, the latest finished orders, oldest first
        self.closed: OrderedDict[int, OrderState] = OrderedDict()
        self._parent_of: dict[int, int] = {}     # child id -> parent id, until the trigger

    # -- QUERIES --
    def get(self, order_id: int) -> OrderState | None:
        """The state of an order (open, or among the kept finished ones). O(1)."""
        s = self.open.get(order_id)
        return s if s is not None else self.closed.get(order_id)

    def root_id(self, order_id: int) -> int:
        """The parent's id of a triggered conditional's child, else ``order_id``. O(1)."""
        p = self._parent_of.get(order_id)
        if p is not None:
            return p
        s = self.get(order_id)
        return s.parent_id if s is not None and s.parent_id else order_id

    def open_orders(self, account: int | None = None,
                    instrument: int | None = None) -> list[OrderState]:
        """Open orders (of ``account``, on ``instrument``), oldest first. O(open orders)."""
        return [s for s in self.open.values()
                if (account is None or s.account == account)
                and (instrument is None or s.instrument == instrument)]

    def __len__(self) -> int:
        return len(self.open)

    def _check(self) -> None:
        """Assert the structural invariants (tests call it after each mutation)."""
        for oid, s in self.open.items():
            assert s.order_id == oid and s.status <= PARTIALLY_FILLED, s
            assert 0 <= s.filled_lots < s.orig_lots or s.orig_lots == 0, s
            assert oid not in self.closed, s
        for oid, s in self.closed.items():
            assert s.order_id == oid and s.status > PARTIALLY_FILLED, s
        if self.max_closed is not None:
            assert len(self.closed) <= self.max_closed
        for s in (*self.open.values(), *self.closed.values()):
            assert s.cum_quote >= 0 and s.filled_lots >= 0, s
            assert set(vars(s)) <= _FIELD_SET, set(vars(s)) - _FIELD_SET
            assert self.account is None or s.account == self.account, s

    # -- COMMANDS --
    def prelink(self, parent_id: int, child_id: int) -> None:
        """Declare ``child_id`` the order a triggered conditional ``parent_id`` sent, before
        the child's own events are applied. O(1)."""
        if child_id:
            self._parent_of[child_id] = parent_id
            s = self.get(child_id)
            if s is not None:
                s.parent_id = parent_id

    def prelink_events(self, events: Iterable) -> None:
        """:meth:`prelink` every ``ConditionalOrderTriggered`` of a batch of events."""
        for e in events:
            if e.KIND == _K_C_TRIGGERED and (self.account is None or e.account == self.account):
                self.prelink(e.order_id, e.child_order_id)

    def prelink_records(self, rows: np.ndarray) -> None:
        """:meth:`prelink` every ``ConditionalOrderTriggered`` of EVENT_DTYPE records."""
        trig = rows["kind"] == _K_C_TRIGGERED
        if not trig.any():                      # the common case: one vector compare
            return
        if self.account is not None:
            trig &= rows["acct"] == self.account
        for p, c in zip(rows["oid"][trig].tolist(), rows["a1"][trig].tolist(), strict=True):
            self.prelink(p, c)

    def apply_event(self, e, ts_ns: int | None = None) -> OrderState | None:
        """Apply one attrs event (:mod:`exchange.events`); ``ts_ns`` stamps the transition
        instead of the event's time. Returns the state it moved, or None. O(1)."""
        kind = e.KIND
        if kind not in ORDER_KINDS:
            return None
        if self.account is not None and e.account != self.account:
            return None
        ts = e.ts_ns if ts_ns is None else ts_ns
        if kind == _K_FILLED:
            return self.filled(ts, e.order_id, e.price_ticks, e.qty_lots, e.fee_atoms,
                               e.realized_pnl_atoms, e.taker)
        if kind == _K_ACCEPTED:
            return self.accepted(ts, e.account, e.order_id, e.instrument, e.side, e.price_ticks,
                                 e.qty_lots, e.order_type, e.tif, e.reduce_only, e.liquidation)
        if kind == _K_CANCELED:
            return self.canceled(ts, e.order_id, e.reason)
        if kind == _K_AMENDED:
            return self.amended(ts, e.order_id, e.price_ticks, e.qty_lots)
        if kind == _K_REJECTED:
            return self.rejected(ts, e.account, e.order_id, e.instrument, e.side, e.price_ticks,
                                 e.qty_lots, e.reason, e.command)
        if kind == _K_C_ACCEPTED:
            return self.conditional_accepted(ts, e.account, e.order_id, e.instrument, e.side,
                                             e.trigger_ticks, e.qty_lots, e.order_type,
                                             e.limit_ticks, e.callback_rate, e.working_type)
        if kind == _K_C_TRIGGERED:
            return self.conditional_triggered(ts, e.order_id, e.trigger_ticks, e.qty_lots,
                                              e.child_order_id)
        return self.canceled(ts, e.order_id, e.reason)          # ConditionalOrderCanceled

    def apply_row(self, r: Mapping[str, int], ts_ns: int | None = None) -> OrderState | None:
        """As :meth:`apply_event`, for one record as a mapping of EVENT_DTYPE columns
        (``kind``, ``ts``, ``acct``, ``oid``, ``price``, ``qty``, ``a1`` ...). O(1)."""
        kind = r["kind"]
        if kind not in ORDER_KINDS:
            return None
        if self.account is not None and r["acct"] != self.account:
            return None
        ts = r["ts"] if ts_ns is None else ts_ns
        if kind == _K_FILLED:
            return self.filled(ts, r["oid"], r["price"], r["qty"], r["a1"], r["a2"], r["flag"])
        if kind == _K_ACCEPTED:
            return self.accepted(ts, r["acct"], r["oid"], r["instr"], r["side"], r["price"],
                                 r["qty"], r["a1"], r["a2"], r["a3"], r["flag"])
        if kind == _K_CANCELED or kind == _K_C_CANCELED:
            return self.canceled(ts, r["oid"], r["code"])
        if kind == _K_AMENDED:
            return self.amended(ts, r["oid"], r["price"], r["qty"])
        if kind == _K_REJECTED:
            return self.rejected(ts, r["acct"], r["oid"], r["instr"], r["side"], r["price"],
                                 r["qty"], r["code"], r["flag"])
        if kind == _K_C_ACCEPTED:
            return self.conditional_accepted(ts, r["acct"], r["oid"], r["instr"], r["side"],
                                             r["price"], r["qty"], r["a1"], r["a2"], r["a3"],
                                             r["flag"])
        return self.conditional_triggered(ts, r["oid"], r["price"], r["qty"], r["a1"])

    def apply_records(self, rows: np.ndarray) -> list[OrderState]:
        """Prelink then apply a batch of EVENT_DTYPE records; the states moved, one per
        transition, in stream order. O(records)."""
        self.prelink_records(rows)
        names = rows.dtype.names
        out = []
        for rec in rows.tolist():
            s = self.apply_row(dict(zip(names, rec, strict=True)))
            if s is not None:
                out.append(s)
        return out

    # the transitions, one per event kind, in integer units (what apply_* call)
    def accepted(self, ts: int, account: int, order_id: int, instrument: int, side: int,
                 price_ticks: int, qty_lots: int, order_type: int, tif: int, reduce_only,
                 liquidation) -> OrderState | None:
        """OrderAccepted: a NEW state."""
        if order_id in self.open:
            return None
        s = OrderState(order_id, account, instrument, side, order_type, tif, price_ticks,
                       qty_lots, ts)
        if reduce_only:
            s.reduce_only = True
        if liquidation:
            s.liquidation = True
        if self._parent_of:
            s.parent_id = self._parent_of.get(order_id, 0)
        self.open[order_id] = s
        if self.on_transition is not None:
            self.on_transition(s)
        return s

    def conditional_accepted(self, ts: int, account: int, order_id: int, instrument: int,
                             side: int, trigger_ticks: int, qty_lots: int, order_type: int,
                             limit_ticks: int, callback_rate: int,
                             working_type: int) -> OrderState | None:
        """ConditionalOrderAccepted: a NEW conditional state (``qty_lots`` 0: close-position)."""
        if order_id in self.open:
            return None
        s = OrderState(order_id, account, instrument, side, order_type, 0, limit_ticks,
                       qty_lots, ts)
        s.conditional = True
        s.stop_ticks = trigger_ticks
        s.reduce_only = s.close_position = qty_lots == 0
        s.working_mark = bool(working_type)
        s.callback_rate = callback_rate
        self.open[order_id] = s
        return self._moved(s)

    def conditional_triggered(self, ts: int, order_id: int, price_ticks: int, qty_lots: int,
                              child_id: int) -> OrderState | None:
        """ConditionalOrderTriggered: TRIGGERED with ``child_id``, or EXPIRED when it sent
        nothing (``qty_lots`` 0)."""
        self._parent_of.pop(child_id, None)
        s = self.open.get(order_id)
        if s is None:
            return None
        s.child_id = child_id
        s.ts_triggered_ns = ts
        s.triggered_ticks = price_ticks
        child = self.get(child_id) if child_id else None
        if child is not None:
            child.parent_id = order_id
        if qty_lots == 0 or not child_id:
            s.status, s.exec_type = EXPIRED, _X_EXPIRED
        else:
            s.status, s.exec_type = TRIGGERED, _X_TRIGGERED
        return self._finish(s, ts)

    def filled(self, ts: int, order_id: int, price_ticks: int, qty_lots: int, fee_atoms: int = 0,
               realized_atoms: int = 0, taker=False) -> OrderState | None:
        """OrderFilled: PARTIALLY_FILLED, or FILLED once ``filled_lots >= orig_lots``."""
        s = self.open.get(order_id)
        if s is None:
            return None
        s.filled_lots += qty_lots
        s.cum_quote += price_ticks * qty_lots
        s.last_fill_lots = qty_lots
        s.last_fill_ticks = price_ticks
        s.last_fee_atoms = fee_atoms
        s.last_realized_atoms = realized_atoms
        s.last_taker = bool(taker)
        s.fee_atoms += fee_atoms
        s.exec_type = _X_TRADE
        if s.filled_lots >= s.orig_lots:
            s.status = FILLED
            return self._finish(s, ts)
        s.status = PARTIALLY_FILLED
        s.ts_updated_ns = ts
        return self._moved(s)

    def canceled(self, ts: int, order_id: int, reason: int) -> OrderState | None:
        """OrderCanceled / ConditionalOrderCanceled: EXPIRED or CANCELED (:func:`cancel_status`)."""
        s = self.open.get(order_id)
        if s is None:
            return None
        if reason:
            s.reason = reason
        if reason in _EXPIRING or s.liquidation:
            s.status, s.exec_type = EXPIRED, _X_EXPIRED
        else:
            s.status, s.exec_type = CANCELED, _X_CANCELED
        s.ts_updated_ns = ts
        del self.open[order_id]
        self._keep(s)
        if self.on_transition is not None:
            self.on_transition(s)
        return s

    def amended(self, ts: int, order_id: int, price_ticks: int, open_lots: int) -> OrderState | None:
        """OrderAmended: the new price, ``orig_lots = filled + open``."""
        s = self.open.get(order_id)
        if s is None:
            return None
        s.price_ticks = price_ticks
        s.orig_lots = s.filled_lots + open_lots
        s.exec_type = _X_AMENDMENT
        s.ts_updated_ns = ts
        return self._moved(s)

    def rejected(self, ts: int, account: int, order_id: int, instrument: int, side: int,
                 price_ticks: int, qty_lots: int, reason: int, command: int) -> OrderState | None:
        """OrderRejected of a submit that got a venue id: a closed REJECTED state. Other
        refusals (a cancel, an amend, a leverage change) move no order."""
        if command != _SUBMIT or order_id <= 0 or order_id in self.open \
                or order_id in self.closed:
            return None
        s = OrderState(order_id, account, instrument, side, 0, 0, price_ticks, qty_lots, ts)
        s.parent_id = self._parent_of.get(order_id, 0)
        s.status, s.exec_type, s.reason = REJECTED, _X_REJECTED, reason
        self._keep(s)
        return self._moved(s)

    # -- plumbing --
    def _moved(self, s: OrderState) -> OrderState:
        hook = self.on_transition
        if hook is not None:
            hook(s)
        return s

    def _finish(self, s: OrderState, ts: int) -> OrderState:
        s.ts_updated_ns = ts
        del self.open[s.order_id]
        self._keep(s)
        return self._moved(s)

    def _keep(self, s: OrderState) -> None:
        cap = self.max_closed
        if cap != 0:
            closed = self.closed
            closed[s.order_id] = s
            if cap is not None and len(closed) > cap:
                closed.popitem(last=False)
