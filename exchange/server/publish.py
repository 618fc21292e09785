"""What the server streams: depth diffs and partial books, trades and aggTrades, mark prices,
tickers, liquidation orders, and user data (ORDER_TRADE_UPDATE, ACCOUNT_UPDATE, MARGIN_CALL)
through the :class:`~exchange.server.streams.StreamHub`.
"""
from __future__ import annotations

import time
from decimal import Decimal

from exchange.server import history
from exchange.server.clock import now_ms
from exchange.server.payloads import dec
from exchange.server.state import OrderRecord


class Publisher:
    """Pushing market and user-data stream messages. A part of
    :class:`~exchange.server.binance.MockBinance`, whose state it shares."""

    def _drain_books(self) -> None:
        """Turn the books' level deltas into ``depthUpdate`` messages (and bookTicker)."""
        self._undrained = 0
        now = None
        subs = self.hub.subscribed
        for i, book, depth, partials, ticker in self._book_streams():
            deltas = book.drain_deltas()
            if len(deltas) == 0:
                continue
            if now is None:
                now = now_ms()
            first = self._update_id[i] + 1
            self._update_id[i] += len(deltas)
            if depth in subs:
                # diffs are sent every DEPTH_PERIOD_S, each the net change of its window
                # (Binance: "@depth@100ms" … "@depth@500ms", one event per window)
                pend = self._depth_pending.get(i)
                if pend is None:
                    pend = self._depth_pending[i] = {"U": first, "levels": {}}
                levels = pend["levels"]
                for price, qty, side in deltas.tolist():
                    levels[(side, price)] = qty
                pend["u"] = self._update_id[i]
            if not partials.isdisjoint(subs):
                self._partial_dirty.add(i)
            if ticker in subs or "!bookTicker" in subs:
                msg = {"e": "bookTicker", "u": self._update_id[i], "E": now, "T": now,
                       **self._top(i, short=True)}
                self.hub.publish(ticker, msg)
                self.hub.publish("!bookTicker", msg)

    def _drain_books_live(self) -> None:
        """After a command: :meth:`_drain_books` when a bookTicker stream is held (it is sent
        at each change of the top). The depth diffs and partial books are sent per window,
        so their deltas wait for the window's end (:meth:`_flush_depth`'s caller drains
        them), the same messages with less work per command; a REST depth or bookTicker
        drains first, so its ``lastUpdateId`` counts every change."""
        subs = self.hub.subscribed
        self._undrained = n = self.__dict__.get("_undrained", 0) + 1
        if "!bookTicker" in subs or n >= 1000:      # bounded without a window's timer too
            self._drain_books()
            return
        for entry in self._book_streams():
            if entry[4] in subs:
                self._drain_books()
                return

    def _book_streams(self) -> list:
        """Per instrument whose book tracks deltas: its index, book, and the names of its
        depth diff, partial depth (5, 10, 20) and bookTicker streams (built once per venue:
        a restored snapshot brings a new one)."""
        cached = self.__dict__.get("_book_stream_names")
        if cached is None or cached[0] is not self.venue:
            core = self.venue.core
            entries = []
            for i, spec in enumerate(self.venue.specs):
                book, sym = core.book(i), spec.symbol.lower()
                if book.track_deltas:
                    entries.append((i, book, f"{sym}@depth",
                                    frozenset(f"{sym}@depth{n}" for n in (5, 10, 20)),
                                    f"{sym}@bookTicker"))
            cached = self._book_stream_names = (self.venue, entries)
        return cached[1]

    #: the window of the depth streams (all update speeds: the fastest of Binance's, 100 ms)
    DEPTH_PERIOD_S = 0.1

    def _flush_depth(self) -> None:
        """Send the depth diffs of the window that ends (``U``/``u``/``pu`` chained as
        Binance's: ``pu`` is the previous event's ``u``) and the partial books."""
        now = now_ms()
        pending, self._depth_pending = self._depth_pending, {}
        for i, pend in pending.items():
            spec = self.venue.specs[i]
            sym = spec.symbol.lower()
            items = sorted(pend["levels"].items())
            bids = [[dec(spec.ticks_to_price(p)), dec(spec.lots_to_qty(q))]
                    for (side, p), q in items if side == 0]
            asks = [[dec(spec.ticks_to_price(p)), dec(spec.lots_to_qty(q))]
                    for (side, p), q in items if side == 1]
            pu = self._depth_last_u.get(i, pend["U"] - 1)
            self.hub.publish(f"{sym}@depth", {
                "e": "depthUpdate", "E": now, "T": now, "s": spec.symbol, "U": pend["U"],
                "u": pend["u"], "pu": pu, "b": bids, "a": asks})
            self._depth_last_u[i] = pend["u"]
        dirty, self._partial_dirty = self._partial_dirty, set()
        for i in dirty:
            spec = self.venue.specs[i]
            sym = spec.symbol.lower()
            book = self.venue.core.book(i)
            for n in (5, 10, 20):
                if self.hub.has(f"{sym}@depth{n}"):
                    # partial book depth: the top n levels each side, with the diff ids
                    # (https://developers.binance.com/docs/derivatives/usds-margined-futures/websocket-market-streams/Partial-Book-Depth-Streams,
                    # read 2026-12-02)
                    self.hub.publish(f"{sym}@depth{n}", {
                        "e": "depthUpdate", "E": now, "T": now, "s": spec.symbol,
                        "U": self._update_id[i], "u": self._update_id[i],
                        "pu": self._update_id[i],
                        "b": [[dec(spec.ticks_to_price(p)), dec(spec.lots_to_qty(q))]
                              for p, q in book.depth(0, n)],
                        "a": [[dec(spec.ticks_to_price(p)), dec(spec.lots_to_qty(q))]
                              for p, q in book.depth(1, n)]})

    def _listeners(self, acct: int) -> list[str]:
        return [k for k, a in self._listen_keys.items() if a == acct and self.hub.has(k)]

    def _push_order(self, o: OrderRecord, exec_type: str, now: int, last=None) -> None:
        keys = self._listeners(o.account)
        if not keys:
            return
        if o.algo:
            # ALGO_UPDATE (https://developers.binance.com/docs/derivatives/usds-margined-futures/user-data-streams/Event-Algo-Order-Update,
            # read 2026-12-07): ap / aq / act once its order is in the matching engine, rm why
            # the engine refused it
            j = self._algo_json(o)
            msg = {"e": "ALGO_UPDATE", "E": now, "T": now, "o": {
                "caid": o.client_id, "aid": o.order_id, "at": "CONDITIONAL", "o": o.type,
                "s": o.symbol, "S": o.side, "ps": "BOTH", "f": o.tif, "q": j["quantity"],
                "X": o.status, "ai": str(o.actual_order_id or ""), "tp": j["triggerPrice"],
                "p": j["price"], "V": o.stp, "wt": o.working_type, "pm": "NONE",
                "cp": o.close_position, "pP": False, "R": o.reduce_only, "tt": o.trigger_ms,
                "gtd": 0}}
            child = self._orders.get(o.actual_order_id) if o.actual_order_id else None
            if child is not None:
                cj = self._order_json(child, full=False)
                msg["o"].update(ap=cj["avgPrice"], aq=cj["executedQty"], act=child.type)
            if o.reject_reason:
                msg["o"]["rm"] = o.reject_reason
            for k in keys:
                self.hub.publish(k, msg)
            return
        j = self._order_json(o, full=False)
        price, qty, fee, pnl, tid, maker = last or (0, 0, 0, 0, 0, False)
        # a liquidation order's type is LIQUIDATION on the user stream (Binance's order type
        # enum of ORDER_TRADE_UPDATE; its client id starts with "autoclose-")
        otype = "LIQUIDATION" if o.orig_type == "LIQUIDATION" else o.type
        msg = {"e": "ORDER_TRADE_UPDATE", "E": now, "T": now, "o": {
            "s": o.symbol, "c": o.client_id, "S": o.side, "o": otype, "f": o.tif,
            "q": j["origQty"], "p": j["price"], "ap": j["avgPrice"], "sp": j["stopPrice"],
            "x": exec_type, "X": o.status, "i": o.order_id, "l": dec(qty), "z": j["executedQty"],
            "L": dec(price), "N": self.settle_asset, "n": dec(fee), "T": now, "t": tid,
            "b": "0", "a": "0", "m": maker, "R": o.reduce_only, "wt": o.working_type,
            "ot": o.orig_type or o.type, "ps": "BOTH", "cp": o.close_position, "rp": dec(pnl),
            "pP": False, "si": 0, "ss": 0, "V": o.stp, "pm": o.price_match, "gtd": o.good_till}}
        for k in keys:
            self.hub.publish(k, msg)

    def _push_account(self, acct: int, now: int, reason: str, instruments=()) -> None:
        """ACCOUNT_UPDATE as Binance sends it
        (https://developers.binance.com/docs/derivatives/usds-margined-futures/user-data-streams/Event-Balance-and-Position-Update,
        read 2026-12-02): the reason ``m``, the balance ``B`` (wallet ``wb``, cross wallet
        ``cw``, balance change except PnL and commission ``bc``) and ``P``, every position
        that changed (a closed one with ``pa`` 0)."""
        keys = self._listeners(acct)
        if not keys:
            return
        v = self.venue
        m = self._margins(acct)
        # wb: the whole wallet (the isolated positions' margin included); cw: without it
        wallet = v._from_atoms(m["cross_wallet"] + m["iso_wallet"])
        cross_wallet = v._from_atoms(m["cross_wallet"])
        positions = []
        for i in sorted(instruments):
            p = v.position(acct, v.symbols[i])
            positions.append({"s": p.symbol, "pa": dec(p.size), "ep": dec(p.entry_price or 0),
                              "bep": dec(p.entry_price or 0),
                              # (pre-fee) accumulated realized PnL on the symbol
                              "cr": dec(self._realized.get((acct, i), 0)),
                              "up": dec(p.unrealized_pnl),
                              "mt": "isolated" if p.isolated else "cross",
                              "iw": dec(p.isolated_margin if p.isolated else 0), "ps": "BOTH"})
        prev = self._last_wallet.get(acct, wallet)
        change = wallet - prev if reason in ("DEPOSIT", "WITHDRAW") else Decimal(0)
        self._last_wallet[acct] = wallet
        msg = {"e": "ACCOUNT_UPDATE", "E": now, "T": now, "a": {
            "m": reason, "B": [{"a": self.settle_asset, "wb": dec(wallet), "cw": dec(cross_wallet),
                                "bc": dec(change)}],
            "P": positions}}
        for k in keys:
            self.hub.publish(k, msg)

    def _push_margin_call(self, e, now: int) -> None:
        keys = self._listeners(e.account)
        if not keys:
            return
        p = self.venue.position(e.account, self.venue.symbols[e.instrument])
        msg = {"e": "MARGIN_CALL", "E": now, "cw": dec(self.venue.balance(e.account).wallet), "p": [{
            "s": p.symbol, "ps": "BOTH", "pa": dec(p.size),
            "mt": "ISOLATED" if p.isolated else "CROSSED", "iw": dec(p.isolated_margin),
            "mp": dec(p.mark_price or 0), "up": dec(p.unrealized_pnl),
            "mm": dec(p.maintenance_margin)}]}
        for k in keys:
            self.hub.publish(k, msg)

    def _push_mark(self, i: int, now: int) -> None:
        sym = self.venue.symbols[i].lower()
        if self.hub.has(f"{sym}@markPrice"):
            self.hub.publish(f"{sym}@markPrice", self._mark_msg(i, now))
        if self.hub.has("!markPrice@arr"):
            self.hub.publish("!markPrice@arr", [self._mark_msg(j, now)
                                                for j in range(len(self.venue.symbols))
                                                if self.venue.core.mark_ticks(j)])

    #: a symbol's liquidation snapshots: at most one per this many seconds, the latest
    FORCE_ORDER_PERIOD_S = 1.0

    def _push_force_order(self, o: OrderRecord, last_qty: Decimal, now: int) -> None:
        """``forceOrder``: a liquidation order's latest fill, on ``<symbol>@forceOrder`` and
        ``!forceOrder@arr``; "for each symbol, only the latest one liquidation order within
        1000ms will be pushed as the snapshot"
        (https://developers.binance.com/docs/derivatives/usds-margined-futures/websocket-market-streams/Liquidation-Order-Streams,
        read 2026-12-07): the first of a quiet second goes at once, the later ones wait
        for the end of its second and only the latest of them goes."""
        sym = o.symbol.lower()
        if not (self.hub.has(f"{sym}@forceOrder") or self.hub.has("!forceOrder@arr")):
            return
        j = self._order_json(o, full=False)
        msg = {"e": "forceOrder", "E": now, "o": {
            "s": o.symbol, "S": o.side, "o": "LIMIT", "f": "IOC", "q": j["origQty"],
            "p": j["price"], "ap": j["avgPrice"], "X": o.status, "l": dec(last_qty),
            "z": j["executedQty"], "T": now}}
        mono = time.monotonic()
        if mono - self._force_last.get(sym, -1e9) >= self.FORCE_ORDER_PERIOD_S:
            self._force_last[sym] = mono
            self._force_pending.pop(sym, None)
            self._send_force_order(sym, msg)
        else:
            self._force_pending[sym] = msg

    def _send_force_order(self, sym: str, msg: dict) -> None:
        self.hub.publish(f"{sym}@forceOrder", msg)
        self.hub.publish("!forceOrder@arr", msg)

    def _flush_force_orders(self) -> None:
        """Send each symbol's latest waiting liquidation snapshot whose second is over."""
        if not self._force_pending:
            return
        mono = time.monotonic()
        for sym in list(self._force_pending):
            if mono - self._force_last.get(sym, -1e9) >= self.FORCE_ORDER_PERIOD_S:
                self._force_last[sym] = mono
                msg = self._force_pending.pop(sym)
                msg["E"] = now_ms()
                self._send_force_order(sym, msg)

    # tickers and open klines: sent at most every MARKET_PERIOD_S per symbol (Binance: the
    # 24hr ticker every 500 ms, klines every 250 ms), the latest state always delivered
    MARKET_PERIOD_S = 0.25

    def _flush_market(self) -> None:
        if not self._market_dirty:
            return
        mono = time.monotonic()
        now = now_ms()
        for i in sorted(self._market_dirty):
            if mono - self._market_last.get(i, -1e9) < self.MARKET_PERIOD_S:
                continue                                # the periodic task sends it later
            self._market_dirty.discard(i)
            self._market_last[i] = mono
            self._push_market(i, now)

    def _push_market(self, i: int, now: int) -> None:
        spec = self.venue.specs[i]
        sym = spec.symbol.lower()
        hub = self.hub
        want_t = hub.has(f"{sym}@ticker") or hub.has("!ticker@arr")
        want_m = hub.has(f"{sym}@miniTicker") or hub.has("!miniTicker@arr")
        if want_t or want_m:
            d = self._day_stats(i, now)
            if want_t:
                msg = {"e": "24hrTicker", "E": now, "s": spec.symbol, "p": d["priceChange"],
                       "P": d["priceChangePercent"], "w": d["weightedAvgPrice"],
                       "c": d["lastPrice"], "Q": d["lastQty"], "o": d["openPrice"],
                       "h": d["highPrice"], "l": d["lowPrice"], "v": d["volume"],
                       "q": d["quoteVolume"], "O": d["openTime"], "C": d["closeTime"],
                       "F": d["firstId"], "L": d["lastId"], "n": d["count"]}
                hub.publish(f"{sym}@ticker", msg)
                hub.publish("!ticker@arr", [msg])
            if want_m:
                msg = {"e": "24hrMiniTicker", "E": now, "s": spec.symbol, "c": d["lastPrice"],
                       "o": d["openPrice"], "h": d["highPrice"], "l": d["lowPrice"],
                       "v": d["volume"], "q": d["quoteVolume"]}
                hub.publish(f"{sym}@miniTicker", msg)
                hub.publish("!miniTicker@arr", [msg])
        for key in hub.keys():
            if not key.startswith(f"{sym}@kline_"):
                continue
            iv = key.partition("@kline_")[2]
            ids: list = []
            ks = history.klines(self._trade_series[i], iv, now, history.kline_open(iv, now),
                                None, 1, ids=ids)
            if not ks:
                continue
            k = ks[0]
            first_id, last_id = ids[0]
            hub.publish(key, {"e": "kline", "E": now, "s": spec.symbol, "k": {
                "t": k[0], "T": k[6], "s": spec.symbol, "i": iv, "f": first_id, "L": last_id,
                "o": k[1], "c": k[4], "h": k[2], "l": k[3], "v": k[5], "n": k[8],
                "x": now >= k[6], "q": k[7], "V": k[9], "Q": k[10], "B": "0"}})
