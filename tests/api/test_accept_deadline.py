"""No ignored order: a paid online order nobody accepts is reminded (SMS to the store, the ticket again),
escalated (the store's contacts and head office), then refunded with the customer told - after each store's own
minutes, counted within its opening hours, by a sweep of due items."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.core import clock
from chalicelib.identity import repository as members
from chalicelib.orders import payment as order_payment
from chalicelib.orders import sweeps
from chalicelib.sms.jobs import handle_sms
from tests.helpers import drain_events, run_sqs_handler, take_messages, token_for

NOON = datetime(2026, 11, 23, 4, 0, tzinfo=UTC)  # Monday 12:00 in Chongqing; the stores open 09:00-23:00
BUYER = "01JACCEPTBUYER000000000000"


@pytest.fixture
def now():
    t = {"now": NOON}
    clock.set_clock(lambda: t["now"])
    return t


@pytest.fixture
def shop(api, world, now):
    world.receive(world.a, {"CQ-BEER-500": 24})
    api.put(f"/admin/sms/contacts/{world.a}", {"phones": ["13800000001"]}, token=world.manager_a)
    api.put("/admin/sms/contacts/HQ", {"phones": ["13900000000"]}, token=world.hq)
    members.create_member(BUYER, "wx-accept-openid", None, "13812349999", "老张")
    api.post("/admin/printers", {"store_id": world.a, "mac": "00:11:62:00:0A:01", "name": "前台"}, token=world.hq)
    return world


def _paid(api, world) -> str:
    buyer = token_for("member", sub=BUYER)
    o = api.post("/shop/orders", {"lines": [{"sku": "CQ-BEER-500", "qty": 2}], "store_id": world.a}, token=buyer)
    assert o.status == 201, o
    oid = o.json["order_id"]
    assert order_payment.apply_payment(oid, "4200" + oid[-12:], o.json["payable_fen"], "wechat", None) == "applied"
    return oid


def _effects() -> tuple[list[str], list[tuple[str, str]]]:
    """(print documents requested, (template, phone) of the SMS sent) since the last call."""
    drain_events()
    prints = [json.loads(b)["doc"] for b in take_messages("omnistore-test-print")]
    bodies = take_messages("omnistore-test-sms")
    if bodies:
        assert run_sqs_handler(handle_sms, bodies) == {"batchItemFailures": []}
    return prints, [(json.loads(b)["template"], json.loads(b)["phone"]) for b in bodies]


def at(minutes: float) -> datetime:
    return NOON + timedelta(minutes=minutes)


def test_remind_escalate_then_refund_and_tell_the_customer(api, shop, now):
    oid = _paid(api, shop)
    _effects()
    for minute, expected in ((1, {}), (4.9, {}), (5, {"remind": 1}), (6, {}), (10, {"escalate": 1}), (29, {})):
        now["now"] = at(minute)
        got = {k: v for k, v in sweeps.sweep_accept().items() if k in ("remind", "escalate", "refund") and v}
        assert got == expected, (minute, got)
        if minute == 5:
            prints, texts = _effects()
            assert len(prints) == 1 and prints[0].startswith("reprint-")  # the ticket again
            assert texts == [("accept_reminder", "13800000001")]
        if minute == 10:
            _, texts = _effects()
            assert sorted(texts) == [("accept_escalation", "13800000001"), ("accept_escalation", "13900000000")]
    now["now"] = at(30)
    assert sweeps.sweep_accept()["refund"] == 1
    buyer = token_for("member", sub=BUYER)
    assert api.get(f"/shop/orders/{oid}", token=buyer).json["status"] == "REFUNDED"
    refunds = api.get(f"/shop/orders/{oid}/refunds", token=buyer).json
    assert [(r["status"], r["amount_fen"]) for r in refunds] == [("PROCESSING", 1200)]
    _, texts = _effects()
    assert ("order_auto_refunded", "13812349999") in texts
    assert shop.stock(shop.a)["CQ-BEER-500"] == 24
    # nothing more, ever
    now["now"] = at(90)
    assert sweeps.sweep_accept()["read"] == 0


def test_an_accepted_order_is_left_alone(api, shop, now):
    oid = _paid(api, shop)
    now["now"] = at(3)
    assert api.post(f"/pos/orders/{oid}/accept", token=shop.clerk_a).status == 200
    for minute in (5, 10, 30):
        now["now"] = at(minute)
        assert sweeps.sweep_accept()["read"] == 0
    assert _effects()[1] == [] or all(t[0] == "order_paid" for t in _effects()[1])


def test_deadlines_are_per_store_and_count_only_opening_hours(api, shop, now):
    r = api.patch(
        f"/admin/stores/{shop.a}",
        {"accept_deadlines": {"remind_after_min": 2, "escalate_after_min": None, "refund_after_min": 4}},
        token=shop.manager_a,
    )
    assert r.status == 200 and r.json["accept_deadlines"]["escalate_after_min"] is None
    from chalicelib.stores import services as stores

    stores._chain.clear()
    now["now"] = datetime(2026, 11, 23, 14, 59, tzinfo=UTC)  # 22:59 Chongqing: one open minute left today
    oid = _paid(api, shop)
    now["now"] = datetime(2026, 11, 23, 15, 30, tzinfo=UTC)  # 23:30: closed, the remind is not due
    assert sweeps.sweep_accept().get("remind") == 0
    now["now"] = datetime(2026, 11, 24, 1, 0, 59, tzinfo=UTC)  # 09:00:59 next day: 1 min 59 s of opening time
    assert sweeps.sweep_accept().get("remind") == 0
    now["now"] = datetime(2026, 11, 24, 1, 1, tzinfo=UTC)  # 09:01: two open minutes since payment
    assert sweeps.sweep_accept()["remind"] == 1
    now["now"] = datetime(2026, 11, 24, 1, 2, 59, tzinfo=UTC)
    assert sweeps.sweep_accept().get("refund") == 0
    now["now"] = datetime(2026, 11, 24, 1, 3, tzinfo=UTC)  # 09:03: four open minutes; no escalation step
    result = sweeps.sweep_accept()
    assert result["refund"] == 1 and result["escalate"] == 0
    buyer = token_for("member", sub=BUYER)
    assert api.get(f"/shop/orders/{oid}", token=buyer).json["status"] == "REFUNDED"
