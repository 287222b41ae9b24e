"""Pure store rules: distance and opening hours. No I/O."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

EARTH_RADIUS_M = 6_371_008.8


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
