"""The only code that reads or writes product and barcode items."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from chalicelib.catalog.domain import Sellable
from chalicelib.catalog.errors import CatalogCode
from chalicelib.catalog.models import (
    META,
    PRODUCTS_GSI1PK,
    BarcodeItem,
    ProductItem,
    barcode_pk,
    category_gsi2pk,
    product_pk,
)
from chalicelib.core import clock
from chalicelib.core.dynamo import Page, TxCancelled, batch_get, page, transaction
from chalicelib.core.errors import Conflict, NotFound


class StaleProduct(Exception):
    """The product changed between the read and the conditional write of an update."""


def _keys(sku: str, category: str) -> dict[str, str]:
    return {"gsi1pk": PRODUCTS_GSI1PK, "gsi1sk": sku, "gsi2pk": category_gsi2pk(category), "gsi2sk": sku}


def _barcode_taken(code: str | None) -> Conflict:
    return Conflict(
        "This barcode belongs to another product", code=CatalogCode.BARCODE_TAKEN, details={"barcode": code}
    )


def create(fields: dict[str, Any]) -> ProductItem:
    """Product and (if any) its barcode claim in one transaction; 409 SKU_EXISTS / BARCODE_TAKEN."""
    now = clock.now()
    sku = fields["sku"]
    item = ProductItem(
        product_pk(sku), META, created_at=now, updated_at=now, version=1, **_keys(sku, fields["category"]), **fields
    )
    try:
        with transaction() as tx:
            tx.save(item, condition=ProductItem.pk.does_not_exist(), tag="sku")
            if item.barcode:
                tx.save(
                    BarcodeItem(barcode_pk(item.barcode), META, sku=sku, created_at=now),
                    condition=BarcodeItem.pk.does_not_exist(),
                    tag="barcode",
                )
    except TxCancelled as e:
        if "sku" in e.failed:
            raise Conflict("A product with this sku already exists", code=CatalogCode.SKU_EXISTS, details={"sku": sku})
        if "barcode" in e.failed:
            raise _barcode_taken(item.barcode)
        raise
    return item


def find(sku: str, consistent: bool = False) -> ProductItem | None:
    return ProductItem.get_or_none(product_pk(sku), META, consistent_read=consistent)


def product_keys(skus: Iterable[str]) -> list[tuple[str, str]]:
    """Keys of these products, for a BatchGetItem another domain gathers (``sellables_in`` reads them back)."""
    return [(product_pk(s), META) for s in skus]


def sellables(skus: Iterable[str]) -> dict[str, Sellable]:
    """Products by sku in one BatchGetItem (up to 100); unknown skus are simply absent."""
    return sellables_in(batch_get(product_keys(dict.fromkeys(skus))))


def sellables_in(got: Mapping[tuple[str, str], Any]) -> dict[str, Sellable]:
    """The products among a BatchGetItem's items, by sku."""
    return {
        i.sku: Sellable(
            sku=i.sku,
            name=i.name,
            category=i.category,
            price_fen=int(i.price_fen),
            cost_fen=int(i.cost_fen) if i.cost_fen is not None else None,
            status=i.status,
            consult_only=bool(i.consult_only),
            contact_hint=i.contact_hint,
            commission=i.commission,
        )
        for i in got.values()
        if isinstance(i, ProductItem)
    }


def get(sku: str, consistent: bool = False) -> ProductItem:
    item = find(sku, consistent)
    if item is None:
        raise NotFound("No such product", code=CatalogCode.PRODUCT_NOT_FOUND, details={"sku": sku})
    return item


def replace(current: ProductItem, fields: dict[str, Any], release: str | None, claim: str | None) -> ProductItem:
    """Write the changed product over ``current`` if nobody changed it meanwhile (version check), releasing
    and claiming barcodes in the same transaction. Raises :class:`StaleProduct` or 409 BARCODE_TAKEN."""
    now = clock.now()
    sku = current.sku
    fields = {k: v for k, v in fields.items() if k not in ("sku", "created_at", "updated_at", "version")}
    item = ProductItem(
        product_pk(sku),
        META,
        sku=sku,
        created_at=current.created_at,
        updated_at=now,
        version=int(current.version or 0) + 1,
        **_keys(sku, fields["category"]),
        **fields,
    )
    try:
        with transaction() as tx:
            tx.save(item, condition=ProductItem.version == current.version, tag="product")
            if release:
                # Only our own claim is released (or none at all, for an item written before claims existed).
                tx.delete(
                    BarcodeItem(barcode_pk(release), META),
                    condition=BarcodeItem.pk.does_not_exist() | (BarcodeItem.sku == sku),
                    tag="release",
                )
            if claim:
                tx.save(
                    BarcodeItem(barcode_pk(claim), META, sku=sku, created_at=now),
                    condition=BarcodeItem.pk.does_not_exist(),
                    tag="barcode",
                )
    except TxCancelled as e:
        if "product" in e.failed:
            raise StaleProduct(sku)
        if "barcode" in e.failed:
            raise _barcode_taken(claim)
        raise
    return item


def by_barcode(code: str) -> ProductItem | None:
    """Base-table reads only: the barcode claim, then its product."""
    link = BarcodeItem.get_or_none(barcode_pk(code), META, consistent_read=True)
    if link is None:
        return None
    item = find(link.sku, consistent=True)
    return item if item is not None and item.barcode == code else None


def search_page(text: str, limit: int, cursor: str | None) -> Page:
    """Products whose name contains ``text`` (the catalog partition of gsi1, filtered; a page may hold fewer
    than ``limit`` items and still have a next one)."""
    return page(
        ProductItem.gsi1.query,
        hash_key=PRODUCTS_GSI1PK,
        filter_condition=ProductItem.name.contains(text),
        limit=limit,
        cursor=cursor,
    )


def list_page(category: str | None, status: str | None, limit: int, cursor: str | None) -> Page:
    """Products in sku order: the whole catalog (gsi1) or one category (gsi2), optionally one status."""
    filt = (ProductItem.status == status) if status else None
    if category:
        return page(
            ProductItem.gsi2.query,
            hash_key=category_gsi2pk(category),
            filter_condition=filt,
            limit=limit,
            cursor=cursor,
        )
    return page(ProductItem.gsi1.query, hash_key=PRODUCTS_GSI1PK, filter_condition=filt, limit=limit, cursor=cursor)
