from __future__ import annotations

from pynamodb.attributes import BooleanAttribute, JSONAttribute, NumberAttribute, UnicodeAttribute

from chalicelib.core.dynamo import Item

META = "META"
PRODUCTS_GSI1PK = "PRODUCTS"


def product_pk(sku: str) -> str:
    return f"PRODUCT#{sku}"


def barcode_pk(code: str) -> str:
    return f"BARCODE#{code}"


def category_gsi2pk(category: str) -> str:
    return f"CATEGORY#{category}"


class ProductItem(Item, discriminator="Product"):
    """pk=PRODUCT#<sku>, sk=META; gsi1: PRODUCTS / <sku> (whole catalog by sku);
    gsi2: CATEGORY#<category> / <sku> (one category by sku)."""

    sku = UnicodeAttribute()
    name = UnicodeAttribute()
    category = UnicodeAttribute()
    price_fen = NumberAttribute()
    cost_fen = NumberAttribute(null=True)
    barcode = UnicodeAttribute(null=True)
    consult_only = BooleanAttribute(default=False)
    contact_hint = UnicodeAttribute(null=True)
    status = UnicodeAttribute()
    unit = UnicodeAttribute()
    spec = UnicodeAttribute(null=True)
    description = UnicodeAttribute(null=True)
    image_url = UnicodeAttribute(null=True)
    commission = JSONAttribute(null=True)  # {level1_bp?, level2_bp?, excluded?}: distribution's per-product rule
    version = NumberAttribute(default=1)  # optimistic lock for PATCH (read, merge, conditional write)


class BarcodeItem(Item, discriminator="Barcode"):
    """pk=BARCODE#<code>, sk=META -> sku. Makes a barcode belong to at most one product; written in the same
    transaction as the product."""

    sku = UnicodeAttribute()
