"""Reading a WeChat Pay notification with the keys and merchant ids of the settings (the webhook's first step).

The route answers 204 on success or a duplicate; on any error WeChat should retry, so it answers the error's
status with ``fail_body(err)`` = ``{"code": "FAIL", "message": ...}`` (the shape WeChat expects).
"""

from __future__ import annotations

from collections.abc import Mapping

from chalicelib.core import clock
from chalicelib.core.errors import AppError
from chalicelib.payments.base import merchant_ids
from chalicelib.payments.domain import Notification, RefundNotification, verify_and_decrypt
from chalicelib.payments.errors import PaymentCode


def parse_notification(headers: Mapping[str, str], body: bytes | str | None) -> Notification | RefundNotification:
    """Verify (signature, serial, timestamp), decrypt (a payment or a refund notification) and check
    mchid/appid; raises the AppError codes of
    :func:`chalicelib.payments.domain.verify_and_decrypt` (401/400), or 502 PAYMENT_NOT_CONFIGURED."""
    from chalicelib.payments.client import apiv3_key, platform_keys

    mchid, appid = merchant_ids()
    raw = body.encode("utf-8") if isinstance(body, str) else (body or b"")
    return verify_and_decrypt(
        headers,
        raw,
        platform_keys=platform_keys(),
        apiv3_key=apiv3_key(),
        now=clock.now(),
        mchid=mchid or None,
        appid=appid or None,
    )


def fail_body(err: AppError) -> dict[str, str]:
    return {"code": PaymentCode.FAIL, "message": f"{err.code}: {err.message}"}
