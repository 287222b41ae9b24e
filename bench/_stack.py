"""Shared by the bench scripts: DynamoDB Local in memory with this app's tables, and demo data."""

from __future__ import annotations

import os
import secrets
import sys
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


@contextmanager
def dynamodb_local(stage: str = "test"):
    """Start DynamoDB Local (in memory), point the app at it, create the tables from infra/; yield the
    boto3 client; stop it afterwards."""
    os.environ.update(
        {
            "STAGE": stage,
            "TABLE_NAME": f"omnistore-{stage}-app",
            "IDEMPOTENCY_TABLE_NAME": f"omnistore-{stage}-idempotency",
            "EVENTS_QUEUE_NAME": f"omnistore-{stage}-events",
            "AWS_DEFAULT_REGION": "ap-southeast-1",
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "JWT_SECRET": secrets.token_urlsafe(48),
            "POWERTOOLS_LOG_LEVEL": "ERROR",
            "POWERTOOLS_METRICS_DISABLED": "true",
        }
    )
    import boto3

    from chalicelib.core.dynamo import reset_connections
    from chalicelib.core.settings import get_settings
    from tools import ddblocal, infra

    port = ddblocal.free_port()
    proc = ddblocal.start(port)
    try:
        os.environ["DYNAMODB_ENDPOINT"] = f"http://127.0.0.1:{port}"
        get_settings.cache_clear()
        reset_connections()
        client = boto3.client("dynamodb", region_name="ap-southeast-1", endpoint_url=os.environ["DYNAMODB_ENDPOINT"])
        infra.create_tables(stage, client)
        yield client
    finally:
        ddblocal.stop(proc)
