"""A freqtrade configuration for the mock server: unmodified freqtrade (futures, isolated
margin) trading the mock's venue.

freqtrade builds its ccxt client from the JSON config's ``exchange.ccxt_config`` (merged
into the constructor settings of ``ccxt.binance``): :func:`freqtrade_config` puts there the
mock's URL for each of ccxt's Binance endpoints (the same map as
:func:`exchange.server.ccxt_config`, which also holds ccxt's error classes and so cannot go
into JSON) and turns off ccxt's time-difference adjustment
(https://www.freqtrade.io/en/stable/configuration/ and
https://www.freqtrade.io/en/stable/leverage/, read 2026-12-02).

Print the config for a running server::

    python -m exchange.server.freqtrade --url http://127.0.0.1:8080 \\
        --api-key KEY --secret SECRET --pair BTC/USDT:USDT > config.json
    freqtrade trade --config config.json --strategy MyStrategy

or let ``perpsim serve --freqtrade-config config.json`` write it for its first account.
"""
from __future__ import annotations

import argparse
import json
import re
import sys

__all__ = ["freqtrade_config", "main"]

_HOST = re.compile(r"^(https?|wss?)://[^/]+")


def _urls(base_url: str) -> dict:
    import ccxt

    http_base = base_url.rstrip("/")
    ws_base = re.sub(r"^http", "ws", http_base)

    def rewrite(value):
        if isinstance(value, dict):
            return {k: rewrite(v) for k, v in value.items()}
        if isinstance(value, str) and _HOST.match(value):
            return _HOST.sub(ws_base if value.startswith("ws") else http_base, value)
        return value

    api = rewrite(ccxt.binance().urls["api"])
    try:
        import ccxt.pro as ccxtpro

        api = {**rewrite(ccxtpro.binance().urls["api"]), **api}
    except Exception:       # ccxt without its websocket part
        pass
    return {"api": api}


def freqtrade_config(base_url: str, api_key: str, secret: str, pairs=("BTC/USDT:USDT",), *,
                     timeframe: str = "1m", stake_amount: float | str = 100,
                     max_open_trades: int = 1, dry_run: bool = False,
                     leverage_mode: str = "isolated", db_url: str | None = None) -> dict:
    """A complete freqtrade config (JSON-serialisable dict) trading ``pairs`` on the mock at
    ``base_url`` with the account of ``api_key``/``secret``; the stake currency is the pairs'
    settle asset (``BTC/USDC:USDC`` on a USDC venue)."""
    urls = _urls(base_url)
    settles = {p.rpartition(":")[2] for p in pairs if ":" in p}
    if len(settles) > 1:
        raise ValueError(f"'pairs' must settle in one asset (got {sorted(settles)})")
    cfg = {
        "trading_mode": "futures",
        "margin_mode": leverage_mode,
        "max_open_trades": max_open_trades,
        "stake_currency": settles.pop() if settles else "USDT",
        "stake_amount": stake_amount,
        "tradable_balance_ratio": 0.99,
        "dry_run": dry_run,
        "timeframe": timeframe,
        "cancel_open_orders_on_exit": True,
        "unfilledtimeout": {"entry": 30, "exit": 30, "unit": "seconds"},
        "entry_pricing": {"price_side": "other", "use_order_book": True, "order_book_top": 1},
        "exit_pricing": {"price_side": "other", "use_order_book": True, "order_book_top": 1},
        "order_types": {"entry": "market", "exit": "market", "emergency_exit": "market",
                        "force_entry": "market", "force_exit": "market", "stoploss": "market",
                        "stoploss_on_exchange": False},
        "exchange": {
            "name": "binance",
            "key": api_key,
            "secret": secret,
            "ccxt_config": {"urls": urls, "enableRateLimit": False,
                            "options": {"adjustForTimeDifference": False,
                                        "defaultType": "swap"}},
            "ccxt_async_config": {"urls": urls, "enableRateLimit": False,
                                  "options": {"adjustForTimeDifference": False,
                                              "defaultType": "swap"}},
            "pair_whitelist": list(pairs),
            "pair_blacklist": [],
            "enable_ws": False,
        },
        "pairlists": [{"method": "StaticPairList"}],
        "internals": {"process_throttle_secs": 2, "heartbeat_interval": 60},
        "bot_name": "perpsim",
        "initial_state": "running",
        "force_entry_enable": False,
    }
    if db_url is not None:
        cfg["db_url"] = db_url
    return cfg


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m exchange.server.freqtrade",
                                description="Print a freqtrade config (JSON) for a running "
                                            "perpsim mock exchange.")
    p.add_argument("--url", required=True, help="the server's base URL, e.g. http://127.0.0.1:8080")
    p.add_argument("--api-key", required=True)
    p.add_argument("--secret", required=True)
    p.add_argument("--pair", action="append", help="pair to trade (repeatable; default BTC/USDT:USDT)")
    p.add_argument("--timeframe", default="1m")
    p.add_argument("--stake-amount", default="100")
    p.add_argument("--db-url", default=None)
    args = p.parse_args(argv)
    cfg = freqtrade_config(args.url, args.api_key, args.secret, args.pair or ["BTC/USDT:USDT"],
                           timeframe=args.timeframe, stake_amount=float(args.stake_amount),
                           db_url=args.db_url)
    json.dump(cfg, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
