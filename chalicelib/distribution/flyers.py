"""Promoter flyers (派单, docs/distribution.md "Promoter flyers and the funnel"): head office's promoters, their
batches of flyer scenes, and the funnel. Every step is counted by events into per-day counters (``FUNNEL#<day>``,
one item per promoter and one per flyer): a scan when the scene resolves, a registration when a member joins by
the scene, a completed order (and whether it was the member's first) on ``OrderCompleted``
(``invites.on_order_completed``), its sales net of refunds (:func:`on_refund_completed`). The funnel reads one
partition per day: no scan."""

from __future__ import annotations

import secrets
from collections import Counter
from datetime import timedelta
from typing import Any

from chalicelib.core import clock, metrics
from chalicelib.core.dynamo import TxCancelled, transaction
from chalicelib.core.errors import Conflict, NotFound
from chalicelib.core.ids import new_id
from chalicelib.core.ledger import business_day
from chalicelib.core.logging import logger
from chalicelib.core.schemas import PageOut
from chalicelib.distribution import domain, repository
from chalicelib.distribution.errors import DistributionCode
from chalicelib.distribution.schemas import (
    FlyerFunnel,
    FlyersIn,
    FlyersOut,
    FunnelOut,
    FunnelQuery,
    PromoterFunnel,
    PromoterIn,
    PromoterOut,
    ShareCodeOut,
)
from chalicelib.stores import services as stores

SCENE_ALPHABET = "abcdefghijkmnpqrstuvwxyz23456789"
DRAWS = 5


def _out(p) -> PromoterOut:
    return PromoterOut(
        promoter_id=p.promoter_id,
        name=p.name,
        phone=p.phone,
        store_id=p.store_id,
        flyers=int(p.flyers or 0),
        created_at=clock.iso(p.created_at),
    )


def create_promoter(cmd: PromoterIn) -> PromoterOut:
    if cmd.store_id is not None:
        stores.require_stores([cmd.store_id], "store_id")
    item = repository.put_promoter(new_id(), {"name": cmd.name, "phone": cmd.phone, "store_id": cmd.store_id})
    return _out(item)


def promoters(limit: int, cursor: str | None) -> PageOut[PromoterOut]:
    pg = repository.promoters_page(limit, cursor)
    return PageOut[PromoterOut](items=[_out(p) for p in pg.items], next=pg.next)


def create_flyers(promoter_id: str, cmd: FlyersIn) -> FlyersOut:
    """A batch of new flyer scenes (``f`` + 11 characters, <= 32 for WeChat), put in one transaction."""
    if repository.get_promoter(promoter_id) is None:
        raise NotFound("No such promoter", code=DistributionCode.PROMOTER_NOT_FOUND)
    for _ in range(DRAWS):
        scenes = ["f" + "".join(secrets.choice(SCENE_ALPHABET) for _ in range(11)) for _ in range(cmd.count)]
        if len(set(scenes)) == len(scenes) and repository.put_flyers(promoter_id, scenes):
            page_path = domain.PAGES[domain.FLYER]
            return FlyersOut(promoter_id=promoter_id, items=[ShareCodeOut(scene=s, page=page_path) for s in scenes])
    raise Conflict("Could not draw free scenes; retry", code=DistributionCode.SCENE_NOT_FOUND)


def count_scan(scene) -> None:
    repository.count_flyer_scan(scene, business_day(clock.now()))


def register(member_id: str, scene, joined_at: str | None) -> bool:
    """A new member who joined by a flyer belongs to its promoter (once: a redelivery finds it set)."""
    day = business_day(clock.parse(joined_at) if joined_at else clock.now())
    try:
        with transaction() as tx:
            repository.add_flyer_member(tx, member_id, scene.promoter_id, scene.scene)
            repository.add_funnel(tx, day, scene.promoter_id, scene.scene, {"registered": 1})
    except TxCancelled as e:
        if ("flyer_member", member_id) in e.failed:
            return False
        raise
    metrics.count("FlyerRegistrations")
    logger.info("flyer registration", extra={"member_id": member_id, "promoter_id": scene.promoter_id})
    return True


def _counts(c: Counter) -> dict[str, int]:
    return {k: int(c[k]) for k in domain.FUNNEL_COUNTS}


def funnel(q: FunnelQuery) -> FunnelOut:
    """Per promoter (every one) and per flyer (those with any count in the period) over business days
    from..to: one Query of each day's counters."""
    totals: dict[tuple[str, str | None], Counter] = {}
    day = q.from_
    while day <= q.to:
        for it in repository.funnel_of_day(day.isoformat()):
            c = totals.setdefault((it.promoter_id, it.scene), Counter())
            c.update({k: int(getattr(it, k) or 0) for k in domain.FUNNEL_COUNTS})
        day += timedelta(days=1)
    items = []
    for p in repository.all_promoters():
        mine = _counts(totals.get((p.promoter_id, None), Counter()))
        flyers = [
            FlyerFunnel(scene=sc, **_counts(c))
            for (pid, sc), c in sorted(totals.items(), key=_key)
            if pid == p.promoter_id and sc
        ]
        items.append(PromoterFunnel(promoter_id=p.promoter_id, name=p.name, flyers=flyers, **mine, **_rates(mine)))
    return FunnelOut(start=q.from_.isoformat(), end=q.to.isoformat(), items=items)


def _key(kv) -> tuple[str, str]:
    (pid, sc), _ = kv
    return pid, sc or ""


def _rates(c: dict[str, Any]) -> dict[str, int]:
    return {
        "register_rate_bp": domain.rate_bp(c["registered"], c["scanned"]),
        "first_order_rate_bp": domain.rate_bp(c["first_order"], c["registered"]),
    }


def on_refund_completed(event: dict[str, Any]) -> None:
    """A refund of a flyer member's order after it completed is taken off that completion day's sales (a refund
    before it is netted by the completion itself: the order's ``refunded_fen``). Once per refund (a marker in
    the same transaction)."""
    order = event["data"]
    refund, member_id = order.get("refund") or {}, order.get("member_id")
    if not order.get("completed_at") or not refund.get("refund_id") or not member_id:
        return
    profile = repository.get_profile(member_id)
    if profile is None or not profile.promoter_id:
        return
    day = business_day(clock.parse(order["completed_at"]))
    try:
        with transaction() as tx:
            repository.add_funnel_refund(tx, order["order_id"], refund["refund_id"])
            counts = {"sales_fen": -int(refund.get("amount_fen") or 0)}
            repository.add_funnel(tx, day, profile.promoter_id, profile.flyer_scene, counts)
    except TxCancelled as e:
        if ("funnel_refund", refund["refund_id"]) not in e.failed:
            raise
