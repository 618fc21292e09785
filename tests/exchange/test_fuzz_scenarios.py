"""Fuzz of the scenario files (issue 18): every number of every built-in scenario TOML, mutated to
extremes, is either accepted or refused with a typed error naming its key — never an untyped
exception — and a sample of the accepted mutations runs a short simulation that ends, or stops
with a typed error, within a time limit."""
from __future__ import annotations

import copy
import random
import signal
import time
import tomllib
import warnings

import pytest

from exchange.errors import ConfigError, ExchangeError
from exchange.sim.scenario import _builtin_dir, list_scenarios, parse_scenario

#: ints at and past int64, floats at the edge of the double range, tiny, negative, non-numbers
EXTREMES = (0, -1, 1, 0.5, 1e-300, 2**53, 2**62, 2**63, -(2**63) - 1, 2**200, 1e15, 1e308,
            -1e308, float("inf"), float("-inf"), float("nan"), True, "1e999", "nan", [], {})
RUN_EXTREMES = (0, 1, 0.5, 1e-9, 1e6, 1e9, 1e15, 2**62, 2**63)


def _leaves(node, path=()):
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _leaves(v, path + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _leaves(v, path + (i,))
    elif isinstance(node, (int, float)):
        yield path, node


def _set(data, path, value):
    node = data
    for p in path[:-1]:
        node = node[p]
    node[path[-1]] = value


def _load(name):
    path = str(_builtin_dir() / f"{name}.toml")
    with open(path, "rb") as fh:
        return path, tomllib.load(fh)


@pytest.mark.parametrize("name", list_scenarios())
def test_every_number_of_a_scenario_mutated_to_an_extreme_loads_or_is_a_typed_error(name):
    path, data = _load(name)
    leaves = list(_leaves(data))
    assert len(leaves) > 10
    refused = 0
    for key, _ in leaves:
        for value in EXTREMES:
            mutated = copy.deepcopy(data)
            _set(mutated, key, value)
            try:
                parse_scenario(mutated, f"{name}.toml", path)
            except ExchangeError as exc:
                refused += 1
                # the message names the file (or the module table) it came from
                assert f"{name}.toml" in str(exc), (key, value, str(exc))
            except Exception as exc:    # noqa: BLE001 — the finding this test exists for
                pytest.fail(f"{name}.toml {'.'.join(map(str, key))} = {value!r}: "
                            f"{type(exc).__name__}: {exc}")
    assert refused > len(leaves)        # the extremes are mostly refused, not silently taken


def test_a_time_past_int64_nanoseconds_names_its_key():
    path, data = _load("flash_crash")
    data["shock"][0]["at_s"] = 1e300
    with pytest.raises(ConfigError, match=r"'shock\[\d\]\.at_s' must be a time below 2\*\*63 ns"):
        parse_scenario(data, "flash_crash.toml", path)


class _Hang(Exception):
    pass


def _alarm(*_):
    raise _Hang()


def test_accepted_extreme_scenarios_run_briefly_without_crash_or_hang():
    from exchange.sim.runner import Simulation

    rng = random.Random(18)
    cases = []
    for name in list_scenarios():
        path, data = _load(name)
        for key, _ in _leaves(data):
            if key[0] == "venue":
                continue
            cases.extend((name, path, data, key, v) for v in RUN_EXTREMES)
    rng.shuffle(cases)
    old = signal.signal(signal.SIGALRM, _alarm)
    ran = 0
    t_end = time.monotonic() + 8
    try:
        for name, path, data, key, value in cases:
            if time.monotonic() > t_end:
                break
            mutated = copy.deepcopy(data)
            _set(mutated, key, value)
            if key != ("scenario", "duration_s"):
                mutated["scenario"]["duration_s"] = min(mutated["scenario"]["duration_s"], 20)
            try:
                sc = parse_scenario(mutated, f"{name}.toml", path)
            except ExchangeError:
                continue
            if sc.n_agents > 2000 or sc.duration_ns > 300 * 10**9:
                continue               # legal but long: not a few-second run
            signal.alarm(20)
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)
                    Simulation(sc, seed=0).run()
                ran += 1
            except ExchangeError:
                pass
            except _Hang:
                pytest.fail(f"{name}.toml {'.'.join(map(str, key))} = {value!r}: no end in 20 s")
            except Exception as exc:    # noqa: BLE001
                pytest.fail(f"{name}.toml {'.'.join(map(str, key))} = {value!r}: "
                            f"{type(exc).__name__}: {exc}")
            finally:
                signal.alarm(0)
    finally:
        signal.signal(signal.SIGALRM, old)
    assert ran >= 2
