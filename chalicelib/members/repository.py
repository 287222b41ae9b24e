"""The only code that reads or writes member codes (and, with the members issue, profiles and levels)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from chalicelib.core import clock, events
from chalicelib.core.dynamo import Page, Tx, TxCancelled, batch_get, page, transaction
from chalicelib.core.events import Event
from chalicelib.core.ledger import Book, audit_accounts, business_day, day_bucket
from chalicelib.members.domain import Level
from chalicelib.members.models import (
    GROWTH_DAY_PREFIX,
    LEVELS_GSI1PK,
    META,
    GrowthItem,
    LevelItem,
    LevelRankItem,
    ProfileItem,
    level_members_gsi1pk,
    level_pk,
    level_rank_pk,
    profile_pk,
)


# --------------------------------------------------------------------------------------- levels
def _rank_sk(rank: int, level_id: str) -> str:
    return f"{rank:04d}#{level_id}"


def level_of(item: LevelItem) -> Level:
    return Level(
        level_id=item.level_id,
        name=item.name,
        rank=int(item.rank),
        growth_min=int(item.growth_min),
        orders_min=int(item.orders_min) if item.orders_min is not None else None,
        discount_bp=int(item.discount_bp or 0),
        points_multiplier_bp=int(item.points_multiplier_bp or 10000),
        perks=tuple(item.perks or ()),
    )


def all_levels() -> list[LevelItem]:
    """Every level, by rank (one Query; a chain has a handful)."""
    return list(LevelItem.gsi1.query(LEVELS_GSI1PK))


def get_level(level_id: str, consistent: bool = False) -> LevelItem | None:
    return LevelItem.get_or_none(level_pk(level_id), META, consistent_read=consistent)


def put_level(item: LevelItem, old_rank: int | None = None) -> bool:
    """Create or replace a level and claim its rank (a rank belongs to one level); False if the rank is taken or
    the level changed meanwhile (version)."""
    item.gsi1pk, item.gsi1sk = LEVELS_GSI1PK, _rank_sk(int(item.rank), item.level_id)
    is_new = int(item.version) == 1
    try:
        with transaction() as tx:
            cond = LevelItem.pk.does_not_exist() if is_new else LevelItem.version == int(item.version) - 1
            tx.save(item, condition=cond, tag="level")
            if old_rank is None or old_rank != int(item.rank):
                tx.save(
                    LevelRankItem(level_rank_pk(int(item.rank)), META, level_id=item.level_id),
                    condition=LevelRankItem.pk.does_not_exist(),
                    tag="rank",
                )
                if old_rank is not None:
                    tx.delete(LevelRankItem(level_rank_pk(old_rank), META))
    except TxCancelled:
        return False
    return True


def new_level(level_id: str, fields: Mapping[str, Any]) -> LevelItem:
    now = clock.now()
    return LevelItem(level_pk(level_id), META, level_id=level_id, version=1, created_at=now, updated_at=now, **fields)


# --------------------------------------------------------------------------------------- profiles and growth
def profile_key(member_id: str) -> tuple[str, str]:
    """The member's profile key, for a BatchGetItem another domain gathers (``profile_in`` reads it back)."""
    return (profile_pk(member_id), META)


def profile_in(got: Mapping[tuple[str, str], Any], member_id: str) -> ProfileItem | None:
    item = got.get(profile_key(member_id))
    return item if isinstance(item, ProfileItem) else None


def get_profile(member_id: str, consistent: bool = False) -> ProfileItem | None:
    return ProfileItem.get_or_none(profile_pk(member_id), META, consistent_read=consistent)


def add_growth(
    tx: Tx,
    profile: ProfileItem | None,
    member_id: str,
    change: Mapping[str, Any],
    level: Level | None,
    reported: Iterable[Event] = (),
) -> None:
    """One growth change (``change``: event_id, kind, ref, delta_fen, orders_delta) with its ledger entry,
    conditional on the profile being as read (version) and the entry being new, and the level it leads to."""
    version = int(profile.version) if profile is not None else 0
    growth = (int(profile.growth_fen) if profile is not None else 0) + int(change["delta_fen"])
    orders = (int(profile.paid_orders) if profile is not None else 0) + int(change["orders_delta"])
    now = clock.now()
    tx.save(
        GrowthItem(
            profile_pk(member_id),
            f"GROWTH#{change['event_id']}",
            member_id=member_id,
            cause=change["kind"],
            ref=change.get("ref"),
            delta_fen=int(change["delta_fen"]),
            orders_delta=int(change["orders_delta"]),
            growth_after=growth,
            at=clock.iso(now),
            created_at=now,
            gsi3pk=day_bucket(GROWTH_DAY_PREFIX, business_day(now)),
            gsi3sk=f"{member_id}#{change['event_id']}",
        ),
        condition=GrowthItem.pk.does_not_exist(),
        tag="growth-entry",
    )
    updated = ProfileItem(
        profile_pk(member_id),
        META,
        **_profile_fields(profile, member_id, change),
        growth_fen=growth,
        paid_orders=orders,
        level_id=level.level_id if level else None,
        rank=level.rank if level else None,
        version=version + 1,
        gsi1pk=level_members_gsi1pk(level.level_id) if level else None,
        gsi1sk=member_id if level else None,
        updated_at=now,
    )
    cond = ProfileItem.pk.does_not_exist() if profile is None else ProfileItem.version == version
    tx.save(updated, condition=cond, tag="profile")
    events.add(tx, list(reported))


_KEPT = ("birthday", "birthday_by", "last_order_id", "last_order_at", "last_store_id")


def _profile_fields(profile: ProfileItem | None, member_id: str, change: Mapping[str, Any]) -> dict[str, Any]:
    """The profile's other fields: kept as they were, the last order moved by an order's growth."""
    out = {k: getattr(profile, k) if profile is not None else None for k in _KEPT}
    out["member_id"] = member_id
    out["created_at"] = profile.created_at if profile is not None else clock.now()
    spend = int(profile.spend_fen or 0) if profile is not None else 0
    out["spend_fen"] = spend + (int(change["delta_fen"]) if change["kind"] in ("order", "refund") else 0)
    if change["kind"] == "order":
        out |= {
            "last_order_id": change["ref"],
            "last_order_at": change.get("at"),
            "last_store_id": change.get("store_id"),
        }
    return out


def set_birthday(profile: ProfileItem | None, member_id: str, birthday: str, by: str) -> bool:
    """Set the birthday, conditional on the profile being as read; False if it changed meanwhile."""
    version = int(profile.version) if profile is not None else 0
    item = profile or ProfileItem(profile_pk(member_id), META, member_id=member_id, created_at=clock.now())
    item.birthday, item.birthday_by, item.version, item.updated_at = birthday, by, version + 1, clock.now()
    cond = ProfileItem.pk.does_not_exist() if profile is None else ProfileItem.version == version
    try:
        with transaction() as tx:
            tx.save(item, condition=cond, tag="profile")
            events.add(tx, [Event("MemberBirthdaySet", {"member_id": member_id, "birthday": birthday})])
        return True
    except TxCancelled:
        return False


def members_of_level(level_id: str, limit: int, cursor: str | None) -> Page:
    return page(ProfileItem.gsi1.query, hash_key=level_members_gsi1pk(level_id), limit=limit, cursor=cursor)


def growth_entries(member_id: str, limit: int, cursor: str | None) -> Page:
    return page(
        GrowthItem.query,
        hash_key=profile_pk(member_id),
        range_key_condition=GrowthItem.sk.startswith("GROWTH#"),
        scan_index_forward=False,
        limit=limit,
        cursor=cursor,
    )


def profiles(member_ids: list[str]) -> dict[str, ProfileItem]:
    got = batch_get([profile_key(m) for m in dict.fromkeys(member_ids)]) if member_ids else {}
    return {i.member_id: i for i in got.values() if isinstance(i, ProfileItem)}


# --------------------------------------------------------------------------------------- the ledger audit
def changed_on(day: str) -> set[str]:
    """Members whose growth changed on business day ``day``: one Query of that day's gsi3 bucket."""
    return {e.member_id for e in GrowthItem.gsi3.query(day_bucket(GROWTH_DAY_PREFIX, day))}


def growth_sum(member_id: str) -> int:
    query = GrowthItem.query(profile_pk(member_id), GrowthItem.sk.startswith("GROWTH#"), consistent_read=True)
    return sum(int(e.delta_fen) for e in query)


def audit_changed(day: str) -> list[Book]:
    """Growth against its ledger for every member whose growth changed on ``day``."""

    def balance(member_id: str) -> dict:
        p = get_profile(member_id, consistent=True)
        return {"growth": int(p.growth_fen) if p else 0}

    return audit_accounts(changed_on(day), balance, lambda m: {"growth": growth_sum(m)}, lambda m, book: (book, m))
