from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, Field, StringConstraints

from chalicelib.core import phones
from chalicelib.core.schemas import Body, Name, Out, PageQuery, Ulid
from chalicelib.sms import domain


def _mobile(v: str) -> str:
    phone = phones.normalize(v)
    if phone is None:
        raise ValueError("not a mainland China mobile number")
    return phone


Mobile = Annotated[str, StringConstraints(max_length=20), AfterValidator(_mobile)]


class ContactsIn(Body):
    phones: list[Mobile] = Field(
        min_length=1,
        max_length=5,
        description="Mobile numbers told about the store's alerts (printer offline, print failed, low stock)",
    )
    name: Name | None = None


class ContactsOut(Out):
    scope: str = Field(description="A store_id, or HQ")
    phones: list[str]
    name: str | None = None
    updated_at: datetime | None = None


class OutboxQuery(PageQuery):
    phone: Mobile | None = Field(default=None, description="A mainland China mobile number (422 if it is not one)")


class OutboxOut(Out):
    key: str
    phone: str
    template: str
    category: str
    params: dict[str, Any]
    text: str
    sent_at: str


class OptOutIn(Body):
    phone: Mobile


class OptOutOut(Out):
    phone_masked: str
    marketing: bool


class MarketingPreference(Body):
    subscribed: bool = Field(description="false: no marketing SMS to my number (order notices still come)")


class CampaignIn(Body):
    phones: list[Mobile] = Field(min_length=1, max_length=500)
    content: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=domain.MAX_PARAM_LEN)]
    store_id: Ulid | None = None


class CampaignOut(Out):
    campaign_id: str
    queued: int
