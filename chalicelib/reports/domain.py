"""Report rules, pure: what an order event adds to the aggregates, ranking, lift, CSV.

Figures (integer fen):
- ``orders``: paid orders (per sku: paid orders with that sku); ``units``: units sold less units refunded;
- ``sales_fen``: what was paid for the goods (line payable, after discounts; no delivery fee);
- ``discount_fen``: the lines' discounts; ``refund_fen``: goods refunded (no delivery fee);
- ``cost_fen``: product cost at the time of sale of the units kept (sold less refunded);
- ``margin_fen`` = sales - refund - cost.
An order counts on the business day (BUSINESS_TZ) it was created, at its store; its refunds count on that same
day (so any day's figures can be recomputed from that day's orders alone).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo
from typing import Any

FIGURES = ("orders", "units", "sales_fen", "discount_fen", "refund_fen", "cost_fen")
MAX_PAIR_SKUS = 12  # an order's first 12 distinct paid skus make its pairs (66 at most): bounded writes
TOP_PAIRS_PER_SKU = 5
MAX_DAYS = 400


def business_day(at_iso: str, tz: tzinfo) -> str:
    return datetime.fromisoformat(at_iso.replace("Z", "+00:00")).astimezone(tz).date().isoformat()


def days(frm: str, to: str) -> list[str]:
    a, b = date.fromisoformat(frm), date.fromisoformat(to)
    return [(a + timedelta(days=i)).isoformat() for i in range((b - a).days + 1)]


def day_bounds_utc(frm: str, to: str, tz: tzinfo) -> tuple[datetime, datetime]:
    """[start of ``frm``, start of the day after ``to``) in business time, as aware datetimes."""
    start = datetime.combine(date.fromisoformat(frm), datetime.min.time(), tz)
    end = datetime.combine(date.fromisoformat(to) + timedelta(days=1), datetime.min.time(), tz)
    return start, end


@dataclass
class Figures:
    orders: int = 0
    units: int = 0
    sales_fen: int = 0
    discount_fen: int = 0
    refund_fen: int = 0
    cost_fen: int = 0

    def add(self, other: Figures | Mapping[str, int]) -> Figures:
        get = other.get if isinstance(other, Mapping) else other.__getattribute__
        for f in FIGURES:
            setattr(self, f, getattr(self, f) + int(get(f) or 0))
        return self

    @property
    def margin_fen(self) -> int:
        return self.sales_fen - self.refund_fen - self.cost_fen

    def as_dict(self) -> dict[str, int]:
        return {**{f: getattr(self, f) for f in FIGURES}, "margin_fen": self.margin_fen}

    def nonzero(self) -> dict[str, int]:
        return {f: getattr(self, f) for f in FIGURES if getattr(self, f)}


@dataclass
class Contribution:
    """What one event adds: to the store's day, to each sku of that day, and (a sale) the basket for pairs."""

    store_id: str
    day: str
    total: Figures
    skus: dict[str, Figures] = field(default_factory=dict)
    basket: list[str] = field(default_factory=list)


def _cost(line: Mapping[str, Any]) -> int:
    return int(line.get("unit_cost_fen") or 0)


def sale(order: Mapping[str, Any], tz: tzinfo) -> Contribution:
    """An order paid (``OrderPaid`` snapshot)."""
    skus: dict[str, Figures] = {}
    for ln in order["lines"]:
        f = skus.setdefault(ln["sku"], Figures(orders=1))
        qty = int(ln["qty"])
        f.units += qty
        f.sales_fen += int(ln.get("payable_fen", 0))
        f.discount_fen += int(ln.get("discount_fen", 0))
        f.cost_fen += qty * _cost(ln)
    total = Figures(orders=1)
    for f in skus.values():
        total.add(Figures(0, f.units, f.sales_fen, f.discount_fen, 0, f.cost_fen))
    basket = [ln["sku"] for ln in order["lines"] if not ln.get("gift")]
    return Contribution(order["store_id"], business_day(order["created_at"], tz), total, skus, basket)


def refund(order: Mapping[str, Any], lines: Iterable[Mapping[str, Any]], tz: tzinfo) -> Contribution:
    """A refund of ``lines`` ([{sku, qty, amount_fen}]) of ``order`` completed."""
    cost = {ln["sku"]: _cost(ln) for ln in order["lines"] if not ln.get("gift")}
    skus: dict[str, Figures] = {}
    for ln in lines:
        qty, amount = int(ln["qty"]), int(ln["amount_fen"])
        f = skus.setdefault(ln["sku"], Figures())
        f.units -= qty
        f.refund_fen += amount
        f.cost_fen -= qty * cost.get(ln["sku"], 0)
    total = Figures()
    for f in skus.values():
        total.add(f)
    return Contribution(order["store_id"], business_day(order["created_at"], tz), total, skus)


def pairs(basket: Iterable[str]) -> list[tuple[str, str]]:
    """Unordered pairs of an order's distinct skus (the first MAX_PAIR_SKUS in sku order), each as (smaller, larger)."""
    distinct = sorted(dict.fromkeys(basket))[:MAX_PAIR_SKUS]
    return [(a, b) for i, a in enumerate(distinct) for b in distinct[i + 1 :]]


def basket(lines: Iterable[Mapping[str, Any]]) -> list[str]:
    """The skus an order's pairs are made of: its paid (not gift) lines."""
    return [ln["sku"] for ln in lines if not ln.get("gift")]


def kept(lines: Iterable[Mapping[str, Any]], refunded: Mapping[str, int]) -> set[str]:
    """The paid skus of which some units are kept when ``refunded`` units per sku went back."""
    sold: dict[str, int] = {}
    for ln in lines:
        if not ln.get("gift"):
            sold[ln["sku"]] = sold.get(ln["sku"], 0) + int(ln["qty"])
    return {sku for sku, q in sold.items() if q > int(refunded.get(sku, 0))}


def gone(lines: Iterable[Mapping[str, Any]], refund_lines: Iterable[Mapping[str, Any]]) -> list[str]:
    """The skus of a refund that the order (its lines with ``refunded_qty`` after it) no longer keeps any of:
    they leave the order's basket, taking their pair counts with them."""
    lines = list(lines)
    left = kept(lines, {ln["sku"]: int(ln.get("refunded_qty", 0)) for ln in lines if not ln.get("gift")})
    return sorted({ln["sku"] for ln in refund_lines} & set(basket(lines)) - left)


def pair_takeback(order_basket: Iterable[str], sku: str, already: set[str]) -> tuple[list[str], list[str]]:
    """What ``sku`` leaving an order's basket takes back from the pair partition: its ``SKU#`` count and each of
    its pairs whose other sku has not left before (a pair goes back once, with the first of its two skus to leave).
    Returns (pair partition keys, the other skus those pairs need to be still in the basket)."""
    keys, others = [f"SKU#{sku}"], []
    for a, b in pairs(order_basket):
        other = b if a == sku else a if b == sku else None
        if other is not None and other not in already:
            keys.append(f"PAIR#{a}#{b}")
            others.append(other)
    return keys, others


def lift_bp(pair_orders: int, a_orders: int, b_orders: int, total_orders: int) -> int:
    """Lift of a pair in basis points: P(a and b) / (P(a) P(b)); 10000 = independent."""
    if not a_orders or not b_orders:
        return 0
    return pair_orders * total_orders * 10000 // (a_orders * b_orders)


def top_pairs(counts: Mapping[tuple[str, str], int], per_sku: int = TOP_PAIRS_PER_SKU) -> set[tuple[str, str]]:
    """The pairs among each sku's ``per_sku`` most frequent (ties: by the other sku)."""
    by_sku: dict[str, list[tuple[int, str, tuple[str, str]]]] = {}
    for (a, b), n in counts.items():
        by_sku.setdefault(a, []).append((-n, b, (a, b)))
        by_sku.setdefault(b, []).append((-n, a, (a, b)))
    keep: set[tuple[str, str]] = set()
    for rows in by_sku.values():
        keep.update(p for _, _, p in sorted(rows)[:per_sku])
    return keep


def rank(rows: Mapping[str, Figures], order: str, limit: int) -> list[tuple[str, Figures]]:
    """Best sellers by net sales (sales - refunds), or slow sellers (the least), then by units, then sku."""
    sign = -1 if order == "best" else 1
    ranked = sorted(
        rows.items(), key=lambda kv: (sign * (kv[1].sales_fen - kv[1].refund_fen), sign * kv[1].units, kv[0])
    )
    return ranked[:limit]


def to_csv(columns: list[str], rows: Iterable[Mapping[str, Any]]) -> str:
    """Starts with a BOM: sent as UTF-8 (EF BB BF first), Excel then reads Chinese right. CRLF line ends."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(columns)
    for r in rows:
        w.writerow([r.get(c, "") for c in columns])
    return "\ufeff" + buf.getvalue()


def stock_value(levels: Mapping[str, int], costs: Mapping[str, int | None]) -> dict[str, int]:
    """Value at cost of each sku's stock (units below zero count as none; unknown cost as 0)."""
    return {sku: max(int(q), 0) * int(costs.get(sku) or 0) for sku, q in levels.items()}
