"""Distribution's pure rules: the commission formula, the bonus share, per-product rules, binding, reversal."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from chalicelib.distribution import domain

RULES = {**domain.DEFAULTS, "enabled": True, "level1_bp": 1000, "level2_bp": 500}


def test_commission_is_floored_never_rounded_up():
    assert domain.commission(109610, 1000) == 10961
    assert domain.commission(5983, 2000) == 1196  # 1196.6
    assert domain.commission(19, 500) == 0
    with pytest.raises(ValueError):
        domain.commission(-1, 100)


def test_bonus_share_is_spread_over_lines_and_delivery_exactly():
    # 10000 + 5000 of goods, 1000 delivery; 1600 of bonus paid: 1000 / 500 / 100 by proportion
    assert domain.line_bases([10000, 5000], 1000, 1600) == [9000, 4500]
    bases = domain.line_bases([333, 333, 334], 0, 100)
    assert sum(bases) == 900  # the shares add up to the bonus exactly


def test_plan_one_entry_per_line_and_level_with_product_rules():
    lines = [
        {"sku": "A", "payable_fen": 10000},
        {"sku": "B", "payable_fen": 5000},
        {"sku": "G", "payable_fen": 0},  # a gift earns nothing
    ]
    planned = domain.plan(lines, ["L1", "L2"], RULES, {"B": {"level1_bp": 2000, "excluded": False}}, 0, 0)
    assert [(p.level, p.beneficiary, [(e["sku"], e["amount_fen"]) for e in p.lines]) for p in planned] == [
        (1, "L1", [("A", 1000), ("B", 1000)]),
        (2, "L2", [("A", 500), ("B", 250)]),
    ]
    # quantity is already in the line's payable: never multiplied again
    assert domain.plan([{"sku": "A", "payable_fen": 3 * 600}], ["L1", None], RULES, {}, 0, 0)[0].amount_fen == 180
    excluded = domain.plan(lines, ["L1", "L2"], RULES, {"A": {"excluded": True}, "B": {"excluded": True}}, 0, 0)
    assert excluded == []


def test_rates_and_who_distributes():
    assert domain.rates_ok(9000, 1000) and not domain.rates_ok(9000, 1001)
    assert domain.is_distributor(RULES, None)  # who: everyone
    apply = {**RULES, "who": "apply"}
    assert not domain.is_distributor(apply, domain.APPLIED) and domain.is_distributor(apply, domain.ACTIVE)
    assert not domain.is_distributor({**RULES, "enabled": False}, domain.ACTIVE)
    assert domain.auto_approved({**RULES, "who": "min_spend", "min_spend_fen": 100}, 100)
    assert not domain.auto_approved({**RULES, "who": "min_spend", "min_spend_fen": 100}, 99)


def test_binding_rules():
    assert domain.bind_refusal("B", "A", None, []) is None
    assert domain.bind_refusal("A", "A", None, []) == "self"
    assert domain.bind_refusal("B", "A", "Z", []) == "already_bound"
    assert domain.bind_refusal("A", "B", None, ["A"]) == "loop"
    assert domain.bind_refusal("A", "C", None, ["B", "A"]) == "loop"


def test_uplines_lapse_and_self_purchase():
    now = "2026-11-23T04:00:00.000Z"
    assert domain.uplines("B", "A", "Z", None, now, False) == ["A", "Z"]
    assert domain.uplines("B", "A", "Z", "2026-11-22T00:00:00.000Z", now, False) == [None, None]
    assert domain.uplines("B", "A", "Z", None, now, True) == ["B", "A"]
    at = datetime(2026, 11, 23, tzinfo=UTC)
    assert domain.bound_until(at, 0) is None and domain.bound_until(at, 30).day == 23


def test_reversal_is_proportional_cumulative_and_idempotent():
    entries = [{"idx": 0, "amount_fen": 1200, "line_payable_fen": 6000, "reversed_fen": 0}]
    after, taken = domain.reverse_lines(entries, {0: 2400})
    assert taken == 480 and after[0]["reversed_fen"] == 480
    again, none = domain.reverse_lines(after, {0: 2400})
    assert none == 0 and again == after
    rest, more = domain.reverse_lines(after, {0: 6000})  # the rest of the line: all of it back
    assert more == 720 and rest[0]["reversed_fen"] == 1200
    assert domain.kept(1196, 5983, 0) == 1196 and domain.kept(1196, 5983, 5983) == 0


def test_withdrawal_rules():
    assert domain.withdrawal_fee(10000, 60) == 60
    assert domain.withdrawal_refusal(99, 1000, 100) == "too_small"
    assert domain.withdrawal_refusal(1001, 1000, 100) == "insufficient"
    assert domain.withdrawal_refusal(100, -5, 100) == "insufficient"
    # to WeChat change: what is paid out (after the fee) stays below WeChat's real-name threshold
    assert domain.withdrawal_refusal(200_000, 300_000, 100, "wechat") == "too_large"
    assert domain.withdrawal_refusal(200_000, 300_000, 100, "wechat", net_fen=199_999) is None
    assert domain.withdrawal_refusal(200_000, 300_000, 100, "wallet") is None
    assert domain.withdrawal_refusal(1000, 1000, 100) is None


def test_invite_cap_month_is_the_beijing_month_and_zero_means_no_cap():
    from zoneinfo import ZoneInfo

    bj = ZoneInfo("Asia/Shanghai")
    assert domain.cap_month(datetime(2026, 11, 30, 16, 30, tzinfo=UTC), bj) == "2026-12"  # 00:30 on 1 December
    assert domain.cap_month(datetime(2026, 11, 30, 15, 59, tzinfo=UTC), bj) == "2026-11"
    assert not domain.capped(0) and domain.capped(1)


def test_invite_outcome_and_conversion_rates():
    assert domain.invite_outcome("already") == (domain.INVITE_ALREADY, "already_counted")
    assert domain.invite_outcome("sold_out") == (domain.INVITE_SKIPPED, "sold_out")
    assert domain.invite_outcome(None) == (domain.INVITE_SKIPPED, "unknown")
    assert domain.rate_bp(2, 3) == 6666 and domain.rate_bp(3, 4) == 7500 and domain.rate_bp(5, 0) == 0
