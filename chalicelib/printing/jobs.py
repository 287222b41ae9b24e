"""Print queue consumer and the printer health check.

On Lambda each handler is loaded from this module (not from app.py); they need nothing that app.py registers.
"""

from __future__ import annotations

import os

from chalice import Blueprint

from chalicelib.core.logging import logger
from chalicelib.core.queues import process_batch

printing_jobs = Blueprint(__name__)

# Deployment wiring only (see core.events): `chalice package` reads the stage's queue name here.
PRINT_QUEUE = os.environ.get("PRINT_QUEUE_NAME", "omnistore-dev-print")


@printing_jobs.on_sqs_message(queue=PRINT_QUEUE, batch_size=10, name="handle_print_requests")
def handle_print_requests(event):
    from chalicelib.printing import services  # on first run, not when app.py imports this

    return process_batch(event, services.handle_print_request)


@printing_jobs.schedule(
    "rate(1 minute)",
    name="check_printers",
    description="Mark printers that stopped polling offline; alert once per outage",
)
def check_printers(event):
    from chalicelib.printing import services  # on first run, not when app.py imports this

    result = services.check_printers()
    if result["offline"]:
        logger.warning("printers went offline", extra=result)
    return result
