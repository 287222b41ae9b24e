from __future__ import annotations

from chalice import Blueprint

from chalicelib.core.auth import HQ, MANAGERS, MEMBERS
from chalicelib.core.http import Req, route
from chalicelib.core.schemas import PageOut
from chalicelib.core.settings import get_settings
from chalicelib.identity import services
from chalicelib.identity.schemas import (
    DevLogin,
    MemberCodeOut,
    MemberLoginOut,
    PasswordReset,
    PhoneBind,
    PhoneBound,
    StaffCreate,
    StaffListQuery,
    StaffLogin,
    StaffLoginOut,
    StaffOut,
    StaffUpdate,
    WechatLogin,
)

identity_api = Blueprint(__name__)


@route(
    identity_api,
    "/auth/staff/login",
    "POST",
    roles=None,
    body=StaffLogin,
    response=StaffLoginOut,
    tag="auth",
    summary="Staff login (username + password); throttled per username and address (429 with Retry-After)",
    errors=(401, 429),
)
def staff_login(req: Req):
    return services.staff_login(req.body, req.source_ip)


@route(
    identity_api,
    "/auth/wechat/login",
    "POST",
    roles=None,
    body=WechatLogin,
    response=MemberLoginOut,
    tag="auth",
    summary="Member login with a wx.login code (exchanged at WeChat code2session)",
    errors=(401, 403, 429, 502),
)
def wechat_login(req: Req):
    return services.wechat_login(req.body.code, req.source_ip, req.body.scene)


@route(
    identity_api,
    "/auth/dev/login",
    "POST",
    roles=None,
    body=DevLogin,
    response=MemberLoginOut,
    tag="auth",
    summary="Member login by openid - local stage only, 404 elsewhere",
    available=lambda: get_settings().is_local,
    errors=(401, 429),
)
def dev_login(req: Req):
    return services.dev_login(req.body, req.source_ip)


@route(
    identity_api,
    "/admin/staff",
    "POST",
    audit="staff_change",
    roles=MANAGERS,
    body=StaffCreate,
    response=StaffOut,
    status=201,
    idempotent=True,
    tag="staff",
    summary="Create a staff account (managers: clerks of their own store)",
)
def create_staff(req: Req):
    return services.create_staff(req.principal, req.body)


@route(
    identity_api,
    "/admin/staff",
    "GET",
    roles=MANAGERS,
    query=StaffListQuery,
    response=PageOut[StaffOut],
    tag="staff",
    summary="List staff (managers: their own store)",
)
def list_staff(req: Req):
    return services.list_staff(req.principal, req.query.store_id, req.query.limit, req.query.next)


@route(
    identity_api,
    "/shop/me/phone",
    "POST",
    roles=MEMBERS,
    body=PhoneBind,
    response=PhoneBound,
    tag="shop",
    summary="Bind the phone from WeChat's getPhoneNumber code (customer SMS go only to a bound phone)",
    errors=(401, 409, 429, 502),
)
def bind_phone(req: Req):
    return services.bind_phone(req.principal, req.body)


STAFF = "/admin/staff/{username}"


@route(
    identity_api,
    STAFF,
    "PATCH",
    audit="staff_change",
    roles=HQ,
    body=StaffUpdate,
    response=StaffOut,
    tag="staff",
    summary="Change a staff account's name, role or store (a new role or store ends its tokens)",
    errors=(409,),
)
def update_staff(req: Req, username: str):
    return services.update_staff(req.principal, username, req.body)


@route(
    identity_api,
    STAFF + "/disable",
    "POST",
    audit="staff_change",
    roles=MANAGERS,
    response=StaffOut,
    tag="staff",
    summary="Disable a staff account: its tokens are refused from the next request (managers: their clerks)",
    errors=(409,),
)
def disable_staff(req: Req, username: str):
    return services.set_staff_status(req.principal, username, "disabled")


@route(
    identity_api,
    "/shop/me/code",
    "GET",
    roles=MEMBERS,
    response=MemberCodeOut,
    tag="shop",
    summary="A member code for the till (valid 60 seconds)",
)
def my_code(req: Req):
    return services.my_code(req.principal)


@route(
    identity_api,
    STAFF + "/enable",
    "POST",
    audit="staff_change",
    roles=MANAGERS,
    response=StaffOut,
    tag="staff",
    summary="Enable a disabled staff account (managers: their clerks)",
    errors=(409,),
)
def enable_staff(req: Req, username: str):
    return services.set_staff_status(req.principal, username, "active")


@route(
    identity_api,
    STAFF + "/password",
    "POST",
    audit="staff_change",
    roles=MANAGERS,
    body=PasswordReset,
    response=StaffOut,
    tag="staff",
    summary="Set a new password; every token of the account ends (managers: their clerks)",
    errors=(409,),
)
def reset_password(req: Req, username: str):
    return services.reset_password(req.principal, username, req.body.password)


@route(
    identity_api,
    STAFF + "/unlock",
    "POST",
    audit="staff_change",
    roles=HQ,
    status=204,
    tag="staff",
    summary="Lift the login throttle of a username (its failed attempts are forgotten)",
)
def unlock_login(req: Req, username: str):
    services.unlock_login(username)
    return None
