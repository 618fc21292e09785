"""Pure-Python reference order book: the test oracle of the compiled book.

:class:`RefBook` implements exactly the contract written down in ``matching/_book.pyi``
(the compiled :class:`matching._book.Book`), with the plainest data structures that do the
job: each side is a ``SortedDict`` of price -> level, iterated best price first, and each
level is an ``OrderedDict`` of order id -> order in arrival (FIFO) order. It is written to be
read and trusted, not to be fast. The differential tests
(``tests/matching/test_differential.py``) drive this book and the compiled one with the same
commands and require identical return codes, ``last_*`` attributes, fills, deltas, expiries,
rejects and book state; when they disagree, this module is the side that is easiest to
check against the contract by eye.

Details the stub leaves open, resolved here (the compiled book matches them):

- Argument checks run in signature order, each argument completely (type, int64 range,
  rule) before the next, and raise InvalidOrderError naming the field and the value. Every
  integer argument must be an ``int`` or a numpy integer, never a ``bool`` or a float:
  ``'oid' must be an integer (got 1.5)``,
  ``'price' must be a 64-bit signed integer (got 9223372036854775808)``; then the rules:
  ``'side' must be 0 (BUY) or 1 (SELL) (got 2)``, ``'price' > 0``, ``'qty' > 0``,
  ``'tif'`` and ``'stp'`` in 0..3, ``'protect_price' >= 0``, amend's ``'price' >= 0``,
  depth's ``'n' >= 0``, impact_price's ``'notional' > 0``, ``'max_levels' >= 1``. A command
  that raises changes nothing, ``last_*`` included. A cancel, amend, order() or
  queue_position() of an id that is not resting raises UnknownOrderError after the
  argument checks.
- A command's result codes are checked in this order: ``DUPLICATE_ORDER_ID`` (limit and
  market: the id is resting), ``PRICE_OUT_OF_RANGE`` (limit and amend re-entry only),
  ``LEVEL_QTY_OVERFLOW`` (limit and amend re-entry: the order's quantity plus what already
  rests at its price on its side — without the amended order itself — would pass
  2**63 - 1 lots, so no level total, and no int64 sum of one, ever wraps; checked whatever
  the tif, like the price window), then ``POST_ONLY_WOULD_CROSS`` / ``FOK_NOT_FILLABLE``. Any non-zero code sets ``last_filled``,
  ``last_rested`` and ``last_expire`` to 0 and changes nothing else.
- A market order whose id is resting is rejected with ``DUPLICATE_ORDER_ID`` (in a batch
  too): two live orders never share an id, so a fill never names the same id twice.
- ``max_levels``: a limit price ``p`` is out of range when ``max(hi, p) - min(lo, p) >=
  max_levels``, ``lo``/``hi`` the lowest/highest resting price of the side the order would
  rest on (an empty side accepts any price). It is checked for every limit order, whatever
  its tif and whether or not it would rest. An amend re-entry is checked as if the amended
  order had already been removed; a rejected amend leaves the book unchanged.
- Post-only crossing ignores STP: a buy at or above the best ask (a sell at or below the
  best bid) is rejected even when that liquidity belongs to the same owner.
- Deltas: one for every level the command touched, carrying the level's total when the
  command is done, even if that total did not change. "Touched": the level a cancel or an
  amend removes from or reduces in place (an amend to the same quantity included), every
  level a taker reaches within its limit (including one where self-trade prevention stops
  it at the first maker), and the level an order rests on. A level touched twice (an amend
  re-entered at the same price) gets one delta. Deltas come out in the order the command
  first touched each level: for an amend that changes price, the level it left, then the
  levels it traded against, then the level it rests on.
- ``fill_count`` is the number of fills waiting in the buffer (reset by ``drain_fills``).
- ``process`` returns the fills of that batch and does not leave them in the fill buffer
  (fills buffered earlier by per-order calls stay there); its deltas go to the delta
  buffer, its rejects to the reject buffer (kept across batches until drained). Each
  message updates ``last_*`` exactly as the equivalent per-order call would (CANCEL leaves
  them alone), so after a batch they describe its last ADD or MARKET.
- ``clear()`` returns the book to its freshly built state: no orders, empty buffers,
  ``last_*`` = 0; it emits no deltas. ``track_deltas`` and ``max_levels`` are kept.
- ``impact_price`` consumes whole levels best first and a fraction of the last lot as
  needed; it ignores owners (no STP). Notional exactly equal to the available notional is
  not "too thin".
- ``level_qty`` of a price with no level (any int64, including <= 0) is 0.
  ``x in book`` is False for anything that is not an integer.
"""  # noqa: E501
from __future__ import annotations

import operator
from collections import OrderedDict
from collections.abc import Iterator
from itertools import islice

import numpy as np
from sortedcontainers import SortedDict

from matching.codes import (
    BUY,
    EXPIRE_IOC,
    EXPIRE_NONE,
    EXPIRE_STP,
    FOK,
    MSG_ADD,
    MSG_CANCEL,
    MSG_MARKET,
    GTC,
    POST_ONLY,
    SELL,
    STP_EXPIRE_BOTH,
    STP_EXPIRE_MAKER,
    STP_EXPIRE_TAKER,
    STP_NONE,
    MatchCode,
)
from matching.dtypes import DELTA_DTYPE, EXPIRED_DTYPE, FILL_DTYPE, MSG_DTYPE, REJECT_DTYPE
from matching.errors import BookInvariantError, InvalidBatchError, UnknownOrderError, invalid

__all__ = [
    "DELTA_DTYPE",
    "EXPIRED_DTYPE",
    "FILL_DTYPE",
    "MSG_ADD",
    "MSG_CANCEL",
    "MSG_DTYPE",
    "MSG_MARKET",
    "REJECT_DTYPE",
    "RefBook",
]

DEFAULT_DENSE_IDS = 1 << 24  # the compiled book's default (ids below it use a direct array)
DEFAULT_MAX_LEVELS = 1 << 21
INT64_MIN = -(1 << 63)
INT64_MAX = (1 << 63) - 1

# Result codes as plain ints, as the compiled book returns them.
_OK = int(MatchCode.OK)
_POST_ONLY_WOULD_CROSS = int(MatchCode.POST_ONLY_WOULD_CROSS)
_FOK_NOT_FILLABLE = int(MatchCode.FOK_NOT_FILLABLE)
_DUPLICATE_ORDER_ID = int(MatchCode.DUPLICATE_ORDER_ID)
_UNKNOWN_ORDER_ID = int(MatchCode.UNKNOWN_ORDER_ID)
_PRICE_OUT_OF_RANGE = int(MatchCode.PRICE_OUT_OF_RANGE)
_LEVEL_QTY_OVERFLOW = int(MatchCode.LEVEL_QTY_OVERFLOW)


# -- argument checks (the Python boundary) --------------------------------------------------

def _checked_int(field: str, value: object) -> int:
    """``value`` as a Python int; InvalidOrderError unless it is an integer within int64."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise invalid(field, "an integer", value)
    value = int(value)
    if not INT64_MIN <= value <= INT64_MAX:
        raise invalid(field, "a 64-bit signed integer", value)
    return value


def _checked_side(value: object) -> int:
    side = _checked_int("side", value)
    if side not in (BUY, SELL):
        raise invalid("side", "0 (BUY) or 1 (SELL)", side)
    return side


def _checked_positive(field: str, value: object) -> int:
    number = _checked_int(field, value)
    if number <= 0:
        raise invalid(field, "> 0", number)
    return number


def _checked_non_negative(field: str, value: object, rule: str = ">= 0") -> int:
    number = _checked_int(field, value)
    if number < 0:
        raise invalid(field, rule, number)
    return number


def _checked_tif(value: object) -> int:
    tif = _checked_int("tif", value)
    if not GTC <= tif <= POST_ONLY:
        raise invalid("tif", "one of 0 (GTC), 1 (IOC), 2 (FOK), 3 (POST_ONLY)", tif)
    return tif


def _checked_stp(value: object) -> int:
    stp = _checked_int("stp", value)
    if not STP_NONE <= stp <= STP_EXPIRE_BOTH:
        raise invalid("stp", "one of 0..3 (NONE, EXPIRE_TAKER, EXPIRE_MAKER, EXPIRE_BOTH)", stp)
    return stp


def _reaches(side: int, limit: int, price: int) -> bool:
    """True if a taker of ``side`` limited to ``limit`` may trade at the maker ``price``."""
    return price <= limit if side == BUY else price >= limit


def _require(condition: object, message: str) -> None:
    if not condition:
        raise BookInvariantError(message)


# -- book ------------------------------------------------------------------------------------

class _Order:
    """A resting order. ``seq`` is its arrival number: FIFO order within a level."""

    __slots__ = ("oid", "side", "price", "qty", "owner", "stp", "tif", "seq")

    def __init__(self, oid: int, side: int, price: int, qty: int, owner: int, stp: int,
                 tif: int, seq: int) -> None:
        self.oid = oid
        self.side = side
        self.price = price
        self.qty = qty
        self.owner = owner
        self.stp = stp
        self.tif = tif
        self.seq = seq


class _Level:
    """All orders resting at one price on one side, oldest first, and their total qty."""

    __slots__ = ("price", "orders", "total")

    def __init__(self, price: int) -> None:
        self.price = price
        self.orders: OrderedDict[int, _Order] = OrderedDict()
        self.total = 0


class RefBook:
    """Price-time priority limit order book; the readable twin of :class:`matching._book.Book`.

    See ``matching/_book.pyi`` for the contract and this module's docstring for the details
    it leaves open.

    >>> book = RefBook(track_deltas=True)
    >>> book.limit(1, SELL, 101, 5)
    0
    >>> book.limit(2, BUY, 101, 3)
    0
    >>> (book.last_filled, book.last_rested, book.best_ask(), book.level_qty(SELL, 101))
    (3, 0, 101, 2)
    >>> book.drain_fills()[["maker_oid", "price", "qty", "maker_done"]].tolist()
    [(1, 101, 3, 0)]
    >>> book.drain_deltas().tolist()  # (price, new level total, side): one per command
    [(101, 5, 1), (101, 2, 1)]
    """

    def __init__(self, track_deltas: bool = False, max_levels: int = DEFAULT_MAX_LEVELS,
                 dense_ids: int = DEFAULT_DENSE_IDS) -> None:
        """``dense_ids`` tunes the compiled book's id index (see ``_book.pyi``); it changes no
        behaviour, so the reference only checks and keeps it. Runtime complexity: O(1)."""
        max_levels = _checked_int("max_levels", max_levels)
        if max_levels < 1:
            raise invalid("max_levels", ">= 1", max_levels)
        dense_ids = _checked_int("dense_ids", dense_ids)
        if not 0 <= dense_ids <= 1 << 31:
            raise invalid("dense_ids", "0 <= dense_ids <= 2**31", dense_ids)
        self.dense_ids = dense_ids
        self.track_deltas = bool(track_deltas)
        self._max_levels = max_levels
        self._reset()

    def _reset(self) -> None:
        # Both sides iterate best price first: bids keyed by -price, asks by price.
        self._sides: tuple[SortedDict, SortedDict] = (SortedDict(operator.neg), SortedDict())
        self._orders: dict[int, _Order] = {}
        self._next_seq = 0
        self._fills: list[tuple] = []
        self._deltas: list[tuple] = []
        self._expired: list[tuple] = []
        self._rejects: list[tuple] = []
        # levels the running command touched, as (side, price), in first-touch order
        self._touched: dict[tuple[int, int], None] = {}
        self.last_filled = 0
        self.last_rested = 0
        self.last_expire = EXPIRE_NONE

    @property
    def max_levels(self) -> int:
        """Widest span of ticks allowed between the lowest and highest price of a side."""
        return self._max_levels

    def __repr__(self) -> str:
        return (f"RefBook(orders={len(self._orders)}, best_bid={self.best_bid()}, "
                f"best_ask={self.best_ask()})")

    # -- COMMANDS --

    def limit(self, oid: int, side: int, price: int, qty: int, tif: int = GTC, owner: int = 0,
              stp: int = STP_NONE) -> int:
        """Limit order; returns a MatchCode as an int.

        Runtime complexity: O(f + l log L) for f fills over l of L levels; O(log L) to rest.
        """
        oid = _checked_int("oid", oid)
        side = _checked_side(side)
        price = _checked_positive("price", price)
        qty = _checked_positive("qty", qty)
        tif = _checked_tif(tif)
        owner = _checked_int("owner", owner)
        stp = _checked_stp(stp)
        return self._command(self._limit, oid, side, price, qty, tif, owner, stp)

    def market(self, oid: int, side: int, qty: int, protect_price: int = 0, owner: int = 0,
               stp: int = STP_NONE) -> int:
        """Market order (IOC), optionally not filling beyond ``protect_price``.

        Runtime complexity: O(f + l log L) for f fills over l of L levels.
        """
        oid = _checked_int("oid", oid)
        side = _checked_side(side)
        qty = _checked_positive("qty", qty)
        protect_price = _checked_non_negative("protect_price", protect_price, ">= 0 (0 = none)")
        owner = _checked_int("owner", owner)
        stp = _checked_stp(stp)
        return self._command(self._market, oid, side, qty, protect_price, owner, stp)

    def cancel(self, oid: int) -> bool:
        """Remove a resting order; True. UnknownOrderError if it is not resting.

        Runtime complexity: O(log L) (O(1) for the order, O(log L) if its level empties).
        """
        order = self._resting(_checked_int("oid", oid))
        self._command(self._unlink, order)
        return True

    def amend(self, oid: int, qty: int, price: int = 0) -> int:
        """Change a resting order's quantity and/or price (``price=0`` keeps it).

        Same price and ``qty <=`` the resting qty: reduced in place, keeps its queue position.
        Otherwise the order is re-entered as a new arrival and may trade.
        Runtime complexity: O(1) in place; as :meth:`limit` plus O(log L) otherwise.
        """
        oid = _checked_int("oid", oid)
        qty = _checked_positive("qty", qty)
        price = _checked_non_negative("price", price, "> 0 (or 0 to keep it)")
        order = self._resting(oid)
        return self._command(self._amend, order, qty, price)

    def process(self, msgs: np.ndarray) -> np.ndarray:
        """Apply a batch of MSG_DTYPE records; return the fills of this batch (FILL_DTYPE).

        Every record is checked before any is applied. Rejections (duplicate id, unknown
        cancel, price out of range) are recorded for :meth:`drain_rejects`.
        Runtime complexity: O(m log L + f) for m messages and f fills.
        """
        if not isinstance(msgs, np.ndarray) or msgs.ndim != 1 or msgs.dtype != MSG_DTYPE:
            got = (f"{msgs.ndim}-D array of dtype {msgs.dtype}" if isinstance(msgs, np.ndarray)
                   else type(msgs).__name__)
            raise InvalidBatchError(
                f"'msgs' must be a 1-D numpy array of MSG_DTYPE {MSG_DTYPE} (got {got})")
        records = msgs.tolist()
        for index, (kind, side, _pad, qty, _oid, price) in enumerate(records):
            if kind not in (MSG_ADD, MSG_CANCEL, MSG_MARKET):
                raise invalid(f"msgs[{index}].kind", "0 (ADD), 1 (CANCEL) or 2 (MARKET)", kind)
            if kind == MSG_CANCEL:
                continue
            if side not in (BUY, SELL):
                raise invalid(f"msgs[{index}].side", "0 (BUY) or 1 (SELL)", side)
            if qty <= 0:
                raise invalid(f"msgs[{index}].qty", "> 0", qty)
            if kind == MSG_ADD and price <= 0:
                raise invalid(f"msgs[{index}].price", "> 0", price)

        first_fill = len(self._fills)
        for index, (kind, side, _pad, qty, oid, price) in enumerate(records):
            if kind == MSG_ADD:
                code = self._command(self._limit, oid, side, price, qty, GTC, 0, STP_NONE)
            elif kind == MSG_MARKET:
                code = self._command(self._market, oid, side, qty, 0, 0, STP_NONE)
            elif oid in self._orders:
                self._command(self._unlink, self._orders[oid])
                code = _OK
            else:
                code = _UNKNOWN_ORDER_ID
            if code != _OK:
                self._rejects.append((index, oid, code))
        batch_fills = self._fills[first_fill:]
        del self._fills[first_fill:]
        return np.array(batch_fills, dtype=FILL_DTYPE)

    def clear(self) -> None:
        """Remove every order and empty every buffer (no deltas). Runtime complexity: O(1)."""
        self._reset()

    # -- OUTPUT BUFFERS --

    def drain_fills(self) -> np.ndarray:
        """Buffered fills in execution order (FILL_DTYPE); empties the buffer. O(f)."""
        fills, self._fills = self._fills, []
        return np.array(fills, dtype=FILL_DTYPE)

    def drain_deltas(self) -> np.ndarray:
        """Buffered L2 deltas (DELTA_DTYPE; always empty unless track_deltas). O(d)."""
        deltas, self._deltas = self._deltas, []
        return np.array(deltas, dtype=DELTA_DTYPE)

    def drain_expired(self) -> np.ndarray:
        """Maker orders removed by self-trade prevention (EXPIRED_DTYPE). O(e)."""
        expired, self._expired = self._expired, []
        return np.array(expired, dtype=EXPIRED_DTYPE)

    def drain_rejects(self) -> np.ndarray:
        """Rejections recorded by :meth:`process` (REJECT_DTYPE). O(r)."""
        rejects, self._rejects = self._rejects, []
        return np.array(rejects, dtype=REJECT_DTYPE)

    @property
    def fill_count(self) -> int:
        """Number of fills waiting in the buffer. Runtime complexity: O(1)."""
        return len(self._fills)

    # -- QUERIES --

    def best_bid(self) -> int | None:
        """Highest bid price, or None. Runtime complexity: O(1)."""
        bids = self._sides[BUY]
        return bids.keys()[0] if bids else None

    def best_ask(self) -> int | None:
        """Lowest ask price, or None. Runtime complexity: O(1)."""
        asks = self._sides[SELL]
        return asks.keys()[0] if asks else None

    def depth(self, side: int, n: int) -> list[tuple[int, int]]:
        """Up to n levels of one side as (price, total qty), best first. O(n)."""
        side = _checked_side(side)
        n = _checked_non_negative("n", n)
        return [(price, level.total) for price, level in islice(self._sides[side].items(), n)]

    def level_qty(self, side: int, price: int) -> int:
        """Total qty resting at ``price`` on ``side`` (0 if no level). O(1)."""
        side = _checked_side(side)
        level = self._sides[side].get(_checked_int("price", price))
        return level.total if level is not None else 0

    def iter_orders(self) -> Iterator[tuple[int, int, int]]:
        """(oid, qty, price) of every resting order: bids best to worst, then asks best to
        worst, FIFO within a level. Runtime complexity: O(n) for the whole iteration."""
        for levels in self._sides:
            for price, level in levels.items():
                for order in level.orders.values():
                    yield order.oid, order.qty, price

    def order(self, oid: int) -> tuple[int, int, int, int]:
        """(side, price, qty, owner) of a resting order; UnknownOrderError otherwise. O(1)."""
        order = self._resting(_checked_int("oid", oid))
        return order.side, order.price, order.qty, order.owner

    def queue_position(self, oid: int) -> int:
        """Lots resting ahead of the order at its level. O(orders ahead)."""
        order = self._resting(_checked_int("oid", oid))
        ahead = 0
        for other in self._sides[order.side][order.price].orders.values():
            if other is order:
                return ahead
            ahead += other.qty
        raise BookInvariantError(f"order {order.oid} is indexed but not on its level")

    def impact_price(self, side: int, notional: int) -> float | None:
        """Average price (ticks) a taker of ``side`` gets for ``notional`` ticks x lots
        (fractional last lot allowed) against the opposite side; None if too thin.

        Runtime complexity: O(l) for the l levels consumed.
        """
        side = _checked_side(side)
        notional = _checked_positive("notional", notional)
        remaining = notional
        whole_lots = 0
        for price, level in self._sides[1 - side].items():
            level_notional = price * level.total
            if level_notional >= remaining:
                # notional / (whole_lots + remaining / price), in exact integers until the
                # one correctly rounded division
                return notional * price / (whole_lots * price + remaining)
            whole_lots += level.total
            remaining -= level_notional
        return None

    def check_invariants(self) -> None:
        """Raise BookInvariantError unless the book is consistent.

        Checks: sides sorted best first, not crossed, no empty level, level totals equal the
        sum of their orders, FIFO by arrival number within a level, every order on the side
        and level it claims, id index consistent both ways, no side spanning max_levels.
        Runtime complexity: O(n + L).
        """
        _require(not self._touched, "a command left its delta bookkeeping behind")
        on_book = 0
        for side, levels in enumerate(self._sides):
            prices = list(levels.keys())
            _require(prices == sorted(prices, reverse=side == BUY),
                     f"side {side} is not sorted best first: {prices}")
            if prices:
                span = max(prices) - min(prices)
                _require(span < self._max_levels,
                         f"side {side} spans {span} ticks >= max_levels {self._max_levels}")
            for price, level in levels.items():
                where = f"level {price} of side {side}"
                _require(level.price == price, f"{where} is labelled {level.price}")
                _require(level.orders, f"{where} is empty")
                total = sum(order.qty for order in level.orders.values())
                _require(level.total == total, f"{where} total {level.total} != sum {total}")
                previous_seq = -1
                for oid, order in level.orders.items():
                    _require(order.oid == oid, f"{where} files order {order.oid} under {oid}")
                    _require(self._orders.get(oid) is order,
                             f"order {oid} on {where} is not the one indexed under its id")
                    _require(order.side == side and order.price == price,
                             f"order {oid} on {where} says side {order.side} price {order.price}")
                    _require(order.qty > 0, f"order {oid} rests with qty {order.qty}")
                    _require(order.tif in (GTC, POST_ONLY), f"order {oid} rests with tif {order.tif}")
                    _require(previous_seq < order.seq < self._next_seq,
                             f"order {oid} on {where} breaks FIFO (seq {order.seq} after "
                             f"{previous_seq})")
                    previous_seq = order.seq
                    on_book += 1
        _require(on_book == len(self._orders),
                 f"id index holds {len(self._orders)} orders, the book {on_book}")
        bid, ask = self.best_bid(), self.best_ask()
        _require(bid is None or ask is None or bid < ask, f"book crossed: bid {bid} >= ask {ask}")

    def __len__(self) -> int:
        """Number of resting orders. Runtime complexity: O(1)."""
        return len(self._orders)

    def __contains__(self, oid: object) -> bool:
        """True if ``oid`` is resting. Runtime complexity: O(1)."""
        if isinstance(oid, bool) or not isinstance(oid, (int, np.integer)):
            return False
        return int(oid) in self._orders

    @property
    def resting_qty(self) -> int:
        """Total lots resting on both sides. Runtime complexity: O(L)."""
        return sum(level.total for levels in self._sides for level in levels.values())

    # -- internals: commands on checked arguments --

    def _command(self, apply, *args):
        """Run one command, then emit one delta per level it touched, in first-touch order."""
        result = apply(*args)
        if self.track_deltas:
            for side, price in self._touched:
                level = self._sides[side].get(price)
                self._deltas.append((price, level.total if level is not None else 0, side))
        self._touched.clear()
        return result

    def _limit(self, oid: int, side: int, price: int, qty: int, tif: int, owner: int,
               stp: int) -> int:
        if oid in self._orders:
            return self._rejected(_DUPLICATE_ORDER_ID)
        if not self._fits_window(side, price):
            return self._rejected(_PRICE_OUT_OF_RANGE)
        if qty > INT64_MAX - self._level_total(side, price):
            return self._rejected(_LEVEL_QTY_OVERFLOW)
        return self._enter(oid, side, price, qty, tif, owner, stp)

    def _market(self, oid: int, side: int, qty: int, protect_price: int, owner: int,
                stp: int) -> int:
        if oid in self._orders:
            return self._rejected(_DUPLICATE_ORDER_ID)
        limit = protect_price if protect_price > 0 else None
        filled, stopped_by_stp = self._match(oid, side, qty, limit, owner, stp)
        if filled == qty:
            expire = EXPIRE_NONE
        else:
            expire = EXPIRE_STP if stopped_by_stp else EXPIRE_IOC
        self._set_last(filled, 0, expire)
        return _OK

    def _amend(self, order: _Order, qty: int, price: int) -> int:
        new_price = price if price else order.price
        if new_price == order.price and qty <= order.qty:
            self._reduce(order, order.qty - qty)
            self._set_last(0, qty, EXPIRE_NONE)
            return _OK
        if not self._fits_window(order.side, new_price, ignoring=order):
            return self._rejected(_PRICE_OUT_OF_RANGE)
        others = self._level_total(order.side, new_price) - (order.qty if new_price == order.price else 0)
        if qty > INT64_MAX - others:
            return self._rejected(_LEVEL_QTY_OVERFLOW)
        if order.tif == POST_ONLY and self._crosses(order.side, new_price):
            return self._rejected(_POST_ONLY_WOULD_CROSS)
        self._unlink(order)
        return self._enter(order.oid, order.side, new_price, qty, order.tif, order.owner,
                           order.stp)

    def _level_total(self, side: int, price: int) -> int:
        level = self._sides[side].get(price)
        return level.total if level is not None else 0

    def _enter(self, oid: int, side: int, price: int, qty: int, tif: int, owner: int,
               stp: int) -> int:
        """A limit order (or an amend re-entry) that passed the id and range checks."""
        if tif == POST_ONLY and self._crosses(side, price):
            return self._rejected(_POST_ONLY_WOULD_CROSS)
        if tif == FOK and not self._fillable(side, qty, price, owner, stp):
            return self._rejected(_FOK_NOT_FILLABLE)
        filled, stopped_by_stp = self._match(oid, side, qty, price, owner, stp)
        remaining = qty - filled
        rested = 0
        expire = EXPIRE_NONE
        if remaining:
            if stopped_by_stp:
                expire = EXPIRE_STP
            elif tif in (GTC, POST_ONLY):
                self._rest(_Order(oid, side, price, remaining, owner, stp, tif, self._next_seq))
                self._next_seq += 1
                rested = remaining
            else:
                expire = EXPIRE_IOC
        self._set_last(filled, rested, expire)
        return _OK

    def _match(self, oid: int, side: int, qty: int, limit: int | None, owner: int,
               stp: int) -> tuple[int, bool]:
        """Trade a taker against the opposite side, best level first, FIFO within a level,
        not beyond ``limit`` (None: no limit). Returns (lots filled, stopped by STP)."""
        makers = self._sides[1 - side]
        stp_active = stp != STP_NONE and owner != 0
        remaining = qty
        while remaining and makers:
            price, level = makers.peekitem(0)
            if limit is not None and not _reaches(side, limit, price):
                break
            self._touch(1 - side, price)
            while remaining and level.orders:
                maker = next(iter(level.orders.values()))
                if stp_active and maker.owner == owner:
                    if stp == STP_EXPIRE_TAKER:
                        return qty - remaining, True
                    self._expired.append((maker.oid, price, maker.qty, maker.side, EXPIRE_STP))
                    self._unlink(maker)
                    if stp == STP_EXPIRE_BOTH:
                        return qty - remaining, True
                    continue
                traded = min(remaining, maker.qty)
                remaining -= traded
                maker_done = traded == maker.qty
                self._fills.append((oid, maker.oid, price, traded, side, int(maker_done)))
                if maker_done:
                    self._unlink(maker)
                else:
                    self._reduce(maker, traded)
        return qty - remaining, False

    def _fillable(self, side: int, qty: int, limit: int, owner: int, stp: int) -> bool:
        """Would :meth:`_match` fill ``qty`` completely? Same walk, nothing changed."""
        stp_active = stp != STP_NONE and owner != 0
        available = 0
        for price, level in self._sides[1 - side].items():
            if not _reaches(side, limit, price):
                break
            for maker in level.orders.values():
                if available >= qty:
                    return True
                if stp_active and maker.owner == owner:
                    if stp == STP_EXPIRE_MAKER:
                        continue  # the maker would be removed, the taker would go on
                    return False  # EXPIRE_TAKER / EXPIRE_BOTH stop the taker here
                available += maker.qty
        return available >= qty

    def _crosses(self, side: int, price: int) -> bool:
        """Would a limit at ``price`` trade against the opposite best?"""
        makers = self._sides[1 - side]
        return bool(makers) and _reaches(side, price, makers.keys()[0])

    def _fits_window(self, side: int, price: int, ignoring: _Order | None = None) -> bool:
        """Does ``price`` keep the span of ``side``'s resting prices below max_levels?

        ``ignoring``: an order to treat as already removed (an amend re-entry).
        """
        levels = self._sides[side]
        prices = levels.keys()
        if ignoring is not None and len(levels[ignoring.price].orders) == 1:
            prices = [p for p in prices if p != ignoring.price]
        if not prices:
            return True
        low, high = min(prices[0], prices[-1]), max(prices[0], prices[-1])
        return max(high, price) - min(low, price) < self._max_levels

    def _rejected(self, code: int) -> int:
        self._set_last(0, 0, EXPIRE_NONE)
        return code

    def _set_last(self, filled: int, rested: int, expire: int) -> None:
        self.last_filled = filled
        self.last_rested = rested
        self.last_expire = expire

    def _resting(self, oid: int) -> _Order:
        order = self._orders.get(oid)
        if order is None:
            raise UnknownOrderError(f"order id {oid} is not resting in the book")
        return order

    # -- internals: the only code that changes levels --

    def _touch(self, side: int, price: int) -> None:
        """Remember that the running command touched a level (it owes that level a delta)."""
        self._touched.setdefault((side, price), None)

    def _rest(self, order: _Order) -> None:
        self._touch(order.side, order.price)
        levels = self._sides[order.side]
        level = levels.get(order.price)
        if level is None:
            level = levels[order.price] = _Level(order.price)
        level.orders[order.oid] = order
        level.total += order.qty
        self._orders[order.oid] = order

    def _unlink(self, order: _Order) -> None:
        self._touch(order.side, order.price)
        levels = self._sides[order.side]
        level = levels[order.price]
        del level.orders[order.oid]
        level.total -= order.qty
        if not level.orders:
            del levels[order.price]
        del self._orders[order.oid]

    def _reduce(self, order: _Order, lots: int) -> None:
        self._touch(order.side, order.price)
        order.qty -= lots
        self._sides[order.side][order.price].total -= lots
