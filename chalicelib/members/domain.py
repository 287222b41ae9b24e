"""Pure member rules. No I/O."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any


# =========================================================================================== levels
@dataclass(frozen=True)
class Level:
    level_id: str
    name: str
    rank: int
    growth_min: int
    orders_min: int | None = None
    discount_bp: int = 0
    points_multiplier_bp: int = 10000
    perks: tuple[str, ...] = ()

    def reached(self, growth_fen: int, paid_orders: int) -> bool:
        return growth_fen >= self.growth_min or (self.orders_min is not None and paid_orders >= self.orders_min)


def level_for(levels: Sequence[Level], growth_fen: int, paid_orders: int) -> Level | None:
    """The highest-ranked level whose growth or paid-order threshold the member reaches (None: no level
    defined, or none reached)."""
    reached = [lv for lv in levels if lv.reached(growth_fen, paid_orders)]
    return max(reached, key=lambda lv: lv.rank) if reached else None


def next_level(levels: Sequence[Level], current: Level | None, growth_fen: int) -> tuple[Level, int] | None:
    """The next level up and the growth (fen) still needed for it; None at the top."""
    above = sorted((lv for lv in levels if current is None or lv.rank > current.rank), key=lambda lv: lv.rank)
    return (above[0], max(0, above[0].growth_min - growth_fen)) if above else None


# =========================================================================================== growth
def _growth_basis(order: Mapping[str, Any]) -> tuple[int, int]:
    """(growth the whole order gives, its payable): what was paid for goods, not the delivery fee and not the
    part paid with wallet bonus money (points already lowered the payable)."""
    paid = int(order.get("payable_fen") or 0)
    delivery = int(order.get("delivery_fen") or 0)
    bonus = int(((order.get("payment") or {}).get("wallet") or {}).get("bonus_fen") or 0)
    return max(0, paid - delivery - bonus), paid


def _taken(basis: int, paid: int, refunded: int) -> int:
    return basis * min(max(refunded, 0), paid) // paid if paid > 0 else 0


def order_growth(order: Mapping[str, Any]) -> int:
    """Growth from a completed order (what was refunded before completion is left out)."""
    basis, paid = _growth_basis(order)
    return basis - _taken(basis, paid, int(order.get("refunded_fen") or 0))


def refund_growth(order: Mapping[str, Any], refund_fen: int) -> int:
    """Growth a refund of a completed order takes back (<= 0). ``order`` is the order after the refund
    (``refunded_fen`` includes it); computed on the running total, so partial refunds that add up to the whole
    order take back exactly what it gave."""
    basis, paid = _growth_basis(order)
    after = int(order.get("refunded_fen") or 0)
    return -(_taken(basis, paid, after) - _taken(basis, paid, after - refund_fen))
