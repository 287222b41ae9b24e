"""The Idempotency-Key mechanism (chalicelib.core.idempotency) raced on DynamoDB Local."""

from __future__ import annotations

import threading
import time

import pytest

from chalicelib.core import idempotency
from chalicelib.core.errors import Conflict
from tests.integration.conftest import items_of_kind, run_together, warm_up

SCOPE = "01JMEMBER00000000000000000#POST /shop/orders#"
BODY = b'{"lines":[{"qty":1,"sku":"BJ-MT-FT53-500"}]}'


def test_ten_concurrent_requests_with_one_key_run_the_body_once(ddb):
    calls = []
    lock = threading.Lock()

    def body():
        with lock:
            calls.append(threading.get_ident())
        time.sleep(0.3)  # the others arrive while this one is in progress
        return 201, {"order_id": "01JORDER000000000000000000", "payable_fen": 299900}

    warm_up()
    race = run_together(10, lambda i: idempotency.run(SCOPE, "key-race-1", BODY, body))
    race.assert_contended()
    results = race.results
    assert len(calls) == 1
    answered = [r for r in results if isinstance(r, tuple)]
    in_progress = [r for r in results if isinstance(r, Conflict)]
    assert len(answered) + len(in_progress) == 10, results
    assert in_progress, "no request saw the key in progress: the threads did not overlap"
    assert all(c.code == "IDEMPOTENCY_IN_PROGRESS" and c.status == 409 for c in in_progress)
    assert sum(1 for r in answered if r[2] is False) == 1  # exactly one ran it
    assert {(s, p["order_id"]) for s, p, _ in answered} == {(201, "01JORDER000000000000000000")}

    # Later retries replay the stored response; a different body is refused.
    assert idempotency.run(SCOPE, "key-race-1", BODY, body) == (201, answered[0][1], True)
    with pytest.raises(Conflict) as e:
        idempotency.run(SCOPE, "key-race-1", b'{"lines":[]}', body)
    assert e.value.code == "IDEMPOTENCY_KEY_REUSED"
    assert len(calls) == 1
    assert len(items_of_kind(ddb, "Idempotency")) == 1


def test_race_after_completion_only_replays():
    calls = []
    idempotency.run(SCOPE, "key-race-2", BODY, lambda: (calls.append(1), (200, {"n": 1}))[1])
    warm_up()
    race = run_together(
        10, lambda i: idempotency.run(SCOPE, "key-race-2", BODY, lambda: (calls.append(1), (200, {"n": 2}))[1])
    )
    race.assert_concurrent()  # nothing to contend for: every racer only reads the finished marker
    results = race.results
    assert calls == [1]
    assert all(r == (200, {"n": 1}, True) for r in results), results


def test_a_failed_body_releases_the_key():
    def boom():
        raise RuntimeError("downstream failed")

    with pytest.raises(RuntimeError):
        idempotency.run(SCOPE, "key-fail", BODY, boom)
    assert idempotency.run(SCOPE, "key-fail", BODY, lambda: (201, {"ok": True})) == (201, {"ok": True}, False)


def test_keys_are_scoped_per_caller():
    a = idempotency.run("memberA#POST /shop/orders#", "same-key", BODY, lambda: (201, {"who": "a"}))
    b = idempotency.run("memberB#POST /shop/orders#", "same-key", BODY, lambda: (201, {"who": "b"}))
    assert a[1] == {"who": "a"} and b[1] == {"who": "b"} and not a[2] and not b[2]
