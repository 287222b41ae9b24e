"""The head-office overview on a year of history: on DynamoDB Local, 6 stores x 365 days x 200 skus of report
aggregates are written directly (the items the report subscribers keep: one per store and day, one per store, day
and sku), then the console overview's API calls are made through the app (chalice's test client), as web/app.js
makes them: the stores, sales by store for today / 7 / 30 days, sales by day for 30 days, stock value.
Prints the items DynamoDB read for them (Query ScannedCount, BatchGetItem and GetItem items) and the time.

    .venv/bin/python bench/reports.py [--stores 6] [--days 365] [--skus 200]

The overview reads only the store-day items of its ranges (and the stores and stock values), so what it reads does
not grow with the number of skus or the years kept. The history is written through the reports repository's own
batch writer (``replace_store_days``, as the rebuild writes); DynamoDB Local takes it at a few hundred items/s on
the shared 2-core box, so the full 440,190 items took 1,226 s (progress on stderr); ``--days 60
--skus 5`` measures the same overview reads in seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta

from _stack import dynamodb_local

WRITERS = 3  # DynamoDB Local writes one batch at a time anyway; more writers only wait longer
os.environ.setdefault("DYNAMODB_READ_TIMEOUT_S", "60")  # a batch of 25 can wait long on a loaded box


def write_history(store_ids: list[str], days: int, skus: int, today: date) -> int:
    """Aggregates written by the reports repository's own batch writer (the rebuild's ``replace_store_days``:
    BatchWriteItem of 25), a month of a store at a time, WRITERS stores in parallel."""
    from chalicelib.reports.domain import Figures
    from chalicelib.reports.repository import replace_store_days

    def one_store(args: tuple[int, str]) -> int:
        rnd, store_id = random.Random(7 + args[0]), args[1]
        n = 0
        for start in range(0, days, 30):
            span = range(start, min(days, start + 30))
            totals: dict[str, Figures] = {}
            by_sku: dict[tuple[str, str], Figures] = {}
            for d in span:
                day = (today - timedelta(days=d)).isoformat()
                total = dict(orders=0, units=0, sales_fen=0, discount_fen=0, refund_fen=0, cost_fen=0)
                for k in range(skus):
                    units = rnd.randint(1, 6)
                    f = dict(orders=min(units, 3), units=units, sales_fen=units * 2000, discount_fen=units * 50)
                    f |= dict(refund_fen=0, cost_fen=units * 1400)
                    for key, v in f.items():
                        total[key] += v
                    by_sku[(day, f"SKU-{k:04d}")] = Figures(**f)
                totals[day] = Figures(**total)
            frm, to = (today - timedelta(days=span[-1])).isoformat(), (today - timedelta(days=span[0])).isoformat()
            replace_store_days(store_id, frm, to, totals, by_sku)
            n += len(totals) + len(by_sku)
            done[0] += len(totals) + len(by_sku)
            print(f"  {done[0]} items written ({time.perf_counter() - t0:.0f} s)", file=sys.stderr, flush=True)
        return n

    done, t0 = [0], time.perf_counter()
    with ThreadPoolExecutor(WRITERS) as pool:
        return sum(pool.map(one_store, enumerate(store_ids)))


class ReadCounter:
    """Items DynamoDB read, from the responses of the app's botocore client."""

    def __init__(self):
        self.items = 0
        self.calls = 0

    def __call__(self, http_response, parsed, model, **_):
        op = model.name
        if op == "Query":
            self.items += int(parsed.get("ScannedCount", 0))
        elif op == "BatchGetItem":
            self.items += sum(len(v) for v in parsed.get("Responses", {}).values())
        elif op == "GetItem":
            self.items += 1 if parsed.get("Item") else 0
        else:
            return
        self.calls += 1


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--stores", type=int, default=6)
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--skus", type=int, default=200)
    args = ap.parse_args()
    with dynamodb_local():
        from chalice.test import Client

        from app import app
        from chalicelib.core import clock
        from chalicelib.core.auth import Principal, issue_token
        from chalicelib.core.dynamo import Item
        from chalicelib.stores import services as stores
        from chalicelib.stores.schemas import StoreCreate

        body = {"address": "重庆市渝中区", "lat": 29.55, "lng": 106.57, "phone": "023-63700000", "opening_hours": []}
        ids = [stores.create_store(StoreCreate(name=f"门店{i + 1}", **body)).store_id for i in range(args.stores)]
        today = clock.business_now().date()
        t0 = time.perf_counter()
        written = write_history(ids, args.days, args.skus, today)
        print(
            f"history: {written} aggregate items ({args.stores} stores x {args.days} days x {args.skus} skus) "
            f"written in {time.perf_counter() - t0:.1f} s"
        )
        hq = issue_token(Principal(sub="01JBENCHHQ0000000000000000", role="hq_admin"))[0]
        d = lambda n: (today - timedelta(days=n)).isoformat()  # noqa: E731
        calls = [
            "/admin/stores?limit=200",
            f"/admin/reports/sales?from={d(0)}&to={d(0)}&group_by=store",
            f"/admin/reports/sales?from={d(6)}&to={d(0)}&group_by=store",
            f"/admin/reports/sales?from={d(29)}&to={d(0)}&group_by=store",
            f"/admin/reports/sales?from={d(29)}&to={d(0)}&group_by=day",
            "/admin/reports/stock",
        ]
        counter = ReadCounter()
        Item._get_connection().connection.client.meta.events.register("after-call.dynamodb", counter)
        with Client(app, stage_name="test") as client:
            client.http.get(calls[0], headers={"Authorization": f"Bearer {hq}"})  # warm: imports, connections
            counter.items = counter.calls = 0
            t0 = time.perf_counter()
            for path in calls:
                r = client.http.get(path, headers={"Authorization": f"Bearer {hq}"})
                assert r.status_code == 200, (path, r.body)
            elapsed = time.perf_counter() - t0
        print(
            f"overview: {len(calls)} API calls, {counter.calls} DynamoDB reads, {counter.items} items read, "
            f"{elapsed * 1000:.0f} ms"
        )
        print(json.dumps({"items_read": counter.items, "ms": round(elapsed * 1000), "limit_items": 1000}))


if __name__ == "__main__":
    main()
