from __future__ import annotations

from pynamodb.attributes import NumberAttribute, TTLAttribute, UnicodeAttribute, UTCDateTimeAttribute

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


def phone_pk(phone: str) -> str:
    return f"MPHONE#{phone}"


MEMBERS_GSI1PK = "MEMBERS"
NICK_GSI2PK = "MEMBERNICK"


def phone_tail_gsi1pk(phone: str) -> str:
    return f"PHONETAIL#{phone[-4:]}"


def member_index(member_id: str, nickname: str | None) -> dict[str, str | None]:
    """gsi1: MEMBERS / <member_id> (every member, newest first); gsi2: MEMBERNICK / <nickname>#<member_id>
    (nickname prefix search for head office)."""
    return {
        "gsi1pk": MEMBERS_GSI1PK,
        "gsi1sk": member_id,
        "gsi2pk": NICK_GSI2PK if nickname else None,
        "gsi2sk": f"{nickname}#{member_id}" if nickname else None,
    }


class MemberItem(Item, discriminator="Member"):
    """pk=MEMBER#<member_id>, sk=META. A member enrolled at the till has no openid until a WeChat user with the
    same phone claims it."""

    member_id = UnicodeAttribute()
    openid = UnicodeAttribute(null=True)
    unionid = UnicodeAttribute(null=True)
    phone = UnicodeAttribute(null=True)
    nickname = UnicodeAttribute(null=True)
    level = NumberAttribute(default=0)
    status = UnicodeAttribute(default="active")  # active | closed | merged (claimed by a till member)
    source = UnicodeAttribute(null=True)  # wechat | till
    merged_into = UnicodeAttribute(null=True)


class PhoneItem(Item, discriminator="MemberPhone"):
    """pk=MPHONE#<11-digit mobile>, sk=META -> member_id: a bound phone belongs to one member."""

    member_id = UnicodeAttribute()


class OpenIdItem(Item, discriminator="OpenId"):
    """pk=OPENID#<openid>, sk=META -> member_id. Makes an openid map to exactly one member, forever."""

    member_id = UnicodeAttribute()


def code_pk(code: str) -> str:
    return f"MCODE#{code}"


class MemberCodeItem(Item, discriminator="MemberCode"):
    """pk=MCODE#<code>, sk=META -> member_id: a member code shown at the till, valid until ``valid_until``
    (checked on read; TTL removes it later)."""

    member_id = UnicodeAttribute()
    valid_until = UnicodeAttribute()
    expires_at = TTLAttribute(null=True)  # housekeeping only


class LoginThrottle(Item, discriminator="LoginThrottle"):
    """pk=LOGIN#<kind>#<value>, sk=META: failed staff logins (or member login attempts) counted in a window that
    starts at the first one; ``blocked_until`` refuses every attempt before it (identity.domain.LoginPolicy)."""

    count = NumberAttribute(default=0)
    window_start = UTCDateTimeAttribute()
    blocked_until = UTCDateTimeAttribute(null=True)
