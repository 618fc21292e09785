"""``socialized``: a deficit charged to profitable positions (BitMEX 2015) or per lot (Drift).

A long of 10 lots at 50,000, 10x (margin 50 USDT), is closed by a market order at 44,000 when
the mark is 45,200: −60 USDT realised leave a deficit of 10 USDT (the liquidation fee is capped
at the equity the fill leaves, nothing here). Shorts
opened at 50,000 hold 10 lots (W1) and 30 lots (W3): profits 48 and 144 USDT at 45,200. The
market maker is long 40 lots, losing.
"""
from __future__ import annotations

import pytest

from exchange.errors import ConfigError
from exchange.liquidation import SocializedModule
from tests.exchange.liquidation.venues import Venue


def _venue(policy: str):
    v = Venue()
    (b,) = v.isolated([10], [10], 50_000)
    (w1,) = v.isolated([-10], [2], 50_000)
    (w3,) = v.isolated([-30], [10], 50_000)
    v.bid(10, 44_000)
    v.engine_for(["market", "socialized"], {"market": {"close_price_limit": "none"},
                                            "socialized": {"policy": policy}})
    return v, b, w1, w3


def test_profit_pro_rata_haircuts_the_winners_profit():
    v, b, w1, w3 = _venue("profit_pro_rata")
    iso1, iso3 = v.iso(w1), v.iso(w3)
    s = v.mark(45_200)
    # 10 USDT over 192 USDT of profit: a 5.2083 % haircut (rate rounded up), 2.5 and 7.5 USDT
    assert s.socialized_atoms == 10_000_000 and s.bad_debt_atoms == 0
    got = v.journal.of("LossSocialized")
    assert got[["acct", "a1", "a2", "a3", "code"]].tolist() == [
        (w1, 2_500_000, 10_000_000, 5_208_334, 1), (w3, 7_500_000, 10_000_000, 5_208_334, 1)]
    assert (v.iso(w1), v.iso(w3)) == (iso1 - 2_500_000, iso3 - 7_500_000)
    assert (v.size(b), v.iso(b), v.wallet(b)) == (0, 0, 0)


def test_position_pro_rata_charges_every_open_position_per_lot():
    v, b, w1, w3 = _venue("position_pro_rata")
    s = v.mark(45_200)
    # 10 USDT over 80 lots (W1 10, W3 30, market maker 40): 0.125 USDT a lot
    got = v.journal.of("LossSocialized")
    assert sorted(got[["acct", "a1"]].tolist()) == sorted(
        [(v.mm, 5_000_000), (w1, 1_250_000), (w3, 3_750_000)])
    assert s.socialized_atoms == 10_000_000


def test_what_the_winners_cannot_pay_is_bad_debt():
    v = Venue()
    (b,) = v.isolated([10], [10], 50_000)
    (w,) = v.isolated([-1], [2], 50_000)                   # 4.8 USDT of profit at 45,200
    v.isolated([1], [2], 50_000)                           # a loser: the market maker ends flat
    v.bid(10, 44_000)
    v.engine_for(["market", "socialized"], {"market": {"close_price_limit": "none"}})
    s = v.mark(45_200)
    assert s.socialized_atoms == 4_800_000 and s.bad_debt_atoms == 5_200_000


def test_close_remainder_closes_first_then_socialises():
    v = Venue()
    (b,) = v.isolated([10], [10], 50_000)
    (w,) = v.isolated([-30], [10], 50_000)
    v.engine_for(["market", "socialized"], {"socialized": {"close_remainder": "market"}})
    v.bid(10, 44_000)
    s = v.mark(45_200)       # the market module's bankruptcy limit 45,000 misses the bid
    assert [int(c) for c in v.journal.of("PositionLiquidated")["code"]] == [5]
    assert s.socialized_atoms == 10_000_000


def test_bad_policy_is_a_config_error():
    with pytest.raises(ConfigError, match="'policy' must be one of"):
        SocializedModule(policy="everyone")
