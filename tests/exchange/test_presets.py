"""Venue presets: every shipped file loads; bad files fail naming file, key, rule and value."""
from __future__ import annotations

import tomllib
from importlib import resources

import pytest

from exchange.errors import ConfigError, UnknownSymbolError
from exchange.instruments import InstrumentSpec
from exchange.presets import MARK_METHODS, VenuePreset, list_presets, load_preset, preset_from_dict
from exchange.units import RATE_SCALE

USDT = 10**6
PRESETS = ["binance_usdm", "bitmex", "bybit_linear", "drift", "dydx_v4", "hyperliquid"]
BTC_ETH = {
    "binance_usdm": ("BTCUSDT", "ETHUSDT"), "bybit_linear": ("BTCUSDT", "ETHUSDT"),
    "bitmex": ("XBTUSDT", "ETHUSDT"), "hyperliquid": ("BTC", "ETH"),
    "dydx_v4": ("BTC-USD", "ETH-USD"), "drift": ("BTC-PERP", "ETH-PERP"),
}


def _raw(name: str) -> str:
    return (resources.files("exchange.presets") / f"{name}.toml").read_text("utf-8")


def test_list_presets_names_the_six_shipped_venues():
    assert list_presets() == PRESETS


@pytest.mark.parametrize("name", PRESETS)
def test_every_preset_loads_with_btc_and_eth_perpetuals(name):
    preset = load_preset(name)
    assert isinstance(preset, VenuePreset)
    assert preset.name == name and preset.source == f"{name}.toml"
    for symbol in BTC_ETH[name]:
        spec = preset.instrument(symbol)
        assert isinstance(spec, InstrumentSpec) and spec.symbol == symbol
        assert spec.settle == preset.venue.settle_asset
        assert spec.atoms_per_tick_lot > 0
    assert preset.venue.mark_method in MARK_METHODS
    assert load_preset(name) == preset   # deterministic


@pytest.mark.parametrize("name", PRESETS)
def test_every_number_in_a_preset_cites_its_source_or_says_why_not(name):
    """Each value line of an instrument, funding, margin or liquidation table carries a comment
    with a legend mark ([C], [3P], [U], [S]) or sits in a table whose header comment does."""
    text = _raw(name)
    assert "[C]" in text and "[U]" in text and "[S]" in text
    assert "Legend:" in text


def test_waterfalls_and_adl_policies_per_venue():
    expected = {
        "binance_usdm": (("market", "insurance", "adl"), "binance"),
        "bybit_linear": (("market", "insurance", "adl"), "bitmex"),
        "bitmex": (("market", "insurance", "adl"), "bitmex"),
        "hyperliquid": (("market", "backstop", "adl"), "hyperliquid"),
        "dydx_v4": (("market", "insurance", "adl"), "random"),
        "drift": (("market", "insurance", "socialized"), "none"),
    }
    for name, (waterfall, policy) in expected.items():
        liq = load_preset(name).liquidation
        assert (liq.waterfall, liq.adl_policy) == (waterfall, policy)
    assert load_preset("drift").liquidation.socialized_policy == "position_pro_rata"


def test_selected_values_from_the_reference():
    binance = load_preset("binance_usdm")
    btc = binance.instrument("BTCUSDT")
    assert (btc.taker_fee_rate, btc.maker_fee_rate) == (50_000, 20_000)        # 0.05 % / 0.02 %
    assert btc.min_notional_atoms == 100 * USDT
    assert btc.price_band_rate == btc.market_take_bound_rate == 5_000_000     # 5 %
    assert btc.impact_notional_atoms == 25_000 * USDT                          # 200 / 0.8 %
    assert binance.funding.interest_rate == 10_000 and binance.funding.clamp_rate == 50_000
    assert binance.margin.partial_liquidation.mode == "tier_step_down"

    hl = load_preset("hyperliquid")
    assert (hl.funding.pay_every_hours, hl.funding.interval_hours) == (1, 8)
    assert hl.funding.cap_rate == 4_000_000 and hl.funding.payment_price == "oracle"
    partial = hl.margin.partial_liquidation
    assert (partial.mode, partial.threshold_notional_atoms, partial.fraction_rate,
            partial.cooldown_ms) == ("fraction", 100_000 * USDT, 20_000_000, 30_000)
    assert hl.instrument("BTC").tiers[0].mmr == 1_250_000                   # 40x → 1.25 %
    assert hl.instrument("BTC").tiers[1].maintenance_amount_atoms == 1_875_000 * USDT

    dydx = load_preset("dydx_v4")
    partial = dydx.margin.partial_liquidation
    assert (partial.mode, partial.fraction_rate, partial.min_notional_atoms,
            partial.max_notional_per_step_atoms) == ("per_block", 10_000_000, 1_000 * USDT,
                                                     100_000 * USDT)
    assert dydx.instrument("BTC-USD").maker_fee_rate == -11_000               # rebate
    assert dydx.funding.clamp_rate is None

    drift = load_preset("drift")
    assert (drift.funding.amortisation_hours, drift.funding.averaging) == (24, "twap_spread")
    assert drift.margin.liquidation_buffer_rate == 2_000_000


def test_unknown_symbol_is_a_key_error_naming_the_choices():
    with pytest.raises(UnknownSymbolError, match="'DOGEUSDT' must be one of BTCUSDT, ETHUSDT"):
        load_preset("binance_usdm").instrument("DOGEUSDT")


# -- overrides ---------------------------------------------------------------------------------

def test_overrides_return_a_new_validated_preset_and_leave_the_original_alone():
    base = load_preset("binance_usdm")
    changed = base.with_overrides({
        "liquidation.waterfall": ["market", "auction", "insurance", "socialized"],
        "liquidation.socialized_policy": "profit_pro_rata",
        "instruments.BTCUSDT.taker_fee_rate": "0.0004",
        "instruments.BTCUSDT.tiers.0.max_leverage": 100,
        "funding.interest_rate": "0",
    })
    assert changed.liquidation.waterfall == ("market", "auction", "insurance", "socialized")
    assert changed.instrument("BTCUSDT").taker_fee_rate == 40_000
    assert changed.instrument("BTCUSDT").tiers[0].max_leverage == 100
    assert changed.funding.interest_rate == 0
    assert changed.source == "binance_usdm.toml + overrides"
    assert base.instrument("BTCUSDT").taker_fee_rate == 50_000
    assert base.liquidation.waterfall == ("market", "insurance", "adl")
    assert load_preset("binance_usdm", {"funding.interest_rate": "0"}).funding.interest_rate == 0


def test_bitmex_2015_socialized_variant_is_one_override_away():
    preset = load_preset("bitmex").with_overrides(
        {"liquidation.waterfall": ["market", "insurance", "socialized"]})
    assert preset.liquidation.socialized_policy == "profit_pro_rata"


@pytest.mark.parametrize("overrides, message", [
    ({"liquidation.waterfal": ["market"]},
     ("binance_usdm.toml + overrides: 'liquidation.waterfal' must be a known key of "
      "[liquidation] (did you mean 'waterfall'?)")),
    ({"instruments.BTCUSDT.taker_fee_rate": 0.0004},
     "'instruments.BTCUSDT.taker_fee_rate' must be a rate"),
    ({"funding.interest_rate": 10_000},
     "'funding.interest_rate' must be a rate written as a decimal string of the fraction"),
    ({"instruments.BTCUSDT.taker_fee_rate": "0.000000001"},
     "'instruments.BTCUSDT.taker_fee_rate' must be a fraction with at most 8 decimals"),
    ({"instruments.NOPE.taker_fee_rate": "0.1"},
     "'instruments.NOPE' must be an existing table or list of the preset (got <missing>)"),
    ({"liquidation.waterfall": ["market", "bogus"]},
     "'liquidation.waterfall' must be a non-empty list of distinct module names"),
    ({"liquidation.adl_policy": "none"},
     "'liquidation.adl_policy' must be a ranking policy (not 'none') when 'adl' is in"),
    ({"instruments.BTCUSDT.tiers.1.cum": "51"},
     "'instruments.BTCUSDT.tiers[1].cum' must be 50 (cum_n = cum_n-1 + floor_n"),
    ({"instruments.BTCUSDT.tiers.1.mmr": "0.003"},
     "'instruments.BTCUSDT.tiers[1].mmr' must be >= the previous tier's 400000 (got '0.003')"),
    ({"instruments.BTCUSDT.tiers.10": {}},
     "'instruments.BTCUSDT.tiers.10' must be an index below 10 (got '10')"),
    ({"funding.pay_every_hours": 3},
     "'funding.pay_every_hours' must be a divisor of interval_hours (8) (got 3)"),
    ({"venue.mark_method": "median"}, "'venue.mark_method' must be one of 'binance'"),
    ({"margin.partial_liquidation.mode": "fraction"},
     "'margin.partial_liquidation.fraction_rate' must be > 0 when mode is 'fraction' (got 0)"),
    ({"liquidation.insurance_fund": "-5"}, "'liquidation.insurance_fund' must be >= 0 (got '-5')"),
    ({"instruments.BTCUSDT.max_order_qty": "0.0005"},
     "'instruments.BTCUSDT.max_order_qty' must be a multiple of lot_size 0.001 (got '0.0005')"),
    ({"instruments.BTCUSDT.tick_size": "-0.1"},
     "'instruments.BTCUSDT.tick_size' must be > 0 (got '-0.1')"),
    ({"margin.alert_thresholds_pct": [80, 50]},
     "'margin.alert_thresholds_pct' must be strictly increasing ints in (0, 100]"),
])
def test_bad_override_fails_naming_source_key_rule_and_value(overrides, message):
    with pytest.raises(ConfigError) as info:
        load_preset("binance_usdm").with_overrides(overrides)
    assert message in str(info.value)
    assert str(info.value).startswith("binance_usdm.toml + overrides: ")


# -- user files ----------------------------------------------------------------------------------

def test_a_user_toml_file_loads_by_path(tmp_path):
    text = _raw("binance_usdm").replace('name = "binance_usdm"', 'name = "my_venue"')
    text = text.replace('taker_fee_rate = "0.0005"', 'taker_fee_rate = "0.0004"')
    path = tmp_path / "my_venue.toml"
    path.write_text(text, "utf-8")
    for arg in (path, str(path)):
        preset = load_preset(arg)
        assert preset.name == "my_venue" and preset.source == str(path)
        assert preset.instrument("BTCUSDT").taker_fee_rate == 40_000


def _write(tmp_path, text: str):
    path = tmp_path / "bad.toml"
    path.write_text(text, "utf-8")
    return path


def test_bad_value_in_a_user_file_names_file_key_rule_and_value(tmp_path):
    path = _write(tmp_path, _raw("hyperliquid").replace('cap_rate = "0.04"', "cap_rate = 0.04"))
    with pytest.raises(ConfigError) as info:
        load_preset(path)
    text = str(info.value)
    assert text.startswith(f"{path}: 'funding.cap_rate' must be a rate")
    assert "TOML floats are binary and inexact" in text and text.endswith("(got 0.04)")
    assert info.value.source == str(path) and info.value.key == "funding.cap_rate"


def test_unknown_key_in_a_user_file_is_an_error_suggesting_the_nearest(tmp_path):
    path = _write(tmp_path, _raw("dydx_v4").replace("interval_hours = 8",
                                                    "interval_hours = 8\nintervl_hours = 8"))
    with pytest.raises(ConfigError, match=r"'funding.intervl_hours' must be a known key of "
                                          r"\[funding\] \(did you mean 'interval_hours'\?\)"):
        load_preset(path)
    path = _write(tmp_path, _raw("dydx_v4") + "\n[extras]\nx = 1\n")
    with pytest.raises(ConfigError, match="'extras' must be a known key of a preset file"):
        load_preset(path)


def test_missing_key_and_missing_table_are_errors(tmp_path):
    path = _write(tmp_path, _raw("drift").replace('taker_fee_rate = "0.001"', ""))
    with pytest.raises(ConfigError, match=r"'instruments.BTC-PERP.taker_fee_rate' must be present "
                                          r"\(got <missing>\)"):
        load_preset(path)
    data = tomllib.loads(_raw("drift"))
    del data["liquidation"]
    with pytest.raises(ConfigError, match=r"x.toml: 'liquidation' must be present"):
        preset_from_dict(data, "x.toml")


def test_unreadable_or_malformed_files_and_unknown_names(tmp_path):
    with pytest.raises(ConfigError, match="cannot read preset file"):
        load_preset(tmp_path / "nope.toml")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_preset(_write(tmp_path, "[venue\nname = 1"))
    with pytest.raises(ConfigError, match="'preset' must be one of binance_usdm, bitmex"):
        load_preset("binanse")


def test_tier_cum_in_a_file_is_checked_against_the_rule(tmp_path):
    path = _write(tmp_path, _raw("binance_usdm").replace('cum = "16300"', 'cum = "16000"'))
    with pytest.raises(ConfigError, match=r"'instruments.BTCUSDT.tiers\[3\].cum' must be 16300 "):
        load_preset(path)


def test_rates_convert_exactly_to_parts_per_1e8():
    preset = load_preset("hyperliquid")
    assert preset.instrument("ETH").tiers[1].mmr == 3_333_334          # "0.03333334"
    assert preset.liquidation.backstop_trigger_rate == 66_666_667
    assert RATE_SCALE == 10**8
