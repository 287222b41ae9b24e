"""Stock at the API: goods-in, stock-takes, thresholds and low-stock alerts, the ledger, transfers."""

from __future__ import annotations

import pytest

from tests.helpers import drain_events, token_for


def test_receipts_add_stock_with_a_ledger_entry(api, world):
    mv = world.receive(world.a, {"MT-53-500": 10, "CQ-BEER-500": 48})
    assert mv["kind"] == "receipt" and mv["deltas"] == {"MT-53-500": 10, "CQ-BEER-500": 48}
    world.receive(world.a, {"MT-53-500": 2})
    assert world.stock(world.a) == {"MT-53-500": 12, "CQ-BEER-500": 48}
    assert world.stock(world.b) == {}
    led = api.get(f"/admin/stores/{world.a}/stock/MT-53-500/ledger", token=world.hq).json["items"]
    assert [(e["kind"], e["delta"]) for e in led] == [("receipt", 2), ("receipt", 10)]  # newest first
    assert world.ledger_sum(world.a, "MT-53-500") == 12


def test_receipt_bad_input(api, world):
    url = f"/admin/stores/{world.a}/stock/receipts"
    assert api.post(url, {"lines": [{"sku": "NOPE", "qty": 1}]}, token=world.hq).code == "UNKNOWN_SKU"
    for body in (
        {"lines": []},
        {"lines": [{"sku": "MT-53-500", "qty": 0}]},
        {"lines": [{"sku": "MT-53-500", "qty": 1.5}]},
        {"lines": [{"sku": "MT-53-500", "qty": "3"}]},
        {"lines": [{"sku": "MT-53-500", "qty": 1}, {"sku": "MT-53-500", "qty": 2}]},
        {"lines": [{"sku": "MT-53-500", "qty": 1}], "x": 1},
    ):
        r = api.post(url, body, token=world.hq)
        assert (r.status, r.code) == (422, "VALIDATION_ERROR"), (body, r)
    assert world.stock(world.a) == {}  # nothing half-written
    r = api.post(
        f"/admin/stores/{world.b}/stock/receipts", {"lines": [{"sku": "MT-53-500", "qty": 1}]}, token=world.clerk_a
    )
    assert (r.status, r.code) == (403, "STORE_SCOPE")
    r = api.post(
        "/admin/stores/01JZZZZZZZZZZZZZZZZZZZZZZZ/stock/receipts",
        {"lines": [{"sku": "MT-53-500", "qty": 1}]},
        token=world.hq,
    )
    assert r.status == 404
    assert api.post(url, {"lines": [{"sku": "MT-53-500", "qty": 1}]}, token=token_for("member")).status == 403


def test_receipt_idempotency_key(api, world):
    url, body = f"/admin/stores/{world.a}/stock/receipts", {"lines": [{"sku": "MT-53-500", "qty": 5}]}
    h = {"Idempotency-Key": "grn-2026-001"}
    first = api.post(url, body, token=world.hq, headers=h)
    again = api.post(url, body, token=world.hq, headers=h)
    assert first.status == again.status == 201 and first.json == again.json
    assert world.stock(world.a)["MT-53-500"] == 5
    assert (
        api.post(url, {"lines": [{"sku": "MT-53-500", "qty": 6}]}, token=world.hq, headers=h).code
        == "IDEMPOTENCY_KEY_REUSED"
    )


def test_stock_take_turns_counts_into_adjustments(api, world):
    world.receive(world.a, {"MT-53-500": 10, "CQ-BEER-500": 24})
    r = api.post(
        f"/admin/stores/{world.a}/stock/counts",
        {
            "lines": [
                {"sku": "MT-53-500", "counted_qty": 8},
                {"sku": "CQ-BEER-500", "counted_qty": 24},
                {"sku": "WLY-52-500", "counted_qty": 3},
            ],
            "note": "月底盘点",
        },
        token=world.manager_a,
    )
    assert r.status == 201, r
    assert r.json["adjustments"] == {"MT-53-500": -2, "WLY-52-500": 3}
    assert r.json["system"] == {"MT-53-500": 10, "CQ-BEER-500": 24, "WLY-52-500": 0}
    assert world.stock(world.a) == {"MT-53-500": 8, "CQ-BEER-500": 24, "WLY-52-500": 3}
    for sku, qty in world.stock(world.a).items():
        assert world.ledger_sum(world.a, sku) == qty
    # a clerk cannot do a stock-take; nothing to adjust writes nothing
    assert (
        api.post(
            f"/admin/stores/{world.a}/stock/counts",
            {"lines": [{"sku": "MT-53-500", "counted_qty": 8}]},
            token=world.clerk_a,
        ).status
        == 403
    )
    same = api.post(
        f"/admin/stores/{world.a}/stock/counts", {"lines": [{"sku": "MT-53-500", "counted_qty": 8}]}, token=world.hq
    )
    assert same.json["adjustments"] == {} and same.json["movement"] is None
    assert (
        api.post(
            f"/admin/stores/{world.a}/stock/counts",
            {"lines": [{"sku": "MT-53-500", "counted_qty": -1}]},
            token=world.hq,
        ).status
        == 422
    )


def test_low_stock_alert_once_per_crossing_with_suggested_source(api, world):
    world.receive(world.a, {"CQ-BEER-500": 12})
    world.receive(world.b, {"CQ-BEER-500": 100})
    r = api.put(f"/admin/stores/{world.a}/stock/CQ-BEER-500/threshold", {"threshold": 10}, token=world.manager_a)
    assert r.status == 200 and r.json["threshold"] == 10 and r.json["low"] is False
    drain_events()
    url = f"/admin/stores/{world.a}/stock/counts"
    low_events = []
    for counted in (9, 8, 7):  # three movements below the line: one crossing
        api.post(url, {"lines": [{"sku": "CQ-BEER-500", "counted_qty": counted}]}, token=world.hq)
        low_events += [e for e in drain_events() if e["type"] == "LowStock"]
    assert len(low_events) == 1 and low_events[0]["data"]["qty"] == 9
    alerts = api.get("/admin/alerts/low-stock", token=world.hq).json["items"]
    assert len(alerts) == 1
    alert = alerts[0]
    assert (alert["store_id"], alert["sku"], alert["qty"], alert["threshold"]) == (world.a, "CQ-BEER-500", 7, 10)
    assert alert["suggested_source"]["store_id"] == world.b and alert["suggested_source"]["qty"] == 13
    # the manager of the other store sees none of it; back above the line closes the alert
    assert api.get("/admin/alerts/low-stock", token=world.manager_b).json["items"] == []
    assert api.get(f"/admin/alerts/low-stock?store_id={world.a}", token=world.manager_b).status == 403
    world.receive(world.a, {"CQ-BEER-500": 20})
    drain_events()
    assert api.get("/admin/alerts/low-stock", token=world.hq).json["items"] == []
    # and a new crossing raises a new alert
    api.post(url, {"lines": [{"sku": "CQ-BEER-500", "counted_qty": 1}]}, token=world.hq)
    assert [e["type"] for e in drain_events()].count("LowStock") == 1


def test_threshold_bad_input(api, world):
    url = f"/admin/stores/{world.a}/stock/MT-53-500/threshold"
    assert api.put(url, {"threshold": -1}, token=world.hq).status == 422
    assert api.put(url, {"threshold": 2.5}, token=world.hq).status == 422
    assert api.put(url, {}, token=world.hq).status == 422
    assert api.put(f"/admin/stores/{world.a}/stock/NOPE/threshold", {"threshold": 1}, token=world.hq).status == 422
    assert api.put(url, {"threshold": 1}, token=world.manager_b).status == 403


def test_transfer_ship_receive_moves_stock_and_shows_in_transit(api, world):
    world.receive(world.b, {"CQ-BEER-500": 50})
    body = {
        "from_store_id": world.b,
        "to_store_id": world.a,
        "lines": [{"sku": "CQ-BEER-500", "qty": 20}],
        "note": "补货",
    }
    # a store manager's transfer ships from their own store: A cannot take B's stock
    assert api.post("/admin/transfers", body, token=world.manager_a).code == "STORE_SCOPE"
    r = api.post("/admin/transfers", body, token=world.manager_b)
    assert r.status == 201 and r.json["status"] == "CREATED", r
    tid = r.json["transfer_id"]
    # only the source store (or head office) ships
    assert api.post(f"/admin/transfers/{tid}/ship", token=world.manager_a).code == "STORE_SCOPE"
    s = api.post(f"/admin/transfers/{tid}/ship", token=world.manager_b)
    assert s.status == 200 and s.json["status"] == "SHIPPED"
    assert world.stock(world.b)["CQ-BEER-500"] == 30
    a_items = api.get(f"/admin/stores/{world.a}/stock", token=world.hq).json["items"]
    assert [(i["sku"], i["qty"], i["in_transit"]) for i in a_items] == [("CQ-BEER-500", 0, 20)]
    assert api.post(f"/admin/transfers/{tid}/ship", token=world.hq).code == "ILLEGAL_STATE"
    assert api.post(f"/admin/transfers/{tid}/cancel", token=world.hq).code == "ILLEGAL_STATE"
    rc = api.post(f"/admin/transfers/{tid}/receive", token=world.manager_a)
    assert rc.status == 200 and rc.json["status"] == "RECEIVED"
    a_items = api.get(f"/admin/stores/{world.a}/stock", token=world.hq).json["items"]
    assert [(i["sku"], i["qty"], i["in_transit"]) for i in a_items] == [("CQ-BEER-500", 20, 0)]
    assert world.ledger_sum(world.a, "CQ-BEER-500") == 20 and world.ledger_sum(world.b, "CQ-BEER-500") == 30
    listed = api.get(f"/admin/transfers?store_id={world.b}&direction=out", token=world.manager_b).json["items"]
    assert [t["transfer_id"] for t in listed] == [tid]
    assert (
        api.get(f"/admin/transfers?store_id={world.a}&direction=in", token=world.manager_a).json["items"][0]["status"]
        == "RECEIVED"
    )


def test_transfer_cannot_ship_more_than_the_source_has(api, world):
    world.receive(world.b, {"CQ-BEER-500": 5, "MT-53-500": 3})
    tid = api.post(
        "/admin/transfers",
        {
            "from_store_id": world.b,
            "to_store_id": world.a,
            "lines": [{"sku": "CQ-BEER-500", "qty": 4}, {"sku": "MT-53-500", "qty": 4}],
        },
        token=world.hq,
    ).json["transfer_id"]
    r = api.post(f"/admin/transfers/{tid}/ship", token=world.hq)
    assert (r.status, r.code) == (409, "OUT_OF_STOCK")
    assert r.json["details"]["short"] == [{"sku": "MT-53-500", "requested": 4, "available": 3, "store_id": world.b}]
    assert world.stock(world.b) == {"CQ-BEER-500": 5, "MT-53-500": 3}  # nothing moved: no partial ship
    c = api.post(f"/admin/transfers/{tid}/cancel", token=world.manager_a)
    assert c.json["status"] == "CANCELLED"
    assert api.post(f"/admin/transfers/{tid}/ship", token=world.hq).code == "ILLEGAL_STATE"


@pytest.mark.parametrize(
    "body",
    [
        {"from_store_id": "A", "to_store_id": "B", "lines": [{"sku": "MT-53-500", "qty": 1}]},
        {"lines": [{"sku": "MT-53-500", "qty": 1}]},
    ],
)
def test_transfer_bad_input(api, world, body):
    assert api.post("/admin/transfers", body, token=world.hq).status == 422


def test_transfer_same_store_and_unknown_store(api, world):
    same = {"from_store_id": world.a, "to_store_id": world.a, "lines": [{"sku": "MT-53-500", "qty": 1}]}
    assert api.post("/admin/transfers", same, token=world.hq).status == 422
    ghost = {
        "from_store_id": world.a,
        "to_store_id": "01JZZZZZZZZZZZZZZZZZZZZZZZ",
        "lines": [{"sku": "MT-53-500", "qty": 1}],
    }
    assert api.post("/admin/transfers", ghost, token=world.hq).status == 422
    # a store manager can only create transfers touching their own store
    other = {"from_store_id": world.a, "to_store_id": world.b, "lines": [{"sku": "MT-53-500", "qty": 1}]}
    third = token_for("store_manager", store_id="01JZZZZZZZZZZZZZZZZZZZZZZZ")
    assert api.post("/admin/transfers", other, token=third).status == 403
    assert api.post("/admin/transfers/01JZZZZZZZZZZZZZZZZZZZZZZZ/ship", token=world.hq).status == 404


def test_the_till_looks_products_up_by_barcode_and_name_with_its_stores_stock(api, world):
    world.receive(world.a, {"CQ-BEER-500": 24})
    world.receive(world.b, {"CQ-BEER-500": 5})
    r = api.get("/pos/products?barcode=6901234500028", token=world.clerk_a)
    assert r.status == 200, r
    [p] = r.json["items"]
    assert (p["sku"], p["price_fen"], p["stock_qty"], p["barcode"]) == ("CQ-BEER-500", 600, 24, "6901234500028")
    assert "cost_fen" not in p
    assert api.get("/pos/products?barcode=6901234500028", token=world.clerk_b).json["items"][0]["stock_qty"] == 5
    unknown = api.get("/pos/products?barcode=0000000000000", token=world.clerk_a)
    assert (unknown.status, unknown.code) == (404, "PRODUCT_NOT_FOUND")
    by_name = api.get("/pos/products?q=茅台", token=world.clerk_a).json["items"]
    assert [(x["sku"], x["stock_qty"]) for x in by_name] == [("MT-53-500", 0)]
    assert api.get("/pos/products", token=world.clerk_a).status == 422  # barcode or q
    assert api.get("/pos/products?q=茅台", token=world.hq).status == 403  # a till is one store's
    assert api.get("/pos/products?q=茅台", token=token_for("member")).status == 403
