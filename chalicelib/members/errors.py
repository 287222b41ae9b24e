from __future__ import annotations

from chalicelib.core.errors import ErrorCode


class MemberCode(ErrorCode):
    # 404: the member code is unknown, expired or was never issued (POS routes, `member_code`)
    MEMBER_CODE_INVALID = "MEMBER_CODE_INVALID"
