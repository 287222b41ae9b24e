"""Promotion use cases: head office creates, changes, pauses and lists them; every checkout reads the live
ones from a per-process cache (one Query per 30 s per process, not per request)."""

from __future__ import annotations

import threading
import time as _time
from typing import Any

from chalicelib.catalog import services as catalog
from chalicelib.core import clock
from chalicelib.core.auth import Principal
from chalicelib.core.dynamo import register_cache
from chalicelib.core.errors import Conflict, CoreCode, Forbidden
from chalicelib.core.ids import new_id
from chalicelib.core.schemas import PageOut
from chalicelib.pricing import domain as engine
from chalicelib.promotions import domain, repository
from chalicelib.promotions.models import PromotionItem
from chalicelib.promotions.schemas import PromotionCreate, PromotionOut, PromotionUpdate
from chalicelib.stores import services as stores

UPDATE_ATTEMPTS = 3


def fields_of(item: PromotionItem) -> dict[str, Any]:
    return {
        "promo_id": item.promo_id,
        "title": item.title,
        "description": item.description,
        "kind": item.promo_kind,
        "rule": item.rule,
        "scope": item.scope,
        "schedule": item.schedule,
        "priority": int(item.priority),
        "exclusive": bool(item.exclusive),
        "with_coupons": bool(item.with_coupons),
        "stacks_with_level": bool(item.stacks_with_level),
        "status": item.status,
        "created_by": item.created_by,
    }


def to_out(item: PromotionItem) -> PromotionOut:
    f = fields_of(item)
    f.pop("created_by")
    f["status"] = domain.status_of(item.status, item.schedule["ends_at"], clock.iso(clock.now()))
    return PromotionOut(**f, version=int(item.version), created_at=item.created_at, updated_at=item.updated_at)


def _normalise(body: dict[str, Any]) -> dict[str, Any]:
    """JSON of a validated body as stored: the rule's kind lifted out, times in UTC, gift snapshot added."""
    out = dict(body)
    if "rule" in out:
        out["rule"] = dict(out["rule"])
        out["kind"] = out["rule"].pop("kind")
    if "schedule" in out:
        sched = dict(out["schedule"])
        for k in ("starts_at", "ends_at"):
            sched[k] = clock.iso(clock.parse(sched[k]))
        out["schedule"] = sched
    return out


def _check_references(fields: dict[str, Any]) -> None:
    """Skus must be in the catalog (a combo's gift is snapshotted: name and price); stores must exist."""
    domain.check(fields)
    known = catalog.require_products(domain.skus_named(fields["kind"], fields["rule"], fields["scope"]), "rule")
    if fields["kind"] == engine.COMBO_GIFT:
        gift = known[fields["rule"]["gift_sku"]]
        snap = engine.gift_snapshot(gift.consult_only, gift.name, gift.price_fen, "rule.gift_sku")
        fields["rule"] = {**fields["rule"], **snap}
    stores.require_stores(fields["scope"].get("stores") or (), "scope.stores")


def create(principal: Principal, cmd: PromotionCreate) -> PromotionOut:
    fields = _normalise(cmd.model_dump(mode="json"))
    fields["created_by"] = principal.sub
    _check_references(fields)
    item = repository.create(repository.build(new_id(), fields, version=1))
    forget_live()
    return to_out(item)


def get(principal: Principal, promo_id: str) -> PromotionOut:
    item = repository.get(promo_id)
    _require_visible(principal, item)
    return to_out(item)


def _require_visible(principal: Principal, item: PromotionItem) -> None:
    if not principal.is_hq and not domain.visible_to_store(item.scope, principal.store_id):
        raise Forbidden("This promotion belongs to other stores", code=CoreCode.STORE_SCOPE)


def list_promotions(principal: Principal, status: str | None, limit: int, cursor: str | None) -> PageOut[PromotionOut]:
    """Newest first. A store manager sees chain-wide promotions and their own store's."""
    pg = repository.list_page(limit, cursor, status)
    items = [i for i in pg.items if principal.is_hq or domain.visible_to_store(i.scope, principal.store_id)]
    out = [to_out(i) for i in items]
    if status is not None:  # "ended" is derived from the schedule, so it is filtered here
        out = [o for o in out if o.status == status]
    return PageOut[PromotionOut](items=out, next=pg.next)


def _rewrite(promo_id: str, change) -> PromotionOut:
    """Read, change, write conditionally on the version read; retried when someone got in between."""
    for _ in range(UPDATE_ATTEMPTS):
        current = repository.get(promo_id, consistent=True)
        fields = change(fields_of(current))
        item = repository.build(promo_id, fields, version=int(current.version) + 1, created_at=current.created_at)
        try:
            repository.replace(item, expected_version=int(current.version))
        except repository.StalePromotion:
            continue
        forget_live()
        return to_out(item)
    raise Conflict("The promotion was changed by someone else meanwhile; retry", code=CoreCode.CONCURRENT_UPDATE)


def update(promo_id: str, cmd: PromotionUpdate) -> PromotionOut:
    changes = _normalise(cmd.changes())

    def apply(fields):
        merged = {**fields, **changes}
        _check_references(merged)
        return merged

    return _rewrite(promo_id, apply)


def set_status(promo_id: str, status: str) -> PromotionOut:
    def apply(fields):
        if domain.status_of(fields["status"], fields["schedule"]["ends_at"], clock.iso(clock.now())) == domain.ENDED:
            raise Conflict("The promotion has ended; create a new one", code=CoreCode.ILLEGAL_STATE)
        return {**fields, "status": status}

    return _rewrite(promo_id, apply)


# --------------------------------------------------------------------------------------- live promotions
# Tens of promotions, read by every quote and checkout: one Query of the sparse LIVEPROMOS index per
# LIVE_CACHE_S per process. A change made here shows at once in this process and within the TTL elsewhere;
# every order stores the rules it was charged with, so a later change never alters a placed order.
LIVE_CACHE_S = 30.0
_live: dict = register_cache({})


def forget_live() -> None:
    _live.clear()


_refill = threading.Lock()


def live() -> list[engine.Promotion]:
    """The active, not yet ended promotions (engine objects). One thread refills; concurrent callers in
    the same process wait for it rather than each querying."""
    now = clock.now()
    hit = _live.get("promos")
    if hit is None or _time.monotonic() - hit[0] > LIVE_CACHE_S:
        with _refill:
            hit = _live.get("promos")
            if hit is None or _time.monotonic() - hit[0] > LIVE_CACHE_S:
                hit = _live["promos"] = (
                    _time.monotonic(),
                    [domain.promotion_from(fields_of(i)) for i in repository.live(clock.iso(now))],
                )
    return domain.live_now(hit[1], now)
