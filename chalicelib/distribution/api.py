"""Distribution routes (Contract v2, "Distribution"): settings, the member's summary, records, team, share codes
and scenes, withdrawals and their review, head office's lists and report."""

from __future__ import annotations

from chalice import Blueprint

from chalicelib.core.auth import HQ, MEMBERS
from chalicelib.core.http import Req, Result, route
from chalicelib.core.schemas import PageOut, PageQuery
from chalicelib.distribution import flyers, services
from chalicelib.distribution.schemas import (
    CommissionOut,
    DistributionSettings,
    DistributorOut,
    DistributorsQuery,
    FlyersIn,
    FlyersOut,
    FunnelOut,
    FunnelQuery,
    MeOut,
    PromoterIn,
    PromoterOut,
    RejectIn,
    ReportOut,
    ReportQuery,
    SceneOut,
    ShareCodeIn,
    ShareCodeOut,
    TeamMemberOut,
    TeamQuery,
    WithdrawalIn,
    WithdrawalOut,
    WithdrawalsQuery,
)

distribution_api = Blueprint(__name__)
TAG = "distribution"


# --------------------------------------------------------------------------------------- head office
@route(
    distribution_api,
    "/admin/settings/distribution",
    "GET",
    roles=HQ,
    response=DistributionSettings,
    tag=TAG,
    summary="Distribution settings (defaults until head office saves them)",
)
def get_settings(req: Req):
    return services.get_settings()


@route(
    distribution_api,
    "/admin/settings/distribution",
    "PUT",
    roles=HQ,
    body=DistributionSettings,
    response=DistributionSettings,
    tag=TAG,
    errors=(404, 409, 422),
    summary="Replace the distribution settings (level1_bp + level2_bp <= 10000; invite templates being issued)",
)
def put_settings(req: Req):
    return services.put_settings(req.principal, req.body)


@route(
    distribution_api,
    "/admin/distributors",
    "GET",
    roles=HQ,
    query=DistributorsQuery,
    response=PageOut[DistributorOut],
    tag=TAG,
    errors=(422,),
    summary="Distributors by status (applied, active)",
)
def list_distributors(req: Req):
    return services.distributors(req.query.status, req.query.limit, req.query.next)


@route(
    distribution_api,
    "/admin/distributors/{member_id}/approve",
    "POST",
    roles=HQ,
    response=DistributorOut,
    tag=TAG,
    errors=(404,),
    summary="Make a member a distributor",
)
def approve_distributor(req: Req, member_id: str):
    return services.approve(member_id)


@route(
    distribution_api,
    "/admin/withdrawals",
    "GET",
    roles=HQ,
    query=WithdrawalsQuery,
    response=PageOut[WithdrawalOut],
    tag=TAG,
    errors=(422,),
    summary="Commission withdrawals by status",
)
def list_withdrawals(req: Req):
    return services.withdrawals(req.query.status, req.query.limit, req.query.next)


@route(
    distribution_api,
    "/admin/withdrawals/{withdrawal_id}/approve",
    "POST",
    roles=HQ,
    response=WithdrawalOut,
    tag=TAG,
    errors=(404, 409),
    summary="Approve and pay a withdrawal (wallet principal or WeChat change)",
)
def approve_withdrawal(req: Req, withdrawal_id: str):
    return services.approve_withdrawal(req.principal, withdrawal_id)


@route(
    distribution_api,
    "/admin/withdrawals/{withdrawal_id}/reject",
    "POST",
    roles=HQ,
    body=RejectIn,
    response=WithdrawalOut,
    tag=TAG,
    errors=(404, 409, 422),
    summary="Reject a withdrawal: the amount returns to the available balance",
)
def reject_withdrawal(req: Req, withdrawal_id: str):
    return services.reject_withdrawal(req.principal, withdrawal_id, req.body.reason)


@route(
    distribution_api,
    "/admin/distribution/report",
    "GET",
    roles=HQ,
    query=ReportQuery,
    response=ReportOut,
    tag=TAG,
    errors=(422,),
    summary="Per distributor: orders, sales_fen, commission_fen, ranked by order= (format=csv: UTF-8 BOM)",
)
def report(req: Req):
    out = services.report(req.query)
    if req.query.format == "csv":
        return Result(services.report_csv(out), content_type="text/csv; charset=utf-8")
    return out


@route(
    distribution_api,
    "/admin/promoters",
    "POST",
    roles=HQ,
    body=PromoterIn,
    response=PromoterOut,
    status=201,
    tag=TAG,
    errors=(422,),
    summary="Create a promoter (派单) who hands out flyer scenes",
)
def create_promoter(req: Req):
    return flyers.create_promoter(req.body)


@route(
    distribution_api,
    "/admin/promoters",
    "GET",
    roles=HQ,
    query=PageQuery,
    response=PageOut[PromoterOut],
    tag=TAG,
    errors=(422,),
    summary="Promoters, newest first",
)
def list_promoters(req: Req):
    return flyers.promoters(req.query.limit, req.query.next)


@route(
    distribution_api,
    "/admin/promoters/{promoter_id}/flyers",
    "POST",
    roles=HQ,
    body=FlyersIn,
    response=FlyersOut,
    status=201,
    idempotent=True,
    tag=TAG,
    errors=(404, 409, 422),
    summary="A batch of flyer scenes (<= 32 characters) for a promoter",
)
def create_flyers(req: Req, promoter_id: str):
    return flyers.create_flyers(promoter_id, req.body)


@route(
    distribution_api,
    "/admin/promoters/funnel",
    "GET",
    roles=HQ,
    query=FunnelQuery,
    response=FunnelOut,
    tag=TAG,
    errors=(422,),
    summary="Per promoter and flyer: scanned, registered, first_order, orders, sales_fen (business days)",
)
def promoter_funnel(req: Req):
    return flyers.funnel(req.query)


# --------------------------------------------------------------------------------------- shop
@route(
    distribution_api,
    "/shop/distribution/me",
    "GET",
    roles=MEMBERS,
    response=MeOut,
    tag="shop",
    summary="My distributor summary: status, share code, balances, team sizes",
)
def my_summary(req: Req):
    return services.me(req.principal)


@route(
    distribution_api,
    "/shop/distribution/apply",
    "POST",
    roles=MEMBERS,
    response=MeOut,
    tag="shop",
    errors=(409,),
    summary="Apply to become a distributor",
)
def apply(req: Req):
    return services.apply(req.principal)


@route(
    distribution_api,
    "/shop/distribution/commissions",
    "GET",
    roles=MEMBERS,
    query=PageQuery,
    response=PageOut[CommissionOut],
    tag="shop",
    errors=(422,),
    summary="My commission records: one per order line and level",
)
def my_commissions(req: Req):
    return services.commissions(req.principal, req.query.limit, req.query.next)


@route(
    distribution_api,
    "/shop/distribution/team",
    "GET",
    roles=MEMBERS,
    query=TeamQuery,
    response=PageOut[TeamMemberOut],
    tag="shop",
    errors=(422,),
    summary="My team: level 1 or level 2",
)
def my_team(req: Req):
    return services.team(req.principal, req.query.level, req.query.limit, req.query.next)


@route(
    distribution_api,
    "/shop/distribution/withdrawals",
    "POST",
    roles=MEMBERS,
    body=WithdrawalIn,
    response=WithdrawalOut,
    status=201,
    idempotent=True,
    key_required=True,
    tag="shop",
    errors=(409, 422),
    summary="Withdraw available commission (to wallet or WeChat change); PENDING_REVIEW",
)
def request_withdrawal(req: Req):
    return services.request_withdrawal(req.principal, req.body)


@route(
    distribution_api,
    "/shop/distribution/withdrawals",
    "GET",
    roles=MEMBERS,
    query=PageQuery,
    response=PageOut[WithdrawalOut],
    tag="shop",
    errors=(422,),
    summary="My withdrawals",
)
def my_withdrawals(req: Req):
    return services.my_withdrawals(req.principal, req.query.limit, req.query.next)


@route(
    distribution_api,
    "/shop/share-codes",
    "POST",
    roles=MEMBERS,
    body=ShareCodeIn,
    response=ShareCodeOut,
    tag="shop",
    errors=(409, 422),
    summary="My share scene (<= 32 characters) for a referral or a product",
)
def share_code(req: Req):
    return services.share_code(req.principal, req.body)


@route(
    distribution_api,
    "/shop/scenes/{scene}",
    "GET",
    roles=None,
    response=SceneOut,
    tag="shop",
    errors=(404,),
    summary="Resolve a scanned scene (no login; counts the scan)",
)
def resolve_scene(req: Req, scene: str):
    return services.resolve_scene(scene)
