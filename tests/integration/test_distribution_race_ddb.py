"""Commission money under real concurrency, on AWS's own DynamoDB Local.

- One WeChat Pay notification delivered 15 times at once (``orders.payment.apply_payment``, as the webhook calls it
  after verifying): the order is paid once and each commission record (level 1 and level 2) is written once, with
  one ledger entry each; the books balance.
- Two withdrawals of the whole available balance at once: exactly one succeeds, the other is refused by the
  balance condition (DynamoDB cancelled it: both had read a balance that covered them), never a negative balance.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

import pytest

from chalicelib.core import clock, events
from chalicelib.core.auth import Principal
from chalicelib.core.dynamo import transaction
from chalicelib.core.errors import Conflict
from chalicelib.core.ledger import business_day
from chalicelib.distribution import domain, repository, services
from chalicelib.distribution.schemas import WithdrawalIn
from chalicelib.orders import payment
from chalicelib.orders import repository as orders
from tests.integration.conftest import run_together, warm_up

NOON = datetime(2026, 11, 23, 4, 0, tzinfo=UTC)
A, B, C = "01JA11CE000000000000000000", "01JB0B00000000000000000000", "01JC0C00000000000000000000"


@pytest.fixture
def published():
    sink: list = []
    events.capture(sink)
    clock.set_clock(lambda: NOON)
    repository.put_rules({**domain.DEFAULTS, "enabled": True, "level1_bp": 1000, "level2_bp": 500}, "test")
    warm_up()
    yield sink
    events.capture(None)


def _pending_order(order_id: str) -> None:
    lines = [
        {
            "sku": "WLY-52-500",
            "name": "五粮液",
            "qty": 1,
            "unit_price_fen": 109900,
            "discount_fen": 0,
            "payable_fen": 109900,
            "gift": False,
            "refunded_qty": 0,
            "refunded_fen": 0,
        },
        {
            "sku": "CQ-BEER-500",
            "name": "啤酒",
            "qty": 10,
            "unit_price_fen": 600,
            "discount_fen": 0,
            "payable_fen": 6000,
            "gift": False,
            "refunded_qty": 0,
            "refunded_fen": 0,
        },
    ]
    item = orders.new_order(
        order_id,
        dict(
            channel="shop",
            status="PENDING_PAYMENT",
            store_id="01JST0RE000000000000000000",
            member_id=C,
            fulfillment="pickup",
            lines=lines,
            subtotal_fen=115900,
            discount_fen=0,
            payable_fen=115900,
            refunded_fen=0,
            referral={"uplines": [B, A], "overrides": {}},
        ),
    )
    with transaction() as tx:
        orders.add_order(tx, item)


def test_15_concurrent_deliveries_of_one_notification_write_each_record_once(published):
    order_id = "01JORDER000000000000000001"
    _pending_order(order_id)
    race = run_together(
        15, lambda i: payment.apply_payment(order_id, "4200000000202611230000000042", 115900, "wechat", None)
    )
    assert Counter(race.results) == {"applied": 1, "duplicate": 14}, race.results
    race.assert_contended()
    recs = repository.records_of_order(order_id)
    assert [(int(r.level), r.beneficiary, int(r.amount_fen)) for r in recs] == [(1, B, 10990 + 600), (2, A, 5495 + 300)]
    for who, frozen in ((B, 11590), (A, 5795)):
        assert repository.balances(repository.get_profile(who))["frozen"] == frozen
        assert [e.entry_kind for e in repository.entries(who)] == ["commission"]
    assert all(b.drift == 0 for b in repository.audit_changed(business_day(NOON)))
    assert [e.type for e in published].count("OrderPaid") == 1


def _fund(member_id: str, fen: int) -> None:
    with transaction() as tx:
        repository.add_change(tx, member_id, {"available": fen}, "settle", ("order", "01JORDER000000000000000009"))


def _outcome(result) -> str:
    if isinstance(result, Conflict) and result.code == "INSUFFICIENT_COMMISSION":
        return "INSUFFICIENT"
    if isinstance(result, BaseException):
        raise result
    return result.status


def test_two_withdrawals_of_the_whole_balance_one_wins(published):
    """Rounds of two requests at once (a fresh distributor each); every round exactly one wins; the refusals come
    from the balance condition in DynamoDB (cancellations seen), which a serial run would never produce."""
    cancellations = 0
    for n in range(6):
        member = f"01JW{n:022d}"
        _fund(member, 5000)
        who = Principal(sub=member, role="member")
        race = run_together(2, lambda i: services.request_withdrawal(who, WithdrawalIn(amount_fen=5000, to="wallet")))
        assert Counter(_outcome(r) for r in race.results) == {"PENDING_REVIEW": 1, "INSUFFICIENT": 1}, race
        cancellations += race.cancellations
        b = repository.balances(repository.get_profile(member))
        assert (b["available"], b["pending"]) == (0, 5000)  # never negative, never both
        entries = repository.entries(member)
        assert sum(int(e.available_delta) for e in entries) == 0 and sum(int(e.pending_delta) for e in entries) == 5000
    assert cancellations > 0, "no round was contended: not a race"
