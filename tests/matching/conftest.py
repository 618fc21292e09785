from __future__ import annotations

import pytest

from tests.matching.books import BOOK_PARAMS, CheckedBook


@pytest.fixture(params=BOOK_PARAMS, scope="session")
def book_cls(request):
    """The reference book, then the compiled book (skipped, with the reason, if not built)."""
    return request.param


@pytest.fixture
def new_book(book_cls):
    """Build a book of the class under test that checks its invariants after every command."""

    def build(**kwargs):
        return CheckedBook(book_cls(**kwargs))

    return build
