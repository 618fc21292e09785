"""Binance USDⓈ-M's rate limits, as the mock enforces them.

Rules (https://developers.binance.com/docs/derivatives/usds-margined-futures/general-info
#limits, read 2026-12-02):

- every request has a *weight*; the weights of an IP's requests are summed over the current
  minute (fixed windows, reset on the minute) and reported in ``X-MBX-USED-WEIGHT-1M`` on
  every answer; past the limit (2,400) the answer is HTTP 429, code -1003, with
  ``Retry-After`` (seconds to the next window);
- new orders (and modifies) are counted per account over 10 seconds (300) and over a minute
  (1,200), reported in ``X-MBX-ORDER-COUNT-10S`` / ``X-MBX-ORDER-COUNT-1M``; past either,
  HTTP 429 with code -1015;
- an IP that keeps sending after 429s is banned: HTTP 418 (code -1003, "IP banned until …")
  with ``Retry-After``, for ``ban_s`` seconds (Binance: 2 minutes, growing up to 3 days for
  repeat offenders; the mock keeps it fixed and configurable).

Weights are Binance's published ones for the endpoints the mock serves; endpoints not
listed weigh 1. Everything is configurable through :class:`RateLimits`, and
``MockBinance(rate_limits=None)`` (``perpsim serve --no-rate-limits``) turns it off.
"""
from __future__ import annotations

import time

import attrs

from exchange.errors import InvalidCommandError

__all__ = ["RateLimits", "Limiter", "request_weight"]


def _positive(inst, attribute, value):
    if not (isinstance(value, (int, float)) and value > 0):
        raise InvalidCommandError(f"'{attribute.name}' must be > 0 (got {value!r})")


@attrs.frozen
class RateLimits:
    weight_per_minute: int = attrs.field(default=2400, validator=_positive)
    orders_per_10s: int = attrs.field(default=300, validator=_positive)
    orders_per_minute: int = attrs.field(default=1200, validator=_positive)
    #: 429s answered to one IP within its minute before it is banned with 418
    violations_before_ban: int = attrs.field(default=10, validator=_positive)
    ban_s: float = attrs.field(default=120.0, validator=_positive)


def _by_limit(limit: int, steps) -> int:
    for upper, weight in steps:
        if limit < upper:
            return weight
    return steps[-1][1]


def request_weight(method: str, path: str, query) -> int:
    """Binance's weight of one request (``query``: its query parameters)."""
    has_symbol = bool(query.get("symbol"))
    try:
        limit = int(query.get("limit") or 0)
    except ValueError:
        limit = 0
    if path == "/fapi/v1/depth":
        return _by_limit(limit or 500, ((51, 2), (101, 5), (501, 10), (10**9, 20)))
    if path in ("/fapi/v1/klines", "/fapi/v1/continuousKlines", "/fapi/v1/markPriceKlines",
                "/fapi/v1/indexPriceKlines", "/fapi/v1/premiumIndexKlines"):
        return _by_limit(limit or 500, ((100, 1), (500, 2), (1001, 5), (10**9, 10)))
    fixed = {
        "/fapi/v1/trades": 5, "/fapi/v1/historicalTrades": 20, "/fapi/v1/aggTrades": 20,
        "/fapi/v1/allOrders": 5, "/fapi/v1/userTrades": 5, "/fapi/v2/account": 5,
        "/fapi/v3/account": 5, "/fapi/v2/balance": 5, "/fapi/v3/balance": 5,
        "/fapi/v2/positionRisk": 5, "/fapi/v3/positionRisk": 5, "/fapi/v1/income": 30,
        "/fapi/v1/batchOrders": 5, "/fapi/v1/commissionRate": 20, "/fapi/v1/leverageBracket": 1,
        "/fapi/v1/allAlgoOrders": 5, "/fapi/v1/adlQuantile": 5, "/fapi/v1/exchangeInfo": 1,
        "/fapi/v1/accountConfig": 5, "/fapi/v1/countdownCancelAll": 10, "/fapi/v1/fundingInfo": 0,
    }
    if path in fixed:
        return fixed[path]
    if path.startswith("/futures/data/"):
        return 0                        # weight 0 (Binance: an IP limit of 1000 per 5 min instead)
    if path == "/fapi/v1/ticker/24hr":
        return 1 if has_symbol else 40
    if path in ("/fapi/v1/ticker/price", "/fapi/v2/ticker/price"):
        return 1 if has_symbol else 2
    if path == "/fapi/v1/ticker/bookTicker":
        return 2 if has_symbol else 5
    if path in ("/fapi/v1/openOrders", "/fapi/v1/openAlgoOrders"):
        return 1 if has_symbol else 40
    if path == "/fapi/v1/forceOrders":
        return 20 if has_symbol else 50
    if path in ("/fapi/v1/order", "/fapi/v1/algoOrder") and method == "POST":
        return 0                        # counted against the order limits instead
    return 1


class Limiter:
    """The counters. ``clock`` returns seconds (``time.time`` by default)."""

    def __init__(self, limits: RateLimits, clock=time.time) -> None:
        self.limits = limits
        self.clock = clock
        self._weight: dict[str, tuple[int, int]] = {}            # ip -> (minute, weight)
        self._violations: dict[str, tuple[int, int]] = {}        # ip -> (minute, count)
        self._banned: dict[str, float] = {}                      # ip -> until (s)
        self._orders10: dict[int, tuple[int, int]] = {}          # account -> (window, n)
        self._orders60: dict[int, tuple[int, int]] = {}

    @staticmethod
    def _bump(table, key, window, n) -> int:
        w, used = table.get(key, (window, 0))
        used = (used if w == window else 0) + n
        table[key] = (window, used)
        return used

    def used_weight(self, ip: str) -> int:
        minute = int(self.clock() // 60)
        w, used = self._weight.get(ip, (minute, 0))
        return used if w == minute else 0

    def charge(self, ip: str, weight: int):
        """Charge ``weight`` to ``ip``: None if within the limit, else ``(status, code, msg,
        retry_after_s)``."""
        now = self.clock()
        until = self._banned.get(ip)
        if until is not None:
            if now < until:
                return (418, -1003, f"Way too much request weight used; IP banned until "
                                    f"{int(until * 1000)}. Please use the websocket for live "
                                    "updates to avoid bans.", max(1, int(until - now + 0.999)))
            del self._banned[ip]
        minute = int(now // 60)
        used = self._bump(self._weight, ip, minute, weight)
        if used <= self.limits.weight_per_minute:
            return None
        retry = max(1, int((minute + 1) * 60 - now + 0.999))
        n = self._bump(self._violations, ip, minute, 1)
        if n > self.limits.violations_before_ban:
            self._banned[ip] = now + self.limits.ban_s
            return (418, -1003, f"Way too much request weight used; IP banned until "
                                f"{int((now + self.limits.ban_s) * 1000)}. Please use the "
                                "websocket for live updates to avoid bans.",
                    max(1, int(self.limits.ban_s)))
        return (429, -1003, f"Too many requests; current limit of IP({ip}) is "
                            f"{self.limits.weight_per_minute} requests per minute. Please use "
                            "the websocket for live updates to avoid polling the API.", retry)

    def order_counts(self, account: int) -> tuple[int, int]:
        now = self.clock()
        w10, n10 = self._orders10.get(account, (-1, 0))
        w60, n60 = self._orders60.get(account, (-1, 0))
        return (n10 if w10 == int(now // 10) else 0, n60 if w60 == int(now // 60) else 0)

    def count_order(self, account: int):
        """Count one new order of ``account``: None if within the limits, else ``(status,
        code, msg, retry_after_s)``."""
        now = self.clock()
        n10 = self._bump(self._orders10, account, int(now // 10), 1)
        n60 = self._bump(self._orders60, account, int(now // 60), 1)
        if n10 > self.limits.orders_per_10s:
            return (429, -1015, f"Too many new orders; current limit is "
                                f"{self.limits.orders_per_10s} orders per 10 SECOND.",
                    max(1, int((int(now // 10) + 1) * 10 - now + 0.999)))
        if n60 > self.limits.orders_per_minute:
            return (429, -1015, f"Too many new orders; current limit is "
                                f"{self.limits.orders_per_minute} orders per MINUTE.",
                    max(1, int((int(now // 60) + 1) * 60 - now + 0.999)))
        return None
