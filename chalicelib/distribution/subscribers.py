"""What distribution reacts to: a member who joined by a share scene is bound to its referrer; a completed
order's commission records start their freeze, and a member's first one puts the inviter's gift and counts
in the promoter funnel; a refund reverses them in proportion, cancels a waiting inviter gift and is taken off
the funnel's sales."""

from __future__ import annotations

from chalicelib.core.events import Subscription
from chalicelib.distribution import flyers, invites
from chalicelib.distribution.services import on_member_joined, on_order_completed, on_refund_completed

SUBSCRIPTIONS = [
    Subscription("MemberJoined", "distribution.bind", on_member_joined),
    Subscription("OrderCompleted", "distribution.due", on_order_completed),
    Subscription("RefundCompleted", "distribution.reverse", on_refund_completed),
    Subscription("OrderCompleted", "distribution.first_order", invites.on_order_completed),
    Subscription("RefundCompleted", "distribution.invite_cancel", invites.on_refund_completed),
    Subscription("RefundCompleted", "distribution.funnel_refund", flyers.on_refund_completed),
]
