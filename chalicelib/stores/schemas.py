from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field, StringConstraints, model_validator

from chalicelib.core.schemas import Body, Lat, Lng, Name, Out, PageQuery, Phone, Text

HHMM = Annotated[str, StringConstraints(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$|^24:00$")]
StoreStatus = Literal["active", "suspended"]


class OpeningPeriod(Body):
    """One opening period. ``weekday`` 1 = Monday .. 7 = Sunday (ISO). A ``close`` at or before ``open``
    runs past midnight into the next day (e.g. 18:00-02:00)."""

    weekday: int = Field(ge=1, le=7)
    open: HHMM
    close: HHMM

    @model_validator(mode="after")
    def _not_empty(self):
        if self.open == self.close and self.open != "00:00":
            raise ValueError("open and close are the same time")
        return self


class AcceptDeadlines(Body):
    """What happens to a paid online order the store has not accepted, in minutes of opening time after
    payment (null: that step is off)."""

    remind_after_min: int | None = Field(default=5, ge=1, le=1440, description="SMS to the store and a reprint")
    escalate_after_min: int | None = Field(
        default=10, ge=1, le=1440, description="SMS to the store's contacts and head office"
    )
    refund_after_min: int | None = Field(
        default=30, ge=1, le=10080, description="Refund everything and tell the customer"
    )


Fen = Annotated[int, Field(ge=0, le=10**8, strict=True)]


class StoreCreate(Body):
    name: Name
    address: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    lat: Lat
    lng: Lng
    phone: Phone
    opening_hours: list[OpeningPeriod] = Field(default_factory=list, max_length=50)
    delivery_radius_m: int = Field(default=5000, ge=0, le=100_000)
    pickup_radius_m: int | None = Field(
        default=None, ge=0, le=100_000, description="Defaults to DEFAULT_PICKUP_RADIUS_M (3 km)"
    )
    status: StoreStatus = "active"
    notes: Text | None = None
    accept_deadlines: AcceptDeadlines = Field(default_factory=AcceptDeadlines)
    delivery_fee_fen: Fen = 0
    delivery_min_order_fen: Fen = Field(default=0, description="Goods payable a delivery order needs at least")
    free_delivery_over_fen: Fen | None = Field(default=None, description="No delivery fee from this goods payable on")


class StoreUpdate(Body):
    """Only the fields present are changed. An explicit null is refused (422 naming the field), except for
    ``notes``, which null clears."""

    name: Name = None
    address: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)] = None
    lat: Lat = None
    lng: Lng = None
    phone: Phone = None
    opening_hours: list[OpeningPeriod] = Field(default=None, max_length=50)
    delivery_radius_m: int = Field(default=None, ge=0, le=100_000)
    pickup_radius_m: int = Field(default=None, ge=0, le=100_000)
    status: StoreStatus = None
    notes: Text | None = None
    accept_deadlines: AcceptDeadlines = None
    delivery_fee_fen: Fen = None
    delivery_min_order_fen: Fen = None
    free_delivery_over_fen: Fen | None = None

    @model_validator(mode="after")
    def _something(self):
        if not self.model_fields_set:
            raise ValueError("nothing to change")
        return self


class StorePublic(Out):
    """What anyone may see of a store."""

    store_id: str
    name: str
    address: str
    lat: float
    lng: float
    phone: str
    opening_hours: list[dict]
    delivery_radius_m: int
    pickup_radius_m: int
    delivery_fee_fen: int = 0
    delivery_min_order_fen: int = 0
    free_delivery_over_fen: int | None = None


class StoreOut(StorePublic):
    status: StoreStatus
    notes: str | None = None
    accept_deadlines: dict
    created_at: datetime
    updated_at: datetime


class StoreListQuery(PageQuery):
    pass


class ShopStoresQuery(PageQuery):
    lat: Lat
    lng: Lng


class ShopStoreOut(StorePublic):
    distance_m: int
    open_now: bool
