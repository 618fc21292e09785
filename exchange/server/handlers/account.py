"""Account endpoints: account, balance, positionRisk (v2, v3), userTrades, income, forceOrders,
commissionRate, leverage, marginType, positionMargin, position mode, symbolConfig and
leverageBracket.
"""
from __future__ import annotations

from decimal import Decimal

from exchange.server.clock import now_ms
from exchange.server.errors import BinanceError
from exchange.server.params import (bool_param, decimal_param, enum_param, int_param, max_notional,
                                    missing, notional_cap)
from exchange.server.payloads import dec, json_response
from exchange.units import RATE_SCALE


class AccountHandlers:
    """Account, positions, margin settings and account history. A part of
    :class:`~exchange.server.binance.MockBinance`, whose state it shares."""

    async def user_trades(self, request):
        cred, params = await self._signed(request)
        instr = self._instr(params)
        limit = min(max(int_param(params, "limit", default=500), 1), 1000)
        start = int_param(params, "startTime", default=0)
        from_id = int_param(params, "fromId", default=0)
        sym = self.venue.symbols[instr]
        rows = [t for t in self._user_trades.get(cred.account, [])
                if t["symbol"] == sym and t["time"] >= start and t["id"] >= from_id]
        return json_response(rows[-limit:] if not from_id else rows[:limit])

    async def income(self, request):
        """``GET /fapi/v1/income``: realized PnL, commissions, funding fees and transfers of
        the account, oldest first; without times the last 7 days; ``limit`` default 100, max
        1000, ``page`` from 1
        (https://developers.binance.com/docs/derivatives/usds-margined-futures/account/rest-api/Get-Income-History,
        read 2026-12-02)."""
        cred, params = await self._signed(request)
        instr = self._instr(params, required=False)
        kind = params.get("incomeType")
        kinds = ("TRANSFER", "WELCOME_BONUS", "REALIZED_PNL", "FUNDING_FEE", "COMMISSION",
                 "INSURANCE_CLEAR", "REFERRAL_KICKBACK", "COMMISSION_REBATE", "API_REBATE",
                 "CONTEST_REWARD", "CROSS_COLLATERAL_TRANSFER", "OPTIONS_PREMIUM_FEE",
                 "OPTIONS_SETTLE_PROFIT", "INTERNAL_TRANSFER", "AUTO_EXCHANGE",
                 "DELIVERED_SETTELMENT", "COIN_SWAP_DEPOSIT", "COIN_SWAP_WITHDRAW",
                 "POSITION_LIMIT_INCREASE_FEE", "STRATEGY_UMFUTURES_TRANSFER",
                 "FEE_RETURN", "BFUSD_REWARD")
        if kind is not None and kind not in kinds:
            raise BinanceError(-1100, f"Illegal characters found in parameter 'incomeType'; "
                                      f"legal range is {', '.join(kinds)}.")
        start, end, limit = self._window(params, 100, 1000)
        page = int_param(params, "page", default=1)
        if not 1 <= page <= 10**6:
            raise BinanceError(-1100, "Illegal characters found in parameter 'page'; legal "
                                      "range is 1 to 1000000.")
        now = now_ms()
        if start is None and end is None:
            start, end = now - 7 * 86_400_000, now
        elif start is None:
            start = end - 7 * 86_400_000
        elif end is None:
            end = start + 7 * 86_400_000
        sym = self.venue.symbols[instr] if instr is not None else None
        rows = [r for r in self._income.get(cred.account, [])
                if start <= r["time"] <= end and (kind is None or r["incomeType"] == kind)
                and (sym is None or r["symbol"] == sym)]
        return json_response(rows[(page - 1) * limit: page * limit])

    async def force_orders(self, request):
        """``GET /fapi/v1/forceOrders``: the account's liquidation orders, newest last;
        ``limit`` default 50, max 100; without times the last 7 days."""
        cred, params = await self._signed(request)
        instr = self._instr(params, required=False)
        act = params.get("autoCloseType")
        if act is not None and act not in ("LIQUIDATION", "ADL"):
            raise BinanceError(-1100, "Illegal characters found in parameter 'autoCloseType'; "
                                      "legal range is 'LIQUIDATION', 'ADL'.")
        start, end, limit = self._window(params, 50, 100)
        now = now_ms()
        start = now - 7 * 86_400_000 if start is None else start
        end = now if end is None else end
        rows = [o for o in self._force_orders.get(cred.account, [])
                if (instr is None or o.instr == instr) and start <= o.time_ms <= end
                and act != "ADL"]       # ADL moves positions without orders here
        return json_response([self._order_json(o) for o in rows[-limit:]])

    async def commission_rate(self, request):
        cred, params = await self._signed(request)
        spec = self.venue.specs[self._instr(params)]
        return json_response({
            "symbol": spec.symbol,
            "makerCommissionRate": dec(Decimal(spec.maker_fee_rate) / RATE_SCALE),
            "takerCommissionRate": dec(Decimal(spec.taker_fee_rate) / RATE_SCALE),
            "rpiCommissionRate": "0"})

    async def balance(self, request):
        cred, _ = await self._signed(request)
        return json_response([self._balance_json(cred.account)])

    async def account(self, request):
        cred, _ = await self._signed(request)
        acct = cred.account
        asset = self._balance_json(acct)
        positions = [self._position_json(acct, i) for i in range(len(self.venue.specs))]
        return json_response({
            "feeTier": 0, "canTrade": True, "canDeposit": True, "canWithdraw": True,
            "feeBurn": False, "updateTime": 0, "multiAssetsMargin": False, "tradeGroupId": -1,
            "totalInitialMargin": asset["initialMargin"], "totalMaintMargin": asset["maintMargin"],
            "totalWalletBalance": asset["walletBalance"],
            "totalUnrealizedProfit": asset["unrealizedProfit"],
            "totalMarginBalance": asset["marginBalance"],
            "totalPositionInitialMargin": asset["positionInitialMargin"],
            "totalOpenOrderInitialMargin": asset["openOrderInitialMargin"],
            "totalCrossWalletBalance": asset["crossWalletBalance"],
            "totalCrossUnPnl": asset["crossUnPnl"], "availableBalance": asset["availableBalance"],
            "maxWithdrawAmount": asset["maxWithdrawAmount"], "assets": [asset],
            "positions": positions})

    async def position_risk(self, request):
        cred, params = await self._signed(request)
        instr = self._instr(params, required=False)
        idx = range(len(self.venue.specs)) if instr is None else [instr]
        return json_response([self._position_json(cred.account, i) for i in idx])

    async def adl_quantile(self, request):
        """``GET /fapi/v1/adlQuantile``: the ADL quantile (0–4) of each of the account's open
        positions (one-way mode: under ``BOTH``, ``LONG`` and ``SHORT`` 0), by the venue's own
        ADL queue (:meth:`~exchange.liquidation.LiquidationEngine.adl_quantiles`), computed at
        the request (Binance refreshes its estimate every 30 s)."""
        cred, params = await self._signed(request)
        instr = self._instr(params, required=False)
        size = self.venue.core.arrays()["size"]
        out = []
        for i in range(len(self.venue.specs)) if instr is None else [instr]:
            if size[i, cred.account]:
                out.append({"symbol": self.venue.specs[i].symbol,
                            "adlQuantile": {"LONG": 0, "SHORT": 0,
                                            "BOTH": self._adl_quantile(cred.account, i)}})
        return json_response(out)

    async def leverage(self, request):
        cred, params = await self._signed(request)
        return self._mutate("leverage", cred, params)

    def _cmd_leverage(self, cred, params):
        i = self._instr(params)
        lev = int_param(params, "leverage", required=True)
        spec = self.venue.specs[i]
        if not 1 <= lev <= 125:          # Binance's range; the tiers refine it below
            raise BinanceError(-4028, f"Leverage {lev} is not valid")
        events = self.venue.set_leverage(cred.account, spec.symbol, lev)
        rejected = [e for e in events if e.name == "OrderRejected"]
        if rejected:
            self._raise_reject(rejected[0], spec, "BUY")
        cap = notional_cap(spec, lev)
        return json_response({"leverage": lev, "maxNotionalValue": dec(cap), "symbol": spec.symbol})

    async def margin_type(self, request):
        cred, params = await self._signed(request)
        return self._mutate("margin_type", cred, params)

    def _cmd_margin_type(self, cred, params):
        i = self._instr(params)
        mt = enum_param(params, "marginType", ("ISOLATED", "CROSSED"), -1100,
                   "Illegal characters found in parameter 'marginType'; legal range is "
                   "'ISOLATED', 'CROSSED'.")
        spec = self.venue.specs[i]
        if bool(self.venue.core.arrays()["mode"][i, cred.account]) == (mt == "ISOLATED"):
            raise BinanceError(-4046, "No need to change margin type.")
        events = self.venue.set_margin_mode(cred.account, spec.symbol, mt)
        rejected = [e for e in events if e.name == "OrderRejected"]
        if rejected:
            self._raise_reject(rejected[0], spec, "BUY")
        return json_response({"code": 200, "msg": "success"})

    async def position_margin(self, request):
        cred, params = await self._signed(request)
        return self._mutate("position_margin", cred, params)

    def _cmd_position_margin(self, cred, params):
        i = self._instr(params)
        amount = decimal_param(params, "amount", required=True)
        kind = int_param(params, "type", required=True)
        if not 0 < amount <= Decimal(10) ** 12:
            raise BinanceError(-1130, "Invalid data sent for a parameter: 'amount' must be > 0 "
                                      "and at most 1e12.")
        if kind not in (1, 2):
            raise BinanceError(-1100, "Illegal characters found in parameter 'type'; legal range is 1, 2.")
        spec = self.venue.specs[i]
        arr = self.venue.core.arrays()
        # Binance's codes (read 2026-12-07):
        # https://developers.binance.com/docs/derivatives/usds-margined-futures/error-code
        if not arr["mode"][i, cred.account]:
            raise BinanceError(-4049, "Add margin only support for isolated position.")
        if not arr["size"][i, cred.account]:
            raise BinanceError(-4054, "Cannot add position margin: position is 0.")
        events = self.venue.adjust_isolated_margin(cred.account, spec.symbol,
                                                   amount if kind == 1 else -amount)
        rejected = [e for e in events if e.name in ("OrderRejected", "TransferRejected")]
        if rejected:
            raise BinanceError(-4051, "Isolated balance insufficient.")
        rows = self._margin_history.setdefault(cred.account, [])
        if len(rows) >= 20_000:                   # Binance keeps 30 days; the mock the latest
            del rows[:10_000]
        rows.append({
            "symbol": spec.symbol, "type": kind, "deltaType": "USER_ADJUST",
            "amount": dec(amount), "asset": self.settle_asset, "time": now_ms(),
            "positionSide": "BOTH"})
        return json_response({"amount": float(amount), "code": 200,
                                  "msg": "Successfully modify position margin.", "type": kind})

    async def position_margin_history(self, request):
        """``GET /fapi/v1/positionMargin/history``: the account's isolated margin changes of
        ``symbol``, oldest first, ``type`` 1 (add) or 2 (reduce), within the last 30 days
        or ``startTime``..``endTime`` (at most 30 days), ``limit`` default 500
        (https://developers.binance.com/docs/derivatives/usds-margined-futures/trade/rest-api/Get-Position-Margin-Change-History,
        read 2026-12-07)."""
        cred, params = await self._signed(request)
        i = self._instr(params)
        kind = int_param(params, "type")
        if kind is not None and kind not in (1, 2):
            raise BinanceError(-1100, "Illegal characters found in parameter 'type'; legal "
                                      "range is 1, 2.")
        start, end, limit = self._window(params, 500, 1000)
        end = now_ms() if end is None else end
        start = end - 30 * 86_400_000 if start is None else start
        if end - start > 30 * 86_400_000:
            raise BinanceError(-1128, "Combination of optional parameters invalid: "
                                      "'startTime' and 'endTime' are more than 30 days apart.")
        symbol = self.venue.specs[i].symbol
        rows = [r for r in self._margin_history.get(cred.account, [])
                if r["symbol"] == symbol and start <= r["time"] <= end
                and (kind is None or r["type"] == kind)]
        return json_response(rows[:limit])

    async def account_config(self, request):
        """``GET /fapi/v1/accountConfig`` (https://developers.binance.com/docs/derivatives/usds-margined-futures/account/rest-api/Account-Config,
        read 2026-12-07): one-way position mode, single-asset margin."""
        cred, _ = await self._signed(request)
        return json_response({"feeTier": 0, "canTrade": "trade" in cred.permissions,
                              "canDeposit": True, "canWithdraw": True,
                              "dualSidePosition": False, "updateTime": 0,
                              "multiAssetsMargin": False, "tradeGroupId": -1})

    async def set_position_side(self, request):
        """``POST /fapi/v1/positionSide/dual``: the mock serves one-way mode only; asking for
        it again is Binance's -4059 (https://developers.binance.com/docs/derivatives/usds-margined-futures/trade/rest-api/Change-Position-Mode,
        read 2026-12-07)."""
        cred, params = await self._signed(request)
        if params.get("dualSidePosition") in (None, ""):
            raise missing("dualSidePosition")
        dual = bool_param(params, "dualSidePosition")
        if not dual:
            raise BinanceError(-4059, "No need to change position side.")
        raise BinanceError(-1000, "Hedge mode (dualSidePosition=true) is not supported by the "
                                  "mock: it serves one-way mode (positionSide BOTH).")

    async def position_side(self, request):
        await self._signed(request)
        return json_response({"dualSidePosition": False})

    async def multi_assets(self, request):
        await self._signed(request)
        return json_response({"multiAssetsMargin": False})

    async def symbol_config(self, request):
        cred, params = await self._signed(request)
        instr = self._instr(params, required=False)
        arr = self.venue.core.arrays()
        idx = range(len(self.venue.specs)) if instr is None else [instr]
        return json_response([{
            "symbol": self.venue.specs[i].symbol,
            "marginType": "ISOLATED" if arr["mode"][i, cred.account] else "CROSSED",
            "isAutoAddMargin": False, "leverage": int(arr["lev"][i, cred.account]),
            "maxNotionalValue": dec(notional_cap(self.venue.specs[i],
                                                 int(arr["lev"][i, cred.account])))} for i in idx])

    async def leverage_bracket(self, request):
        await self._signed(request)
        params = await self._params(request)
        instr = self._instr(params, required=False)
        idx = range(len(self.venue.specs)) if instr is None else [instr]
        out = []
        for i in idx:
            spec = self.venue.specs[i]
            tiers = spec.tiers
            brackets = []
            for n, t in enumerate(tiers):
                cap = (Decimal(tiers[n + 1].notional_floor_atoms).scaleb(-spec.settle_decimals)
                       if n + 1 < len(tiers) else max_notional(spec))
                brackets.append({
                    "bracket": n + 1, "initialLeverage": t.max_leverage,
                    "notionalCap": int(cap),
                    "notionalFloor": int(Decimal(t.notional_floor_atoms).scaleb(-spec.settle_decimals)),
                    "maintMarginRatio": float(Decimal(t.mmr) / RATE_SCALE),
                    "cum": float(Decimal(t.maintenance_amount_atoms).scaleb(-spec.settle_decimals))})
            out.append({"symbol": spec.symbol, "brackets": brackets})
        return json_response(out if instr is None else out[0])
