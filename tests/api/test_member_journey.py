"""The member journey of the issue, at the API: bind the phone -> recharge 500 get 80 -> silver -> pay an order
from the wallet -> refund part of it; balances and the principal/bonus split exact to the fen; points redeemed
at the till equal online."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from chalicelib.core import clock
from chalicelib.payments import client as payclient
from chalicelib.payments import sandbox
from chalicelib.wallet import domain as wallet_domain
from tests.helpers import drain_events, member_code

NOON = datetime(2026, 11, 23, 4, 0, tzinfo=UTC)  # Monday 12:00 in Chongqing


@pytest.fixture
def setup(api, world, monkeypatch):
    from chalicelib.core.settings import get_settings
    from chalicelib.identity import wechat as client
    from tools.fake_wechat import FakeWechat

    clock.set_clock(lambda: NOON)
    fake = FakeWechat().start()
    for k, v in (("WECHAT_APPID", fake.appid), ("WECHAT_SECRET", fake.secret), ("WECHAT_API_BASE", fake.url)):
        monkeypatch.setenv(k, v)
    get_settings.cache_clear()
    client._pool = None
    client._token.clear()
    sandbox.clear()
    payclient.set_client(sandbox.SandboxPaymentClient())
    for body in (
        {"name": "普通会员", "rank": 0, "growth_min": 0},
        {"name": "银卡", "rank": 1, "growth_min": 50000, "discount_bp": 500},
    ):
        assert api.post("/admin/member-levels", body, token=world.hq).status == 201
    pkg = api.post(
        "/admin/recharge-packages",
        {"title": "充500送80", "pay_fen": 50000, "bonus_fen": 8000, "status": "active"},
        token=world.hq,
    ).json
    world.receive(world.a, {"CQ-BEER-500": 50, "WLY-52-500": 5})
    yield pkg
    payclient.set_client(None)
    fake.stop()
    client._pool = None
    client._token.clear()
    get_settings.cache_clear()


def _notify(api, recharge_id):
    headers, body = sandbox.pending_notification(wallet_domain.trade_no(recharge_id))
    return api.call("POST", "/webhooks/wechatpay", raw=body, headers=headers)


def test_phone_recharge_level_wallet_payment_and_refund_add_up_to_the_fen(api, world, setup):
    login = api.post("/auth/wechat/login", {"code": "journey"}).json
    tok = login["token"]
    assert api.post("/shop/me/phone", {"code": "phone-13611112222"}, token=tok).status == 200
    # recharge 500 get 80, paid by WeChat (the notification credits it once)
    rc = api.post(
        "/shop/wallet/recharges",
        {"package_id": setup["package_id"]},
        token=tok,
        headers={"Idempotency-Key": "journey-rc"},
    ).json
    assert rc["status"] == "PENDING_PAYMENT" and rc["pay_fen"] == 50000 and rc["bonus_fen"] == 8000
    assert _notify(api, rc["recharge_id"]).status == 204
    events = drain_events()
    assert [e["data"]["name"] for e in events if e["type"] == "MemberLevelChanged"] == ["银卡"]  # 500 of principal
    me = api.get("/shop/me", token=tok).json
    assert me["level"]["name"] == "银卡" and me["growth"] == 50000 and me["next_level"] is None
    assert me["wallet"] == {"balance_fen": 58000, "principal_fen": 50000, "bonus_fen": 8000}
    assert me["phone_masked"] == "136****2222" and me["points"] == 100  # the sign-up points
    # an online order for 12 beers: silver 5 % off; paid from the wallet at once
    order = api.post(
        "/shop/orders",
        {"lines": [{"sku": "CQ-BEER-500", "qty": 12}], "fulfillment": "pickup", "store_id": world.a},
        token=tok,
        headers={"Idempotency-Key": "journey-o"},
    ).json
    assert order["payable_fen"] == 7200 - 360
    paid = api.post(
        f"/shop/orders/{order['order_id']}/pay",
        {"method": "wallet"},
        token=tok,
        headers={"Idempotency-Key": "journey-pay"},
    )
    assert paid.status == 200, paid
    assert paid.json["status"] == "PAID" and paid.json["prepay"] is None
    p, b = wallet_domain.split(6840, wallet_domain.Balance(50000, 8000))
    assert p + b == 6840 and (p, b) == (5897, 943)  # in proportion to 50000 : 8000
    w = api.get("/shop/wallet", token=tok).json
    assert (w["principal_fen"], w["bonus_fen"]) == (50000 - p, 8000 - b)
    # refund 5 of the 12 beers before the store accepts: back into the wallet in the same split
    r = api.post(
        f"/shop/orders/{order['order_id']}/refunds",
        {"lines": [{"sku": "CQ-BEER-500", "qty": 5}], "reason": "买多了"},
        token=tok,
        headers={"Idempotency-Key": "journey-rf"},
    )
    assert r.status == 201 and r.json["status"] == "COMPLETED", r
    back = r.json["amount_fen"]
    assert back == 2850  # 5 of 12 lines of 6840, allocated
    w2 = api.get("/shop/wallet", token=tok).json
    bonus_back = 943 * 2850 // 6840
    assert (w2["principal_fen"], w2["bonus_fen"]) == (50000 - p + back - bonus_back, 8000 - b + bonus_back)
    ledger = api.get("/shop/wallet/ledger", token=tok).json["items"]
    assert sum(e["amount"] for e in ledger) == w2["principal_fen"] + w2["bonus_fen"]  # the ledger is the balance
    # the rest refunded too: every fen of principal and bonus is back
    api.post(
        f"/shop/orders/{order['order_id']}/refunds",
        {"reason": "不要了"},
        token=tok,
        headers={"Idempotency-Key": "journey-rf2"},
    )
    w3 = api.get("/shop/wallet", token=tok).json
    assert (w3["principal_fen"], w3["bonus_fen"]) == (50000, 8000)


def test_wallet_at_the_till_and_points_redeemed_the_same_online(api, world, setup):
    from chalicelib.points import repository as points_repo

    login = api.post("/auth/wechat/login", {"code": "till-wallet"}).json
    tok, mid = login["token"], login["member"]["member_id"]
    # 500 points from head office, a 100 yuan recharge at the till in cash
    assert (
        api.post(
            f"/admin/members/{mid}/points-adjustments",
            {"points": 500, "reason": "活动"},
            token=world.hq,
            headers={"Idempotency-Key": "pts-1"},
        ).status
        == 201
    )
    rc = api.post(
        "/pos/recharges",
        {"member_code": member_code(mid), "amount_fen": 10000, "payment": {"method": "cash"}},
        token=world.clerk_a,
        headers={"Idempotency-Key": "till-rc"},
    )
    assert rc.status == 201 and rc.json["status"] == "PAID", rc
    lines = [{"sku": "CQ-BEER-500", "qty": 10}]
    online = api.post(
        "/shop/quote", {"lines": lines, "fulfillment": "pickup", "store_id": world.a, "points": 300}, token=tok
    ).json
    till = api.post(
        "/pos/quote", {"lines": lines, "member_code": member_code(mid), "points": 300}, token=world.clerk_a
    ).json
    assert online["payable_fen"] == till["payable_fen"] == 6000 - 300
    assert [a["points"] for a in till["applied"] if a["kind"] == "points"] == [300]
    sale = api.post(
        "/pos/sales",
        {"lines": lines, "member_code": member_code(mid), "points": 300, "payment": {"method": "wallet"}},
        token=world.clerk_a,
        headers={"Idempotency-Key": "till-sale"},
    )
    assert sale.status == 201, sale
    assert sale.json["payment"]["wallet"] == {"principal_fen": 5700, "bonus_fen": 0}
    assert api.get("/shop/wallet", token=tok).json["principal_fen"] == 10000 - 5700
    assert points_repo.get_account(mid).balance == 200  # 500 - 300 redeemed
    # not enough in the wallet: 409 and nothing taken
    big = api.post(
        "/pos/sales",
        {"lines": [{"sku": "WLY-52-500", "qty": 1}], "member_code": member_code(mid), "payment": {"method": "wallet"}},
        token=world.clerk_a,
        headers={"Idempotency-Key": "till-big"},
    )
    assert (big.status, big.code) == (409, "INSUFFICIENT_BALANCE")
    assert api.get("/shop/wallet", token=tok).json["principal_fen"] == 4300
    no_member = api.post(
        "/pos/sales",
        {"lines": lines, "payment": {"method": "wallet"}},
        token=world.clerk_a,
        headers={"Idempotency-Key": "till-nobody"},
    )
    assert no_member.code == "WALLET_NEEDS_MEMBER"
    assert (
        api.post("/pos/quote", {"lines": lines, "points": 10}, token=world.clerk_a).json["problems"][0]["code"]
        == "POINTS_NEED_MEMBER"
    )
