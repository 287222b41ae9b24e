"""``GET /openapi.json``: a valid OpenAPI 3.1 document that names every route of the app and its contract."""

from __future__ import annotations

import re

import pytest
from openapi_spec_validator import validate

from app import app

ROLES = {"member", "clerk", "store_manager", "hq_admin"}
METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}

# API.md: "Every POST that creates an order, a sale, a payment, a refund, a recharge, a transfer, a stock movement
# or a withdrawal requires an Idempotency-Key header." Routes matching these must require it when they exist.
MUST_BE_IDEMPOTENT = [
    re.compile(p)
    for p in (
        r"^/shop/orders$",
        r"^/shop/orders/\{[^}]+\}/pay$",
        r"/refunds$",
        r"^/pos/sales$",
        r"^/admin/transfers$",
        r"^/admin/transfers/\{[^}]+\}/(ship|receive)$",
        r"^/admin/stores/\{[^}]+\}/stock/(receipts|counts)$",
        r"/recharges$",
        r"/withdrawals$",
    )
]


@pytest.fixture
def doc(api):
    r = api.get("/openapi.json")  # no token
    assert r.status == 200, r
    assert r.headers["Content-Type"].startswith("application/json")
    return r.json


def app_routes():
    for path, methods in app.routes.items():
        for method, entry in methods.items():
            yield path, method.lower(), entry, getattr(entry.view_function, "__route_spec__", None)


def operations(doc):
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if method in METHODS:
                yield path, method, op


def walk(node, path=()):
    """Every (location, dict) in a JSON document."""
    if isinstance(node, dict):
        yield path, node
        for k, v in node.items():
            yield from walk(v, path + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from walk(v, path + (i,))


def test_document_is_valid_openapi_3_1(doc):
    assert doc["openapi"].startswith("3.1")
    validate(doc)  # raises with the offending pointer


def test_every_ref_resolves(doc):
    schemas = doc["components"]["schemas"]
    for where, node in walk(doc):
        ref = node.get("$ref")
        if isinstance(ref, str):
            assert ref.startswith("#/components/schemas/"), (where, ref)
            assert ref.rsplit("/", 1)[1] in schemas, (where, ref)


def test_every_route_is_documented(doc):
    documented = {(path, method) for path, method, _ in operations(doc)}
    routes = {(path, method) for path, method, _, _ in app_routes()}
    assert routes - documented == set()
    assert documented - routes == set()


def test_every_route_declares_its_contract():
    """Views registered with ``core.http.route`` carry their contract; a bare Chalice route would be documented
    without auth, errors or schemas."""
    bare = [(m.upper(), p) for p, m, _, spec in app_routes() if spec is None]
    assert bare == [], f"register these with chalicelib.core.http.route: {bare}"


def test_operation_ids_are_unique(doc):
    ids = [op["operationId"] for _, _, op in operations(doc)]
    assert len(ids) == len(set(ids))


def test_bearer_routes_list_401_403_and_their_roles(doc):
    seen = 0
    for path, method, op in operations(doc):
        spec = getattr(app.routes[path][method.upper()].view_function, "__route_spec__", None)
        if op.get("security") != [{"bearerAuth": []}]:
            assert spec is None or spec.roles is None, (method, path)
            continue
        seen += 1
        assert {"401", "403"} <= set(op["responses"]), (method, path)
        assert op["x-roles"] and set(op["x-roles"]) <= ROLES, (method, path, op.get("x-roles"))
        assert op["x-roles"] == sorted(spec.roles), (method, path)
    assert seen


def test_public_routes_need_no_token(doc):
    assert doc["paths"]["/openapi.json"]["get"]["security"] == []
    assert doc["paths"]["/auth/staff/login"]["post"]["security"] == []


def test_routes_with_a_body_have_a_schema_and_list_400_422(doc):
    seen = 0
    for path, method, _, spec in app_routes():
        op = doc["paths"][path][method]
        if spec is None or spec.body is None:
            assert "requestBody" not in op, (method, path)
            continue
        seen += 1
        schema = op["requestBody"]["content"]["application/json"]["schema"]
        assert schema.get("$ref") or schema.get("properties"), (method, path)
        assert {"400", "422"} <= set(op["responses"]), (method, path)
    assert seen


def test_money_fields_are_integers(doc):
    def is_integer(schema):
        if "$ref" in schema:
            return is_integer(doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]])
        if schema.get("type") == "integer":
            return True
        options = schema.get("anyOf") or schema.get("oneOf") or []
        kinds = [o for o in options if o.get("type") != "null"]
        return bool(kinds) and all(is_integer(o) for o in kinds)

    found = []
    for where, node in walk(doc):
        for name, prop in (node.get("properties") or {}).items():
            if name.endswith("_fen"):
                found.append(name)
                assert is_integer(prop), (where, name, prop)
        if node.get("in") == "query" and str(node.get("name", "")).endswith("_fen"):
            assert is_integer(node["schema"]), (where, node)
    assert found, "no *_fen field documented at all"


def test_idempotent_posts_take_an_idempotency_key(doc):
    for path, method, _, spec in app_routes():
        if spec is None or method != "post":
            continue
        if any(p.search(path) for p in MUST_BE_IDEMPOTENT):
            assert spec.idempotent and spec.key_required, f"API.md: POST {path} must require an Idempotency-Key"
        headers = [
            p
            for p in doc["paths"][path]["post"].get("parameters", [])
            if p["in"] == "header" and p["name"] == "Idempotency-Key"
        ]
        if spec.idempotent:
            assert len(headers) == 1 and headers[0]["required"] is spec.key_required, path
            assert headers[0]["schema"]["type"] == "string"
            responses = doc["paths"][path]["post"]["responses"]
            assert "409" in responses and "422" in responses, path
            assert ("428" in responses) is spec.key_required, path
        else:
            assert headers == [], path
    assert any(spec and spec.idempotent for *_, spec in app_routes())


def test_path_parameters_are_declared(doc):
    for path, method, op in operations(doc):
        declared = {p["name"] for p in op.get("parameters", []) if p["in"] == "path"}
        assert declared == set(re.findall(r"\{([^}]+)\}", path)), (method, path)
