"""Type stubs of the compiled book: the whole public contract.

The pure-Python reference book (:mod:`matching.reference`) implements exactly the same
contract and is the test oracle: both must produce identical return values, fills, deltas,
expiries and book state for any sequence of commands.

Conventions
-----------
- ``side``: 0 BUY, 1 SELL. Prices are integer ticks (> 0), quantities integer lots (> 0),
  order ids any signed 64-bit integer chosen by the caller, ``owner`` any int64 (0 = anonymous:
  self-trade prevention never applies to owner 0).
- Commands return a :class:`matching.codes.MatchCode` value as an ``int`` (0 = accepted). After
  every ``limit``/``market``/``amend`` the attributes ``last_filled`` (lots the taker traded),
  ``last_rested`` (lots placed on the book) and ``last_expire`` (``EXPIRE_*`` reason why the
  rest of the quantity neither traded nor rested) describe the outcome.
- Fills are appended to an internal buffer in execution order; ``drain_fills()`` returns them
  as a ``FILL_DTYPE`` array and empties the buffer. Same for maker orders removed by
  self-trade prevention (``drain_expired()``, ``EXPIRED_DTYPE``) and, when the book was built
  with ``track_deltas=True``, L2 deltas (``drain_deltas()``, ``DELTA_DTYPE``).
- Delta order: one delta per price level per command, emitted when the command is done with
  that level (a taker emits one for each level it touched, in the order it touched them, then
  one for the level it rests on). A delta carries the level's new total (0 = level gone).
- Matching of a taker against a level, in FIFO order. With STP active (taker stp != NONE,
  taker owner != 0, maker owner == taker owner): EXPIRE_TAKER stops the taker (its remainder
  expires, reason EXPIRE_STP, nothing rests); EXPIRE_MAKER removes the maker (recorded in the
  expired buffer) and continues; EXPIRE_BOTH removes the maker and stops the taker.
- FOK: accepted only if the quantity can be filled completely within the limit price, counting
  liquidity the way the matching loop would consume it under the taker's STP mode; otherwise
  ``FOK_NOT_FILLABLE`` and nothing changes.
- POST_ONLY: ``POST_ONLY_WOULD_CROSS`` if the price would trade against the opposite best;
  otherwise it rests in full.
- Amend: ``amend(oid, qty, price=0)``; ``price=0`` keeps the price. Same price and ``qty <=``
  current resting qty: reduced in place, keeps queue priority. Otherwise the order is removed
  and re-entered as a new arrival (same oid, owner, stp; its tif, GTC or POST_ONLY) at the back
  of the queue, and it may trade. A post-only amend that would cross is rejected and the book
  is unchanged. ``last_*`` describe the re-entry (in-place reduction: filled 0, rested = qty).
- ``LEVEL_QTY_OVERFLOW``: a limit order (or amend re-entry) whose quantity plus what already
  rests at its price on its side would pass 2**63 - 1 lots is rejected before it trades, so
  a level total never wraps; ``resting_qty`` is an exact Python int.
- Errors: malformed arguments raise ``InvalidOrderError`` naming the field, the rule and the
  value; a cancel or amend of an order id that is not resting raises ``UnknownOrderError``.
"""
from collections.abc import Iterator

import numpy as np

FILL_DTYPE: np.dtype  # taker_oid i8, maker_oid i8, price i8, qty i8, taker_side u1, maker_done u1
DELTA_DTYPE: np.dtype  # price i8, qty i8 (new level total), side u1
EXPIRED_DTYPE: np.dtype  # oid i8, price i8, qty i8 (removed), side u1, reason u1
REJECT_DTYPE: np.dtype  # index i8 (message index in the batch), oid i8, code i4

class Book:
    last_filled: int
    last_rested: int
    last_expire: int
    track_deltas: bool

    dense_ids: int

    def __init__(self, track_deltas: bool = False, max_levels: int = 1 << 21,
                 dense_ids: int = 1 << 24) -> None:
        """``max_levels``: widest span of ticks between the lowest and highest resting price on a
        side; a price beyond it is rejected with ``PRICE_OUT_OF_RANGE``.

        ``dense_ids``: order ids in ``[0, dense_ids)`` are indexed by a direct array (4 bytes per
        id up to the highest such id seen, so at most 64 MiB by default), as venues that number
        their orders sequentially do; every other id goes to an open-addressing hash table.
        Behaviour is identical either way; 0 sends every id to the hash."""

    # -- COMMANDS --
    def limit(self, oid: int, side: int, price: int, qty: int, tif: int = 0, owner: int = 0,
              stp: int = 0) -> int:
        """Limit order. Runtime complexity: O(f + l) for f fills over l levels, O(1) to rest."""
    def market(self, oid: int, side: int, qty: int, protect_price: int = 0, owner: int = 0,
               stp: int = 0) -> int:
        """Market order (IOC). ``protect_price`` > 0: do not fill beyond it (a buy no higher, a
        sell no lower); 0 = no protection."""
    def cancel(self, oid: int) -> bool:
        """Remove a resting order; True. Unknown id raises UnknownOrderError. O(1)."""
    def amend(self, oid: int, qty: int, price: int = 0) -> int: ...
    def process(self, msgs: np.ndarray) -> np.ndarray:
        """Batch API over the standard stream's records (MSG_DTYPE: ADD = limit GTC, CANCEL,
        MARKET = market IOC, anonymous owner). Runs without the GIL. Returns the fills produced
        by this batch (FILL_DTYPE); rejections (duplicate id, unknown cancel, out of range) are
        recorded and returned by ``drain_rejects()``. Malformed records (bad kind, side, zero
        qty, non-positive limit price) raise InvalidOrderError before anything is applied.

        The result owns its memory: when no per-order fills were pending, the book hands its
        fill buffer over without copying and continues with a spare one (the buffer of an
        earlier result that has since been freed), so a loop of batches reuses warm memory."""
    def clear(self) -> None: ...

    # -- OUTPUT BUFFERS --
    def drain_fills(self) -> np.ndarray: ...
    def drain_deltas(self) -> np.ndarray: ...
    def drain_expired(self) -> np.ndarray: ...
    def drain_rejects(self) -> np.ndarray: ...
    @property
    def fill_count(self) -> int: ...

    # -- QUERIES --
    def best_bid(self) -> int | None: ...
    def best_ask(self) -> int | None: ...
    def depth(self, side: int, n: int) -> list[tuple[int, int]]:
        """Up to n levels of one side as (price, total qty), best first. O(n + gaps/64)."""
    def level_qty(self, side: int, price: int) -> int: ...
    def iter_orders(self) -> Iterator[tuple[int, int, int]]:
        """(oid, qty, price) of every resting order: bids best to worst, then asks best to worst,
        FIFO within a level."""
    def order(self, oid: int) -> tuple[int, int, int, int]:
        """(side, price, qty, owner) of a resting order; UnknownOrderError if not resting."""
    def queue_position(self, oid: int) -> int:
        """Lots resting ahead of the order at its price level. O(orders ahead)."""
    def impact_price(self, side: int, notional: int) -> float | None:
        """Average fill price (ticks) of a taker of ``side`` spending ``notional`` (ticks x lots,
        fractional last lot allowed) against the opposite side; None if the book is too thin."""
    def check_invariants(self) -> None:
        """Raise BookInvariantError unless: not crossed, level totals equal the sum of their
        orders, FIFO by arrival within a level, id index consistent, best prices correct."""
    def __len__(self) -> int: ...
    def __contains__(self, oid: int) -> bool: ...
    @property
    def resting_qty(self) -> int: ...
