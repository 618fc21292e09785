"""Constants shared by the compiled book, the reference book and the venue.

They are declared once, as ``cpdef enum``\\ s in ``matching/_enums.pxd``: the compiled book uses
them as C constants, Python sees them as IntEnums (:class:`Side`, :class:`TimeInForce`,
:class:`SelfTradePrevention`, :class:`ExpireReason`, :class:`MsgKind`, :class:`MatchCode`).
The module-level names (``BUY``, ``GTC``, ...) are the same numbers as plain ints.

Result codes are grouped by subsystem, as in the venue's ``RejectReason``:
1xxx validation, 2xxx risk, 3xxx matching. The matching engine only produces 0 and 3xxx.
"""
from __future__ import annotations

from matching._enums import (ExpireReason, MatchCode, MsgKind, SelfTradePrevention, Side,
                             TimeInForce)

__all__ = [
    "Side", "TimeInForce", "SelfTradePrevention", "ExpireReason", "MsgKind", "MatchCode",
    "BUY", "SELL", "GTC", "IOC", "FOK", "POST_ONLY", "STP_NONE", "STP_EXPIRE_TAKER",
    "STP_EXPIRE_MAKER", "STP_EXPIRE_BOTH", "EXPIRE_NONE", "EXPIRE_IOC", "EXPIRE_STP",
    "MSG_ADD", "MSG_CANCEL", "MSG_MARKET",
]

BUY, SELL = int(Side.BUY), int(Side.SELL)

# time in force of a limit order
GTC, IOC, FOK = int(TimeInForce.GTC), int(TimeInForce.IOC), int(TimeInForce.FOK)
POST_ONLY = int(TimeInForce.POST_ONLY)  # Binance GTX, Hyperliquid ALO: rejected when it would cross

# self-trade prevention mode, carried by the taker (as on Binance)
STP_NONE = int(SelfTradePrevention.STP_NONE)
STP_EXPIRE_TAKER = int(SelfTradePrevention.STP_EXPIRE_TAKER)
STP_EXPIRE_MAKER = int(SelfTradePrevention.STP_EXPIRE_MAKER)
STP_EXPIRE_BOTH = int(SelfTradePrevention.STP_EXPIRE_BOTH)

# why an order left the book (or never rested) without trading all of its quantity
EXPIRE_NONE = int(ExpireReason.EXPIRE_NONE)
EXPIRE_IOC = int(ExpireReason.EXPIRE_IOC)  # IOC / market remainder: no more liquidity
EXPIRE_STP = int(ExpireReason.EXPIRE_STP)  # self-trade prevention

# ``kind`` of a MSG_DTYPE record (the batch API)
MSG_ADD, MSG_CANCEL, MSG_MARKET = int(MsgKind.MSG_ADD), int(MsgKind.MSG_CANCEL), int(MsgKind.MSG_MARKET)
