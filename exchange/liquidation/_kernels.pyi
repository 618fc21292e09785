"""Type stubs of the compiled liquidation kernels (exchange/liquidation/_kernels.pyx).

Arguments are int64 arrays (anything ``np.ascontiguousarray(x, np.int64)`` accepts; the
kernels read them as ``const int64_t[::1]`` memoryviews); results are new int64 arrays.
Same contract as the numpy references in :mod:`exchange.liquidation.margin_view`.
"""
import numpy as np
import numpy.typing as npt

def trigger_prices(size: npt.ArrayLike, base: npt.ArrayLike, extra: npt.ArrayLike, k: int,
                   floors: npt.ArrayLike, mmrs: npt.ArrayLike, cums: npt.ArrayLike,
                   pct: int = 100) -> np.ndarray:
    """Per position: the largest price (long) / smallest price (short), in ticks, at which
    ``100·(MM + extra) > pct·(base + size·p·k)`` holds; 0 / 2^62 when it never does. Sizes
    must be non-zero. O(n·T), without the GIL."""

def maintenance_margin(notional: npt.ArrayLike, floors: npt.ArrayLike, mmrs: npt.ArrayLike,
                       cums: npt.ArrayLike) -> np.ndarray:
    """``ceil(N·MMR/1e8) − cum`` of each notional's tier. O(n·T), without the GIL."""
