"""The one error hierarchy. Domain code raises these; ``core.http`` turns them into the contract's body:
``{"code": "UPPER_SNAKE_CASE", "message": "...", "details": {...}}`` with the class's status.

A ``code`` is always a member of an :class:`ErrorCode` enum: :class:`CoreCode` here, and one ``<Domain>Code``
in each domain's ``errors`` module (a code two domains use lives in the lower one). The class raised decides the
HTTP status; the code says why. ``docs/errors.md`` lists every code (``python -m tools.error_codes``)."""

from __future__ import annotations

import enum
from typing import Any


class ErrorCode(enum.StrEnum):
    """Base of every error-code enum. Members are ``str`` (their value is the contract's UPPER_SNAKE_CASE code),
    so they compare equal to the string and serialize as it."""


class CoreCode(ErrorCode):
    """Codes of the core plumbing and the ones several domains share."""

    # 400: a malformed request (the default of BadRequest)
    BAD_REQUEST = "BAD_REQUEST"
    # 400: the body is missing or not valid JSON
    MALFORMED_JSON = "MALFORMED_JSON"
    # 401: the caller is not authenticated (the default of Unauthorized)
    UNAUTHORIZED = "UNAUTHORIZED"
    # 401: no bearer token in the Authorization header
    TOKEN_MISSING = "TOKEN_MISSING"
    # 401: the bearer token is malformed, badly signed or carries impossible claims
    TOKEN_INVALID = "TOKEN_INVALID"
    # 401: the bearer token has expired; log in again
    TOKEN_EXPIRED = "TOKEN_EXPIRED"
    # 401: the session behind this token was ended (staff: account disabled, role or store changed, password
    # reset; member: the account was merged or erased); log in again
    TOKEN_REVOKED = "TOKEN_REVOKED"
    # 403: the caller may not do this (the default of Forbidden)
    FORBIDDEN = "FORBIDDEN"
    # 403: the caller's role may not call this route or create this account
    ROLE_FORBIDDEN = "ROLE_FORBIDDEN"
    # 403: store staff acting on another store's resource (or a store acting on head office's)
    STORE_SCOPE = "STORE_SCOPE"
    # 403: a member acting on another member's resource
    MEMBER_SCOPE = "MEMBER_SCOPE"
    # 404: unknown resource, or a route that does not exist on this stage
    NOT_FOUND = "NOT_FOUND"
    # 409: the request conflicts with the current state (the default of Conflict)
    CONFLICT = "CONFLICT"
    # 409: the resource was changed by someone else through every retry; reload and retry
    CONCURRENT_UPDATE = "CONCURRENT_UPDATE"
    # 409: the action is not allowed in the resource's current state (or the state changed meanwhile)
    ILLEGAL_STATE = "ILLEGAL_STATE"
    # 405: the route exists but not with this HTTP method (the Allow header lists the methods it has)
    METHOD_NOT_ALLOWED = "METHOD_NOT_ALLOWED"
    # 428: this POST creates money or stock movements and needs an Idempotency-Key header
    IDEMPOTENCY_KEY_REQUIRED = "IDEMPOTENCY_KEY_REQUIRED"
    # 409: this Idempotency-Key was already used with a different body
    IDEMPOTENCY_KEY_REUSED = "IDEMPOTENCY_KEY_REUSED"
    # 409: a request with this Idempotency-Key is still being processed; retry shortly
    IDEMPOTENCY_IN_PROGRESS = "IDEMPOTENCY_IN_PROGRESS"
    # 413: the body is larger than the limit (256 KiB)
    PAYLOAD_TOO_LARGE = "PAYLOAD_TOO_LARGE"
    # 415: the body's content type is not accepted
    UNSUPPORTED_MEDIA_TYPE = "UNSUPPORTED_MEDIA_TYPE"
    # 422: a field failed validation; details name the field (the default of ValidationFailed)
    VALIDATION_ERROR = "VALIDATION_ERROR"
    # 422: a list cursor is malformed or belongs to another list
    INVALID_CURSOR = "INVALID_CURSOR"
    # 429: too many requests; try again later
    RATE_LIMITED = "RATE_LIMITED"
    # 500: an unexpected error on our side (the body of every unhandled exception)
    INTERNAL = "INTERNAL"
    # 502: a provider we depend on failed or timed out (the default of UpstreamUnavailable)
    UPSTREAM_UNAVAILABLE = "UPSTREAM_UNAVAILABLE"
    # 502: the work could not be put on its queue; nothing was queued, try again
    NOT_QUEUED = "NOT_QUEUED"
    # 503: the database stayed busy through every retry; nothing was written, retry after Retry-After
    TRY_AGAIN = "TRY_AGAIN"


class AppError(Exception):
    status = 400
    code: ErrorCode = CoreCode.BAD_REQUEST

    def __init_subclass__(cls, **kwargs: Any):
        super().__init_subclass__(**kwargs)
        if not isinstance(cls.code, ErrorCode):
            raise TypeError(f"{cls.__name__}.code must be an ErrorCode member, not {cls.code!r}")

    def __init__(self, message: str, *, code: ErrorCode | None = None, details: dict[str, Any] | None = None):
        super().__init__(message)
        if code is not None and not isinstance(code, ErrorCode):
            raise TypeError(f"code must be an ErrorCode member (e.g. CoreCode.CONFLICT), not {code!r}")
        self.message = message
        if code is not None:
            self.code = code
        self.details = details or {}

    def body(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "details": self.details}


class BadRequest(AppError):
    status = 400
    code = CoreCode.BAD_REQUEST


class Unauthorized(AppError):
    status = 401
    code = CoreCode.UNAUTHORIZED


class Forbidden(AppError):
    status = 403
    code = CoreCode.FORBIDDEN


class NotFound(AppError):
    status = 404
    code = CoreCode.NOT_FOUND


class Conflict(AppError):
    status = 409
    code = CoreCode.CONFLICT


class MethodNotAllowed(AppError):
    status = 405
    code = CoreCode.METHOD_NOT_ALLOWED


class PayloadTooLarge(AppError):
    status = 413
    code = CoreCode.PAYLOAD_TOO_LARGE


class UnsupportedMediaType(AppError):
    status = 415
    code = CoreCode.UNSUPPORTED_MEDIA_TYPE


class ValidationFailed(AppError):
    status = 422
    code = CoreCode.VALIDATION_ERROR


def invalid_cursor(why: str = "not a cursor from this API") -> ValidationFailed:
    """A list's ``next`` that is malformed or belongs to another list (or range): 422 naming the field."""
    return ValidationFailed(
        "The cursor is not valid", code=CoreCode.INVALID_CURSOR, details={"fields": [{"field": "next", "message": why}]}
    )


class PreconditionRequired(AppError):
    status = 428
    code = CoreCode.IDEMPOTENCY_KEY_REQUIRED


class RateLimited(AppError):
    """Too many attempts: ``Retry-After`` says when to try again."""

    status = 429
    code = CoreCode.RATE_LIMITED

    def __init__(
        self,
        message: str,
        *,
        code: ErrorCode | None = None,
        retry_after_s: int | None = None,
        details: dict[str, Any] | None = None,
    ):
        super().__init__(message, code=code, details=details)
        if retry_after_s is not None:
            self.headers = {"Retry-After": str(max(1, int(retry_after_s)))}


class UpstreamUnavailable(AppError):
    """A provider we depend on (WeChat, payment, SMS) failed or timed out."""

    status = 502
    code = CoreCode.UPSTREAM_UNAVAILABLE


class TryAgain(AppError):
    """The database stayed busy (conflicts, throttling, a brief outage) through every retry; nothing was written.
    The client may send the same request again after ``Retry-After`` seconds."""

    status = 503
    code = CoreCode.TRY_AGAIN

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
    405: "Method not allowed",
    413: "Body too large",
    415: "Unsupported content type",
    422: "A field failed validation (details name the field)",
    428: "Idempotency-Key header required (IDEMPOTENCY_KEY_REQUIRED)",
    429: "Rate limited; retry after Retry-After seconds",
    503: "Busy: nothing was written; retry after Retry-After seconds (TRY_AGAIN)",
}
