"""Member use cases: levels (head office), growth (from events), enrolment at the till, head office views."""

from __future__ import annotations

import time
from dataclasses import asdict
from typing import Any

from chalicelib.core import clock, phones
from chalicelib.core.auth import MEMBER, Principal
from chalicelib.core.dynamo import TxCancelled, batch_get, page_list, register_cache, transaction
from chalicelib.core.errors import Conflict, NotFound, TryAgain, ValidationFailed
from chalicelib.core.events import Event
from chalicelib.core.ids import new_id
from chalicelib.core.logging import logger
from chalicelib.coupons import services as coupons
from chalicelib.identity import repository as identity
from chalicelib.identity import services as identity_services
from chalicelib.identity.errors import IdentityCode
from chalicelib.members import domain, repository
from chalicelib.members.errors import MemberCode
from chalicelib.members.schemas import (
    AdminMemberOut,
    AdminMembersQuery,
    BirthdayIn,
    EnrolIn,
    EnrolOut,
    LevelIn,
    LevelList,
    LevelOut,
    LevelPatch,
    LevelRef,
    MeOut,
    MeUpdate,
    NextLevel,
    WalletView,
)
from chalicelib.points import repository as points
from chalicelib.points import services as points_services
from chalicelib.points.schemas import CheckinOut
from chalicelib.pricing import domain as engine
from chalicelib.wallet import repository as wallet

# --------------------------------------------------------------------------------------- levels
LEVELS_CACHE_S = 30.0  # read by every priced cart with a member; a change shows within this
_levels: dict[str, tuple[float, list[domain.Level]]] = register_cache({})


def levels() -> list[domain.Level]:
    """Every level, by rank, from a 30-second per-process cache."""
    hit = _levels.get("levels")
    if hit is None or time.monotonic() - hit[0] > LEVELS_CACHE_S:
        hit = _levels["levels"] = (time.monotonic(), [repository.level_of(i) for i in repository.all_levels()])
    return hit[1]


def level_out(lv: domain.Level) -> LevelOut:
    return LevelOut(**{**asdict(lv), "perks": list(lv.perks)})


def list_levels(limit: int, cursor: str | None) -> LevelList:
    """By rank (one Query; paged in memory: a chain has a handful)."""
    found = [level_out(repository.level_of(i)) for i in repository.all_levels()]
    pg = page_list(found, lambda lv: lv.level_id, limit=limit, cursor=cursor)
    return LevelList(items=pg.items, next=pg.next)


def create_level(cmd: LevelIn) -> LevelOut:
    item = repository.new_level(new_id(), cmd.model_dump())
    if not repository.put_level(item):
        raise _rank_taken(cmd.rank)
    _levels.clear()
    return level_out(repository.level_of(item))


def update_level(level_id: str, cmd: LevelPatch) -> LevelOut:
    current = repository.get_level(level_id, consistent=True)
    if current is None:
        raise NotFound("No such member level", code=MemberCode.LEVEL_NOT_FOUND)
    old_rank = int(current.rank)
    for k, v in cmd.model_dump(exclude_unset=True).items():
        setattr(current, k, v)
    current.version, current.updated_at = int(current.version) + 1, clock.now()
    if not repository.put_level(current, old_rank=old_rank):
        raise _rank_taken(int(current.rank))
    _levels.clear()
    return level_out(repository.level_of(current))


def _rank_taken(rank: int) -> Conflict:
    return Conflict(
        "Another level has this rank (or the level changed meanwhile)",
        code=MemberCode.LEVEL_RANK_TAKEN,
        details={"rank": rank},
    )


def level_now(profile) -> domain.Level | None:
    """The member's level now: from their growth and paid orders (no profile: none yet) under the current
    thresholds."""
    growth = int(profile.growth_fen) if profile is not None else 0
    orders = int(profile.paid_orders) if profile is not None else 0
    return domain.level_for(levels(), growth, orders)


def level_discount(profile) -> tuple[domain.Level | None, engine.LevelDiscount | None]:
    """The member's level now and its discount for the engine."""
    lv = level_now(profile)
    if lv is None:
        return None, None
    return lv, engine.LevelDiscount(level_id=lv.level_id, name=lv.name, discount_bp=lv.discount_bp)


# --------------------------------------------------------------------------------------- growth
GROWTH_ATTEMPTS = 5


def apply_growth(member_id: str, change: dict[str, Any]) -> str:
    """One growth change from an event (``change``: event_id, kind, ref, delta_fen, orders_delta), once: the
    profile, its growth entry and, when the level changes, ``MemberLevelChanged``, in one transaction.
    Returns applied | duplicate."""
    for _ in range(GROWTH_ATTEMPTS):
        profile = repository.get_profile(member_id, consistent=True)
        growth = (int(profile.growth_fen) if profile else 0) + int(change["delta_fen"])
        orders = (int(profile.paid_orders) if profile else 0) + int(change["orders_delta"])
        lv = domain.level_for(levels(), growth, orders)
        before = profile.level_id if profile else None
        reported = []
        if (lv.level_id if lv else None) != before:
            reported.append(_level_changed(member_id, profile, lv, change))
        try:
            with transaction() as tx:
                repository.add_growth(tx, profile, member_id, change, lv, reported)
            return "applied"
        except TxCancelled as e:
            if "growth-entry" in e.failed:
                return "duplicate"
    raise TryAgain("the member's profile kept changing")


def _level_changed(member_id: str, profile, lv: domain.Level | None, change: dict[str, Any]) -> Event:
    old_rank = int(profile.rank) if profile is not None and profile.rank is not None else None
    return Event(
        "MemberLevelChanged",
        {
            "member_id": member_id,
            "level_id": lv.level_id if lv else None,
            "name": lv.name if lv else None,
            "rank": lv.rank if lv else None,
            "previous_level_id": profile.level_id if profile is not None else None,
            "up": lv is not None and (old_rank is None or lv.rank > old_rank),
            "phone": identity.member_phones([member_id]).get(member_id),  # customer SMS go to a bound phone only
            "cause": change["kind"],
        },
    )


def on_order_completed(event: dict[str, Any]) -> None:
    order = event["data"]
    if order.get("member_id"):
        change = {
            "event_id": event["id"],
            "kind": "order",
            "ref": order["order_id"],
            "orders_delta": 1,
            "at": order.get("completed_at"),
            "store_id": order.get("store_id"),
        }
        apply_growth(order["member_id"], {**change, "delta_fen": domain.order_growth(order)})


def on_refund_completed(event: dict[str, Any]) -> None:
    order = event["data"]
    if order.get("member_id") and order.get("completed_at"):  # growth is given at completion
        delta = domain.refund_growth(order, int(order["refund"]["amount_fen"]))
        change = {"event_id": event["id"], "kind": "refund", "ref": order["refund"]["refund_id"], "orders_delta": 0}
        apply_growth(order["member_id"], {**change, "delta_fen": delta})


def on_wallet_recharge_refunded(event: dict[str, Any]) -> None:
    """Principal paid back to the member is growth no longer earned."""
    data = event["data"]
    change = {"event_id": event["id"], "kind": "recharge_refund", "ref": data["recharge_id"], "orders_delta": 0}
    apply_growth(data["member_id"], {**change, "delta_fen": -int(data["principal_fen"])})


def on_wallet_recharged(event: dict[str, Any]) -> None:
    data = event["data"]
    change = {"event_id": event["id"], "kind": "recharge", "ref": data["recharge_id"], "orders_delta": 0}
    apply_growth(data["member_id"], {**change, "delta_fen": int(data["principal_fen"])})


# --------------------------------------------------------------------------------------- enrolment at the till
def enrol(principal: Principal, cmd: EnrolIn) -> EnrolOut:
    """开单即会员: the clerk types the customer's phone. A new phone makes a till member (no WeChat account yet;
    a later WeChat login or phone binding with that phone claims it); the phone of a till member finds them.
    Either way a member code for this sale comes back. A member who uses the mini-program shows their own code
    (409 MEMBER_HAS_APP): a phone alone never lets someone else spend their balances."""
    phone = phones.normalize(cmd.phone)
    if phone is None:
        raise ValidationFailed(
            "Not a mainland China mobile number",
            code=IdentityCode.PHONE_INVALID,
            details={"fields": [{"field": "phone", "message": "not a mainland China mobile number"}]},
        )
    owner, is_new = identity.phone_owner(phone), False
    if owner is None:
        owner = identity.enrol(new_id(), phone, cmd.nickname, principal.store_id)
        is_new = owner is not None
        owner = owner or identity.phone_owner(phone)  # enrolled by another till meanwhile
    if owner.openid is not None or owner.status != "active":
        raise Conflict(
            "This customer uses the mini-program: scan the member code it shows", code=MemberCode.MEMBER_HAS_APP
        )
    code = identity_services.my_code(Principal(sub=owner.member_id, role=MEMBER))
    return EnrolOut(
        member_id=owner.member_id,
        nickname=owner.nickname,
        phone_masked=phones.mask(owner.phone),
        is_new=is_new,
        member_code=code.member_code,
        expires_at=code.expires_at,
    )


# --------------------------------------------------------------------------------------- head office views
def _level_ref(profile) -> LevelRef | None:
    lv = level_now(profile)
    return LevelRef(level_id=lv.level_id, name=lv.name, rank=lv.rank) if lv else None


def admin_member_out(member, profile, points_balance: int, balance) -> AdminMemberOut:
    p = profile
    return AdminMemberOut(
        member_id=member.member_id,
        nickname=member.nickname,
        phone_masked=phones.mask(member.phone),
        source=member.source,
        status=member.status,
        level=_level_ref(p),
        growth_fen=int(p.growth_fen) if p else 0,
        paid_orders=int(p.paid_orders) if p else 0,
        spend_fen=int(p.spend_fen or 0) if p else 0,
        last_order_id=p.last_order_id if p else None,
        last_order_at=p.last_order_at if p else None,
        last_store_id=p.last_store_id if p else None,
        birthday=p.birthday if p else None,
        created_at=member.created_at,
        points=points_balance,
        wallet=_wallet_view(balance),
    )


def _wallet_view(balance) -> WalletView:
    return WalletView(
        balance_fen=balance.principal_fen + balance.bonus_fen,
        principal_fen=balance.principal_fen,
        bonus_fen=balance.bonus_fen,
    )


def admin_member_ids(q: AdminMembersQuery) -> tuple[list[str], str | None]:
    """One page of head office's member list: by phone tail (4 digits), nickname prefix, level, or all, newest
    first. One index query; read the members with ``admin_keys`` / ``admin_members_in``."""
    if q.level_id:
        pg = repository.members_of_level(q.level_id, q.limit, q.next)
        return [i.member_id for i in pg.items], pg.next
    if q.q and q.q.isdigit() and len(q.q) == 4:
        return identity.member_ids_by_phone_tail(q.q, q.limit), None
    if q.q:
        pg = identity.members_by_nickname(q.q, q.limit, q.next)
        return [i.member_id for i in pg.items], pg.next
    pg = identity.members_page(q.limit, q.next)
    return [i.member_id for i in pg.items], pg.next


def admin_keys(member_ids: list[str]) -> list[tuple[str, str]]:
    """What the staff views of these members read (account, profile, points and wallet balances), for a
    BatchGetItem another domain gathers; ``admin_members_in`` reads them back."""
    return [
        key
        for m in member_ids
        for key in (identity.member_key(m), repository.profile_key(m), points.account_key(m), wallet.account_key(m))
    ]


def admin_members_in(got, member_ids: list[str]) -> list[AdminMemberOut]:
    """The head-office views of the members read into ``got``, in the order of ``member_ids`` (unknown ones left
    out)."""
    found = identity.members_in(got, member_ids)
    return [
        admin_member_out(found[m], repository.profile_in(got, m), points.balance_in(got, m), wallet.balance_in(got, m))
        for m in member_ids
        if m in found
    ]


def admin_member(member_id: str, consistent: bool = False) -> AdminMemberOut:
    got = batch_get(admin_keys([member_id]), consistent=consistent)
    return admin_member_in(got, member_id)


def admin_member_in(got, member_id: str) -> AdminMemberOut:
    found = admin_members_in(got, [member_id])
    if not found:
        raise NotFound("No such member", code=IdentityCode.MEMBER_NOT_FOUND)
    return found[0]


def nicknames(member_ids: list[str]) -> dict[str, str | None]:
    """Members' nicknames (one BatchGetItem); unknown members are left out."""
    return {m: item.nickname for m, item in identity.members(member_ids).items()}


BIRTHDAY_ATTEMPTS = 3


def set_birthday(member_id: str, birthday: str, by: str) -> None:
    """A member sets their birthday once; staff may correct it any time."""
    for _ in range(BIRTHDAY_ATTEMPTS):
        profile = repository.get_profile(member_id, consistent=True)
        if by == "member" and profile is not None and profile.birthday and profile.birthday_by:
            raise Conflict("Your birthday is set; ask a store to correct it", code=MemberCode.BIRTHDAY_ALREADY_SET)
        if repository.set_birthday(profile, member_id, birthday, by):
            return
    raise TryAgain("the member's profile kept changing")


def correct_birthday(member_id: str, cmd: BirthdayIn) -> None:
    """Head office corrects a birthday (404 for an unknown member); the page is read by the caller."""
    if identity.get_member(member_id) is None:
        raise NotFound("No such member", code=IdentityCode.MEMBER_NOT_FOUND)
    set_birthday(member_id, cmd.birthday.isoformat(), "staff")


# --------------------------------------------------------------------------------------- the member's own view
def me_keys(member_id: str) -> list[tuple[str, str]]:
    """What the member's page reads (account, profile, points, wallet), for a BatchGetItem another domain gathers;
    ``me_in`` reads them back."""
    mid = member_id
    return [identity.member_key(mid), repository.profile_key(mid), points.account_key(mid), wallet.account_key(mid)]


def me(principal: Principal, consistent: bool = False) -> MeOut:
    """The member's page: who, level and the growth to the next one, points, wallet: one BatchGetItem."""
    return me_in(batch_get(me_keys(principal.sub), consistent=consistent), principal.sub)


def me_in(got, mid: str) -> MeOut:
    """The member's page from the items ``me_keys`` named (404 for a deleted or unknown member)."""
    card = identity.member_in(got, mid)
    if card is None or card.status != "active":
        raise NotFound("No such member", code=IdentityCode.MEMBER_NOT_FOUND)
    profile = repository.profile_in(got, mid)
    growth = int(profile.growth_fen) if profile else 0
    current = level_now(profile)
    nxt = domain.next_level(levels(), current, growth)
    balance = wallet.balance_in(got, mid)
    return MeOut(
        member_id=mid,
        nickname=card.nickname,
        phone_masked=phones.mask(card.phone),
        birthday=profile.birthday if profile else None,
        level=LevelRef(level_id=current.level_id, name=current.name, rank=current.rank) if current else None,
        growth=growth,
        next_level=NextLevel(name=nxt[0].name, growth_needed=nxt[1]) if nxt else None,
        points=points.balance_in(got, mid),
        wallet=_wallet_view(balance),
    )


def update_me(principal: Principal, cmd: MeUpdate) -> None:
    """Nickname any time; the birthday once (staff correct it). The page is read by the caller."""
    if cmd.birthday is not None:
        set_birthday(principal.sub, cmd.birthday.isoformat(), "member")
    if cmd.nickname is not None:
        member = identity.get_member(principal.sub)
        if member is None:
            raise NotFound("No such member", code=IdentityCode.MEMBER_NOT_FOUND)
        identity.set_nickname(member, cmd.nickname)


# --------------------------------------------------------------------------------------- check-ins
def checkin(principal: Principal) -> CheckinOut:
    """The member's check-in (points) and, when the streak reaches a gift, its coupon (coupons) in one transaction,
    answered with the coupon id. A gift coupons cannot give (the template paused or ended, sold out, the member's
    limit) leaves the check-in without it (``gift: null``, logged)."""

    def give(tx, template_id: str, checkin_id: str) -> str | None:
        tpl = coupons.checkin_gift_template(template_id)
        return coupons.add_checkin_gift(tx, tpl, principal.sub, checkin_id) if tpl is not None else None

    try:
        return points_services.checkin(principal, give)
    except TxCancelled as e:
        refusal = coupons.gift_refusal(e.failed)
        if refusal is None:
            raise
        logger.info("check-in gift not given", extra={"member_id": principal.sub, "reason": refusal})
        return points_services.checkin(principal)
