"""Hardening of the public API (issue 15): login throttling, revocable staff sessions, required Idempotency-Key,
strict input, one error shape, scope rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.core import clock
from chalicelib.core.passwords import hash_password
from chalicelib.identity import repository as identity_repo
from tests.helpers import STORE_BODY, token_for

T0 = datetime(2026, 12, 4, 2, 0, tzinfo=UTC)  # Friday 10:00 in Chongqing: the stores are open
# Every test runs at T0 (orders need an open store): the real time of day never decides a result here.
pytestmark = pytest.mark.usefixtures("now")


@pytest.fixture
def now():
    """A clock the test moves: ``now.at += timedelta(...)``."""

    class Clock:
        at = T0

    c = Clock()
    clock.set_clock(lambda: c.at)
    return c


@pytest.fixture
def clerk(api, hq):
    store = api.post("/admin/stores", STORE_BODY, token=hq).json
    identity_repo.create_staff(
        "01JC1ERK000000000000000000", "jfb.clerk", "小李", "clerk", store["store_id"], hash_password("right pass 1")
    )
    return store["store_id"]


def login(api, password, username="jfb.clerk"):
    return api.post("/auth/staff/login", {"username": username, "password": password})


# --------------------------------------------------------------------------------------- login throttling
def test_the_6th_to_10th_wrong_password_throttle_then_lock_even_the_right_one(now, api, clerk, hq):
    for _ in range(5):
        assert login(api, "wrong").code == "INVALID_CREDENTIALS"
    # 5 failures: the next attempt waits 1 s, then 2, 4, 8 s (even with the right password)
    for wait in (1, 2, 4, 8):
        r = login(api, "right pass 1")
        assert r.status == 429 and r.code == "RATE_LIMITED", r
        assert r.headers["Retry-After"] == str(wait) and r.json["details"]["retry_after_s"] == wait
        now.at += timedelta(seconds=wait)
        assert login(api, "wrong").code == "INVALID_CREDENTIALS"  # the 6th .. 9th failure
    now.at += timedelta(seconds=16)
    assert login(api, "wrong").code == "INVALID_CREDENTIALS"  # the 10th: locked for 15 minutes
    r = login(api, "right pass 1")
    assert r.status == 429 and r.headers["Retry-After"] == "900", r
    now.at += timedelta(minutes=14)
    assert login(api, "right pass 1").status == 429
    # head office lifts the lock
    assert api.post("/admin/staff/jfb.clerk/unlock", token=hq).status == 204
    assert login(api, "right pass 1").status == 200


def test_a_lock_ends_after_15_minutes_and_a_success_forgets_the_failures(now, api, clerk):
    for i in range(10):
        now.at += timedelta(seconds=20)
        assert login(api, "wrong").status == 401, i
    now.at += timedelta(minutes=15)
    assert login(api, "right pass 1").status == 200
    for _ in range(4):
        assert login(api, "wrong").status == 401
    assert login(api, "right pass 1").status == 200  # counted from 0 again
    for _ in range(4):
        assert login(api, "wrong").status == 401
    assert login(api, "wrong").status == 401
    assert login(api, "wrong").status == 429


def test_one_address_trying_many_usernames_is_throttled(now, api, clerk):
    for i in range(15):
        assert login(api, "wrong", username=f"nobody{i:02d}").status == 401, i
    r = login(api, "right pass 1")  # the address waits, whatever the username
    assert r.status == 429 and r.headers["Retry-After"] == "1"


def test_member_logins_are_throttled_per_openid(now, api, stage_local):
    for _ in range(20):
        assert api.post("/auth/dev/login", {"openid": "o-flood-1"}).status == 200
    r = api.post("/auth/dev/login", {"openid": "o-flood-1"})
    assert r.status == 429 and r.code == "RATE_LIMITED" and int(r.headers["Retry-After"]) >= 1
    assert api.post("/auth/dev/login", {"openid": "o-other-1"}).status == 200
    now.at += timedelta(minutes=16)
    assert api.post("/auth/dev/login", {"openid": "o-flood-1"}).status == 200


def test_only_head_office_unlocks(api, clerk, hq):
    manager = token_for("store_manager", sub="01JMGR00000000000000000000", store_id=clerk)
    r = api.post("/admin/staff/jfb.clerk/unlock", token=manager)
    assert r.status == 403 and r.json["details"] == {}  # a 403 names no allowed roles


# --------------------------------------------------------------------------------------- revocable sessions
def test_a_disabled_clerks_token_is_refused_on_its_next_request(api, clerk, hq):
    token = login(api, "right pass 1").json["token"]
    assert api.get("/pos/orders", token=token).status == 200
    r = api.post("/admin/staff/jfb.clerk/disable", token=hq)
    assert r.status == 200 and r.json["status"] == "disabled"
    r = api.get("/pos/orders", token=token)
    assert r.status == 401 and r.code == "TOKEN_REVOKED", r
    assert login(api, "right pass 1").code == "INVALID_CREDENTIALS"
    assert api.post("/admin/staff/jfb.clerk/enable", token=hq).json["status"] == "active"
    assert api.get("/pos/orders", token=token).code == "TOKEN_REVOKED"  # enabling does not revive old tokens
    fresh = login(api, "right pass 1").json["token"]
    assert api.get("/pos/orders", token=fresh).status == 200


def test_a_password_reset_or_a_store_change_ends_the_tokens(api, clerk, hq):
    token = login(api, "right pass 1").json["token"]
    r = api.post("/admin/staff/jfb.clerk/password", {"password": "new pass 22"}, token=hq)
    assert r.status == 200, r
    assert api.get("/pos/orders", token=token).code == "TOKEN_REVOKED"
    assert login(api, "right pass 1").status == 401
    token = login(api, "new pass 22").json["token"]
    other = api.post("/admin/stores", {**STORE_BODY, "name": "观音桥店"}, token=hq).json["store_id"]
    r = api.patch("/admin/staff/jfb.clerk", {"store_id": other}, token=hq)
    assert r.status == 200 and r.json["store_id"] == other, r
    assert api.get("/pos/orders", token=token).code == "TOKEN_REVOKED"
    r = api.patch("/admin/staff/jfb.clerk", {"name": "李四"}, token=hq)  # a new name keeps the sessions
    token = login(api, "new pass 22").json["token"]
    assert api.patch("/admin/staff/jfb.clerk", {"name": "李五"}, token=hq).status == 200
    assert api.get("/pos/orders", token=token).status == 200


def test_a_manager_manages_only_their_own_clerks(api, clerk, hq):
    own = token_for("store_manager", sub="01JMGR00000000000000000000", store_id=clerk)
    other_store = api.post("/admin/stores", {**STORE_BODY, "name": "观音桥店"}, token=hq).json["store_id"]
    other = token_for("store_manager", sub="01JMGR00000000000000000001", store_id=other_store)
    assert api.post("/admin/staff/jfb.clerk/disable", token=other).code == "STAFF_NOT_FOUND"
    assert api.post("/admin/staff/nobody/disable", token=own).code == "STAFF_NOT_FOUND"
    assert api.post("/admin/staff/jfb.clerk/disable", token=own).json["status"] == "disabled"
    assert api.patch("/admin/staff/jfb.clerk", {"role": "store_manager"}, token=own).status == 403


def test_nobody_disables_their_own_account(api, hq):
    identity_repo.create_staff("01JHQ20000000000000000000", "hq.two", "总部", "hq_admin", None, hash_password("x" * 10))
    token = login(api, "x" * 10, username="hq.two").json["token"]
    assert api.post("/admin/staff/hq.two/disable", token=token).code == "SELF_ACTION"


# --------------------------------------------------------------------------------------- Idempotency-Key
def test_an_order_without_a_key_is_refused_and_a_retry_with_one_returns_the_first(api, world):
    world.receive(world.a, {"CQ-BEER-500": 10})
    member = token_for("member", sub="01JMEMBER00000000000000000")
    body = {"store_id": world.a, "fulfillment": "pickup", "lines": [{"sku": "CQ-BEER-500", "qty": 2}]}
    r = api.post("/shop/orders", body, token=member, key=None)
    assert r.status == 428 and r.code == "IDEMPOTENCY_KEY_REQUIRED", r
    assert r.json["details"]["fields"][0]["field"] == "Idempotency-Key"
    assert world.stock(world.a)["CQ-BEER-500"] == 10  # nothing held
    first = api.post("/shop/orders", body, token=member, key="retry-1")
    again = api.post("/shop/orders", body, token=member, key="retry-1")
    assert first.status == again.status == 201
    assert again.json["order_id"] == first.json["order_id"] and again.headers.get("Idempotent-Replayed") == "true"
    assert world.stock(world.a)["CQ-BEER-500"] == 8


@pytest.mark.parametrize(
    "path",
    ["/admin/stores/{a}/stock/receipts", "/admin/transfers", "/pos/sales"],
)
def test_stock_and_sale_posts_need_a_key(api, world, path):
    token = world.manager_a
    r = api.post(path.format(a=world.a), {"lines": [{"sku": "CQ-BEER-500", "qty": 1}]}, token=token, key=None)
    assert r.status == 428 and r.code == "IDEMPOTENCY_KEY_REQUIRED", r


# --------------------------------------------------------------------------------------- strict input
def test_coordinates_dynamodb_cannot_store_are_rounded_not_a_500(api, hq):
    r = api.post("/admin/stores", {**STORE_BODY, "lat": 1e-131, "lng": -1.38e-283}, token=hq)
    assert r.status == 201 and (r.json["lat"], r.json["lng"]) == (0.0, 0.0), r
    r = api.patch(f"/admin/stores/{r.json['store_id']}", {"lat": 91.0}, token=hq)
    assert r.status == 422 and r.json["details"]["fields"][0]["field"] == "lat"


def test_the_quantity_limit_holds_after_identical_lines_are_merged(api, world):
    member = token_for("member", sub="01JMEMBER00000000000000000")
    body = {"store_id": world.a, "lines": [{"sku": "CQ-BEER-500", "qty": 999}] * 200}
    r = api.post("/shop/quote", body, token=member)
    assert r.status == 422 and "CQ-BEER-500" in r.json["details"]["fields"][0]["message"], r


def test_an_invalid_filter_is_refused_not_ignored(api, hq, stage_local):
    r = api.get("/admin/sms/outbox?phone=garbage", token=hq)
    assert r.status == 422 and r.json["details"]["fields"][0]["field"] == "phone", r
    assert api.get("/admin/sms/outbox?phone=13800138000", token=hq).status == 200


def test_an_overlong_path_id_is_unknown(api, hq):
    assert api.get("/admin/stores/" + "A" * 129, token=hq).code == "NOT_FOUND"


# --------------------------------------------------------------------------------------- one error shape
@pytest.mark.parametrize(
    ("method", "path", "headers", "raw", "status", "code"),
    [
        ("POST", "/auth/staff/login", {"Content-Type": "text/plain"}, "x", 415, "UNSUPPORTED_MEDIA_TYPE"),
        ("PUT", "/auth/staff/login", {}, "{}", 405, "METHOD_NOT_ALLOWED"),
        ("POST", "/auth/staff/login", {}, "{not json", 400, "MALFORMED_JSON"),
    ],
)
def test_errors_chalice_answers_itself_have_the_contract_shape(api, method, path, headers, raw, status, code):
    r = api.call(method, path, headers=headers, raw=raw)
    assert r.status == status and r.code == code, r
    assert set(r.json) == {"code", "message", "details"} and r.headers["Content-Type"].startswith("application/json")


def test_contract_error_maps_foreign_bodies():
    from chalicelib.core.http import contract_error

    assert contract_error(403, {"message": "Missing Authentication Token"})["code"] == "BAD_REQUEST"
    assert contract_error(404, None)["code"] == "NOT_FOUND"
    assert contract_error(501, "<html>")["code"] == "INTERNAL"
    assert contract_error(400, {"code": "X", "message": "m"}) is None


# --------------------------------------------------------------------------------------- scope
def test_staff_get_404_for_another_stores_order(api, world):
    world.receive(world.a, {"CQ-BEER-500": 10})
    member = token_for("member", sub="01JMEMBER00000000000000000")
    body = {"store_id": world.a, "fulfillment": "pickup", "lines": [{"sku": "CQ-BEER-500", "qty": 1}]}
    order_id = api.post("/shop/orders", body, token=member).json["order_id"]
    assert api.get(f"/pos/orders/{order_id}", token=world.clerk_a).status == 200
    foreign = api.get(f"/pos/orders/{order_id}", token=world.clerk_b)
    unknown = api.get("/pos/orders/01M8TW7VWNZWZ6CTDVZ3WMV4F2", token=world.clerk_b)
    assert foreign.status == unknown.status == 404 and foreign.code == unknown.code == "ORDER_NOT_FOUND"
    assert api.post(f"/pos/orders/{order_id}/accept", token=world.clerk_b).status == 404


def test_a_403_names_no_allowed_roles(api, member):
    r = api.get("/admin/stores", token=member)
    assert r.status == 403 and r.code == "ROLE_FORBIDDEN" and r.json["details"] == {}


def test_wechat_logins_are_throttled_per_address_before_wechat_is_asked(now, api, monkeypatch):
    from chalicelib.core.settings import get_settings
    from chalicelib.identity import wechat as client
    from tools.fake_wechat import FakeWechat

    fake = FakeWechat().start()
    try:
        for k, v in {"WECHAT_APPID": fake.appid, "WECHAT_SECRET": fake.secret, "WECHAT_API_BASE": fake.url}.items():
            monkeypatch.setenv(k, v)
        monkeypatch.setenv("MEMBER_LOGINS_PER_ADDRESS", "3")
        get_settings.cache_clear()
        client._pool = None
        for i in range(3):
            assert api.post("/auth/wechat/login", {"code": f"code-{i}"}).status == 200
        r = api.post("/auth/wechat/login", {"code": "code-4"})
        assert r.status == 429 and r.headers["Retry-After"] == "1", r
    finally:
        fake.stop()
        client._pool = None
