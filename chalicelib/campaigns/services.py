"""Campaign use cases: member stats from events, tags, segments, campaigns, and running them.

Running: the ``dispatch_campaigns`` schedule reads the due-hour buckets of active campaigns, starts each due run
(the run item and the campaign's next fire time in one transaction; a run is named by its fire time, so the
same fire never makes two runs), evaluates the audience from the segment indexes and sends it to the campaigns
queue in batches. ``run_batch`` (the queue's consumer) gives each member the run's effect in ONE transaction:
the marker (campaign, run, member) - conditional, so a redelivered batch or a resumed run does nothing new - with
the coupon, the SMS request (an outbox event), the member's last contact (the cap across campaigns), the budget
and the run's counters. A run whose fan-out did not finish is fanned out again by the next dispatch.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from datetime import date, datetime, timedelta
from typing import Any

from chalicelib.campaigns import domain, repository
from chalicelib.campaigns.errors import CampaignCode
from chalicelib.campaigns.models import CampaignItem, MemberStatsItem, RunItem
from chalicelib.campaigns.schemas import (
    CampaignIn,
    CampaignOut,
    MemberTagsOut,
    PreviewOut,
    RunOut,
    SegmentIn,
    SegmentMember,
    SegmentOut,
    Skipped,
    TagIn,
    TagOut,
    TagsOut,
)
from chalicelib.core import clock, events, phones, queues
from chalicelib.core.dynamo import TxCancelled, get_mark, page_list, set_mark, transaction
from chalicelib.core.errors import AppError, Conflict, NotFound, TryAgain, ValidationFailed
from chalicelib.core.events import Event
from chalicelib.core.ids import is_ulid, new_id
from chalicelib.core.ledger import business_day
from chalicelib.core.logging import logger
from chalicelib.core.schemas import PageOut
from chalicelib.core.settings import get_settings
from chalicelib.coupons import services as coupons
from chalicelib.identity import repository as identity
from chalicelib.identity.errors import IdentityCode
from chalicelib.members import services as members
from chalicelib.sms import domain as sms_domain
from chalicelib.sms import repository as sms_repo

ATTEMPTS = 5
BATCH_SIZE = 100  # members per queue message
GROUP = 12  # members per transaction in a batch (about 6 items each + template, budget, counter shards <= 100)
SAMPLE = 10
TAG_NAME = re.compile(r"^[^#\s/]{1,40}$")
RESUME_AFTER = timedelta(minutes=2)  # a run still fanning out after this long is fanned out again


def _today(at: datetime | None = None) -> date:
    return (at or clock.now()).astimezone(clock.business_tz()).date()


# =========================================================================================== member stats
def _update_stats(member_id: str | None, event: dict[str, Any], what: str, change: Callable) -> str:
    """Apply ``change(stats)`` once per (event, what): the stats and the event's marker in one transaction."""
    if not member_id:
        return "ignored"
    day = business_day()  # the day the stats changed (the nightly rule tags look at it)
    for _ in range(ATTEMPTS):
        item = repository.get_stats(member_id)
        s = repository.stats_of(item) if item is not None else domain.Stats(member_id=member_id)
        change(s)
        try:
            with transaction() as tx:
                repository.add_stats(tx, s, item, repository.seen_key(event["id"], what), day)
            return "applied"
        except TxCancelled as e:
            if "seen" in e.failed:
                return "duplicate"
    raise TryAgain("the member's stats kept changing")


def on_member_joined(event: dict[str, Any]) -> None:
    data = event["data"]
    day = business_day(clock.parse(event["occurred_at"]))

    def change(s: domain.Stats) -> None:
        s.registered_day = s.registered_day or day

    _update_stats(data.get("member_id"), event, "joined", change)


def on_order_paid(event: dict[str, Any]) -> None:
    data = event["data"]
    paid_at = (data.get("payment") or {}).get("paid_at") or event["occurred_at"]
    order = {**data, "paid_at": paid_at}
    day = business_day(clock.parse(paid_at))
    _update_stats(data.get("member_id"), event, "order", lambda s: domain.apply_order(s, order, day))
    _count_redemptions(event, data, clock.parse(paid_at))


def on_refund_completed(event: dict[str, Any]) -> None:
    data = event["data"]
    refund = dict(data.get("refund") or {})
    categories = {ln["sku"]: ln.get("category") for ln in data.get("lines") or []}
    refund["lines"] = [
        {"category": categories.get(ln["sku"]), "refund_fen": ln.get("amount_fen", 0)}
        for ln in refund.get("lines") or []
    ]
    refund["full"] = data.get("status") == "REFUNDED"
    change = lambda s: domain.apply_refund(s, refund, data.get("lines") or [])  # noqa: E731
    _update_stats(data.get("member_id"), event, "refund", change)


def on_level_changed(event: dict[str, Any]) -> None:
    data = event["data"]

    def change(s: domain.Stats) -> None:
        s.level_id = data.get("level_id")

    _update_stats(data.get("member_id"), event, "level", change)


def on_birthday_set(event: dict[str, Any]) -> None:
    data = event["data"]

    def change(s: domain.Stats) -> None:
        s.birthday = data.get("birthday")

    _update_stats(data.get("member_id"), event, "birthday", change)


def _count_redemptions(event: dict[str, Any], data: dict[str, Any], paid_at: datetime) -> None:
    """An order that used coupons a campaign issued (within 14 days): redeemed and revenue for that run, once."""
    ids = [a["id"] for a in data.get("applied") or [] if a.get("kind") == "coupon" and a.get("id")]
    if not ids or not data.get("member_id"):
        return
    runs = {}
    for a in repository.attributions(ids):
        if domain.within_attribution(a.issued_at, paid_at):
            runs.setdefault((a.campaign_id, a.run_id), 0)
            runs[(a.campaign_id, a.run_id)] += 1
    for (campaign_id, run_id), n in runs.items():
        counts = {"redeemed": n, "revenue_fen": int(data.get("payable_fen") or 0)}
        try:
            with transaction() as tx:
                repository.add_seen(tx, repository.seen_key(f"{event['id']}#{campaign_id}#{run_id}", "redeem"))
                repository.add_counts(tx, campaign_id, run_id, domain.shard(data["member_id"]), counts)
        except TxCancelled as e:
            if "seen" not in e.failed:
                raise


# =========================================================================================== tags
def create_tag(cmd: TagIn) -> TagOut:
    if cmd.name in domain.RULE_TAGS or not repository.put_tagdef(cmd.name, cmd.description):
        raise Conflict("A tag of that name exists", code=CampaignCode.TAG_EXISTS)
    return TagOut(name=cmd.name, description=cmd.description)


def list_tags(limit: int, cursor: str | None) -> TagsOut:
    """Rule tags first, then the defined ones by name (one Query; paged in memory: a chain has a few dozen)."""
    rule = [TagOut(name=t, rule=True, description="rule tag, recomputed nightly") for t in domain.RULE_TAGS]
    manual = [TagOut(name=t.name, description=t.description) for t in repository.tagdefs()]
    pg = page_list(rule + manual, lambda t: t.name, limit=limit, cursor=cursor)
    return TagsOut(items=pg.items, next=pg.next)


def _require_member(member_id: str) -> None:
    if not is_ulid(member_id) or identity.get_member(member_id) is None:
        raise NotFound("No such member", code=IdentityCode.MEMBER_NOT_FOUND)


def _ensure_stats(member_id: str) -> MemberStatsItem:
    _require_member(member_id)
    item = repository.get_stats(member_id)
    if item is None:
        try:
            with transaction() as tx:
                repository.add_stats(tx, domain.Stats(member_id=member_id), None, None, business_day())
        except TxCancelled:
            pass  # made meanwhile
        item = repository.get_stats(member_id)
    return item


def member_tags(member_id: str) -> MemberTagsOut:
    _require_member(member_id)
    item = repository.get_stats(member_id)
    tags = sorted(repository.stats_of(item).all_tags) if item is not None else []
    return MemberTagsOut(member_id=member_id, tags=tags)


def tag_keys(member_ids: list[str]) -> list[tuple[str, str]]:
    """What ``tags_in`` reads (the members' stats), for a BatchGetItem another domain gathers (the member pages)."""
    return [repository.stats_key(m) for m in dict.fromkeys(member_ids)]


def tags_in(got, member_id: str) -> list[str]:
    return repository.tags_in(got, member_id)


def members_with_tag(tag: str, limit: int, cursor: str | None) -> tuple[list[str], str | None]:
    """One page of the members carrying ``tag``, newest members first, from the tag's index (one Query; an
    unknown tag has no members)."""
    pg = repository.tag_members_page(tag, limit, cursor)
    return [i.member_id for i in pg.items], pg.next


def set_member_tag(member_id: str, tag: str, on: bool) -> MemberTagsOut:
    """Give or take a manual tag (a tag head office defined)."""
    if not TAG_NAME.match(tag) or repository.get_tagdef(tag) is None:
        raise NotFound("No such tag", code=CampaignCode.TAG_NOT_FOUND)
    _ensure_stats(member_id)
    with transaction() as tx:
        repository.add_tag_change(tx, member_id, tag, "manual", on)
    return member_tags(member_id)


def recompute_rule_tags(now: datetime | None = None) -> dict[str, int]:
    """Nightly: rule tags of the members whose stats changed yesterday or today, and of those whose last order
    is exactly DORMANT_DAYS ago (they turn dormant today) - no scan."""
    today = _today(now)
    ids = set(repository.changed_members((today - timedelta(days=1)).isoformat()))
    ids |= set(repository.changed_members(today.isoformat()))
    crossing = (today - timedelta(days=domain.DORMANT_DAYS)).isoformat()
    ids |= {i.member_id for i in repository.by_last_order(crossing, crossing)}
    changed = 0
    for item in repository.stats_many(sorted(ids)):
        s = repository.stats_of(item)
        want = set(domain.rule_tags(s, today))
        have = set(s.rule_tags)
        if want == have:
            continue
        with transaction() as tx:
            for tag in sorted(want ^ have):
                repository.add_tag_change(tx, s.member_id, tag, "rule", tag in want)
        changed += 1
    return {"checked": len(ids), "changed": changed}


# =========================================================================================== segments
def segment_out(item) -> SegmentOut:
    return SegmentOut(segment_id=item.segment_id, name=item.name, rules=item.rules, created_at=item.created_at)


def create_segment(cmd: SegmentIn) -> SegmentOut:
    rules = cmd.rules.model_dump(exclude_none=True)
    return segment_out(repository.put_segment(new_id(), cmd.name, rules))


def list_segments(limit: int, cursor: str | None) -> PageOut[SegmentOut]:
    pg = repository.segments_page(limit, cursor)
    return PageOut[SegmentOut](items=[segment_out(i) for i in pg.items], next=pg.next)


def _segment(segment_id: str):
    item = repository.get_segment(segment_id) if is_ulid(segment_id) else None
    if item is None:
        raise NotFound("No such segment", code=CampaignCode.SEGMENT_NOT_FOUND)
    return item


def _candidates(rules: dict[str, Any], today: date) -> Iterable[MemberStatsItem]:
    d = domain.driver(rules, today)
    if d.index == "birthday":
        return repository.by_birthday(d.lo, list(d.values))
    if d.index == "last_order":
        return repository.by_last_order(d.lo, d.hi)
    if d.index == "tag":
        ids = {m for t in d.values for m in repository.tag_member_ids(t)}
        return repository.stats_many(sorted(ids))
    levels = list(d.values) if d.index == "level" else [lv.level_id for lv in members.levels()] + [None]
    return (i for lv in levels for i in repository.by_level(lv))


def evaluate(rules: dict[str, Any], today: date) -> list[domain.Stats]:
    """The members of a segment today: read from the index that fits its rules best, the rest checked on what
    it returns (the stats are projected into the index: one item read per candidate)."""
    out = []
    for item in _candidates(rules, today):
        s = repository.stats_of(item)
        if domain.matches(s, rules, today):
            out.append(s)
    return out


def _member_out(s: domain.Stats) -> SegmentMember:
    return SegmentMember(
        member_id=s.member_id,
        level_id=s.level_id,
        tags=sorted(s.all_tags),
        orders=s.orders,
        spend_fen=s.spend_fen,
        last_order_at=s.last_order_at,
        birthday=s.birthday,
    )


def preview(segment_id: str) -> PreviewOut:
    found = evaluate(_segment(segment_id).rules, _today())
    return PreviewOut(count=len(found), sample=[_member_out(s) for s in found[:SAMPLE]])


# =========================================================================================== campaigns
def _invalid(code: CampaignCode, message: str, field: str) -> ValidationFailed:
    return ValidationFailed(message, code=code, details={"fields": [{"field": field, "message": message}]})


def _check_actions(actions: list[dict[str, Any]]) -> None:
    kinds = [a["type"] for a in actions]
    if len(set(kinds)) != len(kinds):
        raise _invalid(CampaignCode.INVALID_CAMPAIGN, "at most one action of each type", "actions")
    for a in actions:
        if a["type"] == "coupon":
            coupons.push_template(a["template_id"])
            continue
        try:
            t = sms_domain.template(a["template"])
            if t.category != sms_domain.MARKETING:
                raise sms_domain.TemplateError(f"{t.name} is not a marketing template")
            sms_domain.check_params(t, a.get("params") or {})
        except sms_domain.TemplateError as e:
            raise _invalid(CampaignCode.INVALID_SMS_TEMPLATE, str(e), "actions") from e


def _first_fire(schedule: domain.Schedule, start: datetime, end: datetime | None) -> str:
    try:
        fire = schedule.next_after(start - timedelta(microseconds=1), start)
    except (ValueError, OverflowError, KeyError):  # croniter's own refusals, a rate beyond the calendar
        fire = None
    if fire is None or (end is not None and fire > end):
        raise _invalid(CampaignCode.INVALID_SCHEDULE, "the schedule never fires between start and end", "schedule")
    return clock.iso(fire)


def _parse_schedule(cmd: CampaignIn) -> domain.Schedule:
    raw = cmd.schedule.model_dump() if hasattr(cmd.schedule, "model_dump") else cmd.schedule
    try:
        return domain.parse_schedule(raw)
    except (ValueError, OverflowError) as e:  # ScheduleError, or croniter refusing a field
        raise _invalid(CampaignCode.INVALID_SCHEDULE, str(e), "schedule") from e


def _timing(cmd: CampaignIn, now: datetime) -> dict[str, Any]:
    """A scheduled campaign's schedule and first fire time; a triggered one's trigger (it has no fire times)."""
    if cmd.trigger:
        if cmd.end_at and cmd.end_at <= now:
            raise _invalid(CampaignCode.INVALID_CAMPAIGN, "end_at is in the past", "end_at")
        return {"trigger": cmd.trigger, "min_refund_fen": cmd.min_refund_fen, "schedule": None, "next_fire": None}
    schedule = _parse_schedule(cmd)
    start = max(now, cmd.start_at) if cmd.start_at else now
    return {
        "schedule": {"kind": schedule.kind, "text": schedule.text},
        "next_fire": _first_fire(schedule, start, cmd.end_at),
    }


def create_campaign(cmd: CampaignIn) -> CampaignOut:
    if cmd.segment_id:
        _segment(cmd.segment_id)
    now = clock.now()
    timing = _timing(cmd, now)
    actions = [a.model_dump() for a in cmd.actions]
    _check_actions(actions)
    fields = {
        "name": cmd.name,
        "segment_id": cmd.segment_id,
        "recipe": cmd.recipe,
        "actions": actions,
        "member_cap_days": cmd.member_cap_days,
        "budget_coupons": cmd.budget_coupons,
        "start_at": clock.iso(cmd.start_at) if cmd.start_at else None,
        "end_at": clock.iso(cmd.end_at) if cmd.end_at else None,
        "status": "ACTIVE",
        "anchor": clock.iso(cmd.start_at or now),
        **timing,
    }
    return campaign_out(repository.new_campaign(new_id(), fields))


def _status(c: CampaignItem) -> str:
    """A triggered campaign has no last fire: it shows ENDED once its end_at is past."""
    if c.trigger and c.status == "ACTIVE" and c.end_at and clock.now() > clock.parse(c.end_at):
        return "ENDED"
    return c.status


def campaign_out(c: CampaignItem) -> CampaignOut:
    sched = c.schedule
    status = _status(c)
    return CampaignOut(
        campaign_id=c.campaign_id,
        name=c.name,
        segment_id=c.segment_id,
        recipe=c.recipe,
        schedule=None if not sched else {"at": sched["text"]} if sched["kind"] == "at" else sched["text"],
        trigger=c.trigger,
        min_refund_fen=int(c.min_refund_fen) if c.min_refund_fen is not None else None,
        actions=c.actions,
        member_cap_days=int(c.member_cap_days or 0),
        budget_coupons=int(c.budget_coupons) if c.budget_coupons is not None else None,
        coupons_issued=int(c.coupons_issued or 0),
        start_at=c.start_at,
        end_at=c.end_at,
        status=status,
        next_run_at=c.next_fire if status == "ACTIVE" else None,
        created_at=c.created_at,
    )


def _campaign(campaign_id: str) -> CampaignItem:
    c = repository.get_campaign(campaign_id) if is_ulid(campaign_id) else None
    if c is None:
        raise NotFound("No such campaign", code=CampaignCode.CAMPAIGN_NOT_FOUND)
    return c


def get_campaign(campaign_id: str) -> CampaignOut:
    return campaign_out(_campaign(campaign_id))


def list_campaigns(limit: int, cursor: str | None) -> PageOut[CampaignOut]:
    pg = repository.campaigns_page(limit, cursor)
    return PageOut[CampaignOut](items=[campaign_out(i) for i in pg.items], next=pg.next)


def _schedule_of(c: CampaignItem) -> domain.Schedule:
    return domain.Schedule(c.schedule["kind"], c.schedule["text"])


def _next_fire(c: CampaignItem, after: datetime) -> str | None:
    fire = _schedule_of(c).next_after(after, clock.parse(c.anchor))
    if fire is None or (c.end_at and fire > clock.parse(c.end_at)):
        return None
    return clock.iso(fire)


def set_paused(campaign_id: str, paused: bool) -> CampaignOut:
    """Pause (no run starts while paused) or resume (the next fire time from now on)."""
    c = _campaign(campaign_id)
    if _status(c) != ("ACTIVE" if paused else "PAUSED"):
        status = _status(c)
        raise Conflict(f"The campaign is {status}", code=CampaignCode.CAMPAIGN_STATE, details={"status": status})
    nxt = None if paused or c.trigger else _next_fire(c, clock.now())
    status = "PAUSED" if paused else ("ACTIVE" if nxt or c.trigger else "ENDED")
    try:
        with transaction() as tx:
            repository.add_schedule(tx, c, status, nxt or c.next_fire)
    except TxCancelled:
        raise TryAgain("The campaign changed meanwhile")
    return get_campaign(campaign_id)


def run_out(run: RunItem, shards: list) -> RunOut:
    total = {k: sum(int(getattr(s, k) or 0) for s in shards) for k in ("targeted", *domain.COUNTERS)}
    return RunOut(
        run_id=run.run_id,
        at=run.at,
        status=run.status,
        targeted=int(run.targeted or 0) + total["targeted"],  # a triggered run counts its targets in the shards
        sent=total["sent"],
        skipped=Skipped(**{k: total[k] for k in domain.SKIP_REASONS}),
        churned=total["churned"],
        coupons_issued=total["coupons_issued"],
        redeemed=total["redeemed"],
        revenue_fen=total["revenue_fen"],
    )


def runs(campaign_id: str, limit: int) -> PageOut[RunOut]:
    _campaign(campaign_id)
    found, counts = repository.runs_with_counts(campaign_id, limit)
    return PageOut[RunOut](items=[run_out(r, counts.get(r.run_id, [])) for r in found])


# =========================================================================================== dispatching
def dispatch(now: datetime | None = None, first_hours_back: int = 48) -> dict[str, int]:
    """Start every due run (the due-hour buckets since the last dispatch, however long ago: after an outage a
    campaign runs late once and is scheduled on, never left behind), then fan out again the runs whose fan-out did
    not finish."""
    now = now or clock.now()
    last = get_mark("campaigns")
    fired = 0
    for hour in clock.hours_since(last, now, first_hours_back):
        for c in repository.due(domain.hour_bucket(hour), clock.iso(now)):
            fired += fire(c, now)
    done = domain.hour_bucket(now - timedelta(hours=1))
    if last is None or done > last:
        set_mark("campaigns", done)
    resumed = 0
    for run in repository.running():
        if run.created_at and run.created_at <= now - RESUME_AFTER:
            c = repository.get_campaign(run.campaign_id)
            if c is not None:
                fan_out(c, run)
                resumed += 1
    return {"fired": fired, "resumed": resumed}


def fire(c: CampaignItem, now: datetime) -> int:
    """Start the run due at the campaign's next fire time and move the schedule on: one transaction."""
    fire_at = clock.parse(c.next_fire)
    if fire_at > now or c.status != "ACTIVE":
        return 0
    nxt = _next_fire(c, max(fire_at, now))  # late (after an outage): the missed fire times are not run one by one
    try:
        with transaction() as tx:
            run = repository.add_run(tx, c, domain.run_id(fire_at), c.next_fire)
            repository.add_schedule(tx, c, "ACTIVE" if nxt else "ENDED", nxt)
    except TxCancelled:
        return 0  # fired by another dispatch meanwhile
    fan_out(c, run)
    return 1


def audience(c: CampaignItem, at: datetime) -> list[domain.Stats]:
    if c.recipe:
        rules = domain.recipe_rules(c.recipe)
    else:
        seg = repository.get_segment(c.segment_id)
        rules = seg.rules if seg is not None else {"level_ids": []}
    return evaluate(rules, _today(at))


def fan_out(c: CampaignItem, run: RunItem) -> int:
    """The run's audience to the campaigns queue in batches; then the run is marked fanned out."""
    members_ = audience(c, clock.parse(run.at))
    bodies = [
        {
            "campaign_id": c.campaign_id,
            "run_id": run.run_id,
            "at": run.at,
            "members": [
                {"id": s.member_id, "wakeups": s.wakeups, "last": s.last_contacted_at}
                for s in members_[i : i + BATCH_SIZE]
            ],
        }
        for i in range(0, len(members_), BATCH_SIZE)
    ]
    queues.send_many(get_settings().campaign_queue_name, bodies)
    repository.fanned(run, len(members_), len(bodies))
    logger.info("campaign run fanned out", extra={"campaign_id": c.campaign_id, "run_id": run.run_id})
    return len(members_)


# =========================================================================================== triggered
def _refund_of(event: dict[str, Any]) -> tuple[str, str, int] | None:
    """(trigger, once-key, refunded amount) of a refund event: an order's RefundCompleted (its refund id and
    amount) or a WalletRechargeRefunded (the recharge, refunded once; its principal paid back)."""
    data = event["data"]
    if event["type"] == "RefundCompleted":
        refund = data.get("refund") or {}
        if not refund.get("refund_id"):
            return None
        return domain.REFUND_COMPLETED, f"R{refund['refund_id']}", int(refund.get("amount_fen") or 0)
    return domain.RECHARGE_REFUNDED, f"W{data['recharge_id']}", int(data.get("principal_fen") or 0)


def on_refund_trigger(event: dict[str, Any]) -> dict[str, str]:
    """A refund sets off the active campaigns of its trigger for the refund's member: each (campaign, refund)
    takes effect once (the marker ``CMARK#<campaign>#R<refund_id>`` or ``W<recharge_id>``), in the run of the
    refund's business day; caps, budget, opt-out and quiet hours as in a scheduled run."""
    member_id = event["data"].get("member_id")
    found = _refund_of(event)
    if not member_id or found is None:
        return {}
    trigger, key, amount = found
    at = clock.parse(event["occurred_at"])
    out = {}
    for c in repository.triggered(trigger):
        if domain.trigger_applies(c.status, c.start_at, c.end_at, c.min_refund_fen, at, amount):
            out[c.campaign_id] = _trigger_one(c, member_id, key, at)
    return out


def _trigger_one(c: CampaignItem, member_id: str, key: str, at: datetime) -> str:
    item = repository.get_stats(member_id)
    if c.segment_id:
        seg = repository.get_segment(c.segment_id)
        stats = repository.stats_of(item) if item is not None else domain.Stats(member_id=member_id)
        if seg is None or not domain.matches(stats, seg.rules, _today(at)):
            return "not_in_segment"
    if item is None:  # the member's contact (the cap) is kept on their stats
        try:
            with transaction() as tx:
                repository.add_stats(tx, domain.Stats(member_id=member_id), None, None, business_day())
        except TxCancelled:
            pass  # made meanwhile
    day = _today(at)
    run = domain.day_run_id(day)
    start = datetime.combine(day, datetime.min.time(), tzinfo=clock.business_tz())
    repository.open_run(c.campaign_id, run, clock.iso(start))
    msg = {"campaign_id": c.campaign_id, "run_id": run, "at": clock.iso(start), "members": [{"id": member_id}]}
    return apply_member(_Batch(c, msg, clock.now(), scope=key), {"id": member_id})


# =========================================================================================== one batch
class _Batch:
    """What a batch needs once: the campaign, its coupon template, phones, opt-outs, quiet hours."""

    def __init__(self, c: CampaignItem, msg: dict[str, Any], now: datetime, scope: str | None = None):
        self.c, self.msg, self.now = c, msg, now
        self.run_id, self.at = msg["run_id"], clock.parse(msg["at"])
        self.scope = scope or domain.marker_scope(c.recipe, self.run_id, self.at)
        self.extra = {"targeted": 1} if scope else {}  # a triggered run counts each target with its effect
        self.kinds = {a["type"]: a for a in c.actions}
        self.tpl, self.tpl_ok = None, True
        if "coupon" in self.kinds:
            try:
                self.tpl = coupons.push_template(self.kinds["coupon"]["template_id"])
            except AppError:
                self.tpl_ok = False
        ids = [m["id"] for m in msg["members"]]
        got = identity.member_phones(ids) if "sms" in self.kinds else {}
        self.phones = {m: phones.normalize(p) for m, p in got.items() if phones.normalize(p)}
        found = [p for p in self.phones.values() if p]
        self.opted = sms_repo.opted_out_many(found) if found else set()
        s = get_settings()
        local = now.astimezone(clock.business_tz())
        self.quiet = sms_domain.in_quiet_hours(local, s.sms_quiet_start, s.sms_quiet_end)

    def sms_state(self, member_id: str) -> str:
        phone = self.phones.get(member_id)
        if not phone:
            return "no_phone"
        if phone in self.opted:
            return "opted_out"
        return "quiet_hours" if self.quiet else "ok"


def run_batch(body: str, now: datetime | None = None) -> dict[str, int]:
    """One queue message: the run's effect for each of its members, each exactly once, GROUP members to a
    transaction."""
    msg = json.loads(body)
    c = repository.get_campaign(msg["campaign_id"])
    if c is None:
        return {}
    b = _Batch(c, msg, now or clock.now())
    out: dict[str, int] = {}
    members_ = msg["members"]
    for i in range(0, len(members_), GROUP):
        for outcome in apply_group(b, members_[i : i + GROUP]):
            out[outcome] = out.get(outcome, 0) + 1
    return out


def _group_plan(b: _Batch, m: dict[str, Any]) -> domain.Plan | None:
    """What the group transaction writes for one member, or None when the member needs the one-by-one path
    (a wake-up churn). A member the message shows contacted within the cap is skipped as ``cap`` (the last
    contact only moves forward, so that cannot be wrong; one contacted since the fan-out fails the group)."""
    p = domain.plan(m, b.c.actions, b.c.recipe, b.sms_state(m["id"]))
    if p.outcome == "churn":
        return None
    if p.outcome == "skip":
        return domain.Plan("skip", reason=p.reason or "no_phone")
    coupon = p.coupon and b.tpl_ok
    if not coupon and not p.sms:
        return domain.Plan("skip", reason="coupon_unavailable")
    if domain.capped(m.get("last"), b.now, int(b.c.member_cap_days or 0)):
        return domain.Plan("skip", reason="cap")
    return domain.Plan("send", coupon=coupon, sms=p.sms, reason=p.reason)


def apply_group(b: _Batch, group: list[dict[str, Any]]) -> list[str]:
    """The members' effects in ONE transaction (markers, coupons, contacts, SMS requests, counters). If any
    member's condition cancels it (marker there: a redelivery or resumed run; capped meanwhile; budget, stock or
    quota), nothing was written and each member goes the one-by-one way, which finds out which."""
    plans = {m["id"]: _group_plan(b, m) for m in group}
    if len(plans) != len(group) or len(group) == 1 or any(p is None for p in plans.values()):
        return [apply_member(b, m) for m in group]
    try:
        _write(b, plans)
    except TxCancelled:
        return [apply_member(b, m) for m in group]
    return ["sent" if p.outcome == "send" else p.reason for p in plans.values()]


def _churn(b: _Batch, member_id: str) -> str:
    try:
        with transaction() as tx:
            repository.add_marker(tx, b.c.campaign_id, b.scope, member_id, "churned", None)
            repository.add_tag_change(tx, member_id, domain.HIGH_CHURN_RISK, "rule", True)
            repository.add_counts(tx, b.c.campaign_id, b.run_id, domain.shard(member_id), {"churned": 1})
    except TxCancelled as e:
        if "marker" in e.failed:
            return "duplicate"
        raise
    return "churned"


def _skip(b: _Batch, member_id: str, reason: str) -> str:
    try:
        _write(b, {member_id: domain.Plan("skip", reason=reason)})
    except TxCancelled as e:
        if "marker" in e.failed:
            return "duplicate"
        raise
    return reason


def apply_member(b: _Batch, m: dict[str, Any]) -> str:
    """One member's effect in its own transaction; a failed condition says why it is skipped."""
    mid = m["id"]
    p = domain.plan(m, b.c.actions, b.c.recipe, b.sms_state(mid))
    if p.outcome == "churn":
        return _churn(b, mid)
    if p.outcome == "skip":
        return _skip(b, mid, p.reason or "no_phone")
    if p.coupon and not b.tpl_ok and not p.sms:
        return _skip(b, mid, "coupon_unavailable")
    try:
        _write(b, {mid: domain.Plan("send", coupon=p.coupon and b.tpl_ok, sms=p.sms, reason=p.reason)})
    except TxCancelled as e:
        if "marker" in e.failed:
            return "duplicate"
        if "cap" in e.failed:
            return _skip(b, mid, "cap")
        if "budget" in e.failed:
            return _skip(b, mid, "budget")
        if any(isinstance(t, tuple) and t[0] in ("tpl", "quota") for t in e.failed):
            return _skip(b, mid, "coupon_unavailable")
        raise
    return "sent"


def _counts(b: _Batch, plans: dict[str, domain.Plan]) -> dict[int, dict[str, int]]:
    """The run's counters the plans add, per shard."""
    out: dict[int, dict[str, int]] = {}
    for mid, p in plans.items():
        add = {"sent": 1, "coupons_issued": int(p.coupon)} if p.outcome == "send" else {}
        if p.reason:
            add[p.reason] = 1
        shard = out.setdefault(domain.shard(mid), {})
        for k, v in {**add, **b.extra}.items():
            shard[k] = shard.get(k, 0) + v
    return out


def _write(b: _Batch, plans: dict[str, domain.Plan]) -> None:
    """The members' planned effects in one transaction: per member the marker (once per campaign, run and
    member), the coupon and its attribution, the last contact (the cap condition), the SMS request; once the
    budget and the template's stock (by their number) and each counter shard."""
    c, now = b.c, b.now
    sends = [mid for mid, p in plans.items() if p.outcome == "send"]
    with_coupon = [mid for mid in sends if plans[mid].coupon]
    with transaction() as tx:
        coupon_ids: dict[str, str] = {}
        if with_coupon:
            if c.budget_coupons is not None:
                repository.add_budget(tx, c, len(with_coupon))
            coupon_ids = coupons.add_campaign_coupons(tx, b.tpl, with_coupon, f"{c.campaign_id}:{b.run_id}")
        for mid, p in plans.items():
            if p.outcome != "send":
                repository.add_marker(tx, c.campaign_id, b.scope, mid, p.reason, None)
                continue
            if mid in coupon_ids:
                repository.add_attribution(tx, coupon_ids[mid], c.campaign_id, b.run_id, mid, clock.iso(now))
            repository.add_marker(tx, c.campaign_id, b.scope, mid, "sent", coupon_ids.get(mid))
            repository.add_contact(tx, mid, now, int(c.member_cap_days or 0), c.recipe == domain.DORMANT_WAKEUP)
        for shard, counts in _counts(b, plans).items():
            repository.add_counts(tx, c.campaign_id, b.run_id, shard, counts)
        requests = [_sms_request(b, mid) for mid in sends if plans[mid].sms]
        if requests:
            events.add(tx, requests)


def _sms_request(b: _Batch, mid: str) -> Event:
    action = b.kinds["sms"]
    data = {
        "key": f"campaign:{b.c.campaign_id}:{b.scope}:{mid}",
        "member_id": mid,
        "phone": b.phones[mid],
        "template": action["template"],
        "params": action.get("params") or {},
    }
    return Event("CampaignSmsRequested", data)
