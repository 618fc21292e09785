"""A scenario running behind the server: clients trade with the simulation's agents over the
Binance API while its oracle moves the mark (``ScenarioDriver``)."""
from __future__ import annotations

import time

import ccxt
import pytest

from exchange.server import ServerThread, ccxt_config
from exchange.server.scenario import ScenarioDriver
from tests.exchange.server.orders import BTC

SMALL = {"scenario.duration_s": 300, "population.makers.count": 4,
         "population.noise.count": 20, "population.directional.count": 30,
         "population.arbitrageur.count": 2, "population.keeper.count": 2}


def wait_for(condition, timeout=10.0):
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.05)


@pytest.fixture
def running():
    driver = ScenarioDriver("calm", seed=1, speed=200, overrides=SMALL)
    mock = driver.mock()
    cred = mock.add_account(deposit="100000")
    with ServerThread(mock) as srv:
        client = ccxt.binanceusdm(ccxt_config(srv.base_url, cred.api_key, cred.secret))
        client.timeout = 5000
        yield driver, mock, srv, client


def test_the_agents_quote_and_the_clock_runs_behind_the_api(running):
    driver, mock, srv, client = running
    client.load_markets()
    book = wait_for(lambda: (lambda b: b if b["bids"] and b["asks"] else None)(
        client.fetch_order_book(BTC)))
    assert book["bids"][0][0] < book["asks"][0][0]
    first = srv.call(lambda: driver.sim_ns)
    wait_for(lambda: srv.call(lambda: driver.sim_ns) > first + 20 * 10**9)
    mark = client.fetch_funding_rate(BTC)["markPrice"]
    assert mark and abs(mark - book["bids"][0][0]) / mark < 0.01


def test_a_client_market_order_trades_against_the_agents_and_is_margined(running):
    driver, mock, srv, client = running
    client.load_markets()
    wait_for(lambda: client.fetch_order_book(BTC)["asks"])
    order = client.create_order(BTC, "market", "buy", 0.01)
    assert order["status"] == "closed" and order["filled"] == 0.01
    fill = client.fetch_my_trades(BTC)[-1]
    assert fill["side"] == "buy" and fill["takerOrMaker"] == "taker"
    position = [p for p in client.fetch_positions() if p["symbol"] == BTC]
    assert position and position[0]["contracts"] == 0.01
    srv.call(mock.venue.check_invariants)      # conservation, books, engine indexes


def test_the_run_ends_and_leaves_the_venue_open(running):
    driver, mock, srv, client = running
    wait_for(lambda: srv.call(lambda: driver.done), timeout=20)
    assert srv.call(lambda: driver.sim_ns) == driver.end_ns
    client.load_markets()
    assert client.fetch_order_book(BTC)["bids"]


def test_a_clients_algo_stops_fire_in_the_scenarios_crash():
    """ccxt's conditional orders (POST /fapi/v1/algoOrder) reach the venue's trigger book; the
    scenario's oracle moves the mark through the venue's own clock step, so a mark-price stop,
    a last-price take-profit and a trailing stop fire in flash_crash's gap."""
    # 60x: the crash (from 358 s) comes ~4 s of wall time after the orders are placed, also
    # when a loaded machine answers each request slowly
    driver = ScenarioDriver("flash_crash", seed=2, speed=60, overrides={
        "population.noise.count": 40, "population.directional.count": 80})
    mock = driver.mock()
    cred = mock.add_account(deposit="100000")
    with ServerThread(mock) as srv:
        client = ccxt.binanceusdm(ccxt_config(srv.base_url, cred.api_key, cred.secret))
        # the server thread also runs the scenario: a request can wait behind a busy
        # stretch of the crash on a loaded machine
        client.timeout = 20000
        client.load_markets()
        wait_for(lambda: client.fetch_order_book(BTC)["bids"] and client.fetch_order_book(BTC)["asks"])
        assert srv.call(lambda: driver.sim_ns) < 120 * 10**9, "the test machine is too slow"
        client.create_order(BTC, "market", "buy", 0.03)
        mark = client.fetch_funding_rate(BTC)["markPrice"]
        stop = client.create_order(BTC, "market", "sell", 0.01, None, {
            "stopPrice": round(mark * 0.98, 1), "workingType": "MARK_PRICE", "reduceOnly": True})
        tp = client.create_order(BTC, "market", "buy", 0.01, None, {
            "takeProfitPrice": round(mark * 0.97, 1)})
        trail = client.create_order(BTC, "market", "sell", 0.01, None, {
            "trailingPercent": 1.5, "reduceOnly": True})
        waiting = {o["id"] for o in client.fetch_open_orders(BTC, None, None, {"trigger": True})}
        assert {stop["id"], tp["id"], trail["id"]} <= waiting
        wait_for(lambda: srv.call(lambda: driver.done), timeout=60)
        assert client.fetch_open_orders(BTC, None, None, {"trigger": True}) == []
        trades = client.fetch_my_trades(BTC)
        assert sum(1 for t in trades if t["side"] == "sell") >= 2
        assert sum(1 for t in trades if t["side"] == "buy") >= 2
        srv.call(mock.venue.check_invariants)


def test_agents_orders_are_not_liquidations_and_leave_no_records():
    """Behind a scenario server the agents' orders reach the server through the venue's
    records: only liquidation orders are published as forceOrder (one per liquidation fill),
    and the agents' orders leave no Binance order records behind (bounded memory)."""
    import numpy as np

    from exchange._enums import EventKind

    driver = ScenarioDriver("flash_crash", seed=0, speed=400,
                            overrides={"scenario.duration_s": 480})
    mock = driver.mock()
    liq_oids: set[int] = set()
    liq_fills = [0]
    pushed = [0]

    def count(records):
        kind = records["kind"]
        acc = records[(kind == EventKind.ORDER_ACCEPTED) & (records["flag"] == 1)]
        liq_oids.update(acc["oid"].tolist())
        fills = records[kind == EventKind.ORDER_FILLED]["oid"]
        liq_fills[0] += int(np.isin(fills, list(liq_oids)).sum()) if liq_oids else 0

    mock.venue.record_hooks.insert(0, count)
    push = mock._push_force_order

    def counted(*args):
        pushed[0] += 1
        return push(*args)

    mock._push_force_order = counted
    with ServerThread(mock):
        wait_for(lambda: driver.done, timeout=60)
        records = len(mock._orders)
    assert liq_fills[0] > 0, "the crash liquidates someone"
    assert pushed[0] == liq_fills[0]
    assert records == 0


def test_next_funding_time_is_the_venues_coming_settlement_at_the_servers_speed(running):
    """At 200 simulated seconds per second the venue's next settlement (8 h of simulated
    time from its start) is 144 wall seconds away at the start; the premium index says so,
    and its lastFundingRate is the venue's running estimate."""
    driver, mock, srv, client = running
    client.load_markets()
    wait_for(lambda: srv.call(lambda: driver.sim_ns) > 5 * 10**9)

    def expected():
        tl = mock.venue.timelines[0]
        ahead = (tl.funding.next_settlement_ns - mock.venue.ts_ns) / 1e6 / 200
        return time.time() * 1000 + ahead, tl.rate_for_mark()

    want, rate = srv.call(expected)
    got = client.fapiPublicGetPremiumIndex({"symbol": "BTCUSDT"})
    assert abs(int(got["nextFundingTime"]) - want) < 2000           # within the request time
    assert int(got["nextFundingTime"]) - time.time() * 1000 < 8 * 3600 * 1000 / 200 + 2000
    assert float(got["lastFundingRate"]) == pytest.approx(rate / 1e8, abs=1e-8)
