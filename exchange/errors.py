"""Exception tree of the :mod:`exchange` package.

Exceptions are for programming errors and malformed input. Market and risk outcomes (a
post-only order that would cross, insufficient margin, a reduce-only violation) are
``OrderRejected`` events carrying a :class:`exchange.codes.RejectReason`, never exceptions.

Each exception subclasses the builtin it resembles, so callers that only know the builtins
still catch it::

    ExchangeError(Exception)
    ├── ConfigError(ExchangeError, ValueError)          bad preset / scenario / spec value
    ├── InvalidCommandError(ExchangeError, ValueError)  malformed command or argument
    ├── DataError(ExchangeError, ValueError)            malformed recorded-data file (names file, line, column)
    ├── UnknownAccountError(ExchangeError, KeyError)
    └── UnknownSymbolError(ExchangeError, KeyError)

Messages name the field, the rule and the value received, as in attrs:
``'qty' must be > 0 (got -3)``. Errors built by :func:`invalid` (and :meth:`ConfigError.for_key`)
also carry those three parts as attributes ``field``, ``rule`` and ``value`` so that a caller
can re-phrase them (the preset loader uses this to name the TOML file and dotted key).
"""
from __future__ import annotations

from typing import Any


class ExchangeError(Exception):
    """Base class of every error raised by :mod:`exchange`."""

    #: name of the offending field, when the error is about one value (else None)
    field: str | None = None
    #: the rule that was broken, phrased to follow "must be" (else None)
    rule: str | None = None
    #: the value received (meaningful only when ``rule`` is set)
    value: Any = None


class ConfigError(ExchangeError, ValueError):
    """A preset, scenario or instrument value breaks a rule.

    When raised by the preset loader the message names the file, the dotted key, the rule and
    the value: ``binance_usdm.toml: 'instruments.BTCUSDT.tick_size' must be > 0 (got '-0.1')``;
    the attributes ``source`` and ``key`` hold the first two.
    """

    source: str | None = None
    key: str | None = None

    @classmethod
    def for_key(cls, source: str | None, key: str, rule: str, value: Any) -> ConfigError:
        """Build the loader's message for ``key`` (a dotted path) of ``source`` (a file name).

        >>> str(ConfigError.for_key("x.toml", "venue.name", "a non-empty string", ""))
        "x.toml: 'venue.name' must be a non-empty string (got '')"
        >>> str(ConfigError.for_key(None, "mmr", "> 0", 0))
        "'mmr' must be > 0 (got 0)"
        """
        prefix = f"{source}: " if source else ""
        err = cls(f"{prefix}{key!r} must be {rule} (got {value!r})")
        err.source, err.key, err.field, err.rule, err.value = source, key, key, rule, value
        return err


class InvalidCommandError(ExchangeError, ValueError):
    """A command or argument is malformed; the message names the field, the rule and the value."""


class DataError(ExchangeError, ValueError):
    """A recorded market-data file (Tardis / Binance public data CSV) breaks its layout.

    The message names the file, the 1-based line, the column, the rule and the value:
    ``BTCUSDT-trades-2024-01-01.zip: line 7, column 'price' must be a number > 0 (got 'abc')``;
    the attributes ``source``, ``line`` and ``column`` hold the first three (``line`` / ``column``
    are None when the error is about the whole file).

    >>> err = DataError.at("f.csv", 7, "price", "a number > 0", "abc")
    >>> str(err), err.line, err.column, isinstance(err, ValueError)
    ("f.csv: line 7, column 'price' must be a number > 0 (got 'abc')", 7, 'price', True)
    """

    source: str | None = None
    line: int | None = None
    column: str | None = None

    @classmethod
    def at(cls, source: str, line: int | None, column: str | None, rule: str, value: Any) -> DataError:
        where = []
        if line is not None:
            where.append(f"line {line}")
        if column is not None:
            where.append(f"column {column!r}")
        place = ", ".join(where) if where else "the file"
        err = cls(f"{source}: {place} must be {rule} (got {value!r})")
        err.source, err.line, err.column = source, line, column
        err.field, err.rule, err.value = column, rule, value
        return err


class _KeyErrorMessage:
    """Mixin: KeyError quotes its argument in ``str()``; keep the sentence readable."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else self.__class__.__name__


class UnknownAccountError(_KeyErrorMessage, ExchangeError, KeyError):
    """No account has this id."""


class UnknownSymbolError(_KeyErrorMessage, ExchangeError, KeyError):
    """No instrument has this symbol."""


def invalid(field: str, rule: str, value: Any,
            error: type[ExchangeError] = InvalidCommandError) -> ExchangeError:
    """Build the house-style error ``'qty' must be > 0 (got -3)`` (an instance; raise it).

    ``error`` selects the class (default :class:`InvalidCommandError`); the returned exception
    carries ``field``, ``rule`` and ``value`` as attributes.

    >>> err = invalid("qty", "> 0", -3)
    >>> str(err), isinstance(err, ValueError), err.field, err.value
    ("'qty' must be > 0 (got -3)", True, 'qty', -3)
    >>> str(invalid("mmr", "< 1", 2, error=ConfigError))
    "'mmr' must be < 1 (got 2)"
    """
    err = error(f"{field!r} must be {rule} (got {value!r})")
    err.field, err.rule, err.value = field, rule, value
    return err
