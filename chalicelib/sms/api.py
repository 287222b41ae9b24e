"""SMS: who receives alerts, marketing consent, campaigns, and the local outbox."""

from __future__ import annotations

from chalice import Blueprint

from chalicelib.core.auth import HQ, MANAGERS, MEMBERS
from chalicelib.core.errors import NotFound
from chalicelib.core.http import Req, route
from chalicelib.core.ids import is_ulid
from chalicelib.core.schemas import PageOut
from chalicelib.core.settings import get_settings
from chalicelib.sms import services
from chalicelib.sms.models import HQ_SCOPE
from chalicelib.sms.schemas import (
    CampaignIn,
    CampaignOut,
    ContactsIn,
    ContactsOut,
    MarketingPreference,
    OptOutIn,
    OptOutOut,
    OutboxOut,
    OutboxQuery,
)
from chalicelib.stores.errors import StoreCode

sms_api = Blueprint(__name__)


@route(
    sms_api,
    "/admin/sms/contacts/{scope}",
    "PUT",
    roles=MANAGERS,
    body=ContactsIn,
    response=ContactsOut,
    tag="sms",
    summary="Mobile numbers told about a store's alerts (scope: store_id), or head office's (HQ)",
)
def set_sms_contacts(req: Req, scope: str):
    if scope != HQ_SCOPE and not is_ulid(scope):
        raise NotFound("No such store", code=StoreCode.STORE_NOT_FOUND)
    return services.set_contacts(req.principal, scope, req.body)


@route(
    sms_api,
    "/admin/sms/contacts",
    "GET",
    roles=MANAGERS,
    response=list[ContactsOut],
    tag="sms",
    summary="Alert contacts (managers: their own store)",
)
def list_sms_contacts(req: Req):
    return services.list_contacts(req.principal)


@route(
    sms_api,
    "/admin/sms/opt-outs",
    "POST",
    roles=HQ,
    body=OptOutIn,
    response=OptOutOut,
    tag="sms",
    summary="Record that a number refuses marketing SMS (e.g. replied R)",
)
def sms_opt_out(req: Req):
    return services.admin_opt_out(req.body.phone)


@route(
    sms_api,
    "/admin/sms/campaigns",
    "POST",
    roles=HQ,
    body=CampaignIn,
    response=CampaignOut,
    status=202,
    idempotent=True,
    tag="sms",
    errors=(404, 502),
    summary="Marketing SMS to numbers: never to opted-out numbers, held during quiet hours (21:00-09:00)",
)
def sms_campaign(req: Req):
    return services.campaign(req.principal, req.body)


@route(
    sms_api,
    "/admin/sms/outbox",
    "GET",
    roles=HQ,
    query=OutboxQuery,
    response=PageOut[OutboxOut],
    tag="sms",
    summary="Messages the local outbox provider 'sent', newest first - local stage only, 404 elsewhere",
    available=lambda: get_settings().is_local,
)
def sms_outbox(req: Req):
    return services.outbox(req.query.phone, req.query.limit, req.query.next)


@route(
    sms_api,
    "/shop/sms/marketing",
    "PUT",
    roles=MEMBERS,
    body=MarketingPreference,
    response=OptOutOut,
    tag="shop",
    summary="Marketing SMS on or off for my number (order notices are always sent)",
)
def sms_marketing_preference(req: Req):
    return services.member_marketing(req.principal, req.body.subscribed)
