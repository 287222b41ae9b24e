"""Revocable sessions, of staff and of members.

A token carries its account's session version (claim ``sv``; absent in old member tokens = 0). Every request
compares it with the version kept in :class:`StaffSession` (pk=SESSION#<staff or member id>, sk=META; absent =
version 0), read consistently and cached in the process for ``STAFF_SESSION_CACHE_S`` seconds. Disabling a staff
account, changing its role or store, or resetting its password adds 1 to the version in the same transaction as
the change (:func:`bump`); so does the end of a member account (merged into the till member its phone claimed,
or erased at the member's request). Every token issued before is then refused: at once in the process that made
the change (its cache entry is dropped after the commit), within the cache time in every other one. An active
member's version is never bumped, so member tokens are issued at version 0.
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
    """pk=SESSION#<account id>, sk=META: the version every valid token of this account (staff or member) carries."""

    version = NumberAttribute(default=0)


def _pk(account_id: str) -> str:
    return f"SESSION#{account_id}"


_cache: dict[str, tuple[int, datetime]] = register_cache({})


def version(account_id: str, fresh: bool = False) -> int:
    """The account's current session version (cached briefly unless ``fresh``)."""
    now = clock.now()
    hit = _cache.get(account_id)
    if hit is not None and not fresh and hit[1] > now:
        return hit[0]
    item = StaffSession.get_or_none(_pk(account_id), META, consistent_read=True)
    current = int(item.version) if item is not None else 0
    _cache[account_id] = (current, now + timedelta(seconds=get_settings().staff_session_cache_s))
    return current


def check(account_id: str, token_version: int) -> None:
    """401 ``TOKEN_REVOKED`` unless the token was issued for the account's current session version."""
    if token_version != version(account_id):
        raise Unauthorized("This session has ended; log in again", code=CoreCode.TOKEN_REVOKED)


def bump(tx: Tx, account_id: str) -> None:
    """End every token of this account when ``tx`` commits (creates the item at version 1 if absent)."""
    item = StaffSession(_pk(account_id), META)
    tx.update(
        item,
        actions=[
            StaffSession.version.add(1),
            StaffSession.kind.set(StaffSession),
            StaffSession.updated_at.set(clock.now()),
        ],
    )
    tx.after_commit(lambda: _cache.pop(account_id, None))
