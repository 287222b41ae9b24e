"""Refunds: a customer's refund (at once before the store accepts, else a request), a refund at the till
(lines, everything left, or settling a request) and the refunds of an order."""

from __future__ import annotations

from collections.abc import Mapping

from chalicelib.core import events
from chalicelib.core.auth import Principal
from chalicelib.core.dynamo import TxCancelled, transaction
from chalicelib.core.errors import Conflict, CoreCode
from chalicelib.core.events import Event
from chalicelib.core.ids import new_id
from chalicelib.coupons import services as coupons
from chalicelib.coupons.schemas import CompensationIn, CouponOut
from chalicelib.inventory import domain as stock_domain
from chalicelib.inventory import repository as stock_repo
from chalicelib.orders import domain, repository
from chalicelib.orders.models import OrderItem, RefundItem
from chalicelib.orders.schemas import RefundIn, RefundOut
from chalicelib.orders.views import cart_of, load_member_order, load_store_order, snapshot
from chalicelib.wallet import repository as wallet_repo


def refund_out(r: RefundItem) -> RefundOut:
    return RefundOut(
        refund_id=r.refund_id,
        order_id=r.order_id,
        status=r.status,
        lines=r.lines,
        amount_fen=int(r.amount_fen),
        reason=r.reason,
        method=r.method,
        created_at=r.created_at,
    )


def _requested(cmd: RefundIn) -> dict[str, int] | None:
    return cart_of(cmd.lines) if cmd.lines else None


def request_refund(principal: Principal, order_id: str, cmd: RefundIn) -> RefundOut:
    """A customer's refund. Before the store has accepted the order it is refunded at once; afterwards it
    is a request the store settles at the till (POS refunds)."""
    item = load_member_order(principal, order_id)
    if item.status == domain.PAID:
        return _execute_refund(item, _requested(cmd), cmd.reason, principal.sub)
    if item.status not in domain.REFUNDABLE:
        raise Conflict(f"An order that is {item.status} cannot be refunded", code=CoreCode.ILLEGAL_STATE)
    amounts = domain.refund_amounts(item.lines, _requested(cmd))
    r = repository.new_refund(
        item.order_id,
        new_id(),
        status="REQUESTED",
        reason=cmd.reason,
        lines=[{"sku": s, "qty": q, "amount_fen": a} for s, (q, a) in amounts.items()],
        amount_fen=sum(a for _, a in amounts.values()),
        requested_by=principal.sub,
    )
    with transaction() as tx:
        repository.add_refund(tx, r)
        events.add(
            tx,
            [
                Event(
                    "RefundRequested",
                    {
                        "order_id": item.order_id,
                        "store_id": item.store_id,
                        "refund_id": r.refund_id,
                        "amount_fen": int(r.amount_fen),
                    },
                )
            ],
        )
    return refund_out(r)


def store_refund(principal: Principal, order_id: str, cmd: RefundIn) -> RefundOut:
    """A refund at the till: given lines (or everything left), or settling a customer's request."""
    item = load_store_order(principal, order_id)
    if cmd.request_id is None:
        return _execute_refund(item, _requested(cmd), cmd.reason, principal.sub)
    req = repository.get_refund(order_id, cmd.request_id)
    if req is None or req.status != "REQUESTED":
        raise Conflict("No open refund request with this id", code=CoreCode.ILLEGAL_STATE)
    return _execute_refund(item, {ln["sku"]: int(ln["qty"]) for ln in req.lines}, req.reason, principal.sub, req)


def _execute_refund(
    item: OrderItem, requested: Mapping[str, int] | None, reason: str, actor: str, settles: RefundItem | None = None
) -> RefundOut:
    """One transaction: the order's refunded quantities and amounts (version-checked, so two refunds can
    never both take the same units), stock back to the order's store, the refund record."""
    if item.status not in domain.REFUNDABLE:
        raise Conflict(f"An order that is {item.status} cannot be refunded", code=CoreCode.ILLEGAL_STATE)
    amounts = domain.refund_amounts(item.lines, requested)
    total = sum(a for _, a in amounts.values())
    lines, new_status = domain.after_refund(item.lines, amounts, item.status)
    refunded = int(item.refunded_fen or 0) + total
    method = (item.payment or {}).get("method", "cash")
    refund_id = new_id()
    r = repository.new_refund(
        item.order_id,
        refund_id,
        status="PROCESSING" if method.startswith("wechat") else "COMPLETED",
        reason=reason,
        method=method,
        requested_by=actor,
        lines=[{"sku": s, "qty": q, "amount_fen": a} for s, (q, a) in amounts.items()],
        amount_fen=total,
    )
    back = {s: q for s, (q, _) in amounts.items()}
    try:
        with transaction() as tx:
            repository.change(
                tx,
                item,
                item.status,
                [OrderItem.lines.set(lines), OrderItem.refunded_fen.set(refunded), OrderItem.status.set(new_status)],
            )
            stock_repo.add_movement(
                tx,
                item.store_id,
                stock_domain.movement_deltas("refund_return", back),
                "refund_return",
                ref_type="refund",
                ref_id=refund_id,
                actor=actor,
            )
            _back_to_wallet(tx, item, r)
            repository.add_refund(tx, r)
            if settles is not None:
                repository.settle_request(tx, settles, refund_id)
            item.lines, item.refunded_fen, item.status = lines, refunded, new_status
            if r.status == "COMPLETED":
                events.add(tx, [_refund_completed(item, r)])
    except TxCancelled:
        raise Conflict("The order changed meanwhile (another refund?); reload it", code=CoreCode.ILLEGAL_STATE)
    if r.status == "PROCESSING":
        _ask_provider(item, r, reason)
    return refund_out(r)


def _back_to_wallet(tx, item: OrderItem, r: RefundItem) -> None:
    """A refund of an order paid from the wallet goes back into it at once, in the payment's split."""
    paid = (item.payment or {}).get("wallet")
    if not paid:
        return
    before = int(item.refunded_fen or 0)  # the order as read, before this refund
    principal, bonus = domain.wallet_refund_split(paid, int(item.payable_fen), before, int(r.amount_fen))
    r.wallet = {"principal_fen": principal, "bonus_fen": bonus}
    wallet_repo.add_refund(tx, item.member_id, principal, bonus, "refund", r.refund_id)


def _ask_provider(item: OrderItem, r: RefundItem, reason: str) -> None:
    """Send a WeChat refund; an immediate SUCCESS completes it (RefundCompleted written with the change)."""
    from chalicelib.payments.client import get_client  # lazy: the payment client loads on first use

    result = get_client().refund(
        order_id=(item.payment or {}).get("trade_no", item.order_id),
        refund_id=r.refund_id,
        amount_fen=int(r.amount_fen),
        total_fen=int(item.payable_fen),
        reason=reason,
    )
    if result.status == "SUCCESS":
        r.status = "COMPLETED"
        repository.complete_refund(r, result.provider_refund_id, [_refund_completed(item, r)])


def _refund_completed(item: OrderItem, r: RefundItem) -> Event:
    return Event(
        "RefundCompleted",
        {
            **snapshot(item),
            "refund": {
                "refund_id": r.refund_id,
                "amount_fen": int(r.amount_fen),
                "lines": r.lines,
                "reason": r.reason,
                "wallet": r.wallet,
            },
        },
    )


def list_refunds(principal: Principal, order_id: str) -> list[RefundOut]:
    item = load_member_order(principal, order_id) if principal.is_member else load_store_order(principal, order_id)
    return [refund_out(r) for r in repository.refunds(item.order_id)]


def compensate(principal: Principal, cmd: CompensationIn) -> CouponOut:
    """A refund-compensation coupon for the order's member (once per order and template): the order is looked
    up here, the coupon issued by coupons."""
    order = repository.get(cmd.order_id)
    return coupons.compensate(principal, cmd, order is not None, order.member_id if order else None)
