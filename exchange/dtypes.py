"""numpy record dtypes of the venue, defined once (the book's are in :mod:`matching.dtypes`,
re-exported here so one module names every record layout).

``EVENT_DTYPE`` is the event stream's record: the compiled core (``exchange._core``) asserts at
import that it has the size of its C struct ``EventRec`` and no unnamed padding, so every byte
of a record, a journal or a copy depends only on the events. ``ORDER_DTYPE`` is one command of
the simulation's order gateway (:mod:`exchange.sim.gateway`).
"""
from __future__ import annotations

import numpy as np

from matching.dtypes import DELTA_DTYPE, EXPIRED_DTYPE, FILL_DTYPE, MSG_DTYPE, REJECT_DTYPE

__all__ = ["EVENT_DTYPE", "ORDER_DTYPE", "FILL_DTYPE", "DELTA_DTYPE", "EXPIRED_DTYPE",
           "REJECT_DTYPE", "MSG_DTYPE"]

#: one event: ``kind`` an :class:`exchange.events.EventKind`; what ``acct … flag`` carry per
#: kind is declared by that kind's class in :mod:`exchange.events`; ``pad`` is always 0
EVENT_DTYPE = np.dtype([
    ("seq", "i8"), ("ts", "i8"), ("acct", "i8"), ("oid", "i8"), ("price", "i8"), ("qty", "i8"),
    ("a1", "i8"), ("a2", "i8"), ("a3", "i8"), ("kind", "i4"), ("code", "i4"), ("instr", "i4"),
    ("side", "u1"), ("flag", "u1"), ("pad", "u2")], align=True)

#: one gateway command; ``kind`` a CommandKind, ``otype`` an OrderType, ``tif`` a TimeInForce;
#: ``b`` and ``row`` are the gateway's bookkeeping (batch, row in it)
ORDER_DTYPE = np.dtype([("ts", "i8"), ("acct", "i8"), ("kind", "i8"), ("side", "i8"),
                        ("qty", "i8"), ("price", "i8"), ("otype", "i8"), ("tif", "i8"),
                        ("reduce_only", "i8"), ("target", "i8"), ("b", "i8"), ("row", "i8")])
