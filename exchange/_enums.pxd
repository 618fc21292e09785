# cython: language_level=3
"""The venue's constants, once: ``cpdef enum``\\ s, so the compiled core uses them as C
constants and Python sees them as IntEnums (``exchange._enums``; :mod:`exchange.events`,
:mod:`exchange.codes` and :mod:`exchange.units` re-export them). Every number here is part of
the journal format: never renumber, only add."""

cpdef enum EventKind:
    # -- the venue core (exchange._core) -------------------------------------------------------
    ORDER_ACCEPTED = 1
    ORDER_REJECTED = 2
    ORDER_FILLED = 3
    ORDER_CANCELED = 4
    ORDER_AMENDED = 5
    DEPOSITED = 6
    WITHDRAWN = 7
    LEVERAGE_SET = 8
    MARGIN_MODE_SET = 9
    ISOLATED_MARGIN_CHANGED = 10
    MARK_PRICE_UPDATED = 11
    TRANSFER_REJECTED = 12
    POSITION_TRANSFERRED = 13
    LEDGER_MOVED = 14
    # -- the liquidation waterfall (exchange.liquidation) --------------------------------------
    LIQUIDATION_TRIGGERED = 100
    MARGIN_CALL = 101
    POSITION_LIQUIDATED = 102
    AUCTION_STARTED = 103
    AUCTION_RESET = 104
    AUCTION_TAKEN = 105
    AUCTION_SETTLED = 106
    BACKSTOP_TAKEOVER = 107
    INSURANCE_FUND_USED = 108
    INSURANCE_FUND_CREDITED = 109
    LOSS_SOCIALIZED = 110
    POSITION_DELEVERAGED = 111
    BAD_DEBT_BOOKED = 112
    LIQUIDATION_COMPLETED = 113
    KEEPER_REWARDED = 114
    LIQUIDATIONS_FROZEN = 115
    LIQUIDATIONS_RESUMED = 116
    ADL_ROUND_SETTLED = 117
    # -- the venue layer (exchange.venue: conditional orders, funding) -------------------------
    CONDITIONAL_ORDER_ACCEPTED = 90001
    CONDITIONAL_ORDER_TRIGGERED = 90002
    CONDITIONAL_ORDER_CANCELED = 90003
    FUNDING_PAID = 90010
    FUNDING_SETTLED = 90011

cpdef enum RejectedCommand:     # ``command`` of OrderRejected (flag): which command was refused
    SUBMIT_ORDER = 0
    SET_LEVERAGE = 1
    SET_MARGIN_MODE = 2
    CANCEL_ORDER = 3
    AMEND_ORDER = 4

cpdef enum OrderType:           # ``order_type`` of OrderAccepted (a1)
    LIMIT = 0
    MARKET = 1

cpdef enum CancelReason:        # ``reason`` of OrderCanceled (code)
    CANCEL_USER = 0
    CANCEL_IOC = 1              # IOC / market remainder
    CANCEL_STP = 2              # self-trade prevention
    CANCEL_LIQUIDATION = 3      # the venue canceled it to liquidate the account

cpdef enum OrderFlag:           # bits of an order's flags in the core's order registry
    REDUCE_ONLY = 1
    RESTING = 2                 # the order rests in the book
    LIQUIDATION = 4             # a liquidation order the venue sent

cpdef enum CommandKind:         # ``kind`` of an ORDER_DTYPE row (exchange.sim.gateway)
    SUBMIT = 0
    CANCEL = 1
    CANCEL_IF_OPEN = 2          # cancel only if the target still rests (a no-op otherwise)

cpdef enum LedgerKind:          # ``from_kind`` / ``to_kind`` of LedgerMoved
    WALLET = 0
    ISOLATED = 1
    FEE_POOL = 2
    INSURANCE = 3
    BAD_DEBT = 4

cpdef enum LedgerReason:        # ``reason`` of LedgerMoved outside the waterfall's module codes
    ISOLATED_COVER = 99         # the venue's own cover of a flat isolated bucket left negative

cpdef enum Scale:
    RATE_SCALE = 100000000      # rates (fees, margin, funding, leverage) in parts per 1e8

cpdef enum RejectCode:          # exchange.codes.RejectReason (with descriptions) takes these

    INVALID_PRICE = 1001
    INVALID_QTY = 1002
    BELOW_MIN_NOTIONAL = 1003
    ABOVE_MAX_QTY = 1004
    PRICE_OUT_OF_BAND = 1005
    UNKNOWN_ORDER = 1006
    DUPLICATE_CLIENT_ORDER_ID = 1007
    INVALID_TRIGGER = 1008
    INVALID_TIME_IN_FORCE = 1009
    INVALID_LEVERAGE = 1010
    INVALID_CALLBACK_RATE = 1011
    SYMBOL_NOT_TRADING = 1012
    INSUFFICIENT_MARGIN = 2001
    REDUCE_ONLY_WOULD_INCREASE = 2002
    POSITION_LIMIT_EXCEEDED = 2003
    LEVERAGE_ABOVE_TIER_MAX = 2004
    INSUFFICIENT_BALANCE = 2005
    WITHDRAWAL_WOULD_BREACH_IM = 2006
    MARGIN_MODE_CHANGE_WITH_OPEN_POSITION = 2007
    MARGIN_REMOVAL_WOULD_BREACH_IM = 2008
    LEVERAGE_CHANGE_WOULD_BREACH_IM = 2009
    OPEN_ORDER_LIMIT_EXCEEDED = 2010
    POST_ONLY_WOULD_CROSS = 3001
    FOK_NOT_FILLABLE = 3002
    DUPLICATE_ORDER_ID = 3003
    UNKNOWN_ORDER_ID = 3004
    PRICE_OUT_OF_RANGE = 3005
    LEVEL_QTY_OVERFLOW = 3006
    ACCOUNT_IN_LIQUIDATION = 4001
    ORACLE_STALE = 4002
    MARKET_PAUSED = 4003
