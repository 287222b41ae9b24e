"""Stores at the API: admin CRUD with scope, and the shop's nearest-first list with open_now."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from chalicelib.core import clock
from tests.helpers import STORE_BODY, token_for

pytestmark = pytest.mark.clock  # depends on the time of day / weekday: make test-clock pins it

# Chongqing, near 解放碑 (the brief's example query point is 29.56, 106.55)
HERE = (29.56, 106.55)
STORES = [
    ("解放碑店", 29.5575, 106.5772),
    ("观音桥店", 29.5760, 106.5330),
    ("沙坪坝店", 29.5570, 106.4560),
]


@pytest.fixture
def three(api, hq):
    out = []
    for name, lat, lng in STORES:
        r = api.post("/admin/stores", {**STORE_BODY, "name": name, "lat": lat, "lng": lng}, token=hq)
        assert r.status == 201, r
        out.append(r.json)
    return out


def test_create_get_update_list(api, hq):
    r = api.post("/admin/stores", STORE_BODY, token=hq)
    assert r.status == 201, r
    sid = r.json["store_id"]
    assert len(sid) == 26 and r.json["name"] == "解放碑店" and r.json["pickup_radius_m"] == 3000
    assert r.json["status"] == "active" and r.json["created_at"].endswith("Z")
    g = api.get(f"/admin/stores/{sid}", token=hq)
    assert g.status == 200 and g.json == r.json
    p = api.patch(f"/admin/stores/{sid}", {"phone": "023-60000000", "delivery_radius_m": 8000}, token=hq)
    assert p.status == 200 and p.json["phone"] == "023-60000000" and p.json["delivery_radius_m"] == 8000
    assert p.json["name"] == "解放碑店"
    assert api.get("/admin/stores", token=hq).json["items"][0]["phone"] == "023-60000000"


def test_list_pagination_walks_every_store(api, hq, three):
    seen, cursor = [], None
    for _ in range(5):
        r = api.get("/admin/stores?limit=2" + (f"&next={cursor}" if cursor else ""), token=hq)
        assert r.status == 200
        seen += [s["name"] for s in r.json["items"]]
        cursor = r.json["next"]
        if not cursor:
            break
    assert sorted(seen) == sorted(n for n, _, _ in STORES)
    assert api.get("/admin/stores?next=garbage!!", token=hq).code == "INVALID_CURSOR"
    assert api.get("/admin/stores?limit=0", token=hq).status == 422
    assert api.get("/admin/stores?limit=201", token=hq).status == 422
    assert api.get("/admin/stores?limit=abc", token=hq).status == 422


def test_store_manager_sees_and_edits_only_own_store(api, hq, three):
    own, other = three[0]["store_id"], three[1]["store_id"]
    mgr = token_for("store_manager", store_id=own)
    assert [s["store_id"] for s in api.get("/admin/stores", token=mgr).json["items"]] == [own]
    assert api.get(f"/admin/stores/{own}", token=mgr).status == 200
    r = api.get(f"/admin/stores/{other}", token=mgr)
    assert (r.status, r.code) == (403, "STORE_SCOPE")
    assert api.patch(f"/admin/stores/{other}", {"phone": "023-1111111"}, token=mgr).status == 403
    r = api.patch(
        f"/admin/stores/{own}", {"opening_hours": [{"weekday": 1, "open": "10:00", "close": "22:00"}]}, token=mgr
    )
    assert r.status == 200 and r.json["opening_hours"] == [{"weekday": 1, "open": "10:00", "close": "22:00"}]
    r = api.patch(f"/admin/stores/{own}", {"lat": 30.0}, token=mgr)
    assert (r.status, r.code) == (403, "FIELD_FORBIDDEN")
    assert api.post("/admin/stores", STORE_BODY, token=mgr).status == 403
    clerk = token_for("clerk", store_id=own)
    assert api.get(f"/admin/stores/{own}", token=clerk).code == "ROLE_FORBIDDEN"


@pytest.mark.parametrize(
    "patch,field",
    [
        ({"lat": "29.5"}, "lat"),
        ({"lat": 91}, "lat"),
        ({"delivery_radius_m": 1.5}, "delivery_radius_m"),
        ({"delivery_radius_m": -1}, "delivery_radius_m"),
        ({"name": ""}, "name"),
        ({"name": "店" * 5000}, "name"),
        ({"phone": "call me"}, "phone"),
        ({"status": "open"}, "status"),
        ({"colour": "red"}, "colour"),
        ({"opening_hours": [{"weekday": 8, "open": "09:00", "close": "21:00"}]}, "opening_hours.0.weekday"),
        ({"opening_hours": [{"weekday": 1, "open": "9am", "close": "21:00"}]}, "opening_hours.0.open"),
    ],
)
def test_bad_store_input_is_422_naming_the_field(api, hq, patch, field):
    r = api.post("/admin/stores", {**STORE_BODY, **patch}, token=hq)
    assert (r.status, r.code) == (422, "VALIDATION_ERROR"), r
    assert field in [f["field"] for f in r.json["details"]["fields"]]


def test_update_rejects_nulls_empty_and_unknown_store(api, hq, three):
    sid = three[0]["store_id"]
    r = api.patch(f"/admin/stores/{sid}", {"name": None}, token=hq)
    assert r.status == 422 and r.json["details"]["fields"][0]["field"] == "name"
    assert api.patch(f"/admin/stores/{sid}", {}, token=hq).status == 422
    r = api.patch("/admin/stores/01JZZZZZZZZZZZZZZZZZZZZZZZ", {"phone": "023-1234567"}, token=hq)
    assert (r.status, r.code) == (404, "STORE_NOT_FOUND")
    assert api.get("/admin/stores/nope", token=hq).code == "STORE_NOT_FOUND"
    # nothing half-written: the unknown store was not created by the PATCH
    assert len(api.get("/admin/stores", token=hq).json["items"]) == 3


def test_create_is_idempotent_with_key(api, hq):
    h = {"Idempotency-Key": "create-jfb-1"}
    a = api.post("/admin/stores", STORE_BODY, token=hq, headers=h)
    b = api.post("/admin/stores", STORE_BODY, token=hq, headers=h)
    assert a.status == b.status == 201 and a.json == b.json
    assert b.headers.get("Idempotent-Replayed") == "true"
    c = api.post("/admin/stores", {**STORE_BODY, "name": "别的店"}, token=hq, headers=h)
    assert (c.status, c.code) == (409, "IDEMPOTENCY_KEY_REUSED")
    assert len(api.get("/admin/stores", token=hq).json["items"]) == 1
    # a failed request does not burn the key
    h2 = {"Idempotency-Key": "create-2"}
    assert api.post("/admin/stores", {**STORE_BODY, "lat": 99}, token=hq, headers=h2).status == 422
    assert api.post("/admin/stores", STORE_BODY, token=hq, headers=h2).status == 201
    assert api.post("/admin/stores", STORE_BODY, token=hq, headers={"Idempotency-Key": "x" * 300}).status == 422


# ------------------------------------------------------------------------------------------- shop
def test_shop_stores_sorted_by_distance_with_open_now(api, member, three):
    # Monday 2026-11-23 12:00 in Chongqing (04:00 UTC): open 09:00-23:00
    clock.set_clock(lambda: datetime(2026, 11, 23, 4, 0, tzinfo=UTC))
    r = api.get(f"/shop/stores?lat={HERE[0]}&lng={HERE[1]}", token=member)
    assert r.status == 200, r
    items = r.json["items"]
    assert [s["name"] for s in items] == ["观音桥店", "解放碑店", "沙坪坝店"]
    dists = [s["distance_m"] for s in items]
    assert dists == sorted(dists) and 2000 < dists[0] < 3000 and 8000 < dists[2] < 10000
    assert all(s["open_now"] for s in items)
    assert "notes" not in items[0] and "created_at" not in items[0]
    # 23:30 local: closed
    clock.set_clock(lambda: datetime(2026, 11, 23, 15, 30, tzinfo=UTC))
    assert not any(s["open_now"] for s in api.get("/shop/stores?lat=29.56&lng=106.55", token=member).json["items"])


def test_shop_hides_suspended_stores_and_pages(api, hq, member, three):
    api.patch(f"/admin/stores/{three[1]['store_id']}", {"status": "suspended"}, token=hq)
    r = api.get("/shop/stores?lat=29.56&lng=106.55&limit=1", token=member)
    assert [s["name"] for s in r.json["items"]] == ["解放碑店"] and r.json["next"]
    r2 = api.get(f"/shop/stores?lat=29.56&lng=106.55&limit=1&next={r.json['next']}", token=member)
    assert [s["name"] for s in r2.json["items"]] == ["沙坪坝店"] and r2.json["next"] is None


@pytest.mark.parametrize(
    "qs",
    [
        "",
        "?lat=29.56",
        "?lat=abc&lng=106.5",
        "?lat=95&lng=106.5",
        "?lat=29.5&lng=106.5&radius=3",
        "?lat=29.5&lng=106.5&next=-1",
    ],
)
def test_shop_stores_bad_query_is_422(api, member, qs):
    r = api.get("/shop/stores" + qs, token=member)
    assert r.status == 422, r


def test_shop_stores_needs_a_member_token(api):
    assert api.get("/shop/stores?lat=29.56&lng=106.55").status == 401


def test_every_response_carries_a_request_id(api, hq):
    a = api.get("/admin/stores", token=hq).headers["X-Request-Id"]
    b = api.get("/admin/stores", token=hq).headers["X-Request-Id"]
    assert a and b and a != b
    assert api.get("/admin/stores", token=hq, headers={"X-Request-Id": "abc-123"}).headers["X-Request-Id"] == "abc-123"
