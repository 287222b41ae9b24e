"""WeChat Pay rules, pure: signing strings, signatures, notification verification and decryption, amount check,
and the APIv2 (付款码) XML signing. No I/O, no settings: keys, time and ids are passed in.

``cryptography`` is imported inside the functions that need it, so importing this module (to name
:class:`Notification`, say) costs nothing on a cold start.

References (WeChat Pay APIv3): 签名生成 (request ``Authorization``), 签名验证 (response and notification
``Wechatpay-*`` headers), 证书和回调报文解密 (AEAD_AES_256_GCM), JSAPI 调起支付 (``paySign``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import string
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from xml.sax.saxutils import escape

from pydantic import ValidationError

from chalicelib.core.errors import BadRequest, Conflict, Unauthorized
from chalicelib.payments.errors import PaymentCode
from chalicelib.payments.schemas import NotificationEnvelope, RefundResource, TransactionResource

AUTH_SCHEMA = "WECHATPAY2-SHA256-RSA2048"
AEAD = "AEAD_AES_256_GCM"
CST = timezone(timedelta(hours=8))
MAX_SKEW_S = 300

H_TIMESTAMP = "Wechatpay-Timestamp"
H_NONCE = "Wechatpay-Nonce"
H_SIGNATURE = "Wechatpay-Signature"
H_SERIAL = "Wechatpay-Serial"

_ALNUM = string.ascii_letters + string.digits


# --- errors --------------------------------------------------------------------------------------------------


class SignatureInvalid(Unauthorized):
    code = PaymentCode.SIGNATURE_INVALID


class TimestampStale(Unauthorized):
    code = PaymentCode.TIMESTAMP_STALE


class UnknownSerial(Unauthorized):
    code = PaymentCode.UNKNOWN_SERIAL


class DecryptFailed(BadRequest):
    code = PaymentCode.DECRYPT_FAILED


class MalformedNotification(BadRequest):
    code = PaymentCode.MALFORMED_NOTIFICATION


class MerchantMismatch(BadRequest):
    """The notification is genuine but for another merchant / app than ours. ``facts`` says what it names
    (merchant, app, trade, transaction, amount), so it can be recorded for reconciliation."""

    code = PaymentCode.MERCHANT_MISMATCH

    def __init__(self, message: str, facts: dict[str, Any] | None = None, **kw: Any):
        super().__init__(message, **kw)
        self.facts = facts or {}


# --- small helpers -------------------------------------------------------------------------------------------


def nonce_str(n: int = 32) -> str:
    return "".join(secrets.choice(_ALNUM) for _ in range(n))


def _b(v: str | bytes) -> bytes:
    return v if isinstance(v, bytes) else v.encode("utf-8")


def _pem(v: str | bytes) -> bytes:
    """PEMs arrive from env vars, sometimes with literal ``\\n``."""
    raw = _b(v).strip()
    return raw.replace(b"\\n", b"\n")


def load_private_key(key: Any):
    """An RSA private key object from a PEM (str/bytes) or the key itself."""
    if not isinstance(key, (str, bytes)):
        return key
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    return load_pem_private_key(_pem(key), password=None)


def load_public_key(key: Any):
    """An RSA public key object from a public-key PEM, an X.509 certificate PEM (platform certificates), a
    private key (its public half), or the key itself."""
    if not isinstance(key, (str, bytes)):
        return key.public_key() if hasattr(key, "private_numbers") else key
    raw = _pem(key)
    if b"BEGIN CERTIFICATE" in raw:
        from cryptography.x509 import load_pem_x509_certificate

        return load_pem_x509_certificate(raw).public_key()
    if b"PRIVATE KEY" in raw:
        return load_private_key(raw).public_key()
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    return load_pem_public_key(raw)


def public_pem(key: Any) -> str:
    from cryptography.hazmat.primitives import serialization

    return (
        load_public_key(key)
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def rsa_sign(private_key: Any, message: str | bytes) -> str:
    """Base64 SHA256-with-RSA (PKCS#1 v1.5)."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    sig = load_private_key(private_key).sign(_b(message), padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(sig).decode()


def rsa_verify(public_key: Any, message: str | bytes, signature_b64: str) -> bool:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    try:
        sig = base64.b64decode(signature_b64, validate=True)
    except (binascii.Error, ValueError):
        return False
    try:
        load_public_key(public_key).verify(sig, _b(message), padding.PKCS1v15(), hashes.SHA256())
        return True
    except (InvalidSignature, TypeError, ValueError, AttributeError):
        return False


def rfc3339_cst(dt: datetime) -> str:
    """``2026-11-23T18:30:00+08:00`` - the form ``time_expire`` wants (seconds, China Standard Time)."""
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(CST).replace(microsecond=0).isoformat()


def truncate_utf8(s: str, max_bytes: int) -> str:
    """Cut ``s`` to at most ``max_bytes`` UTF-8 bytes without splitting a character."""
    raw = s.encode("utf-8")
    if len(raw) <= max_bytes:
        return s
    return raw[:max_bytes].decode("utf-8", errors="ignore")


def _lower(headers: Mapping[str, str]) -> dict[str, str]:
    return {str(k).lower(): v for k, v in (headers or {}).items()}


# --- outgoing requests ---------------------------------------------------------------------------------------


def request_message(method: str, url_path: str, timestamp: int | str, nonce: str, body: str | bytes) -> bytes:
    """What the merchant signs: ``METHOD\\nurl_path_with_query\\ntimestamp\\nnonce\\nbody\\n``."""
    return b"".join(
        [_b(method.upper()), b"\n", _b(url_path), b"\n", _b(str(timestamp)), b"\n", _b(nonce), b"\n", _b(body), b"\n"]
    )


def authorization(
    *,
    mchid: str,
    serial_no: str,
    private_key: Any,
    method: str,
    url_path: str,
    body: str | bytes,
    timestamp: int | str,
    nonce: str,
) -> str:
    sig = rsa_sign(private_key, request_message(method, url_path, timestamp, nonce, body))
    return (
        f'{AUTH_SCHEMA} mchid="{mchid}",nonce_str="{nonce}",signature="{sig}",'
        f'timestamp="{timestamp}",serial_no="{serial_no}"'
    )


def parse_authorization(header: str) -> dict[str, str]:
    """The fields of an ``Authorization`` header (the inverse of :func:`authorization`; fakes use it)."""
    schema, _, rest = (header or "").partition(" ")
    if schema != AUTH_SCHEMA or not rest:
        raise ValueError("not a WECHATPAY2-SHA256-RSA2048 authorization")
    out: dict[str, str] = {}
    for part in rest.split(","):
        k, sep, v = part.strip().partition("=")
        if not sep or len(v) < 2 or v[0] != '"' or v[-1] != '"':
            raise ValueError("malformed authorization field")
        out[k] = v[1:-1]
    if not {"mchid", "nonce_str", "signature", "timestamp", "serial_no"} <= out.keys():
        raise ValueError("authorization fields missing")
    return out


# --- signed responses and notifications ----------------------------------------------------------------------


def signed_message(timestamp: int | str, nonce: str, body: str | bytes) -> bytes:
    """What WeChat signs on responses and notifications: ``timestamp\\nnonce\\nbody\\n``."""
    return b"".join([_b(str(timestamp)), b"\n", _b(nonce), b"\n", _b(body), b"\n"])


def sign_response(
    body: str | bytes, *, private_key: Any, serial: str, timestamp: int | str, nonce: str | None = None
) -> dict[str, str]:
    """``Wechatpay-*`` headers for ``body`` as the platform would send them (sandbox and fakes)."""
    nonce = nonce or nonce_str()
    return {
        H_TIMESTAMP: str(timestamp),
        H_NONCE: nonce,
        H_SERIAL: serial,
        H_SIGNATURE: rsa_sign(private_key, signed_message(timestamp, nonce, body)),
    }


def verify_signed(
    headers: Mapping[str, str],
    body: bytes,
    *,
    platform_keys: Mapping[str, Any],
    now: datetime,
    max_skew_s: int = MAX_SKEW_S,
) -> str:
    """Check the ``Wechatpay-*`` headers of a response or notification; returns the serial used.

    Raises SIGNATURE_INVALID (headers missing or signature wrong), UNKNOWN_SERIAL, TIMESTAMP_STALE."""
    h = _lower(headers)
    ts, nonce, sig, serial = (h.get(n.lower()) for n in (H_TIMESTAMP, H_NONCE, H_SIGNATURE, H_SERIAL))
    missing = [n for n, v in ((H_TIMESTAMP, ts), (H_NONCE, nonce), (H_SIGNATURE, sig), (H_SERIAL, serial)) if not v]
    if missing:
        raise SignatureInvalid("The WeChat Pay signature headers are missing", details={"missing": missing})
    key = platform_keys.get(serial) if serial else None
    if key is None:
        raise UnknownSerial("The platform key serial is not known", details={"serial": serial})
    try:
        ts_int = int(ts)
    except (TypeError, ValueError):
        raise SignatureInvalid("The Wechatpay-Timestamp header is not a number")
    if abs(now.timestamp() - ts_int) > max_skew_s:
        raise TimestampStale("The WeChat Pay timestamp is too far from our clock", details={"max_skew_s": max_skew_s})
    if not rsa_verify(key, signed_message(ts, nonce, body), sig):
        raise SignatureInvalid("The WeChat Pay signature does not verify")
    return serial


def aead_encrypt(key: bytes, nonce: str, associated_data: str, plaintext: bytes) -> str:
    """AEAD_AES_256_GCM; base64 of ciphertext || 16-byte tag."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    if len(key) != 32:
        raise ValueError("the APIv3 key must be 32 bytes")
    return base64.b64encode(AESGCM(key).encrypt(_b(nonce), plaintext, _b(associated_data))).decode()


def aead_decrypt(key: bytes, nonce: str, associated_data: str, ciphertext_b64: str) -> bytes:
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    if len(key) != 32:
        raise DecryptFailed("The APIv3 key is not 32 bytes")
    try:
        ct = base64.b64decode(ciphertext_b64, validate=True)
        return AESGCM(key).decrypt(_b(nonce), ct, _b(associated_data))
    except (InvalidTag, binascii.Error, ValueError):
        raise DecryptFailed("The notification resource cannot be decrypted")


@dataclass(frozen=True)
class Notification:
    event_id: str
    event_type: str
    out_trade_no: str
    transaction_id: str
    trade_state: str
    amount_total_fen: int
    payer_openid: str | None
    success_time: str | None
    payer_total_fen: int | None = None
    currency: str = "CNY"
    mchid: str | None = None
    appid: str | None = None

    @property
    def paid(self) -> bool:
        return self.event_type == "TRANSACTION.SUCCESS" and self.trade_state == "SUCCESS"


@dataclass(frozen=True)
class RefundNotification:
    """A REFUND.* notification: where one of our refunds (``out_refund_no``) has got to."""

    event_id: str
    event_type: str  # REFUND.SUCCESS | REFUND.ABNORMAL | REFUND.CLOSED
    out_trade_no: str
    out_refund_no: str
    refund_id: str
    refund_status: str  # SUCCESS | ABNORMAL | CLOSED (PROCESSING is never notified)
    refund_fen: int
    total_fen: int
    success_time: str | None = None
    mchid: str | None = None


def verify_and_decrypt(
    headers: Mapping[str, str],
    body: bytes,
    *,
    platform_keys: Mapping[str, Any],
    apiv3_key: bytes,
    now: datetime,
    max_skew_s: int = MAX_SKEW_S,
    mchid: str | None = None,
    appid: str | None = None,
) -> Notification | RefundNotification:
    """Verify a payment (TRANSACTION.*) or refund (REFUND.*) notification and decrypt its resource.

    Codes: SIGNATURE_INVALID / TIMESTAMP_STALE / UNKNOWN_SERIAL (401), DECRYPT_FAILED / MALFORMED_NOTIFICATION
    (400); MERCHANT_MISMATCH (400, with ``facts``) when ``mchid`` / ``appid`` are given and the resource names
    others."""
    body = _b(body or b"")
    verify_signed(headers, body, platform_keys=platform_keys, now=now, max_skew_s=max_skew_s)
    try:
        env = NotificationEnvelope.model_validate_json(body)
    except ValidationError:
        raise MalformedNotification("The notification body is not a WeChat Pay notification")
    res = env.resource
    if env.resource_type != "encrypt-resource" or res.algorithm != AEAD:
        raise MalformedNotification(
            "Unsupported notification resource",
            details={"resource_type": env.resource_type, "algorithm": res.algorithm},
        )
    refund = env.event_type.startswith("REFUND.")
    if res.original_type not in (None, "refund" if refund else "transaction"):
        raise MalformedNotification("Unexpected resource type", details={"original_type": res.original_type})
    plain = aead_decrypt(apiv3_key, res.nonce, res.associated_data, res.ciphertext)
    if refund:
        return _refund_notification(env.id, env.event_type, plain, mchid)
    return _transaction_notification(env.id, env.event_type, plain, mchid, appid)


def _transaction_notification(
    event_id: str, event_type: str, plain: bytes, mchid: str | None, appid: str | None
) -> Notification:
    try:
        tx = TransactionResource.model_validate_json(plain)
    except ValidationError:
        raise MalformedNotification("The decrypted resource is not a transaction")
    other = (mchid and tx.mchid and tx.mchid != mchid) or (appid and tx.appid and tx.appid != appid)
    if other:
        facts = {
            "mchid": tx.mchid,
            "appid": tx.appid,
            "out_trade_no": tx.out_trade_no,
            "transaction_id": tx.transaction_id,
            "amount_fen": tx.amount.total,
            "event_id": event_id,
        }
        raise MerchantMismatch("The notification is for another merchant or app", facts=facts)
    return Notification(
        event_id=event_id,
        event_type=event_type,
        out_trade_no=tx.out_trade_no,
        transaction_id=tx.transaction_id,
        trade_state=tx.trade_state,
        amount_total_fen=tx.amount.total,
        payer_openid=tx.payer.openid if tx.payer else None,
        success_time=tx.success_time,
        payer_total_fen=tx.amount.payer_total,
        currency=tx.amount.currency,
        mchid=tx.mchid,
        appid=tx.appid,
    )


def _refund_notification(event_id: str, event_type: str, plain: bytes, mchid: str | None) -> RefundNotification:
    try:
        r = RefundResource.model_validate_json(plain)
    except ValidationError:
        raise MalformedNotification("The decrypted resource is not a refund")
    if mchid and r.mchid and r.mchid != mchid:
        facts = {
            "mchid": r.mchid,
            "out_trade_no": r.out_trade_no,
            "out_refund_no": r.out_refund_no,
            "amount_fen": r.amount.refund,
            "event_id": event_id,
        }
        raise MerchantMismatch("The refund notification is for another merchant", facts=facts)
    return RefundNotification(
        event_id=event_id,
        event_type=event_type,
        out_trade_no=r.out_trade_no,
        out_refund_no=r.out_refund_no,
        refund_id=r.refund_id,
        refund_status=r.refund_status,
        refund_fen=r.amount.refund,
        total_fen=r.amount.total,
        success_time=r.success_time,
        mchid=r.mchid,
    )


def check_amount(n: Notification, *, order_id: str, amount_fen: int) -> None:
    """The notification pays exactly this order's amount, in CNY (409 ORDER_MISMATCH / AMOUNT_MISMATCH)."""
    if n.out_trade_no != order_id:
        raise Conflict(
            "The payment is for another order",
            code=PaymentCode.ORDER_MISMATCH,
            details={"order_id": order_id, "out_trade_no": n.out_trade_no},
        )
    if n.amount_total_fen != int(amount_fen) or n.currency != "CNY":
        raise Conflict(
            "The paid amount differs from the order's",
            code=PaymentCode.AMOUNT_MISMATCH,
            details={"expected_fen": int(amount_fen), "paid_fen": n.amount_total_fen, "currency": n.currency},
        )


def transaction_resource(
    *,
    appid: str,
    mchid: str,
    out_trade_no: str,
    transaction_id: str,
    amount_fen: int,
    openid: str | None,
    success_time: str | None,
    trade_state: str = "SUCCESS",
    trade_type: str = "JSAPI",
) -> dict[str, Any]:
    """A decrypted transaction as WeChat sends it."""
    tx: dict[str, Any] = {
        "appid": appid,
        "mchid": mchid,
        "out_trade_no": out_trade_no,
        "transaction_id": transaction_id,
        "trade_type": trade_type,
        "trade_state": trade_state,
        "trade_state_desc": "支付成功" if trade_state == "SUCCESS" else trade_state,
        "bank_type": "OTHERS",
        "attach": "",
        "amount": {
            "total": int(amount_fen),
            "payer_total": int(amount_fen),
            "currency": "CNY",
            "payer_currency": "CNY",
        },
    }
    if success_time:
        tx["success_time"] = success_time
    if openid:
        tx["payer"] = {"openid": openid}
    return tx


def refund_resource(
    *,
    mchid: str,
    out_trade_no: str,
    out_refund_no: str,
    refund_id: str,
    refund_fen: int,
    total_fen: int,
    refund_status: str,
    success_time: str | None,
) -> dict[str, Any]:
    """A decrypted refund resource as WeChat sends it in REFUND.* notifications."""
    res: dict[str, Any] = {
        "mchid": mchid,
        "out_trade_no": out_trade_no,
        "transaction_id": "",
        "out_refund_no": out_refund_no,
        "refund_id": refund_id,
        "refund_status": refund_status,
        "user_received_account": "支付用户零钱",
        "amount": {
            "total": int(total_fen),
            "refund": int(refund_fen),
            "payer_total": int(total_fen),
            "payer_refund": int(refund_fen),
        },
    }
    if success_time and refund_status == "SUCCESS":
        res["success_time"] = success_time
    return res


def sign_notification(
    transaction: Mapping[str, Any],
    *,
    platform_private_key: Any,
    platform_serial: str,
    apiv3_key: bytes,
    now: datetime,
    event_id: str | None = None,
    event_type: str = "TRANSACTION.SUCCESS",
    create_time: str | None = None,
    nonce: str | None = None,
    original_type: str = "transaction",
) -> tuple[dict[str, str], bytes]:
    """The inverse of :func:`verify_and_decrypt`: the headers and body WeChat would POST for ``transaction``
    (a refund resource with ``original_type="refund"``), encrypted with ``apiv3_key``, signed with the
    platform key, timestamped ``now``."""
    res_nonce = nonce_str(12)
    aad = original_type
    envelope = {
        "id": event_id
        or f"{secrets.token_hex(4)}-{secrets.token_hex(2)}-{secrets.token_hex(2)}-"
        f"{secrets.token_hex(2)}-{secrets.token_hex(6)}",
        "create_time": create_time or rfc3339_cst(now),
        "resource_type": "encrypt-resource",
        "event_type": event_type,
        "summary": "支付成功" if event_type == "TRANSACTION.SUCCESS" else event_type,
        "resource": {
            "original_type": original_type,
            "algorithm": AEAD,
            "associated_data": aad,
            "nonce": res_nonce,
            "ciphertext": aead_encrypt(
                apiv3_key,
                res_nonce,
                aad,
                json.dumps(dict(transaction), ensure_ascii=False, separators=(",", ":")).encode("utf-8"),
            ),
        },
    }
    body = json.dumps(envelope, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    headers = sign_response(
        body, private_key=platform_private_key, serial=platform_serial, timestamp=int(now.timestamp()), nonce=nonce
    )
    return headers, body


# --- JSAPI (mini-program) payment parameters -----------------------------------------------------------------


def pay_sign_message(appid: str, timestamp: str, nonce: str, package: str) -> bytes:
    """``appId\\ntimeStamp\\nnonceStr\\npackage\\n`` - what ``paySign`` signs."""
    return b"".join([_b(appid), b"\n", _b(timestamp), b"\n", _b(nonce), b"\n", _b(package), b"\n"])


def jsapi_params(
    *, appid: str, prepay_id: str, private_key: Any, timestamp: int | str, nonce: str | None = None
) -> dict[str, str]:
    """The arguments of ``wx.requestPayment`` for ``prepay_id``, signed with the merchant key."""
    ts, nonce = str(timestamp), nonce or nonce_str()
    package = f"prepay_id={prepay_id}"
    return {
        "appId": appid,
        "timeStamp": ts,
        "nonceStr": nonce,
        "package": package,
        "signType": "RSA",
        "paySign": rsa_sign(private_key, pay_sign_message(appid, ts, nonce, package)),
    }


# --- APIv2 (XML) for 付款码 micropay -------------------------------------------------------------------------


def v2_sign(params: Mapping[str, Any], key: str, sign_type: str = "HMAC-SHA256") -> str:
    """APIv2 signature: non-empty params but ``sign`` sorted by name, ``k=v&...&key=KEY``, MD5 or
    HMAC-SHA256 (keyed with the API key), upper-case hex."""
    items = sorted((k, str(v)) for k, v in params.items() if k != "sign" and v is not None and str(v) != "")
    s = "&".join(f"{k}={v}" for k, v in items) + f"&key={key}"
    if sign_type == "MD5":
        return hashlib.md5(s.encode("utf-8")).hexdigest().upper()  # the protocol's choice
    if sign_type == "HMAC-SHA256":
        return hmac.new(key.encode("utf-8"), s.encode("utf-8"), hashlib.sha256).hexdigest().upper()
    raise ValueError(f"unknown sign_type {sign_type}")


def v2_verify(params: Mapping[str, Any], key: str, sign_type: str = "HMAC-SHA256") -> bool:
    got = str(params.get("sign") or "")
    if not got:
        return False
    types = (sign_type, "MD5") if sign_type != "MD5" else ("MD5",)  # some v2 answers are MD5-signed
    return any(hmac.compare_digest(got.upper(), v2_sign(params, key, t)) for t in types)


def to_xml(params: Mapping[str, Any]) -> bytes:
    inner = "".join(f"<{k}>{escape(str(v))}</{k}>" for k, v in params.items() if v is not None)
    return f"<xml>{inner}</xml>".encode()


def from_xml(data: bytes | str) -> dict[str, str]:
    """A flat ``<xml><k>v</k>...</xml>`` document as a dict. Parsed by ``defusedxml``: a DTD (so any entity
    declaration, internal or external) raises one of its ``DefusedXmlException`` (a ``ValueError``), whatever the
    document's encoding; what is not XML raises ``xml.etree.ElementTree.ParseError``."""
    from defusedxml.ElementTree import fromstring

    root = fromstring(_b(data), forbid_dtd=True)
    return {child.tag: (child.text or "") for child in root}
