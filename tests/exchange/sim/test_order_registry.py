"""The venue's order registry stays bounded: dead orders (filled, cancelled) leave it when
their slot is needed, resting ones stay however old, ids stay unique (issue 14)."""
import numpy as np

from exchange.codes import RejectReason
from exchange.venue import Exchange

R_UNKNOWN_ORDER = int(RejectReason.UNKNOWN_ORDER)


def _venue():
    ex = Exchange.from_preset("binance_usdm")
    ex.set_mark("BTCUSDT", "50000")
    a = ex.open_account(deposit="10000000")
    b = ex.open_account(deposit="10000000")
    instr = ex.instrument("BTCUSDT")
    mark = int(ex.core.arrays()["mark"][instr])
    return ex, ex.core, instr, mark, a, b


def test_a_long_lived_order_survives_many_wraps_and_the_registry_stays_small():
    ex, core, instr, mark, a, b = _venue()
    assert core.submit(a, instr, 0, 10, mark - 5000) == 0
    old = core.last_oid
    ids = []
    for i in range(300_000):                    # 4.6 times the initial registry
        assert core.submit(b, instr, 1, 10, mark + 1000 + i % 50) == 0
        ids.append(core.last_oid)
        assert core.cancel(b, core.last_oid) == 0
    assert np.all(np.diff(ids) == 1) and ids[0] == old + 1          # unique, in order
    assert core.order_slots <= 1 << 17
    assert core.open_order_ids(a) == [old]
    assert core.order_info(old)[0] == a and core.order_info(old)[4] == 10
    # a dead order that left the registry is unknown, like any id that is not resting
    assert core.order_info(ids[0]) == (-1, 0, 0, 0, 0, 0)
    assert core.cancel(b, ids[0]) == R_UNKNOWN_ORDER
    assert core.cancel(a, old) == 0
    ex.check_invariants()


def test_registry_agrees_with_a_model_under_random_place_fill_cancel():
    ex, core, instr, mark, a, b = _venue()
    rng = np.random.default_rng(7)
    live: dict[int, int] = {}                 # oid -> account (resting)
    for step in range(120_000):
        r = rng.random()
        if r < 0.55 or not live:
            acct = a if rng.random() < 0.5 else b
            side = 0 if acct == a else 1
            px = mark - 1 - int(rng.integers(0, 3000)) if side == 0 else mark + 1 + int(rng.integers(0, 3000))
            assert core.submit(acct, instr, side, int(rng.integers(10, 40)), px) == 0
            live[core.last_oid] = acct
        elif r < 0.95:
            oid = list(live)[int(rng.integers(0, len(live)))] if rng.random() < 0.9 \
                else int(rng.integers(1, core.next_order_id))
            acct = live.get(oid, a)
            code = core.cancel(acct, oid)
            assert (code == 0) == (oid in live)
            live.pop(oid, None)
        else:                                  # a marketable order: fills resting makers
            side = int(rng.integers(0, 2))
            core.submit(a if side == 1 else b, instr, side, int(rng.integers(10, 300)), 0, 1)
            still = set(core.open_order_ids(a)) | set(core.open_order_ids(b))
            live = {o: ac for o, ac in live.items() if o in still}
        if step % 20_000 == 0:
            assert sorted(core.open_order_ids(a) + core.open_order_ids(b)) == sorted(live)
    assert sorted(core.open_order_ids(a) + core.open_order_ids(b)) == sorted(live)
    assert core.next_order_id > 1 << 16 and core.order_slots == 1 << 16   # wrapped, not grown
    ex.check_invariants()
