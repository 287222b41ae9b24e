"""``GET /openapi.json``: generated from the app's route table and each route's pydantic models.

Nothing here is written by hand per route: ``core.http.route`` records a :class:`RouteSpec` on every view,
and this module walks ``app.routes`` and asks pydantic for the JSON schemas.
"""

from __future__ import annotations

from typing import Any

from chalice import Blueprint

from chalicelib.core.errors import ERROR_STATUSES
from chalicelib.core.http import MAX_PATH_PARAM, RouteSpec, route, serving_app

openapi_api = Blueprint(__name__)

_ERROR_SCHEMA = {
    "type": "object",
    "required": ["code", "message"],
    "properties": {
        "code": {"type": "string", "pattern": "^[A-Z][A-Z0-9_]*$", "examples": ["OUT_OF_STOCK"]},
        "message": {"type": "string"},
        "details": {"type": "object"},
    },
}

_ERROR_CONTENT = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}

_SECURITY = {
    "bearer": [{"bearerAuth": []}],
    "basic": [{"printerBasic": []}],
    "wechatpay": [{"wechatpaySignature": []}],
    "none": [],
}

_cache: dict[str, Any] = {}


_REF = "#/components/schemas/{model}"


def _nullable(schema: dict) -> bool:
    t = schema.get("type")
    return (
        t == "null"
        or (isinstance(t, list) and "null" in t)
        or any(_nullable(s) for s in schema.get("anyOf", []) + schema.get("oneOf", []))
    )


def _generator():
    from pydantic.json_schema import GenerateJsonSchema

    class OpenApiSchema(GenerateJsonSchema):
        """Drops ``"default": null`` from fields that do not accept null (``name: Name = None`` in a PATCH body
        means "absent: unchanged"); the document would otherwise contradict itself and fail validation."""

        def default_schema(self, schema):
            json_schema = super().default_schema(schema)
            if "default" in json_schema and json_schema["default"] is None and not _nullable(json_schema):
                json_schema = {k: v for k, v in json_schema.items() if k != "default"}
            return json_schema

    return OpenApiSchema


def _schemas(ops: list[tuple[str, str, Any, RouteSpec]]):
    """JSON schemas of every body, query and response model, generated in ONE pass so that pydantic names each
    model once (generic models get valid component names, two models of the same name are told apart, a model
    that differs between input and output becomes ``Name-Input`` / ``Name-Output``)."""
    from pydantic import TypeAdapter

    inputs = []
    for path, method, _entry, spec in ops:
        for part, tp, mode in (
            ("body", spec.body, "validation"),
            ("query", spec.query, "validation"),
            ("response", spec.response, "serialization"),
        ):
            if tp is not None:
                inputs.append(((method, path, part), mode, TypeAdapter(tp)))
    if not inputs:
        return {}, {}
    by_key, top = TypeAdapter.json_schemas(inputs, ref_template=_REF, schema_generator=_generator())
    return {key: schema for (key, _mode), schema in by_key.items()}, top.get("$defs", {})


def _deref(schema: dict, components: dict) -> dict:
    ref = schema.get("$ref", "")
    return components[ref.rsplit("/", 1)[-1]] if ref.startswith("#/components/schemas/") else schema


def build(app) -> dict[str, Any]:
    ops = []
    for path, methods in sorted(app.routes.items()):
        for method, entry in sorted(methods.items()):
            ops.append((path, method, entry, getattr(entry.view_function, "__route_spec__", None)))
    schemas, defs = _schemas([op for op in ops if op[3] is not None])
    if "Error" in defs:
        raise RuntimeError("A pydantic model named 'Error' clashes with the error body's component name")
    components: dict[str, Any] = {"Error": _ERROR_SCHEMA, **defs}

    paths: dict[str, Any] = {}
    operation_ids: set[str] = set()
    for path, method, entry, spec in ops:
        op_id = _operation_id(entry, method, path, operation_ids)
        if spec is None:
            op = _undocumented(op_id, entry)
        else:
            op = _operation(op_id, path, method, entry, spec, schemas, components)
        paths.setdefault(path, {})[method.lower()] = op
    return _document(paths, components)


def _operation_id(entry, method: str, path: str, taken: set[str]) -> str:
    """The view's name; a second route of the same view gets its method and path appended."""
    op_id = entry.view_name
    if op_id in taken:
        op_id = f"{entry.view_name}_{method.lower()}_" + "_".join(p.strip("{}") for p in path.strip("/").split("/"))
    taken.add(op_id)
    return op_id


def _path_params(entry) -> list[dict[str, Any]]:
    schema = {"type": "string", "minLength": 1, "maxLength": MAX_PATH_PARAM}
    return [{"name": p, "in": "path", "required": True, "schema": schema} for p in entry.view_args]


def _undocumented(op_id: str, entry) -> dict[str, Any]:
    """A view registered without core.http.route: listed so the document names every route, but its contract
    is unknown (tests/api/test_openapi.py refuses such routes)."""
    op: dict[str, Any] = {
        "operationId": op_id,
        "x-undocumented": True,
        "responses": {"default": {"description": "Undocumented"}},
    }
    params = _path_params(entry)
    if params:
        op["parameters"] = params
    return op


def _operation(
    op_id: str, path: str, method: str, entry, spec: RouteSpec, schemas: dict, components: dict
) -> dict[str, Any]:
    """The operation of a route declared with core.http.route."""
    params = _path_params(entry)
    op: dict[str, Any] = {
        "operationId": op_id,
        "summary": spec.summary,
        "tags": [spec.tag] if spec.tag else [],
        "security": _SECURITY[spec.auth],
    }
    if spec.roles is not None:
        op["x-roles"] = sorted(spec.roles)
    if spec.query is not None:
        qs = _deref(schemas[(method, path, "query")], components)
        for name, prop in qs.get("properties", {}).items():
            params.append({"name": name, "in": "query", "required": name in qs.get("required", []), "schema": prop})
    if spec.idempotent:
        params.append(
            {
                "name": "Idempotency-Key",
                "in": "header",
                "required": spec.key_required,
                "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[\\x20-\\x7e]+$"},
                "description": "Same key + same body returns the first response again"
                + ("; required (428 IDEMPOTENCY_KEY_REQUIRED without it)" if spec.key_required else ""),
            }
        )
    if params:
        op["parameters"] = params
    if spec.body is not None:
        op["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": schemas[(method, path, "body")]}},
        }
    op["responses"] = _responses(path, method, entry, spec, schemas)
    return op


def _responses(path: str, method: str, entry, spec: RouteSpec, schemas: dict) -> dict[str, Any]:
    """The success response, then every error status the route can answer with the error body."""
    ok: dict[str, Any] = {"description": "Created" if spec.status == 201 else "OK"}
    if spec.response is not None:
        ok["content"] = {"application/json": {"schema": schemas[(method, path, "response")]}}
    responses = {str(spec.status): ok}
    for st in sorted(_error_statuses(entry, spec)):
        responses[str(st)] = {"description": ERROR_STATUSES.get(st, "Error"), "content": _ERROR_CONTENT}
    return responses


def _error_statuses(entry, spec: RouteSpec) -> set[int]:
    """The route's declared errors and those its parsing, auth, scope and Idempotency-Key can give; 503 on every
    route that reaches the database (core.http answers TRY_AGAIN when it stays busy through the retries)."""
    statuses = set(spec.errors)
    if spec.path != "/openapi.json":
        statuses.add(503)
    if spec.body is not None:
        statuses |= {400, 413, 415, 422}
    if spec.query is not None:
        statuses.add(422)
    if spec.auth != "none":
        statuses.add(401)
    if spec.roles is not None:
        statuses.add(403)
    if entry.view_args or spec.available is not None:
        statuses.add(404)
    if spec.idempotent:
        statuses |= {409, 422}  # a reused key; a malformed key
    if spec.key_required:
        statuses.add(428)
    return statuses


def _document(paths: dict[str, Any], components: dict[str, Any]) -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "omnistore API",
            "version": "1.0.0",
            "description": "Omnichannel chain-store backend: shop (members), POS, admin, printers, payments.",
        },
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
                "printerBasic": {"type": "http", "scheme": "basic"},
                "wechatpaySignature": {"type": "apiKey", "in": "header", "name": "Wechatpay-Signature"},
            },
        },
    }


@route(openapi_api, "/openapi.json", "GET", roles=None, tag="meta", summary="This API's OpenAPI 3.1 document")
def openapi(req):
    doc = _cache.get("doc")
    if doc is None:
        doc = _cache["doc"] = build(serving_app(openapi_api))
    return doc
