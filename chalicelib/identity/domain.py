"""Pure identity rules."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from chalicelib.core.auth import HQ_ADMIN, STORE_BOUND, STORE_MANAGER, Principal
from chalicelib.core.errors import CoreCode, Forbidden, ValidationFailed


def check_staff_binding(role: str, store_id: str | None) -> None:
    """Clerks and store managers belong to exactly one store; head office to none."""
    if role in STORE_BOUND and not store_id:
        raise ValidationFailed(
            "store_id is required for this role",
            details={"fields": [{"field": "store_id", "message": "required for " + role}]},
        )
    if role == HQ_ADMIN and store_id:
        raise ValidationFailed(
            "Head office accounts are not bound to a store",
            details={"fields": [{"field": "store_id", "message": "must be empty"}]},
        )


def check_may_create_staff(actor: Principal, role: str, store_id: str | None) -> None:
    """Head office creates anyone; a store manager only clerks of their own store."""
    if actor.is_hq:
        return
    if actor.role == STORE_MANAGER and role == "clerk" and store_id == actor.store_id:
        return
    raise Forbidden("You may not create this account", code=CoreCode.ROLE_FORBIDDEN)


@dataclass(frozen=True)
class MemberCard:
    """Who a member is, for a view another domain assembles from one BatchGetItem (``repository.member_in``)."""

    member_id: str
    nickname: str | None
    phone: str | None
    status: str


# =========================================================================================== member codes
CODE_TTL = timedelta(seconds=60)
CODE_DIGITS = 18  # like a WeChat payment code: fits a Code 128 barcode and a QR code; 10^17 possibilities
CODE_PREFIX = "8"  # never a WeChat/Alipay payment code (10-15 / 25-30): a till can tell the two apart


def new_member_code() -> str:
    """A member code: ``8`` and 17 random digits from the OS's CSPRNG (not guessable in its 60 seconds)."""
    return CODE_PREFIX + "".join(secrets.choice("0123456789") for _ in range(CODE_DIGITS - 1))


def is_member_code(value: str) -> bool:
    return len(value) == CODE_DIGITS and value.isdigit() and value.startswith(CODE_PREFIX)


def code_expires(now: datetime) -> datetime:
    return now + CODE_TTL
