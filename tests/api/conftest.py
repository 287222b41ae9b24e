"""API tier: the Chalice app through ``chalice.test.Client`` on moto's in-process DynamoDB and SQS."""

from __future__ import annotations

import boto3
import pytest
from moto import mock_aws

from chalicelib.core.dynamo import reset_connections
from tests.helpers import Api, token_for
from tools import infra


@pytest.fixture
def aws():
    from chalicelib.core import events, queues

    with mock_aws():
        reset_connections()
        queues.reset()
        events.reset_consumers()
        infra.create_tables("test", boto3.client("dynamodb", region_name="ap-southeast-1"))
        infra.create_queues("test", boto3.client("sqs", region_name="ap-southeast-1"))
        yield
    reset_connections()
    queues.reset()
    events.reset_consumers()


@pytest.fixture
def api(aws):
    from chalice.test import Client

    from app import app

    # The "test" stage of .chalice/config.json: the client patches its env vars into every request.
    with Client(app, stage_name="test") as client:
        yield Api(client)


@pytest.fixture
def hq():
    return token_for("hq_admin", sub="01JHQADMIN0000000000000000")


@pytest.fixture
def member():
    return token_for("member", sub="01JMEMBER00000000000000000")


@pytest.fixture
def stage_local(monkeypatch):
    """Settings of the ``local`` stage (dev login exists there). Settings are cached per process, so
    reading them once here is what the requests see, whatever env the test client patches in."""
    from chalicelib.core.settings import get_settings

    monkeypatch.setenv("STAGE", "local")
    get_settings.cache_clear()
    assert get_settings().is_local
    yield
    get_settings.cache_clear()


@pytest.fixture
def world(api, hq):
    from tests.helpers import World

    return World(api, hq)
