"""The only code that reads or writes staff, member and openid items."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chalicelib.core import clock, events
from chalicelib.core.dynamo import Page, Tx, TxCancelled, batch_get, page, put_new, transaction
from chalicelib.core.errors import Conflict
from chalicelib.identity.domain import MemberCard
from chalicelib.identity.errors import IdentityCode
from chalicelib.identity.models import (
    META,
    STAFF_GSI1PK,
    MemberItem,
    OpenIdItem,
    StaffItem,
    member_pk,
    openid_pk,
    staff_gsi1sk,
    staff_pk,
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
    if not put_new(item):
        raise Conflict("This username is taken", code=IdentityCode.USERNAME_TAKEN)
    return item


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
    return MemberCard(member_id=item.member_id, level=int(item.level or 0), phone=item.phone)


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
    member_id: str, openid: str, unionid: str | None, phone: str | None, nickname: str | None
) -> MemberItem | None:
    """Member, its openid link and ``MemberJoined`` (the new-member gift pack and other welcomes react to it) in
    one transaction. ``None`` if the openid was linked meanwhile."""
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
        created_at=now,
        updated_at=now,
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
                        },
                    )
                ],
            )
    except TxCancelled as e:
        if "openid" in e.failed:
            return None
        raise
    return member


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
    tx.delete(
        OpenIdItem(openid_pk(member.openid), META),
        condition=OpenIdItem.member_id == member.member_id,
        tag="openid",
    )
    events.add(tx, reported)
