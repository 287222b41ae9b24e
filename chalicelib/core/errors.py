"""The one error hierarchy. Domain code raises these; ``core.http`` turns them into the contract's body:
``{"code": "UPPER_SNAKE_CASE", "message": "...", "details": {...}}`` with the class's status."""

from __future__ import annotations

from typing import Any


class AppError(Exception):
    status = 400
    code = "BAD_REQUEST"

    def __init__(self, message: str, *, code: str | None = None, details: dict[str, Any] | None = None):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.details = details or {}

    def body(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "details": self.details}


class BadRequest(AppError):
    status = 400
    code = "BAD_REQUEST"


class Unauthorized(AppError):
    status = 401
    code = "UNAUTHORIZED"


class Forbidden(AppError):
    status = 403
    code = "FORBIDDEN"


class NotFound(AppError):
    status = 404
    code = "NOT_FOUND"


class Conflict(AppError):
    status = 409
    code = "CONFLICT"


class PayloadTooLarge(AppError):
    status = 413
    code = "PAYLOAD_TOO_LARGE"


class UnsupportedMediaType(AppError):
    status = 415
    code = "UNSUPPORTED_MEDIA_TYPE"


class ValidationFailed(AppError):
    status = 422
    code = "VALIDATION_ERROR"


class RateLimited(AppError):
    status = 429
    code = "RATE_LIMITED"


class UpstreamUnavailable(AppError):
    """A provider we depend on (WeChat, payment, SMS) failed or timed out."""

    status = 502
    code = "UPSTREAM_UNAVAILABLE"


class TryAgain(AppError):
    """The database stayed busy (conflicts, throttling, a brief outage) through every retry; nothing was written.
    The client may send the same request again after ``Retry-After`` seconds."""

    status = 503
    code = "TRY_AGAIN"

    def __init__(self, message: str, *, retry_after_s: int = 1, details: dict[str, Any] | None = None):
        super().__init__(message, details=details)
        self.headers = {"Retry-After": str(retry_after_s)}


# Every status the API can answer with, for the OpenAPI document.
ERROR_STATUSES = {
    400: "Malformed JSON or request",
    401: "Missing, invalid or expired token",
    403: "Wrong role, or another store's / member's resource",
    404: "Unknown resource",
    409: "Conflict (illegal state change, duplicate, IDEMPOTENCY_KEY_REUSED)",
    413: "Body too large",
    415: "Unsupported content type",
    422: "A field failed validation (details name the field)",
    429: "Rate limited",
    503: "Busy: nothing was written; retry after Retry-After seconds (TRY_AGAIN)",
}
