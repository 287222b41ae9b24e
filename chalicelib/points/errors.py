"""The points' error codes (the contract's ``code``; the AppError class raised decides the HTTP status)."""

from __future__ import annotations

from chalicelib.core.errors import ErrorCode


class PointsCode(ErrorCode):
    # 409: the member has already checked in today (business day, BUSINESS_TZ)
    ALREADY_CHECKED_IN = "ALREADY_CHECKED_IN"
    # 409: taking away more points than the member has (a negative adjustment never makes the balance negative)
    INSUFFICIENT_POINTS = "INSUFFICIENT_POINTS"
    # 422: the points settings are inconsistent (e.g. two streak gifts on one day); details name the field
    INVALID_POINTS_SETTINGS = "INVALID_POINTS_SETTINGS"
