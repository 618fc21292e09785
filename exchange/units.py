"""Integer units of the venue, explicit rounding, and conversions at the I/O edge.

Conventions (fixed project-wide):

- **Prices** are integer *ticks*: ``price = ticks × tick_size``.
- **Quantities** are integer *lots*: ``qty = lots × lot_size`` (base asset).
- **Money** is an integer count of *atoms* of the settlement asset:
  ``amount = atoms × 10**-settle_decimals`` (USDT/USDC: ``settle_decimals = 6``).
- **Rates** (fees, MMR, IMR, funding) are integers in parts per :data:`RATE_SCALE` = 10⁸:
  0.4 % is ``400_000``, 0.05 % is ``50_000``, 1 bp is ``10_000``.
- ``atoms_per_tick_lot = tick_size × lot_size × 10**settle_decimals`` is an exact positive
  integer, so ``notional_atoms = ticks × lots × atoms_per_tick_lot`` is exact.

Every division rounds explicitly, in the venue's favour: requirements and fees the venue
charges round **up** (:func:`div_ceil`, :func:`mul_rate_ceil`), amounts it pays out round
**down** (:func:`div_floor`, :func:`mul_rate_floor`). Python's ``//`` floors toward −∞, also
for negative numbers, which is what these helpers rely on (C truncates; never port them with
``cdivision``).

:class:`~decimal.Decimal` appears only here, at the edge: the ``*_to_*`` converters refuse a
value that is not exactly on the grid instead of rounding it silently, and refuse ``float``
(binary floats cannot represent 0.1 exactly). Their errors are
:class:`~exchange.errors.InvalidCommandError` (a ``ValueError``) naming the field, the rule
and the value.
"""
from __future__ import annotations

from decimal import Decimal, InvalidOperation

from exchange._enums import Scale
from exchange.errors import invalid

#: Scale of every rate: a rate ``r`` means ``r / RATE_SCALE`` (parts per 10⁸); declared once in
#: ``exchange/_enums.pxd``, which the compiled core uses too.
RATE_SCALE = int(Scale.RATE_SCALE)

#: Number of decimals of a rate when written as a fraction (``log10(RATE_SCALE)``).
RATE_DECIMALS = 8

#: What the converters accept as an exact decimal value.
DecimalLike = Decimal | str | int

__all__ = [
    "RATE_DECIMALS",
    "RATE_SCALE",
    "DecimalLike",
    "atoms_per_tick_lot",
    "atoms_to_decimal",
    "decimal_to_atoms",
    "decimal_to_lots",
    "decimal_to_rate",
    "decimal_to_ticks",
    "div_ceil",
    "div_floor",
    "format_atoms",
    "format_rate",
    "lots_to_decimal",
    "mul_rate_ceil",
    "mul_rate_floor",
    "rate_to_decimal",
    "ticks_to_decimal",
    "to_decimal",
]


# -- ROUNDING ---------------------------------------------------------------------------------

def div_floor(a: int, b: int) -> int:
    """``a / b`` rounded toward −∞ (Python ``//``). ``b`` must not be 0. Cost: O(1).

    >>> div_floor(7, 2), div_floor(-7, 2), div_floor(7, -2)
    (3, -4, -4)
    """
    return a // b


def div_ceil(a: int, b: int) -> int:
    """``a / b`` rounded toward +∞. ``b`` must not be 0. Cost: O(1).

    >>> div_ceil(7, 2), div_ceil(-7, 2), div_ceil(6, 2), div_ceil(7, -2)
    (4, -3, 3, -3)
    """
    return -((-a) // b)


def mul_rate_ceil(amount_atoms: int, rate: int) -> int:
    """``amount × rate / RATE_SCALE`` rounded up: a requirement or fee the venue charges.

    Cost: O(1).

    >>> mul_rate_ceil(1_000_000, 50_000)     # 0.05 % of 1 USDT = 500 atoms
    500
    >>> mul_rate_ceil(1_000_001, 50_000)     # 500.0005 -> 501
    501
    >>> mul_rate_ceil(1_000_001, -20_000)    # a rebate rounds up too, i.e. toward zero
    -200
    """
    return -((-amount_atoms * rate) // RATE_SCALE)


def mul_rate_floor(amount_atoms: int, rate: int) -> int:
    """``amount × rate / RATE_SCALE`` rounded down: an amount the venue pays out. Cost: O(1).

    >>> mul_rate_floor(1_000_001, 50_000), mul_rate_floor(1_000_001, -20_000)
    (500, -201)
    """
    return (amount_atoms * rate) // RATE_SCALE


# -- DECIMAL <-> INTEGER ------------------------------------------------------------------------

def to_decimal(value: DecimalLike, field: str = "value") -> Decimal:
    """``value`` as a finite :class:`~decimal.Decimal`; ``float`` and ``bool`` are refused.

    Cost: O(len(value)).

    >>> to_decimal("0.1"), to_decimal(3), to_decimal(Decimal("2.50"))
    (Decimal('0.1'), Decimal('3'), Decimal('2.50'))
    >>> to_decimal(0.1, "price")
    Traceback (most recent call last):
    ...
    exchange.errors.InvalidCommandError: 'price' must be a Decimal, a decimal string or an int, not a float (got 0.1)
    """
    if isinstance(value, Decimal):
        d = value
    elif isinstance(value, (bool, float)):
        kind = type(value).__name__
        raise invalid(field, f"a Decimal, a decimal string or an int, not a {kind}", value)
    elif isinstance(value, int):
        return Decimal(value)
    elif isinstance(value, str):
        try:
            d = Decimal(value.strip().replace("_", ""))
        except InvalidOperation:
            raise invalid(field, "a decimal number", value) from None
    else:
        raise invalid(field, "a Decimal, a decimal string or an int", value)
    if not d.is_finite():
        raise invalid(field, "finite", value)
    return d


def _on_grid(value: DecimalLike, step: Decimal, field: str, step_name: str) -> int:
    d = to_decimal(value, field)
    q, r = divmod(d, step)
    if r != 0:
        raise invalid(field, f"a multiple of {step_name} {step}", value)
    return int(q)


def decimal_to_ticks(price: DecimalLike, tick_size: Decimal, field: str = "price") -> int:
    """Price → integer ticks; exact or an error (never rounds). Cost: O(digits).

    >>> decimal_to_ticks("50000.1", Decimal("0.1"))
    500001
    >>> decimal_to_ticks("50000.15", Decimal("0.1"))
    Traceback (most recent call last):
    ...
    exchange.errors.InvalidCommandError: 'price' must be a multiple of tick_size 0.1 (got '50000.15')
    """
    return _on_grid(price, tick_size, field, "tick_size")


def ticks_to_decimal(ticks: int, tick_size: Decimal) -> Decimal:
    """Integer ticks → price, exactly. Cost: O(digits).

    >>> ticks_to_decimal(500001, Decimal("0.1"))
    Decimal('50000.1')
    """
    return ticks * tick_size


def decimal_to_lots(qty: DecimalLike, lot_size: Decimal, field: str = "qty") -> int:
    """Quantity (base asset) → integer lots; exact or an error. Cost: O(digits).

    >>> decimal_to_lots("0.02", Decimal("0.001"))
    20
    >>> decimal_to_lots("0.0205", Decimal("0.001"))
    Traceback (most recent call last):
    ...
    exchange.errors.InvalidCommandError: 'qty' must be a multiple of lot_size 0.001 (got '0.0205')
    """
    return _on_grid(qty, lot_size, field, "lot_size")


def lots_to_decimal(lots: int, lot_size: Decimal) -> Decimal:
    """Integer lots → quantity, exactly. Cost: O(digits).

    >>> lots_to_decimal(20, Decimal("0.001"))
    Decimal('0.020')
    """
    return lots * lot_size


def decimal_to_atoms(amount: DecimalLike, settle_decimals: int = 6,
                     field: str = "amount") -> int:
    """Money in settlement-asset units → integer atoms; exact or an error. Cost: O(digits).

    >>> decimal_to_atoms("1535443.01")
    1535443010000
    >>> decimal_to_atoms("-0.000001")
    -1
    >>> decimal_to_atoms("0.0000001")
    Traceback (most recent call last):
    ...
    exchange.errors.InvalidCommandError: 'amount' must be a whole number of atoms (10^-6) (got '0.0000001')
    """
    d = to_decimal(amount, field).scaleb(settle_decimals)
    if d != d.to_integral_value():
        raise invalid(field, f"a whole number of atoms (10^-{settle_decimals})", amount)
    return int(d)


def atoms_to_decimal(atoms: int, settle_decimals: int = 6) -> Decimal:
    """Integer atoms → money with exactly ``settle_decimals`` decimals. Cost: O(digits).

    >>> atoms_to_decimal(1535443010000), atoms_to_decimal(-1)
    (Decimal('1535443.010000'), Decimal('-0.000001'))
    """
    return Decimal(atoms).scaleb(-settle_decimals)


def decimal_to_rate(value: DecimalLike, field: str = "rate") -> int:
    """A rate written as a fraction (``"0.0005"`` = 0.05 %) → parts per :data:`RATE_SCALE`.

    Exact or an error: a rate finer than 10⁻⁸ is refused. Cost: O(digits).

    >>> decimal_to_rate("0.0005"), decimal_to_rate("0.004"), decimal_to_rate("-0.00011")
    (50000, 400000, -11000)
    >>> decimal_to_rate("0.000000001")
    Traceback (most recent call last):
    ...
    exchange.errors.InvalidCommandError: 'rate' must be a fraction with at most 8 decimals (parts per 1e8) (got '0.000000001')
    """  # noqa: E501
    d = to_decimal(value, field).scaleb(RATE_DECIMALS)
    if d != d.to_integral_value():
        raise invalid(field, f"a fraction with at most {RATE_DECIMALS} decimals (parts per 1e8)",
                      value)
    return int(d)


def rate_to_decimal(rate: int) -> Decimal:
    """Parts per :data:`RATE_SCALE` → the fraction as a Decimal, exactly. Cost: O(1).

    >>> rate_to_decimal(50_000), rate_to_decimal(100_000_000)
    (Decimal('0.0005'), Decimal('1'))
    """
    return (Decimal(rate).scaleb(-RATE_DECIMALS)).normalize() if rate else Decimal(0)


def atoms_per_tick_lot(tick_size: DecimalLike, lot_size: DecimalLike,
                       settle_decimals: int = 6) -> int:
    """``tick_size × lot_size × 10**settle_decimals``; must be an exact positive integer.

    It is the value in atoms of one lot moving one tick. Cost: O(digits).

    >>> atoms_per_tick_lot("0.1", "0.001")      # Binance BTCUSDT
    100
    >>> atoms_per_tick_lot("0.01", "0.0000001")
    Traceback (most recent call last):
    ...
    exchange.errors.InvalidCommandError: 'tick_size * lot_size' must be a whole number of atoms (10^-6), > 0 (got Decimal('1E-9'))
    """  # noqa: E501
    product = to_decimal(tick_size, "tick_size") * to_decimal(lot_size, "lot_size")
    scaled = product.scaleb(settle_decimals)
    if scaled <= 0 or scaled != scaled.to_integral_value():
        raise invalid("tick_size * lot_size",
                      f"a whole number of atoms (10^-{settle_decimals}), > 0", product)
    return int(scaled)


# -- DISPLAY ----------------------------------------------------------------------------------

def format_atoms(atoms: int, settle_decimals: int = 6, asset: str | None = None, *,
                 grouping: bool = True) -> str:
    """Human display of money: thousands separators, all ``settle_decimals`` decimals.

    Cost: O(digits).

    >>> format_atoms(1535443010000)
    '1,535,443.010000'
    >>> format_atoms(-1, asset="USDT")
    '-0.000001 USDT'
    >>> format_atoms(25_100_400_000, 6, grouping=False)
    '25100.400000'
    """
    sign = "-" if atoms < 0 else ""
    whole, frac = divmod(abs(atoms), 10**settle_decimals)
    text = f"{whole:,}" if grouping else str(whole)
    if settle_decimals:
        text += "." + str(frac).rjust(settle_decimals, "0")
    return f"{sign}{text} {asset}" if asset else f"{sign}{text}"


def format_rate(rate: int) -> str:
    """A rate as a percentage for display. Cost: O(1).

    >>> format_rate(400_000), format_rate(-11_000), format_rate(100_000_000)
    ('0.4%', '-0.011%', '100%')
    """
    pct = (Decimal(rate).scaleb(-RATE_DECIMALS + 2)).normalize()
    return f"{pct:f}%"
