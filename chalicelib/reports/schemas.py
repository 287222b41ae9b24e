from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import Field, model_validator

from chalicelib.core.schemas import Out, PageQuery, Query

FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2199, 12, 31)  # business days a report or log can name


class RangeQuery(Query):
    from_: date = Field(alias="from", ge=FIRST_DAY, le=LAST_DAY)
    to: date = Field(ge=FIRST_DAY, le=LAST_DAY)
    store_id: str | None = Field(default=None, max_length=64)
    format: Literal["json", "csv"] = "json"

    @model_validator(mode="after")
    def _ordered(self):
        if self.from_ > self.to:
            raise ValueError("from is after to")
        return self


class SalesQuery(RangeQuery):
    group_by: Literal["store", "day", "sku"] = "store"


class ProductsQuery(RangeQuery):
    order: Literal["best", "slow"] = "best"
    limit: int = Field(default=50, ge=1, le=200)


class CoPurchaseQuery(RangeQuery):
    min_support: int = Field(default=1, ge=1, le=1_000_000)
    limit: int = Field(default=50, ge=1, le=200)


class AuditLogQuery(PageQuery):
    from_: date | None = Field(default=None, alias="from", ge=FIRST_DAY, le=LAST_DAY, description="default today")
    to: date | None = Field(default=None, ge=FIRST_DAY, le=LAST_DAY, description="business day; default today")
    action: Literal["refund", "product_change", "stock_adjustment", "staff_change", "promotion_change"] | None = None
    store_id: str | None = Field(default=None, max_length=64)


class AuditEntryOut(Out):
    entry_id: str
    at: str
    action: str
    actor: str
    role: str
    store_id: str | None = None
    method: str
    path: str
    params: dict
    body: Any = None
    details: dict
    status: int


class StockQuery(Query):
    store_id: str | None = Field(default=None, max_length=64)


class FiguresOut(Out):
    orders: int
    units: int
    sales_fen: int
    discount_fen: int
    refund_fen: int
    cost_fen: int
    margin_fen: int


class SalesRow(FiguresOut):
    store_id: str | None = None
    day: str | None = None
    sku: str | None = None


class SalesOut(Out):
    group_by: str
    items: list[SalesRow]
    total: FiguresOut


class ProductRow(FiguresOut):
    sku: str
    name: str | None = None


class ProductsOut(Out):
    order: str
    items: list[ProductRow]


class PairRow(Out):
    sku_a: str
    sku_b: str
    orders: int
    lift_bp: int


class CoPurchaseOut(Out):
    orders: int
    items: list[PairRow]


class StockValueRow(Out):
    store_id: str
    stock_value_fen: int
    skus: int


class StockValueOut(Out):
    items: list[StockValueRow]
