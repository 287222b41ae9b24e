"""The orders' error codes (the contract's ``code``; the AppError class raised decides the HTTP status)."""

from __future__ import annotations

from chalicelib.core.errors import ErrorCode


class OrderCode(ErrorCode):
    # 404: no such order (or another member's)
    ORDER_NOT_FOUND = "ORDER_NOT_FOUND"
    # 409: the time to pay this order has passed
    PAY_DEADLINE_PASSED = "PAY_DEADLINE_PASSED"
    # 422: a POS sale paid in cash with less than the total
    CASH_SHORT = "CASH_SHORT"
    # quote problem (422 when ordering): coupons were chosen without a member
    COUPON_NEEDS_MEMBER = "COUPON_NEEDS_MEMBER"
    # quote problem (422 when ordering): points were asked for without a member
    POINTS_NEED_MEMBER = "POINTS_NEED_MEMBER"
    # 422: a till sale paid from the wallet names no member (member_code)
    WALLET_NEEDS_MEMBER = "WALLET_NEEDS_MEMBER"
    # quote problem (409 when ordering): the chosen store is closed now
    STORE_CLOSED = "STORE_CLOSED"
    # quote problem (409 when ordering): the chosen store does not take orders (unknown or inactive)
    STORE_UNAVAILABLE = "STORE_UNAVAILABLE"
    # quote problem (409 when ordering): no open store serves this fulfilment in range
    NO_STORE_IN_RANGE = "NO_STORE_IN_RANGE"
    # quote problem (409 when ordering): the delivery address is outside the chosen store's range
    OUT_OF_DELIVERY_RANGE = "OUT_OF_DELIVERY_RANGE"
    # quote problem (409 when ordering): a delivery order's goods are below the store's minimum order
    BELOW_MINIMUM_ORDER = "BELOW_MINIMUM_ORDER"
    # 409: the member still has open orders or refunds in progress (account deletion)
    ACCOUNT_HAS_OPEN_ORDERS = "ACCOUNT_HAS_OPEN_ORDERS"
    # 422: a refund names a sku that is not in the order
    NOT_IN_ORDER = "NOT_IN_ORDER"
    # 409: refunding more than was bought, or already refunded
    OVER_REFUND = "OVER_REFUND"
    # 403: a clerk's refund above the clerk's limit, sent without a manager's approval
    REFUND_NEEDS_APPROVAL = "REFUND_NEEDS_APPROVAL"
    # 403: the approval's username and password are not those of an active manager of the order's store
    REFUND_APPROVAL_INVALID = "REFUND_APPROVAL_INVALID"
    # 422: completing a pickup order without the customer's pickup code
    PICKUP_CODE_REQUIRED = "PICKUP_CODE_REQUIRED"
    # 409: the pickup code does not match the order
    PICKUP_CODE_MISMATCH = "PICKUP_CODE_MISMATCH"
