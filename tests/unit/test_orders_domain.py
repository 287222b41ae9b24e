"""Pure order, stock and pricing rules."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.core.errors import Conflict, ValidationFailed
from chalicelib.inventory import domain as inv
from chalicelib.orders import domain
from chalicelib.orders.domain import StoreInfo
from chalicelib.pricing.domain import allocate


def store(sid, dist, open_now=True, active=True, delivery=5000, pickup=3000):
    return StoreInfo(sid, sid, dist, open_now, active, delivery, pickup)


CART = {"A": 2, "B": 1}


def test_route_picks_nearest_store_that_fills_the_cart():
    stores = [store("far", 2500), store("near", 500), store("mid", 1000)]
    stock = {"far": {"A": 9, "B": 9}, "near": {"A": 1, "B": 9}, "mid": {"A": 2, "B": 1}}
    r = domain.route(CART, "pickup", stores, stock)
    assert r.store_id == "mid" and r.problems == []


def test_route_ties_go_to_more_stock_and_closed_or_far_stores_are_skipped():
    stores = [
        store("x", 800),
        store("y", 800),
        store("closed", 10, open_now=False),
        store("gone", 10, active=False),
        store("far", 3500),
    ]
    stock = {s: {"A": 50, "B": 50} for s in ("closed", "gone", "far")} | {"x": {"A": 2, "B": 1}, "y": {"A": 9, "B": 9}}
    assert domain.route(CART, "pickup", stores, stock).store_id == "y"
    # delivery reaches 5 km, so "far" is a candidate but "y" is still nearer
    assert domain.route(CART, "delivery", stores, stock).store_id == "y"


def test_route_without_a_full_store_lists_problems_and_suggests_coverage():
    stores = [store("p", 100), store("q", 200)]
    stock = {"p": {"A": 2}, "q": {"A": 1, "B": 1}}
    r = domain.route(CART, "pickup", stores, stock)
    assert r.store_id is None
    assert {(p["store_id"], p["sku"]) for p in r.problems} == {("p", "B"), ("q", "A")}
    assert r.suggested_store_id in ("p", "q")
    assert domain.route(CART, "pickup", [store("z", 9000)], {}).problems[0]["code"] == "NO_STORE_IN_RANGE"


def test_route_chosen_store_problems():
    stores = [store("c", 6000, open_now=False), store("d", 100)]
    r = domain.route(CART, "delivery", stores, {"c": {"A": 2, "B": 1}}, chosen="c")
    assert {p["code"] for p in r.problems} == {"STORE_CLOSED", "OUT_OF_DELIVERY_RANGE"}
    assert domain.route(CART, "pickup", stores, {}, chosen="nope").problems[0]["code"] == "STORE_UNAVAILABLE"


def test_status_machine():
    assert domain.transition("PENDING_PAYMENT", "pay") == "PAID"
    assert domain.transition("PAID", "accept") == "ACCEPTED"
    assert domain.transition("ACCEPTED", "ready", "pickup") == "READY"
    assert domain.transition("ACCEPTED", "deliver", "delivery") == "DELIVERING"
    assert domain.transition("DELIVERING", "complete", "delivery") == "COMPLETED"
    for status, action in [
        ("PAID", "pay"),
        ("CANCELLED", "pay"),
        ("PAID", "cancel"),
        ("COMPLETED", "accept"),
        ("PENDING_PAYMENT", "accept"),
        ("ACCEPTED", "complete"),
    ]:
        with pytest.raises(Conflict) as e:
            domain.transition(status, action, "pickup")
        assert e.value.code == "ILLEGAL_STATE"
    with pytest.raises(Conflict):
        domain.transition("ACCEPTED", "ready", "delivery")


LINES = [
    {"sku": "A", "qty": 3, "payable_fen": 1000},
    {"sku": "B", "qty": 1, "payable_fen": 1},
    {"sku": "G", "qty": 1, "payable_fen": 0, "gift": True},
]


def test_refund_amounts_exact_and_no_over_refund():
    assert domain.refund_amounts(LINES, {"A": 1}) == {"A": (1, 333)}
    assert domain.refund_amounts(LINES, None) == {"A": (3, 1000), "B": (1, 1)}
    after = [{**LINES[0], "refunded_qty": 2, "refunded_fen": 666}, LINES[1]]
    assert domain.refund_amounts(after, {"A": 1}) == {"A": (1, 334)}
    with pytest.raises(Conflict):
        domain.refund_amounts(after, {"A": 2})
    with pytest.raises(ValidationFailed):
        domain.refund_amounts(LINES, {"Z": 1})
    with pytest.raises(Conflict):
        domain.refund_amounts([{**LINES[1], "refunded_qty": 1, "refunded_fen": 1}], None)


@given(st.integers(1, 20), st.integers(0, 10**7), st.lists(st.integers(1, 5), min_size=1, max_size=20))
def test_refunds_of_a_line_always_add_up_to_its_payable(qty, payable, chunks):
    line = {"sku": "A", "qty": qty, "payable_fen": payable, "refunded_qty": 0, "refunded_fen": 0}
    total = 0
    for k in chunks:
        left = qty - line["refunded_qty"]
        if left == 0:
            break
        k = min(k, left)
        ((_, amount),) = domain.refund_amounts([line], {"A": k}).values()
        assert 0 <= amount <= payable
        total += amount
        line = {**line, "refunded_qty": line["refunded_qty"] + k, "refunded_fen": line["refunded_fen"] + amount}
    if line["refunded_qty"] == qty:
        assert total == payable


@given(st.integers(0, 10**8), st.lists(st.integers(0, 10**6), min_size=1, max_size=50))
def test_allocate_is_exact(total, weights):
    shares = allocate(total, weights)
    if sum(weights) == 0:
        assert shares == [0] * len(weights)
    else:
        assert sum(shares) == total and all(s >= 0 for s in shares)
        assert all(s == 0 for s, w in zip(shares, weights) if w == 0)


def test_stock_rules():
    assert inv.merge_lines([("A", 1), ("B", 2), ("A", 3)]) == {"A": 4, "B": 2}
    assert inv.movement_deltas("sale", {"A": 2}) == {"A": -2}
    assert inv.movement_deltas("receipt", {"A": 2}) == {"A": 2}
    assert inv.movement_deltas("count_adjust", {"A": -2, "B": 0}) == {"A": -2}
    with pytest.raises(ValueError):
        inv.movement_deltas("sale", {"A": 0})
    assert inv.count_adjustments({"A": 5, "B": 3}, {"A": 7, "B": 3}) == {"A": -2}
    assert inv.low_stock_change(4, 5, False) == "open"
    assert inv.low_stock_change(3, 5, True) is None  # already open: once per crossing
    assert inv.low_stock_change(5, 5, True) == "close"
    assert inv.low_stock_change(5, None, True) == "close"
    s = inv.suggest_source("me", 2, 10, [("me", 2, 10), ("a", 30, 10), ("b", 12, 0), ("c", 5, 10)])
    assert (s.store_id, s.surplus, s.qty) == ("a", 20, 18)
    assert inv.suggest_source("me", 2, 10, [("c", 5, 10)]) is None
    with pytest.raises(Conflict):
        inv.transfer_transition("SHIPPED", "ship")
    assert inv.transfer_transition("CREATED", "cancel") == "CANCELLED"


def test_after_refund_adds_up_lines_and_settles_the_status():
    from chalicelib.orders import domain as d

    lines = [
        {"sku": "A", "qty": 2, "payable_fen": 1000},
        {"sku": "G", "qty": 1, "payable_fen": 0, "gift": True},
        {"sku": "B", "qty": 1, "payable_fen": 500},
    ]
    once, status = d.after_refund(lines, {"A": (1, 500), "G": (1, 0)}, d.COMPLETED)
    assert [ln.get("refunded_qty", 0) for ln in once] == [1, 0, 0] and status == d.PARTIALLY_REFUNDED
    assert once[0]["refunded_fen"] == 500
    twice, status = d.after_refund(once, {"A": (1, 500), "B": (1, 500)}, status)
    assert status == d.REFUNDED and [ln.get("refunded_fen", 0) for ln in twice] == [1000, 0, 500]
    # before fulfilment a part refund leaves the status as it is
    assert d.after_refund(lines, {"A": (1, 500)}, d.PAID)[1] == d.PAID
