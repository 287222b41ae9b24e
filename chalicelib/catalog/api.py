from __future__ import annotations

from chalice import Blueprint

from chalicelib.catalog import services
from chalicelib.catalog.schemas import ProductCreate, ProductListQuery, ProductOut, ProductUpdate
from chalicelib.core.auth import HQ, MANAGERS
from chalicelib.core.http import Req, route
from chalicelib.core.schemas import PageOut

catalog_api = Blueprint(__name__)


@route(
    catalog_api,
    "/admin/products",
    "POST",
    audit="product_change",
    roles=HQ,
    body=ProductCreate,
    response=ProductOut,
    status=201,
    idempotent=True,
    tag="catalog",
    summary="Create a product (head office)",
)
def create_product(req: Req):
    return services.create_product(req.body)


@route(
    catalog_api,
    "/admin/products",
    "GET",
    roles=MANAGERS,
    query=ProductListQuery,
    response=PageOut[ProductOut],
    tag="catalog",
    summary="List products by sku; filter by category and status, or look one up by barcode",
)
def list_products(req: Req):
    q = req.query
    return services.list_products(q.category, q.status, q.barcode, q.limit, q.next)


@route(
    catalog_api,
    "/admin/products/{sku}",
    "GET",
    roles=MANAGERS,
    response=ProductOut,
    tag="catalog",
    summary="Get a product",
)
def get_product(req: Req, sku: str):
    return services.get_product(sku)


@route(
    catalog_api,
    "/admin/products/{sku}",
    "PATCH",
    audit="product_change",
    roles=HQ,
    body=ProductUpdate,
    response=ProductOut,
    tag="catalog",
    summary="Change a product (head office); only the fields present change",
    errors=(409,),
)
def update_product(req: Req, sku: str):
    return services.update_product(sku, req.body)
