"""The journal of a run in human units, beside the raw one (``perpsim journal RUN_DIR``).

The raw journal (``RUN_DIR/journal/<Event>.parquet``, :mod:`exchange.sim.journal`) keeps the
venue's integers: ``price_ticks``, ``qty_lots``, ``fee_atoms``, enum codes, 0 for "none". This
module reads it and gives every value in the unit a person reads:

- ``*_ticks`` → the price in the quote currency (``price_ticks`` → ``price``, float); a price
  of 0 or less ("no price": a market order, a plain fund payment) → null;
- ``*_lots`` → the quantity in base units (``qty_lots`` → ``qty``, ``size_lots`` → ``size``,
  ``open_lots`` → ``open_qty``), ``*_atoms`` → money in the
  settlement asset (``fee_atoms`` → ``fee``); rates stored in parts per 1e8 → fractions;
- enums → names: ``side`` (``buy``/``sell`` on order events, the position's ``long``/``short``
  on liquidation events), ``reason`` (:class:`exchange.codes.RejectReason`, cancel reasons),
  ``order_type``, ``tif``, ``module``, ``policy``, ledger kinds; ``instrument`` → its symbol;
- flags → one boolean type (``taker``, ``liquidation``, ``isolated``, ``reduce_only``, ...);
- ids that say "none" (an order id 0, an account -1) → null;
- ``ts_ns`` stays, with ``t_s`` (seconds from the start) beside it.

Plus an ``accounts`` table: account → population, leverage, margin mode, deposit. Every
Parquet file written carries ``perpsim.units`` in its key-value metadata (column → unit, JSON)
and ``perpsim.event_kind``.

>>> from exchange.export import read_human            # doctest: +SKIP
>>> tables = read_human("runs/fc")                    # doctest: +SKIP
>>> tables["OrderFilled"].to_pandas().head()          # doctest: +SKIP
"""
from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

__all__ = ["read_human", "read_human_world", "accounts_table", "write_human", "humanize_table",
           "raw_units", "raw_scales", "is_world_run", "InstrumentScales", "FORMATS"]

FORMATS = ("parquet", "csv")

#: events whose ``side`` is the side of an order (the others carry a position's side)
ORDER_EVENTS = {"OrderAccepted", "OrderRejected", "OrderFilled", "OrderCanceled", "OrderAmended"}
BOOL_COLUMNS = {"taker", "liquidation", "isolated", "reduce_only", "closed", "expired",
                "position_open", "compliant", "from_was_long"}
#: columns naming an account: a negative value is "no account"
ACCOUNT_COLUMNS = {"account", "from_account", "to_account", "bidder", "winner", "payer",
                   "bankrupt", "vault", "keeper"}
#: columns naming an order or an auction: 0 or less is "none"
ID_COLUMNS = {"order_id", "counter_order_id", "auction_id"}
RATE_COLUMNS = {"haircut_rate": "haircut_rate", "max_leverage_rate": "max_leverage"}
CANCEL_REASONS = {0: "requested", 1: "ioc_expired", 2: "self_trade_prevention", 3: "liquidation"}
TIFS = {0: "GTC", 1: "IOC", 2: "FOK", 3: "GTX"}
LEDGER_KINDS = {0: "wallet", 1: "isolated", 2: "fee_pool", 3: "insurance", 4: "bad_debt"}


def _run_info(run_dir: Path) -> dict[str, Any]:
    meta = run_dir / "metrics.json"
    if not meta.is_file():
        raise FileNotFoundError(f"'RUN_DIR' must be a directory written by perpsim run (got "
                                f"{str(run_dir)!r}: no metrics.json)")
    return json.loads(meta.read_text())


def _specs(info: dict[str, Any]):
    """instrument index → InstrumentSpec, in the preset's order (the venue's instrument ids)."""
    from exchange.presets import load_preset

    preset = load_preset(info["preset"])
    return [preset.instrument(s) for s in preset.symbols]


def _enum_names(name: str) -> dict[str, dict[int, str]]:
    from exchange.codes import RejectReason
    from exchange.liquidation.events import (ADL_POLICY_CODES, LEDGER_ISOLATED_COVER,
                                             MODULE_CODES, SOCIALIZED_POLICY_CODES)
    from exchange.venue import ORDER_TYPES

    modules = {v: k for k, v in MODULE_CODES.items()}
    reasons = {int(r): r.name.lower() for r in RejectReason}
    out = {"order_type": dict(enumerate(t.lower() for t in ORDER_TYPES)), "tif": TIFS,
           "module": modules, "from_kind": LEDGER_KINDS, "to_kind": LEDGER_KINDS,
           "source_kind": LEDGER_KINDS,
           "policy": ({v: k for k, v in SOCIALIZED_POLICY_CODES.items()}
                      if name == "LossSocialized" else {v: k for k, v in ADL_POLICY_CODES.items()})}
    if name == "OrderCanceled":
        out["reason"] = CANCEL_REASONS
    elif name in ("PositionTransferred", "LedgerMoved"):
        out["reason"] = {**modules, LEDGER_ISOLATED_COVER: "isolated_cover"}
    else:
        out["reason"] = reasons
    return out


def _scale(steps, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row: (multiplier, divisor) of a grid step, so that ``v * mult / div`` is the float
    nearest the exact decimal (a step of 0.1 divides by 10 rather than multiplying by the
    inexact float 0.1: 1170264 ticks → 117026.4, not 117026.40000000001)."""
    mult, div = [], []
    for st in steps:
        d = Decimal(str(st))
        inv = 1 / d
        if d < 1 and inv == inv.to_integral_value():
            mult.append(1.0)
            div.append(float(inv))
        else:
            mult.append(float(d))
            div.append(1.0)
    return np.asarray(mult)[idx], np.asarray(div)[idx]


def _apply(v: np.ndarray, scale: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    mult, div = scale
    return v.astype(np.float64) * mult / div


def _names(values: np.ndarray, mapping: dict[int, str], null_zero: bool = False) -> pa.Array:
    out = [None if (null_zero and v == 0) else mapping.get(int(v), f"code_{int(v)}")
           for v in values.tolist()]
    return pa.array(out, pa.string())


def raw_scales(spec) -> dict[str, Any]:
    """The scale factors of an instrument spec that :func:`raw_units` writes into the raw
    journal's metadata: symbol, base, quote, settlement asset, tick size, lot size, settle
    decimals (Decimals as strings, exact)."""
    return {"symbol": str(spec.symbol), "base": str(spec.base), "quote": str(spec.quote),
            "settle": str(spec.settle), "tick_size": str(spec.tick_size),
            "lot_size": str(spec.lot_size), "settle_decimals": int(spec.settle_decimals)}


def raw_units(name: str, columns, scales: dict[str, Any] | list | None = None) -> dict[str, dict]:
    """Column → unit of one *raw* event table (``RUN_DIR/journal/<name>.parquet``), the JSON
    the journal writer puts in ``perpsim.units``: each entry has ``unit`` and, where it
    applies, ``scale`` (human value = raw × scale, a decimal string), ``human`` (the unit of
    raw × scale), ``names`` (code → enum name), ``none`` (the raw value that means "none").
    ``scales`` is :func:`raw_scales` of the run's instrument; without it the ``scale`` and
    ``human`` entries are left out (the kind of unit is still given). A list of them (a
    venue of several instruments, a world's: one per instrument index) gives the settlement
    scale where they share it, and the price and quantity scales as ``per_instrument``: the
    key of each instrument's entry in the table's ``perpsim.instruments``."""
    multi = isinstance(scales, list) and len(scales) > 1
    shared: dict[str, Any] = {}
    if multi:
        if len({(x["settle"], int(x["settle_decimals"])) for x in scales}) == 1:
            shared = {"settle": scales[0]["settle"], "settle_decimals": scales[0]["settle_decimals"]}
        scales = None
    elif isinstance(scales, list):
        scales = scales[0] if scales else None
    sc = scales or {}
    price_unit = f"{sc['quote']} per {sc['base']}" if sc else None
    enums = _enum_names(name)
    out: dict[str, dict] = {}

    def entry(unit, scale=None, human=None, **kw):
        d = {"unit": unit}
        if scale is not None:
            d["scale"] = str(scale)
        if human is not None:
            d["human"] = human
        d.update(kw)
        return d

    for col in columns:
        if col == "seq":
            out[col] = entry("event order")
        elif col == "ts_ns":
            out[col] = entry("ns (venue clock)", "1e-9", "s")
        elif col == "instrument":
            out[col] = entry("instrument index", symbol=sc.get("symbol"))
        elif col.endswith("_ticks"):
            out[col] = entry("ticks", sc.get("tick_size"), price_unit, none="<= 0",
                             **({"per_instrument": "tick_size"} if multi else {}))
        elif col.endswith("_lots"):
            out[col] = entry("lots", sc.get("lot_size"), sc.get("base"),
                             **({"per_instrument": "lot_size"} if multi else {}))
        elif col.endswith("_atoms"):
            d = sc.get("settle_decimals", shared.get("settle_decimals"))
            out[col] = entry("atoms", None if d is None else f"1e-{int(d)}",
                             sc.get("settle", shared.get("settle")))
        elif col in RATE_COLUMNS:
            out[col] = entry("parts per 1e8", "1e-8",
                             "fraction" if col == "haircut_rate" else "x (notional / equity)")
        elif col == "side":
            names = {0: "buy", 1: "sell"} if name in ORDER_EVENTS else {0: "long", 1: "short"}
            out[col] = entry("enum", names={str(k): v for k, v in names.items()})
        elif col in BOOL_COLUMNS:
            out[col] = entry("boolean (1 true, 0 false)")
        elif col in enums:
            out[col] = entry("enum", names={str(k): v for k, v in sorted(enums[col].items())})
        elif col in ACCOUNT_COLUMNS:
            out[col] = entry("account id", none="< 0")
        elif col in ID_COLUMNS:
            out[col] = entry("id", none="<= 0")
        elif col == "threshold_pct":
            out[col] = entry("%")
        elif col in ("leverage", "previous"):
            out[col] = entry("x")
        else:
            out[col] = entry("count")
    return out


def humanize_table(name: str, table: pa.Table, info: dict[str, Any],
                   specs=None) -> tuple[pa.Table, dict[str, str]]:
    """One raw event table → (the table in human units, column → unit). ``info`` is the run's
    ``metrics.json`` ``info``; ``specs`` the instrument specs by index (default: the preset's)."""
    specs = specs if specs is not None else _specs(info)
    instr = (table.column("instrument").to_numpy().astype(np.int64)
             if "instrument" in table.column_names else np.zeros(table.num_rows, np.int64))
    ok = (instr >= 0) & (instr < len(specs))
    idx = np.where(ok, instr, 0)
    tick = _scale([s.tick_size for s in specs], idx)
    lot = _scale([s.lot_size for s in specs], idx)
    unit = _scale([Decimal(1).scaleb(-s.settle_decimals) for s in specs], idx)
    # the units of the instruments the rows are on (one instrument: its own; several, as in
    # a world's venue journal: the row's, named by its symbol column)
    present = [specs[i] for i in np.unique(idx[ok]).tolist()] or [specs[0]]
    spec0 = present[0]
    bases, quotes = {s.base for s in present}, {s.quote for s in present}
    price_unit = (f"{spec0.quote} per {spec0.base}" if len(bases) == len(quotes) == 1 else
                  f"{spec0.quote} per unit of the row's base asset (symbol)" if len(quotes) == 1
                  else "the row's quote per unit of its base asset (symbol)")
    qty_unit = spec0.base if len(bases) == 1 else "the row's base asset (symbol)"
    enums = _enum_names(name)
    cols: dict[str, pa.Array] = {}
    units: dict[str, str] = {}
    for col in table.column_names:
        raw = table.column(col).combine_chunks()
        v = raw.to_numpy(zero_copy_only=False)
        if col == "ts_ns":
            cols["ts_ns"] = raw
            units["ts_ns"] = "ns (venue clock)"
            cols["t_s"] = pa.array(v.astype(np.float64) / 1e9)
            units["t_s"] = "s from the start"
        elif col == "seq":
            cols[col] = raw
            units[col] = "event order"
        elif col == "instrument":
            cols["symbol"] = pa.array([specs[i].symbol if 0 <= i < len(specs) else None
                                       for i in instr.tolist()], pa.string())
            units["symbol"] = "instrument"
        elif col.endswith("_ticks"):
            out = col.removesuffix("_ticks")
            cols[out] = pa.array(_apply(v, tick), mask=v <= 0)
            units[out] = price_unit
        elif col.endswith("_lots"):
            out = {"qty_lots": "qty", "size_lots": "size"}.get(col, col.removesuffix("_lots") + "_qty")
            cols[out] = pa.array(_apply(v, lot))
            units[out] = qty_unit
        elif col.endswith("_atoms"):
            out = col.removesuffix("_atoms")
            cols[out] = pa.array(_apply(v, unit))
            units[out] = spec0.settle
        elif col in RATE_COLUMNS:
            cols[RATE_COLUMNS[col]] = pa.array(v / 1e8)
            units[RATE_COLUMNS[col]] = "fraction" if col == "haircut_rate" else "x (notional / equity)"
        elif col == "side":
            names = {0: "buy", 1: "sell"} if name in ORDER_EVENTS else {0: "long", 1: "short"}
            cols[col] = _names(v, names)
            units[col] = "buy/sell (the order)" if name in ORDER_EVENTS else "long/short (the position)"
        elif col in BOOL_COLUMNS:
            cols[col] = pa.array(v != 0, pa.bool_())
            units[col] = "boolean"
        elif col in enums:
            cols[col] = _names(v, enums[col])
            units[col] = "name"
        elif col in ACCOUNT_COLUMNS:
            cols[col] = pa.array(v, pa.int64(), mask=v < 0)
            units[col] = "account id"
        elif col in ID_COLUMNS:
            cols[col] = pa.array(v, pa.int64(), mask=v <= 0)
            units[col] = "id"
        elif col == "threshold_pct":
            cols[col] = raw
            units[col] = "%"
        elif col in ("leverage", "previous"):
            cols[col] = raw
            units[col] = "x"
        else:
            cols[col] = raw
            units[col] = "count"
    out = pa.table(cols)
    meta = {"perpsim.event_kind": name, "perpsim.units": json.dumps(units, sort_keys=True),
            "perpsim.source": "raw journal in human units (exchange.export)"}
    return out.replace_schema_metadata(meta), units


def accounts_table(run_dir) -> pa.Table:
    """account → population, leverage, margin mode, deposit, for the accounts of a run.

    Populations open their accounts one block each, in the order of ``metrics.json``
    ``agents``; the blocks are read off the first deposits and checked against each
    population's account count and total deposits (population null where they disagree)."""
    run_dir = Path(run_dir)
    meta = _run_info(run_dir)
    info = meta["info"]
    unit = 10.0 ** -int(info.get("settle_decimals", 6))
    jdir = run_dir / "journal"
    dep = pq.read_table(jdir / "Deposited.parquet").to_pydict()
    deposit: dict[int, int] = {}
    first_seq: dict[int, int] = {}
    for a, amt, seq in zip(dep["account"], dep["amount_atoms"], dep["seq"]):
        deposit[a] = deposit.get(a, 0) + amt
        first_seq.setdefault(a, seq)
    lev: dict[int, int] = {}
    if (jdir / "LeverageSet.parquet").is_file():
        t = pq.read_table(jdir / "LeverageSet.parquet").sort_by("seq").to_pydict()
        for a, lv in zip(t["account"], t["leverage"]):
            lev[a] = lv
    iso: dict[int, bool] = {}
    if (jdir / "MarginModeSet.parquet").is_file():
        t = pq.read_table(jdir / "MarginModeSet.parquet").sort_by("seq").to_pydict()
        for a, flag in zip(t["account"], t["isolated"]):
            iso[a] = bool(flag)
    order = sorted(deposit, key=lambda a: first_seq[a])
    # accounts that trade with no deposit of their own (the insurance fund's account)
    seen: set[int] = set()
    for f in ("OrderAccepted", "PositionTransferred"):
        if (jdir / f"{f}.parquet").is_file():
            t = pq.read_table(jdir / f"{f}.parquet")
            for c in ("account", "from_account", "to_account"):
                if c in t.column_names:
                    seen.update(int(a) for a in np.unique(t.column(c).to_numpy()) if a >= 0)
    undeposited = sorted(seen - set(deposit))
    pops: dict[int, str | None] = {}
    pos = 0
    for pop, row in (meta.get("agents") or {}).items():
        n = int(row.get("accounts", 0))
        if n and float(row.get("deposits", 0.0)) == 0.0:
            if len(undeposited) == n:                 # the only candidates: theirs
                pops.update({a: pop for a in undeposited})
                deposit.update({a: 0 for a in undeposited})
            continue
        block = order[pos:pos + n]
        total = sum(deposit[a] for a in block) * unit
        good = len(block) == n and abs(total - float(row.get("deposits", 0.0))) <= 1e-6 * max(1.0, total)
        for a in block:
            pops[a] = pop if good else None
        pos += n
    vault = info.get("backstop_account")
    accts = sorted(deposit)
    return pa.table({
        "account": pa.array(accts, pa.int64()),
        "population": pa.array(["backstop_vault" if a == vault else pops.get(a) for a in accts],
                               pa.string()),
        "leverage": pa.array([lev.get(a) for a in accts], pa.int64()),
        "margin_mode": pa.array(["isolated" if iso.get(a) else "cross" for a in accts], pa.string()),
        "deposit": pa.array([deposit[a] * unit for a in accts], pa.float64()),
    }).replace_schema_metadata({
        "perpsim.event_kind": "accounts",
        "perpsim.units": json.dumps({"account": "account id", "population": "name",
                                     "leverage": "x (last set)", "margin_mode": "cross/isolated",
                                     "deposit": info.get("settle_asset", "")}, sort_keys=True)})


def read_human(run_dir) -> dict[str, pa.Table]:
    """Every event table of a run directory in human units, plus ``accounts``; name → Arrow
    table (``.to_pandas()``, ``polars.from_arrow``)."""
    run_dir = Path(run_dir)
    info = _run_info(run_dir)["info"]
    jdir = run_dir / "journal"
    if not jdir.is_dir():
        raise FileNotFoundError(f"'RUN_DIR' must hold the journal (got {str(run_dir)!r}: no "
                                f"journal/ directory)")
    specs = _specs(info)
    out = {}
    for f in sorted(jdir.glob("*.parquet")):
        out[f.stem], _ = humanize_table(f.stem, pq.read_table(f), info, specs)
    out["accounts"] = accounts_table(run_dir)
    return out


class InstrumentScales:
    """An instrument's grid as :func:`raw_scales` recorded it (a world's ``venues.json``, a
    table's ``perpsim.instruments``): what :func:`humanize_table` reads of a spec."""

    __slots__ = ("symbol", "base", "quote", "settle", "tick_size", "lot_size", "settle_decimals")

    def __init__(self, scales: dict[str, Any]) -> None:
        self.symbol, self.base = str(scales["symbol"]), str(scales["base"])
        self.quote, self.settle = str(scales["quote"]), str(scales["settle"])
        self.tick_size, self.lot_size = Decimal(scales["tick_size"]), Decimal(scales["lot_size"])
        self.settle_decimals = int(scales["settle_decimals"])


def is_world_run(run_dir) -> bool:
    """Whether ``run_dir`` was written by ``perpsim run WORLD`` (``venues.json`` beside the
    venues' ``journal-<venue>/``)."""
    return (Path(run_dir) / "venues.json").is_file()


def _population_accounts(jdir: Path, populations: dict[str, list[int]],
                         settle_decimals: int, settle: str) -> pa.Table:
    """account → population, leverage, margin mode, deposit for one venue of a world, the
    populations as the run recorded them (``venues.json``)."""
    unit = 10.0 ** -int(settle_decimals)
    deposit: dict[int, int] = {}
    if (jdir / "Deposited.parquet").is_file():
        dep = pq.read_table(jdir / "Deposited.parquet").to_pydict()
        for a, amt in zip(dep["account"], dep["amount_atoms"]):
            deposit[a] = deposit.get(a, 0) + amt
    lev: dict[int, int] = {}
    if (jdir / "LeverageSet.parquet").is_file():
        t = pq.read_table(jdir / "LeverageSet.parquet").sort_by("seq").to_pydict()
        lev.update(zip(t["account"], t["leverage"]))
    iso: dict[int, bool] = {}
    if (jdir / "MarginModeSet.parquet").is_file():
        t = pq.read_table(jdir / "MarginModeSet.parquet").sort_by("seq").to_pydict()
        iso.update((a, bool(f)) for a, f in zip(t["account"], t["isolated"]))
    pop_of = {int(a): name for name, ids in populations.items() for a in ids}
    accts = sorted(set(deposit) | set(pop_of))
    return pa.table({
        "account": pa.array(accts, pa.int64()),
        "population": pa.array([pop_of.get(a) for a in accts], pa.string()),
        "leverage": pa.array([lev.get(a) for a in accts], pa.int64()),
        "margin_mode": pa.array(["isolated" if iso.get(a) else "cross" for a in accts], pa.string()),
        "deposit": pa.array([deposit.get(a, 0) * unit for a in accts], pa.float64()),
    }).replace_schema_metadata({
        "perpsim.event_kind": "accounts",
        "perpsim.units": json.dumps({"account": "account id",
                                     "population": "name (SYMBOL:name: a market's)",
                                     "leverage": "x (last set, any instrument)",
                                     "margin_mode": "cross/isolated (last set)",
                                     "deposit": settle}, sort_keys=True)})


def read_human_world(run_dir) -> dict[str, dict[str, pa.Table]]:
    """Every venue's event tables of a world run directory (``perpsim run WORLD``) in human
    units, each row in its own instrument's units, plus each venue's ``accounts``;
    venue → name → Arrow table."""
    run_dir = Path(run_dir)
    if not is_world_run(run_dir):
        raise FileNotFoundError(f"'RUN_DIR' must be a directory written by perpsim run WORLD "
                                f"(got {str(run_dir)!r}: no venues.json)")
    layout = json.loads((run_dir / "venues.json").read_text())
    out: dict[str, dict[str, pa.Table]] = {}
    for vname, lay in layout.items():
        jdir = run_dir / f"journal-{vname}"
        if not jdir.is_dir():
            continue
        specs = [InstrumentScales(d) for d in lay["instruments"]]
        tables = {f.stem: humanize_table(f.stem, pq.read_table(f), {}, specs)[0]
                  for f in sorted(jdir.glob("*.parquet"))}
        tables["accounts"] = _population_accounts(jdir, lay.get("populations", {}),
                                                  specs[0].settle_decimals, specs[0].settle)
        out[vname] = tables
    if not out:
        raise FileNotFoundError(f"'RUN_DIR' holds no venue journal (got {str(run_dir)!r}: no "
                                f"journal-<venue>/; was it run with --journal none?)")
    return out


def write_human(run_dir, out_dir=None, fmt: str = "parquet") -> dict[str, Path]:
    """Write :func:`read_human`'s tables as ``fmt`` (parquet or csv) files under ``out_dir``
    (default ``RUN_DIR/human``); returns name → path. CSV files get a ``units.json`` beside
    them (Parquet files carry ``perpsim.units`` themselves). A world's run directory
    (:func:`is_world_run`) gets one directory per venue, ``<venue>/<name>``
    (:func:`read_human_world`)."""
    if fmt not in FORMATS:
        raise ValueError(f"'--format' must be one of {', '.join(FORMATS)} (got {fmt!r})")
    out = Path(out_dir) if out_dir is not None else Path(run_dir) / "human"
    if is_world_run(run_dir):
        files = {}
        for vname, tables in read_human_world(run_dir).items():
            for name, p in _write_tables(tables, out / vname, fmt).items():
                files[f"{vname}/{name}"] = p
        return files
    return _write_tables(read_human(run_dir), out, fmt)


def _write_tables(tables: dict[str, pa.Table], out: Path, fmt: str) -> dict[str, Path]:
    out.mkdir(parents=True, exist_ok=True)
    files = {}
    units = {}
    for name, t in tables.items():
        p = out / f"{name}.{fmt}"
        if fmt == "parquet":
            pq.write_table(t, p, compression="zstd")
        else:
            import pyarrow.csv as pacsv

            pacsv.write_csv(t, p)
            units[name] = json.loads(t.schema.metadata[b"perpsim.units"])
        files[name] = p
    if fmt == "csv":
        (out / "units.json").write_text(json.dumps(units, indent=1, sort_keys=True))
        files["units"] = out / "units.json"
    return files
