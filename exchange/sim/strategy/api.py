"""What a strategy's callbacks receive: :class:`StrategyAPI` (market and account queries,
order commands). See :mod:`exchange.sim.strategy`."""
from __future__ import annotations

import math
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal, InvalidOperation
from typing import TYPE_CHECKING

import attrs
import numpy as np

from exchange import events as ev_mod
from exchange._enums import EventKind, RejectedCommand
from exchange.codes import RejectReason
from exchange.errors import InvalidCommandError, invalid
from exchange.orderstate import CANCELED as _S_CANCELED, EXPIRED as _S_EXPIRED, Orders
from exchange.sim.clock import PRIO_ARRIVAL
from exchange.sim.gateway import (CANCEL, CANCEL_IF_OPEN, IOC, LIMIT, MARKET,
                                  SUBMIT, OrderBatch)
from exchange.sim.strategy.base import (_CANCEL_DETAIL, _F_RESTING, _K_ACCEPTED, _K_CANCELED,
                                        _K_COND_ACCEPTED, _K_COND_CANCELED, _K_FILLED, _K_FUNDING_PAID, _K_REJECTED,
                                        _K_TRANSFERRED, _LIQ_KINDS, _SIDE_NAMES, _SIDES,
                                        _TIFS, _WORKING_TYPES, CONDITIONAL,
                                        MAX_COMMANDS_PER_CALLBACK, Depth, Fill, FundingUpdate,
                                        LiquidationUpdate, OpenOrder, OrderUpdate)

if TYPE_CHECKING:
    from exchange.sim.strategy.agent import StrategyAgent

__all__ = ["StrategyAPI"]

_K_AMENDED = int(EventKind.ORDER_AMENDED)
_CANCEL_REFUSED = int(RejectedCommand.CANCEL_ORDER)     # OrderRejected.command of a cancel
_SUBMIT_REFUSED = int(RejectedCommand.SUBMIT_ORDER)
_STATUS_WORDS = {_S_CANCELED: "canceled", _S_EXPIRED: "expired"}

# -- THE API ---------------------------------------------------------------------------------

@attrs.define(slots=True)
class _Order:
    """The strategy's side of one order: its id, what it asked for, the batch that carries
    it and whether a cancel waits for its venue id. What the venue did with it (accepted,
    filled quantity, how it ended) is the venue's order state (:mod:`exchange.orderstate`);
    ``status`` is the strategy's view of it (``pending`` until the venue answers)."""

    order_id: int
    side: int
    qty_lots: int
    price_ticks: int
    otype: int
    reduce_only: bool
    batch: OrderBatch | None = None
    kind: str = ""                # conditional orders: the venue's type (STOP_MARKET, ...)
    row: int = 0
    venue_id: int = 0
    code: int = 0                 # the venue's answer to the submit (0 accepted)
    status: str = "pending"       # pending, accepted, filled, canceled, expired, rejected
    cancel_wanted: bool = False

    @property
    def done(self) -> bool:
        return self.status in ("filled", "canceled", "expired", "rejected")


class StrategyAPI:
    """What a strategy's callbacks receive: market and account queries, order commands.

    Prices and quantities are Decimals (None when there is none yet). Queries cost O(1) except
    ``depth(n)`` O(n) and ``open_orders`` O(own open orders); commands O(1) (sent when the
    callback returns).
    """

    def __init__(self, agent: StrategyAgent, ctx, account: int, latency_ns: int,
                 rng: np.random.Generator) -> None:
        self._agent = agent
        self._ctx = ctx
        self._core = ctx.core
        self._ex = ctx.exchange
        self._instr = ctx.instr
        self._spec = ctx.spec
        self.account = int(account)
        self.symbol: str = ctx.symbol
        self.latency_ns = int(latency_ns)
        self.rng = rng
        self.tick_size: Decimal = self._spec.tick_size
        self.lot_size: Decimal = self._spec.lot_size
        self._orders: dict[int, _Order] = {}
        # the orders not known to be finished, oldest first (a finished one leaves at the next
        # look: cancel_all and open_orders cost O(unfinished), not O(every order sent))
        self._live: dict[int, _Order] = {}
        self._by_venue: dict[int, _Order] = {}    # venue order id -> the strategy's order
        # the venue's state of this account's orders, as the delivered records tell it
        self._venue_orders = Orders(self.account, max_closed=1024)
        self._unresolved: list[_Order] = []
        self._next_id = 1
        self._cmds: list[tuple] = []          # (kind, order or None, target venue id)
        self._reject_seq: dict[int, _Order] = {}  # venue record seq of a conditional refusal
        self._arriving: _Order | None = None  # the conditional order being submitted
        self._arriving_seq = 0                # the venue's record seq before that submit
        self._local: list[OrderUpdate] = []   # refusals decided before sending
        self._closed = False

    # -- QUERIES --
    @property
    def now(self) -> int:
        """Simulated time, integer ns."""
        return int(self._ctx.clock.now_ns)

    def _price(self, ticks) -> Decimal | None:
        ticks = int(ticks or 0)
        return self._spec.ticks_to_price(ticks) if ticks > 0 else None

    @property
    def mark(self) -> Decimal | None:
        return self._price(self._ctx.arrays()["mark"][self._instr])

    @property
    def index(self) -> Decimal | None:
        return self._price(self._ctx.arrays()["index"][self._instr])

    @property
    def last(self) -> Decimal | None:
        """Last trade price."""
        return self._price(self._ctx.arrays()["last"][self._instr])

    @property
    def funding_estimate(self) -> Decimal | None:
        """The venue's estimate of the coming funding settlement, as a fraction per 8 hours
        (positive: longs pay), as it publishes it (Binance's ``lastFundingRate``); None before
        the venue's oracle runs."""
        tl = self._ex.timelines[self._instr]
        if tl is None or not tl.started:
            return None
        return Decimal(tl.estimate_8h()).scaleb(-8)

    @property
    def stale(self) -> bool:
        """The oracle is stale (mark, liquidations and funding are frozen)."""
        return bool(self._ctx.market.stale)

    @property
    def best_bid(self) -> Decimal | None:
        return self._price(self._ctx.book().best_bid())

    @property
    def best_ask(self) -> Decimal | None:
        return self._price(self._ctx.book().best_ask())

    def depth(self, n: int = 5) -> Depth:
        """Top ``n`` levels of each side. O(n)."""
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise invalid("n", "an integer >= 1", n)
        book, spec = self._ctx.book(), self._spec
        side = [tuple((spec.ticks_to_price(p), spec.lots_to_qty(q)) for p, q in book.depth(s, int(n)))
                for s in (0, 1)]
        return Depth(bids=side[0], asks=side[1])

    @property
    def position(self):
        """The account's :class:`~exchange.venue.Position` (``size`` signed, ``entry_price``,
        ``unrealized_pnl``, ``leverage``, ...)."""
        return self._ex.position(self.account, self.symbol)

    @property
    def balance(self):
        """The account's :class:`~exchange.venue.Balance` (``wallet``, ``equity``,
        ``available``, ``maintenance_margin``, ``margin_ratio``)."""
        return self._ex.balance(self.account)

    @property
    def open_orders(self) -> list[OpenOrder]:
        """Orders sent and not finished: in flight (``pending``) or resting in the book now
        (``open``, with the book's open quantity), oldest first."""
        self._resolve()
        spec, core = self._spec, self._core
        out = []
        for o in self._unfinished():
            if o.otype == CONDITIONAL:
                status = "open" if o.venue_id else "pending"
                out.append(OpenOrder(order_id=o.order_id, venue_order_id=o.venue_id,
                                     side=_SIDE_NAMES[o.side], type=o.kind,
                                     price=self._price(o.price_ticks), qty=spec.lots_to_qty(o.qty_lots),
                                     open_qty=spec.lots_to_qty(o.qty_lots), reduce_only=o.reduce_only,
                                     status=status))
                continue
            if o.venue_id:
                if o.code:
                    continue                # refused at the venue (the update may be on its way)
                info = core.order_info(o.venue_id)
                if not info[5] & _F_RESTING:
                    continue
                status, open_lots = "open", int(info[4])
            else:
                status, open_lots = "pending", o.qty_lots
            out.append(OpenOrder(order_id=o.order_id, venue_order_id=o.venue_id,
                                 side=_SIDE_NAMES[o.side], type="LIMIT" if o.otype == LIMIT else "MARKET",
                                 price=self._price(o.price_ticks), qty=spec.lots_to_qty(o.qty_lots),
                                 open_qty=spec.lots_to_qty(open_lots), reduce_only=o.reduce_only,
                                 status=status))
        return out

    def round_price(self, price, side: str | None = None) -> Decimal:
        """``price`` on the tick grid: down for a BUY, up for a SELL, nearest without a side."""
        p = _decimal(price, "price")
        q = p / self.tick_size
        if side is None:
            n = q.to_integral_value()
        else:
            n = q.to_integral_value(ROUND_FLOOR if self._side(side) == 0 else ROUND_CEILING)
        return n * self.tick_size

    def round_qty(self, qty) -> Decimal:
        """``qty`` rounded down to the lot grid (may be 0)."""
        q = _decimal(qty, "qty")
        return (q / self.lot_size).to_integral_value(ROUND_FLOOR) * self.lot_size

    # -- COMMANDS --
    def limit(self, side: str, qty, price, tif: str = "GTC", reduce_only: bool = False) -> int:
        """Send a limit order (``tif`` GTC, IOC, FOK or POST_ONLY/GTX/ALO); returns its id
        (the ``order_id`` of its fills and updates)."""
        s = self._side(side)
        if tif not in _TIFS:
            raise invalid("tif", "one of " + ", ".join(repr(t) for t in _TIFS), tif)
        return self._submit(s, qty, price, LIMIT, _TIFS[tif], reduce_only)

    def market(self, side: str, qty, reduce_only: bool = False) -> int:
        """Send a market order (IOC: the part the book cannot fill expires); returns its id."""
        return self._submit(self._side(side), qty, None, MARKET, IOC, reduce_only)

    def stop_market(self, side: str, qty, stop_price, *, working_type: str = "CONTRACT_PRICE",
                    reduce_only: bool = False, close_position: bool = False) -> int:
        """A stop-market order held by the venue: a SELL fires when the trigger price
        (``working_type``: ``CONTRACT_PRICE`` the last trade, or ``MARK_PRICE``) falls to
        ``stop_price`` or below, a BUY when it rises to it or above; it then sends a market
        order (``close_position``: for the whole position, ``qty`` ignored). Returns its id."""
        return self._conditional("STOP_MARKET", side, qty, None, stop_price, working_type,
                                 reduce_only, close_position)

    def stop_limit(self, side: str, qty, price, stop_price, *,
                   working_type: str = "CONTRACT_PRICE", reduce_only: bool = False) -> int:
        """As :meth:`stop_market`, sending a limit order at ``price`` when it fires."""
        return self._conditional("STOP", side, qty, price, stop_price, working_type,
                                 reduce_only, False)

    def take_profit_market(self, side: str, qty, stop_price, *,
                           working_type: str = "CONTRACT_PRICE", reduce_only: bool = False,
                           close_position: bool = False) -> int:
        """A take-profit market order: a SELL fires when the trigger price rises to
        ``stop_price`` or above, a BUY when it falls to it or below. Returns its id."""
        return self._conditional("TAKE_PROFIT_MARKET", side, qty, None, stop_price,
                                 working_type, reduce_only, close_position)

    def take_profit_limit(self, side: str, qty, price, stop_price, *,
                          working_type: str = "CONTRACT_PRICE", reduce_only: bool = False) -> int:
        """As :meth:`take_profit_market`, sending a limit order at ``price`` when it fires."""
        return self._conditional("TAKE_PROFIT", side, qty, price, stop_price, working_type,
                                 reduce_only, False)

    def trailing_stop(self, side: str, qty, callback_rate, *, activation_price=None,
                      working_type: str = "CONTRACT_PRICE", reduce_only: bool = False) -> int:
        """A trailing-stop market order (``callback_rate`` in percent, 0.1–10): a SELL trails
        the running high of the trigger price from ``activation_price`` (default: the price
        when it reaches the venue) and fires ``callback_rate`` % below it; a BUY trails the
        low. Returns its id."""
        return self._conditional("TRAILING_STOP_MARKET", side, qty, None, None, working_type,
                                 reduce_only, False, callback_rate=callback_rate,
                                 activation_price=activation_price)

    def _conditional(self, otype: str, side, qty, price, stop_price, working_type, reduce_only,
                     close_position, callback_rate=None, activation_price=None) -> int:
        from exchange.venue import Order

        self._check_open()
        s = self._side(side)
        if working_type not in _WORKING_TYPES:
            raise invalid("working_type", "'CONTRACT_PRICE' or 'MARK_PRICE'", working_type)
        for name, v in (("reduce_only", reduce_only), ("close_position", close_position)):
            if type(v) is not bool:
                raise invalid(name, "True or False", v)
        lots = 0
        if not close_position:
            q = _decimal(qty, "qty")
            if q <= 0:
                raise invalid("qty", "> 0", qty)
            lots_f = q / self._spec.lot_size
            lots = int(lots_f) if lots_f == lots_f.to_integral_value() else -1
        ticks = 0
        if price is not None:
            p = _decimal(price, "price")
            if p <= 0:
                raise invalid("price", "> 0", price)
            t = p / self._spec.tick_size
            ticks = int(t) if t == t.to_integral_value() else -1
        if stop_price is not None:
            sp = _decimal(stop_price, "stop_price")
            if sp <= 0:
                raise invalid("stop_price", "> 0", stop_price)
        if callback_rate is not None:
            _decimal(callback_rate, "callback_rate")
        if activation_price is not None and _decimal(activation_price, "activation_price") <= 0:
            raise invalid("activation_price", "> 0", activation_price)
        oid = self._next_id
        self._next_id += 1
        if lots < 0 or ticks < 0:
            reason = RejectReason.INVALID_QTY if lots < 0 else RejectReason.INVALID_PRICE
            self._local.append(OrderUpdate(order_id=oid, venue_order_id=0, ts_ns=self.now,
                                           status="rejected", reason=reason,
                                           detail="not on the instrument's grid",
                                           side=_SIDE_NAMES[s], price=None, qty=None))
            return oid
        order = Order(self.symbol, _SIDE_NAMES[s], None if close_position else qty, price,
                      type=otype, reduce_only=reduce_only, close_position=close_position,
                      stop_price=stop_price, working_type=working_type,
                      callback_rate=callback_rate, activation_price=activation_price)
        o = _Order(oid, s, lots, ticks, CONDITIONAL, reduce_only or close_position, kind=otype)
        self._orders[oid] = self._live[oid] = o
        self._cmds.append((CONDITIONAL, o, order))
        return oid

    def cancel(self, order_id: int) -> None:
        """Cancel an order by the id ``limit`` returned. An order still in flight is canceled
        as soon as the venue's response gives its venue id (one more latency); a cancel of an
        order that is no longer open comes back as ``cancel_rejected`` (UNKNOWN_ORDER)."""
        self._check_open()
        if isinstance(order_id, bool) or not isinstance(order_id, (int, np.integer)):
            raise invalid("order_id", "an order id returned by limit() or market()", order_id)
        o = self._orders.get(int(order_id))
        if o is None:
            self._local.append(OrderUpdate(order_id=int(order_id), venue_order_id=0, ts_ns=self.now,
                                           status="cancel_rejected",
                                           reason=RejectReason.UNKNOWN_ORDER,
                                           detail="not an order of this strategy", side=None,
                                           price=None, qty=None))
            return
        self._resolve()
        if o.otype == CONDITIONAL:
            if o.venue_id:
                self._cmds.append((CONDITIONAL, None, o.venue_id))
            else:
                o.cancel_wanted = True
        elif o.venue_id:
            self._cmds.append((CANCEL, None, o.venue_id))
        else:
            o.cancel_wanted = True          # in flight: canceled when its venue id is known

    def cancel_all(self) -> None:
        """Cancel every order of the strategy that is still open or in flight (orders that
        traded meanwhile are skipped silently)."""
        self._check_open()
        self._resolve()
        for o in self._unfinished():
            if o.otype == CONDITIONAL:
                if o.venue_id:
                    self._cmds.append((CONDITIONAL, None, o.venue_id))
                else:
                    o.cancel_wanted = True
            elif o.venue_id:
                self._cmds.append((CANCEL_IF_OPEN, None, o.venue_id))
            elif o.batch is None or not o.batch.done:
                o.cancel_wanted = True

    # -- plumbing --
    def _unfinished(self) -> list[_Order]:
        """The orders not finished, oldest first; the finished ones leave :attr:`_live` (a
        status never goes back from finished). O(orders not finished at the last look)."""
        live = self._live
        for oid in [oid for oid, o in live.items() if o.done]:
            del live[oid]
        return list(live.values())

    @staticmethod
    def _side(side) -> int:
        if not isinstance(side, str) or side not in _SIDES:
            raise invalid("side", "'BUY' or 'SELL'", side)
        return _SIDES[side]

    def _check_open(self) -> None:
        if self._closed:
            raise InvalidCommandError("orders cannot be sent after the run ended (on_stop)")

    def _submit(self, side: int, qty, price, otype: int, tif: int, reduce_only) -> int:
        self._check_open()
        if type(reduce_only) is not bool:
            raise invalid("reduce_only", "True or False", reduce_only)
        q = _decimal(qty, "qty")
        if q <= 0:
            raise invalid("qty", "> 0", qty)
        p = None
        if otype == LIMIT:
            p = _decimal(price, "price")
            if p <= 0:
                raise invalid("price", "> 0", price)
        if len(self._cmds) >= MAX_COMMANDS_PER_CALLBACK:
            raise InvalidCommandError(f"'orders per callback' must be <= "
                                      f"{MAX_COMMANDS_PER_CALLBACK} (got more)")
        oid = self._next_id
        self._next_id += 1
        spec = self._spec
        lots_f = q / spec.lot_size
        ticks_f = p / spec.tick_size if p is not None else Decimal(0)
        reason = None
        if lots_f != lots_f.to_integral_value():
            reason = RejectReason.INVALID_QTY
        elif ticks_f != ticks_f.to_integral_value():
            reason = RejectReason.INVALID_PRICE
        if reason is not None:
            self._local.append(OrderUpdate(order_id=oid, venue_order_id=0, ts_ns=self.now,
                                           status="rejected", reason=reason,
                                           detail="not on the instrument's grid",
                                           side=_SIDE_NAMES[side], price=p, qty=q))
            return oid
        o = _Order(oid, side, int(lots_f), int(ticks_f), otype, reduce_only)
        self._orders[oid] = self._live[oid] = o
        self._cmds.append((SUBMIT, o, tif))
        return oid

    def _flush(self) -> None:
        """Send the commands of this callback as one batch (arrival = now + latency)."""
        cmds = self._cmds
        if not cmds:
            return
        self._cmds = []
        now = self.now
        arrive = now + self.latency_ns
        cond = [c for c in cmds if c[0] == CONDITIONAL]
        if cond:
            # conditional orders live in the venue's trigger book, not the matching engine:
            # they reach the venue's order API after the same latency
            cmds = [c for c in cmds if c[0] != CONDITIONAL]
            clock = self._ctx.clock
            for _, o, extra in cond:
                clock.schedule(arrive, PRIO_ARRIVAL, self._on_conditional_arrival, o, extra)
            self._agent._expect_response(arrive + self.latency_ns)
            if not cmds:
                return
        n = len(cmds)
        kind = np.empty(n, np.int64)
        side = np.zeros(n, np.int64)
        qty = np.zeros(n, np.int64)
        price = np.zeros(n, np.int64)
        otype = np.zeros(n, np.int64)
        tif = np.zeros(n, np.int64)
        ro = np.zeros(n, np.int64)
        target = np.zeros(n, np.int64)
        for i, (k, o, extra) in enumerate(cmds):
            kind[i] = k
            if k == SUBMIT:
                side[i], qty[i], price[i], otype[i] = o.side, o.qty_lots, o.price_ticks, o.otype
                tif[i], ro[i] = extra, int(o.reduce_only)
            else:
                target[i] = extra
        batch = OrderBatch(np.full(n, arrive, np.int64), self.account, kind=kind, side=side,
                           qty=qty, price=price, otype=otype, tif=tif, reduce_only=ro,
                           target=target)
        for i, (k, o, _) in enumerate(cmds):
            if k == SUBMIT:
                o.batch, o.row = batch, i
                self._unresolved.append(o)
        self._ctx.send(batch)
        self._agent._expect_response(arrive + self.latency_ns)

    def _on_conditional_arrival(self, ts: int, o: _Order | None, what) -> None:
        """A conditional order (``what``: the venue Order) or the cancel of one (``o`` None,
        ``what`` its venue id) reaches the venue."""
        ex = self._ex
        if o is None:
            ex.cancel(self.account, int(what))
            return
        seq0 = self._core.seq
        # the venue's records may reach _dispatch during the submit (when they are already
        # due): it binds them to this order then
        self._arriving, self._arriving_seq = o, seq0
        try:
            events = ex.submit(self.account, what)
        finally:
            self._arriving = None
        for e in events:
            if e.name == "ConditionalOrderAccepted":
                self._bind(o, int(e.order_id))
                if o.cancel_wanted:
                    o.cancel_wanted = False
                    ex.cancel(self.account, o.venue_id)
                return
        for e in events:
            if e.name == "OrderRejected" and e.seq > seq0:
                o.code = int(e.reason)
                if o.status == "pending":       # not reported yet (see _dispatch)
                    self._reject_seq[int(e.seq)] = o
                return

    def _bind(self, o: _Order, venue_id: int) -> None:
        o.venue_id = venue_id
        self._by_venue[venue_id] = o

    def _resolve(self) -> None:
        """Learn the venue ids of orders whose batch was delivered; send wanted cancels."""
        if not self._unresolved:
            return
        keep = []
        for o in self._unresolved:
            b = o.batch
            if not b.done:
                keep.append(o)
                continue
            o.venue_id = int(b.oid[o.row])
            o.code = int(b.code[o.row])
            if o.venue_id:
                self._by_venue[o.venue_id] = o
            if o.cancel_wanted:
                o.cancel_wanted = False
                if o.code == 0:
                    self._cmds.append((CANCEL_IF_OPEN, None, o.venue_id))
        self._unresolved = keep

    def _cycle(self, fn, *args) -> None:
        """Run one callback, then the refusals it caused, then send what they ordered."""
        fn(*args)
        strategy = self._agent.strategy
        for _ in range(1000):
            if not self._local:
                break
            notes, self._local = self._local, []
            for note in notes:
                strategy.on_order(self, note)
        self._resolve()
        self._flush()

    def _dispatch(self, rows: np.ndarray) -> None:
        """Turn this account's records into callbacks, in stream order: each order record
        moves the venue's order state (:class:`~exchange.orderstate.Orders`), whose
        transition gives the callback."""
        self._resolve()
        strategy = self._agent.strategy
        spec = self._spec
        me = self.account
        names = rows.dtype.names
        venue = self._venue_orders
        by_venue = self._by_venue
        # a triggered conditional order's child is sent (and may fill) before the trigger
        # record: the projection learns the child ids first so its fills belong to the order
        venue.prelink_records(rows)
        for i, rec in enumerate(rows.tolist()):
            r = dict(zip(names, rec, strict=False))
            kind, ts = r["kind"], r["ts"]
            mine = r["acct"] == me
            if kind >= _K_COND_ACCEPTED and kind <= _K_COND_CANCELED and mine:
                st = venue.apply_row(r)
                o = by_venue.get(r["oid"])
                if o is None and kind == _K_COND_ACCEPTED and self._arriving is not None \
                        and r["seq"] > self._arriving_seq:
                    o = self._arriving          # delivered during its own submit
                    self._bind(o, r["oid"])
                if o is None:
                    continue
                if kind == _K_COND_ACCEPTED:
                    o.status = "accepted"
                    strategy.on_order(self, self._update(o, r, "accepted", None, "conditional"))
                elif kind == _K_COND_CANCELED:
                    o.status = "canceled"
                    strategy.on_order(self, self._update(o, r, "canceled", None, "user"))
                else:
                    # it sent nothing (close_position with no position left): it expired
                    if st.status == _S_EXPIRED if st is not None else r["qty"] == 0:
                        o.status = "expired"
                    strategy.on_order(self, self._update(o, r, "triggered", None,
                                                         f"at {self._price(r['price'])}"))
                continue
            if kind == _K_REJECTED and (r["seq"] in self._reject_seq or (
                    mine and self._arriving is not None and r["seq"] > self._arriving_seq
                    and r["oid"] == 0 and r["flag"] == _SUBMIT_REFUSED)):
                o = self._reject_seq.pop(r["seq"], None) or self._arriving
                o.status = "rejected"
                strategy.on_order(self, self._update(o, r, "rejected", _reason(r["code"]), ""))
                continue
            if kind == _K_FILLED and mine:
                oid = r["oid"]
                st = venue.filled(ts, oid, r["price"], r["qty"], r["a1"], r["a2"], r["flag"])
                o = by_venue.get(st.parent_id or oid if st is not None else venue.root_id(oid))
                remaining = None
                if o is not None:
                    filled = st.filled_lots if st is not None else r["qty"]
                    left = max(0, o.qty_lots - filled)
                    remaining = spec.lots_to_qty(left)
                    if left == 0 and not o.done:
                        o.status = "filled"
                strategy.on_fill(self, Fill(
                    order_id=o.order_id if o else None, venue_order_id=r["oid"], ts_ns=ts,
                    side=_SIDE_NAMES[r["side"]], price=spec.ticks_to_price(r["price"]),
                    qty=spec.lots_to_qty(r["qty"]), fee=self._money(r["a1"]),
                    realized_pnl=self._money(r["a2"]), taker=bool(r["flag"]),
                    liquidation=o is None, remaining=remaining))
            elif kind == _K_ACCEPTED and mine:
                oid = r["oid"]
                st = venue.accepted(ts, me, oid, r["instr"], r["side"], r["price"], r["qty"],
                                    r["a1"], r["a2"], r["a3"], r["flag"])
                o = by_venue.get(st.parent_id or oid if st is not None else venue.root_id(oid))
                if o is None:
                    continue                    # the venue's liquidation order
                if o.status == "pending":
                    o.status = "accepted"
                strategy.on_order(self, self._update(o, r, "accepted", None, ""))
            elif kind == _K_REJECTED and mine:
                venue.apply_row(r)
                o = by_venue.get(venue.root_id(r["oid"]))
                reason = _reason(r["code"])
                if r["flag"] == _CANCEL_REFUSED:
                    strategy.on_order(self, OrderUpdate(
                        order_id=o.order_id if o else None, venue_order_id=r["oid"], ts_ns=ts,
                        status="cancel_rejected", reason=reason, detail="order not open",
                        side=None, price=None, qty=None))
                elif o is not None:
                    o.status = "rejected"
                    strategy.on_order(self, self._update(o, r, "rejected", reason, ""))
            elif kind == _K_CANCELED and mine:
                oid = r["oid"]
                st = venue.canceled(ts, oid, r["code"])
                o = by_venue.get(st.parent_id or oid if st is not None else venue.root_id(oid))
                if o is None:
                    continue
                status, detail = _CANCEL_DETAIL.get(r["code"], ("canceled", "venue"))
                if st is not None:
                    status = _STATUS_WORDS[st.status]
                o.status = status
                strategy.on_order(self, OrderUpdate(
                    order_id=o.order_id, venue_order_id=o.venue_id, ts_ns=ts, status=status,
                    reason=None, detail=detail, side=_SIDE_NAMES[o.side],
                    price=self._price(o.price_ticks), qty=spec.lots_to_qty(r["qty"])))
            elif kind == _K_AMENDED and mine:
                venue.apply_row(r)
            elif kind == _K_FUNDING_PAID:
                strategy.on_funding(self, FundingUpdate(
                    ts_ns=ts, amount=self._money(r["a1"]),
                    rate=Decimal(r["a2"]).scaleb(-8), position=spec.lots_to_qty(r["qty"])))
            elif kind in _LIQ_KINDS or kind == _K_TRANSFERRED:
                ev = ev_mod.materialize(rows[i:i + 1])[0]
                strategy.on_liquidation(self, LiquidationUpdate(
                    name=ev.name, ts_ns=ts, price=self._price(r["price"]),
                    qty=spec.lots_to_qty(r["qty"]) if r["qty"] else None, event=ev))

    def _update(self, o: _Order, r: dict, status: str, reason, detail: str) -> OrderUpdate:
        spec = self._spec
        return OrderUpdate(order_id=o.order_id, venue_order_id=o.venue_id, ts_ns=r["ts"],
                           status=status, reason=reason, detail=detail, side=_SIDE_NAMES[o.side],
                           price=self._price(o.price_ticks), qty=spec.lots_to_qty(o.qty_lots))

    def _money(self, atoms: int) -> Decimal:
        return Decimal(int(atoms)).scaleb(-int(self._spec.settle_decimals))


def _reason(code: int) -> RejectReason | None:
    try:
        return RejectReason(int(code))
    except ValueError:
        return None


def _decimal(value, field: str) -> Decimal:
    if isinstance(value, bool) or value is None:
        raise invalid(field, "a decimal number", value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise invalid(field, "a finite number", value)
        value = repr(value)
    elif isinstance(value, np.floating):
        if not np.isfinite(value):
            raise invalid(field, "a finite number", value)
        value = repr(float(value))
    if isinstance(value, np.integer):
        value = int(value)
    try:
        d = Decimal(value) if isinstance(value, (str, int, Decimal)) else None
    except InvalidOperation:
        d = None
    if d is None:
        raise invalid(field, "a decimal number", value)
    if not d.is_finite():
        raise invalid(field, "a finite number", value)
    return d
