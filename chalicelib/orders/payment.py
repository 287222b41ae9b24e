"""Paying an order: WeChat prepay for the mini-program, a provider's payment applied exactly once, money that
arrives for an order no longer payable given back."""

from __future__ import annotations

from datetime import timedelta

from chalicelib.core import clock, events, metrics, phones
from chalicelib.core.auth import Principal
from chalicelib.core.dynamo import TxCancelled, transaction
from chalicelib.core.errors import Conflict, CoreCode, NotFound
from chalicelib.core.events import Event
from chalicelib.core.ids import new_id
from chalicelib.core.logging import logger
from chalicelib.distribution import services as distribution
from chalicelib.identity import repository as members
from chalicelib.orders import domain, repository
from chalicelib.orders.errors import OrderCode
from chalicelib.orders.models import OrderItem
from chalicelib.orders.schemas import PrepayOut
from chalicelib.orders.views import commission_order, load_member_order, snapshot
from chalicelib.payments.errors import PaymentCode
from chalicelib.wallet import domain as wallet_domain
from chalicelib.wallet import repository as wallet_repo


def pay(principal: Principal, order_id: str, method: str) -> PrepayOut:
    item = load_member_order(principal, order_id)
    domain.transition(item.status, "pay")
    if item.pay_deadline and item.pay_deadline <= clock.iso(clock.now()):
        raise Conflict("The time to pay this order has passed", code=OrderCode.PAY_DEADLINE_PASSED)
    if method == "wallet":
        return _pay_by_wallet(item)
    from chalicelib.payments.client import get_client  # lazy: the payment client loads on first use

    member = members.get_member(principal.sub)
    prepay = get_client().prepay(
        order_id=item.order_id,
        amount_fen=int(item.payable_fen),
        description=_description(item),
        openid=member.openid,
        expires_at=clock.parse(item.pay_deadline),
    )
    return PrepayOut(order_id=item.order_id, method="wechat", status=domain.PENDING_PAYMENT, prepay=prepay.as_dict())


def _description(item: OrderItem) -> str:
    first = item.lines[0]["name"] if item.lines else "订单"
    more = f"等{len(item.lines)}件" if len(item.lines) > 1 else ""
    return (first + more)[:120]


def apply_payment(order_id: str, transaction_id: str, amount_fen: int, method: str, paid_at: str | None) -> str:
    """Apply a provider's payment to an order exactly once. Returns ``applied``, ``duplicate`` or ``late``
    (the order was no longer payable: the money is refunded). A wrong amount changes nothing."""
    record = repository.get_payment_record(transaction_id)
    if record is not None:
        return "duplicate"
    item = repository.get(order_id)
    if item is None:
        raise NotFound("No such order", code=OrderCode.ORDER_NOT_FOUND)
    if int(item.payable_fen) != amount_fen:
        logger.error(
            "payment amount mismatch",
            extra={
                "order_id": order_id,
                "expected": int(item.payable_fen),
                "got": amount_fen,
                "transaction_id": transaction_id,
            },
        )
        raise Conflict("The paid amount does not match the order", code=PaymentCode.AMOUNT_MISMATCH)
    paid_at = clock.iso(clock.parse(paid_at)) if paid_at else clock.iso(clock.now())  # WeChat's +08:00 -> UTC Z
    payment = {"method": method, "transaction_id": transaction_id, "amount_fen": amount_fen, "paid_at": paid_at}
    if item.status != domain.PENDING_PAYMENT:
        if item.payment and item.payment.get("transaction_id") == transaction_id:
            return "duplicate"
        return _late_payment(item, payment)
    customer = _customer(item.member_id)
    try:
        with transaction() as tx:
            _mark_paid(tx, item, payment, customer)
    except TxCancelled:
        return apply_payment(order_id, transaction_id, amount_fen, method, paid_at)  # lost a race: re-read
    metrics.count("PaymentsApplied", method=method)
    return "applied"


def _mark_paid(tx, item: OrderItem, payment: dict, customer: dict | None) -> None:
    """The order PAID (only from PENDING_PAYMENT), its payment record and ``OrderPaid``, added to ``tx``."""
    repository.change(
        tx,
        item,
        domain.PENDING_PAYMENT,
        [
            OrderItem.status.set(domain.PAID),
            OrderItem.payment.set(payment),
            OrderItem.paid_at.set(payment["paid_at"]),
            OrderItem.customer.set(customer),
        ]
        + _accept_watch(item),
    )
    repository.add_payment_record(
        tx, payment["transaction_id"], item.order_id, payment["method"], payment["amount_fen"], "applied"
    )
    item.status, item.payment, item.paid_at, item.customer = domain.PAID, payment, payment["paid_at"], customer
    distribution.add_commissions(tx, commission_order(item))  # FROZEN records, once: the status condition above
    events.add(tx, [Event("OrderPaid", snapshot(item))])


def _pay_by_wallet(item: OrderItem) -> PrepayOut:
    """Pay an online order from the member's wallet at once: principal and bonus in proportion to the balances,
    one transaction with the order PAID and the wallet's conditional debit (never below zero)."""
    payable = int(item.payable_fen)
    balance = wallet_repo.get_balance(item.member_id, consistent=True)
    principal, bonus = wallet_domain.split(payable, balance)  # 409 INSUFFICIENT_BALANCE when short
    payment = {
        "method": "wallet",
        "transaction_id": f"W{item.order_id}",
        "amount_fen": payable,
        "paid_at": clock.iso(clock.now()),
        "wallet": {"principal_fen": principal, "bonus_fen": bonus},
    }
    try:
        with transaction() as tx:
            _mark_paid(tx, item, payment, _customer(item.member_id))
            wallet_repo.add_payment(tx, item.member_id, principal, bonus, "order", item.order_id)
    except TxCancelled as e:
        if wallet_repo.balance_tag(item.member_id) in e.failed:
            raise wallet_domain.insufficient(payable, wallet_repo.get_balance(item.member_id, consistent=True))
        raise Conflict("The order changed meanwhile (paid already?); reload it", code=CoreCode.ILLEGAL_STATE)
    metrics.count("PaymentsApplied", method="wallet")
    return PrepayOut(order_id=item.order_id, method="wallet", status=domain.PAID, prepay=None)


def _accept_watch(item: OrderItem) -> list:
    """A paid online order enters the accept-deadline sweep (its first look a minute from now; the sweep then
    counts the store's own deadlines in opening hours). Till orders are done already."""
    if item.channel != "shop":
        return repository.leave_due_index()
    first = clock.iso(clock.now() + timedelta(seconds=ACCEPT_FIRST_LOOK_S))
    return [OrderItem.accept_step.set(0)] + repository.accept_due_index(first, item.order_id)


ACCEPT_FIRST_LOOK_S = 60


def _customer(member_id: str | None) -> dict | None:
    if not member_id:
        return None
    m = members.get_member(member_id)
    return {"nickname": m.nickname, "phone": m.phone, "phone_masked": phones.mask(m.phone)} if m else None


def _late_payment(item: OrderItem, payment: dict) -> str:
    """Money arrived for an order that was cancelled (or paid twice): record it once and give it back. The
    refund is recorded PROCESSING like any WeChat refund (``refund_kind`` late_payment: the order's goods are not part
    of it), so its notification or the scheduled query completes it and the customer is told."""
    refund_id = new_id()
    r = repository.new_refund(
        item.order_id,
        refund_id,
        status="PROCESSING",
        refund_kind="late_payment",
        reason="订单已取消，自动退款",
        method=payment["method"],
        requested_by="system",
        lines=[],
        amount_fen=payment["amount_fen"],
    )
    repository.refund_due_index(r, clock.iso(clock.now() + timedelta(seconds=domain.refund_query_delay_s(0))))
    try:
        with transaction() as tx:
            repository.add_payment_record(
                tx, payment["transaction_id"], item.order_id, payment["method"], payment["amount_fen"], "late"
            )
            repository.add_refund(tx, r)
            events.add(
                tx,
                [
                    Event(
                        "LatePaymentRefunded",
                        {
                            "order_id": item.order_id,
                            "store_id": item.store_id,
                            "member_id": item.member_id,
                            "amount_fen": payment["amount_fen"],
                            "refund_id": refund_id,
                        },
                    )
                ],
            )
    except TxCancelled:
        return "duplicate"
    metrics.count("LatePayments", method=payment["method"])
    from chalicelib.payments.client import get_client  # lazy: the payment client loads on first use

    result = get_client().refund(
        order_id=item.order_id,
        refund_id=refund_id,
        amount_fen=payment["amount_fen"],
        total_fen=payment["amount_fen"],
        reason="订单已取消，自动退款",
    )
    logger.warning("late payment refunded", extra={"order_id": item.order_id, "refund_status": result.status})
    return "late"
