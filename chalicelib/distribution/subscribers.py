"""What distribution reacts to: a member who joined by a share scene is bound to its referrer; a completed
order's commission records start their freeze; a refund reverses them in proportion."""

from __future__ import annotations

from chalicelib.core.events import Subscription
from chalicelib.distribution.services import on_member_joined, on_order_completed, on_refund_completed

SUBSCRIPTIONS = [
    Subscription("MemberJoined", "distribution.bind", on_member_joined),
    Subscription("OrderCompleted", "distribution.due", on_order_completed),
    Subscription("RefundCompleted", "distribution.reverse", on_refund_completed),
]
