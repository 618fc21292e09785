"""Fixed leverage: open ``target_leverage`` × equity long (or short) and hold it, as a trader
who "opens at 10×" does: the liquidation price stays where the entry put it
(``rebalance = True`` resizes to the target whenever the actual leverage drifts more than
``rebalance_band`` from it instead). After a stop or a liquidation it re-enters once
``cooldown_ticks`` have passed. The baseline every leverage policy is compared with
(``fixed_10x``, ``fixed_20x``)."""
from __future__ import annotations

from exchange.strategies._base import PositionStrategy

__all__ = ["FixedLeverage"]


class FixedLeverage(PositionStrategy):
    """Hold ``target_leverage`` (signed by ``direction``) from the first mark on."""

    target_leverage = 10.0
    rebalance = False
