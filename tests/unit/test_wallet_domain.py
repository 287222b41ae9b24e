"""Pure wallet rules: the proportional split of a payment (and of its refunds), a recharge's unspent parts,
recharge trade numbers, recharge amounts and the ledger's running balances."""

from __future__ import annotations

import itertools

import pytest

from chalicelib.core.errors import Conflict, ValidationFailed
from chalicelib.wallet import domain
from chalicelib.wallet.domain import Balance


def test_split_is_proportional_and_exact():
    # recharge 500 get 80: 50000 principal, 8000 bonus; an order of 100.00 takes 86.21 + 13.79
    assert domain.split(10000, Balance(50000, 8000)) == (8621, 1379)
    assert domain.split(58000, Balance(50000, 8000)) == (50000, 8000)  # everything
    assert domain.split(0, Balance(50000, 8000)) == (0, 0)
    assert domain.split(300, Balance(300, 0)) == (300, 0)  # no bonus
    assert domain.split(300, Balance(0, 300)) == (0, 300)  # only bonus


def test_split_rounds_the_principal_to_the_nearest_fen_a_half_going_to_the_principal():
    assert domain.split(1, Balance(1, 1)) == (1, 0)  # exactly half: principal
    assert domain.split(1, Balance(1, 2)) == (0, 1)  # 1/3 of a fen: rounds down
    assert domain.split(2, Balance(2, 1)) == (1, 1)  # 4/3: rounds to 1
    assert domain.split(5, Balance(4, 2)) == (3, 2)  # 20/6 = 3.33: 3


def test_split_never_exceeds_either_part_and_always_sums_to_the_amount():
    for p, b in itertools.product(range(0, 9), range(0, 9)):
        bal = Balance(p, b)
        for amount in range(0, p + b + 1):
            pp, bb = domain.split(amount, bal)
            assert pp + bb == amount and 0 <= pp <= p and 0 <= bb <= b, (amount, bal, pp, bb)


def test_split_of_more_than_the_balance_is_insufficient_balance():
    with pytest.raises(Conflict) as e:
        domain.split(58001, Balance(50000, 8000))
    assert e.value.code == "INSUFFICIENT_BALANCE" and e.value.status == 409
    assert e.value.details == {"needed_fen": 58001, "balance_fen": 58000, "principal_fen": 50000, "bonus_fen": 8000}
    with pytest.raises(Conflict):
        domain.split(1, domain.ZERO)
    with pytest.raises(ValueError):
        domain.split(-1, Balance(1, 1))


def test_refunds_split_by_the_payments_remaining_parts_give_back_exactly_what_was_paid():
    paid = domain.split(10000, Balance(50000, 8000))  # (8621, 1379)
    remaining = Balance(*paid)
    back = []
    for amount in (3333, 3333, 3334):
        part = domain.split(amount, remaining)
        back.append(part)
        remaining = remaining.plus(-part[0], -part[1])
    assert remaining == domain.ZERO
    assert (sum(p for p, _ in back), sum(b for _, b in back)) == paid


def test_unspent_is_per_part_the_smaller_of_the_recharge_and_the_wallet():
    recharge = Balance(50000, 8000)
    assert domain.unspent(recharge, Balance(58000, 8000)) == Balance(50000, 8000)  # untouched
    assert domain.unspent(recharge, Balance(41379, 6621)) == Balance(41379, 6621)  # spent 100 yuan of it
    assert domain.unspent(recharge, Balance(90000, 100)) == Balance(50000, 100)  # other recharges' money stays
    assert domain.unspent(recharge, domain.ZERO) == domain.ZERO


def test_recharge_trade_numbers_are_told_apart_from_order_ids():
    rid = "01JRECHARGE000000000000000"
    assert domain.trade_no(rid) == "R" + rid and len(domain.trade_no(rid)) <= 32
    assert domain.recharge_of(domain.trade_no(rid)) == rid
    assert domain.recharge_of(rid) is None  # an order id (a bare ULID)
    assert domain.recharge_of("R123") is None


def test_recharge_amounts_are_one_to_five_thousand_yuan():
    domain.check_amount(100)
    domain.check_amount(500000)
    for bad in (0, 99, 500001):
        with pytest.raises(ValidationFailed) as e:
            domain.check_amount(bad)
        assert e.value.code == "RECHARGE_AMOUNT_INVALID"


def test_running_balances_walk_back_from_the_latest():
    # oldest first: recharge +500/+80, pay -86.21/-13.79, refund +43.10/+6.90; newest first below
    deltas = [(4310, 690), (-8621, -1379), (50000, 8000)]
    latest = Balance(50000 - 8621 + 4310, 8000 - 1379 + 690)
    afters = domain.running_balances(latest, deltas)
    assert afters == [latest, Balance(41379, 6621), Balance(50000, 8000)]
    assert afters[-1].plus(-50000, -8000) == domain.ZERO
