"""Small helpers for API tests: call a route, log in, build common bodies."""

from __future__ import annotations

import json
import re
import uuid
from functools import cache
from typing import Any

from chalicelib.core.auth import Principal, issue_token

AUTO = "auto"


@cache
def _key_required_routes() -> list[re.Pattern]:
    from app import app

    found = []
    for path, methods in app.routes.items():
        for method, entry in methods.items():
            spec = getattr(entry.view_function, "__route_spec__", None)
            if spec is not None and spec.key_required:
                found.append(re.compile(f"^{method} " + re.sub(r"\\{[^}]+\\}", "[^/]+", re.escape(path)) + "$"))
    return found


def needs_key(method: str, path: str) -> bool:
    return any(p.match(f"{method} {path.split('?', 1)[0]}") for p in _key_required_routes())


class Api:
    """Wraps ``chalice.test.Client`` so tests read like the contract: ``api.post(path, body, token=)``.

    Like a well-behaved client, it sends a fresh ``Idempotency-Key`` with every request to a route that requires
    one, unless the test gives its own (``headers={"Idempotency-Key": ...}``) or none (``key=None``)."""

    def __init__(self, client):
        self.client = client

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        token: str | None = None,
        headers: dict[str, str] | None = None,
        raw: str | bytes | None = None,
        key: str | None = AUTO,
    ):
        h = {"Content-Type": "application/json"}
        if token:
            h["Authorization"] = f"Bearer {token}"
        if key == AUTO:
            key = str(uuid.uuid4()) if needs_key(method, path) else None
        if key is not None:
            h["Idempotency-Key"] = key
        h.update(headers or {})
        payload = raw if raw is not None else (json.dumps(body, ensure_ascii=False) if body is not None else None)
        resp = self.client.http.request(method, path, headers=h, body=payload)
        try:
            data = json.loads(resp.body) if resp.body else None
        except ValueError:
            data = resp.body
        return Response(resp.status_code, data, resp.headers)

    def get(self, path, **kw):
        return self.call("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.call("POST", path, body, **kw)

    def patch(self, path, body=None, **kw):
        return self.call("PATCH", path, body, **kw)

    def put(self, path, body=None, **kw):
        return self.call("PUT", path, body, **kw)

    def delete(self, path, **kw):
        return self.call("DELETE", path, **kw)


class Response:
    def __init__(self, status: int, json_body: Any, headers: dict):
        self.status = status
        self.json = json_body
        self.headers = headers

    @property
    def code(self) -> str | None:
        return self.json.get("code") if isinstance(self.json, dict) else None

    def __repr__(self) -> str:
        return f"<{self.status} {self.json!r}>"


def token_for(role: str, sub: str = "01JTESTSUBJECT000000000000", store_id: str | None = None) -> str:
    return issue_token(Principal(sub=sub, role=role, store_id=store_id))[0]


STORE_BODY = {
    "name": "解放碑店",
    "address": "重庆市渝中区民族路188号",
    "lat": 29.5570,
    "lng": 106.5770,
    "phone": "023-63701234",
    "opening_hours": [{"weekday": d, "open": "09:00", "close": "23:00"} for d in range(1, 8)],
    "delivery_radius_m": 5000,
}


PRODUCTS = [
    {
        "sku": "MT-53-500",
        "name": "飞天茅台 53%vol 500ml",
        "category": "baijiu",
        "price_fen": 299900,
        "cost_fen": 250000,
        "barcode": "6901234500011",
        "unit": "瓶",
    },
    {
        "sku": "CQ-BEER-500",
        "name": "重庆啤酒 500ml",
        "category": "beer",
        "price_fen": 600,
        "cost_fen": 350,
        "barcode": "6901234500028",
        "unit": "罐",
    },
    {
        "sku": "WLY-52-500",
        "name": "五粮液 52%vol 500ml",
        "category": "baijiu",
        "price_fen": 109900,
        "cost_fen": 90000,
        "unit": "瓶",
    },
    {
        "sku": "CIG-HHL",
        "name": "黄鹤楼(软蓝)",
        "category": "cigarettes",
        "price_fen": 2000,
        "consult_only": True,
        "contact_hint": "到店咨询或致电门店",
    },
]


class World:
    """Two stores near 解放碑 and 观音桥, the products above, stock received, and tokens for every role."""

    def __init__(self, api, hq: str):
        self.api, self.hq = api, hq
        a = api.post("/admin/stores", {**STORE_BODY, "name": "解放碑店", "lat": 29.5575, "lng": 106.5772}, token=hq)
        b = api.post("/admin/stores", {**STORE_BODY, "name": "观音桥店", "lat": 29.5760, "lng": 106.5330}, token=hq)
        assert a.status == 201 and b.status == 201, (a, b)
        self.a, self.b = a.json["store_id"], b.json["store_id"]
        for p in PRODUCTS:
            r = api.post("/admin/products", p, token=hq)
            assert r.status == 201, r
        self.manager_a = token_for("store_manager", sub="01JMGRA0000000000000000000", store_id=self.a)
        self.manager_b = token_for("store_manager", sub="01JMGRB0000000000000000000", store_id=self.b)
        self.clerk_a = token_for("clerk", sub="01JC1ERKA00000000000000000", store_id=self.a)
        self.clerk_b = token_for("clerk", sub="01JC1ERKB00000000000000000", store_id=self.b)

    def receive(self, store_id: str, lines: dict[str, int]):
        r = self.api.post(
            f"/admin/stores/{store_id}/stock/receipts",
            {"lines": [{"sku": s, "qty": q} for s, q in lines.items()]},
            token=self.hq,
        )
        assert r.status == 201, r
        return r.json

    def stock(self, store_id: str) -> dict[str, int]:
        items = self.api.get(f"/admin/stores/{store_id}/stock?limit=200", token=self.hq).json["items"]
        return {i["sku"]: i["qty"] for i in items}

    def ledger_sum(self, store_id: str, sku: str) -> int:
        total, cursor = 0, None
        while True:
            r = self.api.get(
                f"/admin/stores/{store_id}/stock/{sku}/ledger?limit=200" + (f"&next={cursor}" if cursor else ""),
                token=self.hq,
            )
            total += sum(e["delta"] for e in r.json["items"])
            cursor = r.json["next"]
            if not cursor:
                return total


_relay_workers: dict[str, Any] = {}


_codes: dict[tuple[str, Any], str] = {}


def forget_member_codes() -> None:
    _codes.clear()


def member_code(member_id: str) -> str:
    """A member code for ``member_id`` as the mini-program would show it (GET /shop/me/code), one per member
    and clock reading, so a test that quotes and then sells at the same moment sends the same code."""
    from chalicelib.core import clock
    from chalicelib.identity import services as identity

    key = (member_id, clock.now())
    if key not in _codes:
        _codes[key] = identity.my_code(Principal(sub=member_id, role="member")).member_code
    return _codes[key]


def relay_events() -> int:
    """Feed the app table's stream (moto) to the app's ``relay_events`` function, as the stream-triggered Lambda
    does on AWS: new outbox events go to the events queue. Returns the stream records delivered."""
    import boto3

    from app import app
    from chalicelib.core import queues
    from chalicelib.core.settings import get_settings
    from tools.worker import Worker

    s = get_settings()
    ddb = boto3.client("dynamodb", region_name=s.aws_region, endpoint_url=s.dynamodb_endpoint)
    arn = ddb.describe_table(TableName=s.table_name)["Table"]["LatestStreamArn"]
    worker = _relay_workers.get(arn)
    if worker is None:
        from botocore.config import Config

        # moto answers the regional endpoint, not the account-based one botocore derives from a stream ARN
        streams = boto3.client(
            "dynamodbstreams",
            region_name=s.aws_region,
            endpoint_url=s.dynamodb_endpoint,
            config=Config(account_id_endpoint_mode="disabled"),
        )
        worker = _relay_workers[arn] = Worker(
            app, queues.sqs_client(), stage="test", dynamodb_client=ddb, streams_client=streams
        )
    delivered = 0
    while n := worker.poll_streams(["relay_events"]):
        delivered += n
    return delivered


def drain_events() -> list[dict]:
    """Relay new outbox events and deliver every message on the (moto) events queue to its subscribers, as the
    stream relay and the events Lambda would, until nothing new comes. Returns the events delivered."""
    import json as _json

    from chalicelib.core import events, queues
    from chalicelib.core.settings import get_settings
    from chalicelib.subscriptions import SUBSCRIPTIONS

    sqs = queues.sqs_client()
    url = queues.queue_url(get_settings().events_queue_name)
    seen = []
    while True:
        relay_events()
        msgs = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
        if not msgs:
            return seen
        for m in msgs:
            events.handle_record(m["Body"], SUBSCRIPTIONS)
            seen.append(_json.loads(m["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])


# --------------------------------------------------------------------------------------- work queues
def sqs_event(bodies: list[str], queue: str = "test-queue") -> dict:
    """A Lambda SQS event, every record with its own messageId (unlike chalice's generate_sqs_event)."""
    import uuid

    return {
        "Records": [
            {
                "messageId": str(uuid.uuid4()),
                "receiptHandle": str(uuid.uuid4()),
                "body": b,
                "attributes": {"ApproximateReceiveCount": "1"},
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": f"arn:aws:sqs:ap-southeast-1:000000000000:{queue}",
                "awsRegion": "ap-southeast-1",
            }
            for b in bodies
        ]
    }


def run_sqs_handler(handler, bodies: list[str]) -> dict:
    """Call an ``@on_sqs_message`` handler as Lambda would; returns its partial batch response."""
    from tools.worker import LocalContext

    return handler(sqs_event(bodies), LocalContext("omnistore-test-handler"))


def take_messages(queue_name: str) -> list[str]:
    """Every message body now on a (moto) queue, removed from it, after relaying new outbox events (so the events
    queue has what the stream relay would have put there). Delayed messages are not visible yet."""
    from chalicelib.core import queues

    relay_events()

    sqs = queues.sqs_client()
    url = queues.queue_url(queue_name)
    bodies = []
    while True:
        msgs = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
        if not msgs:
            return bodies
        for m in msgs:
            bodies.append(m["Body"])
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])


def basic(user: str, secret: str) -> dict[str, str]:
    import base64

    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{secret}".encode()).decode()}
