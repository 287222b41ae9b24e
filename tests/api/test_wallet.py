"""The wallet at the API: recharge packages, online recharge credited once by WeChat's notification, recharge at the
till, the member's ledger, recharge refunds by head office; and the functions orders pays with (account_key,
balance_in, get_balance, add_payment, add_refund)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.core import clock, events
from chalicelib.core.auth import Principal
from chalicelib.core.dynamo import TxCancelled, batch_get, transaction
from chalicelib.identity import repository as identity
from chalicelib.identity import services as identity_services
from chalicelib.payments import client as payclient
from chalicelib.payments import sandbox
from chalicelib.wallet import domain, repository
from chalicelib.wallet.domain import Balance
from tests.helpers import token_for

NOON = datetime(2026, 11, 23, 4, 0, tzinfo=UTC)
ALICE, BOB = "01JA11CE000000000000000000", "01JB0B00000000000000000000"
AUTH_CODE = "134567890123456789"


class Recording(sandbox.SandboxPaymentClient):
    """The sandbox provider, remembering the refunds and charges asked of it."""

    def __init__(self):
        self.refunds: list[dict] = []
        self.charges: list[dict] = []

    def refund(self, **kw):
        self.refunds.append(kw)
        return super().refund(**kw)

    def micropay(self, **kw):
        self.charges.append(kw)
        return super().micropay(**kw)


@pytest.fixture
def wallet(api, world):
    """A ticking clock (ids in time order), the sandbox provider recording its calls, two members, events caught."""
    t = {"now": NOON}

    def tick():
        t["now"] += timedelta(milliseconds=5)
        return t["now"]

    clock.set_clock(tick)
    sandbox.clear()
    provider = Recording()
    payclient.set_client(provider)
    published: list = []
    events.capture(published)
    identity.create_member(ALICE, "wx-alice", None, "13800138000", "Alice")
    identity.create_member(BOB, "wx-bob", None, "13900139000", "Bob")
    yield provider, published
    events.capture(None)
    payclient.set_client(None)


@pytest.fixture
def alice():
    return token_for("member", sub=ALICE)


@pytest.fixture
def bob():
    return token_for("member", sub=BOB)


def _package(api, hq, pay=50000, bonus=8000, title="充500送80", status="active"):
    r = api.post(
        "/admin/recharge-packages", {"title": title, "pay_fen": pay, "bonus_fen": bonus, "status": status}, token=hq
    )
    assert r.status == 201, r
    return r.json


def member_code(member_id: str) -> str:
    """A fresh member code (tests.helpers.member_code caches per clock reading, which repeats across these tests)."""
    return identity_services.my_code(Principal(sub=member_id, role="member")).member_code


def _notify(api, recharge_id, **kw):
    headers, body = sandbox.pending_notification(domain.trade_no(recharge_id), **kw)
    return api.call("POST", "/webhooks/wechatpay", raw=body, headers=headers)


def _recharge_online(api, token, body, key="k1"):
    r = api.post("/shop/wallet/recharges", body, token=token, headers={"Idempotency-Key": key})
    assert r.status == 201, r
    return r.json


def _ledger(api, token, limit=50):
    items, cursor = [], None
    while True:
        r = api.get(f"/shop/wallet/ledger?limit={limit}" + (f"&next={cursor}" if cursor else ""), token=token)
        assert r.status == 200, r
        items += r.json["items"]
        cursor = r.json["next"]
        if not cursor:
            return items


# --------------------------------------------------------------------------------------- packages
def test_head_office_manages_packages_and_shop_and_till_see_the_active_ones(api, world, wallet, alice):
    big = _package(api, world.hq)
    small = _package(api, world.hq, pay=20000, bonus=2000, title="充200送20")
    off = _package(api, world.hq, pay=100000, bonus=20000, title="充1000送200", status="inactive")
    assert big["status"] == "active" and big["package_id"]
    listed = api.get("/admin/recharge-packages", token=world.hq).json
    assert [p["package_id"] for p in listed["items"]] == [off["package_id"], small["package_id"], big["package_id"]]
    shop = api.get("/shop/recharge-packages", token=alice).json["items"]
    assert [p["title"] for p in shop] == ["充200送20", "充500送80"]  # cheapest first, inactive left out
    assert [p["title"] for p in api.get("/pos/recharge-packages", token=world.clerk_a).json["items"]] == [
        "充200送20",
        "充500送80",
    ]
    r = api.patch(
        f"/admin/recharge-packages/{off['package_id']}", {"status": "active", "bonus_fen": 25000}, token=world.hq
    )
    assert r.status == 200 and r.json["bonus_fen"] == 25000 and r.json["status"] == "active"
    r = api.patch(f"/admin/recharge-packages/{small['package_id']}", {"status": "inactive"}, token=world.hq)
    assert r.status == 200
    assert [p["title"] for p in api.get("/shop/recharge-packages", token=alice).json["items"]] == [
        "充500送80",
        "充1000送200",
    ]
    page = api.get("/admin/recharge-packages?limit=2", token=world.hq).json
    assert len(page["items"]) == 2 and page["next"]
    rest = api.get(f"/admin/recharge-packages?limit=2&next={page['next']}", token=world.hq).json
    assert len(rest["items"]) == 1


def test_packages_refuse_bad_input_and_other_roles(api, world, wallet, alice):
    good = {"title": "充500送80", "pay_fen": 50000, "bonus_fen": 8000}
    for bad in (
        {**good, "pay_fen": 500.0},
        {**good, "pay_fen": 0},
        {**good, "bonus_fen": -1},
        {**good, "pay_fen": "50000"},
        {**good, "status": "paused"},
        {**good, "extra": 1},
        {"title": "x", "pay_fen": 100},
        {**good, "title": "  "},
    ):
        r = api.post("/admin/recharge-packages", bad, token=world.hq)
        assert (r.status, r.code) == (422, "VALIDATION_ERROR"), (bad, r)
    assert api.post("/admin/recharge-packages", raw="{", token=world.hq).status == 400
    for token in (world.manager_a, world.clerk_a, alice):
        assert api.post("/admin/recharge-packages", good, token=token).code == "ROLE_FORBIDDEN"
        assert api.get("/admin/recharge-packages", token=token).status == 403
    assert api.get("/shop/recharge-packages", token=world.clerk_a).status == 403
    assert api.get("/pos/recharge-packages", token=alice).status == 403
    assert api.get("/shop/recharge-packages").code == "TOKEN_MISSING"
    pkg = _package(api, world.hq)
    assert api.patch(f"/admin/recharge-packages/{pkg['package_id']}", {}, token=world.hq).status == 422
    assert api.patch(f"/admin/recharge-packages/{pkg['package_id']}", {"title": None}, token=world.hq).status == 422
    assert (
        api.patch(f"/admin/recharge-packages/{pkg['package_id']}", {"title": "x"}, token=world.manager_a).status == 403
    )
    r = api.patch("/admin/recharge-packages/01JN0000000000000000000000", {"title": "x"}, token=world.hq)
    assert (r.status, r.code) == (404, "PACKAGE_NOT_FOUND")


# --------------------------------------------------------------------------------------- online recharge
def test_online_recharge_is_credited_once_under_15_notification_replays(api, world, wallet, alice):
    provider, published = wallet
    pkg = _package(api, world.hq)
    rc = _recharge_online(api, alice, {"package_id": pkg["package_id"]})
    assert rc["status"] == "PENDING_PAYMENT" and (rc["pay_fen"], rc["bonus_fen"]) == (50000, 8000)
    assert rc["prepay"]["package"].startswith("prepay_id=") and rc["prepay"]["paySign"]
    again = api.post(
        "/shop/wallet/recharges", {"package_id": pkg["package_id"]}, token=alice, headers={"Idempotency-Key": "k1"}
    )
    assert again.status == 201 and again.json == rc and again.headers.get("Idempotent-Replayed") == "true"
    assert api.get("/shop/wallet", token=alice).json == {"balance_fen": 0, "principal_fen": 0, "bonus_fen": 0}
    statuses = [_notify(api, rc["recharge_id"]).status for _ in range(15)]  # WeChat retries up to 15 times
    assert statuses == [204] * 15
    assert api.get("/shop/wallet", token=alice).json == {
        "balance_fen": 58000,
        "principal_fen": 50000,
        "bonus_fen": 8000,
    }
    got = api.get(f"/shop/wallet/recharges/{rc['recharge_id']}", token=alice).json
    assert got["status"] == "PAID" and got["payment"]["method"] == "wechat" and got["payment"]["transaction_id"]
    ledger = _ledger(api, alice)
    assert [(e["kind"], e["amount"], e["balance_after"]) for e in ledger] == [("recharge", 58000, 58000)]
    assert ledger[0]["ref"] == {"type": "recharge", "id": rc["recharge_id"]}
    recharged = [e for e in published if e.type == "WalletRecharged"]
    assert len(recharged) == 1 and recharged[0].data == {
        "member_id": ALICE,
        "recharge_id": rc["recharge_id"],
        "principal_fen": 50000,
        "bonus_fen": 8000,
        "channel": "shop",
        "method": "wechat",
        "store_id": None,
    }


def test_a_wrong_amount_or_a_failed_trade_credits_nothing(api, world, wallet, alice):
    rc = _recharge_online(api, alice, {"amount_fen": 30000})
    assert (rc["pay_fen"], rc["bonus_fen"]) == (30000, 0)
    r = _notify(api, rc["recharge_id"], amount_fen=29999)
    assert r.status == 204  # acknowledged (a retry cannot fix it) and recorded for reconciliation, not credited
    anomalies = api.get("/admin/payments/anomalies", token=world.hq).json["items"]
    assert [(a["reason"], a["facts"]["out_trade_no"]) for a in anomalies] == [
        ("amount_mismatch", "R" + rc["recharge_id"])
    ]
    assert _notify(api, rc["recharge_id"], trade_state="CLOSED").status == 204
    assert api.get("/shop/wallet", token=alice).json["balance_fen"] == 0
    assert api.get(f"/shop/wallet/recharges/{rc['recharge_id']}", token=alice).json["status"] == "PENDING_PAYMENT"
    assert _notify(api, rc["recharge_id"]).status == 204  # the genuine one still credits
    assert api.get("/shop/wallet", token=alice).json["balance_fen"] == 30000


def test_online_recharge_refuses_bad_input(api, world, wallet, alice, bob):
    pkg = _package(api, world.hq)
    off = _package(api, world.hq, status="inactive")
    cases = [
        ({}, 422, "VALIDATION_ERROR"),
        ({"package_id": pkg["package_id"], "amount_fen": 10000}, 422, "VALIDATION_ERROR"),
        ({"amount_fen": 100.5}, 422, "VALIDATION_ERROR"),
        ({"amount_fen": 99}, 422, "RECHARGE_AMOUNT_INVALID"),
        ({"amount_fen": 500001}, 422, "RECHARGE_AMOUNT_INVALID"),
        ({"package_id": "not-a-ulid"}, 422, "VALIDATION_ERROR"),
        ({"package_id": "01JN0000000000000000000000"}, 404, "PACKAGE_NOT_FOUND"),
        ({"package_id": off["package_id"]}, 409, "PACKAGE_INACTIVE"),
    ]
    for i, (body, status, code) in enumerate(cases):
        r = api.post("/shop/wallet/recharges", body, token=alice, headers={"Idempotency-Key": f"bad-{i}"})
        assert (r.status, r.code) == (status, code), (body, r)
    rc = _recharge_online(api, alice, {"amount_fen": 10000}, key="same")
    r = api.post("/shop/wallet/recharges", {"amount_fen": 20000}, token=alice, headers={"Idempotency-Key": "same"})
    assert (r.status, r.code) == (409, "IDEMPOTENCY_KEY_REUSED")
    assert api.post("/shop/wallet/recharges", {"amount_fen": 10000}, token=world.clerk_a).status == 403
    r = api.get(f"/shop/wallet/recharges/{rc['recharge_id']}", token=bob)
    assert (r.status, r.code) == (403, "MEMBER_SCOPE")
    mine = api.get("/shop/wallet/recharges", token=alice).json
    assert [x["recharge_id"] for x in mine["items"]] == [rc["recharge_id"]] and mine["next"] is None
    assert api.get("/shop/wallet/recharges", token=bob).json["items"] == []
    assert api.get("/shop/wallet/recharges", token=world.hq).status == 403
    r = api.get("/shop/wallet/recharges/01JN0SUCHRECHARGE000000000", token=alice)
    assert (r.status, r.code) == (404, "RECHARGE_NOT_FOUND")


# --------------------------------------------------------------------------------------- till recharge
def test_till_recharge_cash_and_payment_code(api, world, wallet, alice):
    provider, published = wallet
    pkg = _package(api, world.hq)
    body = {"member_code": member_code(ALICE), "package_id": pkg["package_id"], "payment": {"method": "cash"}}
    r = api.post("/pos/recharges", body, token=world.clerk_a, headers={"Idempotency-Key": "till-1"})
    assert r.status == 201, r
    assert r.json["status"] == "PAID" and r.json["channel"] == "pos" and r.json["store_id"] == world.a
    assert r.json["member_id"] == ALICE and r.json["payment"]["method"] == "cash"
    again = api.post("/pos/recharges", body, token=world.clerk_a, headers={"Idempotency-Key": "till-1"})
    assert again.json == r.json
    scan = {
        "member_code": member_code(ALICE),
        "amount_fen": 10000,
        "payment": {"method": "wechat_scan", "auth_code": AUTH_CODE},
    }
    s = api.post("/pos/recharges", scan, token=world.manager_b, headers={"Idempotency-Key": "till-2"})
    assert s.status == 201 and s.json["payment"]["transaction_id"] and s.json["store_id"] == world.b
    s2 = api.post("/pos/recharges", scan, token=world.manager_b, headers={"Idempotency-Key": "till-2"})
    assert s2.status == 201 and s2.json == s.json  # a till retry: the same answer, charged once
    trade_no = s.json["payment"]["trade_no"]
    assert trade_no.startswith("W") and len(trade_no) == 32  # derived from the key: a retry is the same trade
    assert provider.charges == [
        {"order_id": trade_no, "amount_fen": 10000, "auth_code": AUTH_CODE, "description": "会员充值"}
    ]
    nokey = api.post("/pos/recharges", scan, token=world.clerk_a, key=None)
    assert (nokey.status, nokey.code) == (428, "IDEMPOTENCY_KEY_REQUIRED")  # a till must be able to retry safely
    wallet_now = api.get("/shop/wallet", token=alice).json
    assert wallet_now == {"balance_fen": 68000, "principal_fen": 60000, "bonus_fen": 8000}
    stores = [(e.data["store_id"], e.data["channel"]) for e in published if e.type == "WalletRecharged"]
    assert stores == [(world.a, "pos"), (world.b, "pos")]


def test_till_recharge_refuses_bad_input_roles_and_declined_codes(api, world, wallet, alice):
    good = {"member_code": member_code(ALICE), "amount_fen": 10000, "payment": {"method": "cash"}}
    cases = [
        ({**good, "member_code": ALICE}, 404, "MEMBER_CODE_INVALID"),  # a member id is not a code
        ({**good, "member_code": "812345678901234567"}, 404, "MEMBER_CODE_INVALID"),
        ({**good, "payment": {"method": "wechat_scan"}}, 422, "VALIDATION_ERROR"),
        ({**good, "payment": {"method": "wallet"}}, 422, "VALIDATION_ERROR"),
        ({**good, "payment": {"method": "cash", "auth_code": AUTH_CODE}}, 422, "VALIDATION_ERROR"),
        ({**good, "amount_fen": 50}, 422, "RECHARGE_AMOUNT_INVALID"),
        ({k: v for k, v in good.items() if k != "member_code"}, 422, "VALIDATION_ERROR"),
        ({**good, "payment": {"method": "wechat_scan", "auth_code": "999999999999999999"}}, 409, "PAYMENT_DECLINED"),
    ]
    for body, status, code in cases:
        r = api.post("/pos/recharges", body, token=world.clerk_a)
        assert (r.status, r.code) == (status, code), (body, r)
    for token in (world.hq, token_for("member", sub=ALICE)):
        assert api.post("/pos/recharges", good, token=token).code == "ROLE_FORBIDDEN"
    assert api.get("/shop/wallet", token=token_for("member", sub=ALICE)).json["balance_fen"] == 0


# --------------------------------------------------------------------------------------- ledger
def _pay(member_id: str, amount: int, ref: str) -> tuple[int, int]:
    """What the orders domain does: read the balance, split, add_payment in its one transaction."""
    got = batch_get([repository.account_key(member_id)], consistent=True)
    p, b = domain.split(amount, repository.balance_in(got, member_id))
    with transaction() as tx:
        repository.add_payment(tx, member_id, p, b, "order", ref)
    return p, b


def test_the_ledger_is_the_members_own_newest_first_with_balances_after(api, world, wallet, alice, bob):
    _package(api, world.hq)
    body = {"member_code": member_code(ALICE), "amount_fen": 50000, "payment": {"method": "cash"}}
    rc = api.post("/pos/recharges", body, token=world.clerk_a).json
    assert api.post("/pos/recharges", {**body, "amount_fen": 8000}, token=world.clerk_a).status == 201
    p, b = _pay(ALICE, 10000, "01JORDER000000000000000001")
    assert (p, b) == (10000, 0)  # free amounts carry no bonus
    with transaction() as tx:
        repository.add_refund(tx, ALICE, 4000, 0, "refund", "01JREFUND00000000000000001")
    full = _ledger(api, alice)
    paged = _ledger(api, alice, limit=1)
    assert paged == full
    assert [(e["kind"], e["amount"], e["balance_after"]) for e in full] == [
        ("refund", 4000, 52000),
        ("payment", -10000, 48000),
        ("recharge", 8000, 58000),
        ("recharge", 50000, 50000),
    ]
    assert full[-1]["ref"] == {"type": "recharge", "id": rc["recharge_id"]}
    assert full[1]["ref"] == {"type": "order", "id": "01JORDER000000000000000001"}
    assert sum(e["amount"] for e in full) == api.get("/shop/wallet", token=alice).json["balance_fen"]
    assert api.get("/shop/wallet/ledger", token=bob).json == {"items": [], "next": None}  # only one's own
    for token in (world.clerk_a, world.hq):
        assert api.get("/shop/wallet/ledger", token=token).status == 403
    assert api.get("/shop/wallet/ledger?limit=0", token=alice).status == 422
    assert api.get("/shop/wallet/ledger?member_id=" + BOB, token=alice).status == 422
    first = api.get("/shop/wallet/ledger?limit=1", token=alice).json
    r = api.get(f"/shop/wallet/ledger?limit=1&next={first['next']}", token=bob)  # Alice's cursor in Bob's list
    assert (r.status, r.code) == (422, "INVALID_CURSOR")
    assert api.get("/shop/wallet/ledger?next=garbage", token=alice).code == "INVALID_CURSOR"


# --------------------------------------------------------------------------------------- for orders
def test_orders_pay_and_refund_with_the_wallet_in_their_own_transaction(api, world, wallet):
    assert repository.get_balance(ALICE) == domain.ZERO
    assert repository.balance_in({}, ALICE) == domain.ZERO
    pkg = _package(api, world.hq)
    body = {"member_code": member_code(ALICE), "package_id": pkg["package_id"], "payment": {"method": "cash"}}
    assert api.post("/pos/recharges", body, token=world.clerk_a).status == 201
    assert _pay(ALICE, 10000, "01JORDER000000000000000001") == (8621, 1379)
    assert repository.get_balance(ALICE) == Balance(41379, 6621)
    with pytest.raises(TxCancelled) as e:  # more bonus than there is: the whole transaction is refused
        with transaction() as tx:
            repository.add_payment(tx, ALICE, 100, 6622, "order", "01JORDER000000000000000002")
    assert e.value.failed == [repository.balance_tag(ALICE)]
    with pytest.raises(TxCancelled):  # a member without a wallet
        with transaction() as tx:
            repository.add_payment(tx, BOB, 1, 0, "order", "01JORDER000000000000000003")
    with transaction() as tx:  # refund the whole order in the payment's split
        repository.add_refund(tx, ALICE, 8621, 1379, "refund", "01JREFUND00000000000000001")
    assert repository.get_balance(ALICE) == Balance(50000, 8000)
    entries = repository.all_entries(ALICE)
    assert [e.entry_kind for e in entries] == ["recharge", "payment", "refund"]
    assert sum(int(e.principal_delta) for e in entries) == 50000 and sum(int(e.bonus_delta) for e in entries) == 8000
    with pytest.raises(ValueError):
        with transaction() as tx:
            repository.add_payment(tx, ALICE, -1, 0, "order", "x")


# --------------------------------------------------------------------------------------- recharge refund
def test_head_office_refunds_a_recharge_unspent_principal_back_unspent_bonus_forfeited_once(api, world, wallet, alice):
    provider, published = wallet
    pkg = _package(api, world.hq)
    rc = _recharge_online(api, alice, {"package_id": pkg["package_id"]})
    assert _notify(api, rc["recharge_id"]).status == 204
    _pay(ALICE, 10000, "01JORDER000000000000000001")  # spends 86.21 principal + 13.79 bonus
    path = f"/admin/wallet/recharges/{rc['recharge_id']}/refund"
    for token in (world.manager_a, world.clerk_a, alice):
        assert api.post(path, token=token).code == "ROLE_FORBIDDEN"
    r = api.post(path, token=world.hq)
    assert r.status == 200, r
    refund = r.json["refund"]
    assert r.json["status"] == "REFUNDED"
    assert (refund["principal_fen"], refund["bonus_fen"], refund["method"]) == (41379, 6621, "wechat")
    assert refund["payout_status"] == "PROCESSING" and refund["provider_refund_id"]  # WeChat's usual answer
    headers, body = sandbox.pending_refund_notification(refund["refund_id"])  # ... then its REFUND.SUCCESS
    assert api.call("POST", "/webhooks/wechatpay", raw=body, headers=headers).status == 204
    done = api.get(f"/shop/wallet/recharges/{rc['recharge_id']}", token=alice).json["refund"]
    assert done["payout_status"] == "SUCCESS"
    assert provider.refunds == [
        {
            "order_id": "R" + rc["recharge_id"],
            "refund_id": refund["refund_id"],
            "amount_fen": 41379,
            "total_fen": 50000,
            "reason": "会员充值退款",
        }
    ]
    again = api.post(path, token=world.hq)
    assert again.status == 200 and again.json["refund"] == {**refund, "payout_status": "SUCCESS"}
    assert len(provider.refunds) == 1  # paid once
    assert api.get("/shop/wallet", token=alice).json == {"balance_fen": 0, "principal_fen": 0, "bonus_fen": 0}
    ledger = _ledger(api, alice)
    assert [(e["kind"], e["principal_fen"], e["bonus_fen"], e["balance_after"]) for e in ledger][0] == (
        "recharge_refund",
        -41379,
        -6621,
        0,
    )
    assert [e.data for e in published if e.type == "WalletRechargeRefunded"] == [
        {
            "member_id": ALICE,
            "recharge_id": rc["recharge_id"],
            "principal_fen": 41379,
            "bonus_fen": 6621,
            "channel": "shop",
            "store_id": None,
        }
    ]


def test_a_cash_recharge_refund_is_recorded_as_cash_paid_back(api, world, wallet, alice):
    provider, _ = wallet
    body = {"member_code": member_code(ALICE), "amount_fen": 20000, "payment": {"method": "cash"}}
    rc = api.post("/pos/recharges", body, token=world.clerk_a).json
    pending = _recharge_online(api, alice, {"amount_fen": 10000})
    r = api.post(f"/admin/wallet/recharges/{rc['recharge_id']}/refund", token=world.hq)
    assert r.status == 200 and r.json["refund"]["payout_status"] == "CASH_PAID"
    assert r.json["refund"]["principal_fen"] == 20000 and provider.refunds == []
    r = api.post(f"/admin/wallet/recharges/{pending['recharge_id']}/refund", token=world.hq)
    assert (r.status, r.code) == (409, "RECHARGE_NOT_PAID")
    r = api.post("/admin/wallet/recharges/01JN0SUCHRECHARGE000000000/refund", token=world.hq)
    assert (r.status, r.code) == (404, "RECHARGE_NOT_FOUND")


def test_a_payment_code_charged_for_a_recharge_that_then_fails_is_given_back(api, world, wallet, alice, monkeypatch):
    from chalicelib.core.errors import TryAgain
    from chalicelib.wallet import services

    provider, published = wallet

    def busy(*a, **kw):
        raise TryAgain("The store is busy; please try again in a moment")

    monkeypatch.setattr(services, "_credit", busy)
    scan = {
        "member_code": member_code(ALICE),
        "amount_fen": 10000,
        "payment": {"method": "wechat_scan", "auth_code": AUTH_CODE},
    }
    r = api.post("/pos/recharges", scan, token=world.clerk_a, headers={"Idempotency-Key": "till-9"})
    assert (r.status, r.code) == (503, "TRY_AGAIN")
    assert len(provider.charges) == 1 and [x["order_id"] for x in provider.refunds] == [provider.charges[0]["order_id"]]
    assert provider.refunds[0]["amount_fen"] == provider.refunds[0]["total_fen"] == 10000
    assert api.get("/shop/wallet", token=alice).json["balance_fen"] == 0
    assert not [e for e in published if e.type == "WalletRecharged"]


def test_a_refund_payout_wechat_did_not_answer_is_asked_again_with_the_same_refund_id(api, world, wallet, alice):
    from chalicelib.payments.base import unavailable

    provider, _ = wallet
    rc = _recharge_online(api, alice, {"amount_fen": 20000})
    assert _notify(api, rc["recharge_id"]).status == 204
    real_refund = provider.refund
    calls = []

    def flaky(**kw):
        calls.append(kw)
        if len(calls) == 1:
            raise unavailable()
        return real_refund(**kw)

    provider.refund = flaky
    path = f"/admin/wallet/recharges/{rc['recharge_id']}/refund"
    first = api.post(path, token=world.hq)
    assert (first.status, first.code) == (502, "PAYMENT_UNAVAILABLE")
    assert api.get("/shop/wallet", token=alice).json["balance_fen"] == 0  # taken out once, in the first call
    r = api.post(path, token=world.hq)
    assert r.status == 200 and r.json["refund"]["payout_status"] == "PROCESSING"
    assert [c["refund_id"] for c in calls] == [r.json["refund"]["refund_id"]] * 2
    assert [e["kind"] for e in _ledger(api, alice)] == ["recharge_refund", "recharge"]
