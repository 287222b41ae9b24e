"""The only code that reads or writes orders, refunds, payment records and the sweep mark."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from chalicelib.core import clock, events
from chalicelib.core.dynamo import Page, Tx, TxCancelled, page, transaction
from chalicelib.core.events import Event
from chalicelib.orders.models import (
    ACCEPT_DUE,
    ANOMALIES_GSI1PK,
    META,
    PAY_DUE,
    REFUND_DUE,
    OrderItem,
    PaymentAnomalyItem,
    PaymentItem,
    RefundItem,
    RefundRefItem,
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


def id_bounds(start: datetime, end: datetime) -> tuple[str, str]:
    """The order ids (ULIDs: time first) of orders created in [start, end), as an inclusive key range."""
    from datetime import timedelta

    from ulid import ULID

    low = str(ULID.from_datetime(start))[:10] + "0" * 16
    high = str(ULID.from_datetime(end - timedelta(milliseconds=1)))[:10] + "Z" * 16
    return low, high


def admin_page(
    store_id: str, start: datetime, end: datetime, status: str | None, phone: str | None, limit: int, cursor: str | None
) -> Page:
    """One store's orders created in [start, end), newest first, optionally of one status or with these digits
    in the customer's phone (gsi2 with an order-id range: no scan)."""
    low, high = id_bounds(start, end)
    cond = (OrderItem.status == status) if status else None
    if phone:
        has = OrderItem.customer.contains(phone)
        cond = has if cond is None else cond & has
    return page(
        OrderItem.gsi2.query,
        hash_key=store_orders(store_id),
        range_key_condition=OrderItem.gsi2sk.between(low, high),
        scan_index_forward=False,
        filter_condition=cond,
        limit=limit,
        cursor=cursor,
    )


def sold_between(store_id: str, start: datetime, end: datetime):
    """(order, [lines of each completed refund of its goods]) for each of a store's orders created in
    [start, end) that was paid: what the reports' rebuild recomputes from."""
    low, high = id_bounds(start, end)
    for o in OrderItem.gsi2.query(store_orders(store_id), OrderItem.gsi2sk.between(low, high)):
        if not isinstance(o, OrderItem) or not o.paid_at:
            continue
        done = [
            r.lines for r in refunds(o.order_id) if r.status == "COMPLETED" and (r.refund_kind or "lines") == "lines"
        ]
        yield o, done


def due(hour: datetime, until_iso: str, prefix: str = PAY_DUE) -> list:
    """Items of one hour bucket of the sparse gsi3 due at or before ``until_iso``: unpaid orders past their
    deadline (``DUE``), paid orders whose next accept-deadline step is due (``ACCEPTDUE``), PROCESSING refunds
    to query (``REFUNDDUE``)."""
    model = RefundItem if prefix == REFUND_DUE else OrderItem
    return list(model.gsi3.query(due_bucket(clock.iso(hour), prefix), model.gsi3sk <= f"{until_iso}#~"))


def accept_due_index(at_iso: str, order_id: str) -> list:
    """Actions that put a paid order in the accept-deadline sweep's bucket of ``at_iso``."""
    return [OrderItem.gsi3pk.set(due_bucket(at_iso, ACCEPT_DUE)), OrderItem.gsi3sk.set(f"{at_iso}#{order_id}")]


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
    if item.status == "PROCESSING":
        ref = RefundRefItem(f"REFUNDREF#{item.refund_id}", META, order_id=item.order_id, created_at=clock.now())
        tx.save(ref, tag=("refundref", item.refund_id))


def refund_by_id(refund_id: str) -> RefundItem | None:
    """A provider refund's record by our refund id (``out_refund_no``)."""
    ref = RefundRefItem.get_or_none(f"REFUNDREF#{refund_id}", META, consistent_read=True)
    return get_refund(ref.order_id, refund_id) if ref else None


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


def refund_due_index(refund: RefundItem, at_iso: str) -> None:
    """Put a new PROCESSING refund (not saved yet) in the refund query's bucket of ``at_iso``."""
    refund.gsi3pk = due_bucket(at_iso, REFUND_DUE)
    refund.gsi3sk = f"{at_iso}#{refund.order_id}#{refund.refund_id}"


def requery_refund(refund: RefundItem, at_iso: str) -> bool:
    """A PROCESSING refund the provider has not finished: queried again at ``at_iso``."""
    try:
        with transaction() as tx:
            tx.update(
                refund,
                [
                    RefundItem.queries.set(int(refund.queries or 0) + 1),
                    RefundItem.gsi3pk.set(due_bucket(at_iso, REFUND_DUE)),
                    RefundItem.gsi3sk.set(f"{at_iso}#{refund.order_id}#{refund.refund_id}"),
                ],
                condition=RefundItem.status == "PROCESSING",
                tag=("refund", refund.refund_id),
            )
        return True
    except TxCancelled:
        return False


def finish_refund(refund: RefundItem, status: str, provider_refund_id: str | None, reported: list[Event]) -> bool:
    """A PROCESSING refund the provider has finished (COMPLETED, ABNORMAL or CLOSED), with its events, once:
    False if it was not PROCESSING any more (a notification and a query raced; the first one wins)."""
    actions = [
        RefundItem.status.set(status),
        RefundItem.completed_at.set(clock.iso(clock.now())),
        RefundItem.gsi3pk.remove(),
        RefundItem.gsi3sk.remove(),
    ]
    if provider_refund_id:
        actions.append(RefundItem.provider_refund_id.set(provider_refund_id))
    try:
        with transaction() as tx:
            tx.update(refund, actions, condition=RefundItem.status == "PROCESSING", tag=("refund", refund.refund_id))
            events.add(tx, reported)
        return True
    except TxCancelled:
        return False


# --------------------------------------------------------------------------------------- payment anomalies
def add_anomaly(
    anomaly_id: str, notification_id: str, reason: str, event_type: str | None, facts: dict, reported: list[Event]
) -> bool:
    """Record an unmatched notification once (a WeChat retry of it records nothing new) with its events."""
    item = PaymentAnomalyItem(
        f"PAYANOMALY#{notification_id}",
        META,
        anomaly_id=anomaly_id,
        notification_id=notification_id,
        reason=reason,
        event_type=event_type,
        facts=facts,
        gsi1pk=ANOMALIES_GSI1PK,
        gsi1sk=anomaly_id,
        created_at=clock.now(),
    )
    try:
        with transaction() as tx:
            tx.save(item, condition=PaymentAnomalyItem.pk.does_not_exist(), tag="anomaly")
            events.add(tx, reported)
        return True
    except TxCancelled:
        return False


def anomalies_page(limit: int, cursor: str | None) -> Page:
    return page(
        PaymentAnomalyItem.gsi1.query,
        hash_key=ANOMALIES_GSI1PK,
        scan_index_forward=False,
        limit=limit,
        cursor=cursor,
    )


def anonymise(item: OrderItem) -> None:
    """An order of a deleted member, kept for the books: no customer snapshot, no delivery address."""
    item.update(
        actions=[OrderItem.customer.remove(), OrderItem.address.remove(), OrderItem.updated_at.set(clock.now())]
    )
