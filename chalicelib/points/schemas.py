"""Request and response models of points: settings, check-ins, the ledger, staff adjustments."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import Field

from chalicelib.core.schemas import Body, Name, Out, PageOut, Ulid
from chalicelib.points import domain

Points = int


class StreakGiftIn(Body):
    day: int = Field(ge=1, le=366, description="The streak day that earns the gift (exactly that day)")
    template_id: Ulid = Field(description="A coupon template of purpose push, granted by the coupons domain")


class SettingsIn(Body):
    earn_per_yuan: int = Field(ge=0, le=1000, description="Points per yuan of the eligible paid amount")
    signup_points: int = Field(ge=0, le=1_000_000)
    checkin_points: int = Field(ge=0, le=100_000)
    checkin_streak_gifts: list[StreakGiftIn] = Field(default_factory=list, max_length=domain.MAX_STREAK_GIFTS)
    fen_per_point: int = Field(ge=1, le=10_000, description="Value of one point when redeemed, in fen")
    max_redeem_bp: int = Field(ge=0, le=10_000, description="Largest share of an order's payable paid by points")
    max_redeem_points: int = Field(ge=0, le=100_000_000, description="Most points one order may use")
    expiry: Literal["end_of_next_year", "never"]


class StreakGiftOut(Out):
    day: int
    template_id: str


class SettingsOut(Out):
    earn_per_yuan: int
    signup_points: int
    checkin_points: int
    checkin_streak_gifts: list[StreakGiftOut]
    fen_per_point: int
    max_redeem_bp: int
    max_redeem_points: int
    expiry: Literal["end_of_next_year", "never"]


class GiftOut(Out):
    coupon_id: str


class CheckinOut(Out):
    date: date
    streak_days: int
    points_awarded: int
    gift: GiftOut | None = Field(
        default=None,
        description="The streak gift's coupon, given with the check-in; null when no gift is due or it could not "
        "be given (template paused or ended, sold out, the member's limit)",
    )


class RefOut(Out):
    type: str
    id: str


class LedgerEntryOut(Out):
    entry_id: str
    at: datetime
    kind: str
    amount: int
    balance_after: int
    ref: RefOut | None = None


LedgerPage = PageOut[LedgerEntryOut]


class AdjustmentIn(Body):
    points: int = Field(ge=-10_000_000, le=10_000_000, description="Points added (+) or taken away (-); not 0")
    reason: Name


class AdjustmentOut(Out):
    member_id: str
    entry_id: str
    points: int
    balance: int
