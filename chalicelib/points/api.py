from __future__ import annotations

from chalice import Blueprint

from chalicelib.core.auth import HQ, MANAGERS, MEMBERS
from chalicelib.core.http import Req, route
from chalicelib.core.schemas import PageQuery
from chalicelib.points import services
from chalicelib.points.schemas import AdjustmentIn, AdjustmentOut, LedgerPage, SettingsIn, SettingsOut

points_api = Blueprint(__name__)


# --------------------------------------------------------------------------------------- shop
# POST /shop/me/checkins is members' (chalicelib/members/api.py): the check-in and its streak gift coupon together.
@route(
    points_api,
    "/shop/me/points/ledger",
    "GET",
    roles=MEMBERS,
    query=PageQuery,
    response=LedgerPage,
    tag="shop",
    summary="My points ledger, newest first",
)
def my_ledger(req: Req):
    return services.ledger(req.principal, req.query.limit, req.query.next)


# --------------------------------------------------------------------------------------- admin
@route(
    points_api,
    "/admin/settings/points",
    "GET",
    roles=MANAGERS,
    response=SettingsOut,
    tag="admin",
    summary="Points settings (earning, check-ins, redeeming, expiry)",
)
def get_settings(req: Req):
    return services.get_settings()


@route(
    points_api,
    "/admin/settings/points",
    "PUT",
    roles=HQ,
    body=SettingsIn,
    response=SettingsOut,
    tag="admin",
    summary="Replace the points settings (head office)",
)
def put_settings(req: Req):
    return services.put_settings(req.principal, req.body)


@route(
    points_api,
    "/admin/members/{member_id}/points-adjustments",
    "POST",
    roles=HQ,
    body=AdjustmentIn,
    response=AdjustmentOut,
    status=201,
    idempotent=True,
    tag="admin",
    errors=(404, 409),
    summary="Add or take away a member's points (head office); never below 0",
)
def adjust(req: Req, member_id: str):
    return services.adjust(req.principal, member_id, req.body)
