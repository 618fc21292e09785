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
never renumbered, only added. They are declared once, in ``exchange/_enums.pxd`` (``RejectCode``,
which the compiled core uses); this class adds the descriptions.
"""
from __future__ import annotations

import enum
from typing import Self

from exchange._enums import RejectCode as _C
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
    INVALID_PRICE = _C.INVALID_PRICE, "price is not a positive whole number of ticks"
    INVALID_QTY = _C.INVALID_QTY, "quantity is not a positive whole number of lots"
    BELOW_MIN_NOTIONAL = (_C.BELOW_MIN_NOTIONAL,
                          "order notional is below the instrument's minimum notional")
    ABOVE_MAX_QTY = (_C.ABOVE_MAX_QTY,
                     "quantity is above the instrument's maximum for this order type")
    PRICE_OUT_OF_BAND = (_C.PRICE_OUT_OF_BAND,
                         "limit price is outside the percent-price band around the mark")
    UNKNOWN_ORDER = (_C.UNKNOWN_ORDER,
                     "cancel or amend of an order the venue does not know for this account")
    DUPLICATE_CLIENT_ORDER_ID = (_C.DUPLICATE_CLIENT_ORDER_ID,
                                 "client order id already used by an open order")
    INVALID_TRIGGER = (_C.INVALID_TRIGGER,
                       "trigger price missing, not positive, or already on the firing side")
    INVALID_TIME_IN_FORCE = (_C.INVALID_TIME_IN_FORCE,
                             "time in force not allowed for this order type")
    INVALID_LEVERAGE = (_C.INVALID_LEVERAGE,
                        "leverage is not a whole number in [1, instrument maximum]")
    INVALID_CALLBACK_RATE = (_C.INVALID_CALLBACK_RATE,
                             "trailing-stop callback rate is outside the allowed range")
    SYMBOL_NOT_TRADING = _C.SYMBOL_NOT_TRADING, "the instrument is not open for trading"

    # -- 2xxx RISK ---------------------------------------------------------------------------
    INSUFFICIENT_MARGIN = (_C.INSUFFICIENT_MARGIN,
                           "available margin does not cover the order's initial margin")
    REDUCE_ONLY_WOULD_INCREASE = (_C.REDUCE_ONLY_WOULD_INCREASE,
                                  "reduce-only order would open or increase a position")
    POSITION_LIMIT_EXCEEDED = (_C.POSITION_LIMIT_EXCEEDED,
                               "resulting position notional is above the instrument limit")
    LEVERAGE_ABOVE_TIER_MAX = (_C.LEVERAGE_ABOVE_TIER_MAX,
                               "leverage is above the maximum of the position's margin tier")
    INSUFFICIENT_BALANCE = (_C.INSUFFICIENT_BALANCE,
                            "transfer or withdrawal exceeds the available balance")
    WITHDRAWAL_WOULD_BREACH_IM = (_C.WITHDRAWAL_WOULD_BREACH_IM,
                                  "withdrawal would leave less than the initial margin")
    MARGIN_MODE_CHANGE_WITH_OPEN_POSITION = (_C.MARGIN_MODE_CHANGE_WITH_OPEN_POSITION,
                                             "margin mode change with open position or orders")
    MARGIN_REMOVAL_WOULD_BREACH_IM = (_C.MARGIN_REMOVAL_WOULD_BREACH_IM,
                                      "isolated margin removal would leave less than IM")
    LEVERAGE_CHANGE_WOULD_BREACH_IM = (_C.LEVERAGE_CHANGE_WOULD_BREACH_IM,
                                       "lowering leverage would need more margin than free")
    OPEN_ORDER_LIMIT_EXCEEDED = (_C.OPEN_ORDER_LIMIT_EXCEEDED,
                                 "account already has the maximum number of open orders")

    # -- 3xxx MATCHING (same numbers as matching.codes.MatchCode) -----------------------------
    POST_ONLY_WOULD_CROSS = (_C.POST_ONLY_WOULD_CROSS,
                             "post-only order would trade against the opposite best")
    FOK_NOT_FILLABLE = _C.FOK_NOT_FILLABLE, "fill-or-kill order cannot fill completely"
    DUPLICATE_ORDER_ID = _C.DUPLICATE_ORDER_ID, "order id already rests in the book"
    UNKNOWN_ORDER_ID = _C.UNKNOWN_ORDER_ID, "order id is not resting in the book"
    PRICE_OUT_OF_RANGE = (_C.PRICE_OUT_OF_RANGE,
                          "price is beyond the book's addressable tick window")
    LEVEL_QTY_OVERFLOW = (_C.LEVEL_QTY_OVERFLOW,
                          "the price level's total would exceed 2**63 - 1 lots")

    # -- 4xxx ACCOUNT / MARKET STATE ---------------------------------------------------------
    ACCOUNT_IN_LIQUIDATION = (_C.ACCOUNT_IN_LIQUIDATION,
                              "the account is being liquidated; only cancels are accepted")
    ORACLE_STALE = _C.ORACLE_STALE, "the price source is stale; trading that needs it is frozen"
    MARKET_PAUSED = (_C.MARKET_PAUSED,
                     "the venue paused the market (circuit breaker, guard rail, settlement)")

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
# one list of numbers: every RejectCode has its described member here, and the 3xxx are the book's
assert [(m.name, int(m)) for m in RejectReason] == [(m.name, int(m)) for m in _C]
assert _MATCH_VALUES <= {int(m) for m in RejectReason}
