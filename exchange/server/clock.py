"""The server's clock of record: the machine's wall clock, or the journaled time of the command
being replayed.
"""
from __future__ import annotations

import time

REPLAY_MS: list[int] = []          # the journaled time of the command being replayed


def now_ms() -> int:
    return REPLAY_MS[-1] if REPLAY_MS else time.time_ns() // 1_000_000
