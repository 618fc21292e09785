"""Example strategies over portfolios, for the world strategy API
(:mod:`exchange.sim.portfolio_strategy`): the trades the traders' guides describe.

- :class:`SpotPerpCarry`: long spot, short the perp, the same quantity; delta-neutral, it
  collects funding while funding is positive (longs pay shorts).
- :class:`HedgedWithETH`: long BTC perp hedged with a short ETH perp of ``hedge_ratio`` times
  its notional, both legs in one cross-margined account.
- :class:`CrossVenueFundingArb`: short the perp on the venue whose funding estimate is higher,
  long it on the other, while the difference pays more than ``min_edge`` per 8 hours.

Run one in a world::

    perpsim run cross_venue_cascade --strategy examples/portfolio_strategies.py:CrossVenueFundingArb

or from Python::

    from exchange.sim.portfolio_strategy import run_portfolio_strategy
    from examples.portfolio_strategies import SpotPerpCarry

    carry = SpotPerpCarry(venue="hyperliquid")
    result = run_portfolio_strategy(carry, "cross_venue_cascade", seed=1)
    print(result.populations["strategy"]["venues"]["hyperliquid"]["funding"], carry.funding)
"""
from __future__ import annotations

from decimal import Decimal

from exchange.sim.portfolio_strategy import PortfolioStrategy

__all__ = ["SpotPerpCarry", "HedgedWithETH", "CrossVenueFundingArb"]


class SpotPerpCarry(PortfolioStrategy):
    """Sell ``qty`` of ``asset``'s perp on ``venue`` when the venue's funding estimate is at
    least ``min_funding`` (per 8 h) and buy what fills spot at the index; hold. Records the
    funding received (``funding``, > 0 received)."""

    deposit = "60000"
    spot_deposit = "130000"
    leverage = 3
    interval_ms = 5000.0
    venue = "binance"
    asset = "BTC"
    qty = 1.0
    min_funding = 0.0

    def on_start(self, book) -> None:
        self.funding = Decimal(0)
        self._book = book

    def on_tick(self, book) -> None:
        perp = book.leg(self.venue, self.asset)
        est = perp.funding_estimate
        if perp.position.size != 0 or perp.open_orders or perp.best_bid is None \
                or est is None or est < Decimal(str(self.min_funding)):
            return
        perp.market("sell", perp.round_qty(Decimal(str(self.qty))))

    def on_fill(self, leg, fill) -> None:
        # the spot leg follows the perp's fills: long spot what is short perp
        if fill.side == "SELL" and not fill.liquidation:
            self._book.spot_buy(self.asset, fill.qty)

    def on_funding(self, leg, payment) -> None:
        self.funding -= payment.amount


class HedgedWithETH(PortfolioStrategy):
    """Long ``btc_qty`` BTC perp and short ETH perp for ``hedge_ratio`` × the BTC notional,
    on ``venue``, in one cross-margined account; rebalance the ETH leg when the notional
    ratio drifts more than ``rebalance`` from the target."""

    deposit = "50000"
    leverage = 5
    interval_ms = 5000.0
    venue = "binance"
    btc_qty = 0.5
    hedge_ratio = 1.0
    rebalance = 0.1

    def on_start(self, book) -> None:
        self.rebalances = 0

    def on_tick(self, book) -> None:
        btc, eth = book.leg(self.venue, "BTC"), book.leg(self.venue, "ETH")
        if btc.mark is None or eth.mark is None:
            return
        if btc.position.size == 0 and not btc.open_orders:
            btc.market("buy", btc.round_qty(Decimal(str(self.btc_qty))))
            return
        target = -(btc.position.size * btc.mark * Decimal(str(self.hedge_ratio))) / eth.mark
        diff = target - eth.position.size
        if eth.open_orders or abs(diff) <= abs(target) * Decimal(str(self.rebalance)):
            return
        q = eth.round_qty(abs(diff))
        if q > 0:
            eth.market("sell" if diff < 0 else "buy", q)
            self.rebalances += 1


class CrossVenueFundingArb(PortfolioStrategy):
    """Short ``qty`` of ``asset`` on the venue with the higher funding estimate and long it on
    the other, when the difference is at least ``min_edge`` per 8 hours; close both legs
    when it turns below zero. Records the funding received (``funding``)."""

    deposit = "60000"
    leverage = 5
    interval_ms = 5000.0
    asset = "BTC"
    qty = 0.5
    min_edge = 0.0

    def on_start(self, book) -> None:
        self.funding = Decimal(0)
        self.short_on: str | None = None

    def on_tick(self, book) -> None:
        a, b = book.venues[:2]
        la, lb = book.leg(a, self.asset), book.leg(b, self.asset)
        fa, fb = la.funding_estimate, lb.funding_estimate
        if fa is None or fb is None or la.mark is None or lb.mark is None:
            return
        edge = Decimal(str(self.min_edge))
        if self.short_on is None:
            if abs(fa - fb) >= edge:
                short, long_ = (la, lb) if fa >= fb else (lb, la)
                short.market("sell", short.round_qty(Decimal(str(self.qty))))
                long_.market("buy", long_.round_qty(Decimal(str(self.qty))))
                self.short_on = short.venue
            return
        short, long_ = (la, lb) if self.short_on == a else (lb, la)
        if short.funding_estimate < long_.funding_estimate - edge:
            for leg in (short, long_):
                size = leg.position.size
                if size:
                    leg.market("buy" if size < 0 else "sell", abs(size), reduce_only=True)
            self.short_on = None

    def on_funding(self, leg, payment) -> None:
        self.funding -= payment.amount
