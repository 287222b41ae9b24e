"""The only code that reads or writes distribution items: settings, profiles (binding, status, balances), the
commission ledger, share scenes, commission records and withdrawals.

For orders (inside *its* transactions): ``profile_key`` / ``profile_in`` for the checkout's BatchGetItem (the
buyer's uplines), and the services' ``add_commissions`` adds the records, the balance updates and their ledger
entries to the payment's ``Tx``. Transaction tags: ("dist", member_id) a balance, ("commission", order_id,
level), ("withdrawal", id), ("bind", member_id)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chalicelib.core import clock
from chalicelib.core.dynamo import Page, Tx, TxCancelled, batch_get, page, transaction
from chalicelib.core.ids import new_id
from chalicelib.core.ledger import Book, audit_accounts, business_day, day_bucket
from chalicelib.distribution import domain
from chalicelib.distribution.models import (
    AUDIT_DAY_PREFIX,
    DISTRIBUTORS_PREFIX,
    DUE_PREFIX,
    ENTRY_PREFIX,
    INVITE_DUE_PREFIX,
    META,
    PROFILE_SK,
    PROMOTERS_PK,
    SETTINGS_PK,
    CommissionItem,
    DistEntryItem,
    DistSettingsItem,
    FunnelItem,
    InviteCapItem,
    InviteItem,
    OrderMarkItem,
    ProfileItem,
    PromoterItem,
    SceneItem,
    ShareItem,
    WithdrawalItem,
    commission_day,
    commissions_of,
    entry_sk,
    flyers_of,
    funnel_pk,
    funnel_sk,
    invite_cap_pk,
    invite_pk,
    member_pk,
    order_mark_pk,
    promoter_pk,
    record_pk,
    record_sk,
    scene_pk,
    share_sk,
    team_of,
    withdrawal_pk,
    withdrawals_by_status,
    withdrawals_of,
)

BALANCES = ("frozen", "available", "pending", "withdrawn")

REFUNDED = "REFUNDED"


# --------------------------------------------------------------------------------------- settings
def settings_key() -> tuple[str, str]:
    return SETTINGS_PK, META


def rules_in(got: Mapping[tuple[str, str], Any]) -> dict[str, Any]:
    item = got.get(settings_key())
    return domain.rules_with_defaults(item.rules if isinstance(item, DistSettingsItem) else None)


def get_rules() -> dict[str, Any]:
    item = DistSettingsItem.get_or_none(*settings_key(), consistent_read=True)
    return domain.rules_with_defaults(item.rules if item else None)


def put_rules(rules: dict[str, Any], actor: str) -> None:
    now = clock.now()
    DistSettingsItem(SETTINGS_PK, META, rules=rules, updated_by=actor, created_at=now, updated_at=now).save()


# --------------------------------------------------------------------------------------- profiles
def profile_key(member_id: str) -> tuple[str, str]:
    """Key of the member's distribution profile, to add to a BatchGetItem another domain gathers."""
    return member_pk(member_id), PROFILE_SK


def profile_in(got: Mapping[tuple[str, str], Any], member_id: str) -> ProfileItem | None:
    item = got.get(profile_key(member_id))
    return item if isinstance(item, ProfileItem) else None


def get_profile(member_id: str, consistent: bool = True) -> ProfileItem | None:
    return ProfileItem.get_or_none(*profile_key(member_id), consistent_read=consistent)


def profiles(member_ids: list[str]) -> dict[str, ProfileItem]:
    got = batch_get([profile_key(m) for m in member_ids], consistent=True)
    return {m: p for m in member_ids if (p := profile_in(got, m)) is not None}


def _touch(member_id: str) -> list:
    return [
        ProfileItem.kind.set(ProfileItem),
        ProfileItem.member_id.set(member_id),
        ProfileItem.updated_at.set(clock.now()),
    ]


def add_binding(tx: Tx, member_id: str, referrer_id: str, upline2_id: str | None, fields: dict[str, Any]) -> None:
    """Bind ``member_id`` to ``referrer_id`` (only if never bound: one referrer ever) and count it in both uplines'
    teams. ``fields``: bound_at, bound_until, scene."""
    bound_at = fields["bound_at"]
    actions = _touch(member_id) + [
        ProfileItem.referrer_id.set(referrer_id),
        ProfileItem.gsi1pk.set(team_of(1, referrer_id)),
        ProfileItem.gsi1sk.set(f"{bound_at}#{member_id}"),
    ]
    actions += [getattr(ProfileItem, k).set(v) for k, v in fields.items() if v is not None]
    if upline2_id:
        actions += [
            ProfileItem.upline2_id.set(upline2_id),
            ProfileItem.gsi2pk.set(team_of(2, upline2_id)),
            ProfileItem.gsi2sk.set(f"{bound_at}#{member_id}"),
        ]
    tx.update(
        ProfileItem(*profile_key(member_id)),
        actions,
        condition=ProfileItem.referrer_id.does_not_exist(),
        tag=("bind", member_id),
    )
    tx.update(ProfileItem(*profile_key(referrer_id)), _touch(referrer_id) + [ProfileItem.team1.add(1)])
    if upline2_id:
        tx.update(ProfileItem(*profile_key(upline2_id)), _touch(upline2_id) + [ProfileItem.team2.add(1)])


def set_status(member_id: str, status: str) -> None:
    """The member's distributor status (applied / active), listed for head office under DISTS#<status>."""
    ProfileItem(*profile_key(member_id)).update(
        actions=_touch(member_id)
        + [
            ProfileItem.status.set(status),
            ProfileItem.gsi3pk.set(f"{DISTRIBUTORS_PREFIX}#{status}"),
            ProfileItem.gsi3sk.set(member_id),
        ]
    )


def set_share_code(member_id: str, scene: str) -> None:
    ProfileItem(*profile_key(member_id)).update(actions=_touch(member_id) + [ProfileItem.share_code.set(scene)])


def add_spend(member_id: str, fen: int) -> None:
    ProfileItem(*profile_key(member_id)).update(actions=_touch(member_id) + [ProfileItem.spend_fen.add(fen)])


def distributors_page(status: str, limit: int, cursor: str | None) -> Page:
    return page(ProfileItem.gsi3.query, hash_key=f"{DISTRIBUTORS_PREFIX}#{status}", limit=limit, cursor=cursor)


def team_page(member_id: str, level: int, limit: int, cursor: str | None) -> Page:
    index = ProfileItem.gsi1 if level == 1 else ProfileItem.gsi2
    return page(index.query, hash_key=team_of(level, member_id), scan_index_forward=False, limit=limit, cursor=cursor)


def balances(item: ProfileItem | None) -> dict[str, int]:
    return {b: int(getattr(item, f"{b}_fen", None) or 0) if item else 0 for b in BALANCES}


# --------------------------------------------------------------------------------------- balances + ledger
def balance_tag(member_id: str) -> tuple[str, str]:
    """Tag of a member's commission balance update: ``TxCancelled.failed`` names it when a withdrawal was short."""
    return ("dist", member_id)


def add_change(
    tx: Tx, member_id: str, deltas: dict[str, int], kind: str, ref: tuple[str, str], guard_available: int = 0
) -> str:
    """Add to ``tx`` the balance update (ADD per balance; ``guard_available``: conditioned on
    ``available_fen >= guard_available``) and the ledger entry explaining it. Returns the entry id."""
    if not any(deltas.values()):
        raise ValueError("a commission change moves at least one fen")
    now = clock.now()
    actions = _touch(member_id) + [getattr(ProfileItem, f"{b}_fen").add(d) for b, d in deltas.items() if d]
    cond = (ProfileItem.available_fen >= guard_available) if guard_available > 0 else None
    tx.update(ProfileItem(*profile_key(member_id)), actions, condition=cond, tag=balance_tag(member_id))
    entry_id = new_id()
    entry = DistEntryItem(
        member_pk(member_id),
        entry_sk(entry_id),
        entry_id=entry_id,
        member_id=member_id,
        entry_kind=kind,
        ref_type=ref[0],
        ref_id=ref[1],
        created_at=now,
        gsi3pk=day_bucket(AUDIT_DAY_PREFIX, business_day(now)),
        gsi3sk=f"{member_id}#{entry_id}",
        **{f"{b}_delta": int(deltas.get(b, 0)) for b in BALANCES},
    )
    tx.save(entry, condition=DistEntryItem.pk.does_not_exist(), tag=("dist_entry", member_id))
    return entry_id


def entries(member_id: str) -> list[DistEntryItem]:
    return list(
        DistEntryItem.query(member_pk(member_id), DistEntryItem.sk.startswith(ENTRY_PREFIX), consistent_read=True)
    )


def changed_on(day: str) -> set[str]:
    return {e.member_id for e in DistEntryItem.gsi3.query(day_bucket(AUDIT_DAY_PREFIX, day))}


def audit_changed(day: str) -> list[Book]:
    """Balance against ledger (frozen, available, pending, withdrawn apart) of every commission account changed
    on ``day``: that day's bucket, then per member the profile and its entries (consistent)."""

    def ledgers(member_id: str) -> dict:
        es = entries(member_id)
        return {b: sum(int(getattr(e, f"{b}_delta") or 0) for e in es) for b in BALANCES}

    return audit_accounts(
        changed_on(day), lambda m: balances(get_profile(m)), ledgers, lambda m, b: (f"commission_{b}", m)
    )


# --------------------------------------------------------------------------------------- scenes
def get_share(member_id: str, kind: str, sku: str | None) -> ShareItem | None:
    return ShareItem.get_or_none(member_pk(member_id), share_sk(kind, sku), consistent_read=True)


def put_scene(scene: str, kind: str, referrer_id: str, sku: str | None) -> bool:
    """The scene and the member's share item; False when the scene was taken (draw another)."""
    now = clock.now()
    try:
        with transaction() as tx:
            tx.save(
                SceneItem(
                    scene_pk(scene),
                    META,
                    scene=scene,
                    scene_kind=kind,
                    referrer_id=referrer_id,
                    sku=sku,
                    scans=0,
                    created_at=now,
                ),
                condition=SceneItem.pk.does_not_exist(),
                tag="scene",
            )
            tx.save(ShareItem(member_pk(referrer_id), share_sk(kind, sku), scene=scene, created_at=now))
    except TxCancelled as e:
        if "scene" in e.failed:
            return False
        raise
    return True


def get_scene(scene: str) -> SceneItem | None:
    return SceneItem.get_or_none(scene_pk(scene), META, consistent_read=False)


def count_scan(scene: str) -> None:
    SceneItem(scene_pk(scene), META).update(actions=[SceneItem.scans.add(1)], condition=SceneItem.pk.exists())


# --------------------------------------------------------------------------------------- commission records
def add_record(tx: Tx, order: dict[str, Any], rec: domain.PlannedRecord) -> None:
    """One record (beneficiary, level) of a paid order, FROZEN, put once (a duplicate cancels the whole payment),
    and its amount into the beneficiary's frozen balance with the ledger entry."""
    order_id, paid_at = order["order_id"], order["paid_at"]
    tag = f"{order_id}#L{rec.level}"
    tx.save(
        CommissionItem(
            record_pk(order_id),
            record_sk(rec.level),
            order_id=order_id,
            level=rec.level,
            beneficiary=rec.beneficiary,
            buyer_id=order.get("member_id"),
            store_id=order.get("store_id"),
            lines=rec.lines,
            amount_fen=rec.amount_fen,
            reversed_fen=0,
            status=domain.FROZEN,
            paid_at=paid_at,
            rev=0,
            created_at=clock.now(),
            gsi1pk=commissions_of(rec.beneficiary),
            gsi1sk=tag,
            gsi2pk=commission_day(business_day(clock.parse(paid_at))),
            gsi2sk=f"{rec.beneficiary}#{tag}",
        ),
        condition=CommissionItem.pk.does_not_exist(),
        tag=("commission", order_id, rec.level),
    )
    add_change(tx, rec.beneficiary, {"frozen": rec.amount_fen}, "commission", ("order", order_id))


def records_of_order(order_id: str) -> list[CommissionItem]:
    return list(CommissionItem.query(record_pk(order_id), consistent_read=True))


def get_record(order_id: str, level: int) -> CommissionItem | None:
    return CommissionItem.get_or_none(record_pk(order_id), record_sk(level), consistent_read=True)


def _rev_change(tx: Tx, rec: CommissionItem, actions: list, status: str | None = None) -> None:
    cond = CommissionItem.rev == int(rec.rev or 0)
    if status is not None:
        cond = cond & (CommissionItem.status == status)
    tx.update(
        rec,
        actions + [CommissionItem.rev.set(int(rec.rev or 0) + 1), CommissionItem.updated_at.set(clock.now())],
        condition=cond,
        tag=("commission", rec.order_id, int(rec.level)),
    )


def set_due(tx: Tx, rec: CommissionItem, due_iso: str) -> None:
    """A FROZEN record enters the settlement job's bucket of the (UTC) day it becomes due."""
    _rev_change(
        tx,
        rec,
        [
            CommissionItem.due_at.set(due_iso),
            CommissionItem.gsi3pk.set(f"{DUE_PREFIX}#{due_iso[:10]}"),
            CommissionItem.gsi3sk.set(f"{due_iso}#{rec.order_id}#L{int(rec.level)}"),
        ],
        domain.FROZEN,
    )


def add_settlement(tx: Tx, rec: CommissionItem) -> int:
    """FROZEN -> AVAILABLE (leaves the due bucket); what it still holds moves from frozen to available."""
    net = int(rec.amount_fen) - int(rec.reversed_fen or 0)
    _rev_change(
        tx,
        rec,
        [
            CommissionItem.status.set(domain.AVAILABLE),
            CommissionItem.settled_at.set(clock.iso(clock.now())),
            CommissionItem.gsi3pk.remove(),
            CommissionItem.gsi3sk.remove(),
        ],
        domain.FROZEN,
    )
    if net:
        add_change(tx, rec.beneficiary, {"frozen": -net, "available": net}, "settle", ("order", rec.order_id))
    return net


def add_reversal(tx: Tx, rec: CommissionItem, lines: list[dict[str, Any]], delta: int, refund_id: str) -> None:
    """Take ``delta`` back: from frozen before settlement, from available after it (may go below 0)."""
    _rev_change(tx, rec, [CommissionItem.lines.set(lines), CommissionItem.reversed_fen.add(delta)])
    book = "frozen" if rec.status == domain.FROZEN else "available"
    add_change(tx, rec.beneficiary, {book: -delta}, "reverse", ("refund", refund_id))


def due_records(day: str, upto_iso: str) -> list[CommissionItem]:
    """FROZEN records of one due-day bucket whose due time has come (gsi3: only what is due is read)."""
    return list(CommissionItem.gsi3.query(f"{DUE_PREFIX}#{day}", CommissionItem.gsi3sk <= f"{upto_iso}#~"))


def commissions_page(member_id: str, limit: int, cursor: str | None) -> Page:
    return page(
        CommissionItem.gsi1.query,
        hash_key=commissions_of(member_id),
        scan_index_forward=False,
        limit=limit,
        cursor=cursor,
    )


def records_of_day(day: str) -> list[CommissionItem]:
    return list(CommissionItem.gsi2.query(commission_day(day)))


# --------------------------------------------------------------------------------------- withdrawals
def new_withdrawal(withdrawal_id: str, member_id: str, fields: dict[str, Any]) -> WithdrawalItem:
    now = clock.now()
    return WithdrawalItem(
        withdrawal_pk(withdrawal_id),
        META,
        withdrawal_id=withdrawal_id,
        member_id=member_id,
        gsi1pk=withdrawals_of(member_id),
        gsi1sk=withdrawal_id,
        gsi2pk=withdrawals_by_status(fields["status"]),
        gsi2sk=withdrawal_id,
        created_at=now,
        updated_at=now,
        **fields,
    )


def add_withdrawal(tx: Tx, item: WithdrawalItem) -> None:
    tx.save(item, condition=WithdrawalItem.pk.does_not_exist(), tag=("withdrawal", item.withdrawal_id))


def get_withdrawal(withdrawal_id: str) -> WithdrawalItem | None:
    return WithdrawalItem.get_or_none(withdrawal_pk(withdrawal_id), META, consistent_read=True)


def change_withdrawal(tx: Tx, item: WithdrawalItem, expected: str, fields: dict[str, Any]) -> None:
    """Set ``fields`` (with ``status``) on a withdrawal, conditioned on its status still being ``expected``."""
    actions = [getattr(WithdrawalItem, k).set(v) for k, v in fields.items()]
    actions += [
        WithdrawalItem.gsi2pk.set(withdrawals_by_status(fields["status"])),
        WithdrawalItem.updated_at.set(clock.now()),
    ]
    tx.update(item, actions, condition=WithdrawalItem.status == expected, tag=("withdrawal", item.withdrawal_id))


def withdrawals_page(status: str, limit: int, cursor: str | None) -> Page:
    return page(
        WithdrawalItem.gsi2.query,
        hash_key=withdrawals_by_status(status),
        scan_index_forward=False,
        limit=limit,
        cursor=cursor,
    )


def paying_withdrawals() -> list[WithdrawalItem]:
    """Every withdrawal whose transfer to WeChat change is not decided yet (the status index's PAYING key)."""
    return list(WithdrawalItem.gsi2.query(withdrawals_by_status(domain.PAYING)))


def member_withdrawals_page(member_id: str, limit: int, cursor: str | None) -> Page:
    return page(
        WithdrawalItem.gsi1.query,
        hash_key=withdrawals_of(member_id),
        scan_index_forward=False,
        limit=limit,
        cursor=cursor,
    )


# --------------------------------------------------------------------------------------- first orders, invites
def add_order_mark(tx: Tx, order_id: str) -> None:
    """The order's completion is counted once (first order, invite, funnel): fails ("order_mark",) after."""
    tx.save(
        OrderMarkItem(order_mark_pk(order_id), META, order_id=order_id, created_at=clock.now()),
        condition=OrderMarkItem.pk.does_not_exist(),
        tag=("order_mark", order_id),
    )


def mark_refunded(order_id: str) -> None:
    """A refund of the order was seen before an inviter gift waited on it (idempotent put)."""
    OrderMarkItem(order_mark_pk(order_id), REFUNDED, order_id=order_id, created_at=clock.now()).save()


def check_not_refunded(tx: Tx, order_id: str) -> None:
    """Fails ("refunded", order_id) when :func:`mark_refunded` was put for the order."""
    tx.condition_check(
        OrderMarkItem, order_mark_pk(order_id), REFUNDED, OrderMarkItem.pk.does_not_exist(), ("refunded", order_id)
    )


def set_first_order(tx: Tx, member_id: str, order_id: str) -> None:
    tx.update(
        ProfileItem(*profile_key(member_id)),
        _touch(member_id) + [ProfileItem.first_order_id.set(order_id)],
        condition=ProfileItem.first_order_id.does_not_exist(),
        tag=("first_order", member_id),
    )


def add_invite(tx: Tx, invitee_id: str, inviter_id: str, order_id: str, due_iso: str) -> None:
    """The inviter's gift for the invitee's first order, PENDING in the due-day bucket of ``due_iso`` (UTC)."""
    tx.save(
        InviteItem(
            invite_pk(invitee_id),
            META,
            invitee_id=invitee_id,
            inviter_id=inviter_id,
            order_id=order_id,
            status=domain.INVITE_PENDING,
            due_at=due_iso,
            created_at=clock.now(),
            gsi3pk=f"{INVITE_DUE_PREFIX}#{due_iso[:10]}",
            gsi3sk=f"{due_iso}#{invitee_id}",
        ),
        condition=InviteItem.pk.does_not_exist(),
        tag=("invite", invitee_id),
    )


def get_invite(invitee_id: str) -> InviteItem | None:
    return InviteItem.get_or_none(invite_pk(invitee_id), META, consistent_read=True)


def due_invites(day: str, upto_iso: str) -> list[InviteItem]:
    """PENDING inviter gifts of one due-day bucket whose due time has come (gsi3: only what is due is read)."""
    return list(InviteItem.gsi3.query(f"{INVITE_DUE_PREFIX}#{day}", InviteItem.gsi3sk <= f"{upto_iso}#~"))


def close_invite(tx: Tx, inv: InviteItem, status: str, fields: dict[str, Any]) -> None:
    """PENDING -> ``status`` (leaves the due bucket), conditioned on still being PENDING."""
    actions = [getattr(InviteItem, k).set(v) for k, v in fields.items() if v is not None]
    actions += [
        InviteItem.status.set(status),
        InviteItem.updated_at.set(clock.now()),
        InviteItem.gsi3pk.remove(),
        InviteItem.gsi3sk.remove(),
    ]
    tx.update(inv, actions, condition=InviteItem.status == domain.INVITE_PENDING, tag=("invite", inv.invitee_id))


def add_cap_count(tx: Tx, inviter_id: str, month: str, cap: int) -> None:
    """One more inviter gift this month, conditioned on fewer than ``cap`` so far (0: no cap)."""
    cond = (InviteCapItem.n.does_not_exist() | (InviteCapItem.n < cap)) if domain.capped(cap) else None
    tx.update(
        InviteCapItem(invite_cap_pk(inviter_id), month),
        [InviteCapItem.kind.set(InviteCapItem), InviteCapItem.n.add(1), InviteCapItem.updated_at.set(clock.now())],
        condition=cond,
        tag=("invite_cap", inviter_id),
    )


def cap_count(inviter_id: str, month: str) -> int:
    item = InviteCapItem.get_or_none(invite_cap_pk(inviter_id), month, consistent_read=True)
    return int(item.n or 0) if item else 0


# --------------------------------------------------------------------------------------- promoters, flyers, funnel
def put_promoter(promoter_id: str, fields: dict[str, Any]) -> PromoterItem:
    now = clock.now()
    item = PromoterItem(
        promoter_pk(promoter_id),
        META,
        promoter_id=promoter_id,
        flyers=0,
        created_at=now,
        updated_at=now,
        gsi1pk=PROMOTERS_PK,
        gsi1sk=promoter_id,
        **fields,
    )
    item.save(condition=PromoterItem.pk.does_not_exist())
    return item


def get_promoter(promoter_id: str) -> PromoterItem | None:
    return PromoterItem.get_or_none(promoter_pk(promoter_id), META, consistent_read=True)


def promoters_page(limit: int, cursor: str | None) -> Page:
    return page(PromoterItem.gsi1.query, hash_key=PROMOTERS_PK, scan_index_forward=False, limit=limit, cursor=cursor)


def all_promoters() -> list[PromoterItem]:
    return list(PromoterItem.gsi1.query(PROMOTERS_PK))


def put_flyers(promoter_id: str, scenes: list[str]) -> bool:
    """The flyer scenes (each put once) and the promoter's flyer count in one transaction; False when a scene
    was taken (draw again)."""
    now = clock.now()
    try:
        with transaction() as tx:
            for scene in scenes:
                tx.save(
                    SceneItem(
                        scene_pk(scene),
                        META,
                        scene=scene,
                        scene_kind=domain.FLYER,
                        promoter_id=promoter_id,
                        scans=0,
                        created_at=now,
                        gsi1pk=flyers_of(promoter_id),
                        gsi1sk=scene,
                    ),
                    condition=SceneItem.pk.does_not_exist(),
                    tag="scene",
                )
            tx.update(
                PromoterItem(promoter_pk(promoter_id), META),
                [PromoterItem.flyers.add(len(scenes)), PromoterItem.updated_at.set(now)],
                condition=PromoterItem.pk.exists(),
                tag="promoter",
            )
    except TxCancelled as e:
        if "scene" in e.failed:
            return False
        raise
    return True


def add_funnel(tx: Tx, day: str, promoter_id: str, scene: str, counts: dict[str, int]) -> None:
    """ADD ``counts`` to the day's counters of the promoter and of the flyer."""
    for sk, sc in ((funnel_sk(promoter_id, None), None), (funnel_sk(promoter_id, scene), scene)):
        actions = [FunnelItem.kind.set(FunnelItem), FunnelItem.promoter_id.set(promoter_id)]
        actions += [FunnelItem.scene.set(sc)] if sc else []
        actions += [getattr(FunnelItem, k).add(v) for k, v in counts.items() if v]
        tx.update(FunnelItem(funnel_pk(day), sk), actions)


def add_funnel_refund(tx: Tx, order_id: str, refund_id: str) -> None:
    """A refund after the order's completion is taken off the funnel once: fails ("funnel_refund",) after."""
    tx.save(
        OrderMarkItem(order_mark_pk(order_id), f"REFUND#{refund_id}", order_id=order_id, created_at=clock.now()),
        condition=OrderMarkItem.pk.does_not_exist(),
        tag=("funnel_refund", refund_id),
    )


def count_flyer_scan(scene: SceneItem, day: str) -> None:
    with transaction() as tx:
        tx.update(SceneItem(scene_pk(scene.scene), META), [SceneItem.scans.add(1)], condition=SceneItem.pk.exists())
        add_funnel(tx, day, scene.promoter_id, scene.scene, {"scanned": 1})


def add_flyer_member(tx: Tx, member_id: str, promoter_id: str, scene: str) -> None:
    """The member joined by the promoter's flyer (once: conditioned on no promoter yet)."""
    tx.update(
        ProfileItem(*profile_key(member_id)),
        _touch(member_id) + [ProfileItem.promoter_id.set(promoter_id), ProfileItem.flyer_scene.set(scene)],
        condition=ProfileItem.promoter_id.does_not_exist(),
        tag=("flyer_member", member_id),
    )


def funnel_of_day(day: str) -> list[FunnelItem]:
    return list(FunnelItem.query(funnel_pk(day)))
