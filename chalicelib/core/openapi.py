"""``GET /openapi.json``: generated from the app's route table and each route's pydantic models.

Nothing here is written by hand per route: ``core.http.route`` records a :class:`RouteSpec` on every view,
and this module walks ``app.routes`` and asks pydantic for the JSON schemas.
"""
from __future__ import annotations

from typing import Any

from chalice import Blueprint

from chalicelib.core.http import RouteSpec, route

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

_SECURITY = {
    "bearer": [{"bearerAuth": []}],
    "basic": [{"printerBasic": []}],
    "wechatpay": [{"wechatpaySignature": []}],
    "none": [],
}

_cache: dict[str, Any] = {}


def build(app) -> dict[str, Any]:
    from pydantic import TypeAdapter
    from pydantic.json_schema import GenerateJsonSchema

    from chalicelib.core.errors import ERROR_STATUSES

    components: dict[str, Any] = {"Error": _ERROR_SCHEMA}

    def schema_ref(tp, mode: str) -> dict:
        schema = TypeAdapter(tp).json_schema(mode=mode, ref_template="#/components/schemas/{model}",
                                             schema_generator=GenerateJsonSchema)
        for name, sub in schema.pop("$defs", {}).items():
            components.setdefault(name, sub)
        title = schema.get("title")
        if title and schema.get("type") == "object" and "properties" in schema:
            components.setdefault(title, schema)
            return {"$ref": f"#/components/schemas/{title}"}
        return schema

    paths: dict[str, Any] = {}
    for path, methods in sorted(app.routes.items()):
        for method, entry in sorted(methods.items()):
            spec: RouteSpec | None = getattr(entry.view_function, "__route_spec__", None)
            if spec is None:
                continue
            op: dict[str, Any] = {"operationId": entry.view_name, "summary": spec.summary,
                                  "tags": [spec.tag] if spec.tag else [],
                                  "security": _SECURITY[spec.auth]}
            if spec.roles is not None:
                op["x-roles"] = sorted(spec.roles)
            params = [{"name": p, "in": "path", "required": True, "schema": {"type": "string"}}
                      for p in entry.view_args]
            if spec.query is not None:
                qs = spec.query.model_json_schema()
                for name, prop in qs.get("properties", {}).items():
                    params.append({"name": name, "in": "query", "required": name in qs.get("required", []),
                                   "schema": prop})
            if spec.idempotent:
                params.append({"name": "Idempotency-Key", "in": "header", "required": False,
                               "schema": {"type": "string", "maxLength": 255},
                               "description": "Same key + same body returns the first response again"})
            if params:
                op["parameters"] = params
            if spec.body is not None:
                op["requestBody"] = {"required": True, "content": {
                    "application/json": {"schema": schema_ref(spec.body, "validation")}}}
            ok: dict[str, Any] = {"description": "OK" if spec.status != 201 else "Created"}
            if spec.response is not None:
                ok["content"] = {"application/json": {"schema": schema_ref(spec.response, "serialization")}}
            responses = {str(spec.status): ok}
            statuses = set(spec.errors)
            if spec.body is not None:
                statuses |= {400, 413, 422}
            if spec.query is not None:
                statuses.add(422)
            if spec.auth != "none":
                statuses.add(401)
            if spec.roles is not None:
                statuses.add(403)
            if entry.view_args or spec.available is not None:
                statuses.add(404)
            if spec.idempotent:
                statuses.add(409)
            for st in sorted(statuses):
                responses[str(st)] = {"description": ERROR_STATUSES.get(st, "Error"), "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
            op["responses"] = responses
            paths.setdefault(path, {})[method.lower()] = op

    return {
        "openapi": "3.1.0",
        "info": {"title": "omnistore API", "version": "1.0.0",
                 "description": "Omnichannel chain-store backend: shop (members), POS, admin, printers, payments."},
        "paths": paths,
        "components": {"schemas": components, "securitySchemes": {
            "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
            "printerBasic": {"type": "http", "scheme": "basic"},
            "wechatpaySignature": {"type": "apiKey", "in": "header", "name": "Wechatpay-Signature"},
        }},
    }


@route(openapi_api, "/openapi.json", "GET", roles=None, tag="meta", summary="This API's OpenAPI 3.1 document")
def openapi(req):
    doc = _cache.get("doc")
    if doc is None:
        doc = _cache["doc"] = build(openapi_api.current_app)
    return doc
