"""The income history adds up to the wallet: every change of an account's money is one of
its rows (deposits as TRANSFER, fees as COMMISSION, PnL as REALIZED_PNL, funding, and what
a liquidation moved — its clearance fee, the part handed back where it would take the
account below zero, the insurance fund's cover of a bankruptcy — as INSURANCE_CLEAR)."""
from __future__ import annotations

import json
from decimal import Decimal

import pytest

from exchange.server import MockBinance


def _call(m, cred, cmd, **p):
    return json.loads(m._mutate(cmd, cred, {"symbol": "BTCUSDT", **p}).body)


def _income_total(m, acct) -> Decimal:
    return sum((Decimal(r["income"]) for r in m._income.get(acct, [])), Decimal(0))


@pytest.mark.parametrize("mode, deposit, mark", [("ISOLATED", "2000", "46700"),
                                                 ("CROSSED", "1000", "46800")])
def test_a_liquidated_accounts_income_adds_up_to_its_wallet(mode, deposit, mark):
    m = MockBinance(marks={"BTCUSDT": "50000"}, rate_limits=None)
    maker, trader = m.add_account("10000000"), m.add_account(deposit)
    if mode == "ISOLATED":
        _call(m, trader, "margin_type", marginType="ISOLATED")
    _call(m, trader, "leverage", leverage="20")
    _call(m, maker, "new_order", side="SELL", type="LIMIT", quantity="0.3", price="50000",
          timeInForce="GTC")
    _call(m, trader, "new_order", side="BUY", type="MARKET", quantity="0.3")
    m.set_mark("BTCUSDT", "48000")
    for p in ("47000", "46900", "46800", "46000"):
        _call(m, maker, "new_order", side="BUY", type="LIMIT", quantity="1", price=p,
              timeInForce="GTC")
    m.set_mark("BTCUSDT", mark)
    assert m.venue.position(trader.account, "BTCUSDT").size == 0        # liquidated
    kinds = {r["incomeType"] for r in m._income[trader.account]}
    assert "INSURANCE_CLEAR" in kinds
    for cred in (trader, maker):
        wallet = Decimal(m._balance_json(cred.account)["walletBalance"])
        assert _income_total(m, cred.account) == wallet
    m.venue.check_invariants()
