"""SMS error codes (the contract's ``code``; the AppError class raised decides the HTTP status)."""

from __future__ import annotations

from chalicelib.core.errors import ErrorCode


class SmsCode(ErrorCode):
    # 422: the member's account has no mobile number
    NO_PHONE = "NO_PHONE"
