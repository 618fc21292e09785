"""The doctests of the margin-engine modules run as part of the suite (house style: every public
method has an example, and the example must stay true)."""
from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["exchange.units", "exchange.errors", "exchange.codes", "exchange.instruments",
           "exchange.margin", "exchange.presets", "exchange.presets.params",
           "exchange.presets._loader", "exchange.resolve", "exchange.orderstate"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0, f"{result.failed} doctest(s) failed in {name}"
    assert result.attempted > 0 or name == "exchange.presets.params"
