from __future__ import annotations

from chalice import Blueprint

from chalicelib.catalog.schemas import PosProductOut, PosProductsQuery, ShopProductOut, ShopProductsQuery
from chalicelib.core.auth import MANAGERS, MEMBERS, STAFF_ROLES, STORE_BOUND
from chalicelib.core.http import Req, route
from chalicelib.core.schemas import PageOut, PageQuery
from chalicelib.inventory import services
from chalicelib.inventory.schemas import (
    CountCreate,
    CountOut,
    LedgerEntryOut,
    LowStockOut,
    LowStockQuery,
    MovementOut,
    ReceiptCreate,
    StockOut,
    ThresholdSet,
    TransferCreate,
    TransferOut,
    TransferQuery,
)

inventory_api = Blueprint(__name__)

BASE = "/admin/stores/{store_id}/stock"


@route(
    inventory_api,
    BASE,
    "GET",
    roles=STAFF_ROLES,
    query=PageQuery,
    response=PageOut[StockOut],
    tag="stock",
    summary="Stock on hand in a store (with threshold, in-transit and low flag)",
)
def list_stock(req: Req, store_id: str):
    return services.list_stock(req.principal, store_id, req.query.limit, req.query.next)


@route(
    inventory_api,
    BASE + "/receipts",
    "POST",
    roles=STAFF_ROLES,
    body=ReceiptCreate,
    response=MovementOut,
    status=201,
    idempotent=True,
    key_required=True,
    tag="stock",
    summary="Goods in: add received quantities (one ledger movement)",
)
def receipts(req: Req, store_id: str):
    return services.receive_goods(req.principal, store_id, req.body)


@route(
    inventory_api,
    BASE + "/counts",
    "POST",
    audit="stock_adjustment",
    roles=MANAGERS,
    body=CountCreate,
    response=CountOut,
    status=201,
    idempotent=True,
    key_required=True,
    tag="stock",
    summary="Stock-take: counted quantities become the balance via adjustments",
    errors=(409,),
)
def counts(req: Req, store_id: str):
    return services.stock_take(req.principal, store_id, req.body)


@route(
    inventory_api,
    BASE + "/{sku}/threshold",
    "PUT",
    roles=MANAGERS,
    body=ThresholdSet,
    response=StockOut,
    tag="stock",
    summary="Set the low-stock threshold of a sku in a store (null removes it)",
)
def threshold(req: Req, store_id: str, sku: str):
    return services.set_threshold(req.principal, store_id, sku, req.body.threshold)


@route(
    inventory_api,
    BASE + "/{sku}/ledger",
    "GET",
    roles=STAFF_ROLES,
    query=PageQuery,
    response=PageOut[LedgerEntryOut],
    tag="stock",
    summary="Every movement of a sku in a store, newest first",
)
def ledger(req: Req, store_id: str, sku: str):
    return services.ledger(req.principal, store_id, sku, req.query.limit, req.query.next)


@route(
    inventory_api,
    "/admin/alerts/low-stock",
    "GET",
    roles=MANAGERS,
    query=LowStockQuery,
    response=PageOut[LowStockOut],
    tag="stock",
    summary="Open low-stock alerts with a suggested source store for a transfer",
)
def low_stock(req: Req):
    return services.low_stock_alerts(req.principal, req.query.store_id, req.query.limit, req.query.next)


@route(
    inventory_api,
    "/admin/transfers",
    "POST",
    roles=MANAGERS,
    body=TransferCreate,
    response=TransferOut,
    status=201,
    idempotent=True,
    key_required=True,
    tag="transfers",
    summary="Create a transfer between two stores",
)
def create_transfer(req: Req):
    return services.create_transfer(req.principal, req.body)


@route(
    inventory_api,
    "/admin/transfers",
    "GET",
    roles=MANAGERS,
    query=TransferQuery,
    response=PageOut[TransferOut],
    tag="transfers",
    summary="Transfers, newest first (store_id + direction out|in)",
)
def list_transfers(req: Req):
    q = req.query
    return services.list_transfers(req.principal, q.store_id, q.direction, q.limit, q.next)


@route(
    inventory_api,
    "/admin/transfers/{transfer_id}/ship",
    "POST",
    roles=MANAGERS,
    response=TransferOut,
    idempotent=True,
    key_required=True,
    tag="transfers",
    summary="Ship: takes the stock from the source store",
    errors=(409,),
)
def ship(req: Req, transfer_id: str):
    return services.ship_transfer(req.principal, transfer_id)


@route(
    inventory_api,
    "/admin/transfers/{transfer_id}/receive",
    "POST",
    roles=MANAGERS,
    response=TransferOut,
    idempotent=True,
    key_required=True,
    tag="transfers",
    summary="Receive: adds the stock to the target store",
    errors=(409,),
)
def receive(req: Req, transfer_id: str):
    return services.receive_transfer(req.principal, transfer_id)


@route(
    inventory_api,
    "/admin/transfers/{transfer_id}/cancel",
    "POST",
    roles=MANAGERS,
    response=TransferOut,
    idempotent=True,
    tag="transfers",
    summary="Cancel a transfer that has not shipped",
    errors=(409,),
)
def cancel(req: Req, transfer_id: str):
    return services.cancel_transfer(req.principal, transfer_id)


@route(
    inventory_api,
    "/shop/products",
    "GET",
    roles=MEMBERS,
    query=ShopProductsQuery,
    response=PageOut[ShopProductOut],
    tag="shop",
    summary="On-sale products with stock_qty at a store; consult-only goods carry contact_hint",
    errors=(404,),
)
def shop_products(req: Req):
    q = req.query
    return services.shop_products(q.store_id, q.category, q.limit, q.next)


@route(
    inventory_api,
    "/pos/products",
    "GET",
    roles=STORE_BOUND,
    query=PosProductsQuery,
    response=PageOut[PosProductOut],
    tag="pos",
    errors=(404,),
    summary="Look a product up at the till by barcode (a scan) or by name, with price and this store's stock",
)
def pos_products(req: Req):
    q = req.query
    return services.pos_products(req.principal, q.barcode, q.q, q.limit, q.next)
