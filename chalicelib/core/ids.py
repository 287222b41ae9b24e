"""ULID ids (time-ordered, 26 chars Crockford base32)."""

from __future__ import annotations

import re

from ulid import ULID

from chalicelib.core import clock

ULID_RE = re.compile(r"^[0-9A-HJKMNP-TV-Z]{26}$")


def new_id() -> str:
    return str(ULID.from_datetime(clock.now()))


def is_ulid(value: str) -> bool:
    return bool(ULID_RE.match(value))
