"""Count DynamoDB requests per checkout (botocore event hook) for carts of 1, 10 and 50 lines, on DynamoDB
Local: an online order (with an Idempotency-Key) and a POS sale. Goal: 2 requests (one BatchGetItem, one
TransactWriteItems) whatever the number of lines.

    .venv/bin/python bench/checkout_roundtrips.py
"""
from __future__ import annotations

import time
from collections import Counter

from _stack import dynamodb_local

CARTS = (1, 10, 50)


def main() -> None:
    with dynamodb_local():
        from datetime import datetime, timezone

        from chalicelib.catalog import services as catalog
        from chalicelib.catalog.schemas import ProductCreate
        from chalicelib.core import clock, events, idempotency
        from chalicelib.core.auth import Principal
        from chalicelib.core.dynamo import Item, connection
        from chalicelib.inventory import services as inventory
        from chalicelib.inventory.schemas import ReceiptCreate
        from chalicelib.orders import services as orders
        from chalicelib.orders.schemas import PosSaleIn, ShopQuoteIn
        from chalicelib.stores import services as stores
        from chalicelib.stores.schemas import StoreCreate

        events.capture([])
        clock.set_clock(lambda: datetime(2026, 11, 23, 4, 0, tzinfo=timezone.utc))
        hq = Principal(sub="01JHQ00000000000000000000A", role="hq_admin")
        store = stores.create_store(StoreCreate(
            name="解放碑店", address="民族路188号", lat=29.5575, lng=106.5772, phone="023-63701234",
            opening_hours=[{"weekday": d, "open": "00:00", "close": "00:00"} for d in range(1, 8)])).store_id
        skus = [f"SKU-{i:03d}" for i in range(max(CARTS))]
        for sku in skus:
            catalog.create_product(ProductCreate(sku=sku, name=f"商品{sku}", category="drinks", price_fen=1000))
        for i in range(0, len(skus), 50):
            inventory.receive_goods(hq, store, ReceiptCreate(lines=[{"sku": s, "qty": 1000} for s in skus[i:i + 50]]))
        stores.chain()   # the store list is cached per process (30 s): a warm Lambda does not re-read it

        calls: Counter = Counter()
        for client in (Item._get_connection().connection.client, connection().client):
            client.meta.events.register("before-send.dynamodb", lambda **kw: calls.update(
                [kw["request"].headers["X-Amz-Target"].decode().split(".")[-1]]))

        member = Principal(sub="01JBENCHMEMBER000000000000", role="member")
        clerk = Principal(sub="01JBENCHC1ERK0000000000000", role="clerk", store_id=store)
        print(f"{'checkout':<34}{'lines':>6}{'requests':>10}  breakdown                                    ms")
        worst = 0
        for n in CARTS:
            lines = [{"sku": s, "qty": 1} for s in skus[:n]]
            for label, run in (
                ("shop order + Idempotency-Key", lambda: _with_key(idempotency, f"bench-{n}", lambda: orders.create_order(
                    member, ShopQuoteIn(lines=lines, store_id=store)))),
                ("POS sale (cash)", lambda: orders.pos_sale(clerk, PosSaleIn(lines=lines, payment={"method": "cash"}))),
            ):
                calls.clear()
                t0 = time.perf_counter()
                run()
                ms = (time.perf_counter() - t0) * 1000
                total = sum(calls.values())
                worst = max(worst, total)
                print(f"{label:<34}{n:>6}{total:>10}  {dict(calls)!s:<44}{ms:6.0f}")
        print(f"\nmost requests for one checkout: {worst} (goal: 2, independent of line count)")


def _with_key(idempotency, key: str, fn):
    idempotency.begin("bench#POST /shop/orders#", key, key.encode())
    try:
        return fn()
    finally:
        idempotency.end()


if __name__ == "__main__":
    main()
