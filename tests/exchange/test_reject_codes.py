"""RejectReason: numeric codes grouped by subsystem, matching codes shared with the book."""
from __future__ import annotations

import pytest

from exchange.codes import RejectReason
from matching.codes import MatchCode


def test_every_nonzero_match_code_is_a_reject_reason_with_the_same_name_and_number():
    for code in MatchCode:
        if code == MatchCode.OK:
            continue
        reason = RejectReason[code.name]
        assert int(reason) == int(code)
        assert RejectReason.from_match_code(int(code)) is reason


def test_codes_are_grouped_by_subsystem_in_thousands():
    groups = {"validation": 1, "risk": 2, "matching": 3, "state": 4}
    for reason in RejectReason:
        assert reason.value // 1000 == groups[reason.subsystem]
    assert RejectReason.INVALID_PRICE.subsystem == "validation"
    assert RejectReason.WITHDRAWAL_WOULD_BREACH_IM.subsystem == "risk"
    assert RejectReason.FOK_NOT_FILLABLE.subsystem == "matching"
    assert RejectReason.ACCOUNT_IN_LIQUIDATION.subsystem == "state"


def test_codes_are_unique_and_each_has_a_one_line_description():
    values = [int(r) for r in RejectReason]
    assert len(values) == len(set(values))
    for reason in RejectReason:
        assert reason.description and "\n" not in reason.description


def test_brief_members_exist():
    for name in ("INVALID_PRICE", "INVALID_QTY", "BELOW_MIN_NOTIONAL", "ABOVE_MAX_QTY",
                 "PRICE_OUT_OF_BAND", "UNKNOWN_ORDER", "DUPLICATE_CLIENT_ORDER_ID",
                 "INVALID_TRIGGER", "INSUFFICIENT_MARGIN", "REDUCE_ONLY_WOULD_INCREASE",
                 "POSITION_LIMIT_EXCEEDED", "LEVERAGE_ABOVE_TIER_MAX", "INSUFFICIENT_BALANCE",
                 "WITHDRAWAL_WOULD_BREACH_IM", "MARGIN_MODE_CHANGE_WITH_OPEN_POSITION",
                 "POST_ONLY_WOULD_CROSS", "FOK_NOT_FILLABLE", "DUPLICATE_ORDER_ID",
                 "UNKNOWN_ORDER_ID", "PRICE_OUT_OF_RANGE", "ACCOUNT_IN_LIQUIDATION",
                 "ORACLE_STALE"):
        assert name in RejectReason.__members__


def test_ok_is_not_a_rejection():
    with pytest.raises(ValueError, match="non-zero MatchCode"):
        RejectReason.from_match_code(0)
