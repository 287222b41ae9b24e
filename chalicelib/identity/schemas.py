from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field, StringConstraints, model_validator

from chalicelib.core.schemas import Body, Name, Out, PageQuery, Phone, Ulid

Username = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9._-]{2,39}$")]
Password = Annotated[str, StringConstraints(min_length=1, max_length=200)]
NewPassword = Annotated[str, StringConstraints(min_length=8, max_length=200)]
OpenId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{6,64}$")]
StaffRole = Literal["clerk", "store_manager", "hq_admin"]


class StaffLogin(Body):
    username: Annotated[str, StringConstraints(min_length=1, max_length=40)]
    password: Password


class StaffOut(Out):
    staff_id: str
    username: str
    name: str
    role: StaffRole
    store_id: str | None = None
    status: Literal["active", "disabled"] = "active"
    created_at: datetime | None = None


class StaffLoginOut(Out):
    token: str
    expires_in: int
    staff: StaffOut


class StaffCreate(Body):
    username: Username
    password: NewPassword
    name: Name
    role: StaffRole
    store_id: Ulid | None = Field(default=None, description="Required for clerk and store_manager")


class StaffUpdate(Body):
    """Only the fields present change. A new role or store ends the account's tokens."""

    name: Name = None
    role: StaffRole = None
    store_id: Ulid | None = Field(default=None, description="null for head office")

    @model_validator(mode="after")
    def _something(self):
        if not self.model_fields_set:
            raise ValueError("nothing to change")
        return self


class PasswordReset(Body):
    password: NewPassword


class StaffListQuery(PageQuery):
    store_id: Ulid | None = None


Scene = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,32}$")]
SCENE_HELP = "The share scene the mini-program was opened with: a new member is bound to the referrer it names"


class WechatLogin(Body):
    code: Annotated[str, StringConstraints(min_length=1, max_length=128)]
    scene: Scene | None = Field(default=None, description=SCENE_HELP)


class DevLogin(Body):
    openid: OpenId
    phone: Phone | None = None
    nickname: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)] | None = None
    scene: Scene | None = Field(default=None, description=SCENE_HELP)


class MemberOut(Out):
    member_id: str
    nickname: str | None = None
    phone_masked: str | None = None
    level: int = 0
    created_at: datetime
    is_new: bool = Field(default=False, description="True when this login created the member")


class PhoneBind(Body):
    code: Annotated[str, StringConstraints(min_length=1, max_length=128)] = Field(
        description="The code from the mini-program's getPhoneNumber button"
    )


class PhoneBound(Out):
    member: MemberOut
    token: str | None = Field(
        default=None,
        description="Set when the phone belonged to a member enrolled at the till: this WeChat account now IS that "
        "member (its history, points and wallet); use this token from now on",
    )


class MemberLoginOut(Out):
    token: str
    expires_in: int
    member: MemberOut


class MemberCodeOut(Out):
    member_code: str = Field(description="18 digits starting with 8; show as QR code or barcode at the till")
    expires_at: str = Field(description="RFC 3339 UTC: the code is refused after this moment (60 seconds)")
