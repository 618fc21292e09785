"""A library of the strategies traders' guides describe, each a short file on the strategy API
(:mod:`exchange.sim.strategy`), runnable in a synthetic scenario or on recorded history
(``perpsim backtest``): fixed leverage (:mod:`.fixed`), volatility-adjusted leverage
(:mod:`.vol_adjusted`), tiered leverage by regime (:mod:`.tiered`), scaled entry and exit
(:mod:`.scaled`), a leveraged grid (:mod:`.grid`), funding carry (:mod:`.carry`). Each takes
``stop_loss_pct``, ``take_profit_pct``, ``trailing_pct`` (placed on the venue) and
``risk_per_trade`` (:mod:`._base`).

:data:`BUILTIN` maps the command line's names to (class, parameters).
"""
from __future__ import annotations

from exchange.strategies._base import PositionStrategy, RollingVol
from exchange.strategies.carry import FundingCarry
from exchange.strategies.fixed import FixedLeverage
from exchange.strategies.grid import LeveragedGrid
from exchange.strategies.scaled import ScaledEntryExit
from exchange.strategies.tiered import TieredLeverage
from exchange.strategies.vol_adjusted import VolAdjustedLeverage

__all__ = [
    "BUILTIN",
    "FixedLeverage",
    "FundingCarry",
    "LeveragedGrid",
    "PositionStrategy",
    "RollingVol",
    "ScaledEntryExit",
    "TieredLeverage",
    "VolAdjustedLeverage",
    "resolve",
]

#: built-in name → (Strategy subclass, parameter overrides)
BUILTIN: dict[str, tuple[type, dict]] = {
    "fixed_3x": (FixedLeverage, {"target_leverage": 3.0}),
    "fixed_5x": (FixedLeverage, {"target_leverage": 5.0}),
    "fixed_10x": (FixedLeverage, {"target_leverage": 10.0}),
    "fixed_20x": (FixedLeverage, {"target_leverage": 20.0, "leverage": 25}),
    "vol_adjusted": (VolAdjustedLeverage, {}),
    "vol_adjusted_atr": (VolAdjustedLeverage, {"vol_method": "atr"}),
    "tiered": (TieredLeverage, {}),
    "scaled": (ScaledEntryExit, {}),
    "grid": (LeveragedGrid, {}),
    "carry": (FundingCarry, {}),
}


def resolve(spec: str, params: dict | None = None):
    """(label, Strategy subclass, parameters) for a built-in name or a ``path/file.py:Class`` /
    ``package.module:Class`` spec; ``params`` override. Raises ConfigError naming the spec."""
    from exchange.sim.strategy import load_strategy_class

    if spec in BUILTIN:
        cls, base = BUILTIN[spec]
        merged = {**base, **(params or {})}
        cls.validate_params(merged, None, spec)
        return spec, cls, merged
    cls = load_strategy_class(spec, None, "STRATEGY")
    merged = dict(params or {})
    cls.validate_params(merged, None, spec)
    return spec.rsplit(":", 1)[-1].rsplit("/", 1)[-1], cls, merged
