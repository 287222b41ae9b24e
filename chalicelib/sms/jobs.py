"""SMS queue consumer, the release of held marketing, and the dead-letter watch (ops alerts by SMS).

On Lambda each handler is loaded from this module (not from app.py); they need nothing that app.py registers.
"""

from __future__ import annotations

import os

from chalice import Blueprint

from chalicelib.core.logging import logger
from chalicelib.core.queues import process_batch

sms_jobs = Blueprint(__name__)

# Deployment wiring only (see core.events): `chalice package` reads the stage's queue name here.
SMS_QUEUE = os.environ.get("SMS_QUEUE_NAME", "omnistore-dev-sms")


@sms_jobs.on_sqs_message(queue=SMS_QUEUE, batch_size=10, name="handle_sms")
def handle_sms(event):
    from chalicelib.sms import services  # on first run, not when app.py imports this

    return process_batch(event, services.handle_sms_record)


@sms_jobs.schedule(
    "rate(5 minutes)",
    name="release_held_sms",
    description="Queue marketing SMS held during quiet hours once they are over",
)
def release_held_sms(event):
    from chalicelib.sms import services  # on first run, not when app.py imports this

    result = services.release_held()
    if result["released"]:
        logger.info("held sms released", extra=result)
    return result


@sms_jobs.schedule(
    "rate(5 minutes)",
    name="watch_dead_letters",
    description="Text head office once when a dead-letter queue starts filling",
)
def watch_dead_letters(event):
    from chalicelib.sms import services  # on first run, not when app.py imports this

    return services.watch_dead_letters()
