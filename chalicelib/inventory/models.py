from __future__ import annotations

from pynamodb.attributes import NumberAttribute, UnicodeAttribute

from chalicelib.core.dynamo import Item


def stock_sk(sku: str) -> str:
    return f"STOCK#{sku}"


class StockItem(Item, discriminator="Stock"):
    """pk=STORE#<store_id>, sk=STOCK#<sku>: units on hand in one store. Changed only by conditional
    updates in the same transaction as a ledger entry (see the checkout issue)."""

    store_id = UnicodeAttribute()
    sku = UnicodeAttribute()
    qty = NumberAttribute(default=0)
    threshold = NumberAttribute(null=True)
