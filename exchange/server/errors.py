"""Binance's error envelope and the venue rejection reasons it maps to."""
from __future__ import annotations

from exchange.codes import RejectReason


class BinanceError(Exception):
    """An error answered as Binance does: ``{"code": code, "msg": msg}`` with an HTTP status."""

    def __init__(self, code: int, msg: str, status: int = 400, headers: dict | None = None) -> None:
        super().__init__(msg)
        self.code, self.msg, self.status = code, msg, status
        self.headers = headers or {}


# venue rejection reason -> Binance error (code, message); {side} / {price} filled in
REJECTS: dict[int, tuple[int, str]] = {
    RejectReason.INVALID_PRICE: (-4014, "Price not increased by tick size."),
    RejectReason.INVALID_QTY: (-4023, "Quantity not increased by step size."),
    RejectReason.BELOW_MIN_NOTIONAL: (-4164, "Order's notional must be no smaller than {min_notional} "
                                             "(unless you choose reduce only)."),
    RejectReason.ABOVE_MAX_QTY: (-4005, "Quantity greater than max quantity."),
    RejectReason.PRICE_OUT_OF_BAND: (-4016, "Limit price can't be {direction} than {bound}."),
    RejectReason.UNKNOWN_ORDER: (-2011, "Unknown order sent."),
    RejectReason.DUPLICATE_CLIENT_ORDER_ID: (-4116, "ClientOrderId is duplicated."),
    RejectReason.INVALID_TRIGGER: (-2021, "Order would immediately trigger."),
    RejectReason.INVALID_TIME_IN_FORCE: (-1115, "Invalid timeInForce."),
    RejectReason.INVALID_LEVERAGE: (-4028, "Leverage {leverage} is not valid"),
    RejectReason.INVALID_CALLBACK_RATE: (-2007, "Invalid callBackRate."),
    RejectReason.SYMBOL_NOT_TRADING: (-4000, "Invalid order status."),
    RejectReason.INSUFFICIENT_MARGIN: (-2019, "Margin is insufficient."),
    RejectReason.REDUCE_ONLY_WOULD_INCREASE: (-2022, "ReduceOnly Order is rejected."),
    RejectReason.POSITION_LIMIT_EXCEEDED: (-2027, "Exceeded the maximum allowable position at "
                                                  "current leverage."),
    RejectReason.LEVERAGE_ABOVE_TIER_MAX: (-2027, "Exceeded the maximum allowable position at "
                                                  "current leverage."),
    RejectReason.INSUFFICIENT_BALANCE: (-2019, "Margin is insufficient."),
    RejectReason.WITHDRAWAL_WOULD_BREACH_IM: (-2019, "Margin is insufficient."),
    RejectReason.MARGIN_MODE_CHANGE_WITH_OPEN_POSITION: (
        -4048, "Margin type cannot be changed if there exists position or open orders."),
    RejectReason.MARGIN_REMOVAL_WOULD_BREACH_IM: (-4051, "Isolated balance insufficient."),
    RejectReason.LEVERAGE_CHANGE_WOULD_BREACH_IM: (-2027, "Exceeded the maximum allowable "
                                                          "position at current leverage."),
    RejectReason.OPEN_ORDER_LIMIT_EXCEEDED: (-2025, "Reach max open order limit."),
    RejectReason.POST_ONLY_WOULD_CROSS: (
        -5022, "Due to the order could not be executed as maker, the Post Only order will be "
               "rejected. The order will not be recorded in the order history"),
    RejectReason.FOK_NOT_FILLABLE: (
        -5021, "Due to the order could not be filled immediately, the FOK order has been "
               "rejected. The order will not be recorded in the order history"),
    RejectReason.DUPLICATE_ORDER_ID: (-4116, "ClientOrderId is duplicated."),
    RejectReason.UNKNOWN_ORDER_ID: (-2011, "Unknown order sent."),
    RejectReason.PRICE_OUT_OF_RANGE: (-4016, "Limit price can't be {direction} than {bound}."),
    RejectReason.ACCOUNT_IN_LIQUIDATION: (-2023, "User in liquidation mode now."),
    RejectReason.ORACLE_STALE: (-4000, "Invalid order status."),
    RejectReason.MARKET_PAUSED: (-4000, "Invalid order status."),
}


def missing(name: str) -> BinanceError:
    return BinanceError(-1102, f"Mandatory parameter '{name}' was not sent, was empty/null, "
                               "or malformed.")
