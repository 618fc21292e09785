"""Durability of the mock server: a write-ahead journal of every acknowledged command.

``MockBinance(state_dir=DIR)`` (``perpsim serve --state DIR``) appends one JSON line per
command that changed, or may have changed, the venue — a new account and its keys, each
signed order / cancel / modify / leverage / margin request (rejected ones included: the
venue may have recorded them), a listen key opened or closed, a mark or funding set by the
host — to ``DIR/journal.jsonl`` and ``fsync``s it *before* the answer is sent. A restart
with the same DIR replays the journal into a fresh venue at the journaled clock times: the
venue is deterministic, so keys, balances, positions, open and conditional orders, order
ids (which therefore never repeat) and listen keys come back exactly as acknowledged.

fsync policy: ``"always"`` (the default) — every record is flushed and fsynced before the
answer, so an acknowledged command survives SIGKILL and power loss (as far as the disk
honours fsync); ``"os"`` — flushed to the OS only (survives SIGKILL of the server, not a
machine crash); a few times faster. A command killed between its execution and its
journal record was never acknowledged and is not replayed. A torn last line (killed
mid-write) is ignored on replay.

Snapshots bound the restart cost: every ``snapshot_records`` journaled records (default
10,000) or ``snapshot_seconds`` (default 300 s, checked at each record) the server writes
its whole state — the venue (:meth:`exchange.venue.Exchange.snapshot`: accounts,
positions, books with queue priority, order registry, conditional orders, oracle and
funding state, liquidation engine, id counters, clock) and its own (keys, listen keys,
the orders of record, trades, history series, id counters) — to ``DIR/snapshot.bin``
atomically: written to ``snapshot.bin.tmp``, fsynced, renamed over the old one, the
directory fsynced. The snapshot names how many records it covers; the journal is then cut
to the records after it. Each record carries its ordinal ``i``, so a crash between the
rename and the cut replays nothing twice. A restart loads the snapshot (its header and
sha256 are checked; a damaged one is refused with InvalidCommandError) and replays the
journal tail. Snapshots are trusted files (their body is a pickle): serve only a DIR this
server wrote.

Not journaled: requests refused before reaching the venue by the rate limiter (429), the
reads, and a ``--scenario``'s own agents (a scenario server is not durable: ``--state``
serves a still venue).
"""
from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

from exchange.errors import InvalidCommandError

__all__ = ["Journal", "FSYNC_POLICIES"]

FSYNC_POLICIES = ("always", "os")
FILE = "journal.jsonl"
SNAPSHOT = "snapshot.bin"
_SNAP_HEAD = b"PERPSIM-SERVER-SNAPSHOT 1 "


class Journal:
    """The write-ahead journal and the snapshots of one state directory.

    ``snapshot_records`` / ``snapshot_seconds``: how often :meth:`snapshot_due` says yes
    (records since the last snapshot, seconds since it; None turns a trigger off).
    :attr:`records` counts every record journaled in this DIR, those a snapshot covers
    included."""

    def __init__(self, state_dir, fsync: str = "always", snapshot_records: int | None = 10_000,
                 snapshot_seconds: float | None = 300.0) -> None:
        if fsync not in FSYNC_POLICIES:
            raise InvalidCommandError(f"'fsync' must be one of {FSYNC_POLICIES} (got {fsync!r})")
        if snapshot_records is not None and (isinstance(snapshot_records, bool) or not
                                             isinstance(snapshot_records, int) or snapshot_records < 1):
            raise InvalidCommandError(f"'snapshot_records' must be an int >= 1 or None "
                                      f"(got {snapshot_records!r})")
        if snapshot_seconds is not None and not (isinstance(snapshot_seconds, (int, float))
                                                 and snapshot_seconds > 0):
            raise InvalidCommandError(f"'snapshot_seconds' must be > 0 or None "
                                      f"(got {snapshot_seconds!r})")
        self.dir = Path(state_dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.path = self.dir / FILE
        self.snapshot_path = self.dir / SNAPSHOT
        self.fsync = fsync
        self.snapshot_records = snapshot_records
        self.snapshot_seconds = snapshot_seconds
        self._fh = None
        self.records = 0
        self.covered = 0              # records the snapshot on disk covers
        self.snapshots = 0            # snapshots written by this process
        self._snap_t = time.monotonic()

    def load_snapshot(self) -> bytes | None:
        """The state of the latest snapshot (None without one); sets :attr:`covered`."""
        if not self.snapshot_path.exists():
            return None
        data = self.snapshot_path.read_bytes()
        head, sep, body = data.partition(b"\n")
        if not head.startswith(_SNAP_HEAD) or not sep:
            raise InvalidCommandError(f"{self.snapshot_path} is not a perpsim server snapshot")
        try:
            covered, length = (int(x) for x in head[len(_SNAP_HEAD):].split(b" "))
        except ValueError:
            raise InvalidCommandError(f"{self.snapshot_path}: bad snapshot header") from None
        if length != len(body):
            raise InvalidCommandError(f"{self.snapshot_path}: damaged snapshot (length differs)")
        self.covered = self.records = covered
        return body

    def read(self) -> Iterator[dict]:
        """The journaled records after the snapshot, in order; a torn last line is dropped
        (and cut off the file, so that the next append starts on a fresh line)."""
        if not self.path.exists():
            return
        good = 0
        with open(self.path, "rb") as fh:
            data = fh.read()
        n = 0
        for line in data.splitlines(keepends=True):
            if not line.endswith(b"\n"):
                break
            try:
                rec = json.loads(line)
            except ValueError:
                break
            good += len(line)
            i = rec.get("i", n)
            n += 1
            if i < self.covered:          # the snapshot has it (killed before the cut)
                continue
            self.records = i + 1
            yield rec
        if good < len(data):
            with open(self.path, "r+b") as fh:
                fh.truncate(good)

    def append(self, rec: dict) -> None:
        if self._fh is None:
            self._fh = open(self.path, "ab")
        rec["i"] = self.records
        self._fh.write(json.dumps(rec, separators=(",", ":")).encode() + b"\n")
        self._fh.flush()
        if self.fsync == "always":
            os.fsync(self._fh.fileno())
        self.records += 1

    def snapshot_due(self) -> bool:
        """Whether enough records or time passed since the last snapshot. O(1)."""
        since = self.records - self.covered
        if not since:
            return False
        if self.snapshot_records is not None and since >= self.snapshot_records:
            return True
        return (self.snapshot_seconds is not None
                and time.monotonic() - self._snap_t >= self.snapshot_seconds)

    def write_snapshot(self, state: bytes) -> None:
        """Make ``state`` (covering every record so far) the snapshot, atomically, then cut
        the journal to nothing: temp file, fsync, rename, directory fsync, truncate."""
        tmp = self.snapshot_path.with_name(SNAPSHOT + ".tmp")
        with open(tmp, "wb") as fh:
            fh.write(_SNAP_HEAD + f"{self.records} {len(state)}\n".encode() + state)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.snapshot_path)
        dfd = os.open(self.dir, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
        self.covered = self.records
        if self._fh is not None:
            self._fh.close()
            self._fh = None
        with open(self.path, "r+b" if self.path.exists() else "wb") as fh:
            fh.truncate(0)
            os.fsync(fh.fileno())
        self.snapshots += 1
        self._snap_t = time.monotonic()

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None
