"""The venue's own liquidation: ``Exchange`` runs its preset's waterfall on every mark price,
keeps the engine's index current after every command, and exposes the engine.

The mechanics of each module are tested in tests/exchange/liquidation; these tests check the
wiring a strategy or the server relies on when it drives ``Exchange`` alone.
"""
from __future__ import annotations

from decimal import Decimal

import pytest

from exchange.venue import Exchange, Order, events_named

SYM = "BTCUSDT"


def leveraged_long(bids=("47000", "46900", "46800"), **kw):
    """A market maker with deep pockets and a 20x cross long of 0.3 BTC bought at 50,000 with
    a 1,000 USDT wallet (992.5 after the taker fee: liquidation price about 46,879, bankruptcy
    price about 46,692), the maker's ``bids`` resting; the mark at 50,000."""
    ex = Exchange.from_preset("binance_usdm", **kw)
    mm = ex.open_account(deposit="10000000")
    trader = ex.open_account(deposit="1000")
    ex.set_leverage(trader, SYM, 20)
    ex.set_mark(SYM, "50000")
    ex.submit(mm, Order.limit(SYM, "SELL", "0.3", "50000"))
    assert events_named(ex.submit(trader, Order.market(SYM, "BUY", "0.3")), "OrderFilled")
    ex.set_mark(SYM, "48000")               # bids this far down pass the price band from here
    for price in bids:
        assert events_named(ex.submit(mm, Order.limit(SYM, "BUY", "1", price)), "OrderAccepted")
    return ex, mm, trader


def test_a_mark_below_the_liquidation_price_liquidates_into_the_book():
    ex, mm, trader = leveraged_long()
    assert events_named(ex.set_mark(SYM, "46900"), "LiquidationTriggered") == []
    assert ex.position(trader, SYM).size == Decimal("0.3")

    events = ex.set_mark(SYM, "46850")

    triggered = events_named(events, "LiquidationTriggered")
    assert [(e.account, e.instrument) for e in triggered] == [(trader, 0)]
    assert events_named(events, "PositionLiquidated")
    fills = [e for e in events_named(events, "OrderFilled") if e.account == trader]
    assert fills and {f.price_ticks for f in fills} == {ex.spec(SYM).price_to_ticks(Decimal("47000"))}
    assert ex.position(trader, SYM).size == 0
    assert ex.position(mm, SYM).size == 0
    assert 0 <= ex.balance(trader).wallet < Decimal("992.5") - Decimal("0.3") * 3000 + 1
    ex.check_invariants()


def test_a_book_too_thin_to_close_above_bankruptcy_goes_on_down_the_waterfall():
    """Binance sends the liquidation order at the bankruptcy price; bids below it leave the
    position to the insurance fund and ADL, as the preset's waterfall says."""
    ex, mm, trader = leveraged_long(bids=("45900",))
    events = ex.set_mark(SYM, "46000")
    assert [e.account for e in events_named(events, "LiquidationTriggered")] == [trader]
    assert events_named(events, "InsuranceFundUsed") or events_named(events, "PositionDeleveraged")
    assert ex.position(trader, SYM).size == 0
    assert ex.balance(trader).wallet == 0
    ex.check_invariants()


def test_the_engine_sees_positions_opened_after_it_was_built_and_is_exposed():
    ex, _, trader = leveraged_long()
    assert ex.liquidation is not None and ex.vault is None
    ex.check_invariants()                            # includes the engine's own index check
    names = [type(m).__name__ for m in ex.liquidation.waterfall]
    assert names == ["MarketModule", "InsuranceModule", "AdlModule"]


def test_without_liquidation_the_mark_moves_and_nothing_is_liquidated():
    ex, _, trader = leveraged_long(liquidation=False)
    events = ex.set_mark(SYM, "40000")
    assert events_named(events, "LiquidationTriggered") == []
    assert ex.position(trader, SYM).size == Decimal("0.3")
    assert ex.balance(trader).equity < 0
    ex.check_invariants()


def test_funding_that_eats_the_margin_liquidates_at_the_settlement():
    """The venue re-checks margin after a settlement: an account funding took below
    maintenance is liquidated then, not at the next mark."""
    ex, _, trader = leveraged_long()
    ex.set_mark(SYM, "48000")
    # at 48,000 the 0.3 BTC long has lost 600 of its 1,000; longs pay 2% of 14,400 = 288 USDT
    # per settlement: the second leaves less than the maintenance margin
    liquidated = []
    for _ in range(3):
        events = ex.settle_funding(SYM, 2_000_000)
        liquidated.append([e.account for e in events_named(events, "LiquidationTriggered")])
    assert liquidated == [[], [trader], []]
    assert ex.position(trader, SYM).size == 0
    ex.check_invariants()


def test_a_waterfall_with_a_backstop_opens_and_funds_its_vault():
    ex = Exchange.from_preset("hyperliquid")
    assert ex.vault is not None
    capital = ex.preset.liquidation.backstop_capital_atoms
    assert ex.core.arrays()["wallet"][ex.vault] == capital > 0
    ex.check_invariants()


@pytest.mark.parametrize("preset", ["binance_usdm", "bybit_linear", "bitmex", "hyperliquid",
                                    "dydx_v4", "drift"])
def test_every_preset_builds_a_venue_with_its_liquidation_engine(preset):
    ex = Exchange.from_preset(preset)
    assert [type(m).__name__.removesuffix("Module").lower() for m in ex.liquidation.waterfall] \
        == list(ex.preset.liquidation.waterfall)
