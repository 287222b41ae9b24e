"""Scheduled jobs of distribution. Times are UTC (EventBridge)."""

from __future__ import annotations

from chalice import Blueprint

from chalicelib.core.logging import logger

distribution_jobs = Blueprint(__name__)


@distribution_jobs.schedule(
    "rate(1 hour)",
    name="settle_commissions",
    description="Commission records whose order completed freeze_days ago: FROZEN -> AVAILABLE (due-hour buckets)",
)
def settle_commissions(event):
    from chalicelib.distribution import services  # on first run, not when app.py imports this

    result = services.settle_due()
    logger.info("commission settlement", extra=result)
    return result


@distribution_jobs.schedule(
    "rate(1 hour)",
    name="grant_invite_gifts",
    description="Inviter gifts whose invitee's first order completed freeze_days ago (due-hour buckets)",
)
def grant_invite_gifts(event):
    from chalicelib.distribution import invites  # on first run, not when app.py imports this

    result = invites.grant_due()
    logger.info("invite gifts", extra=result)
    return result


@distribution_jobs.schedule(
    "rate(10 minutes)",
    name="query_paying_withdrawals",
    description="Withdrawals to WeChat change still PAYING: asks WeChat, sends again if it never got one, closes",
)
def query_paying_withdrawals(event):
    from chalicelib.distribution import services  # on first run, not when app.py imports this

    result = services.query_paying()
    logger.info("paying withdrawals", extra=result)
    return result
