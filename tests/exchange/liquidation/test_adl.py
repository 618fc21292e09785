"""``adl``: rankings, execution prices, the optimising allocations, losers never touched.

A bankrupt isolated long of 15 lots at 50,000, 20x (margin 37.5 USDT) meets an empty book at
45,200: equity 37.5 − 72 = −34.5 USDT, bankruptcy price 47,500. The winners are isolated
shorts opened at 50,000 (profit 4.8 USDT per lot at 45,200):

====  =====  ========  ===========================================================
acct  lots   margin    Binance score PnL%·MR · BitMEX PnL%·eff.lev · HL rank
====  =====  ========  ===========================================================
W1    10     250 (2x)  0.192 · 2.26/298 = 0.00146   · 0.096 · 452/298 = 0.146
W2    10     25 (20x)  1.92 · 2.26/73 = 0.0594      · 0.096 · 452/73 = 0.594
W3    30     150 (10x) 0.96 · 6.78/294 = 0.0221     · 0.096 · 1356/294 = 0.443
====  =====  ========  ===========================================================
"""
from __future__ import annotations

import numpy as np
import pytest

from exchange.errors import ConfigError
from exchange.liquidation import AdlModule
from exchange.liquidation import events as ev
from tests.exchange.liquidation.venues import USDT, Venue


def _venue(policy: str, **adl):
    v = Venue()
    (b,) = v.isolated([15], [20], 50_000)
    w1, w2 = v.isolated([-10, -10], [2, 20], 50_000)
    (w3,) = v.isolated([-30], [10], 50_000)
    v.engine_for(["adl"], {"adl": dict(policy=policy, **adl)})
    return v, b, (w1, w2, w3)


def _deleveraged(v):
    d = v.journal.of("PositionDeleveraged")
    return [(int(a), int(q), int(p)) for a, q, p in zip(d["acct"], d["qty"], d["price"])]


@pytest.mark.parametrize("policy", ["binance", "bitmex", "hyperliquid"])
def test_ranked_policies_close_the_bankrupt_position_against_the_top_winners(policy):
    v, b, (w1, w2, w3) = _venue(policy)
    s = v.mark(45_200)
    # W2 ranks first in all three, then W3; 15 lots: all of W2's 10, then 5 of W3's, at the
    # bankruptcy price 47,500
    assert _deleveraged(v) == [(w2, 10, 47_500), (w3, 5, 47_500)]
    assert v.size(b) == 0 and v.size(w2) == 0 and v.size(w3) == -25 and v.size(w1) == -10
    # the haircut versus the mark is exactly the bankrupt deficit: 15·2,300·1,000 = 34.5 USDT
    assert s.adl_haircut_atoms == 34_500_000 and s.bad_debt_atoms == 0
    assert v.journal.of("PositionDeleveraged")["a3"].tolist() == [0, 1]        # ranks


def test_pro_rata_cuts_every_winner_by_the_same_fraction():
    v, b, (w1, w2, w3) = _venue("pro_rata")
    v.mark(45_200)
    # 15 of the winners' 50 lots: 3, 3 and 9
    assert sorted(_deleveraged(v)) == sorted([(w1, 3, 47_500), (w2, 3, 47_500), (w3, 9, 47_500)])


def test_random_starts_somewhere_and_takes_winners_in_account_order():
    v, b, (w1, w2, w3) = _venue("random")
    v.mark(45_200)
    got = _deleveraged(v)
    assert sum(q for _, q, _ in got) == 15
    order = [a for a, _, _ in got]
    ring = [w1, w2, w3]
    start = ring.index(order[0])
    assert order == [ring[(start + j) % 3] for j in range(len(order))]


ALL_POLICIES = ["binance", "bitmex", "bybit", "hyperliquid", "random", "pro_rata", "risk_aware",
                "leverage_drain"]


def _rounds(v):
    return v.journal.of("AdlRoundSettled")


@pytest.mark.parametrize("policy", ALL_POLICIES)
def test_every_policy_resolves_the_whole_bankrupt_position_for_exactly_its_shortfall(policy):
    v, b, winners = _venue(policy)
    s = v.mark(45_200)
    # the bankrupt position is gone (nothing left open at zero equity for the crash to push
    # further under), nothing booked as bad debt, and the haircut is the 34.5 USDT shortfall
    # (the bankruptcy price 47,500 is exact here: no rounding)
    assert v.size(b) == 0 and s.bad_debt_atoms == 0 and s.pending == 0
    (r,) = _rounds(v)
    assert (int(r["acct"]), int(r["qty"]), int(r["a1"])) == (b, 15, 34_500_000)
    # queues close at the one bankruptcy price; the optimising allocations round each
    # winner's haircut up to a whole tick a lot (less than one tick a lot in all)
    assert 0 <= int(r["a2"]) - int(r["a1"]) < 15 * 1_000
    assert s.adl_haircut_atoms == int(r["a2"])
    assert int(r["price"]) == 47_500 and int(r["code"]) == ev.ADL_POLICY_CODES[policy]
    assert int(r["flag"]) == len(v.journal.of("PositionDeleveraged"))
    # the bankrupt account ends at zero equity (plus that rounding): severity was the
    # shortfall, never more
    assert v.iso(b) + v.wallet(b) == int(r["a2"]) - int(r["a1"])


def test_pro_rata_haircuts_every_winner_the_same_share_of_its_profit():
    # winners with different entries: W1 short 10 from 50,000 (profit 48 USDT at 45,200),
    # W2 short 10 from 46,000 (profit 8 USDT). The shortfall 34.5 USDT is split 6 : 1 by
    # profit — 29.571… and 4.928… USDT —, the lots 15 = 8 + 7 by size (largest remainder),
    # each winner at its own price: W1 buys 8 lots at 45,200 + ⌈29,571,429 / 8,000⌉ = 48,897
    v = Venue()
    (b,) = v.isolated([15], [20], 50_000)
    (w1,) = v.isolated([-10], [2], 50_000)
    (w2,) = v.isolated([-10], [2], 46_000)
    v.engine_for(["adl"], {"adl": {"policy": "pro_rata"}})
    s = v.mark(45_200)
    got = dict((a, (q, p)) for a, q, p in _deleveraged(v))
    assert got[w1][0] + got[w2][0] == 15 and v.size(b) == 0
    d = v.journal.of("PositionDeleveraged")
    hair = dict(zip(d["acct"].tolist(), d["a2"].tolist()))
    # within a tick a lot of the exact split (29,571,428.6 and 4,928,571.4 atoms)
    assert abs(hair[w1] - 29_571_429) < got[w1][0] * 1_000
    assert abs(hair[w2] - 4_928_571) < got[w2][0] * 1_000
    # so the same share of profit, up to that rounding (7 lots · 1,000 atoms of 8 USDT)
    assert abs(hair[w1] / 48e6 - hair[w2] / 8e6) < 1e-3
    assert s.bad_debt_atoms == 0 and sum(hair.values()) >= 34_500_000
    (r,) = _rounds(v)
    assert 0 <= int(r["a2"]) - int(r["a1"]) < 15 * 1_000              # rounding excess only


@pytest.mark.parametrize("tilt_rate", [0, 50_000_000, 100_000_000])
def test_risk_aware_tilts_the_haircut_towards_the_levered_winner(tilt_rate):
    # two winners with the same profit (same entry, same size): W1 at 2x (equity 298 USDT on
    # 452 of notional), W2 at 20x (equity 73): pro rata splits the haircut 1 : 1, risk-aware
    # pro rata in the ratio (L2 / L1)^τ
    v = Venue()
    (b,) = v.isolated([15], [20], 50_000)
    (w1,) = v.isolated([-10], [2], 50_000)
    (w2,) = v.isolated([-10], [20], 50_000)
    v.engine_for(["adl"], {"adl": {"policy": "risk_aware", "leverage_tilt_rate": tilt_rate}})
    v.mark(45_200)
    d = v.journal.of("PositionDeleveraged")
    hair = dict(zip(d["acct"].tolist(), d["a2"].tolist()))
    tau = tilt_rate / 1e8
    want = ((452 / 73) / (452 / 298)) ** tau
    assert abs(hair[w2] / hair[w1] - want) < 0.01 * want
    assert sum(hair.values()) >= 34_500_000 and v.size(b) == 0


def test_risk_aware_tilt_is_checked():
    with pytest.raises(ConfigError, match="leverage_tilt_rate"):
        AdlModule(policy="risk_aware", leverage_tilt_rate=-1)


def test_leverage_drain_reduces_the_most_levered_winner_first():
    # W2 (20x, 10 lots) is the most levered: at the bankruptcy price each of its lots costs
    # 2.3 USDT of haircut from 73 USDT of equity; leverage draining takes all 10 of its lots
    # (leaving it flat) before W3 (10x, 30 lots) and never touches W1 (2x)
    v, b, (w1, w2, w3) = _venue("leverage_drain")
    s = v.mark(45_200)
    got = dict((a, q) for a, q, _ in _deleveraged(v))
    assert v.size(b) == 0 and s.bad_debt_atoms == 0
    assert got.get(w1, 0) == 0 and got[w2] >= 5
    (r,) = _rounds(v)
    # the leverage left is the optimum of the brute force over every split of the 15 lots
    m = 45_200 * 1_000
    eqs = {w1: 250 * USDT + 10 * 4_800_000, w2: 25 * USDT + 10 * 4_800_000,
           w3: 150 * USDT + 30 * 4_800_000}
    sizes = {w1: 10, w2: 10, w3: 30}
    per = 2_300 * 1_000

    def lev(a, x):
        return 0.0 if x == sizes[a] else (sizes[a] - x) * m / (eqs[a] - x * per)
    best = min(max(lev(w1, x1), lev(w2, x2), lev(w3, 15 - x1 - x2))
               for x1 in range(11) for x2 in range(11) if 0 <= 15 - x1 - x2 <= 30)
    assert abs(int(r["a3"]) / 1e8 - best) < 1e-6


def test_previous_mark_excess_haircut_is_measured_per_round():
    v, b, _ = _venue("hyperliquid", price="previous_mark", only_bankrupt=True)
    v.mark(47_800)
    v.mark(45_200)
    (r,) = _rounds(v)
    # shortfall 34.5 USDT, haircut 15 · 2,600 · 1,000 = 39 USDT: 4.5 USDT of excess
    assert int(r["price"]) == 47_800
    assert (int(r["a1"]), int(r["a2"])) == (34_500_000, 39_000_000)


@pytest.mark.parametrize("policy", ["pro_rata", "risk_aware", "leverage_drain"])
def test_optimising_policies_take_the_previous_mark_severity_too(policy):
    v, b, _ = _venue(policy, price="previous_mark", only_bankrupt=True)
    v.mark(47_800)
    s = v.mark(45_200)
    (r,) = _rounds(v)
    assert v.size(b) == 0 and s.bad_debt_atoms == 0
    assert int(r["a1"]) == 34_500_000 and 39_000_000 <= int(r["a2"]) < 39_000_000 + 15 * 1_000


def test_a_losing_position_is_never_deleveraged():
    v = Venue()
    (b,) = v.isolated([15], [20], 50_000)
    (loser,) = v.isolated([-100], [2], 44_000)             # short from 44,000: losing at 45,200
    (w,) = v.isolated([-10], [2], 50_000)
    v.engine_for(["adl"], {"adl": {"policy": "binance"}})
    s = v.mark(45_200)
    assert [a for a, _, _ in _deleveraged(v)] == [w]
    assert v.size(loser) == -100
    # the only winner had 10 lots: 5 of the bankrupt lots stay open, at a deficit that is
    # booked to bad debt so nothing is left negative
    assert v.size(b) == 5 and s.pending == 1 and s.bad_debt_atoms > 0


def test_previous_mark_price_for_hyperliquid():
    v, b, (w1, w2, w3) = _venue("hyperliquid", price="previous_mark", only_bankrupt=True)
    v.mark(47_800)                                          # above the liquidation price 47,738
    v.mark(45_200)
    # closed at the previous mark 47,800: 2,600 ticks a lot above the mark, 39 USDT for a
    # 34.5 USDT deficit: the bankrupt account keeps 4.5 USDT (HL: the rest is the trader's)
    assert _deleveraged(v) == [(w2, 10, 47_800), (w3, 5, 47_800)]
    assert v.wallet(b) == 4_500_000 and v.core.bad_debt == 0


def test_only_bankrupt_leaves_a_solvent_distressed_position_alone():
    v = Venue()
    (b,) = v.isolated([15], [20], 50_000)
    v.isolated([-10], [2], 50_000)
    v.engine_for(["adl"], {"adl": {"policy": "binance", "only_bankrupt": True}})
    s = v.mark(47_600)                                     # below MM, equity still > 0
    assert s.triggered == 1 and s.adl_lots == 0 and s.pending == 1


def test_the_bankruptcy_price_applies_even_beyond_a_winners_entry():
    # the winner shorted at 46,000 (2x: 345 USDT of margin); the bankrupt's price 47,500
    # makes it realise −22.5 USDT on the lots, as on the venues; its equity stays positive
    v = Venue()
    (b,) = v.isolated([15], [20], 50_000)
    (w,) = v.isolated([-15], [2], 46_000)
    v.engine_for(["adl"], {"adl": {"policy": "binance"}})
    s = v.mark(45_200)
    assert _deleveraged(v) == [(w, 15, 47_500)]
    assert s.bad_debt_atoms == 0 and v.wallet(w) == 345 * USDT - 22_500_000


def test_no_winner_is_pushed_below_zero():
    # a 100x short from 46,000 has 6.9 + 12 = 18.9 USDT of equity, 1,260 ticks a lot: it
    # buys back at 45,200 + 1,260 = 46,460 at most; the bankrupt keeps the rest of its
    # deficit, (47,500 − 46,460)·15 lots = 15.6 USDT, as bad debt
    v = Venue()
    (b,) = v.isolated([15], [20], 50_000)
    (w,) = v.isolated([-15], [100], 46_000)
    v.engine_for(["adl"], {"adl": {"policy": "binance"}})
    s = v.mark(45_200)
    assert _deleveraged(v) == [(w, 15, 46_460)]
    assert s.bad_debt_atoms == 15_600_000
    assert v.wallet(w) == 6_900_000 + (46_000 - 46_460) * 15 * 1_000 >= 0


def test_a_short_bankrupt_is_deleveraged_against_long_winners():
    v = Venue()
    (b,) = v.isolated([-15], [20], 50_000)
    (w,) = v.isolated([20], [2], 50_000)
    v.engine_for(["adl"], {"adl": {"policy": "bitmex"}})
    s = v.mark(54_800)
    # short 15 lots, 37.5 USDT margin: bankruptcy 52,500
    assert _deleveraged(v) == [(w, 15, 52_500)]
    assert v.size(b) == 0 and v.size(w) == 5 and s.bad_debt_atoms == 0
    assert v.journal.of("PositionDeleveraged")["side"].tolist() == [0]      # a long winner


def test_unknown_policy_is_a_config_error():
    with pytest.raises(ConfigError, match="'policy' must be one of"):
        AdlModule(policy="oldest_first")
    with pytest.raises(ConfigError, match="'price' must be one of"):
        AdlModule(price="vwap")


def test_match_pairs_two_queues():
    from exchange.liquidation.adl import _match, _pro_rata
    bi, wi, lots = _match(np.array([5, 3]), np.array([2, 2, 10]))
    assert list(zip(bi.tolist(), wi.tolist(), lots.tolist())) == [(0, 0, 2), (0, 1, 2), (0, 2, 1), (1, 2, 3)]
    assert _pro_rata(7, np.array([5, 5, 5])).tolist() == [3, 2, 2]
    assert USDT == 10**6


@pytest.mark.parametrize("policy", ["binance", "pro_rata", "leverage_drain"])
def test_a_case_without_a_deficit_is_deleveraged_at_the_mark_with_no_haircut(policy):
    # below maintenance at 47,600 but still solvent (equity 37.5 − 36 = 1.5 USDT): severity 0,
    # so no haircut and the trader keeps its 1.5 USDT (it is not handed to the winner)
    v = Venue()
    (b,) = v.isolated([15], [20], 50_000)
    (w,) = v.isolated([-10], [2], 50_000)
    (w2,) = v.isolated([-10], [20], 50_000)
    v.engine_for(["adl"], {"adl": {"policy": policy}})
    s = v.mark(47_600)
    assert v.size(b) == 0 and s.adl_haircut_atoms == 0
    assert {p for _, _, p in _deleveraged(v)} == {47_600}
    assert v.iso(b) + v.wallet(b) == 1_500_000
    (r,) = _rounds(v)
    assert int(r["a1"]) == 0 and int(r["a2"]) == 0


@pytest.mark.parametrize("policy", ["binance", "bitmex", "hyperliquid"])
def test_adl_quantiles_follow_the_queue_the_module_then_takes(policy):
    """The quantile a trader is shown (Binance's adlQuantile) is the queue the round uses:
    at 49,000 (nobody liquidated) W2 4, W3 3, W1 1 (ranks 0, 1, 2 of 3 shorts: 4 − ⌊5r/3⌋),
    the losing long 0; at 45,200 the round then takes W2 first and W3 next."""
    v, b, (w1, w2, w3) = _venue(policy)
    v.core.set_mark(0, 49_000, 0)
    q = v.engine.adl_quantiles(0)
    assert (q[w2], q[w3], q[w1], q[b]) == (4, 3, 1, 0)
    v.mark(45_200)
    assert [a for a, _, _ in _deleveraged(v)] == [w2, w3]


@pytest.mark.parametrize("policy, expected", [("pro_rata", 4), ("risk_aware", 4), ("random", 2)])
def test_adl_quantiles_without_a_queue_are_the_same_for_every_winner(policy, expected):
    v, b, winners = _venue(policy)
    v.core.set_mark(0, 49_000, 0)
    q = v.engine.adl_quantiles(0)
    assert [int(q[w]) for w in winners] == [expected] * 3 and q[b] == 0


def test_adl_quantiles_of_leverage_drain_put_the_most_levered_first_and_none_without_adl():
    v, b, (w1, w2, w3) = _venue("leverage_drain")
    v.core.set_mark(0, 49_000, 0)
    q = v.engine.adl_quantiles(0)
    assert (q[w2], q[w3], q[w1]) == (4, 3, 1)        # 20x, 10x, 2x
    v2, b2, winners = _venue("binance")
    v2.engine_for(["market"])
    assert not v2.engine.adl_quantiles(0).any()
