"""Report aggregates (kept by events, rebuilt from orders by ``tools/rebuild_reports.py``).

- ``DayStat``   pk=RPT#<store_id>, sk=DAY#<business day>: the store's figures of one day.
- ``SkuDayStat`` pk=RPTSKU#<store_id>, sk=<business day>#<sku>: one sku's figures of one day at the store.
- ``PairCount`` pk=RPTPAIR#<business day>, sk=TOTAL | SKU#<sku> | PAIR#<sku a>#<sku b>: chain-wide paid orders,
  orders with a sku, orders with both skus of a pair (sku a < sku b), for co-purchase and lift.
- ``StockValue`` pk=RPTSTOCK#<store_id>, sk=META: value at cost of each sku's stock (map sku -> fen).
- ``PairGone``  pk=RPTGONE#<order id>, sk=SKU#<sku> | ORDER: a refunded order's sku (or the whole order) whose pair
  counts were taken back, written with the decrements (conditionally: each is taken back once).
- ``Applied``   pk=RPTAPPLIED#<event id>#<part>, sk=META: written in the transaction of the increments it guards,
  so a redelivered event adds nothing (expires after 30 days).
"""

from __future__ import annotations

from pynamodb.attributes import MapAttribute, NumberAttribute, TTLAttribute, UnicodeAttribute

from chalicelib.core.dynamo import Item

META = "META"


def day_pk(store_id: str) -> str:
    return f"RPT#{store_id}"


def day_sk(day: str) -> str:
    return f"DAY#{day}"


def sku_pk(store_id: str) -> str:
    return f"RPTSKU#{store_id}"


def pair_pk(day: str) -> str:
    return f"RPTPAIR#{day}"


def stock_pk(store_id: str) -> str:
    return f"RPTSTOCK#{store_id}"


def gone_pk(order_id: str) -> str:
    return f"RPTGONE#{order_id}"


def applied_pk(event_id: str, part: str) -> str:
    return f"RPTAPPLIED#{event_id}#{part}"


class _Figures(Item):
    store_id = UnicodeAttribute(null=True)
    day = UnicodeAttribute(null=True)
    orders = NumberAttribute(default=0)
    units = NumberAttribute(default=0)
    sales_fen = NumberAttribute(default=0)
    discount_fen = NumberAttribute(default=0)
    refund_fen = NumberAttribute(default=0)
    cost_fen = NumberAttribute(default=0)


class DayStat(_Figures, discriminator="ReportDay"):
    pass


class SkuDayStat(_Figures, discriminator="ReportSkuDay"):
    sku = UnicodeAttribute(null=True)


class PairCount(Item, discriminator="ReportPair"):
    n = NumberAttribute(default=0)


class StockValue(Item, discriminator="ReportStock"):
    store_id = UnicodeAttribute(null=True)
    values = MapAttribute(default=dict)


class PairGone(Item, discriminator="ReportPairGone"):
    pass


class Applied(Item, discriminator="ReportApplied"):
    expires_at = TTLAttribute(null=True)
