"""A wallet never goes negative, on AWS's own DynamoDB Local, under a real rush of concurrent payments.

50 payments (threads, each through ``wallet.repository.add_payment`` inside its own ``transaction()``, as the
orders domain pays) race for a balance that covers 10 of them: exactly 10 succeed, the other 40 are refused by the
balance condition (``TxCancelled`` naming the wallet's tag, i.e. INSUFFICIENT_BALANCE), the balance ends at 0 and
never goes below, and the ledger sums to the balance. Then 20 concurrent deliveries of one WeChat notification
credit a recharge once."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

import pytest

from chalicelib.core import clock, events
from chalicelib.core.dynamo import TxCancelled, transaction
from chalicelib.wallet import domain, repository, services
from chalicelib.wallet.domain import Balance
from tests.integration.conftest import run_together, warm_up

NOON = datetime(2026, 11, 23, 4, 0, tzinfo=UTC)
MEMBER = "01JWA11ET00000000000000000"


@pytest.fixture
def published():
    sink: list = []
    events.capture(sink)
    clock.set_clock(lambda: NOON)
    warm_up()
    yield sink
    events.capture(None)


def _outcome(result) -> str:
    if result is None:
        return "OK"
    if isinstance(result, TxCancelled) and result.failed == [repository.balance_tag(MEMBER)]:
        return "INSUFFICIENT_BALANCE"
    raise result if isinstance(result, BaseException) else AssertionError(result)


def test_50_payments_race_for_a_balance_that_covers_10(published):
    with transaction() as tx:  # recharge 80 get 20: 100.00 in the wallet
        repository.add_credit(tx, MEMBER, 8000, 2000, "01JRECHARGE000000000000000")
    price = 1000  # each order costs 10.00: the wallet covers exactly 10
    principal, bonus = domain.split(price, repository.get_balance(MEMBER))
    assert (principal, bonus) == (800, 200)

    def pay(i: int):
        with transaction() as tx:
            repository.add_payment(tx, MEMBER, principal, bonus, "order", f"01JORDER{i:018d}")

    race = run_together(50, pay)
    outcomes = Counter(_outcome(r) for r in race.results)
    assert outcomes == {"OK": 10, "INSUFFICIENT_BALANCE": 40}, outcomes
    race.assert_contended()
    assert repository.get_balance(MEMBER) == domain.ZERO  # never below 0: it ends exactly at 0
    entries = repository.all_entries(MEMBER)
    assert Counter(e.entry_kind for e in entries) == {"recharge": 1, "payment": 10}
    assert sum(int(e.principal_delta) for e in entries) == 0 and sum(int(e.bonus_delta) for e in entries) == 0
    running = domain.ZERO
    for e in entries:  # in entry order the balance never dips below zero either
        running = running.plus(int(e.principal_delta), int(e.bonus_delta))
        assert running.principal_fen >= 0 and running.bonus_fen >= 0
    paid_refs = {e.ref_id for e in entries if e.entry_kind == "payment"}
    assert paid_refs == {f"01JORDER{i:018d}" for i, r in enumerate(race.results) if r is None}


def test_20_concurrent_deliveries_of_one_notification_credit_a_recharge_once(published):
    rid = "01JRECHARGE000000000000001"
    item = repository.new_recharge(
        rid, MEMBER, dict(channel="shop", status=domain.PENDING_PAYMENT, pay_fen=50000, bonus_fen=8000)
    )
    repository.put_recharge(item)

    race = run_together(
        20, lambda i: services.apply_recharge_payment(domain.trade_no(rid), "4200000000202611230000000001", 50000, None)
    )
    assert not [r for r in race.results if isinstance(r, BaseException)], race.results
    assert Counter(race.results) == {"applied": 1, "duplicate": 19}
    race.assert_concurrent()
    assert repository.get_balance(MEMBER) == Balance(50000, 8000)
    assert [e.entry_kind for e in repository.all_entries(MEMBER)] == ["recharge"]
    assert [e.type for e in published] == ["WalletRecharged"]
    assert repository.get_recharge(rid).status == domain.PAID
