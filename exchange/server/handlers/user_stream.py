"""User data streams and WebSocket connections: listen keys (new, keepalive, close, expiry with
``listenKeyExpired``), stream-name validation, and the raw (``/ws``) and combined (``/stream``)
connections on every URL shape ccxt.pro builds.
"""
from __future__ import annotations

import secrets
import time

from exchange.server.clock import now_ms
from exchange.server.errors import BinanceError
from exchange.server.history import INTERVALS
from exchange.server.payloads import json_response
from exchange.server.streams import StreamError, canonical


class UserStreamHandlers:
    """Listen keys and WebSocket connections. A part of
    :class:`~exchange.server.binance.MockBinance`, whose state it shares."""

    async def listen_key_new(self, request):
        cred = self._api_key_only(request)
        for k, a in self._listen_keys.items():        # Binance returns the live key if any
            if a == cred.account:                      # (and extends its validity)
                self._keep_listen_keys(cred, [k])
                return json_response({"listenKey": k})
        key = secrets.token_urlsafe(48)[:64]
        self._listen_keys[key] = cred.account
        self._listen_alive[key] = time.monotonic()
        self._listen_kept_ms[key] = now_ms()
        self._log({"k": "listen_new", "key": cred.api_key, "lk": key})
        return json_response({"listenKey": key})

    async def listen_key_keep(self, request):
        cred = self._api_key_only(request)
        live = [k for k, a in self._listen_keys.items() if a == cred.account]
        if not live:
            raise BinanceError(-1125, "This listenKey does not exist.")
        self._keep_listen_keys(cred, live)
        return json_response({})

    def _keep_listen_keys(self, cred, keys) -> None:
        """Extend ``keys`` by ``listen_key_ttl_s`` from now; journaled, so that a restart
        knows when each was last kept alive."""
        now = time.monotonic()
        for k in keys:
            self._listen_alive[k] = now
            self._listen_kept_ms[k] = now_ms()
        self._log({"k": "listen_keep", "key": cred.api_key})

    async def listen_key_close(self, request):
        cred = self._api_key_only(request)
        self._close_listen_keys(cred.account)
        self._log({"k": "listen_close", "key": cred.api_key})
        return json_response({})

    def _close_listen_keys(self, acct: int) -> None:
        for k in [k for k, a in self._listen_keys.items() if a == acct]:
            del self._listen_keys[k]
            self._listen_alive.pop(k, None)
            self._listen_kept_ms.pop(k, None)

    _SYMBOL_STREAMS = frozenset(("trade", "aggTrade", "depth", "depth5", "depth10", "depth20",
                                 "markPrice", "ticker", "miniTicker", "bookTicker",
                                 "forceOrder"))

    _ALL_MARKET_STREAMS = frozenset(("!ticker@arr", "!miniTicker@arr", "!markPrice@arr",
                                     "!forceOrder@arr", "!bookTicker"))

    def _validate_stream(self, name: str) -> None:
        """A stream name the mock serves: ``<symbol>@<kind>[@<speed>]`` with Binance's USDⓈ-M
        market stream kinds, an all-market stream (``!ticker@arr``…), or a live listen key."""
        if name in self._listen_keys:
            return
        key = canonical(name)
        if key in self._ALL_MARKET_STREAMS:
            return
        sym, _, kind = key.partition("@")
        if sym in self._lower_symbols:
            if kind in self._SYMBOL_STREAMS:
                return
            if kind.startswith("kline_") and kind[6:] in INTERVALS:
                return
        raise StreamError(2, f"Invalid request: unknown stream {name[:80]!r}")

    @property
    def _lower_symbols(self) -> frozenset:
        return frozenset(s.lower() for s in self.venue.symbols)

    def _on_subscribe(self, name: str) -> None:
        key = canonical(name)
        if "@kline_" in key or "@ticker" in key or "@miniTicker" in key:
            # the open kline / the ticker is sent at once (Binance sends them on its cadence)
            sym = key.partition("@")[0].upper()
            if sym in self.venue.symbols:
                i = self.venue.symbols.index(sym)
                if len(self._trade_series[i]):     # nothing to show before the first trade
                    self._market_dirty.add(i)

    def _url_streams(self, request, raw: str) -> list[str]:
        # ccxt.pro appends a connection number (``/ws/0``, ``/market/ws/3``): no stream
        streams = [x for x in raw.split("/") if x and not x.isdigit()]
        key = request.query.get("listenKey")
        if key is not None:
            if key not in self._listen_keys:
                raise BinanceError(-1125, "This listenKey does not exist.")
            streams.append(key)
        try:
            self.hub.check_url_streams(streams)
        except StreamError as exc:
            raise BinanceError(-1121, f"Invalid stream: {exc.msg}") from None
        return streams

    async def ws_raw(self, request):
        streams = self._url_streams(request, request.match_info.get("streams", ""))
        return await self.hub.handle(request, streams, combined=False)

    async def ws_combined(self, request):
        streams = self._url_streams(request, request.query.get("streams", ""))
        return await self.hub.handle(request, streams, combined=True)

    def expire_listen_keys(self, now: float | None = None) -> list[str]:
        """End the listen keys not kept alive for ``listen_key_ttl_s`` (Binance: 60 minutes):
        each gets ``listenKeyExpired`` on its stream and is forgotten
        (https://developers.binance.com/docs/derivatives/usds-margined-futures/user-data-streams/Event-User-Data-Stream-Expired,
        read 2026-12-02). Returns the keys ended."""
        now = time.monotonic() if now is None else now
        gone = [k for k, t in self._listen_alive.items() if now - t >= self.listen_key_ttl_s]
        for k in gone:
            self.hub.publish(k, {"e": "listenKeyExpired", "E": now_ms(), "listenKey": k})
            self._listen_keys.pop(k, None)
            self._listen_alive.pop(k, None)
            self._listen_kept_ms.pop(k, None)
            self._log({"k": "listen_expire", "lk": k})
        return gone

    async def _start_expiry(self, _app) -> None:
        import asyncio

        async def loop():
            period = min(1.0, self.listen_key_ttl_s / 4)
            while True:
                await asyncio.sleep(period)
                self.expire_listen_keys()

        async def streams():
            while True:
                await asyncio.sleep(self.DEPTH_PERIOD_S)
                self._run_countdowns()
                self._run_good_till()
                self._flush_force_orders()
                self._drain_books()
                self._flush_depth()
                self._flush_market()

        self._expiry_task = asyncio.ensure_future(loop())
        self._streams_task = asyncio.ensure_future(streams())

    async def _stop_expiry(self, _app) -> None:
        for name in ("_expiry_task", "_streams_task"):
            task = getattr(self, name, None)
            if task is not None:
                task.cancel()
