from __future__ import annotations

from chalice import Blueprint

from chalicelib.core.auth import HQ, MANAGERS, MEMBERS
from chalicelib.core.http import Req, Result, route
from chalicelib.core.schemas import PageOut, PageQuery
from chalicelib.coupons import services
from chalicelib.coupons.schemas import (
    BlockIn,
    BlockListQuery,
    BlockOut,
    CenterItemOut,
    CouponOut,
    InviteGiftIn,
    InviteGiftOut,
    MyCouponsQuery,
    PushIn,
    PushOut,
    StockIn,
    TemplateCreate,
    TemplateListQuery,
    TemplateOut,
    TemplateUpdate,
)

coupons_api = Blueprint(__name__)


# --------------------------------------------------------------------------------------- shop
@route(
    coupons_api,
    "/shop/coupons/center",
    "GET",
    roles=MEMBERS,
    query=PageQuery,
    response=PageOut[CenterItemOut],
    tag="shop",
    summary="Coupons open for claiming now, with how many I have had",
)
def center(req: Req):
    return services.center(req.principal, req.query.limit, req.query.next)


@route(
    coupons_api,
    "/shop/coupons/{template_id}/claim",
    "POST",
    roles=MEMBERS,
    response=CouponOut,
    status=201,
    idempotent=True,
    tag="shop",
    errors=(409, 429),
    summary="Claim a coupon: never beyond the template's stock or my limit",
)
def claim(req: Req, template_id: str):
    return services.claim(req.principal, template_id)


@route(
    coupons_api,
    "/shop/me/coupons",
    "GET",
    roles=MEMBERS,
    query=MyCouponsQuery,
    response=PageOut[CouponOut],
    tag="shop",
    summary="My coupons, newest first (filter by status)",
)
def my_coupons(req: Req):
    q = req.query
    return services.my_coupons(req.principal, q.status, q.limit, q.next)


# --------------------------------------------------------------------------------------- templates
@route(
    coupons_api,
    "/admin/coupon-templates",
    "POST",
    roles=HQ,
    body=TemplateCreate,
    response=TemplateOut,
    status=201,
    idempotent=True,
    tag="coupons",
    summary="Create a coupon template (amount off, percent off, no threshold, gift)",
)
def create_template(req: Req):
    return services.create_template(req.principal, req.body)


@route(
    coupons_api,
    "/admin/coupon-templates",
    "GET",
    roles=MANAGERS,
    query=TemplateListQuery,
    response=PageOut[TemplateOut],
    tag="coupons",
    summary="Coupon templates, newest first (store managers: chain-wide ones and their own store's)",
)
def list_templates(req: Req):
    q = req.query
    return services.list_templates(req.principal, q.purpose, q.limit, q.next)


@route(
    coupons_api,
    "/admin/coupon-templates/{template_id}",
    "GET",
    roles=MANAGERS,
    response=TemplateOut,
    tag="coupons",
    summary="One coupon template with its stock",
)
def get_template(req: Req, template_id: str):
    return services.get_template(req.principal, template_id)


@route(
    coupons_api,
    "/admin/coupon-templates/{template_id}",
    "PATCH",
    roles=HQ,
    body=TemplateUpdate,
    response=TemplateOut,
    tag="coupons",
    errors=(409,),
    summary="Change a template's wording, member limit or claim window",
)
def update_template(req: Req, template_id: str):
    return services.update_template(template_id, req.body)


@route(
    coupons_api,
    "/admin/coupon-templates/{template_id}/pause",
    "POST",
    roles=HQ,
    response=TemplateOut,
    tag="coupons",
    errors=(409,),
    summary="Stop issuing (issued coupons stay valid)",
)
def pause_template(req: Req, template_id: str):
    return services.set_template_status(template_id, "paused")


@route(
    coupons_api,
    "/admin/coupon-templates/{template_id}/resume",
    "POST",
    roles=HQ,
    response=TemplateOut,
    tag="coupons",
    errors=(409,),
    summary="Issue again",
)
def resume_template(req: Req, template_id: str):
    return services.set_template_status(template_id, "active")


@route(
    coupons_api,
    "/admin/coupon-templates/{template_id}/stock",
    "POST",
    roles=HQ,
    body=StockIn,
    response=TemplateOut,
    idempotent=True,
    tag="coupons",
    errors=(409,),
    summary="Add coupons to a template's stock, or withdraw unissued ones",
)
def adjust_stock(req: Req, template_id: str):
    return services.adjust_stock(req.principal, template_id, req.body)


@route(
    coupons_api,
    "/admin/coupon-templates/{template_id}/coupons",
    "GET",
    roles=HQ,
    query=PageQuery,
    response=PageOut[CouponOut],
    tag="coupons",
    summary="Coupons issued from a template, newest first",
)
def template_coupons(req: Req, template_id: str):
    return services.template_coupons(template_id, req.query.limit, req.query.next)


# --------------------------------------------------------------------------------------- issuing
@route(
    coupons_api,
    "/admin/coupons/push",
    "POST",
    roles=HQ,
    body=PushIn,
    response=PushOut,
    status=201,
    idempotent=True,
    tag="coupons",
    errors=(404, 409),
    summary="Give one coupon of a push template to each listed member (up to 100)",
)
def push(req: Req):
    return services.push(req.principal, req.body)


@route(
    coupons_api,
    "/admin/coupons/invite-gifts",
    "POST",
    roles=HQ,
    body=InviteGiftIn,
    response=InviteGiftOut,
    status=201,
    idempotent=True,
    tag="coupons",
    summary="Invite gifts for inviter and invitee (once per invitee, ever); the referral flow calls the same",
)
def invite_gifts(req: Req):
    b = req.body
    return services.issue_invite_gifts(b.referral_id, b.inviter_id, b.invitee_id)


@route(
    coupons_api,
    "/admin/coupon-blocks",
    "GET",
    roles=HQ,
    query=BlockListQuery,
    response=PageOut[BlockOut],
    tag="coupons",
    summary="Members barred from claiming coupons",
)
def list_blocks(req: Req):
    return services.list_blocks(req.query.limit, req.query.next)


@route(
    coupons_api,
    "/admin/coupon-blocks/{member_id}",
    "PUT",
    roles=HQ,
    body=BlockIn,
    response=BlockOut,
    tag="coupons",
    summary="Flag a member as abusive: they can no longer claim coupons",
)
def block(req: Req, member_id: str):
    return services.block(req.principal, member_id, req.body.reason)


@route(
    coupons_api,
    "/admin/coupon-blocks/{member_id}",
    "DELETE",
    roles=HQ,
    status=204,
    tag="coupons",
    summary="Lift the flag",
)
def unblock(req: Req, member_id: str):
    services.unblock(member_id)
    return Result(None, status=204)
