"""HTTP middleware: request id on every log line and on the response; errors Chalice answers itself (405, 415,
its own 500) get the contract's body (``core.http.contract_error``)."""

from __future__ import annotations

from chalicelib.core.http import JSON_TYPE, contract_error, dumps
from chalicelib.core.ids import new_id
from chalicelib.core.logging import logger

QUIET_PATHS = frozenset({"/cloudprnt"})


def log_requests(event, get_response):
    ctx = event.context or {}
    # API Gateway's request id; a caller's X-Request-Id; else our own (the local server has neither).
    request_id = ctx.get("requestId") or (event.headers or {}).get("x-request-id") or new_id()
    logger.append_keys(request_id=request_id, path=ctx.get("resourcePath"), method=event.method)
    try:
        response = _one_error_shape(get_response(event))
        response.headers["X-Request-Id"] = request_id
        # Printers poll every few seconds each: their successful requests are DEBUG, not a log line per poll.
        routine = ctx.get("resourcePath") in QUIET_PATHS and response.status_code < 400
        (logger.debug if routine else logger.info)("request", extra={"status": response.status_code})
        return response
    finally:
        logger.remove_keys(["request_id", "path", "method"])


def _one_error_shape(response):
    """Our views answer errors as JSON text already; Chalice's own answers carry a dict body or plain text."""
    if response.status_code < 400 or (isinstance(response.body, str) and response.status_code < 500):
        return response
    if isinstance(response.body, str) and (response.headers.get("Content-Type") or "").startswith(JSON_TYPE):
        return response
    body = contract_error(response.status_code, response.body)
    if body is not None:
        response.body = dumps(body)
        response.headers["Content-Type"] = f"{JSON_TYPE}; charset=utf-8"
    return response
