"""Pure points rules: redeemable points, earning per yuan and level, refunds in proportion, lot expiry dates,
FIFO lots from the account alone, check-in streaks and gifts, settings round trip."""

from __future__ import annotations

from datetime import date

import pytest

from chalicelib.points import domain
from chalicelib.points.domain import Rules, StreakGift

R = Rules(fen_per_point=1, max_redeem_bp=5000, max_redeem_points=10_000)


# --------------------------------------------------------------------------------------- redeeming
@pytest.mark.parametrize(
    ("wanted", "balance", "payable", "rules", "expected"),
    [
        (300, 1000, 10_000, R, (300, 300)),  # all of it
        (300, 200, 10_000, R, (200, 200)),  # no more than the balance
        (9000, 20_000, 10_000, R, (5000, 5000)),  # at most 50 % of the payable
        (20_000, 50_000, 100_000, R, (10_000, 10_000)),  # at most max_redeem_points
        (500, 500, 100, Rules(max_redeem_bp=10_000), (99, 99)),  # never a 0-fen order: 1 fen is left
        (500, 500, 1, Rules(max_redeem_bp=10_000), (0, 0)),  # a 1-fen order: nothing
        (7, 1000, 1000, Rules(fen_per_point=10, max_redeem_bp=10_000), (7, 70)),  # 10 fen a point
        (1000, 1000, 1005, Rules(fen_per_point=10, max_redeem_bp=10_000), (100, 1000)),  # whole points only
        (1000, 1000, 1000, Rules(fen_per_point=10, max_redeem_bp=10_000), (99, 990)),  # 1000 would make it 0
        (0, 1000, 1000, R, (0, 0)),
        (-5, 1000, 1000, R, (0, 0)),
        (100, -30, 1000, R, (0, 0)),  # a negative balance (after a claw-back) redeems nothing
        (100, 1000, 1000, Rules(max_redeem_bp=0), (0, 0)),
        (100, 1000, 1000, Rules(max_redeem_points=0), (0, 0)),
    ],
)
def test_redeemable(wanted, balance, payable, rules, expected):
    points, value = domain.redeemable(wanted, balance, payable, rules)
    assert (points, value) == expected
    assert value < payable or value == 0
    assert points <= max(balance, 0)


def test_redeemable_takes_any_settings_object():
    class S:
        fen_per_point, max_redeem_bp, max_redeem_points = 2, 10_000, 50

    assert domain.redeemable(100, 100, 10_000, S()) == (50, 100)


# --------------------------------------------------------------------------------------- earning
def test_order_points_per_yuan_and_level_multiplier():
    order = {"payable_fen": 12_999}
    assert domain.order_points(order, 1) == 129  # floor(129.99)
    assert domain.order_points(order, 2) == 259  # floor(259.98), not 2 x 129
    assert domain.order_points({**order, "member_level": {"points_multiplier_bp": 15_000}}, 1) == 194
    assert domain.order_points({**order, "member_level": None}, 1) == 129
    assert domain.order_points({**order, "member_level": {"points_multiplier_bp": "2x"}}, 1) == 129
    assert domain.order_points({"payable_fen": 99}, 1) == 0
    assert domain.order_points({}, 1) == 0


def test_eligible_excludes_delivery_wallet_bonus_and_what_was_refunded_before_completion():
    order = {"payable_fen": 10_000, "delivery_fen": 500, "payment": {"method": "wallet", "wallet": {"bonus_fen": 1500}}}
    assert domain.eligible_fen(order) == 8000
    assert domain.eligible_fen({**order, "refunded_fen": 5000}) == 4000
    assert domain.eligible_fen({"payable_fen": 10_000, "payment": {"method": "wechat"}}) == 10_000
    assert domain.eligible_fen({"payable_fen": 10_000, "payment": None, "delivery_fen": None}) == 10_000
    assert domain.eligible_fen({"payable_fen": 300, "delivery_fen": 500}) == 0


def test_redeemed_points_read_from_applied():
    applied = [
        {"kind": "coupon", "id": "x", "discount_fen": 100},
        {"kind": "points", "points": 250, "discount_fen": 250},
        {"kind": "points", "points": "bad"},
    ]
    assert domain.redeemed_points(applied) == 250
    assert domain.redeemed_points(None) == 0


# --------------------------------------------------------------------------------------- refunds
def test_refunds_in_proportion_add_up_exactly():
    total, payable = 333, 10_000
    parts = [3000, 3000, 4000]
    got, before = [], 0
    for p in parts:
        got.append(domain.proportional(total, before, p, payable))
        before += p
    assert got == [99, 100, 134] and sum(got) == total
    assert domain.proportional(total, 0, payable, payable) == total
    assert domain.proportional(0, 0, 100, payable) == 0
    assert domain.proportional(100, 0, 0, payable) == 0
    assert domain.proportional(100, 9000, 5000, payable) == 10  # never past the whole payable


# --------------------------------------------------------------------------------------- lots
def test_lots_expire_at_the_end_of_the_next_year():
    assert domain.expires_on(date(2026, 1, 1), domain.END_OF_NEXT_YEAR) == date(2027, 12, 31)
    assert domain.expires_on(date(2026, 12, 31), domain.END_OF_NEXT_YEAR) == date(2027, 12, 31)
    assert domain.expires_on(date(2026, 6, 1), domain.NEVER) is None


def test_fifo_lots_from_the_account_alone():
    # lots [0,100) [100,150) [150,200); 120 points consumed
    used = domain.consumed(earned=200, unlotted=0, balance=80)
    assert used == 120
    assert [domain.lot_left(s, a, used) for s, a in ((0, 100), (100, 50), (150, 50))] == [0, 30, 50]
    # 30 returned blind (unlotted): consumption does not go back, the 30 wait for a lot of their own
    assert domain.consumed(earned=200, unlotted=30, balance=110) == 120
    # a claw-back below 0: every lot is used up
    assert domain.lot_left(150, 50, domain.consumed(200, 0, -10)) == 0


# --------------------------------------------------------------------------------------- check-ins
def test_streak_continues_from_yesterday_only():
    today = date(2026, 12, 2)
    assert domain.streak(today, date(2026, 12, 1), 6) == 7
    assert domain.streak(today, date(2026, 11, 30), 6) == 1
    assert domain.streak(today, None, 0) == 1
    assert domain.streak(date(2027, 1, 1), date(2026, 12, 31), 3) == 4  # over the year end


def test_gift_on_exactly_that_streak_day():
    gifts = (StreakGift(3, "T3"), StreakGift(7, "T7"))
    assert [domain.gift_for(d, gifts) for d in (1, 3, 6, 7, 8, 14)] == [
        None,
        StreakGift(3, "T3"),
        None,
        StreakGift(7, "T7"),
        None,
        None,
    ]


def test_rules_round_trip_and_defaults():
    r = Rules(checkin_streak_gifts=(StreakGift(7, "T"),), expiry=domain.NEVER)
    assert Rules.from_dict(r.to_dict()) == r
    assert Rules.from_dict({}) == Rules()
    assert Rules().expiry == domain.END_OF_NEXT_YEAR and Rules().fen_per_point == 1
