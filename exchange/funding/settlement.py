"""Funding settlement: the vectorised kernels on struct-of-arrays positions (exact integers,
rounded in the venue's favour) and the cumulative :class:`FundingIndex`."""
from __future__ import annotations

from typing import Any

import numpy as np

from exchange.errors import invalid
from exchange.funding._base import _INT64_MAX, _check_int
from exchange.units import RATE_SCALE


class FundingIndex:
    """Cumulative funding index (dYdX, Drift), exact integer.

    Unit: atoms / RATE_SCALE per lot. ``accrue(price_ticks, rate)`` adds
    ``price_ticks · atoms_per_tick_lot · rate`` — exactly the per-lot payment of one interval
    times RATE_SCALE, so no rounding happens here. A position stores the value at its last
    settlement and pays ``settle_funding_index(q, value_now - value_then)``. O(1).
    """

    def __init__(self, atoms_per_tick_lot: int = 1, value: int = 0) -> None:
        self.atoms_per_tick_lot = _check_int("atoms_per_tick_lot", atoms_per_tick_lot, lo=1)
        self.value = _check_int("value", value)

    def accrue(self, price_ticks: int, rate: int) -> int:
        """Add one interval at ``rate`` (per interval) and ``price_ticks``; the new value."""
        self.value += price_ticks * self.atoms_per_tick_lot * rate
        return self.value




def _check_sizes(size_lots: Any) -> np.ndarray:
    if not isinstance(size_lots, np.ndarray) or size_lots.dtype != np.int64 or size_lots.ndim != 1:
        raise invalid("size_lots", "a 1-D numpy int64 array",
                      f"{type(size_lots).__name__} {getattr(size_lots, 'dtype', '')}".strip())
    return size_lots


def _buffer(name: str, buf: np.ndarray | None, n: int) -> np.ndarray:
    if buf is None:
        return np.empty(n, dtype=np.int64)
    if not isinstance(buf, np.ndarray) or buf.dtype != np.int64 or buf.shape != (n,) \
            or not buf.flags.writeable:
        raise invalid(name, f"a writeable int64 array of shape ({n},)",
                      f"{type(buf).__name__} {getattr(buf, 'dtype', '')} {getattr(buf, 'shape', '')}")
    return buf


def _max_abs(a: np.ndarray) -> int:
    return max(int(a.max()), -int(a.min())) if len(a) else 0


def _ceil_scaled_scalar(size: np.ndarray, delta: int, out: np.ndarray, work: np.ndarray) -> None:
    """out = ceil(size · delta / RATE_SCALE), exact, for a Python-int ``delta``.

    ``delta = dh·S + dl`` (floor divmod, 0 ≤ dl < S) so ``q·delta/S = q·dh + q·dl/S`` and, q·dh
    being an integer, ``ceil(q·delta/S) = q·dh - floor(-q·dl / S)``. Both products fit in int64
    when ``max|q|·max(|dh|, S) < 2**63`` (checked by the callers). 4 passes, no temporaries.
    """
    dh, dl = divmod(delta, RATE_SCALE)
    if dl:
        np.multiply(size, -dl, out=work)
        np.floor_divide(work, RATE_SCALE, out=work)
        if dh:
            np.multiply(size, dh, out=out)
            np.subtract(out, work, out=out)
        else:
            np.negative(work, out=out)
    else:
        np.multiply(size, dh, out=out)


def settle_funding(size_lots: np.ndarray, price_ticks: int | np.ndarray, rate: int,
                   atoms_per_tick_lot: int, *, out: np.ndarray | None = None,
                   work: np.ndarray | None = None, check: bool = True) -> tuple[np.ndarray, int]:
    """Funding payments of every position, exact integers, rounded in the venue's favour.

    ``payments[i] = ceil(size_lots[i] · price · atoms_per_tick_lot · rate / RATE_SCALE)`` atoms;
    > 0 means position i pays, < 0 that it receives. With a positive rate longs pay shorts. The
    ceiling of the signed amount is the rule "a payer pays the ceiling of its exact amount, a
    receiver receives the floor of its". Returns ``(payments, remainder_atoms)`` with
    ``remainder_atoms = sum(payments)``: what the venue keeps (the fee pool's). When the sizes net
    to zero at one price (one market), ``0 <= remainder_atoms < number of non-zero positions``:
    funding is exactly zero-sum between traders up to that remainder.

    ``price_ticks``: an int (one market; then ``check`` requires ``sum(size_lots) == 0``) or an
    int64 array, one price per position (several markets in one array; the caller then ensures
    each market nets to zero). ``out``/``work``: preallocated int64 buffers of the same length
    (reuse them on a hot path; ``out`` is returned). ``check=False`` skips the argument and
    overflow checks (two extra passes).

    Exactness without int64 overflow. Scalar price: the per-lot amount
    ``delta = price·atoms_per_tick_lot·rate`` is a Python int, split ``delta = dh·S + dl``;
    ``ceil(q·delta/S) = q·dh - floor(-q·dl/S)``. Array price: the signed notional
    ``X = q·price·atoms_per_tick_lot`` (int64, |X| up to ~1e15 and more), split
    ``X = hi·S + lo``; ``ceil(X·rate/S) = hi·rate - floor(-lo·rate/S)``. Every intermediate is
    bounded by the payment itself or by ``S·max(|q|, |rate|)``.

    Cost: O(n); scalar price 4 passes over the arrays plus 3 for the checks and 1 for the sum.

    >>> pay, rem = settle_funding(np.array([3, -1, -2], dtype=np.int64), 101, 10_000, 1)
    >>> pay.tolist(), rem   # exact 0.0303, -0.0101, -0.0202 atoms
    ([1, 0, 0], 1)
    """
    size = _check_sizes(size_lots) if check else size_lots
    n = len(size)
    out = _buffer("out", out, n)
    work = _buffer("work", work, n)
    if check:
        apl = _check_int("atoms_per_tick_lot", atoms_per_tick_lot, lo=1)
        rate = _check_int("rate", rate, -RATE_SCALE, RATE_SCALE)
    else:
        apl = int(atoms_per_tick_lot)
        rate = int(rate)
    if isinstance(price_ticks, np.ndarray):
        return _settle_array_price(size, price_ticks, rate, apl, out, work, check)
    if check and (not isinstance(price_ticks, (int, np.integer)) or isinstance(price_ticks, bool)):
        raise invalid("price_ticks", "an int or an int64 array", price_ticks)
    price = int(price_ticks)
    delta = price * apl * rate
    if check:
        if price <= 0:
            raise invalid("price_ticks", "> 0", price_ticks)
        qmax = _max_abs(size)
        if qmax * max(abs(delta) // RATE_SCALE + 1, RATE_SCALE) > _INT64_MAX:
            raise invalid("size_lots", f"small enough that |size|·price·rate fits in int64 "
                          f"(max |size| {qmax}, per-lot amount {delta}/{RATE_SCALE})", "too large")
        net = int(size.sum())
        if net != 0:
            raise invalid("size_lots", "net to zero (funding is zero-sum between traders)",
                          f"net {net}")
    _ceil_scaled_scalar(size, delta, out, work)
    return out, int(out.sum())


def _settle_array_price(size: np.ndarray, price: np.ndarray, rate: int, apl: int,
                        out: np.ndarray, work: np.ndarray, check: bool) -> tuple[np.ndarray, int]:
    n = len(size)
    if check:
        if price.dtype != np.int64 or price.shape != (n,):
            raise invalid("price_ticks", f"an int or an int64 array of shape ({n},)",
                          f"{price.dtype} {price.shape}")
        if n and int(price.min()) <= 0:
            raise invalid("price_ticks", "> 0 everywhere", int(price.min()))
        if n and _max_abs(size) * int(price.max()) * apl > _INT64_MAX:
            raise invalid("size_lots", "small enough that |size|·price·atoms_per_tick_lot fits "
                          "in int64", "too large")
    # |X| <= 2**63-1 and |rate| <= S bound every intermediate: |hi·rate| <= |X|, |lo·rate| < S²
    np.multiply(size, price, out=out)               # X = q·price (signed notional, ticks·lots)
    if apl != 1:
        np.multiply(out, apl, out=out)              # X in atoms
    np.floor_divide(out, RATE_SCALE, out=work)      # hi
    np.remainder(out, RATE_SCALE, out=out)          # lo = X - hi·S   (0 <= lo < S)
    np.multiply(out, -rate, out=out)                # -lo·rate
    np.floor_divide(out, RATE_SCALE, out=out)       # floor(-lo·rate / S)
    np.multiply(work, rate, out=work)               # hi·rate
    np.subtract(work, out, out=out)                 # hi·rate - floor(-lo·rate/S) = ceil(X·rate/S)
    return out, int(out.sum())


def settle_funding_index(size_lots: np.ndarray, index_delta: int | np.ndarray, *,
                         out: np.ndarray | None = None, work: np.ndarray | None = None,
                         check: bool = True) -> tuple[np.ndarray, int]:
    """dYdX/Drift index accrual: ``payments[i] = ceil(size_lots[i] · index_delta / RATE_SCALE)``.

    ``index_delta`` (:class:`FundingIndex` units, atoms / RATE_SCALE per lot) is ``index_now -
    index_at_last_settle``: an int when every position last settled at the same index, else an
    int64 array, one per position. Same sign and rounding rule as :func:`settle_funding` (payer
    pays the ceiling, receiver gets the floor); returns ``(payments, sum(payments))``. With a
    scalar delta and sizes netting to zero the remainder is in ``[0, n)``; with per-position
    deltas funding is zero-sum over time, not at each settlement, so the sum is just reported.
    Cost: O(n), 4 passes (array delta: 8).

    >>> settle_funding_index(np.array([2, -2], dtype=np.int64), 150_000_000)[0].tolist()
    [3, -3]
    """
    size = _check_sizes(size_lots) if check else size_lots
    n = len(size)
    out = _buffer("out", out, n)
    work = _buffer("work", work, n)
    if not isinstance(index_delta, np.ndarray):
        delta = int(index_delta)
        if check and _max_abs(size) * max(abs(delta) // RATE_SCALE + 1, RATE_SCALE) > _INT64_MAX:
            raise invalid("size_lots", "small enough that |size|·index_delta/RATE_SCALE fits in "
                          "int64", "too large")
        _ceil_scaled_scalar(size, delta, out, work)
        return out, int(out.sum())
    if check:
        if index_delta.dtype != np.int64 or index_delta.shape != (n,):
            raise invalid("index_delta", f"an int or an int64 array of shape ({n},)",
                          f"{index_delta.dtype} {index_delta.shape}")
        if n and _max_abs(size) * max(_max_abs(index_delta) // RATE_SCALE + 1, RATE_SCALE) > _INT64_MAX:
            raise invalid("size_lots", "small enough that |size|·index_delta/RATE_SCALE fits in "
                          "int64", "too large")
    np.floor_divide(index_delta, RATE_SCALE, out=work)   # dh
    np.multiply(work, RATE_SCALE, out=out)
    np.subtract(index_delta, out, out=out)               # dl = delta - dh·S  (0 <= dl < S)
    np.multiply(out, size, out=out)
    np.negative(out, out=out)
    np.floor_divide(out, RATE_SCALE, out=out)            # floor(-q·dl / S)
    np.multiply(work, size, out=work)                    # q·dh
    np.subtract(work, out, out=out)
    return out, int(out.sum())
