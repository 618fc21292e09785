"""The orders of record: Binance's view of every order (ids, client ids, status, fills, algo
orders), trades, income and the history series, brought up to date from the venue's records
whoever caused them (a request, the simulator's agents, the liquidation engine).
"""
from __future__ import annotations

from decimal import Decimal

import heapq

import attrs
import numpy as np

from exchange import events as ev_mod
from exchange._enums import RejectedCommand
from exchange.orderstate import OrderState
from exchange.server.clock import now_ms
from exchange.server.errors import BinanceError
from exchange.server.params import int_param
from exchange.server.payloads import dec
from exchange.units import RATE_SCALE

#: Binance's order retention (USDⓈ-M "Query Order", https://developers.binance.com/docs/
#: derivatives/usds-margined-futures/trade/rest-api/Query-Order, read 2026-12-03): an order is
#: not found once it ended CANCELED or EXPIRED with no fill and was placed more than 3 days
#: ago, or was placed more than 90 days ago
UNFILLED_RETENTION_MS = 3 * 86_400_000
RETENTION_MS = 90 * 86_400_000
#: allOrders without startTime/endTime: the last 7 days (its window is at most 7 days)
ALL_ORDERS_WINDOW_MS = 7 * 86_400_000


@attrs.frozen
class Count:
    """An ``itertools.count`` in a snapshot: its next value."""

    n: int


@attrs.define
class OrderRecord:
    """Binance's view of one order: its Binance ids, names and request fields; its progress
    (status, executed quantity, cumulative quote, update time) is read from ``state``, the
    order's :class:`~exchange.orderstate.OrderState` in the server's projection (a legacy
    conditional's: its triggered order's once that is accepted)."""

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
    state: OrderState | None = None
    expired: bool = False           # a legacy conditional whose triggered order was refused
    activation_ticks: int = 0
    callback_rate: str | None = None
    stp: str = "NONE"
    venue_oid: int = 0
    orig_type: str = ""
    algo: bool = False              # placed through the Algo Order API (/fapi/v1/algoOrder)
    actual_order_id: int = 0        # algo: the order created when it triggered
    trigger_ms: int = 0
    algo_status: str = ""           # algo: FINISHED / REJECTED once its order ended or was refused
    reject_reason: str = ""         # algo: why the matching engine refused its order ("rm")
    parent_algo: int = 0            # the algo order (Binance id) that placed this one
    good_till: int = 0              # GTD: the ms it expires at
    price_match: str = "NONE"       # the priceMatch mode that priced it

    @property
    def status(self) -> str:
        """Binance's status: the projection's, except that a legacy conditional (same order
        id before and after its trigger) shows NEW until its triggered order moves, and
        EXPIRED when that order was refused."""
        if self.expired:
            return "EXPIRED"
        if self.algo_status:
            return self.algo_status
        s = self.state
        if s is None:
            return "NEW"
        name = s.status_name
        return "NEW" if name == "TRIGGERED" and not self.algo else name

    @property
    def executed_lots(self) -> int:
        return self.state.filled_lots if self.state is not None else 0

    @property
    def quote_ticklots(self) -> int:
        """Cumulative quote in tick·lots (× tick size × lot size: the quote amount)."""
        return self.state.cum_quote if self.state is not None else 0

    @property
    def update_ms(self) -> int:
        return self.state.ts_updated_ns // 1_000_000 if self.state is not None else self.time_ms


def _reject_reason(reason: int) -> str:
    """An algo order's ``rm``: why the matching engine refused the order it placed (Binance:
    "Reduce Only reject", ...)."""
    from exchange.codes import RejectReason
    from exchange.server.errors import REJECTS

    if reason == RejectReason.REDUCE_ONLY_WOULD_INCREASE:
        return "Reduce Only reject"
    if reason in REJECTS:
        return REJECTS[reason][1]
    return f"Rejected: reason {reason}"


class OrdersOfRecord:
    """Applying venue events to the orders of record and querying them. A part of
    :class:`~exchange.server.binance.MockBinance`, whose state it shares.

    An order's progress (filled quantity, cumulative quote, status, what the last
    transition was) is the venue's order-state projection's, :class:`exchange.orderstate.Orders`
    (``_order_states``, the same one the strategy API reads), copied into the Binance
    record (:class:`OrderRecord`: Binance's ids, names and request fields) at each
    transition. Records exist for the orders the server's clients placed, the orders their
    triggered algo orders placed, and liquidation orders; other accounts' orders (the
    simulator's agents behind a scenario server) have none: their fills still make the
    public trades."""

    def _on_records(self, records) -> None:
        self._apply(ev_mod.materialize(records))

    def _apply(self, events: list) -> None:
        """Bring the order book of record, trades and streams up to date with venue events."""
        touched: dict[int, set[int]] = {}           # account -> instruments whose position moved
        reasons: dict[int, str] = {}
        calls: list = []
        now = now_ms()
        states = self._order_states
        states.prelink_events(events)               # a trigger's child belongs to its parent
        ts_ns = now * 1_000_000
        # algo orders whose order ended (FINISHED) or was refused (REJECTED) in this batch:
        # their status moves after the batch's own updates (TRIGGERED first, as Binance's)
        self._algo_done = algo_done = {}
        # the venue reports a trigger after the order it placed: link them first
        for e in events:
            if e.name == "ConditionalOrderTriggered":
                o = self._by_venue.get(e.order_id)
                if o is not None and o.algo:        # the algo order ends; a new order starts
                    o.trigger_ms = now
                    self._algo_child[e.child_order_id] = o
                elif o is not None:                 # legacy conditional: same order id
                    o.venue_oid = e.child_order_id
                    self._by_venue[e.child_order_id] = o
        for e in events:
            name = e.name
            st = states.apply_event(e, ts_ns)      # None: not an order event, or no change
            if name == "OrderAccepted":
                self._on_accepted(e, st, now)
            elif name == "ConditionalOrderAccepted":
                self._on_conditional_accepted(e, st, now)
            elif name == "ConditionalOrderTriggered":
                o = self._by_venue.get(e.order_id)
                if o is not None and o.algo and algo_done.get(o.order_id, ("", ""))[1] != "REJECTED":
                    self._push_order(o, "TRIGGERED", now)
            elif name == "OrderFilled":
                self._on_fill(e, now)
                touched.setdefault(e.account, set()).add(e.instrument)
                reasons.setdefault(e.account, "ORDER")
            elif name in ("OrderCanceled", "ConditionalOrderCanceled"):
                self._on_canceled(e, st, now)
            elif name == "OrderAmended":
                o = self._by_venue.get(e.order_id)
                if o is not None and st is not None:
                    o.price_ticks, o.orig_lots = st.price_ticks, st.orig_lots
                    self._push_order(o, st.exec_name, now)
            elif name == "OrderRejected":
                # a refused submit of an order that has a record (a triggered order's child)
                # ends it; a refused amend or cancel leaves the order as it was (Binance:
                # "amendment will be rejected and the order will stay as it is")
                o = (self._by_venue.get(e.order_id)
                     if e.order_id and e.command == RejectedCommand.SUBMIT_ORDER else None)
                parent = (self._algo_child.pop(e.order_id, None)
                          if o is None and e.order_id and e.command == RejectedCommand.SUBMIT_ORDER
                          else None)
                if parent is not None:              # a triggered algo order's order was refused
                    algo_done[parent.order_id] = (parent, "REJECTED", _reject_reason(e.reason))
                if o is not None and o.status in ("NEW", "PARTIALLY_FILLED"):
                    o.expired = True
                    self._ended(o)
                    self._push_order(o, "EXPIRED", now)
            elif name == "MarkPriceUpdated":
                self._record_mark(e, now)
                self._push_mark(e.instrument, now)
            elif name == "FundingSettled":           # by the host or the simulator's scheduler
                spec = self.venue.specs[e.instrument]
                rate = Decimal(e.rate) / RATE_SCALE
                self._last_rate[e.instrument] = dec(rate)
                self._funding[e.instrument].append({
                    "symbol": spec.symbol, "fundingRate": f"{rate:.8f}", "fundingTime": now,
                    "markPrice": dec(spec.ticks_to_price(e.price_ticks))})
            elif name == "MarginCall":
                calls.append(e)
            elif name == "PositionTransferred":             # ADL, liquidation transfers
                for a, realized in ((e.from_account, e.from_realized_atoms),
                                    (e.to_account, e.to_realized_atoms)):
                    touched.setdefault(a, set()).add(e.instrument)
                    reasons.setdefault(a, "ADL")
                    if realized:                            # closed at the transfer price
                        self._add_income(a, e.instrument, "REALIZED_PNL",
                                         self.venue._from_atoms(realized), now)
            elif name == "LedgerMoved":
                for a in self._on_ledger(e, now):
                    touched.setdefault(a, set())
                    reasons.setdefault(a, "INSURANCE_CLEAR")
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
        for parent, status, reason in algo_done.values():
            parent.algo_status, parent.reject_reason = status, reason
            self._push_order(parent, status, now)
        self._flush_agg()
        self._drain_books_live()
        self._retire(now)
        for acct in sorted(a for a in touched if a >= 0):
            self._push_account(acct, now, reasons.get(acct, "ORDER"), touched[acct])
        moved = set().union(*touched.values()) if touched else set()
        if self._stats_unstarted:                  # the state they start from
            moved |= self._stats_unstarted
            self._stats_unstarted = set()
        if moved:
            self._record_stats(moved, now)
        if self._market_dirty:
            self._flush_market()
        for e in calls:
            self._push_margin_call(e, now)

    def _on_accepted(self, e, st: OrderState | None, now: int) -> None:
        legacy = self._by_venue.get(e.order_id)
        if legacy is not None:                      # a triggered legacy conditional's order:
            legacy.state = st                       # the record follows it from now on
            return
        origin = self._pending_origin
        spec = self.venue.specs[e.instrument]
        parent = self._algo_child.pop(e.order_id, None)
        if parent is not None:                      # the order a triggered algo order placed
            market = parent.type in ("STOP_MARKET", "TAKE_PROFIT_MARKET", "TRAILING_STOP_MARKET")
            o = OrderRecord(order_id=next(self._next_order_id), account=e.account, instr=e.instrument,
                       symbol=spec.symbol, client_id=parent.client_id, side=parent.side,
                       type="MARKET" if market else "LIMIT", tif=parent.tif,
                       orig_lots=e.qty_lots, price_ticks=0 if market else e.price_ticks,
                       stop_ticks=parent.stop_ticks, reduce_only=bool(e.reduce_only),
                       close_position=parent.close_position, working_type=parent.working_type,
                       time_ms=now, state=st, stp=parent.stp, venue_oid=e.order_id,
                       orig_type=parent.type)
            parent.actual_order_id = o.order_id
            o.parent_algo = parent.order_id
            self._register(o)
            self._push_order(o, "NEW", now)
            return
        if origin is not None and origin["account"] == e.account and not e.liquidation \
                and not origin.get("bound"):
            origin["bound"] = True
            o = OrderRecord(order_id=next(self._next_order_id), account=e.account, instr=e.instrument,
                       symbol=spec.symbol, client_id=origin["client_id"], side=origin["side"],
                       type=origin["type"], tif=origin["tif"], orig_lots=e.qty_lots,
                       price_ticks=e.price_ticks if origin["type"] != "MARKET" else 0,
                       stop_ticks=0, reduce_only=bool(e.reduce_only),
                       close_position=False, working_type=origin["working_type"], time_ms=now,
                       state=st, stp=origin["stp"], venue_oid=e.order_id,
                       orig_type=origin["type"], good_till=origin.get("good_till", 0),
                       price_match=origin.get("price_match", "NONE"))
            origin["order"] = o
            if o.good_till:
                heapq.heappush(self._good_till, (o.good_till, o.order_id))
        elif e.liquidation:                          # the venue's own orders
            o = OrderRecord(order_id=next(self._next_order_id), account=e.account, instr=e.instrument,
                       symbol=spec.symbol, client_id=f"autoclose-{e.order_id}",
                       side="BUY" if e.side == 0 else "SELL", type="LIMIT", tif="IOC",
                       orig_lots=e.qty_lots, price_ticks=e.price_ticks, stop_ticks=0,
                       reduce_only=True, close_position=False, working_type="CONTRACT_PRICE",
                       time_ms=now, state=st, venue_oid=e.order_id, orig_type="LIQUIDATION")
            if self._keyed(e.account):                # forceOrders answers its key's owner
                forced = self._force_orders.setdefault(e.account, [])
                forced.append(o)
                if len(forced) > 10_000:
                    del forced[:5_000]
        else:                                        # another account's order: no record
            return
        self._register(o)
        self._push_order(o, "NEW", now)

    def _on_conditional_accepted(self, e, st: OrderState | None, now: int) -> None:
        origin = self._pending_origin
        spec = self.venue.specs[e.instrument]
        if origin is None or origin["account"] != e.account:
            return
        origin["bound"] = True
        o = OrderRecord(order_id=next(self._next_order_id), account=e.account, instr=e.instrument,
                   symbol=spec.symbol, client_id=origin["client_id"], side=origin["side"],
                   type=origin["type"], tif=origin["tif"], orig_lots=e.qty_lots,
                   price_ticks=e.limit_ticks, stop_ticks=e.trigger_ticks,
                   reduce_only=origin["reduce_only"], close_position=origin["close_position"],
                   working_type=origin["working_type"], time_ms=now, state=st,
                   stp=origin["stp"], venue_oid=e.order_id, orig_type=origin["type"],
                   activation_ticks=origin.get("activation_ticks", 0),
                   callback_rate=origin.get("callback_rate"), algo=origin.get("algo", False))
        origin["order"] = o
        self._register(o)
        self._push_order(o, "NEW", now)

    def _register(self, o: OrderRecord) -> None:
        self._orders[o.order_id] = o
        self._by_venue[o.venue_oid] = o
        self._by_client[(o.account, o.client_id, o.algo)] = o

    def _ended(self, o: OrderRecord) -> None:
        """Note an order that ended: an unfilled CANCELED/EXPIRED one is retired 3 days after
        it was placed (:meth:`_retire`)."""
        if o.executed_lots == 0 and o.status in ("CANCELED", "EXPIRED"):
            self._retiring.append((o.time_ms, o.order_id))

    @staticmethod
    def _retained(o: OrderRecord, now: int) -> bool:
        """Whether Binance still finds ``o`` at ``now`` (ms): not past 90 days, and not an
        unfilled CANCELED/EXPIRED order past 3 days. O(1)."""
        if o.time_ms + RETENTION_MS < now:
            return False
        return not (o.executed_lots == 0 and o.status in ("CANCELED", "EXPIRED")
                    and o.time_ms + UNFILLED_RETENTION_MS < now)

    def _retire(self, now: int) -> None:
        """Drop the orders Binance no longer finds (:meth:`_retained`), so that a server that
        runs for days keeps its order history bounded as Binance's is. Amortized O(1) per
        order: the unfilled ended ones in the order they ended, the rest oldest first."""
        retiring = self._retiring
        while retiring and retiring[0][0] + UNFILLED_RETENTION_MS < now:
            self._drop(self._orders.get(retiring.popleft()[1]))
        orders = self._orders
        while orders:
            o = next(iter(orders.values()))
            if o.time_ms + RETENTION_MS >= now:
                break
            self._drop(o)

    def _drop(self, o: OrderRecord | None) -> None:
        if o is None:
            return
        self._orders.pop(o.order_id, None)
        self._amendments.pop(o.order_id, None)
        if self._by_venue.get(o.venue_oid) is o:
            del self._by_venue[o.venue_oid]
        key = (o.account, o.client_id, o.algo)
        if self._by_client.get(key) is o:
            del self._by_client[key]

    def _keyed(self, acct: int) -> bool:
        """Whether an API key of the server trades ``acct``. O(keys)."""
        return any(c.account == acct for c in self._keys.values())

    def _forget(self, o: OrderRecord) -> None:
        """Drop a finished liquidation order of an account without a key: its fills are in
        the public trades and forceOrder streams, and no client can query it."""
        if o.status in ("FILLED", "CANCELED", "EXPIRED") and o.orig_type == "LIQUIDATION" \
                and not self._keyed(o.account):
            self._orders.pop(o.order_id, None)
            self._by_venue.pop(o.venue_oid, None)
            self._by_client.pop((o.account, o.client_id, o.algo), None)

    def _on_fill(self, e, now: int) -> None:
        spec = self.venue.specs[e.instrument]
        price = spec.ticks_to_price(e.price_ticks)
        qty = spec.lots_to_qty(e.qty_lots)
        o = self._by_venue.get(e.order_id)
        # one trade, one id: the maker's and the taker's fill of a match (two events, one
        # after the other, each naming the other's order) share it, as on Binance, where
        # both sides' userTrades and the public trade carry the same id
        key = (e.instrument, e.order_id, e.counter_order_id, e.price_ticks, e.qty_lots)
        pair = self._fill_pair
        if pair is not None and e.counter_order_id and pair[0] == (
                e.instrument, e.counter_order_id, e.order_id, e.price_ticks, e.qty_lots):
            trade_id, self._fill_pair = pair[1], None
        else:
            trade_id = next(self._trade_ids)
            self._fill_pair = (key, trade_id) if e.counter_order_id else None
        fee = self.venue._from_atoms(e.fee_atoms)
        pnl = self.venue._from_atoms(e.realized_pnl_atoms)
        side = "BUY" if e.side == 0 else "SELL"
        if pnl:
            self._add_income(e.account, e.instrument, "REALIZED_PNL", pnl, now, trade_id)
        if fee:
            # a liquidation order's fee is the liquidation clearance fee, paid to the
            # insurance fund (INSURANCE_CLEAR, with what the fund hands back: _on_ledger)
            liq = o is not None and o.orig_type == "LIQUIDATION"
            self._add_income(e.account, e.instrument, "INSURANCE_CLEAR" if liq else "COMMISSION",
                             -fee, now, trade_id)
        self._user_trades.setdefault(e.account, []).append({
            "buyer": side == "BUY", "commission": dec(fee), "commissionAsset": self.settle_asset,
            "id": trade_id, "maker": not e.taker, "orderId": o.order_id if o else e.order_id,
            "price": dec(price), "qty": dec(qty), "quoteQty": dec(price * qty),
            "realizedPnl": dec(pnl), "side": side, "positionSide": "BOTH",
            "symbol": spec.symbol, "time": now})
        if o is not None:
            self._push_order(o, "TRADE", now, last=(price, qty, fee, pnl, trade_id, not e.taker))
            self._child_moved(o)
        if o is not None and o.orig_type == "LIQUIDATION":
            self._push_force_order(o, qty, now)
            self._forget(o)
        if e.taker:
            self._trade_series[e.instrument].add(now, price, qty, side == "BUY", trade_id)
            self._stats[e.instrument].add_trade(now, qty, side == "BUY")
            self._market_dirty.add(e.instrument)
            sym = spec.symbol.lower()
            if self.hub.has(f"{sym}@trade"):
                # Binance USDⓈ-M trade stream ("X": MARKET for trades of the order book)
                self.hub.publish(f"{sym}@trade", {
                    "e": "trade", "E": now, "T": now, "s": spec.symbol, "t": trade_id,
                    "p": dec(price), "q": dec(qty), "X": "MARKET", "m": side == "SELL"})
            trades = self._trades[e.instrument]
            trades.append({"id": trade_id, "price": dec(price), "qty": dec(qty),
                           "quoteQty": dec(price * qty), "time": now,
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

    #: LedgerMoved between an account and the venue's pools, as income (``info`` says which)
    _LEDGER_INFO = {("in", 0): "LIQUIDATION_FEE_REFUND", ("in", 4): "INSURANCE_FUND_COVER",
                    ("in", 3): "BACKSTOP", ("in", 5): "SOCIALIZED_LOSS", ("in", 6): "ADL",
                    ("in", 2): "KEEPER_REWARD", ("out", 5): "SOCIALIZED_LOSS",
                    ("out", 6): "ADL", ("out", 3): "BACKSTOP", ("out", 4): "INSURANCE_FUND",
                    ("out", 2): "AUCTION"}

    def _on_ledger(self, e, now: int) -> list[int]:
        """Money the liquidation machinery moved into or out of an account's wallet or
        isolated bucket from or to the venue's pools (the insurance fund, bad debt, the fee
        pool) or another account: the liquidation fee handed back where it would take the
        account below zero, the fund's cover of a bankrupt account, a haircut, a keeper's
        reward. Booked as income (INSURANCE_CLEAR, ``info`` naming it) so that the income
        history adds up to the wallet; a move between an account's own wallet and bucket
        is not income. Returns the accounts whose money moved."""
        from exchange.liquidation.context import L_ISOLATED

        if e.from_account == e.to_account:
            return []
        out = []
        amt = self.venue._from_atoms(e.amount_atoms)
        for side, a, kind, sign in (("in", e.to_account, e.to_kind, 1),
                                    ("out", e.from_account, e.from_kind, -1)):
            if a < 0 or kind > L_ISOLATED or not amt:
                continue
            self._add_income(a, e.instrument if e.instrument >= 0 else None, "INSURANCE_CLEAR",
                             sign * amt, now,
                             info=self._LEDGER_INFO.get((side, e.reason), "INSURANCE_CLEAR"))
            out.append(a)
        return out

    def _add_income(self, acct: int, instr, kind: str, amount: Decimal, now: int,
                    trade_id: int | None = None, info: str | None = None) -> None:
        if acct < 0:
            return
        if kind == "REALIZED_PNL" and instr is not None:   # ACCOUNT_UPDATE's "cr"
            key = (acct, instr)
            self._realized[key] = self._realized.get(key, Decimal(0)) + amount
        rows = self._income.setdefault(acct, [])
        rows.append({"symbol": self.venue.symbols[instr] if instr is not None else "",
                     "incomeType": kind, "income": dec(amount), "asset": self.settle_asset,
                     "info": info or kind, "time": now, "tranId": next(self._tran_ids),
                     "tradeId": str(trade_id) if trade_id is not None else ""})
        if len(rows) > 200_000:
            del rows[:100_000]

    def _flush_agg(self) -> None:
        agg, self._agg = self._agg, None
        if not agg:
            return
        (instr, _, _), price, qty, first, last, buyer_maker, now = agg
        symbol = self.venue.symbols[instr]
        row = {"a": next(self._agg_ids), "p": dec(price), "q": dec(qty), "f": first, "l": last,
               "T": now, "m": buyer_maker}
        rows = self._agg_trades[instr]
        rows.append(row)
        if len(rows) > 100_000:
            del rows[:50_000]
        self.hub.publish(f"{symbol.lower()}@aggTrade", {"e": "aggTrade", "E": now, "s": symbol,
                                                        **row})

    def _on_canceled(self, e, st: OrderState | None, now: int) -> None:
        # the projection's status: EXPIRED for an IOC/market remainder, a self-trade
        # prevention or a liquidation order, else CANCELED; None when the order had
        # already finished (or triggered), which changes nothing
        o = self._by_venue.get(e.order_id)
        if o is None or st is None:
            return
        self._ended(o)
        self._push_order(o, st.exec_name, now)
        self._child_moved(o)
        self._forget(o)

    def _child_moved(self, o: OrderRecord) -> None:
        """An algo order's order that ended (filled, cancelled, expired) finishes it."""
        if o.parent_algo and o.status in ("FILLED", "CANCELED", "EXPIRED"):
            parent = self._orders.get(o.parent_algo)
            if parent is not None and not parent.algo_status:
                self._algo_done[parent.order_id] = (parent, "FINISHED", "")

    def _record_stats(self, instrs, now: int) -> None:
        """Record the positioning of ``instrs`` now (:class:`~exchange.server.history.PositionStats`):
        open interest (the long lots), the accounts net long and net short, and the same of
        the top traders: of the accounts holding a position on the instrument, the fifth
        (at least one) with the largest margin balance (wallet + isolated margin + uPnL at
        the mark, all instruments; Binance: "the top 20% users with the highest margin
        balance"). O(accounts · instruments) per call."""
        from exchange.liquidation.margin_view import MarginView

        liq = self.venue.liquidation
        v = liq.view if liq is not None else MarginView(self.venue.core)
        v.refresh()
        for i in sorted(instrs):
            if not 0 <= i < len(self._stats):
                continue
            s = v.size[i]
            held = np.flatnonzero(s)
            if not len(held):
                self._stats[i].record(now, (0, 0, 0, 0, 0, 0, 0))
                continue
            sz = s[held]
            long = sz > 0
            balance = v.wallet[held] + sum(v.iso[j, held] + v.upnl(j, held) for j in range(v.n_instr))
            top = sz[np.argsort(-balance, kind="stable")[:max(1, -(-len(held) // 5))]]
            self._stats[i].record(now, (
                int(sz[long].sum()), int(long.sum()), int((~long).sum()),
                int((top > 0).sum()), int((top < 0).sum()), int(top[top > 0].sum()),
                int(-top[top < 0].sum())))

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

    def _find(self, acct: int, params: dict, unknown_code: int) -> OrderRecord:
        i = self._instr(params)
        o = None
        if params.get("orderId"):
            oid = int_param(params, "orderId")
            o = self._orders.get(oid)
        elif params.get("origClientOrderId"):
            o = self._by_client.get((acct, params["origClientOrderId"], False))
        else:
            raise BinanceError(-1102, "Either orderId or origClientOrderId must be sent.")
        if o is None or o.account != acct or o.instr != i or o.algo \
                or not self._retained(o, now_ms()):
            raise BinanceError(unknown_code, "Order does not exist." if unknown_code == -2013
                               else "Unknown order sent.")
        return o

    def _find_algo(self, acct: int, params: dict, unknown_code: int) -> OrderRecord:
        if params.get("algoId"):
            o = self._orders.get(int_param(params, "algoId"))
        elif params.get("clientAlgoId"):
            o = self._by_client.get((acct, params["clientAlgoId"], True))
        else:
            raise BinanceError(-1102, "Either algoId or clientAlgoId must be sent.")
        if o is None or o.account != acct or not o.algo:
            raise BinanceError(unknown_code, "Order does not exist." if unknown_code == -2013
                               else "Unknown order sent.")
        return o

    def _algos(self, acct: int, instr: int | None, open_only: bool) -> list[OrderRecord]:
        return [o for o in self._orders.values() if o.algo and o.account == acct
                and (instr is None or o.instr == instr) and (o.status == "NEW" or not open_only)]

    def _open(self, acct: int, instr: int | None) -> list[OrderRecord]:
        return [o for o in self._orders.values()
                if o.account == acct and not o.algo and o.status in ("NEW", "PARTIALLY_FILLED")
                and (instr is None or o.instr == instr)]
