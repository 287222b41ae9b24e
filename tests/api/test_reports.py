"""Reports kept by events: orders placed and refunded across two stores and two days; every figure of every
report is checked against a computation from the orders themselves (read back through GET /admin/orders), a
redelivered event adds nothing, and the rebuild from orders agrees to the fen."""

from __future__ import annotations

import codecs
import csv
import io
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from itertools import combinations

import pytest

from chalicelib.core import clock
from chalicelib.reports import domain, repository
from chalicelib.reports import services as reports
from tests.helpers import PRODUCTS, drain_events

DAY1 = datetime(2026, 11, 23, 4, 0, tzinfo=UTC)  # Monday 12:00 in Chongqing
COST = {p["sku"]: p.get("cost_fen", 0) for p in PRODUCTS}
FIELDS = ("orders", "units", "sales_fen", "discount_fen", "refund_fen", "cost_fen", "margin_fen")
RANGE = "from=2026-11-23&to=2026-11-24"
YEAR = {"starts_at": "2026-01-01T00:00:00+08:00", "ends_at": "2027-01-01T00:00:00+08:00"}


@pytest.fixture
def now():
    t = {"now": DAY1}
    clock.set_clock(lambda: t["now"])
    return t


def _sale(api, world, token, lines: dict[str, int]) -> dict:
    body = {"lines": [{"sku": s, "qty": q} for s, q in lines.items()], "payment": {"method": "cash"}}
    r = api.post("/pos/sales", body, token=token)
    assert r.status == 201, r
    return r.json


def _refund(api, token, order_id: str, lines: dict[str, int] | None) -> None:
    body = {"reason": "退货", **({"lines": [{"sku": s, "qty": q} for s, q in lines.items()]} if lines else {})}
    r = api.post(f"/pos/orders/{order_id}/refunds", body, token=token)
    assert r.status == 201, r


@pytest.fixture
def history(api, world, now):
    """Day 1: two sales at A (one with a discount), one at B. Day 2: a sale at A; a partial refund of A's first
    sale, the whole of one line of A's second sale and the whole of B's sale (refunds count on the day of their
    order; refunded skus leave the bought-together pairs)."""
    api.post(
        "/admin/promotions",
        {
            "title": "白酒满2000减100",
            "rule": {"kind": "threshold", "tiers": [{"min_fen": 200000, "off_fen": 10000}]},
            "scope": {"categories": ["baijiu"]},
            "schedule": YEAR,
        },
        token=world.hq,
    )
    world.receive(world.a, {"MT-53-500": 5, "CQ-BEER-500": 48, "WLY-52-500": 5})
    world.receive(world.b, {"MT-53-500": 5, "CQ-BEER-500": 48, "WLY-52-500": 5})
    s1 = _sale(api, world, world.clerk_a, {"MT-53-500": 1, "CQ-BEER-500": 6})
    s2 = _sale(api, world, world.clerk_a, {"CQ-BEER-500": 2, "WLY-52-500": 1})
    s3 = _sale(api, world, world.clerk_b, {"MT-53-500": 1, "WLY-52-500": 1, "CQ-BEER-500": 1})
    now["now"] = DAY1 + timedelta(days=1)
    _sale(api, world, world.clerk_a, {"CQ-BEER-500": 3})
    _refund(api, world.manager_a, s1["order_id"], {"CQ-BEER-500": 2})
    _refund(api, world.manager_b, s3["order_id"], None)
    _refund(api, world.manager_a, s2["order_id"], {"WLY-52-500": 1})
    delivered = drain_events()
    assert any(e["type"] == "RefundCompleted" for e in delivered)
    return delivered


def _orders(api, world) -> list[dict]:
    out, cursor = [], None
    while True:
        r = api.get(f"/admin/orders?{RANGE}&limit=2" + (f"&next={cursor}" if cursor else ""), token=world.hq)
        assert r.status == 200, r
        out += r.json["items"]
        cursor = r.json["next"]
        if not cursor:
            return out


def _expected(orders: list[dict]):
    """Figures per (store, day) and per sku, and co-purchase counts, computed from the orders: a pair is two
    skus of an order of which some units were kept (not refunded)."""
    tz = clock.business_tz()
    by_store, by_day, by_sku = defaultdict(Counter), defaultdict(Counter), defaultdict(Counter)
    pairs, sku_orders = Counter(), Counter()
    for o in orders:
        day = datetime.fromisoformat(o["created_at"].replace("Z", "+00:00")).astimezone(tz).date().isoformat()
        row = Counter(orders=1)
        for ln in o["lines"]:
            kept = ln["qty"] - ln["refunded_qty"]
            f = Counter(
                orders=1,
                units=kept,
                sales_fen=ln["payable_fen"],
                discount_fen=ln["discount_fen"],
                refund_fen=ln["refunded_fen"],
                cost_fen=kept * COST[ln["sku"]],
            )
            by_sku[ln["sku"]].update(f)
            row.update({k: v for k, v in f.items() if k != "orders"})
        by_store[o["store_id"]].update(row)
        by_day[day].update(row)
        skus = sorted({ln["sku"] for ln in o["lines"] if not ln["gift"] and ln["qty"] > ln["refunded_qty"]})
        sku_orders.update(skus)
        pairs["orders"] += 1 if skus else 0
        pairs.update(combinations(skus, 2))
    return by_store, by_day, by_sku, pairs, sku_orders


def _figures(c: Counter) -> dict:
    out = {k: c.get(k, 0) for k in FIELDS[:-1]}
    return {**out, "margin_fen": out["sales_fen"] - out["refund_fen"] - out["cost_fen"]}


def _reports(api, world) -> dict:
    out = {}
    for g in ("store", "day", "sku"):
        out[g] = api.get(f"/admin/reports/sales?{RANGE}&group_by={g}", token=world.hq).json
    out["best"] = api.get(f"/admin/reports/products?{RANGE}&order=best", token=world.hq).json
    out["pairs"] = api.get(f"/admin/reports/co-purchase?{RANGE}", token=world.hq).json
    out["stock"] = api.get("/admin/reports/stock", token=world.hq).json
    return out


def test_every_report_figure_matches_the_orders_and_the_rebuild_agrees(api, world, history):
    orders = _orders(api, world)
    assert len(orders) == 4 and len({o["order_id"] for o in orders}) == 4
    assert any(o["discount_fen"] for o in orders) and any(o["refunded_fen"] for o in orders)
    by_store, by_day, by_sku, pairs, sku_orders = _expected(orders)
    got = _reports(api, world)
    assert {r["store_id"]: {k: r[k] for k in FIELDS} for r in got["store"]["items"]} == {
        s: _figures(c) for s, c in by_store.items()
    }
    assert {r["day"]: {k: r[k] for k in FIELDS} for r in got["day"]["items"]} == {
        d: _figures(c) for d, c in by_day.items()
    }
    assert {r["sku"]: {k: r[k] for k in FIELDS} for r in got["sku"]["items"]} == {
        s: _figures(c) for s, c in by_sku.items()
    }
    total = Counter()
    for c in by_store.values():
        total.update(c)
    for g in ("store", "day", "sku"):
        assert got[g]["total"] == _figures(total)
    best = got["best"]["items"]
    assert [r["sku"] for r in best] == sorted(
        by_sku, key=lambda s: (-(by_sku[s]["sales_fen"] - by_sku[s]["refund_fen"]), -by_sku[s]["units"], s)
    )
    assert best[0]["name"] == "飞天茅台 53%vol 500ml"
    n = pairs.pop("orders")
    assert n == 3 and got["pairs"]["orders"] == n  # B's order was refunded whole
    assert ("CQ-BEER-500", "WLY-52-500") not in pairs  # A's second sale kept only its beer
    assert {(p["sku_a"], p["sku_b"]): (p["orders"], p["lift_bp"]) for p in got["pairs"]["items"]} == {
        (a, b): (k, k * n * 10000 // (sku_orders[a] * sku_orders[b])) for (a, b), k in pairs.items()
    }
    for store_id in (world.a, world.b):
        stock = world.stock(store_id)
        want = sum(q * COST[s] for s, q in stock.items())
        assert [r["stock_value_fen"] for r in got["stock"]["items"] if r["store_id"] == store_id] == [want]

    # redelivered events (a new consumer run, past the queue's guard) add nothing
    for e in history:
        if e["type"] == "OrderPaid":
            reports.on_order_paid(e)
        elif e["type"] == "RefundCompleted":
            reports.on_refund_completed(e)
    assert _reports(api, world) == got

    # the rebuild recomputes the same figures from the orders, and repairs a damaged aggregate
    bogus = domain.Contribution(
        world.a, "2026-11-23", domain.Figures(orders=7, sales_fen=1), {"X": domain.Figures(units=1)}
    )
    repository.apply("bogus-event", bogus)
    assert _reports(api, world) != got
    assert reports.rebuild("2026-11-23", "2026-11-24") == {"orders": 4, "days": 2}
    assert _reports(api, world) == got


def test_store_scope_and_csv(api, world, history):
    mine = api.get(f"/admin/reports/sales?{RANGE}&group_by=store", token=world.manager_a).json
    assert [r["store_id"] for r in mine["items"]] == [world.a]
    r = api.get(f"/admin/reports/sales?{RANGE}&store_id={world.b}", token=world.manager_a)
    assert (r.status, r.code) == (403, "STORE_SCOPE")
    assert api.get(f"/admin/reports/co-purchase?{RANGE}", token=world.manager_a).status == 403
    assert api.get("/admin/reports/sales?from=2026-11-24&to=2026-11-23", token=world.hq).status == 422
    orders = api.get(f"/admin/orders?{RANGE}", token=world.manager_a).json["items"]
    assert orders and {o["store_id"] for o in orders} == {world.a}
    assert api.get(f"/admin/orders?store_id={world.b}", token=world.manager_a).status == 403
    assert api.get("/admin/orders", token=world.clerk_a).status == 403

    r = api.get(f"/admin/reports/products?{RANGE}&format=csv&order=slow", token=world.hq)
    assert r.status == 200 and r.headers["Content-Type"].startswith("text/csv")
    raw = r.json  # the body as sent (bytes, UTF-8)
    assert raw.startswith(codecs.BOM_UTF8)
    text = raw.decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert rows[0].keys() >= {"sku", "name", "sales_fen", "margin_fen"}
    assert "飞天茅台 53%vol 500ml" in {row["name"] for row in rows}
    # slow sellers include products on sale that sold nothing at all
    assert rows[0]["sales_fen"] == "0"


def test_admin_orders_filters(api, world, history):
    every = api.get(f"/admin/orders?{RANGE}", token=world.hq).json["items"]
    one = every[0]
    assert [o["order_id"] for o in api.get(f"/admin/orders?q={one['order_id']}", token=world.hq).json["items"]] == [
        one["order_id"]
    ]
    refunded = api.get(f"/admin/orders?{RANGE}&status=REFUNDED", token=world.hq).json["items"]
    assert [o["store_id"] for o in refunded] == [world.b]
    assert api.get("/admin/orders?from=2026-11-24&to=2026-11-24", token=world.hq).json["items"].__len__() == 1
    assert api.get(f"/admin/orders?store_id={world.b}", token=world.hq).json["items"].__len__() == 1
