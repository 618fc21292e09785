"""The doctests of the backtest and data modules stay true."""
from __future__ import annotations

import doctest
import importlib

import pytest


@pytest.mark.parametrize("name", ["exchange.sim.backtest", "exchange.errors", "exchange.data.loaders"])
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
