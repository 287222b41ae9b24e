"""Wallet requests and responses (the contract's "Wallet (stored value with recharge bonus)")."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints, model_validator

from chalicelib.core.schemas import Body, Fen, Name, Out, Ulid

PackageStatus = Literal["active", "inactive"]
RechargeStatus = Literal["PENDING_PAYMENT", "PAID", "REFUNDED"]
MemberCodeStr = Annotated[str, StringConstraints(min_length=1, max_length=64)]
PayFen = Annotated[int, Field(ge=1, le=500_000, strict=True)]


class PackageCreate(Body):
    title: Name
    pay_fen: PayFen = Field(description="What the member pays (principal credited), 1 fen .. 5,000 yuan")
    bonus_fen: Fen = Field(description="Bonus credited on top")
    status: PackageStatus = "active"


class PackagePatch(Body):
    title: Name | None = None
    pay_fen: PayFen | None = None
    bonus_fen: Fen | None = None
    status: PackageStatus | None = None

    @model_validator(mode="after")
    def _something(self):
        if not self.model_fields_set:
            raise ValueError("change at least one of title, pay_fen, bonus_fen, status")
        for name in self.model_fields_set:
            if getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        return self


class PackageOut(Out):
    package_id: str
    title: str
    pay_fen: int
    bonus_fen: int
    status: str
    created_at: str | None = None
    updated_at: str | None = None


class _Amount(Body):
    package_id: Ulid | None = Field(default=None, description="An active recharge package")
    amount_fen: int | None = Field(default=None, description="A free amount (no bonus), 100 .. 500000 fen")

    @model_validator(mode="after")
    def _one(self):
        if (self.package_id is None) == (self.amount_fen is None):
            raise ValueError("give exactly one of package_id and amount_fen")
        return self


class RechargeIn(_Amount):
    pass


class PosRechargePayment(Body):
    method: Literal["cash", "wechat_scan"]
    auth_code: Annotated[str, StringConstraints(pattern=r"^[0-9]{18}$")] | None = Field(
        default=None, description="The customer's 18-digit WeChat payment code (wechat_scan)"
    )

    @model_validator(mode="after")
    def _code(self):
        if self.method == "wechat_scan" and not self.auth_code:
            raise ValueError("wechat_scan needs auth_code")
        if self.method == "cash" and self.auth_code:
            raise ValueError("cash takes no auth_code")
        return self


class PosRechargeIn(_Amount):
    member_code: MemberCodeStr = Field(description="The member code the customer shows (GET /shop/me/code)")
    payment: PosRechargePayment


class RechargeOut(Out):
    recharge_id: str
    status: RechargeStatus
    member_id: str
    channel: Literal["shop", "pos"]
    pay_fen: int
    bonus_fen: int
    package_id: str | None = None
    title: str | None = None
    store_id: str | None = None
    payment: dict[str, Any] | None = None
    paid_at: str | None = None
    refund: dict[str, Any] | None = Field(
        default=None,
        description="{refund_id, principal_fen (paid back), bonus_fen (forfeited), method, payout_status, ...}",
    )
    created_at: str | None = None
    prepay: dict[str, Any] | None = Field(default=None, description="wx.requestPayment parameters (shop)")


class BalanceOut(Out):
    balance_fen: int
    principal_fen: int
    bonus_fen: int


class LedgerRef(Out):
    type: str
    id: str


class LedgerEntryOut(Out):
    entry_id: str
    at: str
    kind: str = Field(description="recharge | payment | refund | recharge_refund | commission")
    amount: int = Field(description="Signed change of the total balance, fen")
    balance_after: int = Field(description="Total balance right after this entry, fen")
    principal_fen: int = Field(description="Signed change of the principal")
    bonus_fen: int = Field(description="Signed change of the bonus")
    principal_after: int
    bonus_after: int
    ref: LedgerRef
