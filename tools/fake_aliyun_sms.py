"""A local stand-in for Alibaba Cloud SMS (Dysmsapi ``SendSms``), for tests and manual checks.

It checks requests the way the service documents it, independently of our client: the RPC signature (parameters
sorted, percent-encoded per RFC 3986 - done here the way Aliyun's docs describe for Java: form-encode, then
``+`` -> ``%20``, ``*`` -> ``%2A``, ``%7E`` -> ``~`` - then ``METHOD&%2F&<encoded query>`` signed with
HMAC-SHA1 keyed by ``secret + "&"``), a fresh SignatureNonce, a Timestamp within 15 minutes, the known
AccessKeyId, Version, Action, a mobile number, an approved sign name and template and a TemplateParam holding
exactly the template's variables. It answers like the service: ``{"Code": "OK", "BizId": ..., "RequestId": ...}``
or an error code.

Knobs: ``fail_next`` (a Code to answer once, e.g. ``isv.BUSINESS_LIMIT_CONTROL``), ``status`` (HTTP status for
every answer), ``delay_s`` (answer late: client timeouts). ``requests`` records what arrived, ``sent`` what was
accepted.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, quote_plus

from chalicelib.core import clock


def _java_percent_encode(value: str) -> str:
    return quote_plus(value, encoding="utf-8").replace("+", "%20").replace("*", "%2A").replace("%7E", "~")


class FakeAliyunSms:
    def __init__(
        self,
        access_key_id: str = "LTAI-test-key",
        access_key_secret: str = "test-secret-value",
        sign_name: str = "烟酒行",
        templates: dict[str, list[str]] | None = None,
    ):
        self.access_key_id, self.access_key_secret, self.sign_name = access_key_id, access_key_secret, sign_name
        self.templates = templates or {}
        self.requests: list[dict] = []
        self.sent: list[dict] = []
        self.nonces: set[str] = set()
        self.fail_next: str | None = None
        self.status = 200
        self.delay_s = 0.0
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode("utf-8")
                params = dict(parse_qsl(raw, keep_blank_values=True))
                fake.requests.append(
                    {"path": self.path, "content_type": self.headers.get("Content-Type"), "params": params}
                )
                if fake.delay_s:
                    time.sleep(fake.delay_s)
                self._reply(*fake.answer("POST", self.path, params))

            def do_GET(self):
                query = self.path.split("?", 1)[1] if "?" in self.path else ""
                params = dict(parse_qsl(query, keep_blank_values=True))
                fake.requests.append({"path": self.path.split("?")[0], "params": params})
                self._reply(*fake.answer("GET", self.path.split("?")[0], params))

            def _reply(self, status: int, body: dict):
                data = json.dumps(body, ensure_ascii=False).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json;charset=utf-8")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def expected_signature(self, method: str, params: dict[str, str]) -> str:
        query = "&".join(
            f"{_java_percent_encode(k)}={_java_percent_encode(v)}"
            for k, v in sorted(params.items())
            if k != "Signature"
        )
        to_sign = f"{method}&{_java_percent_encode('/')}&{_java_percent_encode(query)}"
        mac = hmac.new(f"{self.access_key_secret}&".encode(), to_sign.encode(), hashlib.sha1)
        return base64.b64encode(mac.digest()).decode()

    def _error(self, code: str, message: str, status: int = 400) -> tuple[int, dict]:
        return status, {"Code": code, "Message": message, "RequestId": str(uuid.uuid4()).upper()}

    def answer(self, method: str, path: str, p: dict[str, str]) -> tuple[int, dict]:
        if self.status != 200:
            return self._error("ServiceUnavailable", "The request has failed due to a temporary failure.", self.status)
        for name in (
            "AccessKeyId",
            "Action",
            "Format",
            "RegionId",
            "SignatureMethod",
            "SignatureNonce",
            "SignatureVersion",
            "Timestamp",
            "Version",
            "Signature",
        ):
            if not p.get(name):
                return self._error("MissingParameter", f"{name} is mandatory for this action.")
        if p["AccessKeyId"] != self.access_key_id:
            return self._error("InvalidAccessKeyId.NotFound", "Specified access key is not found.", 404)
        if p["SignatureMethod"] != "HMAC-SHA1" or p["SignatureVersion"] != "1.0":
            return self._error("InvalidParameter", "SignatureMethod/SignatureVersion")
        if not hmac.compare_digest(p["Signature"], self.expected_signature(method, p)):
            return self._error("SignatureDoesNotMatch", "Specified signature is not matched with our calculation.")
        try:
            ts = datetime.strptime(p["Timestamp"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        except ValueError:
            return self._error("InvalidTimeStamp.Format", "Specified time stamp is not valid.")
        if abs(clock.now() - ts) > timedelta(minutes=15):
            return self._error("InvalidTimeStamp.Expired", "Specified time stamp or date value is expired.")
        if p["SignatureNonce"] in self.nonces:
            return self._error("SignatureNonceUsed", "Specified signature nonce was used already.")
        self.nonces.add(p["SignatureNonce"])
        if p["Version"] != "2017-05-25" or p["Action"] != "SendSms" or path != "/":
            return self._error("InvalidAction.NotFound", "Specified api is not found.", 404)
        if not re.fullmatch(r"1[3-9][0-9]{9}", p.get("PhoneNumbers", "")):
            return 200, {"Code": "isv.MOBILE_NUMBER_ILLEGAL", "Message": "非法手机号", "RequestId": "r"}
        if p.get("SignName") != self.sign_name:
            return 200, {"Code": "isv.SMS_SIGNATURE_ILLEGAL", "Message": "签名不合法", "RequestId": "r"}
        variables = self.templates.get(p.get("TemplateCode", ""))
        if variables is None:
            return 200, {"Code": "isv.SMS_TEMPLATE_ILLEGAL", "Message": "模板不合法", "RequestId": "r"}
        try:
            values = json.loads(p.get("TemplateParam") or "{}")
        except ValueError:
            return 200, {"Code": "isv.INVALID_JSON_PARAM", "Message": "JSON参数不合法", "RequestId": "r"}
        if sorted(values) != sorted(variables):
            return 200, {"Code": "isv.TEMPLATE_MISSING_PARAMETERS", "Message": "模板缺少变量", "RequestId": "r"}
        if self.fail_next:
            code, self.fail_next = self.fail_next, None
            return 200, {"Code": code, "Message": "forced by the test", "RequestId": "r"}
        biz_id = f"{len(self.sent) + 1:06d}^{uuid.uuid4().hex[:10]}"
        self.sent.append(
            {
                "phone": p["PhoneNumbers"],
                "template": p["TemplateCode"],
                "params": values,
                "out_id": p.get("OutId"),
                "biz_id": biz_id,
            }
        )
        return 200, {"Code": "OK", "Message": "OK", "BizId": biz_id, "RequestId": str(uuid.uuid4()).upper()}

    def start(self) -> FakeAliyunSms:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
