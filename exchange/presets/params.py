"""Typed venue parameters of a preset: attrs frozen classes, validated on construction.

One class per TOML table of a preset file (see :mod:`exchange.presets`): :class:`VenueParams`
(``[venue]``), :class:`FundingParams` (``[funding]``), :class:`MarginParams` (``[margin]``,
with :class:`PartialLiquidationParams` in ``[margin.partial_liquidation]``) and
:class:`LiquidationParams` (``[liquidation]``). Money is in atoms, rates in parts per 1e8
(:mod:`exchange.units`), durations in the unit their name says.

The ``*_CHOICES`` tuples list the names the rest of the simulator understands; a name outside
them is a :class:`~exchange.errors.ConfigError` naming the field, the rule and the value.
"""
from __future__ import annotations

import re

import attrs

from exchange.errors import ConfigError, invalid
from exchange.funding.sampler import AVERAGING_MODES
from exchange.instruments import MAINTENANCE_BASES, TIER_MODELS
from exchange.oracle import MARK_METHODS as _MARK_METHOD_REGISTRY
from exchange.units import RATE_SCALE

__all__ = [
    "ADL_PRICES",
    "CLOSE_ORDER_TYPES",
    "CLOSE_PRICE_LIMITS",
    "FUNDING_AVERAGING",
    "MAINTENANCE_BASES",
    "MARK_METHODS",
    "PARTIAL_LIQUIDATION_MODES",
    "PRICE_SOURCES",
    "SURPLUS_DESTINATIONS",
    "TIER_MODELS",
    "FundingParams",
    "LiquidationParams",
    "MarginParams",
    "PartialLiquidationParams",
    "VenueParams",
]
#: public names read from the liquidation registries on first use (module ``__getattr__``)
LAZY_NAMES = ("ADL_POLICIES", "SOCIALIZED_POLICIES", "WATERFALL_MODULES")

#: how the mark price is formed (reference §1); "last_price" marks at the last trade ("last" is
#: accepted as an alias). The names of the registry :data:`exchange.oracle.MARK_METHODS`; a
#: ``"package.module:Class"`` import path is accepted too.
MARK_METHODS = tuple(_MARK_METHOD_REGISTRY)
_MARK_ALIASES = {"last": "last_price"}
#: how premium samples are averaged over a funding interval (reference §2); the modes of
#: :data:`exchange.funding.AVERAGING_MODES` ("twap": duration-weighted mean, BitMEX's 8 h TWAP)
FUNDING_AVERAGING = AVERAGING_MODES
#: a price a rule reads: the mark price or the oracle / index price
PRICE_SOURCES = ("mark", "oracle")
# TIER_MODELS (tier maintenance model: Binance/Bybit/Hyperliquid cumulative deduction, or
# BitMEX's step rate on the whole position) and MAINTENANCE_BASES (the notional the maintenance
# margin is computed on) are :mod:`exchange.instruments`' own, imported above.
#: how much of a distressed position one liquidation step may close (reference §4)
PARTIAL_LIQUIDATION_MODES = (
    "none",            # close everything at once
    "tier_step_down",  # Binance/Bybit/BitMEX: close what brings the account to a lower tier
    "fraction",        # Hyperliquid: a fixed fraction above a notional threshold, cooldown
    "per_block",       # dYdX: a fraction per block, min/max notional, max insurance loss
    "shortfall",       # Drift: full below a shortfall, else a share growing with time
)
# WATERFALL_MODULES: the liquidation waterfall modules (DESIGN.md "Liquidation waterfall"), the
# names registered in :data:`exchange.liquidation.MODULES` (looked up lazily, see
# :func:`_registry_choices`: the liquidation package imports this module)
#: order type the market module sends into the book
CLOSE_ORDER_TYPES = ("ioc", "fok", "market")
#: worst price that order accepts
CLOSE_PRICE_LIMITS = ("bankruptcy", "dydx_fillable", "oracle_fee", "none")
#: who keeps collateral left above the bankruptcy price after a liquidation close
SURPLUS_DESTINATIONS = ("insurance", "trader")
# ADL_POLICIES: ADL allocation, :data:`exchange.liquidation.adl.ADL_RANKINGS` and "none"
# (looked up lazily): the venue queues — Binance PnL%×margin
#: ratio, BitMEX/Bybit PnL%×effective leverage, Hyperliquid (mark/entry)×(notional/account
#: value), dYdX random start — and the optimising allocations: pro rata (Chitra, arXiv
#: 2512.01112), risk-aware pro rata (Chitra's risk-aware class), leverage draining (Campbell et
# al., arXiv 2603.15963); read 2026-12-02
#: price at which ADL closes the counterparties
ADL_PRICES = ("bankruptcy", "previous_mark", "oracle")
# SOCIALIZED_POLICIES: socialized loss, the policies of :mod:`exchange.liquidation.socialized`
# and "none" (looked up lazily): haircut of winners' profit (BitMEX 2015 clawback) or per unit of
# open position on both sides (Drift cumulative funding)


def _registry_choices(name: str) -> tuple[str, ...]:
    """The valid names of a liquidation setting, read from the registry that owns them (imported
    on first use: the liquidation package imports this module)."""
    if name == "WATERFALL_MODULES":
        from exchange.liquidation import MODULES
        return tuple(MODULES)
    if name == "ADL_POLICIES":
        from exchange.liquidation.adl import ADL_RANKINGS
        return (*ADL_RANKINGS, "none")
    if name == "SOCIALIZED_POLICIES":
        from exchange.liquidation.socialized import POLICIES
        return (*POLICIES, "none")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __getattr__(name: str) -> tuple[str, ...]:
    return _registry_choices(name)


def _bad(field: str, rule: str, value) -> ConfigError:
    return invalid(field, rule, value, error=ConfigError)  # type: ignore[return-value]


_IMPORT_PATH = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")


def _choice(choices: tuple[str, ...] | str, import_path: bool = False):
    """A validator accepting one of ``choices`` (or, by name, the choices of a liquidation
    registry, looked up when a value is checked)."""
    def check(_inst, attribute, value) -> None:
        nonlocal choices
        if isinstance(choices, str):
            choices = _registry_choices(choices)
        if value in choices:
            return
        if import_path and isinstance(value, str) and _IMPORT_PATH.match(value):
            return
        rule = "one of " + ", ".join(repr(c) for c in choices)
        raise _bad(attribute.name, rule + (" or a 'package.module:Class' path" if import_path
                                           else ""), value)
    return check


def _is_import_path(value) -> bool:
    return isinstance(value, str) and bool(_IMPORT_PATH.match(value))


def _mark_alias(value):
    return _MARK_ALIASES.get(value, value) if isinstance(value, str) else value


def _int_min(minimum: int):
    def check(_inst, attribute, value) -> None:
        if type(value) is not int or value < minimum:
            raise _bad(attribute.name, f"an int >= {minimum}", value)
    return check


def _nonneg(_inst, attribute, value) -> None:
    """An amount of atoms: an int >= 0."""
    if type(value) is not int or value < 0:
        raise _bad(attribute.name, ">= 0", value)


def _rate(lo: int, hi: int):
    """An int rate in [lo, hi]."""
    def check(_inst, attribute, value) -> None:
        if type(value) is not int or not lo <= value <= hi:
            raise _bad(attribute.name, f"an int rate in [{lo}, {hi}] (parts per 1e8)", value)
    return check


def _optional(check):
    def wrapped(inst, attribute, value) -> None:
        if value is not None:
            check(inst, attribute, value)
    return wrapped


def _name(_inst, attribute, value) -> None:
    if not isinstance(value, str) or not value.strip():
        raise _bad(attribute.name, "a non-empty string", value)


_ANY_RATE = _rate(-RATE_SCALE, RATE_SCALE)
_FRACTION = _rate(0, RATE_SCALE)
_FACTOR = _rate(0, 1000 * RATE_SCALE)   # a multiple, e.g. of IMR − MMR: 0 … 1000


@attrs.frozen(kw_only=True)
class VenueParams:
    """``[venue]``: identity, settlement asset and price cadence.

    >>> VenueParams(name="x", display_name="X", settle_asset="USDT", mark_method="binance",
    ...             oracle_cadence_ms=1000).settle_decimals
    6
    """

    name: str = attrs.field(validator=_name)
    display_name: str = attrs.field(validator=_name)
    settle_asset: str = attrs.field(validator=_name)
    settle_decimals: int = attrs.field(default=6, validator=_int_min(0))
    mark_method: str = attrs.field(converter=_mark_alias,
                                   validator=_choice(MARK_METHODS, import_path=True))
    oracle_cadence_ms: int = attrs.field(validator=_int_min(1))


@attrs.frozen(kw_only=True)
class FundingParams:
    """``[funding]``: premium sampling, rate formula, caps and payment schedule (reference §2).

    ``F = P_avg + clamp(interest − P_avg, ±clamp)`` per ``interval_hours``; ``clamp_rate=None``
    means no clamp term (``F = P_avg + interest``, dYdX). ``cap_rate`` bounds the rate of one
    payment (one payment every ``pay_every_hours`` pays ``F · pay_every/interval``); with
    ``averaging="twap_spread"`` (Drift) it clamps the mark-oracle TWAP spread instead, before
    the ``amortisation_hours`` division. ``cap_hit_interval_hours`` (Binance): interval the
    venue switches to once the cap is hit (0 = never). ``fixed_ahead_intervals`` (BitMEX): the
    rate is fixed that many intervals before it is paid. ``cap_margin_factor`` (BitMEX 0.75,
    dYdX 6): ``F`` itself is bounded to ``±factor·(IMR − MMR)`` of each instrument's base tier
    (IMR = 1/max_leverage), before the per-payment scaling and ``cap_rate``;
    ``vote_clamp_margin_factor`` (dYdX 60): each premium vote is clamped to
    ``±factor·(IMR − MMR)``. Factors are parts per 1e8 like rates (0.75 = 75,000,000).
    """

    interval_hours: int = attrs.field(validator=_int_min(1))
    sampling_interval_s: int = attrs.field(validator=_int_min(1))
    averaging: str = attrs.field(validator=_choice(FUNDING_AVERAGING))
    interest_rate: int = attrs.field(validator=_ANY_RATE)
    clamp_rate: int | None = attrs.field(default=None, validator=_optional(_FRACTION))
    cap_rate: int | None = attrs.field(default=None, validator=_optional(_FRACTION))
    payment_price: str = attrs.field(validator=_choice(PRICE_SOURCES))
    pay_every_hours: int = attrs.field(validator=_int_min(1))
    amortisation_hours: int = attrs.field(default=0, validator=_int_min(0))
    cap_hit_interval_hours: int = attrs.field(default=0, validator=_int_min(0))
    fixed_ahead_intervals: int = attrs.field(default=0, validator=_int_min(0))
    cap_margin_factor: int | None = attrs.field(default=None, validator=_optional(_FACTOR))
    vote_clamp_margin_factor: int | None = attrs.field(default=None,
                                                       validator=_optional(_FACTOR))

    def __attrs_post_init__(self) -> None:
        if self.averaging == "twap_spread" and self.cap_margin_factor is not None:
            raise _bad("cap_margin_factor", "unset when averaging is 'twap_spread'",
                       self.cap_margin_factor)
        if self.interval_hours % self.pay_every_hours:
            raise _bad("pay_every_hours", f"a divisor of interval_hours ({self.interval_hours})",
                       self.pay_every_hours)
        if self.averaging == "twap_spread" and self.amortisation_hours == 0:
            raise _bad("amortisation_hours", "> 0 when averaging is 'twap_spread'",
                       self.amortisation_hours)


@attrs.frozen(kw_only=True)
class PartialLiquidationParams:
    """``[margin.partial_liquidation]``: how much one liquidation step may close.

    Fields used per ``mode`` (others stay 0):

    - ``tier_step_down``: none (the step closes what brings the account into a lower tier).
    - ``fraction`` (Hyperliquid): positions above ``threshold_notional_atoms`` close
      ``fraction_rate`` per order; after a partial, a ``cooldown_ms`` window in which orders are
      full-size if ``cooldown_full_size`` (else no further liquidation during it).
    - ``per_block`` (dYdX): ``fraction_rate`` of the position per ``step_ms``, at least
      ``min_notional_atoms``, at most ``max_notional_per_step_atoms`` per account and
      ``max_insurance_loss_per_step_atoms`` of insurance-fund loss per step.
    - ``shortfall`` (Drift): full close when the margin shortfall is below
      ``full_below_shortfall_atoms``, else ``initial_fraction_rate`` growing linearly to 100 %
      over ``duration_ms``.
    """

    mode: str = attrs.field(validator=_choice(PARTIAL_LIQUIDATION_MODES))
    threshold_notional_atoms: int = attrs.field(default=0, validator=_nonneg)
    fraction_rate: int = attrs.field(default=0, validator=_FRACTION)
    cooldown_ms: int = attrs.field(default=0, validator=_int_min(0))
    cooldown_full_size: bool = attrs.field(default=True)
    min_notional_atoms: int = attrs.field(default=0, validator=_nonneg)
    max_notional_per_step_atoms: int = attrs.field(default=0, validator=_nonneg)
    max_insurance_loss_per_step_atoms: int = attrs.field(default=0, validator=_nonneg)
    step_ms: int = attrs.field(default=0, validator=_int_min(0))
    full_below_shortfall_atoms: int = attrs.field(default=0, validator=_nonneg)
    initial_fraction_rate: int = attrs.field(default=0, validator=_FRACTION)
    duration_ms: int = attrs.field(default=0, validator=_int_min(0))

    def __attrs_post_init__(self) -> None:
        if type(self.cooldown_full_size) is not bool:
            raise _bad("cooldown_full_size", "a bool", self.cooldown_full_size)
        required = {"fraction": ("fraction_rate",),
                    "per_block": ("fraction_rate", "step_ms"),
                    "shortfall": ("duration_ms",)}.get(self.mode, ())
        for name in required:
            if getattr(self, name) <= 0:
                raise _bad(name, f"> 0 when mode is {self.mode!r}", getattr(self, name))


@attrs.frozen(kw_only=True)
class MarginParams:
    """``[margin]``: how maintenance margin is formed, alerts, and margin buffers.

    ``maintenance_basis``: ``"mark"`` (MM on |size| × mark) or ``"entry"`` (MM on the position
    value at entry price, Bybit); the compiled core and the liquidation-price index honour it.
    ``tier_model``: ``"cum_deduction"`` (the tier's maintenance deduction keeps MM continuous:
    Binance, Bybit, Hyperliquid) or ``"whole_position"`` (BitMEX: the risk step's MMR applies to
    the whole position, every cum is 0). ``alert_thresholds_pct``: margin-call levels as
    percents of maintenance usage (margin ratio), strictly increasing in (0, 100].
    ``liquidation_buffer_rate`` (Drift): a liquidation ends only when margin ≥ MM·(1 + buffer)
    (parsed here; the liquidation engine applies it). ``withdrawal_margin_rate``
    (Hyperliquid): a withdrawal must leave cross equity ≥ max(initial margin, this rate × total
    notional); the core's withdraw check applies it.

    Which price margins are tested on is the mark method's business (``[venue] mark_method``:
    dYdX's and Drift's methods return the oracle), so there is no separate trigger-price key.
    """

    maintenance_basis: str = attrs.field(default="mark", validator=_choice(MAINTENANCE_BASES))
    tier_model: str = attrs.field(default="cum_deduction", validator=_choice(TIER_MODELS))
    alert_thresholds_pct: tuple[int, ...] = attrs.field(converter=tuple)
    liquidation_buffer_rate: int = attrs.field(default=0, validator=_FRACTION)
    withdrawal_margin_rate: int = attrs.field(default=0, validator=_FRACTION)
    partial_liquidation: PartialLiquidationParams = attrs.field(
        validator=attrs.validators.instance_of(PartialLiquidationParams))

    def __attrs_post_init__(self) -> None:
        prev = 0
        for pct in self.alert_thresholds_pct:
            if type(pct) is not int or not prev < pct <= 100:
                raise _bad("alert_thresholds_pct",
                           "strictly increasing ints in (0, 100]", list(self.alert_thresholds_pct))
            prev = pct


@attrs.frozen(kw_only=True)
class LiquidationParams:
    """``[liquidation]``: the waterfall and the parameters of its modules.

    ``waterfall`` is the ordered tuple of module names (:data:`WATERFALL_MODULES`); a deficit
    that no module covers goes to the bad-debt account. ``backstop_trigger_rate``: the backstop
    takes over when equity < this fraction of MM (Hyperliquid 2/3). Fund sizes are atoms.
    """

    waterfall: tuple[str, ...] = attrs.field(converter=tuple)
    close_order: str = attrs.field(validator=_choice(CLOSE_ORDER_TYPES))
    close_price_limit: str = attrs.field(validator=_choice(CLOSE_PRICE_LIMITS))
    surplus_to: str = attrs.field(validator=_choice(SURPLUS_DESTINATIONS))
    adl_policy: str = attrs.field(default="none", validator=_choice("ADL_POLICIES", import_path=True))
    adl_price: str = attrs.field(default="bankruptcy", validator=_choice(ADL_PRICES))
    socialized_policy: str = attrs.field(default="none", validator=_choice("SOCIALIZED_POLICIES"))
    insurance_fund_atoms: int = attrs.field(default=0, validator=_nonneg)
    backstop_capital_atoms: int = attrs.field(default=0, validator=_nonneg)
    backstop_trigger_rate: int = attrs.field(default=0, validator=_FRACTION)

    def __attrs_post_init__(self) -> None:
        wf = self.waterfall
        modules = _registry_choices("WATERFALL_MODULES")
        rule = ("a non-empty list of distinct module names from "
                + ", ".join(repr(m) for m in modules)
                + " or 'package.module:Class' paths")
        if (not wf or len(set(wf)) != len(wf)
                or any(m not in modules and not _is_import_path(m) for m in wf)):
            raise _bad("waterfall", rule, list(wf))
        if "adl" in wf and self.adl_policy == "none":
            raise _bad("adl_policy", "a ranking policy (not 'none') when 'adl' is in the waterfall",
                       self.adl_policy)
        if "socialized" in wf and self.socialized_policy == "none":
            raise _bad("socialized_policy", "a policy (not 'none') when 'socialized' is in the "
                       "waterfall", self.socialized_policy)
        if "backstop" in wf and self.backstop_trigger_rate == 0:
            raise _bad("backstop_trigger_rate", "> 0 when 'backstop' is in the waterfall",
                       self.backstop_trigger_rate)
