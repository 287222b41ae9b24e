"""Pure rules of points: earning, redeeming, refunds in proportion, lot expiry dates, FIFO of lots, streaks.

No boto3, no PynamoDB, no Chalice. Points and fen are integers everywhere.

FIFO without reading lots: every credit creates a lot at offset ``start`` = the account's ``earned`` total before
it (lots lie end to end on one line, oldest first). Everything that takes points away (a redemption, an
expiry, a claw-back, a negative adjustment) only lowers the balance, so the points ever taken out of lots are
``consumed = earned + unlotted - balance`` (``unlotted``: points returned blind by a cancelled checkout, not yet
put in a lot). ``consumed`` never decreases, and points are always taken from the lowest offsets first, so what
is left of a lot is a function of the account alone (:func:`lot_left`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, Protocol

from chalicelib.pricing import domain as engine

END_OF_NEXT_YEAR = "end_of_next_year"
NEVER = "never"
EXPIRY_POLICIES = (END_OF_NEXT_YEAR, NEVER)

# Ledger kinds: credits (each creates a lot) and debits.
SIGNUP, EARN, CHECKIN, ADJUSTMENT, RETURN, REFUND_RETURN = (
    "signup",
    "earn",
    "checkin",
    "adjustment",
    "return",
    "refund_return",
)
REDEEM, REFUND_TAKEBACK, EXPIRE = "redeem", "refund_takeback", "expire"
KINDS = (SIGNUP, EARN, CHECKIN, ADJUSTMENT, RETURN, REFUND_RETURN, REDEEM, REFUND_TAKEBACK, EXPIRE)

FULL_BP = 10_000
MAX_STREAK_GIFTS = 10


@dataclass(frozen=True)
class StreakGift:
    day: int
    template_id: str


@dataclass(frozen=True)
class Rules:
    """The points settings (head office). Defaults: 1 point per yuan, 100 points = 1 yuan, at most half of an
    order's payable and 10,000 points per order, lots expire at the end of the year after they were earned."""

    earn_per_yuan: int = 1
    signup_points: int = 100
    checkin_points: int = 5
    checkin_streak_gifts: tuple[StreakGift, ...] = field(default_factory=tuple)
    fen_per_point: int = 1
    max_redeem_bp: int = 5000
    max_redeem_points: int = 10_000
    expiry: str = END_OF_NEXT_YEAR

    def to_dict(self) -> dict[str, Any]:
        return {
            "earn_per_yuan": self.earn_per_yuan,
            "signup_points": self.signup_points,
            "checkin_points": self.checkin_points,
            "checkin_streak_gifts": [{"day": g.day, "template_id": g.template_id} for g in self.checkin_streak_gifts],
            "fen_per_point": self.fen_per_point,
            "max_redeem_bp": self.max_redeem_bp,
            "max_redeem_points": self.max_redeem_points,
            "expiry": self.expiry,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Rules:
        gifts = tuple(StreakGift(int(g["day"]), g["template_id"]) for g in d.get("checkin_streak_gifts") or ())
        ints = ("earn_per_yuan", "signup_points", "checkin_points", "fen_per_point", "max_redeem_bp")
        return cls(
            **{k: int(d[k]) for k in ints if k in d},
            max_redeem_points=int(d.get("max_redeem_points", cls.max_redeem_points)),
            checkin_streak_gifts=gifts,
            expiry=d.get("expiry", END_OF_NEXT_YEAR),
        )


class RedeemRules(Protocol):
    fen_per_point: int
    max_redeem_bp: int
    max_redeem_points: int


# --------------------------------------------------------------------------------------- redeeming
def redeemable(points_wanted: int, balance: int, payable_fen: int, settings: RedeemRules) -> tuple[int, int]:
    """How many of ``points_wanted`` an order of ``payable_fen`` (before points) may use, and their value in fen:
    the pricing engine's rule (:func:`chalicelib.pricing.domain.points_redeemable`), which the checkout applies."""
    offer = engine.PointsOffer(
        wanted=points_wanted,
        balance=balance,
        fen_per_point=int(settings.fen_per_point),
        max_redeem_bp=int(settings.max_redeem_bp),
        max_redeem_points=int(settings.max_redeem_points),
    )
    points = engine.points_redeemable(offer, payable_fen)
    return points, points * int(settings.fen_per_point)


# --------------------------------------------------------------------------------------- earning
def eligible_fen(order: dict[str, Any]) -> int:
    """The part of a completed order's paid amount that earns points: the payable (already net of the points'
    discount, an ``applied`` entry) without the delivery fee and without what the wallet's bonus paid, and in
    proportion to what was not refunded before completion. Fields the order snapshot may not carry yet are
    read defensively (missing or not an integer = 0)."""
    payable = _int(order.get("payable_fen"))
    delivery = _int(order.get("delivery_fen"))
    wallet = (order.get("payment") or {}).get("wallet") if isinstance(order.get("payment"), dict) else None
    bonus = _int(wallet.get("bonus_fen")) if isinstance(wallet, dict) else 0
    base = max(0, payable - delivery - bonus)
    refunded = min(_int(order.get("refunded_fen")), payable)
    # refunded before it completed: only what was kept earns
    return base * (payable - refunded) // payable if refunded > 0 else base


def multiplier_bp(order: dict[str, Any]) -> int:
    level = order.get("member_level") or {}
    value = level.get("points_multiplier_bp") if isinstance(level, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else FULL_BP


def order_points(order: dict[str, Any], earn_per_yuan: int) -> int:
    """floor(eligible yuan x earn_per_yuan x multiplier_bp / 10000), computed in fen so nothing is lost to an
    early rounding: 12.99 yuan at 1 point per yuan and 1.5x earns floor(12.99 x 1.5) = 19."""
    return eligible_fen(order) * earn_per_yuan * multiplier_bp(order) // (100 * FULL_BP)


def _int(v: Any) -> int:
    return v if isinstance(v, int) and not isinstance(v, bool) else 0


def redeemed_points(applied: list[dict[str, Any]] | None) -> int:
    """Points an order used: its ``applied`` entries of kind "points" carry ``points``."""
    return sum(_int(a.get("points")) for a in applied or [] if isinstance(a, dict) and a.get("kind") == "points")


# --------------------------------------------------------------------------------------- refunds
def proportional(total: int, refunded_before_fen: int, refund_fen: int, payable_fen: int) -> int:
    """This refund's share of ``total`` points: the cumulative share after it minus the one before it, both
    floored, so partial refunds add up to exactly ``total`` once the whole payable is refunded."""
    if total <= 0 or payable_fen <= 0 or refund_fen <= 0:
        return 0
    after = min(refunded_before_fen + refund_fen, payable_fen)
    before = min(max(refunded_before_fen, 0), payable_fen)
    return total * after // payable_fen - total * before // payable_fen


# --------------------------------------------------------------------------------------- lots
def expires_on(earned_on: date, policy: str) -> date | None:
    """A lot's last valid day: Dec 31 of the year after it was earned (business day), or never."""
    if policy == NEVER:
        return None
    return date(earned_on.year + 1, 12, 31)


def consumed(earned: int, unlotted: int, balance: int) -> int:
    """Points ever taken out of lots (see the module docstring); never decreases."""
    return earned + unlotted - balance


def lot_left(start: int, amount: int, consumed_total: int) -> int:
    """What is left of the lot [start, start + amount) when the first ``consumed_total`` points are gone (FIFO)."""
    return max(0, min(amount, start + amount - consumed_total))


# --------------------------------------------------------------------------------------- check-ins
def streak(today: date, last_day: date | None, last_streak: int) -> int:
    """The streak continues from yesterday's check-in, otherwise starts again at 1."""
    return last_streak + 1 if last_day is not None and last_day == today - timedelta(days=1) else 1


def gift_for(streak_days: int, gifts: tuple[StreakGift, ...]) -> StreakGift | None:
    """The gift for reaching exactly this streak day (a streak that goes on past the last gift earns no more
    gifts until it breaks and starts again)."""
    return next((g for g in gifts if g.day == streak_days), None)
