"""The only code that reads or writes staff, member and openid items."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from chalicelib.core import clock, events, sessions
from chalicelib.core.dynamo import Page, Tx, TxCancelled, batch_get, page, put_new, transaction, update_if
from chalicelib.core.errors import Conflict, CoreCode
from chalicelib.identity.domain import LoginPolicy, MemberCard
from chalicelib.identity.errors import IdentityCode
from chalicelib.identity.models import (
    MEMBERS_GSI1PK,
    META,
    NICK_GSI2PK,
    STAFF_GSI1PK,
    LoginThrottle,
    MemberCodeItem,
    MemberItem,
    OpenIdItem,
    PhoneItem,
    StaffItem,
    code_pk,
    member_index,
    member_pk,
    openid_pk,
    phone_pk,
    phone_tail_gsi1pk,
    staff_gsi1sk,
    staff_pk,
    throttle_pk,
)


def get_staff(username: str) -> StaffItem | None:
    return StaffItem.get_or_none(staff_pk(username), META)


def create_staff(
    staff_id: str, username: str, name: str, role: str, store_id: str | None, password_hash: str
) -> StaffItem:
    now = clock.now()
    item = StaffItem(
        staff_pk(username),
        META,
        staff_id=staff_id,
        username=username,
        name=name,
        role=role,
        store_id=store_id,
        password_hash=password_hash,
        status="active",
        gsi1pk=STAFF_GSI1PK,
        gsi1sk=staff_gsi1sk(store_id, username),
        created_at=now,
        updated_at=now,
    )
    try:  # a transaction of one item, so an action-log entry can ride along (core.actionlog)
        with transaction() as tx:
            tx.save(item, condition=StaffItem.pk.does_not_exist(), tag="staff")
    except TxCancelled as e:
        if "staff" in e.failed:
            raise Conflict("This username is taken", code=IdentityCode.USERNAME_TAKEN)
        raise
    return item


def change_staff(item: StaffItem, actions: list, end_sessions: bool) -> None:
    """Apply ``actions`` to a staff account if nobody changed it meanwhile; ``end_sessions`` also ends every token
    of the account (core.sessions), in the same transaction."""
    actions = [*actions, StaffItem.updated_at.set(clock.now())]
    try:
        with transaction() as tx:
            tx.update(item, actions=actions, condition=StaffItem.updated_at == item.updated_at, tag="staff")
            if end_sessions:
                sessions.bump(tx, item.staff_id)
    except TxCancelled:
        raise Conflict("The account was changed meanwhile; reload and retry", code=CoreCode.CONCURRENT_UPDATE)


def staff_store_actions(store_id: str | None, username: str) -> list:
    return [
        StaffItem.store_id.set(store_id) if store_id else StaffItem.store_id.remove(),
        StaffItem.gsi1sk.set(staff_gsi1sk(store_id, username)),
    ]


def list_staff(store_id: str | None, limit: int, cursor: str | None) -> Page:
    cond = StaffItem.gsi1sk.startswith(f"{store_id}#") if store_id else None
    return page(StaffItem.gsi1.query, hash_key=STAFF_GSI1PK, range_key_condition=cond, limit=limit, cursor=cursor)


def get_member(member_id: str) -> MemberItem | None:
    return MemberItem.get_or_none(member_pk(member_id), META)


def member_key(member_id: str) -> tuple[str, str]:
    """The member's key, for a BatchGetItem another domain gathers (``member_in`` reads it back)."""
    return (member_pk(member_id), META)


def member_in(got: Mapping[tuple[str, str], Any], member_id: str) -> MemberCard | None:
    item = got.get(member_key(member_id))
    if not isinstance(item, MemberItem):
        return None
    return MemberCard(member_id=item.member_id, nickname=item.nickname, phone=item.phone, status=item.status)


def deleted_in(got: Mapping[tuple[str, str], Any], member_id: str) -> bool:
    """Whether the member read into ``got`` has deleted the account (a token may outlive the account)."""
    item = got.get(member_key(member_id))
    return isinstance(item, MemberItem) and item.status == "deleted"


def member_phones(member_ids: list[str]) -> dict[str, str | None]:
    """Each existing member's phone (None when not bound), in one BatchGetItem; unknown ids are left out."""
    got = batch_get([(member_pk(m), META) for m in dict.fromkeys(member_ids)])
    return {i.member_id: i.phone for i in got.values() if isinstance(i, MemberItem)}


def member_for_openid(openid: str) -> MemberItem | None:
    link = OpenIdItem.get_or_none(openid_pk(openid), META, consistent_read=True)
    return get_member(link.member_id) if link else None


def create_member(
    member_id: str,
    openid: str,
    unionid: str | None,
    phone: str | None,
    nickname: str | None,
    scene: str | None = None,
) -> MemberItem | None:
    """Member, its openid link and ``MemberJoined`` (the new-member gift pack and other welcomes react to it) in
    one transaction. ``None`` if the openid was linked meanwhile. ``scene``: the share scene the member came by
    (distribution binds the referrer on the event; identity does not know what it names)."""
    now = clock.now()
    member = MemberItem(
        member_pk(member_id),
        META,
        member_id=member_id,
        openid=openid,
        unionid=unionid,
        phone=phone,
        nickname=nickname,
        level=0,
        status="active",
        source="wechat",
        created_at=now,
        updated_at=now,
        **member_index(member_id, nickname),
    )
    link = OpenIdItem(openid_pk(openid), META, member_id=member_id, created_at=now)
    try:
        with transaction() as tx:
            tx.save(link, condition=OpenIdItem.pk.does_not_exist(), tag="openid")
            tx.save(member, condition=MemberItem.pk.does_not_exist(), tag="member")
            events.add(
                tx,
                [
                    events.Event(
                        "MemberJoined",
                        {
                            "member_id": member_id,
                            "openid": openid,
                            "unionid": unionid,
                            "phone": phone,
                            "nickname": nickname,
                            "scene": scene,
                        },
                    )
                ],
            )
    except TxCancelled as e:
        if "openid" in e.failed:
            return None
        raise
    return member


# --------------------------------------------------------------------------------------- phones
def phone_owner(phone: str) -> MemberItem | None:
    link = PhoneItem.get_or_none(phone_pk(phone), META, consistent_read=True)
    return get_member(link.member_id) if link else None


def bind_phone(member: MemberItem, phone: str) -> bool:
    """The phone becomes the member's (its old phone, if any, is released), in one transaction; False if the
    phone belongs to another member."""
    now = clock.now()
    try:
        with transaction() as tx:
            tx.save(
                PhoneItem(
                    phone_pk(phone),
                    META,
                    member_id=member.member_id,
                    created_at=now,
                    gsi1pk=phone_tail_gsi1pk(phone),
                    gsi1sk=member.member_id,
                ),
                condition=PhoneItem.pk.does_not_exist() | (PhoneItem.member_id == member.member_id),
                tag="phone",
            )
            tx.update(
                member,
                [MemberItem.phone.set(phone), MemberItem.updated_at.set(now)],
                condition=MemberItem.status == "active",
                tag="member",
            )
            if member.phone and member.phone != phone:
                tx.delete(PhoneItem(phone_pk(member.phone), META), condition=PhoneItem.member_id == member.member_id)
    except TxCancelled as e:
        if "phone" in e.failed:
            return False
        raise
    return True


def enrol(member_id: str, phone: str, nickname: str | None, store_id: str | None) -> MemberItem | None:
    """A member enrolled at the till by phone (no WeChat account yet), its phone and ``MemberJoined``, in one
    transaction; None if the phone is taken meanwhile."""
    now = clock.now()
    member = MemberItem(
        member_pk(member_id),
        META,
        member_id=member_id,
        phone=phone,
        nickname=nickname,
        status="active",
        source="till",
        created_at=now,
        updated_at=now,
        **member_index(member_id, nickname),
    )
    joined = {"member_id": member_id, "openid": None, "phone": phone, "nickname": nickname, "store_id": store_id}
    try:
        with transaction() as tx:
            tx.save(
                PhoneItem(
                    phone_pk(phone),
                    META,
                    member_id=member_id,
                    created_at=now,
                    gsi1pk=phone_tail_gsi1pk(phone),
                    gsi1sk=member_id,
                ),
                condition=PhoneItem.pk.does_not_exist(),
                tag="phone",
            )
            tx.save(member, condition=MemberItem.pk.does_not_exist(), tag="member")
            events.add(tx, [events.Event("MemberJoined", joined)])
    except TxCancelled as e:
        if "phone" in e.failed:
            return None
        raise
    return member


def claim(enrolled: MemberItem, openid: str, unionid: str | None, retired: MemberItem | None) -> bool:
    """A WeChat user claims the till member with their phone: the openid now leads to ``enrolled`` (which gets
    the openid) and the account the WeChat login had made (``retired``, if any) is closed as merged. False if
    the till member was claimed meanwhile."""
    now = clock.now()
    try:
        with transaction() as tx:
            tx.update(
                enrolled,
                [MemberItem.openid.set(openid), MemberItem.unionid.set(unionid), MemberItem.updated_at.set(now)],
                condition=MemberItem.openid.does_not_exist() & (MemberItem.status == "active"),
                tag="enrolled",
            )
            link = OpenIdItem(openid_pk(openid), META, member_id=enrolled.member_id, created_at=now)
            tx.save(link, tag="openid")
            if retired is not None:
                actions = [
                    MemberItem.status.set("merged"),
                    MemberItem.merged_into.set(enrolled.member_id),
                    MemberItem.updated_at.set(now),
                ]
                tx.update(retired, actions, condition=MemberItem.status == "active", tag="retired")
                sessions.bump(tx, retired.member_id)  # the merged account's tokens end with it
            events.add(
                tx,
                [
                    events.Event(
                        "MemberClaimed",
                        {
                            "member_id": enrolled.member_id,
                            "openid": openid,
                            "retired_member_id": retired.member_id if retired else None,
                        },
                    )
                ],
            )
    except TxCancelled:
        return False
    return True


# --------------------------------------------------------------------------------------- head office lists
def members_page(limit: int, cursor: str | None) -> Page:
    """Every member, newest first (gsi1 MEMBERS)."""
    return page(MemberItem.gsi1.query, hash_key=MEMBERS_GSI1PK, scan_index_forward=False, limit=limit, cursor=cursor)


def members_by_nickname(prefix: str, limit: int, cursor: str | None) -> Page:
    cond = MemberItem.gsi2sk.startswith(prefix)
    return page(MemberItem.gsi2.query, hash_key=NICK_GSI2PK, range_key_condition=cond, limit=limit, cursor=cursor)


def member_ids_by_phone_tail(tail: str, limit: int) -> list[str]:
    """Members whose bound phone ends with these 4 digits (gsi1 PHONETAIL#)."""
    return [i.member_id for i in PhoneItem.gsi1.query(phone_tail_gsi1pk(tail), limit=limit)]


def members(member_ids: list[str]) -> dict[str, MemberItem]:
    got = batch_get([(member_pk(m), META) for m in dict.fromkeys(member_ids)])
    return {i.member_id: i for i in got.values() if isinstance(i, MemberItem)}


def members_in(got: Mapping[tuple[str, str], Any], member_ids: list[str]) -> dict[str, MemberItem]:
    """The members read into ``got`` (keys from ``member_key``), by id."""
    return {m: item for m in member_ids if isinstance(item := got.get(member_key(m)), MemberItem)}


def set_nickname(member: MemberItem, nickname: str) -> None:
    index = member_index(member.member_id, nickname)
    member.update(
        actions=[
            MemberItem.nickname.set(nickname),
            MemberItem.gsi2pk.set(index["gsi2pk"]),
            MemberItem.gsi2sk.set(index["gsi2sk"]),
            MemberItem.updated_at.set(clock.now()),
        ]
    )


# --------------------------------------------------------------------------------------- member codes
CODE_KEPT = timedelta(days=1)  # TTL housekeeping after a code's 60 seconds


def put_code(code: str, member_id: str, valid_until: datetime) -> bool:
    """A new code for the member; False if the code exists already (draw another)."""
    return put_new(
        MemberCodeItem(
            code_pk(code),
            META,
            member_id=member_id,
            valid_until=clock.iso(valid_until),
            expires_at=valid_until + CODE_KEPT,
        )
    )


def code_owner(code: str, now: datetime) -> str | None:
    """The member behind a code that is still valid at ``now`` (strongly consistent: a code shown a moment ago
    is found at once)."""
    item = MemberCodeItem.get_or_none(code_pk(code), META, consistent_read=True)
    return item.member_id if item is not None and item.valid_until > clock.iso(now) else None


# --------------------------------------------------------------------------------------- login throttling
def throttles(keys: list[tuple[str, str]]) -> dict[tuple[str, str], LoginThrottle]:
    """The throttle items of these (kind, value) keys that exist, read consistently in one BatchGetItem."""
    got = batch_get([(throttle_pk(k, v), META) for k, v in keys], consistent=True)
    return {
        kv: got[(throttle_pk(*kv), META)] for kv in keys if isinstance(got.get((throttle_pk(*kv), META)), LoginThrottle)
    }


def count_attempt(kind: str, value: str, policy: LoginPolicy, seen: LoginThrottle | None) -> LoginThrottle:
    """One more failure (or attempt) on this key: a new window when the last one has passed, else +1 (atomic);
    sets ``blocked_until`` when the count reaches the policy's delay or lock."""
    now = clock.now()
    item = LoginThrottle(throttle_pk(kind, value), META)
    fresh = seen is None or policy.counting(int(seen.count), seen.window_start, now) == 0
    started = fresh and update_if(
        item,
        [
            LoginThrottle.kind.set(LoginThrottle),
            LoginThrottle.count.set(1),
            LoginThrottle.window_start.set(now),
            LoginThrottle.blocked_until.remove(),
        ],
        LoginThrottle.pk.does_not_exist() if seen is None else (LoginThrottle.window_start == seen.window_start),
    )
    if not started:
        item.update(
            actions=[
                LoginThrottle.count.add(1),
                LoginThrottle.kind.set(LoginThrottle),
                LoginThrottle.window_start.set(LoginThrottle.window_start | now),
            ]
        )
    until = policy.blocked_until(int(item.count), now)
    if until is not None:
        item.update(actions=[LoginThrottle.blocked_until.set(until)])
    return item


def clear_throttle(kind: str, value: str) -> None:
    LoginThrottle(throttle_pk(kind, value), META).delete()


def lift_throttle(kind: str, value: str) -> None:
    """``clear_throttle`` by head office: a transaction of one item, so its action-log entry rides along."""
    with transaction() as tx:
        tx.delete(LoginThrottle(throttle_pk(kind, value), META), tag="throttle")


def add_erasure(tx: Tx, member: MemberItem, reported: list[events.Event]) -> None:
    """In ``tx``: the member's personal data erased (nickname, phone, openid, unionid), status ``deleted``; its
    openid link removed, so the same WeChat user starts afresh as a new member. The member id stays (orders keep
    it for the books)."""
    now = clock.now()
    tx.update(
        member,
        [
            MemberItem.status.set("deleted"),
            MemberItem.openid.set(f"deleted:{member.member_id}"),
            MemberItem.nickname.remove(),
            MemberItem.phone.remove(),
            MemberItem.unionid.remove(),
            MemberItem.updated_at.set(now),
        ],
        condition=MemberItem.status == "active",
        tag="member",
    )
    sessions.bump(tx, member.member_id)  # its tokens end with it
    tx.delete(
        OpenIdItem(openid_pk(member.openid), META),
        condition=OpenIdItem.member_id == member.member_id,
        tag="openid",
    )
    events.add(tx, reported)
