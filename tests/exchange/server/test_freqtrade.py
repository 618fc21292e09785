"""freqtrade, unmodified, against ``perpsim serve --scenario calm``: the config printed by
``perpsim serve --freqtrade-config`` (futures, isolated), the sample strategy of
``tests/exchange/server/freqtrade/strategies`` — freqtrade downloads candles, enters long and exits
(by its ROI table), and the server shows the account's two fills.

freqtrade is found as ``$PERPSIM_FREQTRADE`` or ``freqtrade`` on the PATH; with
``PERPSIM_INSTALL_FREQTRADE=1`` the test installs it (``pip install freqtrade`` into a venv
under ``~/.cache/perpsim``, about 2 minutes the first time). Without any of them it is
skipped, saying so. The servers bind 127.0.0.1 on a port in 18000–18999 and are stopped by
the test.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

HERE = Path(__file__).parent
ROOT = HERE.parents[2]


def _freqtrade() -> str | None:
    exe = os.environ.get("PERPSIM_FREQTRADE") or shutil.which("freqtrade")
    if exe:
        return exe
    if os.environ.get("PERPSIM_INSTALL_FREQTRADE") != "1":
        return None
    venv = Path.home() / ".cache" / "perpsim" / "freqtrade-venv"
    exe = venv / "bin" / "freqtrade"
    if not exe.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "freqtrade"], check=True,
                       timeout=900)
    return str(exe)


def _free_port() -> int:
    for port in range(18000 + os.getpid() % 500, 19000):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in 18000-18999")


def _wait_for(predicate, timeout, what, proc=None, log=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = predicate()
        if got:
            return got
        if proc is not None and proc.poll() is not None:
            break
        time.sleep(0.5)
    tail = Path(log).read_text()[-3000:] if log and Path(log).exists() else ""
    raise AssertionError(f"{what} not seen within {timeout} s\n{tail}")


@pytest.mark.slow
def test_freqtrade_downloads_candles_enters_and_exits_on_the_mock(tmp_path):
    exe = _freqtrade()
    if exe is None:
        pytest.skip("freqtrade not installed (set PERPSIM_FREQTRADE, put it on PATH, or "
                    "PERPSIM_INSTALL_FREQTRADE=1 to install it)")
    port = _free_port()
    cfg_path = tmp_path / "config.json"
    server_log = tmp_path / "server.log"
    ft_log = tmp_path / "freqtrade.log"
    db = tmp_path / "trades.sqlite"
    procs = []
    try:
        with open(server_log, "w") as out:
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "exchange.cli", "serve", "--scenario", "calm",
                 "--port", str(port), "--accounts", "1", "--deposit", "100000",
                 "--freqtrade-config", str(cfg_path)],
                cwd=ROOT, stdout=out, stderr=subprocess.STDOUT))
        _wait_for(lambda: cfg_path.exists() and "Ctrl-C" in server_log.read_text(), 30,
                  "the server", procs[0], server_log)
        cfg = json.loads(cfg_path.read_text())
        assert cfg["trading_mode"] == "futures" and cfg["margin_mode"] == "isolated"
        assert cfg["exchange"]["ccxt_config"]["urls"]["api"]["fapiPublic"] == \
            f"http://127.0.0.1:{port}/fapi/v1"
        userdir = tmp_path / "user"
        subprocess.run([exe, "create-userdir", "--userdir", str(userdir)], check=True,
                       capture_output=True, timeout=120)
        with open(ft_log, "w") as out:
            procs.append(subprocess.Popen(
                [exe, "trade", "--config", str(cfg_path), "--strategy", "PerpsimSample",
                 "--strategy-path", str(HERE / "freqtrade" / "strategies"),
                 "--userdir", str(userdir), "--db-url", f"sqlite:///{db}"],
                cwd=tmp_path, stdout=out, stderr=subprocess.STDOUT))

        def closed_trade():
            if not db.exists():
                return None
            try:
                with sqlite3.connect(db) as con:
                    return con.execute("select pair, is_open, exit_reason, amount, open_rate, "
                                       "close_rate from trades where is_open = 0").fetchone()
            except sqlite3.OperationalError:         # tables not created yet
                return None

        pair, is_open, reason, amount, open_rate, close_rate = _wait_for(
            closed_trade, 150, "a closed freqtrade trade", procs[1], ft_log)
        assert (pair, is_open, reason) == ("BTC/USDT:USDT", 0, "roi")
        log = ft_log.read_text()
        assert "Long signal found" in log and "Traceback" not in log
        # the server's record of the same two fills, through ccxt
        import ccxt

        from exchange.server import ccxt_config
        key = cfg["exchange"]["key"]
        secret = cfg["exchange"]["secret"]
        ex = ccxt.binanceusdm(ccxt_config(f"http://127.0.0.1:{port}", key, secret))
        fills = ex.fetch_my_trades("BTC/USDT:USDT")
        assert [f["side"] for f in fills][:2] == ["buy", "sell"]
        assert sum(f["amount"] for f in fills if f["side"] == "buy") == pytest.approx(amount)
        candles = ex.fetch_ohlcv("BTC/USDT:USDT", "1m", limit=5)
        assert candles and candles[-1][5] > 0
    finally:
        for p in reversed(procs):
            if p.poll() is None:
                p.send_signal(signal.SIGINT)
                try:
                    p.wait(30)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait(10)
