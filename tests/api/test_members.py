"""Members at the API: the member code the till scans."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.core import clock
from chalicelib.core.ids import new_id
from chalicelib.identity import repository as identity
from tests.helpers import token_for

NOON = datetime(2026, 11, 23, 4, 0, tzinfo=UTC)  # Monday 12:00 in Chongqing: every demo store is open


@pytest.fixture
def now():
    t = {"now": NOON}
    clock.set_clock(lambda: t["now"])
    return t


def _member(openid: str) -> tuple[str, str]:
    m = identity.create_member(new_id(), openid, None, None, openid)
    return m.member_id, token_for("member", sub=m.member_id)


def test_a_member_code_identifies_its_member_at_the_till_for_60_seconds(api, world, now):
    world.receive(world.a, {"CQ-BEER-500": 10})
    mid, tok = _member("code-1")
    r = api.get("/shop/me/code", token=tok)
    assert r.status == 200, r
    code = r.json["member_code"]
    assert len(code) == 18 and code.isdigit() and code.startswith("8")
    assert r.json["expires_at"] == "2026-11-23T04:01:00.000Z"
    assert api.get("/shop/me/code", token=tok).json["member_code"] != code  # a fresh code every time
    quote = {"lines": [{"sku": "CQ-BEER-500", "qty": 1}], "member_code": code}
    assert api.post("/pos/quote", quote, token=world.clerk_a).status == 200
    sale = {**quote, "payment": {"method": "cash"}}
    s = api.post("/pos/sales", sale, token=world.clerk_a, headers={"Idempotency-Key": "code-sale-1"})
    assert s.status == 201 and s.json["member_id"] == mid
    now["now"] = NOON + timedelta(seconds=61)
    late = api.post("/pos/quote", quote, token=world.clerk_a)
    assert (late.status, late.code) == (404, "MEMBER_CODE_INVALID")


@pytest.mark.parametrize("code", ["01JZZZZZZZZZZZZZZZZZZZZZZZ", "812345678901234567", "12345", "8" * 19])
def test_a_member_id_or_an_unknown_code_is_not_a_member_code(api, world, now, code):
    mid, _ = _member(f"code-bad-{code[:4]}")
    for c in (code, mid):
        r = api.post("/pos/quote", {"lines": [{"sku": "CQ-BEER-500", "qty": 1}], "member_code": c}, token=world.clerk_a)
        assert (r.status, r.code) == (404, "MEMBER_CODE_INVALID")


def test_only_members_get_codes(api, world, now):
    assert api.get("/shop/me/code", token=world.clerk_a).status == 403
    assert api.get("/shop/me/code").status == 401
