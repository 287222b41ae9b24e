"""The real app's outbox relay and event consumer driven by tools.worker on AWS's own DynamoDB Local: events
written in a transaction reach the stage's SQS queue (moto server) through the table's stream
(``relay_events``), and every subscriber once per event id (Powertools idempotency on the idempotency table),
even when the process dies right after the commit and when a message is delivered twice."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import boto3
import pytest

from chalicelib.core import clock, dynamo, events, queues
from tools import infra
from tools.worker import Worker

seen: list[dict] = []
NOON = datetime(2026, 11, 23, 4, 0, tzinfo=UTC)


def _on_ping(event: dict) -> None:
    seen.append(event)


@pytest.fixture
def worker(ddb, ddb_local_endpoint, sqs_endpoint, monkeypatch):
    from app import app
    from chalicelib import subscriptions
    from chalicelib.core.settings import get_settings

    # the app's consumer, with one more subscription for this test's own event
    monkeypatch.setattr(
        subscriptions,
        "SUBSCRIPTIONS",
        [*subscriptions.SUBSCRIPTIONS, events.Subscription("WorkerTestPing", "worker-test", _on_ping)],
    )
    monkeypatch.setenv("SQS_ENDPOINT", sqs_endpoint)
    get_settings.cache_clear()
    assert get_settings().sqs_endpoint == sqs_endpoint  # never a real AWS endpoint from a test
    queues.reset()
    events.reset_consumers()
    sqs = boto3.client("sqs", region_name="ap-southeast-1", endpoint_url=sqs_endpoint)
    urls = infra.create_queues("test", sqs)
    for url in urls.values():  # empty them (PurgeQueue is allowed once a minute)
        while msgs := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages"):
            for m in msgs:
                sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    seen.clear()
    streams = boto3.client("dynamodbstreams", region_name="ap-southeast-1", endpoint_url=ddb_local_endpoint)
    w = Worker(app, sqs, wait_time_s=1, stage="test", dynamodb_client=ddb, streams_client=streams)
    yield w, sqs, urls
    queues.reset()
    events.reset_consumers()


def deliver(w: Worker) -> None:
    """Relay what the stream has and consume the events queue until both are empty."""
    while w.poll_streams() + sum(len(r.message_ids) for r in w.poll_once(wait_time_s=0, sources=["handle_events"])):
        pass


def test_events_written_in_a_transaction_reach_subscribers_once(worker):
    w, sqs, urls = worker
    assert sorted(s.queue_name for s in w.sqs_sources) == [
        "omnistore-test-campaigns",
        "omnistore-test-events",
        "omnistore-test-print",
        "omnistore-test-sms",
    ]
    assert [(s.name, s.table_name) for s in w.stream_sources] == [("relay_events", "omnistore-test-app")]
    ping = events.Event("WorkerTestPing", {"n": 1})
    with dynamo.transaction() as tx:
        events.add(tx, [ping, events.Event("WorkerTestPing", {"n": 2})])
    deliver(w)
    assert sorted(e["data"]["n"] for e in seen) == [1, 2]
    # a redelivered message (SQS is at least once) reaches no subscriber twice
    sqs.send_message(QueueUrl=urls["EventsQueue"], MessageBody=ping.to_json())
    deliver(w)
    assert sorted(e["data"]["n"] for e in seen) == [1, 2]
    attrs = sqs.get_queue_attributes(QueueUrl=urls["EventsQueue"], AttributeNames=["All"])["Attributes"]
    assert attrs["ApproximateNumberOfMessages"] == "0" and attrs["ApproximateNumberOfMessagesNotVisible"] == "0"
    # relayed events are marked (and expire by TTL from then on); nothing is left for the sweep
    item = events.OutboxItem.get(f"EVENT#{ping.id}", "EVENT", consistent_read=True)
    assert item.relayed_at and item.expires_at and item.gsi3pk is None
    assert events.republish(now=clock.now()) == 0


def test_a_transaction_that_fails_reports_nothing(worker):
    w, _, _ = worker
    with pytest.raises(dynamo.TxCancelled), dynamo.transaction() as tx:
        events.add(tx, [events.Event("WorkerTestPing", {"n": 3})])
        tx.condition_check(dynamo.SweepMark, "SWEEP#none", "META", dynamo.SweepMark.pk.exists(), tag="missing")
    deliver(w)
    assert seen == []


def test_an_event_survives_a_crash_right_after_the_commit(worker, monkeypatch):
    """The process dies between the commit and anything after it: the event is in the outbox, the stream relay
    delivers it anyway, once."""
    w, _, _ = worker
    real_commit = dynamo.Tx.commit

    def commit_then_die(self, token):
        real_commit(self, token)
        raise SystemExit("the Lambda was killed right after the commit")

    with monkeypatch.context() as m, pytest.raises(SystemExit), dynamo.transaction() as tx:
        m.setattr(dynamo.Tx, "commit", commit_then_die)
        events.add(tx, [events.Event("WorkerTestPing", {"n": 4})])
    deliver(w)
    assert [e["data"]["n"] for e in seen] == [4]


def test_the_sweep_relays_what_the_stream_did_not(worker):
    """The relay was down longer than the stream keeps records: the republish sweep finds the unrelayed events
    in their hour bucket (and only those) and relays them, once; also after days without a sweep."""
    w, _, _ = worker
    clock.set_clock(lambda: NOON)
    with dynamo.transaction() as tx:
        events.add(tx, [events.Event("WorkerTestPing", {"n": 5})])
    assert events.republish(now=NOON) == 0  # too fresh: the stream's job
    later = NOON.replace(minute=10)
    assert events.republish(now=later) == 1
    assert events.republish(now=later) == 0  # relayed once
    w.poll_once(wait_time_s=0, sources=["handle_events"])
    assert [e["data"]["n"] for e in seen] == [5]
    deliver(w)  # the stream's copy: relayed already
    assert [e["data"]["n"] for e in seen] == [5]
    # another event the stream does not relay, and the sweep itself is down for three days: its next run finds it
    with dynamo.transaction() as tx:
        events.add(tx, [events.Event("WorkerTestPing", {"n": 6})])
    assert events.republish(now=later + timedelta(days=3)) == 1
