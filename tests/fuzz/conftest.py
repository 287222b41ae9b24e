"""Fuzz tier: schemathesis drives every operation of ``/openapi.json`` through the Chalice app in-process (a small
WSGI adapter over chalice's local gateway), on moto, against data of its own (the ``fuzz_world`` fixture)."""

from __future__ import annotations

import os
from urllib.parse import quote

import boto3
import pytest
from moto import mock_aws

from chalicelib.core.dynamo import reset_connections
from tests.helpers import Api, token_for
from tools import infra

_requests = {"sent": 0}


def pytest_sessionfinish(session):
    if hasattr(session.config, "workeroutput"):  # an xdist worker: hand the count to the controller
        session.config.workeroutput["fuzz_requests"] = _requests["sent"]


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):
    node.config.fuzz_requests = getattr(node.config, "fuzz_requests", 0) + node.workeroutput.get("fuzz_requests", 0)


def pytest_terminal_summary(terminalreporter, config):
    sent = getattr(config, "fuzz_requests", 0) + _requests["sent"]
    if sent:
        terminalreporter.write_line(f"fuzz tier: {sent} requests")


class ChaliceWsgi:
    """WSGI in front of ``chalice.test.Client``: what API Gateway + Lambda would answer, as a WSGI app."""

    def __init__(self, app):
        from chalice.test import Client

        self.client = Client(app, stage_name="test")

    def __call__(self, environ, start_response):
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        headers = {k[5:].replace("_", "-").lower(): v for k, v in environ.items() if k.startswith("HTTP_")}
        if environ.get("CONTENT_TYPE"):
            headers["content-type"] = environ["CONTENT_TYPE"]
        # the path as the client sent it (PATH_INFO is decoded: a "%23" in an id would become a fragment)
        path = quote(environ.get("PATH_INFO") or "/", safe="/")
        if environ.get("QUERY_STRING"):
            path += "?" + environ["QUERY_STRING"]
        resp = self.client.http.request(environ["REQUEST_METHOD"], path, headers=headers, body=body)
        _requests["sent"] += 1
        start_response(f"{resp.status_code} -", [(k, str(v)) for k, v in resp.headers.items()])
        return [resp.body or b""]


@pytest.fixture(scope="module")
def fake_wechat():
    """WeChat login answered by tools.fake_wechat (any code is an openid; each code once)."""
    from chalicelib.core.settings import get_settings
    from chalicelib.identity import wechat
    from tools.fake_wechat import FakeWechat

    fake = FakeWechat().start()
    env = {"WECHAT_APPID": fake.appid, "WECHAT_SECRET": fake.secret, "WECHAT_API_BASE": fake.url}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    get_settings.cache_clear()
    wechat._pool = None
    yield fake
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
    get_settings.cache_clear()
    wechat._pool = None
    fake.stop()


@pytest.fixture(scope="module")
def fuzz_world(fake_wechat):
    """A table of the fuzz tier's own: two stores, the demo products, stock; tokens of each role."""
    from chalicelib.core import events, queues

    with mock_aws():
        reset_connections()
        queues.reset()
        events.reset_consumers()
        infra.create_tables("test", boto3.client("dynamodb", region_name="ap-southeast-1"))
        infra.create_queues("test", boto3.client("sqs", region_name="ap-southeast-1"))
        from chalice.test import Client

        from app import app
        from tests.helpers import World

        world = World(Api(Client(app, stage_name="test")), token_for("hq_admin", sub="01JFVZZHQ00000000000000000"))
        world.receive(world.a, {"CQ-BEER-500": 500, "WLY-52-500": 50})
        yield {
            "hq_admin": world.hq,
            "store_manager": world.manager_a,
            "member": token_for("member", sub="01JFVZZMEMBER0000000000000"),
        }
    reset_connections()
    queues.reset()
    events.reset_consumers()
