"""Scenarios of the order book contract (matching/_book.pyi), run on both books:
cancel, amend, the price window (max_levels), the output buffers.

Every test gets ``new_book`` (see conftest.py): a reference book, then a compiled book when
it is built, wrapped so that ``check_invariants()`` runs after every command.
"""
from __future__ import annotations

import pytest

from matching.codes import (
    BUY,
    EXPIRE_NONE,
    EXPIRE_STP,
    FOK,
    IOC,
    POST_ONLY,
    SELL,
    STP_EXPIRE_MAKER,
    STP_EXPIRE_TAKER,
    MatchCode,
)
from matching.errors import MatchingError, UnknownOrderError
from matching.reference import (
    DELTA_DTYPE,
    EXPIRED_DTYPE,
    FILL_DTYPE,
    MSG_CANCEL,
    REJECT_DTYPE,
)
from tests.matching.books import book_state, last_outcome
from tests.matching.helpers import batch, deltas, fills, ladder

OK = MatchCode.OK
INT64_MAX = (1 << 63) - 1

# -- cancel --


def test_cancel_removes_the_order_and_emits_the_new_level_total(new_book):
    book = new_book(track_deltas=True)
    book.limit(1, SELL, 101, 2)
    book.limit(2, SELL, 101, 3)
    book.drain_deltas()

    assert book.cancel(1) is True

    assert deltas(book) == [(101, 3, SELL)]
    assert list(book.iter_orders()) == [(2, 3, 101)]


def test_cancel_of_the_last_order_at_a_level_removes_the_level(new_book):
    book = new_book(track_deltas=True)
    ladder(book)

    book.cancel(3)

    assert deltas(book) == [(101, 0, SELL)]
    assert book.best_ask() == 102
    assert book.depth(SELL, 10) == [(102, 5)]


def test_cancel_of_unknown_order_raises_unknown_order_error(new_book):
    book = new_book()
    ladder(book)
    before = book_state(book)

    with pytest.raises(UnknownOrderError, match="order id 42 is not resting") as raised:
        book.cancel(42)

    assert isinstance(raised.value, KeyError) and isinstance(raised.value, MatchingError)
    assert book_state(book) == before


def test_cancel_of_a_filled_order_is_rejected_as_unknown(new_book):
    book = new_book()
    book.limit(1, SELL, 101, 2)
    book.market(2, BUY, 2)

    with pytest.raises(UnknownOrderError):
        book.cancel(1)


def test_cancel_of_a_cancelled_order_is_rejected_as_unknown(new_book):
    book = new_book()
    book.limit(1, SELL, 101, 2)
    book.cancel(1)

    with pytest.raises(UnknownOrderError):
        book.cancel(1)


# -- amend --


def test_amend_down_keeps_queue_priority(new_book):
    book = new_book(track_deltas=True)
    book.limit(1, SELL, 101, 5)
    book.limit(2, SELL, 101, 5)
    book.drain_deltas()

    assert book.amend(1, 2) == OK

    assert last_outcome(book) == (0, 2, EXPIRE_NONE)
    assert list(book.iter_orders()) == [(1, 2, 101), (2, 5, 101)]
    assert deltas(book) == [(101, 7, SELL)]
    book.market(10, BUY, 1)
    assert fills(book) == [(10, 1, 101, 1, BUY, 0)]


def test_amend_to_the_same_price_and_qty_keeps_priority_and_emits_the_level(new_book):
    book = new_book(track_deltas=True)
    book.limit(1, SELL, 101, 5)
    book.limit(2, SELL, 101, 5)
    book.drain_deltas()

    assert book.amend(1, 5, 101) == OK

    assert [oid for oid, _, _ in book.iter_orders()] == [1, 2]
    assert last_outcome(book) == (0, 5, EXPIRE_NONE)
    assert deltas(book) == [(101, 10, SELL)]


def test_amend_up_loses_queue_priority(new_book):
    book = new_book(track_deltas=True)
    book.limit(1, SELL, 101, 5)
    book.limit(2, SELL, 101, 5)
    book.drain_deltas()

    assert book.amend(1, 6) == OK

    assert last_outcome(book) == (0, 6, EXPIRE_NONE)
    assert list(book.iter_orders()) == [(2, 5, 101), (1, 6, 101)]
    assert book.queue_position(1) == 5
    assert deltas(book) == [(101, 11, SELL)]


def test_amend_to_a_new_price_goes_to_the_back_of_that_level(new_book):
    book = new_book(track_deltas=True)
    book.limit(1, SELL, 101, 5, owner=3)
    book.limit(2, SELL, 102, 4)
    book.drain_deltas()

    assert book.amend(1, 2, 102) == OK

    assert list(book.iter_orders()) == [(2, 4, 102), (1, 2, 102)]
    assert book.order(1) == (SELL, 102, 2, 3)
    assert deltas(book) == [(101, 0, SELL), (102, 6, SELL)]


def test_amend_to_a_crossing_price_trades_as_a_new_arrival(new_book):
    book = new_book(track_deltas=True)
    ladder(book)

    assert book.amend(2, 6, 101) == OK  # bid 3@99 becomes 6@101: takes 4 asks, rests 2

    assert fills(book) == [(2, 3, 101, 4, BUY, 1)]
    assert last_outcome(book) == (4, 2, EXPIRE_NONE)
    assert book.order(2) == (BUY, 101, 2, 0)
    assert deltas(book) == [(99, 0, BUY), (101, 0, SELL), (101, 2, BUY)]


def test_amend_reentry_keeps_owner_and_stp_so_it_can_expire_on_its_own_order(new_book):
    book = new_book()
    book.limit(1, SELL, 101, 2, owner=5)
    book.limit(2, BUY, 99, 3, owner=5, stp=STP_EXPIRE_TAKER)

    assert book.amend(2, 3, 101) == OK

    assert last_outcome(book) == (0, 0, EXPIRE_STP)
    assert 2 not in book and 1 in book


def test_amend_of_post_only_that_would_cross_is_rejected_and_changes_nothing(new_book):
    book = new_book(track_deltas=True)
    ladder(book)
    book.limit(5, BUY, 100, 1, tif=POST_ONLY)
    book.limit(6, BUY, 100, 1)
    deltas(book)
    before = book_state(book)

    assert book.amend(5, 1, 101) == MatchCode.POST_ONLY_WOULD_CROSS

    assert last_outcome(book) == (0, 0, EXPIRE_NONE)
    assert book_state(book) == before  # still first at 100
    assert (fills(book), deltas(book)) == ([], [])


def test_amend_of_post_only_to_a_non_crossing_price_rests_as_post_only(new_book):
    book = new_book()
    ladder(book)
    book.limit(5, BUY, 97, 1, tif=POST_ONLY)

    assert book.amend(5, 2, 100) == OK
    assert book.amend(5, 2, 101) == MatchCode.POST_ONLY_WOULD_CROSS


def test_amend_of_unknown_order_raises_unknown_order_error(new_book):
    book = new_book()
    ladder(book)

    with pytest.raises(UnknownOrderError):
        book.amend(42, 1)


def test_amend_of_an_order_filled_meanwhile_raises_unknown_order_error(new_book):
    book = new_book()
    ladder(book)
    book.market(10, BUY, 4)

    with pytest.raises(UnknownOrderError):
        book.amend(3, 1)


# -- max_levels: the price window of a side --


def test_limit_that_would_widen_its_side_to_max_levels_is_rejected_as_out_of_range(new_book):
    book = new_book(max_levels=5, track_deltas=True)
    book.limit(1, BUY, 100, 1)
    deltas(book)

    assert book.limit(2, BUY, 95, 1) == MatchCode.PRICE_OUT_OF_RANGE  # span 5
    assert book.limit(3, BUY, 105, 1) == MatchCode.PRICE_OUT_OF_RANGE
    assert last_outcome(book) == (0, 0, EXPIRE_NONE)
    assert deltas(book) == []

    assert book.limit(4, BUY, 96, 1) == OK  # span 4
    assert book.limit(5, BUY, 104, 1) == MatchCode.PRICE_OUT_OF_RANGE  # 104 - 96 = 8
    assert book.limit(6, BUY, 99, 1) == OK


def test_out_of_range_is_checked_even_when_the_order_would_not_rest(new_book):
    book = new_book(max_levels=5)
    book.limit(1, BUY, 90, 1)
    book.limit(2, SELL, 96, 1)
    before = book_state(book)

    # a buy at 96 would trade in full, but it spans 90..96 on the bid side
    assert book.limit(3, BUY, 96, 1) == MatchCode.PRICE_OUT_OF_RANGE
    assert book.limit(4, BUY, 96, 1, tif=IOC) == MatchCode.PRICE_OUT_OF_RANGE
    assert book.limit(5, BUY, 96, 1, tif=FOK) == MatchCode.PRICE_OUT_OF_RANGE
    assert book_state(book) == before


def test_range_checks_the_side_the_order_would_rest_on_only(new_book):
    book = new_book(max_levels=3)
    book.limit(1, SELL, 200, 1)

    assert book.limit(2, BUY, 100, 1) == OK  # the bid side was empty
    assert book.limit(3, SELL, 202, 1) == OK
    assert book.limit(4, SELL, 203, 1) == MatchCode.PRICE_OUT_OF_RANGE


def test_max_levels_of_one_allows_a_single_price_per_side(new_book):
    book = new_book(max_levels=1)
    book.limit(1, SELL, 101, 1)

    assert book.limit(2, SELL, 101, 1) == OK
    assert book.limit(3, SELL, 102, 1) == MatchCode.PRICE_OUT_OF_RANGE


def test_a_side_emptied_by_trading_accepts_any_price_again(new_book):
    book = new_book(max_levels=3)
    book.limit(1, SELL, 101, 1)
    book.market(2, BUY, 1)

    assert book.limit(3, SELL, 500, 1) == OK


def test_amend_outside_the_window_is_rejected_and_changes_nothing(new_book):
    book = new_book(max_levels=5)
    book.limit(1, BUY, 100, 1)
    book.limit(2, BUY, 100, 1)
    before = book_state(book)

    assert book.amend(1, 1, 95) == MatchCode.PRICE_OUT_OF_RANGE

    assert book_state(book) == before
    assert last_outcome(book) == (0, 0, EXPIRE_NONE)


def test_amend_reentry_is_range_checked_as_if_the_order_had_left_the_book(new_book):
    book = new_book(max_levels=5)
    book.limit(1, BUY, 100, 1)
    book.limit(2, BUY, 102, 1)

    # alone at 100: without it the side is just 102, and 102..106 spans 4 (100..106 would be 6)
    assert book.amend(1, 1, 106) == OK
    # the only order of its side may move anywhere
    assert book.cancel(1)
    assert book.amend(2, 1, 50) == OK
    assert book.order(2) == (BUY, 50, 1, 0)


# -- buffers --


def test_deltas_one_per_level_per_command(new_book):
    book = new_book(track_deltas=True)
    book.limit(1, SELL, 101, 2)
    book.limit(2, SELL, 101, 2)
    book.limit(3, SELL, 102, 3)
    book.limit(4, SELL, 103, 3)
    assert deltas(book) == [(101, 2, SELL), (101, 4, SELL), (102, 3, SELL), (103, 3, SELL)]

    book.limit(10, BUY, 102, 8)  # two fills at 101, one at 102, rests 1 at 102

    assert len(fills(book)) == 3
    assert deltas(book) == [(101, 0, SELL), (102, 0, SELL), (102, 1, BUY)]


def test_deltas_of_a_partly_consumed_level_carry_what_is_left(new_book):
    book = new_book(track_deltas=True)
    ladder(book)

    book.market(10, SELL, 4)

    assert deltas(book) == [(99, 0, BUY), (98, 1, BUY)]


def test_no_deltas_are_recorded_without_track_deltas(new_book):
    book = new_book()
    ladder(book)
    book.market(10, BUY, 3)
    book.cancel(1)

    drained = book.drain_deltas()
    assert drained.dtype == DELTA_DTYPE and len(drained) == 0


def test_drains_return_contract_dtypes_and_empty_their_buffers(new_book):
    book = new_book(track_deltas=True)
    book.limit(1, SELL, 101, 2, owner=1)
    book.limit(2, SELL, 101, 2)
    book.market(3, BUY, 3, owner=1, stp=STP_EXPIRE_MAKER)
    book.process(batch((MSG_CANCEL, 0, 0, 99, 0)))

    assert book.fill_count == 1
    for drain, dtype in [(book.drain_fills, FILL_DTYPE), (book.drain_deltas, DELTA_DTYPE),
                         (book.drain_expired, EXPIRED_DTYPE),
                         (book.drain_rejects, REJECT_DTYPE)]:
        first, second = drain(), drain()
        assert first.dtype == dtype and len(first) > 0, drain.__name__
        assert second.dtype == dtype and len(second) == 0, drain.__name__
    assert book.fill_count == 0


def test_fill_count_counts_the_fills_waiting_in_the_buffer(new_book):
    book = new_book()
    ladder(book)
    book.market(10, BUY, 5)
    book.market(11, SELL, 1)

    assert book.fill_count == 3
    fills(book)
    assert book.fill_count == 0


def test_clear_returns_the_book_to_its_built_state(new_book):
    book = new_book(track_deltas=True, max_levels=50)
    ladder(book)
    book.market(10, BUY, 1)
    book.process(batch((MSG_CANCEL, 0, 0, 99, 0)))

    book.clear()

    assert book_state(book) == book_state(new_book())
    assert last_outcome(book) == (0, 0, EXPIRE_NONE)
    assert [len(d()) for d in (book.drain_fills, book.drain_deltas, book.drain_expired,
                               book.drain_rejects)] == [0, 0, 0, 0]
    assert book.limit(3, SELL, 101, 1) == OK  # ids are free again
    assert book.limit(4, SELL, 200, 1) == MatchCode.PRICE_OUT_OF_RANGE  # max_levels kept
    assert deltas(book) == [(101, 1, SELL)]  # track_deltas kept
