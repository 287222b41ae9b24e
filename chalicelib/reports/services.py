"""Reports: aggregates kept from order and stock events, read per store and day; the rebuild from orders."""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from typing import Any

from chalicelib.catalog import repository as catalog
from chalicelib.core import actionlog, clock
from chalicelib.core.auth import Principal
from chalicelib.core.errors import ValidationFailed, invalid_cursor
from chalicelib.core.http import Result
from chalicelib.core.schemas import PageOut
from chalicelib.inventory import repository as stock_repo
from chalicelib.orders import repository as orders_repo
from chalicelib.orders.views import snapshot
from chalicelib.reports import domain, repository
from chalicelib.reports.domain import Figures
from chalicelib.reports.errors import ReportCode
from chalicelib.reports.schemas import (
    AuditEntryOut,
    AuditLogQuery,
    CoPurchaseOut,
    CoPurchaseQuery,
    FiguresOut,
    PairRow,
    ProductRow,
    ProductsOut,
    ProductsQuery,
    RangeQuery,
    SalesOut,
    SalesQuery,
    SalesRow,
    StockValueOut,
    StockValueRow,
)
from chalicelib.stores import services as stores


# --------------------------------------------------------------------------------------- subscribers
def on_order_paid(event: dict[str, Any]) -> None:
    repository.apply(event["id"], domain.sale(event["data"], clock.business_tz()))


def on_refund_completed(event: dict[str, Any]) -> None:
    order = event["data"]
    refund = order.get("refund") or {}
    if refund.get("kind", "lines") != "lines" or not refund.get("lines"):
        return  # money paid after cancelling is not a sale: nothing to take back
    repository.apply(event["id"], domain.refund(order, refund["lines"], clock.business_tz()))
    take_back_pairs(order, refund["lines"])


TAKE_BACK_ATTEMPTS = 5


def take_back_pairs(order: dict[str, Any], refund_lines: list[dict]) -> None:
    """A refund that leaves none of a sku's units in the order takes that sku's pair counts back (and the order's
    own count once nothing is kept). Exactly once per sku however often the event comes: each take-back is one
    transaction with the sku's marker, written only if absent."""
    skus = domain.gone(order["lines"], refund_lines)
    if not skus:
        return
    day = domain.business_day(order["created_at"], clock.business_tz())
    order_basket = domain.basket(order["lines"])
    for sku in skus:
        for _ in range(TAKE_BACK_ATTEMPTS):
            already = repository.gone_of(order["order_id"])
            if sku in already:
                break
            keys, others = domain.pair_takeback(order_basket, sku, already)
            try:
                repository.take_back(order["order_id"], day, sku, keys, others)
                break
            except repository.StillChanging:
                continue
        else:
            raise repository.StillChanging(order["order_id"])  # the queue delivers the event again
    if not domain.kept(order["lines"], {ln["sku"]: int(ln.get("refunded_qty", 0)) for ln in order["lines"]}):
        repository.take_back(order["order_id"], day, None, ["TOTAL"], [])


def on_stock_moved(event: dict[str, Any]) -> None:
    refresh_stock_value(event["data"]["store_id"])


def refresh_stock_value(store_id: str) -> dict[str, int]:
    levels = stock_repo.stock_levels(store_id)
    costs = {s: p.cost_fen for s, p in catalog.sellables(levels).items()}
    values = domain.stock_value(levels, costs)
    repository.set_stock_values(store_id, values)
    return values


# --------------------------------------------------------------------------------------- scope
def _stores(principal: Principal, store_id: str | None) -> list[str]:
    """The stores a report covers: the one asked for (in the caller's scope), else all (head office) or the
    caller's own store."""
    if store_id:
        principal.require_store(store_id)
        return [store_id]
    if principal.is_hq:
        return [s.store_id for s in stores.chain()]
    return [principal.store_id]


def _range(q: RangeQuery) -> tuple[str, str]:
    frm, to = q.from_.isoformat(), q.to.isoformat()
    if (q.to - q.from_).days >= domain.MAX_DAYS:
        raise ValidationFailed(
            f"A report covers at most {domain.MAX_DAYS} days",
            code=ReportCode.REPORT_BAD_RANGE,
            details={"fields": [{"field": "to", "message": "range too long"}]},
        )
    return frm, to


def _fig(f: Figures) -> dict[str, int]:
    return f.as_dict()


def _csv(name: str, columns: list[str], rows: Iterable[dict]) -> Result:
    return Result(
        domain.to_csv(columns, rows),
        content_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
    )


# --------------------------------------------------------------------------------------- sales
def _per_store(fn, store_ids: list[str]) -> list:
    """``fn(store_id)`` for every store, the stores' queries in parallel (one round trip of latency, not six)."""
    if len(store_ids) < 2:
        return [fn(s) for s in store_ids]
    with ThreadPoolExecutor(max_workers=min(8, len(store_ids))) as pool:
        return list(pool.map(fn, store_ids))


def sales(principal: Principal, q: SalesQuery) -> SalesOut | Result:
    frm, to = _range(q)
    ids = _stores(principal, q.store_id)
    rows: dict[str, Figures] = {}
    days = _per_store(lambda s: repository.days_of(s, frm, to), ids)
    total = Figures()
    for store_id, by_day in zip(ids, days, strict=True):
        for day, f in by_day.items():
            total.add(f)  # per sku, an order with two skus is one order of each: the total comes from the days
            if q.group_by != "sku":
                rows.setdefault(store_id if q.group_by == "store" else day, Figures()).add(f)
    if q.group_by == "sku":
        for sku_days in _per_store(lambda s: repository.sku_days_of(s, frm, to), ids):
            for _, sku, f in sku_days:
                rows.setdefault(sku, Figures()).add(f)
    items = [
        SalesRow(**{q.group_by if q.group_by != "store" else "store_id": k}, **_fig(f)) for k, f in sorted(rows.items())
    ]
    if q.format == "csv":
        key = "store_id" if q.group_by == "store" else q.group_by
        cols = [key, *domain.FIGURES, "margin_fen"]
        return _csv(f"sales-{frm}-{to}", cols, [i.model_dump() for i in items])
    return SalesOut(group_by=q.group_by, items=items, total=FiguresOut(**_fig(total)))


# --------------------------------------------------------------------------------------- products
def products(principal: Principal, q: ProductsQuery) -> ProductsOut | Result:
    frm, to = _range(q)
    rows: dict[str, Figures] = {}
    for sku_days in _per_store(lambda s: repository.sku_days_of(s, frm, to), _stores(principal, q.store_id)):
        for _, sku, f in sku_days:
            rows.setdefault(sku, Figures()).add(f)
    if q.order == "slow":  # products on sale that sold nothing are the slowest of all
        for sku in catalog_skus_on_sale():
            rows.setdefault(sku, Figures())
    ranked = domain.rank(rows, q.order, q.limit)
    names = {s: p.name for s, p in catalog.sellables([s for s, _ in ranked]).items()}
    items = [ProductRow(sku=s, name=names.get(s), **_fig(f)) for s, f in ranked]
    if q.format == "csv":
        cols = ["sku", "name", *domain.FIGURES, "margin_fen"]
        return _csv(f"products-{q.order}-{frm}-{to}", cols, [i.model_dump() for i in items])
    return ProductsOut(order=q.order, items=items)


def catalog_skus_on_sale() -> list[str]:
    out, cursor = [], None
    while True:
        pg = catalog.list_page(None, "on_sale", 100, cursor)
        out += [p.sku for p in pg.items]
        cursor = pg.next
        if not cursor:
            return out


# --------------------------------------------------------------------------------------- co-purchase
def co_purchase(principal: Principal, q: CoPurchaseQuery) -> CoPurchaseOut | Result:
    frm, to = _range(q)
    total, skus, prs = 0, {}, {}
    for day in domain.days(frm, to):
        t, s, p = repository.pair_day(day)
        total += t
        for k, n in s.items():
            skus[k] = skus.get(k, 0) + n
        for k, n in p.items():
            prs[k] = prs.get(k, 0) + n
    keep = domain.top_pairs({k: n for k, n in prs.items() if n >= q.min_support})
    rows = sorted(
        (
            PairRow(
                sku_a=a,
                sku_b=b,
                orders=prs[(a, b)],
                lift_bp=domain.lift_bp(prs[(a, b)], skus.get(a, 0), skus.get(b, 0), total),
            )
            for a, b in keep
        ),
        key=lambda r: (-r.orders, -r.lift_bp, r.sku_a, r.sku_b),
    )[: q.limit]
    if q.format == "csv":
        return _csv(f"co-purchase-{frm}-{to}", ["sku_a", "sku_b", "orders", "lift_bp"], [r.model_dump() for r in rows])
    return CoPurchaseOut(orders=total, items=rows)


# --------------------------------------------------------------------------------------- stock value
def stock_value(principal: Principal, store_id: str | None) -> StockValueOut:
    ids = _stores(principal, store_id)
    values = repository.stock_values(ids)
    return StockValueOut(
        items=[
            StockValueRow(store_id=s, stock_value_fen=sum(values.get(s, {}).values()), skus=len(values.get(s, {})))
            for s in ids
        ]
    )


# --------------------------------------------------------------------------------------- rebuild
def rebuild(frm: str, to: str) -> dict[str, int]:
    """Recompute every aggregate of [frm, to] from the orders (each store's orders created in the range, their
    completed refunds) and overwrite the kept ones. Run when no orders of the range are changing."""
    tz = clock.business_tz()
    start, end = domain.day_bounds_utc(frm, to, tz)
    pair_days: dict[str, list] = {d: [0, {}, {}] for d in domain.days(frm, to)}
    orders = 0
    for st in stores.chain():
        totals: dict[str, Figures] = {}
        by_sku: dict[tuple[str, str], Figures] = {}
        for order, refunds in orders_repo.sold_between(st.store_id, start, end):
            orders += 1
            data = snapshot(order)
            for c in [domain.sale(data, tz)] + [domain.refund(data, lines, tz) for lines in refunds]:
                totals.setdefault(c.day, Figures()).add(c.total)
                for sku, f in c.skus.items():
                    by_sku.setdefault((c.day, sku), Figures()).add(f)
                if c.basket:
                    _count_pairs(pair_days.setdefault(c.day, [0, {}, {}]), c.basket, _kept(data, refunds))
        repository.replace_store_days(st.store_id, frm, to, totals, by_sku)
        refresh_stock_value(st.store_id)
    for day, (t, s, p) in pair_days.items():
        repository.replace_pair_day(day, t, s, p)
    return {"orders": orders, "days": len(pair_days)}


def _kept(order: dict[str, Any], refunds: list[list[dict]]) -> set[str]:
    refunded: dict[str, int] = {}
    for lines in refunds:
        for ln in lines:
            refunded[ln["sku"]] = refunded.get(ln["sku"], 0) + int(ln["qty"])
    return domain.kept(order["lines"], refunded)


def _count_pairs(acc: list, basket: list[str], kept: set[str]) -> None:
    """What ``repository.apply`` adds to a day's pair partition for one paid order, less what its completed
    refunds took back (``take_back_pairs``: skus no unit of which is kept), added to ``acc``."""
    if not kept:
        return
    acc[0] += 1
    for sku in set(basket) & kept:
        acc[1][sku] = acc[1].get(sku, 0) + 1
    for a, b in domain.pairs(basket):
        if a in kept and b in kept:
            acc[2][(a, b)] = acc[2].get((a, b), 0) + 1


# --------------------------------------------------------------------------------------- the action log
def audit_log(q: AuditLogQuery) -> PageOut[AuditEntryOut]:
    """Head office reads the log of sensitive actions, newest day first (cursor ``<day>.<that day's cursor>``)."""
    today = clock.business_now().date()
    frm, to = q.from_ or today, q.to or today
    if frm > to or (to - frm).days >= domain.MAX_DAYS:
        raise ValidationFailed(
            "from must not be after to, and the range at most a year",
            code=ReportCode.REPORT_BAD_RANGE,
            details={"fields": [{"field": "from", "message": "bad range"}]},
        )
    day, cursor = to.isoformat(), None
    if q.next:
        day, _, cursor = q.next.partition(".")
        if not (frm.isoformat() <= day <= to.isoformat()):
            raise invalid_cursor("not a cursor of this range")
    out: list[AuditEntryOut] = []
    while day >= frm.isoformat() and len(out) < q.limit:
        pg = actionlog.day_page(day, q.action, q.store_id, q.limit - len(out), cursor or None)
        out += [AuditEntryOut(**actionlog.entry_out(i)) for i in pg.items]
        if pg.next:
            return PageOut[AuditEntryOut](items=out, next=f"{day}.{pg.next}")
        day, cursor = (date.fromisoformat(day) - timedelta(days=1)).isoformat(), None
    return PageOut[AuditEntryOut](items=out, next=f"{day}." if day >= frm.isoformat() else None)
