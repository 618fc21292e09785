"""Every event of the stream, declared once: typed, frozen attrs classes over the core's records.

The compiled core and the layers above it (conditional orders, funding, the liquidation
waterfall) append fixed-size records (:data:`~exchange.dtypes.EVENT_DTYPE`) on the hot path; a
record's ``kind`` is an :class:`EventKind` (``exchange/_enums.pxd``, the one list of numbers).
This module declares one past-tense class per kind, each field naming the record column it
reads (``_col("acct")``), so ``import exchange.events`` alone gives every event class, and turns
records into events (:func:`materialize`) or into columnar tables, one per event type, for the
Parquet journal (:func:`tables`). The records are the single source of truth.

Units: prices in ticks, quantities in lots, money in atoms, rates in parts per 1e8
(:data:`exchange.units.RATE_SCALE`). ``side`` is 0 buy / long, 1 sell / short.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

import attrs
import numpy as np

from exchange._enums import (CancelReason, CommandKind, EventKind, LedgerKind, LedgerReason,
                             OrderFlag, OrderType, RejectedCommand)
from exchange.dtypes import EVENT_DTYPE

__all__ = [
    "Event", "EventKind", "OrderType", "CancelReason", "OrderFlag", "LedgerKind", "LedgerReason",
    "RejectedCommand", "CommandKind", "EVENT_CLASSES", "EVENT_KINDS", "EVENT_DTYPE",
    "materialize", "tables", "of_type", "kind_name", "event_class", "event_columns",
    "register_kind",
]

_RECORD_COLUMNS = frozenset(EVENT_DTYPE.names) - {"seq", "ts", "kind", "pad"}


def _col(column: str, doc: str = "") -> Any:
    """A field read from record column ``column`` (``doc``: what it carries, for the docs)."""
    if column not in _RECORD_COLUMNS:
        raise ValueError(f"'column' must be one of {sorted(_RECORD_COLUMNS)} (got {column!r})")
    return attrs.field(metadata={"column": column, "doc": doc})


@attrs.frozen
class Event:
    """Base of every event: ``seq`` (global order in the stream), ``ts_ns`` (venue clock)."""

    KIND: ClassVar[EventKind]
    seq: int
    ts_ns: int

    @property
    def name(self) -> str:
        return type(self).__name__


@attrs.frozen
class OrderAccepted(Event):
    """The venue accepted an order (``order_type`` 0 limit / 1 market, ``tif`` a TimeInForce,
    ``liquidation`` 1 for a liquidation order)."""

    KIND: ClassVar[EventKind] = EventKind.ORDER_ACCEPTED
    account: int = _col("acct")
    order_id: int = _col("oid")
    instrument: int = _col("instr")
    side: int = _col("side")
    price_ticks: int = _col("price")
    qty_lots: int = _col("qty")
    order_type: int = _col("a1")
    tif: int = _col("a2")
    reduce_only: int = _col("a3")
    liquidation: int = _col("flag")


@attrs.frozen
class OrderRejected(Event):
    """The venue refused a command: ``reason`` an :class:`~exchange.codes.RejectReason`,
    ``command`` which command (0 submit, 1 cancel, 2 amend, ...)."""

    KIND: ClassVar[EventKind] = EventKind.ORDER_REJECTED
    account: int = _col("acct")
    order_id: int = _col("oid")
    instrument: int = _col("instr")
    side: int = _col("side")
    price_ticks: int = _col("price")
    qty_lots: int = _col("qty")
    reason: int = _col("code")
    command: int = _col("flag")


@attrs.frozen
class OrderFilled(Event):
    """One side of a trade: ``taker`` 1 for the taker's record; fee and realised PnL in atoms."""

    KIND: ClassVar[EventKind] = EventKind.ORDER_FILLED
    account: int = _col("acct")
    order_id: int = _col("oid")
    instrument: int = _col("instr")
    side: int = _col("side")
    price_ticks: int = _col("price")
    qty_lots: int = _col("qty")
    fee_atoms: int = _col("a1")
    realized_pnl_atoms: int = _col("a2")
    counter_order_id: int = _col("a3")
    taker: int = _col("flag")


@attrs.frozen
class OrderCanceled(Event):
    """An order left the book unfilled: ``reason`` a CancelReason."""

    KIND: ClassVar[EventKind] = EventKind.ORDER_CANCELED
    account: int = _col("acct")
    order_id: int = _col("oid")
    instrument: int = _col("instr")
    side: int = _col("side")
    price_ticks: int = _col("price")
    qty_lots: int = _col("qty")
    reason: int = _col("code")
    liquidation: int = _col("flag")


@attrs.frozen
class OrderAmended(Event):
    """An order's quantity or price changed in place."""

    KIND: ClassVar[EventKind] = EventKind.ORDER_AMENDED
    account: int = _col("acct")
    order_id: int = _col("oid")
    instrument: int = _col("instr")
    side: int = _col("side")
    price_ticks: int = _col("price")
    qty_lots: int = _col("qty")
    previous_open_lots: int = _col("a1")


@attrs.frozen
class Deposited(Event):
    """Money entered an account's wallet."""

    KIND: ClassVar[EventKind] = EventKind.DEPOSITED
    account: int = _col("acct")
    amount_atoms: int = _col("a1")
    wallet_atoms: int = _col("a2")


@attrs.frozen
class Withdrawn(Event):
    """Money left an account's wallet."""

    KIND: ClassVar[EventKind] = EventKind.WITHDRAWN
    account: int = _col("acct")
    amount_atoms: int = _col("a1")
    wallet_atoms: int = _col("a2")


@attrs.frozen
class LeverageSet(Event):
    """An account's leverage on an instrument changed."""

    KIND: ClassVar[EventKind] = EventKind.LEVERAGE_SET
    account: int = _col("acct")
    instrument: int = _col("instr")
    leverage: int = _col("qty")
    previous: int = _col("a1")


@attrs.frozen
class MarginModeSet(Event):
    """An account switched an instrument between cross (0) and isolated (1) margin."""

    KIND: ClassVar[EventKind] = EventKind.MARGIN_MODE_SET
    account: int = _col("acct")
    instrument: int = _col("instr")
    isolated: int = _col("qty")


@attrs.frozen
class IsolatedMarginChanged(Event):
    """Margin moved into (+) or out of (-) an isolated bucket."""

    KIND: ClassVar[EventKind] = EventKind.ISOLATED_MARGIN_CHANGED
    account: int = _col("acct")
    instrument: int = _col("instr")
    delta_atoms: int = _col("a1")
    bucket_atoms: int = _col("a2")


@attrs.frozen
class MarkPriceUpdated(Event):
    """The oracle published a mark (and index) price."""

    KIND: ClassVar[EventKind] = EventKind.MARK_PRICE_UPDATED
    instrument: int = _col("instr")
    mark_ticks: int = _col("price")
    index_ticks: int = _col("a1")


@attrs.frozen
class TransferRejected(Event):
    """A deposit, withdrawal or margin transfer was refused: ``reason`` a RejectReason."""

    KIND: ClassVar[EventKind] = EventKind.TRANSFER_REJECTED
    account: int = _col("acct")
    instrument: int = _col("instr")
    reason: int = _col("code")
    amount_atoms: int = _col("a1")


@attrs.frozen
class PositionTransferred(Event):
    """A position moved between accounts at a price (ADL, backstop or fund takeover)."""

    KIND: ClassVar[EventKind] = EventKind.POSITION_TRANSFERRED
    from_account: int = _col("acct")
    to_account: int = _col("a1")
    instrument: int = _col("instr")
    price_ticks: int = _col("price")
    qty_lots: int = _col("qty")
    from_was_long: int = _col("side")
    from_realized_atoms: int = _col("a2")
    to_realized_atoms: int = _col("a3")
    reason: int = _col("code")


@attrs.frozen
class LedgerMoved(Event):
    """Money moved between ledger accounts (``from_kind`` / ``to_kind`` a LedgerKind; ``reason``
    the module code or LedgerReason)."""

    KIND: ClassVar[EventKind] = EventKind.LEDGER_MOVED
    from_account: int = _col("acct")
    to_account: int = _col("a2")
    from_kind: int = _col("price")
    to_kind: int = _col("qty")
    amount_atoms: int = _col("a1")
    instrument: int = _col("instr")
    reason: int = _col("code")


@attrs.frozen
class LiquidationTriggered(Event):
    """See :data:`exchange.liquidation.events.LIQUIDATION_TRIGGERED`."""

    KIND: ClassVar[EventKind] = EventKind.LIQUIDATION_TRIGGERED
    account: int = _col("acct", "account")
    instrument: int = _col("instr", "instrument")
    mark_ticks: int = _col("price", "mark (ticks)")
    size_lots: int = _col("qty", "signed size (lots)")
    equity_atoms: int = _col("a1", "equity (atoms)")
    maintenance_atoms: int = _col("a2", "maintenance margin (atoms)")
    bankruptcy_ticks: int = _col("a3", "bankruptcy price (ticks)")
    isolated: int = _col("flag", "1 isolated, 0 cross")


@attrs.frozen
class MarginCall(Event):
    """See :data:`exchange.liquidation.events.MARGIN_CALL`."""

    KIND: ClassVar[EventKind] = EventKind.MARGIN_CALL
    account: int = _col("acct", "account")
    instrument: int = _col("instr", "instrument")
    mark_ticks: int = _col("price", "mark (ticks)")
    size_lots: int = _col("qty", "signed size (lots)")
    equity_atoms: int = _col("a1", "equity (atoms)")
    maintenance_atoms: int = _col("a2", "maintenance margin (atoms)")
    threshold_pct: int = _col("a3", "threshold (percent)")
    isolated: int = _col("flag", "1 isolated, 0 cross")


@attrs.frozen
class PositionLiquidated(Event):
    """See :data:`exchange.liquidation.events.POSITION_LIQUIDATED`."""

    KIND: ClassVar[EventKind] = EventKind.POSITION_LIQUIDATED
    account: int = _col("acct", "account")
    instrument: int = _col("instr", "instrument")
    side: int = _col("side", "position side")
    price_ticks: int = _col("price", "average fill price (ticks)")
    qty_lots: int = _col("qty", "lots closed")
    notional_atoms: int = _col("a1", "notional (atoms)")
    fee_atoms: int = _col("a2", "liquidation fee (atoms)")
    open_lots: int = _col("a3", "lots still open")
    module: int = _col("code", "module")
    closed: int = _col("flag", "1 if now closed")


@attrs.frozen
class AuctionStarted(Event):
    """See :data:`exchange.liquidation.events.AUCTION_STARTED`."""

    KIND: ClassVar[EventKind] = EventKind.AUCTION_STARTED
    auction_id: int = _col("oid", "auction id")
    account: int = _col("acct", "account")
    instrument: int = _col("instr", "instrument")
    side: int = _col("side", "position side")
    top_ticks: int = _col("price", "top (ticks)")
    qty_lots: int = _col("qty", "lots")
    tab_atoms: int = _col("a1", "tab (atoms)")
    keeper_reward_atoms: int = _col("a2", "keeper reward (atoms)")
    keeper: int = _col("a3", "keeper account")


@attrs.frozen
class AuctionReset(Event):
    """See :data:`exchange.liquidation.events.AUCTION_RESET`."""

    KIND: ClassVar[EventKind] = EventKind.AUCTION_RESET
    auction_id: int = _col("oid", "auction id")
    account: int = _col("acct", "account")
    instrument: int = _col("instr", "instrument")
    side: int = _col("side", "position side")
    top_ticks: int = _col("price", "new top (ticks)")
    qty_lots: int = _col("qty", "lots left")
    tab_atoms: int = _col("a1", "tab (atoms)")
    keeper_reward_atoms: int = _col("a2", "keeper reward (atoms)")
    resets: int = _col("a3", "resets so far")


@attrs.frozen
class AuctionTaken(Event):
    """See :data:`exchange.liquidation.events.AUCTION_TAKEN`."""

    KIND: ClassVar[EventKind] = EventKind.AUCTION_TAKEN
    auction_id: int = _col("oid", "auction id")
    bidder: int = _col("acct", "bidder")
    instrument: int = _col("instr", "instrument")
    side: int = _col("side", "side received by the bidder")
    price_ticks: int = _col("price", "price (ticks)")
    qty_lots: int = _col("qty", "lots")
    account: int = _col("a1", "liquidated account")
    left_lots: int = _col("a2", "lots left")
    notional_atoms: int = _col("a3", "notional (atoms)")


@attrs.frozen
class AuctionSettled(Event):
    """See :data:`exchange.liquidation.events.AUCTION_SETTLED`."""

    KIND: ClassVar[EventKind] = EventKind.AUCTION_SETTLED
    auction_id: int = _col("oid", "auction id")
    account: int = _col("acct", "account")
    instrument: int = _col("instr", "instrument")
    side: int = _col("side", "position side")
    price_ticks: int = _col("price", "last price (ticks)")
    sold_lots: int = _col("qty", "lots sold")
    unsold_lots: int = _col("a1", "lots unsold")
    proceeds_atoms: int = _col("a2", "proceeds (atoms)")
    expired: int = _col("flag", "1 if expired")


@attrs.frozen
class BackstopTakeover(Event):
    """See :data:`exchange.liquidation.events.BACKSTOP_TAKEOVER`."""

    KIND: ClassVar[EventKind] = EventKind.BACKSTOP_TAKEOVER
    account: int = _col("acct", "account")
    instrument: int = _col("instr", "instrument")
    side: int = _col("side", "position side")
    price_ticks: int = _col("price", "takeover price (ticks)")
    qty_lots: int = _col("qty", "lots")
    vault: int = _col("a1", "vault account")
    equity_atoms: int = _col("a2", "equity at mark before (atoms)")
    margin_kept_atoms: int = _col("a3", "margin kept by the vault (atoms)")


@attrs.frozen
class InsuranceFundUsed(Event):
    """See :data:`exchange.liquidation.events.INSURANCE_FUND_USED`."""

    KIND: ClassVar[EventKind] = EventKind.INSURANCE_FUND_USED
    account: int = _col("acct", "account")
    instrument: int = _col("instr", "instrument")
    paid_atoms: int = _col("a1", "paid (atoms)")
    fund_after_atoms: int = _col("a2", "fund after (atoms)")
    deficit_left_atoms: int = _col("a3", "deficit left (atoms)")
    position_open: int = _col("flag", "1 if the position was open")
    takeover_price_ticks: int = _col("price", "takeover price (ticks)")
    taken_over_lots: int = _col("qty", "lots taken over")


@attrs.frozen
class InsuranceFundCredited(Event):
    """See :data:`exchange.liquidation.events.INSURANCE_FUND_CREDITED`."""

    KIND: ClassVar[EventKind] = EventKind.INSURANCE_FUND_CREDITED
    account: int = _col("acct", "account")
    instrument: int = _col("instr", "instrument")
    received_atoms: int = _col("a1", "received (atoms)")
    fund_after_atoms: int = _col("a2", "fund after (atoms)")


@attrs.frozen
class LossSocialized(Event):
    """See :data:`exchange.liquidation.events.LOSS_SOCIALIZED`."""

    KIND: ClassVar[EventKind] = EventKind.LOSS_SOCIALIZED
    payer: int = _col("acct", "payer")
    instrument: int = _col("instr", "instrument")
    size_lots: int = _col("qty", "payer's signed size")
    paid_atoms: int = _col("a1", "paid (atoms)")
    deficit_atoms: int = _col("a2", "deficit socialised (atoms)")
    haircut_rate: int = _col("a3", "haircut rate (1e-8)")
    policy: int = _col("code", "policy")


@attrs.frozen
class PositionDeleveraged(Event):
    """See :data:`exchange.liquidation.events.POSITION_DELEVERAGED`."""

    KIND: ClassVar[EventKind] = EventKind.POSITION_DELEVERAGED
    winner: int = _col("acct", "winner")
    instrument: int = _col("instr", "instrument")
    side: int = _col("side", "winner's side")
    price_ticks: int = _col("price", "price (ticks)")
    qty_lots: int = _col("qty", "lots")
    bankrupt: int = _col("a1", "bankrupt account")
    haircut_atoms: int = _col("a2", "haircut vs mark (atoms)")
    rank: int = _col("a3", "rank")
    policy: int = _col("code", "policy")


@attrs.frozen
class BadDebtBooked(Event):
    """See :data:`exchange.liquidation.events.BAD_DEBT_BOOKED`."""

    KIND: ClassVar[EventKind] = EventKind.BAD_DEBT_BOOKED
    account: int = _col("acct", "account")
    instrument: int = _col("instr", "instrument")
    booked_atoms: int = _col("a1", "booked (atoms)")
    bad_debt_after_atoms: int = _col("a2", "bad debt after (atoms)")
    position_open: int = _col("flag", "1 if the position was open")


@attrs.frozen
class LiquidationCompleted(Event):
    """See :data:`exchange.liquidation.events.LIQUIDATION_COMPLETED`."""

    KIND: ClassVar[EventKind] = EventKind.LIQUIDATION_COMPLETED
    account: int = _col("acct", "account")
    instrument: int = _col("instr", "instrument")
    open_lots: int = _col("qty", "lots still open")
    equity_atoms: int = _col("a1", "equity left (atoms)")
    compliant: int = _col("flag", "1 if compliant again")


@attrs.frozen
class KeeperRewarded(Event):
    """See :data:`exchange.liquidation.events.KEEPER_REWARDED`."""

    KIND: ClassVar[EventKind] = EventKind.KEEPER_REWARDED
    keeper: int = _col("acct", "keeper")
    instrument: int = _col("instr", "instrument")
    auction_id: int = _col("oid", "auction id")
    reward_atoms: int = _col("a1", "reward (atoms)")
    source_kind: int = _col("a2", "source ledger kind")


@attrs.frozen
class LiquidationsFrozen(Event):
    """See :data:`exchange.liquidation.events.LIQUIDATIONS_FROZEN`."""

    KIND: ClassVar[EventKind] = EventKind.LIQUIDATIONS_FROZEN
    mark_ticks: int = _col("price", "last mark (ticks)")
    pending: int = _col("a1", "pending cases")


@attrs.frozen
class LiquidationsResumed(Event):
    """See :data:`exchange.liquidation.events.LIQUIDATIONS_RESUMED`."""

    KIND: ClassVar[EventKind] = EventKind.LIQUIDATIONS_RESUMED
    account: int = _col("acct")
    order_id: int = _col("oid")
    instrument: int = _col("instr", "-1")
    side: int = _col("side")
    price_ticks: int = _col("price")
    qty_lots: int = _col("qty")
    a1: int = _col("a1")
    a2: int = _col("a2")
    a3: int = _col("a3")
    code: int = _col("code")
    flag: int = _col("flag")


@attrs.frozen
class AdlRoundSettled(Event):
    """See :data:`exchange.liquidation.events.ADL_ROUND_SETTLED`."""

    KIND: ClassVar[EventKind] = EventKind.ADL_ROUND_SETTLED
    account: int = _col("acct", "bankrupt account")
    instrument: int = _col("instr", "instrument")
    side: int = _col("side", "bankrupt side")
    price_ticks: int = _col("price", "ADL price (ticks)")
    qty_lots: int = _col("qty", "lots")
    shortfall_atoms: int = _col("a1", "shortfall (atoms)")
    haircut_atoms: int = _col("a2", "haircut (atoms)")
    max_leverage_rate: int = _col("a3", "max leverage left (1e-8)")
    segments: int = _col("flag", "segments")
    policy: int = _col("code", "policy")


@attrs.frozen
class ConditionalOrderAccepted(Event):
    """A stop / take-profit / trailing-stop order was accepted and waits for its trigger."""

    KIND: ClassVar[EventKind] = EventKind.CONDITIONAL_ORDER_ACCEPTED
    account: int = _col("acct")
    order_id: int = _col("oid")
    instrument: int = _col("instr")
    side: int = _col("side")
    trigger_ticks: int = _col("price")
    qty_lots: int = _col("qty")
    order_type: int = _col("a1")
    limit_ticks: int = _col("a2")
    callback_rate: int = _col("a3")
    working_type: int = _col("flag")


@attrs.frozen
class ConditionalOrderTriggered(Event):
    """A conditional order fired and sent ``child_order_id`` (or failed: ``reason``)."""

    KIND: ClassVar[EventKind] = EventKind.CONDITIONAL_ORDER_TRIGGERED
    account: int = _col("acct")
    order_id: int = _col("oid")
    instrument: int = _col("instr")
    side: int = _col("side")
    trigger_ticks: int = _col("price")
    qty_lots: int = _col("qty")
    child_order_id: int = _col("a1")
    reason: int = _col("code")


@attrs.frozen
class ConditionalOrderCanceled(Event):
    """A conditional order was canceled before it fired."""

    KIND: ClassVar[EventKind] = EventKind.CONDITIONAL_ORDER_CANCELED
    account: int = _col("acct")
    order_id: int = _col("oid")
    instrument: int = _col("instr")
    side: int = _col("side")
    trigger_ticks: int = _col("price")
    qty_lots: int = _col("qty")
    reason: int = _col("code")


@attrs.frozen
class FundingPaid(Event):
    """One position's funding payment (``payment_atoms`` > 0: paid by the account)."""

    KIND: ClassVar[EventKind] = EventKind.FUNDING_PAID
    account: int = _col("acct")
    instrument: int = _col("instr")
    size_lots: int = _col("qty")
    price_ticks: int = _col("price")
    payment_atoms: int = _col("a1")
    rate: int = _col("a2")
    isolated: int = _col("flag")


@attrs.frozen
class FundingSettled(Event):
    """A funding settlement of an instrument at ``rate`` (parts per 1e8)."""

    KIND: ClassVar[EventKind] = EventKind.FUNDING_SETTLED
    instrument: int = _col("instr")
    price_ticks: int = _col("price")
    rate: int = _col("a2")
    remainder_atoms: int = _col("a1")
    positions: int = _col("qty")



def event_columns(cls: type[Event]) -> dict[str, str]:
    """``field name -> record column`` of an event class, in declaration order."""
    return {f.name: f.metadata["column"] for f in attrs.fields(cls) if "column" in f.metadata}


#: kind number -> class, every kind of the stream (the classes declared above)
EVENT_CLASSES: dict[int, type[Event]] = {}
_CLASSES: dict[str, type[Event]] = {}
_FIELDS: dict[str, dict[str, str]] = {}


def _add(cls: type[Event]) -> None:
    EVENT_CLASSES[int(cls.KIND)] = cls
    _CLASSES[cls.__name__] = cls
    _FIELDS[cls.__name__] = event_columns(cls)


for _cls in list(globals().values()):
    if isinstance(_cls, type) and issubclass(_cls, Event) and _cls is not Event:
        _add(_cls)
del _cls
assert set(EVENT_CLASSES) == {int(k) for k in EventKind}, "every EventKind needs its class"

#: kind number -> class name
EVENT_KINDS: dict[int, str] = {k: c.__name__ for k, c in EVENT_CLASSES.items()}
#: the columns of a kind nobody declared (a journal written by a newer version)
_GENERIC = dict(account="acct", order_id="oid", instrument="instr", side="side",
                price_ticks="price", qty_lots="qty", a1="a1", a2="a2", a3="a3", code="code",
                flag="flag")


def register_kind(kind: int, name: str, fields: dict[str, str] | None = None) -> type[Event]:
    """Declare an event kind of an out-of-tree extension (``kind`` >= 1,000,000, not an
    :class:`EventKind`): a class ``name`` whose fields read ``fields`` (field -> record column).
    The kinds of perpsim itself are declared statically above. Idempotent."""
    if kind in EVENT_CLASSES:
        if EVENT_CLASSES[kind].__name__ != name:
            raise ValueError(f"event kind {kind} is already declared as "
                             f"{EVENT_CLASSES[kind].__name__!r}")
        return EVENT_CLASSES[kind]
    if kind < 1_000_000:
        raise ValueError(f"'kind' must be >= 1000000 for an extension's event (got {kind})")
    if name in _CLASSES:
        raise ValueError(f"event class name {name!r} is already taken")
    fields = dict(fields or _GENERIC)
    cls = attrs.make_class(name, {f: _col(c) for f, c in fields.items()}, bases=(Event,),
                           frozen=True)
    cls.KIND = kind
    cls.__module__ = __name__
    _add(cls)
    EVENT_KINDS[kind] = name
    return cls


def kind_name(kind: int) -> str:
    """The class name of an event kind (``Kind<n>`` for a kind nobody declared)."""
    cls = EVENT_CLASSES.get(kind)
    return cls.__name__ if cls is not None else f"Kind{kind}"


def event_class(name: str) -> type[Event]:
    return _CLASSES[name]


# per kind: (class, indices of its fields' columns in a record tuple), built on first use
_NAMES = EVENT_DTYPE.names
_I_SEQ, _I_TS, _I_KIND = _NAMES.index("seq"), _NAMES.index("ts"), _NAMES.index("kind")
_PLANS: dict[int, tuple[type, tuple[str, ...], tuple[int, ...]]] = {}


def _plan(kind: int) -> tuple[type, tuple[str, ...], tuple[int, ...]]:
    cls = EVENT_CLASSES.get(kind)
    if cls is None:
        cls = attrs.make_class(f"Kind{kind}", {f: _col(c) for f, c in _GENERIC.items()},
                               bases=(Event,), frozen=True)
        cls.KIND = kind
        fields = _GENERIC
    else:
        fields = _FIELDS[cls.__name__]
    plan = (cls, tuple(fields), tuple(_NAMES.index(c) for c in fields.values()))
    _PLANS[kind] = plan
    return plan


#: the last array materialized and its events: a venue hands the same drained chunk to its
#: record hooks (the server's orders of record) and to its own return value, and events are
#: frozen, so the second call shares the first's objects. Holds a reference, so ``is`` is exact.
_LAST: list = [None, ()]


def materialize(records: np.ndarray) -> list[Event]:
    """Turn EVENT_DTYPE records into events, in stream order. O(n) Python objects (O(n) list
    copy when ``records`` is the array materialized last)."""
    if records is _LAST[0]:
        return list(_LAST[1])
    out = []
    plans = _PLANS
    for rec in records.tolist():  # tuple per record, fields in EVENT_DTYPE order
        kind = rec[_I_KIND]
        cls, names, idx = plans.get(kind) or _plan(kind)
        out.append(cls(rec[_I_SEQ], rec[_I_TS], **{n: rec[i] for n, i in zip(names, idx)}))
    _LAST[0], _LAST[1] = records, tuple(out)
    return out


def tables(records: np.ndarray) -> dict[str, dict[str, np.ndarray]]:
    """Columnar view: event name -> {column: array}, one table per event type (for Parquet)."""
    out: dict[str, dict[str, np.ndarray]] = {}
    kinds = records["kind"]
    for kind in np.unique(kinds).tolist():
        sel = records[kinds == kind]
        cls = EVENT_CLASSES.get(kind)
        name = cls.__name__ if cls is not None else f"Kind{kind}"
        fields = _FIELDS.get(name, _GENERIC)
        cols = {"seq": sel["seq"], "ts_ns": sel["ts"]}
        cols.update({f: sel[c] for f, c in fields.items()})
        out[name] = cols
    return out


def of_type(events: Iterable[Event], *names: str) -> list[Event]:
    return [e for e in events if type(e).__name__ in names]
