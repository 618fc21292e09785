"""Exception tree of the matching package.

Exceptions are for programming errors and malformed input. Market outcomes (a post-only
order that would cross, an unfillable FOK, a duplicate order id) are result codes
(:class:`matching.codes.MatchCode`), never exceptions.
"""
from __future__ import annotations


class MatchingError(Exception):
    """Base class of every error raised by :mod:`matching`."""


class InvalidOrderError(MatchingError, ValueError):
    """An argument breaks a rule; the message names the field, the rule and the value."""


class InvalidBatchError(MatchingError, TypeError):
    """A batch array has the wrong type or dtype; the message names the field."""


class UnknownOrderError(MatchingError, KeyError):
    """The order id is not resting in the book."""

    def __str__(self) -> str:  # KeyError quotes its argument; keep the sentence readable
        return str(self.args[0]) if self.args else "unknown order"


class BookInvariantError(MatchingError, AssertionError):
    """``check_invariants()`` found the book in an inconsistent state (a bug)."""


def invalid(field: str, rule: str, value) -> InvalidOrderError:
    """Build the house-style message: ``'qty' must be > 0 (got -3)``."""
    return InvalidOrderError(f"{field!r} must be {rule} (got {value!r})")
