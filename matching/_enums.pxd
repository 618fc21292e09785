# cython: language_level=3
"""The book's constants, once: ``cpdef enum`` so C code uses them as constants and Python sees
IntEnums (``matching._enums``, re-exported by :mod:`matching.codes`). The numbers are part of
the order-stream and journal formats: never renumber, only add."""

cpdef enum Side:
    BUY = 0
    SELL = 1

cpdef enum TimeInForce:
    GTC = 0
    IOC = 1
    FOK = 2
    POST_ONLY = 3           # Binance GTX, Hyperliquid ALO: rejected when it would cross

cpdef enum SelfTradePrevention:
    STP_NONE = 0
    STP_EXPIRE_TAKER = 1
    STP_EXPIRE_MAKER = 2
    STP_EXPIRE_BOTH = 3

cpdef enum ExpireReason:
    EXPIRE_NONE = 0
    EXPIRE_IOC = 1          # IOC / market remainder: no more liquidity within the limit
    EXPIRE_STP = 2          # self-trade prevention

cpdef enum MsgKind:         # ``kind`` of a MSG_DTYPE record of the batch API (the bench stream)
    MSG_ADD = 0             # limit GTC, anonymous owner
    MSG_CANCEL = 1
    MSG_MARKET = 2

cpdef enum MatchCode:       # outcome of a matching command; OK: accepted (may trade nothing)
    OK = 0
    POST_ONLY_WOULD_CROSS = 3001
    FOK_NOT_FILLABLE = 3002
    DUPLICATE_ORDER_ID = 3003
    UNKNOWN_ORDER_ID = 3004        # only produced by the batch API (per-order calls raise)
    PRICE_OUT_OF_RANGE = 3005      # the price is beyond the book's addressable tick window
    LEVEL_QTY_OVERFLOW = 3006      # the price level's total would pass 2**63 - 1 lots
