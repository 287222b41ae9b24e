"""The promotions' error codes (the contract's ``code``; the AppError class raised decides the HTTP status)."""

from __future__ import annotations

from chalicelib.core.errors import ErrorCode


class PromotionCode(ErrorCode):
    # 404: no such promotion
    PROMOTION_NOT_FOUND = "PROMOTION_NOT_FOUND"
