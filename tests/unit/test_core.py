"""Core pieces without AWS: tokens, passwords, parsing, cursors, ids, masking."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from chalicelib.core import clock
from chalicelib.core.auth import Principal, authenticate, decode_token, issue_token
from chalicelib.core.dynamo import decode_cursor, encode_cursor
from chalicelib.core.errors import AppError, Forbidden, Unauthorized, ValidationFailed
from chalicelib.core.http import parse_body, parse_query
from chalicelib.core.ids import is_ulid, new_id
from chalicelib.core.passwords import hash_password, verify_password
from chalicelib.core.phones import mask as mask_phone
from chalicelib.core.schemas import Body, Fen, PageQuery
from chalicelib.identity.domain import check_may_create_staff, check_staff_binding


def test_token_roundtrip_and_expiry():
    p = Principal(sub="01J0", role="store_manager", store_id="S1")
    token, ttl = issue_token(p)
    assert decode_token(token) == p and ttl == 12 * 3600
    t0 = datetime.now(UTC)
    clock.set_clock(lambda: t0 + timedelta(seconds=ttl + 1))
    with pytest.raises(Unauthorized) as e:
        decode_token(token)
    assert e.value.code == "TOKEN_EXPIRED"


def test_authenticate_roles_and_scope(monkeypatch):
    from chalicelib.core import sessions

    monkeypatch.setattr(sessions, "version", lambda account_id, fresh=False: 0)  # no table here: every session live
    token, _ = issue_token(Principal(sub="m1", role="member"))
    with pytest.raises(Forbidden):
        authenticate(f"Bearer {token}", frozenset({"hq_admin"}))
    assert authenticate(f"bearer {token}", frozenset({"member"})).sub == "m1"
    clerk = Principal(sub="c", role="clerk", store_id="A")
    clerk.require_store("A")
    with pytest.raises(Forbidden):
        clerk.require_store("B")
    Principal(sub="h", role="hq_admin").require_store("B")
    with pytest.raises(Forbidden):
        Principal(sub="m1", role="member").require_member("m2")


def test_weak_jwt_secret_refuses_to_sign(monkeypatch):
    from chalicelib.core.settings import get_settings

    monkeypatch.setenv("JWT_SECRET", "short")
    get_settings.cache_clear()
    with pytest.raises(RuntimeError):
        issue_token(Principal(sub="x", role="member"))


def test_passwords():
    h = hash_password("秘密 password")
    assert verify_password("秘密 password", h)
    assert not verify_password("秘密 passwore", h)
    assert not verify_password("x", None)
    assert not verify_password("x", "md5$abc")
    assert not verify_password("x", "garbage")


class Money(Body):
    price_fen: Fen
    name: str


def test_body_parsing_is_strict():
    assert parse_body(Money, b'{"price_fen": 100, "name": "x"}').price_fen == 100
    for raw, field in [
        (b'{"price_fen": 1.0, "name": "x"}', "price_fen"),
        (b'{"price_fen": "100", "name": "x"}', "price_fen"),
        (b'{"price_fen": -1, "name": "x"}', "price_fen"),
        (b'{"price_fen": true, "name": "x"}', "price_fen"),
        (b'{"price_fen": 1, "name": "x", "extra": 1}', "extra"),
        (b'{"price_fen": 1}', "name"),
        (b"[1, 2]", "body"),
    ]:
        with pytest.raises(ValidationFailed) as e:
            parse_body(Money, raw)
        assert e.value.status == 422
        assert field in [f["field"] for f in e.value.details["fields"]], raw
    for raw in (b"{", b"", b"   ", b"\xff\xfe"):
        with pytest.raises(AppError) as e:
            parse_body(Money, raw)
        assert (e.value.status, e.value.code) == (400, "MALFORMED_JSON")


def test_query_parsing():
    assert parse_query(PageQuery, {"limit": "10"}).limit == 10
    assert parse_query(PageQuery, None).limit == 50
    with pytest.raises(ValidationFailed):
        parse_query(PageQuery, {"limit": "1000"})
    with pytest.raises(ValidationFailed):
        parse_query(PageQuery, {"sort": "x"})


def test_cursor_roundtrip_and_tampering():
    lek = {"pk": {"S": "STORE#1"}, "sk": {"S": "META"}}
    assert decode_cursor(encode_cursor(lek)) == lek
    assert encode_cursor(None) is None and decode_cursor(None) is None
    for bad in ("!!!", "eyJ4IjoxfQ", "bnVsbA"):  # junk, {"x":1}, null
        with pytest.raises(ValidationFailed) as e:
            decode_cursor(bad)
        assert e.value.code == "INVALID_CURSOR"


def test_ids_are_ulids_and_time_ordered():
    a = new_id()
    clock.set_clock(lambda: datetime.now(UTC) + timedelta(seconds=5))
    b = new_id()
    assert is_ulid(a) and is_ulid(b) and a < b


def test_mask_phone_and_staff_rules():
    assert mask_phone("13812345678") == "138****5678"
    assert mask_phone("+8613812345678") == "138****5678"
    assert mask_phone("023-63701234") == "023****1234"
    assert mask_phone(None) is None
    with pytest.raises(ValidationFailed):
        check_staff_binding("clerk", None)
    with pytest.raises(ValidationFailed):
        check_staff_binding("hq_admin", "S1")
    check_staff_binding("store_manager", "S1")
    mgr = Principal(sub="m", role="store_manager", store_id="S1")
    check_may_create_staff(mgr, "clerk", "S1")
    with pytest.raises(Forbidden):
        check_may_create_staff(mgr, "clerk", "S2")
    with pytest.raises(Forbidden):
        check_may_create_staff(mgr, "store_manager", "S1")


def test_a_sweep_reads_every_day_since_its_mark_however_long_ago():
    today = date(2026, 12, 2)
    assert clock.days_since(None, today, 2) == [date(2026, 11, 30), date(2026, 12, 1), today]  # the first run
    assert clock.days_since("2026-12-01", today, 2) == [today]
    assert clock.days_since("2026-12-01", today, 2, again=True) == [date(2026, 12, 1), today]
    assert clock.days_since("2026-12-02", today, 2) == []
    outage = clock.days_since("2026-10-01", today, 2)  # two months down: every day is read, none skipped
    assert len(outage) == 62 and outage[0] == date(2026, 10, 2) and outage[-1] == today


def test_an_hourly_sweep_reads_every_hour_since_its_mark_however_long_ago():
    now = datetime(2026, 12, 2, 10, 15, tzinfo=UTC)
    first = clock.hours_since(None, now, 2)
    assert first == [datetime(2026, 12, 2, h, tzinfo=UTC) for h in (8, 9, 10)]
    assert clock.hours_since("2026-12-02T09", now, 2) == [datetime(2026, 12, 2, 10, tzinfo=UTC)]
    assert clock.hours_since("2026-12-02T10", now, 2) == []
    assert len(clock.hours_since("2026-11-29T10", now, 2)) == 72  # three days down: all 72 hours read


def test_clock_at_starts_the_clock_there_and_it_runs_on():
    start = datetime(2026, 12, 4, 3, 30, tzinfo=timezone(timedelta(hours=8)))
    clock.start_at(start)
    first = clock.now()
    assert first.tzinfo is not None and timedelta(0) <= first - start < timedelta(seconds=5)
    assert clock.business_now().strftime("%a %H:%M") == "Fri 03:30"
    assert clock.now() >= first  # it runs on
    with pytest.raises(ValueError):
        clock.start_at(datetime(2026, 12, 4, 3, 30))  # no UTC offset: which 03:30?


@pytest.mark.parametrize("stage", ["test", "dev", "prod"])
def test_clock_at_is_refused_outside_the_local_stage(monkeypatch, stage):
    from pydantic import ValidationError

    from chalicelib.core.settings import get_settings

    monkeypatch.setenv("STAGE", stage)
    monkeypatch.setenv("CLOCK_AT", "2026-12-04T03:30:00+08:00")
    get_settings.cache_clear()
    with pytest.raises(ValidationError, match="CLOCK_AT is for the local stage only"):
        get_settings()
    monkeypatch.setenv("STAGE", "local")
    get_settings.cache_clear()
    assert get_settings().clock_at == datetime(2026, 12, 4, 3, 30, tzinfo=timezone(timedelta(hours=8)))


def test_the_local_worker_follows_the_app_clock():
    from chalice import Chalice

    from tools.worker import Worker

    app = Chalice(app_name="clocked")
    fired = []

    @app.schedule("cron(30 19 * * ? *)")  # 03:30 Beijing time
    def night_job(event):
        fired.append(event.to_dict()["time"])

    clock.set_clock(lambda: datetime(2026, 12, 3, 19, 29, tzinfo=UTC))
    worker = Worker(app, sqs_client=None)
    assert worker.tick() == []
    clock.set_clock(lambda: datetime(2026, 12, 3, 19, 30, 5, tzinfo=UTC))
    assert worker.tick() == ["night_job"] and fired == ["2026-12-03T19:30:00Z"]


def test_member_growth_rules_and_levels():
    from chalicelib.members import domain as m

    lv = [m.Level("L0", "普通", 0, 0), m.Level("L1", "银", 1, 200000, orders_min=3), m.Level("L2", "金", 2, 500000)]
    assert m.level_for(lv, 0, 0).name == "普通" and m.level_for(lv, 199999, 2).name == "普通"
    assert m.level_for(lv, 199999, 3).name == "银" and m.level_for(lv, 500000, 0).name == "金"
    assert m.level_for([], 10**9, 10**3) is None
    assert m.next_level(lv, lv[1], 300000) == (lv[2], 200000) and m.next_level(lv, lv[2], 0) is None
    order = {"payable_fen": 10000, "delivery_fen": 500, "payment": {"wallet": {"bonus_fen": 1500}}}
    assert m.order_growth(order) == 8000  # not the delivery fee, not the wallet bonus
    # three partial refunds that add up to the whole order take back exactly its growth
    taken, refunded = 0, 0
    for part in (3333, 3333, 3334):
        refunded += part
        taken += m.refund_growth({**order, "refunded_fen": refunded}, part)
    assert taken == -8000
    assert m.order_growth({**order, "refunded_fen": 5000}) == 4000  # refunded before completion: left out
    from chalicelib.identity import domain as i

    code = i.new_member_code()
    assert i.is_member_code(code) and not i.is_member_code(code[:-1]) and not i.is_member_code("9" + code[1:])
