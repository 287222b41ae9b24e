"""The pricing engine's error codes (the contract's ``code``; the AppError class raised decides the HTTP
status)."""

from __future__ import annotations

from chalicelib.core.errors import ErrorCode


class PricingCode(ErrorCode):
    # quote problem (409 when ordering): a chosen coupon cannot be used on this order; details give the reason
    COUPON_NOT_APPLICABLE = "COUPON_NOT_APPLICABLE"
    # 422: a promotion or coupon template names consult-only goods as its gift
    GIFT_NOT_ALLOWED = "GIFT_NOT_ALLOWED"
    # hint in a quote (not an error): fewer points than asked can be redeemed on this order
    POINTS_LIMITED = "POINTS_LIMITED"
