"""What several orders use cases share: a cart from request lines, an order as the API shows it and as events
carry it, loading an order in the caller's scope, and reading and listing orders."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from chalicelib.core import clock
from chalicelib.core.auth import Principal
from chalicelib.core.errors import NotFound
from chalicelib.core.schemas import PageOut
from chalicelib.inventory import domain as stock_domain
from chalicelib.orders import repository
from chalicelib.orders.errors import OrderCode
from chalicelib.orders.models import OrderItem
from chalicelib.orders.schemas import OrderOut


# --------------------------------------------------------------------------------------- reading a cart
def cart_of(lines: Iterable) -> dict[str, int]:
    """Request lines (``sku``, ``qty``) merged into one quantity per sku."""
    return stock_domain.merge_lines((ln.sku, ln.qty) for ln in lines)


# --------------------------------------------------------------------------------------- order views
def order_out(o: OrderItem, viewer: Principal | None = None) -> OrderOut:
    # Staff verify the pickup code the customer shows them; they never see it themselves.
    show_code = viewer is None or viewer.is_member
    return OrderOut(
        order_id=o.order_id,
        channel=o.channel,
        status=o.status,
        store_id=o.store_id,
        member_id=o.member_id,
        fulfillment=o.fulfillment,
        lines=o.lines,
        subtotal_fen=int(o.subtotal_fen),
        discount_fen=int(o.discount_fen),
        delivery_fee_fen=int(o.delivery_fee_fen or 0),
        payable_fen=int(o.payable_fen),
        refunded_fen=int(o.refunded_fen or 0),
        applied=o.applied or [],
        pickup_code=o.pickup_code if show_code else None,
        pay_deadline=o.pay_deadline,
        payment=o.payment,
        address=o.address,
        note=o.note,
        created_at=o.created_at,
        paid_at=o.paid_at,
        completed_at=o.completed_at,
        cancelled_at=o.cancelled_at,
        cancel_reason=o.cancel_reason,
    )


def snapshot(o: OrderItem) -> dict[str, Any]:
    """What event consumers (printing, SMS, points, commissions) need, so they never read our items."""
    return {
        "order_id": o.order_id,
        "channel": o.channel,
        "status": o.status,
        "store_id": o.store_id,
        "member_id": o.member_id,
        "fulfillment": o.fulfillment,
        "lines": o.lines,
        "subtotal_fen": int(o.subtotal_fen),
        "discount_fen": int(o.discount_fen),
        "delivery_fee_fen": int(o.delivery_fee_fen or 0),
        "payable_fen": int(o.payable_fen),
        "refunded_fen": int(o.refunded_fen or 0),
        "applied": o.applied or [],
        "pickup_code": o.pickup_code,
        "address": o.address,
        "customer": o.customer,
        "payment": o.payment,
        "note": o.note,
        "created_at": clock.iso(o.created_at),
        "completed_at": o.completed_at,
        "member_level": o.member_level,
    }


def commission_order(o: OrderItem) -> dict[str, Any]:
    """What distribution needs to write a paid order's commission records (its payment transaction)."""
    return {**snapshot(o), "paid_at": o.paid_at, "referral": o.referral}


# --------------------------------------------------------------------------------------- loading an order
def load_order(order_id: str) -> OrderItem:
    item = repository.get(order_id)
    if item is None:
        raise NotFound("No such order", code=OrderCode.ORDER_NOT_FOUND)
    return item


def load_member_order(principal: Principal, order_id: str) -> OrderItem:
    item = load_order(order_id)
    if item.member_id != principal.sub:
        # Someone else's order: the same answer as an unknown one, so order ids cannot be probed.
        raise NotFound("No such order", code=OrderCode.ORDER_NOT_FOUND)
    return item


def load_store_order(principal: Principal, order_id: str) -> OrderItem:
    item = load_order(order_id)
    if not principal.owns_store(item.store_id):
        # Another store's order: the same answer as an unknown one, so staff cannot probe order ids.
        raise NotFound("No such order", code=OrderCode.ORDER_NOT_FOUND)
    return item


# --------------------------------------------------------------------------------------- reading orders
def get_member_order(principal: Principal, order_id: str) -> OrderOut:
    return order_out(load_member_order(principal, order_id), principal)


def list_member_orders(principal: Principal, status: str | None, limit: int, cursor: str | None) -> PageOut[OrderOut]:
    pg = repository.member_page(principal.sub, status, limit, cursor)
    return PageOut[OrderOut](items=[order_out(o, principal) for o in pg.items], next=pg.next)


def list_store_orders(principal: Principal, status: str | None, limit: int, cursor: str | None) -> PageOut[OrderOut]:
    pg = repository.store_page(principal.store_id, status, limit, cursor)
    return PageOut[OrderOut](items=[order_out(o, principal) for o in pg.items], next=pg.next)


def get_store_order(principal: Principal, order_id: str) -> OrderOut:
    return order_out(load_store_order(principal, order_id), principal)
