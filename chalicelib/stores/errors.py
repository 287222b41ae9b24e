"""The stores' error codes (the contract's ``code``; the AppError class raised decides the HTTP status)."""

from __future__ import annotations

from chalicelib.core.errors import ErrorCode


class StoreCode(ErrorCode):
    # 404: no such store (or, for the shop's product list, not an active one)
    STORE_NOT_FOUND = "STORE_NOT_FOUND"
    # 409: creating a store whose id already exists
    STORE_EXISTS = "STORE_EXISTS"
    # 422: a promotion's or coupon template's scope names a store that does not exist
    UNKNOWN_STORE = "UNKNOWN_STORE"
    # 403: a store manager changing fields only head office may change
    FIELD_FORBIDDEN = "FIELD_FORBIDDEN"
