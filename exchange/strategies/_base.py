"""What every strategy of the library shares: leverage targeting, risk-per-trade sizing and
protective orders held by the venue (stop-loss, take-profit, trailing stop).

Sizing (the traders' guides' "risk 1–2 % of equity per trade"): with ``risk_per_trade`` r > 0
and a stop ``stop_loss_pct`` s, the position notional is ``r / s × equity`` (a stop-out loses
about r of equity), capped at the target leverage; otherwise the notional is
``target leverage × equity``. Protective orders are placed **on the venue** (conditional
orders of :mod:`exchange.sim.strategy`: triggered by the venue's mark price, ``close_position``)
whenever the position changes, and replaced when it changes again: a stop-market at
``entry × (1 ∓ s)``, a take-profit-market at ``entry × (1 ± tp)``, a trailing stop with
callback ``trailing_pct`` %. Binance's trigger rules (venue.py ``_fires``) and callback range
0.1–10 % apply (venue.py, from Binance's conditional-order rules). The sizing rule is the one
the traders' guides state (issue 17: "risk-per-trade sizing (1–2 % of equity)"); it is the
strategy's arithmetic, not a venue rule.
"""
from __future__ import annotations

import math
from collections import deque
from decimal import Decimal

from exchange.sim.strategy import Strategy

__all__ = ["PositionStrategy", "RollingVol"]


class RollingVol:
    """Realised volatility of a price sampled every tick: the standard deviation of the last
    ``window`` log returns, and the average true range of bars of ``bar`` ticks (ATR, as a
    fraction of price, over the last ``window // bar`` bars). O(1) per sample (running sums)."""

    def __init__(self, window: int, bar: int = 60) -> None:
        self.window = max(2, int(window))
        self.bar = max(1, int(bar))
        self.rets: deque = deque(maxlen=self.window)
        self.s1 = 0.0
        self.s2 = 0.0
        self.prev: float | None = None
        self.bars: deque = deque(maxlen=max(2, self.window // self.bar))
        self._hi = self._lo = self._close = None
        self._n = 0

    def add(self, price: float) -> None:
        if self.prev is not None and price > 0 and self.prev > 0:
            r = math.log(price / self.prev)
            if len(self.rets) == self.rets.maxlen:
                old = self.rets[0]
                self.s1 -= old
                self.s2 -= old * old
            self.rets.append(r)
            self.s1 += r
            self.s2 += r * r
        # bars for the ATR
        if self._hi is None:
            self._hi = self._lo = price
        self._hi, self._lo = max(self._hi, price), min(self._lo, price)
        self._n += 1
        if self._n >= self.bar:
            prev_close = self._close if self._close is not None else price
            tr = max(self._hi, prev_close) - min(self._lo, prev_close)
            self.bars.append(tr / price)
            self._close, self._hi, self._lo, self._n = price, None, None, 0
        self.prev = price

    @property
    def ready(self) -> bool:
        return len(self.rets) >= self.window // 2

    def per_tick(self) -> float:
        n = len(self.rets)
        if n < 2:
            return 0.0
        mean = self.s1 / n
        return math.sqrt(max(0.0, self.s2 / n - mean * mean))

    def atr(self) -> float:
        return sum(self.bars) / len(self.bars) if self.bars else 0.0


class PositionStrategy(Strategy):
    """Base of the library's directional strategies: hold the position :meth:`target`
    returns (a signed leverage), resized when the actual leverage strays more than
    ``rebalance_band`` (relative) from it, with the protective orders of the module docs.

    Parameters: ``direction`` ("long" / "short"), ``target_leverage`` (notional / equity),
    ``stop_loss_pct``, ``take_profit_pct`` (percent from entry; 0 = none), ``trailing_pct``
    (callback %, 0 = none), ``risk_per_trade`` (fraction of equity, 0 = size by leverage),
    ``rebalance_band``, ``rebalance`` (False: enter at the target and hold: the liquidation
    price stays where the entry put it), ``cooldown_ticks`` (wait after a stop / liquidation before
    re-entering; negative = never re-enter). Account ``leverage`` is the venue setting (the
    margin the venue asks); ``target_leverage`` is what the strategy holds.
    """

    leverage = 20
    direction = "long"
    target_leverage = 10.0
    stop_loss_pct = 0.0
    take_profit_pct = 0.0
    trailing_pct = 0.0
    risk_per_trade = 0.0
    rebalance_band = 0.25
    rebalance = True
    cooldown_ticks = 60

    # -- what subclasses decide -----------------------------------------------------------
    def target(self, api) -> float | None:
        """The signed leverage to hold now (None: no opinion, leave the position)."""
        sign = 1.0 if self.direction == "long" else -1.0
        return sign * float(self.target_leverage)

    def observe(self, api) -> None:
        """Called every tick before :meth:`target` (update indicators here)."""

    # -- machinery ----------------------------------------------------------------------------
    def on_start(self, api) -> None:
        self.ticks = 0
        self.liquidations = 0
        self.stops_fired = 0
        self.entries = 0
        self._protect_size = Decimal(0)
        self._protect_ids: list[int] = []
        self._in_flight = 0
        self._entry_ids: set[int] = set()
        self._cooldown_until = -1
        self._was_open = False
        self.leverage_path: list[float] = []

    def on_liquidation(self, api, event) -> None:
        if event.name == "LiquidationTriggered":
            self.liquidations += 1

    def on_order(self, api, update) -> None:
        if update.status == "triggered":
            self.stops_fired += 1
        if update.order_id in self._entry_ids and update.status in ("rejected", "canceled", "expired"):
            self._entry_ids.discard(update.order_id)
            self._in_flight = len(self._entry_ids)

    def on_fill(self, api, fill) -> None:
        if fill.order_id in self._entry_ids and fill.remaining is not None and fill.remaining == 0:
            self._entry_ids.discard(fill.order_id)
            self._in_flight = len(self._entry_ids)

    def sizing_leverage(self, lev: float) -> float:
        """Cap |lev| by risk-per-trade sizing (r / stop distance). O(1)."""
        if self.risk_per_trade > 0 and self.stop_loss_pct > 0:
            cap = float(self.risk_per_trade) / (float(self.stop_loss_pct) / 100.0)
            return math.copysign(min(abs(lev), cap), lev)
        return lev

    def on_tick(self, api) -> None:
        self.ticks += 1
        mark = api.mark
        if mark is None or api.stale:
            return
        self.observe(api)
        pos = api.position
        size = pos.size
        eq = api.balance.equity
        self.leverage_path.append(float(abs(size) * mark / eq) if eq > 0 else 0.0)
        if size == 0 and self._was_open:
            # a stop, take-profit or liquidation closed the position
            self._was_open = False
            self._cancel_protection(api)
            if self.cooldown_ticks < 0:
                self._cooldown_until = 1 << 62
            else:
                self._cooldown_until = self.ticks + int(self.cooldown_ticks)
        if size != 0:
            self._was_open = True
        if self._in_flight or eq <= 0:
            return
        want = self.target(api)
        if want is not None and self.ticks >= self._cooldown_until:
            want = self.sizing_leverage(want)
            desired = api.round_qty(abs(Decimal(repr(want))) * eq / mark)
            if want < 0:
                desired = -desired
            diff = desired - size
            resize = self.rebalance and abs(diff) > Decimal(repr(self.rebalance_band)) * abs(desired)
            if diff != 0 and (size == 0 or desired == 0 or (size > 0) != (desired > 0) or resize):
                self._trade(api, diff, size)
                return
        if size != self._protect_size:
            self._protect(api, pos)

    def _trade(self, api, diff: Decimal, size: Decimal) -> None:
        side = "BUY" if diff > 0 else "SELL"
        qty = abs(diff)
        reducing = size != 0 and ((diff > 0) != (size > 0)) and qty <= abs(size)
        oid = api.market(side, qty, reduce_only=reducing)
        self._entry_ids.add(oid)
        self._in_flight = len(self._entry_ids)
        if not reducing:
            self.entries += 1

    def _cancel_protection(self, api) -> None:
        for oid in self._protect_ids:
            api.cancel(oid)
        self._protect_ids = []
        self._protect_size = Decimal(0)

    def _protect(self, api, pos) -> None:
        """Replace the venue-held stop-loss / take-profit / trailing stop for the position."""
        self._cancel_protection(api)
        size = pos.size
        self._protect_size = size
        if size == 0 or pos.entry_price is None:
            return
        long = size > 0
        exit_side = "SELL" if long else "BUY"
        entry = pos.entry_price
        mark = api.mark
        qty = abs(size)
        if self.stop_loss_pct > 0:
            k = Decimal(repr(self.stop_loss_pct)) / 100
            stop = entry * (1 - k) if long else entry * (1 + k)
            # a stop the mark already crossed would be refused ("would immediately trigger")
            if (long and stop < mark) or (not long and stop > mark):
                self._protect_ids.append(api.stop_market(exit_side, qty, api.round_price(stop, exit_side),
                                                         working_type="MARK_PRICE", close_position=True))
        if self.take_profit_pct > 0:
            k = Decimal(repr(self.take_profit_pct)) / 100
            tp = entry * (1 + k) if long else entry * (1 - k)
            if (long and tp > mark) or (not long and tp < mark):
                self._protect_ids.append(api.take_profit_market(
                    exit_side, qty, api.round_price(tp, "BUY" if long else "SELL"),
                    working_type="MARK_PRICE", close_position=True))
        if self.trailing_pct > 0:
            cb = min(10.0, max(0.1, float(self.trailing_pct)))
            self._protect_ids.append(api.trailing_stop(exit_side, qty, Decimal(repr(round(cb, 2))),
                                                       working_type="MARK_PRICE", reduce_only=True))
