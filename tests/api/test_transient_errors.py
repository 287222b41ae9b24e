"""Transient DynamoDB failures are retried in one place (``core.dynamo.transaction``), every attempt with the
same ClientRequestToken, and never leak: when they outlast the retries the client gets 503 ``TRY_AGAIN`` with
``Retry-After`` and nothing is written.

Faults are injected with a botocore ``before-call`` hook on the app's DynamoDB client: the hooked call never
reaches the database (moto here), it gets the error DynamoDB would answer."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from botocore.awsrequest import AWSResponse

from chalicelib.core import clock, dynamo
from chalicelib.core.errors import TryAgain
from tests.helpers import token_for

NOON = datetime(2026, 11, 23, 4, 0, tzinfo=UTC)  # Monday 12:00 in Chongqing
BUYER = "01JBUYER000000000000000000"


def conflict(*reasons: str) -> tuple[int, dict]:
    message = f"Transaction cancelled, please refer cancellation reasons [{', '.join(reasons)}]"
    return 400, {
        "Error": {"Code": "TransactionCanceledException", "Message": message},
        "CancellationReasons": [{"Code": r} for r in reasons],
    }


def error(status: int, code: str, message: str = "") -> tuple[int, dict]:
    return status, {"Error": {"Code": code, "Message": message or code}}


class Faults:
    """Answers ``operation`` with ``answer`` (``(status, parsed)`` or a function of the request body giving one)
    for the next ``times`` calls (``None``: for ever); records the ClientRequestToken of every TransactWriteItems
    it saw."""

    def __init__(self, operation: str, answer, times: int | None):
        self.operation, self.answer, self.remaining = operation, answer, times
        self.tokens: list[str] = []
        self.hits = 0

    def __call__(self, params, **_):
        body = json.loads(params.get("body") or b"{}")
        if self.operation == "TransactWriteItems":
            self.tokens.append(body.get("ClientRequestToken"))
        if self.remaining == 0:
            return None  # cleared: the call goes to the database
        if self.remaining is not None:
            self.remaining -= 1
        self.hits += 1
        status, parsed = self.answer(body) if callable(self.answer) else self.answer
        return AWSResponse("https://dynamodb.local/", status, {}, None), parsed


@pytest.fixture
def inject(aws, monkeypatch):
    monkeypatch.setattr(dynamo, "BACKOFF_BASE_S", 0.0)  # keep the retries, drop the waiting
    hooked = []

    def install(operation: str, answer, times: int | None) -> Faults:
        faults = Faults(operation, answer, times)
        client = dynamo.connection().client  # every model and every transaction goes through it
        client.meta.events.register_first(f"before-call.dynamodb.{operation}", faults, unique_id=f"fault-{operation}")
        hooked.append((client, operation))
        return faults

    yield install
    for c, operation in hooked:
        c.meta.events.unregister(f"before-call.dynamodb.{operation}", unique_id=f"fault-{operation}")


@pytest.fixture
def shop(world):
    clock.set_clock(lambda: NOON)
    world.receive(world.a, {"CQ-BEER-500": 10})
    return world


def order(api, store_id: str, key: str):
    return api.post(
        "/shop/orders",
        {"store_id": store_id, "fulfillment": "pickup", "lines": [{"sku": "CQ-BEER-500", "qty": 2}]},
        token=token_for("member", sub=BUYER),
        headers={"Idempotency-Key": key},
    )


def test_a_conflict_twice_then_cleared_makes_one_order(api, shop, inject):
    faults = inject("TransactWriteItems", conflict("None", "TransactionConflict"), times=2)
    r = order(api, shop.a, "k-conflict-twice")
    assert r.status == 201, r
    assert faults.hits == 2 and len(faults.tokens) == 3
    assert len(set(faults.tokens)) == 1  # the same ClientRequestToken every attempt
    assert shop.stock(shop.a)["CQ-BEER-500"] == 8 and shop.ledger_sum(shop.a, "CQ-BEER-500") == 8
    mine = api.get("/shop/orders", token=token_for("member", sub=BUYER))
    assert [o["order_id"] for o in mine.json["items"]] == [r.json["order_id"]]


def test_a_conflict_for_ever_is_503_try_again_and_writes_nothing(api, shop, inject):
    faults = inject("TransactWriteItems", conflict("TransactionConflict", "None"), times=None)
    r = order(api, shop.a, "k-conflict-for-ever")
    assert (r.status, r.code) == (503, "TRY_AGAIN"), r
    assert r.headers.get("Retry-After") == "1"
    assert faults.hits == dynamo.TX_ATTEMPTS and len(set(faults.tokens)) == 1
    assert shop.stock(shop.a)["CQ-BEER-500"] == 10 and shop.ledger_sum(shop.a, "CQ-BEER-500") == 10
    assert api.get("/shop/orders", token=token_for("member", sub=BUYER)).json["items"] == []
    # nothing half-written: the Idempotency-Key is free, the same request goes through once the database is back
    faults.remaining = 0
    again = order(api, shop.a, "k-conflict-for-ever")
    assert again.status == 201 and "Idempotent-Replayed" not in again.headers
    assert shop.stock(shop.a)["CQ-BEER-500"] == 8


@pytest.mark.parametrize(
    "answer",
    [
        conflict("ThrottlingError", "None"),
        conflict("None", "ProvisionedThroughputExceeded"),
        error(400, "ProvisionedThroughputExceededException"),
        error(400, "ThrottlingException"),
        error(400, "RequestLimitExceeded"),
        error(400, "TransactionInProgressException"),
        error(500, "InternalServerError"),
        error(
            500,
            "InternalServerError",
            "The request processing has failed because of an unknown error, exception "
            "or failure. (Service: DynamoDb, Status Code: 500) too long waiting for a lock",
        ),
        error(503, "ServiceUnavailable"),
    ],
    ids=lambda a: a[1].get("CancellationReasons", [{}])[0].get("Code") or a[1]["Error"]["Code"],
)
def test_each_transient_error_is_retried_with_the_same_token(api, shop, inject, answer):
    faults = inject("TransactWriteItems", answer, times=3)
    r = order(api, shop.a, "k-transient")
    assert r.status == 201, r
    assert faults.hits == 3 and len(faults.tokens) == 4 and len(set(faults.tokens)) == 1
    assert shop.stock(shop.a)["CQ-BEER-500"] == 8


def test_a_failed_condition_is_not_retried(api, shop, inject):
    def stock_condition_failed(body):  # the stock decrement (an update: sent last) lost its condition
        n = len(body["TransactItems"])
        assert "Update" in body["TransactItems"][-1]
        return conflict(*["None"] * (n - 1), "ConditionalCheckFailed")

    faults = inject("TransactWriteItems", stock_condition_failed, times=None)
    r = order(api, shop.a, "k-condition")
    assert (r.status, r.code) == (409, "OUT_OF_STOCK"), r
    assert faults.hits == 1


def test_a_permanent_error_is_not_retried(aws, inject):
    faults = inject("TransactWriteItems", error(400, "ValidationException", "Item size has exceeded"), times=None)
    with pytest.raises(Exception) as e, dynamo.transaction() as tx:
        tx.save(dynamo.SweepMark("SWEEP#x", "META", mark="m"))
    assert not isinstance(e.value, TryAgain) and faults.hits == 1


def test_a_read_that_stays_throttled_is_503_not_500(api, shop, inject):
    faults = inject("GetItem", error(400, "ProvisionedThroughputExceededException"), times=None)
    r = api.get(f"/admin/stores/{shop.a}", token=shop.hq)
    assert (r.status, r.code) == (503, "TRY_AGAIN"), r
    assert r.headers.get("Retry-After") == "1" and faults.hits >= 1


def test_a_transaction_refused_by_a_condition_no_use_case_maps_is_503_not_500(api, shop, monkeypatch):
    """E.g. a freshly drawn id already taken: nothing was written, so the client may simply try again."""
    from chalicelib.orders import checkout

    def refused(*args, **kwargs):
        raise dynamo.TxCancelled([("entry", "01JX")], ["ConditionalCheckFailed"])

    monkeypatch.setattr(checkout, "create_order", refused)
    r = order(api, shop.a, "k-unmapped")
    assert (r.status, r.code) == (503, "TRY_AGAIN"), r
    assert shop.stock(shop.a)["CQ-BEER-500"] == 10
