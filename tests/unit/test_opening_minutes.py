"""Minutes counted within opening hours (accept deadlines) and the next accept-deadline step: pure rules."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from chalicelib.orders import domain as orders
from chalicelib.stores.domain import Period, after_open_minutes

CQ = timezone(timedelta(hours=8))
DAY = [Period(d, "09:00", "23:00") for d in range(1, 8)]
NIGHT = [Period(d, "18:00", "02:00") for d in range(1, 8)]
ALWAYS = [Period(d, "00:00", "00:00") for d in range(1, 8)]


def t(day: int, hh: int, mm: int, ss: int = 0) -> datetime:
    return datetime(2026, 11, day, hh, mm, ss, tzinfo=CQ)


def test_open_time_only_counts():
    assert after_open_minutes(DAY, t(23, 12, 0), 5) == t(23, 12, 5)
    assert after_open_minutes(DAY, t(23, 22, 58), 5) == t(24, 9, 3)  # 2 min tonight, 3 tomorrow
    assert after_open_minutes(DAY, t(23, 3, 0), 5) == t(23, 9, 5)  # paid while closed
    assert after_open_minutes(NIGHT, t(23, 1, 58), 5) == t(23, 18, 3)  # past midnight, then the evening
    assert after_open_minutes(ALWAYS, t(23, 23, 58), 5) == t(24, 0, 3)
    assert after_open_minutes([], t(23, 3, 0), 5) == t(23, 3, 5)  # no hours: always open


def test_next_accept_step_skips_steps_switched_off():
    assert orders.next_accept_step(None, 0) == (1, "remind", 5)
    assert orders.next_accept_step(None, 1) == (2, "escalate", 10)
    assert orders.next_accept_step({"escalate_after_min": None}, 1) == (3, "refund", 30)
    assert orders.next_accept_step({"refund_after_min": None}, 2) is None


def test_delivery_fee_is_waived_only_by_the_threshold():
    assert orders.delivery_fee(2000, 500, None) == 500
    assert orders.delivery_fee(9999, 500, 10000) == 500
    assert orders.delivery_fee(10000, 500, 10000) == 0
