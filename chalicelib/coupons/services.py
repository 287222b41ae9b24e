"""Coupon use cases: templates (head office), the claim centre, my coupons, pushes, compensation and invite
gifts, the new-member gift pack (on MemberJoined), coupons used (on OrderPaid), the expiry sweep and the
expiry reminders; and the checkout seam orders use (coupon keys for the cart's BatchGetItem, offers for
the engine, lock/release items for the order's transaction).

Every coupon issued is one transaction: the template's ``remaining`` -1 (>= 1), the member's quota +1
(< per_member_limit), the coupon put, and - for claims and gifts - the "not blocked" check and the
once-ever guards. So stock and quotas can never be over-issued, whatever the concurrency.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta
from typing import Any

from chalicelib.catalog import services as catalog
from chalicelib.core import clock, events, phones
from chalicelib.core.auth import Principal
from chalicelib.core.dynamo import TxCancelled, get_mark, set_mark, transaction
from chalicelib.core.errors import Conflict, CoreCode, Forbidden, NotFound, ValidationFailed
from chalicelib.core.events import Event
from chalicelib.core.ids import is_ulid, new_id
from chalicelib.core.logging import logger
from chalicelib.core.schemas import PageOut
from chalicelib.coupons import domain, repository
from chalicelib.coupons.errors import CouponCode
from chalicelib.coupons.models import CouponItem, CouponTemplateItem
from chalicelib.coupons.schemas import (
    BlockOut,
    CenterItemOut,
    CompensationIn,
    CouponOut,
    InviteGiftOut,
    Issued,
    PushIn,
    PushOut,
    Skipped,
    StockIn,
    TemplateCreate,
    TemplateOut,
    TemplateUpdate,
)
from chalicelib.identity import repository as members
from chalicelib.identity.errors import IdentityCode
from chalicelib.pricing import domain as engine
from chalicelib.stores import services as stores

UPDATE_ATTEMPTS = 3


# --------------------------------------------------------------------------------------- views
def template_fields(t: CouponTemplateItem) -> dict[str, Any]:
    return {
        "template_id": t.template_id,
        "title": t.title,
        "description": t.description,
        "purpose": t.purpose,
        "terms": t.terms,
        "scope": t.scope or {},
        "stackable": bool(t.stackable),
        "validity": t.validity,
        "claim_window": t.claim_window,
        "status": t.status,
        "per_member_limit": int(t.per_member_limit),
    }


def _terms_out(terms: dict[str, Any]) -> dict[str, Any]:
    keys = ("kind", "threshold_fen", "off_fen", "percent_off", "cap_fen", "gift_sku", "gift_qty", "gift_name")
    out = {k: terms.get(k) for k in keys}
    out["threshold_fen"] = int(terms.get("threshold_fen") or 0)
    return out


def template_out(t: CouponTemplateItem) -> TemplateOut:
    return TemplateOut(
        template_id=t.template_id,
        title=t.title,
        description=t.description,
        purpose=t.purpose,
        **_terms_out(t.terms),
        scope=t.scope or {},
        stackable=bool(t.stackable),
        validity=t.validity,
        claim_window=t.claim_window,
        total_stock=int(t.total_stock),
        remaining_stock=int(t.remaining),
        issued=int(t.total_stock) - int(t.remaining),
        per_member_limit=int(t.per_member_limit),
        status=t.status,
        version=int(t.version),
        created_at=t.created_at,
        updated_at=t.updated_at,
    )


def coupon_out(c: CouponItem) -> CouponOut:
    terms = c.terms
    return CouponOut(
        coupon_id=c.coupon_id,
        template_id=c.template_id,
        member_id=c.member_id,
        title=terms["title"],
        **_terms_out(terms),
        scope=terms.get("scope") or {},
        stackable=bool(terms.get("stackable")),
        status=domain.display_status(c.status, c.expires_at, clock.iso(clock.now())),
        valid_from=c.valid_from,
        expires_at=c.expires_at,
        expires_on=date.fromisoformat(c.expires_on),
        source=c.source,
        order_id=c.order_id,
        created_at=c.created_at,
    )


# --------------------------------------------------------------------------------------- templates
def create_template(principal: Principal, cmd: TemplateCreate) -> TemplateOut:
    body = cmd.model_dump(mode="json")
    terms = {
        k: body.pop(k) for k in ("kind", "threshold_fen", "off_fen", "percent_off", "cap_fen", "gift_sku", "gift_qty")
    }
    if terms["kind"] != engine.GIFT:
        terms.pop("gift_sku"), terms.pop("gift_qty")
    terms = {k: v for k, v in terms.items() if v is not None}
    _check_references(terms, body["scope"])
    if body["claim_window"]:
        body["claim_window"] = {k: clock.iso(clock.parse(v)) if v else None for k, v in body["claim_window"].items()}
    body["validity"] = {k: v for k, v in body["validity"].items() if v is not None}
    item = repository.new_template(new_id(), {**body, "terms": terms, "created_by": principal.sub})
    return template_out(repository.create_template(item, principal.sub))


def _check_references(terms: dict[str, Any], scope: dict[str, Any]) -> None:
    """Skus must be in the catalog (a gift is snapshotted: name and price); stores must exist."""
    skus = set(scope.get("skus") or ()) | set(scope.get("exclude_skus") or ())
    if terms.get("gift_sku"):
        skus.add(terms["gift_sku"])
    known = catalog.require_products(skus, "scope")
    if terms.get("gift_sku"):
        gift = known[terms["gift_sku"]]
        terms.update(engine.gift_snapshot(gift.consult_only, gift.name, gift.price_fen, "gift_sku"))
    stores.require_stores(scope.get("stores") or (), "scope.stores")


def _visible(principal: Principal, t: CouponTemplateItem) -> bool:
    scoped = (t.scope or {}).get("stores") or []
    return principal.is_hq or not scoped or principal.store_id in scoped


def get_template(principal: Principal, template_id: str) -> TemplateOut:
    t = repository.get_template(template_id)
    if not _visible(principal, t):
        raise Forbidden("This template belongs to other stores", code=CoreCode.STORE_SCOPE)
    return template_out(t)


def list_templates(principal: Principal, purpose: str | None, limit: int, cursor: str | None) -> PageOut[TemplateOut]:
    pg = repository.templates_page(purpose, limit, cursor)
    return PageOut[TemplateOut](items=[template_out(t) for t in pg.items if _visible(principal, t)], next=pg.next)


def _change(template_id: str, changes_for) -> TemplateOut:
    for _ in range(UPDATE_ATTEMPTS):
        current = repository.get_template(template_id, consistent=True)
        changes = changes_for(current)
        try:
            repository.update_template(current, changes)
        except repository.StaleTemplate:
            continue
        return template_out(repository.get_template(template_id, consistent=True))
    raise Conflict("The template was changed by someone else meanwhile; retry", code=CoreCode.CONCURRENT_UPDATE)


def update_template(template_id: str, cmd: TemplateUpdate) -> TemplateOut:
    changes = cmd.changes()
    if changes.get("claim_window"):
        changes["claim_window"] = {
            k: clock.iso(clock.parse(v)) if v else None for k, v in changes["claim_window"].items()
        }
    return _change(template_id, lambda current: changes)


def set_template_status(template_id: str, status: str) -> TemplateOut:
    return _change(template_id, lambda current: {"status": status})


def adjust_stock(principal: Principal, template_id: str, cmd: StockIn) -> TemplateOut:
    repository.get_template(template_id)
    try:
        repository.adjust_stock(template_id, cmd.delta, principal.sub, cmd.note)
    except TxCancelled:
        left = int(repository.get_template(template_id, consistent=True).remaining)
        raise Conflict(
            "Cannot withdraw more coupons than are left",
            code=CouponCode.INSUFFICIENT_COUPON_STOCK,
            details={"remaining_stock": left, "requested": -cmd.delta},
        )
    return template_out(repository.get_template(template_id, consistent=True))


def template_coupons(template_id: str, limit: int, cursor: str | None) -> PageOut[CouponOut]:
    repository.get_template(template_id)
    pg = repository.template_coupons_page(template_id, limit, cursor)
    return PageOut[CouponOut](items=[coupon_out(c) for c in pg.items], next=pg.next)


# --------------------------------------------------------------------------------------- issuing
class _Grant:
    """One coupon to hand out: template + member (+ whether the member's block flag is checked)."""

    def __init__(self, tpl: CouponTemplateItem, member_id: str, source: str, ref: str | None, check_block: bool):
        now = clock.now()
        valid_from, expires_at, expires_on = domain.validity(tpl.validity, now, clock.business_tz())
        self.tpl, self.check_block = tpl, check_block
        self.coupon = repository.new_coupon(
            tpl, member_id, source, ref, valid_from, expires_at, expires_on, domain.terms_of(template_fields(tpl))
        )


def _why(failed: list) -> tuple[str, Any]:
    """The first reason a grant transaction was cancelled: (kind, detail)."""
    for tag in failed:
        if isinstance(tag, tuple):
            return tag[0], tag[1:]
    return "unknown", ()


def _issued(grants: list[_Grant], announce: dict[str, Any]) -> Event:
    """``CouponsIssued`` for the coupons of one grant transaction, written in that transaction (outbox)."""
    coupons = [
        {
            "member_id": g.coupon.member_id,
            "coupon_id": g.coupon.coupon_id,
            "template_id": g.tpl.template_id,
            "title": g.tpl.title,
        }
        for g in grants
    ]
    return Event("CouponsIssued", {**announce, "coupons": coupons})


def _commit(
    grants: list[_Grant], guards: Iterable[tuple[str, str, str | None]] = (), announce: dict[str, Any] | None = None
) -> None:
    """Grant the coupons (with the once-ever guards) in one transaction; ``announce`` (the source and its
    reference) makes it write ``CouponsIssued`` with them."""
    with transaction() as tx:
        for pk, member_id, ref in guards:
            repository.add_guard(tx, pk, member_id, ref)
        for g in grants:
            repository.add_issue(tx, g.tpl, g.coupon)
        for member_id in dict.fromkeys(g.coupon.member_id for g in grants if g.check_block):
            repository.add_not_blocked(tx, member_id)
        if announce is not None:
            events.add(tx, [_issued(grants, announce)])


def _issue_one(
    tpl: CouponTemplateItem,
    member_id: str,
    source: str,
    ref: str | None,
    check_block: bool,
    guards: Iterable[tuple[str, str, str | None]] = (),
    announce: dict[str, Any] | None = None,
) -> CouponItem:
    """Issue one coupon or raise the contract's error for why not."""
    grant = _Grant(tpl, member_id, source, ref, check_block)
    try:
        _commit([grant], guards, announce)
    except TxCancelled as e:
        kind, _ = _why(e.failed)
        if kind == "tpl":
            current = repository.get_template(tpl.template_id, consistent=True)
            if current.status != "active":
                raise Conflict("This coupon is not being issued now", code=CouponCode.TEMPLATE_INACTIVE)
            raise Conflict("All coupons of this kind have been claimed", code=CouponCode.COUPON_SOLD_OUT)
        if kind == "quota":
            raise Conflict(
                "You already have as many of these coupons as allowed",
                code=CouponCode.COUPON_LIMIT_REACHED,
                details={"per_member_limit": int(tpl.per_member_limit)},
            )
        if kind == "block":
            raise domain.blocked()
        if kind == "guard":
            raise Conflict("This gift was already given", code=CouponCode.ALREADY_GRANTED)
        raise
    return grant.coupon


def push_template(template_id: str) -> CouponTemplateItem:
    """A push template that may be handed out now (campaigns), or the contract's error (404/409)."""
    tpl = repository.get_template(template_id)
    domain.check_issuable(template_fields(tpl), clock.now(), clock.business_tz(), domain.PUSH)
    return tpl


def add_campaign_coupon(tx, tpl: CouponTemplateItem, member_id: str, ref: str) -> str:
    """One coupon of ``tpl`` for ``member_id`` in ``tx`` (a campaign run's effect for the member); returns its
    id. The transaction fails with ("tpl", id) when the stock is out and ("quota", ...) at the member's limit."""
    return add_campaign_coupons(tx, tpl, [member_id], ref)[member_id]


def add_campaign_coupons(tx, tpl: CouponTemplateItem, member_ids: list[str], ref: str) -> dict[str, str]:
    """One coupon of ``tpl`` for each of ``member_ids`` (different members) in ``tx``: the stock taken once for
    all of them; returns each member's coupon id. Fails as ``add_campaign_coupon``."""
    grants = [_Grant(tpl, m, "campaign", ref, check_block=False) for m in member_ids]
    repository.add_issue_many(tx, tpl, [g.coupon for g in grants])
    return {g.coupon.member_id: g.coupon.coupon_id for g in grants}


def center(principal: Principal, limit: int, cursor: str | None) -> PageOut[CenterItemOut]:
    """Coupons open for claiming now, newest first, with how many this member has had."""
    now, tz = clock.now(), clock.business_tz()
    pg = repository.active_page(domain.CENTER, limit, cursor)
    open_ = [t for t in pg.items if domain.claim_open(template_fields(t), now, tz)]
    had = repository.quotas(principal.sub, [t.template_id for t in open_]) if open_ else {}
    items = []
    for t in open_:
        claimed, left = had.get(t.template_id, 0), int(t.remaining)
        terms = _terms_out(t.terms)
        terms.pop("gift_sku")
        items.append(
            CenterItemOut(
                template_id=t.template_id,
                title=t.title,
                description=t.description,
                **terms,
                scope=t.scope or {},
                stackable=bool(t.stackable),
                validity=t.validity,
                remaining_stock=left,
                per_member_limit=int(t.per_member_limit),
                claimed=claimed,
                can_claim=left > 0 and claimed < int(t.per_member_limit),
            )
        )
    return PageOut[CenterItemOut](items=items, next=pg.next)


def claim(principal: Principal, template_id: str) -> CouponOut:
    """Claim centre: rate limited per member; the template's stock, the member's quota and the block flag
    are all conditions of the one transaction that puts the coupon."""
    now = clock.now()
    if not repository.count_claim(principal.sub, now, domain.CLAIMS_PER_MINUTE):
        raise domain.rate_limited()
    tpl = repository.get_template(template_id)
    domain.check_issuable(template_fields(tpl), now, clock.business_tz(), domain.CENTER)
    return coupon_out(_issue_one(tpl, principal.sub, domain.CENTER, None, check_block=True))


def my_coupons(principal: Principal, status: str | None, limit: int, cursor: str | None) -> PageOut[CouponOut]:
    """The member's own coupons, newest first. An unused coupon past its end is EXPIRED even before the
    nightly sweep marks it (so the filter is on what the member sees, not only on what is stored)."""
    pg = repository.my_page(principal.sub, status, clock.iso(clock.now()), limit, cursor)
    return PageOut[CouponOut](items=[coupon_out(c) for c in pg.items], next=pg.next)


def _members_exist(member_ids: list[str]) -> set[str]:
    return set(members.member_phones(member_ids))


def push(principal: Principal, cmd: PushIn) -> PushOut:
    """Head office pushes one coupon of a push template to each listed member (one transaction each, so one
    member's full quota or the stock running out skips that member only)."""
    tpl = repository.get_template(cmd.template_id)
    domain.check_issuable(template_fields(tpl), clock.now(), clock.business_tz(), domain.PUSH)
    known = _members_exist(cmd.member_ids)
    issued, skipped = [], []
    for m in cmd.member_ids:
        if m not in known:
            skipped.append(Skipped(member_id=m, code=IdentityCode.MEMBER_NOT_FOUND))
            continue
        try:
            c = _issue_one(tpl, m, domain.PUSH, principal.sub, check_block=False, announce={"source": domain.PUSH})
            issued.append(Issued(member_id=m, coupon_id=c.coupon_id))
        except (Conflict, Forbidden) as e:
            skipped.append(Skipped(member_id=m, code=e.code))
    return PushOut(issued=issued, skipped=skipped)


def compensate(principal: Principal, cmd: CompensationIn, order_known: bool, order_member_id: str | None) -> CouponOut:
    """A refund-compensation coupon: once per (order, template), only to the order's member. The orders domain
    says whether the order exists and whose it is (``orders.refunds.compensate`` calls this)."""
    tpl = repository.get_template(cmd.template_id)
    domain.check_issuable(template_fields(tpl), clock.now(), clock.business_tz(), domain.COMPENSATION)
    if not order_known:
        raise ValidationFailed(
            "Unknown order",
            code=CouponCode.UNKNOWN_ORDER,
            details={"fields": [{"field": "order_id", "message": "no such order"}]},
        )
    if order_member_id != cmd.member_id:
        raise ValidationFailed(
            "The order is not this member's",
            code=CouponCode.ORDER_MEMBER_MISMATCH,
            details={"fields": [{"field": "member_id", "message": "not the order's member"}]},
        )
    guard = f"COMPENSATION#{cmd.order_id}#{cmd.template_id}"
    try:
        c = _issue_one(
            tpl,
            cmd.member_id,
            domain.COMPENSATION,
            cmd.order_id,
            check_block=False,
            guards=[(guard, cmd.member_id, principal.sub)],
            announce={"source": domain.COMPENSATION, "reason": cmd.reason, "order_id": cmd.order_id},
        )
    except Conflict as e:
        if e.code == CouponCode.ALREADY_GRANTED:
            raise Conflict(
                "This order was already compensated with this coupon",
                code=CouponCode.ALREADY_GRANTED,
                details={"order_id": cmd.order_id},
            )
        raise
    return coupon_out(c)


def _grant_pack(
    templates: list[CouponTemplateItem],
    member_ids: dict[str, str],
    source: str,
    ref: str,
    guards: list[tuple[str, str, str | None]],
    announce: dict[str, Any] | None = None,
) -> tuple[list[CouponItem], list[Skipped], bool]:
    """Grant each (template -> member) in ONE transaction with the once-ever guards. A template that is out
    of stock (or a member over quota / blocked) is dropped and the rest retried; a failed guard means the
    gift was already given: nothing is granted. Returns (coupons, skipped, already_granted)."""
    now, tz = clock.now(), clock.business_tz()
    grants: list[_Grant] = []
    skipped: list[Skipped] = []
    for t in templates[: domain.MAX_PACK]:
        try:
            domain.check_issuable(template_fields(t), now, tz)
        except Conflict as e:
            skipped.append(Skipped(member_id=member_ids[t.template_id], code=e.code))
            continue
        grants.append(_Grant(t, member_ids[t.template_id], source, ref, check_block=True))
    while grants:
        try:
            _commit(grants, guards, announce)
            return [g.coupon for g in grants], skipped, False
        except TxCancelled as e:
            kind, detail = _why(e.failed)
            if kind == "guard":
                return [], skipped, True
            drop = [
                g
                for g in grants
                if (kind == "tpl" and g.tpl.template_id == detail[0])
                or (kind == "quota" and (g.coupon.member_id, g.tpl.template_id) == tuple(detail))
                or (kind == "block" and g.coupon.member_id == detail[0])
            ]
            if not drop:
                raise
            codes = {
                "tpl": CouponCode.COUPON_SOLD_OUT,
                "quota": CouponCode.COUPON_LIMIT_REACHED,
                "block": CouponCode.MEMBER_BLOCKED,
            }
            skipped += [Skipped(member_id=g.coupon.member_id, code=codes[kind]) for g in drop]
            grants = [g for g in grants if g not in drop]
    return [], skipped, False  # nothing to give: the guards stay unwritten


def issue_invite_gifts(referral_id: str, inviter_id: str, invitee_id: str) -> InviteGiftOut:
    """Invite gift for both sides of a referral (the referral domain calls this, or head office through the
    API). Once per invitee, ever (guard INVITEGIFT#<invitee>); blocked members get nothing."""
    known = _members_exist([inviter_id, invitee_id])
    missing = [m for m in (inviter_id, invitee_id) if m not in known]
    if missing:
        raise ValidationFailed(
            "Unknown member",
            code=IdentityCode.MEMBER_NOT_FOUND,
            details={
                "fields": [
                    {"field": "inviter_id" if m == inviter_id else "invitee_id", "message": "no such member"}
                    for m in missing
                ]
            },
        )
    templates, owner = [], {}
    for purpose, member in ((domain.INVITE_INVITER, inviter_id), (domain.INVITE_INVITEE, invitee_id)):
        for t in repository.active_templates(purpose):
            templates.append(t)
            owner[t.template_id] = member
    guard = (f"INVITEGIFT#{invitee_id}", invitee_id, referral_id)
    coupons, skipped, already = _grant_pack(
        templates, owner, "invite", referral_id, [guard], {"source": "invite", "referral_id": referral_id}
    )
    if already:
        prior = repository.get_guard(guard[0])
        return InviteGiftOut(
            referral_id=prior.ref if prior and prior.ref else referral_id, issued=[], skipped=[], already_granted=True
        )
    return InviteGiftOut(
        referral_id=referral_id,
        skipped=skipped,
        issued=[Issued(member_id=c.member_id, coupon_id=c.coupon_id) for c in coupons],
    )


INVITE_SIDES = {"invitee": domain.INVITE_INVITEE, "inviter": domain.INVITE_INVITER}


def invite_gift_template(side: str, template_id: str) -> CouponTemplateItem:
    """The template head office named for one side of an invite (``invitee`` / ``inviter``), if it may be handed
    out now: its purpose must be ``invite_<side>``; otherwise the contract's error (404 / 409)."""
    tpl = repository.get_template(template_id)
    domain.check_issuable(template_fields(tpl), clock.now(), clock.business_tz(), INVITE_SIDES[side])
    return tpl


def add_invite_gift(
    tx, side: str, tpl: CouponTemplateItem, member_id: str, ref: str, once: dict[str, str | None]
) -> str:
    """One invite-gift coupon of ``tpl`` for ``member_id`` in ``tx`` (the referral domain's transaction), with
    the once-ever guards ``INVITEGIFT#<SIDE>#<KIND>#<value>`` for each of ``once`` (e.g. ``{"openid": ...,
    "phone": ..., "member": ...}``: the same openid or phone never counts twice for that side) and the "not
    blocked" check; announces ``CouponsIssued``. Failures name ("guard", pk), ("tpl", id), ("quota", ...) or
    ("block", member): ``gift_refusal`` says which. Returns the coupon id."""
    grant = _Grant(tpl, member_id, "invite", ref, check_block=True)
    for kind, value in once.items():
        value = phones.normalize(value) if kind == "phone" else value
        if value:
            repository.add_guard(tx, f"INVITEGIFT#{side.upper()}#{kind.upper()}#{value}", member_id, ref)
    repository.add_issue(tx, tpl, grant.coupon)
    repository.add_not_blocked(tx, member_id)
    events.add(tx, [_issued([grant], {"source": "invite", "side": side, "ref": ref})])
    return grant.coupon.coupon_id


def gift_refusal(failed: list) -> str | None:
    """Why a transaction with ``add_invite_gift`` or ``add_checkin_gift`` was cancelled by coupons: ``already``
    (a guard: that openid, phone, member or check-in already counted), ``sold_out``, ``limit``, ``blocked``; None:
    not by coupons."""
    kind, _ = _why([t for t in failed if isinstance(t, tuple) and t[0] in ("guard", "tpl", "quota", "block")])
    return {"guard": "already", "tpl": "sold_out", "quota": "limit", "block": "blocked"}.get(kind)


def on_member_joined(event: dict[str, Any]) -> None:
    """New-member gift pack: every active new_member template, once per WeChat openid and once per phone,
    ever (guards written in the grant's transaction and kept after the account is deleted)."""
    data = event["data"]
    member_id = data["member_id"]
    templates = repository.active_templates(domain.NEW_MEMBER)
    if not templates:
        return
    guards = [(f"NEWGIFT#OPENID#{data['openid']}", member_id, event["id"])]
    phone = phones.normalize(data.get("phone"))
    if phone:
        guards.append((f"NEWGIFT#PHONE#{phone}", member_id, event["id"]))
    coupons, skipped, already = _grant_pack(
        templates,
        {t.template_id: member_id for t in templates},
        domain.NEW_MEMBER,
        event["id"],
        guards,
        {"source": domain.NEW_MEMBER, "member_id": member_id},
    )
    logger.info(
        "new-member pack",
        extra={
            "member_id": member_id,
            "issued": len(coupons),
            "already": already,
            "skipped": [s.code for s in skipped],
        },
    )


CHECKIN_GIFT = "checkin"


def checkin_gift_template(template_id: str) -> CouponTemplateItem | None:
    """The template of a check-in streak gift if it may be handed out now (a push template), else None and a
    warning (unknown, paused or ended, not a push template)."""
    try:
        tpl = repository.get_template(template_id)
        domain.check_issuable(template_fields(tpl), clock.now(), clock.business_tz(), domain.PUSH)
        return tpl
    except (Conflict, NotFound) as e:
        logger.warning("check-in gift not given", extra={"template_id": template_id, "code": e.code})
        return None


def add_checkin_gift(tx, tpl: CouponTemplateItem, member_id: str, checkin_id: str) -> str:
    """One coupon of ``tpl`` for ``member_id`` in ``tx`` (the check-in's transaction, points'), once per check-in
    (guard ``CHECKINGIFT#<checkin_id>``); announces ``CouponsIssued``. Failures name ("tpl", id) or ("quota",
    ...): ``gift_refusal`` says which. Returns the coupon id."""
    grant = _Grant(tpl, member_id, CHECKIN_GIFT, checkin_id, check_block=False)
    repository.add_guard(tx, f"CHECKINGIFT#{checkin_id}", member_id, checkin_id)
    repository.add_issue(tx, tpl, grant.coupon)
    events.add(tx, [_issued([grant], {"source": CHECKIN_GIFT, "checkin_id": checkin_id})])
    return grant.coupon.coupon_id


def on_order_paid(event: dict[str, Any]) -> None:
    """Coupons an online order locked become USED once it is paid (till sales use them at once)."""
    order = event["data"]
    if order.get("channel") != "shop" or not order.get("member_id"):
        return
    for cid in coupon_ids_of(order.get("applied")):
        repository.mark_used(order["member_id"], cid, order["order_id"])


# --------------------------------------------------------------------------------------- blocks
def block(principal: Principal, member_id: str, reason: str) -> BlockOut:
    if not is_ulid(member_id) or not _members_exist([member_id]):
        raise NotFound("No such member", code=IdentityCode.MEMBER_NOT_FOUND)
    b = repository.block(member_id, reason, principal.sub)
    return BlockOut(member_id=member_id, reason=b.reason, blocked_by=b.blocked_by, created_at=b.created_at)


def unblock(member_id: str) -> None:
    if not is_ulid(member_id) or repository.get_block(member_id) is None:
        raise NotFound("This member is not blocked", code=CouponCode.BLOCK_NOT_FOUND)
    repository.unblock(member_id)


def list_blocks(limit: int, cursor: str | None) -> PageOut[BlockOut]:
    pg = repository.blocks_page(limit, cursor)
    return PageOut[BlockOut](
        items=[
            BlockOut(member_id=b.member_id, reason=b.reason, blocked_by=b.blocked_by, created_at=b.created_at)
            for b in pg.items
        ],
        next=pg.next,
    )


# --------------------------------------------------------------------------------------- sweeps
def sweep_expired(now: datetime | None = None, first_days_back: int = 14) -> dict[str, int]:
    """Mark unused coupons EXPIRED, reading only the day buckets that ended since the last sweep (never a
    Scan). Safe twice or concurrently: each change is conditional on AVAILABLE and past its end."""
    now = now or clock.now()
    yesterday = now.astimezone(clock.business_tz()).date() - timedelta(days=1)
    now_iso, read, expired = clock.iso(now), 0, 0
    for day in clock.days_since(get_mark("coupons-expire"), yesterday, first_days_back):
        for c in repository.due(day.isoformat()):
            read += 1
            if c.status == domain.AVAILABLE and repository.expire(c, now_iso):
                expired += 1
        set_mark("coupons-expire", day.isoformat())
    return {"read": read, "expired": expired}


def remind_expiring(now: datetime | None = None) -> dict[str, int]:
    """Tell members whose coupons end in REMIND_DAYS days: one CouponExpiring event per member and day, for
    the SMS pipeline (which sends it respecting quiet hours). Reads the day bucket REMIND_DAYS ahead, and after an
    outage every day bucket it missed whose coupons have not ended yet (reminded late rather than never); each
    coupon is reminded once (conditional flag), so a re-run sends nothing twice."""
    now = now or clock.now()
    today = now.astimezone(clock.business_tz()).date()
    out = {"read": 0, "members": 0}
    for day in clock.days_since(get_mark("coupons-remind"), today + timedelta(days=domain.REMIND_DAYS), 0):
        if day >= today:
            read, reminded = _remind_day(day.isoformat())
            out["read"], out["members"] = out["read"] + read, out["members"] + reminded
        set_mark("coupons-remind", day.isoformat())
    return out


def _remind_day(day: str) -> tuple[int, int]:
    """The reminders of the coupons ending on ``day``: (coupons read, members reminded)."""
    by_member: dict[str, list[CouponItem]] = {}
    read = 0
    for c in repository.due(day):
        read += 1
        if c.status == domain.AVAILABLE and not c.reminded:
            by_member.setdefault(c.member_id, []).append(c)
    phone_of = members.member_phones(list(by_member)) if by_member else {}
    reminded = 0
    for m, cs in sorted(by_member.items()):

        def reminder(marked: list[CouponItem], m=m) -> Event:
            return Event(
                "CouponExpiring",
                {
                    "member_id": m,
                    "phone": phone_of.get(m),
                    "expires_on": day,
                    "count": len(marked),
                    "title": marked[0].terms["title"],
                    "coupons": [
                        {
                            "coupon_id": c.coupon_id,
                            "template_id": c.template_id,
                            "title": c.terms["title"],
                            "expires_at": c.expires_at,
                        }
                        for c in marked
                    ],
                },
            )

        reminded += bool(repository.mark_reminded(cs, reminder))
    return read, reminded


# --------------------------------------------------------------------------------------- checkout seam
def coupon_keys(member_id: str, coupon_ids: Iterable[str]) -> list[tuple[str, str]]:
    return [repository.coupon_key(member_id, c) for c in coupon_ids]


def offers(member_id: str, coupon_ids: list[str], got: dict) -> tuple[list[engine.CouponOffer], list[dict]]:
    """The engine's offers for the chosen coupons read in the cart's BatchGetItem, and the problems of the
    ones that cannot be used (unknown or another member's, locked, used, expired, not yet valid)."""
    now_iso = clock.iso(clock.now())
    out, problems = [], []
    for cid in coupon_ids:
        c = got.get(repository.coupon_key(member_id, cid))
        if not isinstance(c, CouponItem) or c.member_id != member_id:
            problems.append({"code": CouponCode.UNKNOWN_COUPON, "coupon_id": cid})
            continue
        problem = domain.usable_problem(
            {"coupon_id": cid, "status": c.status, "expires_at": c.expires_at, "valid_from": c.valid_from}, now_iso
        )
        if problem:
            problems.append(problem)
            continue
        out.append(domain.offer_from(cid, c.template_id, c.terms))
    return out, problems


def coupon_ids_of(applied: list[dict] | None) -> list[str]:
    return [a["id"] for a in applied or [] if a.get("kind") == "coupon"]


def add_locks(tx, member_id: str, coupon_ids: Iterable[str], order_id: str, final: bool) -> None:
    for cid in coupon_ids:
        repository.add_lock(tx, member_id, cid, order_id, final)


def add_releases(tx, member_id: str, coupon_ids: Iterable[str], order_id: str) -> None:
    for cid in coupon_ids:
        repository.add_release(tx, member_id, cid, order_id)
