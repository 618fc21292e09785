"""Waterfalls with module options on the command line: ``market,insurance,adl:pro_rata``."""
from __future__ import annotations

import pytest

from exchange.errors import ConfigError
from exchange.liquidation import build_waterfall
from exchange.sim.compare import compare, parse_waterfalls, split_waterfall


def test_one_argument_may_hold_several_waterfalls_separated_by_semicolons():
    assert parse_waterfalls(["market,insurance,adl:pro_rata;market+insurance+adl:bitmex",
                             "market,backstop,adl"]) == [
        ("market", "insurance", "adl:pro_rata"), ("market", "insurance", "adl:bitmex"),
        ("market", "backstop", "adl")]


def test_module_options_become_preset_overrides():
    names, ov = split_waterfall(("market", "insurance", "adl:leverage_drain:price=oracle"))
    assert names == ("market", "insurance", "adl")
    assert ov == {"venue.liquidation.adl_policy": "leverage_drain",
                  "venue.liquidation.adl_price": "oracle"}
    assert split_waterfall(["socialized:position_pro_rata"])[1] == {
        "venue.liquidation.socialized_policy": "position_pro_rata"}
    # an import path keeps its colon
    assert split_waterfall(["exchange.liquidation.adl:AdlModule"]) == (
        ("exchange.liquidation.adl:AdlModule",), {})


@pytest.mark.parametrize("spec, field, value", [
    ("adl:min_haircut", "adl:policy", "min_haircut"),
    ("adl:pro_rata:price=last", "adl:price", "last"),
    ("adl:pro_rata:speed=2", "adl:speed", "speed"),
    ("insurance:big", "waterfall module option", "insurance:big"),
])
def test_bad_module_options_name_field_rule_and_value(spec, field, value):
    with pytest.raises(ConfigError) as exc:
        split_waterfall(["market", spec])
    assert exc.value.field == field and exc.value.value == value
    assert "must be" in str(exc.value)


def test_build_waterfall_reads_the_same_syntax():
    wf = build_waterfall(["market", "insurance", "adl:risk_aware"])
    assert wf[2].policy == "risk_aware" and wf[2].price == "bankruptcy"
    with pytest.raises(ConfigError):
        build_waterfall(["adl:nonsense"])


def test_compare_runs_each_policy_as_its_own_design():
    cmp = compare("flash_crash", ["market,insurance,adl:pro_rata",
                                  "market,insurance,adl:leverage_drain"], seeds=[0],
                  workers=1, report=False, overrides={"scenario.duration_s": 420})
    assert cmp.labels == ["market,insurance,adl:pro_rata", "market,insurance,adl:leverage_drain"]
    a, b = (cmp.results[lbl][0] for lbl in cmp.labels)
    assert a.label == cmp.labels[0] and b.label == cmp.labels[1]
    # both resolve the crash's bankrupt positions by ADL, with different allocations
    assert a.metrics["adl_rounds"] > 0 and b.metrics["adl_rounds"] > 0
    assert a.metrics["adl_winners_hit"] != b.metrics["adl_winners_hit"]
    assert a.metrics["adl_excess_haircut"] <= 0.001 * a.metrics["adl_shortfall"]
    with pytest.raises(ConfigError):
        compare("flash_crash", ["market,insurance,adl:lottery"], seeds=[0], workers=1,
                report=False)


def test_the_command_line_documents_and_checks_module_options(tmp_path, capsys):
    from exchange.cli import main

    with pytest.raises(SystemExit):
        main(["compare", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "adl:POLICY" in help_text and "leverage_drain" in help_text and "';'" in help_text
    rc = main(["compare", "flash_crash", "--waterfalls", "market,insurance,adl:lottery",
               "--seeds", "1", "--workers", "1", "--no-report", "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert rc == 2 and "'adl:policy' must be one of" in err and "(got 'lottery')" in err
