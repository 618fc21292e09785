"""perpsim's order book and matching engine: integer ticks, lots and order ids; no money.

``matching.Book`` is the compiled engine (``matching._book``). The pure-Python reference book
(``matching.reference.RefBook``) implements the same contract and is the test oracle; set
``PERPSIM_BOOK=reference`` to select it for debugging (a warning says so).
"""
from __future__ import annotations

import os
import warnings

from matching.codes import (BUY, EXPIRE_IOC, EXPIRE_NONE, EXPIRE_STP, FOK, GTC, IOC,
                            MSG_ADD, MSG_CANCEL, MSG_MARKET, POST_ONLY, SELL, STP_EXPIRE_BOTH,
                            STP_EXPIRE_MAKER, STP_EXPIRE_TAKER, STP_NONE, MatchCode)
from matching.dtypes import DELTA_DTYPE, EXPIRED_DTYPE, FILL_DTYPE, MSG_DTYPE, REJECT_DTYPE
from matching.errors import (BookInvariantError, InvalidBatchError, InvalidOrderError,
                             MatchingError, UnknownOrderError)

_choice = os.environ.get("PERPSIM_BOOK", "compiled").strip().lower()
if _choice == "reference":
    from matching.reference import RefBook as Book

    COMPILED = False
    warnings.warn("PERPSIM_BOOK=reference: using the slow pure-Python reference book",
                  RuntimeWarning, stacklevel=2)
elif _choice == "compiled":
    try:
        from matching._book import Book
    except ImportError as exc:  # pragma: no cover - exercised by hand on a broken install
        raise ImportError(
            "perpsim's compiled order book (matching._book) is not built. Build it with "
            "`pip install .` (or `pip install -e .` / `python setup.py build_ext --inplace` in a "
            "checkout); it needs gcc, Cython>=3 and numpy. For debugging only, "
            "PERPSIM_BOOK=reference selects the slow pure-Python book."
        ) from exc
    COMPILED = True
else:
    raise ImportError(f"'PERPSIM_BOOK' must be 'compiled' or 'reference' (got {_choice!r})")

ADD, CANCEL, MARKET = MSG_ADD, MSG_CANCEL, MSG_MARKET   # the batch API's message kinds

__all__ = [
    "Book", "COMPILED", "MatchCode", "FILL_DTYPE", "DELTA_DTYPE", "EXPIRED_DTYPE",
    "REJECT_DTYPE", "MSG_DTYPE", "ADD", "CANCEL", "MARKET", "BUY", "SELL", "GTC", "IOC", "FOK",
    "POST_ONLY", "STP_NONE", "STP_EXPIRE_TAKER", "STP_EXPIRE_MAKER", "STP_EXPIRE_BOTH",
    "EXPIRE_NONE", "EXPIRE_IOC", "EXPIRE_STP", "MatchingError", "InvalidOrderError",
    "InvalidBatchError", "UnknownOrderError", "BookInvariantError",
]
