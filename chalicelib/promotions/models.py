from __future__ import annotations

from pynamodb.attributes import BooleanAttribute, JSONAttribute, NumberAttribute, UnicodeAttribute

from chalicelib.core.dynamo import Item

META = "META"
ALL_GSI1PK = "PROMOS"
LIVE_GSI2PK = "LIVEPROMOS"


def promo_pk(promo_id: str) -> str:
    return f"PROMO#{promo_id}"


def live_gsi2sk(ends_at_iso: str, promo_id: str) -> str:
    return f"{ends_at_iso}#{promo_id}"


class PromotionItem(Item, discriminator="Promotion"):
    """pk=PROMO#<promo_id>, sk=META.

    gsi1: PROMOS / <promo_id>                   - every promotion, newest first (admin)
    gsi2: LIVEPROMOS / <ends_at>#<promo_id>     - sparse: only while active (not paused); a checkout's
                                                  promotions are one Query of ``gsi2sk >= now``, cached 30 s
    """

    promo_id = UnicodeAttribute()
    title = UnicodeAttribute()
    description = UnicodeAttribute(null=True)
    promo_kind = UnicodeAttribute()
    rule = JSONAttribute()
    scope = JSONAttribute()
    schedule = JSONAttribute()  # {starts_at, ends_at (UTC RFC 3339), weekdays, hours}
    priority = NumberAttribute(default=100)
    exclusive = BooleanAttribute(default=False)
    with_coupons = BooleanAttribute(default=True)
    stacks_with_level = BooleanAttribute(default=False)
    status = UnicodeAttribute()  # active | paused
    created_by = UnicodeAttribute(null=True)
    version = NumberAttribute(default=1)  # optimistic lock for PATCH / pause / resume
