"""Keepers / liquidators (agent type ``keeper``). See :mod:`exchange.sim.agents`."""
from __future__ import annotations

import math

import numpy as np

from exchange.sim.config import (Param, integer, money, number,
                                 number_list)
from exchange.sim.context import SimContext, lognormal_factors
from exchange.units import RATE_SCALE
from exchange.sim.gateway import (CANCEL_IF_OPEN, IOC, LIMIT, MARKET, POST_ONLY, SUBMIT, OrderBatch)
from exchange.sim.agents.base import (MAX_BASE_QTY, MAX_DEPTH_BPS, MAX_LEVERAGE, MAX_MS, MAX_S, NS_PER_S,
                                      _NEVER, _ms, _Quoting)

# -- KEEPERS / LIQUIDATORS -------------------------------------------------------------------

class Keepers(_Quoting):
    """Liquidators. Rest deep bids and asks at ``depths_bps`` from spot (the index's
    constituents as they trade now; ``size`` each, requoted every ``requote_ms`` and at once
    when spot or the mark moves a quarter of the nearest distance) — the resting liquidity
    that catches liquidation orders in a vacuum — and bid in liquidation auctions (when the
    waterfall has an auction module) for
    lots priced at least ``auction_discount_bps`` below the mark (above for shorts), within
    their free margin. Inventory is unwound with reduce-only market orders (a quarter per wake)
    once the mark gives back ``unwind_bps`` or after ``unwind_s``.
    """

    kind = "keeper"
    PARAMS = {
        "capital": Param(money, "1000000", "capital per keeper"),
        "leverage": Param(integer(1, MAX_LEVERAGE), 5, "account leverage setting"),
        "depths_bps": Param(number_list(0.0, MAX_DEPTH_BPS), (150.0, 300.0, 500.0, 800.0), "resting levels"),
        "size": Param(number(0.0, MAX_BASE_QTY, lo_open=True), 0.2, "base quantity per level"),
        "requote_ms": Param(number(1.0, MAX_MS), 5000.0, "requote cadence"),
        "auction_discount_bps": Param(number(0.0, MAX_DEPTH_BPS), 100.0, "minimum auction discount"),
        "unwind_bps": Param(number(0.0, MAX_DEPTH_BPS), 30.0, "profit that triggers unwinding"),
        "unwind_s": Param(number(0.0, MAX_S), 300.0, "unwind anyway after this long"),
    }

    def setup(self, ctx: SimContext, ts_ns: int) -> int | None:
        p, rng, n = self.p, self.rng, self.n
        if n == 0:
            return None
        self._setup_accounts(ctx, np.full(n, p["capital"], np.int64), p["leverage"])
        self.depths = np.asarray(p["depths_bps"], float) * lognormal_factors(rng, 1, 0.1)[0]
        self.size_lots = max(1, int(round(p["size"] / ctx.lot_size)))
        self.oids = np.zeros((n, 2 * self.depths.shape[0]), np.int64)
        self._pending: OrderBatch | None = None
        self._slots = np.empty(0, np.int64)
        self.since = np.full(n, _NEVER, np.int64)
        self.requote_ns = _ms(p["requote_ms"])
        self.auction_fills = 0
        self._q_spot = self._q_mark = 0     # spot and mark when the levels were last set
        self._retry = False
        return ts_ns + int(rng.integers(0, self.requote_ns))

    def on_market(self, ctx: SimContext, ts_ns: int) -> None:
        """Spot or the venue's mark moved a quarter of the nearest level's distance since
        the levels were set (a gap): requote now, so the deep bids (asks) made before the
        move do not rest above (below) the new price. O(1) unless it requotes."""
        if self.n == 0 or self._q_spot <= 0:
            return
        self._requote_on_move(ctx, ts_ns, float(self.depths.min()) * 0.25e-4,
                              int(np.median(self.lat)))

    def _requote(self, ctx: SimContext, ts_ns: int) -> None:
        """Cancel the resting levels, unwind inventory, rest the new levels around spot."""
        mkt = ctx.market
        if mkt.stale or mkt.index_ticks <= 0:
            return
        p, n = self.p, self.n
        ref = mkt.spot_ticks or mkt.index_ticks
        self._q_spot, self._q_mark = ref, mkt.mark_ticks
        parts: list[OrderBatch] = []
        m, j = np.nonzero(self.oids)
        if m.shape[0]:
            parts.append(OrderBatch(ts_ns + self.lat[m], self.accounts[m], kind=CANCEL_IF_OPEN,
                                    target=self.oids[m, j]))
            self.oids[:] = 0
        # unwind inventory
        arr = ctx.arrays()
        pos = arr["size"][ctx.instr][self.accounts]
        cost = arr["cost"][ctx.instr][self.accounts]
        held = pos != 0
        self.since = np.where(held, np.minimum(self.since, ts_ns), _NEVER)
        if held.any():
            entry = np.where(held, np.abs(cost) / np.maximum(1, np.abs(pos) * ctx.k), 0.0)
            gain_bps = np.where(pos > 0, mkt.mark_ticks / np.maximum(entry, 1) - 1.0,
                                1.0 - mkt.mark_ticks / np.maximum(entry, 1)) * 1e4
            go = held & ((gain_bps >= p["unwind_bps"])
                         | (ts_ns - self.since >= int(p["unwind_s"] * NS_PER_S)))
            idx = np.flatnonzero(go)
            if idx.shape[0]:
                q = np.maximum(1, np.abs(pos[idx]) // 4)
                parts.append(OrderBatch(ts_ns + self.lat[idx], self.accounts[idx], kind=SUBMIT,
                                        side=np.where(pos[idx] > 0, 1, 0), qty=q, otype=MARKET,
                                        tif=IOC, reduce_only=1))
        # resting deep levels: bids below, asks above
        D = self.depths.shape[0]
        bid = np.floor(ref * (1.0 - self.depths * 1e-4)).astype(np.int64)
        ask = np.ceil(ref * (1.0 + self.depths * 1e-4)).astype(np.int64)
        price = np.concatenate([bid, ask])
        side = np.concatenate([np.zeros(D, np.int64), np.ones(D, np.int64)])
        band = ctx.spec.price_band_rate
        mark = mkt.mark_ticks or ref
        ok = price > 0
        if band:
            ok &= np.abs(price - mark) * RATE_SCALE <= band * mark
        cols = np.flatnonzero(ok)
        if cols.shape[0]:
            mm = np.repeat(np.arange(n), cols.shape[0])
            jj = np.tile(cols, n)
            self._slots = mm * (2 * D) + jj
            parts.append(OrderBatch(ts_ns + self.lat[mm], self.accounts[mm], kind=SUBMIT,
                                    side=side[jj], qty=self.size_lots, price=price[jj],
                                    otype=LIMIT, tif=POST_ONLY))
        else:
            self._slots = np.empty(0, np.int64)
        if parts:
            self._pending = ctx.send(OrderBatch.concat(parts))

    def on_auction(self, ctx: SimContext, auction: dict, lots_left: int, ts_ns: int) -> list:
        """Bids for a running liquidation auction (``auction``: a dict of
        :meth:`LiquidationEngine.auctions`): ``(account, lots, limit price, arrival ns)`` for
        keepers whose free margin allows it, when the price is at least
        ``auction_discount_bps`` better than the mark. The limit protects the bidder from the
        price moving before the bid arrives."""
        mkt = ctx.market
        if self.n == 0 or mkt.mark_ticks <= 0:
            return []
        disc = self.p["auction_discount_bps"] * 1e-4
        px = int(auction["price"])
        mark = mkt.mark_ticks
        if auction["side"] == 0:          # a long on sale: the bidder buys it below the mark
            limit = int(mark * (1 - disc))
            if px <= 0 or px > limit:
                return []
        else:                             # a short on sale: the bidder takes it above the mark
            limit = int(math.ceil(mark * (1 + disc)))
            if px < limit:
                return []
        core = ctx.core
        lev = ctx.arrays()["lev"][ctx.instr]
        bids = []
        left = int(lots_left)
        for i in self.rng.permutation(self.n).tolist():
            if left <= 0:
                break
            a = int(self.accounts[i])
            afford = int(core.available(a) * int(lev[a]) * 0.5 // max(1, px * ctx.k))
            q = min(left, afford)
            if q > 0:
                bids.append((a, q, limit, ts_ns + int(self.lat[i])))
                left -= q
        self.auction_bids = getattr(self, "auction_bids", 0) + len(bids)
        return bids
