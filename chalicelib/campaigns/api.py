"""Tags, segments and campaigns (head office). Handlers are thin: parse, one service call."""

from __future__ import annotations

from chalice import Blueprint

from chalicelib.campaigns import services
from chalicelib.campaigns.schemas import (
    CampaignIn,
    CampaignOut,
    MemberTagsOut,
    PreviewOut,
    RunOut,
    SegmentIn,
    SegmentOut,
    TagIn,
    TagOut,
    TagsOut,
)
from chalicelib.core.auth import HQ
from chalicelib.core.http import Req, route
from chalicelib.core.schemas import PageOut, PageQuery

campaigns_api = Blueprint(__name__)


@route(
    campaigns_api,
    "/admin/tags",
    "POST",
    roles=HQ,
    body=TagIn,
    response=TagOut,
    status=201,
    idempotent=True,
    tag="campaigns",
    errors=(409,),
    summary="Define a tag head office can give members",
)
def create_tag(req: Req):
    return services.create_tag(req.body)


@route(
    campaigns_api,
    "/admin/tags",
    "GET",
    roles=HQ,
    query=PageQuery,
    response=TagsOut,
    tag="campaigns",
    summary="Tags: rule tags (recomputed nightly) and defined ones",
)
def list_tags(req: Req):
    return services.list_tags(req.query.limit, req.query.next)


@route(
    campaigns_api,
    "/admin/members/{member_id}/tags",
    "GET",
    roles=HQ,
    response=MemberTagsOut,
    tag="campaigns",
    errors=(404,),
    summary="A member's tags (manual and rule)",
)
def member_tags(req: Req, member_id: str):
    return services.member_tags(member_id)


@route(
    campaigns_api,
    "/admin/members/{member_id}/tags/{tag}",
    "PUT",
    roles=HQ,
    response=MemberTagsOut,
    tag="campaigns",
    errors=(404,),
    summary="Give a member a tag",
)
def tag_member(req: Req, member_id: str, tag: str):
    return services.set_member_tag(member_id, tag, True)


@route(
    campaigns_api,
    "/admin/members/{member_id}/tags/{tag}",
    "DELETE",
    roles=HQ,
    response=MemberTagsOut,
    tag="campaigns",
    errors=(404,),
    summary="Take a tag from a member",
)
def untag_member(req: Req, member_id: str, tag: str):
    return services.set_member_tag(member_id, tag, False)


@route(
    campaigns_api,
    "/admin/segments",
    "POST",
    roles=HQ,
    body=SegmentIn,
    response=SegmentOut,
    status=201,
    idempotent=True,
    tag="campaigns",
    summary="Define a segment (all rules must hold)",
)
def create_segment(req: Req):
    return services.create_segment(req.body)


@route(
    campaigns_api,
    "/admin/segments",
    "GET",
    roles=HQ,
    query=PageQuery,
    response=PageOut[SegmentOut],
    tag="campaigns",
    summary="Segments, newest first",
)
def list_segments(req: Req):
    return services.list_segments(req.query.limit, req.query.next)


@route(
    campaigns_api,
    "/admin/segments/{segment_id}/preview",
    "GET",
    roles=HQ,
    response=PreviewOut,
    tag="campaigns",
    errors=(404,),
    summary="How many members a segment has now, and a sample",
)
def preview_segment(req: Req, segment_id: str):
    return services.preview(segment_id)


@route(
    campaigns_api,
    "/admin/campaigns",
    "POST",
    roles=HQ,
    body=CampaignIn,
    response=CampaignOut,
    status=201,
    idempotent=True,
    tag="campaigns",
    errors=(404, 409, 422),
    summary="Create a campaign: audience, schedule (EventBridge cron/rate, UTC, or at), actions",
)
def create_campaign(req: Req):
    return services.create_campaign(req.body)


@route(
    campaigns_api,
    "/admin/campaigns",
    "GET",
    roles=HQ,
    query=PageQuery,
    response=PageOut[CampaignOut],
    tag="campaigns",
    summary="Campaigns, newest first",
)
def list_campaigns(req: Req):
    return services.list_campaigns(req.query.limit, req.query.next)


@route(
    campaigns_api,
    "/admin/campaigns/{campaign_id}",
    "GET",
    roles=HQ,
    response=CampaignOut,
    tag="campaigns",
    errors=(404,),
    summary="One campaign",
)
def get_campaign(req: Req, campaign_id: str):
    return services.get_campaign(campaign_id)


@route(
    campaigns_api,
    "/admin/campaigns/{campaign_id}/pause",
    "POST",
    roles=HQ,
    response=CampaignOut,
    tag="campaigns",
    errors=(404, 409),
    summary="Pause a campaign (no run starts while paused)",
)
def pause_campaign(req: Req, campaign_id: str):
    return services.set_paused(campaign_id, True)


@route(
    campaigns_api,
    "/admin/campaigns/{campaign_id}/resume",
    "POST",
    roles=HQ,
    response=CampaignOut,
    tag="campaigns",
    errors=(404, 409),
    summary="Resume a paused campaign (next fire time from now)",
)
def resume_campaign(req: Req, campaign_id: str):
    return services.set_paused(campaign_id, False)


@route(
    campaigns_api,
    "/admin/campaigns/{campaign_id}/runs",
    "GET",
    roles=HQ,
    query=PageQuery,
    response=PageOut[RunOut],
    tag="campaigns",
    errors=(404,),
    summary="A campaign's runs, newest first: targeted, sent, skipped by reason, coupons, redeemed, revenue",
)
def campaign_runs(req: Req, campaign_id: str):
    return services.runs(campaign_id, req.query.limit)
