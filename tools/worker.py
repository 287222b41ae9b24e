"""Local stand-in for the Lambda event sources of a Chalice app: SQS event source mappings and EventBridge
schedules. ``chalice local`` serves HTTP only; this worker makes queues and schedules work on one machine.

Nothing here knows about this project's handlers: the worker walks ``app.event_sources`` and
``app.handler_map`` (the same registry ``chalice package`` turns into CloudFormation), so a new
``@app.on_sqs_message`` / ``@app.schedule`` (on the app or on a blueprint) is picked up without changes.

SQS, as Lambda's event source mapping does it:
- long-poll the queue (by name, or the name at the end of ``queue_arn``) for up to ``batch_size`` messages;
- build the Lambda SQS event; every record carries SQS's own ``messageId`` (unique per message, unlike
  ``chalice.test.Client().events.generate_sqs_event``);
- handler returns normally -> every message is deleted, except those named in a returned
  ``{"batchItemFailures": [{"itemIdentifier": <messageId>}]}`` (ReportBatchItemFailures semantics: a malformed
  or unknown identifier fails the whole batch); handler raises -> nothing is deleted;
- messages not deleted reappear after the queue's visibility timeout and, once their receive count reaches
  the redrive policy's ``maxReceiveCount``, SQS (moto server) moves them to the dead-letter queue.

DynamoDB streams, as Lambda's event source mapping does it (``@app.on_dynamodb_record``): the stream of the
table named in the handler's ``stream_arn`` (the ARN is a deployment placeholder; the local table of that name is
described to find its real stream), every shard from TRIM_HORIZON, records in batches of up to ``batch_size`` in
the Lambda DynamoDB event shape; a handler that raises gets the same records again on the next poll.

Schedules: ``rate(N minute|minutes|hour|hours|day|days)`` and AWS's six-field ``cron(min hour dom month dow
year)`` (``*``, ``?``, lists, ranges (which may wrap: FRI-MON), steps, month/day names, day of week 1 = SUN ..
7 = SAT, ``L``, ``L-n``, ``W``, ``LW``, ``#``, ``nL``, years 1970-2199), as strings or chalice ``Rate`` / ``Cron``
objects, always in UTC. EventBridge's rules are checked here; cron expressions are translated to croniter's syntax
and croniter finds the fire times. Missed fires (the machine slept) are not caught up, as EventBridge does not;
each fire gets a CloudWatch "Scheduled Event" dict.

Tests drive it by hand with ``poll_once()`` and ``tick()``; the local stack runs ``run_forever(stop_event)``
in a background thread.
"""

from __future__ import annotations

import base64
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Any

from croniter import HOUR_FIELD, MINUTE_FIELD, MONTH_FIELD, YEAR_FIELD, CroniterBadDateError, CroniterError, croniter

log = logging.getLogger("tools.worker")

UTC = UTC
MAX_RECEIVE = 10  # SQS ReceiveMessage returns at most 10 messages per call
LOCAL_ACCOUNT = "000000000000"


# =========================================================================================== schedules
class Schedule:
    expression: str

    def next_after(self, t: datetime) -> datetime | None:
        """The first fire time strictly after ``t`` (aware, UTC); ``None`` if there is none."""
        raise NotImplementedError


@dataclass(frozen=True)
class RateSchedule(Schedule):
    interval: timedelta
    expression: str = ""

    def next_after(self, t: datetime) -> datetime:
        return _utc(t) + self.interval


_RATE_RE = re.compile(r"^rate\(\s*(\d+)\s+(minute|minutes|hour|hours|day|days)\s*\)$", re.IGNORECASE)
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}

_MAX_YEAR = 2199  # EventBridge's year field is 1970-2199
_MONTH_NAMES = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_DAY_NAMES = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")  # AWS: 1 = SUN .. 7 = SAT


class _AwsCroniter(croniter):
    """croniter with EventBridge's year range (croniter's own year field stops at 2099)."""

    RANGES = croniter.RANGES[:YEAR_FIELD] + ((1970, _MAX_YEAR),)
    LEN_MEANS_ALL = croniter.LEN_MEANS_ALL[:YEAR_FIELD] + (_MAX_YEAR - 1970 + 1,)


def _croniter_next(cron: str, t: datetime) -> datetime | None:
    """croniter's first fire time of ``cron`` (its seven-field form) strictly after ``t``, in UTC."""
    try:
        fire = _AwsCroniter(
            cron, _utc(t).replace(tzinfo=None), day_or=False, max_years_between_matches=_MAX_YEAR - 1970
        ).get_next(datetime)
    except CroniterBadDateError:  # no fire time left (a year range in the past, 30 FEB, ...)
        return None
    return fire.replace(tzinfo=UTC)


# An adapter from AWS's cron syntax to croniter's. croniter evaluates the expression; what is translated here is
# only where the two read the same text differently.
def _cron_value(tok: str, lo: int, hi: int, what: str, names: tuple[str, ...] = ()) -> int:
    up = tok.upper()
    if up in names:
        return names.index(up) + lo
    if not up.isdigit():
        raise ValueError(f"cron {what}: {tok!r} is not a number")
    n = int(up)
    if not lo <= n <= hi:
        raise ValueError(f"cron {what}: {n} is outside {lo}-{hi}")
    return n


def _cron_field(spec: str, lo: int, hi: int, what: str, names: tuple[str, ...] = (), shift: int = 0) -> str:
    """One AWS field of ``*``, numbers, names, lists, ranges and steps (``5``, ``1,15``, ``MON-FRI``, ``*/15``,
    ``10-50/10``, ``5/10``; ranges may wrap: FRI-MON, 22-2) as croniter reads it with the same meaning: names become
    numbers, ``shift`` is added to every value (day of week), a range with equal ends stays that one value (croniter
    reads ``5-5`` as the whole field) and a wrapping range is listed value by value (croniter restarts a step after
    the wrap one value late: 50-10/7 is 50,57,4, croniter's 50,57,5)."""
    out = []
    for part in spec.split(","):
        base, slash, step_s = part.partition("/")
        if slash and not (step_s.isdigit() and int(step_s) > 0):
            raise ValueError(f"cron {what}: bad step {step_s!r}")
        step = f"/{int(step_s)}" if slash else ""
        if base == "*":
            out.append("*" + step)
            continue
        first, dash, last = base.partition("-")
        a = _cron_value(first, lo, hi, what, names)
        b = _cron_value(last, lo, hi, what, names) if dash else None
        if b is None:  # "5", or "5/10": from 5 to the field's end
            out.append(f"{a + shift}{step}")
        elif a == b:
            out.append(str(a + shift))
        elif a < b:
            out.append(f"{a + shift}-{b + shift}{step}")
        else:
            values = (list(range(a, hi + 1)) + list(range(lo, b + 1)))[:: int(step_s or 1)]
            out.append(",".join(str(v + shift) for v in values))
    return ",".join(out)


def _dom_field(spec: str) -> tuple[str, int]:
    """Day of month for croniter, and how many days before croniter's fire day the schedule fires: values as in
    ``_cron_field``, ``L`` (last day), ``L-n`` (n days before the last: croniter's ``L`` moved back n days), ``nW``
    (weekday nearest to day n, within the month), ``LW`` (last weekday: croniter's ``31W``, as croniter takes the
    last day of the month for a day past its end)."""
    up = spec.upper()
    if up in ("?", "L"):
        return up, 0
    if up.startswith("L-"):
        if not up[2:].isdigit():
            raise ValueError(f"cron day-of-month: bad offset in {spec!r}")
        return "L", int(up[2:])
    if up == "LW":
        return "31W", 0
    if up.endswith("W"):
        return f"{_cron_value(up[:-1], 1, 31, 'day-of-month')}W", 0
    return _cron_field(spec, 1, 31, "day-of-month"), 0


def _dow_field(spec: str) -> str:
    """Day of week, AWS's 1 = SUN .. 7 = SAT (or names) as croniter's 0 = SUN .. 6 = SAT: values as in
    ``_cron_field``, ``nL`` (the month's last such weekday: croniter's ``Ln``), ``n#k`` (its k-th), ``L``
    (Saturday)."""
    up = spec.upper()
    if up == "?":
        return up
    if up == "L":
        return "6"
    if "#" in up:
        wd, _, k = up.partition("#")
        if not k.isdigit():
            raise ValueError(f"cron day-of-week: bad #{k!r}")
        return f"{_cron_value(wd, 1, 7, 'day-of-week', _DAY_NAMES) - 1}#{int(k)}"  # croniter checks k in 1-5
    if up.endswith("L"):
        return f"L{_cron_value(up[:-1], 1, 7, 'day-of-week', _DAY_NAMES) - 1}"
    return _cron_field(up, 1, 7, "day-of-week", _DAY_NAMES, shift=-1)


@dataclass(frozen=True)
class CronSchedule(Schedule):
    """An AWS cron expression, evaluated by croniter in its seven-field form ``cron`` (min hour day-of-month month
    day-of-week second year; day of week 0 = SUN .. 6 = SAT); ``last_day_offset`` is the n of ``L-n``."""

    cron: str
    expression: str = ""
    last_day_offset: int = 0

    @classmethod
    def parse(cls, fields: str, expression: str = "") -> CronSchedule:
        parts = fields.split()
        if len(parts) != 6:
            raise ValueError(f"cron needs 6 fields (min hour day-of-month month day-of-week year): {fields!r}")
        minute, hour, dom, month, dow, year = parts
        if (dom == "?") == (dow == "?"):
            raise ValueError("cron: exactly one of day-of-month and day-of-week must be '?'")
        for f, what in ((minute, "minutes"), (hour, "hours"), (month, "month"), (year, "year")):
            if f == "?":
                raise ValueError(f"cron {what}: '?' is only allowed for day-of-month or day-of-week")
        dom_cron, offset = _dom_field(dom)
        cron = " ".join(
            (
                _cron_field(minute, 0, 59, "minutes"),
                _cron_field(hour, 0, 23, "hours"),
                dom_cron,
                _cron_field(month, 1, 12, "month", _MONTH_NAMES),
                _dow_field(dow),
                "0",
                _cron_field(year, 1970, _MAX_YEAR, "year"),
            )
        )
        try:
            _AwsCroniter.expand(cron)  # croniter's own checks (W's day, #'s k, ...)
        except CroniterError as exc:
            raise ValueError(f"cron: {fields!r} is not acceptable: {exc}") from exc
        return cls(cron=cron, expression=expression or f"cron({fields})", last_day_offset=offset)

    def next_after(self, t: datetime) -> datetime | None:
        if self.last_day_offset > 30:  # L-n further back than any month is long
            return None
        shift = timedelta(days=self.last_day_offset)
        start = _utc(t) + shift
        while True:
            fire = _croniter_next(self.cron, start)
            if fire is None or fire.year > _MAX_YEAR:
                return None
            if (fire - shift).month == fire.month:  # L-n: not in a month shorter than n + 1 days
                return fire - shift
            start = fire.replace(hour=23, minute=59)  # that month's last day is done

    # The expanded fields, for inspection.
    @cached_property
    def _expanded(self) -> list[list[Any]]:
        return _AwsCroniter.expand(self.cron)[0]

    def _values(self, index: int) -> frozenset[int]:
        values = self._expanded[index]
        lo, hi = _AwsCroniter.RANGES[index]
        return frozenset(range(lo, hi + 1)) if "*" in values else frozenset(values)

    @cached_property
    def minutes(self) -> frozenset[int]:
        return self._values(MINUTE_FIELD)

    @cached_property
    def hours(self) -> frozenset[int]:
        return self._values(HOUR_FIELD)

    @cached_property
    def months(self) -> frozenset[int]:
        return self._values(MONTH_FIELD)

    @cached_property
    def years(self) -> frozenset[int]:
        return self._values(YEAR_FIELD)

    def day_matcher(self, year: int, month: int, day: int) -> bool:
        """Whether the day-of-month / day-of-week condition holds on that day (months and years aside)."""
        target = datetime(year, month, day, tzinfo=UTC) + timedelta(days=self.last_day_offset)
        if target.month != month:
            return False
        _, _, dom, _, dow, _, _ = self.cron.split()
        return _croniter_next(f"0 0 {dom} * {dow} 0 *", target - timedelta(seconds=1)) == target


def parse_schedule(expression: Any) -> Schedule:
    """A chalice ``Rate``/``Cron`` object or an EventBridge string: ``rate(...)`` or ``cron(...)``."""
    text = expression.to_string() if hasattr(expression, "to_string") else str(expression)
    text = text.strip()
    m = _RATE_RE.match(text)
    if m:
        value, unit = int(m.group(1)), m.group(2).lower().rstrip("s")
        if value <= 0:
            raise ValueError(f"rate must be positive: {text!r}")
        return RateSchedule(timedelta(seconds=value * _UNIT_SECONDS[unit]), expression=text)
    if text.lower().startswith("cron(") and text.endswith(")"):
        return CronSchedule.parse(text[5:-1], expression=text)
    raise ValueError(f"not a schedule expression: {text!r}")


def _utc(t: datetime) -> datetime:
    if t.tzinfo is None:
        raise ValueError("schedule times must be timezone-aware")
    return t.astimezone(UTC)


def _iso(t: datetime) -> str:
    return _utc(t).strftime("%Y-%m-%dT%H:%M:%SZ")


# =========================================================================================== lambda bits
class LocalContext:
    """What a Lambda handler may read from its context object."""

    def __init__(
        self,
        function_name: str,
        memory_mb: int = 512,
        timeout_s: int = 60,
        region: str = "",
        account: str = LOCAL_ACCOUNT,
    ):
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:{region}:{account}:function:{function_name}"
        self.memory_limit_in_mb = memory_mb
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = "local"
        self.identity = None
        self.client_context = None
        self._deadline = time.monotonic() + timeout_s  # a duration, not a moment: not the business clock

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def _message_attributes(raw: dict[str, Any]) -> dict[str, Any]:
    """ReceiveMessage's ``MessageAttributes`` in the shape Lambda puts into an SQS record."""
    out = {}
    for name, a in (raw or {}).items():
        rec: dict[str, Any] = {"stringListValues": [], "binaryListValues": [], "dataType": a.get("DataType")}
        if "StringValue" in a:
            rec["stringValue"] = a["StringValue"]
        if "BinaryValue" in a:
            v = a["BinaryValue"]
            rec["binaryValue"] = base64.b64encode(v).decode() if isinstance(v, (bytes, bytearray)) else v
        out[name] = rec
    return out


def sqs_record(message: dict[str, Any], queue_arn: str, region: str) -> dict[str, Any]:
    """One record of the Lambda SQS event, from one ReceiveMessage message."""
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message.get("Body", ""),
        "attributes": dict(message.get("Attributes") or {}),
        "messageAttributes": _message_attributes(message.get("MessageAttributes") or {}),
        "md5OfBody": message.get("MD5OfBody", ""),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }


def failed_ids(result: Any, ids: list[str]) -> set[str]:
    """Which records of a batch failed, given the handler's return value (ReportBatchItemFailures rules):
    ``None``, ``{}``, or an empty/absent ``batchItemFailures`` -> none failed; an identifier that is missing,
    empty or not in the batch -> the whole batch failed."""
    if not isinstance(result, dict):
        return set()
    failures = result.get("batchItemFailures")
    if not failures:
        return set()
    out = set()
    for f in failures:
        ident = f.get("itemIdentifier") if isinstance(f, dict) else None
        if not ident or ident not in ids:
            log.warning("batchItemFailures names %r, which is not in the batch: the whole batch failed", ident)
            return set(ids)
        out.add(ident)
    return out


# =========================================================================================== streams
def _stream_record(record: dict[str, Any], stream_arn: str, region: str) -> dict[str, Any]:
    """One GetRecords record in the shape Lambda puts into a DynamoDB stream event."""
    ddb = dict(record["dynamodb"])
    created = ddb.get("ApproximateCreationDateTime")
    if isinstance(created, datetime):
        ddb["ApproximateCreationDateTime"] = created.timestamp()
    ddb.setdefault("ApproximateCreationDateTime", time.time())
    ddb.setdefault("SizeBytes", 0)
    ddb.setdefault("StreamViewType", "NEW_IMAGE")
    return {
        "eventID": record.get("eventID", str(uuid.uuid4())),
        "eventName": record["eventName"],
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": region,
        "dynamodb": ddb,
        "eventSourceARN": stream_arn,
    }


class StreamReader:
    """Reads every shard of one DynamoDB stream from TRIM_HORIZON, following new shards as they appear.

    After a read that returned nothing, the next read asks for a fresh iterator after the last record seen
    instead of using the returned one (moto advances that one past a record; on AWS both are the same)."""

    def __init__(self, streams_client, stream_arn: str):
        self.streams = streams_client
        self.stream_arn = stream_arn
        self.last_seq: dict[str, str | None] = {}  # shard id -> last sequence number read
        self.iterators: dict[str, str | None] = {}  # shard id -> iterator to continue with (None: get a fresh one)
        self.closed: set[str] = set()
        self.pending: list[dict[str, Any]] = []  # records handed out and not yet acknowledged

    def _iterator(self, sid: str) -> str:
        it = self.iterators.get(sid)
        if it is not None:
            return it
        last = self.last_seq.get(sid)
        kwargs = (
            {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": last}
            if last
            else {"ShardIteratorType": "TRIM_HORIZON"}
        )
        return self.streams.get_shard_iterator(StreamArn=self.stream_arn, ShardId=sid, **kwargs)["ShardIterator"]

    def read(self, limit: int = 100) -> list[dict[str, Any]]:
        """Records not yet acknowledged (those of a failed batch first), then new ones; at most ``limit``."""
        if len(self.pending) < limit:
            desc = self.streams.describe_stream(StreamArn=self.stream_arn)["StreamDescription"]
            for shard in desc.get("Shards", []):
                sid = shard["ShardId"]
                while sid not in self.closed and len(self.pending) < limit:
                    got = self.streams.get_records(ShardIterator=self._iterator(sid), Limit=limit - len(self.pending))
                    records = got.get("Records", [])
                    if "NextShardIterator" not in got or got["NextShardIterator"] is None:
                        self.closed.add(sid)
                    if not records:
                        self.iterators[sid] = None
                        break
                    self.pending.extend(records)
                    self.last_seq[sid] = records[-1]["dynamodb"]["SequenceNumber"]
                    self.iterators[sid] = got.get("NextShardIterator")
        return self.pending[:limit]

    def ack(self, n: int) -> None:
        del self.pending[:n]


# =========================================================================================== the worker
@dataclass
class SqsSource:
    name: str
    queue_name: str
    batch_size: int
    handler: Callable[..., Any]
    queue_url: str | None = None
    queue_arn: str | None = None


@dataclass
class StreamSource:
    name: str
    table_name: str
    batch_size: int
    handler: Callable[..., Any]
    reader: StreamReader | None = None


@dataclass
class ScheduledJob:
    name: str
    schedule: Schedule
    handler: Callable[..., Any]
    next_fire: datetime | None = None


@dataclass
class BatchResult:
    source: str
    message_ids: list[str]
    failed: list[str]
    error: str | None = None


class Worker:
    """Feeds SQS messages and schedule ticks to a Chalice app's event handlers.

    ``clock`` returns the current aware UTC time (schedules only; SQS timing is the queue's own); default: the
    app's clock (``chalicelib.core.clock``), so schedules follow a clock the tests or ``CLOCK_AT`` moved.
    ``queue_names`` optionally maps a handler's queue name to another one (e.g. per stage).
    """

    def __init__(
        self,
        app,
        sqs_client,
        clock: Callable[[], datetime] | None = None,
        *,
        wait_time_s: int = 20,
        region: str | None = None,
        account: str = LOCAL_ACCOUNT,
        stage: str = "local",
        queue_names: dict[str, str] | None = None,
        lambda_timeout_s: int = 60,
        memory_mb: int = 512,
        dynamodb_client=None,
        streams_client=None,
    ):
        from chalice.app import DynamoDBEventConfig, ScheduledEventConfig, SQSEventConfig

        self.app = app
        self.sqs = sqs_client
        if clock is None:
            from chalicelib.core.clock import now as clock
        self.clock = clock
        self.wait_time_s = max(0, min(20, int(wait_time_s)))
        self.region = region or getattr(getattr(sqs_client, "meta", None), "region_name", None) or "us-east-1"
        self.account = account
        self.stage = stage
        self.lambda_timeout_s = lambda_timeout_s
        self.memory_mb = memory_mb
        self.sqs_sources: list[SqsSource] = []
        self.stream_sources: list[StreamSource] = []
        self.dynamodb, self.streams = dynamodb_client, streams_client
        self.schedules: list[ScheduledJob] = []
        self.ignored: list[str] = []
        queue_names = queue_names or {}
        start = self.clock()
        for src in app.event_sources:
            handler = app.handler_map.get(src.name)
            if handler is None:  # pragma: no cover - chalice always registers both
                raise RuntimeError(f"event source {src.name!r} has no handler in app.handler_map")
            if isinstance(src, SQSEventConfig):
                qname = src.queue or (src.queue_arn or "").rsplit(":", 1)[-1]
                qname = queue_names.get(qname, qname)
                self.sqs_sources.append(SqsSource(src.name, qname, max(1, int(src.batch_size or 1)), handler))
            elif isinstance(src, DynamoDBEventConfig) and dynamodb_client is not None:
                table = src.stream_arn.split(":table/", 1)[1].split("/", 1)[0]
                self.stream_sources.append(StreamSource(src.name, table, max(1, int(src.batch_size or 100)), handler))
            elif isinstance(src, ScheduledEventConfig):
                sched = parse_schedule(src.schedule_expression)
                self.schedules.append(ScheduledJob(src.name, sched, handler, sched.next_after(start)))
            else:
                self.ignored.append(f"{src.name} ({type(src).__name__})")
        if self.ignored:
            log.warning("event sources the local worker does not drive: %s", ", ".join(self.ignored))

    # ------------------------------------------------------------------------------------------ helpers
    def _context(self, name: str) -> LocalContext:
        fn = f"{self.app.app_name}-{self.stage}-{name}"
        return LocalContext(fn, self.memory_mb, self.lambda_timeout_s, self.region, self.account)

    def _resolve(self, src: SqsSource) -> bool:
        if src.queue_url:
            return True
        try:
            src.queue_url = self.sqs.get_queue_url(QueueName=src.queue_name)["QueueUrl"]
            src.queue_arn = self.sqs.get_queue_attributes(QueueUrl=src.queue_url, AttributeNames=["QueueArn"])[
                "Attributes"
            ]["QueueArn"]
            return True
        except Exception as e:  # queue not created yet, endpoint down: try again later
            log.warning("queue %s of handler %s is not available: %s", src.queue_name, src.name, e)
            src.queue_url = None
            return False

    def describe(self) -> list[str]:
        lines = [f"sqs      {s.name} <- {s.queue_name} (batch {s.batch_size})" for s in self.sqs_sources]
        lines += [f"stream   {s.name} <- table {s.table_name} (batch {s.batch_size})" for s in self.stream_sources]
        lines += [
            f"schedule {j.name} {j.schedule.expression} (next {_iso(j.next_fire) if j.next_fire else '-'})"
            for j in self.schedules
        ]
        return lines

    # ------------------------------------------------------------------------------------------ SQS
    def poll_once(self, wait_time_s: int | None = None, sources: Iterable[str] | None = None) -> list[BatchResult]:
        """One receive + dispatch for each SQS source (or only those named); returns what happened."""
        results = []
        for src in self.sqs_sources:
            if sources is not None and src.name not in sources:
                continue
            res = self._poll_source(src, self.wait_time_s if wait_time_s is None else wait_time_s)
            if res is not None:
                results.append(res)
        return results

    def _receive(self, src: SqsSource, wait_time_s: int) -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = []
        wait = wait_time_s
        while len(messages) < src.batch_size:
            got = self.sqs.receive_message(
                QueueUrl=src.queue_url,
                MaxNumberOfMessages=min(MAX_RECEIVE, src.batch_size - len(messages)),
                WaitTimeSeconds=wait,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            ).get("Messages", [])
            if not got:
                break
            messages.extend(got)
            wait = 0  # fill the batch with what is already there, do not wait again
        return messages

    def _poll_source(self, src: SqsSource, wait_time_s: int) -> BatchResult | None:
        if not self._resolve(src):
            return None
        messages = self._receive(src, wait_time_s)
        if not messages:
            return None
        records = [sqs_record(m, src.queue_arn or "", self.region) for m in messages]
        ids = [r["messageId"] for r in records]
        error = None
        try:
            result = src.handler({"Records": records}, self._context(src.name))
            failed = failed_ids(result, ids)
        except Exception as e:  # a failing handler fails its whole batch, as on Lambda
            log.exception("SQS handler %s raised; the whole batch of %d will be retried", src.name, len(ids))
            failed, error = set(ids), f"{type(e).__name__}: {e}"
        done = [r for r in records if r["messageId"] not in failed]
        for i in range(0, len(done), 10):
            chunk = done[i : i + 10]
            resp = self.sqs.delete_message_batch(
                QueueUrl=src.queue_url,
                Entries=[{"Id": str(n), "ReceiptHandle": r["receiptHandle"]} for n, r in enumerate(chunk)],
            )
            for f in resp.get("Failed", []):
                log.warning("could not delete message %s: %s", chunk[int(f["Id"])]["messageId"], f.get("Message"))
        if failed:
            log.info("SQS handler %s: %d of %d records failed", src.name, len(failed), len(ids))
        return BatchResult(src.name, ids, [i for i in ids if i in failed], error)

    # ------------------------------------------------------------------------------------------ streams
    def poll_streams(self, sources: Iterable[str] | None = None) -> int:
        """One read + dispatch per stream source (or only those named); returns the records delivered."""
        delivered = 0
        for src in self.stream_sources:
            if sources is not None and src.name not in sources:
                continue
            if src.reader is None:
                arn = self.dynamodb.describe_table(TableName=src.table_name)["Table"]["LatestStreamArn"]
                src.reader = StreamReader(self.streams, arn)
            records = src.reader.read(src.batch_size)
            if not records:
                continue
            event = {"Records": [_stream_record(r, src.reader.stream_arn, self.region) for r in records]}
            try:
                src.handler(event, self._context(src.name))
            except Exception:  # as on Lambda: the same records come again
                log.exception("stream handler %s raised; its %d records will be retried", src.name, len(records))
                continue
            src.reader.ack(len(records))
            delivered += len(records)
        return delivered

    # ------------------------------------------------------------------------------------------ schedules
    def scheduled_event(self, job: ScheduledJob, fire_time: datetime) -> dict[str, Any]:
        rule = f"{self.app.app_name}-{self.stage}-{job.name}"
        return {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "account": self.account,
            "time": _iso(fire_time),
            "region": self.region,
            "resources": [f"arn:aws:events:{self.region}:{self.account}:rule/{rule}"],
            "detail": {},
        }

    def tick(self, now: datetime | None = None) -> list[str]:
        """Fire every schedule that is due at ``now`` (default: the clock); returns the names fired."""
        now = _utc(now or self.clock())
        fired = []
        for job in self.schedules:
            if job.next_fire is None or job.next_fire > now:
                continue
            due = job.next_fire
            try:
                job.handler(self.scheduled_event(job, due), self._context(job.name))
            except Exception:
                log.exception("scheduled handler %s raised (fire time %s)", job.name, _iso(due))
            fired.append(job.name)
            nxt = job.schedule.next_after(due)
            if nxt is not None and nxt <= now:  # missed fires are not caught up
                nxt = job.schedule.next_after(now)
            job.next_fire = nxt
        return fired

    def seconds_until_next(self, now: datetime | None = None) -> float | None:
        now = _utc(now or self.clock())
        pending = [j.next_fire for j in self.schedules if j.next_fire is not None]
        return max(0.0, (min(pending) - now).total_seconds()) if pending else None

    # ------------------------------------------------------------------------------------------ loop
    def run_forever(self, stop_event: threading.Event) -> None:
        """One long-polling thread per SQS source, schedules in this thread; returns after ``stop_event``."""
        threads = [
            threading.Thread(target=self._sqs_loop, args=(src, stop_event), daemon=True, name=f"worker-sqs-{src.name}")
            for src in self.sqs_sources
        ]
        if self.stream_sources:
            threads.append(
                threading.Thread(target=self._stream_loop, args=(stop_event,), daemon=True, name="worker-streams")
            )
        for t in threads:
            t.start()
        try:
            while not stop_event.is_set():
                try:
                    self.tick()
                except Exception:  # never let the scheduler die
                    log.exception("scheduler tick failed")
                wait = self.seconds_until_next()
                # Re-check at least every second: the clock may be moved by tests or the demo.
                stop_event.wait(1.0 if wait is None else min(1.0, max(0.05, wait)))
        finally:
            stop_event.set()
            for t in threads:
                t.join(timeout=self.wait_time_s + self.lambda_timeout_s + 5)

    def _stream_loop(self, stop_event: threading.Event, idle_s: float = 0.2) -> None:
        while not stop_event.is_set():
            try:
                if not self.poll_streams():
                    stop_event.wait(idle_s)
            except Exception:  # endpoint hiccups: log, back off, keep going
                if stop_event.is_set():
                    break
                log.exception("reading streams failed")
                for src in self.stream_sources:
                    src.reader = None
                stop_event.wait(2.0)

    def _sqs_loop(self, src: SqsSource, stop_event: threading.Event) -> None:
        while not stop_event.is_set():
            try:
                if not self._resolve(src):
                    stop_event.wait(2.0)
                    continue
                self._poll_source(src, self.wait_time_s)
            except Exception:  # endpoint hiccups: log, back off, keep going
                if stop_event.is_set():
                    break
                log.exception("polling %s failed", src.queue_name)
                src.queue_url = None
                stop_event.wait(2.0)
