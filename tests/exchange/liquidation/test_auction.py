"""``auction``: a Dutch auction of the distressed position (MakerDAO Clip).

An isolated long of 10 lots at 50,000, 10x (margin 50 USDT, bankruptcy 45,000), empty book,
mark 45,200. Auction: buf 130 %, stairstep cut 99 % every 90 s, tail 8,400 s, cusp 40 %,
keeper reward 1 USDT + 0.1 % of the tab from the insurance fund.
"""
from __future__ import annotations

import math

import pytest

from exchange.errors import ConfigError, InvalidCommandError
from exchange.liquidation import AuctionModule
from exchange.liquidation.auction import Auction
from tests.exchange.liquidation.venues import USDT, Venue

S = 10**9
T0 = 1_000 * S


def _venue(waterfall=("auction", "insurance"), winners=(), **auction):
    v = Venue(insurance=100 * USDT)
    (a,) = v.isolated([10], [10], 50_000)
    if winners:
        v.isolated(list(winners), [2] * len(winners), 50_000)
    keeper = v.core.open_account()
    bidder = v.core.open_account()
    v.core.deposit(bidder, 10_000 * USDT)
    params = dict(buf_rate=130_000_000, curve="stairstep", cut_rate=99_000_000, step_s=90,
                  tail_s=8_400, cusp_rate=40_000_000, tip_atoms=USDT, chip_rate=100_000,
                  keeper_acct=keeper, max_resets=2)
    params.update(auction)
    v.engine_for(list(waterfall), {"auction": params})
    return v, a, keeper, bidder


def test_a_kick_starts_at_mark_times_buf_and_rewards_the_keeper():
    v, a, keeper, _ = _venue()
    s = v.mark(45_200, ts_ns=T0)
    assert s.pending == 1
    (start,) = v.journal.of("AuctionStarted")[["oid", "acct", "price", "qty", "a1", "a2", "a3"]].tolist()
    # top 45,200 · 1.3 = 58,760; tab 452 USDT; reward 1 + 0.452 USDT
    assert start == (1, a, 58_760, 10, 452 * USDT, 1_452_000, keeper)
    assert v.wallet(keeper) == 1_452_000 and v.core.insurance == 100 * USDT - 1_452_000
    (au,) = v.engine.auctions()
    assert (au["auction_id"], au["price"], au["side"]) == (1, 58_760, 0)


def test_bids_take_at_the_current_price_and_the_sold_case_goes_on_down_the_waterfall():
    v, a, _, bidder = _venue()
    v.mark(45_200, ts_ns=T0)
    v.core.set_time(T0 + 1_800 * S)                       # 20 steps of 90 s
    p1 = math.floor(58_760 * 0.99 ** 20)
    assert v.engine.bid(1, bidder, 4, 49_000) == (4, p1)
    v.core.set_time(T0 + 2_700 * S)                       # 30 steps
    p2 = math.floor(58_760 * 0.99 ** 30)
    assert v.engine.bid(1, bidder, 100, p2) == (6, p2)    # takes what is left
    assert v.size(bidder) == 10 and v.size(a) == 0
    s = v.step(T0 + 2_701 * S)
    settled = v.journal.of("AuctionSettled")[["qty", "a1", "a2", "flag"]].tolist()
    proceeds = (4 * p1 + 6 * p2) * 1_000
    assert settled == [(10, 0, proceeds, 0)]
    # sold above bankruptcy: the rest of the margin is the fund's (surplus_to insurance)
    assert s.insurance_credited_atoms == 50 * USDT + proceeds - 500 * USDT
    assert s.completed == 1 and v.engine.auctions() == []


def test_a_bid_beyond_the_limit_or_without_margin_is_refused():
    v, a, _, bidder = _venue()
    v.mark(45_200, ts_ns=T0)
    assert v.engine.bid(1, bidder, 5, 58_000) == (0, 58_760)     # price above the bid's limit
    poor = v.core.open_account()
    v.core.deposit(poor, USDT)
    assert v.engine.bid(1, poor, 5, 60_000) == (0, 58_760)       # no initial margin
    with pytest.raises(InvalidCommandError, match="'auction_id' must be a running auction"):
        v.engine.bid(99, bidder, 5, 60_000)
    with pytest.raises(InvalidCommandError, match="'account' must not be the liquidated account"):
        v.engine.bid(1, a, 5, 60_000)


def test_a_redo_after_the_cusp_restarts_from_the_mark_and_pays_the_keeper_again():
    v, a, keeper, _ = _venue()
    v.mark(45_200, ts_ns=T0)
    # 0.99^k < 40 % from k = 92 steps (8,280 s), before the tail (8,400 s)
    v.step(T0 + 8_190 * S)                                 # 91 steps: still running
    assert v.journal.of("AuctionReset").size == 0
    v.core.set_mark(0, 45_300)
    v.step(T0 + 8_280 * S)
    (reset,) = v.journal.of("AuctionReset")[["price", "qty", "a1", "a3"]].tolist()
    assert reset == (58_890, 10, 453 * USDT, 1)            # top 45,300 · 1.3, resets 1
    assert v.wallet(keeper) == 1_452_000 + 1_453_000


def test_an_auction_nobody_takes_expires_and_passes_down():
    v, a, _, _ = _venue(waterfall=("auction", "adl"), winners=[-10], max_resets=0)
    v.mark(45_200, ts_ns=T0)
    s = v.step(T0 + 9_000 * S)                             # past the tail, no resets left
    assert v.journal.of("AuctionSettled")[["qty", "a1", "flag"]].tolist() == [(0, 10, 1)]
    assert s.adl_lots == 10 and v.size(a) == 0


def test_a_short_position_is_auctioned_with_the_price_mirrored_around_the_mark():
    v = Venue()
    (a,) = v.isolated([-10], [10], 50_000)
    v.engine_for(["auction"], {"auction": dict(curve="linear", tau_s=100)})
    v.mark(54_800, ts_ns=T0)
    (au,) = v.engine.auctions()
    assert au["side"] == 1 and au["price"] == math.ceil(54_800 * (2 - 1.3))


@pytest.mark.parametrize("curve, t_s, expected", [
    ("linear", 50, 500), ("stairstep", 95, 990), ("exponential", 2, 980)])
def test_price_curves(curve, t_s, expected):
    m = AuctionModule(curve=curve, tau_s=100, cut_rate=99_000_000, step_s=90)
    a = Auction(1, 1, 0, 0, 1, 10, mark0=1000, top=1000, tic_ns=0, kicked_ns=0, tab=0)
    assert m.price(a, t_s * S) == expected


def test_bad_curve_is_a_config_error():
    with pytest.raises(ConfigError, match="'curve' must be one of"):
        AuctionModule(curve="sigmoid")
