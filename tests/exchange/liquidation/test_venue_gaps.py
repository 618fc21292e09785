"""Each venue's waterfall on a gap into an empty book, through ``exchange.venue.Exchange``.

Issue 10 items 2–5. The same book on every preset: a trader long 1 BTC at 50,000 with 10x
leverage (5,050 deposited), sold to it by a ``winner`` short; two well-funded bystanders hold
0.5 BTC long and short against each other at 50,000. The mark walks 50,000 → 49,000 →
47,000, then gaps to 40,000 with no bid in the book: the trader's equity is about −4,975 at
the mark. Each test says which modules act, what each pays and where the deficit goes; the
venue's conservation identity and the engine's invariants are checked after every step
(:meth:`Exchange.check_invariants`).
"""
from __future__ import annotations

from decimal import Decimal

import pytest

from exchange.venue import Exchange, Order, events_named

GAP = "40000"


class Gap:
    """The scenario above on one preset (``overrides``: dotted preset keys)."""

    def __init__(self, preset: str, overrides: dict | None = None) -> None:
        ex = self.ex = Exchange.from_preset(preset, overrides=overrides)
        sym = self.sym = ex.symbols[0]
        self.spec = ex.spec(sym)
        self.mm = ex.open_account(deposit="10000000")
        self.winner = ex.open_account(deposit="100000")
        self.trader = ex.open_account(deposit="5050")
        self.long2 = ex.open_account(deposit="100000")
        self.short2 = ex.open_account(deposit="100000")
        ex.set_leverage(self.trader, sym, 10)
        ex.set_mark(sym, "50000")
        self.fill(self.winner, self.trader, "1")
        self.fill(self.short2, self.long2, "0.5")
        self.events: list = []
        self.fund0 = ex.core.insurance
        for m in ("49000", "47000"):
            self.mark(m)
        assert events_named(self.events, "LiquidationTriggered") == []
        self.pre_gap_equity = ex.balance(self.trader).equity
        self.events = []

    def fill(self, seller: int, buyer: int, qty: str) -> None:
        ex = self.ex
        assert events_named(ex.submit(seller, Order.limit(self.sym, "SELL", qty, "50000")),
                            "OrderAccepted")
        assert events_named(ex.submit(buyer, Order.market(self.sym, "BUY", qty)), "OrderFilled")
        self.ex.check_invariants()

    def mark(self, price: str) -> list:
        out = self.ex.set_mark(self.sym, price)
        self.ex.check_invariants()
        self.events += out
        return out

    def advance(self, seconds: int) -> list:
        out = self.ex.advance_to(self.ex.ts_ns + seconds * 10**9)
        self.ex.check_invariants()
        self.events += out
        return out

    def named(self, name: str) -> list:
        return events_named(self.events, name)

    def size(self, acct: int) -> Decimal:
        return self.ex.position(acct, self.sym).size

    def lots(self, acct: int) -> int:
        return self.ex.position(acct, self.sym).size_lots

    def atoms(self, acct: int) -> int:
        """Wallet atoms of a cross account."""
        return int(self.ex.core.arrays()["wallet"][acct])

    def equity_atoms(self, acct: int) -> int:
        b = self.ex.balance(acct)
        return int(b.equity * 10 ** self.spec.settle_decimals)

    def trader_resolved(self) -> None:
        """Item 5: the bankrupt position is closed, taken over or deleveraged, and the trader
        ends at zero (the deficit is somebody's)."""
        assert self.size(self.trader) == 0
        assert self.ex.balance(self.trader).wallet == 0
        assert self.ex.liquidation.pending.acct.tolist() == []
        assert [e.account for e in self.named("LiquidationCompleted")] == [self.trader]


def _deficit_at_gap(g: Gap) -> int:
    """The trader's negative equity at the gap mark, before any module acted (atoms)."""
    (t,) = g.named("LiquidationTriggered")
    assert t.account == g.trader and t.mark_ticks == g.spec.price_to_ticks(Decimal(GAP))
    assert t.equity_atoms < 0
    return -t.equity_atoms


# -- Binance, Bybit, BitMEX: the fund takes over; ADL only for what it cannot pay ------------

CEX = ["binance_usdm", "bybit_linear", "bitmex"]


@pytest.mark.parametrize("preset", CEX)
def test_a_funded_fund_takes_the_position_over_at_bankruptcy_and_adl_does_not_act(preset):
    g = Gap(preset)
    # the fund's trading account does not exist until the fund takes something over
    assert g.ex.liquidation.fund_acct is None and g.fund0 > 0
    n_acct = g.ex.core.n_acct
    g.mark(GAP)
    deficit = _deficit_at_gap(g)
    fund_acct = g.ex.liquidation.fund_acct
    assert fund_acct == n_acct
    assert g.ex.core.arrays()["acct_flags"][fund_acct] == 1        # trades only via the engine
    # market: the IOC at the bankruptcy price finds no bid; insurance: nothing to unwind
    # into, so its account takes the whole lot at the bankruptcy price and the ledger pays
    # the loss at the mark into it
    (used,) = g.named("InsuranceFundUsed")
    assert used.account == g.trader
    (t,) = g.named("LiquidationTriggered")
    assert used.taken_over_lots == t.size_lots and used.takeover_price_ticks == t.bankruptcy_ticks
    assert deficit <= used.paid_atoms <= deficit + t.size_lots   # BP rounded for the venue
    assert g.ex.core.insurance == g.fund0 - used.paid_atoms
    assert g.lots(fund_acct) == t.size_lots
    assert g.equity_atoms(fund_acct) == 0
    # ADL does not act: the winner keeps its position, nobody is haircut, no bad debt
    assert g.named("PositionDeleveraged") == []
    assert g.size(g.winner) == -1
    assert g.ex.core.bad_debt == 0
    g.trader_resolved()


@pytest.mark.parametrize("preset", CEX)
def test_the_fund_unwinds_what_it_took_over_once_the_book_has_bids(preset):
    g = Gap(preset)
    g.mark(GAP)
    fund_acct = g.ex.liquidation.fund_acct
    g.events = []
    assert events_named(g.ex.submit(g.mm, Order.limit(g.sym, "BUY", "1", "39900")), "OrderAccepted")
    g.advance(1)
    liq = [e for e in g.named("PositionLiquidated") if e.account == fund_acct]
    assert liq and sum(e.qty_lots for e in liq) == g.spec.qty_to_lots(Decimal("1"))
    assert g.lots(fund_acct) == 0
    # flat: its wallet is back in the ledger; the fund's net loss is the gap plus the unwind
    assert g.atoms(fund_acct) == 0
    assert g.ex.core.insurance < g.fund0 and g.ex.core.bad_debt == 0
    assert g.size(g.winner) == -1


@pytest.mark.parametrize("preset", CEX)
def test_an_empty_fund_leaves_the_whole_position_to_adl_at_the_bankruptcy_price(preset):
    g = Gap(preset, {"liquidation.insurance_fund": "0"})
    g.mark(GAP)
    _deficit_at_gap(g)
    assert g.named("InsuranceFundUsed") == [] and g.ex.liquidation.fund_acct is None
    (t,) = g.named("LiquidationTriggered")
    adl = g.named("PositionDeleveraged")
    assert sum(e.qty_lots for e in adl) == t.size_lots
    # the deleveraged shorts buy at the bankruptcy price: they take the deficit
    assert {e.price_ticks for e in adl} == {t.bankruptcy_ticks}
    assert g.ex.core.bad_debt == 0 and g.ex.core.insurance == 0
    g.trader_resolved()


def test_a_fund_too_small_takes_over_what_it_can_pay_and_adl_gets_only_the_rest():
    g = Gap("binance_usdm", {"liquidation.insurance_fund": "2000"})
    g.mark(GAP)
    fund_acct = g.ex.liquidation.fund_acct
    deficit = _deficit_at_gap(g)
    (t,) = g.named("LiquidationTriggered")
    (used,) = g.named("InsuranceFundUsed")
    # the loss is linear in the lots: the fund takes ⌊2,000·lots / deficit⌋ of them
    lots = t.size_lots
    loss_per_lot = (t.bankruptcy_ticks - t.mark_ticks) * g.spec.atoms_per_tick_lot
    taken = (2000 * 10**6) // loss_per_lot
    assert 0 < taken < lots and taken == used.taken_over_lots
    assert used.paid_atoms == taken * loss_per_lot <= 2000 * 10**6
    assert g.lots(fund_acct) == taken
    adl = g.named("PositionDeleveraged")
    assert sum(e.qty_lots for e in adl) == lots - taken
    assert {e.price_ticks for e in adl} == {t.bankruptcy_ticks}
    assert deficit > 2000 * 10**6
    assert g.ex.core.bad_debt == 0
    g.trader_resolved()


# -- Hyperliquid: the vault takes the position with its (negative) margin ----------------------

def test_hyperliquid_vault_takes_position_and_negative_margin_no_bad_debt():
    g = Gap("hyperliquid")
    vault = g.ex.vault
    cap0 = g.atoms(vault)
    g.mark(GAP)
    deficit = _deficit_at_gap(g)
    (take,) = g.named("BackstopTakeover")
    assert take.account == g.trader and take.vault == vault
    assert take.price_ticks == g.spec.price_to_ticks(Decimal(GAP))     # at the mark
    # the margin transferred is negative: the vault pays the deficit, it is the vault's loss
    assert take.margin_kept_atoms == -deficit
    assert g.atoms(vault) == cap0 - deficit
    assert g.size(vault) == 1
    assert g.named("BadDebtBooked") == [] and g.ex.core.bad_debt == 0
    assert g.named("PositionDeleveraged") == [] and g.size(g.winner) == -1
    g.trader_resolved()


def test_hyperliquid_without_vault_capital_deleverages_at_the_previous_mark():
    g = Gap("hyperliquid", {"liquidation.backstop_capital": "0"})
    g.mark(GAP)
    _deficit_at_gap(g)
    assert g.named("BackstopTakeover") == []
    adl = g.named("PositionDeleveraged")
    assert sum(e.qty_lots for e in adl) == g.spec.qty_to_lots(Decimal("1"))
    # Hyperliquid closes ADL at the previous mark (47,000), above the bankruptcy price: the
    # winners are haircut more than the deficit and the trader keeps what that leaves
    assert {e.price_ticks for e in adl} == {g.spec.price_to_ticks(Decimal("47000"))}
    assert g.ex.core.bad_debt == 0
    assert g.size(g.trader) == 0
    assert g.ex.balance(g.trader).wallet > 0


# -- dYdX v4: no fill → deleveraging at the bankruptcy price, the fund is not used -----------

@pytest.mark.parametrize("fund", ["1000000", "0"])
def test_dydx_deleverages_a_negative_account_at_bankruptcy_whatever_the_fund(fund):
    g = Gap("dydx_v4", {"liquidation.insurance_fund": fund})
    fund0 = g.ex.core.insurance
    g.mark(GAP)
    _deficit_at_gap(g)
    (t,) = g.named("LiquidationTriggered")
    assert g.named("InsuranceFundUsed") == []
    adl = g.named("PositionDeleveraged")
    assert sum(e.qty_lots for e in adl) == t.size_lots
    assert {e.price_ticks for e in adl} == {t.bankruptcy_ticks}
    assert g.ex.core.insurance == fund0 and g.ex.core.bad_debt == 0
    g.trader_resolved()


# -- Drift: base closed, then IF → fee pool → every open position ---------------------------

def test_drift_funded_if_pays_the_loss_once_the_base_is_closed_against_the_shorts():
    g = Gap("drift")
    fee_pool0 = g.ex.core.fee_pool
    g.mark(GAP)
    deficit = _deficit_at_gap(g)
    # the base goes to the opposite positions pro rata at the oracle: the winner (1 BTC)
    # takes 2/3, the bystander short (0.5 BTC) 1/3
    moved = [e for e in events_named(g.events, "PositionTransferred")]
    got = {e.to_account: e.qty_lots for e in moved}
    lots = g.spec.qty_to_lots(Decimal("1"))
    assert got == {g.winner: -(-2 * lots // 3), g.short2: lots // 3}
    assert {e.price_ticks for e in moved} == {g.spec.price_to_ticks(Decimal(GAP))}
    (used,) = g.named("InsuranceFundUsed")
    assert used.paid_atoms == deficit and g.ex.core.insurance == g.fund0 - deficit
    assert g.named("LossSocialized") == [] and g.ex.core.fee_pool == fee_pool0
    assert g.ex.core.bad_debt == 0
    g.trader_resolved()


def test_drift_empty_if_fee_pool_then_socialised_over_every_open_position():
    g = Gap("drift", {"liquidation.insurance_fund": "0"})
    fee_pool0 = g.ex.core.fee_pool
    assert fee_pool0 > 0                          # the trading fees of the set-up
    g.mark(GAP)
    deficit = _deficit_at_gap(g)
    soc = g.named("LossSocialized")
    pool = [e for e in soc if e.payer == -1]
    assert [e.paid_atoms for e in pool] == [fee_pool0] and g.ex.core.fee_pool == 0
    payers = {e.payer: e.paid_atoms for e in soc if e.payer >= 0}
    # longs and shorts alike, per unit of base: long2 0.5, short2 0.5 + 1/3, winner 2/3
    assert set(payers) == {g.winner, g.long2, g.short2}
    rest = deficit - fee_pool0
    assert rest <= sum(payers.values()) <= rest + 3 + len(payers)
    lots = {a: abs(g.lots(a)) for a in payers}
    for a, paid in payers.items():
        share = -(-rest * lots[a] // sum(lots.values()))
        assert paid == share
    assert g.ex.core.bad_debt == 0
    g.trader_resolved()


def test_a_fund_whose_ledger_cannot_carry_its_takeover_is_deleveraged_itself():
    g = Gap("binance_usdm", {"liquidation.insurance_fund": "2000"})
    g.mark(GAP)
    fund_acct = g.ex.liquidation.fund_acct
    taken = g.lots(fund_acct)
    assert taken > 0 and g.equity_atoms(fund_acct) == 0
    ledger = g.ex.core.insurance
    g.events = []
    # a further gap: the fund's position loses more than its ledger holds; its account is
    # liquidated through the waterfall like any other, so the winner is deleveraged for it
    g.mark("38000")
    (t,) = g.named("LiquidationTriggered")
    assert t.account == fund_acct and t.size_lots == taken
    paid = [e.paid_atoms for e in g.named("InsuranceFundUsed") if e.account == fund_acct]
    assert sum(paid) == ledger                              # the ledger's last atoms first
    adl = g.named("PositionDeleveraged")
    assert {e.bankrupt for e in adl} == {fund_acct} and sum(e.qty_lots for e in adl) == taken
    assert {e.winner for e in adl} <= {g.winner, g.short2}
    assert g.lots(fund_acct) == 0 and g.ex.core.bad_debt == 0
    # the fund's account is the venue's: still flagged, never a trader's case afterwards
    assert g.ex.core.arrays()["acct_flags"][fund_acct] == 1
    assert g.ex.liquidation.pending.acct.tolist() == []
    # its liquidation paid no fee to itself
    assert all(e.fee_atoms == 0 for e in g.named("PositionLiquidated") if e.account == fund_acct)


# -- item 5: a liquidation fee never takes the account below zero ------------------------

@pytest.mark.parametrize("preset", ["dydx_v4", "drift"])
def test_the_liquidation_fee_is_capped_at_what_the_fill_leaves(preset):
    """dYdX: ``fee = min(IF_delta, 1.5 %·|quote|)``; Drift: the IF fee shrinks with the
    shortfall. A bid 10 below a mark of 45,030 just above bankruptcy: the first chunk's fill
    leaves less than the full fee, which is charged only down to zero, so the fund neither
    pays anything back nor books bad debt."""
    g = Gap(preset)
    assert events_named(g.ex.submit(g.mm, Order.limit(g.sym, "BUY", "1", "45020")), "OrderAccepted")
    g.mark("45030")
    (t,) = g.named("LiquidationTriggered")
    assert 0 < t.equity_atoms < t.maintenance_atoms
    (liq,) = g.named("PositionLiquidated")
    full_fee = liq.notional_atoms * g.spec.liquidation_fee_rate // 10**8
    (fill,) = [e for e in g.named("OrderFilled") if e.account == g.trader]
    # what the fill left at the mark before the fee: equity − the fill's loss versus the mark
    left = t.equity_atoms - (t.mark_ticks - fill.price_ticks) * liq.qty_lots * g.spec.atoms_per_tick_lot
    assert 0 < left < full_fee
    assert liq.fee_atoms == left
    assert g.ex.balance(g.trader).equity == 0
    assert g.named("InsuranceFundUsed") == [] and g.named("BadDebtBooked") == []
    assert g.ex.core.insurance == g.fund0 + left and g.ex.core.bad_debt == 0
