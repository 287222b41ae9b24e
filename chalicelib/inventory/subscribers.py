"""What inventory reacts to: every stock movement is checked against its low-stock threshold."""

from __future__ import annotations

from chalicelib.core.events import Subscription
from chalicelib.inventory.services import on_stock_moved

SUBSCRIPTIONS = [Subscription("StockMoved", "low-stock", on_stock_moved)]
