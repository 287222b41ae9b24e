from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, Field, StringConstraints, field_validator, model_validator

from chalicelib.core.schemas import Body, Fen, Out, PageQuery, Ulid
from chalicelib.pricing.schemas import Description, ScopeIn, ScopeOut, Sku, Title, _distinct

HHMM = Annotated[str, StringConstraints(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$|^24:00$")]
PositiveFen = Annotated[int, Field(ge=1, le=10**9, strict=True)]
PromotionStatus = Literal["active", "paused"]
MAX_SPAN = timedelta(days=3 * 366)


class TierIn(Body):
    min_fen: PositiveFen = Field(description="Spend at least this much (of the scope) ...")
    off_fen: PositiveFen = Field(description="... to save this much")


class ThresholdRuleIn(Body):
    """满X减Y. Either ``tiers`` (the best tier reached applies) or a repeating rule "every ``every_fen`` save
    ``every_off_fen``" (optionally capped by ``max_off_fen``)."""

    kind: Literal["threshold"]
    tiers: list[TierIn] = Field(default_factory=list, max_length=10)
    every_fen: PositiveFen | None = None
    every_off_fen: PositiveFen | None = None
    max_off_fen: PositiveFen | None = None

    @model_validator(mode="after")
    def _shape(self):
        repeating = self.every_fen is not None or self.every_off_fen is not None
        if bool(self.tiers) == repeating:
            raise ValueError("give either tiers or every_fen + every_off_fen")
        if repeating:
            if self.every_fen is None or self.every_off_fen is None:
                raise ValueError("every_fen and every_off_fen go together")
            if self.every_off_fen > self.every_fen:
                raise ValueError("every_off_fen cannot exceed every_fen")
        elif self.max_off_fen is not None:
            raise ValueError("max_off_fen is for repeating rules")
        for a, b in zip(self.tiers, self.tiers[1:]):
            if not (b.min_fen > a.min_fen and b.off_fen > a.off_fen):
                raise ValueError("tiers must rise: each min_fen and off_fen above the previous one")
        if any(t.off_fen > t.min_fen for t in self.tiers):
            raise ValueError("a tier cannot save more than its min_fen")
        return self


class PercentRuleIn(Body):
    """A percentage off the scope's lines: ``percent_off`` 20 = 20 % off (8折)."""

    kind: Literal["percent"]
    percent_off: int = Field(ge=1, le=99)


class BuyGetRuleIn(Body):
    """Buy N get M free: per N+M units of the scope, the M cheapest are free."""

    kind: Literal["buy_n_get_m"]
    buy_qty: int = Field(ge=1, le=99)
    free_qty: int = Field(ge=1, le=99)


class SkuQtyIn(Body):
    sku: Sku
    qty: int = Field(default=1, ge=1, le=99)


class ComboGiftRuleIn(Body):
    """Buy every sku of ``requires`` and get ``gift_qty`` x ``gift_sku`` free (a gift line at zero that takes
    stock; left out when the store has none). ``repeat``: one gift per complete set."""

    kind: Literal["combo_gift"]
    requires: list[SkuQtyIn] = Field(min_length=1, max_length=5)
    gift_sku: Sku
    gift_qty: int = Field(default=1, ge=1, le=99)
    repeat: bool = False

    @field_validator("requires")
    @classmethod
    def _distinct_skus(cls, v):
        _distinct([x.sku for x in v])
        return v


class PriceIn(Body):
    sku: Sku
    price_fen: Fen


class MemberPriceRuleIn(Body):
    """Unit prices for members (of ``scope.min_level`` and up, required)."""

    kind: Literal["member_price"]
    prices: list[PriceIn] = Field(min_length=1, max_length=200)

    @field_validator("prices")
    @classmethod
    def _distinct_skus(cls, v):
        _distinct([x.sku for x in v])
        return v


class TimePriceRuleIn(MemberPriceRuleIn):
    """Unit prices for everyone while the schedule is on (flash prices)."""

    kind: Literal["time_price"]  # type: ignore[assignment]


RuleIn = Annotated[
    ThresholdRuleIn | PercentRuleIn | BuyGetRuleIn | ComboGiftRuleIn | MemberPriceRuleIn | TimePriceRuleIn,
    Field(discriminator="kind"),
]


class HoursIn(Body):
    start: HHMM = Field(description="HH:MM in BUSINESS_TZ")
    end: HHMM = Field(description="HH:MM in BUSINESS_TZ, exclusive; 24:00 = end of day")

    @model_validator(mode="after")
    def _order(self):
        if self.start == "24:00" or self.end <= self.start:
            raise ValueError("end must be after start (within one day)")
        return self


class ScheduleIn(Body):
    """On from ``starts_at`` to ``ends_at`` (RFC 3339 with a zone); optionally only on ``weekdays``
    (1 = Monday .. 7 = Sunday) and between ``hours``, both in BUSINESS_TZ - the member day."""

    starts_at: AwareDatetime
    ends_at: AwareDatetime
    weekdays: list[int] = Field(default_factory=list, max_length=7)
    hours: HoursIn | None = None

    @field_validator("weekdays")
    @classmethod
    def _weekdays(cls, v):
        if any(not 1 <= d <= 7 for d in v):
            raise ValueError("weekdays are 1 (Monday) .. 7 (Sunday)")
        return sorted(_distinct(v))

    @model_validator(mode="after")
    def _span(self):
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        if self.ends_at - self.starts_at > MAX_SPAN:
            raise ValueError("a promotion runs at most 3 years")
        return self


def _check_rule_scope(rule: Any, scope: ScopeIn | None) -> None:
    if getattr(rule, "kind", None) == "member_price" and (scope is None or scope.min_level is None):
        raise ValueError("member_price needs scope.min_level (0 = every member)")


class PromotionCreate(Body):
    title: Title
    description: Description | None = None
    rule: RuleIn
    scope: ScopeIn = Field(default_factory=ScopeIn)
    schedule: ScheduleIn
    priority: int = Field(default=100, ge=0, le=1000, description="Higher runs first and wins ties")
    exclusive: bool = Field(default=False, description="Never combined with another promotion on an order")
    with_coupons: bool = Field(default=True, description="Coupons may also discount the lines it discounts")
    stacks_with_level: bool = Field(
        default=False,
        description="Also applies on top of the member's level discount (otherwise the better of the two)",
    )
    status: PromotionStatus = "active"

    @model_validator(mode="after")
    def _rule_scope(self):
        _check_rule_scope(self.rule, self.scope)
        return self


class PromotionUpdate(Body):
    """Only the fields present are changed (status: use pause / resume)."""

    title: Title = None  # type: ignore[assignment]
    description: Description | None = None
    rule: RuleIn = None  # type: ignore[assignment]
    scope: ScopeIn = None  # type: ignore[assignment]
    schedule: ScheduleIn = None  # type: ignore[assignment]
    priority: int = Field(default=None, ge=0, le=1000)  # type: ignore[assignment]
    exclusive: bool = None  # type: ignore[assignment]
    with_coupons: bool = None  # type: ignore[assignment]
    stacks_with_level: bool = None  # type: ignore[assignment]

    @model_validator(mode="after")
    def _present(self):
        if not self.model_fields_set:
            raise ValueError("nothing to change")
        for name in self.model_fields_set:
            if getattr(self, name) is None and name != "description":
                raise ValueError(f"{name} cannot be null")
        return self

    def changes(self) -> dict[str, Any]:
        return self.model_dump(mode="json", include=set(self.model_fields_set))


class PromotionListQuery(PageQuery):
    status: Literal["active", "paused", "ended"] | None = None


class PromotionOut(Out):
    promo_id: str
    title: str
    description: str | None = None
    kind: str
    rule: dict
    scope: ScopeOut
    schedule: dict
    priority: int
    exclusive: bool
    with_coupons: bool
    stacks_with_level: bool
    status: Literal["active", "paused", "ended"]
    version: int
    created_at: datetime
    updated_at: datetime


__all__ = ["PromotionCreate", "PromotionUpdate", "PromotionListQuery", "PromotionOut", "Ulid"]
