"""SMS at the API: events -> SMS queue -> sender (local outbox), at most once per message key; per-phone limits
and quiet hours with the clock moved; opt-out; contacts; campaigns; the outbox route; the dead-letter alert."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.core import clock, queues
from chalicelib.identity import repository as members
from chalicelib.orders import payment as order_payment
from chalicelib.sms import repository as sms_repo
from chalicelib.sms import services as sms
from chalicelib.sms.jobs import handle_sms
from tests.helpers import drain_events, run_sqs_handler, take_messages, token_for

pytestmark = pytest.mark.clock  # depends on the time of day / weekday: make test-clock pins it

SMS_Q = "omnistore-test-sms"
NOON = datetime(2026, 11, 23, 4, 0, tzinfo=UTC)  # 12:00 in Chongqing
EVENING = datetime(2026, 11, 23, 13, 30, tzinfo=UTC)  # 21:30 in Chongqing


@pytest.fixture
def now():
    t = {"now": NOON}
    clock.set_clock(lambda: t["now"])
    return t


def outbox() -> list[dict]:
    return [dict(o.attribute_values) for o in sms_repo.outbox_all()]


def pump(times: int = 1) -> list[str]:
    drain_events()
    bodies = take_messages(SMS_Q)
    for _ in range(times if bodies else 0):
        assert run_sqs_handler(handle_sms, bodies) == {"batchItemFailures": []}
    return bodies


def msg(template: str, phone: str, params: dict, key: str) -> dict:
    return sms.message(template, phone, params, key)


ALERT = {"store": "解放碑店", "printer": "前台", "time": "11-23 12:00"}


# --------------------------------------------------------------------------------------- from events
def test_an_order_paid_texts_the_customer_once_however_often_it_is_delivered(api, world, now):
    world.receive(world.a, {"CQ-BEER-500": 12})
    members.create_member("01JSMSBUYER000000000000000", "wx-sms-buyer", None, "+86 138-1234-5678", "阿丽")
    buyer = token_for("member", sub="01JSMSBUYER000000000000000")
    order = api.post(
        "/shop/orders",
        {"lines": [{"sku": "CQ-BEER-500", "qty": 2}], "store_id": world.a, "fulfillment": "pickup"},
        token=buyer,
    ).json
    order_payment.apply_payment(order["order_id"], "wx-tx-sms-1", order["payable_fen"], "wechat", None)
    paid = next(b for b in take_messages("omnistore-test-events") if '"OrderPaid"' in b)
    from chalicelib.consumer import handle_events

    assert run_sqs_handler(handle_events, [paid] * 3) == {"batchItemFailures": []}
    bodies = take_messages(SMS_Q)
    assert len(bodies) == 1
    assert run_sqs_handler(handle_sms, bodies * 3) == {"batchItemFailures": []}  # the SMS message x3 too
    assert run_sqs_handler(handle_sms, bodies) == {"batchItemFailures": []}
    sent = outbox()
    assert len(sent) == 1
    assert sent[0]["phone"] == "13812345678" and sent[0]["template"] == "order_paid"
    assert sent[0]["text"] == (
        f"【烟酒行】您在解放碑店的订单{order['order_id'][-6:]}已支付12.00元，"
        f"取货码{order['pickup_code']}，我们正在备货。"
    )
    assert sms_repo.get_message(json.loads(bodies[0])["key"]).status == "sent"

    # the clerk marks it ready: one more message; a till sale texts nobody
    now["now"] += timedelta(minutes=5)
    api.post(f"/pos/orders/{order['order_id']}/accept", token=world.clerk_a)
    api.post(f"/pos/orders/{order['order_id']}/ready", token=world.clerk_a)
    api.post(
        "/pos/sales", {"lines": [{"sku": "CQ-BEER-500", "qty": 1}], "payment": {"method": "cash"}}, token=world.clerk_a
    )
    pump()
    assert [o["template"] for o in outbox()] == ["order_paid", "order_ready"]


def test_low_stock_alerts_the_store_contact_or_head_office(api, world, now):
    api.put("/admin/sms/contacts/HQ", {"phones": ["13900000000"], "name": "总部值班"}, token=world.hq)
    world.receive(world.a, {"CQ-BEER-500": 10})
    world.receive(world.b, {"CQ-BEER-500": 10})
    for store in (world.a, world.b):
        assert (
            api.put(f"/admin/stores/{store}/stock/CQ-BEER-500/threshold", {"threshold": 5}, token=world.hq).status
            == 200
        )
    api.put(f"/admin/sms/contacts/{world.a}", {"phones": ["13800000001", "13800000002"]}, token=world.manager_a)
    for clerk in (world.clerk_a, world.clerk_b):
        api.post(
            "/pos/sales", {"lines": [{"sku": "CQ-BEER-500", "qty": 6}], "payment": {"method": "cash"}}, token=clerk
        )
    for _ in range(3):  # LowStock is published by a subscriber of StockMoved: drain until quiet
        pump()
    got = sorted((o["phone"], o["template"]) for o in outbox())
    assert got == [("13800000001", "low_stock"), ("13800000002", "low_stock"), ("13900000000", "low_stock")]


# --------------------------------------------------------------------------------------- rules
def test_daily_limit_per_phone_with_the_clock_moved(api, now):
    phone = "13800138000"
    outcomes = []
    for i in range(11):
        now["now"] = NOON + timedelta(minutes=i)  # one a minute: the minute rule allows it
        outcomes.append(sms.deliver(msg("printer_offline", phone, ALERT, f"k-{i}")))
    assert outcomes == ["sent"] * 10 + ["limited"]
    assert sms_repo.get_message("k-10").status == "limited"
    now["now"] = datetime(2026, 11, 23, 15, 59, tzinfo=UTC)  # 23:59 the same business day
    assert sms.deliver(msg("printer_offline", phone, ALERT, "k-late")) == "limited"
    now["now"] = datetime(2026, 11, 23, 16, 0, tzinfo=UTC)  # 00:00 the next day in Chongqing
    assert sms.deliver(msg("printer_offline", phone, ALERT, "k-next-day")) == "sent"
    assert sms.deliver(msg("printer_offline", "13800138001", ALERT, "other-phone")) == "sent"
    assert len(outbox()) == 12


def test_one_per_minute_per_template_defers_the_second(api, now):
    phone = "13800138000"
    now["now"] = NOON + timedelta(seconds=10)
    assert sms.deliver(msg("printer_offline", phone, ALERT, "m-1")) == "sent"
    second = msg("printer_offline", phone, ALERT, "m-2")
    assert sms.deliver(second) == "deferred"
    assert (
        sms.deliver(msg("print_failed", phone, {"store": "x", "order": "ABC123", "printer": "p", "attempts": 3}, "m-3"))
        == "sent"
    )  # another template: not limited
    attrs = queues.sqs_client().get_queue_attributes(QueueUrl=queues.queue_url(SMS_Q), AttributeNames=["All"])
    assert attrs["Attributes"]["ApproximateNumberOfMessagesDelayed"] == "1"  # back on the queue, 50 s delay
    assert sms_repo.get_message("m-2") is None  # not claimed: it will be sent
    now["now"] = NOON + timedelta(seconds=60)
    assert sms.deliver(second) == "sent"
    assert sms.deliver(second) == "duplicate"
    assert [o["key"] for o in outbox()].count("m-2") == 1


def test_marketing_waits_for_morning_and_honours_opt_out(api, world, now):
    now["now"] = EVENING
    promo = msg("marketing_notice", "13800138000", {"store": "解放碑店", "content": "新到国窖1573，到店品鉴"}, "c-1")
    assert sms.deliver(promo) == "held"
    assert sms.deliver(promo) == "held"  # held once
    assert (
        sms.deliver(msg("order_ready", "13800138000", {"store": "x", "order": "ABC123", "code": "123456"}, "n-1"))
        == "sent"
    )  # notices are not held
    now["now"] = datetime(2026, 11, 24, 0, 59, tzinfo=UTC)  # 08:59 next morning
    assert sms.release_held() == {"released": 0}
    now["now"] = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)  # 09:00
    assert sms.release_held() == {"released": 1}
    assert sms.release_held() == {"released": 0}
    pump()
    sent = [o for o in outbox() if o["template"] == "marketing_notice"]
    assert len(sent) == 1 and sent[0]["text"].endswith("拒收请回复R")

    # a number that opted out never gets marketing, but still gets its order notices
    r = api.post("/admin/sms/opt-outs", {"phone": "+8613800138009"}, token=world.hq)
    assert r.status == 200 and r.json == {"phone_masked": "138****8009", "marketing": False}
    assert sms.deliver(msg("marketing_notice", "13800138009", {"store": "x", "content": "y"}, "c-2")) == "opted_out"
    assert (
        sms.deliver(msg("order_ready", "13800138009", {"store": "x", "order": "ABC123", "code": "1"}, "n-2")) == "sent"
    )
    assert {o["phone"] for o in outbox() if o["template"] == "marketing_notice"} == {"13800138000"}


def test_members_turn_marketing_off_and_campaigns_respect_it(api, world, now):
    members.create_member("01JOPTOUTMEMBER00000000000", "wx-optout", None, "13700001111", "小王")
    member = token_for("member", sub="01JOPTOUTMEMBER00000000000")
    r = api.put("/shop/sms/marketing", {"subscribed": False}, token=member)
    assert r.status == 200 and r.json == {"phone_masked": "137****1111", "marketing": False}
    h = {"Idempotency-Key": "campaign-1"}
    body = {"phones": ["13700001111", "13700002222", "13700002222"], "content": "周末啤酒买一送一", "store_id": world.a}
    c = api.post("/admin/sms/campaigns", body, token=world.hq, headers=h)
    assert c.status == 202 and c.json["queued"] == 2, c
    again = api.post("/admin/sms/campaigns", body, token=world.hq, headers=h)
    assert again.json == c.json and again.headers["Idempotent-Replayed"] == "true"
    pump()
    assert [o["phone"] for o in outbox()] == ["13700002222"]
    # back on
    assert api.put("/shop/sms/marketing", {"subscribed": True}, token=member).json["marketing"] is True
    assert not sms_repo.opted_out("13700001111")
    # a member without a phone
    members.create_member("01JNOPHONEMEMBER0000000000", "wx-nophone", None, None, None)
    nophone = token_for("member", sub="01JNOPHONEMEMBER0000000000")
    r = api.put("/shop/sms/marketing", {"subscribed": False}, token=nophone)
    assert (r.status, r.code) == (422, "NO_PHONE")


# --------------------------------------------------------------------------------------- routes
@pytest.mark.parametrize(
    "body",
    [
        {"phones": []},
        {"phones": ["023-63812166"]},
        {"phones": ["13800000001"] * 6},
        {"phones": "13800000001"},
        {"phones": [13800000001]},
        {"phones": ["13800000001"], "role": "x"},
        {"phones": ["1" * 5000]},
        {"phones": ["13800000001"], "name": "x" * 101},
    ],
)
def test_contacts_bad_inputs(api, world, body):
    assert api.put(f"/admin/sms/contacts/{world.a}", body, token=world.hq).status == 422


def test_contacts_scope(api, world):
    ok = {"phones": ["13800000001"]}
    assert api.put(f"/admin/sms/contacts/{world.b}", ok, token=world.manager_a).status == 403
    assert api.put("/admin/sms/contacts/HQ", ok, token=world.manager_a).status == 403
    assert api.put(f"/admin/sms/contacts/{world.a}", ok, token=world.clerk_a).status == 403
    assert api.put("/admin/sms/contacts/not-a-store", ok, token=world.hq).status == 404
    assert api.put("/admin/sms/contacts/01JXXXXXXXXXXXXXXXXXXXXXXX", ok, token=world.hq).status == 404
    assert api.put(f"/admin/sms/contacts/{world.a}", ok, token=world.manager_a).status == 200
    assert api.put("/admin/sms/contacts/HQ", {"phones": ["13900000000"]}, token=world.hq).status == 200
    assert [c["scope"] for c in api.get("/admin/sms/contacts", token=world.manager_a).json] == [world.a]
    assert sorted(c["scope"] for c in api.get("/admin/sms/contacts", token=world.hq).json) == sorted([world.a, "HQ"])


def test_campaign_and_opt_out_bad_inputs(api, world):
    hq = world.hq
    good = {"phones": ["13700001111"], "content": "周末特惠"}
    assert api.post("/admin/sms/campaigns", good, token=world.manager_a).status == 403
    for bad in (
        {**good, "phones": []},
        {**good, "phones": ["12345"]},
        {**good, "content": "长" * 36},
        {**good, "content": ""},
        {**good, "store_id": "x"},
        {**good, "extra": 1},
        {**good, "phones": None},
    ):
        assert api.post("/admin/sms/campaigns", bad, token=hq).status == 422, bad
    assert api.post("/admin/sms/campaigns", {**good, "store_id": "01JXXXXXXXXXXXXXXXXXXXXXXX"}, token=hq).status == 404
    assert api.post("/admin/sms/opt-outs", {"phone": "023-63812166"}, token=hq).status == 422
    assert api.post("/admin/sms/opt-outs", {"phone": "13700001111"}, token=world.manager_a).status == 403
    assert api.put("/shop/sms/marketing", {"subscribed": "no"}, token=token_for("member")).status == 422


def test_outbox_is_a_local_stage_route_for_head_office(api, world, now):
    assert api.get("/admin/sms/outbox", token=world.hq).status == 404  # test stage: not there


def test_outbox_on_the_local_stage(api, world, now, stage_local):
    sms.deliver(msg("printer_offline", "13800138000", ALERT, "o-1"))
    now["now"] += timedelta(minutes=1)
    sms.deliver(msg("printer_offline", "13800138001", ALERT, "o-2"))
    r = api.get("/admin/sms/outbox", token=world.hq)
    assert r.status == 200 and [o["key"] for o in r.json["items"]] == ["o-2", "o-1"]  # newest first
    assert r.json["items"][0]["text"].startswith("【烟酒行】解放碑店的打印机前台已离线")
    assert [o["key"] for o in api.get("/admin/sms/outbox?phone=13800138000", token=world.hq).json["items"]] == ["o-1"]
    assert api.get("/admin/sms/outbox?limit=1", token=world.hq).json["next"]
    assert api.get("/admin/sms/outbox", token=world.manager_a).status == 403
    assert api.get("/admin/sms/outbox?limit=0", token=world.hq).status == 422
    assert api.get("/admin/sms/outbox?colour=red", token=world.hq).status == 422


# --------------------------------------------------------------------------------------- dead letters
def test_a_message_in_a_dead_letter_queue_alerts_head_office_once_per_episode(api, world, now):
    api.put("/admin/sms/contacts/HQ", {"phones": ["13900000000"]}, token=world.hq)
    sqs = queues.sqs_client()
    dlq = queues.queue_url("omnistore-test-print-dlq")
    assert sms.watch_dead_letters() == {"alerted": 0}
    sqs.send_message(QueueUrl=dlq, MessageBody='{"kind": "poison"}')
    assert sms.watch_dead_letters() == {"alerted": 1}
    sqs.send_message(QueueUrl=dlq, MessageBody='{"kind": "poison 2"}')
    assert sms.watch_dead_letters() == {"alerted": 0}  # same episode
    pump()
    assert [(o["phone"], o["template"]) for o in outbox()] == [("13900000000", "dead_letters")]
    assert "omnistore-test-print-dlq" in outbox()[0]["text"]
    sqs.purge_queue(QueueUrl=dlq)
    assert sms.watch_dead_letters() == {"alerted": 0}  # empty again: the episode ends
    assert sms_repo.dlq_state("omnistore-test-print-dlq").alerting is False
    now["now"] += timedelta(minutes=10)
    sqs.send_message(QueueUrl=dlq, MessageBody='{"kind": "poison 3"}')
    assert sms.watch_dead_letters() == {"alerted": 1}  # a new episode
    pump()
    assert len(outbox()) == 2
    # an alert that cannot be queued is tried again on the next run
    take_messages("omnistore-test-print-dlq")  # (moto: one purge a minute)
    sms.watch_dead_letters()
    sqs.send_message(QueueUrl=dlq, MessageBody='{"kind": "poison 4"}')

    real = queues.send_many
    queues.send_many = lambda *a, **k: (_ for _ in ()).throw(queues.NotQueued("down"))
    try:
        assert sms.watch_dead_letters() == {"alerted": 0}
    finally:
        queues.send_many = real
    assert sms.watch_dead_letters() == {"alerted": 1}


# --------------------------------------------------------------------------------------- the real provider
@pytest.fixture
def aliyun(monkeypatch):
    from chalicelib.core.settings import get_settings
    from chalicelib.sms import providers
    from tools.fake_aliyun_sms import FakeAliyunSms

    fake = FakeAliyunSms(templates={"SMS_1": ["store", "printer", "time"]}).start()
    monkeypatch.setenv("SMS_PROVIDER", "aliyun")
    monkeypatch.setenv("ALIYUN_SMS_ACCESS_KEY_ID", fake.access_key_id)
    monkeypatch.setenv("ALIYUN_SMS_ACCESS_KEY_SECRET", fake.access_key_secret)
    monkeypatch.setenv("ALIYUN_SMS_ENDPOINT", fake.url)
    monkeypatch.setenv("ALIYUN_SMS_TIMEOUT_S", "0.5")
    monkeypatch.setenv("SMS_TEMPLATE_CODES", json.dumps({"printer_offline": "SMS_1"}))
    get_settings.cache_clear()
    providers.reset()
    yield fake
    fake.stop()
    providers.reset()


def test_delivery_through_the_aliyun_adapter_is_at_most_once(api, now, aliyun):
    first = msg("printer_offline", "13800138000", ALERT, "a-1")
    assert sms.deliver(first) == "sent"
    assert sms.deliver(first) == "duplicate"
    assert len(aliyun.sent) == 1
    record = sms_repo.get_message("a-1")
    assert (record.status, record.provider, record.provider_id) == ("sent", "aliyun", aliyun.sent[0]["biz_id"])

    # the service is down: nothing sent, the claim is given back and the record fails (SQS retries it)
    aliyun.status = 503
    now["now"] += timedelta(minutes=1)
    body = json.dumps(msg("printer_offline", "13800138000", ALERT, "a-2"))
    ok = json.dumps(msg("order_ready", "13800138001", {"store": "x", "order": "ABC123", "code": "1"}, "a-ok"))
    # (the outbox template has no provider code: also "unavailable"; a batch where every record fails raises)
    from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

    with pytest.raises(BatchProcessingError):
        run_sqs_handler(handle_sms, [body, ok])
    assert sms_repo.get_message("a-2") is None
    aliyun.status = 200
    now["now"] += timedelta(minutes=1)
    assert run_sqs_handler(handle_sms, [body]) == {"batchItemFailures": []}
    assert sms_repo.get_message("a-2").status == "sent"

    # no answer after sending: maybe sent - recorded "unknown" and never retried
    aliyun.delay_s = 1.5
    now["now"] += timedelta(minutes=1)
    assert sms.deliver(msg("printer_offline", "13800138000", ALERT, "a-3")) == "unknown"
    aliyun.delay_s = 0
    assert sms.deliver(msg("printer_offline", "13800138000", ALERT, "a-3")) == "duplicate"
    # the provider's own limit: final
    aliyun.fail_next = "isv.BUSINESS_LIMIT_CONTROL"
    now["now"] += timedelta(minutes=1)
    assert sms.deliver(msg("printer_offline", "13800138000", ALERT, "a-4")) == "failed"
    assert sms_repo.get_message("a-4").status == "failed"


def test_coupon_expiry_reminders_are_marketing(api, world, now):
    from chalicelib.core.events import Event, publish

    now["now"] = EVENING  # 21:30: a reminder waits for the morning
    publish(
        [
            Event(
                "CouponExpiring",
                {
                    "member_id": "01JMEMBER0000000000000000A",
                    "phone": "13800138001",
                    "expires_on": "2026-11-26",
                    "count": 2,
                    "title": "新人满100减10",
                    "coupons": [],
                },
            )
        ]
    )
    pump()
    assert outbox() == []
    now["now"] = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)  # 09:00
    assert sms.release_held() == {"released": 1}
    pump()
    sent = outbox()
    assert [(o["phone"], o["template"]) for o in sent] == [("13800138001", "coupon_expiring")]
    assert "2张优惠券（新人满100减10）将于11-26到期" in sent[0]["text"]
