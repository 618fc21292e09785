"""Scaled entry and exit: build the position with ``entry_levels`` limit orders spaced
``entry_step_pct`` apart from the mark (buy-the-dip ladder for a long), and take it off with
``exit_levels`` reduce-only limit orders spaced ``exit_step_pct`` apart from the entry; the
total is ``target_leverage`` × equity (capped by risk-per-trade sizing). The ladder is laid
once per cycle: when the position is flat again (exits done, or a stop), the next cycle starts
after ``cooldown_ticks``."""
from __future__ import annotations

from decimal import Decimal

from exchange.strategies._base import PositionStrategy

__all__ = ["ScaledEntryExit"]


class ScaledEntryExit(PositionStrategy):
    target_leverage = 5.0
    entry_levels = 4
    entry_step_pct = 0.3
    exit_levels = 3
    exit_step_pct = 0.5

    def on_start(self, api) -> None:
        super().on_start(api)
        self._ladder: list[int] = []
        self._exits: list[int] = []
        self._exit_size = Decimal(0)

    def on_tick(self, api) -> None:
        self.ticks += 1
        mark = api.mark
        if mark is None or api.stale:
            return
        pos = api.position
        size, eq = pos.size, api.balance.equity
        self.leverage_path.append(float(abs(size) * mark / eq) if eq > 0 else 0.0)
        long = self.direction == "long"
        if size == 0 and self._was_open:
            self._was_open = False
            for oid in self._ladder + self._exits:
                api.cancel(oid)
            self._ladder, self._exits, self._exit_size = [], [], Decimal(0)
            self._cancel_protection(api)
            self._cooldown_until = self.ticks + max(0, int(self.cooldown_ticks))
        if size != 0:
            self._was_open = True
        if size == 0 and not self._ladder and self.ticks >= self._cooldown_until and eq > 0:
            lev = abs(self.sizing_leverage(float(self.target_leverage)))
            per = api.round_qty(Decimal(repr(lev)) * eq / mark / int(self.entry_levels))
            if per <= 0:
                return
            side = "BUY" if long else "SELL"
            for i in range(int(self.entry_levels)):
                k = Decimal(repr(self.entry_step_pct)) * i / 100
                px = mark * (1 - k) if long else mark * (1 + k)
                self._ladder.append(api.limit(side, per, api.round_price(px, side)))
            self.entries += 1
            return
        if size != 0 and size != self._exit_size and pos.entry_price is not None:
            # re-lay the exit ladder over the position as it is now
            for oid in self._exits:
                api.cancel(oid)
            self._exits = []
            n = int(self.exit_levels)
            per = api.round_qty(abs(size) / n)
            exit_side = "SELL" if size > 0 else "BUY"
            left = abs(size)
            for j in range(1, n + 1):
                q = left if j == n else min(per, left)
                if q <= 0:
                    break
                k = Decimal(repr(self.exit_step_pct)) * j / 100
                px = pos.entry_price * (1 + k) if size > 0 else pos.entry_price * (1 - k)
                self._exits.append(api.limit(exit_side, q, api.round_price(px, exit_side), reduce_only=True))
                left -= q
            self._exit_size = size
        if size != self._protect_size:
            self._protect(api, pos)
