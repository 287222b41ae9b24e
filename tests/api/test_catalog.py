"""Catalog at the API: admin CRUD, listing, barcode uniqueness, bad input, idempotency, shop view."""

from __future__ import annotations

import json

import pytest

from chalicelib.inventory.models import StockItem, stock_sk
from chalicelib.stores.models import store_pk
from tests.helpers import STORE_BODY, token_for

MOUTAI = {
    "sku": "MT-53-500",
    "name": "贵州茅台酒 飞天 53%vol 500ml",
    "category": "baijiu",
    "price_fen": 299900,
    "cost_fen": 250000,
    "barcode": "6901234567892",
    "spec": "500ml 53%vol",
    "unit": "瓶",
    "description": "酱香型白酒，产自贵州仁怀茅台镇。",
    "image_url": "https://img.example.com/p/mt-53-500.jpg",
}


def product(sku: str, **kw) -> dict:
    body = {"sku": sku, "name": f"商品 {sku}", "category": "snacks", "price_fen": 500}
    body.update(kw)
    return body


def fields_of(r) -> list[str]:
    return [f["field"] for f in r.json["details"]["fields"]]


@pytest.fixture
def moutai(api, hq):
    r = api.post("/admin/products", MOUTAI, token=hq)
    assert r.status == 201, r
    return r.json


@pytest.fixture
def store(api, hq):
    r = api.post("/admin/stores", STORE_BODY, token=hq)
    assert r.status == 201, r
    return r.json


@pytest.fixture
def manager(store):
    return token_for("store_manager", sub="01JMANAGER0000000000000000", store_id=store["store_id"])


# ------------------------------------------------------------------------------------------ happy paths
def test_create_returns_every_field_and_chinese_round_trips(api, hq, moutai):
    expected = {**MOUTAI, "consult_only": False, "contact_hint": None, "status": "on_sale"}
    assert {k: moutai[k] for k in expected} == expected
    assert moutai["created_at"] == moutai["updated_at"]
    assert moutai["created_at"].endswith("Z") or "+00:00" in moutai["created_at"]

    g = api.get("/admin/products/MT-53-500", token=hq)
    assert g.status == 200, g
    assert g.json == moutai


def test_defaults_for_optional_fields(api, hq):
    r = api.post("/admin/products", product("CHIPS-01", name="乐事薯片 原味"), token=hq)
    assert r.status == 201, r
    assert r.json["unit"] == "件" and r.json["status"] == "on_sale" and r.json["consult_only"] is False
    for f in ("cost_fen", "barcode", "contact_hint", "spec", "description", "image_url"):
        assert r.json[f] is None


def test_store_manager_can_read_but_not_write(api, hq, moutai, manager):
    assert api.get("/admin/products/MT-53-500", token=manager).status == 200
    assert api.get("/admin/products", token=manager).status == 200
    r = api.post("/admin/products", product("X1"), token=manager)
    assert (r.status, r.code) == (403, "ROLE_FORBIDDEN")
    r = api.patch("/admin/products/MT-53-500", {"price_fen": 1}, token=manager)
    assert (r.status, r.code) == (403, "ROLE_FORBIDDEN")


def test_get_unknown_product_is_404(api, hq):
    r = api.get("/admin/products/NOPE", token=hq)
    assert (r.status, r.code) == (404, "PRODUCT_NOT_FOUND")
    r = api.get("/admin/products/" + "x" * 300, token=hq)  # longer than any path id: unknown before it is read
    assert (r.status, r.code) == (404, "NOT_FOUND")
    r = api.patch("/admin/products/NOPE", {"price_fen": 1}, token=hq)
    assert (r.status, r.code) == (404, "PRODUCT_NOT_FOUND")


def test_patch_changes_only_present_fields(api, hq, moutai):
    r = api.patch(
        "/admin/products/MT-53-500", {"name": "飞天茅台 2024", "price_fen": 289900, "description": None}, token=hq
    )
    assert r.status == 200, r
    assert r.json["name"] == "飞天茅台 2024" and r.json["price_fen"] == 289900
    assert r.json["description"] is None
    assert r.json["cost_fen"] == 250000 and r.json["barcode"] == MOUTAI["barcode"]
    assert r.json["created_at"] == moutai["created_at"]
    g = api.get("/admin/products/MT-53-500", token=hq).json
    assert g == r.json


def test_patch_category_moves_product_between_category_lists(api, hq, moutai):
    r = api.patch("/admin/products/MT-53-500", {"category": "gift"}, token=hq)
    assert r.status == 200, r
    assert api.get("/admin/products?category=baijiu", token=hq).json["items"] == []
    assert [p["sku"] for p in api.get("/admin/products?category=gift", token=hq).json["items"]] == ["MT-53-500"]


@pytest.mark.parametrize(
    "patch, field",
    [
        ({"sku": "OTHER"}, "sku"),
        ({"name": None}, "name"),
        ({"price_fen": None}, "price_fen"),
        ({"consult_only": None}, "consult_only"),
        ({"status": None}, "status"),
        ({"unit": None}, "unit"),
        ({"category": None}, "category"),
        ({"price_fen": 1.5}, "price_fen"),
        ({"status": "deleted"}, "status"),
        ({}, "body"),
    ],
)
def test_patch_rejects_bad_changes(api, hq, moutai, patch, field):
    r = api.patch("/admin/products/MT-53-500", patch, token=hq)
    assert (r.status, r.code) == (422, "VALIDATION_ERROR"), r
    assert field in fields_of(r)


# ------------------------------------------------------------------------------------------ listing
def test_pagination_walks_every_product_in_sku_order(api, hq):
    skus = [f"SKU-{i:02d}" for i in range(5)]
    for s in reversed(skus):
        assert api.post("/admin/products", product(s), token=hq).status == 201
    seen, cursor, pages = [], None, 0
    while True:
        path = "/admin/products?limit=2" + (f"&next={cursor}" if cursor else "")
        r = api.get(path, token=hq)
        assert r.status == 200, r
        assert len(r.json["items"]) <= 2
        seen += [p["sku"] for p in r.json["items"]]
        pages += 1
        cursor = r.json["next"]
        if not cursor:
            break
        assert pages < 10
    assert seen == skus


def test_bad_cursor_and_limit_are_422(api, hq):
    r = api.get("/admin/products?next=garbage!!", token=hq)
    assert (r.status, r.code) == (422, "INVALID_CURSOR")
    r = api.get("/admin/products?limit=0", token=hq)
    assert (r.status, r.code) == (422, "VALIDATION_ERROR") and "limit" in fields_of(r)
    r = api.get("/admin/products?limit=201", token=hq)
    assert (r.status, r.code) == (422, "VALIDATION_ERROR")
    r = api.get("/admin/products?colour=red", token=hq)
    assert (r.status, r.code) == (422, "VALIDATION_ERROR") and "colour" in fields_of(r)


def test_category_and_status_filters(api, hq):
    api.post("/admin/products", product("BEER-1", category="beer", name="青岛啤酒"), token=hq)
    api.post("/admin/products", product("BEER-2", category="beer", status="off_sale"), token=hq)
    api.post("/admin/products", product("WINE-1", category="wine", name="张裕干红"), token=hq)
    api.post("/admin/products", product("BEER-3", category="beer"), token=hq)

    r = api.get("/admin/products?category=beer", token=hq)
    assert [p["sku"] for p in r.json["items"]] == ["BEER-1", "BEER-2", "BEER-3"]
    r = api.get("/admin/products?category=beer&status=on_sale", token=hq)
    assert [p["sku"] for p in r.json["items"]] == ["BEER-1", "BEER-3"]
    r = api.get("/admin/products?status=off_sale", token=hq)
    assert [p["sku"] for p in r.json["items"]] == ["BEER-2"]
    # filtered pages still reach every match
    r = api.get("/admin/products?category=beer&status=on_sale&limit=1", token=hq)
    first = [p["sku"] for p in r.json["items"]]
    r2 = api.get(f"/admin/products?category=beer&status=on_sale&limit=1&next={r.json['next']}", token=hq)
    assert first + [p["sku"] for p in r2.json["items"]] == ["BEER-1", "BEER-3"]
    r = api.get("/admin/products?category=Bad Category", token=hq)
    assert (r.status, r.code) == (422, "VALIDATION_ERROR") and "category" in fields_of(r)


def test_barcode_lookup(api, hq, moutai):
    api.post("/admin/products", product("OTHER", barcode="12345678"), token=hq)
    r = api.get(f"/admin/products?barcode={MOUTAI['barcode']}", token=hq)
    assert r.status == 200, r
    assert [p["sku"] for p in r.json["items"]] == ["MT-53-500"] and r.json["next"] is None
    assert api.get("/admin/products?barcode=99999999", token=hq).json["items"] == []
    r = api.get("/admin/products?barcode=abc", token=hq)
    assert (r.status, r.code) == (422, "VALIDATION_ERROR") and "barcode" in fields_of(r)


# ------------------------------------------------------------------------------------------ uniqueness
def test_duplicate_sku_is_409(api, hq, moutai):
    r = api.post("/admin/products", {**MOUTAI, "barcode": "11111111"}, token=hq)
    assert (r.status, r.code) == (409, "SKU_EXISTS")
    # the failed create claimed nothing: the barcode is still free
    assert api.post("/admin/products", product("B", barcode="11111111"), token=hq).status == 201


def test_duplicate_barcode_is_409_and_patch_frees_the_old_one(api, hq, moutai):
    r = api.post("/admin/products", product("COPY", barcode=MOUTAI["barcode"]), token=hq)
    assert (r.status, r.code) == (409, "BARCODE_TAKEN")
    assert api.get("/admin/products/COPY", token=hq).status == 404  # nothing half written

    assert api.post("/admin/products", product("OTHER", barcode="22222222"), token=hq).status == 201
    r = api.patch("/admin/products/OTHER", {"barcode": MOUTAI["barcode"]}, token=hq)
    assert (r.status, r.code) == (409, "BARCODE_TAKEN")
    assert api.get("/admin/products/OTHER", token=hq).json["barcode"] == "22222222"

    r = api.patch("/admin/products/MT-53-500", {"barcode": "33333333"}, token=hq)
    assert r.status == 200 and r.json["barcode"] == "33333333"
    assert [p["sku"] for p in api.get("/admin/products?barcode=33333333", token=hq).json["items"]] == ["MT-53-500"]
    assert api.get(f"/admin/products?barcode={MOUTAI['barcode']}", token=hq).json["items"] == []

    # the old barcode is free again
    r = api.post("/admin/products", product("NEW", barcode=MOUTAI["barcode"]), token=hq)
    assert r.status == 201, r
    # and a barcode removed with null is free too
    assert api.patch("/admin/products/MT-53-500", {"barcode": None}, token=hq).json["barcode"] is None
    assert api.patch("/admin/products/OTHER", {"barcode": "33333333"}, token=hq).status == 200


def test_patch_keeping_the_same_barcode_is_fine(api, hq, moutai):
    r = api.patch("/admin/products/MT-53-500", {"barcode": MOUTAI["barcode"], "price_fen": 1}, token=hq)
    assert r.status == 200, r
    assert [p["sku"] for p in api.get(f"/admin/products?barcode={MOUTAI['barcode']}", token=hq).json["items"]] == [
        "MT-53-500"
    ]


# ------------------------------------------------------------------------------------------ bad input
@pytest.mark.parametrize(
    "change, field",
    [
        ({"price_fen": 12.5}, "price_fen"),
        ({"price_fen": 100.0}, "price_fen"),
        ({"price_fen": -1}, "price_fen"),
        ({"price_fen": "500"}, "price_fen"),
        ({"cost_fen": 1.5}, "cost_fen"),
        ({"name": "酒" * 10_000}, "name"),
        ({"name": ""}, "name"),
        ({"colour": "red"}, "colour"),
        ({"sku": "bad sku!"}, "sku"),
        ({"sku": "x" * 65}, "sku"),
        ({"category": "Baijiu"}, "category"),
        ({"barcode": "12345"}, "barcode"),
        ({"barcode": 69012345678}, "barcode"),
        ({"status": "deleted"}, "status"),
        ({"consult_only": "yes"}, "consult_only"),
        ({"unit": "x" * 11}, "unit"),
        ({"spec": "x" * 101}, "spec"),
        ({"description": "x" * 1001}, "description"),
        ({"image_url": "http://img.example.com/a.jpg"}, "image_url"),
        ({"image_url": "https://" + "a" * 500}, "image_url"),
        ({"contact_hint": "x" * 201, "consult_only": True}, "contact_hint"),
    ],
)
def test_bad_product_input_is_422_naming_the_field(api, hq, change, field):
    r = api.post("/admin/products", {**product("BAD-1"), **change}, token=hq)
    assert (r.status, r.code) == (422, "VALIDATION_ERROR"), r
    assert field in fields_of(r)
    assert api.get("/admin/products/BAD-1", token=hq).status == 404


def test_missing_required_field_is_422(api, hq):
    body = product("BAD-2")
    del body["price_fen"]
    r = api.post("/admin/products", body, token=hq)
    assert (r.status, r.code) == (422, "VALIDATION_ERROR") and "price_fen" in fields_of(r)


def test_consult_only_needs_contact_hint_on_create_and_after_patch(api, hq, moutai):
    r = api.post("/admin/products", product("RARE-1", consult_only=True), token=hq)
    assert (r.status, r.code) == (422, "VALIDATION_ERROR") and "contact_hint" in fields_of(r)
    r = api.post("/admin/products", product("RARE-1", consult_only=True, contact_hint="  "), token=hq)
    assert (r.status, r.code) == (422, "VALIDATION_ERROR") and "contact_hint" in fields_of(r)

    r = api.patch("/admin/products/MT-53-500", {"consult_only": True}, token=hq)
    assert (r.status, r.code) == (422, "VALIDATION_ERROR") and "contact_hint" in fields_of(r)
    r = api.patch(
        "/admin/products/MT-53-500", {"consult_only": True, "contact_hint": "请致电 023-63701234 咨询"}, token=hq
    )
    assert r.status == 200 and r.json["consult_only"] is True
    r = api.patch("/admin/products/MT-53-500", {"contact_hint": None}, token=hq)
    assert (r.status, r.code) == (422, "VALIDATION_ERROR") and "contact_hint" in fields_of(r)
    r = api.patch("/admin/products/MT-53-500", {"consult_only": False, "contact_hint": None}, token=hq)
    assert r.status == 200 and r.json["contact_hint"] is None


def test_auth_errors(api, hq, member):
    r = api.post("/admin/products", product("A"))
    assert (r.status, r.code) == (401, "TOKEN_MISSING")
    r = api.get("/admin/products")
    assert (r.status, r.code) == (401, "TOKEN_MISSING")
    r = api.get("/admin/products", token=member)
    assert (r.status, r.code) == (403, "ROLE_FORBIDDEN")
    r = api.post("/admin/products", product("A"), token=member)
    assert (r.status, r.code) == (403, "ROLE_FORBIDDEN")
    r = api.post("/admin/products", product("A"), token=token_for("clerk", store_id="01J00000000000000000000000"))
    assert (r.status, r.code) == (403, "ROLE_FORBIDDEN")
    r = api.get("/shop/products?store_id=01J00000000000000000000000", token=hq)
    assert (r.status, r.code) == (403, "ROLE_FORBIDDEN")
    r = api.get("/shop/products?store_id=01J00000000000000000000000")
    assert (r.status, r.code) == (401, "TOKEN_MISSING")


def test_store_manager_post_is_403(api, manager):
    r = api.post("/admin/products", product("A"), token=manager)
    assert (r.status, r.code) == (403, "ROLE_FORBIDDEN")


@pytest.mark.parametrize("raw", ['{"sku": "A", ', "not json", "", "[1, 2]"])
def test_malformed_json_is_400(api, hq, raw):
    r = api.post("/admin/products", token=hq, raw=raw)
    if raw == "[1, 2]":  # valid JSON, wrong shape
        assert (r.status, r.code) == (422, "VALIDATION_ERROR")
    else:
        assert (r.status, r.code) == (400, "MALFORMED_JSON"), r


# ------------------------------------------------------------------------------------------ idempotency
def test_create_is_idempotent_with_key(api, hq):
    key = {"Idempotency-Key": "create-chips-1"}
    body = product("CHIPS-9", name="乐事薯片 黄瓜味")
    r1 = api.post("/admin/products", body, token=hq, headers=key)
    r2 = api.post("/admin/products", body, token=hq, headers=key)
    assert r1.status == r2.status == 201, (r1, r2)
    assert r1.json == r2.json
    assert r2.headers.get("Idempotent-Replayed") == "true"
    items = api.get("/admin/products", token=hq).json["items"]
    assert [p["sku"] for p in items] == ["CHIPS-9"]

    r3 = api.post("/admin/products", {**body, "price_fen": 600}, token=hq, headers=key)
    assert (r3.status, r3.code) == (409, "IDEMPOTENCY_KEY_REUSED")
    assert api.get("/admin/products/CHIPS-9", token=hq).json["price_fen"] == 500

    # without a key a repeat is simply a duplicate
    r4 = api.post("/admin/products", body, token=hq)
    assert (r4.status, r4.code) == (409, "SKU_EXISTS")


def test_failed_create_with_key_can_be_retried(api, hq):
    key = {"Idempotency-Key": "create-retry"}
    r = api.post("/admin/products", product("R1", consult_only=True), token=hq, headers=key)
    assert r.status == 422
    r = api.post("/admin/products", product("R1", consult_only=True), token=hq, headers=key)
    assert r.status == 422  # not replayed as success, not stuck "in progress"


# ------------------------------------------------------------------------------------------ shop
def _stock(store_id: str, sku: str, qty: int) -> None:
    StockItem(store_pk(store_id), stock_sk(sku), store_id=store_id, sku=sku, qty=qty).save()


def test_shop_lists_on_sale_with_stock_and_never_cost(api, hq, member, store, moutai):
    sid = store["store_id"]
    api.post("/admin/products", product("CHIPS-1", name="乐事薯片"), token=hq)
    api.post("/admin/products", product("GONE-1", status="off_sale"), token=hq)
    api.post(
        "/admin/products",
        product(
            "RARE-1",
            category="baijiu",
            name="三十年陈酿",
            consult_only=True,
            contact_hint="到店或致电 023-63701234 咨询",
            cost_fen=1,
        ),
        token=hq,
    )
    _stock(sid, "MT-53-500", 7)

    r = api.get(f"/shop/products?store_id={sid}", token=member)
    assert r.status == 200, r
    by_sku = {p["sku"]: p for p in r.json["items"]}
    assert sorted(by_sku) == ["CHIPS-1", "MT-53-500", "RARE-1"]  # off_sale hidden
    assert all("cost_fen" not in p for p in r.json["items"])
    assert "cost_fen" not in json.dumps(r.json) and "250000" not in json.dumps(r.json)

    mt = by_sku["MT-53-500"]
    assert mt == {
        "sku": "MT-53-500",
        "name": MOUTAI["name"],
        "category": "baijiu",
        "price_fen": 299900,
        "unit": "瓶",
        "spec": "500ml 53%vol",
        "image_url": MOUTAI["image_url"],
        "stock_qty": 7,
        "consult_only": False,
        "contact_hint": None,
    }
    assert by_sku["CHIPS-1"]["stock_qty"] == 0
    assert by_sku["RARE-1"]["consult_only"] is True
    assert by_sku["RARE-1"]["contact_hint"] == "到店或致电 023-63701234 咨询"

    r = api.get(f"/shop/products?store_id={sid}&category=baijiu", token=member)
    assert [p["sku"] for p in r.json["items"]] == ["MT-53-500", "RARE-1"]


def test_shop_hint_hidden_when_product_not_consult_only(api, hq, member, store):
    api.post("/admin/products", product("H1", contact_hint="旧提示"), token=hq)
    r = api.get(f"/shop/products?store_id={store['store_id']}", token=member)
    assert r.json["items"][0]["contact_hint"] is None


def test_shop_pages_through_on_sale_products(api, hq, member, store):
    for i in range(5):
        api.post("/admin/products", product(f"P{i}", status="off_sale" if i % 2 else "on_sale"), token=hq)
    seen, cursor = [], None
    for _ in range(10):
        path = f"/shop/products?store_id={store['store_id']}&limit=2" + (f"&next={cursor}" if cursor else "")
        r = api.get(path, token=member)
        assert r.status == 200, r
        seen += [p["sku"] for p in r.json["items"]]
        cursor = r.json["next"]
        if not cursor:
            break
    assert seen == ["P0", "P2", "P4"]


def test_shop_unknown_or_suspended_store_is_404(api, hq, member, store):
    r = api.get("/shop/products?store_id=01J0000000000000000000000Z", token=member)
    assert (r.status, r.code) == (404, "STORE_NOT_FOUND")
    assert api.patch(f"/admin/stores/{store['store_id']}", {"status": "suspended"}, token=hq).status == 200
    r = api.get(f"/shop/products?store_id={store['store_id']}", token=member)
    assert (r.status, r.code) == (404, "STORE_NOT_FOUND")


@pytest.mark.parametrize(
    "qs, field",
    [("", "store_id"), ("store_id=not-a-ulid", "store_id"), ("store_id=01J0000000000000000000000Z&limit=x", "limit")],
)
def test_shop_bad_query_is_422(api, member, qs, field):
    r = api.get(f"/shop/products?{qs}" if qs else "/shop/products", token=member)
    assert (r.status, r.code) == (422, "VALIDATION_ERROR"), r
    assert field in fields_of(r)


def test_openapi_documents_catalog_routes(api):
    doc = api.get("/openapi.json").json
    assert {"get", "post"} <= set(doc["paths"]["/admin/products"])
    assert {"get", "patch"} <= set(doc["paths"]["/admin/products/{sku}"])
    shop = doc["components"]["schemas"]["ShopProductOut"]["properties"]
    assert "cost_fen" not in shop and "stock_qty" in shop


def test_patch_retries_when_another_change_gets_in_between(api, hq, moutai, monkeypatch):
    """The write is conditional on the version read; a change in between is merged, not overwritten."""
    from chalicelib.catalog import repository, services

    real_get = repository.get
    calls = []

    def racing_get(sku, consistent=False):
        item = real_get(sku, consistent)
        if not calls:  # someone else changes the price right after our first read
            other = real_get(sku, True)
            repository.replace(other, {**services.fields_of(other), "price_fen": 1}, None, None)
        calls.append(sku)
        return item

    monkeypatch.setattr(repository, "get", racing_get)
    r = api.patch("/admin/products/MT-53-500", {"name": "飞天"}, token=hq)
    assert r.status == 200, r
    assert len(calls) == 2
    assert (r.json["name"], r.json["price_fen"]) == ("飞天", 1)
