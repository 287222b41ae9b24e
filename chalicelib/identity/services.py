"""Login and account use cases."""

from __future__ import annotations

from chalicelib.core import clock, phones, sessions
from chalicelib.core.auth import HQ_ADMIN, MEMBER, STORE_MANAGER, Principal, issue_token
from chalicelib.core.errors import Conflict, CoreCode, NotFound, RateLimited, Unauthorized, ValidationFailed
from chalicelib.core.ids import new_id
from chalicelib.core.logging import logger
from chalicelib.core.passwords import hash_password, verify_password
from chalicelib.core.schemas import PageOut
from chalicelib.core.settings import get_settings
from chalicelib.identity import domain, repository, wechat
from chalicelib.identity.domain import LoginPolicy
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
    StaffUpdate,
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


# --------------------------------------------------------------------------------------- throttling
def _policies() -> dict[str, LoginPolicy]:
    """The policy of each throttle kind, from settings (docs/security.md gives the numbers)."""
    st = get_settings()
    user = LoginPolicy(st.login_delay_after, st.login_lock_after, st.login_lock_s, st.login_window_s)
    f = st.login_address_factor
    addr = LoginPolicy(user.delay_after * f, user.lock_after * f, user.lock_s, user.window_s)
    per_openid, per_addr = st.member_logins_per_openid, st.member_logins_per_address
    return {
        "user": user,
        "addr": addr,
        "openid": LoginPolicy(per_openid, per_openid * 2, st.login_lock_s, st.login_window_s),
        "maddr": LoginPolicy(per_addr, per_addr * 2, st.login_lock_s, st.login_window_s),
    }


def _refuse_if_blocked(keys: list[tuple[str, str]]) -> dict:
    """429 RATE_LIMITED (with Retry-After) while any key is delayed or locked; else the keys' items."""
    seen = repository.throttles(keys)
    now = clock.now()
    wait = max((domain.retry_after_s(t.blocked_until, now) for t in seen.values()), default=0)
    if wait:
        logger.warning("login throttled", extra={"keys": [k for k, _ in seen], "retry_after_s": wait})
        raise RateLimited("Too many attempts; try again later", retry_after_s=wait, details={"retry_after_s": wait})
    return seen


def _count(keys: list[tuple[str, str]], seen: dict) -> None:
    policies = _policies()
    for kind, value in keys:
        repository.count_attempt(kind, value, policies[kind], seen.get((kind, value)))


def staff_login(cmd: StaffLogin, source_ip: str) -> StaffLoginOut:
    """The username's and the address's throttles are checked before the password: during a delay or a lock
    even the right password is refused. A wrong one counts on both; the right one clears the username's."""
    username = cmd.username.strip().lower()
    keys = [("user", username), ("addr", source_ip)]
    seen = _refuse_if_blocked(keys)
    item = repository.get_staff(username)
    ok = verify_password(cmd.password, item.password_hash if item else None)
    if not ok or item is None or item.status != "active":
        _count(keys, seen)
        logger.info("staff login failed", extra={"username": username, "source_ip": source_ip})
        raise Unauthorized("Wrong username or password", code=IdentityCode.INVALID_CREDENTIALS)
    if ("user", username) in seen:
        repository.clear_throttle("user", username)
    principal = Principal(
        sub=item.staff_id, role=item.role, store_id=item.store_id, sv=sessions.version(item.staff_id, fresh=True)
    )
    token, ttl = issue_token(principal)
    logger.info("staff login", extra={"staff_id": item.staff_id, "source_ip": source_ip})
    return StaffLoginOut(token=token, expires_in=ttl, staff=staff_out(item))


def approver(username: str, password: str, store_id: str, source_ip: str) -> str | None:
    """The staff id of an active manager of ``store_id`` (or head office) with these credentials, else None.
    Throttled like a login: wrong passwords count on the username and the address."""
    username = username.strip().lower()
    keys = [("user", username), ("addr", source_ip)]
    seen = _refuse_if_blocked(keys)
    item = repository.get_staff(username)
    if not verify_password(password, item.password_hash if item else None) or item is None:
        _count(keys, seen)
        return None
    manages = item.role == HQ_ADMIN or (item.role == STORE_MANAGER and item.store_id == store_id)
    return item.staff_id if item.status == "active" and manages else None


def create_staff(actor: Principal, cmd: StaffCreate) -> StaffOut:
    domain.check_staff_binding(cmd.role, cmd.store_id)
    domain.check_may_create_staff(actor, cmd.role, cmd.store_id)
    if cmd.store_id:
        _require_store(cmd.store_id)
    item = repository.create_staff(
        new_id(), cmd.username, cmd.name, cmd.role, cmd.store_id, hash_password(cmd.password)
    )
    return staff_out(item)


def _require_store(store_id: str) -> None:
    try:
        stores.get(store_id)
    except NotFound:
        raise ValidationFailed("Unknown store", details={"fields": [{"field": "store_id", "message": "no such store"}]})


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
    openid: str,
    unionid: str | None = None,
    phone: str | None = None,
    nickname: str | None = None,
    scene: str | None = None,
) -> MemberLoginOut:
    member, is_new = repository.member_for_openid(openid), False
    if member is None and phone:
        member = _claim_at_login(openid, unionid, phone)
    if member is None:
        member = repository.create_member(new_id(), openid, unionid, phone, nickname, scene)
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


def wechat_login(code: str, source_ip: str, scene: str | None = None) -> MemberLoginOut:
    """Throttled per source address before WeChat is asked, then per openid."""
    addr = [("maddr", source_ip)]
    _count(addr, _refuse_if_blocked(addr))
    session = wechat.code2session(code)
    who = [("openid", session.openid)]
    _count(who, _refuse_if_blocked(who))
    return _member_login(session.openid, session.unionid, scene=scene)


def dev_login(cmd: DevLogin, source_ip: str) -> MemberLoginOut:
    if not get_settings().is_local:
        raise NotFound("Not found", code=CoreCode.NOT_FOUND)
    keys = [("openid", cmd.openid), ("maddr", source_ip)]
    _count(keys, _refuse_if_blocked(keys))
    return _member_login(cmd.openid, None, cmd.phone, cmd.nickname, cmd.scene)


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


# --------------------------------------------------------------------------------------- staff accounts
def _managed_staff(actor: Principal, username: str) -> StaffItem:
    """The account ``actor`` may manage. Unknown, or (for a store manager) another store's: 404 alike."""
    item = repository.get_staff(username.strip().lower())
    if item is None or not actor.owns_store(item.store_id):
        raise NotFound("No such staff account", code=IdentityCode.STAFF_NOT_FOUND)
    domain.check_may_manage_staff(actor, item.role, item.store_id)
    return item


def _not_self(actor: Principal, item: StaffItem, what: str) -> None:
    if item.staff_id == actor.sub:
        raise Conflict(f"You cannot {what} your own account", code=IdentityCode.SELF_ACTION)


def set_staff_status(actor: Principal, username: str, status: str) -> StaffOut:
    """Disable (ends every token of the account at once) or enable a staff account."""
    item = _managed_staff(actor, username)
    if item.status != status:
        _not_self(actor, item, "disable")
        repository.change_staff(item, [StaffItem.status.set(status)], end_sessions=status == "disabled")
        logger.info("staff status", extra={"staff_id": item.staff_id, "status": status, "by": actor.sub})
    return staff_out(repository.get_staff(item.username))


def reset_password(actor: Principal, username: str, password: str) -> StaffOut:
    """A new password; every token of the account ends."""
    item = _managed_staff(actor, username)
    repository.change_staff(item, [StaffItem.password_hash.set(hash_password(password))], end_sessions=True)
    logger.info("staff password reset", extra={"staff_id": item.staff_id, "by": actor.sub})
    return staff_out(repository.get_staff(item.username))


def update_staff(actor: Principal, username: str, cmd: StaffUpdate) -> StaffOut:
    """Head office: name, role, store. A new role or store ends every token of the account."""
    item = _managed_staff(actor, username)
    role = cmd.role if "role" in cmd.model_fields_set else item.role
    store_id = cmd.store_id if "store_id" in cmd.model_fields_set else item.store_id
    domain.check_staff_binding(role, store_id)
    if store_id and store_id != item.store_id:
        _require_store(store_id)
    moved = role != item.role or store_id != item.store_id
    if moved:
        _not_self(actor, item, "change the role or store of")
    actions = [StaffItem.role.set(role), *repository.staff_store_actions(store_id, item.username)]
    if cmd.name is not None:
        actions.append(StaffItem.name.set(cmd.name))
    repository.change_staff(item, actions, end_sessions=moved)
    return staff_out(repository.get_staff(item.username))


def unlock_login(username: str) -> None:
    """Head office lifts the throttle of a username (its failures are forgotten); addresses expire on their own."""
    repository.lift_throttle("user", username.strip().lower())


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
