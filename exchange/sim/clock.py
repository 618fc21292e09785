"""Deterministic discrete-event scheduler: integer nanoseconds, key ``(ts_ns, priority, seq)``.

Events at the same timestamp resolve by a fixed priority (lower first), then by insertion
order (``seq``), as in SimPy: a run is a function of its inputs, never of dict or hash order.
The priorities of the simulation's event kinds are the ``PRIO_*`` constants; at one instant a
scenario shock applies first, then the oracle tick (index → mark → margin check → liquidation
waterfall), then funding, then orders arriving at the venue, then agents waking up, then
recording.

>>> clock = Clock()
>>> seen = []
>>> _ = clock.schedule(10, PRIO_AGENT, lambda ts: seen.append(("agent", ts)))
>>> _ = clock.schedule(10, PRIO_ORACLE, lambda ts: seen.append(("oracle", ts)))
>>> _ = clock.schedule(5, PRIO_AGENT, lambda ts: seen.append(("early", ts)))
>>> clock.run(until_ns=10)
3
>>> seen
[('early', 5), ('oracle', 10), ('agent', 10)]
"""
from __future__ import annotations

import heapq
from typing import Any
from collections.abc import Callable

from exchange.errors import InvalidCommandError

__all__ = ["Clock", "PRIO_SHOCK", "PRIO_ORACLE", "PRIO_LIQUIDATION", "PRIO_FUNDING",
           "PRIO_ARRIVAL", "PRIO_AGENT", "PRIO_RECORD"]

PRIO_SHOCK = 0          # scenario shocks (MMs withdraw, funding flip) take effect first
PRIO_ORACLE = 10        # oracle tick → index → mark → margin check → waterfall
PRIO_LIQUIDATION = 15   # time-driven liquidation work (auction ticks)
PRIO_FUNDING = 20       # premium samples and settlements
PRIO_ARRIVAL = 30       # orders reaching the venue after their sender's latency
PRIO_AGENT = 40         # agents wake up and decide
PRIO_RECORD = 90        # time-series sampling sees the instant's final state


class Clock:
    """A heap of ``(ts_ns, priority, seq, callback, args)``; ``callback(ts_ns, *args)``.

    Time never goes back: scheduling before :attr:`now_ns` raises. Cancellation is lazy (a
    cancelled entry is skipped when it reaches the top). Costs: :meth:`schedule` O(log n),
    :meth:`run` O(log n) per event, :meth:`peek` O(1) amortised.
    """

    __slots__ = ("_heap", "_seq", "now_ns", "_cancelled", "processed")

    def __init__(self, t0_ns: int = 0) -> None:
        self._heap: list[tuple[int, int, int, Callable[..., Any], tuple]] = []
        self._seq = 0
        self.now_ns = int(t0_ns)
        self._cancelled: set[int] = set()
        self.processed = 0

    # -- COMMANDS --
    def schedule(self, ts_ns: int, priority: int, callback: Callable[..., Any], *args: Any) -> int:
        """Run ``callback(ts_ns, *args)`` at ``ts_ns``; returns a handle for :meth:`cancel`.
        O(log n)."""
        ts_ns = int(ts_ns)
        if ts_ns < self.now_ns:
            raise InvalidCommandError(
                f"'ts_ns' must be >= the clock's current time {self.now_ns} (got {ts_ns})")
        self._seq += 1
        heapq.heappush(self._heap, (ts_ns, priority, self._seq, callback, args))
        return self._seq

    def cancel(self, handle: int) -> None:
        """Forget a scheduled event (lazily). O(1)."""
        self._cancelled.add(handle)

    def run(self, until_ns: int) -> int:
        """Process every event with ``ts_ns <= until_ns`` in key order (events scheduled while
        running are included); then set :attr:`now_ns` to ``until_ns``. Returns the number of
        events processed. O(k log n) for k events."""
        heap = self._heap
        pop = heapq.heappop
        cancelled = self._cancelled
        n = 0
        while heap and heap[0][0] <= until_ns:
            ts, _prio, seq, cb, args = pop(heap)
            if cancelled and seq in cancelled:
                cancelled.discard(seq)
                continue
            self.now_ns = ts
            cb(ts, *args)
            n += 1
        if until_ns > self.now_ns:
            self.now_ns = until_ns
        self.processed += n
        return n

    # -- QUERIES --
    def peek(self) -> tuple[int, int] | None:
        """``(ts_ns, priority)`` of the next live event, or None. O(1) amortised."""
        heap = self._heap
        while heap and self._cancelled and heap[0][2] in self._cancelled:
            self._cancelled.discard(heapq.heappop(heap)[2])
        return (heap[0][0], heap[0][1]) if heap else None

    def __len__(self) -> int:
        return len(self._heap) - len(self._cancelled)
