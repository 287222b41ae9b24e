"""The payments' error codes (the contract's ``code``; the AppError class raised decides the HTTP status)."""

from __future__ import annotations

from chalicelib.core.errors import ErrorCode


class PaymentCode(ErrorCode):
    # 502: the payment provider did not answer, or its answer could not be verified
    PAYMENT_UNAVAILABLE = "PAYMENT_UNAVAILABLE"
    # 502: payments are not configured (a setting is missing, or the sandbox on prod)
    PAYMENT_NOT_CONFIGURED = "PAYMENT_NOT_CONFIGURED"
    # 409 (wallet) or 502 (付款码 not configured): this payment method cannot be used
    PAYMENT_METHOD_UNAVAILABLE = "PAYMENT_METHOD_UNAVAILABLE"
    # 409: the payer's side declined the payment (e.g. an invalid or expired payment code)
    PAYMENT_DECLINED = "PAYMENT_DECLINED"
    # 502: the customer has not confirmed the 付款码 payment yet; retry the same sale
    PAYMENT_PENDING = "PAYMENT_PENDING"
    # 409: WeChat Pay says the order is already paid
    ALREADY_PAID = "ALREADY_PAID"
    # 409: WeChat Pay has closed this order
    PAYMENT_ORDER_CLOSED = "PAYMENT_ORDER_CLOSED"
    # 409: the order was sent to WeChat Pay before with other details
    PAYMENT_DUPLICATE = "PAYMENT_DUPLICATE"
    # 409: WeChat Pay refused the refund
    REFUND_REJECTED = "REFUND_REJECTED"
    # 404: WeChat Pay does not know this refund
    REFUND_NOT_FOUND = "REFUND_NOT_FOUND"
    # 409: a payment notification is for another order
    ORDER_MISMATCH = "ORDER_MISMATCH"
    # 409: the paid amount (or currency) differs from the order's
    AMOUNT_MISMATCH = "AMOUNT_MISMATCH"
    # 401: a WeChat Pay notification or answer has a wrong signature
    SIGNATURE_INVALID = "SIGNATURE_INVALID"
    # 401: a WeChat Pay notification's timestamp is too far from now
    TIMESTAMP_STALE = "TIMESTAMP_STALE"
    # 401: a WeChat Pay notification is signed with a platform key we do not know
    UNKNOWN_SERIAL = "UNKNOWN_SERIAL"
    # 400: a WeChat Pay notification could not be decrypted
    DECRYPT_FAILED = "DECRYPT_FAILED"
    # 400: a WeChat Pay notification is not in the documented shape
    MALFORMED_NOTIFICATION = "MALFORMED_NOTIFICATION"
    # 400: a genuine WeChat Pay notification for another merchant or app than ours
    MERCHANT_MISMATCH = "MERCHANT_MISMATCH"
    # the code of the body answered to a refused WeChat Pay notification (the shape WeChat expects; it retries)
    FAIL = "FAIL"
