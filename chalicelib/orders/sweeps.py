"""The unpaid sweep: orders past their pay deadline are cancelled and their stock goes back."""

from __future__ import annotations

from datetime import datetime, timedelta

from chalicelib.core import clock
from chalicelib.core.dynamo import TxCancelled, get_mark, set_mark
from chalicelib.orders import repository
from chalicelib.orders.fulfilment import cancel_unpaid


def sweep_unpaid(now: datetime | None = None, max_hours_back: int = 48) -> dict[str, int]:
    """Cancel every unpaid order whose deadline has passed and return its stock.

    Reads only the due hour buckets of the sparse gsi3 (from the last fully swept hour to now), never the
    whole table. Safe to run concurrently or twice: each cancel is conditional on PENDING_PAYMENT.
    """
    now = now or clock.now()
    until = clock.iso(now)
    last = get_mark("unpaid")
    start = now - timedelta(hours=max_hours_back)
    if last:
        start = max(start, datetime.fromisoformat(last + ":00:00+00:00") + timedelta(hours=1))
    hour = start.replace(minute=0, second=0, microsecond=0)
    cancelled = read = 0
    while hour <= now:
        for item in repository.due(hour, until):
            read += 1
            try:
                cancel_unpaid(item, "payment_timeout", "system")
                cancelled += 1
            except TxCancelled:
                pass  # paid or cancelled meanwhile
        hour += timedelta(hours=1)
    previous_hour = (now - timedelta(hours=1)).strftime("%Y-%m-%dT%H")
    if last is None or previous_hour > last:
        set_mark("unpaid", previous_hour)
    return {"read": read, "cancelled": cancelled}
