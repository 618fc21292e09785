"""A Binance USDⓈ-M futures compatible REST + WebSocket server over one simulated venue.

Unmodified clients (ccxt's ``binanceusdm``, Binance's own SDKs, bots) talk to it as to
``fapi.binance.com``: same paths, parameters, HMAC-SHA256 request signing, JSON shapes and
error codes. Behind it is an :class:`exchange.venue.Exchange` built from a preset, with its
risk checks, matching engine, liquidation waterfall and funding; the mark price is driven by
the test or script that runs the server (:meth:`MockBinance.set_mark`), so that scenarios
(a crash, a squeeze) are reproducible.

What is served (see the tests for each, ``tests/exchange/server``):

- public: ping, time, exchangeInfo (also the spot ``/api/v3`` and COIN-M ``/dapi/v1`` ones,
  empty, for ccxt's ``binance`` class and freqtrade), depth, trades, historicalTrades,
  aggTrades, klines, continuousKlines, markPriceKlines, indexPriceKlines,
  premiumIndexKlines (:mod:`exchange.server.history`), ticker/price, ticker/bookTicker,
  ticker/24hr, premiumIndex, fundingRate, openInterest; the ``/futures/data`` statistics
  (openInterestHist, globalLongShortAccountRatio, topLongShortAccountRatio,
  topLongShortPositionRatio, takerlongshortRatio, basis: the venue's positions sampled at
  five-minute boundaries, :class:`~exchange.server.history.PositionStats`);
- signed: order (new, query, cancel, modify), batchOrders (POST, PUT, DELETE), the Algo
  Order API for conditional orders (algoOrder, openAlgoOrders, allAlgoOrders,
  algoOpenOrders), openOrders, allOpenOrders, allOrders, userTrades, income, forceOrders,
  commissionRate, adlQuantile (the venue's own ADL queue), account, balance, positionRisk
  (v2 and v3), leverage, marginType,
  positionMargin, listenKey; ``/sapi/v1/capital/config/getall`` and the margin pair lists
  so that a client that loads currencies at start-up finds USDT;
- WebSocket (:mod:`exchange.server.streams`): every market stream ccxt.pro subscribes to and
  user data (ORDER_TRADE_UPDATE, ALGO_UPDATE, ACCOUNT_UPDATE, MARGIN_CALL,
  listenKeyExpired) on every URL shape it builds;
- the WebSocket API (``/ws-fapi/v1``, :mod:`exchange.server.handlers.ws_api`): order.place,
  modify, cancel, status, algoOrder.place / cancel, account.position / balance / status (v1
  and v2), depth, ticker.price, ticker.book, userDataStream.start / ping / stop, session.*;
- rate limits and key permissions (:mod:`exchange.server.limits`), durability
  (:mod:`exchange.server.journal`).

Not served (answers ``-1000`` "not supported by the mock"): hedge mode (position side LONG /
SHORT), multi-assets margin, convert.

Layout: :class:`MockBinance` (this module: construction and the host API) is composed of one
part per concern — :mod:`~exchange.server.app` (routes, middleware), :mod:`~exchange.server.auth`
(keys, signing), :mod:`~exchange.server.params` (parameters, order filters),
:mod:`~exchange.server.durability`, :mod:`~exchange.server.state` (orders of record),
:mod:`~exchange.server.publish` (streams), :mod:`~exchange.server.payloads` (JSON) and the
handlers by area in :mod:`exchange.server.handlers` (market, history, trading, algo, account,
user_stream, ws_api); errors in :mod:`~exchange.server.errors`.

Units: the venue keeps integers (ticks, lots, atoms); the edge converts with the preset's
instrument specs, so a price or quantity off the grid is refused the way Binance refuses it.
"""
from __future__ import annotations

import collections
import itertools
import secrets
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from exchange.errors import InvalidCommandError
from exchange.orderstate import Orders
from exchange.server.app import App
from exchange.server.auth import (KEY_TYPES, PERMISSIONS, Auth, Credentials,
                                   ed25519_keypair, ed25519_public_key)
from exchange.server.durability import Durable
from exchange.server.errors import BinanceError
from exchange.server.handlers.account import AccountHandlers
from exchange.server.handlers.algo import AlgoHandlers
from exchange.server.handlers.history import HistoryHandlers
from exchange.server.handlers.market import MarketHandlers
from exchange.server.handlers.trading import TradingHandlers
from exchange.server.handlers.user_stream import UserStreamHandlers
from exchange.server.handlers.ws_api import WsApiHandlers
from exchange.server.history import PositionStats, Series
from exchange.server.limits import Limiter, RateLimits
from exchange.server.params import RequestParams
from exchange.server.payloads import Payloads
from exchange.server.publish import Publisher
from exchange.server.state import OrderRecord, OrdersOfRecord
from exchange.server.streams import StreamHub
from exchange.units import RATE_SCALE
from exchange.venue import Exchange

__all__ = ["MockBinance", "Credentials", "BinanceError"]


class MockBinance(App, Auth, RequestParams, Durable, OrdersOfRecord, Publisher, Payloads,
                  MarketHandlers, HistoryHandlers, TradingHandlers, AlgoHandlers, AccountHandlers,
                  UserStreamHandlers, WsApiHandlers):
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
        self._stats = [PositionStats() for _ in range(n)]     # /futures/data
        self._stats_unstarted = set(range(n))
        self._force_orders: dict[int, list[OrderRecord]] = {}   # account -> its liquidation orders
        self._market_dirty: set[int] = set()
        self._market_last: dict[int, float] = {}
        self._market_timer = None
        self._last_wallet: dict[int, Decimal] = {}
        self._depth_pending: dict[int, dict] = {}
        self._depth_last_u: dict[int, int] = {}
        self._partial_dirty: set[int] = set()
        self._agg_trades: list[list[dict]] = [[] for _ in range(n)]
        self._income: dict[int, list[dict]] = {}
        self._realized: dict[tuple[int, int], Decimal] = {}  # (account, instr) -> realized PnL
        self._margin_history: dict[int, list[dict]] = {}     # account -> positionMargin changes
        self._amendments: dict[int, list[dict]] = {}         # Binance orderId -> its modifications
        self._amendment_ids = itertools.count(1)
        self._countdowns: dict[tuple[int, int], int] = {}    # (account, instrument) -> cancel-all ms
        self._good_till: list[tuple[int, int]] = []          # heap of (goodTillDate ms, orderId)
        self._force_last: dict[str, float] = {}      # symbol -> monotonic s of its last forceOrder
        self._force_pending: dict[str, dict] = {}    # symbol -> the latest forceOrder waiting
        self._tran_ids = itertools.count(1)
        self._orders: dict[int, OrderRecord] = {}             # Binance orderId -> order
        # the orders' progress (exchange.orderstate; records copy it), all accounts
        self._order_states = Orders(max_closed=10_000)
        self._by_venue: dict[int, OrderRecord] = {}           # venue oid (conditional: < 0) -> order
        self._by_client: dict[tuple[int, str], OrderRecord] = {}
        # (time, orderId) of orders that ended CANCELED/EXPIRED with no fill, in the order
        # they ended: Binance forgets them 3 days after they were placed (state.py, _retire)
        self._retiring: collections.deque = collections.deque()
        self._next_order_id = itertools.count(1_000_000_001)
        self._trade_ids = itertools.count(1)
        self._fill_pair: tuple | None = None        # the first fill of a match and its trade id
        self._agg_ids = itertools.count(1)
        self._trades: list[list[dict]] = [[] for _ in self.venue.symbols]     # public trades
        self._user_trades: dict[int, list[dict]] = {}
        self._funding: list[list[dict]] = [[] for _ in self.venue.symbols]
        self._last_rate = ["0" for _ in self.venue.symbols]
        self._update_id = [0 for _ in self.venue.symbols]
        self._pending_origin: dict | None = None
        self._agg: list | None = None                    # the aggTrade being accumulated
        self._algo_child: dict[int, OrderRecord] = {}         # venue oid of a triggered algo's order
        self._algo_done: dict = {}                           # algo orders ending in this batch
        self._auto_ids = itertools.count(1)
        self._replaying = False
        self.journal = None
        #: why the server stopped taking requests (its journal failed), or None
        self.halted: str | None = None
        #: called with :attr:`halted`'s reason when the server halts (``perpsim serve`` exits)
        self.on_halt: Callable[[str], None] | None = None
        self._listen_kept_ms: dict[str, int] = {}        # listen key -> wall ms of its last keepalive
        #: simulated seconds per wall second of the venue behind the server (a scenario's
        #: ``--speed``; 1 for a venue on the wall clock): maps venue times to wall times
        self.speed = 1.0
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

    def add_account(self, deposit: Any = "10000", api_key: str | None = None,
                    secret: str | None = None, permissions=PERMISSIONS, *,
                    key_type: str = "HMAC_SHA256", public_key: str | None = None) -> Credentials:
        """Open a venue account with an API key pair; returns the credentials.
        ``permissions=("read",)`` makes a read-only key (signed reads work; anything that
        changes the account answers -2015, as Binance does for a key without trading).
        ``key_type="ED25519"``: an Ed25519 key (Binance's recommended type; the WebSocket
        API's ``session.logon`` takes no other): registered from ``public_key`` (PEM) as on
        Binance, or, without one, a new pair whose private key (PEM) is the credentials'
        ``secret``, which ccxt takes as it is."""
        perms = tuple(permissions)
        if "read" not in perms or not set(perms) <= set(PERMISSIONS):
            raise InvalidCommandError(f"'permissions' must be ('read',) or ('read', 'trade') "
                                      f"(got {permissions!r})")
        kind = str(key_type).upper().replace("-", "_")
        kind = {"HMAC": "HMAC_SHA256"}.get(kind, kind)
        if kind not in KEY_TYPES:
            raise InvalidCommandError(f"'key_type' must be one of {', '.join(KEY_TYPES)} "
                                      f"(got {key_type!r})")
        if kind == "ED25519":
            if public_key is None:
                if secret is not None:
                    raise InvalidCommandError("'secret' of an Ed25519 key: give its "
                                              "'public_key' (PEM) instead")
                secret, public_key = ed25519_keypair()
            try:
                ed25519_public_key(public_key)
            except (TypeError, ValueError):
                raise InvalidCommandError(f"'public_key' must be an Ed25519 public key in PEM "
                                          f"(got {str(public_key)[:40]!r})") from None
            secret = secret or ""
        elif public_key is not None:
            raise InvalidCommandError("'public_key' is for key_type='ED25519'")
        if api_key is not None and not (isinstance(api_key, str) and 0 < len(api_key) <= 128
                                        and api_key.isprintable()):
            raise InvalidCommandError(f"'api_key' must be 1 to 128 printable characters "
                                      f"(got {api_key!r})")
        if api_key in self._keys:
            raise InvalidCommandError(f"'api_key' is already in use (got {api_key!r})")
        acct = self.venue.open_account(deposit=deposit)
        cred = Credentials(api_key or secrets.token_hex(32),
                           secret if secret is not None else secrets.token_hex(32), acct,
                           tuple(p for p in PERMISSIONS if p in perms), kind, public_key or "")
        self._keys[cred.api_key] = cred
        rec = {"k": "account", "deposit": str(deposit), "api_key": cred.api_key,
               "secret": cred.secret, "perms": list(cred.permissions)}
        if kind == "ED25519":
            rec["key_type"], rec["public_key"] = kind, cred.public_key
        self._log(rec)
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
        out = self.venue.settle_funding(symbol, int(r * RATE_SCALE))
        self._log({"k": "funding", "symbol": symbol, "rate": str(rate)})
        return out

    def advance_to(self, ts_ns: int) -> list:
        """Move the venue clock (``clock="manual"``); journaled like the other host calls."""
        out = self.venue.advance_to(ts_ns)
        self._log({"k": "advance"})           # the record's clock time is the new time
        return out

    def _sync_clock(self) -> None:
        if self.clock == "wall" and not self._replaying:
            now = time.time_ns()
            # to the millisecond (Binance's resolution): a request within the same ms as
            # the last clock move finds the venue already there
            if now - self.venue.ts_ns >= 1_000_000:
                self.venue.advance_to(now)
