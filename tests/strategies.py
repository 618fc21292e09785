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
