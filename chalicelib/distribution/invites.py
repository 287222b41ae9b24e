"""Invite gifts (邀请有礼, docs/distribution.md "Invite gifts") and the first completed order.

- The invitee: a member bound by a share scene gets the settings' ``invitee_template_id`` coupon when they join.
- The inviter: the invitee's FIRST completed order puts a PENDING gift due ``freeze_days`` later; the hourly
  ``grant_invite_gifts`` job reads only the due-day buckets and grants the ``inviter_template_id`` coupon within
  the inviter's monthly cap (a conditional counter per Beijing month); a refund of that order before then cancels it.
- Anti-abuse: coupons' once-ever guards for each side (the same openid, phone or invitee never counts twice) and
  its block list. Every grant is one transaction (guards, stock, quota, the gift's status, the cap), so a
  redelivered event or a second run grants nothing more.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from chalicelib.core import clock, metrics
from chalicelib.core.dynamo import TxCancelled, get_mark, set_mark, transaction
from chalicelib.core.errors import Conflict, NotFound
from chalicelib.core.ledger import business_day
from chalicelib.core.logging import logger
from chalicelib.coupons import services as coupons
from chalicelib.distribution import domain, repository
from chalicelib.identity import repository as identity

INVITE_MARK = "invite-gifts"


def _template(side: str, rules: dict[str, Any]):
    """The coupon template of one side, or None (not set, unknown, wrong purpose, paused: logged)."""
    tid = (rules.get("invite") or {}).get(f"{side}_template_id")
    if not tid:
        return None
    try:
        return coupons.invite_gift_template(side, tid)
    except (Conflict, NotFound) as e:
        logger.warning("invite gift template not usable", extra={"side": side, "template_id": tid, "code": e.code})
        return None


def invitee_gift(member_id: str, referrer_id: str, joined: dict[str, Any], rules: dict[str, Any]) -> str | None:
    """The new member's gift for joining through ``referrer_id``'s scene (only if bound to them). Returns the
    coupon id, or None (no template, not bound to that referrer, already counted, sold out, blocked)."""
    tpl = _template("invitee", rules)
    profile = repository.get_profile(member_id) if tpl is not None else None
    if profile is None or profile.referrer_id != referrer_id:
        return None
    once = {"openid": joined.get("openid"), "phone": joined.get("phone"), "member": member_id}
    try:
        with transaction() as tx:
            cid = coupons.add_invite_gift(tx, "invitee", tpl, member_id, f"join:{member_id}", once)
    except TxCancelled as e:
        refusal = coupons.gift_refusal(e.failed)
        if refusal is None:
            raise
        logger.info("invitee gift not granted", extra={"member_id": member_id, "reason": refusal})
        return None
    metrics.count("InviteGifts", side="invitee")
    return cid


# --------------------------------------------------------------------------------------- the first order
def on_order_completed(event: dict[str, Any]) -> None:
    """Once per order (a marker in the same transaction): the member's first completed order is noted; for a
    bound member it puts the inviter's PENDING gift; for a member who came by a flyer the funnel counts it."""
    order = event["data"]
    member_id, order_id = order.get("member_id"), order["order_id"]
    profile = repository.get_profile(member_id) if member_id else None
    if profile is None or not (profile.referrer_id or profile.promoter_id):
        return
    completed = clock.parse(order["completed_at"]) if order.get("completed_at") else clock.now()
    for _ in range(3):
        first = profile.first_order_id is None
        try:
            with transaction() as tx:
                _count_completion(tx, order, profile, first, completed)
            return
        except TxCancelled as e:
            if ("order_mark", order_id) in e.failed:
                return  # counted before: a redelivery
            if ("first_order", member_id) not in e.failed:
                raise
            profile = repository.get_profile(member_id)  # another order was first meanwhile
    raise RuntimeError(f"first order of {member_id} kept changing; the event is retried")


def _count_completion(tx, order: dict[str, Any], profile, first: bool, completed: datetime) -> None:
    member_id, order_id = profile.member_id, order["order_id"]
    repository.add_order_mark(tx, order_id)
    if first:
        repository.set_first_order(tx, member_id, order_id)
    rules = repository.get_rules() if first and profile.referrer_id else {}
    if first and profile.referrer_id and (rules.get("invite") or {}).get("inviter_template_id"):
        due = max(domain.due_at(completed, int(rules.get("freeze_days") or 0)), clock.now())
        repository.add_invite(tx, member_id, profile.referrer_id, order_id, clock.iso(due))
    if profile.promoter_id:
        sales = int(order.get("payable_fen") or 0) - int(order.get("refunded_fen") or 0)  # refunded before
        counts = {"orders": 1, "sales_fen": sales, "first_order": int(first)}
        repository.add_funnel(tx, business_day(completed), profile.promoter_id, profile.flyer_scene, counts)


def on_refund_completed(event: dict[str, Any]) -> None:
    """A refund of the invitee's first order while the inviter's gift waits cancels the gift (at least once:
    the change is conditioned on PENDING). A refund of a bound member's order with no gift waiting yet (it came
    before the completion was counted: a refund before delivery, or the events out of order) is marked, and
    the gift for that order is cancelled when it falls due."""
    order = event["data"]
    member_id = order.get("member_id")
    inv = repository.get_invite(member_id) if member_id else None
    if inv is None:
        profile = repository.get_profile(member_id) if member_id else None
        if profile is not None and profile.referrer_id and profile.first_order_id in (None, order["order_id"]):
            repository.mark_refunded(order["order_id"])
        return
    if inv.order_id != order["order_id"] or inv.status != domain.INVITE_PENDING:
        return
    refund_id = (order.get("refund") or {}).get("refund_id")
    try:
        with transaction() as tx:
            repository.close_invite(tx, inv, domain.INVITE_CANCELLED, {"reason": f"refund:{refund_id}"})
    except TxCancelled:
        return  # granted or cancelled meanwhile
    metrics.count("InviteGiftsCancelled")


# --------------------------------------------------------------------------------------- the job
def grant_due(now: datetime | None = None, first_days_back: int = 7) -> dict[str, int]:
    """Grant (or close) every PENDING inviter gift now due, reading only the due-day buckets since the last run
    and in each only the sort keys up to now."""
    now = now or clock.now()
    today, rules = now.date(), repository.get_rules()
    out = {"read": 0, "processed": 0, "granted": 0}
    for day in clock.days_since(get_mark(INVITE_MARK), today, first_days_back, again=True):
        for inv in repository.due_invites(day.isoformat(), clock.iso(now)):
            out["read"] += 1
            status = _grant_one(inv, rules)
            out["processed"] += int(status is not None)
            out["granted"] += int(status == domain.INVITE_GRANTED)
        if day < today:
            set_mark(INVITE_MARK, day.isoformat())
    return out


def _close(inv, status: str, fields: dict[str, Any]) -> str | None:
    try:
        with transaction() as tx:
            repository.close_invite(tx, inv, status, fields)
    except TxCancelled:
        return None  # cancelled by a refund meanwhile
    return status


def _grant_one(inv, rules: dict[str, Any]) -> str | None:
    """One transaction: the coupon (with the guards), the gift PENDING -> GRANTED and the month's cap count."""
    tpl = _template("inviter", rules) if rules.get("enabled") else None
    if tpl is None:
        return _close(inv, domain.INVITE_SKIPPED, {"reason": "no_template"})
    member = identity.get_member(inv.invitee_id)
    once = {"openid": getattr(member, "openid", None), "phone": getattr(member, "phone", None)}
    once["member"] = inv.invitee_id
    cap = int((rules.get("invite") or {}).get("inviter_monthly_cap") or 0)
    month = domain.cap_month(clock.now(), clock.business_tz())
    try:
        with transaction() as tx:
            cid = coupons.add_invite_gift(tx, "inviter", tpl, inv.inviter_id, f"invite:{inv.invitee_id}", once)
            repository.close_invite(tx, inv, domain.INVITE_GRANTED, {"coupon_id": cid})
            repository.add_cap_count(tx, inv.inviter_id, month, cap)
            repository.check_not_refunded(tx, inv.order_id)
    except TxCancelled as e:
        if ("invite", inv.invitee_id) in e.failed:
            return None
        if ("refunded", inv.order_id) in e.failed:
            return _close(inv, domain.INVITE_CANCELLED, {"reason": "refunded"})
        if ("invite_cap", inv.inviter_id) in e.failed:
            return _close(inv, domain.INVITE_CAPPED, {"reason": f"cap:{month}"})
        status, reason = domain.invite_outcome(coupons.gift_refusal(e.failed))
        return _close(inv, status, {"reason": reason})
    metrics.count("InviteGifts", side="inviter")
    return domain.INVITE_GRANTED
