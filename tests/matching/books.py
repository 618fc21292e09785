"""The books under test and helpers shared by the matching tests.

Every scenario and property runs on the reference book and, when it is built, on the compiled
one: the same tests define the contract for both.
"""
from __future__ import annotations

import functools
import math

import numpy as np
import pytest

from matching.codes import MatchCode
from matching.errors import UnknownOrderError
from matching.reference import MSG_ADD, MSG_MARKET, RefBook

try:
    from matching._book import Book as COMPILED_BOOK
except ImportError as exc:  # not built yet, or broken: the compiled params are skipped
    COMPILED_BOOK = None
    COMPILED_MISSING = (f"compiled book matching._book is not importable ({exc}); build it with "
                        "`python setup.py build_ext --inplace`")
else:
    COMPILED_MISSING = ""

BOOK_PARAMS = [
    pytest.param(RefBook, id="reference"),
    pytest.param(COMPILED_BOOK, id="compiled",
                 marks=pytest.mark.skipif(COMPILED_BOOK is None, reason=COMPILED_MISSING)),
]

DEEP = 1 << 30  # a depth() size that returns every level


class CheckedBook:
    """A book that runs ``check_invariants()`` after every command, including one that raised.

    Everything else is delegated unchanged, so tests read as plain calls on a book.
    """

    _COMMANDS = frozenset({"limit", "market", "cancel", "amend", "process", "clear"})

    def __init__(self, book) -> None:
        book.check_invariants()
        self.__dict__["book"] = book

    def __getattr__(self, name):
        attribute = getattr(self.book, name)
        if name not in self._COMMANDS:
            return attribute

        @functools.wraps(attribute)
        def checked(*args, **kwargs):
            try:
                return attribute(*args, **kwargs)
            finally:
                self.book.check_invariants()

        return checked

    def __setattr__(self, name, value) -> None:
        setattr(self.book, name, value)

    def __len__(self) -> int:
        return len(self.book)

    def __contains__(self, oid) -> bool:
        return oid in self.book


def book_state(book) -> dict:
    """Everything a query can say about a book's resting orders, as comparable values."""
    orders = list(book.iter_orders())
    return {
        "best_bid": book.best_bid(),
        "best_ask": book.best_ask(),
        "orders": orders,
        "bids": book.depth(0, DEEP),
        "asks": book.depth(1, DEEP),
        "len": len(book),
        "resting_qty": book.resting_qty,
        "details": {oid: (book.order(oid), book.queue_position(oid)) for oid, _, _ in orders},
    }


def last_outcome(book) -> tuple[int, int, int]:
    return book.last_filled, book.last_rested, book.last_expire


def same_impact(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is b
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)


def as_rows(array: np.ndarray) -> tuple[np.dtype, list]:
    """A drained array as (dtype, list of tuples): equal iff dtype and every record are."""
    return array.dtype, array.tolist()


def apply_one_at_a_time(book, msgs: np.ndarray) -> list[tuple[int, int, int]]:
    """Apply a MSG_DTYPE batch through the per-order API; return the rejects ``process``
    would have recorded, as (index, oid, code)."""
    rejects = []
    for index, (kind, side, _pad, qty, oid, price) in enumerate(msgs.tolist()):
        if kind == MSG_ADD:
            code = book.limit(oid, side, price, qty)
        elif kind == MSG_MARKET:
            code = book.market(oid, side, qty)
        else:
            try:
                book.cancel(oid)
                code = MatchCode.OK
            except UnknownOrderError:
                code = MatchCode.UNKNOWN_ORDER_ID
        if code != MatchCode.OK:
            rejects.append((index, oid, int(code)))
    return rejects
