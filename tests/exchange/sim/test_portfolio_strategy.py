"""The strategy API over portfolios: one strategy on several instruments and venues."""
from decimal import Decimal

import pytest

from examples.portfolio_strategies import CrossVenueFundingArb, HedgedWithETH, SpotPerpCarry
from exchange.cli import main
from exchange.errors import ConfigError, InvalidCommandError
from exchange.sim.portfolio_strategy import PortfolioStrategy, run_portfolio_strategy
from exchange.sim.world import World, load_world, run_world

#: cross_venue_cascade, thinner, for one hour and a bit: Hyperliquid pays funding hourly
HOUR = {"scenario.duration_s": 3700, "scenario.step_ms": 5000,
        "market.population.noise.count": 30,
        "market.population.directional.count": 40, "population.arbs.count": 2,
        "venues.binance.population.directional.count": 40,
        "venues.hyperliquid.population.directional.count": 40}
SHORT_CRASH = {"scenario.duration_s": 400, "market.population.noise.count": 30,
               "market.population.directional.count": 40,
               "population.cross_portfolios.count": 20,
               "population.isolated_portfolios.count": 20}


@pytest.fixture(scope="module")
def hour():
    carry, arb = SpotPerpCarry(venue="hyperliquid"), CrossVenueFundingArb()
    w = load_world("cross_venue_cascade").with_overrides(HOUR).with_overrides({
        "population.carry": {"type": "portfolio_strategy", "class": SpotPerpCarry,
                             "venues": ["hyperliquid"]},
        "population.fundarb": {"type": "portfolio_strategy", "class": CrossVenueFundingArb}})

    def prepare(world):
        world.agent("carry").use(carry)
        world.agent("fundarb").use(arb)

    return run_world(w, 1, prepare=prepare), carry, arb


def test_spot_perp_carry_is_delta_neutral_and_collects_funding(hour):
    result, carry, _ = hour
    r = result.populations["carry"]["venues"]["hyperliquid"]
    assert r["spot_holdings"] == {"BTC": 1.0}            # long spot what is short perp
    assert carry.funding > 0                             # shorts receive the interest rate
    assert r["funding"] == pytest.approx(-float(carry.funding))
    # the -3 % gap moves each leg by ~3,300 USD; together they move by far less
    total = r["pnl"] + r["spot_pnl"]
    assert abs(r["spot_pnl"]) > 2000 and abs(total) < 0.25 * abs(r["spot_pnl"])


def test_cross_venue_funding_arb_holds_opposite_legs_on_two_venues(hour):
    result, _, arb = hour
    per = result.populations["fundarb"]["venues"]
    assert set(per) == {"binance", "hyperliquid"}
    assert per["binance"]["fills"] > 0 and per["hyperliquid"]["fills"] > 0
    assert arb.short_on in ("binance", "hyperliquid")
    assert arb.funding != 0


def test_btc_hedged_with_eth_holds_both_legs_in_one_cross_account():
    h = HedgedWithETH()
    seen = {}

    class Probe(HedgedWithETH):
        def on_stop(self, book):
            btc, eth = book.leg("binance", "BTC"), book.leg("binance", "ETHUSDT")
            seen["sizes"] = (btc.position.size, eth.position.size)
            seen["margin"] = book.margin("binance")
            seen["equity"] = book.equity()
            seen["notional"] = (btc.position.size * btc.mark, eth.position.size * eth.mark)

    p = Probe()
    r = run_portfolio_strategy(p, "multi_asset_crash", 1, overrides=SHORT_CRASH,
                               venues=["binance"], assets=["BTC", "ETH"])
    b, e = seen["sizes"]
    assert b == Decimal("0.5") and e < 0
    nb, ne = seen["notional"]
    assert abs(ne + nb) / nb < Decimal("0.25")          # hedged within the rebalance band
    assert seen["margin"].maintenance_margin > 0 and seen["equity"] > 0
    assert r.populations["strategy"]["venues"]["binance"]["fills"] >= 2
    assert h.hedge_ratio == 1.0


def test_portfolio_strategy_errors_are_clear():
    w = load_world("cross_venue_cascade")
    with pytest.raises(ConfigError, match="PortfolioStrategy subclass"):
        w.with_overrides({"population.s": {"type": "portfolio_strategy",
                                           "class": "examples/strategies.py:MarketMaker"}})
    with pytest.raises(ConfigError, match="did you mean"):
        w.with_overrides({"population.s": {"type": "portfolio_strategy",
                                           "class": SpotPerpCarry, "venu": "x"}})

    class Bad(PortfolioStrategy):
        def on_start(self, book):
            book.spot_buy("BTC", 1)                     # no spot cash

    world = World(w.with_overrides({"scenario.duration_s": 5, "population.s": {
        "type": "portfolio_strategy", "class": Bad}}), 0)
    with pytest.raises(InvalidCommandError, match="spot cash"):
        world.run()


def test_perpsim_run_a_world_with_a_portfolio_strategy(tmp_path, capsys):
    sets = ["--set", "scenario.duration_s=120", "--set", "market.population.noise.count=20",
            "--set", "market.population.directional.count=20"]
    assert main(["run", "cross_venue_cascade", "--out", str(tmp_path / "o"), "--no-report",
                 "--strategy", "examples/portfolio_strategies.py:CrossVenueFundingArb",
                 "--strategy-param", "qty=0.2", *sets]) == 0
    assert "strategy" in capsys.readouterr().out
