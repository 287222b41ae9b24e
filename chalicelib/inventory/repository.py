"""The only code that reads or writes stock items."""
from __future__ import annotations

from chalicelib.inventory.models import StockItem
from chalicelib.stores.models import store_pk


def stock_levels(store_id: str) -> dict[str, int]:
    """Units on hand per sku in one store (one query of the store's STOCK# items)."""
    return {i.sku: int(i.qty) for i in StockItem.query(store_pk(store_id), StockItem.sk.startswith("STOCK#"))}
