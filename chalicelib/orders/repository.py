"""The only code that reads or writes orders, refunds, payment records and the sweep mark."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from chalicelib.core import clock, events
from chalicelib.core.dynamo import Page, Tx, TxCancelled, page, transaction
from chalicelib.core.events import Event
from chalicelib.orders.models import (
    META,
    OrderItem,
    PaymentItem,
    RefundItem,
    due_bucket,
    member_orders,
    order_pk,
    store_orders,
)


def new_order(order_id: str, fields: dict[str, Any]) -> OrderItem:
    now = clock.now()
    item = OrderItem(order_pk(order_id), META, order_id=order_id, created_at=now, updated_at=now, **fields)
    if item.member_id:
        item.gsi1pk, item.gsi1sk = member_orders(item.member_id), order_id
    item.gsi2pk, item.gsi2sk = store_orders(item.store_id), order_id
    if item.status == "PENDING_PAYMENT" and item.pay_deadline:
        item.gsi3pk, item.gsi3sk = due_bucket(item.pay_deadline), f"{item.pay_deadline}#{order_id}"
    return item


def add_order(tx: Tx, item: OrderItem) -> None:
    tx.save(item, condition=OrderItem.pk.does_not_exist(), tag=("order", item.order_id))


def get(order_id: str, consistent: bool = True) -> OrderItem | None:
    return OrderItem.get_or_none(order_pk(order_id), META, consistent_read=consistent)


def change(tx: Tx, item: OrderItem, expected_status: str, actions: list) -> None:
    """Update an order read earlier: conditioned on its status and (VersionAttribute) its version."""
    actions = list(actions) + [OrderItem.updated_at.set(clock.now())]
    tx.update(item, actions, condition=OrderItem.status == expected_status, tag=("order", item.order_id))


def leave_due_index() -> list:
    return [OrderItem.gsi3pk.remove(), OrderItem.gsi3sk.remove()]


def member_page(member_id: str, status: str | None, limit: int, cursor: str | None) -> Page:
    return page(
        OrderItem.gsi1.query,
        hash_key=member_orders(member_id),
        scan_index_forward=False,
        filter_condition=(OrderItem.status == status) if status else None,
        limit=limit,
        cursor=cursor,
    )


def store_page(store_id: str, status: str | None, limit: int, cursor: str | None) -> Page:
    return page(
        OrderItem.gsi2.query,
        hash_key=store_orders(store_id),
        scan_index_forward=False,
        filter_condition=(OrderItem.status == status) if status else None,
        limit=limit,
        cursor=cursor,
    )


def due(hour: datetime, until_iso: str) -> list[OrderItem]:
    """Unpaid orders whose deadline falls in ``hour`` and is at or before ``until_iso`` (one bucket of the
    sparse gsi3)."""
    return list(OrderItem.gsi3.query(due_bucket(clock.iso(hour)), OrderItem.gsi3sk <= f"{until_iso}#~"))


def add_payment_record(tx: Tx, transaction_id: str, order_id: str, method: str, amount_fen: int, outcome: str) -> None:
    tx.save(
        PaymentItem(
            f"PAYMENT#{transaction_id}",
            META,
            order_id=order_id,
            method=method,
            amount_fen=amount_fen,
            outcome=outcome,
            created_at=clock.now(),
        ),
        condition=PaymentItem.pk.does_not_exist(),
        tag=("payment", transaction_id),
    )


def get_payment_record(transaction_id: str) -> PaymentItem | None:
    return PaymentItem.get_or_none(f"PAYMENT#{transaction_id}", META, consistent_read=True)


def add_refund(tx: Tx, item: RefundItem) -> None:
    tx.save(item, condition=RefundItem.pk.does_not_exist(), tag=("refund", item.refund_id))


def new_refund(order_id: str, refund_id: str, **fields: Any) -> RefundItem:
    return RefundItem(
        order_pk(order_id),
        f"REFUND#{refund_id}",
        order_id=order_id,
        refund_id=refund_id,
        created_at=clock.now(),
        **fields,
    )


def refunds(order_id: str) -> list[RefundItem]:
    return list(RefundItem.query(order_pk(order_id), RefundItem.sk.startswith("REFUND#")))


def get_refund(order_id: str, refund_id: str) -> RefundItem | None:
    return RefundItem.get_or_none(order_pk(order_id), f"REFUND#{refund_id}", consistent_read=True)


def settle_request(tx: Tx, request: RefundItem, refund_id: str) -> None:
    tx.update(
        request,
        [RefundItem.status.set("SETTLED"), RefundItem.settled_by.set(refund_id)],
        condition=RefundItem.status == "REQUESTED",
        tag=("refund", request.refund_id),
    )


def complete_refund(refund: RefundItem, provider_refund_id: str | None, reported: list[Event]) -> bool:
    """A PROCESSING refund the provider has paid out: COMPLETED, with its events, once. False if it was not
    PROCESSING any more (completed meanwhile)."""
    try:
        with transaction() as tx:
            tx.update(
                refund,
                [RefundItem.status.set("COMPLETED"), RefundItem.provider_refund_id.set(provider_refund_id)],
                condition=RefundItem.status == "PROCESSING",
                tag=("refund", refund.refund_id),
            )
            events.add(tx, reported)
        return True
    except TxCancelled:
        return False
