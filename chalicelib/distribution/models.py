"""Distribution items. Keys and access patterns: docs/data-model.md (Distribution). Only
distribution/repository.py uses them."""

from __future__ import annotations

from pynamodb.attributes import JSONAttribute, NumberAttribute, UnicodeAttribute

from chalicelib.core.dynamo import Item

META = "META"
SETTINGS_PK = "DISTSETTINGS"
PROFILE_SK = "DIST#META"
ENTRY_PREFIX = "DIST#E#"
AUDIT_DAY_PREFIX = "DISTDAY"  # gsi3: ledger entries by business day (the ledger audit)
DUE_PREFIX = "COMMDUE"  # gsi3: FROZEN records by the UTC day they become available (the settlement job)
DISTRIBUTORS_PREFIX = "DISTS"  # gsi3 of profiles: DISTS#<status> (head office's list)
INVITE_DUE_PREFIX = "INVITEDUE"  # gsi3: PENDING inviter gifts by the UTC day they become due (the invite job)
PROMOTERS_PK = "PROMOTERS"  # gsi1 of promoters: head office's list


def member_pk(member_id: str) -> str:  # the member's partition (identity owns its META item)
    return f"MEMBER#{member_id}"


def entry_sk(entry_id: str) -> str:
    return f"{ENTRY_PREFIX}{entry_id}"


def share_sk(kind: str, sku: str | None) -> str:
    return f"DIST#SHARE#{kind}#{sku or '-'}"


def scene_pk(scene: str) -> str:
    return f"SCENE#{scene}"


def record_pk(order_id: str) -> str:
    return f"COMM#{order_id}"


def record_sk(level: int) -> str:
    return f"L{level}"


def commissions_of(member_id: str) -> str:
    return f"COMMS#{member_id}"


def team_of(level: int, member_id: str) -> str:
    return f"TEAM{level}#{member_id}"


def commission_day(day: str) -> str:
    return f"COMMDAY#{day}"


def invite_pk(invitee_id: str) -> str:
    return f"INVITE#{invitee_id}"


def invite_cap_pk(inviter_id: str) -> str:
    return f"INVITECAP#{inviter_id}"


def order_mark_pk(order_id: str) -> str:
    return f"DISTORDER#{order_id}"


def promoter_pk(promoter_id: str) -> str:
    return f"PROMOTER#{promoter_id}"


def flyers_of(promoter_id: str) -> str:
    return f"FLYERS#{promoter_id}"


def funnel_pk(day: str) -> str:
    return f"FUNNEL#{day}"


def funnel_sk(promoter_id: str, scene: str | None) -> str:
    return f"F#{promoter_id}#{scene}" if scene else f"P#{promoter_id}"


def withdrawal_pk(withdrawal_id: str) -> str:
    return f"WDR#{withdrawal_id}"


def withdrawals_of(member_id: str) -> str:
    return f"MEMBERWDRS#{member_id}"


def withdrawals_by_status(status: str) -> str:
    return f"WDRS#{status}"


class DistSettingsItem(Item, discriminator="DistSettings"):
    """pk=DISTSETTINGS, sk=META: head office's distribution settings (docs/distribution.md)."""

    rules = JSONAttribute()
    updated_by = UnicodeAttribute(null=True)


class ProfileItem(Item, discriminator="DistProfile"):
    """pk=MEMBER#<member_id>, sk=DIST#META: a member's referral binding, distributor status, share code and
    commission balances. The balances change only by ADD updates in the TransactWriteItems that writes the
    DistEntry explaining them (a withdrawal: conditioned on ``available_fen >= amount``); every other attribute
    by SET updates, so no write overwrites another's.

    gsi1: TEAM1#<referrer> / <bound_at>#<member_id>   - a distributor's level-1 team
    gsi2: TEAM2#<upline2> / <bound_at>#<member_id>    - a distributor's level-2 team
    gsi3: DISTS#<status> / <member_id>                - applied / active distributors (head office)
    """

    member_id = UnicodeAttribute()
    referrer_id = UnicodeAttribute(null=True)
    upline2_id = UnicodeAttribute(null=True)
    bound_at = UnicodeAttribute(null=True)
    bound_until = UnicodeAttribute(null=True)
    scene = UnicodeAttribute(null=True)
    status = UnicodeAttribute(null=True)  # none | applied | active
    share_code = UnicodeAttribute(null=True)
    spend_fen = NumberAttribute(null=True)  # completed orders' payable (the min_spend rule)
    team1 = NumberAttribute(null=True)
    team2 = NumberAttribute(null=True)
    frozen_fen = NumberAttribute(null=True)
    available_fen = NumberAttribute(null=True)
    pending_fen = NumberAttribute(null=True)  # requested withdrawals waiting for review or payout
    withdrawn_fen = NumberAttribute(null=True)
    first_order_id = UnicodeAttribute(null=True)  # the member's first completed order (invite gift, funnel)
    promoter_id = UnicodeAttribute(null=True)  # joined by a promoter's flyer scene (the funnel)
    flyer_scene = UnicodeAttribute(null=True)


class DistEntryItem(Item, discriminator="DistEntry"):
    """pk=MEMBER#<member_id>, sk=DIST#E#<entry_id>: one ledger entry per balance change. Per member each delta
    column sums to its balance (frozen, available, pending, withdrawn).

    gsi3: DISTDAY#<business day> / <member_id>#<entry_id> - the accounts changed on a day (ledger audit)"""

    entry_id = UnicodeAttribute()
    member_id = UnicodeAttribute()
    entry_kind = UnicodeAttribute()  # commission | settle | reverse | withdraw | withdraw_paid | withdraw_returned
    frozen_delta = NumberAttribute(default=0)
    available_delta = NumberAttribute(default=0)
    pending_delta = NumberAttribute(default=0)
    withdrawn_delta = NumberAttribute(default=0)
    ref_type = UnicodeAttribute()
    ref_id = UnicodeAttribute()


class ShareItem(Item, discriminator="DistShare"):
    """pk=MEMBER#<member_id>, sk=DIST#SHARE#<kind>#<sku|->: the member's scene for a kind (and product)."""

    scene = UnicodeAttribute()


class SceneItem(Item, discriminator="Scene"):
    """pk=SCENE#<scene>, sk=META: what a WeChat scene (<= 32 characters) resolves to; ``scans`` counts the
    resolutions (ADD, no read). A flyer scene names a promoter instead of a referrer.

    gsi1 (flyers only): FLYERS#<promoter_id> / <scene> - a promoter's flyers"""

    scene = UnicodeAttribute()
    scene_kind = UnicodeAttribute()  # referral | product | flyer
    referrer_id = UnicodeAttribute(null=True)
    promoter_id = UnicodeAttribute(null=True)
    sku = UnicodeAttribute(null=True)
    scans = NumberAttribute(default=0)


class CommissionItem(Item, discriminator="Commission"):
    """pk=COMM#<order_id>, sk=L<level>: what one beneficiary earns on one order at one level, one entry per order
    line in ``lines`` ({idx, sku, line_payable_fen, base_fen, rate_bp, amount_fen, reversed_fen}). Put once
    (attribute_not_exists) in the payment's transaction; every later change is conditional on ``rev``.

    gsi1: COMMS#<beneficiary> / <order_id>#L<level>     - a distributor's records, newest first
    gsi2: COMMDAY#<business day paid> / <beneficiary>#<order_id>#L<level> - the report of a period
    gsi3: COMMDUE#<UTC day> / <due_at>#<order_id>#L<level> - sparse: FROZEN with a due time (settlement job)
    """

    order_id = UnicodeAttribute()
    level = NumberAttribute()
    beneficiary = UnicodeAttribute()
    buyer_id = UnicodeAttribute(null=True)
    store_id = UnicodeAttribute(null=True)
    lines = JSONAttribute()
    amount_fen = NumberAttribute()
    reversed_fen = NumberAttribute(default=0)
    status = UnicodeAttribute()  # FROZEN | AVAILABLE
    paid_at = UnicodeAttribute(null=True)
    due_at = UnicodeAttribute(null=True)
    settled_at = UnicodeAttribute(null=True)
    rev = NumberAttribute(default=0)


class WithdrawalItem(Item, discriminator="Withdrawal"):
    """pk=WDR#<withdrawal_id>, sk=META. Status PENDING_REVIEW -> PAID | REJECTED, or -> PAYING -> PAID | FAILED
    (WeChat change), each change conditional on the status read.

    gsi1: MEMBERWDRS#<member_id> / <withdrawal_id> - a member's withdrawals
    gsi2: WDRS#<status> / <withdrawal_id>          - head office's list by status
    """

    withdrawal_id = UnicodeAttribute()
    member_id = UnicodeAttribute()
    amount_fen = NumberAttribute()
    fee_fen = NumberAttribute()
    net_fen = NumberAttribute()
    to = UnicodeAttribute()  # wallet | wechat
    status = UnicodeAttribute()
    reviewed_by = UnicodeAttribute(null=True)
    reason = UnicodeAttribute(null=True)
    payout = JSONAttribute(null=True)


class InviteItem(Item, discriminator="Invite"):
    """pk=INVITE#<invitee_id>, sk=META: the inviter's gift for an invitee's first completed order. PENDING until
    ``due_at`` (completion + freeze_days), then GRANTED, CAPPED (the inviter's monthly cap), ALREADY (that
    openid / phone already counted), SKIPPED (template sold out, paused, blocked member); CANCELLED when the
    order is refunded before. Every change is conditioned on PENDING.

    gsi3 (PENDING only): INVITEDUE#<UTC day> / <due_at>#<invitee_id> - the invite job reads only what is due"""

    invitee_id = UnicodeAttribute()
    inviter_id = UnicodeAttribute()
    order_id = UnicodeAttribute()
    status = UnicodeAttribute()
    due_at = UnicodeAttribute()
    reason = UnicodeAttribute(null=True)
    coupon_id = UnicodeAttribute(null=True)


class InviteCapItem(Item, discriminator="InviteCap"):
    """pk=INVITECAP#<inviter_id>, sk=<YYYY-MM> (Beijing month): inviter gifts granted that month; ADD 1
    conditioned on ``n < cap`` in the gift's transaction."""

    n = NumberAttribute(default=0)


class OrderMarkItem(Item, discriminator="DistOrderMark"):
    """pk=DISTORDER#<order_id>, sk=META: the order's completion was counted (first order, invite, funnel):
    put once (attribute_not_exists) in that transaction, so a redelivered OrderCompleted counts nothing.
    sk=REFUNDED: a refund of a bound member's order came before its completion was counted; an inviter gift
    for that order is then cancelled at its grant (a condition check in the grant's transaction)."""

    order_id = UnicodeAttribute()


class PromoterItem(Item, discriminator="Promoter"):
    """pk=PROMOTER#<promoter_id>, sk=META: a head-office promoter (派单) who hands out flyer scenes.

    gsi1: PROMOTERS / <promoter_id> - head office's list"""

    promoter_id = UnicodeAttribute()
    name = UnicodeAttribute()
    phone = UnicodeAttribute()
    store_id = UnicodeAttribute(null=True)
    flyers = NumberAttribute(default=0)


class FunnelItem(Item, discriminator="Funnel"):
    """pk=FUNNEL#<business day>, sk=P#<promoter_id> or F#<promoter_id>#<scene>: the day's counters of a promoter
    and of one flyer, each moved by ADD in the transaction of what it counts (a scan, a registration, a completed
    order with its once-marker)."""

    promoter_id = UnicodeAttribute()
    scene = UnicodeAttribute(null=True)
    scanned = NumberAttribute(default=0)
    registered = NumberAttribute(default=0)
    first_order = NumberAttribute(default=0)
    orders = NumberAttribute(default=0)
    sales_fen = NumberAttribute(default=0)
