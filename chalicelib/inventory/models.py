from __future__ import annotations

from pynamodb.attributes import BooleanAttribute, JSONAttribute, NumberAttribute, UnicodeAttribute, UnicodeSetAttribute

from chalicelib.core.dynamo import Item

LOW_STOCK_GSI2PK = "LOWSTOCK"
AUDIT_DAY_PREFIX = "STOCKDAY"  # gsi3: movements by business day (the ledger audit reads one day)


def stock_sk(sku: str) -> str:
    return f"STOCK#{sku}"


def sku_gsi1pk(sku: str) -> str:
    return f"SKU#{sku}"


def ledger_pk(store_id: str) -> str:
    return f"LEDGER#{store_id}"


def transfer_pk(transfer_id: str) -> str:
    return f"TRANSFER#{transfer_id}"


class StockItem(Item, discriminator="Stock"):
    """pk=STORE#<store_id>, sk=STOCK#<sku>: units on hand in one store.

    gsi1: SKU#<sku> / <store_id>   - one sku across all stores (routing, transfer suggestions)
    gsi2: LOWSTOCK / <store_id>#<sku> - sparse: present only while a low-stock alert is open
    ``qty`` changes only by conditional updates in the same transaction as a ledger movement.
    """

    store_id = UnicodeAttribute()
    sku = UnicodeAttribute()
    qty = NumberAttribute(default=0)
    threshold = NumberAttribute(null=True)
    in_transit = NumberAttribute(null=True)  # units shipped to this store, not yet received
    low_open = BooleanAttribute(null=True)
    low_since = UnicodeAttribute(null=True)


class MovementItem(Item, discriminator="Movement"):
    """pk=LEDGER#<store_id>, sk=<movement_id> (ULID, time-ordered): one ledger entry per stock-moving step
    in one store, with the signed quantity per sku. For each (store, sku) the deltas sum to ``qty``.

    gsi3: STOCKDAY#<business day> / <store_id>#<movement_id>  - the stock changed on a day (ledger audit)"""

    movement_id = UnicodeAttribute()
    store_id = UnicodeAttribute()
    move_kind = UnicodeAttribute()
    deltas = JSONAttribute()  # {sku: signed int}
    skus = UnicodeSetAttribute()
    ref_type = UnicodeAttribute(null=True)  # order | receipt | count | transfer | refund
    ref_id = UnicodeAttribute(null=True)
    actor = UnicodeAttribute(null=True)
    note = UnicodeAttribute(null=True)


class TransferItem(Item, discriminator="Transfer"):
    """pk=TRANSFER#<id>, sk=META; gsi1: TRANSFERS / <id>; gsi2: TRANSFERS#<store_id> (from) / <id>;
    gsi3: TRANSFERS#<store_id> (to) / <id>."""

    transfer_id = UnicodeAttribute()
    from_store_id = UnicodeAttribute()
    to_store_id = UnicodeAttribute()
    lines = JSONAttribute()  # [{sku, qty}]
    status = UnicodeAttribute()  # CREATED | SHIPPED | RECEIVED | CANCELLED
    note = UnicodeAttribute(null=True)
    created_by = UnicodeAttribute(null=True)
    shipped_at = UnicodeAttribute(null=True)
    received_at = UnicodeAttribute(null=True)
    cancelled_at = UnicodeAttribute(null=True)
