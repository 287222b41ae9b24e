"""What points react to: sign-up points, points for completed orders, refunds (used points back, earned points
taken back), and putting points returned by a cancelled checkout into a lot."""

from __future__ import annotations

from chalicelib.core.events import Subscription
from chalicelib.points.services import on_member_joined, on_order_completed, on_points_returned, on_refund_completed

SUBSCRIPTIONS = [
    Subscription("MemberJoined", "points.signup", on_member_joined),
    Subscription("OrderCompleted", "points.earn", on_order_completed),
    Subscription("RefundCompleted", "points.refund", on_refund_completed),
    Subscription("PointsReturned", "points.lot", on_points_returned),
]
