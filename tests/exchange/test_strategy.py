"""The in-process strategy API (exchange.sim.strategy): a user's Strategy trading one account inside
a simulated scenario, its orders going through the gateway after its latency, its fills, order
updates and liquidations coming back from the event stream."""
import json
from decimal import Decimal
from pathlib import Path

import pytest

from exchange.cli import main
from exchange.codes import RejectReason
from exchange.errors import ConfigError, InvalidCommandError
from exchange.sim.runner import Simulation
from exchange.sim.scenario import parse_scenario
from exchange.sim.strategy import Strategy, run_strategy, strategy_overrides
from tests.exchange.sim.conftest import TINY_CRASH
from tests.test_cli import TINY

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "strategies.py"
MS = 1_000_000


def quiet_market(duration_s=5, **populations):
    """A venue with a constant index at 50,000 and only the given populations."""
    return parse_scenario({
        "scenario": {"preset": "binance_usdm", "duration_s": duration_s, "step_ms": 100},
        "index": {"model": "constant", "price": 50000.0, "source_noise": 0.0},
        "population": populations}, "test")


def strategy_table(cls, **params):
    return {"type": "strategy", "class": cls, **params}


def run_sim(sc, seed=0):
    sim = Simulation(sc, seed)
    sim.run()
    return sim


def strategy_of(sim, name):
    return next(a for a in sim.agents if a.name == name).strategy


class RestingSeller(Strategy):
    """Offers 0.010 at 50,010 on its first tick with a mark."""

    price = "50010"

    def on_start(self, api):
        self.sent = None
        self.fills = []

    def on_tick(self, api):
        if self.sent is None and api.mark is not None:
            self.sent = api.limit("SELL", "0.010", self.price)

    def on_fill(self, api, fill):
        self.fills.append(fill)


class LiftingBuyer(Strategy):
    """Buys 0.004 with a limit at 50,010 once, one second in."""

    def on_start(self, api):
        self.sent = None
        self.fills = []
        self.updates = []

    def on_tick(self, api):
        if self.sent is None and api.now >= 1_000 * MS:
            self.sent = api.limit("BUY", Decimal("0.004"), 50010)

    def on_fill(self, api, fill):
        self.fills.append((api.now, fill))

    def on_order(self, api, update):
        self.updates.append(update)


def test_a_limit_that_crosses_a_resting_order_is_seen_in_on_fill_with_its_price_and_qty():
    sc = quiet_market(seller=strategy_table(RestingSeller), buyer=strategy_table(LiftingBuyer))
    sim = run_sim(sc)
    buyer, seller = strategy_of(sim, "buyer"), strategy_of(sim, "seller")
    assert len(buyer.fills) == 1
    ts, fill = buyer.fills[0]
    assert fill.order_id == buyer.sent and fill.side == "BUY" and fill.taker
    assert (fill.price, fill.qty, fill.remaining) == (Decimal("50010"), Decimal("0.004"), Decimal(0))
    assert fill.fee == Decimal("50010") * Decimal("0.004") * Decimal("0.0005")   # binance taker
    assert [u.status for u in buyer.updates] == ["accepted"]
    (mfill,) = seller.fills
    assert mfill.order_id == seller.sent and mfill.side == "SELL" and not mfill.taker
    assert (mfill.price, mfill.qty, mfill.remaining) == (Decimal("50010"), Decimal("0.004"),
                                                          Decimal("0.006"))
    buyer_acct = next(a for a in sim.agents if a.name == "buyer").accounts[0]
    assert sim.ex.position(int(buyer_acct), "BTCUSDT").size == Decimal("0.004")


class Refused(Strategy):
    """Sends orders the venue refuses, and malformed calls."""

    deposit = "1000"
    leverage = 1

    def on_start(self, api):
        self.updates = []
        self.errors = []
        self.ids = {}

    def on_tick(self, api):
        if self.ids or api.now < 1_000 * MS:
            return
        self.ids["margin"] = api.limit("BUY", "1", "49000")                 # 49,000 > 1,000 x 1
        self.ids["cross"] = api.limit("BUY", "0.01", "50010", tif="POST_ONLY")
        self.ids["grid"] = api.limit("BUY", "0.01", "49000.05")
        self.ids["reduce"] = api.market("SELL", "0.01", reduce_only=True)     # no position
        for call in (lambda: api.limit("HOLD", "0.01", "49000"),
                     lambda: api.limit("BUY", -1, "49000"),
                     lambda: api.market("BUY", float("nan")),
                     lambda: api.market("BUY", "0.01", reduce_only="yes"),
                     lambda: api.limit("BUY", "0.01", "49000", tif="DAY")):
            try:
                call()
            except InvalidCommandError as exc:
                self.errors.append((exc.field, exc.rule, exc.value, str(exc)))

    def on_order(self, api, update):
        self.updates.append(update)


def test_refused_orders_arrive_in_on_order_with_their_reason_and_cost_nothing():
    sc = quiet_market(seller=strategy_table(RestingSeller), me=strategy_table(Refused))
    sim = run_sim(sc)
    me = strategy_of(sim, "me")
    got = {u.order_id: u for u in me.updates}
    assert len(got) == 4 and all(u.status == "rejected" for u in got.values())
    assert got[me.ids["margin"]].reason == RejectReason.INSUFFICIENT_MARGIN
    assert got[me.ids["cross"]].reason == RejectReason.POST_ONLY_WOULD_CROSS
    assert got[me.ids["grid"]].reason == RejectReason.INVALID_PRICE
    assert got[me.ids["reduce"]].reason == RejectReason.REDUCE_ONLY_WOULD_INCREASE
    acct = int(next(a for a in sim.agents if a.name == "me").accounts[0])
    assert sim.ex.balance(acct).wallet == Decimal("1000")
    assert sim.ex.position(acct, "BTCUSDT").size == 0
    sim.ex.check_invariants()
    assert sim.core.conservation_gap() == 0


def test_malformed_calls_raise_errors_naming_the_field_the_rule_and_the_value():
    sim = run_sim(quiet_market(me=strategy_table(Refused)))
    errors = strategy_of(sim, "me").errors
    assert [e[0] for e in errors] == ["side", "qty", "qty", "reduce_only", "tif"]
    assert errors[0][3] == "'side' must be 'BUY' or 'SELL' (got 'HOLD')"
    assert errors[1][3] == "'qty' must be > 0 (got -1)"
    assert "finite" in errors[2][1] and errors[3][2] == "yes"


class Slow(Strategy):
    """250 ms away from the venue; bids once at t = 1 s and watches the book every 50 ms."""

    latency_ms = 250.0
    interval_ms = 50.0

    def on_start(self, api):
        self.sent_at = None
        self.seen = []          # (now, best bid, open order status)
        self.accepted_at = None

    def on_tick(self, api):
        if self.sent_at is None and api.now >= 1_000 * MS:
            self.sent_at = api.now
            api.limit("BUY", "0.01", "49000")
        if self.sent_at is not None:
            self.seen.append((api.now, api.best_bid, [o.status for o in api.open_orders]))

    def on_order(self, api, update):
        if update.status == "accepted":
            self.accepted_at = api.now


def test_an_order_reaches_the_book_only_after_the_latency_and_its_answer_one_latency_later():
    sim = run_sim(quiet_market(duration_s=3, me=strategy_table(Slow)))
    me = strategy_of(sim, "me")
    arrive = me.sent_at + 250 * MS
    before = [s for s in me.seen if s[0] < arrive]
    after = [s for s in me.seen if s[0] >= arrive]
    assert len(before) == 5 and all(bid is None and st == ["pending"] for _, bid, st in before)
    assert after and all(bid == Decimal("49000") and st == ["open"] for _, bid, st in after)
    journal = sim.ex.journal()
    acct = next(a for a in sim.agents if a.name == "me").accounts[0]
    accepted = journal[(journal["kind"] == 1) & (journal["acct"] == acct)]
    assert accepted["ts"].tolist() == [arrive]
    assert me.accepted_at == arrive + 250 * MS


class AllIn(Strategy):
    """Goes long at 50x isolated from 20 s in (market orders until the book gave it ~1 BTC)
    and holds through the crash."""

    deposit = "5000"
    leverage = 50
    margin_mode = "isolated"

    def on_start(self, api):
        self.events = []
        self.liq_fills = 0
        self.in_flight = False
        self.stopped_flat = None

    def on_tick(self, api):
        want = Decimal("1") - api.position.size
        if 20_000 * MS <= api.now < 90_000 * MS and not self.in_flight and want > 0:
            api.market("BUY", want)
            self.in_flight = True

    def on_order(self, api, update):
        if update.status in ("rejected", "expired"):
            self.in_flight = False

    def on_fill(self, api, fill):
        self.liq_fills += fill.liquidation
        if fill.remaining == 0:
            self.in_flight = False

    def on_liquidation(self, api, event):
        self.events.append(event)

    def on_stop(self, api):
        self.stopped_flat = api.position.size == 0


def test_a_leveraged_strategy_in_the_flash_crash_hears_of_its_liquidation():
    me = AllIn()
    result = run_strategy(me, "flash_crash", seed=1,
                          overrides={**TINY_CRASH, "scenario.duration_s": 130},
                          keep_journal=False)
    names = [e.name for e in me.events]
    assert "LiquidationTriggered" in names and "LiquidationCompleted" in names
    trig = next(e for e in me.events if e.name == "LiquidationTriggered")
    assert trig.qty > 0 and 100 * 10**9 <= trig.ts_ns            # after the -7 % gap at 100 s
    # closed by the waterfall: liquidation fills into the book, or taken over (ADL / backstop)
    assert me.stopped_flat and (me.liq_fills > 0 or "PositionTransferred" in names)
    pnl = result.strategies["strategy"]
    assert pnl["class"] == "AllIn" and pnl["liquidations"] >= 1 and pnl["pnl"] < -1000
    assert pnl["pnl"] == pytest.approx(pnl["realized_pnl"] + pnl["unrealized_pnl"] - pnl["fees"]
                                       - pnl["funding"] + pnl["other"])


def test_same_scenario_seed_and_strategy_give_the_same_journal():
    sc_kw = {**TINY_CRASH, "scenario.duration_s": 130}
    a = run_strategy(f"{EXAMPLES}:MarketMaker", "flash_crash", seed=4, overrides=sc_kw)
    b = run_strategy(f"{EXAMPLES}:MarketMaker", "flash_crash", seed=4, overrides=sc_kw)
    c = run_strategy(f"{EXAMPLES}:MarketMaker", "flash_crash", seed=4, overrides=sc_kw,
                     params={"half_spread_bps": 1.0})
    assert a.strategies["strategy"]["fills"] > 0
    assert a.journal_sha256() == b.journal_sha256()
    assert c.journal_sha256() != a.journal_sha256()          # the strategy's orders are in it
    assert a.agents["strategy"]["fills"] == a.strategies["strategy"]["fills"]


def test_a_scenario_table_names_the_strategy_and_its_parameters_are_checked():
    sc = quiet_market(mm={"type": "strategy", "class": f"{EXAMPLES}:MarketMaker",
                          "deposit": "50000", "half_spread_bps": 2})
    assert sc.populations[0].params["values"]["half_spread_bps"] == 2.0
    with pytest.raises(ConfigError, match=r"'population.mm.sise' must be a parameter of "
                                          r"MarketMaker \(did you mean 'size'\?"):
        quiet_market(mm={"type": "strategy", "class": f"{EXAMPLES}:MarketMaker", "sise": 1})
    with pytest.raises(ConfigError, match=r"'population.mm.leverage' must be an integer >= 1"):
        quiet_market(mm={"type": "strategy", "class": f"{EXAMPLES}:MarketMaker", "leverage": 0})
    with pytest.raises(ConfigError, match="'population.mm.class' must be a Strategy subclass"):
        quiet_market(mm={"type": "strategy", "class": f"{EXAMPLES}:Nope"})
    with pytest.raises(InvalidCommandError, match="'--strategy-param' must be written key=value"):
        strategy_overrides(f"{EXAMPLES}:MarketMaker", ["size"])


def test_cli_runs_a_strategy_file_in_the_flash_crash_and_reports_its_pnl(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["run", "flash_crash", "--seed", "3", "--out", str(out), "--no-report", *TINY,
                 "--strategy", f"{EXAMPLES}:MarketMaker",
                 "--strategy-param", "half_spread_bps=2.5",
                 "--strategy-param", "deposit=100000"]) == 0
    text = capsys.readouterr().out
    assert "MarketMaker (population 'strategy')" in text and "realized_pnl" in text
    meta = json.loads((out / "metrics.json").read_text())
    pnl = meta["strategies"]["strategy"]
    assert pnl["class"] == "MarketMaker" and pnl["deposits"] == 100000 and pnl["fills"] > 0
    assert meta["agents"]["strategy"]["fills"] == pnl["fills"]
    assert main(["run", "flash_crash", *TINY, "--strategy", f"{EXAMPLES}:MarketMaker",
                 "--strategy-param", "sise=1"]) == 2
    err = capsys.readouterr().err
    assert "'population.strategy.sise' must be a parameter of MarketMaker" in err
