"""Campaign rules without AWS: schedules (EventBridge syntax, UTC), segment rules, rule tags, per-member plans."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from chalicelib.campaigns import domain

T0 = datetime(2026, 12, 2, 2, 0, tzinfo=UTC)  # a Wednesday


@pytest.mark.parametrize(
    "expr, after, fire",
    [
        ("cron(30 1 * * ? *)", T0, datetime(2026, 12, 3, 1, 30, tzinfo=UTC)),
        ("cron(0 2 * * ? *)", T0, datetime(2026, 12, 3, 2, 0, tzinfo=UTC)),  # strictly after
        ("cron(0 10 ? * MON-FRI *)", T0, datetime(2026, 12, 2, 10, 0, tzinfo=UTC)),
        ("cron(0 10 ? * 6 *)", T0, datetime(2026, 12, 4, 10, 0, tzinfo=UTC)),  # 6 = FRI (1 = SUN)
        ("cron(0 10 ? * FRI#1 *)", T0, datetime(2026, 12, 4, 10, 0, tzinfo=UTC)),
        ("cron(0 0 L * ? *)", T0, datetime(2026, 12, 31, 0, 0, tzinfo=UTC)),
        ("cron(0/15 * * * ? *)", T0, datetime(2026, 12, 2, 2, 15, tzinfo=UTC)),
        ("cron(0 0 1 1 ? 2026)", T0, None),  # no fire time left
    ],
)
def test_cron_schedules_fire_as_eventbridge_in_utc(expr, after, fire):
    s = domain.parse_schedule(expr)
    assert s.next_after(after, T0) == fire


def test_rates_count_from_their_anchor_and_at_fires_once():
    s = domain.parse_schedule("rate(7 days)")
    assert s.next_after(T0, T0) == datetime(2026, 12, 9, 2, 0, tzinfo=UTC)
    assert s.next_after(datetime(2026, 12, 10, tzinfo=UTC), T0) == datetime(2026, 12, 16, 2, 0, tzinfo=UTC)
    at = domain.parse_schedule({"at": datetime(2026, 12, 24, 12, 0, tzinfo=UTC)})
    assert at.next_after(T0, T0) == datetime(2026, 12, 24, 12, 0, tzinfo=UTC)
    assert at.next_after(datetime(2026, 12, 24, 12, 0, tzinfo=UTC), T0) is None


@pytest.mark.parametrize(
    "bad",
    ["cron(0 2 * * * *)", "cron(0 2 ? * ? *)", "cron(0 2 * *)", "cron(99 2 * * ? *)", "rate(0 days)",
     "rate(1 days)", "rate(2 day)", "rate(5 weeks)", "daily", "cron(0 2 LW * ? *)", "cron(0 10 ? * 8 *)"],
)  # fmt: skip
def test_invalid_schedules_are_refused(bad):
    with pytest.raises(domain.ScheduleError):
        domain.parse_schedule(bad)


TODAY = date(2026, 12, 2)


def stats(**kw) -> domain.Stats:
    return domain.Stats(member_id="M1", **kw)


def test_segment_rules_all_hold():
    s = stats(
        level_id="gold",
        last_order_day="2026-08-01",
        orders=4,
        spend_fen=90000,
        birthday="1990-12-02",
        registered_day="2025-01-01",
        store_ids=["S1"],
        tags=["vip"],
        rule_tags=["dormant"],
    )
    assert domain.matches(s, {"last_order_days_min": 90, "tags_any": ["vip"], "birthday": "today"}, TODAY)
    assert domain.matches(s, {"level_ids": ["gold"], "store_ids": ["S1"], "registered_days_min": 300}, TODAY)
    assert not domain.matches(s, {"tags_none": ["dormant"]}, TODAY)
    assert not domain.matches(s, {"last_order_days_max": 30}, TODAY)
    assert not domain.matches(s, {"spend_fen_min": 100000}, TODAY)
    assert not domain.matches(s, {"orders_max": 3}, TODAY)
    assert not domain.matches(stats(), {"last_order_days_min": 0}, TODAY)  # never ordered: no recency
    assert domain.matches(s, {"birthday": "this_month"}, TODAY)


def test_29_february_birthdays_are_the_28th_in_other_years():
    assert domain.birthday_matches("2000-02-29", "today", date(2027, 2, 28))
    assert not domain.birthday_matches("2000-02-29", "today", date(2028, 2, 28))
    assert domain.birthday_days("today", date(2027, 2, 28)) == ["28", "29"]


def test_the_driver_is_the_most_selective_index():
    assert domain.driver({"birthday": "today", "tags_any": ["x"]}, TODAY) == domain.Driver(
        "birthday", "12", None, ("02",)
    )
    d = domain.driver({"last_order_days_min": 90, "last_order_days_max": 180}, TODAY)
    assert (d.index, d.lo, d.hi) == ("last_order", "2026-06-05", "2026-09-03")
    assert domain.driver({"tags_any": ["b", "a"]}, TODAY).values == ("a", "b")
    assert domain.driver({"level_ids": ["g"]}, TODAY).index == "level"
    assert domain.driver({}, TODAY).index == "all"


def test_orders_and_refunds_move_the_stats():
    s = stats()
    lines = [{"category": "beer", "payable_fen": 1200}, {"category": "baijiu", "payable_fen": 10000}]
    order = {"payable_fen": 11200, "lines": lines, "store_id": "S1", "paid_at": "2026-12-01T02:00:00.000Z"}
    domain.apply_order(s, order, "2026-12-01")
    assert (s.orders, s.spend_fen, s.category_spend) == (1, 11200, {"beer": 1200, "baijiu": 10000})
    domain.apply_refund(s, {"amount_fen": 10000, "lines": [{"category": "baijiu", "refund_fen": 10000}]}, lines)
    assert (s.orders, s.spend_fen, s.category_spend["baijiu"]) == (1, 1200, 0)
    domain.apply_refund(s, {"amount_fen": 1200, "full": True, "lines": []}, lines)
    assert (s.orders, s.spend_fen) == (0, 0)


def test_rule_tags():
    s = stats(spend_fen=600_000, last_order_day="2026-08-01", category_spend={"beer": 400_000, "baijiu": 200_000})
    s.category_orders = {"beer": 5, "baijiu": 1}
    assert domain.rule_tags(s, TODAY) == ["big_spender", "dormant", "beer_lover"]
    s.rule_tags = ["high_churn_risk"]
    assert "high_churn_risk" in domain.rule_tags(s, TODAY)


def test_the_plan_for_one_member():
    both = [{"type": "coupon"}, {"type": "sms"}]
    assert domain.plan({}, both, None, "ok") == domain.Plan("send", coupon=True, sms=True)
    assert domain.plan({}, both, None, "opted_out") == domain.Plan("send", coupon=True, reason="opted_out")
    assert domain.plan({}, [{"type": "sms"}], None, "quiet_hours") == domain.Plan("skip", reason="quiet_hours")
    assert domain.plan({"wakeups": 3}, both, "dormant_wakeup", "ok").outcome == "churn"
    assert domain.marker_scope("birthday", "20261202T0200Z", T0) == "Y2026"
    assert domain.marker_scope(None, "20261202T0200Z", T0) == "20261202T0200Z"
    assert domain.capped("2026-11-30T00:00:00.000Z", T0, 7) and not domain.capped("2026-11-30T00:00:00.000Z", T0, 1)


def test_a_refund_sets_off_an_active_triggered_campaign_within_its_dates_and_minimum():
    at = datetime(2026, 12, 2, 2, 0, tzinfo=UTC)
    assert domain.trigger_applies("ACTIVE", None, None, None, at, 1)
    assert domain.trigger_applies("ACTIVE", "2026-12-02T02:00:00.000Z", "2026-12-02T02:00:00.000Z", 500, at, 500)
    assert not domain.trigger_applies("PAUSED", None, None, None, at, 1000)
    assert not domain.trigger_applies("ACTIVE", "2026-12-02T02:00:01Z", None, None, at, 1000)  # not started
    assert not domain.trigger_applies("ACTIVE", None, "2026-12-02T01:59:59Z", None, at, 1000)  # over
    assert not domain.trigger_applies("ACTIVE", None, None, 5000, at, 4999)
    assert domain.day_run_id(date(2026, 12, 2)) == "20261202"
