"""The HTTP/1.1 front of the server: REST requests parsed with httptools (llhttp, the parser of
Node.js and uvicorn) and answered from the connection's own callback, WebSocket upgrades handed
to aiohttp.

aiohttp's web server spends about 40 µs of CPU on every request before a handler runs (a
request object, a task step, the router, a response writer): as much as the venue command an
order request carries. The REST API needs none of it: every REST handler completes without
waiting (the venue is in process), so :class:`HttpFront` parses a request, runs it through the
same route table and middleware as the aiohttp application (:meth:`App._make_app`, the rate
limits and Binance's error envelope included) and writes the answer, all inside
``data_received``. A request that asks to upgrade (the WebSocket streams) is handed, with the
bytes that follow it, to the application's aiohttp protocol, which keeps the connection from
then on.

HTTP as aiohttp serves it: keep-alive (HTTP/1.1 by default, HTTP/1.0 on request), pipelined
requests answered in order, ``Expect: 100-continue``, HEAD on every GET route, request bodies up
to 1 MiB (413 beyond), request lines and header fields up to 8190 bytes (400 beyond),
malformed requests answered 400 and the connection closed, idle keep-alive connections closed
after 75 s. Served by :func:`~exchange.server.thread.serve` and
:class:`~exchange.server.thread.ServerThread` when httptools is installed; aiohttp alone
otherwise (``http="aiohttp"``).
"""
from __future__ import annotations

import asyncio
import logging
import time
from email.utils import formatdate
from http import HTTPStatus
from urllib.parse import parse_qsl, unquote

from aiohttp import web
from multidict import CIMultiDict, CIMultiDictProxy, MultiDict, MultiDictProxy

from exchange.server.payloads import Answer

try:
    import httptools
except ImportError:                       # the aiohttp server alone (slower, the same API)
    httptools = None

__all__ = ["HttpFront", "available"]

log = logging.getLogger("perpsim.server")

MAX_BODY = 1024 ** 2                      # aiohttp's client_max_size
MAX_FIELD = 8190                          # aiohttp's max_line_size / max_field_size
MAX_HEADERS = 128
KEEPALIVE_S = 75.0                        # aiohttp's keepalive_timeout


def available() -> bool:
    """Whether the front can serve (httptools is installed)."""
    return httptools is not None


#: a lingering close (after a refusal mid-request) lasts at most this long, or this much
LINGER_S = 2.0
LINGER_MAX_BYTES = 16 * 1024 * 1024


class _Reject(Exception):
    """A request the front answers with an HTTP error and then closes the connection."""

    def __init__(self, status: int, msg: str) -> None:
        super().__init__(msg)
        self.status, self.msg = status, msg


class Request:
    """What the handlers read of a request (the part of ``aiohttp.web.Request`` they use)."""

    __slots__ = ("method", "raw_path", "path", "_query", "_headers", "_body", "remote",
                 "version", "match_info")

    def __init__(self, method: str, raw_path: str, headers: CIMultiDict, body: bytes,
                 remote: str | None, version: str) -> None:
        self.method = method
        if "#" in raw_path:                       # a fragment is not sent to the server
            raw_path = raw_path.partition("#")[0]
        self.raw_path = raw_path
        path = raw_path.partition("?")[0]
        if "%" in path:
            try:
                path = unquote(path, errors="strict")
            except UnicodeDecodeError:           # kept percent-encoded, as yarl keeps it
                pass
        self.path = path
        self._query = None
        self._headers = headers
        self._body = body
        self.remote = remote
        self.version = version
        self.match_info: dict = {}

    @property
    def headers(self) -> CIMultiDictProxy:
        return self._headers

    @property
    def query(self) -> MultiDictProxy:
        if self._query is None:
            self._query = MultiDictProxy(MultiDict(parse_qsl(
                self.raw_path.partition("?")[2], keep_blank_values=True)))
        return self._query

    @property
    def can_read_body(self) -> bool:
        return bool(self._body)

    async def read(self) -> bytes:
        return self._body


_HTTP_ERRORS = {400: web.HTTPBadRequest, 417: web.HTTPExpectationFailed}


def _origin_form(url: bytes) -> bytes:
    """The origin form (``/path?query``) of an absolute-form request target
    (``http://host/path?query``), which an HTTP/1.1 server must accept; others as sent."""
    scheme, sep, rest = url.partition(b"://")
    if sep and scheme.lower() in (b"http", b"https"):
        slash = rest.find(b"/")
        return rest[slash:] if slash >= 0 else b"/"
    return url


async def _not_found(request):               # what aiohttp's router raises; the middleware
    raise web.HTTPNotFound()                     # answers it in Binance's envelope


async def _not_allowed(request):
    raise web.HTTPMethodNotAllowed(request.method, [])


class HttpFront:
    """The protocol factory of the front (``loop.create_server(front, host, port)``).
    ``mock``: the :class:`~exchange.server.binance.MockBinance`; ``aiohttp_server``: the
    application's protocol factory (``AppRunner.server``) that takes WebSocket upgrades."""

    def __init__(self, mock, aiohttp_server) -> None:
        if httptools is None:
            raise RuntimeError("the HTTP front needs httptools (pip install httptools)")
        self.mock = mock
        self.aiohttp_server = aiohttp_server
        self.routes: dict[str, dict[str, object]] = {}
        # dynamic routes (the streams, ``/ws/{streams}``): (prefix, variable, by method)
        self.prefixed: list[tuple[str, str, dict[str, object]]] = []
        for resource in mock.app.router.resources():
            info = resource.get_info()
            path = info.get("path")
            if path is None:
                head, _, var = info.get("formatter", "").partition("{")
                by_method = {r.method: r.handler for r in resource if r.method != "*"}
                self.prefixed.append((head, var.partition("}")[0].partition(":")[0], by_method))
                continue
            for route in resource:
                if route.method != "*":
                    self.routes.setdefault(path, {})[route.method] = route.handler
        self.connections: set[_Connection] = set()
        self._middleware = mock._limits       # the middleware, without aiohttp's response
        self._date = (0, b"")
        self._sweeper: asyncio.TimerHandle | None = None

    def __call__(self) -> _Connection:
        if self._sweeper is None:
            self._sweeper = asyncio.get_event_loop().call_later(KEEPALIVE_S / 5, self._sweep)
        return _Connection(self)

    def date(self) -> bytes:
        now = int(time.time())
        if now != self._date[0]:
            self._date = (now, formatdate(now, usegmt=True).encode())
        return self._date[1]

    def handler(self, method: str, path: str) -> tuple[object, dict]:
        """The route's handler of ``method`` on ``path`` (404 and 405 handlers when there is
        none, as aiohttp's router), and its match info."""
        match: dict = {}
        by_method = self.routes.get(path)
        if by_method is None:
            for head, var, methods in self.prefixed:
                if path.startswith(head) and len(path) > len(head):
                    by_method, match = methods, {var: path[len(head):]}
                    break
            else:
                return _not_found, match
        h = by_method.get(method)
        if h is None and method == "HEAD":
            h = by_method.get("GET")
        if h is None:
            return _not_allowed, match
        return h, match

    def _sweep(self) -> None:
        now = time.monotonic()
        for conn in list(self.connections):
            if conn.idle_since is not None and now - conn.idle_since > KEEPALIVE_S:
                conn.close()
        self._sweeper = asyncio.get_event_loop().call_later(KEEPALIVE_S / 5, self._sweep)

    def close_all(self) -> None:
        """Close every connection the front holds (the server stops)."""
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
        for conn in list(self.connections):
            conn.close()


_STATUS: dict = {}
_JSON_TYPE = b"Content-Type: " + Answer.content_type.encode() + b"\r\n"
_FRAMING = frozenset(("Content-Length", "Connection", "Transfer-Encoding"))


def _status_line(status: int, reason: str | None = None) -> bytes:
    key = (status, reason)
    line = _STATUS.get(key)
    if line is None:
        if reason is None:
            try:
                reason = HTTPStatus(status).phrase
            except ValueError:
                reason = ""
        line = _STATUS[key] = f"HTTP/1.1 {status} {reason}\r\n".encode("latin-1")
    return line


class _Connection(asyncio.Protocol):
    """One client connection of :class:`HttpFront`."""

    def __init__(self, front: HttpFront) -> None:
        self.front = front
        self._lingered: int | None = None      # bytes dropped after a refusal
        self.transport = None
        self.parser = httptools.HttpRequestParser(self)
        self.remote = None
        self.idle_since: float | None = time.monotonic()
        self._url = b""
        self._headers: list = []
        self._body: list = []
        self._body_size = 0
        self._ready: list = []            # complete requests not yet answered
        self._closing = False
        self._upgrade = False
        self._problem = None
        self._paused = False

    # --- asyncio.Protocol ---
    def connection_made(self, transport) -> None:
        self.transport = transport
        peer = transport.get_extra_info("peername")
        self.remote = peer[0] if isinstance(peer, tuple) and peer else None
        self.front.connections.add(self)

    def connection_lost(self, exc) -> None:
        self.front.connections.discard(self)
        self._closing = True

    def pause_writing(self) -> None:      # the client does not read: stop reading from it
        if not self._paused:
            self._paused = True
            self.transport.pause_reading()

    def resume_writing(self) -> None:
        if self._paused:
            self._paused = False
            self.transport.resume_reading()

    def data_received(self, data: bytes) -> None:
        if self._closing:
            if self._lingered is not None:       # a refused request's rest: read, dropped
                self._lingered += len(data)
                if self._lingered > LINGER_MAX_BYTES:
                    self.close()
            return
        self.idle_since = None
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade as exc:
            self._answer_ready()
            self._hand_over(data[exc.args[0]:] if exc.args else b"")
            return
        except _Reject as exc:
            self._answer_ready()
            self._reject(exc.status, exc.msg)
            return
        except httptools.HttpParserCallbackError as exc:
            self._answer_ready()
            cause = exc.__context__
            if isinstance(cause, _Reject):
                self._reject(cause.status, cause.msg)
            else:
                self._reject(400, "Bad HTTP request.")
            return
        except httptools.HttpParserError as exc:
            self._answer_ready()
            self._reject(400, f"Bad HTTP request: {exc}.")
            return
        self._answer_ready()
        if not self._closing:
            self.idle_since = time.monotonic()

    # --- httptools callbacks ---
    def on_message_begin(self) -> None:
        self._url = b""
        self._headers = []
        self._body = []
        self._body_size = 0

    def on_url(self, url: bytes) -> None:
        self._url += url
        if len(self._url) > MAX_FIELD:
            raise _Reject(400, f"The request line is longer than {MAX_FIELD} bytes.")

    def on_header(self, name: bytes, value: bytes) -> None:
        if len(name) + len(value) > MAX_FIELD:
            raise _Reject(400, f"A header field is longer than {MAX_FIELD} bytes.")
        self._headers.append((name, value))
        if len(self._headers) > MAX_HEADERS:
            raise _Reject(400, f"More than {MAX_HEADERS} header fields.")

    def on_headers_complete(self) -> None:
        if self.parser.should_upgrade():
            self._upgrade = True
            return
        self._problem = None
        host = False
        for name, value in self._headers:
            n = len(name)
            if n == 4 and name.lower() == b"host":
                host = True
            elif n == 6 and name.lower() == b"expect":
                if self.parser.get_http_version() != "1.1":
                    continue                        # HTTP/1.0: an expectation is ignored
                if value.lower() == b"100-continue":
                    self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
                else:
                    self._problem = (417, "Unknown Expect: " + value.decode("latin-1"), False)
        if not host and self.parser.get_http_version() == "1.1":
            self._problem = (400, "Missing 'Host' header in request.", True)

    def on_body(self, body: bytes) -> None:
        self._body_size += len(body)
        if self._body_size > MAX_BODY:
            raise _Reject(413, f"The request body is larger than {MAX_BODY} bytes.")
        self._body.append(body)

    def on_message_complete(self) -> None:
        if self._upgrade:
            return                        # handed over to aiohttp (HttpParserUpgrade follows)
        p = self.parser
        self._ready.append((p.get_method().decode("ascii", "replace"), self._url,
                            self._headers, b"".join(self._body), p.should_keep_alive(),
                            p.get_http_version(), self._problem))

    # --- answering ---
    def _answer_ready(self) -> None:
        ready, self._ready = self._ready, []
        for method, url, headers, body, keep_alive, version, problem in ready:
            if self._closing:
                return
            if problem is not None:             # as aiohttp answers them
                status, text, close = problem
                self._write(_HTTP_ERRORS[status](text=text), keep_alive and not close,
                            method == "HEAD", version)
                continue
            self._answer(method, url, headers, body, keep_alive, version)

    def _answer(self, method, url, headers, body, keep_alive, version) -> None:
        front = self.front
        if url[:1] != b"/":
            url = _origin_form(url)
        try:
            raw_path = url.decode("utf-8")
        except UnicodeDecodeError:
            raw_path = url.decode("latin-1")
        hdrs = CIMultiDict([(k.decode("latin-1"), v.decode("latin-1")) for k, v in headers])
        request = Request(method, raw_path, CIMultiDictProxy(hdrs), body, self.remote, version)
        handler, request.match_info = front.handler(method, request.path)
        coro = front._middleware(request, handler)
        try:
            try:
                coro.send(None)
            except StopIteration as done:
                resp = done.value
            else:                          # a REST handler never waits; if one does, say so
                coro.close()
                raise RuntimeError(f"{method} {request.path} waited: the HTTP front answers "
                                   "REST requests without waiting")
        except web.HTTPException as exc:
            resp = exc
        except Exception:
            log.exception("%s %s failed", method, request.path)
            resp = Answer(b'{"code":-1000,"msg":"An unknown error occurred while processing '
                          b'the request."}', 500)
        self._write(resp, keep_alive, method == "HEAD", version)

    def _write(self, resp, keep_alive: bool, head: bool, version: str) -> None:
        """Write ``resp`` (an :class:`Answer` or an aiohttp response) as the answer to a
        request of HTTP ``version`` (the request's own: a pipelined next one may be parsed)."""
        body = resp.body
        if type(resp) is Answer:
            parts = [_status_line(resp.status), _JSON_TYPE]
            for k, v in resp.headers.items():
                parts.append(f"{k}: {v}\r\n".encode("latin-1"))
        else:                                             # an aiohttp response (HTTP errors)
            if body is None:
                body = b""
            elif not isinstance(body, (bytes, bytearray)):
                body = getattr(body, "_value", b"")       # an aiohttp payload of bytes
            parts = [_status_line(resp.status, resp.reason)]
            for k, v in resp.headers.items():
                if k not in _FRAMING:
                    parts.append(f"{k}: {v}\r\n".encode("latin-1"))
        parts.append(b"Content-Length: %d\r\nDate: %s\r\nServer: perpsim\r\n"
                     % (len(body), self.front.date()))
        if not keep_alive:
            parts.append(b"Connection: close\r\n")
        elif version == "1.0":
            parts.append(b"Connection: keep-alive\r\n")
        parts.append(b"\r\n")
        if not head:
            parts.append(body)
        self.transport.write(b"".join(parts))
        if not keep_alive:
            self.close()

    def _reject(self, status: int, msg: str) -> None:
        import json

        body = json.dumps({"code": -1000, "msg": msg}).encode()
        self.transport.write(_status_line(status) + b"Content-Type: application/json; "
                             b"charset=utf-8\r\nContent-Length: %d\r\nDate: %s\r\nServer: "
                             b"perpsim\r\nConnection: close\r\n\r\n" % (len(body), self.front.date())
                             + body)
        self._linger()

    def _linger(self) -> None:
        """Close after an answer sent in the middle of a request (413, 400): the write side
        first, then read and drop what the client still sends for up to LINGER_S seconds
        (or LINGER_MAX_BYTES), so that the unread rest of its request does not make the
        kernel reset the connection before the client has read the answer (a lingering
        close, as nginx's ``lingering_close``)."""
        self._closing = True
        self.front.connections.discard(self)
        t = self.transport
        if t is None or t.is_closing():
            return
        self._lingered = 0
        if self._paused:
            self._paused = False
            t.resume_reading()
        try:
            if t.can_write_eof():
                t.write_eof()
        except (OSError, RuntimeError):
            self.close()
            return
        asyncio.get_running_loop().call_later(LINGER_S, self.close)

    def _hand_over(self, rest: bytes) -> None:
        """Give the connection, from the upgrade request on, to the aiohttp application."""
        p = self.parser
        head = [p.get_method() + b" " + self._url + b" HTTP/" + p.get_http_version().encode()
                + b"\r\n"]
        head += [k + b": " + v + b"\r\n" for k, v in self._headers]
        head.append(b"\r\n")
        self._closing = True
        self.front.connections.discard(self)
        proto = self.front.aiohttp_server()
        self.transport.set_protocol(proto)
        proto.connection_made(self.transport)
        if self._paused:
            self.transport.resume_reading()
        proto.data_received(b"".join(head) + rest)

    def close(self) -> None:
        self._closing = True
        self.front.connections.discard(self)
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()
