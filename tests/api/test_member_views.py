"""The member pages at the API (chalicelib/memberviews): the member's referrer and distributor status on
``GET /shop/me``, tags on head office's member page and list (``?tag=`` from the tag's index), what store staff see,
and the DynamoDB requests each page makes."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.campaigns import services as campaigns
from chalicelib.core import clock
from chalicelib.core.dynamo import connection
from chalicelib.core.ids import new_id
from chalicelib.identity import repository as identity
from tests.helpers import drain_events, member_code, token_for

NOW = datetime(2026, 12, 2, 2, 0, tzinfo=UTC)  # Wednesday 10:00 in Shanghai: every demo store is open
DISTRIBUTION = {"enabled": True, "who": "apply", "level1_bp": 1000, "level2_bp": 500}


@pytest.fixture
def now():
    t = {"now": NOW}
    clock.set_clock(lambda: t["now"])
    return t


@contextmanager
def dynamo_requests():
    """The DynamoDB operations called while inside, in order."""
    client = connection().client
    ops: list[str] = []

    def hook(model, **kw):
        ops.append(model.name)

    client.meta.events.register("before-call.dynamodb", hook, unique_id="count-member-views")
    try:
        yield ops
    finally:
        client.meta.events.unregister("before-call.dynamodb", unique_id="count-member-views")


def login(api, openid: str, nickname: str, scene: str | None = None) -> tuple[str, str]:
    body = {"openid": openid, "nickname": nickname} | ({"scene": scene} if scene else {})
    r = api.post("/auth/dev/login", body)
    assert r.status == 200, r
    return r.json["member"]["member_id"], r.json["token"]


def page(api, tok) -> dict:
    r = api.get("/shop/me", token=tok)
    assert r.status == 200, r
    return r.json


# =========================================================================================== GET /shop/me
def test_a_member_bound_by_a_share_scene_sees_their_referrer_and_a_distributor_sees_so(now, api, world, stage_local):
    assert api.put("/admin/settings/distribution", DISTRIBUTION, token=world.hq).status == 200
    a_id, a_tok = login(api, "wx-alice", "Alice")
    assert (page(api, a_tok)["referrer"], page(api, a_tok)["distributor"]) == (None, False)
    scene = api.post("/shop/share-codes", {"kind": "referral"}, token=a_tok).json["scene"]
    b_id, b_tok = login(api, "wx-bobby", "Bobby", scene)
    drain_events()  # MemberJoined: distribution binds B to A

    with dynamo_requests() as ops:
        mine = page(api, b_tok)
    assert mine["referrer"] == {"member_id": a_id, "nickname": "Alice"} and mine["distributor"] is False
    assert mine["member_id"] == b_id and mine["nickname"] == "Bobby" and mine["wallet"]["balance_fen"] == 0
    # B's session version (core.sessions, then cached), the page with distribution's items, A's nickname
    assert ops == ["GetItem", "BatchGetItem", "BatchGetItem"]
    # the answer of a change is the same page
    changed = api.patch("/shop/me", {"nickname": "Bob"}, token=b_tok)
    assert changed.status == 200 and changed.json["nickname"] == "Bob"
    assert changed.json["referrer"] == {"member_id": a_id, "nickname": "Alice"}

    # A applies (head office decides under "apply"): a distributor once approved
    assert api.post("/shop/distribution/apply", token=a_tok).json["status"] == "applied"
    assert page(api, a_tok)["distributor"] is False
    assert api.post(f"/admin/distributors/{a_id}/approve", token=world.hq).status == 200
    with dynamo_requests() as ops:
        assert page(api, a_tok)["distributor"] is True
    assert ops == ["BatchGetItem"]  # nobody referred A: one request

    # open to everyone: every member is a distributor; switched off: nobody is (the referrer stays)
    assert api.put("/admin/settings/distribution", {**DISTRIBUTION, "who": "everyone"}, token=world.hq).status == 200
    assert page(api, b_tok)["distributor"] is True
    assert api.put("/admin/settings/distribution", {**DISTRIBUTION, "enabled": False}, token=world.hq).status == 200
    off = page(api, b_tok)
    assert off["distributor"] is False and off["referrer"]["member_id"] == a_id
    assert page(api, a_tok)["distributor"] is False


# =========================================================================================== staff views
def _member(openid: str, nickname: str) -> str:
    return identity.create_member(new_id(), openid, None, None, nickname).member_id


def _sale(api, world, member_id: str) -> None:
    body = {"lines": [{"sku": "CQ-BEER-500", "qty": 2}], "member_code": member_code(member_id)}
    clerk = token_for("clerk", sub="01JC1ERKA00000000000000000", store_id=world.a)  # minted now: the clock moves
    r = api.post(
        "/pos/sales", body | {"payment": {"method": "cash"}}, token=clerk, headers={"Idempotency-Key": new_id()}
    )
    assert r.status == 201, r


@pytest.fixture
def tagged(now, api, world, hq) -> dict[str, str]:
    """a: tagged vip by hand and dormant by rule; b: dormant; c: bought 10 days ago, no tag."""
    world.receive(world.a, {"CQ-BEER-500": 50})
    m = {k: _member(f"tags-{k}", f"tags-{k}") for k in "abc"}
    now["now"] = NOW - timedelta(days=100)
    _sale(api, world, m["a"])
    _sale(api, world, m["b"])
    now["now"] = NOW - timedelta(days=10)
    _sale(api, world, m["c"])
    now["now"] = NOW
    drain_events()
    campaigns.recompute_rule_tags(NOW)  # the nightly job: a and b are dormant (no order for 90 days)
    assert api.post("/admin/tags", {"name": "vip"}, token=hq).status == 201
    assert api.put(f"/admin/members/{m['a']}/tags/vip", token=hq).status == 200
    return m


def _listed(api, tok, query: str) -> list[str]:
    ids, nxt = [], None
    for _ in range(10):
        r = api.get(f"/admin/members?{query}" + (f"&next={nxt}" if nxt else ""), token=tok)
        assert r.status == 200, r
        ids += [i["member_id"] for i in r.json["items"]]
        nxt = r.json["next"]
        if nxt is None:
            return ids
    raise AssertionError("the list does not end")


def test_head_office_sees_tags_on_the_member_page_and_lists_members_by_tag(api, world, hq, tagged):
    m = tagged
    with dynamo_requests() as ops:
        r = api.get(f"/admin/members/{m['a']}", token=hq)
    assert r.status == 200 and r.json["tags"] == ["dormant", "vip"], r
    assert r.json["nickname"] == "tags-a" and r.json["paid_orders"] == 1 and r.json["last_store_id"] == world.a
    assert ops.count("BatchGetItem") == 1 and set(ops) <= {"BatchGetItem", "GetItem"}  # GetItem: staff session
    # the balances are the member's own (points from the till sale, an empty wallet)
    own = api.get("/shop/me", token=token_for("member", sub=m["a"])).json
    assert (r.json["points"], r.json["wallet"]) == (own["points"], own["wallet"]) and own["points"] > 0
    assert api.get(f"/admin/members/{m['c']}", token=hq).json["tags"] == []

    with dynamo_requests() as ops:
        vip = api.get("/admin/members?tag=vip", token=hq)
    assert [i["member_id"] for i in vip.json["items"]] == [m["a"]] and vip.json["items"][0]["tags"] == [
        "dormant",
        "vip",
    ]
    assert ops.count("Query") == 1 and ops.count("BatchGetItem") == 1 and "Scan" not in ops
    assert sorted(_listed(api, hq, "tag=dormant")) == sorted([m["a"], m["b"]])
    assert sorted(_listed(api, hq, "tag=dormant&limit=1")) == sorted([m["a"], m["b"]])  # one a page
    assert _listed(api, hq, "tag=dormant") == [m["b"], m["a"]]  # newest members first
    assert _listed(api, hq, "tag=nosuchtag") == []
    assert api.get("/admin/members?tag=a%23b", token=hq).status == 422  # never a tag name
    # the tag filter comes first; the other filters answer with tags too
    assert _listed(api, hq, "tag=vip&q=tags-b") == [m["a"]]
    by_name = api.get("/admin/members?q=tags-c", token=hq).json["items"]
    assert [(i["member_id"], i["tags"]) for i in by_name] == [(m["c"], [])]
    # taking the tag away takes the member off the list
    assert api.delete(f"/admin/members/{m['a']}/tags/vip", token=hq).status == 200
    assert _listed(api, hq, "tag=vip") == []
    assert api.get(f"/admin/members/{m['a']}", token=hq).json["tags"] == ["dormant"]


def test_store_staff_see_what_they_saw_before(api, world, hq, tagged):
    m = tagged
    mine = api.get(f"/admin/members/{m['a']}", token=world.manager_a)
    assert mine.status == 200 and mine.json["tags"] is None  # tags are head office's
    full = api.get(f"/admin/members/{m['a']}", token=hq).json
    assert {k: v for k, v in mine.json.items() if k != "tags"} == {k: v for k, v in full.items() if k != "tags"}
    listed = api.get("/admin/members?q=tags-", token=world.manager_a)
    assert listed.status == 200 and {i["member_id"] for i in listed.json["items"]} == set(m.values())
    assert all(i["tags"] is None for i in listed.json["items"])
    forbidden = api.get("/admin/members?tag=vip", token=world.manager_a)
    assert (forbidden.status, forbidden.code) == (403, "ROLE_FORBIDDEN")
    assert api.get("/admin/members", token=world.clerk_a).status == 403
    assert api.get(f"/admin/members/{m['a']}", token=world.clerk_a).status == 403
    assert api.put(f"/admin/members/{m['a']}/birthday", {"birthday": "1990-05-20"}, token=world.manager_a).status == 403
    fixed = api.put(f"/admin/members/{m['a']}/birthday", {"birthday": "1990-05-20"}, token=hq)
    assert fixed.status == 200 and fixed.json["birthday"] == "1990-05-20" and fixed.json["tags"] == ["dormant", "vip"]
    assert api.get("/admin/members/01JZZZZZZZZZZZZZZZZZZZZZZZ", token=hq).code == "MEMBER_NOT_FOUND"
    assert api.get("/shop/me", token=world.manager_a).status == 403
