"""One test per reproducer the venue fuzz (benchmarks/fuzz_venue.py, issue 18) found or that
describes a known defect: each JSON file beside this one replays with no violation, and the
defect it records is asserted directly on the venue's state."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from exchange.venue import Exchange, Order
from tests.exchange.test_fuzz_venue import fz

HERE = Path(__file__).resolve().parent
REPRODUCERS = sorted(HERE.glob("*.json"))


def test_there_are_reproducers():
    assert REPRODUCERS


@pytest.mark.parametrize("path", REPRODUCERS, ids=lambda p: p.stem)
def test_reproducer_replays_without_violation(path):
    data = json.loads(path.read_text())
    ran, violation, idx = fz.execute(data["config"], data["commands"])
    assert violation is None, f"{path.name}: command {idx + 1}: {violation}"
    assert ran == len(data["commands"])


def _isolated_long_100x(insurance_fund: str):
    # no waterfall: with one, the venue liquidates the account at the settlement that takes
    # its bucket below maintenance, before the trader can close it (the core's rule for a
    # flat bucket is what is tested here)
    ex = Exchange.from_preset("binance_usdm", liquidation=False,
                              overrides={"liquidation.insurance_fund": insurance_fund})
    trader, maker = ex.open_account(deposit="10000"), ex.open_account(deposit="1000000")
    ex.set_mark("BTCUSDT", "50000")
    ex.set_margin_mode(trader, "BTCUSDT", "isolated")
    ex.set_leverage(trader, "BTCUSDT", 100)
    ex.submit(maker, Order.limit("BTCUSDT", "SELL", "1", "50000"))
    ex.submit(trader, Order.market("BTCUSDT", "BUY", "1"))
    assert ex.position(trader, "BTCUSDT").isolated_margin == 500
    # 2 % funding on 50,000 of notional is 1,000: twice the bucket
    ex.settle_funding("BTCUSDT", 2_000_000)
    assert ex.position(trader, "BTCUSDT").isolated_margin == -500
    ex.submit(maker, Order.limit("BTCUSDT", "BUY", "1", "50000"))
    return ex, trader, maker


def test_flat_isolated_position_closed_by_its_trader_leaves_no_negative_bucket():
    # defect (issue 18): size 0, bucket -500 USDT that nobody would ever settle
    ex, trader, _ = _isolated_long_100x("1000000")
    wallet = ex.balance(trader).wallet
    fund = ex.core.insurance
    evs = ex.submit(trader, Order.market("BTCUSDT", "SELL", "1", reduce_only=True))
    pos = ex.position(trader, "BTCUSDT")
    assert pos.size == 0 and pos.isolated_margin == 0
    # the isolated margin was the most the trader could lose: the wallet is untouched except
    # for the taker fee (0.05 % of 50,000), the fund paid the 500 beyond the margin
    assert ex.balance(trader).wallet == wallet - 25
    assert fund - ex.core.insurance == 500_000_000
    moved = [(e.from_kind, e.to_kind, e.to_account, e.amount_atoms)
             for e in evs if e.name == "LedgerMoved"]
    assert moved == [(3, 1, trader, 500_000_000)]      # insurance -> the trader's bucket
    ex.check_invariants()


def test_with_an_empty_fund_the_remainder_of_a_flat_isolated_bucket_is_bad_debt():
    ex, trader, _ = _isolated_long_100x("0")
    ex.submit(trader, Order.market("BTCUSDT", "SELL", "1", reduce_only=True))
    assert ex.position(trader, "BTCUSDT").isolated_margin == 0
    assert ex.core.bad_debt == -500_000_000
    assert ex.core.insurance == 0
    ex.check_invariants()


def test_a_flat_isolated_bucket_in_liquidation_is_left_to_the_waterfall():
    # the core nets nothing for an account the engine is liquidating: the engine's
    # insurance / bad-debt modules book that deficit (and report it)
    ex, trader, _ = _isolated_long_100x("1000000")
    ex.core.set_account_flag(trader, True)
    ex.core.liquidation_order(trader, 0, 1, 1000, 0)
    assert ex.position(trader, "BTCUSDT").isolated_margin == -500
    ex.core.set_account_flag(trader, False)
    ex.check_invariants()


def test_the_backstop_leaves_an_account_above_two_thirds_of_maintenance_to_the_book():
    # defect: BackstopModule compared equity x 1e8 with trigger x MM in int64; above ~92,000
    # USDT of equity the product wrapped and the vault took over an account with 100,000 of
    # equity and 120,000 of maintenance (Hyperliquid's backstop acts below 2/3 MM = 80,000)
    ex = Exchange.from_preset("hyperliquid")
    trader, maker = ex.open_account(deposit="504500"), ex.open_account(deposit="100000000")
    ex.set_mark("BTC", "50000")
    ex.set_leverage(trader, "BTC", 20)
    ex.submit(maker, Order.limit("BTC", "SELL", "200", "50000"))
    ex.submit(trader, Order.limit("BTC", "BUY", "200", "50000", tif="IOC"))
    ex.cancel_all(maker)
    ex.deposit(ex.vault, "100000000")
    evs = ex.set_mark("BTC", "48000")
    bal = ex.balance(trader)
    assert (bal.equity, bal.maintenance_margin) == (100_000, 120_000)
    names = [e.name for e in evs]
    assert "LiquidationTriggered" in names and "BackstopTakeover" not in names
    assert ex.position(trader, "BTC").size == 200 and ex.position(ex.vault, "BTC").size == 0
    ex.check_invariants()


@pytest.mark.parametrize("scenario, key, value", [
    # each crashed a run with an OverflowError / ValueError / MemoryError, or ran without end,
    # before the scenario schema bounded it (found by the scenario fuzz, issue 18)
    ("calm", "population.directional.leverage", [2**63]),
    ("calm", "population.makers.inventory_limit", 2**63),
    ("funding_squeeze", "population.makers.requote_ms", 1e15),
    ("funding_squeeze", "population.directional.check_ms", 2**62),
    ("oracle_manipulation", "population.keeper.size", 1e15),
    ("calm", "population.noise.rate_per_min", 1e9),
    ("flash_crash", "index.price", 2**62),
    ("calm", "index.sigma", 1e9),
    ("calm", "scenario.duration_s", 1e308),
    ("flash_crash", "shock.0.at_s", 1e308),
])
def test_scenario_numbers_that_crashed_a_run_are_config_errors(scenario, key, value):
    from exchange.errors import ConfigError
    from exchange.sim.scenario import load_scenario

    with pytest.raises(ConfigError) as err:
        load_scenario(scenario).with_overrides({key: value})
    assert key.split(".")[-1] in str(err.value)


def test_a_matching_level_total_never_wraps():
    # found by the matching fuzz (issue 18): two orders of 2**63 - 1 lots at one price made
    # the level total -2 and check_invariants() still passed
    from matching._book import Book
    from matching.codes import MatchCode

    book = Book()
    assert book.limit(1, 0, 100, 2**63 - 1) == 0
    assert book.limit(2, 0, 100, 2**63 - 1) == MatchCode.LEVEL_QTY_OVERFLOW
    assert book.level_qty(0, 100) == 2**63 - 1
    book.check_invariants()
