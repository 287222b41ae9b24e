"""Points use cases: settings (head office), earning (sign-up, completed orders, check-ins, staff adjustments),
refunds (used points back, earned points taken back, in proportion), the ledger, the expiry job; and the
checkout seam orders uses (``rules()`` + ``domain.redeemable`` + ``repository.add_redeem/add_return``).

Every change is one TransactWriteItems (repository.commit): the account's update conditional on the version read,
the ledger entries, the lots its credits create, and a once-ever guard for changes caused by an event, so an event
delivered twice changes nothing even after the consumer's idempotency records have expired.
"""

from __future__ import annotations

import threading
import time as _time
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

from chalicelib.core import clock
from chalicelib.core.auth import Principal
from chalicelib.core.dynamo import Tx, TxCancelled, get_mark, register_cache, set_mark
from chalicelib.core.errors import Conflict, CoreCode, NotFound, ValidationFailed, invalid_cursor
from chalicelib.core.ids import is_ulid, new_id
from chalicelib.core.logging import logger
from chalicelib.identity import repository as identity
from chalicelib.identity.errors import IdentityCode
from chalicelib.points import domain, repository
from chalicelib.points.errors import PointsCode
from chalicelib.points.models import PointsAccountItem, PointsEntryItem
from chalicelib.points.repository import Change, Entry
from chalicelib.points.schemas import (
    AdjustmentIn,
    AdjustmentOut,
    CheckinOut,
    GiftOut,
    LedgerEntryOut,
    LedgerPage,
    RefOut,
    SettingsIn,
    SettingsOut,
)

ATTEMPTS = 5
EXPIRE_MARK = "points-expire"


class RetryLater(Exception):
    """An event that cannot be applied yet (it arrived before the one it depends on): the queue redelivers it."""


# --------------------------------------------------------------------------------------- settings
# Read by every checkout that redeems and every earning: one GetItem per SETTINGS_CACHE_S per process. A change
# shows at once in this process and within the TTL elsewhere (like promotions' live list).
SETTINGS_CACHE_S = 30.0
_settings: dict = register_cache({})
_refill = threading.Lock()


def rules() -> domain.Rules:
    """The points settings now (defaults until head office saves some)."""
    hit = _settings.get("rules")
    if hit is None or _time.monotonic() - hit[0] > SETTINGS_CACHE_S:
        with _refill:
            hit = _settings.get("rules")
            if hit is None or _time.monotonic() - hit[0] > SETTINGS_CACHE_S:
                stored = repository.get_settings()
                hit = _settings["rules"] = (_time.monotonic(), domain.Rules.from_dict(stored or {}))
    return hit[1]


def get_settings() -> SettingsOut:
    return SettingsOut(**rules().to_dict())


def put_settings(principal: Principal, cmd: SettingsIn) -> SettingsOut:
    days = [g.day for g in cmd.checkin_streak_gifts]
    if len(days) != len(set(days)):
        raise ValidationFailed(
            "Two streak gifts on one day",
            code=PointsCode.INVALID_POINTS_SETTINGS,
            details={"fields": [{"field": "checkin_streak_gifts", "message": "days must be unique"}]},
        )
    body = cmd.model_dump(mode="json")
    body["checkin_streak_gifts"] = sorted(body["checkin_streak_gifts"], key=lambda g: g["day"])
    new = domain.Rules.from_dict(body)
    repository.put_settings(new.to_dict(), principal.sub)
    _settings.clear()
    return SettingsOut(**new.to_dict())


def _expires_on(r: domain.Rules) -> str | None:
    day = domain.expires_on(clock.business_now().date(), r.expiry)
    return day.isoformat() if day else None


# --------------------------------------------------------------------------------------- changing a balance
def _apply(member_id: str, build: Callable[[PointsAccountItem | None], Change | None]) -> bool:
    """Read the account, build the change, commit it if the account did not change meanwhile (else again).
    False if its guard says it was already applied."""
    fold = _expires_on(rules())
    for _ in range(ATTEMPTS):
        seen = repository.get_account(member_id)
        change = build(seen)
        if change is None:
            return False
        try:
            repository.commit(change, seen, fold)
            return True
        except TxCancelled as e:
            kinds = {t[0] for t in e.failed if isinstance(t, tuple)}
            if "guard" in kinds:
                return False
            if "checkin" in kinds:
                raise _already_checked_in()
            if kinds == {"points"}:
                continue
            raise
    raise Conflict("The points account kept changing; retry", code=CoreCode.CONCURRENT_UPDATE)


def _credit(member_id: str, kind: str, points: int, ref_type: str, ref_id: str, guard: str | None) -> bool:
    r = rules()
    change = Change(
        member_id,
        entries=[Entry(kind, points, ref_type, ref_id)] if points else [],
        lots=[(points, _expires_on(r), kind)] if points else [],
        guard=(guard, points) if guard else None,
    )
    return _apply(member_id, lambda seen: change)


def on_member_joined(event: dict[str, Any]) -> None:
    """Sign-up points, once per member."""
    member_id = event["data"]["member_id"]
    points = rules().signup_points
    if points > 0:
        _credit(member_id, domain.SIGNUP, points, "member", member_id, "signup")


def _earn_ref(order_id: str) -> str:
    return f"earn#order#{order_id}"


def on_order_completed(event: dict[str, Any]) -> None:
    """Points for a completed order, once per order (guard; also written when the order earns 0, so a refund
    can tell "earned nothing" from "not completed yet")."""
    order = event["data"]
    if not order.get("member_id"):
        return
    points = domain.order_points(order, rules().earn_per_yuan)
    done = _credit(order["member_id"], domain.EARN, points, "order", order["order_id"], _earn_ref(order["order_id"]))
    logger.info("points earned", extra={"order_id": order["order_id"], "points": points, "applied": done})


def on_refund_completed(event: dict[str, Any]) -> None:
    """A refund gives back the points the order used and takes back what it earned, each in proportion to the
    refunded share of the payable (the balance may go negative: the claw-back is never lost). Once per refund."""
    order = event["data"]
    member_id, refund = order.get("member_id"), order.get("refund") or {}
    if not member_id or not refund.get("refund_id"):
        return
    amount, payable = int(refund.get("amount_fen") or 0), int(order.get("payable_fen") or 0)
    before = int(order.get("refunded_fen") or 0) - amount
    earned_guard = repository.get_guard(member_id, _earn_ref(order["order_id"]))
    if earned_guard is None and order.get("status") == "PARTIALLY_REFUNDED":
        raise RetryLater(f"order {order['order_id']} completed but its points are not credited yet")
    earned = int(earned_guard.points) if earned_guard else 0
    back = domain.proportional(domain.redeemed_points(order.get("applied")), before, amount, payable)
    take = domain.proportional(earned, before, amount, payable)
    if not back and not take:
        return
    rid = refund["refund_id"]
    entries = [Entry(domain.REFUND_RETURN, back, "refund", rid)] if back else []
    entries += [Entry(domain.REFUND_TAKEBACK, -take, "refund", rid)] if take else []
    change = Change(
        member_id,
        entries=entries,
        lots=[(back, _expires_on(rules()), domain.REFUND_RETURN)] if back else [],
        guard=(f"refund#{rid}", back - take),
    )
    _apply(member_id, lambda seen: change)


def on_points_returned(event: dict[str, Any]) -> None:
    """Points a cancelled checkout gave back (blind, ``add_return``) go into a lot of their own."""
    member_id = event["data"]["member_id"]
    _apply(member_id, lambda seen: Change(member_id, entries=[]) if seen and int(seen.unlotted or 0) > 0 else None)


def adjust(principal: Principal, member_id: str, cmd: AdjustmentIn) -> AdjustmentOut:
    """Head office adds or takes away points; never below 0 (409 INSUFFICIENT_POINTS)."""
    if cmd.points == 0:
        raise ValidationFailed(
            "An adjustment of 0 points changes nothing",
            details={"in": "body", "fields": [{"field": "points", "message": "must not be 0"}]},
        )
    if not is_ulid(member_id) or identity.get_member(member_id) is None:
        raise NotFound("No such member", code=IdentityCode.MEMBER_NOT_FOUND)
    entry_id = new_id()

    def build(seen: PointsAccountItem | None) -> Change:
        balance = int(seen.balance or 0) if seen else 0
        if balance + cmd.points < 0:
            raise Conflict(
                "The member does not have that many points",
                code=PointsCode.INSUFFICIENT_POINTS,
                details={"balance": balance, "points": cmd.points},
            )
        entry = Entry(domain.ADJUSTMENT, cmd.points, "adjustment", entry_id, cmd.reason, principal.sub, entry_id)
        lots = [(cmd.points, _expires_on(rules()), domain.ADJUSTMENT)] if cmd.points > 0 else []
        return Change(member_id, entries=[entry], lots=lots)

    _apply(member_id, build)
    acct = repository.get_account(member_id)
    return AdjustmentOut(member_id=member_id, entry_id=entry_id, points=cmd.points, balance=int(acct.balance))


# --------------------------------------------------------------------------------------- check-ins
GiveGift = Callable[[Tx, str, str], str | None]  # (the check-in's transaction, template id, check-in id) -> coupon id


def _already_checked_in() -> Conflict:
    return Conflict("You have already checked in today", code=PointsCode.ALREADY_CHECKED_IN)


def checkin(principal: Principal, give: GiveGift | None = None) -> CheckinOut:
    """Once per business day; the streak goes on from yesterday's check-in. A streak gift is given by the caller's
    ``give(tx, template_id, checkin_id)`` in the check-in's own transaction (it returns the coupon id, or None when
    the gift cannot be given); without ``give`` no gift is given."""
    member_id, r = principal.sub, rules()
    today = clock.business_now().date()
    if repository.get_checkin(member_id, today.isoformat()) is not None:
        raise _already_checked_in()
    last = repository.get_checkin(member_id, (today - timedelta(days=1)).isoformat())
    streak = domain.streak(today, date.fromisoformat(last.day) if last else None, int(last.streak_days) if last else 0)
    gift = domain.gift_for(streak, r.checkin_streak_gifts) if give is not None else None
    points = r.checkin_points
    item = repository.new_checkin(member_id, today.isoformat(), streak, points, gift.template_id if gift else None)
    given: dict[str, str | None] = {}

    def extra(tx) -> None:
        repository.add_checkin(tx, item)
        if gift:  # only with ``give``
            given["coupon_id"] = give(tx, gift.template_id, item.checkin_id)

    change = Change(
        member_id,
        entries=[Entry(domain.CHECKIN, points, "checkin", item.checkin_id)] if points else [],
        lots=[(points, _expires_on(r), domain.CHECKIN)] if points else [],
        extra=extra,
    )
    _apply(member_id, lambda seen: change)
    coupon_id = given.get("coupon_id")
    return CheckinOut(
        date=today, streak_days=streak, points_awarded=points, gift=GiftOut(coupon_id=coupon_id) if coupon_id else None
    )


# --------------------------------------------------------------------------------------- the ledger
def _cursor(cursor: str | None) -> tuple[str | None, int | None]:
    """Our cursor is the table's cursor and the balance after the next (older) entry: "<key>.<balance>"."""
    if cursor is None:
        return None, None
    inner, _, running = cursor.rpartition(".")
    try:
        return inner, int(running)
    except ValueError:
        raise invalid_cursor()


def _entry_out(e: PointsEntryItem, balance_after: int) -> LedgerEntryOut:
    ref = RefOut(type=e.ref_type, id=e.ref_id) if e.ref_type and e.ref_id else None
    return LedgerEntryOut(
        entry_id=e.entry_id,
        at=e.created_at,
        kind=e.entry_kind,
        amount=int(e.amount),
        balance_after=balance_after,
        ref=ref,
    )


def ledger(principal: Principal, limit: int, cursor: str | None) -> LedgerPage:
    """My entries, newest first. ``balance_after`` is worked out back from the balance (sum of the ledger ==
    the balance), because a redemption written blind inside a checkout cannot know it; the first page is read
    between two reads of the same account version, so it is one consistent picture."""
    inner, running = _cursor(cursor)
    member_id = principal.sub
    for _ in range(ATTEMPTS):
        acct = repository.get_account(member_id)
        pg = repository.ledger_page(member_id, limit, inner)
        if running is not None:
            break
        again = repository.get_account(member_id)
        if (acct and int(acct.version)) == (again and int(again.version)):
            running = int(acct.balance) if acct else 0
            break
    else:
        raise Conflict("The points account kept changing; retry", code=CoreCode.CONCURRENT_UPDATE)
    items = []
    for e in pg.items:
        items.append(_entry_out(e, running))
        running -= int(e.amount)
    return LedgerPage(items=items, next=f"{pg.next}.{running}" if pg.next else None)


# --------------------------------------------------------------------------------------- expiry
def _expire_one(lot) -> int:
    """Expire what is left of one lot (FIFO, from the account alone); the lot's own condition makes it once."""
    for _ in range(ATTEMPTS):
        seen = repository.get_account(lot.member_id)
        used = domain.consumed(int(seen.earned or 0), int(seen.unlotted or 0), int(seen.balance or 0)) if seen else 0
        left = domain.lot_left(int(lot.start), int(lot.amount), used)
        try:
            repository.expire_lot(lot, seen, left)
            return left
        except TxCancelled as e:
            if ("lot", lot.lot_id) in e.failed:
                return 0
            if ("points", lot.member_id) in e.failed:
                continue
            raise
    raise Conflict("The points account kept changing; retry", code=CoreCode.CONCURRENT_UPDATE)


def expire_due(now: datetime | None = None, first_days_back: int = 14) -> dict[str, int]:
    """Expire lots whose last day is over, reading only the day buckets that ended since the last run (never a
    Scan). A lot is expired once; each member's lots in FIFO order."""
    now = now or clock.now()
    yesterday = now.astimezone(clock.business_tz()).date() - timedelta(days=1)
    read = lots = points = 0
    for day in clock.days_since(get_mark(EXPIRE_MARK), yesterday, first_days_back):
        for lot in sorted(repository.due_lots(day.isoformat()), key=lambda x: (x.member_id, int(x.start))):
            read += 1
            left = _expire_one(lot)
            lots, points = lots + 1, points + left
        set_mark(EXPIRE_MARK, day.isoformat())
    return {"read": read, "processed": lots, "points": points}
