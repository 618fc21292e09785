"""End-to-end tests of the ``perpsim`` command (in process through ``main(argv)``, and one
subprocess run to check that bad input never prints a traceback)."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

from exchange.cli import main

ROOT = Path(__file__).resolve().parents[1]

TINY = ["--set", "scenario.duration_s=130", "--set", "population.makers.count=4",
        "--set", "population.noise.count=30", "--set", "population.directional.count=100",
        "--set", "population.directional.warmup_s=30", "--set", "population.arbitrageur.count=2",
        "--set", "population.keeper.count=2", "--set", "shock.0.at_s=98",
        "--set", "shock.0.duration_s=30", "--set", "shock.1.at_s=100", "--set", "shock.2.at_s=115",
        "--set", "shock.3.at_s=125"]


def test_run_prints_the_summary_and_writes_journal_and_report(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["run", "flash_crash", "--seed", "3", "--out", str(out), *TINY]) == 0
    text = capsys.readouterr().out
    assert "liquidations" in text and "bad_debt" in text and "events/s" in text
    assert (out / "report.html").is_file() and (out / "series.parquet").is_file()
    assert (out / "journal" / "OrderFilled.parquet").is_file()
    meta = json.loads((out / "metrics.json").read_text())
    assert meta["seed"] == 3 and meta["metrics"]["liquidations"] > 0


def test_compare_prints_designs_side_by_side_and_writes_the_report(tmp_path, capsys):
    out = tmp_path / "cmp"
    assert main(["compare", "flash_crash", "--waterfalls", "market,insurance,adl",
                 "market,insurance", "--seeds", "1", "--workers", "1", "--out", str(out),
                 *TINY]) == 0
    text = capsys.readouterr().out
    assert "market → insurance → adl" in text and "bad_debt" in text
    assert (out / "report.html").is_file() and (out / "compare.parquet").is_file()


def test_calc_gives_liquidation_and_bankruptcy_prices(capsys):
    assert main(["calc", "--preset", "binance_usdm", "--symbol", "BTCUSDT", "--side", "long",
                 "--entry", "100000", "--qty", "0.5", "--leverage", "20"]) == 0
    text = capsys.readouterr().out
    assert "95,381.6" in text and "95,000.0" in text and "2,500.00 USDT" in text


def test_listings(capsys):
    assert main(["scenarios"]) == 0
    text = capsys.readouterr().out
    assert "flash_crash" in text and "oracle_manipulation" in text
    assert main(["presets"]) == 0
    assert "hyperliquid" in capsys.readouterr().out
    assert main(["scenarios", "--agents"]) == 0
    text = capsys.readouterr().out
    assert "inventory_limit" in text and "'strategy'" in text and "interval_ms" in text


@pytest.mark.parametrize("argv, needle", [
    (["run", "no_such_scenario"], "'scenario' must be a built-in scenario name"),
    (["run", "calm", "--set", "population.noise.count=-1"], "'population.noise.count' must be an integer >= 0 and <= 100000 (got -1)"),
    (["compare", "calm", "--waterfalls", "market,prayer"], "'prayer'"),
    (["calc", "--preset", "nasdaq", "--side", "long", "--entry", "1", "--qty", "1"], "nasdaq"),
    (["calc", "--side", "long", "--entry", "abc", "--qty", "1"], "'--entry' must be a decimal number (got 'abc')"),
    (["sweep", "calm", "--grid", "index.sigma"], "'grid' must be written key=v1,v2"),
])
def test_bad_input_is_one_line_and_a_non_zero_exit(argv, needle, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("perpsim: error:") and needle in err and "\n" not in err


def test_bad_scenario_file_in_a_subprocess_never_shows_a_traceback(tmp_path):
    bad = tmp_path / "mine.toml"
    bad.write_text('[scenario]\npreset = "binance_usdm"\nduration_s = 60\n[index]\nprice = 100.0\n'
                   '[population.noise]\nsize = "big"\n')
    proc = subprocess.run([sys.executable, "-m", "exchange.cli", "run", str(bad)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip() == ("perpsim: error: mine.toml: 'population.noise.size' must be a "
                                   "finite number > 0.0 and <= 1000000000.0 (got 'big')")
    assert "Traceback" not in proc.stderr + proc.stdout


def test_help_everywhere(capsys):
    for cmd in ("run", "compare", "sweep", "calc", "scenarios", "presets", "demo"):
        with pytest.raises(SystemExit) as info:
            main([cmd, "--help"])
        assert info.value.code == 0
        assert "usage: perpsim" in capsys.readouterr().out


def test_serve_starts_a_binance_compatible_server_that_ccxt_trades_on():
    """`perpsim serve` in a subprocess on 127.0.0.1: it prints the accounts' keys, answers
    signed requests from an unmodified ccxt client, and stops on SIGINT."""
    ccxt = pytest.importorskip("ccxt")
    import re
    import signal
    import socket
    import time

    from exchange.server import ccxt_config

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "exchange.cli", "serve", "--port", str(port),
                             "--accounts", "1", "--deposit", "5000", "--mark", "BTCUSDT=50000"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        lines = [proc.stdout.readline() for _ in range(3)]
        key = re.search(r"apiKey=(\w+) secret=(\w+)", "".join(lines))
        assert key, lines
        client = ccxt.binanceusdm(ccxt_config(f"http://127.0.0.1:{port}", key[1], key[2]))
        deadline = time.monotonic() + 20
        while True:
            try:
                balance = client.fetch_balance()
                break
            except ccxt.NetworkError:
                assert time.monotonic() < deadline, "server did not come up"
                time.sleep(0.2)
        assert balance["USDT"]["total"] == 5000
        order = client.create_order("BTC/USDT:USDT", "limit", "buy", 0.01, 49900)
        assert order["status"] == "open"
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(20)
    assert "Traceback" not in proc.stderr.read()


def test_calc_uses_the_venues_own_liquidation_formula(capsys):
    """Bybit margins on the entry value: its help-centre long (1 BTC at 20,000, 50x) is
    liquidated at 19,700 (a mark-value formula would say 19,698.5)."""
    from exchange.cli import main

    assert main(["calc", "--preset", "bybit_linear", "--side", "long", "--entry", "20000",
                 "--qty", "1", "--leverage", "50"]) == 0
    out = capsys.readouterr().out
    assert "19,700.0" in out


def test_compare_and_sweep_take_a_strategy(tmp_path, capsys):
    """`--strategy` on compare and sweep: your strategy runs in every design / grid point and
    its results are reported beside the venue's."""
    from exchange.cli import main

    small = ["--set", "scenario.duration_s=240", "--set", "population.noise.count=20",
             "--set", "population.directional.count=30"]
    strat = str(ROOT / "examples" / "strategies.py") + ":MarketMaker"
    assert main(["compare", "flash_crash", "--seeds", "1", "--workers", "1", "--no-report",
                 "--out", str(tmp_path / "c"), "--waterfalls", "market,insurance,adl;market,insurance",
                 "--strategy", strat, *small]) == 0
    out = capsys.readouterr().out
    assert "your strategy" in out and "realized_pnl" in out
    assert main(["sweep", "flash_crash", "--grid", "index.sigma=0.0001,0.0002", "--workers", "1",
                 "--out", str(tmp_path / "s.parquet"), "--strategy", strat,
                 "--grid", "scenario.duration_s=240"]) == 0
    import pyarrow.parquet as pq

    t = pq.read_table(tmp_path / "s.parquet")
    assert t.num_rows == 2 and "strategy.pnl" in t.column_names
    assert main(["sweep", "flash_crash", "--grid", "index.sigma=0.0001",
                 "--strategy-param", "x=1"]) == 2
