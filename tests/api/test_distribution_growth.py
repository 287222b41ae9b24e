"""Invite gifts (邀请有礼) and promoter flyers (派单) at the API, clock pinned: the invitee's gift on joining by a
scene (once, also when the event comes again), the inviter's gift after the invitee's first order's freeze
(none when that order is refunded first, the monthly cap, the job granting once), and the flyer funnel from
scans to sales."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.core import clock
from chalicelib.core.ledger import business_day
from chalicelib.distribution import flyers as flyers_mod
from chalicelib.distribution import invites, services
from chalicelib.distribution import repository as dist_repo
from tests.helpers import drain_events, member_code, token_for

NOON = datetime(2026, 11, 23, 4, 0, tzinfo=UTC)  # Monday 12:00 in Chongqing
GIFT = {
    "kind": "amount_off",
    "threshold_fen": 10000,
    "off_fen": 1000,
    "validity": {"valid_days": 30},
    "total_stock": 100,
    "per_member_limit": 10,
}


@pytest.fixture
def clocked(api, world, stage_local):
    t = {"now": NOON}
    clock.set_clock(lambda: t["now"])
    world.receive(world.a, {"CQ-BEER-500": 200})
    return t


def login(api, openid: str, scene: str | None = None, phone: str | None = None) -> tuple[str, str]:
    body = {"openid": openid, "nickname": openid} | ({"scene": scene} if scene else {}) | ({"phone": phone} or {})
    r = api.post("/auth/dev/login", {k: v for k, v in body.items() if v is not None})
    assert r.status == 200, r
    return r.json["member"]["member_id"], r.json["token"]


def job(api, name: str) -> dict:
    r = api.post(f"/local/jobs/{name}", token=token_for("hq_admin", sub="01JHQADMIN0000000000000000"))
    assert r.status == 200, r
    return {k: v for k, v in r.json.items() if k not in ("name", "at")}  # what it did


def coupons_of(api, openid: str, template_id: str) -> int:
    tok = login(api, openid)[1]  # a fresh token (the clock moves on by days)
    items = api.get("/shop/me/coupons?limit=100", token=tok).json["items"]
    return sum(1 for c in items if c["template_id"] == template_id)


def buy(api, world, member_id: str, qty: int = 2) -> dict:
    sale = api.post(
        "/pos/sales",
        {
            "lines": [{"sku": "CQ-BEER-500", "qty": qty}],
            "member_code": member_code(member_id),
            "payment": {"method": "cash"},
        },
        token=world.clerk_a,
    )
    assert sale.status == 201, sale
    return sale.json


def of_type(events: list[dict], kind: str, member_id: str) -> dict:
    return next(e for e in events if e["type"] == kind and e["data"]["member_id"] == member_id)


def test_invite_gifts_for_both_sides(api, world, clocked):
    tpl = {
        side: api.post(
            "/admin/coupon-templates",
            {**GIFT, "title": f"邀请有礼-{side}", "purpose": f"invite_{side}"},
            token=world.hq,
        ).json["template_id"]
        for side in ("invitee", "inviter")
    }
    invite = {"invitee_template_id": tpl["invitee"], "inviter_template_id": tpl["inviter"], "inviter_monthly_cap": 2}
    settings = {"enabled": True, "level1_bp": 1000, "freeze_days": 7, "invite": invite}
    assert api.put("/admin/settings/distribution", settings, token=world.hq).status == 200
    a_id, a_tok = login(api, "wx-alice")
    scene = api.post("/shop/share-codes", {"kind": "referral"}, token=a_tok).json["scene"]
    # B joins by A's scene: bound, and the invitee gift at once; the same event again grants nothing more
    b_id, _ = login(api, "wx-bobby", scene, phone="13800000001")
    joined = of_type(drain_events(), "MemberJoined", b_id)
    assert coupons_of(api, "wx-bobby", tpl["invitee"]) == 1
    services.on_member_joined(joined)
    assert coupons_of(api, "wx-bobby", tpl["invitee"]) == 1
    # the same phone on another account never counts twice; a member joining without a scene gets nothing
    g_id, _ = login(api, "wx-gina", scene)
    drain_events()
    assert (
        invites.invitee_gift(g_id, a_id, {"openid": "wx-gina", "phone": "13800000001"}, dist_repo.get_rules()) is None
    )
    login(api, "wx-nobody")
    drain_events()
    assert coupons_of(api, "wx-nobody", tpl["invitee"]) == 0
    # B's first order completes (a till sale); delivered twice, it puts one waiting gift for A
    sale = buy(api, world, b_id)
    completed = of_type(drain_events(), "OrderCompleted", b_id)
    invites.on_order_completed(completed)
    assert (
        dist_repo.get_invite(b_id).status == "PENDING"
        and dist_repo.get_profile(b_id).first_order_id == sale["order_id"]
    )
    buy(api, world, b_id)  # a second order is not a first one
    drain_events()
    assert dist_repo.get_invite(b_id).order_id == sale["order_id"]
    # C's first order is refunded within the window: no gift for that one
    c_id, _ = login(api, "wx-carol", scene)
    drain_events()
    c_sale = buy(api, world, c_id)
    drain_events()
    clocked["now"] = NOON + timedelta(days=3)
    r = api.post(f"/pos/orders/{c_sale['order_id']}/refunds", {"reason": "退货"}, token=world.clerk_a)
    assert r.status == 201, r
    drain_events()
    assert dist_repo.get_invite(c_id).status == "CANCELLED"
    # D and E also buy: with B that makes three gifts due for A this month, and the cap is 2
    for openid in ("wx-dave", "wx-erin"):
        m_id, _ = login(api, openid, scene)
        drain_events()
        buy(api, world, m_id)
        drain_events()
    # before the freeze ends nothing is granted
    clocked["now"] = NOON + timedelta(days=6)
    assert job(api, "grant_invite_gifts")["granted"] == 0
    assert coupons_of(api, "wx-alice", tpl["inviter"]) == 0
    clocked["now"] = NOON + timedelta(days=10, hours=1)
    ran = job(api, "grant_invite_gifts")
    assert (ran["read"], ran["granted"]) == (3, 2)  # B's, and one of D / E; C's was cancelled (not read)
    assert coupons_of(api, "wx-alice", tpl["inviter"]) == 2
    statuses = sorted(dist_repo.get_invite(m).status for m in (b_id, c_id))
    assert statuses == ["CANCELLED", "GRANTED"]
    d_e = sorted(dist_repo.get_invite(login(api, o)[0]).status for o in ("wx-dave", "wx-erin"))
    assert d_e == ["CAPPED", "GRANTED"]  # over the monthly cap: closed, not carried to next month
    # the job again, and the completion again: nothing more
    assert job(api, "grant_invite_gifts") == {"read": 0, "processed": 0, "granted": 0}
    invites.on_order_completed(completed)
    assert coupons_of(api, "wx-alice", tpl["inviter"]) == 2
    assert dist_repo.cap_count(a_id, "2026-12") == 2  # granted on 3 December (Beijing): December's count


def test_a_refund_seen_before_the_first_order_completion_still_cancels_the_inviter_gift(
    api, world, clocked, monkeypatch
):
    import chalicelib.subscriptions as wiring

    tid = api.post(
        "/admin/coupon-templates", {**GIFT, "title": "邀请有礼", "purpose": "invite_inviter"}, token=world.hq
    ).json["template_id"]
    settings = {"enabled": True, "level1_bp": 1000, "freeze_days": 7, "invite": {"inviter_template_id": tid}}
    assert api.put("/admin/settings/distribution", settings, token=world.hq).status == 200
    _, a_tok = login(api, "wx-alice")
    scene = api.post("/shop/share-codes", {"kind": "referral"}, token=a_tok).json["scene"]
    b_id, _ = login(api, "wx-bobby", scene)
    drain_events()
    # B's first order; its completion waits in the queue (the first-order subscriber does not see it yet) ...
    held = [s for s in wiring.SUBSCRIPTIONS if s.name != "distribution.first_order"]
    monkeypatch.setattr(wiring, "SUBSCRIPTIONS", held)
    sale = buy(api, world, b_id, qty=3)
    completed = of_type(drain_events(), "OrderCompleted", b_id)
    monkeypatch.undo()
    # ... while a line is brought back and that refund is handled first
    refund = {"reason": "退货", "lines": [{"sku": "CQ-BEER-500", "qty": 1}]}
    assert api.post(f"/pos/orders/{sale['order_id']}/refunds", refund, token=world.clerk_a).status == 201
    drain_events()
    invites.on_order_completed(completed)
    assert dist_repo.get_invite(b_id).status == "PENDING"
    # at the due time the gift is closed, not granted
    clocked["now"] = NOON + timedelta(days=8)
    assert job(api, "grant_invite_gifts")["granted"] == 0
    gift = dist_repo.get_invite(b_id)
    assert (gift.status, gift.reason) == ("CANCELLED", "refunded")
    assert coupons_of(api, "wx-alice", tid) == 0


def test_invite_settings_name_only_templates_that_can_be_handed_out(api, world, clocked):
    made = {
        purpose: api.post(
            "/admin/coupon-templates", {**GIFT, "title": purpose, "purpose": purpose}, token=world.hq
        ).json["template_id"]
        for purpose in ("invite_inviter", "invite_invitee", "center")
    }

    def put(invite: dict):
        return api.put("/admin/settings/distribution", {"enabled": True, "invite": invite}, token=world.hq)

    # the inviter's template for the invitee, a claim-centre template, an unknown id: refused, nothing saved
    wrong = put({"invitee_template_id": made["invite_inviter"]})
    assert (wrong.status, wrong.code) == (409, "WRONG_TEMPLATE_PURPOSE")
    assert put({"inviter_template_id": made["center"]}).code == "WRONG_TEMPLATE_PURPOSE"
    unknown = put({"inviter_template_id": "01J0000000000000000000000Z"})
    assert (unknown.status, unknown.code) == (404, "TEMPLATE_NOT_FOUND")
    assert api.get("/admin/settings/distribution", token=world.hq).json["invite"]["invitee_template_id"] is None
    # a paused template is not being handed out
    api.post(f"/admin/coupon-templates/{made['invite_invitee']}/pause", token=world.hq)
    paused = put({"invitee_template_id": made["invite_invitee"]})
    assert (paused.status, paused.code) == (409, "TEMPLATE_INACTIVE")
    ok = put({"inviter_template_id": made["invite_inviter"]})
    assert ok.status == 200 and ok.json["invite"]["inviter_template_id"] == made["invite_inviter"]


def test_promoter_flyer_funnel(api, world, clocked):
    assert api.put("/admin/settings/distribution", {"enabled": True, "level1_bp": 1000}, token=world.hq).status == 200
    body = {"name": "小王", "phone": "13900000009", "store_id": world.a}
    assert api.post("/admin/promoters", body, token=world.clerk_a).status == 403  # head office only
    assert (
        api.post("/admin/promoters", {**body, "store_id": "01JNOSUCHSTORE000000000000"}, token=world.hq).status == 422
    )
    p = api.post("/admin/promoters", body, token=world.hq)
    assert p.status == 201, p
    pid = p.json["promoter_id"]
    assert [x["promoter_id"] for x in api.get("/admin/promoters", token=world.hq).json["items"]] == [pid]
    unknown = pid[:-1] + ("Y" if pid[-1] != "Y" else "Z")  # one character off (never the id itself)
    assert api.post(f"/admin/promoters/{unknown}/flyers", {"count": 2}, token=world.hq).code == "PROMOTER_NOT_FOUND"
    made = api.post(f"/admin/promoters/{pid}/flyers", {"count": 2}, token=world.hq)
    assert made.status == 201, made
    f1, f2 = (x["scene"] for x in made.json["items"])
    assert (
        all(len(s) <= 32 for s in (f1, f2))
        and api.get("/admin/promoters", token=world.hq).json["items"][0]["flyers"] == 2
    )
    # scans (no login): three of the first flyer, one of the second
    for scene in (f1, f1, f1, f2):
        seen = api.get(f"/shop/scenes/{scene}")
        assert seen.status == 200 and seen.json["kind"] == "flyer" and seen.json["promoter_id"] == pid
    # X and Y join by the first flyer, Z by the second; a flyer binds no referrer
    x_id, x_tok = login(api, "wx-xia", f1)
    y_id, _ = login(api, "wx-yan", f1)
    z_id, _ = login(api, "wx-zhou", f2)
    joined = of_type(drain_events(), "MemberJoined", x_id)
    services.on_member_joined(joined)  # again: registered once
    assert api.get("/shop/distribution/me", token=x_tok).json["referrer_id"] is None
    # X buys twice (the first is X's first order), Z once, Y never
    s1 = buy(api, world, x_id, 2)
    s2 = buy(api, world, x_id, 3)
    s3 = buy(api, world, z_id, 1)
    done = of_type(drain_events(), "OrderCompleted", z_id)
    invites.on_order_completed(done)  # redelivered: counted once
    day = business_day(NOON)
    r = api.get(f"/admin/promoters/funnel?from={day}&to={day}", token=world.hq)
    assert r.status == 200, r
    [row] = r.json["items"]
    sales = [s1["payable_fen"], s2["payable_fen"], s3["payable_fen"]]
    assert {k: row[k] for k in ("scanned", "registered", "first_order", "orders", "sales_fen")} == {
        "scanned": 4,
        "registered": 3,
        "first_order": 2,
        "orders": 3,
        "sales_fen": sum(sales),
    }
    assert (row["register_rate_bp"], row["first_order_rate_bp"]) == (7500, 6666)
    flyers = {
        f["scene"]: (f["scanned"], f["registered"], f["first_order"], f["orders"], f["sales_fen"])
        for f in row["flyers"]
    }
    assert flyers == {f1: (3, 2, 1, 2, sales[0] + sales[1]), f2: (1, 1, 1, 1, sales[2])}
    assert y_id not in (x_id, z_id)
    # the next day one beer of X's second order comes back: taken off the sales of the day it completed, once
    clocked["now"] = NOON + timedelta(days=1)
    refund = {"reason": "退货", "lines": [{"sku": "CQ-BEER-500", "qty": 1}]}
    back = api.post(f"/pos/orders/{s2['order_id']}/refunds", refund, token=world.clerk_a)
    assert back.status == 201, back
    refunded = of_type(drain_events(), "RefundCompleted", x_id)
    flyers_mod.on_refund_completed(refunded)  # redelivered
    [row] = api.get(f"/admin/promoters/funnel?from={day}&to={day}", token=world.hq).json["items"]
    assert back.json["amount_fen"] > 0 and row["orders"] == 3
    assert row["sales_fen"] == sum(sales) - back.json["amount_fen"]
    assert {f["scene"]: f["sales_fen"] for f in row["flyers"]}[f1] == sales[0] + sales[1] - back.json["amount_fen"]
    # another period: the promoter with zeros
    other = api.get("/admin/promoters/funnel?from=2026-10-01&to=2026-10-31", token=world.hq).json["items"][0]
    assert (other["scanned"], other["orders"], other["flyers"]) == (0, 0, [])
    assert api.get(f"/admin/promoters/funnel?from={day}&to=2026-11-01", token=world.hq).status == 422


def test_report_ranks_distributors(api, world, clocked):
    """Head office's ranking is the report ordered by commission (default), sales or orders."""
    api.put("/admin/settings/distribution", {"enabled": True, "level1_bp": 1000}, token=world.hq)
    a_id, a_tok = login(api, "wx-alice")
    b_id, b_tok = login(api, "wx-bobby")
    sa = api.post("/shop/share-codes", {"kind": "referral"}, token=a_tok).json["scene"]
    sb = api.post("/shop/share-codes", {"kind": "referral"}, token=b_tok).json["scene"]
    c_id, _ = login(api, "wx-carol", sa)
    d_id, _ = login(api, "wx-dave", sb)
    e_id, _ = login(api, "wx-erin", sb)
    drain_events()
    buy(api, world, c_id, 20)  # A: one big order
    buy(api, world, d_id, 1)  # B: two small ones
    buy(api, world, e_id, 1)
    drain_events()
    day = business_day(NOON)
    by_commission = api.get(f"/admin/distribution/report?from={day}&to={day}", token=world.hq).json["items"]
    by_orders = api.get(f"/admin/distribution/report?from={day}&to={day}&order=orders", token=world.hq).json["items"]
    assert [x["member_id"] for x in by_commission] == [a_id, b_id]
    assert [x["member_id"] for x in by_orders] == [b_id, a_id]
