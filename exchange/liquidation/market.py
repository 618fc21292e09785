"""``market``: cancel the account's orders, then close into the book (Binance, Bybit, HL, dYdX).

Reference §4.1–4.5. Each case sends one venue liquidation order (IOC, or FOK for BitMEX-style
``close_order="fok"``), no risk checks, liquidation fee to the insurance fund (the core does
that). What the book cannot absorb within the limit passes down the waterfall.

Worst price the order accepts (``close_price_limit``):

- ``"bankruptcy"``: the case's bankruptcy price (Binance, Bybit, BitMEX): a fill at it or
  better never leaves a deficit before the fee; ``fee_in_limit=True`` moves the limit so the
  liquidation fee is covered too.
- ``"none"``: a market order, bounded by ``slippage_rate`` around the mark when non-zero
  (Hyperliquid's market orders carry a slippage cap; a preset maps the instrument's
  ``market_take_bound_rate`` here). May close below bankruptcy: the deficit passes down.
- ``"dydx_fillable"``: dYdX's ``fill = (PNNV − ABR·SMMR·PMMR) / q`` with
  ``ABR = clamp(BA·(1 − TNC/TMMR), 0, 1)``, ``SMMR = smmr_rate``, ``BA = ba_rate``.
- ``"oracle_fee"``: Drift's ``oracle·(1 ∓ liquidator_fee_rate)`` (index price, else mark).

``slippage_rate`` and ``liquidator_fee_rate`` are one rate or a tuple with one per instrument.

How much one step closes (``partial``, :data:`exchange.presets.PARTIAL_LIQUIDATION_MODES`):

- ``"none"``: everything.
- ``"tier_step_down"`` (Binance "smart liquidation", Bybit/BitMEX risk-limit step-down): one
  IOC for the lots that bring the notional below its tier's floor (a lower maintenance rate);
  if the account is compliant after that fill (realised loss and fee included) the case ends;
  otherwise the rest is closed at once. Tier 0 positions close in full.
- ``"fraction"`` (Hyperliquid): above ``threshold_notional_atoms`` only ``fraction_rate`` of
  the position per order; after a partial, for ``cooldown_ms``, orders are full-size
  (``cooldown_full_size``, the HL docs' wording) or the case waits (the other reading). A
  partial that leaves the account non-compliant waits for the next step; one that fills
  nothing passes down (to the backstop).
- ``"per_block"`` (dYdX): per ``step_ms`` at most ``fraction_rate`` of the position, at least
  ``min_notional_atoms`` of notional, at most ``max_notional_per_step_atoms`` per account;
  the rest waits for the next block unless nothing filled or the account's equity is negative,
  in which case it passes down (deleveraging).
- ``"shortfall"`` (Drift): in full when the margin shortfall (against MM·(1 + the engine's
  ``liquidation_buffer_rate``), Drift's ``liquidation_margin_buffer_ratio``,
  programs/drift/src/controller/liquidation.rs, read 2026-12-02) is below
  ``full_below_shortfall_atoms``, else a share ``initial_fraction_rate`` growing linearly to
  100 % over ``duration_ms`` since the case began; the rest waits, and the case ends only
  once the buffered requirement is met.

Rates are parts per 1e8.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from exchange.errors import ConfigError, invalid
from exchange.liquidation._util import small_values
from exchange.liquidation.cases import RESOLVED, RESTART, Cases, Outcome
from exchange.liquidation.margin_view import RATE_SCALE
from exchange.presets.params import CLOSE_ORDER_TYPES, CLOSE_PRICE_LIMITS, PARTIAL_LIQUIDATION_MODES

__all__ = ["MarketModule"]

_I64 = np.int64
_NS_PER_MS = 1_000_000


def _rate(name: str, value, lo: int = 0, hi: int = RATE_SCALE) -> int:
    if type(value) is not int or not lo <= value <= hi:
        raise invalid(name, f"an int rate in [{lo}, {hi}] (parts per 1e8)", value, error=ConfigError)
    return value


def _nonneg(name: str, value) -> int:
    if type(value) is not int or value < 0:
        raise invalid(name, "an int >= 0", value, error=ConfigError)
    return value


class MarketModule:
    """Close distressed positions into the order book. See the module docs for parameters.

    >>> MarketModule(partial="fraction", fraction_rate=20_000_000, cooldown_ms=30_000).partial
    'fraction'
    >>> MarketModule(close_price_limit="best effort")
    Traceback (most recent call last):
    ...
    exchange.errors.ConfigError: 'close_price_limit' must be one of 'bankruptcy', 'dydx_fillable', 'oracle_fee', 'none' (got 'best effort')
    """  # noqa: E501

    name = "market"
    code = 1               # in events' ``code`` (MODULE_CODES, by registration)

    def __init__(self, close_order: str = "ioc", close_price_limit: str = "bankruptcy",
                 fee_in_limit: bool = False, slippage_rate: int | Sequence[int] = 0,
                 partial: str = "none", fraction_rate: int = 0,
                 threshold_notional_atoms: int = 0, cooldown_ms: int = 0,
                 cooldown_full_size: bool = True, min_notional_atoms: int = 0,
                 max_notional_per_step_atoms: int = 0, step_ms: int = 0,
                 full_below_shortfall_atoms: int = 0, initial_fraction_rate: int = 0,
                 duration_ms: int = 0, liquidator_fee_rate: int = 0,
                 smmr_rate: int = 150_000_000, ba_rate: int = RATE_SCALE,
                 cancel_orders: bool = True) -> None:
        for name, value, choices in (("close_order", close_order, CLOSE_ORDER_TYPES),
                                     ("close_price_limit", close_price_limit, CLOSE_PRICE_LIMITS),
                                     ("partial", partial, PARTIAL_LIQUIDATION_MODES)):
            if value not in choices:
                raise invalid(name, "one of " + ", ".join(repr(c) for c in choices), value,
                              error=ConfigError)
        self.close_order = close_order
        self.close_price_limit = close_price_limit
        self.fee_in_limit = bool(fee_in_limit)
        if isinstance(slippage_rate, int):
            self.slippage_rate: int | tuple[int, ...] = _rate("slippage_rate", slippage_rate)
        else:
            self.slippage_rate = tuple(_rate("slippage_rate", int(x)) for x in slippage_rate)
        self.partial = partial
        self.fraction_rate = _rate("fraction_rate", fraction_rate)
        self.threshold_notional_atoms = _nonneg("threshold_notional_atoms", threshold_notional_atoms)
        self.cooldown_ms = _nonneg("cooldown_ms", cooldown_ms)
        self.cooldown_full_size = bool(cooldown_full_size)
        self.min_notional_atoms = _nonneg("min_notional_atoms", min_notional_atoms)
        self.max_notional_per_step_atoms = _nonneg("max_notional_per_step_atoms",
                                                   max_notional_per_step_atoms)
        self.step_ms = _nonneg("step_ms", step_ms)
        self.full_below_shortfall_atoms = _nonneg("full_below_shortfall_atoms",
                                                  full_below_shortfall_atoms)
        self.initial_fraction_rate = _rate("initial_fraction_rate", initial_fraction_rate)
        self.duration_ms = _nonneg("duration_ms", duration_ms)
        if isinstance(liquidator_fee_rate, int):
            self.liquidator_fee_rate: int | tuple[int, ...] = _rate("liquidator_fee_rate",
                                                                    liquidator_fee_rate)
        else:
            self.liquidator_fee_rate = tuple(_rate("liquidator_fee_rate", int(x))
                                             for x in liquidator_fee_rate)
        self.smmr_rate = _rate("smmr_rate", smmr_rate, 0, 10 * RATE_SCALE)
        self.ba_rate = _rate("ba_rate", ba_rate, 0, 10 * RATE_SCALE)
        self.cancel_orders = bool(cancel_orders)
        if partial in ("fraction", "per_block") and fraction_rate <= 0:
            raise invalid("fraction_rate", f"> 0 when partial is {partial!r}", fraction_rate,
                          error=ConfigError)
        self.tif = 2 if close_order == "fok" else 1
        self._last_partial_ns: dict[tuple[int, int], int] = {}   # (acct, instr) -> ts
        self._last_block_ns: dict[tuple[int, int], int] = {}
        self._block_budget: dict[int, int] = {}                 # acct -> notional used
        self._block_step = -1

    # -- the module ------------------------------------------------------------------------
    def process(self, ctx, cases: Cases, rows: np.ndarray) -> Outcome:
        rows = np.asarray(rows, _I64)
        if self.cancel_orders:
            ctx.cancel_orders(cases, rows)
        n = len(rows)
        closed = np.zeros(n, _I64)
        notional = np.zeros(n, _I64)
        state = np.zeros(n, _I64)
        size = np.abs(ctx.size(cases, rows))
        live = np.flatnonzero(size > 0)
        if len(live) == 0:
            return Outcome.build(ctx, cases, rows, closed, notional, state)
        mode = self.partial
        if mode == "tier_step_down":
            self._tier_step_down(ctx, cases, rows, live, size, closed, notional, state)
        elif mode == "none":
            f, nt = self._close(ctx, cases, rows[live], size[live])
            closed[live] += f
            notional[live] += nt
        else:
            self._chunked(ctx, cases, rows, live, size, closed, notional, state)
        return Outcome.build(ctx, cases, rows, closed, notional, state)

    # -- partial modes ---------------------------------------------------------------------
    def _tier_step_down(self, ctx, cases, rows, live, size, closed, notional, state) -> None:
        v = ctx.view
        r = rows[live]
        step = np.zeros(len(r), _I64)
        for i in small_values(cases.instr[r], ctx.n_instr):
            m = cases.instr[r] == i
            floors = v.floors[i]
            unit = v.ref_price(i) * int(v.k[i])
            if unit <= 0 or len(floors) < 2:
                continue
            N = size[live][m] * unit
            t = np.searchsorted(floors, N, side="right") - 1
            keep_lots = np.where(t > 0, (floors[np.maximum(t, 0)] - 1) // unit, 0)
            step[m] = np.where(t > 0, size[live][m] - keep_lots, 0)
        first = step > 0
        if first.any():
            j = live[first]
            f, nt = self._close(ctx, cases, rows[j], step[first])
            closed[j] += f
            notional[j] += nt
            ok = ctx.compliant(cases, rows[j]) & (np.abs(ctx.size(cases, rows[j])) > 0)
            state[j[ok]] = RESOLVED
        rest = live[state[live] != RESOLVED]
        if len(rest):
            left = np.abs(ctx.size(cases, rows[rest]))
            go = left > 0
            if go.any():
                f, nt = self._close(ctx, cases, rows[rest[go]], left[go])
                closed[rest[go]] += f
                notional[rest[go]] += nt

    def _chunked(self, ctx, cases, rows, live, size, closed, notional, state) -> None:
        """fraction / per_block / shortfall: one chunk per step, the rest waits."""
        ts = ctx.ts_ns
        mode = self.partial
        r = rows[live]
        accts = cases.acct[r]
        instrs = cases.instr[r]
        unit = ctx.ref_prices(cases, r) * ctx.k(cases, r)
        qty = size[live].copy()
        skip = np.zeros(len(r), bool)
        if mode == "fraction":
            frac = -((-size[live] * self.fraction_rate) // RATE_SCALE)
            big = size[live] * unit > self.threshold_notional_atoms
            for j in range(len(r)):
                last = self._last_partial_ns.get((int(accts[j]), int(instrs[j])))
                cooling = last is not None and ts - last < self.cooldown_ms * _NS_PER_MS
                if cooling and not self.cooldown_full_size:
                    skip[j] = True
                elif big[j] and not cooling:
                    qty[j] = max(1, int(frac[j]))
        elif mode == "per_block":
            if ctx.step != self._block_step:
                self._block_step = ctx.step
                self._block_budget.clear()
            frac = -((-size[live] * self.fraction_rate) // RATE_SCALE)
            min_lots = -((-self.min_notional_atoms) // np.maximum(unit, 1))
            want = np.minimum(np.maximum(frac, min_lots), size[live])
            for j in range(len(r)):
                key = (int(accts[j]), int(instrs[j]))
                last = self._last_block_ns.get(key)
                if last is not None and ts - last < self.step_ms * _NS_PER_MS:
                    skip[j] = True
                    continue
                q = int(want[j])
                if self.max_notional_per_step_atoms:
                    used = self._block_budget.get(key[0], 0)
                    room = (self.max_notional_per_step_atoms - used) // max(int(unit[j]), 1)
                    q = min(q, max(int(room), 0))
                if q <= 0:
                    skip[j] = True
                    continue
                qty[j] = q
                self._last_block_ns[key] = ts
                self._block_budget[key[0]] = self._block_budget.get(key[0], 0) + q * int(unit[j])
        else:  # shortfall
            eq = ctx.equity(cases, r)
            mm = ctx.maintenance(cases, r)
            # Drift measures the shortfall against the margin requirement with its
            # liquidation buffer (MM·(1 + buffer)), the level the liquidation must restore
            short = np.maximum(ctx.target_margin(mm) - eq, 0)
            elapsed = ts - cases.ts_start[r]
            for j in range(len(r)):
                if short[j] < self.full_below_shortfall_atoms or self.duration_ms == 0:
                    continue
                share = self.initial_fraction_rate + (int(elapsed[j]) * RATE_SCALE) // (
                    self.duration_ms * _NS_PER_MS)
                share = min(share, RATE_SCALE)
                qty[j] = max(1, -((-int(size[live][j]) * share) // RATE_SCALE))
        go = ~skip
        state[live[skip]] = RESTART
        if not go.any():
            return
        j = live[go]
        f, nt = self._close(ctx, cases, rows[j], qty[go])
        closed[j] += f
        notional[j] += nt
        partial = (f > 0) & (f < size[j])
        if mode == "fraction":
            for jj in np.flatnonzero(partial & (qty[go] < size[j])):
                self._last_partial_ns[(int(cases.acct[rows[j[jj]]]), int(cases.instr[rows[j[jj]]]))] = ts
        left = np.abs(ctx.size(cases, rows[j]))
        comp = ctx.compliant(cases, rows[j])
        eq_ok = ctx.equity(cases, rows[j]) >= 0
        # made progress and the rest is not bankrupt: wait (or end, if compliant again)
        wait = (f > 0) & (left > 0) & eq_ok & (qty[go] < size[j])
        state[j[wait & comp]] = RESOLVED
        state[j[wait & ~comp]] = RESTART

    # -- one batch of closing orders --------------------------------------------------------
    def _close(self, ctx, cases: Cases, rows: np.ndarray, qty: np.ndarray):
        limit = self.limit_prices(ctx, cases, rows)
        f, nt, _ = ctx.close_in_book(cases, rows, qty, limit, self.tif, "market")
        return f, nt

    def limit_prices(self, ctx, cases: Cases, rows: np.ndarray) -> np.ndarray:
        """Worst price each case's closing order accepts (0 = market). O(n)."""
        v = ctx.view
        mode = self.close_price_limit
        q = ctx.size(cases, rows)
        long = q > 0
        S = RATE_SCALE
        if mode == "bankruptcy":
            fee = v.liq_fee[cases.instr[rows]] if self.fee_in_limit else None
            return ctx.bankruptcy_price(cases, rows, fee)
        ref = ctx.ref_prices(cases, rows)
        if mode == "none":
            slip = self._slip(cases.instr[rows])
            lo = np.maximum((ref * (S - slip)) // S, 1)
            hi = -((-ref * (S + slip)) // S)
            return np.where(slip > 0, np.where(long, lo, hi), 0)
        if mode == "oracle_fee":
            idx = v.index_price[cases.instr[rows]]
            base = np.where(idx > 0, idx, ref)
            f = _per_instr(self.liquidator_fee_rate, cases.instr[rows])
            return np.where(long, np.maximum(-((-base * (S - f)) // S), 1), (base * (S + f)) // S)
        # dydx_fillable: fill = (PNNV − ABR·SMMR·PMMR) / q, computed in float, rounded so
        # the order accepts no worse than it (long: up, short: down)
        eq = ctx.equity(cases, rows).astype(np.float64)
        mm = ctx.maintenance(cases, rows).astype(np.float64)
        k = ctx.k(cases, rows).astype(np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            abr = np.clip(self.ba_rate / S * (1.0 - np.where(mm > 0, eq / mm, 1.0)), 0.0, 1.0)
            fill = ref - abr * (self.smmr_rate / S) * mm / (q * k)
        fill = np.nan_to_num(fill, nan=0.0, posinf=0.0, neginf=0.0)
        out = np.where(long, np.ceil(fill), np.floor(fill)).astype(_I64)
        return np.maximum(out, 1)

    def _slip(self, instrs: np.ndarray) -> np.ndarray:
        return _per_instr(self.slippage_rate, instrs)


def _per_instr(value: int | tuple[int, ...], instrs: np.ndarray) -> np.ndarray:
    """A rate given once or per instrument (instruments beyond the tuple get 0)."""
    if isinstance(value, tuple):
        table = np.array(value + (0,), _I64)
        return table[np.minimum(instrs, len(value))]
    return np.full(len(instrs), value, _I64)
