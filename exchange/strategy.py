"""The old path of the in-process strategy API, kept for users' scripts: everything here is
re-exported from its home, :mod:`exchange.sim.strategy` (read that module's documentation).
New code imports ``from exchange.sim.strategy import Strategy, run_strategy``."""
from exchange.sim.strategy import (CONDITIONAL, MAX_COMMANDS_PER_CALLBACK, NS_PER_MS, Depth, Fill,
                                   FundingUpdate, LiquidationUpdate, OpenOrder, OrderUpdate,
                                   Strategy, StrategyAgent, StrategyAPI, load_strategy_class,
                                   run_strategy, strategy_overrides)

__all__ = ["Strategy", "StrategyAPI", "StrategyAgent", "Fill", "OrderUpdate",
           "LiquidationUpdate", "FundingUpdate", "OpenOrder", "Depth", "load_strategy_class",
           "strategy_overrides", "run_strategy", "NS_PER_MS", "CONDITIONAL",
           "MAX_COMMANDS_PER_CALLBACK"]
