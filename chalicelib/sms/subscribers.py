"""Events that text someone. Each handler runs once per event (core.events) and queues messages keyed
``<event id>:<template>:<phone>``; the sender sends each key at most once."""

from __future__ import annotations

from chalicelib.core import clock, money
from chalicelib.core.events import Subscription
from chalicelib.sms import domain, services


def _customer_phone(data: dict) -> str | None:
    return (data.get("customer") or {}).get("phone")


def on_order_paid(event: dict) -> None:
    data = event["data"]
    phone = _customer_phone(data)
    if data.get("channel") != "shop" or not phone:
        return  # till sales: the customer is standing at the counter
    params = {
        "store": services.store_name(data["store_id"]),
        "order": domain.short_order(data["order_id"]),
        "amount": money.yuan(data["payable_fen"]),
    }
    if data.get("fulfillment") == "pickup":
        services.request("order_paid", [phone], {**params, "code": data.get("pickup_code") or "-"}, event["id"])
    else:
        services.request("order_paid_delivery", [phone], params, event["id"])


def on_order_ready(event: dict) -> None:
    data = event["data"]
    phone = _customer_phone(data)
    if data.get("fulfillment") != "pickup" or not phone:
        return
    services.request(
        "order_ready",
        [phone],
        {
            "store": services.store_name(data["store_id"]),
            "order": domain.short_order(data["order_id"]),
            "code": data.get("pickup_code") or "-",
        },
        event["id"],
    )


def on_refund_completed(event: dict) -> None:
    data = event["data"]
    phone = _customer_phone(data)
    if not phone:
        return
    services.request(
        "refund_completed",
        [phone],
        {"order": domain.short_order(data["order_id"]), "amount": money.yuan(data["refund"]["amount_fen"])},
        event["id"],
    )


def on_low_stock(event: dict) -> None:
    data = event["data"]
    services.request(
        "low_stock",
        services.contacts_for(data["store_id"]),
        {
            "store": services.store_name(data["store_id"]),
            "sku": data["sku"],
            "qty": data["qty"],
            "threshold": data.get("threshold"),
        },
        event["id"],
    )


def on_printer_offline(event: dict) -> None:
    data = event["data"]
    services.request(
        "printer_offline",
        services.contacts_for(data["store_id"]),
        {
            "store": services.store_name(data["store_id"]),
            "printer": data.get("name") or "打印机",
            "time": domain.local_time(data.get("last_poll_at"), clock.business_tz()),
        },
        event["id"],
    )


def on_print_job_failed(event: dict) -> None:
    data = event["data"]
    services.request(
        "print_failed",
        services.contacts_for(data["store_id"]),
        {
            "store": services.store_name(data["store_id"]),
            "order": domain.short_order(data["order_id"]),
            "printer": data.get("printer_name") or "打印机",
            "attempts": data.get("attempts", 0),
        },
        event["id"],
    )


def on_refund_abnormal(event: dict) -> None:
    """A refund WeChat could not pay back (ABNORMAL, CLOSED): head office settles it by hand."""
    data = event["data"]
    services.request(
        "refund_abnormal",
        services.contacts_for(None),
        {
            "order": domain.short_order(data["order_id"]),
            "amount": money.yuan(data["amount_fen"]),
            "status": data["provider_status"],
        },
        event["id"],
    )


def on_payment_anomaly(event: dict) -> None:
    data = event["data"]
    services.request(
        "payment_anomaly",
        services.contacts_for(None),
        {
            "reason": data["reason"],
            "trade": data.get("out_trade_no") or "-",
            "amount": money.yuan(int(data.get("amount_fen") or 0)),
        },
        event["id"],
    )


def on_accept_overdue(event: dict) -> None:
    """Remind the store, escalate to its contacts and head office, or tell the customer of the refund."""
    data = event["data"]
    store, order = services.store_name(data["store_id"]), domain.short_order(data["order_id"])
    if data["step"] == "refund":
        phone = _customer_phone(data)
        if phone:
            params = {"store": store, "order": order, "amount": money.yuan(data["payable_fen"])}
            services.request("order_auto_refunded", [phone], params, event["id"])
        return
    escalate = data["step"] == "escalate"
    to = services.contacts_for(data["store_id"]) + (services.contacts_for(None) if escalate else [])
    params = {"store": store, "order": order, "minutes": data["after_min"]}
    services.request("accept_escalation" if escalate else "accept_reminder", to, params, event["id"])


PROBLEMS = {"paper_empty": "缺纸", "cover_open": "纸仓盖未关", "paper_jam": "卡纸", "paper_error": "纸张异常"}


def on_printer_problem(event: dict) -> None:
    data = event["data"]
    services.request(
        "printer_problem",
        services.contacts_for(data["store_id"]),
        {
            "store": services.store_name(data["store_id"]),
            "printer": data.get("name") or "打印机",
            "problem": PROBLEMS.get(data["status"], data["status"]),
        },
        event["id"],
    )


def on_coupon_expiring(event: dict) -> None:
    """A reminder is marketing: held outside 09:00-21:00 and never sent to numbers that opted out."""
    data = event["data"]
    if not data.get("phone"):
        return
    services.request(
        "coupon_expiring",
        [data["phone"]],
        {"count": data["count"], "title": data["title"][:20], "date": data["expires_on"][5:]},
        event["id"],
    )


def on_member_level_changed(event: dict) -> None:
    """An upgrade is worth a message (to a bound phone); a downgrade after a refund is not."""
    data = event["data"]
    if data.get("up") and data.get("phone") and data.get("name"):
        services.request("level_up", [data["phone"]], {"level": data["name"][:20]}, event["id"])


def on_ledger_drift(event: dict) -> None:
    """The daily ledger audit found balances that are not the sum of their ledger: head office is told."""
    data = event["data"]
    services.request(
        "ledger_drift",
        services.contacts_for(None),
        {"day": data["day"], "count": data["count"], "first": data.get("headline") or "-"},
        event["id"],
    )


def on_campaign_sms(event: dict) -> None:
    """A campaign's message to one member (written with the run's marker for that member): marketing, so held
    in quiet hours and never sent to a number that opted out; keyed by campaign, run and member."""
    data = event["data"]
    services.request(data["template"], [data["phone"]], data["params"], data["key"])


SUBSCRIPTIONS = [
    Subscription("OrderPaid", "sms", on_order_paid, live_only=True),
    Subscription("MemberLevelChanged", "sms", on_member_level_changed, live_only=True),
    Subscription("OrderReady", "sms", on_order_ready, live_only=True),
    Subscription("RefundCompleted", "sms", on_refund_completed, live_only=True),
    Subscription("LowStock", "sms", on_low_stock, live_only=True),
    Subscription("PrinterOffline", "sms", on_printer_offline, live_only=True),
    Subscription("PrintJobFailed", "sms", on_print_job_failed, live_only=True),
    Subscription("CouponExpiring", "sms", on_coupon_expiring, live_only=True),
    Subscription("RefundAbnormal", "sms", on_refund_abnormal, live_only=True),
    Subscription("PaymentAnomaly", "sms", on_payment_anomaly, live_only=True),
    Subscription("OrderAcceptOverdue", "sms", on_accept_overdue, live_only=True),
    Subscription("PrinterProblem", "sms", on_printer_problem, live_only=True),
    Subscription("LedgerDrift", "sms", on_ledger_drift, live_only=True),
    Subscription("CampaignSmsRequested", "sms", on_campaign_sms, live_only=True),
]
