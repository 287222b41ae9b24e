"""The only code that reads or writes stock, ledger movements and transfers.

``add_movement(tx, ...)`` is what other domains' use cases call to move stock inside *their* transaction
(an order hold, a POS sale, a refund): conditional updates of every balance plus one ledger movement.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from chalicelib.core import clock, events
from chalicelib.core.dynamo import Page, Tx, page, update_if
from chalicelib.core.ids import new_id
from chalicelib.core.ledger import Book, audit_accounts, business_day, day_bucket
from chalicelib.inventory.models import (
    AUDIT_DAY_PREFIX,
    LOW_STOCK_GSI2PK,
    MovementItem,
    StockItem,
    TransferItem,
    ledger_pk,
    sku_gsi1pk,
    stock_sk,
    transfer_pk,
)
from chalicelib.stores.repository import partition as store_pk

META = "META"


# --------------------------------------------------------------------------------------- balances
def _stock_key(store_id: str, sku: str) -> StockItem:
    return StockItem(store_pk(store_id), stock_sk(sku))


def _upsert_actions(store_id: str, sku: str) -> list:
    return [
        StockItem.kind.set(StockItem),
        StockItem.store_id.set(store_id),
        StockItem.sku.set(sku),
        StockItem.gsi1pk.set(sku_gsi1pk(sku)),
        StockItem.gsi1sk.set(store_id),
        StockItem.updated_at.set(clock.now()),
    ]


def add_movement(
    tx: Tx,
    store_id: str,
    deltas: Mapping[str, int],
    kind: str,
    *,
    ref_type: str | None = None,
    ref_id: str | None = None,
    actor: str | None = None,
    note: str | None = None,
    expected: Mapping[str, int] | None = None,
    from_transit: bool = False,
) -> str:
    """Add to ``tx``: for every sku a conditional update of its balance, and one ledger movement.

    A decrease is conditioned on enough stock (``qty >= n``); with ``expected`` (stock-take) the
    condition is instead that the balance is still what was counted against. Failed conditions surface
    as ``TxCancelled`` with tags ``("stock", store_id, sku)``. ``from_transit`` (receiving a transfer)
    also takes the same units off ``in_transit`` in the same update.
    Also adds ``StockMoved`` to ``tx`` (the low-stock watch reacts to it), so every movement reports itself.
    """
    movement_id = new_id()
    for sku, delta in sorted(deltas.items()):
        item = _stock_key(store_id, sku)
        actions = [StockItem.qty.add(delta)] + _upsert_actions(store_id, sku)
        if expected is not None:
            seen = expected.get(sku, 0)
            cond = (StockItem.qty == seen) if seen else (StockItem.qty.does_not_exist() | (StockItem.qty == 0))
        elif delta < 0:
            cond = StockItem.qty >= -delta
        else:
            cond = None
        if from_transit:
            actions.append(StockItem.in_transit.add(-delta))
            cond = StockItem.in_transit >= delta
        tx.update(item, actions, condition=cond, tag=("stock", store_id, sku))
    tx.save(
        MovementItem(
            ledger_pk(store_id),
            movement_id,
            movement_id=movement_id,
            store_id=store_id,
            move_kind=kind,
            deltas=dict(deltas),
            skus=set(deltas),
            ref_type=ref_type,
            ref_id=ref_id,
            actor=actor,
            note=note,
            created_at=clock.now(),
            gsi3pk=day_bucket(AUDIT_DAY_PREFIX, business_day()),
            gsi3sk=f"{store_id}#{movement_id}",
        ),
        condition=MovementItem.pk.does_not_exist(),
        tag=("movement", store_id),
    )
    events.add(tx, [stock_moved(store_id, deltas, kind)])
    return movement_id


def stock_moved(store_id: str, skus: Iterable[str], kind: str) -> events.Event:
    return events.Event("StockMoved", {"store_id": store_id, "skus": sorted(set(skus)), "kind": kind})


def add_in_transit(tx: Tx, store_id: str, quantities: Mapping[str, int]) -> None:
    """Units shipped to ``store_id`` and not yet received; ``add_movement(..., from_transit=True)`` takes
    them off again when the transfer is received."""
    for sku, qty in sorted(quantities.items()):
        tx.update(
            _stock_key(store_id, sku),
            [StockItem.in_transit.add(qty)] + _upsert_actions(store_id, sku),
            tag=("in_transit", store_id, sku),
        )


def stock_keys(store_ids: Iterable[str], skus: Iterable[str]) -> dict[tuple[str, str], tuple[str, str]]:
    """Keys of these skus' stock in these stores, for a BatchGetItem another domain gathers, each with its
    (store_id, sku); ``stock_in`` reads the items back."""
    skus = list(skus)
    return {(store_pk(st), stock_sk(s)): (st, s) for st in store_ids for s in skus}


def stock_in(got: Mapping[tuple[str, str], Any]) -> dict[str, dict[str, int]]:
    """Units on hand among a BatchGetItem's items: store_id -> sku -> qty."""
    out: dict[str, dict[str, int]] = {}
    for i in got.values():
        if isinstance(i, StockItem):
            out.setdefault(i.store_id, {})[i.sku] = int(i.qty or 0)
    return out


def levels(keys: Iterable[tuple[str, str]], consistent: bool = False) -> dict[tuple[str, str], StockItem]:
    """Stock items for (store_id, sku) pairs in one BatchGetItem (PynamoDB splits above 100 keys)."""
    wanted = sorted(set(keys))
    if not wanted:
        return {}
    return {
        (i.store_id, i.sku): i
        for i in StockItem.batch_get([(store_pk(s), stock_sk(k)) for s, k in wanted], consistent_read=consistent)
    }


def stock_levels(store_id: str) -> dict[str, int]:
    """Units on hand per sku in one store (one query of the store's STOCK# items)."""
    return {i.sku: int(i.qty) for i in StockItem.query(store_pk(store_id), StockItem.sk.startswith("STOCK#"))}


def get_stock(store_id: str, sku: str, consistent: bool = False) -> StockItem | None:
    return StockItem.get_or_none(store_pk(store_id), stock_sk(sku), consistent_read=consistent)


def stock_page(store_id: str, limit: int, cursor: str | None) -> Page:
    return page(
        StockItem.query,
        hash_key=store_pk(store_id),
        range_key_condition=StockItem.sk.startswith("STOCK#"),
        limit=limit,
        cursor=cursor,
    )


def stock_across_stores(sku: str) -> list[StockItem]:
    return list(StockItem.gsi1.query(sku_gsi1pk(sku)))


def set_threshold(store_id: str, sku: str, threshold: int | None) -> StockItem:
    item = _stock_key(store_id, sku)
    action = StockItem.threshold.set(threshold) if threshold is not None else StockItem.threshold.remove()
    item.update(actions=[action, StockItem.qty.set(StockItem.qty | 0)] + _upsert_actions(store_id, sku))
    return item


def open_low_alert(store_id: str, sku: str, low_stock: events.Event) -> bool:
    """Open the alert, with its ``LowStock`` event, if stock is below threshold and none is open. True only for
    the caller that opened it."""
    return events.update_if(
        _stock_key(store_id, sku),
        [
            StockItem.low_open.set(True),
            StockItem.low_since.set(clock.iso(clock.now())),
            StockItem.gsi2pk.set(LOW_STOCK_GSI2PK),
            StockItem.gsi2sk.set(f"{store_id}#{sku}"),
        ],
        StockItem.threshold.exists()
        & (StockItem.qty < StockItem.threshold)
        & (StockItem.low_open.does_not_exist() | (StockItem.low_open == False)),
        [low_stock],
    )


def close_low_alert(store_id: str, sku: str) -> bool:
    return update_if(
        _stock_key(store_id, sku),
        actions=[
            StockItem.low_open.set(False),
            StockItem.low_since.remove(),
            StockItem.gsi2pk.remove(),
            StockItem.gsi2sk.remove(),
        ],
        condition=(StockItem.low_open == True)
        & (StockItem.threshold.does_not_exist() | (StockItem.qty >= StockItem.threshold)),
    )


def open_alerts(store_id: str | None, limit: int, cursor: str | None) -> Page:
    cond = StockItem.gsi2sk.startswith(f"{store_id}#") if store_id else None
    return page(StockItem.gsi2.query, hash_key=LOW_STOCK_GSI2PK, range_key_condition=cond, limit=limit, cursor=cursor)


# --------------------------------------------------------------------------------------- ledger
def ledger_page(store_id: str, sku: str, limit: int, cursor: str | None) -> Page:
    """Movements of one sku in one store, newest first (the store's ledger, filtered to that sku)."""
    return page(
        MovementItem.query,
        hash_key=ledger_pk(store_id),
        filter_condition=MovementItem.skus.contains(sku),
        scan_index_forward=False,
        limit=limit,
        cursor=cursor,
    )


def all_movements(store_id: str) -> list[MovementItem]:
    return list(MovementItem.query(ledger_pk(store_id)))


def changed_on(day: str) -> dict[str, set[str]]:
    """Skus whose stock changed on business day ``day``, per store: one Query of that day's gsi3 bucket."""
    out: dict[str, set[str]] = {}
    for m in MovementItem.gsi3.query(day_bucket(AUDIT_DAY_PREFIX, day)):
        out.setdefault(m.store_id, set()).update(m.deltas)
    return out


def audit_changed(day: str) -> list[Book]:
    """Balance against ledger of every (store, sku) whose stock changed on ``day``: that day's bucket, then per
    store the touched stock items (one BatchGetItem, consistent) and the store's movements."""
    touched = changed_on(day)

    def balances(store_id: str) -> dict:
        got = levels([(store_id, s) for s in touched[store_id]], consistent=True)
        return {s: int(got[(store_id, s)].qty or 0) if (store_id, s) in got else 0 for s in sorted(touched[store_id])}

    def ledgers(store_id: str) -> dict:
        sums = dict.fromkeys(sorted(touched[store_id]), 0)
        for m in MovementItem.query(ledger_pk(store_id), consistent_read=True):
            for s, d in m.deltas.items():
                if s in sums:
                    sums[s] += int(d)
        return sums

    return audit_accounts(touched, balances, ledgers, lambda store_id, sku: ("stock", f"{store_id}/{sku}"))


# --------------------------------------------------------------------------------------- transfers
def new_transfer(
    transfer_id: str, from_store: str, to_store: str, lines: list[dict[str, Any]], note: str | None, actor: str
) -> TransferItem:
    now = clock.now()
    item = TransferItem(
        transfer_pk(transfer_id),
        META,
        transfer_id=transfer_id,
        from_store_id=from_store,
        to_store_id=to_store,
        lines=lines,
        status="CREATED",
        note=note,
        created_by=actor,
        gsi1pk="TRANSFERS",
        gsi1sk=transfer_id,
        gsi2pk=f"TRANSFERS#{from_store}",
        gsi2sk=transfer_id,
        gsi3pk=f"TRANSFERS#{to_store}",
        gsi3sk=transfer_id,
        created_at=now,
        updated_at=now,
    )
    item.save(condition=TransferItem.pk.does_not_exist())
    return item


def get_transfer(transfer_id: str, consistent: bool = False) -> TransferItem | None:
    return TransferItem.get_or_none(transfer_pk(transfer_id), META, consistent_read=consistent)


def transfer_status_change(tx: Tx, item: TransferItem, frm: str, to: str, stamp_attr: str | None) -> None:
    actions = [TransferItem.status.set(to), TransferItem.updated_at.set(clock.now())]
    if stamp_attr:
        actions.append(getattr(TransferItem, stamp_attr).set(clock.iso(clock.now())))
    tx.update(item, actions, condition=TransferItem.status == frm, tag=("transfer", item.transfer_id))


def transfers_page(store_id: str | None, direction: str, limit: int, cursor: str | None) -> Page:
    if store_id is None:
        return page(TransferItem.gsi1.query, hash_key="TRANSFERS", scan_index_forward=False, limit=limit, cursor=cursor)
    index = TransferItem.gsi2 if direction == "out" else TransferItem.gsi3
    return page(index.query, hash_key=f"TRANSFERS#{store_id}", scan_index_forward=False, limit=limit, cursor=cursor)
