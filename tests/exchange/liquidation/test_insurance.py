"""``insurance``: deficits paid, surpluses received, the fund's unwind, caps.

One isolated long: 10 lots (0.01 BTC) at 50,000, 10x: margin 50 USDT, liquidation price
45,226, bankruptcy price 45,000; the mark falls to 45,200. Liquidation fee 1 %.
"""
from __future__ import annotations

import pytest

from exchange.errors import ConfigError
from exchange.liquidation import InsuranceModule
from tests.exchange.liquidation.venues import USDT, Venue


def _venue(fund: int, bid_price: int | None, **insurance):
    v = Venue(insurance=fund)
    (a,) = v.isolated([10], [10], 50_000)
    if bid_price:
        v.bid(10, bid_price)
    v.engine_for(["market", "insurance"], {"insurance": insurance})
    return v, a


def test_a_fee_beyond_the_margin_left_is_capped_and_the_fund_pays_nothing_back():
    v, a = _venue(100 * USDT, 45_150)
    s = v.mark(45_200)
    # sold @ 45,150 (bankruptcy 45,000): −48.5 USDT realised leaves 1.5 USDT; the 4.515 USDT
    # fee is capped at that (item 5 of issue 10: the venues charge the fee only down to zero)
    assert s.fees_atoms == 1_500_000
    assert s.insurance_paid_atoms == 0 and s.bad_debt_atoms == 0
    assert v.journal.of("InsuranceFundUsed").size == 0
    assert v.core.insurance == 101_500_000
    assert (v.size(a), v.iso(a), v.wallet(a)) == (0, 0, 0)


def test_the_fund_pays_a_deficit_realised_below_bankruptcy():
    v = Venue(insurance=100 * USDT)
    (a,) = v.isolated([10], [10], 50_000)
    v.bid(10, 44_000)
    v.engine_for(["market", "insurance"], {"market": {"close_price_limit": "none"}})
    s = v.mark(45_200)
    # sold @ 44,000 by a market order: −60 USDT realised → −10 USDT; no fee (nothing left);
    # the fund pays the 10 USDT
    assert s.fees_atoms == 0 and s.insurance_paid_atoms == 10 * USDT and s.bad_debt_atoms == 0
    used = v.journal.of("InsuranceFundUsed")
    assert used[["acct", "a1", "a2", "a3", "flag"]].tolist() == [(a, 10 * USDT, 90 * USDT, 0, 0)]
    assert v.core.insurance == 90 * USDT
    assert (v.size(a), v.iso(a), v.wallet(a)) == (0, 0, 0)


def test_a_surplus_goes_to_the_fund_on_binance():
    v, a = _venue(0, 45_500, surplus_to="insurance")
    s = v.mark(45_200)
    # sold @ 45,500: 50 − 45 − 4.55 = 0.45 USDT left: the clearance fee
    assert s.insurance_credited_atoms == 450_000 and v.wallet(a) == 0
    assert v.core.insurance == 4_550_000 + 450_000
    assert v.journal.of("InsuranceFundCredited")[["acct", "a1", "a2"]].tolist() == \
        [(a, 450_000, 5_000_000)]


def test_a_surplus_stays_with_the_trader_on_dydx_and_hyperliquid():
    v, a = _venue(0, 45_500, surplus_to="trader")
    s = v.mark(45_200)
    assert s.insurance_credited_atoms == 0 and v.wallet(a) == 450_000
    assert v.journal.of("LiquidationCompleted")["a1"].tolist() == [450_000]


def test_a_cap_per_case_sends_the_rest_to_bad_debt():
    v = Venue(insurance=100 * USDT)
    v.isolated([10], [10], 50_000)
    v.bid(10, 44_000)
    v.engine_for(["market", "insurance"], {"market": {"close_price_limit": "none"},
                                           "insurance": {"cap_per_case_atoms": USDT}})
    s = v.mark(45_200)
    # the 10 USDT deficit of the fill @ 44,000: 1 USDT from the fund, 9 USDT bad debt
    assert s.insurance_paid_atoms == USDT and s.bad_debt_atoms == 9 * USDT
    assert v.core.bad_debt == -9 * USDT


def test_the_fund_unwinds_what_the_book_left_when_it_can_guarantee_the_loss():
    # no bid at or above bankruptcy; a bid at 44,000 within the fund's 5 % unwind limit
    # (42,940); worst loss at the limit 20.6 + 4.294 USDT fee, the fund holds 100 USDT
    v, a = _venue(100 * USDT, 44_000)
    s = v.mark(45_200)
    assert s.closed_lots == 10 and v.size(a) == 0
    liq = v.journal.of("PositionLiquidated")
    assert liq[["price", "qty", "code"]].tolist() == [(44_000, 10, 4)]     # code 4: insurance
    # sold @ 44,000: −60 USDT, −10 USDT left, so no fee (capped at zero): the fund pays
    # 10 USDT; 100 − 10 = 90
    assert s.insurance_paid_atoms == 10 * USDT and s.fees_atoms == 0
    assert v.core.insurance == 90 * USDT


def test_the_fund_does_not_unwind_what_it_could_not_pay_for():
    # the worst loss at the unwind limit (24.894 USDT) is more than the fund's 20 USDT
    v, a = _venue(20 * USDT, 44_000, cover_open=False)
    s = v.mark(45_200)
    assert s.closed_lots == 0 and s.pending == 1 and v.core.insurance == 20 * USDT


def test_the_per_step_loss_limit_binds_the_unwind_too():
    v, a = _venue(100 * USDT, 44_000, max_loss_per_step_atoms=10 * USDT, cover_open=False)
    s = v.mark(45_200)
    assert s.closed_lots == 0 and s.pending == 1


def test_an_open_deficit_is_covered_at_the_mark_before_adl():
    # book empty, equity at 44,000 is 50 − 60 = −10 USDT: the fund pays it into the bucket,
    # then ADL closes the position at its new bankruptcy price, the mark: no haircut
    v = Venue(insurance=100 * USDT)
    (a,) = v.isolated([10], [10], 50_000)
    (w,) = v.isolated([-10], [10], 50_000)
    v.engine_for(["market", "insurance", "adl"], {"insurance": {"unwind": False}})
    s = v.mark(44_000)
    assert s.insurance_paid_atoms == 10 * USDT
    assert s.adl_lots == 10 and s.adl_haircut_atoms == 0
    assert v.journal.of("PositionDeleveraged")[["acct", "price", "qty", "a1"]].tolist() == \
        [(w, 44_000, 10, a)]
    assert v.journal.of("InsuranceFundUsed")["flag"].tolist() == [1]


def test_bad_parameters_name_the_field():
    with pytest.raises(ConfigError, match="'surplus_to' must be one of"):
        InsuranceModule(surplus_to="charity")
    with pytest.raises(ConfigError, match="'cap_per_case_atoms' must be an int >= 0"):
        InsuranceModule(cap_per_case_atoms=-1)
