"""The reports' error codes (the contract's ``code``; the AppError class raised decides the HTTP status)."""

from __future__ import annotations

from chalicelib.core.errors import ErrorCode


class ReportCode(ErrorCode):
    # 422: ``from`` after ``to``, or a range longer than a report reads at once
    REPORT_BAD_RANGE = "REPORT_BAD_RANGE"
