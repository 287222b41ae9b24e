"""The Aliyun SMS adapter: the RPC signature as Aliyun documents it (their published example), and real HTTP
requests to a fake Dysmsapi that recomputes the signature independently and answers like the service."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from chalicelib.sms import domain, providers
from tools.fake_aliyun_sms import FakeAliyunSms

TEMPLATES = {"SMS_460001": ["store", "order", "amount", "code"], "SMS_460002": ["store", "printer", "time"]}
CODES = {"order_paid": "SMS_460001", "printer_offline": "SMS_460002"}


@pytest.fixture
def fake():
    server = FakeAliyunSms(templates=TEMPLATES).start()
    yield server
    server.stop()


def provider(fake, secret=None, timeout_s=2.0, codes=CODES):
    return providers.AliyunSmsProvider(
        fake.access_key_id, secret or fake.access_key_secret, "烟酒行", codes, endpoint=fake.url, timeout_s=timeout_s
    )


def send(p, template="order_paid", phone="13800138000", params=None, key="evt-1:order_paid:13800138000"):
    t = domain.template(template)
    params = domain.check_params(
        t, params or {"store": "解放碑店", "order": "7K3QZD", "amount": "12.00", "code": "123456"}
    )
    msg = {"key": key, "phone": phone, "template": t.name, "category": t.category, "params": params}
    return p.send(msg, t, params, domain.render(t, params, "烟酒行"))


def test_signature_matches_aliyuns_documented_example():
    """The example in Aliyun SMS's "签名机制" page (AccessKeySecret testSecret, GET)."""
    params = {
        "AccessKeyId": "testId",
        "Action": "SendSms",
        "Format": "XML",
        "OutId": "123",
        "PhoneNumbers": "15300000001",
        "RegionId": "cn-hangzhou",
        "SignName": "阿里云短信测试专用",
        "SignatureMethod": "HMAC-SHA1",
        "SignatureNonce": "45e25e9b-0a6f-4070-8c85-2956eda1b466",
        "SignatureVersion": "1.0",
        "TemplateCode": "SMS_71390007",
        "TemplateParam": '{"customer":"test"}',
        "Timestamp": "2017-07-12T02:42:19Z",
        "Version": "2017-05-25",
    }
    assert providers.string_to_sign("GET", params).startswith(
        "GET&%2F&AccessKeyId%3DtestId%26Action%3DSendSms%26Format%3DXML%26OutId%3D123%26PhoneNumbers%3D15300000001"
    )
    assert providers.signature("GET", params, "testSecret") == "zJDF+Lrzhj/ThnlvIToysFRq6t4="


def test_percent_encoding_follows_rfc3986():
    assert providers.percent_encode("a b*c~d") == "a%20b%2Ac~d"
    assert providers.percent_encode("解放碑") == "%E8%A7%A3%E6%94%BE%E7%A2%91"
    assert providers.percent_encode("-_.~") == "-_.~"
    assert providers.percent_encode('{"k":"v"}') == "%7B%22k%22%3A%22v%22%7D"


def test_signed_params_carry_every_common_parameter():
    p = providers.signed_params(
        {"Action": "SendSms"}, "id", "secret", nonce="n-1", timestamp=datetime(2026, 11, 23, 4, 0, tzinfo=UTC)
    )
    assert p["Timestamp"] == "2026-11-23T04:00:00Z" and p["SignatureNonce"] == "n-1"
    assert p["Version"] == "2017-05-25" and p["SignatureMethod"] == "HMAC-SHA1" and p["Format"] == "JSON"
    unsigned = {k: v for k, v in p.items() if k != "Signature"}
    assert p["Signature"] == providers.signature("POST", unsigned, "secret")


def test_the_fake_service_accepts_our_signed_request(fake):
    biz_id = send(provider(fake))
    assert biz_id and fake.sent[0]["biz_id"] == biz_id
    req = fake.requests[0]
    assert req["content_type"].startswith("application/x-www-form-urlencoded")
    p = req["params"]
    assert p["Action"] == "SendSms" and p["PhoneNumbers"] == "13800138000" and p["SignName"] == "烟酒行"
    assert p["TemplateCode"] == "SMS_460001"
    assert fake.sent[0]["params"] == {"store": "解放碑店", "order": "7K3QZD", "amount": "12.00", "code": "123456"}
    assert len(p["OutId"]) == 32
    # every request has its own nonce: a second message is accepted too
    send(
        provider(fake),
        template="printer_offline",
        params={"store": "解放碑店", "printer": "前台", "time": "11-23 12:00"},
    )
    assert len(fake.sent) == 2


def test_a_wrong_secret_is_refused_by_the_service_and_not_final(fake):
    with pytest.raises(providers.ProviderUnavailable, match="SignatureDoesNotMatch"):
        send(provider(fake, secret="wrong-secret"))
    assert fake.sent == []


def test_final_and_retryable_errors(fake):
    fake.fail_next = "isv.BUSINESS_LIMIT_CONTROL"
    with pytest.raises(providers.ProviderRejected, match="BUSINESS_LIMIT_CONTROL"):
        send(provider(fake))
    with pytest.raises(providers.ProviderRejected, match="MOBILE_NUMBER_ILLEGAL"):
        send(provider(fake), phone="12345")
    fake.status = 503
    with pytest.raises(providers.ProviderUnavailable):
        send(provider(fake))
    fake.status = 200
    with pytest.raises(providers.ProviderUnavailable, match="not configured"):
        send(provider(fake, codes={}))
    assert fake.sent == []


def test_no_answer_after_sending_is_ambiguous_and_an_unreachable_service_is_not(fake):
    fake.delay_s = 1.5
    with pytest.raises(providers.ProviderAmbiguous):
        send(provider(fake, timeout_s=0.3))
    fake.delay_s = 0
    unreachable = providers.AliyunSmsProvider(
        "id", "secret", "烟酒行", CODES, endpoint="http://127.0.0.1:9", timeout_s=0.5
    )
    with pytest.raises(providers.ProviderUnavailable):
        send(unreachable)


def test_provider_choice_by_stage(monkeypatch):
    from chalicelib.core.settings import get_settings

    for stage, expected in (("test", providers.OutboxProvider), ("dev", providers.AliyunSmsProvider)):
        monkeypatch.setenv("STAGE", stage)
        monkeypatch.delenv("SMS_PROVIDER", raising=False)
        get_settings.cache_clear()
        providers.reset()
        assert isinstance(providers.get_provider(), expected)
    monkeypatch.setenv("STAGE", "prod")
    monkeypatch.setenv("SMS_PROVIDER", "outbox")
    get_settings.cache_clear()
    providers.reset()
    with pytest.raises(RuntimeError):
        providers.get_provider()
    providers.reset()
