"""``POST /webhooks/wechatpay``: WeChat Pay's payment notifications.

Verify signature, serial and timestamp, decrypt, then apply the payment to its order exactly once. 204 on
success and on a duplicate; otherwise the error's status with ``{"code": "FAIL", ...}`` so WeChat retries
(it does, 15 times over about 24 hours). A bad signature, a stale timestamp or a wrong amount changes nothing.
"""
from __future__ import annotations

from chalice import Blueprint

from chalicelib.core.errors import AppError
from chalicelib.core.http import Req, Result, route
from chalicelib.core.logging import logger

payments_api = Blueprint(__name__)


@route(payments_api, "/webhooks/wechatpay", "POST", roles=None, auth="wechatpay", status=204, tag="payments",
       summary="WeChat Pay APIv3 payment notification", errors=(400, 401, 404, 409, 502))
def wechatpay_notification(req: Req):
    from chalicelib.orders import services as orders
    from chalicelib.payments import webhook

    try:
        n = webhook.parse_notification(req.raw.headers or {}, req.raw.raw_body)
        if n.trade_state != "SUCCESS":
            logger.info("wechatpay notification ignored", extra={"trade_state": n.trade_state,
                                                                  "order_id": n.out_trade_no})
            return Result(None, status=204)
        outcome = orders.apply_payment(n.out_trade_no, n.transaction_id, n.amount_total_fen, "wechat",
                                       n.success_time)
        logger.info("wechatpay notification", extra={"order_id": n.out_trade_no, "outcome": outcome})
        return Result(None, status=204)
    except AppError as e:
        logger.warning("wechatpay notification refused", extra={"code": e.code, "status": e.status})
        return Result(webhook.fail_body(e), status=e.status)
