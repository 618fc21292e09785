"""A simulated market behind the mock server: a scenario (agents, index path, shocks,
funding, liquidations) runs in scaled real time while clients trade in it over the API.

    driver = ScenarioDriver("flash_crash", seed=7, speed=10)     # 10 simulated s per second
    mock = driver.mock()                                          # MockBinance over its venue
    cred = mock.add_account(deposit="100000")
    with ServerThread(mock) as srv: ...                           # the run starts with the app

The venue is the simulation's: market makers quote, noise and leveraged traders trade, the
oracle moves the mark, funding settles on its schedule and the preset's waterfall liquidates,
clients' accounts included. Client orders act at the simulated time they arrive (no
simulated latency: the network's is real). When the scenario ends the venue stays open and
still, at its last state.
"""
from __future__ import annotations

import asyncio
from typing import Any

from exchange.errors import InvalidCommandError

__all__ = ["ScenarioDriver"]

NS_PER_S = 1_000_000_000


class ScenarioDriver:
    """Runs ``scenario`` (a built-in name, a TOML path or a Scenario) with ``seed`` at
    ``speed`` simulated seconds per wall second, advancing every ``tick_s`` wall seconds."""

    def __init__(self, scenario: Any, seed: int = 0, *, speed: float = 1.0,
                 overrides: dict | None = None, waterfall=None, tick_s: float = 0.05) -> None:
        from exchange.sim.runner import Simulation
        from exchange.sim.scenario import Scenario, load_scenario

        if not speed > 0:
            raise InvalidCommandError(f"'speed' must be > 0 simulated seconds per second (got {speed!r})")
        if not tick_s > 0:
            raise InvalidCommandError(f"'tick_s' must be > 0 (got {tick_s!r})")
        sc = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
        if overrides:
            sc = sc.with_overrides(overrides)
        self.scenario = sc
        self.speed = float(speed)
        self.tick_s = float(tick_s)
        self.sim = Simulation(sc, seed, waterfall, check="none", track_deltas=True)
        self.end_ns = sc.duration_ns
        self._task: asyncio.Task | None = None
        self._mock = None

    @property
    def sim_ns(self) -> int:
        """The simulated time reached so far."""
        return int(self.sim.core.ts_now)

    @property
    def done(self) -> bool:
        return self._task is not None and self._task.done()

    def mock(self, **kw):
        """The :class:`~exchange.server.MockBinance` over the simulation's venue; the run
        starts when its app starts and stops with it."""
        from exchange.server.binance import MockBinance

        if self._mock is None:
            self._mock = MockBinance(venue=self.sim.ex, clock="manual", **kw)
            self._mock.speed = self.speed            # simulated seconds per wall second
            self._mock.app.on_startup.append(self._start)
            self._mock.app.on_cleanup.append(self._stop)
        return self._mock

    async def _start(self, _app) -> None:
        self.sim.start()                   # driven here, step by step, instead of run()
        self._task = asyncio.ensure_future(self._drive())

    async def _stop(self, _app) -> None:
        if self._task is not None:
            self._task.cancel()

    async def _drive(self) -> None:
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        clock, ctx = self.sim.clock, self.sim.ctx
        while True:
            target = min(self.end_ns, int((loop.time() - t0) * self.speed * NS_PER_S))
            clock.run(target)
            ctx.drain()
            if target >= self.end_ns:
                return
            await asyncio.sleep(self.tick_s)
