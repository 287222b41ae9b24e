from __future__ import annotations

from chalice import Blueprint

from chalicelib.core.auth import HQ, MANAGERS, MEMBERS, STAFF_ROLES, STORE_BOUND
from chalicelib.core.http import Req, route
from chalicelib.core.schemas import PageOut
from chalicelib.members import services
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
    MeOut,
    MeUpdate,
)

members_api = Blueprint(__name__)


@route(
    members_api,
    "/admin/member-levels",
    "POST",
    roles=HQ,
    body=LevelIn,
    response=LevelOut,
    status=201,
    idempotent=True,
    tag="members",
    summary="Create a member level (growth and/or paid-order threshold, discount, points multiplier, perks)",
    errors=(409,),
)
def create_level(req: Req):
    return services.create_level(req.body)


@route(
    members_api,
    "/admin/member-levels",
    "GET",
    roles=STAFF_ROLES,
    response=LevelList,
    tag="members",
    summary="Every member level, by rank",
)
def list_levels(req: Req):
    return services.list_levels()


@route(
    members_api,
    "/admin/member-levels/{level_id}",
    "PATCH",
    roles=HQ,
    body=LevelPatch,
    response=LevelOut,
    tag="members",
    summary="Change a level; members' levels follow from their growth and the thresholds now in force",
    errors=(404, 409),
)
def update_level(req: Req, level_id: str):
    return services.update_level(level_id, req.body)


@route(
    members_api,
    "/pos/members",
    "POST",
    roles=STORE_BOUND,
    body=EnrolIn,
    response=EnrolOut,
    status=201,
    tag="pos",
    summary="Enrol a customer at the till by phone (开单即会员), or find the till member with that phone",
    errors=(409,),
)
def enrol(req: Req):
    return services.enrol(req.principal, req.body)


@route(
    members_api,
    "/admin/members",
    "GET",
    roles=MANAGERS,
    query=AdminMembersQuery,
    response=PageOut[AdminMemberOut],
    tag="members",
    summary="Members: by phone tail (q=4 digits), nickname prefix (q), level, or all newest first",
)
def admin_members(req: Req):
    return services.admin_members(req.query)


@route(
    members_api,
    "/admin/members/{member_id}",
    "GET",
    roles=MANAGERS,
    response=AdminMemberOut,
    tag="members",
    summary="One member: profile, level, growth, spend, last order",
    errors=(404,),
)
def admin_member(req: Req, member_id: str):
    return services.admin_member(member_id)


@route(
    members_api,
    "/admin/members/{member_id}/birthday",
    "PUT",
    roles=HQ,
    body=BirthdayIn,
    response=AdminMemberOut,
    tag="members",
    summary="Correct a member's birthday (head office)",
    errors=(404,),
)
def correct_birthday(req: Req, member_id: str):
    return services.correct_birthday(member_id, req.body)


@route(
    members_api,
    "/shop/me",
    "GET",
    roles=MEMBERS,
    response=MeOut,
    tag="shop",
    summary="The member's page",
    errors=(404,),
)
def me(req: Req):
    return services.me(req.principal)


@route(
    members_api,
    "/shop/me",
    "PATCH",
    roles=MEMBERS,
    body=MeUpdate,
    response=MeOut,
    tag="shop",
    summary="Change the nickname; set the birthday (once: staff correct it)",
    errors=(404, 409),
)
def update_me(req: Req):
    return services.update_me(req.principal, req.body)
