"""Scenarios of the order book contract (matching/_book.pyi), run on both books:
resting and queries, matching, time in force, market orders, self-trade prevention.

Every test gets ``new_book`` (see conftest.py): a reference book, then a compiled book when
it is built, wrapped so that ``check_invariants()`` runs after every command.
"""
from __future__ import annotations

import math

import numpy as np
import pytest

from matching.codes import (
    BUY,
    EXPIRE_IOC,
    EXPIRE_NONE,
    EXPIRE_STP,
    FOK,
    IOC,
    POST_ONLY,
    SELL,
    STP_EXPIRE_BOTH,
    STP_EXPIRE_MAKER,
    STP_EXPIRE_TAKER,
    STP_NONE,
    MatchCode,
)
from matching.errors import UnknownOrderError
from tests.matching.books import book_state, last_outcome
from tests.matching.helpers import deltas, expired, fills, ladder

OK = MatchCode.OK
INT64_MAX = (1 << 63) - 1

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
