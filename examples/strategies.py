"""Two example strategies for perpsim's in-process strategy API (:mod:`exchange.sim.strategy`).

Run one inside the built-in flash crash::

    perpsim run flash_crash --strategy examples/strategies.py:MarketMaker
    perpsim run flash_crash --strategy examples/strategies.py:Momentum \\
        --strategy-param threshold_bps=15 --strategy-param leverage=20

or from Python::

    from exchange.sim.strategy import run_strategy
    from examples.strategies import MarketMaker       # or load it by path

    mm = MarketMaker(half_spread_bps=4.0)
    result = run_strategy(mm, "flash_crash", seed=7)
    print(result.strategies["strategy"]["pnl"], mm.fills)

Every public class attribute is a parameter (``--strategy-param key=value`` or a key of the
scenario's ``[population.NAME]`` table); state lives in attributes set in ``on_start``.
"""
from __future__ import annotations

from collections import deque
from decimal import Decimal

from exchange.sim.strategy import Strategy

__all__ = ["MarketMaker", "Momentum"]


class MarketMaker(Strategy):
    """Quote one post-only bid and one ask around the mark, skewed against inventory.

    Every tick: cancel the previous quotes, then quote ``size`` at ``half_spread_bps`` from a
    centre shifted by ``-skew_bps × inventory / max_inventory``; the side that would grow the
    inventory beyond ``max_inventory`` is not quoted. Pulls every quote while the oracle is
    stale or the mark moved more than ``pull_bps`` since the previous tick (a gap), and stays
    out for ``cooldown_ticks`` ticks.
    """

    deposit = "200000"
    leverage = 5
    interval_ms = 1000.0
    latency_ms = 5.0
    half_spread_bps = 3.0
    size = 0.02
    max_inventory = 0.2
    skew_bps = 4.0
    pull_bps = 50.0
    cooldown_ticks = 30

    def on_start(self, api) -> None:
        self.fills = 0
        self.rejections = 0
        self.liquidated = False
        self._prev_mark: Decimal | None = None
        self._out_until_tick = 0
        self._tick = 0

    def on_tick(self, api) -> None:
        self._tick += 1
        mark = api.mark
        api.cancel_all()
        if mark is None or api.stale:
            return
        prev, self._prev_mark = self._prev_mark, mark
        if prev is not None and abs(mark / prev - 1) * 10_000 > Decimal(str(self.pull_bps)):
            self._out_until_tick = self._tick + self.cooldown_ticks
        if self._tick < self._out_until_tick:
            return
        inv = float(api.position.size)
        lim = self.max_inventory
        centre = float(mark) * (1 - self.skew_bps * 1e-4 * max(-1.0, min(1.0, inv / lim)))
        half = self.half_spread_bps * 1e-4
        qty = api.round_qty(self.size)
        if qty <= 0:
            return
        if inv + float(qty) <= lim:
            api.limit("BUY", qty, api.round_price(centre * (1 - half), "BUY"), tif="POST_ONLY")
        if inv - float(qty) >= -lim:
            api.limit("SELL", qty, api.round_price(centre * (1 + half), "SELL"), tif="POST_ONLY")

    def on_fill(self, api, fill) -> None:
        self.fills += 1

    def on_order(self, api, update) -> None:
        if update.status == "rejected":
            self.rejections += 1        # post-only quotes that would cross: expected

    def on_liquidation(self, api, event) -> None:
        self.liquidated = True


class Momentum(Strategy):
    """Follow the mark's move over ``lookback_s`` with a market order when it exceeds
    ``threshold_bps`` and the book's spread is below ``max_spread_bps`` (a market order into
    a liquidity vacuum pays the whole gap); exit with a reduce-only market order at a
    ``stop_bps`` loss from the entry price, at a ``take_profit_bps`` gain, or when the move
    reverses."""

    deposit = "10000"
    leverage = 10
    interval_ms = 1000.0
    latency_ms = 30.0
    lookback_s = 20.0
    threshold_bps = 25.0
    usage = 0.5                     # share of deposit × leverage per entry
    stop_bps = 80.0
    take_profit_bps = 200.0
    max_spread_bps = 10.0

    def on_start(self, api) -> None:
        n = max(2, int(self.lookback_s * 1000 / self.interval_ms) + 1)
        self._marks: deque[float] = deque(maxlen=n)
        self._busy = False
        self.entries = 0
        self.stops = 0
        self.liquidations = 0

    def on_tick(self, api) -> None:
        mark = api.mark
        if mark is None or api.stale:
            return
        self._marks.append(float(mark))
        if self._busy or len(self._marks) < self._marks.maxlen:
            return
        move_bps = (self._marks[-1] / self._marks[0] - 1) * 1e4
        size = api.position.size
        if size == 0:
            bid, ask = api.best_bid, api.best_ask
            if abs(move_bps) < self.threshold_bps or bid is None or ask is None \
                    or float(ask - bid) / float(mark) * 1e4 > self.max_spread_bps:
                return
            notional = float(api.balance.available) * self.leverage * self.usage
            qty = api.round_qty(notional / float(mark))
            if qty > 0:
                api.market("BUY" if move_bps > 0 else "SELL", qty)
                self._busy = True
                self.entries += 1
            return
        entry = float(api.position.entry_price)
        pnl_bps = (float(mark) / entry - 1) * 1e4 * (1 if size > 0 else -1)
        reversed_ = (move_bps < -self.threshold_bps) if size > 0 else (move_bps > self.threshold_bps)
        if pnl_bps <= -self.stop_bps or pnl_bps >= self.take_profit_bps or reversed_:
            self.stops += pnl_bps <= -self.stop_bps
            api.market("SELL" if size > 0 else "BUY", abs(size), reduce_only=True)
            self._busy = True

    def on_order(self, api, update) -> None:
        if update.status in ("rejected", "expired", "canceled"):
            self._busy = False

    def on_fill(self, api, fill) -> None:
        if fill.remaining == 0:
            self._busy = False

    def on_liquidation(self, api, event) -> None:
        if event.name == "LiquidationTriggered":
            self.liquidations += 1
