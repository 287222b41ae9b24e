from __future__ import annotations

from chalice import Blueprint

from chalicelib.core.auth import HQ, MANAGERS
from chalicelib.core.http import Req, route
from chalicelib.core.schemas import PageOut
from chalicelib.promotions import services
from chalicelib.promotions.schemas import PromotionCreate, PromotionListQuery, PromotionOut, PromotionUpdate

promotions_api = Blueprint(__name__)


@route(
    promotions_api,
    "/admin/promotions",
    "POST",
    audit="promotion_change",
    roles=HQ,
    body=PromotionCreate,
    response=PromotionOut,
    status=201,
    idempotent=True,
    tag="promotions",
    summary="Create a promotion: threshold, percent, buy N get M, combo gift, member or time-limited prices",
)
def create_promotion(req: Req):
    return services.create(req.principal, req.body)


@route(
    promotions_api,
    "/admin/promotions",
    "GET",
    roles=MANAGERS,
    query=PromotionListQuery,
    response=PageOut[PromotionOut],
    tag="promotions",
    summary="Promotions, newest first (store managers: chain-wide ones and their own store's)",
)
def list_promotions(req: Req):
    q = req.query
    return services.list_promotions(req.principal, q.status, q.limit, q.next)


@route(
    promotions_api,
    "/admin/promotions/{promo_id}",
    "GET",
    roles=MANAGERS,
    response=PromotionOut,
    tag="promotions",
    summary="One promotion",
)
def get_promotion(req: Req, promo_id: str):
    return services.get(req.principal, promo_id)


@route(
    promotions_api,
    "/admin/promotions/{promo_id}",
    "PATCH",
    audit="promotion_change",
    roles=HQ,
    body=PromotionUpdate,
    response=PromotionOut,
    tag="promotions",
    errors=(409,),
    summary="Change a promotion (orders already placed keep what they were charged)",
)
def update_promotion(req: Req, promo_id: str):
    return services.update(promo_id, req.body)


@route(
    promotions_api,
    "/admin/promotions/{promo_id}/pause",
    "POST",
    audit="promotion_change",
    roles=HQ,
    response=PromotionOut,
    tag="promotions",
    errors=(409,),
    summary="Pause a promotion (checkouts stop applying it)",
)
def pause_promotion(req: Req, promo_id: str):
    return services.set_status(promo_id, "paused")


@route(
    promotions_api,
    "/admin/promotions/{promo_id}/resume",
    "POST",
    audit="promotion_change",
    roles=HQ,
    response=PromotionOut,
    tag="promotions",
    errors=(409,),
    summary="Resume a paused promotion",
)
def resume_promotion(req: Req, promo_id: str):
    return services.set_status(promo_id, "active")
