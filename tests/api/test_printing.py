"""Store printers at the API: registration, the print pipeline (OrderPaid -> events -> print queue -> one job per
printer), the Star CloudPRNT protocol (poll / GET / DELETE), timeouts and failures, printer health, reprints, and
that no printer ever gets another store's ticket."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.consumer import handle_events
from chalicelib.core import clock, events
from chalicelib.identity import repository as members
from chalicelib.orders import payment as order_payment
from chalicelib.printing import services as printing
from chalicelib.printing.jobs import handle_print_requests
from chalicelib.sms import repository as sms_repo
from chalicelib.sms.jobs import handle_sms
from chalicelib.subscriptions import SUBSCRIPTIONS
from tests.helpers import basic, drain_events, run_sqs_handler, take_messages, token_for

NOON = datetime(2026, 11, 23, 4, 0, tzinfo=UTC)  # Monday 12:00 in Chongqing
PRINT_Q, SMS_Q, EVENTS_Q = "omnistore-test-print", "omnistore-test-sms", "omnistore-test-events"
STARPRNT = "application/vnd.star.starprnt"


@pytest.fixture
def now():
    t = {"now": NOON}
    clock.set_clock(lambda: t["now"])
    return t


class Printer:
    def __init__(self, api, created: dict):
        self.api = api
        self.id, self.secret, self.mac = created["printer_id"], created["secret"], created["mac"]
        self.store_id = created["store_id"]
        self.auth = basic(self.id, self.secret)

    def poll(self, status="200 OK", mac=None, **extra):
        body = {"printerMAC": mac or self.mac, "statusCode": status, "status": "23 86 00 00 00 00 00 00 00", **extra}
        return self.api.post("/cloudprnt", body, headers=self.auth)

    def get(self, token=None, type="text/plain", mac=None, auth=None):
        q = f"/cloudprnt?mac={mac or self.mac}&type={type}" + (f"&token={token}" if token else "")
        r = self.api.get(q, headers=auth or self.auth)
        if isinstance(r.json, bytes):
            r.json = r.json.decode("utf-8")  # a print job is not JSON: its text, for the assertions
        return r

    def delete(self, token=None, code="200 OK", mac=None, auth=None):
        q = f"/cloudprnt?mac={mac or self.mac}&code={code}" + (f"&token={token}" if token else "")
        return self.api.delete(q, headers=auth or self.auth)

    def take(self):
        """poll -> GET -> DELETE 200 OK; returns the ticket text (or None if there was no job)."""
        p = self.poll()
        if not p.json["jobReady"]:
            assert "jobToken" not in p.json
            return None
        body = self.get(p.json["jobToken"]).json
        assert self.delete(p.json["jobToken"]).json == {"result": "done"}
        return body


def register(api, token, store_id, mac, name="前台", width=80, interval=5) -> Printer:
    r = api.post(
        "/admin/printers",
        {"store_id": store_id, "mac": mac, "name": name, "paper_width_mm": width, "poll_interval_s": interval},
        token=token,
    )
    assert r.status == 201, r
    return Printer(api, r.json)


@pytest.fixture
def shop(api, world, now):
    world.receive(world.a, {"CQ-BEER-500": 48, "MT-53-500": 5})
    world.receive(world.b, {"CQ-BEER-500": 48})
    a1 = register(api, world.hq, world.a, "00:11:62:00:00:A1", "前台", 80)
    a2 = register(api, world.manager_a, world.a, "00-11-62-00-00-a2", "后仓", 58)
    b1 = register(api, world.hq, world.b, "001162:0000b1".replace(":", ""), "前台", 80)
    assert (
        api.put(
            f"/admin/sms/contacts/{world.a}", {"phones": ["13800000001"], "name": "解放碑店长"}, token=world.manager_a
        ).status
        == 200
    )
    assert api.put("/admin/sms/contacts/HQ", {"phones": ["13900000000"]}, token=world.hq).status == 200
    drain_events()
    take_messages(PRINT_Q)
    take_messages(SMS_Q)
    return a1, a2, b1


def sale(api, world, clerk=None, lines=None) -> dict:
    r = api.post(
        "/pos/sales",
        {"lines": lines or [{"sku": "CQ-BEER-500", "qty": 2}], "payment": {"method": "cash"}},
        token=clerk or world.clerk_a,
    )
    assert r.status == 201, r
    return r.json


def pump_prints(times: int = 1) -> list[str]:
    """Events to their subscribers, then every print request to the print worker ``times`` over."""
    drain_events()
    bodies = take_messages(PRINT_Q)
    for _ in range(times if bodies else 0):
        assert run_sqs_handler(handle_print_requests, bodies) == {"batchItemFailures": []}
    return bodies


def pump_sms() -> list[dict]:
    drain_events()
    bodies = take_messages(SMS_Q)
    if bodies:
        assert run_sqs_handler(handle_sms, bodies) == {"batchItemFailures": []}
    return [dict(o.attribute_values) for o in sms_repo.outbox_all()]


def jobs(api, world, order_id):
    r = api.get(f"/admin/orders/{order_id}/print-jobs", token=world.hq)
    assert r.status == 200, r
    return r.json


# --------------------------------------------------------------------------------------- the pipeline
def test_one_ticket_per_printer_of_the_store_however_often_the_order_paid_message_comes(api, world, shop):
    a1, a2, b1 = shop
    order = sale(api, world)
    # The events queue delivers OrderPaid three times (three SQS messages of one event, unique message ids).
    body = next(b for b in take_messages(EVENTS_Q) if '"OrderPaid"' in b)
    assert run_sqs_handler(handle_events, [body, body, body]) == {"batchItemFailures": []}
    requests = take_messages(PRINT_Q)
    assert len(requests) == 1  # the printing subscriber ran once for the event
    # ... and the print request itself is delivered three times, in one batch and again later
    assert run_sqs_handler(handle_print_requests, requests * 3) == {"batchItemFailures": []}
    assert run_sqs_handler(handle_print_requests, requests) == {"batchItemFailures": []}
    got = jobs(api, world, order["order_id"])
    assert sorted(j["printer_id"] for j in got) == sorted([a1.id, a2.id])
    assert {(j["doc"], j["kind"], j["status"], j["attempts"]) for j in got} == {("order", "order", "READY", 0)}

    # printer A1: poll -> job ready; GET twice gives the same ticket; DELETE 200 OK; then nothing more
    p = a1.poll()
    assert p.status == 200 and p.json["jobReady"] is True and p.json["deleteMethod"] == "DELETE"
    assert p.json["mediaTypes"] == [STARPRNT, "text/plain"]
    token = p.json["jobToken"]
    first, again = a1.get(token), a1.get(token)
    assert first.status == again.status == 200
    assert first.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert first.json == again.json and order["order_id"] in first.json and "解放碑店" in first.json
    star = a1.get(token, type=STARPRNT)
    assert star.status == 200 and star.headers["Content-Type"] == STARPRNT
    assert a1.poll().json["jobToken"] == token  # not confirmed yet: the same offer again
    assert a1.delete(token).json == {"result": "done"}
    assert a1.delete(token).json == {"result": "done"}  # a repeated confirmation changes nothing
    assert a1.poll().json == {"jobReady": False, "mediaTypes": [STARPRNT, "text/plain"], "deleteMethod": "DELETE"}
    assert a1.get(token).status == 404

    # A2 (58 mm) gets its own copy, 32 columns wide; B1 (the other store) gets nothing
    ticket = a2.take()
    assert order["order_id"] in ticket
    assert max(len(line.encode("gbk")) for line in ticket.splitlines()) <= 32
    assert b1.poll().json["jobReady"] is False
    assert {j["status"] for j in jobs(api, world, order["order_id"])} == {"DONE"}


def test_an_online_order_ticket_shows_pickup_code_customer_and_local_time(api, world, shop, now):
    a1, _, _ = shop
    members.create_member("01JPRNTBUYER00000000000000", "wx-print-buyer", None, "13812345678", "阿丽")
    buyer = token_for("member", sub="01JPRNTBUYER00000000000000")
    order = api.post(
        "/shop/orders",
        {
            "lines": [{"sku": "MT-53-500", "qty": 1}, {"sku": "CQ-BEER-500", "qty": 6}],
            "store_id": world.a,
            "fulfillment": "pickup",
            "note": "请装袋",
        },
        token=buyer,
    ).json
    now["now"] = NOON + timedelta(minutes=2)
    assert (
        order_payment.apply_payment(order["order_id"], "wx-tx-print-1", order["payable_fen"], "wechat", None)
        == "applied"
    )
    pump_prints()
    text = a1.take()
    assert f"取货码 {order['pickup_code']}" in text
    assert "阿丽 138****5678" in text and "13812345678" not in text
    assert "支付时间: 2026-11-23 12:02:00" in text  # BUSINESS_TZ, not UTC
    assert "支付方式: 微信支付" in text and "备注: 请装袋" in text
    assert "3035.00" in text  # 2999.00 + 6 x 6.00


def test_a_printer_that_never_confirms_gets_the_job_again_after_the_timeout(api, world, shop, now):
    a1, _, _ = shop
    order = sale(api, world)
    pump_prints()
    t1 = a1.poll().json["jobToken"]
    assert a1.get(t1).status == 200
    now["now"] += timedelta(seconds=59)
    assert a1.poll().json["jobToken"] == t1  # within the timeout: same offer
    now["now"] += timedelta(seconds=2)  # 61 s: the offer timed out
    t2 = a1.poll().json["jobToken"]
    assert t2 and t2 != t1
    assert a1.get(t1).status == 404 and a1.get(t2).status == 200
    job = next(j for j in jobs(api, world, order["order_id"]) if j["printer_id"] == a1.id)
    assert (job["status"], job["attempts"]) == ("OFFERED", 2)
    assert a1.delete(t2).json == {"result": "done"}


def test_failed_attempts_back_off_then_the_job_fails_and_the_store_manager_is_told(api, world, shop, now):
    a1, _, _ = shop
    order = sale(api, world)
    pump_prints()
    results = []
    for wait in (10, 60, 300, None):  # a brief glitch does not burn the attempts: 10 s, 60 s, 5 min between
        p = a1.poll()
        assert p.json["jobReady"], p
        assert a1.get(p.json["jobToken"]).status == 200
        results.append(a1.delete(p.json["jobToken"], code="511 Media decoding error").json["result"])
        if wait:
            now["now"] += timedelta(seconds=wait - 1)
            assert a1.poll().json["jobReady"] is False  # still waiting
            now["now"] += timedelta(seconds=1)
    assert results == ["retry", "retry", "retry", "failed"]
    assert a1.poll().json["jobReady"] is False
    job = next(j for j in jobs(api, world, order["order_id"]) if j["printer_id"] == a1.id)
    assert (job["status"], job["attempts"], job["last_code"]) == ("FAILED", 4, "511 Media decoding error")
    published = drain_events()
    failed = [e for e in published if e["type"] == "PrintJobFailed"]
    assert len(failed) == 1 and failed[0]["data"]["printer_id"] == a1.id
    # ... which the SMS wing turns into one message to the store's contact
    for e in published:
        events.handle_record(__import__("json").dumps(e), SUBSCRIPTIONS)  # delivered again: still one message
    outbox = pump_sms()
    texts = [(o["phone"], o["template"]) for o in outbox]
    assert texts.count(("13800000001", "print_failed")) == 1


def test_offers_that_time_out_four_times_fail_the_job(api, world, shop, now):
    a1, _, _ = shop
    order = sale(api, world)
    pump_prints()
    tokens = []
    for _ in range(4):
        tokens.append(a1.poll().json["jobToken"])
        now["now"] += timedelta(seconds=61)
    assert len(set(tokens)) == 4 and all(tokens)
    assert a1.poll().json["jobReady"] is False  # the fourth offer timed out: FAILED, not offered again
    job = next(j for j in jobs(api, world, order["order_id"]) if j["printer_id"] == a1.id)
    assert job["status"] == "FAILED"
    assert [e["type"] for e in drain_events()].count("PrintJobFailed") == 1


def test_paper_out_holds_the_job_until_the_printer_can_print(api, world, shop):
    a1, _, _ = shop
    sale(api, world)
    pump_prints()
    p = a1.poll(status="410 Out of paper")
    assert p.json["jobReady"] is False
    printers = {x["printer_id"]: x for x in api.get("/admin/printers", token=world.hq).json["items"]}
    assert printers[a1.id]["status"] == "paper_empty" and printers[a1.id]["status_code"] == "410 Out of paper"
    assert a1.poll(status="420%20Cover%20open").json["jobReady"] is False  # URL-encoded, as some send it
    assert api.get("/admin/printers", token=world.hq).json["items"][0]["status"] in ("cover_open", "unknown")
    assert a1.poll(status="211 Paper low").json["jobReady"] is True  # warning only: prints
    assert a1.poll(printingInProgress=True).json["jobReady"] is False


# --------------------------------------------------------------------------------------- who may fetch
def test_wrong_secret_or_another_stores_printer_never_gets_a_job(api, world, shop):
    a1, a2, b1 = shop
    order = sale(api, world)
    pump_prints()
    token = a1.poll().json["jobToken"]

    wrong = basic(a1.id, "not-the-secret")
    for r in (
        api.post("/cloudprnt", {"printerMAC": a1.mac, "statusCode": "200 OK"}, headers=wrong),
        a1.get(token, auth=wrong),
        a1.delete(token, auth=wrong),
    ):
        assert (r.status, r.code) == (401, "PRINTER_AUTH_INVALID")
        assert r.headers["WWW-Authenticate"].startswith("Basic")
    for auth in (
        {},
        {"Authorization": "Bearer " + world.hq},
        {"Authorization": "Basic !!!"},
        basic("01JUNKNOWNPRINTER000000000", a1.secret),
        basic("../../etc", "x"),
    ):
        r = api.get(f"/cloudprnt?mac={a1.mac}&type=text/plain&token={token}", headers=auth)
        assert r.status == 401, (auth, r)
    # an unauthenticated bad request is still a 401, not a validation error
    assert api.post("/cloudprnt", raw="not json", headers={}).status == 401

    # the other store's printer with its own credentials: A's token is 403, A's MAC is 403
    assert (b1.get(token).status, b1.get(token).code) == (403, "STORE_SCOPE")
    assert b1.delete(token).status == 403
    assert b1.poll(mac=a1.mac).status == 403
    assert b1.get(token, mac=a1.mac).status == 403
    # the same store's other printer has its own job, not A1's
    assert a2.get(token).status == 404
    assert a1.get(token).status == 200
    assert next(j for j in jobs(api, world, order["order_id"]) if j["printer_id"] == a1.id)["status"] == "OFFERED"


def test_cloudprnt_bad_inputs(api, world, shop):
    a1, _, _ = shop
    sale(api, world)
    pump_prints()
    auth = a1.auth
    assert api.post("/cloudprnt", raw="{not json", headers=auth).status == 400
    assert api.post("/cloudprnt", {"printerMAC": a1.mac}, headers=auth).status == 422  # no statusCode
    assert api.post("/cloudprnt", {"printerMAC": a1.mac, "statusCode": 200}, headers=auth).status == 422
    assert api.post("/cloudprnt", {"printerMAC": a1.mac, "statusCode": "x" * 5000}, headers=auth).status == 422
    assert (
        api.post(
            "/cloudprnt", {"printerMAC": a1.mac, "statusCode": "200 OK", "printingInProgress": "yes"}, headers=auth
        ).status
        == 422
    )
    # fields a newer firmware adds are ignored, not refused
    ok = api.post(
        "/cloudprnt",
        {
            "printerMAC": a1.mac,
            "statusCode": "200 OK",
            "barcodeReader": [],
            "uniqueID": None,
            "clientAction": [{"request": "GetPollInterval", "result": 5}],
        },
        headers=auth,
    )
    assert ok.status == 200 and ok.json["jobReady"]
    token = ok.json["jobToken"]
    assert a1.get(token, type="image/png").status == 415
    assert a1.get("garbage").status == 404
    assert a1.get("A" * 5000).status == 422
    assert a1.get(token, mac="zz:zz").status == 403
    assert api.delete(f"/cloudprnt?mac={a1.mac}&token={token}", headers=auth).status == 422  # no code
    assert (
        api.get(f"/cloudprnt?mac={a1.mac}&type=text/plain&token={token}&uid=x&retry=1", headers=auth).status == 200
    )  # extra params
    # firmware without jobToken: GET/DELETE without a token act on the printer's current offer
    assert api.get(f"/cloudprnt?mac={a1.mac}&type=text/plain", headers=auth).status == 200
    assert api.delete(f"/cloudprnt?mac={a1.mac}&code=200%20OK", headers=auth).json == {"result": "done"}
    assert api.get(f"/cloudprnt?mac={a1.mac}&type=text/plain", headers=auth).status == 404  # nothing now


# --------------------------------------------------------------------------------------- health
def test_an_offline_printer_alerts_once_per_outage(api, world, shop, now):

    a1, a2, _ = shop
    assert a1.poll().status == 200  # a2 never polls: never alerted
    now["now"] += timedelta(seconds=15)  # 2 x 5 s + 5 s: still online
    assert printing.check_printers()["offline"] == 0
    now["now"] += timedelta(seconds=1)
    assert printing.check_printers()["offline"] == 1
    now["now"] += timedelta(minutes=5)
    assert printing.check_printers()["offline"] == 0  # same outage: no second alert
    listed = {p["printer_id"]: p for p in api.get("/admin/printers", token=world.manager_a).json["items"]}
    assert set(listed) == {a1.id, a2.id}
    assert listed[a1.id]["online"] is False and listed[a1.id]["offline_since"] and listed[a1.id]["last_poll_at"]
    assert listed[a2.id]["online"] is False and listed[a2.id]["last_poll_at"] is None
    outbox = pump_sms()
    assert [(o["phone"], o["template"]) for o in outbox] == [("13800000001", "printer_offline")]

    assert a1.poll().status == 200  # back: the outage is over
    assert (
        next(p for p in api.get("/admin/printers", token=world.hq).json["items"] if p["printer_id"] == a1.id)["online"]
        is True
    )
    assert "PrinterOnline" in [e["type"] for e in drain_events()]
    now["now"] += timedelta(minutes=2)  # (a minute later: one SMS per template per minute)
    assert printing.check_printers()["offline"] == 1  # a new outage: a new alert
    assert len([o for o in pump_sms() if o["template"] == "printer_offline"]) == 2


# --------------------------------------------------------------------------------------- admin
def test_printer_registration_and_listing(api, world, shop, now):
    a1, a2, b1 = shop
    r = api.get("/admin/printers", token=world.hq)
    assert r.status == 200 and len(r.json["items"]) == 3
    assert all("secret" not in p and "secret_hash" not in p for p in r.json["items"])
    mine = api.get("/admin/printers", token=world.manager_a).json["items"]
    assert {p["printer_id"] for p in mine} == {a1.id, a2.id}
    assert {p["mac"] for p in mine} == {"00:11:62:00:00:a1", "00:11:62:00:00:a2"}
    assert api.get(f"/admin/printers?store_id={world.b}", token=world.manager_a).status == 403
    assert [p["printer_id"] for p in api.get(f"/admin/printers?store_id={world.b}", token=world.hq).json["items"]] == [
        b1.id
    ]
    assert api.get("/admin/printers", token=world.clerk_a).status == 403
    # a new secret: the old one keeps working for the grace period (24 h), then stops
    rotated = api.post(f"/admin/printers/{a1.id}/secret", token=world.manager_a)
    assert rotated.status == 200 and rotated.json["secret"] != a1.secret
    assert rotated.json["old_secret_until"] == "2026-11-24T04:00:00.000Z"
    assert a1.poll().status == 200
    new = basic(a1.id, rotated.json["secret"])
    assert api.post("/cloudprnt", {"printerMAC": a1.mac, "statusCode": "200 OK"}, headers=new).status == 200
    now["now"] = NOON + timedelta(hours=24, seconds=1)
    assert a1.poll().status == 401
    a1.auth = new
    assert a1.poll().status == 200
    assert api.post(f"/admin/printers/{b1.id}/secret", token=world.manager_a).status == 403
    assert api.post("/admin/printers/nope/secret", token=world.hq).status == 404


@pytest.mark.parametrize(
    "change, status",
    [
        ({"paper_width_mm": 60}, 422),
        ({"paper_width_mm": "80"}, 422),
        ({"poll_interval_s": 0}, 422),
        ({"poll_interval_s": 5.5}, 422),
        ({"mac": "00:11:62"}, 422),
        ({"mac": "gg:11:62:00:00:01"}, 422),
        ({"name": "x" * 101}, 422),
        ({"name": ""}, 422),
        ({"store_id": "not-a-ulid"}, 422),
        ({"colour": "red"}, 422),
        ({"store_id": "01JXXXXXXXXXXXXXXXXXXXXXXX"}, 404),
        ({"mac": "00:11:62:00:00:A1"}, 409),
    ],
)
def test_printer_registration_bad_inputs(api, world, shop, change, status):
    body = {"store_id": world.a, "mac": "00:11:62:00:00:99", "name": "新打印机", **change}
    r = api.post("/admin/printers", body, token=world.hq)
    assert r.status == status, r


def test_printer_registration_scope(api, world, shop):
    body = {"store_id": world.a, "mac": "00:11:62:00:00:98", "name": "x"}
    assert api.post("/admin/printers", body, token=world.manager_b).status == 403
    assert api.post("/admin/printers", body, token=world.clerk_a).status == 403
    assert api.post("/admin/printers", body).status == 401
    assert api.post("/admin/printers", raw="[]", token=world.hq).status == 422


def test_reprint_makes_a_new_job_per_printer_once_per_key(api, world, shop):
    a1, a2, b1 = shop
    order = sale(api, world)
    pump_prints()
    assert a1.take() and a2.take()
    h = {"Idempotency-Key": "reprint-7"}
    r = api.post(f"/admin/orders/{order['order_id']}/reprint", token=world.manager_a, headers=h)
    assert r.status == 202 and r.json["status"] == "queued", r
    again = api.post(f"/admin/orders/{order['order_id']}/reprint", token=world.manager_a, headers=h)
    assert again.json == r.json and again.headers["Idempotent-Replayed"] == "true"
    clerk = api.post(f"/pos/orders/{order['order_id']}/reprint", token=world.clerk_a)
    assert clerk.status == 202 and clerk.json["reprint_id"] != r.json["reprint_id"]
    assert len(pump_prints(times=2)) == 2  # two reprints, each delivered twice
    got = jobs(api, world, order["order_id"])
    assert sorted((j["kind"], j["printer_id"]) for j in got) == sorted(
        [("order", a1.id), ("order", a2.id)] + [("reprint", a1.id), ("reprint", a2.id)] * 2
    )
    ticket = a1.take()
    assert "重印 REPRINT" in ticket and order["order_id"] in ticket
    assert b1.poll().json["jobReady"] is False
    # scope (another store's order looks unknown) and bad ids
    assert api.post(f"/admin/orders/{order['order_id']}/reprint", token=world.manager_b).status == 404
    assert api.post(f"/pos/orders/{order['order_id']}/reprint", token=world.clerk_b).status == 404
    assert api.post("/admin/orders/01JYYYYYYYYYYYYYYYYYYYYYYY/reprint", token=world.hq).status == 404
    assert api.post("/admin/orders/%20/reprint", token=world.hq).status == 404
    assert api.get(f"/admin/orders/{order['order_id']}/print-jobs", token=world.manager_b).status == 404
    assert api.post(f"/admin/orders/{order['order_id']}/reprint", token=token_for("member")).status == 403


def test_an_unpaid_order_has_no_ticket_to_reprint(api, world, shop):
    members.create_member("01JUNPAIDBUYER000000000000", "wx-unpaid", None, None, None)
    buyer = token_for("member", sub="01JUNPAIDBUYER000000000000")
    order = api.post(
        "/shop/orders",
        {"lines": [{"sku": "CQ-BEER-500", "qty": 1}], "store_id": world.a, "fulfillment": "pickup"},
        token=buyer,
    ).json
    pump_prints()
    r = api.post(f"/admin/orders/{order['order_id']}/reprint", token=world.hq)
    assert (r.status, r.code) == (404, "NO_TICKET")


def test_a_refund_prints_a_refund_ticket(api, world, shop):
    a1, a2, _ = shop
    order = sale(api, world, lines=[{"sku": "CQ-BEER-500", "qty": 3}])
    pump_prints()
    a1.take(), a2.take()
    r = api.post(
        f"/pos/orders/{order['order_id']}/refunds",
        {"lines": [{"sku": "CQ-BEER-500", "qty": 1}], "reason": "破损"},
        token=world.clerk_a,
    )
    assert r.status == 201, r
    pump_prints(times=3)
    text = a1.take()
    assert "退款单" in text and "破损" in text and "-6.00" in text
    assert a1.take() is None
    assert {j["kind"] for j in jobs(api, world, order["order_id"])} == {"order", "refund"}


def test_a_poison_print_request_fails_alone(api, world, shop):
    """Partial batch failure: only the bad records are reported, so only they are retried (and after 5 receives
    the redrive policy moves them to the DLQ, whose watch texts head office)."""
    import json

    from tests.helpers import sqs_event
    from tools.worker import LocalContext

    a1, _, _ = shop
    good = json.dumps(
        {
            "v": 1,
            "kind": "order",
            "doc": "order",
            "source_doc": "order",
            "order_id": "01JYYYYYYYYYYYYYYYYYYYYYYY",
            "store_id": world.a,
            "order": {
                "order_id": "01JYYYYYYYYYYYYYYYYYYYYYYY",
                "store_id": world.a,
                "channel": "pos",
                "lines": [],
                "subtotal_fen": 0,
                "discount_fen": 0,
                "payable_fen": 0,
            },
        }
    )
    missing = json.dumps(
        {
            "v": 1,
            "kind": "reprint",
            "doc": "reprint-01JXXXXXXXXXXXXXXXXXXXXXXX",
            "source_doc": "order",
            "order_id": "01JZZZZZZZZZZZZZZZZZZZZZZZ",
            "store_id": world.a,
        }
    )
    event = sqs_event(
        ["not json", '{"kind": "order"}', good, missing, good.replace('"doc": "order"', '"doc": "../etc"')]
    )
    result = handle_print_requests(event, LocalContext("t"))
    ids = [r["messageId"] for r in event["Records"]]
    assert [f["itemIdentifier"] for f in result["batchItemFailures"]] == [ids[0], ids[1], ids[3], ids[4]]
    assert a1.poll().json["jobReady"] is True  # the good one printed


def test_a_paid_order_prints_once_even_when_the_process_dies_right_after_the_commit(api, world, shop, monkeypatch):
    """The WeChat payment notification is applied and the Lambda dies before answering (nothing after the
    commit runs): OrderPaid is in the outbox with the payment, the stream relay delivers it, the ticket prints
    on each printer of the store once. WeChat's retry of the notification changes nothing."""
    from chalicelib.core import dynamo

    a1, a2, _ = shop
    buyer = token_for("member", sub="01JCRASHBUYER0000000000000")
    order = api.post(
        "/shop/orders",
        {"lines": [{"sku": "CQ-BEER-500", "qty": 2}], "store_id": world.a, "fulfillment": "pickup"},
        token=buyer,
    ).json
    drain_events()
    real_commit = dynamo.Tx.commit

    def commit_then_die(self, token):
        real_commit(self, token)
        raise SystemExit("killed right after the commit")

    with monkeypatch.context() as m, pytest.raises(SystemExit):
        m.setattr(dynamo.Tx, "commit", commit_then_die)
        order_payment.apply_payment(order["order_id"], "wx-tx-crash-1", order["payable_fen"], "wechat", None)
    assert api.get(f"/shop/orders/{order['order_id']}", token=buyer).json["status"] == "PAID"
    # WeChat retries the notification (no answer came): a duplicate, no second event
    assert (
        order_payment.apply_payment(order["order_id"], "wx-tx-crash-1", order["payable_fen"], "wechat", None)
        == "duplicate"
    )
    delivered = drain_events()
    assert [e["type"] for e in delivered] == ["OrderPaid"]
    pump_prints(times=2)
    got = jobs(api, world, order["order_id"])
    assert sorted(j["printer_id"] for j in got) == sorted([a1.id, a2.id])
    assert drain_events() == [] and take_messages(PRINT_Q) == []


# --------------------------------------------------------------------------------------- lifecycle and health
def test_disabled_printers_get_no_tickets_nor_alerts_retired_ones_are_locked_out_deleted_ones_gone(
    api, world, shop, now
):
    a1, a2, _ = shop
    assert a2.poll().status == 200
    r = api.patch(f"/admin/printers/{a2.id}", {"state": "disabled"}, token=world.manager_a)
    assert r.status == 200 and r.json["state"] == "disabled"
    order = sale(api, world)
    pump_prints()
    assert [j["printer_id"] for j in jobs(api, world, order["order_id"])] == [a1.id]  # none for the disabled one
    assert a2.poll().json["jobReady"] is False
    now["now"] += timedelta(minutes=5)  # it stops polling: nobody is told
    assert printing.check_printers()["offline"] == 0
    assert api.patch(f"/admin/printers/{a2.id}", {"state": "active"}, token=world.manager_a).json["state"] == "active"
    # retired: locked out for good, its MAC free for a new printer, no way back
    assert api.patch(f"/admin/printers/{a2.id}", {"state": "retired"}, token=world.clerk_a).status == 403
    assert api.patch(f"/admin/printers/{a2.id}", {"state": "retired"}, token=world.manager_a).status == 200
    assert (a2.poll().status, a2.poll().code) == (401, "PRINTER_AUTH_INVALID")
    back = api.patch(f"/admin/printers/{a2.id}", {"state": "active"}, token=world.manager_a)
    assert (back.status, back.code) == (409, "PRINTER_RETIRED")
    again = register(api, world.manager_a, world.a, "00:11:62:00:00:A2", "后仓新")
    # deleted: gone from the list, locked out, MAC free
    assert api.delete(f"/admin/printers/{a1.id}", token=world.manager_b).status == 403
    assert api.delete(f"/admin/printers/{a1.id}", token=world.manager_a).status == 204
    assert a1.poll().status == 401
    listed = {p["printer_id"]: p["state"] for p in api.get("/admin/printers", token=world.manager_a).json["items"]}
    assert listed == {a2.id: "retired", again.id: "active"}
    assert api.delete(f"/admin/printers/{a1.id}", token=world.manager_a).status == 404
    register(api, world.manager_a, world.a, "00:11:62:00:00:A1", "前台新")


def test_paper_out_and_cover_open_alert_once_per_episode(api, world, shop, now):
    a1, _, _ = shop
    for status in ("410 Out of paper", "410 Out of paper", "410 Out of paper"):
        a1.poll(status=status)
    r = next(p for p in api.get("/admin/printers", token=world.hq).json["items"] if p["printer_id"] == a1.id)
    assert r["problem"] == "paper_empty" and r["problem_since"].endswith("Z")
    a1.poll(status="200 OK")  # paper back: the episode ends
    now["now"] += timedelta(minutes=2)
    a1.poll(status="420 Cover open")
    a1.poll(status="420 Cover open")
    published = [e for e in drain_events() if e["type"] == "PrinterProblem"]
    assert [e["data"]["status"] for e in published] == ["paper_empty", "cover_open"]
    now["now"] += timedelta(minutes=2)
    texts = [o["params"]["problem"] for o in pump_sms() if o["template"] == "printer_problem"]
    assert texts == ["缺纸"]  # the cover-open text waits a minute (one message per template per phone a minute)


def test_online_and_offline_since_always_agree(api, world, shop, now):
    a1, a2, _ = shop

    def view(p):
        return next(x for x in api.get("/admin/printers", token=world.hq).json["items"] if x["printer_id"] == p.id)

    never = view(a2)
    assert never["online"] is False and clock.parse(never["offline_since"]) == clock.parse(never["created_at"])
    a1.poll()
    assert (view(a1)["online"], view(a1)["offline_since"]) == (True, None)
    now["now"] += timedelta(seconds=16)  # 2 x 5 s + 5 s passed: offline, before check_printers has run
    v = view(a1)
    assert v["online"] is False and v["offline_since"] == "2026-11-23T04:00:15.000Z"
    printing.check_printers()
    assert view(a1)["offline_since"] == "2026-11-23T04:00:15.000Z"
    a1.poll()
    assert (view(a1)["online"], view(a1)["offline_since"]) == (True, None)
