"""A Binance USDⓈ-M futures compatible REST + WebSocket server over one simulated venue.

Unmodified clients (ccxt's ``binanceusdm``, Binance's own SDKs, bots) talk to it as to
``fapi.binance.com``: same paths, parameters, HMAC-SHA256 request signing, JSON shapes and
error codes. Behind it is an :class:`exchange.venue.Exchange` built from a preset, with its
risk checks, matching engine, liquidation waterfall and funding; the mark price is driven by
the test or script that runs the server (:meth:`MockBinance.set_mark`), so that scenarios
(a crash, a squeeze) are reproducible.

What is served (see the module's tests for each, ``tests/server``):

- public: ping, time, exchangeInfo (also the spot ``/api/v3`` and COIN-M ``/dapi/v1`` ones,
  empty, for ccxt's ``binance`` class and freqtrade), depth, trades, historicalTrades,
  aggTrades, klines, continuousKlines, markPriceKlines, indexPriceKlines,
  premiumIndexKlines (:mod:`exchange.server.history`), ticker/price, ticker/bookTicker,
  ticker/24hr, premiumIndex, fundingRate, openInterest;
- signed: order (new, query, cancel, modify), batchOrders (POST, PUT, DELETE), the Algo
  Order API for conditional orders (algoOrder, openAlgoOrders, allAlgoOrders,
  algoOpenOrders), openOrders, allOpenOrders, allOrders, userTrades, income, forceOrders,
  commissionRate, account, balance, positionRisk (v2 and v3), leverage, marginType,
  positionMargin, listenKey; ``/sapi/v1/capital/config/getall`` and the margin pair lists
  so that a client that loads currencies at start-up finds USDT;
- WebSocket (:mod:`exchange.server.streams`): every market stream ccxt.pro subscribes to and
  user data (ORDER_TRADE_UPDATE, ALGO_UPDATE, ACCOUNT_UPDATE, MARGIN_CALL,
  listenKeyExpired) on every URL shape it builds;
- rate limits and key permissions (:mod:`exchange.server.limits`), durability
  (:mod:`exchange.server.journal`).

Not served (answers ``-1000`` "not supported by the mock"): hedge mode (position side LONG /
SHORT), multi-assets margin, convert and the WebSocket API (``ws-fapi``).

Units: the venue keeps integers (ticks, lots, atoms); the edge converts with the preset's
instrument specs, so a price or quantity off the grid is refused the way Binance refuses it.
"""
from __future__ import annotations

import hmac
import itertools
import json
import re
import secrets
import time
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl

import attrs
from aiohttp import web

from exchange import events as ev_mod
from exchange.codes import RejectReason
from exchange.errors import InvalidCommandError
from exchange.server import history
from exchange.server.history import INTERVALS, Series
from exchange.server.limits import Limiter, RateLimits, request_weight
from exchange.server.streams import StreamError, StreamHub, canonical
from exchange.venue import Exchange, Order

__all__ = ["MockBinance", "Credentials", "BinanceError"]

SETTLE_ASSET = "USDT"
RECV_WINDOW_MS = 5000
FUNDING_INTERVAL_MS = 8 * 3600 * 1000
#: PRICE_FILTER maxPrice, in ticks (what exchangeInfo shows)
MAX_PRICE_TICKS = 10**9
#: Binance's newClientOrderId rule (https://developers.binance.com/docs/derivatives/
#: usds-margined-futures/trade/rest-api/New-Order, read 2026-12-02)
_CLIENT_ID = re.compile(r"[.A-Z:/a-z0-9_-]{1,36}")
_ORDER_TYPES = ("LIMIT", "MARKET", "STOP", "STOP_MARKET", "TAKE_PROFIT", "TAKE_PROFIT_MARKET",
                "TRAILING_STOP_MARKET")
_TIFS = ("GTC", "IOC", "FOK", "GTX")
_CONDITIONAL_TYPES = ("STOP", "STOP_MARKET", "TAKE_PROFIT", "TAKE_PROFIT_MARKET",
                      "TRAILING_STOP_MARKET")
_STP_MODES = {"NONE": "NONE", "EXPIRE_TAKER": "EXPIRE_TAKER", "EXPIRE_MAKER": "EXPIRE_MAKER",
              "EXPIRE_BOTH": "EXPIRE_BOTH"}
_CANCEL_USER, _CANCEL_IOC, _CANCEL_STP, _CANCEL_LIQUIDATION = 0, 1, 2, 3


class BinanceError(Exception):
    """An error answered as Binance does: ``{"code": code, "msg": msg}`` with an HTTP status."""

    def __init__(self, code: int, msg: str, status: int = 400, headers: dict | None = None) -> None:
        super().__init__(msg)
        self.code, self.msg, self.status = code, msg, status
        self.headers = headers or {}


# venue rejection reason -> Binance error (code, message); {side} / {price} filled in
_REJECTS: dict[int, tuple[int, str]] = {
    RejectReason.INVALID_PRICE: (-4014, "Price not increased by tick size."),
    RejectReason.INVALID_QTY: (-4023, "Quantity not increased by step size."),
    RejectReason.BELOW_MIN_NOTIONAL: (-4164, "Order's notional must be no smaller than {min_notional} "
                                             "(unless you choose reduce only)."),
    RejectReason.ABOVE_MAX_QTY: (-4005, "Quantity greater than max quantity."),
    RejectReason.PRICE_OUT_OF_BAND: (-4016, "Limit price can't be {direction} than {bound}."),
    RejectReason.UNKNOWN_ORDER: (-2011, "Unknown order sent."),
    RejectReason.DUPLICATE_CLIENT_ORDER_ID: (-4116, "ClientOrderId is duplicated."),
    RejectReason.INVALID_TRIGGER: (-2021, "Order would immediately trigger."),
    RejectReason.INVALID_TIME_IN_FORCE: (-1115, "Invalid timeInForce."),
    RejectReason.INVALID_LEVERAGE: (-4028, "Leverage {leverage} is not valid"),
    RejectReason.INVALID_CALLBACK_RATE: (-2007, "Invalid callBackRate."),
    RejectReason.SYMBOL_NOT_TRADING: (-4000, "Invalid order status."),
    RejectReason.INSUFFICIENT_MARGIN: (-2019, "Margin is insufficient."),
    RejectReason.REDUCE_ONLY_WOULD_INCREASE: (-2022, "ReduceOnly Order is rejected."),
    RejectReason.POSITION_LIMIT_EXCEEDED: (-2027, "Exceeded the maximum allowable position at "
                                                  "current leverage."),
    RejectReason.LEVERAGE_ABOVE_TIER_MAX: (-2027, "Exceeded the maximum allowable position at "
                                                  "current leverage."),
    RejectReason.INSUFFICIENT_BALANCE: (-2019, "Margin is insufficient."),
    RejectReason.WITHDRAWAL_WOULD_BREACH_IM: (-2019, "Margin is insufficient."),
    RejectReason.MARGIN_MODE_CHANGE_WITH_OPEN_POSITION: (
        -4048, "Margin type cannot be changed if there exists position or open orders."),
    RejectReason.MARGIN_REMOVAL_WOULD_BREACH_IM: (-4051, "Isolated balance insufficient."),
    RejectReason.LEVERAGE_CHANGE_WOULD_BREACH_IM: (-2027, "Exceeded the maximum allowable "
                                                          "position at current leverage."),
    RejectReason.OPEN_ORDER_LIMIT_EXCEEDED: (-2025, "Reach max open order limit."),
    RejectReason.POST_ONLY_WOULD_CROSS: (
        -5022, "Due to the order could not be executed as maker, the Post Only order will be "
               "rejected. The order will not be recorded in the order history"),
    RejectReason.FOK_NOT_FILLABLE: (
        -5021, "Due to the order could not be filled immediately, the FOK order has been "
               "rejected. The order will not be recorded in the order history"),
    RejectReason.DUPLICATE_ORDER_ID: (-4116, "ClientOrderId is duplicated."),
    RejectReason.UNKNOWN_ORDER_ID: (-2011, "Unknown order sent."),
    RejectReason.PRICE_OUT_OF_RANGE: (-4016, "Limit price can't be {direction} than {bound}."),
    RejectReason.ACCOUNT_IN_LIQUIDATION: (-2023, "User in liquidation mode now."),
    RejectReason.ORACLE_STALE: (-4000, "Invalid order status."),
    RejectReason.MARKET_PAUSED: (-4000, "Invalid order status."),
}


PERMISSIONS = ("read", "trade")


@attrs.frozen
class Credentials:
    """An API key pair of one account. ``permissions``: ``("read",)`` for a read-only key
    (Binance's "Enable Reading"), ``("read", "trade")`` to trade too ("Enable Futures")."""

    api_key: str
    secret: str
    account: int
    permissions: tuple = PERMISSIONS


def _s(value: Decimal | int | None) -> str:
    """A decimal as Binance writes it: plain notation, no exponent."""
    if value is None:
        return "0"
    d = Decimal(value)
    return format(d.normalize(), "f") if d else "0"


try:                                    # orjson: the same JSON, several times faster
    import orjson as _orjson
except ImportError:                     # without perpsim[server]: the standard library's
    _orjson = None


def _dumps(data) -> str:
    if _orjson is not None:
        try:
            return _orjson.dumps(data).decode()
        except TypeError:               # what orjson does not write (ints beyond 64 bits)
            pass
    return json.dumps(data)


def _json_response(data, *, status: int = 200, headers=None) -> web.Response:
    """``web.json_response`` with :func:`_dumps`."""
    return web.Response(text=_dumps(data), status=status, headers=headers,
                        content_type="application/json")


_REPLAY_MS: list[int] = []          # the journaled time of the command being replayed


def _now_ms() -> int:
    return _REPLAY_MS[-1] if _REPLAY_MS else time.time_ns() // 1_000_000


@attrs.frozen
class _Count:
    """An ``itertools.count`` in a snapshot: its next value."""

    n: int


@attrs.define
class _Order:
    """Binance's view of one order (the venue keeps the integers; this keeps the history)."""

    order_id: int
    account: int
    instr: int
    symbol: str
    client_id: str
    side: str
    type: str
    tif: str
    orig_lots: int
    price_ticks: int
    stop_ticks: int
    reduce_only: bool
    close_position: bool
    working_type: str
    time_ms: int
    status: str = "NEW"
    executed_lots: int = 0
    cum_quote: Decimal = Decimal(0)
    update_ms: int = 0
    activation_ticks: int = 0
    callback_rate: str | None = None
    stp: str = "NONE"
    venue_oid: int = 0
    orig_type: str = ""
    algo: bool = False              # placed through the Algo Order API (/fapi/v1/algoOrder)
    actual_order_id: int = 0        # algo: the order created when it triggered
    trigger_ms: int = 0


class MockBinance:
    """The server's state and request handlers.

    ``preset``: a preset name or :class:`~exchange.presets.VenuePreset`-compatible path;
    ``venue``: an :class:`Exchange` to serve instead (built with ``track_deltas=True`` if
    depth streams are wanted); ``marks``: initial mark prices by symbol (orders need a mark:
    the price band and margin are computed from it). ``clock``: ``"wall"`` (the venue clock
    follows the machine's clock at every request) or ``"manual"`` (it moves only when the
    host calls :meth:`advance_to`). Conditional orders (stop, take-profit, trailing stop)
    are served by the Algo Order API (``/fapi/v1/algoOrder``, as Binance since December 2025)
    and, for older clients, by ``/fapi/v1/order`` too; ``algo_only=True`` refuses them there
    with Binance's ``-4120`` as the live venue does.
    """

    def __init__(self, preset: str = "binance_usdm", *, venue: Exchange | None = None,
                 marks: dict[str, Any] | None = None, clock: str = "wall",
                 algo_only: bool = False, listen_key_ttl_s: float = 3600.0,
                 rate_limits: RateLimits | None = RateLimits(), state_dir=None,  # noqa: B008
                 fsync: str = "always", snapshot_records: int | None = 10_000,
                 snapshot_seconds: float | None = 300.0) -> None:
        if clock not in ("wall", "manual"):
            raise InvalidCommandError(f"'clock' must be 'wall' or 'manual' (got {clock!r})")
        self.venue = venue if venue is not None else Exchange.from_preset(preset, track_deltas=True)
        self.clock = clock
        self.algo_only = algo_only
        self.hub = StreamHub()
        if rate_limits is not None and not isinstance(rate_limits, RateLimits):
            raise InvalidCommandError(f"'rate_limits' must be a RateLimits or None (got {rate_limits!r})")
        self.limiter = Limiter(rate_limits) if rate_limits is not None else None
        self.hub.validate = self._validate_stream
        self.hub.on_subscribe = self._on_subscribe
        self._keys: dict[str, Credentials] = {}
        self._listen_keys: dict[str, int] = {}
        self._listen_alive: dict[str, float] = {}        # listen key -> monotonic last keepalive
        if not listen_key_ttl_s > 0:
            raise InvalidCommandError(f"'listen_key_ttl_s' must be > 0 (got {listen_key_ttl_s!r})")
        self.listen_key_ttl_s = float(listen_key_ttl_s)
        n = len(self.venue.symbols)
        self._trade_series = [Series() for _ in range(n)]
        self._mark_series = [Series() for _ in range(n)]
        self._index_series = [Series() for _ in range(n)]
        self._premium_series = [Series() for _ in range(n)]
        self._force_orders: dict[int, list[_Order]] = {}   # account -> its liquidation orders
        self._market_dirty: set[int] = set()
        self._market_last: dict[int, float] = {}
        self._market_timer = None
        self._last_wallet: dict[int, Decimal] = {}
        self._depth_pending: dict[int, dict] = {}
        self._depth_last_u: dict[int, int] = {}
        self._partial_dirty: set[int] = set()
        self._agg_trades: list[list[dict]] = [[] for _ in range(n)]
        self._income: dict[int, list[dict]] = {}
        self._tran_ids = itertools.count(1)
        self._orders: dict[int, _Order] = {}             # Binance orderId -> order
        self._by_venue: dict[int, _Order] = {}           # venue oid (conditional: < 0) -> order
        self._by_client: dict[tuple[int, str], _Order] = {}
        self._next_order_id = itertools.count(1_000_000_001)
        self._trade_ids = itertools.count(1)
        self._agg_ids = itertools.count(1)
        self._trades: list[list[dict]] = [[] for _ in self.venue.symbols]     # public trades
        self._user_trades: dict[int, list[dict]] = {}
        self._funding: list[list[dict]] = [[] for _ in self.venue.symbols]
        self._last_rate = ["0" for _ in self.venue.symbols]
        self._update_id = [0 for _ in self.venue.symbols]
        self._pending_origin: dict | None = None
        self._agg: list | None = None                    # the aggTrade being accumulated
        self._algo_child: dict[int, _Order] = {}         # venue oid of a triggered algo's order
        self._auto_ids = itertools.count(1)
        self._replaying = False
        self.journal = None
        self.app = self._make_app()
        # everything the venue records, whoever caused it (a request here, the simulator's
        # agents, the liquidation engine), updates the orders of record and the streams
        self.venue.record_hooks.append(self._on_records)
        if state_dir is not None:
            from exchange.server.journal import Journal

            journal = Journal(state_dir, fsync, snapshot_records, snapshot_seconds)
            self._replay(journal)
            self.journal = journal
        if self.journal is None or not self.journal.records:    # a fresh state only
            for symbol, price in (marks or {}).items():
                self.set_mark(symbol, price)

    # ------------------------------------------------------------------ durability
    @property
    def restored(self) -> bool:
        """Whether this server's state came back from a journal (``state_dir``)."""
        return self.journal is not None and self._restored

    def _log(self, rec: dict) -> None:
        if self.journal is not None and not self._replaying:
            rec["ms"] = _now_ms()
            rec["ns"] = int(self.venue.ts_ns)
            self.journal.append(rec)
            if self.journal.snapshot_due():
                self.journal.write_snapshot(self.snapshot())

    # server state that is not a snapshot's: the venue (snapshotted on its own), plumbing,
    # configuration, the rate limiter's windows and the keepalive clocks (monotonic time)
    _NOT_SNAPSHOTTED = frozenset((
        "venue", "hub", "limiter", "app", "journal", "clock", "algo_only", "listen_key_ttl_s",
        "_market_timer", "_streams_task", "_expiry_task", "_listen_alive", "_replaying",
        "_restored", "_market_last", "_book_stream_names"))

    def snapshot(self) -> bytes:
        """The server's whole state as bytes: the venue's :meth:`Exchange.snapshot` (without
        its in-memory event journal: the server keeps its own history) and the server's
        own (keys, listen keys, orders of record, trades, history series, id counters).
        What :meth:`_restore_snapshot` reads (a restart from ``state_dir``). O(state)."""
        import pickle

        own = {}
        for name, value in vars(self).items():
            if name in self._NOT_SNAPSHOTTED:
                continue
            if isinstance(value, itertools.count):        # counters pickle as their next value
                n = next(value)
                setattr(self, name, itertools.count(n))
                value = _Count(n)
            own[name] = value
        return pickle.dumps({"version": 1, "venue": self.venue.snapshot(events=False),
                             "server": own}, pickle.HIGHEST_PROTOCOL)

    def _restore_snapshot(self, data: bytes) -> None:
        import pickle

        state = pickle.loads(data)
        if not isinstance(state, dict) or state.get("version") != 1:
            raise InvalidCommandError("the state directory's snapshot is not a version 1 "
                                      "server snapshot")
        self.venue = Exchange.restore(state["venue"])
        self.venue.record_hooks.append(self._on_records)
        for name, value in state["server"].items():
            setattr(self, name, itertools.count(value.n) if isinstance(value, _Count) else value)

    def _replay(self, journal) -> None:
        self._replaying = True
        self._restored = False
        try:
            snap = journal.load_snapshot()
            if snap is not None:
                self._restore_snapshot(snap)
                self._restored = True
            for rec in journal.read():
                self._restored = True
                _REPLAY_MS.append(rec["ms"])
                try:
                    if rec["ns"] > self.venue.ts_ns:
                        self.venue.advance_to(rec["ns"])
                    self._replay_one(rec)
                except (BinanceError, InvalidCommandError):
                    pass                  # answered with this error the first time too
                finally:
                    _REPLAY_MS.pop()
        finally:
            self._replaying = False
        now = time.monotonic()
        for k in self._listen_keys:
            self._listen_alive[k] = now

    def _replay_one(self, rec: dict) -> None:
        k = rec["k"]
        if k == "account":
            self.add_account(rec["deposit"], rec["api_key"], rec["secret"], tuple(rec["perms"]))
        elif k == "cmd":
            getattr(self, "_cmd_" + rec["cmd"])(self._keys[rec["key"]], rec["params"])
        elif k == "mark":
            self.set_mark(rec["symbol"], rec["price"], rec["index"])
        elif k == "funding":
            self.settle_funding(rec["symbol"], rec["rate"])
        elif k == "listen_new":
            self._listen_keys[rec["lk"]] = self._keys[rec["key"]].account
        elif k == "listen_close":
            self._close_listen_keys(self._keys[rec["key"]].account)
        elif k == "advance":
            pass                                  # the clock was moved to rec["ns"] above
        else:
            raise InvalidCommandError(f"unknown journal record kind {k!r}")

    def _mutate(self, kind: str, cred: Credentials, params: dict):
        """Run a signed command that changes the venue; journal it before answering."""
        try:
            resp = getattr(self, "_cmd_" + kind)(cred, params)
        except BinanceError as exc:
            if exc.status != 429:                 # refused by the limiter: never ran
                self._log({"k": "cmd", "cmd": kind, "key": cred.api_key, "params": params})
            raise
        except Exception:
            self._log({"k": "cmd", "cmd": kind, "key": cred.api_key, "params": params})
            raise
        self._log({"k": "cmd", "cmd": kind, "key": cred.api_key, "params": params})
        return resp

    # ------------------------------------------------------------------ host API
    def add_account(self, deposit: Any = "10000", api_key: str | None = None,
                    secret: str | None = None, permissions=PERMISSIONS) -> Credentials:
        """Open a venue account with an API key pair; returns the credentials.
        ``permissions=("read",)`` makes a read-only key (signed reads work; anything that
        changes the account answers -2015, as Binance does for a key without trading)."""
        perms = tuple(permissions)
        if "read" not in perms or not set(perms) <= set(PERMISSIONS):
            raise InvalidCommandError(f"'permissions' must be ('read',) or ('read', 'trade') "
                                      f"(got {permissions!r})")
        acct = self.venue.open_account(deposit=deposit)
        cred = Credentials(api_key or secrets.token_hex(32), secret or secrets.token_hex(32), acct,
                           tuple(p for p in PERMISSIONS if p in perms))
        if cred.api_key in self._keys:
            raise InvalidCommandError(f"'api_key' is already in use (got {cred.api_key!r})")
        self._keys[cred.api_key] = cred
        self._log({"k": "account", "deposit": str(deposit), "api_key": cred.api_key,
                   "secret": cred.secret, "perms": list(cred.permissions)})
        self._drain_books()
        return cred

    def set_mark(self, symbol: str, price: Any, index: Any = None) -> list:
        """Publish a mark (and index) price: fires stops on the mark, runs liquidations,
        streams ``markPriceUpdate`` and whatever the venue did. Returns the venue events."""
        self._sync_clock()
        out = self.venue.set_mark(symbol, price, index)
        self._log({"k": "mark", "symbol": symbol, "price": str(price),
                   "index": None if index is None else str(index)})
        return out

    def settle_funding(self, symbol: str, rate: Any) -> list:
        """Settle one funding payment at ``rate`` (a fraction, e.g. "0.0001": longs pay)."""
        self._sync_clock()
        r = Decimal(str(rate))
        out = self.venue.settle_funding(symbol, int(r * 10**8))
        self._log({"k": "funding", "symbol": symbol, "rate": str(rate)})
        return out

    def advance_to(self, ts_ns: int) -> list:
        """Move the venue clock (``clock="manual"``); journaled like the other host calls."""
        out = self.venue.advance_to(ts_ns)
        self._log({"k": "advance"})           # the record's clock time is the new time
        return out

    # ------------------------------------------------------------------ plumbing
    def _sync_clock(self) -> None:
        if self.clock == "wall" and not self._replaying:
            now = time.time_ns()
            # to the millisecond (Binance's resolution): a request within the same ms as
            # the last clock move finds the venue already there
            if now - self.venue.ts_ns >= 1_000_000:
                self.venue.advance_to(now)

    def _make_app(self) -> web.Application:
        app = web.Application(middlewares=[self._errors])
        r = app.router
        get, post, delete, put = r.add_get, r.add_post, r.add_delete, r.add_put
        get("/fapi/v1/ping", self.ping)
        get("/fapi/v1/time", self.server_time)
        get("/fapi/v1/exchangeInfo", self.exchange_info)
        get("/fapi/v1/depth", self.depth)
        get("/fapi/v1/trades", self.trades)
        get("/fapi/v1/historicalTrades", self.trades)
        get("/fapi/v1/aggTrades", self.agg_trades)
        get("/fapi/v1/klines", self.klines)
        get("/fapi/v1/continuousKlines", self.continuous_klines)
        get("/fapi/v1/markPriceKlines", self.mark_price_klines)
        get("/fapi/v1/indexPriceKlines", self.index_price_klines)
        get("/fapi/v1/premiumIndexKlines", self.premium_index_klines)
        get("/fapi/v1/openInterest", self.open_interest)
        get("/fapi/v1/income", self.income)
        get("/fapi/v1/forceOrders", self.force_orders)
        get("/fapi/v1/commissionRate", self.commission_rate)
        post("/fapi/v1/batchOrders", self.batch_orders)
        put("/fapi/v1/batchOrders", self.batch_modify)
        delete("/fapi/v1/batchOrders", self.batch_cancel)
        get("/api/v3/exchangeInfo", self.spot_exchange_info)
        get("/api/v3/ping", self.ping)
        get("/api/v3/time", self.server_time)
        get("/dapi/v1/exchangeInfo", self.coinm_exchange_info)
        get("/fapi/v1/ticker/price", self.ticker_price)
        get("/fapi/v2/ticker/price", self.ticker_price)
        get("/fapi/v1/ticker/bookTicker", self.book_ticker)
        get("/fapi/v1/ticker/24hr", self.ticker_24hr)
        get("/fapi/v1/premiumIndex", self.premium_index)
        get("/fapi/v1/fundingRate", self.funding_rate)
        post("/fapi/v1/order", self.new_order)
        get("/fapi/v1/order", self.query_order)
        delete("/fapi/v1/order", self.cancel_order)
        put("/fapi/v1/order", self.modify_order)
        post("/fapi/v1/algoOrder", self.new_algo_order)
        get("/fapi/v1/algoOrder", self.query_algo_order)
        delete("/fapi/v1/algoOrder", self.cancel_algo_order)
        get("/fapi/v1/openAlgoOrders", self.open_algo_orders)
        get("/fapi/v1/allAlgoOrders", self.all_algo_orders)
        delete("/fapi/v1/algoOpenOrders", self.cancel_all_algo)
        get("/fapi/v1/openOrders", self.open_orders)
        get("/fapi/v1/openOrder", self.query_open_order)
        delete("/fapi/v1/allOpenOrders", self.cancel_all)
        get("/fapi/v1/allOrders", self.all_orders)
        get("/fapi/v1/userTrades", self.user_trades)
        for v in ("v2", "v3"):
            get(f"/fapi/{v}/account", self.account)
            get(f"/fapi/{v}/balance", self.balance)
            get(f"/fapi/{v}/positionRisk", self.position_risk)
        post("/fapi/v1/leverage", self.leverage)
        post("/fapi/v1/marginType", self.margin_type)
        post("/fapi/v1/positionMargin", self.position_margin)
        get("/fapi/v1/positionSide/dual", self.position_side)
        get("/fapi/v1/multiAssetsMargin", self.multi_assets)
        get("/fapi/v1/symbolConfig", self.symbol_config)
        get("/fapi/v1/leverageBracket", self.leverage_bracket)
        post("/fapi/v1/listenKey", self.listen_key_new)
        put("/fapi/v1/listenKey", self.listen_key_keep)
        delete("/fapi/v1/listenKey", self.listen_key_close)
        get("/sapi/v1/capital/config/getall", self.capital_config)
        get("/sapi/v1/margin/allPairs", self.margin_pairs)
        get("/sapi/v1/margin/isolated/allPairs", self.margin_pairs)
        for prefix in ("", "/public", "/market", "/private"):
            get(f"{prefix}/ws", self.ws_raw)
            get(prefix + "/ws/{streams:.*}", self.ws_raw)
            get(f"{prefix}/stream", self.ws_combined)
        app.on_startup.append(self._start_expiry)
        app.on_shutdown.append(self._stop_expiry)
        app.on_shutdown.append(lambda _app: self.hub.close_all())
        return app

    _ORDER_PATHS = ("/fapi/v1/order", "/fapi/v1/algoOrder", "/fapi/v1/batchOrders")

    @web.middleware
    async def _errors(self, request: web.Request, handler):
        lim = self.limiter
        if lim is None or request.headers.get("Upgrade", "").lower() == "websocket":
            return await self._answer(request, handler)
        ip = request.remote or "?"
        over = lim.charge(ip, request_weight(request.method, request.path, request.query))
        if over is not None:
            status, code, msg, retry = over
            resp = _json_response({"code": code, "msg": msg}, status=status,
                                     headers={"Retry-After": str(retry)})
        else:
            resp = await self._answer(request, handler)
        resp.headers["X-MBX-USED-WEIGHT-1M"] = str(lim.used_weight(ip))
        if request.path in self._ORDER_PATHS and request.method in ("POST", "PUT"):
            cred = self._keys.get(request.headers.get("X-MBX-APIKEY", ""))
            if cred is not None:
                n10, n60 = lim.order_counts(cred.account)
                resp.headers["X-MBX-ORDER-COUNT-10S"] = str(n10)
                resp.headers["X-MBX-ORDER-COUNT-1M"] = str(n60)
        return resp

    def _count_order(self, acct: int) -> None:
        if self.limiter is not None and not self._replaying:
            over = self.limiter.count_order(acct)
            if over is not None:
                status, code, msg, retry = over
                raise BinanceError(code, msg, status, headers={"Retry-After": str(retry)})

    async def _answer(self, request: web.Request, handler):
        try:
            return await handler(request)
        except BinanceError as exc:
            return _json_response({"code": exc.code, "msg": exc.msg}, status=exc.status,
                                     headers=exc.headers or None)
        except web.HTTPNotFound:
            return _json_response({"code": -1000, "msg": f"{request.method} {request.path} "
                                      "is not supported by the mock"}, status=404)
        except web.HTTPMethodNotAllowed:
            return _json_response({"code": -1000, "msg": f"{request.method} {request.path} "
                                      "is not supported by the mock"}, status=405)
        except web.HTTPException:
            raise
        except InvalidCommandError as exc:        # the venue refused a value the edge let by
            return _json_response({"code": -1100, "msg": f"Illegal characters found in a "
                                      f"parameter: {exc}"}, status=400)
        except Exception:                          # a bug: Binance's envelope, logged
            import logging

            logging.getLogger("perpsim.server").exception("%s %s failed", request.method,
                                                          request.path)
            return _json_response({"code": -1000, "msg": "An unknown error occurred while "
                                      "processing the request."}, status=500)

    @staticmethod
    async def _body(request: web.Request) -> str:
        """The body as UTF-8 text whatever charset the request declares (Binance reads
        form-encoded ASCII); bytes that are not UTF-8 are refused with -1100."""
        if not request.can_read_body:
            return ""
        raw = await request.read()
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise BinanceError(-1100, "Illegal characters found in a parameter: the body is "
                                      "not UTF-8 text.") from None

    @staticmethod
    def _query(request: web.Request) -> str:
        """The query string as sent (percent-encoded)."""
        return request.raw_path.partition("?")[2]

    @staticmethod
    def _parse(text: str) -> list[tuple[str, str]]:
        try:
            return parse_qsl(text, keep_blank_values=True, errors="strict",
                             max_num_fields=200)
        except UnicodeDecodeError:
            raise BinanceError(-1100, "Illegal characters found in a parameter: a "
                                      "percent-encoded value is not UTF-8.") from None
        except ValueError:
            raise BinanceError(-1101, "Too many parameters sent for this endpoint.") from None

    async def _params(self, request: web.Request) -> dict[str, str]:
        params = dict(self._parse(self._query(request)))
        params.update(self._parse(await self._body(request)))
        return params

    async def _signed(self, request: web.Request) -> tuple[Credentials, dict[str, str]]:
        """Binance's SIGNED endpoint rules: API key header, HMAC-SHA256 of the query string
        followed by the body, timestamp within recvWindow."""
        key = request.headers.get("X-MBX-APIKEY")
        if not key:
            raise BinanceError(-2014, "API-key format invalid.", 401)
        cred = self._keys.get(key)
        if cred is None:
            raise BinanceError(-2015, "Invalid API-key, IP, or permissions for action.", 401)
        # the query string as sent (percent-encoded): what the client signed
        query = self._query(request)
        body = await self._body(request)
        payload, signature = _split_signature(query, body)
        if signature is None:
            raise BinanceError(-1102, "Mandatory parameter 'signature' was not sent, was empty/null, "
                                      "or malformed.")
        expected = hmac.digest(cred.secret.encode(), payload.encode(), "sha256").hex()
        if not hmac.compare_digest(expected, signature.lower()):
            raise BinanceError(-1022, "Signature for this request is not valid.")
        params = dict(self._parse(query))
        params.update(self._parse(body))
        params.pop("signature", None)
        ts = _int_param(params, "timestamp", required=True)
        window = _int_param(params, "recvWindow", default=RECV_WINDOW_MS)
        if not 0 < window <= 60_000:
            raise BinanceError(-1131, "recvWindow must be less than 60000")
        now = _now_ms()
        if ts > now + 1000 or now - ts > window:
            raise BinanceError(-1021, "Timestamp for this request is outside of the recvWindow.")
        if request.method != "GET" and "trade" not in cred.permissions:
            raise BinanceError(-2015, "Invalid API-key, IP, or permissions for action.", 401)
        self._sync_clock()
        return cred, params

    def _instr(self, params: dict, required: bool = True) -> int | None:
        symbol = params.get("symbol")
        if symbol is None or symbol == "":
            if required:
                raise _missing("symbol")
            return None
        try:
            return self.venue.instrument(symbol.upper())
        except Exception:
            raise BinanceError(-1121, "Invalid symbol.") from None

    # ------------------------------------------------------------------ events
    def _on_records(self, records) -> None:
        self._apply(ev_mod.materialize(records))

    def _apply(self, events: list) -> None:
        """Bring the order book of record, trades and streams up to date with venue events."""
        touched: dict[int, set[int]] = {}           # account -> instruments whose position moved
        reasons: dict[int, str] = {}
        calls: list = []
        now = _now_ms()
        # the venue reports a trigger after the order it placed: link them first
        for e in events:
            if e.name == "ConditionalOrderTriggered":
                o = self._by_venue.get(e.order_id)
                if o is not None and o.algo:        # the algo order ends; a new order starts
                    o.status, o.trigger_ms, o.update_ms = "TRIGGERED", now, now
                    self._algo_child[e.child_order_id] = o
                elif o is not None:                 # legacy conditional: same order id
                    o.venue_oid = e.child_order_id
                    self._by_venue[e.child_order_id] = o
                    o.update_ms = now
        for e in events:
            name = e.name
            if name == "OrderAccepted":
                self._on_accepted(e, now)
            elif name == "ConditionalOrderAccepted":
                self._on_conditional_accepted(e, now)
            elif name == "ConditionalOrderTriggered":
                o = self._by_venue.get(e.order_id)
                if o is not None and o.algo:
                    self._push_order(o, "TRIGGERED", now)
            elif name == "OrderFilled":
                self._on_fill(e, now)
                touched.setdefault(e.account, set()).add(e.instrument)
                reasons.setdefault(e.account, "ORDER")
            elif name in ("OrderCanceled", "ConditionalOrderCanceled"):
                self._on_canceled(e, now)
            elif name == "OrderAmended":
                o = self._by_venue.get(e.order_id)
                if o is not None:
                    o.price_ticks = e.price_ticks
                    o.orig_lots = o.executed_lots + e.qty_lots
                    o.update_ms = now
                    self._push_order(o, "AMENDMENT", now)
            elif name == "OrderRejected":
                o = self._by_venue.get(e.order_id) if e.order_id else None
                if o is not None and o.status in ("NEW", "PARTIALLY_FILLED"):
                    o.status, o.update_ms = "EXPIRED", now
                    self._push_order(o, "EXPIRED", now)
            elif name == "MarkPriceUpdated":
                self._record_mark(e, now)
                self._push_mark(e.instrument, now)
            elif name == "FundingSettled":           # by the host or the simulator's scheduler
                spec = self.venue.specs[e.instrument]
                rate = Decimal(e.rate) / 10**8
                self._last_rate[e.instrument] = _s(rate)
                self._funding[e.instrument].append({
                    "symbol": spec.symbol, "fundingRate": f"{rate:.8f}", "fundingTime": now,
                    "markPrice": _s(spec.ticks_to_price(e.price_ticks))})
            elif name == "MarginCall":
                calls.append(e)
            elif name == "PositionTransferred":             # ADL, liquidation transfers
                for a in (e.from_account, e.to_account):
                    touched.setdefault(a, set()).add(e.instrument)
                    reasons.setdefault(a, "ADL")
            elif name in ("FundingPaid", "Deposited", "Withdrawn", "IsolatedMarginChanged"):
                if name == "FundingPaid":
                    self._add_income(e.account, e.instrument, "FUNDING_FEE",
                                     -self.venue._from_atoms(e.payment_atoms), now)
                elif name in ("Deposited", "Withdrawn"):
                    amt = self.venue._from_atoms(e.amount_atoms)
                    self._add_income(e.account, None, "TRANSFER",
                                     amt if name == "Deposited" else -amt, now)
                instr = getattr(e, "instrument", -1)
                touched.setdefault(e.account, set())
                if name != "FundingPaid" and name != "Deposited" and name != "Withdrawn" \
                        and instr is not None and instr >= 0:
                    touched[e.account].add(instr)
                reasons.setdefault(e.account, {"FundingPaid": "FUNDING_FEE", "Deposited": "DEPOSIT",
                                               "Withdrawn": "WITHDRAW",
                                               "IsolatedMarginChanged": "MARGIN_TRANSFER"}[name])
        self._flush_agg()
        self._drain_books()
        for acct in sorted(a for a in touched if a >= 0):
            self._push_account(acct, now, reasons.get(acct, "ORDER"), touched[acct])
        if self._market_dirty:
            self._flush_market()
        for e in calls:
            self._push_margin_call(e, now)

    def _on_accepted(self, e, now: int) -> None:
        if e.order_id in self._by_venue:            # a triggered conditional's child order
            return
        origin = self._pending_origin
        spec = self.venue.specs[e.instrument]
        parent = self._algo_child.pop(e.order_id, None)
        if parent is not None:                      # the order a triggered algo order placed
            market = parent.type in ("STOP_MARKET", "TAKE_PROFIT_MARKET", "TRAILING_STOP_MARKET")
            o = _Order(order_id=next(self._next_order_id), account=e.account, instr=e.instrument,
                       symbol=spec.symbol, client_id=parent.client_id, side=parent.side,
                       type="MARKET" if market else "LIMIT", tif=parent.tif,
                       orig_lots=e.qty_lots, price_ticks=0 if market else e.price_ticks,
                       stop_ticks=parent.stop_ticks, reduce_only=bool(e.reduce_only),
                       close_position=parent.close_position, working_type=parent.working_type,
                       time_ms=now, update_ms=now, stp=parent.stp, venue_oid=e.order_id,
                       orig_type=parent.type)
            parent.actual_order_id = o.order_id
            self._register(o)
            self._push_order(o, "NEW", now)
            return
        if origin is not None and origin["account"] == e.account and not e.liquidation \
                and not origin.get("bound"):
            origin["bound"] = True
            o = _Order(order_id=next(self._next_order_id), account=e.account, instr=e.instrument,
                       symbol=spec.symbol, client_id=origin["client_id"], side=origin["side"],
                       type=origin["type"], tif=origin["tif"], orig_lots=e.qty_lots,
                       price_ticks=e.price_ticks if origin["type"] != "MARKET" else 0,
                       stop_ticks=0, reduce_only=bool(e.reduce_only),
                       close_position=False, working_type=origin["working_type"], time_ms=now,
                       update_ms=now, stp=origin["stp"], venue_oid=e.order_id,
                       orig_type=origin["type"])
            origin["order"] = o
        else:                                        # the venue's own orders (liquidation)
            o = _Order(order_id=next(self._next_order_id), account=e.account, instr=e.instrument,
                       symbol=spec.symbol, client_id=f"autoclose-{e.order_id}",
                       side="BUY" if e.side == 0 else "SELL", type="LIMIT", tif="IOC",
                       orig_lots=e.qty_lots, price_ticks=e.price_ticks, stop_ticks=0,
                       reduce_only=True, close_position=False, working_type="CONTRACT_PRICE",
                       time_ms=now, update_ms=now, venue_oid=e.order_id, orig_type="LIQUIDATION")
            forced = self._force_orders.setdefault(e.account, [])
            forced.append(o)
            if len(forced) > 10_000:
                del forced[:5_000]
        self._register(o)
        self._push_order(o, "NEW", now)

    def _on_conditional_accepted(self, e, now: int) -> None:
        origin = self._pending_origin
        spec = self.venue.specs[e.instrument]
        if origin is None or origin["account"] != e.account:
            return
        origin["bound"] = True
        o = _Order(order_id=next(self._next_order_id), account=e.account, instr=e.instrument,
                   symbol=spec.symbol, client_id=origin["client_id"], side=origin["side"],
                   type=origin["type"], tif=origin["tif"], orig_lots=e.qty_lots,
                   price_ticks=e.limit_ticks, stop_ticks=e.trigger_ticks,
                   reduce_only=origin["reduce_only"], close_position=origin["close_position"],
                   working_type=origin["working_type"], time_ms=now, update_ms=now,
                   stp=origin["stp"], venue_oid=e.order_id, orig_type=origin["type"],
                   activation_ticks=origin.get("activation_ticks", 0),
                   callback_rate=origin.get("callback_rate"), algo=origin.get("algo", False))
        origin["order"] = o
        self._register(o)
        self._push_order(o, "NEW", now)

    def _register(self, o: _Order) -> None:
        self._orders[o.order_id] = o
        self._by_venue[o.venue_oid] = o
        self._by_client[(o.account, o.client_id, o.algo)] = o

    def _on_fill(self, e, now: int) -> None:
        spec = self.venue.specs[e.instrument]
        price = spec.ticks_to_price(e.price_ticks)
        qty = spec.lots_to_qty(e.qty_lots)
        o = self._by_venue.get(e.order_id)
        trade_id = next(self._trade_ids)
        if o is not None:
            o.executed_lots += e.qty_lots
            o.cum_quote += price * qty
            o.status = "FILLED" if o.executed_lots >= o.orig_lots else "PARTIALLY_FILLED"
            o.update_ms = now
        fee = self.venue._from_atoms(e.fee_atoms)
        pnl = self.venue._from_atoms(e.realized_pnl_atoms)
        side = "BUY" if e.side == 0 else "SELL"
        if pnl:
            self._add_income(e.account, e.instrument, "REALIZED_PNL", pnl, now, trade_id)
        if fee:
            self._add_income(e.account, e.instrument, "COMMISSION", -fee, now, trade_id)
        self._user_trades.setdefault(e.account, []).append({
            "buyer": side == "BUY", "commission": _s(fee), "commissionAsset": SETTLE_ASSET,
            "id": trade_id, "maker": not e.taker, "orderId": o.order_id if o else e.order_id,
            "price": _s(price), "qty": _s(qty), "quoteQty": _s(price * qty),
            "realizedPnl": _s(pnl), "side": side, "positionSide": "BOTH",
            "symbol": spec.symbol, "time": now})
        if o is not None:
            self._push_order(o, "TRADE", now, last=(price, qty, fee, pnl, trade_id, not e.taker))
        if o is not None and o.orig_type == "LIQUIDATION":
            self._push_force_order(o, qty, now)
        if e.taker:
            self._trade_series[e.instrument].add(now, price, qty, side == "BUY", trade_id)
            self._market_dirty.add(e.instrument)
            sym = spec.symbol.lower()
            if self.hub.has(f"{sym}@trade"):
                # Binance USDⓈ-M trade stream ("X": MARKET for trades of the order book)
                self.hub.publish(f"{sym}@trade", {
                    "e": "trade", "E": now, "T": now, "s": spec.symbol, "t": trade_id,
                    "p": _s(price), "q": _s(qty), "X": "MARKET", "m": side == "SELL"})
            trades = self._trades[e.instrument]
            trades.append({"id": trade_id, "price": _s(price), "qty": _s(qty),
                           "quoteQty": _s(price * qty), "time": now,
                           "isBuyerMaker": side == "SELL"})
            if len(trades) > 100_000:
                del trades[:50_000]
            # Binance aggregates the fills of one taker order at one price into one aggTrade
            agg = self._agg
            if agg and agg[0] == (e.instrument, e.order_id, e.price_ticks):
                agg[2] += qty
                agg[4] = trade_id
            else:
                self._flush_agg()
                self._agg = [(e.instrument, e.order_id, e.price_ticks), price, qty, trade_id,
                             trade_id, side == "SELL", now]

    def _add_income(self, acct: int, instr, kind: str, amount: Decimal, now: int,
                    trade_id: int | None = None) -> None:
        if acct < 0:
            return
        rows = self._income.setdefault(acct, [])
        rows.append({"symbol": self.venue.symbols[instr] if instr is not None else "",
                     "incomeType": kind, "income": _s(amount), "asset": SETTLE_ASSET,
                     "info": kind, "time": now, "tranId": next(self._tran_ids),
                     "tradeId": str(trade_id) if trade_id is not None else ""})
        if len(rows) > 200_000:
            del rows[:100_000]

    def _flush_agg(self) -> None:
        agg, self._agg = self._agg, None
        if not agg:
            return
        (instr, _, _), price, qty, first, last, buyer_maker, now = agg
        symbol = self.venue.symbols[instr]
        row = {"a": next(self._agg_ids), "p": _s(price), "q": _s(qty), "f": first, "l": last,
               "T": now, "m": buyer_maker}
        rows = self._agg_trades[instr]
        rows.append(row)
        if len(rows) > 100_000:
            del rows[:50_000]
        self.hub.publish(f"{symbol.lower()}@aggTrade", {"e": "aggTrade", "E": now, "s": symbol,
                                                        **row})

    def _on_canceled(self, e, now: int) -> None:
        o = self._by_venue.get(e.order_id)
        if o is None or o.status in ("FILLED", "CANCELED", "EXPIRED"):
            return
        if o.status == "TRIGGERED":
            return
        if getattr(e, "reason", 0) in (_CANCEL_IOC, _CANCEL_STP) or o.orig_type == "LIQUIDATION":
            o.status, kind = "EXPIRED", "EXPIRED"
        else:
            o.status, kind = "CANCELED", "CANCELED"
        o.update_ms = now
        self._push_order(o, kind, now)

    def _drain_books(self) -> None:
        """Turn the books' level deltas into ``depthUpdate`` messages (and bookTicker)."""
        now = None
        has = self.hub.has
        core = self.venue.core
        for i, (depth, partials, ticker) in enumerate(self._book_streams()):
            book = core.book(i)
            if not book.track_deltas:
                continue
            deltas = book.drain_deltas()
            if len(deltas) == 0:
                continue
            if now is None:
                now = _now_ms()
            first = self._update_id[i] + 1
            self._update_id[i] += len(deltas)
            if has(depth):
                # diffs are sent every DEPTH_PERIOD_S, each the net change of its window
                # (Binance: "@depth@100ms" … "@depth@500ms", one event per window)
                pend = self._depth_pending.get(i)
                if pend is None:
                    pend = self._depth_pending[i] = {"U": first, "levels": {}}
                levels = pend["levels"]
                for price, qty, side in deltas.tolist():
                    levels[(side, price)] = qty
                pend["u"] = self._update_id[i]
            if has(partials[0]) or has(partials[1]) or has(partials[2]):
                self._partial_dirty.add(i)
            if has(ticker) or has("!bookTicker"):
                msg = {"e": "bookTicker", "u": self._update_id[i], "E": now, "T": now,
                       **self._top(i, short=True)}
                self.hub.publish(ticker, msg)
                self.hub.publish("!bookTicker", msg)

    def _book_streams(self) -> list:
        """Per instrument: the names of its depth diff, partial depth (5, 10, 20) and
        bookTicker streams (built once)."""
        names = self.__dict__.get("_book_stream_names")
        if names is None:
            names = self._book_stream_names = [
                (f"{sym}@depth", tuple(f"{sym}@depth{n}" for n in (5, 10, 20)),
                 f"{sym}@bookTicker")
                for sym in (spec.symbol.lower() for spec in self.venue.specs)]
        return names

    #: the window of the depth streams (all update speeds: the fastest of Binance's, 100 ms)
    DEPTH_PERIOD_S = 0.1

    def _flush_depth(self) -> None:
        """Send the depth diffs of the window that ends (``U``/``u``/``pu`` chained as
        Binance's: ``pu`` is the previous event's ``u``) and the partial books."""
        now = _now_ms()
        pending, self._depth_pending = self._depth_pending, {}
        for i, pend in pending.items():
            spec = self.venue.specs[i]
            sym = spec.symbol.lower()
            items = sorted(pend["levels"].items())
            bids = [[_s(spec.ticks_to_price(p)), _s(spec.lots_to_qty(q))]
                    for (side, p), q in items if side == 0]
            asks = [[_s(spec.ticks_to_price(p)), _s(spec.lots_to_qty(q))]
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
                        "b": [[_s(spec.ticks_to_price(p)), _s(spec.lots_to_qty(q))]
                              for p, q in book.depth(0, n)],
                        "a": [[_s(spec.ticks_to_price(p)), _s(spec.lots_to_qty(q))]
                              for p, q in book.depth(1, n)]})

    # ------------------------------------------------------------------ stream payloads
    def _order_json(self, o: _Order, full: bool = True) -> dict:
        spec = self.venue.specs[o.instr]
        executed = spec.lots_to_qty(o.executed_lots)
        avg = (o.cum_quote / executed).quantize(spec.tick_size / 100) if o.executed_lots else 0
        out = {
            "orderId": o.order_id, "symbol": o.symbol, "status": o.status,
            "clientOrderId": o.client_id, "price": _s(spec.ticks_to_price(o.price_ticks)
                                                      if o.price_ticks else 0),
            "avgPrice": _s(avg), "origQty": _s(spec.lots_to_qty(o.orig_lots)),
            "executedQty": _s(executed), "cumQty": _s(executed), "cumQuote": _s(o.cum_quote),
            "timeInForce": o.tif, "type": o.type, "reduceOnly": o.reduce_only,
            "closePosition": o.close_position, "side": o.side, "positionSide": "BOTH",
            "stopPrice": _s(spec.ticks_to_price(o.stop_ticks) if o.stop_ticks else 0),
            "workingType": o.working_type, "priceProtect": False, "origType": o.orig_type or o.type,
            "priceMatch": "NONE", "selfTradePreventionMode": o.stp, "goodTillDate": 0,
            "updateTime": o.update_ms,
        }
        if o.type == "TRAILING_STOP_MARKET":
            out["activatePrice"] = _s(spec.ticks_to_price(o.activation_ticks)
                                      if o.activation_ticks else 0)
            out["priceRate"] = o.callback_rate or "0"
        if full:
            out["time"] = o.time_ms
        return out

    def _algo_json(self, o: _Order) -> dict:
        """An order of the Algo Order API as Binance returns it."""
        spec = self.venue.specs[o.instr]
        out = {
            "algoId": o.order_id, "clientAlgoId": o.client_id, "algoType": "CONDITIONAL",
            "orderType": o.type, "symbol": o.symbol, "side": o.side, "positionSide": "BOTH",
            "timeInForce": o.tif, "quantity": _s(spec.lots_to_qty(o.orig_lots)),
            "algoStatus": o.status,
            "triggerPrice": _s(spec.ticks_to_price(o.stop_ticks) if o.stop_ticks else 0),
            "price": _s(spec.ticks_to_price(o.price_ticks) if o.price_ticks else 0),
            "icebergQuantity": None, "selfTradePreventionMode": o.stp,
            "workingType": o.working_type, "priceMatch": "NONE",
            "closePosition": o.close_position, "priceProtect": False,
            "reduceOnly": o.reduce_only, "createTime": o.time_ms, "updateTime": o.update_ms,
            "triggerTime": o.trigger_ms, "goodTillDate": 0}
        if o.actual_order_id:
            out["actualOrderId"] = str(o.actual_order_id)
        if o.type == "TRAILING_STOP_MARKET":
            out["activatePrice"] = _s(spec.ticks_to_price(o.activation_ticks)
                                      if o.activation_ticks else 0)
            out["callbackRate"] = o.callback_rate or "0"
        return out

    def _listeners(self, acct: int) -> list[str]:
        return [k for k, a in self._listen_keys.items() if a == acct and self.hub.has(k)]

    def _push_order(self, o: _Order, exec_type: str, now: int, last=None) -> None:
        keys = self._listeners(o.account)
        if not keys:
            return
        if o.algo:
            j = self._algo_json(o)
            msg = {"e": "ALGO_UPDATE", "E": now, "T": now, "o": {
                "caid": o.client_id, "aid": o.order_id, "at": "CONDITIONAL", "o": o.type,
                "s": o.symbol, "S": o.side, "ps": "BOTH", "f": o.tif, "q": j["quantity"],
                "X": o.status, "ai": str(o.actual_order_id or ""), "tp": j["triggerPrice"],
                "p": j["price"], "V": o.stp, "wt": o.working_type, "pm": "NONE",
                "cp": o.close_position, "pP": False, "R": o.reduce_only, "tt": o.trigger_ms,
                "gtd": 0}}
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
            "x": exec_type, "X": o.status, "i": o.order_id, "l": _s(qty), "z": j["executedQty"],
            "L": _s(price), "N": SETTLE_ASSET, "n": _s(fee), "T": now, "t": tid,
            "b": "0", "a": "0", "m": maker, "R": o.reduce_only, "wt": o.working_type,
            "ot": o.orig_type or o.type, "ps": "BOTH", "cp": o.close_position, "rp": _s(pnl),
            "pP": False, "si": 0, "ss": 0, "V": o.stp, "pm": "NONE", "gtd": 0}}
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
        b = v.balance(acct)
        wallet = b.wallet
        cross_wallet = wallet - sum((p.isolated_margin for p in v.positions(acct) or []
                                     if p.isolated), Decimal(0))
        positions = []
        for i in sorted(instruments):
            p = v.position(acct, v.symbols[i])
            positions.append({"s": p.symbol, "pa": _s(p.size), "ep": _s(p.entry_price or 0),
                              "bep": _s(p.entry_price or 0), "cr": "0",
                              "up": _s(p.unrealized_pnl),
                              "mt": "isolated" if p.isolated else "cross",
                              "iw": _s(p.isolated_margin if p.isolated else 0), "ps": "BOTH"})
        prev = self._last_wallet.get(acct, wallet)
        change = wallet - prev if reason in ("DEPOSIT", "WITHDRAW") else Decimal(0)
        self._last_wallet[acct] = wallet
        msg = {"e": "ACCOUNT_UPDATE", "E": now, "T": now, "a": {
            "m": reason, "B": [{"a": SETTLE_ASSET, "wb": _s(wallet), "cw": _s(cross_wallet),
                                "bc": _s(change)}],
            "P": positions}}
        for k in keys:
            self.hub.publish(k, msg)

    def _push_margin_call(self, e, now: int) -> None:
        keys = self._listeners(e.account)
        if not keys:
            return
        p = self.venue.position(e.account, self.venue.symbols[e.instrument])
        msg = {"e": "MARGIN_CALL", "E": now, "cw": _s(self.venue.balance(e.account).wallet), "p": [{
            "s": p.symbol, "ps": "BOTH", "pa": _s(p.size),
            "mt": "ISOLATED" if p.isolated else "CROSSED", "iw": _s(p.isolated_margin),
            "mp": _s(p.mark_price or 0), "up": _s(p.unrealized_pnl),
            "mm": _s(p.maintenance_margin)}]}
        for k in keys:
            self.hub.publish(k, msg)

    def _mark_msg(self, i: int, now: int) -> dict:
        d = self._premium(i, now)
        return {"e": "markPriceUpdate", "E": now, "s": d["symbol"], "p": d["markPrice"],
                "i": d["indexPrice"], "P": d["estimatedSettlePrice"], "r": d["lastFundingRate"],
                "T": d["nextFundingTime"]}

    def _push_mark(self, i: int, now: int) -> None:
        sym = self.venue.symbols[i].lower()
        if self.hub.has(f"{sym}@markPrice"):
            self.hub.publish(f"{sym}@markPrice", self._mark_msg(i, now))
        if self.hub.has("!markPrice@arr"):
            self.hub.publish("!markPrice@arr", [self._mark_msg(j, now)
                                                for j in range(len(self.venue.symbols))
                                                if int(self.venue.core.arrays()["mark"][j])])

    def _record_mark(self, e, now: int) -> None:
        spec = self.venue.specs[e.instrument]
        if not e.mark_ticks:
            return
        mark = spec.ticks_to_price(e.mark_ticks)
        index = spec.ticks_to_price(e.index_ticks) if e.index_ticks else mark
        self._mark_series[e.instrument].add(now, mark)
        self._index_series[e.instrument].add(now, index)
        # the premium index as the mark's premium over the index (the mock has no impact
        # bid/ask sampler of its own; the venue's mark already embeds its premium)
        self._premium_series[e.instrument].add(
            now, ((mark - index) / index).quantize(Decimal("1e-8")) if index else Decimal(0))

    def _push_force_order(self, o: _Order, last_qty: Decimal, now: int) -> None:
        """``forceOrder``: a liquidation order's latest fill, on ``<symbol>@forceOrder`` and
        ``!forceOrder@arr``
        (https://developers.binance.com/docs/derivatives/usds-margined-futures/websocket-market-streams/Liquidation-Order-Streams,
        read 2026-12-02)."""
        sym = o.symbol.lower()
        if not (self.hub.has(f"{sym}@forceOrder") or self.hub.has("!forceOrder@arr")):
            return
        j = self._order_json(o, full=False)
        msg = {"e": "forceOrder", "E": now, "o": {
            "s": o.symbol, "S": o.side, "o": "LIMIT", "f": "IOC", "q": j["origQty"],
            "p": j["price"], "ap": j["avgPrice"], "X": o.status, "l": _s(last_qty),
            "z": j["executedQty"], "T": now}}
        self.hub.publish(f"{sym}@forceOrder", msg)
        self.hub.publish("!forceOrder@arr", msg)

    # tickers and open klines: sent at most every MARKET_PERIOD_S per symbol (Binance: the
    # 24hr ticker every 500 ms, klines every 250 ms), the latest state always delivered
    MARKET_PERIOD_S = 0.25

    def _flush_market(self) -> None:
        if not self._market_dirty:
            return
        mono = time.monotonic()
        now = _now_ms()
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

    # ------------------------------------------------------------------ market data
    async def ping(self, request):
        return _json_response({})

    async def server_time(self, request):
        return _json_response({"serverTime": _now_ms()})

    async def exchange_info(self, request):
        now = _now_ms()
        symbols = []
        for spec in self.venue.specs:
            band = Decimal(spec.price_band_rate) / 10**8
            take = Decimal(spec.market_take_bound_rate) / 10**8
            min_notional = Decimal(spec.min_notional_atoms).scaleb(-spec.settle_decimals)
            max_price = spec.ticks_to_price(MAX_PRICE_TICKS)
            symbols.append({
                "symbol": spec.symbol, "pair": spec.symbol, "contractType": "PERPETUAL",
                "deliveryDate": 4133404800000, "onboardDate": 1569398400000, "status": "TRADING",
                "maintMarginPercent": "2.5000", "requiredMarginPercent": "5.0000",
                "baseAsset": spec.base, "quoteAsset": spec.quote, "marginAsset": spec.settle,
                "pricePrecision": _decimals(spec.tick_size),
                "quantityPrecision": _decimals(spec.lot_size),
                "baseAssetPrecision": 8, "quotePrecision": 8, "underlyingType": "COIN",
                "underlyingSubType": [], "settlePlan": 0, "triggerProtect": "0.0500",
                "liquidationFee": f"{Decimal(spec.liquidation_fee_rate) / 10**8:.6f}",
                "marketTakeBound": _s(take), "maxMoveOrderLimit": 10000,
                "filters": [
                    {"filterType": "PRICE_FILTER", "minPrice": _s(spec.tick_size),
                     "maxPrice": _s(max_price), "tickSize": _s(spec.tick_size)},
                    {"filterType": "LOT_SIZE", "stepSize": _s(spec.lot_size),
                     "maxQty": _s(spec.lots_to_qty(spec.max_order_lots)),
                     "minQty": _s(spec.lot_size)},
                    {"filterType": "MARKET_LOT_SIZE", "stepSize": _s(spec.lot_size),
                     "maxQty": _s(spec.lots_to_qty(spec.max_market_lots)),
                     "minQty": _s(spec.lot_size)},
                    {"filterType": "MAX_NUM_ORDERS", "limit": 200},
                    {"filterType": "MAX_NUM_ALGO_ORDERS", "limit": 10},
                    {"filterType": "MIN_NOTIONAL", "notional": _s(min_notional)},
                    {"filterType": "PERCENT_PRICE", "multiplierUp": f"{1 + band:.4f}",
                     "multiplierDown": f"{1 - band:.4f}", "multiplierDecimal": "4"},
                ],
                "orderTypes": list(_ORDER_TYPES), "timeInForce": list(_TIFS)})
        return _json_response({
            "timezone": "UTC", "serverTime": now, "futuresType": "U_MARGINED",
            "rateLimits": [
                {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1,
                 "limit": 2400},
                {"rateLimitType": "ORDERS", "interval": "MINUTE", "intervalNum": 1, "limit": 1200},
                {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 300}],
            "exchangeFilters": [],
            "assets": [{"asset": SETTLE_ASSET, "marginAvailable": True,
                        "autoAssetExchange": "-10000"}],
            "symbols": symbols})

    async def depth(self, request):
        params = await self._params(request)
        i = self._instr(params)
        limit = _int_param(params, "limit", default=500)
        if limit not in (5, 10, 20, 50, 100, 500, 1000):
            raise BinanceError(-1130, "Invalid data sent for a parameter: limit must be one of "
                                      "5, 10, 20, 50, 100, 500, 1000.")
        self._drain_books()
        spec = self.venue.specs[i]
        book = self.venue.core.book(i)
        now = _now_ms()

        def levels(side):
            return [[_s(spec.ticks_to_price(p)), _s(spec.lots_to_qty(q))]
                    for p, q in book.depth(side, limit)]

        return _json_response({"lastUpdateId": self._update_id[i], "E": now, "T": now,
                                  "bids": levels(0), "asks": levels(1)})

    async def trades(self, request):
        params = await self._params(request)
        i = self._instr(params)
        limit = min(max(_int_param(params, "limit", default=500), 1), 1000)
        return _json_response(self._trades[i][-limit:])

    def _top(self, i: int, short: bool = False) -> dict:
        spec = self.venue.specs[i]
        book = self.venue.core.book(i)
        bid = book.depth(0, 1)
        ask = book.depth(1, 1)
        bp, bq = (spec.ticks_to_price(bid[0][0]), spec.lots_to_qty(bid[0][1])) if bid else (0, 0)
        ap, aq = (spec.ticks_to_price(ask[0][0]), spec.lots_to_qty(ask[0][1])) if ask else (0, 0)
        if short:
            return {"s": spec.symbol, "b": _s(bp), "B": _s(bq), "a": _s(ap), "A": _s(aq)}
        return {"symbol": spec.symbol, "bidPrice": _s(bp), "bidQty": _s(bq), "askPrice": _s(ap),
                "askQty": _s(aq), "time": _now_ms(), "lastUpdateId": self._update_id[i]}

    def _each(self, params: dict, one):
        i = self._instr(params, required=False)
        if i is not None:
            return _json_response(one(i))
        return _json_response([one(j) for j in range(len(self.venue.specs))])

    async def ticker_price(self, request):
        params = await self._params(request)

        def one(i):
            spec = self.venue.specs[i]
            last = int(self.venue.core.arrays()["last"][i])
            return {"symbol": spec.symbol, "price": _s(spec.ticks_to_price(last) if last else 0),
                    "time": _now_ms()}

        return self._each(params, one)

    async def book_ticker(self, request):
        params = await self._params(request)
        return self._each(params, self._top)

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
        return {"symbol": spec.symbol, "priceChange": _s(last - first),
                "priceChangePercent": f"{(last - first) / first * 100:.3f}" if first else "0.000",
                "weightedAvgPrice": _s((qvol / vol).quantize(spec.tick_size / 100)) if vol else "0",
                "lastPrice": _s(last), "lastQty": _s(day[-1][2]) if day else "0",
                "openPrice": _s(first), "highPrice": _s(max(prices, default=0)),
                "lowPrice": _s(min(prices, default=0)), "volume": _s(vol),
                "quoteVolume": _s(qvol), "openTime": now - 86_400_000, "closeTime": now,
                "firstId": day[0][4] if day else -1, "lastId": day[-1][4] if day else -1,
                "count": len(day)}

    async def ticker_24hr(self, request):
        params = await self._params(request)
        now = _now_ms()
        return self._each(params, lambda i: self._day_stats(i, now))

    def _premium(self, i: int, now: int) -> dict:
        spec = self.venue.specs[i]
        arr = self.venue.core.arrays()
        mark, index = int(arr["mark"][i]), int(arr["index"][i]) or int(arr["mark"][i])
        return {"symbol": spec.symbol, "markPrice": _s(spec.ticks_to_price(mark) if mark else 0),
                "indexPrice": _s(spec.ticks_to_price(index) if index else 0),
                "estimatedSettlePrice": _s(spec.ticks_to_price(index) if index else 0),
                "lastFundingRate": f"{Decimal(self._last_rate[i]):.8f}",
                "interestRate": "0.00010000",
                "nextFundingTime": (now // FUNDING_INTERVAL_MS + 1) * FUNDING_INTERVAL_MS,
                "time": now}

    async def premium_index(self, request):
        params = await self._params(request)
        now = _now_ms()
        return self._each(params, lambda i: self._premium(i, now))

    async def funding_rate(self, request):
        params = await self._params(request)
        i = self._instr(params, required=False)
        limit = min(max(_int_param(params, "limit", default=100), 1), 1000)
        rows = self._funding[i] if i is not None else [r for rs in self._funding for r in rs]
        start = _int_param(params, "startTime", default=0)
        end = _int_param(params, "endTime", default=2**62)
        rows = [r for r in rows if start <= r["fundingTime"] <= end]
        return _json_response(rows[-limit:])

    # ------------------------------------------------------------------ history
    @staticmethod
    def _window(params: dict, default_limit: int, max_limit: int) -> tuple:
        limit = _int_param(params, "limit", default=default_limit)
        if not 1 <= limit <= max_limit:
            raise BinanceError(-1130, f"Invalid data sent for a parameter: 'limit' must be "
                                      f"between 1 and {max_limit} (got {limit}).")
        start = _int_param(params, "startTime")
        end = _int_param(params, "endTime")
        for name, t in (("startTime", start), ("endTime", end)):
            if t is not None and not 0 <= t < 2**53:
                raise BinanceError(-1100, f"Illegal characters found in parameter '{name}'; "
                                          "legal range is a millisecond time from 0.")
        if start is not None and end is not None and start > end:
            raise BinanceError(-1128, "Combination of optional parameters invalid: "
                                      "'startTime' is after 'endTime'.")
        return start, end, limit

    async def agg_trades(self, request):
        """``GET /fapi/v1/aggTrades``: by ``fromId``, or within ``startTime``..``endTime``
        (at most one hour apart), else the latest ``limit`` (default 500, max 1000)
        (https://developers.binance.com/docs/derivatives/usds-margined-futures/market-data/rest-api/Compressed-Aggregate-Trades-List,
        read 2026-12-02)."""
        import bisect

        params = await self._params(request)
        i = self._instr(params)
        start, end, limit = self._window(params, 500, 1000)
        from_id = _int_param(params, "fromId")
        if from_id is not None and not 0 <= from_id < 2**63:
            raise BinanceError(-1100, "Illegal characters found in parameter 'fromId'.")
        if start is not None and end is not None and end - start > 3_600_000:
            raise BinanceError(-1127, "More than 1 hours between startTime and endTime.")
        self._flush_agg()
        rows = self._agg_trades[i]
        if from_id is not None:
            k = bisect.bisect_left([r["a"] for r in rows], from_id)
            out = rows[k:k + limit]
        elif start is not None or end is not None:
            lo = start if start is not None else (end - 3_600_000)
            hi = end if end is not None else (start + 3_600_000)
            out = [r for r in rows if lo <= r["T"] <= hi][:limit]
        else:
            out = rows[-limit:]
        return _json_response(out)

    def _kline_args(self, params: dict, symbol_param: str = "symbol"):
        if symbol_param == "pair":
            pair = params.get("pair")
            if not pair:
                raise _missing("pair")
            params = {**params, "symbol": pair}
        i = self._instr(params)
        interval = params.get("interval")
        if not interval:
            raise _missing("interval")
        if interval not in INTERVALS:
            raise BinanceError(-1120, "Invalid interval.")
        start, end, limit = self._window(params, 500, 1500)
        return i, interval, start, end, limit

    def _klines_response(self, series, params, symbol_param="symbol", volume=True):
        i, interval, start, end, limit = self._kline_args(params, symbol_param)
        return _json_response(history.klines(series[i], interval, _now_ms(), start, end,
                                                limit, volume=volume))

    async def klines(self, request):
        """``GET /fapi/v1/klines`` from the venue's own trades (see :mod:`exchange.server.history`)."""
        params = await self._params(request)
        return self._klines_response(self._trade_series, params)

    async def continuous_klines(self, request):
        params = await self._params(request)
        ct = params.get("contractType")
        if not ct:
            raise _missing("contractType")
        if ct != "PERPETUAL":
            raise BinanceError(-1100, "Illegal characters found in parameter 'contractType'; "
                                      "legal range is 'PERPETUAL' (the venue lists perpetuals only).")
        return self._klines_response(self._trade_series, params, "pair")

    async def mark_price_klines(self, request):
        params = await self._params(request)
        return self._klines_response(self._mark_series, params, volume=False)

    async def index_price_klines(self, request):
        params = await self._params(request)
        return self._klines_response(self._index_series, params, "pair", volume=False)

    async def premium_index_klines(self, request):
        params = await self._params(request)
        return self._klines_response(self._premium_series, params, volume=False)

    async def open_interest(self, request):
        """``GET /fapi/v1/openInterest``: the sum of the long positions, in base units."""
        params = await self._params(request)
        i = self._instr(params)
        size = self.venue.core.arrays()["size"][i]
        lots = int(size[size > 0].sum())
        spec = self.venue.specs[i]
        return _json_response({"openInterest": _s(spec.lots_to_qty(lots)),
                                  "symbol": spec.symbol, "time": _now_ms()})

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
        page = _int_param(params, "page", default=1)
        if not 1 <= page <= 10**6:
            raise BinanceError(-1100, "Illegal characters found in parameter 'page'; legal "
                                      "range is 1 to 1000000.")
        now = _now_ms()
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
        return _json_response(rows[(page - 1) * limit: page * limit])

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
        now = _now_ms()
        start = now - 7 * 86_400_000 if start is None else start
        end = now if end is None else end
        rows = [o for o in self._force_orders.get(cred.account, [])
                if (instr is None or o.instr == instr) and start <= o.time_ms <= end
                and act != "ADL"]       # ADL moves positions without orders here
        return _json_response([self._order_json(o) for o in rows[-limit:]])

    async def commission_rate(self, request):
        cred, params = await self._signed(request)
        spec = self.venue.specs[self._instr(params)]
        return _json_response({
            "symbol": spec.symbol,
            "makerCommissionRate": _s(Decimal(spec.maker_fee_rate) / 10**8),
            "takerCommissionRate": _s(Decimal(spec.taker_fee_rate) / 10**8),
            "rpiCommissionRate": "0"})

    async def spot_exchange_info(self, request):
        """Binance's spot ``/api/v3/exchangeInfo``: the venue lists no spot market (ccxt's
        ``binance`` class and freqtrade load it beside the futures markets)."""
        return _json_response({
            "timezone": "UTC", "serverTime": _now_ms(), "rateLimits": [],
            "exchangeFilters": [], "symbols": []})

    async def coinm_exchange_info(self, request):
        """COIN-M futures ``/dapi/v1/exchangeInfo``: none listed here."""
        return _json_response({
            "timezone": "UTC", "serverTime": _now_ms(), "rateLimits": [],
            "exchangeFilters": [], "symbols": []})

    # ------------------------------------------------------------------ batch orders
    def _batch_list(self, params: dict, name: str, item_type=dict) -> list:
        import json

        raw = params.get(name)
        if raw is None or raw == "":
            raise _missing(name)
        try:
            items = json.loads(raw, parse_float=str, parse_int=str)
        except (ValueError, RecursionError):
            raise BinanceError(-1130, f"Invalid data sent for a parameter: '{name}' is not a "
                                      "JSON list.") from None
        if not isinstance(items, list) or not all(isinstance(x, item_type) for x in items):
            raise BinanceError(-1130, f"Invalid data sent for a parameter: '{name}' must be a "
                                      f"JSON list of {getattr(item_type, '__name__', 'values')}.")
        if not 1 <= len(items) <= (5 if name == "batchOrders" else 10):
            raise BinanceError(-1130, f"Invalid data sent for a parameter: '{name}' holds 1 "
                                      f"to 5 items (got {len(items)}).")
        return items

    async def batch_orders(self, request):
        """``POST /fapi/v1/batchOrders``: up to 5 orders, each answered in order with the
        order or its own error (Binance places them independently)."""
        cred, params = await self._signed(request)
        return self._mutate('batch_orders', cred, params)

    @staticmethod
    def _answer_each(items, act):
        """A batch endpoint's answer: each item in order, its result or its own error
        (Binance processes the items independently)."""
        out = []
        for item in items:
            try:
                out.append(act(item))
            except BinanceError as exc:
                out.append({"code": exc.code, "msg": exc.msg})
        return _json_response(out)

    def _cmd_batch_orders(self, cred, params):
        def place(item):
            if not all(isinstance(v, (str, bool)) for v in item.values()):
                raise BinanceError(-1130, "Invalid data sent for a parameter: every order field "
                                          "must be a string.")
            return self._place(cred.account, {k: (str(v).lower() if isinstance(v, bool) else v)
                                              for k, v in item.items()})
        return self._answer_each(self._batch_list(params, "batchOrders"), place)

    async def batch_modify(self, request):
        cred, params = await self._signed(request)
        return self._mutate('batch_modify', cred, params)

    def _cmd_batch_modify(self, cred, params):
        return self._answer_each(
            self._batch_list(params, "batchOrders"),
            lambda item: self._modify(cred.account, {k: (str(v).lower() if isinstance(v, bool)
                                                        else str(v)) for k, v in item.items()}))

    async def batch_cancel(self, request):
        cred, params = await self._signed(request)
        return self._mutate('batch_cancel', cred, params)

    def _cmd_batch_cancel(self, cred, params):
        self._instr(params)
        # Binance's names, and the lower-case ones ccxt sends (both accepted by Binance)
        for name in ("orderidlist", "origclientorderidlist"):
            for k in list(params):
                if k.lower() == name and k != name:
                    params[name] = params.pop(k)
        if params.get("orderidlist"):
            ids = self._batch_list(params, "orderidlist", (int, str))
            subs = [{**params, "orderId": str(x), "origClientOrderId": ""} for x in ids]
        elif params.get("origclientorderidlist"):
            ids = self._batch_list(params, "origclientorderidlist", str)
            subs = [{**params, "orderId": "", "origClientOrderId": x} for x in ids]
        else:
            raise BinanceError(-1102, "Either orderIdList or origClientOrderIdList must be sent.")
        return self._answer_each(subs, lambda sub: self._cancel(cred.account, sub))

    async def capital_config(self, request):
        await self._signed(request)
        return _json_response([
            {"coin": SETTLE_ASSET, "name": "TetherUS", "depositAllEnable": False,
             "withdrawAllEnable": False, "free": "0", "locked": "0", "freeze": "0",
             "withdrawing": "0", "ipoing": "0", "ipoable": "0", "storage": "0",
             "isLegalMoney": False, "trading": True, "networkList": []}])

    async def margin_pairs(self, request):
        """Spot margin pairs: none (a futures venue); clients ask while loading currencies."""
        await self._signed(request)
        return _json_response([])

    # ------------------------------------------------------------------ orders
    async def new_order(self, request):
        cred, params = await self._signed(request)
        return self._mutate('new_order', cred, params)

    def _cmd_new_order(self, cred, params):
        return _json_response(self._place(cred.account, params))

    def _place(self, acct: int, params: dict, algo: bool = False) -> dict:
        if algo:
            # the Algo Order API's names for the same things
            algo_type = params.get("algoType")
            if not algo_type:
                raise _missing("algoType")
            if algo_type != "CONDITIONAL":
                raise BinanceError(-1100, "Illegal characters found in parameter 'algoType'; "
                                          "legal range is 'CONDITIONAL'.")
            if params.get("type") not in _CONDITIONAL_TYPES:
                raise BinanceError(-1116, "Invalid orderType.")
            params = dict(params)
            for new_name, old_name in (("triggerPrice", "stopPrice"),
                                       ("clientAlgoId", "newClientOrderId"),
                                       ("activatePrice", "activationPrice")):
                params.pop(old_name, None)
                if new_name in params:
                    params[old_name] = params.pop(new_name)
        elif params.get("type") in _CONDITIONAL_TYPES and self.algo_only:
            raise BinanceError(-4120, "Order type not supported for this endpoint. Please use "
                                      "the Algo Order API endpoints instead.")
        self._count_order(acct)
        i = self._instr(params)
        spec = self.venue.specs[i]
        side = _enum(params, "side", ("BUY", "SELL"), -1117, "Invalid side.")
        otype = _enum(params, "type", _ORDER_TYPES, -1116, "Invalid orderType.")
        if params.get("positionSide", "BOTH") not in ("BOTH", ""):
            raise BinanceError(-4061, "Order's position side does not match user's setting.")
        close_position = _bool_param(params, "closePosition")
        reduce_only = _bool_param(params, "reduceOnly")
        if close_position and otype not in ("STOP_MARKET", "TAKE_PROFIT_MARKET"):
            raise BinanceError(-1106, "Parameter 'closePosition' sent when not required.")
        qty = None
        if not close_position:
            qty = _decimal_param(params, "quantity", required=True)
            if qty <= 0:
                raise BinanceError(-4003, "Quantity less than or equal to zero.")
        price = None
        if otype in ("LIMIT", "STOP", "TAKE_PROFIT"):
            price = _decimal_param(params, "price", required=True)
            if price <= 0:
                raise BinanceError(-4001, "Price less than 0.")
        stop = None
        if otype in ("STOP", "STOP_MARKET", "TAKE_PROFIT", "TAKE_PROFIT_MARKET"):
            stop = _decimal_param(params, "stopPrice", required=True)
        tif = params.get("timeInForce") or "GTC"
        if tif not in _TIFS:
            raise BinanceError(-1115, "Invalid timeInForce.")
        if otype == "MARKET":
            tif = "GTC"                       # Binance reports market orders as GTC
        working = params.get("workingType", "CONTRACT_PRICE")
        if working not in ("MARK_PRICE", "CONTRACT_PRICE"):
            raise BinanceError(-1100, "Illegal characters found in parameter 'workingType'; "
                                      "legal range is 'MARK_PRICE', 'CONTRACT_PRICE'.")
        stp = params.get("selfTradePreventionMode", "NONE") or "NONE"
        if stp not in _STP_MODES:
            raise BinanceError(-1100, "Illegal characters found in parameter "
                                      "'selfTradePreventionMode'.")
        # a generated id is deterministic (a counter), so that a replay makes the same
        client_id = params.get("newClientOrderId") or f"perpsim-{next(self._auto_ids):012d}"
        if not _CLIENT_ID.fullmatch(client_id):
            raise BinanceError(-4015, "Client order id is not valid.")
        # the filters Binance applies before the matching engine sees the order
        if qty is not None:
            _check_qty(spec, qty, market=otype in ("MARKET", "STOP_MARKET", "TAKE_PROFIT_MARKET",
                                                   "TRAILING_STOP_MARKET"))
        if price is not None:
            _check_price(spec, price, "price")
        if stop is not None:
            if stop <= 0:
                raise BinanceError(-4006, "Stop price less than zero.")
            _check_price(spec, stop, "stopPrice")
        prev = self._by_client.get((acct, client_id, algo))
        if prev is not None and prev.status in ("NEW", "PARTIALLY_FILLED"):
            raise BinanceError(-4116, "ClientOrderId is duplicated.")
        callback = activation = None
        if otype == "TRAILING_STOP_MARKET":
            callback = _decimal_param(params, "callbackRate", required=True)
            if "activationPrice" in params:
                activation = _decimal_param(params, "activationPrice")
                if activation is not None:
                    if activation <= 0:
                        raise BinanceError(-4006, "Stop price less than zero.")
                    _check_price(spec, activation, "activationPrice")
        order = Order(symbol=spec.symbol, side=side, qty=qty, price=price, type=otype,
                      tif=tif if otype != "MARKET" else "IOC",
                      reduce_only=reduce_only, close_position=close_position, stop_price=stop,
                      working_type=working, callback_rate=callback, activation_price=activation,
                      stp=stp, client_id=client_id)
        origin = {"account": acct, "client_id": client_id, "side": side, "type": otype,
                  "tif": tif, "working_type": working, "stp": stp, "reduce_only": reduce_only,
                  "close_position": close_position,
                  "callback_rate": _s(callback) if callback is not None else None, "algo": algo,
                  "activation_ticks": spec.price_to_ticks(activation) if activation else 0}
        self._pending_origin = origin            # the record hook binds the accepted order
        try:
            events = self.venue.submit(acct, order)
        except InvalidCommandError as exc:
            raise BinanceError(-1100, f"Illegal characters found in a parameter: {exc}") from None
        finally:
            self._pending_origin = None
        o = origin.get("order")
        if o is None:
            rejected = [e for e in events if e.name == "OrderRejected" and e.account == acct]
            self._raise_reject(rejected[0] if rejected else None, spec, side)
        return self._algo_json(o) if algo else self._order_json(o, full=False)

    def _raise_reject(self, e, spec, side: str) -> None:
        if e is None:
            raise BinanceError(-1000, "An unknown error occurred while processing the request.")
        code, msg = _REJECTS.get(e.reason, (-1000, f"Rejected by the venue: reason {e.reason}."))
        arr = self.venue.core.arrays()
        mark = int(arr["mark"][e.instrument])
        band = Decimal(spec.price_band_rate) / 10**8
        # the bound the price broke: above the mark, the upper (-4016 "can't be higher");
        # below, the lower (-4024 "can't be lower") — Binance's PERCENT_PRICE filter codes
        # (https://developers.binance.com/docs/derivatives/usds-margined-futures/error-code,
        # read 2026-12-02)
        price_ticks = int(getattr(e, "price_ticks", 0) or 0)
        above = price_ticks > mark if price_ticks and mark else side == "BUY"
        bound = spec.ticks_to_price(mark) * (1 + band if above else 1 - band) if mark else 0
        if code == -4016 and not above:
            code = -4024
        msg = msg.format(min_notional=_s(Decimal(spec.min_notional_atoms).scaleb(-spec.settle_decimals)),
                         direction="higher" if above else "lower",
                         bound=_s(Decimal(bound).quantize(spec.tick_size)) if bound else "0",
                         leverage=e.qty_lots)
        raise BinanceError(code, msg)

    def _find(self, acct: int, params: dict, unknown_code: int) -> _Order:
        i = self._instr(params)
        o = None
        if params.get("orderId"):
            oid = _int_param(params, "orderId")
            o = self._orders.get(oid)
        elif params.get("origClientOrderId"):
            o = self._by_client.get((acct, params["origClientOrderId"], False))
        else:
            raise BinanceError(-1102, "Either orderId or origClientOrderId must be sent.")
        if o is None or o.account != acct or o.instr != i or o.algo:
            raise BinanceError(unknown_code, "Order does not exist." if unknown_code == -2013
                               else "Unknown order sent.")
        return o

    def _find_algo(self, acct: int, params: dict, unknown_code: int) -> _Order:
        if params.get("algoId"):
            o = self._orders.get(_int_param(params, "algoId"))
        elif params.get("clientAlgoId"):
            o = self._by_client.get((acct, params["clientAlgoId"], True))
        else:
            raise BinanceError(-1102, "Either algoId or clientAlgoId must be sent.")
        if o is None or o.account != acct or not o.algo:
            raise BinanceError(unknown_code, "Order does not exist." if unknown_code == -2013
                               else "Unknown order sent.")
        return o

    async def new_algo_order(self, request):
        cred, params = await self._signed(request)
        return self._mutate('new_algo_order', cred, params)

    def _cmd_new_algo_order(self, cred, params):
        return _json_response(self._place(cred.account, params, algo=True))

    async def query_algo_order(self, request):
        cred, params = await self._signed(request)
        return _json_response(self._algo_json(self._find_algo(cred.account, params, -2013)))

    async def cancel_algo_order(self, request):
        cred, params = await self._signed(request)
        return self._mutate('cancel_algo_order', cred, params)

    def _cmd_cancel_algo_order(self, cred, params):
        o = self._find_algo(cred.account, params, -2011)
        if o.status != "NEW":
            raise BinanceError(-2011, "Unknown order sent.")
        self.venue.cancel(cred.account, o.venue_oid)
        return _json_response({"algoId": o.order_id, "clientAlgoId": o.client_id,
                                  "code": "200", "msg": "success"})

    def _algos(self, acct: int, instr: int | None, open_only: bool) -> list[_Order]:
        return [o for o in self._orders.values() if o.algo and o.account == acct
                and (instr is None or o.instr == instr) and (o.status == "NEW" or not open_only)]

    async def open_algo_orders(self, request):
        cred, params = await self._signed(request)
        instr = self._instr(params, required=False)
        return _json_response([self._algo_json(o) for o in self._algos(cred.account, instr, True)])

    async def all_algo_orders(self, request):
        cred, params = await self._signed(request)
        instr = self._instr(params)
        limit = min(max(_int_param(params, "limit", default=500), 1), 1000)
        rows = self._algos(cred.account, instr, False)
        return _json_response([self._algo_json(o) for o in rows[-limit:]])

    async def cancel_all_algo(self, request):
        cred, params = await self._signed(request)
        return self._mutate('cancel_all_algo', cred, params)

    def _cmd_cancel_all_algo(self, cred, params):
        instr = self._instr(params)
        for o in self._algos(cred.account, instr, True):
            self.venue.cancel(cred.account, o.venue_oid)
        return _json_response({"code": 200, "msg": "The operation of cancel all open order is done."})

    async def query_order(self, request):
        cred, params = await self._signed(request)
        return _json_response(self._order_json(self._find(cred.account, params, -2013)))

    async def query_open_order(self, request):
        cred, params = await self._signed(request)
        o = self._find(cred.account, params, -2013)
        if o.status not in ("NEW", "PARTIALLY_FILLED"):
            raise BinanceError(-2013, "Order does not exist.")
        return _json_response(self._order_json(o))

    async def cancel_order(self, request):
        cred, params = await self._signed(request)
        return self._mutate('cancel_order', cred, params)

    def _cmd_cancel_order(self, cred, params):
        return _json_response(self._cancel(cred.account, params))

    def _cancel(self, acct: int, params: dict) -> dict:
        o = self._find(acct, params, -2011)
        if o.status not in ("NEW", "PARTIALLY_FILLED"):
            raise BinanceError(-2011, "Unknown order sent.")
        if o.venue_oid > 0:
            # a resting order: the core's cancel and a drain (the driver API,
            # Exchange.drain_records) do what Exchange.cancel does for it, and the records
            # reach the orders of record through the hook, without a second set of events
            self.venue.core.cancel(acct, o.venue_oid)
            self.venue.drain_records()
        else:                                       # conditional: the venue layer holds it
            self.venue.cancel(acct, o.venue_oid)
        return self._order_json(o, full=False)

    async def modify_order(self, request):
        cred, params = await self._signed(request)
        return self._mutate('modify_order', cred, params)

    def _cmd_modify_order(self, cred, params):
        return _json_response(self._modify(cred.account, params))

    def _modify(self, acct: int, params: dict) -> dict:
        self._count_order(acct)
        o = self._find(acct, params, -2013)
        if o.type != "LIMIT" or o.status not in ("NEW", "PARTIALLY_FILLED"):
            raise BinanceError(-2013, "Order does not exist.")
        side = _enum(params, "side", ("BUY", "SELL"), -1117, "Invalid side.")
        if side != o.side:
            raise BinanceError(-4123, "Side does not match.")
        qty = _decimal_param(params, "quantity", required=True)
        price = _decimal_param(params, "price", required=True)
        spec = self.venue.specs[o.instr]
        if price <= 0:
            raise BinanceError(-4001, "Price less than 0.")
        if qty <= 0:
            raise BinanceError(-4003, "Quantity less than or equal to zero.")
        _check_qty(spec, qty, market=False)
        ticks = _check_price(spec, price, "price")
        # a modified price must pass the band a new order's does (PERCENT_PRICE)
        mark = int(self.venue.core.arrays()["mark"][o.instr])
        if mark:
            lo, hi = spec.price_band_ticks(mark)
            if not lo <= ticks <= hi:
                band = Decimal(spec.price_band_rate) / 10**8
                above = ticks > hi
                bound = spec.ticks_to_price(mark) * (1 + band if above else 1 - band)
                raise BinanceError(-4016 if above else -4024,
                                   f"Limit price can't be {'higher' if above else 'lower'} than "
                                   f"{_s(Decimal(bound).quantize(spec.tick_size))}.")
        lots = spec.qty_to_lots(qty)
        if lots <= o.executed_lots:
            raise BinanceError(-4003, "Quantity less than or equal to zero.")
        events = self.venue.amend(acct, o.venue_oid, qty=spec.lots_to_qty(lots - o.executed_lots),
                                  price=price)
        rejected = [e for e in events if e.name == "OrderRejected"]
        if rejected:
            self._raise_reject(rejected[0], spec, o.side)
        o.orig_lots = lots
        return self._order_json(o, full=False)

    def _open(self, acct: int, instr: int | None) -> list[_Order]:
        return [o for o in self._orders.values()
                if o.account == acct and not o.algo and o.status in ("NEW", "PARTIALLY_FILLED")
                and (instr is None or o.instr == instr)]

    async def open_orders(self, request):
        cred, params = await self._signed(request)
        instr = self._instr(params, required=False)
        return _json_response([self._order_json(o) for o in self._open(cred.account, instr)])

    async def cancel_all(self, request):
        cred, params = await self._signed(request)
        return self._mutate('cancel_all', cred, params)

    def _cmd_cancel_all(self, cred, params):
        instr = self._instr(params)
        for o in self._open(cred.account, instr):
            self.venue.cancel(cred.account, o.venue_oid)
        return _json_response({"code": 200, "msg": "The operation of cancel all open order is done."})

    async def all_orders(self, request):
        cred, params = await self._signed(request)
        instr = self._instr(params)
        limit = min(max(_int_param(params, "limit", default=500), 1), 1000)
        start = _int_param(params, "startTime", default=0)
        from_id = _int_param(params, "orderId", default=0)
        rows = [o for o in self._orders.values() if o.account == cred.account and o.instr == instr
                and not o.algo and o.time_ms >= start and o.order_id >= from_id]
        return _json_response([self._order_json(o) for o in rows[:limit]])

    async def user_trades(self, request):
        cred, params = await self._signed(request)
        instr = self._instr(params)
        limit = min(max(_int_param(params, "limit", default=500), 1), 1000)
        start = _int_param(params, "startTime", default=0)
        from_id = _int_param(params, "fromId", default=0)
        sym = self.venue.symbols[instr]
        rows = [t for t in self._user_trades.get(cred.account, [])
                if t["symbol"] == sym and t["time"] >= start and t["id"] >= from_id]
        return _json_response(rows[-limit:] if not from_id else rows[:limit])

    # ------------------------------------------------------------------ account
    def _position_json(self, acct: int, i: int) -> dict:
        v = self.venue
        spec = v.specs[i]
        p = v.position(acct, spec.symbol)
        mark = p.mark_price or Decimal(0)
        notional = p.size * mark
        im = abs(notional) / p.leverage if p.leverage else Decimal(0)
        return {
            "symbol": spec.symbol, "positionSide": "BOTH", "positionAmt": _s(p.size),
            "entryPrice": _s(p.entry_price or 0), "breakEvenPrice": _s(p.entry_price or 0),
            "markPrice": _s(mark), "unRealizedProfit": _s(p.unrealized_pnl),
            "unrealizedProfit": _s(p.unrealized_pnl),
            "liquidationPrice": _s(self._liquidation_price(acct, i) or 0),
            "isolatedMargin": _s(p.isolated_margin + p.unrealized_pnl if p.isolated else 0),
            "notional": _s(notional), "marginAsset": SETTLE_ASSET,
            "isolatedWallet": _s(p.isolated_margin), "initialMargin": _s(im),
            "maintMargin": _s(p.maintenance_margin), "positionInitialMargin": _s(im),
            "openOrderInitialMargin": "0", "adl": 0, "bidNotional": "0", "askNotional": "0",
            "leverage": str(p.leverage), "marginType": "isolated" if p.isolated else "cross",
            "isolated": p.isolated, "isAutoAddMargin": "false",
            "maxNotionalValue": _s(_notional_cap(spec, p.leverage or 1)),
            "updateTime": _now_ms()}

    def _liquidation_price(self, acct: int, i: int) -> Decimal | None:
        from exchange.margin import binance_liquidation_price_ticks

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
        ticks = binance_liquidation_price_ticks(
            wallet_atoms=wallet, size_lots=size, entry_cost_atoms=cost, tiers=spec.tiers,
            atoms_per_tick_lot=spec.atoms_per_tick_lot, other_maintenance_atoms=other_mm,
            other_upnl_atoms=other_upnl)
        return spec.ticks_to_price(ticks) if ticks and ticks > 0 else None

    def _balance_json(self, acct: int) -> dict:
        b = self.venue.balance(acct)
        upnl = b.equity - b.wallet
        return {"accountAlias": f"perpsim-{acct}", "asset": SETTLE_ASSET,
                "balance": _s(b.wallet), "walletBalance": _s(b.wallet),
                "crossWalletBalance": _s(b.wallet), "crossUnPnl": _s(upnl),
                "unrealizedProfit": _s(upnl), "marginBalance": _s(b.equity),
                "maintMargin": _s(b.maintenance_margin),
                "initialMargin": _s(b.equity - b.available), "positionInitialMargin": "0",
                "openOrderInitialMargin": "0", "availableBalance": _s(b.available),
                "maxWithdrawAmount": _s(b.available), "marginAvailable": True,
                "updateTime": _now_ms()}

    async def balance(self, request):
        cred, _ = await self._signed(request)
        return _json_response([self._balance_json(cred.account)])

    async def account(self, request):
        cred, _ = await self._signed(request)
        acct = cred.account
        asset = self._balance_json(acct)
        positions = [self._position_json(acct, i) for i in range(len(self.venue.specs))]
        return _json_response({
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
        return _json_response([self._position_json(cred.account, i) for i in idx])

    async def leverage(self, request):
        cred, params = await self._signed(request)
        return self._mutate('leverage', cred, params)

    def _cmd_leverage(self, cred, params):
        i = self._instr(params)
        lev = _int_param(params, "leverage", required=True)
        spec = self.venue.specs[i]
        if not 1 <= lev <= 125:          # Binance's range; the tiers refine it below
            raise BinanceError(-4028, f"Leverage {lev} is not valid")
        events = self.venue.set_leverage(cred.account, spec.symbol, lev)
        rejected = [e for e in events if e.name == "OrderRejected"]
        if rejected:
            self._raise_reject(rejected[0], spec, "BUY")
        cap = _notional_cap(spec, lev)
        return _json_response({"leverage": lev, "maxNotionalValue": _s(cap), "symbol": spec.symbol})

    async def margin_type(self, request):
        cred, params = await self._signed(request)
        return self._mutate('margin_type', cred, params)

    def _cmd_margin_type(self, cred, params):
        i = self._instr(params)
        mt = _enum(params, "marginType", ("ISOLATED", "CROSSED"), -1100,
                   "Illegal characters found in parameter 'marginType'; legal range is "
                   "'ISOLATED', 'CROSSED'.")
        spec = self.venue.specs[i]
        if bool(self.venue.core.arrays()["mode"][i, cred.account]) == (mt == "ISOLATED"):
            raise BinanceError(-4046, "No need to change margin type.")
        events = self.venue.set_margin_mode(cred.account, spec.symbol, mt)
        rejected = [e for e in events if e.name == "OrderRejected"]
        if rejected:
            self._raise_reject(rejected[0], spec, "BUY")
        return _json_response({"code": 200, "msg": "success"})

    async def position_margin(self, request):
        cred, params = await self._signed(request)
        return self._mutate('position_margin', cred, params)

    def _cmd_position_margin(self, cred, params):
        i = self._instr(params)
        amount = _decimal_param(params, "amount", required=True)
        kind = _int_param(params, "type", required=True)
        if not 0 < amount <= Decimal(10) ** 12:
            raise BinanceError(-1130, "Invalid data sent for a parameter: 'amount' must be > 0 "
                                      "and at most 1e12.")
        if kind not in (1, 2):
            raise BinanceError(-1100, "Illegal characters found in parameter 'type'; legal range is 1, 2.")
        spec = self.venue.specs[i]
        if not self.venue.core.arrays()["mode"][i, cred.account]:
            raise BinanceError(-1000, "Margin is only adjustable for isolated positions.")
        events = self.venue.adjust_isolated_margin(cred.account, spec.symbol,
                                                   amount if kind == 1 else -amount)
        rejected = [e for e in events if e.name in ("OrderRejected", "TransferRejected")]
        if rejected:
            raise BinanceError(-4051, "Isolated balance insufficient.")
        return _json_response({"amount": float(amount), "code": 200,
                                  "msg": "Successfully modify position margin.", "type": kind})

    async def position_side(self, request):
        await self._signed(request)
        return _json_response({"dualSidePosition": False})

    async def multi_assets(self, request):
        await self._signed(request)
        return _json_response({"multiAssetsMargin": False})

    async def symbol_config(self, request):
        cred, params = await self._signed(request)
        instr = self._instr(params, required=False)
        arr = self.venue.core.arrays()
        idx = range(len(self.venue.specs)) if instr is None else [instr]
        return _json_response([{
            "symbol": self.venue.specs[i].symbol,
            "marginType": "ISOLATED" if arr["mode"][i, cred.account] else "CROSSED",
            "isAutoAddMargin": False, "leverage": int(arr["lev"][i, cred.account]),
            "maxNotionalValue": _s(_notional_cap(self.venue.specs[i],
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
                       if n + 1 < len(tiers) else _max_notional(spec))
                brackets.append({
                    "bracket": n + 1, "initialLeverage": t.max_leverage,
                    "notionalCap": int(cap),
                    "notionalFloor": int(Decimal(t.notional_floor_atoms).scaleb(-spec.settle_decimals)),
                    "maintMarginRatio": float(Decimal(t.mmr) / 10**8),
                    "cum": float(Decimal(t.maintenance_amount_atoms).scaleb(-spec.settle_decimals))})
            out.append({"symbol": spec.symbol, "brackets": brackets})
        return _json_response(out if instr is None else out[0])

    # ------------------------------------------------------------------ user data stream
    def _api_key_only(self, request) -> Credentials:
        key = request.headers.get("X-MBX-APIKEY")
        cred = self._keys.get(key) if key else None
        if cred is None:
            raise BinanceError(-2015, "Invalid API-key, IP, or permissions for action.", 401)
        return cred

    async def listen_key_new(self, request):
        cred = self._api_key_only(request)
        for k, a in self._listen_keys.items():        # Binance returns the live key if any
            if a == cred.account:                      # (and extends its validity)
                self._listen_alive[k] = time.monotonic()
                return _json_response({"listenKey": k})
        key = secrets.token_urlsafe(48)[:64]
        self._listen_keys[key] = cred.account
        self._listen_alive[key] = time.monotonic()
        self._log({"k": "listen_new", "key": cred.api_key, "lk": key})
        return _json_response({"listenKey": key})

    async def listen_key_keep(self, request):
        cred = self._api_key_only(request)
        live = [k for k, a in self._listen_keys.items() if a == cred.account]
        if not live:
            raise BinanceError(-1125, "This listenKey does not exist.")
        for k in live:
            self._listen_alive[k] = time.monotonic()
        return _json_response({})

    async def listen_key_close(self, request):
        cred = self._api_key_only(request)
        self._close_listen_keys(cred.account)
        self._log({"k": "listen_close", "key": cred.api_key})
        return _json_response({})

    def _close_listen_keys(self, acct: int) -> None:
        for k in [k for k, a in self._listen_keys.items() if a == acct]:
            del self._listen_keys[k]
            self._listen_alive.pop(k, None)

    # ------------------------------------------------------------------ websockets
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

    # ------------------------------------------------------------------ listen key expiry
    def expire_listen_keys(self, now: float | None = None) -> list[str]:
        """End the listen keys not kept alive for ``listen_key_ttl_s`` (Binance: 60 minutes):
        each gets ``listenKeyExpired`` on its stream and is forgotten
        (https://developers.binance.com/docs/derivatives/usds-margined-futures/user-data-streams/Event-User-Data-Stream-Expired,
        read 2026-12-02). Returns the keys ended."""
        now = time.monotonic() if now is None else now
        gone = [k for k, t in self._listen_alive.items() if now - t >= self.listen_key_ttl_s]
        for k in gone:
            self.hub.publish(k, {"e": "listenKeyExpired", "E": _now_ms(), "listenKey": k})
            self._listen_keys.pop(k, None)
            self._listen_alive.pop(k, None)
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
                self._flush_depth()
                self._flush_market()

        self._expiry_task = asyncio.ensure_future(loop())
        self._streams_task = asyncio.ensure_future(streams())

    async def _stop_expiry(self, _app) -> None:
        for name in ("_expiry_task", "_streams_task"):
            task = getattr(self, name, None)
            if task is not None:
                task.cancel()


# ---------------------------------------------------------------------- helpers
# what Binance shows as the cap of a position with no limit of its own (its largest brackets)
_UNLIMITED_NOTIONAL = Decimal(10) ** 12


def _notional_cap(spec, leverage: int) -> Decimal:
    """The largest position notional allowed at ``leverage`` (Binance's maxNotionalValue)."""
    from exchange.margin import notional_cap_for_leverage

    cap = notional_cap_for_leverage(spec.tiers, leverage, spec.max_position_notional_atoms)
    return _UNLIMITED_NOTIONAL if cap is None else Decimal(cap).scaleb(-spec.settle_decimals)


def _max_notional(spec) -> Decimal:
    cap = spec.max_position_notional_atoms
    return _UNLIMITED_NOTIONAL if cap is None else Decimal(cap).scaleb(-spec.settle_decimals)


def _check_price(spec, price: Decimal, name: str) -> int:
    """PRICE_FILTER: on the tick (-4014) and at most maxPrice (-4013); returns ticks."""
    ticks = price / spec.tick_size
    if ticks != ticks.to_integral_value():
        raise BinanceError(-4014, "Price not increased by tick size." if name == "price" else
                           f"Price not increased by tick size ('{name}').")
    if ticks > MAX_PRICE_TICKS:
        raise BinanceError(-4013, "Price greater than max price." if name == "price" else
                           f"Price greater than max price ('{name}').")
    return int(ticks)


def _check_qty(spec, qty: Decimal, market: bool) -> int:
    """LOT_SIZE / MARKET_LOT_SIZE: on the step (-4023) and at most maxQty (-4005)."""
    lots = qty / spec.lot_size
    if lots != lots.to_integral_value():
        raise BinanceError(-4023, "Quantity not increased by step size.")
    if lots > (spec.max_market_lots if market else spec.max_order_lots):
        raise BinanceError(-4005, "Quantity greater than max quantity.")
    return int(lots)


def _decimals(step: Decimal) -> int:
    return max(0, -Decimal(step).normalize().as_tuple().exponent)


def _split_signature(query: str, body: str) -> tuple[str, str | None]:
    """The signed payload (query string, then body, as sent) and the signature parameter,
    which Binance expects last in whichever part carries it."""
    for part in ("body", "query"):
        text = body if part == "body" else query
        head, sep, sig = text.rpartition("signature=")
        if sep and "&" not in sig and (head == "" or head.endswith("&")):
            head = head[:-1] if head.endswith("&") else head
            payload = query + head if part == "body" else head + body
            return payload, sig
    return query + body, None


def _missing(name: str) -> BinanceError:
    return BinanceError(-1102, f"Mandatory parameter '{name}' was not sent, was empty/null, "
                               "or malformed.")


_INT = re.compile(r"[0-9]{1,20}")
_DEC = re.compile(r"[0-9]{1,20}(\.[0-9]{1,20})?")


def _int_param(params: dict, name: str, default: int | None = None, required: bool = False) -> int:
    """An integer parameter as Binance reads it: ``^[0-9]{1,20}$`` (no sign, no spaces, no
    exponent) and within a signed 64-bit integer, else -1100 naming the parameter."""
    raw = params.get(name)
    if raw is None or raw == "":
        if required:
            raise _missing(name)
        return default
    if not isinstance(raw, str) or not _INT.fullmatch(raw) or int(raw) >= 2**63:
        raise BinanceError(-1100, f"Illegal characters found in parameter '{name}'; legal range "
                                  "is '^[0-9]{1,20}$'.")
    return int(raw)


def _decimal_param(params: dict, name: str, required: bool = False) -> Decimal | None:
    """A decimal parameter as Binance reads it: ``^([0-9]{1,20})(\\.[0-9]{1,20})?$`` (no
    sign, spaces or exponent: " 0.01", "-5", "1e308" are refused with -1100)."""
    raw = params.get(name)
    if raw is None or raw == "":
        if required:
            raise _missing(name)
        return None
    if not isinstance(raw, str) or not _DEC.fullmatch(raw):
        raise BinanceError(-1100, f"Illegal characters found in parameter '{name}'; legal range "
                                  "is '^([0-9]{1,20})(\\.[0-9]{1,20})?$'.")
    return Decimal(raw)


def _bool_param(params: dict, name: str) -> bool:
    raw = str(params.get(name, "false")).lower()
    if raw not in ("true", "false"):
        raise BinanceError(-1100, f"Illegal characters found in parameter '{name}'; legal range "
                                  "is 'true', 'false'.")
    return raw == "true"


def _enum(params: dict, name: str, allowed, code: int, msg: str) -> str:
    raw = params.get(name)
    if raw is None or raw == "":
        raise _missing(name)
    if raw not in allowed:
        raise BinanceError(code, msg)
    return raw
