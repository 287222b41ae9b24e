"""The real app's event consumer (chalicelib.core.events.handle_events) driven by tools.worker: events published
to the stage's SQS queue (moto server) reach every subscriber once per event id (Powertools idempotency on the
idempotency table in DynamoDB Local), and the queue is left empty."""
from __future__ import annotations

import boto3
import pytest

from chalicelib.core import events
from tools import infra
from tools.worker import Worker

seen: list[dict] = []


@events.subscribe("WorkerTestPing", name="worker-test")
def _on_ping(event: dict) -> None:
    seen.append(event)


@pytest.fixture
def events_queue(sqs_endpoint, monkeypatch):
    from chalicelib.core.settings import get_settings

    monkeypatch.setenv("SQS_ENDPOINT", sqs_endpoint)
    get_settings.cache_clear()
    assert get_settings().sqs_endpoint == sqs_endpoint      # never a real AWS endpoint from a test
    events.reset()
    events.reset_consumers()
    sqs = boto3.client("sqs", region_name="ap-southeast-1", endpoint_url=sqs_endpoint)
    urls = infra.create_queues("test", sqs)
    for url in urls.values():
        sqs.purge_queue(QueueUrl=url)
    seen.clear()
    yield sqs, urls["EventsQueue"]
    events.reset()
    events.reset_consumers()


def test_published_events_reach_subscribers_once(events_queue):
    from app import app

    sqs, url = events_queue
    ping = events.Event("WorkerTestPing", {"n": 1})
    events.publish([ping, events.Event("WorkerTestPing", {"n": 2})])
    events.publish([ping])                                   # the same event delivered twice
    worker = Worker(app, sqs, wait_time_s=1, stage="test")
    assert sorted(s.queue_name for s in worker.sqs_sources) == ["omnistore-test-events", "omnistore-test-print",
                                                                 "omnistore-test-sms"]
    results = []
    for _ in range(3):
        results += worker.poll_once(wait_time_s=0, sources=["handle_events"])
    assert sum(len(r.message_ids) for r in results) == 3
    assert all(r.failed == [] for r in results), results
    assert sorted(e["data"]["n"] for e in seen) == [1, 2]
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attrs["ApproximateNumberOfMessages"] == "0" and attrs["ApproximateNumberOfMessagesNotVisible"] == "0"
