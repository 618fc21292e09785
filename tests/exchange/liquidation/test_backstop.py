"""``backstop``: a vault takes positions over, refuses without margin, and can itself fail.

An isolated long of 10 lots at 50,000, 10x (margin 50 USDT, bankruptcy 45,000); the book is
empty. The vault is a cross account with its own capital (default leverage 20x).
"""
from __future__ import annotations

import pytest

from exchange.errors import ConfigError
from exchange.liquidation import BackstopModule
from tests.exchange.liquidation.venues import USDT, Venue


def _venue(capital: int, waterfall=("market", "backstop"), **backstop):
    v = Venue(insurance=100 * USDT)
    (a,) = v.isolated([10], [10], 50_000)
    vault = v.core.open_account()
    v.core.deposit(vault, capital)
    v.engine_for(list(waterfall), {"backstop": dict(vault_acct=vault, **backstop)})
    return v, a, vault


def test_the_vault_takes_the_position_at_the_bankruptcy_price():
    v, a, vault = _venue(1_000 * USDT)
    s = v.mark(45_200)
    assert s.backstop_lots == 10 and s.bad_debt_atoms == 0
    # bought at 45,000 while the mark is 45,200: the vault gains the case's 2 USDT equity
    assert v.size(vault) == 10 and int(v.core.arrays()["cost"][0, vault]) == 450 * USDT
    assert v.core.upnl(vault, 0) == 2 * USDT
    assert v.journal.of("BackstopTakeover")[["acct", "price", "qty", "a1", "a2", "a3"]].tolist() \
        == [(a, 45_000, 10, vault, 2 * USDT, 0)]
    assert (v.size(a), v.iso(a), v.wallet(a)) == (0, 0, 0)


def test_hyperliquid_takes_over_below_two_thirds_of_maintenance_at_the_mark_and_keeps_the_margin():
    v, a, vault = _venue(1_000 * USDT, price="mark", trigger_rate=66_666_667, take_margin=True)
    s = v.mark(45_200)
    # equity 2 USDT ≥ 2/3 of MM 2.26 USDT: not yet; the case waits
    assert s.backstop_lots == 0 and s.pending == 1
    s = v.mark(45_100)
    # equity 1 USDT < 2/3 · 2.255: taken at the mark, the 1 USDT left goes to the vault
    assert s.backstop_lots == 10
    assert v.journal.of("BackstopTakeover")[["price", "a2", "a3"]].tolist() == \
        [(45_100, USDT, USDT)]
    assert v.wallet(vault) == 1_001 * USDT and v.wallet(a) == 0


def test_the_vault_refuses_what_it_has_no_margin_for():
    # 10 lots at 45,200 need 22.6 USDT of initial margin at 20x; the vault has 10 USDT
    v, a, vault = _venue(10 * USDT)
    s = v.mark(45_200)
    assert s.backstop_lots == 0 and s.pending == 1 and v.size(vault) == 0


def test_the_vault_can_be_ruined_and_is_then_liquidated_itself():
    v, a, vault = _venue(30 * USDT, waterfall=("market", "backstop", "insurance"))
    v.mark(45_200)
    assert v.size(vault) == 10
    # at 41,000 the vault's 10 lots bought at 45,000 lose 40 USDT: its 30 USDT are gone
    s = v.mark(41_000)
    trig = v.journal.of("LiquidationTriggered")
    assert vault in trig["acct"].tolist() and s.triggered == 1
    # nobody can take the vault's position (the vault cannot back itself, no book): the
    # fund pays its 10 USDT deficit at the mark and the position waits
    assert s.insurance_paid_atoms == 10 * USDT and s.pending == 1


def test_vault_account_is_required():
    with pytest.raises(ConfigError, match="'vault_acct' must be an account id"):
        BackstopModule(vault_acct=-1)


def test_hyperliquid_vault_takes_a_negative_margin_and_pays_the_deficit():
    v, a, vault = _venue(1_000 * USDT, price="mark", trigger_rate=66_666_667, take_margin=True,
                         cover_deficit=True)
    s = v.mark(44_000)
    # gap to 44,000 in an empty book: equity 50 − 60 = −10 USDT; the vault takes the 10 lots
    # at the mark together with the −10 USDT of margin: it pays them, no bad debt
    assert s.backstop_lots == 10 and s.bad_debt_atoms == 0 and v.core.bad_debt == 0
    assert v.journal.of("BackstopTakeover")[["price", "a2", "a3"]].tolist() == \
        [(44_000, -10 * USDT, -10 * USDT)]
    assert v.wallet(vault) == 990 * USDT and v.size(vault) == 10
    assert (v.size(a), v.iso(a), v.wallet(a)) == (0, 0, 0)


def test_a_vault_that_cannot_pay_the_deficit_refuses_and_the_case_passes_down():
    # 10 lots at 44,000 need 22 USDT of initial margin at 20x, plus the 10 USDT deficit: 30
    # USDT of capital is not enough, so ADL gets the case
    v = Venue(insurance=100 * USDT)
    (a,) = v.isolated([10], [10], 50_000)
    (w,) = v.isolated([-10], [10], 50_000)
    vault = v.core.open_account()
    v.core.deposit(vault, 30 * USDT)
    v.engine_for(["market", "backstop", "adl"], {"backstop": dict(
        vault_acct=vault, price="mark", take_margin=True, cover_deficit=True)})
    s = v.mark(44_000)
    assert s.backstop_lots == 0 and v.size(vault) == 0 and v.wallet(vault) == 30 * USDT
    assert s.adl_lots == 10 and v.size(w) == 0 and s.bad_debt_atoms == 0
    v2, a2, vault2 = _venue(33 * USDT, price="mark", take_margin=True, cover_deficit=True)
    assert v2.mark(44_000).backstop_lots == 10            # 33 ≥ 22 + 10 (+ rounding)
