"""numpy record dtypes of the book's outputs and of the batch API's input, defined once.

The compiled book (``matching._book``) asserts at import that each has the size of its C
struct; the reference book uses the same objects.
"""
from __future__ import annotations

import numpy as np

__all__ = ["FILL_DTYPE", "DELTA_DTYPE", "EXPIRED_DTYPE", "REJECT_DTYPE", "MSG_DTYPE"]

#: a trade: taker and maker order ids, price (ticks), lots, taker side, 1 if the maker is done
FILL_DTYPE = np.dtype([("taker_oid", "i8"), ("maker_oid", "i8"), ("price", "i8"),
                       ("qty", "i8"), ("taker_side", "u1"), ("maker_done", "u1")], align=True)
#: a change of a price level's resting total (``qty`` is the new total)
DELTA_DTYPE = np.dtype([("price", "i8"), ("qty", "i8"), ("side", "u1")], align=True)
#: an order that left (or never entered) the book unfilled: ``reason`` an ExpireReason
EXPIRED_DTYPE = np.dtype([("oid", "i8"), ("price", "i8"), ("qty", "i8"), ("side", "u1"),
                          ("reason", "u1")], align=True)
#: a refused message of the batch API: its index, order id and MatchCode
REJECT_DTYPE = np.dtype([("index", "i8"), ("oid", "i8"), ("code", "i4")], align=True)
#: the standard stream's record (shared/bench/orderstream.py), the input of ``process``:
#: ``kind`` a MsgKind
MSG_DTYPE = np.dtype([("kind", "u1"), ("side", "u1"), ("pad", "u2"), ("qty", "u4"),
                      ("oid", "i8"), ("price", "i8")], align=True)
