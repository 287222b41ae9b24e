"""Pure catalog rules. No I/O: no boto3, no PynamoDB, no Chalice."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from chalicelib.catalog.errors import CatalogCode
from chalicelib.core.errors import Conflict, ValidationFailed

ON_SALE = "on_sale"
OFF_SALE = "off_sale"
SKU_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


@dataclass(frozen=True)
class Sellable:
    """What a checkout needs of a product (read in the cart's BatchGetItem, see ``repository.sellables_in``)."""

    sku: str
    name: str
    category: str
    price_fen: int
    cost_fen: int | None
    status: str
    consult_only: bool
    contact_hint: str | None
    commission: dict | None = None  # distribution's per-product rule


def is_valid_sku(sku: str) -> bool:
    """Same pattern as the schema: anything else cannot name a product (404, never a key lookup)."""
    return bool(SKU_RE.match(sku))


def _get(product_like: Any, name: str, default: Any = None) -> Any:
    if isinstance(product_like, Mapping):
        return product_like.get(name, default)
    return getattr(product_like, name, default)


def check_consult_rule(consult_only: bool, contact_hint: str | None) -> None:
    """Consult-only goods must tell the customer how to reach the shop."""
    if consult_only and not (contact_hint or "").strip():
        raise ValidationFailed(
            "contact_hint is required for consult-only goods",
            details={
                "in": "body",
                "fields": [
                    {"field": "contact_hint", "message": "required when consult_only is true", "type": "missing"}
                ],
            },
        )


def check_orderable_online(product_like: Any) -> None:
    """A cart line may be ordered online only for an on-sale product that is not consult-only.

    ``product_like`` is anything with ``sku``, ``status`` and ``consult_only`` (attributes or mapping keys).
    """
    sku = _get(product_like, "sku")
    if _get(product_like, "consult_only", False):
        raise Conflict(
            "This product can only be bought after consulting the shop",
            code=CatalogCode.CONSULT_ONLY,
            details={"sku": sku, "contact_hint": _get(product_like, "contact_hint")},
        )
    if _get(product_like, "status") != ON_SALE:
        raise Conflict("This product is not on sale", code=CatalogCode.OFF_SALE, details={"sku": sku})


def merge(current: Mapping[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    """The product after a PATCH: the changed fields over the current ones; the consult rule still holds."""
    merged = {**current, **changes}
    check_consult_rule(bool(merged.get("consult_only")), merged.get("contact_hint"))
    return merged


def barcode_change(old: str | None, new: str | None) -> tuple[str | None, str | None]:
    """(barcode to release, barcode to claim) when a product's barcode goes from ``old`` to ``new``."""
    if old == new:
        return None, None
    return old, new


def visible_in_shop(status: str) -> bool:
    return status == ON_SALE


def shop_contact_hint(consult_only: bool, contact_hint: str | None) -> str | None:
    """The hint is shown only for consult-only goods."""
    return contact_hint if consult_only else None
