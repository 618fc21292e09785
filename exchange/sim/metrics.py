"""Per-run metrics, computed from the event stream (and the recorded time series).

Money is reported in units of the settlement asset (floats, from exact atom sums), prices as
fractions, times in seconds. :data:`METRICS` documents every key; :func:`compute_metrics`
returns them in that order.

Definitions that need a choice:

- **cascade depth**: the longest run of consecutive oracle ticks each of which triggered new
  liquidations (``LiquidationTriggered``) — a round's fills move the last price and the mark,
  which pushes the next accounts under: rounds of liquidation triggered by liquidation fills.
- **peak drawdown**: the largest fall from a running maximum, of the perp's last trade price
  and of the index, over the run; **amplification** = perp drawdown / index drawdown.
- **ADL severity and allocation** (Chitra, arXiv 2512.01112, read 2026-12-02): from the
  ``AdlRoundSettled`` records, one per ADL round (a bankrupt case deleveraged): the
  **shortfall** a round met is the case's deficit when it reached ADL, its **haircut** what
  the winners gave up versus the mark; the **excess haircut** is ``Σ max(haircut −
  shortfall, 0)``: haircut beyond the shortfalls covered (Hyperliquid's previous-mark price
  in a gap; a tick a lot of rounding otherwise). **Winners hit** counts distinct accounts
  deleveraged; **max leverage after ADL** is the largest notional / account equity left on
  the winners' side once ADL is done for a step (the last round of each step and
  instrument; Campbell et al., arXiv 2603.15963). **Uncovered** is ``Σ max(shortfall −
  haircut, 0)``: what the rounds left (it ends as bad debt unless a later module pays).
- **haircuts**: what auto-deleveraging took from winners versus the mark
  (``PositionDeleveraged.a2``) plus what a socialized loss charged them
  (``LossSocialized.a1``). **Winners** are accounts whose PnL before haircuts
  (final equity − net deposits + haircut) is positive, the backstop vault excluded; the
  **share of winners hit** counts those with a haircut; the **Gini of haircuts relative to
  profits** is the Gini coefficient of ``haircut / profit`` over all winners (0: everyone gave
  up the same fraction of profit; near 1: a few winners paid for everyone), None ("n/a") when
  no winner took a haircut — there is nothing to be fair or unfair about.
- **time to re-peg**: from the largest basis ``|last / index − 1|`` of the run, the seconds
  until the basis is below ``repeg_band`` (0.25 %) and stays there for ``repeg_hold_s`` (30 s);
  0 when the basis never left the band; None when it never re-pegged before the end.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

# metric key -> description, and the keys of account_pnl: defined in the catalogue (the report
# reads them there), re-exported here
from exchange._enums import EventKind as _K, LedgerKind as _L, LedgerReason as _LR
from exchange.catalogue import METRICS, PNL_FIELDS
from exchange.units import RATE_SCALE


__all__ = ["compute_metrics", "METRICS", "gini", "peak_drawdown", "time_to_repeg",
           "cascade_depth", "plot_data", "account_pnl", "PNL_FIELDS", "JournalSummary"]

NS_PER_S = 1_000_000_000

# event kinds (core, venue layer, liquidation package)
# (short names of exchange.events.EventKind members, as plain ints for the numpy folds)
K_FILLED, K_REJECTED, K_ACCEPTED = int(_K.ORDER_FILLED), int(_K.ORDER_REJECTED), int(_K.ORDER_ACCEPTED)
K_DEPOSITED, K_WITHDRAWN, K_MARK = int(_K.DEPOSITED), int(_K.WITHDRAWN), int(_K.MARK_PRICE_UPDATED)
K_FUNDING_PAID, K_FUNDING_SETTLED = int(_K.FUNDING_PAID), int(_K.FUNDING_SETTLED)
K_TRIGGERED, K_LIQUIDATED = int(_K.LIQUIDATION_TRIGGERED), int(_K.POSITION_LIQUIDATED)
K_AUCTION_TAKEN, K_AUCTION_SETTLED = int(_K.AUCTION_TAKEN), int(_K.AUCTION_SETTLED)
K_BACKSTOP, K_INS_USED = int(_K.BACKSTOP_TAKEOVER), int(_K.INSURANCE_FUND_USED)
K_INS_CREDITED, K_SOCIALIZED = int(_K.INSURANCE_FUND_CREDITED), int(_K.LOSS_SOCIALIZED)
K_ADL, K_BAD_DEBT = int(_K.POSITION_DELEVERAGED), int(_K.BAD_DEBT_BOOKED)
K_AUCTION_STARTED, K_COMPLETED = int(_K.AUCTION_STARTED), int(_K.LIQUIDATION_COMPLETED)
K_ADL_ROUND, K_KEEPER = int(_K.ADL_ROUND_SETTLED), int(_K.KEEPER_REWARDED)
K_LEDGER, K_TRANSFERRED = int(_K.LEDGER_MOVED), int(_K.POSITION_TRANSFERRED)
K_CANCELED, K_AMENDED = int(_K.ORDER_CANCELED), int(_K.ORDER_AMENDED)
L_WALLET, L_INSURANCE, L_BAD_DEBT = int(_L.WALLET), int(_L.INSURANCE), int(_L.BAD_DEBT)
LEDGER_ISOLATED_COVER = int(_LR.ISOLATED_COVER)
LEVERAGE_SCALE = RATE_SCALE



def gini(x: np.ndarray) -> float:
    """Gini coefficient of non-negative values (0 = all equal, → 1 = one holds everything).

    >>> gini(np.array([1.0, 1.0, 1.0])), round(gini(np.array([0.0, 0.0, 3.0])), 3)
    (0.0, 0.667)
    """
    x = np.sort(np.asarray(x, dtype=np.float64))
    n = x.shape[0]
    total = x.sum()
    if n == 0 or total <= 0:
        return 0.0
    i = np.arange(1, n + 1)
    return float((2 * (i * x).sum() / (n * total)) - (n + 1) / n)


def peak_drawdown(prices: np.ndarray) -> float:
    """Largest fall from a running maximum, as a fraction (prices <= 0 are ignored).

    >>> peak_drawdown(np.array([100, 120, 90, 130, 117]))
    0.25
    """
    p = np.asarray(prices, dtype=np.float64)
    p = p[p > 0]
    if p.shape[0] == 0:
        return 0.0
    peak = np.maximum.accumulate(p)
    return float(((peak - p) / peak).max())


def time_to_repeg(ts_ns: np.ndarray, last: np.ndarray, index: np.ndarray, band: float = 0.0025,
                  hold_s: float = 30.0) -> float | None:
    """Seconds from the largest basis until it is back within ``band`` for ``hold_s``.

    >>> ts = np.arange(0, 100) * 10**9
    >>> idx = np.full(100, 1000); last = idx.copy(); last[10:20] = 950
    >>> time_to_repeg(ts, last, idx, hold_s=5)
    10.0
    """
    ok = (last > 0) & (index > 0)
    if not ok.any():
        return 0.0
    t, l, i = ts_ns[ok], last[ok].astype(np.float64), index[ok].astype(np.float64)  # noqa: E741
    basis = np.abs(l / i - 1.0)
    k = int(np.argmax(basis))
    if basis[k] < band:
        return 0.0
    inside = basis < band
    hold_ns = int(hold_s * NS_PER_S)
    j = k + 1
    n = t.shape[0]
    while j < n:
        if inside[j]:
            start = j
            while j < n and inside[j]:
                if t[j] - t[start] >= hold_ns:
                    return float((t[start] - t[k]) / NS_PER_S)
                j += 1
        else:
            j += 1
    return None


def cascade_depth(mark_ts: np.ndarray, liq_ts: np.ndarray) -> int:
    """Longest run of consecutive mark updates that each triggered liquidations.

    >>> cascade_depth(np.array([1, 2, 3, 4, 5]), np.array([2, 3, 3, 5]))
    2
    """
    if liq_ts.shape[0] == 0 or mark_ts.shape[0] == 0:
        return 0
    ticks = np.unique(mark_ts)
    hit = np.isin(ticks, np.unique(liq_ts))
    best = run = 0
    for h in hit.tolist():
        run = run + 1 if h else 0
        best = max(best, run)
    return int(best)


#: the order-flow kinds a :class:`JournalSummary` folds into counts and per-account sums
#: instead of keeping (accepted, rejected, filled, canceled, amended, mark updates)
FOLDED_KINDS = (K_ACCEPTED, K_REJECTED, K_FILLED, K_CANCELED, K_AMENDED, K_MARK)


class JournalSummary:
    """What the metrics, account PnL and report figures need of a journal, built batch by
    batch as the run goes (:meth:`add`) in memory proportional to accounts + rare events:
    the order flow (:data:`FOLDED_KINDS`) is folded into counts and per-account sums
    (fills, fees, realised PnL, traded notional, orders, rejections) and the mark updates'
    times; every other record (liquidations, funding, deposits, transfers, ...) is kept.
    :func:`compute_metrics` and :func:`account_pnl` give the same values from a summary as
    from the whole journal (they build one from it)."""

    def __init__(self) -> None:
        from exchange.dtypes import EVENT_DTYPE

        self.events = 0
        self.max_acct = -1
        self.taker_fills = 0
        self.taker_qp = 0                       # sum of qty * price over taker fills
        self.accepted = 0
        self.rejected = 0
        self.liq_accepted = 0                   # accepted orders the liquidation engine sent
        self._mark_ts: list[np.ndarray] = []
        self._rare: list[np.ndarray] = []
        self._dtype = EVENT_DTYPE
        z = np.zeros(0, np.int64)
        #: per account: fills (both sides), fees, realised PnL, sum qty*price, accepted, rejected
        self.acct = {k: z.copy() for k in ("fills", "fees", "realized", "qp", "accepted",
                                           "rejected")}

    def _grow(self, n: int) -> None:
        cur = self.acct["fills"].shape[0]
        if n <= cur:
            return
        cap = max(n, 2 * cur, 1024)
        for k, v in self.acct.items():
            g = np.zeros(cap, np.int64)
            g[:cur] = v
            self.acct[k] = g

    def add(self, recs: np.ndarray) -> None:
        """Fold a batch of EVENT_DTYPE records (stream order). O(records)."""
        if not len(recs):
            return
        self.events += int(recs.shape[0])
        kind = recs["kind"]
        folded = np.isin(kind, FOLDED_KINDS)
        self.max_acct = max(self.max_acct, int(recs["acct"].max()))
        if not folded.all():
            self._rare.append(recs[~folded])
        if not folded.any():
            return
        marks = kind == K_MARK
        if marks.any():
            self._mark_ts.append(recs["ts"][marks].copy())
        acc = self.acct
        fills = recs[kind == K_FILLED]
        if fills.shape[0]:
            a = fills["acct"]
            self._grow(int(a.max()) + 1)
            qp = fills["qty"] * fills["price"]
            np.add.at(acc["fills"], a, 1)
            np.add.at(acc["fees"], a, fills["a1"])
            np.add.at(acc["realized"], a, fills["a2"])
            np.add.at(acc["qp"], a, qp)
            t = fills["flag"] == 1
            self.taker_fills += int(t.sum())
            self.taker_qp += int(qp[t].sum())
        self.liq_accepted += int(((kind == K_ACCEPTED) & (recs["flag"] == 1)).sum())
        for code, key in ((K_ACCEPTED, "accepted"), (K_REJECTED, "rejected")):
            a = recs["acct"][kind == code]
            if a.shape[0]:
                setattr(self, key, getattr(self, key) + int(a.shape[0]))
                a = a[a >= 0]
                if a.shape[0]:
                    self._grow(int(a.max()) + 1)
                    np.add.at(acc[key], a, 1)

    def rare(self) -> np.ndarray:
        """The kept records (every kind but :data:`FOLDED_KINDS`), stream order."""
        if len(self._rare) > 1:
            self._rare = [np.concatenate(self._rare)]
        return self._rare[0] if self._rare else np.empty(0, self._dtype)

    def mark_ts(self) -> np.ndarray:
        """Times of the mark price updates (ns)."""
        if len(self._mark_ts) > 1:
            self._mark_ts = [np.concatenate(self._mark_ts)]
        return self._mark_ts[0] if self._mark_ts else np.empty(0, np.int64)

    def per_account(self, key: str, accts: np.ndarray) -> int:
        """Sum of the per-account ``key`` over distinct ``accts`` (out-of-range ignored)."""
        v = self.acct[key]
        a = np.unique(accts)
        a = a[(a >= 0) & (a < v.shape[0])]
        return int(v[a].sum())

    @classmethod
    def of(cls, journal) -> JournalSummary:
        """``journal`` itself when it is a summary, else a summary of the records."""
        if isinstance(journal, cls):
            return journal
        s = cls()
        s.add(np.asarray(journal))
        return s


def _episodes(recs: np.ndarray, k: int) -> tuple[int, int]:
    """Liquidation episodes: a trigger opens one for its account unless one is already open;
    only a completion that left the position closed ends it. A case the waterfall could not
    finish, or that turned compliant when the mark moved back and re-triggers later, stays
    one episode. Returns (episodes, notional at the mark when each began, atoms)."""
    open_: set[int] = set()
    count = notional = 0
    for kd, acct, qty, price, _flag in zip(recs["kind"].tolist(), recs["acct"].tolist(),
                                          recs["qty"].tolist(), recs["price"].tolist(),
                                          recs["flag"].tolist()):
        if kd == K_TRIGGERED:
            if acct not in open_:
                open_.add(acct)
                count += 1
                notional += abs(qty) * price * k
        elif qty == 0:
            open_.discard(acct)
    return count, notional


def _sum(x) -> int:
    return int(np.asarray(x, dtype=np.int64).sum()) if len(x) else 0


def compute_metrics(journal, series: dict[str, np.ndarray], info: dict[str, Any],
                    equity_end: np.ndarray | None = None) -> dict[str, Any]:
    """The metrics of :data:`METRICS` for one run. ``info`` carries the instrument grid
    (``atoms_per_tick_lot``, ``settle_decimals``), the starting insurance fund and backstop
    capital, the vault account; ``equity_end`` the final equity of every account (atoms).
    ``journal``: the EVENT_DTYPE records or their :class:`JournalSummary`.
    O(events + accounts)."""
    unit = 10.0 ** -int(info.get("settle_decimals", 6))
    k = int(info.get("atoms_per_tick_lot", 1))
    summary = JournalSummary.of(journal)
    journal = summary.rare()
    kind = journal["kind"]

    def sel(code: int) -> np.ndarray:
        return journal[kind == code]

    m: dict[str, Any] = {}
    trig = sel(K_TRIGGERED)
    count, notional = _episodes(journal[(kind == K_TRIGGERED) | (kind == K_COMPLETED)], k)
    m["liquidations"] = count
    m["liquidated_accounts"] = int(np.unique(trig["acct"]).shape[0])
    m["liquidation_triggers"] = int(trig.shape[0])
    m["liquidation_orders"] = summary.liq_accepted
    m["liquidation_notional"] = notional * unit
    liq = sel(K_LIQUIDATED)
    m["closed_in_book_notional"] = _sum(liq["a1"]) * unit
    m["liquidation_fees"] = _sum(liq["a2"]) * unit
    m["auction_notional"] = _sum(sel(K_AUCTION_TAKEN)["a3"]) * unit
    bs = sel(K_BACKSTOP)
    m["backstop_notional"] = _sum(bs["qty"] * bs["price"] * k) * unit
    adl = sel(K_ADL)
    m["adl_notional"] = _sum(adl["qty"] * adl["price"] * k) * unit
    m["cascade_depth"] = cascade_depth(summary.mark_ts(), trig["ts"])
    ts, last, index = series["ts_ns"], series["last_ticks"], series["index_ticks"]
    m["index_drawdown"] = peak_drawdown(index)
    m["perp_drawdown"] = peak_drawdown(last)
    m["amplification"] = (m["perp_drawdown"] / m["index_drawdown"]
                          if m["index_drawdown"] > 0 else None)
    ok = (last > 0) & (index > 0)
    m["max_basis"] = float(np.abs(last[ok] / index[ok] - 1.0).max()) if ok.any() else 0.0
    bad = sel(K_BAD_DEBT)
    # the venue's own cover of a flat isolated bucket (outside liquidation): LedgerMoved
    # (from_kind = price, to_kind = qty, amount = a1) with reason LEDGER_ISOLATED_COVER
    lm = sel(K_LEDGER)
    cover = lm[lm["code"] == LEDGER_ISOLATED_COVER]
    m["bad_debt"] = _sum(bad["a1"]) * unit
    m["bad_debt_outside_liquidation"] = _sum(cover["a1"][cover["price"] == L_BAD_DEBT]) * unit
    ins = series["insurance_atoms"]
    ins0 = int(info.get("insurance_initial_atoms", ins[0] if len(ins) else 0))
    m["insurance_start"] = ins0 * unit
    m["insurance_end"] = (int(ins[-1]) if len(ins) else ins0) * unit
    if len(ins):
        path = np.concatenate([[ins0], ins]).astype(np.float64)
        m["insurance_drawdown"] = float((np.maximum.accumulate(path) - path).max()) * unit
    else:
        m["insurance_drawdown"] = 0.0
    # the fund is its ledger account plus the account it trades takeovers from (``fund``);
    # moves between the two are internal. Out: the deficits it paid (INSURANCE_FUND_USED.a1,
    # a takeover's at the mark), the venue's covers of isolated buckets, keeper rewards paid
    # from it (KEEPER_REWARDED.a2 = 3). In: every liquidation fee (POSITION_LIQUIDATED.a2,
    # the core books them to the fund; the fund's own account's are internal) and the
    # surpluses (INSURANCE_FUND_CREDITED.a1).
    # A payment to, a fee or surplus from, the fund's own account is internal.
    fund = info.get("insurance_account")
    own = (lambda rows: rows) if fund is None else (lambda rows: rows[rows["acct"] != fund])
    keeper = sel(K_KEEPER)
    used = sel(K_INS_USED)
    m["insurance_paid"] = (_sum(own(used)["a1"]) + _sum(cover["a1"][cover["price"] == L_INSURANCE])
                           + _sum(keeper["a1"][keeper["a2"] == L_INSURANCE])) * unit
    m["insurance_credited"] = (_sum(own(sel(K_INS_CREDITED))["a1"]) + _sum(own(liq)["a2"])) * unit
    # the takeover account: its equity at the end, less what the ledger moved into it, plus
    # what it moved (and paid in fees) to the ledger, plus the deficits booked as paid when
    # it took the positions over (its equity then)
    if fund is not None and equity_end is not None and fund < equity_end.shape[0]:
        to_f = lm[(lm["a2"] == fund) & (lm["qty"] == L_WALLET) & (lm["price"] == L_INSURANCE)]
        from_f = lm[(lm["acct"] == fund) & (lm["price"] == L_WALLET) & (lm["qty"] == L_INSURANCE)]
        own_fee = (int(summary.acct["fees"][fund]) if fund < summary.acct["fees"].shape[0]
                   else 0)
        over = own(used)[own(used)["qty"] != 0]
        m["insurance_takeover_pnl"] = (int(equity_end[fund]) - _sum(to_f["a1"]) + _sum(from_f["a1"])
                                       + own_fee + _sum(over["a1"])) * unit
    else:
        m["insurance_takeover_pnl"] = 0.0
    vault = info.get("backstop_account")
    if vault is not None and equity_end is not None and vault < equity_end.shape[0]:
        m["backstop_pnl"] = (int(equity_end[vault]) - int(info.get("backstop_capital_atoms", 0))) * unit
    else:
        m["backstop_pnl"] = 0.0
    m["adl_count"] = int(adl.shape[0])
    m["adl_haircut"] = _sum(adl["a2"]) * unit
    soc = sel(K_SOCIALIZED)
    m["socialized_total"] = _sum(soc["a1"]) * unit
    m["socialized_count"] = int(soc.shape[0])
    m["haircut_total"] = m["adl_haircut"] + m["socialized_total"]
    rounds = sel(K_ADL_ROUND)
    m["adl_rounds"] = int(rounds.shape[0])
    m["adl_shortfall"] = _sum(rounds["a1"]) * unit
    m["adl_excess_haircut"] = _sum(np.maximum(rounds["a2"] - rounds["a1"], 0)) * unit
    m["adl_winners_hit"] = int(np.unique(adl["acct"]).shape[0])
    m["adl_uncovered"] = _sum(np.maximum(rounds["a1"] - rounds["a2"], 0)) * unit
    if rounds.shape[0]:
        # the state once ADL is done for a step: the last round of each (time, instrument)
        key = rounds["ts"].astype(np.int64) * 4096 + rounds["instr"].astype(np.int64)
        fin = np.r_[key[1:] != key[:-1], True]
        m["adl_max_leverage"] = float(rounds["a3"][fin].max()) / LEVERAGE_SCALE
    else:
        m["adl_max_leverage"] = None
    m["haircut_plus_bad_debt"] = m["haircut_total"] + m["bad_debt"]
    # -- fairness of haircuts
    n_acct = int(equity_end.shape[0]) if equity_end is not None else summary.max_acct + 1
    hair = np.zeros(max(n_acct, 1), np.int64)
    if adl.shape[0]:
        np.add.at(hair, adl["acct"], np.maximum(adl["a2"], 0))
    if soc.shape[0]:
        np.add.at(hair, soc["acct"], np.maximum(soc["a1"], 0))
    m["haircut_accounts"] = int((hair > 0).sum())
    if equity_end is not None:
        dep = np.zeros(n_acct, np.int64)
        d = sel(K_DEPOSITED)
        np.add.at(dep, d["acct"], d["a1"])
        w = sel(K_WITHDRAWN)
        if w.shape[0]:
            np.subtract.at(dep, w["acct"], w["a1"])
        profit = equity_end[:n_acct] - dep + hair[:n_acct]
        winners = profit > 0
        if vault is not None and vault < n_acct:
            winners[vault] = False
        nw = int(winners.sum())
        m["winners"] = nw
        hit = bool((hair[:n_acct][winners] > 0).any()) if nw else False
        m["winners_hit_share"] = float((winners & (hair[:n_acct] > 0)).sum() / nw) if hit else None
        m["haircut_gini"] = gini(hair[:n_acct][winners] / profit[winners]) if hit else None
    else:
        m["winners"], m["winners_hit_share"], m["haircut_gini"] = 0, None, None
    fp = sel(K_FUNDING_PAID)
    m["funding_paid"] = _sum(np.maximum(fp["a1"], 0)) * unit
    m["funding_settlements"] = int((kind == K_FUNDING_SETTLED).sum())
    m["repeg_s"] = time_to_repeg(ts, last, index)
    m["volume"] = summary.taker_qp * k * unit
    m["fills"] = summary.taker_fills
    m["orders"] = summary.accepted
    m["rejections"] = summary.rejected
    m["events"] = summary.events
    for key, v in list(m.items()):
        if isinstance(v, np.generic):
            v = v.item()
        if isinstance(v, float) and not math.isfinite(v):
            v = None
        m[key] = v
    return {key: m[key] for key in METRICS}




def account_pnl(journal, accounts, equity_end: np.ndarray, upnl_end: np.ndarray,
                info: dict[str, Any]) -> dict[str, Any]:
    """PnL of a group of accounts (an agent type, a strategy) from the journal and the final
    equity and unrealised PnL (atoms per account): ``pnl = realized_pnl + unrealized_pnl -
    fees - funding + other`` (keys: :data:`PNL_FIELDS`, money in the settlement asset).
    O(events).

    >>> from exchange.dtypes import EVENT_DTYPE
    >>> j = np.zeros(2, EVENT_DTYPE)
    >>> j["kind"], j["acct"], j["a1"], j["a2"] = [6, 3], [0, 0], [1_000_000, 50_000], [0, 2_000_000]
    >>> p = account_pnl(j, [0], np.array([2_950_000]), np.array([0]), {"settle_decimals": 6})
    >>> p["pnl"], p["realized_pnl"], p["fees"], p["other"]
    (1.95, 2.0, 0.05, 0.0)
    """
    scale = 10 ** int(info.get("settle_decimals", 6))     # divide: exact for round amounts
    k = int(info.get("atoms_per_tick_lot", 1))
    accts = np.asarray(accounts, np.int64).reshape(-1)
    summary = JournalSummary.of(journal)
    journal = summary.rare()
    kind, acct = journal["kind"], journal["acct"]
    mine = np.isin(acct, accts)

    def of(code: int) -> np.ndarray:
        return journal[(kind == code) & mine]

    deposits = _sum(of(K_DEPOSITED)["a1"]) - _sum(of(K_WITHDRAWN)["a1"])
    moved = journal[kind == K_TRANSFERRED]                     # PositionTransferred (ADL, backstop)
    realized = (summary.per_account("realized", accts)
                + _sum(moved["a2"][np.isin(moved["acct"], accts)])
                + _sum(moved["a3"][np.isin(moved["a1"], accts)]))
    fees = summary.per_account("fees", accts)
    funding = _sum(of(K_FUNDING_PAID)["a1"])
    n = equity_end.shape[0]
    ok = accts[(accts >= 0) & (accts < n)]
    equity = int(equity_end[ok].sum())
    upnl = int(upnl_end[ok].sum())
    pnl = equity - deposits
    liq = journal[((kind == K_TRIGGERED) | (kind == K_COMPLETED)) & mine]
    out = dict(accounts=int(accts.shape[0]), deposits=deposits / scale, equity_end=equity / scale,
               pnl=pnl / scale, realized_pnl=realized / scale, unrealized_pnl=upnl / scale,
               fees=fees / scale, funding=funding / scale,
               other=(pnl - (realized + upnl - fees - funding)) / scale,
               fills=summary.per_account("fills", accts),
               volume=summary.per_account("qp", accts) * k / scale,
               liquidations=_episodes(liq, k)[0], orders=summary.per_account("accepted", accts),
               rejections=summary.per_account("rejected", accts))
    return {key: out[key] for key in PNL_FIELDS}


def plot_data(journal, series: dict[str, np.ndarray], info: dict[str, Any]) -> dict:
    """What the report draws, small enough to send between processes: the time series plus
    event times and amounts (liquidation triggers, haircuts, bad debt), money in the
    settlement asset, times in seconds."""
    unit = 10.0 ** -int(info.get("settle_decimals", 6))
    k = int(info.get("atoms_per_tick_lot", 1))
    tick = float(info.get("tick_size", 1.0))
    lot = float(info.get("lot_size", 1.0))
    journal = JournalSummary.of(journal).rare()
    kind = journal["kind"]
    t = series["ts_ns"] / NS_PER_S

    def px(col):
        v = series[col].astype(np.float64) * tick
        v[series[col] <= 0] = np.nan
        return v

    trig = journal[kind == K_TRIGGERED]
    adl = journal[kind == K_ADL]
    soc = journal[kind == K_SOCIALIZED]
    bad = journal[kind == K_BAD_DEBT]
    hair_ts = np.concatenate([adl["ts"], soc["ts"]]) / NS_PER_S
    hair_amt = np.concatenate([np.maximum(adl["a2"], 0), np.maximum(soc["a1"], 0)]) * unit
    order = np.argsort(hair_ts, kind="stable")
    return dict(
        t=t, index=px("index_ticks"), mark=px("mark_ticks"), last=px("last_ticks"),
        open_interest=series["open_interest_lots"] * lot,
        insurance=series["insurance_atoms"] * unit, bad_debt=-series["bad_debt_atoms"] * unit,
        backstop=series["backstop_equity_atoms"] * unit,
        liq_t=trig["ts"] / NS_PER_S, liq_notional=np.abs(trig["qty"]) * trig["price"] * k * unit,
        haircut_t=hair_ts[order], haircut=hair_amt[order],
        bad_debt_t=bad["ts"] / NS_PER_S, bad_debt_amt=bad["a1"] * unit,
        shocks=[(s["type"], s["at_ns"] / NS_PER_S, s["duration_ns"] / NS_PER_S)
                for s in info.get("shocks", [])],
        settle_asset=info.get("settle_asset", ""), symbol=info.get("symbol", ""),
        strategies={c[len("strategy."):-len(".equity_atoms")]: dict(equity=series[c] * unit,
                                           position=series[c.replace("equity_atoms",
                                                                     "position_lots")] * lot)
                    for c in series if c.startswith("strategy.") and c.endswith(".equity_atoms")})
