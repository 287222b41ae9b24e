"""The catalog's error codes (the contract's ``code``; the AppError class raised decides the HTTP status)."""

from __future__ import annotations

from chalicelib.core.errors import ErrorCode


class CatalogCode(ErrorCode):
    # 404: no product has this sku
    PRODUCT_NOT_FOUND = "PRODUCT_NOT_FOUND"
    # 409: creating a product whose sku already exists
    SKU_EXISTS = "SKU_EXISTS"
    # 409: the barcode belongs to another product
    BARCODE_TAKEN = "BARCODE_TAKEN"
    # 422: a sku in the request is not in the catalog (also a quote problem; placing the order answers 422)
    UNKNOWN_SKU = "UNKNOWN_SKU"
    # 409: the product is not on sale (also a quote problem)
    OFF_SALE = "OFF_SALE"
    # 409: consult-only goods cannot be ordered online; details carry contact_hint (also a quote problem)
    CONSULT_ONLY = "CONSULT_ONLY"
