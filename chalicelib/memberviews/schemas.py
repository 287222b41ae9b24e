from __future__ import annotations

from pydantic import Field

from chalicelib.campaigns.schemas import TagName
from chalicelib.core.schemas import Out
from chalicelib.members.schemas import AdminMemberOut, AdminMembersQuery, MeOut


class ReferrerView(Out):
    member_id: str
    nickname: str | None


class MemberPageOut(MeOut):
    """``GET /shop/me``: members' page, the referrer and distributor status from distribution."""

    referrer: ReferrerView | None = Field(description="Who referred the member (referral binding); null: nobody")
    distributor: bool = Field(description="A distributor now: distribution on, and open to everyone or approved")


class AdminMemberView(AdminMemberOut):
    """A member for staff: members' view and the member's tags (campaigns)."""

    tags: list[str] | None = Field(
        description="Manual and rule tags, sorted; head office only (null for a store manager)"
    )


class MemberListQuery(AdminMembersQuery):
    tag: TagName | None = Field(
        default=None,
        description="Members carrying this tag (manual or rule), newest first; head office only. Takes precedence "
        "over level_id and q. An unknown tag lists nobody",
    )
