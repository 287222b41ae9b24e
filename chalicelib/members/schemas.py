from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from pydantic import Field, StringConstraints

from chalicelib.core.schemas import Body, Fen, Name, Out, PageQuery, Phone, Ulid

Bp = Annotated[int, Field(ge=0, le=10000, strict=True)]


class LevelIn(Body):
    name: Name
    rank: int = Field(ge=0, le=99, strict=True, description="0 = the entry level; higher ranks are better")
    growth_min: Fen = Field(description="Growth (fen of paid goods and recharged principal) that reaches the level")
    orders_min: int | None = Field(default=None, ge=1, le=10000, strict=True, description="Or this many orders")
    discount_bp: Bp = Field(default=0, description="Level discount in basis points (500 = 5 % off)")
    points_multiplier_bp: int = Field(default=10000, ge=0, le=100000, strict=True, description="10000 = x1")
    perks: list[Annotated[str, StringConstraints(min_length=1, max_length=100)]] = Field(default=[], max_length=20)


class LevelPatch(Body):
    name: Name | None = None
    rank: int | None = Field(default=None, ge=0, le=99, strict=True)
    growth_min: Fen | None = None
    orders_min: int | None = Field(default=None, ge=1, le=10000, strict=True)
    discount_bp: Bp | None = None
    points_multiplier_bp: int | None = Field(default=None, ge=0, le=100000, strict=True)
    perks: list[Annotated[str, StringConstraints(min_length=1, max_length=100)]] | None = Field(
        default=None, max_length=20
    )


class LevelOut(Out):
    level_id: str
    name: str
    rank: int
    growth_min: int
    orders_min: int | None
    discount_bp: int
    points_multiplier_bp: int
    perks: list[str]


class LevelList(Out):
    items: list[LevelOut]
    next: str | None = None


class GrowthOut(Out):
    member_id: str
    growth_fen: int
    paid_orders: int
    level: LevelOut | None


class EnrolIn(Body):
    phone: Phone = Field(description="The customer's mainland China mobile number")
    nickname: Name | None = None


class EnrolOut(Out):
    member_id: str
    nickname: str | None
    phone_masked: str | None
    is_new: bool = Field(description="False: the phone was already a till member; this is them")
    member_code: str = Field(description="Use it as member_code for this sale (60 seconds)")
    expires_at: str


class LevelRef(Out):
    level_id: str
    name: str
    rank: int


class WalletView(Out):
    balance_fen: int
    principal_fen: int
    bonus_fen: int


class AdminMemberOut(Out):
    member_id: str
    nickname: str | None
    phone_masked: str | None
    source: str | None = Field(description="wechat | till")
    status: str
    level: LevelRef | None
    growth_fen: int
    paid_orders: int
    spend_fen: int
    last_order_id: str | None
    last_order_at: str | None
    last_store_id: str | None
    birthday: str | None
    created_at: datetime | None
    points: int = Field(description="Points balance")
    wallet: WalletView = Field(description="Stored-value balance: principal and bonus")


class AdminMembersQuery(PageQuery):
    q: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)] | None = Field(
        default=None, description="4 digits: the end of the phone; anything else: the start of the nickname"
    )
    level_id: Ulid | None = None


class BirthdayIn(Body):
    birthday: date


class MeUpdate(Body):
    nickname: Name | None = None
    birthday: date | None = Field(default=None, description="Can be set once by the member; staff correct it")


class NextLevel(Out):
    name: str
    growth_needed: int = Field(description="Growth (fen) still needed for it")


class MeOut(Out):
    member_id: str
    nickname: str | None
    phone_masked: str | None
    birthday: str | None
    level: LevelRef | None
    growth: int = Field(description="Growth in fen: paid goods and recharged principal, less refunds")
    next_level: NextLevel | None
    points: int
    wallet: WalletView
