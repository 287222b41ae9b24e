"""Member use cases: the member code shown at the till and its resolution by POS routes."""

from __future__ import annotations

from chalicelib.core import clock
from chalicelib.core.auth import Principal
from chalicelib.core.errors import NotFound
from chalicelib.members import domain, repository
from chalicelib.members.errors import MemberCode
from chalicelib.members.schemas import MemberCodeOut

DRAWS = 3  # a collision among 10^17 codes is already unlikely; three is plenty


def my_code(principal: Principal) -> MemberCodeOut:
    now = clock.now()
    until = domain.code_expires(now)
    for _ in range(DRAWS):
        code = domain.new_member_code()
        if repository.put_code(code, principal.sub, until):
            return MemberCodeOut(member_code=code, expires_at=clock.iso(until))
    raise RuntimeError("could not draw a free member code")


def resolve_code(code: str | None) -> str | None:
    """The member behind a POS ``member_code`` (None when no code was given); 404 MEMBER_CODE_INVALID when it is
    not a member code, unknown or expired. A member id is not a member code."""
    if code is None:
        return None
    member_id = repository.code_owner(code, clock.now()) if domain.is_member_code(code) else None
    if member_id is None:
        raise invalid_code()
    return member_id


def invalid_code() -> NotFound:
    return NotFound(
        "This member code is unknown or has expired; ask the customer to refresh it",
        code=MemberCode.MEMBER_CODE_INVALID,
        details={"fields": [{"field": "member_code", "message": "unknown or expired"}]},
    )
