"""Small array helpers of the liquidation package (dense ids, no hashing).

Account ids, instrument indices and row numbers are dense non-negative integers, so sets of
them are boolean masks: O(n + range) with tiny constants, where ``np.unique`` / ``np.isin``
would sort or hash.
"""
from __future__ import annotations

import numpy as np

_I64 = np.int64


def unique_ids(x: np.ndarray, n: int) -> np.ndarray:
    """Sorted distinct values of ``x`` (ints in [0, n)). O(len(x) + n).

    >>> unique_ids(np.array([3, 1, 3, 0]), 5).tolist()
    [0, 1, 3]
    """
    x = np.asarray(x, _I64)
    if len(x) == 0:
        return x
    if len(x) * 8 < n:                      # sparse: sorting the few is cheaper
        s = np.sort(x)
        return s[np.r_[True, s[1:] != s[:-1]]]
    mask = np.zeros(n, bool)
    mask[x] = True
    return np.flatnonzero(mask).astype(_I64)


def isin_ids(x: np.ndarray, ids: np.ndarray, n: int) -> np.ndarray:
    """``np.isin(x, ids)`` for ints in [0, n). O(len(x) + len(ids) + n).

    >>> isin_ids(np.array([0, 2, 4]), np.array([4, 0]), 5).tolist()
    [True, False, True]
    """
    x = np.asarray(x, _I64)
    ids = np.asarray(ids, _I64)
    if len(x) == 0 or len(ids) == 0:
        return np.zeros(len(x), bool)
    if (len(x) + len(ids)) * 8 < n:
        return np.isin(x, ids)
    mask = np.zeros(n, bool)
    mask[ids] = True
    return mask[x]


def first_occurrence(x: np.ndarray, n: int) -> np.ndarray:
    """``x`` without repeats, keeping the first occurrence of each value, in order (ints in
    [0, n)). O(len(x) + n).

    >>> first_occurrence(np.array([5, 2, 5, 1, 2]), 6).tolist()
    [5, 2, 1]
    """
    x = np.asarray(x, _I64)
    if len(x) < 2:
        return x
    pos = np.full(n, len(x), _I64)
    np.minimum.at(pos, x[::-1], np.arange(len(x) - 1, -1, -1, dtype=_I64))
    keep = pos[x] == np.arange(len(x))
    return x[keep]


def small_values(x: np.ndarray, n: int) -> list[int]:
    """Distinct values of ``x`` (small ints in [0, n)), ascending, as Python ints. O(len(x)).

    >>> small_values(np.array([1, 1, 0]), 3)
    [0, 1]
    """
    x = np.asarray(x, _I64)
    if len(x) == 0:
        return []
    if n == 1:
        return [0]
    return np.flatnonzero(np.bincount(x, minlength=n)).tolist()


def gather(arr2d: np.ndarray, instr: np.ndarray, acct: np.ndarray) -> np.ndarray:
    """``arr2d[instr, acct]``, with a fast path when every row is on one instrument."""
    if arr2d.shape[0] == 1:
        return arr2d[0][acct]
    if len(instr) and (instr == instr[0]).all():
        return arr2d[int(instr[0])][acct]
    return arr2d[instr, acct]


def sum_by_sorted(keys: np.ndarray, values: np.ndarray):
    """``(distinct keys, sums of values per key)`` for ``keys`` sorted ascending; exact int64
    (``np.add.reduceat``). O(n).

    >>> [a.tolist() for a in sum_by_sorted(np.array([1, 1, 4]), np.array([2, 3, 5]))]
    [[1, 4], [5, 5]]
    """
    if len(keys) == 0:
        return keys, values
    start = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    return keys[start], np.add.reduceat(values, start)
