"""Scenarios of the order book contract (matching/_book.pyi), run on both books.

Every test gets ``new_book`` (see conftest.py): a reference book, then a compiled book when
it is built, wrapped so that ``check_invariants()`` runs after every command.
"""
from __future__ import annotations

import doctest
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import matching.reference
from matching.codes import (
    BUY,
    EXPIRE_IOC,
    EXPIRE_NONE,
    EXPIRE_STP,
    FOK,
    GTC,
    IOC,
    POST_ONLY,
    SELL,
    STP_EXPIRE_BOTH,
    STP_EXPIRE_MAKER,
    STP_EXPIRE_TAKER,
    STP_NONE,
    MatchCode,
)
from matching.errors import InvalidBatchError, InvalidOrderError, MatchingError, UnknownOrderError
from matching.reference import (
    DELTA_DTYPE,
    EXPIRED_DTYPE,
    FILL_DTYPE,
    MSG_ADD,
    MSG_CANCEL,
    MSG_DTYPE,
    MSG_MARKET,
    REJECT_DTYPE,
)
from tests import strategies
from tests.matching.books import book_state, last_outcome

OK = MatchCode.OK
INT64_MAX = (1 << 63) - 1


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


# -- resting and queries --


def test_limit_on_empty_book_rests_in_full(new_book):
    book = new_book(track_deltas=True)

    assert book.limit(7, BUY, 100, 5, owner=3) == OK

    assert last_outcome(book) == (0, 5, EXPIRE_NONE)
    assert book.order(7) == (BUY, 100, 5, 3)
    assert (book.best_bid(), book.best_ask()) == (100, None)
    assert (len(book), book.resting_qty, 7 in book) == (1, 5, True)
    assert deltas(book) == [(100, 5, BUY)]
    assert fills(book) == []


def test_iter_orders_lists_bids_best_first_then_asks_best_first_fifo_within_level(new_book):
    book = new_book()
    for oid, side, price in [(1, BUY, 98), (2, SELL, 103), (3, BUY, 99), (4, BUY, 98),
                             (5, SELL, 101), (6, SELL, 103)]:
        book.limit(oid, side, price, oid)

    assert list(book.iter_orders()) == [(3, 3, 99), (1, 1, 98), (4, 4, 98), (5, 5, 101),
                                        (2, 2, 103), (6, 6, 103)]


def test_depth_lists_levels_best_first_and_stops_at_n(new_book):
    book = new_book()
    ladder(book)
    book.limit(5, BUY, 99, 4)

    assert book.depth(BUY, 10) == [(99, 7), (98, 2)]
    assert book.depth(SELL, 1) == [(101, 4)]
    assert book.depth(SELL, 0) == []


def test_level_qty_is_the_level_total_and_zero_where_nothing_rests(new_book):
    book = new_book()
    ladder(book)
    book.limit(5, SELL, 101, 6)

    assert book.level_qty(SELL, 101) == 10
    assert book.level_qty(BUY, 101) == 0
    assert book.level_qty(BUY, 100) == 0


def test_membership_is_false_for_anything_that_is_not_an_integer_id(new_book):
    book = new_book()
    book.limit(1, BUY, 100, 1)

    assert 1 in book and np.int64(1) in book and 2 not in book
    assert "1" not in book
    assert 1.0 not in book
    assert (True in book) is False   # a bool is not an order id
    assert (1 << 70) not in book


def test_order_of_unknown_id_raises_unknown_order_error(new_book):
    book = new_book()
    ladder(book)

    with pytest.raises(UnknownOrderError, match="is not resting"):
        book.order(99)


def test_queue_position_counts_the_lots_resting_ahead(new_book):
    book = new_book()
    book.limit(1, SELL, 101, 4)
    book.limit(2, SELL, 101, 3)
    book.limit(3, SELL, 101, 2)
    book.limit(4, SELL, 102, 9)

    assert [book.queue_position(oid) for oid in (1, 2, 3, 4)] == [0, 4, 7, 0]


def test_queue_position_shrinks_as_orders_ahead_trade_and_cancel(new_book):
    book = new_book()
    book.limit(1, SELL, 101, 4)
    book.limit(2, SELL, 101, 3)
    book.limit(3, SELL, 101, 2)

    book.market(10, BUY, 3)  # takes 3 of order 1
    assert book.queue_position(3) == 1 + 3
    book.cancel(2)
    assert book.queue_position(3) == 1


def test_queue_position_of_unknown_order_raises_unknown_order_error(new_book):
    book = new_book()

    with pytest.raises(UnknownOrderError):
        book.queue_position(1)


def test_impact_price_averages_whole_levels_and_a_fractional_last_lot(new_book):
    book = new_book()
    book.limit(1, SELL, 100, 2)  # 200 ticks x lots
    book.limit(2, SELL, 110, 3)  # 330

    # 200 buys 2 lots at 100; the other 110 buys one lot at 110
    assert math.isclose(book.impact_price(BUY, 310), 310 / 3)
    # a fraction of a lot: 55 of 110 is half a lot
    assert math.isclose(book.impact_price(BUY, 255), 255 / 2.5)
    assert math.isclose(book.impact_price(BUY, 50), 100.0)


def test_impact_price_of_exactly_the_whole_side_is_its_average(new_book):
    book = new_book()
    book.limit(1, SELL, 100, 2)
    book.limit(2, SELL, 110, 3)

    assert math.isclose(book.impact_price(BUY, 530), 530 / 5)


def test_impact_price_is_none_when_the_book_is_too_thin(new_book):
    book = new_book()
    book.limit(1, SELL, 100, 2)

    assert book.impact_price(BUY, 201) is None
    assert book.impact_price(SELL, 1) is None  # no bids at all


def test_impact_price_of_a_seller_walks_bids_from_the_highest(new_book):
    book = new_book()
    book.limit(1, BUY, 100, 1)
    book.limit(2, BUY, 90, 10)

    assert math.isclose(book.impact_price(SELL, 280), 280 / 3)


# -- matching --


def test_crossing_limit_trades_at_maker_prices_best_level_first_and_rests_the_rest(new_book):
    book = new_book(track_deltas=True)
    ladder(book)

    assert book.limit(10, BUY, 102, 12) == OK

    assert fills(book) == [(10, 3, 101, 4, BUY, 1), (10, 4, 102, 5, BUY, 1)]
    assert last_outcome(book) == (9, 3, EXPIRE_NONE)
    assert (book.best_bid(), book.best_ask()) == (102, None)
    assert book.order(10) == (BUY, 102, 3, 0)


def test_fills_follow_arrival_order_within_a_level(new_book):
    book = new_book()
    for oid in (1, 2, 3):
        book.limit(oid, SELL, 101, 2)

    book.limit(10, BUY, 101, 5)

    assert fills(book) == [(10, 1, 101, 2, BUY, 1), (10, 2, 101, 2, BUY, 1),
                           (10, 3, 101, 1, BUY, 0)]
    assert list(book.iter_orders()) == [(3, 1, 101)]


def test_partly_filled_maker_keeps_its_place_at_the_front(new_book):
    book = new_book()
    book.limit(1, SELL, 101, 5)
    book.limit(2, SELL, 101, 5)

    book.market(10, BUY, 2)
    book.limit(3, SELL, 101, 5)

    assert [oid for oid, _, _ in book.iter_orders()] == [1, 2, 3]
    assert book.order(1) == (SELL, 101, 3, 0)


def test_limit_does_not_trade_beyond_its_price(new_book):
    book = new_book()
    ladder(book)

    book.limit(10, SELL, 99, 10)

    assert fills(book) == [(10, 2, 99, 3, SELL, 1)]
    assert book.order(10) == (SELL, 99, 7, 0)
    assert (book.best_bid(), book.best_ask()) == (98, 99)


def test_duplicate_id_of_a_resting_order_is_rejected_and_changes_nothing(new_book):
    book = new_book(track_deltas=True)
    ladder(book)
    before = book_state(book)

    assert book.limit(3, BUY, 101, 1) == MatchCode.DUPLICATE_ORDER_ID

    assert last_outcome(book) == (0, 0, EXPIRE_NONE)
    assert book_state(book) == before
    assert (fills(book), deltas(book)) == ([], [])


def test_market_order_with_the_id_of_a_resting_order_is_rejected_as_duplicate(new_book):
    book = new_book()
    ladder(book)
    before = book_state(book)

    assert book.market(3, BUY, 1) == MatchCode.DUPLICATE_ORDER_ID

    assert book_state(book) == before
    assert fills(book) == []


def test_id_of_a_filled_order_can_be_used_again(new_book):
    book = new_book()
    book.limit(1, SELL, 101, 2)
    book.market(2, BUY, 2)

    assert book.limit(1, SELL, 105, 1) == OK
    assert book.order(1) == (SELL, 105, 1, 0)


def test_any_int64_is_a_valid_order_id_and_owner(new_book):
    book = new_book()
    for oid in (0, -1, -(1 << 63), INT64_MAX):
        assert book.limit(oid, BUY, 100, 1, owner=oid) == OK
    book.market(5, SELL, 4)

    assert [f[1] for f in fills(book)] == [0, -1, -(1 << 63), INT64_MAX]
    assert len(book) == 0


# -- time in force --


def test_ioc_remainder_expires_without_resting(new_book):
    book = new_book()
    ladder(book)

    assert book.limit(10, BUY, 101, 6, tif=IOC) == OK

    assert last_outcome(book) == (4, 0, EXPIRE_IOC)
    assert 10 not in book
    assert (book.best_bid(), book.best_ask()) == (99, 102)


def test_ioc_that_fills_completely_reports_no_expiry(new_book):
    book = new_book()
    ladder(book)

    book.limit(10, BUY, 101, 4, tif=IOC)

    assert last_outcome(book) == (4, 0, EXPIRE_NONE)


def test_ioc_that_cannot_trade_is_accepted_and_expires(new_book):
    book = new_book()
    ladder(book)

    assert book.limit(10, BUY, 100, 3, tif=IOC) == OK
    assert last_outcome(book) == (0, 0, EXPIRE_IOC)


def test_fok_that_is_fillable_fills_completely_across_levels(new_book):
    book = new_book()
    ladder(book)

    assert book.limit(10, BUY, 102, 9, tif=FOK) == OK

    assert last_outcome(book) == (9, 0, EXPIRE_NONE)
    assert fills(book) == [(10, 3, 101, 4, BUY, 1), (10, 4, 102, 5, BUY, 1)]


def test_fok_not_fillable_changes_nothing(new_book):
    book = new_book(track_deltas=True)
    ladder(book)
    before = book_state(book)

    assert book.limit(10, BUY, 102, 10, tif=FOK) == MatchCode.FOK_NOT_FILLABLE

    assert last_outcome(book) == (0, 0, EXPIRE_NONE)
    assert book_state(book) == before
    assert (fills(book), deltas(book), expired(book)) == ([], [], [])


def test_fok_counts_only_liquidity_within_its_limit_price(new_book):
    book = new_book()
    ladder(book)

    assert book.limit(10, BUY, 101, 5, tif=FOK) == MatchCode.FOK_NOT_FILLABLE
    assert book.limit(10, BUY, 101, 4, tif=FOK) == OK


@pytest.mark.parametrize(("stp", "code"), [
    # the own order (2 lots) sits between 1 lot and 3 lots of others; the FOK wants 3
    (STP_EXPIRE_TAKER, MatchCode.FOK_NOT_FILLABLE),  # stopped at the own order after 1 lot
    (STP_EXPIRE_BOTH, MatchCode.FOK_NOT_FILLABLE),
    (STP_EXPIRE_MAKER, MatchCode.OK),  # the own order is removed, the 3 lots behind count
    (STP_NONE, MatchCode.OK),  # trades with its own order
])
def test_fok_counts_liquidity_the_way_its_stp_mode_would_consume_it(new_book, stp, code):
    book = new_book()
    book.limit(1, SELL, 101, 1, owner=5)
    book.limit(2, SELL, 101, 2, owner=9)
    book.limit(3, SELL, 102, 3, owner=5)
    before = book_state(book)

    assert book.limit(10, BUY, 102, 3, tif=FOK, owner=9, stp=stp) == code

    if code != OK:
        assert book_state(book) == before
        assert expired(book) == []
    else:
        assert book.last_filled == 3


def test_fok_filled_before_reaching_an_own_order_is_fillable_under_expire_taker(new_book):
    book = new_book()
    book.limit(1, SELL, 101, 2, owner=5)
    book.limit(2, SELL, 101, 2, owner=9)

    assert book.limit(10, BUY, 101, 2, tif=FOK, owner=9, stp=STP_EXPIRE_TAKER) == OK
    assert book.order(2) == (SELL, 101, 2, 9)


def test_post_only_that_would_cross_is_rejected_and_changes_nothing(new_book):
    book = new_book(track_deltas=True)
    ladder(book)
    before = book_state(book)

    assert book.limit(10, BUY, 101, 1, tif=POST_ONLY) == MatchCode.POST_ONLY_WOULD_CROSS
    assert book.limit(11, SELL, 99, 1, tif=POST_ONLY) == MatchCode.POST_ONLY_WOULD_CROSS

    assert last_outcome(book) == (0, 0, EXPIRE_NONE)
    assert book_state(book) == before
    assert (fills(book), deltas(book)) == ([], [])


def test_post_only_that_does_not_cross_rests_in_full(new_book):
    book = new_book()
    ladder(book)

    assert book.limit(10, BUY, 100, 7, tif=POST_ONLY) == OK

    assert last_outcome(book) == (0, 7, EXPIRE_NONE)
    assert book.best_bid() == 100


def test_post_only_crossing_the_same_owner_is_still_rejected(new_book):
    book = new_book()
    book.limit(1, SELL, 101, 1, owner=4)

    code = book.limit(2, BUY, 101, 1, tif=POST_ONLY, owner=4, stp=STP_EXPIRE_MAKER)

    assert code == MatchCode.POST_ONLY_WOULD_CROSS
    assert 1 in book


# -- market orders --


def test_market_sweeps_levels_and_its_remainder_expires(new_book):
    book = new_book(track_deltas=True)
    ladder(book)

    assert book.market(10, BUY, 12) == OK

    assert fills(book) == [(10, 3, 101, 4, BUY, 1), (10, 4, 102, 5, BUY, 1)]
    assert last_outcome(book) == (9, 0, EXPIRE_IOC)
    assert book.best_ask() is None and 10 not in book
    assert deltas(book) == [(101, 0, SELL), (102, 0, SELL)]


def test_market_on_an_empty_side_fills_nothing_and_expires(new_book):
    book = new_book()

    assert book.market(1, SELL, 3) == OK
    assert last_outcome(book) == (0, 0, EXPIRE_IOC)


def test_market_protection_price_stops_sweep(new_book):
    book = new_book()
    ladder(book)

    book.market(10, BUY, 12, protect_price=101)
    assert fills(book) == [(10, 3, 101, 4, BUY, 1)]
    assert last_outcome(book) == (4, 0, EXPIRE_IOC)

    book.market(11, SELL, 9, protect_price=99)
    assert fills(book) == [(11, 2, 99, 3, SELL, 1)]
    assert book.best_bid() == 98


def test_market_protection_beyond_the_book_does_not_bind(new_book):
    book = new_book()
    ladder(book)

    book.market(10, SELL, 5, protect_price=1)

    assert last_outcome(book) == (5, 0, EXPIRE_NONE)


def test_market_orders_are_never_out_of_range(new_book):
    book = new_book(max_levels=2)
    book.limit(1, SELL, 1_000, 1)
    book.limit(2, BUY, 10, 1)

    assert book.market(3, BUY, 1) == OK
    assert book.market(4, SELL, 1, protect_price=5) == OK
    assert book.last_filled == 1


# -- self-trade prevention --


def stp_book(new_book):
    """Asks at 101: order 1 (owner 9, 2 lots), order 2 (owner 5, 3 lots), order 3 (owner 9,
    4 lots); order 4 (owner 7, 6 lots) at 102. The takers below trade as owner 5."""
    book = new_book(track_deltas=True)
    book.limit(1, SELL, 101, 2, owner=9)
    book.limit(2, SELL, 101, 3, owner=5)
    book.limit(3, SELL, 101, 4, owner=9)
    book.limit(4, SELL, 102, 6, owner=7)
    book.drain_deltas()
    return book


def test_stp_expire_taker_stops_the_taker_and_keeps_the_maker(new_book):
    book = stp_book(new_book)

    assert book.limit(10, BUY, 102, 8, owner=5, stp=STP_EXPIRE_TAKER) == OK

    assert fills(book) == [(10, 1, 101, 2, BUY, 1)]
    assert last_outcome(book) == (2, 0, EXPIRE_STP)  # a GTC: nothing rests
    assert 10 not in book and 2 in book
    assert expired(book) == []
    assert deltas(book) == [(101, 7, SELL)]


def test_stp_expire_maker_removes_resting_order_and_continues(new_book):
    book = stp_book(new_book)

    assert book.limit(10, BUY, 102, 8, owner=5, stp=STP_EXPIRE_MAKER) == OK

    assert fills(book) == [(10, 1, 101, 2, BUY, 1), (10, 3, 101, 4, BUY, 1),
                           (10, 4, 102, 2, BUY, 0)]
    assert expired(book) == [(2, 101, 3, SELL, EXPIRE_STP)]
    assert last_outcome(book) == (8, 0, EXPIRE_NONE)
    assert 2 not in book
    assert deltas(book) == [(101, 0, SELL), (102, 4, SELL)]


def test_stp_expire_maker_then_rest_of_a_gtc_rests(new_book):
    book = new_book()
    book.limit(1, SELL, 101, 3, owner=5)

    book.limit(10, BUY, 101, 2, owner=5, stp=STP_EXPIRE_MAKER)

    assert last_outcome(book) == (0, 2, EXPIRE_NONE)
    assert list(book.iter_orders()) == [(10, 2, 101)]


def test_stp_expire_both_removes_the_maker_and_stops_the_taker(new_book):
    book = stp_book(new_book)

    assert book.limit(10, BUY, 102, 8, owner=5, stp=STP_EXPIRE_BOTH) == OK

    assert fills(book) == [(10, 1, 101, 2, BUY, 1)]
    assert expired(book) == [(2, 101, 3, SELL, EXPIRE_STP)]
    assert last_outcome(book) == (2, 0, EXPIRE_STP)
    assert [oid for oid, _, _ in book.iter_orders()] == [3, 4]


def test_stp_stopping_at_the_head_of_a_level_still_emits_that_levels_delta(new_book):
    book = stp_book(new_book)
    book.cancel(1)
    book.drain_deltas()

    book.market(10, BUY, 5, owner=5, stp=STP_EXPIRE_TAKER)

    assert last_outcome(book) == (0, 0, EXPIRE_STP)
    assert deltas(book) == [(101, 7, SELL)]  # touched, unchanged


def test_stp_never_applies_to_the_anonymous_owner(new_book):
    book = new_book()
    book.limit(1, SELL, 101, 2, owner=0)

    book.limit(10, BUY, 101, 2, owner=0, stp=STP_EXPIRE_TAKER)

    assert fills(book) == [(10, 1, 101, 2, BUY, 1)]


def test_stp_none_lets_an_owner_trade_with_itself(new_book):
    book = new_book()
    book.limit(1, SELL, 101, 2, owner=5, stp=STP_EXPIRE_BOTH)

    book.market(10, BUY, 2, owner=5, stp=STP_NONE)  # the maker's mode does not matter

    assert fills(book) == [(10, 1, 101, 2, BUY, 1)]


def test_stp_market_order_expire_maker_sweeps_past_own_orders(new_book):
    book = stp_book(new_book)

    book.market(10, BUY, 20, owner=9, stp=STP_EXPIRE_MAKER)

    assert fills(book) == [(10, 2, 101, 3, BUY, 1), (10, 4, 102, 6, BUY, 1)]
    assert expired(book) == [(1, 101, 2, SELL, EXPIRE_STP), (3, 101, 4, SELL, EXPIRE_STP)]
    assert last_outcome(book) == (9, 0, EXPIRE_IOC)
    assert len(book) == 0


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


# -- argument checks --


@pytest.mark.parametrize(("call", "message"), [
    (dict(oid=1.5), r"'oid' must be an integer \(got 1\.5\)"),
    (dict(oid=True), r"'oid' must be an integer \(got True\)"),
    (dict(oid=1 << 63), r"'oid' must be a 64-bit signed integer \(got 9223372036854775808\)"),
    (dict(side=2), r"'side' must be .* \(got 2\)"),
    (dict(side=-1), r"'side' must be .* \(got -1\)"),
    (dict(price=0), r"'price' must be > 0 \(got 0\)"),
    (dict(price=-100), r"'price' must be > 0 \(got -100\)"),
    (dict(price=100.0), r"'price' must be an integer \(got 100\.0\)"),
    (dict(qty=0), r"'qty' must be > 0 \(got 0\)"),
    (dict(qty=-3), r"'qty' must be > 0 \(got -3\)"),
    (dict(qty=1 << 64), r"'qty' must be a 64-bit signed integer"),
    (dict(tif=4), r"'tif' must be .* \(got 4\)"),
    (dict(owner=False), r"'owner' must be an integer \(got False\)"),
    (dict(owner=-(1 << 63) - 1), r"'owner' must be a 64-bit signed integer"),
    (dict(stp=-1), r"'stp' must be .* \(got -1\)"),
])
def test_malformed_limit_raises_invalid_order_error_naming_field_and_value(new_book, call,
                                                                        message):
    book = new_book()
    book.limit(1, SELL, 101, 1)
    args = dict(oid=2, side=BUY, price=100, qty=1, tif=GTC, owner=0, stp=STP_NONE) | call

    with pytest.raises(InvalidOrderError, match=message) as raised:
        book.limit(**args)

    assert isinstance(raised.value, ValueError)


@pytest.mark.parametrize(("call", "message"), [
    (dict(side=3), r"'side' must be .* \(got 3\)"),
    (dict(qty=0), r"'qty' must be > 0 \(got 0\)"),
    (dict(protect_price=-1), r"'protect_price' must be >= 0.* \(got -1\)"),
    (dict(stp=4), r"'stp' must be .* \(got 4\)"),
    (dict(owner="a"), r"'owner' must be an integer \(got 'a'\)"),
])
def test_malformed_market_raises_invalid_order_error(new_book, call, message):
    book = new_book()
    args = dict(oid=2, side=BUY, qty=1, protect_price=0, owner=0, stp=STP_NONE) | call

    with pytest.raises(InvalidOrderError, match=message):
        book.market(**args)


@pytest.mark.parametrize(("call", "message"), [
    (dict(qty=0), r"'qty' must be > 0 \(got 0\)"),
    (dict(price=-1), r"'price' must be .* \(got -1\)"),
    (dict(oid=2.0), r"'oid' must be an integer \(got 2\.0\)"),
])
def test_malformed_amend_raises_invalid_order_error_before_looking_up_the_id(new_book, call,
                                                                            message):
    book = new_book()
    args = dict(oid=2, qty=1, price=0) | call  # oid 2 is not resting: the check comes first

    with pytest.raises(InvalidOrderError, match=message):
        book.amend(**args)


def test_arguments_are_checked_one_by_one_in_signature_order(new_book):
    book = new_book()

    # side comes before price: its rule is checked before price's type
    with pytest.raises(InvalidOrderError, match="'side'"):
        book.limit(1, 2, 1.5, 0)
    with pytest.raises(InvalidOrderError, match="'qty'"):
        book.market(1, BUY, 0, protect_price=-1.0)
    with pytest.raises(InvalidOrderError, match="'qty'"):
        book.amend(1, -1, 1.5)


def test_malformed_command_changes_nothing_not_even_the_last_outcome(new_book):
    book = new_book(track_deltas=True)
    ladder(book)
    book.limit(10, BUY, 101, 6)
    before = (book_state(book), last_outcome(book))
    fills(book), deltas(book)

    with pytest.raises(InvalidOrderError):
        book.limit(11, SELL, 99, 0)
    with pytest.raises(UnknownOrderError):
        book.cancel(11)

    assert (book_state(book), last_outcome(book)) == before
    assert (fills(book), deltas(book)) == ([], [])


def test_numpy_integers_are_accepted_as_arguments(new_book):
    book = new_book()
    i64, u8 = np.int64, np.uint8

    assert book.limit(i64(1), u8(SELL), i64(101), np.uint32(2), tif=u8(GTC), owner=i64(4)) == OK
    assert book.amend(np.int32(1), i64(1), i64(0)) == OK
    assert book.market(i64(2), u8(BUY), i64(1), protect_price=i64(101)) == OK
    assert fills(book) == [(2, 1, 101, 1, BUY, 1)]


def test_queries_check_their_arguments(new_book):
    book = new_book()

    with pytest.raises(InvalidOrderError, match="'side'"):
        book.depth(2, 1)
    with pytest.raises(InvalidOrderError, match="'n' must be >= 0"):
        book.depth(BUY, -1)
    with pytest.raises(InvalidOrderError, match="'side'"):
        book.level_qty(5, 100)
    with pytest.raises(InvalidOrderError, match="'notional' must be > 0"):
        book.impact_price(BUY, 0)


def test_max_levels_must_be_at_least_one(book_cls):
    with pytest.raises(InvalidOrderError, match="'max_levels' must be >= 1"):
        book_cls(max_levels=0)


@pytest.mark.parametrize("dense_ids", [-1, (1 << 31) + 1])
def test_dense_ids_outside_its_range_is_refused(book_cls, dense_ids):
    with pytest.raises(InvalidOrderError, match=r"'dense_ids' must be 0 <= dense_ids <= 2\*\*31"):
        book_cls(dense_ids=dense_ids)


@pytest.mark.parametrize("dense_ids", [0, 1, 64])
def test_ids_either_side_of_the_direct_index_behave_alike(new_book, dense_ids):
    """Ids below ``dense_ids`` go to the compiled book's direct array, the others to its hash;
    the contract is the same for both, and for ids that move between them."""
    book = new_book(dense_ids=dense_ids)
    ids = [0, 1, 63, 64, 65, 1 << 20, -5]
    for i, oid in enumerate(ids):
        assert book.limit(oid, SELL, 100 + i, 2) == OK
    for oid in ids:
        assert oid in book
        assert book.limit(oid, BUY, 50, 1) == MatchCode.DUPLICATE_ORDER_ID
    book.cancel(64)
    assert 64 not in book
    book.market(99, BUY, 3)                       # fills 0 in full, then 1 in part
    assert [f[1] for f in fills(book)] == [0, 1]
    assert 0 not in book and 1 in book
    assert book.limit(0, SELL, 200, 1) == OK      # a filled id may be used again
    assert sorted(oid for oid, _, _ in book.iter_orders()) == sorted([0, 1, 63, 65, 1 << 20, -5])


# -- the batch API --


def test_process_applies_adds_cancels_and_markets_and_returns_their_fills(new_book):
    book = new_book(track_deltas=True)
    msgs = batch(
        (MSG_ADD, SELL, 3, 1, 101),
        (MSG_ADD, SELL, 2, 2, 102),
        (MSG_ADD, BUY, 4, 3, 99),
        (MSG_MARKET, BUY, 4, 4, 0),
        (MSG_CANCEL, 0, 0, 3, 0),
    )

    out = book.process(msgs)

    assert out.dtype == FILL_DTYPE
    assert out.tolist() == [(4, 1, 101, 3, BUY, 1), (4, 2, 102, 1, BUY, 0)]
    assert fills(book) == []  # returned, not buffered
    assert list(book.iter_orders()) == [(2, 1, 102)]
    assert deltas(book) == [(101, 3, SELL), (102, 2, SELL), (99, 4, BUY), (101, 0, SELL),
                            (102, 1, SELL), (99, 0, BUY)]
    assert last_outcome(book) == (4, 0, EXPIRE_NONE)  # of the last ADD or MARKET
    assert len(book.drain_rejects()) == 0


def test_process_records_rejections_by_message_index(new_book):
    book = new_book(max_levels=10)
    msgs = batch(
        (MSG_ADD, SELL, 3, 1, 101),
        (MSG_ADD, BUY, 3, 1, 99),  # duplicate id
        (MSG_CANCEL, 0, 0, 77, 0),  # unknown
        (MSG_ADD, SELL, 1, 2, 111),  # 101..111 spans 10
        (MSG_MARKET, BUY, 1, 1, 0),  # duplicate id (order 1 rests)
        (MSG_ADD, SELL, 1, 3, 110),
    )

    book.process(msgs)

    assert book.drain_rejects().tolist() == [
        (1, 1, MatchCode.DUPLICATE_ORDER_ID), (2, 77, MatchCode.UNKNOWN_ORDER_ID),
        (3, 2, MatchCode.PRICE_OUT_OF_RANGE), (4, 1, MatchCode.DUPLICATE_ORDER_ID)]
    assert list(book.iter_orders()) == [(1, 3, 101), (3, 1, 110)]


def test_rejects_of_successive_batches_accumulate_until_drained(new_book):
    book = new_book()
    book.process(batch((MSG_CANCEL, 0, 0, 5, 0)))
    book.process(batch((MSG_ADD, BUY, 1, 1, 100), (MSG_CANCEL, 0, 0, 6, 0)))

    assert book.drain_rejects().tolist() == [(0, 5, MatchCode.UNKNOWN_ORDER_ID),
                                             (1, 6, MatchCode.UNKNOWN_ORDER_ID)]


def test_process_leaves_fills_buffered_by_earlier_commands_in_the_buffer(new_book):
    book = new_book()
    ladder(book)
    book.market(10, BUY, 1)

    out = book.process(batch((MSG_MARKET, SELL, 1, 11, 0)))

    assert out.tolist() == [(11, 2, 99, 1, SELL, 0)]
    assert fills(book) == [(10, 3, 101, 1, BUY, 0)]


def test_process_of_an_empty_batch_does_nothing(new_book):
    book = new_book()
    ladder(book)
    before = book_state(book)

    out = book.process(np.zeros(0, MSG_DTYPE))

    assert out.dtype == FILL_DTYPE and len(out) == 0
    assert book_state(book) == before


def test_cancel_records_ignore_their_side_qty_and_price(new_book):
    book = new_book()
    ladder(book)

    book.process(batch((MSG_CANCEL, 255, 9, 1, -5)))

    assert 1 not in book


@pytest.mark.parametrize("msgs", [
    [(0, 0, 0, 1, 1, 100)],
    np.zeros(2, np.dtype([("kind", "u1"), ("side", "u1"), ("qty", "u4"), ("oid", "i8"),
                          ("price", "i8")])),  # no pad: a different layout
    np.zeros(2, np.int64),
    np.zeros((2, 2), MSG_DTYPE),
], ids=["list", "other-record-layout", "int64", "2-D"])
def test_process_with_the_wrong_array_raises_invalid_batch_error(new_book, msgs):
    book = new_book()

    with pytest.raises(InvalidBatchError, match="'msgs'") as raised:
        book.process(msgs)

    assert isinstance(raised.value, TypeError)


def test_invalid_batch_error_names_the_expected_dtype(new_book):
    book = new_book()

    with pytest.raises(InvalidBatchError, match=r"MSG_DTYPE.*got.*int64"):
        book.process(np.zeros(2, np.int64))


@pytest.mark.parametrize(("record", "message"), [
    ((3, 0, 1, 9, 100), r"'msgs\[2\]\.kind' must be .* \(got 3\)"),
    ((MSG_ADD, 2, 1, 9, 100), r"'msgs\[2\]\.side' must be .* \(got 2\)"),
    ((MSG_MARKET, 7, 1, 9, 0), r"'msgs\[2\]\.side' must be .* \(got 7\)"),
    ((MSG_ADD, 0, 0, 9, 100), r"'msgs\[2\]\.qty' must be > 0 \(got 0\)"),
    ((MSG_MARKET, 0, 0, 9, 0), r"'msgs\[2\]\.qty' must be > 0 \(got 0\)"),
    ((MSG_ADD, 0, 1, 9, 0), r"'msgs\[2\]\.price' must be > 0 \(got 0\)"),
    ((MSG_ADD, 0, 1, 9, -4), r"'msgs\[2\]\.price' must be > 0 \(got -4\)"),
])
def test_process_checks_every_record_before_applying_any(new_book, record, message):
    book = new_book(track_deltas=True)
    msgs = batch((MSG_ADD, SELL, 1, 1, 101), (MSG_MARKET, BUY, 1, 2, 0), record,
                 (MSG_ADD, SELL, 1, 3, 101))

    with pytest.raises(InvalidOrderError, match=message):
        book.process(msgs)

    assert len(book) == 0
    assert (fills(book), deltas(book)) == ([], [])


# -- properties --


@given(commands=st.lists(strategies.book_commands, max_size=40))
@settings(deadline=None)
def test_every_command_conserves_lots(book_cls, commands):
    """Lots are never created or lost: what a taker brings is filled, rested or expired, and
    the book shrinks by exactly what was filled against it, cancelled or expired by STP."""
    book = book_cls()
    for method, kwargs in commands:
        before = book.resting_qty
        resting = {oid: qty for oid, qty, _ in book.iter_orders()}
        try:
            code = getattr(book, method)(**kwargs)
        except UnknownOrderError:
            assert kwargs["oid"] not in resting
            continue
        filled = int(book.drain_fills()["qty"].sum())
        removed_by_stp = int(book.drain_expired()["qty"].sum())
        after = book.resting_qty
        if method == "cancel":
            assert after == before - resting[kwargs["oid"]]
        elif code != OK:
            assert after == before and filled == 0
            assert last_outcome(book) == (0, 0, EXPIRE_NONE)
        elif method == "amend":
            gone = resting[kwargs["oid"]]
            assert book.last_filled == filled
            assert after == before - gone - filled - removed_by_stp + book.last_rested
        else:
            assert book.last_filled == filled
            assert after == before - filled - removed_by_stp + book.last_rested
            assert filled + book.last_rested <= kwargs["qty"]
            leftover = kwargs["qty"] - filled - book.last_rested
            assert (leftover > 0) == (book.last_expire != EXPIRE_NONE)
        book.check_invariants()


def test_reference_module_doctests_pass():
    result = doctest.testmod(matching.reference)
    assert result.attempted > 0 and result.failed == 0
