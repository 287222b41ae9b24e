"""Pure order rules: the status machine, routing an online order to a store, refunds. No I/O."""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from chalicelib.core.errors import Conflict, CoreCode, ValidationFailed
from chalicelib.inventory.errors import InventoryCode
from chalicelib.orders.errors import OrderCode
from chalicelib.stores.domain import DEFAULT_ACCEPT_DEADLINES

PENDING_PAYMENT = "PENDING_PAYMENT"
PAID = "PAID"
ACCEPTED = "ACCEPTED"
READY = "READY"
DELIVERING = "DELIVERING"
COMPLETED = "COMPLETED"
CANCELLED = "CANCELLED"
REFUNDED = "REFUNDED"
PARTIALLY_REFUNDED = "PARTIALLY_REFUNDED"

STATUSES = (PENDING_PAYMENT, PAID, ACCEPTED, READY, DELIVERING, COMPLETED, CANCELLED, REFUNDED, PARTIALLY_REFUNDED)

# action -> {from status: to status}
TRANSITIONS: dict[str, dict[str, str]] = {
    "pay": {PENDING_PAYMENT: PAID},
    "cancel": {PENDING_PAYMENT: CANCELLED},
    "accept": {PAID: ACCEPTED},
    "ready": {ACCEPTED: READY},
    "deliver": {ACCEPTED: DELIVERING},
    "complete": {READY: COMPLETED, DELIVERING: COMPLETED},
}
REFUNDABLE = {PAID, ACCEPTED, READY, DELIVERING, COMPLETED, PARTIALLY_REFUNDED}


def transition(status: str, action: str, fulfillment: str | None = None) -> str:
    """The status after ``action``, or 409 ILLEGAL_STATE naming what was tried."""
    if action == "ready" and fulfillment != "pickup":
        raise Conflict(
            "Only pickup orders become ready; use deliver",
            code=CoreCode.ILLEGAL_STATE,
            details={"status": status, "action": action},
        )
    if action == "deliver" and fulfillment != "delivery":
        raise Conflict(
            "Only delivery orders go out for delivery",
            code=CoreCode.ILLEGAL_STATE,
            details={"status": status, "action": action},
        )
    to = TRANSITIONS[action].get(status)
    if to is None:
        raise Conflict(
            f"Cannot {action} an order that is {status}",
            code=CoreCode.ILLEGAL_STATE,
            details={"status": status, "action": action},
        )
    return to


def new_pickup_code() -> str:
    return f"{secrets.randbelow(10**6):06d}"


# --------------------------------------------------------------------------------------- routing
@dataclass(frozen=True)
class StoreInfo:
    store_id: str
    name: str
    distance_m: int | None  # from the customer, if a location was given
    open_now: bool
    active: bool
    delivery_radius_m: int
    pickup_radius_m: int


@dataclass
class Route:
    store_id: str | None
    problems: list[dict] = field(default_factory=list)
    suggested_store_id: str | None = None


def shortages(cart: Mapping[str, int], stock: Mapping[str, int]) -> list[dict]:
    return [
        {"sku": sku, "requested": q, "available": stock.get(sku, 0)}
        for sku, q in sorted(cart.items())
        if stock.get(sku, 0) < q
    ]


def in_range(s: StoreInfo, fulfillment: str) -> bool:
    if s.distance_m is None:
        return True
    radius = s.delivery_radius_m if fulfillment == "delivery" else s.pickup_radius_m
    return s.distance_m <= radius


def route(
    cart: Mapping[str, int],
    fulfillment: str,
    stores: Sequence[StoreInfo],
    stock: Mapping[str, Mapping[str, int]],
    chosen: str | None = None,
) -> Route:
    """Pick the store for an online order.

    With ``chosen``: that store, with problems if it is closed, out of range or short. Without: the
    nearest open store in range that can fill every line; ties go to the store with more stock of the
    cart. If none can, the problems say which lines are short where and the store covering most of the
    cart is suggested.
    """
    by_id = {s.store_id: s for s in stores}
    if chosen is not None:
        s = by_id.get(chosen)
        if s is None or not s.active:
            return Route(None, [{"code": OrderCode.STORE_UNAVAILABLE, "store_id": chosen}])
        problems = []
        if not s.open_now:
            problems.append({"code": OrderCode.STORE_CLOSED, "store_id": chosen})
        if fulfillment == "delivery" and not in_range(s, fulfillment):
            problems.append(
                {
                    "code": OrderCode.OUT_OF_DELIVERY_RANGE,
                    "store_id": chosen,
                    "distance_m": s.distance_m,
                    "radius_m": s.delivery_radius_m,
                }
            )
        problems += [
            {"code": InventoryCode.OUT_OF_STOCK, "store_id": chosen, **x}
            for x in shortages(cart, stock.get(chosen, {}))
        ]
        suggested = None
        if any(p["code"] == InventoryCode.OUT_OF_STOCK for p in problems):
            suggested = _best_coverage(cart, alternatives(stores, fulfillment, chosen), stock)
        return Route(chosen, problems, suggested)

    candidates = [s for s in stores if s.active and s.open_now and in_range(s, fulfillment)]
    if not candidates:
        return Route(None, [{"code": OrderCode.NO_STORE_IN_RANGE, "fulfillment": fulfillment}])

    def units(s: StoreInfo) -> int:  # stock of the cart's skus: a tie goes to the store with more
        return sum(stock.get(s.store_id, {}).get(sku, 0) for sku in cart)

    full = [s for s in candidates if not shortages(cart, stock.get(s.store_id, {}))]
    if full:
        full.sort(key=lambda s: (s.distance_m if s.distance_m is not None else 0, -units(s), s.store_id))
        return Route(full[0].store_id)
    problems = [
        {"code": InventoryCode.OUT_OF_STOCK, "store_id": s.store_id, **x}
        for s in candidates
        for x in shortages(cart, stock.get(s.store_id, {}))
    ]
    return Route(None, problems, _best_coverage(cart, candidates, stock))


def alternatives(stores: Iterable[StoreInfo], fulfillment: str, chosen: str) -> list[StoreInfo]:
    """Other stores worth suggesting when the chosen one falls short: open ones, and for delivery only
    those that deliver to the address (a pickup customer may well go a little further)."""
    return [
        c
        for c in stores
        if c.store_id != chosen and c.active and c.open_now and (fulfillment != "delivery" or in_range(c, fulfillment))
    ]


def _best_coverage(
    cart: Mapping[str, int], stores: Iterable[StoreInfo], stock: Mapping[str, Mapping[str, int]]
) -> str | None:
    best, best_key = None, None
    for s in stores:
        have = stock.get(s.store_id, {})
        lines = sum(1 for sku, q in cart.items() if have.get(sku, 0) >= q)
        units = sum(min(have.get(sku, 0), q) for sku, q in cart.items())
        key = (lines, units, -(s.distance_m or 0))
        if units and (best_key is None or key > best_key):
            best, best_key = s.store_id, key
    return best


# --------------------------------------------------------------------------------------- refunds
def refund_amounts(lines: Sequence[Mapping], requested: Mapping[str, int] | None) -> dict[str, tuple[int, int]]:
    """{sku: (qty, amount_fen)} for a refund of ``requested`` units (None = everything left).

    Line amounts are the allocated payable of the line: k of its remaining units cost
    ``payable * k // qty``, and the last units take whatever is left, so all refunds of a line add up
    exactly to what was paid for it. Over-refunds are refused (409).
    """
    by_sku = {ln["sku"]: ln for ln in lines if not ln.get("gift")}
    want = (
        requested
        if requested is not None
        else {sku: int(ln["qty"]) - int(ln.get("refunded_qty", 0)) for sku, ln in by_sku.items()}
    )
    out: dict[str, tuple[int, int]] = {}
    for sku, k in want.items():
        if k <= 0:
            continue
        ln = by_sku.get(sku)
        if ln is None:
            raise ValidationFailed(
                "This sku is not in the order",
                code=OrderCode.NOT_IN_ORDER,
                details={"fields": [{"field": "lines", "message": f"{sku} is not in the order"}]},
            )
        qty, done = int(ln["qty"]), int(ln.get("refunded_qty", 0))
        if k > qty - done:
            raise Conflict(
                "More than was bought (or already refunded)",
                code=OrderCode.OVER_REFUND,
                details={"sku": sku, "requested": k, "refundable": qty - done},
            )
        payable, done_fen = int(ln["payable_fen"]), int(ln.get("refunded_fen", 0))
        amount = payable - done_fen if done + k == qty else payable * k // qty
        out[sku] = (k, amount)
    if not out:
        raise Conflict("Nothing left to refund", code=OrderCode.OVER_REFUND)
    return out


def after_refund(lines: list[dict], amounts: Mapping[str, tuple[int, int]], status: str) -> tuple[list[dict], str]:
    """The order's lines with a refund's (qty, amount_fen) per sku added, and the order's status after it:
    REFUNDED once every paid line is wholly refunded; PARTIALLY_REFUNDED for a completed order; otherwise the
    status stays (a refund before fulfilment). Gift lines are not paid for, so never refunded."""
    out = []
    for ln in lines:
        if ln["sku"] in amounts and not ln.get("gift"):
            q, a = amounts[ln["sku"]]
            ln = {
                **ln,
                "refunded_qty": int(ln.get("refunded_qty", 0)) + q,
                "refunded_fen": int(ln.get("refunded_fen", 0)) + a,
            }
        out.append(ln)
    if all(int(ln.get("refunded_qty", 0)) >= int(ln["qty"]) for ln in out if not ln.get("gift")):
        return out, REFUNDED
    return out, PARTIALLY_REFUNDED if status in (COMPLETED, PARTIALLY_REFUNDED) else status


def wallet_refund_split(paid: dict, payable_fen: int, refunded_before: int, amount_fen: int) -> tuple[int, int]:
    """(principal, bonus) a refund of ``amount_fen`` puts back into the wallet an order was paid from: the same
    split as the payment, computed on the running refunded total so refunds that add up to the whole order put
    back exactly what it took."""
    bonus = int(paid.get("bonus_fen", 0))
    if payable_fen <= 0:
        return amount_fen, 0
    after = min(refunded_before + amount_fen, payable_fen)
    bonus_back = bonus * after // payable_fen - bonus * min(refunded_before, payable_fen) // payable_fen
    return amount_fen - bonus_back, bonus_back


# --------------------------------------------------------------------------------------- refunds in progress
# A PROCESSING refund is queried again after these delays (then every 6 hours): most WeChat refunds complete
# within minutes, bank-card ones within days. Its notification usually arrives first.
REFUND_QUERY_DELAYS_S = (60, 300, 1800, 7200, 21600)
REFUND_FINAL = {"SUCCESS": "COMPLETED", "ABNORMAL": "ABNORMAL", "CLOSED": "CLOSED"}


def refund_query_delay_s(queries: int) -> int:
    return REFUND_QUERY_DELAYS_S[min(queries, len(REFUND_QUERY_DELAYS_S) - 1)]


# --------------------------------------------------------------------------------------- accept deadline
ACCEPT_STEPS = ("remind", "escalate", "refund")  # step numbers 1, 2, 3 (OrderItem.accept_step)


def next_accept_step(policy: Mapping[str, int | None] | None, done: int) -> tuple[int, str, int] | None:
    """The next step of a paid order nobody accepts: ``(number, name, open minutes after payment)`` after the
    ``done`` steps, skipping steps the store switched off (null), or None when nothing is left."""
    policy = {**DEFAULT_ACCEPT_DEADLINES, **(policy or {})}
    for n, name in enumerate(ACCEPT_STEPS, start=1):
        minutes = policy.get(f"{name}_after_min")
        if n > done and minutes is not None:
            return n, name, int(minutes)
    return None


# --------------------------------------------------------------------------------------- delivery
def delivery_fee(goods_payable_fen: int, fee_fen: int, free_over_fen: int | None) -> int:
    """The delivery fee of an order: the store's fee, nothing from ``free_over_fen`` of goods payable on. It is
    added after pricing, so no promotion or coupon discounts it."""
    if free_over_fen is not None and goods_payable_fen >= free_over_fen:
        return 0
    return int(fee_fen)
