"""WeChat Pay protocol rules (chalicelib.payments.domain): notification verification and decryption, request
and paySign signatures, the amount check, APIv2 signing. Keys are generated here, never committed."""

from __future__ import annotations

import base64
import json
import os
import secrets
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from chalicelib.core import clock
from chalicelib.core.errors import AppError
from chalicelib.payments import domain
from chalicelib.payments.domain import Notification, sign_notification, verify_and_decrypt

SERIAL = "5157F09EFDC096DE15EBE81A47057A7232F1B8E1"
MCHID, APPID = "1900000109", "wxd678efh567hg6787"


@pytest.fixture(scope="module")
def platform():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def merchant():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def apiv3():
    return secrets.token_hex(16).encode()


@pytest.fixture
def now():
    t = datetime.now(UTC).replace(microsecond=0)
    clock.set_clock(lambda: t)
    return t


def _tx(**over):
    tx = domain.transaction_resource(
        appid=APPID,
        mchid=MCHID,
        out_trade_no="01JORDER000000000000000001",
        transaction_id="4200001234202611231234567890",
        amount_fen=2590,
        openid="oUpF8uMuAJO_M2pxb1Q9zNjWeS6o",
        success_time="2026-11-23T18:30:05+08:00",
    )
    tx.update(over)
    return tx


def _signed(platform, apiv3, now, tx=None, **kw):
    return sign_notification(
        tx or _tx(), platform_private_key=platform, platform_serial=SERIAL, apiv3_key=apiv3, now=now, **kw
    )


def _verify(headers, body, platform, apiv3, **kw):
    keys = kw.pop("keys", {SERIAL: platform.public_key()})
    return verify_and_decrypt(headers, body, platform_keys=keys, apiv3_key=apiv3, now=clock.now(), **kw)


def _code(fn) -> tuple[str, int]:
    with pytest.raises(AppError) as e:
        fn()
    return e.value.code, e.value.status


def _resign(platform, headers, body: bytes) -> dict:
    """Headers re-signed for a changed body (an attacker without the platform key cannot do this)."""
    return {
        **headers,
        **domain.sign_response(body, private_key=platform, serial=SERIAL, timestamp=headers["Wechatpay-Timestamp"]),
    }


# --- notifications -------------------------------------------------------------------------------------------


def test_signed_notification_verifies_and_decrypts(platform, apiv3, now):
    headers, body = _signed(platform, apiv3, now, event_id="EV-1")
    assert set(headers) == {"Wechatpay-Timestamp", "Wechatpay-Nonce", "Wechatpay-Signature", "Wechatpay-Serial"}
    assert headers["Wechatpay-Timestamp"] == str(int(now.timestamp())) and headers["Wechatpay-Serial"] == SERIAL
    env = json.loads(body)
    assert env["resource_type"] == "encrypt-resource" and env["event_type"] == "TRANSACTION.SUCCESS"
    assert env["resource"]["algorithm"] == "AEAD_AES_256_GCM" and env["resource"]["original_type"] == "transaction"
    assert b"01JORDER" not in body  # the transaction travels encrypted

    n = _verify(headers, body, platform, apiv3, mchid=MCHID, appid=APPID)
    assert n == Notification(
        event_id="EV-1",
        event_type="TRANSACTION.SUCCESS",
        out_trade_no="01JORDER000000000000000001",
        transaction_id="4200001234202611231234567890",
        trade_state="SUCCESS",
        amount_total_fen=2590,
        payer_openid="oUpF8uMuAJO_M2pxb1Q9zNjWeS6o",
        success_time="2026-11-23T18:30:05+08:00",
        payer_total_fen=2590,
        currency="CNY",
        mchid=MCHID,
        appid=APPID,
    )
    assert n.paid


def test_the_signature_is_sha256_rsa_over_timestamp_nonce_body(platform, apiv3, now):
    headers, body = _signed(platform, apiv3, now)
    message = f"{headers['Wechatpay-Timestamp']}\n{headers['Wechatpay-Nonce']}\n{body.decode()}\n".encode()
    platform.public_key().verify(
        base64.b64decode(headers["Wechatpay-Signature"]), message, padding.PKCS1v15(), hashes.SHA256()
    )


def test_the_ciphertext_is_aes_256_gcm_with_the_tag_at_the_end(platform, apiv3, now):
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    _, body = _signed(platform, apiv3, now)
    res = json.loads(body)["resource"]
    raw = base64.b64decode(res["ciphertext"])
    plain = AESGCM(apiv3).decrypt(res["nonce"].encode(), raw, res["associated_data"].encode())
    assert len(raw) == len(plain) + 16 and json.loads(plain)["amount"]["total"] == 2590


def test_headers_are_read_case_insensitively(platform, apiv3, now):
    headers, body = _signed(platform, apiv3, now)
    for h in ({k.lower(): v for k, v in headers.items()}, {k.upper(): v for k, v in headers.items()}):
        assert _verify(h, body, platform, apiv3).amount_total_fen == 2590


def test_a_flipped_byte_in_the_body_is_rejected(platform, apiv3, now):
    headers, body = _signed(platform, apiv3, now)
    i = body.index(b'"event_type"') + 2
    tampered = body[:i] + bytes([body[i] ^ 0x01]) + body[i + 1 :]
    assert _code(lambda: _verify(headers, tampered, platform, apiv3)) == ("SIGNATURE_INVALID", 401)


def test_a_signature_by_another_key_is_rejected(platform, apiv3, now, merchant):
    headers, body = _signed(merchant, apiv3, now)  # right serial, wrong key
    assert _code(lambda: _verify(headers, body, platform, apiv3)) == ("SIGNATURE_INVALID", 401)
    probe = {**_signed(platform, apiv3, now)[0], "Wechatpay-Signature": "WECHATPAY/SIGNTEST/abc"}
    assert _code(lambda: _verify(probe, body, platform, apiv3)) == ("SIGNATURE_INVALID", 401)


def test_an_unknown_serial_is_rejected(platform, apiv3, now):
    headers, body = _signed(platform, apiv3, now)
    wrong = {**headers, "Wechatpay-Serial": "0000000000000000000000000000000000000000"}
    assert _code(lambda: _verify(wrong, body, platform, apiv3)) == ("UNKNOWN_SERIAL", 401)
    assert _code(lambda: _verify(headers, body, platform, apiv3, keys={})) == ("UNKNOWN_SERIAL", 401)


def test_a_stale_or_future_timestamp_is_rejected(platform, apiv3, now):
    headers, body = _signed(platform, apiv3, now)
    clock.set_clock(lambda: now + timedelta(minutes=4, seconds=59))
    assert _verify(headers, body, platform, apiv3).out_trade_no
    clock.set_clock(lambda: now + timedelta(minutes=6))
    assert _code(lambda: _verify(headers, body, platform, apiv3)) == ("TIMESTAMP_STALE", 401)
    clock.set_clock(lambda: now - timedelta(minutes=6))
    assert _code(lambda: _verify(headers, body, platform, apiv3)) == ("TIMESTAMP_STALE", 401)
    clock.set_clock(lambda: now)
    bad = _resign(platform, {**headers, "Wechatpay-Timestamp": "yesterday"}, body)
    assert _code(lambda: _verify(bad, body, platform, apiv3)) == ("SIGNATURE_INVALID", 401)


def test_a_wrong_apiv3_key_cannot_decrypt(platform, apiv3, now):
    headers, body = _signed(platform, apiv3, now)
    assert _code(lambda: _verify(headers, body, platform, secrets.token_hex(16).encode())) == ("DECRYPT_FAILED", 400)
    assert _code(lambda: _verify(headers, body, platform, b"short")) == ("DECRYPT_FAILED", 400)


@pytest.mark.parametrize(
    "field,change",
    [
        ("ciphertext", lambda c: c[:10] + ("A" if c[10] != "A" else "B") + c[11:]),  # tampered ciphertext
        ("ciphertext", lambda c: "not base64!"),
        ("nonce", lambda n: "000000000000"),
        ("associated_data", lambda a: "certificate"),
    ],
)
def test_a_tampered_resource_cannot_be_decrypted(platform, apiv3, now, field, change):
    headers, body = _signed(platform, apiv3, now)
    env = json.loads(body)
    env["resource"][field] = change(env["resource"][field])
    body2 = json.dumps(env).encode()
    assert _code(lambda: _verify(_resign(platform, headers, body2), body2, platform, apiv3)) == ("DECRYPT_FAILED", 400)


@pytest.mark.parametrize(
    "missing", ["Wechatpay-Timestamp", "Wechatpay-Nonce", "Wechatpay-Signature", "Wechatpay-Serial"]
)
def test_a_missing_header_is_rejected(platform, apiv3, now, missing):
    headers, body = _signed(platform, apiv3, now)
    del headers[missing]
    assert _code(lambda: _verify(headers, body, platform, apiv3)) == ("SIGNATURE_INVALID", 401)
    assert _code(lambda: _verify({}, body, platform, apiv3)) == ("SIGNATURE_INVALID", 401)


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"",
        b"[]",
        b'{"id": "x"}',
        b'{"id":"x","event_type":"TRANSACTION.SUCCESS","resource_type":"plain",'
        b'"resource":{"algorithm":"AEAD_AES_256_GCM","ciphertext":"","nonce":""}}',
    ],
)
def test_a_signed_body_that_is_not_a_notification_is_malformed(platform, apiv3, now, body):
    headers = domain.sign_response(body, private_key=platform, serial=SERIAL, timestamp=int(now.timestamp()))
    assert _code(lambda: _verify(headers, body, platform, apiv3)) == ("MALFORMED_NOTIFICATION", 400)


def test_a_decrypted_resource_that_is_not_a_transaction_is_malformed(platform, apiv3, now):
    headers, body = _signed(platform, apiv3, now, tx={"refund_id": "50000000382019052709732678859"})
    assert _code(lambda: _verify(headers, body, platform, apiv3)) == ("MALFORMED_NOTIFICATION", 400)
    tx = _tx()
    tx["amount"] = {"total": "lots"}
    headers, body = _signed(platform, apiv3, now, tx=tx)
    assert _code(lambda: _verify(headers, body, platform, apiv3)) == ("MALFORMED_NOTIFICATION", 400)


def test_another_merchant_or_app_is_rejected(platform, apiv3, now):
    headers, body = _signed(platform, apiv3, now, tx=_tx(mchid="1230000109"))
    assert _code(lambda: _verify(headers, body, platform, apiv3, mchid=MCHID)) == ("MERCHANT_MISMATCH", 400)
    headers, body = _signed(platform, apiv3, now, tx=_tx(appid="wx0000000000000000"))
    assert _code(lambda: _verify(headers, body, platform, apiv3, appid=APPID)) == ("MERCHANT_MISMATCH", 400)
    assert _verify(headers, body, platform, apiv3, mchid=MCHID).appid == "wx0000000000000000"


def test_platform_keys_may_be_pems_or_certificates(platform, apiv3, now):
    headers, body = _signed(platform, apiv3, now)
    pem = domain.public_pem(platform)
    assert _verify(headers, body, platform, apiv3, keys={SERIAL: pem}).amount_total_fen == 2590


def test_check_amount():
    n = Notification(
        event_id="e",
        event_type="TRANSACTION.SUCCESS",
        out_trade_no="O1",
        transaction_id="T",
        trade_state="SUCCESS",
        amount_total_fen=2590,
        payer_openid=None,
        success_time=None,
    )
    domain.check_amount(n, order_id="O1", amount_fen=2590)
    assert _code(lambda: domain.check_amount(n, order_id="O1", amount_fen=2591)) == ("AMOUNT_MISMATCH", 409)
    assert _code(lambda: domain.check_amount(n, order_id="O2", amount_fen=2590)) == ("ORDER_MISMATCH", 409)


# --- outgoing signatures -------------------------------------------------------------------------------------


def test_authorization_header_signs_the_documented_message(merchant):
    body = '{"appid":"wx","description":"门店消费"}'
    header = domain.authorization(
        mchid=MCHID,
        serial_no="MSERIAL",
        private_key=merchant,
        method="POST",
        url_path="/v3/pay/transactions/jsapi",
        body=body,
        timestamp=1554208460,
        nonce="593BEC0C930BF1AFEB40B4A08C8FB242",
    )
    assert header.startswith(
        'WECHATPAY2-SHA256-RSA2048 mchid="1900000109",nonce_str="593BEC0C930BF1AFEB40B4A08C8FB242",signature="'
    )
    f = domain.parse_authorization(header)
    assert f["serial_no"] == "MSERIAL" and f["timestamp"] == "1554208460"
    message = f"POST\n/v3/pay/transactions/jsapi\n1554208460\n593BEC0C930BF1AFEB40B4A08C8FB242\n{body}\n".encode()
    merchant.public_key().verify(base64.b64decode(f["signature"]), message, padding.PKCS1v15(), hashes.SHA256())
    get = domain.parse_authorization(
        domain.authorization(
            mchid=MCHID,
            serial_no="S",
            private_key=merchant,
            method="GET",
            url_path="/v3/certificates?x=1",
            body="",
            timestamp=1,
            nonce="N",
        )
    )
    merchant.public_key().verify(
        base64.b64decode(get["signature"]), b"GET\n/v3/certificates?x=1\n1\nN\n\n", padding.PKCS1v15(), hashes.SHA256()
    )
    with pytest.raises(ValueError):
        domain.parse_authorization("Bearer abc")


def test_pay_sign_verifies_with_the_merchant_public_key(merchant, monkeypatch):
    """The sandbox's prepay (with our merchant key from settings) and the pure jsapi_params both sign
    ``appId\\ntimeStamp\\nnonceStr\\npackage\\n``."""
    from cryptography.hazmat.primitives import serialization

    from chalicelib.core.settings import get_settings
    from chalicelib.payments.client import get_client

    pem = merchant.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    monkeypatch.setenv("WECHATPAY_MERCHANT_PRIVATE_KEY", pem)
    monkeypatch.setenv("WECHATPAY_APPID", APPID)
    get_settings.cache_clear()
    from chalicelib.payments import sandbox

    monkeypatch.setattr(sandbox, "_deliver", None)
    p = get_client().prepay(
        order_id="01JORDER000000000000000002",
        amount_fen=100,
        description="x",
        openid="o1",
        expires_at=datetime.now(UTC) + timedelta(minutes=15),
    )
    d = p.as_dict()
    assert d["appId"] == APPID and d["signType"] == "RSA" and d["package"].startswith("prepay_id=wx")
    assert len(d["nonceStr"]) == 32 and d["timeStamp"].isdigit()
    message = f"{d['appId']}\n{d['timeStamp']}\n{d['nonceStr']}\n{d['package']}\n".encode()
    merchant.public_key().verify(base64.b64decode(d["paySign"]), message, padding.PKCS1v15(), hashes.SHA256())
    with pytest.raises(InvalidSignature):
        merchant.public_key().verify(
            base64.b64decode(d["paySign"]), message + b"x", padding.PKCS1v15(), hashes.SHA256()
        )

    q = domain.jsapi_params(
        appid=APPID,
        prepay_id="wx201410272009395522657a690389285100",
        private_key=merchant,
        timestamp=1414561699,
        nonce="5K8264ILTKCH16CQ2502SI8ZNMTM67VS",
    )
    assert q["package"] == "prepay_id=wx201410272009395522657a690389285100"
    merchant.public_key().verify(
        base64.b64decode(q["paySign"]),
        f"{APPID}\n1414561699\n5K8264ILTKCH16CQ2502SI8ZNMTM67VS\nprepay_id=wx201410272009395522657a690389285100\n".encode(),
        padding.PKCS1v15(),
        hashes.SHA256(),
    )


def test_time_expire_and_truncation():
    expires = datetime(2026, 11, 23, 10, 30, 0, 123, tzinfo=UTC)
    assert domain.rfc3339_cst(expires) == "2026-11-23T18:30:00+08:00"
    assert domain.truncate_utf8("门店消费", 7) == "门店"
    assert domain.truncate_utf8("abc", 127) == "abc"


# --- APIv2 (付款码) ------------------------------------------------------------------------------------------


def test_v2_sign_matches_the_documented_example():
    # The example of WeChat Pay's "签名算法" page (APIv2).
    params = {
        "appid": "wxd930ea5d5a258f4f",
        "mch_id": "10000100",
        "device_info": "1000",
        "body": "test",
        "nonce_str": "ibuaiVcKdpRxkhJA",
        "empty": "",
    }
    key = "192006250b4c09247ec02edce69f6a2d"
    assert domain.v2_sign(params, key, "MD5") == "9A0A8659F005D6984697E2CA0A9CF3B7"
    assert domain.v2_sign(params, key) == "6A9AE1657590FD6257D693A078E1C3E4BB6BA4DC30B23E0EE2496E54170DACD6"
    signed = {**params, "sign": domain.v2_sign(params, key)}
    assert domain.v2_verify(signed, key) and not domain.v2_verify({**signed, "body": "tes"}, key)
    assert domain.from_xml(domain.to_xml({"a": "<&>", "b": 1})) == {"a": "<&>", "b": "1"}
    with pytest.raises(ValueError):
        domain.from_xml(b'<!DOCTYPE x [<!ENTITY e "boom">]><xml><a>&e;</a></xml>')


_LAUGHS = '<!ENTITY lol0 "lol">' + "".join(f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10))
HOSTILE_XML = {
    # "billion laughs": 10^9 "lol"s from a 1 kB answer, if the entities are expanded
    "billion laughs": f'<?xml version="1.0"?><!DOCTYPE xml [{_LAUGHS}]><xml><return_code>&lol9;</return_code></xml>',
    # external entities: a local file, or a URL fetched from inside the VPC, read into return_msg
    "external entity": '<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
    "<xml><return_code>FAIL</return_code><return_msg>&xxe;</return_msg></xml>",
    "external parameter entity": '<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY % dtd SYSTEM '
    '"http://169.254.169.254/latest/meta-data/"> %dtd;]><xml><a>1</a></xml>',
    "external DTD": '<?xml version="1.0"?><!DOCTYPE xml SYSTEM "http://169.254.169.254/x.dtd"><xml><a>1</a></xml>',
}


@pytest.mark.parametrize("name", sorted(HOSTILE_XML))
@pytest.mark.parametrize("encoding", ["utf-8", "utf-16"])  # a byte search for "<!DOCTYPE" misses UTF-16
def test_from_xml_refuses_entities_and_dtds_instead_of_expanding_them(name, encoding):
    from defusedxml import DefusedXmlException

    text = HOSTILE_XML[name]
    if encoding != "utf-8":
        text = text.replace('<?xml version="1.0"?>', f'<?xml version="1.0" encoding="{encoding.upper()}"?>')
    with pytest.raises(DefusedXmlException):  # refused by the parser: nothing expanded, nothing fetched
        domain.from_xml(text.encode(encoding))


def test_from_xml_still_reads_answers_and_rejects_what_is_not_xml():
    from xml.etree.ElementTree import ParseError

    answer = (
        '<?xml version="1.0" encoding="UTF-16"?><xml><return_code><![CDATA[SUCCESS]]></return_code>'
        "<return_msg><![CDATA[OK <!DOCTYPE> & co]]></return_msg><empty></empty></xml>"
    )
    assert domain.from_xml(answer.encode("utf-16")) == {
        "return_code": "SUCCESS",
        "return_msg": "OK <!DOCTYPE> & co",
        "empty": "",
    }
    for junk in (b"", b"not xml", b"<html><body>502 Bad Gateway</body>", '{"code": "SYSTEM_ERROR"}'):
        with pytest.raises(ParseError):
            domain.from_xml(junk)


def test_importing_the_client_does_not_import_cryptography():
    root = Path(__file__).resolve().parents[2]
    code = (
        "import sys, chalicelib.payments.client, chalicelib.payments.webhook, chalicelib.payments.domain;"
        "bad = [m for m in ('cryptography', 'urllib3') if m in sys.modules]; print(bad); sys.exit(1 if bad else 0)"
    )
    r = subprocess.run(
        [sys.executable, "-c", code],
        cwd=root,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(root)},
    )
    assert r.returncode == 0, r.stdout + r.stderr
