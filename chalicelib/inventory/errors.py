"""Inventory's error codes (the contract's ``code``; the AppError class raised decides the HTTP status)."""

from __future__ import annotations

from chalicelib.core.errors import ErrorCode


class InventoryCode(ErrorCode):
    # 409: not enough stock; details list the short lines (also a quote problem)
    OUT_OF_STOCK = "OUT_OF_STOCK"
    # 409: stock changed while counting; count the listed skus again
    COUNT_STALE = "COUNT_STALE"
    # 404: no such stock transfer
    TRANSFER_NOT_FOUND = "TRANSFER_NOT_FOUND"
