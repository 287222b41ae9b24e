"""The route table app.py registers lazily (chalicelib/routes.py, core.routing): current, complete, and lazy."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from chalice import Chalice

from chalicelib.core import http, routing
from chalicelib.routes import ROUTES
from tools import routes as routes_tool

ROOT = Path(__file__).resolve().parents[2]


def test_the_table_is_what_the_modules_declare():
    # A new route, a renamed view or a moved module without `python -m tools.routes` fails here.
    assert list(ROUTES) == routes_tool.collect()


def test_every_route_module_is_in_the_table():
    assert {row[0] for row in ROUTES} == set(routes_tool.route_modules())


def test_importing_app_loads_no_domain_schemas_or_services():
    code = (
        "import sys, app; "
        "print(sorted(m for m in sys.modules if m.startswith('chalicelib.') and m.rsplit('.', 1)[-1] in "
        "('api', 'schemas', 'services', 'subscriptions')))"
    )
    env = {**os.environ, "STAGE": "dev", "AWS_DEFAULT_REGION": "ap-southeast-1"}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=True, capture_output=True, text=True)
    assert out.stdout.strip() == "[]"


def test_a_lazy_view_imports_its_module_on_first_call_and_serves_the_app(monkeypatch):
    app = Chalice(app_name="t")
    seen = {}

    def fake_view(**params):
        seen["app"] = http.serving_app(None)
        seen["params"] = params
        return "answer"

    monkeypatch.setitem(http.VIEWS, ("/t/{x}", "GET"), fake_view)
    routing.register(app, [("chalicelib.core.clock", "fake_view", "/t/{x}", "GET", None)])
    entry = app.routes["/t/{x}"]["GET"]
    assert entry.view_name == "fake_view"
    assert entry.view_function(x="1") == "answer"
    assert seen == {"app": app, "params": {"x": "1"}}


def test_a_table_row_whose_module_declares_no_such_route_says_how_to_fix_it():
    app = Chalice(app_name="t")
    routing.register(app, [("chalicelib.core.clock", "gone", "/gone", "GET", None)])
    try:
        app.routes["/gone"]["GET"].view_function()
    except RuntimeError as e:
        assert "python -m tools.routes" in str(e)
    else:
        raise AssertionError("a missing route must not be served")
