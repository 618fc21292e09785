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
            self.journal.append(rec)
            if self.journal.snapshot_due():
                self.journal.write_snapshot(self.snapshot())

    # server state that is not a snapshot's: the venue (snapshotted on its own), plumbing,
    # configuration, the rate limiter's windows and the keepalive clocks (monotonic time)
    _NOT_SNAPSHOTTED = frozenset((
        "venue", "hub", "limiter", "app", "journal", "clock", "algo_only", "listen_key_ttl_s",
        "_market_timer", "_streams_task", "_expiry_task", "_listen_alive", "_replaying",
        "_restored", "_market_last", "_book_stream_names", "_undrained"))

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
        self._replaying = True
        self._restored = False
        try:
            snap = journal.load_snapshot()
            if snap is not None:
                self._restore_snapshot(snap)
                self._restored = True
            for rec in journal.read():
                self._restored = True
                REPLAY_MS.append(rec["ms"])
                try:
                    if rec["ns"] > self.venue.ts_ns:
                        self.venue.advance_to(rec["ns"])
                    self._replay_one(rec)
                except (BinanceError, InvalidCommandError):
                    pass                  # answered with this error the first time too
                finally:
                    REPLAY_MS.pop()
        finally:
            self._replaying = False
        now = time.monotonic()
        for k in self._listen_keys:
            self._listen_alive[k] = now

    def _replay_one(self, rec: dict) -> None:
        k = rec["k"]
        if k == "account":
            self.add_account(rec["deposit"], rec["api_key"], rec["secret"], tuple(rec["perms"]))
        elif k == "cmd":
            getattr(self, "_cmd_" + rec["cmd"])(self._keys[rec["key"]], rec["params"])
        elif k == "mark":
            self.set_mark(rec["symbol"], rec["price"], rec["index"])
        elif k == "funding":
            self.settle_funding(rec["symbol"], rec["rate"])
        elif k == "listen_new":
            self._listen_keys[rec["lk"]] = self._keys[rec["key"]].account
        elif k == "listen_close":
            self._close_listen_keys(self._keys[rec["key"]].account)
        elif k == "advance":
            pass                                  # the clock was moved to rec["ns"] above
        else:
            raise InvalidCommandError(f"unknown journal record kind {k!r}")

    def _mutate(self, kind: str, cred: Credentials, params: dict):
        """Run a signed command that changes the venue; journal it before answering."""
        try:
            resp = getattr(self, "_cmd_" + kind)(cred, params)
        except BinanceError as exc:
            if exc.status != 429:                 # refused by the limiter: never ran
                self._log({"k": "cmd", "cmd": kind, "key": cred.api_key, "params": params})
            raise
        except Exception:
            self._log({"k": "cmd", "cmd": kind, "key": cred.api_key, "params": params})
            raise
        self._log({"k": "cmd", "cmd": kind, "key": cred.api_key, "params": params})
        return resp
