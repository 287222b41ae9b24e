from __future__ import annotations

from chalice import Blueprint

from chalicelib.core.auth import HQ, MANAGERS, MEMBERS, STORE_BOUND
from chalicelib.core.errors import AppError
from chalicelib.core.http import Req, Result, route
from chalicelib.core.logging import logger
from chalicelib.core.schemas import PageOut, PageQuery
from chalicelib.coupons.schemas import CompensationIn, CouponOut
from chalicelib.orders import account, checkout, fulfilment, notifications, payment, refunds, views
from chalicelib.orders.schemas import (
    AccountDeletedOut,
    AdminOrdersQuery,
    AnomalyOut,
    CompleteIn,
    OrderListQuery,
    OrderOut,
    PayIn,
    PosQuoteIn,
    PosSaleIn,
    PrepayOut,
    QuoteOut,
    RefundIn,
    RefundOut,
    ShopQuoteIn,
)
from chalicelib.payments import webhook

orders_api = Blueprint(__name__)


# --------------------------------------------------------------------------------------- shop
@route(
    orders_api,
    "/shop/quote",
    "POST",
    roles=MEMBERS,
    body=ShopQuoteIn,
    response=QuoteOut,
    tag="shop",
    summary="Price a cart and route it to a store (problems say what is short where)",
)
def shop_quote(req: Req):
    return checkout.shop_quote(req.principal, req.body)


@route(
    orders_api,
    "/shop/orders",
    "POST",
    roles=MEMBERS,
    body=ShopQuoteIn,
    response=OrderOut,
    status=201,
    idempotent="tx",
    key_required=True,
    tag="shop",
    summary="Place an order: stock is held until paid or pay_deadline",
    errors=(409,),
)
def create_order(req: Req):
    return checkout.create_order(req.principal, req.body)


@route(
    orders_api,
    "/shop/orders",
    "GET",
    roles=MEMBERS,
    query=OrderListQuery,
    response=PageOut[OrderOut],
    tag="shop",
    summary="My orders, newest first",
)
def my_orders(req: Req):
    return views.list_member_orders(req.principal, req.query.status, req.query.limit, req.query.next)


@route(
    orders_api,
    "/shop/orders/{order_id}",
    "GET",
    roles=MEMBERS,
    response=OrderOut,
    tag="shop",
    summary="One of my orders",
)
def my_order(req: Req, order_id: str):
    return views.get_member_order(req.principal, order_id)


@route(
    orders_api,
    "/shop/orders/{order_id}/pay",
    "POST",
    roles=MEMBERS,
    body=PayIn,
    response=PrepayOut,
    idempotent=True,
    key_required=True,
    tag="shop",
    summary="Start paying: WeChat Pay prepay parameters for wx.requestPayment",
    errors=(409, 502),
)
def pay(req: Req, order_id: str):
    return payment.pay(req.principal, order_id, req.body.method)


@route(
    orders_api,
    "/shop/orders/{order_id}/cancel",
    "POST",
    roles=MEMBERS,
    response=OrderOut,
    tag="shop",
    summary="Cancel an unpaid order (its stock goes back)",
    errors=(409,),
)
def cancel(req: Req, order_id: str):
    return fulfilment.cancel_by_member(req.principal, order_id)


@route(
    orders_api,
    "/shop/orders/{order_id}/refunds",
    "POST",
    roles=MEMBERS,
    body=RefundIn,
    response=RefundOut,
    status=201,
    idempotent=True,
    key_required=True,
    tag="shop",
    summary="Ask for a refund: immediate before the store accepts, else a request the store settles",
    errors=(409,),
)
def shop_refund(req: Req, order_id: str):
    return refunds.request_refund(req.principal, order_id, req.body)


@route(
    orders_api,
    "/shop/orders/{order_id}/refunds",
    "GET",
    roles=MEMBERS,
    response=list[RefundOut],
    tag="shop",
    summary="Refunds of my order",
)
def shop_refunds(req: Req, order_id: str):
    return refunds.list_refunds(req.principal, order_id)


@route(
    orders_api,
    "/shop/me",
    "DELETE",
    roles=MEMBERS,
    response=AccountDeletedOut,
    tag="shop",
    errors=(404, 409),
    summary="Delete my account once nothing is open: personal data erased, orders kept for the books anonymised",
)
def delete_me(req: Req):
    return account.delete(req.principal)


@route(
    orders_api,
    "/shop/me/export",
    "GET",
    roles=MEMBERS,
    tag="shop",
    errors=(404,),
    summary="Everything we hold about me: profile, orders with their refunds, coupons (JSON)",
)
def export_me(req: Req):
    return account.export(req.principal)


# --------------------------------------------------------------------------------------- POS
@route(
    orders_api,
    "/pos/quote",
    "POST",
    roles=STORE_BOUND,
    body=PosQuoteIn,
    response=QuoteOut,
    tag="pos",
    summary="Price a till cart: the same engine and answer as the shop",
    errors=(404,),
)
def pos_quote(req: Req):
    return checkout.pos_quote(req.principal, req.body)


@route(
    orders_api,
    "/pos/sales",
    "POST",
    roles=STORE_BOUND,
    body=PosSaleIn,
    response=OrderOut,
    status=201,
    idempotent="tx",
    key_required=True,
    tag="pos",
    summary="A completed sale at the till (cash or WeChat payment code)",
    errors=(404, 409, 502),
)
def pos_sale(req: Req):
    return checkout.pos_sale(req.principal, req.body)


@route(
    orders_api,
    "/pos/orders",
    "GET",
    roles=STORE_BOUND,
    query=OrderListQuery,
    response=PageOut[OrderOut],
    tag="pos",
    summary="This store's orders, online and POS, newest first",
)
def store_orders(req: Req):
    return views.list_store_orders(req.principal, req.query.status, req.query.limit, req.query.next)


@route(
    orders_api,
    "/pos/orders/{order_id}",
    "GET",
    roles=STORE_BOUND,
    response=OrderOut,
    tag="pos",
    summary="One of this store's orders",
)
def store_order(req: Req, order_id: str):
    return views.get_store_order(req.principal, order_id)


@route(
    orders_api,
    "/admin/orders",
    "GET",
    roles=MANAGERS,
    query=AdminOrdersQuery,
    response=PageOut[OrderOut],
    errors=(403,),
    tag="admin",
    summary="Search orders by store, status, business days, order id or phone digits (a manager: their store)",
)
def admin_orders(req: Req):
    return views.search_orders(req.principal, req.query)


def _fulfil(action: str, summary: str, body=None):
    def view(req: Req, order_id: str):
        return fulfilment.fulfil(req.principal, order_id, action, req.body.pickup_code if req.body else None)

    view.__name__ = view.__qualname__ = f"order_{action}"
    route(
        orders_api,
        f"/pos/orders/{{order_id}}/{action}",
        "POST",
        roles=STORE_BOUND,
        body=body,
        response=OrderOut,
        tag="pos",
        summary=summary,
        errors=(409,),
    )(view)


_fulfil("accept", "Accept a paid online order")
_fulfil("ready", "Pickup order is ready for the customer")
_fulfil("deliver", "Delivery order has left the store")
_fulfil("complete", "Complete: pickup needs the customer's pickup code", body=CompleteIn)


@route(
    orders_api,
    "/pos/orders/{order_id}/refunds",
    "POST",
    audit="refund",
    roles=STORE_BOUND,
    body=RefundIn,
    response=RefundOut,
    status=201,
    idempotent=True,
    key_required=True,
    tag="pos",
    summary="Refund lines (or all) of an order; stock goes back to this store (a clerk above the limit: with a "
    "manager's approval)",
    errors=(403, 409, 429, 502),
)
def pos_refund(req: Req, order_id: str):
    return refunds.store_refund(req.principal, order_id, req.body, req.source_ip)


@route(
    orders_api,
    "/pos/orders/{order_id}/refunds",
    "GET",
    roles=STORE_BOUND,
    response=list[RefundOut],
    tag="pos",
    summary="Refunds and refund requests of an order",
)
def pos_refunds(req: Req, order_id: str):
    return refunds.list_refunds(req.principal, order_id)


# --------------------------------------------------------------------------------------- payment notifications
@route(
    orders_api,
    "/webhooks/wechatpay",
    "POST",
    roles=None,
    auth="wechatpay",
    status=204,
    tag="payments",
    summary="WeChat Pay APIv3 notification: payments (TRANSACTION.*) and refunds (REFUND.*)",
    errors=(400, 401, 502),
)
def wechatpay_notification(req: Req):
    """Verify signature, serial and timestamp, decrypt, then apply the payment or the refund's outcome exactly
    once. 204 on success, on a duplicate and on a genuine notification we cannot match (recorded as a payment
    anomaly for reconciliation: a retry would not match either); otherwise the error's status with
    ``{"code": "FAIL", ...}`` so WeChat retries (it does, 15 times over about 24 hours)."""
    try:
        outcome = notifications.receive(req.raw.headers or {}, req.raw.raw_body)
        logger.info("wechatpay notification", extra={"outcome": outcome})
        return Result(None, status=204)
    except AppError as e:
        logger.warning("wechatpay notification refused", extra={"code": e.code, "status": e.status})
        return Result(webhook.fail_body(e), status=e.status)


@route(
    orders_api,
    "/admin/payments/anomalies",
    "GET",
    roles=HQ,
    query=PageQuery,
    response=PageOut[AnomalyOut],
    tag="payments",
    summary="Payment notifications that matched nothing (wrong amount, unknown order or refund, another "
    "merchant), newest first, for reconciliation",
)
def payment_anomalies(req: Req):
    return notifications.list_anomalies(req.query.limit, req.query.next)


# --------------------------------------------------------------------------------------- refund compensation
@route(
    orders_api,
    "/admin/coupons/compensations",
    "POST",
    roles=HQ,
    body=CompensationIn,
    response=CouponOut,
    status=201,
    idempotent=True,
    tag="coupons",
    errors=(404, 409),
    summary="A refund-compensation coupon for an order's member (once per order and template)",
)
def compensate(req: Req):
    return refunds.compensate(req.principal, req.body)
