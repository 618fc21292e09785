"""History endpoints: aggTrades and the klines of trades, mark, index and premium (every Binance
interval, ``startTime``/``endTime``/``limit`` paging as Binance does; the series are
:mod:`exchange.server.history`).
"""
from __future__ import annotations

from exchange.server import history
from exchange.server.clock import now_ms
from exchange.server.errors import BinanceError, missing
from exchange.server.history import INTERVALS
from exchange.server.params import int_param
from exchange.server.payloads import json_response


class HistoryHandlers:
    """aggTrades and klines. A part of :class:`~exchange.server.binance.MockBinance`, whose state
    it shares."""

    @staticmethod
    def _window(params: dict, default_limit: int, max_limit: int) -> tuple:
        limit = int_param(params, "limit", default=default_limit)
        if not 1 <= limit <= max_limit:
            raise BinanceError(-1130, f"Invalid data sent for a parameter: 'limit' must be "
                                      f"between 1 and {max_limit} (got {limit}).")
        start = int_param(params, "startTime")
        end = int_param(params, "endTime")
        for name, t in (("startTime", start), ("endTime", end)):
            if t is not None and not 0 <= t < 2**53:
                raise BinanceError(-1100, f"Illegal characters found in parameter '{name}'; "
                                          "legal range is a millisecond time from 0.")
        if start is not None and end is not None and start > end:
            raise BinanceError(-1128, "Combination of optional parameters invalid: "
                                      "'startTime' is after 'endTime'.")
        return start, end, limit

    async def agg_trades(self, request):
        """``GET /fapi/v1/aggTrades``: by ``fromId``, or within ``startTime``..``endTime``
        (at most one hour apart), else the latest ``limit`` (default 500, max 1000)
        (https://developers.binance.com/docs/derivatives/usds-margined-futures/market-data/rest-api/Compressed-Aggregate-Trades-List,
        read 2026-12-02)."""
        import bisect

        params = await self._params(request)
        i = self._instr(params)
        start, end, limit = self._window(params, 500, 1000)
        from_id = int_param(params, "fromId")
        if from_id is not None and not 0 <= from_id < 2**63:
            raise BinanceError(-1100, "Illegal characters found in parameter 'fromId'.")
        if start is not None and end is not None and end - start > 3_600_000:
            raise BinanceError(-1127, "More than 1 hours between startTime and endTime.")
        self._flush_agg()
        rows = self._agg_trades[i]
        if from_id is not None:
            k = bisect.bisect_left([r["a"] for r in rows], from_id)
            out = rows[k:k + limit]
        elif start is not None or end is not None:
            lo = start if start is not None else (end - 3_600_000)
            hi = end if end is not None else (start + 3_600_000)
            out = [r for r in rows if lo <= r["T"] <= hi][:limit]
        else:
            out = rows[-limit:]
        return json_response(out)

    def _kline_args(self, params: dict, symbol_param: str = "symbol"):
        if symbol_param == "pair":
            pair = params.get("pair")
            if not pair:
                raise missing("pair")
            params = {**params, "symbol": pair}
        i = self._instr(params)
        interval = params.get("interval")
        if not interval:
            raise missing("interval")
        if interval not in INTERVALS:
            raise BinanceError(-1120, "Invalid interval.")
        start, end, limit = self._window(params, 500, 1500)
        return i, interval, start, end, limit

    def _klines_response(self, series, params, symbol_param="symbol", volume=True):
        i, interval, start, end, limit = self._kline_args(params, symbol_param)
        return json_response(history.klines(series[i], interval, now_ms(), start, end,
                                                limit, volume=volume))

    async def klines(self, request):
        """``GET /fapi/v1/klines`` from the venue's own trades (see :mod:`exchange.server.history`)."""
        params = await self._params(request)
        return self._klines_response(self._trade_series, params)

    async def continuous_klines(self, request):
        params = await self._params(request)
        ct = params.get("contractType")
        if not ct:
            raise missing("contractType")
        if ct != "PERPETUAL":
            raise BinanceError(-1100, "Illegal characters found in parameter 'contractType'; "
                                      "legal range is 'PERPETUAL' (the venue lists perpetuals only).")
        return self._klines_response(self._trade_series, params, "pair")

    async def mark_price_klines(self, request):
        params = await self._params(request)
        return self._klines_response(self._mark_series, params, volume=False)

    async def index_price_klines(self, request):
        params = await self._params(request)
        return self._klines_response(self._index_series, params, "pair", volume=False)

    async def premium_index_klines(self, request):
        params = await self._params(request)
        return self._klines_response(self._premium_series, params, volume=False)
