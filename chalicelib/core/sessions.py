"""Revocable staff sessions.

A staff token carries its account's session version (claim ``sv``). Every request of a staff token compares it
with the version kept in :class:`StaffSession` (pk=SESSION#<staff_id>, sk=META; absent = version 0), read
consistently and cached in the process for ``STAFF_SESSION_CACHE_S`` seconds. Disabling an account, changing its
role or store, or resetting its password adds 1 to the version in the same transaction as the change
(:func:`bump`), so every token issued before is refused: at once in the process that made the change (its cache
entry is dropped after the commit), within the cache time in every other one.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pynamodb.attributes import NumberAttribute

from chalicelib.core import clock
from chalicelib.core.dynamo import Item, Tx, register_cache
from chalicelib.core.errors import CoreCode, Unauthorized
from chalicelib.core.settings import get_settings

META = "META"


class StaffSession(Item, discriminator="StaffSession"):
    """pk=SESSION#<staff_id>, sk=META: the version every valid token of this staff account carries."""

    version = NumberAttribute(default=0)


def _pk(staff_id: str) -> str:
    return f"SESSION#{staff_id}"


_cache: dict[str, tuple[int, datetime]] = register_cache({})


def version(staff_id: str, fresh: bool = False) -> int:
    """The account's current session version (cached briefly unless ``fresh``)."""
    now = clock.now()
    hit = _cache.get(staff_id)
    if hit is not None and not fresh and hit[1] > now:
        return hit[0]
    item = StaffSession.get_or_none(_pk(staff_id), META, consistent_read=True)
    current = int(item.version) if item is not None else 0
    _cache[staff_id] = (current, now + timedelta(seconds=get_settings().staff_session_cache_s))
    return current


def check(staff_id: str, token_version: int) -> None:
    """401 ``TOKEN_REVOKED`` unless the token was issued for the account's current session version."""
    if token_version != version(staff_id):
        raise Unauthorized("This session has ended; log in again", code=CoreCode.TOKEN_REVOKED)


def bump(tx: Tx, staff_id: str) -> None:
    """End every token of this account when ``tx`` commits (creates the item at version 1 if absent)."""
    item = StaffSession(_pk(staff_id), META)
    tx.update(
        item,
        actions=[
            StaffSession.version.add(1),
            StaffSession.kind.set(StaffSession),
            StaffSession.updated_at.set(clock.now()),
        ],
    )
    tx.after_commit(lambda: _cache.pop(staff_id, None))
