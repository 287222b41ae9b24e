"""What reports react to: paid orders and completed refunds (sales aggregates, pairs), stock moves (stock value)."""

from __future__ import annotations

from chalicelib.core.events import Subscription
from chalicelib.reports.services import on_order_paid, on_refund_completed, on_stock_moved

SUBSCRIPTIONS = [
    Subscription("OrderPaid", "reports.sale", on_order_paid),
    Subscription("RefundCompleted", "reports.refund", on_refund_completed),
    Subscription("StockMoved", "reports.stock", on_stock_moved),
]
