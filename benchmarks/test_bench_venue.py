"""pytest-benchmark version of bench_venue.py (200,000-message stream, 1,000 accounts)."""
from _common import book_summary, end_state_matches, standard_stream
from bench_venue import drive_venue, make_venue

N = 200_000


def test_venue_pipeline(benchmark):
    _, msgs, expected = standard_stream(N)
    cols = [msgs[f].tolist() for f in ("kind", "side", "qty", "oid", "price")]

    def run():
        core = make_venue()
        drive_venue(core, *cols)
        return core

    core = benchmark.pedantic(run, rounds=3, iterations=1)
    ev = core.drain_events()
    taker = ev[(ev["kind"] == 3) & (ev["flag"] == 1)]
    assert (ev["kind"] == 2).sum() == 0
    assert end_state_matches(book_summary(core.book(0), len(taker), int(taker["qty"].sum())), expected)
    core.check_invariants()
