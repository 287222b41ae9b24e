"""Store use cases."""

from __future__ import annotations

from collections.abc import Iterable

from chalicelib.core import clock
from chalicelib.core.auth import Principal
from chalicelib.core.dynamo import register_cache
from chalicelib.core.errors import Forbidden, ValidationFailed, invalid_cursor
from chalicelib.core.ids import new_id
from chalicelib.core.schemas import PageOut
from chalicelib.core.settings import get_settings
from chalicelib.stores import domain, repository
from chalicelib.stores.errors import StoreCode
from chalicelib.stores.models import StoreItem
from chalicelib.stores.schemas import ShopStoreOut, StoreCreate, StoreOut, StoreUpdate


def _public(item: StoreItem) -> dict:
    return dict(
        store_id=item.store_id,
        name=item.name,
        address=item.address,
        lat=float(item.lat),
        lng=float(item.lng),
        phone=item.phone,
        opening_hours=item.opening_hours,
        delivery_radius_m=int(item.delivery_radius_m),
        pickup_radius_m=int(item.pickup_radius_m),
        delivery_fee_fen=int(item.delivery_fee_fen or 0),
        delivery_min_order_fen=int(item.delivery_min_order_fen or 0),
        free_delivery_over_fen=None if item.free_delivery_over_fen is None else int(item.free_delivery_over_fen),
    )


def to_out(item: StoreItem) -> StoreOut:
    return StoreOut(
        **_public(item),
        status=item.status,
        notes=item.notes,
        accept_deadlines={**domain.DEFAULT_ACCEPT_DEADLINES, **(item.accept_deadlines or {})},
        created_at=item.created_at,
        updated_at=item.updated_at,
    )


def create_store(cmd: StoreCreate) -> StoreOut:
    fields = cmd.model_dump(mode="json")
    if fields["pickup_radius_m"] is None:
        fields["pickup_radius_m"] = get_settings().default_pickup_radius_m
    _chain.clear()
    return to_out(repository.create(new_id(), fields))


def get_store(principal: Principal, store_id: str) -> StoreOut:
    principal.require_store(store_id)
    return to_out(repository.get(store_id))


# Fields a store manager may change on their own store; location, radius and status are head office's.
MANAGER_FIELDS = frozenset({"name", "phone", "opening_hours", "notes", "accept_deadlines"})


def update_store(principal: Principal, store_id: str, cmd: StoreUpdate) -> StoreOut:
    principal.require_store(store_id)
    changes = {k: v for k, v in cmd.model_dump(mode="json").items() if k in cmd.model_fields_set}
    if not principal.is_hq and not set(changes) <= MANAGER_FIELDS:
        raise Forbidden(
            "Only head office may change these fields",
            code=StoreCode.FIELD_FORBIDDEN,
            details={"fields": sorted(set(changes) - MANAGER_FIELDS)},
        )
    _chain.clear()
    return to_out(repository.update(store_id, changes))


def list_stores(principal: Principal, limit: int, cursor: str | None) -> PageOut[StoreOut]:
    if not principal.is_hq:
        return PageOut[StoreOut](items=[to_out(repository.get(principal.store_id))], next=None)
    pg = repository.list_page(limit, cursor)
    return PageOut[StoreOut](items=[to_out(i) for i in pg.items], next=pg.next)


# The chain's stores, read once per CHAIN_CACHE_S per process: routing and checkout need every store's
# location, hours and status on each request, and stores change rarely (a change shows within the TTL).
CHAIN_CACHE_S = 30.0
_chain: dict = register_cache({})


def chain() -> list[StoreItem]:
    import time

    hit = _chain.get("stores")
    if hit is None or time.monotonic() - hit[0] > CHAIN_CACHE_S:
        hit = _chain["stores"] = (time.monotonic(), repository.all_stores())
    return hit[1]


def shop_stores(lat: float, lng: float, limit: int, cursor: str | None) -> PageOut[ShopStoreOut]:
    """Active stores nearest first. The cursor is the offset into that order."""
    local = clock.business_now()
    rows = []
    for s in chain():
        if s.status != "active":
            continue
        rows.append(
            ShopStoreOut(
                **_public(s),
                distance_m=domain.distance_m(lat, lng, float(s.lat), float(s.lng)),
                open_now=domain.is_open(domain.periods_from(s.opening_hours), local),
            )
        )
    rows.sort(key=lambda r: (r.distance_m, r.store_id))
    start = _offset(cursor)
    chunk = rows[start : start + limit]
    nxt = str(start + limit) if start + limit < len(rows) else None
    return PageOut[ShopStoreOut](items=chunk, next=nxt)


def _offset(cursor: str | None) -> int:
    if cursor is None:
        return 0
    if not cursor.isdigit() or len(cursor) > 6:
        raise invalid_cursor()
    return int(cursor)


def require_stores(store_ids: Iterable[str], field: str) -> None:
    """422 UNKNOWN_STORE naming ``field`` and every id that is not one of the chain's stores."""
    unknown = sorted(set(store_ids) - {s.store_id for s in chain()})
    if unknown:
        raise ValidationFailed(
            "Unknown store",
            code=StoreCode.UNKNOWN_STORE,
            details={"stores": unknown, "fields": [{"field": field, "message": f"unknown store {s}"} for s in unknown]},
        )


def find(store_id: str | None) -> StoreItem | None:
    """One of the chain's stores, from the cached list (None if there is no such store)."""
    return next((s for s in chain() if s.store_id == store_id), None) if store_id else None


def require_store(store_id: str) -> StoreItem:
    """The store, read from the table (404 STORE_NOT_FOUND)."""
    return repository.get(store_id)
