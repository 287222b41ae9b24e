"""Points at the API: settings, sign-up points, check-ins and streak gifts, the ledger, staff adjustments, points
for completed orders, refunds, the checkout seam (redeem / return), the expiry job; events delivered twice."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.core import clock, events
from chalicelib.core.dynamo import TxCancelled, batch_get, transaction
from chalicelib.core.ids import new_id
from chalicelib.points import jobs as points_jobs
from chalicelib.points import repository as points_repo
from chalicelib.points import services as points
from chalicelib.subscriptions import SUBSCRIPTIONS
from tests.helpers import drain_events, member_code, token_for

pytestmark = pytest.mark.clock  # pins the clock: business days, streaks, expiry

NOON = datetime(2026, 11, 23, 4, 0, tzinfo=UTC)  # Monday 12:00 in Chongqing
SETTINGS = {
    "earn_per_yuan": 2,
    "signup_points": 100,
    "checkin_points": 5,
    "checkin_streak_gifts": [],
    "fen_per_point": 1,
    "max_redeem_bp": 5000,
    "max_redeem_points": 10000,
    "expiry": "end_of_next_year",
}


@pytest.fixture(autouse=True)
def noon():
    clock.set_clock(lambda: NOON)


def at(dt: datetime) -> None:
    clock.set_clock(lambda: dt)


def member(openid: str) -> tuple[str, str]:
    from chalicelib.identity import repository as identity

    m = identity.create_member(new_id(), openid, None, None, openid)
    return m.member_id, token_for("member", sub=m.member_id)


def balance(member_id: str) -> int:
    acct = points_repo.get_account(member_id)
    return int(acct.balance) if acct else 0


def books_balance(member_id: str) -> None:
    assert points_repo.ledger_sum(member_id) == balance(member_id)


def ledger(api, tok, **q) -> list[dict]:
    qs = "&".join(f"{k}={v}" for k, v in q.items())
    r = api.get("/shop/me/points/ledger" + (f"?{qs}" if qs else ""), token=tok)
    assert r.status == 200, r
    return r.json["items"]


def put_settings(api, hq, **kw):
    r = api.put("/admin/settings/points", {**SETTINGS, **kw}, token=hq)
    assert r.status == 200, r
    return r.json


def event(type_: str, data: dict) -> dict:
    return {"id": new_id(), "type": type_, "occurred_at": clock.iso(clock.now()), "data": data}


def deliver(e: dict) -> None:
    """Through the consumer (once per subscriber and event id), as the events Lambda does."""
    events.handle_record(json.dumps(e), SUBSCRIPTIONS)


# =========================================================================================== settings
def test_settings_defaults_put_roles_and_validation(api, world):
    got = api.get("/admin/settings/points", token=world.hq)
    assert got.status == 200 and got.json == {
        "earn_per_yuan": 1,
        "signup_points": 100,
        "checkin_points": 5,
        "checkin_streak_gifts": [],
        "fen_per_point": 1,
        "max_redeem_bp": 5000,
        "max_redeem_points": 10000,
        "expiry": "end_of_next_year",
    }
    assert api.get("/admin/settings/points", token=world.manager_a).status == 200
    assert api.get("/admin/settings/points", token=world.clerk_a).code == "ROLE_FORBIDDEN"
    assert api.get("/admin/settings/points").status == 401
    tid = new_id()
    gifts = [{"day": 7, "template_id": tid}, {"day": 3, "template_id": tid}]
    saved = put_settings(api, world.hq, checkin_streak_gifts=gifts, expiry="never")
    assert [g["day"] for g in saved["checkin_streak_gifts"]] == [3, 7] and saved["expiry"] == "never"
    assert api.get("/admin/settings/points", token=world.hq).json == saved
    r = api.put("/admin/settings/points", SETTINGS, token=world.manager_a)
    assert (r.status, r.code) == (403, "ROLE_FORBIDDEN")
    member_tok = member("settings-m")[1]
    assert api.put("/admin/settings/points", SETTINGS, token=member_tok).status == 403
    bad = [
        {**SETTINGS, "earn_per_yuan": 1.5},
        {**SETTINGS, "earn_per_yuan": "1"},
        {**SETTINGS, "fen_per_point": 0},
        {**SETTINGS, "max_redeem_bp": 10001},
        {**SETTINGS, "signup_points": -1},
        {**SETTINGS, "expiry": "tomorrow"},
        {**SETTINGS, "checkin_streak_gifts": [{"day": 0, "template_id": tid}]},
        {**SETTINGS, "checkin_streak_gifts": [{"day": 7, "template_id": "nope"}]},
        {**SETTINGS, "extra": 1},
        {k: v for k, v in SETTINGS.items() if k != "expiry"},
    ]
    for body in bad:
        r = api.put("/admin/settings/points", body, token=world.hq)
        assert (r.status, r.code) == (422, "VALIDATION_ERROR"), body
    r = api.put("/admin/settings/points", {**SETTINGS, "checkin_streak_gifts": gifts + gifts[:1]}, token=world.hq)
    assert (r.status, r.code) == (422, "INVALID_POINTS_SETTINGS")
    assert api.put("/admin/settings/points", raw="{", token=world.hq).code == "MALFORMED_JSON"
    assert api.get("/admin/settings/points", token=world.hq).json == saved  # nothing changed


# =========================================================================================== sign-up
def test_signup_points_once_even_when_delivered_again(api, world):
    mid, tok = member("signup-1")
    joined = [e for e in drain_events() if e["type"] == "MemberJoined" and e["data"]["member_id"] == mid]
    assert balance(mid) == 100
    [entry] = ledger(api, tok)
    assert (entry["kind"], entry["amount"], entry["balance_after"], entry["ref"]) == (
        "signup",
        100,
        100,
        {"type": "member", "id": mid},
    )
    deliver(joined[0])  # the same event again: the consumer's guard
    points.on_member_joined(joined[0])  # past the consumer's guard: our own once-ever guard
    points.on_member_joined({**joined[0], "id": new_id()})  # even a second MemberJoined for the member
    assert balance(mid) == 100 and len(ledger(api, tok)) == 1
    [lot] = points_repo.lots(mid)
    assert (int(lot.amount), lot.expires_on, lot.gsi1pk) == (100, "2027-12-31", "PTSEXP#2027-12-31")


# =========================================================================================== check-ins
def test_checkins_once_a_business_day_and_streaks(api, world):
    mid, tok = member("checker")
    drain_events()
    assert api.post("/shop/me/checkins", token=world.clerk_a).code == "ROLE_FORBIDDEN"
    assert api.post("/shop/me/checkins").status == 401
    r = api.post("/shop/me/checkins", token=tok)
    assert r.status == 201 and r.json == {"date": "2026-11-23", "streak_days": 1, "points_awarded": 5, "gift": None}
    again = api.post("/shop/me/checkins", token=tok)
    assert (again.status, again.code) == (409, "ALREADY_CHECKED_IN")
    at(datetime(2026, 11, 23, 15, 59, tzinfo=UTC))  # 23:59 local: still Monday
    assert api.post("/shop/me/checkins", token=tok).code == "ALREADY_CHECKED_IN"
    at(datetime(2026, 11, 23, 16, 0, tzinfo=UTC))  # local midnight: Tuesday
    assert api.post("/shop/me/checkins", token=tok).json["streak_days"] == 2
    at(NOON + timedelta(days=2))
    assert api.post("/shop/me/checkins", token=tok).json["streak_days"] == 3
    at(NOON + timedelta(days=4))  # Thursday missed
    assert api.post("/shop/me/checkins", token=tok).json == {
        "date": "2026-11-27",
        "streak_days": 1,
        "points_awarded": 5,
        "gift": None,
    }
    assert balance(mid) == 100 + 4 * 5
    books_balance(mid)


def test_streak_gift_becomes_a_coupon_once(api, world):
    tpl = api.post(
        "/admin/coupon-templates",
        {
            "title": "连签3天礼",
            "purpose": "push",
            "kind": "amount_off",
            "threshold_fen": 1000,
            "off_fen": 300,
            "validity": {"valid_days": 7},
            "total_stock": 10,
            "per_member_limit": 5,
        },
        token=world.hq,
    )
    assert tpl.status == 201, tpl
    tid = tpl.json["template_id"]
    put_settings(api, world.hq, checkin_streak_gifts=[{"day": 2, "template_id": tid}], checkin_points=0)
    mid, tok = member("gifted")
    drain_events()
    assert api.post("/shop/me/checkins", token=tok).json["points_awarded"] == 0
    at(NOON + timedelta(days=1))
    r = api.post("/shop/me/checkins", token=tok).json
    assert (r["streak_days"], r["gift"]) == (2, None)  # granted by coupons a moment later
    gift = [e for e in drain_events() if e["type"] == "CheckinGift"]
    assert [g["data"]["template_id"] for g in gift] == [tid]
    mine = api.get("/shop/me/coupons", token=tok).json["items"]
    assert [(c["template_id"], c["source"]) for c in mine] == [(tid, "checkin")]
    deliver({**gift[0], "id": new_id()})  # redelivered under a new id: the CHECKINGIFT guard holds
    assert len(api.get("/shop/me/coupons", token=tok).json["items"]) == 1
    assert balance(mid) == 100  # no check-in points configured


# =========================================================================================== ledger + adjustments
def test_ledger_newest_first_paginated_with_balance_after(api, world):
    mid, tok = member("ledger")
    drain_events()
    for i, pts in enumerate((50, -30, 20)):
        at(NOON + timedelta(minutes=i + 1))
        r = api.post(f"/admin/members/{mid}/points-adjustments", {"points": pts, "reason": "客服"}, token=world.hq)
        assert r.status == 201, r
    assert r.json["balance"] == 140 and r.json["points"] == 20
    first = api.get("/shop/me/points/ledger?limit=2", token=tok).json
    assert [(e["kind"], e["amount"], e["balance_after"]) for e in first["items"]] == [
        ("adjustment", 20, 140),
        ("adjustment", -30, 120),
    ]
    rest = api.get(f"/shop/me/points/ledger?limit=2&next={first['next']}", token=tok).json
    assert [(e["amount"], e["balance_after"]) for e in rest["items"]] == [(50, 150), (100, 100)]
    last = api.get(f"/shop/me/points/ledger?limit=2&next={rest['next']}", token=tok).json
    assert last == {"items": [], "next": None}
    for bad in ("limit=0", "limit=201", "next=garbage", "next=abc.1", "foo=1"):
        r = api.get(f"/shop/me/points/ledger?{bad}", token=tok)
        assert r.status == 422, (bad, r)
    assert api.get("/shop/me/points/ledger", token=world.hq).code == "ROLE_FORBIDDEN"
    other = member("ledger-2")[1]
    assert ledger(api, other) == []  # my ledger only


def test_adjustments_head_office_only_never_negative(api, world):
    mid, _ = member("adjusted")
    drain_events()
    url = f"/admin/members/{mid}/points-adjustments"
    r = api.post(url, {"points": -101, "reason": "纠错"}, token=world.hq)
    assert (r.status, r.code, r.json["details"]["balance"]) == (409, "INSUFFICIENT_POINTS", 100)
    r = api.post(url, {"points": -100, "reason": "纠错"}, token=world.hq, headers={"Idempotency-Key": "adj-1"})
    assert r.status == 201 and r.json["balance"] == 0
    again = api.post(url, {"points": -100, "reason": "纠错"}, token=world.hq, headers={"Idempotency-Key": "adj-1"})
    assert again.json == r.json and balance(mid) == 0
    for bad in (
        {"points": 0, "reason": "x"},
        {"points": 1.0, "reason": "x"},
        {"points": 5},
        {"points": 5, "reason": ""},
    ):
        assert api.post(url, bad, token=world.hq).status == 422, bad
    assert api.post(url, {"points": 5, "reason": "x"}, token=world.manager_a).code == "ROLE_FORBIDDEN"
    assert api.post(url, {"points": 5, "reason": "x"}, token=world.clerk_a).status == 403
    r = api.post(f"/admin/members/{new_id()}/points-adjustments", {"points": 5, "reason": "x"}, token=world.hq)
    assert (r.status, r.code) == (404, "MEMBER_NOT_FOUND")
    assert (
        api.post("/admin/members/nope/points-adjustments", {"points": 5, "reason": "x"}, token=world.hq).status == 404
    )
    books_balance(mid)
