"""HTTP plumbing shared by every blueprint: the ``route`` decorator.

``route`` registers a Chalice route and records its contract (roles, body/query/response models, status,
idempotency) on the view, where ``core.openapi`` reads it back from the app's route table. Each request:
authenticate -> parse query and body with pydantic -> (Idempotency-Key) -> handler -> JSON. Every
:class:`AppError` and every validation failure is turned into the contract's error body here, and only here;
:func:`contract_error` does the same for the errors Chalice itself answers (405, 415, its 500), and for the
local server's (unknown route, unsupported method), so every error has one shape.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError

from chalicelib.core.auth import Principal, authenticate
from chalicelib.core.dynamo import TxCancelled, transient
from chalicelib.core.errors import (
    AppError,
    BadRequest,
    CoreCode,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    PreconditionRequired,
    TryAgain,
    UnsupportedMediaType,
    ValidationFailed,
)
from chalicelib.core.logging import logger

MAX_BODY_BYTES = 256 * 1024
MAX_PATH_PARAM = 128  # no id, sku, username or scope is longer: a longer one is unknown (404)
JSON_TYPE = "application/json"

# Every view ``route`` made, by (path, method): what ``core.routing`` calls when a request arrives.
VIEWS: dict[tuple[str, str], Callable] = {}
# The app serving this request (set by core.routing's views, whose blueprints are never registered).
_SERVING: ContextVar[Any] = ContextVar("serving_app", default=None)


@contextmanager
def serving(app: Any) -> Iterator[None]:
    token = _SERVING.set(app)
    try:
        yield
    finally:
        _SERVING.reset(token)


def serving_app(bp) -> Any:
    """The Chalice app serving this request: ``bp``'s app when it is registered, else the one core.routing set."""
    app = _SERVING.get()
    return app if app is not None else bp.current_app


@dataclass
class RouteSpec:
    path: str
    method: str
    roles: frozenset[str] | None  # None: no bearer token (public, or its own auth)
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    response: Any = None  # pydantic model (or list[...] of one) for the docs
    status: int = 200
    idempotent: bool | str = False  # True: generic claim; "tx": the use case puts the marker itself
    key_required: bool = False  # the Idempotency-Key header must be sent (428 IDEMPOTENCY_KEY_REQUIRED)
    summary: str = ""
    tag: str = ""
    auth: str = "bearer"  # bearer | none | basic | wechatpay
    errors: tuple[int, ...] = ()
    available: Callable[[], bool] | None = None  # False -> 404 before anything else (stage-only routes)
    content_types: tuple[str, ...] | None = None  # request bodies accepted (Chalice's default: JSON)
    # Routes with their own credentials (roles=None, e.g. auth="basic"): called with the Authorization header
    # before any input is parsed; what it returns is ``req.principal``; it raises a 401 AppError itself.
    authenticator: Callable[[str | None], Any] | None = None
    audit: str | None = None  # a sensitive action: logged in the change's transaction (core.actionlog)


@dataclass
class Req:
    """What a handler gets: the caller, parsed input, and the raw Chalice request for anything else."""

    principal: Principal | None
    body: Any
    query: Any
    raw: Any
    params: dict[str, str] = field(default_factory=dict)

    def header(self, name: str) -> str | None:
        return (self.raw.headers or {}).get(name.lower()) if self.raw is not None else None

    @property
    def source_ip(self) -> str:
        """The caller's address as API Gateway saw it (never a client-supplied X-Forwarded-For)."""
        ctx = (getattr(self.raw, "context", None) or {}) if self.raw is not None else {}
        return str((ctx.get("identity") or {}).get("sourceIp") or "unknown")


@dataclass
class Result:
    body: Any
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    # Set: ``body`` (str or bytes) is the response as it is, with this Content-Type, instead of JSON (e.g. a
    # print job for a CloudPRNT printer). Not combinable with Idempotency-Key replay (that stores JSON).
    content_type: str | None = None


@dataclass
class _Raw:
    body: str | bytes
    content_type: str


def dumps(body: Any) -> str:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"))


def to_jsonable(result: Any) -> Any:
    if isinstance(result, BaseModel):
        return result.model_dump(mode="json")
    if isinstance(result, list):
        return [to_jsonable(r) for r in result]
    return result


def json_response(body: Any, status: int, headers: dict[str, str] | None = None):
    from chalice import Response

    h = {"Content-Type": f"{JSON_TYPE}; charset=utf-8"}
    h.update(headers or {})
    return Response(body=dumps(body) if body is not None else "", status_code=status, headers=h)


def raw_response(raw: _Raw, status: int, headers: dict[str, str] | None = None):
    from chalice import Response

    return Response(body=raw.body, status_code=status, headers={"Content-Type": raw.content_type, **(headers or {})})


def error_response(err: AppError):
    # An error may carry response headers (e.g. WWW-Authenticate on a 401 of HTTP Basic routes).
    return json_response(err.body(), err.status, getattr(err, "headers", None))


def validation_error(e: ValidationError, where: str) -> AppError:
    fields = []
    for err in e.errors(include_url=False, include_input=False):
        if err["type"] == "json_invalid":
            return BadRequest("The body is not valid JSON", code=CoreCode.MALFORMED_JSON)
        loc = ".".join(str(p) for p in err["loc"]) or where
        fields.append({"field": loc, "message": err["msg"], "type": err["type"]})
    return ValidationFailed(f"Invalid {where}", details={"in": where, "fields": fields})


def parse_body(model: type[BaseModel], raw: bytes | None) -> BaseModel:
    if raw is not None and len(raw) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"The body is larger than {MAX_BODY_BYTES} bytes")
    if not raw or not raw.strip():
        raise BadRequest("A JSON body is required", code=CoreCode.MALFORMED_JSON)
    try:
        return model.model_validate_json(raw)
    except ValidationError as e:
        raise validation_error(e, "body")


def parse_query(model: type[BaseModel], params: dict[str, str] | None) -> BaseModel:
    try:
        return model.model_validate(dict(params or {}))
    except ValidationError as e:
        raise validation_error(e, "query")


def _canonical_body(raw: bytes | None) -> bytes:
    if not raw:
        return b""
    try:
        return json.dumps(json.loads(raw), sort_keys=True, separators=(",", ":")).encode()
    except ValueError:
        return raw


def route(
    bp,
    path: str,
    method: str = "GET",
    *,
    roles: frozenset[str] | None,
    body=None,
    query=None,
    response=None,
    status: int = 200,
    idempotent: bool | str = False,
    key_required: bool = False,
    summary: str = "",
    tag: str = "",
    auth: str | None = None,
    content_types: list[str] | None = None,
    errors: tuple[int, ...] = (),
    available: Callable[[], bool] | None = None,
    authenticator: Callable[[str | None], Any] | None = None,
    audit: str | None = None,
) -> Callable:
    """Register ``fn(req: Req, **path_params)`` on blueprint ``bp``; see the module docstring."""
    if authenticator is not None and roles is not None:
        raise ValueError("a route has either roles (bearer JWT) or its own authenticator")
    if key_required and not idempotent:
        raise ValueError("key_required needs an idempotent route")
    spec = RouteSpec(
        path=path,
        method=method,
        roles=roles,
        body=body,
        query=query,
        response=response,
        status=status,
        idempotent=idempotent,
        key_required=key_required,
        summary=summary,
        tag=tag,
        auth=auth or ("bearer" if roles is not None else "none"),
        errors=errors,
        available=available,
        authenticator=authenticator,
        audit=audit,
        content_types=tuple(content_types) if content_types else None,
    )

    def deco(fn: Callable) -> Callable:
        target = _audited(spec, fn) if audit else fn

        @functools.wraps(fn)
        def view(**params: str):
            return _dispatch(bp, spec, target, params)

        view.__route_spec__ = spec  # type: ignore[attr-defined]
        bp.route(path, methods=[method], **({"content_types": content_types} if content_types else {}))(view)
        VIEWS[(path, method)] = view
        return fn

    return deco


def _audited(spec: RouteSpec, fn: Callable) -> Callable:
    """``fn`` with its action-log entry (core.actionlog): carried by the first transaction the request commits,
    else written when it answers 2xx. Inside the Idempotency-Key claim: a replay does not log again."""
    from chalicelib.core import actionlog

    def run(req: Req, **params: str):
        body = req.body.model_dump(mode="json", exclude_unset=True) if req.body is not None else None
        pending = actionlog.begin(
            actionlog.Pending(spec.audit, req.principal, spec.method, spec.path, params, body, spec.status)
        )
        succeeded = False
        try:
            result = fn(req, **params)
            succeeded = (result.status if isinstance(result, Result) else spec.status) < 300
            return result
        finally:
            if actionlog.finish(pending, succeeded):
                logger.info("action logged after the request", extra={"action": spec.audit, "path": spec.path})

    return run


def _dispatch(bp, spec: RouteSpec, fn: Callable, params: dict[str, str]):
    request = serving_app(bp).current_request
    try:
        if (spec.available is not None and not spec.available()) or any(
            len(v) > MAX_PATH_PARAM for v in params.values()
        ):
            raise NotFound("Not found", code=CoreCode.NOT_FOUND)
        headers = request.headers or {}
        principal = authenticate(headers.get("authorization"), spec.roles) if spec.roles is not None else None
        if spec.authenticator is not None:
            principal = spec.authenticator(headers.get("authorization"))
        query = parse_query(spec.query, request.query_params) if spec.query else None
        if not spec.query and request.query_params and spec.auth == "bearer":
            raise ValidationFailed(
                "This route takes no query parameters",
                details={"in": "query", "fields": [{"field": k, "message": "unknown"} for k in request.query_params]},
            )
        key = headers.get("idempotency-key")
        if spec.key_required and key is None:
            raise PreconditionRequired(
                "This request needs an Idempotency-Key header (any unique string, reused when retrying)",
                details={"in": "header", "fields": [{"field": "Idempotency-Key", "message": "required"}]},
            )
        body = parse_body(spec.body, request.raw_body) if spec.body else None
        req = Req(principal=principal, body=body, query=query, raw=request, params=params)
        if spec.idempotent and key is not None:
            return _idempotent(spec, fn, req, key)
        status, payload, extra = _invoke(fn, req, params, spec, with_headers=True)
        if isinstance(payload, _Raw):
            return raw_response(payload, status, extra)
        return json_response(payload, status, extra)
    except AppError as e:
        if e.status >= 500:
            logger.warning("upstream error", extra={"code": e.code, "path": spec.path})
        return error_response(e)
    except Exception as e:  # the one place unexpected errors become a 500 body
        if transient(e):  # a read or single write that stayed throttled / unavailable through botocore's retries
            logger.warning("database busy", extra={"path": spec.path, "error": str(e)})
            return error_response(TryAgain("The store is busy; please try again in a moment"))
        if isinstance(e, TxCancelled):  # a condition no use case maps (e.g. a fresh id taken): nothing was written
            logger.error("transaction refused", extra={"path": spec.path, "failed": [str(t) for t in e.failed]})
            return error_response(TryAgain("The data changed while this was being done; nothing was written"))
        logger.exception("unhandled error", extra={"path": spec.path, "method": spec.method})
        return json_response(
            {"code": CoreCode.INTERNAL, "message": "Something went wrong on our side", "details": {}}, 500
        )


def _idempotent(spec: RouteSpec, fn: Callable, req: Req, key: str):
    """Run the handler under an Idempotency-Key: the first response is stored and replayed."""
    from chalicelib.core import idempotency

    principal, params, request = req.principal, req.params, req.raw
    scope = f"{principal.sub if principal else '-'}#{spec.method} {spec.path}#" + "&".join(
        f"{k}={v}" for k, v in sorted(params.items())
    )
    if spec.idempotent == "tx":
        claim = idempotency.begin(scope, key, _canonical_body(request.raw_body))
        try:
            status, payload, extra = _invoke(fn, req, params, spec, with_headers=True)
            return json_response(payload, status, extra)
        except idempotency.Replay:
            status, payload = idempotency.replay(claim)
            return json_response(payload, status, {"Idempotent-Replayed": "true"})
        finally:
            idempotency.end()
    status, payload, replayed = idempotency.run(
        scope, key, _canonical_body(request.raw_body), lambda: _invoke(fn, req, params, spec)
    )
    return json_response(payload, status, {"Idempotent-Replayed": "true"} if replayed else None)


def _invoke(fn: Callable, req: Req, params: dict[str, str], spec: RouteSpec, with_headers: bool = False):
    result = fn(req, **params)
    status, headers = spec.status, {}
    if isinstance(result, Result):
        if result.content_type is not None:
            raw = _Raw(result.body, result.content_type)
            return (result.status, raw, result.headers) if with_headers else (result.status, raw)
        status, headers, result = result.status, result.headers, result.body
    payload = to_jsonable(result)
    return (status, payload, headers) if with_headers else (status, payload)


# --------------------------------------------------------------------------------------- errors from outside
# What Chalice answers itself (before or around our views) and what the local server answers for a request no
# route matches. Each becomes the contract's body (``contract_error``).
_CHALICE_CODES: dict[str, type[AppError]] = {
    "MethodNotAllowedError": MethodNotAllowed,
    "UnsupportedMediaType": UnsupportedMediaType,
    "BadRequestError": BadRequest,
    "BadRequest": BadRequest,
    "NotFoundError": NotFound,
}


def contract_error(status: int, body: Any) -> dict[str, Any] | None:
    """The contract's error body for an error response in another shape (Chalice's ``{"Code", "Message"}``,
    API Gateway's ``{"message"}``, an HTML page); None when ``body`` already has the contract's shape."""
    if isinstance(body, dict) and isinstance(body.get("code"), str) and "message" in body:
        return None
    if status >= 500:
        return {"code": CoreCode.INTERNAL, "message": "Something went wrong on our side", "details": {}}
    chalice_code = body.get("Code") if isinstance(body, dict) else None
    cls = _CHALICE_CODES.get(chalice_code or "")
    if cls is None:
        cls = {404: NotFound, 405: MethodNotAllowed, 413: PayloadTooLarge, 415: UnsupportedMediaType}.get(status)
    if cls is None:
        cls = BadRequest
    message = body.get("Message") if isinstance(body, dict) else None
    return cls(str(message or _STATUS_MESSAGES.get(cls.status, "Bad request"))).body()


_STATUS_MESSAGES = {
    404: "No such route",
    405: "This route does not take this method",
    413: "The body is too large",
    415: "Unsupported content type",
}


def unknown_route_body() -> bytes:
    """Body of the 404 for a path no route matches (the local server; API Gateway's is in infra/)."""
    return dumps(NotFound("No such route", code=CoreCode.NOT_FOUND).body()).encode()
