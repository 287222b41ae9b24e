"""The only code that reads or writes store items."""

from __future__ import annotations

from typing import Any

from pynamodb.exceptions import UpdateError

from chalicelib.core import clock
from chalicelib.core.dynamo import Page, condition_failed, page, put_new
from chalicelib.core.errors import Conflict, NotFound
from chalicelib.stores.errors import StoreCode
from chalicelib.stores.models import STORES_GSI1PK, StoreItem, store_pk

META = "META"


def partition(store_id: str) -> str:
    """The store's partition key. Per-store items of other domains (stock, low-stock alerts) live in it; they
    ask for it here instead of building it."""
    return store_pk(store_id)


def create(store_id: str, fields: dict[str, Any]) -> StoreItem:
    now = clock.now()
    item = StoreItem(
        store_pk(store_id),
        META,
        store_id=store_id,
        gsi1pk=STORES_GSI1PK,
        gsi1sk=store_id,
        created_at=now,
        updated_at=now,
        **fields,
    )
    if not put_new(item):
        raise Conflict("A store with this id already exists", code=StoreCode.STORE_EXISTS)
    return item


def get(store_id: str) -> StoreItem:
    item = StoreItem.get_or_none(store_pk(store_id), META)
    if item is None:
        raise NotFound("No such store", code=StoreCode.STORE_NOT_FOUND, details={"store_id": store_id})
    return item


def update(store_id: str, changes: dict[str, Any]) -> StoreItem:
    item = StoreItem(store_pk(store_id), META)
    actions = [
        getattr(StoreItem, k).set(v) if v is not None else getattr(StoreItem, k).remove() for k, v in changes.items()
    ]
    actions.append(StoreItem.updated_at.set(clock.now()))
    try:
        item.update(actions=actions, condition=StoreItem.pk.exists())
    except UpdateError as e:
        if condition_failed(e):
            raise NotFound("No such store", code=StoreCode.STORE_NOT_FOUND, details={"store_id": store_id})
        raise
    return item


def list_page(limit: int, cursor: str | None) -> Page:
    return page(StoreItem.gsi1.query, hash_key=STORES_GSI1PK, limit=limit, cursor=cursor)


def all_stores() -> list[StoreItem]:
    """Every store of the chain (a chain has tens of stores: one GSI partition, read in full)."""
    return list(StoreItem.gsi1.query(STORES_GSI1PK))
