"""Request and response models of distribution (Contract v2, "Distribution")."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints, model_validator

from chalicelib.catalog.schemas import Sku
from chalicelib.core.schemas import Body, Fen, Name, Out, PageQuery, Phone, Query, Text, Ulid

Bp = Annotated[int, Field(ge=0, le=10_000, strict=True)]
Scene = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,32}$")]


MAX_DAYS = 92


def _at_most_92_days(q):
    """A report range: from <= to, at most 92 business days counted both ends in."""
    if q.to < q.from_ or (q.to - q.from_).days >= MAX_DAYS:
        raise ValueError(f"from <= to, at most {MAX_DAYS} days")
    return q


class InviteRules(Body):
    invitee_template_id: Ulid | None = None
    inviter_template_id: Ulid | None = None
    inviter_monthly_cap: Annotated[int, Field(ge=0, le=10_000, strict=True)] = 0


class DistributionSettings(Body):
    """Head office's distribution settings; level1_bp + level2_bp <= 10000 (422 RATES_TOO_HIGH otherwise)."""

    enabled: bool = False
    who: Literal["everyone", "apply", "min_spend"] = "everyone"
    min_spend_fen: Fen = 0
    level1_bp: Bp = 0
    level2_bp: Bp = 0
    self_purchase: bool = False
    freeze_days: Annotated[int, Field(ge=0, le=365, strict=True)] = 7
    bind_days: Annotated[int, Field(ge=0, le=3650, strict=True, description="0: a binding never lapses")] = 0
    withdraw_min_fen: Fen = 100
    withdraw_fee_bp: Bp = 0
    invite: InviteRules = Field(default_factory=InviteRules)


class ShareCodeIn(Body):
    kind: Literal["referral", "product"]
    sku: Sku | None = None

    @model_validator(mode="after")
    def _sku(self):
        if (self.kind == "product") != (self.sku is not None):
            raise ValueError("sku is required for kind product and only for it")
        return self


class ShareCodeOut(Out):
    scene: str = Field(description="At most 32 characters (WeChat getUnlimited)")
    page: str


class SceneOut(Out):
    scene: str
    kind: str = Field(description="referral | product | flyer")
    referrer_id: str | None = Field(default=None, description="The sharing member (not for a flyer)")
    promoter_id: str | None = Field(default=None, description="A flyer's promoter")
    sku: str | None = None
    page: str


class Team(Out):
    level1: int
    level2: int


class MeOut(Out):
    status: str = Field(description="none | applied | active (under who=everyone every member is active)")
    share_code: str | None = None
    referrer_id: str | None = None
    frozen_fen: int
    available_fen: int
    pending_fen: int = Field(description="Requested withdrawals not paid out yet")
    withdrawn_fen: int
    team: Team


class CommissionOut(Out):
    """One commission record: one order line at one level."""

    order_id: str
    level: int
    line: int
    sku: str
    base_fen: int
    rate_bp: int
    amount_fen: int
    reversed_fen: int
    status: str
    paid_at: str | None = None
    due_at: str | None = None
    settled_at: str | None = None


class TeamQuery(PageQuery):
    level: int = Field(default=1, ge=1, le=2)


class TeamMemberOut(Out):
    member_id: str
    level: int
    bound_at: str | None = None


class WithdrawalIn(Body):
    amount_fen: Annotated[int, Field(ge=1, le=10**11, strict=True)]
    to: Literal["wallet", "wechat"]


class WithdrawalOut(Out):
    withdrawal_id: str
    member_id: str
    amount_fen: int
    fee_fen: int
    net_fen: int
    to: str
    status: str
    reviewed_by: str | None = None
    reason: str | None = None
    payout: dict[str, Any] | None = None
    created_at: str


class RejectIn(Body):
    reason: Text | None = None


class WithdrawalsQuery(PageQuery):
    status: Literal["PENDING_REVIEW", "PAYING", "PAID", "REJECTED", "FAILED"] = "PENDING_REVIEW"


class DistributorsQuery(PageQuery):
    status: Literal["applied", "active"] = "active"


class DistributorOut(Out):
    member_id: str
    status: str
    referrer_id: str | None = None
    team: Team
    frozen_fen: int
    available_fen: int
    withdrawn_fen: int


class ReportQuery(Query):
    from_: date = Field(alias="from")
    to: date
    format: Literal["json", "csv"] = "json"
    order: Literal["commission", "sales", "orders"] = Field(
        default="commission", description="The ranking: highest commission_fen, sales_fen or orders first"
    )

    _range = model_validator(mode="after")(lambda self: _at_most_92_days(self))


class ReportRow(Out):
    member_id: str
    orders: int
    sales_fen: int = Field(description="Commission bases of the distributor's level-1 and level-2 records")
    commission_fen: int = Field(description="Earned minus reversed")


class ReportOut(Out):
    start: str = Field(description="First business day (the query's from)")
    end: str = Field(description="Last business day (the query's to)")
    items: list[ReportRow]


class PromoterIn(Body):
    name: Name
    phone: Phone
    store_id: Ulid | None = None


class PromoterOut(Out):
    promoter_id: str
    name: str
    phone: str
    store_id: str | None = None
    flyers: int = Field(description="Flyer scenes made for the promoter")
    created_at: str


class FlyersIn(Body):
    count: Annotated[int, Field(ge=1, le=50, strict=True)]


class FlyersOut(Out):
    promoter_id: str
    items: list[ShareCodeOut] = Field(description="The new flyer scenes (<= 32 characters) and their page")


class FunnelQuery(Query):
    from_: date = Field(alias="from")
    to: date

    _range = model_validator(mode="after")(lambda self: _at_most_92_days(self))


class FunnelCounts(Out):
    scanned: int = Field(description="Scene resolutions (GET /shop/scenes/{scene})")
    registered: int = Field(description="New members who joined by the scene")
    first_order: int = Field(description="Their first completed orders")
    orders: int = Field(description="Their completed orders")
    sales_fen: int = Field(description="Payable of those orders")


class FlyerFunnel(FunnelCounts):
    scene: str


class PromoterFunnel(FunnelCounts):
    promoter_id: str
    name: str
    register_rate_bp: int = Field(description="registered / scanned, in basis points")
    first_order_rate_bp: int = Field(description="first_order / registered, in basis points")
    flyers: list[FlyerFunnel] = Field(description="Flyers with any count in the period")


class FunnelOut(Out):
    start: str
    end: str
    items: list[PromoterFunnel]
