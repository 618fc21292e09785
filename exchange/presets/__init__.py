"""Venue presets as data: one TOML file per venue, loaded into a typed :class:`VenuePreset`.

>>> from exchange.presets import load_preset, list_presets
>>> list_presets()
['binance_usdm', 'bitmex', 'bybit_linear', 'drift', 'dydx_v4', 'hyperliquid']
>>> preset = load_preset("hyperliquid")
>>> preset.liquidation.waterfall
('market', 'backstop', 'adl')
>>> cheaper = preset.with_overrides({"instruments.BTC.taker_fee_rate": "0.0004"})
>>> cheaper.instrument("BTC").taker_fee_rate
40000

File format
-----------
Top-level tables, each checked for unknown keys (a typo is an error that suggests the
nearest known key):

``[venue]``
    ``name``, ``display_name``, ``settle_asset``, ``settle_decimals`` (default 6),
    ``mark_method`` (one of :data:`~exchange.presets.params.MARK_METHODS`),
    ``oracle_cadence_ms``.
``[funding]``
    see :class:`~exchange.presets.params.FundingParams`.
``[margin]`` and ``[margin.partial_liquidation]``
    ``maintenance_basis`` (``"mark"`` | ``"entry"``, default mark), ``tier_model``
    (``"cum_deduction"`` | ``"whole_position"``, default cum_deduction),
    ``alert_thresholds_pct``, ``liquidation_buffer_rate``, ``withdrawal_margin_rate``: see
    :class:`~exchange.presets.params.MarginParams` and
    :class:`~exchange.presets.params.PartialLiquidationParams`. ``maintenance_basis``,
    ``tier_model`` and ``withdrawal_margin_rate`` are copied onto every instrument's spec (the
    compiled core is built from the specs and applies them). The old ``trigger_price`` key is
    refused with a hint: the mark method decides which price margins are tested on.
``[liquidation]``
    ``waterfall`` (ordered module names), ``adl_policy``, fund sizes… see
    :class:`~exchange.presets.params.LiquidationParams`.
``[instruments.SYMBOL]``
    ``base``, ``quote``, ``settle`` (default: the venue's), ``tick_size``, ``lot_size``,
    ``min_notional``, ``max_order_qty``, ``max_market_qty``, ``price_band_rate``,
    ``market_take_bound_rate``, ``maker_fee_rate``, ``taker_fee_rate``,
    ``liquidation_fee_rate``, ``impact_notional``, ``max_position_notional`` and
    ``tiers = [{floor, mmr, max_leverage, cum}, …]`` (``cum`` optional; when given it must
    equal the value the cum rule computes — a check against typos in transcribed tables — or,
    with ``[margin] tier_model = "whole_position"`` (BitMEX), be 0).

Value conventions (one for each kind, no exceptions):

- **Rates** (keys ending in ``_rate``) are decimal **strings of the fraction**: ``"0.0005"`` is
  0.05 %, ``"0.04"`` is 4 %. They convert exactly to parts per 10⁸; a finer value is an error.
  TOML floats are refused everywhere (they are binary and inexact); of the TOML integers only
  ``0`` is allowed for a rate (``10000`` would be read as 1,000,000 %, almost surely a mistake).
- **Money** (``min_notional``, ``insurance_fund``, tier ``floor``…) is a decimal string or an
  integer in units of the settlement asset (``"100"`` = 100 USDT), converted exactly to atoms.
- **Quantities** (``max_order_qty``…) are decimal strings in base-asset units, converted to lots.
- **Prices / grid** (``tick_size``, ``lot_size``) are decimal strings.
- Durations and counts are TOML integers whose key names their unit (``_ms``, ``_s``, ``_hours``).

Each shipped file cites the source of every number in comments, with the reference's legend:
``[C]`` confirmed (``reference/venue-mechanics.md`` section given), ``[3P]`` third-party page
or mirror only, ``[U]`` unconfirmed — the comment says which reading was chosen — and ``[S]``
a scenario default that is not a venue fact.

Errors are :class:`~exchange.errors.ConfigError` (a ``ValueError``) naming the file, the dotted
key, the rule and the value, e.g.
``binance_usdm.toml: 'instruments.BTCUSDT.taker_fee_rate' must be a rate written as a string
like "0.0005" … (got 0.0005)``.

The TOML files must ship as package data (``exchange/presets/*.toml``).
"""
from __future__ import annotations

from exchange.presets._loader import VenuePreset, list_presets, load_preset, preset_from_dict
from exchange.presets.params import *  # noqa: F403 - the parameter classes and enums
from exchange.presets.params import LAZY_NAMES as _LAZY_NAMES
from exchange.presets.params import __all__ as _params_all

__all__ = [*_params_all, *_LAZY_NAMES, "VenuePreset", "list_presets", "load_preset",
           "preset_from_dict"]


def __getattr__(name: str):
    """``ADL_POLICIES``, ``SOCIALIZED_POLICIES``, ``WATERFALL_MODULES``: read from the liquidation
    registries on first use (:mod:`exchange.presets.params`)."""
    if name in _LAZY_NAMES:
        from exchange.presets import params

        return getattr(params, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
