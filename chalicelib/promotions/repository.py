"""The only code that reads or writes promotion items."""

from __future__ import annotations

from typing import Any

from chalicelib.core import clock
from chalicelib.core.dynamo import Page, TxCancelled, page, transaction
from chalicelib.core.errors import NotFound
from chalicelib.core.ids import is_ulid
from chalicelib.promotions.errors import PromotionCode
from chalicelib.promotions.models import ALL_GSI1PK, LIVE_GSI2PK, META, PromotionItem, live_gsi2sk, promo_pk


class StalePromotion(Exception):
    """Someone changed the promotion between our read and our conditional write."""


def build(promo_id: str, fields: dict[str, Any], version: int, created_at=None) -> PromotionItem:
    now = clock.now()
    item = PromotionItem(
        promo_pk(promo_id),
        META,
        promo_id=promo_id,
        title=fields["title"],
        description=fields.get("description"),
        promo_kind=fields["kind"],
        rule=fields["rule"],
        scope=fields["scope"],
        schedule=fields["schedule"],
        priority=fields["priority"],
        exclusive=fields["exclusive"],
        with_coupons=fields["with_coupons"],
        stacks_with_level=fields.get("stacks_with_level", False),
        status=fields["status"],
        created_by=fields.get("created_by"),
        version=version,
        created_at=created_at or now,
        updated_at=now,
        gsi1pk=ALL_GSI1PK,
        gsi1sk=promo_id,
    )
    if item.status == "active":
        item.gsi2pk, item.gsi2sk = LIVE_GSI2PK, live_gsi2sk(fields["schedule"]["ends_at"], promo_id)
    return item


def create(item: PromotionItem) -> PromotionItem:
    """A new promotion (a transaction of one item, so an action-log entry can ride along: core.actionlog)."""
    with transaction() as tx:
        tx.save(item, condition=PromotionItem.pk.does_not_exist(), tag="promotion")
    return item


def replace(item: PromotionItem, expected_version: int) -> PromotionItem:
    """Write ``item`` over the stored one if it is still at ``expected_version`` (a transaction of one item, like
    ``create``)."""
    try:
        with transaction() as tx:
            tx.save(item, condition=PromotionItem.version == expected_version, tag="promotion")
    except TxCancelled as e:
        if "promotion" in e.failed:
            raise StalePromotion(item.promo_id)
        raise
    return item


def get(promo_id: str, consistent: bool = False) -> PromotionItem:
    item = (
        PromotionItem.get_or_none(promo_pk(promo_id), META, consistent_read=consistent) if is_ulid(promo_id) else None
    )
    if item is None:
        raise NotFound("No such promotion", code=PromotionCode.PROMOTION_NOT_FOUND, details={"promo_id": promo_id})
    return item


def list_page(limit: int, cursor: str | None, status: str | None = None) -> Page:
    filt = (PromotionItem.status == status) if status in ("active", "paused") else None
    return page(
        PromotionItem.gsi1.query,
        hash_key=ALL_GSI1PK,
        scan_index_forward=False,
        filter_condition=filt,
        limit=limit,
        cursor=cursor,
    )


def live(now_iso: str) -> list[PromotionItem]:
    """Active promotions that have not ended: one Query of the sparse LIVEPROMOS index (tens of items)."""
    return list(PromotionItem.gsi2.query(LIVE_GSI2PK, PromotionItem.gsi2sk >= now_iso))
