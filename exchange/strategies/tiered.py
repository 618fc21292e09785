"""Tiered leverage by regime: ``calm_leverage`` while short-horizon volatility is near its
baseline, ``normal_leverage`` when it is ``normal_ratio``× above, ``stressed_leverage`` beyond
``stressed_ratio``× (or after an adverse move of ``stress_drawdown_pct`` from the recent high —
the recent low for a short).
Volatility ratio = stdev of the last ``fast`` tick returns / stdev of the last ``slow``."""
from __future__ import annotations

from exchange.strategies._base import PositionStrategy, RollingVol

__all__ = ["TieredLeverage"]


class TieredLeverage(PositionStrategy):
    calm_leverage = 10.0
    normal_leverage = 5.0
    stressed_leverage = 2.0
    normal_ratio = 1.5
    stressed_ratio = 3.0
    stress_drawdown_pct = 3.0
    fast = 30
    slow = 600
    target_leverage = 10.0

    def on_start(self, api) -> None:
        super().on_start(api)
        self.fast_vol = RollingVol(self.fast)
        self.slow_vol = RollingVol(self.slow)
        self.high = 0.0
        self.low = 0.0
        self.regime = "calm"

    def observe(self, api) -> None:
        m = float(api.mark)
        self.fast_vol.add(m)
        self.slow_vol.add(m)
        # running extremes that fade slowly (a 0.01 % pull per tick toward the price)
        self.high = max(self.high * 0.9999, m)
        self.low = min(self.low * 1.0001, m) if self.low else m

    def target(self, api) -> float | None:
        if not self.fast_vol.ready:
            return None
        base = self.slow_vol.per_tick()
        ratio = self.fast_vol.per_tick() / base if base > 0 else 1.0
        m = float(api.mark)
        if self.direction == "long":
            dd = 100.0 * (1 - m / self.high) if self.high else 0.0
        else:
            dd = 100.0 * (m / self.low - 1) if self.low else 0.0
        if ratio >= self.stressed_ratio or dd >= self.stress_drawdown_pct:
            self.regime, lev = "stressed", self.stressed_leverage
        elif ratio >= self.normal_ratio:
            self.regime, lev = "normal", self.normal_leverage
        else:
            self.regime, lev = "calm", self.calm_leverage
        lev = min(float(lev), float(self.target_leverage))
        return lev if self.direction == "long" else -lev
