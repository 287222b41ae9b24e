"""The only code that reads or writes campaign items (keys and indexes: models.py)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from typing import Any

from chalicelib.campaigns import domain
from chalicelib.campaigns.models import (
    CAMPAIGNS_GSI2PK,
    LAST_ORDER_GSI1PK,
    META,
    RUNNING_GSI3PK,
    SEGMENTS_PK,
    TAGDEFS_PK,
    CampaignCouponItem,
    CampaignItem,
    DirtyItem,
    MarkerItem,
    MemberStatsItem,
    RunCountItem,
    RunItem,
    SeenItem,
    SegmentItem,
    TagDefItem,
    TagMemberItem,
    birthday_gsi2pk,
    campaign_pk,
    count_sk,
    coupon_pk,
    dirty_pk,
    due_gsi1pk,
    level_gsi3pk,
    marker_pk,
    run_sk,
    seen_pk,
    stats_pk,
    tag_pk,
    trigger_gsi3pk,
)
from chalicelib.core import clock
from chalicelib.core.dynamo import Item, Page, Tx, batch_get, page, put_new

_ATTRS = ("tags", "rule_tags", "wakeups", "last_contacted_at")  # on the item, not in ``data``


# --------------------------------------------------------------------------------------- member stats
def stats_of(item: MemberStatsItem) -> domain.Stats:
    data = dict(item.data or {})
    data = {k: v for k, v in data.items() if k in domain.Stats.__dataclass_fields__ and k not in _ATTRS}
    s = domain.Stats(**data)
    s.tags = sorted(item.tags or [])
    s.rule_tags = sorted(item.rule_tags or [])
    s.wakeups = int(item.wakeups or 0)
    s.last_contacted_at = item.last_contacted_at
    return s


def get_stats(member_id: str) -> MemberStatsItem | None:
    return MemberStatsItem.get_or_none(stats_pk(member_id), META, consistent_read=True)


def stats_many(member_ids: Iterable[str]) -> list[MemberStatsItem]:
    got = batch_get([(stats_pk(m), META) for m in dict.fromkeys(member_ids)])
    return [i for i in got.values() if isinstance(i, MemberStatsItem)]


def _index(s: domain.Stats) -> dict[str, Any]:
    mid = s.member_id
    out: dict[str, Any] = {
        "gsi3pk": level_gsi3pk(s.level_id),
        "gsi3sk": f"{s.registered_day or '0000-00-00'}#{mid}",
    }
    if s.last_order_day:
        out |= {"gsi1pk": LAST_ORDER_GSI1PK, "gsi1sk": f"{s.last_order_day}#{mid}"}
    if s.birthday:
        out |= {"gsi2pk": birthday_gsi2pk(s.birthday[5:7]), "gsi2sk": f"{s.birthday[8:10]}#{mid}"}
    return out


def add_stats(tx: Tx, s: domain.Stats, item: MemberStatsItem | None, seen: str | None, day: str) -> None:
    """The member's stats as ``s`` (conditional on the item being as read), with the once-per-event marker
    ``seen`` (tag "seen") and the member in the day's changed list (the nightly rule tags)."""
    version = int(item.version) if item is not None else 0
    data = {k: v for k, v in dataclasses.asdict(s).items() if k not in _ATTRS}
    now = clock.now()
    new = MemberStatsItem(
        stats_pk(s.member_id),
        META,
        member_id=s.member_id,
        data=data,
        version=version + 1,
        tags=set(s.tags) or None,
        rule_tags=set(s.rule_tags) or None,
        wakeups=s.wakeups,
        last_contacted_at=s.last_contacted_at,
        created_at=item.created_at if item is not None else now,
        updated_at=now,
        **_index(s),
    )
    cond = MemberStatsItem.pk.does_not_exist() if item is None else MemberStatsItem.version == version
    tx.save(new, condition=cond, tag="stats")
    if seen:
        tx.save(SeenItem(seen, META, created_at=now), condition=SeenItem.pk.does_not_exist(), tag="seen")
    tx.save(DirtyItem(dirty_pk(day), s.member_id, created_at=now), tag="dirty")


def load_stats(stats: Iterable[domain.Stats]) -> int:
    """Write stats of members not known yet in BatchWriteItem calls (an import of history; the bench)."""
    n = 0
    now = clock.now()
    with MemberStatsItem.batch_write() as batch:
        for s in stats:
            data = {k: v for k, v in dataclasses.asdict(s).items() if k not in _ATTRS}
            batch.save(
                MemberStatsItem(
                    stats_pk(s.member_id),
                    META,
                    member_id=s.member_id,
                    data=data,
                    version=1,
                    created_at=now,
                    **_index(s),
                )
            )
            n += 1
    return n


def seen_key(event_id: str, what: str) -> str:
    return seen_pk(event_id, what)


def changed_members(day: str) -> list[str]:
    return [i.sk for i in DirtyItem.query(dirty_pk(day))]


# --------------------------------------------------------------------------------------- segment indexes
def by_last_order(oldest: str, newest: str) -> Iterator[MemberStatsItem]:
    """Members whose last order was on a business day in [oldest, newest]: one range of one index."""
    return MemberStatsItem.gsi1.query(LAST_ORDER_GSI1PK, MemberStatsItem.gsi1sk.between(oldest, newest + "~"))


def by_birthday(month: str, days: list[str]) -> Iterator[MemberStatsItem]:
    if not days:
        yield from MemberStatsItem.gsi2.query(birthday_gsi2pk(month))
        return
    for d in days:
        yield from MemberStatsItem.gsi2.query(birthday_gsi2pk(month), MemberStatsItem.gsi2sk.startswith(f"{d}#"))


def by_level(level_id: str | None) -> Iterator[MemberStatsItem]:
    return MemberStatsItem.gsi3.query(level_gsi3pk(level_id))


def tag_member_ids(tag: str) -> list[str]:
    return [i.sk for i in TagMemberItem.query(tag_pk(tag))]


def tag_members_page(tag: str, limit: int, cursor: str | None) -> Page:
    """One page of the members carrying ``tag`` (the ``CTAG#`` index), newest members first."""
    return page(TagMemberItem.query, hash_key=tag_pk(tag), scan_index_forward=False, limit=limit, cursor=cursor)


def stats_key(member_id: str) -> tuple[str, str]:
    """The member's stats key, for a BatchGetItem another domain gathers (``tags_in`` reads it back)."""
    return stats_pk(member_id), META


def tags_in(got: Mapping[tuple[str, str], Any], member_id: str) -> list[str]:
    """The member's tags (manual and rule), sorted, from the stats read into ``got``."""
    item = got.get(stats_key(member_id))
    return sorted(set(item.tags or ()) | set(item.rule_tags or ())) if isinstance(item, MemberStatsItem) else []


# --------------------------------------------------------------------------------------- tags
def put_tagdef(name: str, description: str | None) -> bool:
    return put_new(TagDefItem(TAGDEFS_PK, name, name=name, description=description, created_at=clock.now()))


def tagdefs() -> list[TagDefItem]:
    return list(TagDefItem.query(TAGDEFS_PK))


def get_tagdef(name: str) -> TagDefItem | None:
    return TagDefItem.get_or_none(TAGDEFS_PK, name)


def add_tag_change(tx: Tx, member_id: str, tag: str, source: str, on: bool) -> None:
    """Give (``on``) or take a tag: the set on the member's stats and the tag's member list, together."""
    attr = MemberStatsItem.tags if source == "manual" else MemberStatsItem.rule_tags
    action = attr.add({tag}) if on else attr.delete({tag})
    tx.update(
        MemberStatsItem(stats_pk(member_id), META),
        [action, MemberStatsItem.version.add(1), MemberStatsItem.updated_at.set(clock.now())],
        condition=MemberStatsItem.pk.exists(),
        tag=("tag", tag),
    )
    if on:
        tx.save(TagMemberItem(tag_pk(tag), member_id, member_id=member_id, source=source, created_at=clock.now()))
    else:
        tx.delete(TagMemberItem(tag_pk(tag), member_id))


# --------------------------------------------------------------------------------------- segments
def put_segment(segment_id: str, name: str, rules: dict[str, Any]) -> SegmentItem:
    item = SegmentItem(SEGMENTS_PK, segment_id, segment_id=segment_id, name=name, rules=rules, created_at=clock.now())
    item.save()
    return item


def get_segment(segment_id: str) -> SegmentItem | None:
    return SegmentItem.get_or_none(SEGMENTS_PK, segment_id)


def segments_page(limit: int, cursor: str | None) -> Page:
    return page(SegmentItem.query, hash_key=SEGMENTS_PK, scan_index_forward=False, limit=limit, cursor=cursor)


# --------------------------------------------------------------------------------------- campaigns
def _due_keys(next_fire: str | None) -> dict[str, Any]:
    if not next_fire:
        return {"gsi1pk": None, "gsi1sk": None}
    at = clock.parse(next_fire)
    return {"gsi1pk": due_gsi1pk(domain.hour_bucket(at)), "gsi1sk": f"{next_fire}#"}


def new_campaign(campaign_id: str, fields: Mapping[str, Any]) -> CampaignItem:
    now = clock.now()
    item = CampaignItem(
        campaign_pk(campaign_id),
        META,
        campaign_id=campaign_id,
        gsi2pk=CAMPAIGNS_GSI2PK,
        gsi2sk=campaign_id,
        created_at=now,
        updated_at=now,
        **fields,
    )
    due = _due_keys(item.next_fire)
    item.gsi1pk, item.gsi1sk = due["gsi1pk"], (due["gsi1sk"] + campaign_id) if due["gsi1sk"] else None
    if item.trigger:
        item.gsi3pk, item.gsi3sk = trigger_gsi3pk(item.trigger), campaign_id
    item.save(condition=CampaignItem.pk.does_not_exist())
    return item


def get_campaign(campaign_id: str, consistent: bool = True) -> CampaignItem | None:
    return CampaignItem.get_or_none(campaign_pk(campaign_id), META, consistent_read=consistent)


def campaigns_page(limit: int, cursor: str | None) -> Page:
    return page(
        CampaignItem.gsi2.query, hash_key=CAMPAIGNS_GSI2PK, scan_index_forward=False, limit=limit, cursor=cursor
    )


def due(hour: str, until: str) -> list[CampaignItem]:
    """Active campaigns due in ``hour`` (UTC) at or before ``until``: one query of that hour's bucket."""
    return list(CampaignItem.gsi1.query(due_gsi1pk(hour), CampaignItem.gsi1sk <= until + "~"))


def triggered(trigger: str) -> list[CampaignItem]:
    """The campaigns an event of ``trigger`` may set off (whatever their status): one query of their partition."""
    return list(CampaignItem.gsi3.query(trigger_gsi3pk(trigger)))


def _schedule_actions(status: str, next_fire: str | None) -> list:
    due_keys = _due_keys(next_fire if status == "ACTIVE" else None)
    actions = [CampaignItem.status.set(status), CampaignItem.updated_at.set(clock.now()), CampaignItem.version.add(1)]
    if next_fire and status != "ENDED":
        actions.append(CampaignItem.next_fire.set(next_fire))
    else:
        actions.append(CampaignItem.next_fire.remove())
    if due_keys["gsi1pk"]:
        actions += [CampaignItem.gsi1pk.set(due_keys["gsi1pk"]), CampaignItem.gsi1sk.set(due_keys["gsi1sk"])]
    else:
        actions += [CampaignItem.gsi1pk.remove(), CampaignItem.gsi1sk.remove()]
    return actions


def add_schedule(tx: Tx, c: CampaignItem, status: str, next_fire: str | None) -> None:
    """Set the campaign's status and next fire time (and its due bucket), conditional on its version."""
    actions = _schedule_actions(status, next_fire)
    if next_fire and status == "ACTIVE":
        actions[-1] = CampaignItem.gsi1sk.set(f"{next_fire}#{c.campaign_id}")
    tx.update(c, actions, condition=CampaignItem.version == int(c.version), tag="campaign")


def add_run(tx: Tx, c: CampaignItem, run_id: str, at: str) -> RunItem:
    run = RunItem(
        campaign_pk(c.campaign_id),
        run_sk(run_id),
        campaign_id=c.campaign_id,
        run_id=run_id,
        at=at,
        status="FANNING",
        gsi3pk=RUNNING_GSI3PK,
        gsi3sk=f"{at}#{c.campaign_id}#{run_id}",
        created_at=clock.now(),
    )
    tx.save(run, condition=RunItem.pk.does_not_exist(), tag="run")
    return run


def open_run(campaign_id: str, run_id: str, at: str) -> None:
    """A triggered campaign's run (one per business day): made by the first event of the day, kept as is after."""
    put_new(RunItem(campaign_pk(campaign_id), run_sk(run_id), campaign_id=campaign_id, run_id=run_id, at=at,
                    status="TRIGGERED", created_at=clock.now()))  # fmt: skip


def get_run(campaign_id: str, run_id: str) -> RunItem | None:
    return RunItem.get_or_none(campaign_pk(campaign_id), run_sk(run_id), consistent_read=True)


def running() -> list[RunItem]:
    return list(RunItem.gsi3.query(RUNNING_GSI3PK))


def fanned(run: RunItem, targeted: int, batches: int) -> None:
    run.update(
        actions=[
            RunItem.status.set("FANNED"),
            RunItem.targeted.set(targeted),
            RunItem.batches.set(batches),
            RunItem.gsi3pk.remove(),
            RunItem.gsi3sk.remove(),
        ]
    )


def runs_with_counts(campaign_id: str, limit: int) -> tuple[list[RunItem], dict[str, list[RunCountItem]]]:
    """A campaign's newest runs and their counter shards: one query (they share the partition)."""
    runs: list[RunItem] = []
    counts: dict[str, list[RunCountItem]] = {}
    for i in Item.query(campaign_pk(campaign_id), Item.sk.startswith("RUN#"), scan_index_forward=False):
        if isinstance(i, RunItem):
            if len(runs) >= limit:
                break
            runs.append(i)
        elif isinstance(i, RunCountItem):
            counts.setdefault(i.sk.rsplit("#", 1)[0][4:], []).append(i)
    return runs, counts


# --------------------------------------------------------------------------------------- one member's effect
def add_marker(tx: Tx, campaign_id: str, scope: str, member_id: str, outcome: str, coupon_id: str | None) -> None:
    item = MarkerItem(
        marker_pk(campaign_id, scope), member_id, outcome=outcome, coupon_id=coupon_id, created_at=clock.now()
    )
    tx.save(item, condition=MarkerItem.pk.does_not_exist(), tag="marker")


def get_marker(campaign_id: str, scope: str, member_id: str) -> MarkerItem | None:
    return MarkerItem.get_or_none(marker_pk(campaign_id, scope), member_id, consistent_read=True)


def add_counts(tx: Tx, campaign_id: str, run_id: str, shard: int, counts: Mapping[str, int]) -> None:
    actions = [getattr(RunCountItem, k).add(v) for k, v in counts.items() if v]
    actions.append(RunCountItem.kind.set(RunCountItem))
    tx.update(RunCountItem(campaign_pk(campaign_id), count_sk(run_id, shard)), actions, tag="count")


def add_contact(tx: Tx, member_id: str, now: datetime, cap_days: int, wakeup: bool) -> None:
    """The member was contacted now: conditional on the last contact (any campaign) being ``cap_days`` ago."""
    actions = [MemberStatsItem.last_contacted_at.set(clock.iso(now)), MemberStatsItem.version.add(1)]
    if wakeup:
        actions.append(MemberStatsItem.wakeups.add(1))
    cond = MemberStatsItem.pk.exists()
    if cap_days > 0:
        cutoff = clock.iso(domain.cap_cutoff(now, cap_days))
        cond &= MemberStatsItem.last_contacted_at.does_not_exist() | (MemberStatsItem.last_contacted_at <= cutoff)
    tx.update(MemberStatsItem(stats_pk(member_id), META), actions, condition=cond, tag="cap")


def add_budget(tx: Tx, c: CampaignItem, n: int = 1) -> None:
    """``n`` more coupons of the campaign's budget: conditional on that many being left."""
    tx.update(
        CampaignItem(campaign_pk(c.campaign_id), META),
        [CampaignItem.coupons_issued.add(n)],
        condition=CampaignItem.coupons_issued <= int(c.budget_coupons) - n,
        tag="budget",
    )


def add_attribution(tx: Tx, coupon_id: str, campaign_id: str, run_id: str, member_id: str, at: str) -> None:
    tx.save(
        CampaignCouponItem(
            coupon_pk(coupon_id),
            META,
            campaign_id=campaign_id,
            run_id=run_id,
            member_id=member_id,
            issued_at=at,
            created_at=clock.now(),
        )
    )


def attributions(coupon_ids: list[str]) -> list[CampaignCouponItem]:
    got = batch_get([(coupon_pk(c), META) for c in coupon_ids])
    return [i for i in got.values() if isinstance(i, CampaignCouponItem)]


def add_seen(tx: Tx, key: str) -> None:
    tx.save(SeenItem(key, META, created_at=clock.now()), condition=SeenItem.pk.does_not_exist(), tag="seen")
