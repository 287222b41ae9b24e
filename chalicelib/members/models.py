from __future__ import annotations

from pynamodb.attributes import JSONAttribute, NumberAttribute, UnicodeAttribute

from chalicelib.core.dynamo import Item

META = "META"


LEVELS_GSI1PK = "LEVELS"
GROWTH_DAY_PREFIX = "GROWTHDAY"  # gsi3: growth entries by business day (the ledger audit reads one day)


def level_pk(level_id: str) -> str:
    return f"LEVEL#{level_id}"


def level_rank_pk(rank: int) -> str:
    return f"LEVELRANK#{rank}"


def profile_pk(member_id: str) -> str:
    return f"MPROFILE#{member_id}"


def level_members_gsi1pk(level_id: str) -> str:
    return f"MLEVEL#{level_id}"


class LevelItem(Item, discriminator="MemberLevel"):
    """pk=LEVEL#<level_id>, sk=META; gsi1: LEVELS / <rank, 4 digits>#<level_id> (every level by rank)."""

    level_id = UnicodeAttribute()
    name = UnicodeAttribute()
    rank = NumberAttribute()
    growth_min = NumberAttribute()  # fen of growth
    orders_min = NumberAttribute(null=True)  # or this many paid (completed) orders
    discount_bp = NumberAttribute(default=0)
    points_multiplier_bp = NumberAttribute(default=10000)
    perks = JSONAttribute(null=True)  # [str]
    version = NumberAttribute(default=1)


class LevelRankItem(Item, discriminator="MemberLevelRank"):
    """pk=LEVELRANK#<rank>, sk=META -> level_id: a rank belongs to one level (written with it)."""

    level_id = UnicodeAttribute()


class ProfileItem(Item, discriminator="MemberProfile"):
    """pk=MPROFILE#<member_id>, sk=META: growth, paid orders, the level they reached, birthday.
    gsi1: MLEVEL#<level_id> / <member_id> (members of a level, for head office)."""

    member_id = UnicodeAttribute()
    growth_fen = NumberAttribute(default=0)
    paid_orders = NumberAttribute(default=0)
    level_id = UnicodeAttribute(null=True)
    rank = NumberAttribute(null=True)
    spend_fen = NumberAttribute(default=0)  # growth from orders less refunds (not recharges)
    last_order_id = UnicodeAttribute(null=True)
    last_order_at = UnicodeAttribute(null=True)
    last_store_id = UnicodeAttribute(null=True)
    birthday = UnicodeAttribute(null=True)  # YYYY-MM-DD
    birthday_by = UnicodeAttribute(null=True)  # member | staff
    version = NumberAttribute(default=0)


class GrowthItem(Item, discriminator="MemberGrowth"):
    """pk=MPROFILE#<member_id>, sk=GROWTH#<source event id>: one growth change (the growth ledger; written once
    per event, with the profile's update, so a redelivered event changes nothing).
    gsi3: GROWTHDAY#<business day> / <member_id>#<event id> (the ledger audit's day)."""

    member_id = UnicodeAttribute()
    cause = UnicodeAttribute()  # order | refund | recharge
    ref = UnicodeAttribute(null=True)
    delta_fen = NumberAttribute()
    orders_delta = NumberAttribute(default=0)
    growth_after = NumberAttribute()
    at = UnicodeAttribute()
