"""tools.worker against a real SQS API (moto server over HTTP, in this process): unique message ids, partial
batch failures, whole-batch failures, redrive to the dead-letter queue, and the background loop."""

from __future__ import annotations

import json
import threading
import time
import uuid

import boto3
import pytest
from chalice import Chalice

from tools.worker import Worker

REGION = "ap-southeast-1"


@pytest.fixture
def sqs(sqs_endpoint):
    return boto3.client("sqs", region_name=REGION, endpoint_url=sqs_endpoint)


def make_queue(sqs, visibility: int = 30, max_receive: int | None = None) -> tuple[str, str, str | None]:
    """A fresh queue (and DLQ when ``max_receive``); returns (name, url, dlq_url)."""
    name = f"q-{uuid.uuid4().hex[:10]}"
    attrs = {"VisibilityTimeout": str(visibility)}
    dlq_url = None
    if max_receive:
        dlq_url = sqs.create_queue(QueueName=name + "-dlq")["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        attrs["RedrivePolicy"] = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(max_receive)})
    url = sqs.create_queue(QueueName=name, Attributes=attrs)["QueueUrl"]
    return name, url, dlq_url


def consumer_app(queue: str, batch_size: int = 10):
    """A small Chalice app like the real ones: bodies "fail" are reported as failed items, "raise" raises."""
    app = Chalice(app_name="worker-it")
    seen: list[dict] = []

    @app.on_sqs_message(queue=queue, batch_size=batch_size)
    def consume(event):
        failures = []
        for record in event:
            r = record.to_dict()
            seen.append(r)
            if r["body"] == "raise":
                raise RuntimeError("handler crashed")
            if r["body"] == "fail":
                failures.append({"itemIdentifier": r["messageId"]})
        return {"batchItemFailures": failures}

    return app, seen


def drain(sqs, url: str) -> list[dict]:
    out = []
    while True:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0, AttributeNames=["All"]).get(
            "Messages", []
        )
        if not got:
            return out
        out += got


def test_records_carry_unique_sqs_message_ids_and_are_deleted(sqs):
    name, url, _ = make_queue(sqs)
    sent = [
        sqs.send_message(
            QueueUrl=url,
            MessageBody=json.dumps({"n": i}),
            MessageAttributes={"type": {"DataType": "String", "StringValue": "OrderPaid"}},
        )["MessageId"]
        for i in range(5)
    ]
    app, seen = consumer_app(name)
    [res] = Worker(app, sqs, wait_time_s=1, region=REGION).poll_once()
    ids = [r["messageId"] for r in seen]
    assert len(ids) == 5 and len(set(ids)) == 5 and set(ids) == set(sent) and res.failed == []
    assert all(r["eventSource"] == "aws:sqs" and r["eventSourceARN"].endswith(":" + name) for r in seen)
    assert all(r["messageAttributes"]["type"]["stringValue"] == "OrderPaid" for r in seen)
    assert all(r["attributes"]["ApproximateReceiveCount"] == "1" for r in seen)
    assert drain(sqs, url) == []
    sqs_attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert sqs_attrs["ApproximateNumberOfMessages"] == "0" and sqs_attrs["ApproximateNumberOfMessagesNotVisible"] == "0"


def test_partial_batch_failure_keeps_only_the_failed_message(sqs):
    name, url, _ = make_queue(sqs, visibility=1)
    for body in ("ok-1", "fail", "ok-2"):
        sqs.send_message(QueueUrl=url, MessageBody=body)
    app, seen = consumer_app(name)
    [res] = Worker(app, sqs, wait_time_s=1).poll_once()
    failed_id = next(r["messageId"] for r in seen if r["body"] == "fail")
    assert res.failed == [failed_id] and len(res.message_ids) == 3

    time.sleep(1.2)  # the visibility timeout of the failed one
    back = drain(sqs, url)
    assert [(m["MessageId"], m["Body"]) for m in back] == [(failed_id, "fail")]
    assert back[0]["Attributes"]["ApproximateReceiveCount"] == "2"


def test_a_crashing_handler_fails_the_whole_batch(sqs):
    name, url, _ = make_queue(sqs, visibility=1)
    for body in ("a", "raise", "c"):
        sqs.send_message(QueueUrl=url, MessageBody=body)
    app, _ = consumer_app(name)
    [res] = Worker(app, sqs, wait_time_s=1).poll_once()
    assert len(res.failed) == 3 and "handler crashed" in res.error
    time.sleep(1.2)
    assert sorted(m["Body"] for m in drain(sqs, url)) == ["a", "c", "raise"]


def test_a_message_that_keeps_failing_ends_in_the_dlq(sqs):
    name, url, dlq_url = make_queue(sqs, visibility=1, max_receive=2)
    poison = sqs.send_message(QueueUrl=url, MessageBody="fail")["MessageId"]
    sqs.send_message(QueueUrl=url, MessageBody="fine")
    app, seen = consumer_app(name)
    worker = Worker(app, sqs, wait_time_s=1)
    for _ in range(3):
        worker.poll_once(wait_time_s=0)
        time.sleep(1.1)
    assert [r["body"] for r in seen].count("fail") == 2  # maxReceiveCount deliveries, then the DLQ
    assert [r["body"] for r in seen].count("fine") == 1
    assert drain(sqs, url) == []
    dead = drain(sqs, dlq_url)
    assert [(m["MessageId"], m["Body"]) for m in dead] == [(poison, "fail")]


def test_run_forever_consumes_in_the_background_and_stops(sqs):
    name, url, _ = make_queue(sqs)
    app, seen = consumer_app(name, batch_size=3)
    stop = threading.Event()
    worker = Worker(app, sqs, wait_time_s=1)
    th = threading.Thread(target=worker.run_forever, args=(stop,))
    th.start()
    try:
        for i in range(7):
            sqs.send_message(QueueUrl=url, MessageBody=f"m{i}")
        deadline = time.monotonic() + 10
        while len(seen) < 7 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        stop.set()
        th.join(timeout=10)
    assert not th.is_alive()
    assert sorted(r["body"] for r in seen) == [f"m{i}" for i in range(7)]
    assert len({r["messageId"] for r in seen}) == 7
    assert drain(sqs, url) == []
