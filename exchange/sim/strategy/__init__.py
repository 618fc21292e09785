"""In-process strategy API: your own trading strategy inside a simulated scenario.

Modules: :mod:`.base` (:class:`Strategy`, its parameters, the notices), :mod:`.api`
(:class:`StrategyAPI`), :mod:`.agent` (:class:`StrategyAgent`, loading, :func:`run_strategy`).
The old path :mod:`exchange.strategy` re-exports these names.

A :class:`Strategy` trades ONE account of the scenario's instrument, in human units (``Decimal``
prices and quantities, strings or numbers accepted). Subclass it, set its parameters as class
attributes and override the callbacks you need::

    class Dip(Strategy):
        deposit = "20000"            # settlement asset
        leverage = 5
        interval_ms = 1000           # on_tick cadence
        latency_ms = 20              # one way: decision → venue, venue → strategy
        drop_bps = 50.0              # your own parameters: any public class attribute

        def on_tick(self, api):
            if api.position.size == 0 and api.mark and api.index \\
                    and api.mark < api.index * (1 - Decimal(self.drop_bps) / 10_000):
                api.market("BUY", "0.01")

        def on_fill(self, api, fill):
            print(api.now, fill.side, fill.qty, "@", fill.price)

Callbacks (all optional): ``on_start(api)`` once when the run starts (no mark price yet),
``on_tick(api)`` every ``interval_ms`` from t = 0, ``on_fill(api, fill)`` (:class:`Fill`),
``on_order(api, update)`` (:class:`OrderUpdate`: accepted, rejected with the venue's
:class:`~exchange.codes.RejectReason`, canceled, expired, cancel_rejected),
``on_liquidation(api, event)`` (:class:`LiquidationUpdate`: every liquidation-waterfall event
naming the account), ``on_funding(api, payment)`` (:class:`FundingUpdate`), ``on_stop(api)``
once at the end (reporting only: orders can no longer be sent).

The ``api`` (:class:`StrategyAPI`) reads the market and the account (``now``, ``mark``,
``index``, ``last``, ``best_bid``, ``best_ask``, ``depth(n)``, ``position``, ``balance``,
``open_orders``) and acts (``limit``, ``market``, ``cancel``, ``cancel_all``, and the
venue's conditional orders ``stop_market``, ``stop_limit``, ``take_profit_market``,
``take_profit_limit``, ``trailing_stop``: held by the venue, triggered by the mark or the last
price as the venue evaluates them, reported as ``on_order`` updates ``accepted`` →
``triggered`` (then the child order's fills) or ``canceled``).

**Time and latency.** Commands issued during a callback leave together when it returns, as one
:class:`~exchange.sim.gateway.OrderBatch` through the simulator's gateway, and reach the venue
``latency_ms`` later, interleaved with every other agent's orders exactly as theirs are. The
strategy learns what happened (its fills, order updates, liquidation events, funding) from the
venue's event records filtered by its account, each one latency after it happened: the
venue's answer to an order (accepted / rejected / immediate fills) arrives exactly one latency
after the order reached the venue, i.e. two latencies after it was sent; fills of resting
orders and liquidation events one latency after they happened, or at the strategy's next tick
if that is later (events due by then are delivered before ``on_tick``). Events still on their
way when the run ends are delivered before ``on_stop``. Queries (``position``, ``balance``,
``open_orders``, prices, the book) read the venue's state at ``now``, as a venue answers a
query.

**Rejections are data.** A venue refusal arrives in ``on_order`` with ``status="rejected"``
and its ``reason``; an off-grid price or quantity is refused the same way (reason
``INVALID_PRICE`` / ``INVALID_QTY``) before it is sent, as the venue API refuses it at its
edge. Malformed calls (unknown side, quantity <= 0, NaN, a non-boolean ``reduce_only``) raise
:class:`~exchange.errors.InvalidCommandError` naming the field, the rule and the value.

**Determinism.** Same scenario + seed + strategy (and parameters) → identical journal; use
``api.rng`` (a generator spawned from the run's seed for this population) for randomness.

Scenario table (agent type ``strategy``; keys other than ``type`` and ``class`` are the
strategy's parameters, checked against its class attributes)::

    [population.mine]
    type = "strategy"
    class = "mypkg.mod:MyStrategy"      # or "path/to/file.py:MyStrategy" (relative to the cwd)
    deposit = "10000"
    leverage = 20
    drop_bps = 80.0

From Python: :func:`run_strategy`; from the command line:
``perpsim run flash_crash --strategy path/to/file.py:MyStrategy --strategy-param drop_bps=80``.
"""
from exchange.sim.strategy.agent import (StrategyAgent, load_strategy_class, run_strategy,
                                         strategy_overrides)
from exchange.sim.strategy.api import StrategyAPI
from exchange.sim.strategy.base import (CONDITIONAL, MAX_COMMANDS_PER_CALLBACK, NS_PER_MS, Depth,
                                        Fill, FundingUpdate, LiquidationUpdate, OpenOrder,
                                        OrderUpdate, Strategy)

__all__ = ["Strategy", "StrategyAPI", "StrategyAgent", "Fill", "OrderUpdate",
           "LiquidationUpdate", "FundingUpdate", "OpenOrder", "Depth", "load_strategy_class",
           "strategy_overrides", "run_strategy", "NS_PER_MS", "CONDITIONAL",
           "MAX_COMMANDS_PER_CALLBACK"]
