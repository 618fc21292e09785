"""Recorded market data in: Tardis.dev and Binance public-data CSV loaders (:mod:`.loaders`),
their documented column layouts (:mod:`.layouts`), and the conversion of loaded tables into
the replay feed (:mod:`.feed`)."""
from exchange.data.layouts import LAYOUTS, Layout
from exchange.data.loaders import DataTable, detect_layout, load, load_file, read_bytes, split_kind

__all__ = [
           "LAYOUTS",
           "DataTable",
           "Layout",
           "detect_layout",
           "load",
           "load_file",
           "read_bytes",
           "split_kind",
]
