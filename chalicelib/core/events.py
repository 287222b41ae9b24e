"""Domain events through a transactional outbox, consumed from the events queue.

Writing: ``add(tx, [Event(...)])`` puts each event as an ``Outbox`` item into the TransactWriteItems of the state
change that causes it, so the event exists if and only if the change committed. Relaying: the table's DynamoDB
stream feeds ``relay_events`` (on AWS a stream-triggered Lambda filtered to new Outbox items; locally the worker
reads DynamoDB Local's stream), which sends each event to the events queue and marks it relayed (TTL from then
on). Items the stream did not relay within a few minutes (relay down for longer than the stream keeps records)
are relayed by ``republish_events``, which reads only the sparse per-hour bucket of unrelayed events. Delivery
is at least once: every consumer is idempotent.

Consuming: the one SQS handler (chalicelib/subscriptions.py, where every domain's subscriptions are listed) feeds
each record to every subscriber of its type, each (subscriber, event id) at most once (Powertools idempotency on
the idempotency table), and reports partial batch failures so only failed records are retried; records that keep
failing go to the dead-letter queue by the queue's redrive policy.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, nullcontext
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from chalice import Blueprint
from pynamodb.attributes import TTLAttribute, UnicodeAttribute

from chalicelib.core import clock, metrics
from chalicelib.core.dynamo import Item, Tx, TxCancelled, batch_get, get_mark, set_mark, transaction
from chalicelib.core.ids import new_id
from chalicelib.core.logging import logger
from chalicelib.core.queues import send_many
from chalicelib.core.settings import get_settings

events_jobs = Blueprint(__name__)

# Deployment wiring only: `chalice package` reads the queue name here to build the event source mapping
# (chalice exports the stage's environment variables from .chalice/config.json before importing the app).
# At run time Lambda delivers whatever the mapping says.
EVENTS_QUEUE = os.environ.get("EVENTS_QUEUE_NAME", "omnistore-dev-events")
# The app table's stream. `make package` points the packaged event source at the template's table
# (tools/check_package.py); the local worker finds the table's stream by the name in this ARN.
APP_TABLE_STREAM_ARN = (
    f"arn:aws:dynamodb:{os.environ.get('AWS_DEFAULT_REGION', 'ap-southeast-1')}:000000000000:"
    f"table/{os.environ.get('TABLE_NAME', 'omnistore-dev-app')}/stream/latest"
)
RELAYED_TTL = timedelta(days=2)  # a relayed event item is kept this long (inspection), then TTL drops it
REPUBLISH_AFTER = timedelta(minutes=2)  # the sweep relays only events the stream left alone at least this long


_importing: ContextVar[bool] = ContextVar("importing_history", default=False)


@contextmanager
def importing() -> Iterator[None]:
    """Events reported inside are history brought in from before (the demo's months of till sales, a chain's
    sales from its old system): they are marked ``imported``, and so is every event a subscriber reports while
    handling one. Subscribers that keep books (stock, growth, points, reports) handle them like any other;
    subscribers marked ``live_only`` (print a ticket, text someone, give a gift now) leave them alone."""
    token = _importing.set(True)
    try:
        yield
    finally:
        _importing.reset(token)


@dataclass
class Event:
    type: str
    data: dict[str, Any]
    id: str = field(default_factory=new_id)
    occurred_at: str = field(default_factory=lambda: clock.iso(clock.now()))
    imported: bool = field(default_factory=_importing.get)

    def to_json(self) -> str:
        envelope = {"id": self.id, "type": self.type, "occurred_at": self.occurred_at, "data": self.data}
        if self.imported:
            envelope["imported"] = True
        return json.dumps(envelope, ensure_ascii=False, separators=(",", ":"))


class OutboxItem(Item, discriminator="Outbox"):
    """pk=EVENT#<id>, sk=EVENT. Written in the transaction of the change it reports. Until relayed it sits in the
    sparse gsi3 bucket OUTBOX#<hour of writing> (the republish sweep reads only those); relaying removes it from
    there and sets ``expires_at``."""

    event_type = UnicodeAttribute()
    body = UnicodeAttribute()  # the queue message: Event.to_json()
    relayed_at = UnicodeAttribute(null=True)
    expires_at = TTLAttribute(null=True)


def _outbox_keys(event_id: str) -> tuple[str, str]:
    return f"EVENT#{event_id}", "EVENT"


def _bucket(at) -> str:
    return f"OUTBOX#{at.strftime('%Y-%m-%dT%H')}"


def add(tx: Tx, events: Iterable[Event]) -> None:
    """Write ``events`` in ``tx``: they exist (and will be delivered) exactly when the transaction commits."""
    events = list(events)
    now = clock.written_now()  # an imported event dated in the past is still written (and swept) in this hour
    for e in events:
        pk, sk = _outbox_keys(e.id)
        tx.save(
            OutboxItem(
                pk,
                sk,
                event_type=e.type,
                body=e.to_json(),
                gsi3pk=_bucket(now),
                gsi3sk=f"{clock.iso(now)}#{e.id}",
                created_at=now,
            ),
            tag=("event", e.id),
        )
    if _sink is not None and events:
        sink = _sink
        tx.after_commit(lambda: sink.extend(events))


def update_if(item: Item, actions: list, condition, reported: Iterable[Event]) -> bool:
    """One conditional update and the events it reports, in one transaction: True if it was applied, False if
    ``condition`` did not hold (nothing written, nothing reported)."""
    try:
        with transaction() as tx:
            tx.update(item, actions, condition=condition, tag="update")
            add(tx, reported)
        return True
    except TxCancelled:
        return False


def publish(events: Iterable[Event]) -> None:
    """Events that report no state change of their own (a reminder, an alert): written to the outbox alone."""
    events = list(events)
    if events:
        with transaction() as tx:
            add(tx, events)


_sink: list | None = None


def capture(into: list | None) -> None:
    """Also collect committed events in ``into`` (tests that look at what a use case reported)."""
    global _sink
    _sink = into


# --------------------------------------------------------------------------------------- relaying
def relay(event_ids: list[str]) -> int:
    """Send these outbox events to the events queue (those not relayed yet) and mark them relayed; returns how
    many were sent. Raises if the queue did not take them (the caller's batch is retried: at least once)."""
    items = batch_get([_outbox_keys(i) for i in event_ids], consistent=True)
    due = [
        items[k]
        for k in (_outbox_keys(i) for i in dict.fromkeys(event_ids))
        if k in items and isinstance(items[k], OutboxItem) and not items[k].relayed_at
    ]
    if not due:
        return 0
    send_many(
        get_settings().events_queue_name,
        [i.body for i in due],
        attributes=[{"type": {"DataType": "String", "StringValue": i.event_type}} for i in due],
    )
    now = clock.now()
    for i in due:
        i.update(
            actions=[
                OutboxItem.relayed_at.set(clock.iso(now)),
                OutboxItem.expires_at.set(now + RELAYED_TTL),
                OutboxItem.gsi3pk.remove(),
                OutboxItem.gsi3sk.remove(),
            ]
        )
    metrics.count("EventsRelayed", len(due))
    return len(due)


def outbox_ids(records: Iterable[Any]) -> list[str]:
    """Event ids of the new Outbox items among DynamoDB stream records (chalice ``DynamoDBRecord``s)."""
    out = []
    for r in records:
        image = r.new_image or {}
        if r.event_name == "INSERT" and image.get("kind", {}).get("S") == "Outbox":
            out.append(image["pk"]["S"].split("#", 1)[1])
    return out


@events_jobs.on_dynamodb_record(
    stream_arn=APP_TABLE_STREAM_ARN, batch_size=100, starting_position="TRIM_HORIZON", name="relay_events"
)
def relay_events(event):
    """The table's stream -> the events queue. A failure fails the batch; Lambda retries it (at least once)."""
    sent = relay(outbox_ids(event))
    if sent:
        logger.info("events relayed", extra={"count": sent})


@events_jobs.schedule("rate(5 minutes)", name="republish_events")
def republish_events(event):
    return {"republished": republish()}


def republish(now=None, first_hours_back: int = 48) -> int:
    """Relay events the stream has not relayed for REPUBLISH_AFTER (reads only the unrelayed buckets, every hour
    since the mark: after an outage no event is left behind)."""
    now = now or clock.now()
    until = clock.iso(now - REPUBLISH_AFTER)
    last = get_mark("outbox")
    sent = 0
    for hour in clock.hours_since(last, now, first_hours_back):
        ids = [i.pk.split("#", 1)[1] for i in OutboxItem.gsi3.query(_bucket(hour), OutboxItem.gsi3sk < until)]
        if ids:
            sent += relay(ids)
    settled = (now - REPUBLISH_AFTER - timedelta(hours=1)).strftime(clock.HOUR_MARK)
    if last is None or settled > last:
        set_mark("outbox", settled)
    if sent:
        logger.warning("events relayed by the sweep, not the stream", extra={"count": sent})
    return sent


# --------------------------------------------------------------------------------------- consuming
Handler = Callable[[dict[str, Any]], None]


@dataclass(frozen=True)
class Subscription:
    """``handler`` reacts to events of ``event_type``; ``name`` keys its once-per-event guard. Each domain lists
    its subscriptions (``SUBSCRIPTIONS``); chalicelib/subscriptions.py wires them all to the events queue."""

    event_type: str
    name: str
    handler: Handler
    live_only: bool = False  # acts on the world now (prints, texts, gives): not for imported history


_persistence = None


def _once(name: str, event: dict[str, Any], fn: Handler, lambda_context: Any = None) -> None:
    """Run ``fn(event)`` at most once per (subscriber, event id)."""
    global _persistence
    from aws_lambda_powertools.utilities.idempotency import (
        DynamoDBPersistenceLayer,
        IdempotencyConfig,
        idempotent_function,
    )

    if _persistence is None:
        import boto3

        s = get_settings()
        _persistence = DynamoDBPersistenceLayer(
            table_name=s.idempotency_table_name,
            boto3_client=boto3.client("dynamodb", region_name=s.aws_region, endpoint_url=s.dynamodb_endpoint),
        )
    config = IdempotencyConfig(
        event_key_jmespath="key", expires_after_seconds=7 * 24 * 3600, raise_on_no_idempotency_key=True
    )
    if lambda_context is not None:
        config.register_lambda_context(lambda_context)  # in-progress records expire with the invocation

    @idempotent_function(data_keyword_argument="message", persistence_store=_persistence, config=config)
    def run(message: dict[str, Any]) -> bool:
        fn(message["event"])
        return True

    run(message={"key": f"{name}#{event['id']}", "event": event})


def handle_record(body: str, subscriptions: Iterable[Subscription], lambda_context: Any = None) -> None:
    """Give one queued event to each of ``subscriptions`` that wants its type, each at most once."""
    event = json.loads(body)
    imported = bool(event.get("imported"))
    for sub in subscriptions:
        if sub.event_type != event["type"] or (imported and sub.live_only):
            continue
        with importing() if imported else nullcontext():  # what the subscriber reports is history too
            _once(sub.name, event, sub.handler, lambda_context)


def reset_consumers() -> None:
    global _persistence
    _persistence = None
