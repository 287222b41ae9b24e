"""What campaigns react to: member stats (joined, paid orders, refunds, level, birthday) and redemptions of the
coupons campaigns issued (from OrderPaid's applied coupons); event-triggered campaigns (a consolation coupon or
SMS after an order refund or a recharge refund: live events only, never imported history)."""

from __future__ import annotations

from chalicelib.campaigns import services
from chalicelib.core.events import Subscription

SUBSCRIPTIONS = [
    Subscription("MemberJoined", "campaigns.stats_joined", services.on_member_joined),
    Subscription("OrderPaid", "campaigns.stats_order", services.on_order_paid),
    Subscription("RefundCompleted", "campaigns.stats_refund", services.on_refund_completed),
    Subscription("MemberLevelChanged", "campaigns.stats_level", services.on_level_changed),
    Subscription("MemberBirthdaySet", "campaigns.stats_birthday", services.on_birthday_set),
    Subscription("RefundCompleted", "campaigns.refund_trigger", services.on_refund_trigger, live_only=True),
    Subscription("WalletRechargeRefunded", "campaigns.recharge_trigger", services.on_refund_trigger, live_only=True),
]
