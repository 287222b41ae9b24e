"""Auth at the API: staff login, WeChat login through a fake WeChat server, dev login, tokens and roles."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import jwt
import pytest

from chalicelib.core import clock
from chalicelib.core.passwords import hash_password
from chalicelib.identity import repository as identity_repo
from tests.helpers import STORE_BODY, token_for
from tools.fake_wechat import FakeWechat


@pytest.fixture
def wechat(monkeypatch):
    fake = FakeWechat().start()
    monkeypatch.setenv("WECHAT_APPID", fake.appid)
    monkeypatch.setenv("WECHAT_SECRET", fake.secret)
    monkeypatch.setenv("WECHAT_API_BASE", fake.url)
    from chalicelib.core.settings import get_settings
    from chalicelib.identity import wechat as client

    get_settings.cache_clear()
    get_settings()
    client._pool = None
    yield fake
    fake.stop()
    client._pool = None


@pytest.fixture
def store(api, hq):
    return api.post("/admin/stores", STORE_BODY, token=hq).json


@pytest.fixture
def manager(store):
    identity_repo.create_staff(
        "01JMANAGER0000000000000000",
        "jfb.manager",
        "王店长",
        "store_manager",
        store["store_id"],
        hash_password("correct horse 1"),
    )
    return "jfb.manager"


# ------------------------------------------------------------------------------------------- staff login
def test_staff_login_returns_token_that_works(api, manager, store):
    r = api.post("/auth/staff/login", {"username": "jfb.manager", "password": "correct horse 1"})
    assert r.status == 200, r
    assert r.json["staff"] == {
        "staff_id": "01JMANAGER0000000000000000",
        "username": "jfb.manager",
        "name": "王店长",
        "role": "store_manager",
        "store_id": store["store_id"],
        "status": "active",
        "created_at": r.json["staff"]["created_at"],
    }
    token = r.json["token"]
    assert api.get(f"/admin/stores/{store['store_id']}", token=token).status == 200


def test_password_is_stored_salted_with_a_kdf(api, manager):
    item = identity_repo.get_staff("jfb.manager")
    assert item.password_hash.startswith("scrypt$")
    assert "correct horse" not in item.password_hash
    assert hash_password("x") != hash_password("x")  # salted


@pytest.mark.parametrize(
    "username,password", [("jfb.manager", "wrong"), ("nobody", "correct horse 1"), ("JFB.MANAGER ", "wrong")]
)
def test_staff_login_wrong_credentials_is_401_without_saying_which(api, manager, username, password):
    r = api.post("/auth/staff/login", {"username": username, "password": password})
    assert (r.status, r.code) == (401, "INVALID_CREDENTIALS")
    assert r.json["message"] == "Wrong username or password"


def test_staff_login_bad_bodies(api):
    assert api.post("/auth/staff/login", raw="{not json").code == "MALFORMED_JSON"
    assert api.post("/auth/staff/login", raw="").status == 400
    r = api.post("/auth/staff/login", {"username": "a", "password": "b", "admin": True})
    assert (r.status, r.code) == (422, "VALIDATION_ERROR")
    assert r.json["details"]["fields"][0]["field"] == "admin"
    r = api.post("/auth/staff/login", {"username": 12, "password": "b"})
    assert r.status == 422 and r.json["details"]["fields"][0]["field"] == "username"
    r = api.post("/auth/staff/login", {"username": "a" * 10_000, "password": "b"})
    assert r.status == 422
    r = api.post("/auth/staff/login", raw="x" * 300_000)
    assert (r.status, r.code) == (413, "PAYLOAD_TOO_LARGE")


# ------------------------------------------------------------------------------------------- tokens
def test_missing_bad_and_expired_tokens_are_401(api, store):
    path = f"/admin/stores/{store['store_id']}"
    assert api.get(path).code == "TOKEN_MISSING"
    assert api.get(path, headers={"Authorization": "Basic abc"}).code == "TOKEN_MISSING"
    assert api.get(path, token="not-a-jwt").code == "TOKEN_INVALID"
    forged = jwt.encode(
        {"sub": "x", "role": "hq_admin", "iss": "omnistore", "iat": 1, "exp": 9999999999},
        "another-secret-of-sufficient-length-0123456789",
        algorithm="HS256",
    )
    assert api.get(path, token=forged).code == "TOKEN_INVALID"
    none_alg = jwt.encode(
        {"sub": "x", "role": "hq_admin", "iss": "omnistore", "iat": 1, "exp": 9999999999}, None, algorithm="none"
    )
    assert api.get(path, token=none_alg).code == "TOKEN_INVALID"
    old = datetime.now(UTC) - timedelta(hours=13)
    clock.set_clock(lambda: old)
    expired = token_for("hq_admin")
    clock.set_clock(None)
    r = api.get(path, token=expired)
    assert (r.status, r.code) == (401, "TOKEN_EXPIRED")


def test_wrong_role_is_403(api, store, member):
    r = api.get(f"/admin/stores/{store['store_id']}", token=member)
    assert (r.status, r.code) == (403, "ROLE_FORBIDDEN")
    clerk = token_for("clerk", store_id=store["store_id"])
    assert api.get(f"/admin/stores/{store['store_id']}", token=clerk).status == 403
    r = api.get("/shop/stores?lat=29.5&lng=106.5", token=token_for("hq_admin"))
    assert (r.status, r.code) == (403, "ROLE_FORBIDDEN")


def test_store_bound_token_without_store_is_rejected(api, store):
    r = api.get(f"/admin/stores/{store['store_id']}", token=token_for("store_manager"))
    assert (r.status, r.code) == (401, "TOKEN_INVALID")


# ------------------------------------------------------------------------------------------- wechat
def test_wechat_login_creates_member_once(api, wechat):
    r = api.post("/auth/wechat/login", {"code": "abc123"})
    assert r.status == 200, r
    assert r.json["member"]["is_new"] is True
    member_id = r.json["member"]["member_id"]
    sent = wechat.requests[-1]
    assert sent["path"] == "/sns/jscode2session" and sent["js_code"] == "abc123"
    assert sent["appid"] == wechat.appid and sent["grant_type"] == "authorization_code"
    assert "session_key" not in str(r.json)

    again = api.post("/auth/wechat/login", {"code": "abc123-second"})
    assert again.json["member"]["member_id"] != member_id  # another openid, another member
    wechat.used.discard("abc123")
    same = api.post("/auth/wechat/login", {"code": "abc123"})
    assert same.json["member"]["member_id"] == member_id and same.json["member"]["is_new"] is False
    me = api.get("/shop/me", token=same.json["token"])
    assert me.status == 200 and me.json["member_id"] == member_id


@pytest.mark.parametrize(
    "errcode,status,code",
    [
        (40029, 401, "WECHAT_CODE_INVALID"),
        (45011, 429, "WECHAT_RATE_LIMITED"),
        (40226, 403, "WECHAT_USER_BLOCKED"),
        (-1, 502, "WECHAT_UNAVAILABLE"),
    ],
)
def test_wechat_errors_map_to_clear_statuses(api, wechat, errcode, status, code):
    wechat.errors["bad"] = errcode
    r = api.post("/auth/wechat/login", {"code": "bad"})
    assert (r.status, r.code) == (status, code)


def test_wechat_used_code_is_401(api, wechat):
    assert api.post("/auth/wechat/login", {"code": "once"}).status == 200
    r = api.post("/auth/wechat/login", {"code": "once"})
    assert (r.status, r.code) == (401, "WECHAT_CODE_INVALID")


def test_wechat_down_is_502_not_500(api, wechat):
    wechat.status = 500
    r = api.post("/auth/wechat/login", {"code": "x1"})
    assert (r.status, r.code) == (502, "WECHAT_UNAVAILABLE")
    wechat.status = 200
    wechat.stop()
    wechat.stop = lambda: None
    r = api.post("/auth/wechat/login", {"code": "x2"})
    assert (r.status, r.code) == (502, "WECHAT_UNAVAILABLE")


def test_wechat_login_bad_input(api, wechat):
    assert api.post("/auth/wechat/login", {"code": ""}).status == 422
    assert api.post("/auth/wechat/login", {"code": 5}).status == 422
    assert api.post("/auth/wechat/login", {}).json["details"]["fields"][0]["field"] == "code"


# ------------------------------------------------------------------------------------------- dev login
def test_dev_login_is_404_outside_local(api):
    r = api.post("/auth/dev/login", {"openid": "dev-openid-1"})
    assert (r.status, r.code) == (404, "NOT_FOUND")
    assert api.post("/auth/dev/login", {"bogus": 1}).status == 404  # no hint that the route exists


def test_dev_login_on_local_stage(api, stage_local):
    r = api.post("/auth/dev/login", {"openid": "dev-openid-1", "phone": "13812345678", "nickname": "小王"})
    assert r.status == 200, r
    assert r.json["member"]["phone_masked"] == "138****5678" and r.json["member"]["nickname"] == "小王"
    assert api.get("/shop/stores?lat=29.5&lng=106.5", token=r.json["token"]).status == 200
    assert api.post("/auth/dev/login", {"openid": "x"}).status == 422


# ------------------------------------------------------------------------------------------- staff admin
def test_hq_creates_staff_and_manager_only_own_clerks(api, hq, store, manager):
    other = api.post("/admin/stores", {**STORE_BODY, "name": "观音桥店"}, token=hq).json
    body = {
        "username": "jfb.clerk2",
        "password": "longenough1",
        "name": "李收银",
        "role": "clerk",
        "store_id": store["store_id"],
    }
    mtoken = api.post("/auth/staff/login", {"username": "jfb.manager", "password": "correct horse 1"}).json["token"]
    r = api.post("/admin/staff", body, token=mtoken)
    assert r.status == 201, r
    assert "password" not in str(r.json)
    assert api.post("/auth/staff/login", {"username": "jfb.clerk2", "password": "longenough1"}).status == 200
    # another store's clerk, or a manager account: no
    r = api.post("/admin/staff", {**body, "username": "gyq.clerk", "store_id": other["store_id"]}, token=mtoken)
    assert r.status == 403
    r = api.post("/admin/staff", {**body, "username": "jfb.mgr2", "role": "store_manager"}, token=mtoken)
    assert r.status == 403
    # duplicate username
    assert api.post("/admin/staff", body, token=hq).code == "USERNAME_TAKEN"
    # binding rules
    r = api.post("/admin/staff", {**body, "username": "noshop", "store_id": None}, token=hq)
    assert r.status == 422
    r = api.post("/admin/staff", {**body, "username": "hq2", "role": "hq_admin"}, token=hq)
    assert r.status == 422
    r = api.post("/admin/staff", {**body, "username": "ghost", "store_id": "01JZZZZZZZZZZZZZZZZZZZZZZZ"}, token=hq)
    assert r.status == 422 and r.json["details"]["fields"][0]["field"] == "store_id"
    # listing: the manager sees only their store
    listed = api.get("/admin/staff", token=mtoken).json["items"]
    assert {s["username"] for s in listed} == {"jfb.manager", "jfb.clerk2"}
    assert api.get(f"/admin/staff?store_id={other['store_id']}", token=mtoken).status == 403
    assert len(api.get("/admin/staff", token=hq).json["items"]) == 2
