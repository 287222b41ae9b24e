"""Shape rules the review asked for, checked on every run: no function in chalicelib over 60 lines."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2] / "chalicelib"
MAX_LINES = 60


def long_functions(source: str, limit: int = MAX_LINES) -> list[tuple[str, int]]:
    return [
        (n.name, n.end_lineno - n.lineno + 1)
        for n in ast.walk(ast.parse(source))
        if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef) and n.end_lineno - n.lineno + 1 > limit
    ]


def test_no_function_in_chalicelib_is_over_60_lines():
    found = {str(p.relative_to(ROOT)): long_functions(p.read_text()) for p in sorted(ROOT.rglob("*.py"))}
    assert {k: v for k, v in found.items() if v} == {}


def test_the_length_check_sees_a_long_function():
    body = "\n".join(f"    x{i} = {i}" for i in range(61))
    assert long_functions(f"def f():\n{body}\n") == [("f", 62)]
    assert long_functions("def g():\n    return 1\n") == []
