from __future__ import annotations

from chalice import Blueprint

from chalicelib.core.auth import HQ, MEMBERS, STAFF_ROLES, STORE_BOUND
from chalicelib.core.http import Req, route
from chalicelib.core.schemas import PageQuery
from chalicelib.members import services
from chalicelib.members.schemas import EnrolIn, EnrolOut, LevelIn, LevelList, LevelOut, LevelPatch
from chalicelib.points.schemas import CheckinOut

members_api = Blueprint(__name__)
# The member pages (GET/PATCH /shop/me, GET /admin/members[/{id}], PUT /admin/members/{id}/birthday) are served by
# chalicelib/memberviews, which adds what upper domains know (referrer, distributor, tags) to members' services.


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
    query=PageQuery,
    response=LevelList,
    tag="members",
    summary="Every member level, by rank",
)
def list_levels(req: Req):
    return services.list_levels(req.query.limit, req.query.next)


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
    "/shop/me/checkins",
    "POST",
    roles=MEMBERS,
    response=CheckinOut,
    status=201,
    tag="shop",
    errors=(409,),
    summary="Check in today (once per business day): points, streak, and the streak gift coupon when one is due",
)
def checkin(req: Req):
    return services.checkin(req.principal)
