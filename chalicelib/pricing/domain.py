"""The pricing engine's seam: one function prices a cart for every channel (shop quote, order, POS quote,
POS sale). Today it charges catalog prices; promotions, member prices and coupons plug in here (the
pricing issue) without changing any caller. Pure: no I/O."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Sequence


@dataclass(frozen=True)
class CartLine:
    sku: str
    name: str
    qty: int
    unit_price_fen: int
    category: str = ""


@dataclass(frozen=True)
class PricingContext:
    channel: str                 # shop | pos
    store_id: str | None
    at: datetime                 # the moment, timezone-aware
    member_id: str | None = None
    member_level: int | None = None


@dataclass
class PricedLine:
    sku: str
    name: str
    qty: int
    unit_price_fen: int
    discount_fen: int = 0
    gift: bool = False

    @property
    def subtotal_fen(self) -> int:
        return self.qty * self.unit_price_fen

    @property
    def payable_fen(self) -> int:
        return self.subtotal_fen - self.discount_fen

    def as_dict(self) -> dict[str, Any]:
        return {"sku": self.sku, "name": self.name, "qty": self.qty, "unit_price_fen": self.unit_price_fen,
                "discount_fen": self.discount_fen, "payable_fen": self.payable_fen, "gift": self.gift}


@dataclass
class Priced:
    lines: list[PricedLine]
    applied: list[dict[str, Any]] = field(default_factory=list)
    hints: list[dict[str, Any]] = field(default_factory=list)

    @property
    def subtotal_fen(self) -> int:
        return sum(line.subtotal_fen for line in self.lines)

    @property
    def discount_fen(self) -> int:
        return sum(line.discount_fen for line in self.lines)

    @property
    def payable_fen(self) -> int:
        return sum(line.payable_fen for line in self.lines)


def price_cart(lines: Sequence[CartLine], ctx: PricingContext) -> Priced:
    """Price a cart. Deterministic: the same lines and context always give the same answer."""
    return Priced(lines=[PricedLine(sku=ln.sku, name=ln.name, qty=ln.qty, unit_price_fen=ln.unit_price_fen)
                         for ln in lines])


def allocate(total: int, weights: Sequence[int]) -> list[int]:
    """Split ``total`` fen over ``weights`` proportionally, exact to the fen (largest remainder; ties to
    the earlier weight). Used to spread discounts over lines and to size partial refunds."""
    if total < 0 or any(w < 0 for w in weights):
        raise ValueError("allocate takes non-negative numbers")
    s = sum(weights)
    if s == 0:
        return [0] * len(weights)
    shares = [total * w // s for w in weights]
    rema = sorted(range(len(weights)), key=lambda i: (-(total * weights[i] % s), i))
    for i in rema[: total - sum(shares)]:
        shares[i] += 1
    return shares
