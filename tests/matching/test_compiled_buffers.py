"""Ownership of the arrays the compiled book's batch API returns.

``process`` hands its fill buffer to the result without copying and recycles the buffers of
results that were freed; a result must never change after it was returned, whatever the book
does next, and must outlive the book.
"""
from __future__ import annotations

import gc

import numpy as np
import pytest

from matching.reference import FILL_DTYPE, MSG_ADD, MSG_DTYPE, MSG_MARKET, RefBook
from tests.matching.books import COMPILED_BOOK, COMPILED_MISSING, as_rows

pytestmark = pytest.mark.skipif(COMPILED_BOOK is None, reason=COMPILED_MISSING)


def crossing_batch(first_oid: int, n: int) -> np.ndarray:
    """n resting sells, then one market buy that takes them all: n fills."""
    msgs = np.zeros(n + 1, dtype=MSG_DTYPE)
    for i in range(n):
        msgs[i] = (MSG_ADD, 1, 0, 1 + i % 3, first_oid + i, 100 + i % 7)
    msgs[n] = (MSG_MARKET, 0, 0, 10 * n, first_oid + n, 0)
    return msgs


def test_results_of_successive_batches_stay_as_returned_while_buffers_are_recycled():
    book, ref = COMPILED_BOOK(), RefBook()
    kept = []
    for k in range(12):
        msgs = crossing_batch(1000 * k, 50 + 40 * k)
        out = book.process(msgs)
        expected = ref.process(msgs)
        assert as_rows(out) == as_rows(expected)
        if k % 3 == 0:
            kept.append((out, as_rows(expected)))   # others are freed, so their buffers recycle
        del out
        gc.collect()
    for out, rows in kept:
        assert as_rows(out) == rows


def test_a_result_outlives_its_book_and_is_an_ordinary_writable_array():
    book = COMPILED_BOOK()
    out = book.process(crossing_batch(1, 20))
    rows = out.tolist()
    del book
    gc.collect()
    assert out.tolist() == rows
    assert out.dtype == FILL_DTYPE and out.flags.writeable and out.flags.c_contiguous
    out["qty"] += 1
    assert int(out["qty"].sum()) == sum(r[3] for r in rows) + len(rows)


def test_pending_per_order_fills_stay_in_the_buffer_and_are_not_returned_by_process():
    book = COMPILED_BOOK()
    book.limit(1, 1, 100, 5)
    book.limit(2, 0, 100, 2)                         # a per-order fill, not drained yet
    out = book.process(crossing_batch(10, 4))
    # the market buy takes what is left of order 1 (3 lots at 100), then the batch's 4 sells
    assert [r[:2] for r in out.tolist()] == [(14, 1), (14, 10), (14, 11), (14, 12), (14, 13)]
    assert [r[:2] for r in book.drain_fills().tolist()] == [(2, 1)]
