"""Error codes: one ErrorCode enum per domain (chalicelib/<domain>/errors.py) plus CoreCode; no bare string code
anywhere in chalicelib; docs/errors.md generated from the enums and current."""

from __future__ import annotations

import ast
import importlib
import json
import pkgutil
import re
from collections import defaultdict
from pathlib import Path

import pytest

import chalicelib
from chalicelib.core.errors import AppError, Conflict, CoreCode, ErrorCode, NotFound
from chalicelib.inventory.errors import InventoryCode
from tools import error_codes

ROOT = Path(__file__).resolve().parents[2]
UPPER_SNAKE = re.compile(r"^[A-Z][A-Z0-9]*(_[A-Z0-9]+)*$")


def _all_error_enums() -> list[type[ErrorCode]]:
    """Every ErrorCode subclass defined anywhere in chalicelib (every module imported first)."""
    for m in pkgutil.walk_packages(chalicelib.__path__, "chalicelib."):
        importlib.import_module(m.name)
    found, todo = [], [ErrorCode]
    while todo:
        for sub in todo.pop().__subclasses__():
            if sub.__module__.startswith("chalicelib."):
                found.append(sub)
            todo.append(sub)
    return found


def bare_codes(source: str, filename: str = "<snippet>") -> list[str]:
    """Where ``source`` spells an error code as a string literal instead of an ErrorCode member:
    a ``code="..."`` keyword argument, a ``"code": "..."`` dict entry, a class attribute ``code = "..."``, or a
    comparison of ``x["code"]`` / ``x.code`` with an UPPER_SNAKE_CASE literal."""

    def literal(node: ast.AST | None) -> bool:
        return isinstance(node, ast.Constant) and isinstance(node.value, str)

    def code_ref(node: ast.AST) -> bool:
        if isinstance(node, ast.Subscript):
            return isinstance(node.slice, ast.Constant) and node.slice.value == "code"
        return isinstance(node, ast.Attribute) and node.attr == "code"

    found = []
    for node in ast.walk(ast.parse(source, filename)):
        where = f"{filename}:{getattr(node, 'lineno', '?')}"
        if isinstance(node, ast.keyword) and node.arg == "code" and literal(node.value):
            found.append(f"{where}: code={node.value.value!r}")
        elif isinstance(node, ast.Dict):
            found += [
                f"{where}: 'code': {v.value!r}"
                for k, v in zip(node.keys, node.values, strict=True)
                if literal(k) and k.value == "code" and literal(v)
            ]
        elif isinstance(node, ast.ClassDef):
            found += [
                f"{filename}:{s.lineno}: class {node.name}: code = {s.value.value!r}"
                for s in node.body
                if isinstance(s, ast.Assign | ast.AnnAssign)
                and any(
                    isinstance(t, ast.Name) and t.id == "code"
                    for t in (s.targets if isinstance(s, ast.Assign) else [s.target])
                )
                and literal(s.value)
            ]
        elif isinstance(node, ast.Compare):
            sides = [node.left, *node.comparators]
            if any(code_ref(s) for s in sides) and any(literal(s) and UPPER_SNAKE.match(s.value) for s in sides):
                found.append(f"{where}: compares a code with a string literal")
    return found


# --------------------------------------------------------------------------------------- the enums


def test_every_error_enum_lives_in_an_errors_module_the_docs_read():
    assert set(_all_error_enums()) == set(error_codes.enums())
    assert error_codes.error_modules()[0] == "chalicelib.core.errors"
    assert {e.__name__ for e in error_codes.enums()} >= {"CoreCode", "OrderCode", "PricingCode", "PaymentCode"}


def test_codes_are_upper_snake_case_and_each_defined_once():
    where: dict[str, list[str]] = defaultdict(list)
    for enum in _all_error_enums():
        for member in enum:
            assert UPPER_SNAKE.match(member.value), f"{enum.__name__}.{member.name} = {member.value!r}"
            assert member.name == member.value, f"{enum.__name__}.{member.name} = {member.value!r}"
            where[member.value].append(enum.__name__)
    assert len(where) > 50
    assert {code: enums for code, enums in where.items() if len(enums) > 1} == {}


def test_every_code_has_a_meaning():
    for enum in error_codes.enums():
        assert set(error_codes.meanings(enum)) == {m.name for m in enum}, enum.__name__


# --------------------------------------------------------------------------------------- AppError takes members only


def test_app_error_refuses_a_plain_string_code():
    with pytest.raises(TypeError):
        Conflict("Not enough stock", code="OUT_OF_STOCK")
    with pytest.raises(TypeError):

        class Bare(AppError):
            code = "BARE"


def test_members_serialize_as_the_contract_code():
    e = Conflict("Not enough stock", code=InventoryCode.OUT_OF_STOCK, details={"short": []})
    assert e.status == 409 and e.code == "OUT_OF_STOCK"
    assert json.dumps(e.body()) == '{"code": "OUT_OF_STOCK", "message": "Not enough stock", "details": {"short": []}}'
    assert NotFound("No such thing").code is CoreCode.NOT_FOUND
    assert json.dumps({"code": CoreCode.NOT_FOUND}) == '{"code": "NOT_FOUND"}'


# --------------------------------------------------------------------------------------- no bare string codes


def test_no_bare_string_code_left_in_chalicelib():
    found = []
    for path in sorted((ROOT / "chalicelib").rglob("*.py")):
        found += bare_codes(path.read_text(encoding="utf-8"), str(path.relative_to(ROOT)))
    assert found == []


@pytest.mark.parametrize(
    "snippet",
    [
        'raise Conflict("Not enough stock", code="OUT_OF_STOCK")',
        'problems.append({"code": "UNKNOWN_SKU", "sku": sku})',
        'x = dict(a=1, code="X")',
        'class Gone(NotFound):\n    code = "GONE"',
        'class Gone(NotFound):\n    code: ErrorCode = "GONE"',
        'if p["code"] == "OUT_OF_STOCK":\n    pass',
        'if e.code != "ALREADY_GRANTED":\n    pass',
    ],
)
def test_the_checker_finds_a_bare_string_code(snippet):
    assert len(bare_codes(snippet)) == 1


@pytest.mark.parametrize(
    "snippet",
    [
        'raise Conflict("Not enough stock", code=InventoryCode.OUT_OF_STOCK)',
        'problems.append({"code": CatalogCode.UNKNOWN_SKU, "sku": sku})',
        'params = {"code": data.get("pickup_code") or "-"}',
        'hint = {"code": code, "message": "add 1 more"}',
        'if p["code"] == InventoryCode.OUT_OF_STOCK:\n    pass',
        'if q.code == "200 OK":\n    pass',
        'provider_code = "AUTH_CODE_INVALID"',
    ],
)
def test_the_checker_lets_members_and_other_strings_pass(snippet):
    assert bare_codes(snippet) == []


# --------------------------------------------------------------------------------------- docs/errors.md


def test_docs_errors_md_is_current():
    """Regenerate with ``.venv/bin/python -m tools.error_codes`` after changing a code or its comment."""
    assert (ROOT / "docs" / "errors.md").read_text(encoding="utf-8") == error_codes.render()


def test_docs_list_every_code_once():
    rows = [line for line in error_codes.render().splitlines() if line.startswith("| `")]
    assert len(rows) == sum(len(e) for e in error_codes.enums())
    assert "| `OUT_OF_STOCK` | `InventoryCode` (inventory) | 409: not enough stock" in error_codes.render()
