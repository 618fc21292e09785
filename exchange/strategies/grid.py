"""Grid with leverage: ``grid_levels`` buy limits below and sell limits above a centre (the
mark at start), ``grid_step_pct`` apart, each of ``target_leverage`` × equity /
(2·``grid_levels``); a filled buy at p is answered by a sell at p·(1 + step) and a filled
sell by a buy at p·(1 − step), so the grid earns the step on every round trip while the net
position (and its liquidation risk) grows when the price trends through the grid. The base's
stop-loss / take-profit / trailing stop protect the net position; ``recentre_pct`` moves the
grid when the mark leaves it by that much (0 = never)."""
from __future__ import annotations

from decimal import Decimal

from exchange.strategies._base import PositionStrategy

__all__ = ["LeveragedGrid"]


class LeveragedGrid(PositionStrategy):
    target_leverage = 5.0
    grid_levels = 5
    grid_step_pct = 0.25
    recentre_pct = 0.0

    def on_start(self, api) -> None:
        super().on_start(api)
        self.centre: Decimal | None = None
        self.round_trips = 0
        self._orders: dict[int, tuple[str, Decimal]] = {}
        self._lot = Decimal(0)

    def _place(self, api, side: str, price: Decimal) -> None:
        oid = api.limit(side, self._lot, api.round_price(price, side), tif="POST_ONLY")
        self._orders[oid] = (side, price)

    def on_fill(self, api, fill) -> None:
        o = self._orders.get(fill.order_id)
        if o is None or fill.remaining != 0:
            return
        del self._orders[fill.order_id]
        side, price = o
        step = Decimal(repr(self.grid_step_pct)) / 100
        if side == "BUY":
            self._place(api, "SELL", price * (1 + step))
        else:
            self.round_trips += 1
            self._place(api, "BUY", price * (1 - step))

    def on_order(self, api, update) -> None:
        super().on_order(api, update)
        if update.status in ("rejected", "canceled", "expired"):
            self._orders.pop(update.order_id, None)

    def on_tick(self, api) -> None:
        self.ticks += 1
        mark = api.mark
        if mark is None or api.stale:
            return
        pos = api.position
        eq = api.balance.equity
        self.leverage_path.append(float(abs(pos.size) * mark / eq) if eq > 0 else 0.0)
        step = Decimal(repr(self.grid_step_pct)) / 100
        n = int(self.grid_levels)
        off = self.centre is not None and self.recentre_pct > 0 and \
            abs(mark / self.centre - 1) * 100 > Decimal(repr(self.recentre_pct))
        if (self.centre is None or off) and eq > 0 and self.ticks >= self._cooldown_until:
            if off:
                api.cancel_all()
                self._orders = {}
            self.centre = mark
            lev = abs(self.sizing_leverage(float(self.target_leverage)))
            self._lot = api.round_qty(Decimal(repr(lev)) * eq / mark / (2 * n))
            if self._lot <= 0:
                return
            for i in range(1, n + 1):
                self._place(api, "BUY", mark * (1 - step * i))
                self._place(api, "SELL", mark * (1 + step * i))
        if pos.size == 0 and self._was_open:
            self._was_open = False
            self._cancel_protection(api)
        if pos.size != 0:
            self._was_open = True
        if pos.size != self._protect_size:
            self._protect(api, pos)
