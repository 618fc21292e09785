"""Funding / basis carry traders (agent type ``arbitrageur``). See
:mod:`exchange.sim.agents`."""
from __future__ import annotations

from attrs import evolve as attrs_evolve

import numpy as np

from exchange.sim.config import (Param, integer, money, number)
from exchange.sim.context import SimContext, lognormal_factors
from exchange.units import RATE_SCALE
from exchange.sim.gateway import (IOC, LIMIT, SUBMIT, OrderBatch)
from exchange.sim.agents.base import (MAX_DEPTH_BPS, MAX_LEVERAGE, MAX_MS, MAX_S, NS_PER_S, _Population, _ms,
                                      _protected, _reference_ticks)

# -- FUNDING / BASIS ARBITRAGEURS ------------------------------------------------------------

class FundingArbitrageurs(_Population):
    """Carry traders: hold the perp against a hedge elsewhere (spot or another venue, outside
    the simulation) and size the position by the funding they expect against their costs.

    Each wake (``check_ms``) a trader forecasts the next settlement's rate from the perp's
    premium now, ``(mid − index) / index``, through the venue's own funding rule (its interest
    clamp, cap and floor; a funding override shock when one is active) and takes that rate as
    lasting ``horizon_hours``. The expected carry ``E = |rate| · horizon / interval`` against
    the round-trip cost ``c`` (``cost_bps``, both legs, per trader) sets the target
    ``max_position · clip((E − c) / c, 0, 1)``, short the perp when shorts are paid, long when
    longs are; a position is held while ``E`` still covers ``hold_share · c`` and closed after.
    This is the arbitrage of He, Manela, Ross and von Wachter, "Fundamentals of Perpetual
    Futures" (arXiv 2212.06888, read 2026-12-02): funding is the only thing that pays the
    arbitrageur to close the basis, so trading costs set a no-arbitrage band around the index
    and with funding off (rate 0) nobody trades against the basis. Orders are IOC limits
    ``max_slippage_bps`` from the mid, at most ``clip`` of the maximum position each.
    O(n) per wake plus one funding-rule evaluation.
    """

    kind = "arbitrageur"
    PARAMS = {
        "capital": Param(money, "500000", "capital per arbitrageur"),
        "leverage": Param(integer(1, MAX_LEVERAGE), 3, "leverage of the perp leg"),
        "usage": Param(number(0.0, 1.0, lo_open=True), 0.5, "share of capital deployed at most"),
        "horizon_hours": Param(number(0.0, MAX_S / 3600, lo_open=True), 24.0, "how long the "
                               "expected rate is taken to last"),
        "cost_bps": Param(number(0.0, MAX_DEPTH_BPS, lo_open=True), 12.0, "round-trip cost of both "
                          "legs (fees, spread, hedge)"),
        "hold_share": Param(number(0.0, 1.0), 0.25, "keep the position while the expected carry "
                            "covers this share of the cost"),
        "clip": Param(number(0.0, 1.0, lo_open=True), 0.1, "largest order, share of the maximum "
                      "position"),
        "max_slippage_bps": Param(number(0.0, MAX_DEPTH_BPS, lo_open=True), 5.0, "IOC limit "
                                  "distance from the mid"),
        "dispersion": Param(number(0.0, 3.0), 0.3, "log-sd of per-trader costs and horizons"),
        "check_ms": Param(number(1.0, MAX_MS), 5000.0, "decision cadence"),
        "start_s": Param(number(0.0, MAX_S), 10.0, "first decision after this (the book is built first)"),
    }

    def setup(self, ctx: SimContext, ts_ns: int) -> int | None:
        p, rng, n = self.p, self.rng, self.n
        if n == 0:
            return None
        self._setup_accounts(ctx, np.full(n, p["capital"], np.int64), p["leverage"])
        self.cost = p["cost_bps"] * 1e-4 * lognormal_factors(rng, n, p["dispersion"])
        self.horizon_ns = p["horizon_hours"] * 3600 * NS_PER_S * lognormal_factors(
            rng, n, p["dispersion"])
        self.busy_until = np.zeros(n, np.int64)
        self.check_ns = _ms(p["check_ms"])
        self.timeline = ctx.exchange.timelines[ctx.instr]
        return ts_ns + int(p["start_s"] * NS_PER_S) + int(rng.integers(0, self.check_ns))

    def expected_rate(self, ctx: SimContext, mid_ticks: float) -> float:
        """The funding rate per interval (a fraction) the venue's rule gives if the premium
        stays where the book is now; the override when a funding shock is active. O(1)."""
        mkt = ctx.market
        if mkt.funding_override is not None:
            return mkt.funding_override / RATE_SCALE
        from exchange.funding import PremiumSummary

        tl = self.timeline
        interval = tl.funding.interval_ns
        idx = mkt.index_ticks
        prem = int(round((mid_ticks - idx) / idx * RATE_SCALE))
        summary = PremiumSummary(premium_avg=prem, n_samples=1, ts_start_ns=0, ts_end_ns=interval,
                                 mark_twap=float(mid_ticks), oracle_twap=float(idx),
                                 last_mark=float(mid_ticks), last_oracle=int(idx))
        rate = tl.rule.compute(summary, interval).rate
        # at a zero premium the rule still pays the interest leg, which the hedge's financing
        # costs the arbitrageur (borrowing quote to hold the base): only the excess is carry
        flat = attrs_evolve(summary, premium_avg=0, mark_twap=float(idx), last_mark=float(idx))
        return (rate - tl.rule.compute(flat, interval).rate) / RATE_SCALE

    def wake(self, ctx: SimContext, ts_ns: int) -> int | None:
        nxt = ts_ns + self.check_ns
        mkt = ctx.market
        if mkt.stale or mkt.mark_ticks <= 0 or mkt.index_ticks <= 0:
            return nxt
        p = self.p
        ref = _reference_ticks(ctx)
        rate = self.expected_rate(ctx, float(ref))
        interval = self.timeline.funding.interval_ns
        carry = abs(rate) * self.horizon_ns / interval          # per trader
        want_sign = -1 if rate > 0 else 1                        # the side funding pays
        pos = self._size_now(ctx)
        max_lots = int(p["capital"] * p["leverage"] * p["usage"] // (ref * ctx.k))
        share = np.clip((carry - self.cost) / self.cost, 0.0, 1.0)
        target = np.rint(want_sign * share * max_lots).astype(np.int64)
        # hold what funding still pays for; close what it no longer does
        same = np.sign(pos) == want_sign
        # ... and take the convergence once the premium has crossed back through zero
        agrees = (ref - mkt.index_ticks) * want_sign <= 0
        keep = same & agrees & (carry >= p["hold_share"] * self.cost) & (
            np.abs(pos) > np.abs(target))
        target = np.where(keep, pos, target)
        delta = target - pos
        clip = max(1, int(max_lots * p["clip"]))
        delta = np.clip(delta, -clip, clip)
        go = (delta != 0) & (self.busy_until <= ts_ns)
        idx = np.flatnonzero(go)
        if idx.shape[0]:
            d = delta[idx]
            buy = d > 0
            reduce = (np.sign(pos[idx]) != 0) & (np.sign(pos[idx]) != np.sign(d)) & (
                np.abs(d) <= np.abs(pos[idx]))
            ctx.send(OrderBatch(ts_ns + self.lat[idx], self.accounts[idx], kind=SUBMIT,
                                side=np.where(buy, 0, 1), qty=np.abs(d),
                                price=_protected(ref, buy, p["max_slippage_bps"]), otype=LIMIT,
                                tif=IOC, reduce_only=reduce.astype(np.int64)), results=False)
            self.busy_until[idx] = ts_ns + self.lat[idx] + self.check_ns
        return nxt
