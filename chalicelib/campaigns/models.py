"""Campaign items: member stats with their segment indexes, tags, segments, campaigns, runs and their markers.

Member stats (pk=CSTATS#<member_id>, sk=META) are indexed on all three GSIs, projected whole, so reading an
index partition reads the stats themselves (no second read per member):
- gsi1: CIX#LAST / <last order business day>#<member_id> (members who ordered, by last-order day);
- gsi2: CIX#BDAY#<MM> / <DD>#<member_id> (members with a birthday, by month and day);
- gsi3: CIX#LEVEL#<level_id or NONE> / <registered day>#<member_id> (every member, by level and registration).
Tags: pk=CTAG#<tag>, sk=<member_id> (members of a tag; the tag itself is on the stats).
"""

from __future__ import annotations

from pynamodb.attributes import JSONAttribute, NumberAttribute, UnicodeAttribute, UnicodeSetAttribute

from chalicelib.core.dynamo import Item

META = "META"
NO_LEVEL = "NONE"
LAST_ORDER_GSI1PK = "CIX#LAST"
TAGDEFS_PK = "CTAGDEF"
SEGMENTS_PK = "CSEGMENTS"
CAMPAIGNS_GSI2PK = "CCAMPAIGNS"
RUNNING_GSI3PK = "CRUNNING"  # runs whose fan-out has not finished (the dispatcher resumes them)


def stats_pk(member_id: str) -> str:
    return f"CSTATS#{member_id}"


def birthday_gsi2pk(month: str) -> str:
    return f"CIX#BDAY#{month}"


def level_gsi3pk(level_id: str | None) -> str:
    return f"CIX#LEVEL#{level_id or NO_LEVEL}"


def tag_pk(tag: str) -> str:
    return f"CTAG#{tag}"


def seen_pk(event_id: str, what: str) -> str:
    return f"CSEEN#{what}#{event_id}"


def dirty_pk(day: str) -> str:
    return f"CDIRTY#{day}"


def campaign_pk(campaign_id: str) -> str:
    return f"CAMPAIGN#{campaign_id}"


def trigger_gsi3pk(trigger: str) -> str:
    return f"CTRIGGER#{trigger}"


def due_gsi1pk(hour: str) -> str:
    return f"CDUE#{hour}"


def run_sk(run_id: str) -> str:
    return f"RUN#{run_id}"


def count_sk(run_id: str, shard: int) -> str:
    return f"RUN#{run_id}#C{shard}"


def marker_pk(campaign_id: str, scope: str) -> str:
    return f"CMARK#{campaign_id}#{scope}"


def coupon_pk(coupon_id: str) -> str:
    return f"CCOUPON#{coupon_id}"


class MemberStatsItem(Item, discriminator="CampaignMemberStats"):
    """pk=CSTATS#<member_id>, sk=META: what campaigns know about a member, kept from events (module docstring
    for its indexes). ``version`` guards read-modify-write."""

    member_id = UnicodeAttribute()
    data = JSONAttribute()  # domain.Stats as a dict
    version = NumberAttribute(default=0)
    last_contacted_at = UnicodeAttribute(null=True)  # the per-member cap across campaigns
    wakeups = NumberAttribute(default=0)
    tags = UnicodeSetAttribute(null=True)  # given by hand
    rule_tags = UnicodeSetAttribute(null=True)  # recomputed nightly (high_churn_risk: given by the wake-up recipe)


class SeenItem(Item, discriminator="CampaignSeen"):
    """pk=CSEEN#<what>#<event_id>, sk=META: this event was applied (in the transaction that applied it)."""


class DirtyItem(Item, discriminator="CampaignDirty"):
    """pk=CDIRTY#<business day>, sk=<member_id>: the member's stats changed that day (nightly rule tags)."""


class TagDefItem(Item, discriminator="CampaignTagDef"):
    """pk=CTAGDEF, sk=<tag>: a tag head office can give (rule tags are built in)."""

    name = UnicodeAttribute()
    description = UnicodeAttribute(null=True)


class TagMemberItem(Item, discriminator="CampaignTagMember"):
    """pk=CTAG#<tag>, sk=<member_id>: the member has the tag (``source``: manual or rule)."""

    member_id = UnicodeAttribute()
    source = UnicodeAttribute()


class SegmentItem(Item, discriminator="CampaignSegment"):
    """pk=CSEGMENTS, sk=<segment_id>."""

    segment_id = UnicodeAttribute()
    name = UnicodeAttribute()
    rules = JSONAttribute()


class CampaignItem(Item, discriminator="Campaign"):
    """pk=CAMPAIGN#<id>, sk=META. gsi1: CDUE#<hour of next_fire> / <next_fire>#<id> while active (the
    dispatcher reads only due hours); gsi2: CCAMPAIGNS / <id> (the list); gsi3: CTRIGGER#<trigger> / <id> for an
    event-triggered campaign (the subscriber reads the campaigns of its trigger)."""

    campaign_id = UnicodeAttribute()
    name = UnicodeAttribute()
    segment_id = UnicodeAttribute(null=True)
    recipe = UnicodeAttribute(null=True)
    schedule = JSONAttribute(null=True)  # {kind, text}; None for a triggered campaign
    trigger = UnicodeAttribute(null=True)  # refund_completed | recharge_refunded (gsi3: CTRIGGER#<trigger>)
    min_refund_fen = NumberAttribute(null=True)
    actions = JSONAttribute()
    member_cap_days = NumberAttribute(default=0)
    budget_coupons = NumberAttribute(null=True)
    coupons_issued = NumberAttribute(default=0)
    start_at = UnicodeAttribute(null=True)
    end_at = UnicodeAttribute(null=True)
    status = UnicodeAttribute()  # ACTIVE | PAUSED | ENDED
    next_fire = UnicodeAttribute(null=True)
    anchor = UnicodeAttribute()  # rate schedules count from here
    version = NumberAttribute(default=0)


class RunItem(Item, discriminator="CampaignRun"):
    """pk=CAMPAIGN#<id>, sk=RUN#<run_id>. gsi3: CRUNNING / <at>#<id>#<run_id> until fanned out."""

    campaign_id = UnicodeAttribute()
    run_id = UnicodeAttribute()
    at = UnicodeAttribute()
    status = UnicodeAttribute()  # FANNING | FANNED; TRIGGERED: a triggered campaign's run of one Beijing day
    targeted = NumberAttribute(default=0)
    batches = NumberAttribute(default=0)


class RunCountItem(Item, discriminator="CampaignRunCount"):
    """pk=CAMPAIGN#<id>, sk=RUN#<run_id>#C<shard>: one shard of a run's results (updated in each member's
    transaction; the run's results are the sum of its shards). ``targeted`` is counted here by triggered runs
    (one per refund); a scheduled run's targeted is on the run item (its fan-out)."""

    targeted = NumberAttribute(null=True)
    sent = NumberAttribute(null=True)
    coupons_issued = NumberAttribute(null=True)
    cap = NumberAttribute(null=True)
    opted_out = NumberAttribute(null=True)
    no_phone = NumberAttribute(null=True)
    quiet_hours = NumberAttribute(null=True)
    budget = NumberAttribute(null=True)
    coupon_unavailable = NumberAttribute(null=True)
    churned = NumberAttribute(null=True)
    redeemed = NumberAttribute(null=True)
    revenue_fen = NumberAttribute(null=True)


class MarkerItem(Item, discriminator="CampaignMarker"):
    """pk=CMARK#<campaign_id>#<run_id or Y<year>>, sk=<member_id>: the run took effect for the member (written
    in the transaction of that effect: once)."""

    outcome = UnicodeAttribute()
    coupon_id = UnicodeAttribute(null=True)


class CampaignCouponItem(Item, discriminator="CampaignCoupon"):
    """pk=CCOUPON#<coupon_id>, sk=META: which campaign run issued a coupon (redemptions are counted for it)."""

    campaign_id = UnicodeAttribute()
    run_id = UnicodeAttribute()
    member_id = UnicodeAttribute()
    issued_at = UnicodeAttribute()
