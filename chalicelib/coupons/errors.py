"""The coupons' error codes (the contract's ``code``; the AppError class raised decides the HTTP status)."""

from __future__ import annotations

from chalicelib.core.errors import ErrorCode


class CouponCode(ErrorCode):
    # 404: no such coupon template
    TEMPLATE_NOT_FOUND = "TEMPLATE_NOT_FOUND"
    # 409: the template is not being issued now (not active)
    TEMPLATE_INACTIVE = "TEMPLATE_INACTIVE"
    # 409: the template's validity is over
    TEMPLATE_ENDED = "TEMPLATE_ENDED"
    # 409: the template is not for this purpose (e.g. a claimable coupon used as compensation)
    WRONG_TEMPLATE_PURPOSE = "WRONG_TEMPLATE_PURPOSE"
    # 409: claiming has not started yet
    CLAIM_NOT_STARTED = "CLAIM_NOT_STARTED"
    # 409: claiming has ended
    CLAIM_ENDED = "CLAIM_ENDED"
    # 409: every coupon of the template has been claimed (also a skipped grant)
    COUPON_SOLD_OUT = "COUPON_SOLD_OUT"
    # 409: the member already holds as many of these coupons as allowed (also a skipped grant)
    COUPON_LIMIT_REACHED = "COUPON_LIMIT_REACHED"
    # 409: withdrawing more coupons from a template's stock than are left
    INSUFFICIENT_COUPON_STOCK = "INSUFFICIENT_COUPON_STOCK"
    # 409: this gift or compensation was already given
    ALREADY_GRANTED = "ALREADY_GRANTED"
    # 403: the member is blocked from claiming coupons (also a skipped grant)
    MEMBER_BLOCKED = "MEMBER_BLOCKED"
    # 404: unblocking a member who is not blocked
    BLOCK_NOT_FOUND = "BLOCK_NOT_FOUND"
    # 422: compensating for an order that does not exist
    UNKNOWN_ORDER = "UNKNOWN_ORDER"
    # 422: compensating a member for another member's order
    ORDER_MEMBER_MISMATCH = "ORDER_MEMBER_MISMATCH"
    # quote problem (422 when ordering): a chosen coupon is not one of the member's
    UNKNOWN_COUPON = "UNKNOWN_COUPON"
    # 409: a chosen coupon is used or held by another order (also a quote problem)
    COUPON_UNAVAILABLE = "COUPON_UNAVAILABLE"
    # quote problem (409 when ordering): a chosen coupon has expired
    COUPON_EXPIRED = "COUPON_EXPIRED"
    # quote problem (409 when ordering): a chosen coupon is not valid yet
    COUPON_NOT_YET_VALID = "COUPON_NOT_YET_VALID"
