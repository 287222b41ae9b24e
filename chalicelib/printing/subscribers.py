"""Events that print: an order paid (shop or till) and a completed refund. Each handler runs once per event
(core.events) and only queues a print request; the print worker does the rest."""

from __future__ import annotations

from chalicelib.core.events import Subscription
from chalicelib.printing import domain, services


def on_order_paid(event: dict) -> None:
    services.request_print(domain.ORDER, "order", event["data"])


def on_refund_completed(event: dict) -> None:
    data = event["data"]
    if data["refund"].get("kind") == "late_payment":
        return  # money back for an order that was cancelled before it was paid: nothing for the store
    services.request_print(domain.REFUND, f"refund-{data['refund']['refund_id']}", data)


def on_accept_overdue(event: dict) -> None:
    """The store's first reminder of an order nobody accepted: its ticket again on every printer."""
    data = event["data"]
    if data["step"] == "remind":
        order = {"order_id": data["order_id"], "store_id": data["store_id"]}
        services.request_print(domain.REPRINT, f"reprint-{event['id']}", order, source_doc="order")


SUBSCRIPTIONS = [
    Subscription("OrderPaid", "printing", on_order_paid, live_only=True),
    Subscription("RefundCompleted", "printing", on_refund_completed, live_only=True),
    Subscription("OrderAcceptOverdue", "printing", on_accept_overdue, live_only=True),
]
