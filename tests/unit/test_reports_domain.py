"""Report rules without AWS: what a paid order and a refund add, pairs (bounded), lift, ranking, CSV."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from chalicelib.reports import domain

TZ = ZoneInfo("Asia/Shanghai")
ORDER = {
    "store_id": "S1",
    "created_at": "2026-11-23T16:30:00.000Z",  # 00:30 on the 24th in Chongqing
    "lines": [
        {"sku": "A", "qty": 2, "payable_fen": 1800, "discount_fen": 200, "unit_cost_fen": 600},
        {"sku": "B", "qty": 1, "payable_fen": 500, "discount_fen": 0, "unit_cost_fen": 300},
        {"sku": "G", "qty": 1, "payable_fen": 0, "discount_fen": 400, "unit_cost_fen": 250, "gift": True},
    ],
}


def test_a_sale_counts_on_the_business_day_of_its_creation_with_cost_at_sale():
    c = domain.sale(ORDER, TZ)
    assert (c.store_id, c.day) == ("S1", "2026-11-24")
    assert c.total.as_dict() == {
        "orders": 1,
        "units": 4,
        "sales_fen": 2300,
        "discount_fen": 600,
        "refund_fen": 0,
        "cost_fen": 1200 + 300 + 250,
        "margin_fen": 2300 - 1750,
    }
    assert c.skus["A"].as_dict()["orders"] == 1 and c.skus["G"].cost_fen == 250
    assert c.basket == ["A", "B"]  # gifts are not bought together


def test_a_refund_takes_back_units_and_their_cost_on_the_orders_day():
    c = domain.refund(ORDER, [{"sku": "A", "qty": 1, "amount_fen": 900}], TZ)
    assert c.day == "2026-11-24" and c.total.orders == 0
    assert (c.total.units, c.total.refund_fen, c.total.cost_fen) == (-1, 900, -600)
    total = domain.sale(ORDER, TZ).total.add(c.total)
    assert total.margin_fen == (2300 - 900) - (1750 - 600)


def test_pairs_are_bounded_and_lift_is_in_basis_points():
    assert domain.pairs(["B", "A", "B"]) == [("A", "B")]
    many = [f"S{i:02d}" for i in range(30)]
    assert len(domain.pairs(many)) == domain.MAX_PAIR_SKUS * (domain.MAX_PAIR_SKUS - 1) // 2
    assert domain.lift_bp(10, 20, 50, 100) == 10000  # as often as chance
    assert domain.lift_bp(10, 10, 10, 100) == 100000
    assert domain.lift_bp(1, 0, 5, 10) == 0


def test_top_pairs_keep_each_skus_most_frequent():
    counts = {("A", f"X{i}"): i for i in range(1, 9)}
    keep = domain.top_pairs(counts, per_sku=3)
    # A's top 3 and, for each X, its only pair (with A): every pair is some sku's top
    assert keep == set(counts)
    assert domain.top_pairs({("A", "B"): 5, ("A", "C"): 1, ("B", "C"): 1, ("A", "D"): 3}, per_sku=1) == {
        ("A", "B"),
        ("A", "C"),  # C's best (ties broken by the other sku)
        ("A", "D"),
    }


def test_ranking_and_csv():
    rows = {"A": domain.Figures(units=3, sales_fen=900), "B": domain.Figures(units=1, sales_fen=2000, refund_fen=1500)}
    assert [s for s, _ in domain.rank(rows, "best", 10)] == ["A", "B"]
    assert [s for s, _ in domain.rank(rows, "slow", 1)] == ["B"]
    text = domain.to_csv(["sku", "name"], [{"sku": "A", "name": "茅台"}])
    assert text.startswith("\ufeff") and text.encode("utf-8").startswith(b"\xef\xbb\xbf")
    assert text == "\ufeffsku,name\r\nA,茅台\r\n"


def test_stock_value_at_cost():
    assert domain.stock_value({"A": 3, "B": -1, "C": 2}, {"A": 100, "C": None}) == {"A": 300, "B": 0, "C": 0}


def test_a_sku_leaves_the_basket_only_when_none_of_its_units_is_kept():
    lines = [
        {"sku": "A", "qty": 2, "refunded_qty": 2},
        {"sku": "B", "qty": 3, "refunded_qty": 1},
        {"sku": "C", "qty": 1, "gift": True},
    ]
    assert domain.basket(lines) == ["A", "B"]
    assert domain.gone(lines, [{"sku": "A", "qty": 1}, {"sku": "B", "qty": 1}]) == ["A"]
    assert domain.gone(lines, [{"sku": "B", "qty": 1}]) == []  # A left with an earlier refund
    assert domain.kept(lines, {"A": 2, "B": 1}) == {"B"} and domain.kept(lines, {"A": 2, "B": 3}) == set()


def test_a_pair_is_taken_back_once_with_the_first_of_its_skus_to_leave():
    keys, others = domain.pair_takeback(["A", "B", "C"], "B", set())
    assert keys == ["SKU#B", "PAIR#A#B", "PAIR#B#C"] and others == ["A", "C"]
    keys, others = domain.pair_takeback(["A", "B", "C"], "C", {"B"})
    assert keys == ["SKU#C", "PAIR#A#C"] and others == ["A"]
