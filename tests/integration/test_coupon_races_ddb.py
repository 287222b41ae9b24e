"""Coupons cannot be over-issued or used twice, on AWS's own DynamoDB Local, under real concurrency.

- 200 members race to claim a template with 50 in stock: exactly 50 coupons, stock 0, 150 SOLD_OUT.
- One member fires 20 claims at once at a template with a limit of 1: exactly one coupon.
- Two orders race for one coupon (online order and till sale): one wins, the other is refused, and the
  loser holds no stock.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

import pytest

from chalicelib.catalog import services as catalog
from chalicelib.catalog.schemas import ProductCreate
from chalicelib.core import clock, events
from chalicelib.core.auth import Principal
from chalicelib.core.errors import AppError
from chalicelib.core.ids import new_id
from chalicelib.coupons import domain as coupon_domain
from chalicelib.coupons import repository as coupon_repo
from chalicelib.coupons import services as coupons
from chalicelib.coupons.schemas import TemplateCreate
from chalicelib.identity import repository as identity
from chalicelib.inventory import repository as stock_repo
from chalicelib.inventory import services as inventory
from chalicelib.inventory.schemas import ReceiptCreate
from chalicelib.orders import checkout as order_checkout
from chalicelib.orders.schemas import PosSaleIn, ShopQuoteIn
from chalicelib.stores import services as stores
from chalicelib.stores.schemas import StoreCreate
from tests.helpers import member_code
from tests.integration.conftest import run_together, warm_up

HQ = Principal(sub="01JHQ00000000000000000000A", role="hq_admin")
NOON = datetime(2026, 11, 23, 4, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def quiet(monkeypatch):
    sink: list = []
    events.capture(sink)
    clock.set_clock(lambda: NOON)
    monkeypatch.setattr(coupon_domain, "CLAIMS_PER_MINUTE", 1000)  # these test races, not the rate limit
    yield sink
    events.capture(None)


def _template(stock: int, limit: int = 1) -> str:
    return coupons.create_template(
        HQ,
        TemplateCreate(
            title="满100减10",
            kind="amount_off",
            threshold_fen=10000,
            off_fen=1000,
            validity={"valid_days": 7},
            total_stock=stock,
            per_member_limit=limit,
        ),
    ).template_id


def _members(n: int) -> list[Principal]:
    out = []
    for i in range(n):
        m = identity.create_member(new_id(), f"race-openid-{i:04d}", None, None, None)
        out.append(Principal(sub=m.member_id, role="member"))
    return out


def _outcome(result) -> str:
    if isinstance(result, AppError):
        return result.code
    if isinstance(result, BaseException):
        raise result
    return "OK"


def test_200_members_race_for_50_coupons():
    tid = _template(stock=50)
    racers = _members(200)
    warm_up()
    race = run_together(200, lambda i: coupons.claim(racers[i], tid), timeout=180)
    race.assert_contended()
    results = race.results
    outcomes = Counter(_outcome(r) for r in results)
    assert outcomes == {"OK": 50, "COUPON_SOLD_OUT": 150}, outcomes
    tpl = coupon_repo.get_template(tid, consistent=True)
    assert (int(tpl.remaining), int(tpl.total_stock)) == (0, 50)
    issued = coupon_repo.all_template_coupons(tid)
    assert len(issued) == 50 and len({c.member_id for c in issued}) == 50
    # the ledger explains the balance: stock entries - coupons issued == remaining
    assert sum(int(a.delta) for a in coupon_repo.adjustments(tid)) - len(issued) == int(tpl.remaining)
    winners = {r.member_id for r in results if not isinstance(r, BaseException)}
    assert winners == {c.member_id for c in issued}
    assert all(coupon_repo.quota(m, tid) == (1 if m in winners else 0) for m in (p.sub for p in racers))


def test_one_member_racing_20_claims_with_limit_1_gets_one():
    tid = _template(stock=100, limit=1)
    (racer,) = _members(1)
    warm_up()
    race = run_together(20, lambda i: coupons.claim(racer, tid), timeout=120)
    race.assert_contended()
    results = race.results
    outcomes = Counter(_outcome(r) for r in results)
    assert outcomes == {"OK": 1, "COUPON_LIMIT_REACHED": 19}, outcomes
    assert len(coupon_repo.all_template_coupons(tid)) == 1
    assert int(coupon_repo.get_template(tid, consistent=True).remaining) == 99
    assert coupon_repo.quota(racer.sub, tid) == 1


@pytest.fixture
def store():
    s = stores.create_store(
        StoreCreate(
            name="解放碑店",
            address="重庆市渝中区民族路188号",
            lat=29.5575,
            lng=106.5772,
            phone="023-63701234",
            opening_hours=[{"weekday": d, "open": "00:00", "close": "00:00"} for d in range(1, 8)],
        )
    )
    catalog.create_product(ProductCreate(sku="WLY-52-500", name="五粮液", category="baijiu", price_fen=109900))
    inventory.receive_goods(HQ, s.store_id, ReceiptCreate(lines=[{"sku": "WLY-52-500", "qty": 100}]))
    return s.store_id


@pytest.mark.parametrize("rounds", [5])
def test_a_coupon_used_by_concurrent_orders_is_used_once(store, rounds):
    """Each round, six checkouts (three online orders, three till sales) race for one member's one coupon: one
    wins, five are refused, the losers take no stock. Over the rounds, DynamoDB cancelled some of the losers'
    transactions (they had read the coupon as free), so the refusal at the database really was exercised."""
    clerk = Principal(sub="01JC1ERK00000000000000000A", role="clerk", store_id=store)
    warm_up()
    racers, cancelled = 6, 0
    for n in range(rounds):  # several rounds: the winner must not depend on thread start order
        tid = _template(stock=1)
        (buyer,) = (
            _members(1)
            if n == 0
            else [
                Principal(
                    sub=identity.create_member(new_id(), f"coupon-buyer-{n}", None, None, None).member_id, role="member"
                )
            ]
        )
        cid = coupons.claim(buyer, tid).coupon_id
        lines = [{"sku": "WLY-52-500", "qty": 1}]
        code = member_code(buyer.sub)  # shown once at the till; every till racer sends it

        def checkout(i):
            if i % 2 == 0:
                return order_checkout.create_order(buyer, ShopQuoteIn(lines=lines, store_id=store, coupon_ids=[cid]))
            return order_checkout.pos_sale(
                clerk, PosSaleIn(lines=lines, member_code=code, coupon_ids=[cid], payment={"method": "cash"})
            )

        before = stock_repo.get_stock(store, "WLY-52-500", consistent=True).qty
        race = run_together(racers, checkout, timeout=60)
        race.assert_concurrent()
        cancelled += race.cancellations
        results = race.results
        outcomes = Counter(_outcome(r) for r in results)
        assert outcomes == {"OK": 1, "COUPON_UNAVAILABLE": racers - 1}, outcomes
        winner = next(r for r in results if not isinstance(r, BaseException))
        assert winner.discount_fen == 1000 and winner.applied[0]["id"] == cid
        c = coupon_repo.get_coupon(buyer.sub, cid)
        assert c.order_id == winner.order_id and c.status in (coupon_domain.LOCKED, coupon_domain.USED)
        # the losers took no stock
        assert stock_repo.get_stock(store, "WLY-52-500", consistent=True).qty == before - 1
    assert cancelled > 0, "no loser's transaction was cancelled by the database: the rounds never raced"
