"""The aiohttp application: the route table (every REST path and WebSocket URL shape), the
middleware that charges rate limits and answers every error in Binance's envelope.
"""
from __future__ import annotations

from aiohttp import web

from exchange.errors import InvalidCommandError
from exchange.server.errors import BinanceError
from exchange.server.limits import request_weight
from exchange.server.payloads import Answer, json_response


class App:
    """The route table and the error/limit middleware. A part of
    :class:`~exchange.server.binance.MockBinance`, whose state it shares."""

    def _make_app(self) -> web.Application:
        app = web.Application(middlewares=[self._errors])
        r = app.router
        get, post, delete, put = r.add_get, r.add_post, r.add_delete, r.add_put
        get("/fapi/v1/ping", self.ping)
        get("/fapi/v1/time", self.server_time)
        get("/fapi/v1/exchangeInfo", self.exchange_info)
        get("/fapi/v1/depth", self.depth)
        get("/fapi/v1/trades", self.trades)
        get("/fapi/v1/historicalTrades", self.historical_trades)
        get("/fapi/v1/aggTrades", self.agg_trades)
        get("/fapi/v1/klines", self.klines)
        get("/fapi/v1/continuousKlines", self.continuous_klines)
        get("/fapi/v1/markPriceKlines", self.mark_price_klines)
        get("/fapi/v1/indexPriceKlines", self.index_price_klines)
        get("/fapi/v1/premiumIndexKlines", self.premium_index_klines)
        get("/fapi/v1/openInterest", self.open_interest)
        get("/fapi/v1/income", self.income)
        get("/fapi/v1/forceOrders", self.force_orders)
        get("/fapi/v1/commissionRate", self.commission_rate)
        get("/fapi/v1/adlQuantile", self.adl_quantile)
        get("/futures/data/openInterestHist", self.open_interest_hist)
        get("/futures/data/globalLongShortAccountRatio", self.global_long_short_account_ratio)
        get("/futures/data/topLongShortAccountRatio", self.top_long_short_account_ratio)
        get("/futures/data/topLongShortPositionRatio", self.top_long_short_position_ratio)
        get("/futures/data/takerlongshortRatio", self.taker_long_short_ratio)
        get("/futures/data/basis", self.basis)
        post("/fapi/v1/batchOrders", self.batch_orders)
        put("/fapi/v1/batchOrders", self.batch_modify)
        delete("/fapi/v1/batchOrders", self.batch_cancel)
        get("/api/v3/exchangeInfo", self.spot_exchange_info)
        get("/api/v3/ping", self.ping)
        get("/api/v3/time", self.server_time)
        get("/dapi/v1/exchangeInfo", self.coinm_exchange_info)
        get("/fapi/v1/ticker/price", self.ticker_price)
        get("/fapi/v2/ticker/price", self.ticker_price)
        get("/fapi/v1/ticker/bookTicker", self.book_ticker)
        get("/fapi/v1/ticker/24hr", self.ticker_24hr)
        get("/fapi/v1/premiumIndex", self.premium_index)
        get("/fapi/v1/fundingRate", self.funding_rate)
        post("/fapi/v1/order", self.new_order)
        get("/fapi/v1/order", self.query_order)
        delete("/fapi/v1/order", self.cancel_order)
        put("/fapi/v1/order", self.modify_order)
        post("/fapi/v1/algoOrder", self.new_algo_order)
        get("/fapi/v1/algoOrder", self.query_algo_order)
        delete("/fapi/v1/algoOrder", self.cancel_algo_order)
        get("/fapi/v1/openAlgoOrders", self.open_algo_orders)
        get("/fapi/v1/allAlgoOrders", self.all_algo_orders)
        delete("/fapi/v1/algoOpenOrders", self.cancel_all_algo)
        get("/fapi/v1/openOrders", self.open_orders)
        get("/fapi/v1/openOrder", self.query_open_order)
        delete("/fapi/v1/allOpenOrders", self.cancel_all)
        get("/fapi/v1/allOrders", self.all_orders)
        get("/fapi/v1/userTrades", self.user_trades)
        for v in ("v2", "v3"):
            get(f"/fapi/{v}/account", self.account)
            get(f"/fapi/{v}/balance", self.balance)
            get(f"/fapi/{v}/positionRisk", self.position_risk)
        post("/fapi/v1/leverage", self.leverage)
        post("/fapi/v1/marginType", self.margin_type)
        post("/fapi/v1/positionMargin", self.position_margin)
        get("/fapi/v1/positionSide/dual", self.position_side)
        post("/fapi/v1/positionSide/dual", self.set_position_side)
        get("/fapi/v1/positionMargin/history", self.position_margin_history)
        get("/fapi/v1/accountConfig", self.account_config)
        get("/fapi/v1/fundingInfo", self.funding_info)
        get("/fapi/v1/orderAmendment", self.order_amendments)
        post("/fapi/v1/countdownCancelAll", self.countdown_cancel_all)
        get("/sapi/v1/system/status", self.system_status)
        get("/fapi/v1/multiAssetsMargin", self.multi_assets)
        get("/fapi/v1/symbolConfig", self.symbol_config)
        get("/fapi/v1/leverageBracket", self.leverage_bracket)
        post("/fapi/v1/listenKey", self.listen_key_new)
        put("/fapi/v1/listenKey", self.listen_key_keep)
        delete("/fapi/v1/listenKey", self.listen_key_close)
        get("/sapi/v1/capital/config/getall", self.capital_config)
        get("/sapi/v1/margin/allPairs", self.margin_pairs)
        get("/sapi/v1/margin/isolated/allPairs", self.margin_pairs)
        for prefix in ("", "/public", "/market", "/private"):
            get(f"{prefix}/ws", self.ws_raw)
            get(prefix + "/ws/{streams:.*}", self.ws_raw)
            get(f"{prefix}/stream", self.ws_combined)
        get("/ws-fapi/v1", self.ws_api)
        app.on_startup.append(self._start_expiry)
        app.on_shutdown.append(self._stop_expiry)
        app.on_shutdown.append(lambda _app: self.hub.close_all())
        return app

    _ORDER_PATHS = ("/fapi/v1/order", "/fapi/v1/algoOrder", "/fapi/v1/batchOrders")

    @web.middleware
    async def _errors(self, request: web.Request, handler):
        resp = await self._limits(request, handler)
        if isinstance(resp, Answer) and isinstance(request, web.BaseRequest):
            return resp.to_aiohttp()                # served by aiohttp itself
        return resp

    async def _limits(self, request, handler):
        """Charge the request's weight, answer it (or 429 it), with the limit headers."""
        lim = self.limiter
        if lim is None or request.headers.get("Upgrade", "").lower() == "websocket":
            return await self._answer(request, handler)
        ip = request.remote or "?"
        over = lim.charge(ip, request_weight(request.method, request.path, request.query))
        if over is not None:
            status, code, msg, retry = over
            resp = json_response({"code": code, "msg": msg}, status=status,
                                     headers={"Retry-After": str(retry)})
        else:
            resp = await self._answer(request, handler)
        resp.headers["X-MBX-USED-WEIGHT-1M"] = str(lim.used_weight(ip))
        if request.path in self._ORDER_PATHS and request.method in ("POST", "PUT"):
            cred = self._keys.get(request.headers.get("X-MBX-APIKEY", ""))
            if cred is not None:
                n10, n60 = lim.order_counts(cred.account)
                resp.headers["X-MBX-ORDER-COUNT-10S"] = str(n10)
                resp.headers["X-MBX-ORDER-COUNT-1M"] = str(n60)
        return resp

    def _count_order(self, acct: int) -> None:
        if self.limiter is not None and not self._replaying:
            over = self.limiter.count_order(acct)
            if over is not None:
                status, code, msg, retry = over
                raise BinanceError(code, msg, status, headers={"Retry-After": str(retry)})

    async def _answer(self, request: web.Request, handler):
        if self.halted is not None:             # the journal failed: nothing more is served
            return json_response({"code": -1001, "msg": f"Internal error; unable to process "
                                  f"your request: {self.halted}."}, status=503)
        try:
            return await handler(request)
        except BinanceError as exc:
            return json_response({"code": exc.code, "msg": exc.msg}, status=exc.status,
                                     headers=exc.headers or None)
        except web.HTTPNotFound:
            return json_response({"code": -1000, "msg": f"{request.method} {request.path} "
                                      "is not supported by the mock"}, status=404)
        except web.HTTPMethodNotAllowed:
            return json_response({"code": -1000, "msg": f"{request.method} {request.path} "
                                      "is not supported by the mock"}, status=405)
        except web.HTTPException:
            raise
        except InvalidCommandError as exc:        # the venue refused a value the edge let by
            return json_response({"code": -1100, "msg": f"Illegal characters found in a "
                                      f"parameter: {exc}"}, status=400)
        except Exception:                          # a bug: Binance's envelope, logged
            import logging

            logging.getLogger("perpsim.server").exception("%s %s failed", request.method,
                                                          request.path)
            return json_response({"code": -1000, "msg": "An unknown error occurred while "
                                      "processing the request."}, status=500)
