"""Points items. Keys and access patterns: docs/data-model.md (Points); the design: docs/points.md."""

from __future__ import annotations

from pynamodb.attributes import JSONAttribute, NumberAttribute, UnicodeAttribute

from chalicelib.core.dynamo import Item

META = "META"
SETTINGS_PK = "POINTSSETTINGS"
ACCOUNT_SK = "POINTS"
AUDIT_DAY_PREFIX = "PTSDAY"  # gsi3: entries by business day (the ledger audit reads one day)


def member_pk(member_id: str) -> str:  # the member's partition (identity owns its META item)
    return f"MEMBER#{member_id}"


def entry_sk(entry_id: str) -> str:
    return f"PTSLOG#{entry_id}"


def lot_sk(lot_id: str) -> str:
    return f"PTSLOT#{lot_id}"


def checkin_sk(day: str) -> str:
    return f"PTSCHECKIN#{day}"


def guard_sk(ref: str) -> str:
    return f"PTSREF#{ref}"


def expiry_gsi1pk(expires_on: str) -> str:
    """Day bucket (BUSINESS_TZ) of a lot's last valid day: the expiry job reads one bucket per day."""
    return f"PTSEXP#{expires_on}"


class PointsSettingsItem(Item, discriminator="PointsSettings"):
    """pk=POINTSSETTINGS, sk=META: head office's points settings (domain.Rules.to_dict())."""

    rules = JSONAttribute()
    updated_by = UnicodeAttribute(null=True)


class PointsAccountItem(Item, discriminator="PointsAccount"):
    """pk=MEMBER#<member_id>, sk=POINTS. ``balance`` = sum of the member's ledger entries, always.

    ``earned``: points ever put in lots (the next lot's offset); ``unlotted``: points given back by a cancelled
    checkout (``add_return``, written blind) not yet in a lot; ``version`` +1 on every change (blind ones too),
    the condition of every read-modify-write change."""

    member_id = UnicodeAttribute()
    balance = NumberAttribute(default=0)
    earned = NumberAttribute(default=0)
    unlotted = NumberAttribute(default=0)
    version = NumberAttribute(default=0)


class PointsEntryItem(Item, discriminator="PointsEntry"):
    """pk=MEMBER#<member_id>, sk=PTSLOG#<entry_id> (ULID: newest first by a descending query).

    gsi3: PTSDAY#<business day> / <member_id>#<entry_id>  - the accounts changed on a day (ledger audit)"""

    entry_id = UnicodeAttribute()
    member_id = UnicodeAttribute()
    entry_kind = UnicodeAttribute()  # domain.KINDS
    amount = NumberAttribute()  # signed
    ref_type = UnicodeAttribute(null=True)
    ref_id = UnicodeAttribute(null=True)
    note = UnicodeAttribute(null=True)
    actor = UnicodeAttribute(null=True)


class PointsLotItem(Item, discriminator="PointsLot"):
    """pk=MEMBER#<member_id>, sk=PTSLOT#<lot_id> (ULID: oldest first). The lot is [start, start + amount) on the
    member's line of credited points (domain docstring).

    gsi1: PTSEXP#<expires_on> / <member_id>#<lot_id>  - sparse: until the lot has expired (never for "never")
    """

    lot_id = UnicodeAttribute()
    member_id = UnicodeAttribute()
    start = NumberAttribute()
    amount = NumberAttribute()
    earned_at = UnicodeAttribute()
    expires_on = UnicodeAttribute(null=True)
    source = UnicodeAttribute()  # the ledger kind that created it
    expired_points = NumberAttribute(null=True)  # set once, when it expired


class CheckinItem(Item, discriminator="PointsCheckin"):
    """pk=MEMBER#<member_id>, sk=PTSCHECKIN#<business date>: once per day (attribute_not_exists)."""

    checkin_id = UnicodeAttribute()
    member_id = UnicodeAttribute()
    day = UnicodeAttribute()
    streak_days = NumberAttribute()
    points = NumberAttribute()
    gift_template_id = UnicodeAttribute(null=True)


class PointsGuardItem(Item, discriminator="PointsGuard"):
    """pk=MEMBER#<member_id>, sk=PTSREF#<signup | earn#order#<id> | refund#<refund_id>>: written with
    attribute_not_exists in the change's transaction, so each event credits or debits once, ever (also after
    the 7-day idempotency records are gone). ``points``: what the change earned (an order's refund reads it)."""

    member_id = UnicodeAttribute()
    points = NumberAttribute(default=0)
