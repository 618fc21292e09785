"""The doctests of the simulation modules run with the suite (the examples must stay true)."""
import doctest
import importlib

import pytest

MODULES = ["exchange.sim.clock", "exchange.sim.context", "exchange.sim.scenario",
           "exchange.sim.metrics", "exchange.sim.sweep", "exchange.sim.compare",
           "exchange.liquidation.adl", "exchange.liquidation.base", "exchange.report",
           "exchange.report.adl_table", "exchange.sim.facts", "exchange.sim.pricepath"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted > 0
