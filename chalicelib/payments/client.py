"""The payment provider interface and its implementations.

``get_client()`` answers the provider chosen by settings (``PAYMENT_PROVIDER``: ``wechatpay`` | ``sandbox``;
unset -> sandbox on the local and test stages, wechatpay elsewhere). :class:`WechatPayClient` speaks WeChat Pay
APIv3 (JSAPI prepay, refunds) and APIv2 XML for the POS 付款码 (micropay, which has no v3 API);
:class:`~chalicelib.payments.sandbox.SandboxPaymentClient` fakes it faithfully enough that the webhook's real
verification always runs.

``platform_keys()`` and ``apiv3_key()`` are what the webhook verifies with, read from settings exactly as in
production, with the sandbox's own keys added when the provider is the sandbox.

Neither ``cryptography`` nor ``urllib3`` is imported at module import (cold start).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from functools import lru_cache
from typing import Any
from urllib.parse import quote, urlsplit

from chalicelib.core import clock
from chalicelib.core.errors import AppError, Conflict, NotFound, UpstreamUnavailable
from chalicelib.core.logging import logger
from chalicelib.core.settings import Settings, get_settings
from chalicelib.payments import domain
from chalicelib.payments.base import (
    Charge,
    PaymentClient,
    Prepay,
    RefundResult,
    Transfer,
    _private_key,
    declined,
    merchant_ids,
    not_configured,
    provider_name,
    unavailable,
)
from chalicelib.payments.errors import PaymentCode

DEFAULT_API_BASE = "https://api.mch.weixin.qq.com"
USER_AGENT = "omnistore/1.0 (WeChatPay-APIv3; python-urllib3)"


@lru_cache(maxsize=32)
def _public_key(pem: str):
    return domain.load_public_key(pem)


@lru_cache(maxsize=8)
def _configured_platform_keys(many: str, one: str, serial: str) -> dict[str, Any]:
    keys: dict[str, Any] = {}
    try:
        if many.strip():
            parsed = json.loads(many)
            if not isinstance(parsed, dict):
                raise ValueError("WECHATPAY_PLATFORM_PUBLIC_KEYS must be a JSON object")
            keys.update({str(k): _public_key(str(v)) for k, v in parsed.items()})
        if one.strip():
            if not serial:
                raise ValueError("WECHATPAY_PLATFORM_SERIAL is required with WECHATPAY_PLATFORM_PUBLIC_KEY")
            keys[serial] = _public_key(one)
    except Exception as e:  # bad JSON or PEMs; never log the key itself
        logger.error("wechatpay platform keys unreadable", extra={"error": type(e).__name__})
        raise not_configured("WECHATPAY_PLATFORM_PUBLIC_KEYS")
    return keys


def platform_keys() -> dict[str, Any]:
    """Serial -> platform public key, for verifying notifications and responses."""
    s = get_settings()
    keys = dict(
        _configured_platform_keys(
            s.wechatpay_platform_public_keys, s.wechatpay_platform_public_key, s.wechatpay_platform_serial
        )
    )
    if provider_name(s) == "sandbox":
        from chalicelib.payments import sandbox

        keys[sandbox.platform_serial()] = sandbox.platform_public_key()
    if not keys:
        raise not_configured("WECHATPAY_PLATFORM_PUBLIC_KEYS")
    return keys


def apiv3_key() -> bytes:
    """The 32-byte APIv3 key that decrypts notification resources."""
    s = get_settings()
    if provider_name(s) == "sandbox":
        from chalicelib.payments import sandbox

        return sandbox.apiv3_key()
    key = s.wechatpay_apiv3_key.get_secret_value().encode()
    if len(key) != 32:
        raise not_configured("WECHATPAY_APIV3_KEY")
    return key


# --- provider selection --------------------------------------------------------------------------------------

_override: PaymentClient | None = None
_cached: tuple[Settings, PaymentClient] | None = None


def set_client(client: PaymentClient | None) -> None:
    """Force a client (tests); ``None`` goes back to settings."""
    global _override, _cached
    _override, _cached = client, None


def get_client() -> PaymentClient:
    global _cached
    if _override is not None:
        return _override
    s = get_settings()
    if _cached is not None and _cached[0] is s:
        return _cached[1]
    if provider_name(s) == "sandbox":
        from chalicelib.payments.sandbox import SandboxPaymentClient

        client: PaymentClient = SandboxPaymentClient()
    else:
        client = WechatPayClient.from_settings(s)
    _cached = (s, client)
    return client


# --- the real thing ------------------------------------------------------------------------------------------

# v3 error codes that mean our configuration (or WeChat) is at fault: retrying later / fixing settings helps.
_CONFIG_CODES = frozenset(
    {
        "SIGN_ERROR",
        "MCH_NOT_EXISTS",
        "APPID_MCHID_NOT_MATCH",
        "FREQUENCY_LIMITED",
        "SYSTEM_ERROR",
        "SYSTEMERROR",
        "BANKERROR",
    }
)
# v2 micropay err_codes that mean the payer's side said no.
_V2_DECLINED = frozenset(
    {
        "AUTHCODEEXPIRE",
        "AUTH_CODE_ERROR",
        "AUTH_CODE_INVALID",
        "NOTENOUGH",
        "NOTSUPORTCARD",
        "ORDERCLOSED",
        "ORDERREVERSED",
        "BUYER_MISMATCH",
        "TRADE_ERROR",
        "PAYERROR",
        "OUT_TRADE_NO_USED",
    }
)
_V2_PENDING = frozenset({"USERPAYING", "SYSTEMERROR", "BANKERROR", "ORDERPAID"})
_V2_FAILED_STATES = frozenset({"PAYERROR", "CLOSED", "REVOKED", "REFUND"})


class WechatPayClient:
    """WeChat Pay for one merchant (直连商户). Every request is signed with the merchant key; every answer
    must carry a valid platform signature, or it is treated as no answer (PAYMENT_UNAVAILABLE)."""

    poll_s = 3.0  # micropay: seconds between order queries while the payer confirms

    def __init__(
        self,
        *,
        mchid: str,
        appid: str,
        merchant_private_key: Any,
        merchant_serial: str,
        platform_keys: Mapping[str, Any] | Callable[[], Mapping[str, Any]],
        notify_url: str,
        api_base: str = DEFAULT_API_BASE,
        timeout_s: float = 5.0,
        apiv2_key: str = "",
        spbill_ip: str = "127.0.0.1",
        micropay_wait_s: float = 15.0,
        retries: int = 2,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.mchid, self.appid, self.serial = mchid, appid, merchant_serial
        self._key = domain.load_private_key(merchant_private_key)
        self._platform_keys = platform_keys
        self.notify_url = notify_url
        self.api_base = api_base.rstrip("/")
        self._base_path = urlsplit(self.api_base).path.rstrip("/")
        self.timeout_s, self.retries = timeout_s, retries
        self._v2_key = apiv2_key
        self.spbill_ip, self.micropay_wait_s = spbill_ip, micropay_wait_s
        self._sleep = sleep
        self._http = None

    @classmethod
    def from_settings(cls, s: Settings | None = None) -> WechatPayClient:
        s = s or get_settings()
        mchid, appid = merchant_ids(s)
        pem = s.wechatpay_merchant_private_key.get_secret_value()
        for name, value in (
            ("WECHATPAY_MCHID", mchid),
            ("WECHATPAY_APPID", appid),
            ("WECHATPAY_MERCHANT_PRIVATE_KEY", pem),
            ("WECHATPAY_MERCHANT_SERIAL", s.wechatpay_merchant_serial),
            ("WECHATPAY_NOTIFY_URL", s.wechatpay_notify_url),
        ):
            if not value:
                raise not_configured(name)
        try:
            key = _private_key(pem)
        except Exception:  # unreadable PEM (never logged)
            raise not_configured("WECHATPAY_MERCHANT_PRIVATE_KEY")
        return cls(
            mchid=mchid,
            appid=appid,
            merchant_private_key=key,
            merchant_serial=s.wechatpay_merchant_serial,
            platform_keys=platform_keys,
            notify_url=s.wechatpay_notify_url,
            api_base=s.wechatpay_api_base,
            timeout_s=s.wechatpay_timeout_s,
            apiv2_key=s.wechatpay_apiv2_key.get_secret_value(),
            spbill_ip=s.wechatpay_spbill_ip,
            micropay_wait_s=s.wechatpay_micropay_wait_s,
        )

    # -- transport --

    def _pool(self):
        if self._http is None:
            import urllib3

            # POSTs are retried too: WeChat dedupes them by out_trade_no / out_refund_no.
            retry = urllib3.Retry(
                total=self.retries,
                connect=self.retries,
                read=1,
                status=self.retries,
                backoff_factor=0.2,
                status_forcelist=(500, 502, 503, 504),
                allowed_methods=None,
                raise_on_status=False,
                raise_on_redirect=False,
                redirect=0,
            )
            self._http = urllib3.PoolManager(
                retries=retry, timeout=urllib3.Timeout(connect=min(2.0, self.timeout_s), read=self.timeout_s)
            )
        return self._http

    def _keys(self) -> Mapping[str, Any]:
        return self._platform_keys() if callable(self._platform_keys) else self._platform_keys

    def _send(self, method: str, path: str, body: bytes | None, headers: dict[str, str], op: str):
        import urllib3

        try:
            return self._pool().request(method, self.api_base + path, body=body, headers=headers)
        except urllib3.exceptions.HTTPError as e:
            logger.warning("wechatpay unreachable", extra={"op": op, "error": type(e).__name__})
            raise unavailable(op=op)

    def _call(self, method: str, path: str, payload: Mapping[str, Any] | None, op: str) -> tuple[int, dict]:
        """One signed v3 request; answers (status, json) of a verified response below 500."""
        body = "" if payload is None else json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
        ts, nonce = int(clock.now().timestamp()), domain.nonce_str()
        headers = {
            "Authorization": domain.authorization(
                mchid=self.mchid,
                serial_no=self.serial,
                private_key=self._key,
                method=method,
                url_path=self._base_path + path,
                body=body,
                timestamp=ts,
                nonce=nonce,
            ),
            "Accept": "application/json",
            "User-Agent": USER_AGENT,
        }
        if payload is not None:
            headers["Content-Type"] = "application/json; charset=utf-8"
        resp = self._send(method, path, body.encode("utf-8") if payload is not None else None, headers, op)
        if resp.status >= 500:
            logger.warning("wechatpay server error", extra={"op": op, "status": resp.status})
            raise unavailable(op=op, provider_status=resp.status)
        try:
            domain.verify_signed(resp.headers, resp.data or b"", platform_keys=self._keys(), now=clock.now())
        except AppError as e:
            logger.warning("wechatpay response not verified", extra={"op": op, "status": resp.status, "reason": e.code})
            raise unavailable("The payment provider's answer could not be verified", op=op, reason=e.code)
        try:
            data = json.loads(resp.data) if resp.data else {}
        except ValueError:
            raise unavailable(op=op, reason="NOT_JSON")
        return resp.status, data if isinstance(data, dict) else {}

    @staticmethod
    def _provider_error(status: int, data: dict, op: str) -> dict[str, Any]:
        info = {"op": op, "provider_status": status, "provider_code": str(data.get("code") or "")}
        logger.warning("wechatpay rejected", extra={**info, "provider_message": str(data.get("message") or "")[:200]})
        return info

    # -- v3 --

    def prepay(self, *, order_id: str, amount_fen: int, description: str, openid: str, expires_at: datetime) -> Prepay:
        payload = {
            "appid": self.appid,
            "mchid": self.mchid,
            "description": domain.truncate_utf8(description, 127),
            "out_trade_no": order_id,
            "time_expire": domain.rfc3339_cst(expires_at),
            "notify_url": self.notify_url,
            "amount": {"total": int(amount_fen), "currency": "CNY"},
            "payer": {"openid": openid},
        }
        status, data = self._call("POST", "/v3/pay/transactions/jsapi", payload, "prepay")
        if status >= 300 or not data.get("prepay_id"):
            info = self._provider_error(status, data, "prepay")
            code = info["provider_code"]
            if code == "ORDERPAID":
                raise Conflict("The order is already paid", code=PaymentCode.ALREADY_PAID, details=info)
            if code == "ORDER_CLOSED":
                raise Conflict("WeChat Pay has closed this order", code=PaymentCode.PAYMENT_ORDER_CLOSED, details=info)
            if code == "OUT_TRADE_NO_USED":
                raise Conflict(
                    "This order was sent to WeChat Pay with other details",
                    code=PaymentCode.PAYMENT_DUPLICATE,
                    details=info,
                )
            raise unavailable(**info)
        params = domain.jsapi_params(
            appid=self.appid,
            prepay_id=str(data["prepay_id"]),
            private_key=self._key,
            timestamp=int(clock.now().timestamp()),
        )
        return Prepay(**params)

    def refund(self, *, order_id: str, refund_id: str, amount_fen: int, total_fen: int, reason: str) -> RefundResult:
        payload = {
            "out_trade_no": order_id,
            "out_refund_no": refund_id,
            "reason": domain.truncate_utf8(reason or "退款", 80),
            "amount": {"refund": int(amount_fen), "total": int(total_fen), "currency": "CNY"},
        }
        status, data = self._call("POST", "/v3/refund/domestic/refunds", payload, "refund")
        if status >= 300 or not data.get("refund_id"):
            info = self._provider_error(status, data, "refund")
            if status == 429 or status == 401 or info["provider_code"] in _CONFIG_CODES:
                raise unavailable(**info)
            raise Conflict("WeChat Pay refused the refund", code=PaymentCode.REFUND_REJECTED, details=info)
        return RefundResult(
            refund_id=refund_id,
            provider_refund_id=str(data["refund_id"]),
            status=str(data.get("status") or "PROCESSING"),
        )

    def refund_status(self, *, refund_id: str) -> RefundResult:
        """GET /v3/refund/domestic/refunds/{out_refund_no}: where a PROCESSING refund has got to."""
        status, data = self._call(
            "GET", f"/v3/refund/domestic/refunds/{quote(refund_id, safe='')}", None, "refund_status"
        )
        if status >= 300 or not data.get("refund_id"):
            info = self._provider_error(status, data, "refund_status")
            if status == 404:
                raise NotFound("WeChat Pay does not know this refund", code=PaymentCode.REFUND_NOT_FOUND, details=info)
            raise unavailable(**info)
        return RefundResult(
            refund_id=refund_id,
            provider_refund_id=str(data["refund_id"]),
            status=str(data.get("status") or "PROCESSING"),
        )

    def close(self, *, order_id: str) -> None:
        """POST /v3/pay/transactions/out-trade-no/{id}/close: no payment can follow (an expired order)."""
        status, data = self._call(
            "POST",
            f"/v3/pay/transactions/out-trade-no/{quote(order_id, safe='')}/close",
            {"mchid": self.mchid},
            "close",
        )
        if status >= 300:
            info = self._provider_error(status, data, "close")
            if info["provider_code"] == "ORDERPAID":
                raise Conflict("The order is already paid", code=PaymentCode.ALREADY_PAID, details=info)
            raise unavailable(**info)

    # -- 商家转账到零钱 (a commission withdrawal to the member's WeChat change) --

    def transfer(self, *, transfer_id: str, openid: str, amount_fen: int, remark: str) -> Transfer:
        """POST /v3/transfer/batches: a batch of one, ``transfer_id`` as both out_batch_no and out_detail_no
        (WeChat accepts the same batch again: a resend is safe). Accepted -> PROCESSING (ask
        :meth:`transfer_status`); refused for what we sent -> FAIL; WeChat busy, our configuration or the
        merchant's balance -> 502 PAYMENT_UNAVAILABLE (nothing decided: send again later)."""
        note = domain.truncate_utf8(remark, 32)
        payload = {
            "appid": self.appid,
            "out_batch_no": transfer_id,
            "batch_name": note,
            "batch_remark": note,
            "total_amount": int(amount_fen),
            "total_num": 1,
            "transfer_detail_list": [
                {
                    "out_detail_no": transfer_id,
                    "transfer_amount": int(amount_fen),
                    "transfer_remark": note,
                    "openid": openid,
                }
            ],
        }
        status, data = self._call("POST", "/v3/transfer/batches", payload, "transfer")
        if status < 300 and data.get("batch_id"):
            return Transfer(transfer_id, "PROCESSING", provider_id=str(data["batch_id"]))
        info = self._provider_error(status, data, "transfer")
        if status in (401, 429) or info["provider_code"] in _CONFIG_CODES | {"NOT_ENOUGH", "NO_AUTH"}:
            raise unavailable(**info)
        return Transfer(transfer_id, "FAIL", message=f"{info['provider_code']}: {str(data.get('message') or '')[:80]}")

    def transfer_status(self, *, transfer_id: str) -> Transfer | None:
        """GET the detail of the batch of one: SUCCESS, FAIL (with WeChat's fail_reason) or PROCESSING; None when
        WeChat does not know it (it never arrived: send it again)."""
        tid = quote(transfer_id, safe="")
        path = f"/v3/transfer/batches/out-batch-no/{tid}/details/out-detail-no/{tid}"
        status, data = self._call("GET", path, None, "transfer_status")
        if status == 404:
            return None
        if status >= 300:
            raise unavailable(**self._provider_error(status, data, "transfer_status"))
        state = str(data.get("detail_status") or "PROCESSING")
        final = state if state in ("SUCCESS", "FAIL") else "PROCESSING"
        return Transfer(transfer_id, final, provider_id=data.get("detail_id"), message=data.get("fail_reason"))

    # -- v2 (付款码) --

    def micropay(self, *, order_id: str, amount_fen: int, auth_code: str, description: str) -> Charge:
        """APIv2 ``/pay/micropay``. While the payer confirms (USERPAYING) the order is queried every
        ``poll_s`` up to ``micropay_wait_s``; still unconfirmed -> 502 PAYMENT_PENDING (retry the same order:
        WeChat answers for the same out_trade_no)."""
        if not self._v2_key:
            raise UpstreamUnavailable(
                "付款码 payments are not configured (WECHATPAY_APIV2_KEY)", code=PaymentCode.PAYMENT_METHOD_UNAVAILABLE
            )
        data = self._v2(
            "/pay/micropay",
            {
                "appid": self.appid,
                "mch_id": self.mchid,
                "nonce_str": domain.nonce_str(),
                "sign_type": "HMAC-SHA256",
                "body": domain.truncate_utf8(description, 127),
                "out_trade_no": order_id,
                "total_fee": int(amount_fen),
                "fee_type": "CNY",
                "spbill_create_ip": self.spbill_ip,
                "auth_code": auth_code,
            },
            "micropay",
        )
        if data.get("result_code") == "SUCCESS":
            return self._charge(data, amount_fen)
        err = data.get("err_code", "")
        if err in _V2_PENDING:
            return self._await_micropay(order_id, amount_fen)
        if err in _V2_DECLINED:
            raise declined(provider_code=err)
        logger.warning("wechatpay micropay error", extra={"provider_code": err})
        raise unavailable(op="micropay", provider_code=err)

    def _await_micropay(self, order_id: str, amount_fen: int) -> Charge:
        deadline = time.monotonic() + self.micropay_wait_s
        while time.monotonic() < deadline:
            self._sleep(self.poll_s)
            try:
                data = self._v2(
                    "/pay/orderquery",
                    {
                        "appid": self.appid,
                        "mch_id": self.mchid,
                        "out_trade_no": order_id,
                        "nonce_str": domain.nonce_str(),
                        "sign_type": "HMAC-SHA256",
                    },
                    "orderquery",
                )
            except UpstreamUnavailable:
                continue
            state = data.get("trade_state", "")
            if data.get("result_code") == "SUCCESS" and state == "SUCCESS":
                return self._charge(data, amount_fen)
            if state in _V2_FAILED_STATES:
                raise declined(provider_code=state)
        raise UpstreamUnavailable(
            "The customer has not confirmed the payment yet; retry the same sale",
            code=PaymentCode.PAYMENT_PENDING,
            details={"order_id": order_id},
        )

    @staticmethod
    def _charge(data: Mapping[str, str], amount_fen: int) -> Charge:
        paid = int(data.get("total_fee") or amount_fen)
        if paid != int(amount_fen) or not data.get("transaction_id"):
            logger.error("wechatpay micropay amount differs", extra={"expected": amount_fen, "paid": paid})
            raise unavailable(op="micropay", reason="AMOUNT_MISMATCH")
        return Charge(transaction_id=str(data["transaction_id"]), amount_fen=paid)

    def _v2(self, path: str, params: dict[str, Any], op: str) -> dict[str, str]:
        params = dict(params)
        params["sign"] = domain.v2_sign(params, self._v2_key, "HMAC-SHA256")
        resp = self._send(
            "POST",
            path,
            domain.to_xml(params),
            {"Content-Type": "text/xml; charset=utf-8", "User-Agent": USER_AGENT},
            op,
        )
        if resp.status != 200:
            raise unavailable(op=op, provider_status=resp.status)
        try:
            data = domain.from_xml(resp.data or b"")
        except Exception:  # any unparsable answer is no answer
            raise unavailable(op=op, reason="NOT_XML")
        if data.get("return_code") != "SUCCESS":
            logger.warning(
                "wechatpay v2 refused", extra={"op": op, "provider_message": data.get("return_msg", "")[:200]}
            )
            raise unavailable(op=op, provider_code=data.get("return_code", ""))
        if not domain.v2_verify(data, self._v2_key, "HMAC-SHA256"):
            logger.warning("wechatpay v2 answer not verified", extra={"op": op})
            raise unavailable("The payment provider's answer could not be verified", op=op, reason="SIGNATURE")
        return data
