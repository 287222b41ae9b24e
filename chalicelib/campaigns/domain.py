"""Pure campaign rules: schedules (EventBridge syntax, UTC), segment rules over member stats, rule tags, what a
campaign does for one member. No boto3, no PynamoDB, no settings, no clock (callers pass times in)."""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

# ------------------------------------------------------------------------------------------- constants
DORMANT_DAYS = 90
WAKEUP_TRIES = 3
BIG_SPENDER_FEN = 500_000  # 5,000 yuan paid (less refunds) makes a big spender
LOVER_SHARE_BP = 5_000  # a category with at least half of the spend ...
LOVER_MIN_ORDERS = 3  # ... over at least 3 paid orders makes a "<category>_lover"
ATTRIBUTION_DAYS = 14  # an order redeeming a campaign coupon within 14 days of the run counts for that run
COUNTER_SHARDS = 8  # a run's counters are spread over this many items (no single hot item)

BIG_SPENDER, DORMANT, HIGH_CHURN_RISK = "big_spender", "dormant", "high_churn_risk"
RULE_TAGS = (BIG_SPENDER, DORMANT, HIGH_CHURN_RISK)  # plus "<category>_lover"
DORMANT_WAKEUP, BIRTHDAY = "dormant_wakeup", "birthday"
RECIPES = (DORMANT_WAKEUP, BIRTHDAY)
SKIP_REASONS = ("cap", "opted_out", "no_phone", "quiet_hours", "budget", "coupon_unavailable")
COUNTERS = ("sent", "coupons_issued", *SKIP_REASONS, "churned", "redeemed", "revenue_fen")


# ------------------------------------------------------------------------------------------- schedules
class ScheduleError(ValueError):
    pass


_RATE = re.compile(r"^rate\(\s*(\d+)\s+(minute|minutes|hour|hours|day|days)\s*\)$")
_UNIT_S = {"minute": 60, "hour": 3600, "day": 86400}
MAX_RATE_S = 3650 * 86400
_DAY_NAMES = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")  # EventBridge: 1 = SUN .. 7 = SAT


def _dow_token(tok: str) -> str:
    """One day-of-week value or range in EventBridge numbering as croniter's (0 = SUN)."""
    if "#" in tok:
        day, _, k = tok.partition("#")
        return f"{_dow_token(day)}#{k}"
    parts = tok.split("-")
    out = []
    for p in parts:
        up = p.upper()
        if up in _DAY_NAMES:
            out.append(str(_DAY_NAMES.index(up)))
        elif p.isdigit() and 1 <= int(p) <= 7:
            out.append(str(int(p) - 1))
        else:
            raise ScheduleError(f"cron day-of-week: {p!r}")
    if len(out) == 2 and int(out[0]) > int(out[1]):
        raise ScheduleError("cron day-of-week: a wrapping range is not supported here")
    return "-".join(out)


def _dow_field(spec: str) -> str:
    if spec in ("?", "*"):
        return "*"
    out = []
    for part in spec.split(","):
        base, slash, step = part.partition("/")
        out.append(("*" if base == "*" else _dow_token(base)) + (f"/{step}" if slash else ""))
    return ",".join(out)


def cron_fields(expression: str) -> str:
    """``cron(min hour dom month dow year)`` as croniter's 7 fields (min hour dom month dow second year)."""
    body = expression[5:-1].strip()
    parts = body.split()
    if len(parts) != 6:
        raise ScheduleError("cron needs 6 fields: minutes hours day-of-month month day-of-week year")
    minute, hour, dom, month, dow, year = parts
    if (dom == "?") == (dow == "?"):
        raise ScheduleError("cron: exactly one of day-of-month and day-of-week must be '?'")
    if "W" in dom.upper() or "L" in dow.upper():
        raise ScheduleError("cron: W and day-of-week L are not supported for campaigns")
    return " ".join((minute, hour, "*" if dom == "?" else dom, month, _dow_field(dow), "0", year))


@dataclass(frozen=True)
class Schedule:
    """``kind``: "cron", "rate" or "at"; ``text`` as given (``at``: RFC 3339 UTC)."""

    kind: str
    text: str

    def next_after(self, after: datetime, anchor: datetime) -> datetime | None:
        """The first fire time strictly after ``after``; rates count from ``anchor`` (start or creation)."""
        if self.kind == "at":
            at = datetime.fromisoformat(self.text.replace("Z", "+00:00"))
            return at if at > after else None
        if self.kind == "rate":
            step = rate_seconds(self.text)
            if after < anchor:
                return anchor
            n = int((after - anchor).total_seconds() // step) + 1
            return anchor + timedelta(seconds=n * step)
        return _cron_next(cron_fields(self.text), after)


def rate_seconds(text: str) -> int:
    m = _RATE.match(text.strip())
    if not m or int(m.group(1)) <= 0:
        raise ScheduleError("rate needs a positive number and minute(s), hour(s) or day(s)")
    n, unit = int(m.group(1)), m.group(2).rstrip("s")
    if (n == 1) != (m.group(2) == unit):
        raise ScheduleError("rate: 1 takes a singular unit, more a plural one (EventBridge)")
    if n * _UNIT_S[unit] > MAX_RATE_S:
        raise ScheduleError("rate: at most 10 years")
    return n * _UNIT_S[unit]


def _cron_next(fields: str, after: datetime) -> datetime | None:
    from croniter import CroniterBadDateError, croniter  # only when a campaign is scheduled (cold start)

    try:
        fire = croniter(fields, after.astimezone(UTC).replace(tzinfo=None), day_or=False).get_next(datetime)
    except CroniterBadDateError:
        return None
    return fire.replace(tzinfo=UTC)


def parse_schedule(value: Any) -> Schedule:
    """A schedule from the API: ``"cron(...)"``, ``"rate(...)"`` or ``{"at": datetime}``. Raises ScheduleError."""
    if isinstance(value, Mapping):
        at = value.get("at")
        if not isinstance(at, datetime) or at.tzinfo is None:
            raise ScheduleError("at must be an RFC 3339 time with an offset")
        return Schedule("at", at.astimezone(UTC).isoformat().replace("+00:00", "Z"))
    text = str(value).strip()
    if text.startswith("rate("):
        rate_seconds(text)
        return Schedule("rate", text)
    if text.startswith("cron(") and text.endswith(")"):
        fields = cron_fields(text)
        from croniter import croniter

        if not croniter.is_valid(fields):
            raise ScheduleError(f"{text} is not a valid cron expression")
        return Schedule("cron", text)
    raise ScheduleError("a schedule is cron(...), rate(...) or {at}")


def run_id(fire: datetime) -> str:
    """A run is named by its fire time (minute): firing the same time twice is the same run."""
    return fire.astimezone(UTC).strftime("%Y%m%dT%H%MZ")


def hour_bucket(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H")


# ------------------------------------------------------------------------------------------- member stats
@dataclass
class Stats:
    """What campaigns know about a member (kept from events)."""

    member_id: str
    registered_day: str | None = None
    birthday: str | None = None  # YYYY-MM-DD
    level_id: str | None = None
    first_order_at: str | None = None
    first_store_id: str | None = None
    last_order_at: str | None = None
    last_order_day: str | None = None  # business day
    last_store_id: str | None = None
    orders: int = 0
    spend_fen: int = 0
    category_spend: dict[str, int] = field(default_factory=dict)
    category_orders: dict[str, int] = field(default_factory=dict)
    store_ids: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)  # manual
    rule_tags: list[str] = field(default_factory=list)
    wakeups: int = 0  # wake-ups since the last order
    last_contacted_at: str | None = None

    @property
    def all_tags(self) -> set[str]:
        return set(self.tags) | set(self.rule_tags)


def line_spend(lines: Iterable[Mapping[str, Any]], amount_key: str = "payable_fen") -> dict[str, int]:
    """Paid amount per category of an order's (or a refund's) lines."""
    out: dict[str, int] = {}
    for ln in lines:
        cat = ln.get("category") or "other"
        out[cat] = out.get(cat, 0) + int(ln.get(amount_key) or 0)
    return out


def apply_order(s: Stats, order: Mapping[str, Any], day: str) -> None:
    """A paid order: counts, spend (paid amount), spend per category, first/last order and store."""
    at = order.get("paid_at") or order.get("created_at")
    s.orders += 1
    s.spend_fen += int(order.get("payable_fen") or 0)
    for cat, fen in line_spend(order.get("lines") or []).items():
        s.category_spend[cat] = s.category_spend.get(cat, 0) + fen
        s.category_orders[cat] = s.category_orders.get(cat, 0) + 1
    if s.first_order_at is None:
        s.first_order_at, s.first_store_id = at, order.get("store_id")
    if s.last_order_at is None or (at and at >= s.last_order_at):
        s.last_order_at, s.last_order_day, s.last_store_id = at, day, order.get("store_id")
    if order.get("store_id") and order["store_id"] not in s.store_ids:
        s.store_ids.append(order["store_id"])
    s.wakeups = 0


def apply_refund(s: Stats, refund: Mapping[str, Any], lines: Iterable[Mapping[str, Any]]) -> None:
    """A completed refund takes its amount back from the spend (and its lines' from their categories); a full
    refund also takes the order back from the count."""
    amount = int(refund.get("amount_fen") or 0)
    s.spend_fen = max(0, s.spend_fen - amount)
    for cat, fen in line_spend(refund.get("lines") or [], "refund_fen").items():
        s.category_spend[cat] = max(0, s.category_spend.get(cat, 0) - fen)
    if refund.get("full"):
        s.orders = max(0, s.orders - 1)
        for cat in line_spend(lines):
            s.category_orders[cat] = max(0, s.category_orders.get(cat, 0) - 1)


def days_between(earlier: str, later: date) -> int:
    return (later - date.fromisoformat(earlier)).days


def rule_tags(s: Stats, today: date) -> list[str]:
    """The nightly rule tags: big spender, dormant, <category>_lover; high churn risk stays once given."""
    out = []
    if s.spend_fen >= BIG_SPENDER_FEN:
        out.append(BIG_SPENDER)
    if s.last_order_day and days_between(s.last_order_day, today) >= DORMANT_DAYS:
        out.append(DORMANT)
    total = sum(s.category_spend.values())
    for cat, fen in sorted(s.category_spend.items()):
        if total and fen * 10_000 >= total * LOVER_SHARE_BP and s.category_orders.get(cat, 0) >= LOVER_MIN_ORDERS:
            out.append(f"{cat}_lover")
    if HIGH_CHURN_RISK in s.rule_tags:
        out.append(HIGH_CHURN_RISK)
    return out


# ------------------------------------------------------------------------------------------- segments
def _between(v: int, lo: int | None, hi: int | None) -> bool:
    return (lo is None or v >= lo) and (hi is None or v <= hi)


def matches(s: Stats, rules: Mapping[str, Any], today: date) -> bool:
    """Whether a member is in a segment: every given rule holds (``today``: the business date)."""
    r = rules
    tags = s.all_tags
    if r.get("level_ids") and s.level_id not in r["level_ids"]:
        return False
    if r.get("tags_any") and not tags & set(r["tags_any"]):
        return False
    if r.get("tags_none") and tags & set(r["tags_none"]):
        return False
    if r.get("store_ids") and not set(s.store_ids) & set(r["store_ids"]):
        return False
    if r.get("last_order_days_min") is not None or r.get("last_order_days_max") is not None:
        if not s.last_order_day:
            return False
        if not _between(
            days_between(s.last_order_day, today), r.get("last_order_days_min"), r.get("last_order_days_max")
        ):
            return False
    if not _between(s.orders, r.get("orders_min"), r.get("orders_max")):
        return False
    if not _between(s.spend_fen, r.get("spend_fen_min"), r.get("spend_fen_max")):
        return False
    if r.get("birthday") and not birthday_matches(s.birthday, r["birthday"], today):
        return False
    if r.get("registered_days_min") is not None or r.get("registered_days_max") is not None:
        if not s.registered_day or not _between(
            days_between(s.registered_day, today), r.get("registered_days_min"), r.get("registered_days_max")
        ):
            return False
    return True


def birthday_matches(birthday: str | None, which: str, today: date) -> bool:
    if not birthday:
        return False
    month, day = int(birthday[5:7]), int(birthday[8:10])
    if month == 2 and day == 29 and not _leap(today.year):
        day = 28  # 29 February is celebrated on the 28th in other years
    if which == "this_month":
        return month == today.month
    return (month, day) == (today.month, today.day)


def _leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def birthday_days(which: str, today: date) -> list[str]:
    """The ``DD`` keys of the birthday index to read for ``today`` ("this_month": the whole month)."""
    if which == "this_month":
        return []
    days = [f"{today.day:02d}"]
    if today.month == 2 and today.day == 28 and not _leap(today.year):
        days.append("29")
    return days


@dataclass(frozen=True)
class Driver:
    """Which index a segment is read from: "birthday" (month, days), "last_order" (day range), "tag", "level",
    or "all" (every level partition)."""

    index: str
    lo: str | None = None
    hi: str | None = None
    values: tuple[str, ...] = ()


def driver(rules: Mapping[str, Any], today: date) -> Driver:
    """The most selective index for the rules (the others are checked on what it returns)."""
    if rules.get("birthday"):
        return Driver("birthday", lo=f"{today.month:02d}", values=tuple(birthday_days(rules["birthday"], today)))
    lo_days, hi_days = rules.get("last_order_days_min"), rules.get("last_order_days_max")
    if lo_days is not None or hi_days is not None:
        newest = (today - timedelta(days=lo_days)).isoformat() if lo_days is not None else "9999"
        oldest = (today - timedelta(days=hi_days)).isoformat() if hi_days is not None else "0000"
        return Driver("last_order", lo=oldest, hi=newest)
    if rules.get("tags_any"):
        return Driver("tag", values=tuple(sorted(rules["tags_any"])))
    if rules.get("level_ids"):
        return Driver("level", values=tuple(sorted(rules["level_ids"])))
    return Driver("all")


def recipe_rules(recipe: str) -> dict[str, Any]:
    if recipe == DORMANT_WAKEUP:
        return {"last_order_days_min": DORMANT_DAYS, "tags_none": [HIGH_CHURN_RISK]}
    return {"birthday": "today"}


# ------------------------------------------------------------------------------------------- one member
def capped(last_contacted_at: str | None, now: datetime, cap_days: int) -> bool:
    if not last_contacted_at or cap_days <= 0:
        return False
    return datetime.fromisoformat(last_contacted_at.replace("Z", "+00:00")) > now - timedelta(days=cap_days)


def cap_cutoff(now: datetime, cap_days: int) -> datetime:
    return now - timedelta(days=cap_days)


@dataclass(frozen=True)
class Plan:
    """What a run does for one member: ``outcome`` is "send" (coupon and/or SMS), "churn" (tag and stop) or
    "skip"; ``reason`` why the SMS (or everything) is skipped."""

    outcome: str
    coupon: bool = False
    sms: bool = False
    reason: str | None = None


def plan(member: Mapping[str, Any], actions: list[Mapping[str, Any]], recipe: str | None, sms_state: str) -> Plan:
    """``sms_state``: "ok", "no_phone", "opted_out" or "quiet_hours" for this member now."""
    if recipe == DORMANT_WAKEUP and int(member.get("wakeups") or 0) >= WAKEUP_TRIES:
        return Plan("churn")
    kinds = {a["type"] for a in actions}
    coupon = "coupon" in kinds
    sms = "sms" in kinds and sms_state == "ok"
    reason = sms_state if "sms" in kinds and sms_state != "ok" else None
    if not coupon and not sms:
        return Plan("skip", reason=reason)
    return Plan("send", coupon=coupon, sms=sms, reason=reason)


def shard(member_id: str) -> int:
    return zlib.crc32(member_id.encode()) % COUNTER_SHARDS


def within_attribution(issued_at: str, paid_at: datetime) -> bool:
    issued = datetime.fromisoformat(issued_at.replace("Z", "+00:00"))
    return issued <= paid_at <= issued + timedelta(days=ATTRIBUTION_DAYS)


# ------------------------------------------------------------------------------------------- triggered campaigns
REFUND_COMPLETED, RECHARGE_REFUNDED = "refund_completed", "recharge_refunded"
TRIGGERS = (REFUND_COMPLETED, RECHARGE_REFUNDED)


def trigger_applies(
    status: str, start_at: str | None, end_at: str | None, min_fen: int | None, at: datetime, amount_fen: int
) -> bool:
    """Whether a refund of ``amount_fen`` at ``at`` sets off a triggered campaign: active (not paused), ``at``
    within [start, end], and at least ``min_fen``."""
    if status != "ACTIVE":
        return False
    if start_at and at < datetime.fromisoformat(start_at.replace("Z", "+00:00")):
        return False
    if end_at and at > datetime.fromisoformat(end_at.replace("Z", "+00:00")):
        return False
    return amount_fen >= int(min_fen or 0)


def day_run_id(day: date) -> str:
    """A triggered campaign's run: one per business day (the events of that day), e.g. ``20261202``."""
    return day.strftime("%Y%m%d")


def marker_scope(recipe: str | None, run: str, fire: datetime) -> str:
    """The key a member's effect is once per: the run; for birthdays the year (once a year however often the
    campaign fires)."""
    return f"Y{fire.year}" if recipe == BIRTHDAY else run
