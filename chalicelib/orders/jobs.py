"""Scheduled jobs of the orders domain."""

from __future__ import annotations

from chalice import Blueprint

from chalicelib.core.logging import logger

orders_jobs = Blueprint(__name__)


@orders_jobs.schedule(
    "rate(1 minute)",
    name="sweep_unpaid_orders",
    description="Cancel unpaid orders past pay_deadline and return their stock",
)
def sweep_unpaid_orders(event):
    from chalicelib.orders import sweeps  # on first run, not when app.py imports this

    result = sweeps.sweep_unpaid()
    logger.info("unpaid sweep", extra=result)
    return result


@orders_jobs.schedule(
    "rate(1 minute)",
    name="query_processing_refunds",
    description="Ask WeChat Pay about PROCESSING refunds whose next query is due; settle the finished ones once",
)
def query_processing_refunds(event):
    from chalicelib.orders import sweeps  # on first run, not when app.py imports this

    result = sweeps.sweep_refunds()
    logger.info("refund query", extra=result)
    return result


@orders_jobs.schedule(
    "rate(1 minute)",
    name="sweep_unaccepted_orders",
    description="Paid online orders nobody accepted: remind, escalate, refund (store deadlines, opening hours)",
)
def sweep_unaccepted_orders(event):
    from chalicelib.orders import sweeps  # on first run, not when app.py imports this

    result = sweeps.sweep_accept()
    logger.info("accept deadline sweep", extra=result)
    return result
