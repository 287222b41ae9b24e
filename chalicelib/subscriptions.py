"""Who reacts to which domain event: every subscription of the app, listed here and nowhere else.

The events queue's consumer (``chalicelib.consumer.handle_events``) feeds them. A domain's subscriptions are in its
``subscribers.py`` (``SUBSCRIPTIONS``)."""

from __future__ import annotations

from chalicelib.campaigns import subscribers as campaigns
from chalicelib.core import events
from chalicelib.coupons import subscribers as coupons
from chalicelib.distribution import subscribers as distribution
from chalicelib.inventory import subscribers as inventory
from chalicelib.members import subscribers as members
from chalicelib.points import subscribers as points
from chalicelib.printing import subscribers as printing
from chalicelib.reports import subscribers as reports
from chalicelib.sms import subscribers as sms

SUBSCRIPTIONS: list[events.Subscription] = [
    *inventory.SUBSCRIPTIONS,  # StockMoved -> low-stock alert (LowStock)
    *printing.SUBSCRIPTIONS,  # OrderPaid, RefundCompleted -> tickets
    *sms.SUBSCRIPTIONS,  # OrderPaid, OrderReady, RefundCompleted, LowStock, PrinterOffline, ... -> SMS
    *coupons.SUBSCRIPTIONS,  # MemberJoined -> new-member pack; OrderPaid -> coupons used
    *members.SUBSCRIPTIONS,  # OrderCompleted, RefundCompleted, WalletRecharged -> growth, level (MemberLevelChanged)
    *points.SUBSCRIPTIONS,  # MemberJoined, OrderCompleted, RefundCompleted, PointsReturned -> points
    *reports.SUBSCRIPTIONS,  # OrderPaid, RefundCompleted -> sales aggregates and pairs; StockMoved -> stock value
    *campaigns.SUBSCRIPTIONS,  # MemberJoined, OrderPaid, RefundCompleted, level, birthday -> member stats
    *distribution.SUBSCRIPTIONS,  # MemberJoined (scene) -> bind, invitee gift, flyer; OrderCompleted -> freeze, first
    # order (inviter gift, funnel); RefundCompleted -> reverse, cancel a waiting inviter gift
]
