"""Members at the API: the member code the till scans."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.core import clock
from chalicelib.core.ids import new_id
from chalicelib.identity import repository as identity
from tests.helpers import drain_events, member_code, run_sqs_handler, take_messages, token_for

NOON = datetime(2026, 11, 23, 4, 0, tzinfo=UTC)  # Monday 12:00 in Chongqing: every demo store is open


@pytest.fixture
def now():
    t = {"now": NOON}
    clock.set_clock(lambda: t["now"])
    return t


def pump_sms() -> list[dict]:
    """Send what the SMS queue holds now; the messages the outbox got from it."""
    from chalicelib.sms import repository as sms_repo
    from chalicelib.sms.jobs import handle_sms

    before = {o.key for o in sms_repo.outbox_all()}
    bodies = take_messages("omnistore-test-sms")
    if bodies:
        assert run_sqs_handler(handle_sms, bodies) == {"batchItemFailures": []}
    return [dict(o.attribute_values) for o in sms_repo.outbox_all() if o.key not in before]


def _member(openid: str, phone: str | None = None) -> tuple[str, str]:
    m = identity.create_member(new_id(), openid, None, phone, openid)
    return m.member_id, token_for("member", sub=m.member_id)


def test_a_member_code_identifies_its_member_at_the_till_for_60_seconds(api, world, now):
    world.receive(world.a, {"CQ-BEER-500": 10})
    mid, tok = _member("code-1")
    r = api.get("/shop/me/code", token=tok)
    assert r.status == 200, r
    code = r.json["member_code"]
    assert len(code) == 18 and code.isdigit() and code.startswith("8")
    assert r.json["expires_at"] == "2026-11-23T04:01:00.000Z"
    assert api.get("/shop/me/code", token=tok).json["member_code"] != code  # a fresh code every time
    quote = {"lines": [{"sku": "CQ-BEER-500", "qty": 1}], "member_code": code}
    assert api.post("/pos/quote", quote, token=world.clerk_a).status == 200
    sale = {**quote, "payment": {"method": "cash"}}
    s = api.post("/pos/sales", sale, token=world.clerk_a, headers={"Idempotency-Key": "code-sale-1"})
    assert s.status == 201 and s.json["member_id"] == mid
    now["now"] = NOON + timedelta(seconds=61)
    late = api.post("/pos/quote", quote, token=world.clerk_a)
    assert (late.status, late.code) == (404, "MEMBER_CODE_INVALID")


@pytest.mark.parametrize("code", ["01JZZZZZZZZZZZZZZZZZZZZZZZ", "812345678901234567", "12345", "8" * 19])
def test_a_member_id_or_an_unknown_code_is_not_a_member_code(api, world, now, code):
    mid, _ = _member(f"code-bad-{code[:4]}")
    for c in (code, mid):
        r = api.post("/pos/quote", {"lines": [{"sku": "CQ-BEER-500", "qty": 1}], "member_code": c}, token=world.clerk_a)
        assert (r.status, r.code) == (404, "MEMBER_CODE_INVALID")


def test_only_members_get_codes(api, world, now):
    assert api.get("/shop/me/code", token=world.clerk_a).status == 403
    assert api.get("/shop/me/code").status == 401


# --------------------------------------------------------------------------------------- levels and growth
SILVER = {"name": "银卡", "rank": 1, "growth_min": 200000, "orders_min": 3, "discount_bp": 300}
GOLD = {"name": "金卡", "rank": 2, "growth_min": 500000, "discount_bp": 500, "points_multiplier_bp": 15000}


@pytest.fixture
def levels(api, world):
    out = {}
    for body in ({"name": "普通会员", "rank": 0, "growth_min": 0}, SILVER, GOLD):
        r = api.post("/admin/member-levels", body, token=world.hq)
        assert r.status == 201, r
        out[body["name"]] = r.json
    return out


def _till_sale(api, world, code: str, lines: list[dict], key: str) -> dict:
    body = {"lines": lines, "member_code": code, "payment": {"method": "cash"}}
    r = api.post("/pos/sales", body, token=world.clerk_a, headers={"Idempotency-Key": key})
    assert r.status == 201, r
    return r.json


def test_levels_are_head_offices_and_ranks_are_unique(api, world, now, levels):
    listed = api.get("/admin/member-levels", token=world.clerk_a).json["items"]
    assert [lv["name"] for lv in listed] == ["普通会员", "银卡", "金卡"]
    # paged like every list: two, then the last one with no cursor after it
    first = api.get("/admin/member-levels?limit=2", token=world.clerk_a).json
    rest = api.get(f"/admin/member-levels?limit=2&next={first['next']}", token=world.clerk_a).json
    assert [lv["name"] for lv in first["items"] + rest["items"]] == ["普通会员", "银卡", "金卡"]
    assert rest["next"] is None
    assert api.get("/admin/member-levels?next=bm90LWEtY3Vyc29y", token=world.clerk_a).code == "INVALID_CURSOR"
    assert api.post("/admin/member-levels", {**SILVER, "name": "银卡2"}, token=world.hq).code == "LEVEL_RANK_TAKEN"
    assert api.post("/admin/member-levels", {**SILVER, "rank": 5}, token=world.manager_a).status == 403
    for bad in ({**SILVER, "rank": 6, "discount_bp": 10001}, {**SILVER, "rank": 7, "growth_min": 1.5}, {"name": "x"}):
        assert api.post("/admin/member-levels", bad, token=world.hq).status == 422
    silver = levels["银卡"]["level_id"]
    r = api.patch(f"/admin/member-levels/{silver}", {"discount_bp": 400}, token=world.hq)
    assert r.status == 200 and r.json["discount_bp"] == 400 and r.json["rank"] == 1
    assert api.patch(f"/admin/member-levels/{silver}", {"rank": 2}, token=world.hq).code == "LEVEL_RANK_TAKEN"
    assert api.patch("/admin/member-levels/01JZZZZZZZZZZZZZZZZZZZZZZZ", {"rank": 9}, token=world.hq).status == 404


def test_growth_upgrades_at_once_gives_the_level_discount_and_a_refund_takes_it_back(api, world, now, levels):
    from chalicelib.members import repository as members_repo

    world.receive(world.a, {"WLY-52-500": 10, "CQ-BEER-500": 30})
    mid, tok = _member("grower", phone="13900001111")
    sale = _till_sale(api, world, member_code(mid), [{"sku": "WLY-52-500", "qty": 2}], "grow-1")
    assert sale["payable_fen"] == 219800  # entry level: no discount
    events = drain_events()
    changed = [e["data"] for e in events if e["type"] == "MemberLevelChanged"]
    assert [(c["name"], c["up"]) for c in changed] == [("银卡", True)]
    profile = members_repo.get_profile(mid, consistent=True)
    assert (int(profile.growth_fen), int(profile.paid_orders), profile.level_id) == (
        219800,
        1,
        levels["银卡"]["level_id"],
    )
    texts = [(m["phone"], m["template"], m["params"]["level"]) for m in pump_sms()]
    assert texts == [("13900001111", "level_up", "银卡")]
    # silver: 3 % off, the same at the till and online
    till = api.post(
        "/pos/quote",
        {"lines": [{"sku": "CQ-BEER-500", "qty": 10}], "member_code": member_code(mid)},
        token=world.clerk_a,
    ).json
    shop = api.post(
        "/shop/quote",
        {"lines": [{"sku": "CQ-BEER-500", "qty": 10}], "fulfillment": "pickup", "store_id": world.a},
        token=tok,
    ).json
    assert till["payable_fen"] == shop["payable_fen"] == 6000 - 180
    assert [a["kind"] for a in till["applied"]] == ["level"]
    # the refund of one of the two bottles takes its growth back: below silver again
    r = api.post(
        f"/pos/orders/{sale['order_id']}/refunds",
        {"lines": [{"sku": "WLY-52-500", "qty": 1}], "reason": "破损"},
        token=world.manager_a,
        headers={"Idempotency-Key": "grow-refund-1"},
    )
    assert r.status == 201, r
    events = drain_events()
    assert [e["data"]["name"] for e in events if e["type"] == "MemberLevelChanged"] == ["普通会员"]
    profile = members_repo.get_profile(mid, consistent=True)
    assert int(profile.growth_fen) == 109900
    assert pump_sms() == []  # a downgrade is not texted
    # delivering every event again changes nothing
    import json

    from chalicelib.core import events as core_events
    from chalicelib.subscriptions import SUBSCRIPTIONS

    for e in events:
        core_events.handle_record(json.dumps(e), SUBSCRIPTIONS)
    assert int(members_repo.get_profile(mid, consistent=True).growth_fen) == 109900


def test_three_orders_make_silver_even_with_little_growth(api, world, now, levels):
    from chalicelib.members import repository as members_repo

    world.receive(world.a, {"CQ-BEER-500": 30})
    mid, _ = _member("regular")
    for i in range(3):
        _till_sale(api, world, member_code(mid), [{"sku": "CQ-BEER-500", "qty": 1}], f"small-{i}")
        drain_events()
    profile = members_repo.get_profile(mid, consistent=True)
    assert (int(profile.growth_fen), int(profile.paid_orders)) == (1800, 3)
    assert profile.level_id == levels["银卡"]["level_id"]


# --------------------------------------------------------------------------------------- phone and till members
@pytest.fixture
def wechat(monkeypatch):
    from chalicelib.core.settings import get_settings
    from chalicelib.identity import wechat as client
    from tools.fake_wechat import FakeWechat

    fake = FakeWechat().start()
    monkeypatch.setenv("WECHAT_APPID", fake.appid)
    monkeypatch.setenv("WECHAT_SECRET", fake.secret)
    monkeypatch.setenv("WECHAT_API_BASE", fake.url)
    get_settings.cache_clear()
    client._pool = None
    client._token.clear()
    yield fake
    fake.stop()
    client._pool = None
    client._token.clear()
    get_settings.cache_clear()


def _wechat_login(api, code: str) -> tuple[str, str]:
    r = api.post("/auth/wechat/login", {"code": code})
    assert r.status == 200, r
    return r.json["member"]["member_id"], r.json["token"]


def test_binding_the_phone_from_getphonenumber_reaches_the_member_by_sms(api, world, now, wechat, levels):
    from chalicelib.identity import repository as identity_repo

    mid, tok = _wechat_login(api, "bind-1")
    r = api.post("/shop/me/phone", {"code": "phone-13912345678"}, token=tok)
    assert r.status == 200, r
    assert r.json["member"]["phone_masked"] == "139****5678" and r.json["token"] is None
    assert identity_repo.get_member(mid).phone == "13912345678"
    assert [q["path"] for q in wechat.requests][-2:] == ["/cgi-bin/token", "/wxa/business/getuserphonenumber"]
    again = api.post("/shop/me/phone", {"code": "phone-13912345678"}, token=tok)
    assert (again.status, again.code) == (401, "WECHAT_CODE_INVALID")  # a phone code is good once
    other_id, other = _wechat_login(api, "bind-2")
    taken = api.post("/shop/me/phone", {"code": "phone-13912345678-2"}, token=other)
    assert (taken.status, taken.code) == (409, "PHONE_TAKEN")
    assert api.post("/shop/me/phone", {"code": "not-a-phone-code"}, token=other).code == "WECHAT_CODE_INVALID"
    assert api.post("/shop/me/phone", {"code": ""}, token=other).status == 422
    assert api.post("/shop/me/phone", {"code": "phone-13912345678"}, token=world.clerk_a).status == 403
    # the access token was fetched once and reused
    assert [q["path"] for q in wechat.requests].count("/cgi-bin/token") == 1


def test_a_till_member_buys_at_once_and_claims_the_account_with_wechat(api, world, now, wechat, levels):
    world.receive(world.a, {"WLY-52-500": 5})
    r = api.post("/pos/members", {"phone": "+86-137-0000-1234", "nickname": "老王"}, token=world.clerk_a)
    assert r.status == 201, r
    till = r.json
    assert till["is_new"] and till["phone_masked"] == "137****1234" and len(till["member_code"]) == 18
    sale = {
        "lines": [{"sku": "WLY-52-500", "qty": 2}],
        "member_code": till["member_code"],
        "payment": {"method": "cash"},
    }
    s = api.post("/pos/sales", sale, token=world.clerk_a, headers={"Idempotency-Key": "till-member-1"})
    assert s.status == 201 and s.json["member_id"] == till["member_id"]
    drain_events()  # growth: silver
    again = api.post("/pos/members", {"phone": "13700001234"}, token=world.clerk_a).json
    assert again["member_id"] == till["member_id"] and not again["is_new"]
    # the customer installs the mini-program: WeChat login makes a new account, binding the phone claims the
    # till member, with its history
    fresh_id, fresh = _wechat_login(api, "claimer")
    bound = api.post("/shop/me/phone", {"code": "phone-13700001234"}, token=fresh)
    assert bound.status == 200, bound
    assert bound.json["member"]["member_id"] == till["member_id"] and bound.json["token"]
    orders = api.get("/shop/orders", token=bound.json["token"]).json["items"]
    assert [o["order_id"] for o in orders] == [s.json["order_id"]]
    # logging in again leads to the till member; the account WeChat made first is closed
    from chalicelib.identity import repository as identity_repo

    assert identity_repo.member_for_openid("wx-claimer").member_id == till["member_id"]
    retired = identity_repo.get_member(fresh_id)
    assert (retired.status, retired.merged_into) == ("merged", till["member_id"])
    # the closed account's token ends with it (it would otherwise work for days as an empty account)
    assert api.get("/shop/me", token=fresh).code == "TOKEN_REVOKED"
    assert api.get("/shop/me", token=bound.json["token"]).json["member_id"] == till["member_id"]
    # now the phone's member uses the app: the till must scan their code
    assert api.post("/pos/members", {"phone": "13700001234"}, token=world.clerk_a).code == "MEMBER_HAS_APP"
    assert api.post("/pos/members", {"phone": "023-6370123"}, token=world.clerk_a).code == "PHONE_INVALID"
    assert api.post("/pos/members", {"phone": "13700001235"}, token=world.hq).status == 403
    assert api.post("/pos/members", {"phone": "13700001235"}, token=bound.json["token"]).status == 403


def test_head_office_finds_members_by_phone_tail_nickname_and_level(api, world, now, levels):
    world.receive(world.a, {"WLY-52-500": 5})
    wang = api.post("/pos/members", {"phone": "13700005678", "nickname": "王先生"}, token=world.clerk_a).json
    li = api.post("/pos/members", {"phone": "13800009999", "nickname": "李女士"}, token=world.clerk_a).json
    sale = {
        "lines": [{"sku": "WLY-52-500", "qty": 2}],
        "member_code": wang["member_code"],
        "payment": {"method": "cash"},
    }
    assert api.post("/pos/sales", sale, token=world.clerk_a, headers={"Idempotency-Key": "find-1"}).status == 201
    drain_events()

    def ids(query: str, token=world.hq) -> list[str]:
        r = api.get(f"/admin/members{query}", token=token)
        assert r.status == 200, r
        return [m["member_id"] for m in r.json["items"]]

    assert ids("?q=5678") == [wang["member_id"]]
    assert ids("?q=%E6%9D%8E") == [li["member_id"]]  # 李
    assert ids(f"?level_id={levels['银卡']['level_id']}") == [wang["member_id"]]
    assert set(ids("?limit=200")) >= {wang["member_id"], li["member_id"]}
    page = api.get(f"/admin/members/{wang['member_id']}", token=world.manager_a).json
    assert page["level"]["name"] == "银卡" and page["spend_fen"] == 219800 and page["paid_orders"] == 1
    assert page["last_store_id"] == world.a and page["phone_masked"] == "137****5678" and page["source"] == "till"
    assert api.get("/admin/members", token=world.clerk_a).status == 403
    assert api.get("/admin/members?level_id=nope", token=world.hq).status == 422
    assert api.get("/admin/members/01JZZZZZZZZZZZZZZZZZZZZZZZ", token=world.hq).code == "MEMBER_NOT_FOUND"
    # staff correct a birthday
    r = api.put(f"/admin/members/{li['member_id']}/birthday", {"birthday": "1990-05-20"}, token=world.hq)
    assert r.status == 200 and r.json["birthday"] == "1990-05-20"
    assert (
        api.put(f"/admin/members/{li['member_id']}/birthday", {"birthday": "1990-13-01"}, token=world.hq).status == 422
    )


def test_the_members_page_and_what_they_may_change(api, world, now, levels):
    mid, tok = _member("page", phone="13500001234")
    me = api.get("/shop/me", token=tok)
    assert me.status == 200, me
    assert me.json["level"]["name"] == "普通会员" and me.json["growth"] == 0
    assert me.json["next_level"] == {"name": "银卡", "growth_needed": 200000}
    assert me.json["points"] == 0 and me.json["wallet"] == {"balance_fen": 0, "principal_fen": 0, "bonus_fen": 0}
    assert me.json["phone_masked"] == "135****1234" and me.json["referrer"] is None
    r = api.patch("/shop/me", {"nickname": "小明", "birthday": "1995-02-28"}, token=tok)
    assert r.status == 200 and r.json["nickname"] == "小明" and r.json["birthday"] == "1995-02-28"
    again = api.patch("/shop/me", {"birthday": "1995-03-01"}, token=tok)
    assert (again.status, again.code) == (409, "BIRTHDAY_ALREADY_SET")
    assert api.patch("/shop/me", {"nickname": "x" * 101}, token=tok).status == 422
    assert api.patch("/shop/me", {"level": 9}, token=tok).status == 422  # not a member's to change
    assert api.get("/shop/me", token=world.clerk_a).status == 403
    assert api.get("/admin/members?q=%E5%B0%8F", token=world.hq).json["items"][0]["member_id"] == mid  # 小


def test_recharged_principal_grows_and_a_recharge_refund_takes_it_back(api, world, now, levels):
    from chalicelib.members import repository as members_repo

    mid, tok = _member("recharger")
    rc = api.post(
        "/pos/recharges",
        {"member_code": member_code(mid), "amount_fen": 250000, "payment": {"method": "cash"}},
        token=world.clerk_a,
        headers={"Idempotency-Key": "grow-rc"},
    )
    assert rc.status == 201, rc
    drain_events()
    assert int(members_repo.get_profile(mid, consistent=True).growth_fen) == 250000  # silver: 2,000 yuan
    assert api.get("/shop/me", token=tok).json["level"]["name"] == "银卡"
    r = api.post(
        f"/admin/wallet/recharges/{rc.json['recharge_id']}/refund",
        {},
        token=world.hq,
        headers={"Idempotency-Key": "grow-rc-back"},
    )
    assert r.status in (200, 201), r
    drain_events()
    assert int(members_repo.get_profile(mid, consistent=True).growth_fen) == 0
    assert api.get("/shop/me", token=tok).json["level"]["name"] == "普通会员"
