"""One injectable clock. Code asks ``now()``; tests and the local stack may freeze or move it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo

from chalicelib.core.settings import get_settings


def _system_now() -> datetime:
    return datetime.now(UTC)


_now: Callable[[], datetime] = _system_now


def now() -> datetime:
    """Current time, timezone-aware UTC."""
    return _now()


def set_clock(fn: Callable[[], datetime] | None) -> None:
    """Replace the clock (tests). ``None`` restores the system clock."""
    global _now
    _now = fn or _system_now


_outside: list[Callable[[], datetime]] = []  # the clocks ``pinned`` blocks replaced, innermost last


@contextmanager
def pinned(at: datetime) -> Iterator[None]:
    """The clock reads ``at`` inside (an import of history dated in the past); as it was again afterwards."""
    global _now

    def frozen() -> datetime:
        return at

    _outside.append(_now)
    _now = frozen
    try:
        yield
    finally:
        _now = _outside.pop()


def written_now() -> datetime:
    """When something is really being written: ``now()`` outside any ``pinned`` block (history imported with a
    pinned clock is still written now, e.g. into the outbox's current hour, where the relay sweep looks)."""
    return _outside[0]() if _outside else _now()


def start_at(at: datetime) -> None:
    """Time starts at ``at`` now and runs on at the normal pace (the local stack's ``CLOCK_AT``)."""
    if at.tzinfo is None:
        raise ValueError("the start time needs a UTC offset, e.g. 2026-12-04T03:30:00+08:00")
    offset = at - datetime.now(UTC)
    set_clock(lambda: datetime.now(UTC) + offset)


@lru_cache(maxsize=8)
def _zone(name: str) -> tzinfo:
    return ZoneInfo(name)


def business_tz() -> tzinfo:
    return _zone(get_settings().business_tz)


def business_now() -> datetime:
    return now().astimezone(business_tz())


def iso(dt: datetime) -> str:
    """RFC 3339 in UTC with a trailing Z, millisecond precision."""
    return dt.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse(value: str) -> datetime:
    """An RFC 3339 time (``...Z`` or ``...+08:00``) as an aware datetime; a time without an offset is UTC.
    ValueError if it is not a time."""
    dt = datetime.fromisoformat(value)
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=UTC)


def days_since(mark: str | None, until: date, first_back: int, again: bool = False) -> list[date]:
    """The days a sweep reads, oldest first, up to ``until``: every day after its ``mark`` (the mark's own day too
    with ``again``), however long ago (after an outage it catches up on every day it missed: what is due is never
    left unread); with no mark (the first run ever) the last ``first_back`` days."""
    if mark:
        start = date.fromisoformat(mark) + timedelta(days=0 if again else 1)
    else:
        start = until - timedelta(days=first_back)
    return [start + timedelta(days=i) for i in range((until - start).days + 1)]


HOUR_MARK = "%Y-%m-%dT%H"  # how an hourly sweep's mark names the last hour it read whole (UTC)


def hours_since(mark: str | None, now: datetime, first_back_hours: int) -> list[datetime]:
    """The UTC hours (their starts) an hourly-bucket sweep reads, oldest first, up to ``now``'s: every hour after
    its ``mark`` (a :data:`HOUR_MARK` string), however long ago; with no mark the last ``first_back_hours``."""
    if mark:
        start = datetime.strptime(mark, HOUR_MARK).replace(tzinfo=UTC) + timedelta(hours=1)
    else:
        start = now - timedelta(hours=first_back_hours)
    hour, last = start.replace(minute=0, second=0, microsecond=0), now.astimezone(UTC)
    hours = []
    while hour <= last:
        hours.append(hour)
        hour += timedelta(hours=1)
    return hours
