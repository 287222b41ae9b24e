"""A campaign run on the local stack: N members (default 100,000) on DynamoDB Local, a segment of a tenth of them
(last order 100-200 days ago), a campaign with a coupon and an SMS. The dispatcher starts the run and fans it out
to the campaigns queue (moto's SQS server, as in the local stack); W consumer threads (Lambda concurrency) process
the batches. Prints:

- items read per targeted member while evaluating the segment (DynamoDB's answers counted: Query Count,
  BatchGetItem/GetItem items), and for the whole run (the consumers read phones, opt-outs, the campaign);
- the run's duration (dispatch to the last batch) and members, coupons and SMS requests per second;
- the DynamoDB operations issued during the run (no Scan).

    .venv/bin/python bench/campaign_fanout.py [-n 100000] [--workers 4]

Members are loaded with BatchWriteItem (the stats and their index keys, through ``repository.load_stats``, in 4
threads) and identity's use case (only the targeted members' accounts with phones, in threads); loading 100,000
took 12 minutes on the busy 2-core dev box (the run itself about 5) - use ``-n 20000`` for a quick run.
"""

from __future__ import annotations

import argparse
import os
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

from _stack import dynamodb_local

NOW = datetime(2026, 12, 2, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai: outside SMS quiet hours


class Reads:
    """Counts what DynamoDB returned, per phase, over every thread's calls of the shared client."""

    def __init__(self):
        self.items = 0
        self.ops: Counter = Counter()
        self.lock = threading.Lock()

    def hook(self, http_response, parsed, model, **kw):
        n = 0
        if model.name == "Query":
            n = int(parsed.get("Count", 0))
        elif model.name == "GetItem":
            n = 1 if parsed.get("Item") else 0
        elif model.name == "BatchGetItem":
            n = sum(len(v) for v in parsed.get("Responses", {}).values())
        with self.lock:
            self.items += n
            self.ops[model.name] += 1


def load(n: int, targeted: int) -> list[str]:
    from chalicelib.campaigns import domain, repository
    from chalicelib.core.ids import new_id
    from chalicelib.identity import repository as identity

    ids = [new_id() for _ in range(n)]
    stats = []
    for i, mid in enumerate(ids):
        days = 100 + i % 100 if i < targeted else i % 80
        day = (NOW - timedelta(days=days)).date().isoformat()
        stats.append(
            domain.Stats(member_id=mid, registered_day="2025-01-01", last_order_day=day, orders=1, spend_fen=5000)
        )
    t = time.perf_counter()
    chunks = [stats[i : i + 2500] for i in range(0, n, 2500)]
    with ThreadPoolExecutor(4) as pool:  # BatchWriteItem (25 items a call) through the repository's own loader
        list(pool.map(repository.load_stats, chunks))
    print(f"loaded stats of {n:,} members (BatchWriteItem) in {time.perf_counter() - t:.1f} s")
    t = time.perf_counter()
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda i: identity.create_member(ids[i], f"b{i}", None, f"139{i:08d}", f"m{i}"), range(targeted)))
    print(f"created {targeted:,} targeted members' accounts (phones) in {time.perf_counter() - t:.1f} s")
    return ids[:targeted]


def campaign() -> str:
    from chalicelib.campaigns import services as campaigns
    from chalicelib.campaigns.schemas import CampaignIn, SegmentIn
    from chalicelib.core.auth import HQ_ADMIN, Principal
    from chalicelib.coupons import services as coupons
    from chalicelib.coupons.schemas import TemplateCreate

    tpl = coupons.create_template(
        Principal(sub="bench", role=HQ_ADMIN),
        TemplateCreate.model_validate(
            {"title": "唤醒券", "kind": "no_threshold", "off_fen": 500, "validity": {"valid_days": 7},
             "total_stock": 1_000_000, "per_member_limit": 5, "purpose": "push"}
        ),
    )  # fmt: skip
    seg = campaigns.create_segment(
        SegmentIn.model_validate({"name": "沉睡", "rules": {"last_order_days_min": 90, "last_order_days_max": 365}})
    )
    body = {
        "name": "bench",
        "segment_id": seg.segment_id,
        "schedule": "cron(0 2 * * ? *)",
        "actions": [
            {"type": "coupon", "template_id": tpl.template_id},
            {"type": "sms", "template": "marketing_notice", "params": {"store": "烟酒行", "content": "好久不见"}},
        ],
    }
    return campaigns.create_campaign(CampaignIn.model_validate(body)).campaign_id


def consume(workers: int) -> Counter:
    from chalicelib.campaigns import services as campaigns
    from chalicelib.core import queues
    from chalicelib.core.settings import get_settings

    url = queues.queue_url(get_settings().campaign_queue_name)
    outcomes: Counter = Counter()
    lock = threading.Lock()

    def worker():
        sqs = queues.sqs_client()
        while msgs := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1, WaitTimeSeconds=1).get("Messages"):
            for m in msgs:
                got = campaigns.run_batch(m["Body"])
                sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
                with lock:
                    outcomes.update(got)

    threads = [threading.Thread(target=worker) for _ in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return outcomes


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=100_000, help="members (a tenth of them in the segment)")
    ap.add_argument("--workers", type=int, default=4, help="consumer threads (Lambda concurrency)")
    args = ap.parse_args()
    targeted = args.n // 10

    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto server's access log

    from tools import ddblocal

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=ddblocal.free_port(), verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    os.environ.update({"SQS_ENDPOINT": f"http://{host}:{port}", "CAMPAIGN_QUEUE_NAME": "omnistore-test-campaigns"})
    os.environ.update({"SMS_QUEUE_NAME": "omnistore-test-sms"})
    try:
        with dynamodb_local():
            run(args, targeted)
    finally:
        server.stop()


def run(args, targeted: int) -> None:
    import boto3

    from chalicelib.campaigns import repository
    from chalicelib.campaigns import services as campaigns
    from chalicelib.core import clock, events, queues
    from chalicelib.core.dynamo import connection
    from chalicelib.core.settings import get_settings
    from tools import infra

    get_settings.cache_clear()
    queues.reset()
    infra.create_queues(
        "test", boto3.client("sqs", region_name="ap-southeast-1", endpoint_url=os.environ["SQS_ENDPOINT"])
    )
    clock.set_clock(lambda: NOW - timedelta(minutes=5))
    events.capture(None)
    load(args.n, targeted)
    cid = campaign()
    clock.set_clock(lambda: NOW)
    seg = repository.get_campaign(cid).segment_id

    reads = Reads()
    client = connection().client
    client.meta.events.register("after-call.dynamodb", reads.hook, unique_id="bench-reads")
    t0 = time.perf_counter()
    found = campaigns.evaluate(repository.get_segment(seg).rules, NOW.date())
    eval_s, eval_items = time.perf_counter() - t0, reads.items
    print(f"segment: {len(found):,} of {args.n:,} members in {eval_s:.2f} s; "
          f"items read per targeted member: {eval_items / max(1, len(found)):.3f}")  # fmt: skip

    reads.items, reads.ops = 0, Counter()
    t0 = time.perf_counter()
    fired = campaigns.dispatch(NOW)
    fan_s = time.perf_counter() - t0
    outcomes = consume(args.workers)
    run_s = time.perf_counter() - t0
    client.meta.events.unregister("after-call.dynamodb", unique_id="bench-reads")
    (r,) = campaigns.runs(cid, 1).items
    print(f"run: dispatch + fan-out {fan_s:.1f} s, whole run {run_s:.1f} s with {args.workers} consumers; {fired}")
    print(f"run results: targeted {r.targeted:,}, sent {r.sent:,}, coupons {r.coupons_issued:,}, skipped {r.skipped}")
    print(f"members/s {r.sent / run_s:,.1f}; messages/s (coupons + SMS requests) {(2 * r.sent) / run_s:,.1f}")
    print(f"TransactWriteItems per member: {reads.ops.get('TransactWriteItems', 0) / max(1, r.targeted):.3f} "
          f"(up to {campaigns.GROUP} members per transaction)")  # fmt: skip
    print(f"items read per targeted member over the whole run: {reads.items / max(1, r.targeted):.3f}")
    print(f"DynamoDB operations during the run: {dict(reads.ops)}; Scan: {reads.ops.get('Scan', 0)}")
    print(f"consumer outcomes: {dict(outcomes)}")


if __name__ == "__main__":
    main()
