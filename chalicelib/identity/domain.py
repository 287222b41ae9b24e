"""Pure identity rules."""

from __future__ import annotations

import math
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


@dataclass(frozen=True)
class LoginPolicy:
    """How failed logins (staff) or login attempts (members) are throttled for one key (a username, an address,
    an openid). Counted in a window of ``window_s`` from the first one. From the ``delay_after``-th on, the next
    attempt must wait 1, 2, 4, 8 .. seconds; the ``lock_after``-th locks the key for ``lock_s``."""

    delay_after: int
    lock_after: int
    lock_s: int
    window_s: int

    def counting(self, count: int, window_start: datetime | None, now: datetime) -> int:
        """The count that still holds at ``now`` (0 once the window has passed)."""
        if window_start is None or now - window_start >= timedelta(seconds=max(self.window_s, self.lock_s)):
            return 0
        return count

    def blocked_until(self, count: int, now: datetime) -> datetime | None:
        """After the ``count``-th failure at ``now``: no attempt before the returned moment (None: no wait)."""
        if count >= self.lock_after:
            return now + timedelta(seconds=self.lock_s)
        if count >= self.delay_after:
            return now + timedelta(seconds=2 ** (count - self.delay_after))
        return None


def retry_after_s(blocked_until: datetime | None, now: datetime) -> int:
    """Whole seconds until ``blocked_until`` (0: not blocked)."""
    if blocked_until is None or blocked_until <= now:
        return 0
    return max(1, math.ceil((blocked_until - now).total_seconds()))


def check_may_manage_staff(actor: Principal, role: str, store_id: str | None) -> None:
    """Head office manages anyone; a store manager only the clerks of their own store."""
    if actor.is_hq or (actor.role == STORE_MANAGER and role == "clerk" and store_id == actor.store_id):
        return
    raise Forbidden("You may not manage this account", code=CoreCode.ROLE_FORBIDDEN)
