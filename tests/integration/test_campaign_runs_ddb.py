"""Campaign runs on AWS's own DynamoDB Local: each (campaign, run, member) takes effect exactly once.

- a run that crashes mid-fan-out (the dispatcher dies after starting the run) and mid-batch (the consumer dies
  after its first group of members) is resumed - by the next dispatch and by SQS's redelivery - without a second
  coupon or SMS;
- 8 concurrent deliveries of the same batches (SQS redelivering during a slow run) give every member one coupon
  and one SMS request; the losers are refused by the markers' conditions (contention is counted);
- no Scan is issued by a run.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import boto3
import pytest

from chalicelib.campaigns import services as campaigns
from chalicelib.campaigns.schemas import CampaignIn
from chalicelib.core import clock, events, queues
from chalicelib.core.auth import Principal
from chalicelib.core.ids import new_id
from chalicelib.coupons import services as coupons
from chalicelib.coupons.schemas import TemplateCreate
from chalicelib.identity import repository as identity
from tests.integration.conftest import items_of_kind, run_together, warm_up
from tools import infra

NOW = datetime(2026, 12, 2, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
MEMBERS = 30
QUEUE = "omnistore-test-campaigns"


@pytest.fixture
def stack(ddb, sqs_endpoint, monkeypatch):
    from chalicelib.core.settings import get_settings

    monkeypatch.setenv("SQS_ENDPOINT", sqs_endpoint)
    get_settings.cache_clear()
    queues.reset()
    sqs = boto3.client("sqs", region_name="ap-southeast-1", endpoint_url=sqs_endpoint)
    urls = infra.create_queues("test", sqs)
    for url in urls.values():
        while msgs := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages"):
            for m in msgs:
                sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    t = {"now": NOW - timedelta(days=120)}
    clock.set_clock(lambda: t["now"])
    sink: list = []
    events.capture(sink)
    warm_up()
    yield t, sink, ddb
    events.capture(None)
    queues.reset()


def dormant_members(t) -> list[str]:
    """MEMBERS members with a phone whose only order was 100 days ago (their stats from the events)."""
    out = []
    for i in range(MEMBERS):
        mid = identity.create_member(new_id(), f"camp-{i}", None, f"1390000{i:04d}", f"m{i}").member_id
        at = clock.iso(NOW - timedelta(days=100))
        campaigns.on_member_joined({"id": new_id(), "occurred_at": at, "data": {"member_id": mid}})
        order = {"member_id": mid, "store_id": "S1", "payable_fen": 1200, "lines": [], "payment": {"paid_at": at}}
        campaigns.on_order_paid({"id": new_id(), "occurred_at": at, "data": order})
        out.append(mid)
    return out


def campaign(t) -> str:
    hq = Principal(sub="01JHQADMIN0000000000000000", role="hq_admin")
    tpl = coupons.create_template(
        hq,
        TemplateCreate.model_validate(
            {
                "title": "回来看看",
                "kind": "no_threshold",
                "off_fen": 500,
                "validity": {"valid_days": 7},
                "total_stock": 1000,
                "per_member_limit": 5,
                "purpose": "push",
            }
        ),
    )
    seg = campaigns.create_segment(
        campaigns.SegmentIn.model_validate({"name": "沉睡", "rules": {"last_order_days_min": 90}})
    )
    body = {
        "name": "唤醒",
        "segment_id": seg.segment_id,
        "schedule": "cron(0 2 * * ? *)",
        "actions": [
            {"type": "coupon", "template_id": tpl.template_id},
            {"type": "sms", "template": "marketing_notice", "params": {"store": "烟酒行", "content": "送您一张券"}},
        ],
    }
    return campaigns.create_campaign(CampaignIn.model_validate(body)).campaign_id


def batches() -> list[str]:
    sqs = queues.sqs_client()
    url = queues.queue_url(QUEUE)
    out = []
    while msgs := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages"):
        for m in msgs:
            out.append(m["Body"])
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    return out


def effects(client, sink) -> tuple[Counter, Counter]:
    coupons_ = Counter(i["member_id"]["S"] for i in items_of_kind(client, "Coupon"))
    sms = Counter(e.data["member_id"] for e in sink if e.type == "CampaignSmsRequested")
    return coupons_, sms


def test_a_run_that_crashes_in_fan_out_and_mid_batch_resumes_without_duplicates(stack, monkeypatch):
    t, sink, client = stack
    ids = dormant_members(t)
    t["now"] = NOW - timedelta(minutes=5)
    cid = campaign(t)
    t["now"] = NOW

    # 1. the dispatcher dies after starting the run, before its fan-out reached the queue
    real_send = queues.send_many
    monkeypatch.setattr(queues, "send_many", lambda *a, **k: (_ for _ in ()).throw(queues.NotQueued("down")))
    with pytest.raises(queues.NotQueued):
        campaigns.dispatch(NOW)
    monkeypatch.setattr(queues, "send_many", real_send)
    assert batches() == []
    assert campaigns.dispatch(NOW + timedelta(minutes=1)) == {"fired": 0, "resumed": 0}  # not stale yet
    assert campaigns.dispatch(NOW + timedelta(minutes=3)) == {"fired": 0, "resumed": 1}  # fanned out again
    bodies = batches()
    assert bodies and campaigns.dispatch(NOW + timedelta(minutes=4)) == {"fired": 0, "resumed": 0}

    # 2. the consumer dies after its first group of 12 members (one transaction); SQS delivers the batch again
    real_apply, calls = campaigns.apply_group, {"n": 0}

    def dying(b, group):
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("Lambda timed out")
        return real_apply(b, group)

    monkeypatch.setattr(campaigns, "apply_group", dying)
    with pytest.raises(RuntimeError):
        for body in bodies:
            campaigns.run_batch(body)
    monkeypatch.setattr(campaigns, "apply_group", real_apply)
    done = [campaigns.run_batch(body) for body in bodies]
    assert sum(d.get("duplicate", 0) for d in done) == 12 and sum(d.get("sent", 0) for d in done) == MEMBERS - 12

    coupons_, sms = effects(client, sink)
    assert coupons_ == Counter(ids) and sms == Counter(ids)  # everyone exactly once
    (run,) = campaigns.runs(cid, 10).items
    assert (run.targeted, run.sent, run.coupons_issued) == (MEMBERS, MEMBERS, MEMBERS)


def test_8_concurrent_deliveries_of_a_run_give_each_member_one_coupon_and_one_sms(stack):
    t, sink, client = stack
    ids = dormant_members(t)
    t["now"] = NOW - timedelta(minutes=5)
    cid = campaign(t)
    t["now"] = NOW
    calls: list[str] = []
    hook = lambda model, **kw: calls.append(model.name)  # noqa: E731
    from chalicelib.core.dynamo import connection

    connection().client.meta.events.register("before-call.dynamodb", hook, unique_id="ops")
    try:
        assert campaigns.dispatch(NOW)["fired"] == 1
        bodies = batches()
        race = run_together(8, lambda i: [campaigns.run_batch(b) for b in bodies])
    finally:
        connection().client.meta.events.unregister("before-call.dynamodb", unique_id="ops")
    assert not [r for r in race.results if isinstance(r, BaseException)], race.results
    race.assert_contended()  # the markers refused the duplicates
    assert "Scan" not in calls
    coupons_, sms = effects(client, sink)
    assert coupons_ == Counter(ids) and sms == Counter(ids)
    (run,) = campaigns.runs(cid, 10).items
    assert (run.targeted, run.sent, run.coupons_issued) == (MEMBERS, MEMBERS, MEMBERS)
    outcomes = Counter(k for r in race.results for d in r for k, v in d.items() for _ in range(v))
    assert outcomes["sent"] == MEMBERS and outcomes["duplicate"] == 7 * MEMBERS
