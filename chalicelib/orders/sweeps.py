"""Sweeps of due items, each reading only the hour buckets of the sparse gsi3 that came due since its mark:

- the unpaid sweep: orders past their pay deadline are cancelled and their stock goes back;
- the refund query: PROCESSING refunds whose next query is due are asked of WeChat Pay (their notification
  usually comes first; whichever comes first settles them, once);
- the accept deadline: paid online orders nobody accepted - remind the store (SMS and a reprint), escalate
  (SMS to the store's contacts and head office), refund and tell the customer, each after the store's minutes
  counted within its opening hours.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta

from chalicelib.core import clock, events
from chalicelib.core.dynamo import TxCancelled, get_mark, set_mark, transaction
from chalicelib.core.errors import AppError
from chalicelib.core.events import Event
from chalicelib.orders import domain, refunds, repository
from chalicelib.orders.fulfilment import cancel_unpaid
from chalicelib.orders.models import ACCEPT_DUE, PAY_DUE, REFUND_DUE, OrderItem
from chalicelib.stores import domain as store_domain
from chalicelib.stores import services as stores


def _due(mark: str, prefix: str, now: datetime, first_hours_back: int) -> Iterator:
    """Every item of the ``prefix`` buckets due by ``now``, from the hour after the last fully swept one (however
    long ago: after an outage nothing due is left unread); the mark moves to the previous hour once its buckets
    have been read (items are only ever moved to later times)."""
    until = clock.iso(now)
    last = get_mark(mark)
    for hour in clock.hours_since(last, now, first_hours_back):
        yield from repository.due(hour, until, prefix)
    previous_hour = (now - timedelta(hours=1)).strftime(clock.HOUR_MARK)
    if last is None or previous_hour > last:
        set_mark(mark, previous_hour)


def _sweep(
    mark: str, prefix: str, act: Callable, now: datetime | None, first_hours_back: int = 48, counts: tuple = ()
) -> dict[str, int]:
    now = now or clock.now()
    result = {"read": 0} | {c: 0 for c in counts}
    for item in _due(mark, prefix, now, first_hours_back):
        result["read"] += 1
        outcome = act(item, now)
        result[outcome] = result.get(outcome, 0) + 1
    return result


# --------------------------------------------------------------------------------------- unpaid orders
def _cancel(item: OrderItem, now: datetime) -> str:
    try:
        cancel_unpaid(item, "payment_timeout", "system")
        return "cancelled"
    except TxCancelled:
        return "skipped"  # paid or cancelled meanwhile


def sweep_unpaid(now: datetime | None = None, first_hours_back: int = 48) -> dict[str, int]:
    """Cancel every unpaid order whose deadline has passed and return its stock. Safe to run concurrently or
    twice: each cancel is conditional on PENDING_PAYMENT."""
    return _sweep("unpaid", PAY_DUE, _cancel, now, first_hours_back, ("cancelled",))


# --------------------------------------------------------------------------------------- refunds in progress
def sweep_refunds(now: datetime | None = None) -> dict[str, int]:
    """Query every PROCESSING refund whose next query is due; settle the finished ones (once)."""
    return _sweep("refunds", REFUND_DUE, lambda r, _now: refunds.query_processing(r), now, counts=("completed",))


# --------------------------------------------------------------------------------------- accept deadline
def _store(store_id: str):
    return next((s for s in stores.chain() if s.store_id == store_id), None)


def _accept_step(item: OrderItem, now: datetime) -> str:
    """Take the next due step of a paid order nobody accepted, or move it to when that step is due."""
    store = _store(item.store_id)
    step = domain.next_accept_step(getattr(store, "accept_deadlines", None), int(item.accept_step or 0))
    if item.status != domain.PAID or step is None:
        return _unwatch(item)
    number, name, minutes = step
    tz = clock.business_tz()
    periods = store_domain.periods_from(store.opening_hours) if store is not None else []
    due = store_domain.after_open_minutes(periods, clock.parse(item.paid_at).astimezone(tz), minutes)
    if due > now:
        return _watch(item, item.accept_step, due, [])
    overdue = Event(
        "OrderAcceptOverdue",
        {
            "order_id": item.order_id,
            "store_id": item.store_id,
            "step": name,
            "after_min": minutes,
            "paid_at": item.paid_at,
            "payable_fen": int(item.payable_fen),
            "fulfillment": item.fulfillment,
            "customer": item.customer,
        },
    )
    if name == "refund":
        try:
            refunds.auto_refund(item, "门店超时未接单，自动退款", [overdue])
        except AppError:  # changed meanwhile (accepted, refunded): nothing to do
            return "skipped"
        return name
    # the next look, a minute on, works out when the next step is due (in opening hours) and waits for it
    return name if _watch(item, number, now + timedelta(minutes=1), [overdue]) != "skipped" else "skipped"


def _watch(item: OrderItem, step: int | None, at: datetime, reported: list[Event]) -> str:
    try:
        with transaction() as tx:
            actions = [OrderItem.accept_step.set(int(step or 0))] + repository.accept_due_index(
                clock.iso(at), item.order_id
            )
            repository.change(tx, item, domain.PAID, actions)
            events.add(tx, reported)
        return "waiting"
    except TxCancelled:
        return "skipped"


def _unwatch(item: OrderItem) -> str:
    try:
        with transaction() as tx:
            repository.change(tx, item, item.status, repository.leave_due_index())
        return "done"
    except TxCancelled:
        return "skipped"


def sweep_accept(now: datetime | None = None) -> dict[str, int]:
    """Every paid online order whose next accept-deadline step is due: remind, escalate or refund it."""
    return _sweep("accept", ACCEPT_DUE, _accept_step, now, counts=("remind", "escalate", "refund"))
