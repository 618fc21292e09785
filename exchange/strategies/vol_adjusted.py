"""Volatility-adjusted leverage: leverage = ``daily_risk`` / σ_daily, clipped to
[``min_leverage``, ``max_leverage``], where σ_daily is the realised volatility of the mark
(``vol_method = "realized"``: stdev of the last ``window`` tick returns scaled by
√(ticks per day)) or the average true range (``"atr"``: mean true range of ``bar``-tick bars as
a fraction of price, scaled by √(bars per day)). A spike in volatility (a crash) cuts the
position before the mark reaches the liquidation price. The rule is the traders' guides' "size
positions inversely to volatility" (issue 17); ATR is Wilder's average true range, here a
simple mean over ``window // bar`` bars."""
from __future__ import annotations

import math

from exchange.strategies._base import PositionStrategy, RollingVol

__all__ = ["VolAdjustedLeverage"]


class VolAdjustedLeverage(PositionStrategy):
    daily_risk = 0.30          # equity move accepted per 1σ daily move
    min_leverage = 1.0
    max_leverage = 20.0
    target_leverage = 20.0     # the cap risk sizing applies to
    window = 120               # ticks of returns
    bar = 10                   # ticks per ATR bar
    vol_method = "realized"

    def on_start(self, api) -> None:
        super().on_start(api)
        self.vol = RollingVol(self.window, self.bar)

    def observe(self, api) -> None:
        self.vol.add(float(api.mark))

    def sigma_daily(self) -> float:
        ticks_per_day = 86_400_000.0 / float(self.interval_ms)
        if self.vol_method == "atr":
            return self.vol.atr() * math.sqrt(ticks_per_day / self.vol.bar)
        return self.vol.per_tick() * math.sqrt(ticks_per_day)

    def target(self, api) -> float | None:
        if not self.vol.ready:
            return None
        sigma = self.sigma_daily()
        lev = self.max_leverage if sigma <= 0 else self.daily_risk / sigma
        lev = min(float(self.max_leverage), max(float(self.min_leverage), lev), float(self.target_leverage))
        return lev if self.direction == "long" else -lev
