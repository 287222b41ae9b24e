from __future__ import annotations

from pynamodb.attributes import TTLAttribute, UnicodeAttribute

from chalicelib.core.dynamo import Item

META = "META"


def code_pk(code: str) -> str:
    return f"MCODE#{code}"


class MemberCodeItem(Item, discriminator="MemberCode"):
    """pk=MCODE#<code>, sk=META -> member_id: a member code shown at the till, valid until ``valid_until``
    (checked on read; TTL removes it later)."""

    member_id = UnicodeAttribute()
    valid_until = UnicodeAttribute()
    expires_at = TTLAttribute(null=True)  # housekeeping only
