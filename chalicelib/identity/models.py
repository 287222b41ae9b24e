from __future__ import annotations

from pynamodb.attributes import NumberAttribute, UnicodeAttribute, UTCDateTimeAttribute

from chalicelib.core.dynamo import Item

META = "META"
STAFF_GSI1PK = "STAFF"


def staff_pk(username: str) -> str:
    return f"STAFF#{username}"


def staff_gsi1sk(store_id: str | None, username: str) -> str:
    return f"{store_id or 'HQ'}#{username}"


def throttle_pk(kind: str, value: str) -> str:
    """kind: ``user`` (staff username), ``addr`` (source address of staff logins), ``openid``, ``maddr`` (source
    address of member logins)."""
    return f"LOGIN#{kind}#{value}"


def member_pk(member_id: str) -> str:
    return f"MEMBER#{member_id}"


def openid_pk(openid: str) -> str:
    return f"OPENID#{openid}"


class StaffItem(Item, discriminator="Staff"):
    """pk=STAFF#<username>, sk=META; gsi1: STAFF / <store_id|HQ>#<username>."""

    staff_id = UnicodeAttribute()
    username = UnicodeAttribute()
    name = UnicodeAttribute()
    role = UnicodeAttribute()
    store_id = UnicodeAttribute(null=True)
    password_hash = UnicodeAttribute()
    status = UnicodeAttribute(default="active")


class MemberItem(Item, discriminator="Member"):
    """pk=MEMBER#<member_id>, sk=META."""

    member_id = UnicodeAttribute()
    openid = UnicodeAttribute()
    unionid = UnicodeAttribute(null=True)
    phone = UnicodeAttribute(null=True)
    nickname = UnicodeAttribute(null=True)
    level = NumberAttribute(default=0)
    status = UnicodeAttribute(default="active")


class OpenIdItem(Item, discriminator="OpenId"):
    """pk=OPENID#<openid>, sk=META -> member_id. Makes an openid map to exactly one member, forever."""

    member_id = UnicodeAttribute()


class LoginThrottle(Item, discriminator="LoginThrottle"):
    """pk=LOGIN#<kind>#<value>, sk=META: failed staff logins (or member login attempts) counted in a window that
    starts at the first one; ``blocked_until`` refuses every attempt before it (identity.domain.LoginPolicy)."""

    count = NumberAttribute(default=0)
    window_start = UTCDateTimeAttribute()
    blocked_until = UTCDateTimeAttribute(null=True)
