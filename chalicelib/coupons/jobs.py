"""Scheduled jobs of the coupons domain. Times are UTC (EventBridge); the jobs work out BUSINESS_TZ days
themselves, so a different zone only shifts when they run, not what they do."""

from __future__ import annotations

from chalice import Blueprint

from chalicelib.core.logging import logger

coupons_jobs = Blueprint(__name__)


@coupons_jobs.schedule(
    "cron(5 16 * * ? *)",
    name="expire_coupons",
    description="00:05 Asia/Shanghai: mark coupons whose last day is over as EXPIRED",
)
def expire_coupons(event):
    from chalicelib.coupons import services  # on first run, not when app.py imports this

    result = services.sweep_expired()
    logger.info("coupon expiry sweep", extra=result)
    return result


@coupons_jobs.schedule(
    "cron(0 2 * * ? *)",
    name="remind_expiring_coupons",
    description="10:00 Asia/Shanghai: CouponExpiring for coupons ending in 3 days (SMS)",
)
def remind_expiring_coupons(event):
    from chalicelib.coupons import services  # on first run, not when app.py imports this

    result = services.remind_expiring()
    logger.info("coupon expiry reminders", extra=result)
    return result
