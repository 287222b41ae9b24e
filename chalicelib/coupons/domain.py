"""Pure coupon rules: validity windows (end of day in BUSINESS_TZ), who may get and use a coupon, the
engine's view of a coupon, guards against abuse. No I/O."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any

from chalicelib.core import clock
from chalicelib.core.errors import Conflict, CoreCode, Forbidden, RateLimited
from chalicelib.coupons.errors import CouponCode
from chalicelib.pricing import domain as engine
from chalicelib.pricing.schemas import scope_from

# Coupon states: AVAILABLE -> LOCKED (an unpaid order holds it) -> USED (paid, or a till sale);
# LOCKED -> AVAILABLE (order cancelled or not paid in time); AVAILABLE -> EXPIRED (daily sweep).
AVAILABLE, LOCKED, USED, EXPIRED = "AVAILABLE", "LOCKED", "USED", "EXPIRED"
STATUSES = (AVAILABLE, LOCKED, USED, EXPIRED)

# How a template's coupons reach members.
CENTER, NEW_MEMBER, PUSH, INVITE_INVITER, INVITE_INVITEE, COMPENSATION = (
    "center",
    "new_member",
    "push",
    "invite_inviter",
    "invite_invitee",
    "compensation",
)
PURPOSES = (CENTER, NEW_MEMBER, PUSH, INVITE_INVITER, INVITE_INVITEE, COMPENSATION)

# Claim-centre rate limit per member (all templates together).
CLAIMS_PER_MINUTE = 10
MAX_PACK = 10  # templates in one grant transaction (3 items each + 2 guards, far below 100)
REMIND_DAYS = 3


def start_of_day(d: date, tz: tzinfo) -> datetime:
    return datetime.combine(d, time(0, 0), tzinfo=tz)


def validity(rule: Mapping[str, Any], issued_at: datetime, tz: tzinfo) -> tuple[str, str, str]:
    """(valid_from, expires_at, expires_on) of a coupon issued at ``issued_at``.

    Fixed dates: from the start of ``valid_from`` to the end of ``valid_until`` (local days, inclusive).
    ``valid_days`` N: from the moment of issue to the end of the Nth local day, counting the day of issue
    as day 1 (issued Monday 15:00 with N=7 -> valid to Sunday 24:00). ``expires_at`` is exclusive (UTC);
    ``expires_on`` is the last valid local day (the expiry sweep's bucket)."""
    local = issued_at.astimezone(tz)
    if rule.get("valid_days"):
        last = local.date() + timedelta(days=int(rule["valid_days"]) - 1)
        start = issued_at
    else:
        last = date.fromisoformat(rule["valid_until"])
        start = start_of_day(date.fromisoformat(rule["valid_from"]), tz)
    end = start_of_day(last + timedelta(days=1), tz)
    return clock.iso(start), clock.iso(end), last.isoformat()


def template_expired(rule: Mapping[str, Any], now: datetime, tz: tzinfo) -> bool:
    """A fixed-dates template whose last day is over issues nothing more."""
    if rule.get("valid_days"):
        return False
    return now >= start_of_day(date.fromisoformat(rule["valid_until"]) + timedelta(days=1), tz)


def check_issuable(tpl: Mapping[str, Any], now: datetime, tz: tzinfo, purpose: str | None = None) -> None:
    """May a coupon of this template be handed out now (stock and quotas are the transaction's job)?"""
    if purpose is not None and tpl["purpose"] != purpose:
        raise Conflict(
            f"This template is not for {purpose}",
            code=CouponCode.WRONG_TEMPLATE_PURPOSE,
            details={"purpose": tpl["purpose"], "wanted": purpose},
        )
    if tpl["status"] != "active":
        raise Conflict("This coupon is not being issued now", code=CouponCode.TEMPLATE_INACTIVE)
    if template_expired(tpl["validity"], now, tz):
        raise Conflict("This coupon's validity is over", code=CouponCode.TEMPLATE_ENDED)
    window = tpl.get("claim_window") or {}
    if window.get("starts_at") and now < clock.parse(window["starts_at"]):
        raise Conflict(
            "Claiming has not started yet",
            code=CouponCode.CLAIM_NOT_STARTED,
            details={"starts_at": window["starts_at"]},
        )
    if window.get("ends_at") and now >= clock.parse(window["ends_at"]):
        raise Conflict("Claiming has ended", code=CouponCode.CLAIM_ENDED, details={"ends_at": window["ends_at"]})


def claim_open(tpl: Mapping[str, Any], now: datetime, tz: tzinfo) -> bool:
    try:
        check_issuable(tpl, now, tz, CENTER)
        return True
    except Conflict:
        return False


def display_status(status: str, expires_at: str, now_iso: str) -> str:
    """What the member sees: an unused coupon past its end is EXPIRED even before the nightly sweep."""
    return EXPIRED if status == AVAILABLE and expires_at <= now_iso else status


def usable_problem(coupon: Mapping[str, Any], now_iso: str) -> dict[str, Any] | None:
    """Why this (owned) coupon cannot be used on a new order now, as a quote problem; None if it can."""
    cid = coupon["coupon_id"]
    if coupon["status"] in (LOCKED, USED):
        return {"code": CouponCode.COUPON_UNAVAILABLE, "coupon_id": cid, "status": coupon["status"]}
    if coupon["status"] == EXPIRED or coupon["expires_at"] <= now_iso:
        return {"code": CouponCode.COUPON_EXPIRED, "coupon_id": cid, "expires_at": coupon["expires_at"]}
    if coupon["valid_from"] > now_iso:
        return {"code": CouponCode.COUPON_NOT_YET_VALID, "coupon_id": cid, "valid_from": coupon["valid_from"]}
    return None


def offer_from(coupon_id: str, template_id: str, terms: Mapping[str, Any]) -> engine.CouponOffer:
    gift = None
    if terms["kind"] == engine.GIFT:
        gift = engine.Gift(
            sku=terms["gift_sku"],
            name=terms.get("gift_name") or terms["gift_sku"],
            qty=int(terms.get("gift_qty", 1)),
            value_fen=int(terms.get("gift_value_fen") or 0),
        )
    return engine.CouponOffer(
        coupon_id=coupon_id,
        template_id=template_id,
        title=terms["title"],
        kind=terms["kind"],
        threshold_fen=int(terms.get("threshold_fen") or 0),
        off_fen=int(terms.get("off_fen") or 0),
        percent_off=int(terms.get("percent_off") or 0),
        cap_fen=int(terms["cap_fen"]) if terms.get("cap_fen") is not None else None,
        gift=gift,
        scope=scope_from(terms.get("scope")),
        stackable=bool(terms.get("stackable")),
    )


def terms_of(tpl: Mapping[str, Any]) -> dict[str, Any]:
    """What a coupon keeps of its template when issued: later template edits never change issued coupons."""
    keys = (
        "kind",
        "threshold_fen",
        "off_fen",
        "percent_off",
        "cap_fen",
        "gift_sku",
        "gift_qty",
        "gift_name",
        "gift_value_fen",
    )
    return {
        "title": tpl["title"],
        **{k: tpl["terms"].get(k) for k in keys if tpl["terms"].get(k) is not None},
        "scope": tpl.get("scope") or {},
        "stackable": bool(tpl.get("stackable")),
    }


# --------------------------------------------------------------------------------------- anti-abuse


def rate_bucket(now: datetime) -> str:
    return now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M")


def rate_limited() -> RateLimited:
    return RateLimited(
        "Too many claims; try again in a minute",
        code=CoreCode.RATE_LIMITED,
        details={"limit_per_minute": CLAIMS_PER_MINUTE},
    )


def blocked() -> Forbidden:
    return Forbidden("This account may not claim coupons; contact customer service", code=CouponCode.MEMBER_BLOCKED)
