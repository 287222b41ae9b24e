"""The only code that reads or writes points settings, accounts, ledger entries, lots, check-ins and guards.

Every change of a balance is ONE TransactWriteItems: the account's conditional update and the ledger entry
(entries) explaining it. Two kinds of change:

- read-modify-write (:func:`commit`: earnings, check-ins, adjustments, refunds; :func:`expire_lot`): the account
  was read (consistent) and the update is conditional on its ``version``, so new lots get exact offsets;
- blind, inside another use case's transaction (:func:`add_redeem`, :func:`add_return`: checkout, cancel): no
  read, ``balance >= points`` for a redemption; they never touch ``earned`` and only ever lower ``consumed``
  (domain docstring), so FIFO still holds without reading any lot.

Transaction tags: ("points", member_id) the account, ("guard", ref), ("lot", lot_id), ("checkin", day).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from chalicelib.core import clock, events
from chalicelib.core.dynamo import Page, Tx, page, transaction
from chalicelib.core.ids import new_id
from chalicelib.core.ledger import Book, audit_accounts, business_day, day_bucket
from chalicelib.points import domain
from chalicelib.points.models import (
    ACCOUNT_SK,
    AUDIT_DAY_PREFIX,
    META,
    SETTINGS_PK,
    CheckinItem,
    PointsAccountItem,
    PointsEntryItem,
    PointsGuardItem,
    PointsLotItem,
    PointsSettingsItem,
    checkin_sk,
    entry_sk,
    expiry_gsi1pk,
    guard_sk,
    lot_sk,
    member_pk,
)


# --------------------------------------------------------------------------------------- settings
def get_settings() -> dict[str, Any] | None:
    item = PointsSettingsItem.get_or_none(SETTINGS_PK, META, consistent_read=True)
    return item.rules if item else None


def put_settings(rules: dict[str, Any], actor: str) -> None:
    now = clock.now()
    PointsSettingsItem(SETTINGS_PK, META, rules=rules, updated_by=actor, created_at=now, updated_at=now).save()


# --------------------------------------------------------------------------------------- accounts
def account_key(member_id: str) -> tuple[str, str]:
    """The account's key, for a checkout's one BatchGetItem."""
    return member_pk(member_id), ACCOUNT_SK


def balance_in(got: Mapping[tuple[str, str], Any], member_id: str) -> int:
    """The member's balance among the items of a BatchGetItem (0 if the member has no account yet)."""
    item = got.get(account_key(member_id))
    return int(item.balance or 0) if isinstance(item, PointsAccountItem) else 0


def get_account(member_id: str) -> PointsAccountItem | None:
    return PointsAccountItem.get_or_none(member_pk(member_id), ACCOUNT_SK, consistent_read=True)


def _account(member_id: str) -> PointsAccountItem:
    return PointsAccountItem(member_pk(member_id), ACCOUNT_SK)


def _entry(member_id: str, entry_id: str, kind: str, amount: int, ref_type, ref_id, **extra) -> PointsEntryItem:
    now = clock.now()
    return PointsEntryItem(
        member_pk(member_id),
        entry_sk(entry_id),
        entry_id=entry_id,
        member_id=member_id,
        entry_kind=kind,
        amount=amount,
        ref_type=ref_type,
        ref_id=ref_id,
        created_at=now,
        gsi3pk=day_bucket(AUDIT_DAY_PREFIX, business_day(now)),
        gsi3sk=f"{member_id}#{entry_id}",
        **extra,
    )


def _blind(tx: Tx, member_id: str, kind: str, delta: int, ref_type: str, ref_id: str, actions: list, condition):
    now = clock.now()
    tx.update(
        _account(member_id),
        [
            PointsAccountItem.balance.add(delta),
            PointsAccountItem.version.add(1),
            PointsAccountItem.kind.set(PointsAccountItem),
            PointsAccountItem.member_id.set(member_id),
            PointsAccountItem.updated_at.set(now),
            *actions,
        ],
        condition=condition,
        tag=("points", member_id),
    )
    tx.save(_entry(member_id, new_id(), kind, delta, ref_type, ref_id), tag=("points-entry", member_id))


def balance_tag(member_id: str) -> tuple[str, str]:
    """The tag of a member's points balance update in a transaction (``TxCancelled.failed`` names it when the
    balance did not cover a redemption)."""
    return ("points", member_id)


def add_redeem(tx: Tx, member_id: str, points: int, ref_type: str, ref_id: str) -> None:
    """An order uses ``points`` (checkout, in its transaction): balance -points if ``balance >= points`` (a
    failure is tagged ("points", member_id)), with its "redeem" entry. Reads nothing: FIFO follows from the
    balance (see the module docstring)."""
    if points <= 0:
        raise ValueError("points to redeem must be positive")
    _blind(tx, member_id, domain.REDEEM, -points, ref_type, ref_id, [], PointsAccountItem.balance >= points)


def add_return(tx: Tx, member_id: str, points: int, ref_type: str, ref_id: str) -> None:
    """Give back ``points`` an order used (its cancellation or timeout, in that transaction): balance +points
    and a "return" entry. The points wait in ``unlotted`` until the next change of the account (or the
    ``PointsReturned`` subscriber) puts them in a new lot."""
    if points <= 0:
        raise ValueError("points to return must be positive")
    _blind(tx, member_id, domain.RETURN, points, ref_type, ref_id, [PointsAccountItem.unlotted.add(points)], None)
    events.add(tx, [events.Event("PointsReturned", {"member_id": member_id, "points": points, "ref_id": ref_id})])


# --------------------------------------------------------------------------------------- read-modify-write
@dataclass
class Entry:
    kind: str
    amount: int
    ref_type: str | None = None
    ref_id: str | None = None
    note: str | None = None
    actor: str | None = None
    entry_id: str | None = None


@dataclass
class Change:
    """One read-modify-write change of a member's points: its entries, the lots its credits create, an optional
    once-ever guard (``ref``, points) and ``extra`` items written in the same transaction (a check-in, events)."""

    member_id: str
    entries: list[Entry]
    lots: list[tuple[int, str | None, str]] = field(default_factory=list)  # (amount, expires_on, source)
    guard: tuple[str, int] | None = None
    extra: Callable[[Tx], None] | None = None


def _lot(member_id: str, start: int, amount: int, expires_on: str | None, source: str) -> PointsLotItem:
    lot_id, now = new_id(), clock.now()
    item = PointsLotItem(
        member_pk(member_id),
        lot_sk(lot_id),
        lot_id=lot_id,
        member_id=member_id,
        start=start,
        amount=amount,
        earned_at=clock.iso(now),
        expires_on=expires_on,
        source=source,
        created_at=now,
    )
    if expires_on:
        item.gsi1pk, item.gsi1sk = expiry_gsi1pk(expires_on), f"{member_id}#{lot_id}"
    return item


def commit(change: Change, seen: PointsAccountItem | None, fold_expires_on: str | None) -> None:
    """Write ``change`` if the account is still as ``seen`` (version). Points returned blind since (unlotted)
    go into a lot of their own first (expiring on ``fold_expires_on``). Raises TxCancelled."""
    m = change.member_id
    earned, unlotted = (int(seen.earned or 0), int(seen.unlotted or 0)) if seen else (0, 0)
    lots = ([(unlotted, fold_expires_on, domain.RETURN)] if unlotted > 0 else []) + list(change.lots)
    version = PointsAccountItem.version
    with transaction() as tx:
        start = earned
        for amount, expires_on, source in lots:
            tx.save(_lot(m, start, amount, expires_on, source), tag=("lot", m))
            start += amount
        tx.update(
            _account(m),
            [
                PointsAccountItem.balance.add(sum(e.amount for e in change.entries)),
                PointsAccountItem.earned.add(start - earned),
                PointsAccountItem.unlotted.add(-unlotted),
                version.add(1),
                PointsAccountItem.kind.set(PointsAccountItem),
                PointsAccountItem.member_id.set(m),
                PointsAccountItem.updated_at.set(clock.now()),
            ],
            condition=(version == int(seen.version or 0)) if seen else version.does_not_exist(),
            tag=("points", m),
        )
        for entry_id, e in zip(sorted(new_id() for _ in change.entries), change.entries):
            tx.save(
                _entry(m, e.entry_id or entry_id, e.kind, e.amount, e.ref_type, e.ref_id, note=e.note, actor=e.actor),
                tag=("points-entry", m),
            )
        if change.guard is not None:
            ref, points = change.guard
            tx.save(
                PointsGuardItem(member_pk(m), guard_sk(ref), member_id=m, points=points, created_at=clock.now()),
                condition=PointsGuardItem.pk.does_not_exist(),
                tag=("guard", ref),
            )
        if change.extra is not None:
            change.extra(tx)


def get_guard(member_id: str, ref: str) -> PointsGuardItem | None:
    return PointsGuardItem.get_or_none(member_pk(member_id), guard_sk(ref), consistent_read=True)


# --------------------------------------------------------------------------------------- check-ins
def get_checkin(member_id: str, day: str) -> CheckinItem | None:
    return CheckinItem.get_or_none(member_pk(member_id), checkin_sk(day), consistent_read=True)


def add_checkin(tx: Tx, item: CheckinItem) -> None:
    tx.save(item, condition=CheckinItem.pk.does_not_exist(), tag=("checkin", item.day))


def new_checkin(member_id: str, day: str, streak_days: int, points: int, gift: str | None) -> CheckinItem:
    return CheckinItem(
        member_pk(member_id),
        checkin_sk(day),
        checkin_id=new_id(),
        member_id=member_id,
        day=day,
        streak_days=streak_days,
        points=points,
        gift_template_id=gift,
        created_at=clock.now(),
    )


# --------------------------------------------------------------------------------------- lots and expiry
def lots(member_id: str) -> list[PointsLotItem]:
    """The member's lots, oldest first (by offset)."""
    got = PointsLotItem.query(member_pk(member_id), PointsLotItem.sk.startswith("PTSLOT#"), consistent_read=True)
    return sorted(got, key=lambda lot: int(lot.start))


def due_lots(expires_on: str) -> list[PointsLotItem]:
    """Lots not expired yet whose last valid day is ``expires_on``: one day bucket of the sparse index."""
    return list(PointsLotItem.gsi1.query(expiry_gsi1pk(expires_on)))


def expire_lot(lot: PointsLotItem, seen: PointsAccountItem | None, left: int) -> None:
    """The lot leaves the expiry index, once (condition), and - if ``left`` > 0 - the balance loses what was left
    of it, with its "expire" entry, if the account is still as ``seen``. Raises TxCancelled."""
    m = lot.member_id
    with transaction() as tx:
        tx.update(
            PointsLotItem(member_pk(m), lot_sk(lot.lot_id)),
            [
                PointsLotItem.expired_points.set(left),
                PointsLotItem.gsi1pk.remove(),
                PointsLotItem.gsi1sk.remove(),
                PointsLotItem.updated_at.set(clock.now()),
            ],
            condition=PointsLotItem.gsi1pk.exists(),
            tag=("lot", lot.lot_id),
        )
        if left > 0:
            tx.update(
                _account(m),
                [
                    PointsAccountItem.balance.add(-left),
                    PointsAccountItem.version.add(1),
                    PointsAccountItem.updated_at.set(clock.now()),
                ],
                condition=PointsAccountItem.version == int(seen.version or 0) if seen else None,
                tag=("points", m),
            )
            tx.save(_entry(m, new_id(), domain.EXPIRE, -left, "lot", lot.lot_id), tag=("points-entry", m))


# --------------------------------------------------------------------------------------- ledger
def ledger_page(member_id: str, limit: int, cursor: str | None) -> Page:
    """The member's entries, newest first (base table, consistent: read-your-write)."""
    return page(
        PointsEntryItem.query,
        hash_key=member_pk(member_id),
        range_key_condition=PointsEntryItem.sk.startswith("PTSLOG#"),
        scan_index_forward=False,
        consistent_read=True,
        limit=limit,
        cursor=cursor,
    )


def ledger_sum(member_id: str) -> int:
    got = PointsEntryItem.query(member_pk(member_id), PointsEntryItem.sk.startswith("PTSLOG#"), consistent_read=True)
    return sum(int(e.amount) for e in got)


def changed_on(day: str) -> set[str]:
    """Members whose points changed on business day ``day``: one Query of that day's gsi3 bucket."""
    return {e.member_id for e in PointsEntryItem.gsi3.query(day_bucket(AUDIT_DAY_PREFIX, day))}


def audit_changed(day: str) -> list[Book]:
    """Balance against ledger of every points account changed on ``day`` (that day's bucket, then per member
    the account and its entries, consistent)."""

    def balance(member_id: str) -> dict:
        account = get_account(member_id)
        return {"points": int(account.balance or 0) if account else 0}

    return audit_accounts(changed_on(day), balance, lambda m: {"points": ledger_sum(m)}, lambda m, book: (book, m))
