from __future__ import annotations

from pynamodb.attributes import JSONAttribute, NumberAttribute, UnicodeAttribute

from chalicelib.core.dynamo import Item

STORES_GSI1PK = "STORES"


def store_pk(store_id: str) -> str:
    return f"STORE#{store_id}"


class StoreItem(Item, discriminator="Store"):
    """pk=STORE#<store_id>, sk=META; gsi1: STORES / <store_id> (all stores, in creation order)."""

    store_id = UnicodeAttribute()
    name = UnicodeAttribute()
    address = UnicodeAttribute()
    lat = NumberAttribute()
    lng = NumberAttribute()
    phone = UnicodeAttribute()
    opening_hours = JSONAttribute()
    delivery_radius_m = NumberAttribute()
    pickup_radius_m = NumberAttribute()
    status = UnicodeAttribute()
    notes = UnicodeAttribute(null=True)
    # {remind_after_min, escalate_after_min, refund_after_min}: minutes of opening time after payment; null: off
    accept_deadlines = JSONAttribute(null=True)
    delivery_fee_fen = NumberAttribute(default=0)
    delivery_min_order_fen = NumberAttribute(default=0)
    free_delivery_over_fen = NumberAttribute(null=True)  # null: never free
