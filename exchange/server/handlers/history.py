"""History endpoints: aggTrades and the klines of trades, mark, index and premium (every Binance
interval, ``startTime``/``endTime``/``limit`` paging as Binance does; the series are
:mod:`exchange.server.history`).
"""
from __future__ import annotations

import bisect
from decimal import Decimal

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

    def _symbol_or_pair(self, params: dict, symbol_param: str) -> int:
        """The instrument named by ``symbol`` or, for the pair endpoints, ``pair``."""
        if symbol_param == "pair":
            pair = params.get("pair")
            if not pair:
                raise missing("pair")
            params = {**params, "symbol": pair}
        return self._instr(params)

    def _kline_args(self, params: dict, symbol_param: str = "symbol"):
        i = self._symbol_or_pair(params, symbol_param)
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

    # -- /futures/data: positioning statistics --------------------------------------------------
    def _stat_args(self, params: dict, symbol_param: str = "symbol"):
        i = self._symbol_or_pair(params, symbol_param)
        period = params.get("period")
        if not period:
            raise missing("period")
        if period not in history.STAT_PERIODS:
            raise BinanceError(-1100, "Illegal characters found in parameter 'period'; legal "
                                      "range is '" + "', '".join(history.STAT_PERIODS) + "'.")
        start, end, limit = self._window(params, 30, 500)
        stats = self._stats[i]
        times = history.stat_times(period, now_ms(), stats.t[0] if stats.t else None,
                                   start, end, limit)
        return i, period, times

    def _stat_rows(self, request_params: dict, row_of):
        i, period, times = self._stat_args(request_params)
        spec = self.venue.specs[i]
        stats = self._stats[i]
        out = []
        for t in times:
            row = stats.at(t)
            if row is not None:
                out.append(row_of(i, spec, t, row))
        return json_response(out)

    @staticmethod
    def _ratio_json(spec, t: int, long: int, short: int) -> dict:
        """Binance's ratio rows: the long and short shares (4 decimals) and their ratio ("0"
        while there is no short side)."""
        total = long + short
        la = Decimal(long) / total if total else Decimal(0)
        sa = Decimal(short) / total if total else Decimal(0)
        q = Decimal("0.0001")
        return {"symbol": spec.symbol,
                "longShortRatio": str((la / sa).quantize(q)) if sa else "0",
                "longAccount": str(la.quantize(q)), "shortAccount": str(sa.quantize(q)),
                "timestamp": t}

    async def open_interest_hist(self, request):
        """``GET /futures/data/openInterestHist``: the open interest (long lots) at each
        period's timestamp, and its value at the mark then."""
        params = await self._params(request)

        def row_of(i, spec, t, row):
            oi = spec.lots_to_qty(row[0])
            mark = self._price_at(self._mark_series[i], t)
            return {"symbol": spec.symbol, "sumOpenInterest": f"{oi:.8f}",
                    "sumOpenInterestValue": f"{oi * (mark or 0):.8f}", "timestamp": t}
        return self._stat_rows(params, row_of)

    async def global_long_short_account_ratio(self, request):
        """``GET /futures/data/globalLongShortAccountRatio``: accounts net long and net short
        among all accounts holding a position."""
        params = await self._params(request)
        return self._stat_rows(params, lambda _i, spec, t, row: self._ratio_json(spec, t, row[1], row[2]))

    async def top_long_short_account_ratio(self, request):
        """``GET /futures/data/topLongShortAccountRatio``: the same among the top traders
        (the fifth of the holders with the largest margin balance)."""
        params = await self._params(request)
        return self._stat_rows(params, lambda _i, spec, t, row: self._ratio_json(spec, t, row[3], row[4]))

    async def top_long_short_position_ratio(self, request):
        """``GET /futures/data/topLongShortPositionRatio``: the top traders' long and short
        position sizes (Binance names the shares ``longAccount`` / ``shortAccount`` here too)."""
        params = await self._params(request)
        return self._stat_rows(params, lambda _i, spec, t, row: self._ratio_json(spec, t, row[5], row[6]))

    async def taker_long_short_ratio(self, request):
        """``GET /futures/data/takerlongshortRatio``: taker buy and sell volume (base units) of
        the period ending at each timestamp, and their ratio ("0" without taker sells)."""
        params = await self._params(request)
        i, period, times = self._stat_args(params)
        stats = self._stats[i]
        w = history.INTERVALS[period]
        q = Decimal("0.0001")
        out = []
        for t in times:
            buy, sell = stats.taker_volume(t - w, t)
            out.append({"buySellRatio": str((buy / sell).quantize(q)) if sell else "0",
                        "buyVol": f"{buy:.4f}", "sellVol": f"{sell:.4f}", "timestamp": t})
        return json_response(out)

    async def basis(self, request):
        """``GET /futures/data/basis``: the last trade price against the index at each
        timestamp (``contractType`` PERPETUAL: the venue lists perpetuals only, so
        ``annualizedBasisRate`` is empty as Binance shows it for perpetuals)."""
        params = await self._params(request)
        ct = params.get("contractType")
        if not ct:
            raise missing("contractType")
        if ct not in ("CURRENT_QUARTER", "NEXT_QUARTER", "PERPETUAL"):
            raise BinanceError(-1100, "Illegal characters found in parameter 'contractType'; "
                                      "legal range is 'CURRENT_QUARTER', 'NEXT_QUARTER', "
                                      "'PERPETUAL'.")
        i, period, times = self._stat_args(params, "pair")
        if ct != "PERPETUAL":
            return json_response([])               # no delivery contracts listed
        spec = self.venue.specs[i]
        out = []
        for t in times:
            index = self._price_at(self._index_series[i], t)
            price = self._price_at(self._trade_series[i], t) or self._price_at(self._mark_series[i], t)
            if not index or price is None:
                continue
            basis = price - index
            out.append({"indexPrice": f"{index:.8f}", "contractType": "PERPETUAL",
                        "basisRate": str((basis / index).quantize(Decimal("0.0001"))),
                        "futuresPrice": history._fmt(price), "annualizedBasisRate": "",
                        "basis": f"{basis:.8f}", "pair": spec.symbol, "timestamp": t})
        return json_response(out)

    @staticmethod
    def _price_at(series, t: int):
        """The series' last price before ``t`` (None if none is kept)."""
        k = bisect.bisect_left(series.t, t) - 1
        return series.rows[k][1] if k >= 0 else None
