from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field, StringConstraints, model_validator

from chalicelib.catalog.domain import SKU_RE
from chalicelib.core.schemas import Body, Fen, Name, Out, PageQuery, Ulid

Sku = Annotated[str, StringConstraints(pattern=SKU_RE.pattern)]
Category = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_-]{0,31}$")]
Barcode = Annotated[str, StringConstraints(pattern=r"^[0-9]{8,14}$")]
ContactHint = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Unit = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=10)]
Spec = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Description = Annotated[str, StringConstraints(max_length=1000)]
# https only, a host, no whitespace; at most 500 characters.
ImageUrl = Annotated[
    str, StringConstraints(max_length=500, pattern=r"^https://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[^\s]*)?$")
]
ProductStatus = Literal["on_sale", "off_sale"]
Bp = Annotated[int, Field(ge=0, le=10_000, strict=True)]


class CommissionRule(Body):
    """A product's own referral commission (distribution): its own level rates, or excluded (earns nothing)."""

    level1_bp: Bp | None = None
    level2_bp: Bp | None = None
    excluded: bool = False

    @model_validator(mode="after")
    def _rates(self):
        if (self.level1_bp or 0) + (self.level2_bp or 0) > 10_000:
            raise ValueError("level1_bp + level2_bp may not exceed 10000")
        return self


class ProductCreate(Body):
    """A product of the chain's catalog. ``sku`` is chosen by the merchant and never changes.
    Consult-only goods (``consult_only``) are shown in the shop with ``contact_hint`` and never sold online."""

    sku: Sku
    name: Name
    category: Category = Field(description="e.g. baijiu, beer, wine, drinks, snacks, cigarettes")
    price_fen: Fen
    cost_fen: Fen | None = None
    barcode: Barcode | None = Field(default=None, description="EAN/UPC; unique across the catalog")
    consult_only: bool = False
    contact_hint: ContactHint | None = Field(default=None, description="Required when consult_only is true")
    status: ProductStatus = "on_sale"
    unit: Unit = "件"
    spec: Spec | None = Field(default=None, description='e.g. "500ml 53%vol"')
    description: Description | None = None
    image_url: ImageUrl | None = None
    commission: CommissionRule | None = Field(default=None, description="Referral commission of this product")


class ProductUpdate(Body):
    """Only the fields present are changed. ``sku`` cannot be changed. Null clears an optional field
    (cost_fen, barcode, contact_hint, spec, description, image_url); for the others it is refused (422 naming
    the field): they are typed without ``None``, and a default is never validated."""

    name: Name = None  # type: ignore[assignment]
    category: Category = None  # type: ignore[assignment]
    price_fen: Fen = None  # type: ignore[assignment]
    cost_fen: Fen | None = None
    barcode: Barcode | None = None
    consult_only: bool = None  # type: ignore[assignment]
    contact_hint: ContactHint | None = None
    status: ProductStatus = None  # type: ignore[assignment]
    unit: Unit = None  # type: ignore[assignment]
    spec: Spec | None = None
    description: Description | None = None
    image_url: ImageUrl | None = None
    commission: CommissionRule | None = None

    @model_validator(mode="after")
    def _not_empty(self):
        if not self.model_fields_set:
            raise ValueError("nothing to change")
        return self

    def changes(self) -> dict:
        return {k: v for k, v in self.model_dump().items() if k in self.model_fields_set}


class ProductOut(Out):
    sku: str
    name: str
    category: str
    price_fen: int
    cost_fen: int | None = None
    barcode: str | None = None
    consult_only: bool
    contact_hint: str | None = None
    status: ProductStatus
    unit: str
    spec: str | None = None
    description: str | None = None
    image_url: str | None = None
    commission: dict | None = None
    created_at: datetime
    updated_at: datetime


class ProductListQuery(PageQuery):
    category: Category | None = None
    status: ProductStatus | None = None
    barcode: Barcode | None = Field(default=None, description="Exact barcode lookup (0 or 1 item)")


class ShopProductsQuery(PageQuery):
    store_id: Ulid
    category: Category | None = None


class ShopProductOut(Out):
    """What a customer sees: never the cost price."""

    sku: str
    name: str
    category: str
    price_fen: int
    unit: str
    spec: str | None = None
    image_url: str | None = None
    stock_qty: int
    consult_only: bool
    contact_hint: str | None = Field(default=None, description="Only for consult-only goods: how to reach the shop")


class PosProductsQuery(PageQuery):
    barcode: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)] | None = None
    q: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50)] | None = Field(
        default=None, description="Part of the product name"
    )

    @model_validator(mode="after")
    def _one(self):
        if (self.barcode is None) == (self.q is None):
            raise ValueError("give barcode or q (one of them)")
        return self


class PosProductOut(Out):
    """What the till shows: the chain's price and this store's stock."""

    sku: str
    name: str
    barcode: str | None = None
    category: str
    price_fen: int
    unit: str
    spec: str | None = None
    status: str
    consult_only: bool
    stock_qty: int = Field(description="On hand in the clerk's store")
