"""The mock exchange server: a Binance USDⓈ-M futures compatible REST + WebSocket API over a
simulated venue (:mod:`exchange.server.binance`), with helpers to run it beside a test or a
script and to point an unmodified ccxt client at it (:mod:`exchange.server.thread`).

>>> from exchange.server import MockBinance, ServerThread, ccxt_config
>>> mock = MockBinance(marks={"BTCUSDT": "50000"})
>>> cred = mock.add_account(deposit="10000")
>>> # with ServerThread(mock) as srv:
>>> #     ex = ccxt.binanceusdm(ccxt_config(srv.base_url, cred.api_key, cred.secret))
"""
from exchange.server.binance import BinanceError, Credentials, MockBinance
from exchange.server.thread import ServerThread, ccxt_config, serve

__all__ = ["MockBinance", "Credentials", "BinanceError", "ServerThread", "ccxt_config", "serve"]
