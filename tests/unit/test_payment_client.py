"""The payment providers: the real WechatPayClient against a local fake of WeChat Pay (which checks every
request's signature and signs its answers), and the sandbox. Keys are generated here, never committed."""

from __future__ import annotations

import json
import secrets
import socket
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from chalicelib.core import clock
from chalicelib.core.errors import AppError
from chalicelib.core.settings import get_settings
from chalicelib.payments import client as payments
from chalicelib.payments import domain, sandbox
from chalicelib.payments.client import Charge, Prepay, RefundResult, WechatPayClient, get_client
from chalicelib.payments.domain import verify_and_decrypt

MCHID, APPID, MSERIAL, PSERIAL = "1900000109", "wxd678efh567hg6787", "MERCHANT-SERIAL-1", "PLATFORM-SERIAL-1"
V2_KEY = "192006250b4c09247ec02edce69f6a2d"
ORDER = "01JORDER000000000000000001"
PAY_CODE = "134567890123456789"


def _key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _pem(key) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


@pytest.fixture(scope="module")
def keys():
    return {"merchant": _key(), "platform": _key(), "other": _key()}


@pytest.fixture(autouse=True)
def _isolated(monkeypatch):
    monkeypatch.setattr(sandbox, "_deliver", None)  # tests deliver themselves
    payments.set_client(None)
    yield
    payments.set_client(None)
    sandbox.clear()


# --- a fake WeChat Pay ---------------------------------------------------------------------------------------


class FakeWechatPay(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, keys):
        super().__init__(("127.0.0.1", 0), Handler)
        self.merchant_public = keys["merchant"].public_key()
        self.platform = keys["platform"]
        self.mode = "ok"  # ok | unsigned | badsig | 500 | userpaying
        self.requests: list[dict] = []
        self.auth_failures = 0
        self.queries = 0
        self.transfers: dict[str, str] = {}  # out_batch_no -> detail_status

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class Handler(BaseHTTPRequestHandler):
    server: FakeWechatPay

    def log_message(self, *args):
        pass

    def _answer(self, status: int, payload, content_type="application/json", sign=True):
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        if sign and self.server.mode != "unsigned":
            signer = self.server.platform
            if self.server.mode == "badsig":
                signer = rsa.generate_private_key(public_exponent=65537, key_size=1024)
            for k, v in domain.sign_response(
                body, private_key=signer, serial=PSERIAL, timestamp=int(time.time())
            ).items():
                self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def _authorized(self, method: str, raw: bytes) -> bool:
        """APIv3: the Authorization header verifies with the merchant public key over the documented message."""
        try:
            auth = domain.parse_authorization(self.headers.get("Authorization", ""))
            msg = f"{method}\n{self.path}\n{auth['timestamp']}\n{auth['nonce_str']}\n{raw.decode()}\n".encode()
            ok = (
                auth["mchid"] == MCHID
                and auth["serial_no"] == MSERIAL
                and bool(self.headers.get("User-Agent"))
                and domain.rsa_verify(self.server.merchant_public, msg, auth["signature"])
            )
        except ValueError:
            ok = False
        if not ok:
            self.server.auth_failures += 1
            self._answer(401, {"code": "SIGN_ERROR", "message": "签名错误"})
        return ok

    def do_GET(self):
        self.server.requests.append({"path": self.path, "headers": dict(self.headers), "body": b""})
        if not self._authorized("GET", b""):
            return
        transfers = "/v3/transfer/batches/out-batch-no/"
        if self.path.startswith(transfers):
            tid = self.path[len(transfers) :].split("/")[0]
            if tid not in self.server.transfers:
                return self._answer(404, {"code": "NOT_FOUND", "message": "记录不存在"})
            state = self.server.transfers[tid]
            detail = {"out_detail_no": tid, "detail_id": "1040000071100999991182020050700019480001"}
            detail |= {"detail_status": state} | ({"fail_reason": "ACCOUNT_FROZEN"} if state == "FAIL" else {})
            return self._answer(200, detail)
        prefix = "/v3/refund/domestic/refunds/"
        if self.path.startswith(prefix) and self.path != prefix + "UNKNOWN":
            return self._answer(
                200,
                {
                    "refund_id": "50000000382019052709732678859",
                    "out_refund_no": self.path[len(prefix) :],
                    "status": "SUCCESS",
                },
            )
        return self._answer(404, {"code": "RESOURCE_NOT_EXISTS", "message": "退款单不存在"})

    def do_POST(self):
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.requests.append({"path": self.path, "headers": dict(self.headers), "body": raw})
        if self.server.mode == "500":
            return self._answer(500, {"code": "SYSTEM_ERROR", "message": "busy"}, sign=False)
        if self.path.startswith("/pay/"):
            return self._v2(raw)
        if not self._authorized("POST", raw):
            return
        data = json.loads(raw)
        if self.path.endswith("/close"):
            assert data == {"mchid": MCHID}
            return self._answer(204, b"")
        if self.path == "/v3/pay/transactions/jsapi":
            if data["out_trade_no"] == "PAID":
                return self._answer(403, {"code": "ORDERPAID", "message": "订单已支付"})
            return self._answer(200, {"prepay_id": "wx26112233445566778899aabbccdd0011"})
        if self.path == "/v3/transfer/batches":
            if data["total_amount"] > 1_000_000:
                return self._answer(403, {"code": "NOT_ENOUGH", "message": "商户账户余额不足"})
            if not data["transfer_detail_list"][0]["openid"].startswith("o-"):
                return self._answer(400, {"code": "PARAM_ERROR", "message": "openid与appid不匹配"})
            self.server.transfers.setdefault(data["out_batch_no"], "PROCESSING")
            return self._answer(200, {"out_batch_no": data["out_batch_no"], "batch_id": "131000007110099999118202"})
        if self.path == "/v3/refund/domestic/refunds":
            if data["amount"]["refund"] > data["amount"]["total"]:
                return self._answer(400, {"code": "INVALID_REQUEST", "message": "退款金额超过订单金额"})
            return self._answer(
                200,
                {
                    "refund_id": "50000000382019052709732678859",
                    "out_refund_no": data["out_refund_no"],
                    "status": "PROCESSING",
                },
            )
        return self._answer(404, {"code": "NOT_FOUND", "message": "no such API"})

    def _v2(self, raw: bytes):
        params = domain.from_xml(raw)
        if not domain.v2_verify(params, V2_KEY) or params.get("sign_type") != "HMAC-SHA256":
            self.server.auth_failures += 1
            return self._answer(
                200, domain.to_xml({"return_code": "FAIL", "return_msg": "签名错误"}), "text/xml", sign=False
            )
        out = {
            "return_code": "SUCCESS",
            "return_msg": "OK",
            "appid": APPID,
            "mch_id": MCHID,
            "nonce_str": domain.nonce_str(),
        }
        paid = {
            "result_code": "SUCCESS",
            "transaction_id": "4200000123202611231234567890",
            "total_fee": params.get("total_fee", "2590"),
            "out_trade_no": params["out_trade_no"],
        }
        if self.path == "/pay/micropay":
            if self.server.mode == "userpaying":
                out.update(result_code="FAIL", err_code="USERPAYING", err_code_des="需要用户输入支付密码")
            elif params["auth_code"] == PAY_CODE:
                out.update(paid)
            else:
                out.update(result_code="FAIL", err_code="AUTH_CODE_INVALID", err_code_des="付款码无效")
        elif self.path == "/pay/orderquery":
            self.server.queries += 1
            out.update(paid if self.server.queries >= 2 else {"result_code": "SUCCESS", "trade_state": "USERPAYING"})
            if self.server.queries >= 2:
                out.update(trade_state="SUCCESS", total_fee="2590")
        out["sign"] = domain.v2_sign(out, V2_KEY)
        if self.server.mode == "badsig":
            out["sign"] = "0" * 64
        return self._answer(200, domain.to_xml(out), "text/xml", sign=False)


@pytest.fixture
def fake(keys):
    server = FakeWechatPay(keys)
    t = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    t.start()
    yield server
    server.shutdown()
    server.server_close()


def _client(keys, base, **kw) -> WechatPayClient:
    args = dict(
        mchid=MCHID,
        appid=APPID,
        merchant_private_key=_pem(keys["merchant"]),
        merchant_serial=MSERIAL,
        platform_keys={PSERIAL: keys["platform"].public_key()},
        notify_url="https://shop.example/notify",
        api_base=base,
        timeout_s=2.0,
        apiv2_key=V2_KEY,
        retries=2,
        sleep=lambda s: None,
    )
    args.update(kw)
    return WechatPayClient(**args)


def _code(fn) -> tuple[str, int]:
    with pytest.raises(AppError) as e:
        fn()
    return e.value.code, e.value.status


def _prepay(c, order_id=ORDER):
    return c.prepay(
        order_id=order_id,
        amount_fen=2590,
        description="鲜肉月饼 x2",
        openid="o-openid-1",
        expires_at=datetime(2026, 11, 23, 10, 45, tzinfo=UTC),
    )


# --- the real client -----------------------------------------------------------------------------------------


def test_prepay_signs_the_request_and_returns_signed_pay_params(keys, fake):
    p = _prepay(_client(keys, fake.base))
    assert isinstance(p, Prepay) and p.package == "prepay_id=wx26112233445566778899aabbccdd0011"
    assert p.appId == APPID and p.signType == "RSA"
    message = f"{p.appId}\n{p.timeStamp}\n{p.nonceStr}\n{p.package}\n"
    assert domain.rsa_verify(keys["merchant"].public_key(), message, p.paySign)
    (req,) = fake.requests
    assert fake.auth_failures == 0 and req["path"] == "/v3/pay/transactions/jsapi"
    sent = json.loads(req["body"])
    assert sent == {
        "appid": APPID,
        "mchid": MCHID,
        "description": "鲜肉月饼 x2",
        "out_trade_no": ORDER,
        "time_expire": "2026-11-23T18:45:00+08:00",
        "notify_url": "https://shop.example/notify",
        "amount": {"total": 2590, "currency": "CNY"},
        "payer": {"openid": "o-openid-1"},
    }


def test_refund_signs_the_request_and_maps_the_answer(keys, fake):
    c = _client(keys, fake.base)
    r = c.refund(
        order_id=ORDER, refund_id="01JREFUND00000000000000001", amount_fen=1000, total_fen=2590, reason="顾客取消"
    )
    assert r == RefundResult(
        refund_id="01JREFUND00000000000000001", provider_refund_id="50000000382019052709732678859", status="PROCESSING"
    )
    sent = json.loads(fake.requests[0]["body"])
    assert sent == {
        "out_trade_no": ORDER,
        "out_refund_no": "01JREFUND00000000000000001",
        "reason": "顾客取消",
        "amount": {"refund": 1000, "total": 2590, "currency": "CNY"},
    }
    assert _code(lambda: c.refund(order_id=ORDER, refund_id="R2", amount_fen=3000, total_fen=2590, reason="x")) == (
        "REFUND_REJECTED",
        409,
    )


def test_refund_status_and_close(keys, fake):
    c = _client(keys, fake.base)
    assert c.refund_status(refund_id="01JREFUND00000000000000001").status == "SUCCESS"
    assert fake.requests[-1]["path"] == "/v3/refund/domestic/refunds/01JREFUND00000000000000001"
    assert _code(lambda: c.refund_status(refund_id="UNKNOWN")) == ("REFUND_NOT_FOUND", 404)
    c.close(order_id=ORDER)
    assert fake.requests[-1]["path"] == f"/v3/pay/transactions/out-trade-no/{ORDER}/close"
    assert fake.auth_failures == 0


def test_business_errors_map_to_conflicts(keys, fake):
    assert _code(lambda: _prepay(_client(keys, fake.base), order_id="PAID")) == ("ALREADY_PAID", 409)


def test_a_request_signed_with_the_wrong_key_is_refused_upstream(keys, fake):
    c = _client(keys, fake.base, merchant_private_key=keys["other"])
    assert _code(lambda: _prepay(c)) == ("PAYMENT_UNAVAILABLE", 502)
    assert fake.auth_failures == 1


@pytest.mark.parametrize("mode", ["unsigned", "badsig"])
def test_an_unsigned_or_badly_signed_answer_is_rejected(keys, fake, mode):
    fake.mode = mode
    c = _client(keys, fake.base)
    assert _code(lambda: _prepay(c)) == ("PAYMENT_UNAVAILABLE", 502)
    assert _code(lambda: c.refund(order_id=ORDER, refund_id="R1", amount_fen=1, total_fen=2590, reason="x")) == (
        "PAYMENT_UNAVAILABLE",
        502,
    )
    assert fake.auth_failures == 0  # our requests were fine; their answers were not trusted


def test_an_answer_signed_by_an_unknown_serial_or_stale_is_rejected(keys, fake):
    c = _client(keys, fake.base, platform_keys={"ANOTHER": keys["platform"].public_key()})
    assert _code(lambda: _prepay(c)) == ("PAYMENT_UNAVAILABLE", 502)
    t0 = datetime.now(UTC)
    c = _client(keys, fake.base)
    clock.set_clock(lambda: t0 - timedelta(minutes=10))  # the answer's timestamp is 10 min off our clock
    assert _code(lambda: _prepay(c)) == ("PAYMENT_UNAVAILABLE", 502)


def test_server_errors_are_retried_then_unavailable(keys, fake):
    fake.mode = "500"
    assert _code(lambda: _prepay(_client(keys, fake.base, retries=2))) == ("PAYMENT_UNAVAILABLE", 502)
    assert len(fake.requests) == 3


def test_an_unreachable_provider_is_unavailable(keys):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    c = _client(keys, f"http://127.0.0.1:{port}", retries=1)
    assert _code(lambda: _prepay(c)) == ("PAYMENT_UNAVAILABLE", 502)


def test_transfer_to_change_is_a_signed_batch_of_one_then_asked_for(keys, fake):
    c = _client(keys, fake.base)
    tid = "01JWITHDRAWAL0000000000001"
    assert c.transfer_status(transfer_id=tid) is None  # WeChat never got it
    t = c.transfer(transfer_id=tid, openid="o-openid-1", amount_fen=4500, remark="佣金提现")
    assert (t.transfer_id, t.status, t.provider_id) == (tid, "PROCESSING", "131000007110099999118202")
    sent = json.loads(fake.requests[-1]["body"])
    assert fake.auth_failures == 0 and sent == {
        "appid": APPID,
        "out_batch_no": tid,
        "batch_name": "佣金提现",
        "batch_remark": "佣金提现",
        "total_amount": 4500,
        "total_num": 1,
        "transfer_detail_list": [
            {"out_detail_no": tid, "transfer_amount": 4500, "transfer_remark": "佣金提现", "openid": "o-openid-1"}
        ],
    }
    assert c.transfer_status(transfer_id=tid).status == "PROCESSING"
    fake.transfers[tid] = "SUCCESS"
    assert c.transfer_status(transfer_id=tid).status == "SUCCESS"
    fake.transfers[tid] = "FAIL"
    failed = c.transfer_status(transfer_id=tid)
    assert (failed.status, failed.message) == ("FAIL", "ACCOUNT_FROZEN")
    # refused for what we sent: FAIL (nothing paid); the merchant's balance short: undecided (send again later)
    bad = c.transfer(transfer_id="01JWITHDRAWAL0000000000002", openid="x-other-app", amount_fen=100, remark="r")
    assert bad.status == "FAIL" and bad.message.startswith("PARAM_ERROR")

    def short():
        return c.transfer(transfer_id="01JWITHDRAWAL0000000000003", openid="o-1", amount_fen=2_000_000, remark="r")

    assert _code(short) == ("PAYMENT_UNAVAILABLE", 502)


def test_micropay_v2_paid_declined_and_unsigned(keys, fake):
    c = _client(keys, fake.base)
    assert c.micropay(order_id=ORDER, amount_fen=2590, auth_code=PAY_CODE, description="门店消费") == Charge(
        transaction_id="4200000123202611231234567890", amount_fen=2590
    )
    sent = domain.from_xml(fake.requests[0]["body"])
    assert sent["total_fee"] == "2590" and sent["auth_code"] == PAY_CODE and sent["out_trade_no"] == ORDER
    assert _code(
        lambda: c.micropay(order_id=ORDER, amount_fen=2590, auth_code="134567890123456780", description="x")
    ) == ("PAYMENT_DECLINED", 409)
    fake.mode = "badsig"
    assert _code(lambda: c.micropay(order_id=ORDER, amount_fen=2590, auth_code=PAY_CODE, description="x")) == (
        "PAYMENT_UNAVAILABLE",
        502,
    )
    c_wrong = _client(keys, fake.base, apiv2_key="0" * 32)
    fake.mode = "ok"
    assert _code(lambda: c_wrong.micropay(order_id=ORDER, amount_fen=2590, auth_code=PAY_CODE, description="x")) == (
        "PAYMENT_UNAVAILABLE",
        502,
    )


def test_micropay_waits_for_the_payer_to_confirm(keys, fake):
    fake.mode = "userpaying"
    c = _client(keys, fake.base, micropay_wait_s=5.0)
    c.poll_s = 0.0
    assert c.micropay(order_id=ORDER, amount_fen=2590, auth_code=PAY_CODE, description="x").amount_fen == 2590
    assert fake.queries == 2


def test_micropay_without_an_apiv2_key_is_unavailable(keys, fake):
    c = _client(keys, fake.base, apiv2_key="")
    assert _code(lambda: c.micropay(order_id=ORDER, amount_fen=1, auth_code=PAY_CODE, description="x")) == (
        "PAYMENT_METHOD_UNAVAILABLE",
        502,
    )


def test_get_client_reads_settings(keys, fake, monkeypatch):
    monkeypatch.setenv("PAYMENT_PROVIDER", "wechatpay")
    get_settings.cache_clear()
    assert _code(get_client) == ("PAYMENT_NOT_CONFIGURED", 502)
    monkeypatch.setenv("WECHATPAY_MCHID", MCHID)
    monkeypatch.setenv("WECHATPAY_APPID", APPID)
    monkeypatch.setenv("WECHATPAY_MERCHANT_PRIVATE_KEY", _pem(keys["merchant"]).replace("\n", "\\n"))
    monkeypatch.setenv("WECHATPAY_MERCHANT_SERIAL", MSERIAL)
    monkeypatch.setenv("WECHATPAY_NOTIFY_URL", "https://shop.example/notify")
    monkeypatch.setenv("WECHATPAY_API_BASE", fake.base)
    monkeypatch.setenv("WECHATPAY_PLATFORM_PUBLIC_KEYS", json.dumps({PSERIAL: domain.public_pem(keys["platform"])}))
    monkeypatch.setenv("WECHATPAY_APIV3_KEY", "a" * 32)
    get_settings.cache_clear()
    c = get_client()
    assert isinstance(c, WechatPayClient) and get_client() is c
    assert _prepay(c).package.startswith("prepay_id=")
    assert set(payments.platform_keys()) == {PSERIAL} and payments.apiv3_key() == b"a" * 32
    monkeypatch.setenv("WECHATPAY_APIV3_KEY", "short")
    monkeypatch.setenv("WECHATPAY_PLATFORM_PUBLIC_KEYS", "{not json")
    get_settings.cache_clear()
    assert _code(payments.apiv3_key) == ("PAYMENT_NOT_CONFIGURED", 502)
    assert _code(payments.platform_keys) == ("PAYMENT_NOT_CONFIGURED", 502)
    monkeypatch.setenv("WECHATPAY_PLATFORM_PUBLIC_KEYS", "")
    monkeypatch.setenv("WECHATPAY_PLATFORM_PUBLIC_KEY", domain.public_pem(keys["platform"]))
    monkeypatch.setenv("WECHATPAY_PLATFORM_SERIAL", "ONE-SERIAL")
    get_settings.cache_clear()
    assert set(payments.platform_keys()) == {"ONE-SERIAL"}
    monkeypatch.setenv("PAYMENT_PROVIDER", "paypal")
    get_settings.cache_clear()
    assert _code(get_client) == ("PAYMENT_NOT_CONFIGURED", 502)


def test_sandbox_is_the_default_on_test_and_refused_on_prod(monkeypatch):
    assert isinstance(get_client(), sandbox.SandboxPaymentClient)
    monkeypatch.setenv("STAGE", "dev")
    get_settings.cache_clear()
    assert payments.provider_name() == "wechatpay"
    monkeypatch.setenv("STAGE", "prod")
    monkeypatch.setenv("PAYMENT_PROVIDER", "sandbox")
    get_settings.cache_clear()
    assert _code(get_client) == ("PAYMENT_NOT_CONFIGURED", 502)


# --- the sandbox ---------------------------------------------------------------------------------------------


def _sandbox_prepay(order_id=ORDER, amount_fen=2590):
    return get_client().prepay(
        order_id=order_id,
        amount_fen=amount_fen,
        description="鲜肉月饼",
        openid="o-openid-1",
        expires_at=clock.now() + timedelta(minutes=15),
    )


def _verify(headers, body):
    return verify_and_decrypt(
        headers, body, platform_keys=payments.platform_keys(), apiv3_key=payments.apiv3_key(), now=clock.now()
    )


def test_sandbox_prepay_queues_a_verifiable_notification_for_the_full_amount():
    p = _sandbox_prepay()
    assert domain.rsa_verify(
        sandbox.merchant_public_key(), f"{p.appId}\n{p.timeStamp}\n{p.nonceStr}\n{p.package}\n", p.paySign
    )
    headers, body = sandbox.pending_notification(ORDER)
    n = _verify(headers, body)
    assert (n.out_trade_no, n.amount_total_fen, n.trade_state, n.payer_openid, n.event_type) == (
        ORDER,
        2590,
        "SUCCESS",
        "o-openid-1",
        "TRANSACTION.SUCCESS",
    )
    assert n.transaction_id.startswith("4200") and len(n.transaction_id) == 28
    # Through the webhook's own entry point, with the settings' keys and merchant ids.
    from chalicelib.payments.webhook import parse_notification

    h2, b2 = sandbox.pending_notification(ORDER)
    again = parse_notification({k.lower(): v for k, v in h2.items()}, b2)
    assert again.event_id == n.event_id and again.transaction_id == n.transaction_id  # a redelivery
    bad = sandbox.pending_notification(ORDER, amount_fen=1)
    with pytest.raises(AppError) as e:
        domain.check_amount(_verify(*bad), order_id=ORDER, amount_fen=2590)
    assert e.value.code == "AMOUNT_MISMATCH"
    with pytest.raises(KeyError):
        sandbox.pending_notification("NO-SUCH-ORDER")


def test_sandbox_uses_keys_from_settings(monkeypatch):
    platform, apiv3 = _key(), secrets.token_hex(16)
    monkeypatch.setenv("SANDBOX_PLATFORM_PRIVATE_KEY", _pem(platform))
    monkeypatch.setenv("SANDBOX_PLATFORM_SERIAL", "SANDBOX-SERIAL-9")
    monkeypatch.setenv("WECHATPAY_APIV3_KEY", apiv3)
    get_settings.cache_clear()
    _sandbox_prepay(amount_fen=990)
    headers, body = sandbox.pending_notification(ORDER)
    assert headers["Wechatpay-Serial"] == "SANDBOX-SERIAL-9"
    n = verify_and_decrypt(
        headers,
        body,
        platform_keys={"SANDBOX-SERIAL-9": platform.public_key()},
        apiv3_key=apiv3.encode(),
        now=clock.now(),
    )
    assert n.amount_total_fen == 990
    assert payments.platform_keys()["SANDBOX-SERIAL-9"].public_numbers() == platform.public_key().public_numbers()


def test_sandbox_delivers_through_the_hook_and_over_http_on_local(monkeypatch):
    got: list[tuple[dict, bytes]] = []
    monkeypatch.setattr(sandbox, "_deliver", lambda h, b: got.append((h, b)))
    _sandbox_prepay()
    assert len(got) == 1 and _verify(*got[0]).amount_total_fen == 2590

    received = threading.Event()
    seen: dict = {}

    class Webhook(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_POST(self):
            seen["path"], seen["headers"] = self.path, dict(self.headers)
            seen["body"] = self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(204)
            self.end_headers()
            received.set()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Webhook)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    try:
        monkeypatch.setattr(sandbox, "_deliver", sandbox._UNSET)  # the default: HTTP on the local stage
        monkeypatch.setenv("STAGE", "local")
        monkeypatch.setenv("SANDBOX_PAY_DELAY_S", "0.05")
        monkeypatch.setenv("SANDBOX_WEBHOOK_URL", f"http://127.0.0.1:{server.server_address[1]}/webhooks/wechatpay")
        get_settings.cache_clear()
        _sandbox_prepay(order_id="01JORDER000000000000000009", amount_fen=1200)
        assert received.wait(5)
        n = _verify(seen["headers"], seen["body"])
        assert seen["path"] == "/webhooks/wechatpay" and n.amount_total_fen == 1200
    finally:
        server.shutdown()
        server.server_close()


def test_sandbox_refund_and_micropay():
    c = get_client()
    r = c.refund(order_id=ORDER, refund_id="R1", amount_fen=100, total_fen=2590, reason="x")
    assert r.status == "PROCESSING" and r.refund_id == "R1" and r.provider_refund_id  # like WeChat, usually
    assert (
        c.refund_status(refund_id="R1")
        == r
        == c.refund(order_id=ORDER, refund_id="R1", amount_fen=100, total_fen=2590, reason="x")
    )
    later = clock.now() + timedelta(seconds=get_settings().sandbox_refund_delay_s)
    clock.set_clock(lambda: later)
    assert c.refund_status(refund_id="R1").status == "SUCCESS"
    # its notification verifies like a payment notification and names the refund
    n = _verify(*sandbox.pending_refund_notification("R1"))
    assert (n.event_type, n.out_refund_no, n.refund_status, n.refund_fen) == ("REFUND.SUCCESS", "R1", "SUCCESS", 100)
    with pytest.raises(AppError) as e:
        c.refund(order_id=ORDER, refund_id="R2", amount_fen=3000, total_fen=2590, reason="x")
    assert e.value.code == "REFUND_REJECTED"
    for code in ("134567890123456789", "100000000000000000", "159999999999999999"):
        ch = c.micropay(order_id=ORDER, amount_fen=2590, auth_code=code, description="门店消费")
        assert ch.amount_fen == 2590 and ch.transaction_id.startswith("4200")
    for code in ("164567890123456789", "13456789012345678", "1345678901234567890", "28456789012345678x", ""):
        with pytest.raises(AppError) as e:
            c.micropay(order_id=ORDER, amount_fen=2590, auth_code=code, description="门店消费")
        assert (e.value.code, e.value.status) == ("PAYMENT_DECLINED", 409)
