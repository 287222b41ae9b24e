"""Domain events: published once after a state change is committed, consumed from the events queue.

Publishing: ``publish([Event(...)])`` sends to the SQS events queue (batches of 10). Consuming: domains
register handlers with ``@subscribe("OrderPaid", name="printing")``; the one SQS handler below feeds each
record to every subscriber of its type, each (subscriber, event id) at most once (Powertools idempotency
on the idempotency table), and reports partial batch failures so only failed records are retried; records
that keep failing go to the dead-letter queue by the queue's redrive policy.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any, Callable

from chalice import Blueprint

from chalicelib.core import clock
from chalicelib.core.ids import new_id
from chalicelib.core.logging import logger
from chalicelib.core.settings import get_settings

events_jobs = Blueprint(__name__)

# Deployment wiring only: `chalice package` reads the queue name here to build the event source mapping
# (chalice exports the stage's environment variables from .chalice/config.json before importing the app).
# At run time Lambda delivers whatever the mapping says.
EVENTS_QUEUE = os.environ.get("EVENTS_QUEUE_NAME", "omnistore-dev-events")


@dataclass
class Event:
    type: str
    data: dict[str, Any]
    id: str = field(default_factory=new_id)
    occurred_at: str = field(default_factory=lambda: clock.iso(clock.now()))

    def to_json(self) -> str:
        return json.dumps({"id": self.id, "type": self.type, "occurred_at": self.occurred_at, "data": self.data},
                          ensure_ascii=False, separators=(",", ":"))


_sqs = None
_queue_url: dict[str, str] = {}


def sqs_client():
    global _sqs
    if _sqs is None:
        import boto3

        s = get_settings()
        _sqs = boto3.client("sqs", region_name=s.aws_region, endpoint_url=s.sqs_endpoint)
    return _sqs


def reset() -> None:
    """Forget clients and queue URLs (tests that switch endpoints)."""
    global _sqs
    _sqs = None
    _queue_url.clear()


def queue_url(name: str) -> str:
    if name not in _queue_url:
        _queue_url[name] = sqs_client().get_queue_url(QueueName=name)["QueueUrl"]
    return _queue_url[name]


_sink: list | None = None


def capture(into: list | None) -> None:
    """Collect published events in ``into`` instead of sending them (tests that run without a queue);
    ``None`` sends to SQS again."""
    global _sink
    _sink = into


def publish(events: list[Event]) -> None:
    """Send events after the commit that made them true. A failure here is logged loudly, not raised:
    the state change has happened and the caller's response must say so."""
    if not events:
        return
    if _sink is not None:
        _sink.extend(events)
        return
    try:
        url = queue_url(get_settings().events_queue_name)
        for i in range(0, len(events), 10):
            chunk = events[i:i + 10]
            resp = sqs_client().send_message_batch(QueueUrl=url, Entries=[
                {"Id": str(n), "MessageBody": e.to_json(),
                 "MessageAttributes": {"type": {"DataType": "String", "StringValue": e.type}}}
                for n, e in enumerate(chunk)])
            for failed in resp.get("Failed", []):
                logger.error("event not published", extra={"event": chunk[int(failed["Id"])].to_json(),
                                                           "reason": failed.get("Message")})
    except Exception:  # noqa: BLE001
        logger.exception("events not published", extra={"events": [e.to_json() for e in events]})


# --------------------------------------------------------------------------------------- consuming
Handler = Callable[[dict[str, Any]], None]
_subscribers: dict[str, list[tuple[str, Handler]]] = {}


def subscribe(event_type: str, name: str) -> Callable[[Handler], Handler]:
    def deco(fn: Handler) -> Handler:
        _subscribers.setdefault(event_type, []).append((name, fn))
        return fn

    return deco


def subscribers(event_type: str) -> list[tuple[str, Handler]]:
    return list(_subscribers.get(event_type, []))


_persistence = None


def _once(name: str, event: dict[str, Any], fn: Handler, lambda_context: Any = None) -> None:
    """Run ``fn(event)`` at most once per (subscriber, event id)."""
    global _persistence
    from aws_lambda_powertools.utilities.idempotency import (DynamoDBPersistenceLayer, IdempotencyConfig,
                                                             idempotent_function)

    if _persistence is None:
        import boto3

        s = get_settings()
        _persistence = DynamoDBPersistenceLayer(
            table_name=s.idempotency_table_name,
            boto3_client=boto3.client("dynamodb", region_name=s.aws_region, endpoint_url=s.dynamodb_endpoint))
    config = IdempotencyConfig(event_key_jmespath="key", expires_after_seconds=7 * 24 * 3600,
                               raise_on_no_idempotency_key=True)
    if lambda_context is not None:
        config.register_lambda_context(lambda_context)   # in-progress records expire with the invocation

    @idempotent_function(data_keyword_argument="message", persistence_store=_persistence, config=config)
    def run(message: dict[str, Any]) -> bool:
        fn(message["event"])
        return True

    run(message={"key": f"{name}#{event['id']}", "event": event})


def handle_record(body: str, lambda_context: Any = None) -> None:
    event = json.loads(body)
    for name, fn in subscribers(event["type"]):
        _once(name, event, fn, lambda_context)


def reset_consumers() -> None:
    global _persistence
    _persistence = None


@events_jobs.on_sqs_message(queue=EVENTS_QUEUE, batch_size=10, name="handle_events")
def handle_events(event):
    from chalicelib.core.queues import process_batch

    # On Lambda this handler is loaded from this module, not from app.py; importing the app registers
    # every domain's subscribers (they subscribe when their modules are imported).
    import app  # noqa: F401

    ctx = event.context
    return process_batch(event, lambda body: handle_record(body, ctx))
