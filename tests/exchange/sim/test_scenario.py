import pytest

from exchange.errors import ConfigError
from exchange.sim.scenario import list_scenarios, load_scenario, parse_value


def test_every_builtin_scenario_loads_with_its_population_and_shocks():
    names = list_scenarios()
    assert {"calm", "flash_crash", "oracle_manipulation", "funding_squeeze"} <= set(names)
    for name in names:
        sc = load_scenario(name)
        assert sc.duration_ns > 0 and sc.n_agents > 0 and sc.preset() is not None
    crash = load_scenario("flash_crash")
    assert [s.type for s in crash.shocks][:2] == ["mm_withdraw", "index_slide"]
    assert crash.waterfall == ("market", "insurance", "adl")


def test_an_index_slide_is_its_change_in_equal_gaps_over_its_window():
    from exchange.sim.runner import _slide_steps
    from exchange.sim.sources import ConstantSource, ShockSource

    sc = load_scenario("flash_crash")
    slide = [s for s in sc.shocks if s.type == "index_slide"][0]
    steps = _slide_steps(slide)
    assert len(steps) == slide.params["steps"]
    assert steps[0][0] == slide.at_ns and steps[-1][0] < slide.end_ns
    src = ConstantSource(100.0)
    for at, step in steps:
        src = ShockSource(src, at, step)
    end = 100.0 * (1 + slide.params["change"])
    assert src.price_at(slide.at_ns - 1) == 100.0
    assert end < src.price_at(steps[len(steps) // 2][0]) < 100.0
    assert src.price_at(slide.end_ns) == pytest.approx(end)


def _write(tmp_path, text):
    p = tmp_path / "bad.toml"
    p.write_text(text)
    return str(p)


BASE = '[scenario]\npreset = "binance_usdm"\nduration_s = 60\n[index]\nprice = 100.0\n'


@pytest.mark.parametrize("extra, key, value", [
    ('[population.noise]\ncount = -2\n', "'population.noise.count'", "-2"),
    ('[population.noise]\nrate_per_mni = 1.0\n', "'population.noise.rate_per_mni'", "1.0"),
    ('[population.whales]\ntype = "whale"\n', "'population.whales.type'", "'whale'"),
    ('[[shock]]\ntype = "meteor"\nat_s = 1\n', "'shock[0].type'", "'meteor'"),
    ('[[shock]]\ntype = "index_gap"\nat_s = 1\nchange = -1.5\n', "'shock[0].change'", "-1.5"),
    ('[venue]\n"liquidation.waterfall" = ["market", "prayer"]\n', "waterfall", "'prayer'"),
])
def test_bad_input_is_one_line_naming_the_file_the_key_and_the_value(tmp_path, extra, key, value):
    path = _write(tmp_path, BASE + extra)
    with pytest.raises(ConfigError) as info:
        load_scenario(path)
    msg = str(info.value)
    assert "\n" not in msg and msg.startswith("bad.toml") and key in msg and value in msg


def test_unknown_preset_and_bad_toml_are_config_errors(tmp_path):
    with pytest.raises(ConfigError, match=r"bad.toml: 'scenario.preset' 'nasdaq'"):
        load_scenario(_write(tmp_path, BASE.replace("binance_usdm", "nasdaq")))
    with pytest.raises(ConfigError, match="bad.toml: not valid TOML"):
        load_scenario(_write(tmp_path, "[scenario\n"))
    with pytest.raises(ConfigError, match="'scenario' must be a built-in scenario name"):
        load_scenario("no_such_scenario")


def test_overrides_reach_populations_shocks_and_the_venue():
    sc = load_scenario("flash_crash").with_overrides({
        "population.makers.count": 2, "shock.1.change": -0.2,
        "venue.liquidation.insurance_fund": "777", "waterfall": ["market", "insurance"]})
    pops = {p.name: p for p in sc.populations}
    assert pops["makers"].params["count"] == 2
    assert [s.params.get("change") for s in sc.shocks if s.type == "index_slide"][0] == -0.2
    preset = sc.preset()
    assert preset.liquidation.insurance_fund_atoms == 777 * 10**6
    assert preset.liquidation.waterfall == ("market", "insurance")
    with pytest.raises(ConfigError, match="'population.makers.count' must be an integer >= 0"):
        sc.with_overrides({"population.makers.count": "many"})


def test_command_line_values_read_like_toml():
    assert parse_value("3") == 3 and parse_value("0.5") == 0.5 and parse_value("true") is True
    assert parse_value("market+insurance") == ["market", "insurance"]
    assert parse_value("calm") == "calm"
