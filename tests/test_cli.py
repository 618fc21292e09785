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


def test_run_streams_its_journal_by_default_and_the_report_keeps_the_facts(tmp_path, monkeypatch):
    import exchange.sim.runner as runner
    from exchange.sim.facts import facts_from_dir, facts_from_result

    seen = []
    real = runner.run

    def spy(*a, **kw):
        seen.append(real(*a, **kw))
        return seen[-1]

    monkeypatch.setattr(runner, "run", spy)
    out = tmp_path / "run"
    assert main(["run", "flash_crash", "--seed", "3", "--out", str(out), *TINY]) == 0
    (r,) = seen
    assert r.journal is None and r.facts_fold is not None       # streamed, nothing held
    assert "Measured from the journal and the series" in (out / "report.html").read_text()
    assert facts_from_result(r).values() == facts_from_dir(out).values()
    assert main(["run", "flash_crash", "--seed", "3", "--out", str(tmp_path / "ev"), *TINY,
                 "--journal", "events", "--no-report"]) == 0
    assert not (tmp_path / "ev" / "journal" / "OrderAccepted.parquet").exists()
    assert seen[-1].journal_sha256() == r.journal_sha256()


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
    (["run", "calm", "--set", "population.noise.count=-1"], "'population.noise.count' must be an integer >= 0 and <= 100000 (got -1)"),  # noqa: E501
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
        balance = _first_balance(client)
        assert balance["USDT"]["total"] == 5000
        order = client.create_order("BTC/USDT:USDT", "limit", "buy", 0.01, 49900)
        assert order["status"] == "open"
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(20)
    assert "Traceback" not in proc.stderr.read()


def _first_balance(client, timeout: float = 20):
    """``client.fetch_balance()`` once the server answers (it is starting)."""
    import time

    import ccxt

    deadline = time.monotonic() + timeout
    while True:
        try:
            return client.fetch_balance()
        except ccxt.NetworkError:
            assert time.monotonic() < deadline, "server did not come up"
            time.sleep(0.2)


def test_serve_ed25519_keys_writes_the_private_keys_and_ccxt_signs_with_them(tmp_path):
    """`perpsim serve --key-type ed25519`: each account's PEM private key is written to
    --key-dir (0600) and its path printed; ccxt, given the file's text as its secret, signs
    with Ed25519; restarted with the same --state, the restored key is written again."""
    ccxt = pytest.importorskip("ccxt")
    pytest.importorskip("cryptography")
    import os
    import re
    import signal
    import socket
    import stat

    from exchange.server import ccxt_config

    keys, state = tmp_path / "keys", tmp_path / "state"

    def serve():
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        proc = subprocess.Popen([sys.executable, "-m", "exchange.cli", "serve", "--port",
                                 str(port), "--accounts", "1", "--deposit", "5000", "--mark",
                                 "BTCUSDT=50000", "--key-type", "ed25519", "--key-dir",
                                 str(keys), "--state", str(state)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        lines = [proc.stdout.readline() for _ in range(2)]
        found = re.search(r"apiKey=(\w+) privateKey=(\S+) \((.*)\)", lines[1])
        assert found, lines
        return proc, port, found

    for attempt in ("new", "restored"):
        proc, port, found = serve()
        try:
            api_key, path, note = found.groups()
            assert "Ed25519" in note and (attempt == "restored") == note.startswith("restored")
            assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
            pem = open(path).read()
            assert pem.startswith("-----BEGIN PRIVATE KEY-----")
            client = ccxt.binanceusdm(ccxt_config(f"http://127.0.0.1:{port}", api_key, pem))
            balance = _first_balance(client)
            assert balance["USDT"]["total"] == 5000
            if attempt == "new":
                assert client.create_order("BTC/USDT:USDT", "limit", "buy", 0.01,
                                           49900)["status"] == "open"
            else:
                assert len(client.fetch_open_orders("BTC/USDT:USDT")) == 1
        finally:
            proc.send_signal(signal.SIGINT)
            proc.wait(20)
        assert "Traceback" not in proc.stderr.read()


def test_serve_a_usdc_venue_with_a_freqtrade_config(tmp_path):
    """`perpsim serve --preset hyperliquid`: the keys' deposits are in USDC and the freqtrade
    config trades the market as ccxt names it (BTC/USDC:USDC, stake USDC)."""
    import json
    import signal
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cfg = tmp_path / "ft.json"
    proc = subprocess.Popen([sys.executable, "-m", "exchange.cli", "serve", "--port", str(port),
                             "--preset", "hyperliquid", "--accounts", "1", "--mark", "BTC=50000",
                             "--freqtrade-config", str(cfg)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        lines = [proc.stdout.readline() for _ in range(3)]    # the last: the config written
        assert "(deposit 100000 USDC)" in lines[1], lines
        assert lines[2].startswith("freqtrade config for account"), lines
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(20)
    written = json.loads(cfg.read_text())
    assert written["stake_currency"] == "USDC"
    assert written["exchange"]["pair_whitelist"] == ["BTC/USDC:USDC"]


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


# -- issue 15: every option error names the option, checked before any work -----------------

@pytest.mark.parametrize("argv, needle", [
    (["run", "calm", "--seed", "-1"], "'--seed' must be an integer >= 0 (got -1)"),
    (["demo", "--n", "-5"], "'--n' must be an integer >= 1 (got -5)"),
    (["sweep", "calm", "--grid", "index.sigma=0.0001", "--seeds", "0"],
     "'--seeds' must be an integer >= 1 (got 0)"),
    (["compare", "calm", "--seeds", "0"], "'--seeds' must be an integer >= 1 (got 0)"),
    (["compare", "calm", "--workers", "0"], "'--workers' must be an integer >= 1 (got 0)"),
    (["serve", "--port", "99999"], "'--port' must be an integer in [0, 65535] (got 99999)"),
    (["serve", "--speed", "-1"], "'--speed' must be a finite number > 0 (got -1)"),
    (["calc", "--side", "long", "--entry", "100", "--qty", "1", "--hours", "-3"],
     "'--hours' must be a finite number >= 0 (got -3)"),
    (["calc", "--side", "long", "--entry", "100", "--qty", "1", "--gap", "150"],
     "'--gap' must be a percentage in (0, 100) (got 150)"),
    (["sweep", "calm", "--grid", "waterfall=market,insurance"],
     "'--grid' 'waterfall=market,insurance' is ambiguous"),
])
def test_option_errors_name_the_option(argv, needle, capsys):
    assert main(argv) == 2
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert err.startswith("perpsim: error:") and needle in err and "\n" not in err
    assert captured.out == ""                                # nothing ran, no banner


def test_serve_fails_on_a_bad_or_busy_port_before_printing_keys():
    import socket

    proc = subprocess.run([sys.executable, "-m", "exchange.cli", "serve", "--port", "99999"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and proc.stdout == "" and "'--port'" in proc.stderr
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        proc = subprocess.run([sys.executable, "-m", "exchange.cli", "serve", "--port", str(port)],
                              capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "apiKey" not in proc.stdout and proc.stdout == ""
    assert f"'--port' {port} cannot be bound on 127.0.0.1" in proc.stderr


def test_out_at_an_existing_file_fails_before_the_run(tmp_path, capsys):
    import time

    f = tmp_path / "taken"
    f.write_text("mine")
    t0 = time.perf_counter()
    for cmd in (["run", "flash_crash"], ["compare"], ["backtest", "fixed_3x", "--scenario", "calm"]):
        assert main([*cmd, "--out", str(f)]) == 2
        assert "'--out' must be a directory, new or existing" in capsys.readouterr().err
    assert main(["run", "calm", "--out", str(f / "below")]) == 2
    assert "is a file" in capsys.readouterr().err
    assert main(["sweep", "calm", "--grid", "index.sigma=0.0001", "--out", str(f)]) == 2
    assert time.perf_counter() - t0 < 20                    # no simulation ran
    assert f.read_text() == "mine"


def test_scenario_warnings_for_a_late_shock_and_a_clamped_leverage():
    from exchange.cli_common import _scenario_warnings
    from exchange.sim.scenario import load_scenario

    sc = load_scenario("flash_crash").with_overrides({
        "population.directional.leverage": [500, 20],
        "population.directional.leverage_weights": [1, 1], "shock.3.at_s": 5000})
    text = " | ".join(_scenario_warnings(sc))
    assert "shock at 5000 s is at or after the scenario's end (1080 s): it never fires" in text
    assert ("population.directional.leverage 500 is above binance_usdm's maximum for BTCUSDT "
            "(125x): those accounts trade at 125x") in text
    assert _scenario_warnings(load_scenario("flash_crash")) == []


def test_run_prints_the_scenario_warnings(tmp_path, capsys):
    assert main(["run", "flash_crash", "--no-report", "--out", str(tmp_path / "r"), *TINY,
                 "--set", "shock.3.at_s=500"]) == 0
    err = capsys.readouterr().err
    assert "perpsim: warning:" in err and "at 500 s is at or after the scenario's end (130 s)" in err


BAD_STRATEGY = '''\
from exchange.sim.strategy import Strategy


class Bad(Strategy):
    def on_tick(self, api):
        self.ticks = getattr(self, "ticks", 0) + 1
        if self.ticks > 3:
            return 1 / 0
'''


def test_a_strategy_error_names_its_type_and_place_with_its_own_exit_code(tmp_path, capsys):
    path = tmp_path / "bad.py"
    path.write_text(BAD_STRATEGY)
    argv = ["run", "flash_crash", "--no-report", "--out", str(tmp_path / "r"), *TINY,
            "--strategy", f"{path}:Bad"]
    assert main(argv) == 3
    err = capsys.readouterr().err.strip()
    assert err.startswith("perpsim: error in your strategy: ZeroDivisionError: division by zero")
    assert "bad.py:8, in on_tick" in err and "\n" not in err
    with pytest.raises(ZeroDivisionError):
        main([*argv, "--debug"])


def test_debug_is_documented_and_shows_the_traceback(capsys):
    with pytest.raises(SystemExit):
        main(["run", "--help"])
    assert "--debug" in capsys.readouterr().out
    with pytest.raises(Exception, match="no_such"):
        main(["run", "no_such", "--debug"])


# -- issue 15: the calculator warns ------------------------------------------------------------

def test_calc_warns_about_a_position_above_the_tier_max_and_already_liquidatable(capsys):
    assert main(["calc", "--side", "long", "--entry", "100000", "--qty", "5000",
                 "--leverage", "20"]) == 0
    cap = capsys.readouterr()
    err = " ".join(cap.err.split())
    assert "is above the largest the venue allows at 20x (99.999 BTC): it would be rejected" in err
    assert "already liquidatable at the entry price" in err
    assert "EXCEEDED" in cap.out


def test_calc_distance_wallet_and_gap(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")                    # one table row per line
    base = ["calc", "--side", "long", "--entry", "100000", "--qty", "0.5", "--leverage", "20"]
    assert main(base) == 0
    cap = capsys.readouterr()
    assert "distance to liquidation" in cap.out and "-4.62 %" in cap.out and cap.err == ""
    assert main([*base, "--wallet", "100"]) == 0
    cap = capsys.readouterr()
    assert "already liquidatable" in " ".join(cap.err.split())
    assert main([*base, "--gap", "3"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "97,000.0: not liquidated" in out
    assert main([*base, "--gap", "6"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "94,000.0: LIQUIDATED" in out and "500.00 USDT below bankruptcy" in out


# -- issue 15: listings readable at 80 columns and piped ---------------------------------------

@pytest.mark.parametrize("cmd", ["scenarios", "presets"])
def test_listings_fit_80_columns_without_truncation(cmd):
    import os

    env = {**os.environ, "COLUMNS": "80"}
    proc = subprocess.run([sys.executable, "-m", "exchange.cli", cmd], capture_output=True,
                          text=True, timeout=60, env=env)
    assert proc.returncode == 0
    lines = proc.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80 and "…" not in proc.stdout
    # the text of the second column, line after line
    words = " ".join(" ".join(line.split("│")[2].split()) for line in lines
                     if line.count("│") == 3)
    if cmd == "scenarios":
        from exchange.sim.scenario import load_scenario

        desc = load_scenario("flash_crash").description
        assert " ".join(desc.split()) in words
    else:
        assert "insurance fund 1,000,000 USDT" in words


def test_sweep_table_keeps_design_names_whole(capsys):
    from rich.console import Console

    from exchange.cli_sim import _sweep_table

    rows = [{"grid.waterfall": "market,insurance", "seed": 0, "bad_debt": 1.0},
            {"grid.waterfall": "market,insurance,adl", "seed": 0, "bad_debt": 0.0}]
    con = Console(width=60, record=True)
    con.print(_sweep_table("t", rows, ["grid.waterfall"], ["seed", "bad_debt"]))
    text = con.export_text()
    assert "…" not in text
    flat = " ".join(text.replace("│", " ").split())
    assert "market → insurance" in flat and "adl" in flat


def test_bench_matching_says_where_the_kit_comes_from(tmp_path):
    import os

    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_matching.py")],
                          capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PERPSIM_SHARED_BENCH": str(tmp_path)})
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "not part of this repository" in proc.stderr and "PERPSIM_SHARED_BENCH" in proc.stderr


def test_sweep_output_at_80_columns_keeps_every_header_and_design_whole():
    from rich.console import Console

    from exchange.cli_sim import _sweep_tables

    shown = ["seed", "liquidations", "bad_debt", "insurance_end", "haircut_total", "perp_drawdown"]
    gcols = ["grid.waterfall", "grid.scenario.duration_s", "grid.population.directional.count"]
    rows = [{"grid.waterfall": w, "grid.scenario.duration_s": 20,
             "grid.population.directional.count": 20, "seed": 0, "liquidations": 3,
             "bad_debt": 1234.5, "insurance_end": 20_000.0, "haircut_total": 0.0,
             "perp_drawdown": 0.01} for w in ("market,insurance,adl", "market,insurance,socialized")]
    con = Console(width=80, record=True)
    for t in _sweep_tables("t", rows, gcols, shown, 80):
        con.print(t)
    text = con.export_text()
    assert max(len(line) for line in text.splitlines()) <= 80 and "…" not in text
    for name in shown:                                  # metric headers whole, never folded
        assert name in text
    assert "market → insurance →" in text and "socialized" in text and "adl" in text
    assert "1,234" in text
    tables = _sweep_tables("t", rows, gcols, shown, 250)
    assert len(tables) == 1
