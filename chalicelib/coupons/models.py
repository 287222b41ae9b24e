"""Coupon items. Keys and access patterns: docs/data-model.md (Coupons)."""

from __future__ import annotations

from pynamodb.attributes import BooleanAttribute, JSONAttribute, NumberAttribute, TTLAttribute, UnicodeAttribute

from chalicelib.core.dynamo import Item

META = "META"
TEMPLATES_GSI1PK = "CTPLS"
BLOCKS_GSI1PK = "COUPONBLOCKS"
BLOCK_SK = "COUPONBLOCK"
AUDIT_DAY_PREFIX = "CPNDAY"  # gsi3: stock entries (coupons issued, adjustments) by business day (ledger audit)


def template_pk(template_id: str) -> str:
    return f"CTPL#{template_id}"


def active_gsi2pk(purpose: str) -> str:
    return f"CTPLACTIVE#{purpose}"


def member_pk(member_id: str) -> str:  # the member's partition (identity owns its META item)
    return f"MEMBER#{member_id}"


def coupon_sk(coupon_id: str) -> str:
    return f"COUPON#{coupon_id}"


def quota_sk(template_id: str) -> str:
    return f"CQUOTA#{template_id}"


def expiry_gsi1pk(expires_on: str) -> str:
    """Day bucket (BUSINESS_TZ) of a coupon's last valid day: the expiry sweep and reminders read one day."""
    return f"CPNEXP#{expires_on}"


def template_coupons_gsi2pk(template_id: str) -> str:
    return f"CTPLCOUPONS#{template_id}"


class CouponTemplateItem(Item, discriminator="CouponTemplate"):
    """pk=CTPL#<template_id>, sk=META.

    gsi1: CTPLS / <template_id>                     - every template, newest first (admin)
    gsi2: CTPLACTIVE#<purpose> / <template_id>      - sparse: only while active (claim centre, new-member
                                                      pack, invite gifts)
    ``remaining`` changes only by conditional updates: -1 in the same transaction as each coupon issued
    (the coupon is the ledger entry), +/-n with a StockAdjustment entry. total_stock = sum(adjustments);
    remaining = total_stock - coupons issued.
    """

    template_id = UnicodeAttribute()
    title = UnicodeAttribute()
    description = UnicodeAttribute(null=True)
    purpose = UnicodeAttribute()
    terms = JSONAttribute()  # {kind, threshold_fen, off_fen | percent_off + cap_fen | gift_*}
    scope = JSONAttribute()
    stackable = BooleanAttribute(default=False)
    validity = JSONAttribute()  # {valid_from, valid_until} | {valid_days}
    claim_window = JSONAttribute(null=True)
    total_stock = NumberAttribute()
    remaining = NumberAttribute()
    per_member_limit = NumberAttribute()
    status = UnicodeAttribute()  # active | paused
    created_by = UnicodeAttribute(null=True)
    version = NumberAttribute(default=1)  # PATCH / pause / resume (never the stock: that is ADDed)


class StockAdjustmentItem(Item, discriminator="CouponStockAdjustment"):
    """pk=CTPL#<template_id>, sk=ADJ#<ulid>: the template's stock set up or changed by head office.

    gsi3: CPNDAY#<business day> / <template_id>#ADJ#<ulid>  - the templates whose stock changed on a day"""

    template_id = UnicodeAttribute()
    delta = NumberAttribute()
    actor = UnicodeAttribute(null=True)
    note = UnicodeAttribute(null=True)


class CouponItem(Item, discriminator="Coupon"):
    """pk=MEMBER#<member_id>, sk=COUPON#<coupon_id> (ULID: a member's coupons newest first, read-your-write).

    gsi1: CPNEXP#<expires_on> / <expires_at>#<coupon_id>   - sparse: while AVAILABLE or LOCKED (sweeps)
    gsi2: CTPLCOUPONS#<template_id> / <coupon_id>          - the coupons issued from a template (admin)
    gsi3: CPNDAY#<day issued> / <template_id>#<coupon_id>  - the templates whose stock changed on a day (audit)
    """

    coupon_id = UnicodeAttribute()
    member_id = UnicodeAttribute()
    template_id = UnicodeAttribute()
    terms = JSONAttribute()  # snapshot of the template's terms, title and scope
    status = UnicodeAttribute()  # AVAILABLE | LOCKED | USED | EXPIRED
    valid_from = UnicodeAttribute()
    # exclusive, UTC. Stored as "valid_to": the table's TTL attribute is "expires_at" (numbers only, so a
    # string would be ignored anyway - but a coupon must never look like housekeeping).
    expires_at = UnicodeAttribute(attr_name="valid_to")
    expires_on = UnicodeAttribute()  # last valid local day
    source = UnicodeAttribute()  # center | new_member | push | invite_* | compensation
    source_ref = UnicodeAttribute(null=True)
    order_id = UnicodeAttribute(null=True)  # the order holding (LOCKED) or having used it (USED)
    locked_at = UnicodeAttribute(null=True)
    used_at = UnicodeAttribute(null=True)
    reminded = BooleanAttribute(null=True)


class QuotaItem(Item, discriminator="CouponQuota"):
    """pk=MEMBER#<member_id>, sk=CQUOTA#<template_id>: how many of a template the member has had. Changes
    only by a conditional ADD (< per_member_limit) in the same transaction as the coupon it counts."""

    template_id = UnicodeAttribute()
    claimed = NumberAttribute(default=0)


class CouponBlockItem(Item, discriminator="CouponBlock"):
    """pk=MEMBER#<member_id>, sk=COUPONBLOCK; gsi1: COUPONBLOCKS / <member_id>. A member head office flagged
    as abusive: every claim transaction checks this item does not exist."""

    member_id = UnicodeAttribute()
    reason = UnicodeAttribute()
    blocked_by = UnicodeAttribute()


class GrantGuardItem(Item, discriminator="CouponGrantGuard"):
    """pk=NEWGIFT#PHONE#<phone> | NEWGIFT#OPENID#<openid> | INVITEGIFT#<invitee_id> |
    COMPENSATION#<order_id>#<template_id>, sk=META. Written with attribute_not_exists in the grant's
    transaction and never deleted (not even with the member), so each grant happens once, ever."""

    member_id = UnicodeAttribute()
    ref = UnicodeAttribute(null=True)


class ClaimRateItem(Item, discriminator="CouponClaimRate"):
    """pk=RATE#COUPONCLAIM#<member_id>, sk=<UTC minute>: claim attempts in that minute."""

    n = NumberAttribute(default=0)
    expires_at = TTLAttribute(null=True)  # housekeeping only
