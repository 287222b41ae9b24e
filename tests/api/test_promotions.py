"""Promotions at the API: the reference member day on shop and till, admin routes and their bad inputs."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.core import clock
from tests.helpers import drain_events, member_code, token_for

pytestmark = pytest.mark.clock  # depends on the time of day / weekday: make test-clock pins it

FRIDAY = datetime(2026, 11, 27, 4, 0, tzinfo=UTC)  # Friday 12:00 in Chongqing
THURSDAY = FRIDAY - timedelta(days=1)
YEAR = {"starts_at": "2026-01-01T00:00:00+08:00", "ends_at": "2027-01-01T00:00:00+08:00"}
BAIJIU_200_10 = {
    "title": "会员日 白酒满200减10",
    "rule": {"kind": "threshold", "tiers": [{"min_fen": 20000, "off_fen": 1000}]},
    "scope": {"categories": ["baijiu"], "min_level": 0},
    "schedule": {**YEAR, "weekdays": [5]},
}
BEER_2_1 = {
    "title": "会员日 啤酒买二送一",
    "rule": {"kind": "buy_n_get_m", "buy_qty": 2, "free_qty": 1},
    "scope": {"skus": ["CQ-BEER-500"], "min_level": 0},
    "schedule": {**YEAR, "weekdays": [5]},
}
CART = [{"sku": "JNC-52-500", "qty": 2}, {"sku": "CQ-BEER-500", "qty": 3}]


@pytest.fixture(autouse=True)
def friday():
    clock.set_clock(lambda: FRIDAY)


@pytest.fixture
def shopper(api, world, stage_local):
    """A real member (the till identifies them by member code) and the member day set up by head office."""
    r = api.post(
        "/admin/products",
        {"sku": "JNC-52-500", "name": "剑南春 52%vol 500ml", "category": "baijiu", "price_fen": 11000, "unit": "瓶"},
        token=world.hq,
    )
    assert r.status == 201, r
    world.receive(world.a, {"JNC-52-500": 20, "CQ-BEER-500": 48})
    login = api.post("/auth/dev/login", {"openid": "member-day-fan", "phone": "13900001111"})
    assert login.status == 200, login
    for body in (BAIJIU_200_10, BEER_2_1):
        r = api.post("/admin/promotions", body, token=world.hq)
        assert r.status == 201, r
    return login.json["token"], login.json["member"]["member_id"]


def _totals(q):
    return (
        q["subtotal_fen"],
        q["discount_fen"],
        q["payable_fen"],
        [(ln["sku"], ln["qty"], ln["unit_price_fen"], ln["discount_fen"], ln["payable_fen"]) for ln in q["lines"]],
    )


def test_member_day_same_answer_on_shop_and_till(api, world, shopper):
    token, member_id = shopper
    shop = api.post("/shop/quote", {"lines": CART, "store_id": world.a}, token=token)
    assert shop.status == 200, shop
    assert _totals(shop.json) == (
        23800,
        1600,
        22200,
        [("JNC-52-500", 2, 11000, 1000, 21000), ("CQ-BEER-500", 3, 600, 600, 1200)],
    )
    assert {a["title"]: a["discount_fen"] for a in shop.json["applied"]} == {
        "会员日 白酒满200减10": 1000,
        "会员日 啤酒买二送一": 600,
    }
    till = api.post("/pos/quote", {"lines": CART, "member_code": member_code(member_id)}, token=world.clerk_a)
    assert till.status == 200, till
    assert _totals(till.json) == _totals(shop.json) and till.json["applied"] == shop.json["applied"]
    # a walk-in at the till (no member code) is not a member: no member-day prices
    assert api.post("/pos/quote", {"lines": CART}, token=world.clerk_a).json["discount_fen"] == 0

    # the order and the sale are charged what the quotes said, and keep the rules and allocations
    order = api.post("/shop/orders", {"lines": CART, "store_id": world.a}, token=token)
    sale = api.post(
        "/pos/sales",
        {"lines": CART, "member_code": member_code(member_id), "payment": {"method": "cash"}},
        token=world.clerk_a,
    )
    assert order.status == sale.status == 201, (order, sale)
    for o in (order.json, sale.json):
        assert o["payable_fen"] == 22200 and o["discount_fen"] == 1600
        assert {a["id"]: a["allocation"] for a in o["applied"]} == {
            a["id"]: a["allocation"] for a in shop.json["applied"]
        }
    created = [e for e in drain_events() if e["type"] == "OrderCreated"]
    assert created[0]["data"]["applied"] == order.json["applied"]  # consumers get the allocations too


def test_member_day_is_off_on_thursday(api, world, shopper):
    token, member_id = shopper
    clock.set_clock(lambda: THURSDAY)
    shop = api.post("/shop/quote", {"lines": CART, "store_id": world.a}, token=token).json
    till = api.post("/pos/quote", {"lines": CART, "member_code": member_code(member_id)}, token=world.clerk_a).json
    assert (
        _totals(shop)
        == _totals(till)
        == (23800, 0, 23800, [("JNC-52-500", 2, 11000, 0, 22000), ("CQ-BEER-500", 3, 600, 0, 1800)])
    )
    assert shop["applied"] == till["applied"] == []


def test_quote_explains_what_almost_applied(api, world, shopper):
    token, _ = shopper
    q = api.post(
        "/shop/quote",
        {"lines": [{"sku": "JNC-52-500", "qty": 1}, {"sku": "CQ-BEER-500", "qty": 2}], "store_id": world.a},
        token=token,
    ).json
    assert q["discount_fen"] == 0
    assert {h["message"] for h in q["hints"]} == {"add 90.00 more to save 10.00", "add 1 more to get 1 free"}


def test_refund_uses_the_allocated_amounts(api, world, shopper):
    token, member_id = shopper
    sale = api.post(
        "/pos/sales",
        {"lines": CART, "member_code": member_code(member_id), "payment": {"method": "cash"}},
        token=world.clerk_a,
    ).json
    r = api.post(
        f"/pos/orders/{sale['order_id']}/refunds",
        {"lines": [{"sku": "CQ-BEER-500", "qty": 3}], "reason": "破损"},
        token=world.clerk_a,
    )
    assert r.status == 201 and r.json["amount_fen"] == 1200  # three beers cost 12.00, not 18.00


def test_pause_resume_and_patch_take_effect_at_once(api, world, shopper):
    token, _ = shopper
    listed = api.get("/admin/promotions", token=world.hq).json["items"]
    beer = next(p for p in listed if p["kind"] == "buy_n_get_m")
    assert api.post(f"/admin/promotions/{beer['promo_id']}/pause", token=world.hq).json["status"] == "paused"
    q = api.post("/shop/quote", {"lines": CART, "store_id": world.a}, token=token).json
    assert q["discount_fen"] == 1000
    assert api.post(f"/admin/promotions/{beer['promo_id']}/resume", token=world.hq).json["status"] == "active"
    p = api.patch(
        f"/admin/promotions/{beer['promo_id']}",
        {"rule": {"kind": "buy_n_get_m", "buy_qty": 1, "free_qty": 1}},
        token=world.hq,
    )
    assert p.status == 200 and p.json["version"] == 4 and p.json["rule"]["buy_qty"] == 1
    q = api.post("/shop/quote", {"lines": CART, "store_id": world.a}, token=token).json
    assert q["discount_fen"] == 1000 + 600  # buy 1 get 1 on 3 beers: 1 free
    paused = api.get("/admin/promotions?status=paused", token=world.hq).json["items"]
    assert paused == []


def test_combo_gift_and_time_price(api, world, shopper):
    token, _ = shopper
    combo = {
        "title": "买茅台+五粮液送啤酒",
        "rule": {
            "kind": "combo_gift",
            "requires": [{"sku": "MT-53-500"}, {"sku": "WLY-52-500"}],
            "gift_sku": "CQ-BEER-500",
            "gift_qty": 2,
        },
        "schedule": YEAR,
    }
    r = api.post("/admin/promotions", combo, token=world.hq)
    assert r.status == 201 and r.json["rule"]["gift_name"] == "重庆啤酒 500ml", r
    flash = {
        "title": "午间闪购",
        "rule": {"kind": "time_price", "prices": [{"sku": "WLY-52-500", "price_fen": 99900}]},
        "schedule": {**YEAR, "hours": {"start": "11:00", "end": "13:00"}},
    }
    assert api.post("/admin/promotions", flash, token=world.hq).status == 201
    world.receive(world.a, {"MT-53-500": 1, "WLY-52-500": 1})
    before = world.stock(world.a)["CQ-BEER-500"]
    body = {"lines": [{"sku": "MT-53-500", "qty": 1}, {"sku": "WLY-52-500", "qty": 1}], "store_id": world.a}
    o = api.post("/shop/orders", body, token=token)
    assert o.status == 201, o
    gift = [ln for ln in o.json["lines"] if ln["gift"]]
    assert gift == [
        {
            "sku": "CQ-BEER-500",
            "name": "重庆啤酒 500ml",
            "qty": 2,
            "unit_price_fen": 0,
            "discount_fen": 0,
            "payable_fen": 0,
            "gift": True,
            "refunded_qty": 0,
            "refunded_fen": 0,
        }
    ]
    # flash price on the wuliangye, and (it is Friday) the member day's 10.00 off baijiu stacks on top
    assert o.json["payable_fen"] == 299900 + 99900 - 1000
    assert {a["rule"] for a in o.json["applied"]} == {"combo_gift", "time_price", "threshold"}
    assert world.stock(world.a)["CQ-BEER-500"] == before - 2  # the gift takes stock ...
    api.post(f"/shop/orders/{o.json['order_id']}/cancel", token=token)
    assert world.stock(world.a)["CQ-BEER-500"] == before  # ... and gives it back on cancel
    assert world.ledger_sum(world.a, "CQ-BEER-500") == before


def test_store_manager_reads_chain_and_own_store_promotions_only(api, world, shopper):
    own = {**BEER_2_1, "title": "解放碑店专享", "scope": {"stores": [world.a]}}
    other = {**BEER_2_1, "title": "观音桥店专享", "scope": {"stores": [world.b]}}
    a = api.post("/admin/promotions", own, token=world.hq).json["promo_id"]
    b = api.post("/admin/promotions", other, token=world.hq).json["promo_id"]
    titles = {p["title"] for p in api.get("/admin/promotions", token=world.manager_a).json["items"]}
    assert "解放碑店专享" in titles and "观音桥店专享" not in titles and "会员日 白酒满200减10" in titles
    assert api.get(f"/admin/promotions/{a}", token=world.manager_a).status == 200
    assert api.get(f"/admin/promotions/{b}", token=world.manager_a).code == "STORE_SCOPE"
    assert api.get("/admin/promotions", token=world.clerk_a).status == 403
    assert api.post(f"/admin/promotions/{a}/pause", token=world.manager_a).code == "ROLE_FORBIDDEN"
    assert api.patch(f"/admin/promotions/{a}", {"title": "x"}, token=world.manager_a).code == "ROLE_FORBIDDEN"


def test_promotion_routes_refuse_bad_input(api, world):
    hq = world.hq
    url = "/admin/promotions"
    assert api.post(url, BAIJIU_200_10).code == "TOKEN_MISSING"
    assert api.post(url, BAIJIU_200_10, token=token_for("member")).code == "ROLE_FORBIDDEN"
    assert api.post(url, BAIJIU_200_10, token=world.manager_a).code == "ROLE_FORBIDDEN"
    tiers = BAIJIU_200_10["rule"]
    bad = [
        {**BAIJIU_200_10, "rule": {**tiers, "tiers": [{"min_fen": 20000.5, "off_fen": 1000}]}},  # float money
        {**BAIJIU_200_10, "rule": {**tiers, "tiers": [{"min_fen": "20000", "off_fen": 1000}]}},  # string money
        {**BAIJIU_200_10, "rule": {**tiers, "tiers": [{"min_fen": 20000, "off_fen": -1}]}},
        {**BAIJIU_200_10, "rule": {**tiers, "tiers": [{"min_fen": 1000, "off_fen": 2000}]}},  # saves > spend
        {
            **BAIJIU_200_10,
            "rule": {**tiers, "tiers": [{"min_fen": 200, "off_fen": 10}, {"min_fen": 100, "off_fen": 20}]},
        },
        {**BAIJIU_200_10, "rule": {"kind": "threshold"}},
        {**BAIJIU_200_10, "rule": {"kind": "lottery"}},
        {**BAIJIU_200_10, "rule": {"kind": "percent", "percent_off": 100}},
        {
            **BAIJIU_200_10,
            "rule": {"kind": "member_price", "prices": [{"sku": "MT-53-500", "price_fen": 1}]},
            "scope": {},
        },  # needs min_level
        {**BAIJIU_200_10, "surprise": 1},  # unknown field
        {**BAIJIU_200_10, "title": "酒" * 61},  # too long
        {**BAIJIU_200_10, "title": ""},
        {**BAIJIU_200_10, "schedule": {**YEAR, "ends_at": "2025-01-01T00:00:00Z"}},  # ends before start
        {
            **BAIJIU_200_10,
            "schedule": {"starts_at": "2026-01-01T00:00:00", "ends_at": "2026-02-01T00:00:00"},
        },  # no zone
        {**BAIJIU_200_10, "schedule": {**YEAR, "weekdays": [0, 8]}},
        {**BAIJIU_200_10, "schedule": {**YEAR, "hours": {"start": "20:00", "end": "08:00"}}},
        {**BAIJIU_200_10, "scope": {"channels": ["phone"]}},
        {**BAIJIU_200_10, "scope": {"skus": ["A" * 100]}},
        {**BAIJIU_200_10, "priority": 1.5},
        {**BAIJIU_200_10, "exclusive": "yes"},
    ]
    for body in bad:
        r = api.post(url, body, token=hq)
        assert (r.status, r.code) == (422, "VALIDATION_ERROR"), (body, r)
        assert r.json["details"]["fields"]
    r = api.post(url, {**BAIJIU_200_10, "scope": {"skus": ["NOPE"]}}, token=hq)
    assert (r.status, r.code) == (422, "UNKNOWN_SKU")
    r = api.post(url, {**BAIJIU_200_10, "scope": {"stores": ["01JZZZZZZZZZZZZZZZZZZZZZZZ"]}}, token=hq)
    assert (r.status, r.code) == (422, "UNKNOWN_STORE")
    assert api.post(url, raw="{not json", token=hq).code == "MALFORMED_JSON"
    assert api.post(url, raw=json.dumps({**BAIJIU_200_10, "description": "x" * 300_000}), token=hq).status == 413
    assert api.get("/admin/promotions/01JZZZZZZZZZZZZZZZZZZZZZZZ", token=hq).code == "PROMOTION_NOT_FOUND"
    assert api.get("/admin/promotions/" + "x" * 3000, token=hq).status == 404
    assert api.post("/admin/promotions/" + "x" * 3000 + "/pause", token=hq).status == 404
    assert api.get("/admin/promotions?limit=500", token=hq).status == 422
    assert api.get("/admin/promotions?status=gone", token=hq).status == 422
    created = api.post(url, BAIJIU_200_10, token=hq).json["promo_id"]
    for patch in (
        {},
        {"title": None},
        {"priority": "high"},
        {"rule": {"kind": "percent", "percent_off": 0}},
        {"promo_id": "x"},
        {"status": "paused"},
    ):
        r = api.patch(f"{url}/{created}", patch, token=hq)
        assert r.status == 422, (patch, r)
    r = api.patch(
        f"{url}/{created}",
        {
            "rule": {"kind": "member_price", "prices": [{"sku": "MT-53-500", "price_fen": 1}]},
            "scope": {"categories": ["baijiu"]},
        },
        token=hq,
    )
    assert (r.status, r.code) == (422, "VALIDATION_ERROR")  # the merged promotion is checked too


def test_ended_promotions_show_as_ended_and_cannot_resume(api, world):
    body = {**BEER_2_1, "schedule": {"starts_at": "2026-11-01T00:00:00Z", "ends_at": "2026-11-20T00:00:00Z"}}
    pid = api.post("/admin/promotions", body, token=world.hq).json["promo_id"]
    got = api.get(f"/admin/promotions/{pid}", token=world.hq).json
    assert got["status"] == "ended"
    assert api.post(f"/admin/promotions/{pid}/resume", token=world.hq).code == "ILLEGAL_STATE"
    assert [p["promo_id"] for p in api.get("/admin/promotions?status=ended", token=world.hq).json["items"]] == [pid]
