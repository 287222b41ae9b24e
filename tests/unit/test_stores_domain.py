from datetime import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.stores.domain import Period, distance_m, is_open

pytestmark = pytest.mark.clock  # depends on the time of day / weekday: make test-clock pins it

DAILY = [Period(d, "09:00", "23:00") for d in range(1, 8)]
LATE = [Period(d, "18:00", "02:00") for d in (5, 6)]  # Fri and Sat nights, past midnight


def test_distance_known_values():
    assert distance_m(29.56, 106.55, 29.56, 106.55) == 0
    # 解放碑 -> 观音桥 is about 5 km
    assert 4500 < distance_m(29.5575, 106.5772, 29.5760, 106.5330) < 5000
    # one degree of latitude is about 111 km
    assert 111_000 < distance_m(0, 0, 1, 0) < 111_400


@given(st.floats(-89, 89), st.floats(-179, 179), st.floats(-89, 89), st.floats(-179, 179))
def test_distance_symmetric_and_non_negative(a, b, c, d):
    assert distance_m(a, b, c, d) == distance_m(c, d, a, b) >= 0


def test_open_hours_same_day():
    mon = datetime(2026, 11, 23, 9, 0)  # a Monday
    assert is_open(DAILY, mon)
    assert is_open(DAILY, mon.replace(hour=22, minute=59))
    assert not is_open(DAILY, mon.replace(hour=23, minute=0))
    assert not is_open(DAILY, mon.replace(hour=8, minute=59))
    assert not is_open([], mon)


def test_open_hours_past_midnight():
    fri = datetime(2026, 11, 27, 18, 0)
    assert is_open(LATE, fri)
    assert is_open(LATE, datetime(2026, 11, 28, 1, 59))  # Saturday 01:59, Friday's night
    assert not is_open(LATE, datetime(2026, 11, 28, 2, 0))
    assert is_open(LATE, datetime(2026, 11, 29, 1, 0))  # Sunday 01:00, Saturday's night
    assert not is_open(LATE, datetime(2026, 11, 30, 1, 0))  # Monday 01:00: Sunday has no night
    assert not is_open(LATE, datetime(2026, 11, 27, 1, 0))  # Friday 01:00: Thursday has no night


def test_open_until_midnight_and_all_day():
    assert is_open([Period(1, "09:00", "24:00")], datetime(2026, 11, 23, 23, 59))
    assert not is_open([Period(1, "09:00", "24:00")], datetime(2026, 11, 24, 0, 0))
    all_day = [Period(1, "00:00", "00:00")]
    assert is_open(all_day, datetime(2026, 11, 23, 0, 0)) and is_open(all_day, datetime(2026, 11, 23, 23, 59))
