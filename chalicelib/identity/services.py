"""Login and account use cases."""

from __future__ import annotations

from chalicelib.core import clock, phones
from chalicelib.core.auth import MEMBER, Principal, issue_token
from chalicelib.core.errors import Conflict, CoreCode, NotFound, Unauthorized, ValidationFailed
from chalicelib.core.ids import new_id
from chalicelib.core.passwords import hash_password, verify_password
from chalicelib.core.schemas import PageOut
from chalicelib.core.settings import get_settings
from chalicelib.identity import domain, repository, wechat
from chalicelib.identity.errors import IdentityCode
from chalicelib.identity.models import MemberItem, StaffItem
from chalicelib.identity.schemas import (
    DevLogin,
    MemberCodeOut,
    MemberLoginOut,
    MemberOut,
    PhoneBind,
    PhoneBound,
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
    if member is None and phone:
        member = _claim_at_login(openid, unionid, phone)
    if member is None:
        member = repository.create_member(new_id(), openid, unionid, phone, nickname)
        is_new = member is not None
        if member is None:  # a concurrent first login of the same openid won the race
            member = repository.member_for_openid(openid)
    if member.status != "active":
        raise Unauthorized("This account is closed", code=IdentityCode.ACCOUNT_CLOSED)
    token, ttl = issue_token(Principal(sub=member.member_id, role=MEMBER))
    return MemberLoginOut(token=token, expires_in=ttl, member=member_out(member, is_new))


def _claim_at_login(openid: str, unionid: str | None, phone: str) -> MemberItem | None:
    """A first login that brings the phone of a member enrolled at the till becomes that member."""
    normalized = phones.normalize(phone)
    owner = repository.phone_owner(normalized) if normalized else None
    if owner is not None and owner.openid is None and owner.status == "active":
        if repository.claim(owner, openid, unionid, None):
            return repository.get_member(owner.member_id)
    return None


def bind_phone(principal: Principal, cmd: PhoneBind) -> PhoneBound:
    """Bind the phone behind a getPhoneNumber code. A phone that belongs to a member enrolled at the till (who
    has no WeChat account) is claimed: this WeChat account becomes that member and a new token is returned."""
    phone = phones.normalize(wechat.phone_number(cmd.code))
    if phone is None:
        raise ValidationFailed(
            "Only mainland China mobile numbers can be bound",
            code=IdentityCode.PHONE_INVALID,
            details={"fields": [{"field": "code", "message": "not a mainland China mobile number"}]},
        )
    member = _active_member(principal.sub)
    if repository.bind_phone(member, phone):
        return PhoneBound(member=member_out(repository.get_member(member.member_id)))
    owner = repository.phone_owner(phone)
    if owner is not None and owner.openid is None and owner.status == "active" and member.openid:
        if repository.claim(owner, member.openid, member.unionid, member):
            token, _ = issue_token(Principal(sub=owner.member_id, role=MEMBER))
            return PhoneBound(member=member_out(repository.get_member(owner.member_id)), token=token)
    raise Conflict("This phone belongs to another member", code=IdentityCode.PHONE_TAKEN)


def _active_member(member_id: str) -> MemberItem:
    item = repository.get_member(member_id)
    if item is None:
        raise NotFound("No such member", code=IdentityCode.MEMBER_NOT_FOUND)
    if item.status != "active":
        raise Unauthorized("This account is closed", code=IdentityCode.ACCOUNT_CLOSED)
    return item


def wechat_login(code: str) -> MemberLoginOut:
    session = wechat.code2session(code)
    return _member_login(session.openid, session.unionid)


def dev_login(cmd: DevLogin) -> MemberLoginOut:
    if not get_settings().is_local:
        raise NotFound("Not found", code=CoreCode.NOT_FOUND)
    return _member_login(cmd.openid, None, cmd.phone, cmd.nickname)


# --------------------------------------------------------------------------------------- member codes
DRAWS = 3  # a collision among 10^17 codes is already unlikely; three is plenty


def my_code(principal: Principal) -> MemberCodeOut:
    now = clock.now()
    until = domain.code_expires(now)
    for _ in range(DRAWS):
        code = domain.new_member_code()
        if repository.put_code(code, principal.sub, until):
            return MemberCodeOut(member_code=code, expires_at=clock.iso(until))
    raise RuntimeError("could not draw a free member code")


def resolve_code(code: str | None) -> str | None:
    """The member behind a POS ``member_code`` (None when no code was given); 404 MEMBER_CODE_INVALID when it is
    not a member code, unknown or expired. A member id is not a member code."""
    if code is None:
        return None
    member_id = repository.code_owner(code, clock.now()) if domain.is_member_code(code) else None
    if member_id is None:
        raise invalid_code()
    return member_id


def invalid_code() -> NotFound:
    return NotFound(
        "This member code is unknown or has expired; ask the customer to refresh it",
        code=IdentityCode.MEMBER_CODE_INVALID,
        details={"fields": [{"field": "member_code", "message": "unknown or expired"}]},
    )
