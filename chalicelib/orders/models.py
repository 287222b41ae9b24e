from __future__ import annotations

from pynamodb.attributes import JSONAttribute, NumberAttribute, UnicodeAttribute, VersionAttribute

from chalicelib.core.dynamo import Item

META = "META"


def order_pk(order_id: str) -> str:
    return f"ORDER#{order_id}"


def member_orders(member_id: str) -> str:
    return f"MEMBERORDERS#{member_id}"


def store_orders(store_id: str) -> str:
    return f"STOREORDERS#{store_id}"


def due_bucket(deadline_iso: str) -> str:
    """Hour bucket of a pay deadline, e.g. DUE#2026-11-23T10: the sweep reads only due buckets."""
    return f"DUE#{deadline_iso[:13]}"


class OrderItem(Item, discriminator="Order"):
    """pk=ORDER#<order_id>, sk=META.

    gsi1: MEMBERORDERS#<member_id> / <order_id>   - a member's orders, newest first
    gsi2: STOREORDERS#<store_id> / <order_id>     - a store's orders (online and POS), newest first
    gsi3: DUE#<deadline hour> / <deadline>#<id>   - sparse: only while PENDING_PAYMENT (the unpaid sweep)
    """

    order_id = UnicodeAttribute()
    channel = UnicodeAttribute()
    status = UnicodeAttribute()
    store_id = UnicodeAttribute()
    member_id = UnicodeAttribute(null=True)
    fulfillment = UnicodeAttribute()
    lines = JSONAttribute()
    subtotal_fen = NumberAttribute()
    discount_fen = NumberAttribute()
    payable_fen = NumberAttribute()
    refunded_fen = NumberAttribute(default=0)
    applied = JSONAttribute(null=True)
    pickup_code = UnicodeAttribute(null=True)
    pay_deadline = UnicodeAttribute(null=True)
    payment = JSONAttribute(null=True)
    address = JSONAttribute(null=True)
    customer = JSONAttribute(null=True)  # snapshot for tickets/SMS: nickname, phone
    note = UnicodeAttribute(null=True)
    created_by = UnicodeAttribute(null=True)
    paid_at = UnicodeAttribute(null=True)
    accepted_at = UnicodeAttribute(null=True)
    ready_at = UnicodeAttribute(null=True)
    delivering_at = UnicodeAttribute(null=True)
    completed_at = UnicodeAttribute(null=True)
    member_level = JSONAttribute(null=True)  # {level_id, name, rank, discount_bp, points_multiplier_bp} at checkout
    cancelled_at = UnicodeAttribute(null=True)
    cancel_reason = UnicodeAttribute(null=True)
    version = VersionAttribute()


class RefundItem(Item, discriminator="Refund"):
    """pk=ORDER#<order_id>, sk=REFUND#<refund_id>."""

    refund_id = UnicodeAttribute()
    order_id = UnicodeAttribute()
    status = UnicodeAttribute()  # REQUESTED -> SETTLED (by a till refund) | PROCESSING -> COMPLETED
    lines = JSONAttribute()  # [{sku, qty, amount_fen}]
    amount_fen = NumberAttribute()
    reason = UnicodeAttribute()
    method = UnicodeAttribute(null=True)
    wallet = JSONAttribute(null=True)  # {principal_fen, bonus_fen} put back into the wallet
    requested_by = UnicodeAttribute(null=True)
    provider_refund_id = UnicodeAttribute(null=True)
    settled_by = UnicodeAttribute(null=True)


class PaymentItem(Item, discriminator="Payment"):
    """pk=PAYMENT#<provider transaction id>, sk=META: a provider payment is applied to one order once."""

    order_id = UnicodeAttribute()
    method = UnicodeAttribute()
    amount_fen = NumberAttribute()
    outcome = UnicodeAttribute()  # applied | late (order no longer payable; refunded)
