"""Business metrics: each committed order, applied payment and relayed event is one EMF count, once, whatever
is retried or redelivered."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from chalicelib.core import clock
from chalicelib.orders import payment as order_payment
from tests.helpers import drain_events, token_for

NOON = datetime(2026, 11, 23, 4, 0, tzinfo=UTC)  # a Monday, 12:00 in Chongqing: every demo store is open


@pytest.fixture(autouse=True)
def noon(monkeypatch):
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)
    clock.set_clock(lambda: NOON)


def _counts(out: str) -> list[tuple[str, dict, float]]:
    """(metric, dimensions, value) of every EMF line printed."""
    found = []
    for line in out.splitlines():
        if not line.startswith("{") or '"_aws"' not in line:
            continue
        doc = json.loads(line)
        directive = doc["_aws"]["CloudWatchMetrics"][0]
        assert directive["Namespace"] == "omnistore"
        dims = {d: doc[d] for d in directive["Dimensions"][0] if d != "service"}
        for m in directive["Metrics"]:
            value = doc[m["Name"]]
            found.append((m["Name"], dims, sum(value) if isinstance(value, list) else value))
    return found


def test_orders_payments_and_relayed_events_are_counted_once(api, world, capsys):
    world.receive(world.a, {"CQ-BEER-500": 12})
    buyer = token_for("member", sub="01JBUYER000000000000000000")
    body = {"lines": [{"sku": "CQ-BEER-500", "qty": 2}], "fulfillment": "pickup", "store_id": world.a}
    h = {"Idempotency-Key": "metrics-cart-1"}
    capsys.readouterr()
    o = api.post("/shop/orders", body, token=buyer, headers=h).json
    assert api.post("/shop/orders", body, token=buyer, headers=h).headers["Idempotent-Replayed"] == "true"
    for _ in range(3):  # WeChat redelivers the notification
        order_payment.apply_payment(o["order_id"], "T-METRICS-1", o["payable_fen"], "wechat", None)
    sale = {"lines": [{"sku": "CQ-BEER-500", "qty": 1}], "payment": {"method": "cash", "tendered_fen": 1000}}
    assert api.post("/pos/sales", sale, token=world.clerk_a, headers={"Idempotency-Key": "till-m-1"}).status == 201
    counts = _counts(capsys.readouterr().out)
    assert counts.count(("OrdersCreated", {"channel": "shop", "store_id": world.a}, 1.0)) == 1
    assert counts.count(("OrdersCreated", {"channel": "pos", "store_id": world.a}, 1.0)) == 1
    assert counts.count(("PaymentsApplied", {"method": "wechat"}, 1.0)) == 1
    assert len([c for c in counts if c[0] == "OrdersCreated"]) == 2

    events = drain_events()
    relayed = [c for c in _counts(capsys.readouterr().out) if c[0] == "EventsRelayed"]
    assert sum(v for _, _, v in relayed) >= len(events) > 0


def test_sms_outcomes_are_counted_by_outcome(api, capsys):
    from chalicelib.sms import services as sms

    alert = {"store": "解放碑店", "printer": "前台", "time": "11-23 12:00"}
    body = json.dumps(sms.message("printer_offline", "13800138000", alert, "metrics-sms-1"))
    capsys.readouterr()
    sms.handle_sms_record(body)
    sms.handle_sms_record(body)  # redelivered: a duplicate, not a second send
    counts = _counts(capsys.readouterr().out)
    assert ("SmsMessages", {"outcome": "sent"}, 1.0) in counts
    assert ("SmsMessages", {"outcome": "duplicate"}, 1.0) in counts
    assert len([c for c in counts if c[0] == "SmsMessages"]) == 2
