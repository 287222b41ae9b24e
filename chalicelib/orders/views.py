"""What several orders use cases share: a cart from request lines, an order as the API shows it and as events
carry it, loading an order in the caller's scope, and reading and listing orders."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta
from typing import Any

from chalicelib.core import clock
from chalicelib.core.auth import Principal
from chalicelib.core.errors import NotFound, invalid_cursor
from chalicelib.core.schemas import PageOut
from chalicelib.inventory import domain as stock_domain
from chalicelib.orders import repository
from chalicelib.orders.errors import OrderCode
from chalicelib.orders.models import OrderItem
from chalicelib.orders.schemas import AdminOrdersQuery, OrderOut
from chalicelib.stores import services as stores


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


# --------------------------------------------------------------------------------------- head office's order search
def _admin_stores(principal: Principal, store_id: str | None) -> list[str]:
    if store_id:
        principal.require_store(store_id)
        return [store_id]
    return [s.store_id for s in stores.chain()] if principal.is_hq else [principal.store_id]


def _admin_range(q: AdminOrdersQuery) -> tuple[datetime, datetime]:
    tz = clock.business_tz()
    frm = q.from_ or date(2020, 1, 1)
    to = q.to or clock.business_now().date() + timedelta(days=1)
    start = datetime.combine(frm, datetime.min.time(), tz)
    return start, max(datetime.combine(to + timedelta(days=1), datetime.min.time(), tz), start)


def _split_cursor(cursor: str | None, stores_n: int) -> tuple[int, str | None]:
    """The multi-store cursor ``<store index>.<that store's cursor>``."""
    if not cursor:
        return 0, None
    head, _, inner = cursor.partition(".")
    if not head.isdigit() or int(head) >= stores_n:
        raise invalid_cursor()
    return int(head), inner or None


def search_orders(principal: Principal, q: AdminOrdersQuery) -> PageOut[OrderOut]:
    """Orders of the caller's stores (head office: all, store by store, newest first in each)."""
    ids = _admin_stores(principal, q.store_id)
    if q.q and len(q.q) == 26:  # an order id
        item = repository.get(q.q)
        hit = item is not None and item.store_id in ids and (q.status is None or item.status == q.status)
        return PageOut[OrderOut](items=[order_out(item, principal)] if hit else [], next=None)
    start, end = _admin_range(q)
    i, cursor = _split_cursor(q.next, len(ids))
    out: list[OrderOut] = []
    while i < len(ids) and len(out) < q.limit:
        pg = repository.admin_page(ids[i], start, end, q.status, q.q, q.limit - len(out), cursor)
        out += [order_out(o, principal) for o in pg.items]
        if pg.next:
            return PageOut[OrderOut](items=out, next=f"{i}.{pg.next}")
        i, cursor = i + 1, None
    return PageOut[OrderOut](items=out, next=f"{i}." if i < len(ids) else None)
