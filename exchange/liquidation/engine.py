"""The liquidation engine: detection on mark updates, the waterfall, margin calls.

:class:`LiquidationEngine` sits beside a :class:`~exchange._core.VenueCore`. The venue calls

- :meth:`~LiquidationEngine.on_mark` after every oracle tick (it sets the core's mark if it
  differs): the engine finds the positions the move pushed below maintenance — O(log n + k)
  with the per-instrument :class:`~exchange.liquidation.index.LiquidationIndex`, plus an
  exact vectorised re-check of accounts holding several cross positions — confirms each with
  the exact integer test ``equity < MM``, runs them through the waterfall and returns a
  :class:`LiquidationSummary`;
- :meth:`~LiquidationEngine.step` on time ticks without a mark change (running auctions,
  partial liquidations waiting for their cooldown or next block);
- :meth:`~LiquidationEngine.note_events` with every batch of events it drains from the core:
  the engine re-indexes the accounts those events changed (fills, transfers, deposits,
  funding…) in one batch at the next query. Its own actions it tracks itself.

While :attr:`~LiquidationEngine.oracle_stale` is set nothing is liquidated (the marks are
recorded; detection resumes at the next fresh update).

**Waterfall.** New cases and the cases waiting from earlier steps form one batch; each module,
in order, gets the rows still needing work (an open remainder, a deficit, or an unsettled
surplus) and says per row: go on, wait (re-enter this module next step), retry from the top
next step, or done. Within a step the batch moves module by module (stage-wise), rows in a
fixed order: waiting cases first, then new ones, most distressed first. Each module gets
only what the earlier ones left: the insurance fund takes over (Binance, Bybit, BitMEX) or
pays before ADL sees a case, and ADL then receives the open remainder with the deficit the
fund could not pay (its severity is that shortfall, at the case's bankruptcy price); the
backstop vault takes a position with its margin, negative or not (Hyperliquid); Drift's
socialised stage closes the base, then charges fund, fee pool and every open position. After
the last module, a case with negative equity (closed, or open but not waiting in an auction)
has what no module covered booked to the bad-debt account, so it ends at zero: nothing is
ever lost. A case still open retries at the next step; a closed case is done
(LiquidationCompleted). Accounts with a case in progress are flagged "in liquidation" in the
core (new orders refused) and released when their cases are done.

**Venue-owned accounts.** The insurance fund's takeover account (:attr:`fund_acct`, opened
at the fund's first takeover) is flagged for good: it trades only through the engine, never
receives a margin call and is never a case while its equity is ≥ 0 (it sits below
maintenance by design, the fund's money is in the ledger). At every step, after the
waterfall, the modules holding inventory unwind it (``on_step``); once the ledger cannot
carry the account's loss it is liquidated through the waterfall like any account, pays no
liquidation fee to itself, and its case ends once it is solvent again.

**Fees.** Every liquidation fee is capped at the equity the fill leaves (``cap_fee``; dYdX
v4, Drift and Binance charge the fee only down to zero), so the fund never pays back a fee
it was just paid. **Buffer.** A case ends only once its margin is back at maintenance ×
(1 + ``liquidation_buffer_rate``) (Drift's 2 % buffer; 0 elsewhere).

**Margin calls.** For each threshold of ``alert_thresholds_pct`` below 100 the index keeps the
price at which the margin ratio (MM / equity) passes it; a mark move that carries a position
across one upward records a MarginCall (confirmed exactly) — unless the same move carries it
past its liquidation price: the alert comes before a liquidation. A threshold of 100 records
a MarginCall with every LiquidationTriggered.

Determinism: the engine draws randomness only from ``rng`` (ADL's random start), processes
rows in a fixed order and never iterates over unordered containers.
"""
from __future__ import annotations

from typing import Any
from collections.abc import Mapping, Sequence

import attrs
import numpy as np

from exchange.errors import ConfigError, InvalidCommandError, invalid
from exchange.liquidation import events as ev
from exchange.liquidation._util import first_occurrence, gather, isin_ids, unique_ids
from exchange.liquidation.base import build_waterfall, waterfall_from_preset
from exchange.liquidation.cases import (ACTIVE, CONTINUE, DONE, RESOLVED, RESTART, RETRY, WAIT,
                                        WAITING, Cases)
from exchange._enums import EventKind, LedgerKind
from exchange.dtypes import EVENT_DTYPE
from exchange.liquidation.context import L_BAD_DEBT, LiquidationContext
from exchange.liquidation.index import LiquidationIndex
from exchange.liquidation.margin_view import RATE_SCALE, MarginView

__all__ = ["LiquidationEngine", "EngineParams", "LiquidationSummary"]

_I64 = np.int64
# core event kinds that do not change an account's margin state
_QUIET_KINDS = np.array([EventKind.ORDER_ACCEPTED, EventKind.ORDER_REJECTED,
                         EventKind.ORDER_CANCELED, EventKind.ORDER_AMENDED,
                         EventKind.LEVERAGE_SET, EventKind.MARK_PRICE_UPDATED,
                         EventKind.TRANSFER_REJECTED], _I64)
#: core kinds (< 100) that change an account's margin state: a lookup table by kind
_MOVES_MARGIN = np.ones(100, bool)
_MOVES_MARGIN[_QUIET_KINDS] = False
_QUIET_SET = frozenset(_QUIET_KINDS.tolist())


def _thresholds(value) -> tuple[int, ...]:
    t = tuple(value)
    prev = 0
    for pct in t:
        if type(pct) is not int or not prev < pct <= 100:
            raise invalid("alert_thresholds_pct", "strictly increasing ints in (0, 100]", list(t),
                          error=ConfigError)
        prev = pct
    return t


@attrs.frozen(kw_only=True)
class EngineParams:
    """Engine configuration.

    ``alert_thresholds_pct``: margin-call levels (percent of maintenance usage, i.e. margin
    ratio); ``rebuild_fraction``: an index rebuilds instead of merging when more than this
    share of its entries changed; ``flush_eager``: merge index updates at the end of each step
    (else at the next query); ``max_rounds``: how many times within one step the accounts the
    waterfall changed are re-checked and the new distressed ones processed (a cascade);
    ``liquidation_buffer_rate`` (per 1e8): a case ends only once its margin is back at
    MM·(1 + buffer) (Drift's ``liquidation_margin_buffer_ratio``, 2 %: "a user stays in
    liquidation until margin ≥ maintenance + buffer", programs/drift/src/controller/
    liquidation.rs, github.com/drift-labs/protocol-v2, read 2026-12-02; the preset's
    ``[margin].liquidation_buffer_rate``); ``cap_fee``: liquidation fees capped at the equity
    a fill leaves (:meth:`~exchange.liquidation.context.LiquidationContext.close_in_book`).
    """

    alert_thresholds_pct: tuple[int, ...] = attrs.field(default=(), converter=_thresholds)
    liquidation_buffer_rate: int = attrs.field(default=0)
    cap_fee: bool = attrs.field(default=True)

    @liquidation_buffer_rate.validator
    def _check_buffer(self, attribute, value) -> None:
        if type(value) is not int or not 0 <= value <= RATE_SCALE:
            raise invalid("liquidation_buffer_rate", f"an int rate in [0, {RATE_SCALE}]", value,
                          error=ConfigError)
    rebuild_fraction: float = attrs.field(default=0.25)
    flush_eager: bool = attrs.field(default=True)
    max_rounds: int = attrs.field(default=8)


@attrs.frozen
class LiquidationSummary:
    """What one :meth:`LiquidationEngine.on_mark` / :meth:`~LiquidationEngine.step` did.

    Counts of cases ``triggered`` (new), ``completed`` (closed or compliant again) and
    ``pending`` (still in progress after the step), ``margin_calls``; lots and notional closed
    in the book, liquidation fees, insurance paid and credited, socialised loss, ADL lots and
    haircut (versus the mark), lots taken by the backstop and by auction bidders, bad debt
    booked, lots the insurance fund took over — all in lots or atoms. ``frozen`` when nothing ran because the oracle is stale.
    """  # noqa: E501

    instr: int
    ts_ns: int
    frozen: bool = False
    triggered: int = 0
    completed: int = 0
    pending: int = 0
    margin_calls: int = 0
    closed_lots: int = 0
    closed_notional_atoms: int = 0
    fees_atoms: int = 0
    insurance_paid_atoms: int = 0
    insurance_credited_atoms: int = 0
    socialized_atoms: int = 0
    adl_lots: int = 0
    adl_haircut_atoms: int = 0
    backstop_lots: int = 0
    auction_lots: int = 0
    bad_debt_atoms: int = 0
    takeover_lots: int = 0


def changed_accounts(events: np.ndarray, n_acct: int) -> np.ndarray:
    """Sorted distinct accounts (in [0, n_acct)) whose margin state a batch of core records
    changed: every record naming an account except the quiet kinds, the receiver of a
    PositionTransferred (a1) and of a LedgerMoved into a wallet or bucket (a2). O(events)."""
    kind = events["kind"].astype(_I64)
    acct = events["acct"]
    core_kind = kind < 100
    keep = (acct >= 0) & core_kind & _MOVES_MARGIN[np.where(core_kind, kind, 1)]
    parts = [acct[keep]]
    parts.append(events["a1"][kind == EventKind.POSITION_TRANSFERRED])
    lm = (kind == EventKind.LEDGER_MOVED) & (events["qty"] <= LedgerKind.ISOLATED)        # LedgerMoved into a wallet or bucket  # noqa: E501
    parts.append(events["a2"][lm])
    accts = np.concatenate(parts).astype(_I64)
    return unique_ids(accts[(accts >= 0) & (accts < n_acct)], n_acct)


_EMPTY_IDS = np.empty(0, _I64)
_F = {n: i for i, n in enumerate(EVENT_DTYPE.names)}
_IK, _IA, _IA1, _IA2, _IQ = _F["kind"], _F["acct"], _F["a1"], _F["a2"], _F["qty"]


def changed_accounts_small(events: np.ndarray, n_acct: int) -> np.ndarray:
    """:func:`changed_accounts` for a handful of records, in plain Python (the same result;
    a differential test checks it)."""
    found = set()
    quiet = _QUIET_SET
    for rec in events.tolist():                     # a tuple per record, EVENT_DTYPE order
        k = rec[_IK]
        a = rec[_IA]
        if k < 100 and a >= 0 and k not in quiet:
            found.add(a)
        if k == 13:
            found.add(rec[_IA1])
        elif k == 14 and rec[_IQ] <= 1:
            found.add(rec[_IA2])
    if not found:
        return _EMPTY_IDS
    return np.array(sorted(x for x in found if 0 <= x < n_acct), _I64)


class LiquidationEngine:
    """Detection and the liquidation waterfall for one venue core.

    ``waterfall``: module names / ``"package.module:Class"`` paths / instances, in order
    (:func:`~exchange.liquidation.base.build_waterfall`); ``module_params`` maps a module name
    to its parameters when names are given; ``params``: :class:`EngineParams` or a mapping of
    its fields; ``rng``: the :class:`numpy.random.Generator` of the liquidation model (ADL's
    random policy). Construction indexes every open position (O(n log n)).
    """

    def __init__(self, core, waterfall: Sequence[Any],
                 params: EngineParams | Mapping[str, Any] | None = None,
                 rng: np.random.Generator | None = None,
                 module_params: Mapping[str, Mapping[str, Any]] | None = None) -> None:
        self.core = core
        self.waterfall = build_waterfall(waterfall, module_params)
        if params is None:
            params = EngineParams()
        elif not isinstance(params, EngineParams):
            params = EngineParams(**dict(params))
        self.params = params
        self.rng = rng if rng is not None else np.random.default_rng(0)
        self.view = MarginView(core)
        self.n_instr = core.n_instr
        levels = tuple(p for p in params.alert_thresholds_pct if p < 100)
        self._alert_levels = levels
        self._alert_at_trigger = 100 in params.alert_thresholds_pct
        self.indexes = [LiquidationIndex(self.view, i, levels + (100,), params.rebuild_fraction)
                        for i in range(self.n_instr)]
        self._last_mark = np.array(self.view.mark, dtype=_I64)
        self._pending = Cases(0)
        self._step = 0
        self._next_case = 1
        self._stale = False
        self._multi = np.empty(0, _I64)
        self._multi_level: dict[int, int] = {}
        self._exempt_key: tuple = ()
        self._exempt = np.empty(0, _I64)
        for a in self.exempt.tolist():
            core.set_account_flags(np.array([a], _I64), True)
        self._stock = [m for m in self.waterfall if hasattr(m, "on_step")]
        self.rebuild()

    @classmethod
    def from_preset(cls, core, preset, vault_acct: int | None = None,
                    overrides: Mapping[str, Mapping[str, Any]] | None = None,
                    rng: np.random.Generator | None = None, fund_insurance: bool = False,
                    fund_acct: int | None = None, **params) -> LiquidationEngine:
        """The engine a :class:`~exchange.presets.VenuePreset` describes: its waterfall
        (:func:`~exchange.liquidation.base.waterfall_from_preset`, module parameters updated by
        ``overrides``), its margin-call thresholds and liquidation buffer. ``fund_insurance``
        seeds the core's insurance fund with the preset's ``insurance_fund``; ``fund_acct``
        is the fund's takeover account (:func:`~exchange.liquidation.base.fund_takes_over`).
        Extra keywords are :class:`EngineParams` fields."""
        wf = waterfall_from_preset(preset, vault_acct, overrides, fund_acct)
        params.setdefault("alert_thresholds_pct", preset.margin.alert_thresholds_pct)
        params.setdefault("liquidation_buffer_rate", int(preset.margin.liquidation_buffer_rate))
        if fund_insurance and preset.liquidation.insurance_fund_atoms:
            core.fund_insurance(preset.liquidation.insurance_fund_atoms)
        return cls(core, wf, EngineParams(**params), rng)

    @classmethod
    def for_venue(cls, core, preset, overrides: Mapping[str, Mapping[str, Any]] | None = None,
                  rng: np.random.Generator | None = None) -> tuple[LiquidationEngine, int | None]:
        """The engine of a venue built from ``preset``, with what its waterfall needs: when the
        waterfall has ``backstop``, a vault account opened on ``core`` and funded with the
        preset's backstop capital. When its insurance fund takes positions over
        (:func:`~exchange.liquidation.base.fund_takes_over`) the insurance module opens the
        fund's account at its first takeover (:attr:`fund_acct`; it holds only what the fund
        took over and the ledger money carrying it). Returns ``(engine, vault account or
        None)``. The insurance fund's ledger is not touched (the venue seeds it)."""
        vault = None
        if "backstop" in preset.liquidation.waterfall:
            vault = core.open_account()
            capital = int(preset.liquidation.backstop_capital_atoms)
            if capital > 0:
                core.deposit(vault, capital)
        engine = cls.from_preset(core, preset, vault_acct=vault, overrides=overrides, rng=rng)
        return engine, vault

    @property
    def exempt(self) -> np.ndarray:
        """Accounts the venue owns and manages itself (the insurance fund's takeover
        account, once opened): never opened as a case while solvent; flagged, so never an
        ADL or socialised-loss counterparty and refused as a trader. O(modules); the array
        is rebuilt only when a module opened its account."""
        key = tuple(getattr(m, "takeover_acct", None) for m in self.waterfall)
        if key != self._exempt_key:
            self._exempt_key = key
            self._exempt = np.array(sorted({int(a) for a in key if a is not None}), _I64)
        return self._exempt

    @property
    def fund_acct(self) -> int | None:
        """The insurance fund's takeover account, once it has one."""
        ex = self.exempt
        return int(ex[0]) if len(ex) else None

    # -- COMMANDS ---------------------------------------------------------------------------
    @property
    def oracle_stale(self) -> bool:
        """True while liquidations are frozen because the price source is stale."""
        return self._stale

    @oracle_stale.setter
    def oracle_stale(self, stale: bool) -> None:
        stale = bool(stale)
        if stale == self._stale:
            return
        self._stale = stale
        if stale:
            self.core.emit(ev.LIQUIDATIONS_FROZEN, 0, -1, -1, 0, 0, 0, 0, len(self._pending))
        else:
            self.core.emit(ev.LIQUIDATIONS_RESUMED, 0, -1)

    def on_mark(self, instr: int, mark_ticks: int, ts_ns: int | None = None) -> LiquidationSummary:
        """A new mark for ``instr``: margin calls, detection, the waterfall for the crossers
        and for the cases of ``instr`` waiting from earlier steps. Sets the core's clock
        (``ts_ns``) and mark (if different). Cost: O(log n + k) for k crossers among n
        positions, plus the waterfall's work on the k cases (and O(n) for the batched index
        update after a step that changed positions)."""
        core = self.core
        if ts_ns is not None and ts_ns > core.ts_now:
            core.set_time(ts_ns)
        ts = core.ts_now
        if not 0 <= instr < self.n_instr:
            raise invalid("instr", f"an instrument index in [0, {self.n_instr})", instr)
        if self.view.mark[instr] != mark_ticks:
            core.set_mark(instr, mark_ticks)
        if self._stale:
            return LiquidationSummary(instr, ts, frozen=True, pending=len(self._pending))
        view = self.view
        view.refresh()
        idx = self.indexes[instr]
        if idx.n_dirty:
            idx.flush()
        prev = int(self._last_mark[instr])
        self._last_mark[instr] = mark_ticks
        cand = idx.crossers(mark_ticks)
        calls = 0
        if self._alert_levels and prev != mark_ticks:
            calls = self._margin_calls(idx, instr, prev, mark_ticks, cand)
        multi = self._multi
        if len(multi):
            multi = multi[view.size[instr, multi] != 0]
        if len(multi) and self._alert_levels:
            calls += self._multi_calls(instr, multi)
        has_pending = len(self._pending) and bool(
            (self._pending.instr == instr).any()
            or (len(self.exempt) and np.isin(self._pending.acct, self.exempt).any()))
        if len(cand) == 0 and len(multi) == 0 and not has_pending:
            ctx = self._run_stock(ts)
            if ctx is not None:
                ctx.stats.margin_calls += calls
                return self._summary(instr, ts, ctx.stats)
            return LiquidationSummary(instr, ts, margin_calls=calls, pending=len(self._pending))
        if len(multi):
            cand = np.concatenate((cand, multi))
        prev_marks = np.array(view.mark, dtype=_I64)
        prev_marks[instr] = prev
        return self._run(instr, ts, cand, prev_marks, calls)

    def step(self, ts_ns: int | None = None) -> LiquidationSummary:
        """Re-enter the waterfall for every case in progress (auctions, cooldowns, per-block
        limits) without a mark change. O(pending cases)."""
        core = self.core
        if ts_ns is not None and ts_ns > core.ts_now:
            core.set_time(ts_ns)
        ts = core.ts_now
        if self._stale:
            return LiquidationSummary(-1, ts, frozen=True, pending=len(self._pending))
        if not len(self._pending):
            ctx = self._run_stock(ts)
            return LiquidationSummary(-1, ts) if ctx is None else self._summary(-1, ts, ctx.stats)
        self.view.refresh()
        return self._run(-1, ts, np.empty(0, _I64), np.array(self.view.mark, dtype=_I64), 0)

    def adl_quantiles(self, instr: int) -> np.ndarray:
        """Each account's ADL quantile (0–4, Binance's ``adlQuantile``) on ``instr`` under the
        waterfall's ADL module (:meth:`~exchange.liquidation.adl.AdlModule.quantiles`); all 0
        when the waterfall has no ADL stage (no position is ever deleveraged). O(accounts)."""
        self.view.refresh()
        for module in self.waterfall:
            if getattr(module, "name", None) == "adl" and hasattr(module, "quantiles"):
                return module.quantiles(self.view, instr)
        return np.zeros(self.core.n_acct, _I64)

    def note_events(self, events: np.ndarray) -> int:
        """Re-index the accounts a batch of core events (``EVENT_DTYPE``, as drained) changed:
        any event naming an account, except order acceptances, rejections, cancels, amends,
        leverage changes and mark updates; the receiving account of PositionTransferred (a1)
        and LedgerMoved (a2). Returns the number of accounts marked. O(events)."""
        if len(events) == 0:
            return 0
        n = self.core.n_acct
        # one command's few records: plain Python beats numpy's per-call overhead
        accts = changed_accounts_small(events, n) if len(events) <= 16 else changed_accounts(events, n)
        self.mark_dirty(accts)
        return len(accts)

    def mark_dirty(self, accts, instr: int | None = None) -> None:
        """Re-index these accounts (on one instrument, or all) at the next query. O(k)."""
        accts = np.asarray(accts, _I64)
        if len(accts) == 0:
            return
        targets = self.indexes if instr is None else [self.indexes[instr]]
        for idx in targets:
            idx.mark_dirty(accts)
        if self.n_instr > 1:
            self._refresh_multi(accts)

    def rebuild(self) -> None:
        """Recompute every index from the core's state. O(n log n)."""
        self.view.refresh()
        for idx in self.indexes:
            idx.rebuild()
        self._refresh_multi()

    def bid(self, auction_id: int, account: int, qty: int, limit_price: int) -> tuple[int, int]:
        """Take up to ``qty`` lots of a running auction at its current price, if no worse for
        the bidder than ``limit_price`` (ticks). Returns ``(lots taken, price)``. O(1)."""
        module = self._auction_module()
        case_id = module.case_of(auction_id)
        rows = np.flatnonzero(self._pending.case_id == case_id)
        if len(rows) == 0:
            raise InvalidCommandError(f"'auction_id' must be a running auction (got {auction_id})")
        self.view.refresh()
        ctx = self._ctx(self.core.ts_now, np.array(self.view.mark, dtype=_I64))
        lots, price = module.take(ctx, self._pending, int(rows[0]), int(account), int(qty),
                                  int(limit_price))
        self._touch(ctx.touched())
        return lots, price

    def auctions(self) -> list[dict]:
        """Running auctions with their current price (for liquidator agents). O(auctions)."""
        module = self._auction_module(required=False)
        return [] if module is None else module.active(self.core.ts_now)

    # -- QUERIES ----------------------------------------------------------------------------
    @property
    def pending(self) -> Cases:
        """Cases in progress (a copy)."""
        return self._pending.take(np.arange(len(self._pending)))

    def check(self) -> None:
        """Assert the engine's invariants: every index matches a fresh computation, pending
        cases are unique per position and their accounts flagged. O(n log n)."""
        for idx in self.indexes:
            idx.check()
        if self.n_instr > 1:
            v = self.view
            v.refresh()
            n_cross = ((v.mode == 0) & (v.size != 0)).sum(axis=0)
            assert np.array_equal(self._multi, np.flatnonzero(n_cross >= 2)), \
                "the multi-position cross accounts are out of date"
        p = self._pending
        if len(p):
            keys = p.keys(self.n_instr)
            assert len(np.unique(keys)) == len(keys), "a position has two pending cases"
            assert (self.view.flags[p.acct] != 0).all(), "a pending case's account is not flagged"

    # -- the step ---------------------------------------------------------------------------
    def _run(self, instr: int, ts: int, cand: np.ndarray, prev_marks: np.ndarray,
             calls: int) -> LiquidationSummary:
        view = self.view
        self._step += 1
        ctx = self._ctx(ts, prev_marks)
        ctx.stats.margin_calls = calls
        pending = self._pending
        if instr >= 0 and len(pending):
            take = pending.instr == instr
            if (~pending.isolated).any():
                # a cross case resumes with all its rows, also when only another of its
                # account's positions moved (the account is among this update's candidates)
                if len(cand):
                    take |= ~pending.isolated & isin_ids(pending.acct, cand, view.n_acct)
                cross = take & ~pending.isolated
                take |= ~pending.isolated & isin_ids(pending.acct, pending.acct[cross], view.n_acct)
            exempt = self.exempt
            if len(exempt):
                # the fund's own case resumes at every step: its positions on any instrument
                # move with every mark, and its module must see it (no takeover meanwhile)
                take |= isin_ids(pending.acct, exempt, view.n_acct)
            resume = np.flatnonzero(take)
            hold = np.flatnonzero(~take)
        else:
            resume = np.arange(len(pending))
            hold = np.empty(0, _I64)
        old = pending.take(resume)
        new = self._new_cases(ctx, instr, cand, pending) if len(cand) else Cases(0)
        self._pending = pending.take(hold)
        self._process(ctx, Cases.concat([old, new]))
        touched = [ctx.take_touched()]
        self._cascade(ctx, touched)
        self._stock_step(ctx)
        touched.append(ctx.take_touched())
        self._cascade(ctx, touched)          # the fund's unwind fills resting orders too
        self._touch(unique_ids(np.concatenate(touched), view.n_acct))
        return self._summary(instr, ts, ctx.stats)

    def _cascade(self, ctx, touched: list) -> None:
        """A cascade within the step: accounts the waterfall changed (ADL winners, payers of
        a socialised loss, the backstop vault, makers, the counterparties of the fund's
        unwind) may now be below maintenance; they are re-checked exactly and processed
        before the step ends, up to ``max_rounds`` times. Appends what each round touched."""
        for _ in range(self.params.max_rounds):
            groups = self._recheck(touched[-1])
            if not groups:
                break
            more = Cases.concat([self._new_cases(ctx, i, a, self._pending) for i, a in groups])
            if not len(more):
                break
            self._process(ctx, more)
            touched.append(ctx.take_touched())

    def _summary(self, instr: int, ts: int, st) -> LiquidationSummary:
        return LiquidationSummary(
            instr, ts, triggered=st.triggered, completed=st.completed, pending=len(self._pending),
            margin_calls=st.margin_calls, closed_lots=st.closed_lots,
            closed_notional_atoms=st.closed_notional, fees_atoms=st.fees,
            insurance_paid_atoms=st.insurance_paid, insurance_credited_atoms=st.insurance_credited,
            socialized_atoms=st.socialized, adl_lots=st.adl_lots,
            adl_haircut_atoms=st.adl_haircut, backstop_lots=st.backstop_lots,
            auction_lots=st.auction_lots, bad_debt_atoms=st.bad_debt,
            takeover_lots=st.takeover_lots)

    def _exempt_solvent(self) -> np.ndarray:
        """The exempt accounts that are not insolvent (see :attr:`exempt`)."""
        ex = self.exempt
        if not len(ex):
            return ex
        bad = self._insolvent()
        return ex[~np.isin(ex, bad)] if len(bad) else ex

    def _insolvent(self) -> np.ndarray:
        """Exempt accounts whose module reports them insolvent (a fund's account whose loss
        the ledger can no longer carry): they are liquidated like any account."""
        out = []
        for m in self._stock:
            f = getattr(m, "insolvent", None)
            a = f(self.view) if f is not None else None
            if a is not None:
                out.append(int(a))
        return np.array(out, _I64)

    def _stock_step(self, ctx) -> None:
        """The modules holding inventory unwind it (not an account in a case), then an
        insolvent one is liquidated through the waterfall in the same step."""
        view = self.view
        busy = self._pending.acct
        for module in self._stock:
            a = getattr(module, "takeover_acct", None)
            if module.has_inventory(view) and not (a is not None and (busy == a).any()):
                module.on_step(ctx)
        bad = self._insolvent()
        if len(bad):
            bad = bad[~isin_ids(bad, busy, view.n_acct)] if len(busy) else bad
            for i in range(self.n_instr):
                a = bad[view.size[i, bad] != 0]
                if len(a):
                    self._process(ctx, self._new_cases(ctx, i, a, self._pending))

    def _ctx(self, ts: int, prev_marks: np.ndarray) -> LiquidationContext:
        return LiquidationContext(self.core, self.view, self.rng, ts, self._step, prev_marks,
                                  self.params.liquidation_buffer_rate, self.params.cap_fee,
                                  self.exempt)

    def _run_stock(self, ts: int) -> LiquidationContext | None:
        """Steps without cases: the modules holding inventory (the insurance fund's
        takeover account) still unwind it. Returns the step's context, or None when no
        module holds any (O(modules))."""
        if not self._stock:
            return None
        view = self.view
        if not any(m.has_inventory(view) for m in self._stock):
            return None
        view.refresh()
        self._step += 1
        ctx = self._ctx(ts, np.array(view.mark, dtype=_I64))
        self._stock_step(ctx)
        touched = [ctx.take_touched()]
        self._cascade(ctx, touched)
        self._touch(unique_ids(np.concatenate(touched), view.n_acct))
        return ctx

    def _process(self, ctx, batch: Cases) -> None:
        """The waterfall for one batch, then completion; unfinished cases join the pending."""
        if not len(batch):
            return
        self._waterfall(ctx, batch)
        done = batch.status == DONE
        live = batch.take(np.flatnonzero(~done))
        self._finish(ctx, batch, np.flatnonzero(done), live)
        self._pending = Cases.concat([self._pending, live])
        if len(live):
            self.core.set_account_flags(live.acct, True)

    def _recheck(self, accts: np.ndarray) -> list[tuple[int, np.ndarray]]:
        """Accounts among ``accts`` not in a case that are below maintenance now, per
        instrument (exact). O(len(accts) · instruments)."""
        view = self.view
        if len(accts) == 0:
            return []
        accts = accts[view.flags[accts] == 0]
        out = []
        seen_cross = np.zeros(0, _I64)
        for i in range(self.n_instr):
            a = accts[view.size[i][accts] != 0]
            if len(seen_cross):
                a = a[~((view.mode[i][a] == 0) & isin_ids(a, seen_cross, view.n_acct))]
            if len(a) == 0:
                continue
            a = a[view.liquidatable(i, a)]
            if len(a):
                out.append((i, a))
                seen_cross = np.concatenate((seen_cross, a[view.mode[i][a] == 0]))
        return out

    def _new_cases(self, ctx, instr: int, cand: np.ndarray, pending: Cases) -> Cases:
        """Confirm candidates exactly and open cases for them (cross: one per open cross
        position of the account), skipping positions already in a case."""
        view = self.view
        if self.n_instr > 1 or len(self._multi):
            cand = first_occurrence(cand, view.n_acct)   # the multi re-check may repeat some
        exempt = self._exempt_solvent()
        if len(exempt):
            cand = cand[~isin_ids(cand, exempt, view.n_acct)]
        cand = cand[view.liquidatable(instr, cand)]
        if len(pending):
            iso = view.mode[instr, cand] == 1
            busy_iso = pending.acct[pending.isolated & (pending.instr == instr)]
            busy_cross = pending.acct[~pending.isolated]
            taken = np.where(iso, isin_ids(cand, busy_iso, view.n_acct),
                             isin_ids(cand, busy_cross, view.n_acct))
            cand = cand[~taken]
        if len(cand) == 0:
            return Cases(0)
        iso = view.mode[instr, cand] == 1
        accts = [cand[iso]]
        instrs = [np.full(int(iso.sum()), instr, _I64)]
        isolated = [np.ones(int(iso.sum()), bool)]
        cross = cand[~iso]
        if len(cross):
            for a in cross.tolist():
                js = [j for j in range(self.n_instr)
                      if view.mode[j, a] == 0 and view.size[j, a] != 0]
                accts.append(np.full(len(js), a, _I64))
                instrs.append(np.array(js, _I64))
                isolated.append(np.zeros(len(js), bool))
        accts = np.concatenate(accts)
        instrs = np.concatenate(instrs)
        isolated = np.concatenate(isolated)
        n = len(accts)
        ids = np.arange(self._next_case, self._next_case + n, dtype=_I64)
        self._next_case += n
        new = Cases.new(ids, accts, instrs, isolated, gather(view.size, instrs, accts), ctx.ts_ns)
        self.core.set_account_flags(accts, True)
        rows = np.arange(n, dtype=_I64)
        eq = np.empty(n, _I64)
        mm = np.empty(n, _I64)
        if isolated.any():
            eq[isolated] = ctx.equity(new, rows[isolated])
            mm[isolated] = ctx.maintenance(new, rows[isolated])
        if (~isolated).any():
            eq[~isolated] = view.cross_equity(accts[~isolated])
            mm[~isolated] = view.cross_mm(accts[~isolated])
        bp = ctx.bankruptcy_price(new, rows)
        marks = ctx.ref_prices(new, rows)
        size = new.start_size
        ctx.emit(ev.LIQUIDATION_TRIGGERED, n, instr=instrs, acct=accts, price=marks, qty=size,
                 a1=eq, a2=mm, a3=bp, flag=isolated.astype(_I64))
        if self._alert_at_trigger:
            ctx.emit(ev.MARGIN_CALL, n, code=100, instr=instrs, acct=accts, price=marks, qty=size,
                     a1=eq, a2=mm, a3=100, flag=isolated.astype(_I64))
            ctx.stats.margin_calls += n
        ctx.stats.triggered += n
        return new

    def _waterfall(self, ctx, batch: Cases) -> None:
        n = len(batch)
        rows = np.arange(n, dtype=_I64)
        start = np.where(batch.status == WAITING, batch.resume, 0)
        # a case waiting to retry is over if its account is compliant again
        retry = np.flatnonzero(batch.status == RETRY)
        if len(retry):
            ok = ctx.compliant(batch, retry)
            batch.status[retry[ok]] = DONE
            batch.resolved[retry[ok]] = True
        batch.status[batch.status != DONE] = ACTIVE
        for mi, module in enumerate(self.waterfall):
            act = rows[(batch.status == ACTIVE) & (start <= mi)]
            if len(act) == 0:
                continue
            out = module.process(ctx, batch, act)
            st = out.state
            r = out.rows
            if (st != CONTINUE).any():
                batch.status[r[st == WAIT]] = WAITING
                batch.resume[r[st == WAIT]] = mi
                batch.status[r[st == RESTART]] = RETRY
                batch.resume[r[st == RESTART]] = 0
                batch.status[r[st == RESOLVED]] = DONE
                batch.resolved[r[st == RESOLVED]] = True
            # rows with nothing left to do (closed, zero equity) need no further module
            go = r[st == CONTINUE]
            if len(go):
                finished = (ctx.size(batch, go) == 0) & (ctx.equity(batch, go) == 0)
                batch.status[go[finished]] = DONE
        # after the last module: book what nobody covered, decide what is left
        live = rows[batch.status != DONE]
        if len(live):
            waiting = batch.status[live] == WAITING
            book = live[~waiting]
            if len(book):
                self._book_bad_debt(ctx, batch, book)
            act = live[batch.status[live] == ACTIVE]
            if len(act):
                open_ = ctx.size(batch, act) != 0
                batch.status[act[open_]] = RETRY
                batch.resume[act[open_]] = 0
                batch.status[act[~open_]] = DONE
            # a case left to retry whose account is compliant again is over (for a cross
            # account: all its rows, since compliance is the account's)
            retry = live[batch.status[live] == RETRY]
            if len(retry):
                ok = ctx.compliant(batch, retry) & (ctx.size(batch, retry) != 0)
                batch.status[retry[ok]] = DONE
                batch.resolved[retry[ok]] = True
        # cross cases finish together: a closed cross row waits for its account's other rows
        self._hold_cross(batch)

    def _book_bad_debt(self, ctx, batch: Cases, rows: np.ndarray) -> None:
        need = ctx.deficit(batch, rows)
        m = need > 0
        if not m.any():
            return
        r, amt = rows[m], need[m]
        open_ = ctx.size(batch, r) != 0
        before = int(self.core.bad_debt)
        ctx.credit(batch, r, L_BAD_DEBT, -1, -1, amt, ev.MODULE_CODES["engine"])
        batch.bad_debt[r] += amt
        ctx.stats.bad_debt += int(amt.sum())
        ctx.emit(ev.BAD_DEBT_BOOKED, len(r), instr=batch.instr[r], acct=batch.acct[r], a1=amt,
                 a2=before - np.cumsum(amt), flag=open_.astype(_I64))

    def _hold_cross(self, batch: Cases) -> None:
        cross_done = (batch.status == DONE) & ~batch.isolated
        if not cross_done.any():
            return
        busy = batch.acct[~batch.isolated & (batch.status != DONE)]
        if len(busy) == 0:
            return
        hold = cross_done & isin_ids(batch.acct, busy, self.view.n_acct) & ~batch.resolved
        batch.status[hold] = RETRY

    def _finish(self, ctx, batch: Cases, done: np.ndarray, live: Cases) -> None:
        if len(done) == 0:
            return
        left = ctx.size(batch, done)
        # a closed isolated case can end with a negative bucket and the same amount in its
        # wallet share (released margin of earlier partial closes): net them, so the flat
        # position's bucket is not left negative
        v = self.view
        r = done[batch.isolated[done] & (left == 0)]
        if len(r):
            i, a = batch.instr[r], batch.acct[r]
            amt = np.minimum(np.maximum(-gather(v.iso, i, a), 0), np.maximum(batch.wshare[r], 0))
            m = amt > 0
            if m.any():
                self.core.ledger_moves(np.zeros(int(m.sum()), _I64), a[m],
                                       np.ones(int(m.sum()), _I64), a[m], amt[m], i[m],
                                       ev.MODULE_CODES["engine"])
                batch.wshare[r[m]] -= amt[m]
                ctx._changed(batch, r[m])
        for module in self.waterfall:
            hook = getattr(module, "on_cases_done", None)
            if hook is not None:
                hook(ctx, batch.case_id[done])
        eq = ctx.equity(batch, done)
        ctx.emit(ev.LIQUIDATION_COMPLETED, len(done), instr=batch.instr[done],
                 acct=batch.acct[done], qty=np.abs(left), a1=eq,
                 flag=batch.resolved[done].astype(_I64))
        ctx.stats.completed += len(done)
        accts = batch.acct[done]
        busy = np.concatenate((live.acct, self._pending.acct))
        free = accts[~isin_ids(accts, busy, self.view.n_acct)]
        exempt = self.exempt
        if len(exempt) and len(free):
            free = free[~np.isin(free, exempt)]          # the fund's account stays flagged
        if len(free):
            self.core.set_account_flags(free, False)

    # -- margin calls -------------------------------------------------------------------------
    def _margin_calls(self, idx: LiquidationIndex, instr: int, prev: int, mark: int,
                      liquidated: np.ndarray) -> int:
        """Margin calls for the positions the move carried into a threshold's zone — not for
        those it carried straight past their liquidation price (``liquidated``): the alert
        comes before a liquidation, not with it."""
        view = self.view
        total = 0
        exempt = self.exempt
        for pct in self._alert_levels:
            ent = idx.entered(pct, prev, mark)
            if len(ent) == 0:
                continue
            if len(self._multi):
                ent = ent[~isin_ids(ent, self._multi, self.view.n_acct)]
            if len(liquidated):
                ent = ent[~isin_ids(ent, liquidated, self.view.n_acct)]
            if len(exempt):
                # the fund's account sits below maintenance by design: no margin calls
                ent = ent[~np.isin(ent, exempt)]
            ent = ent[view.margin_ratio_pct_reached(instr, ent, pct)]
            if len(ent):
                self._emit_calls(instr, ent, pct)
                total += len(ent)
        return total

    def _multi_calls(self, instr: int, accts: np.ndarray) -> int:
        view = self.view
        exempt = self.exempt
        if len(exempt):
            accts = accts[~np.isin(accts, exempt)]
        total = 0
        level = np.zeros(len(accts), _I64)
        for li, pct in enumerate(self._alert_levels, start=1):
            level[view.margin_ratio_pct_reached(instr, accts, pct)] = li
        for a, lv in zip(accts.tolist(), level.tolist()):
            old = self._multi_level.get(a, 0)
            if lv > old:
                for li in range(old + 1, lv + 1):
                    self._emit_calls(instr, np.array([a]), self._alert_levels[li - 1])
                    total += 1
            self._multi_level[a] = lv
        return total

    def _emit_calls(self, instr: int, accts: np.ndarray, pct: int) -> None:
        view = self.view
        iso = view.mode[instr, accts] == 1
        eq = np.where(iso, view.isolated_equity(instr, accts), 0)
        mm = np.where(iso, view.position_mm(instr, accts), 0)
        if (~iso).any():
            eq[~iso] = view.cross_equity(accts[~iso])
            mm[~iso] = view.cross_mm(accts[~iso])
        cols = [np.broadcast_to(np.asarray(x, _I64), (len(accts),)) for x in (
            pct, instr, accts, 0, 0, int(view.mark[instr]), view.size[instr, accts], eq, mm, pct,
            iso.astype(_I64))]
        self.core.emit_many(ev.MARGIN_CALL, *cols)

    # -- index upkeep -----------------------------------------------------------------------
    def _touch(self, accts: np.ndarray) -> None:
        if len(accts) == 0:
            return
        for idx in self.indexes:
            idx.mark_dirty(accts)
        if self.n_instr > 1:
            self._refresh_multi(accts)
        if self.params.flush_eager:
            for idx in self.indexes:
                idx.flush()

    def _refresh_multi(self, accts: np.ndarray | None = None) -> None:
        """The accounts holding two or more cross positions (re-checked exactly at every
        mark): recomputed for ``accts`` only (O(len(accts)·instruments)), or for every account
        (O(accounts·instruments))."""
        if self.n_instr < 2:
            return
        v = self.view
        v.refresh()
        if accts is None:
            n_cross = ((v.mode == 0) & (v.size != 0)).sum(axis=0)
            self._multi = np.flatnonzero(n_cross >= 2).astype(_I64)
            return
        accts = accts[(accts >= 0) & (accts < v.n_acct)]
        if len(accts) == 0:
            return
        n_cross = ((v.mode[:, accts] == 0) & (v.size[:, accts] != 0)).sum(axis=0)
        keep = self._multi[~isin_ids(self._multi, accts, v.n_acct)] if len(self._multi) else self._multi
        self._multi = unique_ids(np.concatenate((keep, accts[n_cross >= 2])), v.n_acct)

    def _auction_module(self, required: bool = True):
        for m in self.waterfall:
            if m.name == "auction":
                return m
        if required:
            raise InvalidCommandError("'auction_id' needs an 'auction' module in the waterfall")
        return None
