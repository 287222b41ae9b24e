from __future__ import annotations

from chalice import Blueprint

from chalicelib.core.auth import HQ, MANAGERS, MEMBERS
from chalicelib.core.http import Req, route
from chalicelib.core.schemas import PageOut
from chalicelib.stores import services
from chalicelib.stores.schemas import ShopStoreOut, ShopStoresQuery, StoreCreate, StoreListQuery, StoreOut, StoreUpdate

stores_api = Blueprint(__name__)


@route(
    stores_api,
    "/admin/stores",
    "POST",
    roles=HQ,
    body=StoreCreate,
    response=StoreOut,
    status=201,
    idempotent=True,
    tag="stores",
    summary="Create a store (head office)",
)
def create_store(req: Req):
    return services.create_store(req.body)


@route(
    stores_api,
    "/admin/stores",
    "GET",
    roles=MANAGERS,
    query=StoreListQuery,
    response=PageOut[StoreOut],
    tag="stores",
    summary="List stores (a store manager sees their own)",
)
def list_stores(req: Req):
    return services.list_stores(req.principal, req.query.limit, req.query.next)


@route(
    stores_api,
    "/admin/stores/{store_id}",
    "GET",
    roles=MANAGERS,
    response=StoreOut,
    tag="stores",
    summary="Get a store",
)
def get_store(req: Req, store_id: str):
    return services.get_store(req.principal, store_id)


@route(
    stores_api,
    "/admin/stores/{store_id}",
    "PATCH",
    roles=MANAGERS,
    body=StoreUpdate,
    response=StoreOut,
    tag="stores",
    summary="Change a store (managers: name, phone, hours, notes of their own store)",
)
def update_store(req: Req, store_id: str):
    return services.update_store(req.principal, store_id, req.body)


@route(
    stores_api,
    "/shop/stores",
    "GET",
    roles=MEMBERS,
    query=ShopStoresQuery,
    response=PageOut[ShopStoreOut],
    tag="shop",
    summary="Stores nearest first, with distance_m and open_now",
)
def shop_stores(req: Req):
    q = req.query
    return services.shop_stores(q.lat, q.lng, q.limit, q.next)
