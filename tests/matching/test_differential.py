"""The compiled book against the reference book: same commands, same outputs, every step.

- A Hypothesis state machine drives both books with random commands (every tif, owner and
  STP mode, protected and unprotected markets, cancels and amends of resting and unknown ids,
  malformed calls, batches, a narrow price band so orders cross all the time, a tiny
  ``max_levels`` in some runs) and compares everything observable after each step.
- ``process`` must equal the same messages applied one at a time, on each book, and the
  compiled book's ``process`` must equal the reference's.
- The standard benchmark stream must reach the end state its generator computed.

Tests that need the compiled book are skipped, with the reason, until it is built.
"""
from __future__ import annotations

import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from matching.codes import BUY, SELL
from matching.errors import InvalidOrderError, UnknownOrderError
from matching.reference import DEFAULT_MAX_LEVELS, RefBook
from tests import strategies
from tests.matching.books import (
    COMPILED_BOOK,
    COMPILED_MISSING,
    DEEP,
    apply_one_at_a_time,
    as_rows,
    book_state,
    last_outcome,
    same_impact,
)

needs_compiled = pytest.mark.skipif(COMPILED_BOOK is None, reason=COMPILED_MISSING)

# max_examples comes from the Hypothesis profile (tests/conftest.py): 100 by default. Hypothesis
# spends ~3 ms drawing a command here, so 100 runs of 50 steps take ~20 s of the file's ~30 s.
STATEFUL_SETTINGS = settings(stateful_step_count=50, deadline=None)
IMPACT_NOTIONALS = (150, 2_000)
# the compiled book's id index: the default direct array (ids 0..2**24-1; the strategies' negative
# and extreme ids go to the hash), hash only, and a boundary inside the strategies' ids 1..30
DENSE_IDS = st.sampled_from([1 << 24, 0, 16])
# every other price of the band and an empty price either side of it
QUERY_PRICES = (strategies.PRICE_LOW - 1, *range(strategies.PRICE_LOW, strategies.PRICE_HIGH + 1, 2),
                strategies.PRICE_HIGH + 1)


def outcome(call):
    """("returned", value) or ("raised", exception class) of a call on a book."""
    try:
        return "returned", call()
    except Exception as exc:  # any class, so that a wrong one shows up as a difference
        return "raised", type(exc)


def assert_books_agree(ref, other) -> None:
    """Everything observable: last outcome, buffers (drained), queries, invariants."""
    ref.check_invariants()
    other.check_invariants()
    assert last_outcome(other) == last_outcome(ref), "last_filled/last_rested/last_expire"
    assert other.fill_count == ref.fill_count, "fill_count"
    for drain in ("drain_fills", "drain_deltas", "drain_expired", "drain_rejects"):
        assert as_rows(getattr(other, drain)()) == as_rows(getattr(ref, drain)()), drain
    assert book_state(other) == book_state(ref)
    for side in (BUY, SELL):
        assert other.depth(side, 10) == ref.depth(side, 10), f"depth({side}, 10)"
        for price in QUERY_PRICES:
            assert other.level_qty(side, price) == ref.level_qty(side, price), (side, price)
        for notional in IMPACT_NOTIONALS:
            expected, got = ref.impact_price(side, notional), other.impact_price(side, notional)
            assert same_impact(got, expected), f"impact_price({side}, {notional}): {got} != {expected}"


class BooksInLockstep(RuleBasedStateMachine):
    """Drives a reference book and ``other_cls`` with the same commands."""

    other_cls = COMPILED_BOOK

    @initialize(max_levels=strategies.max_levels, dense_ids=DENSE_IDS)
    def build_books(self, max_levels, dense_ids):
        self.ref = RefBook(track_deltas=True, max_levels=max_levels)
        self.other = self.other_cls(track_deltas=True, max_levels=max_levels, dense_ids=dense_ids)

    def both(self, method, *args, **kwargs):
        expected = outcome(lambda: getattr(self.ref, method)(*args, **kwargs))
        got = outcome(lambda: getattr(self.other, method)(*args, **kwargs))
        assert got == expected, f"{method}{args}{kwargs}: {got} != {expected}"
        return expected

    def resting_ids(self):
        return [oid for oid, _, _ in self.ref.iter_orders()]

    # -- COMMANDS --

    @rule(args=strategies.limit_args)
    def limit(self, args):
        self.both("limit", **args)

    @rule(args=strategies.market_args)
    def market(self, args):
        self.both("market", **args)

    @precondition(lambda self: len(self.ref) > 0)
    @rule(data=st.data())
    def cancel_resting(self, data):
        oid = data.draw(st.sampled_from(self.resting_ids()), label="oid")
        assert self.both("cancel", oid) == ("returned", True)

    @rule(oid=strategies.order_ids)
    def cancel_unknown(self, oid):
        if oid not in self.ref:
            assert self.both("cancel", oid) == ("raised", UnknownOrderError)

    @precondition(lambda self: len(self.ref) > 0)
    @rule(data=st.data(), qty=strategies.amend_quantities, price=strategies.amend_prices)
    def amend_resting(self, data, qty, price):
        oid = data.draw(st.sampled_from(self.resting_ids()), label="oid")
        self.both("amend", oid, qty, price)

    @precondition(lambda self: len(self.ref) > 0)
    @rule(data=st.data(), change=st.sampled_from([-2, -1, 0, 1, 3]))
    def amend_qty_only(self, data, change):
        """Down (keeps priority), same, or up (loses it), at the same price."""
        oid = data.draw(st.sampled_from(self.resting_ids()), label="oid")
        qty = max(1, self.ref.order(oid)[2] + change)
        self.both("amend", oid, qty)

    @rule(args=strategies.amend_args)
    def amend_any(self, args):
        """Any id: unknown ones must raise UnknownOrderError on both books."""
        resting = args["oid"] in self.ref
        expected = self.both("amend", **args)
        assert (expected == ("raised", UnknownOrderError)) == (not resting)

    @rule(call=strategies.invalid_commands)
    def malformed_call(self, call):
        method, kwargs = call
        assert self.both(method, **kwargs) == ("raised", InvalidOrderError)

    @rule(msgs=strategies.msg_batches(max_size=6))
    def process(self, msgs):
        expected = self.ref.process(msgs)
        got = self.other.process(msgs.copy())
        assert as_rows(got) == as_rows(expected), "process() fills"

    @precondition(lambda self: len(self.ref) > 15)
    @rule()
    def clear(self):
        self.both("clear")

    # -- comparison after every step --

    @invariant()
    def books_agree(self):
        assert_books_agree(self.ref, self.other)


class ReferenceAgainstItself(BooksInLockstep):
    """The same machine with the reference on both sides: keeps the harness honest (it must
    pass trivially) while the compiled book is not built."""

    other_cls = RefBook


TestCompiledBookMatchesReference = needs_compiled(BooksInLockstep.TestCase)
TestCompiledBookMatchesReference.settings = STATEFUL_SETTINGS

TestLockstepHarnessOnReferenceAlone = ReferenceAgainstItself.TestCase
TestLockstepHarnessOnReferenceAlone.settings = settings(max_examples=10, stateful_step_count=40,
                                                        deadline=None)


# -- the batch API --


@given(max_levels=strategies.max_levels, dense_ids=DENSE_IDS,
       batches=st.lists(strategies.msg_batches(max_size=25), min_size=1, max_size=3))
@settings(deadline=None)
def test_process_equals_the_same_messages_one_at_a_time(book_cls, max_levels, dense_ids, batches):
    in_batches = book_cls(track_deltas=True, max_levels=max_levels, dense_ids=dense_ids)
    one_by_one = book_cls(track_deltas=True, max_levels=max_levels, dense_ids=dense_ids)
    for msgs in batches:
        batch_fills = in_batches.process(msgs)
        rejects = apply_one_at_a_time(one_by_one, msgs)

        assert as_rows(batch_fills) == as_rows(one_by_one.drain_fills())
        assert len(in_batches.drain_fills()) == 0, "process() left its fills in the buffer"
        assert in_batches.drain_rejects().tolist() == rejects
        assert as_rows(in_batches.drain_deltas()) == as_rows(one_by_one.drain_deltas())
        assert len(in_batches.drain_expired()) == len(one_by_one.drain_expired()) == 0
        assert last_outcome(in_batches) == last_outcome(one_by_one)
        assert book_state(in_batches) == book_state(one_by_one)
        in_batches.check_invariants()


@needs_compiled
@given(max_levels=strategies.max_levels, dense_ids=DENSE_IDS,
       batches=st.lists(strategies.msg_batches(max_size=25), min_size=1, max_size=3))
@settings(deadline=None)
def test_compiled_process_equals_reference_process(max_levels, dense_ids, batches):
    ref = RefBook(track_deltas=True, max_levels=max_levels)
    compiled = COMPILED_BOOK(track_deltas=True, max_levels=max_levels, dense_ids=dense_ids)
    for msgs in batches:
        assert as_rows(compiled.process(msgs)) == as_rows(ref.process(msgs))
        assert_books_agree(ref, compiled)


@needs_compiled
def test_compiled_module_exports_the_reference_dtypes():
    import matching._book as compiled
    import matching.reference as reference

    for name in ("FILL_DTYPE", "DELTA_DTYPE", "EXPIRED_DTYPE", "REJECT_DTYPE"):
        assert getattr(compiled, name) == getattr(reference, name), name


# -- the standard benchmark stream --

BENCH_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "bench"


@pytest.fixture(scope="module")
def orderstream():
    if not (BENCH_DIR / "orderstream.py").is_file():
        pytest.skip(f"standard stream generator not found at {BENCH_DIR / 'orderstream.py'}")
    sys.path.insert(0, str(BENCH_DIR))
    try:
        import orderstream
    finally:
        sys.path.remove(str(BENCH_DIR))
    return orderstream


def test_standard_20k_stream_reaches_the_expected_end_state(book_cls, orderstream):
    msgs, expected = orderstream.generate(20_000)
    book = book_cls(max_levels=DEFAULT_MAX_LEVELS)

    fills = book.process(msgs)

    book.check_invariants()
    assert len(book.drain_rejects()) == 0  # the stream only cancels resting orders
    assert {
        "trades": len(fills),
        "traded_qty": int(fills["qty"].sum()),
        "resting_orders": len(book),
        "resting_qty": book.resting_qty,
        "bid_levels": len(book.depth(BUY, DEEP)),
        "ask_levels": len(book.depth(SELL, DEEP)),
        "best_bid": book.best_bid(),
        "best_ask": book.best_ask(),
        "checksum": orderstream.state_checksum(book.iter_orders()),
    } == {key: expected[key] for key in ("trades", "traded_qty", "resting_orders",
                                         "resting_qty", "bid_levels", "ask_levels",
                                         "best_bid", "best_ask", "checksum")}
