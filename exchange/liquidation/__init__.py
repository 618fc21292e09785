"""The liquidation waterfall: detection, pluggable default-management modules, the engine.

DESIGN.md "Liquidation waterfall"; mechanics and sources in ``reference/venue-mechanics.md``
§3–4. Pieces:

- :class:`~exchange.liquidation.index.LiquidationIndex`: sorted liquidation prices per
  instrument and side, so a mark update finds the k positions that cross in O(log n + k);
  batched updates.
- :class:`~exchange.liquidation.base.LiquidationModule` (a ``typing.Protocol``) and the
  modules: :class:`~exchange.liquidation.market.MarketModule` (``"market"``),
  :class:`~exchange.liquidation.auction.AuctionModule` (``"auction"``),
  :class:`~exchange.liquidation.backstop.BackstopModule` (``"backstop"``),
  :class:`~exchange.liquidation.insurance.InsuranceModule` (``"insurance"``),
  :class:`~exchange.liquidation.socialized.SocializedModule` (``"socialized"``),
  :class:`~exchange.liquidation.adl.AdlModule` (``"adl"``); a venue's waterfall is an
  ordered tuple of them (:func:`~exchange.liquidation.base.build_waterfall`,
  :func:`~exchange.liquidation.base.waterfall_from_preset`).
- :class:`~exchange.liquidation.engine.LiquidationEngine`: ``on_mark`` → detection and the
  waterfall, margin calls, freezing on a stale oracle, auction bids.
- :mod:`~exchange.liquidation.events`: the event kinds (100+) the engine records.

A deficit that no module covers is booked to the bad-debt ledger account: the conservation
identity of the core holds through every path.
"""
from exchange.liquidation.adl import AdlModule
from exchange.liquidation.auction import AuctionModule
from exchange.liquidation.backstop import BackstopModule
from exchange.liquidation.base import (MODULES, LiquidationModule, build_module,
                                       build_waterfall, module_params_from_preset,
                                       register_module, resolve_module, waterfall_from_preset)
from exchange.liquidation.cases import Cases, Outcome
from exchange.liquidation.context import LiquidationContext
from exchange.liquidation.engine import EngineParams, LiquidationEngine, LiquidationSummary
from exchange.liquidation.events import LIQUIDATION_EVENT_FIELDS, LIQUIDATION_EVENT_KINDS
from exchange.liquidation.index import LiquidationIndex
from exchange.liquidation.insurance import InsuranceModule
from exchange.liquidation.margin_view import MarginView
from exchange.liquidation.market import MarketModule
from exchange.liquidation.socialized import SocializedModule

for _cls in (MarketModule, AuctionModule, BackstopModule, InsuranceModule, SocializedModule,
             AdlModule):
    register_module(_cls.name, _cls)
del _cls

__all__ = [
    "LiquidationEngine", "EngineParams", "LiquidationSummary", "LiquidationIndex", "MarginView",
    "LiquidationModule", "LiquidationContext", "Cases", "Outcome", "MODULES", "register_module",
    "resolve_module", "build_module", "build_waterfall", "waterfall_from_preset",
    "module_params_from_preset", "MarketModule", "AuctionModule", "BackstopModule",
    "InsuranceModule", "SocializedModule", "AdlModule", "LIQUIDATION_EVENT_KINDS",
    "LIQUIDATION_EVENT_FIELDS",
]
