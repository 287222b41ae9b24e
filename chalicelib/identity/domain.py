"""Pure identity rules."""

from __future__ import annotations

from dataclasses import dataclass

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
    """What pricing and the till need of a member (read in the cart's BatchGetItem, see
    ``repository.member_in``)."""

    member_id: str
    level: int
    phone: str | None
