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


def due_bucket(deadline_iso: str, prefix: str = "DUE") -> str:
    """Hour bucket of a due time, e.g. DUE#2026-11-23T10: a sweep reads only due buckets. Prefixes: ``DUE``
    (pay deadline), ``ACCEPTDUE`` (next accept-deadline step of a paid order), ``REFUNDDUE`` (next query of a
    PROCESSING refund)."""
    return f"{prefix}#{deadline_iso[:13]}"


PAY_DUE, ACCEPT_DUE, REFUND_DUE = "DUE", "ACCEPTDUE", "REFUNDDUE"
ANOMALIES_GSI1PK = "PAYANOMALIES"


class OrderItem(Item, discriminator="Order"):
    """pk=ORDER#<order_id>, sk=META.

    gsi1: MEMBERORDERS#<member_id> / <order_id>   - a member's orders, newest first
    gsi2: STOREORDERS#<store_id> / <order_id>     - a store's orders (online and POS), newest first
    gsi3: DUE#<deadline hour> / <deadline>#<id>   - sparse: only while PENDING_PAYMENT (the unpaid sweep);
          ACCEPTDUE#<hour> / <next step at>#<id>   - then, for a paid online order, until it is accepted or
                                                     refunded (the accept-deadline sweep)
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
    accept_step = NumberAttribute(null=True)  # accept-deadline steps taken: 1 reminded, 2 escalated, 3 refunded
    delivery_fee_fen = NumberAttribute(default=0)  # in payable_fen; never discounted
    delivery_fee_refunded = NumberAttribute(default=0)  # given back with the refund of the last line
    referral = JSONAttribute(null=True)  # {uplines: [level1, level2], overrides: {sku: rule}} at creation
    version = VersionAttribute()


class RefundItem(Item, discriminator="Refund"):
    """pk=ORDER#<order_id>, sk=REFUND#<refund_id>.

    gsi3: REFUNDDUE#<hour> / <next query at>#<order_id>#<refund_id> - sparse: only while PROCESSING (the
    scheduled refund query reads only due buckets)."""

    refund_id = UnicodeAttribute()
    order_id = UnicodeAttribute()
    # REQUESTED -> SETTLED (by a till refund) | PROCESSING -> COMPLETED | ABNORMAL | CLOSED
    status = UnicodeAttribute()
    lines = JSONAttribute()  # [{sku, qty, amount_fen}]
    amount_fen = NumberAttribute()
    reason = UnicodeAttribute()
    method = UnicodeAttribute(null=True)
    wallet = JSONAttribute(null=True)  # {principal_fen, bonus_fen} put back into the wallet
    requested_by = UnicodeAttribute(null=True)
    provider_refund_id = UnicodeAttribute(null=True)
    settled_by = UnicodeAttribute(null=True)
    delivery_fee_fen = NumberAttribute(default=0)  # part of amount_fen: the delivery fee, with the last line
    refund_kind = UnicodeAttribute(
        null=True
    )  # None: lines of the order; late_payment: money that came after cancelling
    queries = NumberAttribute(default=0)  # provider queries made while PROCESSING
    completed_at = UnicodeAttribute(null=True)


class RefundRefItem(Item, discriminator="RefundRef"):
    """pk=REFUNDREF#<refund_id>, sk=META -> order_id: finds the refund a provider notification names by
    ``out_refund_no`` alone (a till sale's trade number is not its order id). Written with the refund."""

    order_id = UnicodeAttribute()


class PaymentItem(Item, discriminator="Payment"):
    """pk=PAYMENT#<provider transaction id>, sk=META: a provider payment is applied to one order once."""

    order_id = UnicodeAttribute()
    method = UnicodeAttribute()
    amount_fen = NumberAttribute()
    outcome = UnicodeAttribute()  # applied | late (order no longer payable; refunded)


class PaymentAnomalyItem(Item, discriminator="PaymentAnomaly"):
    """pk=PAYANOMALY#<notification id>, sk=META: a genuine WeChat Pay notification we could not match (wrong
    amount, unknown order or refund, another merchant), recorded once for reconciliation and acknowledged.

    gsi1: PAYANOMALIES / <anomaly_id> (ULID: newest first)."""

    anomaly_id = UnicodeAttribute()
    reason = UnicodeAttribute()  # amount_mismatch | unknown_order | unknown_refund | merchant_mismatch
    notification_id = UnicodeAttribute()
    event_type = UnicodeAttribute(null=True)
    facts = JSONAttribute()  # out_trade_no, transaction_id, amount_fen, expected_fen, mchid ...
