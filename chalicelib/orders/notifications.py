"""WeChat Pay notifications at /webhooks/wechatpay: a payment (TRANSACTION.*) applied to its order, a refund's
outcome (REFUND.SUCCESS / ABNORMAL / CLOSED) settled, and anything genuine that matches nothing of ours (wrong
amount, unknown order or refund, another merchant) recorded once as a payment anomaly, head office told, and
acknowledged: WeChat would otherwise retry it 15 times over a day, and a retry cannot fix it."""

from __future__ import annotations

from collections.abc import Mapping

from chalicelib.core import clock
from chalicelib.core.errors import AppError
from chalicelib.core.events import Event
from chalicelib.core.ids import new_id
from chalicelib.core.logging import logger
from chalicelib.core.schemas import PageOut
from chalicelib.orders import payment, refunds, repository
from chalicelib.orders.errors import OrderCode
from chalicelib.orders.models import PaymentAnomalyItem
from chalicelib.orders.schemas import AnomalyOut
from chalicelib.payments import webhook
from chalicelib.payments.domain import MerchantMismatch, Notification, RefundNotification
from chalicelib.payments.errors import PaymentCode
from chalicelib.wallet import services as wallet

UNMATCHED = {OrderCode.ORDER_NOT_FOUND: "unknown_order", PaymentCode.AMOUNT_MISMATCH: "amount_mismatch"}


def receive(headers: Mapping[str, str], body: bytes | str | None) -> str:
    """Verify and act on one notification; the outcome (``applied``, ``duplicate``, ``completed``, ``anomaly``
    ...). Raises the AppError of a notification WeChat should send again (bad signature, stale, not ours to
    decrypt, our database unavailable)."""
    try:
        n = webhook.parse_notification(headers, body)
    except MerchantMismatch as e:
        return _anomaly(e.facts.get("event_id") or new_id(), "merchant_mismatch", None, e.facts)
    if isinstance(n, RefundNotification):
        return _refund(n)
    return _payment(n)


def _payment(n: Notification) -> str:
    if n.trade_state != "SUCCESS":
        logger.info("wechatpay notification ignored", extra={"trade_state": n.trade_state, "order_id": n.out_trade_no})
        return "ignored"
    try:
        if wallet.is_recharge_trade(n.out_trade_no):  # "R" + recharge id: a wallet recharge, not an order
            return wallet.apply_recharge_payment(n.out_trade_no, n.transaction_id, n.amount_total_fen, n.success_time)
        return payment.apply_payment(n.out_trade_no, n.transaction_id, n.amount_total_fen, "wechat", n.success_time)
    except AppError as e:
        reason = UNMATCHED.get(e.code)
        if reason is None:
            raise
        facts = {
            "out_trade_no": n.out_trade_no,
            "transaction_id": n.transaction_id,
            "amount_fen": n.amount_total_fen,
            "success_time": clock.iso(clock.parse(n.success_time)) if n.success_time else None,  # UTC, Z
            "mchid": n.mchid,
        }
        return _anomaly(n.event_id, reason, n.event_type, facts)


def _refund(n: RefundNotification) -> str:
    if wallet.is_recharge_trade(n.out_trade_no):  # a recharge's principal paid back by head office
        outcome = wallet.on_payout_notification(n.out_trade_no, n.out_refund_no, n.refund_status, n.refund_id or None)
    else:
        outcome = refunds.on_notification(n.out_refund_no, n.refund_status, n.refund_id or None)
    if outcome != "unknown":
        return outcome
    facts = {
        "out_trade_no": n.out_trade_no,
        "out_refund_no": n.out_refund_no,
        "refund_id": n.refund_id,
        "amount_fen": n.refund_fen,
        "refund_status": n.refund_status,
    }
    return _anomaly(n.event_id, "unknown_refund", n.event_type, facts)


def _anomaly(notification_id: str, reason: str, event_type: str | None, facts: dict) -> str:
    anomaly_id = new_id()
    alert = Event("PaymentAnomaly", {"anomaly_id": anomaly_id, "reason": reason, **facts})
    recorded = repository.add_anomaly(anomaly_id, notification_id, reason, event_type, facts, [alert])
    logger.error("unmatched wechatpay notification", extra={"reason": reason, "recorded": recorded, **facts})
    return "anomaly" if recorded else "duplicate"


def anomaly_out(a: PaymentAnomalyItem) -> AnomalyOut:
    return AnomalyOut(
        anomaly_id=a.anomaly_id,
        reason=a.reason,
        notification_id=a.notification_id,
        event_type=a.event_type,
        facts=a.facts or {},
        created_at=a.created_at,
    )


def list_anomalies(limit: int, cursor: str | None) -> PageOut[AnomalyOut]:
    pg = repository.anomalies_page(limit, cursor)
    return PageOut[AnomalyOut](items=[anomaly_out(a) for a in pg.items], next=pg.next)
