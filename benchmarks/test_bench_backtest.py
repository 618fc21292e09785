"""pytest-benchmark version of bench_backtest.py (100,000 recorded events, vol_adjusted attached)."""
from bench_backtest import generate, replay_once

from exchange.data import load
from exchange.data.feed import ReplayFeed
from exchange.presets import load_preset


def test_replay_with_a_strategy(benchmark):
    paths = generate(100_000)
    feed = ReplayFeed.from_tables(load(list(paths.values())),
                                  load_preset("binance_usdm").instruments["BTCUSDT"])
    rate, info = benchmark.pedantic(replay_once, args=(feed,), rounds=3, iterations=1)
    assert info["ok"] and info["strategy_fills"] > 0 and info["book_commands"] > 0
