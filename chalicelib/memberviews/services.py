"""The member pages: members' services give the profile and balances, distribution's the referrer and distributor
status, campaigns' the tags. Each domain names the keys it needs and reads its items back from one BatchGetItem
gathered here (DynamoDB requests: ``GET /shop/me`` 1, +1 for the referrer's nickname when bound;
``GET /admin/members`` the index query + 1 BatchGetItem per 100 keys (4 keys a member: account, profile, points,
wallet; 5 for head office); ``GET /admin/members/{id}`` 1)."""

from __future__ import annotations

from chalicelib.campaigns import services as campaigns
from chalicelib.core.auth import Principal
from chalicelib.core.dynamo import batch_get
from chalicelib.core.errors import CoreCode, Forbidden
from chalicelib.core.schemas import PageOut
from chalicelib.distribution import services as distribution
from chalicelib.members import services as members
from chalicelib.members.schemas import AdminMemberOut, BirthdayIn, MeUpdate
from chalicelib.memberviews.schemas import AdminMemberView, MemberListQuery, MemberPageOut, ReferrerView


# --------------------------------------------------------------------------------------- the member's own page
def me(principal: Principal, consistent: bool = False) -> MemberPageOut:
    """Members' page + the referrer (nickname from members) and the distributor status: one BatchGetItem, and
    one more for the referrer's nickname when the member is bound."""
    mid = principal.sub
    got = batch_get(members.me_keys(mid) + distribution.referrer_and_status_keys([mid]), consistent=consistent)
    page = members.me_in(got, mid)
    referrer_id, distributor = distribution.referrer_and_status_in(got, mid)
    referrer = None
    if referrer_id is not None:
        referrer = ReferrerView(member_id=referrer_id, nickname=members.nicknames([referrer_id]).get(referrer_id))
    return MemberPageOut(**dict(page), referrer=referrer, distributor=distributor)


def update_me(principal: Principal, cmd: MeUpdate) -> MemberPageOut:
    members.update_me(principal, cmd)
    return me(principal, consistent=True)


# --------------------------------------------------------------------------------------- staff views
def _view(m: AdminMemberOut, got, with_tags: bool) -> AdminMemberView:
    return AdminMemberView(**dict(m), tags=campaigns.tags_in(got, m.member_id) if with_tags else None)


def admin_members(principal: Principal, q: MemberListQuery) -> PageOut[AdminMemberView]:
    """Staff's member list: by tag (head office: the tag's index), else members' filters; then one BatchGetItem
    (per 100 keys) of the page's accounts, profiles and, for head office, stats (tags)."""
    hq = principal.is_hq
    if q.tag is not None:
        if not hq:
            raise Forbidden("Only head office lists members by tag", code=CoreCode.ROLE_FORBIDDEN)
        ids, nxt = campaigns.members_with_tag(q.tag, q.limit, q.next)
    else:
        ids, nxt = members.admin_member_ids(q)
    got = batch_get(members.admin_keys(ids) + (campaigns.tag_keys(ids) if hq else []))
    items = [_view(m, got, hq) for m in members.admin_members_in(got, ids)]
    return PageOut[AdminMemberView](items=items, next=nxt)


def admin_member(principal: Principal, member_id: str, consistent: bool = False) -> AdminMemberView:
    """One member for staff (404 unknown): account, profile and, for head office, tags in one BatchGetItem."""
    hq = principal.is_hq
    got = batch_get(members.admin_keys([member_id]) + (campaigns.tag_keys([member_id]) if hq else []), consistent)
    return _view(members.admin_member_in(got, member_id), got, hq)


def correct_birthday(principal: Principal, member_id: str, cmd: BirthdayIn) -> AdminMemberView:
    members.correct_birthday(member_id, cmd)
    return admin_member(principal, member_id, consistent=True)
