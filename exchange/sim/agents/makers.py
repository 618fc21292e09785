"""Market makers (agent type ``market_maker``). See :mod:`exchange.sim.agents`."""
from __future__ import annotations

import math

import numpy as np

from exchange.sim.config import (Param, choice, integer, money, number)
from exchange.sim.context import SimContext, lognormal_factors
from exchange.sim.gateway import (CANCEL_IF_OPEN, COL, ORDER_DTYPE,
                                  POST_ONLY, OrderBatch, rows_matrix)
from exchange.sim.agents.base import (MAX_BASE_QTY, MAX_DEPTH_BPS, MAX_LEVERAGE, MAX_MS, MAX_RATIO, MAX_S,
                                      NS_PER_S, _ms, _Quoting)

# -- MARKET MAKERS ---------------------------------------------------------------------------

class MarketMakers(_Quoting):
    """Quote ladders around a reference price with inventory skew and a volatility response.

    Each wake (``requote_ms``): cancel the previous quotes that still rest, then post
    ``levels`` post-only bids and asks at ``half_spread_bps + l·level_step_bps`` (l = 0..)
    from the reference, shifted by ``-skew_bps · inventory/limit`` and widened by up
    to ``widen_factor`` once the volatility ratio passes ``widen_vol_ratio``. With the
    ``mid`` anchor (the default) the reference is the makers' fair value
    (:meth:`_fair_value`), every maker's first level sits on the ticks either side of it
    (shifted by the makers' mean inventory; deeper levels carry each one's own skew) and the
    population requotes as one colocated batch (all cancels, then all quotes), so the inside
    is one tick whenever the first levels stand. A maker whose
    own threshold (around ``pull_vol_ratio``) is crossed pulls every quote for ``pull_s``
    seconds; a ``mm_withdraw`` shock pulls a fraction of the makers for its duration. At the
    inventory limit the side that would grow it is not quoted. Cost per wake: O(n·levels)
    numpy plus one command per quote.
    """

    kind = "market_maker"
    PARAMS = {
        "capital": Param(money, "2000000", "capital per maker"),
        "leverage": Param(integer(1, MAX_LEVERAGE), 10, "account leverage setting"),
        "levels": Param(integer(1, 50), 5, "quotes per side"),
        "half_spread_bps": Param(number(0.0, MAX_DEPTH_BPS), 2.0, "distance of the first level from "
                                 "the centre (0: the ticks either side of it, a one-tick spread)"),
        "level_step_bps": Param(number(0.0, MAX_DEPTH_BPS), 3.0, "distance between levels"),
        "size": Param(number(0.0, MAX_BASE_QTY, lo_open=True), 0.05, "base quantity of the first level"),
        "size_growth": Param(number(0.1, 10.0), 1.5, "size multiplier per level"),
        "inventory_limit": Param(number(0.0, MAX_BASE_QTY, lo_open=True), 2.0, "base quantity"),
        "skew_bps": Param(number(0.0, MAX_DEPTH_BPS), 10.0, "quote-centre shift at the inventory limit"),
        "requote_ms": Param(number(1.0, MAX_MS), 1000.0, "requote cadence"),
        "widen_vol_ratio": Param(number(1.0, MAX_RATIO), 3.0, "vol ratio where spreads start to widen"),
        "widen_factor": Param(number(1.0, MAX_RATIO), 4.0, "max spread multiplier"),
        "widen_half_life_s": Param(number(0.0, MAX_S), 0.0, "half-life of the widening after a "
                                   "volatility event (0: it lasts as long as the ratio)"),
        "pull_vol_ratio": Param(number(1.0, MAX_RATIO), 10.0, "vol ratio where makers pull quotes"),
        "pull_s": Param(number(0.0, MAX_S), 60.0, "how long a maker stays out after pulling"),
        "dispersion": Param(number(0.0, 3.0), 0.3, "log-sd of per-maker spreads, sizes, thresholds"),
        "anchor": Param(choice("mid", "index", "mark"), "mid", "reference price: the perp's own "
                        "mid (a fair value that follows the index's moves), the index or the mark"),
        "index_beta": Param(number(0.0, 2.0), 1.0, "mid anchor: share of each index return "
                            "carried into the fair value (spot leads the perp)"),
        "mid_gain": Param(number(0.0, 1.0), 0.5, "mid anchor: per-wake weight of the book mid "
                          "(or last trade) in the fair value"),
        "index_pull": Param(number(0.0, 1.0), 0.0, "mid anchor: per-wake pull of the fair value "
                            "towards the index level (0: makers do not peg the perp)"),
        "flow_impact_bps": Param(number(0.0, MAX_DEPTH_BPS), 0.5, "mid anchor: permanent move of the fair "
                                 "value per base unit of net taker flow the makers absorbed"),
        "max_learn_bps": Param(number(0.0, MAX_DEPTH_BPS, lo_open=True), 5.0, "mid anchor: largest move per "
                               "wake the book mid can teach the fair value"),
        "reprice_bps": Param(number(0.0, MAX_DEPTH_BPS), 5.0, "requote at once (not waiting for "
                             "the cadence) when spot or the venue's mark moved this much since "
                             "the last quotes (0: only on the cadence)"),
    }

    def setup(self, ctx: SimContext, ts_ns: int) -> int | None:
        p, rng, n = self.p, self.rng, self.n
        if n == 0:
            return None
        self._setup_accounts(ctx, np.full(n, p["capital"], np.int64), p["leverage"])
        L = p["levels"]
        disp = p["dispersion"]
        self.half_bps = p["half_spread_bps"] * lognormal_factors(rng, n, disp)
        self.size_lots = np.maximum(1, np.rint(p["size"] * lognormal_factors(rng, n, disp)
                                               / ctx.lot_size)).astype(np.int64)
        self.offsets = p["level_step_bps"] * np.arange(L)
        growth = p["size_growth"] ** np.arange(L)
        self.ladder = np.maximum(1, np.rint(self.size_lots[:, None] * growth[None, :])).astype(np.int64)
        self.limit_lots = max(1, int(round(p["inventory_limit"] / ctx.lot_size)))
        self.pull_thr = p["pull_vol_ratio"] * lognormal_factors(rng, n, disp)
        self.pulled_until = np.zeros(n, np.int64)
        self.pull_seen = np.zeros(n)
        self._event_ratio, self._event_ns = 0.0, 0
        # flat per-slot tables: slot = maker * 2L + j, j < L bids (best first), j >= L asks
        S = 2 * L
        self._slot_mm = np.repeat(np.arange(n), S)
        j = np.tile(np.arange(S), n)
        self._slot_sign = np.where(j < L, -1.0, 1.0)
        self._slot_lvl = np.tile(np.concatenate([self.offsets, self.offsets]), n)
        self._slot_side = (j >= L).astype(np.int64)
        self._slot_bid = j < L
        self._slot_qty = np.concatenate([self.ladder, self.ladder], axis=1).reshape(-1)
        self._slot_acct = self.accounts[self._slot_mm]
        self.oids = np.zeros(n * S, np.int64)
        self._pending: OrderBatch | None = None
        self._slots = np.empty(0, np.int64)
        self._slot_lat = self.lat[self._slot_mm]
        self._common_lat = int(np.median(self.lat))
        self.requote_ns = _ms(p["requote_ms"])
        self.fair = 0.0             # mid anchor: the population's fair value (ticks)
        self._shift = 0.0           # mid anchor: inventory shift of the last quotes (ticks)
        self._inv_prev: float | None = None
        self._index_prev = 0        # spot (else the index) at the last fair-value update
        self._q_spot = self._q_mark = 0     # spot and mark when the last quotes were made
        self._retry = False
        # stagger the first quotes over one requote period
        return ts_ns + int(rng.integers(0, max(1, self.requote_ns // 10)))

    def _fair_value(self, ctx: SimContext) -> float:
        """The mid anchor's fair value (ticks). Market makers on a perpetual quote around its
        own book, not around the index: the fair value moves with each return of spot (the
        index's constituents as they trade now, which the venue's index follows
        ``index.feed_latency_ms`` late; ``index_beta``), learns the book mid or the last trade
        (``mid_gain``), moves with the net taker flow it absorbed (``flow_impact_bps`` per base
        unit: the permanent
        impact of Kyle, Econometrica 1985) and is pulled towards the index level only by
        ``index_pull`` (0 by default), so the basis is
        left to the traders whom funding pays to close it (He, Manela, Ross, von Wachter,
        "Fundamentals of Perpetual Futures", arXiv 2212.06888, read 2026-12-02). O(1)."""
        mkt = ctx.market
        idx = mkt.index_ticks
        spot = mkt.spot_ticks or idx        # the makers watch the index's constituents
        p = self.p
        move = 1.0
        if self.fair <= 0:
            self.fair = float(idx)
        elif self._index_prev > 0:
            move = (spot / self._index_prev) ** p["index_beta"]
            self.fair *= move
        self._index_prev = spot
        book = ctx.book()
        bb, ba = book.best_bid(), book.best_ask()
        if bb and ba and ba > bb:
            ref = (bb + ba) / 2.0
        else:
            ref = float(mkt.last_ticks or 0)
        if ref > 0:
            # the book still shows quotes made before this index move: carry it to them too;
            # a gap in the book (a one-sided book's last trade far away) teaches at most
            # ``max_learn_bps`` per wake, so an empty side cannot ratchet the fair value
            # (the makers' own inventory shift of the last quotes is taken out first: the
            # fair value learns the market, not the makers' own skew)
            step = p["max_learn_bps"] * 1e-4 * self.fair
            seen = (ref - self._shift) * move
            self.fair += p["mid_gain"] * min(max(seen - self.fair, -step), step)
        # order flow moves the fair value for good (a Kyle-style permanent impact): what the
        # makers bought (sold) since the last wake says sellers (buyers) were informed
        inv = float(self._size_now(ctx).sum()) * ctx.lot_size
        if self._inv_prev is not None and p["flow_impact_bps"] > 0:
            self.fair *= 1.0 - p["flow_impact_bps"] * 1e-4 * (inv - self._inv_prev)
        self._inv_prev = inv
        self.fair += p["index_pull"] * (idx - self.fair)
        return self.fair

    def _cancel_idx(self, who: np.ndarray | None) -> np.ndarray:
        """Slots holding live quotes of makers ``who`` (None: all)."""
        live = self.oids != 0
        if who is not None:
            live &= np.isin(self._slot_mm, who)
        return np.flatnonzero(live)

    def _rows(self, ts_ns: int, cancel: np.ndarray, post: np.ndarray | None = None,
              price: np.ndarray | None = None) -> np.ndarray:
        """One batch: cancels of the quotes in slots ``cancel`` (which it forgets), then new
        post-only quotes in slots ``post`` at ``price`` (per slot)."""
        nc = cancel.shape[0]
        npost = 0 if post is None else post.shape[0]
        m = rows_matrix(nc + npost)
        if nc:
            m[:nc, COL["ts"]] = ts_ns + self._slot_lat[cancel]
            m[:nc, COL["acct"]] = self._slot_acct[cancel]
            m[:nc, COL["kind"]] = CANCEL_IF_OPEN
            m[:nc, COL["target"]] = self.oids[cancel]
            self.oids[cancel] = 0
        if npost:
            m[nc:, COL["ts"]] = ts_ns + self._slot_lat[post]
            m[nc:, COL["acct"]] = self._slot_acct[post]
            m[nc:, COL["side"]] = self._slot_side[post]
            m[nc:, COL["qty"]] = self._slot_qty[post]
            m[nc:, COL["price"]] = price[post]
            m[nc:, COL["tif"]] = POST_ONLY
        if self.p["anchor"] == "mid":
            # one colocated requote: every cancel, then every new quote, at the population's
            # latency, so no new quote meets another maker's stale one
            m[:, COL["ts"]] = ts_ns + self._common_lat
        m[:, COL["row"]] = np.arange(nc + npost)
        return m.view(ORDER_DTYPE).reshape(-1)

    def on_shock(self, ctx: SimContext, shock, ts_ns: int) -> None:
        if shock.type != "mm_withdraw" or self.n == 0:
            return
        k = int(math.ceil(shock.params.get("fraction", 1.0) * self.n))
        who = np.sort(self.rng.permutation(self.n)[:k])
        self.pulled_until[who] = np.maximum(self.pulled_until[who], ts_ns + shock.duration_ns)
        if self._collect():
            idx = self._cancel_idx(who)
            if idx.shape[0]:
                self._slots = np.empty(0, np.int64)
                self._pending = ctx.send(OrderBatch.from_rows(self._rows(ts_ns, idx)))

    def on_market(self, ctx: SimContext, ts_ns: int) -> None:
        """Spot moved or the venue published a new index: when spot or the mark moved
        ``reprice_bps`` since the last quotes (a gap), requote now rather than at the next
        wake, so no quote made before the move is left resting for the liquidation engine or
        a taker to hit (stale quotes are what latency arbitrageurs pick off; makers cancel
        them first). When the last batch is still in flight the requote follows its answer.
        O(1) unless it requotes."""
        thr = self.p["reprice_bps"]
        if self.n == 0 or thr <= 0 or self._q_spot <= 0:
            return
        self._requote_on_move(ctx, ts_ns, thr * 1e-4, self._common_lat)

    def _requote(self, ctx: SimContext, ts_ns: int) -> None:
        """Cancel the quotes that rest and post the new ladder (see the class docs)."""
        mkt = ctx.market
        anchor = self.p["anchor"]
        if mkt.index_ticks <= 0 or mkt.stale:
            return
        self._q_spot, self._q_mark = mkt.spot_ticks or mkt.index_ticks, mkt.mark_ticks
        if anchor == "mid":
            centre = self._fair_value(ctx)
            ref = int(round(centre))
        else:
            ref = mkt.index_ticks if anchor == "index" else mkt.mark_ticks
            centre = float(ref)
        if ref <= 0:
            return
        p = self.p
        ratio = mkt.vol_ratio
        # a maker pulls when the volatility ratio crosses its threshold, or jumps to half as
        # much again as when it last pulled (a new leg); once back it stays in while the
        # ratio decays, quoting wider (spreads widen, depth returns over minutes)
        calm = ratio <= self.pull_thr
        self.pull_seen[calm] = 0.0
        trig = ~calm & (ratio >= 1.5 * self.pull_seen)
        if trig.any():
            until = ts_ns + int(p["pull_s"] * NS_PER_S)
            self.pulled_until[trig] = np.maximum(self.pulled_until[trig], until)
            self.pull_seen[trig] = ratio
        active = self.pulled_until <= ts_ns
        cancel = self._cancel_idx(None)
        post = price = None
        self._slots = np.empty(0, np.int64)
        if active.any():
            w = p["widen_vol_ratio"]
            widen = 1.0 + (p["widen_factor"] - 1.0) * min(max((ratio - w) / w, 0.0), 1.0)
            # a volatility event (the ratio past the widening point, or half as much again as
            # at the last event) restarts the clock of widen_half_life_s: the widening fades
            # with time since the event as makers learn the new level
            if ratio <= w:
                self._event_ratio = 0.0
            elif ratio >= 1.5 * self._event_ratio:
                self._event_ratio, self._event_ns = ratio, ts_ns
            hl = p["widen_half_life_s"]
            if hl > 0 and widen > 1.0:
                widen = 1.0 + (widen - 1.0) * 0.5 ** ((ts_ns - self._event_ns) / (hl * NS_PER_S))
            half = self.half_bps * widen + (widen - 1.0) * p["level_step_bps"]
            inv = self._size_now(ctx)
            lim = self.limit_lots
            skew_bps = (-p["skew_bps"] / lim) * np.minimum(np.maximum(inv, -lim), lim)
            sm = self._slot_mm
            sign = self._slot_sign
            bps = skew_bps[sm] + sign * (half[sm] + self._slot_lvl * widen)
            if anchor == "mid":
                # the first level of every maker sits around the common centre, shifted by
                # the makers' mean inventory (the market-wide pressure); deeper levels carry
                # each maker's own skew. Nobody quotes at or through the centre, so makers
                # never cross one another and the inside is the ticks either side of it.
                pop = float(np.mean(np.minimum(np.maximum(inv, -lim), lim))) * (-p["skew_bps"] / lim)
                self._shift = centre * pop * 1e-4
                centre = centre + self._shift
                bps = np.where(self._slot_lvl == 0, 0.0, skew_bps[sm] - pop) + sign * (
                    half[sm] + self._slot_lvl * widen)
            px = centre * (1.0 + bps * 1e-4)
            price = (-sign * np.floor(-sign * px)).astype(np.int64)       # bids floor, asks ceil
            bid = self._slot_bid
            price = np.where(bid, np.minimum(price, int(math.ceil(centre)) - 1),
                             np.maximum(price, int(math.floor(centre)) + 1))
            ok = active[sm] & (price > 0)
            full_long = inv >= self.limit_lots
            full_short = inv <= -self.limit_lots
            if full_long.any() or full_short.any():
                ok &= ~((full_long[sm] & bid) | (full_short[sm] & ~bid))
            post = np.flatnonzero(ok)
            self._slots = post
        if cancel.shape[0] or (post is not None and post.shape[0]):
            self._pending = ctx.send(OrderBatch.from_rows(self._rows(ts_ns, cancel, post, price)))
