"""Helpers of the order book scenario tests (test_reference_book_*.py)."""
from __future__ import annotations

import numpy as np

from matching.codes import BUY, SELL, MatchCode
from matching.reference import MSG_DTYPE

OK = MatchCode.OK


def fills(book) -> list[tuple]:
    """Drained fills as (taker_oid, maker_oid, price, qty, taker_side, maker_done)."""
    return book.drain_fills().tolist()


def deltas(book) -> list[tuple]:
    """Drained deltas as (price, new level total, side)."""
    return book.drain_deltas().tolist()


def expired(book) -> list[tuple]:
    """Drained STP expiries as (oid, price, qty, side, reason)."""
    return book.drain_expired().tolist()


def batch(*records) -> np.ndarray:
    """A MSG_DTYPE batch from (kind, side, qty, oid, price) records."""
    msgs = np.zeros(len(records), MSG_DTYPE)
    for index, (kind, side, qty, oid, price) in enumerate(records):
        msgs[index] = (kind, side, 0, qty, oid, price)
    return msgs


def ladder(book) -> None:
    """Bids 2@98 (oid 1), 3@99 (oid 2); asks 4@101 (oid 3), 5@102 (oid 4); buffers drained."""
    for oid, side, price, qty in [(1, BUY, 98, 2), (2, BUY, 99, 3), (3, SELL, 101, 4),
                                  (4, SELL, 102, 5)]:
        assert book.limit(oid, side, price, qty) == OK
    book.drain_fills()
    book.drain_deltas()
