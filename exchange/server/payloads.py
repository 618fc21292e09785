"""Binance's JSON shapes: numbers as Binance writes them, orders, positions, balances, tickers,
premium index; the settle asset is the venue's own.
"""
from __future__ import annotations

import json
from decimal import Decimal
from typing import TYPE_CHECKING

from aiohttp import web

from exchange.server.clock import now_ms
from exchange.units import RATE_SCALE
from exchange.server.params import notional_cap

if TYPE_CHECKING:                       # state imports this module
    from exchange.server.state import OrderRecord


def dec(value: Decimal | int | None) -> str:
    """A decimal as Binance writes it: plain notation, no exponent."""
    if value is None:
        return "0"
    d = Decimal(value)
    return format(d.normalize(), "f") if d else "0"


try:                                    # orjson: the same JSON, several times faster
    import orjson as _orjson
except ImportError:                     # without perpsim[server]: the standard library's
    _orjson = None


def dumps(data) -> str:
    return dumps_bytes(data).decode()


def dumps_bytes(data) -> bytes:
    if _orjson is not None:
        try:
            return _orjson.dumps(data)
        except TypeError:               # what orjson does not write (ints beyond 64 bits)
            pass
    return json.dumps(data).encode()


class Answer:
    """A JSON answer (status, extra headers, body): what every REST handler returns. The HTTP
    front (:mod:`exchange.server.http`) writes it as it is; the aiohttp application turns it
    into a ``web.Response`` (:meth:`to_aiohttp`, in the middleware)."""

    __slots__ = ("status", "headers", "body")
    content_type = "application/json; charset=utf-8"

    def __init__(self, body: bytes, status: int = 200, headers=None) -> None:
        self.body = body
        self.status = status
        self.headers = dict(headers) if headers else {}

    def to_aiohttp(self) -> web.Response:
        return web.Response(body=self.body, status=self.status, headers=self.headers or None,
                            content_type="application/json", charset="utf-8")


def json_response(data, *, status: int = 200, headers=None) -> Answer:
    """Binance's JSON answer of ``data`` (:class:`Answer`), written with orjson when it is
    installed."""
    return Answer(dumps_bytes(data), status, headers)


FUNDING_INTERVAL_MS = 8 * 3600 * 1000


class Payloads:
    """The JSON of orders, positions, balances and market summaries. A part of
    :class:`~exchange.server.binance.MockBinance`, whose state it shares."""

    def _order_json(self, o: OrderRecord, full: bool = True) -> dict:
        spec = self.venue.specs[o.instr]
        executed = spec.lots_to_qty(o.executed_lots)
        cum_quote = spec.tick_size * spec.lot_size * o.quote_ticklots
        avg = (cum_quote / executed).quantize(spec.tick_size / 100) if o.executed_lots else 0
        out = {
            "orderId": o.order_id, "symbol": o.symbol, "status": o.status,
            "clientOrderId": o.client_id, "price": dec(spec.ticks_to_price(o.price_ticks)
                                                      if o.price_ticks else 0),
            "avgPrice": dec(avg), "origQty": dec(spec.lots_to_qty(o.orig_lots)),
            "executedQty": dec(executed), "cumQty": dec(executed), "cumQuote": dec(cum_quote),
            "timeInForce": o.tif, "type": o.type, "reduceOnly": o.reduce_only,
            "closePosition": o.close_position, "side": o.side, "positionSide": "BOTH",
            "stopPrice": dec(spec.ticks_to_price(o.stop_ticks) if o.stop_ticks else 0),
            "workingType": o.working_type, "priceProtect": False, "origType": o.orig_type or o.type,
            "priceMatch": o.price_match, "selfTradePreventionMode": o.stp,
            "goodTillDate": o.good_till,
            "updateTime": o.update_ms,
        }
        if o.type == "TRAILING_STOP_MARKET":
            out["activatePrice"] = dec(spec.ticks_to_price(o.activation_ticks)
                                      if o.activation_ticks else 0)
            out["priceRate"] = o.callback_rate or "0"
        if full:
            out["time"] = o.time_ms
        return out

    def _algo_json(self, o: OrderRecord) -> dict:
        """An order of the Algo Order API as Binance returns it."""
        spec = self.venue.specs[o.instr]
        out = {
            "algoId": o.order_id, "clientAlgoId": o.client_id, "algoType": "CONDITIONAL",
            "orderType": o.type, "symbol": o.symbol, "side": o.side, "positionSide": "BOTH",
            "timeInForce": o.tif, "quantity": dec(spec.lots_to_qty(o.orig_lots)),
            "algoStatus": o.status,
            "triggerPrice": dec(spec.ticks_to_price(o.stop_ticks) if o.stop_ticks else 0),
            "price": dec(spec.ticks_to_price(o.price_ticks) if o.price_ticks else 0),
            "icebergQuantity": None, "selfTradePreventionMode": o.stp,
            "workingType": o.working_type, "priceMatch": "NONE",
            "closePosition": o.close_position, "priceProtect": False,
            "reduceOnly": o.reduce_only, "createTime": o.time_ms, "updateTime": o.update_ms,
            "triggerTime": o.trigger_ms, "goodTillDate": 0}
        child = self._orders.get(o.actual_order_id) if o.actual_order_id else None
        out["actualOrderId"] = str(o.actual_order_id) if o.actual_order_id else ""
        out["actualPrice"] = self._order_json(child, full=False)["avgPrice"] if child else "0"
        if o.type == "TRAILING_STOP_MARKET":
            out["activatePrice"] = dec(spec.ticks_to_price(o.activation_ticks)
                                      if o.activation_ticks else 0)
            out["callbackRate"] = o.callback_rate or "0"
        return out

    def _position_json(self, acct: int, i: int) -> dict:
        v = self.venue
        spec = v.specs[i]
        p = v.position(acct, spec.symbol)
        mark = p.mark_price or Decimal(0)
        notional = p.size * mark
        im = abs(notional) / p.leverage if p.leverage else Decimal(0)
        return {
            "symbol": spec.symbol, "positionSide": "BOTH", "positionAmt": dec(p.size),
            "entryPrice": dec(p.entry_price or 0), "breakEvenPrice": dec(p.entry_price or 0),
            "markPrice": dec(mark), "unRealizedProfit": dec(p.unrealized_pnl),
            "unrealizedProfit": dec(p.unrealized_pnl),
            "liquidationPrice": dec(self._liquidation_price(acct, i) or 0),
            "isolatedMargin": dec(p.isolated_margin + p.unrealized_pnl if p.isolated else 0),
            "notional": dec(notional), "marginAsset": self.settle_asset,
            "isolatedWallet": dec(p.isolated_margin), "initialMargin": dec(im),
            "maintMargin": dec(p.maintenance_margin), "positionInitialMargin": dec(im),
            "openOrderInitialMargin": "0", "adl": self._adl_quantile(acct, i) if p.size else 0,
            "bidNotional": "0", "askNotional": "0",
            "leverage": str(p.leverage), "marginType": "isolated" if p.isolated else "cross",
            "isolated": p.isolated, "isAutoAddMargin": "false",
            "maxNotionalValue": dec(notional_cap(spec, p.leverage or 1)),
            "updateTime": now_ms()}

    def _adl_quantile(self, acct: int, i: int) -> int:
        """The ADL quantile (0–4) of the account's position on instrument ``i`` in the venue's
        ADL queue; 0 on a venue without a liquidation waterfall."""
        liq = self.venue.liquidation
        return int(liq.adl_quantiles(i)[acct]) if liq is not None else 0

    @property
    def settle_asset(self) -> str:
        """The venue's settle (margin) asset, from its preset: ``USDT`` for Binance USDⓈ-M,
        ``USDC`` for Hyperliquid, dYdX v4 and Drift. Balances, fees and income are in it."""
        return self.venue.preset.venue.settle_asset

    def _liquidation_price(self, acct: int, i: int) -> Decimal | None:
        """The price at which the position's margin meets its maintenance margin, by the
        preset's margin rules (:func:`exchange.margin.liquidation_price_ticks`), cross
        positions with the account's other cross positions as they are now."""
        from exchange.margin import liquidation_price_ticks

        v = self.venue
        spec = v.specs[i]
        arr = v.core.arrays()
        size, cost = int(arr["size"][i, acct]), int(arr["cost"][i, acct])
        if not size:
            return None
        if arr["mode"][i, acct]:
            wallet, other_mm, other_upnl = int(arr["iso"][i, acct]), 0, 0
        else:
            wallet = int(arr["wallet"][acct])
            other_mm = sum(v.core.maintenance_margin(acct, j) for j in range(len(v.specs))
                           if j != i and not arr["mode"][j, acct])
            other_upnl = sum(v.core.upnl(acct, j) for j in range(len(v.specs))
                             if j != i and not arr["mode"][j, acct])
        ticks = liquidation_price_ticks(spec, wallet_atoms=wallet, size_lots=size,
                                        entry_cost_atoms=cost, other_maintenance_atoms=other_mm,
                                        other_upnl_atoms=other_upnl)
        return spec.ticks_to_price(ticks) if ticks and ticks > 0 else None

    def _margins(self, acct: int) -> dict[str, int]:
        """The account's money as Binance splits it, in atoms: the cross wallet and the
        isolated positions' wallets, unrealized PnL of each, maintenance margin, and initial
        margin of the positions (notional at the mark / leverage, rounded up) and of the
        open orders (the worse of "every buy fills" and "every sell fills" beyond the
        position), each instrument as the venue's core computes it. O(instruments)."""
        core = self.venue.core
        arr = core.arrays()
        out = dict(cross_wallet=int(arr["wallet"][acct]), iso_wallet=0, cross_upnl=0,
                   iso_upnl=0, mm=0, position_im=0, order_im=0, bid=0, ask=0)
        for i in range(len(self.venue.specs)):
            size, buy, sell = (int(arr["size"][i, acct]), int(arr["buy_open"][i, acct]),
                               int(arr["sell_open"][i, acct]))
            iso = bool(arr["mode"][i, acct])
            if iso:
                out["iso_wallet"] += int(arr["iso"][i, acct])
            if not (size or buy or sell):
                continue
            ref = int(arr["mark"][i]) or int(arr["last"][i])
            pos = size * ref * int(arr["k"][i])
            lev = max(1, int(arr["lev"][i, acct]))
            worst = max(abs(pos + buy), abs(pos - sell))
            pos_im = -(-abs(pos) // lev)
            out["position_im"] += pos_im
            out["order_im"] += max(0, -(-worst // lev) - pos_im)
            out["bid"] += buy
            out["ask"] += sell
            if size:
                out["iso_upnl" if iso else "cross_upnl"] += int(core.upnl(acct, i))
                out["mm"] += int(core.maintenance_margin(acct, i))
        return out

    def _balance_json(self, acct: int) -> dict:
        """The account's settlement asset as Binance's /fapi/v3/balance and the ``assets``
        of /fapi/v3/account give it: ``walletBalance`` the whole wallet (cross and the
        isolated positions' margin), ``crossWalletBalance`` without the isolated margin,
        ``unrealizedProfit`` of every position, ``crossUnPnl`` of the cross ones,
        ``marginBalance`` = wallet + unrealized PnL, ``initialMargin`` = position + open
        order initial margin, ``availableBalance`` what cross margin has free
        (https://developers.binance.com/docs/derivatives/usds-margined-futures/account/rest-api/Account-Information-V3,
        read 2026-12-07)."""
        m = self._margins(acct)
        f = self.venue._from_atoms
        wallet = m["cross_wallet"] + m["iso_wallet"]
        upnl = m["cross_upnl"] + m["iso_upnl"]
        return {"accountAlias": f"perpsim-{acct}", "asset": self.settle_asset,
                "balance": dec(f(wallet)), "walletBalance": dec(f(wallet)),
                "crossWalletBalance": dec(f(m["cross_wallet"])),
                "crossUnPnl": dec(f(m["cross_upnl"])), "unrealizedProfit": dec(f(upnl)),
                "marginBalance": dec(f(wallet + upnl)), "maintMargin": dec(f(m["mm"])),
                "initialMargin": dec(f(m["position_im"] + m["order_im"])),
                "positionInitialMargin": dec(f(m["position_im"])),
                "openOrderInitialMargin": dec(f(m["order_im"])),
                "availableBalance": dec(f(self.venue.core.available(acct))),
                "maxWithdrawAmount": dec(f(self.venue.core.withdrawable(acct))),
                "marginAvailable": True, "updateTime": now_ms()}

    def _top(self, i: int, short: bool = False) -> dict:
        spec = self.venue.specs[i]
        book = self.venue.core.book(i)
        bid = book.depth(0, 1)
        ask = book.depth(1, 1)
        bp, bq = (spec.ticks_to_price(bid[0][0]), spec.lots_to_qty(bid[0][1])) if bid else (0, 0)
        ap, aq = (spec.ticks_to_price(ask[0][0]), spec.lots_to_qty(ask[0][1])) if ask else (0, 0)
        if short:
            return {"s": spec.symbol, "b": dec(bp), "B": dec(bq), "a": dec(ap), "A": dec(aq)}
        return {"symbol": spec.symbol, "bidPrice": dec(bp), "bidQty": dec(bq), "askPrice": dec(ap),
                "askQty": dec(aq), "time": now_ms(), "lastUpdateId": self._update_id[i]}

    def _day_stats(self, i: int, now: int) -> dict:
        """The rolling 24-hour statistics of the venue's trades (Binance's 24hr ticker)."""
        import bisect

        spec = self.venue.specs[i]
        series = self._trade_series[i]
        k = bisect.bisect_left(series.t, now - 86_400_000)
        day = series.rows[k:]
        prices = [r[1] for r in day]
        vol = sum((r[2] for r in day), Decimal(0))
        qvol = sum((r[1] * r[2] for r in day), Decimal(0))
        last = prices[-1] if prices else Decimal(0)
        first = prices[0] if prices else Decimal(0)
        return {"symbol": spec.symbol, "priceChange": dec(last - first),
                "priceChangePercent": f"{(last - first) / first * 100:.3f}" if first else "0.000",
                "weightedAvgPrice": dec((qvol / vol).quantize(spec.tick_size / 100)) if vol else "0",
                "lastPrice": dec(last), "lastQty": dec(day[-1][2]) if day else "0",
                "openPrice": dec(first), "highPrice": dec(max(prices, default=0)),
                "lowPrice": dec(min(prices, default=0)), "volume": dec(vol),
                "quoteVolume": dec(qvol), "openTime": now - 86_400_000, "closeTime": now,
                "firstId": day[0][4] if day else -1, "lastId": day[-1][4] if day else -1,
                "count": len(day)}

    def _premium(self, i: int, now: int) -> dict:
        spec = self.venue.specs[i]
        arr = self.venue.core.arrays()
        mark, index = int(arr["mark"][i]), int(arr["index"][i]) or int(arr["mark"][i])
        rate = Decimal(self._last_rate[i])
        next_time = (now // FUNDING_INTERVAL_MS + 1) * FUNDING_INTERVAL_MS
        tl = self.venue.timelines[i]
        if tl is not None and tl.started:
            # a venue whose own scheduler settles funding (a scenario behind the server):
            # its coming settlement, in wall time at the server's speed (simulated seconds
            # per second), and its running estimate of the rate (Binance's lastFundingRate
            # is the predicted rate of the coming settlement, moving between settlements)
            ahead_ns = max(0, tl.funding.next_settlement_ns - int(self.venue.ts_ns))
            next_time = now + int(ahead_ns / 1_000_000 / self.speed)
            rate = Decimal(tl.rate_for_mark()) / RATE_SCALE
        return {"symbol": spec.symbol, "markPrice": dec(spec.ticks_to_price(mark) if mark else 0),
                "indexPrice": dec(spec.ticks_to_price(index) if index else 0),
                "estimatedSettlePrice": dec(spec.ticks_to_price(index) if index else 0),
                "lastFundingRate": f"{rate:.8f}", "interestRate": "0.00010000",
                "nextFundingTime": next_time, "time": now}

    def _mark_msg(self, i: int, now: int) -> dict:
        d = self._premium(i, now)
        return {"e": "markPriceUpdate", "E": now, "s": d["symbol"], "p": d["markPrice"],
                "i": d["indexPrice"], "P": d["estimatedSettlePrice"], "r": d["lastFundingRate"],
                "T": d["nextFundingTime"]}
