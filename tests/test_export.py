"""The journal in human units (exchange.export, ``perpsim journal``): every converted value
checked against the raw journal it came from."""
import json
from decimal import Decimal

import numpy as np
import pyarrow.parquet as pq
import pytest

from exchange.cli import main
from exchange.export import humanize_table, read_human, write_human
from exchange.sim.runner import run

SMALL = {"scenario.duration_s": 130, "population.makers.count": 4, "population.noise.count": 30,
         "population.directional.count": 100, "population.directional.warmup_s": 30,
         "population.arbitrageur.count": 2, "population.keeper.count": 2, "shock.0.at_s": 98,
         "shock.0.duration_s": 30, "shock.1.at_s": 100, "shock.2.at_s": 115, "shock.3.at_s": 125}


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("fc") / "run"
    run("flash_crash", 3, out_dir=out, report=False, overrides=SMALL)
    return out


def test_prices_quantities_money_are_in_human_units(run_dir):
    raw = pq.read_table(run_dir / "journal" / "OrderFilled.parquet").to_pydict()
    human = read_human(run_dir)["OrderFilled"].to_pydict()
    assert "price_ticks" not in human and "fee_atoms" not in human
    for i in range(0, len(raw["seq"]), max(1, len(raw["seq"]) // 50)):
        assert Decimal(str(human["price"][i])) == raw["price_ticks"][i] * Decimal("0.1")
        assert Decimal(str(human["qty"][i])) == raw["qty_lots"][i] * Decimal("0.001")
        assert Decimal(str(human["fee"][i])) == Decimal(raw["fee_atoms"][i]).scaleb(-6)
        assert human["side"][i] == ("buy", "sell")[raw["side"][i]]
        assert human["taker"][i] is bool(raw["taker"][i])
        assert human["symbol"][i] == "BTCUSDT"


def test_enums_nulls_and_booleans(run_dir):
    t = read_human(run_dir)
    acc = t["OrderAccepted"].to_pydict()
    raw = pq.read_table(run_dir / "journal" / "OrderAccepted.parquet").to_pydict()
    assert set(acc["order_type"]) <= {"limit", "market", "stop_market", "stop", "take_profit_market",
                                      "take_profit", "trailing_stop_market"}
    for i, pt in enumerate(raw["price_ticks"]):
        assert (acc["price"][i] is None) == (pt <= 0)           # a market order has no price
    assert str(t["OrderAccepted"].schema.field("reduce_only").type) == "bool"
    assert str(t["OrderAccepted"].schema.field("liquidation").type) == "bool"
    liq = t["PositionLiquidated"].to_pydict()
    assert liq["module"] and set(liq["module"]) <= {"market", "insurance", "auction", "backstop", "adl"}
    assert set(liq["side"]) <= {"long", "short"}
    rej = t["OrderRejected"].to_pydict()
    assert all(r.isidentifier() and not r.startswith("code_") for r in rej["reason"])


def test_accounts_table_maps_populations_leverage_and_margin_mode(run_dir):
    acc = read_human(run_dir)["accounts"].to_pydict()
    meta = json.loads((run_dir / "metrics.json").read_text())
    counts = {}
    for p in acc["population"]:
        counts[p] = counts.get(p, 0) + 1
    for pop, row in meta["agents"].items():
        if row["accounts"]:
            assert counts[pop] == row["accounts"]
    dep = {}
    for p, d in zip(acc["population"], acc["deposit"]):
        dep[p] = dep.get(p, 0.0) + d
    assert dep["directional"] == pytest.approx(meta["agents"]["directional"]["deposits"])
    lev = [lv for p, lv in zip(acc["population"], acc["leverage"]) if p == "directional"]
    assert max(lev) <= 50 and min(lev) >= 3                   # the scenario's leverage choices
    assert set(acc["margin_mode"]) <= {"cross", "isolated"}


def test_parquet_files_carry_their_units(run_dir, tmp_path):
    files = write_human(run_dir, tmp_path / "h")
    md = pq.read_schema(files["OrderFilled"]).metadata
    units = json.loads(md[b"perpsim.units"])
    assert units["price"] == "USDT per BTC" and units["qty"] == "BTC" and units["fee"] == "USDT"
    assert md[b"perpsim.event_kind"] == b"OrderFilled"
    assert json.loads(pq.read_schema(files["accounts"]).metadata[b"perpsim.units"])["deposit"] == "USDT"


def test_cli_journal_writes_csv_with_units_and_names_bad_input(run_dir, tmp_path, capsys):
    out = tmp_path / "csv"
    assert main(["journal", str(run_dir), "--format", "csv", "--out", str(out)]) == 0
    head = (out / "OrderFilled.csv").read_text().splitlines()[:2]
    assert head[0].startswith('"seq","ts_ns","t_s","account"')
    assert '"buy"' in head[1] or '"sell"' in head[1]
    assert json.loads((out / "units.json").read_text())["OrderFilled"]["price"] == "USDT per BTC"
    assert main(["journal", str(tmp_path / "nope")]) == 2
    assert "'RUN_DIR' must be a directory written by perpsim run" in capsys.readouterr().err


def test_humanize_marks_none_ids_and_accounts_null():
    import pyarrow as pa

    from exchange.presets import load_preset

    p = load_preset("binance_usdm")
    specs = [p.instrument(s) for s in p.symbols]
    t = pa.table({"seq": [1, 2], "ts_ns": [0, 10**9], "account": [3, -1], "instrument": [0, 1],
                  "auction_id": [0, 7], "price_ticks": [0, 25], "rank": [0, 1]})
    out, _units = humanize_table("AuctionTaken", t, {"preset": "binance_usdm"}, specs)
    d = out.to_pydict()
    assert d["account"] == [3, None] and d["auction_id"] == [None, 7] and d["price"][0] is None
    assert d["symbol"] == ["BTCUSDT", "ETHUSDT"] and d["t_s"] == [0.0, 1.0]
    assert np.isclose(d["price"][1], 25 * float(specs[1].tick_size))


def _raw_units(path):
    md = pq.read_schema(path).metadata
    return json.loads(md[b"perpsim.units"]), json.loads(md[b"perpsim.instrument"]), md


@pytest.mark.parametrize("mode", [None, "full"])
def test_raw_journal_files_carry_scales_and_enum_names(run_dir, tmp_path, mode):
    """The raw journal (held in memory and written at the end, or streamed as the run goes)
    carries perpsim.units: human value = raw × scale, enum codes → names, the 'none' value."""
    if mode is None:
        jdir = run_dir / "journal"
    else:
        run("flash_crash", 3, out_dir=tmp_path / "s", report=False, overrides=SMALL, journal=mode)
        jdir = tmp_path / "s" / "journal"
    human = read_human(run_dir)
    units, instr, md = _raw_units(jdir / "OrderFilled.parquet")
    assert md[b"perpsim.event_kind"] == b"OrderFilled"
    assert instr == {"symbol": "BTCUSDT", "base": "BTC", "quote": "USDT", "settle": "USDT",
                     "tick_size": "0.1", "lot_size": "0.001", "settle_decimals": 6}
    assert units["price_ticks"] == {"unit": "ticks", "scale": "0.1", "human": "USDT per BTC",
                                    "none": "<= 0"}
    assert units["qty_lots"]["scale"] == "0.001" and units["qty_lots"]["human"] == "BTC"
    assert units["fee_atoms"]["scale"] == "1e-6" and units["fee_atoms"]["human"] == "USDT"
    assert units["side"]["names"] == {"0": "buy", "1": "sell"}
    assert set(units) == set(pq.read_schema(jdir / "OrderFilled.parquet").names)
    raw = pq.read_table(jdir / "OrderFilled.parquet").to_pydict()
    hf = human["OrderFilled"].to_pydict()
    for i in range(0, len(raw["seq"]), max(1, len(raw["seq"]) // 20)):
        assert Decimal(str(hf["price"][i])) == raw["price_ticks"][i] * Decimal(units["price_ticks"]["scale"])
        assert Decimal(str(hf["fee"][i])) == raw["fee_atoms"][i] * Decimal(units["fee_atoms"]["scale"])
        assert units["side"]["names"][str(raw["side"][i])] == hf["side"][i]
    lu, _, _ = _raw_units(jdir / "PositionLiquidated.parquet")
    raw_l = pq.read_table(jdir / "PositionLiquidated.parquet").to_pydict()
    assert lu["side"]["names"] == {"0": "long", "1": "short"}
    assert [lu["module"]["names"][str(c)] for c in raw_l["module"]] == \
        human["PositionLiquidated"].to_pydict()["module"]
    ru, _, _ = _raw_units(jdir / "OrderRejected.parquet")
    assert ru["reason"]["names"]["3001"].isidentifier()
    for f in jdir.glob("*.parquet"):                  # every table, every column has a unit
        u, _, _ = _raw_units(f)
        assert set(u) == set(pq.read_schema(f).names)


#: a small world: three instruments of one venue, each with its own tick and lot
TINY_WORLD = {"scenario.duration_s": 120, "market.population.noise.count": 20,
              "market.population.directional.count": 20,
              "population.cross_portfolios.count": 20, "population.isolated_portfolios.count": 20}


@pytest.fixture(scope="module")
def world_dir(tmp_path_factory):
    from exchange.sim.world import run_world

    out = tmp_path_factory.mktemp("world") / "run"
    run_world("multi_asset_crash", 0, out_dir=out, report=False, overrides=TINY_WORLD)
    return out


def test_a_world_journal_is_read_in_each_rows_own_instrument_units(world_dir):
    from exchange.export import read_human_world
    from exchange.presets import load_preset

    layout = json.loads((world_dir / "venues.json").read_text())
    specs = layout["binance"]["instruments"]
    raw = pq.read_table(world_dir / "journal-binance" / "OrderFilled.parquet")
    # the raw table names each instrument index's scales
    assert json.loads(raw.schema.metadata[b"perpsim.instruments"]) == specs
    preset = load_preset(layout["binance"]["preset"])
    assert [s["symbol"] for s in specs] == list(preset.symbols)
    human = read_human_world(world_dir)["binance"]["OrderFilled"].to_pydict()
    raw = raw.to_pydict()
    symbols = set()
    for i, t, q, sym, p, qty in zip(raw["instrument"], raw["price_ticks"], raw["qty_lots"],
                                    human["symbol"], human["price"], human["qty"]):
        assert sym == specs[i]["symbol"]
        assert p == float(t * Decimal(specs[i]["tick_size"]))
        assert qty == float(q * Decimal(specs[i]["lot_size"]))
        symbols.add(sym)
    assert symbols == {"BTCUSDT", "ETHUSDT", "SOLUSDT"}
    # each instrument trades at its own price level (not one instrument's grid for all)
    by = {s: [p for p, x in zip(human["price"], human["symbol"]) if x == s] for s in symbols}
    assert min(by["BTCUSDT"]) > 10 * max(by["ETHUSDT"]) and min(by["ETHUSDT"]) > 5 * max(by["SOLUSDT"])


def test_a_world_journals_accounts_name_every_population(world_dir):
    from exchange.export import read_human_world

    acc = read_human_world(world_dir)["binance"]["accounts"].to_pydict()
    counts = {}
    for p in acc["population"]:
        counts[p] = counts.get(p, 0) + 1
    assert None not in counts
    for sym in ("BTCUSDT", "ETHUSDT", "SOLUSDT"):
        assert counts[f"{sym}:noise"] == 20 and counts[f"{sym}:directional"] == 20
    assert counts["cross_portfolios"] == 20 and counts["isolated_portfolios"] == 20
    iso = {m for p, m in zip(acc["population"], acc["margin_mode"]) if p == "isolated_portfolios"}
    assert iso == {"isolated"}


def test_perpsim_journal_on_a_world_writes_one_directory_per_venue(world_dir, tmp_path, capsys):
    out = tmp_path / "h"
    assert main(["journal", str(world_dir), "--format", "csv", "--out", str(out)]) == 0
    assert "binance/OrderFilled" in capsys.readouterr().out
    assert (out / "binance" / "OrderFilled.csv").is_file()
    units = json.loads((out / "binance" / "units.json").read_text())
    assert units["OrderFilled"]["price"] == "USDT per unit of the row's base asset (symbol)"


def test_perpsim_journal_on_a_world_run_without_journals_says_so(tmp_path, capsys):
    out = tmp_path / "w"
    sets = [x for k, v in TINY_WORLD.items() for x in ("--set", f"{k}={v}")]
    assert main(["run", "multi_asset_crash", "--journal", "none", "--no-report", "--out",
                 str(out), *sets]) == 0
    capsys.readouterr()
    assert main(["journal", str(out)]) == 2
    assert "--journal full or events" in capsys.readouterr().err
