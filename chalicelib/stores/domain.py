"""Pure store rules: distance and opening hours. No I/O."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

EARTH_RADIUS_M = 6_371_008.8
# Accept deadlines of a store that set none (minutes of opening time after payment).
DEFAULT_ACCEPT_DEADLINES = {"remind_after_min": 5, "escalate_after_min": 10, "refund_after_min": 30}


def distance_m(lat1: float, lng1: float, lat2: float, lng2: float) -> int:
    """Great-circle (haversine) distance in whole metres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lng2 - lng1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return int(round(2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))))


@dataclass(frozen=True)
class Period:
    weekday: int  # 1 = Monday .. 7 = Sunday
    open: str  # "HH:MM"
    close: str  # "HH:MM" or "24:00"; at/before open = past midnight


def _minutes(hhmm: str) -> int:
    h, m = hhmm.split(":")
    return int(h) * 60 + int(m)


def is_open(periods: Iterable[Period], local: datetime) -> bool:
    """Whether a store with these periods is open at ``local`` (a time in the business time zone)."""
    minute = local.hour * 60 + local.minute
    today = local.isoweekday()
    yesterday = (local - timedelta(days=1)).isoweekday()
    for p in periods:
        start, end = _minutes(p.open), _minutes(p.close)
        overnight = end <= start
        if p.weekday == today:
            if overnight and minute >= start:
                return True
            if not overnight and start <= minute < end:
                return True
        if overnight and p.weekday == yesterday and minute < end:
            return True
    return False


def periods_from(raw: Sequence[dict]) -> list[Period]:
    return [Period(int(p["weekday"]), p["open"], p["close"]) for p in raw]


def open_intervals(periods: Sequence[Period], start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    """The store's open intervals overlapping [start, end) (local, aware times), merged and in order. A store
    without opening hours counts as always open (nothing would ever be due otherwise)."""
    if not periods:
        return [(start, end)]
    out: list[tuple[datetime, datetime]] = []
    day = (start - timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    while day < end:
        for p in periods:
            if p.weekday != day.isoweekday():
                continue
            a, b = _minutes(p.open), _minutes(p.close)
            if b <= a:
                b += 24 * 60
            lo, hi = max(start, day + timedelta(minutes=a)), min(end, day + timedelta(minutes=b))
            if lo < hi:
                out.append((lo, hi))
        day = (day + timedelta(days=1, hours=2)).replace(hour=0)  # DST-safe step to the next midnight
    out.sort()
    merged: list[tuple[datetime, datetime]] = []
    for lo, hi in out:
        if merged and lo <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(hi, merged[-1][1]))
        else:
            merged.append((lo, hi))
    return merged


def after_open_minutes(periods: Sequence[Period], start: datetime, minutes: int, horizon_days: int = 8) -> datetime:
    """The moment ``minutes`` of opening time have passed since ``start`` (local, aware): time while the store
    is closed does not count. Past the horizon (a store closed for a week) the horizon's end is answered."""
    left = timedelta(minutes=minutes)
    end = start + timedelta(days=horizon_days)
    for lo, hi in open_intervals(periods, start, end):
        if hi - lo >= left:
            return lo + left
        left -= hi - lo
    return end
