"""The demo's months of history (tools/seed_history.py) on DynamoDB Local: imported through the till's use cases
with the clock in the past; the books take it in (growth, spend, last visit, stock), nothing acts on it now (no
ticket, no SMS, no welcome gift), and it is imported once."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.core import clock, events
from tests.helpers import Api, token_for
from tools import seed, seed_history

NOW = datetime(2026, 12, 4, 4, 0, tzinfo=UTC)  # Friday 12:00 in Chongqing
N = 12


@pytest.fixture
def api(ddb):
    from chalice.test import Client

    from app import app

    clock.set_clock(lambda: NOW)
    with Client(app, stage_name="test") as client:
        yield Api(client)
    clock.set_clock(None)


def _deliver(captured: list) -> list[dict]:
    """Every captured event to its subscribers, in order, including what they report in turn (as the relay and
    the events queue would); returns the envelopes delivered."""
    from chalicelib.subscriptions import SUBSCRIPTIONS

    delivered, i = [], 0
    while i < len(captured):
        body = captured[i].to_json()
        events.handle_record(body, SUBSCRIPTIONS)
        delivered.append(json.loads(body))
        i += 1
    return delivered


def _stock(api, store_id: str) -> dict[str, int]:
    hq = token_for("hq_admin")
    return {i["sku"]: i["qty"] for i in api.get(f"/admin/stores/{store_id}/stock?limit=200", token=hq).json["items"]}


def test_plan_is_deterministic_and_has_dormant_members_and_birthdays_today():
    today = NOW.astimezone(clock.business_tz()).date()
    a, b = seed_history.plan(200, today, clock.business_tz()), seed_history.plan(200, today, clock.business_tz())
    assert a == b and len(a.members) == 200 and len(a.visits) > 400
    last = {}
    for v in a.visits:
        assert today - timedelta(days=seed_history.DAYS) <= v.at.date() < today
        assert v.at >= a.members[v.member].joined  # nobody shops before they joined
        last[v.member] = v.at
    dormant = [m.index for m in a.members if m.kind == "dormant"]
    assert dormant and all((today - last[i].date()).days > 90 for i in dormant)
    assert sum(1 for m in a.members if (m.birthday.month, m.birthday.day) == (today.month, today.day)) == 5


def test_history_fills_the_books_acts_on_nothing_now_and_runs_once(api, monkeypatch):
    from chalicelib.printing import services as printing
    from chalicelib.sms import services as sms

    acted: list = []
    monkeypatch.setattr(sms, "request", lambda *a, **k: acted.append(("sms", a)))
    monkeypatch.setattr(printing, "request_print", lambda *a, **k: acted.append(("print", a)))
    events.reset_consumers()
    seeded = seed.run()
    opening = {s.code: _stock(api, seeded.store_ids[s.name]) for s in seed.STORES}
    welcome = {
        "title": "新人礼",
        "kind": "amount_off",
        "threshold_fen": 10000,
        "off_fen": 1000,
        "purpose": "new_member",
    }
    welcome |= {"validity": {"valid_days": 7}, "total_stock": 100, "per_member_limit": 1}
    assert api.post("/admin/coupon-templates", welcome, token=token_for("hq_admin")).status == 201

    captured: list = []
    events.capture(captured)
    try:
        result = seed_history.run(N)
        delivered = _deliver(captured)
    finally:
        events.capture(None)
    assert result.members == N and result.sales > N and result.refunds >= 1 and not result.already_done
    assert delivered and all(e.get("imported") for e in delivered)  # and what subscribers reported in turn
    assert {"OrderPaid", "OrderCompleted", "MemberJoined", "RefundCompleted"} <= {e["type"] for e in delivered}
    assert acted == []  # no ticket printed, no SMS queued for the past

    today = NOW.astimezone(clock.business_tz()).date()
    history = seed_history.plan(N, today, clock.business_tz())
    hq = token_for("hq_admin")
    for m in history.members:
        member_id = result.member_ids[m.index]
        page = api.get(f"/admin/members/{member_id}", token=hq).json
        orders = api.get("/shop/orders?limit=100", token=token_for("member", sub=member_id)).json["items"]
        visits = [v for v in history.visits if v.member == m.index]
        assert page["paid_orders"] == len(orders) == len(visits)
        # a new-member gift pack is for someone who joins now, not in the imported past
        assert api.get("/shop/me/coupons", token=token_for("member", sub=member_id)).json["items"] == []
        assert page["birthday"] == m.birthday.isoformat()
        if visits:
            assert clock.parse(page["last_order_at"]) == visits[-1].at + timedelta(minutes=2)
        if not any(v.recharge_package is not None for v in visits):  # growth: the paid goods kept
            assert page["growth_fen"] == sum(o["payable_fen"] - o.get("refunded_fen", 0) for o in orders)

    # today's stock is the opening stock plus what customers brought back
    back: dict[str, dict[str, int]] = {}
    for v in history.visits:
        if v.refund_sku:
            back.setdefault(v.store, {}).setdefault(v.refund_sku, 0)
            back[v.store][v.refund_sku] += dict(v.lines)[v.refund_sku]
    for s in seed.STORES:
        now = _stock(api, seeded.store_ids[s.name])
        assert now == {sku: opening[s.code].get(sku, 0) + back.get(s.code, {}).get(sku, 0) for sku in now}

    again = seed_history.run(N)
    assert again.already_done and again.sales == 0
