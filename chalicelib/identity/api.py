from __future__ import annotations

from chalice import Blueprint

from chalicelib.core.auth import MANAGERS, MEMBERS
from chalicelib.core.http import Req, route
from chalicelib.core.schemas import PageOut
from chalicelib.core.settings import get_settings
from chalicelib.identity import services
from chalicelib.identity.schemas import (
    DevLogin,
    MemberCodeOut,
    MemberLoginOut,
    PhoneBind,
    PhoneBound,
    StaffCreate,
    StaffListQuery,
    StaffLogin,
    StaffLoginOut,
    StaffOut,
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
    summary="Staff login (username + password)",
)
def staff_login(req: Req):
    return services.staff_login(req.body)


@route(
    identity_api,
    "/auth/wechat/login",
    "POST",
    roles=None,
    body=WechatLogin,
    response=MemberLoginOut,
    tag="auth",
    summary="Member login with a wx.login code (exchanged at WeChat code2session)",
    errors=(429, 502),
)
def wechat_login(req: Req):
    return services.wechat_login(req.body.code)


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
)
def dev_login(req: Req):
    return services.dev_login(req.body)


@route(
    identity_api,
    "/admin/staff",
    "POST",
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
)
def bind_phone(req: Req):
    return services.bind_phone(req.principal, req.body)


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
