"""What coupons react to: a new member gets the new-member pack; a paid online order uses its locked coupons."""

from __future__ import annotations

from chalicelib.core.events import Subscription
from chalicelib.coupons.services import on_member_joined, on_order_paid

SUBSCRIPTIONS = [
    Subscription("MemberJoined", "coupons.new_member_pack", on_member_joined, live_only=True),
    Subscription("OrderPaid", "coupons.used", on_order_paid),
]
