"""``GET /local/jobs`` and ``POST /local/jobs/{name}``: the local stage's way to run a scheduled job now.

Local stage only (404 elsewhere, like ``/auth/dev/login``); head office only. The jobs are whatever the app
registered with ``schedule`` (on the app or a blueprint): nothing here lists them by hand. A job runs exactly as its
schedule would run it (same handler, an EventBridge-shaped event at the app's clock) and answers what it returned.
"""

from __future__ import annotations

from typing import Any

from chalice import Blueprint
from chalice.app import ScheduledEventConfig
from pydantic import BaseModel, ConfigDict

from chalicelib.core import clock
from chalicelib.core.auth import HQ
from chalicelib.core.errors import CoreCode, NotFound
from chalicelib.core.http import Req, route, serving_app
from chalicelib.core.settings import get_settings

local_jobs_api = Blueprint(__name__)


class Job(BaseModel):
    name: str
    schedule: str
    description: str = ""


class JobList(BaseModel):
    items: list[Job]


class JobRun(BaseModel):
    """What the job did (its own figures, e.g. ``{"read": 1, "cancelled": 1}``), with the job's name and the
    app's clock when it ran."""

    model_config = ConfigDict(extra="allow")

    name: str
    at: str


def _local() -> bool:
    return get_settings().is_local


def _schedules() -> dict[str, ScheduledEventConfig]:
    app = serving_app(local_jobs_api)
    return {s.name: s for s in app.event_sources if isinstance(s, ScheduledEventConfig)}


def scheduled_event(name: str, at: str) -> dict[str, Any]:
    """What EventBridge sends a scheduled Lambda (the fields Chalice's ``CloudWatchEvent`` reads)."""
    return {
        "version": "0",
        "id": f"local-{name}-{at}",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "000000000000",
        "time": at,
        "region": get_settings().aws_region,
        "resources": [f"arn:aws:events:local:000000000000:rule/{name}"],
        "detail": {},
    }


@route(
    local_jobs_api,
    "/local/jobs",
    roles=HQ,
    response=JobList,
    tag="local",
    summary="Every scheduled job and its schedule - local stage only, 404 elsewhere",
    available=_local,
)
def list_jobs(req: Req):
    jobs = sorted(_schedules().values(), key=lambda s: s.name)
    return {"items": [{"name": s.name, "schedule": _expression(s), "description": s.description or ""} for s in jobs]}


def _expression(source: ScheduledEventConfig) -> str:
    expr = source.schedule_expression
    return expr if isinstance(expr, str) else expr.to_string()


@route(
    local_jobs_api,
    "/local/jobs/{name}",
    "POST",
    roles=HQ,
    response=JobRun,
    tag="local",
    summary="Run one scheduled job now and answer what it did - local stage only, 404 elsewhere",
    available=_local,
    errors=(404,),
)
def run_job(req: Req, name: str):
    source = _schedules().get(name)
    if source is None:
        raise NotFound(f"No scheduled job is called {name!r}", code=CoreCode.NOT_FOUND, details={"name": name})
    at = clock.iso(clock.now())
    handler = serving_app(local_jobs_api).handler_map[name]
    result = handler(scheduled_event(name, at), None)
    return {**(result if isinstance(result, dict) else {"returned": result}), "name": name, "at": at}
