"""Integration tier: the production repository code against AWS's own DynamoDB Local (in memory).

One DynamoDB Local process per test session on a free port; every test gets freshly created tables of the
"test" stage (from infra/resources.yml via tools.infra), so tests never see each other's items. If DynamoDB
Local cannot start, every test here FAILS (never skips): a green run means the race tests really ran.
"""
from __future__ import annotations

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
        proc = ddblocal.start(port, db_path=None)   # -inMemory
    except SystemExit as e:
        pytest.fail(f"DynamoDB Local could not start, so the integration tier cannot run: {e}\n"
                    "Install it with `make deps` (needs Java 17: apt-get install openjdk-17-jre-headless).",
                    pytrace=False)
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
    out, kwargs = [], {"TableName": table, "FilterExpression": "#k = :k",
                       "ExpressionAttributeNames": {"#k": "kind"}, "ExpressionAttributeValues": {":k": {"S": kind}},
                       "ConsistentRead": True}
    while True:
        page = client.scan(**kwargs)
        out.extend(page["Items"])
        if "LastEvaluatedKey" not in page:
            return out
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def run_together(n: int, fn, timeout: float = 60) -> list:
    """Run ``fn(i)`` in ``n`` threads released at the same instant; returns each result or exception."""
    import threading

    barrier = threading.Barrier(n)
    results: list = [None] * n

    def worker(i):
        try:
            barrier.wait(timeout=timeout)
            results[i] = fn(i)
        except BaseException as e:  # noqa: BLE001 - the test inspects it
            results[i] = e

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout)
        assert not t.is_alive(), "a racing thread did not finish"
    return results


def warm_up(*models) -> None:
    """Create the (shared) botocore clients before a race. PynamoDB builds them lazily with a thread-local
    session, so 20 threads arriving at once at a fresh model would each build one (seconds of CPU): slow,
    and not what a race test is about."""
    from chalicelib.core.dynamo import connection

    for model in models:
        model._get_connection().connection.client  # noqa: B018 - property with the side effect we want
    connection().client  # noqa: B018
