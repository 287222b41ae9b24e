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
from chalicelib.points import subscribers as points_subscribers
from chalicelib.subscriptions import SUBSCRIPTIONS
from tests.helpers import drain_events, member_code, token_for
from tools.worker import LocalContext

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


SCHEDULED = {
    "version": "0",
    "id": "b5d2c1a0-0000-4000-8000-000000000000",
    "detail-type": "Scheduled Event",
    "source": "aws.events",
    "account": "000000000000",
    "time": "2027-12-31T16:10:00Z",
    "region": "ap-southeast-1",
    "resources": ["arn:aws:events:ap-southeast-1:000000000000:rule/omnistore-test-expire_points"],
    "detail": {},
}


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


def deliver(e: dict, subscriptions=SUBSCRIPTIONS) -> None:
    """Through the consumer (once per subscriber and event id), as the events Lambda does."""
    events.handle_record(json.dumps(e), subscriptions)


def deliver_points(e: dict) -> None:
    """A hand-made order event, to the points' subscribers only (printing and SMS want a whole order)."""
    deliver(e, points_subscribers.SUBSCRIPTIONS)


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
    assert r["streak_days"] == 2 and r["gift"]["coupon_id"]  # given in the check-in's own transaction
    mine = api.get("/shop/me/coupons", token=tok).json["items"]
    assert [(c["coupon_id"], c["template_id"], c["source"]) for c in mine] == [(r["gift"]["coupon_id"], tid, "checkin")]
    assert api.post("/shop/me/checkins", token=tok).code == "ALREADY_CHECKED_IN"  # once a day: no second gift
    assert len(api.get("/shop/me/coupons", token=tok).json["items"]) == 1
    drain_events()
    assert balance(mid) == 100  # no check-in points configured


def test_a_gift_that_cannot_be_given_leaves_the_check_in_without_it(api, world):
    from chalicelib.coupons import services as coupons

    body = {
        "title": "连签礼",
        "purpose": "push",
        "kind": "amount_off",
        "threshold_fen": 1000,
        "off_fen": 300,
        "validity": {"valid_days": 7},
        "total_stock": 1,
    }
    paused = api.post("/admin/coupon-templates", body, token=world.hq).json["template_id"]
    center = api.post("/admin/coupon-templates", {**body, "purpose": "center"}, token=world.hq).json["template_id"]
    assert api.post(f"/admin/coupon-templates/{paused}/pause", token=world.hq).status == 200
    assert coupons.checkin_gift_template(paused) is None  # paused
    assert coupons.checkin_gift_template(center) is None  # not a push template
    assert coupons.checkin_gift_template(new_id()) is None  # unknown
    # a paused gift: the check-in counts, with its points, and no gift
    put_settings(api, world.hq, checkin_streak_gifts=[{"day": 1, "template_id": paused}], checkin_points=5)
    mid, tok = member("unlucky")
    drain_events()
    r = api.post("/shop/me/checkins", token=tok)
    assert r.status == 201 and (r.json["points_awarded"], r.json["gift"]) == (5, None), r
    assert api.get("/shop/me/coupons", token=tok).json["items"] == []
    # sold out when the check-in commits (its one coupon went to someone else): the check-in still counts
    one = api.post("/admin/coupon-templates", {**body, "title": "最后一张"}, token=world.hq).json["template_id"]
    put_settings(api, world.hq, checkin_streak_gifts=[{"day": 1, "template_id": one}], checkin_points=5)
    first, first_tok = member("first")
    late, late_tok = member("late")
    drain_events()
    assert api.post("/shop/me/checkins", token=first_tok).json["gift"] is not None  # the only coupon
    r = api.post("/shop/me/checkins", token=late_tok)
    assert r.status == 201 and (r.json["points_awarded"], r.json["gift"]) == (5, None), r
    assert api.get("/shop/me/coupons", token=late_tok).json["items"] == []
    assert api.post("/shop/me/checkins", token=late_tok).code == "ALREADY_CHECKED_IN"
    assert balance(late) == balance(first)


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


# =========================================================================================== orders
def sale(api, world, mid: str, qty: int = 1) -> dict:
    r = api.post(
        "/pos/sales",
        {"lines": [{"sku": "WLY-52-500", "qty": qty}], "payment": {"method": "cash"}, "member_code": member_code(mid)},
        token=world.clerk_a,
    )
    assert r.status == 201, r
    return r.json


def test_completed_till_sale_earns_once_and_a_refund_takes_back_in_proportion(api, world):
    put_settings(api, world.hq)  # 2 points per yuan
    world.receive(world.a, {"WLY-52-500": 5})
    mid, tok = member("buyer-1")
    drain_events()
    s = sale(api, world, mid, qty=2)  # 2 x 1099.00
    completed = [e for e in drain_events() if e["type"] == "OrderCompleted"]
    assert len(completed) == 1 and balance(mid) == 100 + 4396
    deliver(completed[0])
    points.on_order_completed(completed[0])  # past the consumer's guard: the order's guard
    assert balance(mid) == 100 + 4396
    entry = ledger(api, tok)[0]
    assert (entry["kind"], entry["amount"], entry["ref"]) == ("earn", 4396, {"type": "order", "id": s["order_id"]})
    at(NOON + timedelta(minutes=5))
    r = api.post(
        f"/pos/orders/{s['order_id']}/refunds",
        {"lines": [{"sku": "WLY-52-500", "qty": 1}], "reason": "退一瓶"},
        token=world.manager_a,  # above a clerk's refund limit: the store manager refunds
    )
    assert r.status == 201, r
    refunded = [e for e in drain_events() if e["type"] == "RefundCompleted"]
    assert balance(mid) == 100 + 4396 - 2198
    deliver(refunded[0])
    points.on_refund_completed(refunded[0])
    assert balance(mid) == 100 + 2198
    assert ledger(api, tok)[0]["kind"] == "refund_takeback"
    books_balance(mid)


def test_level_multiplier_delivery_and_wallet_bonus_from_the_snapshot(api, world):
    put_settings(api, world.hq, earn_per_yuan=1)
    mid, _ = member("level-buyer")
    drain_events()
    order = {
        "order_id": new_id(),
        "member_id": mid,
        "payable_fen": 20_000,
        "delivery_fen": 1000,
        "payment": {"method": "wallet", "wallet": {"principal_fen": 15_000, "bonus_fen": 5000}},
        "member_level": {"level_id": new_id(), "points_multiplier_bp": 15_000},
        "applied": [],
    }
    deliver_points(event("OrderCompleted", order))
    assert balance(mid) == 100 + 210  # (200 - 10 - 50) yuan x 1.5
    deliver_points(event("OrderCompleted", {**order, "member_id": None, "order_id": new_id()}))  # a guest: nothing
    assert balance(mid) == 310


def test_refunds_give_back_used_points_and_take_back_earned_even_below_zero(api, world):
    put_settings(api, world.hq, earn_per_yuan=1)
    mid, tok = member("refunded")
    drain_events()
    oid = new_id()
    order = {
        "order_id": oid,
        "member_id": mid,
        "status": "COMPLETED",
        "payable_fen": 10_000,
        "refunded_fen": 0,
        "applied": [{"kind": "points", "id": "points", "points": 300, "discount_fen": 300}],
    }
    with transaction() as tx:  # the checkout took 300 points (the lead's seam)
        points_repo.add_redeem(tx, mid, 100, "order", oid)
    deliver_points(event("OrderCompleted", order))  # earns 100
    assert balance(mid) == 100 - 100 + 100
    # head office takes the rest away, then the customer returns 30 % and then 70 %
    api.post(f"/admin/members/{mid}/points-adjustments", {"points": -100, "reason": "x"}, token=world.hq)
    first = event(
        "RefundCompleted",
        {
            **order,
            "status": "PARTIALLY_REFUNDED",
            "refunded_fen": 3000,
            "refund": {"refund_id": new_id(), "amount_fen": 3000},
        },
    )
    deliver_points(first)
    assert balance(mid) == 0 + 90 - 30  # 30 % of 300 used back, 30 % of 100 earned taken
    deliver_points(first)
    points.on_refund_completed(first)
    assert balance(mid) == 60
    api.post(f"/admin/members/{mid}/points-adjustments", {"points": -60, "reason": "x"}, token=world.hq)
    second = event(
        "RefundCompleted",
        {**order, "status": "REFUNDED", "refunded_fen": 10_000, "refund": {"refund_id": new_id(), "amount_fen": 7000}},
    )
    deliver_points(second)
    assert balance(mid) == 210 - 70  # the rest: 300 back in all, 100 taken in all
    kinds = [(e["kind"], e["amount"]) for e in ledger(api, tok)[:2]]
    assert sorted(kinds) == [("refund_return", 210), ("refund_takeback", -70)]
    books_balance(mid)


def test_claw_back_may_leave_the_balance_negative(api, world):
    put_settings(api, world.hq, earn_per_yuan=1, signup_points=0)
    mid, _ = member("spender")
    drain_events()
    order = {"order_id": new_id(), "member_id": mid, "status": "COMPLETED", "payable_fen": 50_000, "applied": []}
    deliver_points(event("OrderCompleted", order))
    with transaction() as tx:
        points_repo.add_redeem(tx, mid, 500, "order", new_id())  # spent on another order
    deliver_points(
        event(
            "RefundCompleted",
            {
                **order,
                "status": "REFUNDED",
                "refunded_fen": 50_000,
                "refund": {"refund_id": new_id(), "amount_fen": 50_000},
            },
        )
    )
    assert balance(mid) == -500
    books_balance(mid)


def test_refund_before_the_completion_is_credited_waits(api, world):
    mid, _ = member("early-refund")
    drain_events()
    order = {"order_id": new_id(), "member_id": mid, "status": "PARTIALLY_REFUNDED", "payable_fen": 1000}
    early = event(
        "RefundCompleted", {**order, "refunded_fen": 500, "refund": {"refund_id": new_id(), "amount_fen": 500}}
    )
    with pytest.raises(points.RetryLater):
        points.on_refund_completed(early)
    deliver_points(event("OrderCompleted", {**order, "status": "COMPLETED"}))
    points.on_refund_completed(early)
    assert balance(mid) == 100 + 10 - 5


# =========================================================================================== checkout seam
def test_redeem_and_return_in_the_callers_transaction(api, world):
    mid, tok = member("redeemer")
    drain_events()
    got = batch_get([points_repo.account_key(mid)])
    assert points_repo.balance_in(got, mid) == 100 and points_repo.balance_in({}, mid) == 0
    oid = new_id()
    with pytest.raises(TxCancelled) as e:
        with transaction() as tx:
            points_repo.add_redeem(tx, mid, 101, "order", oid)
    assert e.value.failed == [("points", mid)]
    with pytest.raises(TxCancelled):
        with transaction() as tx:
            points_repo.add_redeem(tx, new_id(), 1, "order", oid)  # no account: nothing to redeem
    with transaction() as tx:
        points_repo.add_redeem(tx, mid, 60, "order", oid)
    assert balance(mid) == 40
    at(NOON + timedelta(minutes=1))
    with transaction() as tx:  # the order is cancelled: the points come back ...
        points_repo.add_return(tx, mid, 60, "order", oid)
    assert balance(mid) == 100 and int(points_repo.get_account(mid).unlotted) == 60
    assert [(e["kind"], e["amount"], e["balance_after"]) for e in ledger(api, tok)] == [
        ("return", 60, 100),
        ("redeem", -60, 40),
        ("signup", 100, 100),
    ]
    drain_events()  # ... and PointsReturned puts them into a lot of their own
    acct = points_repo.get_account(mid)
    assert (int(acct.unlotted), int(acct.earned)) == (0, 160)
    assert [(int(x.start), int(x.amount), x.source) for x in points_repo.lots(mid)] == [
        (0, 100, "signup"),
        (100, 60, "return"),
    ]
    books_balance(mid)


def test_a_change_based_on_a_stale_read_is_tried_again(api, world, monkeypatch):
    mid, _ = member("raced")
    drain_events()
    stale = points_repo.get_account(mid)
    with transaction() as tx:  # a checkout redeems between the read and the write
        points_repo.add_redeem(tx, mid, 40, "order", new_id())
    real, reads = points_repo.get_account, []

    def first_stale(member_id):
        reads.append(member_id)
        return stale if len(reads) == 1 else real(member_id)

    monkeypatch.setattr(points_repo, "get_account", first_stale)
    r = api.post(f"/admin/members/{mid}/points-adjustments", {"points": 10, "reason": "x"}, token=world.hq)
    assert r.status == 201 and r.json["balance"] == 70 and len(reads) >= 2
    assert [(int(x.start), int(x.amount)) for x in points_repo.lots(mid)] == [(0, 100), (100, 10)]
    books_balance(mid)


# =========================================================================================== expiry
def test_lots_expire_fifo_once_after_the_end_of_the_next_year(api, world):
    put_settings(api, world.hq, signup_points=0)
    mid, _ = member("expiring")
    drain_events()
    url = f"/admin/members/{mid}/points-adjustments"
    assert api.post(url, {"points": 100, "reason": "2026"}, token=world.hq).status == 201
    at(datetime(2027, 3, 1, 4, tzinfo=UTC))
    hq = token_for("hq_admin", sub="01JHQADMIN0000000000000000")
    assert api.post(url, {"points": 50, "reason": "2027"}, token=hq).status == 201
    with transaction() as tx:
        points_repo.add_redeem(tx, mid, 120, "order", new_id())  # FIFO: all of 2026's lot, 20 of 2027's
    assert [x.expires_on for x in points_repo.lots(mid)] == ["2027-12-31", "2028-12-31"]
    at(datetime(2027, 12, 31, 15, 59, tzinfo=UTC))  # 23:59 on the last day: nothing due yet
    assert points.expire_due()["processed"] == 0
    at(datetime(2027, 12, 31, 16, 10, tzinfo=UTC))  # 00:10 Jan 1 2028 local
    assert points_jobs.expire_points(SCHEDULED, LocalContext("t")) == {
        "read": 1,
        "processed": 1,
        "points": 0,
    }  # 2026's lot was used up
    assert balance(mid) == 30
    at(datetime(2028, 12, 31, 16, 10, tzinfo=UTC))
    assert points.expire_due() == {"read": 1, "processed": 1, "points": 30}
    assert balance(mid) == 0
    assert points.expire_due()["read"] == 0  # the mark moved on; the lot left the index
    newest = ledger(api, token_for("member", sub=mid))[0]  # a fresh login two years on
    assert (newest["kind"], newest["amount"], newest["balance_after"]) == ("expire", -30, 0)
    books_balance(mid)
