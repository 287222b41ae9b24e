"""Scheduled jobs of the points domain. Times are UTC (EventBridge); the job works out BUSINESS_TZ days itself."""

from __future__ import annotations

from chalice import Blueprint

from chalicelib.core.logging import logger

points_jobs = Blueprint(__name__)


@points_jobs.schedule(
    "cron(10 16 * * ? *)",
    name="expire_points",
    description="00:10 Asia/Shanghai: expire what is left of lots whose last day is over (FIFO)",
)
def expire_points(event):
    from chalicelib.points import services  # on first run, not when app.py imports this

    result = services.expire_due()
    logger.info("points expiry", extra=result)
    return result
