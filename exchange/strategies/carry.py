"""Funding carry: hold the side that receives funding. Under every venue's rule (positive
rate: longs pay shorts; shared/reference/venue-mechanics.md §2) the strategy reads the funding
rate the venue publishes for the coming settlement (Binance ``premiumIndex`` /
``markPrice@1s`` "estimated funding rate", in 8-hour terms; the venue's own formula, including
any override in force) and, where a run publishes none, the premium ``mark / index − 1`` the
rate follows. Above ``entry_bps`` it is short ``target_leverage`` × equity (it receives a
positive rate), below ``−entry_bps`` long; inside ``exit_bps`` of zero it closes. It pays fees
and carries the price risk of an unhedged leg (a hedged carry would hold spot on the other
side: outside the venue)."""
from __future__ import annotations

from exchange.strategies._base import PositionStrategy

__all__ = ["FundingCarry"]


class FundingCarry(PositionStrategy):
    target_leverage = 2.0
    entry_bps = 2.0
    exit_bps = 0.5

    def on_start(self, api) -> None:
        super().on_start(api)
        self.side_held = 0.0

    def signal_bps(self, api) -> float | None:
        """The venue's estimated funding rate (8 h terms, bps), else the premium (bps)."""
        est = api.funding_estimate
        if est is not None:
            return float(est) * 10_000
        index = api.index
        if index is None or index <= 0:
            return None
        return float(api.mark / index - 1) * 10_000

    def target(self, api) -> float | None:
        premium_bps = self.signal_bps(api)
        if premium_bps is None:
            return None
        lev = float(self.target_leverage)
        if premium_bps > self.entry_bps:
            self.side_held = -lev
        elif premium_bps < -self.entry_bps:
            self.side_held = lev
        elif abs(premium_bps) < self.exit_bps:
            self.side_held = 0.0
        return self.side_held
