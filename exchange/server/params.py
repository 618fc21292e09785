"""Request parameters as Binance reads them: the query string and form body, typed values
(integers, decimals, booleans, enums) with Binance's error for each malformed value, and the
order filters (tick, step, notional caps).
"""
from __future__ import annotations

import re
from decimal import Decimal
from urllib.parse import parse_qsl

from aiohttp import web

from exchange.server.errors import BinanceError, missing
from exchange.server.handlers.ws_api import WsRequest

#: PRICE_FILTER maxPrice, in ticks (what exchangeInfo shows)
MAX_PRICE_TICKS = 10**9


#: Binance's newClientOrderId rule (https://developers.binance.com/docs/derivatives/
#: usds-margined-futures/trade/rest-api/New-Order, read 2026-12-02)
CLIENT_ID = re.compile(r"[.A-Z:/a-z0-9_-]{1,36}")


ORDER_TYPES = ("LIMIT", "MARKET", "STOP", "STOP_MARKET", "TAKE_PROFIT", "TAKE_PROFIT_MARKET",
                "TRAILING_STOP_MARKET")


TIFS = ("GTC", "IOC", "FOK", "GTX")
#: priceMatch modes (Binance New Order)
PRICE_MATCH = ("OPPONENT", "OPPONENT_5", "OPPONENT_10", "OPPONENT_20", "QUEUE", "QUEUE_5",
               "QUEUE_10", "QUEUE_20")


CONDITIONAL_TYPES = ("STOP", "STOP_MARKET", "TAKE_PROFIT", "TAKE_PROFIT_MARKET",
                      "TRAILING_STOP_MARKET")


STP_MODES = {"NONE": "NONE", "EXPIRE_TAKER": "EXPIRE_TAKER", "EXPIRE_MAKER": "EXPIRE_MAKER",
              "EXPIRE_BOTH": "EXPIRE_BOTH"}


# what Binance shows as the cap of a position with no limit of its own (its largest brackets)
_UNLIMITED_NOTIONAL = Decimal(10) ** 12


def notional_cap(spec, leverage: int) -> Decimal:
    """The largest position notional allowed at ``leverage`` (Binance's maxNotionalValue)."""
    from exchange.margin import notional_cap_for_leverage

    cap = notional_cap_for_leverage(spec.tiers, leverage, spec.max_position_notional_atoms)
    return _UNLIMITED_NOTIONAL if cap is None else Decimal(cap).scaleb(-spec.settle_decimals)


def max_notional(spec) -> Decimal:
    cap = spec.max_position_notional_atoms
    return _UNLIMITED_NOTIONAL if cap is None else Decimal(cap).scaleb(-spec.settle_decimals)


def check_price(spec, price: Decimal, name: str) -> int:
    """PRICE_FILTER: on the tick (-4014) and at most maxPrice (-4013); returns ticks."""
    ticks = price / spec.tick_size
    if ticks != ticks.to_integral_value():
        raise BinanceError(-4014, "Price not increased by tick size." if name == "price" else
                           f"Price not increased by tick size ('{name}').")
    if ticks > MAX_PRICE_TICKS:
        raise BinanceError(-4013, "Price greater than max price." if name == "price" else
                           f"Price greater than max price ('{name}').")
    return int(ticks)


def check_qty(spec, qty: Decimal, market: bool) -> int:
    """LOT_SIZE / MARKET_LOT_SIZE: on the step (-4023) and at most maxQty (-4005)."""
    lots = qty / spec.lot_size
    if lots != lots.to_integral_value():
        raise BinanceError(-4023, "Quantity not increased by step size.")
    if lots > (spec.max_market_lots if market else spec.max_order_lots):
        raise BinanceError(-4005, "Quantity greater than max quantity.")
    return int(lots)


def decimals_of(step: Decimal) -> int:
    return max(0, -Decimal(step).normalize().as_tuple().exponent)


_INT = re.compile(r"[0-9]{1,20}")


_DEC = re.compile(r"[0-9]{1,20}(\.[0-9]{1,20})?")


def int_param(params: dict, name: str, default: int | None = None, required: bool = False) -> int:
    """An integer parameter as Binance reads it: ``^[0-9]{1,20}$`` (no sign, no spaces, no
    exponent) and within a signed 64-bit integer, else -1100 naming the parameter."""
    raw = params.get(name)
    if raw is None or raw == "":
        if required:
            raise missing(name)
        return default
    if not isinstance(raw, str) or not _INT.fullmatch(raw) or int(raw) >= 2**63:
        raise BinanceError(-1100, f"Illegal characters found in parameter '{name}'; legal range "
                                  "is '^[0-9]{1,20}$'.")
    return int(raw)


def decimal_param(params: dict, name: str, required: bool = False) -> Decimal | None:
    """A decimal parameter as Binance reads it: ``^([0-9]{1,20})(\\.[0-9]{1,20})?$`` (no
    sign, spaces or exponent: " 0.01", "-5", "1e308" are refused with -1100)."""
    raw = params.get(name)
    if raw is None or raw == "":
        if required:
            raise missing(name)
        return None
    if not isinstance(raw, str) or not _DEC.fullmatch(raw):
        raise BinanceError(-1100, f"Illegal characters found in parameter '{name}'; legal range "
                                  "is '^([0-9]{1,20})(\\.[0-9]{1,20})?$'.")
    return Decimal(raw)


def bool_param(params: dict, name: str) -> bool:
    raw = str(params.get(name, "false")).lower()
    if raw not in ("true", "false"):
        raise BinanceError(-1100, f"Illegal characters found in parameter '{name}'; legal range "
                                  "is 'true', 'false'.")
    return raw == "true"


def enum_param(params: dict, name: str, allowed, code: int, msg: str) -> str:
    raw = params.get(name)
    if raw is None or raw == "":
        raise missing(name)
    if raw not in allowed:
        raise BinanceError(code, msg)
    return raw


class RequestParams:
    """Reading a request's parameters and its symbol. A part of
    :class:`~exchange.server.binance.MockBinance`, whose state it shares."""

    @staticmethod
    async def _body(request: web.Request) -> str:
        """The body as UTF-8 text whatever charset the request declares (Binance reads
        form-encoded ASCII); bytes that are not UTF-8 are refused with -1100."""
        if not request.can_read_body:
            return ""
        raw = await request.read()
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise BinanceError(-1100, "Illegal characters found in a parameter: the body is "
                                      "not UTF-8 text.") from None

    @staticmethod
    def _query(request: web.Request) -> str:
        """The query string as sent (percent-encoded)."""
        return request.raw_path.partition("?")[2]

    @staticmethod
    def _parse(text: str) -> list[tuple[str, str]]:
        """``name=value&…`` as ``urllib.parse.parse_qsl`` reads it (blank values kept, at
        most 200 fields); a string with nothing to unquote (no ``%``, no ``+``: what signed
        clients send) is split directly, the same pairs at a fraction of the cost."""
        if not text:
            return []
        if "%" not in text and "+" not in text and text.count("&") < 200:
            return [(k, v) for k, _, v in (f.partition("=") for f in text.split("&") if f)]
        try:
            return parse_qsl(text, keep_blank_values=True, errors="strict",
                             max_num_fields=200)
        except UnicodeDecodeError:
            raise BinanceError(-1100, "Illegal characters found in a parameter: a "
                                      "percent-encoded value is not UTF-8.") from None
        except ValueError:
            raise BinanceError(-1101, "Too many parameters sent for this endpoint.") from None

    @staticmethod
    def _merge(query: list[tuple[str, str]], body: list[tuple[str, str]]) -> dict[str, str]:
        """The request's parameters: a name given twice in the query string or twice in the
        body is refused (-1101, as Binance); a name in both, the query string's value is
        used ("If a parameter sent in both the query string and request body, the query
        string parameter will be used": Binance's General Info)."""
        q = dict(query)
        if len(q) != len(query):
            raise BinanceError(-1101, "Duplicate values for a parameter detected.")
        if not body:
            return q
        b = dict(body)
        if len(b) != len(body):
            raise BinanceError(-1101, "Duplicate values for a parameter detected.")
        b.update(q)
        return b

    async def _params(self, request: web.Request) -> dict[str, str]:
        if type(request) is WsRequest:                # a WebSocket API request: typed already
            return dict(request.params)
        return self._merge(self._parse(self._query(request)),
                           self._parse(await self._body(request)))

    def _instr(self, params: dict, required: bool = True) -> int | None:
        symbol = params.get("symbol")
        if symbol is None or symbol == "":
            if required:
                raise missing("symbol")
            return None
        try:
            return self.venue.instrument(symbol.upper())
        except Exception:
            raise BinanceError(-1121, "Invalid symbol.") from None
