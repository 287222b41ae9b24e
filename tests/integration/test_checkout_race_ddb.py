"""Overselling is impossible, on AWS's own DynamoDB Local, under a real rush of concurrent buyers.

500 buyers (threads, through the same service layer the API calls) race online orders and till sales for a
SKU with 50 units in one store: exactly 50 units are sold, stock ends at 0, the ledger sums to the balance,
and every loser got OUT_OF_STOCK. Then the same for two-line carts over two hot SKUs (no partial holds)."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

import pytest

from chalicelib.catalog import services as catalog
from chalicelib.catalog.schemas import ProductCreate
from chalicelib.core import clock, events
from chalicelib.core.auth import Principal
from chalicelib.core.errors import AppError
from chalicelib.inventory import repository as stock_repo
from chalicelib.inventory import services as inventory
from chalicelib.inventory.schemas import ReceiptCreate
from chalicelib.orders import checkout, payment
from chalicelib.orders.schemas import PosSaleIn, ShopQuoteIn
from chalicelib.stores import services as stores
from chalicelib.stores.schemas import StoreCreate
from tests.integration.conftest import run_together, warm_up

HQ = Principal(sub="01JHQ00000000000000000000A", role="hq_admin")
NOON = datetime(2026, 11, 23, 4, 0, tzinfo=UTC)


@pytest.fixture
def published():
    sink: list = []
    events.capture(sink)
    clock.set_clock(lambda: NOON)
    yield sink
    events.capture(None)


@pytest.fixture
def shop(published):
    store = stores.create_store(
        StoreCreate(
            name="解放碑店",
            address="重庆市渝中区民族路188号",
            lat=29.5575,
            lng=106.5772,
            phone="023-63701234",
            opening_hours=[{"weekday": d, "open": "00:00", "close": "00:00"} for d in range(1, 8)],
        )
    )
    for sku, price in (("HOT-1", 5000), ("HOT-2", 800)):
        catalog.create_product(ProductCreate(sku=sku, name=f"爆款{sku}", category="baijiu", price_fen=price))
    inventory.receive_goods(
        HQ, store.store_id, ReceiptCreate(lines=[{"sku": "HOT-1", "qty": 50}, {"sku": "HOT-2", "qty": 30}])
    )

    warm_up()
    return store.store_id


def _buyer(i: int) -> Principal:
    return Principal(sub=f"01JBUYER{i:018d}", role="member")


def _outcome(result) -> str:
    if isinstance(result, AppError):
        return result.code
    if isinstance(result, BaseException):
        raise result
    return "OK"


def test_500_buyers_and_till_race_for_50_units(shop):
    store_id = shop
    clerk = Principal(sub="01JC1ERK00000000000000000A", role="clerk", store_id=store_id)

    def buy(i: int):
        if i % 5 == 0:  # every fifth buyer is at the till
            return checkout.pos_sale(clerk, PosSaleIn(lines=[{"sku": "HOT-1", "qty": 1}], payment={"method": "cash"}))
        return checkout.create_order(
            _buyer(i), ShopQuoteIn(lines=[{"sku": "HOT-1", "qty": 1}], store_id=store_id, fulfillment="pickup")
        )

    race = run_together(500, buy, timeout=180)
    race.assert_contended()
    results = race.results
    outcomes = Counter(_outcome(r) for r in results)
    assert outcomes == {"OK": 50, "OUT_OF_STOCK": 450}, outcomes
    sold = [r for r in results if not isinstance(r, BaseException)]
    assert sum(ln.qty for o in sold for ln in o.lines) == 50
    assert any(o.channel == "pos" for o in sold) and any(o.channel == "shop" for o in sold)
    assert stock_repo.get_stock(store_id, "HOT-1", consistent=True).qty == 0
    ledger = [m.deltas.get("HOT-1", 0) for m in stock_repo.all_movements(store_id)]
    assert sum(ledger) == 0 and ledger.count(-1) == 50
    losers = [r for r in results if isinstance(r, AppError)]
    assert all(e.status == 409 and e.details["short"][0]["sku"] == "HOT-1" for e in losers)


def test_multi_line_carts_never_hold_partially(shop):
    store_id = shop
    # 40 buyers each want 2 x HOT-1 and 1 x HOT-2: at most 25 carts fit HOT-1 (50) and 30 fit HOT-2 (30).
    race = run_together(
        40,
        lambda i: checkout.create_order(
            _buyer(i), ShopQuoteIn(lines=[{"sku": "HOT-1", "qty": 2}, {"sku": "HOT-2", "qty": 1}], store_id=store_id)
        ),
        timeout=120,
    )
    race.assert_contended()
    results = race.results
    outcomes = Counter(_outcome(r) for r in results)
    assert outcomes == {"OK": 25, "OUT_OF_STOCK": 15}, outcomes
    hot1 = stock_repo.get_stock(store_id, "HOT-1", consistent=True).qty
    hot2 = stock_repo.get_stock(store_id, "HOT-2", consistent=True).qty
    assert (hot1, hot2) == (0, 5)  # 25 carts: 50 of HOT-1 and 25 of HOT-2, nothing more
    moves = stock_repo.all_movements(store_id)
    assert sum(m.deltas.get("HOT-1", 0) for m in moves) == hot1
    assert sum(m.deltas.get("HOT-2", 0) for m in moves) == hot2
    assert all(set(m.deltas) == {"HOT-1", "HOT-2"} for m in moves if m.move_kind == "order_hold")


def test_payment_applied_once_under_concurrent_replays(shop, published):
    store_id = shop
    order = checkout.create_order(_buyer(1), ShopQuoteIn(lines=[{"sku": "HOT-2", "qty": 2}], store_id=store_id))
    published.clear()
    race = run_together(
        15, lambda i: payment.apply_payment(order.order_id, "4200000000000000001", order.payable_fen, "wechat", None)
    )
    race.assert_contended()
    results = race.results
    assert Counter(results) == {"applied": 1, "duplicate": 14}, results
    assert [e.type for e in published].count("OrderPaid") == 1
