"""Scheduled jobs of the orders domain."""

from __future__ import annotations

from chalice import Blueprint

from chalicelib.core.logging import logger
from chalicelib.orders import sweeps

orders_jobs = Blueprint(__name__)


@orders_jobs.schedule(
    "rate(1 minute)",
    name="sweep_unpaid_orders",
    description="Cancel unpaid orders past pay_deadline and return their stock",
)
def sweep_unpaid_orders(event):
    result = sweeps.sweep_unpaid()
    logger.info("unpaid sweep", extra=result)
    return result
