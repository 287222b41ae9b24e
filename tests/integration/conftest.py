"""Integration tier: the production repository code against AWS's own DynamoDB Local (in memory).

One DynamoDB Local process per test session on a free port; every test gets freshly created tables of the
"test" stage (from infra/resources.yml via tools.infra), so tests never see each other's items. If DynamoDB
Local cannot start, every test here FAILS (never skips): a green run means the race tests really ran.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass

import boto3
import pytest

from chalicelib.core.dynamo import reset_connections
from chalicelib.core.settings import get_settings
from tools import ddblocal, infra

STAGE = "test"
REGION = "ap-southeast-1"


@pytest.fixture(scope="session")
def ddb_local_endpoint():
    port = ddblocal.free_port()
    try:
        proc = ddblocal.start(port, db_path=None)  # -inMemory
    except SystemExit as e:
        pytest.fail(
            f"DynamoDB Local could not start, so the integration tier cannot run: {e}\n"
            "Install it with `make deps` (needs Java 17: apt-get install openjdk-17-jre-headless).",
            pytrace=False,
        )
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        ddblocal.stop(proc)


@pytest.fixture(scope="session")
def sqs_endpoint():
    """moto's SQS over real HTTP (moto server in this process, free port), shared by the session."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=ddblocal.free_port(), verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture(autouse=True)
def ddb(ddb_local_endpoint, monkeypatch):
    """Point the app at DynamoDB Local for this test only, with empty tables; yields a boto3 client."""
    monkeypatch.setenv("DYNAMODB_ENDPOINT", ddb_local_endpoint)
    # DynamoDB Local answering a 500-thread burst on 2 cores can take more than the 5 s production timeout
    monkeypatch.setenv("DYNAMODB_READ_TIMEOUT_S", "30")
    get_settings.cache_clear()
    reset_connections()
    client = boto3.client("dynamodb", region_name=REGION, endpoint_url=ddb_local_endpoint)
    existing = set(client.list_tables()["TableNames"])
    for name in infra.table_names(STAGE).values():
        if name in existing:
            client.delete_table(TableName=name)
    infra.create_tables(STAGE, client)
    assert get_settings().table_name == infra.table_names(STAGE)["AppTable"]
    yield client
    reset_connections()
    get_settings.cache_clear()


def items_of_kind(client, kind: str) -> list[dict]:
    """Every item of one discriminator (a Scan: test assertions only, never application code)."""
    table = get_settings().table_name
    out, kwargs = (
        [],
        {
            "TableName": table,
            "FilterExpression": "#k = :k",
            "ExpressionAttributeNames": {"#k": "kind"},
            "ExpressionAttributeValues": {":k": {"S": kind}},
            "ConsistentRead": True,
        },
    )
    while True:
        page = client.scan(**kwargs)
        out.extend(page["Items"])
        if "LastEvaluatedKey" not in page:
            return out
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


@dataclass
class Race:
    """What a race saw: each worker's result (or exception), the peak number of workers inside ``fn`` at once,
    and how many writes DynamoDB refused on a failed condition (a transaction cancelled with
    ``ConditionalCheckFailed``, or a conditional put/update): losers that read a state another worker changed
    before they wrote. A serial run has peak 1 and, where ``assert_contended`` is used, no such refusal."""

    results: list
    workers: int
    peak_in_flight: int
    cancellations: int

    def assert_concurrent(self) -> None:
        assert self.peak_in_flight >= self.workers // 2, f"not concurrent: {self}"

    def assert_contended(self) -> None:
        self.assert_concurrent()
        assert self.cancellations > 0, f"no conditional-check cancellation seen: not a race ({self})"

    def __repr__(self) -> str:
        return f"Race(workers={self.workers}, peak_in_flight={self.peak_in_flight}, cancellations={self.cancellations})"


WRITES = frozenset({"TransactWriteItems", "PutItem", "UpdateItem", "DeleteItem"})


def run_together(n: int, fn, timeout: float = 60, gate_s: float = 3.0) -> Race:
    """Run ``fn(i)`` in ``n`` threads released at the same instant by a barrier; returns a :class:`Race` with
    each result or exception, the peak in flight and the conditional-check refusals DynamoDB answered (counted
    around botocore's client call, so every client in every thread is seen).

    Each thread's first write waits at a second barrier until every thread has reached its own first write (or
    ``gate_s`` passed: a thread that writes nothing does not hold the others longer): everyone has read before
    anyone writes, so the writes really collide however loaded the machine is - on a busy 2-core runner the first
    thread could otherwise finish before the last one starts, and the race would be serial."""
    from botocore.client import BaseClient
    from botocore.exceptions import ClientError

    barrier, gate = threading.Barrier(n), threading.Barrier(n)
    racing = threading.local()
    results: list = [None] * n
    lock = threading.Lock()
    seen = {"in_flight": 0, "peak": 0, "cancelled": 0}

    def count_cancellations(response: dict) -> None:
        error = (response.get("Error") or {}).get("Code")
        reasons = response.get("CancellationReasons") or []
        if error == "ConditionalCheckFailedException" or any(
            r.get("Code") == "ConditionalCheckFailed" for r in reasons
        ):
            with lock:
                seen["cancelled"] += 1

    real_call = BaseClient._make_api_call

    def observed_call(client, operation, params):  # every botocore client, every thread
        if operation in WRITES and getattr(racing, "first_write", False):
            racing.first_write = False
            try:
                gate.wait(timeout=gate_s)
            except threading.BrokenBarrierError:
                pass  # some thread wrote nothing: go on
        try:
            return real_call(client, operation, params)
        except ClientError as e:
            count_cancellations(e.response)
            raise

    def worker(i):
        try:
            barrier.wait(timeout=timeout)
            racing.first_write = True
            with lock:
                seen["in_flight"] += 1
                seen["peak"] = max(seen["peak"], seen["in_flight"])
            try:
                results[i] = fn(i)
            finally:
                with lock:
                    seen["in_flight"] -= 1
        except BaseException as e:  # the test inspects it
            results[i] = e

    BaseClient._make_api_call = observed_call
    try:
        threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout)
            assert not t.is_alive(), "a racing thread did not finish"
    finally:
        BaseClient._make_api_call = real_call
    race = Race(results, n, seen["peak"], seen["cancelled"])
    name = os.environ.get("PYTEST_CURRENT_TEST", "?").split(" ")[0].split("::")[-1]
    if os.environ.get("RACE_FIGURES"):  # bench/race_soak.py collects them across its rounds
        with open(os.environ["RACE_FIGURES"], "a") as f:
            f.write(
                json.dumps(
                    {
                        "test": name,
                        "workers": n,
                        "peak_in_flight": race.peak_in_flight,
                        "cancellations": race.cancellations,
                    }
                )
                + "\n"
            )
    return race


def warm_up() -> None:
    """Build the (one, shared) botocore client before a race: botocore builds it with a session of the thread
    that gets there first, and hundreds of threads arriving at once would each build one (tens of ms of CPU
    each), which is slow and not what a race test is about. A Lambda container builds it once."""
    from chalicelib.core.dynamo import connection

    connection().client  # property with the side effect we want
