"""Printing and SMS against DynamoDB Local under concurrency: redelivered print requests create one job per
printer, racing polls of one printer hand out one offer, and racing deliveries of one SMS key send it once."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from chalicelib.core import clock
from chalicelib.core.passwords import hash_password
from chalicelib.printing import repository as printing_repo
from chalicelib.printing import services as printing
from chalicelib.printing.schemas import ConfirmQuery, PollIn
from chalicelib.sms import repository as sms_repo
from chalicelib.sms import services as sms
from chalicelib.stores import repository as stores_repo
from tests.integration.conftest import items_of_kind, run_together, warm_up

NOON = datetime(2026, 11, 23, 4, 0, tzinfo=UTC)
STORE = "01JSTQRE00000000000000000A"
ORDER = "01JQ7ZK5W3M8N9P2R4T6V8X0YZ"


@pytest.fixture
def store(ddb):
    clock.set_clock(lambda: NOON)
    stores_repo.create(
        STORE,
        {
            "name": "烟酒行·解放碑店",
            "address": "重庆市渝中区民族路166号",
            "lat": 29.5575,
            "lng": 106.5772,
            "phone": "023-63812166",
            "opening_hours": [],
            "delivery_radius_m": 3000,
            "pickup_radius_m": 3000,
            "status": "active",
        },
    )
    printers = [
        printing_repo.create_printer(
            f"01JPRNTER000000000000000{i:02d}",
            STORE,
            f"00:11:62:00:00:{i:02x}",
            f"打印机{i}",
            80,
            5,
            hash_password("s"),
        )
        for i in (1, 2)
    ]
    return printers


def request_body() -> str:
    return json.dumps(
        {
            "v": 1,
            "kind": "order",
            "doc": "order",
            "source_doc": "order",
            "order_id": ORDER,
            "store_id": STORE,
            "order": {
                "order_id": ORDER,
                "store_id": STORE,
                "channel": "pos",
                "fulfillment": "pickup",
                "lines": [
                    {
                        "sku": "BR-CQ-GB-500",
                        "name": "重庆啤酒",
                        "qty": 2,
                        "unit_price_fen": 600,
                        "discount_fen": 0,
                        "payable_fen": 1200,
                    }
                ],
                "subtotal_fen": 1200,
                "discount_fen": 0,
                "payable_fen": 1200,
                "payment": {"method": "cash", "paid_at": "2026-11-23T04:00:00.000Z"},
            },
        }
    )


def test_concurrent_redeliveries_make_one_job_per_printer(ddb, store):
    warm_up()
    body = request_body()
    race = run_together(20, lambda i: printing.handle_print_request(body))
    race.assert_contended()
    results = race.results
    assert not [r for r in results if isinstance(r, BaseException)], results
    assert sum(r["created"] for r in results) == 2
    jobs = items_of_kind(ddb, "PrintJob")
    assert sorted(j["sk"]["S"] for j in jobs) == sorted(f"JOB#order#{p.printer_id}" for p in store)
    assert len(items_of_kind(ddb, "PrintDoc")) == 1


def test_racing_polls_of_one_printer_hand_out_one_offer(ddb, store):
    warm_up()
    printing.handle_print_request(request_body())
    p1 = store[0]
    poll = PollIn(printerMAC=p1.mac, statusCode="200 OK")
    snapshot = printing_repo.get_printer(p1.printer_id)  # every racer read the printer before any offer
    race = run_together(10, lambda i: printing.poll(snapshot, poll))
    race.assert_contended()
    results = race.results
    assert not [r for r in results if isinstance(r, BaseException)], results
    tokens = {r.jobToken for r in results if r.jobReady}
    assert len(tokens) == 1
    job = printing_repo.get_job(ORDER, "order", p1.printer_id)
    assert (job.status, int(job.attempts), job.token) == ("OFFERED", 1, tokens.pop())
    # the winner's offer survived the losers: the next poll hands out the same token, and it can be confirmed
    again = printing.poll(printing_repo.get_printer(p1.printer_id), poll)
    assert again.jobToken == job.token
    printer = printing_repo.get_printer(p1.printer_id)
    assert printing.confirm(printer, ConfirmQuery(mac=p1.mac, code="200 OK", token=job.token)).result == "done"
    assert printing_repo.get_job(ORDER, "order", p1.printer_id).status == "DONE"
    assert printing_repo.get_printer(p1.printer_id).current_token is None


def test_racing_deliveries_of_one_sms_send_it_once(ddb):
    clock.set_clock(lambda: NOON)
    warm_up()
    message = sms.message(
        "printer_offline",
        "13800138000",
        {"store": "解放碑店", "printer": "前台", "time": "12:00"},
        "evt-1:printer_offline:13800138000",
    )
    race = run_together(12, lambda i: sms.deliver(dict(message)))
    race.assert_contended()
    results = race.results
    assert sorted(results) == ["duplicate"] * 11 + ["sent"]
    assert len(items_of_kind(ddb, "SmsOutbox")) == 1
    assert sms_repo.get_message(message["key"]).status == "sent"
    assert sms_repo.counter("13800138000", "DAY#2026-11-23") == 1
