"""TOML preset → typed :class:`VenuePreset`. See :mod:`exchange.presets` for the file format."""
from __future__ import annotations

import copy
import difflib
import os
import tomllib
from collections.abc import Callable, Mapping
from decimal import Decimal
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any

import attrs

from exchange.errors import ConfigError, ExchangeError, UnknownSymbolError
from exchange.instruments import InstrumentSpec, MarginTier, check_tier_order, maintenance_amounts
from exchange.presets.params import (
    FundingParams,
    LiquidationParams,
    MarginParams,
    PartialLiquidationParams,
    VenueParams,
)
from exchange.units import decimal_to_atoms, decimal_to_lots, decimal_to_rate, to_decimal

__all__ = ["VenuePreset", "list_presets", "load_preset", "preset_from_dict"]


class _Missing:
    def __repr__(self) -> str:
        return "<missing>"


MISSING: Any = _Missing()
REQUIRED: Any = _Missing()

_TOP_LEVEL = ("venue", "funding", "margin", "liquidation", "instruments")


@attrs.define
class _Ctx:
    source: str
    settle_decimals: int = 6
    lot_size: Decimal = Decimal(1)

    def fail(self, key: str, rule: str, value: Any) -> ConfigError:
        return ConfigError.for_key(self.source, key, rule, value)


# -- value converters: (ctx, dotted key, TOML value) -> Python value --------------------------

Conv = Callable[[_Ctx, str, Any], Any]


def _str(ctx: _Ctx, key: str, v: Any) -> str:
    if not isinstance(v, str) or not v.strip():
        raise ctx.fail(key, "a non-empty string", v)
    return v


def _int(minimum: int) -> Conv:
    def conv(ctx: _Ctx, key: str, v: Any) -> int:
        if type(v) is not int or v < minimum:
            raise ctx.fail(key, f"an integer >= {minimum}", v)
        return v
    return conv


def _bool(ctx: _Ctx, key: str, v: Any) -> bool:
    if type(v) is not bool:
        raise ctx.fail(key, "true or false", v)
    return v


def _decimal_input(ctx: _Ctx, key: str, v: Any, what: str) -> Any:
    if isinstance(v, float):
        raise ctx.fail(key, f'{what} written as a string like "0.0005" (TOML floats are '
                       "binary and inexact)", v)
    if not isinstance(v, (str, int)) or isinstance(v, bool):
        raise ctx.fail(key, f"{what} written as a decimal string", v)
    return v


def _rate(ctx: _Ctx, key: str, v: Any) -> int:
    v = _decimal_input(ctx, key, v, "a rate (a fraction: \"0.0005\" = 0.05 %)")
    if type(v) is int and v != 0:
        # an integer rate is almost always a unit mistake (10000 "parts per 1e8" = 1,000,000 %)
        raise ctx.fail(key, 'a rate written as a decimal string of the fraction like "0.0005" '
                       "(integers other than 0 are refused)", v)
    try:
        return decimal_to_rate(v, key)
    except ExchangeError as exc:
        raise ctx.fail(key, exc.rule or "a rate", v) from None


def _converted(ctx: _Ctx, key: str, v: Any, what: str, convert, rule: str):
    """``convert`` of a decimal-like TOML value; a conversion error names the key and rule."""
    v = _decimal_input(ctx, key, v, what)
    try:
        return convert(v)
    except ExchangeError as exc:
        raise ctx.fail(key, exc.rule or rule, v) from None


def _money(ctx: _Ctx, key: str, v: Any) -> int:
    return _converted(ctx, key, v, "an amount of the settlement asset",
                      lambda d: decimal_to_atoms(d, ctx.settle_decimals, key), "an amount")


def _decimal(ctx: _Ctx, key: str, v: Any) -> Decimal:
    return _converted(ctx, key, v, "a decimal number", lambda d: to_decimal(d, key),
                      "a decimal number")


def _qty_lots(ctx: _Ctx, key: str, v: Any) -> int:
    return _converted(ctx, key, v, "a quantity of the base asset",
                      lambda d: decimal_to_lots(d, ctx.lot_size, key), "a quantity")


def _list_of(item: Conv) -> Conv:
    def conv(ctx: _Ctx, key: str, v: Any) -> tuple:
        if not isinstance(v, list):
            raise ctx.fail(key, "a list", v)
        return tuple(item(ctx, f"{key}[{i}]", x) for i, x in enumerate(v))
    return conv


@attrs.frozen
class _Key:
    attr: str
    conv: Conv
    default: Any = REQUIRED


_VENUE: dict[str, _Key] = {
    "name": _Key("name", _str),
    "display_name": _Key("display_name", _str),
    "settle_asset": _Key("settle_asset", _str),
    "settle_decimals": _Key("settle_decimals", _int(0), 6),
    "mark_method": _Key("mark_method", _str),
    "oracle_cadence_ms": _Key("oracle_cadence_ms", _int(1)),
}
_FUNDING: dict[str, _Key] = {
    "interval_hours": _Key("interval_hours", _int(1)),
    "sampling_interval_s": _Key("sampling_interval_s", _int(1)),
    "averaging": _Key("averaging", _str),
    "interest_rate": _Key("interest_rate", _rate),
    "clamp_rate": _Key("clamp_rate", _rate, None),
    "cap_rate": _Key("cap_rate", _rate, None),
    "payment_price": _Key("payment_price", _str),
    "pay_every_hours": _Key("pay_every_hours", _int(1)),
    "amortisation_hours": _Key("amortisation_hours", _int(0), 0),
    "cap_hit_interval_hours": _Key("cap_hit_interval_hours", _int(0), 0),
    "fixed_ahead_intervals": _Key("fixed_ahead_intervals", _int(0), 0),
    "cap_margin_factor": _Key("cap_margin_factor", _rate, None),
    "vote_clamp_margin_factor": _Key("vote_clamp_margin_factor", _rate, None),
}
_PARTIAL: dict[str, _Key] = {
    "mode": _Key("mode", _str),
    "threshold_notional": _Key("threshold_notional_atoms", _money, 0),
    "fraction_rate": _Key("fraction_rate", _rate, 0),
    "cooldown_ms": _Key("cooldown_ms", _int(0), 0),
    "cooldown_full_size": _Key("cooldown_full_size", _bool, True),
    "min_notional": _Key("min_notional_atoms", _money, 0),
    "max_notional_per_step": _Key("max_notional_per_step_atoms", _money, 0),
    "max_insurance_loss_per_step": _Key("max_insurance_loss_per_step_atoms", _money, 0),
    "step_ms": _Key("step_ms", _int(0), 0),
    "full_below_shortfall": _Key("full_below_shortfall_atoms", _money, 0),
    "initial_fraction_rate": _Key("initial_fraction_rate", _rate, 0),
    "duration_ms": _Key("duration_ms", _int(0), 0),
}
_MARGIN: dict[str, _Key] = {
    "maintenance_basis": _Key("maintenance_basis", _str, "mark"),
    "tier_model": _Key("tier_model", _str, "cum_deduction"),
    "alert_thresholds_pct": _Key("alert_thresholds_pct", _list_of(_int(1))),
    "liquidation_buffer_rate": _Key("liquidation_buffer_rate", _rate, 0),
    "withdrawal_margin_rate": _Key("withdrawal_margin_rate", _rate, 0),
}
_LIQUIDATION: dict[str, _Key] = {
    "waterfall": _Key("waterfall", _list_of(_str)),
    "close_order": _Key("close_order", _str),
    "close_price_limit": _Key("close_price_limit", _str),
    "surplus_to": _Key("surplus_to", _str),
    "adl_policy": _Key("adl_policy", _str, "none"),
    "adl_price": _Key("adl_price", _str, "bankruptcy"),
    "socialized_policy": _Key("socialized_policy", _str, "none"),
    "insurance_fund": _Key("insurance_fund_atoms", _money, 0),
    "backstop_capital": _Key("backstop_capital_atoms", _money, 0),
    "backstop_trigger_rate": _Key("backstop_trigger_rate", _rate, 0),
}
# instrument keys read first (they set the grid the others are converted on)
_INSTRUMENT_GRID: dict[str, _Key] = {
    "settle_decimals": _Key("settle_decimals", _int(0), None),  # default: the venue's
    "tick_size": _Key("tick_size", _decimal),
    "lot_size": _Key("lot_size", _decimal),
}
_INSTRUMENT: dict[str, _Key] = {
    "base": _Key("base", _str),
    "quote": _Key("quote", _str),
    "settle": _Key("settle", _str, None),  # default: the venue's settle_asset
    "min_notional": _Key("min_notional_atoms", _money, 0),
    "max_order_qty": _Key("max_order_lots", _qty_lots),
    "max_market_qty": _Key("max_market_lots", _qty_lots),
    "price_band_rate": _Key("price_band_rate", _rate, 0),
    "market_take_bound_rate": _Key("market_take_bound_rate", _rate, 0),
    "maker_fee_rate": _Key("maker_fee_rate", _rate),
    "taker_fee_rate": _Key("taker_fee_rate", _rate),
    "liquidation_fee_rate": _Key("liquidation_fee_rate", _rate, 0),
    "impact_notional": _Key("impact_notional_atoms", _money, 0),
    "max_position_notional": _Key("max_position_notional_atoms", _money, None),
}
_TIER: dict[str, _Key] = {
    "floor": _Key("notional_floor_atoms", _money),
    "mmr": _Key("mmr", _rate),
    "max_leverage": _Key("max_leverage", _int(1)),
    "cum": _Key("maintenance_amount_atoms", _money, None),  # optional: checked, not trusted
}
# attribute name -> TOML key inside a tier, for errors raised by instruments.check_tiers
_TIER_ATTR_TO_KEY = {k.attr: name for name, k in _TIER.items()}


# -- table reading ----------------------------------------------------------------------------

def _table(ctx: _Ctx, path: str, value: Any) -> dict:
    if value is MISSING:
        raise ctx.fail(path, "present (a TOML table)", MISSING)
    if not isinstance(value, dict):
        raise ctx.fail(path, "a TOML table", value)
    return value


#: keys that existed once, with what to do instead
_REMOVED = {
    "margin.trigger_price": "not a key any more (it was never read): the price margins are "
                            "tested on is the mark method's ([venue] mark_method; 'dydx' and "
                            "'drift' mark at the oracle); delete the line",
}


def _check_known(ctx: _Ctx, path: str, table: dict, known: list[str]) -> None:
    for key, value in table.items():
        dotted = f"{path}.{key}" if path else key
        if dotted in _REMOVED:
            raise ctx.fail(dotted, _REMOVED[dotted], value)
        if key not in known:
            near = difflib.get_close_matches(key, known, n=1)
            hint = f" (did you mean {near[0]!r}?)" if near else ""
            where = f"[{path}]" if path else "a preset file"
            raise ctx.fail(f"{path}.{key}" if path else key,
                           f"a known key of {where}{hint}; known: {', '.join(known)}", value)


def _read(ctx: _Ctx, path: str, table: dict, schema: dict[str, _Key]) -> dict[str, Any]:
    kwargs: dict[str, Any] = {}
    for name, key in schema.items():
        dotted = f"{path}.{name}"
        if name in table:
            kwargs[key.attr] = key.conv(ctx, dotted, table[name])
        elif key.default is REQUIRED:
            raise ctx.fail(dotted, "present", MISSING)
        else:
            kwargs[key.attr] = key.default
    return kwargs


def _construct(ctx: _Ctx, path: str, table: dict, schema: dict[str, _Key], cls: type,
               kwargs: dict[str, Any]) -> Any:
    """``cls(**kwargs)``; a validator's error is re-raised naming the TOML key and value."""
    try:
        return cls(**kwargs)
    except ExchangeError as exc:
        if exc.field is None or exc.rule is None:
            raise ConfigError(f"{ctx.source}: [{path}]: {exc}") from None
        attr_to_key = {k.attr: name for name, k in schema.items()}
        field = exc.field
        head, sep, tail = field.partition(".")
        if field.startswith("tiers[") and sep:
            name = f"{head}.{_TIER_ATTR_TO_KEY.get(tail, tail)}"
            value = exc.value
        else:
            name = attr_to_key.get(field, field)
            value = table.get(name, exc.value)
        raise ctx.fail(f"{path}.{name}", exc.rule, value) from None


def _tiers(ctx: _Ctx, path: str, value: Any, tier_model: str = "cum_deduction"
           ) -> tuple[MarginTier, ...]:
    if value is MISSING:
        raise ctx.fail(path, "present (a list of tier tables)", MISSING)
    if not isinstance(value, list) or not value:
        raise ctx.fail(path, "a non-empty list of tier tables {floor, mmr, max_leverage[, cum]}",
                       value)
    rows = []
    for i, row in enumerate(value):
        rpath = f"{path}[{i}]"
        row = _table(ctx, rpath, row)
        _check_known(ctx, rpath, row, list(_TIER))
        rows.append(_read(ctx, rpath, row, _TIER))
    given = [row.pop("maintenance_amount_atoms") for row in rows]
    provisional = []
    for i, row in enumerate(rows):
        try:
            provisional.append(MarginTier(maintenance_amount_atoms=0, **row))
        except ExchangeError as exc:
            key = _TIER_ATTR_TO_KEY.get(exc.field or "", exc.field)
            raise ctx.fail(f"{path}[{i}].{key}", exc.rule or "valid",
                           value[i].get(key, exc.value)) from None
    try:
        check_tier_order(provisional)
        if tier_model == "whole_position":
            cums: tuple[int, ...] = (0,) * len(rows)
        else:
            cums = maintenance_amounts([r["notional_floor_atoms"] for r in rows],
                                       [r["mmr"] for r in rows])
    except ExchangeError as exc:
        head, _, attr = (exc.field or "tiers[0].?").partition(".")
        i = int(head.partition("[")[2].rstrip("]") or 0)
        key = _TIER_ATTR_TO_KEY.get(attr, attr)
        raise ctx.fail(f"{path}[{i}].{key}", exc.rule or "valid",
                       value[i].get(key, exc.value)) from None
    for i, cum in enumerate(cums):
        if given[i] is not None and given[i] != cum and tier_model == "whole_position":
            raise ctx.fail(f"{path}[{i}].cum", "0 or omitted ([margin] tier_model = "
                           "'whole_position': the step's MMR applies to the whole position, "
                           "no deduction)", value[i]["cum"])
        if given[i] is not None and given[i] != cum:
            raise ctx.fail(f"{path}[{i}].cum",
                           f"{Decimal(cum).scaleb(-ctx.settle_decimals).normalize():f} "
                           "(cum_n = cum_n-1 + "
                           "floor_n × (MMR_n − MMR_n-1)), or omitted", value[i]["cum"])
    return tuple(MarginTier(maintenance_amount_atoms=cum, **row) for row, cum in zip(rows, cums))


def _instrument(ctx: _Ctx, symbol: str, table: Any, venue: VenueParams,
                margin: MarginParams) -> InstrumentSpec:
    path = f"instruments.{symbol}"
    table = _table(ctx, path, table)
    _check_known(ctx, path, table, [*_INSTRUMENT_GRID, *_INSTRUMENT, "tiers"])
    grid = _read(ctx, path, table, _INSTRUMENT_GRID)
    if grid["settle_decimals"] is None:
        grid["settle_decimals"] = venue.settle_decimals
    ictx = _Ctx(ctx.source, grid["settle_decimals"], grid["lot_size"])
    if grid["lot_size"] <= 0:
        raise ctx.fail(f"{path}.lot_size", "> 0", table["lot_size"])
    kwargs = {**grid, **_read(ictx, path, table, _INSTRUMENT)}
    if kwargs["settle"] is None:
        kwargs["settle"] = venue.settle_asset
    kwargs["tiers"] = _tiers(ictx, f"{path}.tiers", table.get("tiers", MISSING), margin.tier_model)
    # venue rules of [margin] the compiled core applies per instrument (it is built from specs)
    kwargs["tier_model"] = margin.tier_model
    kwargs["maintenance_basis"] = margin.maintenance_basis
    kwargs["withdrawal_margin_rate"] = margin.withdrawal_margin_rate
    schema = {**_INSTRUMENT_GRID, **_INSTRUMENT, "tiers": _Key("tiers", _str)}
    return _construct(ctx, path, table, schema, InstrumentSpec, {"symbol": symbol, **kwargs})


def _section(ctx: _Ctx, data: dict, name: str, schema: dict[str, _Key], cls: type,
             subtables: dict[str, Any] | None = None, parent: str = "") -> Any:
    path = f"{parent}.{name}" if parent else name
    table = _table(ctx, path, data.get(name, MISSING))
    _check_known(ctx, path, table, [*schema, *(subtables or {})])
    kwargs = _read(ctx, path, table, schema)
    kwargs.update(subtables or {})
    return _construct(ctx, path, table, schema, cls, kwargs)


# -- THE PRESET ---------------------------------------------------------------------------------

@attrs.frozen(kw_only=True)
class VenuePreset:
    """A venue preset: typed parameters and instruments, built from TOML data.

    ``name`` is ``[venue].name``; ``source`` says where the data came from (file name, path,
    ``+ overrides``). ``instruments`` is a read-only mapping symbol → InstrumentSpec.
    """

    name: str
    source: str
    venue: VenueParams
    funding: FundingParams
    margin: MarginParams
    liquidation: LiquidationParams
    instruments: Mapping[str, InstrumentSpec]
    _data: dict = attrs.field(repr=False, eq=False)

    @property
    def symbols(self) -> tuple[str, ...]:
        """Instrument symbols in file order. O(n)."""
        return tuple(self.instruments)

    def instrument(self, symbol: str) -> InstrumentSpec:
        """The :class:`InstrumentSpec` of ``symbol``; :class:`UnknownSymbolError` if none. O(1)."""
        try:
            return self.instruments[symbol]
        except KeyError:
            raise UnknownSymbolError(
                f"{symbol!r} must be one of {', '.join(self.instruments)} "
                f"(preset {self.name!r})") from None

    def to_data(self) -> dict:
        """A deep copy of the raw TOML tree this preset was built from (after overrides)."""
        return copy.deepcopy(self._data)

    def with_overrides(self, overrides: Mapping[str, Any]) -> VenuePreset:
        """A new preset with dotted-key overrides applied to the TOML data, then re-validated.

        Keys are dotted paths of the file format (``"liquidation.waterfall"``,
        ``"instruments.BTCUSDT.taker_fee_rate"``, ``"instruments.BTCUSDT.tiers.0.mmr"``);
        values follow the file conventions (rates and money as decimal strings). Every table on
        the path must exist; the last key may be new if the schema knows it. Errors are
        :class:`~exchange.errors.ConfigError` naming ``<source> + overrides`` and the key.
        Cost: one full re-validation, O(size of the preset).
        """
        data = copy.deepcopy(self._data)
        source = f"{self.source} + overrides"
        for dotted, value in overrides.items():
            if not isinstance(dotted, str) or not dotted or "" in dotted.split("."):
                raise ConfigError.for_key(source, "override key",
                                          "a dotted path like 'liquidation.waterfall'", dotted)
            parts = dotted.split(".")
            node: Any = data
            for i, part in enumerate(parts[:-1]):
                node = _child(node, part)
                if node is MISSING:
                    raise ConfigError.for_key(source, ".".join(parts[: i + 1]),
                                              "an existing table or list of the preset", MISSING)
            last = parts[-1]
            if isinstance(node, list):
                if not last.isdigit() or int(last) >= len(node):
                    raise ConfigError.for_key(source, dotted, f"an index below {len(node)}", last)
                node[int(last)] = copy.deepcopy(value)
            elif isinstance(node, dict):
                node[last] = copy.deepcopy(value)
            else:
                raise ConfigError.for_key(source, ".".join(parts[:-1]), "a table or a list", node)
        return preset_from_dict(data, source)


def _child(node: Any, part: str) -> Any:
    if isinstance(node, dict):
        return node.get(part, MISSING)
    if isinstance(node, list) and part.isdigit() and int(part) < len(node):
        return node[int(part)]
    return MISSING


def preset_from_dict(data: Mapping[str, Any], source: str = "<dict>") -> VenuePreset:
    """Build and validate a :class:`VenuePreset` from a parsed TOML tree. Cost: O(size)."""
    ctx = _Ctx(source)
    if not isinstance(data, Mapping):
        raise ConfigError(f"{source}: a preset must be a TOML table (got {data!r})")
    data = dict(data)
    _check_known(ctx, "", data, list(_TOP_LEVEL))
    venue = _section(ctx, data, "venue", _VENUE, VenueParams)
    ctx.settle_decimals = venue.settle_decimals
    funding = _section(ctx, data, "funding", _FUNDING, FundingParams)
    margin_table = _table(ctx, "margin", data.get("margin", MISSING))
    partial = _section(ctx, margin_table, "partial_liquidation", _PARTIAL,
                       PartialLiquidationParams, parent="margin")
    margin = _section(ctx, data, "margin", _MARGIN, MarginParams,
                      {"partial_liquidation": partial})
    liquidation = _section(ctx, data, "liquidation", _LIQUIDATION, LiquidationParams)
    inst_table = _table(ctx, "instruments", data.get("instruments", MISSING))
    if not inst_table:
        raise ctx.fail("instruments", "a table with at least one instrument", inst_table)
    instruments = {sym: _instrument(ctx, sym, tbl, venue, margin)
                   for sym, tbl in inst_table.items()}
    return VenuePreset(name=venue.name, source=source, venue=venue, funding=funding,
                       margin=margin, liquidation=liquidation,
                       instruments=MappingProxyType(instruments), data=copy.deepcopy(data))


# -- LOADING ------------------------------------------------------------------------------------

def _builtin_dir():
    return resources.files("exchange.presets")


def list_presets() -> list[str]:
    """Names of the presets shipped in the package (file stems), sorted. O(files).

    >>> "binance_usdm" in list_presets()
    True
    """
    return sorted(p.name[:-5] for p in _builtin_dir().iterdir()
                  if p.name.endswith(".toml") and not p.name.startswith("_"))


def load_preset(name_or_path: str | os.PathLike, overrides: Mapping[str, Any] | None = None
                ) -> VenuePreset:
    """Load a shipped preset by name (``"binance_usdm"``) or a user TOML file by path.

    A value that names an existing file, ends in ``.toml`` or contains a path separator is a
    path; anything else is a preset name (see :func:`list_presets`). ``overrides`` are applied
    with :meth:`VenuePreset.with_overrides`. Every problem raises
    :class:`~exchange.errors.ConfigError` naming the file, the dotted key, the rule and the
    value (unknown keys too). Cost: O(size of the file).

    >>> p = load_preset("binance_usdm")
    >>> p.venue.settle_asset, p.instrument("BTCUSDT").taker_fee_rate
    ('USDT', 50000)
    """
    text = str(name_or_path)
    is_path = (isinstance(name_or_path, os.PathLike) or text.endswith(".toml")
               or os.sep in text or "/" in text)
    if is_path:
        path = Path(name_or_path)
        source = str(path)
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise ConfigError(f"{source}: cannot read preset file ({exc.strerror})") from None
    else:
        names = list_presets()
        if text not in names:
            raise ConfigError.for_key(None, "preset", "one of " + ", ".join(names)
                                      + " or a path to a .toml file", text)
        source = f"{text}.toml"
        raw = (_builtin_dir() / source).read_bytes()
        hit = _BUILTIN_CACHE.get(text)
        if hit is not None and hit[0] == raw:       # parsed before, the file unchanged
            return hit[1].with_overrides(overrides) if overrides else hit[1]
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{source}: not valid TOML ({exc})") from None
    preset = preset_from_dict(data, source)
    if not is_path:
        _BUILTIN_CACHE[text] = (raw, preset)
    return preset.with_overrides(overrides) if overrides else preset


#: shipped presets already parsed: name -> (file bytes, preset); presets are frozen
_BUILTIN_CACHE: dict[str, tuple[bytes, VenuePreset]] = {}
