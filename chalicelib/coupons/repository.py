"""The only code that reads or writes coupon templates, coupons, quotas, blocks, grant guards, claim rates
and the coupon sweep marks.

Other use cases add coupon items to *their* transaction: ``add_lock`` (an order takes its coupons),
``add_release`` (a cancelled order gives them back). Transaction tags: ("tpl", template_id),
("quota", member_id, template_id), ("block", member_id), ("coupon", coupon_id), ("guard", pk).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from pynamodb.exceptions import UpdateError

from chalicelib.core import clock, events
from chalicelib.core.dynamo import (
    Item,
    Page,
    Tx,
    TxCancelled,
    batch_get,
    condition_failed,
    page,
    transaction,
    update_if,
)
from chalicelib.core.errors import NotFound
from chalicelib.core.ids import is_ulid, new_id
from chalicelib.core.ledger import Book, audit_accounts, business_day, day_bucket
from chalicelib.coupons import domain
from chalicelib.coupons.errors import CouponCode
from chalicelib.coupons.models import (
    AUDIT_DAY_PREFIX,
    BLOCK_SK,
    BLOCKS_GSI1PK,
    META,
    TEMPLATES_GSI1PK,
    ClaimRateItem,
    CouponBlockItem,
    CouponItem,
    CouponTemplateItem,
    GrantGuardItem,
    QuotaItem,
    StockAdjustmentItem,
    active_gsi2pk,
    coupon_sk,
    expiry_gsi1pk,
    member_pk,
    quota_sk,
    template_coupons_gsi2pk,
    template_pk,
)


# --------------------------------------------------------------------------------------- templates
def new_template(template_id: str, fields: dict[str, Any]) -> CouponTemplateItem:
    now = clock.now()
    item = CouponTemplateItem(
        template_pk(template_id),
        META,
        template_id=template_id,
        created_at=now,
        updated_at=now,
        version=1,
        gsi1pk=TEMPLATES_GSI1PK,
        gsi1sk=template_id,
        remaining=fields["total_stock"],
        **fields,
    )
    if item.status == "active":
        item.gsi2pk, item.gsi2sk = active_gsi2pk(item.purpose), template_id
    return item


def create_template(item: CouponTemplateItem, actor: str) -> CouponTemplateItem:
    """The template and its first stock entry (the initial stock) in one transaction."""
    with transaction() as tx:
        tx.save(item, condition=CouponTemplateItem.pk.does_not_exist(), tag=("tpl", item.template_id))
        _add_adjustment(tx, item.template_id, int(item.total_stock), actor, "initial stock")
    return item


def _add_adjustment(tx: Tx, template_id: str, delta: int, actor: str | None, note: str | None) -> None:
    adj_id = new_id()
    tx.save(
        StockAdjustmentItem(
            template_pk(template_id),
            f"ADJ#{adj_id}",
            template_id=template_id,
            delta=delta,
            actor=actor,
            note=note,
            created_at=clock.now(),
            gsi3pk=day_bucket(AUDIT_DAY_PREFIX, business_day()),
            gsi3sk=f"{template_id}#ADJ#{adj_id}",
        ),
        condition=StockAdjustmentItem.pk.does_not_exist(),
        tag=("adjustment", adj_id),
    )


def get_template(template_id: str, consistent: bool = False) -> CouponTemplateItem:
    item = (
        CouponTemplateItem.get_or_none(template_pk(template_id), META, consistent_read=consistent)
        if is_ulid(template_id)
        else None
    )
    if item is None:
        raise NotFound(
            "No such coupon template", code=CouponCode.TEMPLATE_NOT_FOUND, details={"template_id": template_id}
        )
    return item


class StaleTemplate(Exception):
    pass


def update_template(item: CouponTemplateItem, changes: dict[str, Any]) -> CouponTemplateItem:
    """SET the changed attributes if nobody else changed the template since ``item`` was read. The stock is
    never written here (claims ADD to it concurrently)."""
    actions = [
        getattr(CouponTemplateItem, k).set(v) if v is not None else getattr(CouponTemplateItem, k).remove()
        for k, v in changes.items()
    ]
    actions += [CouponTemplateItem.version.add(1), CouponTemplateItem.updated_at.set(clock.now())]
    if "status" in changes:
        actions += (
            [
                CouponTemplateItem.gsi2pk.set(active_gsi2pk(item.purpose)),
                CouponTemplateItem.gsi2sk.set(item.template_id),
            ]
            if changes["status"] == "active"
            else [CouponTemplateItem.gsi2pk.remove(), CouponTemplateItem.gsi2sk.remove()]
        )
    try:
        item.update(actions=actions, condition=CouponTemplateItem.version == item.version)
    except UpdateError as e:
        if condition_failed(e):
            raise StaleTemplate(item.template_id)
        raise
    return item


def adjust_stock(template_id: str, delta: int, actor: str, note: str | None) -> None:
    """Add (or withdraw, never below what is left) coupons, with the adjustment entry, in one transaction."""
    with transaction() as tx:
        tx.update(
            CouponTemplateItem(template_pk(template_id), META),
            [
                CouponTemplateItem.total_stock.add(delta),
                CouponTemplateItem.remaining.add(delta),
                CouponTemplateItem.updated_at.set(clock.now()),
            ],
            condition=CouponTemplateItem.pk.exists() & (CouponTemplateItem.remaining >= max(0, -delta)),
            tag=("tpl", template_id),
        )
        _add_adjustment(tx, template_id, delta, actor, note)


def adjustments(template_id: str) -> list[StockAdjustmentItem]:
    return list(StockAdjustmentItem.query(template_pk(template_id), StockAdjustmentItem.sk.startswith("ADJ#")))


def changed_on(day: str) -> set[str]:
    """Templates whose stock changed on business day ``day`` (coupons issued, adjustments): one Query of that
    day's gsi3 bucket (keys only are needed: the template id leads the sort key)."""
    return {i.gsi3sk.split("#", 1)[0] for i in Item.gsi3.query(day_bucket(AUDIT_DAY_PREFIX, day))}


def audit_changed(day: str) -> list[Book]:
    """``remaining`` against its ledger (sum of the adjustments - coupons issued) of every template whose stock
    changed on ``day``. The coupons are counted on gsi2 (eventually consistent: ``settle`` reads again)."""

    def balance(tid: str) -> dict:
        item = CouponTemplateItem.get_or_none(template_pk(tid), META, consistent_read=True)
        return {"coupon_stock": int(item.remaining or 0) if item else 0}

    def ledger(tid: str) -> dict:
        adjustments = StockAdjustmentItem.query(
            template_pk(tid), StockAdjustmentItem.sk.startswith("ADJ#"), consistent_read=True
        )
        added = sum(int(a.delta) for a in adjustments)
        return {"coupon_stock": added - CouponItem.gsi2.count(template_coupons_gsi2pk(tid))}

    return audit_accounts(changed_on(day), balance, ledger, lambda t, book: (book, t))


def templates_page(purpose: str | None, limit: int, cursor: str | None) -> Page:
    filt = (CouponTemplateItem.purpose == purpose) if purpose else None
    return page(
        CouponTemplateItem.gsi1.query,
        hash_key=TEMPLATES_GSI1PK,
        scan_index_forward=False,
        filter_condition=filt,
        limit=limit,
        cursor=cursor,
    )


def active_templates(purpose: str) -> list[CouponTemplateItem]:
    """Active templates of one purpose (the new-member pack, invite gifts): one Query of a sparse index."""
    return list(CouponTemplateItem.gsi2.query(active_gsi2pk(purpose)))


def active_page(purpose: str, limit: int, cursor: str | None) -> Page:
    return page(
        CouponTemplateItem.gsi2.query,
        hash_key=active_gsi2pk(purpose),
        scan_index_forward=False,
        limit=limit,
        cursor=cursor,
    )


# --------------------------------------------------------------------------------------- issuing
def new_coupon(
    tpl: CouponTemplateItem,
    member_id: str,
    source: str,
    source_ref: str | None,
    valid_from: str,
    expires_at: str,
    expires_on: str,
    terms: dict[str, Any],
) -> CouponItem:
    coupon_id = new_id()
    return CouponItem(
        member_pk(member_id),
        coupon_sk(coupon_id),
        coupon_id=coupon_id,
        member_id=member_id,
        template_id=tpl.template_id,
        terms=terms,
        status=domain.AVAILABLE,
        valid_from=valid_from,
        expires_at=expires_at,
        expires_on=expires_on,
        source=source,
        source_ref=source_ref,
        created_at=clock.now(),
        updated_at=clock.now(),
        gsi1pk=expiry_gsi1pk(expires_on),
        gsi1sk=f"{expires_at}#{coupon_id}",
        gsi2pk=template_coupons_gsi2pk(tpl.template_id),
        gsi2sk=coupon_id,
        gsi3pk=day_bucket(AUDIT_DAY_PREFIX, business_day()),
        gsi3sk=f"{tpl.template_id}#{coupon_id}",
    )


def add_issue(tx: Tx, tpl: CouponTemplateItem, coupon: CouponItem) -> None:
    """One coupon out of the template's stock, within the member's quota: 3 conditional items. Failures name
    ("tpl", id) or ("quota", member, id). Add ``add_not_blocked`` once per member for claims and gifts."""
    add_issue_many(tx, tpl, [coupon])


def add_issue_many(tx: Tx, tpl: CouponTemplateItem, coupons: list[CouponItem]) -> None:
    """Coupons of one template for DIFFERENT members in one transaction (a campaign's group of members): the
    template's stock taken once by their number (DynamoDB allows one operation per item), then each member's
    quota and coupon. Failures as ``add_issue``."""
    tid = tpl.template_id
    tx.update(
        CouponTemplateItem(template_pk(tid), META),
        [CouponTemplateItem.remaining.add(-len(coupons)), CouponTemplateItem.updated_at.set(clock.now())],
        condition=(CouponTemplateItem.remaining >= len(coupons)) & (CouponTemplateItem.status == "active"),
        tag=("tpl", tid),
    )
    for coupon in coupons:
        member_id = coupon.member_id
        tx.update(
            QuotaItem(member_pk(member_id), quota_sk(tid)),
            [
                QuotaItem.claimed.add(1),
                QuotaItem.kind.set(QuotaItem),
                QuotaItem.template_id.set(tid),
                QuotaItem.updated_at.set(clock.now()),
            ],
            condition=QuotaItem.claimed.does_not_exist() | (QuotaItem.claimed < int(tpl.per_member_limit)),
            tag=("quota", member_id, tid),
        )
        tx.save(coupon, condition=CouponItem.pk.does_not_exist(), tag=("coupon", coupon.coupon_id))


def add_not_blocked(tx: Tx, member_id: str) -> None:
    """The member is not flagged as abusive (one check per member and transaction: DynamoDB refuses two
    operations on one item)."""
    tx.condition_check(
        CouponBlockItem, member_pk(member_id), BLOCK_SK, CouponBlockItem.pk.does_not_exist(), tag=("block", member_id)
    )


def add_guard(tx: Tx, pk: str, member_id: str, ref: str | None) -> None:
    tx.save(
        GrantGuardItem(pk, META, member_id=member_id, ref=ref, created_at=clock.now()),
        condition=GrantGuardItem.pk.does_not_exist(),
        tag=("guard", pk),
    )


def get_guard(pk: str) -> GrantGuardItem | None:
    return GrantGuardItem.get_or_none(pk, META, consistent_read=True)


def quotas(member_id: str, template_ids: Iterable[str]) -> dict[str, int]:
    got = batch_get([(member_pk(member_id), quota_sk(t)) for t in template_ids])
    return {i.template_id: int(i.claimed or 0) for i in got.values() if isinstance(i, QuotaItem)}


def quota(member_id: str, template_id: str) -> int:
    q = QuotaItem.get_or_none(member_pk(member_id), quota_sk(template_id), consistent_read=True)
    return int(q.claimed or 0) if q else 0


def count_claim(member_id: str, now, limit: int) -> bool:
    """Count one claim attempt in this minute; False when the member is over ``limit``."""
    item = ClaimRateItem(f"RATE#COUPONCLAIM#{member_id}", domain.rate_bucket(now))
    return update_if(
        item,
        actions=[
            ClaimRateItem.n.add(1),
            ClaimRateItem.kind.set(ClaimRateItem),
            ClaimRateItem.expires_at.set(now + timedelta(hours=1)),
        ],
        condition=ClaimRateItem.n.does_not_exist() | (ClaimRateItem.n < limit),
    )


# --------------------------------------------------------------------------------------- coupons
def coupon_key(member_id: str, coupon_id: str) -> tuple[str, str]:
    return member_pk(member_id), coupon_sk(coupon_id)


def get_coupon(member_id: str, coupon_id: str, consistent: bool = True) -> CouponItem | None:
    return CouponItem.get_or_none(member_pk(member_id), coupon_sk(coupon_id), consistent_read=consistent)


def _coupon_key(member_id: str, coupon_id: str) -> CouponItem:
    return CouponItem(member_pk(member_id), coupon_sk(coupon_id))


def add_lock(tx: Tx, member_id: str, coupon_id: str, order_id: str, final: bool) -> None:
    """The order takes the coupon: only if it is still the member's, AVAILABLE and inside its validity now.
    ``final`` (a till sale, paid at once): USED, and it leaves the expiry index."""
    now = clock.iso(clock.now())
    actions = [
        CouponItem.status.set(domain.USED if final else domain.LOCKED),
        CouponItem.order_id.set(order_id),
        CouponItem.locked_at.set(now),
        CouponItem.updated_at.set(clock.now()),
    ]
    if final:
        actions += [CouponItem.used_at.set(now), CouponItem.gsi1pk.remove(), CouponItem.gsi1sk.remove()]
    tx.update(
        _coupon_key(member_id, coupon_id),
        actions,
        condition=(CouponItem.status == domain.AVAILABLE)
        & (CouponItem.member_id == member_id)
        & (CouponItem.expires_at > now)
        & (CouponItem.valid_from <= now),
        tag=("coupon", coupon_id),
    )


def add_release(tx: Tx, member_id: str, coupon_id: str, order_id: str) -> None:
    """A cancelled (or timed-out) order gives its coupon back; never one held by another order."""
    tx.update(
        _coupon_key(member_id, coupon_id),
        [
            CouponItem.status.set(domain.AVAILABLE),
            CouponItem.order_id.remove(),
            CouponItem.locked_at.remove(),
            CouponItem.updated_at.set(clock.now()),
        ],
        condition=(CouponItem.status == domain.LOCKED) & (CouponItem.order_id == order_id),
        tag=("coupon", coupon_id),
    )


def _conditional(item: CouponItem, actions: list, condition) -> bool:
    return update_if(item, actions=actions, condition=condition)


def mark_used(member_id: str, coupon_id: str, order_id: str) -> bool:
    """LOCKED -> USED once its order is paid (and out of the expiry index)."""
    return _conditional(
        _coupon_key(member_id, coupon_id),
        [
            CouponItem.status.set(domain.USED),
            CouponItem.used_at.set(clock.iso(clock.now())),
            CouponItem.gsi1pk.remove(),
            CouponItem.gsi1sk.remove(),
            CouponItem.updated_at.set(clock.now()),
        ],
        (CouponItem.status == domain.LOCKED) & (CouponItem.order_id == order_id),
    )


def expire(coupon: CouponItem, now_iso: str) -> bool:
    """AVAILABLE and past its end -> EXPIRED (out of the expiry index)."""
    return _conditional(
        _coupon_key(coupon.member_id, coupon.coupon_id),
        [
            CouponItem.status.set(domain.EXPIRED),
            CouponItem.gsi1pk.remove(),
            CouponItem.gsi1sk.remove(),
            CouponItem.updated_at.set(clock.now()),
        ],
        (CouponItem.status == domain.AVAILABLE) & (CouponItem.expires_at <= now_iso),
    )


def mark_reminded(coupons: list[CouponItem], reminder: Any) -> list[str]:
    """Mark one member's coupons reminded and write ``reminder`` (built from the coupons that were marked) in
    one transaction: each coupon is reminded once, however often the job runs. Returns the coupon ids marked;
    a coupon used or reminded meanwhile is left out (and the rest tried again)."""
    left = list(coupons)
    while left:
        try:
            with transaction() as tx:
                for c in left:
                    tx.update(
                        _coupon_key(c.member_id, c.coupon_id),
                        [CouponItem.reminded.set(True)],
                        condition=CouponItem.reminded.does_not_exist() & (CouponItem.status == domain.AVAILABLE),
                        tag=c.coupon_id,
                    )
                events.add(tx, [reminder(left)])
            return [c.coupon_id for c in left]
        except TxCancelled as e:
            left = [c for c in left if c.coupon_id not in e.failed]
    return []


def due(expires_on: str) -> list[CouponItem]:
    """Unused (AVAILABLE or LOCKED) coupons whose last valid day is ``expires_on``: one day bucket."""
    return list(CouponItem.gsi1.query(expiry_gsi1pk(expires_on)))


def my_page(member_id: str, status: str | None, now_iso: str, limit: int, cursor: str | None) -> Page:
    """A member's coupons, newest first, by the status the member sees (see domain.display_status)."""
    if status is None:
        filt = None
    elif status == domain.AVAILABLE:
        filt = (CouponItem.status == domain.AVAILABLE) & (CouponItem.expires_at > now_iso)
    elif status == domain.EXPIRED:
        filt = (CouponItem.status == domain.EXPIRED) | (
            (CouponItem.status == domain.AVAILABLE) & (CouponItem.expires_at <= now_iso)
        )
    else:
        filt = CouponItem.status == status
    return page(
        CouponItem.query,
        hash_key=member_pk(member_id),
        range_key_condition=CouponItem.sk.startswith("COUPON#"),
        filter_condition=filt,
        scan_index_forward=False,
        limit=limit,
        cursor=cursor,
    )


def template_coupons_page(template_id: str, limit: int, cursor: str | None) -> Page:
    return page(
        CouponItem.gsi2.query,
        hash_key=template_coupons_gsi2pk(template_id),
        scan_index_forward=False,
        limit=limit,
        cursor=cursor,
    )


def all_template_coupons(template_id: str) -> list[CouponItem]:
    return list(CouponItem.gsi2.query(template_coupons_gsi2pk(template_id)))


# --------------------------------------------------------------------------------------- blocks
def block(member_id: str, reason: str, actor: str) -> CouponBlockItem:
    item = CouponBlockItem(
        member_pk(member_id),
        BLOCK_SK,
        member_id=member_id,
        reason=reason,
        blocked_by=actor,
        created_at=clock.now(),
        gsi1pk=BLOCKS_GSI1PK,
        gsi1sk=member_id,
    )
    item.save()
    return item


def unblock(member_id: str) -> None:
    CouponBlockItem(member_pk(member_id), BLOCK_SK).delete()


def get_block(member_id: str) -> CouponBlockItem | None:
    return CouponBlockItem.get_or_none(member_pk(member_id), BLOCK_SK, consistent_read=True)


def blocks_page(limit: int, cursor: str | None) -> Page:
    return page(CouponBlockItem.gsi1.query, hash_key=BLOCKS_GSI1PK, limit=limit, cursor=cursor)
