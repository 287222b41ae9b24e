"""Staff permissions beyond roles (a clerk's refund above the limit needs a manager's approval) and the log of
sensitive actions head office reads (GET /admin/audit-log)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from chalicelib.core import clock

NOON = datetime(2026, 11, 23, 4, 0, tzinfo=UTC)


@pytest.fixture
def now():
    clock.set_clock(lambda: NOON)


@pytest.fixture
def sale(api, world, now):
    world.receive(world.a, {"MT-53-500": 2, "CQ-BEER-500": 10})
    for username, role, store in (("mgr.a", "store_manager", world.a), ("mgr.b", "store_manager", world.b)):
        body = {"username": username, "password": "manager-pass-2026", "name": "店长", "role": role, "store_id": store}
        assert api.post("/admin/staff", body, token=world.hq).status == 201
    body = {"lines": [{"sku": "MT-53-500", "qty": 1}, {"sku": "CQ-BEER-500", "qty": 2}], "payment": {"method": "cash"}}
    r = api.post("/pos/sales", body, token=world.clerk_a)
    assert r.status == 201, r
    return r.json


def _refund(api, token, order_id, sku, approval=None):
    body = {"lines": [{"sku": sku, "qty": 1}], "reason": "退货", **({"approval": approval} if approval else {})}
    return api.post(f"/pos/orders/{order_id}/refunds", body, token=token)


def test_a_clerk_refunds_above_the_limit_only_with_a_managers_approval(api, world, sale):
    oid = sale["order_id"]
    assert _refund(api, world.clerk_a, oid, "CQ-BEER-500").status == 201  # 6 yuan: within the clerk's limit
    r = _refund(api, world.clerk_a, oid, "MT-53-500")
    assert (r.status, r.code) == (403, "REFUND_NEEDS_APPROVAL") and r.json["details"]["limit_fen"] == 50000
    other_store = {"username": "mgr.b", "password": "manager-pass-2026"}
    assert _refund(api, world.clerk_a, oid, "MT-53-500", other_store).code == "REFUND_APPROVAL_INVALID"
    wrong = {"username": "mgr.a", "password": "wrong-password"}
    assert _refund(api, world.clerk_a, oid, "MT-53-500", wrong).code == "REFUND_APPROVAL_INVALID"
    ok = _refund(api, world.clerk_a, oid, "MT-53-500", {"username": "mgr.a", "password": "manager-pass-2026"})
    assert ok.status == 201, ok
    log = api.get("/admin/audit-log?action=refund", token=world.hq).json["items"]
    assert len(log) == 2  # refused refunds are not actions
    newest = log[0]
    assert newest["actor"] == "01JC1ERKA00000000000000000" and newest["params"] == {"order_id": oid}
    assert newest["details"]["approved_by"] and newest["details"]["amount_fen"] > 50000
    assert newest["body"]["approval"]["password"] == "***"
    # a store manager refunds above the limit without anyone's approval
    sale2 = api.post(
        "/pos/sales", {"lines": [{"sku": "MT-53-500", "qty": 1}], "payment": {"method": "cash"}}, token=world.clerk_a
    ).json
    assert _refund(api, world.manager_a, sale2["order_id"], "MT-53-500").status == 201


def test_sensitive_actions_are_logged_for_head_office(api, world, sale):
    assert api.patch("/admin/products/CQ-BEER-500", {"price_fen": 650}, token=world.hq).status == 200
    assert api.post(
        f"/admin/stores/{world.a}/stock/counts",
        {"lines": [{"sku": "CQ-BEER-500", "counted_qty": 7}]},
        token=world.manager_a,
    ).status in (200, 201)
    assert api.post("/admin/staff/mgr.b/disable", token=world.hq).status == 200
    assert api.post("/admin/staff/mgr.b/password", {"password": "another-pass-2026"}, token=world.hq).status == 200
    promo = {
        "title": "满100减5",
        "rule": {"kind": "threshold", "tiers": [{"min_fen": 10000, "off_fen": 500}]},
        "schedule": {"starts_at": "2026-01-01T00:00:00+08:00", "ends_at": "2027-01-01T00:00:00+08:00"},
    }
    assert api.post("/admin/promotions", promo, token=world.hq).status == 201
    log = api.get("/admin/audit-log?from=2026-11-23&to=2026-11-23&limit=200", token=world.hq).json["items"]
    actions = [e["action"] for e in log]
    assert {"product_change", "stock_adjustment", "staff_change", "promotion_change"} <= set(actions)
    price = next(e for e in log if e["action"] == "product_change" and e["method"] == "PATCH")
    assert price["body"] == {"price_fen": 650} and price["params"] == {"sku": "CQ-BEER-500"}
    reset = next(e for e in log if e["path"].endswith("/password"))
    assert reset["body"] == {"password": "***"}
    assert [e["at"] for e in log] == sorted((e["at"] for e in log), reverse=True)
    mine = api.get(f"/admin/audit-log?store_id={world.a}&action=stock_adjustment", token=world.hq).json["items"]
    assert len(mine) == 1 and mine[0]["role"] == "store_manager"
    assert api.get("/admin/audit-log", token=world.manager_a).status == 403
    page1 = api.get("/admin/audit-log?from=2026-11-22&to=2026-11-23&limit=2", token=world.hq).json
    page2 = api.get(
        f"/admin/audit-log?from=2026-11-22&to=2026-11-23&limit=200&next={page1['next']}", token=world.hq
    ).json
    assert len(page1["items"]) + len(page2["items"]) == len(log) and page2["next"] is None


# --------------------------------------------------------------------------------------- in the change's transaction
class Writes:
    """Every TransactWriteItems the app sends (its items' kinds); answers the first ``refuse`` of them with a
    cancellation (``reason`` on the first item) instead of sending them on, like DynamoDB refusing them."""

    def __init__(self, refuse: int = 0, reason: str = "ConditionalCheckFailed"):
        self.refuse, self.reason = refuse, reason
        self.sent: list[list[str]] = []

    def __call__(self, params, **_):
        from botocore.awsrequest import AWSResponse

        body = json.loads(params.get("body") or b"{}")
        items = body.get("TransactItems", [])
        self.sent.append([next(iter(i.values()))["Item"]["kind"]["S"] for i in items if "Put" in i])
        if self.refuse <= 0:
            return None
        self.refuse -= 1
        reasons = [{"Code": self.reason}] + [{"Code": "None"}] * (len(items) - 1)
        parsed = {"Error": {"Code": "TransactionCanceledException", "Message": "cancelled"}}
        return AWSResponse("https://dynamodb.local/", 400, {}, None), {**parsed, "CancellationReasons": reasons}


@pytest.fixture
def writes(aws, monkeypatch):
    from chalicelib.core import dynamo

    monkeypatch.setattr(dynamo, "BACKOFF_BASE_S", 0.0)
    client = dynamo.connection().client

    def install(**kw) -> Writes:
        w = Writes(**kw)
        client.meta.events.unregister("before-call.dynamodb.TransactWriteItems", unique_id="writes")
        client.meta.events.register_first("before-call.dynamodb.TransactWriteItems", w, unique_id="writes")
        return w

    yield install
    client.meta.events.unregister("before-call.dynamodb.TransactWriteItems", unique_id="writes")


def _refund_entries(api, world) -> list[dict]:
    return api.get("/admin/audit-log?action=refund", token=world.hq).json["items"]


def test_a_refused_refund_leaves_no_entry_and_a_committed_one_exactly_one(api, world, sale, writes):
    oid = sale["order_id"]
    refused = writes(refuse=1)  # the refund's transaction is cancelled by a failed condition
    r = _refund(api, world.clerk_a, oid, "CQ-BEER-500")
    assert (r.status, r.code) == (409, "ILLEGAL_STATE"), r
    assert "ActionLog" in refused.sent[0] and "Refund" in refused.sent[0]  # the entry was in that transaction
    assert _refund_entries(api, world) == []
    assert api.get(f"/pos/orders/{oid}/refunds", token=world.clerk_a).json == []
    # a conflict on the first attempt: the commit is sent again (same items, same token), the entry is written once
    retried = writes(refuse=1, reason="TransactionConflict")
    r = _refund(api, world.clerk_a, oid, "CQ-BEER-500")
    assert r.status == 201, r
    refund_txs = [kinds for kinds in retried.sent if "Refund" in kinds]
    assert len(refund_txs) == 2 and all("ActionLog" in kinds for kinds in refund_txs)
    entries = _refund_entries(api, world)
    assert len(entries) == 1 and entries[0]["params"] == {"order_id": oid} and entries[0]["status"] == 201


def test_an_entry_is_kept_when_the_request_fails_after_its_change_committed(api, world, sale, monkeypatch):
    from chalicelib.orders import refunds

    def crash(_refund):
        raise RuntimeError("the process died after the commit")

    monkeypatch.setattr(refunds, "refund_out", crash)
    r = _refund(api, world.clerk_a, sale["order_id"], "CQ-BEER-500")
    assert r.status == 500
    monkeypatch.undo()
    assert len(api.get(f"/pos/orders/{sale['order_id']}/refunds", token=world.clerk_a).json) == 1  # the change
    assert len(_refund_entries(api, world)) == 1  # and its entry


def test_a_stock_count_without_differences_writes_nothing_but_its_entry(api, world, sale):
    # the sale took 2 of the 10 received beers: counting 8 changes nothing, no transaction; logged after it answers
    r = api.post(
        f"/admin/stores/{world.a}/stock/counts", {"lines": [{"sku": "CQ-BEER-500", "counted_qty": 8}]}, token=world.hq
    )
    assert r.status == 201 and r.json["adjustments"] == {}, r
    log = api.get("/admin/audit-log?action=stock_adjustment", token=world.hq).json["items"]
    assert len(log) == 1 and log[0]["body"] == {"lines": [{"sku": "CQ-BEER-500", "counted_qty": 8}]}
