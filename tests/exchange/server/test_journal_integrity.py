"""The state journal's integrity (``perpsim serve --state DIR``): a damaged, incomplete or
reordered journal is refused with the file and the line named, never half-replayed; a
journal that cannot be written stops the server (fail-stop) with nothing acknowledged lost
and nothing unacknowledged kept; listen keys expire across restarts; the files holding the
API secrets are private."""
from __future__ import annotations

import errno
import json
import os
import re
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from exchange.server import MockBinance
from exchange.server.errors import BinanceError
from exchange.server.journal import JournalError

KW = dict(marks={"BTCUSDT": "50000"}, clock="manual", rate_limits=None)


def _oid(answer) -> int:
    return json.loads(answer.body)["orderId"]


def _order(price: int, qty: str = "0.01") -> dict:
    return {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "quantity": qty,
            "price": str(price), "timeInForce": "GTC"}


def _state(tmp_path, n=6, **kw) -> tuple[Path, list[int]]:
    """A state directory with two accounts and ``n`` acknowledged orders; their ids."""
    d = tmp_path / "state"
    m = MockBinance(state_dir=d, **KW, **kw)
    creds = [m.add_account("100000", f"key{i}", f"secret{i}") for i in range(2)]
    ids = [_oid(m._mutate("new_order", creds[0], _order(48000 + i))) for i in range(n)]
    m.journal.close()
    return d, ids


def _lines(d: Path) -> list[bytes]:
    return (d / "journal.jsonl").read_bytes().splitlines(keepends=True)


def _write(d: Path, lines: list[bytes]) -> None:
    (d / "journal.jsonl").write_bytes(b"".join(lines))


def _open_ids(m: MockBinance) -> list[int]:
    return sorted(o.order_id for o in m._orders.values() if o.status == "NEW")


def test_a_damaged_line_in_the_middle_is_refused_naming_it_and_the_file_is_left_alone(tmp_path):
    d, _ids = _state(tmp_path)
    lines = _lines(d)
    lines[4] = lines[4].replace(b'{"k"', b'{"k', 1)
    _write(d, lines)
    before = (d / "journal.jsonl").read_bytes()
    with pytest.raises(JournalError, match=r"journal.jsonl: line 5 is not a journal record.*"
                                           r"4 record\(s\) follow"):
        MockBinance(state_dir=d, **KW)
    assert (d / "journal.jsonl").read_bytes() == before


def test_a_damaged_first_line_is_refused_not_taken_for_a_new_state(tmp_path):
    d, _ids = _state(tmp_path)
    lines = _lines(d)
    lines[0] = b"garbage\n"
    _write(d, lines)
    with pytest.raises(JournalError, match="line 1 is not a journal record"):
        MockBinance(state_dir=d, **KW)


def test_a_torn_last_line_is_dropped_and_the_rest_replays(tmp_path):
    d, ids = _state(tmp_path)
    _write(d, _lines(d) + [b'{"k":"cmd","cmd":"new_or'])
    m = MockBinance(state_dir=d, **KW)
    assert _open_ids(m) == ids and m.journal.records == len(_lines(d))
    assert _lines(d)[-1].endswith(b"\n")               # cut, the next append is on its own line
    m._mutate("new_order", m._keys["key0"], _order(47900))
    assert json.loads(_lines(d)[-1])["i"] == len(_lines(d)) - 1


@pytest.mark.parametrize("how", ["missing", "repeated"])
def test_a_missing_or_repeated_record_is_refused_so_no_later_id_shifts(tmp_path, how):
    d, _ids = _state(tmp_path)
    lines = _lines(d)
    if how == "missing":
        del lines[4]
    else:
        lines.insert(4, lines[3])
    _write(d, lines)
    with pytest.raises(JournalError, match=f"line 5 is record .*a record is {how}"):
        MockBinance(state_dir=d, **KW)


@pytest.mark.parametrize("edit, problem", [
    (lambda r: {**r, "k": "cmdx"}, "unknown record kind 'cmdx'"),
    (lambda r: {**r, "cmd": "bogus"}, "unknown command 'bogus'"),
    (lambda r: {**r, "key": "nobody"}, "has no account record before it"),
    (lambda r: {**r, "params": [1, 2]}, "field 'params' must be a dict"),
    (lambda r: {**r, "ns": "x"}, "not a journal record"),
    (lambda r: [1, 2, 3], "not a journal record"),
], ids=["kind", "cmd", "key", "params", "ns", "list"])
def test_a_malformed_record_is_refused_naming_its_line(tmp_path, edit, problem):
    d, _ids = _state(tmp_path)
    lines = _lines(d)
    lines[3] = json.dumps(edit(json.loads(lines[3])), separators=(",", ":")).encode() + b"\n"
    _write(d, lines)
    with pytest.raises(JournalError, match=rf"line 4.*{re.escape(problem)}"):
        MockBinance(state_dir=d, **KW)


def test_a_lost_snapshot_is_refused_not_replayed_from_the_middle(tmp_path):
    d, _ids = _state(tmp_path, n=9, snapshot_records=5, snapshot_seconds=None)
    assert (d / "snapshot.bin").exists() and _lines(d)
    (d / "snapshot.bin").unlink()
    with pytest.raises(JournalError, match=r"line 1 is record \d+, but there is no .*snapshot.bin"):
        MockBinance(state_dir=d, **KW)


class _FailingOS:
    """``os`` for the journal module with writes that fail once ``fail`` is set: the first
    failing call writes half its bytes, as a disk that fills mid-record does."""

    def __init__(self):
        self.fail = False

    def __getattr__(self, name):
        return getattr(os, name)

    def write(self, fd, data):
        if self.fail:
            if not getattr(self, "_half", False):
                self._half = True
                return os.write(fd, bytes(data[:len(data) // 2]))
            raise OSError(errno.ENOSPC, "No space left on device")
        return os.write(fd, data)


def test_a_journal_that_cannot_be_written_stops_the_server_and_loses_nothing_acknowledged(
        tmp_path, monkeypatch):
    import exchange.server.journal as journal_mod

    fake = _FailingOS()
    monkeypatch.setattr(journal_mod, "os", fake)
    d = tmp_path / "state"
    m = MockBinance(state_dir=d, **KW)
    told = []
    m.on_halt = told.append
    cred = m.add_account("100000", "key0", "secret0")
    acked = [_oid(m._mutate("new_order", cred, _order(48000 + i))) for i in range(3)]
    # a user-data stream listening: what the failed command publishes must never go out
    from exchange.server.streams import _Client

    class _WS:
        closed = False

        async def close(self, **kw):
            self.closed = True

    client = _Client(_WS(), False)
    m._listen_keys["lk"] = cred.account
    m.hub._subscribe(client, ["lk"])
    m.hub._clients.add(client)
    m._mutate("new_order", cred, _order(47950))
    assert not client.queue.empty()                # a journaled order is published
    while not client.queue.empty():
        client.queue.get_nowait()
    acked.append(_oid(m._mutate("new_order", cred, _order(47960))))
    while not client.queue.empty():
        client.queue.get_nowait()
    fake.fail = True
    with pytest.raises(BinanceError) as exc:
        m._mutate("new_order", cred, _order(47900))
    assert (exc.value.status, exc.value.code) == (503, -1001)
    assert "journal could not be written" in exc.value.msg and "No space left" in exc.value.msg
    assert told and m.halted == told[0]
    assert client.queue.empty()                    # its ORDER_TRADE_UPDATE was dropped
    # the partial record was cut off: the journal holds exactly what was acknowledged
    monkeypatch.setattr(journal_mod, "os", os)
    lines = _lines(d)
    assert [json.loads(x)["i"] for x in lines] == list(range(len(lines)))
    with pytest.raises(BinanceError, match="journal could not be written"):
        m._log({"k": "advance"})                   # nothing more is journaled
    m.journal.close()
    again = MockBinance(state_dir=d, **KW)
    assert len(_open_ids(again)) == len(acked) + 1 and set(acked) <= set(_open_ids(again))
    assert all(json.loads(x)["params"].get("price") != "47900" for x in _lines(d)
               if json.loads(x)["k"] == "cmd")


def test_a_halted_server_answers_every_request_503(tmp_path):
    from exchange.server import ServerThread
    import urllib.error
    import urllib.request

    m = MockBinance(**KW)
    m.halted = "the server stopped: its state journal could not be written (test)"
    with ServerThread(m) as srv:
        with pytest.raises(urllib.error.HTTPError) as exc:
            urllib.request.urlopen(f"{srv.base_url}/fapi/v1/time", timeout=10)
        assert exc.value.code == 503
        body = json.loads(exc.value.read())
        assert body["code"] == -1001 and "journal could not be written" in body["msg"]


def test_an_expired_listen_key_stays_expired_after_a_restart(tmp_path):
    d = tmp_path / "state"
    m = MockBinance(state_dir=d, listen_key_ttl_s=3600, **KW)
    cred = m.add_account("100000", "key0", "secret0")
    cred2 = m.add_account("100000", "key1", "secret1")
    for c in (cred, cred2):
        m._listen_keys[f"lk-{c.api_key}"] = c.account
        m._listen_alive[f"lk-{c.api_key}"] = time.monotonic()
        m._listen_kept_ms[f"lk-{c.api_key}"] = int(time.time() * 1000)
        m._log({"k": "listen_new", "key": c.api_key, "lk": f"lk-{c.api_key}"})
    # both expire (an hour without keepalive): the expiry is journaled
    assert sorted(m.expire_listen_keys(now=time.monotonic() + 3600)) == ["lk-key0", "lk-key1"]
    m.journal.close()
    again = MockBinance(state_dir=d, listen_key_ttl_s=3600, **KW)
    assert not again._listen_keys


def test_keepalive_times_survive_a_restart(tmp_path):
    d = tmp_path / "state"
    m = MockBinance(state_dir=d, listen_key_ttl_s=60, **KW)
    cred = m.add_account("100000", "key0", "secret0")
    m._listen_keys["lk"] = cred.account
    m._listen_kept_ms["lk"] = int(time.time() * 1000) - 50_000     # kept alive 50 s ago
    m._log({"k": "listen_new", "key": cred.api_key, "lk": "lk"})
    m.journal.close()
    lines = _lines(d)
    rec = json.loads(lines[-1])
    rec["ms"] = int(time.time() * 1000) - 50_000
    lines[-1] = json.dumps(rec, separators=(",", ":")).encode() + b"\n"
    _write(d, lines)
    again = MockBinance(state_dir=d, listen_key_ttl_s=60, **KW)
    assert "lk" in again._listen_keys
    assert again.expire_listen_keys(now=time.monotonic() + 5) == []
    assert again.expire_listen_keys(now=time.monotonic() + 15) == ["lk"]   # 50 + 15 > 60


def test_the_journal_and_snapshot_are_private_files(tmp_path):
    d, _ids = _state(tmp_path, n=6, snapshot_records=5, snapshot_seconds=None)
    for name in ("journal.jsonl", "snapshot.bin"):
        assert stat.S_IMODE((d / name).stat().st_mode) == 0o600, name
    assert stat.S_IMODE(d.stat().st_mode) & 0o077 == 0


def test_perpsim_serve_exits_when_its_journal_cannot_be_written(tmp_path):
    """A real file-size limit (RLIMIT_FSIZE, a full disk): the order that could not be
    journaled is answered 503 -1001, the server exits 1 saying why, and a restart with the
    same DIR has every order acknowledged before and not that one."""
    import resource
    import urllib.error
    import urllib.request
    from tests.exchange.server.test_freqtrade import _free_port
    from tests.exchange.server.test_http_front import signed_query

    d = tmp_path / "state"
    port = _free_port()
    cmd = [sys.executable, "-m", "exchange.cli", "serve", "--state", str(d), "--port", str(port),
           "--accounts", "1", "--mark", "BTCUSDT=50000", "--no-rate-limits"]
    root = Path(__file__).parents[3]

    def limit():
        resource.setrlimit(resource.RLIMIT_FSIZE, (6000, resource.RLIM_INFINITY))

    proc = subprocess.Popen(cmd, cwd=root, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, preexec_fn=limit)
    try:
        key = None
        for line in proc.stdout:
            m = re.search(r"apiKey=(\w+) secret=(\w+)", line)
            if m:
                key = m.groups()
            if "Ctrl-C" in line:
                break
        import socket

        deadline = time.monotonic() + 30
        while True:                                  # listening
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    break
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.1)
        acked, refused = [], None
        for i in range(200):
            q = signed_query(key, _order(48000 + i))
            req = urllib.request.Request(f"http://127.0.0.1:{port}/fapi/v1/order?{q}",
                                         method="POST", headers={"X-MBX-APIKEY": key[0]})
            try:
                with urllib.request.urlopen(req, timeout=10) as r:
                    acked.append(json.loads(r.read())["orderId"])
            except urllib.error.HTTPError as exc:
                refused = (exc.code, json.loads(exc.read()))
                break
        assert refused is not None and refused[0] == 503 and refused[1]["code"] == -1001
        assert proc.wait(20) == 1
        assert "journal could not be written" in proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    again = MockBinance(state_dir=d, rate_limits=None)
    assert _open_ids(again) == sorted(acked) and len(acked) > 3
