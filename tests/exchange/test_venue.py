"""The venue pipeline through the public Exchange API: validation → risk → matching →
settlement, as scenarios, plus a property test of the conservation identity."""
from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exchange.codes import RejectReason
from exchange.errors import InvalidCommandError, UnknownAccountError, UnknownSymbolError
from exchange.venue import Exchange, Order, events_named


def names(events):
    return [e.name for e in events]


@pytest.fixture
def ex():
    ex = Exchange.from_preset("binance_usdm")
    ex.set_mark("BTCUSDT", "50000")
    return ex


@pytest.fixture
def pair(ex):
    return ex.open_account(deposit="100000"), ex.open_account(deposit="100000")


def rejected(events):
    (r,) = events_named(events, "OrderRejected")
    return RejectReason(r.reason)


def test_limit_order_rests_then_a_market_order_fills_it_and_fees_go_to_the_fee_pool(ex, pair):
    a, b = pair
    assert names(ex.submit(a, Order.limit("BTCUSDT", "SELL", "0.2", "50010"))) == ["OrderAccepted"]
    ev = ex.submit(b, Order.market("BTCUSDT", "BUY", "0.2"))
    fills = events_named(ev, "OrderFilled")
    assert [f.taker for f in fills] == [0, 1]
    maker, taker = fills
    notional = 200 * 500_100 * 100                      # lots x ticks x atoms per tick-lot
    assert maker.fee_atoms == notional * 2 // 10_000     # 0.02 % maker
    assert taker.fee_atoms == notional * 5 // 10_000     # 0.05 % taker
    assert ex.core.fee_pool == maker.fee_atoms + taker.fee_atoms
    assert ex.position(b, "BTCUSDT").size == Decimal("0.200")
    assert ex.position(a, "BTCUSDT").size == Decimal("-0.200")
    ex.check_invariants()


def test_realised_pnl_is_zero_sum_between_counterparties_net_of_fees(ex, pair):
    a, b = pair
    ex.submit(a, Order.limit("BTCUSDT", "SELL", "1", "50000"))
    ex.submit(b, Order.market("BTCUSDT", "BUY", "1"))
    ex.set_mark("BTCUSDT", "51000")
    ex.submit(a, Order.limit("BTCUSDT", "BUY", "1", "51000"))
    ev = ex.submit(b, Order.market("BTCUSDT", "SELL", "1"))
    fills = events_named(ex.events(), "OrderFilled")
    realised = sum(f.realized_pnl_atoms for f in fills)
    assert realised == 0
    closing = {f.account: f.realized_pnl_atoms for f in events_named(ev, "OrderFilled")}
    assert closing[b] == 1000 * 10**6 and closing[a] == -1000 * 10**6   # 1 BTC x 1,000 USDT
    totals = ex.core.ledger_totals()
    assert totals["wallets"] + totals["fee_pool"] == 200_000 * 10**6   # the fund is seeded apart
    ex.check_invariants()


def test_order_beyond_available_margin_is_rejected_and_changes_nothing(ex):
    poor = ex.open_account(deposit="100")
    before = ex.core.ledger_totals()
    ev = ex.submit(poor, Order.limit("BTCUSDT", "BUY", "1", "50000"))   # 50,000 notional at 20x
    assert rejected(ev) == RejectReason.INSUFFICIENT_MARGIN
    assert ex.open_orders(poor) == [] and ex.core.ledger_totals() == before
    assert len(ex.book("BTCUSDT")) == 0


def test_initial_margin_counts_open_orders(ex):
    acct = ex.open_account(deposit="3000")           # 20x: 2,500 of IM per 1 BTC at 50,000
    assert names(ex.submit(acct, Order.limit("BTCUSDT", "BUY", "1", "50000"))) == ["OrderAccepted"]
    assert rejected(ex.submit(acct, Order.limit("BTCUSDT", "BUY", "0.5", "50000"))) \
        == RejectReason.INSUFFICIENT_MARGIN
    # a sell on the other side does not add to the worse side: accepted
    assert names(ex.submit(acct, Order.limit("BTCUSDT", "SELL", "0.5", "52000"))) == ["OrderAccepted"]


def test_reduce_only_that_would_increase_is_rejected_and_an_oversized_one_is_resized(ex, pair):
    a, b = pair
    assert rejected(ex.submit(a, Order.market("BTCUSDT", "BUY", "0.1", reduce_only=True))) \
        == RejectReason.REDUCE_ONLY_WOULD_INCREASE
    ex.submit(a, Order.limit("BTCUSDT", "SELL", "0.3", "50000"))
    ex.submit(b, Order.market("BTCUSDT", "BUY", "0.3"))
    ex.submit(a, Order.limit("BTCUSDT", "BUY", "1", "50000"))     # liquidity for b's close
    ev = ex.submit(b, Order.market("BTCUSDT", "SELL", "5", reduce_only=True))
    (acc,) = events_named(ev, "OrderAccepted")
    assert acc.qty_lots == 300
    assert ex.position(b, "BTCUSDT").size == 0
    ex.check_invariants()


def test_validation_rejections_carry_1xxx_codes(ex):
    acct = ex.open_account(deposit="100000")
    assert rejected(ex.submit(acct, Order.limit("BTCUSDT", "BUY", "0.1", "50000.05"))) \
        == RejectReason.INVALID_PRICE
    assert rejected(ex.submit(acct, Order.limit("BTCUSDT", "BUY", "0.0001", "50000"))) \
        == RejectReason.INVALID_QTY
    assert rejected(ex.submit(acct, Order.limit("BTCUSDT", "BUY", "0.001", "45000"))) \
        == RejectReason.PRICE_OUT_OF_BAND
    assert rejected(ex.submit(acct, Order.limit("BTCUSDT", "BUY", "0.001", "50000"))) \
        == RejectReason.BELOW_MIN_NOTIONAL


def test_post_only_that_would_cross_is_rejected_with_the_matching_code(ex, pair):
    a, b = pair
    ex.submit(a, Order.limit("BTCUSDT", "SELL", "0.1", "50000"))
    assert rejected(ex.submit(b, Order.limit("BTCUSDT", "BUY", "0.1", "50000", tif="GTX"))) \
        == RejectReason.POST_ONLY_WOULD_CROSS


@pytest.mark.parametrize("bad, error", [
    (dict(qty=float("nan")), InvalidCommandError),
    (dict(qty="-1"), InvalidCommandError),
    (dict(side="LONG"), InvalidCommandError),
    (dict(symbol="DOGEUSDT"), UnknownSymbolError),
])
def test_malformed_orders_raise_typed_errors_naming_the_field(ex, bad, error):
    acct = ex.open_account(deposit="1000")
    fields = dict(symbol="BTCUSDT", side="BUY", qty="0.01", price="50000")
    fields.update(bad)
    with pytest.raises(error) as info:
        ex.submit(acct, Order.limit(**fields))
    assert next(iter(bad)) in str(info.value)


def test_unknown_account_raises(ex):
    with pytest.raises(UnknownAccountError, match="'account'"):
        ex.deposit(99, "1")


def test_cancel_of_a_filled_order_is_rejected_as_unknown(ex, pair):
    a, b = pair
    ev = ex.submit(a, Order.limit("BTCUSDT", "SELL", "0.1", "50000"))
    oid = events_named(ev, "OrderAccepted")[0].order_id
    ex.submit(b, Order.market("BTCUSDT", "BUY", "0.1"))
    assert rejected(ex.cancel(a, oid)) == RejectReason.UNKNOWN_ORDER


def test_withdrawal_that_would_breach_initial_margin_is_refused(ex, pair):
    a, b = pair
    ex.submit(a, Order.limit("BTCUSDT", "SELL", "10", "50000"))
    ex.submit(b, Order.market("BTCUSDT", "BUY", "10"))              # 500k notional at 20x: 25k IM
    ev = ex.withdraw(b, "90000")
    assert events_named(ev, "TransferRejected")[0].reason == RejectReason.WITHDRAWAL_WOULD_BREACH_IM
    assert names(ex.withdraw(b, "10000")) == ["Withdrawn"]
    ex.check_invariants()


def test_isolated_position_moves_its_margin_into_a_bucket_and_back(ex, pair):
    a, b = pair
    ex.set_margin_mode(b, "BTCUSDT", "isolated")
    ex.set_leverage(b, "BTCUSDT", 10)
    ex.submit(a, Order.limit("BTCUSDT", "SELL", "1", "50000"))
    ex.submit(b, Order.market("BTCUSDT", "BUY", "1"))
    assert ex.position(b, "BTCUSDT").isolated_margin == Decimal("5000")
    assert rejected(ex.set_margin_mode(a, "BTCUSDT", "isolated")) \
        == RejectReason.MARGIN_MODE_CHANGE_WITH_OPEN_POSITION
    ex.check_invariants()
    ex.set_mark("BTCUSDT", "49000")
    ex.submit(a, Order.limit("BTCUSDT", "BUY", "1", "49000"))
    ex.submit(b, Order.market("BTCUSDT", "SELL", "1"))
    pos = ex.position(b, "BTCUSDT")
    assert pos.size == 0 and pos.isolated_margin == 0
    ex.check_invariants()


def test_leverage_above_the_first_tier_maximum_is_rejected(ex):
    acct = ex.open_account(deposit="1000")
    assert rejected(ex.set_leverage(acct, "BTCUSDT", 500)) == RejectReason.INVALID_LEVERAGE
    assert names(ex.set_leverage(acct, "BTCUSDT", 50)) == ["LeverageSet"]


def test_stop_market_fires_when_the_mark_crosses_its_trigger(ex, pair):
    a, b = pair
    ex.submit(a, Order.limit("BTCUSDT", "SELL", "1", "50000"))
    ex.submit(b, Order.market("BTCUSDT", "BUY", "1"))
    ex.submit(a, Order.limit("BTCUSDT", "BUY", "1", "48000"))
    ev = ex.submit(b, Order.stop_market("BTCUSDT", "SELL", "1", "48500", working_type="MARK_PRICE",
                                        reduce_only=True))
    assert names(ev) == ["ConditionalOrderAccepted"]
    assert "ConditionalOrderTriggered" not in names(ex.set_mark("BTCUSDT", "49000"))
    ev = ex.set_mark("BTCUSDT", "48400")
    assert "ConditionalOrderTriggered" in names(ev)
    assert ex.position(b, "BTCUSDT").size == 0
    ex.check_invariants()


def test_mark_ticks_is_the_mark_the_arrays_hold_and_checks_the_instrument():
    ex = Exchange.from_preset("binance_usdm")
    i = ex.instrument("BTCUSDT")
    assert ex.core.mark_ticks(i) == 0               # no mark yet
    ex.set_mark("BTCUSDT", "50000.5")
    assert ex.core.mark_ticks(i) == int(ex.core.arrays()["mark"][i]) > 0
    with pytest.raises(UnknownSymbolError, match="'instrument'"):
        ex.core.mark_ticks(len(ex.specs))


def test_stop_that_would_fire_immediately_is_rejected(ex):
    acct = ex.open_account(deposit="10000")
    ev = ex.submit(acct, Order.stop_market("BTCUSDT", "SELL", "0.1", "51000", working_type="MARK_PRICE"))
    assert rejected(ev) == RejectReason.INVALID_TRIGGER


def test_trailing_stop_sell_trails_the_high_and_fires_after_the_callback(ex, pair):
    a, b = pair
    ex.submit(a, Order.limit("BTCUSDT", "SELL", "1", "50000"))
    ex.submit(b, Order.market("BTCUSDT", "BUY", "1"))
    ex.submit(a, Order.limit("BTCUSDT", "BUY", "1", "50500"))
    ex.submit(b, Order.trailing_stop("BTCUSDT", "SELL", "1", "1", working_type="MARK_PRICE",
                                     reduce_only=True))
    ex.set_mark("BTCUSDT", "50500")
    ex.set_mark("BTCUSDT", "51500")                   # new high: stop at 50,985
    assert "ConditionalOrderTriggered" not in names(ex.set_mark("BTCUSDT", "51000"))
    assert "ConditionalOrderTriggered" in names(ex.set_mark("BTCUSDT", "50900"))
    assert ex.position(b, "BTCUSDT").size == 0


def test_amend_down_keeps_priority_and_up_loses_it(ex, pair):
    a, b = pair
    o1 = events_named(ex.submit(a, Order.limit("BTCUSDT", "SELL", "0.2", "50100")), "OrderAccepted")[0].order_id
    o2 = events_named(ex.submit(b, Order.limit("BTCUSDT", "SELL", "0.2", "50100")), "OrderAccepted")[0].order_id
    ex.amend(a, o1, qty="0.1")
    assert ex.book("BTCUSDT").queue_position(o1) == 0
    ex.amend(a, o1, qty="0.3")
    assert ex.book("BTCUSDT").queue_position(o1) == 200
    assert ex.book("BTCUSDT").queue_position(o2) == 0
    ex.check_invariants()


def test_funding_is_zero_sum_with_the_remainder_in_the_fee_pool(ex, pair):
    a, b = pair
    c = ex.open_account(deposit="100000")
    ex.submit(a, Order.limit("BTCUSDT", "SELL", "0.333", "50000"))
    ex.submit(b, Order.market("BTCUSDT", "BUY", "0.111"))
    ex.submit(c, Order.market("BTCUSDT", "BUY", "0.222"))
    fee_before = ex.core.fee_pool
    ev = ex.settle_funding("BTCUSDT", 10_000)         # 0.01 %: longs pay
    paid = events_named(ev, "FundingPaid")
    assert sum(p.payment_atoms for p in paid) == ex.core.fee_pool - fee_before >= 0
    assert all((p.payment_atoms > 0) == (p.size_lots > 0) for p in paid)
    ex.check_invariants()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_random_orders_at_random_marks_never_break_conservation(data):
    ex = Exchange.from_preset("binance_usdm", overrides={
        "instruments.BTCUSDT.price_band_rate": "0", "instruments.BTCUSDT.min_notional": "0"})
    accts = [ex.open_account(deposit=str(data.draw(st.integers(100, 50_000)))) for _ in range(4)]
    for acct in accts[:2]:
        ex.set_margin_mode(acct, "BTCUSDT", data.draw(st.sampled_from(["cross", "isolated"])))
    ex.set_mark("BTCUSDT", "50000")
    for _ in range(data.draw(st.integers(5, 40))):
        acct = data.draw(st.sampled_from(accts))
        action = data.draw(st.sampled_from(["limit", "market", "cancel", "mark", "reduce", "funding"]))
        side = data.draw(st.sampled_from(["BUY", "SELL"]))
        qty = Decimal(data.draw(st.integers(1, 400))) / 1000
        if action == "limit":
            px = 50000 + data.draw(st.integers(-300, 300))
            ex.submit(acct, Order.limit("BTCUSDT", side, qty, px,
                                        tif=data.draw(st.sampled_from(["GTC", "IOC", "FOK", "GTX"]))))
        elif action == "market":
            ex.submit(acct, Order.market("BTCUSDT", side, qty))
        elif action == "reduce":
            ex.submit(acct, Order.market("BTCUSDT", side, qty, reduce_only=True))
        elif action == "cancel":
            ids = ex.core.open_order_ids(acct)
            if ids:
                ex.cancel(acct, data.draw(st.sampled_from(ids)))
        elif action == "funding":
            ex.settle_funding("BTCUSDT", data.draw(st.integers(-300_000, 300_000)))
        else:
            ex.set_mark("BTCUSDT", 50000 + data.draw(st.integers(-2000, 2000)))
        ex.check_invariants()
    # close everything against a deep-pocketed market maker: realised PnL nets to zero
    mm = ex.open_account(deposit="100000000")
    ex.set_leverage(mm, "BTCUSDT", 1)
    arr = ex.core.arrays()
    for acct in accts:
        size = int(arr["size"][0, acct])
        ex.cancel_all(acct)
        if size:
            price = int(arr["mark"][0])
            ex.core.submit(mm, 0, 0 if size > 0 else 1, abs(size), price, 0, 0, False, 0, 0)
            ex.core.submit(acct, 0, 1 if size > 0 else 0, abs(size), 0, 1, 1, True, 0, 0)
    ex.cancel_all(mm)
    if not np.any(arr["size"][0, :len(accts)]):
        size_mm = int(arr["size"][0, mm])
        assert size_mm == 0
        realised = sum(f.realized_pnl_atoms for f in events_named(ex.events(), "OrderFilled"))
        assert realised == 0
    ex.check_invariants()


def test_event_records_have_no_unnamed_padding_and_pad_is_zero():
    """Every byte of a record is a field, so a journal's bytes (and any copy numpy makes of
    them: concatenation, selection) depend only on its events."""
    from exchange.dtypes import EVENT_DTYPE

    assert sum(dt.itemsize for dt, *_ in EVENT_DTYPE.fields.values()) == EVENT_DTYPE.itemsize
    ex = Exchange.from_preset("binance_usdm")
    a, b = ex.open_account(deposit="100000"), ex.open_account(deposit="100000")
    ex.set_mark("BTCUSDT", "50000")
    ex.submit(a, Order.limit("BTCUSDT", "SELL", "0.001", "50000"))
    ex.submit(b, Order.market("BTCUSDT", "BUY", "0.001"))
    for i in range(20_000):                # undrained: the record buffer grows
        ex.core.emit(90_000 + i % 7, i, 0, a, i, i & 1, i, -i, i, i, i, i & 1)
    journal = ex.journal()
    assert len(journal) > 20_000 and not journal["pad"].any()
