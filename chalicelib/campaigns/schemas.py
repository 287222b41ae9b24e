from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, AwareDatetime, Field, StringConstraints, model_validator

from chalicelib.core.schemas import Body, Name, Out, PageOut, PageQuery, Text, Ulid

TagName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40, pattern=r"^[^#\s/]+$")]
Count = Annotated[int, Field(ge=0, le=10**6)]
Days = Annotated[int, Field(ge=0, le=36500)]
Fen = Annotated[int, Field(ge=0, le=10**11)]


def _eventbridge_years(v: datetime) -> datetime:
    """EventBridge schedules stop at 2199 (and a time near year 1 or 9999 does not survive a change of zone)."""
    if not 1970 <= v.year <= 2199:
        raise ValueError("a time between 1970 and 2199")
    return v.astimezone(UTC)


When = Annotated[AwareDatetime, AfterValidator(_eventbridge_years)]


class TagIn(Body):
    name: TagName
    description: Text | None = None


class TagOut(Out):
    name: str
    description: str | None = None
    rule: bool = False  # a rule tag (recomputed nightly), not given by hand


class TagsOut(Out):
    items: list[TagOut]
    next: str | None = None


class MemberTagsOut(Out):
    member_id: str
    tags: list[str]


class Rules(Body):
    level_ids: list[Annotated[str, StringConstraints(max_length=40)]] | None = Field(default=None, max_length=20)
    tags_any: list[TagName] | None = Field(default=None, max_length=20)
    tags_none: list[TagName] | None = Field(default=None, max_length=20)
    store_ids: list[Ulid] | None = Field(default=None, max_length=50)
    last_order_days_min: Days | None = None
    last_order_days_max: Days | None = None
    orders_min: Count | None = None
    orders_max: Count | None = None
    spend_fen_min: Fen | None = None
    spend_fen_max: Fen | None = None
    birthday: Literal["today", "this_month"] | None = None
    registered_days_min: Days | None = None
    registered_days_max: Days | None = None


class SegmentIn(Body):
    name: Name
    rules: Rules


class SegmentOut(Out):
    segment_id: str
    name: str
    rules: dict[str, Any]
    created_at: datetime | None = None


class SegmentMember(Out):
    member_id: str
    level_id: str | None = None
    tags: list[str]
    orders: int
    spend_fen: int
    last_order_at: str | None = None
    birthday: str | None = None


class PreviewOut(Out):
    count: int
    sample: list[SegmentMember]


class AtIn(Body):
    at: When


class CouponAction(Body):
    type: Literal["coupon"]
    template_id: Ulid


class SmsAction(Body):
    type: Literal["sms"]
    template: Annotated[str, StringConstraints(max_length=60)]
    params: dict[str, Annotated[str, StringConstraints(max_length=200)]] = Field(default_factory=dict, max_length=10)


Schedule = Annotated[str, StringConstraints(max_length=120)] | AtIn
# event-triggered campaigns (contract addition): a completed order refund, a refunded wallet recharge
Trigger = Literal["refund_completed", "recharge_refunded"]


class CampaignIn(Body):
    name: Name
    segment_id: Ulid | None = None
    recipe: Literal["dormant_wakeup", "birthday"] | None = None
    schedule: Schedule | None = None
    trigger: Trigger | None = None
    min_refund_fen: Fen | None = None  # with a trigger: only refunds of at least this amount
    actions: list[Annotated[CouponAction | SmsAction, Field(discriminator="type")]] = Field(min_length=1, max_length=2)
    member_cap_days: Days = 0
    budget_coupons: Count | None = None
    start_at: When | None = None
    end_at: When | None = None

    @model_validator(mode="after")
    def _one_audience(self):
        if (self.schedule is None) == (self.trigger is None):
            raise ValueError("give exactly one of schedule and trigger")
        if self.trigger is not None and self.recipe is not None:
            raise ValueError("a triggered campaign reaches the refund's member (segment_id may narrow it): no recipe")
        if self.trigger is None and (self.segment_id is None) == (self.recipe is None):
            raise ValueError("give exactly one of segment_id and recipe")
        if self.trigger is None and self.min_refund_fen is not None:
            raise ValueError("min_refund_fen goes with a trigger")
        if self.start_at and self.end_at and self.end_at <= self.start_at:
            raise ValueError("end_at must be after start_at")
        return self


class CampaignOut(Out):
    campaign_id: str
    name: str
    segment_id: str | None = None
    recipe: str | None = None
    schedule: str | dict[str, str] | None = None
    trigger: str | None = None
    min_refund_fen: int | None = None
    actions: list[dict[str, Any]]
    member_cap_days: int
    budget_coupons: int | None = None
    coupons_issued: int
    start_at: str | None = None
    end_at: str | None = None
    status: Literal["ACTIVE", "PAUSED", "ENDED"]
    next_run_at: str | None = None
    created_at: datetime | None = None


class Skipped(Out):
    cap: int = 0
    opted_out: int = 0
    no_phone: int = 0
    quiet_hours: int = 0
    budget: int = 0
    coupon_unavailable: int = 0


class RunOut(Out):
    run_id: str
    at: str
    status: str
    targeted: int
    sent: int
    skipped: Skipped
    churned: int  # dormant wake-up: members tagged high_churn_risk by this run (and left alone from then on)
    coupons_issued: int
    redeemed: int
    revenue_fen: int


CampaignPage = PageOut[CampaignOut]
RunPage = PageOut[RunOut]
SegmentPage = PageOut[SegmentOut]


class ListQuery(PageQuery):
    pass
