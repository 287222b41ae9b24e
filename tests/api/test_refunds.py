"""Refunds that complete: WeChat answers PROCESSING (the sandbox does too), then its REFUND.* notification or the
scheduled query settles the refund exactly once - one refund ticket per printer, one SMS. Unmatched payment
notifications are recorded as anomalies, head office is told, and WeChat gets its 204."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.core import clock
from chalicelib.identity import repository as members
from chalicelib.orders import sweeps
from chalicelib.payments import sandbox
from chalicelib.printing.jobs import handle_print_requests
from chalicelib.sms import repository as sms_repo
from chalicelib.sms.jobs import handle_sms
from tests.helpers import basic, drain_events, run_sqs_handler, take_messages, token_for

NOON = datetime(2026, 11, 23, 4, 0, tzinfo=UTC)  # Monday 12:00 in Chongqing
BUYER = "01JREFUNDBUYER000000000000"


@pytest.fixture
def now():
    t = {"now": NOON}
    clock.set_clock(lambda: t["now"])
    sandbox.clear()
    return t


@pytest.fixture
def store(api, world, now):
    world.receive(world.a, {"MT-53-500": 3, "CQ-BEER-500": 24})
    r = api.post(
        "/admin/printers", {"store_id": world.a, "mac": "00:11:62:00:0F:01", "name": "前台"}, token=world.hq
    ).json
    api.put(f"/admin/sms/contacts/{world.a}", {"phones": ["13800000001"]}, token=world.manager_a)
    api.put("/admin/sms/contacts/HQ", {"phones": ["13900000000"]}, token=world.hq)
    members.create_member(BUYER, "wx-refund-openid", None, "13812340000", "小王")
    return r


def _paid(api, world, now, lines=None) -> dict:
    buyer = token_for("member", sub=BUYER)
    body = {"lines": lines or [{"sku": "CQ-BEER-500", "qty": 2}], "store_id": world.a}
    order = api.post("/shop/orders", body, token=buyer).json
    assert api.post(f"/shop/orders/{order['order_id']}/pay", {"method": "wechat"}, token=buyer).status == 200
    h, b = sandbox.pending_notification(order["order_id"])
    assert api.call("POST", "/webhooks/wechatpay", raw=b, headers=h).status == 204
    return order


def _pump() -> tuple[list[str], list[dict]]:
    """Events to subscribers, print requests to the print worker, SMS to the sender: (print docs, sms sent)."""
    drain_events()
    prints = take_messages("omnistore-test-print")
    if prints:
        assert run_sqs_handler(handle_print_requests, prints) == {"batchItemFailures": []}
    texts = take_messages("omnistore-test-sms")
    if texts:
        assert run_sqs_handler(handle_sms, texts) == {"batchItemFailures": []}
    return [json.loads(p)["doc"] for p in prints], [dict(o.attribute_values) for o in sms_repo.outbox_all()]


def _refund(api, order) -> dict:
    buyer = token_for("member", sub=BUYER)
    r = api.post(f"/shop/orders/{order['order_id']}/refunds", {"reason": "不要了"}, token=buyer)
    assert r.status == 201 and r.json["status"] == "PROCESSING", r
    return r.json


def _refund_sms(sent: list[dict]) -> list[dict]:
    return [m for m in sent if m["template"] == "refund_completed"]


def test_a_refund_completed_by_its_notification_prints_once_and_texts_once(api, world, store, now):
    order = _paid(api, world, now)
    _pump()
    refund = _refund(api, order)
    docs, sent = _pump()
    assert not [d for d in docs if d.startswith("refund-")] and not _refund_sms(sent)  # still PROCESSING
    now["now"] += timedelta(seconds=10)
    h, b = sandbox.pending_refund_notification(refund["refund_id"])
    for _ in range(3):  # WeChat's retries
        assert api.call("POST", "/webhooks/wechatpay", raw=b, headers=h).status == 204
    buyer = token_for("member", sub=BUYER)
    got = api.get(f"/shop/orders/{order['order_id']}/refunds", token=buyer).json
    assert [x["status"] for x in got] == ["COMPLETED"] and got[0]["completed_at"].endswith("Z")
    # the scheduled query comes later and finds nothing left to do
    assert sweeps.sweep_refunds(now["now"] + timedelta(minutes=5)).get("completed", 0) == 0
    docs, sent = _pump()
    assert docs.count(f"refund-{refund['refund_id']}") == 1
    assert len(_refund_sms(sent)) == 1 and _refund_sms(sent)[0]["phone"] == "13812340000"
    # the refund ticket reaches the printer
    auth = basic(store["printer_id"], store["secret"])
    tickets = []
    while (p := api.post("/cloudprnt", {"printerMAC": store["mac"], "statusCode": "200 OK"}, headers=auth).json)[
        "jobReady"
    ]:
        tok = p["jobToken"]
        tickets.append(api.get(f"/cloudprnt?mac={store['mac']}&type=text/plain&token={tok}", headers=auth).json)
        api.delete(f"/cloudprnt?mac={store['mac']}&code=200%20OK&token={tok}", headers=auth)
    assert sum(1 for t in tickets if "退款" in t.decode("utf-8")) == 1


def test_a_refund_completed_by_the_scheduled_query_prints_once_and_texts_once(api, world, store, now):
    order = _paid(api, world, now)
    refund = _refund(api, order)
    # not due yet, then due but WeChat still PROCESSING (the sandbox settles after SANDBOX_REFUND_DELAY_S)
    assert sweeps.sweep_refunds(now["now"] + timedelta(seconds=30))["read"] == 0
    now["now"] += timedelta(seconds=2)
    assert sweeps.sweep_refunds(now["now"] + timedelta(seconds=61)) == {"read": 1, "completed": 0, "processing": 1}
    # the next query is 5 minutes on; WeChat has paid it by then
    now["now"] += timedelta(minutes=6)
    assert sweeps.sweep_refunds(now["now"])["completed"] == 1
    assert sweeps.sweep_refunds(now["now"] + timedelta(hours=1))["completed"] == 0
    # the notification arrives after all: a duplicate, acknowledged
    h, b = sandbox.pending_refund_notification(refund["refund_id"])
    assert api.call("POST", "/webhooks/wechatpay", raw=b, headers=h).status == 204
    docs, sent = _pump()
    assert docs.count(f"refund-{refund['refund_id']}") == 1
    assert len(_refund_sms(sent)) == 1


def test_an_abnormal_refund_alerts_head_office(api, world, store, now):
    order = _paid(api, world, now)
    refund = _refund(api, order)
    sandbox.settle_refund(refund["refund_id"], "ABNORMAL")
    h, b = sandbox.pending_refund_notification(refund["refund_id"])
    assert api.call("POST", "/webhooks/wechatpay", raw=b, headers=h).status == 204
    assert api.call("POST", "/webhooks/wechatpay", raw=b, headers=h).status == 204
    buyer = token_for("member", sub=BUYER)
    assert api.get(f"/shop/orders/{order['order_id']}/refunds", token=buyer).json[0]["status"] == "ABNORMAL"
    docs, sent = _pump()
    alerts = [m for m in sent if m["template"] == "refund_abnormal"]
    assert [m["phone"] for m in alerts] == ["13900000000"]
    assert not _refund_sms(sent) and not [d for d in docs if d.startswith("refund-")]


def test_unmatched_notifications_are_recorded_once_acknowledged_and_head_office_told(api, world, store, now):
    order = _paid(api, world, now, [{"sku": "MT-53-500", "qty": 1}])
    _pump()
    buyer = token_for("member", sub=BUYER)
    second = api.post("/shop/orders", {"lines": [{"sku": "MT-53-500", "qty": 1}], "store_id": world.a}, token=buyer)
    oid = second.json["order_id"]
    api.post(f"/shop/orders/{oid}/pay", {"method": "wechat"}, token=buyer)
    wrong = sandbox.pending_notification(oid, amount_fen=1)
    for _ in range(3):  # WeChat's retries are acknowledged and recorded once
        assert api.call("POST", "/webhooks/wechatpay", raw=wrong[1], headers=wrong[0]).status == 204
    assert api.get(f"/shop/orders/{oid}", token=buyer).json["status"] == "PENDING_PAYMENT"
    # money for an order we never had
    sandbox.SandboxPaymentClient().prepay(
        order_id="01JUNKNOWN0000000000000000", amount_fen=500, description="x", openid="o", expires_at=now["now"]
    )
    h, b = sandbox.pending_notification("01JUNKNOWN0000000000000000")
    assert api.call("POST", "/webhooks/wechatpay", raw=b, headers=h).status == 204
    listed = api.get("/admin/payments/anomalies", token=world.hq)
    assert listed.status == 200
    assert [a["reason"] for a in listed.json["items"]] == ["unknown_order", "amount_mismatch"]
    assert listed.json["items"][1]["facts"]["amount_fen"] == 1
    assert listed.json["items"][1]["facts"]["success_time"].endswith("Z")
    assert api.get("/admin/payments/anomalies", token=world.manager_a).status == 403
    _, sent = _pump()
    # head office is told (the second alert waits a minute: one message per template per phone per minute)
    assert [m["phone"] for m in sent if m["template"] == "payment_anomaly"] == ["13900000000"]
    # every time in the order is UTC with Z, paid_at (WeChat's +08:00) too
    got = api.get(f"/shop/orders/{order['order_id']}", token=buyer).json
    assert got["paid_at"].endswith("Z") and got["payment"]["paid_at"].endswith("Z")
    times = re.findall(r'"(\d{4}-\d\d-\d\dT[^"]+)"', json.dumps(got))
    assert times and all(t.endswith("Z") for t in times), times


def test_money_for_another_merchant_is_an_anomaly_too(api, world, store, now):
    from chalicelib.payments import domain as paydomain

    tx = paydomain.transaction_resource(
        appid="wxd678efh567hg6787",  # ours (the sandbox's), but another merchant
        mchid="1900000999",
        out_trade_no="01JOTHERSHOP00000000000000",
        transaction_id="4200000000999",
        amount_fen=880,
        openid="o-other",
        success_time="2026-11-23T12:00:00+08:00",
    )
    h, b = sandbox._sign("other-merchant-event-1", "2026-11-23T12:00:00+08:00", tx)
    assert api.call("POST", "/webhooks/wechatpay", raw=b, headers=h).status == 204
    assert api.call("POST", "/webhooks/wechatpay", raw=b, headers=h).status == 204
    items = api.get("/admin/payments/anomalies", token=world.hq).json["items"]
    assert [(a["reason"], a["notification_id"], a["facts"]["mchid"]) for a in items] == [
        ("merchant_mismatch", "other-merchant-event-1", "1900000999")
    ]
