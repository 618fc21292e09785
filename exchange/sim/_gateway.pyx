# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False
"""Compiled inner loop of :class:`exchange.sim.gateway.OrderGateway`.

Delivers a run of queued commands to the venue core in arrival order, calling the core's
``cpdef`` commands directly through its compiled contract (``exchange/_core.pxd``): per
command the cost is the core's own work, with no Python call in between. The Python loop in
``gateway.py`` is the readable twin and the fallback; both produce the same calls in the same
order.
"""
from libc.stdint cimport int64_t

from exchange._core cimport VenueCore
from exchange._enums cimport CommandKind, OrderFlag


def deliver(VenueCore core, int instr, const int64_t[:] ts, const int64_t[:] acct,
            const int64_t[:] kind, const int64_t[:] side, const int64_t[:] qty,
            const int64_t[:] price, const int64_t[:] otype, const int64_t[:] tif,
            const int64_t[:] reduce_only, const int64_t[:] target, int64_t[::1] oid_out,
            int64_t[::1] code_out):
    """Process every row in order (the arrays are the queue's columns, one length);
    write each submit's venue order id and every command's result code. Returns
    ``(submitted, canceled)``. O(rows + the core's work)."""
    cdef Py_ssize_t i, n = ts.shape[0]
    cdef int64_t cur = core.ts_now, t, tg, n_sub = 0, n_can = 0
    cdef int64_t k
    if (acct.shape[0] != n or kind.shape[0] != n or side.shape[0] != n or qty.shape[0] != n
            or price.shape[0] != n or otype.shape[0] != n or tif.shape[0] != n
            or reduce_only.shape[0] != n or target.shape[0] != n or oid_out.shape[0] != n
            or code_out.shape[0] != n):
        raise ValueError(f"every column of 'deliver' must have {n} rows")
    for i in range(n):
        t = ts[i]
        if t > cur:
            core.set_time(t)
            cur = t
        k = kind[i]
        if k == CommandKind.SUBMIT:
            code_out[i] = core.submit(acct[i], instr, <int>side[i], qty[i], price[i],
                                      <int>otype[i], <int>tif[i], reduce_only[i] != 0, 0, 0)
            oid_out[i] = core.last_oid
            n_sub += 1
        elif k == CommandKind.CANCEL_IF_OPEN:
            tg = target[i]
            if 0 < tg < core.next_oid and core._oslot(tg) >= 0 \
                    and (core.o_flags[core._oslot(tg)] & OrderFlag.RESTING):
                code_out[i] = core.cancel(acct[i], tg)
                n_can += 1
        else:
            code_out[i] = core.cancel(acct[i], target[i])
            n_can += 1
    return n_sub, n_can
