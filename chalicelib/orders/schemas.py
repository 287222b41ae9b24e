from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import Field, StringConstraints, field_validator, model_validator

from chalicelib.core.schemas import Body, Lat, Lng, Out, PageQuery, Phone, Ulid

Sku = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
OrderStatus = Literal[
    "PENDING_PAYMENT",
    "PAID",
    "ACCEPTED",
    "READY",
    "DELIVERING",
    "COMPLETED",
    "CANCELLED",
    "REFUNDED",
    "PARTIALLY_REFUNDED",
]
MAX_LINES = 50
MAX_QTY = 999  # of one sku in one order or refund, after adding up the lines that repeat it


class LineIn(Body):
    sku: Sku
    qty: int = Field(ge=1, le=MAX_QTY)


class Location(Body):
    lat: Lat
    lng: Lng


class Address(Body):
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)]
    phone: Phone
    detail: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


def _distinct_skus(lines: list[LineIn] | None) -> list[LineIn] | None:
    """Limits that hold for the merged cart: lines repeating a sku count together."""
    totals: dict[str, int] = {}
    for ln in lines or ():
        totals[ln.sku] = totals.get(ln.sku, 0) + ln.qty
    if len(totals) > MAX_LINES:
        raise ValueError(f"at most {MAX_LINES} different skus per order")
    over = sorted(sku for sku, qty in totals.items() if qty > MAX_QTY)
    if over:
        raise ValueError(f"at most {MAX_QTY} of one sku (its lines added up): {', '.join(over)}")
    return lines


def _distinct_coupons(ids: list[str]) -> list[str]:
    if len(set(ids)) != len(ids):
        raise ValueError("a coupon can be used once per order")
    return ids


class CartIn(Body):
    lines: list[LineIn] = Field(min_length=1, max_length=200)
    coupon_ids: list[Ulid] = Field(
        default_factory=list,
        max_length=5,
        description=("The member's coupons to use: one per order unless every one is stackable"),
    )
    points: int = Field(
        default=0,
        ge=0,
        le=10_000_000,
        strict=True,
        description="Points to redeem (a member's); the quote's applied shows how many were taken (kind points)",
    )

    _d = field_validator("lines")(_distinct_skus)
    _c = field_validator("coupon_ids")(_distinct_coupons)


class ShopQuoteIn(CartIn):
    fulfillment: Literal["pickup", "delivery"] = "pickup"
    store_id: Ulid | None = None
    location: Location | None = None
    address: Address | None = None
    note: Annotated[str, StringConstraints(max_length=200)] | None = None

    @model_validator(mode="after")
    def _where(self):
        if self.fulfillment == "delivery" and (self.address is None or self.location is None):
            raise ValueError("delivery needs address and location")
        if self.store_id is None and self.location is None:
            raise ValueError("give store_id, or location to route to the nearest store")
        return self


class PosQuoteIn(CartIn):
    member_code: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = None


class PosPayment(Body):
    method: Literal["cash", "wechat_scan", "wallet"]
    auth_code: Annotated[str, StringConstraints(pattern=r"^[0-9]{18}$")] | None = Field(
        default=None, description="The customer's 18-digit WeChat payment code (wechat_scan)"
    )
    tendered_fen: int | None = Field(default=None, ge=0, le=10**9, description="Cash handed over (cash)")

    @model_validator(mode="after")
    def _code(self):
        if self.method == "wechat_scan" and not self.auth_code:
            raise ValueError("wechat_scan needs auth_code")
        return self


class PosSaleIn(PosQuoteIn):
    payment: PosPayment


class PayIn(Body):
    method: Literal["wechat", "wallet"]


class ManagerApproval(Body):
    """A store manager (or head office) approves a clerk's refund above the limit with their own credentials."""

    username: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    password: Annotated[str, StringConstraints(min_length=1, max_length=200)]


class RefundIn(Body):
    lines: list[LineIn] | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_LINES,
        description="Units to refund; omitted = everything not yet refunded",
    )
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    request_id: Ulid | None = Field(default=None, description="POS: settle this customer refund request")
    approval: ManagerApproval | None = Field(
        default=None, description="POS: a manager's approval of a clerk's refund above the clerk's limit"
    )

    _d = field_validator("lines")(_distinct_skus)


class CompleteIn(Body):
    pickup_code: Annotated[str, StringConstraints(pattern=r"^[0-9]{6}$")] | None = None


class EmptyIn(Body):
    pass


class OrderListQuery(PageQuery):
    status: OrderStatus | None = None


class AdminOrdersQuery(PageQuery):
    """Head office's order search: ``from``/``to`` are business days (the order's creation), ``q`` an order id
    or digits of the customer's phone (e.g. its last four)."""

    store_id: str | None = Field(default=None, max_length=64)
    status: OrderStatus | None = None
    from_: date | None = Field(default=None, alias="from", ge=date(2000, 1, 1), le=date(2199, 12, 31))
    to: date | None = Field(default=None, ge=date(2000, 1, 1), le=date(2199, 12, 31))
    q: str | None = Field(default=None, pattern=r"^([0-9]{3,11}|[0-9A-HJKMNP-TV-Z]{26})$")


class QuoteLineOut(Out):
    sku: str
    name: str
    qty: int
    unit_price_fen: int
    discount_fen: int
    payable_fen: int
    gift: bool = False


class QuoteOut(Out):
    store_id: str | None
    lines: list[QuoteLineOut]
    subtotal_fen: int
    discount_fen: int
    delivery_fee_fen: int = Field(
        default=0, description="The store's delivery fee (none from its free_delivery_over_fen); never discounted"
    )
    payable_fen: int = Field(description="The lines' payable_fen plus delivery_fee_fen")
    applied: list[dict] = Field(
        description=(
            "Rules that priced this cart: {kind: promotion|coupon, rule, id, title, discount_fen, allocation: "
            "[{sku, discount_fen}], gift?}"
        )
    )
    hints: list[dict] = Field(
        default_factory=list,
        description=(
            'Rules that almost applied: {kind, rule, id, title, code, message ("add 35.00 more to save 10.00"), '
            "missing_fen | missing_qty | missing, saves_fen?}"
        ),
    )
    problems: list[dict]
    suggested_store_id: str | None = None


class OrderLineOut(QuoteLineOut):
    refunded_qty: int = 0
    refunded_fen: int = 0


class OrderOut(Out):
    order_id: str
    channel: Literal["shop", "pos"]
    status: OrderStatus
    store_id: str
    member_id: str | None = None
    fulfillment: str
    lines: list[OrderLineOut]
    subtotal_fen: int
    discount_fen: int
    delivery_fee_fen: int = 0
    payable_fen: int
    refunded_fen: int = 0
    applied: list[dict] = Field(default_factory=list)
    pickup_code: str | None = None
    pay_deadline: str | None = None
    payment: dict | None = None
    address: dict | None = None
    note: str | None = None
    created_at: datetime
    paid_at: str | None = None
    completed_at: str | None = None
    cancelled_at: str | None = None
    cancel_reason: str | None = None


class PrepayOut(Out):
    order_id: str
    method: Literal["wechat", "wallet"]
    status: Literal["PENDING_PAYMENT", "PAID"] = Field(
        description="wallet: PAID at once; wechat: PENDING_PAYMENT until WeChat's notification arrives"
    )
    prepay: dict | None = Field(description="wechat: the signed parameters for wx.requestPayment; wallet: null")


class RefundOut(Out):
    refund_id: str
    order_id: str
    status: Literal["REQUESTED", "SETTLED", "PROCESSING", "COMPLETED", "ABNORMAL", "CLOSED"] = Field(
        description="PROCESSING until WeChat Pay's notification (or the scheduled query) says COMPLETED; "
        "ABNORMAL / CLOSED: it did not reach the customer, head office is told"
    )
    lines: list[dict]
    amount_fen: int = Field(description="Lines plus delivery_fee_fen")
    reason: str
    method: str | None = None
    delivery_fee_fen: int = Field(default=0, description="The delivery fee, given back with the last line")
    created_at: datetime
    completed_at: str | None = None


class AnomalyOut(Out):
    anomaly_id: str
    reason: Literal["amount_mismatch", "unknown_order", "unknown_refund", "merchant_mismatch"]
    notification_id: str
    event_type: str | None = None
    facts: dict = Field(description="What the notification said: out_trade_no, transaction_id, amount_fen ...")
    created_at: datetime


class AccountDeletedOut(Out):
    member_id: str
    deleted_at: str
    orders_kept: int = Field(description="Orders kept for the books, without name, phone or address")
