"""A member's account: their data export, and its deletion (WeChat's mini-program review requires both).

Deletion waits until nothing is open - no order between payment and completion, no refund in progress - so no
money is owed either way. Then one transaction erases the member's personal data (identity) and reports
``MemberDeleted``; their orders are kept for the books with the customer snapshot and the delivery address
removed (a member id is all that is left, and it points to nothing personal)."""

from __future__ import annotations

from chalicelib.core import clock
from chalicelib.core.auth import Principal
from chalicelib.core.dynamo import TxCancelled, transaction
from chalicelib.core.errors import Conflict
from chalicelib.core.events import Event
from chalicelib.coupons import services as coupons
from chalicelib.identity import repository as members
from chalicelib.identity import services as identity
from chalicelib.orders import domain, repository
from chalicelib.orders.errors import OrderCode
from chalicelib.orders.models import OrderItem
from chalicelib.orders.refunds import refund_out
from chalicelib.orders.schemas import AccountDeletedOut
from chalicelib.orders.views import order_out

OPEN = {domain.PENDING_PAYMENT, domain.PAID, domain.ACCEPTED, domain.READY, domain.DELIVERING}
OPEN_REFUNDS = {"REQUESTED", "PROCESSING"}


def _all_orders(member_id: str) -> list[OrderItem]:
    out, cursor = [], None
    while True:
        pg = repository.member_page(member_id, None, 200, cursor)
        out += pg.items
        if not pg.next:
            return out
        cursor = pg.next


def export(principal: Principal) -> dict:
    """The member's profile, orders with their refunds, and coupons, as one JSON document."""
    member = identity.active_member(principal)
    orders = _all_orders(member.member_id)
    coupon_list, cursor = [], None
    while True:
        pg = coupons.my_coupons(principal, None, 200, cursor)
        coupon_list += [c.model_dump(mode="json") for c in pg.items]
        if not pg.next:
            break
        cursor = pg.next
    return {
        "exported_at": clock.iso(clock.now()),
        "member": identity.profile_export(member),
        "orders": [
            {
                **order_out(o, principal).model_dump(mode="json"),
                "refunds": [refund_out(r).model_dump(mode="json") for r in repository.refunds(o.order_id)],
            }
            for o in orders
        ],
        "coupons": coupon_list,
    }


def delete(principal: Principal) -> AccountDeletedOut:
    member = identity.active_member(principal)
    orders = _all_orders(member.member_id)
    blocking = [o.order_id for o in orders if o.status in OPEN]
    blocking += [
        o.order_id
        for o in orders
        if o.status not in OPEN and any(r.status in OPEN_REFUNDS for r in repository.refunds(o.order_id))
    ]
    if blocking:
        raise Conflict(
            "Finish or cancel your open orders (and wait for refunds in progress) first",
            code=OrderCode.ACCOUNT_HAS_OPEN_ORDERS,
            details={"order_ids": blocking[:20]},
        )
    now = clock.iso(clock.now())
    try:
        with transaction() as tx:
            members.add_erasure(tx, member, [Event("MemberDeleted", {"member_id": member.member_id, "at": now})])
    except TxCancelled:
        raise Conflict("The account changed meanwhile; try again", code=OrderCode.ACCOUNT_HAS_OPEN_ORDERS)
    for o in orders:
        repository.anonymise(o)
    return AccountDeletedOut(member_id=member.member_id, deleted_at=now, orders_kept=len(orders))
