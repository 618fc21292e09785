"""Durability: every acknowledged command journaled before it is answered, snapshots of the whole
server state, and the replay that restores them (``perpsim serve --state DIR``,
:mod:`exchange.server.journal`).
"""
from __future__ import annotations

import itertools
import time

from exchange.errors import InvalidCommandError
from exchange.server.auth import Credentials
from exchange.server.clock import REPLAY_MS, now_ms
from exchange.server.errors import BinanceError
from exchange.server.state import Count
from exchange.venue import Exchange


class Durable:
    """Journaling, snapshotting and replaying the server's state. A part of
    :class:`~exchange.server.binance.MockBinance`, whose state it shares."""

    @property
    def restored(self) -> bool:
        """Whether this server's state came back from a journal (``state_dir``)."""
        return self.journal is not None and self._restored

    def _log(self, rec: dict) -> None:
        if self.journal is not None and not self._replaying:
            rec["ms"] = now_ms()
            rec["ns"] = int(self.venue.ts_ns)
            try:
                self.journal.append(rec)
                if self.journal.snapshot_due():
                    self.journal.write_snapshot(self.snapshot())
            except OSError as exc:
                self._halt(exc)

    def _halt(self, exc: OSError) -> None:
        """The journal could not be written: the command just run is in memory and not on
        disk, so the server stops taking requests (fail-stop; every request, this one
        included, answers 503 with -1001 and an unknown execution status, as Binance's 5xx
        do) and :attr:`on_halt` is told (``perpsim serve`` exits). A restart with the same
        state directory resumes at the last acknowledged command."""
        import logging

        if self.halted is None:
            self.halted = (f"the server stopped: its state journal could not be written "
                           f"({exc}); restart it with the same state directory")
            logging.getLogger("perpsim.server").error("%s", self.halted)
            self._silence()
            if self.on_halt is not None:
                self.on_halt(self.halted)
        raise BinanceError(-1001, f"Internal error; unable to process your request: "
                                  f"{self.halted}.", 503)

    def _silence(self) -> None:
        """Send nothing more: what the unjournaled command published is still queued (the
        command and this run in one callback), so the queues are emptied before any of it
        reaches a socket, the stream timers stop and every WebSocket is closed (1011). No
        client ever sees an order, a trade or an id that the journal does not have."""
        import asyncio

        for name in ("_streams_task", "_expiry_task", "_market_timer"):
            task = getattr(self, name, None)
            if task is not None:
                task.cancel()
        for client in list(self.hub._clients):
            q = client.queue
            while not q.empty():
                q.get_nowait()
                q.task_done()
            try:
                asyncio.get_running_loop().create_task(
                    client.ws.close(code=1011, message=b"server stopped"))
            except RuntimeError:                  # no loop running (a server driven in-process)
                pass

    # server state that is not a snapshot's: the venue (snapshotted on its own), plumbing,
    # configuration, the rate limiter's windows and the keepalive clocks (monotonic time)
    _NOT_SNAPSHOTTED = frozenset((
        "venue", "hub", "limiter", "app", "journal", "clock", "algo_only", "listen_key_ttl_s",
        "_market_timer", "_streams_task", "_expiry_task", "_listen_alive", "_replaying",
        "_restored", "_market_last", "_book_stream_names", "_undrained", "halted", "on_halt", "speed", "_force_last",
        "_force_pending", "_algo_done"))

    def snapshot(self) -> bytes:
        """The server's whole state as bytes: the venue's :meth:`Exchange.snapshot` (without
        its in-memory event journal: the server keeps its own history) and the server's
        own (keys, listen keys, orders of record, trades, history series, id counters).
        What :meth:`_restore_snapshot` reads (a restart from ``state_dir``). O(state)."""
        import pickle

        own = {}
        for name, value in vars(self).items():
            if name in self._NOT_SNAPSHOTTED:
                continue
            if isinstance(value, itertools.count):        # counters pickle as their next value
                n = next(value)
                setattr(self, name, itertools.count(n))
                value = Count(n)
            own[name] = value
        return pickle.dumps({"version": 1, "venue": self.venue.snapshot(events=False),
                             "server": own}, pickle.HIGHEST_PROTOCOL)

    def _restore_snapshot(self, data: bytes) -> None:
        import pickle

        state = pickle.loads(data)
        if not isinstance(state, dict) or state.get("version") != 1:
            raise InvalidCommandError("the state directory's snapshot is not a version 1 "
                                      "server snapshot")
        self.venue = Exchange.restore(state["venue"])
        self.venue.record_hooks.append(self._on_records)
        for name, value in state["server"].items():
            setattr(self, name, itertools.count(value.n) if isinstance(value, Count) else value)

    def _replay(self, journal) -> None:
        from exchange.server.journal import JournalError

        self._replaying = True
        self._restored = False
        try:
            snap = journal.load_snapshot()
            if snap is not None:
                self._restore_snapshot(snap)
                self._restored = True
            for line, rec in journal.read():
                self._restored = True
                problem = self._record_problem(rec)
                if problem:
                    raise JournalError(f"{journal.path}: line {line} (record {rec['i']}): "
                                       f"{problem} (the journal is damaged)")
                REPLAY_MS.append(rec["ms"])
                try:
                    if rec["ns"] > self.venue.ts_ns:
                        self.venue.advance_to(rec["ns"])
                    self._replay_one(rec)
                except Exception:
                    # the command was answered with this error the first time too (the
                    # venue is deterministic): it changed what it changed then, no more
                    pass
                finally:
                    REPLAY_MS.pop()
        finally:
            self._replaying = False
        self._listen_clocks()

    #: journal record kind -> its own fields and their types
    _RECORD_KINDS = {
        "account": {"deposit": str, "api_key": str, "secret": str, "perms": list},
        "cmd": {"cmd": str, "key": str, "params": dict},
        "mark": {"symbol": str, "price": str},
        "funding": {"symbol": str, "rate": str},
        "listen_new": {"key": str, "lk": str},
        "listen_keep": {"key": str},
        "listen_close": {"key": str},
        "listen_expire": {"lk": str},
        "advance": {},
    }

    def _record_problem(self, rec: dict) -> str | None:
        """What makes ``rec`` not a record this server can replay (None: nothing)."""
        fields = self._RECORD_KINDS.get(rec["k"])
        if fields is None:
            return f"unknown record kind {rec['k']!r}"
        for f, t in fields.items():
            if not isinstance(rec.get(f), t):
                return f"field {f!r} must be a {t.__name__} (got {rec.get(f)!r})"
        if "key" in fields and rec["key"] not in self._keys:
            return f"API key {rec['key'][:8]}… has no account record before it"
        if rec["k"] == "account" and rec["api_key"] in self._keys:
            return f"API key {rec['api_key'][:8]}… is opened twice"
        if rec["k"] == "cmd" and not callable(getattr(self, "_cmd_" + rec["cmd"], None)):
            return f"unknown command {rec['cmd']!r}"
        if rec["k"] == "cmd" and not all(isinstance(k, str) and isinstance(v, str)
                                         for k, v in rec["params"].items()):
            return "'params' must map names to strings"
        return None

    def _replay_one(self, rec: dict) -> None:
        k = rec["k"]
        if k == "account":
            self.add_account(rec["deposit"], rec["api_key"], rec["secret"], tuple(rec["perms"]),
                             key_type=rec.get("key_type", "HMAC_SHA256"),
                             public_key=rec.get("public_key"))
        elif k == "cmd":
            getattr(self, "_cmd_" + rec["cmd"])(self._keys[rec["key"]], rec["params"])
        elif k == "mark":
            self.set_mark(rec["symbol"], rec["price"], rec.get("index"))
        elif k == "funding":
            self.settle_funding(rec["symbol"], rec["rate"])
        elif k == "listen_new":
            self._listen_keys[rec["lk"]] = self._keys[rec["key"]].account
            self._listen_kept_ms[rec["lk"]] = rec["ms"]
        elif k == "listen_keep":
            acct = self._keys[rec["key"]].account
            for lk, a in self._listen_keys.items():
                if a == acct:
                    self._listen_kept_ms[lk] = rec["ms"]
        elif k == "listen_close":
            self._close_listen_keys(self._keys[rec["key"]].account)
        elif k == "listen_expire":
            self._listen_keys.pop(rec["lk"], None)
            self._listen_kept_ms.pop(rec["lk"], None)
        # "advance": the clock was moved to rec["ns"] above

    def _listen_clocks(self) -> None:
        """After a restart: each listen key's keepalive clock (monotonic) set from the wall
        time of its last keepalive, so that a key not kept alive while the server was down
        expires as it would have."""
        now, wall = time.monotonic(), now_ms()
        for k in self._listen_keys:
            kept = self._listen_kept_ms.get(k, wall)
            self._listen_alive[k] = now - max(0, wall - kept) / 1000

    def _mutate(self, kind: str, cred: Credentials, params: dict):
        """Run a signed command that changes the venue; journal it before answering. The
        command runs at one millisecond, the one journaled (its trades' and orders' times
        are the same when it is replayed)."""
        if self.journal is None or self._replaying:
            return getattr(self, "_cmd_" + kind)(cred, params)
        rec = {"k": "cmd", "cmd": kind, "key": cred.api_key, "params": params}
        REPLAY_MS.append(now_ms())
        try:
            try:
                resp = getattr(self, "_cmd_" + kind)(cred, params)
            except BinanceError as exc:
                if exc.status != 429:             # refused by the limiter: never ran
                    self._log(rec)
                raise
            except Exception:
                self._log(rec)
                raise
            self._log(rec)
        finally:
            REPLAY_MS.pop()
        return resp
