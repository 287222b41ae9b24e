"""Campaigns at the API: member stats from events, tags, segments read from their indexes, campaigns that run on
their schedule (dormant wake-up, birthday), exactly once per member, caps, opt-outs, quiet hours, results."""

from __future__ import annotations

import json
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.campaigns import repository as campaign_repo
from chalicelib.campaigns import services as campaigns
from chalicelib.campaigns.jobs import handle_campaign_batch
from chalicelib.core import clock
from chalicelib.core.dynamo import connection
from chalicelib.core.ids import new_id
from chalicelib.identity import repository as identity
from chalicelib.sms import repository as sms_repo
from tests.helpers import drain_events, member_code, run_sqs_handler, take_messages, token_for

NOW = datetime(2026, 12, 2, 2, 0, tzinfo=UTC)  # Wednesday 10:00 in Shanghai (outside SMS quiet hours)
QUEUE = "omnistore-test-campaigns"
PUSH = {
    "title": "老客回馈满100减10",
    "kind": "amount_off",
    "threshold_fen": 10000,
    "off_fen": 1000,
    "validity": {"valid_days": 7},
    "total_stock": 1000,
    "per_member_limit": 10,
    "purpose": "push",
}
SMS = {"type": "sms", "template": "marketing_notice", "params": {"store": "烟酒行", "content": "好久不见，送您一张券"}}


@pytest.fixture
def now():
    t = {"now": NOW}
    clock.set_clock(lambda: t["now"])
    return t


def member(openid: str, phone: str | None = None) -> str:
    return identity.create_member(new_id(), openid, None, phone, openid).member_id


def sale(api, world, mid: str, sku: str = "CQ-BEER-500", qty: int = 2, coupon_ids=None) -> dict:
    body = {"lines": [{"sku": sku, "qty": qty}], "member_code": member_code(mid), "payment": {"method": "cash"}}
    if coupon_ids:
        body["coupon_ids"] = coupon_ids
    clerk = token_for("clerk", sub="01JC1ERKA00000000000000000", store_id=world.a)  # minted now: clocks move here
    r = api.post("/pos/sales", body, token=clerk, headers={"Idempotency-Key": new_id()})
    assert r.status == 201, r
    return r.json


def push_template(api, hq) -> str:
    r = api.post("/admin/coupon-templates", PUSH, token=hq)
    assert r.status == 201, r
    return r.json["template_id"]


def run_due(at: datetime) -> dict:
    """The dispatcher at ``at``, then every batch it queued through the campaigns queue's handler."""
    result = campaigns.dispatch(at)
    bodies = take_messages(QUEUE)
    if bodies:
        assert run_sqs_handler(handle_campaign_batch, bodies) == {"batchItemFailures": []}
    return {**result, "bodies": bodies}


def head_office() -> str:
    return token_for("hq_admin", sub="01JHQADMIN0000000000000000")  # minted now: the tests move the clock


def runs(api, hq, cid: str) -> list[dict]:
    r = api.get(f"/admin/campaigns/{cid}/runs", token=head_office())
    assert r.status == 200, r
    return r.json["items"]


@contextmanager
def dynamo_reads():
    """Items DynamoDB returned (GetItem, BatchGetItem, Query) and the operations called, while inside."""
    client = connection().client
    seen = {"items": 0, "ops": []}

    def hook(http_response, parsed, model, **kw):
        seen["ops"].append(model.name)
        if model.name == "Query":
            seen["items"] += int(parsed.get("Count", 0))
        elif model.name == "GetItem":
            seen["items"] += 1 if parsed.get("Item") else 0
        elif model.name == "BatchGetItem":
            seen["items"] += sum(len(v) for v in parsed.get("Responses", {}).values())

    client.meta.events.register("after-call.dynamodb", hook, unique_id="count-reads")
    try:
        yield seen
    finally:
        client.meta.events.unregister("after-call.dynamodb", unique_id="count-reads")


def my_coupons(api, mid: str) -> list[dict]:
    return api.get("/shop/me/coupons", token=token_for("member", sub=mid)).json["items"]


def dormant_world(api, world, now) -> dict[str, str]:
    """Three members who last bought 100 days ago (one opted out, one without a phone), one recent buyer."""
    world.receive(world.a, {"CQ-BEER-500": 200, "WLY-52-500": 20})
    m = {
        "a": member("dorm-a", "13800000001"),
        "b": member("dorm-b", "13800000002"),
        "c": member("dorm-c"),
        "d": member("recent-d", "13800000004"),
    }
    now["now"] = NOW - timedelta(days=100)
    for k in ("a", "b", "c"):
        sale(api, world, m[k])
    now["now"] = NOW - timedelta(days=10)
    sale(api, world, m["d"])
    now["now"] = NOW
    drain_events()
    sms_repo.opt_out("13800000002", "member")
    return m


# =========================================================================================== stats
def test_member_stats_follow_orders_and_refunds_exactly_once_per_event(api, world, now):
    world.receive(world.a, {"CQ-BEER-500": 50, "WLY-52-500": 5})
    mid = member("stats-1", "13800000011")
    sale(api, world, mid, "CQ-BEER-500", 3)
    big = sale(api, world, mid, "WLY-52-500", 1)
    events = drain_events()
    s = campaign_repo.stats_of(campaign_repo.get_stats(mid))
    assert (s.orders, s.spend_fen) == (2, 1800 + 109900)
    assert s.category_spend == {"beer": 1800, "baijiu": 109900}
    assert s.last_order_day == "2026-12-02" and s.store_ids == [world.a] and s.registered_day == "2026-12-02"
    # a redelivered OrderPaid changes nothing
    paid = [e for e in events if e["type"] == "OrderPaid"]
    for e in paid:
        campaigns.on_order_paid(e)
    assert campaign_repo.stats_of(campaign_repo.get_stats(mid)).orders == 2
    # a full refund takes the order and its spend back (per category too)
    r = api.post(
        f"/pos/orders/{big['order_id']}/refunds",
        {"lines": [{"sku": "WLY-52-500", "qty": 1}], "reason": "不要了"},
        token=world.manager_a,
        headers={"Idempotency-Key": "refund-big"},
    )
    assert r.status == 201, r
    refunded = [e for e in drain_events() if e["type"] == "RefundCompleted"]
    assert refunded
    campaigns.on_refund_completed(refunded[0])  # redelivered: once
    s = campaign_repo.stats_of(campaign_repo.get_stats(mid))
    assert (s.orders, s.spend_fen, s.category_spend["baijiu"]) == (1, 1800, 0)


# =========================================================================================== tags, segments
def test_tags_by_hand_and_by_rule_and_segments_read_their_indexes(api, world, hq, now):
    m = dormant_world(api, world, now)
    assert api.post("/admin/tags", {"name": "vip"}, token=hq).status == 201
    assert api.post("/admin/tags", {"name": "vip"}, token=hq).code == "TAG_EXISTS"
    assert api.put(f"/admin/members/{m['a']}/tags/nope", token=hq).code == "TAG_NOT_FOUND"
    r = api.put(f"/admin/members/{m['a']}/tags/vip", token=hq)
    assert r.status == 200 and r.json["tags"] == ["vip"], r
    every = api.get("/admin/tags", token=hq).json
    assert {t["name"] for t in every["items"]} >= {"vip", "dormant", "big_spender"} and every["next"] is None
    paged, cursor = [], None
    while True:
        r = api.get("/admin/tags?limit=2" + (f"&next={cursor}" if cursor else ""), token=hq).json
        paged, cursor = paged + r["items"], r["next"]
        if cursor is None:
            break
    assert paged == every["items"]
    # the nightly job: rule tags of the members whose stats changed yesterday or today, and of those who turn
    # dormant today (last order exactly 90 days ago)
    assert campaigns.recompute_rule_tags(NOW) == {"checked": 4, "changed": 3}
    assert campaigns.recompute_rule_tags(NOW)["changed"] == 0
    later = NOW + timedelta(days=80)  # d's last order is 90 days old: d turns dormant, nobody else is read
    assert campaigns.recompute_rule_tags(later) == {"checked": 1, "changed": 1}
    assert "dormant" in api.get(f"/admin/members/{m['b']}/tags", token=hq).json["tags"]

    seg = api.post("/admin/segments", {"name": "沉睡客", "rules": {"last_order_days_min": 90}}, token=hq).json
    with dynamo_reads() as seen:
        p = api.get(f"/admin/segments/{seg['segment_id']}/preview", token=hq)
    assert p.status == 200 and p.json["count"] == 3, p
    assert {s["member_id"] for s in p.json["sample"]} == {m["a"], m["b"], m["c"]}
    assert "Scan" not in seen["ops"]
    segment_reads = seen["items"] - 1  # the segment item itself
    assert segment_reads / 3 <= 1.2
    vip = api.post("/admin/segments", {"name": "vip", "rules": {"tags_any": ["vip"], "orders_min": 1}}, token=hq)
    assert api.get(f"/admin/segments/{vip.json['segment_id']}/preview", token=hq).json["count"] == 1
    none = {"name": "非vip沉睡", "rules": {"last_order_days_min": 90, "tags_none": ["vip"]}}
    seg2 = api.post("/admin/segments", none, token=hq).json
    assert api.get(f"/admin/segments/{seg2['segment_id']}/preview", token=hq).json["count"] == 2
    assert api.get("/admin/segments/01JZZZZZZZZZZZZZZZZZZZZZZZ/preview", token=hq).code == "SEGMENT_NOT_FOUND"


# =========================================================================================== campaigns
def test_a_dormant_segment_campaign_runs_once_per_member_with_caps_opt_outs_and_results(api, world, hq, now):
    m = dormant_world(api, world, now)
    tid = push_template(api, hq)
    seg = api.post("/admin/segments", {"name": "沉睡客", "rules": {"last_order_days_min": 90}}, token=hq).json
    body = {
        "name": "唤醒",
        "segment_id": seg["segment_id"],
        "schedule": "cron(0 2 * * ? *)",
        "actions": [{"type": "coupon", "template_id": tid}, SMS],
        "member_cap_days": 30,
    }
    c = api.post("/admin/campaigns", body, token=hq)
    assert c.status == 201, c
    cid = c.json["campaign_id"]
    assert c.json["next_run_at"] == "2026-12-02T02:00:00.000Z" and c.json["status"] == "ACTIVE"

    with dynamo_reads() as seen:
        first = run_due(NOW)
    assert first["fired"] == 1 and "Scan" not in seen["ops"]
    assert seen["ops"].count("TransactWriteItems") == 2  # the run's start; the 3 members' effects together
    (run,) = runs(api, hq, cid)
    assert run["targeted"] == 3 and run["sent"] == 3 and run["coupons_issued"] == 3, run
    assert run["skipped"] == {
        "cap": 0,
        "opted_out": 1,
        "no_phone": 1,
        "quiet_hours": 0,
        "budget": 0,
        "coupon_unavailable": 0,
    }
    assert [len(my_coupons(api, m[k])) for k in "abcd"] == [1, 1, 1, 0]
    sms = [e["data"] for e in drain_events() if e["type"] == "CampaignSmsRequested"]
    assert [s["member_id"] for s in sms] == [m["a"]]

    # the same batches again (SQS redelivery) and the dispatcher again: nothing new
    assert run_sqs_handler(handle_campaign_batch, first["bodies"]) == {"batchItemFailures": []}
    assert run_due(NOW + timedelta(minutes=1))["fired"] == 0
    assert runs(api, hq, cid) == [run]
    assert [len(my_coupons(api, m[k])) for k in "abc"] == [1, 1, 1]
    assert not [e for e in drain_events() if e["type"] == "CampaignSmsRequested"]

    # tomorrow's run: everyone was contacted within 30 days -> capped
    now["now"] = NOW + timedelta(days=1)
    assert run_due(now["now"])["fired"] == 1
    latest = runs(api, hq, cid)[0]
    assert (latest["targeted"], latest["sent"], latest["skipped"]["cap"]) == (3, 0, 3)

    # a: redeems the campaign coupon in an order: conversion on the first run's results
    coupon = my_coupons(api, m["a"])[0]
    order = sale(api, world, m["a"], "WLY-52-500", 1, coupon_ids=[coupon["coupon_id"]])
    drain_events()
    first_run = runs(api, hq, cid)[-1]
    assert (first_run["redeemed"], first_run["revenue_fen"]) == (1, order["payable_fen"])


def test_quiet_hours_budget_pause_and_resume(api, world, hq, now):
    dormant_world(api, world, now)
    tid = push_template(api, hq)
    seg = api.post("/admin/segments", {"name": "沉睡客", "rules": {"last_order_days_min": 90}}, token=hq).json
    late = NOW.replace(hour=14)  # 22:00 in Shanghai
    body = {
        "name": "夜间",
        "segment_id": seg["segment_id"],
        "schedule": {"at": "2026-12-02T14:00:00Z"},
        "actions": [{"type": "coupon", "template_id": tid}, SMS],
        "budget_coupons": 2,
    }
    cid = api.post("/admin/campaigns", body, token=hq).json["campaign_id"]
    paused = api.post(f"/admin/campaigns/{cid}/pause", token=hq)
    assert paused.json["status"] == "PAUSED" and paused.json["next_run_at"] is None
    assert api.post(f"/admin/campaigns/{cid}/pause", token=hq).code == "CAMPAIGN_STATE"
    assert run_due(late)["fired"] == 0
    now["now"] = late - timedelta(minutes=5)
    assert api.post(f"/admin/campaigns/{cid}/resume", token=hq).json["next_run_at"] == "2026-12-02T14:00:00.000Z"
    now["now"] = late
    assert run_due(late)["fired"] == 1
    (run,) = runs(api, hq, cid)
    assert run["coupons_issued"] == 2 and run["skipped"]["budget"] == 1, run
    assert run["skipped"]["quiet_hours"] == 1  # a's SMS (b opted out, c has no phone)
    assert not [e for e in drain_events() if e["type"] == "CampaignSmsRequested"]
    assert api.get(f"/admin/campaigns/{cid}", token=hq).json["status"] == "ENDED"


def test_the_birthday_recipe_gives_once_a_year_on_the_morning(api, world, hq, now):
    mid = member("bday-1", "13800000021")
    other = member("bday-2", "13800000022")
    assert api.patch("/shop/me", {"birthday": "1990-12-02"}, token=token_for("member", sub=mid)).status == 200
    assert api.patch("/shop/me", {"birthday": "1990-12-03"}, token=token_for("member", sub=other)).status == 200
    drain_events()
    tid = push_template(api, hq)
    body = {
        "name": "生日礼",
        "recipe": "birthday",
        "schedule": "rate(1 hour)",
        "actions": [{"type": "coupon", "template_id": tid}, SMS],
    }
    cid = api.post("/admin/campaigns", body, token=hq).json["campaign_id"]
    run_due(NOW)
    run_due(NOW + timedelta(hours=1))  # fires again the same day: the birthday is given once a year
    latest, first = runs(api, hq, cid)
    assert (first["targeted"], first["sent"]) == (1, 1)
    assert (latest["targeted"], latest["sent"]) == (1, 0)
    assert len(my_coupons(api, mid)) == 1 and my_coupons(api, other) == []
    sms = [e["data"] for e in drain_events() if e["type"] == "CampaignSmsRequested"]
    assert [s["member_id"] for s in sms] == [mid]


def test_dormant_wakeup_stops_after_three_unanswered_tries(api, world, hq, now):
    m = dormant_world(api, world, now)
    tid = push_template(api, hq)
    body = {
        "name": "唤醒三次",
        "recipe": "dormant_wakeup",
        "schedule": "rate(7 days)",
        "actions": [{"type": "coupon", "template_id": tid}],
    }
    cid = api.post("/admin/campaigns", body, token=hq).json["campaign_id"]
    for week in range(5):
        now["now"] = NOW + timedelta(days=7 * week)
        run_due(now["now"])
    found = runs(api, hq, cid)
    assert [r["sent"] for r in reversed(found)] == [3, 3, 3, 0, 0]
    assert [r["churned"] for r in reversed(found)] == [0, 0, 0, 3, 0]
    assert found[0]["targeted"] == 0  # tagged high_churn_risk: left alone
    assert "high_churn_risk" in api.get(f"/admin/members/{m['a']}/tags", token=head_office()).json["tags"]
    assert len(my_coupons(api, m["a"])) == 3


def test_after_a_dispatcher_outage_a_campaign_runs_once_late_and_keeps_its_schedule(api, world, hq, now):
    member("late-1", "13800000031")
    tid = push_template(api, hq)
    body = {"name": "每日问候", "segment_id": None, "schedule": "cron(30 1 * * ? *)", "member_cap_days": 0}
    seg = api.post("/admin/segments", {"name": "全部", "rules": {}}, token=hq).json["segment_id"]
    r = api.post(
        "/admin/campaigns", {**body, "segment_id": seg, "actions": [{"type": "coupon", "template_id": tid}]}, token=hq
    )
    assert r.status == 201, r
    cid = r.json["campaign_id"]
    day = timedelta(days=1)
    first = datetime(2026, 12, 3, 1, 30, tzinfo=UTC)  # 09:30 Beijing, the day after creation
    assert run_due(first + timedelta(minutes=1))["fired"] == 1
    # the dispatcher is down for five days (four fire times missed): one late run, then the next 09:30
    back = first + 5 * day + timedelta(hours=3)
    now["now"] = back
    assert run_due(back)["fired"] == 1
    assert run_due(back + timedelta(minutes=1))["fired"] == 0  # the other missed times are not run one by one
    assert len(runs(api, hq, cid)) == 2
    c = api.get(f"/admin/campaigns/{cid}", token=head_office()).json
    assert c["status"] == "ACTIVE" and c["next_run_at"] == clock.iso(first + 6 * day)


@pytest.mark.parametrize(
    "schedule",
    [
        "cron(0 2 * * * *)",  # both day fields set
        "cron(0 2 * *)",
        "cron(61 2 * * ? *)",
        "rate(0 minutes)",
        "rate(1 minutes)",
        "every day",
        {"at": "2026-12-01T00:00:00Z"},  # in the past
    ],
)
def test_schedules_are_checked_at_creation(api, world, hq, now, schedule):
    tid = push_template(api, hq)
    body = {
        "name": "x",
        "recipe": "birthday",
        "schedule": schedule,
        "actions": [{"type": "coupon", "template_id": tid}],
    }
    r = api.post("/admin/campaigns", body, token=hq)
    assert (r.status, r.code) == (422, "INVALID_SCHEDULE"), r


def test_campaign_bodies_are_checked(api, world, hq, now):
    tid = push_template(api, hq)
    base = {"name": "x", "recipe": "birthday", "schedule": "cron(30 1 * * ? *)"}
    bad_sms = {**base, "actions": [{"type": "sms", "template": "order_paid", "params": {}}]}
    assert api.post("/admin/campaigns", bad_sms, token=hq).code == "INVALID_SMS_TEMPLATE"
    both = {**base, "segment_id": "01JZZZZZZZZZZZZZZZZZZZZZZZ", "actions": [{"type": "coupon", "template_id": tid}]}
    assert api.post("/admin/campaigns", both, token=hq).status == 422
    ok = api.post("/admin/campaigns", {**base, "actions": [{"type": "coupon", "template_id": tid}]}, token=hq)
    assert ok.status == 201 and ok.json["next_run_at"] == "2026-12-03T01:30:00.000Z", ok
    assert api.get("/admin/campaigns", token=hq).json["items"][0]["campaign_id"] == ok.json["campaign_id"]
    assert api.get("/admin/campaigns/01JZZZZZZZZZZZZZZZZZZZZZZZ", token=hq).code == "CAMPAIGN_NOT_FOUND"
    clerk = api.get("/admin/campaigns", token=world.clerk_a)
    assert clerk.status == 403
    assert json.loads(json.dumps(ok.json["actions"])) == [{"type": "coupon", "template_id": tid}]


# =========================================================================================== event-triggered
def refund_all(api, world, order: dict, key: str) -> dict:
    lines = [{"sku": ln["sku"], "qty": ln["qty"]} for ln in order["lines"]]
    r = api.post(
        f"/pos/orders/{order['order_id']}/refunds",
        {"lines": lines, "reason": "不新鲜"},
        token=world.manager_a,
        headers={"Idempotency-Key": key},
    )
    assert r.status == 201, r
    return r.json


def test_a_refund_triggered_campaign_gives_a_consolation_coupon_once_per_refund(api, world, hq, now):
    world.receive(world.a, {"CQ-BEER-500": 50, "WLY-52-500": 5})
    a, b, c = member("cons-a", "13800000031"), member("cons-b", "13800000032"), member("cons-c")
    big_a, small_b = sale(api, world, a, "WLY-52-500", 1), sale(api, world, b, "CQ-BEER-500", 1)
    big_c = sale(api, world, c, "WLY-52-500", 1)
    drain_events()
    sms_repo.opt_out("13800000032", "member")
    tid = push_template(api, hq)
    body = {
        "name": "退款安慰券",
        "trigger": "refund_completed",
        "min_refund_fen": 5000,
        "actions": [{"type": "coupon", "template_id": tid}, SMS],
        "member_cap_days": 0,
        "budget_coupons": 2,
    }
    r = api.post("/admin/campaigns", body, token=hq)
    assert r.status == 201, r
    camp = r.json
    assert (camp["trigger"], camp["min_refund_fen"], camp["schedule"], camp["next_run_at"]) == (
        "refund_completed", 5000, None, None,
    )  # fmt: skip
    cid = camp["campaign_id"]

    refund_all(api, world, big_a, "cons-1")
    refund_all(api, world, small_b, "cons-2")  # 9 yuan: under min_refund_fen, not targeted
    delivered = drain_events()
    assert len(my_coupons(api, a)) == 1 and my_coupons(api, b) == []
    assert [e["data"]["member_id"] for e in delivered if e["type"] == "CampaignSmsRequested"] == [a]
    # the RefundCompleted delivered again: nothing new (once per campaign and refund)
    refunded = [e for e in delivered if e["type"] == "RefundCompleted" and e["data"]["member_id"] == a]
    assert campaigns.on_refund_trigger(refunded[0]) == {cid: "duplicate"}
    assert len(my_coupons(api, a)) == 1

    # paused: a refund meanwhile sets nothing off; resumed: the next one does (c has no phone)
    assert api.post(f"/admin/campaigns/{cid}/pause", token=hq).json["status"] == "PAUSED"
    other = sale(api, world, a, "WLY-52-500", 1)
    drain_events()
    refund_all(api, world, other, "cons-3")
    drain_events()
    assert len(my_coupons(api, a)) == 1
    assert api.post(f"/admin/campaigns/{cid}/resume", token=hq).json["status"] == "ACTIVE"
    refund_all(api, world, big_c, "cons-4")
    drain_events()
    assert len(my_coupons(api, c)) == 1

    # the budget (2 coupons) is spent: a's next refund is counted as budget, no coupon
    third = sale(api, world, a, "WLY-52-500", 1)
    drain_events()
    refund_all(api, world, third, "cons-5")
    drain_events()
    assert len(my_coupons(api, a)) == 1
    (run,) = runs(api, hq, cid)  # one run per Beijing day
    assert run["run_id"] == "20261202" and run["status"] == "TRIGGERED" and run["at"] == "2026-12-01T16:00:00.000Z"
    assert (run["targeted"], run["sent"], run["coupons_issued"]) == (3, 2, 2), run
    assert run["skipped"]["no_phone"] == 1 and run["skipped"]["budget"] == 1, run

    # a's coupon redeemed: conversion on that run
    coupon = my_coupons(api, a)[0]
    order = sale(api, world, a, "WLY-52-500", 1, coupon_ids=[coupon["coupon_id"]])
    drain_events()
    (run,) = runs(api, hq, cid)
    assert (run["redeemed"], run["revenue_fen"]) == (1, order["payable_fen"])


def test_a_refund_triggered_campaign_respects_the_cap_and_its_end(api, world, hq, now):
    world.receive(world.a, {"CQ-BEER-500": 50})
    a = member("cap-a", "13800000041")
    first, second = sale(api, world, a), sale(api, world, a)
    drain_events()
    tid = push_template(api, hq)
    end = (NOW + timedelta(days=1)).isoformat()
    body = {"name": "安慰", "trigger": "refund_completed", "end_at": end, "member_cap_days": 30,
            "actions": [{"type": "coupon", "template_id": tid}]}  # fmt: skip
    cid = api.post("/admin/campaigns", body, token=hq).json["campaign_id"]
    refund_all(api, world, first, "cap-1")
    refund_all(api, world, second, "cap-2")  # the same day: contacted already within 30 days
    drain_events()
    assert len(my_coupons(api, a)) == 1
    (run,) = runs(api, hq, cid)
    assert (run["targeted"], run["sent"], run["skipped"]["cap"]) == (2, 1, 1), run
    now["now"] = NOW + timedelta(days=2)
    assert api.get(f"/admin/campaigns/{cid}", token=head_office()).json["status"] == "ENDED"


@pytest.mark.parametrize(
    "extra",
    [
        {},  # neither schedule nor trigger
        {"schedule": "rate(1 day)", "trigger": "refund_completed"},  # both
        {"trigger": "refund_completed", "recipe": "birthday"},  # a recipe is a scheduled audience
        {"trigger": "order_paid"},
        {"schedule": "rate(1 day)", "recipe": "birthday", "min_refund_fen": 100},  # min_refund_fen needs a trigger
        {"trigger": "refund_completed", "end_at": "2026-12-01T00:00:00Z"},  # already over
    ],
)
def test_triggered_campaign_bodies_are_checked(api, world, hq, now, extra):
    tid = push_template(api, hq)
    body = {"name": "x", "actions": [{"type": "coupon", "template_id": tid}], **extra}
    r = api.post("/admin/campaigns", body, token=hq)
    assert (r.status, r.code) == (422, "INVALID_CAMPAIGN" if "end_at" in extra else "VALIDATION_ERROR"), r


def test_a_recharge_refund_sets_off_its_trigger_once_per_recharge(api, world, hq, now):
    from chalicelib.subscriptions import SUBSCRIPTIONS

    assert any(
        s.event_type == "WalletRechargeRefunded" and s.name == "campaigns.recharge_trigger" for s in SUBSCRIPTIONS
    )
    a = member("rc-a", "13800000051")
    tid = push_template(api, hq)
    body = {"name": "充值退款安慰", "trigger": "recharge_refunded", "min_refund_fen": 10000,
            "actions": [{"type": "coupon", "template_id": tid}]}  # fmt: skip
    cid = api.post("/admin/campaigns", body, token=hq).json["campaign_id"]

    def refunded(principal_fen: int) -> dict:
        data = {"member_id": a, "recharge_id": new_id(), "principal_fen": principal_fen, "bonus_fen": 6621}
        return {"id": new_id(), "type": "WalletRechargeRefunded", "occurred_at": clock.iso(NOW), "data": data}

    event = refunded(41379)
    assert campaigns.on_refund_trigger(event) == {cid: "sent"}
    assert campaigns.on_refund_trigger(event) == {cid: "duplicate"}
    assert campaigns.on_refund_trigger(refunded(5000)) == {}  # under min_refund_fen (the principal paid back)
    assert len(my_coupons(api, a)) == 1
    (run,) = runs(api, hq, cid)
    assert (run["targeted"], run["sent"], run["coupons_issued"]) == (1, 1, 1)
