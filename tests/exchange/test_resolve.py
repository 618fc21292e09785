"""One resolver for "package.module:Class" paths (exchange.resolve), used by the agent registry
and the strategy loader."""
from __future__ import annotations

import pytest

from exchange.errors import ConfigError
from exchange.resolve import ResolveError, is_class_path, resolve, split_spec


def test_resolve_a_module_attribute_and_a_file(tmp_path):
    from exchange.units import RATE_SCALE

    assert resolve("exchange.units:RATE_SCALE", what="'x'") == RATE_SCALE
    f = tmp_path / "mine.py"
    f.write_text("VALUE = 42\n")
    assert resolve(f"{f}:VALUE", what="'x'") == 42
    assert resolve(str(f), what="'x'").VALUE == 42


def test_errors_name_what_was_resolved():
    with pytest.raises(ResolveError, match=r"scenario: 'type' 'nope\.mod:X' cannot be imported "
                                           r"\(ModuleNotFoundError"):
        resolve("nope.mod:X", what="scenario: 'type'")
    with pytest.raises(ResolveError, match=r"'exchange\.units:NOPE' cannot be imported "
                                           r"\(AttributeError"):
        resolve("exchange.units:NOPE", what="'class'")
    with pytest.raises(ConfigError, match="existing Python file"):
        resolve("/no/such/file.py:X", what="'class'")
    assert issubclass(ResolveError, ConfigError)


def test_split_and_shape():
    assert split_spec("a.b:C") == ("a.b", "C")
    assert split_spec("C:/x/file.py:K") == ("C:/x/file.py", "K")
    assert split_spec("a.b") == ("a.b", "")
    assert is_class_path("exchange.liquidation.adl:AdlModule")
    assert not is_class_path("adl:pro_rata") and not is_class_path("market")


def test_agent_registry_and_strategy_loader_use_it():
    from exchange.sim.agents import agent_class
    from exchange.sim.strategy import load_strategy_class

    assert agent_class("exchange.sim.agents:Keepers").__name__ == "Keepers"
    with pytest.raises(ResolveError, match="scenario: 'type'"):
        agent_class("nope.mod:X")
    with pytest.raises(ResolveError, match="'class' 'nope.mod:X' cannot be imported"):
        load_strategy_class("nope.mod:X")
