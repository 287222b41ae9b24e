"""SMS rules without I/O: templates, phone numbers, quiet hours (BUSINESS_TZ, spanning midnight), limit buckets."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from chalicelib.core import money, phones
from chalicelib.sms import domain as d

pytestmark = pytest.mark.clock  # depends on the time of day / weekday: make test-clock pins it

CQ = ZoneInfo("Asia/Shanghai")


def local(h, m=0, s=0, day=23):
    return datetime(2026, 11, day, h, m, s, tzinfo=CQ)


@pytest.mark.parametrize(
    "t, quiet",
    [
        (local(20, 59, 59), False),
        (local(21, 0), True),
        (local(23, 59), True),
        (local(0, 0), True),
        (local(8, 59, 59), True),
        (local(9, 0), False),
        (local(12, 0), False),
    ],
)
def test_quiet_hours_span_midnight(t, quiet):
    assert d.in_quiet_hours(t, "21:00", "09:00") is quiet


def test_quiet_hours_within_a_day_and_when_they_end():
    assert d.in_quiet_hours(local(13, 0), "12:00", "14:00") and not d.in_quiet_hours(local(14, 0), "12:00", "14:00")
    assert d.quiet_ends(local(22, 30)) == local(9, 0, day=24)
    assert d.quiet_ends(local(3, 0)) == local(9, 0)
    assert d.day_bucket(d.quiet_ends(local(22, 30))) == "2026-11-24"


def test_buckets_use_the_local_day():
    utc_evening = datetime(2026, 11, 23, 16, 30, tzinfo=ZoneInfo("UTC"))  # 00:30 on the 24th in Chongqing
    assert d.day_bucket(utc_evening.astimezone(CQ)) == "2026-11-24"
    assert d.minute_bucket(local(9, 5, 30)) == "2026-11-23T09:05"
    assert d.seconds_to_next_minute(local(9, 5, 30)) == 30
    assert d.seconds_to_next_minute(local(9, 5, 0)) == 60
    assert d.seconds_to_next_minute(local(9, 5, 59)) == 1


@pytest.mark.parametrize(
    "raw, phone",
    [
        ("13800138000", "13800138000"),
        ("+86 138 0013 8000", "13800138000"),
        ("8613800138000", "13800138000"),
        ("0086-138-0013-8000", "13800138000"),
        ("138-0013-8000", "13800138000"),
        ("023-63812166", None),
        ("12800138000", None),
        ("1380013800", None),
        ("", None),
        (None, None),
        ("+1 415 555 0100", None),
        ("13800138000x", None),
    ],
)
def test_phone_numbers(raw, phone):
    assert phones.normalize(raw) == phone


def test_templates_and_parameters():
    t = d.template("order_paid")
    assert t.category == d.NOTICE and t.params == ("store", "order", "amount", "code")
    params = d.check_params(
        t, {"store": "烟酒行·解放碑店", "order": "7K3QZD", "amount": money.yuan(1234), "code": 482913}
    )
    assert params["amount"] == "12.34" and params["code"] == "482913"
    assert (
        d.render(t, params, "烟酒行")
        == "【烟酒行】您在烟酒行·解放碑店的订单7K3QZD已支付12.34元，取货码482913，我们正在备货。"
    )
    long = d.check_params(t, {**params, "store": "长" * 50})
    assert len(long["store"]) == d.MAX_PARAM_LEN and long["store"].endswith("…")
    assert d.check_params(t, {**params, "store": "a\nb\tc"})["store"] == "a b c"
    with pytest.raises(d.TemplateError):
        d.check_params(t, {"store": "x"})
    with pytest.raises(d.TemplateError):
        d.check_params(t, {**params, "extra": "x"})
    with pytest.raises(d.TemplateError):
        d.template("nope")
    assert d.template("marketing_notice").category == d.MARKETING
    assert {t.category for t in d.TEMPLATES.values()} == {d.NOTICE, d.ALERT, d.MARKETING}


def test_small_helpers():
    assert phones.mask("13812345678") == "138****5678"
    assert d.short_order("01JQ7ZK5W3M8N9P2R4T6V8X0YZ") == "V8X0YZ"
    assert money.yuan(5) == "0.05" and money.yuan(120000) == "1200.00"
    assert money.yuan(-5) == "-0.05" and money.yuan(-12345) == "-123.45" and money.yuan(0) == "0.00"
    assert d.local_time("2026-11-23T13:05:00.000Z", CQ) == "11-23 21:05"
    assert d.local_time(None, CQ) == "-" and d.local_time("garbage", CQ) == "-"
