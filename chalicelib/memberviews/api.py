"""The member pages (shop and staff), composed from members, distribution and campaigns. Handlers are thin."""

from __future__ import annotations

from chalice import Blueprint

from chalicelib.core.auth import HQ, MANAGERS, MEMBERS
from chalicelib.core.http import Req, route
from chalicelib.core.schemas import PageOut
from chalicelib.members.schemas import BirthdayIn, MeUpdate
from chalicelib.memberviews import services
from chalicelib.memberviews.schemas import AdminMemberView, MemberListQuery, MemberPageOut

memberviews_api = Blueprint(__name__)


@route(
    memberviews_api,
    "/admin/members",
    "GET",
    roles=MANAGERS,
    query=MemberListQuery,
    response=PageOut[AdminMemberView],
    tag="members",
    summary="Members: by tag (head office), level, phone tail (q=4 digits), nickname prefix (q), or all newest first",
)
def admin_members(req: Req):
    return services.admin_members(req.principal, req.query)


@route(
    memberviews_api,
    "/admin/members/{member_id}",
    "GET",
    roles=MANAGERS,
    response=AdminMemberView,
    tag="members",
    summary="One member: profile, level, growth, spend, last order, tags (head office)",
    errors=(404,),
)
def admin_member(req: Req, member_id: str):
    return services.admin_member(req.principal, member_id)


@route(
    memberviews_api,
    "/admin/members/{member_id}/birthday",
    "PUT",
    roles=HQ,
    body=BirthdayIn,
    response=AdminMemberView,
    tag="members",
    summary="Correct a member's birthday (head office)",
    errors=(404,),
)
def correct_birthday(req: Req, member_id: str):
    return services.correct_birthday(req.principal, member_id, req.body)


@route(
    memberviews_api,
    "/shop/me",
    "GET",
    roles=MEMBERS,
    response=MemberPageOut,
    tag="shop",
    summary="The member's page (with their referrer and distributor status)",
    errors=(404,),
)
def me(req: Req):
    return services.me(req.principal)


@route(
    memberviews_api,
    "/shop/me",
    "PATCH",
    roles=MEMBERS,
    body=MeUpdate,
    response=MemberPageOut,
    tag="shop",
    summary="Change the nickname; set the birthday (once: staff correct it)",
    errors=(404, 409),
)
def update_me(req: Req):
    return services.update_me(req.principal, req.body)
