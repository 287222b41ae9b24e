"""Stock use cases: goods-in, stock-takes, thresholds and low-stock alerts, ledger, transfers."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from chalicelib.catalog import domain as catalog_domain
from chalicelib.catalog import repository as catalog
from chalicelib.catalog import services as catalog_services
from chalicelib.catalog.errors import CatalogCode
from chalicelib.catalog.schemas import PosProductOut, ShopProductOut
from chalicelib.core import clock, events
from chalicelib.core.auth import Principal
from chalicelib.core.dynamo import TxCancelled, transaction
from chalicelib.core.errors import Conflict, CoreCode, Forbidden, NotFound, ValidationFailed
from chalicelib.core.events import Event
from chalicelib.core.ids import new_id
from chalicelib.core.schemas import PageOut
from chalicelib.inventory import domain, repository
from chalicelib.inventory.errors import InventoryCode
from chalicelib.inventory.models import MovementItem, StockItem, TransferItem
from chalicelib.inventory.schemas import (
    CountCreate,
    LedgerEntryOut,
    LowStockOut,
    MovementOut,
    ReceiptCreate,
    StockOut,
    SuggestionOut,
    TransferCreate,
    TransferOut,
)
from chalicelib.stores import repository as stores
from chalicelib.stores.errors import StoreCode


# --------------------------------------------------------------------------------------- shared helpers
def require_store(principal: Principal, store_id: str) -> None:
    """Scope first (403 for another store), then existence (404)."""
    principal.require_store(store_id)
    stores.get(store_id)


def require_skus(skus: Iterable[str]) -> None:
    catalog_services.require_products(skus, "lines")


def out_of_stock(store_id: str, requested: Mapping[str, int], failed: Iterable) -> Conflict:
    """409 OUT_OF_STOCK naming every short line and what is available now."""
    failed_skus = {t[2] for t in failed if isinstance(t, tuple) and t[0] == "stock"}
    now = repository.levels([(store_id, s) for s in requested], consistent=True)
    short = []
    for sku, qty in sorted(requested.items()):
        available = int(now[(store_id, sku)].qty) if (store_id, sku) in now else 0
        if sku in failed_skus or available < qty:
            short.append({"sku": sku, "requested": qty, "available": available, "store_id": store_id})
    return Conflict("Not enough stock", code=InventoryCode.OUT_OF_STOCK, details={"store_id": store_id, "short": short})


def movement_out(m: MovementItem) -> MovementOut:
    return MovementOut(
        movement_id=m.movement_id,
        store_id=m.store_id,
        kind=m.move_kind,
        deltas=m.deltas,
        ref_type=m.ref_type,
        ref_id=m.ref_id,
        actor=m.actor,
        note=m.note,
        created_at=m.created_at,
    )


def _move(
    principal: Principal,
    store_id: str,
    deltas: dict[str, int],
    kind: str,
    note: str | None,
    ref_type: str,
    expected: Mapping[str, int] | None = None,
) -> MovementOut:
    with transaction() as tx:
        mid = repository.add_movement(
            tx, store_id, deltas, kind, ref_type=ref_type, actor=principal.sub, note=note, expected=expected
        )
    return MovementOut(
        movement_id=mid,
        store_id=store_id,
        kind=kind,
        deltas=deltas,
        ref_type=ref_type,
        actor=principal.sub,
        note=note,
        created_at=clock.now(),
    )


# --------------------------------------------------------------------------------------- goods in / counts
def receive_goods(principal: Principal, store_id: str, cmd: ReceiptCreate) -> MovementOut:
    require_store(principal, store_id)
    quantities = domain.merge_lines((line.sku, line.qty) for line in cmd.lines)
    require_skus(quantities)
    note = " / ".join(x for x in (cmd.supplier and f"supplier: {cmd.supplier}", cmd.note) if x) or None
    return _move(principal, store_id, domain.movement_deltas("receipt", quantities), "receipt", note, "receipt")


def stock_take(principal: Principal, store_id: str, cmd: CountCreate) -> dict:
    """Counted quantities become the balance; the differences are one ``count_adjust`` movement. If a sale
    moves a counted sku meanwhile, nothing is written and the count must be repeated (409 COUNT_STALE)."""
    require_store(principal, store_id)
    counted = {line.sku: line.counted_qty for line in cmd.lines}
    require_skus(counted)
    current = repository.levels([(store_id, s) for s in counted], consistent=True)
    on_hand = {sku: int(i.qty) for (_, sku), i in current.items()}
    adjustments = domain.count_adjustments(counted, on_hand)
    result = {
        "store_id": store_id,
        "counted": counted,
        "system": {s: on_hand.get(s, 0) for s in counted},
        "adjustments": adjustments,
        "movement": None,
    }
    if adjustments:
        try:
            result["movement"] = _move(
                principal,
                store_id,
                adjustments,
                "count_adjust",
                cmd.note,
                "count",
                expected={s: on_hand.get(s, 0) for s in adjustments},
            ).model_dump(mode="json")
        except TxCancelled as e:
            raise Conflict(
                "Stock changed while counting; count these again",
                code=InventoryCode.COUNT_STALE,
                details={"skus": sorted(t[2] for t in e.failed if t and t[0] == "stock")},
            )
    return result


# --------------------------------------------------------------------------------------- views
def stock_out(i: StockItem) -> StockOut:
    return StockOut(
        store_id=i.store_id,
        sku=i.sku,
        qty=int(i.qty or 0),
        threshold=int(i.threshold) if i.threshold is not None else None,
        in_transit=int(i.in_transit or 0),
        low=bool(i.low_open),
    )


def list_stock(principal: Principal, store_id: str, limit: int, cursor: str | None) -> PageOut[StockOut]:
    require_store(principal, store_id)
    pg = repository.stock_page(store_id, limit, cursor)
    return PageOut[StockOut](items=[stock_out(i) for i in pg.items], next=pg.next)


def ledger(principal: Principal, store_id: str, sku: str, limit: int, cursor: str | None) -> PageOut[LedgerEntryOut]:
    require_store(principal, store_id)
    pg = repository.ledger_page(store_id, sku, limit, cursor)
    return PageOut[LedgerEntryOut](
        items=[
            LedgerEntryOut(
                movement_id=m.movement_id,
                kind=m.move_kind,
                delta=int(m.deltas[sku]),
                ref_type=m.ref_type,
                ref_id=m.ref_id,
                actor=m.actor,
                note=m.note,
                created_at=m.created_at,
            )
            for m in pg.items
        ],
        next=pg.next,
    )


# --------------------------------------------------------------------------------------- low stock
def set_threshold(principal: Principal, store_id: str, sku: str, threshold: int | None) -> StockOut:
    require_store(principal, store_id)
    require_skus([sku])
    repository.set_threshold(store_id, sku, threshold)
    evaluate_low_stock(store_id, sku)
    return stock_out(repository.get_stock(store_id, sku, consistent=True))


def _suggestion(store_id: str, sku: str, qty: int, threshold: int) -> SuggestionOut | None:
    others = [
        (i.store_id, int(i.qty or 0), int(i.threshold) if i.threshold is not None else None)
        for i in repository.stock_across_stores(sku)
    ]
    s = domain.suggest_source(store_id, qty, threshold, others)
    return SuggestionOut(store_id=s.store_id, available=s.available, surplus=s.surplus, qty=s.qty) if s else None


def evaluate_low_stock(store_id: str, sku: str) -> None:
    """Open an alert (and publish LowStock) once per crossing below the threshold; close it when stock
    is back. Concurrent evaluations are safe: the conditional write lets exactly one open it."""
    item = repository.get_stock(store_id, sku, consistent=True)
    if item is None:
        return
    threshold = int(item.threshold) if item.threshold is not None else None
    change = domain.low_stock_change(int(item.qty or 0), threshold, bool(item.low_open))
    if change == "open":
        suggestion = _suggestion(store_id, sku, int(item.qty or 0), threshold)
        repository.open_low_alert(
            store_id,
            sku,
            Event(
                "LowStock",
                {
                    "store_id": store_id,
                    "sku": sku,
                    "qty": int(item.qty or 0),
                    "threshold": threshold,
                    "suggested_source": suggestion.model_dump() if suggestion else None,
                },
            ),
        )
    elif change == "close":
        repository.close_low_alert(store_id, sku)


def on_stock_moved(event: dict) -> None:
    data = event["data"]
    for sku in data["skus"]:
        evaluate_low_stock(data["store_id"], sku)


def low_stock_alerts(
    principal: Principal, store_id: str | None, limit: int, cursor: str | None
) -> PageOut[LowStockOut]:
    if not principal.is_hq:
        store_id = store_id or principal.store_id
        principal.require_store(store_id)
    pg = repository.open_alerts(store_id, limit, cursor)
    items = []
    for i in pg.items:
        qty, threshold = int(i.qty or 0), int(i.threshold or 0)
        items.append(
            LowStockOut(
                store_id=i.store_id,
                sku=i.sku,
                qty=qty,
                threshold=threshold,
                since=i.low_since,
                suggested_source=_suggestion(i.store_id, i.sku, qty, threshold),
            )
        )
    return PageOut[LowStockOut](items=items, next=pg.next)


# --------------------------------------------------------------------------------------- transfers
def transfer_out(t: TransferItem) -> TransferOut:
    return TransferOut(
        transfer_id=t.transfer_id,
        from_store_id=t.from_store_id,
        to_store_id=t.to_store_id,
        lines=t.lines,
        status=t.status,
        note=t.note,
        created_by=t.created_by,
        created_at=t.created_at,
        shipped_at=t.shipped_at,
        received_at=t.received_at,
        cancelled_at=t.cancelled_at,
    )


def _require_either(principal: Principal, *store_ids: str) -> None:
    if principal.is_hq or principal.store_id in store_ids:
        return
    raise Forbidden("You can only act on your own store's transfers", code=CoreCode.STORE_SCOPE)


def create_transfer(principal: Principal, cmd: TransferCreate) -> TransferOut:
    """Head office moves stock between any stores; a store manager only ships from their own store."""
    domain.check_transfer(cmd.from_store_id, cmd.to_store_id)
    principal.require_store(cmd.from_store_id)
    for field, sid in (("from_store_id", cmd.from_store_id), ("to_store_id", cmd.to_store_id)):
        try:
            stores.get(sid)
        except NotFound:
            raise ValidationFailed("Unknown store", details={"fields": [{"field": field, "message": "no such store"}]})
    lines = [{"sku": sku, "qty": qty} for sku, qty in domain.merge_lines((ln.sku, ln.qty) for ln in cmd.lines).items()]
    require_skus(ln["sku"] for ln in lines)
    return transfer_out(
        repository.new_transfer(new_id(), cmd.from_store_id, cmd.to_store_id, lines, cmd.note, principal.sub)
    )


def _get_transfer(transfer_id: str, principal: Principal | None = None) -> TransferItem:
    """A transfer; for store staff only one involving their store (another store's looks unknown: 404)."""
    item = repository.get_transfer(transfer_id, consistent=True)
    if item is None or not (
        principal is None or principal.owns_store(item.from_store_id) or principal.owns_store(item.to_store_id)
    ):
        raise NotFound("No such transfer", code=InventoryCode.TRANSFER_NOT_FOUND)
    return item


# A transfer's stock legs: shipping takes stock out of the source (and shows it in transit at the target),
# receiving puts it into the target (out of transit).
_TRANSFER_LEGS = {"ship": ("transfer_out", "from_store_id", False), "receive": ("transfer_in", "to_store_id", True)}


def _transition(principal: Principal, transfer_id: str, action: str) -> TransferOut:
    t = _get_transfer(transfer_id, principal)
    acting_store = {"ship": [t.from_store_id], "receive": [t.to_store_id], "cancel": [t.from_store_id, t.to_store_id]}[
        action
    ]
    _require_either(principal, *acting_store)
    new_status = domain.transfer_transition(t.status, action)
    quantities = {ln["sku"]: int(ln["qty"]) for ln in t.lines}
    stamp = {"ship": "shipped_at", "receive": "received_at", "cancel": "cancelled_at"}[action]
    try:
        with transaction() as tx:
            repository.transfer_status_change(tx, t, t.status, new_status, stamp)
            if action in _TRANSFER_LEGS:  # cancel (before shipping) moves no stock
                kind, store_attr, from_transit = _TRANSFER_LEGS[action]
                repository.add_movement(
                    tx,
                    getattr(t, store_attr),
                    domain.movement_deltas(kind, quantities),
                    kind,
                    ref_type="transfer",
                    ref_id=t.transfer_id,
                    actor=principal.sub,
                    from_transit=from_transit,
                )
                if action == "ship":
                    repository.add_in_transit(tx, t.to_store_id, quantities)
            events.add(
                tx,
                [
                    Event(
                        f"Transfer{new_status.title()}",
                        {
                            "transfer_id": t.transfer_id,
                            "from_store_id": t.from_store_id,
                            "to_store_id": t.to_store_id,
                            "lines": t.lines,
                        },
                    )
                ],
            )
    except TxCancelled as e:
        if any(tag and tag[0] == "transfer" for tag in e.failed):
            raise Conflict("The transfer changed meanwhile; reload it", code=CoreCode.ILLEGAL_STATE)
        raise out_of_stock(t.from_store_id, quantities, e.failed)
    return transfer_out(_get_transfer(transfer_id))


def ship_transfer(principal: Principal, transfer_id: str) -> TransferOut:
    return _transition(principal, transfer_id, "ship")


def receive_transfer(principal: Principal, transfer_id: str) -> TransferOut:
    return _transition(principal, transfer_id, "receive")


def cancel_transfer(principal: Principal, transfer_id: str) -> TransferOut:
    return _transition(principal, transfer_id, "cancel")


def list_transfers(
    principal: Principal, store_id: str | None, direction: str, limit: int, cursor: str | None
) -> PageOut[TransferOut]:
    if not principal.is_hq:
        store_id = store_id or principal.store_id
        principal.require_store(store_id)
    pg = repository.transfers_page(store_id, direction, limit, cursor)
    return PageOut[TransferOut](items=[transfer_out(t) for t in pg.items], next=pg.next)


def shop_products(store_id: str, category: str | None, limit: int, cursor: str | None) -> PageOut[ShopProductOut]:
    """On-sale products with this store's stock; never the cost price."""
    store = stores.get(store_id)
    if store.status != "active":
        raise NotFound("No such store", code=StoreCode.STORE_NOT_FOUND, details={"store_id": store_id})
    pg = catalog.list_page(category, catalog_domain.ON_SALE, limit, cursor)
    stock = repository.stock_levels(store_id) if pg.items else {}
    items = [
        ShopProductOut(
            sku=p.sku,
            name=p.name,
            category=p.category,
            price_fen=int(p.price_fen),
            unit=p.unit,
            spec=p.spec,
            image_url=p.image_url,
            stock_qty=max(0, stock.get(p.sku, 0)),
            consult_only=bool(p.consult_only),
            contact_hint=catalog_domain.shop_contact_hint(bool(p.consult_only), p.contact_hint),
        )
        for p in pg.items
        if catalog_domain.visible_in_shop(p.status)
    ]
    return PageOut[ShopProductOut](items=items, next=pg.next)


def pos_products(
    principal: Principal, barcode: str | None, text: str | None, limit: int, cursor: str | None
) -> PageOut[PosProductOut]:
    """The till's lookup: a scanned barcode (two GetItems and the stock's) or part of a name, with the price and
    the clerk's store's stock."""
    store_id = principal.store_id
    principal.require_store(store_id)
    if barcode is not None:
        p = catalog.by_barcode(barcode)
        if p is None:
            raise NotFound("No product has this barcode", code=CatalogCode.PRODUCT_NOT_FOUND)
        s = repository.get_stock(store_id, p.sku)
        return PageOut[PosProductOut](items=[_pos_out(p, int(s.qty) if s else 0)], next=None)
    pg = catalog.search_page(text, limit, cursor)
    stock = repository.stock_levels(store_id) if pg.items else {}
    return PageOut[PosProductOut](items=[_pos_out(p, stock.get(p.sku, 0)) for p in pg.items], next=pg.next)


def _pos_out(p, qty: int) -> PosProductOut:
    return PosProductOut(
        sku=p.sku,
        name=p.name,
        barcode=p.barcode,
        category=p.category,
        price_fen=int(p.price_fen),
        unit=p.unit,
        spec=p.spec,
        status=p.status,
        consult_only=bool(p.consult_only),
        stock_qty=qty,
    )
