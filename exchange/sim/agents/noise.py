"""Noise traders (agent type ``noise``). See :mod:`exchange.sim.agents`."""
from __future__ import annotations


import numpy as np

from exchange.sim.config import (Param, integer, money, number)
from exchange.sim.context import SimContext
from exchange.sim.gateway import (IOC, LIMIT, SUBMIT, OrderBatch)
from exchange.sim.agents.base import (MAX_BASE_QTY, MAX_DEPTH_BPS, MAX_LEVERAGE, MAX_MS, MAX_RATE_PER_MIN,
                                      MAX_S, NS_PER_S, _Population, _capital, _ms, _protected,
                                      _reference_ticks)

# -- NOISE TRADERS ---------------------------------------------------------------------------

class NoiseTraders(_Population):
    """Marketable orders at Poisson times (``rate_per_min`` per trader), random side (buy
    with probability ``buy_share``), lognormal size around ``size``; an order that would take
    the position beyond ``max_position`` is turned around to reduce it. Each is an IOC limit
    ``max_slippage_bps`` from the book mid, so in a vacuum it does not trade at the next wall.
    Trading starts at ``start_s``, once the makers' book stands. O(active) per wake."""

    kind = "noise"
    PARAMS = {
        "capital": Param(money, "20000", "median capital"),
        "capital_sigma": Param(number(0.0, 3.0), 0.8, "log-sd of capital"),
        "leverage": Param(integer(1, MAX_LEVERAGE), 5, "account leverage setting"),
        "rate_per_min": Param(number(0.0, MAX_RATE_PER_MIN), 1.0, "orders per trader per minute"),
        "size": Param(number(0.0, MAX_BASE_QTY, lo_open=True), 0.01, "median order size (base units)"),
        "size_sigma": Param(number(0.0, 3.0), 1.0, "log-sd of order size"),
        "max_position": Param(number(0.0, MAX_BASE_QTY, lo_open=True), 0.2, "position cap (base units)"),
        "buy_share": Param(number(0.0, 1.0), 0.5, "probability an order buys"),
        "wake_ms": Param(number(1.0, MAX_MS), 1000.0, "decision cadence"),
        "max_slippage_bps": Param(number(0.0, MAX_DEPTH_BPS, lo_open=True), 20.0, "IOC limit "
                                  "distance from the mid: no fill beyond it"),
        "start_s": Param(number(0.0, MAX_S), 10.0, "first order after this (the book is built first)"),
    }

    def setup(self, ctx: SimContext, ts_ns: int) -> int | None:
        p = self.p
        if self.n == 0:
            return None
        self._setup_accounts(ctx, _capital(self.rng, self.n, p["capital"], p["capital_sigma"]),
                             p["leverage"])
        self.wake_ns = _ms(p["wake_ms"])
        self.lam = self.n * p["rate_per_min"] * self.wake_ns / (60 * NS_PER_S)
        self.size_lots = p["size"] / ctx.lot_size
        self.cap_lots = max(1, int(round(p["max_position"] / ctx.lot_size)))
        return ts_ns + int(p["start_s"] * NS_PER_S) + int(self.rng.integers(0, self.wake_ns))

    def wake(self, ctx: SimContext, ts_ns: int) -> int | None:
        nxt = ts_ns + self.wake_ns
        if ctx.market.stale or ctx.market.mark_ticks <= 0:
            return nxt
        rng = self.rng
        m = int(rng.poisson(self.lam))
        if m == 0:
            return nxt
        who = rng.integers(0, self.n, m)
        buy = rng.random(m) < self.p["buy_share"]
        qty = np.maximum(1, np.rint(self.size_lots * np.exp(self.p["size_sigma"]
                                                           * rng.standard_normal(m)))).astype(np.int64)
        qty = np.minimum(qty, self.cap_lots)
        free = ctx.arrays()["acct_flags"][self.accounts[who]] == 0   # not being liquidated
        if not free.all():
            who, buy, qty = who[free], buy[free], qty[free]
            m = who.shape[0]
            if m == 0:
                return nxt
        pos = self._size_now(ctx)[who]
        signed = np.where(buy, qty, -qty)
        over = np.abs(pos + signed) > self.cap_lots
        buy = np.where(over, pos < 0, buy)
        side = np.where(buy, 0, 1)
        price = _protected(_reference_ticks(ctx), buy, self.p["max_slippage_bps"])
        ctx.send(OrderBatch(ts_ns + self.lat[who], self.accounts[who], kind=SUBMIT, side=side,
                            qty=qty, price=price, otype=LIMIT, tif=IOC), results=False)
        return nxt
