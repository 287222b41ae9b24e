"""Identity's error codes (the contract's ``code``; the AppError class raised decides the HTTP status)."""

from __future__ import annotations

from chalicelib.core.errors import ErrorCode


class IdentityCode(ErrorCode):
    # 401: staff login with a wrong username or password (or a disabled account)
    INVALID_CREDENTIALS = "INVALID_CREDENTIALS"
    # 401: the member's account is closed
    ACCOUNT_CLOSED = "ACCOUNT_CLOSED"
    # 404 (422 in a list of member ids; a skipped coupon grant): no such member
    MEMBER_NOT_FOUND = "MEMBER_NOT_FOUND"
    # 409: creating a staff account whose username is taken
    USERNAME_TAKEN = "USERNAME_TAKEN"
    # 401: the WeChat login code is invalid or already used
    WECHAT_CODE_INVALID = "WECHAT_CODE_INVALID"
    # 403: WeChat refused this user
    WECHAT_USER_BLOCKED = "WECHAT_USER_BLOCKED"
    # 429: WeChat rate-limited the logins; try again in a minute
    WECHAT_RATE_LIMITED = "WECHAT_RATE_LIMITED"
    # 502: WeChat did not answer, or answered with an error
    WECHAT_UNAVAILABLE = "WECHAT_UNAVAILABLE"
    # 502: WeChat login is not configured (app id or secret missing)
    WECHAT_NOT_CONFIGURED = "WECHAT_NOT_CONFIGURED"
    # 409: this phone is another member's (bound in the mini-program)
    PHONE_TAKEN = "PHONE_TAKEN"
    # 422: not a mainland China mobile number (customer SMS could not reach it)
    PHONE_INVALID = "PHONE_INVALID"
    # 404: the member code is unknown, expired or was never issued (POS routes, `member_code`)
    MEMBER_CODE_INVALID = "MEMBER_CODE_INVALID"
    # 404: no such staff account (or, for a store manager, not one of their store's)
    STAFF_NOT_FOUND = "STAFF_NOT_FOUND"
    # 409: an account cannot disable itself or take its own head-office role away
    SELF_ACTION = "SELF_ACTION"
