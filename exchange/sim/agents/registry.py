"""The agent-type registry: config name → population class, and the lookup the scenario
loader and the runner use. Adding an agent type: its own module, and one line in
:data:`AGENT_TYPES` here. See :mod:`exchange.sim.agents`."""
from __future__ import annotations

from typing import Any

import numpy as np

from exchange.errors import ConfigError
from exchange.resolve import resolve
from exchange.sim.agents.arbitrage import FundingArbitrageurs
from exchange.sim.agents.directional import DirectionalTraders
from exchange.sim.agents.keepers import Keepers
from exchange.sim.agents.makers import MarketMakers
from exchange.sim.agents.noise import NoiseTraders

#: config name -> population class
AGENT_TYPES: dict[str, type] = {
    "market_maker": MarketMakers,
    "noise": NoiseTraders,
    "directional": DirectionalTraders,
    "arbitrageur": FundingArbitrageurs,
    "keeper": Keepers,
}


#: agent types defined above the simulation layer, imported when a scenario names them
LAZY_AGENT_TYPES: dict[str, str] = {
    "strategy": "exchange.sim.strategy:StrategyAgent",     # a user's Strategy
}


def agent_class(kind: str, source: str = "scenario", key: str = "type") -> type:
    """The class of an agent type name or a ``"package.module:Class"`` path."""
    cls = AGENT_TYPES.get(kind)
    if cls is not None:
        return cls
    if isinstance(kind, str) and kind in LAZY_AGENT_TYPES:
        return resolve(LAZY_AGENT_TYPES[kind], what=f"{source}: {key!r}")
    if isinstance(kind, str) and ":" in kind:
        return resolve(kind, what=f"{source}: {key!r}")
    names = ", ".join(sorted([*AGENT_TYPES, *LAZY_AGENT_TYPES]))
    raise ConfigError.for_key(source, key, f"one of {names} or a 'package.module:Class' path",
                              kind)


def build_agent(kind: str, name: str, params: dict, rng: np.random.Generator) -> Any:
    """Instantiate an agent of ``kind`` with parsed ``params`` and its own generator."""
    cls = agent_class(kind)
    return cls(name, params, rng)
