"""Venue snapshots (:meth:`Exchange.snapshot` / :meth:`Exchange.restore`): a restored venue
is the original — a Hypothesis differential test runs random command sequences, snapshots
at a random point, restores, continues both with the same commands and compares every
event record and the whole state."""
from __future__ import annotations

import re
import types
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from exchange import _core
from exchange.errors import InvalidCommandError
from exchange.venue import Exchange, Order

ROOT = Path(__file__).parents[3]
SYM = "BTCUSDT"

_cmd = st.one_of(
    st.tuples(st.just("limit"), st.integers(0, 3), st.sampled_from(["BUY", "SELL"]),
              st.integers(1, 40), st.integers(-30, 30), st.sampled_from(["GTC", "IOC", "GTX"])),
    st.tuples(st.just("market"), st.integers(0, 3), st.sampled_from(["BUY", "SELL"]),
              st.integers(1, 60)),
    st.tuples(st.just("cancel"), st.integers(0, 3), st.integers(-6, 40)),
    st.tuples(st.just("amend"), st.integers(0, 3), st.integers(1, 40), st.integers(1, 30),
              st.integers(-20, 20)),
    st.tuples(st.just("stop"), st.integers(0, 3), st.sampled_from(["BUY", "SELL"]),
              st.integers(1, 20), st.integers(-400, 400), st.booleans()),
    st.tuples(st.just("trail"), st.integers(0, 3), st.sampled_from(["BUY", "SELL"]),
              st.integers(1, 20)),
    st.tuples(st.just("lev"), st.integers(0, 3), st.integers(1, 125)),
    st.tuples(st.just("mode"), st.integers(0, 3), st.booleans()),
    st.tuples(st.just("step"), st.integers(1, 4 * 3600), st.integers(-2500, 2500)),
    st.tuples(st.just("mark"), st.integers(-6000, 6000)),
)


def _venue() -> Exchange:
    ex = Exchange.from_preset("binance_usdm", track_deltas=True)
    for _ in range(4):
        ex.open_account(deposit="20000")
    ex.step(0, {SYM: 50_000.0})
    return ex


def _run(ex: Exchange, cmd) -> None:
    """One command, in human units around the mark; refusals are part of the behaviour."""
    kind, *a = cmd
    mark = int(ex.core.arrays()["mark"][0]) / 10
    try:
        if kind == "limit":
            acct, side, lots, off, tif = a
            ex.submit(acct, Order.limit(SYM, side, f"{lots / 1000:.3f}", f"{round(mark) + off * 10}",
                                        tif=tif))
        elif kind == "market":
            ex.submit(a[0], Order.market(SYM, a[1], f"{a[2] / 1000:.3f}"))
        elif kind == "cancel":
            ex.cancel(a[0], a[1])
        elif kind == "amend":
            ex.amend(a[0], a[1], qty=f"{a[2] / 1000:.3f}", price=f"{round(mark) + a[3] * 10}")
        elif kind == "stop":
            acct, side, lots, off, on_mark = a
            ex.submit(acct, Order.stop_market(
                SYM, side, f"{lots / 1000:.3f}", f"{round(mark) + off * 10}",
                working_type="MARK_PRICE" if on_mark else "CONTRACT_PRICE"))
        elif kind == "trail":
            ex.submit(a[0], Order.trailing_stop(SYM, a[1], f"{a[2] / 1000:.3f}", "1"))
        elif kind == "lev":
            ex.set_leverage(a[0], SYM, a[1])
        elif kind == "mode":
            ex.set_margin_mode(a[0], SYM, "isolated" if a[1] else "cross")
        elif kind == "step":
            ex.step(ex.ts_ns + a[0] * 10**9, {SYM: max(1000.0, mark + a[1])})
        elif kind == "mark":
            ex.set_mark(SYM, f"{max(1000, round(mark) + a[0])}")
    except InvalidCommandError:
        pass


def _state(ex: Exchange) -> dict:
    core = ex.core.snapshot_state()
    return {"core": core, "cond": sorted((k, repr(v)) for k, v in ex._cond.items()),
            "cond_next": ex._cond_next,
            "open": [ex.open_orders(a) for a in range(ex.core.n_acct)],
            "bal": [ex.balance(a) for a in range(ex.core.n_acct)],
            "pos": [ex.positions(a) for a in range(ex.core.n_acct)],
            "timelines": _tree(ex.timelines), "liquidation": _tree(ex.liquidation)}


def _tree(obj, depth=0):
    """An object graph as plain nested values (identity and addresses left out)."""
    if depth > 40:
        raise AssertionError("object graph too deep")
    if isinstance(obj, _core.VenueCore):
        return "<core>"
    if obj is None or isinstance(obj, (bool, int, float, str, bytes, Decimal)):
        return obj
    if isinstance(obj, np.ndarray):
        return ("ndarray", obj.dtype.str, obj.shape, obj.tobytes())
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.random.Generator):
        return ("rng", repr(obj.bit_generator.state))
    if isinstance(obj, dict):
        return {repr(k): _tree(v, depth + 1) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_tree(v, depth + 1) for v in obj]
    if isinstance(obj, (set, frozenset)):
        return sorted(repr(v) for v in obj)
    if isinstance(obj, types.MethodType):
        return ("method", type(obj.__self__).__name__, obj.__func__.__name__)
    if callable(obj) and not hasattr(obj, "__dict__"):
        return ("callable", getattr(obj, "__name__", type(obj).__name__))
    if hasattr(obj, "__dict__") or hasattr(obj, "__slots__"):
        fields = dict(vars(obj)) if hasattr(obj, "__dict__") else {}
        for cls in type(obj).__mro__:
            for name in getattr(cls, "__slots__", ()):
                if hasattr(obj, name):
                    fields[name] = getattr(obj, name)
        return (type(obj).__name__, {k: _tree(v, depth + 1) for k, v in fields.items()})
    return ("repr", repr(obj))


def _same(x, y, path="state"):
    if isinstance(x, dict):
        assert x.keys() == y.keys(), path
        for k in x:
            _same(x[k], y[k], f"{path}.{k}")
    elif isinstance(x, (list, tuple)):
        assert len(x) == len(y), path
        for i, (u, v) in enumerate(zip(x, y)):
            _same(u, v, f"{path}[{i}]")
    elif isinstance(x, np.ndarray):
        assert x.dtype == y.dtype and np.array_equal(x, y), path
    else:
        assert x == y, path


@settings(max_examples=40, deadline=None)
@given(st.lists(_cmd, min_size=1, max_size=60), st.data())
def test_a_restored_venue_continues_exactly_as_the_original(cmds, data):
    cut = data.draw(st.integers(0, len(cmds)), label="snapshot after")
    a = _venue()
    for c in cmds[:cut]:
        _run(a, c)
    b = Exchange.restore(a.snapshot())
    _same(_state(a), _state(b))
    for c in cmds[cut:]:
        _run(a, c)
        _run(b, c)
    ja, jb = a.journal(), b.journal()
    assert ja.tobytes() == jb.tobytes()                      # every event record, in order
    _same(_state(a), _state(b))
    a.check_invariants()
    b.check_invariants()


def test_a_snapshot_without_events_continues_the_sequence():
    a = _venue()
    _run(a, ("limit", 0, "SELL", 10, 1, "GTC"))
    b = Exchange.restore(a.snapshot(events=False))
    assert len(b.journal()) == 0 and b.core.seq == a.core.seq
    for ex in (a, b):
        _run(ex, ("market", 1, "BUY", 5))
    assert a.journal()[-3:].tobytes() == b.journal().tobytes()


def test_damaged_or_foreign_snapshots_are_refused():
    data = _venue().snapshot()
    with pytest.raises(InvalidCommandError, match="bad header"):
        Exchange.restore(b"hello\n" + data)
    with pytest.raises(InvalidCommandError, match="damaged"):
        Exchange.restore(data[:-1] + bytes([data[-1] ^ 1]))
    with pytest.raises(InvalidCommandError, match="version"):
        Exchange.restore(data.replace(b"PERPSIM-SNAPSHOT 1 ", b"PERPSIM-SNAPSHOT 9 ", 1))
    with pytest.raises(InvalidCommandError, match="bytes"):
        Exchange.restore("text")
    with pytest.raises(InvalidCommandError, match="version"):
        _core.restore_core({"version": 2})


def test_every_venue_core_field_is_in_the_snapshot():
    """A cdef field added to VenueCore must be saved (``_SNAP_SCALARS`` or the ``_np``
    arrays) or declared rebuilt (``_SNAP_DERIVED``): the .pxd is read for the list."""
    pxd = (ROOT / "exchange" / "_core.pxd").read_text()
    body = pxd.split("cdef class VenueCore:")[1].split("# -- COMMANDS --")[0]
    fields = set()
    for line in body.splitlines():
        m = re.match(r"\s+cdef (?:readonly )?[\w\[\]:, ]*?[\s*]+([\w, ]+?)\s*(#.*)?$", line)
        if m:
            fields.update(f.strip() for f in m.group(1).split(","))
    covered = set(_core._SNAP_SCALARS) | set(_core._SNAP_DERIVED)
    assert fields and fields <= covered, fields - covered
