"""Every operation of ``/openapi.json``, fuzzed by schemathesis as head office, a store manager and a member.

Checks: no 5xx (``not_a_server_error``), no status the operation does not document (``status_code_conformance``),
every response body matches its documented schema (``response_schema_conformance``). Bounded: a fixed number of
examples per operation and role, derandomized (the same cases every run), so the tier takes a few minutes on
2 cores. ``FUZZ_EXAMPLES=200 make test-fuzz`` digs deeper.
"""

from __future__ import annotations

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

from app import app
from tests.fuzz.conftest import ChaliceWsgi

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "40"))
CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance]

# Wrong methods are refused by API Gateway before the app (infra/ gateway responses); the operations are what the
# tier exercises, with valid (positive) and invalid (negative) data.
CONFIG = schemathesis.config.SchemathesisConfig.from_dict({"phases": {"coverage": {"unexpected-methods": []}}})
schema = schemathesis.openapi.from_wsgi("/openapi.json", ChaliceWsgi(app), config=CONFIG)


@pytest.mark.parametrize("role", ["hq_admin", "store_manager", "member"])
@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_every_operation_as_every_role(case, role, fuzz_world):
    response = case.call(headers={"Authorization": f"Bearer {fuzz_world[role]}"})
    case.validate_response(response, checks=CHECKS)
