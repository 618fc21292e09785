"""Constants shared by the compiled book, the reference book and the venue.

Result codes are grouped by subsystem, as in the venue's ``RejectReason``:
1xxx validation, 2xxx risk, 3xxx matching. The matching engine only produces 0 and 3xxx.
"""
from __future__ import annotations

import enum

BUY = 0
SELL = 1

# time in force of a limit order
GTC = 0
IOC = 1
FOK = 2
POST_ONLY = 3  # Binance GTX, Hyperliquid ALO: rejected when it would cross

# self-trade prevention mode, carried by the taker (as on Binance)
STP_NONE = 0
STP_EXPIRE_TAKER = 1
STP_EXPIRE_MAKER = 2
STP_EXPIRE_BOTH = 3

# why an order left the book (or never rested) without trading all of its quantity
EXPIRE_NONE = 0
EXPIRE_IOC = 1  # IOC / market remainder: no more liquidity within the limit
EXPIRE_STP = 2  # self-trade prevention


class MatchCode(enum.IntEnum):
    """Outcome of a matching command. ``OK`` means accepted (it may still have traded nothing)."""

    OK = 0
    POST_ONLY_WOULD_CROSS = 3001
    FOK_NOT_FILLABLE = 3002
    DUPLICATE_ORDER_ID = 3003
    UNKNOWN_ORDER_ID = 3004  # only produced by the batch API (per-order calls raise)
    PRICE_OUT_OF_RANGE = 3005  # the price is beyond the book's addressable tick window
    LEVEL_QTY_OVERFLOW = 3006  # the price level's total would pass 2**63 - 1 lots
