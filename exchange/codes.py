"""Why the venue rejected a command: :class:`RejectReason`, numeric codes grouped by subsystem.

=======  ==========================================================================
range    subsystem
=======  ==========================================================================
1xxx     validation against the :class:`~exchange.instruments.InstrumentSpec`
2xxx     pre-trade risk (margin, reduce-only, position limits, transfers)
3xxx     matching: the same numbers as :class:`matching.codes.MatchCode`
4xxx     account or market state (liquidation in progress, stale oracle, pause)
=======  ==========================================================================

A rejection is data (an ``OrderRejected(reason=...)`` event), not an exception. Each member
carries a one-line ``description``; the numbers are part of the journal format, so a member is
never renumbered, only added.
"""
from __future__ import annotations

import enum
from typing import Self

from matching.codes import MatchCode

_SUBSYSTEMS = {1: "validation", 2: "risk", 3: "matching", 4: "state"}


class RejectReason(enum.IntEnum):
    """Numeric reason of an ``OrderRejected`` (or a rejected transfer / leverage change).

    >>> RejectReason.INSUFFICIENT_MARGIN, int(RejectReason.INSUFFICIENT_MARGIN)
    (<RejectReason.INSUFFICIENT_MARGIN: 2001>, 2001)
    >>> RejectReason.POST_ONLY_WOULD_CROSS == MatchCode.POST_ONLY_WOULD_CROSS
    True
    >>> RejectReason.PRICE_OUT_OF_BAND.subsystem
    'validation'
    >>> RejectReason.ORACLE_STALE.description
    'the price source is stale; trading that needs it is frozen'
    """

    description: str

    def __new__(cls, value: int, description: str) -> Self:
        member = int.__new__(cls, value)
        member._value_ = value
        member.description = description
        return member

    # -- 1xxx VALIDATION ---------------------------------------------------------------------
    INVALID_PRICE = 1001, "price is not a positive whole number of ticks"
    INVALID_QTY = 1002, "quantity is not a positive whole number of lots"
    BELOW_MIN_NOTIONAL = 1003, "order notional is below the instrument's minimum notional"
    ABOVE_MAX_QTY = 1004, "quantity is above the instrument's maximum for this order type"
    PRICE_OUT_OF_BAND = 1005, "limit price is outside the percent-price band around the mark"
    UNKNOWN_ORDER = 1006, "cancel or amend of an order the venue does not know for this account"
    DUPLICATE_CLIENT_ORDER_ID = 1007, "client order id already used by an open order"
    INVALID_TRIGGER = 1008, "trigger price missing, not positive, or already on the firing side"
    INVALID_TIME_IN_FORCE = 1009, "time in force not allowed for this order type"
    INVALID_LEVERAGE = 1010, "leverage is not a whole number in [1, instrument maximum]"
    INVALID_CALLBACK_RATE = 1011, "trailing-stop callback rate is outside the allowed range"
    SYMBOL_NOT_TRADING = 1012, "the instrument is not open for trading"

    # -- 2xxx RISK ---------------------------------------------------------------------------
    INSUFFICIENT_MARGIN = 2001, "available margin does not cover the order's initial margin"
    REDUCE_ONLY_WOULD_INCREASE = 2002, "reduce-only order would open or increase a position"
    POSITION_LIMIT_EXCEEDED = 2003, "resulting position notional is above the instrument limit"
    LEVERAGE_ABOVE_TIER_MAX = 2004, "leverage is above the maximum of the position's margin tier"
    INSUFFICIENT_BALANCE = 2005, "transfer or withdrawal exceeds the available balance"
    WITHDRAWAL_WOULD_BREACH_IM = 2006, "withdrawal would leave less than the initial margin"
    MARGIN_MODE_CHANGE_WITH_OPEN_POSITION = 2007, "margin mode change with open position or orders"
    MARGIN_REMOVAL_WOULD_BREACH_IM = 2008, "isolated margin removal would leave less than IM"
    LEVERAGE_CHANGE_WOULD_BREACH_IM = 2009, "lowering leverage would need more margin than free"
    OPEN_ORDER_LIMIT_EXCEEDED = 2010, "account already has the maximum number of open orders"

    # -- 3xxx MATCHING (same numbers as matching.codes.MatchCode) -----------------------------
    POST_ONLY_WOULD_CROSS = (MatchCode.POST_ONLY_WOULD_CROSS.value,
                             "post-only order would trade against the opposite best")
    FOK_NOT_FILLABLE = MatchCode.FOK_NOT_FILLABLE.value, "fill-or-kill order cannot fill completely"
    DUPLICATE_ORDER_ID = MatchCode.DUPLICATE_ORDER_ID.value, "order id already rests in the book"
    UNKNOWN_ORDER_ID = MatchCode.UNKNOWN_ORDER_ID.value, "order id is not resting in the book"
    PRICE_OUT_OF_RANGE = (MatchCode.PRICE_OUT_OF_RANGE.value,
                          "price is beyond the book's addressable tick window")
    LEVEL_QTY_OVERFLOW = (MatchCode.LEVEL_QTY_OVERFLOW.value,
                          "the price level's total would exceed 2**63 - 1 lots")

    # -- 4xxx ACCOUNT / MARKET STATE ---------------------------------------------------------
    ACCOUNT_IN_LIQUIDATION = 4001, "the account is being liquidated; only cancels are accepted"
    ORACLE_STALE = 4002, "the price source is stale; trading that needs it is frozen"
    MARKET_PAUSED = 4003, "the venue paused the market (circuit breaker, guard rail, settlement)"

    @property
    def subsystem(self) -> str:
        """``'validation'``, ``'risk'``, ``'matching'`` or ``'state'`` (from the thousands digit)."""
        return _SUBSYSTEMS[self.value // 1000]

    @classmethod
    def from_match_code(cls, code: int) -> RejectReason:
        """The reason for a non-zero :class:`~matching.codes.MatchCode` returned by the book.

        Cost: O(1).

        >>> RejectReason.from_match_code(3002)
        <RejectReason.FOK_NOT_FILLABLE: 3002>
        >>> RejectReason.from_match_code(0)
        Traceback (most recent call last):
        ...
        ValueError: 'code' must be a non-zero MatchCode (got 0)
        """
        if code == MatchCode.OK or code not in _MATCH_VALUES:
            raise ValueError(f"'code' must be a non-zero MatchCode (got {code!r})")
        return cls(code)


_MATCH_VALUES = frozenset(int(m) for m in MatchCode if m != MatchCode.OK)
