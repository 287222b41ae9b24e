"""Scheduled job of the ledger audit. Times are UTC (EventBridge); the job works out BUSINESS_TZ days itself."""

from __future__ import annotations

from chalice import Blueprint

from chalicelib.core.logging import logger

audit_jobs = Blueprint(__name__)


@audit_jobs.schedule(
    "cron(30 16 * * ? *)",
    name="audit_ledgers",
    description="00:30 Asia/Shanghai: balance == sum(ledger) for every account changed yesterday",
)
def audit_ledgers(event):
    from chalicelib.audit import services  # on first run, not when app.py imports this

    result = services.audit_due()
    logger.info("ledger audit", extra=result)
    return result
