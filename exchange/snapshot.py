"""The venue snapshot format (:meth:`exchange.venue.Exchange.snapshot` / ``restore``).

Version 1: the line ``PERPSIM-SNAPSHOT 1 <sha256> <length>`` then a pickle of ``{"core": the
pickled compiled core, "venue": the pickled venue state}``; the venue state pickles around the
core (the core and the numpy views of its state arrays become references resolved against the
restored core). A snapshot is trusted input (unpickling runs code).
"""
from __future__ import annotations

import copyreg
import hashlib
import io
import pickle
import types

import numpy as np

from exchange.errors import InvalidCommandError

__all__ = ["dump_snapshot", "load_snapshot"]

_SNAP_MAGIC, _SNAP_VERSION = "PERPSIM-SNAPSHOT", 1


def _mappingproxy(d: dict):
    return types.MappingProxyType(d)


class _SnapshotPickler(pickle.Pickler):
    """Pickles the venue around its core: the core itself and the numpy views of the
    core's state arrays that other parts hold (the liquidation engine's margin view reads
    them in place) become references, resolved against the restored core by
    :class:`_SnapshotUnpickler`, so that they keep following the core. The presets'
    read-only mappings pickle as mappings."""

    dispatch_table = copyreg.dispatch_table.copy()
    dispatch_table[types.MappingProxyType] = lambda m: (_mappingproxy, (dict(m),))

    def __init__(self, file, core=None) -> None:
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        self.core = core
        self.bases = {}
        if core is not None:
            for name, view in core.arrays().items():
                self.bases[id(view.base)] = (name, view.base)

    def persistent_id(self, obj):
        if self.core is None:
            return None
        if obj is self.core:
            return ("core",)
        if type(obj) is np.ndarray and obj.base is not None:
            base = obj.base
            while isinstance(base, np.ndarray) and id(base) not in self.bases and base.base is not None:
                base = base.base
            hit = self.bases.get(id(base))
            if hit is not None and hit[1] is base:
                offset = (obj.__array_interface__["data"][0]
                          - base.__array_interface__["data"][0])
                return ("view", hit[0], obj.dtype.str, obj.shape, obj.strides, offset,
                        bool(obj.flags.writeable))
        return None


def _core_base(core, name: str) -> np.ndarray:
    return core.arrays()[name].base


class _SnapshotUnpickler(pickle.Unpickler):
    def __init__(self, file, core) -> None:
        super().__init__(file)
        self.core = core

    def persistent_load(self, pid):
        if pid[0] == "core":
            return self.core
        if pid[0] == "view":
            _, name, dtype, shape, strides, offset, writeable = pid
            out = np.ndarray(shape, np.dtype(dtype), buffer=_core_base(self.core, name),
                             offset=offset, strides=strides)
            out.flags.writeable = writeable
            return out
        raise pickle.UnpicklingError(f"unknown snapshot reference {pid!r}")



def dump_snapshot(core, state: dict) -> bytes:
    """``state`` (a venue's ``vars``, holding ``core`` and views of its arrays) as snapshot
    bytes. O(state)."""
    buf = io.BytesIO()
    _SnapshotPickler(buf, core).dump(state)
    body = pickle.dumps({"core": pickle.dumps(core, pickle.HIGHEST_PROTOCOL),
                         "venue": buf.getvalue()}, pickle.HIGHEST_PROTOCOL)
    head = f"{_SNAP_MAGIC} {_SNAP_VERSION} {hashlib.sha256(body).hexdigest()} {len(body)}\n"
    return head.encode() + body


def load_snapshot(data) -> dict:
    """The venue state :func:`dump_snapshot` wrote, around a restored core. A wrong header,
    version, length or digest raises InvalidCommandError. O(state)."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise InvalidCommandError(f"'data' must be bytes from Exchange.snapshot() "
                                  f"(got {type(data).__name__})")
    data = bytes(data)
    head, sep, body = data.partition(b"\n")
    parts = head.decode("ascii", "replace").split(" ")
    if not sep or len(parts) != 4 or parts[0] != _SNAP_MAGIC:
        raise InvalidCommandError("'data' is not a perpsim venue snapshot (bad header)")
    if parts[1] != str(_SNAP_VERSION):
        raise InvalidCommandError(f"'data' is a snapshot of version {parts[1]!r}; this "
                                  f"perpsim reads version {_SNAP_VERSION}")
    if parts[3] != str(len(body)) or hashlib.sha256(body).hexdigest() != parts[2]:
        raise InvalidCommandError("'data' is a damaged snapshot (length or sha256 differs)")
    parts = pickle.loads(body)
    core = pickle.loads(parts["core"])
    return _SnapshotUnpickler(io.BytesIO(parts["venue"]), core).load()
