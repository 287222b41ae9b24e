"""The sandbox payment provider: WeChat Pay without WeChat, for the local stage and tests.

``prepay`` answers real-looking, correctly signed ``wx.requestPayment`` parameters (sandbox merchant key) and
queues the TRANSACTION.SUCCESS notification WeChat would send for the full amount, encrypted with the APIv3
key and signed with the sandbox platform key - so the webhook's real verification code always runs:

* tests take it with ``pending_notification(order_id)`` and POST it through the Chalice test client;
* on the ``local`` stage it is also handed to the ``deliver(headers, body)`` hook, by default
  :func:`http_deliver`, which POSTs it to ``SANDBOX_WEBHOOK_URL`` after ``SANDBOX_PAY_DELAY_S`` seconds on a
  daemon thread (``set_deliver`` replaces or disables the hook).

Keys: ``SANDBOX_PLATFORM_PRIVATE_KEY`` / ``SANDBOX_PLATFORM_SERIAL``, ``WECHATPAY_MERCHANT_PRIVATE_KEY`` and
``WECHATPAY_APIV3_KEY`` when set; otherwise generated once per process. Nothing is ever written to disk.
Refunds answer PROCESSING, like WeChat usually does: the refund succeeds ``SANDBOX_REFUND_DELAY_S`` later (by
the app's clock; ``refund_status`` answers SUCCESS from then on) and its REFUND.SUCCESS notification is queued
(tests: ``pending_refund_notification(refund_id)``; local: delivered after that delay). ``settle_refund`` makes
one ABNORMAL or CLOSED instead. 付款码 ``^1[0-5]\\d{16}$`` (WeChat's 18 digits) are paid, anything else is declined.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from chalicelib.core import clock
from chalicelib.core.errors import Conflict, NotFound
from chalicelib.core.logging import logger
from chalicelib.core.settings import get_settings
from chalicelib.payments import domain
from chalicelib.payments.base import Charge, Prepay, RefundResult, Transfer, _private_key, declined, merchant_ids
from chalicelib.payments.errors import PaymentCode

AUTH_CODE = re.compile(r"^1[0-5]\d{16}$")
OUTBOX_MAX = 1000

Deliver = Callable[[dict, bytes], None]

_lock = threading.Lock()
_generated: dict[str, Any] = {}
_outbox: OrderedDict[str, dict[str, Any]] = OrderedDict()
_refunds: dict[str, dict[str, Any]] = {}
_transfers: dict[str, dict[str, Any]] = {}
transfer_outcomes: dict[str, str] = {}  # tests: transfer id -> FAIL | PROCESSING (default SUCCESS)
_UNSET: Any = object()
_deliver: Any = _UNSET


# --- keys ----------------------------------------------------------------------------------------------------


def _generate(name: str):
    with _lock:
        if name not in _generated:
            if name == "apiv3":
                _generated[name] = secrets.token_hex(16).encode()  # 32 ASCII bytes, like a real APIv3 key
            else:
                from cryptography.hazmat.primitives.asymmetric import rsa

                _generated[name] = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        return _generated[name]


def platform_private_key():
    pem = get_settings().sandbox_platform_private_key.get_secret_value()
    if pem:
        return _private_key(pem)
    return _generate("platform")


def platform_public_key():
    return platform_private_key().public_key()


def platform_serial() -> str:
    """``SANDBOX_PLATFORM_SERIAL``, or 40 hex digits derived from the key (the shape of a certificate serial)."""
    serial = get_settings().sandbox_platform_serial
    if serial:
        return serial
    from cryptography.hazmat.primitives import serialization

    der = platform_public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(der).hexdigest()[:40].upper()


def merchant_private_key():
    pem = get_settings().wechatpay_merchant_private_key.get_secret_value()
    if pem:
        return _private_key(pem)
    return _generate("merchant")


def merchant_public_key():
    return merchant_private_key().public_key()


def apiv3_key() -> bytes:
    key = get_settings().wechatpay_apiv3_key.get_secret_value().encode()
    return key if key else _generate("apiv3")


# --- the outbox and its delivery -----------------------------------------------------------------------------


def set_deliver(fn: Deliver | None) -> None:
    """The hook that gets each queued notification; ``None`` disables delivery. By default the local stage
    delivers over HTTP (:func:`http_deliver`) and other stages do not deliver."""
    global _deliver
    _deliver = fn


def _deliverer() -> Deliver | None:
    if _deliver is not _UNSET:
        return _deliver
    return http_deliver if get_settings().is_local else None


def http_deliver(headers: dict, body: bytes, delay_s: float | None = None) -> None:
    """POST the notification to ``SANDBOX_WEBHOOK_URL`` after ``delay_s`` (default ``SANDBOX_PAY_DELAY_S``) on a
    daemon thread, retrying a few times like WeChat does (faster), until the webhook answers 2xx."""
    s = get_settings()
    url, delay = s.sandbox_webhook_url, s.sandbox_pay_delay_s if delay_s is None else delay_s

    def run() -> None:
        import urllib3

        pool = urllib3.PoolManager(timeout=urllib3.Timeout(total=10.0), retries=False)
        for wait in (delay, 2.0, 5.0, 15.0):
            time.sleep(wait)
            try:
                resp = pool.request("POST", url, body=body, headers={**headers, "Content-Type": "application/json"})
                if 200 <= resp.status < 300:
                    return
                logger.warning("sandbox notification refused", extra={"status": resp.status})
            except urllib3.exceptions.HTTPError as e:
                logger.warning("sandbox notification not delivered", extra={"error": type(e).__name__})

    threading.Thread(target=run, name="sandbox-wechatpay-notify", daemon=True).start()


def pending_notification(
    order_id: str, *, amount_fen: int | None = None, trade_state: str | None = None
) -> tuple[dict[str, str], bytes]:
    """The notification queued by ``prepay(order_id)``, signed now: ``(headers, body)`` to POST to the webhook.
    Every call keeps the event id (like WeChat's retries) with a fresh timestamp and nonce. ``amount_fen`` /
    ``trade_state`` override the transaction (tests of the webhook's checks). KeyError when nothing is queued."""
    with _lock:
        pending = _outbox[order_id]
    tx = dict(pending["tx"])
    if amount_fen is not None:
        tx["amount"] = {**tx["amount"], "total": int(amount_fen), "payer_total": int(amount_fen)}
    if trade_state is not None:
        tx["trade_state"] = trade_state
    return _sign(pending["event_id"], pending["create_time"], tx)


def pending_refund_notification(refund_id: str, *, status: str | None = None) -> tuple[dict[str, str], bytes]:
    """The REFUND.<status> notification of a refund asked for earlier (default: its outcome, SUCCESS unless
    ``settle_refund`` said otherwise), signed now; the same event id on every call. KeyError if unknown."""
    with _lock:
        r = dict(_refunds[refund_id])
    status = status or r["outcome"]
    mchid, _ = merchant_ids()
    res = domain.refund_resource(
        mchid=mchid,
        out_trade_no=r["order_id"],
        out_refund_no=refund_id,
        refund_id=r["provider_id"],
        refund_fen=r["amount_fen"],
        total_fen=r["total_fen"],
        refund_status=status,
        success_time=domain.rfc3339_cst(r["settles_at"]),
    )
    return _sign(f"{r['event_id']}-{status}", r["create_time"], res, f"REFUND.{status}", "refund")


def settle_refund(refund_id: str, outcome: str) -> None:
    """Make a sandbox refund end as ``outcome`` (SUCCESS, ABNORMAL or CLOSED)."""
    with _lock:
        _refunds[refund_id]["outcome"] = outcome


def _sign(
    event_id: str,
    create_time: str,
    tx: dict[str, Any],
    event_type: str = "TRANSACTION.SUCCESS",
    original_type: str = "transaction",
) -> tuple[dict[str, str], bytes]:
    return domain.sign_notification(
        tx,
        platform_private_key=platform_private_key(),
        platform_serial=platform_serial(),
        apiv3_key=apiv3_key(),
        now=clock.now(),
        event_id=event_id,
        event_type=event_type,
        create_time=create_time,
        original_type=original_type,
    )


def clear() -> None:
    with _lock:
        _outbox.clear()
        _refunds.clear()
        _transfers.clear()
        transfer_outcomes.clear()


def _digits(n: int) -> str:
    return "".join(secrets.choice("0123456789") for _ in range(n))


# --- the provider --------------------------------------------------------------------------------------------


class SandboxPaymentClient:
    def prepay(self, *, order_id: str, amount_fen: int, description: str, openid: str, expires_at: datetime) -> Prepay:
        now = clock.now()
        mchid, appid = merchant_ids()
        local = now.astimezone(domain.CST)
        prepay_id = f"wx{local:%d%H%M%S}{secrets.token_hex(12)}{_digits(4)}"
        tx = domain.transaction_resource(
            appid=appid,
            mchid=mchid,
            out_trade_no=order_id,
            amount_fen=int(amount_fen),
            openid=openid,
            transaction_id=f"4200{_digits(6)}{local:%Y%m%d}{_digits(10)}",
            success_time=domain.rfc3339_cst(now),
        )
        pending = {
            "tx": tx,
            "event_id": f"{secrets.token_hex(4)}-{secrets.token_hex(2)}-{secrets.token_hex(2)}-"
            f"{secrets.token_hex(2)}-{secrets.token_hex(6)}",
            "create_time": domain.rfc3339_cst(now),
        }
        with _lock:
            _outbox[order_id] = pending
            _outbox.move_to_end(order_id)
            while len(_outbox) > OUTBOX_MAX:
                _outbox.popitem(last=False)
        deliver = _deliverer()
        if deliver is not None:
            deliver(*_sign(pending["event_id"], pending["create_time"], tx))
        params = domain.jsapi_params(
            appid=appid, prepay_id=prepay_id, private_key=merchant_private_key(), timestamp=int(now.timestamp())
        )
        return Prepay(**params)

    def refund(self, *, order_id: str, refund_id: str, amount_fen: int, total_fen: int, reason: str) -> RefundResult:
        if not 0 < int(amount_fen) <= int(total_fen):
            raise Conflict(
                "WeChat Pay refused the refund",
                code=PaymentCode.REFUND_REJECTED,
                details={"provider_code": "INVALID_REQUEST"},
            )
        now = clock.now()
        fresh = {
            "provider_id": f"50{_digits(28)}",
            "order_id": order_id,
            "amount_fen": int(amount_fen),
            "total_fen": int(total_fen),
            "settles_at": now + timedelta(seconds=get_settings().sandbox_refund_delay_s),
            "outcome": "SUCCESS",
            "event_id": secrets.token_hex(8),
            "create_time": domain.rfc3339_cst(now),
        }
        with _lock:
            r = _refunds.setdefault(refund_id, fresh)  # same refund_id, same refund
        deliver = _deliverer()
        if r is fresh and deliver is not None:
            headers, body = pending_refund_notification(refund_id)
            if deliver is http_deliver:
                http_deliver(headers, body, get_settings().sandbox_refund_delay_s)
            else:
                deliver(headers, body)
        return RefundResult(refund_id=refund_id, provider_refund_id=r["provider_id"], status=self._status(r))

    @staticmethod
    def _status(r: dict[str, Any]) -> str:
        return r["outcome"] if clock.now() >= r["settles_at"] else "PROCESSING"

    def refund_status(self, *, refund_id: str) -> RefundResult:
        with _lock:
            r = _refunds.get(refund_id)
        if r is None:
            raise NotFound("WeChat Pay does not know this refund", code=PaymentCode.REFUND_NOT_FOUND)
        return RefundResult(refund_id=refund_id, provider_refund_id=r["provider_id"], status=self._status(r))

    def close(self, *, order_id: str) -> None:
        """No payment can follow: the queued notification is dropped."""
        with _lock:
            _outbox.pop(order_id, None)

    def transfer(self, *, transfer_id: str, openid: str, amount_fen: int, remark: str) -> Transfer:
        """Paid at once (WeChat would answer PROCESSING first, then SUCCESS); the same id again is the same
        transfer. ``transfer_outcomes[transfer_id]`` (tests) makes one FAIL or stay PROCESSING."""
        with _lock:
            t = _transfers.setdefault(transfer_id, {"openid": openid, "amount_fen": int(amount_fen)})
            t["status"] = transfer_outcomes.get(transfer_id, "SUCCESS")
        return self.transfer_status(transfer_id=transfer_id)

    def transfer_status(self, *, transfer_id: str) -> Transfer | None:
        with _lock:
            t = _transfers.get(transfer_id)
        if t is None:
            return None
        message = "sandbox: refused" if t["status"] == "FAIL" else None
        return Transfer(transfer_id, t["status"], provider_id=f"SANDBOX-{transfer_id}", message=message)

    def micropay(self, *, order_id: str, amount_fen: int, auth_code: str, description: str) -> Charge:
        if not AUTH_CODE.match(auth_code or ""):
            raise declined("The payment code is invalid or expired", provider_code="AUTH_CODE_INVALID")
        local = clock.now().astimezone(domain.CST)
        return Charge(transaction_id=f"4200{_digits(6)}{local:%Y%m%d}{_digits(10)}", amount_fen=int(amount_fen))
