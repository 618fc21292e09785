"""The server's request handlers by area, each a part of :class:`~exchange.server.binance.MockBinance`."""
