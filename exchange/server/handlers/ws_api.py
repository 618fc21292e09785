"""Binance USDⓈ-M's WebSocket API (``wss://ws-fapi.binance.com/ws-fapi/v1``): requests and
their answers over one WebSocket, served by the same handlers as the REST endpoints they
mirror, so an order placed here is the same order (same checks, journal, user-data events).

Protocol (https://developers.binance.com/docs/derivatives/usds-margined-futures/websocket-api-general-info,
read 2026-12-07): one JSON request per text frame, ``{"id": …, "method": "order.place",
"params": {…}}``; one answer per request, ``{"id": …, "status": 200, "result": …,
"rateLimits": […]}`` or ``{"id": …, "status": 4xx, "error": {"code": …, "msg": …}}``. ``id``
is an integer, a string or null, echoed back. SIGNED methods carry ``apiKey``, ``timestamp``
and ``signature`` in ``params``: the signature is over every parameter but ``signature``,
sorted by name, as ``name=value`` joined with ``&`` (values as sent: ``true``/``false`` for
booleans). ``INT`` parameters are JSON integers, ``DECIMAL`` ones JSON strings. Rate
limits are the REST ones, shared with REST; the handshake weighs 5; ``rateLimits`` is in
every answer unless ``returnRateLimits=false`` is in the connection's query string or the
request's params.

Methods (each names the REST endpoint it answers as):

==========================  ==============================
``order.place``             ``POST /fapi/v1/order``
``order.modify``            ``PUT /fapi/v1/order``
``order.cancel``            ``DELETE /fapi/v1/order``
``order.status``            ``GET /fapi/v1/order``
``algoOrder.place``         ``POST /fapi/v1/algoOrder``
``algoOrder.cancel``        ``DELETE /fapi/v1/algoOrder``
``account.position``        ``GET /fapi/v2/positionRisk``
``v2/account.position``     ``GET /fapi/v3/positionRisk``
``account.balance``         ``GET /fapi/v2/balance``
``v2/account.balance``      ``GET /fapi/v3/balance``
``account.status``          ``GET /fapi/v2/account``
``v2/account.status``       ``GET /fapi/v3/account``
``depth``                   ``GET /fapi/v1/depth``
``ticker.price``            ``GET /fapi/v1/ticker/price``
``ticker.book``             ``GET /fapi/v1/ticker/bookTicker``
``userDataStream.start``    ``POST /fapi/v1/listenKey``
``userDataStream.ping``     ``PUT /fapi/v1/listenKey``
``userDataStream.stop``     ``DELETE /fapi/v1/listenKey``
==========================  ==============================

``session.status`` and ``session.logout`` answer as Binance's; ``session.logon`` takes
Ed25519 keys only (Binance's rule), and the mock's keys are HMAC-SHA256, so it is refused
with -1022 as Binance refuses an HMAC key there (each request is signed instead, as ccxt
does). A method Binance's USDⓈ-M WebSocket API does not have (``openOrders.status``,
``klines``… of the spot API) is answered with -1000 naming it.
"""
from __future__ import annotations

import json
import time

from aiohttp import WSMsgType, web

from exchange.server.clock import now_ms
from exchange.server.errors import BinanceError
from exchange.server.limits import request_weight
from exchange.server.streams import MAX_FRAME, load_frame

__all__ = ["WsApiHandlers", "WsRequest", "METHODS"]

#: method -> (HTTP method, REST path, handler name)
METHODS = {
    "order.place": ("POST", "/fapi/v1/order", "new_order"),
    "order.modify": ("PUT", "/fapi/v1/order", "modify_order"),
    "order.cancel": ("DELETE", "/fapi/v1/order", "cancel_order"),
    "order.status": ("GET", "/fapi/v1/order", "query_order"),
    "algoOrder.place": ("POST", "/fapi/v1/algoOrder", "new_algo_order"),
    "algoOrder.cancel": ("DELETE", "/fapi/v1/algoOrder", "cancel_algo_order"),
    "account.position": ("GET", "/fapi/v2/positionRisk", "position_risk"),
    "v2/account.position": ("GET", "/fapi/v3/positionRisk", "position_risk"),
    "account.balance": ("GET", "/fapi/v2/balance", "balance"),
    "v2/account.balance": ("GET", "/fapi/v3/balance", "balance"),
    "account.status": ("GET", "/fapi/v2/account", "account"),
    "v2/account.status": ("GET", "/fapi/v3/account", "account"),
    "depth": ("GET", "/fapi/v1/depth", "depth"),
    "ticker.price": ("GET", "/fapi/v1/ticker/price", "ticker_price"),
    "ticker.book": ("GET", "/fapi/v1/ticker/bookTicker", "book_ticker"),
    "userDataStream.start": ("POST", "/fapi/v1/listenKey", "listen_key_new"),
    "userDataStream.ping": ("PUT", "/fapi/v1/listenKey", "listen_key_keep"),
    "userDataStream.stop": ("DELETE", "/fapi/v1/listenKey", "listen_key_close"),
}
_SESSION = ("session.logon", "session.status", "session.logout")
#: the handshake's weight (General Info: "WebSocket handshake attempt costs 5 weight")
HANDSHAKE_WEIGHT = 5
_ID_MAX_LEN = 36


class WsRequest:
    """What a REST handler reads of a request, made from one WebSocket API request: its
    typed ``params`` (already strings, as a query string would give them), the ``apiKey``
    as the ``X-MBX-APIKEY`` header, and the connection's address."""

    __slots__ = ("method", "path", "params", "headers", "remote", "signature", "payload",
                 "by_session")

    def __init__(self, method: str, path: str, params: dict, api_key: str | None,
                 remote: str | None, signature: str | None, payload: str,
                 by_session: bool) -> None:
        self.method = method
        self.path = path
        self.params = params
        self.headers = {"X-MBX-APIKEY": api_key} if api_key else {}
        self.remote = remote
        self.signature = signature
        self.payload = payload
        self.by_session = by_session     # authenticated by the connection's session.logon


def _text(name: str, value) -> str | None:
    """A JSON parameter value as the text the signature and the REST parsers read: a
    string as it is, an integer in decimal, a boolean ``true``/``false``, a number as JSON
    writes it; null is "not sent"; an object or array is refused naming the parameter."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return json.dumps(value)
    raise BinanceError(-1100, f"Illegal characters found in parameter '{name}'; legal range "
                              "is a string, a number or a boolean.")


class WsApiHandlers:
    """The WebSocket API. A part of :class:`~exchange.server.binance.MockBinance`, whose
    state (keys, limits, handlers) it shares."""

    def _ws_signed(self, request: WsRequest):
        """Binance's SIGNED rules for a WebSocket API request: the key in ``apiKey``, the
        HMAC-SHA256 of the sorted parameters, the timestamp within recvWindow, the key's
        permission to trade for a method that is not a query."""
        from exchange.server.auth import verify

        key = request.headers.get("X-MBX-APIKEY")
        if not key:
            raise BinanceError(-1102, "Mandatory parameter 'apiKey' was not sent, was "
                                      "empty/null, or malformed.")
        cred = self._keys.get(key)
        if cred is None:
            raise BinanceError(-2015, "Invalid API-key, IP, or permissions for action.", 401)
        params = dict(request.params)
        if request.signature is None:
            if not request.by_session:
                raise BinanceError(-1102, "Mandatory parameter 'signature' was not sent, was "
                                          "empty/null, or malformed.")
        elif not verify(cred, request.payload, request.signature):
            raise BinanceError(-1022, "Signature for this request is not valid.")
        return self._admitted(cred, params, request.method)

    async def ws_api(self, request):
        """``/ws-fapi/v1``: a WebSocket API connection."""
        if not isinstance(request, web.BaseRequest):
            raise web.HTTPBadRequest(text="No WebSocket UPGRADE hdr: None\n Can \"Upgrade\" "
                                          "only to \"WebSocket\".")
        ip = request.remote or "?"
        if self.limiter is not None:
            over = self.limiter.charge(ip, HANDSHAKE_WEIGHT)
            if over is not None:
                status, code, msg, retry = over
                raise BinanceError(code, msg, status, headers={"Retry-After": str(retry)})
        show_limits = request.query.get("returnRateLimits", "true").lower() != "false"
        ws = web.WebSocketResponse(heartbeat=180, max_msg_size=MAX_FRAME)
        await ws.prepare(request)
        session = {"connectedSince": now_ms(), "apiKey": None, "authorizedSince": None,
                   "returnRateLimits": show_limits}
        async for msg in ws:
            if msg.type == WSMsgType.TEXT:
                out = await self._ws_request(msg.data, ip, session)
            elif msg.type == WSMsgType.BINARY:
                out = self._ws_error(None, 400, -1000, "Binary frames are not requests: send "
                                                       "each request as JSON in a text frame.")
            else:
                continue
            if ws.closed:
                break
            await ws.send_str(out)
        return ws

    @staticmethod
    def _ws_error(rid, status: int, code: int, msg: str, extra: dict | None = None) -> str:
        error = {"code": code, "msg": msg}
        if extra:
            error["data"] = extra
        return json.dumps({"id": rid, "status": status, "error": error},
                          separators=(",", ":"))

    async def _ws_request(self, text: str, ip: str, session: dict) -> str:
        try:
            req = load_frame(text)
        except ValueError as exc:
            return self._ws_error(None, 400, -1000, f"Malformed request: invalid JSON ({exc}).")
        if not isinstance(req, dict):
            return self._ws_error(None, 400, -1000, "Malformed request: a request is a JSON "
                                                    "object with 'id', 'method' and 'params'.")
        rid = req.get("id")
        if rid is not None and not (
                (isinstance(rid, int) and not isinstance(rid, bool) and -2**63 <= rid < 2**63)
                or (isinstance(rid, str) and len(rid) <= _ID_MAX_LEN)):
            return self._ws_error(None, 400, -1000, "Malformed request: 'id' must be an "
                                  f"integer, a string of at most {_ID_MAX_LEN} characters, "
                                  "or null.")
        method = req.get("method")
        if not isinstance(method, str) or not method:
            return self._ws_error(rid, 400, -1102, "Mandatory parameter 'method' was not sent, "
                                                   "was empty/null, or malformed.")
        raw = req.get("params")
        if raw is None:
            raw = {}
        if not isinstance(raw, dict):
            return self._ws_error(rid, 400, -1000, "Malformed request: 'params' must be a "
                                                   "JSON object.")
        try:
            params = {}
            for k, v in raw.items():
                t = _text(k, v)
                if t is not None:
                    params[k] = t
        except BinanceError as exc:
            return self._ws_error(rid, exc.status, exc.code, exc.msg)
        show = session["returnRateLimits"]
        if "returnRateLimits" in params:
            show = params["returnRateLimits"].lower() != "false"
        if method in _SESSION:
            return self._ws_session(rid, method, params, ip, session, show)
        route = METHODS.get(method)
        if route is None:
            return self._ws_error(rid, 400, -1000, f"Unknown method '{method[:60]}': Binance's "
                                  "USDⓈ-M WebSocket API serves " + ", ".join(
                                      list(METHODS) + list(_SESSION)) + ".")
        http_method, path, handler = route
        wreq = self._ws_build(http_method, path, params, ip, session["apiKey"])
        api_key = wreq.headers.get("X-MBX-APIKEY")
        limits = None
        if self.limiter is not None:
            over = self.limiter.charge(ip, request_weight(http_method, path, params))
            if over is not None:
                status, code, msg, retry = over
                return self._ws_error(rid, status, code, msg,
                                      {"serverTime": now_ms(),
                                       "retryAfter": int((time.time() + retry) * 1000)})
        answer = await self._answer(wreq, getattr(self, handler))
        if self.limiter is not None and show:
            limits = self._ws_limits(ip, api_key, method)
        head = f'{{"id":{json.dumps(rid)},"status":{answer.status},'
        tail = "" if limits is None else ',"rateLimits":' + json.dumps(limits, separators=(",", ":"))
        body = answer.body.decode()
        if answer.status == 200:
            return head + '"result":' + body + tail + "}"
        return head + '"error":' + body + tail + "}"

    @staticmethod
    def _ws_build(http_method: str, path: str, params: dict, ip: str,
                  session_key: str | None) -> WsRequest:
        """The request a handler reads: the signed payload (every parameter but the
        signature, sorted by name, as the client signed it), the key from ``apiKey``, or the
        connection's ``session_key`` for a request with neither key nor signature."""
        payload = "&".join(f"{k}={v}" for k, v in sorted(params.items()) if k != "signature")
        signature = params.pop("signature", None)
        api_key = params.pop("apiKey", None)
        by_session = api_key is None and signature is None and session_key is not None
        params.pop("returnRateLimits", None)
        return WsRequest(http_method, path, params, session_key if by_session else api_key, ip,
                         signature, payload, by_session)

    def _ws_limits(self, ip: str, api_key: str | None, method: str) -> list[dict]:
        lim = self.limiter
        out = [{"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1,
                "limit": lim.limits.weight_per_minute, "count": lim.used_weight(ip)}]
        cred = self._keys.get(api_key or "")
        if cred is not None and method in ("order.place", "order.modify", "algoOrder.place"):
            n10, n60 = lim.order_counts(cred.account)
            out.append({"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10,
                        "limit": lim.limits.orders_per_10s, "count": n10})
            out.append({"rateLimitType": "ORDERS", "interval": "MINUTE", "intervalNum": 1,
                        "limit": lim.limits.orders_per_minute, "count": n60})
        return out

    def _ws_session(self, rid, method: str, params: dict, ip: str, session: dict,
                    show: bool) -> str:
        if self.limiter is not None:
            over = self.limiter.charge(ip, 2)
            if over is not None:
                status, code, msg, retry = over
                return self._ws_error(rid, status, code, msg)
        if method == "session.logon":
            wreq = self._ws_build("GET", "", params, ip, None)
            cred = self._keys.get(wreq.headers.get("X-MBX-APIKEY", ""))
            if cred is not None and getattr(cred, "key_type", "HMAC_SHA256") != "ED25519":
                # Binance takes Ed25519 keys only here and refuses others as a bad signature
                return self._ws_error(rid, 400, -1022, "Signature for this request is not "
                                      "valid. (session.logon takes Ed25519 keys only; this key "
                                      "is HMAC-SHA256: sign each request instead.)")
            try:
                self._ws_signed(wreq)        # the key, the signature, the timestamp
            except BinanceError as exc:
                return self._ws_error(rid, exc.status, exc.code, exc.msg)
            session["apiKey"], session["authorizedSince"] = cred.api_key, now_ms()
        if method == "session.logout":
            session["apiKey"] = session["authorizedSince"] = None
        result = {"apiKey": session["apiKey"], "authorizedSince": session["authorizedSince"],
                  "connectedSince": session["connectedSince"],
                  "returnRateLimits": session["returnRateLimits"], "serverTime": now_ms()}
        out = {"id": rid, "status": 200, "result": result}
        if self.limiter is not None and show:
            out["rateLimits"] = self._ws_limits(ip, None, method)
        return json.dumps(out, separators=(",", ":"))
