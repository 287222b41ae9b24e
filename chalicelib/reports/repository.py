"""The only code that reads or writes report aggregates."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import timedelta

from chalicelib.core import clock
from chalicelib.core.dynamo import TxCancelled, transaction
from chalicelib.reports.domain import FIGURES, Contribution, Figures, pairs
from chalicelib.reports.models import (
    META,
    Applied,
    DayStat,
    PairCount,
    PairGone,
    SkuDayStat,
    StockValue,
    applied_pk,
    day_pk,
    day_sk,
    gone_pk,
    pair_pk,
    sku_pk,
    stock_pk,
)

APPLIED_TTL = timedelta(days=30)
TX_ITEMS = 90  # increments per transaction (DynamoDB allows 100), plus the guard


def _adds(model, f: Figures) -> list:
    return [getattr(model, name).add(v) for name, v in f.nonzero().items()]


def _once(event_id: str, part: str, updates: list[tuple[object, list]]) -> bool:
    """``updates`` (model, actions) and the guard of (event, part) in one transaction: False if already applied."""
    guard = Applied(applied_pk(event_id, part), META, expires_at=clock.now() + APPLIED_TTL, created_at=clock.now())
    try:
        with transaction() as tx:
            tx.save(guard, condition=Applied.pk.does_not_exist(), tag="applied")
            for model, actions in updates:
                if actions:
                    tx.update(model, actions)
    except TxCancelled as e:
        if "applied" in e.failed:
            return False
        raise
    return True


def _figure_updates(c: Contribution) -> list[tuple[object, list]]:
    day = DayStat(day_pk(c.store_id), day_sk(c.day))
    out = [
        (
            day,
            [
                DayStat.kind.set(DayStat),
                DayStat.store_id.set(c.store_id),
                DayStat.day.set(c.day),
                *_adds(DayStat, c.total),
            ],
        )
    ]
    for sku, f in sorted(c.skus.items()):
        item = SkuDayStat(sku_pk(c.store_id), f"{c.day}#{sku}")
        base = [SkuDayStat.kind.set(SkuDayStat), SkuDayStat.store_id.set(c.store_id), SkuDayStat.day.set(c.day)]
        out.append((item, [*base, SkuDayStat.sku.set(sku), *_adds(SkuDayStat, f)]))
    return out


def _pair_updates(c: Contribution) -> list[tuple[object, list]]:
    pk = pair_pk(c.day)
    keys = ["TOTAL"] + [f"SKU#{s}" for s in sorted(set(c.basket))] + [f"PAIR#{a}#{b}" for a, b in pairs(c.basket)]
    return [(PairCount(pk, k), [PairCount.kind.set(PairCount), PairCount.n.add(1)]) for k in keys]


def apply(event_id: str, c: Contribution) -> int:
    """Add a contribution exactly once per event: parts of at most TX_ITEMS increments, each with its guard.
    Returns the parts applied now (0: a redelivery)."""
    updates = _figure_updates(c)
    parts = [(f"f{i}", updates[i : i + TX_ITEMS]) for i in range(0, len(updates), TX_ITEMS)]
    if c.basket:
        pu = _pair_updates(c)
        parts += [(f"p{i}", pu[i : i + TX_ITEMS]) for i in range(0, len(pu), TX_ITEMS)]
    return sum(1 for part, ups in parts if _once(event_id, part, ups))


class StillChanging(Exception):
    """Another sku of the order left its basket while we were taking one back: read again."""


def gone_of(order_id: str) -> set[str]:
    """The skus of an order whose pair counts were taken back already (``ORDER``: the order's own count)."""
    return {i.sk.removeprefix("SKU#") for i in PairGone.query(gone_pk(order_id), consistent_read=True)}


def take_back(order_id: str, day: str, sku: str | None, keys: list[str], others: list[str]) -> bool:
    """One transaction: ``sku`` (None: the whole order) marked gone from the order's basket, and each of ``keys``
    of the day's pair partition decremented, provided ``others`` have not left meanwhile. False if it was taken
    back already (a redelivery, or another refund of the same units); :class:`StillChanging` if one of ``others``
    left meanwhile."""
    marker = PairGone(gone_pk(order_id), f"SKU#{sku}" if sku else "ORDER", created_at=clock.now())
    try:
        with transaction() as tx:
            tx.save(marker, condition=PairGone.pk.does_not_exist(), tag="gone")
            for other in others:
                tx.condition_check(PairGone, gone_pk(order_id), f"SKU#{other}", PairGone.pk.does_not_exist(), "kept")
            for k in keys:
                tx.update(PairCount(pair_pk(day), k), [PairCount.kind.set(PairCount), PairCount.n.add(-1)])
    except TxCancelled as e:
        if "gone" in e.failed:
            return False
        if "kept" in e.failed:
            raise StillChanging(order_id)
        raise
    return True


# --------------------------------------------------------------------------------------- reading
def _figures(item) -> Figures:
    return Figures(**{f: int(getattr(item, f) or 0) for f in FIGURES})


def days_of(store_id: str, frm: str, to: str) -> dict[str, Figures]:
    q = DayStat.query(day_pk(store_id), DayStat.sk.between(day_sk(frm), day_sk(to)))
    return {i.day: _figures(i) for i in q if isinstance(i, DayStat)}


def sku_days_of(store_id: str, frm: str, to: str) -> list[tuple[str, str, Figures]]:
    """(day, sku, figures) of a store over a range (one query, paginated by PynamoDB)."""
    q = SkuDayStat.query(sku_pk(store_id), SkuDayStat.sk.between(f"{frm}#", f"{to}#~"))
    return [(i.day, i.sku, _figures(i)) for i in q if isinstance(i, SkuDayStat)]


def pair_day(day: str) -> tuple[int, dict[str, int], dict[tuple[str, str], int]]:
    """(orders, orders per sku, orders per pair) of one business day, chain-wide."""
    total, skus, prs = 0, {}, {}
    for i in PairCount.query(pair_pk(day)):
        if i.sk == "TOTAL":
            total = int(i.n)
        elif i.sk.startswith("SKU#"):
            skus[i.sk[4:]] = int(i.n)
        elif i.sk.startswith("PAIR#"):
            a, b = i.sk[5:].split("#", 1)
            prs[(a, b)] = int(i.n)
    return total, skus, prs


def stock_values(store_ids: Iterable[str]) -> dict[str, dict[str, int]]:
    from chalicelib.core.dynamo import batch_get

    got = batch_get([(stock_pk(s), META) for s in store_ids])
    return {
        i.store_id: {k: int(v) for k, v in (i.values.as_dict() if i.values else {}).items()}
        for i in got.values()
        if isinstance(i, StockValue)
    }


def set_stock_values(store_id: str, values: Mapping[str, int]) -> None:
    """The value of every sku's stock at the store now (a put of the whole map: applying it twice is the same)."""
    StockValue(stock_pk(store_id), META, store_id=store_id, values=dict(values), updated_at=clock.now()).save()


# --------------------------------------------------------------------------------------- rebuilding
def replace_store_days(
    store_id: str, frm: str, to: str, totals: Mapping[str, Figures], by_sku: Mapping[tuple[str, str], Figures]
) -> None:
    """Overwrite a store's aggregates of [frm, to] with recomputed ones (items no longer due are deleted)."""
    now = clock.now()
    with DayStat.batch_write() as w:
        for i in DayStat.query(day_pk(store_id), DayStat.sk.between(day_sk(frm), day_sk(to))):
            if i.day not in totals:
                w.delete(i)
        for day, f in totals.items():
            w.save(DayStat(day_pk(store_id), day_sk(day), store_id=store_id, day=day, created_at=now, **f.nonzero()))
    with SkuDayStat.batch_write() as w:
        for i in SkuDayStat.query(sku_pk(store_id), SkuDayStat.sk.between(f"{frm}#", f"{to}#~")):
            if (i.day, i.sku) not in by_sku:
                w.delete(i)
        for (day, sku), f in by_sku.items():
            w.save(
                SkuDayStat(
                    sku_pk(store_id), f"{day}#{sku}", store_id=store_id, day=day, sku=sku, created_at=now, **f.nonzero()
                )
            )


def replace_pair_day(day: str, total: int, skus: Mapping[str, int], prs: Mapping[tuple[str, str], int]) -> None:
    wanted = {"TOTAL": total} if total else {}
    wanted |= {f"SKU#{s}": n for s, n in skus.items()} | {f"PAIR#{a}#{b}": n for (a, b), n in prs.items()}
    with PairCount.batch_write() as w:
        for i in PairCount.query(pair_pk(day)):
            if i.sk not in wanted:
                w.delete(i)
        for sk, n in wanted.items():
            w.save(PairCount(pair_pk(day), sk, n=n))
