"""An order's way after checkout: the store's fulfilment steps (accept, ready, deliver, complete) and the
cancel of an unpaid order (by its member, or by the unpaid sweep), which gives its stock and coupons back."""

from __future__ import annotations

import hmac

from chalicelib.core import clock, events
from chalicelib.core.auth import Principal
from chalicelib.core.dynamo import TxCancelled, transaction
from chalicelib.core.errors import Conflict, CoreCode, ValidationFailed
from chalicelib.core.events import Event
from chalicelib.core.logging import logger
from chalicelib.coupons import services as coupons
from chalicelib.inventory import domain as stock_domain
from chalicelib.inventory import repository as stock_repo
from chalicelib.orders import domain, repository
from chalicelib.orders.errors import OrderCode
from chalicelib.orders.models import OrderItem
from chalicelib.orders.schemas import OrderOut
from chalicelib.orders.views import load_member_order, load_order, load_store_order, order_out, snapshot
from chalicelib.points import domain as points_domain
from chalicelib.points import repository as points_repo


# --------------------------------------------------------------------------------------- cancel
def cancel_unpaid(item: OrderItem, reason: str, actor: str) -> OrderItem:
    """One transaction: the order CANCELLED (if still unpaid), its stock back (gift lines included), its
    coupons released (only while this order holds them)."""
    cart = stock_domain.merge_lines((ln["sku"], int(ln["qty"])) for ln in item.lines)
    now = clock.iso(clock.now())
    release = coupons.coupon_ids_of(item.applied) if item.member_id else []
    while True:
        try:
            with transaction() as tx:
                repository.change(
                    tx,
                    item,
                    domain.PENDING_PAYMENT,
                    [
                        OrderItem.status.set(domain.CANCELLED),
                        OrderItem.cancelled_at.set(now),
                        OrderItem.cancel_reason.set(reason),
                    ]
                    + repository.leave_due_index(),
                )
                stock_repo.add_movement(
                    tx,
                    item.store_id,
                    stock_domain.movement_deltas("release", cart),
                    "release",
                    ref_type="order",
                    ref_id=item.order_id,
                    actor=actor,
                )
                coupons.add_releases(tx, item.member_id, release, item.order_id)
                used = points_domain.redeemed_points(item.applied)
                if used and item.member_id:
                    points_repo.add_return(tx, item.member_id, used, "order", item.order_id)
                events.add(
                    tx,
                    [
                        Event(
                            "OrderCancelled",
                            {
                                **snapshot(item),
                                "status": domain.CANCELLED,
                                "cancelled_at": now,
                                "cancel_reason": reason,
                            },
                        )
                    ],
                )
            break
        except TxCancelled as e:
            stray = [t[1] for t in e.failed if t and t[0] == "coupon"]
            if not stray or any(t and t[0] != "coupon" for t in e.failed):
                raise
            # A coupon this order no longer holds must not block the cancel (nor be released).
            logger.warning(
                "coupon not held by the cancelled order", extra={"order_id": item.order_id, "coupon_ids": stray}
            )
            release = [c for c in release if c not in stray]
    item.status, item.cancelled_at, item.cancel_reason = domain.CANCELLED, now, reason
    return item


def cancel_by_member(principal: Principal, order_id: str) -> OrderOut:
    item = load_member_order(principal, order_id)
    domain.transition(item.status, "cancel")
    try:
        return order_out(cancel_unpaid(item, "customer", principal.sub), principal)
    except TxCancelled:
        raise Conflict(
            "The order changed meanwhile (was it just paid?)",
            code=CoreCode.ILLEGAL_STATE,
            details={"status": load_order(order_id).status},
        )


# --------------------------------------------------------------------------------------- fulfilment
def fulfil(principal: Principal, order_id: str, action: str, pickup_code: str | None = None) -> OrderOut:
    item = load_store_order(principal, order_id)
    to = domain.transition(item.status, action, item.fulfillment)
    if action == "complete" and item.fulfillment == "pickup" and item.status == domain.READY:
        if pickup_code is None:
            raise ValidationFailed(
                "The customer's pickup code is required",
                code=OrderCode.PICKUP_CODE_REQUIRED,
                details={"fields": [{"field": "pickup_code", "message": "required"}]},
            )
        if not hmac.compare_digest(pickup_code, item.pickup_code or ""):
            raise Conflict("The pickup code does not match this order", code=OrderCode.PICKUP_CODE_MISMATCH)
    stamp = {"accept": "accepted_at", "ready": "ready_at", "deliver": "delivering_at", "complete": "completed_at"}[
        action
    ]
    now = clock.iso(clock.now())
    reported = {
        "accept": "OrderAccepted",
        "ready": "OrderReady",
        "deliver": "OrderDelivering",
        "complete": "OrderCompleted",
    }[action]
    try:
        with transaction() as tx:
            actions = [OrderItem.status.set(to), getattr(OrderItem, stamp).set(now)]
            if action == "accept":
                actions += repository.leave_due_index()  # accepted: out of the accept-deadline sweep
            repository.change(tx, item, item.status, actions)
            item.status = to
            setattr(item, stamp, now)
            events.add(tx, [Event(reported, snapshot(item))])
    except TxCancelled:
        raise Conflict("The order changed meanwhile; reload it", code=CoreCode.ILLEGAL_STATE)
    return order_out(item, principal)
