"""Public market-data endpoints: ping, time, exchangeInfo (USDⓈ-M, and the empty spot and COIN-M
ones), depth, trades, tickers, premiumIndex, fundingRate, openInterest, and the currency lists
clients load at start-up.
"""
from __future__ import annotations

from decimal import Decimal

from exchange.server.clock import now_ms
from exchange.server.errors import BinanceError
from exchange.server.params import MAX_PRICE_TICKS, ORDER_TYPES, TIFS, decimals_of, int_param
from exchange.server.payloads import dec, json_response
from exchange.units import RATE_SCALE


class MarketHandlers:
    """Public market-data endpoints. A part of :class:`~exchange.server.binance.MockBinance`, whose
    state it shares."""

    async def ping(self, request):
        return json_response({})

    async def server_time(self, request):
        return json_response({"serverTime": now_ms()})

    async def exchange_info(self, request):
        now = now_ms()
        symbols = []
        marks = self.venue.core.arrays()["mark"]
        for i, spec in enumerate(self.venue.specs):
            band = Decimal(spec.price_band_rate) / RATE_SCALE
            take = Decimal(spec.market_take_bound_rate) / RATE_SCALE
            min_notional = Decimal(spec.min_notional_atoms).scaleb(-spec.settle_decimals)
            max_price = spec.ticks_to_price(MAX_PRICE_TICKS)
            symbols.append({
                "symbol": spec.symbol, "pair": spec.symbol, "contractType": "PERPETUAL",
                "deliveryDate": 4133404800000, "onboardDate": 1569398400000,
                # an instrument with no mark yet (the host never priced it; a scenario
                # trades another) is not open for trading (Binance's PENDING_TRADING)
                "status": "TRADING" if int(marks[i]) > 0 else "PENDING_TRADING",
                "maintMarginPercent": "2.5000", "requiredMarginPercent": "5.0000",
                # USDⓈ-M contracts are quoted in their margin asset: a venue's USD-quoted,
                # USDC-settled perpetual (Hyperliquid, dYdX) is served as a USDC-margined one,
                # which clients read as linear (ccxt: settle == quote)
                "baseAsset": spec.base, "quoteAsset": spec.settle, "marginAsset": spec.settle,
                "pricePrecision": decimals_of(spec.tick_size),
                "quantityPrecision": decimals_of(spec.lot_size),
                "baseAssetPrecision": 8, "quotePrecision": 8, "underlyingType": "COIN",
                "underlyingSubType": [], "settlePlan": 0, "triggerProtect": "0.0500",
                "liquidationFee": f"{Decimal(spec.liquidation_fee_rate) / RATE_SCALE:.6f}",
                "marketTakeBound": dec(take), "maxMoveOrderLimit": 10000,
                "filters": [
                    {"filterType": "PRICE_FILTER", "minPrice": dec(spec.tick_size),
                     "maxPrice": dec(max_price), "tickSize": dec(spec.tick_size)},
                    {"filterType": "LOT_SIZE", "stepSize": dec(spec.lot_size),
                     "maxQty": dec(spec.lots_to_qty(spec.max_order_lots)),
                     "minQty": dec(spec.lot_size)},
                    {"filterType": "MARKET_LOT_SIZE", "stepSize": dec(spec.lot_size),
                     "maxQty": dec(spec.lots_to_qty(spec.max_market_lots)),
                     "minQty": dec(spec.lot_size)},
                    {"filterType": "MAX_NUM_ORDERS", "limit": 200},
                    {"filterType": "MAX_NUM_ALGO_ORDERS", "limit": 10},
                    {"filterType": "MIN_NOTIONAL", "notional": dec(min_notional)},
                    {"filterType": "PERCENT_PRICE", "multiplierUp": f"{1 + band:.4f}",
                     "multiplierDown": f"{1 - band:.4f}", "multiplierDecimal": "4"},
                ],
                "orderTypes": list(ORDER_TYPES), "timeInForce": [*TIFS, "GTD"]})
        return json_response({
            "timezone": "UTC", "serverTime": now, "futuresType": "U_MARGINED",
            "rateLimits": [
                {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1,
                 "limit": 2400},
                {"rateLimitType": "ORDERS", "interval": "MINUTE", "intervalNum": 1, "limit": 1200},
                {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 300}],
            "exchangeFilters": [],
            "assets": [{"asset": self.settle_asset, "marginAvailable": True,
                        "autoAssetExchange": "-10000"}],
            "symbols": symbols})

    async def depth(self, request):
        params = await self._params(request)
        i = self._instr(params)
        limit = int_param(params, "limit", default=500)
        if limit not in (5, 10, 20, 50, 100, 500, 1000):
            raise BinanceError(-1130, "Invalid data sent for a parameter: limit must be one of "
                                      "5, 10, 20, 50, 100, 500, 1000.")
        self._drain_books()
        spec = self.venue.specs[i]
        book = self.venue.core.book(i)
        now = now_ms()

        def levels(side):
            return [[dec(spec.ticks_to_price(p)), dec(spec.lots_to_qty(q))]
                    for p, q in book.depth(side, limit)]

        return json_response({"lastUpdateId": self._update_id[i], "E": now, "T": now,
                                  "bids": levels(0), "asks": levels(1)})

    async def trades(self, request):
        params = await self._params(request)
        i = self._instr(params)
        limit = min(max(int_param(params, "limit", default=500), 1), 1000)
        return json_response(self._trades[i][-limit:])

    async def historical_trades(self, request):
        """``GET /fapi/v1/historicalTrades`` (Old Trades Lookup, MARKET_DATA: the API key, no
        signature): up to ``limit`` (default 100, at most 500) of the order book's trades
        from trade id ``fromId`` on, oldest first; without ``fromId`` the latest ones."""
        import bisect

        self._api_key_only(request)
        params = await self._params(request)
        i = self._instr(params)
        limit = min(max(int_param(params, "limit", default=100), 1), 500)
        trades = self._trades[i]
        from_id = int_param(params, "fromId", default=None)
        if from_id is None:
            return json_response(trades[-limit:])
        k = bisect.bisect_left(trades, from_id, key=lambda t: t["id"])
        return json_response(trades[k:k + limit])

    async def funding_info(self, request):
        """``GET /fapi/v1/fundingInfo`` (https://developers.binance.com/docs/derivatives/usds-margined-futures/market-data/rest-api/Get-Funding-Rate-Info,
        read 2026-12-07): each symbol's funding cap and floor and interval, from the
        preset (Binance lists only symbols whose values were adjusted; the mock lists every
        one, so that a client can read the interval of each)."""
        f = self.venue.preset.funding
        cap = Decimal(f.cap_rate) / RATE_SCALE
        return json_response([{"symbol": spec.symbol, "adjustedFundingRateCap": f"{cap:.8f}",
                               "adjustedFundingRateFloor": f"{-cap:.8f}",
                               "fundingIntervalHours": int(f.pay_every_hours),
                               "disclaimer": False} for spec in self.venue.specs])

    async def system_status(self, request):
        """``GET /sapi/v1/system/status`` (ccxt's fetch_status): 0, normal."""
        return json_response({"status": 0, "msg": "normal"})

    def _each(self, params: dict, one):
        i = self._instr(params, required=False)
        if i is not None:
            return json_response(one(i))
        return json_response([one(j) for j in range(len(self.venue.specs))])

    async def ticker_price(self, request):
        params = await self._params(request)

        def one(i):
            spec = self.venue.specs[i]
            last = int(self.venue.core.arrays()["last"][i])
            return {"symbol": spec.symbol, "price": dec(spec.ticks_to_price(last) if last else 0),
                    "time": now_ms()}

        return self._each(params, one)

    async def book_ticker(self, request):
        params = await self._params(request)
        self._drain_books()                     # lastUpdateId: every change so far counted
        return self._each(params, self._top)

    async def ticker_24hr(self, request):
        params = await self._params(request)
        now = now_ms()
        return self._each(params, lambda i: self._day_stats(i, now))

    async def premium_index(self, request):
        params = await self._params(request)
        now = now_ms()
        return self._each(params, lambda i: self._premium(i, now))

    async def funding_rate(self, request):
        params = await self._params(request)
        i = self._instr(params, required=False)
        limit = min(max(int_param(params, "limit", default=100), 1), 1000)
        rows = self._funding[i] if i is not None else [r for rs in self._funding for r in rs]
        start = int_param(params, "startTime", default=0)
        end = int_param(params, "endTime", default=2**62)
        rows = [r for r in rows if start <= r["fundingTime"] <= end]
        return json_response(rows[-limit:])

    async def open_interest(self, request):
        """``GET /fapi/v1/openInterest``: the sum of the long positions, in base units."""
        params = await self._params(request)
        i = self._instr(params)
        size = self.venue.core.arrays()["size"][i]
        lots = int(size[size > 0].sum())
        spec = self.venue.specs[i]
        return json_response({"openInterest": dec(spec.lots_to_qty(lots)),
                                  "symbol": spec.symbol, "time": now_ms()})

    async def spot_exchange_info(self, request):
        """Binance's spot ``/api/v3/exchangeInfo``: the venue lists no spot market (ccxt's
        ``binance`` class and freqtrade load it beside the futures markets)."""
        return json_response({
            "timezone": "UTC", "serverTime": now_ms(), "rateLimits": [],
            "exchangeFilters": [], "symbols": []})

    async def coinm_exchange_info(self, request):
        """COIN-M futures ``/dapi/v1/exchangeInfo``: none listed here."""
        return json_response({
            "timezone": "UTC", "serverTime": now_ms(), "rateLimits": [],
            "exchangeFilters": [], "symbols": []})

    async def capital_config(self, request):
        await self._signed(request)
        return json_response([
            {"coin": self.settle_asset, "name": "TetherUS", "depositAllEnable": False,
             "withdrawAllEnable": False, "free": "0", "locked": "0", "freeze": "0",
             "withdrawing": "0", "ipoing": "0", "ipoable": "0", "storage": "0",
             "isLegalMoney": False, "trading": True, "networkList": []}])

    async def margin_pairs(self, request):
        """Spot margin pairs: none (a futures venue); clients ask while loading currencies."""
        await self._signed(request)
        return json_response([])
