"""The Algo Order API for conditional orders (stop, take-profit, trailing stop): algoOrder (new,
query, cancel), openAlgoOrders, allAlgoOrders, algoOpenOrders, as Binance serves them since
December 2025.
"""
from __future__ import annotations

from exchange.server.errors import BinanceError
from exchange.server.params import int_param
from exchange.server.payloads import json_response


class AlgoHandlers:
    """Conditional orders through the Algo Order API. A part of
    :class:`~exchange.server.binance.MockBinance`, whose state it shares."""

    async def new_algo_order(self, request):
        cred, params = await self._signed(request)
        return self._mutate("new_algo_order", cred, params)

    def _cmd_new_algo_order(self, cred, params):
        return json_response(self._place(cred.account, params, algo=True))

    async def query_algo_order(self, request):
        cred, params = await self._signed(request)
        return json_response(self._algo_json(self._find_algo(cred.account, params, -2013)))

    async def cancel_algo_order(self, request):
        cred, params = await self._signed(request)
        return self._mutate("cancel_algo_order", cred, params)

    def _cmd_cancel_algo_order(self, cred, params):
        o = self._find_algo(cred.account, params, -2011)
        if o.status != "NEW":
            raise BinanceError(-2011, "Unknown order sent.")
        self.venue.cancel(cred.account, o.venue_oid)
        return json_response({"algoId": o.order_id, "clientAlgoId": o.client_id,
                                  "code": "200", "msg": "success"})

    async def open_algo_orders(self, request):
        cred, params = await self._signed(request)
        instr = self._instr(params, required=False)
        return json_response([self._algo_json(o) for o in self._algos(cred.account, instr, True)])

    async def all_algo_orders(self, request):
        cred, params = await self._signed(request)
        instr = self._instr(params)
        limit = min(max(int_param(params, "limit", default=500), 1), 1000)
        rows = self._algos(cred.account, instr, False)
        return json_response([self._algo_json(o) for o in rows[-limit:]])

    async def cancel_all_algo(self, request):
        cred, params = await self._signed(request)
        return self._mutate("cancel_all_algo", cred, params)

    def _cmd_cancel_all_algo(self, cred, params):
        instr = self._instr(params)
        for o in self._algos(cred.account, instr, True):
            self.venue.cancel(cred.account, o.venue_oid)
        return json_response({"code": 200, "msg": "The operation of cancel all open order is done."})
