"""WebSocket streams of the mock server: Binance's market streams and user data streams.

A connection subscribes to stream names (``btcusdt@depth@100ms``, ``btcusdt@trade``,
``btcusdt@markPrice@1s``, ``!ticker@arr``, a listen key …) through its URL or with Binance's
``SUBSCRIBE`` / ``UNSUBSCRIBE`` / ``LIST_SUBSCRIPTIONS`` / ``SET_PROPERTY`` /
``GET_PROPERTY`` messages. URL shapes served (every one that current and older ccxt.pro
builds, and Binance's documented ones):

- ``/ws``, ``/ws/<stream>[/<stream>…]``, ``/stream?streams=a/b`` (combined: ``{"stream",
  "data"}``); ccxt.pro appends a connection number (``/ws/0``): a bare integer segment names
  no stream;
- the split endpoints Binance introduced for USDⓈ-M in 2025 and ccxt.pro 4.5 uses:
  ``/public/ws[/N]``, ``/market/ws[/N]``, ``/private/ws?listenKey=K`` and their ``/stream``
  forms (https://developers.binance.com/docs/derivatives/usds-margined-futures/
  websocket-market-streams, read 2026-12-02). The mock serves every stream on every one.

Control messages are validated as Binance's stream server does
(https://developers.binance.com/docs/binance-spot-api-docs/web-socket-streams#live-subscribingunsubscribing-to-streams,
read 2026-12-02): a JSON object with ``method`` (one of the five), ``params`` (a list of
strings for (UN)SUBSCRIBE, ``[name, value]`` for SET_PROPERTY) and ``id`` (an unsigned
integer, a string of at most 36 characters, or null); errors are answered as
``{"error": {"code": c, "msg": ...}, "id": id}`` with Binance's codes (0 unknown property,
1 invalid value type, 2 invalid request, 3 invalid JSON) and the socket stays open. A
connection holds at most ``MAX_STREAMS`` streams (USDⓈ-M: 200 per connection) and sends at
most ``MAX_MESSAGES_PER_S`` messages a second (10, then it is disconnected), a frame is at
most ``MAX_FRAME`` bytes, and JSON nested deeper than ``MAX_DEPTH`` is refused as invalid.
Messages are queued per connection and written by one task per connection, so each client
sees them in publication order.
"""
from __future__ import annotations

import asyncio
import functools
import json
import re
from collections.abc import Callable, KeysView

from aiohttp import WSMsgType, web

__all__ = ["StreamHub", "canonical", "load_frame", "MAX_STREAMS"]

#: streams per connection (Binance USDⓈ-M: "A single connection can listen to a maximum of
#: 200 streams", websocket-market-streams page, read 2026-12-02)
MAX_STREAMS = 200
#: incoming messages per second per connection ("WebSocket connections have a limit of 10
#: incoming messages per second"; past it Binance disconnects; same page)
MAX_MESSAGES_PER_S = 10
MAX_FRAME = 64 * 1024
MAX_DEPTH = 8
_ID_MAX_LEN = 36
_METHODS = ("SUBSCRIBE", "UNSUBSCRIBE", "LIST_SUBSCRIPTIONS", "SET_PROPERTY", "GET_PROPERTY")

# update-speed suffixes: the mock sends depth diffs every 100 ms (the fastest of Binance's
# cadences) and mark prices as they change, so ``@depth`` and ``@depth@500ms``
# (``@markPrice`` and ``@markPrice@1s``…) carry the same messages and share one key
_SPEED = re.compile(r"@(?:0ms|100ms|250ms|500ms|1s|3s)$")


@functools.lru_cache(maxsize=4096)
def canonical(stream: str) -> str:
    """The hub's key for a stream name (update-speed variants share one key). Memoized: the
    server asks for the same few names on every command."""
    return _SPEED.sub("", stream)


class _Client:
    __slots__ = ("ws", "combined", "names", "queue")

    def __init__(self, ws: web.WebSocketResponse, combined: bool) -> None:
        self.ws = ws
        self.combined = combined
        self.names: dict[str, str] = {}          # canonical key -> name as subscribed
        self.queue: asyncio.Queue = asyncio.Queue()


class StreamError(Exception):
    def __init__(self, code: int, msg: str) -> None:
        super().__init__(msg)
        self.code, self.msg = code, msg


def load_frame(text: str):
    """The JSON of one incoming text frame; ValueError saying what is wrong with it (where a
    parser stopped, nested deeper than ``MAX_DEPTH``, a number of thousands of digits),
    with no Python internals in the text."""
    try:
        obj = json.loads(text)
    except RecursionError:
        raise ValueError(f"nested deeper than {MAX_DEPTH} levels") from None
    except json.JSONDecodeError as exc:           # where, as a JSON parser says it
        raise ValueError(f"{exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except ValueError:                            # an integer of thousands of digits
        raise ValueError("a number has too many digits") from None
    if _depth(obj, MAX_DEPTH):
        raise ValueError(f"nested deeper than {MAX_DEPTH} levels")
    return obj


def _depth(obj, limit: int) -> bool:
    """Whether ``obj`` nests deeper than ``limit`` (iteratively: no recursion limit)."""
    stack = [(obj, 1)]
    while stack:
        o, d = stack.pop()
        if d > limit:
            return True
        if isinstance(o, dict):
            stack.extend((v, d + 1) for v in o.values())
        elif isinstance(o, list):
            stack.extend((v, d + 1) for v in o)
    return False


class StreamHub:
    """Subscriptions and fan-out. ``publish`` is synchronous (called from request handlers
    and venue callbacks on the server's loop); delivery is asynchronous.

    ``validate(name)`` (set by the server) raises :class:`StreamError` for a stream name the
    venue does not serve; ``on_subscribe(name)`` is told of each new subscription."""

    def __init__(self, max_streams: int = MAX_STREAMS,
                 max_messages_per_s: int = MAX_MESSAGES_PER_S) -> None:
        self.max_streams = max_streams
        self.max_messages_per_s = max_messages_per_s
        # canonical name -> its clients; a name is a key only while it has one
        self._subs: dict[str, set[_Client]] = {}
        self._clients: set[_Client] = set()
        self.validate: Callable[[str], None] = lambda name: None
        self.on_subscribe: Callable[[str], None] = lambda name: None

    def has(self, stream: str) -> bool:
        return bool(self._subs.get(canonical(stream)))

    @property
    def subscribed(self) -> KeysView[str]:
        """The canonical names that have a subscriber, as a live view (``name in
        hub.subscribed`` is what :meth:`has` answers for a canonical name, without
        canonicalizing it)."""
        return self._subs.keys()

    def keys(self) -> list[str]:
        return [k for k, v in self._subs.items() if v]

    @property
    def connections(self) -> int:
        return len(self._clients)

    def publish(self, stream: str, data: dict) -> None:
        key = canonical(stream)
        clients = self._subs.get(key)
        if not clients:
            return
        raw = None
        for client in clients:
            if client.combined:
                name = client.names.get(key, key)
                client.queue.put_nowait(json.dumps({"stream": name, "data": data},
                                                   separators=(",", ":")))
            else:
                if raw is None:
                    raw = json.dumps(data, separators=(",", ":"))
                client.queue.put_nowait(raw)

    def _subscribe(self, client: _Client, names) -> None:
        new = [n for n in names if canonical(n) not in client.names]
        if len(client.names) + len(set(map(canonical, new))) > self.max_streams:
            raise StreamError(2, f"Invalid request: a connection can listen to at most "
                                 f"{self.max_streams} streams ({len(client.names)} subscribed, "
                                 f"{len(new)} more asked)")
        for name in names:
            self.validate(name)
        for name in names:
            key = canonical(name)
            client.names[key] = name
            self._subs.setdefault(key, set()).add(client)
            self.on_subscribe(name)

    def _unsubscribe(self, client: _Client, names) -> None:
        for name in names:
            key = canonical(name)
            client.names.pop(key, None)
            clients = self._subs.get(key)
            if clients is not None:
                clients.discard(client)
                if not clients:
                    del self._subs[key]

    def check_url_streams(self, streams: list[str]) -> None:
        """Validate the streams named in a connection's URL (raises StreamError)."""
        if len(set(map(canonical, streams))) > self.max_streams:
            raise StreamError(2, f"Invalid request: a connection can listen to at most "
                                 f"{self.max_streams} streams (the URL names {len(streams)})")
        for name in streams:
            self.validate(name)

    async def handle(self, request: web.Request, streams: list[str], combined: bool):
        if not isinstance(request, web.BaseRequest):
            # the HTTP front hands every upgrade to aiohttp: this one asked for none (what
            # aiohttp's handshake answers to a plain request)
            raise web.HTTPBadRequest(text="No WebSocket UPGRADE hdr: None\n Can \"Upgrade\" "
                                          "only to \"WebSocket\".")
        ws = web.WebSocketResponse(heartbeat=30, max_msg_size=MAX_FRAME)
        client = _Client(ws, combined)
        # subscribed before the handshake completes: a client that acts as soon as it is
        # connected must not miss what its own action publishes (queued until written)
        self._subscribe(client, streams)
        writer = None
        self._clients.add(client)
        try:
            await ws.prepare(request)
            writer = asyncio.ensure_future(self._write(client))
            loop = asyncio.get_running_loop()
            window, count = -1, 0
            async for msg in ws:
                second = int(loop.time())
                window, count = (second, 1) if second != window else (window, count + 1)
                if count > self.max_messages_per_s:
                    # past the limit Binance drops the connection; say why first, after the
                    # replies already queued (the writer keeps the order)
                    client.queue.put_nowait(json.dumps({"error": {"code": 2, "msg": (
                        f"Invalid request: more than {self.max_messages_per_s} incoming "
                        "messages per second; disconnecting")}, "id": None},
                        separators=(",", ":")))
                    try:
                        await asyncio.wait_for(client.queue.join(), 5)
                    except TimeoutError:
                        pass
                    await ws.close(code=1008, message=b"too many messages")
                    break
                if msg.type == WSMsgType.TEXT:
                    self._control(client, msg.data)
                elif msg.type == WSMsgType.BINARY:
                    self._reply(client, None, error=(3, "Invalid JSON: binary frames are not "
                                                         "control messages"))
        finally:
            self._clients.discard(client)
            self._unsubscribe(client, list(client.names.values()))
            if writer is not None:
                writer.cancel()
        return ws

    @staticmethod
    def _reply(client: _Client, rid, result=None, error=None) -> None:
        if error is not None:
            out = {"error": {"code": error[0], "msg": error[1]}, "id": rid}
        else:
            out = {"result": result, "id": rid}
        client.queue.put_nowait(json.dumps(out, separators=(",", ":")))

    def _control(self, client: _Client, text: str) -> None:
        """One control message: ``{"method": ..., "params": [...], "id": n}``."""
        try:
            req = load_frame(text)
        except ValueError as exc:
            return self._reply(client, None, error=(3, f"Invalid JSON: {exc}"))
        if not isinstance(req, dict):
            return self._reply(client, None, error=(2, "Invalid request: expected an object"))
        rid = req.get("id")
        if rid is not None and not (
                (isinstance(rid, int) and not isinstance(rid, bool) and 0 <= rid < 2**63)
                or (isinstance(rid, str) and 0 < len(rid) <= _ID_MAX_LEN)):
            return self._reply(client, None, error=(2, "Invalid request: request ID must be an "
                                                       "unsigned integer, a string of at most "
                                                       f"{_ID_MAX_LEN} characters, or null"))
        method = req.get("method")
        if "method" not in req:
            return self._reply(client, rid, error=(2, "Invalid request: missing field `method`"))
        if not isinstance(method, str) or method not in _METHODS:
            shown = method if isinstance(method, str) else type(method).__name__
            return self._reply(client, rid, error=(2, f"Invalid request: unknown variant "
                                                      f"`{str(shown)[:40]}`, expected one of "
                                                      + ", ".join(f"`{m}`" for m in _METHODS)))
        params = req.get("params", [])
        if params is None:
            params = []
        if not isinstance(params, list):
            return self._reply(client, rid, error=(2, "Invalid request: `params` must be an array"))
        try:
            if method in ("SUBSCRIBE", "UNSUBSCRIBE"):
                if not all(isinstance(p, str) and 0 < len(p) <= 200 for p in params):
                    raise StreamError(2, "Invalid request: every parameter must be a stream "
                                         "name (a non-empty string)")
                if len(params) > self.max_streams:
                    raise StreamError(2, f"Invalid request: too many parameters "
                                         f"({len(params)} > {self.max_streams})")
                if method == "SUBSCRIBE":
                    self._subscribe(client, params)
                else:
                    self._unsubscribe(client, params)
                result = None
            elif method == "LIST_SUBSCRIPTIONS":
                result = sorted(client.names.values())
            elif method == "SET_PROPERTY":
                if len(params) != 2 or not isinstance(params[0], str):
                    raise StreamError(2, "Invalid request: property name must be a string")
                if params[0] != "combined":
                    raise StreamError(0, "Unknown property")
                if not isinstance(params[1], bool):
                    raise StreamError(1, "Invalid value type: expected Boolean")
                client.combined = params[1]
                result = None
            else:   # GET_PROPERTY
                if len(params) != 1 or not isinstance(params[0], str):
                    raise StreamError(2, "Invalid request: property name must be a string")
                if params[0] != "combined":
                    raise StreamError(0, "Unknown property")
                result = client.combined
        except StreamError as exc:
            return self._reply(client, rid, error=(exc.code, exc.msg))
        self._reply(client, rid, result=result)

    @staticmethod
    async def _write(client: _Client) -> None:
        while True:
            text = await client.queue.get()
            try:
                if client.ws.closed:
                    return
                await client.ws.send_str(text)
            finally:
                client.queue.task_done()

    async def close_all(self) -> None:
        for c in list(self._clients):
            await c.ws.close()
