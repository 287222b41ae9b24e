"""The campaigns' error codes (the contract's ``code``; the AppError class raised decides the HTTP status)."""

from __future__ import annotations

from chalicelib.core.errors import ErrorCode


class CampaignCode(ErrorCode):
    # 404: no such tag (define it with POST /admin/tags first)
    TAG_NOT_FOUND = "TAG_NOT_FOUND"
    # 409: a tag of that name exists
    TAG_EXISTS = "TAG_EXISTS"
    # 404: no such segment
    SEGMENT_NOT_FOUND = "SEGMENT_NOT_FOUND"
    # 404: no such campaign
    CAMPAIGN_NOT_FOUND = "CAMPAIGN_NOT_FOUND"
    # 422: the schedule is not an EventBridge expression (cron(...) / rate(...)) or {at}; details say why
    INVALID_SCHEDULE = "INVALID_SCHEDULE"
    # 422: an action type given twice, or a triggered campaign whose end_at is past (the body's shape - exactly one
    # of schedule and trigger, of segment_id and recipe when scheduled - is a VALIDATION_ERROR)
    INVALID_CAMPAIGN = "INVALID_CAMPAIGN"
    # 422: an SMS action names an unknown or non-marketing template, or its params do not fit it
    INVALID_SMS_TEMPLATE = "INVALID_SMS_TEMPLATE"
    # 409: the campaign is not in a state that allows this (pause a paused or ended one, resume an ended one)
    CAMPAIGN_STATE = "CAMPAIGN_STATE"
