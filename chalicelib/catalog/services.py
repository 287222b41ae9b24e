"""Catalog use cases."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from chalicelib.catalog import domain, repository
from chalicelib.catalog.domain import Sellable
from chalicelib.catalog.errors import CatalogCode
from chalicelib.catalog.models import ProductItem
from chalicelib.catalog.schemas import ProductCreate, ProductOut, ProductUpdate
from chalicelib.core.errors import Conflict, CoreCode, NotFound, ValidationFailed
from chalicelib.core.schemas import PageOut

UPDATE_ATTEMPTS = 3


def fields_of(item: ProductItem) -> dict[str, Any]:
    return {
        "sku": item.sku,
        "name": item.name,
        "category": item.category,
        "price_fen": int(item.price_fen),
        "cost_fen": int(item.cost_fen) if item.cost_fen is not None else None,
        "barcode": item.barcode,
        "consult_only": bool(item.consult_only),
        "contact_hint": item.contact_hint,
        "status": item.status,
        "unit": item.unit,
        "spec": item.spec,
        "description": item.description,
        "image_url": item.image_url,
        "commission": item.commission,
    }


def to_out(item: ProductItem) -> ProductOut:
    return ProductOut(**fields_of(item), created_at=item.created_at, updated_at=item.updated_at)


def _not_found(sku: str) -> NotFound:
    return NotFound("No such product", code=CatalogCode.PRODUCT_NOT_FOUND, details={"sku": sku})


def create_product(cmd: ProductCreate) -> ProductOut:
    domain.check_consult_rule(cmd.consult_only, cmd.contact_hint)
    return to_out(repository.create(cmd.model_dump()))


def get_product(sku: str) -> ProductOut:
    if not domain.is_valid_sku(sku):
        raise _not_found(sku)
    return to_out(repository.get(sku))


def update_product(sku: str, cmd: ProductUpdate) -> ProductOut:
    """Read, merge, check the rules on the result, write conditionally on the version read; retried a few
    times when another change got in between."""
    if not domain.is_valid_sku(sku):
        raise _not_found(sku)
    changes = cmd.changes()
    for _ in range(UPDATE_ATTEMPTS):
        current = repository.get(sku, consistent=True)
        merged = domain.merge(fields_of(current), changes)
        release, claim = domain.barcode_change(current.barcode, merged["barcode"])
        try:
            return to_out(repository.replace(current, merged, release, claim))
        except repository.StaleProduct:
            continue
    raise Conflict(
        "The product was changed by someone else meanwhile; retry",
        code=CoreCode.CONCURRENT_UPDATE,
        details={"sku": sku},
    )


def list_products(
    category: str | None, status: str | None, barcode: str | None, limit: int, cursor: str | None
) -> PageOut[ProductOut]:
    if barcode is not None:
        item = repository.by_barcode(barcode)
        hits = (
            [item]
            if item is not None
            and (category is None or item.category == category)
            and (status is None or item.status == status)
            else []
        )
        return PageOut[ProductOut](items=[to_out(i) for i in hits], next=None)
    pg = repository.list_page(category, status, limit, cursor)
    return PageOut[ProductOut](items=[to_out(i) for i in pg.items], next=pg.next)


def require_products(skus: Iterable[str], field: str) -> dict[str, Sellable]:
    """The products named by another domain's input (a cart, a promotion's rule, a coupon's scope), by sku;
    422 UNKNOWN_SKU naming ``field`` and every sku the catalog does not have."""
    wanted = sorted(set(skus))
    known = repository.sellables(wanted) if wanted else {}
    missing = [s for s in wanted if s not in known]
    if missing:
        raise ValidationFailed(
            "Unknown sku",
            code=CatalogCode.UNKNOWN_SKU,
            details={"skus": missing, "fields": [{"field": field, "message": f"unknown sku {s}"} for s in missing]},
        )
    return known
