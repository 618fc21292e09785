"""Small scenarios for the simulation tests (seconds, not minutes, on two shared cores)."""
import pytest

from exchange.sim.scenario import load_scenario

#: the built-in flash crash, shrunk: 4 makers, ~170 agents, 4 simulated minutes
TINY_CRASH = {
    "scenario.duration_s": 240,
    "population.makers.count": 4,
    "population.noise.count": 40,
    "population.directional.count": 120,
    "population.directional.warmup_s": 30,
    "population.arbitrageur.count": 2,
    "population.keeper.count": 2,
    "shock.0.at_s": 98,
    "shock.0.duration_s": 60,
    "shock.1.at_s": 100,
    "shock.1.duration_s": 10,     # the crash's slides, shortened: both legs by 140 s
    "shock.1.steps": 10,
    "shock.2.at_s": 130,
    "shock.2.duration_s": 10,
    "shock.2.steps": 10,
    "shock.3.at_s": 200,
    "shock.3.duration_s": 10,
    "shock.3.steps": 10,
}


@pytest.fixture(scope="session")
def tiny_crash():
    return load_scenario("flash_crash").with_overrides(TINY_CRASH)
