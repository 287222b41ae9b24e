"""Head office's reports: sales by store / day / sku, product ranking, bought-together pairs, stock value.
JSON, or CSV (UTF-8 with BOM) with ``format=csv``; a store manager sees only their store."""

from __future__ import annotations

from chalice import Blueprint

from chalicelib.core.auth import HQ, MANAGERS
from chalicelib.core.http import Req, route
from chalicelib.core.schemas import PageOut
from chalicelib.reports import services
from chalicelib.reports.schemas import (
    AuditEntryOut,
    AuditLogQuery,
    CoPurchaseOut,
    CoPurchaseQuery,
    ProductsOut,
    ProductsQuery,
    SalesOut,
    SalesQuery,
    StockQuery,
    StockValueOut,
)

reports_api = Blueprint(__name__)


@route(
    reports_api,
    "/admin/reports/sales",
    "GET",
    roles=MANAGERS,
    query=SalesQuery,
    response=SalesOut,
    errors=(403,),
    tag="reports",
    summary="Orders, units, sales, discounts, refunds, cost and margin by store, day or sku (format=csv too)",
)
def sales(req: Req):
    return services.sales(req.principal, req.query)


@route(
    reports_api,
    "/admin/reports/products",
    "GET",
    roles=MANAGERS,
    query=ProductsQuery,
    response=ProductsOut,
    errors=(403,),
    tag="reports",
    summary="Best or slow sellers over a range (by net sales)",
)
def products(req: Req):
    return services.products(req.principal, req.query)


@route(
    reports_api,
    "/admin/reports/co-purchase",
    "GET",
    roles=HQ,
    query=CoPurchaseQuery,
    response=CoPurchaseOut,
    tag="reports",
    summary="Products bought together (chain-wide): pairs with their orders and lift, top pairs of each sku",
)
def co_purchase(req: Req):
    return services.co_purchase(req.principal, req.query)


@route(
    reports_api,
    "/admin/reports/stock",
    "GET",
    roles=MANAGERS,
    query=StockQuery,
    response=StockValueOut,
    errors=(403,),
    tag="reports",
    summary="Stock value at cost per store",
)
def stock(req: Req):
    return services.stock_value(req.principal, req.query.store_id)


@route(
    reports_api,
    "/admin/audit-log",
    "GET",
    roles=HQ,
    query=AuditLogQuery,
    response=PageOut[AuditEntryOut],
    tag="reports",
    summary="The log of sensitive actions (refunds, product and price changes, stock counts, staff and promotion "
    "changes), newest first (not in the contract)",
)
def audit_log(req: Req):
    return services.audit_log(req.query)
