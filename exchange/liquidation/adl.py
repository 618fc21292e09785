"""``adl``: auto-deleveraging — resolve the bankrupt position against profitable opposite ones.

Reference §4.1–4.4, §4.9. ADL is split, after Chitra, "Autodeleveraging: Impossibilities and
Optimization" (arXiv 2512.01112, https://arxiv.org/abs/2512.01112, read 2026-12-02), into
**severity** — how much loss one round socialises — and **allocation** — who pays it.

Severity. A case that reaches ADL with an open position is a round. Its shortfall ``D`` is the
deficit the earlier modules left (``ctx.deficit``: negative equity at the mark), never more.
The round closes the **whole** bankrupt position off the book against profitable positions on
the other side of the same instrument (``transfer_position`` from the bankrupt account to each
winner, both shrink), so nothing is left open at zero equity for the next mark move to push
further under. The haircut (profit a winner gives up versus the mark) is what the venue's ADL
price implies:

- ``price="bankruptcy"`` (Binance FAQ 360033525471, Bybit help 900000167723, BitMEX
  /app/autoDeleveraging, dYdX v4 ``x/clob/keeper/deleveraging.go``; read 2026-12-02): the
  bankrupt quantity ``q`` closes at the case's bankruptcy price, so the round's haircut is
  ``D`` rounded up to a tick per lot (at most ``q·k − 1`` atoms of rounding excess); a case
  that reaches ADL without a deficit closes at the mark (severity 0: no haircut, and no
  transfer of the trader's remaining margin to the winners);
- ``price="previous_mark"`` (Hyperliquid docs, trading/auto-deleveraging, read 2026-12-02:
  "closed at the previous mark price"): the haircut is ``q·|previous mark − mark|·k``, which
  in a gap exceeds ``D``: the excess goes to the bankrupt account (the venue's choice, kept
  in the Hyperliquid preset and measured: :data:`ADL_ROUND_SETTLED` ``a2 − a1``);
- ``price="oracle"``: the index price (dYdX markets in final settlement).

Winners are positions with uPnL > 0 at the mark, on accounts not themselves in liquidation;
losing positions are never touched. No winner is pushed below zero equity: the haircut on a
winner is at most its equity (the execution price is bounded by the mark moved by the
winner's equity per lot). When that bound binds, the case keeps a deficit that passes down
(bad debt at the end of the waterfall). No fee is charged.

Allocation (``policy``):

Venue queues — winners ranked, whole positions taken from the top until the bankrupt
quantity is matched (the last one partly), all at the one ADL price (haircut ∝ lots):

- ``"binance"``: ``PnL% × margin ratio``, ``PnL% = max(0, uPnL) / max(1, wallet)``,
  ``margin ratio = MM / (wallet + uPnL)`` (wallet = the bucket of an isolated position).
- ``"bitmex"`` / ``"bybit"``: ``PnL% × effective leverage``, ``PnL% = uPnL / |entry value|``,
  ``effective leverage = |mark value| / (mark value − bankrupt value)`` = notional / equity.
- ``"hyperliquid"``: ``(mark / entry) · (notional / account value)`` — for a short winner
  ``entry / mark`` so the more profitable ranks first on both sides.
- ``"random"`` (dYdX v4): winners in account order from a random start (the engine's seeded
  generator), no ranking.

Optimising allocations — the round's severity ``S`` (above) is fixed; the lots and the
haircut are allocated:

- ``"pro_rata"`` (Chitra: pro rata is the unique allocation satisfying the fairness axioms;
  queues concentrate the loss on the top winners). Lots: the bankrupt quantity spread over
  all winners in proportion to their size (largest remainder), every winner cut by the same
  fraction. Haircut: objective ``min max_w h_w / u_w`` (the haircut as a share of profit
  ``u_w``), subject to ``Σ h_w = S``, ``0 ≤ h_w ≤ min(u_w, e_w)`` (haircuts come out of
  profit, and no winner below zero equity), ``h_w = 0`` where the winner closes no lot (a
  haircut is realised on closed lots): water-filling, ``h_w = min(cap_w, ρ·u_w)``
  (:func:`water_fill`). Each winner closes its lots at ``mark ± ⌈h_w / (x_w·k)⌉``.
- ``"risk_aware"`` (Chitra's Risk-Aware Pro-Rata, RAP: haircuts "distributed proportionally
  across all winners, slightly tilted toward high-leverage positions" — the paper's summary
  at https://www.sciencestack.ai/paper/2512.01112, read 2026-12-02; the exact weights were
  not available to us). The same programme with weights ``u_w · L_w^τ`` (profit × leverage
  to the tilt ``τ`` = ``leverage_tilt_rate`` / 1e8, default 0.5; ``L_w`` = the position's
  notional / its account's equity; ``τ = 0`` is pro rata): ``min max_w h_w / (u_w·L_w^τ)``
  under the same constraints — a levered winner gives up a larger share of its profit, an
  unlevered one a smaller share.
- ``"leverage_drain"`` (Campbell, Hey, Moallemi, Nutz, "Risk-Based Auto-Deleveraging",
  arXiv 2603.15963, https://arxiv.org/html/2603.15963v1, read 2026-12-02: under a risk-neutral
  expected-loss objective the unique optimal ADL policy minimises the maximum leverage;
  positions are reduced first for the most levered accounts, leverage equalised by
  water-filling). All lots at the one ADL price; objective ``min max_w L'_w`` where
  ``L'_w = (|s_w| − x_w)·m / (e_w − x_w·δ_w)`` is the leverage left after closing ``x_w``
  lots (``m`` the value of a lot at the mark, ``e_w`` the account's equity, ``δ_w`` the
  haircut per lot), subject to ``Σ x_w = q``, ``0 ≤ x_w ≤ |s_w|`` (:func:`drain_leverage`;
  ``δ_w·|s_w| ≤ e_w`` makes each ``L'_w`` non-increasing). The round's severity is
  then charged in proportion to lots (the ADL price); where a drained winner's equity caps
  its share (the most levered have the least equity per lot), the rest is spread over the
  other winners hit (:func:`water_fill` with weights = lots, caps = equity), so the round
  still covers its shortfall.

``only_bankrupt=True`` (Hyperliquid: "ADL when account or isolated position value < 0") acts
only on cases whose equity at the mark is negative.

Events: :data:`~exchange.liquidation.events.POSITION_DELEVERAGED` per (bankrupt, winner)
pair with the haircut versus the mark, and one
:data:`~exchange.liquidation.events.ADL_ROUND_SETTLED` per round: the shortfall it met, the
haircut it took (their difference is the excess), the winners hit and the largest leverage
left on the winners' side.

Cost: queues O(accounts + m log m) per instrument side and step (one vectorised pass over all
its cases); the optimising allocations one pass per case, O(accounts + w log w) with ``w``
winners (exact integer/rational arithmetic in the water-fills).
"""
from __future__ import annotations

import heapq
from fractions import Fraction

import numpy as np

from exchange.errors import ConfigError, invalid
from exchange.liquidation import events as ev
from exchange.liquidation._util import small_values
from exchange.liquidation.cases import Cases, Outcome
from exchange.presets.params import ADL_PRICES
from exchange.units import RATE_SCALE

__all__ = ["AdlModule", "ADL_RANKINGS", "QUEUE_POLICIES", "water_fill", "drain_leverage"]

_I64 = np.int64
#: this module's number in its events' ``code`` and its ledger moves' ``reason`` (journal format:
#: never renumbered); registering the class adds it to ``MODULE_CODES``
_CODE = 6
#: venue queues: rank, take whole positions from the top at the one ADL price
QUEUE_POLICIES = ("binance", "bitmex", "bybit", "hyperliquid", "random")
ADL_RANKINGS = QUEUE_POLICIES + ("pro_rata", "risk_aware", "leverage_drain")
#: leverage is reported in parts per 1e8 (RATE_SCALE)
_LEV_SCALE = RATE_SCALE


class AdlModule:
    """Auto-deleveraging stage. See the module docs.

    >>> AdlModule(policy="hyperliquid", price="previous_mark").price
    'previous_mark'
    >>> AdlModule(policy="lottery")
    Traceback (most recent call last):
    ...
    exchange.errors.ConfigError: 'policy' must be one of 'binance', 'bitmex', 'bybit', 'hyperliquid', 'random', 'pro_rata', 'risk_aware', 'leverage_drain' (got 'lottery')
    """  # noqa: E501

    name = "adl"
    code = _CODE

    def __init__(self, policy: str = "binance", price: str = "bankruptcy",
                 only_bankrupt: bool = False, leverage_tilt_rate: int = 50_000_000) -> None:
        if policy not in ADL_RANKINGS:
            raise invalid("policy", "one of " + ", ".join(repr(p) for p in ADL_RANKINGS), policy,
                          error=ConfigError)
        if price not in ADL_PRICES:
            raise invalid("price", "one of " + ", ".join(repr(p) for p in ADL_PRICES), price,
                          error=ConfigError)
        if isinstance(leverage_tilt_rate, bool) or not isinstance(leverage_tilt_rate, int) \
                or not 0 <= leverage_tilt_rate <= 2 * _LEV_SCALE:
            raise invalid("leverage_tilt_rate", "an int in [0, 200000000] (a tilt of 0 to 2, "
                          "per 1e8)", leverage_tilt_rate, error=ConfigError)
        self.policy = policy
        self.price = price
        self.only_bankrupt = bool(only_bankrupt)
        self.leverage_tilt_rate = leverage_tilt_rate
        self.code = ev.ADL_POLICY_CODES[policy]

    def process(self, ctx, cases: Cases, rows: np.ndarray) -> Outcome:
        rows = np.asarray(rows, _I64)
        n = len(rows)
        closed = np.zeros(n, _I64)
        notional = np.zeros(n, _I64)
        q = ctx.size(cases, rows)
        live = q != 0
        if self.only_bankrupt:
            live &= ctx.equity(cases, rows) < 0
        if not live.any():
            return Outcome.build(ctx, cases, rows, closed, notional)
        instr_of = cases.instr[rows]
        for i in small_values(instr_of[live], ctx.n_instr):
            for sign in (1, -1):
                sel = np.flatnonzero(live & (instr_of == i) & (np.sign(q) == sign))
                if len(sel) == 0:
                    continue
                self._deleverage(ctx, cases, rows, sel, i, sign, closed, notional)
        return Outcome.build(ctx, cases, rows, closed, notional)

    # -- one instrument and side -------------------------------------------------------------
    def _winners(self, v, instr: int, sign: int) -> _Pool | None:
        """Profitable positions opposite to ``sign`` on ``instr`` of accounts not in
        liquidation (every account with a case is flagged), in account order, with what the
        rankings and bounds need (``v``: the :class:`MarginView`). O(accounts)."""
        s_all = v.size[instr]
        cand = np.flatnonzero(s_all * sign < 0)
        if len(cand) == 0:
            return None
        cand = cand[v.flags[cand] == 0]
        size = s_all[cand]
        cost = v.cost[instr][cand]
        ref = v.ref_price(instr)
        k = int(v.k[instr])
        upnl = size * (ref * k) - cost
        keep = upnl > 0
        if not keep.any():
            return None
        w = cand[keep].astype(_I64)
        return _Pool(v, instr, w, size[keep], cost[keep], upnl[keep], ref, k)

    def _order(self, rng, pool: _Pool, need: int) -> np.ndarray:
        """Indices into the pool, in the order a queue policy deleverages winners (only a
        prefix whose sizes cover ``need`` lots, when shorter; ``rng``: the random policy's
        generator)."""
        n = len(pool.acct)
        pol = self.policy
        if pol == "random":
            start = int(rng.integers(n))
            return np.roll(np.arange(n), -start)
        upnl = pool.upnl.astype(np.float64)
        eq = pool.eq.astype(np.float64)
        notional = (np.abs(pool.size) * (pool.ref * pool.k)).astype(np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            if pol == "binance":
                v = pool.view
                wallet = np.where(pool.iso, v.iso[pool.instr][pool.acct],
                                  v.wallet[pool.acct]).astype(np.float64)
                pnl_pct = upnl / np.maximum(wallet, 1.0)
                ratio = np.where(eq > 0, pool.mm().astype(np.float64) / eq, 0.0)
                score = pnl_pct * ratio
            elif pol in ("bitmex", "bybit"):
                pnl_pct = upnl / np.maximum(np.abs(pool.cost).astype(np.float64), 1.0)
                score = pnl_pct * notional / np.maximum(eq, 1.0)
            else:  # hyperliquid
                entry = np.abs(pool.cost) / (np.abs(pool.size) * float(pool.k))
                ratio = np.where(pool.size > 0, pool.ref / entry, entry / pool.ref)
                score = ratio * notional / np.maximum(eq, 1.0)
        score = np.nan_to_num(score, nan=0.0, posinf=np.finfo(np.float64).max)
        return _top_order(-score, np.abs(pool.size), need)

    def quantiles(self, v, instr: int) -> np.ndarray:
        """The ADL quantile of every account's position on ``instr`` as Binance reports it
        (``GET /fapi/v1/adlQuantile``: "Values 0, 1, 2, 3, 4 shows the queue position and
        possibility of ADL from low to high"), under this module's allocation, at the
        reference price now (``v``: the :class:`MarginView`; int64 per account, 0 where
        there is no position). Each side of the instrument is ranked as a round against the
        other side would take it: winners in the policy's order (the queue policies' scores;
        ``leverage_drain``: the most levered first), then the positions this module never
        touches (losing, or of an account in liquidation). The position at rank ``r`` of the
        ``n`` on its side (0 = first) gets ``4 − ⌊5r / n⌋``: the first fifth 4, the last 0;
        a losing position 0. Without a queue, ``pro_rata`` and ``risk_aware`` cut every
        winner in every round (4 each), and ``random`` draws the first winner uniformly (2
        each). O(accounts + w log w) per side with ``w`` winners.

        >>> from exchange.venue import Exchange, Order
        >>> ex = Exchange.from_preset("binance_usdm")
        >>> a, b, c = (ex.open_account(100_000) for _ in range(3))
        >>> _ = ex.set_mark("BTCUSDT", 50_000)
        >>> _ = ex.submit(a, Order("BTCUSDT", "SELL", 1, 50_000))
        >>> _ = ex.submit(b, Order("BTCUSDT", "SELL", 1, 50_000))
        >>> _ = ex.submit(c, Order("BTCUSDT", "BUY", 2, type="MARKET"))
        >>> _ = ex.set_mark("BTCUSDT", 49_000)     # the shorts gain, the long loses
        >>> ex.liquidation.adl_quantiles(0)[[a, b, c]].tolist()
        [4, 2, 0]
        """
        size = v.size[instr]
        out = np.zeros(len(size), _I64)
        for sign in (1, -1):                      # winners against a bankrupt long, short
            n = int(np.count_nonzero(size * sign < 0))
            pool = self._winners(v, instr, sign)
            if pool is None:
                continue
            w = len(pool.acct)
            if self.policy in ("pro_rata", "risk_aware"):
                out[pool.acct] = 4
                continue
            if self.policy == "random":
                out[pool.acct] = 2
                continue
            if self.policy == "leverage_drain":
                eq = pool.account_equity().astype(np.float64)
                notional = (np.abs(pool.size) * (pool.ref * pool.k)).astype(np.float64)
                with np.errstate(divide="ignore", invalid="ignore"):
                    lev = np.where(eq > 0, notional / eq, np.inf)
                order = np.argsort(-lev, kind="stable")
            else:
                order = self._order(None, pool, int(np.abs(pool.size).sum()))
            out[pool.acct[order]] = 4 - (5 * np.arange(w, dtype=_I64)) // n
        return out

    def _prices(self, ctx, cases, r: np.ndarray, instr: int) -> np.ndarray:
        """The venue's ADL price of each case (ticks). At ``"bankruptcy"`` a case without a
        deficit closes at the mark: its severity is zero (ADL socialises a shortfall; it does
        not hand a solvent trader's margin to the winners)."""
        v = ctx.view
        if self.price == "bankruptcy":
            p = ctx.bankruptcy_price(cases, r)
            solvent = ctx.deficit(cases, r) <= 0
            if solvent.any():
                p = np.where(solvent, max(v.ref_price(instr), 1), p)
            return p
        if self.price == "previous_mark":
            p = int(ctx.prev_mark[instr]) or v.ref_price(instr)
        else:
            p = int(v.index_price[instr]) or v.ref_price(instr)
        return np.full(len(r), max(p, 1), _I64)

    def _deleverage(self, ctx, cases, rows, sel, instr, sign, closed, notional) -> None:
        r = rows[sel]
        pool = self._winners(ctx.view, instr, sign)
        if pool is None:
            return
        if self.policy in QUEUE_POLICIES:
            shortfall = ctx.deficit(cases, r)
            venue = self._prices(ctx, cases, r, instr)
            segs = self._queue(ctx, cases, r, instr, sign, pool, venue)
            self._apply(ctx, cases, rows, sel, instr, sign, pool, segs, shortfall, venue,
                        closed, notional)
            return
        # one case at a time: each round sees the winners the previous one left
        for j in range(len(sel)):
            if j > 0:
                pool = self._winners(ctx.view, instr, sign)
                if pool is None:
                    return
            s1 = sel[j:j + 1]
            r1 = rows[s1]
            shortfall = ctx.deficit(cases, r1)
            venue = self._prices(ctx, cases, r1, instr)
            segs = self._optimise(ctx, cases, r1, sign, pool, int(venue[0]))
            self._apply(ctx, cases, rows, s1, instr, sign, pool, segs, shortfall, venue,
                        closed, notional)

    def _apply(self, ctx, cases, rows, sel, instr, sign, pool, segs, shortfall, venue,
               closed, notional) -> None:
        """Transfer the segments ``(bankrupt index, winner account, lots, price, rank)`` and
        record them: a PositionDeleveraged per segment, an AdlRoundSettled per case hit."""
        bi, wacct, lots, price, rank = segs
        if len(bi) == 0:
            return
        r = rows[sel]
        mark, k = pool.ref, pool.k
        # the winner buys back (a short) at price: haircut (price − mark) per lot; a long
        # winner sells: (mark − price)
        haircut = sign * (price - mark) * lots * k
        q0 = np.abs(ctx.size(cases, r))
        ctx.transfer(cases, r[bi], wacct, lots, price, _CODE)
        np.add.at(closed, sel[bi], lots)
        np.add.at(notional, sel[bi], lots * price * k)
        np.add.at(cases.adl_lots, r[bi], lots)
        ctx.stats.adl_lots += int(lots.sum())
        ctx.stats.adl_haircut += int(haircut.sum())
        ctx.emit(ev.POSITION_DELEVERAGED, len(bi), code=self.code, instr=instr, acct=wacct,
                 side=0 if sign < 0 else 1, price=price, qty=lots, a1=cases.acct[r[bi]],
                 a2=haircut, a3=rank)
        nb = len(r)
        r_hair = np.zeros(nb, _I64)
        r_lots = np.zeros(nb, _I64)
        r_hits = np.zeros(nb, _I64)
        np.add.at(r_hair, bi, haircut)
        np.add.at(r_lots, bi, lots)
        np.add.at(r_hits, bi, 1)
        hit = np.flatnonzero(r_lots > 0)
        # the share of the shortfall this round answers for: all of it when the whole position
        # closed, ``D·x/q`` for ``x`` of ``q`` lots (the rest stays with the open remainder and
        # is met by a later round, not counted twice)
        met = np.array([int(d) * int(x) // int(q) if q else 0
                        for d, x, q in zip(shortfall[hit], r_lots[hit], q0[hit])], _I64)
        lev = self._max_leverage(ctx, instr, sign)
        ctx.emit(ev.ADL_ROUND_SETTLED, len(hit), code=self.code, instr=instr,
                 acct=cases.acct[r[hit]], side=0 if sign > 0 else 1, price=venue[hit],
                 qty=r_lots[hit], a1=met, a2=r_hair[hit], a3=lev, flag=r_hits[hit])

    def _max_leverage(self, ctx, instr: int, sign: int) -> int:
        """Largest ``notional / equity`` (parts per 1e8) among the profitable positions left on
        the winners' side after the round (0 when none is left). O(accounts)."""
        pool = self._winners(ctx.view, instr, sign)
        if pool is None:
            return 0
        eq = pool.account_equity().astype(np.float64)
        notional = (np.abs(pool.size) * (pool.ref * pool.k)).astype(np.float64)
        ok = eq > 0
        if not ok.any():
            return 0
        return int(min((notional[ok] / eq[ok]).max() * _LEV_SCALE, float(1 << 62)))

    def _queue(self, ctx, cases, r, instr, sign, pool, venue):
        """Venue queue: whole positions in rank order, at the one ADL price of each case."""
        v = ctx.view
        need = np.abs(v.size[instr][cases.acct[r]])
        order = self._order(ctx.rng, pool, int(need.sum()))
        caps = np.abs(pool.size[order])
        bi, oi, lots = _match(need, caps)
        if len(bi) == 0:
            e = np.empty(0, _I64)
            return e, e, e, e, e
        wi = order[oi]
        price = _bounded(pool, wi, sign, venue[bi])
        return bi, pool.acct[wi], lots, price, oi.astype(_I64)

    def _optimise(self, ctx, cases, r1, sign, pool, venue_price: int):
        """``pro_rata``, ``risk_aware``, ``leverage_drain`` for one case: the lots and
        haircuts of the module docs."""
        mark, k = pool.ref, pool.k
        q = int(abs(ctx.size(cases, r1)[0]))
        n = len(pool.acct)
        idx = np.arange(n)
        size = np.abs(pool.size)
        p_one = _bounded(pool, idx, sign, np.full(n, venue_price, _I64))
        severity = q * sign * (venue_price - mark) * k
        eq = np.maximum(pool.eq, 0)
        if self.policy == "leverage_drain":
            per_lot = np.maximum(sign * (p_one - mark) * k, 0)     # ≤ equity / size
            x = drain_leverage(q, size, mark * k, np.maximum(pool.account_equity(), 0), per_lot)
            if severity <= 0:
                price = p_one
            else:
                # the severity at the ADL price, in proportion to lots; where a drained
                # winner's equity caps its share, the rest goes to the other winners hit
                cap = np.where(x > 0, eq, 0)
                if sign < 0:
                    cap = np.minimum(cap, x * (mark - 1) * k)
                h = water_fill(severity, [int(a) for a in x], cap)
                price = _tick_prices(h, x, eq, mark, sign, k)
        else:
            x = _pro_rata(q, size)
            if severity <= 0:
                price = p_one
            else:
                cap = np.where(x > 0, np.minimum(pool.upnl, eq), 0)
                if sign < 0:                                   # a long winner sells at ≥ 1 tick
                    cap = np.minimum(cap, x * (mark - 1) * k)
                if self.policy == "risk_aware":
                    # u·L^τ, L = notional / account equity (the float power is exact as a
                    # Fraction of its binary value: deterministic)
                    acct_eq = np.maximum(pool.account_equity(), 1)
                    tau = self.leverage_tilt_rate / _LEV_SCALE
                    weight = [int(u) * Fraction((int(s) * mark * k / int(e)) ** tau)
                              for u, s, e in zip(pool.upnl, size, acct_eq)]
                else:
                    weight = [int(u) for u in pool.upnl]
                h = water_fill(severity, weight, cap)
                price = _tick_prices(h, x, eq, mark, sign, k)
        m = np.flatnonzero(x > 0)
        return (np.zeros(len(m), _I64), pool.acct[m], x[m].astype(_I64),
                price[m].astype(_I64), m.astype(_I64))


def _tick_prices(h, x, eq, mark: int, sign: int, k: int) -> np.ndarray:
    """Each winner's price for haircut ``h`` on ``x`` lots: ``mark ± ⌈h / (x·k)⌉`` ticks, never
    past its equity per lot nor below 1 tick (winners with ``x = 0`` get the mark)."""
    ticks = np.zeros(len(x), _I64)
    m = x > 0
    per = x[m] * k
    room = eq[m] // per
    if sign < 0:
        room = np.minimum(room, mark - 1)
    ticks[m] = np.minimum(-(-h[m] // per), room)
    return mark + sign * ticks


def _bounded(pool: _Pool, wi: np.ndarray, sign: int, price: np.ndarray) -> np.ndarray:
    """``price`` clamped so that no winner ``wi`` is pushed below zero equity: ADL cannot
    take more than a winner has."""
    lo, hi = pool.bounds(wi, sign, entry=False)
    price = np.maximum(np.minimum(price, hi), lo) if sign > 0 else \
        np.minimum(np.maximum(price, lo), hi)
    return np.maximum(price, 1).astype(_I64)


def water_fill(total: int, weights, caps) -> np.ndarray:
    """Integer haircuts ``h`` with ``Σ h = min(total, Σ caps)`` and ``0 ≤ h ≤ caps``
    minimising ``max_w h_w / weights_w`` over the winners with a positive weight (others get
    0): ``h_w = min(caps_w, ρ·weights_w)`` for the water level ``ρ``, the atoms left by
    rounding given one at a time to the lowest ``(h_w + 1) / weights_w``. Exact (weights may
    be ints or Fractions). O(n log n + n·log(range)).

    >>> water_fill(10, [1, 1, 2], [100, 100, 100]).tolist()
    [3, 2, 5]
    >>> water_fill(10, [1, 1, 2], [100, 100, 1]).tolist()
    [5, 4, 1]
    """
    n = len(weights)
    caps = np.asarray(caps, _I64).reshape(-1)
    out = np.zeros(n, _I64)
    w = [Fraction(x) for x in weights]
    live = [j for j in range(n) if w[j] > 0 and caps[j] > 0]
    if total <= 0 or not live:
        return out
    cap_sum = sum(int(caps[j]) for j in live)
    if cap_sum <= total:
        for j in live:
            out[j] = int(caps[j])
        return out
    # the water level: ρ with Σ min(cap, ρ·w) = total, by sorting the levels at which each
    # winner is capped
    levels = sorted(live, key=lambda j: Fraction(int(caps[j])) / w[j])
    wsum = sum(w[j] for j in live)
    filled = 0
    rho = None
    for j in levels:
        lvl = Fraction(int(caps[j])) / w[j]
        if filled + lvl * wsum >= total:
            rho = (total - filled) / wsum
            break
        filled += int(caps[j])
        wsum -= w[j]
    assert rho is not None
    for j in live:
        out[j] = min(int(caps[j]), int(rho * w[j]))          # floor
    left = total - int(out.sum())
    heap = [((out[j] + 1) / w[j], j) for j in live if out[j] < caps[j]]
    heapq.heapify(heap)
    while left > 0 and heap:
        _, j = heapq.heappop(heap)
        out[j] += 1
        left -= 1
        if out[j] < caps[j]:
            heapq.heappush(heap, ((int(out[j]) + 1) / w[j], j))
    return out


def _leverage(size: int, x: int, m: int, eq: int, d: int) -> Fraction:
    """Leverage left after closing ``x`` of ``size`` lots, each worth ``m`` at the mark and
    costing ``d`` of haircut: ``(size − x)·m / (eq − x·d)``; 0 when flat."""
    if x >= size:
        return Fraction(0)
    e = eq - x * d
    return Fraction((size - x) * m, e) if e > 0 else Fraction(10**30)


def drain_leverage(q: int, sizes, m: int, equity, per_lot) -> np.ndarray:
    """Lots ``x`` with ``Σ x = min(q, Σ sizes)``, ``0 ≤ x ≤ sizes``, minimising the largest
    leverage left, ``max_w (sizes_w − x_w)·m / (equity_w − x_w·per_lot_w)`` (Campbell et al.'s
    leverage-draining water-fill). ``per_lot_w·sizes_w ≤ equity_w`` (the caller's bound) makes
    each winner's leverage non-increasing in ``x_w``, so the optimum closes, for the lowest
    level ``λ`` that ``q`` lots reach, the fewest lots bringing every winner to ``≤ λ``; lots
    left over go one at a time to the most levered. O(n log(range) + leftover·log n).

    >>> drain_leverage(6, [10, 10], 100, [100, 500], [0, 0]).tolist()   # 10x and 2x
    [6, 0]
    >>> drain_leverage(12, [10, 10], 100, [100, 500], [0, 0]).tolist()   # 1x and 1.4x left
    [9, 3]
    """
    sizes = np.asarray(sizes, _I64).reshape(-1)
    eq = np.asarray(equity, _I64).reshape(-1)
    d = np.asarray(per_lot, _I64).reshape(-1)
    n = len(sizes)
    total = int(sizes.sum())
    if q >= total:
        return sizes.copy()
    x = np.zeros(n, _I64)
    if q <= 0:
        return x
    S = sizes.astype(object)
    E = eq.astype(object)
    D = d.astype(object)

    Sf, Ef, Df = sizes.astype(np.float64), eq.astype(np.float64), d.astype(np.float64)

    def need_f(lam: float) -> np.ndarray:
        # fewest lots with (S − x)·m ≤ λ·(E − x·D): x ≥ (S·m − λ·E) / (m − λ·D)
        g0 = Sf * m - lam * Ef
        den = m - lam * Df
        with np.errstate(divide="ignore", invalid="ignore"):
            xs = np.where(den > 0, np.ceil(g0 / np.where(den > 0, den, 1.0)), Sf)
        return np.where(g0 <= 0, 0.0, np.minimum(xs, Sf))

    def need(lam: Fraction) -> np.ndarray:
        out = np.zeros(n, _I64)
        for j in range(n):
            s, e, dd = int(S[j]), int(E[j]), int(D[j])
            g0 = s * m - lam * e
            if s == 0 or g0 <= 0:
                continue
            den = m - lam * dd
            out[j] = s if den <= 0 else min(s, -((-g0) // den))
        return out

    hi_f = float(max(_leverage(int(S[j]), 0, m, int(E[j]), int(D[j])) for j in range(n)))
    lo_f = 0.0
    for _ in range(100):
        mid = (lo_f + hi_f) / 2
        if mid <= lo_f or mid >= hi_f:
            break
        if need_f(mid).sum() <= q:
            hi_f = mid
        else:
            lo_f = mid
    hi = Fraction(hi_f)
    while int(need(hi).sum()) > q:                    # float slack: step up until exact
        hi = hi * (1 + Fraction(1, 10**9)) + Fraction(1, 10**12)
    x = need(hi)
    left = q - int(x.sum())
    heap = [(-_leverage(int(S[j]), int(x[j]), m, int(E[j]), int(D[j])), j)
            for j in range(n) if x[j] < S[j]]
    heapq.heapify(heap)
    while left > 0 and heap:
        _, j = heapq.heappop(heap)
        x[j] += 1
        left -= 1
        if x[j] < S[j]:
            heapq.heappush(heap, (-_leverage(int(S[j]), int(x[j]), m, int(E[j]), int(D[j])), j))
    return x


class _Pool:
    """The winners of one instrument and side: accounts with their size, cost, uPnL,
    isolated flag and equity (bucket + uPnL, or the cross account's), gathered once."""

    __slots__ = ("view", "instr", "acct", "size", "cost", "upnl", "ref", "k", "iso", "eq")

    def __init__(self, v, instr, acct, size, cost, upnl, ref, k) -> None:
        self.view, self.instr, self.acct = v, instr, acct
        self.size, self.cost, self.upnl, self.ref, self.k = size, cost, upnl, ref, k
        self.iso = v.mode[instr][acct] == 1
        eq = np.where(self.iso, v.iso[instr][acct] + upnl, 0)
        if (~self.iso).any():
            eq[~self.iso] = v.cross_equity(acct[~self.iso])
        self.eq = eq

    def account_equity(self) -> np.ndarray:
        """Equity of each winner's account (wallet + cross uPnL, plus the isolated bucket and
        uPnL of this position when isolated): what backs the position once ADL moves the
        proceeds of a close to the wallet. The leverage of the leverage-draining policy and of
        the report is ``this position's notional / account equity``. O(n)."""
        v = self.view
        out = v.cross_equity(self.acct).astype(_I64)
        if self.iso.any():
            out[self.iso] += v.iso[self.instr][self.acct[self.iso]] + self.upnl[self.iso]
        return out

    def mm(self) -> np.ndarray:
        v = self.view
        mm = v.position_mm(self.instr, self.acct, int(self.ref))   # the venue's basis (Bybit: entry)
        if (~self.iso).any():
            mm[~self.iso] = v.cross_mm(self.acct[~self.iso])
        return mm

    def bounds(self, idx: np.ndarray, sign: int, entry: bool):
        """``(lo, hi)`` price bounds (ticks) at which winners ``idx`` may be deleveraged: a
        short winner (``sign`` > 0: the bankrupt case is long) buys back at most at
        ``mark + equity / (|size|·k)`` (and, with ``entry``, at most at its entry price); a
        long winner sells at least at ``mark − equity / (|size|·k)`` (and at least at its
        entry). The other bound is open."""
        size = np.abs(self.size[idx])
        cost = np.abs(self.cost[idx])
        per_lot = np.maximum(self.eq[idx], 0) // (size * self.k)
        if sign > 0:
            hi = self.ref + per_lot
            if entry:
                hi = np.minimum(hi, cost // (size * self.k))
            return np.ones(len(idx), _I64), np.maximum(hi, 1)
        lo = self.ref - per_lot
        if entry:
            lo = np.maximum(lo, -((-cost) // (size * self.k)))
        return np.maximum(lo, 1), np.full(len(idx), 1 << 60, _I64)


def _top_order(key: np.ndarray, caps: np.ndarray, need: int) -> np.ndarray:
    """Indices sorting ``key`` ascending (ties by index), but only as long a prefix as is
    needed for ``caps`` to sum to ``need``: a partition first (O(n)), then a sort of the
    few selected — all entries tied with the last selected one are kept, so the prefix is
    exactly that of the full stable sort. O(n + m log m)."""
    n = len(key)
    m = n
    if need > 0 and n > 4096:
        avg = max(float(caps.mean()), 1.0)
        m = min(n, int(2 * need / avg) + 1024)
    while True:
        if m >= n:
            return np.argsort(key, kind="stable")
        part = np.argpartition(key, m - 1)[:m]
        bound = key[part].max()
        sel = np.flatnonzero(key <= bound)
        sel = sel[np.lexsort((sel, key[sel]))]
        if int(caps[sel].sum()) >= need:
            return sel
        m *= 2


def _match(need: np.ndarray, caps: np.ndarray):
    """Pair bankrupt quantities (in order) with winner capacities (in order) like two queues:
    returns (bankrupt index, winner index, lots) per segment. O((b + w) log(b + w))."""
    need = np.asarray(need, _I64)
    caps = np.asarray(caps, _I64)
    cb = np.cumsum(need)
    cw = np.cumsum(caps)
    if len(cb) == 0 or len(cw) == 0:
        e = np.empty(0, _I64)
        return e, e, e
    total = min(int(cb[-1]), int(cw[-1]))
    if total <= 0:
        e = np.empty(0, _I64)
        return e, e, e
    ends = np.sort(np.concatenate((cb[cb < total], cw[cw < total], [total])))
    ends = ends[np.r_[True, ends[1:] != ends[:-1]]]
    starts = np.concatenate(([0], ends[:-1]))
    bi = np.searchsorted(cb, starts, side="right")
    wi = np.searchsorted(cw, starts, side="right")
    lots = ends - starts
    keep = lots > 0
    return bi[keep].astype(_I64), wi[keep].astype(_I64), lots[keep].astype(_I64)


def _pro_rata(total: int, sizes: np.ndarray) -> np.ndarray:
    """``total`` lots spread over ``sizes`` in proportion, largest remainder, capped by size."""
    s = int(sizes.sum())
    if s <= 0 or total <= 0:
        return np.zeros(len(sizes), _I64)
    total = min(total, s)
    prod = [int(x) * total for x in sizes.tolist()]
    base = np.array([p // s for p in prod], _I64)
    rem = np.array([p % s for p in prod], dtype=object)
    left = total - int(base.sum())
    if left > 0:
        order = sorted(range(len(sizes)), key=lambda j: (-rem[j], j))[:left]
        base[order] += 1
    return base
