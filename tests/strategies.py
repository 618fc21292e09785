"""Hypothesis strategies of the project: every property test draws its inputs from here.

Order book commands live in a narrow price band (95..105 ticks) with a small pool of order
ids and owners, so orders cross, stack on the same levels, collide on ids and trade with
their own owner often: the interesting paths of a matching engine, reached in a few steps.
"""
from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from matching.codes import (BUY, FOK, GTC, IOC, POST_ONLY, SELL, STP_EXPIRE_BOTH,
                            STP_EXPIRE_MAKER, STP_EXPIRE_TAKER, STP_NONE)
from matching.reference import DEFAULT_MAX_LEVELS, MSG_ADD, MSG_CANCEL, MSG_DTYPE, MSG_MARKET

INT64_MIN = -(1 << 63)
INT64_MAX = (1 << 63) - 1

# -- order book: the pieces of a command --

PRICE_LOW, PRICE_HIGH = 95, 105

sides = st.sampled_from([BUY, SELL])
prices = st.integers(PRICE_LOW, PRICE_HIGH)
quantities = st.integers(1, 6)
market_quantities = st.integers(1, 15)
amend_quantities = st.integers(1, 8)
tifs = st.sampled_from([GTC, IOC, FOK, POST_ONLY])
stp_modes = st.sampled_from([STP_NONE, STP_EXPIRE_TAKER, STP_EXPIRE_MAKER, STP_EXPIRE_BOTH])
owners = st.sampled_from([0, 1, 2])  # 0 is anonymous: self-trade prevention never applies
protect_prices = st.one_of(st.just(0), prices)  # 0 = no protection
amend_prices = st.one_of(st.just(0), prices)  # 0 = keep the price
# mostly a small pool (duplicates, reuse after a fill), sometimes the int64 extremes
order_ids = st.one_of(st.integers(1, 30), st.sampled_from([0, -1, INT64_MIN, INT64_MAX]))
# the default window almost never binds; a few ticks does, all the time
max_levels = st.one_of(st.just(DEFAULT_MAX_LEVELS), st.integers(1, 12))
notionals = st.integers(1, 5_000)

# -- order book: whole commands, as (method name, keyword arguments) --

limit_args = st.fixed_dictionaries(
    {"oid": order_ids, "side": sides, "price": prices, "qty": quantities, "tif": tifs,
     "owner": owners, "stp": stp_modes})
market_args = st.fixed_dictionaries(
    {"oid": order_ids, "side": sides, "qty": market_quantities,
     "protect_price": protect_prices, "owner": owners, "stp": stp_modes})
amend_args = st.fixed_dictionaries(
    {"oid": order_ids, "qty": amend_quantities, "price": amend_prices})
cancel_args = st.fixed_dictionaries({"oid": order_ids})

book_commands = st.one_of(
    st.tuples(st.just("limit"), limit_args),
    st.tuples(st.just("limit"), limit_args),  # twice: limits are what builds a book
    st.tuples(st.just("market"), market_args),
    st.tuples(st.just("cancel"), cancel_args),
    st.tuples(st.just("amend"), amend_args),
)

# Malformed calls: each breaks exactly one rule, so both books must raise InvalidOrderError.
_VALID_LIMIT = {"oid": 1, "side": BUY, "price": 100, "qty": 1, "tif": GTC, "owner": 0,
                "stp": STP_NONE}
_VALID_MARKET = {"oid": 1, "side": SELL, "qty": 1, "protect_price": 0, "owner": 0,
                 "stp": STP_NONE}
_VALID_AMEND = {"oid": 1, "qty": 1, "price": 0}
_BAD_VALUES = {
    "oid": [1.5, True, INT64_MAX + 1, "7"],
    "side": [2, -1, True],
    "price": [0, -100, 100.0, INT64_MAX + 1],
    "qty": [0, -3, 2.5, INT64_MAX + 1],
    "tif": [4, -1],
    "owner": [1.0, False, INT64_MIN - 1],
    "stp": [4, -1],
    "protect_price": [-1, INT64_MAX + 1],
}
_BAD_AMEND_VALUES = {"oid": [1.5, True], "qty": [0, -2], "price": [-1, 2.0]}


def _one_bad_argument(method: str, valid: dict, bad_values: dict):
    fields = [field for field in valid if field in bad_values]
    return st.sampled_from(fields).flatmap(
        lambda field: st.sampled_from(bad_values[field]).map(
            lambda value: (method, {**valid, field: value})))


invalid_commands = st.one_of(
    _one_bad_argument("limit", _VALID_LIMIT, _BAD_VALUES),
    _one_bad_argument("market", _VALID_MARKET, _BAD_VALUES),
    _one_bad_argument("amend", _VALID_AMEND, _BAD_AMEND_VALUES),
)

# -- order book: batches of the standard stream's records (MSG_DTYPE) --

batch_order_ids = st.one_of(st.integers(1, 30), st.sampled_from([-1, INT64_MIN, INT64_MAX]))

_add_records = st.tuples(st.just(MSG_ADD), sides, quantities, batch_order_ids, prices)
_market_records = st.tuples(st.just(MSG_MARKET), sides, market_quantities, batch_order_ids,
                            st.sampled_from([0, 0, 1, 10**6]))  # a market's price is ignored
# a cancel's side, qty and price are ignored: mostly 0 as in the stream, sometimes junk
_cancel_records = st.tuples(st.just(MSG_CANCEL), st.sampled_from([0, 0, 1, 255]),
                            st.sampled_from([0, 0, 5]), batch_order_ids,
                            st.sampled_from([0, 0, -7, 100]))


@st.composite
def msg_batches(draw, max_size: int = 40) -> np.ndarray:
    """A valid batch for ``process``: ADD, CANCEL (of resting or unknown ids) and MARKET."""
    records = draw(st.lists(
        st.one_of(_add_records, _add_records, _cancel_records, _market_records),
        max_size=max_size))
    msgs = np.zeros(len(records), MSG_DTYPE)
    for index, (kind, side, qty, oid, price) in enumerate(records):
        msgs[index] = (kind, side, 0, qty, oid, price)
    return msgs


# =============================================================================================
# -- exchange.funding: funding settlement on struct-of-arrays positions --
# (sizes up to 1e6 lots, prices up to 1e7 ticks, 1e4 atoms per tick·lot, rates up to ±10 % per
#  interval: notionals up to 1e17 atoms, well inside the kernel's int64 bounds)

FUNDING_MAX_LOTS = 10**6

funding_rates = st.one_of(st.integers(-10**7, 10**7), st.sampled_from([0, 1, -1, 10_000, -10_000]))
funding_prices = st.integers(1, 10**7)  # ticks
atoms_per_tick_lots = st.integers(1, 10**4)
funding_index_deltas = st.integers(-10**15, 10**15)  # FundingIndex units: atoms / 1e8 per lot


@st.composite
def balanced_positions(draw, max_size: int = 50, max_lots: int = FUNDING_MAX_LOTS) -> np.ndarray:
    """Signed int64 sizes (longs > 0, shorts < 0, some flat) that net to zero, as the open
    positions of one market do: balancing positions are appended, each within ``max_lots``."""
    sizes = draw(st.lists(st.one_of(st.integers(-max_lots, max_lots), st.just(0),
                                    st.integers(-3, 3)), min_size=1, max_size=max_size))
    net = sum(sizes)
    while net:
        step = max(-max_lots, min(max_lots, -net))
        sizes.append(step)
        net += step
    order = draw(st.permutations(range(len(sizes))))
    return np.array([sizes[i] for i in order], dtype=np.int64)


# =============================================================================================
# -- exchange.instruments / exchange.margin: tier tables, instrument grids, positions --
# (money in atoms of a 6-decimal settlement asset; tier floors are whole multiples of 100 units,
#  so every cum step floor·ΔMMR/1e8 is a whole number of atoms, as in real tables)

from exchange.instruments import InstrumentSpec, make_tiers  # noqa: E402
from exchange.units import RATE_SCALE  # noqa: E402

SETTLE_UNIT = 10**6  # atoms per unit of the settlement asset (USDT/USDC)

tick_sizes = st.sampled_from(["1", "0.5", "0.1", "0.01"])
lot_sizes = st.sampled_from(["1", "0.01", "0.001", "0.0001"])
mmr_rates = st.integers(1_000, 5_000_000)  # 0.001 % .. 5 %


@st.composite
def tier_tables(draw, max_tiers: int = 6):
    """A valid margin tier table: floors from 0 up in 100-unit steps, MMR non-decreasing (at
    most 60 %), max leverage non-increasing with ``MMR·max_leverage < 1``, cum by the rule."""
    n = draw(st.integers(1, max_tiers))
    floors = [0]
    for _ in range(n - 1):
        floors.append(floors[-1] + draw(st.integers(1, 10**6)) * 100 * SETTLE_UNIT)
    mmrs = [draw(mmr_rates)]
    for _ in range(n - 1):
        mmrs.append(min(mmrs[-1] + draw(st.integers(0, 10_000_000)), 60_000_000))
    levs: list[int] = []
    for mmr in mmrs:
        hi = min(levs[-1] if levs else 200, (RATE_SCALE - 1) // mmr)
        levs.append(draw(st.integers(1, hi)))
    return make_tiers(zip(floors, mmrs, levs))


@st.composite
def instrument_specs(draw, tiers=None):
    """An InstrumentSpec on a random (always exact) grid with a random tier table."""
    return InstrumentSpec(
        symbol="TESTUSDT", base="TEST", quote="USDT", settle="USDT",
        tick_size=draw(tick_sizes), lot_size=draw(lot_sizes), max_order_lots=10**9,
        max_market_lots=10**8, maker_fee_rate=draw(st.integers(-10_000, 20_000)),
        taker_fee_rate=draw(st.integers(20_000, 100_000)),
        tiers=draw(tiers if tiers is not None else tier_tables()))


@st.composite
def isolated_positions(draw, spec: InstrumentSpec):
    """``(size_lots, entry_ticks, wallet_atoms)`` of an isolated position opened at a leverage
    its tier allows (wallet = initial margin, plus up to as much again), long or short."""
    lots = draw(st.integers(1, 10**6))
    entry = draw(st.integers(1, 10**7))
    notional = spec.notional_atoms(entry, lots)
    leverage = draw(st.integers(1, spec.max_leverage_for(notional)))
    im = -(-notional // leverage)
    wallet = im + draw(st.integers(0, im))
    side = draw(st.sampled_from([1, -1]))
    return side * lots, entry, wallet


# =============================================================================================
# -- exchange.liquidation: trigger-price kernels, distressed venues, random waterfalls --
# (the default test instrument of tests/exchange/liquidation/venues.py: tick 1, lot 0.001, one
#  tick·lot = 1,000 atoms; positions of 1–60 lots at prices near 50,000, so notionals are tens
#  to thousands of USDT and every path of the waterfall is reached with a handful of accounts)

@st.composite
def trigger_price_inputs(draw, max_size: int = 50):
    """Arguments of ``trigger_prices``: positions (signed lots) with the isolated-margin form
    ``base = margin − size·entry·k`` (margin from a leverage the tier table allows, plus or
    minus a random amount), an extra maintenance term of cross accounts, a tier table and a
    threshold percent."""
    tiers = draw(tier_tables(max_tiers=4))
    floors = np.array([t.notional_floor_atoms for t in tiers], np.int64)
    mmrs = np.array([t.mmr for t in tiers], np.int64)
    cums = np.array([t.maintenance_amount_atoms for t in tiers], np.int64)
    k = draw(st.integers(1, 10**4))
    n = draw(st.integers(1, max_size))
    size = np.array(draw(st.lists(st.integers(1, 10**4), min_size=n, max_size=n)), np.int64)
    size *= np.array(draw(st.lists(st.sampled_from([1, -1]), min_size=n, max_size=n)), np.int64)
    entry = np.array(draw(st.lists(st.integers(1, 10**6), min_size=n, max_size=n)), np.int64)
    lev = np.array(draw(st.lists(st.integers(1, 200), min_size=n, max_size=n)), np.int64)
    notional = np.abs(size) * entry * k
    margin = -(-notional // lev)
    shift = np.array(draw(st.lists(st.integers(-10**9, 10**9), min_size=n, max_size=n)), np.int64)
    base = margin + shift - size * entry * k
    extra = np.array(draw(st.lists(st.one_of(st.just(0), st.integers(0, 10**9)), min_size=n,
                                   max_size=n)), np.int64)
    pct = draw(st.sampled_from([100, 100, 80, 50, 37]))
    return size, base, extra, k, floors, mmrs, cums, pct


LIQ_ENTRY = 50_000            # ticks of the liquidation test instrument

liq_modules = st.sampled_from(["market", "auction", "backstop", "insurance", "socialized", "adl"])


@st.composite
def waterfall_params(draw, name: str) -> dict:
    """Random but valid parameters of one waterfall module (the backstop's vault is added by
    the test, which opens it)."""
    if name == "market":
        partial = draw(st.sampled_from(["none", "tier_step_down", "fraction", "per_block",
                                        "shortfall"]))
        p = dict(close_order=draw(st.sampled_from(["ioc", "fok", "market"])),
                 close_price_limit=draw(st.sampled_from(["bankruptcy", "none", "dydx_fillable",
                                                         "oracle_fee"])),
                 fee_in_limit=draw(st.booleans()), partial=partial,
                 slippage_rate=draw(st.sampled_from([0, 5_000_000, 20_000_000])),
                 liquidator_fee_rate=draw(st.sampled_from([0, 1_000_000])))
        if partial in ("fraction", "per_block"):
            p.update(fraction_rate=draw(st.sampled_from([10_000_000, 50_000_000])),
                     threshold_notional_atoms=draw(st.sampled_from([0, 200 * 10**6])),
                     cooldown_ms=draw(st.sampled_from([0, 30_000])),
                     cooldown_full_size=draw(st.booleans()),
                     min_notional_atoms=draw(st.sampled_from([0, 100 * 10**6])),
                     max_notional_per_step_atoms=draw(st.sampled_from([0, 1_000 * 10**6])),
                     step_ms=1_000)
        if partial == "shortfall":
            p.update(duration_ms=60_000, initial_fraction_rate=25_000_000,
                     full_below_shortfall_atoms=draw(st.sampled_from([0, 5 * 10**6])))
        return p
    if name == "insurance":
        return dict(surplus_to=draw(st.sampled_from(["insurance", "trader"])),
                    unwind=draw(st.booleans()), cover_open=draw(st.booleans()),
                    cap_per_case_atoms=draw(st.sampled_from([0, 20 * 10**6])),
                    max_loss_per_step_atoms=draw(st.sampled_from([0, 50 * 10**6])))
    if name == "adl":
        return dict(policy=draw(st.sampled_from(["binance", "bitmex", "hyperliquid", "random",
                                                 "pro_rata", "risk_aware", "leverage_drain",
                                                 "bybit"])),
                    price=draw(st.sampled_from(["bankruptcy", "previous_mark", "oracle"])),
                    only_bankrupt=draw(st.booleans()))
    if name == "socialized":
        return dict(policy=draw(st.sampled_from(["profit_pro_rata", "position_pro_rata"])),
                    close_remainder=draw(st.sampled_from(["none", "market"])),
                    cover_open=draw(st.booleans()))
    if name == "backstop":
        return dict(price=draw(st.sampled_from(["bankruptcy", "mark"])),
                    trigger_rate=draw(st.sampled_from([0, 66_666_667])),
                    take_margin=draw(st.booleans()), cover_deficit=draw(st.booleans()))
    if name == "auction":
        return dict(curve=draw(st.sampled_from(["linear", "stairstep", "exponential"])),
                    tau_s=60, step_s=10, cut_rate=draw(st.sampled_from([90_000_000, 99_000_000])),
                    tail_s=draw(st.sampled_from([30, 120])), cusp_rate=40_000_000,
                    max_resets=draw(st.integers(0, 2)), deadline_s=draw(st.sampled_from([0, 90])),
                    tip_atoms=draw(st.sampled_from([0, 10**6])), chip_rate=100_000)
    return {}


@st.composite
def waterfalls(draw):
    """A random waterfall: 1–6 distinct modules in random order, with parameters."""
    names = draw(st.lists(liq_modules, min_size=1, max_size=6, unique=True))
    return [(name, draw(waterfall_params(name))) for name in names]


@st.composite
def liquidation_scenarios(draw):
    """A small venue in distress: two instruments at 50,000; isolated traders (1–60 lots, 1–100x)
    and cross traders (one or both instruments); resting market-maker liquidity on both sides;
    an insurance fund; then 1–4 steps, each a mark move of up to ±25 % on one instrument, a
    time step (for auctions and cooldowns) and optional auction bids by a liquidator."""
    iso = draw(st.lists(st.tuples(st.integers(0, 1), st.integers(-60, 60).filter(bool),
                                  st.integers(1, 100)), min_size=1, max_size=10))
    cross = draw(st.lists(st.tuples(st.integers(-40, 40), st.integers(-40, 40),
                                    st.integers(1, 30)), max_size=4))
    book = draw(st.lists(st.tuples(st.integers(0, 1), st.integers(0, 1),
                                   st.integers(-30, 30), st.integers(1, 50)), max_size=12))
    steps = draw(st.lists(st.tuples(st.integers(0, 1), st.integers(-25, 25),
                                    st.integers(1, 120), st.booleans()), min_size=1, max_size=4))
    return dict(isolated=iso, cross=cross, book=book, steps=steps,
                waterfall=draw(waterfalls()),
                insurance=draw(st.sampled_from([0, 10**6, 200 * 10**6, 10**12])),
                vault_capital=draw(st.sampled_from([0, 100 * 10**6, 10**12])),
                seed=draw(st.integers(0, 2**32 - 1)))
