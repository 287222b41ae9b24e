from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, Field, StringConstraints, field_validator, model_validator

from chalicelib.core.schemas import Body, Fen, Out, PageQuery, Ulid
from chalicelib.pricing.schemas import Description, ScopeIn, ScopeOut, Sku, Title, _distinct

CouponKind = Literal["amount_off", "percent_off", "no_threshold", "gift"]
Purpose = Literal["center", "new_member", "push", "invite_inviter", "invite_invitee", "compensation"]
CouponStatus = Literal["AVAILABLE", "LOCKED", "USED", "EXPIRED"]
PositiveFen = Annotated[int, Field(ge=1, le=10**9, strict=True)]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
RefId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
MAX_VALIDITY = timedelta(days=3 * 366)


class ValidityIn(Body):
    """Either fixed dates (``valid_from`` .. ``valid_until``, local days in BUSINESS_TZ, inclusive) or
    ``valid_days`` from the moment of issue to the end of the Nth local day (the day of issue is day 1)."""

    valid_from: date | None = None
    valid_until: date | None = None
    valid_days: int | None = Field(default=None, ge=1, le=366)

    @model_validator(mode="after")
    def _one(self):
        fixed = self.valid_from is not None or self.valid_until is not None
        if fixed == (self.valid_days is not None):
            raise ValueError("give valid_from + valid_until, or valid_days")
        if fixed:
            if self.valid_from is None or self.valid_until is None:
                raise ValueError("valid_from and valid_until go together")
            if self.valid_until < self.valid_from:
                raise ValueError("valid_until is before valid_from")
            if self.valid_until - self.valid_from > MAX_VALIDITY:
                raise ValueError("at most 3 years")
        return self


class ClaimWindowIn(Body):
    starts_at: AwareDatetime | None = None
    ends_at: AwareDatetime | None = None

    @model_validator(mode="after")
    def _order(self):
        if self.starts_at and self.ends_at and self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        return self


class TemplateCreate(Body):
    """A coupon template. Kinds: ``amount_off`` (save ``off_fen`` from ``threshold_fen``), ``no_threshold``
    (save ``off_fen``), ``percent_off`` (``percent_off`` % off, at most ``cap_fen``, optionally from
    ``threshold_fen``), ``gift`` (``gift_qty`` x ``gift_sku`` free, optionally from ``threshold_fen``).
    ``purpose`` says how its coupons reach members; ``total_stock`` is how many can ever be issued;
    ``per_member_limit`` how many one member may hold over time; ``stackable`` coupons combine with other
    stackable coupons on one order (otherwise one coupon per order)."""

    title: Title
    description: Description | None = None
    purpose: Purpose = "center"
    kind: CouponKind
    threshold_fen: Fen = 0
    off_fen: PositiveFen | None = None
    percent_off: int | None = Field(default=None, ge=1, le=99)
    cap_fen: PositiveFen | None = None
    gift_sku: Sku | None = None
    gift_qty: int = Field(default=1, ge=1, le=99)
    scope: ScopeIn = Field(default_factory=ScopeIn)
    stackable: bool = False
    validity: ValidityIn
    claim_window: ClaimWindowIn | None = None
    total_stock: int = Field(ge=1, le=10_000_000)
    per_member_limit: int = Field(default=1, ge=1, le=100)
    status: Literal["active", "paused"] = "active"

    @model_validator(mode="after")
    def _terms(self):
        k = self.kind
        money = {
            "off_fen": self.off_fen,
            "percent_off": self.percent_off,
            "cap_fen": self.cap_fen,
            "gift_sku": self.gift_sku,
        }
        allowed = {
            "amount_off": {"off_fen"},
            "no_threshold": {"off_fen"},
            "percent_off": {"percent_off", "cap_fen"},
            "gift": {"gift_sku"},
        }[k]
        extra = sorted(n for n, v in money.items() if v is not None and n not in allowed)
        if extra:
            raise ValueError(f"{k} coupons do not take {', '.join(extra)}")
        if k in ("amount_off", "no_threshold") and self.off_fen is None:
            raise ValueError(f"{k} needs off_fen")
        if k == "amount_off" and self.threshold_fen == 0:
            raise ValueError("amount_off needs threshold_fen (use no_threshold for none)")
        if k == "amount_off" and self.off_fen > self.threshold_fen:
            raise ValueError("off_fen cannot exceed threshold_fen")
        if k == "no_threshold" and self.threshold_fen:
            raise ValueError("no_threshold coupons have threshold_fen 0")
        if k == "percent_off" and self.percent_off is None:
            raise ValueError("percent_off coupons need percent_off")
        if k == "gift" and self.gift_sku is None:
            raise ValueError("gift coupons need gift_sku")
        return self


class TemplateUpdate(Body):
    """What may change once coupons exist: wording, the member limit, the claim window. Terms, scope and
    validity are fixed (issued coupons keep theirs anyway): create a new template instead."""

    title: Title = None  # type: ignore[assignment]
    description: Description | None = None
    per_member_limit: int = Field(default=None, ge=1, le=100)  # type: ignore[assignment]
    claim_window: ClaimWindowIn | None = None

    @model_validator(mode="after")
    def _present(self):
        if not self.model_fields_set:
            raise ValueError("nothing to change")
        for name in self.model_fields_set:
            if getattr(self, name) is None and name not in ("description", "claim_window"):
                raise ValueError(f"{name} cannot be null")
        return self

    def changes(self) -> dict[str, Any]:
        return {k: v for k, v in self.model_dump(mode="json").items() if k in self.model_fields_set}


class StockIn(Body):
    delta: int = Field(ge=-10_000_000, le=10_000_000, description="Coupons added (+) or withdrawn (-)")
    note: Reason | None = None

    @field_validator("delta")
    @classmethod
    def _nonzero(cls, v):
        if v == 0:
            raise ValueError("delta cannot be 0")
        return v


class TemplateListQuery(PageQuery):
    purpose: Purpose | None = None


class CouponTerms(Out):
    """What a coupon gives and where: the same on its template, in the claim centre and in a member's wallet."""

    title: str
    kind: str
    threshold_fen: int = 0
    off_fen: int | None = None
    percent_off: int | None = None
    cap_fen: int | None = None
    gift_sku: str | None = None
    gift_qty: int | None = None
    gift_name: str | None = None
    scope: ScopeOut
    stackable: bool


class TemplateOut(CouponTerms):
    template_id: str
    description: str | None = None
    purpose: str
    validity: dict
    claim_window: dict | None = None
    total_stock: int
    remaining_stock: int
    issued: int
    per_member_limit: int
    status: Literal["active", "paused"]
    version: int
    created_at: datetime
    updated_at: datetime


class CenterItemOut(CouponTerms):
    gift_sku: str | None = Field(default=None, exclude=True)  # the claim centre names the gift, not its sku
    template_id: str
    description: str | None = None
    validity: dict
    remaining_stock: int
    per_member_limit: int
    claimed: int = Field(description="How many this member has had")
    can_claim: bool


class CouponOut(CouponTerms):
    coupon_id: str
    template_id: str
    member_id: str
    status: CouponStatus
    valid_from: str
    expires_at: str
    expires_on: date = Field(description="Last valid day in BUSINESS_TZ")
    source: str
    order_id: str | None = None
    created_at: datetime


class MyCouponsQuery(PageQuery):
    status: CouponStatus | None = None


class PushIn(Body):
    template_id: Ulid
    member_ids: list[Ulid] = Field(min_length=1, max_length=100)

    _d = field_validator("member_ids")(_distinct)


class Skipped(Out):
    member_id: str
    code: str


class Issued(Out):
    member_id: str
    coupon_id: str


class PushOut(Out):
    issued: list[Issued]
    skipped: list[Skipped]


class CompensationIn(Body):
    template_id: Ulid
    member_id: Ulid
    order_id: Ulid
    reason: Reason


class InviteGiftIn(Body):
    referral_id: RefId
    inviter_id: Ulid
    invitee_id: Ulid

    @model_validator(mode="after")
    def _two(self):
        if self.inviter_id == self.invitee_id:
            raise ValueError("inviter and invitee are the same member")
        return self


class InviteGiftOut(Out):
    referral_id: str
    issued: list[Issued]
    skipped: list[Skipped]
    already_granted: bool = False


class BlockIn(Body):
    reason: Reason


class BlockOut(Out):
    member_id: str
    reason: str
    blocked_by: str
    created_at: datetime


class BlockListQuery(PageQuery):
    pass
