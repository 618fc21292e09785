"""A streamed journal (``run(..., journal=...)``) against the in-memory one: the same hash,
metrics, PnL and figures, the same Parquet bytes; the venue keeps no records behind."""
import hashlib

import numpy as np
import pyarrow.parquet as pq
import pytest

from exchange.dtypes import EVENT_DTYPE
from exchange.sim import journal as jmod
from exchange.sim.journal import ORDER_FLOW, JournalDigest, JournalWriter, write_journal
from exchange.sim.metrics import JournalSummary, account_pnl, compute_metrics
from exchange.sim.runner import Simulation, journal_digest, run


def _files(directory):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(directory.glob("*.parquet"))}


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    from exchange.sim.scenario import load_scenario
    from tests.exchange.sim.conftest import TINY_CRASH

    sc = load_scenario("flash_crash").with_overrides(TINY_CRASH)
    base = tmp_path_factory.mktemp("j")
    mem = run(sc, seed=3, out_dir=base / "mem", report=False)
    streamed = run(sc, seed=3, out_dir=base / "full", report=False, journal="full")
    return sc, base, mem, streamed


def test_streamed_run_has_the_in_memory_hash_metrics_and_bytes(pair):
    sc, base, mem, streamed = pair
    assert streamed.journal is None
    assert mem.events > 10_000 and streamed.events == mem.events
    assert streamed.journal_sha256() == mem.journal_sha256()
    assert streamed.metrics == mem.metrics
    assert streamed.agents == mem.agents
    for key in ("liq_t", "liq_notional", "haircut", "bad_debt_amt"):
        np.testing.assert_array_equal(streamed.plot[key], mem.plot[key])
    assert _files(base / "full" / "journal") == _files(base / "mem" / "journal")
    assert set(streamed.files) >= {f"journal/{n}" for n in _files(base / "mem" / "journal")
                                   for n in [n.removesuffix(".parquet")]}


def test_a_streamed_run_has_the_stylized_facts_of_its_journal(pair):
    from exchange.report import render_run_html
    from exchange.sim.facts import facts_from_dir, facts_from_result

    sc, base, mem, streamed = pair
    want = facts_from_result(mem)
    got = facts_from_result(streamed)
    assert got.values() == want.values()
    assert want["trade_sizes"].values["trades"] > 100 and want["crash"].values["liquidation_share"] > 0
    np.testing.assert_array_equal(got["trade_sizes"].series["sizes"],
                                  want["trade_sizes"].series["sizes"])
    assert facts_from_dir(base / "full").values() == want.values()
    assert "Measured from the journal and the series" in render_run_html(streamed)
    assert streamed.light().facts_fold is None


def test_the_facts_fold_does_not_depend_on_the_batching(pair):
    from exchange.sim import facts as fmod
    from exchange.sim.facts import FactsFold, crash_window

    sc, base, mem, _ = pair
    win = crash_window(mem.info["shocks"])
    whole = FactsFold(win)
    whole.add(mem.journal)
    rng = np.random.default_rng(0)
    cuts = np.sort(rng.choice(mem.journal.shape[0], 40, replace=False))
    parts = FactsFold(win)
    old = fmod._FOLD_ROWS
    fmod._FOLD_ROWS = 7                 # compact every few fills
    try:
        for chunk in np.split(mem.journal, cuts):
            parts.add(chunk)
    finally:
        fmod._FOLD_ROWS = old
    for f in (whole, parts):
        assert (f.orders, f.first_trade_ns, f.window_volume, f.window_liq_volume) == (
            whole.orders, whole.first_trade_ns, whole.window_volume, whole.window_liq_volume)
        np.testing.assert_array_equal(f.per_order_lots(), whole.per_order_lots())
    assert whole.window_liq_volume > 0 and whole.orders > 0


def test_events_mode_leaves_out_the_order_flow_and_none_writes_no_journal(pair, tmp_path):
    sc, base, mem, _ = pair
    ev = run(sc, seed=3, out_dir=tmp_path / "ev", report=False, journal="events")
    names = {p.stem for p in (tmp_path / "ev" / "journal").glob("*.parquet")}
    full = {p.stem for p in (base / "mem" / "journal").glob("*.parquet")}
    assert names == full - ORDER_FLOW and "OrderFilled" in names
    assert ev.journal_sha256() == mem.journal_sha256()
    none = run(sc, seed=3, out_dir=tmp_path / "none", report=False, journal="none")
    assert not (tmp_path / "none" / "journal").exists()
    assert (tmp_path / "none" / "metrics.json").exists()
    assert none.metrics == mem.metrics and none.journal_sha256() == mem.journal_sha256()


def test_a_streamed_simulation_keeps_no_records_in_the_venue(tiny_crash):
    sim = Simulation(tiny_crash, seed=1, journal="none")
    sim.run()
    sim.finish_journal()
    assert sim.ex.journal_released == sim.summary.events > 0
    assert sim.ex.journal().shape[0] == 0


def test_bad_journal_mode_is_a_clear_error(tiny_crash):
    with pytest.raises(ValueError, match="'journal' must be one of full, events, none"):
        Simulation(tiny_crash, seed=1, journal="all")


def _records(n, seed):
    rng = np.random.default_rng(seed)
    r = np.zeros(n, EVENT_DTYPE)
    r["seq"] = np.arange(1, n + 1)
    r["ts"] = np.cumsum(rng.integers(0, 5, n))
    r["kind"] = rng.choice([1, 3, 4, 6, 11, 100, 113], n)
    r["acct"] = rng.integers(0, 50, n)
    r["qty"] = rng.integers(-9, 10, n)
    r["price"] = rng.integers(1, 1000, n)
    r["a1"], r["a2"] = rng.integers(-99, 99, n), rng.integers(-99, 99, n)
    r["flag"] = rng.integers(0, 2, n)
    return r


def test_row_groups_streamed_in_any_batching_give_write_journal_bytes(tmp_path, monkeypatch):
    monkeypatch.setattr(jmod, "ROW_GROUP_ROWS", 100)
    recs = _records(2_000, 0)
    w = JournalWriter(tmp_path / "s")
    for chunk in np.array_split(recs, [7, 300, 301, 1200]):
        w.write(chunk)
    w.close()
    # write_journal with the same row-group size: pyarrow splits one table the same way
    orig = jmod._WRITE
    monkeypatch.setattr(jmod, "_WRITE", {**orig, "row_group_size": 100})
    write_journal(recs, tmp_path / "w")
    assert _files(tmp_path / "s") == _files(tmp_path / "w")
    assert pq.ParquetFile(tmp_path / "s" / "OrderAccepted.parquet").num_row_groups > 1


def test_digest_and_summary_do_not_depend_on_the_batching():
    recs = _records(5_000, 1)
    h = JournalDigest(EVENT_DTYPE)
    s = JournalSummary()
    for chunk in np.array_split(recs, 13):
        h.update(chunk)
        s.add(chunk)
    assert h.hexdigest() == journal_digest(recs)
    series = {c: np.zeros(3, np.int64) for c in ("ts_ns", "last_ticks", "index_ticks",
                                                 "insurance_atoms")}
    eq = np.arange(50, dtype=np.int64)
    info = {"settle_decimals": 6, "atoms_per_tick_lot": 3}
    assert compute_metrics(s, series, info, eq) == compute_metrics(recs, series, info, eq)
    accts = [1, 2, 2, 49, 77]
    assert account_pnl(s, accts, eq, eq, info) == account_pnl(recs, accts, eq, eq, info)


def test_series_downsamples_as_it_goes_keeping_an_even_grid(tiny_crash):
    sim = Simulation(tiny_crash, seed=1, journal="none", max_series_rows=16)
    sim.run()
    ts = sim.series()["ts_ns"]
    assert 8 <= len(ts) < 16
    steps = np.diff(ts)
    assert (steps == steps[0]).all() and steps[0] > tiny_crash.step_ns
    full = Simulation(tiny_crash, seed=1, journal="none")
    full.run()
    np.testing.assert_array_equal(full.series()["ts_ns"][:: steps[0] // tiny_crash.step_ns], ts)
    with pytest.raises(ValueError, match="max_series_rows"):
        Simulation(tiny_crash, seed=1, max_series_rows=1)
