"""Time the pricing engine in-process (no I/O): a 50-line cart against 30 active promotions of every kind
(a few exclusive, so several options are evaluated) plus two stackable coupons, priced many times.

    .venv/bin/python bench/quote.py [runs]
"""

from __future__ import annotations

import random
import statistics
import sys
import time
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from _stack import ROOT  # importing _stack puts the project on sys.path

from chalicelib.pricing.domain import (
    BUY_N_GET_M,
    COMBO_GIFT,
    MEMBER_PRICE,
    NO_THRESHOLD,
    PERCENT,
    PERCENT_OFF,
    THRESHOLD,
    TIME_PRICE,
    BuyGetRule,
    CartLine,
    ComboGiftRule,
    CouponOffer,
    Gift,
    PercentRule,
    PriceRule,
    PricingContext,
    Promotion,
    Schedule,
    Scope,
    ThresholdRule,
    Tier,
    price_cart,
)

CATEGORIES = ["baijiu", "beer", "wine", "snacks", "drinks"]


def build(seed: int = 7):
    rnd = random.Random(seed)
    skus = [f"SKU-{i:03d}" for i in range(50)]
    cart = [
        CartLine(
            sku=s,
            name=f"商品{s}",
            qty=rnd.randint(1, 6),
            unit_price_fen=rnd.randint(300, 60_000),
            category=CATEGORIES[i % len(CATEGORIES)],
        )
        for i, s in enumerate(skus)
    ]
    always = Schedule(datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC))
    friday = Schedule(always.starts_at, always.ends_at, weekdays=frozenset({5}))

    def scope():
        pick = rnd.random()
        if pick < 0.3:
            return Scope()
        if pick < 0.7:
            return Scope(categories=frozenset(rnd.sample(CATEGORIES, 2)))
        return Scope(skus=frozenset(rnd.sample(skus, 8)))

    promos = []
    for i in range(30):
        kind = [
            THRESHOLD,
            THRESHOLD,
            THRESHOLD,
            PERCENT,
            BUY_N_GET_M,
            BUY_N_GET_M,
            COMBO_GIFT,
            MEMBER_PRICE,
            TIME_PRICE,
            THRESHOLD,
        ][i % 10]
        if kind == THRESHOLD:
            rule = (
                ThresholdRule(tiers=(Tier(20_000, 1_000), Tier(50_000, 3_000), Tier(100_000, 8_000)))
                if i % 2
                else ThresholdRule(every_fen=20_000, every_off_fen=1_000, max_off_fen=10_000)
            )
        elif kind == PERCENT:
            rule = PercentRule(rnd.randint(5, 20))
        elif kind == BUY_N_GET_M:
            rule = BuyGetRule(2, 1)
        elif kind == COMBO_GIFT:
            a, b = rnd.sample(skus, 2)
            rule = ComboGiftRule(((a, 1), (b, 1)), Gift("GIFT-CUP", "杯子", 1, 1_500))
        else:
            rule = PriceRule(tuple((s, rnd.randint(100, 30_000)) for s in rnd.sample(skus, 10)))
        sc = scope()
        if kind == MEMBER_PRICE:
            sc = Scope(min_level=1)
        promos.append(
            Promotion(
                promo_id=f"P{i:02d}",
                kind=kind,
                title=f"活动{i}",
                rule=rule,
                scope=sc,
                schedule=friday if i % 3 == 0 else always,
                priority=rnd.randint(0, 5),
                exclusive=i % 6 == 5,
                with_coupons=i % 4 != 3,
            )
        )
    coupons = [
        CouponOffer("C1", "T1", "无门槛5元", NO_THRESHOLD, off_fen=500, stackable=True),
        CouponOffer(
            "C2",
            "T2",
            "酒水9折",
            PERCENT_OFF,
            percent_off=10,
            cap_fen=5_000,
            stackable=True,
            scope=Scope(categories=frozenset({"baijiu", "wine"})),
        ),
    ]
    ctx = PricingContext(
        channel="shop",
        store_id="S1",
        at=datetime(2026, 11, 27, 4, 0, tzinfo=UTC),
        member_id="01JMEMBER00000000000000000",
        member_level=2,
        tz=ZoneInfo("Asia/Shanghai"),
    )
    return cart, promos, coupons, ctx


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 500
    cart, promos, coupons, ctx = build()
    gifts = {"GIFT-CUP": 10}
    first = price_cart(cart, ctx, promos, coupons, gifts)
    for _ in range(20):  # warm up
        price_cart(cart, ctx, promos, coupons, gifts)
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        q = price_cart(cart, ctx, promos, coupons, gifts)
        times.append((time.perf_counter() - t0) * 1000)
    assert q.applied == first.applied and q.payable_fen == first.payable_fen  # deterministic
    times.sort()
    live = sum(1 for p in promos if p.live(ctx))
    exclusive = sum(1 for p in promos if p.live(ctx) and p.exclusive)
    print(f"project: {ROOT}")
    print(f"cart: {len(cart)} lines, {sum(ln.qty for ln in cart)} units, subtotal {first.subtotal_fen / 100:.2f}")
    print(
        f"promotions: {len(promos)} active, {live} apply now (Friday, level-2 member), {exclusive} exclusive "
        f"-> {exclusive + 1} options evaluated; coupons: {len(coupons)} stackable"
    )
    print(
        f"result: discount {first.discount_fen / 100:.2f}, payable {first.payable_fen / 100:.2f}, "
        f"{len(first.applied)} rules applied, {len(first.hints)} hints, "
        f"{sum(1 for ln in first.lines if ln.gift)} gift lines"
    )
    print(
        f"quote time over {runs} runs: median {statistics.median(times):.2f} ms, "
        f"p95 {times[int(0.95 * (runs - 1))]:.2f} ms, max {times[-1]:.2f} ms (in-process, no I/O)"
    )


if __name__ == "__main__":
    main()
