"""SQS work queues: send a message (raising when it is not accepted) and consume a Lambda SQS batch with partial
batch failures.

``core.events`` relays domain events from the outbox (written with the state change; a failed send is retried
from the stream, then by the republish sweep). Work queues are different: the sender is itself a consumer or a
use case that must not report success unless the work is queued, so :func:`send` raises. The same SQS client
and queue-URL cache serve both.

:func:`process_batch` is the one way an ``@bp.on_sqs_message`` handler consumes its batch: each record's body
goes to ``handle(body)``; a record whose handler raises is reported in ``batchItemFailures`` (Powertools
``BatchProcessor``), so only it is delivered again, and after the queue's ``maxReceiveCount`` it moves to the
dead-letter queue. The packaged event source mapping sets ``ReportBatchItemFailures`` (tools/check_package.py).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from chalicelib.core.settings import get_settings

MAX_DELAY_S = 900  # SQS DelaySeconds limit

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


class NotQueued(Exception):
    """SQS did not accept a message."""


def _dumps(body: Any) -> str:
    return body if isinstance(body, str) else json.dumps(body, ensure_ascii=False, separators=(",", ":"))


def send(queue_name: str, body: Any, delay_s: int = 0) -> str:
    """Send one message (a dict is sent as JSON); returns its MessageId. Raises on failure."""
    try:
        resp = sqs_client().send_message(
            QueueUrl=queue_url(queue_name),
            MessageBody=_dumps(body),
            DelaySeconds=max(0, min(MAX_DELAY_S, int(delay_s))),
        )
    except Exception as e:  # any client failure means "not queued" to the caller
        raise NotQueued(f"{queue_name}: {e}") from e
    return resp["MessageId"]


def send_many(queue_name: str, bodies: list[Any], attributes: list[dict] | None = None) -> int:
    """Send messages in batches of 10 (``attributes``: each message's MessageAttributes); raises if any is not
    accepted (the ones before it were)."""
    if not bodies:
        return 0
    url = queue_url(queue_name)
    for i in range(0, len(bodies), 10):
        chunk = bodies[i : i + 10]
        attrs = (attributes or [{}] * len(bodies))[i : i + 10]
        try:
            resp = sqs_client().send_message_batch(
                QueueUrl=url,
                Entries=[
                    {"Id": str(n), "MessageBody": _dumps(b), **({"MessageAttributes": a} if a else {})}
                    for n, (b, a) in enumerate(zip(chunk, attrs))
                ],
            )
        except Exception as e:
            raise NotQueued(f"{queue_name}: {e}") from e
        if resp.get("Failed"):
            raise NotQueued(
                f"{queue_name}: {len(resp['Failed'])} of {len(chunk)} messages not accepted: "
                f"{resp['Failed'][0].get('Message')}"
            )
    return len(bodies)


def process_batch(event: Any, handle: Callable[[str], None]) -> dict:
    """Feed each record's body of a Chalice ``SQSEvent`` to ``handle``; returns the partial batch response."""
    from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

    processor = BatchProcessor(event_type=EventType.SQS)

    def record_handler(record):  # Powertools calls record_handler(record=...): keep the name
        handle(record.body)

    return process_partial_response(
        event=event.to_dict(), record_handler=record_handler, processor=processor, context=event.context
    )
