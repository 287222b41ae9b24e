"""Login and account use cases."""

from __future__ import annotations

from chalicelib.core import clock, phones
from chalicelib.core.auth import MEMBER, Principal, issue_token
from chalicelib.core.errors import CoreCode, NotFound, Unauthorized, ValidationFailed
from chalicelib.core.ids import new_id
from chalicelib.core.passwords import hash_password, verify_password
from chalicelib.core.schemas import PageOut
from chalicelib.core.settings import get_settings
from chalicelib.identity import domain, repository, wechat
from chalicelib.identity.errors import IdentityCode
from chalicelib.identity.models import MemberItem, StaffItem
from chalicelib.identity.schemas import (
    DevLogin,
    MemberLoginOut,
    MemberOut,
    StaffCreate,
    StaffLogin,
    StaffLoginOut,
    StaffOut,
)
from chalicelib.stores import repository as stores


def staff_out(item: StaffItem) -> StaffOut:
    return StaffOut(
        staff_id=item.staff_id,
        username=item.username,
        name=item.name,
        role=item.role,
        store_id=item.store_id,
        status=item.status,
        created_at=item.created_at,
    )


def staff_login(cmd: StaffLogin) -> StaffLoginOut:
    item = repository.get_staff(cmd.username.strip().lower())
    ok = verify_password(cmd.password, item.password_hash if item else None)
    if not ok or item is None or item.status != "active":
        raise Unauthorized("Wrong username or password", code=IdentityCode.INVALID_CREDENTIALS)
    token, ttl = issue_token(Principal(sub=item.staff_id, role=item.role, store_id=item.store_id))
    return StaffLoginOut(token=token, expires_in=ttl, staff=staff_out(item))


def create_staff(actor: Principal, cmd: StaffCreate) -> StaffOut:
    domain.check_staff_binding(cmd.role, cmd.store_id)
    domain.check_may_create_staff(actor, cmd.role, cmd.store_id)
    if cmd.store_id:
        try:
            stores.get(cmd.store_id)
        except NotFound:
            raise ValidationFailed(
                "Unknown store", details={"fields": [{"field": "store_id", "message": "no such store"}]}
            )
    item = repository.create_staff(
        new_id(), cmd.username, cmd.name, cmd.role, cmd.store_id, hash_password(cmd.password)
    )
    return staff_out(item)


def list_staff(actor: Principal, store_id: str | None, limit: int, cursor: str | None) -> PageOut[StaffOut]:
    if not actor.is_hq:
        store_id = store_id or actor.store_id
        actor.require_store(store_id)
    pg = repository.list_staff(store_id, limit, cursor)
    return PageOut[StaffOut](items=[staff_out(i) for i in pg.items], next=pg.next)


def member_out(item: MemberItem, is_new: bool = False) -> MemberOut:
    return MemberOut(
        member_id=item.member_id,
        nickname=item.nickname,
        phone_masked=phones.mask(item.phone),
        level=int(item.level or 0),
        created_at=item.created_at,
        is_new=is_new,
    )


def _member_login(
    openid: str, unionid: str | None = None, phone: str | None = None, nickname: str | None = None
) -> MemberLoginOut:
    member, is_new = repository.member_for_openid(openid), False
    if member is None:
        member = repository.create_member(new_id(), openid, unionid, phone, nickname)
        is_new = member is not None
        if member is None:  # a concurrent first login of the same openid won the race
            member = repository.member_for_openid(openid)
    if member.status != "active":
        raise Unauthorized("This account is closed", code=IdentityCode.ACCOUNT_CLOSED)
    token, ttl = issue_token(Principal(sub=member.member_id, role=MEMBER))
    return MemberLoginOut(token=token, expires_in=ttl, member=member_out(member, is_new))


def wechat_login(code: str) -> MemberLoginOut:
    session = wechat.code2session(code)
    return _member_login(session.openid, session.unionid)


def dev_login(cmd: DevLogin) -> MemberLoginOut:
    if not get_settings().is_local:
        raise NotFound("Not found", code=CoreCode.NOT_FOUND)
    return _member_login(cmd.openid, None, cmd.phone, cmd.nickname)


def me(principal: Principal) -> MemberOut:
    return member_out(active_member(principal))


def active_member(principal: Principal) -> MemberItem:
    item = repository.get_member(principal.sub)
    if item is None or item.status == "deleted":
        raise NotFound("No such member", code=IdentityCode.MEMBER_NOT_FOUND)
    return item


def profile_export(item: MemberItem) -> dict:
    """Everything we hold about the member themselves (their data export)."""
    return {
        "member_id": item.member_id,
        "nickname": item.nickname,
        "phone": item.phone,
        "level": int(item.level or 0),
        "status": item.status,
        "created_at": clock.iso(item.created_at) if item.created_at else None,
    }
