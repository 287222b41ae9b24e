"""The wallet's error codes (the contract's ``code``; the AppError class raised decides the HTTP status)."""

from __future__ import annotations

from chalicelib.core.errors import ErrorCode


class WalletCode(ErrorCode):
    # 409: the wallet's principal or bonus does not cover the payment (never a negative balance)
    INSUFFICIENT_BALANCE = "INSUFFICIENT_BALANCE"
    # 404: no such recharge package
    PACKAGE_NOT_FOUND = "PACKAGE_NOT_FOUND"
    # 409: the recharge package is not active (head office switched it off)
    PACKAGE_INACTIVE = "PACKAGE_INACTIVE"
    # 404: no such recharge
    RECHARGE_NOT_FOUND = "RECHARGE_NOT_FOUND"
    # 409: the recharge is not paid, so there is nothing to refund
    RECHARGE_NOT_PAID = "RECHARGE_NOT_PAID"
    # 422: a free recharge amount outside the allowed range (1 yuan to 5,000 yuan)
    RECHARGE_AMOUNT_INVALID = "RECHARGE_AMOUNT_INVALID"
