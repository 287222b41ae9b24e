"""The events queue's consumer: every domain event goes to the subscriptions of ``chalicelib.subscriptions``.

Lambda loads ``handle_events`` from this module (Chalice's handler string names it); app.py registers the blueprint
and imports nothing else of the subscribers: they (and every service behind them) load on the first batch, so the
API Lambda, which also imports app.py, never pays for them."""

from __future__ import annotations

from chalice import Blueprint

from chalicelib.core import events
from chalicelib.core.queues import process_batch

events_consumer = Blueprint(__name__)


@events_consumer.on_sqs_message(queue=events.EVENTS_QUEUE, batch_size=10, name="handle_events")
def handle_events(event):
    from chalicelib import subscriptions  # on first run, not when app.py imports this

    ctx = event.context
    return process_batch(event, lambda body: events.handle_record(body, subscriptions.SUBSCRIPTIONS, ctx))
