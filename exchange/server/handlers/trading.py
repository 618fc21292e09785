"""Order endpoints: new, query, cancel, modify, batchOrders (POST, PUT, DELETE), openOrders,
allOpenOrders, allOrders. Each command that changes the venue is a ``_cmd_*`` method, run
through :meth:`~exchange.server.durability.Durable._mutate` so it is journaled before it is
answered.
"""
from __future__ import annotations

import heapq

from decimal import Decimal

from exchange.errors import InvalidCommandError
from exchange.server.clock import now_ms
from exchange.server.errors import REJECTS, BinanceError, missing
from exchange.server.params import (
    CLIENT_ID,
    CONDITIONAL_TYPES,
    ORDER_TYPES,
    STP_MODES,
    TIFS,
    PRICE_MATCH,
    bool_param,
    check_price,
    check_qty,
    decimal_param,
    enum_param,
    int_param,
)
from exchange.server.payloads import dec, json_response
from exchange.server.state import ALL_ORDERS_WINDOW_MS
from exchange.units import RATE_SCALE
from exchange.venue import Order


class _Duplicate(Exception):
    pass


def _no_duplicates(pairs: list) -> dict:
    """A JSON object of a batch, refused (-1101) when it names a parameter twice."""
    out = dict(pairs)
    if len(out) != len(pairs):
        raise _Duplicate
    return out


class TradingHandlers:
    """Placing, querying, modifying and cancelling orders. A part of
    :class:`~exchange.server.binance.MockBinance`, whose state it shares."""

    def _batch_list(self, params: dict, name: str, item_type=dict) -> list:
        import json

        raw = params.get(name)
        if raw is None or raw == "":
            raise missing(name)
        try:
            items = json.loads(raw, parse_float=str, parse_int=str,
                               object_pairs_hook=_no_duplicates)
        except _Duplicate:
            raise BinanceError(-1101, "Duplicate values for a parameter detected.") from None
        except (ValueError, RecursionError):
            raise BinanceError(-1130, f"Invalid data sent for a parameter: '{name}' is not a "
                                      "JSON list.") from None
        if not isinstance(items, list) or not all(isinstance(x, item_type) for x in items):
            raise BinanceError(-1130, f"Invalid data sent for a parameter: '{name}' must be a "
                                      f"JSON list of {getattr(item_type, '__name__', 'values')}.")
        if not 1 <= len(items) <= (5 if name == "batchOrders" else 10):
            raise BinanceError(-1130, f"Invalid data sent for a parameter: '{name}' holds 1 "
                                      f"to 5 items (got {len(items)}).")
        return items

    async def batch_orders(self, request):
        """``POST /fapi/v1/batchOrders``: up to 5 orders, each answered in order with the
        order or its own error (Binance places them independently)."""
        cred, params = await self._signed(request)
        return self._mutate("batch_orders", cred, params)

    @staticmethod
    def _answer_each(items, act):
        """A batch endpoint's answer: each item in order, its result or its own error
        (Binance processes the items independently)."""
        out = []
        for item in items:
            try:
                out.append(act(item))
            except BinanceError as exc:
                out.append({"code": exc.code, "msg": exc.msg})
        return json_response(out)

    def _cmd_batch_orders(self, cred, params):
        def place(item):
            if not all(isinstance(v, (str, bool)) for v in item.values()):
                raise BinanceError(-1130, "Invalid data sent for a parameter: every order field "
                                          "must be a string.")
            return self._place(cred.account, {k: (str(v).lower() if isinstance(v, bool) else v)
                                              for k, v in item.items()})
        return self._answer_each(self._batch_list(params, "batchOrders"), place)

    async def batch_modify(self, request):
        cred, params = await self._signed(request)
        return self._mutate("batch_modify", cred, params)

    def _cmd_batch_modify(self, cred, params):
        return self._answer_each(
            self._batch_list(params, "batchOrders"),
            lambda item: self._modify(cred.account, {k: (str(v).lower() if isinstance(v, bool)
                                                        else str(v)) for k, v in item.items()}))

    async def batch_cancel(self, request):
        cred, params = await self._signed(request)
        return self._mutate("batch_cancel", cred, params)

    def _cmd_batch_cancel(self, cred, params):
        self._instr(params)
        # Binance's names, and the lower-case ones ccxt sends (both accepted by Binance)
        for name in ("orderidlist", "origclientorderidlist"):
            for k in list(params):
                if k.lower() == name and k != name:
                    params[name] = params.pop(k)
        if params.get("orderidlist"):
            ids = self._batch_list(params, "orderidlist", (int, str))
            subs = [{**params, "orderId": str(x), "origClientOrderId": ""} for x in ids]
        elif params.get("origclientorderidlist"):
            ids = self._batch_list(params, "origclientorderidlist", str)
            subs = [{**params, "orderId": "", "origClientOrderId": x} for x in ids]
        else:
            raise BinanceError(-1102, "Either orderIdList or origClientOrderIdList must be sent.")
        return self._answer_each(subs, lambda sub: self._cancel(cred.account, sub))

    async def new_order(self, request):
        cred, params = await self._signed(request)
        return self._mutate("new_order", cred, params)

    def _cmd_new_order(self, cred, params):
        return json_response(self._place(cred.account, params))

    def _place(self, acct: int, params: dict, algo: bool = False) -> dict:
        if algo:
            # the Algo Order API's names for the same things
            algo_type = params.get("algoType")
            if not algo_type:
                raise missing("algoType")
            if algo_type != "CONDITIONAL":
                raise BinanceError(-1100, "Illegal characters found in parameter 'algoType'; "
                                          "legal range is 'CONDITIONAL'.")
            if params.get("type") not in CONDITIONAL_TYPES:
                raise BinanceError(-1116, "Invalid orderType.")
            params = dict(params)
            for new_name, old_name in (("triggerPrice", "stopPrice"),
                                       ("clientAlgoId", "newClientOrderId"),
                                       ("activatePrice", "activationPrice")):
                params.pop(old_name, None)
                if new_name in params:
                    params[old_name] = params.pop(new_name)
        elif params.get("type") in CONDITIONAL_TYPES and self.algo_only:
            raise BinanceError(-4120, "Order type not supported for this endpoint. Please use "
                                      "the Algo Order API endpoints instead.")
        self._count_order(acct)
        i = self._instr(params)
        spec = self.venue.specs[i]
        if not self.venue.core.mark_ticks(i):
            # no mark price: margin, PnL and the price band have nothing to work from
            # (exchangeInfo lists it PENDING_TRADING)
            raise BinanceError(-1122, "Invalid symbol status.")
        side = enum_param(params, "side", ("BUY", "SELL"), -1117, "Invalid side.")
        otype = enum_param(params, "type", ORDER_TYPES, -1116, "Invalid orderType.")
        if params.get("positionSide", "BOTH") not in ("BOTH", ""):
            raise BinanceError(-4061, "Order's position side does not match user's setting.")
        close_position = bool_param(params, "closePosition")
        reduce_only = bool_param(params, "reduceOnly")
        if close_position and otype not in ("STOP_MARKET", "TAKE_PROFIT_MARKET"):
            raise BinanceError(-1106, "Parameter 'closePosition' sent when not required.")
        # Close-All closes the whole position: it "cannot be used with quantity", and
        # reduceOnly "cannot be sent with closePosition=true" (Binance New Order,
        # https://developers.binance.com/docs/derivatives/usds-margined-futures/trade/rest-api,
        # read 2026-12-07)
        if close_position and params.get("quantity") not in (None, ""):
            raise BinanceError(-1106, "Parameter 'quantity' sent when not required.")
        if close_position and reduce_only:
            raise BinanceError(-1106, "Parameter 'reduceOnly' sent when not required.")
        qty = None
        if not close_position:
            qty = decimal_param(params, "quantity", required=True)
            if qty <= 0:
                raise BinanceError(-4003, "Quantity less than or equal to zero.")
        price = None
        match = params.get("priceMatch") or "NONE"
        if match != "NONE":
            # the price from the book: OPPONENT(_N) the other side's best (N-th) level, QUEUE
            # (_N) its own side's (Binance New Order, "Can't be passed together with price";
            # https://developers.binance.com/docs/derivatives/usds-margined-futures/trade/rest-api,
            # read 2026-12-07)
            if match not in PRICE_MATCH:
                raise BinanceError(-5037, "Invalid price match")
            if otype not in ("LIMIT", "STOP", "TAKE_PROFIT"):
                raise BinanceError(-5038, "Price match only supports order type: LIMIT, STOP "
                                          "AND TAKE_PROFIT")
            if otype != "LIMIT":
                raise BinanceError(-1000, "priceMatch on a STOP or TAKE_PROFIT order (priced when "
                                          "it triggers) is not supported by the mock.")
            if params.get("price") not in (None, ""):
                raise BinanceError(-1106, "Parameter 'price' sent when not required.")
            kind, _, depth = match.partition("_")
            book_side = (1 if side == "BUY" else 0) if kind == "OPPONENT" else (
                0 if side == "BUY" else 1)
            levels = self.venue.core.book(i).depth(book_side, int(depth or 1))
            if len(levels) < int(depth or 1):
                raise BinanceError(-5041, "No depth matches this BBO order")
            params = {**params, "price": str(spec.ticks_to_price(levels[-1][0]))}
        if otype in ("LIMIT", "STOP", "TAKE_PROFIT"):
            price = decimal_param(params, "price", required=True)
            if price <= 0:
                raise BinanceError(-4001, "Price less than 0.")
        stop = None
        if otype in ("STOP", "STOP_MARKET", "TAKE_PROFIT", "TAKE_PROFIT_MARKET"):
            stop = decimal_param(params, "stopPrice", required=True)
        tif = params.get("timeInForce") or "GTC"
        if tif not in TIFS and tif != "GTD":
            raise BinanceError(-1115, "Invalid timeInForce.")
        if otype == "MARKET":
            tif = "GTC"                       # Binance reports market orders as GTC
        gtd = 0
        if tif == "GTD":
            # cancelled (EXPIRED) at goodTillDate, kept to the second; more than 600 s ahead
            # (-5040, Binance's error codes, read 2026-12-07)
            gtd = int_param(params, "goodTillDate", required=True) // 1000 * 1000
            if not now_ms() + 600_000 < gtd < 253402300799000:
                raise BinanceError(-5040, "The goodTillDate timestamp must be greater than the "
                                          "current time plus 600 seconds and smaller than "
                                          "253402300799000 (UTC 9999-12-31 23:59:59)")
        elif params.get("goodTillDate") not in (None, ""):
            raise BinanceError(-1106, "Parameter 'goodTillDate' sent when not required.")
        working = params.get("workingType", "CONTRACT_PRICE")
        if working not in ("MARK_PRICE", "CONTRACT_PRICE"):
            raise BinanceError(-1100, "Illegal characters found in parameter 'workingType'; "
                                      "legal range is 'MARK_PRICE', 'CONTRACT_PRICE'.")
        stp = params.get("selfTradePreventionMode", "NONE") or "NONE"
        if stp not in STP_MODES:
            raise BinanceError(-1100, "Illegal characters found in parameter "
                                      "'selfTradePreventionMode'.")
        # a generated id is deterministic (a counter), so that a replay makes the same
        client_id = params.get("newClientOrderId") or f"perpsim-{next(self._auto_ids):012d}"
        if not CLIENT_ID.fullmatch(client_id):
            raise BinanceError(-4015, "Client order id is not valid.")
        # the filters Binance applies before the matching engine sees the order
        if qty is not None:
            check_qty(spec, qty, market=otype in ("MARKET", "STOP_MARKET", "TAKE_PROFIT_MARKET",
                                                   "TRAILING_STOP_MARKET"))
        if price is not None:
            check_price(spec, price, "price")
        if stop is not None:
            if stop <= 0:
                raise BinanceError(-4006, "Stop price less than zero.")
            check_price(spec, stop, "stopPrice")
        prev = self._by_client.get((acct, client_id, algo))
        if prev is not None and prev.status in ("NEW", "PARTIALLY_FILLED"):
            raise BinanceError(-4116, "ClientOrderId is duplicated.")
        callback = activation = None
        if otype == "TRAILING_STOP_MARKET":
            callback = decimal_param(params, "callbackRate", required=True)
            if "activationPrice" in params:
                activation = decimal_param(params, "activationPrice")
                if activation is not None:
                    if activation <= 0:
                        raise BinanceError(-4006, "Stop price less than zero.")
                    check_price(spec, activation, "activationPrice")
        order = Order(symbol=spec.symbol, side=side, qty=qty, price=price, type=otype,
                      tif=("GTC" if tif == "GTD" else tif) if otype != "MARKET" else "IOC",
                      reduce_only=reduce_only, close_position=close_position, stop_price=stop,
                      working_type=working, callback_rate=callback, activation_price=activation,
                      stp=stp, client_id=client_id)
        origin = {"account": acct, "client_id": client_id, "side": side, "type": otype,
                  "tif": tif, "working_type": working, "stp": stp, "reduce_only": reduce_only,
                  "close_position": close_position,
                  "callback_rate": dec(callback) if callback is not None else None, "algo": algo,
                  "good_till": gtd, "price_match": match,
                  "activation_ticks": spec.price_to_ticks(activation) if activation else 0}
        self._pending_origin = origin            # the record hook binds the accepted order
        try:
            events = self.venue.submit(acct, order)
        except InvalidCommandError as exc:
            raise BinanceError(-1100, f"Illegal characters found in a parameter: {exc}") from None
        finally:
            self._pending_origin = None
        o = origin.get("order")
        if o is None:
            rejected = [e for e in events if e.name == "OrderRejected" and e.account == acct]
            self._raise_reject(rejected[0] if rejected else None, spec, side)
        return self._algo_json(o) if algo else self._order_json(o, full=False)

    def _raise_reject(self, e, spec, side: str) -> None:
        if e is None:
            raise BinanceError(-1000, "An unknown error occurred while processing the request.")
        code, msg = REJECTS.get(e.reason, (-1000, f"Rejected by the venue: reason {e.reason}."))
        arr = self.venue.core.arrays()
        mark = int(arr["mark"][e.instrument])
        band = Decimal(spec.price_band_rate) / RATE_SCALE
        # the bound the price broke: above the mark, the upper (-4016 "can't be higher");
        # below, the lower (-4024 "can't be lower") — Binance's PERCENT_PRICE filter codes
        # (https://developers.binance.com/docs/derivatives/usds-margined-futures/error-code,
        # read 2026-12-02)
        price_ticks = int(getattr(e, "price_ticks", 0) or 0)
        above = price_ticks > mark if price_ticks and mark else side == "BUY"
        bound = spec.ticks_to_price(mark) * (1 + band if above else 1 - band) if mark else 0
        if code == -4016 and not above:
            code = -4024
        msg = msg.format(min_notional=dec(Decimal(spec.min_notional_atoms).scaleb(-spec.settle_decimals)),
                         direction="higher" if above else "lower",
                         bound=dec(Decimal(bound).quantize(spec.tick_size)) if bound else "0",
                         leverage=e.qty_lots)
        raise BinanceError(code, msg)

    async def query_order(self, request):
        cred, params = await self._signed(request)
        return json_response(self._order_json(self._find(cred.account, params, -2013)))

    async def query_open_order(self, request):
        cred, params = await self._signed(request)
        o = self._find(cred.account, params, -2013)
        if o.status not in ("NEW", "PARTIALLY_FILLED"):
            raise BinanceError(-2013, "Order does not exist.")
        return json_response(self._order_json(o))

    async def cancel_order(self, request):
        cred, params = await self._signed(request)
        return self._mutate("cancel_order", cred, params)

    def _cmd_cancel_order(self, cred, params):
        return json_response(self._cancel(cred.account, params))

    def _cancel(self, acct: int, params: dict) -> dict:
        o = self._find(acct, params, -2011)
        if o.status not in ("NEW", "PARTIALLY_FILLED"):
            raise BinanceError(-2011, "Unknown order sent.")
        if o.venue_oid > 0:
            # a resting order: the core's cancel and a drain (the driver API,
            # Exchange.drain_records) do what Exchange.cancel does for it, and the records
            # reach the orders of record through the hook, without a second set of events
            self.venue.core.cancel(acct, o.venue_oid)
            self.venue.drain_records()
        else:                                       # conditional: the venue layer holds it
            self.venue.cancel(acct, o.venue_oid)
        return self._order_json(o, full=False)

    async def modify_order(self, request):
        cred, params = await self._signed(request)
        return self._mutate("modify_order", cred, params)

    def _cmd_modify_order(self, cred, params):
        return json_response(self._modify(cred.account, params))

    def _modify(self, acct: int, params: dict) -> dict:
        self._count_order(acct)
        o = self._find(acct, params, -2013)
        if o.type != "LIMIT" or o.status not in ("NEW", "PARTIALLY_FILLED"):
            raise BinanceError(-2013, "Order does not exist.")
        side = enum_param(params, "side", ("BUY", "SELL"), -1117, "Invalid side.")
        if side != o.side:
            raise BinanceError(-4123, "Side does not match.")
        qty = decimal_param(params, "quantity", required=True)
        price = decimal_param(params, "price", required=True)
        spec = self.venue.specs[o.instr]
        if price <= 0:
            raise BinanceError(-4001, "Price less than 0.")
        if qty <= 0:
            raise BinanceError(-4003, "Quantity less than or equal to zero.")
        check_qty(spec, qty, market=False)
        ticks = check_price(spec, price, "price")
        # a modified price must pass the band a new order's does (PERCENT_PRICE)
        mark = self.venue.core.mark_ticks(o.instr)
        if mark:
            lo, hi = spec.price_band_ticks(mark)
            if not lo <= ticks <= hi:
                band = Decimal(spec.price_band_rate) / RATE_SCALE
                above = ticks > hi
                bound = spec.ticks_to_price(mark) * (1 + band if above else 1 - band)
                raise BinanceError(-4016 if above else -4024,
                                   f"Limit price can't be {'higher' if above else 'lower'} than "
                                   f"{dec(Decimal(bound).quantize(spec.tick_size))}.")
        lots = spec.qty_to_lots(qty)
        if lots <= o.executed_lots:
            raise BinanceError(-4003, "Quantity less than or equal to zero.")
        min_notional = Decimal(spec.min_notional_atoms).scaleb(-spec.settle_decimals)
        if not o.reduce_only and price * qty < min_notional:
            raise BinanceError(-5029, f"Order's notional must be no smaller than "
                                      f"{dec(min_notional)}")
        before = (dec(spec.ticks_to_price(o.price_ticks)), dec(spec.lots_to_qty(o.orig_lots)))
        events = self.venue.amend(acct, o.venue_oid, qty=spec.lots_to_qty(lots - o.executed_lots),
                                  price=price)
        rejected = [e for e in events if e.name == "OrderRejected"]
        if rejected:
            self._raise_reject(rejected[0], spec, o.side)
        o.orig_lots = lots
        history = self._amendments.setdefault(o.order_id, [])
        history.append({"amendmentId": next(self._amendment_ids), "symbol": o.symbol,
                        "pair": o.symbol, "orderId": o.order_id, "clientOrderId": o.client_id,
                        "time": now_ms(), "amendment": {
                            "price": {"before": before[0], "after": dec(price)},
                            "origQty": {"before": before[1], "after": dec(qty)},
                            "count": len(history) + 1}})
        return self._order_json(o, full=False)

    async def order_amendments(self, request):
        """``GET /fapi/v1/orderAmendment``: an order's modifications, newest first (``orderId``
        or ``origClientOrderId``; within ``startTime``..``endTime``; ``limit`` default 50,
        max 100) (https://developers.binance.com/docs/derivatives/usds-margined-futures/trade/rest-api/Get-Order-Modify-History,
        read 2026-12-07)."""
        cred, params = await self._signed(request)
        o = self._find(cred.account, params, -2013)
        start, end, limit = self._window(params, 50, 100)
        rows = [r for r in reversed(self._amendments.get(o.order_id, []))
                if (start is None or r["time"] >= start) and (end is None or r["time"] <= end)]
        return json_response(rows[:limit])

    async def countdown_cancel_all(self, request):
        cred, params = await self._signed(request)
        return self._mutate("countdown_cancel_all", cred, params)

    def _cmd_countdown_cancel_all(self, cred, params):
        """``POST /fapi/v1/countdownCancelAll``: every open order of ``symbol`` is cancelled
        once ``countdownTime`` ms pass without another call; 0 stops the countdown
        (https://developers.binance.com/docs/derivatives/usds-margined-futures/trade/rest-api/Auto-Cancel-All-Open-Orders,
        read 2026-12-07). The countdowns are checked every 100 ms (Binance: about every
        10 ms); the cancel is journaled like a client's."""
        i = self._instr(params)
        ms = int_param(params, "countdownTime", required=True)
        if ms:
            self._countdowns[(cred.account, i)] = now_ms() + ms
        else:
            self._countdowns.pop((cred.account, i), None)
        return json_response({"symbol": self.venue.specs[i].symbol, "countdownTime": str(ms)})

    def _cmd_expire_gtd(self, cred, params):
        """A GTD order's time came: cancelled by the venue, EXPIRED as Binance reports it
        (journaled, so that a restart replays it)."""
        o = self._find(cred.account, params, -2011)
        if o.status not in ("NEW", "PARTIALLY_FILLED"):
            return json_response({})
        events = self.venue.cancel(cred.account, o.venue_oid)
        if any(e.name == "OrderCanceled" for e in events):
            o.expired = True
            self._push_order(o, "EXPIRED", now_ms())
        return json_response({})

    def _run_good_till(self) -> None:
        """Expire the GTD orders whose goodTillDate passed."""
        if not self._good_till:
            return
        now = now_ms()
        while self._good_till and self._good_till[0][0] <= now:
            _, oid = heapq.heappop(self._good_till)
            o = self._orders.get(oid)
            if o is None or o.status not in ("NEW", "PARTIALLY_FILLED"):
                continue
            cred = self._cred_of(o.account)
            if cred is not None:
                try:
                    self._mutate("expire_gtd", cred, {"symbol": o.symbol,
                                                      "orderId": str(o.order_id)})
                except BinanceError:
                    pass

    def _cred_of(self, acct: int):
        """A key of ``acct`` (the venue's own timers act through it, journaled), or None."""
        return next((c for c in self._keys.values() if c.account == acct), None)

    def _run_countdowns(self) -> None:
        """Cancel the open orders of every countdown that ran out (``_cmd_cancel_all``, through
        the journal)."""
        if not self._countdowns:
            return
        now = now_ms()
        for (acct, i), due in list(self._countdowns.items()):
            if due > now:
                continue
            del self._countdowns[(acct, i)]
            cred = self._cred_of(acct)
            if cred is None:
                continue
            try:
                self._mutate("cancel_all", cred, {"symbol": self.venue.specs[i].symbol})
            except BinanceError:
                pass

    async def open_orders(self, request):
        cred, params = await self._signed(request)
        instr = self._instr(params, required=False)
        return json_response([self._order_json(o) for o in self._open(cred.account, instr)])

    async def cancel_all(self, request):
        cred, params = await self._signed(request)
        return self._mutate("cancel_all", cred, params)

    def _cmd_cancel_all(self, cred, params):
        instr = self._instr(params)
        for o in self._open(cred.account, instr):
            self.venue.cancel(cred.account, o.venue_oid)
        return json_response({"code": 200, "msg": "The operation of cancel all open order is done."})

    async def all_orders(self, request):
        cred, params = await self._signed(request)
        instr = self._instr(params)
        limit = min(max(int_param(params, "limit", default=500), 1), 1000)
        now = now_ms()
        from_id = int_param(params, "orderId", default=0)
        start = int_param(params, "startTime", default=None)
        end = int_param(params, "endTime", default=None)
        # Binance: the window is at most 7 days; without times, the last 7 days; with an
        # orderId and no times, the orders from that id on
        if start is not None and end is not None and end - start > ALL_ORDERS_WINDOW_MS:
            raise BinanceError(-1127, "More than 168 hours between startTime and endTime.")
        if start is None and end is None:
            start = 0 if from_id else now - ALL_ORDERS_WINDOW_MS
        elif start is None:
            start = end - ALL_ORDERS_WINDOW_MS
        if end is None:
            end = start + ALL_ORDERS_WINDOW_MS if not from_id else now
        self._retire(now)
        rows = [o for o in self._orders.values() if o.account == cred.account and o.instr == instr
                and not o.algo and start <= o.time_ms <= end and o.order_id >= from_id
                and self._retained(o, now)]
        # from an orderId on: the first ``limit``; otherwise the most recent ``limit``
        return json_response([self._order_json(o) for o in (rows[:limit] if from_id
                                                            else rows[-limit:])])
