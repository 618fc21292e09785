"""Reading scenario tables: typed parameters with defaults, one-line errors naming file/key/value.

A table schema is a ``dict`` of key → :class:`Param`; :func:`read_table` converts a TOML table
with it and raises :class:`~exchange.errors.ConfigError` for an unknown key (with a "did you
mean" hint), a missing required key or a value that breaks its rule, in the house format::

    flash_crash.toml: 'population.market_maker.count' must be an integer >= 0 (got -2)

Model parameters (volatilities, probabilities, basis points) are floats; money is a decimal
string or a number of the settlement asset converted exactly to atoms at this edge.
"""
from __future__ import annotations

import difflib
import math
from decimal import Decimal, InvalidOperation
from typing import Any
from collections.abc import Callable

import attrs

from exchange.errors import ConfigError

__all__ = ["Param", "REQUIRED", "read_table", "fail", "integer", "number", "money", "choice",
           "boolean", "string", "number_list", "integer_list", "check_known"]


class _Marker:
    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text


REQUIRED: Any = _Marker("<required>")
MISSING: Any = _Marker("<missing>")

Conv = Callable[[str, str, Any], Any]   # (source, dotted key, value) -> converted


def fail(source: str | None, key: str, rule: str, value: Any) -> ConfigError:
    """The loader's error for ``key`` of ``source`` (see :meth:`ConfigError.for_key`)."""
    return ConfigError.for_key(source, key, rule, value)


@attrs.frozen
class Param:
    """One key of a table: converter, default (``REQUIRED`` if none) and a one-line help."""

    conv: Conv
    default: Any = REQUIRED
    help: str = ""


def integer(lo: int | None = None, hi: int | None = None) -> Conv:
    bounds = ([f">= {lo}"] if lo is not None else []) + ([f"<= {hi}"] if hi is not None else [])
    rule = "an integer" + (" " + " and ".join(bounds) if bounds else "")

    def conv(source: str, key: str, v: Any) -> int:
        if type(v) is not int or (lo is not None and v < lo) or (hi is not None and v > hi):
            raise fail(source, key, rule, v)
        return v
    return conv


def number(lo: float | None = None, hi: float | None = None, *, lo_open: bool = False) -> Conv:
    parts = ["a finite number"]
    if lo is not None:
        parts.append(f"{'>' if lo_open else '>='} {lo}")
    if hi is not None:
        parts.append(f"<= {hi}")
    rule = " ".join(parts[:1]) + (" " + " and ".join(parts[1:]) if len(parts) > 1 else "")

    def conv(source: str, key: str, v: Any) -> float:
        if isinstance(v, bool) or not isinstance(v, (int, float, str)):
            raise fail(source, key, rule, v)
        try:
            x = float(v)
        except ValueError:
            raise fail(source, key, rule, v) from None
        if not math.isfinite(x) or (lo is not None and (x <= lo if lo_open else x < lo)) \
                or (hi is not None and x > hi):
            raise fail(source, key, rule, v)
        return x
    return conv


def money(decimals: int = 6, *, positive: bool = False) -> Conv:
    """An amount of the settlement asset (decimal string or number) → atoms (int)."""
    rule = f"an amount {'> 0' if positive else '>= 0'} of the settlement asset (e.g. \"250000\")"

    def conv(source: str, key: str, v: Any) -> int:
        if isinstance(v, bool) or not isinstance(v, (int, float, str)):
            raise fail(source, key, rule, v)
        try:
            d = Decimal(repr(v) if isinstance(v, float) else str(v))
        except InvalidOperation:
            raise fail(source, key, rule, v) from None
        if not d.is_finite() or d < 0 or (positive and d == 0):
            raise fail(source, key, rule, v)
        return int((d * (10 ** decimals)).to_integral_value())
    return conv


def choice(*options: str) -> Conv:
    rule = "one of " + ", ".join(repr(o) for o in options)

    def conv(source: str, key: str, v: Any) -> str:
        if v not in options:
            raise fail(source, key, rule, v)
        return v
    return conv


def boolean(source: str, key: str, v: Any) -> bool:
    if type(v) is not bool:
        raise fail(source, key, "true or false", v)
    return v


def string(source: str, key: str, v: Any) -> str:
    if not isinstance(v, str) or not v.strip():
        raise fail(source, key, "a non-empty string", v)
    return v


def number_list(lo: float | None = None, hi: float | None = None, *, min_len: int = 1) -> Conv:
    item = number(lo, hi)

    def conv(source: str, key: str, v: Any) -> tuple[float, ...]:
        if not isinstance(v, list) or len(v) < min_len:
            raise fail(source, key, f"a list of at least {min_len} numbers", v)
        return tuple(item(source, f"{key}[{i}]", x) for i, x in enumerate(v))
    return conv


def integer_list(lo: int | None = None, hi: int | None = None, *, min_len: int = 1) -> Conv:
    item = integer(lo, hi)

    def conv(source: str, key: str, v: Any) -> tuple[int, ...]:
        if not isinstance(v, list) or len(v) < min_len:
            raise fail(source, key, f"a list of at least {min_len} integers", v)
        return tuple(item(source, f"{key}[{i}]", x) for i, x in enumerate(v))
    return conv


def check_known(source: str, path: str, table: dict, known: list[str]) -> None:
    """Refuse a key that is not in ``known``, suggesting the nearest one."""
    for key in table:
        if key not in known:
            near = difflib.get_close_matches(key, known, n=1)
            hint = f" (did you mean {near[0]!r}?)" if near else ""
            dotted = f"{path}.{key}" if path else key
            raise fail(source, dotted, f"a known key of [{path or 'top level'}]{hint}; known: "
                       f"{', '.join(known)}", table[key])


def read_table(source: str, path: str, table: Any, schema: dict[str, Param],
               extra_known: tuple[str, ...] = ()) -> dict[str, Any]:
    """Convert ``table`` (a TOML table at dotted ``path``) with ``schema``. O(keys)."""
    if not isinstance(table, dict):
        raise fail(source, path, "a TOML table", table)
    check_known(source, path, table, [*schema, *extra_known])
    out: dict[str, Any] = {}
    for name, p in schema.items():
        dotted = f"{path}.{name}" if path else name
        if name in table:
            out[name] = p.conv(source, dotted, table[name])
        elif p.default is REQUIRED:
            raise fail(source, dotted, "present", MISSING)
        else:
            out[name] = p.default
    return out
