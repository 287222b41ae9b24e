"""Shared test setup. The environment is set here, before anything imports the app (settings are lazy,
but the Chalice test client's stage environment would not reach them)."""

from __future__ import annotations

import os
import secrets

os.environ.update(
    {
        "STAGE": "test",
        "TABLE_NAME": "omnistore-test-app",
        "IDEMPOTENCY_TABLE_NAME": "omnistore-test-idempotency",
        "EVENTS_QUEUE_NAME": "omnistore-test-events",
        "PRINT_QUEUE_NAME": "omnistore-test-print",
        "SMS_QUEUE_NAME": "omnistore-test-sms",
        "CAMPAIGN_QUEUE_NAME": "omnistore-test-campaigns",
        "AWS_DEFAULT_REGION": "ap-southeast-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "JWT_SECRET": secrets.token_urlsafe(48),  # generated per run, never committed
        "BUSINESS_TZ": "Asia/Shanghai",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
    }
)
os.environ.pop("DYNAMODB_ENDPOINT", None)
os.environ.pop("SQS_ENDPOINT", None)

import pytest

from chalicelib.core import clock
from chalicelib.core.settings import get_settings

# TEST_CLOCK_AT=2026-12-04T03:30:00+08:00 moves this process's real clock there for the whole run (time-machine;
# time runs on from there), so the suite can be tried at night, on a Friday, a minute before midnight, whatever the
# machine's clock says. `make test-clock` runs the `clock` tests at several such moments. The local-stack tests
# hand the same moment to the stack they start (CLOCK_AT).
PINNED = os.environ.get("TEST_CLOCK_AT")


def pytest_configure(config):
    # Outside Lambda there is no invocation context for Powertools idempotency to read the time left from.
    config.addinivalue_line("filterwarnings", "ignore:Couldn't determine the remaining time left:UserWarning")
    config.addinivalue_line(
        "markers", "clock: depends on the time of day or the weekday (run by make test-clock at several pinned moments)"
    )
    if PINNED:
        from datetime import datetime

        import time_machine

        time_machine.travel(datetime.fromisoformat(PINNED), tick=True).start()


def pytest_report_header(config):
    return f"clock pinned at {PINNED} (TEST_CLOCK_AT)" if PINNED else None


@pytest.fixture(autouse=True)
def _fresh_settings_and_clock():
    from tests import helpers

    get_settings.cache_clear()
    helpers.forget_member_codes()  # a code belongs to the test (and table) that drew it
    yield
    clock.set_clock(None)
    get_settings.cache_clear()
