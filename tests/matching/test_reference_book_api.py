"""Scenarios of the order book contract (matching/_book.pyi), run on both books:
argument checks, the batch API, properties.

Every test gets ``new_book`` (see conftest.py): a reference book, then a compiled book when
it is built, wrapped so that ``check_invariants()`` runs after every command.
"""
from __future__ import annotations

import doctest

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import matching.reference
from matching.codes import (
    BUY,
    EXPIRE_NONE,
    GTC,
    SELL,
    STP_NONE,
    MatchCode,
)
from matching.errors import InvalidBatchError, InvalidOrderError, UnknownOrderError
from matching.reference import (
    FILL_DTYPE,
    MSG_ADD,
    MSG_CANCEL,
    MSG_DTYPE,
    MSG_MARKET,
)
from tests import strategies
from tests.matching.books import book_state, last_outcome
from tests.matching.helpers import batch, deltas, fills, ladder

OK = MatchCode.OK
INT64_MAX = (1 << 63) - 1

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
