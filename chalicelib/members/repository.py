"""The only code that reads or writes member codes (and, with the members issue, profiles and levels)."""

from __future__ import annotations

from datetime import datetime, timedelta

from chalicelib.core import clock
from chalicelib.core.dynamo import put_new
from chalicelib.members.models import META, MemberCodeItem, code_pk

CODE_KEPT = timedelta(days=1)  # TTL housekeeping after a code's 60 seconds


def put_code(code: str, member_id: str, valid_until: datetime) -> bool:
    """A new code for the member; False if the code exists already (draw another)."""
    return put_new(
        MemberCodeItem(
            code_pk(code),
            META,
            member_id=member_id,
            valid_until=clock.iso(valid_until),
            expires_at=valid_until + CODE_KEPT,
        )
    )


def code_owner(code: str, now: datetime) -> str | None:
    """The member behind a code that is still valid at ``now`` (strongly consistent: a code shown a moment ago
    is found at once)."""
    item = MemberCodeItem.get_or_none(code_pk(code), META, consistent_read=True)
    return item.member_id if item is not None and item.valid_until > clock.iso(now) else None
