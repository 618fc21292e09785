"""Liquidation episodes of a run, small enough to travel with a light RunResult: who was
liquidated (account, population, leverage), how big, when, which module closed it and at what
price. :func:`liquidation_episodes` reads them off the journal; the comparison report draws
its episodes table and its cascade timeline from them.
"""
from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["liquidation_episodes", "EPISODE_FIELDS"]

K_LEVERAGE, K_TRIGGERED, K_LIQUIDATED, K_AUCTION_SETTLED = 8, 100, 102, 106
K_BACKSTOP, K_INS_USED, K_ADL_ROUND, K_COMPLETED = 107, 108, 117, 113

#: one episode: field → meaning (money in the settlement asset, sizes in base units)
EPISODE_FIELDS = {
    "t_s": "trigger time (s)", "account": "account", "population": "population",
    "leverage": "leverage set", "side": "long/short", "size": "position at the trigger (base)",
    "notional": "notional at the trigger's mark", "mark": "mark at the trigger",
    "closed_by": "modules that closed it, in order", "close_price": "average close price",
    "closed": "position fully closed by the end",
}


def liquidation_episodes(journal: np.ndarray, info: dict[str, Any]) -> list[dict[str, Any]]:
    """One dict per episode (:data:`EPISODE_FIELDS`): an episode opens at an account's first
    trigger while no episode of it is open and ends when a completion leaves the position
    closed (as :func:`exchange.sim.metrics.compute_metrics` counts them). O(events)."""
    from exchange.liquidation.events import MODULE_CODES

    modules = {v: k for k, v in MODULE_CODES.items()}
    tick = float(info.get("tick_size", 1.0))
    lot = float(info.get("lot_size", 1.0))
    k = int(info.get("atoms_per_tick_lot", 1))
    unit = 10.0 ** -int(info.get("settle_decimals", 6))
    pop_of: dict[int, str] = {}
    for role, ids in (info.get("roles") or {}).items():
        for a in np.asarray(ids).tolist():
            pop_of[int(a)] = str(role)
    kinds = journal["kind"]
    sel = journal[np.isin(kinds, [K_LEVERAGE, K_TRIGGERED, K_LIQUIDATED, K_AUCTION_SETTLED,
                                  K_BACKSTOP, K_INS_USED, K_ADL_ROUND, K_COMPLETED])]
    lev: dict[int, int] = {}
    open_: dict[int, dict[str, Any]] = {}
    out: list[dict[str, Any]] = []
    for kd, ts, acct, price, qty, code, _flag in zip(
            sel["kind"].tolist(), sel["ts"].tolist(), sel["acct"].tolist(),
            sel["price"].tolist(), sel["qty"].tolist(), sel["code"].tolist(),
            sel["flag"].tolist()):
        if kd == K_LEVERAGE:
            lev[acct] = qty
            continue
        if kd == K_TRIGGERED:
            if acct not in open_:
                ep = dict(t_s=ts / 1e9, account=acct, population=pop_of.get(acct),
                          leverage=lev.get(acct), side="long" if qty > 0 else "short",
                          size=abs(qty) * lot, notional=abs(qty) * price * k * unit,
                          mark=price * tick, closed_by=[], _lots=0, _value=0, closed=False)
                open_[acct] = ep
                out.append(ep)
            continue
        ep = open_.get(acct)
        if ep is None:
            continue
        if kd == K_COMPLETED:
            if qty == 0:
                ep["closed"] = True
                del open_[acct]
            continue
        name = {K_LIQUIDATED: modules.get(code, "market"), K_AUCTION_SETTLED: "auction",
                K_BACKSTOP: "backstop", K_INS_USED: "insurance", K_ADL_ROUND: "adl"}[kd]
        if kd == K_INS_USED and qty == 0:
            name = "insurance (paid)"
        if name not in ep["closed_by"]:
            ep["closed_by"].append(name)
        if qty > 0 and price > 0:
            ep["_lots"] += abs(qty)
            ep["_value"] += abs(qty) * price
    for ep in out:
        lots, value = ep.pop("_lots"), ep.pop("_value")
        ep["close_price"] = value / lots * tick if lots else None
        ep["closed_by"] = " → ".join(ep["closed_by"]) or "—"
    return out
