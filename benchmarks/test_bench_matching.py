"""pytest-benchmark versions of bench_matching.py's workloads (200,000-message stream).
Each asserts the end state it computed, so a fast wrong answer fails."""
import pytest

import matching
from _common import book_summary, end_state_matches, standard_stream
from bench_matching import columns, drive_per_order
from matching.reference import RefBook

N = 200_000


@pytest.fixture(scope="module")
def stream():
    _, msgs, expected = standard_stream(N)
    return msgs, expected


def test_batch_api(benchmark, stream):
    msgs, expected = stream
    book = matching.Book()

    def run():
        book.clear()
        return book.process(msgs)

    fills = benchmark(run)
    assert end_state_matches(book_summary(book, len(fills), int(fills["qty"].sum())), expected)


@pytest.mark.parametrize("factory", [matching.Book, RefBook], ids=["compiled", "reference"])
def test_per_order_api(benchmark, stream, factory):
    msgs, expected = stream
    cols = columns(msgs)

    def run():
        book = factory()
        drive_per_order(book, *cols)
        return book

    book = benchmark.pedantic(run, rounds=3 if factory is RefBook else 5, iterations=1)
    fills = book.drain_fills()
    assert end_state_matches(book_summary(book, len(fills), int(fills["qty"].sum())), expected)
