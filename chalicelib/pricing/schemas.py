"""Request/response pieces shared by the domains that feed the pricing engine (promotions, coupons)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints, field_validator

from chalicelib.catalog.schemas import Category, Sku
from chalicelib.core.schemas import Body, Out, Ulid
from chalicelib.pricing.domain import Scope

__all__ = ["Category", "Sku", "ScopeIn", "ScopeOut", "scope_from", "Title", "Description"]
Channel = Literal["shop", "pos"]
Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=60)]
Description = Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)]


def _distinct(values: list) -> list:
    if len(set(values)) != len(values):
        raise ValueError("values must be distinct")
    return values


class ScopeIn(Body):
    """Where a promotion or coupon applies; an empty list means "all". ``skus`` and ``categories`` choose
    the lines (a line in either), ``exclude_skus`` removes lines; ``stores``, ``channels`` and ``min_level``
    choose the orders (``min_level``: omitted = anyone, members or not; 0 = any member; n = level n and up)."""

    skus: list[Sku] = Field(default_factory=list, max_length=200)
    categories: list[Category] = Field(default_factory=list, max_length=50)
    exclude_skus: list[Sku] = Field(default_factory=list, max_length=200)
    stores: list[Ulid] = Field(default_factory=list, max_length=200)
    channels: list[Channel] = Field(default_factory=list, max_length=2)
    min_level: int | None = Field(default=None, ge=0, le=99)

    _d = field_validator("skus", "categories", "exclude_skus", "stores", "channels")(_distinct)


class ScopeOut(Out):
    skus: list[str] = Field(default_factory=list)
    categories: list[str] = Field(default_factory=list)
    exclude_skus: list[str] = Field(default_factory=list)
    stores: list[str] = Field(default_factory=list)
    channels: list[str] = Field(default_factory=list)
    min_level: int | None = None


def scope_from(data: dict[str, Any] | None) -> Scope:
    """The engine's Scope from the JSON stored on a promotion, template or coupon."""
    data = data or {}
    return Scope(
        skus=frozenset(data.get("skus") or ()),
        categories=frozenset(data.get("categories") or ()),
        exclude_skus=frozenset(data.get("exclude_skus") or ()),
        stores=frozenset(data.get("stores") or ()),
        channels=frozenset(data.get("channels") or ()),
        min_level=int(data["min_level"]) if data.get("min_level") is not None else None,
    )
