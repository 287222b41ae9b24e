"""Distribution at the API: the reference chain's story (A shares, B joins by the scene and buys 3 lines with a
coupon and points, B becomes a distributor, C buys at the till, a partial refund, settlement, A withdraws to the
wallet), settings validation, binding rules, reversal after settlement, withdrawals rejected / paid to WeChat
change, the report, and the settlement job reading only what is due."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.core import clock
from chalicelib.core.ledger import business_day
from chalicelib.distribution import repository as dist_repo
from chalicelib.payments import client as payclient
from chalicelib.payments import sandbox
from tests.helpers import drain_events, member_code, token_for

NOON = datetime(2026, 11, 23, 4, 0, tzinfo=UTC)  # Monday 12:00 in Chongqing
SETTINGS = {
    "enabled": True,
    "who": "apply",
    "level1_bp": 1000,  # 10 %
    "level2_bp": 500,  # 5 %
    "freeze_days": 7,
    "withdraw_min_fen": 100,
}
TEN_OFF = {
    "title": "满100减10",
    "kind": "amount_off",
    "threshold_fen": 10000,
    "off_fen": 1000,
    "validity": {"valid_days": 7},
    "total_stock": 100,
    "per_member_limit": 1,
}


@pytest.fixture
def shop(api, world, stage_local):
    t = {"now": NOON}
    clock.set_clock(lambda: t["now"])
    sandbox.clear()
    payclient.set_client(sandbox.SandboxPaymentClient())
    world.receive(world.a, {"WLY-52-500": 10, "CQ-BEER-500": 100, "MT-53-500": 5})
    r = api.put("/admin/settings/distribution", SETTINGS, token=world.hq)
    assert r.status == 200, r
    yield t
    payclient.set_client(None)


def login(api, openid: str, scene: str | None = None) -> tuple[str, str]:
    body = {"openid": openid, "nickname": openid} | ({"scene": scene} if scene else {})
    r = api.post("/auth/dev/login", body)
    assert r.status == 200, r
    return r.json["member"]["member_id"], r.json["token"]


def become_distributor(api, world, member_id: str, tok: str) -> None:
    assert api.post("/shop/distribution/apply", token=tok).json["status"] == "applied"
    r = api.post(f"/admin/distributors/{member_id}/approve", token=world.hq)
    assert r.status == 200 and r.json["status"] == "active", r


def notify(api, order_id: str, times: int = 1) -> list[int]:
    out = []
    for _ in range(times):
        headers, body = sandbox.pending_notification(order_id)
        out.append(api.call("POST", "/webhooks/wechatpay", raw=body, headers=headers).status)
    return out


def records(api, tok) -> list[dict]:
    r = api.get("/shop/distribution/commissions?limit=200", token=tok)
    assert r.status == 200, r
    return r.json["items"]


def settle(api) -> dict:
    """Run the settlement job now through ``POST /local/jobs/settle_commissions`` (a head-office token of now)."""
    r = api.post("/local/jobs/settle_commissions", token=token_for("hq_admin", sub="01JHQADMIN0000000000000000"))
    assert r.status == 200, r
    return {k: v for k, v in r.json.items() if k not in ("name", "at")}  # what it did


def me(api, tok) -> dict:
    return api.get("/shop/distribution/me", token=tok).json


def test_reference_story(api, world, shop):
    a_id, a_tok = login(api, "wx-alice")
    become_distributor(api, world, a_id, a_tok)
    # per-product rules: the beer earns 20 % at level 1, the Moutai none
    assert api.patch("/admin/products/CQ-BEER-500", {"commission": {"level1_bp": 2000}}, token=world.hq).status == 200
    assert api.patch("/admin/products/MT-53-500", {"commission": {"excluded": True}}, token=world.hq).status == 200
    # A shares a product; the scene resolves without login and counts the scan
    share = api.post("/shop/share-codes", {"kind": "product", "sku": "WLY-52-500"}, token=a_tok).json
    assert len(share["scene"]) <= 32 and share["page"] == "pages/product/detail"
    seen = api.get(f"/shop/scenes/{share['scene']}")
    assert seen.status == 200 and seen.json["referrer_id"] == a_id and seen.json["sku"] == "WLY-52-500"
    # B joins by the scene: bound to A
    b_id, b_tok = login(api, "wx-bobby", share["scene"])
    drain_events()
    assert me(api, a_tok)["team"] == {"level1": 1, "level2": 0}
    assert api.get("/shop/distribution/team?level=1", token=a_tok).json["items"][0]["member_id"] == b_id
    # B buys 3 lines with a coupon (10 off 100) and 100 points (his sign-up points)
    tid = api.post("/admin/coupon-templates", TEN_OFF, token=world.hq).json["template_id"]
    cid = api.post(f"/shop/coupons/{tid}/claim", token=b_tok).json["coupon_id"]
    lines = [{"sku": "WLY-52-500", "qty": 1}, {"sku": "CQ-BEER-500", "qty": 10}, {"sku": "MT-53-500", "qty": 1}]
    body = {"lines": lines, "fulfillment": "pickup", "store_id": world.a, "coupon_ids": [cid], "points": 100}
    order = api.post("/shop/orders", body, token=b_tok)
    assert order.status == 201, order
    order = order.json
    # by hand: subtotal 109900 + 6000 + 299900 = 415800; the coupon's 1000 by largest remainder over the
    # subtotals: 264.3 / 14.4 / 721.3 -> 264, 15, 721; the points' 100 over what is left: 26.4 / 1.4 / 72.1 ->
    # 26, 2, 72; line payables 109610, 5983, 299107
    assert [ln["payable_fen"] for ln in order["lines"]] == [109610, 5983, 299107]
    assert api.post(f"/shop/orders/{order['order_id']}/pay", {"method": "wechat"}, token=b_tok).status == 200
    assert notify(api, order["order_id"], times=15) == [204] * 15  # WeChat's retries: paid once
    drain_events()
    got = records(api, a_tok)
    # level 1 for A: floor(109610 x 10 %) = 10961; beer floor(5983 x 20 %) = 1196; Moutai excluded
    assert [(r["sku"], r["level"], r["amount_fen"], r["status"]) for r in got] == [
        ("WLY-52-500", 1, 10961, "FROZEN"),
        ("CQ-BEER-500", 1, 1196, "FROZEN"),
    ]
    assert me(api, a_tok)["frozen_fen"] == 12157
    # the store completes B's order
    oid = order["order_id"]
    for step in ("accept", "ready"):
        assert api.post(f"/pos/orders/{oid}/{step}", token=world.clerk_a).status == 200
    done = api.post(f"/pos/orders/{oid}/complete", {"pickup_code": order["pickup_code"]}, token=world.clerk_a)
    assert done.status == 200, done
    # B becomes a distributor and shares; C joins by B's referral scene: B level 1, A level 2
    become_distributor(api, world, b_id, b_tok)
    ref = api.post("/shop/share-codes", {"kind": "referral"}, token=b_tok).json
    assert me(api, b_tok)["share_code"] == ref["scene"]
    c_id, c_tok = login(api, "wx-carol", ref["scene"])
    drain_events()
    assert me(api, a_tok)["team"] == {"level1": 1, "level2": 1}
    # C buys at the till (cash): wine and 10 beers
    sale = api.post(
        "/pos/sales",
        {
            "lines": [{"sku": "WLY-52-500", "qty": 1}, {"sku": "CQ-BEER-500", "qty": 10}],
            "member_code": member_code(c_id),
            "payment": {"method": "cash"},
        },
        token=world.clerk_a,
    )
    assert sale.status == 201, sale
    drain_events()
    b_got = records(api, b_tok)
    assert [(r["sku"], r["level"], r["amount_fen"]) for r in b_got] == [
        ("WLY-52-500", 1, 10990),
        ("CQ-BEER-500", 1, 1200),
    ]
    a_level2 = [r for r in records(api, a_tok) if r["level"] == 2]
    assert [(r["sku"], r["amount_fen"]) for r in a_level2] == [("WLY-52-500", 5495), ("CQ-BEER-500", 300)]
    # a partial refund of one line: 4 of the 10 beers (2400 of the line's 6000) reverses 4/10 at both levels
    r = api.post(
        f"/pos/orders/{sale.json['order_id']}/refunds",
        {"lines": [{"sku": "CQ-BEER-500", "qty": 4}], "reason": "退货"},
        token=world.clerk_a,
    )
    assert r.status == 201 and r.json["status"] == "COMPLETED", r
    drain_events()
    beer_b = [x for x in records(api, b_tok) if x["sku"] == "CQ-BEER-500"][0]
    beer_a = [x for x in records(api, a_tok) if x["sku"] == "CQ-BEER-500" and x["level"] == 2][0]
    assert (beer_b["reversed_fen"], beer_a["reversed_fen"]) == (1200 - 720, 300 - 180)
    assert me(api, b_tok)["frozen_fen"] == 10990 + 720
    # before the freeze is over nothing settles; after it the job moves the rest to available
    shop["now"] = NOON + timedelta(days=6)
    assert settle(api)["processed"] == 0
    shop["now"] = NOON + timedelta(days=7, hours=1)
    ran = settle(api)
    # three records (one per order and level, each holding its lines): B's order (A L1), C's sale (B L1, A L2)
    assert ran["processed"] == 3 and ran["read"] == 3
    a_tok, b_tok = login(api, "wx-alice")[1], login(api, "wx-bobby")[1]  # a week on: fresh tokens
    a_me = me(api, a_tok)
    assert (a_me["frozen_fen"], a_me["available_fen"]) == (0, 12157 + 5495 + 180)
    # A withdraws everything to the wallet; head office approves
    w = api.post("/shop/distribution/withdrawals", {"amount_fen": 17832, "to": "wallet"}, token=a_tok)
    assert w.status == 201 and w.json["status"] == "PENDING_REVIEW", w
    pending = api.get("/admin/withdrawals?status=PENDING_REVIEW", token=world.hq).json["items"]
    assert [x["withdrawal_id"] for x in pending] == [w.json["withdrawal_id"]]
    ok = api.post(f"/admin/withdrawals/{w.json['withdrawal_id']}/approve", token=world.hq)
    assert ok.status == 200 and ok.json["status"] == "PAID", ok
    assert api.get("/shop/wallet", token=a_tok).json["principal_fen"] == 17832
    a_me = me(api, a_tok)
    assert (a_me["available_fen"], a_me["pending_fen"], a_me["withdrawn_fen"]) == (0, 0, 17832)
    # the books balance: every commission account changed today has ledger == balance
    books = dist_repo.audit_changed(business_day(NOON))
    assert books and all(b.drift == 0 for b in books)
    # the report per distributor, JSON and CSV (UTF-8 with BOM)
    day = business_day(NOON)
    rep = api.get(f"/admin/distribution/report?from={day}&to={day}", token=world.hq)
    assert rep.status == 200, rep
    rows = {x["member_id"]: x for x in rep.json["items"]}
    assert rows[a_id]["orders"] == 2 and rows[a_id]["commission_fen"] == 17832
    assert rows[b_id]["commission_fen"] == 10990 + 720
    csv = api.get(f"/admin/distribution/report?from={day}&to={day}&format=csv", token=world.hq)
    assert csv.status == 200 and csv.headers["Content-Type"].startswith("text/csv")
    text = csv.json.decode("utf-8") if isinstance(csv.json, bytes) else csv.json
    assert text.startswith("\ufeffmember_id,orders,sales_fen,commission_fen")


def test_settings_are_validated(api, world, stage_local):
    r = api.put("/admin/settings/distribution", {**SETTINGS, "level1_bp": 8000, "level2_bp": 2001}, token=world.hq)
    assert r.status == 422 and r.code == "RATES_TOO_HIGH"
    assert api.put("/admin/settings/distribution", {**SETTINGS, "level1_bp": 10.5}, token=world.hq).status == 422
    got = api.get("/admin/settings/distribution", token=world.hq).json
    assert got["enabled"] is False and got["freeze_days"] == 7  # the defaults until saved
    bad = api.patch("/admin/products/MT-53-500", {"commission": {"level1_bp": 9000, "level2_bp": 2000}}, token=world.hq)
    assert bad.status == 422


def test_binding_rules(api, world, shop):
    a_id, a_tok = login(api, "wx-alice")
    scene = api.post("/shop/share-codes", {"kind": "referral"}, token=a_tok).json["scene"]
    assert api.post("/shop/share-codes", {"kind": "referral"}, token=a_tok).json["scene"] == scene  # the same one
    assert api.get("/shop/scenes/nosuchscene").code == "SCENE_NOT_FOUND"
    nosku = api.post("/shop/share-codes", {"kind": "product", "sku": "NO-SUCH"}, token=a_tok)
    assert nosku.status == 422 and nosku.code == "UNKNOWN_SKU"
    assert api.post("/shop/share-codes", {"kind": "referral", "sku": "WLY-52-500"}, token=a_tok).status == 422
    # an existing member logging in again with a scene is not bound (and A by its own scene neither)
    login(api, "wx-alice", scene)
    b_id, b_tok = login(api, "wx-bobby", scene)
    drain_events()
    assert me(api, b_tok)["referrer_id"] == a_id and me(api, a_tok)["referrer_id"] is None
    from chalicelib.distribution import services

    rules = dist_repo.get_rules()
    assert services.bind(a_id, a_id, None, rules) == "self"
    assert services.bind(b_id, a_id, None, rules) == "already_bound"
    assert services.bind(a_id, b_id, None, rules) == "loop"  # A is B's referrer: B cannot become A's


def test_refund_after_settlement_goes_negative_and_blocks_withdrawals(api, world, shop):
    a_id, a_tok = login(api, "wx-alice")
    become_distributor(api, world, a_id, a_tok)
    scene = api.post("/shop/share-codes", {"kind": "referral"}, token=a_tok).json["scene"]
    b_id, _ = login(api, "wx-bobby", scene)
    drain_events()
    sale = api.post(
        "/pos/sales",
        {"lines": [{"sku": "CQ-BEER-500", "qty": 10}], "member_code": member_code(b_id), "payment": {"method": "cash"}},
        token=world.clerk_a,
    ).json
    drain_events()
    shop["now"] = NOON + timedelta(days=8)
    settle(api)
    a_tok = login(api, "wx-alice")[1]
    assert me(api, a_tok)["available_fen"] == 600
    w = api.post("/shop/distribution/withdrawals", {"amount_fen": 500, "to": "wechat"}, token=a_tok).json
    # head office rejects: the 500 return to available
    rj = api.post(f"/admin/withdrawals/{w['withdrawal_id']}/reject", {"reason": "资料不全"}, token=world.hq)
    assert rj.status == 200 and rj.json["status"] == "REJECTED"
    assert (
        api.post(f"/admin/withdrawals/{w['withdrawal_id']}/reject", {}, token=world.hq).code == "WITHDRAWAL_NOT_PENDING"
    )
    assert me(api, a_tok)["available_fen"] == 600
    # a full refund after settlement takes the 600 back from available; spend 500 first: the balance goes to -500
    w2 = api.post("/shop/distribution/withdrawals", {"amount_fen": 500, "to": "wechat"}, token=a_tok).json
    paid = api.post(f"/admin/withdrawals/{w2['withdrawal_id']}/approve", token=world.hq)
    assert paid.json["status"] == "PAID" and paid.json["payout"]["status"] == "SUCCESS"
    r = api.post(f"/pos/orders/{sale['order_id']}/refunds", {"reason": "退货"}, token=world.clerk_a)
    assert r.status == 201, r
    drain_events()
    m = me(api, a_tok)
    assert (m["available_fen"], m["withdrawn_fen"]) == (-500, 500)
    no = api.post("/shop/distribution/withdrawals", {"amount_fen": 100, "to": "wallet"}, token=a_tok)
    assert no.status == 409 and no.code == "INSUFFICIENT_COMMISSION"
    small = api.post("/shop/distribution/withdrawals", {"amount_fen": 99, "to": "wallet"}, token=a_tok)
    assert small.status == 422 and small.code == "WITHDRAWAL_TOO_SMALL"
    books = dist_repo.audit_changed(business_day(shop["now"]))
    assert books and all(b.drift == 0 for b in books)


def test_withdrawal_to_wechat_change_waits_while_wechat_decides_and_the_job_settles_it(api, world, shop, monkeypatch):
    from chalicelib.core.errors import UpstreamUnavailable

    a_id, a_tok = login(api, "wx-alice")
    become_distributor(api, world, a_id, a_tok)
    scene = api.post("/shop/share-codes", {"kind": "referral"}, token=a_tok).json["scene"]
    b_id, _ = login(api, "wx-bobby", scene)
    drain_events()
    api.post(
        "/pos/sales",
        {"lines": [{"sku": "CQ-BEER-500", "qty": 10}], "member_code": member_code(b_id), "payment": {"method": "cash"}},
        token=world.clerk_a,
    )
    drain_events()
    shop["now"] = NOON + timedelta(days=8)
    settle(api)
    a_tok = login(api, "wx-alice")[1]
    assert me(api, a_tok)["available_fen"] == 600

    def withdraw(amount: int) -> str:
        r = api.post("/shop/distribution/withdrawals", {"amount_fen": amount, "to": "wechat"}, token=a_tok)
        assert r.status == 201, r
        return r.json["withdrawal_id"]

    def job() -> dict:
        r = api.post("/local/jobs/query_paying_withdrawals", token=world.hq)
        assert r.status == 200, r
        return {k: v for k, v in r.json.items() if k not in ("name", "at")}  # what it did

    # 2,000 yuan or more in one transfer needs the payee's real name at WeChat: refused at the request
    big = api.post("/shop/distribution/withdrawals", {"amount_fen": 200_000, "to": "wechat"}, token=a_tok)
    assert (big.status, big.code) == (422, "WITHDRAWAL_TOO_LARGE") and me(api, a_tok)["available_fen"] == 600
    # 1. WeChat accepts the transfer and is still processing it: PAYING, the money pending
    w1 = withdraw(200)
    sandbox.transfer_outcomes[w1] = "PROCESSING"
    r = api.post(f"/admin/withdrawals/{w1}/approve", token=world.hq)
    assert r.status == 200 and (r.json["status"], r.json["payout"]["status"]) == ("PAYING", "PROCESSING")
    assert (me(api, a_tok)["available_fen"], job()) == (400, {"read": 1, "paid": 0, "failed": 0, "paying": 1})
    # 2. WeChat does not answer at the approval: PAYING, nothing sent
    w2 = withdraw(150)
    real = sandbox.SandboxPaymentClient.transfer

    def down(self, **kw):
        raise UpstreamUnavailable("WeChat Pay did not answer")

    monkeypatch.setattr(sandbox.SandboxPaymentClient, "transfer", down)
    assert api.post(f"/admin/withdrawals/{w2}/approve", token=world.hq).json["status"] == "PAYING"
    monkeypatch.setattr(sandbox.SandboxPaymentClient, "transfer", real)
    assert w2 not in sandbox._transfers
    # within a minute of the approvals the job leaves them; then the first succeeds at WeChat, the second is
    # sent again (WeChat never got it) and fails: PAID, and FAILED with the 150 back
    shop["now"] += timedelta(minutes=2)
    sandbox.transfer_outcomes.update({w1: "SUCCESS", w2: "FAIL"})
    sandbox._transfers[w1]["status"] = "SUCCESS"
    assert job() == {"read": 2, "paid": 1, "failed": 1, "paying": 0}
    got = {w["withdrawal_id"]: w for w in api.get("/shop/distribution/withdrawals", token=a_tok).json["items"]}
    assert (got[w1]["status"], got[w2]["status"]) == ("PAID", "FAILED")
    assert got[w2]["payout"]["status"] == "FAIL" and sandbox._transfers[w2]["amount_fen"] == 150
    m = me(api, a_tok)
    assert (m["available_fen"], m["withdrawn_fen"]) == (400, 200)
    # nothing is PAYING any more: the job reads nothing
    assert job() == {"read": 0, "paid": 0, "failed": 0, "paying": 0}
    books = dist_repo.audit_changed(business_day(shop["now"]))
    assert books and all(b.drift == 0 for b in books)


def test_a_member_enrolled_at_the_till_has_no_wechat_change_to_pay(api, world, shop):
    """Enrolled at the till (no WeChat account yet), a distributor's withdrawal to WeChat change fails at approval
    and the money goes back to available; nothing is sent to WeChat."""
    from chalicelib.core.dynamo import transaction

    enrolled = api.post("/pos/members", {"phone": "13800000077", "nickname": "老顾客"}, token=world.clerk_a)
    assert enrolled.status == 201, enrolled
    mid = enrolled.json["member_id"]
    with transaction() as tx:  # commission earned and settled (as the settlement job leaves it)
        dist_repo.add_change(tx, mid, {"available": 800}, "settle", ("order", "01JORDERTILL00000000000000"))
    tok = token_for("member", sub=mid)
    w = api.post("/shop/distribution/withdrawals", {"amount_fen": 800, "to": "wechat"}, token=tok).json
    r = api.post(f"/admin/withdrawals/{w['withdrawal_id']}/approve", token=world.hq)
    assert r.status == 200 and r.json["status"] == "FAILED", r
    assert r.json["payout"] == {"status": "FAIL", "provider_id": None, "message": "no WeChat account to pay"}
    assert w["withdrawal_id"] not in sandbox._transfers
    assert me(api, tok)["available_fen"] == 800


def test_settlement_reads_only_due_records(api, world, shop):
    """12 records due on 4 different days (and 3 not due for a month): each run reads only the records due by
    then (<= 1.1 items read per record settled)."""
    from chalicelib.core.dynamo import transaction
    from chalicelib.core.ids import new_id
    from chalicelib.distribution import domain

    a_id = "01JA11CE000000000000000000"
    line = {"idx": 0, "sku": "CQ-BEER-500", "line_payable_fen": 600, "base_fen": 600, "rate_bp": 1000}
    for i in range(15):
        order = {"order_id": new_id(), "member_id": "01JB0B00000000000000000000", "paid_at": clock.iso(NOON)}
        with transaction() as tx:
            rec = domain.PlannedRecord(1, a_id, [{**line, "amount_fen": 60, "reversed_fen": 0}])
            dist_repo.add_record(tx, order, rec)
        due = NOON + timedelta(days=7 + i // 3) if i < 12 else NOON + timedelta(days=40)
        with transaction() as tx:
            dist_repo.set_due(tx, dist_repo.get_record(order["order_id"], 1), clock.iso(due))
    read = processed = 0
    for day in range(7, 12):
        shop["now"] = NOON + timedelta(days=day, minutes=30)
        ran = settle(api)
        read, processed = read + ran["read"], processed + ran["processed"]
        assert ran["processed"] == (3 if day < 11 else 0)
    assert processed == 12 and read / processed <= 1.1
    assert repository_balances(a_id) == {"frozen": 3 * 60, "available": 12 * 60, "pending": 0, "withdrawn": 0}
    # the job stops for seven weeks: its next run still settles the three that fell due meanwhile (day 40)
    shop["now"] = NOON + timedelta(days=60)
    ran = settle(api)
    assert (ran["read"], ran["processed"]) == (3, 3)
    assert repository_balances(a_id)["available"] == 15 * 60


def repository_balances(member_id: str) -> dict[str, int]:
    return dist_repo.balances(dist_repo.get_profile(member_id))


def test_the_part_paid_with_wallet_bonus_earns_nothing(api, world, shop):
    """who: everyone. B pays 10 beers (6000) at the till from a wallet of 50000 principal + 8000 bonus: the payment
    takes 5172 principal and 828 bonus (in proportion), so A's base is 6000 - 828 = 5172 and A earns 517."""
    api.put("/admin/settings/distribution", {**SETTINGS, "who": "everyone"}, token=world.hq)
    a_id, a_tok = login(api, "wx-alice")
    scene = api.post("/shop/share-codes", {"kind": "referral"}, token=a_tok).json["scene"]
    b_id, _ = login(api, "wx-bobby", scene)
    drain_events()
    pkg = api.post(
        "/admin/recharge-packages",
        {"title": "充500送80", "pay_fen": 50000, "bonus_fen": 8000, "status": "active"},
        token=world.hq,
    ).json["package_id"]
    rc = api.post(
        "/pos/recharges",
        {"member_code": member_code(b_id), "package_id": pkg, "payment": {"method": "cash"}},
        token=world.clerk_a,
    )
    assert rc.status == 201, rc
    sale = api.post(
        "/pos/sales",
        {
            "lines": [{"sku": "CQ-BEER-500", "qty": 10}],
            "member_code": member_code(b_id),
            "payment": {"method": "wallet"},
        },
        token=world.clerk_a,
    )
    assert sale.status == 201 and sale.json["payment"]["wallet"] == {"principal_fen": 5172, "bonus_fen": 828}, sale
    [rec] = records(api, a_tok)
    assert (rec["base_fen"], rec["rate_bp"], rec["amount_fen"]) == (5172, 1000, 517)
    assert me(api, a_tok)["status"] == "active"  # who: everyone
