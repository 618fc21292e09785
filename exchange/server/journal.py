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

Integrity: each record carries its ordinal ``i``; a restart replays only an intact journal.
A damaged line with records after it, a record missing or repeated (ordinals that skip or
repeat), an unknown record kind or command, a field of the wrong type, a key used before
its account record, a journal that starts after record 0 with no snapshot (or after the
records the snapshot covers) — each is refused with :class:`JournalError` naming the file
and the line, the file left as it is, rather than replayed in part (which would give later
orders other ids). A write or fsync that fails (disk full, I/O error) cuts the partial
record off and stops the server (fail-stop): the command it records is answered 503 with
-1001 (status unknown, as Binance's 5xx), what it published is never sent, every later
request gets the same, and ``perpsim serve`` exits 1; a restart resumes at the last
acknowledged command. The journal and snapshots hold the API secrets: they are created
mode 0600 in a directory created 0700.

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
length are checked here, the venue state's sha256 by :meth:`exchange.venue.Exchange.restore`;
a damaged one is refused with InvalidCommandError) and replays the journal tail.
Snapshots are trusted files (their body is a pickle): serve only a DIR this server wrote.

Listen keys: opened, kept alive, closed and expired are journaled; after a restart a key
expires as it would have had the server not stopped (its keepalive clock is set from the
wall time of its last keepalive).

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

__all__ = ["Journal", "JournalError", "JournalWriteError", "FSYNC_POLICIES"]

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
        self.dir.mkdir(mode=0o700, parents=True, exist_ok=True)      # secrets inside
        self.path = self.dir / FILE
        self.snapshot_path = self.dir / SNAPSHOT
        self.fsync = fsync
        self.snapshot_records = snapshot_records
        self.snapshot_seconds = snapshot_seconds
        self._fd: int | None = None
        #: the OSError that made an append fail (the journal then refuses every append)
        self.failed: OSError | None = None
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

    def read(self) -> Iterator[tuple[int, dict]]:
        """The journaled records after the snapshot, in order, each with its 1-based line
        number. A torn last line (the server killed mid-write: no newline, or not a record)
        is dropped and cut off the file, so that the next append starts on a fresh line.
        Anything else that is not a well-formed, consecutively numbered record raises
        :class:`JournalError` naming the file and the line, and leaves the file as it is:
        a damaged line with records after it, a record whose ordinal ``i`` skips or repeats
        one (a record lost), a journal that starts after record 0 with no snapshot, or
        after the records the snapshot covers (``snapshot.bin`` lost or older)."""
        if not self.path.exists():
            if self.covered:
                self.records = self.covered
            return
        with open(self.path, "rb") as fh:
            data = fh.read()
        lines = data.splitlines(keepends=True)
        good = 0
        expect = None                     # the ordinal the next record must have
        for n, line in enumerate(lines, 1):
            last = n == len(lines)
            rec = None
            if line.endswith(b"\n"):
                try:
                    rec = json.loads(line)
                except ValueError:
                    rec = None
            if not _is_record(rec):
                if last:                  # torn by a kill mid-write: never acknowledged
                    break
                raise JournalError(f"{self.path}: line {n} is not a journal record "
                                   f"({_shown(line)}) and {len(lines) - n} record(s) follow "
                                   f"it: the journal is damaged (the server starts only from "
                                   f"an intact one; restore the directory from a copy)")
            i = rec["i"]
            if expect is None:
                # the first record: 0 in a journal never snapshotted; after a snapshot, the
                # one after those it covers, or earlier ones it covers (killed before the cut)
                if i > self.covered:
                    raise JournalError(
                        f"{self.path}: line {n} is record {i}, but "
                        + (f"{self.snapshot_path} covers records 0..{self.covered - 1}"
                           if self.covered else f"there is no {self.snapshot_path}")
                        + f": records {self.covered}..{i - 1} are missing")
            elif i != expect:
                raise JournalError(f"{self.path}: line {n} is record {i}, the record before "
                                   f"it {expect - 1}: "
                                   + ("a record is missing" if i > expect else
                                      "a record is repeated") + " (the journal is damaged)")
            expect = i + 1
            good += len(line)
            if i < self.covered:          # the snapshot has it (killed before the cut)
                continue
            self.records = i + 1
            yield n, rec
        if expect is not None and expect < self.covered:
            raise JournalError(f"{self.path}: the journal ends at record {expect - 1}, before "
                               f"the {self.covered} records {self.snapshot_path} covers")
        self.records = max(self.records, self.covered)
        if good < len(data):
            with open(self.path, "r+b") as fh:
                fh.truncate(good)
                os.fsync(fh.fileno())

    def append(self, rec: dict) -> None:
        """Journal ``rec`` (with its ordinal ``i``) and, with ``fsync="always"``, fsync it.
        A write or fsync that fails cuts the file back to where the record began and
        raises :class:`JournalWriteError`; the journal then refuses every later append (a
        server whose memory is ahead of its journal must stop: :attr:`failed`)."""
        if self.failed is not None:
            raise JournalWriteError(f"{self.path}: the journal failed earlier "
                                    f"({self.failed}); restart the server")
        if self._fd is None:
            self._fd = _open_private(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
        rec["i"] = self.records
        line = json.dumps(rec, separators=(",", ":")).encode() + b"\n"
        start = os.fstat(self._fd).st_size
        try:
            view = memoryview(line)
            while view:
                view = view[os.write(self._fd, view):]
            if self.fsync == "always":
                os.fsync(self._fd)
        except OSError as exc:
            self.failed = exc
            try:
                os.ftruncate(self._fd, start)
            except OSError:
                pass                      # a torn last line, dropped at the next start
            raise JournalWriteError(f"{self.path}: could not journal record {self.records} "
                                    f"({exc})") from exc
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
        fd = _open_private(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        with open(fd, "wb") as fh:
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
        self.close()
        fd = _open_private(self.path, os.O_WRONLY | os.O_CREAT)
        try:
            os.ftruncate(fd, 0)
            os.fsync(fd)
        finally:
            os.close(fd)
        self.snapshots += 1
        self._snap_t = time.monotonic()

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


class JournalError(InvalidCommandError):
    """The state directory's journal or snapshot is damaged or incomplete; the message
    names the file, the line and what is wrong."""


class JournalWriteError(OSError):
    """A record could not be journaled (disk full, I/O error): the command it records was
    never acknowledged, and the server must stop (its memory is ahead of its journal)."""


#: the fields every journal record has, and their types
_RECORD_FIELDS = (("k", str), ("i", int), ("ms", int), ("ns", int))


def _is_record(rec) -> bool:
    return isinstance(rec, dict) and all(
        isinstance(rec.get(f), t) and not isinstance(rec.get(f), bool) for f, t in _RECORD_FIELDS)


def _shown(line: bytes) -> str:
    text = line.rstrip(b"\n")
    return repr(text[:60]) + ("…" if len(text) > 60 else "")


def _open_private(path: Path, flags: int) -> int:
    """``os.open`` with mode 0600 (the journal and snapshots hold the API secrets); a file
    made by an older version with a wider mode is narrowed."""
    fd = os.open(path, flags, 0o600)
    try:
        os.fchmod(fd, 0o600)
    except OSError:
        pass
    return fd
