"""What the members domain reacts to: growth (and so levels) from completed orders, refunds and recharges."""

from __future__ import annotations

from chalicelib.core.events import Subscription
from chalicelib.members import services

SUBSCRIPTIONS = [
    Subscription("OrderCompleted", "members.growth", services.on_order_completed),
    Subscription("RefundCompleted", "members.growth_back", services.on_refund_completed),
    Subscription("WalletRecharged", "members.growth_recharge", services.on_wallet_recharged),
    Subscription("WalletRechargeRefunded", "members.growth_recharge_back", services.on_wallet_recharge_refunded),
]
