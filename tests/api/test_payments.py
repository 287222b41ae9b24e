"""WeChat Pay at the API: prepay through the sandbox, then its signed, encrypted notification through the
real verification code of /webhooks/wechatpay."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.core import clock
from chalicelib.identity import repository as members
from chalicelib.payments import domain as paydomain
from chalicelib.payments import sandbox
from tests.helpers import drain_events, token_for

NOON = datetime(2026, 11, 23, 4, 0, tzinfo=UTC)


@pytest.fixture
def paying(api, world):
    clock.set_clock(lambda: NOON)
    sandbox.clear()
    members.create_member("01JPAYER000000000000000000", "wx-payer-openid", None, "13900001111", "小李")
    buyer = token_for("member", sub="01JPAYER000000000000000000")
    world.receive(world.a, {"MT-53-500": 3})
    order = api.post("/shop/orders", {"lines": [{"sku": "MT-53-500", "qty": 1}], "store_id": world.a}, token=buyer).json
    return buyer, order


def post_notification(api, headers, body):
    return api.call("POST", "/webhooks/wechatpay", raw=body, headers=headers)


def test_pay_returns_signed_prepay_and_the_notification_pays_once(api, world, paying):
    buyer, order = paying
    r = api.post(f"/shop/orders/{order['order_id']}/pay", {"method": "wechat"}, token=buyer)
    assert r.status == 200, r
    p = r.json["prepay"]
    assert p["package"].startswith("prepay_id=") and p["signType"] == "RSA" and p["paySign"]
    msg = f"{p['appId']}\n{p['timeStamp']}\n{p['nonceStr']}\n{p['package']}\n".encode()
    assert paydomain.rsa_verify(sandbox.merchant_public_key(), msg, p["paySign"])
    drain_events()
    statuses = []
    for i in range(15):  # WeChat retries a notification up to 15 times
        clock.set_clock(lambda i=i: NOON + timedelta(seconds=30 * i))
        headers, body = sandbox.pending_notification(order["order_id"])
        statuses.append(post_notification(api, headers, body).status)
    assert statuses == [204] * 15
    got = api.get(f"/shop/orders/{order['order_id']}", token=buyer).json
    assert got["status"] == "PAID" and got["payment"]["method"] == "wechat"
    assert got["payment"]["transaction_id"]
    assert [e["type"] for e in drain_events()].count("OrderPaid") == 1


def test_bad_notifications_change_nothing(api, world, paying):
    buyer, order = paying
    api.post(f"/shop/orders/{order['order_id']}/pay", {"method": "wechat"}, token=buyer)
    headers, body = sandbox.pending_notification(order["order_id"])
    # a flipped byte in the body: the signature no longer matches
    tampered = body.replace(b'"id"', b'"iD"', 1)
    r = post_notification(api, headers, tampered)
    assert r.status == 401 and r.json["code"] == "FAIL" and "SIGNATURE_INVALID" in r.json["message"]
    # a forged signature
    r = post_notification(api, {**headers, "Wechatpay-Signature": "AAAA" + headers["Wechatpay-Signature"][4:]}, body)
    assert r.status == 401
    # an unknown platform key serial
    r = post_notification(api, {**headers, "Wechatpay-Serial": "DEADBEEF"}, body)
    assert r.status == 401 and "UNKNOWN_SERIAL" in r.json["message"]
    # a notification signed 6 minutes ago
    clock.set_clock(lambda: NOON - timedelta(minutes=6))
    old_headers, old_body = sandbox.pending_notification(order["order_id"])
    clock.set_clock(lambda: NOON)
    r = post_notification(api, old_headers, old_body)
    assert r.status == 401 and "TIMESTAMP_STALE" in r.json["message"]
    # the wrong amount, correctly signed: recorded as an anomaly and acknowledged (a retry cannot fix it)
    h2, b2 = sandbox.pending_notification(order["order_id"], amount_fen=order["payable_fen"] - 1)
    r = post_notification(api, h2, b2)
    assert r.status == 204
    # garbage
    assert post_notification(api, headers, b"not json").status in (400, 401)
    assert post_notification(api, {}, body).status == 401
    assert api.get(f"/shop/orders/{order['order_id']}", token=buyer).json["status"] == "PENDING_PAYMENT"
    assert [e["type"] for e in drain_events()].count("OrderPaid") == 0
    # and the genuine one still works afterwards
    h, b = sandbox.pending_notification(order["order_id"])
    assert post_notification(api, h, b).status == 204
    assert api.get(f"/shop/orders/{order['order_id']}", token=buyer).json["status"] == "PAID"


def test_not_success_is_acknowledged_without_paying(api, world, paying):
    buyer, order = paying
    api.post(f"/shop/orders/{order['order_id']}/pay", {"method": "wechat"}, token=buyer)
    h, b = sandbox.pending_notification(order["order_id"], trade_state="CLOSED")
    assert post_notification(api, h, b).status == 204
    assert api.get(f"/shop/orders/{order['order_id']}", token=buyer).json["status"] == "PENDING_PAYMENT"


def test_refund_of_a_wechat_order_goes_through_the_provider(api, world, paying):
    buyer, order = paying
    api.post(f"/shop/orders/{order['order_id']}/pay", {"method": "wechat"}, token=buyer)
    h, b = sandbox.pending_notification(order["order_id"])
    post_notification(api, h, b)
    r = api.post(
        f"/shop/orders/{order['order_id']}/refunds",
        {"reason": "不想要了"},
        token=buyer,
        headers={"Idempotency-Key": "refund-1"},
    )
    assert r.status == 201 and r.json["status"] == "PROCESSING" and r.json["method"] == "wechat"
    again = api.post(
        f"/shop/orders/{order['order_id']}/refunds",
        {"reason": "不想要了"},
        token=buyer,
        headers={"Idempotency-Key": "refund-1"},
    )
    assert again.json == r.json
    assert api.get(f"/shop/orders/{order['order_id']}", token=buyer).json["status"] == "REFUNDED"
    assert world.stock(world.a)["MT-53-500"] == 3
    h, b = sandbox.pending_refund_notification(r.json["refund_id"])
    assert post_notification(api, h, b).status == 204
    got = api.get(f"/shop/orders/{order['order_id']}/refunds", token=buyer).json
    assert [x["status"] for x in got] == ["COMPLETED"]


def test_pos_wechat_scan_sale(api, world):
    world.receive(world.a, {"CQ-BEER-500": 5})
    ok = api.post(
        "/pos/sales",
        {
            "lines": [{"sku": "CQ-BEER-500", "qty": 2}],
            "payment": {"method": "wechat_scan", "auth_code": "134567890123456789"},
        },
        token=world.clerk_a,
    )
    assert ok.status == 201, ok
    assert ok.json["payment"]["transaction_id"] and ok.json["status"] == "COMPLETED"
    declined = api.post(
        "/pos/sales",
        {
            "lines": [{"sku": "CQ-BEER-500", "qty": 1}],
            "payment": {"method": "wechat_scan", "auth_code": "999999999999999999"},
        },
        token=world.clerk_a,
    )
    assert (declined.status, declined.code) == (409, "PAYMENT_DECLINED")
    assert world.stock(world.a)["CQ-BEER-500"] == 3


def test_pos_wechat_scan_refund_and_retry_with_the_same_key(api, world):
    world.receive(world.a, {"CQ-BEER-500": 5})
    body = {
        "lines": [{"sku": "CQ-BEER-500", "qty": 2}],
        "payment": {"method": "wechat_scan", "auth_code": "134567890123456789"},
    }
    h = {"Idempotency-Key": "till-2-0042"}
    first = api.post("/pos/sales", body, token=world.clerk_a, headers=h)
    again = api.post("/pos/sales", body, token=world.clerk_a, headers=h)
    assert first.status == again.status == 201 and first.json == again.json
    assert world.stock(world.a)["CQ-BEER-500"] == 3
    r = api.post(f"/pos/orders/{first.json['order_id']}/refunds", {"reason": "顾客退货"}, token=world.clerk_a)
    assert r.status == 201 and r.json["status"] == "PROCESSING" and r.json["amount_fen"] == 1200
    assert world.stock(world.a)["CQ-BEER-500"] == 5
    # WeChat's notification names the till's trade number, not the order id: the refund is found by its id
    h, b = sandbox.pending_refund_notification(r.json["refund_id"])
    assert post_notification(api, h, b).status == 204
    got = api.get(f"/pos/orders/{first.json['order_id']}/refunds", token=world.clerk_a).json
    assert [x["status"] for x in got] == ["COMPLETED"]
