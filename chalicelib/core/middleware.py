"""HTTP middleware: request id on every log line and on the response."""

from __future__ import annotations

from chalicelib.core.ids import new_id
from chalicelib.core.logging import logger

QUIET_PATHS = frozenset({"/cloudprnt"})


def log_requests(event, get_response):
    ctx = event.context or {}
    # API Gateway's request id; a caller's X-Request-Id; else our own (the local server has neither).
    request_id = ctx.get("requestId") or (event.headers or {}).get("x-request-id") or new_id()
    logger.append_keys(request_id=request_id, path=ctx.get("resourcePath"), method=event.method)
    try:
        response = get_response(event)
        response.headers["X-Request-Id"] = request_id
        # Printers poll every few seconds each: their successful requests are DEBUG, not a log line per poll.
        routine = ctx.get("resourcePath") in QUIET_PATHS and response.status_code < 400
        (logger.debug if routine else logger.info)("request", extra={"status": response.status_code})
        return response
    finally:
        logger.remove_keys(["request_id", "path", "method"])
