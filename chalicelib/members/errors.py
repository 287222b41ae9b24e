from __future__ import annotations

from chalicelib.core.errors import ErrorCode


class MemberCode(ErrorCode):
    # 404: no member level has this id
    LEVEL_NOT_FOUND = "LEVEL_NOT_FOUND"
    # 409: another level already has this rank
    LEVEL_RANK_TAKEN = "LEVEL_RANK_TAKEN"
    # 409: the phone's member uses the mini-program: ask them for their member code instead
    MEMBER_HAS_APP = "MEMBER_HAS_APP"
    # 409: the member set their birthday already (staff can correct it)
    BIRTHDAY_ALREADY_SET = "BIRTHDAY_ALREADY_SET"
