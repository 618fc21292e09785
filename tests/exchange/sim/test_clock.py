import pytest

from exchange.errors import InvalidCommandError
from exchange.sim.clock import PRIO_AGENT, PRIO_ARRIVAL, PRIO_ORACLE, Clock


def test_same_instant_resolves_by_priority_then_insertion_order():
    clock, seen = Clock(), []
    for name, prio in (("agent-a", PRIO_AGENT), ("arrival", PRIO_ARRIVAL), ("agent-b", PRIO_AGENT),
                       ("oracle", PRIO_ORACLE)):
        clock.schedule(5, prio, lambda ts, n=name: seen.append(n))
    clock.run(5)
    assert seen == ["oracle", "arrival", "agent-a", "agent-b"]


def test_events_scheduled_while_running_are_processed_in_time_order():
    clock, seen = Clock(), []

    def tick(ts):
        seen.append(ts)
        if ts < 30:
            clock.schedule(ts + 10, PRIO_AGENT, tick)

    clock.schedule(0, PRIO_AGENT, tick)
    assert clock.run(25) == 3 and seen == [0, 10, 20]
    assert clock.now_ns == 25 and clock.peek() == (30, PRIO_AGENT)


def test_cancelled_event_never_runs_and_the_past_is_refused():
    clock, seen = Clock(), []
    h = clock.schedule(10, PRIO_AGENT, lambda ts: seen.append(ts))
    clock.cancel(h)
    clock.run(20)
    assert seen == [] and clock.peek() is None
    with pytest.raises(InvalidCommandError, match="'ts_ns' must be >= the clock's current time"):
        clock.schedule(5, PRIO_AGENT, lambda ts: None)
