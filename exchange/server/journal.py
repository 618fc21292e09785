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

Not journaled: requests refused before reaching the venue by the rate limiter (429), the
reads, and a ``--scenario``'s own agents (a scenario server is not durable: ``--state``
serves a still venue). The journal is not compacted by snapshots (the venue core has no
serialisable state yet): replay time grows with the journal.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Iterator

from exchange.errors import InvalidCommandError

__all__ = ["Journal", "FSYNC_POLICIES"]

FSYNC_POLICIES = ("always", "os")
FILE = "journal.jsonl"


class Journal:
    def __init__(self, state_dir, fsync: str = "always") -> None:
        if fsync not in FSYNC_POLICIES:
            raise InvalidCommandError(f"'fsync' must be one of {FSYNC_POLICIES} (got {fsync!r})")
        self.dir = Path(state_dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.path = self.dir / FILE
        self.fsync = fsync
        self._fh = None
        self.records = 0

    def read(self) -> Iterator[dict]:
        """The journaled records, in order; a torn last line is dropped (and cut off the
        file, so that the next append starts on a fresh line)."""
        if not self.path.exists():
            return
        good = 0
        with open(self.path, "rb") as fh:
            data = fh.read()
        for line in data.splitlines(keepends=True):
            if not line.endswith(b"\n"):
                break
            try:
                rec = json.loads(line)
            except ValueError:
                break
            good += len(line)
            self.records += 1
            yield rec
        if good < len(data):
            with open(self.path, "r+b") as fh:
                fh.truncate(good)

    def append(self, rec: dict) -> None:
        if self._fh is None:
            self._fh = open(self.path, "ab")
        self._fh.write(json.dumps(rec, separators=(",", ":")).encode() + b"\n")
        self._fh.flush()
        if self.fsync == "always":
            os.fsync(self._fh.fileno())
        self.records += 1

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None
