"""tools.worker without any server: schedule maths, the Lambda event shapes, batch-failure rules, and the
worker's dispatch against a small in-memory SQS stand-in."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta, timezone

import pytest
from chalice import Blueprint, Chalice, Cron, Rate

from tools.worker import CronSchedule, RateSchedule, Worker, failed_ids, parse_schedule, sqs_record

pytestmark = pytest.mark.clock  # depends on the time of day / weekday: make test-clock pins it

UTC = UTC


def t(s: str) -> datetime:
    return datetime.fromisoformat(s).replace(tzinfo=UTC)


# ---------------------------------------------------------------------------------------------- rate
@pytest.mark.parametrize(
    "expr,seconds",
    [
        ("rate(1 minute)", 60),
        ("rate(5 minutes)", 300),
        ("rate(1 hour)", 3600),
        ("rate(12 hours)", 43200),
        ("rate(1 day)", 86400),
        ("rate(7 days)", 604800),
        (Rate(5, unit=Rate.MINUTES), 300),
        (Rate(1, unit=Rate.HOURS), 3600),
        (Rate(2, unit=Rate.DAYS), 172800),
    ],
)
def test_rate(expr, seconds):
    s = parse_schedule(expr)
    assert isinstance(s, RateSchedule) and s.interval == timedelta(seconds=seconds)
    assert s.next_after(t("2026-11-23T10:00:30")) == t("2026-11-23T10:00:30") + timedelta(seconds=seconds)


@pytest.mark.parametrize(
    "bad",
    [
        "rate(0 minutes)",
        "rate(5 weeks)",
        "rate(five minutes)",
        "every 5 minutes",
        "cron(0 3 * * *)",
        "cron(0 3 * * * *)",
        "cron(0 3 ? * ? *)",
        "cron(60 3 * * ? *)",
        "cron(0 24 * * ? *)",
        "cron(0 3 32 * ? *)",
        "cron(0 3 * 13 ? *)",
        "cron(0 3 ? * 8 *)",
        "cron(? 3 * * ? *)",
        "cron(*/0 * * * ? *)",
        "cron(0 3 ? * 2#6 *)",
    ],
)
def test_invalid_expressions(bad):
    with pytest.raises(ValueError):
        parse_schedule(bad)


# ---------------------------------------------------------------------------------------------- cron
@pytest.mark.parametrize(
    "expr,after,expected",
    [
        # daily at 03:00 UTC
        ("cron(0 3 * * ? *)", "2026-11-23T02:59:59", "2026-11-23T03:00:00"),
        ("cron(0 3 * * ? *)", "2026-11-23T03:00:00", "2026-11-24T03:00:00"),  # strictly after
        ("cron(0 3 * * ? *)", "2026-12-31T03:00:00", "2027-01-01T03:00:00"),
        # every 15 minutes
        ("cron(0/15 * * * ? *)", "2026-11-23T10:07:00", "2026-11-23T10:15:00"),
        ("cron(*/15 * * * ? *)", "2026-11-23T23:50:00", "2026-11-24T00:00:00"),
        # lists and ranges
        ("cron(5,35 8-10 * * ? *)", "2026-11-23T10:35:00", "2026-11-24T08:05:00"),
        ("cron(10-50/20 * * * ? *)", "2026-11-23T10:31:00", "2026-11-23T10:50:00"),
        # weekdays 18:00 (2026-11-28 is a Saturday)
        ("cron(0 18 ? * MON-FRI *)", "2026-11-28T12:00:00", "2026-11-30T18:00:00"),
        ("cron(0 18 ? * 2-6 *)", "2026-11-27T18:00:00", "2026-11-30T18:00:00"),
        ("cron(0 12 ? * SUN *)", "2026-11-23T00:00:00", "2026-11-29T12:00:00"),
        ("cron(0 12 ? * 1 *)", "2026-11-23T00:00:00", "2026-11-29T12:00:00"),
        ("cron(0 0 ? * FRI-MON *)", "2026-11-24T00:00:00", "2026-11-27T00:00:00"),  # wrapping range
        # months by name, day of month
        ("cron(30 1 15 JAN,JUL ? *)", "2026-11-23T00:00:00", "2027-01-15T01:30:00"),
        ("cron(0 0 31 * ? *)", "2026-11-23T00:00:00", "2026-12-31T00:00:00"),  # skips 30-day months
        # L, W, #
        ("cron(0 10 L * ? *)", "2028-02-01T00:00:00", "2028-02-29T10:00:00"),  # leap year
        ("cron(0 10 L * ? *)", "2026-02-01T00:00:00", "2026-02-28T10:00:00"),
        ("cron(0 9 ? * 6#3 *)", "2026-11-01T00:00:00", "2026-11-20T09:00:00"),  # third Friday
        ("cron(0 9 ? * 2L *)", "2026-11-01T00:00:00", "2026-11-30T09:00:00"),  # last Monday
        ("cron(0 9 15W * ? *)", "2026-11-01T00:00:00", "2026-11-16T09:00:00"),  # 15th is a Sunday
        ("cron(0 9 1W * ? *)", "2026-08-01T00:00:00", "2026-08-03T09:00:00"),  # 1st is a Saturday
        ("cron(0 9 LW * ? *)", "2026-05-01T00:00:00", "2026-05-29T09:00:00"),  # May 31 is a Sunday
        # years
        ("cron(0 0 1 1 ? 2027-2028)", "2027-01-01T00:00:00", "2028-01-01T00:00:00"),
    ],
)
def test_cron_next(expr, after, expected):
    assert parse_schedule(expr).next_after(t(after)) == t(expected)


def test_cron_may_have_no_next_fire():
    assert parse_schedule("cron(0 0 1 1 ? 2027)").next_after(t("2027-01-01T00:00:00")) is None
    assert parse_schedule("cron(0 0 30 FEB ? *)").next_after(t("2026-01-01T00:00:00")) is None


@pytest.mark.parametrize(
    "expr,after,expected",
    [
        # where croniter reads the same text differently from AWS, the AWS meaning holds
        ("cron(5-5 * * * ? *)", "2026-11-23T10:06:00", "2026-11-23T11:05:00"),  # equal ends: that one minute
        ("cron(0 0 * JAN-JAN ? *)", "2026-11-23T00:00:00", "2027-01-01T00:00:00"),
        ("cron(50-10/7 0 * * ? *)", "2026-11-23T00:00:00", "2026-11-23T00:04:00"),  # a step runs on past the wrap
        ("cron(0 12 ? * 7 *)", "2026-11-23T00:00:00", "2026-11-28T12:00:00"),  # 7 = SAT
        ("cron(0 12 ? * L *)", "2026-11-23T00:00:00", "2026-11-28T12:00:00"),  # L alone = SAT
        ("cron(0 12 ? * 2/2 *)", "2026-11-24T13:00:00", "2026-11-25T12:00:00"),  # MON, WED, FRI
        ("cron(0 9 L-2 * ? *)", "2026-02-01T00:00:00", "2026-02-26T09:00:00"),
        ("cron(0 9 L-30 * ? *)", "2026-02-01T00:00:00", "2026-03-01T09:00:00"),  # only months of 31 days
        ("cron(0 0 1 1 ? 2150)", "2026-11-23T00:00:00", "2150-01-01T00:00:00"),  # past croniter's 2099
    ],
)
def test_cron_keeps_aws_meaning(expr, after, expected):
    assert parse_schedule(expr).next_after(t(after)) == t(expected)


@pytest.mark.parametrize(
    "bad",
    [
        "cron(H 3 * * ? *)",
        "cron(0 3 * R ? *)",
        "cron(0 3 W15 * ? *)",
        "cron(0 3 1,L * ? *)",
        "cron(0 3 ? * 0 *)",
        "cron(0 3 * * ? 2200)",
        "cron(0 3 * * ? 1969)",
        "cron(0 3 ? * MON,2#1 *)",
    ],
)
def test_croniter_extensions_are_not_aws(bad):
    with pytest.raises(ValueError):
        parse_schedule(bad)


def test_chalice_cron_object_and_aware_times():
    s = parse_schedule(Cron(0, 3, "*", "*", "?", "*"))
    assert isinstance(s, CronSchedule) and s.expression == "cron(0 3 * * ? *)"
    shanghai = timezone(timedelta(hours=8))
    # 11:30 in Shanghai is 03:30 UTC: the next 03:00 UTC is tomorrow.
    assert s.next_after(datetime(2026, 11, 23, 11, 30, tzinfo=shanghai)) == t("2026-11-24T03:00:00")
    with pytest.raises(ValueError):
        s.next_after(datetime(2026, 11, 23, 3, 0))


@pytest.mark.parametrize(
    "expr",
    [
        "cron(*/7 */5 * * ? *)",
        "cron(0,30 9-17 ? * MON-FRI *)",
        "cron(15 2 L * ? *)",
        "cron(0 12 ? * 3#2 *)",
        "cron(45 23 1-3,28 * ? *)",
    ],
)
def test_cron_agrees_with_a_minute_by_minute_walk(expr):
    s = parse_schedule(expr)
    start = t("2026-02-20T00:00:00")
    walked = []
    cur = start
    end = start + timedelta(days=45)
    while (cur := cur + timedelta(minutes=1)) < end:
        if (
            cur.minute in s.minutes
            and cur.hour in s.hours
            and cur.month in s.months
            and s.day_matcher(cur.year, cur.month, cur.day)
        ):
            walked.append(cur)
    jumped = []
    cur = start
    while True:
        cur = s.next_after(cur)
        if cur is None or cur >= end:
            break
        jumped.append(cur)
    assert jumped == walked and walked


# ---------------------------------------------------------------------------------------------- events
def test_sqs_record_shape():
    msg = {
        "MessageId": "m-1",
        "ReceiptHandle": "rh-1",
        "Body": '{"a":1}',
        "MD5OfBody": "x",
        "Attributes": {"ApproximateReceiveCount": "2", "SentTimestamp": "1700000000000"},
        "MessageAttributes": {
            "type": {"DataType": "String", "StringValue": "OrderPaid"},
            "blob": {"DataType": "Binary", "BinaryValue": b"\x00\x01"},
        },
    }
    r = sqs_record(msg, "arn:aws:sqs:ap-southeast-1:000000000000:q", "ap-southeast-1")
    assert r["messageId"] == "m-1" and r["receiptHandle"] == "rh-1" and r["body"] == '{"a":1}'
    assert r["eventSource"] == "aws:sqs" and r["eventSourceARN"].endswith(":q") and r["awsRegion"] == "ap-southeast-1"
    assert r["attributes"]["ApproximateReceiveCount"] == "2"
    assert r["messageAttributes"]["type"] == {
        "stringValue": "OrderPaid",
        "stringListValues": [],
        "binaryListValues": [],
        "dataType": "String",
    }
    assert r["messageAttributes"]["blob"]["binaryValue"] == "AAE="


@pytest.mark.parametrize(
    "result,failed",
    [
        (None, set()),
        ({}, set()),
        ({"batchItemFailures": []}, set()),
        ({"batchItemFailures": None}, set()),
        ("ok", set()),
        ({"batchItemFailures": [{"itemIdentifier": "b"}]}, {"b"}),
        ({"batchItemFailures": [{"itemIdentifier": "b"}, {"itemIdentifier": "c"}]}, {"b", "c"}),
        ({"batchItemFailures": [{"itemIdentifier": "zzz"}]}, {"a", "b", "c"}),  # unknown id: whole batch
        ({"batchItemFailures": [{"itemIdentifier": ""}]}, {"a", "b", "c"}),
        ({"batchItemFailures": [{"itemIdentifer": "b"}]}, {"a", "b", "c"}),  # misspelt key
    ],
)
def test_batch_item_failure_rules(result, failed):
    assert failed_ids(result, ["a", "b", "c"]) == failed


# ---------------------------------------------------------------------------------------------- worker
class FakeSqs:
    """Just enough of an SQS client: receive returns what is visible, delete removes by receipt handle."""

    def __init__(self):
        self.queues: dict[str, list[dict]] = {}
        self.deleted: list[str] = []
        self._ids = itertools.count(1)

    def add(self, queue: str, *bodies: str) -> None:
        for b in bodies:
            n = next(self._ids)
            self.queues.setdefault(queue, []).append(
                {"MessageId": f"id-{n}", "ReceiptHandle": f"rh-{n}", "Body": b, "Attributes": {}}
            )

    def get_queue_url(self, QueueName):
        if QueueName not in self.queues:
            raise RuntimeError("AWS.SimpleQueueService.NonExistentQueue")
        return {"QueueUrl": f"http://sqs.local/000000000000/{QueueName}"}

    def get_queue_attributes(self, QueueUrl, AttributeNames):
        return {"Attributes": {"QueueArn": "arn:aws:sqs:local:000000000000:" + QueueUrl.rsplit("/", 1)[1]}}

    def receive_message(self, QueueUrl, MaxNumberOfMessages, WaitTimeSeconds, **_):
        q = self.queues[QueueUrl.rsplit("/", 1)[1]]
        got, self.queues[QueueUrl.rsplit("/", 1)[1]] = q[:MaxNumberOfMessages], q[MaxNumberOfMessages:]
        self.in_flight = getattr(self, "in_flight", []) + got
        return {"Messages": got}

    def delete_message_batch(self, QueueUrl, Entries):
        self.deleted += [e["ReceiptHandle"] for e in Entries]
        return {"Successful": [{"Id": e["Id"]} for e in Entries], "Failed": []}


def make_app():
    app = Chalice(app_name="worker-unit")
    bp = Blueprint(__name__)
    calls: dict[str, list] = {"orders": [], "nightly": [], "every5": []}

    @app.on_sqs_message(queue="orders", batch_size=25)
    def orders(event):
        records = [r.to_dict() for r in event]
        calls["orders"].append(records)
        bad = [{"itemIdentifier": r["messageId"]} for r in records if r["body"] == "bad"]
        if any(r["body"] == "explode" for r in records):
            raise RuntimeError("boom")
        return {"batchItemFailures": bad}

    @bp.schedule("cron(0 3 * * ? *)")
    def nightly(event):
        calls["nightly"].append(event.to_dict())

    @app.schedule(Rate(5, unit=Rate.MINUTES))
    def every5(event):
        calls["every5"].append(event.time)
        raise RuntimeError("a failing schedule does not stop the others")

    app.register_blueprint(bp, name_prefix="jobs_")
    return app, calls


def test_discovers_handlers_from_the_app_and_blueprints():
    app, _ = make_app()
    w = Worker(app, FakeSqs(), clock=lambda: t("2026-11-23T02:00:00"))
    assert [(s.name, s.queue_name, s.batch_size) for s in w.sqs_sources] == [("orders", "orders", 25)]
    assert {j.name: j.next_fire for j in w.schedules} == {
        "jobs_nightly": t("2026-11-23T03:00:00"),
        "every5": t("2026-11-23T02:05:00"),
    }


def test_poll_deletes_only_what_succeeded_and_batches_up_to_batch_size():
    app, calls = make_app()
    sqs = FakeSqs()
    sqs.add("orders", *[f"m{i}" for i in range(22)], "bad", "m-last")
    w = Worker(app, sqs, wait_time_s=0)
    [res] = w.poll_once()
    records = calls["orders"][0]
    assert len(records) == 24  # 10 + 10 + 4 receives, one invocation
    assert len({r["messageId"] for r in records}) == 24
    bad = next(r for r in records if r["body"] == "bad")
    assert res.failed == [bad["messageId"]]
    assert sorted(sqs.deleted) == sorted(r["receiptHandle"] for r in records if r["body"] != "bad")


def test_a_raising_handler_deletes_nothing():
    app, calls = make_app()
    sqs = FakeSqs()
    sqs.add("orders", "a", "explode", "c")
    [res] = Worker(app, sqs, wait_time_s=0).poll_once()
    assert sqs.deleted == [] and len(res.failed) == 3 and "boom" in res.error


def test_missing_queue_is_skipped_not_fatal():
    app, _ = make_app()
    assert Worker(app, FakeSqs(), wait_time_s=0).poll_once() == []


def test_tick_fires_due_schedules_once_without_catching_up():
    app, calls = make_app()
    now = [t("2026-11-23T02:58:00")]
    w = Worker(app, FakeSqs(), clock=lambda: now[0], region="ap-southeast-1")
    assert w.tick() == [] and w.seconds_until_next() == 120

    now[0] = t("2026-11-23T03:00:00")
    assert w.tick() == ["jobs_nightly"]
    event = calls["nightly"][0]
    assert event["detail-type"] == "Scheduled Event" and event["source"] == "aws.events"
    assert event["time"] == "2026-11-23T03:00:00Z" and event["region"] == "ap-southeast-1"
    assert event["resources"] == ["arn:aws:events:ap-southeast-1:000000000000:rule/worker-unit-local-jobs_nightly"]
    assert w.tick() == []  # fired once

    now[0] = t("2026-11-23T03:03:00")
    assert w.tick() == ["every5"]  # 02:58 + 5 min; its exception is contained
    assert calls["every5"] == ["2026-11-23T03:03:00Z"]

    now[0] = t("2026-11-23T04:00:30")  # asleep for an hour: one fire, no catch-up
    assert w.tick() == ["every5"]
    assert calls["every5"][-1] == "2026-11-23T03:08:00Z"  # the fire time that was due
    assert {j.name: j.next_fire for j in w.schedules}["every5"] == t("2026-11-23T04:05:30")
    assert w.tick() == []

    now[0] = t("2026-11-24T03:00:00")
    assert "jobs_nightly" in w.tick() and calls["nightly"][-1]["time"] == "2026-11-24T03:00:00Z"
    assert len({e["id"] for e in calls["nightly"]}) == 2


def test_run_forever_stops_promptly():
    import threading
    import time

    app, calls = make_app()
    sqs = FakeSqs()
    sqs.add("orders", "a")
    w = Worker(app, sqs, wait_time_s=0)
    stop = threading.Event()
    th = threading.Thread(target=w.run_forever, args=(stop,))
    th.start()
    deadline = time.monotonic() + 5
    while not sqs.deleted and time.monotonic() < deadline:
        time.sleep(0.01)
    stop.set()
    th.join(timeout=5)
    assert not th.is_alive() and sqs.deleted == ["rh-1"]


def test_the_real_app_is_understood():
    from app import app

    w = Worker(app, FakeSqs(), wait_time_s=0, dynamodb_client=object(), streams_client=object())
    assert w.ignored == []
    for src in w.sqs_sources:
        assert src.queue_name.startswith("omnistore-")
    # the outbox relay reads the stream of the stage's app table
    assert [(s.name, s.table_name) for s in w.stream_sources] == [("relay_events", "omnistore-test-app")]
    # without a DynamoDB client the worker says what it cannot drive
    assert Worker(app, FakeSqs(), wait_time_s=0).ignored == ["relay_events (DynamoDBEventConfig)"]
