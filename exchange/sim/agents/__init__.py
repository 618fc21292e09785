"""Agents: the :class:`Agent` protocol and the built-in populations.

An :class:`Agent` is anything with a ``name`` and two methods, ``setup(ctx, ts_ns)`` (open
accounts, return the first wake-up time or None) and ``wake(ctx, ts_ns)`` (decide, send
orders, return the next wake-up time or None). Optional hooks: ``on_shock(ctx, shock, ts_ns)``,
``on_auction(ctx, auction, ts_ns)`` (see :class:`Keepers`), ``on_records(ctx, records)`` (every
batch of event records the runner drains, EVENT_DTYPE) and ``on_stop(ctx, ts_ns)`` (the end).

The built-in agents are **populations**: one object decides for many accounts at once with
numpy (who acts, sides, sizes, prices, stops) and sends one
:class:`~exchange.sim.gateway.OrderBatch`; each row reaches the venue after its account's own
latency. Each population has its own ``numpy.random.Generator`` spawned from the run's
``SeedSequence`` by name (:func:`~exchange.sim.context.component_seed`); its members are
heterogeneous (capital, spreads, thresholds, leverage and latency drawn per account).

===================  =====================================================================
type                 behaviour
===================  =====================================================================
``market_maker``     ladders of post-only quotes around the perp's own mid (a fair value that
                     follows spot's returns, learns the book and moves with the flow it
                     absorbs; or the index / mark), skewed against inventory, requoted at
                     once when spot or the mark jumps (a gap); widen when
                     short-term volatility jumps, pull quotes when it crosses a per-MM
                     threshold or during a "withdraw" shock (liquidity vacuum), then return
``noise``            Poisson marketable IOC orders of lognormal size, random side, bounded
                     slippage, position-capped
``directional``      leveraged crowd with a long/short bias; leverage policy ``fixed``
                     (drawn from a list, e.g. 3/5/10/20/50x), ``vol_scaled`` (cut as realised
                     volatility rises) or ``tiered`` (a fraction of the venue tier's maximum
                     for the notional); stop-losses and take-profits on the last price
``arbitrageur``      carry traders: hold the perp against a hedge elsewhere, sized by the
                     funding the venue's rule would pay at today's premium (net of the
                     interest leg) against their trading costs (He et al. 2022)
``keeper``           liquidators: deep resting bids/asks that absorb liquidation flow, bid in
                     liquidation auctions at a discount, unwind inventory into recoveries
``strategy``         one account run by a user's :class:`~exchange.sim.strategy.Strategy`
                     (``class = "package.module:Class"``; see :mod:`exchange.sim.strategy`)
===================  =====================================================================

A population's parameters are a TOML table (``[population.NAME]``, ``type = ...``); each
class lists its keys in ``PARAMS`` (see ``perpsim scenarios --agents``).

Modules: :mod:`.base` (the protocol, the shared population base, parameter bounds), one per
family (:mod:`.makers`, :mod:`.noise`, :mod:`.directional`, :mod:`.arbitrage`,
:mod:`.keepers`) and :mod:`.registry` (:data:`AGENT_TYPES`). Adding an agent type touches its
own module and one line in :data:`~exchange.sim.agents.registry.AGENT_TYPES`.
"""
from exchange.sim.agents.arbitrage import FundingArbitrageurs
from exchange.sim.agents.base import (MAX_BASE_QTY, MAX_COUNT, MAX_DEPTH_BPS, MAX_LEVERAGE,
                                      MAX_MS, MAX_RATE_PER_MIN, MAX_RATIO, MAX_S, NS_PER_MS,
                                      NS_PER_S, Agent, _capital, _COMMON, _ms, _Population,
                                      _protected, _reference_ticks)
from exchange.sim.agents.directional import DirectionalTraders
from exchange.sim.agents.keepers import Keepers
from exchange.sim.agents.makers import MarketMakers
from exchange.sim.agents.noise import NoiseTraders
from exchange.sim.agents.registry import AGENT_TYPES, LAZY_AGENT_TYPES, agent_class, build_agent

__all__ = ["Agent", "MarketMakers", "NoiseTraders", "DirectionalTraders",
           "FundingArbitrageurs", "Keepers", "AGENT_TYPES", "LAZY_AGENT_TYPES", "agent_class",
           "build_agent", "MAX_BASE_QTY", "MAX_COUNT", "MAX_DEPTH_BPS", "MAX_LEVERAGE", "MAX_MS",
           "MAX_RATE_PER_MIN", "MAX_RATIO", "MAX_S", "NS_PER_MS", "NS_PER_S",
           # shared with exchange.sim.portfolio
           "_COMMON", "_Population", "_capital", "_ms", "_protected", "_reference_ticks"]
