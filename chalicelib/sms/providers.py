"""SMS providers behind one interface: ``send(msg, template, params, text) -> provider message id``.

- :class:`OutboxProvider` (local and test stages): stores the message; ``GET /admin/sms/outbox`` shows it.
- :class:`AliyunSmsProvider`: Alibaba Cloud SMS (Dysmsapi 2017-05-25 ``SendSms``), an RPC-style request signed as
  the SMS service documents it ("签名机制"): the parameters sorted by name and percent-encoded (RFC 3986: space
  ``%20``, ``*`` ``%2A``, ``~`` kept), ``StringToSign = METHOD & %2F & percentEncode(canonical query)``, and
  ``Signature = Base64(HMAC-SHA1(AccessKeySecret + "&", StringToSign))``; template code + JSON TemplateParam.
  ``tools/fake_aliyun_sms.py`` verifies the signature the same way in tests.

Failures say what the sender may do: :class:`ProviderRejected` - not sent and never will be (bad number, the
provider's own limits): final; :class:`ProviderUnavailable` - not sent, try again later; :class:`ProviderAmbiguous`
- the request may have been sent (timeout after sending): never retried, so a message is sent at most once.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import quote

from chalicelib.core import clock, phones
from chalicelib.core.logging import logger
from chalicelib.core.settings import get_settings
from chalicelib.sms import repository
from chalicelib.sms.domain import Template


class ProviderRejected(Exception):
    pass


class ProviderUnavailable(Exception):
    pass


class ProviderAmbiguous(Exception):
    pass


class Provider(Protocol):
    name: str

    def send(self, msg: dict[str, Any], template: Template, params: dict[str, str], text: str) -> str: ...


class OutboxProvider:
    name = "outbox"

    def send(self, msg: dict[str, Any], template: Template, params: dict[str, str], text: str) -> str:
        sk = repository.put_outbox(msg, text)
        logger.info("sms (outbox)", extra={"phone": phones.mask(msg["phone"]), "text": text})
        return f"outbox:{sk}"


# =========================================================================================== Aliyun
def percent_encode(value: str) -> str:
    """RFC 3986 as Aliyun's RPC signature wants it: A-Z a-z 0-9 - _ . ~ unencoded, UTF-8, space as %20."""
    return quote(str(value), safe="~")


def canonical_query(params: dict[str, str]) -> str:
    return "&".join(f"{percent_encode(k)}={percent_encode(v)}" for k, v in sorted(params.items()))


def string_to_sign(method: str, params: dict[str, str]) -> str:
    return f"{method.upper()}&{percent_encode('/')}&{percent_encode(canonical_query(params))}"


def signature(method: str, params: dict[str, str], access_key_secret: str) -> str:
    """``Signature`` of an RPC request (every parameter except Signature itself)."""
    digest = hmac.new((access_key_secret + "&").encode(), string_to_sign(method, params).encode(), hashlib.sha1)
    return base64.b64encode(digest.digest()).decode()


def signed_params(
    action_params: dict[str, str],
    access_key_id: str,
    access_key_secret: str,
    *,
    method: str = "POST",
    region: str = "cn-hangzhou",
    nonce: str | None = None,
    timestamp: datetime | None = None,
) -> dict[str, str]:
    params = {
        "AccessKeyId": access_key_id,
        "Format": "JSON",
        "RegionId": region,
        "SignatureMethod": "HMAC-SHA1",
        "SignatureNonce": nonce or uuid.uuid4().hex,
        "SignatureVersion": "1.0",
        "Timestamp": (timestamp or clock.now()).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "Version": "2017-05-25",
        **action_params,
    }
    params["Signature"] = signature(method, params, access_key_secret)
    return params


# Error codes (SendSms) that will not change on a retry.
_FINAL = {
    "isv.MOBILE_NUMBER_ILLEGAL",
    "isv.MOBILE_COUNT_OVER_LIMIT",
    "isv.BUSINESS_LIMIT_CONTROL",
    "isv.DAY_LIMIT_CONTROL",
    "isv.BLACK_KEY_CONTROL_LIMIT",
    "isv.PARAM_LENGTH_LIMIT",
    "isv.TEMPLATE_MISSING_PARAMETERS",
    "isv.INVALID_JSON_PARAM",
    "isv.DENY_IP_RANGE",
}


class AliyunSmsProvider:
    name = "aliyun"

    def __init__(
        self,
        access_key_id: str,
        access_key_secret: str,
        sign_name: str,
        template_codes: dict[str, str],
        endpoint: str = "https://dysmsapi.aliyuncs.com",
        region: str = "cn-hangzhou",
        timeout_s: float = 5.0,
    ):
        self.access_key_id, self._secret = access_key_id, access_key_secret
        self.sign_name, self.template_codes = sign_name, template_codes
        self.endpoint, self.region, self.timeout_s = endpoint.rstrip("/"), region, timeout_s
        self._pool = None

    def _http(self):
        if self._pool is None:
            import urllib3  # lazy: keeps it off the cold-start path of the API

            # No automatic retries: a resent SendSms is a second SMS.
            self._pool = urllib3.PoolManager(
                retries=False, timeout=urllib3.Timeout(connect=self.timeout_s, read=self.timeout_s)
            )
        return self._pool

    def send(self, msg: dict[str, Any], template: Template, params: dict[str, str], text: str) -> str:
        import urllib3

        code = self.template_codes.get(template.name)
        if not code or not self.access_key_id or not self._secret:
            raise ProviderUnavailable(
                f"Aliyun SMS is not configured for template {template.name!r} "
                "(ALIYUN_SMS_ACCESS_KEY_ID/SECRET, SMS_TEMPLATE_CODES)"
            )
        action = {
            "Action": "SendSms",
            "PhoneNumbers": msg["phone"],
            "SignName": self.sign_name,
            "TemplateCode": code,
            "TemplateParam": json.dumps(params, ensure_ascii=False, separators=(",", ":")),
            "OutId": hashlib.sha256(msg["key"].encode()).hexdigest()[:32],
        }
        body = canonical_query(signed_params(action, self.access_key_id, self._secret, region=self.region))
        try:
            resp = self._http().request(
                "POST",
                self.endpoint + "/",
                body=body.encode(),
                headers={
                    "Content-Type": "application/x-www-form-urlencoded; charset=utf-8",
                    "Accept": "application/json",
                },
            )
        except (
            urllib3.exceptions.ConnectTimeoutError,
            urllib3.exceptions.NewConnectionError,
            urllib3.exceptions.NameResolutionError,
        ) as e:
            raise ProviderUnavailable(f"Aliyun SMS unreachable: {e}") from e
        except urllib3.exceptions.HTTPError as e:
            # Sent (or partly sent) and no answer: it may have gone out.
            raise ProviderAmbiguous(f"Aliyun SMS did not answer: {e}") from e
        try:
            data = json.loads(resp.data or b"{}")
        except ValueError:
            data = {}
        result = str(data.get("Code", "")) if isinstance(data, dict) else ""
        if resp.status == 200 and result == "OK":
            return str(data.get("BizId") or data.get("RequestId") or "")
        message = f"{result or resp.status}: {data.get('Message') if isinstance(data, dict) else resp.data[:200]!r}"
        if result in _FINAL:
            raise ProviderRejected(message)
        raise ProviderUnavailable(message)


_provider: Provider | None = None


def get_provider() -> Provider:
    global _provider
    if _provider is None:
        s = get_settings()
        name = s.sms_provider or ("outbox" if s.stage in ("local", "test") else "aliyun")
        if name == "outbox":
            if s.stage == "prod":
                raise RuntimeError("SMS_PROVIDER=outbox is refused on prod")
            _provider = OutboxProvider()
        elif name == "aliyun":
            codes = json.loads(s.sms_template_codes) if s.sms_template_codes else {}
            _provider = AliyunSmsProvider(
                s.aliyun_sms_access_key_id,
                s.aliyun_sms_access_key_secret.get_secret_value(),
                s.sms_sign_name,
                codes,
                s.aliyun_sms_endpoint,
                s.aliyun_sms_region,
                s.aliyun_sms_timeout_s,
            )
        else:
            raise RuntimeError(f"unknown SMS_PROVIDER {name!r} (outbox | aliyun)")
    return _provider


def reset() -> None:
    global _provider
    _provider = None
