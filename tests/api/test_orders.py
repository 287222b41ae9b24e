"""Online orders and POS sales at the API: quote and routing, checkout without overselling, cancel and the
unpaid sweep, fulfilment with the pickup code, refunds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.core import clock
from chalicelib.orders import payment as order_payment
from chalicelib.orders import sweeps as order_sweeps
from tests.helpers import drain_events, take_messages, token_for

pytestmark = pytest.mark.clock  # depends on the time of day / weekday: make test-clock pins it

NEAR_A = {"lat": 29.5570, "lng": 106.5760}  # a few hundred metres from 解放碑店
NOON = datetime(2026, 11, 23, 4, 0, tzinfo=UTC)  # Monday 12:00 in Chongqing


@pytest.fixture(autouse=True)
def noon():
    clock.set_clock(lambda: NOON)


@pytest.fixture
def buyer():
    return token_for("member", sub="01JBUYER000000000000000000")


def order_body(**kw):
    body = {
        "lines": [{"sku": "MT-53-500", "qty": 1}, {"sku": "CQ-BEER-500", "qty": 6}],
        "fulfillment": "pickup",
        "location": NEAR_A,
    }
    body.update(kw)
    return body


def test_quote_routes_to_the_nearest_store_that_can_fill_the_cart(api, world, buyer):
    world.receive(world.a, {"MT-53-500": 5, "CQ-BEER-500": 48})
    world.receive(world.b, {"MT-53-500": 5, "CQ-BEER-500": 48})
    q = api.post("/shop/quote", order_body(), token=buyer)
    assert q.status == 200, q
    assert q.json["store_id"] == world.a and q.json["problems"] == []
    assert q.json["subtotal_fen"] == 299900 + 6 * 600 == q.json["payable_fen"]
    assert [(ln["sku"], ln["qty"], ln["unit_price_fen"], ln["payable_fen"]) for ln in q.json["lines"]] == [
        ("MT-53-500", 1, 299900, 299900),
        ("CQ-BEER-500", 6, 600, 3600),
    ]
    # the nearest store lacks the baijiu: delivery (5 km radius) routes to the other store
    world.api.post(
        f"/admin/stores/{world.a}/stock/counts", {"lines": [{"sku": "MT-53-500", "counted_qty": 0}]}, token=world.hq
    )
    q = api.post(
        "/shop/quote",
        order_body(
            fulfillment="delivery", address={"name": "张先生", "phone": "13812345678", "detail": "渝中区民族路100号"}
        ),
        token=buyer,
    )
    assert q.json["store_id"] == world.b and q.json["problems"] == []


def test_quote_explains_shortages_and_suggests_a_store(api, world, buyer):
    world.receive(world.a, {"CQ-BEER-500": 2})
    world.receive(world.b, {"CQ-BEER-500": 6})
    q = api.post("/shop/quote", order_body(store_id=world.a), token=buyer)
    assert q.json["store_id"] == world.a
    short = [p for p in q.json["problems"] if p["code"] == "OUT_OF_STOCK"]
    assert {(p["sku"], p["requested"], p["available"]) for p in short} == {("MT-53-500", 1, 0), ("CQ-BEER-500", 6, 2)}
    assert q.json["suggested_store_id"] == world.b
    r = api.post("/shop/orders", order_body(store_id=world.a), token=buyer)
    assert (r.status, r.code) == (409, "OUT_OF_STOCK")
    assert {(s["sku"], s["available"]) for s in r.json["details"]["short"]} == {("MT-53-500", 0), ("CQ-BEER-500", 2)}


def test_consult_only_goods_never_go_in_an_online_cart(api, world, buyer):
    world.receive(world.a, {"CIG-HHL": 10})
    body = order_body(lines=[{"sku": "CIG-HHL", "qty": 1}], store_id=world.a)
    q = api.post("/shop/quote", body, token=buyer)
    assert q.json["problems"][0]["code"] == "CONSULT_ONLY" and q.json["problems"][0]["contact_hint"]
    r = api.post("/shop/orders", body, token=buyer)
    assert (r.status, r.code) == (409, "CONSULT_ONLY")
    assert world.stock(world.a)["CIG-HHL"] == 10
    # at the till it is an ordinary sale
    s = api.post(
        "/pos/sales", {"lines": [{"sku": "CIG-HHL", "qty": 1}], "payment": {"method": "cash"}}, token=world.clerk_a
    )
    assert s.status == 201, s


def test_order_holds_stock_and_is_idempotent(api, world, buyer):
    world.receive(world.a, {"MT-53-500": 2, "CQ-BEER-500": 12})
    h = {"Idempotency-Key": "cart-7f3a"}
    r = api.post("/shop/orders", order_body(store_id=world.a), token=buyer, headers=h)
    assert r.status == 201, r
    o = r.json
    assert o["status"] == "PENDING_PAYMENT" and o["store_id"] == world.a and len(o["pickup_code"]) == 6
    assert o["pay_deadline"] == "2026-11-23T04:15:00.000Z"
    assert world.stock(world.a) == {"MT-53-500": 1, "CQ-BEER-500": 6}
    again = api.post("/shop/orders", order_body(store_id=world.a), token=buyer, headers=h)
    assert again.status == 201 and again.json == o and again.headers["Idempotent-Replayed"] == "true"
    assert world.stock(world.a) == {"MT-53-500": 1, "CQ-BEER-500": 6}
    other = api.post(
        "/shop/orders", order_body(store_id=world.a, lines=[{"sku": "CQ-BEER-500", "qty": 1}]), token=buyer, headers=h
    )
    assert (other.status, other.code) == (409, "IDEMPOTENCY_KEY_REUSED")
    # ledger explains the balance
    led = api.get(f"/admin/stores/{world.a}/stock/MT-53-500/ledger", token=world.hq).json["items"]
    assert led[0]["kind"] == "order_hold" and led[0]["ref_id"] == o["order_id"] and led[0]["delta"] == -1
    assert world.ledger_sum(world.a, "MT-53-500") == 1
    types = [e["type"] for e in drain_events()]
    assert types.count("OrderCreated") == 1


def test_orders_are_private_to_their_member(api, world, buyer):
    world.receive(world.a, {"MT-53-500": 2, "CQ-BEER-500": 12})
    oid = api.post("/shop/orders", order_body(store_id=world.a), token=buyer).json["order_id"]
    assert api.get(f"/shop/orders/{oid}", token=buyer).json["order_id"] == oid
    assert [o["order_id"] for o in api.get("/shop/orders", token=buyer).json["items"]] == [oid]
    stranger = token_for("member", sub="01JSTRANGER000000000000000")
    assert api.get(f"/shop/orders/{oid}", token=stranger).status == 404
    assert api.post(f"/shop/orders/{oid}/cancel", token=stranger).status == 404
    assert api.get("/shop/orders", token=stranger).json["items"] == []
    # the other store's clerk cannot see or touch it (404, like an unknown order: ids cannot be probed); this
    # store's clerk sees it without the pickup code
    assert api.get(f"/pos/orders/{oid}", token=world.clerk_b).code == "ORDER_NOT_FOUND"
    seen = api.get(f"/pos/orders/{oid}", token=world.clerk_a).json
    assert seen["order_id"] == oid and seen["pickup_code"] is None


def test_cancel_returns_stock_once(api, world, buyer):
    world.receive(world.a, {"MT-53-500": 2, "CQ-BEER-500": 12})
    oid = api.post("/shop/orders", order_body(store_id=world.a), token=buyer).json["order_id"]
    c = api.post(f"/shop/orders/{oid}/cancel", token=buyer)
    assert c.status == 200 and c.json["status"] == "CANCELLED" and c.json["cancel_reason"] == "customer"
    assert world.stock(world.a) == {"MT-53-500": 2, "CQ-BEER-500": 12}
    again = api.post(f"/shop/orders/{oid}/cancel", token=buyer)
    assert (again.status, again.code) == (409, "ILLEGAL_STATE")
    assert world.stock(world.a) == {"MT-53-500": 2, "CQ-BEER-500": 12}
    assert world.ledger_sum(world.a, "CQ-BEER-500") == 12


def test_sweep_cancels_only_due_orders_and_reads_only_due_items(api, world, buyer, monkeypatch):
    world.receive(world.a, {"CQ-BEER-500": 30})
    early = api.post(
        "/shop/orders", order_body(store_id=world.a, lines=[{"sku": "CQ-BEER-500", "qty": 3}]), token=buyer
    ).json["order_id"]
    clock.set_clock(lambda: NOON + timedelta(minutes=10))
    late = api.post(
        "/shop/orders", order_body(store_id=world.a, lines=[{"sku": "CQ-BEER-500", "qty": 4}]), token=buyer
    ).json["order_id"]
    assert world.stock(world.a)["CQ-BEER-500"] == 23
    # count what the sweep reads
    from chalicelib.orders import repository

    read_buckets = []
    real_due = repository.due

    def spy(bucket, until, prefix="DUE"):
        items = real_due(bucket, until, prefix)
        read_buckets.append((bucket, [i.order_id for i in items]))
        return items

    monkeypatch.setattr(repository, "due", spy)
    result = order_sweeps.sweep_unpaid(NOON + timedelta(minutes=16))
    assert result == {"read": 1, "cancelled": 1}
    assert api.get(f"/shop/orders/{early}", token=buyer).json["status"] == "CANCELLED"
    assert api.get(f"/shop/orders/{late}", token=buyer).json["status"] == "PENDING_PAYMENT"
    assert world.stock(world.a)["CQ-BEER-500"] == 26
    assert all(ids in ([], [early]) for _, ids in read_buckets)
    # running again, or late, changes nothing more until the second order is due
    assert order_sweeps.sweep_unpaid(NOON + timedelta(minutes=17))["cancelled"] == 0
    assert order_sweeps.sweep_unpaid(NOON + timedelta(minutes=26))["cancelled"] == 1
    assert world.stock(world.a)["CQ-BEER-500"] == 30 == world.ledger_sum(world.a, "CQ-BEER-500")
    # an order left unpaid while the sweep is down for three days is still cancelled, its stock given back
    clock.set_clock(lambda: NOON + timedelta(hours=1))
    stuck = api.post(
        "/shop/orders", order_body(store_id=world.a, lines=[{"sku": "CQ-BEER-500", "qty": 5}]), token=buyer
    ).json["order_id"]
    assert order_sweeps.sweep_unpaid(NOON + timedelta(days=3, hours=2))["cancelled"] == 1
    assert api.get(f"/shop/orders/{stuck}", token=buyer).json["status"] == "CANCELLED"
    assert world.stock(world.a)["CQ-BEER-500"] == 30


def _paid_order(api, world, buyer, **kw):
    world.receive(world.a, {"MT-53-500": 2, "CQ-BEER-500": 12})
    o = api.post("/shop/orders", order_body(store_id=world.a, **kw), token=buyer).json
    assert (
        order_payment.apply_payment(o["order_id"], "4200000001" + o["order_id"][-8:], o["payable_fen"], "wechat", None)
        == "applied"
    )
    return o


def test_fulfilment_pickup_with_code(api, world, buyer):
    o = _paid_order(api, world, buyer)
    oid = o["order_id"]
    assert api.get(f"/shop/orders/{oid}", token=buyer).json["status"] == "PAID"
    assert api.post(f"/pos/orders/{oid}/ready", token=world.clerk_a).code == "ILLEGAL_STATE"  # not accepted yet
    assert api.post(f"/pos/orders/{oid}/accept", token=world.clerk_b).status == 404
    assert api.post(f"/pos/orders/{oid}/accept", token=world.clerk_a).json["status"] == "ACCEPTED"
    assert api.post(f"/pos/orders/{oid}/deliver", token=world.clerk_a).code == "ILLEGAL_STATE"  # pickup order
    assert api.post(f"/pos/orders/{oid}/ready", token=world.clerk_a).json["status"] == "READY"
    wrong = "000000" if o["pickup_code"] != "000000" else "111111"
    r = api.post(f"/pos/orders/{oid}/complete", {"pickup_code": wrong}, token=world.clerk_a)
    assert (r.status, r.code) == (409, "PICKUP_CODE_MISMATCH")
    assert api.post(f"/pos/orders/{oid}/complete", {}, token=world.clerk_a).code == "PICKUP_CODE_REQUIRED"
    assert api.post(f"/pos/orders/{oid}/complete", {"pickup_code": "12ab"}, token=world.clerk_a).status == 422
    done = api.post(f"/pos/orders/{oid}/complete", {"pickup_code": o["pickup_code"]}, token=world.clerk_a)
    assert done.status == 200 and done.json["status"] == "COMPLETED"
    assert api.post(f"/pos/orders/{oid}/complete", {"pickup_code": o["pickup_code"]}, token=world.clerk_a).status == 409
    listed = api.get("/pos/orders?status=COMPLETED", token=world.clerk_a).json["items"]
    assert [x["order_id"] for x in listed] == [oid]
    assert api.get("/pos/orders?status=BOGUS", token=world.clerk_a).status == 422
    types = [e["type"] for e in drain_events()]
    assert types.count("OrderPaid") == 1 and types.count("OrderCompleted") == 1


def test_payment_applies_once_and_checks_amount(api, world, buyer):
    world.receive(world.a, {"MT-53-500": 2, "CQ-BEER-500": 12})
    o = api.post("/shop/orders", order_body(store_id=world.a), token=buyer).json
    with pytest.raises(Exception) as e:
        order_payment.apply_payment(o["order_id"], "T1", o["payable_fen"] - 1, "wechat", None)
    assert getattr(e.value, "code", None) == "AMOUNT_MISMATCH"
    assert api.get(f"/shop/orders/{o['order_id']}", token=buyer).json["status"] == "PENDING_PAYMENT"
    results = [order_payment.apply_payment(o["order_id"], "T1", o["payable_fen"], "wechat", None) for _ in range(3)]
    assert results == ["applied", "duplicate", "duplicate"]
    assert [e["type"] for e in drain_events()].count("OrderPaid") == 1
    # money for a cancelled order is refunded automatically, once
    o2 = api.post(
        "/shop/orders", order_body(store_id=world.a, lines=[{"sku": "CQ-BEER-500", "qty": 1}]), token=buyer
    ).json
    api.post(f"/shop/orders/{o2['order_id']}/cancel", token=buyer)
    assert order_payment.apply_payment(o2["order_id"], "T2", o2["payable_fen"], "wechat", None) == "late"
    assert order_payment.apply_payment(o2["order_id"], "T2", o2["payable_fen"], "wechat", None) == "duplicate"
    assert api.get(f"/shop/orders/{o2['order_id']}", token=buyer).json["status"] == "CANCELLED"
    # that refund is tracked like any other: PROCESSING until WeChat has paid it back, no ticket for the store
    got = api.get(f"/shop/orders/{o2['order_id']}/refunds", token=buyer).json
    assert [(r["status"], r["amount_fen"]) for r in got] == [("PROCESSING", 600)]
    drain_events()
    clock.set_clock(lambda: NOON + timedelta(minutes=2))
    assert order_sweeps.sweep_refunds()["completed"] == 1
    assert api.get(f"/shop/orders/{o2['order_id']}/refunds", token=buyer).json[0]["status"] == "COMPLETED"
    completed = [e for e in drain_events() if e["type"] == "RefundCompleted"]
    assert [e["data"]["refund"]["kind"] for e in completed] == ["late_payment"]
    assert not [m for m in take_messages("omnistore-test-print") if '"kind":"refund"' in m]


def test_pay_route_rules(api, world, buyer):
    world.receive(world.a, {"CQ-BEER-500": 12})
    oid = api.post(
        "/shop/orders", order_body(store_id=world.a, lines=[{"sku": "CQ-BEER-500", "qty": 1}]), token=buyer
    ).json["order_id"]
    assert api.post(f"/shop/orders/{oid}/pay", {"method": "wallet"}, token=buyer).code == "INSUFFICIENT_BALANCE"
    assert api.post(f"/shop/orders/{oid}/pay", {"method": "cash"}, token=buyer).status == 422
    clock.set_clock(lambda: NOON + timedelta(minutes=20))
    assert api.post(f"/shop/orders/{oid}/pay", {"method": "wechat"}, token=buyer).code == "PAY_DEADLINE_PASSED"


def test_pos_sale_uses_the_same_stock_and_prices(api, world):
    world.receive(world.a, {"CQ-BEER-500": 10})
    q = api.post("/pos/quote", {"lines": [{"sku": "CQ-BEER-500", "qty": 4}]}, token=world.clerk_a)
    assert q.json["payable_fen"] == 2400 and q.json["store_id"] == world.a
    h = {"Idempotency-Key": "till-1-0001"}
    s = api.post(
        "/pos/sales",
        {"lines": [{"sku": "CQ-BEER-500", "qty": 4}], "payment": {"method": "cash", "tendered_fen": 5000}},
        token=world.clerk_a,
        headers=h,
    )
    assert s.status == 201, s
    assert s.json["channel"] == "pos" and s.json["status"] == "COMPLETED"
    assert s.json["payment"]["change_fen"] == 2600
    again = api.post(
        "/pos/sales",
        {"lines": [{"sku": "CQ-BEER-500", "qty": 4}], "payment": {"method": "cash", "tendered_fen": 5000}},
        token=world.clerk_a,
        headers=h,
    )
    assert again.json == s.json
    assert world.stock(world.a)["CQ-BEER-500"] == 6
    r = api.post(
        "/pos/sales", {"lines": [{"sku": "CQ-BEER-500", "qty": 7}], "payment": {"method": "cash"}}, token=world.clerk_a
    )
    assert (r.status, r.code) == (409, "OUT_OF_STOCK")
    r = api.post(
        "/pos/sales",
        {"lines": [{"sku": "CQ-BEER-500", "qty": 1}], "payment": {"method": "cash", "tendered_fen": 100}},
        token=world.clerk_a,
    )
    assert r.code == "CASH_SHORT"
    assert (
        api.post(
            "/pos/sales",
            {"lines": [{"sku": "CQ-BEER-500", "qty": 1}], "payment": {"method": "wechat_scan"}},
            token=world.clerk_a,
        ).status
        == 422
    )
    assert (
        api.post(
            "/pos/sales", {"lines": [{"sku": "CQ-BEER-500", "qty": 1}], "payment": {"method": "cash"}}, token=world.hq
        ).status
        == 403
    )  # head office has no till
    assert (
        api.post("/pos/quote", {"lines": [{"sku": "CQ-BEER-500", "qty": 1}]}, token=token_for("member")).status == 403
    )
    assert world.ledger_sum(world.a, "CQ-BEER-500") == 6


@pytest.mark.parametrize(
    "body,field",
    [
        ({"lines": [{"sku": "MT-53-500", "qty": 1.0}], "location": NEAR_A}, "lines.0.qty"),
        ({"lines": [{"sku": "MT-53-500", "qty": 0}], "location": NEAR_A}, "lines.0.qty"),
        ({"lines": [], "location": NEAR_A}, "lines"),
        ({"lines": [{"sku": "MT-53-500", "qty": 1}]}, "body"),
        ({"lines": [{"sku": "MT-53-500", "qty": 1}], "location": NEAR_A, "fulfillment": "drone"}, "fulfillment"),
        ({"lines": [{"sku": "MT-53-500", "qty": 1}], "location": NEAR_A, "fulfillment": "delivery"}, "body"),
        ({"lines": [{"sku": "MT-53-500", "qty": 1}], "location": NEAR_A, "store_id": "x"}, "store_id"),
        ({"lines": [{"sku": "MT-53-500", "qty": 1}], "location": NEAR_A, "price_fen": 1}, "price_fen"),
        ({"lines": [{"sku": f"S{i}", "qty": 1} for i in range(51)], "location": NEAR_A}, "lines"),
    ],
)
def test_order_bad_input(api, world, buyer, body, field):
    r = api.post("/shop/orders", body, token=buyer)
    assert r.status == 422, r
    assert field in [f["field"] for f in r.json["details"].get("fields", [])], r


def test_unknown_sku_in_order_is_422(api, world, buyer):
    r = api.post("/shop/orders", order_body(store_id=world.a, lines=[{"sku": "NOPE", "qty": 1}]), token=buyer)
    assert (r.status, r.code) == (422, "UNKNOWN_SKU")


def test_refunds_whole_and_partial_never_over(api, world, buyer):
    o = _paid_order(api, world, buyer)
    oid = o["order_id"]
    # before the store accepts: the customer's refund of some beer is immediate and the beer goes back
    r = api.post(
        f"/shop/orders/{oid}/refunds", {"lines": [{"sku": "CQ-BEER-500", "qty": 2}], "reason": "买多了"}, token=buyer
    )
    assert r.status == 201, r
    assert r.json["amount_fen"] == 1200 and r.json["status"] == "PROCESSING"  # WeChat pays it back later
    assert world.stock(world.a)["CQ-BEER-500"] == 12 - 6 + 2
    over = api.post(
        f"/shop/orders/{oid}/refunds", {"lines": [{"sku": "CQ-BEER-500", "qty": 5}], "reason": "x"}, token=buyer
    )
    assert (over.status, over.code) == (409, "OVER_REFUND")
    api.post(f"/pos/orders/{oid}/accept", token=world.clerk_a)
    # after acceptance: the customer's refund is a request the store settles at the till
    req = api.post(f"/shop/orders/{oid}/refunds", {"reason": "不要了"}, token=buyer)
    assert req.status == 201 and req.json["status"] == "REQUESTED"
    assert req.json["amount_fen"] == 299900 + 4 * 600
    settled = api.post(  # above a clerk's refund limit: the store manager settles it
        f"/pos/orders/{oid}/refunds", {"reason": "顾客退货", "request_id": req.json["refund_id"]}, token=world.manager_a
    )
    assert settled.status == 201 and settled.json["amount_fen"] == 299900 + 2400
    order = api.get(f"/shop/orders/{oid}", token=buyer).json
    assert order["status"] == "REFUNDED" and order["refunded_fen"] == order["payable_fen"]
    assert api.post(f"/pos/orders/{oid}/refunds", {"reason": "again"}, token=world.clerk_a).code in (
        "ILLEGAL_STATE",
        "OVER_REFUND",
    )
    assert world.stock(world.a) == {"MT-53-500": 2, "CQ-BEER-500": 12}
    for sku, qty in world.stock(world.a).items():
        assert world.ledger_sum(world.a, sku) == qty
    kinds = [x["status"] for x in api.get(f"/shop/orders/{oid}/refunds", token=buyer).json]
    assert sorted(kinds) == ["PROCESSING", "PROCESSING", "SETTLED"]
    assert [e["type"] for e in drain_events()].count("RefundCompleted") == 0
    # WeChat Pay finishes them: the scheduled query settles both, once
    clock.set_clock(lambda: NOON + timedelta(minutes=2))
    assert order_sweeps.sweep_refunds()["completed"] == 2
    clock.set_clock(lambda: NOON + timedelta(minutes=10))
    assert order_sweeps.sweep_refunds()["completed"] == 0
    kinds = [x["status"] for x in api.get(f"/shop/orders/{oid}/refunds", token=buyer).json]
    assert sorted(kinds) == ["COMPLETED", "COMPLETED", "SETTLED"]
    assert [e["type"] for e in drain_events()].count("RefundCompleted") == 2


def test_partial_refunds_add_up_exactly_to_the_line(api, world, buyer):
    world.receive(world.a, {"CQ-BEER-500": 3})
    s = api.post(
        "/pos/sales", {"lines": [{"sku": "CQ-BEER-500", "qty": 3}], "payment": {"method": "cash"}}, token=world.clerk_a
    ).json
    amounts = [
        api.post(
            f"/pos/orders/{s['order_id']}/refunds",
            {"lines": [{"sku": "CQ-BEER-500", "qty": 1}], "reason": "退"},
            token=world.clerk_a,
        ).json["amount_fen"]
        for _ in range(3)
    ]
    assert sum(amounts) == 1800
    assert api.get(f"/pos/orders/{s['order_id']}", token=world.clerk_a).json["status"] == "REFUNDED"


def test_delivery_fee_minimum_order_and_free_threshold_and_the_fee_refunded_with_the_last_line(api, world, buyer):
    from chalicelib.stores import services as stores

    world.receive(world.a, {"CQ-BEER-500": 40})
    r = api.patch(
        f"/admin/stores/{world.a}",
        {"delivery_fee_fen": 500, "delivery_min_order_fen": 2000, "free_delivery_over_fen": 10000},
        token=world.hq,
    )
    assert r.status == 200 and r.json["delivery_fee_fen"] == 500, r
    assert api.patch(f"/admin/stores/{world.a}", {"delivery_fee_fen": 0}, token=world.manager_a).status == 403
    stores._chain.clear()
    address = {"name": "张先生", "phone": "13812345678", "detail": "渝中区民族路100号"}

    def body(qty):
        lines = [{"sku": "CQ-BEER-500", "qty": qty}]
        return order_body(store_id=world.a, fulfillment="delivery", address=address, lines=lines)

    small = api.post("/shop/quote", body(2), token=buyer).json
    assert [p["code"] for p in small["problems"]] == ["BELOW_MINIMUM_ORDER"]
    assert small["problems"][0]["missing_fen"] == 800
    refused = api.post("/shop/orders", body(2), token=buyer)
    assert (refused.status, refused.code) == (409, "BELOW_MINIMUM_ORDER")
    q = api.post("/shop/quote", body(4), token=buyer).json
    assert (q["problems"], q["delivery_fee_fen"], q["discount_fen"], q["payable_fen"]) == ([], 500, 0, 2900)
    free = api.post("/shop/quote", body(17), token=buyer).json
    assert (free["delivery_fee_fen"], free["payable_fen"]) == (0, 10200)
    pickup = api.post(
        "/shop/quote", order_body(store_id=world.a, lines=[{"sku": "CQ-BEER-500", "qty": 1}]), token=buyer
    )
    assert (pickup.json["problems"], pickup.json["delivery_fee_fen"]) == ([], 0)
    # the order carries the fee; refunds give it back with the last line
    o = api.post("/shop/orders", body(4), token=buyer).json
    assert (o["delivery_fee_fen"], o["payable_fen"]) == (500, 2900)
    assert order_payment.apply_payment(o["order_id"], "4200DELIVERY01", 2900, "wechat", None) == "applied"
    first = api.post(
        f"/shop/orders/{o['order_id']}/refunds",
        {"lines": [{"sku": "CQ-BEER-500", "qty": 3}], "reason": "x"},
        token=buyer,
    ).json
    assert (first["amount_fen"], first["delivery_fee_fen"]) == (1800, 0)
    last = api.post(f"/shop/orders/{o['order_id']}/refunds", {"reason": "x"}, token=buyer).json
    assert (last["amount_fen"], last["delivery_fee_fen"]) == (600 + 500, 500)
    got = api.get(f"/shop/orders/{o['order_id']}", token=buyer).json
    assert got["status"] == "REFUNDED" and got["refunded_fen"] == got["payable_fen"] == 2900


def test_a_member_exports_their_data_and_deletes_the_account_once_nothing_is_open(api, world):
    from chalicelib.identity import repository as members

    members.create_member("01JLEAVER00000000000000000", "wx-leaver", None, "13811112222", "要走的人")
    me = token_for("member", sub="01JLEAVER00000000000000000")
    world.receive(world.a, {"CQ-BEER-500": 10})
    address = {"name": "张先生", "phone": "13811112222", "detail": "渝中区民族路100号"}
    o = api.post(
        "/shop/orders",
        order_body(store_id=world.a, lines=[{"sku": "CQ-BEER-500", "qty": 4}], fulfillment="delivery", address=address),
        token=me,
    ).json
    assert order_payment.apply_payment(o["order_id"], "4200LEAVER01", o["payable_fen"], "wechat", None) == "applied"
    blocked = api.delete("/shop/me", token=me)
    assert (blocked.status, blocked.code) == (409, "ACCOUNT_HAS_OPEN_ORDERS")
    assert blocked.json["details"]["order_ids"] == [o["order_id"]]
    for step in ("accept", "deliver", "complete"):
        assert api.post(f"/pos/orders/{o['order_id']}/{step}", {}, token=world.clerk_a).status == 200
    data = api.get("/shop/me/export", token=me)
    assert data.status == 200
    assert data.json["member"]["phone"] == "13811112222" and data.json["member"]["nickname"] == "要走的人"
    assert [x["order_id"] for x in data.json["orders"]] == [o["order_id"]]
    assert data.json["orders"][0]["address"]["detail"] == "渝中区民族路100号"
    gone = api.delete("/shop/me", token=me)
    assert gone.status == 200 and gone.json["orders_kept"] == 1, gone
    # the member's tokens end with the account (valid for days otherwise): 401, whatever the route
    assert (api.get("/shop/me", token=me).status, api.get("/shop/me", token=me).code) == (401, "TOKEN_REVOKED")
    assert api.delete("/shop/me", token=me).code == "TOKEN_REVOKED"
    kept = api.get(f"/pos/orders/{o['order_id']}", token=world.clerk_a).json
    assert kept["status"] == "COMPLETED" and kept["payable_fen"] == o["payable_fen"] and kept["address"] is None
    erased = members.get_member("01JLEAVER00000000000000000")
    assert (erased.status, erased.phone, erased.nickname) == ("deleted", None, None)
    assert members.member_for_openid("wx-leaver") is None  # the same WeChat user would start afresh
    again = api.post("/shop/orders", order_body(store_id=world.a, lines=[{"sku": "CQ-BEER-500", "qty": 1}]), token=me)
    assert (again.status, again.code) == (401, "TOKEN_REVOKED")  # no new order on the old token
