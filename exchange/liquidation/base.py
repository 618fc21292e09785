"""The waterfall's extension point: the :class:`LiquidationModule` protocol and its registry.

A venue's default management is an ordered tuple of modules (DESIGN.md "Liquidation
waterfall"). At each step the engine hands every module, in order, the cases still needing
work; a module acts on them through the
:class:`~exchange.liquidation.context.LiquidationContext` and returns an
:class:`~exchange.liquidation.cases.Outcome` saying, per case, what it closed, at what price,
the deficit left and whether the case goes on down the waterfall, waits, or is over.

Modules are named in configs: :data:`MODULES` maps the names of
:data:`exchange.presets.WATERFALL_MODULES` to classes, and a ``"package.module:Class"`` path
names any other class that satisfies the protocol. :func:`build_waterfall` turns names and
per-module parameter mappings (from a preset, a scenario or code) into module instances;
:func:`waterfall_from_preset` reads a :class:`~exchange.presets.VenuePreset`.
"""
from __future__ import annotations

import re
from typing import Any, Protocol, runtime_checkable
from collections.abc import Mapping, Sequence

import numpy as np

from exchange.errors import ConfigError, invalid
from exchange.liquidation.cases import Cases, Outcome

__all__ = ["LiquidationModule", "MODULES", "register_module", "resolve_module", "build_module",
           "build_waterfall", "waterfall_from_preset", "module_params_from_preset",
           "fund_takes_over", "MODULE_DEFAULTS"]

#: what a module takes when the preset leaves its setting unset: module → (``[liquidation]``
#: field, its unset value, the default). The policies are the common ones; a backstop with no
#: trigger rate takes over whatever reaches it. Read by :func:`module_params_from_preset` and by
#: the scenario loader (a ``--waterfall`` naming a module the preset does not use).
MODULE_DEFAULTS: dict[str, tuple[str, Any, str]] = {
    "socialized": ("socialized_policy", "none", "profit_pro_rata"),
    "adl": ("adl_policy", "none", "binance"),
    "backstop": ("backstop_trigger_rate", 0, "1"),
}

_IMPORT_PATH = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")


@runtime_checkable
class LiquidationModule(Protocol):
    """One stage of the liquidation waterfall.

    ``process(ctx, cases, rows)`` gets the batch of cases and the rows (int64 indices) that
    reached this module — a distressed position, or what an earlier module left of it: an
    unfilled remainder, a deficit, a surplus. It may close positions, move money and record
    events through ``ctx``, and returns an :class:`Outcome` for exactly those rows. Rows it
    does not touch it reports with state ``CONTINUE`` and nothing closed. A module keeps
    state across steps only about cases it is waiting on (an auction, a cooldown).

    Cost: modules work on the whole batch with vectorised numpy and the core's batch
    commands; per-row Python loops are reserved for inherently sequential rules (a vault's
    margin, an auction's bids).

    Optional hook: ``on_cases_done(ctx, case_ids)`` is called when the engine finishes cases
    (whatever module ended them), so a module can drop the state it keeps about them.
    """

    name: str

    def process(self, ctx, cases: Cases, rows: np.ndarray) -> Outcome: ...


#: config name -> module class (filled by :mod:`exchange.liquidation` on import)
MODULES: dict[str, type] = {}


def register_module(name: str, cls: type) -> None:
    """Make ``cls`` buildable by ``name``."""
    if not isinstance(name, str) or not name:
        raise invalid("name", "a non-empty string", name, error=ConfigError)
    code = getattr(cls, "code", None)
    if code is not None:       # its number in the journal's module codes
        from exchange.liquidation.events import MODULE_CODES

        taken = {c: n for n, c in MODULE_CODES.items() if n != name}
        if code in taken:
            raise invalid(f"{name}.code", f"a module code not used by {taken[code]!r}", code,
                          error=ConfigError)
        MODULE_CODES[name] = int(code)
    MODULES[name] = cls


def resolve_module(name: str) -> type:
    """The class for a registered name or a ``"package.module:Class"`` path.

    >>> resolve_module("adl").__name__
    'AdlModule'
    >>> resolve_module("exchange.liquidation.insurance:InsuranceModule").name
    'insurance'
    >>> resolve_module("mystery")
    Traceback (most recent call last):
    ...
    exchange.errors.ConfigError: 'waterfall module' must be one of 'adl', 'auction', 'backstop', 'insurance', 'market', 'socialized' or a 'package.module:Class' path (got 'mystery')
    """  # noqa: E501
    if name in MODULES:
        return MODULES[name]
    if isinstance(name, str) and _IMPORT_PATH.match(name):
        from exchange.resolve import ResolveError, resolve

        try:
            return resolve(name, what="'waterfall module'")
        except ResolveError as exc:
            raise invalid("waterfall module", "an importable 'package.module:Class' path", name,
                          error=ConfigError) from exc
    rule = "one of " + ", ".join(repr(n) for n in sorted(MODULES)) + " or a 'package.module:Class' path"
    raise invalid("waterfall module", rule, name, error=ConfigError)


def build_module(spec: Any, params: Mapping[str, Any] | None = None) -> LiquidationModule:
    """A module instance from a name / import path (built with ``params``), or an instance
    that already satisfies the protocol (returned as is)."""
    if not isinstance(spec, str):
        if isinstance(spec, LiquidationModule):
            return spec
        raise invalid("waterfall module", "a name, an import path or a LiquidationModule", spec,
                      error=ConfigError)
    cls = resolve_module(spec)
    try:
        module = cls(**dict(params or {}))
    except TypeError as exc:
        raise ConfigError(f"waterfall module {spec!r}: bad parameters "
                          f"{sorted(dict(params or {}))}: {exc}") from exc
    if not isinstance(module, LiquidationModule):
        raise invalid("waterfall module", "a class with 'name' and 'process(ctx, cases, rows)'",
                      spec, error=ConfigError)
    return module


def build_waterfall(specs: Sequence[Any],
                    params: Mapping[str, Mapping[str, Any]] | None = None) -> tuple:
    """The ordered tuple of modules for ``specs`` (names, paths or instances); ``params``
    maps a module name (or path) to its keyword parameters. A name may carry options after a
    colon, ``name:value`` (the module's ``policy``) and ``name:key=value``, joined by ``:``;
    they update that module's ``params`` (the ``perpsim compare --waterfalls`` syntax).

    >>> wf = build_waterfall(["market", "insurance", "adl"], {"adl": {"policy": "pro_rata"}})
    >>> [m.name for m in wf], wf[2].policy
    (['market', 'insurance', 'adl'], 'pro_rata')
    >>> wf = build_waterfall(["market", "adl:leverage_drain:price=previous_mark"])
    >>> wf[1].policy, wf[1].price
    ('leverage_drain', 'previous_mark')
    """
    params = dict(params or {})
    if not specs:
        raise invalid("waterfall", "a non-empty sequence of modules", list(specs), error=ConfigError)
    out = []
    for spec in specs:
        key = spec if isinstance(spec, str) else getattr(spec, "name", None)
        extra: dict[str, Any] = {}
        if isinstance(spec, str):
            spec, extra = _split_options(spec)
            key = spec
        out.append(build_module(spec, {**dict(params.get(key, {})), **extra}))
    names = [m.name for m in out]
    if len(set(names)) != len(names):
        raise invalid("waterfall", "modules with distinct names", names, error=ConfigError)
    return tuple(out)


def _split_options(spec: str) -> tuple[str, dict[str, Any]]:
    """``"adl:pro_rata:price=previous_mark"`` → ``("adl", {"policy": "pro_rata", "price":
    "previous_mark"})``; a registered name before the colon marks options (otherwise the
    string is a ``package.module:Class`` path and stays whole)."""
    head, sep, rest = spec.partition(":")
    if not sep or head not in MODULES:
        return spec, {}
    opts: dict[str, Any] = {}
    for opt in rest.split(":"):
        key, eq, value = opt.partition("=")
        if not (key.strip() if eq else opt.strip()) or (eq and not value.strip()):
            raise invalid("waterfall module option", "written name:value or name:key=value",
                          spec, error=ConfigError)
        if eq:
            opts[key.strip()] = value.strip()
        else:
            opts["policy"] = key.strip()
    return head, opts


def fund_takes_over(preset) -> bool:
    """Does the preset's insurance fund take over what the book could not close? Yes for the
    venues whose liquidation order is limited at the bankruptcy price (Binance, Bybit,
    BitMEX: "closed at the bankruptcy price, the insurance fund takes over the position",
    see :mod:`exchange.liquidation.insurance`); no for dYdX v4 (deleveraging at the
    bankruptcy price), Drift (the fund pays only after the base is closed) and waterfalls
    without an ``insurance`` module."""
    liq = preset.liquidation
    return "insurance" in liq.waterfall and liq.close_price_limit == "bankruptcy"


def module_params_from_preset(preset, vault_acct: int | None = None,
                              fund_acct: int | None = None) -> dict[str, dict]:
    """Module parameters a :class:`~exchange.presets.VenuePreset` implies (``[liquidation]``
    and ``[margin.partial_liquidation]``), keyed by module name. The backstop needs the vault
    account (a normal account the caller opened and funded); the insurance fund's takeover
    (:func:`fund_takes_over`) trades from ``fund_acct`` if given, else from an account the
    module opens at its first takeover. O(1)."""
    liq = preset.liquidation
    part = preset.margin.partial_liquidation
    specs = list(preset.instruments.values())
    slip = [s.market_take_bound_rate for s in specs]
    market = dict(
        close_order=liq.close_order, close_price_limit=liq.close_price_limit,
        partial=part.mode, fraction_rate=part.fraction_rate,
        threshold_notional_atoms=part.threshold_notional_atoms, cooldown_ms=part.cooldown_ms,
        cooldown_full_size=part.cooldown_full_size, min_notional_atoms=part.min_notional_atoms,
        max_notional_per_step_atoms=part.max_notional_per_step_atoms, step_ms=part.step_ms,
        full_below_shortfall_atoms=part.full_below_shortfall_atoms,
        initial_fraction_rate=part.initial_fraction_rate, duration_ms=part.duration_ms,
        slippage_rate=tuple(slip),
        # Drift: the liquidator's discount is the instrument's liquidation fee
        liquidator_fee_rate=tuple(s.liquidation_fee_rate for s in specs))
    insurance = dict(surplus_to=liq.surplus_to,
                     max_loss_per_step_atoms=part.max_insurance_loss_per_step_atoms,
                     takeover=fund_takes_over(preset),
                     takeover_acct=fund_acct if fund_takes_over(preset) else None,
                     # dYdX v4 deleverages a negative-TNC account at its bankruptcy price
                     # without an IF payment; Drift's fund pays only once the base is closed
                     cover_open=liq.close_price_limit not in ("dydx_fillable", "oracle_fee"))
    backstop = dict(vault_acct=vault_acct, trigger_rate=liq.backstop_trigger_rate,
                    price="mark" if liq.surplus_to == "trader" else "bankruptcy",
                    take_margin=liq.surplus_to == "trader",
                    cover_deficit=liq.surplus_to == "trader")
    adl = dict(policy=liq.adl_policy if liq.adl_policy != "none" else MODULE_DEFAULTS["adl"][2],
               price=liq.adl_price, only_bankrupt=liq.adl_price != "bankruptcy")
    socialized = dict(policy=liq.socialized_policy if liq.socialized_policy != "none"
                      else MODULE_DEFAULTS["socialized"][2])
    if liq.socialized_policy == "position_pro_rata":
        # Drift's resolve_perp_bankruptcy: base closed, then IF → fee pool → every position
        # (see exchange.liquidation.socialized)
        socialized.update(close_remainder="counterparties", insurance_first=True,
                          fee_pool_first=True)
    return dict(market=market, insurance=insurance, backstop=backstop, adl=adl,
                socialized=socialized, auction={})


def waterfall_from_preset(preset, vault_acct: int | None = None,
                          overrides: Mapping[str, Mapping[str, Any]] | None = None,
                          fund_acct: int | None = None) -> tuple:
    """The preset's waterfall (``[liquidation].waterfall``) built with the parameters of
    :func:`module_params_from_preset`, each module's mapping updated by ``overrides``."""
    params = module_params_from_preset(preset, vault_acct, fund_acct)
    for name, extra in dict(overrides or {}).items():
        params.setdefault(name, {}).update(extra)
    if "backstop" in preset.liquidation.waterfall and params["backstop"].get("vault_acct") is None:
        raise invalid("vault_acct", "an account id when the waterfall has 'backstop'", None,
                      error=ConfigError)
    return build_waterfall(preset.liquidation.waterfall, params)
