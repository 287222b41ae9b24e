"""``/local/jobs``: on the local stage head office runs a scheduled job now (API.md, "Local stage only")."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.core import clock
from tests.helpers import token_for

NOON = datetime(2026, 11, 23, 4, 0, tzinfo=UTC)  # Monday 12:00 in Chongqing
NEAR_A = {"lat": 29.5570, "lng": 106.5760}


@pytest.fixture(autouse=True)
def noon():
    clock.set_clock(lambda: NOON)


def test_local_jobs_are_404_on_every_other_stage(api, hq):
    r = api.get("/local/jobs", token=hq)
    assert (r.status, r.code) == (404, "NOT_FOUND")
    r = api.post("/local/jobs/sweep_unpaid_orders", token=hq)
    assert (r.status, r.code) == (404, "NOT_FOUND")


def test_lists_every_scheduled_job_with_its_schedule(api, hq, stage_local):
    r = api.get("/local/jobs", token=hq)
    assert r.status == 200, r
    jobs = {j["name"]: j["schedule"] for j in r.json["items"]}
    from chalice.app import ScheduledEventConfig

    from app import app

    assert set(jobs) == {s.name for s in app.event_sources if isinstance(s, ScheduledEventConfig)}
    assert jobs["sweep_unpaid_orders"] == "rate(1 minute)" and jobs["expire_points"] == "cron(10 16 * * ? *)"
    assert "handle_print_requests" not in jobs  # a queue consumer is not a scheduled job


def test_head_office_only(api, stage_local):
    manager = token_for("store_manager", sub="01JMANAGER0000000000000000", store_id="01JSTORE00000000000000000A")
    assert api.get("/local/jobs", token=manager).status == 403
    assert api.post("/local/jobs/sweep_unpaid_orders", token=manager).status == 403
    assert api.get("/local/jobs").status == 401


def test_running_a_job_now_does_its_work_and_says_what_it_did(api, hq, world, stage_local):
    buyer = token_for("member", sub="01JBUYER000000000000000000")
    world.receive(world.a, {"CQ-BEER-500": 10})
    body = {"lines": [{"sku": "CQ-BEER-500", "qty": 3}], "fulfillment": "pickup", "location": NEAR_A}
    oid = api.post("/shop/orders", {**body, "store_id": world.a}, token=buyer).json["order_id"]
    assert world.stock(world.a)["CQ-BEER-500"] == 7

    r = api.post("/local/jobs/sweep_unpaid_orders", token=hq)
    assert r.status == 200 and r.json["cancelled"] == 0  # not due yet: nothing happens

    clock.set_clock(lambda: NOON + timedelta(minutes=30))  # past the pay deadline
    r = api.post("/local/jobs/sweep_unpaid_orders", token=hq)
    assert r.status == 200, r
    assert r.json["name"] == "sweep_unpaid_orders" and r.json["cancelled"] == 1
    assert r.json["read"] == 1  # the job's own figures at the top level, as the contract's {processed: N}
    assert r.json["at"].startswith("2026-11-23T04:30")
    assert api.get(f"/shop/orders/{oid}", token=buyer).json["status"] == "CANCELLED"
    assert world.stock(world.a)["CQ-BEER-500"] == 10


def test_unknown_job_is_404(api, hq, stage_local):
    r = api.post("/local/jobs/no_such_job", token=hq)
    assert (r.status, r.code) == (404, "NOT_FOUND") and r.json["details"] == {"name": "no_such_job"}
