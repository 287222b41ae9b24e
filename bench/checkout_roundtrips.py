"""Count DynamoDB requests per checkout (botocore event hook) for carts of 1, 10 and 50 lines, on DynamoDB
Local: an online order (with an Idempotency-Key) and a POS sale, each also with a member's coupon, points
redeemed, and (POS) paid from the wallet (with live promotions and member levels, read from the per-process
caches). Distribution is on and the buyer has two uplines, so every order snapshots them and every payment writes
commission records. Goal: 2 requests (one BatchGetItem, one TransactWriteItems) whatever the number of lines,
with or without a coupon, points or the wallet; a till sale naming a member also resolves the member code shown at
the till (one GetItem: the code is not the member id, so the cart's keys are known only after it), and when that
member has uplines, the sale (paid at once) reads their profiles for the commission records (one BatchGetItem: the
uplines are known only from the buyer's profile). The WeChat payment notification applied to the online order:
its requests, also independent of the number of lines.

    .venv/bin/python bench/checkout_roundtrips.py
"""

from __future__ import annotations

import json
import time
from collections import Counter
from datetime import UTC

from _stack import dynamodb_local

CARTS = (1, 10, 50)


def main() -> None:
    with dynamodb_local():
        from datetime import datetime

        from chalicelib.catalog import services as catalog
        from chalicelib.catalog.schemas import ProductCreate
        from chalicelib.core import clock, events, idempotency
        from chalicelib.core.auth import Principal
        from chalicelib.core.dynamo import Item, connection
        from chalicelib.core.ids import new_id
        from chalicelib.coupons import services as coupons
        from chalicelib.coupons.schemas import TemplateCreate
        from chalicelib.identity import repository as identity
        from chalicelib.inventory import services as inventory
        from chalicelib.inventory.schemas import ReceiptCreate
        from chalicelib.orders import checkout, payment
        from chalicelib.orders.schemas import PosSaleIn, ShopQuoteIn
        from chalicelib.promotions import services as promotions
        from chalicelib.promotions.schemas import PromotionCreate
        from chalicelib.stores import services as stores
        from chalicelib.stores.schemas import StoreCreate

        events.capture([])
        clock.set_clock(lambda: datetime(2026, 11, 23, 4, 0, tzinfo=UTC))
        hq = Principal(sub="01JHQ00000000000000000000A", role="hq_admin")
        store = stores.create_store(
            StoreCreate(
                name="解放碑店",
                address="民族路188号",
                lat=29.5575,
                lng=106.5772,
                phone="023-63701234",
                opening_hours=[{"weekday": d, "open": "00:00", "close": "00:00"} for d in range(1, 8)],
            )
        ).store_id
        skus = [f"SKU-{i:03d}" for i in range(max(CARTS))]
        for sku in skus:
            catalog.create_product(ProductCreate(sku=sku, name=f"商品{sku}", category="drinks", price_fen=1000))
        for i in range(0, len(skus), 50):
            inventory.receive_goods(hq, store, ReceiptCreate(lines=[{"sku": s, "qty": 1000} for s in skus[i : i + 50]]))
        year = {"starts_at": "2026-01-01T00:00:00+08:00", "ends_at": "2027-01-01T00:00:00+08:00"}
        for body in (
            {
                "title": "满200减10",
                "rule": {"kind": "threshold", "tiers": [{"min_fen": 20000, "off_fen": 1000}]},
                "schedule": year,
            },
            {
                "title": "买二送一",
                "rule": {"kind": "buy_n_get_m", "buy_qty": 2, "free_qty": 1},
                "scope": {"skus": skus[:3]},
                "schedule": year,
            },
        ):
            promotions.create(hq, PromotionCreate.model_validate_json(json.dumps(body)))
        tpl = coupons.create_template(
            hq,
            TemplateCreate(
                title="无门槛1元",
                kind="no_threshold",
                off_fen=100,
                validity={"valid_days": 7},
                total_stock=1000,
                per_member_limit=100,
            ),
        ).template_id
        buyer = identity.create_member(new_id(), "bench-openid", None, None, "bench")
        from chalicelib.identity import services as identity_services
        from chalicelib.points import services as points
        from chalicelib.points.schemas import AdjustmentIn
        from chalicelib.wallet import services as wallet
        from chalicelib.wallet.schemas import PosRechargeIn

        clerk0 = Principal(sub="01JBENCHC1ERK0000000000000", role="clerk", store_id=store)
        points.adjust(hq, buyer.member_id, AdjustmentIn(points=10**6, reason="bench"))
        for _ in range(10):
            code0 = identity_services.my_code(Principal(sub=buyer.member_id, role="member")).member_code
            wallet.till_recharge(
                clerk0, PosRechargeIn(member_code=code0, amount_fen=500000, payment={"method": "cash"})
            )
        from chalicelib.distribution import services as distribution
        from chalicelib.distribution.schemas import DistributionSettings

        distribution.put_settings(hq, DistributionSettings(enabled=True, level1_bp=1000, level2_bp=500))
        upline1 = identity.create_member(new_id(), "bench-upline1", None, None, "A").member_id
        upline2 = identity.create_member(new_id(), "bench-upline2", None, None, "Z").member_id
        rules = distribution.get_settings().model_dump()
        assert distribution.bind(upline1, upline2, None, rules) is None
        assert distribution.bind(buyer.member_id, upline1, None, rules) is None
        stores.chain()  # the store list and the live promotions are cached per process (30 s):
        promotions.live()  # a warm Lambda does not re-read them; likewise the member levels and points rules
        from chalicelib.members import services as member_levels

        member_levels.levels()
        points.rules()

        calls: Counter = Counter()
        clients = {id(c): c for c in (Item._get_connection().connection.client, connection().client)}
        for client in clients.values():  # one shared client today: count each request once
            client.meta.events.register(
                "before-send.dynamodb",
                lambda **kw: calls.update([kw["request"].headers["X-Amz-Target"].decode().split(".")[-1]]),
            )

        member = Principal(sub=buyer.member_id, role="member")
        clerk = Principal(sub="01JBENCHC1ERK0000000000000", role="clerk", store_id=store)
        claimed = [coupons.claim(member, tpl).coupon_id for _ in range(2 * len(CARTS))]
        print(f"{'checkout':<50}{'lines':>6}{'requests':>10}  breakdown                                    ms")
        worst, pay_worst, pay_rows = 0, 0, []
        for n in CARTS:
            lines = [{"sku": s, "qty": 1} for s in skus[:n]]
            c1, c2 = claimed.pop(), claimed.pop()
            code = identity_services.my_code(member).member_code
            for label, run in (
                (
                    "shop order + Idempotency-Key",
                    lambda: _with_key(
                        idempotency,
                        f"bench-{n}",
                        lambda: checkout.create_order(member, ShopQuoteIn(lines=lines, store_id=store)),
                    ),
                ),
                (
                    "shop order + key + coupon + points",
                    lambda: _with_key(
                        idempotency,
                        f"bench-c-{n}",
                        lambda: checkout.create_order(
                            member, ShopQuoteIn(lines=lines, store_id=store, coupon_ids=[c1], points=100)
                        ),
                    ),
                ),
                (
                    "POS sale (cash)",
                    lambda: checkout.pos_sale(clerk, PosSaleIn(lines=lines, payment={"method": "cash"})),
                ),
                (
                    "POS sale + member code + coupon + points + wallet",
                    lambda: checkout.pos_sale(
                        clerk,
                        PosSaleIn(
                            lines=lines, member_code=code, coupon_ids=[c2], points=100, payment={"method": "wallet"}
                        ),
                    ),
                ),
            ):
                calls.clear()
                t0 = time.perf_counter()
                out = run()
                ms = (time.perf_counter() - t0) * 1000
                total = sum(calls.values())
                # a member's till sale: + the member code's GetItem and the uplines' BatchGetItem (see the docstring)
                worst = max(worst, total - (calls.get("GetItem", 0) + 1 if "member code" in label else 0))
                note = (
                    f"  (-{out.discount_fen} fen: {', '.join(a['rule'] for a in out.applied)})" if out.applied else ""
                )
                print(f"{label:<50}{n:>6}{total:>10}  {dict(calls)!s:<44}{ms:6.0f}{note}")
                if label == "shop order + Idempotency-Key":
                    assert out.payable_fen > 0
                    pay_rows.append((n, out.order_id, out.payable_fen))
        for n, order_id, amount in pay_rows:
            calls.clear()
            t0 = time.perf_counter()
            assert payment.apply_payment(order_id, f"BENCH-TX-{n}", amount, "wechat", None) == "applied"
            ms = (time.perf_counter() - t0) * 1000
            total = sum(calls.values())
            pay_worst = max(pay_worst, total)
            label = "payment notification applied (2 uplines earn)"
            print(f"{label:<50}{n:>6}{total:>10}  {dict(calls)!s:<44}{ms:6.0f}")
        print(
            f"\nmost requests for one checkout: {worst} (goal: 2, independent of line count, coupons, points and "
            "the wallet); a till sale with a member code adds its one GetItem, and one BatchGetItem of the uplines'"
            " profiles when the member has uplines (shown in the breakdown)"
        )
        print(f"most requests for one payment notification: {pay_worst} (the same for 1, 10 and 50 lines)")


def _with_key(idempotency, key: str, fn):
    idempotency.begin("bench#POST /shop/orders#", key, key.encode())
    try:
        return fn()
    finally:
        idempotency.end()


if __name__ == "__main__":
    main()
