from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field, StringConstraints, field_validator

from chalicelib.catalog.schemas import Sku
from chalicelib.core.schemas import Body, Out, PageQuery, Text, Ulid

Qty = Annotated[int, Field(ge=1, le=100_000)]


class QtyLine(Body):
    sku: Sku
    qty: Qty


class CountLine(Body):
    sku: Sku
    counted_qty: int = Field(ge=0, le=1_000_000)


def _unique(lines: list, attr: str = "sku") -> list:
    seen = set()
    for line in lines:
        key = getattr(line, attr)
        if key in seen:
            raise ValueError(f"sku {key} appears twice")
        seen.add(key)
    return lines


class ReceiptCreate(Body):
    lines: list[QtyLine] = Field(min_length=1, max_length=90)
    supplier: Annotated[str, StringConstraints(max_length=100)] | None = None
    note: Text | None = None

    _u = field_validator("lines")(_unique)


class CountCreate(Body):
    lines: list[CountLine] = Field(min_length=1, max_length=90)
    note: Text | None = None

    _u = field_validator("lines")(_unique)


class CountOut(Out):
    store_id: str
    counted: dict[str, int]
    system: dict[str, int]
    adjustments: dict[str, int]
    movement: dict | None = None


class ThresholdSet(Body):
    threshold: int | None = Field(ge=0, le=1_000_000, description="null removes the threshold")


class MovementOut(Out):
    movement_id: str
    store_id: str
    kind: str
    deltas: dict[str, int]
    ref_type: str | None = None
    ref_id: str | None = None
    actor: str | None = None
    note: str | None = None
    created_at: datetime


class LedgerEntryOut(Out):
    movement_id: str
    kind: str
    delta: int
    ref_type: str | None = None
    ref_id: str | None = None
    actor: str | None = None
    note: str | None = None
    created_at: datetime


class StockOut(Out):
    store_id: str
    sku: str
    qty: int
    threshold: int | None = None
    in_transit: int = 0
    low: bool = False


class SuggestionOut(Out):
    store_id: str
    available: int
    surplus: int
    qty: int


class LowStockOut(Out):
    store_id: str
    sku: str
    qty: int
    threshold: int
    since: str | None = None
    suggested_source: SuggestionOut | None = None


class LowStockQuery(PageQuery):
    store_id: Ulid | None = None


class TransferCreate(Body):
    from_store_id: Ulid
    to_store_id: Ulid
    lines: list[QtyLine] = Field(min_length=1, max_length=45)  # ship: 2 items per line + 2 <= 100
    note: Text | None = None

    _u = field_validator("lines")(_unique)


class TransferOut(Out):
    transfer_id: str
    from_store_id: str
    to_store_id: str
    lines: list[dict]
    status: Literal["CREATED", "SHIPPED", "RECEIVED", "CANCELLED"]
    note: str | None = None
    created_by: str | None = None
    created_at: datetime
    shipped_at: str | None = None
    received_at: str | None = None
    cancelled_at: str | None = None


class TransferQuery(PageQuery):
    store_id: Ulid | None = None
    direction: Literal["out", "in"] = "out"
