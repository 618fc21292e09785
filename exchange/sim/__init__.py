"""Agent-based simulation of the venue: scenarios, agents, runner, metrics, compare, sweep.

>>> from exchange.sim import run
>>> result = run("calm", seed=1)                                # doctest: +SKIP
>>> result.metrics["liquidations"]                              # doctest: +SKIP
"""
from __future__ import annotations

from exchange.sim.scenario import Scenario, load_scenario, list_scenarios

__all__ = ["Scenario", "load_scenario", "list_scenarios", "run", "RunResult"]


def __getattr__(name):
    if name in ("run", "RunResult"):
        from exchange.sim import runner

        return getattr(runner, name)
    raise AttributeError(name)
