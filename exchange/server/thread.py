"""Running the mock server beside a test or a script: :class:`ServerThread` (its own thread
and event loop, bound to 127.0.0.1) and :func:`ccxt_config` (point an unmodified ccxt client
at it)."""
from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Callable
from typing import Any

from aiohttp import web

__all__ = ["ServerThread", "ccxt_config", "serve"]

_HOST = re.compile(r"^(https?|wss?)://[^/]+")


class ServerThread:
    """``with ServerThread(mock) as srv:`` serves ``mock.app`` on ``host:port`` (port 0: a
    free one) from a background thread until the block ends. ``srv.call(fn, ...)`` runs
    ``fn`` on the server's loop (the venue is not thread-safe: drive it from there)."""

    def __init__(self, mock, host: str = "127.0.0.1", port: int = 0,
                 http: str = "auto") -> None:
        self.mock = mock
        self.host, self.port = host, port
        self.http = http
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._site: Site | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://{self.host}:{self.port}"

    def start(self) -> ServerThread:
        self._thread = threading.Thread(target=self._run, name="perpsim-mock-binance", daemon=True)
        self._thread.start()
        self._ready.wait(30)
        if self._error is not None:
            raise RuntimeError(f"mock server failed to start: {self._error!r}") from self._error
        return self

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._start_site())
        except BaseException as exc:   # reported to start()
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        loop.run_forever()
        loop.run_until_complete(self._site.cleanup())
        loop.close()

    async def _start_site(self) -> None:
        self._site = await Site.start(self.mock, self.host, self.port, self.http)
        self.port = self._site.port

    def call(self, fn: Callable, *args, **kwargs) -> Any:
        """Run ``fn(*args, **kwargs)`` on the server's loop; return its result (or raise)."""
        async def run():
            return fn(*args, **kwargs)

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(30)

    def stop(self) -> None:
        if self._loop is not None and self._loop.is_running():
            async def shutdown():
                await self._site.shutdown()
            asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(30)
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(30)

    def __enter__(self) -> ServerThread:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def ccxt_config(base_url: str, api_key: str, secret: str, **extra) -> dict:
    """Constructor settings for an unmodified ``ccxt.binanceusdm`` (or ``ccxt.pro``) that
    sends every request to the mock at ``base_url``: each of ccxt's Binance endpoints
    (``https://fapi.binance.com/fapi/v1``, ``https://api.binance.com/sapi/v1``,
    ``wss://fstream.binance.com/ws``…) with its host replaced; ccxt's USDⓈ-M error table (it
    would otherwise choose it by host name, and fall back to a generic one); no client-side
    rate limiting. ``extra`` is merged in."""
    import ccxt

    ws_base = re.sub(r"^http", "ws", base_url.rstrip("/"))
    http_base = base_url.rstrip("/")

    def rewrite(value):
        if isinstance(value, dict):
            return {k: rewrite(v) for k, v in value.items()}
        if isinstance(value, str) and _HOST.match(value):
            return _HOST.sub(ws_base if value.startswith("ws") else http_base, value)
        return value

    reference = ccxt.binanceusdm()
    api = rewrite(reference.urls["api"])
    try:
        import ccxt.pro as ccxtpro

        api = {**rewrite(ccxtpro.binanceusdm().urls["api"]), **api}
    except Exception:  # ccxt without its websocket part: REST only
        pass
    # ccxt picks its futures error table by the host it talks to (fapi.binance.com); give it
    # that table here so that errors map to the same classes as against Binance
    linear = reference.exceptions.get("linear", {})
    cfg = {"apiKey": api_key, "secret": secret, "urls": {"api": api},
           "options": {"adjustForTimeDifference": False},
           "enableRateLimit": False}           # a local mock: no need to pace requests
    if linear:
        cfg["exceptions"] = {"exact": dict(linear.get("exact", {})),
                             "broad": dict(linear.get("broad", {}))}
    for k, v in extra.items():
        if isinstance(v, dict) and isinstance(cfg.get(k), dict):
            cfg[k] = {**cfg[k], **v}
        else:
            cfg[k] = v
    return cfg


def event_loop(kind: str = "auto") -> asyncio.AbstractEventLoop:
    """A new event loop for a server: ``"auto"`` — uvloop when it is installed
    (``pip install perpsim[server]``; libuv's loop answers a request in about two thirds of
    the standard loop's time), else asyncio's; ``"uvloop"`` or ``"asyncio"`` to choose."""
    if kind not in ("auto", "uvloop", "asyncio"):
        raise ValueError(f"'loop' must be 'auto', 'uvloop' or 'asyncio' (got {kind!r})")
    if kind != "asyncio":
        try:
            import uvloop
        except ImportError:
            if kind == "uvloop":
                raise
        else:
            return uvloop.new_event_loop()
    return asyncio.new_event_loop()


class Site:
    """The server listening: the aiohttp application started (its startup hooks run), and a
    socket served by the HTTP front (:mod:`exchange.server.http`: REST answered in the
    connection's callback, WebSocket upgrades handed to aiohttp) or, with ``http="aiohttp"``
    or without httptools, by aiohttp alone."""

    def __init__(self, runner, server, front) -> None:
        self.runner, self.server, self.front = runner, server, front
        self.port = server.sockets[0].getsockname()[1]

    @classmethod
    async def start(cls, mock, host: str, port: int, http: str = "auto") -> Site:
        from exchange.server import http as front_mod

        if http not in ("auto", "front", "aiohttp"):
            raise ValueError(f"'http' must be 'auto', 'front' or 'aiohttp' (got {http!r})")
        if http == "front" and not front_mod.available():
            raise RuntimeError("http='front' needs httptools (pip install httptools)")
        runner = web.AppRunner(mock.app, handle_signals=False, access_log=None)
        await runner.setup()
        front = None
        if http != "aiohttp" and front_mod.available():
            front = front_mod.HttpFront(mock, runner.server)
            factory = front
        else:
            factory = runner.server
        loop = asyncio.get_running_loop()
        server = await loop.create_server(factory, host, port, reuse_address=True)
        return cls(runner, server, front)

    async def shutdown(self) -> None:
        """Stop listening, close the front's connections and shut the application down
        (its WebSockets closed, its shutdown hooks run)."""
        self.server.close()
        if self.front is not None:
            self.front.close_all()
        await self.runner.shutdown()

    async def cleanup(self) -> None:
        """After :meth:`shutdown`: the application's cleanup hooks."""
        await self.runner.cleanup()


def serve(mock, host: str = "127.0.0.1", port: int = 8080, loop: str = "auto",
          http: str = "auto") -> None:
    """Serve in the foreground until SIGINT or SIGTERM (the ``perpsim serve`` command), on
    :func:`event_loop` ``(loop)``, through :class:`Site` ``(http)``. A server whose state
    journal fails (:attr:`MockBinance.halted`) answers what is in flight with 503 and
    stops: SystemExit naming why."""
    import signal

    ev = event_loop(loop)
    asyncio.set_event_loop(ev)
    halted: list[str] = []

    async def main() -> None:
        site = await Site.start(mock, host, port, http)
        stop = asyncio.Event()

        def on_halt(reason: str) -> None:
            halted.append(reason)
            ev.call_later(0.2, stop.set)          # the answers in flight are written first

        mock.on_halt = on_halt
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                ev.add_signal_handler(sig, stop.set)
            except (NotImplementedError, RuntimeError, ValueError):
                # no signal handlers off the main thread or on Windows' loop: there Ctrl-C
                # raises KeyboardInterrupt out of the loop, as under web.run_app
                continue
        try:
            await stop.wait()
        finally:
            await site.shutdown()
            await site.cleanup()

    try:
        ev.run_until_complete(main())
    finally:
        mock.on_halt = None
        ev.close()
    if halted:
        raise SystemExit(f"perpsim serve: {halted[0]}")
