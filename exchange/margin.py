"""Margin arithmetic: pure functions on Python ints, no venue state.

Units: money in atoms, prices in ticks, sizes in lots (signed: + long, − short), rates in parts
per :data:`~exchange.units.RATE_SCALE`; ``a`` below is ``atoms_per_tick_lot``. A position is
described by its signed size ``q`` (lots) and its signed **entry cost** ``q·E·a`` (atoms: the
sum of its signed fill notionals, positive for a long), which keeps an average entry price that
is not on the tick grid exact.

Reference §3 (notation ``q, E, M, s = sign(q), N = |q|·M``)::

    uPnL        = q·(M − E)                         = q·M·a − entry_cost
    IM          = ceil(N / leverage)
    MM          = ceil(N·MMR / 1e8) − cum_tier      (Binance, Hyperliquid; N at the mark)
    MM (Bybit)  = ceil(N_entry·MMR / 1e8) − cum     (N_entry = |q|·E, the entry value)
    margin ratio (Binance) = MM / (wallet + uPnL)   liquidation at >= 100 %

Liquidation and bankruptcy prices are solved exactly with :class:`fractions.Fraction` and then
rounded to a tick **toward the side that liquidates earlier**: up (ceil) for a long, down
(floor) for a short. A price path coming from the entry side reaches the returned tick no
later than the exact root, so the returned price is a conservative warning level, and a
closing order limited at the returned bankruptcy price can never leave a deficit. The
``*_exact`` variants return the unrounded root in ticks (a Fraction).

The ``*_ticks`` functions take integers. The wrappers at the end (:func:`liquidation_price`,
:func:`bankruptcy_price`, :func:`hyperliquid_liquidation_price`) take an
:class:`~exchange.instruments.InstrumentSpec` and Decimal/str values in human units, so a
worked example can be typed as published; they convert exactly (off-grid input is an error).
"""
from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from decimal import Decimal
from fractions import Fraction
from typing import TYPE_CHECKING

from exchange.errors import invalid
from exchange.instruments import MarginTier
from exchange.units import RATE_SCALE, DecimalLike, div_ceil, mul_rate_ceil

if TYPE_CHECKING:  # pragma: no cover
    from exchange.instruments import InstrumentSpec

__all__ = [
    "MARGIN_RATIO_INFINITE",
    "bankruptcy_price",
    "bankruptcy_price_exact",
    "bankruptcy_price_ticks",
    "binance_liquidation_price_exact",
    "binance_liquidation_price_ticks",
    "entry_basis_liquidation_price_exact",
    "entry_basis_liquidation_price_ticks",
    "entry_cost_atoms",
    "hyperliquid_liquidation_price",
    "hyperliquid_liquidation_price_exact",
    "hyperliquid_liquidation_price_ticks",
    "initial_margin_atoms",
    "liquidation_price",
    "liquidation_price_ticks",
    "maintenance_margin_atoms",
    "margin_ratio_rate",
    "max_position_lots",
    "notional_cap_for_leverage",
    "position_notional_atoms",
    "round_toward_entry",
    "unrealized_pnl_atoms",
]

#: :func:`margin_ratio_rate` when equity <= 0 ("infinite"); the int64 maximum.
MARGIN_RATIO_INFINITE = 2**63 - 1


def _check_size(size_lots: int) -> None:
    if type(size_lots) is not int or size_lots == 0:
        raise invalid("size_lots", "a non-zero int (+ long, - short)", size_lots)


# -- POSITION VALUES ----------------------------------------------------------------------------

def entry_cost_atoms(size_lots: int, entry_ticks: int, atoms_per_tick_lot: int) -> int:
    """Signed entry cost ``q·E·a`` of a position opened at one price. O(1).

    >>> entry_cost_atoms(20, 500_000, 100), entry_cost_atoms(-20, 500_000, 100)
    (1000000000, -1000000000)
    """
    return size_lots * entry_ticks * atoms_per_tick_lot


def position_notional_atoms(size_lots: int, price_ticks: int, atoms_per_tick_lot: int) -> int:
    """``N = |q|·price·a`` (≥ 0). O(1).

    >>> position_notional_atoms(-20, 500_000, 100)
    1000000000
    """
    return abs(size_lots) * price_ticks * atoms_per_tick_lot


def unrealized_pnl_atoms(size_lots: int, entry_cost_atoms: int, mark_ticks: int,
                         atoms_per_tick_lot: int) -> int:
    """``q·(M − E)`` in atoms, exactly: ``q·M·a − entry_cost``. O(1).

    >>> unrealized_pnl_atoms(20, 1_000_000_000, 450_000, 100)     # long 0.02 BTC 50k -> 45k
    -100000000
    >>> unrealized_pnl_atoms(-20, -1_000_000_000, 450_000, 100)   # the short gains 100 USDT
    100000000
    """
    return size_lots * mark_ticks * atoms_per_tick_lot - entry_cost_atoms


# -- REQUIREMENTS -------------------------------------------------------------------------------

def initial_margin_atoms(notional_atoms: int, leverage: int) -> int:
    """``ceil(N / leverage)`` (rounded up: venue's favour). O(1).

    >>> initial_margin_atoms(1_000_000_001, 20)
    50000001
    """
    if type(leverage) is not int or leverage < 1:
        raise invalid("leverage", "an int >= 1", leverage)
    return div_ceil(notional_atoms, leverage)


def maintenance_margin_atoms(notional_atoms: int, tiers: Sequence[MarginTier]) -> int:
    """``ceil(N·MMR/1e8) − cum`` of the tier of ``N`` in ``tiers``. O(T) for T tiers (use
    :meth:`InstrumentSpec.maintenance_margin_atoms <exchange.instruments.InstrumentSpec.\
maintenance_margin_atoms>` for O(log T) with precomputed floors).

    >>> from exchange.instruments import make_tiers
    >>> tiers = make_tiers([(0, 400_000, 125), (50_000 * 10**6, 500_000, 100)])
    >>> maintenance_margin_atoms(100_000 * 10**6, tiers) // 10**6     # 500 − 50
    450
    """
    tier = tiers[bisect_right([t.notional_floor_atoms for t in tiers], notional_atoms) - 1]
    return mul_rate_ceil(notional_atoms, tier.mmr) - tier.maintenance_amount_atoms


def margin_ratio_rate(maintenance_atoms: int, equity_atoms: int) -> int:
    """Binance margin ratio ``MM / (wallet + uPnL)`` in parts per 1e8, rounded up.

    Returns :data:`MARGIN_RATIO_INFINITE` when equity ≤ 0. Binance liquidates at a ratio of
    100 % (``RATE_SCALE``) or more. O(1).

    >>> margin_ratio_rate(4_000_000, 400_000_000)          # 4 / 400 = 1 %
    1000000
    >>> margin_ratio_rate(1, 3)                            # 33.33…% rounded up
    33333334
    >>> margin_ratio_rate(4_000_000, 0) == MARGIN_RATIO_INFINITE
    True
    """
    if equity_atoms <= 0:
        return MARGIN_RATIO_INFINITE
    return div_ceil(maintenance_atoms * RATE_SCALE, equity_atoms)


# -- LIQUIDATION AND BANKRUPTCY PRICES ----------------------------------------------------------

def round_toward_entry(price_ticks: Fraction, size_lots: int) -> int:
    """Round an exact trigger price to a tick on the entry side: ceil for a long, floor for a
    short (the side that liquidates earlier). O(1).

    >>> round_toward_entry(Fraction(201, 2), 5), round_toward_entry(Fraction(201, 2), -5)
    (101, 100)
    """
    if size_lots > 0:
        return -((-price_ticks.numerator) // price_ticks.denominator)
    return price_ticks.numerator // price_ticks.denominator


def _binance_candidate(c_atoms: int, size_lots: int, a: int, tier: MarginTier) -> Fraction:
    # Root of  C + q·p·a = |q|·p·a·MMR/S − cum   (S = RATE_SCALE):
    #   p = S·(C + cum) / (a·(|q|·MMR − q·S))   — the FAQ formula with C = WB − TMM1 + UPNL1 − q·E.
    return Fraction(RATE_SCALE * (c_atoms + tier.maintenance_amount_atoms),
                    a * (abs(size_lots) * tier.mmr - size_lots * RATE_SCALE))


def binance_liquidation_price_exact(*, wallet_atoms: int, size_lots: int, entry_cost_atoms: int,
                                    tiers: Sequence[MarginTier], atoms_per_tick_lot: int,
                                    other_maintenance_atoms: int = 0,
                                    other_upnl_atoms: int = 0) -> Fraction | None:
    """Exact Binance one-way liquidation price, in ticks (a Fraction), or None.

    ``LP = (WB − TMM1 + UPNL1 + cumB − s·|q|·E) / (|q|·MMR − s·|q|)`` (Binance FAQ
    b3c689c1f50a44cabb3a84e663b81d93), with the MMR and cum of the tier that contains the
    notional ``|q|·LP`` itself: the solver starts from the tier of the entry notional and moves
    to the tier its candidate falls in until the candidate is consistent (at most T steps; a
    full scan backs it up). Equity minus maintenance margin is continuous and monotone in the
    price, so the consistent root is unique.

    Cross margin: ``wallet_atoms`` is the cross wallet balance, ``other_*`` the maintenance
    margin and uPnL of the account's other cross positions (held at their current marks).
    Isolated: ``wallet_atoms`` is the position's isolated wallet and ``other_*`` are 0.

    Returns None when no positive price reaches the boundary: a long that cannot be
    liquidated (e.g. 1x with enough margin; Binance displays "--"), or a short whose account is
    already below maintenance at every price. Cost: O(T) Fraction operations.

    >>> from exchange.instruments import make_tiers
    >>> tiers = make_tiers([(0, 400_000, 125), (50_000 * 10**6, 500_000, 100)])
    >>> lp = binance_liquidation_price_exact(wallet_atoms=500 * 10**6, size_lots=20,
    ...     entry_cost_atoms=1_000 * 10**6, tiers=tiers, atoms_per_tick_lot=100)
    >>> round(float(lp / 10), 2)     # ticks of 0.1 USDT -> USDT (Binance FAQ example)
    25100.4
    """
    _check_size(size_lots)
    c_atoms = wallet_atoms - other_maintenance_atoms + other_upnl_atoms - entry_cost_atoms
    # f(p) = equity − MM is monotone with f(0) = C: a root in (0, ∞) exists iff C has the sign
    # opposite to the position (long: C < 0, short: C > 0).
    if (size_lots > 0 and c_atoms >= 0) or (size_lots < 0 and c_atoms <= 0):
        return None
    floors = [t.notional_floor_atoms for t in tiers]
    qa = abs(size_lots) * atoms_per_tick_lot

    def tier_of(price: Fraction) -> int:
        if price <= 0:
            return 0
        return bisect_right(floors, price * qa) - 1

    i = tier_of(Fraction(abs(entry_cost_atoms), qa))
    seen: set[int] = set()
    while i not in seen:
        seen.add(i)
        lp = _binance_candidate(c_atoms, size_lots, atoms_per_tick_lot, tiers[i])
        j = tier_of(lp)
        if j == i and lp > 0:
            return lp
        i = j
    for i, tier in enumerate(tiers):  # pragma: no cover - the walk above always converges
        lp = _binance_candidate(c_atoms, size_lots, atoms_per_tick_lot, tier)
        if lp > 0 and tier_of(lp) == i:
            return lp
    raise AssertionError("no consistent tier for the liquidation price")  # pragma: no cover


def binance_liquidation_price_ticks(*, wallet_atoms: int, size_lots: int, entry_cost_atoms: int,
                                    tiers: Sequence[MarginTier], atoms_per_tick_lot: int,
                                    other_maintenance_atoms: int = 0,
                                    other_upnl_atoms: int = 0) -> int | None:
    """:func:`binance_liquidation_price_exact` rounded toward entry (long ceil, short floor).

    May return 0 for a short whose exact root is below one tick. Cost: O(T).

    >>> from exchange.instruments import make_tiers
    >>> tiers = make_tiers([(0, 400_000, 125)])
    >>> binance_liquidation_price_ticks(wallet_atoms=500 * 10**6, size_lots=20,
    ...     entry_cost_atoms=1_000 * 10**6, tiers=tiers, atoms_per_tick_lot=100)
    251005
    """
    lp = binance_liquidation_price_exact(
        wallet_atoms=wallet_atoms, size_lots=size_lots, entry_cost_atoms=entry_cost_atoms,
        tiers=tiers, atoms_per_tick_lot=atoms_per_tick_lot,
        other_maintenance_atoms=other_maintenance_atoms, other_upnl_atoms=other_upnl_atoms)
    return None if lp is None else round_toward_entry(lp, size_lots)


def entry_basis_liquidation_price_exact(*, wallet_atoms: int, size_lots: int,
                                        entry_cost_atoms: int, tiers: Sequence[MarginTier],
                                        atoms_per_tick_lot: int,
                                        other_maintenance_atoms: int = 0,
                                        other_upnl_atoms: int = 0) -> Fraction | None:
    """Exact liquidation price, in ticks, when maintenance margin is on the **entry value**
    (Bybit), or None.

    MM does not move with the price: ``MM_e = ceil(|cost|·MMR/1e8) − cum`` of the tier of the
    entry value, so the root of ``C + q·p·a = MM_e`` (``C = wallet − other MM + other uPnL −
    cost``) is ``p = (MM_e − C) / (q·a)``. Isolated (``other_* = 0``) this is Bybit's
    ``LP (long) = Entry Price − (Initial Margin − Maintenance Margin)/Position Size − Extra
    Margin Added/Position Size`` and ``LP (short) = Entry + (IM − MM)/size + extra/size``
    (Bybit help centre, "Liquidation Price (USDT Contract)",
    https://testnet.bybit.com/en-US/help-center/s/article/Liquidation-Price-USDT-Contract, read
    2026-12-02; ``wallet`` = IM + extra margin). Bybit's estimated closing fee is not included.
    None when no positive price reaches the boundary. Cost: O(log T).

    >>> from exchange.instruments import make_tiers
    >>> tiers = make_tiers([(0, 500_000, 100)])        # Bybit Example 1: 1 BTC at 20,000, 50x
    >>> lp = entry_basis_liquidation_price_exact(wallet_atoms=400 * 10**6, size_lots=1_000,
    ...     entry_cost_atoms=20_000 * 10**6, tiers=tiers, atoms_per_tick_lot=100)
    >>> lp / 10                                        # ticks of 0.1 USDT -> USDT
    Fraction(19700, 1)
    """
    _check_size(size_lots)
    floors = [t.notional_floor_atoms for t in tiers]
    tier = tiers[bisect_right(floors, abs(entry_cost_atoms)) - 1]
    mm = mul_rate_ceil(abs(entry_cost_atoms), tier.mmr) - tier.maintenance_amount_atoms
    c_atoms = wallet_atoms - other_maintenance_atoms + other_upnl_atoms - entry_cost_atoms
    lp = Fraction(mm - c_atoms, size_lots * atoms_per_tick_lot)
    return lp if lp > 0 else None


def entry_basis_liquidation_price_ticks(*, wallet_atoms: int, size_lots: int,
                                        entry_cost_atoms: int, tiers: Sequence[MarginTier],
                                        atoms_per_tick_lot: int,
                                        other_maintenance_atoms: int = 0,
                                        other_upnl_atoms: int = 0) -> int | None:
    """:func:`entry_basis_liquidation_price_exact` rounded toward entry (long ceil, short
    floor). Cost: O(log T).

    >>> from exchange.instruments import make_tiers
    >>> entry_basis_liquidation_price_ticks(wallet_atoms=400 * 10**6, size_lots=1_000,
    ...     entry_cost_atoms=20_000 * 10**6, tiers=make_tiers([(0, 500_000, 100)]),
    ...     atoms_per_tick_lot=100)
    197000
    """
    lp = entry_basis_liquidation_price_exact(
        wallet_atoms=wallet_atoms, size_lots=size_lots, entry_cost_atoms=entry_cost_atoms,
        tiers=tiers, atoms_per_tick_lot=atoms_per_tick_lot,
        other_maintenance_atoms=other_maintenance_atoms, other_upnl_atoms=other_upnl_atoms)
    return None if lp is None else round_toward_entry(lp, size_lots)


def bankruptcy_price_exact(*, size_lots: int, entry_cost_atoms: int, margin_atoms: int,
                           atoms_per_tick_lot: int) -> Fraction | None:
    """Exact zero-equity price ``BP = E − s·margin/|q|`` in ticks, or None if not positive.

    ``margin_atoms`` is what backs the position: its isolated margin, or for cross margin the
    account equity without this position's uPnL (``WB − TMM1 + UPNL1`` minus whatever other
    requirement the venue keeps back). None for a long that cannot go bankrupt
    (margin ≥ entry cost). Cost: O(1).

    >>> float(bankruptcy_price_exact(size_lots=20, entry_cost_atoms=1_000 * 10**6,
    ...       margin_atoms=50 * 10**6, atoms_per_tick_lot=100)) / 10       # 20x long at 50k
    47500.0
    """
    _check_size(size_lots)
    bp = Fraction(entry_cost_atoms - margin_atoms, size_lots * atoms_per_tick_lot)
    return bp if bp > 0 else None


def bankruptcy_price_ticks(*, size_lots: int, entry_cost_atoms: int, margin_atoms: int,
                           atoms_per_tick_lot: int) -> int | None:
    """:func:`bankruptcy_price_exact` rounded toward entry (long ceil, short floor): a close
    at the returned tick or better never leaves a deficit. Cost: O(1).

    >>> bankruptcy_price_ticks(size_lots=-3, entry_cost_atoms=-1_000_000, margin_atoms=100_000,
    ...                        atoms_per_tick_lot=1_000)
    366
    """
    bp = bankruptcy_price_exact(size_lots=size_lots, entry_cost_atoms=entry_cost_atoms,
                                margin_atoms=margin_atoms, atoms_per_tick_lot=atoms_per_tick_lot)
    return None if bp is None else round_toward_entry(bp, size_lots)


def hyperliquid_liquidation_price_exact(*, size_lots: int, mark_ticks: int,
                                        margin_available_atoms: int, mmr: int,
                                        atoms_per_tick_lot: int) -> Fraction | None:
    """Hyperliquid's liquidation price ``LP = M − s·margin_available / |q| / (1 − l·s)``.

    ``l`` is the maintenance margin rate (``mmr``, parts per 1e8; HL: half the initial margin
    rate at max leverage) and ``margin_available = account_value − MM`` for cross, or
    ``isolated_margin + uPnL − MM`` for isolated, both at the current mark ``M`` (reference
    §3, community mirror of the HL docs [3P]). When MM includes the tier deduction
    (``N·l − cum``) this is algebraically the Binance formula for the same tier. Returns None
    if the root is not positive. Cost: O(1).

    >>> lp = hyperliquid_liquidation_price_exact(size_lots=100_000, mark_ticks=100_000,
    ...     margin_available_atoms=8_750 * 10**6, mmr=1_250_000, atoms_per_tick_lot=10)
    >>> float(lp)        # long 1 BTC (lot 1e-5, tick 1), 10x isolated at 100,000, MMR 1.25 %
    91139.24050632911
    """
    _check_size(size_lots)
    if type(mmr) is not int or not 0 <= mmr < RATE_SCALE:
        raise invalid("mmr", f"an int in [0, {RATE_SCALE})", mmr)
    s = 1 if size_lots > 0 else -1
    shift = Fraction(margin_available_atoms * RATE_SCALE,
                     abs(size_lots) * atoms_per_tick_lot * (RATE_SCALE - s * mmr))
    lp = mark_ticks - s * shift
    return lp if lp > 0 else None


def hyperliquid_liquidation_price_ticks(*, size_lots: int, mark_ticks: int,
                                        margin_available_atoms: int, mmr: int,
                                        atoms_per_tick_lot: int) -> int | None:
    """:func:`hyperliquid_liquidation_price_exact` rounded toward entry. Cost: O(1).

    >>> hyperliquid_liquidation_price_ticks(size_lots=100_000, mark_ticks=100_000,
    ...     margin_available_atoms=8_750 * 10**6, mmr=1_250_000, atoms_per_tick_lot=10)
    91140
    """
    lp = hyperliquid_liquidation_price_exact(
        size_lots=size_lots, mark_ticks=mark_ticks, margin_available_atoms=margin_available_atoms,
        mmr=mmr, atoms_per_tick_lot=atoms_per_tick_lot)
    return None if lp is None else round_toward_entry(lp, size_lots)


# -- POSITION LIMITS ----------------------------------------------------------------------------

def notional_cap_for_leverage(tiers: Sequence[MarginTier], leverage: int,
                              max_position_notional_atoms: int | None = None) -> int | None:
    """Exclusive notional cap of a position held at ``leverage``: positions must keep
    ``N < cap``. None = unlimited.

    The cap is the upper bound of the last tier whose ``max_leverage >= leverage`` (the next
    tier's floor, or ``max_position_notional_atoms`` after the last tier); 0 if even the first
    tier allows less than ``leverage``. Cost: O(T).

    >>> from exchange.instruments import make_tiers
    >>> usdt = 10**6
    >>> tiers = make_tiers([(0, 400_000, 125), (50_000 * usdt, 500_000, 100),
    ...                     (250_000 * usdt, 1_000_000, 50)])
    >>> [notional_cap_for_leverage(tiers, lev, 1_000_000 * usdt) // usdt for lev in (125, 100, 20)]
    [50000, 250000, 1000000]
    """
    if type(leverage) is not int or leverage < 1:
        raise invalid("leverage", "an int >= 1", leverage)
    last = -1
    for i, tier in enumerate(tiers):
        if tier.max_leverage >= leverage:
            last = i
    if last < 0:
        return 0
    if last + 1 < len(tiers):
        return tiers[last + 1].notional_floor_atoms
    return max_position_notional_atoms


def max_position_lots(*, price_ticks: int, leverage: int, tiers: Sequence[MarginTier],
                      atoms_per_tick_lot: int,
                      max_position_notional_atoms: int | None = None) -> int | None:
    """Largest |size| in lots whose notional at ``price_ticks`` stays below the cap of
    :func:`notional_cap_for_leverage` (None = unlimited). Cost: O(T).

    >>> from exchange.instruments import make_tiers
    >>> tiers = make_tiers([(0, 400_000, 125), (50_000 * 10**6, 500_000, 100)])
    >>> max_position_lots(price_ticks=500_000, leverage=125, tiers=tiers, atoms_per_tick_lot=100)
    999
    """
    cap = notional_cap_for_leverage(tiers, leverage, max_position_notional_atoms)
    if cap is None:
        return None
    if cap <= 0:
        return 0
    return (cap - 1) // (price_ticks * atoms_per_tick_lot)


# -- HUMAN-UNIT WRAPPERS (worked examples) --------------------------------------------------------

def _ticks_to_price(spec: InstrumentSpec, ticks: int | None) -> Decimal | None:
    return None if ticks is None else spec.ticks_to_price(ticks)


def liquidation_price_ticks(spec: InstrumentSpec, *, wallet_atoms: int, size_lots: int,
                            entry_cost_atoms: int, other_maintenance_atoms: int = 0,
                            other_upnl_atoms: int = 0) -> int | None:
    """The liquidation price in ticks by ``spec``'s margin rules, or None: the root of
    equity = maintenance margin with MM on the mark (:func:`binance_liquidation_price_ticks`,
    ``maintenance_basis = "mark"``: Binance, BitMEX, Hyperliquid, dYdX, Drift) or on the entry
    value (:func:`entry_basis_liquidation_price_ticks`, ``"entry"``: Bybit), with ``spec``'s
    tiers and grid. The one dispatcher the human-unit wrapper and the server use. O(T).

    >>> from exchange.instruments import InstrumentSpec
    >>> spec = InstrumentSpec.example()
    >>> liquidation_price_ticks(spec, wallet_atoms=500 * 10**6, size_lots=spec.qty_to_lots("0.02"),
    ...     entry_cost_atoms=spec.qty_to_lots("0.02") * spec.price_to_ticks("50000")
    ...     * spec.atoms_per_tick_lot)
    251005
    """
    solve = (entry_basis_liquidation_price_ticks
             if getattr(spec, "maintenance_basis", "mark") == "entry"
             else binance_liquidation_price_ticks)
    return solve(wallet_atoms=wallet_atoms, size_lots=size_lots, entry_cost_atoms=entry_cost_atoms,
                 tiers=spec.tiers, atoms_per_tick_lot=spec.atoms_per_tick_lot,
                 other_maintenance_atoms=other_maintenance_atoms, other_upnl_atoms=other_upnl_atoms)


def liquidation_price(spec: InstrumentSpec, *, wallet: DecimalLike, size: DecimalLike,
                      entry_price: DecimalLike, other_maintenance: DecimalLike = 0,
                      other_upnl: DecimalLike = 0) -> Decimal | None:
    """The liquidation price in human units, with ``spec``'s grid, tiers and maintenance basis:
    :func:`binance_liquidation_price_ticks` for ``maintenance_basis = "mark"``,
    :func:`entry_basis_liquidation_price_ticks` for ``"entry"`` (Bybit).

    ``size`` is signed (negative = short); ``entry_price`` must be on the tick grid, money on
    the atom grid. Returns the price rounded to a tick toward entry, or None. Cost: O(T).

    >>> from exchange.instruments import InstrumentSpec
    >>> liquidation_price(InstrumentSpec.example(), wallet="500", size="0.02",
    ...                   entry_price="50000")
    Decimal('25100.5')
    """
    size_lots = spec.qty_to_lots(size)
    ticks = liquidation_price_ticks(
        spec, wallet_atoms=spec.amount_to_atoms(wallet), size_lots=size_lots,
        entry_cost_atoms=size_lots * spec.price_to_ticks(entry_price) * spec.atoms_per_tick_lot,
        other_maintenance_atoms=spec.amount_to_atoms(other_maintenance),
        other_upnl_atoms=spec.amount_to_atoms(other_upnl))
    return _ticks_to_price(spec, ticks)


def bankruptcy_price(spec: InstrumentSpec, *, size: DecimalLike, entry_price: DecimalLike,
                     margin: DecimalLike) -> Decimal | None:
    """:func:`bankruptcy_price_ticks` in human units. Cost: O(1).

    >>> from exchange.instruments import InstrumentSpec
    >>> bankruptcy_price(InstrumentSpec.example(), size="-0.02", entry_price="50000",
    ...                  margin="50")
    Decimal('52500.0')
    """
    size_lots = spec.qty_to_lots(size)
    ticks = bankruptcy_price_ticks(
        size_lots=size_lots,
        entry_cost_atoms=size_lots * spec.price_to_ticks(entry_price) * spec.atoms_per_tick_lot,
        margin_atoms=spec.amount_to_atoms(margin), atoms_per_tick_lot=spec.atoms_per_tick_lot)
    return _ticks_to_price(spec, ticks)


def hyperliquid_liquidation_price(spec: InstrumentSpec, *, size: DecimalLike,
                                  mark_price: DecimalLike, margin_available: DecimalLike,
                                  mmr: int | None = None) -> Decimal | None:
    """:func:`hyperliquid_liquidation_price_ticks` in human units. ``mmr`` defaults to the MMR
    of ``spec``'s tier at the current notional ``|size|·mark``. Cost: O(log T).

    >>> from exchange.instruments import InstrumentSpec
    >>> hyperliquid_liquidation_price(InstrumentSpec.example(), size="0.02",
    ...                               mark_price="50000", margin_available="46")
    Decimal('47690.8')
    """
    size_lots = spec.qty_to_lots(size)
    mark_ticks = spec.price_to_ticks(mark_price)
    if mmr is None:
        mmr = spec.tier_for(spec.notional_atoms(mark_ticks, size_lots)).mmr
    ticks = hyperliquid_liquidation_price_ticks(
        size_lots=size_lots, mark_ticks=mark_ticks,
        margin_available_atoms=spec.amount_to_atoms(margin_available), mmr=mmr,
        atoms_per_tick_lot=spec.atoms_per_tick_lot)
    return _ticks_to_price(spec, ticks)
