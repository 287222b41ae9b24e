"""Shared test setup. The environment is set here, before anything imports the app (settings are lazy,
but the Chalice test client's stage environment would not reach them)."""
from __future__ import annotations

import os
import secrets

os.environ.update({
    "STAGE": "test",
    "TABLE_NAME": "omnistore-test-app",
    "IDEMPOTENCY_TABLE_NAME": "omnistore-test-idempotency",
    "EVENTS_QUEUE_NAME": "omnistore-test-events",
    "PRINT_QUEUE_NAME": "omnistore-test-print",
    "SMS_QUEUE_NAME": "omnistore-test-sms",
    "AWS_DEFAULT_REGION": "ap-southeast-1",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "JWT_SECRET": secrets.token_urlsafe(48),   # generated per run, never committed
    "BUSINESS_TZ": "Asia/Shanghai",
    "POWERTOOLS_LOG_LEVEL": "WARNING",
})
os.environ.pop("DYNAMODB_ENDPOINT", None)
os.environ.pop("SQS_ENDPOINT", None)

import pytest  # noqa: E402

from chalicelib.core import clock  # noqa: E402
from chalicelib.core.settings import get_settings  # noqa: E402


def pytest_configure(config):
    # Outside Lambda there is no invocation context for Powertools idempotency to read the time left from.
    config.addinivalue_line("filterwarnings", "ignore:Couldn't determine the remaining time left:UserWarning")


@pytest.fixture(autouse=True)
def _fresh_settings_and_clock():
    get_settings.cache_clear()
    yield
    clock.set_clock(None)
    get_settings.cache_clear()
