"""Index, oracle and mark price: worked examples from venue-mechanics.md §1, computed by hand."""
from __future__ import annotations

import math

import pytest

from exchange.errors import ConfigError
from exchange.oracle import (
    INDEX_CLAMP_BTC_ETH,
    INDEX_CLAMP_DEFAULT,
    MARK_METHODS,
    NS_PER_S,
    BinanceMark,
    BitMexMark,
    DriftMark,
    DydxMark,
    HyperliquidMark,
    Index,
    IrregularEMA,
    LastPriceMark,
    MarkPriceMethod,
    Oracle,
    div_round_half_even,
    fair_price_ticks,
    index_clamp_for,
    make_mark_method,
    round_half_even,
)
from exchange.sim.sources import ConstantSource, ManipulationFault, ReplaySource

S = NS_PER_S
MIN = 60 * S
H8 = 8 * 3600 * S


class FixedBook:
    """A book reduced to what the mark needs: best bid/ask (None = side empty)."""

    def __init__(self, bid: int | None, ask: int | None) -> None:
        self.bid, self.ask = bid, ask

    def best_bid(self):
        return self.bid

    def best_ask(self):
        return self.ask

    def impact_price(self, side, notional):
        return None


# -- rounding --

def test_rounding_is_half_to_even():
    """2.5 -> 2, 3.5 -> 4; 10000.5 -> 10000; exact rationals 5/2 -> 2, 7/2 -> 4, -5/2 -> -2."""
    assert [round_half_even(x) for x in (2.5, 3.5, -2.5, 10000.5, 10001.5)] == [2, 4, -2, 10000, 10002]
    assert [div_round_half_even(n, 2) for n in (5, 7, -5, -7)] == [2, 4, -2, -4]
    assert div_round_half_even(2, 3) == 1 and div_round_half_even(1, 3) == 0


# -- index --

def test_index_clamps_an_outlier_to_the_median():
    """Sources 100, 101, 110; median 101; clamp 3 %: 110 -> 101·1.03 = 104.03.
    Index = (100 + 101 + 104.03)/3 = 101.67667 -> /0.01 = 10167.667 -> 10168 ticks.
    With the BTC/ETH clamp 1 %: bounds [99.99, 102.01]; 110 -> 102.01, 100 stays;
    (100 + 101 + 102.01)/3 = 101.00333 -> 10100 ticks."""
    sources = [ConstantSource(100.0), ConstantSource(101.0), ConstantSource(110.0)]
    assert Index(sources, tick_size=0.01, clamp_rate=INDEX_CLAMP_DEFAULT).update(0) == 10168
    idx = Index(sources, tick_size=0.01, clamp_rate=INDEX_CLAMP_BTC_ETH)
    assert idx.update(0) == 10100
    assert [c for _, c, _ in idx.components()] == [100.0, 101.0, pytest.approx(102.01)]
    assert index_clamp_for("BTCUSDT") == INDEX_CLAMP_BTC_ETH == 1_000_000


def test_index_weights_are_normalised_over_live_sources():
    """Weights 3, 1 on 100 and 102 (within 3 % of their median 101): (300 + 102)/4 = 100.5
    -> /0.1 = 1005 ticks."""
    idx = Index([ConstantSource(100.0), ConstantSource(102.0)], [3.0, 1.0], tick_size=0.1)
    assert idx.update(0) == 1005


def test_a_source_not_updated_for_five_minutes_gets_weight_zero():
    """A = 100, B = 102 (live), C = 101.5 reported once at t=0. t=0: mean(100, 102, 101.5) =
    101.1667 -> tick 0.1 -> 1011.667 -> 1012. At t = 5 min C's age is exactly 5 min: still live
    (stale means older than 5 min) -> 1012. At 5 min + 1 s C has weight 0: mean(100, 102) = 101
    -> 1010."""
    idx = Index([ConstantSource(100.0), ConstantSource(102.0), ReplaySource([0], [101.5])],
                tick_size=0.1)
    assert idx.update(0) == 1012
    assert idx.update(5 * MIN) == 1012
    assert idx.update(5 * MIN + S) == 1010
    assert idx.components()[2][1] is None
    assert idx.source_age_ns(5 * MIN + S)[2] == 5 * MIN + S


def test_index_is_stale_when_every_source_is_stale():
    idx = Index([ReplaySource([0], [100.0]), ReplaySource([0], [100.0])], tick_size=1.0)
    assert idx.update(0) == 100 and not idx.stale
    assert idx.update(6 * MIN) is None
    assert idx.stale and idx.last_ticks == 100 and idx.ts_last_update_ns == 0


def test_index_rejects_bad_configuration():
    with pytest.raises(ConfigError, match="'weights' must be"):
        Index([ConstantSource(1.0)], [0.0], tick_size=1.0)
    with pytest.raises(ConfigError, match="'sources'"):
        Index([], tick_size=1.0)
    with pytest.raises(ConfigError, match="'clamp_rate'"):
        Index([ConstantSource(1.0)], tick_size=1.0, clamp_rate=0.03)


def test_manipulated_source_is_bounded_by_the_clamp():
    """One of three sources pushed +20 %: it counts as median·1.03 at most:
    (100 + 100 + 103)/3 = 101 -> 101 ticks at tick 1 (not 106.67)."""
    sources = [ConstantSource(100.0), ConstantSource(100.0),
               ManipulationFault(ConstantSource(100.0), 0, 10 * S, change=0.20)]
    assert Index(sources, tick_size=1.0).update(S) == 101


# -- oracle --

def test_oracle_publishes_on_its_cadence_grid():
    """Hyperliquid ~3 s: publishes at 0, 3, 6 s; calls in between publish nothing."""
    oracle = Oracle(Index([ConstantSource(100.0)], tick_size=1.0), 3 * S)
    got = [oracle.update(t * S) for t in range(8)]
    assert got == [100, None, None, 100, None, None, 100, None]
    assert oracle.publish_count == 3 and oracle.ts_last_publish_ns == 6 * S


def test_oracle_min_change_suppresses_small_moves_but_stays_live():
    """dYdX min_price_change_ppm 1000 = 0.1 % (= 100_000 in 1e8): 1000 -> 1000.5 (0.05 %) is not
    published; 1000 -> 1001 (0.1 %) is."""
    src = ReplaySource([0, S, 2 * S], [1000.0, 1000.5, 1001.0])
    oracle = Oracle(Index([src], tick_size=0.5), S, min_change_rate=100_000)
    assert [oracle.update(t * S) for t in range(3)] == [2000, None, 2002]
    assert not oracle.is_stale(2 * S, S)


def test_oracle_goes_stale_when_its_index_does():
    """Index staleness 5 min; the oracle's last live reading is then at 0 and a 60 s limit
    (Drift-style) flags it stale from 60 s + 1 ns after that."""
    oracle = Oracle(Index([ReplaySource([0], [100.0])], tick_size=1.0), S)
    for t in range(0, 7 * 60):
        oracle.update(t * S)
    assert oracle.ts_last_live_ns == 5 * MIN
    assert not oracle.is_stale(6 * MIN, 60 * S)
    assert oracle.is_stale(6 * MIN + 1, 60 * S)


# -- marks --

def test_fair_price_is_binance_p1_and_bitmex_mark():
    """BitMEX: index 50,000, F = 0.03 % (30_000), 2 h until funding of 8 h:
    50,000 · (1 + 0.0003 · 2/8) = 50,003.75 -> 50,004 ticks."""
    assert fair_price_ticks(50_000, 30_000, 2 * 3600 * S, H8) == 50_004
    assert BitMexMark().update(6 * 3600 * S, 50_000, None, None, 30_000, H8, H8) == 50_004
    assert isinstance(BitMexMark(), MarkPriceMethod)


def test_binance_mark_is_the_median_of_p1_p2_and_last():
    """index 10,000; F = 0.01 % (10_000); 4 h to the next funding of 8 h:
    P1 = 10,000 · (1 + 0.0001 · 4/8) = 10,000.5 -> half to even -> 10,000.
    Book 10,009 / 10,011: mid 10,010, basis 10 -> P2 = 10,010. Last 10,020.
    Mark = median(10,000, 10,010, 10,020) = 10,010."""
    m = BinanceMark()
    ts = 4 * 3600 * S
    assert m.update(ts, 10_000, FixedBook(10_009, 10_011), 10_020, 10_000, H8, H8) == 10_010
    assert (m.p1, m.p2) == (10_000, 10_010)


def test_binance_basis_is_a_30_sample_moving_average():
    """31 one-per-second samples with basis 0, 2, 4, …, 60 (mid = index + 2k): the MA keeps the
    last 30 (2..60), mean 31 -> P2 = 1,000 + 31 = 1,031. F = 0 -> P1 = 1,000. Last 1,040:
    median(1,000, 1,031, 1,040) = 1,031. A second call within the same second takes no sample."""
    m = BinanceMark()
    for k in range(31):
        mark = m.update(k * S, 1_000, FixedBook(1_000 + 2 * k - 1, 1_000 + 2 * k + 1), 1_040, 0, H8, H8)
    assert mark == 1_031 and len(m._basis) == 30
    assert m.update(30 * S + S // 2, 1_000, FixedBook(1_500, 1_502), 1_040, 0, H8, H8) == 1_031


def test_binance_mark_falls_back_to_p1_without_a_trade_or_a_two_sided_book():
    """No last trade: median(P1, P2, P1) = P1. One-sided book and no basis sample yet:
    P2 := P1 -> P1 whatever the last price. P1 here = 20,000 (F = 0)."""
    m = BinanceMark()
    assert m.update(0, 20_000, FixedBook(20_100, 20_102), None, 0, H8, H8) == 20_000
    m2 = BinanceMark()
    assert m2.update(0, 20_000, FixedBook(None, 20_102), 25_000, 0, H8, H8) == 20_000
    assert m2.update(S, 20_000, None, 25_000, 0, H8, H8) == 20_000


def test_irregular_ema_matches_the_reference_formula():
    """τ = 150 s; first sample x0 = 10 weighted by the nominal 3 s: num = 30, den = 3, ema = 10.
    x1 = 20 after dt = 3 s: decay e^(-3/150) = 0.9801987; num = 30·0.9801987 + 20·3 = 89.405960,
    den = 3·0.9801987 + 3 = 5.9405960, ema = 15.049998.
    x2 = 40 after dt = 7 s (irregular): decay e^(-7/150) = 0.9544055; num = 89.405960·0.9544055
    + 280 = 365.329538, den = 5.9405960·0.9544055 + 7 = 12.669737, ema = 28.834815."""
    e = IrregularEMA(150 * S, 3 * S)
    assert e.add(0, 10.0) == 10.0
    assert e.add(3 * S, 20.0) == pytest.approx(15.049998333, rel=1e-9)
    assert e.add(10 * S, 40.0) == pytest.approx(28.834815353, rel=1e-9)
    assert (e.num, e.den) == (pytest.approx(365.3295383), pytest.approx(12.6697374))


def test_hyperliquid_mark_on_irregular_publishes():
    """oracle 10,000. Publish at 0: book 10,005/10,015 (mid 10,010, basis 10), last 10,020.
    m1 = 10,000 + 10 = 10,010; m2 = median(10,005, 10,015, 10,020) = 10,015; no m3 -> exactly two
    inputs -> add EMA30(m2) = 10,015: median(10,010, 10,015, 10,015) = 10,015.
    Publish at 7 s (dt 7): book 10,025/10,035 (basis 30): EMA150 = (10·3·e^(-7/150) + 30·7)/
    (3·e^(-7/150) + 7) = (28.632 + 210)/(2.8632 + 7) = 24.194; m1 = 10,024.194.
    m2 = median(10,025, 10,035, 10,020) = 10,025; EMA30(m2) = (10,015·3·e^(-7/30) + 10,025·7)/
    (3·e^(-7/30) + 7) = 10,022.28; median(10,024.19, 10,025, 10,022.28) = 10,024.19 -> 10,024.
    A call at 8 s (before the next 3 s grid time 9 s) returns the same mark."""
    m = HyperliquidMark()
    assert m.update(0, 10_000, FixedBook(10_005, 10_015), 10_020, 0, H8, H8) == 10_015
    d150, d30 = math.exp(-7 / 150), math.exp(-7 / 30)
    ema = (10 * 3 * d150 + 30 * 7) / (3 * d150 + 7)
    ema2 = (10_015 * 3 * d30 + 10_025 * 7) / (3 * d30 + 7)
    assert m.update(7 * S, 10_000, FixedBook(10_025, 10_035), 10_020, 0, H8, H8) == 10_024
    assert m.inputs == pytest.approx((10_000 + ema, 10_025, ema2))
    assert m.update(8 * S, 10_000, FixedBook(11_000, 11_002), 11_001, 0, H8, H8) == 10_024


def test_hyperliquid_mark_with_external_perp_mids_takes_no_extra_ema():
    """m1 = 10,010, m2 = 10,015, m3 = median(10,030, 10,040, 10,050) = 10,040: three inputs,
    median = 10,015."""
    m = HyperliquidMark(external_mids=lambda ts: [10_050, 10_030, 10_040])
    assert m.update(0, 10_000, FixedBook(10_005, 10_015), 10_020, 0, H8, H8) == 10_015
    assert len(m.inputs) == 3


def test_hyperliquid_mark_takes_external_mids_from_price_sources():
    """Sources quoting perp mids in ticks 10,030 / 10,040 / 10,050: same as the callable."""
    srcs = [ConstantSource(10_030.0), ConstantSource(10_040.0), ConstantSource(10_050.0)]
    m = HyperliquidMark(external_mids=srcs)
    assert m.update(0, 10_000, FixedBook(10_005, 10_015), 10_020, 0, H8, H8) == 10_015
    assert m.inputs[2] == 10_040.0
    with pytest.raises(ConfigError, match="'external_mids'"):
        HyperliquidMark(external_mids=[1, 2])


def test_hyperliquid_mark_without_a_book_is_the_oracle():
    """Only m1 exists (EMA term 0 before any two-sided book): mark = oracle."""
    assert HyperliquidMark().update(0, 10_000, FixedBook(None, 10_010), None, 0, H8, H8) == 10_000


def test_oracle_marks_and_last_price_mark():
    assert DydxMark().update(0, 123, FixedBook(1, 2), 5, 0, H8, H8) == 123
    assert DriftMark().update(0, 123, None, None, 0, H8, H8) == 123
    last = LastPriceMark()
    assert last.update(0, 100, FixedBook(101, 104), 99, 0, H8, H8) == 99
    assert last.update(0, 100, FixedBook(101, 104), None, 0, H8, H8) == 102  # mid 102.5 -> 102
    assert last.update(0, 100, None, None, 0, H8, H8) == 100


def test_mark_registry_builds_every_preset_and_rejects_unknown_names():
    for name in MARK_METHODS:
        assert isinstance(make_mark_method(name), MarkPriceMethod)
    assert isinstance(make_mark_method("exchange.oracle:BitMexMark"), BitMexMark)
    assert make_mark_method("binance", window=60).window == 60
    with pytest.raises(ConfigError, match="'mark_method' must be one of") as err:
        make_mark_method("okx")
    assert isinstance(err.value, ValueError)
    with pytest.raises(ConfigError, match="bad parameters"):
        make_mark_method("binance", tau=3)
    with pytest.raises(ConfigError, match="cannot be imported"):
        make_mark_method("exchange.oracle:Nope")


def test_mark_with_the_compiled_book():
    """The matching engine's Book satisfies BookLike: bids 100 x 10, asks 102 x 5 -> mid 101.
    Binance: index 100, F = 0 -> P1 = 100, P2 = 101, last 102 -> 101."""
    matching = pytest.importorskip("matching")
    book = matching.Book()
    book.limit(1, 0, 100, 10)
    book.limit(2, 1, 102, 5)
    assert BinanceMark().update(0, 100, book, 102, 0, H8, H8) == 101
