"""The daily ledger audit on moto: every balance changed on a business day (wallet principal and bonus, points,
stock, coupon template stock) against its ledger; a corrupted balance is found, counted and reported to head office
once; a clean day reports nothing; the job reads only the day's touched accounts."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.audit import jobs as audit_jobs
from chalicelib.audit import repository as audit_repo
from chalicelib.audit import services as audit
from chalicelib.core import clock, metrics
from chalicelib.core.auth import Principal
from chalicelib.core.ledger import Book
from chalicelib.coupons import repository as coupons_repo
from chalicelib.identity import repository as identity
from chalicelib.identity import services as identity_services
from chalicelib.inventory import repository as inventory_repo
from chalicelib.members import repository as members_repo
from chalicelib.points import repository as points_repo
from chalicelib.sms import repository as sms_repo
from chalicelib.sms.services import handle_sms_record
from chalicelib.wallet import repository as wallet_repo
from chalicelib.wallet.models import WalletAccountItem
from tests.helpers import drain_events, take_messages, token_for
from tools.worker import LocalContext

NOON = datetime(2026, 11, 23, 4, 0, tzinfo=UTC)  # Monday 12:00 in Chongqing
DAY1, DAY2 = "2026-11-23", "2026-11-24"
ALICE = "01JA11CE000000000000000000"
HQ_PHONE = "13900000000"
SCHEDULED = {
    "version": "0",
    "id": "b5d2c1a0-0000-4000-8000-000000000001",
    "detail-type": "Scheduled Event",
    "source": "aws.events",
    "account": "000000000000",
    "time": "2026-11-23T16:30:00Z",
    "region": "ap-southeast-1",
    "resources": ["arn:aws:events:ap-southeast-1:000000000000:rule/omnistore-test-audit_ledgers"],
    "detail": {},
}


@pytest.fixture
def day1(api, world):
    """Alice recharges 100 yuan at the till, gets 50 points; store A receives two skus; a coupon template with 100
    coupons, one claimed - all on DAY1."""
    t = {"now": NOON}

    def tick():
        t["now"] += timedelta(milliseconds=5)
        return t["now"]

    clock.set_clock(tick)
    identity.create_member(ALICE, "wx-alice", None, "13800138000", "Alice")
    assert api.put("/admin/sms/contacts/HQ", {"phones": [HQ_PHONE], "name": "总部值班"}, token=world.hq).status == 200
    code = identity_services.my_code(Principal(sub=ALICE, role="member")).member_code  # fresh: not cached
    body = {"member_code": code, "amount_fen": 10000, "payment": {"method": "cash"}}
    assert api.post("/pos/recharges", body, token=world.clerk_a).status == 201
    adj = api.post(f"/admin/members/{ALICE}/points-adjustments", {"points": 50, "reason": "客服"}, token=world.hq)
    assert adj.status in (200, 201), adj
    world.receive(world.a, {"MT-53-500": 2, "CQ-BEER-500": 12})
    tpl = api.post(
        "/admin/coupon-templates",
        {
            "title": "满100减10",
            "kind": "amount_off",
            "threshold_fen": 10000,
            "off_fen": 1000,
            "validity": {"valid_days": 7},
            "total_stock": 100,
            "per_member_limit": 1,
        },
        token=world.hq,
    ).json
    claimed = api.post(f"/shop/coupons/{tpl['template_id']}/claim", token=token_for("member", sub=ALICE))
    assert claimed.status == 201, claimed
    drain_events()
    return t, tpl["template_id"]


def _sms_sent() -> list[dict]:
    for body in take_messages("omnistore-test-sms"):
        handle_sms_record(body)
    return [dict(o.attribute_values) for o in sms_repo.outbox_all()]


def test_a_clean_day_balances_and_reports_nothing(api, world, day1):
    _, template_id = day1
    result = audit.audit_day(DAY1)
    assert result == {"day": DAY1, "accounts": 7, "drifts": 0, "reported": False}
    books = audit.books_of(DAY1)
    assert {(b.book, b.account) for b in books} == {
        ("wallet_principal", ALICE),
        ("wallet_bonus", ALICE),
        ("points", ALICE),
        ("stock", f"{world.a}/MT-53-500"),
        ("stock", f"{world.a}/CQ-BEER-500"),
        ("coupon_stock", template_id),
        ("growth", ALICE),  # the recharged principal
    }
    assert Book("coupon_stock", template_id, 99, 99) in books and Book("wallet_principal", ALICE, 10000, 10000) in books
    assert Book("growth", ALICE, 10000, 10000) in books
    assert audit_repo.get_report(DAY1) is None
    assert not [e for e in drain_events() if e["type"] == "LedgerDrift"] and _sms_sent() == []


def test_a_corrupted_balance_is_found_counted_and_reported_once(api, world, day1, monkeypatch):
    t, _ = day1
    # a balance changed outside its transaction (a hand edit in the console, a bug): no ledger entry explains it
    WalletAccountItem(*wallet_repo.account_key(ALICE)).update(actions=[WalletAccountItem.bonus_fen.add(100)])
    counted = []
    monkeypatch.setattr(metrics, "count", lambda name, value=1, **dims: counted.append((name, value, dims)))
    t["now"] = NOON + timedelta(hours=12, minutes=30)  # 00:30 Beijing on DAY2: the schedule's moment
    result = audit_jobs.audit_ledgers(SCHEDULED, LocalContext("audit"))
    assert result == {"days": [DAY1], "accounts": 7, "drifts": 1}
    assert [c for c in counted if c[0] == "LedgerDrift"] == [("LedgerDrift", 1, {"book": "wallet_bonus"})]
    report = audit_repo.get_report(DAY1)
    assert report.drifts == [{"book": "wallet_bonus", "account": ALICE, "balance": 100, "ledger": 0}]
    drift = [e for e in drain_events() if e["type"] == "LedgerDrift"]
    assert len(drift) == 1 and drift[0]["data"]["count"] == 1 and drift[0]["data"]["by_book"] == {"wallet_bonus": 1}
    sent = _sms_sent()
    assert [(o["phone"], o["template"]) for o in sent] == [(HQ_PHONE, "ledger_drift")]
    assert json.dumps(sent[0]["params"], ensure_ascii=False).count("wallet_bonus") == 1
    # again: the job has moved on; auditing the day by hand finds it but does not report it twice
    assert audit_jobs.audit_ledgers(SCHEDULED, LocalContext("audit")) == {"days": [], "accounts": 0, "drifts": 0}
    assert audit.audit_day(DAY1)["reported"] is False
    assert not [e for e in drain_events() if e["type"] == "LedgerDrift"] and len(_sms_sent()) == 1
    assert [c for c in counted if c[0] == "LedgerDrift"] == [("LedgerDrift", 1, {"book": "wallet_bonus"})]


def test_the_job_reads_only_the_days_touched_accounts(api, world, day1, monkeypatch):
    t, _ = day1
    WalletAccountItem(*wallet_repo.account_key(ALICE)).update(actions=[WalletAccountItem.bonus_fen.add(100)])
    t["now"] = NOON + timedelta(days=1)  # DAY2: only Alice's points change
    adj = api.post(f"/admin/members/{ALICE}/points-adjustments", {"points": -20, "reason": "客服"}, token=world.hq)
    assert adj.status in (200, 201), adj
    read = []
    for name, repo in (
        ("wallet", wallet_repo),
        ("points", points_repo),
        ("stock", inventory_repo),
        ("coupons", coupons_repo),
        ("growth", members_repo),
    ):
        real = repo.changed_on

        def spy(day, real=real, name=name):
            got = real(day)
            read.append((name, day, sorted(got)))
            return got

        monkeypatch.setattr(repo, "changed_on", spy)
    assert audit.audit_day(DAY2) == {"day": DAY2, "accounts": 1, "drifts": 0, "reported": False}
    assert read == [
        ("wallet", DAY2, []),
        ("points", DAY2, [ALICE]),
        ("stock", DAY2, []),
        ("coupons", DAY2, []),
        ("growth", DAY2, []),
    ]
    # 100 on sign-up + 50 - 20; the corrupted wallet was not touched on DAY2, so it is not read
    assert audit.books_of(DAY2) == [Book("points", ALICE, 130, 130)]


def test_growth_changed_outside_its_ledger_is_a_drift(api, world, day1):
    from chalicelib.members.models import ProfileItem

    ProfileItem(*members_repo.profile_key(ALICE)).update(actions=[ProfileItem.growth_fen.add(5000)])
    found = [b for b in audit.books_of(DAY1) if b.drift]
    assert found == [Book("growth", ALICE, 15000, 10000)]
