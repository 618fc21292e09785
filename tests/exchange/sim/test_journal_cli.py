"""``--journal`` and ``--progress`` on perpsim run / compare / sweep."""
import pyarrow.parquet as pq

from exchange.cli import main
from exchange.sim.journal import ORDER_FLOW
from tests.test_cli import TINY


def test_run_journal_events_leaves_out_the_order_flow_and_the_bar_stays_off_stdout(
        tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["run", "flash_crash", "--seed", "3", "--out", str(out), "--no-report",
                 "--journal", "events", "--progress", *TINY]) == 0
    cap = capsys.readouterr()
    names = {p.stem for p in (out / "journal").glob("*.parquet")}
    assert "OrderFilled" in names and not names & ORDER_FLOW
    assert "sim s" not in cap.out and "events/s" in cap.out      # the bar went to stderr
    assert "sim s" in cap.err


def test_run_journal_none_writes_metrics_and_no_journal(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["run", "flash_crash", "--seed", "3", "--out", str(out), "--no-report",
                 "--journal", "none", *TINY]) == 0
    assert (out / "metrics.json").is_file() and not (out / "journal").exists()
    assert capsys.readouterr().err == ""            # stderr is no terminal: no bar


def test_compare_and_sweep_stream_each_runs_journal_when_asked(tmp_path, capsys):
    cmp = tmp_path / "cmp"
    assert main(["compare", "flash_crash", "--waterfalls", "market,insurance", "--seeds", "1",
                 "--workers", "1", "--out", str(cmp), "--no-report", "--journal", "full",
                 *TINY]) == 0
    fills = cmp / "runs" / "market+insurance-seed0" / "journal" / "OrderFilled.parquet"
    assert pq.read_metadata(fills).num_rows > 0
    sw = tmp_path / "sw"
    grid = [x for kv in TINY[1::2] if not kv.startswith("shock")
            for x in ("--grid", kv.replace("130", "60"))]
    assert main(["sweep", "flash_crash", *grid, "--workers", "1", "--out", str(sw),
                 "--journal", "events"]) == 0
    runs = list((sw / "sweep-runs").glob("*/journal/OrderFilled.parquet"))
    assert len(runs) == 1
    assert not list((sw / "sweep-runs").glob("*/journal/OrderAccepted.parquet"))
