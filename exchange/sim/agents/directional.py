"""The leveraged directional crowd (agent type ``directional``). See
:mod:`exchange.sim.agents`."""
from __future__ import annotations


import numpy as np

from exchange.sim.config import (Param, choice, integer_list, money, number,
                                 number_list)
from exchange.sim.context import SimContext
from exchange.sim.gateway import (IOC, LIMIT, MARKET, SUBMIT, OrderBatch)
from exchange.sim.agents.base import (MAX_DEPTH_BPS, MAX_LEVERAGE, MAX_MS, MAX_RATE_PER_MIN, MAX_S, NS_PER_S,
                                      _NEVER, _Population, _capital, _ms, _protected, _reference_ticks)

# -- DIRECTIONAL (LEVERAGED) TRADERS ---------------------------------------------------------

class DirectionalTraders(_Population):
    """The leveraged crowd whose liquidations make a cascade.

    Each trader enters at a random time in ``[start_s, start_s + warmup_s]``, then again an
    exponential delay (mean ``1/entry_rate_per_hour``) after each exit. An entry is a
    marketable IOC limit (``max_slippage_bps`` from the book mid) in the trader's direction
    (long with probability ``long_share``) for ``usage`` of equity times the policy leverage,
    capped by the venue's tier limit for that leverage. Leverage policies:

    - ``fixed``: per trader from ``leverage`` with ``leverage_weights`` (e.g. 3/5/10/20/50x);
    - ``vol_scaled``: that leverage divided by ``max(1, vol_ratio)^vol_sensitivity``;
    - ``tiered``: ``tier_fraction`` × the maximum leverage of the venue tier the notional
      falls in (two fixed-point passes), so large accounts run lower leverage.

    Exits: stop-loss (``stop_loss`` below/above entry, for a share ``stop_share`` of traders),
    take-profit (``take_profit``, share ``tp_share``), both on the last trade price, and a
    holding-time exit (mean ``hold_minutes``). A trader whose equity falls below
    ``bust_fraction`` of its starting capital stops trading (it was liquidated).
    """

    kind = "directional"
    PARAMS = {
        "capital": Param(money, "10000", "median capital"),
        "capital_sigma": Param(number(0.0, 3.0), 1.0, "log-sd of capital"),
        "long_share": Param(number(0.0, 1.0), 0.6, "probability a trader is long"),
        "leverage_policy": Param(choice("fixed", "vol_scaled", "tiered"), "fixed", ""),
        "leverage": Param(integer_list(1, MAX_LEVERAGE), (3, 5, 10, 20, 50), "leverage choices"),
        "leverage_weights": Param(number_list(0.0), (), "weights of the choices (default equal)"),
        "vol_sensitivity": Param(number(0.0, 5.0), 1.0, "vol_scaled exponent"),
        "tier_fraction": Param(number(0.0, 1.0, lo_open=True), 0.5, "tiered: share of tier max"),
        "usage": Param(number(0.0, 1.0, lo_open=True), 0.9, "share of equity used as margin"),
        "stop_loss": Param(number(0.0, 0.99), 0.0, "stop distance from entry (fraction)"),
        "stop_share": Param(number(0.0, 1.0), 1.0, "share of traders using stops"),
        "take_profit": Param(number(0.0, 10.0), 0.0, "take-profit distance (fraction)"),
        "tp_share": Param(number(0.0, 1.0), 1.0, "share of traders using take-profits"),
        "entry_rate_per_hour": Param(number(0.0, 60 * MAX_RATE_PER_MIN), 1.0,
                                     "re-entries per hour when flat"),
        "hold_minutes": Param(number(0.0, MAX_S / 60, lo_open=True), 120.0, "mean holding time"),
        "warmup_s": Param(number(0.0, MAX_S), 120.0, "first entries spread over this window"),
        "check_ms": Param(number(1.0, MAX_MS), 1000.0, "decision cadence"),
        "bust_fraction": Param(number(0.0, 1.0), 0.05, "stop trading below this equity share"),
        "margin_mode": Param(choice("cross", "isolated"), "cross", "margin mode of the position"),
        "max_slippage_bps": Param(number(0.0, MAX_DEPTH_BPS, lo_open=True), 30.0, "entry IOC limit "
                                  "distance from the mid"),
        "start_s": Param(number(0.0, MAX_S), 10.0, "entries begin after this (the book is built first)"),
    }

    @classmethod
    def parse(cls, source, path, table, settle_decimals=6):
        out = super().parse(source, path, table, settle_decimals)
        w = out["leverage_weights"]
        if w and len(w) != len(out["leverage"]):
            from exchange.sim.config import fail
            raise fail(source, f"{path}.leverage_weights",
                       f"a list of {len(out['leverage'])} weights (one per leverage)", list(w))
        if w and sum(w) <= 0:
            from exchange.sim.config import fail
            raise fail(source, f"{path}.leverage_weights", "weights with a positive sum", list(w))
        return out

    def setup(self, ctx: SimContext, ts_ns: int) -> int | None:
        p, rng, n = self.p, self.rng, self.n
        if n == 0:
            return None
        choices = np.asarray(p["leverage"], np.int64)
        w = np.asarray(p["leverage_weights"] or [1.0] * len(choices), float)
        self.lev = np.minimum(rng.choice(choices, size=n, p=w / w.sum()), ctx.max_leverage)
        self.capital = _capital(rng, n, p["capital"], p["capital_sigma"])
        self._setup_accounts(ctx, self.capital, self.lev)
        if p["margin_mode"] == "isolated":
            mode, instr = ctx.core.set_margin_mode, ctx.instr
            for a in self.accounts.tolist():
                mode(a, instr, 1)
        self.dir = np.where(rng.random(n) < p["long_share"], 1, -1).astype(np.int64)
        self.uses_stop = (rng.random(n) < p["stop_share"]) & (p["stop_loss"] > 0)
        self.uses_tp = (rng.random(n) < p["tp_share"]) & (p["take_profit"] > 0)
        self.next_entry = ts_ns + int(p["start_s"] * NS_PER_S) + (
            rng.random(n) * p["warmup_s"] * NS_PER_S).astype(np.int64)
        self.exit_at = np.full(n, _NEVER, np.int64)
        self.stop = np.zeros(n, np.int64)
        self.tp = np.zeros(n, np.int64)
        self.busy_until = np.zeros(n, np.int64)
        self.busted = np.zeros(n, bool)
        self.check_ns = _ms(p["check_ms"])
        self.entries = 0
        self.stops_hit = 0
        return ts_ns + int(rng.integers(0, self.check_ns))

    def _entry_delay(self, k: int) -> np.ndarray:
        rate = self.p["entry_rate_per_hour"]
        if rate <= 0:
            return np.full(k, 10**17, np.int64)
        delay = self.rng.exponential(3600.0 / rate, k) * NS_PER_S
        return np.minimum(delay, 1e17).astype(np.int64)

    def _policy_leverage(self, ctx: SimContext, idx: np.ndarray, equity: np.ndarray,
                         ref: int) -> np.ndarray:
        p = self.p
        lev = self.lev[idx].astype(np.float64)
        policy = p["leverage_policy"]
        if policy == "vol_scaled":
            lev = lev / max(1.0, ctx.market.vol_ratio) ** p["vol_sensitivity"]
        elif policy == "tiered":
            tiers = ctx.spec.tiers
            floors = np.asarray([t.notional_floor_atoms for t in tiers], np.float64)
            maxlev = np.asarray([t.max_leverage for t in tiers], np.float64)
            L = np.full(idx.shape[0], maxlev[0] * p["tier_fraction"])
            for _ in range(2):
                notional = equity * L * p["usage"]
                t = np.searchsorted(floors, notional, side="right") - 1
                L = np.minimum(L, np.maximum(1.0, np.floor(maxlev[t] * p["tier_fraction"])))
            lev = np.minimum(L, ctx.max_leverage)
        return np.maximum(1, np.floor(lev)).astype(np.int64)

    def wake(self, ctx: SimContext, ts_ns: int) -> int | None:
        nxt = ts_ns + self.check_ns
        mkt = ctx.market
        if mkt.stale or mkt.mark_ticks <= 0:
            return nxt
        p = self.p
        arr = ctx.arrays()
        accts = self.accounts
        pos = arr["size"][ctx.instr][accts]
        price = mkt.price_ticks()
        ready = (self.busy_until <= ts_ns) & (arr["acct_flags"][accts] == 0)
        parts: list[OrderBatch] = []
        # -- exits: stop-loss, take-profit, holding time
        hold = (pos != 0) & ready
        if hold.any():
            longp = pos > 0
            stop_hit = self.uses_stop & (self.stop > 0) & np.where(longp, price <= self.stop,
                                                                   price >= self.stop)
            tp_hit = self.uses_tp & (self.tp > 0) & np.where(longp, price >= self.tp,
                                                             price <= self.tp)
            out = hold & (stop_hit | tp_hit | (ts_ns >= self.exit_at))
            idx = np.flatnonzero(out)
            if idx.shape[0]:
                self.stops_hit += int((out & stop_hit).sum())
                parts.append(OrderBatch(ts_ns + self.lat[idx], accts[idx], kind=SUBMIT,
                                        side=np.where(pos[idx] > 0, 1, 0), qty=np.abs(pos[idx]),
                                        otype=MARKET, tif=IOC, reduce_only=1))
                self.busy_until[idx] = ts_ns + self.lat[idx] + self.check_ns
                self.next_entry[idx] = ts_ns + self._entry_delay(idx.shape[0])
                self.exit_at[idx] = _NEVER
        # -- flat without a planned entry: liquidated, or the entry was refused
        lost = (pos == 0) & ready & (self.next_entry == _NEVER)
        if lost.any():
            idx = np.flatnonzero(lost)
            self.next_entry[idx] = ts_ns + self._entry_delay(idx.shape[0])
            self.exit_at[idx] = _NEVER
        # -- entries
        flat = (pos == 0) & ready & ~self.busted & (self.next_entry <= ts_ns)
        if flat.any():
            idx = np.flatnonzero(flat)
            wallet = arr["wallet"][accts[idx]]
            bust = wallet < self.capital[idx] * p["bust_fraction"]
            if bust.any():
                self.busted[idx[bust]] = True
                idx, wallet = idx[~bust], wallet[~bust]
            if idx.shape[0]:
                eq = wallet.astype(np.float64)
                lev = self._policy_leverage(ctx, idx, eq, price)
                notional = eq * lev * p["usage"]
                caps = np.asarray([ctx.notional_cap_atoms(int(L)) for L in lev.tolist()], np.float64)
                notional = np.minimum(notional, caps * 0.98)
                qty = np.floor(notional / (mkt.mark_ticks * ctx.k)).astype(np.int64)
                ok = qty > 0
                idx, qty = idx[ok], qty[ok]
                if idx.shape[0]:
                    d = self.dir[idx]
                    limit = _protected(_reference_ticks(ctx), d > 0, p["max_slippage_bps"])
                    parts.append(OrderBatch(ts_ns + self.lat[idx], accts[idx], kind=SUBMIT,
                                            side=np.where(d > 0, 0, 1), qty=qty, price=limit,
                                            otype=LIMIT, tif=IOC))
                    ref = mkt.mark_ticks
                    self.stop[idx] = np.rint(ref * (1.0 - d * p["stop_loss"])).astype(np.int64)
                    self.tp[idx] = np.rint(ref * (1.0 + d * p["take_profit"])).astype(np.int64)
                    hold_s = self.rng.exponential(p["hold_minutes"] * 60.0, idx.shape[0])
                    self.exit_at[idx] = ts_ns + (hold_s * NS_PER_S).astype(np.int64)
                    self.busy_until[idx] = ts_ns + self.lat[idx] + self.check_ns
                    self.next_entry[idx] = _NEVER
                    self.entries += int(idx.shape[0])
        if parts:
            ctx.send(OrderBatch.concat(parts), results=False)
        return nxt
