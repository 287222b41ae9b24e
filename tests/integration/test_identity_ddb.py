"""Staff accounts and member first login against DynamoDB Local, including real concurrent races
(moto is not safe under concurrency; DynamoDB Local applies conditions and transactions as DynamoDB does)."""

from __future__ import annotations

import pytest

from chalicelib.core.auth import Principal, decode_token
from chalicelib.core.errors import AppError, Conflict, Unauthorized
from chalicelib.identity import repository, services
from chalicelib.identity.schemas import StaffCreate, StaffLogin
from chalicelib.stores import services as stores
from chalicelib.stores.schemas import StoreCreate
from tests.helpers import STORE_BODY
from tests.integration.conftest import items_of_kind, run_together, warm_up

HQ = Principal(sub="01JHQADMIN0000000000000000", role="hq_admin")


def test_staff_create_login_and_duplicate_username():
    store_id = stores.create_store(StoreCreate.model_validate(STORE_BODY)).store_id
    cmd = StaffCreate(username="jfb.clerk", password="s3cret-pass", name="店员小王", role="clerk", store_id=store_id)
    out = services.create_staff(HQ, cmd)
    assert out.role == "clerk" and out.store_id == store_id

    with pytest.raises(Conflict) as e:
        services.create_staff(HQ, cmd.model_copy(update={"name": "另一个人"}))
    assert e.value.code == "USERNAME_TAKEN"
    assert repository.get_staff("jfb.clerk").name == "店员小王"  # the first account is untouched

    login = services.staff_login(StaffLogin(username="jfb.clerk", password="s3cret-pass"), "10.0.0.1")
    assert decode_token(login.token) == Principal(sub=out.staff_id, role="clerk", store_id=store_id)
    with pytest.raises(Unauthorized):
        services.staff_login(StaffLogin(username="jfb.clerk", password="wrong-pass"), "10.0.0.1")


def test_concurrent_wrong_passwords_are_all_counted_and_lock(ddb):
    """Parallel guesses cannot slip past the counter: each failure is an atomic ADD on the throttle item."""
    repository.create_staff("01JSTAFF000000000000000001", "race.guess", "人", "hq_admin", None, "scrypt$x")

    def guess(i):
        return services.staff_login(StaffLogin(username="race.guess", password=f"guess-{i}"), f"10.1.0.{i}")

    warm_up()
    race = run_together(12, guess)
    assert all(isinstance(r, AppError) and r.status in (401, 429) for r in race.results), race.results
    throttles = {t["pk"]["S"]: t for t in items_of_kind(ddb, "LoginThrottle")}
    counted = int(throttles["LOGIN#user#race.guess"]["count"]["N"])
    refused = sum(1 for r in race.results if r.status == 429)
    assert counted + refused == 12 and counted >= 10 and "blocked_until" in throttles["LOGIN#user#race.guess"]


def test_concurrent_creation_of_one_username_makes_one_account(ddb):
    def create(i):
        return repository.create_staff(f"01JSTAFF{i:018d}", "race.user", f"人{i}", "hq_admin", None, "x")

    warm_up()
    race = run_together(10, create)
    race.assert_contended()
    results = race.results
    ok = [r for r in results if not isinstance(r, BaseException)]
    conflicts = [r for r in results if isinstance(r, Conflict)]
    assert len(ok) == 1 and len(conflicts) == 9, results
    assert all(c.code == "USERNAME_TAKEN" for c in conflicts)
    staff = items_of_kind(ddb, "Staff")
    assert len(staff) == 1 and staff[0]["staff_id"]["S"] == ok[0].staff_id


def test_first_login_race_creates_exactly_one_member(ddb, monkeypatch):
    """20 threads log the same new openid in at once, three times over: one member per openid, everyone gets
    its id, and the losing path (conditional transaction cancelled, re-read) really ran."""
    attempts, lost = [], []
    real_create = repository.create_member

    def counting_create(*args, **kwargs):
        member = real_create(*args, **kwargs)
        attempts.append(1)
        if member is None:
            lost.append(1)
        return member

    monkeypatch.setattr(repository, "create_member", counting_create)
    warm_up()
    for round_ in range(3):
        openid = f"oRace{round_}-same-openid"
        race = run_together(20, lambda i: services._member_login(openid))
        race.assert_contended()
        results = race.results
        errors = [r for r in results if isinstance(r, BaseException)]
        assert not errors, errors
        member_ids = {r.member.member_id for r in results}
        assert len(member_ids) == 1, member_ids
        assert sum(r.member.is_new for r in results) == 1
        assert {decode_token(r.token).sub for r in results} == member_ids

    members = items_of_kind(ddb, "Member")
    links = items_of_kind(ddb, "OpenId")
    assert len(members) == 3 and len(links) == 3
    assert {m["member_id"]["S"] for m in members} == {link["member_id"]["S"] for link in links}
    assert len(attempts) - len(lost) == 3
    assert lost, "no thread lost the race: the threads did not overlap"


def test_create_member_loses_cleanly_when_openid_is_taken():
    first = repository.create_member("01JMEMBERA0000000000000000", "oTaken-openid", None, None, None)
    assert first is not None
    assert repository.create_member("01JMEMBERB0000000000000000", "oTaken-openid", None, None, None) is None
    assert repository.get_member("01JMEMBERB0000000000000000") is None  # nothing half-written
    assert repository.member_for_openid("oTaken-openid").member_id == "01JMEMBERA0000000000000000"


def test_login_of_a_closed_member_is_refused():
    m = repository.create_member("01JMEMBERC0000000000000000", "oClosed-openid", None, None, None)
    m.update(actions=[type(m).status.set("closed")])
    with pytest.raises(AppError) as e:
        services._member_login("oClosed-openid")
    assert e.value.code == "ACCOUNT_CLOSED"
