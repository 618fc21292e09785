"""Instrument specifications: tick, lot, order limits, price bands, fees and margin tiers.

An :class:`InstrumentSpec` is an immutable description of one perpetual contract, checked once
when it is built (house-style errors name the field, the rule and the value) and trusted
afterwards. All money is integer atoms, all rates integers in parts per
:data:`~exchange.units.RATE_SCALE` (see :mod:`exchange.units`).

Margin tiers follow Binance's bracket model (also Hyperliquid's "maintenance deduction")::

    MM(N)  = ceil(N · MMR_tier / RATE_SCALE) − cum_tier        tier = last tier with floor ≤ N
    cum_0  = 0 ;  cum_n = cum_{n−1} + floor_n · (MMR_n − MMR_{n−1}) / RATE_SCALE

The cum rule keeps MM continuous in N (reference §3). :func:`maintenance_amounts` computes it
exactly in integers and refuses tables where it would not be a whole number of atoms.

Two tier models (:data:`TIER_MODELS`, preset key ``[margin] tier_model``):

- ``"cum_deduction"`` (Binance brackets, Bybit "maintenance margin deduction", Hyperliquid
  "maintenance deduction"): the cum rule above, MM continuous in N.
- ``"whole_position"`` (BitMEX risk limits): the maintenance rate of the risk step applies to the
  WHOLE position, with no deduction (every cum is 0), so MM jumps at a step floor. BitMEX, "Risk
  Limits Examples" (https://www.bitmex.com/app/riskLimitsExamples, read 2026-12-02): "At each
  step, the maintenance and initial margin are raised by the base maintenance margin ... new
  maintenance margin becomes 0.50% + (# of Steps * 0.50%)", applied to the position's value.

Two maintenance bases (:data:`MAINTENANCE_BASES`, preset key ``[margin] maintenance_basis``):
``"mark"`` (N = |size| × mark; Binance, BitMEX, Hyperliquid, dYdX, Drift) and ``"entry"``
(N = |size| × entry price, the position value at entry; Bybit: "Position Value = Contract Size
× Entry Price ... Maintenance Margin (MM) = (Position Value x MMR) − Maintenance Margin
Deduction", Bybit help centre "Liquidation Price (USDT Contract)",
https://testnet.bybit.com/en-US/help-center/s/article/Liquidation-Price-USDT-Contract, read
2026-12-02).

Funding parameters live in the venue preset, not here.
"""
from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Sequence
from decimal import Decimal

import attrs

from exchange.errors import ConfigError, invalid
from exchange.units import (
    RATE_SCALE,
    DecimalLike,
    atoms_per_tick_lot,
    atoms_to_decimal,
    decimal_to_atoms,
    decimal_to_lots,
    decimal_to_ticks,
    div_ceil,
    div_floor,
    lots_to_decimal,
    mul_rate_ceil,
    ticks_to_decimal,
    to_decimal,
)

__all__ = [
    "MAINTENANCE_BASES",
    "TIER_MODELS",
    "InstrumentSpec",
    "MarginTier",
    "check_tier_order",
    "check_tiers",
    "maintenance_amounts",
    "make_tiers",
    "tier_index",
    "tier_maintenance_margin_atoms",
]


#: how tier maintenance amounts are formed (see the module docstring)
TIER_MODELS = ("cum_deduction", "whole_position")
#: which notional the maintenance margin is computed on (see the module docstring)
MAINTENANCE_BASES = ("mark", "entry")


# -- validators (house style: 'field' must be RULE (got VALUE)) --------------------------------

def _bad(field: str, rule: str, value) -> ConfigError:
    return invalid(field, rule, value, error=ConfigError)  # type: ignore[return-value]


def _int(_inst, attribute, value) -> None:
    if type(value) is not int:
        raise _bad(attribute.name, "an int", value)


def _int_ge0(inst, attribute, value) -> None:
    _int(inst, attribute, value)
    if value < 0:
        raise _bad(attribute.name, ">= 0", value)


def _int_gt0(inst, attribute, value) -> None:
    _int(inst, attribute, value)
    if value <= 0:
        raise _bad(attribute.name, "> 0", value)


def _rate_fraction(inst, attribute, value) -> None:
    """A rate in [0, RATE_SCALE): a fraction strictly below 100 %."""
    _int(inst, attribute, value)
    if not 0 <= value < RATE_SCALE:
        raise _bad(attribute.name, f"in [0, {RATE_SCALE}) (parts per 1e8)", value)


def _fee_rate(inst, attribute, value) -> None:
    _int(inst, attribute, value)
    if not -RATE_SCALE < value < RATE_SCALE:
        raise _bad(attribute.name, f"in (-{RATE_SCALE}, {RATE_SCALE}) (parts per 1e8)", value)


def _name(inst, attribute, value) -> None:
    if not isinstance(value, str) or not value or value.strip() != value:
        raise _bad(attribute.name, "a non-empty string without surrounding spaces", value)


def _positive_decimal(field: str):
    def convert(value: DecimalLike) -> Decimal:
        try:
            d = to_decimal(value, field)
        except ValueError as exc:
            raise _bad(field, "a decimal number", value) from exc
        if d <= 0:
            raise _bad(field, "> 0", value)
        return d
    return convert


# -- MARGIN TIERS -----------------------------------------------------------------------------

@attrs.frozen
class MarginTier:
    """One margin bracket: applies to position notionals ``N >= notional_floor_atoms`` up to the
    next tier's floor.

    ``mmr`` is the maintenance margin rate (parts per 1e8), ``max_leverage`` the highest
    leverage allowed while the position notional is in this tier (so the initial margin rate is
    at least ``1/max_leverage``), ``maintenance_amount_atoms`` the Binance "cum" deduction.

    >>> MarginTier(notional_floor_atoms=50_000_000_000, mmr=500_000, max_leverage=100,
    ...            maintenance_amount_atoms=50_000_000)
    MarginTier(notional_floor_atoms=50000000000, mmr=500000, max_leverage=100, maintenance_amount_atoms=50000000)
    >>> MarginTier(notional_floor_atoms=0, mmr=2_000_000, max_leverage=50,
    ...            maintenance_amount_atoms=0)
    Traceback (most recent call last):
    ...
    exchange.errors.ConfigError: 'mmr' must be < 1/max_leverage = 2000000 (maintenance below initial margin) (got 2000000)
    """  # noqa: E501

    notional_floor_atoms: int = attrs.field(validator=_int_ge0)
    mmr: int = attrs.field(validator=_rate_fraction)
    max_leverage: int = attrs.field(validator=_int_gt0)
    maintenance_amount_atoms: int = attrs.field(default=0, validator=_int_ge0)

    def __attrs_post_init__(self) -> None:
        if self.mmr == 0:
            raise _bad("mmr", "> 0", self.mmr)
        # IMR = 1/max_leverage must exceed MMR, else a new position is born liquidatable.
        if self.mmr * self.max_leverage >= RATE_SCALE:
            raise _bad("mmr", f"< 1/max_leverage = {RATE_SCALE // self.max_leverage} "
                       "(maintenance below initial margin)", self.mmr)


def maintenance_amounts(floors_atoms: Sequence[int], mmrs: Sequence[int]) -> tuple[int, ...]:
    """The Binance maintenance amounts ("cum") of a tier table, exactly.

    ``cum_0 = 0``, ``cum_n = cum_{n−1} + floor_n·(MMR_n − MMR_{n−1}) / RATE_SCALE``. Raises
    :class:`~exchange.errors.ConfigError` when a step is not a whole number of atoms (the table
    would then have a discontinuous maintenance margin). Cost: O(T) for T tiers.

    >>> usdt = 10**6
    >>> floors = [0, 50_000 * usdt, 250_000 * usdt, 1_000_000 * usdt]
    >>> [c // usdt for c in maintenance_amounts(floors, [400_000, 500_000, 1_000_000, 2_500_000])]
    [0, 50, 1300, 16300]
    """
    if len(floors_atoms) != len(mmrs):
        raise _bad("mmrs", f"as long as floors ({len(floors_atoms)})", len(mmrs))
    cums: list[int] = []
    cum = 0
    for i, (floor, mmr) in enumerate(zip(floors_atoms, mmrs)):
        if i:
            step, rem = divmod(floor * (mmr - mmrs[i - 1]), RATE_SCALE)
            if rem:
                raise _bad(f"tiers[{i}].notional_floor_atoms",
                           "such that floor × (MMR − previous MMR) is a whole number of atoms",
                           floor)
            cum += step
        cums.append(cum)
    return tuple(cums)


def make_tiers(rows: Iterable[tuple[int, int, int]], tier_model: str = "cum_deduction"
               ) -> tuple[MarginTier, ...]:
    """Build a tier table from ``(notional_floor_atoms, mmr, max_leverage)`` rows, computing the
    maintenance amounts with :func:`maintenance_amounts` (all 0 for
    ``tier_model="whole_position"``), and check it (:func:`check_tiers`).

    Cost: O(T).

    >>> tiers = make_tiers([(0, 400_000, 125), (50_000_000_000, 500_000, 100)])
    >>> tiers[1].maintenance_amount_atoms
    50000000
    >>> make_tiers([(0, 500_000, 100), (10**13, 1_000_000, 66)], "whole_position")[1].maintenance_amount_atoms
    0
    """
    rows = list(rows)
    check_tier_order([MarginTier(notional_floor_atoms=f, mmr=m, max_leverage=lev)
                      for f, m, lev in rows])
    if tier_model == "whole_position":
        cums: tuple[int, ...] = (0,) * len(rows)
    else:
        cums = maintenance_amounts([r[0] for r in rows], [r[1] for r in rows])
    return tuple(MarginTier(notional_floor_atoms=f, mmr=m, max_leverage=lev,
                            maintenance_amount_atoms=c)
                 for (f, m, lev), c in zip(rows, cums))


def check_tiers(tiers: Sequence[MarginTier], tier_model: str = "cum_deduction") -> None:
    """Raise :class:`~exchange.errors.ConfigError` unless ``tiers`` is a valid table.

    Rules: at least one tier; the first floor is 0; floors strictly increase; MMR never
    decreases; max leverage never increases; every maintenance amount equals the cum rule
    (``tier_model="cum_deduction"``) or is 0 (``"whole_position"``, BitMEX). Cost: O(T).

    >>> check_tiers(make_tiers([(0, 400_000, 125)]))
    >>> check_tiers([MarginTier(notional_floor_atoms=5, mmr=400_000, max_leverage=125)])
    Traceback (most recent call last):
    ...
    exchange.errors.ConfigError: 'tiers[0].notional_floor_atoms' must be 0 (got 5)
    """
    if tier_model not in TIER_MODELS:
        raise _bad("tier_model", "one of " + ", ".join(repr(m) for m in TIER_MODELS), tier_model)
    check_tier_order(tiers)
    if tier_model == "whole_position":
        for i, t in enumerate(tiers):
            if t.maintenance_amount_atoms != 0:
                raise _bad(f"tiers[{i}].maintenance_amount_atoms",
                           "0 (tier_model 'whole_position': the step's MMR applies to the whole "
                           "position, no deduction)", t.maintenance_amount_atoms)
        return
    cums = maintenance_amounts([t.notional_floor_atoms for t in tiers], [t.mmr for t in tiers])
    for i, (t, cum) in enumerate(zip(tiers, cums)):
        if t.maintenance_amount_atoms != cum:
            raise _bad(f"tiers[{i}].maintenance_amount_atoms",
                       f"{cum} (cum_n = cum_n-1 + floor_n × (MMR_n − MMR_n-1))",
                       t.maintenance_amount_atoms)


def check_tier_order(tiers: Sequence[MarginTier]) -> None:
    """The structural rules of :func:`check_tiers`, without the maintenance amounts. O(T).

    >>> check_tier_order([MarginTier(notional_floor_atoms=0, mmr=500_000, max_leverage=100),
    ...                   MarginTier(notional_floor_atoms=10, mmr=400_000, max_leverage=100)])
    Traceback (most recent call last):
    ...
    exchange.errors.ConfigError: 'tiers[1].mmr' must be >= the previous tier's 500000 (got 400000)
    """
    if not tiers:
        raise _bad("tiers", "a non-empty sequence of MarginTier", tiers)
    for i, t in enumerate(tiers):
        if not isinstance(t, MarginTier):
            raise _bad(f"tiers[{i}]", "a MarginTier", t)
    if tiers[0].notional_floor_atoms != 0:
        raise _bad("tiers[0].notional_floor_atoms", "0", tiers[0].notional_floor_atoms)
    for i in range(1, len(tiers)):
        prev, t = tiers[i - 1], tiers[i]
        if t.notional_floor_atoms <= prev.notional_floor_atoms:
            raise _bad(f"tiers[{i}].notional_floor_atoms",
                       f"> the previous floor {prev.notional_floor_atoms}", t.notional_floor_atoms)
        if t.mmr < prev.mmr:
            raise _bad(f"tiers[{i}].mmr", f">= the previous tier's {prev.mmr}", t.mmr)
        if t.max_leverage > prev.max_leverage:
            raise _bad(f"tiers[{i}].max_leverage", f"<= the previous tier's {prev.max_leverage}",
                       t.max_leverage)


def tier_index(floors_atoms: Sequence[int], notional_atoms: int) -> int:
    """Index of the tier that applies to ``notional_atoms`` (≥ 0) given the sorted floors.

    A notional equal to a floor belongs to the tier starting there. Cost: O(log T).

    >>> tier_index([0, 100, 500], 99), tier_index([0, 100, 500], 100), tier_index([0, 100], 10**9)
    (0, 1, 1)
    """
    return bisect_right(floors_atoms, notional_atoms) - 1


def tier_maintenance_margin_atoms(notional_atoms: int, tier: MarginTier) -> int:
    """``ceil(N · MMR / RATE_SCALE) − cum`` for one tier (rounded up: venue's favour). O(1).

    >>> t = MarginTier(notional_floor_atoms=0, mmr=400_000, max_leverage=125)
    >>> tier_maintenance_margin_atoms(1_000_000_000, t)        # 1,000 USDT -> 4 USDT
    4000000
    """
    return mul_rate_ceil(notional_atoms, tier.mmr) - tier.maintenance_amount_atoms


# -- INSTRUMENT SPEC ----------------------------------------------------------------------------

def _tiers_converter(value) -> tuple[MarginTier, ...]:
    return tuple(value)


@attrs.frozen(kw_only=True)
class InstrumentSpec:
    """A linear perpetual contract: grid, limits, fees and margin tiers.

    Fields (money in atoms, rates in parts per 1e8):

    - ``symbol``, ``base``, ``quote``, ``settle``: names (``"BTCUSDT"``, ``"BTC"``, ``"USDT"``…).
    - ``tick_size``, ``lot_size``: Decimals (strings accepted); ``settle_decimals`` (default 6).
      ``tick_size × lot_size × 10**settle_decimals`` must be a positive integer
      (:attr:`atoms_per_tick_lot`).
    - ``min_notional_atoms``: minimum order notional (0 = none).
    - ``max_order_lots``, ``max_market_lots``: largest limit / market order quantity.
    - ``price_band_rate``: PERCENT_PRICE band around the reference (mark) price, e.g. 5 % =
      ``5_000_000``; 0 = no band. ``market_take_bound_rate``: how far from the mark a market
      order may sweep (Binance ``marketTakeBound``); 0 = unbounded.
    - ``maker_fee_rate``, ``taker_fee_rate``: may be negative (rebate) but
      ``maker + taker >= 0``, so one trade never pays out more than it collects.
      ``liquidation_fee_rate``: charged on liquidated notional (≥ 0).
    - ``tiers``: tuple of :class:`MarginTier` (checked by :func:`check_tiers`).
    - ``impact_notional_atoms``: impact notional of the funding premium (0 = not used).
    - ``max_position_notional_atoms``: cap of the last tier (None = unlimited).
    - ``tier_model``: ``"cum_deduction"`` or ``"whole_position"`` (:data:`TIER_MODELS`).
    - ``maintenance_basis``: ``"mark"`` or ``"entry"`` (:data:`MAINTENANCE_BASES`): the
      notional the compiled core and the liquidation-price index compute MM on.
    - ``withdrawal_margin_rate``: a withdrawal must leave cross equity ≥ max(initial margin,
      this rate × total cross notional at the mark) (Hyperliquid 10 %; 0 = initial margin
      only). ``tier_model``, ``maintenance_basis`` and ``withdrawal_margin_rate`` are venue rules
      (``[margin]`` of a preset); the loader copies them onto every instrument so the core,
      which is built from the specs, applies them.

    >>> spec = InstrumentSpec.example()
    >>> spec.atoms_per_tick_lot, spec.notional_atoms(500_000, 20)  # 0.02 BTC at 50,000
    (100, 1000000000)
    """

    symbol: str = attrs.field(validator=_name)
    base: str = attrs.field(validator=_name)
    quote: str = attrs.field(validator=_name)
    settle: str = attrs.field(validator=_name)
    tick_size: Decimal = attrs.field(converter=_positive_decimal("tick_size"))
    lot_size: Decimal = attrs.field(converter=_positive_decimal("lot_size"))
    settle_decimals: int = attrs.field(default=6, validator=_int_ge0)
    min_notional_atoms: int = attrs.field(default=0, validator=_int_ge0)
    max_order_lots: int = attrs.field(validator=_int_gt0)
    max_market_lots: int = attrs.field(validator=_int_gt0)
    price_band_rate: int = attrs.field(default=0, validator=_rate_fraction)
    market_take_bound_rate: int = attrs.field(default=0, validator=_rate_fraction)
    maker_fee_rate: int = attrs.field(validator=_fee_rate)
    taker_fee_rate: int = attrs.field(validator=_fee_rate)
    liquidation_fee_rate: int = attrs.field(default=0, validator=_rate_fraction)
    tiers: tuple[MarginTier, ...] = attrs.field(converter=_tiers_converter)
    impact_notional_atoms: int = attrs.field(default=0, validator=_int_ge0)
    max_position_notional_atoms: int | None = attrs.field(default=None)
    tier_model: str = attrs.field(default="cum_deduction")
    maintenance_basis: str = attrs.field(default="mark")
    withdrawal_margin_rate: int = attrs.field(default=0, validator=_rate_fraction)

    #: value in atoms of one lot moving one tick (derived)
    atoms_per_tick_lot: int = attrs.field(init=False)
    _floors: tuple[int, ...] = attrs.field(init=False, repr=False, eq=False)

    def __attrs_post_init__(self) -> None:
        try:
            a = atoms_per_tick_lot(self.tick_size, self.lot_size, self.settle_decimals)
        except ValueError as exc:
            raise _bad("tick_size * lot_size",
                       f"a whole number of atoms (10^-{self.settle_decimals}), > 0",
                       self.tick_size * self.lot_size) from exc
        object.__setattr__(self, "atoms_per_tick_lot", a)
        if self.maintenance_basis not in MAINTENANCE_BASES:
            raise _bad("maintenance_basis", "one of " + ", ".join(repr(b) for b in MAINTENANCE_BASES),
                       self.maintenance_basis)
        check_tiers(self.tiers, self.tier_model)
        object.__setattr__(self, "_floors", tuple(t.notional_floor_atoms for t in self.tiers))
        if self.max_market_lots > self.max_order_lots:
            raise _bad("max_market_lots", f"<= max_order_lots ({self.max_order_lots})",
                       self.max_market_lots)
        if self.maker_fee_rate + self.taker_fee_rate < 0:
            raise _bad("maker_fee_rate", f">= -taker_fee_rate ({-self.taker_fee_rate}) "
                       "(maker rebate larger than taker fee)", self.maker_fee_rate)
        cap = self.max_position_notional_atoms
        if cap is not None and (type(cap) is not int or cap <= self._floors[-1]):
            raise _bad("max_position_notional_atoms",
                       f"None or an int > the last tier floor ({self._floors[-1]} atoms)", cap)

    @classmethod
    def example(cls) -> InstrumentSpec:
        """A small BTCUSDT-like spec for doctests and examples (Binance grid, two tiers)."""
        usdt = 10**6
        return cls(symbol="BTCUSDT", base="BTC", quote="USDT", settle="USDT",
                   tick_size="0.1", lot_size="0.001", min_notional_atoms=100 * usdt,
                   max_order_lots=1_000_000, max_market_lots=120_000,
                   price_band_rate=5_000_000, market_take_bound_rate=5_000_000,
                   maker_fee_rate=20_000, taker_fee_rate=50_000, liquidation_fee_rate=1_250_000,
                   tiers=make_tiers([(0, 400_000, 125), (50_000 * usdt, 500_000, 100)]),
                   impact_notional_atoms=25_000 * usdt)

    # -- QUERIES: notional, tiers, margin ----------------------------------------------------

    def notional_atoms(self, price_ticks: int, lots: int) -> int:
        """``price × |qty|`` in atoms: ``price_ticks · |lots| · atoms_per_tick_lot``. O(1).

        >>> InstrumentSpec.example().notional_atoms(500_000, -20)
        1000000000
        """
        return price_ticks * abs(lots) * self.atoms_per_tick_lot

    def tier_index_for(self, notional_atoms: int) -> int:
        """Index in :attr:`tiers` of the tier for this notional. O(log T).

        >>> InstrumentSpec.example().tier_index_for(50_000 * 10**6)
        1
        """
        return bisect_right(self._floors, notional_atoms) - 1

    def tier_for(self, notional_atoms: int) -> MarginTier:
        """The :class:`MarginTier` for this notional (≥ 0). O(log T).

        >>> InstrumentSpec.example().tier_for(49_999 * 10**6).mmr
        400000
        """
        return self.tiers[bisect_right(self._floors, notional_atoms) - 1]

    def maintenance_margin_atoms(self, notional_atoms: int) -> int:
        """``ceil(N · MMR / 1e8) − cum`` of the tier of ``N`` (rounded up). O(log T).

        >>> spec = InstrumentSpec.example()
        >>> spec.maintenance_margin_atoms(1_000 * 10**6)       # 0.4 % of 1,000 USDT
        4000000
        >>> spec.maintenance_margin_atoms(50_000 * 10**6)      # continuous at the floor: 200
        200000000
        """
        tier = self.tiers[bisect_right(self._floors, notional_atoms) - 1]
        return mul_rate_ceil(notional_atoms, tier.mmr) - tier.maintenance_amount_atoms

    def max_leverage_for(self, notional_atoms: int) -> int:
        """Highest leverage allowed for a position of this notional. O(log T).

        >>> spec = InstrumentSpec.example()
        >>> spec.max_leverage_for(0), spec.max_leverage_for(60_000 * 10**6)
        (125, 100)
        """
        return self.tiers[bisect_right(self._floors, notional_atoms) - 1].max_leverage

    def max_notional_for_leverage(self, leverage: int) -> int | None:
        """Exclusive notional cap at ``leverage``: a position held at that leverage must keep
        ``N < cap`` (None = unlimited). O(T).

        It is the upper bound of the last tier whose ``max_leverage >= leverage`` (the next
        tier's floor, or :attr:`max_position_notional_atoms` for the last tier); 0 if even the
        first tier's maximum is below ``leverage``. Same rule as
        :func:`exchange.margin.notional_cap_for_leverage`.

        >>> spec = InstrumentSpec.example()
        >>> spec.max_notional_for_leverage(125) // 10**6, spec.max_notional_for_leverage(100)
        (50000, None)
        >>> spec.max_notional_for_leverage(200)
        0
        """
        if type(leverage) is not int or leverage < 1:
            raise invalid("leverage", "an int >= 1", leverage)
        last = -1
        for i, tier in enumerate(self.tiers):
            if tier.max_leverage >= leverage:
                last = i
        if last < 0:
            return 0
        if last + 1 < len(self.tiers):
            return self._floors[last + 1]
        return self.max_position_notional_atoms

    def fee_atoms(self, notional_atoms: int, maker: bool) -> int:
        """Trading fee on a fill's notional, rounded up (a rebate rounds toward zero). O(1).

        >>> spec = InstrumentSpec.example()
        >>> spec.fee_atoms(1_000 * 10**6, maker=False), spec.fee_atoms(1_000 * 10**6, maker=True)
        (500000, 200000)
        """
        return mul_rate_ceil(notional_atoms, self.maker_fee_rate if maker else self.taker_fee_rate)

    def price_band_ticks(self, reference_ticks: int) -> tuple[int, int]:
        """``(lowest, highest)`` limit price allowed around ``reference_ticks`` (inclusive).

        The band shrinks to whole ticks inward. With no band: ``(1, 2**63 − 1)``. O(1).

        >>> InstrumentSpec.example().price_band_ticks(500_000)     # 50,000 ± 5 %
        (475000, 525000)
        """
        if not self.price_band_rate:
            return 1, 2**63 - 1
        lo = div_ceil(reference_ticks * (RATE_SCALE - self.price_band_rate), RATE_SCALE)
        hi = div_floor(reference_ticks * (RATE_SCALE + self.price_band_rate), RATE_SCALE)
        return max(lo, 1), hi

    # -- CONVERSIONS (I/O edge) --------------------------------------------------------------

    def price_to_ticks(self, price: DecimalLike) -> int:
        """Decimal price → ticks; exact or :class:`~exchange.errors.InvalidCommandError`. O(1).

        >>> InstrumentSpec.example().price_to_ticks("50000.1")
        500001
        """
        return decimal_to_ticks(price, self.tick_size)

    def ticks_to_price(self, ticks: int) -> Decimal:
        """Ticks → Decimal price. O(1).

        >>> InstrumentSpec.example().ticks_to_price(500001)
        Decimal('50000.1')
        """
        return ticks_to_decimal(ticks, self.tick_size)

    def qty_to_lots(self, qty: DecimalLike) -> int:
        """Decimal quantity (base asset) → lots; exact or an error. O(1).

        >>> InstrumentSpec.example().qty_to_lots("0.02")
        20
        """
        return decimal_to_lots(qty, self.lot_size)

    def lots_to_qty(self, lots: int) -> Decimal:
        """Lots → Decimal quantity. O(1).

        >>> InstrumentSpec.example().lots_to_qty(20)
        Decimal('0.020')
        """
        return lots_to_decimal(lots, self.lot_size)

    def amount_to_atoms(self, amount: DecimalLike) -> int:
        """Decimal money (settle asset) → atoms; exact or an error. O(1).

        >>> InstrumentSpec.example().amount_to_atoms("500")
        500000000
        """
        return decimal_to_atoms(amount, self.settle_decimals)

    def atoms_to_amount(self, atoms: int) -> Decimal:
        """Atoms → Decimal money with ``settle_decimals`` decimals. O(1).

        >>> InstrumentSpec.example().atoms_to_amount(500_000_000)
        Decimal('500.000000')
        """
        return atoms_to_decimal(atoms, self.settle_decimals)
