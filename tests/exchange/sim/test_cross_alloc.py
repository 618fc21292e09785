"""The vectorised cross-equity allocation of the liquidation context against the per-account
loop it replaced (liquidation/context._cross_alloc before issue 14), on random accounts."""
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from exchange.liquidation.context import cross_allocation


def _loop(eq, mm, open_, inv, instr, carrier):
    """The old per-row Python loop (the reference), on the same inputs."""
    out = np.zeros(len(inv), np.int64)
    n_i, n_u = mm.shape
    for u in range(n_u):
        mine = np.flatnonzero(inv == u)
        mms = [(i, int(mm[i, u])) for i in range(n_i) if open_[i, u]]
        e = int(eq[u])
        if not mms:
            out[mine[carrier[mine]]] = e
            continue
        total = sum(m for _, m in mms)
        if total <= 0:
            alloc = {i: 0 for i, _ in mms}
            alloc[mms[0][0]] = e
        else:
            alloc = {i: (e * m) // total for i, m in mms}
            big = max(mms, key=lambda t: (t[1], -t[0]))[0]
            alloc[big] += e - sum(alloc.values())
        for j in mine:
            out[j] = alloc.get(int(instr[j]), 0)
    return out


@st.composite
def books(draw):
    n_i = draw(st.integers(1, 4))
    n_u = draw(st.integers(1, 8))
    money = st.integers(-10**15, 10**15) | st.integers(-1000, 1000)
    eq = np.array(draw(st.lists(money, min_size=n_u, max_size=n_u)), np.int64)
    margin = st.sampled_from([0, 0, 1, 7]) | st.integers(0, 10**15)
    mm = np.array(draw(st.lists(margin, min_size=n_i * n_u, max_size=n_i * n_u)),
                  np.int64).reshape(n_i, n_u)
    open_ = np.array(draw(st.lists(st.booleans(), min_size=n_i * n_u, max_size=n_i * n_u))
                     ).reshape(n_i, n_u)
    n = draw(st.integers(0, 16))
    inv = np.array(draw(st.lists(st.integers(0, n_u - 1), min_size=n, max_size=n)), np.int64)
    instr = np.array(draw(st.lists(st.integers(0, n_i - 1), min_size=n, max_size=n)), np.int64)
    carrier = np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)), bool)
    return eq, mm, open_, inv, instr, carrier


@settings(max_examples=400, deadline=None)
@given(books())
def test_vectorised_allocation_equals_the_loop(case):
    np.testing.assert_array_equal(cross_allocation(*case), _loop(*case))


def test_allocation_sums_to_each_accounts_equity():
    eq = np.array([1_000, -7], np.int64)
    mm = np.array([[3, 0], [5, 0]], np.int64)
    open_ = np.array([[True, False], [True, True]])
    out = cross_allocation(eq, mm, open_, np.array([0, 0, 1]), np.array([0, 1, 1]),
                           np.zeros(3, bool))
    assert out.tolist() == [375, 625, -7]
