"""Refunds: a customer's refund (at once before the store accepts, else a request), a refund at the till
(lines, everything left, or settling a request) and the refunds of an order."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta

from chalicelib.core import actionlog, clock, events
from chalicelib.core.auth import CLERK, Principal
from chalicelib.core.dynamo import TxCancelled, transaction
from chalicelib.core.errors import AppError, Conflict, CoreCode, Forbidden, NotFound
from chalicelib.core.events import Event
from chalicelib.core.ids import new_id
from chalicelib.core.logging import logger
from chalicelib.core.settings import get_settings
from chalicelib.coupons import services as coupons
from chalicelib.coupons.schemas import CompensationIn, CouponOut
from chalicelib.identity import services as identity
from chalicelib.inventory import domain as stock_domain
from chalicelib.inventory import repository as stock_repo
from chalicelib.orders import domain, repository
from chalicelib.orders.errors import OrderCode
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
        delivery_fee_fen=int(r.delivery_fee_fen or 0),
        created_at=r.created_at,
        completed_at=r.completed_at,
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


def store_refund(principal: Principal, order_id: str, cmd: RefundIn, source_ip: str = "unknown") -> RefundOut:
    """A refund at the till: given lines (or everything left), or settling a customer's request. A clerk's
    refund above the clerk's limit needs a manager's approval (their username and password)."""
    item = load_store_order(principal, order_id)
    settles = None
    requested = _requested(cmd)
    if cmd.request_id is not None:
        settles = repository.get_refund(order_id, cmd.request_id)
        if settles is None or settles.status != "REQUESTED":
            raise Conflict("No open refund request with this id", code=CoreCode.ILLEGAL_STATE)
        requested = {ln["sku"]: int(ln["qty"]) for ln in settles.lines}
    if principal.role == CLERK and item.status in domain.REFUNDABLE:
        _approved(item, requested, cmd, source_ip)
    return _execute_refund(item, requested, settles.reason if settles else cmd.reason, principal.sub, settles)


def _approved(item: OrderItem, requested: Mapping[str, int] | None, cmd: RefundIn, source_ip: str) -> str | None:
    """None when the refund is within a clerk's limit; else the approving manager's staff id (403 without one)."""
    amount = sum(a for _, a in domain.refund_amounts(item.lines, requested).values())
    limit = get_settings().clerk_refund_limit_fen
    if amount <= limit:
        return None
    facts = {"amount_fen": amount, "limit_fen": limit}
    if cmd.approval is None:
        raise Forbidden(
            "A refund this large needs a store manager's approval", code=OrderCode.REFUND_NEEDS_APPROVAL, details=facts
        )
    staff_id = identity.approver(cmd.approval.username, cmd.approval.password, item.store_id, source_ip)
    if staff_id is None:
        raise Forbidden(
            "The approval is not a manager's of this store", code=OrderCode.REFUND_APPROVAL_INVALID, details=facts
        )
    logger.info("refund approved", extra={"order_id": item.order_id, "approved_by": staff_id, **facts})
    actionlog.note(approved_by=staff_id, **facts)
    return staff_id


def auto_refund(item: OrderItem, reason: str, also: list[Event]) -> RefundOut:
    """Everything left of an order refunded by the system (the store never accepted it), ``also`` reporting why."""
    return _execute_refund(item, None, reason, "system", also=also)


def _refunded_lines(item: OrderItem, amounts: Mapping[str, tuple[int, int]]) -> tuple[list[dict], bool]:
    """The order's lines with this refund's units and amounts added, and whether every paid unit is now back."""
    lines, status = domain.after_refund(item.lines, amounts, item.status)
    return lines, status == domain.REFUNDED


def _new_refund(item: OrderItem, amounts, reason: str, actor: str, fee: int) -> RefundItem:
    method = (item.payment or {}).get("method", "cash")
    r = repository.new_refund(
        item.order_id,
        new_id(),
        status="PROCESSING" if method.startswith("wechat") else "COMPLETED",
        reason=reason,
        method=method,
        requested_by=actor,
        lines=[{"sku": s, "qty": q, "amount_fen": a} for s, (q, a) in amounts.items()],
        amount_fen=sum(a for _, a in amounts.values()) + fee,
        delivery_fee_fen=fee,
        completed_at=None if method.startswith("wechat") else clock.iso(clock.now()),
    )
    if r.status == "PROCESSING":
        first = clock.now() + timedelta(seconds=domain.refund_query_delay_s(0))
        repository.refund_due_index(r, clock.iso(first))
    return r


def _execute_refund(
    item: OrderItem,
    requested: Mapping[str, int] | None,
    reason: str,
    actor: str,
    settles: RefundItem | None = None,
    also: list[Event] | None = None,
) -> RefundOut:
    """One transaction: the order's refunded quantities and amounts (version-checked, so two refunds can
    never both take the same units), stock back to the order's store, the refund record (the delivery fee goes
    back with the last line), ``also`` events. A WeChat refund is then asked of the provider: usually it is
    PROCESSING, and its notification or the scheduled query completes it."""
    if item.status not in domain.REFUNDABLE:
        raise Conflict(f"An order that is {item.status} cannot be refunded", code=CoreCode.ILLEGAL_STATE)
    amounts = domain.refund_amounts(item.lines, requested)
    lines, everything = _refunded_lines(item, amounts)
    fee = int(item.delivery_fee_fen or 0) - int(item.delivery_fee_refunded or 0) if everything else 0
    r = _new_refund(item, amounts, reason, actor, fee)
    refunded = int(item.refunded_fen or 0) + int(r.amount_fen)
    done = item.status in (domain.COMPLETED, domain.PARTIALLY_REFUNDED)
    new_status = domain.REFUNDED if everything else (domain.PARTIALLY_REFUNDED if done else item.status)
    actions = [OrderItem.lines.set(lines), OrderItem.refunded_fen.set(refunded), OrderItem.status.set(new_status)]
    actions += [OrderItem.delivery_fee_refunded.set(int(item.delivery_fee_refunded or 0) + fee)] if fee else []
    if item.status == domain.PAID and new_status != domain.PAID:
        actions += repository.leave_due_index()  # no accept deadline for an order that is no longer PAID
    try:
        with transaction() as tx:
            repository.change(tx, item, item.status, actions)
            stock_repo.add_movement(
                tx,
                item.store_id,
                stock_domain.movement_deltas("refund_return", {s: q for s, (q, _) in amounts.items()}),
                "refund_return",
                ref_type="refund",
                ref_id=r.refund_id,
                actor=actor,
            )
            _back_to_wallet(tx, item, r)
            repository.add_refund(tx, r)
            if settles is not None:
                repository.settle_request(tx, settles, r.refund_id)
            item.lines, item.refunded_fen, item.status = lines, refunded, new_status
            item.delivery_fee_refunded = int(item.delivery_fee_refunded or 0) + fee
            events.add(tx, (also or []) + ([_refund_completed(item, r)] if r.status == "COMPLETED" else []))
    except TxCancelled:
        raise Conflict("The order changed meanwhile (another refund?); reload it", code=CoreCode.ILLEGAL_STATE)
    if r.status == "PROCESSING":
        _ask_provider(item, r)
    return refund_out(r)


def _ask_provider(item: OrderItem, r: RefundItem) -> None:
    """Ask WeChat Pay to pay the refund back. An answer other than PROCESSING settles it at once; no answer
    leaves it PROCESSING for the scheduled query (which asks again: the same out_refund_no is one refund)."""
    from chalicelib.payments.client import get_client  # lazy: cryptography is imported on the first payment

    try:
        result = get_client().refund(
            order_id=(item.payment or {}).get("trade_no", item.order_id),
            refund_id=r.refund_id,
            amount_fen=int(r.amount_fen),
            total_fen=int(item.payable_fen),
            reason=r.reason,
        )
    except AppError as e:
        logger.warning("refund not confirmed by the provider", extra={"refund_id": r.refund_id, "code": e.code})
        return
    if result.status != "PROCESSING":
        settle(r, result.status, result.provider_refund_id, order=item)


def settle(refund: RefundItem, provider_status: str, provider_refund_id: str | None, order=None) -> str:
    """The provider's final word on a PROCESSING refund, from its notification, the scheduled query or the refund
    call itself: COMPLETED (RefundCompleted: ticket and SMS), ABNORMAL or CLOSED (RefundAbnormal: head office is
    told). Exactly once whoever comes first; ``duplicate`` for the others, ``processing`` if not final."""
    status = domain.REFUND_FINAL.get(provider_status)
    if status is None:
        return "processing"
    item = order or repository.get(refund.order_id)
    if status == "COMPLETED":
        reported = [_refund_completed(item, refund)]
    else:
        reported = [
            Event(
                "RefundAbnormal",
                {
                    "order_id": refund.order_id,
                    "store_id": item.store_id,
                    "refund_id": refund.refund_id,
                    "amount_fen": int(refund.amount_fen),
                    "provider_status": provider_status,
                },
            )
        ]
    if not repository.finish_refund(refund, status, provider_refund_id, reported):
        return "duplicate"
    refund.status = status
    if status != "COMPLETED":
        logger.error("refund not completed", extra={"refund_id": refund.refund_id, "status": provider_status})
    return status.lower()


def query_processing(refund: RefundItem) -> str:
    """The scheduled query of one PROCESSING refund: settle it if WeChat has finished, ask again if WeChat has
    never heard of it (the refund call was lost), else look again later."""
    from chalicelib.payments.client import get_client  # lazy: cryptography is imported on the first payment

    client = get_client()
    try:
        result = client.refund_status(refund_id=refund.refund_id)
    except NotFound:
        item = repository.get(refund.order_id)
        _ask_provider(item, refund)
        result = None
    except AppError as e:
        logger.warning("refund query failed", extra={"refund_id": refund.refund_id, "code": e.code})
        result = None
    outcome = settle(refund, result.status, result.provider_refund_id) if result is not None else "processing"
    if outcome == "processing":
        later = clock.now() + timedelta(seconds=domain.refund_query_delay_s(int(refund.queries or 0) + 1))
        repository.requery_refund(refund, clock.iso(later))
    return outcome


def on_notification(refund_id: str, provider_status: str, provider_refund_id: str | None) -> str:
    """A REFUND.* notification for one of our refunds: ``unknown`` if we have no such refund."""
    refund = repository.refund_by_id(refund_id)
    if refund is None:
        return "unknown"
    if refund.status != "PROCESSING":
        return "duplicate"
    return settle(refund, provider_status, provider_refund_id)


def _back_to_wallet(tx, item: OrderItem, r: RefundItem) -> None:
    """A refund of an order paid from the wallet goes back into it at once, in the payment's split."""
    paid = (item.payment or {}).get("wallet")
    if not paid:
        return
    before = int(item.refunded_fen or 0)  # the order as read, before this refund
    principal, bonus = domain.wallet_refund_split(paid, int(item.payable_fen), before, int(r.amount_fen))
    r.wallet = {"principal_fen": principal, "bonus_fen": bonus}
    wallet_repo.add_refund(tx, item.member_id, principal, bonus, "refund", r.refund_id)


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
                "delivery_fee_fen": int(r.delivery_fee_fen or 0),
                "kind": r.refund_kind or "lines",
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
