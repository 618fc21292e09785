"""Stub of the compiled ``matching._enums``: the cpdef enums of ``matching/_enums.pxd``."""
from enum import IntEnum


class ExpireReason(IntEnum):
    EXPIRE_NONE = 0
    EXPIRE_IOC = 1
    EXPIRE_STP = 2

class MatchCode(IntEnum):
    OK = 0
    POST_ONLY_WOULD_CROSS = 3001
    FOK_NOT_FILLABLE = 3002
    DUPLICATE_ORDER_ID = 3003
    UNKNOWN_ORDER_ID = 3004
    PRICE_OUT_OF_RANGE = 3005
    LEVEL_QTY_OVERFLOW = 3006

class MsgKind(IntEnum):
    MSG_ADD = 0
    MSG_CANCEL = 1
    MSG_MARKET = 2

class SelfTradePrevention(IntEnum):
    STP_NONE = 0
    STP_EXPIRE_TAKER = 1
    STP_EXPIRE_MAKER = 2
    STP_EXPIRE_BOTH = 3

class Side(IntEnum):
    BUY = 0
    SELL = 1

class TimeInForce(IntEnum):
    GTC = 0
    IOC = 1
    FOK = 2
    POST_ONLY = 3
