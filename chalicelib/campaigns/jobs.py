"""Campaign schedules and the campaigns queue's consumer. Times are UTC (EventBridge).

Every campaign's own schedule is evaluated by ``dispatch_campaigns`` (one EventBridge rule for all campaigns):
it starts the runs that are due and fans their members out to the campaigns queue, which ``handle_campaign_batch``
consumes."""

from __future__ import annotations

import os

from chalice import Blueprint

from chalicelib.core.logging import logger
from chalicelib.core.queues import process_batch

campaigns_jobs = Blueprint(__name__)

# Deployment wiring only (see core.events): `chalice package` reads the stage's queue name here.
CAMPAIGN_QUEUE = os.environ.get("CAMPAIGN_QUEUE_NAME", "omnistore-dev-campaigns")


@campaigns_jobs.schedule(
    "rate(1 minute)",
    name="dispatch_campaigns",
    description="Start the campaign runs that are due (each campaign's cron/rate/at, UTC) and fan them out",
)
def dispatch_campaigns(event):
    from chalicelib.campaigns import services  # on first run, not when app.py imports this

    result = services.dispatch()
    if result["fired"] or result["resumed"]:
        logger.info("campaign runs started", extra=result)
    return result


@campaigns_jobs.on_sqs_message(queue=CAMPAIGN_QUEUE, batch_size=1, name="handle_campaign_batch")
def handle_campaign_batch(event):
    from chalicelib.campaigns import services  # on first run, not when app.py imports this

    return process_batch(event, services.run_batch)


@campaigns_jobs.schedule(
    "cron(30 17 * * ? *)",
    name="campaign_rule_tags",
    description="01:30 Asia/Shanghai: rule tags (big spender, dormant, category lovers) of members that changed",
)
def campaign_rule_tags(event):
    from chalicelib.campaigns import services  # on first run, not when app.py imports this

    result = services.recompute_rule_tags()
    logger.info("rule tags", extra=result)
    return result
