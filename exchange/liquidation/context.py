"""What a waterfall module sees and may do: :class:`LiquidationContext`.

The context wraps the venue core for one step of the liquidation engine: exact vectorised
queries on cases (equity, deficit, bankruptcy price, compliance) and the only commands a module
needs — cancel orders, close into the book, transfer a position off the book, move money into
or out of a case, record events. Each command keeps the case's bookkeeping (``wshare``,
running totals) right and records which accounts changed, so the engine can update its
liquidation-price index in one batch at the end of the step.

Every command works on many rows at once and goes through one batch call of the core
(``liquidation_orders``, ``transfer_positions``, ``ledger_moves``, ``emit_many``): the
per-item work runs in C and records the same events as the single commands.
"""
from __future__ import annotations

import numpy as np

from exchange.liquidation import events as ev
from exchange.liquidation._util import gather, small_values, sum_by_sorted, unique_ids
from exchange.liquidation.cases import DONE, Cases
from exchange.liquidation.margin_view import RATE_SCALE, MarginView, muldiv_ceil, muldiv_floor

__all__ = ["LiquidationContext", "StepStats", "L_WALLET", "L_ISOLATED", "L_FEE_POOL",
           "L_INSURANCE", "L_BAD_DEBT"]

L_WALLET, L_ISOLATED, L_FEE_POOL, L_INSURANCE, L_BAD_DEBT = 0, 1, 2, 3, 4
_I64 = np.int64


class StepStats:
    """Running totals of one engine step (plain ints; turned into the step summary)."""

    __slots__ = ("closed_lots", "closed_notional", "fees", "insurance_paid",
                 "insurance_credited", "socialized", "adl_lots", "adl_haircut", "bad_debt",
                 "backstop_lots", "auction_lots", "margin_calls", "triggered", "completed",
                 "takeover_lots")

    def __init__(self) -> None:
        for name in self.__slots__:
            setattr(self, name, 0)


class LiquidationContext:
    """One engine step's view of the venue, handed to every module.

    Attributes: ``core`` (the :class:`~exchange._core.VenueCore`), ``view``
    (:class:`~exchange.liquidation.margin_view.MarginView`), ``ts_ns`` (venue time),
    ``step`` (step number), ``prev_mark`` (marks before the update that started this step),
    ``rng`` (the engine's :class:`numpy.random.Generator`), ``stats`` (:class:`StepStats`).
    """

    def __init__(self, core, view: MarginView, rng: np.random.Generator, ts_ns: int, step: int,
                 prev_mark: np.ndarray, buffer_rate: int = 0, cap_fee: bool = True,
                 fee_free: np.ndarray | None = None) -> None:
        self.core = core
        #: accounts whose liquidation pays no fee (the insurance fund's own account: a fee
        #: from the fund to the fund would only move money between its two pockets)
        self.fee_free = np.empty(0, _I64) if fee_free is None else np.asarray(fee_free, _I64)
        #: Drift's ``liquidation_margin_buffer_ratio``: a case is compliant again only at
        #: equity >= MM·(1 + buffer) (parts per 1e8; 0 elsewhere)
        self.buffer_rate = int(buffer_rate)
        #: cap each liquidation fee at the equity the fill left (see :meth:`close_in_book`)
        self.cap_fee = bool(cap_fee)
        self.view = view
        self.rng = rng
        self.ts_ns = int(ts_ns)
        self.step = step
        self.prev_mark = prev_mark
        self.stats = StepStats()
        self.n_instr = core.n_instr
        self._touched: list[np.ndarray] = []
        # per-row copies of (size, bucket − cost) of the batch being worked on: gathering
        # them from the account arrays is memory-bound, so every command refreshes only the
        # rows it changed
        self._memo_cases: Cases | None = None
        self._memo_size = self._memo_money = None

    # -- QUERIES ---------------------------------------------------------------------------
    def size(self, cases: Cases, rows: np.ndarray) -> np.ndarray:
        """Open signed size (lots) of each row's position. O(n)."""
        return self._memo(cases)[0][rows]

    def ref_prices(self, cases: Cases, rows: np.ndarray) -> np.ndarray:
        """Reference price (mark, else last) of each row's instrument. O(n)."""
        v = self.view
        ref = np.where(v.mark > 0, v.mark, v.last)
        return ref[cases.instr[rows]]

    def k(self, cases: Cases, rows: np.ndarray) -> np.ndarray:
        return self.view.k[cases.instr[rows]]

    def equity(self, cases: Cases, rows: np.ndarray) -> np.ndarray:
        """Equity of each case at the mark (atoms). Isolated: bucket − cost + wshare +
        size·mark·k. Cross: the account's equity spread over its open cross positions in
        proportion to their maintenance margin (exactly: the rounding remainder goes to the
        largest); once none is open, the whole account equity sits on the account's first
        unfinished case. O(n)."""
        rows = np.asarray(rows, _I64)
        out = np.zeros(len(rows), _I64)
        iso = cases.isolated[rows]
        if iso.any():
            r = rows[iso]
            out[iso] = self._cash_iso(cases, r) + self.size(cases, r) * self.ref_prices(cases, r) * self.k(cases, r)
        if (~iso).any():
            out[~iso] = self._cross_alloc(cases, rows[~iso])
        return out

    def deficit(self, cases: Cases, rows: np.ndarray) -> np.ndarray:
        """Negative equity of each case (atoms ≥ 0). O(n)."""
        return np.maximum(-self.equity(cases, rows), 0)

    def cash(self, cases: Cases, rows: np.ndarray) -> np.ndarray:
        """Equity minus the position's value at the mark: what the case is worth if its
        position were worth nothing (equity = cash + size·price·k at any price). O(n)."""
        return self.equity(cases, rows) - self.size(cases, rows) * self.ref_prices(cases, rows) * self.k(cases, rows)

    def maintenance(self, cases: Cases, rows: np.ndarray) -> np.ndarray:
        """Maintenance margin of each row's position at the mark. O(n)."""
        out = np.zeros(len(rows), _I64)
        ins = cases.instr[rows]
        for i in small_values(ins, self.n_instr):
            m = ins == i
            out[m] = self.view.position_mm(i, cases.acct[rows][m])
        return out

    def target_margin(self, mm: np.ndarray) -> np.ndarray:
        """The margin a liquidation must restore before it ends: ``MM·(1 + buffer)``, rounded
        up (Drift: "liquidation ends when margin ≥ maintenance + liquidation_margin_buffer_ratio",
        programs/drift/src/controller/liquidation.rs, read 2026-12-02; buffer 0 elsewhere)."""
        mm = np.asarray(mm, _I64)
        if not self.buffer_rate:
            return mm
        return mm + muldiv_ceil(mm, np.full(len(mm), self.buffer_rate, _I64), RATE_SCALE)

    def compliant(self, cases: Cases, rows: np.ndarray) -> np.ndarray:
        """True where the case no longer breaches maintenance (plus the venue's liquidation
        buffer, :meth:`target_margin`): isolated equity ≥ target, or the cross account's
        equity ≥ its target. O(n)."""
        rows = np.asarray(rows, _I64)
        out = np.zeros(len(rows), bool)
        iso = cases.isolated[rows]
        if iso.any():
            r = rows[iso]
            out[iso] = self.equity(cases, r) >= self.target_margin(self.maintenance(cases, r))
        if (~iso).any():
            a = cases.acct[rows[~iso]]
            out[~iso] = self.view.cross_equity(a) >= self.target_margin(self.view.cross_mm(a))
        if len(self.fee_free):
            # the venue's own account (the insurance fund's) is done once solvent again: it
            # holds no margin of its own, the fund's money sits in the ledger
            own = np.isin(cases.acct[rows], self.fee_free)
            if own.any():
                out[own] = self.view.cross_equity(cases.acct[rows[own]]) >= 0
        return out

    def bankruptcy_price(self, cases: Cases, rows: np.ndarray, fee_rate=None) -> np.ndarray:
        """Price (ticks) at which closing the open position leaves the case at zero equity,
        rounded so that a close at it or better never leaves a deficit: up for a long (it
        sells), down for a short (it buys), at least 1 tick. With ``fee_rate`` (per 1e8 of
        notional, per row or scalar) the close also pays that fee:
        long ``−cash·S / (q·k·(S − f))``, short ``cash·S / (|q|·k·(S + f))``. 0 for a flat
        row. O(n)."""
        rows = np.asarray(rows, _I64)
        q = self.size(cases, rows)
        k = self.k(cases, rows)
        cash = self.cash(cases, rows)
        out = np.zeros(len(rows), _I64)
        long = q > 0
        short = q < 0
        if fee_rate is None:
            if long.any():
                out[long] = -((cash[long]) // (q[long] * k[long]))          # ceil(−cash/(q k))
            if short.any():
                out[short] = cash[short] // (-q[short] * k[short])          # floor(cash/(|q| k))
        else:
            f = np.broadcast_to(np.asarray(fee_rate, _I64), (len(rows),))
            if long.any():
                out[long] = muldiv_ceil(-cash[long], RATE_SCALE, q[long] * k[long] * (RATE_SCALE - f[long]))
            if short.any():
                out[short] = muldiv_floor(cash[short], RATE_SCALE, -q[short] * k[short] * (RATE_SCALE + f[short]))
        out[(q != 0) & (out < 1)] = 1
        return out

    def carrier_rows(self, cases: Cases, rows: np.ndarray) -> np.ndarray:
        """For cross rows: True on the row that carries its account's equity once the
        account has no open cross position (its unfinished case with the smallest id, or its
        first case once all are finished)."""
        rows = np.asarray(rows, _I64)
        out = np.zeros(len(rows), bool)
        cross_all = np.flatnonzero(~cases.isolated)
        if len(cross_all) == 0:
            return out
        first: dict[int, int] = {}
        # the unfinished rows first, then (when all are finished) the first row
        key = np.lexsort((cases.case_id[cross_all], cases.status[cross_all] == DONE))
        for r in cross_all[key]:
            first.setdefault(int(cases.acct[r]), int(r))
        for j, r in enumerate(rows):
            if not cases.isolated[r] and first.get(int(cases.acct[r])) == int(r):
                out[j] = True
        return out

    def keeps_initial_margin(self, acct: int, instr: int, dsize: int, price: int,
                             pay: int = 0) -> bool:
        """Would cross account ``acct`` still have initial margin (available ≥ 0) after
        receiving ``dsize`` signed lots on ``instr`` at ``price`` off the book and paying
        ``pay`` atoms (a negative margin it takes over with the position)? Exact, before
        any change: available + dsize·(mark − price)·k − pay − ΔIM of the instrument, with
        its open orders counted as the core does. False for an isolated position (a takeover
        there would need a margin transfer). O(instruments)."""
        v = self.view
        if v.mode[instr, acct] == 1:
            return False
        ref = v.ref_price(instr)
        k = int(v.k[instr])
        old = int(v.size[instr, acct])
        lev = int(v.lev[instr, acct])
        bo, so = int(v.buy_open[instr, acct]), int(v.sell_open[instr, acct])

        def im(size: int) -> int:
            pos = size * ref * k
            return -(-max(abs(pos + bo), abs(pos - so)) // lev)

        gain = dsize * (ref - price) * k
        return self.core.available(acct) + gain - int(pay) - (im(old + dsize) - im(old)) >= 0

    # -- COMMANDS --------------------------------------------------------------------------
    def cancel_orders(self, cases: Cases, rows: np.ndarray) -> int:
        """Cancel the resting orders of the rows' accounts (isolated: on the row's
        instrument; cross: all), once per case. One pass over the order registry per
        instrument. Returns the number cancelled."""
        rows = np.asarray(rows, _I64)
        rows = rows[~cases.cancelled[rows]]
        if len(rows) == 0:
            return 0
        cases.cancelled[rows] = True
        core = self.core
        n = 0
        iso = cases.isolated[rows]
        for i in small_values(cases.instr[rows[iso]], self.n_instr):
            a = cases.acct[rows[iso & (cases.instr[rows] == i)]]
            if (self.view.buy_open[i, a].any() or self.view.sell_open[i, a].any()
                    or self._may_hold_reduce_only()):
                n += core.cancel_all_many(a, int(i), 3)
        if (~iso).any():
            n += core.cancel_all_many(unique_ids(cases.acct[rows[~iso]], self.view.n_acct), -1, 3)
        return n

    def close_in_book(self, cases: Cases, rows: np.ndarray, qty: np.ndarray, limit: np.ndarray,
                      tif: int = 1, module: str = "market"):
        """Send one venue liquidation order per row (IOC, or FOK with ``tif`` 2) to close
        ``qty`` lots of its position, limited at ``limit`` (0 = market); liquidation fee to
        the insurance fund (by the core). Records PositionLiquidated for rows that traded.
        Returns ``(filled, notional, fee)`` per row. O(rows + fills).

        The fee is capped at the equity the fill left (``cap_fee``, on by default): a fee
        that would take the case below zero is charged only down to zero, the excess handed
        back by the fund at once (one LedgerMoved insurance → case), so the fund never pays
        back a fee it was just paid and the bad debt is not inflated by it. The venues do
        this: dYdX v4 charges ``fee = min(IF_delta, max_liquidation_fee·|quote|)`` with
        ``IF_delta = quote_received − bankruptcy_quote`` (protocol/x/clob/keeper/
        liquidations.go, ``GetLiquidationInsuranceFundFeeAndRemainingAvailableCollateral``,
        github.com/dydxprotocol/v4-chain, read 2026-12-02); Drift's ``if_fee`` is cut by
        the margin shortfall (``calculate_liquidation_if_fee`` in programs/drift/src/math/
        liquidation.rs, github.com/drift-labs/protocol-v2, read 2026-12-02); Binance's
        clearance fee is what is left of the margin (FAQ 360033525271, read 2026-12-02)."""
        rows = np.asarray(rows, _I64)
        qty = np.asarray(qty, _I64)
        limit = np.asarray(limit, _I64)
        n = len(rows)
        filled = np.zeros(n, _I64)
        notional = np.zeros(n, _I64)
        fee = np.zeros(n, _I64)
        if n == 0:
            return filled, notional, fee
        # a case's own resting orders must not trade against its liquidation (once per case)
        self.cancel_orders(cases, rows)
        v = self.view
        instr_of = cases.instr[rows]
        for i in small_values(instr_of, self.n_instr):
            sel = np.flatnonzero((instr_of == i) & (qty > 0))
            if len(sel) == 0:
                continue
            r = rows[sel]
            a = cases.acct[r]
            s = v.size[i, a]
            sell = s > 0
            before = v.iso[i, a] - v.cost[i, a]
            f, nt, fe, makers = self.core.liquidation_orders(
                a, int(i), sell.astype(_I64), np.minimum(qty[sel], np.abs(s)), limit[sel], tif)
            after = v.iso[i, a] - v.cost[i, a]
            dcash = np.where(sell, nt, -nt) - fe
            iso = cases.isolated[r]
            cases.wshare[r[iso]] += (dcash - (after - before))[iso]
            self._changed(cases, r)
            self._keep_in_bucket(cases, r[iso])
            if (self.cap_fee or len(self.fee_free)) and (fe > 0).any():
                fe = self._cap_fees(cases, r, fe, int(i))
            filled[sel], notional[sel], fee[sel] = f, nt, fe
            cases.closed_lots[r] += f
            cases.closed_notional[r] += nt
            cases.fees[r] += fe
            self.touch(a)
            if len(makers):
                self.touch(makers)
            hit = f > 0
            if hit.any():
                kk = int(v.k[i])
                fh, nh = f[hit], nt[hit]
                avg = np.where(sell[hit], nh // (fh * kk), -((-nh) // (fh * kk)))
                left = np.abs(v.size[i, a[hit]])
                self.emit(ev.POSITION_LIQUIDATED, int(hit.sum()), code=ev.MODULE_CODES[module],
                          instr=int(i), acct=a[hit], side=np.where(sell[hit], 0, 1), price=avg,
                          qty=fh, a1=nh, a2=fe[hit], a3=left, flag=(left == 0).astype(_I64))
                self.stats.closed_lots += int(fh.sum())
                self.stats.closed_notional += int(nh.sum())
                self.stats.fees += int(fe[hit].sum())
        return filled, notional, fee

    def transfer(self, cases: Cases, rows: np.ndarray, to_accts: np.ndarray, lots: np.ndarray,
                 prices: np.ndarray, code: int = 0) -> None:
        """Move ``lots`` of each row's position to ``to_accts`` at ``prices`` (off the book,
        no fee): the case's position shrinks, the receiver's position takes the case's side
        (a receiver on the other side shrinks: ADL). ``rows`` may repeat; the lots of one row
        must not exceed its open size in total. O(items)."""
        rows = np.asarray(rows, _I64)
        to_accts = np.asarray(to_accts, _I64)
        lots = np.asarray(lots, _I64)
        prices = np.asarray(prices, _I64)
        if len(rows) == 0:
            return
        v = self.view
        instr_of = cases.instr[rows]
        for i in small_values(instr_of, self.n_instr):
            sel = np.flatnonzero((instr_of == i) & (lots > 0))
            if len(sel) == 0:
                continue
            r = rows[sel]
            a = cases.acct[r]
            sgn = np.sign(v.size[i][a])        # +1: the case is long and sells
            if len(r) > 1 and not (r[1:] >= r[:-1]).all():
                order = np.argsort(r, kind="stable")
            else:
                order = None
            rs = r if order is None else r[order]
            ls = lots[sel] if order is None else lots[sel][order]
            ps = prices[sel] if order is None else prices[sel][order]
            ss = sgn if order is None else sgn[order]
            ua_rows = rs[np.r_[True, rs[1:] != rs[:-1]]]
            ua = cases.acct[ua_rows]
            before = v.iso[i][ua] - v.cost[i][ua]
            self.core.transfer_positions(a, to_accts[sel], int(i), sgn * lots[sel], prices[sel], code)
            after = v.iso[i][ua] - v.cost[i][ua]
            kk = int(v.k[i])
            ur, dcash = sum_by_sorted(rs, ss * ls * ps * kk)
            iso = cases.isolated[ur]
            cases.wshare[ur[iso]] += (dcash - (after - before))[iso]
            self._changed(cases, ur)
            self._keep_in_bucket(cases, ur[iso])
            cases.closed_lots[ur] += sum_by_sorted(rs, ls)[1]
            cases.closed_notional[ur] += sum_by_sorted(rs, ls * ps * kk)[1]
            self._net_flat_buckets(to_accts[sel], int(i))
            self.touch(a)
            self.touch(to_accts[sel])

    def credit(self, cases: Cases, rows: np.ndarray, src_kinds, src_accts, src_instrs,
               amounts: np.ndarray, code: int = 0) -> None:
        """Move ``amounts`` (atoms ≥ 0) from ledger accounts ``(src_kinds, src_accts,
        src_instrs)`` into the rows' cases: into the bucket of an open isolated position; for
        a closed one first into its bucket up to zero, the rest to the wallet share; into the
        wallet for cross. ``rows`` may repeat. O(items)."""
        rows = np.asarray(rows, _I64)
        amounts = np.asarray(amounts, _I64)
        m = amounts > 0
        if not m.any():
            return
        n = len(rows)
        sk = np.broadcast_to(np.asarray(src_kinds, _I64), (n,))[m]
        sa = np.broadcast_to(np.asarray(src_accts, _I64), (n,))[m]
        si = np.broadcast_to(np.asarray(src_instrs, _I64), (n,))[m]
        rows, amounts = rows[m], amounts[m]
        v = self.view
        a = cases.acct[rows]
        i = cases.instr[rows]
        iso = cases.isolated[rows]
        open_ = self.size(cases, rows) != 0
        room = np.where(iso & open_, np.iinfo(_I64).max,
                        np.where(iso, np.maximum(-gather(v.iso, i, a), 0), 0))
        before = _group_cumsum_before(rows, amounts)
        to_bucket = np.clip(room - before, 0, amounts)
        to_wallet = amounts - to_bucket
        k = len(rows)
        amt = np.concatenate((to_bucket, to_wallet))
        keep = amt > 0
        self._moves(np.concatenate((sk, sk))[keep], np.concatenate((sa, sa))[keep],
                    np.concatenate((np.full(k, L_ISOLATED), np.full(k, L_WALLET)))[keep],
                    np.concatenate((a, a))[keep], amt[keep],
                    np.concatenate((si, si))[keep], np.concatenate((i, si))[keep], code)
        np.add.at(cases.wshare, rows[iso], to_wallet[iso])
        self._changed(cases, rows)
        self.touch(a)
        self.touch(sa[sk <= L_ISOLATED])

    def debit(self, cases: Cases, rows: np.ndarray, dst_kind: int, dst_acct: int,
              amounts: np.ndarray, code: int = 0) -> None:
        """Move ``amounts`` (atoms ≥ 0) out of the rows' cases (unique rows) to one ledger
        account: isolated from its wallet share first, then its bucket; cross from the wallet.
        O(items)."""
        rows = np.asarray(rows, _I64)
        amounts = np.asarray(amounts, _I64)
        m = amounts > 0
        if not m.any():
            return
        rows, amounts = rows[m], amounts[m]
        a = cases.acct[rows]
        i = cases.instr[rows]
        iso = cases.isolated[rows]
        from_w = np.where(iso, np.minimum(amounts, np.maximum(cases.wshare[rows], 0)), amounts)
        from_b = amounts - from_w
        n = len(rows)
        src_k = np.concatenate((np.full(n, L_WALLET), np.full(n, L_ISOLATED)))
        amt = np.concatenate((from_w, from_b))
        keep = amt > 0
        ins = np.concatenate((i, i))
        self._moves(src_k[keep], np.concatenate((a, a))[keep], np.full(int(keep.sum()), dst_kind),
                    np.full(int(keep.sum()), dst_acct), amt[keep], ins[keep], ins[keep], code)
        cases.wshare[rows[iso]] -= from_w[iso]
        self._changed(cases, rows)
        self.touch(a)

    def emit(self, kind: int, n: int, *, code=0, instr=-1, acct=-1, oid=0, side=0, price=0,
             qty=0, a1=0, a2=0, a3=0, flag=0) -> None:
        """Record ``n`` events of ``kind``; each column is a scalar or an array of length n."""
        if n <= 0:
            return
        cols = [np.broadcast_to(np.asarray(x, _I64), (n,))
                for x in (code, instr, acct, oid, side, price, qty, a1, a2, a3, flag)]
        self.core.emit_many(kind, *cols)

    def touch(self, accts) -> None:
        """Note accounts whose margin state changed (the engine re-indexes them)."""
        accts = np.asarray(accts, _I64)
        if len(accts):
            self._touched.append(accts)

    def touched(self) -> np.ndarray:
        """Accounts changed since the last :meth:`take_touched` (distinct, ascending)."""
        if not self._touched:
            return np.empty(0, _I64)
        return unique_ids(np.concatenate(self._touched), self.view.n_acct)

    def take_touched(self) -> np.ndarray:
        out = self.touched()
        self._touched = []
        return out

    # -- internals -------------------------------------------------------------------------
    def _net_flat_buckets(self, accts: np.ndarray, instr: int) -> None:
        """A receiver whose isolated position a transfer closed (an ADL winner closed in
        several pieces) can be left with a negative bucket and the margin released by the
        earlier pieces in its wallet: net them, as the engine does for a closed case, so the
        flat position's bucket is not left negative. O(accts)."""
        v = self.view
        a = np.unique(np.asarray(accts, _I64))
        a = a[(v.mode[instr, a] == 1) & (v.size[instr, a] == 0) & (v.iso[instr, a] < 0)]
        if len(a) == 0:
            return
        amt = np.minimum(-v.iso[instr, a], np.maximum(v.wallet[a], 0))
        m = amt > 0
        if m.any():
            n = int(m.sum())
            self.core.ledger_moves(np.full(n, L_WALLET), a[m], np.full(n, L_ISOLATED), a[m],
                                   amt[m], np.full(n, instr), ev.MODULE_CODES["engine"])

    def _cap_fees(self, cases: Cases, rows: np.ndarray, fee: np.ndarray, instr: int) -> np.ndarray:
        """Hand back the part of each row's liquidation fee beyond what the fill left
        (equity after the fill and the fee < 0): ``refund = min(fee, −equity)``, moved from
        the insurance fund (which the core paid the fee to) into the case; the whole fee for
        a :attr:`fee_free` account. Returns the fees actually charged. Closed cross rows: the
        account's equity. O(rows)."""
        fee = np.asarray(fee, _I64)
        hit = np.flatnonzero(fee > 0)
        eq = np.zeros(len(rows), _I64)
        if len(hit):
            eq[hit] = self._equity_now(cases, rows[hit])
        refund = np.minimum(fee, np.maximum(-eq, 0)) if self.cap_fee else np.zeros_like(fee)
        if len(self.fee_free):
            refund = np.where(np.isin(cases.acct[rows], self.fee_free), fee, refund)
        refund = np.minimum(refund, max(int(self.core.insurance), 0))
        m = refund > 0
        if not m.any():
            return fee
        self.credit(cases, rows[m], L_INSURANCE, -1, instr, refund[m], ev.MODULE_CODES["engine"])
        return fee - refund

    def _equity_now(self, cases: Cases, rows: np.ndarray) -> np.ndarray:
        """Equity of each row (isolated: its case; cross: the whole account), for the fee
        cap: a cross account's fee is capped at the account's equity. O(n)."""
        out = np.zeros(len(rows), _I64)
        iso = cases.isolated[rows]
        if iso.any():
            out[iso] = self.equity(cases, rows[iso])
        if (~iso).any():
            out[~iso] = self.view.cross_equity(cases.acct[rows[~iso]])
        return out

    def _keep_in_bucket(self, cases: Cases, rows: np.ndarray) -> None:
        """While an isolated position is open, its money stays in its bucket: the margin the
        core released to the wallet on a partial close goes back, and the fees it paid from
        the wallet come out of the bucket (``wshare`` back to 0). So the open position's own
        equity (bucket + uPnL) — what the index and the venue see — is the case's equity,
        and the trader's free balance is untouched by the liquidation."""
        if len(rows) == 0:
            return
        i, a = cases.instr[rows], cases.acct[rows]
        m = (self._memo(cases)[0][rows] != 0) & (cases.wshare[rows] != 0)
        if not m.any():
            return
        r, i, a = rows[m], i[m], a[m]
        w = cases.wshare[r]
        to_bucket = w > 0
        src = np.where(to_bucket, L_WALLET, L_ISOLATED)
        dst = np.where(to_bucket, L_ISOLATED, L_WALLET)
        self.core.ledger_moves(src, a, dst, a, np.abs(w), i, ev.MODULE_CODES["engine"])
        cases.wshare[r] = 0
        self._changed(cases, r)

    def _may_hold_reduce_only(self) -> bool:
        # reduce-only orders carry no exposure, so buy_open/sell_open cannot see them: when
        # any order rests anywhere we pay the registry pass
        return any(len(self.core.book(i)) for i in range(self.n_instr))

    def _cash_iso(self, cases: Cases, rows: np.ndarray) -> np.ndarray:
        return self._memo(cases)[1][rows] + cases.wshare[rows]

    def _memo(self, cases: Cases):
        if self._memo_cases is not cases or len(self._memo_size) != len(cases):
            v = self.view
            i, a = cases.instr, cases.acct
            self._memo_size = gather(v.size, i, a)
            self._memo_money = gather(v.iso, i, a) - gather(v.cost, i, a)
            self._memo_cases = cases
        return self._memo_size, self._memo_money

    def _changed(self, cases: Cases, rows: np.ndarray) -> None:
        """Refresh the per-row copies of rows whose position or bucket a command changed."""
        if self._memo_cases is not cases or len(rows) == 0:
            return
        v = self.view
        i, a = cases.instr[rows], cases.acct[rows]
        self._memo_size[rows] = gather(v.size, i, a)
        self._memo_money[rows] = gather(v.iso, i, a) - gather(v.cost, i, a)

    def _cross_alloc(self, cases: Cases, rows: np.ndarray) -> np.ndarray:
        """Equity of cross rows (:meth:`equity`): numpy over accounts × instruments
        (:func:`cross_allocation`). O(rows + accounts · instruments)."""
        v = self.view
        accts = cases.acct[rows]
        carrier = self.carrier_rows(cases, rows)
        ua, inv = np.unique(accts, return_inverse=True)
        eq = v.cross_equity(ua)
        n_i = self.n_instr
        mm = np.zeros((n_i, len(ua)), _I64)
        open_ = np.zeros((n_i, len(ua)), bool)
        for i in range(n_i):
            o = (v.mode[i, ua] == 0) & (v.size[i, ua] != 0)
            if o.any():
                open_[i] = o
                mm[i, o] = v.position_mm(i, ua[o])
        return cross_allocation(eq, mm, open_, inv.reshape(-1), cases.instr[rows], carrier)

    def _moves(self, src_k, src_a, dst_k, dst_a, amt, src_i, dst_i, code: int) -> None:
        """Ledger moves where source and destination may be buckets of different
        instruments: those go in two hops through the source account's wallet."""
        if len(amt) == 0:
            return
        src_k, src_a, dst_k, dst_a = (np.asarray(x, _I64) for x in (src_k, src_a, dst_k, dst_a))
        amt, src_i, dst_i = (np.asarray(x, _I64) for x in (amt, src_i, dst_i))
        two = (src_k == L_ISOLATED) & (dst_k == L_ISOLATED) & (src_i != dst_i)
        if two.any():
            self.core.ledger_moves(src_k[two], src_a[two], np.full(int(two.sum()), L_WALLET),
                                   src_a[two], amt[two], src_i[two], code)
            src_k = np.where(two, L_WALLET, src_k)
        ins = np.where(src_k == L_ISOLATED, src_i, dst_i)
        self.core.ledger_moves(src_k, src_a, dst_k, dst_a, amt, ins, code)


def cross_allocation(eq: np.ndarray, mm: np.ndarray, open_: np.ndarray, inv: np.ndarray,
                     instr: np.ndarray, carrier: np.ndarray) -> np.ndarray:
    """Cross equity spread over positions: account ``u``'s equity ``eq[u]`` goes to its open
    cross positions (``open_[i, u]``) in proportion to their maintenance margin ``mm[i, u]``
    (floor, the rounding remainder to the largest, the lowest instrument on a tie; all of it
    to the first open instrument when the margins sum to 0); an account with none open puts
    it on its ``carrier`` row. Row ``j`` (account ``inv[j]``, instrument ``instr[j]``) gets
    its position's share, 0 when that position is not open. Exact integer arithmetic (Python
    ints where a product could pass int64). O(rows + accounts · instruments)."""
    eq = np.asarray(eq, _I64)
    n_i, n_u = mm.shape
    out = np.zeros(len(inv), _I64)
    if n_u == 0:
        return out
    m = np.where(open_, mm, 0)
    has = open_.any(axis=0)
    total = m.sum(axis=0)
    pos = total > 0
    big = float(np.abs(eq).max(initial=0)) * float(np.abs(m).max(initial=0))
    if big < 2.0 ** 62:
        share = (eq[None, :] * m) // np.where(pos, total, 1)[None, :]
    else:                                   # the products could pass int64: Python ints
        share = ((eq[None, :].astype(object) * m.astype(object))
                 // np.where(pos, total, 1)[None, :].astype(object)).astype(_I64)
    alloc = np.where(pos[None, :] & open_, share, 0)
    # the remainder to the position with the largest margin (the lowest instrument on a tie);
    # with margins summing to 0 everything to the first open instrument
    target = np.where(pos, np.argmax(np.where(open_, m, -1), axis=0), np.argmax(open_, axis=0))
    cols = np.flatnonzero(has)
    alloc[target[cols], cols] += eq[cols] - alloc[:, cols].sum(axis=0)
    u = np.asarray(inv, _I64)
    ins = np.asarray(instr, _I64)
    ok = has[u]
    out[ok] = alloc[ins[ok], u[ok]]
    none = ~ok & np.asarray(carrier, bool)
    out[none] = eq[u[none]]
    return out


def _group_cumsum_before(rows: np.ndarray, amounts: np.ndarray) -> np.ndarray:
    """For items grouped by ``rows`` in order: the sum of earlier items of the same row."""
    order = np.argsort(rows, kind="stable")
    r = rows[order]
    a = amounts[order]
    cs = np.cumsum(a) - a
    start = np.r_[True, r[1:] != r[:-1]]
    base = np.maximum.accumulate(np.where(start, cs, 0))
    out = np.empty_like(amounts)
    out[order] = cs - base
    return out
