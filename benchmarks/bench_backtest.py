"""Replay benchmark: 1,000,000 recorded L2 updates and trades through the venue with a strategy
attached, beside the per-order matching rate on the standard stream, in one run.

    python benchmarks/bench_backtest.py [--json] [--rounds 5] [--events 1000000]

The recorded stream is synthetic, in the Tardis ``incremental_book_L2`` + ``trades`` shape of
a busy BTCUSDT hour on Binance USDⓈ-M: 10 book messages a second, each updating ~95 levels
(most near the touch, a geometric profile up to 400 levels deep; 15 % deletions; levels the
mid crosses deleted), one trade every ~0.1 s at the touch, an index 0.05 % under the mid
recorded every second (``derivative_ticker``). It is generated once (seeded) and cached as
Tardis CSV files, which are loaded through :func:`exchange.data.load` (``load_rows_per_s``).

``replay_events_per_s`` = recorded events (book rows + trades) / wall time of
:meth:`exchange.sim.replay.Replay.run` with the ``vol_adjusted`` library strategy (stop-loss,
take-profit and trailing stop on the venue) on the ``binance_usdm`` preset; the venue steps its
oracle, mark, funding and liquidation engine every recorded second as it does live.
``matching_per_order_msgs_per_s`` is the per-order loop of ``bench_matching.py`` on the
standard stream (1,000,000 messages of ../shared/bench). Rounds alternate the two (median
reported), so load on the shared machine slows both alike. The run checks what it computed:
every recorded event consumed, the venue's invariants (conservation of money, books sound),
the strategy traded, and the per-order book's end state equals the stream's expected one;
``ok`` is false (exit 1) otherwise.

Targets (issue 17): replay_events_per_s >= 1,500,000 and >= 0.25 × the per-order rate.
"""
from __future__ import annotations

import argparse
import gzip
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

# _common sets OPENBLAS_NUM_THREADS before numpy is imported: it comes first
from _common import CACHE, end_state_matches, median, standard_stream  # noqa: I001

import numpy as np

import matching

T0_US = 1_704_067_200 * 1_000_000            # 2024-01-01 00:00 UTC
TICK = 0.1
LOT = 0.001


def generate(events: int, seed: int = 17) -> dict[str, Path]:
    """Write (once) the synthetic Tardis CSVs of ``events`` book rows + trades; their paths."""
    CACHE.mkdir(parents=True, exist_ok=True)
    stem = CACHE / f"replay_{events}_{seed}"
    paths = {k: Path(f"{stem}_{k}.csv.gz") for k in ("book", "trades", "ticker")}
    if all(p.is_file() for p in paths.values()):
        return paths
    rng = np.random.default_rng(seed)
    levels = 400
    mid = 420_000                                   # ticks (42,000.0)
    book = {0: {}, 1: {}}
    for d in range(levels):
        book[0][mid - 1 - d] = int(rng.integers(1, 3000))
        book[1][mid + 1 + d] = int(rng.integers(1, 3000))
    b_rows, t_rows, x_rows = [], [], []
    msg_us = 100_000
    t = T0_US
    for side in (0, 1):
        for p, q in sorted(book[side].items()):
            b_rows.append((t, "true", side, p, q))
    n_trades = 0
    while len(b_rows) + n_trades < events:
        t += msg_us
        step = int(rng.integers(-2, 3))
        mid += step
        # the levels the mid crossed are gone
        for p in [p for p in book[0] if p >= mid]:
            del book[0][p]
            b_rows.append((t, "false", 0, p, 0))
        for p in [p for p in book[1] if p <= mid]:
            del book[1][p]
            b_rows.append((t, "false", 1, p, 0))
        k = int(rng.poisson(95))
        sides = rng.integers(0, 2, k)
        depth = np.minimum(rng.geometric(0.06, k) - 1, levels - 1)
        qty = rng.integers(1, 3000, k)
        dele = rng.random(k) < 0.15
        for s, d, q, x in zip(sides.tolist(), depth.tolist(), qty.tolist(), dele.tolist()):
            p = mid - 1 - d if s == 0 else mid + 1 + d
            q = 0 if x else q
            if q:
                book[s][p] = q
            else:
                book[s].pop(p, None)
            b_rows.append((t, "false", s, p, q))
        if rng.random() < 0.9:                      # ~ one trade per message
            s = int(rng.integers(0, 2))
            best = max(book[0]) if s == 1 and book[0] else (min(book[1]) if book[1] else mid)
            t_rows.append((t + 50_000, n_trades, "buy" if s == 0 else "sell", best,
                           int(rng.integers(1, 400))))
            n_trades += 1
        if (t - T0_US) % 1_000_000 == 0:
            x_rows.append((t, mid * (1 - 0.0005)))
    head = "exchange,symbol,timestamp,local_timestamp,"
    with gzip.open(paths["book"], "wt", compresslevel=1) as f:
        f.write(head + "is_snapshot,side,price,amount\n")
        f.writelines(f"binance-futures,BTCUSDT,{t},{t + 1500},{s_},{'bid' if sd == 0 else 'ask'},"
                     f"{p * TICK:.1f},{q * LOT:.3f}\n" for t, s_, sd, p, q in b_rows)
    with gzip.open(paths["trades"], "wt", compresslevel=1) as f:
        f.write(head + "id,side,price,amount\n")
        f.writelines(f"binance-futures,BTCUSDT,{t},{t + 1000},{i},{s},{p * TICK:.1f},{q * LOT:.3f}\n"
                     for t, i, s, p, q in t_rows)
    with gzip.open(paths["ticker"], "wt", compresslevel=1) as f:
        f.write(head + "funding_timestamp,funding_rate,predicted_funding_rate,open_interest,"
                "last_price,index_price,mark_price\n")
        f.writelines(f"binance-futures,BTCUSDT,{t},{t + 500},,,,,,{ix * TICK:.2f},\n" for t, ix in x_rows)
    return paths


def per_order_rate(msgs, cols) -> tuple[float, dict]:
    from bench_matching import per_order_summary, time_per_order

    book = matching.Book()
    rate, book = time_per_order(lambda: book, len(msgs), cols)
    return rate, per_order_summary(book)


def replay_once(feed) -> tuple[float, dict]:
    from exchange.sim.replay import Replay
    from exchange.strategies import BUILTIN

    cls, params = BUILTIN["vol_adjusted"]
    strat = cls(**params, stop_loss_pct=3.0, take_profit_pct=3.0, trailing_pct=1.5, deposit="100000")
    rep = Replay(feed, [("vol_adjusted", strat)], preset="binance_usdm", check="none")
    t0 = time.perf_counter()
    res = rep.run()
    wall = time.perf_counter() - t0
    rep.ex.check_invariants()                       # after the timing: conservation and books
    j = res.journal
    acct = res.strategies["vol_adjusted"]["account"]
    fills = int(((j["kind"] == 3) & (j["acct"] == acct)).sum())
    ok = (res.stats["book_rows_applied"] == len(feed.book_ts)
          and res.stats["trades_applied"] == len(feed.trade_ts) and fills > 0)
    return feed.events / wall, dict(ok=ok, strategy_fills=fills, wall_s=wall,
                                    book_commands=res.stats["book_commands"],
                                    tape_orders=res.stats["tape_orders"],
                                    venue_steps=int(((j["kind"] == 11)).sum()),
                                    recorded_s=(feed.end_ns - feed.start_ns) / 1e9)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    ap.add_argument("--rounds", type=int, default=5, help="alternating rounds (median reported)")
    ap.add_argument("--events", type=int, default=1_000_000, help="recorded events to replay")
    args = ap.parse_args(argv)
    from exchange.data import load
    from exchange.data.feed import ReplayFeed
    from exchange.presets import load_preset

    paths = generate(args.events)
    t0 = time.perf_counter()
    tables = load(list(paths.values()))
    load_s = time.perf_counter() - t0
    rows = sum(len(t) for t in tables.values())
    feed = ReplayFeed.from_tables(tables, load_preset("binance_usdm").instruments["BTCUSDT"])
    _, msgs, expected = standard_stream(1_000_000)
    cols = [msgs[f].tolist() for f in ("kind", "side", "qty", "oid", "price")]
    replay_rates, match_rates, details, match_ok = [], [], [], True
    for _ in range(max(1, args.rounds)):
        rate, info = replay_once(feed)
        replay_rates.append(rate)
        details.append(info)
        rate, summary = per_order_rate(msgs, cols)
        match_rates.append(rate)
        match_ok &= end_state_matches(summary, expected)
    out = {
        "events": feed.events,
        "book_rows": len(feed.book_ts),
        "trades": len(feed.trade_ts),
        "recorded_s": details[0]["recorded_s"],
        "replay_events_per_s": round(median(replay_rates)),
        "matching_per_order_msgs_per_s": round(median(match_rates)),
        "load_rows_per_s": round(rows / load_s),
        "strategy_fills": details[0]["strategy_fills"],
        "book_commands": details[0]["book_commands"],
        "tape_orders": details[0]["tape_orders"],
        "venue_steps": details[0]["venue_steps"],
        "ok": bool(all(d["ok"] for d in details) and match_ok),
        "runs": {"replay": [round(r) for r in replay_rates], "per_order": [round(r) for r in match_rates]},
    }
    out["replay_vs_per_order"] = round(out["replay_events_per_s"] / out["matching_per_order_msgs_per_s"], 3)
    if args.json:
        print(json.dumps(out))
    else:
        print(f"replay_events_per_s            {out['replay_events_per_s'] / 1e6:8.2f} M/s  (target >= 1.5)")
        print(f"matching_per_order_msgs_per_s  {out['matching_per_order_msgs_per_s'] / 1e6:8.2f} M/s")
        print(f"replay / per-order             {out['replay_vs_per_order']:8.3f}     (target >= 0.25)")
        print(f"load_rows_per_s                {out['load_rows_per_s'] / 1e6:8.2f} M/s")
        print(f"ok                             {out['ok']}")
    return 0 if out["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
