"""WebSocket streams of the mock server: Binance's market streams and user data streams.

A connection subscribes to stream names (``btcusdt@depth@100ms``, ``btcusdt@aggTrade``,
``btcusdt@markPrice``, ``btcusdt@bookTicker``, or a listen key) through its URL
(``/ws/<stream>``, ``/stream?streams=a/b``) or with Binance's ``SUBSCRIBE`` /
``UNSUBSCRIBE`` / ``LIST_SUBSCRIPTIONS`` messages. Messages are queued per connection and
written by one task per connection, so each client sees them in publication order.
"""
from __future__ import annotations

import asyncio
import json
from collections import defaultdict

from aiohttp import WSMsgType, web

__all__ = ["StreamHub"]

# ``@depth`` and ``@depth@100ms`` / ``@depth@250ms`` / ``@depth@500ms`` carry the same diffs here:
# the mock publishes every change as it happens (a faster cadence than any of Binance's).
_DEPTH_SUFFIXES = ("@depth", "@depth@100ms", "@depth@250ms", "@depth@500ms", "@depth@0ms")


def canonical(stream: str) -> str:
    """The hub's key for a stream name (depth cadences share one key)."""
    for suffix in _DEPTH_SUFFIXES[1:]:
        if stream.endswith(suffix):
            return stream[: -len(suffix)] + "@depth"
    return stream


class _Client:
    def __init__(self, ws: web.WebSocketResponse, combined: bool) -> None:
        self.ws = ws
        self.combined = combined
        self.names: dict[str, str] = {}          # canonical key -> name as subscribed
        self.queue: asyncio.Queue = asyncio.Queue()


class StreamHub:
    """Subscriptions and fan-out. ``publish`` is synchronous (called from request handlers
    and venue callbacks on the server's loop); delivery is asynchronous."""

    def __init__(self) -> None:
        self._subs: dict[str, set[_Client]] = defaultdict(set)
        self.is_listen_key = lambda name: False      # set by the server

    def has(self, stream: str) -> bool:
        return bool(self._subs.get(canonical(stream)))

    def publish(self, stream: str, data: dict) -> None:
        key = canonical(stream)
        for client in self._subs.get(key, ()):
            name = client.names.get(key, key)
            payload = {"stream": name, "data": data} if client.combined else data
            client.queue.put_nowait(json.dumps(payload, separators=(",", ":")))

    def _subscribe(self, client: _Client, names) -> None:
        for name in names:
            key = canonical(name)
            client.names[key] = name
            self._subs[key].add(client)

    def _unsubscribe(self, client: _Client, names) -> None:
        for name in names:
            key = canonical(name)
            client.names.pop(key, None)
            self._subs[key].discard(client)

    async def handle(self, request: web.Request, streams: list[str], combined: bool):
        ws = web.WebSocketResponse(heartbeat=30)
        client = _Client(ws, combined)
        # subscribed before the handshake completes: a client that acts as soon as it is
        # connected must not miss what its own action publishes (queued until written)
        self._subscribe(client, streams)
        writer = None
        try:
            await ws.prepare(request)
            writer = asyncio.ensure_future(self._write(client))
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                self._control(client, msg.data)
        finally:
            self._unsubscribe(client, list(client.names.values()))
            if writer is not None:
                writer.cancel()
        return ws

    def _control(self, client: _Client, text: str) -> None:
        """Binance's live subscription messages: {"method": ..., "params": [...], "id": n}."""
        try:
            req = json.loads(text)
            method, rid = req.get("method"), req.get("id")
        except (ValueError, AttributeError):
            client.queue.put_nowait(json.dumps({"error": {"code": 3, "msg": "Invalid JSON"}}))
            return
        params = req.get("params") or []
        if method == "SUBSCRIBE":
            self._subscribe(client, [str(p) for p in params])
            result = None
        elif method == "UNSUBSCRIBE":
            self._unsubscribe(client, [str(p) for p in params])
            result = None
        elif method == "LIST_SUBSCRIPTIONS":
            result = sorted(client.names.values())
        else:
            client.queue.put_nowait(json.dumps(
                {"error": {"code": 1, "msg": f"Invalid request: unknown method {method!r}"},
                 "id": rid}))
            return
        client.queue.put_nowait(json.dumps({"result": result, "id": rid}))

    @staticmethod
    async def _write(client: _Client) -> None:
        while True:
            text = await client.queue.get()
            if client.ws.closed:
                return
            await client.ws.send_str(text)

    async def close_all(self) -> None:
        clients = {c for subs in self._subs.values() for c in subs}
        for c in clients:
            await c.ws.close()
